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
        res = s.get("resources", {})
        if name in ("submit", "batch"):
            l = lat(s.get("latency_ms")) + " (HTTP)"
        elif name == "pickup":
            l = lat(s.get("answered_to_done_ms")) + " (→done); " + lat(s.get("start_latency_ms")) + " (→start)"
        elif name == "steady":
            l = lat(s.get("answered_to_done_ms")) + " (→done)"
        elif name == "sse-fanout":
            l = lat(s.get("delivery_latency_ms")) + " (delivery)"
        else:
            l = f"first job done after {s.get('ms_start_to_first_done')} ms"
        idle = res.get("conveyor_idle_rss_mib")
        peak = res.get("conveyor_peak_rss_mib")
        rss = f"{'+'.join(map(str, idle)) if idle else '-'} → {'+'.join(map(str, peak)) if peak else '-'}"
        print(f"| {name} | {s.get('headline', '')} | {l} | {res.get('conveyor_cpu_s', '-')} | "
              f"{res.get('postgres_cpu_s', '-')} | {rss} | {res.get('other_load_cores', '-')} | "
              f"{'ok' if s.get('ok') else 'FAILED'} |")
    peers = r.get("peers")
    if not peers:
        return
    print()
    g = peers.get("graphile-worker", {})
    b = peers.get("pg-boss", {})

    def ph(p, name):
        runs = p.get("runs") or [{}]
        x = runs[0].get("phases", {}).get(name)
        if not x:
            return "-"
        fc = x.get("cpu", {}).get("foreign_cores", 0)
        mark = f" (other load {fc})" if fc >= 0.25 else ""
        if "p50" in x:
            return f"{x['p50']} / {x['p99']} ms{mark}"
        return f"{x['jobs_per_s']:,} jobs/s{mark}"

    sc = r["scenarios"]

    def our(name, f):
        s = sc.get(name)
        if not s or "skipped" in s:
            return "-"
        fc = (s.get("resources") or {}).get("other_load_cores", 0) or 0
        mark = f" (other load {fc})" if fc >= 0.25 else ""
        return f(s) + mark

    print(f"| phase | Conveyor | graphile-worker {g.get('version', '?')} | pg-boss {b.get('version', '?')} |")
    print("|---|---|---|---|")
    print(f"| enqueue one job per call, 50 in flight | {our('submit', lambda s: format(s['req_per_s'], ',.0f') + ' jobs/s')} | "
          f"{ph(g, 'enqueue_single')} | {ph(b, 'enqueue_single')} |")
    print(f"| enqueue in batches of 1,000 | {our('batch', lambda s: format(s['jobs_per_s'], ',.0f') + ' jobs/s')} | "
          f"{ph(g, 'enqueue_bulk')} | {ph(b, 'enqueue_bulk')} |")
    print(f"| drain, concurrency 10 | {our('drain', lambda s: format(s['jobs_per_s'] or 0, ',') + ' jobs/s')} | "
          f"{ph(g, 'drain_c10')}; batched {ph(g, 'drain_c10_batched')} | {ph(b, 'drain_work_c10')}; "
          f"fetch loop {ph(b, 'drain_fetchloop_c10')} |")
    print(f"| drain, concurrency 50 | {our('drain-c50', lambda s: format(s['jobs_per_s'] or 0, ',') + ' jobs/s')} | "
          f"{ph(g, 'drain_c50')}; batched {ph(g, 'drain_c50_batched')} | {ph(b, 'drain_work_c50')}; "
          f"fetch loop {ph(b, 'drain_fetchloop_c50')} |")
    print(f"| pickup p50 / p99, concurrency 10 (add returned → handler start) | "
          f"{our('pickup', lambda s: lat(s.get('start_latency_ms'), ('p50', 'p99')) + ' ms')} | "
          f"{ph(g, 'latency_c10')} | {ph(b, 'latency_c10')} |")


if __name__ == "__main__":
    main()
