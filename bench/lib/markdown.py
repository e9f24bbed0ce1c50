#!/usr/bin/python3
"""Markdown tables from bench/results/latest.json, for bench/README.md.

    /usr/bin/python3 bench/lib/markdown.py [bench/results/latest.json]
"""
import json
import sys


def lat(d, keys=("p50", "p95", "p99", "max")):
    if not d:
        return "-"
    return " / ".join(str(d.get(k)) for k in keys)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json"
    r = json.load(open(path))
    m, v, st = r["machine"], r["versions"], r.get("postgres_settings") or {}
    print(f"Run `{r['generated_at']}` ({'quick' if r['parameters']['quick'] else 'default'} parameters, "
          f"{r['suite_seconds']} s): {m['nproc']} CPUs {m['cpu_model']}, {m['mem_gib']} GiB, {m['kernel']}, "
          f"{m['os']}; Conveyor `{v['conveyor_git_sha'][:10]}`; PostgreSQL {v['postgresql_server_version']} "
          f"(synchronous_commit={st.get('synchronous_commit')}, fsync={st.get('fsync')}, "
          f"full_page_writes={st.get('full_page_writes')}, shared_buffers={int(st.get('shared_buffers', 0)) * 8 // 1024} MB).")
    print()
    print("| scenario | result | latency ms p50 / p95 / p99 / max | Conveyor CPU s | PostgreSQL CPU s | Conveyor RSS MiB idle → peak | other load (cores) | check |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in r["scenarios"].items():
        if "skipped" in s:
            print(f"| {name} | skipped: {s['skipped']} | | | | | | |")
            continue
        if name == "big-table":
            for v, x in (s.get("variants") or {}).items():
                res = x.get("resources", {})
                peak = res.get("conveyor_peak_rss_mib")
                extra = f" ({(s.get('ratio_to_empty') or {}).get(v)}x empty)" if v != "empty" else ""
                if v == "retention" and "history_deleted_during_drain" in x:
                    extra += f", {x['history_deleted_during_drain']:,} old rows deleted meanwhile"
                print(f"| big-table {v} | {x.get('preloaded_rows', 0):,} finished rows, {x.get('env') or 'defaults'}: "
                      f"{x.get('jobs_per_s') or 0:,} jobs/s{extra} | first job done after {x.get('ms_start_to_first_done')} ms | "
                      f"{res.get('conveyor_cpu_s', '-')} | {res.get('postgres_cpu_s', '-')} | "
                      f"- → {'+'.join(map(str, peak)) if peak else '-'} | {res.get('other_load_cores', '-')} | "
                      f"{'ok' if x.get('ok') else 'FAILED'} |")
            continue
        res = s.get("resources", {})
        if name in ("submit", "batch"):
            l = lat(s.get("latency_ms")) + " (HTTP)"
        elif name == "pickup":
            l = lat(s.get("answered_to_done_ms")) + " (→done); " + lat(s.get("start_latency_ms")) + " (→start)"
        elif name == "steady":
            l = lat(s.get("answered_to_done_ms")) + " (→done)"
        elif name == "sse-fanout":
            l = lat(s.get("delivery_latency_ms")) + " (delivery)"
        elif name == "limit":
            l = "-"
        else:
            l = f"first job done after {s.get('ms_start_to_first_done')} ms"
        idle = res.get("conveyor_idle_rss_mib")
        peak = res.get("conveyor_peak_rss_mib")
        rss = f"{'+'.join(map(str, idle)) if idle else '-'} → {'+'.join(map(str, peak)) if peak else '-'}"
        print(f"| {name} | {s.get('headline', '')} | {l} | {res.get('conveyor_cpu_s', '-')} | "
              f"{res.get('postgres_cpu_s', '-')} | {rss} | {res.get('other_load_cores', '-')} | "
              f"{'ok' if s.get('ok') else 'FAILED'} |")
    side_by_side(r)
    targets(r)


def side_by_side(r):
    """Conveyor, graphile-worker default and batched, pg-boss and the SQL ceiling, phase by phase."""
    peers = r.get("peers") or {}
    g = peers.get("graphile-worker", {})
    b = peers.get("pg-boss", {})
    sc = r["scenarios"]

    def mark(fc):
        return f" (other load {fc})" if (fc or 0) >= 0.25 else ""

    def ph(p, name, pg=False):
        runs = p.get("runs") or [{}]
        x = runs[-1].get("phases", {}).get(name)
        if not x or not x.get("ok", True):
            return "-"
        m = mark(x.get("cpu", {}).get("foreign_cores", 0))
        if pg:
            return f"{1000 * x['cpu']['postgres_s'] / x['jobs']:.3f}" if x.get("jobs") else "-"
        if "p50" in x:
            return f"{x['p50']} / {x['p99']} ms{m}"
        return f"{x['jobs_per_s']:,} jobs/s{m}"

    def our(name, f):
        s = sc.get(name)
        if not s or "skipped" in s or not s.get("ok"):
            return "-"
        return f(s) + mark((s.get("resources") or {}).get("other_load_cores", 0))

    lim = sc.get("limit") or {}
    lim = lim if lim.get("ok") else {}
    cyc = lim.get("claim_complete_cycle") or {}

    def ceil(key, unit="jobs/s"):
        v = lim.get(key)
        return f"{v:,} {unit}" if v else "-"

    def cycle(bt, pg=False):
        c = cyc.get(f"batch{bt}") or {}
        if pg:
            return str(c.get("postgres_cpu_s_per_1000_jobs") or "-")
        return f"{c['jobs_per_s']:,} jobs/s ({c['clients']} clients)" if c.get("jobs_per_s") else "-"

    def jps(s):
        return format(s.get("jobs_per_s") or 0, ",") + " jobs/s"

    def pg1000(s):
        return f"{1000 * s['resources']['postgres_cpu_s'] / s['jobs']:.3f}"

    bt = sc.get("big-table") or {}
    btv, ratio = bt.get("variants") or {}, bt.get("ratio_to_empty") or {}

    def big(v):
        x = btv.get(v) or {}
        if not x.get("ok"):
            return "-"
        return (f"{x['jobs_per_s']:,} jobs/s = {ratio.get(v)}x the empty table's "
                f"{btv.get('empty', {}).get('jobs_per_s') or 0:,}{mark((x.get('resources') or {}).get('other_load_cores'))}")

    print()
    gv, bv = (" " + g["version"]) if g.get("version") else "", (" " + b["version"]) if b.get("version") else ""
    print(f"| phase | Conveyor | graphile-worker{gv} default | graphile-worker{gv} batched | "
          f"pg-boss{bv} | SQL ceiling (pgbench, same cluster) |")
    print("|---|---|---|---|---|---|")
    rows = [
        ("enqueue one job per call, 50 in flight", our("submit", lambda s: format(s["req_per_s"], ",.0f") + " jobs/s"),
         ph(g, "enqueue_single"), "", ph(b, "enqueue_single"),
         ceil("insert1_rows_per_s", "rows/s") + " (row + event, one commit each)"),
        ("enqueue in batches of 1,000", our("batch", lambda s: format(s["jobs_per_s"], ",.0f") + " jobs/s"),
         ph(g, "enqueue_bulk"), "", ph(b, "enqueue_bulk"), ceil("insert1000_rows_per_s", "rows/s")),
        ("drain, concurrency 10", our("drain", jps), ph(g, "drain_c10"), ph(g, "drain_c10_batched"),
         "fetch loop " + ph(b, "drain_fetchloop_c10"), "claim 10 + complete: " + cycle(10)),
        ("drain, concurrency 50", our("drain-c50", jps), ph(g, "drain_c50"), ph(g, "drain_c50_batched"),
         "fetch loop " + ph(b, "drain_fetchloop_c50"), "claim 50 + complete: " + cycle(50)),
        ("drain, 2 processes x c10", our("drain-2proc", jps), "", "", "", ""),
        ("drain, 4 processes x c10", our("drain-4proc", jps), "", "", "", ""),
        (f"drain c10 with {bt.get('preloaded_rows', 0):,} finished rows, retention off", big("kept"), "", "", "", ""),
        (f"drain c10 with {bt.get('preloaded_rows', 0):,} finished rows, retention deleting them", big("retention"),
         "", "", "", ""),
        ("PostgreSQL CPU s per 1,000 jobs, drain c10", our("drain", pg1000), ph(g, "drain_c10", True),
         ph(g, "drain_c10_batched", True), ph(b, "drain_fetchloop_c10", True), cycle(10, True)),
        ("PostgreSQL CPU s per 1,000 jobs, drain c50", our("drain-c50", pg1000), ph(g, "drain_c50", True),
         ph(g, "drain_c50_batched", True), ph(b, "drain_fetchloop_c50", True), cycle(50, True)),
        ("pickup p50 / p99, concurrency 10 (add returned → handler start)",
         our("pickup", lambda s: lat(s.get("start_latency_ms"), ("p50", "p99")) + " ms"),
         ph(g, "latency_c10"), "", ph(b, "latency_c10"), ""),
    ]
    for row in rows:
        print("| " + " | ".join(c if c not in ("", "fetch loop -") else "-" for c in row) + " |")


def targets(r):
    t = r.get("targets")
    if not t:
        return
    fmt = lambda v: "-" if v is None else (f"{v:,.0f}" if isinstance(v, (int, float)) and v >= 1000 else str(v))
    print()
    print("| target | Conveyor | against | value | ratio | wanted | met |")
    print("|---|---|---|---|---|---|---|")
    for x in t["rows"]:
        if x["conveyor"] is None:
            continue
        met = "-" if x["met"] is None else ("yes" if x["met"] else "**no**")
        print(f"| {x['target']} | {fmt(x['conveyor'])} | {x['reference']} | {fmt(x['reference_value'])} | "
              f"{fmt(x['ratio'])} | {x['wanted']} | {met} |")
    loads = []
    for name, s in r["scenarios"].items():
        for v, x in ([(name, s)] + [(f"{name} {k}", y) for k, y in (s.get("variants") or {}).items()]):
            fc = (x.get("resources") or {}).get("other_load_cores")
            if fc is not None:
                loads.append(f"{v} {fc}")
    print()
    print("`other_load_cores` per scenario: " + ", ".join(loads) + ".")


if __name__ == "__main__":
    main()
