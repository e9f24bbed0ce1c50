-- Returns processing jobs whose lease expired (their owner stopped renewing it) to pending after
-- the backoff delay ($1: ms indexed by attempts made), or to failed when their attempts are used
-- up, or to cancelled when a cancel was requested. The lease was set by the owner from its own
-- STALE_AFTER_S, never by the reaper's. Answers the queue of each job
-- (conveyor_jobs_rescued_total).
WITH lost AS (
    SELECT id
    FROM jobs
    WHERE status = 'processing' AND lease_expires_at < now()
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j
SET status = CASE
        WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
        WHEN j.attempts >= j.max_attempts THEN 'failed'
        ELSE 'pending'
    END,
    finished_at = CASE
        WHEN j.cancel_requested_at IS NULL AND j.attempts < j.max_attempts THEN NULL
        ELSE now()
    END,
    scheduled_at = CASE
        WHEN j.attempts >= j.max_attempts OR j.cancel_requested_at IS NOT NULL
            THEN j.scheduled_at
        ELSE now() + ($1::bigint[])[j.attempts] * interval '1 millisecond'
    END,
    last_error = 'worker lost: no heartbeat from ' || coalesce(j.locked_by, '?')
        || ' since ' || coalesce(conveyor_ts(j.heartbeat_at), '?') || ', lease expired at '
        || coalesce(conveyor_ts(j.lease_expires_at), '?') || ' (attempt ' || j.attempts || ')',
    processing_started_at = NULL,
    heartbeat_at = NULL,
    lease_expires_at = NULL,
    locked_by = NULL,
    updated_at = now()
FROM lost
WHERE j.id = lost.id
RETURNING j.queue
