-- Every queue with its settings and what waits and runs in it, as API JSON, by name; $1 limits it
-- to one queue (NULL: all). Counts come from the pending and processing partial indexes, so
-- finished jobs cost nothing however many there are.
WITH pending AS (
    SELECT queue, count(*) AS n, min(scheduled_at) FILTER (WHERE scheduled_at <= now()) AS oldest
    FROM jobs
    WHERE status = 'pending' AND ($1::text IS NULL OR queue = $1)
    GROUP BY queue
), processing AS (
    SELECT queue, count(*) AS n
    FROM jobs
    WHERE status = 'processing' AND ($1::text IS NULL OR queue = $1)
    GROUP BY queue
)
SELECT json_build_object(
           'name', q.name,
           'paused', q.paused_at IS NOT NULL,
           'concurrency_limit', q.concurrency_limit,
           'pending', coalesce(p.n, 0),
           'processing', coalesce(r.n, 0),
           'oldest_pending_age_s',
           round(extract(epoch FROM now() - p.oldest)::numeric, 3))::text AS queue
FROM queues q
LEFT JOIN pending p ON p.queue = q.name
LEFT JOIN processing r ON r.queue = q.name
WHERE $1::text IS NULL OR q.name = $1
ORDER BY q.name
