-- wrk script for benchmarks/run: POSTs the JSON body in $BENCH_BODY_FILE (read once per thread),
-- with `Authorization: $BENCH_AUTH` when set, and prints one machine-readable result line.
--
-- wrk counts socket errors (connect/read/write/timeout) and responses with status > 399
-- (errors.status); benchmarks/run refuses a row when any of them is non-zero. Latencies are in µs.
local path = os.getenv("BENCH_BODY_FILE")
if not path or path == "" then error("BENCH_BODY_FILE is not set") end
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
