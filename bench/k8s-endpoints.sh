#!/usr/bin/env bash
# The kubernetes provider's endpoint pick from its watch cache: p50/p99 of endpoints() against
# a plain map lookup measured in the same run, and the API requests made meanwhile (0).
# PROFILE=dev measures an unoptimised build (quicker to build; slower numbers).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${PROFILE:-release}" in
  release) cargo run --quiet --release -p faas-provider-kubernetes --example endpoint_pick ;;
  dev) cargo run --quiet -p faas-provider-kubernetes --example endpoint_pick ;;
  *) echo "PROFILE must be release or dev" >&2; exit 2 ;;
esac
