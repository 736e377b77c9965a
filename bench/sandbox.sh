#!/usr/bin/env bash
# The sandbox's cost, run by hand (not in CI): two faasd side by side, one with the process
# provider's sandbox (the default, `--sandbox auto`; as root every guarantee) and one with
# `--sandbox off`, measured in the same run. It prints:
#   - cold start, a call's time to first byte for a function at zero replicas (scaled to 0
#     through the API first), for a classic `cat` and an http-mode compiled function
#     (crates/faas-watchdog/examples/hello_upstream, uploaded as a package so the sandbox
#     sees it); median of COLD rounds each, sandboxed and not, alternated;
#   - throughput through the gateway to the http-mode function: wrk -t2 -c32 on each faasd,
#     alternated, ROUNDS pairs, medians and the median pair ratio.
# Goals: sandboxed cold start < 50 ms; sandboxed throughput >= 0.95 of unsandboxed.
# Knobs: DURATION (5) seconds per wrk run, ROUNDS (5) pairs, COLD (7) cold starts per
# function and mode. Exits 0: it is a report.
set -euo pipefail
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
COLD=${COLD:-7}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v wrk >/dev/null || bash "$ROOT/scripts/apt-install.sh" wrk
command -v bwrap >/dev/null || bash "$ROOT/scripts/apt-install.sh" bubblewrap
say "building (release)"
(cd "$ROOT" && cargo build -q --release -p faasd && cargo build -q --release -p faas-watchdog --example hello_upstream && bash scripts/build-watchdog.sh >/dev/null)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sandbox-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_faasd NAME [FLAG...]: prints the port; the data directory is $WORK/NAME.
start_faasd() {
  local name=$1 p
  shift
  p=$(port)
  "$T/release/faasd" --listen "127.0.0.1:$p" --data-dir "$WORK/$name" --watchdog "$T/dist/fwatchdog" "$@" >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.05; done
  echo "$p"
}
auth() { echo "$(cat "$WORK/$1/secrets/basic-auth-user"):$(cat "$WORK/$1/secrets/basic-auth-password")"; }
deploy() { curl -sf -u "$(auth "$1")" -o /dev/null -d "$3" "http://127.0.0.1:$2/system/functions"; }
available() { # NAME PORT FUNCTION -> "replicas available"
  curl -s -u "$(auth "$1")" "http://127.0.0.1:$2/system/function/$3" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("replicas",0), s.get("availableReplicas",0))'
}

# The compiled http-mode function as a package: the sandbox sees no file outside it.
python3 - "$T/release/examples/hello_upstream" "$WORK/hello.tar.gz" <<'EOF'
import io, json, sys, tarfile
binary, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w:gz") as tar:
    tar.add(binary, arcname="hello_upstream")
    manifest = json.dumps({"env": {"mode": "http", "fprocess": "sh -c 'exec ./hello_upstream $PORT'"}}).encode()
    info = tarfile.TarInfo("faas-package.json"); info.size = len(manifest); info.mode = 0o644
    tar.addfile(info, io.BytesIO(manifest))
EOF

ON=$(start_faasd on)
PIDS+=("$(cat "$WORK/on.pid")")
OFF=$(start_faasd off --sandbox off)
PIDS+=("$(cat "$WORK/off.pid")")
curl -s -u "$(auth on)" "http://127.0.0.1:$ON/system/info" |
  python3 -c 'import json,sys; s=json.load(sys.stdin)["sandbox"]; print("sandbox active:", s["active"], "| missing:", s["missing"] or "nothing")' >&2
for pair in "on $ON" "off $OFF"; do
  set -- $pair
  curl -sf -u "$(auth "$1")" -o /dev/null -X PUT --data-binary @"$WORK/hello.tar.gz" "http://127.0.0.1:$2/system/packages/hello:1"
  deploy "$1" "$2" '{"service":"cat","image":"functions/alpine:latest","envProcess":"cat"}'
  deploy "$1" "$2" '{"service":"hello","image":"hello:1"}'
  for fn in cat hello; do
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "http://127.0.0.1:$2/function/$fn")" = 200 ]; do sleep 0.05; done
  done
done

first_byte_ms() { # PORT FUNCTION -> ms to first byte (warns on a non-200)
  local t
  t=$(curl -s -o "$WORK/out" -w '%{http_code} %{time_starttransfer}' -d hi "http://127.0.0.1:$1/function/$2")
  [ "${t%% *}" = 200 ] || say "$2: answered ${t%% *}: $(cat "$WORK/out")"
  awk -v s="${t#* }" 'BEGIN {printf "%.1f", s*1000}'
}
cold_once() { # NAME PORT FUNCTION -> ms
  curl -sf -u "$(auth "$1")" -o /dev/null -d "{\"serviceName\":\"$3\",\"replicas\":0}" "http://127.0.0.1:$2/system/scale-function/$3"
  for _ in $(seq 300); do [ "$(available "$1" "$2" "$3")" = "0 0" ] && break; sleep 0.05; done
  sleep 0.2 # let the stopped replica go
  first_byte_ms "$2" "$3"
}
declare -A COLD_MEDIAN
printf '%-6s %-10s %s\n' fn sandbox "cold start, call to first byte (ms), $COLD rounds"
for fn in cat hello; do
  : >"$WORK/cold-on"; : >"$WORK/cold-off"
  for r in $(seq "$COLD"); do
    if [ $((r % 2)) = 1 ]; then
      cold_once on "$ON" "$fn" >>"$WORK/cold-on"; echo >>"$WORK/cold-on"
      cold_once off "$OFF" "$fn" >>"$WORK/cold-off"; echo >>"$WORK/cold-off"
    else
      cold_once off "$OFF" "$fn" >>"$WORK/cold-off"; echo >>"$WORK/cold-off"
      cold_once on "$ON" "$fn" >>"$WORK/cold-on"; echo >>"$WORK/cold-on"
    fi
  done
  for mode in on off; do
    COLD_MEDIAN[$fn-$mode]=$(median <"$WORK/cold-$mode")
    printf '%-6s %-10s median %6s   all: %s\n' "$fn" "$mode" "${COLD_MEDIAN[$fn-$mode]}" "$(tr '\n' ' ' <"$WORK/cold-$mode")"
  done
done

rps() { wrk -t2 -c32 -d"${DURATION}s" "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
: >"$WORK/rps-on"; : >"$WORK/rps-off"; : >"$WORK/ratio"
printf '\n%-6s %14s %14s %8s\n' round "sandboxed/s" "unsandboxed/s" ratio
for r in $(seq "$ROUNDS"); do
  # Alternate which goes first, so neither always runs on a warmer or busier machine.
  if [ $((r % 2)) = 1 ]; then
    on=$(rps "http://127.0.0.1:$ON/function/hello"); off=$(rps "http://127.0.0.1:$OFF/function/hello")
  else
    off=$(rps "http://127.0.0.1:$OFF/function/hello"); on=$(rps "http://127.0.0.1:$ON/function/hello")
  fi
  echo "$on" >>"$WORK/rps-on"; echo "$off" >>"$WORK/rps-off"
  awk -v a="$on" -v b="$off" 'BEGIN {printf "%.4f\n", a/b}' >>"$WORK/ratio"
  printf '%-6s %14s %14s %8s\n' "$r" "$on" "$off" "$(tail -1 "$WORK/ratio")"
done
ON_MED=$(median <"$WORK/rps-on"); OFF_MED=$(median <"$WORK/rps-off"); RATIO=$(median <"$WORK/ratio")

echo
echo "cold start (median of $COLD, call to first byte): cat ${COLD_MEDIAN[cat-on]} ms sandboxed vs ${COLD_MEDIAN[cat-off]} ms not; compiled http ${COLD_MEDIAN[hello-on]} ms sandboxed vs ${COLD_MEDIAN[hello-off]} ms not (goal < 50 sandboxed)"
awk -v on="$ON_MED" -v off="$OFF_MED" -v r="$RATIO" -v n="$ROUNDS" 'BEGIN {
  printf "throughput to the http-mode function, median of %d alternated pairs: sandboxed %.0f req/s, unsandboxed %.0f req/s; median pair ratio %.3f (goal >= 0.95)\n", n, on, off, r }'
