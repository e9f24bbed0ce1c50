-- The jobs among $1 (uuid[] as text) that exist, as API JSON: what an insert whose commit
-- outcome is unknown (the connection died during COMMIT) left behind.
SELECT id::text AS id, conveyor_job_json(j) AS job
FROM jobs j
WHERE id = ANY ($1::uuid[])
