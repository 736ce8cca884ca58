-- Sends GET <path> with "Authorization: Bearer <token>", cycling through the
-- tokens of the TOKENS environment variable (space separated) or, when
-- TOKENS is "random", through 10,000 random well-formed tokens made up
-- front. Both modes build requests the same way, so the client's own cost
-- is the same for valid and bad tokens.
--
-- Requests are formatted in init, once per thread: wrk sets the Host header
-- only after the script's top level has run, and an HTTP/1.1 request
-- without Host is a 400.
local path = os.getenv("WRK_PATH") or "/api/2.0/preview/scim/v2/Me"
local requests = {}
local n = 0

function init(args)
  local tokens = {}
  local spec = os.getenv("TOKENS") or ""
  if spec == "random" then
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
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
  for i, t in ipairs(tokens) do
    requests[i] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. t })
  end
end

function request()
  n = n + 1
  return requests[(n % #requests) + 1]
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d p50_us=%d p99_us=%d\n",
    summary.requests, latency:percentile(50), latency:percentile(99)))
end
