-- wrk -s bench/wrk/post_job_keyed.lua: POST /jobs as post_job.lua, each request with a new
-- Idempotency-Key (what the keeper costs a submission); counts non-201 answers.
wrk.method = "POST"
wrk.path = "/jobs"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"job_type":"noop","payload":{"n":1}}'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local bad, n = 0, 0
function request()
  n = n + 1
  -- Unique per run, thread and request.
  local key = string.format("%d-%d-%d", os.time(), thread_id or 0, n)
  return wrk.format(nil, nil, { ["Idempotency-Key"] = key }, nil)
end
function response(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("non_201=%d\n", bad))
end
