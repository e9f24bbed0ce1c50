-- Gives key $1 taken with token $2 back: the request failed and did nothing.
DELETE FROM idempotency_keys WHERE key = $1 AND token = $2::uuid
