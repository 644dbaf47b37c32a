-- wrk script: POST /oauth2/introspect as Synapse does (shared-secret Bearer,
-- X-MAS-Supports-Device-Id: 1, token_type_hint=access_token), rotating
-- through the tokens in the file named by $TOKENS. $SECRET is the shared
-- secret. Prints one "RESULT ..." line for introspect.sh to parse.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local tokens = {}
local i = 0
local headers

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  if #tokens == 0 then error("no tokens in " .. os.getenv("TOKENS")) end
  -- threads start at different places in the list
  i = (id * 7919) % #tokens
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Bearer " .. os.getenv("SECRET"),
    ["X-MAS-Supports-Device-Id"] = "1",
  }
end

function request()
  i = i % #tokens + 1
  return wrk.format("POST", "/oauth2/introspect", headers,
    "token=" .. tokens[i] .. "&token_type_hint=access_token")
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f req_per_s=%.0f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
