-- Claims from queues with a global concurrency_limit, exactly: $1 jobs at most for worker $2,
-- leased for $3 seconds, from the queues $4 with $5 more allowed locally in each. The logic, and
-- why the limit holds under races between processes, is conveyor_claim in
-- migrations/005_queues.sql: it needs a fresh snapshot after taking the queue locks, which only
-- a function gives in one round trip.
SELECT id, job_type, queue, payload, attempts, max_attempts
FROM conveyor_claim($1, $2, $3, $4::text[], $5::int[])
