#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAME
#   idle-conns.sh - policyd's memory holding many idle Postfix connections
# SYNOPSIS
#   scripts/bench/idle-conns.sh [CONNECTIONS]     (default 10000; after make all)
# DESCRIPTION
#   Starts a private redis-server (with the Redis module build/pdtrack.so when it is
#   built, unless PD_REDIS_MODULE=0) and build/policyd (max_connections above CONNECTIONS)
#   in a mktemp -d directory, opens CONNECTIONS TCP connections to it, sends one RCPT
#   request on each (as a Postfix smtpd process does before it goes idle) and reads the
#   answers, then keeps them all open and idle. It prints policyd's VmRSS before, right
#   after the requests (each busy connection has its parser and write buffer), and after
#   12 s of idleness (conn_sweep gives those back after 10 s), with the per-connection
#   difference.
# DIAGNOSTICS
#   Exit 0 with the report; 1 if something does not start or a request is not answered.
#   The file-descriptor limit must allow CONNECTIONS (ulimit -n).
# SEE ALSO
#   policyd/conn.c (struct conn_active, conn_sweep), docs/BENCHMARKS.md
set -euo pipefail

n=${1:-10000}
build=${PD_BUILD:-build}
[ -x "$build/policyd" ] || { echo "idle-conns: $build/policyd missing (make all)" >&2; exit 1; }
[ "$(ulimit -n)" -gt $((n + 100)) ] || ulimit -n $((n + 1000))
dir=$(mktemp -d)
pids=()
cleanup()
{
    local p
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

module=()
if [ "${PD_REDIS_MODULE:-}" != 0 ] && [ -f "$build/pdtrack.so" ]; then
    module=(--loadmodule "$(cd "$build" && pwd)/pdtrack.so") # absolute, as --loadmodule wants
fi
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" "${module[@]}" > /dev/null &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -s "$dir/redis.sock" ping > /dev/null 2>&1 && break; sleep 0.05; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/policyd.conf" << EOF
listen = inet:127.0.0.1:$port
run_user =
redis_server = unix:$dir/redis.sock
max_connections = $((n + 100))
EOF
"$build/policyd" -f -c "$dir/policyd.conf" 2> "$dir/policyd.log" &
ppid=$!
pids+=($ppid)
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$ppid/status"; }
echo "idle-conns: policyd VmRSS at start: $(rss) kB" >&2

python3 - "$port" "$n" "$ppid" << 'PY'
import selectors, socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rss():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
base = rss()
req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
       "client_address=192.0.2.%d\nclient_name=unknown\nhelo_name=pc\nsender=u%d@example.com\n"
       "recipient=r%d@example.org\nrecipient_count=0\nqueue_id=\ninstance=%x.1\n"
       "sasl_method=PLAIN\nsasl_username=u%d@example.com\nsize=0\n\n")
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((req % (i % 250, i, i, i, i)).encode())
    socks.append(s)
    if i % 500 == 499:   # read answers as we go: the listen backlog stays short
        for t in socks[i - 499:i + 1]:
            t.settimeout(10)
            a = t.recv(4096)
            if not a.startswith(b"action="):
                sys.exit("idle-conns: no answer on connection %d: %r" % (i, a))
for t in socks[n - n % 500:]:
    t.settimeout(10)
    t.recv(4096)
busy = rss()
time.sleep(12)
idle = rss()
print("policyd VmRSS: %d kB at start, %d kB with %d connections just answered, %d kB after "
      "12 s idle: %.0f bytes per idle connection (%.0f while busy); total %.1f MB"
      % (base, busy, n, idle, (idle - base) * 1024.0 / n, (busy - base) * 1024.0 / n,
         idle / 1024.0))
PY
