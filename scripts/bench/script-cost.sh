#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAME
#   script-cost.sh - what one track.lua call costs Redis, measured so that load cannot blur it
# SYNOPSIS
#   scripts/bench/script-cost.sh [SCRIPT...]      (default ratelimit/lua/track.lua; from the
#                                                 repository root, after make all)
#   SCRIPT: a track.lua file, or the word "module" (the Redis module's PD.TRACK), e.g.
#   scripts/bench/script-cost.sh ratelimit/lua/track.lua module
# DESCRIPTION
#   For each SCRIPT: a private redis-server (mktemp -d, unix socket, no persistence) is
#   brought to a warm state by build/tools/trackcli (the daemon's own keys, hashes and
#   argv) with 300,000 requests of loadgen's traffic model (10,000 mailboxes, address
#   books of 50 with Zipf 1 choice, 15 % new recipients, 2 networks each, 1-20
#   recipients per message, each message closed by END-OF-MESSAGE; 25,000 requests/s of
#   simulated time), and saved. Then that state is loaded into a redis-server under
#   valgrind --tool=callgrind, and 10,000 more requests of the same model are counted:
#   the instructions Redis executes per EVALSHA (everything: reading the command,
#   the script, its redis.call()s, the reply), or per PD.TRACK for "module".
#   Instruction counts do not change with the load other users put on the machine,
#   unlike time (this machine has no hardware performance counters, and 2 shared
#   cores). The same requests in a plain redis-server give INFO commandstats
#   usec_per_call and the server's CPU time per call, for scale.
#
#   Scripts whose state layout differs still compare fairly: each warms its own state.
#   SCRIPT_COST_REQUESTS (10000) and SCRIPT_COST_WARM (300000) change the sizes.
#
#   "module" is measured the same way, with trackcli -m (PD.TRACK 6 KEYS ARGV, the
#   script's argv without EVALSHA and its SHA) against redis-servers started with
#   --loadmodule $PD_BUILD/pdtrack.so (PD_BUILD defaults to build; it also names the
#   trackcli used), so its line reads beside the scripts'. The Redis of a script never
#   loads the module.
# DIAGNOSTICS
#   One line per script (or module); exit 1 when a tool, a SCRIPT or the module is missing
#   or a Redis does not start (the end of its log is shown).
# SEE ALSO
#   docs/BENCHMARKS.md, tests/tools/trackcli.c, callgrind_annotate(1)
set -euo pipefail

build=${PD_BUILD:-build}
cli=$build/tools/trackcli
for t in "$cli" redis-server redis-cli valgrind callgrind_control python3; do
    command -v "$t" > /dev/null || [ -x "$t" ] || { echo "script-cost: $t missing" >&2; exit 1; }
done
[ $# -gt 0 ] || set -- ratelimit/lua/track.lua
module=
for script in "$@"; do
    if [ "$script" = module ]; then
        [ -f "$build/pdtrack.so" ] ||
            { echo "script-cost: $build/pdtrack.so missing (make all)" >&2; exit 1; }
        module=$(cd "$build" && pwd)/pdtrack.so # --loadmodule wants an absolute path
    elif [ ! -r "$script" ]; then
        echo "script-cost: cannot read $script" >&2
        exit 1
    fi
done
tmp=$(mktemp -d)
rpid=
cleanup()
{
    [ -n "$rpid" ] && kill "$rpid" 2> /dev/null && wait "$rpid" 2> /dev/null
    rm -rf "$tmp"
    return 0
}
trap cleanup EXIT

# gen.py N T0 SEED: N requests of loadgen's model, simulated clock from T0 (ms)
cat > "$tmp/gen.py" << 'PY'
import itertools, random, sys
n_req, t, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
sizes = [1] * 80 + [2] * 10 + [3] * 5 + [5] * 3 + [20] * 2
cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(50)))
out, n, msg = [], 0, 0
while n < n_req:
    m = rnd.randrange(10000)
    user = "user%d@dom%d.example" % (m, m % 200)
    prn = random.Random(m)
    nets = ["%d.%d.%d.%d" % (prn.randrange(1, 224), prn.randrange(256), prn.randrange(256),
                             prn.randrange(1, 255)) for _ in range(2)]
    client, size = rnd.choice(nets), rnd.choice(sizes)
    msg += 1
    inst = "%X.%X" % (seed, msg)
    for _ in range(size):
        if rnd.random() < 0.15:
            rcpt = "n%x@x%d.example" % (rnd.getrandbits(48), rnd.randrange(1000))
        else:
            k = rnd.choices(range(50), cum_weights=cum)[0]
            rcpt = "c%d.%d@p%d.example" % (m, k, (m * 7 + k) % 300)
        out.append("user=%s now=%d instance=%s rcpt=%s client=%s" % (user, t, inst, rcpt, client))
        t += 0.04
        n += 1
    out.append("user=%s now=%d instance=%s state=END-OF-MESSAGE count=%d client=%s"
               % (user, t, inst, size, client))
    t += 0.04
    n += 1
print("\n".join(out))
PY
warm=${SCRIPT_COST_WARM:-300000}
reqs=${SCRIPT_COST_REQUESTS:-10000}
python3 "$tmp/gen.py" "$warm" 1795430000000 1 > "$tmp/warm.txt"
python3 "$tmp/gen.py" "$reqs" $((1795430000000 + warm * 40 / 1000)) 2 > "$tmp/meas.txt"

# redis_start DIR [PREFIX...]: a redis-server on DIR/r.sock loading DIR/dump.rdb, and the
# module when the current script is "module" (load, set by the loop below)
redis_start()
{
    local d=$1
    shift
    "$@" redis-server --port 0 --unixsocket "$d/r.sock" --save '' --appendonly no --dir "$d" \
        --dbfilename dump.rdb --logfile "$d/redis.log" "${load[@]}" > /dev/null \
        2> "$d/valgrind.log" &
    rpid=$!
    for _ in $(seq 1 600); do
        redis-cli -s "$d/r.sock" ping 2> /dev/null | grep -q PONG && return 0
        kill -0 "$rpid" 2> /dev/null || break
        sleep 0.1
    done
    echo "script-cost: redis-server did not start; the end of its log:" >&2
    tail -n 5 "$d/redis.log" >&2
    exit 1
}
redis_stop()
{
    redis-cli -s "$1/r.sock" shutdown nosave > /dev/null 2>&1 || true
    wait "$rpid" 2> /dev/null || true
    rpid=
}

for script in "$@"; do
    d=$tmp/run
    # how: trackcli's options for this script; cmd: its name in INFO commandstats
    load=() how=(-f "$script") cmd=evalsha
    if [ "$script" = module ]; then
        load=(--loadmodule "$module") how=(-m) cmd='pd\.track'
    fi
    rm -rf "$d" && mkdir -p "$d"
    redis_start "$d"
    "$cli" -q -s "$d/r.sock" "${how[@]}" batch < "$tmp/warm.txt"
    redis-cli -s "$d/r.sock" save > /dev/null
    cp "$d/dump.rdb" "$tmp/warm.rdb"
    # time, for scale (blurred by whatever else runs)
    redis-cli -s "$d/r.sock" config resetstat > /dev/null
    c0=$(awk '{print $14 + $15}' "/proc/$rpid/stat")
    "$cli" -q -s "$d/r.sock" "${how[@]}" batch < "$tmp/meas.txt"
    c1=$(awk '{print $14 + $15}' "/proc/$rpid/stat")
    usec=$(redis-cli -s "$d/r.sock" info commandstats | tr -d '\r' |
        sed -n "s/^cmdstat_$cmd:.*usec_per_call=\\([0-9.]*\\).*/\\1/p")
    redis_stop "$d"
    # instructions, under callgrind, from the same warm state
    rm -rf "$d" && mkdir -p "$d" && cp "$tmp/warm.rdb" "$d/dump.rdb"
    redis_start "$d" valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$d/callgrind.out"
    head -200 "$tmp/meas.txt" | "$cli" -q -s "$d/r.sock" "${how[@]}" batch # load, warm up
    callgrind_control -i on "$rpid" > /dev/null 2>&1
    "$cli" -q -s "$d/r.sock" "${how[@]}" batch < "$tmp/meas.txt"
    callgrind_control -i off "$rpid" > /dev/null 2>&1
    redis_stop "$d"
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$d/valgrind.log")
    python3 -c "import sys; n, ir, t, us = map(float, sys.argv[2:]); print(
        '%s: %.0f instructions per call; %.1f us per call (INFO commandstats), %.1f us of '
        'redis CPU per call' % (sys.argv[1], ir / n, us, t * 1e6 / $(getconf CLK_TCK) / n))" \
        "$script" "$(wc -l < "$tmp/meas.txt")" "$ir" "$((c1 - c0))" "$usec"
done
