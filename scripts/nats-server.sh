#!/usr/bin/env bash
# Starts or stops a NATS server with JetStream on 127.0.0.1, for the faas-queue `nats` backend's
# and the NATS connector's tests and the queue's benchmark. Installs nats-server from Debian's
# packages when it is missing.
#
#   scripts/nats-server.sh start PORT DIR   # idempotent; JetStream files, pid and log in DIR
#   scripts/nats-server.sh stop PORT DIR    # stops the server started with that PORT and DIR
set -euo pipefail
name=nats-server
package=nats-server
# shellcheck source=scripts/lib/loopback-server.sh
. "$(dirname "$0")/lib/loopback-server.sh"
server_args "$@"

case $action in
  start)
    server_install
    server_start_with -js -a 127.0.0.1 -p "$port" -sd "$dir"
    ;;
  stop) server_stop ;;
  *) echo "usage: $0 start|stop PORT DIR" >&2; exit 2 ;;
esac
