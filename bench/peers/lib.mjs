// Shared helpers for the peer job-queue harnesses (bench-graphile.mjs, bench-pgboss.mjs).
// Adapted from /work/shared/peers (see bench/README.md, "Peers"); run by bench/peers/run.sh.
// Everything here is deliberately small: timing, bounded concurrency, percentiles,
// an exactly-once ledger, and writing one JSON result file per run.
import { performance } from 'node:perf_hooks';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const int = (v, d) => (v === undefined || v === '' ? d : parseInt(v, 10));

// Workload parameters (override with env vars; run-peers.sh passes them through).
export const N = int(process.env.N, 50000);                 // jobs per drain and bulk phase
export const N_SINGLE = int(process.env.N_SINGLE, 10000);   // jobs of enqueue_single (one call each)
export const CONCURRENCY = int(process.env.CONCURRENCY, 10); // worker concurrency (our system's default)
export const CONCURRENCY_HIGH = int(process.env.CONCURRENCY_HIGH, 50);
export const ENQUEUE_IN_FLIGHT = int(process.env.ENQUEUE_IN_FLIGHT, 50);
export const BULK_BATCH = int(process.env.BULK_BATCH, 1000);
export const LAT_JOBS = int(process.env.LAT_JOBS, 200);
export const LAT_SPACING_MS = int(process.env.LAT_SPACING_MS, 20);
// PHASES=drain,latency_c10 runs only phases whose names start with one of the prefixes.
export const wantPhase = (name) =>
  !process.env.PHASES || process.env.PHASES.split(',').some((p) => name.startsWith(p.trim()));
export const PHASE_TIMEOUT_MS = int(process.env.PHASE_TIMEOUT_MS, 180000);

// Unix socket only (host is a directory); nothing leaves the machine. bench/peers/run.sh passes
// the socket directory and port of bench/run's cluster.
if (!(process.env.PGHOST || '/').startsWith('/')) throw new Error('PGHOST must be a unix socket directory');
export const PG = {
  host: process.env.PGHOST || '/tmp',
  port: int(process.env.PGPORT, 5432),
  user: process.env.PGUSER || 'postgres',
  database: process.env.PGDATABASE || 'peers',
};

export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const rate = (n, ms) => Math.round((n * 1000) / ms);

// Run fn(i) for i in [0, total) with at most `limit` calls outstanding.
export async function inFlight(total, limit, fn) {
  let next = 0;
  const lane = async () => {
    while (next < total) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, total) }, lane));
}

// Poll `pred` (sync or async) every `everyMs` until true; throw after timeoutMs.
export async function waitFor(pred, what, timeoutMs = PHASE_TIMEOUT_MS, everyMs = 5) {
  const deadline = now() + timeoutMs;
  while (!(await pred())) {
    if (now() > deadline) throw new Error(`timeout after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// The pickup-latency load of both harnesses: `count` calls of add(i) (which enqueues one job and
// returns its id) spaced `spacingMs` apart from res.mark(); returns id -> now() when add returned.
export async function spacedAdds(res, count, spacingMs, add) {
  const returned = new Map();
  const tBegin = res.mark();
  for (let i = 0; i < count; i++) {
    const wait = tBegin + i * spacingMs - now();
    if (wait > 0) await sleep(wait);
    const id = await add(i);
    returned.set(String(id), now());
  }
  return returned;
}

// Nearest-rank percentile of an ascending-sorted array.
export function pct(sorted, p) {
  if (!sorted.length) return NaN;
  const k = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[k - 1];
}

// Counts handler invocations per job id; verifies "every job ran exactly once".
export class Ledger {
  constructor() {
    this.counts = new Map();
    this.firstStart = new Map(); // job id -> now() when the handler first started
    this.calls = 0;
  }
  hit(id) {
    const t = now();
    id = String(id);
    this.calls++;
    this.counts.set(id, (this.counts.get(id) || 0) + 1);
    if (!this.firstStart.has(id)) this.firstStart.set(id, t);
  }
  get distinct() {
    return this.counts.size;
  }
  check(expectedIds) {
    const expected = new Set(expectedIds.map(String));
    let missing = 0, duplicates = 0, unexpected = 0;
    for (const id of expected) if (!this.counts.has(id)) missing++;
    for (const [id, c] of this.counts) {
      if (!expected.has(id)) unexpected++;
      if (c > 1) duplicates += c - 1;
    }
    const ok = expected.size === expectedIds.length && missing === 0 && duplicates === 0 && unexpected === 0;
    return { ok, expected: expectedIds.length, calls: this.calls, missing, duplicates, unexpected };
  }
}

export function latencyStats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const r = (x) => Math.round(x * 100) / 100;
  return {
    n: s.length,
    min: r(s[0]),
    p50: r(pct(s, 50)),
    p95: r(pct(s, 95)),
    p99: r(pct(s, 99)),
    max: r(s[s.length - 1]),
  };
}

// Postgres facts that matter for comparing runs.
export async function pgFacts(pool) {
  const v = await pool.query('select version() as v');
  const s = await pool.query(
    `select name, current_setting(name) as setting from pg_settings
      where name in ('synchronous_commit','fsync','full_page_writes','wal_sync_method','shared_buffers',
                     'max_connections','wal_level','work_mem','max_wal_size','checkpoint_timeout','autovacuum',
                     'listen_addresses','jit','commit_delay') order by name`);
  return {
    version: v.rows[0].v,
    settings: Object.fromEntries(s.rows.map((r) => [r.name, r.setting])),
  };
}

export function hostFacts() {
  return {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    mem_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadavg_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

// CPU accounting, so that a run disturbed by other work on this (shared, 2-core) machine shows up.
// machine_busy: all CPUs, from /proc/stat; ours: this node process + the Postgres cluster whose
// postmaster pid is PG_POSTMASTER_PID (run-peers.sh exports it); foreign = machine_busy - ours.
const TICK_S = 0.01; // CLK_TCK = 100 on Linux
const PM_PID = parseInt(process.env.PG_POSTMASTER_PID || '0', 10);
function machineBusyS() {
  // user nice system idle iowait irq softirq steal: count everything but idle, iowait, steal
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6]) * TICK_S;
}
function postgresCpuS() {
  if (!PM_PID) return 0;
  let ticks = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' '); // f[1]=ppid, f[11..14]=utime stime cutime cstime
      if (+d === PM_PID) ticks += +f[11] + +f[12] + +f[13] + +f[14];
      else if (+f[1] === PM_PID) ticks += +f[11] + +f[12];
    } catch { /* process went away */ }
  }
  return ticks * TICK_S;
}
function cpuSnapshot() {
  const u = process.cpuUsage();
  return { t: now(), machine: machineBusyS(), pg: postgresCpuS(), node: (u.user + u.system) / 1e6 };
}
function cpuDelta(a, b) {
  const r = (x) => Math.round(x * 100) / 100;
  const wall = (b.t - a.t) / 1000;
  const machine = b.machine - a.machine, pg = b.pg - a.pg, node = b.node - a.node;
  return {
    wall_s: r(wall), machine_busy_s: r(machine), postgres_s: r(pg), node_s: r(node),
    foreign_s: r(Math.max(0, machine - pg - node)),
    foreign_cores: wall > 0 ? r(Math.max(0, machine - pg - node) / wall) : 0,
  };
}

// Result accumulator: prints each phase as it finishes, writes JSON at the end.
// Call mark() where the timed region of a phase starts (it returns now()), then phase().
export class Results {
  constructor(peer, meta) {
    this.data = { peer, started_at: new Date().toISOString(), ...meta, phases: {} };
    this.snap = cpuSnapshot();
  }
  mark() {
    this.snap = cpuSnapshot();
    this.end = null;
    return this.snap.t;
  }
  // End of the timed region: returns ms since mark() and fixes the CPU window.
  lap() {
    this.end = cpuSnapshot();
    return this.end.t - this.snap.t;
  }
  phase(name, value) {
    value.cpu = cpuDelta(this.snap, this.end || cpuSnapshot());
    this.data.phases[name] = value;
    console.log(`[${this.data.peer}] ${name}: ${JSON.stringify(value)}`);
  }
  write() {
    this.data.loadavg_at_end = os.loadavg().map((x) => Math.round(x * 100) / 100);
    const out = process.env.RESULT_FILE || path.join('results', `${this.data.peer}-${Date.now()}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(this.data, null, 2) + '\n');
    console.log(`[${this.data.peer}] wrote ${out}`);
  }
}

// idleTimeoutMillis: 0 keeps connections open for the whole run, so no backend exits mid-phase
// (that would also blur the per-phase Postgres CPU accounting).
export function makePool(max) {
  const pool = new pg.Pool({ ...PG, max, idleTimeoutMillis: 0 });
  pool.on('error', (e) => console.error('pg pool error:', e.message));
  pool.on('connect', (client) => client.on('error', (e) => console.error('pg client error:', e.message)));
  return pool;
}

// Hard stop for the whole process, independent of the outer `timeout` in run-peers.sh.
export function processDeadline(ms) {
  const t = setTimeout(() => {
    console.error(`harness exceeded ${ms} ms; exiting`);
    process.exit(3);
  }, ms);
  t.unref();
}
