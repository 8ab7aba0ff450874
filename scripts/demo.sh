#!/usr/bin/env bash
# The main job: build flmem and run `flmem demo` on the Dreamcast profile, a simulated game
# session (levels, frames, streaming into memory pressure) ending with its statistics.
# Arguments go to flmem demo, e.g. scripts/demo.sh --report session.html --seconds 8.
# The allocator tour lives on as an example: build/gcc/examples/example_allocators_tour.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/gcc -j "${FLMEM_JOBS:-2}" --target flmem >/dev/null
exec build/gcc/tools/flmem/flmem demo --platform dreamcast "$@"
