-- Gives up the maintainer lease of holder $1 in term $2, so that another process takes it at its
-- next check instead of waiting for the lease to expire.
UPDATE maintainer_lease
SET holder = NULL,
    expires_at = now()
WHERE id AND holder = $1 AND term = $2
