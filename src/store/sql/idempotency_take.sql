-- Takes Idempotency-Key $1 for a request with fingerprint $2 that would create jobs $3, for $4
-- seconds, in flight for at most $5 seconds. One row: `taken` true with the row as taken, or
-- false with the row that holds the key (none when a concurrent taker has not committed yet).
-- Taken are a free key, an expired one, and one whose taker died in flight (same request only):
-- that one keeps its job ids, so the taker can see what the dead one already inserted.
WITH taken AS (
    INSERT INTO idempotency_keys AS k (key, fingerprint, token, job_ids, expires_at, locked_until)
    VALUES ($1, $2, gen_random_uuid(), $3::uuid[], now() + make_interval(secs => $4),
            now() + make_interval(secs => $5))
    ON CONFLICT (key) DO UPDATE
        SET job_ids = CASE WHEN k.expires_at <= now() THEN EXCLUDED.job_ids ELSE k.job_ids END,
            fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token, response = NULL,
            created_at = now(), expires_at = EXCLUDED.expires_at,
            locked_until = EXCLUDED.locked_until
        WHERE k.expires_at <= now()
           OR (k.response IS NULL AND k.locked_until <= now()
               AND k.fingerprint = EXCLUDED.fingerprint)
    RETURNING k.token, k.job_ids, k.fingerprint, k.response
)
SELECT true AS taken, token::text AS token, array_to_json(job_ids)::text AS job_ids, fingerprint,
       response::text AS response
FROM taken
UNION ALL
SELECT false, NULL, array_to_json(k.job_ids)::text, k.fingerprint, k.response::text
FROM idempotency_keys k
WHERE k.key = $1 AND NOT EXISTS (SELECT 1 FROM taken)
