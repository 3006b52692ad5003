# bench/lib.sh: what the benchmark scripts share. Source it after setting `bench_name` (the prefix
# of log lines and of the scratch folder); it makes `$work` (removed at exit unless
# HANEUL_BENCH_KEEP=1) and stops at exit every server started with start_group.
#
# Functions: log, die, bench_pin (servers on CPU 1, the load generator on CPU 0), start_group
# (a command in a process group of its own: sets $started_pid), wait_for_port, free_port, field
# (a value of a wrk BENCH_RESULT line), ratio, ms, median, start_serverless_offline.
# shellcheck shell=bash

bench_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_python=/usr/bin/python3  # Debian's: the interpreter haneul's python runtime runs on

log() { echo "$bench_name: $*" >&2; }
die() { log "error: $*"; exit 1; }

work=$(mktemp -d "/tmp/haneul-bench-$bench_name.XXXXXX")
process_groups=()  # each started with setsid: its id is its process group's
bench_cleanup() {
  local pgid i
  for pgid in "${process_groups[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  for i in $(seq 30); do
    local alive=0
    for pgid in "${process_groups[@]}"; do kill -0 -- "-$pgid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pgid in "${process_groups[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
  if [ "${HANEUL_BENCH_KEEP:-0}" = 1 ]; then log "kept logs and outputs in $work"; else rm -rf "$work"; fi
}
trap bench_cleanup EXIT

# Placement: every server under test (and what it spawns) on CPU 1, the load generator on CPU 0,
# the same for baselines and haneul. Unpinned, the scheduler sometimes puts wrk and a server on
# one CPU and sometimes not, which moved the echo baseline between 20 and 60 us from run to run.
# HANEUL_BENCH_PIN=0 runs unpinned. Scripts that measure scaling across cores do not call it.
pin_server=() pin_client=()
placement="unpinned"
bench_pin() {
  if [ "${HANEUL_BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin_server=(taskset -c 1) pin_client=(taskset -c 0)
    placement="servers pinned to CPU 1, the load generator to CPU 0"
  fi
}

# start_group LOGFILE COMMAND...: starts it in a session of its own, output to LOGFILE.
start_group() {
  local logfile=$1; shift
  setsid "${pin_server[@]}" "$@" >"$logfile" 2>&1 </dev/null &
  started_pid=$!
  disown "$started_pid"  # no "Killed" notices from the cleanup
  process_groups+=("$started_pid")
}

# wait_for_port LOGFILE PID [PATTERN] [SECONDS]: waits until LOGFILE shows PATTERN (default
# "listening on http://127.0.0.1:PORT") and prints PORT; shows the log if PID died first.
wait_for_port() {
  local logfile=$1 pid=$2 pattern=${3:-'listening on http://127\.0\.0\.1:[0-9]+'} seconds=${4:-30}
  local i line
  for i in $(seq $((seconds * 20))); do
    line=$(grep -Eo "$pattern" "$logfile" 2>/dev/null | head -1 || true)
    if [ -n "$line" ]; then echo "${line##*:}"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { sed 's/^/    /' "$logfile" >&2; return 1; }
    sleep 0.05
  done
  sed 's/^/    /' "$logfile" >&2
  return 1
}

free_port() {
  "$bench_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a";
                                   else if (a / b < 0.1) printf "%.3f", a / b; else printf "%.2f", a / b }'
}
ms() { awk -v us="$1" 'BEGIN { if (us == "") print "n/a"; else printf "%.3f", us / 1000 }'; }

# start_serverless_offline PYTHON_HANDLER_FILE: installs serverless@3 + serverless-offline@13
# into bench/.serverless-offline (npm, once, at most $npm_timeout s, default 300) and starts it
# serving that handler as function `noop` (bench/serverless-offline/serverless.yml). Sets
# $sls_url (its Invoke URL) or, on failure, $sls_skip_reason and returns 1.
sls_skip_reason=""
start_serverless_offline() {
  local handler_file=$1 sls_source="$bench_here/serverless-offline" sls_dir="$bench_here/.serverless-offline"
  if [ "${HANEUL_BENCH_SKIP_OFFLINE:-0}" = 1 ]; then
    sls_skip_reason="HANEUL_BENCH_SKIP_OFFLINE=1 was set"; return 1
  fi
  command -v npm >/dev/null || { sls_skip_reason="npm is not installed"; return 1; }
  command -v node >/dev/null || { sls_skip_reason="node is not installed"; return 1; }
  mkdir -p "$sls_dir"
  if ! cmp -s "$sls_source/package.json" "$sls_dir/package.json" ||
     [ ! -x "$sls_dir/node_modules/.bin/serverless" ] ||
     [ ! -d "$sls_dir/node_modules/serverless-offline" ]; then
    log "installing serverless@3 and serverless-offline@13 into $sls_dir (npm, at most ${npm_timeout:-300} s)"
    cp "$sls_source/package.json" "$sls_dir/package.json"
    rm -f "$sls_dir/package-lock.json"
    if ! (cd "$sls_dir" && timeout "${npm_timeout:-300}" npm install --no-audit --no-fund \
            --loglevel=error >"$work/npm.log" 2>&1); then
      sed 's/^/    /' "$work/npm.log" | tail -20 >&2
      rm -f "$sls_dir/package.json"  # so that the next run tries again
      sls_skip_reason="npm install of serverless@3 / serverless-offline@13 failed or took over ${npm_timeout:-300} s"
      return 1
    fi
  fi
  cp "$sls_source/serverless.yml" "$handler_file" "$sls_dir/"
  # serverless-offline runs `python3` from PATH; make that Debian's, the one haneul runs.
  mkdir -p "$work/python-bin"
  ln -sf "$bench_python" "$work/python-bin/python3"
  local lambda_port http_port websocket_port alb_port port
  lambda_port=$(free_port) http_port=$(free_port) websocket_port=$(free_port) alb_port=$(free_port)
  # Serverless v3 without network: no telemetry, no update notifications, no interactive setup.
  start_group "$work/serverless-offline.log" env -C "$sls_dir" \
    PATH="$work/python-bin:$PATH" SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
    SLS_DEPRECATION_DISABLE='*' SLS_INTERACTIVE_SETUP_DISABLE=1 CI=1 \
    node_modules/.bin/serverless offline start --host 127.0.0.1 --lambdaPort "$lambda_port" \
    --httpPort "$http_port" --websocketPort "$websocket_port" --albPort "$alb_port"
  if ! port=$(wait_for_port "$work/serverless-offline.log" "$started_pid" \
              'Offline \[http for lambda\] listening on http://127\.0\.0\.1:[0-9]+' 60); then
    sls_skip_reason="serverless-offline did not start (its log is above)"
    return 1
  fi
  sls_url="http://127.0.0.1:$port/2015-03-31/functions/haneul-bench-dev-noop/invocations"
  if [ "$(curl -sS -X POST --data-binary '{}' "$sls_url" || true)" != "{}" ]; then
    sls_skip_reason="serverless-offline did not answer {} to the first invoke"
    return 1
  fi
}
