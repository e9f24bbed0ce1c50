#!/usr/bin/python3
"""Hand-written SVG charts from bench/results/latest.json (standard library only).

    plot.py latest.json OUTDIR   -> OUTDIR/steady.svg (latency over time), OUTDIR/drain.svg (throughput),
                                    OUTDIR/drain-concurrency.svg and drain-processes.svg (jobs/s by
                                    concurrency and by process count), soak.svg (with soak)
"""
import json
import os
import sys

W, H = 820, 420
L, R, T, B = 70, 170, 40, 50  # margins
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def nice_max(v):
    if v <= 0:
        return 1
    import math
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chart(title, xlabel, ylabel, series, subtitle="", log_y=False, xticks=None, markers=False):
    """series: [(name, [(x, y), ...], dashed)]; xticks: the x values to mark (default 6 even ones);
    markers: a dot with its value at every point (for curves of a few points)."""
    import math
    xs = [x for _, pts, _ in series for x, _ in pts]
    ys = [y for _, pts, _ in series for _, y in pts if y is not None]
    if not xs:
        xs, ys = [0, 1], [0, 1]
    xmax = nice_max(max(xs + list(xticks or [])))
    if log_y:
        lo = 10 ** math.floor(math.log10(max(min(y for y in ys if y > 0), 1e-3))) if any(y > 0 for y in ys) else 0.1
        hi = 10 ** math.ceil(math.log10(max(ys))) if max(ys) > 0 else 1
        if hi <= lo:
            hi = lo * 10

        def ty(y):
            y = max(y, lo)
            return T + (H - T - B) * (1 - (math.log10(y) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
        ticks = []
        v = lo
        while v <= hi * 1.0001:
            ticks.append(v)
            v *= 10
    else:
        ymax = nice_max(max(ys) * 1.05 if ys else 1)

        def ty(y):
            return T + (H - T - B) * (1 - y / ymax)
        ticks = [ymax * i / 5 for i in range(6)]

    def tx(x):
        return L + (W - L - R) * x / xmax

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18" font-size="15" font-weight="bold">{esc(title)}</text>',
         f'<text x="{L}" y="33" fill="#555">{esc(subtitle)}</text>']
    for v in ticks:
        y = ty(v)
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        label = f"{v:g}" if v < 1e4 else f"{v:,.0f}"
        o.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for x in (xticks if xticks else [xmax * i / 5 for i in range(6)]):
        o.append(f'<line x1="{tx(x):.1f}" y1="{H - B}" x2="{tx(x):.1f}" y2="{H - B + 5}" stroke="#333"/>')
        o.append(f'<text x="{tx(x):.1f}" y="{H - B + 18}" text-anchor="middle">{x:g}</text>')
    o.append(f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="#333"/>')
    o.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="#333"/>')
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{esc(xlabel)}</text>')
    o.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(T + H - B) / 2})">{esc(ylabel)}</text>')
    for i, (name, pts, dashed) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        pts = [(x, y) for x, y in pts if y is not None]
        if not pts:
            continue
        d = " ".join(f"{tx(x):.1f},{ty(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.8"{dash} points="{d}"/>')
        if markers:
            for x, y in pts:
                o.append(f'<circle cx="{tx(x):.1f}" cy="{ty(y):.1f}" r="3.5" fill="{c}"/>')
                o.append(f'<text x="{tx(x) + 6:.1f}" y="{ty(y) - 6:.1f}" fill="{c}" font-size="11">{y:,.0f}</text>')
        ly = T + 14 + 18 * i
        o.append(f'<line x1="{W - R + 12}" y1="{ly - 4}" x2="{W - R + 36}" y2="{ly - 4}" stroke="{c}" '
                 f'stroke-width="2"{dash}/>')
        o.append(f'<text x="{W - R + 42}" y="{ly}">{esc(name)}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def scaling(res, out, sub):
    """drain jobs/s by concurrency (Conveyor, the peers, the SQL cycle) and by process count."""
    sc = res.get("scenarios", {})

    def rate(name):
        s = sc.get(name) or {}
        return s.get("jobs_per_s") if s.get("ok") else None

    def conc(name):
        return (sc.get(name) or {}).get("worker_concurrency")

    def peer(p, phase):
        runs = (res.get("peers") or {}).get(p, {}).get("runs") or [{}]
        x = runs[-1].get("phases", {}).get(phase) or {}
        return x.get("jobs_per_s") if x.get("ok") else None

    conv = [(conc(n), rate(n)) for n in ("drain", "drain-c50") if rate(n)]
    cyc = ((sc.get("limit") or {}).get("claim_complete_cycle") or {}) if (sc.get("limit") or {}).get("ok") else {}
    series = [("Conveyor, 1 process", conv, False)]
    for label, p, fmt in (("graphile batched", "graphile-worker", "drain_c{}_batched"),
                          ("graphile default", "graphile-worker", "drain_c{}"),
                          ("pg-boss fetch loop", "pg-boss", "drain_fetchloop_c{}")):
        pts = [(c, peer(p, fmt.format(c))) for c in (10, 50)]
        series.append((label, [(c, v) for c, v in pts if v], False))
    series.append(("SQL cycle (pgbench)", [(b, (cyc.get(f"batch{b}") or {}).get("jobs_per_s")) for b in (10, 50)
                                           if (cyc.get(f"batch{b}") or {}).get("jobs_per_s")], True))
    series = [x for x in series if x[1]]
    if conv:
        svg = chart(f"drain by concurrency: {(sc.get('drain') or sc.get('drain-c50') or {}).get('jobs')} queued noop jobs",
                    "worker concurrency (SQL cycle: jobs per claim)", "jobs/s, until every completion committed",
                    series, sub + f"; run {res.get('generated_at')}", xticks=[0, 10, 20, 30, 40, 50], markers=True)
        open(os.path.join(out, "drain-concurrency.svg"), "w").write(svg)
        print(f"wrote {os.path.join(out, 'drain-concurrency.svg')}")
    procs = [((sc.get(n) or {}).get("processes"), rate(n)) for n in ("drain", "drain-2proc", "drain-4proc") if rate(n)]
    if len(procs) > 1:
        c = conc("drain")
        svg = chart(f"drain by process count: {sc['drain'].get('jobs')} queued noop jobs, concurrency {c} each",
                    "Conveyor processes (on the same 2 cores and database)", "jobs/s, until every completion committed",
                    [(f"Conveyor, c{c} each", procs, False)], sub + f"; run {res.get('generated_at')}",
                    xticks=[0, 1, 2, 3, 4], markers=True)
        open(os.path.join(out, "drain-processes.svg"), "w").write(svg)
        print(f"wrote {os.path.join(out, 'drain-processes.svg')}")


def main():
    res = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    m = res.get("machine", {})
    sub = (f"{m.get('nproc')} CPUs {m.get('cpu_model', '')}, PostgreSQL {res['versions'].get('postgresql_server_version')}"
           f", conveyor {res['versions'].get('conveyor_git_sha', '')[:10]}")
    sc = res.get("scenarios", {})
    st = sc.get("steady")
    if st and st.get("timeline_by_answer_second"):
        tl = st["timeline_by_answer_second"]  # [second, n, p50, p99, max]
        series = [("done p50", [(r[0], r[2]) for r in tl], False),
                  ("done p99", [(r[0], r[3]) for r in tl], False),
                  ("done max", [(r[0], r[4]) for r in tl], True)]
        bl = st.get("backlog_per_second") or []
        svg = chart(f"steady: {st.get('rate')} jobs/s submitted for {st.get('duration_s')} s — answered -> done latency",
                    "second of the run (by answer time)", "latency, ms (log scale)", series,
                    sub + f"; max backlog {st.get('backlog_max')}", log_y=True)
        open(os.path.join(out, "steady.svg"), "w").write(svg)
        print(f"wrote {os.path.join(out, 'steady.svg')}")
    so = sc.get("soak")
    if so and so.get("samples_every_10s"):
        rows = so["samples_every_10s"]
        series = [("jobs total MiB", [(r["s"], r["jobs_total_mib"]) for r in rows], False),
                  ("jobs heap MiB", [(r["s"], r["jobs_heap_mib"]) for r in rows], True)]
        svg = chart(f"soak: {so.get('rate')} jobs/s for {so.get('duration_s')} s, RETENTION_DONE_S="
                    f"{so.get('retention_done_s')} — size of the jobs table", "second of the run",
                    "MiB", series, sub + f"; p99 created->done {so.get('p99_ms_first_minute')} -> "
                    f"{so.get('p99_ms_last_minute')} ms (first/last minute)")
        open(os.path.join(out, "soak.svg"), "w").write(svg)
        print(f"wrote {os.path.join(out, 'soak.svg')}")
    scaling(res, out, sub)
    series = []
    for name in ("drain", "drain-c50", "drain-2proc", "drain-4proc"):
        d = sc.get(name)
        if not d or not d.get("timeline_100ms"):
            continue
        pts = [(b * 0.1, n * 10) for b, n in d["timeline_100ms"]]  # jobs per 100 ms -> jobs/s
        # fill empty buckets with 0 so gaps show
        have = {round(x, 1) for x, _ in pts}
        # the line runs on (at 0) until the poll that saw every job done: a batch of completions is
        # stamped with its transaction's start but becomes visible only when it commits
        last = max(max(x for x, _ in pts), d.get("seconds_start_to_all_done") or 0)
        i = 0.0
        while i <= last:
            if round(i, 1) not in have:
                pts.append((round(i, 1), 0))
            i += 0.1
        pts.sort()
        series.append((f"{name} ({d.get('jobs_per_s')}/s)", pts, False))
    if series:
        jobs = sc.get("drain", sc.get("drain-c50", {})).get("jobs")
        svg = chart(f"drain: {jobs} queued noop jobs — completions per second since process start",
                    "seconds since the Conveyor process(es) started (each line ends when all jobs were seen done)",
                    "jobs done per second (100 ms buckets)", series,
                    sub + "; by completion tx start")
        open(os.path.join(out, "drain.svg"), "w").write(svg)
        print(f"wrote {os.path.join(out, 'drain.svg')}")


if __name__ == "__main__":
    main()
