#!/usr/bin/env bash
# OpenFaaS CE-style scaling on a real faasd, run by hand (not in CI): a function labelled
# com.openfaas.scale.min=1 and max=2 (no type, no target) is called RATE times a second for
# LOAD seconds, then left alone for REST seconds; every second it prints the desired and
# ready replicas, then when it reached 2 and when it was back at 1.
# Goal (issue 15): 2 replicas within 30 s at 10 calls/s, back to 1 after the load stops.
# Knobs: RATE (10), LOAD (35), REST (20), PROFILE (release|debug). Exits 0: a report.
set -euo pipefail
RATE=${RATE:-10}
LOAD=${LOAD:-35}
REST=${REST:-20}
PROFILE=${PROFILE:-release}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

say "building faasd and fwatchdog ($PROFILE)"
if [ "$PROFILE" = release ]; then
  (cd "$ROOT" && cargo build -q --release -p faasd -p faas-watchdog --bins)
else
  (cd "$ROOT" && cargo build -q -p faasd -p faas-watchdog --bins)
fi
BIN="$T/$PROFILE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ce-scaling.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT

GP=$(port)
GW="http://127.0.0.1:$GP"
"$BIN/faasd" --listen "127.0.0.1:$GP" --data-dir "$WORK/data" --watchdog "$BIN/fwatchdog" >"$WORK/faasd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do curl -sf "$GW/healthz" >/dev/null 2>&1 && [ -s "$WORK/data/secrets/basic-auth-password" ] && break; sleep 0.1; done
AUTH="$(cat "$WORK/data/secrets/basic-auth-user"):$(cat "$WORK/data/secrets/basic-auth-password")"
curl -sf -u "$AUTH" -o /dev/null -d '{"service":"ce","image":"functions/alpine:latest","envProcess":"cat","labels":{"com.openfaas.scale.min":"1","com.openfaas.scale.max":"2"}}' "$GW/system/functions"
until [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "$GW/function/ce")" = 200 ]; do sleep 0.05; done

replicas() {
  curl -s -u "$AUTH" "$GW/system/function/ce" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("replicas",0), s.get("availableReplicas",0))'
}
# Open-loop load: RATE calls a second, each in the background, for LOAD seconds.
interval=$(awk -v r="$RATE" 'BEGIN { printf "%.4f", 1 / r }')
( end=$((SECONDS + LOAD)); while [ $SECONDS -lt "$end" ]; do
    curl -s -o /dev/null -d hi "$GW/function/ce" &
    sleep "$interval"
  done; wait ) &
LOADER=$!
up_at="" down_at="" start=$SECONDS
# Seconds are wall-clock seconds since the load started (a look itself takes some time).
while [ $((SECONDS - start)) -lt $((LOAD + REST)) ]; do
  sleep 1
  t=$((SECONDS - start))
  r=$(replicas)
  printf 't=%3ss %s replicas: %s (desired ready)\n' "$t" "$([ "$t" -le "$LOAD" ] && echo load || echo rest)" "$r"
  if [ -z "$up_at" ] && [ "${r%% *}" = 2 ]; then up_at=$t; fi
  if [ -n "$up_at" ] && [ -z "$down_at" ] && [ "$t" -gt "$LOAD" ] && [ "${r%% *}" = 1 ]; then down_at=$((t - LOAD)); fi
done
wait "$LOADER" 2>/dev/null || true
echo
grep -h 'APIHighInvocationRate' "$WORK/faasd.log" | sed 's/^/  /' || true
echo "reached 2 replicas after ${up_at:-never} s of load at $RATE calls/s (goal <= 30 s); back to 1 ${down_at:-never} s after the load stopped"
