#!/usr/bin/env bash
# Starts or stops a NATS server with JetStream on 127.0.0.1, for the faas-queue `nats` backend's
# tests and benchmark. Installs nats-server from Debian's packages when it is missing.
#
#   scripts/nats-server.sh start PORT DIR   # idempotent; JetStream files, pid and log in DIR
#   scripts/nats-server.sh stop PORT DIR    # stops the server started with that PORT and DIR
set -euo pipefail

usage() {
  echo "usage: $0 start|stop PORT DIR" >&2
  exit 2
}
[ $# -eq 3 ] || usage
action=$1
port=$2
dir=$3
case $port in '' | *[!0-9]*) usage ;; esac
pidfile="$dir/nats-server-$port.pid"
logfile="$dir/nats-server-$port.log"

nats_bin() {
  command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; } || true
}

install() {
  [ -n "$(nats_bin)" ] && return 0
  echo "nats-server.sh: installing nats-server from Debian's packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >&2
  [ -n "$(nats_bin)" ] || { echo "nats-server.sh: nats-server is still missing after apt-get install" >&2; exit 1; }
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

case $action in
  start)
    install
    mkdir -p "$dir"
    if running; then
      echo "nats-server already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
      exit 0
    fi
    # All of its descriptors go to the log, so callers waiting on this script's output do not
    # wait for the server too.
    "$(nats_bin)" -js -a 127.0.0.1 -p "$port" -sd "$dir" </dev/null >>"$logfile" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 200); do
      if listening; then
        echo "nats-server running on 127.0.0.1:$port (pid $(cat "$pidfile"), store $dir)"
        exit 0
      fi
      running || break
      sleep 0.05
    done
    echo "nats-server.sh: nats-server did not start on port $port; its log ($logfile):" >&2
    tail -n 20 "$logfile" >&2 || true
    exit 1
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
      fi
      echo "nats-server on 127.0.0.1:$port stopped"
    fi
    rm -f "$pidfile"
    ;;
  *) usage ;;
esac
