#!/bin/sh
# The benchmark in one command (issue #4): builds flmem_bench in Release, then
# scripts/bench_compare.py runs it against glibc, mimalloc, jemalloc and tcmalloc (each peer
# preloaded in a process of its own, processes alternated, pinned to one CPU), adds W5
# footprint, callgrind instruction counts, live-set and thread scaling, and prints the tables;
# it writes build-rel/bench-results/{bench.csv,bench.md,ratios.svg}.
#   scripts/bench-deps.sh                       once: the peers and valgrind (Debian packages)
#   scripts/bench.sh                            the full comparison (~20-30 min on 2 quiet cores)
#   scripts/bench.sh --readme README.md         ... and refresh the README's tables
#   scripts/bench.sh --quick --rounds 1         a smoke run of the whole pipeline (~1-2 min)
#   scripts/bench.sh --single [flmem_bench flags]   one process, flight-memory vs glibc only
#                                                   (the bench's own tables; --help lists flags)
# BUILD_DIR (default build-rel), JOBS (default 2) and WERROR (ON/OFF, default ON: OFF
# measures a tree whose warnings do not concern the bench) can be set in the environment.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build-rel"}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLMEM_WERROR="${WERROR:-ON}" \
    -DFLMEM_BUILD_TESTS=OFF -DFLMEM_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target flmem_bench -j"${JOBS:-2}" >/dev/null
if [ "${1:-}" = --single ]; then
    shift
    exec "$build/bench/flmem_bench" "$@"
fi
exec python3 "$root/scripts/bench_compare.py" --bench "$build/bench/flmem_bench" --out "$build/bench-results" "$@"
