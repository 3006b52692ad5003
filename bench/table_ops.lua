-- wrk script for bench/table.sh: one DynamoDB operation per request against a table made by
-- table_setup.py. Environment: TABLE_OP (put | get | query | update), TABLE_NAME, TABLE_ITEMS
-- (keys k1..kN, sort key 0, ~1 KB each; partition "q" holds 100 items for query). Sends the
-- Authorization and X-Amz-Date headers that dynalite (like AWS) requires; nothing checks the
-- signature. At the end prints one BENCH_RESULT line (latencies in microseconds).
local op = os.getenv("TABLE_OP") or "get"
local table_name = os.getenv("TABLE_NAME") or "bench"
local items = tonumber(os.getenv("TABLE_ITEMS") or "1000")
local pad = string.rep("x", 1000)
local targets = { put = "PutItem", get = "GetItem", query = "Query", update = "UpdateItem" }

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810." .. targets[op]
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/" ..
  "aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000"
wrk.headers["X-Amz-Date"] = "20260101T000000Z"

request = function()
  local key = math.random(items)
  local body
  if op == "put" then
    body = string.format('{"TableName":"%s","Item":{"pk":{"S":"k%d"},"sk":{"N":"0"},' ..
      '"d":{"S":"%s"}}}', table_name, key, pad)
  elseif op == "get" then
    body = string.format('{"TableName":"%s","Key":{"pk":{"S":"k%d"},"sk":{"N":"0"}}}',
      table_name, key)
  elseif op == "query" then
    body = string.format('{"TableName":"%s","KeyConditionExpression":"pk = :p",' ..
      '"ExpressionAttributeValues":{":p":{"S":"q"}},"Limit":100}', table_name)
  else
    body = string.format('{"TableName":"%s","Key":{"pk":{"S":"k%d"},"sk":{"N":"0"}},' ..
      '"UpdateExpression":"SET c = if_not_exists(c, :z) + :one",' ..
      '"ExpressionAttributeValues":{":z":{"N":"0"},":one":{"N":"1"}}}', table_name, key)
  end
  return wrk.format(nil, "/", nil, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH_RESULT p50_us=%.1f p99_us=%.1f requests=%d duration_us=%d rps=%.1f " ..
    "status_errors=%d socket_errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6), errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
