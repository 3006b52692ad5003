#!/usr/bin/env bash
# Builds the image-resize function as a container image: haneul's python3 base (assembled from
# the host, laid out like AWS's python base images) plus one layer holding app.py, Pillow with
# the native libraries it links, and boto3 with only the S3 model of botocore.
#
# Usage: build-image.sh [TAG] (default image-resize:1). HANEUL: the haneul binary (default:
# `haneul` on PATH); HANEUL_DATA: the server's data folder (default: haneul's own default).
# Needs Debian's python3-pil and python3-boto3 (scripts/install-deps.sh installs both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
haneul=${HANEUL:-haneul}
tag=${1:-image-resize:1}
data_args=()
if [ -n "${HANEUL_DATA:-}" ]; then data_args=(--data "$HANEUL_DATA"); fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/app.py" "$work/"
site=/usr/lib/python3/dist-packages
# Debian's botocore uses the system's requests (and what requests needs) instead of a vendored one.
for package in PIL boto3 botocore s3transfer jmespath dateutil urllib3 six.py requests idna \
               charset_normalizer chardet certifi; do
  if [ -e "$site/$package" ]; then cp -a "$site/$package" "$work/"; fi
done
# botocore carries every service's model (~80 MB); the handler only calls S3.
find "$work/botocore/data" -mindepth 1 -maxdepth 1 -type d ! -name s3 -exec rm -rf {} +
find "$work" -name __pycache__ -type d -prune -exec rm -rf {} +
# Pillow's native libraries, found where LD_LIBRARY_PATH looks in a Lambda image (/var/task/lib).
mkdir -p "$work/lib"
for module in "$work"/PIL/*.so; do
  ldd "$module" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r library; do
  case "$(basename "$library")" in
    libc.so.*|libm.so.*|ld-linux*) ;;  # the base image's own
    *) cp -L "$library" "$work/lib/" ;;
  esac
done

"$haneul" image base python3 --tag haneul/python3:image-resize --quiet "${data_args[@]}"
"$haneul" image build "$work" --base haneul/python3:image-resize --tag "$tag" \
  --cmd app.handler "${data_args[@]}"
