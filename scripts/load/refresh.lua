-- wrk script: the refresh_token grant at /oauth2/token for the public
-- client "load-client". Each thread takes its share of the refresh tokens
-- in $TOKENS and, since every refresh consumes its token, puts the new
-- refresh token from each answer back into its pool. Prints one
-- "RESULT ..." line for introspect.sh to parse.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local pool = {}
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
  -- Threads must not share a token (a second use would be a replay, which
  -- ends the session): thread id takes the lines n with n % $THREADS == id.
  local nt = tonumber(os.getenv("THREADS") or "1")
  local n = 0
  for line in io.lines(os.getenv("TOKENS")) do
    if line ~= "" then
      if n % nt == id then pool[#pool + 1] = line end
      n = n + 1
    end
  end
end

function request()
  local t = table.remove(pool)
  if t == nil then t = "mar_exhausted" end
  return wrk.format("POST", "/oauth2/token", headers,
    "grant_type=refresh_token&client_id=load-client&refresh_token=" .. t)
end

function response(status, hdrs, body)
  if status == 200 then
    local t = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if t then pool[#pool + 1] = t end
  end
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
