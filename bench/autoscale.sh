#!/usr/bin/env bash
# Autoscaling benchmark, run by hand (not in CI). It prints:
#   - cold-start latency: a call's time to first byte for a function at zero replicas
#     (scaled to 0 through the API first), for a classic `cat` function, a classic python3
#     function and an http-mode compiled one (crates/faas-watchdog/examples/hello_upstream);
#     median of COLD rounds each, with the gateway's own cold-start histogram as a cross-check;
#   - the gateway's throughput with metrics on vs off: two faasd, one with FAASD_METRICS=false,
#     wrk -t2 -c32 against /function/hello on each, alternated, ROUNDS pairs, medians.
# Goals: cold start < 50 ms compiled, < 200 ms python3; metrics cost < 5% of throughput.
# Knobs: DURATION (5) seconds per wrk run, ROUNDS (3) on/off pairs, COLD (5) cold starts per
# function. Exits 0: it is a report.
set -euo pipefail
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
COLD=${COLD:-5}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }
say "building (release)"
(cd "$ROOT" && cargo build -q --release -p faasd && cargo build -q --release -p faas-watchdog --example hello_upstream && bash scripts/build-watchdog.sh >/dev/null)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/autoscale-bench.XXXXXX")
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
  # --sandbox off: the functions here run binaries of the build tree, which a sandbox does not
  # see (bench/sandbox.sh measures the sandbox with packages).
  env "$@" "$T/release/faasd" --listen "127.0.0.1:$p" --data-dir "$WORK/$name" --watchdog "$T/dist/fwatchdog" --sandbox off >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.05; done
  echo "$p"
}
auth() { echo "$(cat "$WORK/$1/secrets/basic-auth-user"):$(cat "$WORK/$1/secrets/basic-auth-password")"; }
# deploy NAME PORT JSON
deploy() { curl -sf -u "$(auth "$1")" -o /dev/null -d "$3" "http://127.0.0.1:$2/system/functions"; }
available() { # NAME PORT FUNCTION -> "replicas available"
  curl -s -u "$(auth "$1")" "http://127.0.0.1:$2/system/function/$3" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("replicas",0), s.get("availableReplicas",0))'
}
hello_json() {
  printf '{"service":"%s","image":"functions/alpine:latest","envProcess":"sh -c '"'"'exec %s $PORT'"'"'","envVars":{"mode":"http"}}' \
    "$1" "$T/release/examples/hello_upstream"
}

# ---- cold starts ----
GP=$(start_faasd cold)
PIDS+=("$(cat "$WORK/cold.pid")")
GW="http://127.0.0.1:$GP"
deploy cold "$GP" '{"service":"bash-cat","image":"functions/alpine:latest","envProcess":"cat"}'
# The distribution's interpreter: a version manager's shim (pyenv) adds ~150 ms to every start.
PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )}
deploy cold "$GP" '{"service":"python3","image":"functions/alpine:latest","envProcess":"'"$PYTHON"' -c \"import sys; sys.stdout.write(sys.stdin.read())\""}'
deploy cold "$GP" "$(hello_json compiled)"

first_byte_ms() { # FUNCTION -> ms to first byte (warns on a non-200)
  local t
  t=$(curl -s -o "$WORK/out" -w '%{http_code} %{time_starttransfer}' -d hi "$GW/function/$1")
  [ "${t%% *}" = 200 ] || say "$1: answered ${t%% *}: $(cat "$WORK/out")"
  awk -v s="${t#* }" 'BEGIN {printf "%.1f", s*1000}'
}
printf '%-10s %s\n' function "call to first byte (ms): warm median, then cold (at zero replicas) over $COLD rounds"
declare -A COLD_MEDIAN WARM_MEDIAN
for fn in bash-cat python3 compiled; do
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "$GW/function/$fn")" = 200 ]; do sleep 0.05; done
  warm=()
  for _ in $(seq 5); do warm+=("$(first_byte_ms "$fn")"); done
  WARM_MEDIAN[$fn]=$(printf '%s\n' "${warm[@]}" | median)
  times=()
  for _ in $(seq "$COLD"); do
    curl -sf -u "$(auth cold)" -o /dev/null -d "{\"serviceName\":\"$fn\",\"replicas\":0}" "$GW/system/scale-function/$fn"
    for _ in $(seq 300); do [ "$(available cold "$GP" "$fn")" = "0 0" ] && break; sleep 0.05; done
    sleep 0.2 # let the stopped replica go
    times+=("$(first_byte_ms "$fn")")
  done
  COLD_MEDIAN[$fn]=$(printf '%s\n' "${times[@]}" | median)
  printf '%-10s warm %6s   cold median %6s   all: %s\n' "$fn" "${WARM_MEDIAN[$fn]}" "${COLD_MEDIAN[$fn]}" "${times[*]}"
done
say "gateway's own cold-start histogram (scale request to ready replica), seconds:"
curl -s "$GW/metrics" | grep -E '^gateway_function_cold_start_(seconds_sum|total)' | sed 's/^/  /' >&2
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
PIDS=()

# ---- metrics on vs off ----
ON=$(start_faasd on)
PIDS+=("$(cat "$WORK/on.pid")")
OFF=$(start_faasd off FAASD_METRICS=false)
PIDS+=("$(cat "$WORK/off.pid")")
for pair in "on $ON" "off $OFF"; do
  set -- $pair
  deploy "$1" "$2" "$(hello_json hello)"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/function/hello")" = 200 ]; do sleep 0.05; done
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OFF/metrics")" = 404 ] || say "warning: metrics still served with FAASD_METRICS=false"
rps() { wrk -t2 -c32 -d"${DURATION}s" "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
: >"$WORK/rps-on"; : >"$WORK/rps-off"; : >"$WORK/ratio"
printf '\n%-6s %12s %12s %8s\n' round "on req/s" "off req/s" "on/off"
for r in $(seq "$ROUNDS"); do
  # Alternate which goes first, so neither always runs on a warmer or busier machine.
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

echo
echo "cold start (median of $COLD, call to first byte; warm in brackets): bash-cat ${COLD_MEDIAN[bash-cat]} ms (${WARM_MEDIAN[bash-cat]}), python3 ${COLD_MEDIAN[python3]} ms (${WARM_MEDIAN[python3]}; goal < 200), compiled http ${COLD_MEDIAN[compiled]} ms (${WARM_MEDIAN[compiled]}; goal < 50)"
awk -v on="$ON_MED" -v off="$OFF_MED" -v r="$RATIO" -v n="$ROUNDS" 'BEGIN {
  printf "gateway throughput, median of %d alternated pairs: metrics on %.0f req/s, off %.0f req/s; median pair ratio %.3f: metrics cost %.1f%% (goal < 5%%)\n", n, on, off, r, (1-r)*100 }'
