-- wrk -s bench/wrk/post_job_keyed.lua: POST /jobs as post_job.lua, each request with a new
-- Idempotency-Key (what the keeper costs a submission); counts non-201 answers.
local body = '{"job_type":"noop","payload":{"n":1}}'
-- Each wrk thread has its own Lua state: done() (in the main one) adds up the threads' counts.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
bad, n = 0, 0
function request()
  n = n + 1
  -- Unique per run, thread and request.
  local key = string.format("%d-%d-%d", os.time(), thread_id or 0, n)
  return wrk.format("POST", "/jobs",
                    { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }, body)
end
function response(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("non_201=%d\n", total))
end
