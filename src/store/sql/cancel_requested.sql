-- Which of worker $2's running jobs $1 were asked to stop (after a conveyor_cancel NOTIFY).
SELECT id::text AS id
FROM jobs
WHERE id = ANY($1::uuid[]) AND status = 'processing' AND locked_by = $2
  AND cancel_requested_at IS NOT NULL
