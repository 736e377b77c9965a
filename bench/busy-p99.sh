#!/usr/bin/env bash
# Does anything block faasd's serving thread? Run by hand (not in CI). One faasd (release,
# default settings: one thread on two cores) with FUNCTIONS functions deployed (scaled to 0),
# and a warm function (classic `cat`, a sandboxed process per call) called at RATE per second
# for SECONDS, twice in the same run:
#   quiet: nothing else happening;
#   busy:  another function cold-starts COLD times (scaled to 0, waited for, called) while
#          /metrics is scraped every 100 ms (each scrape lists every function and samples
#          its usage).
# Prints both p99s (rate-load: latency from each request's scheduled time) and busy/quiet.
# Goal (issue 16): busy p99 within 2x of quiet, with 500 functions deployed.
# Knobs: FUNCTIONS (500), RATE (100), DURATION (15) seconds per load, COLD (20). Exits 0: it is a report.
set -euo pipefail
FUNCTIONS=${FUNCTIONS:-500}
RATE=${RATE:-100}
SECONDS_=${DURATION:-15}
COLD=${COLD:-20}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }
say "building (release)"
(cd "$ROOT" && cargo build -q --release -p faasd -p faas-watchdog -p faas-bench --bins)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/busy-p99.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT

P=$(port)
"$T/release/faasd" --listen "127.0.0.1:$P" --data-dir "$WORK/data" --watchdog "$T/release/fwatchdog" >"$WORK/faasd.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$P/healthz" >/dev/null && break; sleep 0.05; done
GW="http://127.0.0.1:$P"
AUTH="$(cat "$WORK/data/secrets/basic-auth-user"):$(cat "$WORK/data/secrets/basic-auth-password")"

say "deploying $FUNCTIONS functions (each scaled to 0 once up), a warm one and a cold one"
python3 - "$GW" "$AUTH" "$FUNCTIONS" <<'EOF'
import base64, json, sys, time, urllib.request
gw, auth, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
def post(path, body):
    req = urllib.request.Request(gw + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    urllib.request.urlopen(req, timeout=60).read()
for i in range(count):
    name = f"idle-{i}"
    post("/system/functions", {"service": name, "image": "functions/alpine:latest", "envProcess": "cat"})
    post(f"/system/scale-function/{name}", {"serviceName": name, "replicas": 0})
post("/system/functions", {"service": "warm", "image": "functions/alpine:latest", "envProcess": "cat"})
post("/system/functions", {"service": "cold", "image": "functions/alpine:latest", "envProcess": "cat"})
EOF
for _ in $(seq 200); do curl -sf "$GW/function/warm" >/dev/null && break; sleep 0.05; done

load() { "$T/release/rate-load" "$GW/function/warm" "$RATE" "$SECONDS_" 16; }
p99() { sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p'; }

say "quiet: $RATE calls/s for ${SECONDS_}s"
QUIET=$(load)
say "  $QUIET"

# Busy: scrapes every 100 ms and COLD cold starts, for as long as the load runs.
(
  end=$((SECONDS + SECONDS_))
  while [ "$SECONDS" -lt "$end" ]; do curl -s -o /dev/null "$GW/metrics"; sleep 0.1; done
) &
SCRAPER=$!
(
  for i in $(seq "$COLD"); do
    curl -s -o /dev/null -u "$AUTH" -d '{"serviceName":"cold","replicas":0}' "$GW/system/scale-function/cold"
    for _ in $(seq 200); do
      n=$(curl -s -u "$AUTH" "$GW/system/function/cold" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("availableReplicas",0))')
      [ "$n" = 0 ] && break
      sleep 0.02
    done
    curl -s -o /dev/null -d "cold $i" "$GW/function/cold"
    echo "$i" >"$WORK/cold-done"
  done
) &
COLDER=$!
say "busy: the same load with $COLD cold starts and /metrics every 100 ms"
BUSY=$(load)
say "  $BUSY"
wait "$SCRAPER" "$COLDER" 2>/dev/null || true
DONE=$(cat "$WORK/cold-done" 2>/dev/null || echo 0)
COUNTED=$(curl -s "$GW/metrics" | sed -n 's/^gateway_function_cold_start_total{function_name="cold.openfaas-fn"} \([0-9]*\).*/\1/p' | head -1)

Q=$(echo "$QUIET" | p99)
B=$(echo "$BUSY" | p99)
echo "functions deployed: $((FUNCTIONS + 2)); cold starts done: $DONE (gateway counted ${COUNTED:-?})"
echo "warm p99 quiet: ${Q} ms; busy: ${B} ms; busy/quiet: $(python3 -c "print(round($B/$Q, 2))")"
