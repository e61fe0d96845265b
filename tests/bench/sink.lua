-- wrk script for tests/bench/run.py: replays pre-built Cosmos upserts at the rig's Cosmos front.
-- wrk <url> -s sink.lua -- DATAFILE MODE DATE AUTH THREADS
--   MODE single: each DATAFILE line is  <partition-key JSON> TAB <document JSON>  -> one upsert
--   MODE batch:  each DATAFILE line is  [<range id> TAB] <JSON array of operations> -> one batch request
--                (with a range id: sent in x-ms-documentdb-partitionkeyrangeid, as bulk mode does)
-- DATE/AUTH: x-ms-date and the master-key authorization for POST docs dbs/{db}/colls/{coll},
-- computed once by run.py (valid +-15 min). Requests are formatted once in init(), so the
-- per-request cost in wrk is only the socket write. The data set is replayed in a loop, so the
-- container never holds more documents than there are in DATAFILE (repeats are upsert-replaces).
-- wrk 4.1 does not verify the server certificate (SSL_VERIFY_NONE): fine for a load generator.
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local reqs, n, i = {}, 0, 0

function init(args)
  local file, mode, date, auth, nthreads = args[1], args[2], args[3], args[4], tonumber(args[5] or "1")
  local base = {
    ["x-ms-date"] = date, ["authorization"] = auth, ["x-ms-version"] = "2018-12-31",
    ["accept"] = "application/json", ["content-type"] = "application/json",
    ["prefer"] = "return=minimal", -- as the worker sends it (the front then drops the echo)
  }
  for line in io.lines(file) do
    local h = {}
    for k, v in pairs(base) do h[k] = v end
    local body
    if mode == "single" then
      local tab = line:find("\t", 1, true)
      h["x-ms-documentdb-partitionkey"] = line:sub(1, tab - 1)
      h["x-ms-documentdb-is-upsert"] = "True"
      body = line:sub(tab + 1)
    else
      h["x-ms-cosmos-is-batch-request"] = "True"
      h["x-ms-cosmos-batch-atomic"] = "False"
      h["x-ms-cosmos-batch-continue-on-error"] = "True"
      local tab = line:find("\t", 1, true)
      if tab then
        h["x-ms-documentdb-partitionkeyrangeid"] = line:sub(1, tab - 1)
        body = line:sub(tab + 1)
      else
        body = line
      end
    end
    n = n + 1
    reqs[n] = wrk.format("POST", wrk.path, h, body)
  end
  -- threads start at different places of the data set
  i = math.floor(((tid or 0) * n) / nthreads) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_p50_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
