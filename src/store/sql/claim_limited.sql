-- Claims from queues with a global concurrency_limit, exactly: $1 jobs at most for worker $2,
-- leased for $3 seconds, from the queues $4 with $5 more allowed locally in each. The logic, and
-- why the limit holds under races between processes, is conveyor_claim in
-- migrations/005_queues.sql: it needs a fresh snapshot after taking the queue locks, which only
-- a function gives in one round trip. The join reads scheduled_at (which the claim leaves as it
-- was) for conveyor_job_wait_seconds without changing the function's signature. It is a LEFT
-- join because this statement's snapshot predates the function's: a job inserted in between is
-- claimed but invisible here, and must still be returned (its wait, about 0, counts as 0).
SELECT c.id, c.job_type, c.queue, c.payload, c.attempts, c.max_attempts,
       coalesce(extract(epoch FROM now() - j.scheduled_at), 0)::float8 AS wait_s
FROM conveyor_claim($1, $2, $3, $4::text[], $5::int[]) c
LEFT JOIN jobs j ON j.id = c.id::uuid
