#!/usr/bin/env bash
# Builds fwatchdog and shows it fronting a function: `wc` in classic mode (one process per
# call) and a streaming function, on loopback ports. Stops what it started on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p faas-watchdog --bin fwatchdog
bin=target/release/fwatchdog
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

p1=$(port); mkdir -p "$work/wc"
TMPDIR="$work/wc" bind_address=127.0.0.1 port=$p1 metrics_port=off fprocess=wc "$bin" 2>"$work/wc.log" &
pids+=($!)
p2=$(port); mkdir -p "$work/stream"
TMPDIR="$work/stream" bind_address=127.0.0.1 port=$p2 metrics_port=off mode=streaming \
  fprocess="sh -c 'for i in 1 2 3; do echo tick \$i; sleep 0.3; done'" "$bin" 2>"$work/stream.log" &
pids+=($!)
for p in $p1 $p2; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/_/health" >/dev/null && break; sleep 0.05; done
done
echo "\$ curl -d 'hello rustfaas world' http://127.0.0.1:$p1/   (fprocess=wc, classic mode)"
curl -s -d 'hello rustfaas world' "http://127.0.0.1:$p1/"
echo "\$ curl -N http://127.0.0.1:$p2/   (streaming mode: lines arrive as they are written)"
curl -sN "http://127.0.0.1:$p2/"
echo "--- watchdog log (wc) ---"
cat "$work/wc.log"
