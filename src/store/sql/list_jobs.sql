-- A page of jobs, newest first, by keyset over the (created_at, id) index. $1 statuses (text[]),
-- $2 job types (text[]), $3/$4 the cursor (created_at in µs, id), $5 the row limit, $6 queues
-- (text[]), $7 a unique_key; NULL means no filter.
SELECT conveyor_job_json(j) AS job,
       (extract(epoch FROM j.created_at) * 1000000)::bigint AS created_us,
       j.id::text AS id
FROM jobs j
WHERE ($1::text[] IS NULL OR j.status = ANY($1::text[]))
  AND ($2::text[] IS NULL OR j.job_type = ANY($2::text[]))
  AND ($6::text[] IS NULL OR j.queue = ANY($6::text[]))
  AND ($7::text IS NULL OR j.unique_key = $7::text)
  AND ($3::bigint IS NULL
       OR (j.created_at, j.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond',
                                  $4::uuid))
ORDER BY j.created_at DESC, j.id DESC
LIMIT $5
