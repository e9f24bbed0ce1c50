// pg-boss harness. Phases (see bench/README.md, "Peers"):
//   enqueue_single        N_SINGLE x send(), <= ENQUEUE_IN_FLIGHT outstanding
//   enqueue_bulk          N via insert() in batches of BULK_BATCH, sequential
//   drain_work_cXX        stock workers: XX x work({batchSize: 1}) polling every POLL_S seconds.
//                         pg-boss v10 fetches batchSize jobs per polling interval per worker, so this
//                         is capped at XX/POLL_S jobs/s; it is measured on POLL_N jobs (default 1000).
//   drain_fetchloop_cXX   XX concurrent loops of fetch() -> no-op handler -> complete(), back to back:
//                         pg-boss's own claim/complete SQL without the polling sleep (N jobs).
//   latency_cXX           XX idle stock workers; LAT_JOBS x send() spaced LAT_SPACING_MS;
//                         handler start - send() return.
// Every phase checks that each job id reached the no-op handler exactly once.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import {
  N, N_SINGLE, CONCURRENCY, CONCURRENCY_HIGH, ENQUEUE_IN_FLIGHT, BULK_BATCH, LAT_JOBS, LAT_SPACING_MS, PG,
  sleep, rate, inFlight, waitFor, Ledger, latencyStats, pgFacts, hostFacts, Results, makePool,
  processDeadline, wantPhase, spacedAdds,
} from './lib.mjs';

processDeadline(parseInt(process.env.HARNESS_DEADLINE_MS || '840000', 10));
const version = createRequire(import.meta.url)('pg-boss/package.json').version;
const POLL_S = parseFloat(process.env.PGBOSS_POLL_S || '0.5'); // 0.5 s is the minimum pg-boss allows (default 2)
const POLL_N = parseInt(process.env.PGBOSS_POLL_N || '1000', 10);
// pg-boss claims one job per round trip (~270 jobs/s here): its drains use a smaller backlog.
const DRAIN_N = parseInt(process.env.PGBOSS_DRAIN_N || '2000', 10);

// idleTimeoutMillis: 0 as in lib.mjs makePool(): no connection churn during phases
const boss = new PgBoss({ ...PG, max: Math.max(ENQUEUE_IN_FLIGHT, CONCURRENCY_HIGH) + 10, idleTimeoutMillis: 0 });
boss.on('error', (e) => console.error('pg-boss error:', e.message));
await boss.start(); // creates/migrates schema "pgboss"; maintenance + scheduling left at defaults
const sql = makePool(2); // our own connection for checks

const res = new Results('pg-boss', {
  peer_version: version, host: hostFacts(), postgres: await pgFacts(sql),
  params: { N, N_SINGLE, DRAIN_N, CONCURRENCY, CONCURRENCY_HIGH, ENQUEUE_IN_FLIGHT, BULK_BATCH, LAT_JOBS, LAT_SPACING_MS, POLL_S, POLL_N },
});

// Each phase gets its own fresh queue (pg-boss v10 keeps one partition of pgboss.job per queue);
// names are unique per harness run in case the database was not reset in between.
const RUN_TAG = Date.now().toString(36);
let queueSeq = 0;
async function freshQueue(tag) {
  const name = `bench_${tag}_${RUN_TAG}_${++queueSeq}`;
  await boss.createQueue(name);
  return name;
}
const countState = async (queue, state) =>
  (await sql.query('select count(*)::int as n from pgboss.job where name = $1 and state = $2', [queue, state])).rows[0].n;

async function bulkInsert(queue, n) {
  const ids = [];
  for (let b = 0; b < n; b += BULK_BATCH) {
    const batch = [];
    for (let i = b; i < Math.min(n, b + BULK_BATCH); i++) {
      const id = randomUUID(); // insert() does not return ids, so we supply them
      ids.push(id);
      batch.push({ id, name: queue, data: { i } });
    }
    await boss.insert(batch);
  }
  return ids;
}

// (a) enqueue, one job per call, up to ENQUEUE_IN_FLIGHT calls outstanding
if (wantPhase('enqueue_single')) {
  const q = await freshQueue('enqueue_single');
  const ids = new Array(N_SINGLE);
  res.mark();
  await inFlight(N_SINGLE, ENQUEUE_IN_FLIGHT, async (i) => {
    ids[i] = await boss.send(q, { i });
  });
  const ms = res.lap();
  const inDb = await countState(q, 'created');
  res.phase('enqueue_single', { jobs: N_SINGLE, ms: Math.round(ms), jobs_per_s: rate(N_SINGLE, ms), in_db: inDb, ok: inDb === N_SINGLE && new Set(ids).size === N_SINGLE });
}

// (a') enqueue via the bulk API
if (wantPhase('enqueue_bulk')) {
  const q = await freshQueue('enqueue_bulk');
  res.mark();
  const ids = await bulkInsert(q, N);
  const ms = res.lap();
  const inDb = await countState(q, 'created');
  res.phase('enqueue_bulk', { jobs: N, batch: BULK_BATCH, ms: Math.round(ms), jobs_per_s: rate(N, ms), in_db: inDb, ok: inDb === N && new Set(ids).size === N });
}

// A fresh queue with n jobs in it and fresh statistics (see bench-graphile.mjs), untimed.
async function backlog(name, n) {
  const q = await freshQueue(name);
  const ids = await bulkInsert(q, n);
  await sql.query('analyze pgboss.job');
  return { q, ids };
}

// `concurrency` stock workers on q, one job per fetch, polling every POLL_S; each records its jobs.
async function startWorkers(q, concurrency, ledger) {
  for (let w = 0; w < concurrency; w++) {
    await boss.work(q, { batchSize: 1, pollingIntervalSeconds: POLL_S }, async (jobs) => {
      for (const job of jobs) ledger.hit(job.id);
    });
  }
}

// (b) drain with stock workers: `concurrency` x work(), one job per fetch
async function drainWork(name, concurrency, n) {
  if (!wantPhase(name)) return;
  const { q, ids } = await backlog(name, n);
  const ledger = new Ledger();
  res.mark();
  await startWorkers(q, concurrency, ledger);
  await waitFor(() => ledger.distinct >= n, `${name}: handlers`);
  await waitFor(async () => (await countState(q, 'completed')) === n, `${name}: completions`);
  const ms = res.lap();
  await sleep(200);
  await boss.offWork(q);
  res.phase(name, { jobs: n, concurrency, poll_s: POLL_S, ms: Math.round(ms), jobs_per_s: rate(n, ms), ...ledger.check(ids) });
}

// (b') drain with `concurrency` back-to-back fetch/complete loops (no polling sleep while work remains)
async function drainFetchLoop(name, concurrency, n) {
  if (!wantPhase(name)) return;
  const { q, ids } = await backlog(name, n);
  const ledger = new Ledger();
  res.mark();
  const lane = async () => {
    for (;;) {
      const jobs = await boss.fetch(q, { batchSize: 1 });
      if (jobs.length === 0) return; // nothing left to claim
      for (const job of jobs) {
        ledger.hit(job.id); // the no-op handler
        await boss.complete(q, job.id);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  await waitFor(async () => (await countState(q, 'completed')) === n, `${name}: completions`);
  const ms = res.lap();
  res.phase(name, { jobs: n, concurrency, ms: Math.round(ms), jobs_per_s: rate(n, ms), ...ledger.check(ids) });
}

await drainWork(`drain_work_c${CONCURRENCY}`, CONCURRENCY, POLL_N);
await drainWork(`drain_work_c${CONCURRENCY_HIGH}`, CONCURRENCY_HIGH, POLL_N);
await drainFetchLoop(`drain_fetchloop_c${CONCURRENCY}`, CONCURRENCY, DRAIN_N);
await drainFetchLoop(`drain_fetchloop_c${CONCURRENCY_HIGH}`, CONCURRENCY_HIGH, DRAIN_N);

// (c) pickup latency with idle, running stock workers
async function latency(name, concurrency) {
  if (!wantPhase(name)) return;
  const q = await freshQueue(name);
  const ledger = new Ledger();
  await startWorkers(q, concurrency, ledger);
  await sleep(1000); // workers are now idle, sleeping between polls
  const returned = await spacedAdds(res, LAT_JOBS, LAT_SPACING_MS, (i) => boss.send(q, { i }));
  await waitFor(() => ledger.distinct >= LAT_JOBS, `${name}: handlers`, 120000);
  res.lap();
  await sleep(200);
  await boss.offWork(q);
  const lat = [...returned].map(([id, t]) => ledger.firstStart.get(id) - t);
  res.phase(name, { concurrency, poll_s: POLL_S, spacing_ms: LAT_SPACING_MS, ...latencyStats(lat), ...ledger.check([...returned.keys()]) });
}
await latency(`latency_c${CONCURRENCY}`, CONCURRENCY);
await latency(`latency_c${CONCURRENCY_HIGH}`, CONCURRENCY_HIGH);

await boss.stop({ graceful: true, wait: true, timeout: 5000 });
await sql.end();
res.write();
