#!/usr/bin/env bash
# Two-hop proxy chains, run by hand (not in CI): what "gateway -> replica front -> upstream" can
# reach on this machine when each hop is as cheap as a one-worker nginx, the yardstick for the
# faasd goal (gateway -> watchdog -> upstream >= 0.25 of direct). Nothing of faasd runs here:
# every hop is a one-worker proxy on loopback in front of the hello upstream.
#
# Chains, each measured alternately with the direct upstream, ROUNDS times:
#   nginx->nginx   nginx (one worker, keep-alive upstream, no access log) in front of nginx
#   nginx->wd      nginx in front of fwatchdog (http mode)
#   wd->wd         fwatchdog (http mode) in front of fwatchdog
#   wd->nginx      fwatchdog in front of nginx
# For each it prints req/s, the ratio to the direct run of the same round, and the CPU time per
# call of each hop (utime+stime from /proc over the wrk run), then the medians.
# Knobs: DURATION (4) seconds per wrk run, ROUNDS (3). Exits 0: it is a report.
set -euo pipefail
DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# shellcheck source=bench/lib/nginx.sh
. "$ROOT/bench/lib/nginx.sh"
ensure_nginx || { say "chains.sh needs nginx (Debian's nginx-light), which could not be installed"; exit 1; }
say "building (release)"
(cd "$ROOT" && cargo build -q --release -p faas-watchdog --example hello_upstream && bash scripts/build-watchdog.sh >/dev/null)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chains-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT
HZ=$(getconf CLK_TCK)

# nginx NAME PORT UPSTREAM_PORT -> pid in LAST
start_nginx_hop() {
  start_nginx "$WORK/$1" "$2" "$3"
  LAST=$NGINX_PID
  PIDS+=("$LAST")
}
# fwatchdog NAME PORT UPSTREAM_PORT -> pid in LAST
start_wd() {
  mkdir -p "$WORK/$1"
  env -i "PATH=$PATH" "TMPDIR=$WORK/$1" mode=http "upstream_url=http://127.0.0.1:$3" "port=$2" \
    bind_address=127.0.0.1 metrics_port=off "$T/dist/fwatchdog" >"$WORK/$1.log" 2>&1 &
  LAST=$!
  PIDS+=("$LAST")
}
wait_200() {
  for _ in $(seq 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/")" = 200 ] && return 0
    sleep 0.05
  done
  say "nothing answers 200 on port $1"; exit 1
}

UP_PORT=$(port)
"$T/release/examples/hello_upstream" "$UP_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=("$!")
wait_200 "$UP_PORT"
# Replica fronts.
NF_PORT=$(port); start_nginx_hop front-nginx "$NF_PORT" "$UP_PORT"; NF=$LAST
WF_PORT=$(port); start_wd front-wd "$WF_PORT" "$UP_PORT"; WF=$LAST
# Gateways: "name port gateway_pid front_pid".
CHAINS=()
p=$(port); start_nginx_hop gw-nn "$p" "$NF_PORT"; CHAINS+=("nginx->nginx $p $LAST $NF")
p=$(port); start_nginx_hop gw-nw "$p" "$WF_PORT"; CHAINS+=("nginx->wd $p $LAST $WF")
p=$(port); start_wd gw-ww "$p" "$WF_PORT"; CHAINS+=("wd->wd $p $LAST $WF")
p=$(port); start_wd gw-wn "$p" "$NF_PORT"; CHAINS+=("wd->nginx $p $LAST $NF")
for chain in "${CHAINS[@]}"; do set -- $chain; wait_200 "$2"; done

# url gateway_pid front_pid -> "rps gateway_us front_us"
measure() {
  local g0 f0 g1 f1 out
  g0=$(cpu_ticks "$2"); f0=$(cpu_ticks "$3")
  out=$(wrk -t2 -c32 -d"${DURATION}s" "$1" 2>/dev/null)
  g1=$(cpu_ticks "$2"); f1=$(cpu_ticks "$3")
  awk -v g=$((g1 - g0)) -v f=$((f1 - f0)) -v hz="$HZ" '
    /requests in/ {n=$1} /Requests\/sec/ {rps=$2}
    END {printf "%s %.1f %.1f\n", rps, (n ? g*1e6/hz/n : -1), (n ? f*1e6/hz/n : -1)}' <<<"$out"
}

: >"$WORK/rows"
printf '%-13s %5s %11s %7s %12s %12s\n' chain round req/s ratio gateway-cpu front-cpu
for r in $(seq "$ROUNDS"); do
  direct=$(wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:$UP_PORT/" | awk '/Requests\/sec/ {print $2}')
  printf '%-13s %5s %11s\n' direct "$r" "$direct"
  for chain in "${CHAINS[@]}"; do
    set -- $chain
    read -r rps gcpu fcpu < <(measure "http://127.0.0.1:$2/" "$3" "$4")
    ratio=$(awk -v a="$rps" -v b="$direct" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
    printf '%-13s %5s %11s %7s %9s us %9s us\n' "$1" "$r" "$rps" "$ratio" "$gcpu" "$fcpu"
    echo "$1 $ratio $gcpu $fcpu" >>"$WORK/rows"
  done
done
echo
echo "medians over $ROUNDS rounds (ratio to the direct run of the same round):"
for chain in "${CHAINS[@]}"; do
  set -- $chain
  printf '  %-13s ratio %s, gateway %s us/call, front %s us/call\n' "$1" \
    "$(awk -v c="$1" '$1 == c {print $2}' "$WORK/rows" | median)" \
    "$(awk -v c="$1" '$1 == c {print $3}' "$WORK/rows" | median)" \
    "$(awk -v c="$1" '$1 == c {print $4}' "$WORK/rows" | median)"
done
