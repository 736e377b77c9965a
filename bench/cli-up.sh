#!/usr/bin/env bash
# `faas-cli up` of the python3 template as a container image against a Docker faasd (base
# image present: scripts/template-images.sh python, made before the clock starts), beside the
# same `up` as a package against a process faasd, in one run. Run by hand (not in CI).
# It prints, for each: the first `up` (fresh project: the image's layers are built) and the
# median of ROUNDS `up`s after an edit of the handler (what a developer waits for), each timed
# until the function answers the edited text through the gateway.
# Goal (issue 12): `faas-cli up` of python3 as an image < 10 s on this machine.
# Exits 0: it is a report.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

say "building (release: faasd --features docker, faas-cli; static fwatchdog)"
(cd "$ROOT" && cargo build -q --release -p faasd --features docker && cargo build -q --release -p faas-cli &&
  bash scripts/build-watchdog.sh >/dev/null)
DOCKER_HOST=$(FWATCHDOG="$T/dist/fwatchdog" bash "$ROOT/scripts/docker.sh" start | sed -n 's/^DOCKER_HOST=//p')
export DOCKER_HOST
PYTHON_IMAGE=$(bash "$ROOT/scripts/template-images.sh" python | tail -n 1)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cli-up-bench.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  docker rmi -f bench-py:latest >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_faasd() { # NAME [ENV=VALUE...]: prints the port
  local name=$1 p
  shift
  p=$(port)
  env "$@" "$T/release/faasd" --listen "127.0.0.1:$p" --data-dir "$WORK/$name" \
    --watchdog "$T/dist/fwatchdog" >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.05; done
  echo "$p"
}
now_ms() { date +%s%3N; }

DP=$(start_faasd docker FAASD_PROVIDER=docker DOCKER_HOST="$DOCKER_HOST")
PIDS+=("$(cat "$WORK/docker.pid")")
PP=$(start_faasd process)
PIDS+=("$(cat "$WORK/process.pid")")

# project NAME PORT: a python3 function `bench-py` logged in to that faasd.
project() {
  local dir="$WORK/project-$1"
  mkdir -p "$dir/home"
  (cd "$dir" && HOME="$dir/home" OPENFAAS_URL="http://127.0.0.1:$2" "$T/release/faas-cli" new --lang python3 bench-py -q >/dev/null &&
    HOME="$dir/home" "$T/release/faas-cli" login -g "http://127.0.0.1:$2" -u "$(cat "$WORK/$1/secrets/basic-auth-user")" --password-stdin \
      <"$WORK/$1/secrets/basic-auth-password" >/dev/null)
}
# up NAME PORT TEXT EXTRA...: ms from `faas-cli up` to the function answering TEXT.
up() {
  local name=$1 p=$2 text=$3 start end
  shift 3
  local dir="$WORK/project-$name"
  printf 'def handle(req):\n    return "%s"\n' "$text" >"$dir/bench-py/handler.py"
  start=$(now_ms)
  (cd "$dir" && HOME="$dir/home" OPENFAAS_URL="http://127.0.0.1:$p" "$T/release/faas-cli" up -f bench-py.yml "$@" >>"$WORK/$name-up.log" 2>&1)
  for _ in $(seq 2000); do
    [ "$(curl -s -d x "http://127.0.0.1:$p/function/bench-py")" = "$text" ] && break
    sleep 0.01
  done
  end=$(now_ms)
  echo $((end - start))
}

project docker "$DP"
project process "$PP"
D_FIRST=$(up docker "$DP" first --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
P_FIRST=$(up process "$PP" first)
D=()
P=()
for i in $(seq "$ROUNDS"); do
  D+=("$(up docker "$DP" "edit $i" --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")")
  P+=("$(up process "$PP" "edit $i")")
done
D_EDIT=$(printf '%s\n' "${D[@]}" | median)
P_EDIT=$(printf '%s\n' "${P[@]}" | median)

printf '\n== faas-cli up, python3 template, until the function answers (same run) ==\n'
printf 'as an image on a Docker faasd (base %s present): first %s ms, after an edit %s ms (median of %s)   (goal < 10000 ms)\n' \
  "$PYTHON_IMAGE" "$D_FIRST" "$D_EDIT" "$ROUNDS"
printf 'as a package on a process faasd (baseline):          first %s ms, after an edit %s ms   ratio image/package %.1f\n' \
  "$P_FIRST" "$P_EDIT" "$(echo "$D_EDIT / $P_EDIT" | bc -l)"
printf 'load: %s\n' "$(uptime)"
