#!/usr/bin/env bash
# Watchdog benchmark, run by hand (not in CI).
#
# Measures, on loopback with wrk, requests/s and p50/p99 latency of:
#   direct   the hello-world upstream (crates/faas-watchdog/examples/hello_upstream.rs)
#   http     fwatchdog mode=http in front of that upstream
#   classic  fwatchdog classic mode with fprocess=cat (POST "hello")
#   nginx    reference: nginx as a one-worker reverse proxy (keep-alive upstream, no access log)
#            in front of the same upstream, the proxy the project's goal is calibrated against
# direct, http and nginx are measured alternately (direct, http, nginx, direct, ...) in one run
# and the ratio to direct is the median of the per-round ratios. For the two proxies it also
# prints the CPU time each spent per call (utime+stime from /proc over the wrk run), which
# varies much less than requests/s on a shared machine. It also reports fwatchdog's RSS after
# one call and the size of the release binary, and prints PASS/FAIL against the project's goals.
# It is a report: it exits 0 whether the goals are met or not (non-zero only if it cannot run).
#
# Knobs (environment):
#   DURATION=5          seconds per wrk run
#   ROUNDS=3            rounds of direct/http, and runs of classic
#   WRK_THREADS=2       wrk -t
#   WRK_CONNECTIONS=32  wrk -c
#   WATCHDOG_THREADS=   passed to both watchdogs as watchdog_threads when set (0 = one per core)
#   KEEP_LOGS=1         keep the work directory (wrk outputs, process logs) instead of deleting it
#   NGINX=0             skip the nginx reference (it is installed from Debian's packages if missing)
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
WATCHDOG_THREADS=${WATCHDOG_THREADS:-}
KEEP_LOGS=${KEEP_LOGS:-}
NGINX=${NGINX:-1}

# Goals from the project's issue.
GOAL_RATIO=0.50            # http-mode req/s over direct req/s
GOAL_CLASSIC_RPS=2200      # classic mode with fprocess=cat
GOAL_RSS_BYTES=3000000     # 3 MB, fwatchdog RSS after one call
GOAL_BINARY_BYTES=8000000  # 8 MB, stripped release binary

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
FWATCHDOG=$TARGET_DIR/dist/fwatchdog
UPSTREAM=$TARGET_DIR/release/examples/hello_upstream

# shellcheck source=bench/lib/common.sh
. "$ROOT/bench/lib/common.sh"
die() {
    say "watchdog.sh: $*"
    exit 1
}

# --- processes we start, stopped on exit --------------------------------------------------------

PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/watchdog-bench.XXXXXX")

cleanup() {
    stop_pids
    if [ -n "$KEEP_LOGS" ]; then
        say "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools --------------------------------------------------------------------------------------

if ! command -v wrk >/dev/null 2>&1; then
    say "wrk not found: installing it from Debian's packages"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y wrk
fi

# shellcheck source=bench/lib/nginx.sh
. "$ROOT/bench/lib/nginx.sh"
if [ "$NGINX" = 1 ] && ! ensure_nginx; then
    say "nginx is not installed and could not be: the nginx reference is skipped"
    NGINX=0
fi

say "building fwatchdog and hello_upstream (release)"
(cd "$ROOT" && cargo build --release -p faas-watchdog --example hello_upstream)
# The shipped build: scripts/build-watchdog.sh (size-optimised, statically linked).
(cd "$ROOT" && bash scripts/build-watchdog.sh)
[ -x "$FWATCHDOG" ] || die "$FWATCHDOG was not built"
[ -x "$UPSTREAM" ] || die "$UPSTREAM was not built"

# --- helpers ------------------------------------------------------------------------------------

USED_PORTS=" "

# A loopback port nobody listens on now (and that we have not handed out already).
free_port() {
    local port tries
    for tries in $(seq 1 200); do
        if command -v python3 >/dev/null 2>&1; then
            port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
        else
            port=$((20000 + RANDOM % 40000))
            # Something answers: taken.
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
        fi
        case "$USED_PORTS" in *" $port "*) continue ;; esac
        USED_PORTS="$USED_PORTS$port "
        printf '%s\n' "$port"
        return 0
    done
    die "no free loopback port found"
}

# HTTP status code of one request to 127.0.0.1:PORT ("000" when nothing answers).
# Plain bash (/dev/tcp): no curl needed.
http_status() (
    port=$1 method=$2 path=$3 body=${4:-}
    exec 3<>"/dev/tcp/127.0.0.1/$port" || {
        echo 000
        exit 0
    }
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
        "$method" "$path" "$port" "${#body}" "$body" >&3
    line=""
    IFS= read -r -t 5 line <&3 || true
    line=${line%$'\r'}
    code=$(printf '%s\n' "$line" | awk '{print $2}')
    echo "${code:-000}"
) 2>/dev/null

# Waits until GET /_/health on PORT answers 200, or fails naming the process's log.
wait_healthy() {
    local name=$1 pid=$2 port=$3 i
    for i in $(seq 1 200); do
        if [ "$(http_status "$port" GET /_/health)" = 200 ]; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$WORK/$name.log" >&2 || true
            die "$name exited before becoming healthy"
        fi
        sleep 0.05
    done
    cat "$WORK/$name.log" >&2 || true
    die "$name not healthy on port $port after 10s"
}

rss_kib() { ps -o rss= -p "$1" | tr -d ' '; }

# Starts fwatchdog with a clean environment plus the given variables; prints its pid.
# Each watchdog gets its own TMPDIR (it writes $TMPDIR/.lock there).
start_watchdog() {
    local name=$1
    shift
    mkdir -p "$WORK/$name.tmp"
    local vars=(
        "PATH=$PATH"
        "TMPDIR=$WORK/$name.tmp"
        "bind_address=127.0.0.1"
        "metrics_port=off"
        # Only the SIGTERM drain uses it: keeps shutdown short.
        "healthcheck_interval=1s"
    )
    if [ -n "$WATCHDOG_THREADS" ]; then vars+=("watchdog_threads=$WATCHDOG_THREADS"); fi
    env -i "${vars[@]}" "$@" "$FWATCHDOG" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}

# Latency text from wrk ("254.00us", "1.20ms", "1.01s", "2.00m") -> microseconds.
to_us_awk='function to_us(v) {
    if (v ~ /us$/) return v + 0
    if (v ~ /ms$/) return (v + 0) * 1000
    if (v ~ /m$/)  return (v + 0) * 60000000
    if (v ~ /s$/)  return (v + 0) * 1000000
    return -1
}'

RESULTS=() # "target round rps p50_us p99_us"
CPU=()     # "target round us_per_call" for the proxies
NOTES=()   # wrk errors worth a look

# utime+stime of PID in clock ticks.

# Runs wrk against URL; records a row for TARGET/ROUND, and the CPU time PID (when given)
# spent per call.
run_wrk() {
    local target=$1 round=$2 url=$3 script=${4:-} pid=${5:-}
    local out="$WORK/wrk-$target-$round.txt"
    local args=(-t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency)
    if [ -n "$script" ]; then args+=(-s "$script"); fi
    say "  wrk $target round $round: ${args[*]} $url"
    local before=0
    if [ -n "$pid" ]; then before=$(cpu_ticks "$pid"); fi
    timeout $((DURATION + 30)) wrk "${args[@]}" "$url" >"$out" 2>&1 || true
    if [ -n "$pid" ]; then
        local after calls
        after=$(cpu_ticks "$pid")
        calls=$(awk '/requests in/ { print $1 }' "$out")
        CPU+=("$target $round $(awk -v t=$((after - before)) -v n="${calls:-0}" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')")
    fi
    local row
    row=$(awk "$to_us_awk"'
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = to_us($2) }
        $1 == "99%" { p99 = to_us($2) }
        END { printf "%s %s %s", (rps == "" ? "0" : rps), (p50 == "" ? "-1" : p50), (p99 == "" ? "-1" : p99) }
    ' "$out")
    RESULTS+=("$target $round $row")
    local errors
    errors=$(grep -E 'Non-2xx|Socket errors|unable to connect|error' "$out" | sed 's/^ *//' | paste -sd';' - || true)
    if [ -n "$errors" ]; then NOTES+=("$target round $round: $errors"); fi
    if ! grep -q '^Requests/sec:' "$out"; then
        NOTES+=("$target round $round: wrk printed no Requests/sec; its output: $(paste -sd' ' "$out")")
    fi
}

column_of() { # TARGET COLUMN -> that column of TARGET's rows, one per line
    printf '%s\n' "${RESULTS[@]}" | awk -v t="$1" -v c="$2" '$1 == t { print $c }'
}
fmt_ms() { awk -v us="$1" 'BEGIN { if (us < 0) print "-"; else printf "%.3fms", us / 1000 }'; }

# --- start --------------------------------------------------------------------------------------

UPSTREAM_PORT=$(free_port)
HTTP_PORT=$(free_port)
CLASSIC_PORT=$(free_port)
NGINX_PORT=$(free_port)

"$UPSTREAM" "$UPSTREAM_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
UPSTREAM_PID=$!
for i in $(seq 1 200); do
    if [ "$(http_status "$UPSTREAM_PORT" GET /)" = 200 ]; then break; fi
    kill -0 "$UPSTREAM_PID" 2>/dev/null || {
        cat "$WORK/upstream.log" >&2
        die "hello_upstream exited"
    }
    sleep 0.05
done

start_watchdog http-watchdog "mode=http" "upstream_url=http://127.0.0.1:$UPSTREAM_PORT" "port=$HTTP_PORT"
HTTP_PID=$LAST_PID
start_watchdog classic-watchdog "fprocess=cat" "port=$CLASSIC_PORT"
CLASSIC_PID=$LAST_PID
wait_healthy http-watchdog "$HTTP_PID" "$HTTP_PORT"
wait_healthy classic-watchdog "$CLASSIC_PID" "$CLASSIC_PORT"

NGINX_PID=""
if [ "$NGINX" = 1 ]; then
    start_nginx "$WORK/nginx" "$NGINX_PORT" "$UPSTREAM_PORT"
    PIDS+=("$NGINX_PID")
    for i in $(seq 1 100); do
        if [ "$(http_status "$NGINX_PORT" GET /)" = 200 ]; then break; fi
        sleep 0.05
    done
    if [ "$(http_status "$NGINX_PORT" GET /)" != 200 ]; then
        NOTES+=("nginx did not answer on port $NGINX_PORT; reference skipped ($(paste -sd' ' "$WORK/nginx/stderr.log" "$WORK/nginx/error.log" 2>/dev/null | head -c 300))")
        NGINX=0
    fi
fi

# RSS after exactly one call each.
HTTP_ONE=$(http_status "$HTTP_PORT" GET /)
CLASSIC_ONE=$(http_status "$CLASSIC_PORT" POST / hello)
sleep 0.2
HTTP_RSS=$(rss_kib "$HTTP_PID")
CLASSIC_RSS=$(rss_kib "$CLASSIC_PID")

POST_LUA="$WORK/post.lua"
printf 'wrk.method = "POST"\nwrk.body = "hello"\nwrk.headers["Content-Type"] = "text/plain"\n' >"$POST_LUA"

say "measuring: $ROUNDS rounds of direct/http$([ "$NGINX" = 1 ] && echo /nginx), then classic; ${DURATION}s each"
for round in $(seq 1 "$ROUNDS"); do
    run_wrk direct "$round" "http://127.0.0.1:$UPSTREAM_PORT/"
    run_wrk http "$round" "http://127.0.0.1:$HTTP_PORT/" "" "$HTTP_PID"
    if [ "$NGINX" = 1 ]; then
        run_wrk nginx "$round" "http://127.0.0.1:$NGINX_PORT/" "" "$NGINX_PID"
    fi
done
for round in $(seq 1 "$ROUNDS"); do
    run_wrk classic "$round" "http://127.0.0.1:$CLASSIC_PORT/" "$POST_LUA"
done

HTTP_RSS_AFTER=$(rss_kib "$HTTP_PID")
CLASSIC_RSS_AFTER=$(rss_kib "$CLASSIC_PID")
HTTP_ALIVE=yes CLASSIC_ALIVE=yes
kill -0 "$HTTP_PID" 2>/dev/null || HTTP_ALIVE=no
kill -0 "$CLASSIC_PID" 2>/dev/null || CLASSIC_ALIVE=no

# --- report -------------------------------------------------------------------------------------

BINARY_BYTES=$(stat -c %s "$FWATCHDOG")
pass() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi; }

echo "== fwatchdog benchmark: $(date -u '+%Y-%m-%dT%H:%M:%SZ') on $(uname -srm), $(nproc) CPUs"
echo "wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'): -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s, $ROUNDS rounds;" \
    "watchdog_threads=${WATCHDOG_THREADS:-unset (http mode: one thread; fork modes: one per core)}"
echo
printf '%-8s %-6s %12s %12s %12s\n' target round req/s p50 p99
for row in "${RESULTS[@]}"; do
    set -- $row
    printf '%-8s %-6s %12s %12s %12s\n' "$1" "$2" "$3" "$(fmt_ms "$4")" "$(fmt_ms "$5")"
done
echo
declare -A MED_RPS
TARGETS=(direct http classic)
if [ "$NGINX" = 1 ]; then TARGETS+=(nginx); fi
for target in "${TARGETS[@]}"; do
    MED_RPS[$target]=$(column_of "$target" 3 | median)
    printf '%-8s %-6s %12s %12s %12s\n' "$target" median "${MED_RPS[$target]}" \
        "$(fmt_ms "$(column_of "$target" 4 | median)")" "$(fmt_ms "$(column_of "$target" 5 | median)")"
done
echo

RATIOS=$(paste -d' ' <(column_of http 3) <(column_of direct 3) | awk '{ printf "%.3f\n", ($2 > 0 ? $1 / $2 : 0) }')
RATIO=$(printf '%s\n' "$RATIOS" | median)
echo "http/direct ratio per round: $(printf '%s\n' "$RATIOS" | paste -sd' ' -); median $RATIO"
cpu_of() { printf '%s\n' "${CPU[@]}" | awk -v t="$1" '$1 == t && $3 != "-" { print $3 }'; }
echo "fwatchdog (http mode) CPU per call: $(cpu_of http | paste -sd' ' -) us; median $(cpu_of http | median) us"
if [ "$NGINX" = 1 ]; then
    NGINX_RATIOS=$(paste -d' ' <(column_of nginx 3) <(column_of direct 3) | awk '{ printf "%.3f\n", ($2 > 0 ? $1 / $2 : 0) }')
    NGINX_RATIO=$(printf '%s\n' "$NGINX_RATIOS" | median)
    VS_NGINX=$(paste -d' ' <(column_of http 3) <(column_of nginx 3) | awk '{ printf "%.3f\n", ($2 > 0 ? $1 / $2 : 0) }' | median)
    echo "nginx/direct ratio per round: $(printf '%s\n' "$NGINX_RATIOS" | paste -sd' ' -); median $NGINX_RATIO"
    echo "nginx (one worker) CPU per call: $(cpu_of nginx | paste -sd' ' -) us; median $(cpu_of nginx | median) us"
    echo "fwatchdog http mode / nginx req/s, median of rounds: $VS_NGINX"
fi
echo "fwatchdog RSS after one call: http mode ${HTTP_RSS} KiB (call answered $HTTP_ONE)," \
    "classic ${CLASSIC_RSS} KiB (call answered $CLASSIC_ONE)"
echo "fwatchdog RSS after the load: http mode ${HTTP_RSS_AFTER:-?} KiB, classic ${CLASSIC_RSS_AFTER:-?} KiB" \
    "(still running: http $HTTP_ALIVE, classic $CLASSIC_ALIVE)"
echo "release binary $FWATCHDOG: $BINARY_BYTES bytes ($(awk -v b="$BINARY_BYTES" 'BEGIN { printf "%.2f MB, %.2f MiB", b / 1e6, b / 1048576 }'))" \
    "$(command -v file >/dev/null 2>&1 && file -b "$FWATCHDOG" | grep -o 'not stripped\|stripped' | head -1 | sed 's/^/- /')"
echo

echo "goals:"
printf '  %s http mode >= %s of direct req/s (median ratio %s)\n' \
    "$(pass "$(awk -v r="$RATIO" -v g="$GOAL_RATIO" 'BEGIN { print (r >= g) }')")" "$GOAL_RATIO" "$RATIO"
if [ "$NGINX" = 1 ]; then
    printf '  (reference) nginx as a one-worker proxy in the same run: %s of direct; fwatchdog reaches %s of nginx\n' \
        "$NGINX_RATIO" "$VS_NGINX"
fi
printf '  %s classic fprocess=cat >= %s req/s (median %s)\n' \
    "$(pass "$(awk -v r="${MED_RPS[classic]}" -v g="$GOAL_CLASSIC_RPS" 'BEGIN { print (r >= g) }')")" \
    "$GOAL_CLASSIC_RPS" "${MED_RPS[classic]}"
for pair in "http:$HTTP_RSS" "classic:$CLASSIC_RSS"; do
    printf '  %s RSS of fwatchdog (%s mode) after one call < 3 MB (%s KiB = %s bytes)\n' \
        "$(pass "$(awk -v k="${pair#*:}" -v g="$GOAL_RSS_BYTES" 'BEGIN { print (k != "" && k * 1024 < g) }')")" \
        "${pair%%:*}" "${pair#*:}" "$(awk -v k="${pair#*:}" 'BEGIN { print k * 1024 }')"
done
printf '  %s stripped release binary < 8 MB (%s bytes)\n' \
    "$(pass "$([ "$BINARY_BYTES" -lt "$GOAL_BINARY_BYTES" ] && echo 1 || echo 0)")" "$BINARY_BYTES"
echo

if [ "${#NOTES[@]}" -gt 0 ]; then
    echo "wrk reported errors:"
    printf '  %s\n' "${NOTES[@]}"
else
    echo "wrk reported no errors (no non-2xx responses, no socket errors)."
fi
for name in http-watchdog classic-watchdog upstream; do
    log="$WORK/$name.log"
    lines=$(wc -l <"$log" | tr -d ' ')
    # Lines other than the routine per-call and start-up ones.
    unusual=$(grep -vE 'Forking fprocess\.|Wrote [0-9]+ Bytes - Duration|^[0-9/]+ [0-9:]+ [A-Z]+ [^ ]+ - 200 OK - ContentLength: |Listening on|listening on|Writing lock-file' "$log" || true)
    echo "$name log: $lines lines; $(printf '%s' "$unusual" | grep -c . || true) not routine"
    if [ -n "$unusual" ]; then printf '%s\n' "$unusual" | head -n 10 | sed 's/^/    /'; fi
done
exit 0
