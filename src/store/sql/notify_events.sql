-- Tells every listener that new events were written outside the jobs triggers (deletes).
SELECT pg_notify('conveyor_events', '')
