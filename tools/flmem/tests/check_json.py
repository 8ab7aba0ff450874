"""flmem stats --json: parses (json.tool too), has every type, and adds up."""
import json
import subprocess
import sys

flmem = sys.argv[1]
TYPES = ["System", "Video", "Audio", "Network", "Shared", "Temporary", "Stack", "Pool"]
for platform in ["dreamcast", "psp", "web", "desktop", "host"]:
    run = subprocess.run([flmem, "stats", "--json", "--platform", platform], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=run.stdout, capture_output=True, text=True)
    assert tool.returncode == 0, f"json.tool: {tool.stderr}"
    doc = json.loads(run.stdout)
    assert doc["schema"] == "flight-memory/1"
    assert sorted(doc["types"]) == sorted(TYPES), doc["types"].keys()
    g = doc["stats"]
    assert g["used_bytes"] + g["free_bytes"] == g["total_bytes"]
    assert g["allocation_count"] > 0
    assert sum(t["stats"]["used_bytes"] for t in doc["types"].values()) == g["used_bytes"]
    assert sum(t["stats"]["allocation_count"] for t in doc["types"].values()) == g["allocation_count"]
    assert doc["pressure"]["level"] in ["None", "Low", "Medium", "High", "Critical"]
    assert doc["regions"] and all(r["size"] > 0 for r in doc["regions"])
    assert {a["allocator"] for a in doc["allocators"]} >= {"Pool", "Linear"}
    tags = {t["tag"]: t for t in doc["live_by_tag"]}
    assert "mesh" in tags and tags["mesh"]["count"] > 0, tags
    # The Video (and Audio, where it is a buddy) region keeps its bookkeeping outside.
    video = [r for r in doc["regions"] if r["type"] == "Video"]
    assert video and video[0]["bookkeeping"] == "outside", video
    assert all(r["bookkeeping"] == "inside" for r in doc["regions"] if r["type"] not in ("Video", "Audio"))
    assert doc["waiting"]["available"] == doc["thread_safe"], doc["waiting"]
    assert doc["waiting"]["waiting_now"] == 0
    d = doc["defragmentation"]
    assert d["runs"] == 1 and d["last"] is not None, d
    assert d["allocations_moved"] == d["last"]["allocations_moved"] >= 1, d
    assert d["last"]["largest_free_after"] >= d["last"]["largest_free_before"], d
    assert tags["asset"]["count"] == 4, tags
    print(platform, "ok:", len(run.stdout), "bytes")
bad = subprocess.run([flmem, "stats", "--json", "--platform", "amiga"], capture_output=True, text=True)
assert bad.returncode == 2
bad = subprocess.run([flmem, "stats"], capture_output=True, text=True)
assert bad.returncode == 2
