-- Claims up to $1 due pending jobs for worker $2, leased for $3 seconds (the claiming process's
-- STALE_AFTER_S), from the unpaused queues without a global limit among $4 (NULL: all), with $5
-- more allowed locally in each; by priority, scheduled_at, id. One statement, one round trip:
-- the common case. Queues with a concurrency_limit need the exact claim of claim_limited.sql; the
-- rows with a NULL id name those in scope, so that the claimer knows to use it.
WITH wanted AS (
    SELECT q.name, least($1, coalesce(w.room, $1)) AS room
    FROM queues q
    LEFT JOIN unnest($4::text[], $5::int[]) AS w(name, room) ON w.name = q.name
    WHERE q.paused_at IS NULL
      AND q.concurrency_limit IS NULL
      AND ($4::text[] IS NULL OR w.name IS NOT NULL)
), c AS (
    SELECT d.id, d.priority, d.scheduled_at
    FROM wanted w
    CROSS JOIN LATERAL (
        SELECT p.id, p.priority, p.scheduled_at
        FROM jobs p
        WHERE p.status = 'pending' AND p.queue = w.name AND p.scheduled_at <= now()
        ORDER BY p.priority, p.scheduled_at, p.id
        LIMIT greatest(w.room, 0)
        FOR UPDATE SKIP LOCKED
    ) d
    ORDER BY d.priority, d.scheduled_at, d.id
    LIMIT $1
), claimed AS (
    UPDATE jobs j
    SET status = 'processing',
        attempts = j.attempts + 1,
        processing_started_at = now(),
        heartbeat_at = now(),
        lease_expires_at = now() + make_interval(secs => $3),
        locked_by = $2,
        updated_at = now()
    FROM c
    WHERE j.id = c.id
    RETURNING j.id::text AS id, j.job_type, j.queue, j.payload::text AS payload, j.attempts,
              j.max_attempts, extract(epoch FROM now() - c.scheduled_at)::float8 AS wait_s
)
SELECT id, job_type, queue, payload, attempts, max_attempts, wait_s FROM claimed
UNION ALL
SELECT NULL, NULL, q.name, NULL, NULL, NULL, NULL
FROM queues q
WHERE q.concurrency_limit IS NOT NULL
  AND q.paused_at IS NULL
  AND ($4::text[] IS NULL OR q.name = ANY($4::text[]))
