-- Extends the maintainer lease of holder $1 in term $2 by $3 seconds. No row: the lease is no
-- longer this holder's in this term (it expired and another took it, or it was resigned).
UPDATE maintainer_lease
SET renewed_at = now(),
    expires_at = now() + make_interval(secs => $3)
WHERE id AND holder = $1 AND term = $2
RETURNING term
