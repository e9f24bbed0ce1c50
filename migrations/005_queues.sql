-- Named queues and priorities (README "Queues and priorities"). Existing rows land in the
-- `default` queue at priority 0; adding columns with constant defaults rewrites no rows.
ALTER TABLE jobs
    ADD COLUMN queue text NOT NULL DEFAULT 'default'
        CONSTRAINT jobs_queue_name CHECK (queue ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    ADD COLUMN priority smallint NOT NULL DEFAULT 0
        CONSTRAINT jobs_priority_range CHECK (priority BETWEEN 0 AND 9);
ALTER TABLE job_events ADD COLUMN queue text NOT NULL DEFAULT 'default';

-- One row per queue that has ever had a job (added by the insert trigger below) or was
-- configured: pause and the global concurrency limit live here.
CREATE TABLE queues (
    name              text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    concurrency_limit integer     CHECK (concurrency_limit >= 0), -- NULL: no limit
    paused_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO queues (name) VALUES ('default');

-- The claim walks one queue at a time in (priority, scheduled_at, id) order. Still the only
-- index of pending rows, so finished rows cost the claim nothing.
DROP INDEX jobs_pending_scheduled_idx;
CREATE INDEX jobs_pending_idx ON jobs (queue, priority, scheduled_at, id) WHERE status = 'pending';
-- What runs now, per queue: global concurrency limits count through it, the reaper finds
-- expired leases with it. Small: at most the jobs running at this moment.
CREATE INDEX jobs_processing_idx ON jobs (queue) WHERE status = 'processing';

CREATE OR REPLACE FUNCTION conveyor_job_json(j jobs) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', j.id, 'job_type', j.job_type, 'queue', j.queue,
        'priority', j.priority, 'payload', j.payload,
        'status', j.status, 'attempts', j.attempts, 'max_attempts', j.max_attempts,
        'last_error', j.last_error, 'scheduled_at', conveyor_ts(j.scheduled_at),
        'processing_started_at', conveyor_ts(j.processing_started_at),
        'created_at', conveyor_ts(j.created_at), 'updated_at', conveyor_ts(j.updated_at))::text;

CREATE OR REPLACE FUNCTION conveyor_event_data(j jobs) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', j.id, 'job_type', j.job_type, 'queue', j.queue,
        'priority', j.priority, 'status', j.status,
        'attempts', j.attempts, 'max_attempts', j.max_attempts,
        -- NOTIFY-sized and SSE-friendly: errors are cut to 1,000 characters.
        'last_error', left(j.last_error, 1000),
        'scheduled_at', conveyor_ts(j.scheduled_at), 'updated_at', conveyor_ts(j.updated_at))::text;

-- Every writer's new queues get a row, so that claims and GET /queues see them.
CREATE OR REPLACE FUNCTION conveyor_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queues (name) SELECT DISTINCT n.queue FROM new_rows n ON CONFLICT DO NOTHING;
    INSERT INTO job_events (job_id, job_type, queue, status, data)
    SELECT n.id, n.job_type, n.queue, n.status, conveyor_event_data(n) FROM new_rows n;
    PERFORM pg_notify('conveyor_events', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION conveyor_jobs_updated() RETURNS trigger LANGUAGE plpgsql
    SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO job_events (job_id, job_type, queue, status, data)
    SELECT n.id, n.job_type, n.queue, n.status, conveyor_event_data(n)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status;
    IF FOUND THEN
        PERFORM conveyor_notify_events();
    END IF;
    RETURN NULL;
END $$;

-- Used by src/store/sql/claim_limited.sql for queues with a limit (the others are claimed by
-- the single statement of claim_jobs.sql).
-- Claims up to p_limit due pending jobs for p_worker, leased for p_lease_s seconds, from the
-- queues p_queues (NULL: every queue) with p_rooms[i] more jobs allowed locally in p_queues[i]
-- (NULL: only the overall limit), never from a paused queue, and never past a queue's global
-- concurrency_limit. Order: priority, scheduled_at, id across all of them.
--
-- Why the global limit is exact: a claim from a limited queue first locks the queue's row
-- (FOR UPDATE, in name order so that two claims never deadlock; the wait is at most another
-- process's claim statement, which commits at once), and only then, in a second statement,
-- counts what that queue has processing. A VOLATILE function takes a new snapshot per
-- statement, so the count sees every claim committed by the previous holder of the lock, and the
-- lock is held until this claim commits: two claims can never both count the same free unit.
-- Finishing jobs only lower the count, so it can be too high for a moment, never too low. (SKIP
-- LOCKED here would be exact too, but a claimer that skipped would then sleep until the next
-- poll although a unit was free.)
CREATE FUNCTION conveyor_claim(p_limit int, p_worker text, p_lease_s int, p_queues text[],
                               p_rooms int[])
    RETURNS TABLE (id text, job_type text, queue text, payload text, attempts int,
                   max_attempts int)
    LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    locked text[];
BEGIN
    SELECT coalesce(array_agg(l.name), '{}') INTO locked
    FROM (SELECT q.name FROM queues q
          WHERE q.concurrency_limit IS NOT NULL AND q.paused_at IS NULL
            AND (p_queues IS NULL OR q.name = ANY(p_queues))
          ORDER BY q.name
          FOR UPDATE) l;
    RETURN QUERY
    WITH wanted AS (
        SELECT q.name,
               least(p_limit, coalesce(w.room, p_limit),
                     -- CASE, not coalesce: the count must not even run for unlimited queues.
                     CASE WHEN q.concurrency_limit IS NULL THEN p_limit
                          ELSE q.concurrency_limit - (SELECT count(*)::int FROM jobs r
                                                      WHERE r.status = 'processing'
                                                        AND r.queue = q.name)
                     END) AS room
        FROM queues q
        LEFT JOIN unnest(p_queues, p_rooms) AS w(name, room) ON w.name = q.name
        WHERE q.paused_at IS NULL
          AND (p_queues IS NULL OR w.name IS NOT NULL)
          AND (q.concurrency_limit IS NULL OR q.name = ANY(locked))
    ), c AS (
        SELECT d.id, d.priority, d.scheduled_at
        FROM wanted w
        CROSS JOIN LATERAL (
            SELECT p.id, p.priority, p.scheduled_at
            FROM jobs p
            WHERE p.status = 'pending' AND p.queue = w.name AND p.scheduled_at <= now()
            ORDER BY p.priority, p.scheduled_at, p.id
            LIMIT greatest(w.room, 0)
            FOR UPDATE SKIP LOCKED
        ) d
        ORDER BY d.priority, d.scheduled_at, d.id
        LIMIT p_limit
    )
    UPDATE jobs j
    SET status = 'processing',
        attempts = j.attempts + 1,
        processing_started_at = now(),
        heartbeat_at = now(),
        lease_expires_at = now() + make_interval(secs => p_lease_s),
        locked_by = p_worker,
        updated_at = now()
    FROM c
    WHERE j.id = c.id
    RETURNING j.id::text, j.job_type, j.queue, j.payload::text, j.attempts, j.max_attempts;
END $$;
