# Shared by scripts/nats-server.sh and scripts/mosquitto.sh: a test server on 127.0.0.1:PORT
# with its pid and log files in DIR, installed from Debian's packages when missing.
# The caller sets `name` (the program), `package` and `port`/`dir` (server_args does), then
# calls server_install, server_start_with CMD... or server_stop.

server_args() { # action port dir
  [ $# -eq 3 ] || { echo "usage: $0 start|stop PORT DIR" >&2; exit 2; }
  action=$1
  port=$2
  dir=$3
  case $port in '' | *[!0-9]*) echo "usage: $0 start|stop PORT DIR" >&2; exit 2 ;; esac
  pidfile="$dir/$name-$port.pid"
  logfile="$dir/$name-$port.log"
}

server_bin() {
  command -v "$name" 2>/dev/null || { [ -x "/usr/sbin/$name" ] && echo "/usr/sbin/$name"; } || true
}

server_install() {
  [ -n "$(server_bin)" ] && return 0
  echo "$0: installing $package from Debian's packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >&2
  [ -n "$(server_bin)" ] || { echo "$0: $name is still missing after apt-get install" >&2; exit 1; }
}

server_running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

server_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Runs `server_bin` with the given arguments in the background (all of its descriptors to the
# log, so callers reading this script's output do not wait for the server) and waits until it
# listens; idempotent.
server_start_with() {
  mkdir -p "$dir"
  if server_running; then
    echo "$name already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    exit 0
  fi
  "$(server_bin)" "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 200); do
    if server_listening; then
      echo "$name running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
      exit 0
    fi
    server_running || break
    sleep 0.05
  done
  echo "$0: $name did not start on port $port; its log ($logfile):" >&2
  tail -n 20 "$logfile" >&2 || true
  exit 1
}

# SIGTERM, then SIGKILL after 5 s.
server_stop() {
  if server_running; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid"
    fi
    echo "$name on 127.0.0.1:$port stopped"
  fi
  rm -f "$pidfile"
}
