#!/usr/bin/env bash
# Builds CRIU 4.1.1 from Debian's source package and installs it as /usr/local/sbin/criu, when the
# installed criu is missing or older than 4.1 (Debian 12's 3.17 fails on the vDSO of kernels from
# 6.13 on). Idempotent and quick when a good criu is already there: it checks the version first
# and touches the network only to fetch the source. The recipe is DESIGN.md's: a private apt
# source list with a deb-src line for trixie on the mirror this machine already uses, `apt-get
# source --download-only criu` (only the orig tarball is needed), `make criu` with bookworm's
# build dependencies (installed by scripts/install-deps.sh).
set -euo pipefail

want_major=4 want_minor=1
have=""
for criu in "$(command -v criu 2>/dev/null || true)" /usr/local/sbin/criu; do
  if [ -n "$criu" ] && [ -x "$criu" ]; then
    have=$("$criu" --version 2>/dev/null | sed -n 's/^Version: *//p' | head -1 || true)
    [ -n "$have" ] && break
  fi
done
if [ -n "$have" ]; then
  major=${have%%.*}; rest=${have#*.}; minor=${rest%%.*}
  if [ "$major" -gt "$want_major" ] || { [ "$major" -eq "$want_major" ] && [ "$minor" -ge "$want_minor" ]; }; then
    echo "build-criu: criu $have is recent enough"
    exit 0
  fi
fi

SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
work=$(mktemp -d /tmp/haneul-criu.XXXXXX)
chmod 755 "$work"  # apt downloads as _apt
trap 'rm -rf "$work"' EXIT
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo "deb-src $mirror trixie main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
          -o "APT::Get::List-Cleanup=0")
echo "build-criu: fetching criu's source (trixie) from $mirror"
apt-get "${apt_opts[@]}" update -q >/dev/null
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only criu >/dev/null 2>&1 || true)
orig=$(ls "$work"/criu_4.*.orig.tar.* 2>/dev/null | head -1)
if [ -z "$orig" ]; then
  echo "build-criu: could not download criu's source tarball" >&2
  exit 1
fi
tar -C "$work" -xf "$orig"
src=$(find "$work" -maxdepth 1 -type d -name 'criu-*' | head -1)
echo "build-criu: building $(basename "$src")"
make -C "$src" -j2 criu >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
$SUDO install -D -m 0755 "$src/criu/criu" /usr/local/sbin/criu
echo "build-criu: installed $(/usr/local/sbin/criu --version | head -1) as /usr/local/sbin/criu"
