-- Locks up to $1 enabled schedules whose next slot is due, oldest first, skipping those another
-- process is enqueueing right now. A row another transaction advanced meanwhile is re-checked
-- against the condition before it is locked, so a slot is never taken twice.
SELECT name, cron, timezone, job::text AS job,
       floor(extract(epoch FROM next_run_at))::bigint AS next_s,
       floor(extract(epoch FROM now()))::bigint AS now_s
FROM schedules
WHERE enabled AND next_run_at <= now()
ORDER BY next_run_at
LIMIT $1
FOR UPDATE SKIP LOCKED
