-- wrk script: modern-era (2026-07-28) POST tools/call of a task-capable tool, from a
-- client that declares the tasks extension: every request creates a task.
-- done() prints one JSON line (prefixed "WRKJSON ") that benchmarks/redis_tasks.py reads.
local version = "2026-07-28"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = version
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "quick"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"quick",'
  .. '"arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"' .. version
  .. '","io.modelcontextprotocol/clientCapabilities":'
  .. '{"extensions":{"io.modelcontextprotocol/tasks":{}}}}}}'

bad = 0  -- a global: done() reads each thread's with thread:get("bad")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"resultType":"task"', 1, true) then
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
