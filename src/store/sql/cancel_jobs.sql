-- Cancels the jobs $1 (uuid[]): pending ones become cancelled at once; processing ones get
-- cancel_requested_at (their owner is told by a conveyor_cancel NOTIFY and ends them cancelled,
-- or done when the attempt succeeded first). One row per job found: its status before, and its
-- JSON when this changed it.
WITH t AS (
    SELECT id, status FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
), u AS (
    UPDATE jobs j
    SET status = CASE WHEN t.status = 'pending' THEN 'cancelled' ELSE j.status END,
        finished_at = CASE WHEN t.status = 'pending' THEN now() ELSE j.finished_at END,
        cancel_requested_at = coalesce(j.cancel_requested_at, now()),
        updated_at = now()
    FROM t
    WHERE j.id = t.id
      AND (t.status = 'pending' OR (t.status = 'processing' AND j.cancel_requested_at IS NULL))
    RETURNING j.id, conveyor_job_json(j) AS job
)
SELECT t.id::text AS id, t.status AS before, u.job
FROM t LEFT JOIN u ON u.id = t.id
