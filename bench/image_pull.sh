#!/usr/bin/env bash
# image_pull: pull + unpack of a multi-layer image from a local registry, haneul beside its
# baseline in the same run.
#
#   bench/image_pull.sh [--quick] [--build-dir DIR]
#
# Builds a 4-layer image of ~100 MB (25 MB per layer: half random bytes, half text, so gzip has
# real work on both sides) with umoci, pushes it with skopeo to Debian's docker-registry on a
# free loopback port, then alternates, ROUNDS times each, from an empty store / folder:
#   - haneul:   `haneul image pull REF` + `haneul image inspect REF --rootfs` (the unpack);
#   - baseline: `skopeo copy docker://REF oci:DIR:t` + `umoci unpack --image DIR:t BUNDLE`.
# Prints each median and the ratio haneul/baseline (target <= 1.0). Reported, never asserted.
# --quick: 4 x 1 MB layers, one round (the ctest smoke). HANEUL_BENCH_KEEP=1 keeps the scratch
# folder; HANEUL=PATH runs another haneul binary than BUILD_DIR/cli/haneul.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build_dir="$root/build"
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --build-dir) build_dir=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick] [--build-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done
haneul=${HANEUL:-$build_dir/cli/haneul}
for tool in docker-registry skopeo umoci "$haneul"; do
  command -v "$tool" >/dev/null || { echo "image_pull: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
if [ "$quick" = 1 ]; then layer_mb=1 rounds=1; else layer_mb=25 rounds=3; fi

work=$(mktemp -d /tmp/haneul-bench-image-XXXXXX)
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  if [ "${HANEUL_BENCH_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YAML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break
  sleep 0.05  # readiness poll of docker-registry
done
curl -sf "http://127.0.0.1:$port/v2/" >/dev/null || { cat "$work/registry.log"; exit 1; }

# The image: 4 layers of layer_mb MB each.
unpack_flags=()
[ "$(id -u)" = 0 ] || unpack_flags=(--rootless)
umoci init --layout "$work/src" >/dev/null
umoci new --image "$work/src:t" >/dev/null
umoci unpack --rootless --image "$work/src:t" "$work/bundle" >/dev/null
for i in 1 2 3 4; do
  mkdir -p "$work/bundle/rootfs/layer$i"
  head -c $((layer_mb * 512 * 1024)) /dev/urandom > "$work/bundle/rootfs/layer$i/random.bin"
  head -c $((layer_mb * 384 * 1024)) /dev/urandom | base64 -w 100 > "$work/bundle/rootfs/layer$i/text.txt"
  umoci repack --image "$work/src:t" "$work/bundle" >/dev/null
done
ref="127.0.0.1:$port/bench/image:t"
skopeo copy -q --dest-tls-verify=false "oci:$work/src:t" "docker://$ref"
size=$(du -sm "$work/bundle/rootfs" | cut -f1)

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
haneul_times=() base_times=()
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/data" "$work/oci" "$work/unpacked"
  t0=$(now)
  "$haneul" image pull "$ref" --data "$work/data" --quiet >/dev/null
  "$haneul" image inspect "$ref" --rootfs --data "$work/data" >/dev/null
  t1=$(now)
  skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/oci:t"
  umoci unpack "${unpack_flags[@]}" --image "$work/oci:t" "$work/unpacked" >/dev/null
  t2=$(now)
  haneul_times+=("$(echo "$t1 - $t0" | bc)")
  base_times+=("$(echo "$t2 - $t1" | bc)")
  # Same content on both sides.
  cmp -s "$work/unpacked/rootfs/layer4/text.txt" \
      "$(ls -d "$work"/data/images/rootfs/*/ | head -1)layer4/text.txt" ||
    { echo "image_pull: haneul's rootfs differs from umoci's" >&2; exit 1; }
done
h=$(printf '%s\n' "${haneul_times[@]}" | median)
b=$(printf '%s\n' "${base_times[@]}" | median)
echo "image_pull: 4 layers, ${size} MB unpacked, $rounds round(s), registry on 127.0.0.1"
printf '  haneul  pull+unpack          %8.3f s\n' "$h"
printf '  skopeo copy + umoci unpack   %8.3f s\n' "$b"
printf '  ratio haneul/baseline        %8.2f   (target <= 1.0)\n' "$(echo "$h / $b" | bc -l)"
