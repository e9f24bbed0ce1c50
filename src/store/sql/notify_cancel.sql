-- Tells every process that a running job's cancellation was requested (sent at commit).
SELECT pg_notify('conveyor_cancel', '')
