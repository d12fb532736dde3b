#!/bin/bash
# SPDX-License-Identifier: MIT
# NAME
#   test_module.sh - the Redis module answers and stores exactly what track.lua does
# SYNOPSIS
#   bash tests/integ/test_module.sh        (run by make integ; needs make all first)
# DESCRIPTION
#   Runs scripts/bench/script-diff.sh ratelimit/lua/track.lua module: the same requests
#   through the script (EVALSHA) and through PD.TRACK of $PD_BUILD/pdtrack.so
#   (ratelimit/module/), each in a fresh private redis-server (mktemp -d, unix sockets,
#   no port), over script-diff's four workloads (bench, month, mixed1, mixed2). Every
#   reply and the whole keyspace (every key, its type, its content, whether it has a
#   TTL) must be identical. The module is never built with the sanitiser flags, so the
#   build/san one loads into the system redis-server as well.
# DIAGNOSTICS
#   One "ok"/"not ok" line per workload, with the first differing lines after a "not
#   ok" ("<" the script, ">" the module); then "module: N passed, N failed". Exit 1 on
#   any failure. script-diff stops at the first difference, so later workloads are not
#   run then; its redis-servers and directory are removed on every exit.
# SEE ALSO
#   scripts/bench/script-diff.sh, ratelimit/module/pdtrack.c, tests/tools/trackcli.c (-m)

set -u
set +m
ROOT=${PD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${PD_BUILD:-$ROOT/build}
WORKLOADS=4 # script-diff's: bench, month, mixed1, mixed2

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
notok() { fail=$((fail + 1)); echo "not ok - $1"; }
finish()
{
    echo "module: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

for f in "$BUILD/pdtrack.so" "$BUILD/tools/trackcli"; do
    [ -e "$f" ] || { notok "$f is built (make all)"; finish; }
done
for t in redis-server redis-cli python3; do
    command -v "$t" > /dev/null || { notok "$t is installed"; finish; }
done

DIR=$(mktemp -d)
PID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup()
{
    if [ -n "$PID" ]; then
        kill "$PID" 2> /dev/null
        wait "$PID" 2> /dev/null
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# script-diff prints "script-diff: WORKLOAD: ..." per workload, a difference's diff lines
# after its line, and errors on stderr; read through a fifo, so each line shows as it comes.
mkfifo "$DIR/out"
cd "$ROOT" || exit 1
PD_BUILD=$BUILD bash scripts/bench/script-diff.sh ratelimit/lua/track.lua module \
    > "$DIR/out" 2>&1 &
PID=$!
while IFS= read -r line; do
    case $line in
        "script-diff: "*": "*" identical") ok "${line#script-diff: }" ;;
        "script-diff: "*) notok "${line#script-diff: }" ;;
        *) echo "    $line" ;;
    esac
done < "$DIR/out"
wait "$PID"
rc=$?
PID=
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
    notok "script-diff exited $rc (output above)"
elif [ "$rc" -eq 0 ] && [ "$pass" -ne "$WORKLOADS" ]; then
    notok "script-diff compared $pass workloads, not $WORKLOADS"
fi
finish
