-- Refreshes the heartbeat of worker $2's running jobs $1 and extends their lease by $3 seconds
-- (this process's STALE_AFTER_S). Returns the ones whose cancellation was requested: the fallback
-- when the NOTIFY of the cancel did not arrive.
UPDATE jobs
SET heartbeat_at = now(),
    lease_expires_at = now() + make_interval(secs => $3)
WHERE id = ANY($1::uuid[]) AND status = 'processing' AND locked_by = $2
RETURNING id::text AS id, cancel_requested_at IS NOT NULL AS cancel_requested
