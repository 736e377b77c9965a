#!/usr/bin/env bash
# faasd benchmark, run by hand (not in CI). From one run it prints:
#   - requests/s and p50/p99 (wrk -t2 -c32) for the hello upstream called directly, through its
#     fwatchdog (http mode), and through the gateway (gateway -> watchdog -> upstream),
#     measured alternately, with the ratios to direct; and, as the reference the goal is
#     calibrated against, nginx as a one-worker gateway (keep-alive upstream, no access log) in
#     front of the same replica (nginx -> watchdog -> upstream), with the CPU time faasd and
#     nginx each spend per call (utime+stime from /proc over the run);
#   - p99 at a fixed 1,000 requests/s (rate-load, open loop) direct and through the gateway;
#   - deploy-to-first-successful-call time for a process function;
#   - faasd's RSS idle and with 100 deployed functions scaled to 1 (replicas not counted).
# Knobs: DURATION (5), ROUNDS (3), FUNCTIONS (100), NGINX (1; 0 skips the nginx reference,
# which is installed from Debian's packages if missing). Exits 0: it is a report.
set -euo pipefail
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
FUNCTIONS=${FUNCTIONS:-100}
NGINX=${NGINX:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# shellcheck source=bench/lib/nginx.sh
. "$ROOT/bench/lib/nginx.sh"
if [ "$NGINX" = 1 ] && ! ensure_nginx; then NGINX=0; fi
say "building (release)"
(cd "$ROOT" && cargo build -q --release -p faasd -p faas-bench --bins && cargo build -q --release -p faas-watchdog --example hello_upstream && bash scripts/build-watchdog.sh >/dev/null)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/faasd-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }
wrk_run() { # url -> "rps p50 p99"
  wrk -t2 -c32 -d"${DURATION}s" --latency "$1" 2>/dev/null | awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    END {print rps, p50, p99}'
}

GW_PORT=$(port)
DATA=$WORK/data
# --sandbox off: the function runs a binary of the build tree, which a sandbox does not see
# (bench/sandbox.sh measures the sandbox with packages).
"$T/release/faasd" --listen "127.0.0.1:$GW_PORT" --data-dir "$DATA" --watchdog "$T/dist/fwatchdog" --sandbox off >"$WORK/faasd.log" 2>&1 &
FAASD=$!
PIDS+=("$FAASD")
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$GW_PORT/healthz" >/dev/null && break; sleep 0.05; done
AUTH="$(cat "$DATA/secrets/basic-auth-user"):$(cat "$DATA/secrets/basic-auth-password")"
GW="http://127.0.0.1:$GW_PORT"
sleep 1
IDLE_RSS=$(rss_kb "$FAASD")

# Deploy to first call, five times, for a classic process function.
deploy_times=()
for i in 1 2 3 4 5; do
  start=$(now_ms)
  curl -sf -u "$AUTH" -o /dev/null -d "{\"service\":\"first$i\",\"image\":\"functions/alpine:latest\",\"envProcess\":\"cat\"}" "$GW/system/functions"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "$GW/function/first$i")" = 200 ]; do :; done
  deploy_times+=($(( $(now_ms) - start )))
  curl -sf -u "$AUTH" -o /dev/null -X DELETE -d "{\"functionName\":\"first$i\"}" "$GW/system/functions"
done
DEPLOY_MEDIAN=$(printf '%s\n' "${deploy_times[@]}" | median)

# The hello upstream as an http-mode function (it listens on $PORT, set by the provider).
curl -sf -u "$AUTH" -o /dev/null -d "{\"service\":\"hello\",\"image\":\"functions/alpine:latest\",\"envProcess\":\"sh -c 'exec $T/release/examples/hello_upstream \$PORT'\",\"envVars\":{\"mode\":\"http\"}}" "$GW/system/functions"
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/hello")" = 200 ]; do sleep 0.05; done
WD_PID=""
for pid in $(pgrep -P "$FAASD" fwatchdog); do
  if tr '\0' '\n' < "/proc/$pid/environ" | grep -q '^RUSTFAAS_REPLICA=.*/hello/'; then WD_PID=$pid; fi
done
[ -n "$WD_PID" ] || { say "cannot find the hello replica"; exit 1; }
WD_PORT=$(tr '\0' '\n' < "/proc/$WD_PID/environ" | sed -n 's/^port=//p')
UP_PORT=$(tr '\0' '\n' < "/proc/$WD_PID/environ" | sed -n 's/^PORT=//p')

# The reference gateway: nginx, one worker, in front of the same replica.
NGINX_PID=""
if [ "$NGINX" = 1 ]; then
  NGINX_PORT=$(port)
  start_nginx "$WORK/nginx" "$NGINX_PORT" "$WD_PORT" /function/hello
  PIDS+=("$NGINX_PID")
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/function/hello")" = 200 ] && break
    sleep 0.05
  done
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/function/hello")" != 200 ]; then
    say "nginx did not answer; reference skipped: $(cat "$WORK/nginx/stderr.log" "$WORK/nginx/error.log" 2>/dev/null | head -c 300)"
    NGINX=0
  fi
fi
HZ=$(getconf CLK_TCK)
# url pid -> "rps p50 p99 us_per_call" (CPU time of pid per call over the run)
wrk_cpu() {
  local before after out calls
  before=$(cpu_ticks "$2")
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$1" 2>/dev/null)
  after=$(cpu_ticks "$2")
  awk -v t=$((after - before)) -v hz="$HZ" '
    /requests in/ {n=$1}
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    END {printf "%s %s %s %.1f\n", rps, p50, p99, (n > 0 ? t * 1e6 / hz / n : -1)}' <<<"$out"
}

printf '%-9s %5s %12s %10s %10s %14s\n' target round req/s p50 p99 cpu/call
: > "$WORK/ratios"
for r in $(seq "$ROUNDS"); do
  read -r d_rps d_p50 d_p99 < <(wrk_run "http://127.0.0.1:$UP_PORT/")
  read -r w_rps w_p50 w_p99 < <(wrk_run "http://127.0.0.1:$WD_PORT/")
  read -r g_rps g_p50 g_p99 g_cpu < <(wrk_cpu "$GW/function/hello" "$FAASD")
  printf '%-9s %5s %12s %10s %10s\n' direct "$r" "$d_rps" "$d_p50" "$d_p99" watchdog "$r" "$w_rps" "$w_p50" "$w_p99"
  printf '%-9s %5s %12s %10s %10s %11s us\n' gateway "$r" "$g_rps" "$g_p50" "$g_p99" "$g_cpu"
  n_rps=0 n_cpu=-
  if [ "$NGINX" = 1 ]; then
    read -r n_rps n_p50 n_p99 n_cpu < <(wrk_cpu "http://127.0.0.1:$NGINX_PORT/function/hello" "$NGINX_PID")
    printf '%-9s %5s %12s %10s %10s %11s us\n' nginx-gw "$r" "$n_rps" "$n_p50" "$n_p99" "$n_cpu"
  fi
  awk -v d="$d_rps" -v w="$w_rps" -v g="$g_rps" -v n="$n_rps" -v gc="$g_cpu" -v nc="$n_cpu" \
    'BEGIN {printf "%.3f %.3f %.3f %s %s\n", w/d, g/d, n/d, gc, nc}' >> "$WORK/ratios"
done
W_RATIO=$(cut -d' ' -f1 "$WORK/ratios" | median)
G_RATIO=$(cut -d' ' -f2 "$WORK/ratios" | median)
N_RATIO=$(cut -d' ' -f3 "$WORK/ratios" | median)
G_CPU=$(cut -d' ' -f4 "$WORK/ratios" | median)
N_CPU=$(cut -d' ' -f5 "$WORK/ratios" | grep -v -- - | median)

DIRECT_FIXED=$("$T/release/rate-load" "http://127.0.0.1:$UP_PORT/" 1000 5)
GATEWAY_FIXED=$("$T/release/rate-load" "$GW/function/hello" 1000 5)
d99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$DIRECT_FIXED")
g99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$GATEWAY_FIXED")

say "deploying $FUNCTIONS functions"
for i in $(seq "$FUNCTIONS"); do
  curl -sf -u "$AUTH" -o /dev/null -d "{\"service\":\"fn$i\",\"image\":\"functions/alpine:latest\",\"envProcess\":\"cat\"}" "$GW/system/functions"
done
for _ in $(seq 600); do
  ready=$(curl -s -u "$AUTH" "$GW/system/functions" | python3 -c 'import json,sys; print(sum(f.get("availableReplicas",0) for f in json.load(sys.stdin) if f["name"].startswith("fn")))')
  [ "$ready" -ge "$FUNCTIONS" ] && break
  sleep 0.1
done
sleep 1
FULL_RSS=$(rss_kb "$FAASD")

echo
echo "ratio to direct (median of $ROUNDS alternated rounds): watchdog $W_RATIO, gateway $G_RATIO (goal >= 0.25)"
if [ "$NGINX" = 1 ]; then
  echo "reference, same run: nginx (one worker) as the gateway -> the same watchdog -> upstream: $N_RATIO of direct"
  echo "CPU per call in the gateway hop: faasd $G_CPU us, nginx $N_CPU us (medians)"
fi
echo "fixed 1000 req/s: direct: $DIRECT_FIXED"
echo "fixed 1000 req/s: gateway: $GATEWAY_FIXED"
awk -v d="$d99" -v g="$g99" 'BEGIN {printf "p99 added by gateway+watchdog at 1000 req/s: %.3f ms (goal < 1 ms)\n", g-d}'
echo "deploy to first successful call (median of 5): ${DEPLOY_MEDIAN} ms (goal < 300 ms); all: ${deploy_times[*]}"
echo "faasd RSS idle: ${IDLE_RSS} KiB (goal < 20 MB); with $FUNCTIONS functions at 1 replica ($ready ready): ${FULL_RSS} KiB (goal < 60 MB)"
