#!/usr/bin/env bash
# Starts or stops a mosquitto MQTT broker on 127.0.0.1, for the MQTT connector's tests.
# Installs mosquitto from Debian's packages when it is missing.
#
#   scripts/mosquitto.sh start PORT DIR   # idempotent; config, pid and log in DIR
#   scripts/mosquitto.sh stop PORT DIR    # stops the broker started with that PORT and DIR
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
pidfile="$dir/mosquitto-$port.pid"
logfile="$dir/mosquitto-$port.log"
conf="$dir/mosquitto-$port.conf"

mosquitto_bin() {
  command -v mosquitto 2>/dev/null || { [ -x /usr/sbin/mosquitto ] && echo /usr/sbin/mosquitto; } || true
}

install() {
  [ -n "$(mosquitto_bin)" ] && return 0
  echo "mosquitto.sh: installing mosquitto from Debian's packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mosquitto >&2
  [ -n "$(mosquitto_bin)" ] || { echo "mosquitto.sh: mosquitto is still missing after apt-get install" >&2; exit 1; }
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
      echo "mosquitto already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
      exit 0
    fi
    # Loopback only, no persistence; `user` keeps the broker as whoever started it (as root
    # it would otherwise switch to the `mosquitto` user, who cannot write to DIR).
    cat >"$conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
user $(id -un)
CONF
    "$(mosquitto_bin)" -c "$conf" </dev/null >>"$logfile" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 200); do
      if listening; then
        echo "mosquitto running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
        exit 0
      fi
      running || break
      sleep 0.05
    done
    echo "mosquitto.sh: mosquitto did not start on port $port; its log ($logfile):" >&2
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
      echo "mosquitto on 127.0.0.1:$port stopped"
    fi
    rm -f "$pidfile"
    ;;
  *) usage ;;
esac
