-- Completes key $1 taken with token $2: what a repeat is answered with ($3) and the jobs it
-- names ($4, in answer order).
UPDATE idempotency_keys
SET response = $3::jsonb, job_ids = $4::uuid[], locked_until = NULL
WHERE key = $1 AND token = $2::uuid
