-- Deletes at most $1 expired idempotency keys, oldest first; rows another process is deleting
-- are skipped.
DELETE FROM idempotency_keys
WHERE key IN (SELECT key FROM idempotency_keys WHERE expires_at <= now()
              ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
