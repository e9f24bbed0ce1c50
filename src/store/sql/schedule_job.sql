-- The job schedule $1 enqueues (POST /schedules/<name>/trigger).
SELECT job::text AS job FROM schedules WHERE name = $1
