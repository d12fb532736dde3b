#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAME
#   request-cost.sh - policyd's own cost per request: system calls, allocations, instructions
# SYNOPSIS
#   scripts/bench/request-cost.sh [BUILD...]      (default build; from the repository root)
#   environment: REQUEST_COST_N (20000 requests), REQUEST_COST_CONNS (16)
# DESCRIPTION
#   One private redis-server (with the Redis module $PD_BUILD/pdtrack.so, default
#   build/, when it is built, unless PD_REDIS_MODULE=0), then for each BUILD directory
#   BUILD/policyd three times, each driven by build/tools/loadgen with REQUEST_COST_N
#   requests of the bench traffic (10,000 mailboxes, 15 % new recipients, 1 % attack
#   traffic, END-OF-MESSAGE requests) over REQUEST_COST_CONNS connections, after 2,000
#   requests of warm-up:
#     strace -c -f        system calls per request, by call;
#     valgrind memcheck   heap allocations per request ("total heap usage", the warm-up
#                         and start-up measured alone and subtracted);
#     valgrind callgrind  user-space instructions per request (collection switched on for
#                         the measured requests only).
#   These counts do not depend on the load others put on the machine, unlike time.
# DIAGNOSTICS
#   A few lines per build; exit 1 if a tool is missing.
# SEE ALSO
#   scripts/bench/script-cost.sh (the Redis side), docs/BENCHMARKS.md
set -euo pipefail

n=${REQUEST_COST_N:-20000}
conns=${REQUEST_COST_CONNS:-16}
loadgen=${PD_BUILD:-build}/tools/loadgen
for t in "$loadgen" strace valgrind callgrind_control redis-server; do
    command -v "$t" > /dev/null || [ -x "$t" ] || { echo "request-cost: $t missing" >&2; exit 1; }
done
[ $# -gt 0 ] || set -- build
module=()
if [ "${PD_REDIS_MODULE:-}" != 0 ] && [ -f "${PD_BUILD:-build}/pdtrack.so" ]; then
    module=(--loadmodule "$(cd "${PD_BUILD:-build}" && pwd)/pdtrack.so") # absolute
fi
tmp=$(mktemp -d)
pids=()
cleanup()
{
    local p
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    rm -rf "$tmp"
    return 0
}
trap cleanup EXIT

redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --dir "$tmp" \
    --logfile "$tmp/redis.log" "${module[@]}" > /dev/null &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -s "$tmp/redis.sock" ping > /dev/null 2>&1 && break; sleep 0.05; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listen = inet:127.0.0.1:%s\nrun_user =\nredis_server = unix:%s\n' "$port" \
    "$tmp/redis.sock" > "$tmp/policyd.conf"
drive() # drive N: N requests, as fast as answered
{
    "$loadgen" -t "127.0.0.1:$port" -c "$conns" -n "$1" -d 600 --mailboxes 10000 \
        --domains 200 --new-share 0.15 --attack-share 0.01 --eom --json > "$tmp/lg.json"
}
wait_up()
{
    for _ in $(seq 1 600); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" \
            2> /dev/null && sleep 1 && return 0
        sleep 0.1
    done
    echo "request-cost: policyd did not start" >&2
    exit 1
}
stop() # stop PID: SIGTERM and wait
{
    kill "$1" 2> /dev/null || true
    wait "$1" 2> /dev/null || true
}

for b in "$@"; do
    bin=$b/policyd
    # 1. system calls
    "$bin" -f -c "$tmp/policyd.conf" 2> "$tmp/policyd.log" &
    p=$!
    wait_up
    drive 2000
    strace -c -f -p "$p" -o "$tmp/strace" 2> /dev/null &
    s=$!
    sleep 1
    drive "$n"
    kill -INT "$s"
    wait "$s" 2> /dev/null || true
    stop "$p"
    calls=$(awk '$NF == "total" {print $4}' "$tmp/strace")
    by=$(awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
            printf "%s %.2f, ", $NF, $4 / n }' "$tmp/strace")
    echo "$b: $(echo "$calls / $n" | bc -l | xargs printf '%.2f') system calls per request (${by%, })"
    # 2. allocations: start-up and warm-up alone, then with the measured requests
    for k in 0 "$n"; do
        valgrind --tool=memcheck --leak-check=no --log-file="$tmp/vg.$k" \
            "$bin" -f -c "$tmp/policyd.conf" 2> /dev/null &
        p=$!
        wait_up
        drive 2000
        [ "$k" = 0 ] || drive "$k"
        stop "$p"
    done
    a0=$(sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$tmp/vg.0" | tr -d ,)
    a1=$(sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$tmp/vg.$n" | tr -d ,)
    echo "$b: $(echo "($a1 - $a0) / $n" | bc -l | xargs printf '%.1f') heap allocations per request"
    # 3. instructions
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$tmp/cg.out" \
        --log-file="$tmp/cg.log" "$bin" -f -c "$tmp/policyd.conf" 2> /dev/null &
    p=$!
    wait_up
    drive 2000
    callgrind_control -i on "$p" > /dev/null 2>&1
    drive "$n"
    callgrind_control -i off "$p" > /dev/null 2>&1
    stop "$p"
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/cg.log")
    echo "$b: $(echo "$ir / $n" | bc -l | xargs printf '%.0f') user-space instructions per request"
done
