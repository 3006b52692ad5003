#!/usr/bin/env bash
# objects: what the S3-compatible object store costs, beside nginx serving the same files, in the
# same run.
#
#   bench/objects.sh [--quick] [--build-dir DIR]
#
# GetObject and PutObject of a 4 KB and a 4 MB object with wrk (bench/objects_ops.lua): p50/p99
# and req/s at 1 and 16 connections, against
#   - haneul serve (the object store with its default durability: every PUT fsyncs its blob and
#     the metadata log before answering);
#   - nginx (Debian nginx-light, one worker, sendfile) serving the same files as static files:
#     the baseline for GET (nginx has no PUT here; PUT is reported alone).
# Target (issue #9), reported and never asserted: GET >= 0.5x nginx. The script fails only when
# something could not be run or answered with errors. --quick: 1 s runs (the bench_objects_smoke
# ctest). HANEUL_BENCH_KEEP=1 keeps the scratch folder.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build_dir="$root/build"
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --build-dir) build_dir=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick] [--build-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then duration=1 mode="quick: 1 s per wrk run"; else duration=5 mode="full: 5 s per wrk run"; fi
haneul="${HANEUL:-$build_dir/cli/haneul}"
python=/usr/bin/python3
nginx=${NGINX:-/usr/sbin/nginx}

bench_name=objects
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bench_pin
for tool in wrk curl awk; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
[ -x "$haneul" ] || die "$haneul is missing: build first"

declare -A p50 p99 rps errors
failures=()

# measure LABEL METHOD URL CONNECTIONS [FILE]
measure() {
  local label=$1 method=$2 url=$3 connections=$4 file=${5:-}
  local out="$work/wrk-$label.txt"
  log "measuring $label"
  OBJ_METHOD=$method OBJ_FILE=$file "${pin_client[@]}" \
    wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$here/objects_ops.lua" "$url" \
    >"$out" 2>&1 || true
  local result
  result=$(grep '^BENCH_RESULT' "$out" || true)
  if [ -z "$result" ]; then
    sed 's/^/    /' "$out" >&2
    failures+=("$label: wrk failed")
    return 0
  fi
  p50[$label]=$(field p50_us "$result")
  p99[$label]=$(field p99_us "$result")
  rps[$label]=$(field rps "$result")
  errors[$label]=$(( $(field status_errors "$result") + $(field socket_errors "$result") ))
  [ "${errors[$label]}" = 0 ] || failures+=("$label: ${errors[$label]} failed requests")
}

log "mode: $mode; build: $build_dir"
load_at_start=$(cut -d' ' -f1 /proc/loadavg)
mkdir -p "$work/data" "$work/www"
head -c 4096 /dev/urandom >"$work/www/obj4k"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/www/obj4m"
# nginx's worker runs as www-data: the scratch folder must be readable by it.
chmod 755 "$work" "$work/www"
chmod 644 "$work/www/"*

start_group "$work/haneul.log" "$haneul" serve --port 0 --data "$work/data"
haneul_pid=$started_pid
haneul_port=$(wait_for_port "$work/haneul.log" "$haneul_pid") || die "haneul serve did not start"
haneul_url="http://127.0.0.1:$haneul_port"
curl -sf -X PUT "$haneul_url/bench" >/dev/null || die "CreateBucket failed"
for size in 4k 4m; do
  curl -sf -X PUT --data-binary "@$work/www/obj$size" "$haneul_url/bench/obj$size" >/dev/null ||
    die "PutObject obj$size failed"
done

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
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
CONF
  start_group "$work/nginx.log" "$nginx" -e "$work/nginx-error.log" -c "$work/nginx.conf"
  nginx_pid=$started_pid
  for i in $(seq 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/obj4k" && break
    kill -0 "$nginx_pid" 2>/dev/null || { nginx_skip="nginx exited: $(head -c 300 "$work/nginx-error.log")"; break; }
    sleep 0.05
  done
else
  nginx_skip="$nginx is not installed (Debian nginx-light)"
fi

for size in 4k 4m; do
  for c in 1 16; do
    measure "haneul_get_${size}_c$c" GET "$haneul_url/bench/obj$size" "$c"
    [ -z "$nginx_skip" ] && measure "nginx_get_${size}_c$c" GET "http://127.0.0.1:$nginx_port/obj$size" "$c"
  done
done
for size in 4k 4m; do
  for c in 1 16; do
    measure "haneul_put_${size}_c$c" PUT "$haneul_url/bench/put$size" "$c" "$work/www/obj$size"
  done
done
kill -0 "$haneul_pid" 2>/dev/null || failures+=("haneul serve exited during the run")
# What was stored is what was sent.
for size in 4k 4m; do
  curl -sf "$haneul_url/bench/put$size" -o "$work/check" && cmp -s "$work/check" "$work/www/obj$size" ||
    failures+=("GET put$size did not return the PUT body")
done

row() {  # row LABEL TITLE [BASELINE]
  local label=$1 title=$2 base=${3:-}
  if [ -z "${p50[$label]:-}" ]; then
    local why="not measured"
    [[ $label == nginx_* ]] && [ -n "$nginx_skip" ] && why=$nginx_skip
    printf '  %-24s skipped: %s\n' "$title" "$why"; return
  fi
  local extra=""
  if [ -n "$base" ] && [ -n "${p50[$base]:-}" ]; then
    extra=$(printf '  vs nginx: p50 x%s, req/s x%s' "$(ratio "${p50[$label]}" "${p50[$base]}")" \
              "$(ratio "${rps[$label]}" "${rps[$base]}")")
  fi
  printf '  %-24s %8s %8s %9.0f%s\n' "$title" "$(ms "${p50[$label]}")" "$(ms "${p99[$label]}")" \
    "${rps[$label]}" "$extra"
}
echo
echo "objects ($mode; wrk -t1, 127.0.0.1; $placement; haneul fsyncs every PUT)"
echo "Load average (1 min) at start: $load_at_start, at end: $(cut -d' ' -f1 /proc/loadavg)"
printf '  %-24s %8s %8s %9s\n' "" "p50 ms" "p99 ms" "req/s"
for size in 4k 4m; do
  for c in 1 16; do
    row "haneul_get_${size}_c$c" "haneul GET $size c=$c" "nginx_get_${size}_c$c"
    row "nginx_get_${size}_c$c" "nginx  GET $size c=$c"
  done
done
for size in 4k 4m; do
  for c in 1 16; do row "haneul_put_${size}_c$c" "haneul PUT $size c=$c"; done
done
if [ ${#failures[@]} -gt 0 ]; then
  printf 'objects: FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
