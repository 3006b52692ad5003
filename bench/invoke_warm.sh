#!/usr/bin/env bash
# invoke_warm: what one invocation costs on haneul, each figure beside its baseline in the same run.
#
#   bench/invoke_warm.sh [--quick] [--build-dir DIR]
#
# Warm invokes through the Lambda Invoke API (POST /2015-03-31/functions/NAME/invocations, body
# {}), measured with wrk: p50/p99 latency at 1 connection, throughput at 16 connections, for
#   - bench_echo_server, a bare Boost.Beast echo: the floor for any HTTP hop;
#   - haneul, C++ no-op (provided.al2023, examples/provided-noop built with runtimes/cpp);
#   - haneul, python no-op (python3.12, bench/functions/python_noop/app.py);
#   - serverless-offline 13 on serverless 3, the same python handler through its own Invoke API.
# Cold start: time to the first answer of a freshly created python function, against a bare
# start of the same bootstrap and handler on the bare interpreter (/usr/bin/python3), no sandbox.
#
# Targets are checked and reported, never asserted: these machines move by +-30%, and a CI test
# must not depend on that. The script fails only when something could not be run or answered
# with errors. Only 127.0.0.1 is used. Full run: 5 s per wrk run, under 3 minutes in all (plus
# ~40 s for the one-time npm install of serverless-offline). --quick: 1 s runs, fewer cold starts;
# it still installs and runs serverless-offline (npm install bounded by a timeout) and says so
# plainly when that baseline is skipped, and why. HANEUL_BENCH_SKIP_OFFLINE=1 skips it on purpose;
# HANEUL_BENCH_KEEP=1 keeps the scratch folder (server logs, raw wrk outputs); HANEUL=PATH runs
# another haneul binary than BUILD_DIR/cli/haneul.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build_dir="$root/build"
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --build-dir) build_dir=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick] [--build-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done

if [ "$quick" = 1 ]; then
  duration=1 warmup=1 cold_rounds=3 mode="quick: 1 s per wrk run"
else
  duration=5 warmup=1 cold_rounds=15 mode="full: 5 s per wrk run"
fi
npm_timeout=${HANEUL_BENCH_NPM_TIMEOUT:-240}
# The functions' MemorySize. Under the namespace sandbox CPU follows memory as on Lambda
# (1769 MB = one full vCPU; 256 MB would be 14% of one), while the baselines run unconstrained:
# one full vCPU is the like-for-like comparison. HANEUL_BENCH_MEMORY changes it.
memory_mb=${HANEUL_BENCH_MEMORY:-1769}
# The sandbox backend of the server under test (default: the server's own default).
sandbox_args=()
[ -n "${HANEUL_BENCH_SANDBOX:-}" ] && sandbox_args=(--sandbox "$HANEUL_BENCH_SANDBOX")

haneul="${HANEUL:-$build_dir/cli/haneul}"
echo_server="$build_dir/bench/bench_echo_server"
bootstrap="$build_dir/examples/provided-noop/bootstrap"
python_function="$here/functions/python_noop/app.py"
system_python=/usr/bin/python3  # the interpreter haneul's python runtime runs on

bench_name=invoke_warm
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bench_pin

for tool in wrk curl zip base64 awk; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done
for file in "$haneul" "$echo_server" "$bootstrap"; do
  [ -x "$file" ] || die "$file is missing: build the project first (cmake --build $build_dir)"
done
[ -x "$system_python" ] || die "$system_python is missing"

# ---------------------------------------------------------------- wrk measurements
declare -A p50 p99 rps errors skipped
failures=()

# run_wrk LABEL URL CONNECTIONS SECONDS: sets $wrk_result to the BENCH_RESULT line.
run_wrk() {
  local label=$1 url=$2 connections=$3 seconds=$4
  local out="$work/wrk-$label-c$connections.txt"
  "${pin_client[@]}" wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$here/invoke.lua" "$url" \
    >"$out" 2>&1 || true
  wrk_result=$(grep '^BENCH_RESULT' "$out" || true)
  if [ -z "$wrk_result" ]; then
    sed 's/^/    /' "$out" >&2
    return 1
  fi
}

# measure LABEL URL: warm-up at 16 connections (so every environment it needs exists), then
# latency at 1 connection and throughput at 16.
measure() {
  local label=$1 url=$2
  log "measuring $label"
  run_wrk "$label-warmup" "$url" 16 "$warmup" || true
  if ! run_wrk "$label" "$url" 1 "$duration"; then skipped[$label]="wrk failed"; return 1; fi
  p50[$label]=$(field p50_us "$wrk_result")
  p99[$label]=$(field p99_us "$wrk_result")
  local errors_c1=$(( $(field status_errors "$wrk_result") + $(field socket_errors "$wrk_result") ))
  if ! run_wrk "$label" "$url" 16 "$duration"; then skipped[$label]="wrk failed"; return 1; fi
  rps[$label]=$(field rps "$wrk_result")
  errors[$label]=$(( errors_c1 + $(field status_errors "$wrk_result") + $(field socket_errors "$wrk_result") ))
}

# ---------------------------------------------------------------- the Lambda API of haneul
# lambda_api METHOD PATH [JSON_FILE]: prints the HTTP status; the body lands in $work/response.
lambda_api() {
  local method=$1 path=$2 data=${3:-}
  local args=(-sS -o "$work/response" -D "$work/response-headers" -w '%{http_code}' -X "$method"
              -H 'Content-Type: application/json')
  [ -n "$data" ] && args+=(--data-binary "@$data")
  curl "${args[@]}" "http://127.0.0.1:$haneul_port$path" || echo 000
}

# create_function NAME RUNTIME HANDLER ZIP
create_function() {
  local name=$1 runtime=$2 handler=$3 zip=$4
  {
    printf '{"FunctionName":"%s","Runtime":"%s","Handler":"%s",' "$name" "$runtime" "$handler"
    printf '"Role":"arn:aws:iam::000000000000:role/haneul-bench","MemorySize":%s,"Timeout":30,' \
      "$memory_mb"
    printf '"Code":{"ZipFile":"%s"}}' "$(base64 -w0 "$zip")"
  } >"$work/create.json"
  local status
  status=$(lambda_api POST /2015-03-31/functions "$work/create.json")
  if [ "$status" != 201 ]; then
    log "CreateFunction $name answered $status: $(head -c 400 "$work/response")"
    return 1
  fi
}

# invoke_check NAME EXPECTED_BODY: one invoke that must answer 200 with that body and no error.
invoke_check() {
  local name=$1 expected=$2 status
  echo '{}' >"$work/event.json"
  status=$(lambda_api POST "/2015-03-31/functions/$name/invocations" "$work/event.json")
  if [ "$status" != 200 ] || grep -qi '^x-amz-function-error' "$work/response-headers" ||
     [ "$(cat "$work/response")" != "$expected" ]; then
    log "invoke of $name answered $status: $(head -c 400 "$work/response")"
    return 1
  fi
}

# ---------------------------------------------------------------- the run
log "mode: $mode; build: $build_dir"
load_at_start=$(cut -d' ' -f1 /proc/loadavg)

start_group "$work/echo.log" "$echo_server" --port 0
echo_port=$(wait_for_port "$work/echo.log" "$started_pid") || die "bench_echo_server did not start"

mkdir -p "$work/data"
start_group "$work/haneul.log" "$haneul" serve --port 0 --data "$work/data" "${sandbox_args[@]}"
haneul_pid=$started_pid
haneul_port=$(wait_for_port "$work/haneul.log" "$haneul_pid") || die "haneul serve did not start"
log "haneul serve on 127.0.0.1:$haneul_port, echo server on 127.0.0.1:$echo_port"

# Packages: the python file at the zip root; the bootstrap at the zip root, executable.
(cd "$(dirname "$python_function")" && zip -q -X "$work/python.zip" app.py)
cp "$bootstrap" "$work/bootstrap" && chmod 755 "$work/bootstrap"
(cd "$work" && zip -q -X cpp.zip bootstrap)

invoke_url() { echo "http://127.0.0.1:$haneul_port/2015-03-31/functions/$1/invocations"; }

measure echo "http://127.0.0.1:$echo_port/" || failures+=("the echo server could not be measured")

if create_function bench-cpp-noop provided.al2023 bootstrap "$work/cpp.zip" &&
   invoke_check bench-cpp-noop '{}'; then
  measure haneul_cpp "$(invoke_url bench-cpp-noop)" || failures+=("haneul C++ no-op: wrk failed")
else
  skipped[haneul_cpp]="deploy or first invoke failed"
  failures+=("haneul C++ no-op could not be deployed or invoked")
fi

if create_function bench-python-noop python3.12 app.handler "$work/python.zip" &&
   invoke_check bench-python-noop '{}'; then
  measure haneul_python "$(invoke_url bench-python-noop)" || failures+=("haneul python no-op: wrk failed")
else
  skipped[haneul_python]="deploy or first invoke failed"
  failures+=("haneul python no-op could not be deployed or invoked")
fi

if start_serverless_offline "$python_function"; then
  measure offline_python "$sls_url" || sls_skip_reason="wrk failed against serverless-offline"
fi
[ -n "$sls_skip_reason" ] && skipped[offline_python]=$sls_skip_reason

# Cold starts, one round at a time: a bare interpreter start, then the first invoke of a freshly
# created function (creation is not timed; curl's time_total covers the invoke alone).
log "cold starts: $cold_rounds rounds"
bootstrap_py="$root/runtimes/python3/bootstrap.py"
: >"$work/cold-bare.txt"
: >"$work/cold-haneul.txt"
: >"$work/cold-pass.txt"
cold_failed=""
for round in $(seq "$cold_rounds"); do
  # The same bootstrap and handler on a bare interpreter, no sandbox, no server: it initialises,
  # imports the handler, finds no Runtime API (a closed port) and exits.
  t0=$EPOCHREALTIME
  _HANDLER=app.hello LAMBDA_TASK_ROOT="$(dirname "$python_function")" \
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:1 "$system_python" "$bootstrap_py" >/dev/null 2>&1 || true
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$work/cold-bare.txt"
  t0=$EPOCHREALTIME
  "$system_python" -c pass
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$work/cold-pass.txt"

  name="bench-cold-$round"
  if ! create_function "$name" python3.12 app.hello "$work/python.zip"; then
    cold_failed="CreateFunction failed"; break
  fi
  seconds=$(curl -sS -o "$work/cold-response" -w '%{http_code} %{time_total}' -X POST \
              -H 'Content-Type: application/json' --data-binary '{}' "$(invoke_url "$name")" || true)
  if [ "${seconds%% *}" != 200 ] || [ "$(cat "$work/cold-response")" != '{"message": "hello"}' ]; then
    cold_failed="first invoke of $name answered ${seconds%% *}: $(head -c 300 "$work/cold-response")"
    break
  fi
  awk -v s="${seconds#* }" 'BEGIN { printf "%.3f\n", s * 1000 }' >>"$work/cold-haneul.txt"
  lambda_api DELETE "/2015-03-31/functions/$name" >/dev/null
done
cold_bare=$(median <"$work/cold-bare.txt")
cold_pass=$(median <"$work/cold-pass.txt")
if [ -n "$cold_failed" ]; then
  cold_haneul=""
  failures+=("python cold start: $cold_failed")
else
  cold_haneul=$(median <"$work/cold-haneul.txt")
fi

kill -0 "$haneul_pid" 2>/dev/null || failures+=("haneul serve exited during the run (log below)")
for label in haneul_cpp haneul_python; do
  if [ -n "${errors[$label]:-}" ] && [ "${errors[$label]}" != 0 ]; then
    failures+=("$label: wrk counted ${errors[$label]} failed requests (non-2xx or socket errors)")
  fi
done

# ---------------------------------------------------------------- report
row() {  # row LABEL TITLE BASELINE_LABEL
  local label=$1 title=$2 base=${3:-}
  if [ -n "${skipped[$label]:-}" ] || [ -z "${p50[$label]:-}" ]; then
    printf '  %-38s skipped: %s\n' "$title" "${skipped[$label]:-not measured}"
    return
  fi
  local extra=""
  if [ -n "$base" ] && [ -n "${p50[$base]:-}" ]; then
    extra=$(printf '  x%s / x%s / x%s' "$(ratio "${p50[$label]}" "${p50[$base]}")" \
              "$(ratio "${p99[$label]}" "${p99[$base]}")" "$(ratio "${rps[$label]}" "${rps[$base]}")")
  fi
  if [ "${errors[$label]:-0}" != 0 ]; then extra+="  (${errors[$label]} failed requests)"; fi
  printf '  %-38s %9s %9s %10.0f%s\n' "$title" "$(ms "${p50[$label]}")" "$(ms "${p99[$label]}")" \
    "${rps[$label]}" "$extra"
}

echo
backend=$(grep -o 'sandbox [a-z]*' "$work/haneul.log" | head -1)
echo "invoke_warm ($mode; wrk -t1, 127.0.0.1; $placement; functions of ${memory_mb} MB; $backend)"
echo "Load average (1 min) at start: $load_at_start, at end: $(cut -d' ' -f1 /proc/loadavg) (other work on the machine skews every figure; the ratios less so)"
echo "Warm invoke, POST {} through the Invoke API. Ratios: this / its baseline (p50 / p99 / req/s)."
printf '  %-38s %9s %9s %10s\n' "" "p50 ms" "p99 ms" "req/s"
printf '  %-38s %9s %9s %10s\n' "" "(1 conn)" "(1 conn)" "(16 conn)"
row echo "Beast echo server (baseline)"
row haneul_cpp "haneul C++ no-op (provided.al2023)" echo
row offline_python "serverless-offline python (baseline)"
row haneul_python "haneul python no-op (python3.12)" offline_python
if [ -n "${p50[haneul_python]:-}" ] && [ -n "${p50[echo]:-}" ]; then
  printf '  %-38s x%s / x%s / x%s\n' "  haneul python / echo server" \
    "$(ratio "${p50[haneul_python]}" "${p50[echo]}")" "$(ratio "${p99[haneul_python]}" "${p99[echo]}")" \
    "$(ratio "${rps[haneul_python]}" "${rps[echo]}")"
fi
echo
echo "Cold start: median of $cold_rounds, ms"
printf "  %-38s %9s\n" "bare bootstrap start (baseline)" "$cold_bare"
if [ -n "$cold_haneul" ]; then
  printf '  %-38s %9s  x%s\n' "haneul python first invoke" "$cold_haneul" "$(ratio "$cold_haneul" "$cold_bare")"
else
  printf '  %-38s skipped: %s\n' "haneul python first invoke" "$cold_failed"
fi
echo "  (baseline: $system_python runtimes/python3/bootstrap.py with the same handler, until it finds no Runtime API and exits)"
printf '  %-38s %9s  (for reference: the interpreter alone)\n' "bare $system_python -c pass" "$cold_pass"
echo
echo "Targets (reported, not asserted):"
report_target() {  # TITLE VALUE BASELINE FACTOR UNIT WHY_MISSING
  local title=$1 value=$2 base=$3 factor=$4 unit=$5 why=$6
  if [ -z "$value" ] || [ -z "$base" ]; then
    printf '  [SKIP] %s: %s\n' "$title" "$why"
    return
  fi
  local r verdict
  r=$(ratio "$value" "$base")
  verdict=$(awk -v r="$r" -v f="$factor" 'BEGIN { print (r + 0 <= f + 0) ? "MET" : "MISSED" }')
  printf '  [%s] %s: %s %s vs %s %s = x%s (target <= x%s)\n' "$verdict" "$title" \
    "$value" "$unit" "$base" "$unit" "$r" "$factor"
}
report_target "C++ warm p50 <= 3x the echo round trip" \
  "$(ms "${p50[haneul_cpp]:-}" | grep -v n/a || true)" "$(ms "${p50[echo]:-}" | grep -v n/a || true)" 3 ms \
  "${skipped[haneul_cpp]:-${skipped[echo]:-not measured}}"
report_target "python warm p50 <= 0.5x serverless-offline's" \
  "$(ms "${p50[haneul_python]:-}" | grep -v n/a || true)" "$(ms "${p50[offline_python]:-}" | grep -v n/a || true)" 0.5 ms \
  "${skipped[haneul_python]:-${skipped[offline_python]:+serverless-offline baseline skipped: ${skipped[offline_python]}}}"
report_target "python cold start <= 1.5x a bare python start" "$cold_haneul" "$cold_bare" 1.5 ms \
  "${cold_failed:-not measured}"

if [ -n "$sls_skip_reason" ]; then
  echo
  echo "NOTE: the serverless-offline baseline was skipped: $sls_skip_reason."
fi
if [ ${#failures[@]} -gt 0 ]; then
  echo
  echo "FAILED to run parts of the benchmark:"
  printf '  - %s\n' "${failures[@]}"
  echo "haneul serve log (last 40 lines):"
  tail -40 "$work/haneul.log" | sed 's/^/    /'
  exit 1
fi
