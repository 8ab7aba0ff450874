#!/usr/bin/env bash
# The main job: build flmem and run `flmem demo` on the Dreamcast profile, a simulated game
# session (levels, frames, streaming into memory pressure, defragmentation between levels)
# ending with its statistics, and write the session's HTML report (open it in a browser).
# Arguments go to flmem demo, e.g. scripts/demo.sh --seconds 8 --platform psp; without a
# --report of your own the report goes to build/flmem-demo-report.html.
# The allocator tour lives on as an example: build/gcc/examples/example_allocators_tour.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/gcc -j "${FLMEM_JOBS:-2}" --target flmem >/dev/null
report=()
case " $* " in
*" --report "*) ;;
*) report=(--report build/flmem-demo-report.html) ;;
esac
exec build/gcc/tools/flmem/flmem demo --platform dreamcast "${report[@]}" "$@"
