#!/usr/bin/env bash
# A Docker Engine of the project's own for the docker provider's tests, faas-cli's image builds
# and bench/docker.sh: Debian's docker.io, started by hand (never as a system service) with its
# data root, exec root, pid file and socket under one state directory, plus the local base
# images that functions build from (nothing can be pulled here).
#
#   scripts/docker.sh install        install docker.io, containerd, runc, busybox-static,
#                                    docker-registry, apache2-utils (htpasswd)
#                                    (services not enabled: policy-rc.d exits 101 meanwhile)
#   scripts/docker.sh start [DIR]    start dockerd (idempotent) and build the base images;
#                                    prints DOCKER_HOST=unix://DIR/docker.sock
#   scripts/docker.sh stop [DIR]     stop that dockerd and the containers it runs
#   scripts/docker.sh env [DIR]      print DOCKER_HOST=... (exit 1 when it is not running)
#   scripts/docker.sh images [DIR]   (re)build the base images only
#   scripts/docker.sh base-images [TMP]  build them (when missing) in the engine at $DOCKER_HOST
#                                    (scripts/podman.sh uses it for Podman)
#
# DIR defaults to $RUSTFAAS_DOCKER_DIR, else /tmp/rustfaas-docker. Several callers may run
# `start` at once (tests in parallel): a lock on DIR/lock lets one start it, the others wait.
#
# Base images (made with `docker import` of a root filesystem built here, and the classic
# builder; no registry is involved):
#   rustfaas/watchdog:latest   only /fwatchdog, static: templates' Dockerfiles
#                              `COPY --from=rustfaas/watchdog:latest /fwatchdog ...`
#   rustfaas/busybox:latest    busybox-static (sh and the usual tools), /usr/bin/fwatchdog,
#                              users app (1000) and nobody, CMD fwatchdog
# The static fwatchdog comes from $FWATCHDOG when set, else scripts/build-watchdog.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/terminate.sh
. "$here/lib/terminate.sh"

say() { printf 'docker.sh: %s\n' "$*" >&2; }

install() {
  local missing=()
  [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
  [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing+=(busybox-static)
  command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
  # The registry the image tests push to (scripts/registry.sh), installed here once.
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  # htpasswd, for registries that ask for credentials (scripts/registry.sh with REGISTRY_USER).
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} from Debian's packages"
  # Packages that ship services must not start them: a policy-rc.d that says no (101), only
  # while installing, and never replacing one the machine has.
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    ours=1
  fi
  local status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 || status=$?
  [ $ours -eq 1 ] && rm -f "$policy"
  if [ $status -ne 0 ]; then
    say "ERROR: apt-get install ${missing[*]} failed (root? Debian mirror reachable?)"
    return 1
  fi
  for p in "${missing[@]}"; do echo "installed $p" >&2; done
}

state_dir() {
  local dir=${1:-${RUSTFAAS_DOCKER_DIR:-/tmp/rustfaas-docker}}
  mkdir -p "$dir"
  cd "$dir" && pwd
}

host_of() { echo "unix://$1/docker.sock"; }

running() { # dir
  [ -f "$1/dockerd.pid" ] && kill -0 "$(cat "$1/dockerd.pid")" 2>/dev/null &&
    DOCKER_HOST=$(host_of "$1") docker version >/dev/null 2>&1
}

start() {
  local dir
  dir=$(state_dir "${1:-}")
  install
  exec 9>"$dir/lock"
  flock 9
  if ! running "$dir"; then
    [ -f "$dir/dockerd.pid" ] && kill "$(cat "$dir/dockerd.pid")" 2>/dev/null || true
    mkdir -p "$dir/data" "$dir/exec"
    rm -f "$dir/docker.sock" "$dir/dockerd.pid"
    # Its own containerd (started by dockerd under exec-root), its own namespaces in it, no
    # TCP listener; --userland-proxy so ports published on 127.0.0.1 answer on loopback.
    /usr/sbin/dockerd \
      --data-root "$dir/data" \
      --exec-root "$dir/exec" \
      --pidfile "$dir/dockerd.pid" \
      --host "$(host_of "$dir")" \
      --containerd-namespace rustfaas \
      --containerd-plugins-namespace rustfaas-plugins \
      --userland-proxy=true \
      --log-level warn \
      </dev/null >>"$dir/dockerd.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 300); do
      if DOCKER_HOST=$(host_of "$dir") docker version >/dev/null 2>&1; then
        break
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! DOCKER_HOST=$(host_of "$dir") docker version >/dev/null 2>&1; then
      say "ERROR: dockerd did not start; its log ($dir/dockerd.log):"
      tail -n 30 "$dir/dockerd.log" >&2 || true
      return 1
    fi
    # Networks a previous run left (its containers are stopped now): the default pools hold
    # about 30, and each namespace of each server takes one.
    DOCKER_HOST=$(host_of "$dir") docker network prune -f >/dev/null 2>&1 || true
    say "dockerd running (pid $(cat "$dir/dockerd.pid"), socket $dir/docker.sock)"
  fi
  images "$(host_of "$dir")" "$dir"
  flock -u 9
  echo "DOCKER_HOST=$(host_of "$dir")"
}

# Builds the base images in the engine at HOST when missing (or when FORCE=1); DIR holds the
# root filesystems meanwhile.
images() {
  local dir=$2
  export DOCKER_HOST=$1
  if [ "${FORCE:-0}" != 1 ] && docker image inspect rustfaas/watchdog:latest >/dev/null 2>&1 &&
    docker image inspect rustfaas/busybox:latest >/dev/null 2>&1; then
    return 0
  fi
  local watchdog=${FWATCHDOG:-}
  if [ -z "$watchdog" ]; then
    watchdog=$(bash "$here/build-watchdog.sh" | tail -n 1)
    case $watchdog in /*) ;; *) watchdog="$here/../$watchdog" ;; esac
  fi
  [ -x "$watchdog" ] || { say "ERROR: no fwatchdog at $watchdog"; return 1; }
  if ldd "$watchdog" >/dev/null 2>&1; then
    say "ERROR: $watchdog is dynamically linked; images need a static one (scripts/build-watchdog.sh)"
    return 1
  fi
  local busybox
  busybox=$(command -v busybox || echo /bin/busybox)
  local root
  root=$(mktemp -d "$dir/rootfs.XXXXXX")
  # The watchdog alone, for templates' `COPY --from`.
  mkdir -p "$root/watchdog"
  cp "$watchdog" "$root/watchdog/fwatchdog"
  chmod 0755 "$root/watchdog/fwatchdog"
  tar -C "$root/watchdog" -c . | docker import \
    --change 'CMD ["/fwatchdog"]' - rustfaas/watchdog:latest >/dev/null
  # busybox-static with its applets as links, fwatchdog, two users.
  local fs="$root/busybox"
  mkdir -p "$fs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,home/app,var/openfaas/secrets,root,proc,sys,dev}
  cp "$busybox" "$fs/bin/busybox"
  chmod 0755 "$fs/bin/busybox"
  "$busybox" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$fs/$applet"
  done
  cp "$watchdog" "$fs/usr/bin/fwatchdog"
  chmod 0755 "$fs/usr/bin/fwatchdog"
  chmod 1777 "$fs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$fs/etc/passwd"
  printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' >"$fs/etc/group"
  chown 1000:1000 "$fs/home/app"
  tar -C "$fs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
    --change 'WORKDIR /home/app' \
    --change 'CMD ["fwatchdog"]' \
    - rustfaas/busybox:latest >/dev/null
  rm -rf "$root"
  say "built rustfaas/watchdog:latest and rustfaas/busybox:latest"
}

stop() {
  local dir
  dir=$(state_dir "${1:-}")
  [ -f "$dir/dockerd.pid" ] || return 0
  local pid
  pid=$(cat "$dir/dockerd.pid")
  if kill -0 "$pid" 2>/dev/null; then
    # Containers first, so none outlives the engine's shutdown timeout.
    local ids
    ids=$(DOCKER_HOST=$(host_of "$dir") docker ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || DOCKER_HOST=$(host_of "$dir") docker rm -f $ids >/dev/null 2>&1 || true
    # Networks too: their bridges would stay on the host after the engine stops.
    DOCKER_HOST=$(host_of "$dir") docker network prune -f >/dev/null 2>&1 || true
    terminate "$pid"
    say "dockerd (pid $pid) stopped"
  fi
  rm -f "$dir/dockerd.pid"
}

env_of() {
  local dir
  dir=$(state_dir "${1:-}")
  running "$dir" || { say "no dockerd running in $dir (scripts/docker.sh start)"; return 1; }
  echo "DOCKER_HOST=$(host_of "$dir")"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  env) env_of "${2:-}" ;;
  images)
    d=$(state_dir "${2:-}")
    running "$d" || { say "no dockerd running in $d"; exit 1; }
    FORCE=1 images "$(host_of "$d")" "$d"
    ;;
  base-images)
    [ -n "${DOCKER_HOST:-}" ] || { say "base-images: set DOCKER_HOST"; exit 2; }
    images "$DOCKER_HOST" "${2:-${TMPDIR:-/tmp}}"
    ;;
  *) say "usage: $0 install | start [DIR] | stop [DIR] | env [DIR] | images [DIR] | base-images"; exit 2 ;;
esac
