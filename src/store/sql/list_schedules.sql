-- Schedules as API JSON by name: all of them ($1 NULL) or the one named $1.
SELECT conveyor_schedule_json(s) AS schedule
FROM schedules s
WHERE $1::text IS NULL OR s.name = $1
ORDER BY s.name
