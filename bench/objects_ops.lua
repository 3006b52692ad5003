-- wrk script for bench/objects.sh: GET or PUT of one object. Environment: OBJ_METHOD (GET | PUT),
-- OBJ_FILE (the body of a PUT). Sends an S3 SigV4-shaped Authorization header (never verified).
-- At the end prints one BENCH_RESULT line (latencies in microseconds).
local method = os.getenv("OBJ_METHOD") or "GET"
wrk.method = method
if method == "PUT" then
  local f = assert(io.open(os.getenv("OBJ_FILE"), "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/octet-stream"
  wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/" ..
    "aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000"
  wrk.headers["X-Amz-Date"] = "20260101T000000Z"
  wrk.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH_RESULT p50_us=%d p99_us=%d rps=%.1f requests=%d status_errors=%d socket_errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6),
    summary.requests, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
