#!/bin/sh
# Runs real programs normally and under LD_PRELOAD=libflightmem-override.so and compares
# their output byte for byte (and their exit status). A program that is not installed is
# skipped with a message; at least one must run.
# Usage: run_programs.sh /path/to/libflightmem-override.so workdir
set -eu
lib=$1
dir=$2
mkdir -p "$dir"
ran=0
failed=0

compare() { # name, command...
    name=$1
    shift
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "skip  $name: $1 is not installed"
        return 0
    fi
    set +e
    "$@" >"$dir/$name.plain" 2>&1
    plain=$?
    LD_PRELOAD=$lib "$@" >"$dir/$name.override" 2>&1
    over=$?
    set -e
    ran=$((ran + 1))
    if [ "$plain" -ne 0 ] || [ "$over" -ne 0 ] || ! cmp -s "$dir/$name.plain" "$dir/$name.override"; then
        echo "FAIL  $name: exit $plain plain, $over under the override; outputs:"
        diff "$dir/$name.plain" "$dir/$name.override" | head -20
        failed=$((failed + 1))
    else
        echo "ok    $name ($(wc -c <"$dir/$name.plain") bytes of output identical)"
    fi
}

# The override must really be in the programs: a small C-library-free check through
# /proc/self/maps of the preloaded process.
if ! LD_PRELOAD=$lib cat /proc/self/maps | grep -q flightmem-override; then
    echo "FAIL  the override is not mapped into a preloaded process"
    exit 1
fi

compare lua lua5.4 -e '
local t = {}
for i = 1, 200000 do t[i] = string.format("%08d:%s", (i * 7919) % 200000, ("x"):rep(i % 50)) end
table.sort(t)
local parts = {}
for i = 1, #t, 997 do parts[#parts + 1] = t[i] end
local s = table.concat(parts, ";")
local words = {}
for w in s:gmatch("%d+") do words[#words + 1] = tonumber(w) end
local sum = 0
for _, v in ipairs(words) do sum = sum + v end
print(#t, #s, #words, sum, s:sub(1, 60))
collectgarbage()
print(collectgarbage("count") > 0)'

py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3 # not a version-manager shim that forks
compare python "$py" -c '
import hashlib, json, collections
d = {i: [str(i) * (i % 30), i * i] for i in range(200000)}
s = json.dumps(d)
e = json.loads(s)
c = collections.Counter(len(v[0]) for v in e.values())
lst = sorted((v[1] % 1000003, k) for k, v in e.items())
print(len(s), hashlib.sha256(s.encode()).hexdigest(), sorted(c.items())[:5], lst[:3], lst[-3:])
b = bytearray()
for i in range(100000):
    b += str(i).encode()
print(len(b), hashlib.md5(bytes(b)).hexdigest())'

# A generated multi-MB file for sort (several threads, and temporary buffers).
if command -v awk >/dev/null 2>&1; then
    awk 'BEGIN { x = 12345; for (i = 0; i < 300000; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%d line %d %s\n", x, i, substr("abcdefghijklmnopqrstuvwxyz", 1 + x % 26) } }' >"$dir/input.txt"
    compare sort sort --parallel=2 -S 8M "$dir/input.txt"
    compare sort-numeric sort -n -k1,1 -k3 "$dir/input.txt"
fi

echo "$ran program(s) compared, $failed failed"
[ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
