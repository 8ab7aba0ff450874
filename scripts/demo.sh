#!/usr/bin/env bash
# The main job: build the library and run the allocator tour (six allocators laid out in a
# Dreamcast's 16 MB, then their statistics). `flmem demo` replaces it when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/gcc -j "${FLMEM_JOBS:-2}" --target example_allocators_tour >/dev/null
exec build/gcc/examples/example_allocators_tour
