-- The jobs table: one row per job, its whole life (see README "Job lifecycle").
CREATE TABLE jobs (
    id                    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    job_type              text        NOT NULL,
    payload               jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status                text        NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts              integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts          integer     NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    last_error            text,
    scheduled_at          timestamptz NOT NULL DEFAULT now(),
    processing_started_at timestamptz,
    heartbeat_at          timestamptz,
    locked_by             text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Claiming: only pending rows are indexed, so a million finished rows cost nothing.
CREATE INDEX jobs_pending_scheduled_idx ON jobs (scheduled_at, id) WHERE status = 'pending';
-- Heartbeats and the reaper look at running rows only.
CREATE INDEX jobs_processing_heartbeat_idx ON jobs (heartbeat_at) WHERE status = 'processing';
-- GET /jobs: newest first, keyset pagination on (created_at, id).
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_created_idx ON jobs (status, created_at DESC, id DESC);
CREATE INDEX jobs_type_created_idx ON jobs (job_type, created_at DESC, id DESC);

-- RFC 3339 UTC with milliseconds, the one timestamp format of the API.
CREATE FUNCTION conveyor_ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
