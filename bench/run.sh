#!/usr/bin/env bash
# Runs every benchmark against the build in BUILD_DIR (default: build), each printing its figures
# beside their baselines. `make bench` calls this. Exits non-zero if a benchmark could not run.
#
#   bench/run.sh [BUILD_DIR] [--quick]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=build
extra=()
for arg in "$@"; do
  case "$arg" in
    --quick) extra+=(--quick) ;;
    *) build_dir=$arg ;;
  esac
done
status=0
"$here/invoke_warm.sh" --build-dir "$build_dir" "${extra[@]}" || status=1
"$build_dir/bench/bench_sandbox_start" "$build_dir/examples/provided-noop/bootstrap" 300 || status=1
exit $status
