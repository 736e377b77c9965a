#!/usr/bin/env bash
# Starts or stops a mosquitto MQTT broker on 127.0.0.1, for the MQTT connector's tests.
# Installs mosquitto from Debian's packages when it is missing.
#
#   scripts/mosquitto.sh start PORT DIR   # idempotent; config, pid and log in DIR
#   scripts/mosquitto.sh stop PORT DIR    # stops the broker started with that PORT and DIR
set -euo pipefail
name=mosquitto
package=mosquitto
# shellcheck source=scripts/lib/loopback-server.sh
. "$(dirname "$0")/lib/loopback-server.sh"
server_args "$@"

case $action in
  start)
    server_install
    mkdir -p "$dir"
    # Loopback only, no persistence; `user` keeps the broker as whoever started it (as root
    # it would otherwise switch to the `mosquitto` user, who cannot write to DIR).
    conf="$dir/mosquitto-$port.conf"
    cat >"$conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
user $(id -un)
CONF
    server_start_with -c "$conf"
    ;;
  stop) server_stop ;;
  *) echo "usage: $0 start|stop PORT DIR" >&2; exit 2 ;;
esac
