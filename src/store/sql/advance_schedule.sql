-- Schedule $1 enqueued its slot at $3 (epoch seconds; NULL: none was enqueued); its next slot is
-- $2 (NULL: none comes).
UPDATE schedules
SET next_run_at = to_timestamp($2::bigint),
    last_run_at = coalesce(to_timestamp($3::bigint), last_run_at)
WHERE name = $1
