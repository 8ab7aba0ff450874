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
    print(platform, "ok:", len(run.stdout), "bytes")
bad = subprocess.run([flmem, "stats", "--json", "--platform", "amiga"], capture_output=True, text=True)
assert bad.returncode == 2
bad = subprocess.run([flmem, "stats"], capture_output=True, text=True)
assert bad.returncode == 2
