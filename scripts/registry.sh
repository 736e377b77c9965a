#!/usr/bin/env bash
# Starts or stops a Docker registry (Debian's docker-registry, the distribution project's
# registry) on 127.0.0.1 with a config of the tests' own, for image pushes and pulls in tests
# and by hand. Installs docker-registry from Debian's packages when it is missing, without
# starting the package's service.
#
#   scripts/registry.sh start PORT DIR   # idempotent; storage, config, pid and log in DIR
#   scripts/registry.sh stop PORT DIR    # stops the registry started with that PORT and DIR
#
# With REGISTRY_USER and REGISTRY_PASSWORD set, `start` writes DIR/htpasswd (bcrypt, with
# `htpasswd` from Debian's apache2-utils, installed when missing) and the registry asks for
# HTTP basic auth with that one user; REGISTRY_HTPASSWD=FILE uses an htpasswd file of the
# caller's instead. Pushes and pulls then need credentials (`docker login 127.0.0.1:PORT`,
# `faas-cli registry-login`, a deployment's `registryAuth`). Plain HTTP on loopback is fine
# for basic auth: the engine allows it for 127.0.0.0/8 without TLS.
#
# The engine treats registries on 127.0.0.0/8 as insecure (plain HTTP) by default, so images
# named 127.0.0.1:PORT/NAME:TAG push and pull with no TLS and no daemon setting.
set -euo pipefail
name=docker-registry
package=docker-registry
# shellcheck source=scripts/lib/loopback-server.sh
. "$(dirname "$0")/lib/loopback-server.sh"
server_args "$@"

case $action in
  start)
    if [ -z "$(server_bin)" ]; then
      # The package ships a service: refuse starting it while installing.
      ours=0
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        ours=1
      fi
      status=0
      server_install || status=$?
      [ $ours -eq 1 ] && rm -f /usr/sbin/policy-rc.d
      [ $status -eq 0 ] || exit $status
    fi
    mkdir -p "$dir/storage"
    htpasswd_file=${REGISTRY_HTPASSWD:-}
    if [ -z "$htpasswd_file" ] && [ -n "${REGISTRY_USER:-}" ]; then
      [ -n "${REGISTRY_PASSWORD:-}" ] || { echo "$0: REGISTRY_USER needs REGISTRY_PASSWORD" >&2; exit 2; }
      command -v htpasswd >/dev/null 2>&1 || { name=htpasswd package=apache2-utils server_install; }
      htpasswd_file="$dir/htpasswd"
      (umask 077 && htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" >"$htpasswd_file")
    fi
    auth=""
    if [ -n "$htpasswd_file" ]; then
      [ -r "$htpasswd_file" ] || { echo "$0: cannot read $htpasswd_file" >&2; exit 1; }
      auth="auth:
  htpasswd:
    realm: rustfaas-registry
    path: $htpasswd_file"
    fi
    cat >"$dir/registry-$port.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$auth
CONFIG
    server_start_with serve "$dir/registry-$port.yml"
    ;;
  stop) server_stop ;;
  *) echo "usage: $0 start|stop PORT DIR" >&2; exit 2 ;;
esac
