"""flmem size: sane numbers against fl_memory_size_region's bounds, and bad input refused."""
import re
import subprocess
import sys

flmem = sys.argv[1]


def run(*args):
    return subprocess.run([flmem, "size", *args], capture_output=True, text=True)


r = run("--platform", "dreamcast", "--peak-live", "video=4M", "--peak-live", "pool=1M", "--largest", "pool=64",
        "--smallest", "pool=64", "--peak-live", "temporary=1M", "--largest", "temporary=64K", "--smallest",
        "temporary=1K", "--peak-live", "System=512K", "--largest", "system=4K", "--smallest", "system=4K")
print(r.stdout, r.stderr)
assert r.returncode == 0
lines = r.stdout.splitlines()
numbers = {}
for i, line in enumerate(lines):
    if "(bytes)" in line:
        name = lines[i - 1].split()[0]
        numbers[name] = [int(x) for x in line.split()[1:]]
assert set(numbers) == {"System", "Video", "Temporary", "Pool"}, numbers
peak, largest, smallest, need, have = numbers["Video"]
assert peak == 4 << 20 and have == 8 << 20 and need > peak  # buddy: rounding and splitting cost
peak, largest, smallest, need, have = numbers["Pool"]
assert need >= peak and need <= 2 * peak  # 64-byte blocks: 16384 of them
peak, largest, smallest, need, have = numbers["Temporary"]
assert peak + (peak // 1024) * 15 <= need <= peak * 105 // 100  # rounding per request, plus bookkeeping
peak, largest, smallest, need, have = numbers["System"]
assert need >= peak and have == 6 << 20
assert "yes" in r.stdout
# a peak beyond the profile: "NO"
r = run("--peak-live", "audio=3M")
assert r.returncode == 0 and " NO" in r.stdout, r.stdout
for bad in [["--peak-live", "video"], ["--peak-live", "vram=1M"], ["--peak-live", "video=0"],
            ["--peak-live", "video=-5"], ["--peak-live", "video=12X"], ["--peak-live", "video=99999999999999999999G"],
            ["--largest", "video=1M"], [], ["--peak-live"], ["--bogus"], ["--platform", "amiga", "--peak-live", "video=1M"],
            ["--peak-live", "video=1M", "--largest", "video=2M"]]:
    b = run(*bad)
    assert b.returncode == 2, (bad, b.returncode, b.stdout)
    assert b.stderr.strip(), bad
print("size ok")
