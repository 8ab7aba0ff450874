"""flmem demo --report: a well-formed, self-contained HTML page with the expected SVG groups;
with a chromium argument, also rendered headless and the charts found in the DOM."""
import html.parser
import os
import subprocess
import sys
import tempfile

flmem, path = sys.argv[1], sys.argv[2]
chromium = sys.argv[3] if len(sys.argv) > 3 else None
if os.path.exists(path):
    os.remove(path)
run = subprocess.run([flmem, "demo", "--seconds", "1", "--report", path], capture_output=True, text=True)
assert run.returncode == 0, run.stdout + run.stderr
text = open(path, encoding="utf-8").read()

VOID = {"meta", "br", "img", "input", "link", "hr"}


class Checker(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.tags = [], set(), {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            assert a["id"] not in self.ids, f"duplicate id {a['id']}"
            self.ids.add(a["id"])
        for k in ("src", "href"):
            assert k not in a or not a[k].startswith(("http:", "https:", "//")), f"network reference {a[k]}"
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


c = Checker()
c.feed(text)
c.close()
assert not c.stack, f"unclosed {c.stack}"
assert "<script" not in text, "the report needs no script"
for group in ["usage-System", "usage-Video", "usage-Audio", "usage-Pool", "heapmap-0-0", "heapmap-1-0",
              "events", "type-stats", "allocator-stats"]:
    assert group in c.ids, f"missing #{group}"
assert text.count('class="pressure-bands"') >= 4
assert 'class="band band-Critical"' in text
assert c.tags.get("polyline", 0) >= 4
assert "Streaming Valley" in text and "Critical" in text

# Defragmentation between levels: a row per transition, moves made, and the paired heap maps
# really differ (blocks moved down, the largest free run grew) in at least one region.
import re
for group in ["defrag", "defrag-pair", "wait"]:
    assert group in c.ids, f"missing #{group}"
table = text.split('<table id="defrag">')[1].split("</table>")[0]
rows = re.findall(r"<tr><td>([0-9.]+) s</td><td>[^<]*</td><td>(\d+)</td>", table)
assert len(rows) == 3, rows
assert sum(int(m) for _, m in rows) > 0, rows
pair = text.split('<div id="defrag-pair">')[1].split('<h2>')[0]


def blocks(group):
    """(offset, size) of every used block drawn in heap map `group` of the pair."""
    body = pair.split(f'<g id="{group}"')[1].split("</g>")[0]
    return [(int(o), int(sz)) for sz, o in re.findall(r"<title>(\d+) bytes at \+(\d+)</title>", body)]


def largest_gap(bl, size):
    end, gap = 0, 0
    for o, sz in sorted(bl):
        gap = max(gap, o - end)
        end = max(end, o + sz)
    return max(gap, size - end)


figures = re.findall(r'<div class="pair">\s*<figure><figcaption>before: ([^<]*)</figcaption>.*?'
                     r'<g id="(heapmap-\d+-\d+)".*?<figcaption>after: [^<]*</figcaption>.*?<g id="(heapmap-\d+-\d+)"',
                     pair, re.S)
assert figures, "no before/after pair drawn"
changed = 0
for caption, gb, ga in figures:
    before, after = blocks(gb), blocks(ga)
    assert len(before) == len(after), f"{caption}: {len(before)} blocks before, {len(after)} after"
    if before != after:
        changed += 1
        total = max(o + s for o, s in before + after)
        assert largest_gap(after, total) >= largest_gap(before, total), caption
        # Compaction moves down only: the sum of offsets cannot grow.
        assert sum(o for o, _ in after) < sum(o for o, _ in before), caption
assert changed >= 1, "the defragmentation pair shows no region that changed"
# The request with a timeout: served after the loader thread freed memory, on the default
# (Dreamcast) profile as on the Host one (the demo runs them thread_safe: it has threads).
w = re.search(r'<p id="wait" data-threaded="(\d)" data-status="(\w+)"', text)
assert w and w.groups() == ("1", "Ok"), w and w.groups()
host_path = path + ".host.html"
run = subprocess.run([flmem, "demo", "--platform", "host", "--seconds", "1", "--report", host_path],
                     capture_output=True, text=True)
assert run.returncode == 0, run.stdout + run.stderr
w = re.search(r'<p id="wait" data-threaded="(\d)" data-status="(\w+)"', open(host_path, encoding="utf-8").read())
assert w and w.groups() == ("1", "Ok"), w and w.groups()
os.remove(host_path)
print(f"report ok: {len(text)} bytes, {len(c.ids)} ids, {len(rows)} defragmentations, {changed} regions compacted")

if chromium:
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              "--no-first-run", f"--user-data-dir={profile}", "--dump-dom",
                              "file://" + os.path.abspath(path)], capture_output=True, text=True, timeout=150)
    assert dom.returncode == 0, dom.stderr
    d = dom.stdout
    for want in ['id="usage-System"', 'id="usage-Video"', 'id="heapmap-0-0"', "<polyline", 'id="events"',
                 'id="allocator-stats"', 'id="defrag"', 'id="defrag-pair"', 'id="wait"']:
        assert want in d, f"rendered DOM lacks {want}"
    assert d.count("<svg") >= 8, "too few SVG elements rendered"
    print(f"chromium rendered the report: {len(d)} bytes of DOM, {d.count('<svg')} svg elements")
