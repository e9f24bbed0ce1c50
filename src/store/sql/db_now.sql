-- The database's clock in whole seconds since the epoch: every process computes schedule slots
-- from the same clock, whatever its own says.
SELECT floor(extract(epoch FROM now()))::bigint AS now_s
