-- The time after which a running job counts as lost belongs to the process that runs it: the
-- owner sets lease_expires_at from its own STALE_AFTER_S at claim and at every heartbeat, and a
-- reaper anywhere reclaims only expired leases. Processes with different settings (or a rolling
-- upgrade that changes them) can no longer rerun each other's live jobs.
ALTER TABLE jobs ADD COLUMN lease_expires_at timestamptz;
-- Rows running under an older version carry no lease: give them one from their heartbeat and the
-- old default.
UPDATE jobs SET lease_expires_at = heartbeat_at + interval '300 seconds'
WHERE status = 'processing' AND lease_expires_at IS NULL;
