-- wrk script for the pipelined ceiling in docs/BENCHMARKS.md: the request of
-- bench/wrk-post.lua (a 300-byte JSON body with a fixed webhook-id), sent
-- `depth` at a time per connection round trip (HTTP/1.1 pipelining), as the
-- engine's delivery workers send runs of `pipeline_depth` (16).
--   wrk -t1 -c64 -d10s -s bench/wrk-pipeline.lua http://127.0.0.1:9191/ep/0 -- 16
local body = '{"t":1795000000000000,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'
local headers = { ["Content-Type"] = "application/json", ["webhook-id"] = "msg_wrk" }

init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("POST", nil, headers, body)
  end
  req = table.concat(r)
end

request = function()
  return req
end
