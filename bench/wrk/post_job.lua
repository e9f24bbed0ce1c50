-- wrk -s bench/wrk/post_job.lua: POST /jobs with a noop job; counts non-201 answers.
wrk.method = "POST"
wrk.path = "/jobs"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"job_type":"noop","payload":{"n":1}}'
local bad = 0
function response(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("non_201=%d\n", bad))
end
