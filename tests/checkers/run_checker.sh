#!/bin/sh
# Runs tests/checkers/buggy in one mode under a memory checker and checks its verdict.
# Usage: run_checker.sh asan|valgrind <program> <mode> <expected pattern | "clean">
# "clean": the run must succeed with no report. Otherwise the tool must fail the run and
# its report must match the pattern. Exit 77 (CTest: skipped) when valgrind is missing.
tool=$1 program=$2 mode=$3 expect=$4
out=$(mktemp)
trap 'rm -f "$out"' EXIT
case $tool in
asan)
    ASAN_OPTIONS="detect_leaks=0 ${ASAN_OPTIONS:-}" "$program" "$mode" >"$out" 2>&1
    status=$?
    ;;
valgrind)
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "SKIPPED: valgrind is not installed (apt install valgrind)"
        exit 77
    fi
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=no "$program" "$mode" >"$out" 2>&1
    status=$?
    ;;
*)
    echo "unknown tool $tool" >&2
    exit 2
    ;;
esac
if [ "$expect" = clean ]; then
    if [ $status -ne 0 ]; then
        cat "$out"
        echo "FAIL: $tool reported a problem (status $status) in a correct program"
        exit 1
    fi
    echo "ok: $tool found nothing in mode $mode"
    exit 0
fi
if [ $status -eq 0 ]; then
    cat "$out"
    echo "FAIL: $tool did not stop the run for mode $mode"
    exit 1
fi
if ! grep -E -q "$expect" "$out"; then
    cat "$out"
    echo "FAIL: $tool's report for mode $mode does not match: $expect"
    exit 1
fi
grep -E -m 3 "$expect|buggy.c:" "$out"
echo "ok: $tool reported mode $mode"
