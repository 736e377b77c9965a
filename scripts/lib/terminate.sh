# Shared by scripts/docker.sh and scripts/podman.sh: stops a service's process.

# terminate PID: SIGTERM, up to 15 s for it to exit, then SIGKILL.
terminate() {
  kill -TERM "$1"
  for _ in $(seq 1 150); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
}
