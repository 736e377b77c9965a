#!/usr/bin/env bash
# Docker provider benchmark, run by hand (not in CI). Two faasd in one run, one with
# --provider docker (the project's dockerd from scripts/docker.sh, image rustfaas/busybox),
# one with the process provider, each with the same classic `cat` function. It prints:
#   - deploy to first call: POST /system/functions until the first 200 from /function/cat;
#   - cold start: time to first byte of a call to a function at zero replicas (median of COLD);
#   - throughput through the gateway as a ratio of the same replica called directly
#     (wrk -t2 -c16, DURATION s, ROUNDS alternated pairs, medians);
#   - faasd's resident memory with FUNCTIONS container functions (one replica each);
#   - with 1 and with FUNCTIONS+1 container functions: GET /system/functions (median of 20;
#     usage comes from the sampler's cache, never from the engine on a request) and the CPU
#     faasd and dockerd use while nothing is called (IDLE s: supervisors and usage sampler).
# Goals (issue 12): container cold start < 500 ms; gateway >= 0.9 of direct.
# Exits 0: it is a report.
set -euo pipefail
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
COLD=${COLD:-5}
FUNCTIONS=${FUNCTIONS:-100}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
say "building (release, --features docker)"
(cd "$ROOT" && cargo build -q --release -p faasd --features docker && bash scripts/build-watchdog.sh >/dev/null)
DOCKER_HOST=$(FWATCHDOG="$T/dist/fwatchdog" bash "$ROOT/scripts/docker.sh" start | sed -n 's/^DOCKER_HOST=//p')
export DOCKER_HOST

WORK=$(mktemp -d "${TMPDIR:-/tmp}/docker-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_faasd NAME [ENV=VALUE...]: prints the port; data in $WORK/NAME, pid in PIDS via file.
start_faasd() {
  local name=$1 p
  shift
  p=$(port)
  env "$@" "$T/release/faasd" --listen "127.0.0.1:$p" --data-dir "$WORK/$name" \
    --watchdog "$T/dist/fwatchdog" --autoscale-interval 0s >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.05; done
  echo "$p"
}
auth() { echo "$(cat "$WORK/$1/secrets/basic-auth-user"):$(cat "$WORK/$1/secrets/basic-auth-password")"; }
api() { # NAME PORT METHOD PATH [BODY]
  curl -s -u "$(auth "$1")" -X "$3" -o /dev/null -w '%{http_code}' ${5:+-d "$5"} "http://127.0.0.1:$2$4"
}
available() { # NAME PORT FUNCTION
  curl -s -u "$(auth "$1")" "http://127.0.0.1:$2/system/function/$3" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("availableReplicas",0))'
}
now_ms() { date +%s%3N; }

DP=$(start_faasd docker FAASD_PROVIDER=docker DOCKER_HOST="$DOCKER_HOST" FAASD_IMAGE_PULL=never)
PIDS+=("$(cat "$WORK/docker.pid")")
PP=$(start_faasd process)
PIDS+=("$(cat "$WORK/process.pid")")
DOCKER_FN='{"service":"cat","image":"rustfaas/busybox:latest","envProcess":"cat"}'
PROCESS_FN='{"service":"cat","image":"functions/alpine:latest","envProcess":"cat"}'

# ---- deploy to first call ----
first_call() { # NAME PORT JSON -> ms
  local start end
  start=$(now_ms)
  api "$1" "$2" POST /system/functions "$3" >/dev/null
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "http://127.0.0.1:$2/function/cat")" = 200 ] && break
    sleep 0.005
  done
  end=$(now_ms)
  echo $((end - start))
}
D_DEPLOY=$(first_call docker "$DP" "$DOCKER_FN")
P_DEPLOY=$(first_call process "$PP" "$PROCESS_FN")

# ---- cold starts ----
cold() { # NAME PORT -> seconds to first byte, one per line
  for _ in $(seq "$COLD"); do
    api "$1" "$2" POST /system/scale-function/cat '{"serviceName":"cat","replicas":0}' >/dev/null
    for _ in $(seq 400); do [ "$(available "$1" "$2" cat)" = 0 ] && break; sleep 0.05; done
    if [ "$1" = docker ]; then
      # The drained containers leave within their stop grace.
      for _ in $(seq 300); do
        [ -z "$(docker ps -q --filter label=com.rustfaas.function=cat --filter "label=com.rustfaas.owner=$(cat "$WORK/docker/docker/owner")")" ] && break
        sleep 0.1
      done
    fi
    curl -s -o /dev/null -w '%{time_starttransfer}\n' -d hi "http://127.0.0.1:$2/function/cat"
  done
}
D_COLD=$(cold docker "$DP" | median)
P_COLD=$(cold process "$PP" | median)

# ---- throughput: gateway vs the same container directly ----
for _ in $(seq 200); do [ "$(available docker "$DP" cat)" = 1 ] && break; sleep 0.05; done
CPORT=$(docker ps --filter label=com.rustfaas.function=cat \
  --filter "label=com.rustfaas.owner=$(cat "$WORK/docker/docker/owner")" --format '{{.Ports}}' |
  sed -n 's/.*127\.0\.0\.1:\([0-9]*\)->8080.*/\1/p' | head -n1)
rps() { wrk -t2 -c16 -d"${DURATION}s" -s <(printf 'wrk.method="POST"\nwrk.body="hi"\n') "$1" | awk '/Requests\/sec/ {print $2}'; }
GW=()
DIRECT=()
for _ in $(seq "$ROUNDS"); do
  GW+=("$(rps "http://127.0.0.1:$DP/function/cat")")
  DIRECT+=("$(rps "http://127.0.0.1:$CPORT/")")
done
GW_RPS=$(printf '%s\n' "${GW[@]}" | median)
DIRECT_RPS=$(printf '%s\n' "${DIRECT[@]}" | median)

# ---- faasd's memory, list time and idle CPU with FUNCTIONS container functions ----
list_ms() {
  for _ in $(seq 20); do
    curl -s -o /dev/null -w '%{time_total}\n' -u "$(auth docker)" "http://127.0.0.1:$DP/system/functions"
  done | median | awk '{ printf "%.1f", $1 * 1000 }'
}
DOCKERD_PID=$(cat "${RUSTFAAS_DOCKER_DIR:-/tmp/rustfaas-docker}/dockerd.pid")
IDLE=${IDLE:-10}
idle_both() { # -> "faasd dockerd" cores over the same IDLE s
  local f d
  f=$(cpu_ticks "$(cat "$WORK/docker.pid")")
  d=$(cpu_ticks "$DOCKERD_PID")
  sleep "$IDLE"
  printf '%s %s\n' \
    "$(echo "($(cpu_ticks "$(cat "$WORK/docker.pid")") - $f) / ($IDLE * $(getconf CLK_TCK))" | bc -l)" \
    "$(echo "($(cpu_ticks "$DOCKERD_PID") - $d) / ($IDLE * $(getconf CLK_TCK))" | bc -l)"
}
LIST_1=$(list_ms)
read -r IDLE_F1 IDLE_D1 < <(idle_both)
RSS_BEFORE=$(awk '/VmRSS/ {print $2}' "/proc/$(cat "$WORK/docker.pid")/status")
for i in $(seq "$FUNCTIONS"); do
  api docker "$DP" POST /system/functions "{\"service\":\"fn$i\",\"image\":\"rustfaas/busybox:latest\",\"envProcess\":\"cat\"}" >/dev/null
done
for _ in $(seq 1200); do
  ready=$(curl -s -u "$(auth docker)" "http://127.0.0.1:$DP/system/functions" |
    python3 -c 'import json,sys; print(sum(f.get("availableReplicas",0) for f in json.load(sys.stdin) if f["name"].startswith("fn")))')
  [ "$ready" -ge "$FUNCTIONS" ] && break
  sleep 0.5
done
RSS_AFTER=$(awk '/VmRSS/ {print $2}' "/proc/$(cat "$WORK/docker.pid")/status")
LIST_N=$(list_ms)
read -r IDLE_FN IDLE_DN < <(idle_both)

printf '\n== docker provider vs process provider (same run) ==\n'
printf 'deploy to first call:  docker %s ms   process %s ms\n' "$D_DEPLOY" "$P_DEPLOY"
printf 'cold start (median of %s, time to first byte): docker %.0f ms   process %.0f ms   (goal: docker < 500 ms)\n' \
  "$COLD" "$(echo "$D_COLD * 1000" | bc -l)" "$(echo "$P_COLD * 1000" | bc -l)"
printf 'throughput, classic cat: gateway %s req/s   container direct %s req/s   ratio %.2f   (goal >= 0.90)\n' \
  "$GW_RPS" "$DIRECT_RPS" "$(echo "$GW_RPS / $DIRECT_RPS" | bc -l)"
printf 'faasd RSS: %s kB with 1 function, %s kB with %s more container functions (%s ready)\n' \
  "$RSS_BEFORE" "$RSS_AFTER" "$FUNCTIONS" "$ready"
printf 'GET /system/functions (median of 20): %s ms with 1 function, %s ms with %s more\n' \
  "$LIST_1" "$LIST_N" "$FUNCTIONS"
printf 'idle CPU over %s s (cores): faasd %.3f, dockerd %.3f with 1 function; faasd %.3f, dockerd %.3f with %s more\n' \
  "$IDLE" "$IDLE_F1" "$IDLE_D1" "$IDLE_FN" "$IDLE_DN" "$FUNCTIONS"
