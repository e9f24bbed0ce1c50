-- The database gauges of GET /metrics (and so of the dashboard's overview), for every queue:
-- jobs by status, the age in seconds of its oldest due pending job (0: none), and its running jobs
-- asked to stop (cancel_requested_at set, the attempt not ended yet). One statement,
-- run every few seconds by the stats sampler while someone scrapes, never per scrape.
WITH counts AS (
    SELECT queue, status, count(*) AS n,
           count(*) FILTER (WHERE cancel_requested_at IS NOT NULL) AS cancelling
    FROM jobs
    GROUP BY queue, status
), oldest AS (
    SELECT queue, min(scheduled_at) AS at
    FROM jobs
    WHERE status = 'pending' AND scheduled_at <= now()
    GROUP BY queue
)
SELECT q.name AS queue,
       coalesce(sum(c.n) FILTER (WHERE c.status = 'pending'), 0)::bigint AS pending,
       coalesce(sum(c.n) FILTER (WHERE c.status = 'processing'), 0)::bigint AS processing,
       coalesce(sum(c.n) FILTER (WHERE c.status = 'done'), 0)::bigint AS done,
       coalesce(sum(c.n) FILTER (WHERE c.status = 'failed'), 0)::bigint AS failed,
       coalesce(sum(c.n) FILTER (WHERE c.status = 'cancelled'), 0)::bigint AS cancelled,
       coalesce(extract(epoch FROM now() - o.at), 0)::float8 AS oldest_pending_age_s,
       coalesce(sum(c.cancelling) FILTER (WHERE c.status = 'processing'), 0)::bigint
           AS cancel_requested
FROM queues q
LEFT JOIN counts c ON c.queue = q.name
LEFT JOIN oldest o ON o.queue = q.name
GROUP BY q.name, o.at
ORDER BY q.name
