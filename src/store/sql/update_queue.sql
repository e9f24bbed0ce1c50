-- Creates or changes queue $1: $2 pause (true), resume (false) or leave (NULL); $3 whether to
-- set the limit, $4 the new concurrency_limit (NULL: none). Idempotent: pausing a paused queue
-- keeps its paused_at.
INSERT INTO queues AS q (name, paused_at, concurrency_limit)
VALUES ($1, CASE WHEN $2::bool THEN now() END, CASE WHEN $3::bool THEN $4::int END)
ON CONFLICT (name) DO UPDATE
SET paused_at = CASE
        WHEN $2::bool IS NULL THEN q.paused_at
        WHEN $2::bool THEN coalesce(q.paused_at, now())
        ELSE NULL
    END,
    concurrency_limit = CASE WHEN $3::bool THEN $4::int ELSE q.concurrency_limit END,
    updated_at = now()
