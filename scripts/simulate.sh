#!/bin/sh
# SPDX-License-Identifier: MIT
# NAME
#   simulate.sh - the traffic simulator: detection quality of policyd on synthetic mail
# SYNOPSIS
#   make sim                      (the quick configuration)
#   sh scripts/simulate.sh [SIMULATE OPTIONS...]
#   e.g. sh scripts/simulate.sh --mailboxes 20000 --episodes 300 --stress 100   (big)
# DESCRIPTION
#   Starts, in a mktemp -d directory: a private redis-server (unix socket, no port, no
#   persistence: every run starts from an empty Redis, so no block of an earlier run
#   survives; with the Redis module build/pdtrack.so loaded when it is built, unless
#   PD_REDIS_MODULE=0) and build/policyd on a free loopback port, with
#   trust_request_time = yes (policyd takes "now" from each request's policyd_time), a
#   fixed recipient hash key (the same hashes in every run: the run is reproducible from
#   its seed) and the overrides file of the simulated population (its bulk senders). Then it runs
#   build/tools/simulate against it with the options given (defaults: 2,000 mailboxes,
#   28 learning + 14 evaluation days, seed 1), prints its report, and stops both
#   processes by pid. policyd's verdict=HOLD/BLOCK lines are kept (the rest of its
#   per-request log is dropped on the way) so the report can name the rules behind
#   each wrongful action. Set SIM_KEEP=1 to keep the directory; SIM_CONF may hold extra
#   policyd.conf lines (e.g. SIM_CONF='rule_nov1_min = 30') to try other thresholds
#   without a rebuild.
# DIAGNOSTICS
#   Exit status of the simulator (0, or 1 on a failed run, 2 on bad options); 1 when a
#   process does not start.
# SEE ALSO
#   tests/tools/simulate.c, docs/SIMULATOR.md, scripts/bench.sh
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${PD_BUILD:-$root/build}
dir=$(mktemp -d /tmp/pd-sim.XXXXXX)
rpid='' ppid='' gpid=''

cleanup()
{
    for p in $ppid $rpid; do kill "$p" 2> /dev/null || true; done
    for p in $ppid $rpid $gpid; do wait "$p" 2> /dev/null || true; done
    if [ "${SIM_KEEP:-0}" = 1 ]; then echo "simulate.sh: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for()
{
    i=0
    while [ $i -lt 200 ]; do
        if "$@" > /dev/null 2>&1; then return 0; fi
        sleep 0.05
        i=$((i + 1))
    done
    echo "simulate.sh: gave up waiting for: $*" >&2
    exit 1
}

free_port()
{
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# answers - true once policyd answers a request from Redis: until it has its connection,
# requests get redis_fail_action (WARN here, so it shows)
answers()
{
    python3 - "$1" << 'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"request=smtpd_access_policy\nprotocol_state=DATA\n"
          b"sasl_username=probe@probe.example\n\n")
sys.exit(0 if s.recv(4096).startswith(b"action=DUNNO") else 1)
PY
}

for b in "$build/policyd" "$build/tools/simulate"; do
    [ -x "$b" ] || { echo "simulate.sh: $b is missing (make all)" >&2; exit 1; }
done
command -v redis-server > /dev/null || { echo "simulate.sh: redis-server not found" >&2; exit 1; }

module= # the Redis module, track.lua's native twin, when built (an absolute path)
if [ "${PD_REDIS_MODULE:-}" != 0 ] && [ -f "$build/pdtrack.so" ]; then
    module=$(cd "$build" && pwd)/pdtrack.so
fi
redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --save '' \
    --appendonly no --dir "$dir" --logfile "$dir/redis.log" \
    ${module:+--loadmodule "$module"} > /dev/null &
rpid=$!
wait_for redis-cli -s "$dir/redis.sock" ping

# the same population as the run: the options that shape it are passed along
"$build/tools/simulate" --write-overrides "$dir/overrides" "$@"
(umask 077 && echo "policyd-simulator-fixed-key" > "$dir/hash.key")
port=$(free_port)
cat > "$dir/policyd.conf" << EOF
listen = inet:127.0.0.1:$port
run_user =
redis_server = unix:$dir/redis.sock
redis_timeout = 10s
redis_fail_action = WARN simulator: redis unavailable
status_listen =
trust_request_time = yes
recipient_hash_key_file = $dir/hash.key
overrides_file = $dir/overrides
max_connections = 1024
EOF
[ -z "${SIM_CONF:-}" ] || printf '%s\n' "$SIM_CONF" >> "$dir/policyd.conf"
"$build/policyd" -t -c "$dir/policyd.conf" > /dev/null ||
    { echo "simulate.sh: bad SIM_CONF" >&2; exit 1; }
mkfifo "$dir/log.fifo"
grep --line-buffered -E ' verdict=(HOLD|BLOCK|FAIL) |blocked: |warning|fatal|panic' \
    < "$dir/log.fifo" > "$dir/policyd.log" &
gpid=$!
"$build/policyd" -f -c "$dir/policyd.conf" 2> "$dir/log.fifo" &
ppid=$!
wait_for answers "$port"

echo "simulate.sh: redis and policyd (pid $ppid) in $dir, policyd on 127.0.0.1:$port," \
    "$(nproc) cores" >&2
rc=0
"$build/tools/simulate" -t "127.0.0.1:$port" --log "$dir/policyd.log" "$@" || rc=$?
kill "$ppid" 2> /dev/null || true
wait "$ppid" 2> /dev/null || true
ppid=''
exit $rc
