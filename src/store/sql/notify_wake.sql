-- Wakes the idle claimers of every process that works one of the queues $1 (they LISTEN
-- conveyor_wake; an empty name wakes every process).
SELECT pg_notify('conveyor_wake', q) FROM unnest($1::text[]) AS q
