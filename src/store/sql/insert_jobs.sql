-- Inserts a group of submissions in one statement. $1 is a JSON array of objects whose keys are
-- column names of jobs (id, job_type, queue, priority, payload, max_attempts, scheduled_at): the table itself is
-- the column list. A missing scheduled_at means now.
INSERT INTO jobs (id, job_type, queue, priority, payload, max_attempts, scheduled_at)
SELECT n.id, n.job_type, n.queue, n.priority, n.payload, n.max_attempts,
       coalesce(n.scheduled_at, now())
FROM jsonb_populate_recordset(NULL::jobs, $1::jsonb) AS n
RETURNING id::text AS id, conveyor_job_json(jobs) AS job
