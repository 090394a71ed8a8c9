-- wrk script: legacy-era (2025-06-18) session POST tools/call echo.
-- The session is opened by benchmarks/http_bench.py (initialize, then
-- notifications/initialized) and its id passed as the script's argument:
--   wrk ... -s legacy_echo.lua URL -- SESSION_ID
-- The answer may be JSON or an SSE stream (the SDK with json_response, or not);
-- either way it must hold the echoed text. Ids count up (one session: no two in
-- flight may share one), so every request is formatted anew. done() prints the same "WRKJSON " line
-- as modern_echo.lua.
bad = 0  -- a global: done() reads each thread's with thread:get("bad")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
  wrk.headers["Mcp-Session-Id"] = args[1]
end

-- Every request its own id: requests of one session in flight at once may not share one.
local counter = 0

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil,
    '{"jsonrpc":"2.0","id":' .. counter .. ',"method":"tools/call","params":{"name":"echo",'
    .. '"arguments":{"text":"hello"}}}')
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"hello"', 1, true)
     or string.find(body, '"isError":true', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local errors = 0
  for _, t in ipairs(threads) do
    errors = errors + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"max_us":%d,"bad_answers":%d,"connect_errors":%d,"read_errors":%d,'
    .. '"write_errors":%d,"status_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors, e.connect, e.read, e.write, e.status,
    e.timeout))
end
