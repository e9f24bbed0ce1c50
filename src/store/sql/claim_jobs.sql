-- Claims up to $1 due pending jobs for worker $2, oldest scheduled first, leased for $3 seconds
-- (the claiming process's STALE_AFTER_S). SKIP LOCKED lets every
-- process claim at once without waiting on each other's rows.
WITH c AS (
    SELECT id
    FROM jobs
    WHERE status = 'pending' AND scheduled_at <= now()
    ORDER BY scheduled_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j
SET status = 'processing',
    attempts = j.attempts + 1,
    processing_started_at = now(),
    heartbeat_at = now(),
    lease_expires_at = now() + make_interval(secs => $3),
    locked_by = $2,
    updated_at = now()
FROM c
WHERE j.id = c.id
RETURNING j.id::text AS id, j.job_type, j.payload::text AS payload, j.attempts, j.max_attempts
