#!/usr/bin/env bash
# Installs what building, running and testing haneul needs on Debian 12, and nothing that is
# already there. Idempotent: a second run does no network access.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

debs=(build-essential cmake ninja-build pkg-config
      libboost-dev libcurl4-openssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
      libseccomp-dev librocksdb-dev libgtest-dev libgmock-dev libbenchmark-dev libssl-dev
      libzip-dev zlib1g-dev libzstd-dev zstd docker-registry skopeo umoci buildah
      libpugixml-dev nginx-light
      # The table service: simdjson parses requests, ISA-L computes the x-amz-crc32 CRC.
      libsimdjson-dev libisal-dev
      awscli python3-boto3 python3-pytest python3 zip unzip wrk curl busybox-static chromium
      python3-pil
      # The gateway's OpenAPI import/export in YAML.
      libyaml-cpp-dev
      # SnapStart's CRIU 4.1.1 (scripts/build-criu.sh) builds from source with these.
      libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev libnl-3-dev libnet1-dev libcap-dev
      libbsd-dev libnftables-dev uuid-dev libgnutls28-dev python3-protobuf)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from elsewhere than Debian (NodeSource's nodejs bundles npm and conflicts
# with Debian's npm package): only install Debian's when the commands are missing.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# CRIU >= 4.1 for SnapStart's criu backend (Debian 12's 3.17 fails on this kernel's vDSO): built
# from Debian's source package when missing or too old; a no-op when a good one is installed.
# Not fatal: only the criu backend needs it, and the server says at start when it is missing.
"$here/scripts/build-criu.sh" ||
  echo "install-deps: warning: CRIU 4.1 could not be built; SnapStart's criu backend is unavailable" >&2

# npm packages used by the integration tests (the official Node runtime interface client and the
# AWS SDK for JavaScript v3 clients). Re-run when package.json or its lock changed since the last
# install (a stamp inside node_modules records it).
it="$here/tests/integration"
stamp="$it/node_modules/.haneul-installed"
if [ "${HANEUL_SKIP_NPM:-0}" != 1 ] && [ -f "$it/package.json" ] &&
   { [ ! -f "$stamp" ] || [ "$it/package.json" -nt "$stamp" ] || [ "$it/package-lock.json" -nt "$stamp" ]; }; then
  echo "install-deps: npm install in tests/integration"
  (cd "$it" && npm install --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
