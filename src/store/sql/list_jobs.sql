-- A page of jobs, newest first, by keyset over the (created_at, id) index. $1 statuses (text[]),
-- $2 job types (text[]), $3/$4 the cursor (created_at in µs, id), $5 the row limit, $6 queues
-- (text[]), $8 a unique_key; NULL means no filter. $7: the page's byte budget: rows are kept while the JSON of
-- those before them is under it, and the first row past it comes without its JSON (job NULL),
-- to say that the page was cut there.
SELECT CASE WHEN sized.bytes_before < $7 THEN sized.job END AS job, sized.created_us,
       sized.id::text AS id
FROM (SELECT rows.*,
             sum(octet_length(rows.job)) OVER w - octet_length(rows.job) AS bytes_before,
             lag(octet_length(rows.job), 1, 0) OVER w AS previous_bytes
      FROM (SELECT conveyor_job_json(j) AS job,
                   (extract(epoch FROM j.created_at) * 1000000)::bigint AS created_us,
                   j.created_at, j.id
            FROM jobs j
            WHERE ($1::text[] IS NULL OR j.status = ANY($1::text[]))
              AND ($2::text[] IS NULL OR j.job_type = ANY($2::text[]))
              AND ($6::text[] IS NULL OR j.queue = ANY($6::text[]))
              AND ($8::text IS NULL OR j.unique_key = $8::text)
              AND ($3::bigint IS NULL
                   OR (j.created_at, j.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond',
                                              $4::uuid))
            ORDER BY j.created_at DESC, j.id DESC
            LIMIT $5) rows
      WINDOW w AS (ORDER BY rows.created_at DESC, rows.id DESC ROWS UNBOUNDED PRECEDING)) sized
WHERE sized.bytes_before - sized.previous_bytes < $7
ORDER BY sized.created_at DESC, sized.id DESC
