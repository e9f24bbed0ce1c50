// graphile-worker harness. Phases (see bench/README.md, "Peers"):
//   enqueue_single  N_SINGLE x addJob(), <= ENQUEUE_IN_FLIGHT outstanding
//   enqueue_bulk    N via addJobs() in batches of BULK_BATCH, sequential
//   drain_cXX       N queued first and ANALYZEd (untimed), then run() and time until all N are done
//   drain_cXX_batched  as drain_cXX with the opt-in localQueue + completeJobBatchDelay batching
//   latency_cXX     idle worker pool; LAT_JOBS x addJob() spaced LAT_SPACING_MS; handler start - addJob return
// Every phase checks that each job id reached the no-op handler exactly once.
import { createRequire } from 'node:module';
import { run, runMigrations, makeWorkerUtils, Logger } from 'graphile-worker';
import {
  N, N_SINGLE, CONCURRENCY, CONCURRENCY_HIGH, ENQUEUE_IN_FLIGHT, BULK_BATCH, LAT_JOBS, LAT_SPACING_MS,
  sleep, rate, inFlight, waitFor, Ledger, latencyStats, pgFacts, hostFacts, Results, makePool,
  processDeadline, wantPhase, spacedAdds,
} from './lib.mjs';

processDeadline(parseInt(process.env.HARNESS_DEADLINE_MS || '840000', 10));
const version = createRequire(import.meta.url)('graphile-worker/package.json').version;
const TASK = 'bench';
const SCHEMA = 'graphile_worker';

const silent = new Logger(() => (level, message) => {
  if (level === 'error') console.error('graphile-worker:', message);
});
const pool = makePool(Math.max(ENQUEUE_IN_FLIGHT, CONCURRENCY_HIGH) + 10);
await runMigrations({ pgPool: pool, logger: silent });
const utils = await makeWorkerUtils({ pgPool: pool, logger: silent });

const res = new Results('graphile-worker', {
  peer_version: version, host: hostFacts(), postgres: await pgFacts(pool),
  params: { N, N_SINGLE, CONCURRENCY, CONCURRENCY_HIGH, ENQUEUE_IN_FLIGHT, BULK_BATCH, LAT_JOBS, LAT_SPACING_MS },
});

// Empty the queue between phases (completed jobs are deleted by graphile-worker itself).
async function reset() {
  await pool.query(`truncate ${SCHEMA}._private_jobs, ${SCHEMA}._private_job_queues cascade`);
}
const queuedCount = async () =>
  (await pool.query(`select count(*)::int as n from ${SCHEMA}._private_jobs`)).rows[0].n;

async function bulkAdd(n) {
  const ids = [];
  for (let b = 0; b < n; b += BULK_BATCH) {
    const specs = [];
    for (let i = b; i < Math.min(n, b + BULK_BATCH); i++) specs.push({ identifier: TASK, payload: { i } });
    for (const job of await utils.addJobs(specs)) ids.push(job.id);
  }
  return ids;
}

// Start a worker pool whose only task is a no-op that records the job id.
function startWorker(concurrency, ledger, extraPreset = {}) {
  return run({
    pgPool: pool,
    logger: silent,
    concurrency,
    noHandleSignals: true,
    taskList: { [TASK]: async (_payload, helpers) => ledger.hit(helpers.job.id) },
    preset: { worker: extraPreset },
  });
}

// (a) enqueue, one job per call, up to ENQUEUE_IN_FLIGHT calls outstanding
if (wantPhase('enqueue_single')) {
  await reset();
  const ids = new Array(N_SINGLE);
  res.mark();
  await inFlight(N_SINGLE, ENQUEUE_IN_FLIGHT, async (i) => {
    ids[i] = (await utils.addJob(TASK, { i })).id;
  });
  const ms = res.lap();
  const inDb = await queuedCount();
  res.phase('enqueue_single', { jobs: N_SINGLE, ms: Math.round(ms), jobs_per_s: rate(N_SINGLE, ms), in_db: inDb, ok: inDb === N_SINGLE && new Set(ids).size === N_SINGLE });
}

// (a') enqueue via the bulk API
if (wantPhase('enqueue_bulk')) {
  await reset();
  res.mark();
  const ids = await bulkAdd(N);
  const ms = res.lap();
  const inDb = await queuedCount();
  res.phase('enqueue_bulk', { jobs: N, batch: BULK_BATCH, ms: Math.round(ms), jobs_per_s: rate(N, ms), in_db: inDb, ok: inDb === N && new Set(ids).size === N });
}

// (b) drain: N already queued, start worker, time until every job is completed (row deleted)
async function drain(name, concurrency, extraPreset) {
  if (!wantPhase(name)) return;
  await reset();
  const ids = await bulkAdd(N);
  // Fresh statistics for the loaded backlog, as autovacuum would have in steady state. Without
  // them (right after TRUNCATE) the planner picks seq scan + sort for every fetch.
  await pool.query(`analyze ${SCHEMA}._private_jobs`);
  const ledger = new Ledger();
  res.mark();
  const runner = await startWorker(concurrency, ledger, extraPreset);
  await waitFor(() => ledger.distinct >= N, `${name}: handlers`);
  await waitFor(async () => (await queuedCount()) === 0, `${name}: completions`);
  const ms = res.lap();
  await sleep(200); // let any duplicate execution show up before checking
  await runner.stop();
  const check = ledger.check(ids);
  res.phase(name, { jobs: N, concurrency, ms: Math.round(ms), jobs_per_s: rate(N, ms), ...check, left_in_db: await queuedCount() });
}
await drain(`drain_c${CONCURRENCY}`, CONCURRENCY, {});
await drain(`drain_c${CONCURRENCY_HIGH}`, CONCURRENCY_HIGH, {});
// Same, with graphile-worker 0.17's opt-in batching (local queue fetch + batched completion).
await drain(`drain_c${CONCURRENCY}_batched`, CONCURRENCY, { localQueue: { size: CONCURRENCY }, completeJobBatchDelay: 0 });
await drain(`drain_c${CONCURRENCY_HIGH}_batched`, CONCURRENCY_HIGH, { localQueue: { size: CONCURRENCY_HIGH }, completeJobBatchDelay: 0 });

// (c) pickup latency with an idle, running worker
async function latency(name, concurrency) {
  if (!wantPhase(name)) return;
  await reset();
  const ledger = new Ledger();
  const runner = await startWorker(concurrency, ledger);
  await sleep(1000); // let it settle into idle (LISTEN established, first empty fetch done)
  const returned = await spacedAdds(res, LAT_JOBS, LAT_SPACING_MS, async (i) => (await utils.addJob(TASK, { i })).id);
  await waitFor(() => ledger.distinct >= LAT_JOBS, `${name}: handlers`, 60000);
  res.lap();
  await sleep(200);
  await runner.stop();
  const lat = [...returned].map(([id, t]) => ledger.firstStart.get(id) - t);
  res.phase(name, { concurrency, spacing_ms: LAT_SPACING_MS, ...latencyStats(lat), ...ledger.check([...returned.keys()]) });
}
await latency(`latency_c${CONCURRENCY}`, CONCURRENCY);
await latency(`latency_c${CONCURRENCY_HIGH}`, CONCURRENCY_HIGH);

await utils.release();
await pool.end();
res.write();
