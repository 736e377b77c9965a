#!/usr/bin/env bash
# Installs Debian packages for the tests and scripts, quietly and without services:
#
#   scripts/apt-install.sh [--no-recommends] PACKAGE...
#
# Runs `apt-get update` once, then `apt-get install` (with --no-install-recommends when asked) with a
# policy-rc.d that refuses (exit 101) to start any service while installing (and is removed
# afterwards; one the machine already has is left alone). Prints one line per package
# installed, with its version, and how long it took; apt's own output is shown only when it
# fails. Packages already installed are skipped, so it is idempotent.
set -euo pipefail

say() { printf 'apt-install.sh: %s\n' "$*" >&2; }

recommends=()
if [ "${1:-}" = --no-recommends ]; then
  recommends=(--no-install-recommends)
  shift
fi
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ]; then
  say "ERROR: installing ${missing[*]} needs root (apt-get install ${missing[*]})"
  exit 1
fi

policy=/usr/sbin/policy-rc.d
ours=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# Written by rustfaas scripts/apt-install.sh while it installs packages.\nexit 101\n' >"$policy"
  chmod +x "$policy"
  ours=1
fi
log=$(mktemp)
cleanup() {
  [ $ours -eq 1 ] && rm -f "$policy"
  rm -f "$log"
}
trap cleanup EXIT

started=$SECONDS
if ! { apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${recommends[@]}" "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  say "ERROR: apt-get install ${missing[*]} failed (is the Debian mirror reachable?)"
  exit 1
fi
for package in "${missing[@]}"; do
  echo "installed $package $(dpkg-query -W -f='${Version}' "$package" 2>/dev/null)"
done
echo "(apt-get: $((SECONDS - started)) s for ${#missing[@]} package(s))"
