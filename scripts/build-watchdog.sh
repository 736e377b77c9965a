#!/usr/bin/env bash
# Builds the shipped fwatchdog: size-optimised (profile `dist`) and statically linked against
# glibc (no shared libraries to map), which keeps a replica's resident memory near 2.5 MB.
# Output: target/dist/fwatchdog. faasd finds it with --watchdog or FAASD_WATCHDOG.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo rustc -q --profile dist -p faas-watchdog --bin fwatchdog -- \
  -C target-feature=+crt-static -C relocation-model=static
echo "${CARGO_TARGET_DIR:-target}/dist/fwatchdog"
