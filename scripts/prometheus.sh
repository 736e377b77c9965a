#!/usr/bin/env bash
# A real Prometheus for tests and by-hand checks of the gateway's /metrics.
#
#   scripts/prometheus.sh ensure                 install Debian's prometheus if missing: the
#                                                binary only, unpacked from the package into
#                                                /usr/local/lib/rustfaas-prometheus and linked
#                                                as /usr/local/bin/prometheus (no service, no
#                                                user, nothing enabled or started)
#   scripts/prometheus.sh start TARGET DIR       scrape http://TARGET/metrics every 1 s; data,
#                                                config, log and pid under DIR; prints the
#                                                query URL (http://127.0.0.1:PORT) when ready
#   scripts/prometheus.sh stop DIR               stop the one started with DIR
#
# TARGET is host:port (loopback). Exits non-zero with a message on stderr when Prometheus
# cannot be installed or does not become ready: tests must fail then, not pass silently.
set -euo pipefail

say() { printf 'prometheus.sh: %s\n' "$*" >&2; }

ensure() {
  command -v prometheus >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    say "ERROR: prometheus is missing and installing it needs root (or put a prometheus on PATH)"
    return 1
  fi
  local root=/usr/local/lib/rustfaas-prometheus tmp started=$SECONDS
  tmp=$(mktemp -d)
  # The package's postinst would add a user and enable a service (and it recommends
  # node-exporter, another service): only its binary is wanted, so the .deb is unpacked.
  if ! (cd "$tmp" && apt-get update -qq && apt-get download prometheus) >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    say "ERROR: cannot download Debian's prometheus package (is the Debian mirror reachable?)"
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$root"
  mkdir -p "$root" /usr/local/bin
  dpkg-deb -x "$tmp"/prometheus_*.deb "$root"
  rm -rf "$tmp"
  ln -sf "$root/usr/bin/prometheus" /usr/local/bin/prometheus
  command -v prometheus >/dev/null 2>&1 || { say "ERROR: prometheus still missing after install"; return 1; }
  echo "installed prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') (binary only, $((SECONDS - started)) s)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  local target=$1 dir=$2
  ensure
  mkdir -p "$dir/data"
  cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gateway
    metrics_path: /metrics
    static_configs:
      - targets: ['$target']
EOF
  local port
  port=$(free_port)
  prometheus \
    --config.file="$dir/prometheus.yml" \
    --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" \
    --storage.tsdb.retention.time=1h \
    >"$dir/prometheus.log" 2>&1 </dev/null &
  echo $! >"$dir/prometheus.pid"
  for _ in $(seq 300); do
    if curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
      echo "http://127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/prometheus.pid")" 2>/dev/null; then
      say "ERROR: prometheus exited; its log:"
      cat "$dir/prometheus.log" >&2
      return 1
    fi
    sleep 0.1
  done
  say "ERROR: prometheus not ready after 30 s; its log:"
  tail -20 "$dir/prometheus.log" >&2
  stop "$dir"
  return 1
}

stop() {
  local dir=$1 pid
  [ -f "$dir/prometheus.pid" ] || return 0
  pid=$(cat "$dir/prometheus.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/prometheus.pid"
}

case "${1:-}" in
  ensure) ensure ;;
  start) [ $# -eq 3 ] || { say "usage: $0 start HOST:PORT DIR"; exit 2; }; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || { say "usage: $0 stop DIR"; exit 2; }; stop "$2" ;;
  *) say "usage: $0 ensure | start HOST:PORT DIR | stop DIR"; exit 2 ;;
esac
