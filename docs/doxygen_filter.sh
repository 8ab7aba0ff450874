#!/bin/sh
# Doxygen input filter for include/flight/memory.h: the header is written with plain C
# comments (it is read as much in an editor as in a browser), and this turns them into
# Doxygen's without touching the file:
#   - the first comment becomes the file's documentation (\file);
#   - a comment that starts a line documents what follows it (/* -> /**);
#   - a comment after code on the same line documents that member or value (/* -> /**<);
#   - banner comments (/* ----) stay plain: they separate sections.
exec sed -e '1s|^/\*$|/** \\file|' \
    -e '/^[[:space:]]*\/\* -/b' \
    -e 's|^\([[:space:]]*\)/\*\([^*]\)|\1/**\2|' \
    -e 's|^\([[:space:]]*\)/\*$|\1/**|' \
    -e 's|^\([[:space:]]*[^[:space:]/*][^/]*\)/\*\([^*]\)|\1/**<\2|' \
    "$1"
