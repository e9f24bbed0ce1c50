-- The newest $1 events, oldest first: the resume window a new process starts with.
SELECT *
FROM (
    SELECT id, job_id::text AS job_id, job_type, queue, status, data, kind
    FROM job_events
    ORDER BY id DESC
    LIMIT $1
) e
ORDER BY id
