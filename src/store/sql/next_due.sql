-- Milliseconds until the earliest pending job of the queues $1 (NULL: all) is due (negative when
-- one is due already). One probe of the pending index per queue and priority.
SELECT ceil(extract(epoch FROM (min(n.scheduled_at) - clock_timestamp())) * 1000)::bigint AS ms
FROM queues q
CROSS JOIN generate_series(0, 9) AS pr(priority)
CROSS JOIN LATERAL (
    SELECT j.scheduled_at
    FROM jobs j
    WHERE j.status = 'pending' AND j.queue = q.name AND j.priority = pr.priority
    ORDER BY j.scheduled_at
    LIMIT 1
) n
WHERE ($1::text[] IS NULL OR q.name = ANY($1::text[])) AND q.paused_at IS NULL
