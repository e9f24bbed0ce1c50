-- Retries the failed or cancelled jobs among $1 (uuid[]) now: pending, max_attempts raised to
-- attempts + 1 when used up, last_error kept as history. A job whose unique_key another
-- unfinished job of its queue holds stays as it is. One row per job found: its status before,
-- and its JSON when this changed it.
WITH t AS (
    SELECT id, status FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
), u AS (
    UPDATE jobs j
    SET status = 'pending',
        scheduled_at = now(),
        max_attempts = greatest(j.max_attempts, j.attempts + 1),
        finished_at = NULL,
        cancel_requested_at = NULL,
        updated_at = now()
    FROM t
    WHERE j.id = t.id
      AND t.status IN ('failed', 'cancelled')
      AND (j.unique_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM jobs o
          WHERE o.queue = j.queue AND o.unique_key = j.unique_key
            AND o.status IN ('pending', 'processing')))
    RETURNING j.id, conveyor_job_json(j) AS job
)
SELECT t.id::text AS id, t.status AS before, u.job
FROM t LEFT JOIN u ON u.id = t.id
