#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build/fuzz and runs each for a
# bounded time, starting from its seed corpus (fuzz/corpus/<target>) and the committed
# regression inputs (fuzz/regressions/<target>); new inputs go to a scratch corpus outside
# the repository. Fails if any target finds a crash, a leak, a timeout or a model mismatch.
#
# Usage: scripts/fuzz.sh [target...]            (default: every target in fuzz/)
# Environment:
#   FLMEM_FUZZ_SECONDS  seconds per target (default 60)
#   FLMEM_FUZZ_WORKDIR  scratch corpora, logs and crash artifacts
#                       (default ${TMPDIR:-/tmp}/flmem-fuzz; kept between runs, so a
#                       later run continues from what earlier ones found)
#   FLMEM_JOBS          targets fuzzed at once, and build jobs (default 2)
# CI: FLMEM_FUZZ_SECONDS=20 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FLMEM_FUZZ_SECONDS:-60}
work=${FLMEM_FUZZ_WORKDIR:-${TMPDIR:-/tmp}/flmem-fuzz}
jobs=${FLMEM_JOBS:-2}
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in fuzz/fuzz_*.c; do
        targets+=("$(basename "$f" .c | sed 's/^fuzz_//')")
    done
fi

if ! command -v clang >/dev/null 2>&1; then
    echo "==> [fuzz] clang is not installed: libFuzzer needs it" >&2
    exit 1
fi
echo "==> [fuzz] configure and build (build/fuzz)"
CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLMEM_BUILD_FUZZERS=ON \
    -DFLMEM_BUILD_TESTS=OFF -DFLMEM_BUILD_BENCH=OFF -DFLMEM_BUILD_EXAMPLES=OFF \
    -DFLMEM_BUILD_SHARED=OFF -DFLMEM_BUILD_TOOLS=OFF -DFLMEM_INTEGRATION_LUA=OFF -DFLMEM_INTEGRATION_OVERRIDE=OFF \
    -DFLMEM_INTEGRATION_DOCS=OFF >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=(--target "fuzz_$t"); done
cmake --build build/fuzz -j "$jobs" "${build_targets[@]}"

# One target: fuzz for $seconds, then say what happened. Returns libFuzzer's status.
run_one() {
    local t=$1 dir="$work/$1"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    local inputs=("$dir/corpus" "fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && inputs+=("fuzz/regressions/$t")
    local status=0
    "build/fuzz/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${inputs[@]}" >"$dir/log" 2>&1 || status=$?
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    if [ "$status" -eq 0 ]; then
        echo "==> [fuzz_$t] ${seconds} s, ${runs:-?} inputs, no finding"
    else
        echo "==> [fuzz_$t] FAILED (libFuzzer status $status) after ${runs:-?} inputs; log: $dir/log" >&2
        ls "$dir"/artifacts/* 2>/dev/null | sed 's/^/      artifact: /' >&2 || true
        grep -m1 -A3 -E '^==== flight-memory fuzz|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' \
            "$dir/log" | sed 's/^/      /' >&2 || true
        echo "      reproduce: build/fuzz/fuzz/fuzz_$t <artifact>   (fuzz/README.md)" >&2
    fi
    return "$status"
}

echo "==> [fuzz] ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time; scratch in $work"
failed=0
pids=()
names=()
for t in "${targets[@]}"; do
    if [ ! -f "fuzz/fuzz_$t.c" ]; then
        echo "==> [fuzz] no such target: $t (fuzz/fuzz_$t.c)" >&2
        exit 1
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
    run_one "$t" &
    pids+=($!)
    names+=("$t")
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed=$((failed + 1))
done
if [ "$failed" -ne 0 ]; then
    echo "==> [fuzz] $failed of ${#targets[@]} targets found a problem" >&2
    exit 1
fi
echo "==> [fuzz] all ${#targets[@]} targets ran ${seconds} s with no finding"
