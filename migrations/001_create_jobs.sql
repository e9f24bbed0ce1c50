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
-- GET /jobs: newest first, keyset pagination on (created_at, id); status and job_type filters
-- are applied while walking it. Every status change rewrites index entries (no HOT update is
-- possible while status is in the pending index's predicate), so each extra index here costs
-- claim and completion throughput: keep the set small.
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);

-- RFC 3339 UTC with milliseconds, the one timestamp format of the API.
CREATE FUNCTION conveyor_ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
