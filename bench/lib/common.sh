# Sourced by the benchmarks: the small helpers they all use. Each script keeps the pids it
# starts in PIDS and calls stop_pids from its EXIT trap.

say() { printf '%s\n' "$*" >&2; }

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The median of the numbers on stdin, one per line (0 when there are none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# CPU time (utime + stime, in clock ticks) a process has used; 0 once it is gone.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# CPU time (utime + stime, clock ticks) used by a process and every living descendant of it
# (a faasd and its replicas: watchdogs, sandboxes, function processes).
tree_cpu_ticks() {
    python3 - "$1" <<'EOF'
import os, sys
root, parent, ticks = int(sys.argv[1]), {}, {}
for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    try:
        with open(f"/proc/{entry}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    parent[int(entry)] = int(fields[1])
    ticks[int(entry)] = int(fields[11]) + int(fields[12])
def under(pid):
    while pid > 1:
        if pid == root:
            return True
        pid = parent.get(pid, 0)
    return False
print(sum(t for pid, t in ticks.items() if under(pid)))
EOF
}

# SIGTERM to every pid in PIDS, up to 15 s for them to exit, then SIGKILL to the rest.
stop_pids() {
    local pid alive
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 150); do
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
