-- Refreshes the heartbeat of worker $2's running jobs $1 and extends their lease by $3 seconds
-- (this process's STALE_AFTER_S).
UPDATE jobs
SET heartbeat_at = now(),
    lease_expires_at = now() + make_interval(secs => $3)
WHERE id = ANY($1::uuid[]) AND status = 'processing' AND locked_by = $2
