-- Events after id $1, oldest first, at most $2.
SELECT id, job_id::text AS job_id, job_type, queue, status, data, kind
FROM job_events
WHERE id > $1
ORDER BY id
LIMIT $2
