-- Deletes events older than the newest $1.
DELETE FROM job_events WHERE id <= (SELECT max(id) FROM job_events) - $1
