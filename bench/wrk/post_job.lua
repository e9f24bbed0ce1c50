-- wrk -s bench/wrk/post_job.lua: POST /jobs with a noop job; counts non-201 answers. With
-- IDEMPOTENCY_KEYS=1 in the environment every request carries a new Idempotency-Key (what the
-- idempotency keeper costs a submission).
local body = '{"job_type":"noop","payload":{"n":1}}'
local keyed = os.getenv("IDEMPOTENCY_KEYS") == "1"
-- Each wrk thread has its own Lua state: done() (in the main one) adds up the threads' counts.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
bad, n = 0, 0
function request()
  local headers = { ["Content-Type"] = "application/json" }
  if keyed then
    n = n + 1
    headers["Idempotency-Key"] = string.format("%d-%d-%d", os.time(), thread_id or 0, n)
  end
  return wrk.format("POST", "/jobs", headers, body)
end
function response(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("non_201=%d\n", total))
end
