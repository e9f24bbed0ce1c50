-- Deletes at most $3 jobs in status $1 that finished more than $2 seconds ago, oldest first,
-- through jobs_finished_idx. Rows another transaction holds (a bulk action, a manual delete) are
-- skipped, never waited for; claims touch only pending rows, so they never wait for this either.
WITH expired AS (
    SELECT id
    FROM jobs
    WHERE status = $1 AND finished_at < now() - make_interval(secs => $2)
    ORDER BY finished_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
DELETE FROM jobs j
USING expired
WHERE j.id = expired.id
