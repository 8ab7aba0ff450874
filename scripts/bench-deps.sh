#!/bin/sh
# Installs what scripts/bench.sh compares against and measures with (Debian/Ubuntu):
# mimalloc, jemalloc and tcmalloc (tcmalloc_minimal, from gperftools) as preloadable
# malloc replacements, valgrind for instruction counts (callgrind), util-linux for taskset,
# python3 for the driver. Run as root (or it uses sudo when there is one).
set -eu
pkgs="libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev valgrind util-linux python3 cmake gcc"
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update
    sudo apt-get install -y $pkgs
else
    apt-get update
    apt-get install -y $pkgs
fi
