"""flmem demo on one platform for one second: exit 0, every level, the final tables."""
import subprocess
import sys

flmem, platform = sys.argv[1], sys.argv[2]
run = subprocess.run([flmem, "demo", "--platform", platform, "--seconds", "1"], capture_output=True, text=True)
out = run.stdout
print(out)
print(run.stderr, file=sys.stderr)
assert run.returncode == 0, f"exit {run.returncode}"
for want in ["level 1/4", "level 4/4", "Statistics per memory type", "Statistics per allocator", "(all)", "System"]:
    assert want in out, f"missing {want!r}"
assert run.stderr == "", "unexpected stderr"
# Defragmentation between the levels (three transitions), each moved cache checked.
defrags = [line for line in out.splitlines() if "defragmented after" in line]
assert len(defrags) == 3, defrags
assert all("moved caches verified" in line and "progress reached 1.00" in line for line in defrags), defrags
assert any(" 0 allocations" not in line for line in defrags), "no defragmentation moved anything"
assert "not shown yet" not in out
# The request with a timeout: the demo runs every profile thread_safe where the host has
# threads (it streams on a loader thread), so it is served after that thread freed memory.
assert "served once the loader thread freed its staging buffer" in out, "no waited allocation"
# Not a TTY here: plain progress lines, no escape sequences.
assert "\x1b[" not in out
# Same seed, same session: the final tables are identical on a second run.
again = subprocess.run([flmem, "demo", "--platform", platform, "--seconds", "1"], capture_output=True, text=True)
assert again.stdout.split("Statistics per memory type")[1] == out.split("Statistics per memory type")[1], \
    "the session is not deterministic"
print("ok")
