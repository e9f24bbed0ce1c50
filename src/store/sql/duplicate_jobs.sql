-- The unfinished jobs holding the unique keys $2 (text[]) of the queues $1 (text[], pairwise).
SELECT j.queue, j.unique_key, j.id::text AS id, conveyor_job_json(j) AS job
FROM unnest($1::text[], $2::text[]) AS k(queue, unique_key)
JOIN jobs j ON j.queue = k.queue AND j.unique_key = k.unique_key
WHERE j.status IN ('pending', 'processing')
