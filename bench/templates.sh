#!/usr/bin/env bash
# Language templates benchmark, run by hand (not in CI). Against one release faasd it prints:
#   - `faas-cli up` (build, push, deploy) per template with a warm build cache: the first up
#     of each fills the caches (Go's build cache, pip's and npm's installs), then the median
#     of ROUNDS more, with the bash template measured in the same run as the baseline;
#   - cold start, a call's time to first byte for a function at zero replicas (scaled to 0
#     through the API first), for go, java11 and php8, median of COLD rounds, with bash's
#     as the baseline and each one warm (replica running) beside it.
# Goals: up < 5 s for every template (go and java included).
# Knobs: ROUNDS (3), COLD (5), TEMPLATES (the list below). Needs the toolchains (go, javac,
# php, ruby, node, python3 with Flask): scripts/test.sh installs them. Exits 0: a report.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
COLD=${COLD:-5}
TEMPLATES=${TEMPLATES:-bash go golang-middleware golang-http java11 java17 python3-flask node18 node20 php8 ruby}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

say "building faasd, fwatchdog and faas-cli (release)"
(cd "$ROOT" && cargo build -q --release -p faasd -p faas-watchdog -p faas-cli --bins)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/templates-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT

GP=$(port)
GW="http://127.0.0.1:$GP"
"$T/release/faasd" --listen "127.0.0.1:$GP" --data-dir "$WORK/data" --watchdog "$T/release/fwatchdog" >"$WORK/faasd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do curl -sf "$GW/healthz" >/dev/null 2>&1 && [ -s "$WORK/data/secrets/basic-auth-password" ] && break; sleep 0.1; done
AUTH="$(cat "$WORK/data/secrets/basic-auth-user"):$(cat "$WORK/data/secrets/basic-auth-password")"
export OPENFAAS_URL=$GW OPENFAAS_CONFIG="$WORK/openfaas"
cli() { "$T/release/faas-cli" "$@"; }
cli login --password-stdin <"$WORK/data/secrets/basic-auth-password" >/dev/null
mkdir -p "$WORK/project" && cd "$WORK/project"

seconds() { # COMMAND... -> wall seconds (fails the script if the command fails)
  local start end
  start=$EPOCHREALTIME
  "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; return 1; }
  end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

declare -A FIRST UP
printf '%-18s %10s %12s %s\n' template "first up" "warm up" "warm rounds (s)"
for lang in $TEMPLATES; do
  fn="b-${lang}"
  cli new "$fn" --lang "$lang" --quiet >/dev/null
  FIRST[$lang]=$(seconds cli up -f "$fn.yml")
  rounds=()
  for _ in $(seq "$ROUNDS"); do rounds+=("$(seconds cli up -f "$fn.yml")"); done
  UP[$lang]=$(printf '%s\n' "${rounds[@]}" | median)
  printf '%-18s %9ss %11ss %s\n' "$lang" "${FIRST[$lang]}" "${UP[$lang]}" "${rounds[*]}"
done

available() { # FUNCTION -> "replicas available"
  curl -s -u "$AUTH" "$GW/system/function/$1" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("replicas",0), s.get("availableReplicas",0))'
}
first_byte_ms() { # FUNCTION -> ms to first byte (warns on a non-200)
  local t
  t=$(curl -s -o "$WORK/out" -w '%{http_code} %{time_starttransfer}' -d hi "$GW/function/$1")
  [ "${t%% *}" = 200 ] || say "$1: answered ${t%% *}: $(cat "$WORK/out")"
  awk -v s="${t#* }" 'BEGIN {printf "%.1f", s*1000}'
}
declare -A COLD_MS WARM_MS
echo
printf '%-18s %s\n' function "call to first byte (ms): warm median, cold (at zero replicas) median over $COLD rounds"
for lang in bash go java11 php8; do
  case " $TEMPLATES " in *" $lang "*) ;; *) continue ;; esac
  fn="b-${lang}"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -d hi "$GW/function/$fn")" = 200 ]; do sleep 0.05; done
  warm=()
  for _ in $(seq 5); do warm+=("$(first_byte_ms "$fn")"); done
  WARM_MS[$lang]=$(printf '%s\n' "${warm[@]}" | median)
  times=()
  for _ in $(seq "$COLD"); do
    curl -sf -u "$AUTH" -o /dev/null -d "{\"serviceName\":\"$fn\",\"replicas\":0}" "$GW/system/scale-function/$fn"
    for _ in $(seq 300); do [ "$(available "$fn")" = "0 0" ] && break; sleep 0.05; done
    sleep 0.2 # let the stopped replica go
    times+=("$(first_byte_ms "$fn")")
  done
  COLD_MS[$lang]=$(printf '%s\n' "${times[@]}" | median)
  printf '%-18s warm %7s   cold %7s   all: %s\n' "$lang" "${WARM_MS[$lang]}" "${COLD_MS[$lang]}" "${times[*]}"
done

echo
base=${UP[bash]:-}
printf 'faas-cli up, warm cache, median of %s (goal < 5 s); ratio to bash (%ss) in the same run:\n' "$ROUNDS" "${base:-?}"
for lang in $TEMPLATES; do
  awk -v l="$lang" -v s="${UP[$lang]}" -v b="${base:-0}" 'BEGIN {
    printf "  %-18s %6.2f s  x%-6.1f %s\n", l, s, (b > 0 ? s / b : 0), (s < 5 ? "ok" : "OVER 5 s") }'
done
cbase=${COLD_MS[bash]:-}
printf 'cold start to first byte at zero replicas, median of %s; ratio to bash (%s ms):\n' "$COLD" "${cbase:-?}"
for lang in go java11 php8; do
  [ -n "${COLD_MS[$lang]:-}" ] || continue
  awk -v l="$lang" -v c="${COLD_MS[$lang]}" -v w="${WARM_MS[$lang]}" -v b="${cbase:-0}" 'BEGIN {
    printf "  %-18s %7.1f ms  x%-5.1f (warm %s ms)\n", l, c, (b > 0 ? c / b : 0), w }'
done
