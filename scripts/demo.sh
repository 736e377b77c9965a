#!/usr/bin/env bash
# README's first command: builds faasd and fwatchdog, starts faasd on its embedded defaults
# (process provider, no Docker, no NATS) with a throw-away data directory, deploys a function
# through the OpenFaaS REST API, invokes it, lists functions, and stops everything it started.
#
# Keep faasd running afterwards with KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Building faasd and fwatchdog (release; the first build takes a few minutes)"
cargo build --release -q -p faasd -p faas-watchdog --bins

data=$(mktemp -d)/faasd-data
port=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 8080)}
gw="http://127.0.0.1:$port"

step "Starting faasd on $gw (data in $data)"
./target/release/faasd --listen "127.0.0.1:$port" --data-dir "$data" >"$data.log" 2>&1 &
faasd_pid=$!
cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then
    kill "$faasd_pid" 2>/dev/null || true
    wait "$faasd_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
for _ in $(seq 200); do
  curl -sf "$gw/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
cat "$data.log"
auth="$(cat "$data/secrets/basic-auth-user"):$(cat "$data/secrets/basic-auth-password")"

step "Deploying 'wordcount' (the host's wc, nothing to build)"
echo "\$ curl -u admin:*** -d '{\"service\":\"wordcount\",\"image\":\"functions/alpine:latest\",\"envProcess\":\"wc\"}' $gw/system/functions"
curl -sS -u "$auth" -o /dev/null -w 'HTTP %{http_code}\n' \
  -d '{"service":"wordcount","image":"functions/alpine:latest","envProcess":"wc"}' "$gw/system/functions"

step "Invoking it"
echo "\$ echo 'serverless on my own machine' | curl --data-binary @- $gw/function/wordcount"
for _ in $(seq 100); do
  out=$(echo 'serverless on my own machine' | curl -s -w '\n%{http_code}' --data-binary @- "$gw/function/wordcount")
  [ "${out##*$'\n'}" = 200 ] && break
  sleep 0.05
done
echo "${out%$'\n'*}"

step "Listing functions"
curl -sS -u "$auth" "$gw/system/functions"
echo
if [ "${KEEP:-0}" = 1 ]; then
  step "faasd keeps running (pid $faasd_pid) at $gw; admin password in $data/secrets/basic-auth-password"
fi
