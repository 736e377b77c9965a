#!/usr/bin/env bash
# The sandbox's cost, run by hand (not in CI): three faasd side by side, measured in the same
# run: `on`, the process provider's sandbox as by default (`--sandbox auto`; as root every
# guarantee), the gateway reaching each watchdog over a Unix socket; `tcp`, the same sandbox
# with `--sandbox-tcp true` (watchdogs on loopback ports); `off`, `--sandbox off` (TCP).
# It prints:
#   - cold start, a call's time to first byte for a function at zero replicas (scaled to 0
#     through the API first), for a classic `cat` and an http-mode compiled function
#     (crates/faas-watchdog/examples/hello_upstream, uploaded as a package so the sandbox
#     sees it), and the same package asking for a writable copy per replica (`hellow`,
#     `"writable": true`: the copy is made at each start); median of COLD rounds each per
#     faasd, their order rotated every round;
#   - throughput through the gateway to the http-mode function: wrk -t2 -c32 on each faasd,
#     order rotated, ROUNDS rounds, medians and the median per-round ratios on/off (the
#     sandbox's cost) and on/tcp (what the Unix socket hop gains over TCP); with each run, the
#     CPU time faasd and its replicas used per call (noise-proof: a busy host slows calls,
#     it does not add CPU time to them).
# Goals: sandboxed cold start < 50 ms; sandboxed throughput >= 0.95 of unsandboxed.
# Knobs: DURATION (5) seconds per wrk run, ROUNDS (5) rounds, COLD (7) cold starts per
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
# hellow: the same, asking for a writable copy per replica.
python3 - "$T/release/examples/hello_upstream" "$WORK" <<'EOF'
import io, json, sys, tarfile
binary, work = sys.argv[1], sys.argv[2]
for name, writable in (("hello", False), ("hellow", True)):
    with tarfile.open(f"{work}/{name}.tar.gz", "w:gz") as tar:
        tar.add(binary, arcname="hello_upstream")
        manifest = {"env": {"mode": "http", "fprocess": "sh -c 'exec ./hello_upstream $PORT'"}}
        if writable:
            manifest["writable"] = True
        manifest = json.dumps(manifest).encode()
        info = tarfile.TarInfo("faas-package.json"); info.size = len(manifest); info.mode = 0o644
        tar.addfile(info, io.BytesIO(manifest))
EOF

MODES=(on tcp off)
declare -A PORT
PORT[on]=$(start_faasd on)
PIDS+=("$(cat "$WORK/on.pid")")
PORT[tcp]=$(start_faasd tcp --sandbox-tcp true)
PIDS+=("$(cat "$WORK/tcp.pid")")
PORT[off]=$(start_faasd off --sandbox off)
PIDS+=("$(cat "$WORK/off.pid")")
curl -s -u "$(auth on)" "http://127.0.0.1:${PORT[on]}/system/info" |
  python3 -c 'import json,sys; s=json.load(sys.stdin)["sandbox"]; print("sandbox active:", s["active"], "| missing:", s["missing"] or "nothing")' >&2
for mode in "${MODES[@]}"; do
  p=${PORT[$mode]}
  for pkg in hello hellow; do
    curl -sf -u "$(auth "$mode")" -o /dev/null -X PUT --data-binary @"$WORK/$pkg.tar.gz" "http://127.0.0.1:$p/system/packages/$pkg:1"
    deploy "$mode" "$p" "{\"service\":\"$pkg\",\"image\":\"$pkg:1\"}"
  done
  deploy "$mode" "$p" '{"service":"cat","image":"functions/alpine:latest","envProcess":"cat"}'
  for fn in cat hello hellow; do
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "http://127.0.0.1:$p/function/$fn")" = 200 ]; do sleep 0.05; done
  done
done
# How each reaches its replicas: a Unix socket in the replica's run directory, or a port.
for mode in "${MODES[@]}"; do
  sock=$(find "$WORK/$mode/run" -name watchdog.sock -type s 2>/dev/null | head -1)
  if [ -n "$sock" ]; then say "$mode: the gateway reaches replicas over a Unix socket ($sock)"; else say "$mode: the gateway reaches replicas over loopback TCP"; fi
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
# rotated R: the modes, starting at the R-th, so none always runs first.
rotated() { local i n=${#MODES[@]}; for i in $(seq 0 $((n - 1))); do echo "${MODES[$(((i + $1) % n))]}"; done; }
declare -A COLD_MEDIAN
printf '%-6s %-5s %s\n' fn mode "cold start, call to first byte (ms), $COLD rounds"
for fn in cat hello hellow; do
  for mode in "${MODES[@]}"; do : >"$WORK/cold-$mode"; done
  for r in $(seq "$COLD"); do
    for mode in $(rotated "$r"); do
      cold_once "$mode" "${PORT[$mode]}" "$fn" >>"$WORK/cold-$mode"; echo >>"$WORK/cold-$mode"
    done
  done
  for mode in "${MODES[@]}"; do
    COLD_MEDIAN[$fn-$mode]=$(median <"$WORK/cold-$mode")
    printf '%-6s %-5s median %6s   all: %s\n' "$fn" "$mode" "${COLD_MEDIAN[$fn-$mode]}" "$(tr '\n' ' ' <"$WORK/cold-$mode")"
  done
done

# rps MODE: runs wrk on MODE's faasd; prints req/s and appends CPU us per call to cpu-MODE.
rps() {
  local pid before after out
  pid=$(cat "$WORK/$1.pid")
  before=$(tree_cpu_ticks "$pid")
  out=$(wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:${PORT[$1]}/function/hello" 2>/dev/null)
  after=$(tree_cpu_ticks "$pid")
  awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" '/requests in/ {printf "%.1f\n", (a - b) * 1e6 / hz / $1}' <<<"$out" >>"$WORK/cpu-$1"
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
declare -A RPS
for mode in "${MODES[@]}"; do : >"$WORK/rps-$mode"; : >"$WORK/cpu-$mode"; done
: >"$WORK/ratio-off"; : >"$WORK/ratio-tcp"
printf '\n%-6s %12s %12s %12s %8s %8s\n' round "on(unix)/s" "tcp/s" "off/s" "on/off" "on/tcp"
for r in $(seq "$ROUNDS"); do
  for mode in $(rotated "$r"); do
    RPS[$mode]=$(rps "$mode")
    echo "${RPS[$mode]}" >>"$WORK/rps-$mode"
  done
  awk -v a="${RPS[on]}" -v b="${RPS[off]}" 'BEGIN {printf "%.4f\n", a/b}' >>"$WORK/ratio-off"
  awk -v a="${RPS[on]}" -v b="${RPS[tcp]}" 'BEGIN {printf "%.4f\n", a/b}' >>"$WORK/ratio-tcp"
  printf '%-6s %12s %12s %12s %8s %8s\n' "$r" "${RPS[on]}" "${RPS[tcp]}" "${RPS[off]}" "$(tail -1 "$WORK/ratio-off")" "$(tail -1 "$WORK/ratio-tcp")"
done

echo
echo "cold start (median of $COLD, call to first byte, ms): cat ${COLD_MEDIAN[cat-on]} sandboxed over a Unix socket, ${COLD_MEDIAN[cat-tcp]} sandboxed over TCP, ${COLD_MEDIAN[cat-off]} unsandboxed; compiled http ${COLD_MEDIAN[hello-on]} / ${COLD_MEDIAN[hello-tcp]} / ${COLD_MEDIAN[hello-off]} (goal < 50 sandboxed); the same with a writable copy per replica ${COLD_MEDIAN[hellow-on]} / ${COLD_MEDIAN[hellow-tcp]} / ${COLD_MEDIAN[hellow-off]}; package $(stat -c %s "$T/release/examples/hello_upstream") bytes unpacked"
awk -v on="$(median <"$WORK/rps-on")" -v tcp="$(median <"$WORK/rps-tcp")" -v off="$(median <"$WORK/rps-off")" \
  -v roff="$(median <"$WORK/ratio-off")" -v rtcp="$(median <"$WORK/ratio-tcp")" -v n="$ROUNDS" 'BEGIN {
  printf "throughput to the http-mode function, median of %d rotated rounds: sandboxed over a Unix socket %.0f req/s, sandboxed over TCP %.0f req/s, unsandboxed %.0f req/s\n", n, on, tcp, off
  printf "median round ratios: sandboxed (Unix socket) / unsandboxed %.3f (goal >= 0.95); Unix socket / TCP, both sandboxed, %.3f (what the socket hop gains)\n", roff, rtcp }'
awk -v on="$(median <"$WORK/cpu-on")" -v tcp="$(median <"$WORK/cpu-tcp")" -v off="$(median <"$WORK/cpu-off")" 'BEGIN {
  printf "CPU time of faasd and its replicas per call (median, us): sandboxed over a Unix socket %.1f, sandboxed over TCP %.1f, unsandboxed %.1f; unsandboxed / sandboxed %.3f (the throughput the sandbox leaves where CPU is the limit)\n", on, tcp, off, off / on }'
