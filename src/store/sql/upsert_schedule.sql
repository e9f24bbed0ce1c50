-- Creates or replaces schedule $1 (cron $2, timezone $3, job $4, enabled $5, next slot $6 in epoch
-- seconds, NULL while disabled). A replaced schedule keeps its last_run_at. Returns whether the
-- row is new, and the schedule as API JSON.
INSERT INTO schedules AS s (name, cron, timezone, job, enabled, next_run_at)
VALUES ($1, $2, $3, $4::jsonb, $5::boolean, to_timestamp($6::bigint))
ON CONFLICT (name) DO UPDATE
SET cron = EXCLUDED.cron,
    timezone = EXCLUDED.timezone,
    job = EXCLUDED.job,
    enabled = EXCLUDED.enabled,
    next_run_at = EXCLUDED.next_run_at,
    updated_at = now()
RETURNING (xmax = 0) AS created, conveyor_schedule_json(s) AS schedule
