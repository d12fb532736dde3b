#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAME
#   bench.sh - the benchmark: policyd with a private Redis beside the ceiling and the peers
# SYNOPSIS
#   make bench        (or: scripts/bench.sh [OUTDIR])
#   environment: BENCH_SECS (10), BENCH_REPEATS (3), BENCH_CONNS ("1 16 128"),
#                BENCH_RATE (10000), BENCH_LOW_RATE (1000), BENCH_OPEN_CONNS (64),
#                BENCH_PEERS (1; 0 leaves postfwd and policyd-rate-limit out),
#                BENCH_BASELINE (another build directory: its policyd, with a Redis of its
#                own, joins the runs as "policyd-baseline", for a before/after)
# DESCRIPTION
#   Starts, in a mktemp -d directory on free loopback ports, every system to compare:
#     ceiling            tests/tools/ceiling: answers DUNNO without thinking (the best the
#                        protocol, the kernel and libuv allow here);
#     policyd            build/policyd with its defaults (enforce, the default rules and
#                        caps) and a private redis-server on a unix socket, no persistence,
#                        with the Redis module build/pdtrack.so loaded when it is built
#                        (BENCH_BASELINE's Redis: that build's module), unless
#                        PD_REDIS_MODULE=0;
#     postfwd            postfwd1 (Debian's postfwd, its single-process mode), when installed;
#     policyd-rate-limit Debian's policyd-rate-limit with its SQLite database on tmpfs
#                        (/dev/shm) and, as a second system, on disk, when installed.
#   The peers get the per-SASL-user limit policyd applies by default to recipients
#   (500 per hour and 2000 per day, counted per RCPT request, answering DEFER_IF_PERMIT):
#   postfwd with two rate() rules at protocol_state RCPT, its request cache off
#   (--cache=0: every request is evaluated) and no DNS; policyd-rate-limit with
#   limits [[500, 3600], [2000, 86400]] and limit_by_sasl. Their system services are
#   never enabled or started: each runs by hand, as root dropping to nobody where it
#   can, with its configuration and data in the temporary directory.
#   Then scripts/bench/run.py drives each with build/tools/loadgen (the same traffic
#   for all: 10,000 mailboxes, 200 domains, 15 % new recipients, 1 % attack traffic,
#   END-OF-MESSAGE requests) and prints one table: closed-loop throughput at 1, 16 and
#   128 connections and its ratio to the ceiling, the CPU of each process, open-loop
#   latency at BENCH_RATE and BENCH_LOW_RATE requests/s, and the load other users put
#   on the machine meanwhile. Redis' own cost per script or PD.TRACK call (INFO
#   commandstats) and policyd's RSS follow the table. Benchmarks are never part of make
#   test.
# DIAGNOSTICS
#   Exit 0 with the report (also in OUTDIR, default build/bench/DATE: table.md,
#   results.json, the last lines of the servers' logs); 1 when policyd, Redis or the ceiling do not
#   start. A peer that is missing or does not start is reported and left out. Every
#   process started is stopped by its pid on exit.
# SEE ALSO
#   scripts/bench/run.py, tests/tools/loadgen.c, tests/tools/ceiling.c, docs/BENCHMARKS.md
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${PD_BUILD:-$root/build}
out=${1:-$build/bench/$(date +%Y%m%d-%H%M%S)}
dir=$(mktemp -d /tmp/pd-bench.XXXXXX)
shm=
pids=()
pidfiles=()

cleanup()
{
    local p f
    for f in "${pidfiles[@]}"; do
        [ -s "$f" ] && p=$(cat "$f") && [ -n "$p" ] && kill "$p" 2> /dev/null || true
    done
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    mkdir -p "$out"
    for f in "$dir"/*.log; do # policyd logs a line per request: keep the end
        [ -f "$f" ] && tail -n 2000 "$f" > "$out/$(basename "$f")"
    done
    rm -rf "$dir"
    [ -n "$shm" ] && rm -rf "$shm"
    return 0
}
trap cleanup EXIT

free_port()
{
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# up - true when something accepts on 127.0.0.1:$1 within 5 s
up()
{
    local i
    for i in $(seq 1 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1).close()" \
            2> /dev/null && return 0
        sleep 0.05
    done
    return 1
}

for b in "$build/policyd" "$build/tools/loadgen" "$build/tools/ceiling"; do
    [ -x "$b" ] || { echo "bench: $b is missing (make all)" >&2; exit 1; }
done
systems=()
notes=()

# --- the ceiling
cport=$(free_port)
"$build/tools/ceiling" -l "127.0.0.1:$cport" -q > "$dir/ceiling.log" 2>&1 &
pids+=($!)
up "$cport" || { echo "bench: the ceiling did not start" >&2; exit 1; }
systems+=("ceiling|-t 127.0.0.1:$cport|$!:ceiling|")

# --- policyd and its private Redis (policyd_start NAME BUILD), which loads BUILD's module
policyd_start()
{
    local name=$1 bin=$2/policyd port rpid p mod=()
    if [ "${PD_REDIS_MODULE:-}" != 0 ] && [ -f "$2/pdtrack.so" ]; then
        mod=(--loadmodule "$(cd "$2" && pwd)/pdtrack.so") # an absolute path
    fi
    redis-server --port 0 --unixsocket "$dir/$name-redis.sock" --unixsocketperm 700 --save '' \
        --appendonly no --dir "$dir" --logfile "$dir/$name-redis.log" "${mod[@]}" > /dev/null &
    rpid=$!
    pids+=($rpid)
    for _ in $(seq 1 100); do
        redis-cli -s "$dir/$name-redis.sock" ping > /dev/null 2>&1 && break
        sleep 0.05
    done
    port=$(free_port)
    printf 'listen = inet:127.0.0.1:%s\nrun_user =\nredis_server = unix:%s\n' "$port" \
        "$dir/$name-redis.sock" > "$dir/$name.conf"
    "$bin" -f -c "$dir/$name.conf" 2> "$dir/$name.log" &
    p=$!
    pids+=($p)
    if ! up "$port"; then
        echo "bench: $name did not start" >&2
        tail -5 "$dir/$name.log" >&2
        exit 1
    fi
    sleep 0.5 # the shared recipient hash key is fetched from Redis at start
    systems+=("$name|-t 127.0.0.1:$port|$p:policyd,$rpid:redis|$bin, default config, private Redis on a unix socket${mod:+ with pdtrack.so}; its log (one line per request) goes to a file")
    eval "${name//-/_}_pid=$p"
}
policyd_start policyd "$build"
ppid=$policyd_pid
if [ -n "${BENCH_BASELINE:-}" ]; then
    [ -x "$BENCH_BASELINE/policyd" ] || { echo "bench: $BENCH_BASELINE/policyd missing" >&2; exit 1; }
    policyd_start policyd-baseline "$BENCH_BASELINE"
fi

# --- postfwd (postfwd1: one process, Net::Server::Multiplex)
pf=$(command -v postfwd1 || command -v postfwd || true)
if [ "${BENCH_PEERS:-1}" = 1 ] && [ -n "$pf" ]; then
    fport=$(free_port)
    cat > "$dir/postfwd.cf" << 'EOF'
id=RCPT_HOUR; protocol_state==RCPT; sasl_username=~/./; action=rate(sasl_username/500/3600/DEFER_IF_PERMIT rate limit: 500 recipients per hour)
id=RCPT_DAY; protocol_state==RCPT; sasl_username=~/./; action=rate(sasl_username/2000/86400/DEFER_IF_PERMIT rate limit: 2000 recipients per day)
EOF
    chmod 755 "$dir"
    # -d daemonizes (postfwd1 has no foreground mode); its pid comes from the pid file
    if "$pf" -d -f "$dir/postfwd.cf" -i 127.0.0.1 -p "$fport" -n --cache=0 \
        -u nobody -g nogroup --pidfile "$dir/postfwd.pid" -L > "$dir/postfwd.log" 2>&1 &&
        up "$fport" && [ -s "$dir/postfwd.pid" ]; then
        pidfiles+=("$dir/postfwd.pid")
        systems+=("postfwd|-t 127.0.0.1:$fport|$(cat "$dir/postfwd.pid"):postfwd1|$(dpkg-query -W -f 'postfwd ${Version}' postfwd 2> /dev/null || true) ($pf), single process, --cache=0 --nodns, 2 rate() rules")
    else
        notes+=("postfwd: installed but did not start: $(tail -2 "$dir/postfwd.log" | tr '\n' ' ')")
        pidfiles+=("$dir/postfwd.pid")
    fi
elif [ "${BENCH_PEERS:-1}" = 1 ]; then
    notes+=("postfwd: not installed (apt-get install postfwd; its service need not run)")
fi

# --- policyd-rate-limit: SQLite on tmpfs, then on disk
prl=$(command -v policyd-rate-limit || true)
prl_start()
{
    local name=$1 db=$2 port
    port=$(free_port)
    mkdir -p "$(dirname "$db")"
    cat > "$dir/$name.yaml" << EOF
debug: False
user: "root"
group: "root"
pidfile: "$dir/$name.pid"
sqlite_config:
    database: "$db"
backend: 0
SOCKET: ["127.0.0.1", $port]
limits:
    - [500, 3600]
    - [2000, 86400]
limits_by_id: {}
limit_by_sasl: True
limit_by_sender: False
limit_by_ip: False
limited_networks: []
success_action: "dunno"
fail_action: "defer_if_permit Rate limit reach, retry later"
db_error_action: "dunno"
report: False
delay_to_close: 300
EOF
    "$prl" -f "$dir/$name.yaml" > "$dir/$name.log" 2>&1 &
    local p=$!
    pids+=($p)
    if up "$port"; then
        systems+=("$name|-t 127.0.0.1:$port|$p:python3|SQLite at $db ($(stat -f -c %T "$(dirname "$db")" || true)); one process, select() loop, listen backlog 5")
    else
        notes+=("$name: did not start: $(tail -2 "$dir/$name.log" | tr '\n' ' ')")
    fi
}
if [ "${BENCH_PEERS:-1}" = 1 ] && [ -n "$prl" ]; then
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        shm=$(mktemp -d /dev/shm/pd-bench.XXXXXX)
        prl_start policyd-rate-limit-tmpfs "$shm/db.sqlite3"
    fi
    prl_start policyd-rate-limit-disk "$dir/prl-disk/db.sqlite3"
elif [ "${BENCH_PEERS:-1}" = 1 ]; then
    notes+=("policyd-rate-limit: not installed (apt-get install policyd-rate-limit; its service need not run)")
fi

# --- the systems for run.py, then the runs
python3 - "$dir/systems.json" "$build/tools/loadgen" "${systems[@]}" << 'EOF'
import json, sys
path, loadgen, rows = sys.argv[1], sys.argv[2], sys.argv[3:]
systems = []
for row in rows:
    name, target, pids, note = row.split("|", 3)
    roles = dict(p.split(":") for p in pids.split(","))
    systems.append({"name": name, "target": target.split(), "pids": [int(p) for p in roles],
                    "roles": roles, "note": note})
json.dump({"loadgen": loadgen, "systems": systems}, open(path, "w"), indent=1)
EOF

echo "bench: $(nproc) cores; $(uptime)" >&2
for r in "$dir"/*-redis.sock; do redis-cli -s "$r" config resetstat > /dev/null; done
mkdir -p "$out"
python3 "$root/scripts/bench/run.py" "$dir/systems.json" "$out"
{
    for n in "${notes[@]}"; do echo "- $n"; done
    for r in "$dir"/*-redis.sock; do
        n=$(basename "$r" -redis.sock)
        redis-cli -s "$r" info commandstats | tr -d '\r' |
            sed -n "s/^\(cmdstat_\(evalsha\|pd\.track\):\)/- $n redis: \1/p"
        echo "- $n redis: $(redis-cli -s "$r" info memory | grep -E '^used_memory_human' | tr -d '\r'), $(redis-cli -s "$r" dbsize | tr -d '\r') keys"
    done
    echo "- policyd: RSS $(awk '/VmRSS/ {print $2, $3}' "/proc/$ppid/status"), $(grep -c 'blocked: ' "$dir/policyd.log" || true) mailboxes blocked"
    echo "- machine: $(uptime)"
} | tee -a "$out/table.md"
