-- Claims up to $1 due pending jobs for worker $2, leased for $3 seconds (the claiming process's
-- STALE_AFTER_S), from the queues $4 (NULL: all) with $5 more allowed locally in each. The logic,
-- and why global concurrency limits hold exactly, is conveyor_claim in migrations/005_queues.sql:
-- it needs a fresh snapshot after taking the queue locks, which only a function gives in one
-- round trip.
SELECT id, job_type, queue, payload, attempts, max_attempts
FROM conveyor_claim($1, $2, $3, $4::text[], $5::int[])
