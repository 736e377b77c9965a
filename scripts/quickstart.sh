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
if [ "$profile" = release ]; then
  cargo build --release -q -p faasd -p faas-watchdog -p faas-cli --bins
else
  cargo build -q -p faasd -p faas-watchdog -p faas-cli --bins
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
faas-cli ready --attempts 100 --interval 100ms >/dev/null

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
