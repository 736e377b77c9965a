#!/usr/bin/env bash
# The faas-cli walk-through: builds faasd, fwatchdog and faas-cli, starts faasd on a
# throw-away data folder and a free port, logs in, then runs
#   faas-cli new --lang python3 hello
#   faas-cli up -f hello.yml
#   echo hi | faas-cli invoke hello
#   faas-cli list
# printing each step, and stops faasd on exit. Nothing outside a temporary folder is touched
# (the CLI's config goes to $OPENFAAS_CONFIG there). KEEP=1 leaves faasd running.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

profile=${PROFILE:-release}
step "Building faasd, fwatchdog and faas-cli ($profile; the first build takes a few minutes)"
# cargo's own progress: its bar on a terminal, a line per crate otherwise.
if [ "$profile" = release ]; then
  cargo build --release -p faasd -p faas-watchdog -p faas-cli --bins
else
  cargo build -p faasd -p faas-watchdog -p faas-cli --bins
fi
bin="$repo/target/$profile"
export PATH="$bin:$PATH"

work=$(mktemp -d)
data="$work/faasd-data"
port=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
export OPENFAAS_URL="http://127.0.0.1:$port"
export OPENFAAS_CONFIG="$work/openfaas-config"

step "Starting faasd on $OPENFAAS_URL (data in $data)"
show "faasd --listen 127.0.0.1:$port --data-dir $data"
faasd --listen "127.0.0.1:$port" --data-dir "$data" >"$work/faasd.log" 2>&1 &
faasd_pid=$!
cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then
    kill "$faasd_pid" 2>/dev/null || true
    wait "$faasd_pid" 2>/dev/null || true
    rm -rf "$work"
  else
    printf '\nfaasd keeps running (pid %s) at %s; project in %s\n' "$faasd_pid" "$OPENFAAS_URL" "$work/project"
  fi
}
trap cleanup EXIT
# faasd takes a moment to open its data folder and listen: wait for its /healthz quietly
# (at most 30 s), and show its log if it stops or never answers.
printf 'Waiting for faasd to answer on %s/healthz ...' "$OPENFAAS_URL"
for attempt in $(seq 1 300); do
  if faas-cli ready --attempts 1 >/dev/null 2>&1 &&
    [ -s "$data/secrets/basic-auth-password" ]; then
    printf ' ready (%.1fs)\n' "$(awk -v n="$attempt" 'BEGIN { print n / 10 }')"
    break
  fi
  if ! kill -0 "$faasd_pid" 2>/dev/null; then
    printf ' faasd exited; its log:\n' >&2
    cat "$work/faasd.log" >&2
    exit 1
  fi
  if [ "$attempt" = 300 ]; then
    printf ' no answer after 30 s; faasd'"'"'s log:\n' >&2
    tail -20 "$work/faasd.log" >&2
    exit 1
  fi
  sleep 0.1
done

step "Logging in (faasd wrote the admin password into its data folder)"
show "cat $data/secrets/basic-auth-password | faas-cli login --password-stdin"
faas-cli login --password-stdin <"$data/secrets/basic-auth-password"

mkdir -p "$work/project" && cd "$work/project"
step "Creating a function from the python3 template"
show "faas-cli new --lang python3 hello"
faas-cli new --lang python3 hello --quiet
show "cat hello/handler.py"
cat hello/handler.py

step "Building, pushing and deploying it"
show "faas-cli up -f hello.yml"
start=$EPOCHREALTIME
faas-cli up -f hello.yml
awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "(up took %.2fs)\n", b - a }'

step "Invoking it"
show "echo hi | faas-cli invoke hello"
echo hi | faas-cli invoke hello

step "Listing functions"
show "faas-cli list"
faas-cli list
