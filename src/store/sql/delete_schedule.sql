-- Removes schedule $1 (waits for a tick holding its row, so a slot being enqueued completes).
DELETE FROM schedules WHERE name = $1
