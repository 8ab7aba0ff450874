#!/usr/bin/env python3
"""flight-memory against the general-purpose allocators a game developer would pick (issue #4).

Runs bench/flmem_bench (built by scripts/bench.sh) several times and merges what it wrote:

  * Peers: glibc malloc, and mimalloc, jemalloc, tcmalloc (tcmalloc_minimal) from the Debian
    packages scripts/bench-deps.sh installs. Each peer replaces malloc for the whole process,
    so each runs in a process of its own with the peer in LD_PRELOAD: there the bench's
    C-library row ("glibc") measures the peer. Our process measures every flight-memory row
    and glibc. The processes alternate (ours, mimalloc, jemalloc, tcmalloc, ours, ...) for
    --rounds rounds so that drift hits all equally, each pinned to one CPU with taskset.
    A row's figure is the median over all its replays' medians; min..max over all rounds.
  * W1..W4 timing; W4's percentiles; W5 footprint (peak resident bytes added by a W3 replay
    at 5 M ops over its peak live requested bytes), one process per allocator.
  * Instructions per allocate+free pair: valgrind --tool=callgrind --collect-atstart=no on a
    short run (--quick) of each workload per allocator; the bench switches collection on
    for its timed loops only, so the count is the loop's (its own bookkeeping included:
    about 10 instructions per pair of slot reads and checksum bytes, the same for every row).
  * Scaling: W3/W4 cost and W5 footprint at live sets of 1, 16, 256 MiB and 2 GiB (2 GiB
    only when the host has the memory), and 1, 2, 4, 8 threads on the thread-safe profile.

Writes OUT/bench.csv, OUT/bench.md (the tables), OUT/ratios.svg (the chart) and prints the
tables; --readme README.md replaces the part between the bench markers with bench.md.
Only the Python 3 standard library.
"""
import argparse
import csv
import glob
import io
import os
import shutil
import statistics
import subprocess
import sys
import time

LIBC = "glibc"
PEER_LIBS = [  # label, shared-object name patterns (the Debian packages' runtime libraries)
    ("mimalloc", ["libmimalloc.so.2*", "libmimalloc.so"]),
    ("jemalloc", ["libjemalloc.so.2", "libjemalloc.so"]),
    ("tcmalloc", ["libtcmalloc_minimal.so.4*", "libtcmalloc_minimal.so"]),
]
LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/i386-linux-gnu",
            "/usr/lib", "/usr/lib64", "/usr/local/lib"]

# The rows of the comparison tables: ours (alone, inline, through fl_memory) and the peers.
OURS = {
    "W1": ["pool", "pool-inline", "pool-floor", "fl_memory/pool", "fl_memory-mt/pool", "freelist", "buddy"],
    "W2-reverse": ["linear", "linear-inline", "fl_memory/temp", "fl_memory-mt/temp", "stack", "freelist"],
    "W2-random": ["linear", "linear-inline", "fl_memory/temp", "fl_memory-mt/temp", "freelist"],
    "W3": ["freelist", "fl_memory/system", "fl_memory-mt/system", "buddy", "system"],
}
W4_OURS = ["freelist", "fl_memory/system", "buddy", "cold-lines"]
W5_OURS = ["freelist", "fl_memory/system", "buddy", "system"]
CALLGRIND_ROWS = {"W1": ["pool", "pool-inline", "pool-floor", "fl_memory/pool"],
                  "W2": ["linear", "linear-inline", "fl_memory/temp"],
                  "W3": ["freelist", "fl_memory/system"]}

# Issue #4's targets: (what, row, limit, kind) with kind ratio / p9999 (ns) / footprint / instr.
TARGETS = [
    ("W1 pool churn", "W1", "pool", 0.40, "ratio"),
    ("W1 pool churn (inline)", "W1", "pool-inline", 0.40, "ratio"),
    ("W1 through fl_memory", "W1", "fl_memory/pool", 0.50, "ratio"),
    ("W2 frames (reverse)", "W2-reverse", "linear", 0.15, "ratio"),
    ("W2 frames (reverse, inline)", "W2-reverse", "linear-inline", 0.15, "ratio"),
    ("W2 frames (random)", "W2-random", "linear", 0.15, "ratio"),
    ("W2 frames (random, inline)", "W2-random", "linear-inline", 0.15, "ratio"),
    ("W2 through fl_memory (reverse)", "W2-reverse", "fl_memory/temp", 0.20, "ratio"),
    ("W2 through fl_memory (random)", "W2-random", "fl_memory/temp", 0.20, "ratio"),
    ("W3 mixed", "W3", "freelist", 0.30, "ratio"),
    ("W3 through fl_memory", "W3", "fl_memory/system", 0.40, "ratio"),
    ("W4 p99.99 (pre-faulted)", "W4", "freelist", 500.0, "p9999"),
    ("W4 p99.99 through fl_memory", "W4", "fl_memory/system", 1000.0, "p9999"),
    ("W5 footprint / peak live", "W5", "freelist", 1.6, "footprint"),
    ("W5 through fl_memory", "W5", "fl_memory/system", 1.7, "footprint"),
    ("instructions/pair W1", "W1", "pool-inline", 20, "instr"),
    ("instructions/pair W1 (call)", "W1", "pool", 20, "instr"),
    ("instructions/pair W1 through fl_memory", "W1", "fl_memory/pool", 40, "instr"),
    ("instructions/pair W3", "W3", "freelist", 120, "instr"),
    ("instructions/pair W3 through fl_memory", "W3", "fl_memory/system", 160, "instr"),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def find_peers():
    peers = []
    for label, patterns in PEER_LIBS:
        found = None
        for d in LIB_DIRS:
            for pat in patterns:
                hits = sorted(glob.glob(os.path.join(d, pat)))
                if hits:
                    found = hits[0]
                    break
            if found:
                break
        if found:
            peers.append((label, found))
        else:
            log(f"bench_compare: {label} not found (run scripts/bench-deps.sh); its rows are skipped")
    return peers


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Runner:
    def __init__(self, args):
        self.bench = args.bench
        self.cpu = args.cpu
        self.taskset = shutil.which("taskset") if not args.no_taskset else None
        self.tmp = os.path.join(args.out, "runs")
        os.makedirs(self.tmp, exist_ok=True)
        self.count = 0

    def run(self, flags, preload=None, label=None, pin=True, wrapper=None):
        """Runs the bench once; returns its CSV rows (dicts), C-library rows relabelled."""
        self.count += 1
        path = os.path.join(self.tmp, f"run{self.count}.csv")
        cmd = []
        if pin and self.taskset:
            cmd += [self.taskset, "-c", str(self.cpu)]
        if wrapper:
            cmd += wrapper
        cmd += [self.bench, "--no-pin", "--csv", path] + flags
        env = dict(os.environ)
        if preload:
            env["LD_PRELOAD"] = preload
        else:
            env.pop("LD_PRELOAD", None)
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if done.returncode not in (0, 1):
            log(f"bench_compare: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
            return [], done
        if done.returncode == 1:
            log(f"bench_compare: {label or 'ours'}: the bench reported an error:\n"
                + "\n".join(l for l in done.stdout.splitlines() if "ERROR" in l or "error" in l)[-2000:])
        rows = []
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if label and row["allocator"] == LIBC:
                    row["allocator"] = label
                elif label:
                    continue  # a peer's process: only its C-library row is the peer
                rows.append(row)
        return rows, done


def fnum(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def median(values):
    return statistics.median(values) if values else None


class Results:
    """Everything measured, by (section, workload, allocator, metric): lists of values."""

    def __init__(self):
        self.values = {}
        self.ranges = {}
        self.notes = {}

    def add(self, section, rows):
        for r in rows:
            key = (section, r["workload"], r["allocator"], r["metric"])
            if r["state"] != "ok":
                self.notes[key] = f"{r['state']}: {r['note']}"
                continue
            v = fnum(r["median"])
            if v is None:
                continue
            self.values.setdefault(key, []).append(v)
            lo, hi = fnum(r["min"]), fnum(r["max"])
            if lo is not None:
                old = self.ranges.get(key, (lo, hi))
                self.ranges[key] = (min(old[0], lo), max(old[1], hi))

    def get(self, section, workload, allocator, metric):
        return median(self.values.get((section, workload, allocator, metric), []))

    def span(self, section, workload, allocator, metric):
        return self.ranges.get((section, workload, allocator, metric))


def fmt(v, digits=2):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def replay_self_cost(path):
    """Instructions spent in the bench's replay functions themselves (the loop, the slot
    reads, the checksum bytes; and the allocator's code when it is inlined into them)."""
    annotate = shutil.which("callgrind_annotate")
    if not annotate:
        return None
    done = subprocess.run([annotate, "--threshold=100", "--inclusive=no", path], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    total = 0
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].replace(",", "").isdigit() and "_replay" in line:
            total += int(parts[0].replace(",", ""))
    return total


def callgrind_counts(runner, workload, allocator, preload):
    """(instructions per pair in the timed loop, of which outside the replay functions), or
    None. The second is the allocator's own code when it is called, not inlined."""
    flags = ["--quick", "--reps", "1", "--workload", workload, "--only", LIBC if preload else allocator]
    out = os.path.join(runner.tmp, f"callgrind.{runner.count + 1}.out")
    wrapper = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}"]
    rows, done = runner.run(flags, preload=preload, label=allocator if preload else None, wrapper=wrapper)
    if not os.path.exists(out):
        return None
    total = None
    with open(out) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    loop = replay_self_cost(out)
    os.remove(out)
    pairs = 0
    for r in rows:
        if r["allocator"] == allocator and r["metric"] == "pairs_per_replay" and r["state"] == "ok":
            pairs += int(float(r["median"])) * 2  # the warm-up and the one measured replay
    if not total or not pairs:
        return None
    return total / pairs, (total - loop) / pairs if loop is not None else None


def svg_chart(res, workloads, allocators, path, title):
    """Horizontal grouped bars of the ratio to glibc per workload; glibc = 1 marked."""
    bar_h, gap, label_w, chart_w = 12, 10, 170, 520
    colors = {"mimalloc": "#8c6bb1", "jemalloc": "#e6550d", "tcmalloc": "#31a354", LIBC: "#636363"}
    ours_palette = ["#08519c", "#3182bd", "#6baed6", "#9ecae1", "#2171b5", "#c6dbef"]
    groups = []
    for w in workloads:
        bars = []
        for a in allocators[w]:
            ratio = res.get("time", w, a, "ratio") if w != "W5" else res.get("w5", w, a, "footprint_ratio")
            if ratio is not None:
                bars.append((a, ratio))
        if bars:
            groups.append((w, bars))
    vmax = max([b[1] for _, bars in groups for b in bars] + [1.2])
    vmax = min(vmax, 3.0)
    height = 40 + sum(len(b) * bar_h + gap + 18 for _, b in groups) + 30
    out = io.StringIO()
    out.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + chart_w + 80}" height="{height}" '
              f'font-family="sans-serif" font-size="11">\n')
    out.write(f'<text x="10" y="20" font-size="14" font-weight="bold">{title}</text>\n')
    y = 40
    x0 = label_w

    def xpos(v):
        return x0 + chart_w * min(v, vmax) / vmax

    for w, bars in groups:
        out.write(f'<text x="10" y="{y + 10}" font-weight="bold">{w}</text>\n')
        y += 16
        for i, (a, ratio) in enumerate(bars):
            color = colors.get(a, ours_palette[i % len(ours_palette)])
            out.write(f'<text x="{x0 - 6}" y="{y + bar_h - 2}" text-anchor="end">{a}</text>\n')
            out.write(f'<rect x="{x0}" y="{y}" width="{xpos(ratio) - x0:.1f}" height="{bar_h - 2}" fill="{color}"/>\n')
            clipped = "+" if ratio > vmax else ""
            out.write(f'<text x="{xpos(ratio) + 4:.1f}" y="{y + bar_h - 2}">{ratio:.2f}{clipped}</text>\n')
            y += bar_h
        y += gap
    out.write(f'<line x1="{xpos(1.0):.1f}" y1="36" x2="{xpos(1.0):.1f}" y2="{y}" stroke="#000" '
              f'stroke-dasharray="4,3"/>\n')
    out.write(f'<text x="{xpos(1.0) + 3:.1f}" y="{y + 14}">{LIBC} = 1 (lower is better; W5: footprint '
              f'ratio to {LIBC}\'s)</text>\n')
    out.write("</svg>\n")
    with open(path, "w") as f:
        f.write(out.getvalue())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default=os.path.join(root, "build-rel", "bench", "flmem_bench"))
    ap.add_argument("--out", default=os.path.join(root, "build-rel", "bench-results"))
    ap.add_argument("--rounds", type=int, default=3, help="alternations of all processes (default 3)")
    ap.add_argument("--reps", type=int, default=3, help="replays per row per process (default 3)")
    ap.add_argument("--cpu", type=int, default=1, help="the CPU taskset pins to (default 1)")
    ap.add_argument("--quick", action="store_true", help="scaled-down counts (a smoke run)")
    ap.add_argument("--no-taskset", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--max-live-mib", type=int, default=2048, help="largest scaling live set (default 2048)")
    ap.add_argument("--readme", help="README to update between <!-- bench:begin --> and <!-- bench:end -->")
    ap.add_argument("--svg", help="also copy the chart here (the README shows docs/bench-ratios.svg)")
    args = ap.parse_args()
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"bench_compare: {args.bench} is not built (scripts/bench.sh builds it)")
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    peers = find_peers()
    runner = Runner(args)
    res = Results()
    quick = ["--quick"] if args.quick else []
    reps = ["--reps", str(args.reps)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0

    # ---- W1..W4: alternating processes --------------------------------------------------
    procs = [("ours", None)] + peers
    for rnd in range(args.rounds):
        for label, lib in procs:
            log(f"round {rnd + 1}/{args.rounds}: {label}")
            flags = quick + reps + ["--workload", "W1,W2,W3,W4"]
            if lib:
                flags += ["--only", LIBC]
            rows, _ = runner.run(flags, preload=lib, label=label if lib else None)
            res.add("time", rows)

    # Ratios: each row's median over the glibc median of the same workload label.
    for (section, w, a, m), vals in list(res.values.items()):
        if section == "time" and m == "ns_per_pair":
            ref = res.get("time", w, LIBC, "ns_per_pair")
            if ref:
                res.values[("time", w, a, "ratio")] = [median(vals) / ref]

    # ---- W5: one process per allocator ------------------------------------------------------
    w5_rows = [(a, None) for a in W5_OURS] + [(LIBC, None)] + peers
    for a, lib in w5_rows:
        log(f"W5 footprint: {a}")
        rows, _ = runner.run(quick + ["--workload", "W5", "--only", LIBC if lib else a], preload=lib,
                             label=a if lib else None)
        res.add("w5", rows)
    ref = res.get("w5", "W5", LIBC, "footprint")
    for a, _ in w5_rows:
        v = res.get("w5", "W5", a, "footprint")
        if v is not None and ref:
            res.values[("w5", "W5", a, "footprint_ratio")] = [v / ref]

    # ---- instructions per pair ----------------------------------------------------------
    instr = {}
    instr_own = {}  # by callgrind workload (W1, W2, W3): instructions outside the bench's loop
    if not args.no_callgrind and shutil.which("valgrind"):
        for w, rows in CALLGRIND_ROWS.items():
            for a in rows + [LIBC] + [p[0] for p in peers]:
                lib = dict(peers).get(a)
                log(f"callgrind: {w} {a}")
                v = callgrind_counts(runner, w, a, lib)
                if v is not None:
                    v, own = v
                    if own is not None and "inline" not in a:
                        instr_own[(w, a)] = own
                    keys = ["W2-reverse", "W2-random"] if w == "W2" else [w]
                    for k in keys:
                        instr[(k, a)] = v
                    if w == "W3":
                        instr[("W4", a)] = v
    elif not args.no_callgrind:
        log("bench_compare: valgrind not found: no instruction counts")

    # ---- scaling ----------------------------------------------------------------------------
    scaling = []   # (live MiB, allocator, ns/pair, ratio, p99.99, max, footprint)
    threads = []   # (threads, allocator, ns/pair, ratio)
    if not args.no_scaling:
        sizes = [1, 16, 256, 2048] if not args.quick else [1, 16]
        for mib in sizes:
            if mib > args.max_live_mib:
                log(f"scaling: {mib} MiB skipped (--max-live-mib {args.max_live_mib})")
                continue
            # Live set, a 2x arena for ours, a copy for the C library's footprint, headroom.
            need = mib * (1 << 20) * 6 + (1 << 30)
            if mib >= 1024 and mem_available() < need:
                log(f"scaling: {mib} MiB skipped: {mem_available() >> 20} MiB available, {need >> 20} needed")
                scaling.append((mib, "(skipped: not enough memory)", None, None, None, None, None))
                continue
            ops = "200000" if args.quick else "1000000"
            sec = f"scale{mib}"
            for label, lib in procs:
                log(f"scaling {mib} MiB: {label}")
                only = LIBC if lib else "freelist,fl_memory/system,cold-lines," + LIBC
                rows, _ = runner.run(["--reps", "3", "--workload", "W3,W4", "--live-mib", str(mib), "--ops", ops,
                                      "--only", only], preload=lib, label=label if lib else None)
                res.add(sec, rows)
            for a, lib in [("freelist", None), ("fl_memory/system", None), (LIBC, None)] + peers:
                rows, _ = runner.run(["--workload", "W5", "--live-mib", str(mib), "--ops", ops, "--only",
                                      LIBC if lib else a], preload=lib, label=a if lib else None)
                res.add(sec, rows)
            ref = res.get(sec, "W3", LIBC, "ns_per_pair")
            for a in ["freelist", "fl_memory/system", LIBC] + [p[0] for p in peers] + ["cold-lines"]:
                ns = res.get(sec, "W3", a, "ns_per_pair")
                scaling.append((mib, a, ns, ns / ref if ns and ref else None, res.get(sec, "W4", a, "p99.99"),
                                res.get(sec, "W4", a, "max"), res.get(sec, "W5", a, "footprint")))
        for label, lib in procs:
            log(f"threads: {label}")
            # Not pinned: threads need every CPU of the host.
            rows, _ = runner.run(quick + ["--reps", "3", "--workload", "threads"] + (["--only", LIBC] if lib else []),
                                 preload=lib, label=label if lib else None, pin=False)
            res.add("threads", rows)
        for n in ["T1", "T2", "T4", "T8"]:
            ref = res.get("threads", n, LIBC, "ns_per_pair")
            for a in ["fl_memory-mt/system", LIBC] + [p[0] for p in peers]:
                ns = res.get("threads", n, a, "ns_per_pair")
                threads.append((n[1:], a, ns, ns / ref if ns and ref else None))

    # ---- tables -------------------------------------------------------------------------------
    peer_names = [LIBC] + [p[0] for p in peers]
    md = io.StringIO()
    elapsed = time.time() - started
    md.write(f"Measured by `scripts/bench.sh` ({args.rounds} alternating rounds of {len(procs)} processes, "
             f"{args.reps} replays per row each, pinned to CPU {args.cpu}; "
             f"load average {load:.2f} at the start{' — the machine was busy: treat times as noisy' if load >= 1.5 else ''}; "
             f"{os.cpu_count()} CPUs; {elapsed / 60:.0f} min). "
             "ns/pair: median of the per-process medians (min..max of all replays); ratio: to glibc's median; "
             "instr/pair: callgrind, the timed loop (in parentheses: outside the bench's replay function, i.e. the "
             "allocator's own code when it is called rather than inlined); "
             "footprint: W5 (peak resident added / peak live, W3 at 5 M ops, one process per allocator); "
             "p50..p99.99: W4 per-allocation latency in ns (pre-faulted arenas).\n\n")
    csv_rows = []
    for w in ["W1", "W2-reverse", "W2-random", "W3"]:
        md.write(f"**{w}**\n\n| allocator | ns/pair median (min..max) | ratio | instr/pair | footprint | "
                 f"p50 | p99 | p99.9 | p99.99 |\n|---|---|---|---|---|---|---|---|---|\n")
        for a in OURS[w] + peer_names:
            ns = res.get("time", w, a, "ns_per_pair")
            note = res.notes.get(("time", w, a, "ns_per_pair"))
            if ns is None and note is None:
                continue
            span = res.span("time", w, a, "ns_per_pair")
            ratio = res.get("time", w, a, "ratio")
            ins = instr.get((w, a))
            own = instr_own.get((w.split("-")[0], a))
            fp = res.get("w5", "W5", a, "footprint") if w == "W3" else None
            pct = [res.get("time", "W4", a, p) if w == "W3" else None for p in ["p50", "p99", "p99.9", "p99.99"]]
            rng = f" ({span[0]:.1f}..{span[1]:.1f})" if span else ""
            cell = f"{ns:.2f}{rng}" if ns is not None else (note or "–")
            ins_cell = fmt(ins, 0) + (f" ({own:.0f})" if own is not None else "")
            md.write(f"| {a} | {cell} | {fmt(ratio, 3)} | {ins_cell} | {fmt(fp, 2)} | "
                     + " | ".join(fmt(p, 0) for p in pct) + " |\n")
            csv_rows.append({"section": "workload", "workload": w, "allocator": a, "ns_per_pair": ns,
                             "ns_min": span[0] if span else None, "ns_max": span[1] if span else None,
                             "ratio_to_glibc": ratio, "instructions_per_pair": ins,
                             "instructions_in_allocator": own, "footprint": fp,
                             "p50_ns": pct[0], "p99_ns": pct[1], "p99_9_ns": pct[2], "p99_99_ns": pct[3],
                             "note": note or ""})
        md.write("\n")
    # W4 rows that are not in W3's table (buddy) are in the CSV only; W5 rows of allocators
    # without a W3 timing row likewise.
    for a in W4_OURS + peer_names:
        p = [res.get("time", "W4", a, x) for x in ["p50", "p99", "p99.9", "p99.99", "max"]]
        if any(v is not None for v in p):
            csv_rows.append({"section": "W4", "workload": "W4", "allocator": a, "p50_ns": p[0], "p99_ns": p[1],
                             "p99_9_ns": p[2], "p99_99_ns": p[3], "max_ns": p[4],
                             "instructions_per_pair": instr.get(("W4", a))})
    for a, _ in w5_rows:
        v = res.get("w5", "W5", a, "footprint")
        if v is not None:
            csv_rows.append({"section": "W5", "workload": "W5", "allocator": a, "footprint": v,
                             "peak_held_bytes": res.get("w5", "W5", a, "peak_held"),
                             "peak_live_bytes": res.get("w5", "W5", a, "peak_live")})
    if scaling:
        md.write("**Scaling with the live set** (W3 sizes, 1 M replacements; W4 p99.99 and max in ns; footprint as W5. "
                 "The max is the worst single allocation of all replays: on a loaded machine it is a preemption. "
                 "Footprints of the 1 MiB set are approximate: Linux updates a process's resident-memory counters "
                 "in batches of up to 64 pages. cold-lines is not an allocator: three writes to random cache lines "
                 "of an arena that size per allocation, what cold memory costs on this machine; an allocator's tail "
                 "should grow no faster than it)\n\n"
                 "| live set | allocator | ns/pair | ratio | p99.99 | max | footprint |\n|---|---|---|---|---|---|---|\n")
        for mib, a, ns, ratio, p9999, pmax, fp in scaling:
            live = f"{mib} MiB" if mib < 1024 else f"{mib // 1024} GiB"
            md.write(f"| {live} | {a} | {fmt(ns)} | {fmt(ratio, 3)} | {fmt(p9999, 0)} | {fmt(pmax, 0)} | {fmt(fp)} |\n")
            csv_rows.append({"section": "scaling", "workload": f"W3@{mib}MiB", "allocator": a, "ns_per_pair": ns,
                             "ratio_to_glibc": ratio, "p99_99_ns": p9999, "max_ns": pmax, "footprint": fp})
        md.write("\n")
    if threads:
        md.write(f"**Threads** (thread-safe fl_memory vs the peers; {os.cpu_count()} CPUs on this host, not "
                 "pinned; fixed total work, wall ns per pair)\n\n| threads | allocator | ns/pair | ratio |\n|---|---|---|---|\n")
        for n, a, ns, ratio in threads:
            md.write(f"| {n} | {a} | {fmt(ns)} | {fmt(ratio, 3)} |\n")
            csv_rows.append({"section": "threads", "workload": f"T{n}", "allocator": a, "ns_per_pair": ns,
                             "ratio_to_glibc": ratio})
        md.write("\n")
    # Targets.
    md.write("**Issue #4 targets**\n\n| target | row | limit | measured | |\n|---|---|---|---|---|\n")
    for what, w, a, limit, kind in TARGETS:
        if kind == "ratio":
            v = res.get("time", w, a, "ratio")
        elif kind == "p9999":
            v = res.get("time", "W4", a, "p99.99")
        elif kind == "footprint":
            v = res.get("w5", "W5", a, "footprint")
        else:
            # The allocator's own instructions where it is called; the whole loop where it is
            # inlined into it (an upper bound).
            v = instr_own.get((w, a), instr.get((w, a)))
        verdict = "–" if v is None else ("met" if v <= limit else f"missed by {v - limit:.3g}")
        md.write(f"| {what} | {a} | ≤ {limit:g} | {fmt(v, 3)} | {verdict} |\n")
    reads = None
    md.write("\n")
    text = md.getvalue()

    fields = ["section", "workload", "allocator", "ns_per_pair", "ns_min", "ns_max", "ratio_to_glibc",
              "instructions_per_pair", "instructions_in_allocator", "footprint", "peak_held_bytes", "peak_live_bytes", "p50_ns", "p99_ns",
              "p99_9_ns", "p99_99_ns", "max_ns", "note"]
    with open(os.path.join(args.out, "bench.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        for r in csv_rows:
            wr.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(text)
    chart_rows = {w: OURS[w][:4] + peer_names for w in OURS}
    chart_rows["W5"] = ["freelist", "fl_memory/system"] + peer_names
    svg_chart(res, ["W1", "W2-reverse", "W2-random", "W3", "W5"], chart_rows, os.path.join(args.out, "ratios.svg"),
              "flight-memory vs general-purpose allocators: time (W1-W3) and footprint (W5) relative to glibc")
    if args.svg:
        shutil.copyfile(os.path.join(args.out, "ratios.svg"), args.svg)
    print(text)
    print(f"wrote {args.out}/bench.csv, bench.md, ratios.svg ({runner.count} bench processes, "
          f"{(time.time() - started) / 60:.1f} min)")
    if args.readme:
        with open(args.readme) as f:
            readme = f.read()
        begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
        if begin in readme and end in readme:
            head, rest = readme.split(begin, 1)
            _, tail = rest.split(end, 1)
            with open(args.readme, "w") as f:
                f.write(head + begin + "\n" + text + end + tail)
            print(f"updated {args.readme}")
        else:
            log(f"bench_compare: {args.readme} has no {begin} / {end} markers: not updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
