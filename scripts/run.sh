#!/bin/sh
# run.sh - what `make run` does after building: run policyd in the foreground on the
# repository's policyd.conf. Unless that file names a redis_server, a private redis-server
# is started under ./run/ (unix socket, AOF persistence, stopped again when policyd exits)
# and policyd is pointed at it with -o; it loads the Redis module, $PD_BUILD/pdtrack.so
# (track.lua's native twin), when that is built, unless PD_REDIS_MODULE=0. Prints the
# Postfix main.cf lines to add.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
conf=${POLICYD_CONF:-$top/policyd.conf}
build=${PD_BUILD:-$top/build}
rundir=$top/run
mkdir -p "$rundir"
chmod 755 "$rundir"

set -- -f -c "$conf"
# The helpdesk socket goes under ./run/ unless the file names one: policyctl -s run/status.sock
if ! grep -Eq '^[[:space:]]*status_listen[[:space:]]*=' "$conf"; then
    set -- "$@" -o "status_listen=unix:$rundir/status.sock"
fi
redis_pid=
if ! grep -Eq '^[[:space:]]*redis_server[[:space:]]*=' "$conf"; then
    sock=$rundir/redis.sock
    if [ -f "$rundir/redis.pid" ] && kill -0 "$(cat "$rundir/redis.pid")" 2>/dev/null &&
        grep -q redis-server "/proc/$(cat "$rundir/redis.pid")/cmdline" 2>/dev/null; then
        echo "run.sh: using the private redis-server already running (pid $(cat "$rundir/redis.pid"))"
    else
        module=
        if [ "${PD_REDIS_MODULE:-}" != 0 ] && [ -f "$build/pdtrack.so" ]; then
            module=$(cd "$build" && pwd)/pdtrack.so # --loadmodule wants an absolute path
        fi
        redis-server --port 0 --unixsocket "$sock" --unixsocketperm 770 --dir "$rundir" \
            --appendonly yes --save '' --daemonize yes --pidfile "$rundir/redis.pid" \
            --logfile "$rundir/redis.log" ${module:+--loadmodule "$module"}
        i=0
        while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
        if [ ! -S "$sock" ]; then
            echo "run.sh: redis-server did not start; the end of $rundir/redis.log:" >&2
            tail -n 5 "$rundir/redis.log" >&2
            exit 1
        fi
        redis_pid=$(cat "$rundir/redis.pid")
        echo "run.sh: private redis-server started (pid $redis_pid, $sock, data in" \
            "$rundir${module:+, module $module})"
    fi
    # policyd drops to run_user (nobody by default): let that user's group reach the socket.
    user=$(sed -n 's/^[[:space:]]*run_user[[:space:]]*=[[:space:]]*//p' "$conf" | tail -n 1)
    user=${user:-nobody}
    if [ "$(id -u)" = 0 ] && [ -n "$user" ] && id "$user" >/dev/null 2>&1; then
        chgrp "$(id -gn "$user")" "$sock"
    fi
    set -- "$@" -o "redis_server=unix:$sock"
fi

stop_redis() {
    if [ -n "$redis_pid" ] && grep -q redis-server "/proc/$redis_pid/cmdline" 2>/dev/null; then
        kill "$redis_pid" 2>/dev/null || true
    fi
}
trap stop_redis EXIT INT TERM

listen=$(sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*//p' "$conf" | tail -n 1)
listen=${listen:-inet:127.0.0.1:10040}
first=$(echo "$listen" | tr ', ' '\n\n' | grep -v '^$' | head -n 1)
cat <<MSG

policyd is starting in the foreground (Ctrl-C stops it). Add to Postfix's main.cf:

    smtpd_recipient_restrictions =
        check_policy_service { $first, timeout=10s, default_action=DUNNO },
        permit_sasl_authenticated, reject_unauth_destination

then "postfix reload". Test by hand:
    printf 'request=smtpd_access_policy\\nprotocol_state=RCPT\\nsasl_username=a@b\\n\\n' | nc 127.0.0.1 10040

MSG
"$build/policyd" "$@" || rc=$?
exit ${rc:-0}
