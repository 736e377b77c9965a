#!/usr/bin/env bash
# A rootful Podman of the project's own, serving Docker's API on a socket of its own, for the
# docker provider's tests on Podman (RUSTFAAS_ENGINE=podman, see faas_testkit::docker): Debian's
# podman, `podman system service` started by hand (never as a system service) with its storage,
# run root, temporary files, CNI configuration and containers.conf under one state directory,
# plus the local base images (built by scripts/docker.sh base-images; nothing can be pulled).
#
#   scripts/podman.sh install        install podman (services not enabled)
#   scripts/podman.sh start [DIR]    start the service (idempotent) and build the base images;
#                                    prints DOCKER_HOST=unix://DIR/podman.sock
#   scripts/podman.sh stop [DIR]     stop it and the containers it runs
#   scripts/podman.sh env [DIR]      print DOCKER_HOST=... (exit 1 when it is not running)
#
# DIR defaults to $RUSTFAAS_PODMAN_DIR, else /tmp/rustfaas-podman. Callers may run `start` at
# once: a lock on DIR/lock lets one start it, the others wait.
#
# Differences from a plain `podman system service` that this machine needs: containers get the
# file and process limits the service may grant (Podman's defaults raise them, which runc may
# not do here), cgroups are managed by cgroupfs (no systemd), events go to a file, networks
# are CNI networks configured under DIR/cni (never /etc/cni), and DIR/registries.conf
# (never /etc/containers) searches no registry for short names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/terminate.sh
. "$here/lib/terminate.sh"

say() { printf 'podman.sh: %s\n' "$*" >&2; }

install() {
  command -v podman >/dev/null 2>&1 && return 0
  say "installing podman from Debian's packages"
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    ours=1
  fi
  local status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends podman; } >/dev/null 2>&1 || status=$?
  [ $ours -eq 1 ] && rm -f "$policy"
  if [ $status -ne 0 ]; then
    say "ERROR: apt-get install podman failed (root? Debian mirror reachable?)"
    return 1
  fi
  echo "installed podman" >&2
}

state_dir() {
  local dir=${1:-${RUSTFAAS_PODMAN_DIR:-/tmp/rustfaas-podman}}
  mkdir -p "$dir"
  cd "$dir" && pwd
}

host_of() { echo "unix://$1/podman.sock"; }

running() { # dir
  [ -f "$1/podman.pid" ] && kill -0 "$(cat "$1/podman.pid")" 2>/dev/null &&
    DOCKER_HOST=$(host_of "$1") docker version >/dev/null 2>&1
}

podman_in() { # dir args...
  local dir=$1
  shift
  CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_REGISTRIES_CONF="$dir/registries.conf" podman --root "$dir/storage" --runroot "$dir/run" \
    --tmpdir "$dir/tmp" "$@"
}

start() {
  local dir
  dir=$(state_dir "${1:-}")
  install
  command -v docker >/dev/null 2>&1 || bash "$here/docker.sh" install
  exec 9>"$dir/lock"
  flock 9
  if ! running "$dir"; then
    [ -f "$dir/podman.pid" ] && kill "$(cat "$dir/podman.pid")" 2>/dev/null || true
    mkdir -p "$dir/storage" "$dir/run" "$dir/tmp" "$dir/cni"
    rm -f "$dir/podman.sock" "$dir/podman.pid"
    # The service caps its own process count below the shell's: ask for no more than that.
    local files procs
    files=$(ulimit -Hn)
    procs=$(ulimit -Hu)
    if [ "$procs" = unlimited ] || [ "$procs" -gt 4096 ]; then procs=4096; fi
    if [ "$files" = unlimited ]; then files=1048576; fi
    cat >"$dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$files:$files", "nproc=$procs:$procs"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
[network]
network_backend = "cni"
network_config_dir = "$dir/cni"
EOF
    # Short names are never looked up in a registry (nothing is pulled from the internet
    # here); a registry of plain HTTP (scripts/registry.sh) needs a `[[registry]]` entry with
    # its 127.0.0.1:PORT and `insecure = true` here: unlike Docker, Podman's Docker API does
    # not treat 127.0.0.0/8 as insecure and its pull takes no tlsVerify (podman#16486).
    [ -f "$dir/registries.conf" ] || printf 'unqualified-search-registries = []\n' >"$dir/registries.conf"
    # From DIR: conmon writes files (an `oom` marker) into the service's working directory.
    (cd "$dir" && exec env CONTAINERS_CONF="$dir/containers.conf" \
      CONTAINERS_REGISTRIES_CONF="$dir/registries.conf" podman --root "$dir/storage" \
      --runroot "$dir/run" --tmpdir "$dir/tmp" system service --time=0 "$(host_of "$dir")" \
      </dev/null >>"$dir/podman.log" 2>&1) &
    echo $! >"$dir/podman.pid"
    local pid=$!
    for _ in $(seq 1 300); do
      DOCKER_HOST=$(host_of "$dir") docker version >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! DOCKER_HOST=$(host_of "$dir") docker version >/dev/null 2>&1; then
      say "ERROR: podman system service did not start; its log ($dir/podman.log):"
      tail -n 30 "$dir/podman.log" >&2 || true
      return 1
    fi
    say "podman service running (pid $pid, socket $dir/podman.sock)"
  fi
  DOCKER_HOST=$(host_of "$dir") bash "$here/docker.sh" base-images "$dir"
  flock -u 9
  echo "DOCKER_HOST=$(host_of "$dir")"
}

stop() {
  local dir
  dir=$(state_dir "${1:-}")
  [ -f "$dir/podman.pid" ] || return 0
  local pid
  pid=$(cat "$dir/podman.pid")
  if kill -0 "$pid" 2>/dev/null; then
    # Containers and networks first: their processes and bridges would outlive the service.
    podman_in "$dir" rm -af -t 2 >/dev/null 2>&1 || true
    podman_in "$dir" network prune -f >/dev/null 2>&1 || true
    terminate "$pid"
    # The overlay driver mounts its directory on itself; no mount outlives the service.
    if mountpoint -q "$dir/storage/overlay"; then umount "$dir/storage/overlay" || true; fi
    say "podman service (pid $pid) stopped"
  fi
  rm -f "$dir/podman.pid"
}

env_of() {
  local dir
  dir=$(state_dir "${1:-}")
  running "$dir" || { say "no podman service running in $dir (scripts/podman.sh start)"; return 1; }
  echo "DOCKER_HOST=$(host_of "$dir")"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  env) env_of "${2:-}" ;;
  *) say "usage: $0 install | start [DIR] | stop [DIR] | env [DIR]"; exit 2 ;;
esac
