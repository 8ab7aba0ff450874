#!/usr/bin/env bash
# The whole test suite, as the README gives it:
#   1. gcc, optimised with debug info (-Werror): the suite, the examples, the install check.
#   2. clang with AddressSanitizer + UndefinedBehaviorSanitizer (-Werror): the suite again.
#   2b. clang with ThreadSanitizer ("tsan"): the tests that start threads (CTest label
#      "threads"), their randomized parts scaled to FLMEM_TSAN_SCALE (0.25), then the
#      interface's 8-thread stress test at full count (8 x 200 k operations).
#   3. every target CPU whose cross compiler is installed (cmake/toolchains/*.cmake), the
#      suite under qemu-user with the randomized tests scaled down (FLMEM_TARGET_SCALE);
#      the Web (wasm, Emscripten's emcc) under node, at full counts (FLMEM_WASM_SCALE, 1):
#      wasm runs compiled, not emulated, and the whole stage takes well under a minute.
#   4. "fuzz": every libFuzzer target (fuzz/, scripts/fuzz.sh) for FLMEM_FUZZ_SECONDS each
#      (20 here, so CI stays short; fuzz/README.md runs them longer), one at a time.
# A target whose compiler is missing is reported as skipped; with FLMEM_REQUIRE_TARGETS=1
# (CI) a missing target fails the run instead.
# Usage: scripts/test.sh [host|tsan|targets|fuzz|all|<target>]   (default all; build trees go to
#        build/; host = gcc, asan and tsan; a target is i686, armhf, mipsel, powerpc, sh4 or wasm)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${FLMEM_JOBS:-2}
what=${1:-all}
target_scale=${FLMEM_TARGET_SCALE:-0.05}
wasm_scale=${FLMEM_WASM_SCALE:-1}
tsan_scale=${FLMEM_TSAN_SCALE:-0.25}
targets="i686 armhf mipsel powerpc sh4 wasm"
case " all host tsan targets fuzz $targets " in
*" $what "*) ;;
*)
    echo "usage: scripts/test.sh [host|tsan|targets|fuzz|all|<target>] (targets: $targets)" >&2
    exit 2
    ;;
esac

run_suite() { # name, extra cmake args...
    local name=$1
    shift
    echo "==> [$name] configure and build"
    cmake -S . -B "build/$name" "$@" >/dev/null
    cmake --build "build/$name" -j "$jobs"
    echo "==> [$name] test"
    ctest --test-dir "build/$name" -j "$jobs" --output-on-failure ${FLMEM_CTEST_ARGS:-}
}

if [ "$what" = all ] || [ "$what" = host ]; then
    CC=gcc run_suite gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
    # The sanitized suite also runs with the free list hardened (FLMEM_HARDEN_FREELIST): the
    # default build (gcc above) and the hardened one are both tested.
    CC=clang run_suite asan -DCMAKE_BUILD_TYPE=Debug -DFLMEM_SANITIZE=ON -DFLMEM_BUILD_SHARED=OFF \
        -DFLMEM_BUILD_BENCH=OFF -DFLMEM_HARDEN_FREELIST=ON
fi

if [ "$what" = all ] || [ "$what" = host ] || [ "$what" = tsan ]; then
    # A data race or a lock-order inversion fails the test at once (exit status 66).
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
    # The stress test runs on its own below, at full count.
    CC=clang FLMEM_CTEST_ARGS="-L threads -E ^test_memory_threads$" run_suite tsan -DCMAKE_BUILD_TYPE=Debug \
        -DFLMEM_SANITIZE_THREAD=ON -DFLMEM_BUILD_SHARED=OFF -DFLMEM_BUILD_BENCH=OFF -DFLMEM_BUILD_EXAMPLES=OFF \
        -DFLMEM_INTEGRATION_LUA=OFF -DFLMEM_INTEGRATION_OVERRIDE=OFF -DFLMEM_INTEGRATION_DOCS=OFF \
        -DFLMEM_TEST_SCALE="$tsan_scale"
    echo "==> [tsan] test_memory_threads at full count"
    FLMEM_TEST_SCALE=1 build/tsan/tests/test_memory_threads
fi

if [ "$what" = all ] || [ "$what" = targets ] || [[ " $targets " == *" $what "* ]]; then
    for target in $targets; do
        [ "$what" = all ] || [ "$what" = targets ] || [ "$what" = "$target" ] || continue
        toolchain=cmake/toolchains/$target.cmake
        [ "$target" = wasm ] && toolchain=cmake/toolchains/emscripten.cmake
        compiler=$(sed -n 's/^set(CMAKE_C_COMPILER \(.*\))$/\1/p' "$toolchain")
        if ! command -v "$compiler" >/dev/null 2>&1; then
            if [ "${FLMEM_REQUIRE_TARGETS:-0}" = 1 ]; then
                echo "==> [$target] $compiler is not installed" >&2
                exit 1
            fi
            echo "==> [$target] skipped: $compiler is not installed (the README lists the packages)"
            continue
        fi
        scale=$target_scale
        [ "$target" = wasm ] && scale=$wasm_scale
        run_suite "$target" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DFLMEM_BUILD_SHARED=OFF -DFLMEM_BUILD_BENCH=OFF -DFLMEM_TEST_SCALE="$scale"
    done
fi
if [ "$what" = all ] || [ "$what" = fuzz ]; then
    # Bounded: each target starts from its committed seeds and regressions.
    FLMEM_FUZZ_SECONDS=${FLMEM_FUZZ_SECONDS:-20} FLMEM_JOBS="$jobs" scripts/fuzz.sh
fi
echo "==> all suites passed"
