#!/usr/bin/env bash
# Async benchmark, run by hand (not in CI). For the embedded queue (and NATS with NATS=1):
#   - accept rate: POST /async-function/echo answered 202 per second (wrk -t2 -c64), with the
#     queue worker stopped (FAASD_QUEUE_WORKER=false) so functions do not share the cores;
#     every accepted call is synced to disk before its 202;
#   - completion rate: N calls queued, then the worker started; callbacks per second until the
#     queue is empty (callbacks go to the hello upstream on loopback);
#   - the synchronous rate through the same gateway, for comparison.
# Knobs: DURATION (5), CALLS (2000). Exits 0: it is a report.
set -euo pipefail
DURATION=${DURATION:-5}
CALLS=${CALLS:-2000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"
T=${CARGO_TARGET_DIR:-$ROOT/target}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
features=()
[ "${NATS:-0}" = 1 ] && features=(--features nats)
(cd "$ROOT" && cargo build -q --release -p faasd "${features[@]}" -p faas-watchdog --bins && cargo build -q --release -p faas-watchdog --example hello_upstream)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/async-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  [ "${NATS:-0}" = 1 ] && bash "$ROOT/scripts/nats-server.sh" stop "$NATS_PORT" "$WORK/nats" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

CB_PORT=$(port)
"$T/release/examples/hello_upstream" "$CB_PORT" >/dev/null 2>&1 &
PIDS+=($!)

backend_env=()
if [ "${NATS:-0}" = 1 ]; then
  NATS_PORT=$(port)
  bash "$ROOT/scripts/nats-server.sh" start "$NATS_PORT" "$WORK/nats" >/dev/null
  backend_env=(FAASD_QUEUE=nats FAASD_NATS_URL="nats://127.0.0.1:$NATS_PORT")
fi

start_faasd() { # worker on/off -> sets GW, AUTH, FAASD
  local worker=$1
  GW_PORT=$(port)
  env "${backend_env[@]}" FAASD_QUEUE_WORKER="$worker" FAASD_QUEUE_MAX_INFLIGHT=32 \
    "$T/release/faasd" --listen "127.0.0.1:$GW_PORT" --data-dir "$WORK/data" >>"$WORK/faasd.log" 2>&1 &
  FAASD=$!
  PIDS+=("$FAASD")
  GW="http://127.0.0.1:$GW_PORT"
  for _ in $(seq 200); do curl -sf "$GW/healthz" >/dev/null && break; sleep 0.05; done
  AUTH="$(cat "$WORK/data/secrets/basic-auth-user"):$(cat "$WORK/data/secrets/basic-auth-password")"
}
stop_faasd() { kill -TERM "$FAASD"; wait "$FAASD" 2>/dev/null || true; }

start_faasd false
curl -sf -u "$AUTH" -o /dev/null -d '{"service":"echo","image":"functions/alpine:latest","envProcess":"cat","labels":{"com.openfaas.scale.min":"2"}}' "$GW/system/functions"
until [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "$GW/function/echo")" = 200 ]; do sleep 0.05; done

cat > "$WORK/async.lua" <<LUA
wrk.method = "POST"
wrk.body = "hello"
wrk.headers["X-Callback-Url"] = "http://127.0.0.1:$CB_PORT/cb"
LUA
accept=$(wrk -t2 -c64 -d"${DURATION}s" -s "$WORK/async.lua" "$GW/async-function/echo" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "non2xx", $4 > "/dev/stderr"}')
sync=$(wrk -t2 -c64 -d"${DURATION}s" -s "$WORK/async.lua" "$GW/function/echo" | awk '/Requests\/sec/ {print $2}')
queued=$(curl -s -u "$AUTH" "$GW/system/queue/stats" | python3 -c 'import json,sys; print(sum(q["ready"]+q["delayed"]+q["leased"] for q in json.load(sys.stdin).values()))')
stop_faasd

# Completion: the queue now holds what wrk left; drain up to CALLS of them with the worker on.
start_faasd true
t0=$(date +%s.%N)
while :; do
  left=$(curl -s -u "$AUTH" "$GW/system/queue/stats" | python3 -c 'import json,sys; print(sum(q["ready"]+q["delayed"]+q["leased"] for q in json.load(sys.stdin).values()))')
  done_calls=$((queued - left))
  [ "$done_calls" -ge "$CALLS" ] || [ "$left" = 0 ] && break
  sleep 0.2
done
t1=$(date +%s.%N)
completion=$(awk -v n="$done_calls" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n/(b-a)}')

echo "backend: ${backend_env[*]:-embedded}"
echo "async accepted (202, durable): $accept calls/s (goal >= 5000 for embedded, worker stopped)"
echo "sync calls through the same gateway (fork of cat per call): $sync calls/s"
echo "async completed (invoke + callback): $completion calls/s over $done_calls calls"
