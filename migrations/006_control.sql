-- Controlling jobs (README "Controlling jobs"): cancellation, manual retry and delete, unique keys.
ALTER TABLE jobs
    DROP CONSTRAINT jobs_status_check,
    ADD CONSTRAINT jobs_status_check
        CHECK (status IN ('pending', 'processing', 'done', 'failed', 'cancelled')),
    -- A manual retry raises max_attempts past what a submission may ask for (1..100).
    DROP CONSTRAINT jobs_max_attempts_check,
    ADD CONSTRAINT jobs_max_attempts_check CHECK (max_attempts >= 1),
    ADD COLUMN unique_key text
        CONSTRAINT jobs_unique_key_length CHECK (length(unique_key) BETWEEN 1 AND 255),
    ADD COLUMN finished_at timestamptz,
    ADD COLUMN cancel_requested_at timestamptz;

-- At most one unfinished job per (queue, unique_key), across every process. Rows without a key
-- have no entry, so the index costs nothing to jobs that do not use it.
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (queue, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending', 'processing');

-- `deleted` events carry the job's last state; every other event is a `job` event.
ALTER TABLE job_events ADD COLUMN kind text NOT NULL DEFAULT 'job';

CREATE OR REPLACE FUNCTION conveyor_job_json(j jobs) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', j.id, 'job_type', j.job_type, 'queue', j.queue,
        'priority', j.priority, 'unique_key', j.unique_key, 'payload', j.payload,
        'status', j.status, 'attempts', j.attempts, 'max_attempts', j.max_attempts,
        'last_error', j.last_error, 'scheduled_at', conveyor_ts(j.scheduled_at),
        'processing_started_at', conveyor_ts(j.processing_started_at),
        'finished_at', conveyor_ts(j.finished_at),
        'created_at', conveyor_ts(j.created_at), 'updated_at', conveyor_ts(j.updated_at))::text;
