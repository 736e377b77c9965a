#!/usr/bin/env bash
# The portal's cost, run by hand (not in CI). It prints:
#   - the gateway's throughput with the per-function history on vs off: two faasd, one with
#     FAASD_HISTORY=false, wrk -t2 -c32 against /function/hello on each, alternated (which one
#     goes first alternates too), ROUNDS pairs; medians and the median pair ratio.
#     Goal: within 3%.
#   - faasd's RSS with FUNCTIONS functions that all had traffic, history on vs off (the same
#     steps on both): each function is deployed, called CALLS times, then scaled to zero, at
#     most PARALLEL at a time (so the machine never runs more than PARALLEL replicas); the RSS
#     is read once every function is done and the history sampler has run. Goal: the history
#     costs < 20 MB for 1,000 functions.
# Knobs: DURATION (3) seconds per wrk run, ROUNDS (15; many short pairs resist a busy
# machine's noise better than a few long ones), FUNCTIONS (1000; 0 skips the RSS part),
# CALLS (5), PARALLEL (16). Exits 0: it is a report.
set -euo pipefail
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-15}
FUNCTIONS=${FUNCTIONS:-1000}
CALLS=${CALLS:-5}
PARALLEL=${PARALLEL:-16}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }
say "building (release)"
(cd "$ROOT" && cargo build -q --release -p faasd && cargo build -q --release -p faas-watchdog --example hello_upstream && bash scripts/build-watchdog.sh >/dev/null)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portal-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_faasd NAME [ENV=VALUE...]: prints the port; the data directory is $WORK/NAME.
start_faasd() {
  local name=$1 p
  shift
  p=$(port)
  # --sandbox off: the throughput function runs a binary of the build tree, which a sandbox
  # does not see (bench/sandbox.sh measures the sandbox with packages).
  env "$@" FAASD_MAX_REPLICAS=4 "$T/release/faasd" --listen "127.0.0.1:$p" --data-dir "$WORK/$name" --watchdog "$T/dist/fwatchdog" --sandbox off >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.05; done
  echo "$p"
}
auth() { echo "$(cat "$WORK/$1/secrets/basic-auth-user"):$(cat "$WORK/$1/secrets/basic-auth-password")"; }
hello_json() {
  printf '{"service":"%s","image":"functions/alpine:latest","envProcess":"sh -c '"'"'exec %s $PORT'"'"'","envVars":{"mode":"http"}}' \
    "$1" "$T/release/examples/hello_upstream"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# ---- throughput, history on vs off ----
ON=$(start_faasd on)
PIDS+=("$(cat "$WORK/on.pid")")
OFF=$(start_faasd off FAASD_HISTORY=false)
PIDS+=("$(cat "$WORK/off.pid")")
for pair in "on $ON" "off $OFF"; do
  set -- $pair
  curl -sf -u "$(auth "$1")" -o /dev/null -d "$(hello_json hello)" "http://127.0.0.1:$2/system/functions"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/function/hello")" = 200 ]; do sleep 0.05; done
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "$(auth off)" "http://127.0.0.1:$OFF/system/metrics/history")" = 404 ] ||
  say "warning: the history is still served with FAASD_HISTORY=false"
rps() { wrk -t2 -c32 -d"${DURATION}s" "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
: >"$WORK/rps-on"; : >"$WORK/rps-off"; : >"$WORK/ratio"
printf '%-6s %12s %12s %8s\n' round "on req/s" "off req/s" "on/off"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    on=$(rps "http://127.0.0.1:$ON/function/hello"); off=$(rps "http://127.0.0.1:$OFF/function/hello")
  else
    off=$(rps "http://127.0.0.1:$OFF/function/hello"); on=$(rps "http://127.0.0.1:$ON/function/hello")
  fi
  echo "$on" >>"$WORK/rps-on"; echo "$off" >>"$WORK/rps-off"
  awk -v a="$on" -v b="$off" 'BEGIN {printf "%.4f\n", a/b}' >>"$WORK/ratio"
  printf '%-6s %12s %12s %8s\n' "$r" "$on" "$off" "$(tail -1 "$WORK/ratio")"
done
ON_MED=$(median <"$WORK/rps-on"); OFF_MED=$(median <"$WORK/rps-off"); RATIO=$(median <"$WORK/ratio")
stop_pids
PIDS=()

# ---- RSS with FUNCTIONS functions that had traffic ----
# load NAME PORT: deploys, calls and scales to zero every function, PARALLEL at a time.
load() {
  python3 - "$2" "$(auth "$1")" "$FUNCTIONS" "$CALLS" "$PARALLEL" <<'PY'
import base64, concurrent.futures, json, sys, urllib.request
port, auth, functions, calls, parallel = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
base = f"http://127.0.0.1:{port}"
token = base64.b64encode(auth.encode()).decode()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def send(method, path, body=None, authed=True):
    request = urllib.request.Request(base + path, data=body, method=method)
    if authed:
        request.add_header("Authorization", "Basic " + token)
    try:
        with opener.open(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
def one(i):
    name = f"fn-{i:04d}"
    spec = {"service": name, "image": "functions/alpine:latest", "envProcess": "cat"}
    assert send("POST", "/system/functions", json.dumps(spec).encode()) == 202, name
    ok = sum(send("POST", f"/function/{name}", b"hi", authed=False) == 200 for _ in range(calls))
    send("POST", f"/system/scale-function/{name}", json.dumps({"serviceName": name, "replicas": 0}).encode())
    return ok
with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
    answered = sum(pool.map(one, range(functions)))
print(answered)
PY
}
declare -A RSS IDLE ANSWERED
MODES="on off"
[ "$FUNCTIONS" -gt 0 ] || MODES=""
for mode in $MODES; do
  if [ "$mode" = on ]; then P=$(start_faasd "rss-$mode"); else P=$(start_faasd "rss-$mode" FAASD_HISTORY=false); fi
  PID=$(cat "$WORK/rss-$mode.pid")
  PIDS=("$PID")
  sleep 1
  IDLE[$mode]=$(rss_kb "$PID")
  say "history $mode: $FUNCTIONS functions, $CALLS calls each"
  ANSWERED[$mode]=$(load "rss-$mode" "$P")
  # Every replica stopped, and the sampler has looked at every function.
  sleep 7
  RSS[$mode]=$(rss_kb "$PID")
  stop_pids
  PIDS=()
done

echo
awk -v on="$ON_MED" -v off="$OFF_MED" -v r="$RATIO" -v n="$ROUNDS" 'BEGIN {
  printf "gateway throughput, median of %d alternated pairs: history on %.0f req/s, off %.0f req/s; median pair ratio %.3f: history cost %.1f%% (goal < 3%%)\n", n, on, off, r, (1-r)*100 }'
[ -z "$MODES" ] || awk -v f="$FUNCTIONS" -v c="$CALLS" -v on="${RSS[on]}" -v off="${RSS[off]}" -v ion="${IDLE[on]}" -v ioff="${IDLE[off]}" \
  -v aon="${ANSWERED[on]}" -v aoff="${ANSWERED[off]}" 'BEGIN {
  printf "faasd RSS with %d functions that had traffic (%d and %d of %d calls answered 200): history on %.1f MB, off %.1f MB (idle %.1f / %.1f MB): history cost %.1f MB (goal < 20 MB)\n",
    f, aon, aoff, f * c, on / 1024, off / 1024, ion / 1024, ioff / 1024, (on - off) / 1024 }'
