#!/usr/bin/env bash
# The kubernetes provider's endpoint pick from its watch cache: p50/p99 of endpoints() against
# a plain map lookup measured in the same run, and the API requests made meanwhile (0).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p faas-provider-kubernetes --example endpoint_pick
