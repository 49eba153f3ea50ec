#!/usr/bin/env python3
"""Build the make-bench report from the guest's JSON lines.

Input: results.jsonl (one {"meta": ...} line, then one object per
measurement: key, run, cmd and its metrics) as printed by
tests/bench/guest-bench.sh. Output in --out: report.json, report.md and
report.png (gnuplot, when installed).

Each row compares asyncdev with a peer measured in the same boot: the
figures are medians over the runs with their min..max; the ratio is
asyncdev's median / the peer's median, and its spread is the min..max of
the per-run ratios (run i of asyncdev against run i of the peer, which ran
right after it). Each run's figure of a throughput measurement is itself
the median of several processes (guest-bench.sh, measure()); their
min..max per run is kept (min_iops/max_iops, min_ops_per_s/max_ops_per_s)
and shown with every measurement.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

# id, comparison, (key, metric) asyncdev, (key, metric) peer, peer name,
# unit, target op, target value
ROWS = [
    ("P1", "4 KiB write+read round trips through the FIFO, one process",
     ("fifo_rt", "ops_per_s"), ("pipe_rt", "ops_per_s"), "pipe", "ops/s", ">=", 1.0),
    ("P1s", "64-byte write+read round trips through the FIFO, one process",
     ("fifo_rt64", "ops_per_s"), ("pipe_rt64", "ops_per_s"), "pipe", "ops/s", ">=", 0.95),
    ("P2", "fio libaio 4 KiB randread QD32, no latency: /dev/asyncmem",
     ("mem_libaio_qd32", "iops"), ("nullb_libaio_qd32", "iops"),
     "null_blk memory_backed=1 irqmode=0 direct=1", "IOPS", ">=", 1.0),
    ("P3", "same, 100 us latency (asyncmem latency_ns=100000 channels=64)",
     ("mem_lat100_qd32", "iops"), ("nullb_lat100_qd32", "iops"),
     "null_blk irqmode=2 completion_nsec=100000", "IOPS", ">=", 0.9),
    ("P3b", "asyncmem 100 us latency: QD32/QD1 scaling against the ceiling "
     "(latency-0 QD32 IOPS / 100 us QD1 IOPS, same run)",
     ("mem_lat100_scaling", "x"), ("mem_ceiling_scaling", "x"),
     "ceiling", "x", ">=", 0.8),
    ("P3c", "asyncmem 100 us latency: QD32/QD1 scaling against null_blk's",
     ("mem_lat100_scaling", "x"), ("nullb_lat100_scaling", "x"),
     "null_blk irqmode=2 QD32/QD1", "x", ">=", 1.0),
    ("P4", "fio io_uring vs fio libaio, /dev/asyncmem QD32",
     ("mem_uring_qd32", "iops"), ("mem_libaio_qd32", "iops"),
     "asyncmem fio libaio", "IOPS", ">=", 1.0),
    ("P5", "write -> real-time SIGIO received, p50",
     ("fifo_sigio", "p50_ns"), ("pipe_sigio", "p50_ns"),
     "pipe F_SETSIG", "ns", "<=", 1.0),
    ("P5b", "write -> real-time SIGIO received, p99",
     ("fifo_sigio", "p99_ns"), ("pipe_sigio", "p99_ns"),
     "pipe F_SETSIG", "ns", "<=", 1.0),
    ("P6", "time per completion, asyncmem libaio QD1024 vs QD32 (latency 0)",
     ("mem_libaio_qd1024", "ns_per_io"), ("mem_libaio_qd32", "ns_per_io"),
     "asyncmem QD32", "ns/IO", "<=", 1.2),
    ("P7", "libasyncdev AioContext vs fio libaio, asyncmem QD32",
     ("lib_aio_qd32", "iops"), ("mem_libaio_qd32", "iops"),
     "fio libaio", "IOPS", ">=", 0.9),
    ("P7b", "libasyncdev Uring vs fio io_uring, asyncmem QD32",
     ("lib_uring_qd32", "iops"), ("mem_uring_qd32", "iops"),
     "fio io_uring", "IOPS", ">=", 0.9),
    ("P7c", "libasyncdev Uring, registered file and buffers, vs fio io_uring "
     "fixedbufs registerfiles, asyncmem QD32",
     ("lib_uring_fixed_qd32", "iops"), ("mem_uring_fixed_qd32", "iops"),
     "fio io_uring fixedbufs registerfiles", "IOPS", ">=", 0.95),
    ("P8", "two fio libaio jobs, QD32 each, /dev/asyncmem (latency 0): "
     "aggregate vs one job",
     ("mem_libaio_qd32_2j", "iops"), ("mem_libaio_qd32", "iops"),
     "asyncmem one job", "IOPS", ">=", 1.6),
    ("P8b", "two-job scaling (2 jobs / 1 job, QD32 each) against null_blk's",
     ("mem_2j_scaling", "x"), ("nullb_2j_scaling", "x"),
     "null_blk irqmode=0 2 jobs / 1 job", "x", ">=", 1.0),
    ("P9", "synchronous 4 KiB pread at random offsets, /dev/asyncmem latency 0",
     ("mem_pread", "ops_per_s"), ("tmpfs_pread", "ops_per_s"),
     "tmpfs file in the page cache", "ops/s", ">=", 0.9),
]

# Measurements derived per run from two others: key, (numerator key,
# denominator key), metric "x" = numerator IOPS / denominator IOPS.
DERIVED = [
    ("mem_lat100_scaling", "mem_lat100_qd32", "mem_lat100_qd1"),
    ("mem_ceiling_scaling", "mem_libaio_qd32", "mem_lat100_qd1"),
    ("nullb_lat100_scaling", "nullb_lat100_qd32", "nullb_lat100_qd1"),
    ("mem_2j_scaling", "mem_libaio_qd32_2j", "mem_libaio_qd32"),
    ("nullb_2j_scaling", "nullb_libaio_qd32_2j", "nullb_libaio_qd32"),
]


def derive(res):
    """Append the DERIVED measurements of every run that has both parts."""
    for key, num, den in DERIVED:
        a, b = series(res, num, "iops"), series(res, den, "iops")
        for run in sorted(a):
            if b.get(run):
                res.append({"key": key, "run": run, "cmd": f"{num} / {den}",
                            "x": a[run] / b[run]})


def load(path):
    meta, res = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                print(f"report: skipping garbled line: {line[:80]}", file=sys.stderr)
                continue
            if "meta" in obj:
                meta = obj["meta"]
            else:
                if obj.get("iops"):
                    obj["ns_per_io"] = 1e9 / obj["iops"]
                    cpu = (obj.get("usr_pct") or 0) + (obj.get("sys_pct") or 0)
                    if cpu:
                        obj["cpu_ns_per_io"] = cpu / 100.0 * 1e9 / obj["iops"]
                res.append(obj)
    derive(res)
    return meta, res


def series(res, key, metric):
    """{run: value} of one measurement."""
    return {r["run"]: r[metric] for r in res
            if r["key"] == key and r.get(metric) is not None}


def processes(res, key):
    """[{run, min, max}] of one measurement's processes, per run (the
    measurements that ran in several processes)."""
    out = []
    for r in res:
        if r["key"] != key:
            continue
        for m in ("iops", "ops_per_s"):
            lo, hi = r.get("min_" + m), r.get("max_" + m)
            if lo is not None and hi is not None:
                out.append({"run": r["run"], "min": lo, "max": hi})
    return out


def summary(vals):
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "runs": vals}


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if unit == "ratio":
        return f"{v:.2f}x"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def fmt_sum(s, unit=""):
    if not s:
        return "n/a"
    return f"{fmt(s['median'], unit)} ({fmt(s['min'], unit)}..{fmt(s['max'], unit)})"


def cmd_of(res, key):
    for r in res:
        if r["key"] == key:
            return r.get("cmd", "")
    return ""


def build(meta, res):
    rows = []
    for rid, what, (ka, ma), (kb, mb), peer, unit, op, target in ROWS:
        a, b = series(res, ka, ma), series(res, kb, mb)
        sa, sb = summary(list(a.values())), summary(list(b.values()))
        per_run = [a[r] / b[r] for r in sorted(a) if r in b and b[r]]
        ratio = sa["median"] / sb["median"] if sa and sb and sb["median"] else None
        met = None
        if ratio is not None:
            met = ratio >= target if op == ">=" else ratio <= target
        rows.append({
            "id": rid, "comparison": what, "unit": unit, "peer": peer,
            "asyncdev": sa, "peer_figure": sb,
            "ratio": ratio, "ratio_min": min(per_run) if per_run else None,
            "ratio_max": max(per_run) if per_run else None,
            "target": f"{op} {target}", "target_op": op, "target_value": target,
            "met": met,
            "asyncdev_key": ka, "peer_key": kb,
            "asyncdev_processes": processes(res, ka), "peer_processes": processes(res, kb),
            "commands": {"asyncdev": cmd_of(res, ka), "peer": cmd_of(res, kb)},
        })
    return rows


def extra_table(res):
    """Every measurement with its secondary metrics (latency, CPU)."""
    keys = []
    for r in res:
        if r["key"] not in keys:
            keys.append(r["key"])
    out = []
    for k in keys:
        rs = [r for r in res if r["key"] == k]
        d = {"key": k, "cmd": rs[0].get("cmd", "")}
        for m in ("iops", "ops_per_s", "x", "p50_ns", "p99_ns", "mean_ns", "lat_us",
                  "clat_us", "usr_pct", "sys_pct", "ns_per_io", "cpu_ns_per_io"):
            vals = [r[m] for r in rs if r.get(m) is not None]
            if vals:
                d[m] = summary(vals)
        if processes(res, k):
            d["processes"] = processes(res, k)
        out.append(d)
    return out


def median_of(details, key, metric):
    for d in details:
        if d["key"] == key and d.get(metric):
            return d[metric]["median"]
    return None


def explain(rows, details):
    """{row id: why} for the rows that miss their target, from this run's
    own measurements: what bounds the figure here."""
    notes = {}
    for r in rows:
        if r["met"] is not False:
            continue
        lo, hi, t = r["ratio_min"], r["ratio_max"], r["target_value"]
        if lo is not None and lo <= t <= hi:
            notes[r["id"]] = (f"the per-run ratios ({lo:.2f}x..{hi:.2f}x) straddle the target "
                              f"{r['target']}: within this run's noise.")
    m = lambda k, x: median_of(details, k, x)
    inline, qd1 = m("mem_libaio_qd32", "iops"), m("mem_lat100_qd1", "iops")
    lat_cpu = m("mem_lat100_qd32", "cpu_ns_per_io")
    usr, sys_ = m("mem_lat100_qd32", "usr_pct"), m("mem_lat100_qd32", "sys_pct")
    qd1_lat, nap = m("mem_lat100_qd1", "lat_us"), m("sleep100us", "p50_ns")
    nb32, nb1 = m("nullb_lat100_qd32", "iops"), m("nullb_lat100_qd1", "iops")
    inline_cpu = m("mem_libaio_qd32", "cpu_ns_per_io")
    lat32 = m("mem_lat100_qd32", "iops")
    by_id = {r["id"]: r for r in rows}

    def missed(rid):
        return rid in by_id and by_id[rid]["met"] is False and rid not in notes

    if missed("P3b") and None not in (inline, lat32, lat_cpu, inline_cpu, usr, sys_):
        notes["P3b"] = (
            f"at 100 us QD32 reaches {lat32:,.0f} IOPS, {lat32 / inline:.2f} of the "
            f"latency-0 QD32 rate ({inline:,.0f}); both runs are CPU-bound (fio at "
            f"{usr + sys_:.0f}% CPU at 100 us): an I/O costs {lat_cpu / 1000:.1f} us of CPU "
            f"on the timer path against {inline_cpu / 1000:.1f} us completed inline. 0.8 "
            f"needs the timer path under {inline_cpu / 800:.1f} us per I/O"
            + (f"; QD1 waits {qd1_lat:.0f} us for 100 (a 100 us clock_nanosleep takes "
               f"{nap / 1000:.0f} us here)" if qd1_lat and nap else "") + ".")
    if missed("P3c") and nb32 and nb1 and qd1:
        notes["P3c"] = (f"null_blk scales {nb32 / nb1:.1f}x, asyncmem "
                        f"{(lat32 or 0) / qd1:.1f}x.")
    nb_cpu = m("nullb_libaio_qd32", "cpu_ns_per_io")
    if missed("P2") and inline_cpu and nb_cpu:
        split = ""
        mu, ms = m("mem_libaio_qd32", "usr_pct"), m("mem_libaio_qd32", "sys_pct")
        nu, ns = m("nullb_libaio_qd32", "usr_pct"), m("nullb_libaio_qd32", "sys_pct")
        if None not in (mu, ms, nu, ns) and mu + ms and nu + ns:
            split = (f" (user/kernel {mu / (mu + ms) * inline_cpu / 1000:.1f}/"
                     f"{ms / (mu + ms) * inline_cpu / 1000:.1f} us against "
                     f"{nu / (nu + ns) * nb_cpu / 1000:.1f}/{ns / (nu + ns) * nb_cpu / 1000:.1f} us)")
        notes["P2"] = (f"both are CPU-bound: an I/O costs {inline_cpu / 1000:.1f} us of CPU on "
                       f"asyncmem and {nb_cpu / 1000:.1f} us on null_blk{split}; 1.0 needs "
                       f"asyncmem's I/O under {nb_cpu / 1000:.1f} us.")
    one, two = m("mem_libaio_qd32", "cpu_ns_per_io"), m("mem_libaio_qd32_2j", "cpu_ns_per_io")
    nb_s = m("nullb_2j_scaling", "x")
    if (missed("P8") or missed("P8b")) and one and two:
        note = (f"one I/O costs {one / 1000:.1f} us of CPU with one job and "
                f"{two / 1000:.1f} us with two (fio's usr+sys as it reports the group)")
        if nb_s:
            note += f"; null_blk scales {nb_s:.2f}x from one job to two in the same boot"
        for rid in ("P8", "P8b"):
            if missed(rid):
                notes[rid] = note + "."
    for rid, ka, kb, what in (("P1s", "fifo_rt64", "pipe_rt64", "round trip"),
                              ("P1", "fifo_rt", "pipe_rt", "round trip"),
                              ("P9", "mem_pread", "tmpfs_pread", "pread")):
        x, y = m(ka, "ops_per_s"), m(kb, "ops_per_s")
        if missed(rid) and x and y:
            notes[rid] = (f"{1e6 / x:.2f} us per {what} against the peer's "
                          f"{1e6 / y:.2f} us: {1e6 / x - 1e6 / y:.2f} us more per call.")
    return notes


def compare_baseline(rows, path):
    """Per row: is this run's ratio worse than the baseline's beyond the
    noise? Worse means even this run's best per-run ratio is worse than the
    baseline's worst (its median when it has no spread)."""
    try:
        with open(path) as f:
            base = json.load(f)
    except OSError:
        return None
    for r in rows:
        b = base["rows"].get(r["id"])
        if not b or r["ratio"] is None:
            r["baseline"] = None
            continue
        best = r["ratio_max"] if r["target_op"] == ">=" else r["ratio_min"]
        if r["target_op"] == ">=":
            worst_b = b.get("min", b["ratio"])
            worse = best < worst_b
        else:
            worst_b = b.get("max", b["ratio"])
            worse = best > worst_b
        r["baseline"] = dict(b, worse=worse)
    return base["source"], base.get("kernel")


def series_of(kernel):
    """'6.12' of '6.12.117+deb12-amd64'."""
    return ".".join((kernel or "?").split(".")[:2])


def markdown(meta, rows, details, args, notes):
    L = []
    L.append("# asyncdev benchmark report (make bench)\n")
    L.append(f"- accelerator: **{args.accel}**")
    L.append(f"- host: {args.host}")
    L.append(f"- guest kernel {meta.get('kernel', '?')}, {meta.get('cpus', '?')} vCPUs, "
             f"{meta.get('fio', 'fio ?')}; {meta.get('runs', '?')} runs of each measurement, "
             f"fio and bench_lib: {meta.get('runtime_s', '?')} s measured per run in "
             f"{meta.get('procs', 1)} processes, each after its own {meta.get('ramp_s', '?')} s "
             f"ramp; "
             f"{meta.get('note', '')}; whole guest run {args.elapsed} s")
    L.append("- figures: median (min..max) of the runs, a run's figure being the median of "
             "its processes (the processes of the measurements compared ran interleaved); "
             "ratio = asyncdev median / peer median (min..max of per-run ratios). Absolute "
             "numbers under TCG mean little; ratios from the same boot are the point.\n")
    L.append("| # | comparison | asyncdev | peer | peer figure | ratio | target | met | "
             "baseline ratio |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        met = {True: "yes", False: "**NO**", None: "n/a"}[r["met"]]
        ratio = "n/a" if r["ratio"] is None else \
            f"{r['ratio']:.2f}x ({fmt(r['ratio_min'], 'ratio')}..{fmt(r['ratio_max'], 'ratio')})"
        b = r.get("baseline")
        if not b:
            base = "new row" if r["ratio"] is not None else "n/a"
        else:
            spread = f" ({b['min']:.2f}x..{b['max']:.2f}x)" if "min" in b else ""
            base = f"{b['ratio']:.2f}x{spread}: " + \
                ("**worse beyond the noise**" if b["worse"] else "not worse")
        L.append(f"| {r['id']} | {r['comparison']} | {fmt_sum(r['asyncdev'])} {r['unit']} | "
                 f"{r['peer']} | {fmt_sum(r['peer_figure'])} {r['unit']} | {ratio} | "
                 f"{r['target']} | {met} | {base} |")
    n_met = sum(1 for r in rows if r["met"])
    L.append(f"\n{n_met} of {len(rows)} rows meet their target.\n")
    worse = [r for r in rows if (r.get("baseline") or {}).get("worse")]
    if args.baseline_source:
        L.append(f"Baseline: {args.baseline_source}. Worse beyond the noise (this run's best "
                 f"per-run ratio below the baseline's worst): "
                 f"{', '.join(r['id'] for r in worse) if worse else 'none'}.\n")
        other = series_of(args.baseline_kernel) != series_of(meta.get("kernel"))
        for r in worse:
            b = r["baseline"]
            if "asyncdev" not in b or not r["asyncdev"] or not r["peer_figure"]:
                continue
            mine, peer = r["asyncdev"]["median"], r["peer_figure"]["median"]
            L.append(f"- **{r['id']} against the baseline**: asyncdev {fmt(mine)} {r['unit']} "
                     f"here against {fmt(b['asyncdev'])} then ({mine / b['asyncdev']:.2f}x); "
                     f"the peer {fmt(peer)} against {fmt(b['peer'])} ({peer / b['peer']:.2f}x)"
                     + (f"; the baseline ran on kernel {args.baseline_kernel}, this run on "
                        f"{meta.get('kernel')}" if other else "") + ".")
        if worse:
            L.append("")
    for rid, why in notes.items():
        L.append(f"- **{rid} not met**: {why}")
    if notes:
        L.append("")
    L.append("## Every measurement\n")
    L.append("| key | IOPS or ops/s | processes min..max, per run | fio lat mean (us) | "
             "CPU usr+sys % | ns per IO | command |")
    L.append("|---|---|---|---|---|---|---|")
    for d in details:
        thr = d.get("iops") or d.get("ops_per_s") or d.get("x")
        if "p50_ns" in d:
            thr_s = f"p50 {fmt_sum(d['p50_ns'])} ns, p99 {fmt_sum(d.get('p99_ns'))} ns"
        else:
            thr_s = fmt_sum(thr)
        cpu = ""
        if "usr_pct" in d and "sys_pct" in d:
            cpu = f"{d['usr_pct']['median']:.0f}+{d['sys_pct']['median']:.0f}"
        procs = "; ".join(f"{fmt(p['min'])}..{fmt(p['max'])}"
                          for p in sorted(d.get("processes", []), key=lambda p: p["run"]))
        L.append(f"| {d['key']} | {thr_s} | {procs} | {fmt_sum(d.get('lat_us'))} | {cpu} | "
                 f"{fmt_sum(d.get('ns_per_io'))} | `{d['cmd']}` |")
    L.append("\nfio job files are in tests/bench/fio/ (the guest runs them from "
             "/opt/asyncdev/bench/fio/); bench_fifo and bench_lib are tests/bench/*.c/.cpp. "
             "Reproduce with `make bench` (or `tests/bench/run.sh`, env BENCH_RUNS, "
             "BENCH_RUNTIME, BENCH_PROCS, BENCH_ONLY=\"P2 P3\").")
    return "\n".join(L) + "\n"


def plot(rows, out):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not installed, no PNG", file=sys.stderr)
        return
    dat = os.path.join(out, "report.dat")
    with open(dat, "w") as f:
        f.write("# id score score_lo score_hi ratio target\n")
        for i, r in enumerate(rows):
            if r["ratio"] is None:
                continue
            t = r["target_value"]
            # score >= 1 means the target is met, whatever its direction
            if r["target_op"] == ">=":
                s, lo, hi = r["ratio"] / t, r["ratio_min"] / t, r["ratio_max"] / t
            else:
                s, lo, hi = t / r["ratio"], t / r["ratio_max"], t / r["ratio_min"]
            f.write(f"{i} {r['id']} {s:.4f} {lo:.4f} {hi:.4f} {r['ratio']:.3f} "
                    f"{r['target'].replace(' ', '')}\n")
    gp = os.path.join(out, "report.gp")
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 1000,520 font ",10"
set output "{os.path.join(out, 'report.png')}"
set title "asyncdev vs peers, same guest boot: ratio relative to target (>= 1 means met)"
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set ylabel "score = ratio / target (or target / ratio for latency and cost)"
set grid ytics
set xtics rotate by 0
unset key
plot "{dat}" using 1:3:xtic(2) with boxes lc rgb "#4472c4", \\
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \\
     1 with lines lc rgb "red" dt 2 lw 2, \\
     "" using 1:($5+0.05):(sprintf("%.2fx (%s)", $6, stringcolumn(7))) with labels font ",8"
""")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--accel", default="?")
    ap.add_argument("--host", default="?")
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--baseline", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "baseline.json"))
    args = ap.parse_args()
    meta, res = load(args.results)
    rows = build(meta, res)
    args.baseline_source, args.baseline_kernel = compare_baseline(rows, args.baseline) \
        or (None, None)
    details = extra_table(res)
    notes = explain(rows, details)
    report = {"meta": dict(meta, accelerator=args.accel, host=args.host,
                           elapsed_s=args.elapsed),
              "rows": rows, "notes": notes, "measurements": details, "raw": res}
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    md = markdown(meta, rows, details, args, notes)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(md)
    plot(rows, args.out)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
