#!/usr/bin/env bash
# Idle and slow clients against faasd's listener, run by hand (not in CI). One faasd
# (release) with a warm function (classic `cat`); calls at RATE per second for
# DURATION seconds, first alone, then while IDLE connections sit idle (connected, nothing
# sent) and SLOW slowloris connections send one header line every second and never finish.
# Prints both p99s, and how many of the held connections faasd had closed by the end of the
# second run (the header-read timeout is set to HEADER_TIMEOUT for the run).
# Goal (issue 11): 2,000 idle plus 500 slowloris held, calls keep a p99 under 50 ms, and
# faasd closes the held ones within its timeouts.
# Knobs: IDLE (2000), SLOW (500), RATE (100), DURATION (15), HEADER_TIMEOUT (5s). Exits 0.
set -euo pipefail
IDLE=${IDLE:-2000}
SLOW=${SLOW:-500}
RATE=${RATE:-100}
DURATION=${DURATION:-15}
HEADER_TIMEOUT=${HEADER_TIMEOUT:-5s}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"

command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }
say "building (release)"
(cd "$ROOT" && cargo build -q --release -p faasd -p faas-watchdog -p faas-bench --bins)
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idle-clients.XXXXXX")
PIDS=()
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT

P=$(port)
FAASD_HEADER_READ_TIMEOUT=$HEADER_TIMEOUT "$T/release/faasd" --listen "127.0.0.1:$P" \
  --data-dir "$WORK/data" --watchdog "$T/release/fwatchdog" >"$WORK/faasd.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$P/healthz" >/dev/null && break; sleep 0.05; done
GW="http://127.0.0.1:$P"
AUTH="$(cat "$WORK/data/secrets/basic-auth-user"):$(cat "$WORK/data/secrets/basic-auth-password")"
curl -sf -u "$AUTH" -o /dev/null -d '{"service":"warm","image":"functions/alpine:latest","envProcess":"cat"}' "$GW/system/functions"
for _ in $(seq 200); do curl -sf "$GW/function/warm" >/dev/null && break; sleep 0.05; done

load() { "$T/release/rate-load" "$GW/function/warm" "$RATE" "$DURATION" 16; }
p99() { sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p'; }

say "alone: $RATE calls/s for ${DURATION}s"
ALONE=$(load)
say "  $ALONE"

# Holds the connections for DURATION + 2 seconds, then reports how many faasd closed.
python3 - "$P" "$IDLE" "$SLOW" "$((DURATION + 2))" >"$WORK/held.txt" <<'EOF' &
import select, socket, sys, time
port, idle, slow, hold = (int(a) for a in sys.argv[1:])
def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    return s
idlers = [connect() for _ in range(idle)]
slowpokes = [connect() for _ in range(slow)]
for s in slowpokes:
    s.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
closed = set()
end = time.time() + hold
i = 0
while time.time() < end:
    for s in slowpokes:
        if s in closed:
            continue
        try:
            s.send(b"X-Slow-%d: 1\r\n" % i)
        except OSError:
            closed.add(s)
    i += 1
    poller = select.poll()
    live = {s.fileno(): s for s in idlers + slowpokes if s not in closed}
    for fd in live:
        poller.register(fd, select.POLLIN)
    for fd, _ in poller.poll(1000):
        s = live[fd]
        try:
            if s.recv(4096) == b"":
                closed.add(s)
        except OSError:
            closed.add(s)
print(f"idle closed by faasd: {sum(1 for s in idlers if s in closed)} of {idle}; "
      f"slowloris closed: {sum(1 for s in slowpokes if s in closed)} of {slow}")
EOF
HOLDER=$!
sleep 1
say "held: the same load with $IDLE idle and $SLOW slowloris connections open"
HELD=$(load)
say "  $HELD"
wait "$HOLDER" || true

A=$(echo "$ALONE" | p99)
H=$(echo "$HELD" | p99)
echo "warm p99 alone: ${A} ms; with held connections: ${H} ms; $(cat "$WORK/held.txt") (header-read timeout $HEADER_TIMEOUT)"
