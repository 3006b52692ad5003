#!/usr/bin/env bash
# gateway: what a route through the API-Gateway-compatible front costs, beside its baselines in
# the same run.
#
#   bench/gateway.sh [--quick] [--build-dir DIR]
#
# wrk (bench/invoke.lua: POST {}) at 1 and 64 connections against
#   - gateway: a quick-created HTTP API ($default route, $default stage) in front of the python
#     no-op (bench/functions/python_noop), POST http://127.0.0.1:PORT/_api/{apiId}/bench;
#   - mock:    a MOCK route of the same API (POST /mock, answered by the gateway itself): the
#     gateway's own cost per request, to compare with echo;
#   - invoke:  the Lambda Invoke API of the same function (POST /2015-03-31/functions/.../invocations);
#   - nginx:   nginx-light as a reverse proxy in front of bench_echo_server (a gateway peer);
#   - echo:    bench_echo_server alone (the floor of any HTTP hop).
# Printed: p50/p99 at 1 connection, requests/s at 64, and the ratios that issue #8 targets
# (gateway adds <= 50 us p50 over the direct invoke; throughput >= 0.8x), reported, never asserted.
# The script fails only when something could not be started or answered with errors.
# HANEUL_BENCH_KEEP=1 keeps the scratch folder; HANEUL=PATH runs another binary.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build_dir="$root/build"
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --build-dir) build_dir=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick] [--build-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done
duration=5
[ "$quick" = 1 ] && duration=1

haneul="${HANEUL:-$build_dir/cli/haneul}"
echo_server="$build_dir/bench/bench_echo_server"
nginx=${NGINX:-/usr/sbin/nginx}
python=/usr/bin/python3
bench_name=gateway
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bench_pin
for tool in wrk curl zip base64 awk; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done
for file in "$haneul" "$echo_server"; do
  [ -x "$file" ] || die "$file is missing: build the project first"
done
chmod 755 "$work"  # nginx's workers read their configuration from it

declare -A p50 p99 rps
errors=0
run_wrk() {  # LABEL URL CONNECTIONS
  local label=$1 url=$2 connections=$3 out="$work/wrk-$1-c$3.txt" result
  "${pin_client[@]}" wrk -t1 -c"$connections" -d"${duration}s" --latency --timeout 10s -s "$here/invoke.lua" "$url" \
    >"$out" 2>&1 || true
  result=$(grep '^BENCH_RESULT' "$out" || true)
  [ -n "$result" ] || { sed 's/^/    /' "$out" >&2; die "wrk failed for $label"; }
  local status_errors socket_errors
  status_errors=$(sed -E 's/.*status_errors=([0-9]+).*/\1/' <<<"$result")
  socket_errors=$(sed -E 's/.*socket_errors=([0-9]+).*/\1/' <<<"$result")
  errors=$((errors + status_errors + socket_errors))
  if [ "$connections" = 1 ]; then
    p50[$label]=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$result")
    p99[$label]=$(sed -E 's/.*p99_us=([0-9.]+).*/\1/' <<<"$result")
  else
    rps[$label]=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$result")
  fi
}
measure() {  # LABEL URL
  log "measuring $1"
  # Warm-up at 64 connections, so that every environment the runs need exists. Server and
  # functions share one pinned CPU: a cold start at 64 connections can take over wrk's default 2 s
  # timeout, which is a slow answer, not a failed one (hence --timeout 10s, as invoke_scale).
  "${pin_client[@]}" wrk -t1 -c64 -d3s --timeout 10s -s "$here/invoke.lua" "$2" >/dev/null 2>&1 || true
  run_wrk "$1" "$2" 1
  run_wrk "$1" "$2" 64
}

# ---------------------------------------------------------------- servers
start_group "$work/echo.log" "$echo_server" --port 0
echo_port=$(wait_for_port "$work/echo.log" "$started_pid") || die "bench_echo_server did not start"

nginx_skip=""
if [ -x "$nginx" ]; then
  nginx_port=$(free_port)
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream echo { server 127.0.0.1:$echo_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  start_group "$work/nginx.log" "$nginx" -e "$work/nginx-error.log" -c "$work/nginx.conf"
  for i in $(seq 200); do
    curl -sf -o /dev/null -X POST -d '{}' "http://127.0.0.1:$nginx_port/" && break
    sleep 0.05
  done
else
  nginx_skip="$nginx is not installed (Debian nginx-light)"
fi

start_group "$work/haneul.log" "$haneul" serve --port 0 --data "$work/data" --log-level warn
haneul_port=$(wait_for_port "$work/haneul.log" "$started_pid") || die "haneul did not start"
base="http://127.0.0.1:$haneul_port"

(cd "$here/functions/python_noop" && zip -q "$work/noop.zip" app.py)
printf '{"FunctionName":"noop","Runtime":"python3.12","Handler":"app.handler","Role":"arn:aws:iam::000000000000:role/bench","MemorySize":128,"Timeout":30,"Code":{"ZipFile":"%s"}}' \
  "$(base64 -w0 "$work/noop.zip")" >"$work/create.json"
status=$(curl -sS -o "$work/out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "@$work/create.json" "$base/2015-03-31/functions")
[ "$status" = 201 ] || die "CreateFunction answered $status: $(head -c 300 "$work/out")"
api_id=$(curl -sS -H 'Content-Type: application/json' \
  -d '{"name":"bench","protocolType":"HTTP","target":"arn:aws:lambda:us-east-1:000000000000:function:noop"}' \
  "$base/v2/apis" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["apiId"])')
gateway_url="$base/_api/$api_id/bench"
invoke_url="$base/2015-03-31/functions/noop/invocations"
# A MOCK integration answering {} with 200: the data plane without any invoke.
mock_integration=$(curl -sS -H 'Content-Type: application/json' \
  -d '{"integrationType":"MOCK","requestTemplates":{"application/json":"{\"statusCode\": 200}"}}' \
  "$base/v2/apis/$api_id/integrations" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["integrationId"])')
curl -sSf -o /dev/null -H 'Content-Type: application/json' \
  -d '{"integrationResponseKey":"$default","responseTemplates":{"application/json":"{}"}}' \
  "$base/v2/apis/$api_id/integrations/$mock_integration/integrationresponses" || die "CreateIntegrationResponse failed"
curl -sSf -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"routeKey\":\"POST /mock\",\"target\":\"integrations/$mock_integration\"}" \
  "$base/v2/apis/$api_id/routes" || die "CreateRoute failed"
mock_url="$base/_api/$api_id/mock"
# The C++ no-op behind a route of its own: the same pair without python decoding the bigger
# event, i.e. what the gateway itself adds.
cp "$build_dir/examples/provided-noop/bootstrap" "$work/bootstrap"
(cd "$work" && zip -q cppnoop.zip bootstrap)
printf '{"FunctionName":"cppnoop","Runtime":"provided.al2023","Handler":"x","Role":"arn:aws:iam::000000000000:role/bench","MemorySize":128,"Timeout":30,"Code":{"ZipFile":"%s"}}' \
  "$(base64 -w0 "$work/cppnoop.zip")" >"$work/create.json"
status=$(curl -sS -o "$work/out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "@$work/create.json" "$base/2015-03-31/functions")
[ "$status" = 201 ] || die "CreateFunction (cppnoop) answered $status: $(head -c 300 "$work/out")"
cpp_integration=$(curl -sS -H 'Content-Type: application/json' \
  -d '{"integrationType":"AWS_PROXY","integrationUri":"arn:aws:lambda:us-east-1:000000000000:function:cppnoop","payloadFormatVersion":"2.0"}' \
  "$base/v2/apis/$api_id/integrations" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["integrationId"])')
curl -sSf -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"routeKey\":\"POST /cpp\",\"target\":\"integrations/$cpp_integration\"}" \
  "$base/v2/apis/$api_id/routes" || die "CreateRoute (cpp) failed"
gateway_cpp_url="$base/_api/$api_id/cpp"
invoke_cpp_url="$base/2015-03-31/functions/cppnoop/invocations"
for url in "$gateway_url" "$invoke_url" "$mock_url" "$gateway_cpp_url" "$invoke_cpp_url"; do
  status=$(curl -sS -o "$work/out" -w '%{http_code}' -X POST -d '{}' "$url")
  [ "$status" = 200 ] || die "$url answered $status: $(head -c 300 "$work/out")"
done

# ---------------------------------------------------------------- runs
measure echo "http://127.0.0.1:$echo_port/"
[ -z "$nginx_skip" ] && measure nginx "http://127.0.0.1:$nginx_port/"
measure invoke "$invoke_url"
measure gateway "$gateway_url"
measure mock "$mock_url"
measure invoke_cpp "$invoke_cpp_url"
measure gateway_cpp "$gateway_cpp_url"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%+.0f", a - b }'; }
echo
echo "gateway bench ($duration s per wrk run; python no-op and C++ no-op, MemorySize 128)"
printf '%-12s %12s %12s %14s\n' "target" "p50 us (c1)" "p99 us (c1)" "req/s (c64)"
for label in echo nginx invoke gateway mock invoke_cpp gateway_cpp; do
  [ -n "${p50[$label]:-}" ] || { printf '%-10s %s\n' "$label" "skipped: $nginx_skip"; continue; }
  printf '%-12s %12s %12s %14s\n' "$label" "${p50[$label]}" "${p99[$label]}" "${rps[$label]}"
done
echo
echo "gateway over invoke, C++ no-op: p50 $(delta "${p50[gateway_cpp]}" "${p50[invoke_cpp]}") us (target <= +50), throughput $(ratio "${rps[gateway_cpp]}" "${rps[invoke_cpp]}")x (target >= 0.8)"
echo "gateway over invoke, python no-op (python also decodes the ~1 KB event): p50 $(delta "${p50[gateway]}" "${p50[invoke]}") us, throughput $(ratio "${rps[gateway]}" "${rps[invoke]}")x"
echo "mock over echo:      p50 $(delta "${p50[mock]}" "${p50[echo]}") us, throughput $(ratio "${rps[mock]}" "${rps[echo]}")x (the gateway's own cost)"
if [ -z "$nginx_skip" ]; then
  echo "nginx over echo:     p50 $(delta "${p50[nginx]}" "${p50[echo]}") us, throughput $(ratio "${rps[nginx]}" "${rps[echo]}")x"
fi
[ "$errors" = 0 ] || die "$errors requests failed (see wrk outputs; HANEUL_BENCH_KEEP=1 keeps them)"
