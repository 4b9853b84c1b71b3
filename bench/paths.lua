-- wrk script: replay request lines from a file, one thread starting at its own offset.
-- Lines: "GET /path" or "PATCH /path {json}". Env: BENCH_PATHS (file), BENCH_TOKEN
-- (staff token for writes), BENCH_AUTH_ALL=1 (send the token on every request),
-- BENCH_SKIP (start that many lines further on: where an earlier run left off).
local lines = {}
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    table.insert(lines, line)
  end
  index = (id * 7919 + tonumber(os.getenv("BENCH_SKIP") or "0")) % #lines
  token = os.getenv("BENCH_TOKEN") or ""
  auth_all = os.getenv("BENCH_AUTH_ALL") == "1"
end

function request()
  index = index % #lines + 1
  local line = lines[index]
  local method, path, body = line:match("^(%S+) (%S+) ?(.*)$")
  local headers = {}
  if auth_all or method ~= "GET" then
    headers["Authorization"] = "Token " .. token
  end
  if method ~= "GET" then
    headers["Content-Type"] = "application/json"
    return wrk.format(method, path, headers, body)
  end
  return wrk.format("GET", path, headers)
end
