-- wrk script for the Invoke API (and the echo server): POST {} and, when the run is done, one
-- machine-readable line that invoke_warm.sh reads (latencies in microseconds).
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH_RESULT p50_us=%.1f p99_us=%.1f requests=%d duration_us=%d rps=%.1f " ..
    "status_errors=%d socket_errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6), errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
