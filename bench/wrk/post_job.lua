-- wrk -s bench/wrk/post_job.lua: POST /jobs with a noop job; counts non-201 answers.
wrk.method = "POST"
wrk.path = "/jobs"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"job_type":"noop","payload":{"n":1}}'
-- Each wrk thread has its own Lua state: done() (in the main one) adds up the threads' counts.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
bad = 0
function response(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("non_201=%d\n", total))
end
