#!/usr/bin/python3
"""Turn the raw data of one bench/run (bench/results/tmp/<stamp>/) into latest.json and a table.

Called by bench/run; standard library only.
"""
import argparse
import glob
import json
import os
import sys

SCENARIO_DESC = {
    "submit": "POST /jobs (1 noop job per request), closed loop, enqueue only",
    "batch": "POST /jobs/batch (1000 noop jobs per request), closed loop, enqueue only",
    "drain": "backlog inserted by SQL, then 1 process: process start -> last job done",
    "drain-c50": "as drain with WORKER_CONCURRENCY=50",
    "drain-2proc": "as drain with 2 processes",
    "drain-4proc": "as drain with 4 processes",
    "big-table": ("the drain three times: empty table, then with N finished rows already in the table "
                  "(retention off, then on and deleting them): jobs/s against the empty table's"),
    "limit": ("pgbench on the same cluster: POST /jobs's durable single-row insert, a 1,000-row insert, and "
              "the claim-then-complete cycle at batch 10 and 50"),
    "queues": "4 queues x jobs/4, priorities 0-9, one queue with concurrency_limit 3, 2 processes",
    "pickup": "idle service, jobs submitted 20 ms apart: answered -> done",
    "steady": "open-loop submit at a fixed rate while workers run: answered -> done",
    "sse-fanout": "M subscribers on GET /events while noop jobs are submitted: event delivery latency",
    "soak": "2 processes, a fixed rate of noop jobs for minutes, RETENTION_DONE_S=60: table size and latency",
}


def load(path, default=None):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else default
    except (OSError, ValueError):
        return default


def meta(d):
    m = {}
    try:
        with open(os.path.join(d, "meta.tsv")) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                m[k] = v
    except OSError:
        pass
    return m


def mib(kib):
    return round(kib / 1024, 1) if kib is not None else None


def resources(d, m, loadgen_cpu=0.0):
    """Conveyor CPU/RSS, PostgreSQL CPU and foreign load over the measured window."""
    base = load(os.path.join(d, "idle.json")) or load(os.path.join(d, "before.json"))
    after = load(os.path.join(d, "after.json"))
    idle = load(os.path.join(d, "idle.json"))
    if not base or not after:
        return {}
    pids = after["pids"]
    cpu = sum(p["cpu_s"] for pid, p in pids.items()) - sum(
        p["cpu_s"] for pid, p in base["pids"].items() if pid in pids)
    pg = after["postgres_s"] - base["postgres_s"]
    machine = after["machine_busy_s"] - base["machine_busy_s"]
    wall = None
    if "t_start_us" in m and "t_end_us" in m:
        wall = (int(m["t_end_us"]) - int(m["t_start_us"])) / 1e6
    r = {
        "conveyor_processes": len(pids),
        "conveyor_cpu_s": round(cpu, 2),
        "conveyor_cpu_total_s": round(sum(p["cpu_s"] for p in pids.values()), 2),
        "conveyor_peak_rss_mib": [mib(p["hwm_kib"]) for p in pids.values()],
        "postgres_cpu_s": round(pg, 2),
        "loadgen_cpu_s": loadgen_cpu,
        "window_s": round(wall, 2) if wall else None,
    }
    if idle:
        r["conveyor_idle_rss_mib"] = [mib(p["rss_kib"]) for p in idle["pids"].values()]
    if wall:
        foreign = max(0.0, machine - cpu - pg - loadgen_cpu)
        r["other_load_cores"] = round(foreign / wall, 2)
    return r


def pcts(lat, keys=("p50", "p95", "p99", "max")):
    if not lat:
        return None
    out = {}
    for k in keys:
        v = lat.get(k + "_ms", lat.get(k))
        out[k] = v
    return out


def drain_figures(s, d, m):
    """The figures of one drain (drain*, queues, each big-table variant) into s; returns its check."""
    dr = load(os.path.join(d, "drain.json"), {})
    t0 = int(m["t_start_us"])
    jobs = int(m["jobs"])
    s["jobs"] = jobs
    s["processes"] = int(m["processes"])
    s["worker_concurrency"] = int(m["worker_concurrency"])
    if "preloaded_rows" in m:
        s["preloaded_rows"] = int(m["preloaded_rows"])
    if "env" in m:
        s["env"] = m["env"]
    if "setup_s" in m:
        s["setup_s"] = int(m["setup_s"])
    s["result"] = dr
    seen = int(m.get("t_all_done_observed_us", "0") or 0)
    if seen:
        total = (seen - t0) / 1e6
        s["seconds_start_to_all_done"] = round(total, 3)
        s["jobs_per_s"] = round(jobs / total) if total > 0 else None
    if dr.get("last_done_us"):
        s["ms_start_to_first_done"] = round((dr["first_done_us"] - t0) / 1e3, 1)
        s["seconds_start_to_last_done_tx_start"] = round((dr["last_done_us"] - t0) / 1e6, 3)
        span = (dr["last_done_us"] - dr["first_done_us"]) / 1e6
        s["jobs_per_s_first_to_last_done_tx"] = round((jobs - 1) / span) if span > 0 else None
    s["basis"] = ("jobs_per_s = jobs / (first 20 ms poll that saw no pending/processing job - process "
                  "start); *_done_tx figures use updated_at = start of the completion transaction")
    s["timeline_100ms"] = load(os.path.join(d, "timeline.json"), [])
    s["headline"] = f"{s.get('jobs_per_s') or 0:,} jobs/s"
    return dr.get("done") == jobs and m.get("completed", "0") == "0"


BIG_VARIANTS = (("empty", "empty table"), ("kept", "retention off"), ("retention", "retention on"))


def big_table(s, d, m):
    """big-table: three drains (empty, N rows kept, N rows deleted by retention meanwhile)."""
    rows = int(m.get("big_rows", 0) or 0)
    s["preloaded_rows"] = rows
    s["variants"] = {}
    ok = True
    for v, _ in BIG_VARIANTS:
        vd = os.path.join(d, v)
        if not os.path.isdir(vd):
            ok = False
            continue
        vm = meta(vd)
        x = {"limit_s": int(vm.get("limit_s", 0)) or None}
        try:
            with open(os.path.join(vd, "busy_before_pct")) as f:
                x["machine_busy_pct_before"] = int(f.read().strip() or 0)
        except (OSError, ValueError):
            pass
        x["resources"] = resources(vd, vm)
        x["ok"] = bool(drain_figures(x, vd, vm))
        if "history_left" in vm:
            left = int(vm["history_left"] or 0)
            x["history_left_at_end"] = left
            x["history_deleted_during_drain"] = rows - left
        if v == "retention":
            # retention must really have run during the drain
            x["ok"] = x["ok"] and x.get("history_deleted_during_drain", 0) > 0
        ok = ok and x["ok"]
        s["variants"][v] = x
    base = s["variants"].get("empty", {}).get("jobs_per_s")
    s["ratio_to_empty"] = {}
    for v in ("kept", "retention"):
        r = s["variants"].get(v, {}).get("jobs_per_s")
        s["ratio_to_empty"][v] = round(r / base, 2) if r and base else None
    s["wanted_ratio"] = ">= 0.9"
    s["basis"] = ("each variant: JOBS pending noop jobs queued by SQL, then 1 process at --concurrency; kept: "
                  "RETENTION_DONE_S=0; retention: RETENTION_DONE_S=86400 with every pre-loaded row finished "
                  "1.8-3 days ago, so the cleaner deletes them while the drain runs")
    rk, rr = s["ratio_to_empty"].get("kept"), s["ratio_to_empty"].get("retention")
    s["headline"] = (f"{rows:,} rows: {s['variants'].get('kept', {}).get('jobs_per_s') or 0:,} jobs/s ({rk}x empty), "
                     f"retention on {s['variants'].get('retention', {}).get('jobs_per_s') or 0:,} ({rr}x)")
    return ok


def limit_cycles(s, d, m):
    """limit's claim-then-complete cycles: for each batch size, jobs/s and PostgreSQL CPU per 1,000
    jobs at every client count; the best client count is the ceiling."""
    out, ok = {}, True
    clients = [int(c) for c in m.get("cycle_clients", "").split()]
    for b in (10, 50):
        runs = []
        for c in clients:
            k = f"cycle{b}c{c}"
            tps, tx, done = m.get(f"{k}_tps"), m.get(f"{k}_transactions"), m.get(f"{k}_done")
            if not (tps and tx and done):
                ok = False
                continue
            tps, tx, done = float(tps), int(tx), int(done)
            x = {"clients": c, "transactions": tx, "jobs_done": done, "expected": int(m.get(f"{k}_expected", 0)),
                 "attempts_gt_1": int(m.get(f"{k}_attempts_gt_1", 0) or 0),
                 "seconds": round(tx / tps, 3) if tps else None,
                 "jobs_per_s": round(done * tps / tx) if tx else None}
            a, z = load(os.path.join(d, f"{k}-before.json")), load(os.path.join(d, f"{k}-after.json"))
            if a and z and done:
                x["postgres_cpu_s"] = round(z["postgres_s"] - a["postgres_s"], 2)
                x["postgres_cpu_s_per_1000_jobs"] = round(1000 * x["postgres_cpu_s"] / done, 3)
            x["ok"] = done == x["expected"] and x["attempts_gt_1"] == 0
            ok = ok and x["ok"]
            runs.append(x)
        good = [x for x in runs if x["ok"] and x["jobs_per_s"]]
        best = max(good, key=lambda x: x["jobs_per_s"]) if good else {}
        out[f"batch{b}"] = {"batch": b, "jobs_per_s": best.get("jobs_per_s"), "clients": best.get("clients"),
                            "postgres_cpu_s_per_1000_jobs": best.get("postgres_cpu_s_per_1000_jobs"),
                            "by_clients": runs}
    return out, ok


def scenario(name, d, args):
    m = meta(d)
    s = {"description": SCENARIO_DESC.get(name, name), "limit_s": int(m.get("limit_s", 0)) or None}
    if "busy_before_pct" in os.listdir(d):
        with open(os.path.join(d, "busy_before_pct")) as f:
            s["machine_busy_pct_before"] = int(f.read().strip() or 0)
    if "skipped" in m:
        s["skipped"] = m["skipped"]
        return s
    lg = load(os.path.join(d, "loadgen.json"))
    if "loadgen_rc" in m:
        s["loadgen_exit"] = int(m["loadgen_rc"])
    s["resources"] = resources(d, m, (lg or {}).get("loadgen_cpu_s", 0.0))
    ok = True
    if name in ("submit", "batch"):
        chk = load(os.path.join(d, "check.json"), {})
        s["connections"] = lg["params"]["connections"]
        s["duration_s"] = lg["params"]["duration_s"]
        s["warmup_s"] = lg["params"]["warmup_s"]
        s["req_per_s"] = lg["req_per_s"]
        s["jobs_per_s"] = lg["jobs_per_s"]
        s["latency_ms"] = pcts(lg["latency"], ("min", "p50", "p90", "p95", "p99", "p999", "max"))
        s["latency_histogram_le_ms"] = lg["latency"].get("histogram_le_ms")
        s["status_counts"] = lg["status_counts"]
        s["conn_errors"] = lg["conn_errors"]
        s["timeline"] = lg["timeline"]
        s["count_check"] = chk
        ok = (lg["non_201"] == 0 and lg["conn_errors"] == 0 and lg["unanswered_at_end"] == 0 and chk
              and chk["answered_ids"] == chk["distinct_ids"] == chk["found_in_table"] == chk["table_rows"])
        s["headline"] = (f"{lg['req_per_s']:,.0f} req/s" if name == "submit"
                         else f"{lg['jobs_per_s']:,.0f} jobs/s ({lg['req_per_s']:,.0f} req/s)")
    elif name.startswith("drain") or name == "queues":
        ok = drain_figures(s, d, m)
        if name == "queues":
            peak = int(m.get("limited_max_processing", "-1") or -1)
            s["limited_queue"] = {"concurrency_limit": int(m["concurrency_limit"]),
                                  "max_processing_sampled": peak,
                                  "samples": int(m.get("limited_samples", "0") or 0)}
            ok = ok and 0 <= peak <= int(m["concurrency_limit"])
            s["headline"] += f", limited queue peak {peak}/3"
    elif name == "big-table":
        ok = big_table(s, d, m)
    elif name == "sse-fanout":
        sse = load(os.path.join(d, "sse.json"), {})
        dl = load(os.path.join(d, "done_latency.json"), {})
        s["subscribers"] = int(m.get("subscribers", 0))
        s["submit_rate_per_s"] = int(m.get("rate", 0))
        s["duration_s"] = int(m.get("duration_s", 0))
        s["submitted"] = lg["ids"] if lg else None
        s["sse"] = sse
        s["delivery_latency_ms"] = pcts(sse.get("delivery_latency"), ("min", "p50", "p95", "p99", "max"))
        sub = load(os.path.join(d, "subscribed.json"))
        if sub:
            s["conveyor_rss_mib_with_subscribers_idle"] = [mib(p["rss_kib"]) for p in sub["pids"].values()]
        if sse and s.get("resources"):
            s["resources"]["loadgen_cpu_s"] = round(s["resources"].get("loadgen_cpu_s", 0) + sse.get("loadgen_cpu_s", 0), 2)
        expect = 3 * (lg["ids"] if lg else -1)
        ok = bool(lg and sse) and sse.get("connected") == s["subscribers"] and \
            sse["events_per_subscriber"]["min"] == sse["events_per_subscriber"]["max"] == expect and \
            sse.get("closed_by_server") == 0 and sse.get("out_of_order_or_duplicate") == 0 and \
            dl.get("n_done") == lg["ids"] and lg["non_201"] == 0
        dlat = s["delivery_latency_ms"] or {}
        s["headline"] = (f"{s['subscribers']} subs x {3 * s['submit_rate_per_s']} events/s: "
                         f"delivered p50/p99 {dlat.get('p50')}/{dlat.get('p99')} ms")
    elif name == "limit":
        s["clients"] = int(m.get("clients", 0))
        t1, t1t, t1000 = m.get("insert1_tps"), m.get("insert1_trigger_tps"), m.get("insert1000_tps")
        s["insert1_rows_per_s"] = round(float(t1)) if t1 else None
        s["insert1_trigger_rows_per_s"] = round(float(t1t)) if t1t else None
        s["insert1000_rows_per_s"] = round(float(t1000) * 1000) if t1000 else None
        s["claim_complete_cycle"], cyc_ok = limit_cycles(s, d, m)
        ok = bool(t1 and t1t and t1000) and "pgbench_rc" not in m and cyc_ok
        cyc = s["claim_complete_cycle"]
        s["headline"] = (f"pgbench 1 row + event: {s['insert1_rows_per_s'] or 0:,}/s ({s['clients']} clients; "
                         f"through the trigger {s['insert1_trigger_rows_per_s'] or 0:,}/s); "
                         f"1,000 rows: {s['insert1000_rows_per_s'] or 0:,} rows/s; claim+complete "
                         f"batch 10 / 50: {cyc.get('batch10', {}).get('jobs_per_s') or 0:,} / "
                         f"{cyc.get('batch50', {}).get('jobs_per_s') or 0:,} jobs/s")
    elif name == "soak":
        rows = []
        try:
            with open(os.path.join(d, "soak.txt")) as f:
                for line in f:
                    p = line.split()
                    if len(p) >= 9:
                        num = [None if v == "-" else float(v) for v in p[:9]]
                        num.append([int(v) for v in p[9:]])  # RSS KiB per process
                        rows.append(num)
        except OSError:
            pass
        # [second, total bytes, heap bytes, live rows, dead rows, pending, p50 ms, p99 ms, finished,
        #  [RSS KiB of each process]]
        s["rate"] = int(m.get("rate", 0))
        s["duration_s"] = int(m.get("duration_s", 0))
        s["retention_done_s"] = int(m.get("retention_done_s", 0))
        s["samples_every_10s"] = [{"s": int(r[0]), "jobs_total_mib": round(r[1] / 2**20, 1),
                                   "jobs_heap_mib": round(r[2] / 2**20, 1), "live_rows": int(r[3]),
                                   "dead_rows": int(r[4]), "pending": int(r[5]), "p50_ms": r[6],
                                   "p99_ms": r[7], "finished_in_window": int(r[8]),
                                   "conveyor_rss_mib": [round(k / 1024, 1) for k in r[9]]} for r in rows]
        third = max(1, len(rows) // 3)
        mid = [r[1] for r in rows[third:2 * third]] or [0]
        last = [r[1] for r in rows[2 * third:]] or [0]
        p99 = [r[7] for r in rows if r[7] is not None]
        s["size_mib_max_middle_third"] = round(max(mid) / 2**20, 1)
        s["size_mib_max_last_third"] = round(max(last) / 2**20, 1)
        s["p99_ms_first_minute"] = max(p99[:6]) if p99 else None
        s["p99_ms_last_minute"] = max(p99[-6:]) if p99 else None
        s["cleaner_log_lines"] = int(m.get("cleaner_log_lines", 0) or 0)
        if lg:
            s["submitted"] = lg["ids"]
            s["submit_rate_achieved_per_s"] = lg["req_per_s"]
            s["status_counts"] = lg["status_counts"]
            s["idle_connections_closed_by_server"] = lg.get("idle_closed_by_server")
        rss = [r[9] for r in rows if r[9]]
        if rss:
            s["conveyor_rss_mib_first_last_max"] = [
                [round(rss[0][i] / 1024, 1), round(rss[-1][i] / 1024, 1),
                 round(max(x[i] for x in rss if len(x) > i) / 1024, 1)] for i in range(len(rss[0]))]
        levels_off = max(last) <= 1.25 * max(mid) if rows else False
        s["levels_off"] = levels_off
        ok = bool(lg) and lg["non_201"] == 0 and levels_off and m.get("completed", "0") == "0"
        s["headline"] = (f"jobs table {s['size_mib_max_middle_third']} -> {s['size_mib_max_last_third']} MiB "
                         f"(middle/last third max), p99 {s['p99_ms_first_minute']} -> {s['p99_ms_last_minute']} ms")
    elif name in ("pickup", "steady"):
        dl = load(os.path.join(d, "done_latency.json"), {})
        s["http_latency_ms"] = pcts(lg["latency"]) if lg else None
        if lg:
            s["submitted"] = lg["ids"]
            s["submit_rate_achieved_per_s"] = lg["req_per_s"]
            s["status_counts"] = lg["status_counts"]
            s["loadgen_max_backlog"] = lg.get("max_backlog")
        s["answered_to_done_ms"] = dl.get("answered_to_done_ms")
        s["created_to_done_ms"] = dl.get("created_to_done_ms")
        s["attempts_gt_1"] = dl.get("attempts_gt_1")
        s["timeline_by_answer_second"] = dl.get("timeline")
        s["done"] = dl.get("n_done")
        ok = bool(lg) and dl.get("n_done") == dl.get("n_ids") == lg["ids"] and lg["non_201"] == 0 \
            and m.get("completed", "0") == "0"
        if name == "pickup":
            wh = load(os.path.join(d, "loadgen-webhook.json"))
            if wh:
                sl = wh.get("start_latency", {})
                s["start_latency_ms"] = pcts(sl, ("min", "p50", "p95", "p99", "max"))
                s["start_latency_check"] = {"answered": wh["ids"], "webhook_calls": sl.get("n"),
                                            "missing": sl.get("no_webhook_call"),
                                            "duplicates": sl.get("duplicate_calls")}
                s["start_latency_basis"] = ("separate 200 webhook jobs, 20 ms apart: 201 answer received -> "
                                            "the job's webhook request arrives at loadgen's HTTP sink")
                ok = ok and sl.get("n") == wh["ids"] == args.pickup_jobs and wh["non_201"] == 0
            s["jobs"] = args.pickup_jobs
            s["gap_ms"] = args.pickup_gap_ms
            s["note"] = ("answered_to_done: noop jobs; answered = client clock when the 201 arrived, done = "
                         "now() of the completion transaction (may be negative: done before the answer arrived). "
                         "start_latency: webhook jobs, see start_latency_basis.")
        else:
            s["rate"] = int(m.get("rate", 0))
            s["duration_s"] = int(m.get("duration_s", 0))
            bl = []
            try:
                with open(os.path.join(d, "backlog.txt")) as f:
                    for line in f:
                        p = line.split()
                        if len(p) == 3:
                            bl.append([int(p[0]), int(p[1]), int(p[2])])
            except OSError:
                pass
            s["backlog_per_second"] = bl  # [second, pending, processing]
            s["backlog_max"] = max((b[1] + b[2] for b in bl), default=None)
        a = s["answered_to_done_ms"] or {}
        sl = s.get("start_latency_ms") or {}
        s["headline"] = (f"->done p50 {a.get('p50')} ms" + (f", ->start p50/p99 {sl.get('p50')}/{sl.get('p99')} ms"
                                                              if sl else "") if name == "pickup"
                         else f"{s.get('submit_rate_achieved_per_s', 0):,.0f}/s in, done p50 {a.get('p50')} ms")
    s["ok"] = bool(ok)
    return s


def fmt_lat(l):
    if not l:
        return "-"
    return "/".join(f"{l.get(k)}" for k in ("p50", "p95", "p99", "max"))


def peers_section(work):
    out = {}
    for f in sorted(glob.glob(os.path.join(work, "peers", "*.json"))):
        r = load(f)
        if not r or "phases" not in r:
            continue
        out.setdefault(r["peer"], {"version": r.get("peer_version"), "runs": []})["runs"].append(
            {"file": os.path.basename(f), "phases": r["phases"], "postgres": r.get("postgres", {}).get("version")})
    return out


def targets(res):
    """Issue 15's targets: Conveyor's figure, the peer's (or reference), the ratio, met or not."""
    sc, peers = res["scenarios"], res.get("peers", {})

    def phase(peer, name):
        runs = peers.get(peer, {}).get("runs", [])
        return runs[-1]["phases"].get(name) if runs else None

    def rate(name):
        s = sc.get(name) or {}
        return s.get("jobs_per_s") if s.get("ok") else None

    def pg_per_1000(name):
        s = sc.get(name) or {}
        r = s.get("resources", {})
        return round(1000 * r["postgres_cpu_s"] / s["jobs"], 3) if s.get("ok") and s.get("jobs") else None

    def peer_rate(peer, name):
        p = phase(peer, name)
        return p.get("jobs_per_s") if p and p.get("ok") else None

    def peer_pg_per_1000(peer, name):
        p = phase(peer, name)
        return round(1000 * p["cpu"]["postgres_s"] / p["jobs"], 3) if p and p.get("ok") else None

    rows = []

    def add(target, conv, peer_label, peer, want, higher_is_better=True):
        ratio = round(conv / peer, 2) if conv is not None and peer else None
        met = None if ratio is None else (ratio >= want if higher_is_better else ratio <= want)
        rows.append({"target": target, "conveyor": conv, "reference": peer_label, "reference_value": peer,
                     "ratio": ratio, "wanted": (">= " if higher_is_better else "<= ") + str(want), "met": met})

    gw = "graphile-worker"
    add("drain c10, jobs/s", rate("drain"), "graphile-worker batched c10", peer_rate(gw, "drain_c10_batched"), 1.5)
    add("drain c50, jobs/s", rate("drain-c50"), "graphile-worker batched c50", peer_rate(gw, "drain_c50_batched"), 1.5)
    add("drain 2 processes x c10, jobs/s", rate("drain-2proc"), "Conveyor 1 process c10", rate("drain"), 1.0)
    add("drain 4 processes x c10, jobs/s", rate("drain-4proc"), "Conveyor 1 process c10", rate("drain"), 1.0)
    add("PostgreSQL CPU s per 1,000 jobs, drain c10", pg_per_1000("drain"), "graphile-worker batched c10",
        peer_pg_per_1000(gw, "drain_c10_batched"), 1.0, False)
    add("PostgreSQL CPU s per 1,000 jobs, drain c50", pg_per_1000("drain-c50"), "graphile-worker batched c50",
        peer_pg_per_1000(gw, "drain_c50_batched"), 1.0, False)
    bulk = [(peer_rate(p, "enqueue_bulk"), p) for p in peers]
    bulk = [b for b in bulk if b[0]]
    best = max(bulk) if bulk else (None, "best peer bulk insert")
    b = sc.get("batch") or {}
    add("POST /jobs/batch (1,000 per request), jobs/s", b.get("jobs_per_s") if b.get("ok") else None,
        f"{best[1]} bulk insert (best peer)", best[0], 1.2)
    sub, lim = sc.get("submit") or {}, sc.get("limit") or {}
    add("POST /jobs at 50 connections, req/s", sub.get("req_per_s") if sub.get("ok") else None,
        f"pgbench single-row insert + event, {lim.get('clients')} clients",
        lim.get("insert1_rows_per_s") if lim.get("ok") else None, 1.0)
    add("POST /jobs/batch against pgbench 1,000-row insert (4 clients)", b.get("jobs_per_s") if b.get("ok") else None,
        "pgbench 1,000-row insert", lim.get("insert1000_rows_per_s") if lim.get("ok") else None, 0.0)
    rows[-1]["wanted"] = "(the SQL ceiling, for reference)"
    rows[-1]["met"] = None
    # big-table: the drain with a large table of finished rows, against the empty table's (same scenario)
    bt = sc.get("big-table") or {}
    btv = bt.get("variants") or {}
    empty = (btv.get("empty") or {})
    base = empty.get("jobs_per_s") if empty.get("ok") else None
    for v, label in (("kept", "retention off"), ("retention", "retention on, deleting them")):
        x = btv.get(v) or {}
        add(f"big-table drain c{x.get('worker_concurrency', '')}, {bt.get('preloaded_rows', 0):,} finished rows, "
            f"{label}, jobs/s", x.get("jobs_per_s") if x.get("ok") else None,
            "Conveyor empty-table drain (same scenario)", base, 0.9)
    # the SQL ceiling of a drain: pgbench's claim-then-complete cycle at the same batch
    cyc = lim.get("claim_complete_cycle") or {} if lim.get("ok") else {}
    for name, b in (("drain", 10), ("drain-c50", 50)):
        c = cyc.get(f"batch{b}") or {}
        add(f"drain c{b} against the SQL ceiling, jobs/s", rate(name),
            f"pgbench claim {b} + complete, {c.get('clients')} clients", c.get("jobs_per_s"), 0.0)
        rows[-1]["wanted"] = "(fraction of the SQL ceiling)"
        rows[-1]["met"] = None
    sse = sc.get("sse-fanout") or {}
    dl = sse.get("delivery_latency_ms") or {}
    rows.append({"target": f"SSE fan-out {sse.get('subscribers')} subscribers x {sse.get('submitted')} jobs, "
                 "every event, p99 ms", "conveyor": dl.get("p99"), "reference": "50 ms", "reference_value": 50,
                 "ratio": None, "wanted": "< 50 ms, every event delivered",
                 "met": None if dl.get("p99") is None else bool(sse.get("ok")) and dl["p99"] < 50})
    pk = sc.get("pickup") or {}
    sl = pk.get("start_latency_ms") or {}
    gl = phase(gw, "latency_c10") or {}
    for k, lim_ms in (("p50", 1), ("p99", 3)):
        rows.append({"target": f"pickup {k} ms (201 -> handler starts)", "conveyor": sl.get(k),
                     "reference": "graphile-worker latency_c10", "reference_value": gl.get(k),
                     "ratio": None, "wanted": f"<= {lim_ms} ms",
                     "met": None if sl.get(k) is None else sl[k] <= lim_ms and bool(pk.get("ok"))})
    idle = (sc.get("submit") or {}).get("resources", {}).get("conveyor_idle_rss_mib")
    rows.append({"target": "idle RSS MiB", "conveyor": max(idle) if idle else None, "reference": "30 MB",
                 "reference_value": 28.6, "ratio": None, "wanted": "< 30 MB (28.6 MiB)",
                 "met": None if not idle else max(idle) < 28.6})
    each = [s for s in sc.values() if isinstance(s, dict)]
    each += [v for s in each for v in (s.get("variants") or {}).values()]  # big-table's drains
    loads = [s.get("resources", {}).get("other_load_cores") for s in each]
    loads = [x for x in loads if x is not None]
    return {"rows": rows, "other_load_cores_max": max(loads) if loads else None}


def print_targets(t):
    fmt = lambda v: "-" if v is None else (f"{v:,.0f}" if isinstance(v, (int, float)) and v >= 1000 else str(v))
    rows = [("target", "Conveyor", "against", "value", "ratio", "wanted", "met")]
    for r in t["rows"]:
        if r["conveyor"] is None:
            continue  # Conveyor's side did not run in this run
        rows.append((r["target"], fmt(r["conveyor"]), r["reference"], fmt(r["reference_value"]), fmt(r["ratio"]),
                     r["wanted"], "-" if r["met"] is None else ("yes" if r["met"] else "NO")))
    if len(rows) == 1:
        return
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print()
    print("Issue 15 targets (one run, one cluster; rows whose scenarios did not run are left out):")
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            print("  ".join("-" * x for x in w))
    print(f"other_load_cores (largest of any Conveyor scenario): {t['other_load_cores_max']}")
    print("ceiling: pgbench's claim-then-complete cycle at the drain's batch, the best of its client counts")


def main():
    ap = argparse.ArgumentParser()
    for a in ("work", "out", "scenarios", "git-sha", "git-dirty", "far-future"):
        ap.add_argument("--" + a, required=True)
    for a in ("quick", "jobs", "concurrency", "duration", "batch-duration", "steady-duration", "connections",
              "rate", "pickup-jobs", "sse-subscribers", "sse-rate", "pickup-gap-ms", "suite-s"):
        ap.add_argument("--" + a, type=int, required=True)
    args = ap.parse_args()
    work = args.work

    pg = load(os.path.join(work, "postgres.json"), {})
    res = {
        "generated_at": os.path.basename(work.rstrip("/")),
        "suite_seconds": args.suite_s,
        "machine": load(os.path.join(work, "machine.json"), {}),
        "versions": {"conveyor_git_sha": args.git_sha, "conveyor_worktree_dirty": args.git_dirty == "true",
                     "postgresql": pg.get("version"), "postgresql_server_version": pg.get("server_version")},
        "postgres_settings": pg.get("settings"),
        "parameters": {"quick": bool(args.quick), "drain_jobs": args.jobs, "worker_concurrency": args.concurrency,
                       "submit_duration_s": args.duration, "submit_connections": args.connections,
                       "batch_duration_s": args.batch_duration, "batch_connections": 4, "batch_size": 1000,
                       "steady_rate_per_s": args.rate, "steady_duration_s": args.steady_duration,
                       "steady_connections": 32, "pickup_jobs": args.pickup_jobs,
                       "pickup_gap_ms": args.pickup_gap_ms,
                       "submit_and_batch_run_at": args.far_future,
                       "sse_subscribers": args.sse_subscribers, "sse_submit_rate_per_s": args.sse_rate},
        "scenarios": {},
    }
    for name in args.scenarios.split(","):
        d = os.path.join(work, name)
        if os.path.isdir(d):
            try:
                res["scenarios"][name] = scenario(name, d, args)
            except Exception as e:  # keep the other scenarios' figures
                res["scenarios"][name] = {"error": f"{type(e).__name__}: {e}", "ok": False}
    peers = peers_section(work)
    if peers:
        res["peers"] = peers
    res["targets"] = targets(res)

    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")

    # ---- table
    mc = res["machine"]
    print()
    print(f"Conveyor {args.git_sha[:10]}{' (dirty)' if args.git_dirty == 'true' else ''} | "
          f"{pg.get('server_version')} | {mc.get('nproc')} CPUs {mc.get('cpu_model')} | {mc.get('mem_gib')} GiB | "
          f"{mc.get('kernel')}")
    st = res["postgres_settings"] or {}
    print(f"PostgreSQL: synchronous_commit={st.get('synchronous_commit')} fsync={st.get('fsync')} "
          f"shared_buffers={st.get('shared_buffers')} (8kB pages)")
    rows = [("scenario", "result", "latency ms p50/p95/p99/max", "conv CPU s", "PG CPU s",
             "RSS MiB idle/peak", "other load", "check")]
    for name, s in res["scenarios"].items():
        if "skipped" in s:
            rows.append((name, "skipped: " + s["skipped"], "", "", "", "", "", ""))
            continue
        if "error" in s:
            rows.append((name, "error: " + s["error"], "", "", "", "", "", "FAIL"))
            continue
        if name == "big-table":
            ratios = s.get("ratio_to_empty") or {}
            for v, label in BIG_VARIANTS:
                x = (s.get("variants") or {}).get(v)
                if not x:
                    continue
                r = x.get("resources", {})
                extra = ""
                if v != "empty":
                    extra = f" ({ratios.get(v)}x empty)"
                if "history_deleted_during_drain" in x and v == "retention":
                    extra += f", {x['history_deleted_during_drain']:,} old rows deleted meanwhile"
                rows.append((f"big-table {v}", f"{label}, {x.get('preloaded_rows', 0):,} rows: "
                             f"{x.get('jobs_per_s') or 0:,} jobs/s{extra}", "-", str(r.get("conveyor_cpu_s", "-")),
                             str(r.get("postgres_cpu_s", "-")),
                             f"-/{'+'.join(map(str, r.get('conveyor_peak_rss_mib') or [])) or '-'}",
                             f"{r.get('other_load_cores', '-')} cores", "ok" if x.get("ok") else "FAIL"))
            continue
        r = s.get("resources", {})
        if name in ("submit", "batch"):
            lat = s.get("latency_ms")
        elif name in ("pickup", "steady"):
            lat = s.get("answered_to_done_ms")
        elif name == "sse-fanout":
            lat = s.get("delivery_latency_ms")
        else:
            lat = None
        idle = r.get("conveyor_idle_rss_mib")
        peak = r.get("conveyor_peak_rss_mib")
        rss = f"{'+'.join(map(str, idle)) if idle else '-'}/{'+'.join(map(str, peak)) if peak else '-'}"
        rows.append((name, s.get("headline", ""), fmt_lat(lat), str(r.get("conveyor_cpu_s", "-")),
                     str(r.get("postgres_cpu_s", "-")), rss,
                     f"{r.get('other_load_cores', '-')} cores", "ok" if s.get("ok") else "FAIL"))
    for peer, p in peers.items():
        for run in p["runs"]:
            for ph, v in run["phases"].items():
                if "p50" in v:
                    fig, lat = "", f"{v['p50']}/{v['p95']}/{v['p99']}/{v['max']}"
                else:
                    fig, lat = f"{v.get('jobs_per_s', 0):,} jobs/s", ""
                rows.append((f"{peer} {p['version']} {ph}", fig, lat, "", str(v.get("cpu", {}).get("postgres_s", "")),
                             "", f"{v.get('cpu', {}).get('foreign_cores', '-')} cores", "ok" if v.get("ok") else "FAIL"))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            print("  ".join("-" * x for x in w))
    print("latency: submit/batch = HTTP request latency; pickup/steady = answered -> done; "
          "sse-fanout = event delivery (see bench/README.md)")
    print_targets(res["targets"])
    print(f"wrote {args.out}")
    bad = [n for n, s in res["scenarios"].items() if not s.get("ok") and "skipped" not in s]
    if bad:
        print("CHECK FAILED: " + ", ".join(bad), file=sys.stderr)


if __name__ == "__main__":
    main()
