-- The jobs $1 as API JSON, in the order given; NULL for a job that no longer exists.
SELECT u.id::text AS id, CASE WHEN j.id IS NULL THEN NULL ELSE conveyor_job_json(j) END AS job
FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)
LEFT JOIN jobs j ON j.id = u.id
ORDER BY u.n
