-- Milliseconds until the earliest pending job is due (negative when one is due already).
SELECT ceil(extract(epoch FROM (min(scheduled_at) - clock_timestamp())) * 1000)::bigint AS ms
FROM jobs
WHERE status = 'pending'
