#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAME
#   bench.sh - the benchmark: policyd with a private Redis, side by side with the ceiling
# SYNOPSIS
#   make bench        (or: scripts/bench.sh [SECONDS] [CONNECTIONS])
# DESCRIPTION
#   Starts, in a mktemp -d directory on free loopback ports: a private redis-server, the
#   ceiling (tests/tools/ceiling: a policy server that answers DUNNO without thinking, the
#   best the protocol and the loop allow) and build/policyd (enforce mode, defaults, a
#   unix socket and TCP). Then build/tools/loadgen drives each for SECONDS (default 20)
#   with CONNECTIONS (default 32) persistent connections of Postfix 3.7 RCPT requests:
#     1. closed loop against the ceiling (its throughput is the ceiling);
#     2. closed loop against policyd, 10,000 mailboxes with address books, 15 % new
#        recipients, 1 % attack traffic (throughput, latency, blocks);
#     3. open loop against policyd at half of the closed-loop rate (latency without
#        coordinated omission).
#   It prints one table and Redis' INFO commandstats for EVALSHA (calls, usec per call),
#   policyd's CPU time and RSS, and Redis' used memory. Benchmarks are never part of
#   make test.
# DIAGNOSTICS
#   Exit 0 with the report; 1 when a process does not start. Everything started is
#   stopped by pid on exit.
# SEE ALSO
#   tests/tools/loadgen.c, tests/tools/ceiling.c, docs/LOADGEN.md
set -euo pipefail

secs=${1:-20}
conns=${2:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PD_BUILD:-$root/build}
dir=$(mktemp -d /tmp/pd-bench.XXXXXX)
pids=()

cleanup()
{
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

free_port()
{
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for()
{
    local i
    for i in $(seq 1 100); do
        if "$@" > /dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "bench: gave up waiting for: $*" >&2
    exit 1
}

for b in "$build/policyd" "$build/tools/loadgen" "$build/tools/ceiling"; do
    [ -x "$b" ] || { echo "bench: $b is missing (make all)" >&2; exit 1; }
done

redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --save '' \
    --appendonly no --dir "$dir" --logfile "$dir/redis.log" > /dev/null &
pids+=($!)
wait_for redis-cli -s "$dir/redis.sock" ping

cport=$(free_port)
"$build/tools/ceiling" -l "127.0.0.1:$cport" -q > /dev/null &
pids+=($!)

pport=$(free_port)
cat > "$dir/policyd.conf" << EOF
listen = inet:127.0.0.1:$pport, unix:$dir/policy.sock
run_user =
redis_server = unix:$dir/redis.sock
EOF
"$build/policyd" -f -c "$dir/policyd.conf" 2> "$dir/policyd.log" &
ppid=$!
pids+=($ppid)
wait_for python3 -c "import socket; socket.create_connection(('127.0.0.1', $pport)).close()"
sleep 0.5 # the shared recipient hash key is fetched from Redis at start

model=(--mailboxes 10000 --domains 200 --new-share 0.15 --attack-share 0.01 --eom)

run()
{
    local name=$1
    shift
    "$build/tools/loadgen" "$@" --json > "$dir/$name.json"
    python3 - "$name" "$dir/$name.json" << 'EOF'
import json, sys
name, d = sys.argv[1], json.load(open(sys.argv[2]))
l = d["latency_us"]
acts = " ".join("%s=%d" % kv for kv in sorted(d["actions"].items()))
print("%-22s %9.0f req/s  p50 %6d us  p99 %7d us  p99.9 %7d us  errors %d  %s"
      % (name, d["requests_per_s"], l["p50"], l["p99"], l["p99.9"], d["errors"]["total"], acts))
EOF
}

echo "bench: $secs s per run, $conns connections, $(nproc) cores"
run ceiling -t "127.0.0.1:$cport" -c "$conns" -d "$secs"
redis-cli -s "$dir/redis.sock" config resetstat > /dev/null
t0=$(awk '{print $14 + $15}' "/proc/$ppid/stat")
run policyd-closed -t "127.0.0.1:$pport" -c "$conns" -d "$secs" "${model[@]}"
rate=$(python3 -c "import json; print(int(json.load(open('$dir/policyd-closed.json'))['requests_per_s'] / 2))")
run policyd-open-half -t "127.0.0.1:$pport" -c "$conns" -d "$secs" -r "$rate" "${model[@]}"
run policyd-unix -u "$dir/policy.sock" -c "$conns" -d "$secs" "${model[@]}"
t1=$(awk '{print $14 + $15}' "/proc/$ppid/stat")
echo
echo "redis:   $(redis-cli -s "$dir/redis.sock" info commandstats | grep -E '^cmdstat_evalsha' | tr -d '\r')"
echo "redis:   $(redis-cli -s "$dir/redis.sock" info memory | grep -E '^used_memory_human' | tr -d '\r'), $(redis-cli -s "$dir/redis.sock" dbsize | tr -d '\r') keys"
echo "policyd: $(( (t1 - t0) / $(getconf CLK_TCK) )) s of CPU over the three runs, RSS $(awk '/VmRSS/ {print $2, $3}' "/proc/$ppid/status")"
echo "policyd: $(grep -c 'blocked: ' "$dir/policyd.log" || true) mailboxes blocked"
