-- Inserts a group of submissions in one statement. $1 is a JSON array of objects whose keys are
-- column names of jobs (id, job_type, queue, priority, unique_key, payload, max_attempts,
-- scheduled_at): the table itself is the column list. A missing scheduled_at means now. A job
-- whose unique_key an unfinished job of its queue holds (jobs_unique_key_idx, also against
-- concurrent inserts of other processes) is not inserted and not returned: duplicate_jobs.sql
-- finds the holder.
INSERT INTO jobs (id, job_type, queue, priority, unique_key, payload, max_attempts, scheduled_at)
SELECT n.id, n.job_type, n.queue, n.priority, n.unique_key, n.payload, n.max_attempts,
       coalesce(n.scheduled_at, now())
FROM jsonb_populate_recordset(NULL::jobs, $1::jsonb) AS n
ON CONFLICT (queue, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending', 'processing') DO NOTHING
RETURNING id::text AS id, conveyor_job_json(jobs) AS job
