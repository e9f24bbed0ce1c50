-- Maintenance (README "Maintenance"): one maintainer chosen by a lease, retention of finished
-- jobs, cron schedules.

-- The lease that picks the one process running the reaper, the cleaner and schedule ticks. One
-- row, changed only by conditional UPDATEs (src/store/sql/lease_*.sql): a process holds it while
-- `holder` is its id and `expires_at` is in the future; every acquisition starts a new `term`, and
-- a renewal must name both holder and term, so a process that lost the lease and missed it can
-- never extend its successor's. A row, not an advisory lock: it survives transaction-pooling
-- PgBouncers and is visible to operators.
CREATE TABLE maintainer_lease (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    holder      text,
    term        bigint      NOT NULL DEFAULT 0,
    acquired_at timestamptz,
    renewed_at  timestamptz,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO maintainer_lease DEFAULT VALUES;

-- When a job reached done, failed or cancelled (NULL while unfinished): retention counts from it.
-- Rows finished under an earlier version count from their last update.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS finished_at timestamptz;
UPDATE jobs SET finished_at = updated_at
WHERE status IN ('done', 'failed', 'cancelled') AND finished_at IS NULL;

-- The cleaner finds expired rows per status, oldest first, through this index. Partial on
-- finished_at: a claim (pending to processing) writes a row version that is not in it, so claims
-- pay nothing for it; only the one update that finishes a job adds an entry.
CREATE INDEX IF NOT EXISTS jobs_finished_idx ON jobs (status, finished_at)
    WHERE finished_at IS NOT NULL;

-- Autovacuum for a queue (values and reasons in README "Maintenance"): every job is inserted,
-- updated two or three times and deleted, so dead rows accumulate at the rate of the traffic,
-- not of the table size. The defaults (vacuum at 20 % dead rows, throttled at cost limit 200)
-- let a 10-million-row table carry 2 million dead rows before vacuum even starts.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_limit = 2000,
    autovacuum_vacuum_cost_delay = 1,
    fillfactor = 85
);
ALTER TABLE job_events SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0.1,
    autovacuum_vacuum_cost_limit = 2000,
    autovacuum_vacuum_cost_delay = 1
);

-- Cron schedules (README "Schedules"). `job` is the normalized job to enqueue (job_type, queue,
-- priority, payload, max_attempts). `next_run_at` is the next due slot (NULL while disabled); the
-- maintainer advances it under the row's lock in the transaction that inserts the slot's job, so
-- each slot produces exactly one job however many processes tick.
CREATE TABLE schedules (
    name        text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    cron        text        NOT NULL,
    timezone    text        NOT NULL DEFAULT 'UTC',
    job         jsonb       NOT NULL,
    enabled     boolean     NOT NULL DEFAULT true,
    next_run_at timestamptz,
    last_run_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled;

-- The API rendering of a schedule.
CREATE FUNCTION conveyor_schedule_json(s schedules) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('name', s.name, 'cron', s.cron, 'timezone', s.timezone,
        'job', s.job, 'enabled', s.enabled, 'next_run_at', conveyor_ts(s.next_run_at),
        'last_run_at', conveyor_ts(s.last_run_at))::text;
