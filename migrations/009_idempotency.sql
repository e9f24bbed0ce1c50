-- Idempotency-Key (README "Idempotency keys", SPEC §9): one row per key a client sent with
-- POST /jobs, POST /jobs/batch or a bulk action, kept for IDEMPOTENCY_TTL_S.
--
-- A row is taken before the request runs (response NULL: in flight, until locked_until) and
-- completed after it answered (response set), or deleted when the request failed, so the
-- client may send it again. job_ids are the ids the request creates, chosen before it runs: a
-- process that dies between inserting the jobs and completing the row leaves ids another
-- process can look for, instead of inserting the jobs a second time.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key          text        PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint  text        NOT NULL, -- SHA-256 of method, path and body
    token        uuid        NOT NULL, -- the taker's: only it completes or releases the row
    job_ids      uuid[]      NOT NULL DEFAULT '{}',
    response     jsonb,                -- what to answer a repeat with (NULL: in flight)
    created_at   timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    expires_at   timestamptz NOT NULL
);

-- The cleaner prunes expired keys oldest first.
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_idx ON idempotency_keys (expires_at);
