#!/usr/bin/env bash
# snapshot_start: cold start vs SnapStart (fork-server; criu for Node) time to first response for a heavy-init
# python and a heavy-init Node function, in the same run; see bench/snapshot_start.py for what is measured.
#   bench/snapshot_start.sh [--quick] [--build-dir DIR]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec /usr/bin/python3 "$here/snapshot_start.py" "$@"
