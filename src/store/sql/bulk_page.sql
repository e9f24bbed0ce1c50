-- The next $5 ids after $4 (NULL: from the start), in id order, of the jobs matching a bulk
-- filter: statuses $1, queues $2, job types $3 (text[]; NULL: any). Walking the primary key in
-- order keeps every page cheap, however many jobs there are.
SELECT id::text AS id
FROM jobs
WHERE ($4::uuid IS NULL OR id > $4::uuid)
  AND ($1::text[] IS NULL OR status = ANY($1::text[]))
  AND ($2::text[] IS NULL OR queue = ANY($2::text[]))
  AND ($3::text[] IS NULL OR job_type = ANY($3::text[]))
ORDER BY id
LIMIT $5
