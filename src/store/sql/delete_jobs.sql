-- Deletes the jobs among $1 (uuid[]) that are not processing, and records a `deleted` event
-- with each one's last state. One row per job found: its status before, and whether it is gone.
WITH t AS (
    SELECT id, status FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
), d AS (
    DELETE FROM jobs j USING t
    WHERE j.id = t.id AND t.status <> 'processing'
    RETURNING j.*
), e AS (
    INSERT INTO job_events (job_id, job_type, queue, status, data, kind)
    SELECT d.id, d.job_type, d.queue, d.status, conveyor_event_data(d::jobs), 'deleted'
    FROM d
    RETURNING job_id
)
SELECT t.id::text AS id, t.status AS before,
       CASE WHEN e.job_id IS NULL THEN NULL ELSE '' END AS job
FROM t LEFT JOIN e ON e.job_id = t.id
