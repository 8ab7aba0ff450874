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
print(f"report ok: {len(text)} bytes, {len(c.ids)} ids")

if chromium:
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              "--no-first-run", f"--user-data-dir={profile}", "--dump-dom",
                              "file://" + os.path.abspath(path)], capture_output=True, text=True, timeout=150)
    assert dom.returncode == 0, dom.stderr
    d = dom.stdout
    for want in ['id="usage-System"', 'id="usage-Video"', 'id="heapmap-0-0"', "<polyline", 'id="events"',
                 'id="allocator-stats"']:
        assert want in d, f"rendered DOM lacks {want}"
    assert d.count("<svg") >= 8, "too few SVG elements rendered"
    print(f"chromium rendered the report: {len(d)} bytes of DOM, {d.count('<svg')} svg elements")
