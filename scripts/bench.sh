#!/bin/sh
# Builds flmem_bench in Release and runs it; every argument goes to the bench.
#   scripts/bench.sh                 full run (about a minute on a quiet machine)
#   scripts/bench.sh --quick         CI smoke run (a few seconds)
#   scripts/bench.sh --csv out.csv --workload W1,W3 --reps 7
# BUILD_DIR (default build-rel), JOBS (default 2) and WERROR (ON/OFF, default ON: OFF
# measures a tree whose warnings do not concern the bench) can be set in the environment.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build-rel"}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLMEM_WERROR="${WERROR:-ON}" \
    -DFLMEM_BUILD_TESTS=OFF -DFLMEM_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target flmem_bench -j"${JOBS:-2}" >/dev/null
exec "$build/bench/flmem_bench" "$@"
