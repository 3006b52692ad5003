#!/usr/bin/env bash
# table: what the DynamoDB-compatible table service costs, each figure beside its baselines in
# the same run.
#
#   bench/table.sh [--quick] [--build-dir DIR]
#
# PutItem, GetItem, Query (100-item pages) and UpdateItem with ~1 KB items, measured with wrk
# (bench/table_ops.lua): p50/p99 at 1 connection and throughput at 64, against
#   - haneul serve (the table service with its default durability: group-committed fsync), and
#     for PutItem also with --table-sync off (acknowledged once the WAL is written);
#   - dynalite 4 (npm), the usual local DynamoDB emulator, in memory, installed by npm into
#     bench/table_dynalite/node_modules (bounded by a timeout; skipped, saying why, when that
#     fails);
#   - bench_echo_server, a bare Boost.Beast echo answering the GetItem request: the HTTP floor.
# Targets (issue #7), reported and never asserted: GetItem and PutItem at 64 connections >= 0.5x
# the echo floor, p50 at 1 connection <= 2x the echo floor's. The script fails only when
# something could not be run or answered with errors. --quick: 1 s runs (the bench_table_smoke
# ctest). HANEUL_BENCH_SKIP_DYNALITE=1 skips dynalite; HANEUL_BENCH_KEEP=1 keeps the scratch folder.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build_dir="$root/build"
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --build-dir) build_dir=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick] [--build-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then duration=1 mode="quick: 1 s per wrk run"; else duration=5 mode="full: 5 s per wrk run"; fi
npm_timeout=${HANEUL_BENCH_NPM_TIMEOUT:-240}
items=1000
haneul="${HANEUL:-$build_dir/cli/haneul}"
echo_server="$build_dir/bench/bench_echo_server"
python=/usr/bin/python3
dynalite_dir="$here/table_dynalite"

bench_name=table
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bench_pin
for tool in wrk curl awk; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
for file in "$haneul" "$echo_server"; do [ -x "$file" ] || die "$file is missing: build first"; done

declare -A p50 p99 rps errors skipped
failures=()

# run_wrk LABEL OP URL CONNECTIONS: sets $wrk_result.
run_wrk() {
  local label=$1 op=$2 url=$3 connections=$4
  local out="$work/wrk-$label-c$connections.txt"
  TABLE_OP=$op TABLE_NAME=bench TABLE_ITEMS=$items "${pin_client[@]}" \
    wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$here/table_ops.lua" "$url" >"$out" 2>&1 || true
  wrk_result=$(grep '^BENCH_RESULT' "$out" || true)
  [ -n "$wrk_result" ] || { sed 's/^/    /' "$out" >&2; return 1; }
}
# measure LABEL OP URL: latency at 1 connection, throughput at 64.
measure() {
  local label=$1 op=$2 url=$3
  log "measuring $label"
  if ! run_wrk "$label" "$op" "$url" 1; then skipped[$label]="wrk failed"; return 1; fi
  p50[$label]=$(field p50_us "$wrk_result")
  p99[$label]=$(field p99_us "$wrk_result")
  local e1=$(( $(field status_errors "$wrk_result") + $(field socket_errors "$wrk_result") ))
  if ! run_wrk "$label" "$op" "$url" 64; then skipped[$label]="wrk failed"; return 1; fi
  rps[$label]=$(field rps "$wrk_result")
  errors[$label]=$(( e1 + $(field status_errors "$wrk_result") + $(field socket_errors "$wrk_result") ))
}

dynalite_skip=""
start_dynalite() {
  if [ "${HANEUL_BENCH_SKIP_DYNALITE:-0}" = 1 ]; then dynalite_skip="HANEUL_BENCH_SKIP_DYNALITE=1 was set"; return 1; fi
  command -v npm >/dev/null || { dynalite_skip="npm is not installed"; return 1; }
  command -v node >/dev/null || { dynalite_skip="node is not installed"; return 1; }
  if [ ! -f "$dynalite_dir/node_modules/dynalite/cli.js" ]; then
    log "installing dynalite@4 into $dynalite_dir (npm, at most ${npm_timeout} s)"
    if ! (cd "$dynalite_dir" && timeout "$npm_timeout" npm install --no-audit --no-fund \
            --no-package-lock --loglevel=error >"$work/npm.log" 2>&1); then
      sed 's/^/    /' "$work/npm.log" | tail -20 >&2
      dynalite_skip="npm install of dynalite@4 failed or took over ${npm_timeout} s"
      return 1
    fi
  fi
  local port
  port=$(free_port)
  start_group "$work/dynalite.log" node "$dynalite_dir/node_modules/dynalite/cli.js" --port "$port" \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0
  local i
  for i in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 "$started_pid" 2>/dev/null || { dynalite_skip="dynalite exited (log: $(head -c 300 "$work/dynalite.log"))"; return 1; }
    sleep 0.05
  done
  dynalite_url="http://127.0.0.1:$port/"
  "$python" "$here/table_setup.py" "$dynalite_url" bench "$items" >&2 ||
    { dynalite_skip="dynalite did not accept the table setup"; return 1; }
}

log "mode: $mode; build: $build_dir"
load_at_start=$(cut -d' ' -f1 /proc/loadavg)
start_group "$work/echo.log" "$echo_server" --port 0
echo_port=$(wait_for_port "$work/echo.log" "$started_pid") || die "bench_echo_server did not start"
mkdir -p "$work/data"
start_group "$work/haneul.log" "$haneul" serve --port 0 --data "$work/data"
haneul_pid=$started_pid
haneul_port=$(wait_for_port "$work/haneul.log" "$haneul_pid") || die "haneul serve did not start"
haneul_url="http://127.0.0.1:$haneul_port/"
"$python" "$here/table_setup.py" "$haneul_url" bench "$items" >&2 || die "table setup on haneul failed"

measure echo get "http://127.0.0.1:$echo_port/" || failures+=("the echo server could not be measured")
for op in put get query update; do
  measure "haneul_$op" "$op" "$haneul_url" || failures+=("haneul $op: wrk failed")
done
# The same PutItems acknowledged once the WAL is written, not fsynced (--table-sync off: the
# write survives the server's crash, not the machine's).
mkdir -p "$work/data-nosync"
start_group "$work/haneul-nosync.log" "$haneul" serve --port 0 --data "$work/data-nosync" --table-sync off
nosync_pid=$started_pid
nosync_port=$(wait_for_port "$work/haneul-nosync.log" "$nosync_pid") || die "haneul serve --table-sync off did not start"
"$python" "$here/table_setup.py" "http://127.0.0.1:$nosync_port/" bench "$items" >&2 || die "table setup on haneul (--table-sync off) failed"
measure haneul_putnosync put "http://127.0.0.1:$nosync_port/" || failures+=("haneul put (--table-sync off): wrk failed")
kill "$nosync_pid" 2>/dev/null || true
if start_dynalite; then
  for op in put get query update; do
    measure "dynalite_$op" "$op" "$dynalite_url" || { dynalite_skip="wrk failed against dynalite"; break; }
  done
fi
kill -0 "$haneul_pid" 2>/dev/null || failures+=("haneul serve exited during the run")
for op in put get query update putnosync; do
  if [ -n "${errors[haneul_$op]:-}" ] && [ "${errors[haneul_$op]}" != 0 ]; then
    failures+=("haneul $op: wrk counted ${errors[haneul_$op]} failed requests")
  fi
done

row() {  # row LABEL TITLE [BASELINE...]
  local label=$1 title=$2; shift 2
  if [ -z "${p50[$label]:-}" ] || [ -z "${rps[$label]:-}" ]; then
    local why=${skipped[$label]:-not measured}
    [[ $label == dynalite_* ]] && [ -n "$dynalite_skip" ] && why=$dynalite_skip
    printf '  %-30s skipped: %s\n' "$title" "$why"; return
  fi
  local extra="" base
  for base in "$@"; do
    if [ -n "${p50[$base]:-}" ] && [ -n "${rps[$base]:-}" ]; then
      extra+=$(printf '  vs %s x%s/x%s' "${base%%_*}" "$(ratio "${p50[$label]}" "${p50[$base]}")" \
                 "$(ratio "${rps[$label]}" "${rps[$base]}")")
    fi
  done
  [ "${errors[$label]:-0}" != 0 ] && extra+="  (${errors[$label]} failed requests)"
  printf '  %-30s %8s %8s %9.0f%s\n' "$title" "$(ms "${p50[$label]}")" "$(ms "${p99[$label]}")" \
    "${rps[$label]}" "$extra"
}
echo
echo "table ($mode; wrk -t1, 127.0.0.1; $placement; ~1 KB items; haneul with fsync group commit)"
echo "Load average (1 min) at start: $load_at_start, at end: $(cut -d' ' -f1 /proc/loadavg)"
echo "Ratios: this / baseline (p50 at 1 conn / req/s at 64 conns)."
printf '  %-30s %8s %8s %9s\n' "" "p50 ms" "p99 ms" "req/s"
printf '  %-30s %8s %8s %9s\n' "" "(1 conn)" "(1 conn)" "(64 conn)"
row echo "Beast echo server (floor)"
for op in put get query update; do
  row "dynalite_$op" "dynalite $op (baseline)"
  row "haneul_$op" "haneul $op" "dynalite_$op" echo
  if [ "$op" = put ]; then row haneul_putnosync "haneul put, --table-sync off" dynalite_put echo; fi
done
echo
echo "Targets (reported, not asserted):"
target() {  # TITLE VALUE BASE FACTOR higher|lower
  local title=$1 value=$2 base=$3 factor=$4 sense=$5
  if [ -z "$value" ] || [ -z "$base" ]; then printf '  [SKIP] %s\n' "$title"; return; fi
  local r; r=$(ratio "$value" "$base")
  local ok; ok=$(awk -v r="$r" -v f="$factor" -v s="$sense" 'BEGIN { print (s == "higher" ? r >= f : r <= f) ? "MET " : "MISS" }')
  printf '  [%s] %s: x%s (target %s x%s)\n' "$ok" "$title" "$r" "$([ "$sense" = higher ] && echo '>=' || echo '<=')" "$factor"
}
target "GetItem req/s at 64 vs echo" "${rps[haneul_get]:-}" "${rps[echo]:-}" 0.5 higher
target "PutItem req/s at 64 vs echo" "${rps[haneul_put]:-}" "${rps[echo]:-}" 0.5 higher
target "GetItem p50 at 1 vs echo" "${p50[haneul_get]:-}" "${p50[echo]:-}" 2 lower
target "PutItem p50 at 1 vs echo (fsync per ack)" "${p50[haneul_put]:-}" "${p50[echo]:-}" 2 lower
target "PutItem p50 at 1 vs echo (--table-sync off)" "${p50[haneul_putnosync]:-}" "${p50[echo]:-}" 2 lower
if [ ${#failures[@]} -gt 0 ]; then
  for f in "${failures[@]}"; do log "FAILED: $f"; done
  sed 's/^/    /' "$work/haneul.log" | tail -20 >&2
  exit 1
fi
