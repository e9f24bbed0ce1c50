-- The event log behind GET /events: one row per status change of a job, written by triggers so
-- that every writer (any process, the reaper, a manual UPDATE) produces events. Ids come from one
-- sequence, so every Conveyor process shows the same id for the same event. Old rows are pruned
-- by the reaper; the newest ones stay for Last-Event-ID resume.
CREATE TABLE job_events (
    id         bigserial   PRIMARY KEY,
    job_id     uuid        NOT NULL,
    job_type   text        NOT NULL,
    status     text        NOT NULL,
    data       text        NOT NULL,  -- the SSE `data:` line: one line of JSON, no payload
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION conveyor_event_data(j jobs) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', j.id, 'job_type', j.job_type, 'status', j.status,
        'attempts', j.attempts, 'max_attempts', j.max_attempts,
        -- NOTIFY-sized and SSE-friendly: errors are cut to 1,000 characters.
        'last_error', left(j.last_error, 1000),
        'scheduled_at', conveyor_ts(j.scheduled_at), 'updated_at', conveyor_ts(j.updated_at))::text;

-- Statement-level triggers: one INSERT ... SELECT and one NOTIFY per statement, however many rows
-- a claim, a completion batch or a bulk insert touches.
CREATE FUNCTION conveyor_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_events (job_id, job_type, status, data)
    SELECT n.id, n.job_type, n.status, conveyor_event_data(n) FROM new_rows n;
    PERFORM pg_notify('conveyor_events', '');
    RETURN NULL;
END $$;

-- A session that commits very often (the claimer) sets conveyor.notify_interval_ms and then
-- sends at most one NOTIFY per interval. Readers read again shortly after every read that found
-- events, so a skipped NOTIFY delays an event by milliseconds; it never loses one.
CREATE FUNCTION conveyor_notify_events() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    every_ms int := nullif(current_setting('conveyor.notify_interval_ms', true), '')::int;
    next_at timestamptz := nullif(current_setting('conveyor.next_notify_at', true), '')::timestamptz;
BEGIN
    IF every_ms IS NULL OR next_at IS NULL OR clock_timestamp() >= next_at THEN
        PERFORM pg_notify('conveyor_events', '');
        IF every_ms IS NOT NULL THEN
            PERFORM set_config('conveyor.next_notify_at',
                               (clock_timestamp() + every_ms * interval '1 millisecond')::text, false);
        END IF;
    END IF;
END $$;

-- The old/new join is planned once per session and reused for every batch size: a nested loop
-- would make big batches quadratic, so the function always hashes.
CREATE FUNCTION conveyor_jobs_updated() RETURNS trigger LANGUAGE plpgsql
    SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO job_events (job_id, job_type, status, data)
    SELECT n.id, n.job_type, n.status, conveyor_event_data(n)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status;
    IF FOUND THEN
        PERFORM conveyor_notify_events();
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_inserted_event AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION conveyor_jobs_inserted();

CREATE TRIGGER jobs_updated_event AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION conveyor_jobs_updated();
