-- Takes the maintainer lease for holder $1 for $2 seconds when nobody holds it or the holder's
-- lease expired. Returns the new term; no row: another process holds it.
UPDATE maintainer_lease
SET holder = $1,
    term = term + 1,
    acquired_at = now(),
    renewed_at = now(),
    expires_at = now() + make_interval(secs => $2)
WHERE id AND (holder IS NULL OR expires_at < now())
RETURNING term
