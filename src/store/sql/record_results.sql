-- Writes attempt results, only where the job is still processing, locked by this worker ($2), on
-- the same attempt: a late result of a reclaimed attempt changes nothing. An attempt that did not
-- succeed after a cancel was requested ends the job `cancelled`, never retried; one that
-- succeeded first stays `done`.
-- $1: JSON array of {id, attempt, outcome, error}; $3: retry delays in ms, indexed by the
-- attempts made so far (computed by Config::backoff_after, the one backoff formula).
-- The materialized CTE parses the JSON once; each row is then found through the primary key.
WITH r AS MATERIALIZED (
    SELECT *
    FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt int, outcome text, error text)
)
UPDATE jobs j
SET status = CASE
        WHEN r.outcome = 'success' THEN 'done'
        WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
        WHEN r.outcome = 'permanent' OR j.attempts >= j.max_attempts THEN 'failed'
        ELSE 'pending'
    END,
    finished_at = CASE
        WHEN r.outcome = 'transient' AND j.attempts < j.max_attempts
             AND j.cancel_requested_at IS NULL THEN NULL
        ELSE now()
    END,
    last_error = CASE WHEN r.outcome = 'success' THEN j.last_error ELSE r.error END,
    scheduled_at = CASE
        WHEN r.outcome = 'transient' AND j.attempts < j.max_attempts
             AND j.cancel_requested_at IS NULL
            THEN now() + ($3::bigint[])[j.attempts] * interval '1 millisecond'
        ELSE j.scheduled_at
    END,
    processing_started_at = NULL,
    heartbeat_at = NULL,
    lease_expires_at = NULL,
    locked_by = NULL,
    updated_at = now()
FROM r
WHERE j.id = r.id
  AND j.status = 'processing'
  AND j.locked_by = $2
  AND j.attempts = r.attempt
