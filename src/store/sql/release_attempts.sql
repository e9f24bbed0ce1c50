-- Returns running attempts of this worker ($2) to pending without counting them (graceful
-- shutdown), or to cancelled when a cancel was requested. $1: JSON array of {id, attempt}.
WITH r AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt int)
)
UPDATE jobs j
SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'pending' ELSE 'cancelled' END,
    finished_at = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE now() END,
    attempts = j.attempts - 1,
    scheduled_at = now(),
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
