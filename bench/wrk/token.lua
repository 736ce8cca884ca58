-- Sends GET <path> with "Authorization: Bearer <token>", where the tokens
-- come from the TOKENS environment variable (space separated) or, when
-- TOKENS is "random", are 10,000 random well-formed tokens made up front.
-- Both modes build requests the same way, so the client's own cost is the
-- same for valid and bad tokens.
local path = os.getenv("WRK_PATH") or "/api/2.0/preview/scim/v2/Me"
local tokens = {}
local spec = os.getenv("TOKENS") or ""
if spec == "random" then
  math.randomseed(os.time())
  local hex = "0123456789abcdef"
  for i = 1, 10000 do
    local t = { "dapi" }
    for _ = 1, 32 do
      local r = math.random(1, 16)
      t[#t + 1] = hex:sub(r, r)
    end
    tokens[i] = table.concat(t)
  end
else
  for t in spec:gmatch("%S+") do tokens[#tokens + 1] = t end
end
local requests = {}
for i, t in ipairs(tokens) do
  requests[i] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. t })
end
local n = 0
request = function()
  n = n + 1
  return requests[(n % #requests) + 1]
end

done = function(summary, latency, requests)
  io.write(string.format("requests=%d p50_us=%d p99_us=%d\n",
    summary.requests, latency:percentile(50), latency:percentile(99)))
end
