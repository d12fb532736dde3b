#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAME
#   script-diff.sh - does a rewritten track.lua, or the module, count what the old one counted?
# SYNOPSIS
#   scripts/bench/script-diff.sh OLD NEW     (from the repository root, after make all)
#   OLD and NEW: a track.lua file, or the word "module" (the Redis module's PD.TRACK)
#   e.g. git show HEAD:ratelimit/lua/track.lua > /tmp/old.lua &&
#        scripts/bench/script-diff.sh /tmp/old.lua ratelimit/lua/track.lua
#        scripts/bench/script-diff.sh ratelimit/lua/track.lua module
# DESCRIPTION
#   Runs the same requests through OLD and NEW, each in a fresh private redis-server, with
#   build/tools/trackcli (the daemon's keys, hashes and argv), and compares every reply
#   (every signal of every request) and then the whole keyspace (every key, its type, its
#   content, whether it has a TTL). Three workloads:
#     bench    30,000 requests of loadgen's model (10,000 mailboxes, END-OF-MESSAGE);
#     month    300 mailboxes of scripts/measure-memory.sh: a month of history, a working
#              day, one more RCPT each (day and ring roll-overs, the 28-day baseline);
#     mixed    2 x 20,000 requests of 40 mailboxes with random states (RCPT, DATA,
#              END-OF-MESSAGE, VRFY), final counts that disagree, small caps, tiny memory
#              limits, sender mismatches, exempt domains, clocks going back, idle days
#              and months; some mailboxes with overrides (caps, exempt, profile, raises
#              current and expired), blocks, a block record without a reference, a
#              frozen day (nl).
#   Meant for performance work on the script: a faster script must answer and store the
#   same, byte for byte (TTL lengths excepted). SCRIPT_DIFF_IGNORE="m ..." leaves those
#   hash fields out of the comparison: a field only the new script writes (a cache).
#
#   "module" runs that side with trackcli -m (PD.TRACK instead of EVALSHA) against a
#   redis-server started with --loadmodule $PD_BUILD/pdtrack.so (PD_BUILD defaults to
#   build): the native twin of track.lua must answer and store what the script does
#   (tests/integ/test_module.sh). PD_BUILD also names the trackcli used.
# DIAGNOSTICS
#   One line per workload and comparison; exit 1 at the first difference, with its diff
#   ("<" OLD, ">" NEW), or when a Redis does not start (the end of its log is shown: a
#   module that does not load); exit 2 for bad usage.
# SEE ALSO
#   scripts/bench/script-cost.sh, scripts/measure-memory.sh, tests/tools/trackcli.c,
#   tests/integ/test_module.sh, docs/BENCHMARKS.md
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: script-diff.sh OLD NEW  (a track.lua or: module)" >&2; exit 2; }
old=$1 new=$2
build=${PD_BUILD:-build}
cli=$build/tools/trackcli
[ -x "$cli" ] || { echo "script-diff: $cli missing (make all)" >&2; exit 1; }
module=
for side in "$old" "$new"; do
    if [ "$side" = module ]; then
        [ -f "$build/pdtrack.so" ] ||
            { echo "script-diff: $build/pdtrack.so missing (make all)" >&2; exit 1; }
        module=$(cd "$build" && pwd)/pdtrack.so # --loadmodule wants an absolute path
    elif [ ! -r "$side" ]; then
        echo "script-diff: cannot read $side" >&2
        exit 2
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

# --- workloads
python3 - "$tmp" << 'PY'
import itertools, random, sys
tmp = sys.argv[1]

def bench(n, t, seed):
    rnd = random.Random(seed)
    sizes = [1] * 80 + [2] * 10 + [3] * 5 + [5] * 3 + [20] * 2
    cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(50)))
    out, msg = [], 0
    while len(out) < n:
        m = rnd.randrange(10000)
        user = "user%d@dom%d.example" % (m, m % 200)
        prn = random.Random(m)
        nets = ["%d.%d.%d.%d" % (prn.randrange(1, 224), prn.randrange(256), prn.randrange(256),
                                 prn.randrange(1, 255)) for _ in range(2)]
        client, size = rnd.choice(nets), rnd.choice(sizes)
        msg += 1
        for _ in range(size):
            if rnd.random() < 0.15:
                rcpt = "n%x@x%d.example" % (rnd.getrandbits(48), rnd.randrange(1000))
            else:
                k = rnd.choices(range(50), cum_weights=cum)[0]
                rcpt = "c%d.%d@p%d.example" % (m, k, (m * 7 + k) % 300)
            out.append("user=%s now=%d instance=%X rcpt=%s client=%s" % (user, t, msg, rcpt, client))
            t += 0.04
        out.append("user=%s now=%d instance=%X state=END-OF-MESSAGE count=%d client=%s"
                   % (user, t, msg, size, client))
        t += 0.04
    return out

def mixed(n, seed):
    rnd = random.Random(seed)
    users = ["fz%d@d%d.example" % (i, i % 5) for i in range(40)]
    t, msgs, out = 1795430000000, {}, []
    for _ in range(n):
        r = rnd.random()
        if r < 0.002: t += rnd.randrange(86400000, 40 * 86400000)
        elif r < 0.02: t += rnd.randrange(3600000, 86400000)
        elif r < 0.10: t += rnd.randrange(60000, 1800000)
        elif r < 0.11: t -= rnd.randrange(0, 600000)
        else: t += rnd.randrange(0, 5000)
        u = rnd.choice(users)
        m = msgs.setdefault(u, [0])
        if rnd.random() < 0.3: m[0] += 1
        inst = "I%s.%d" % (u[:4], m[0] - rnd.choice([0, 0, 0, 1, 2]))
        st = rnd.choices(["RCPT", "DATA", "END-OF-MESSAGE", "VRFY"], [70, 10, 15, 5])[0]
        line = "user=%s now=%d instance=%s state=%s" % (u, t, inst, st)
        if rnd.random() < 0.95: line += " rcpt=r%d@t%d.example" % (rnd.randrange(30), rnd.randrange(6))
        if rnd.random() < 0.97: line += " client=10.%d.%d.9" % (rnd.randrange(3), rnd.randrange(4))
        if st != "RCPT": line += " count=%d" % rnd.randrange(0, 8)
        if rnd.random() < 0.5:
            line += " lim_rcpt_hour=%d lim_rcpt_day=%d lim_msg_hour=%d lim_msg_day=%d src=%d" % (
                rnd.choice([0, 10, 30, 500]), rnd.choice([0, 50, 2000]), rnd.choice([0, 5, 200]),
                rnd.choice([0, 20, 1000]), rnd.choice([0, 1]))
        if rnd.random() < 0.1: line += " mismatch=1"
        if rnd.random() < 0.05: line += " dom_exempt=1"
        if rnd.random() < 0.05: line += " nets_max=2 rcpt_max=10 dom_max=3"
        out.append(line)
    return out

open(tmp + "/bench.txt", "w").write("\n".join(bench(30000, 1795430000000, 7)) + "\n")
open(tmp + "/mixed1.txt", "w").write("\n".join(mixed(20000, 1)) + "\n")
open(tmp + "/mixed2.txt", "w").write("\n".join(mixed(20000, 2)) + "\n")
PY
sed -n '/^cat >"\$tmp\/gen.py" <<.PY.$/,/^PY$/p' scripts/measure-memory.sh | sed '1d;$d' > "$tmp/mm.py"
for phase in history day rcpt; do python3 "$tmp/mm.py" "$phase" 300; done > "$tmp/month.txt"
{
    for i in 3 7 11; do
        echo "HSET $("$cli" key "fz$i@d$((i % 5)).example" ovr) lim_rcpt_hour 4 lim_msg_day 9"
    done
    echo "HSET $("$cli" key fz13@d3.example ovr) exempt 1 profile bulk"
    echo "HSET $("$cli" key fz17@d2.example ovr) raise_until 1795500000 raise_rcpt_hour 99 lim_rcpt_day 7"
    echo "HSET $("$cli" key fz19@d4.example ovr) raise_until 1 raise_rcpt_hour 99"
    for i in 5 23; do
        echo "HSET $("$cli" key "fz$i@d$((i % 5)).example" blk) ref PD-$i reason test created 1795430000"
    done
    echo "HSET $("$cli" key fz29@d4.example blk) refused 3"
    echo "HSET $("$cli" key fz31@d1.example st) nl 20780"
} > "$tmp/setup.txt"
: > "$tmp/none.txt"

# run SCRIPT WORKLOAD SETUP OUT: replies to OUT.replies, the keyspace to OUT.keys;
# SCRIPT "module": PD.TRACK of the module instead
run()
{
    local d=$tmp/redis load=() how=(-f "$1")
    if [ "$1" = module ]; then
        load=(--loadmodule "$module") how=(-m)
    fi
    rm -rf "$d" && mkdir -p "$d"
    redis-server --port 0 --unixsocket "$d/r.sock" --save '' --appendonly no --dir "$d" \
        --logfile "$d/log" "${load[@]}" > /dev/null &
    rpid=$!
    for _ in $(seq 1 100); do
        redis-cli -s "$d/r.sock" ping 2> /dev/null | grep -q PONG && break
        kill -0 "$rpid" 2> /dev/null || break
        sleep 0.05
    done
    if ! redis-cli -s "$d/r.sock" ping 2> /dev/null | grep -q PONG; then
        echo "script-diff: redis-server ($1) did not start; the end of its log:" >&2
        tail -n 5 "$d/log" >&2
        exit 1
    fi
    redis-cli -s "$d/r.sock" < "$3" > /dev/null
    "$cli" -s "$d/r.sock" "${how[@]}" batch < "$2" > "$4.replies" ||
        { echo "script-diff: $(basename "$2" .txt): trackcli failed with $1 (above)"; exit 1; }
    # shellcheck disable=SC2086
    redis-cli -s "$d/r.sock" --raw EVAL "local out, skip = {}, {}
for _, f in ipairs(ARGV) do skip[f] = true end
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t, v = redis.call('TYPE', k).ok, '?'
  if t == 'string' then v = redis.call('GET', k)
  elseif t == 'hash' then
    local f, p = redis.call('HGETALL', k), {}
    for i = 1, #f, 2 do if not skip[f[i]] then p[#p + 1] = f[i] .. '=' .. f[i + 1] end end
    table.sort(p); v = table.concat(p, ',')
  elseif t == 'list' then v = table.concat(redis.call('LRANGE', k, 0, -1), ',')
  elseif t == 'zset' then v = table.concat(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), ',') end
  local ttl = redis.call('PTTL', k) > 0 and 'ttl' or 'nottl'
  out[#out + 1] = k .. ' ' .. t .. ' ' .. ttl .. ' ' ..
    string.gsub(v, '[^%w%p ]', function(c) return string.format('%%%02x', c:byte()) end)
end
table.sort(out)
return out" 0 ${SCRIPT_DIFF_IGNORE:-} > "$4.keys"
    kill "$rpid"
    wait "$rpid" 2> /dev/null || true
    rpid=
}

for w in bench:none month:none mixed1:setup mixed2:setup; do
    name=${w%%:*} setup=$tmp/${w#*:}.txt
    run "$old" "$tmp/$name.txt" "$setup" "$tmp/old"
    run "$new" "$tmp/$name.txt" "$setup" "$tmp/new"
    n=$(wc -l < "$tmp/$name.txt")
    if ! cmp -s "$tmp/old.replies" "$tmp/new.replies"; then
        echo "script-diff: $name: replies differ ($n requests)"
        # a reply is one line per signal and an empty line: name the first request that differs
        first=$(diff "$tmp/old.replies" "$tmp/new.replies" | sed -n '1s/^\([0-9]*\).*/\1/p' ||
            true)
        per=$(awk 'NF == 0 { print NR; exit }' "$tmp/old.replies" "$tmp/new.replies")
        req=$(((first - 1) / per + 1))
        echo "the first is request $req: $(sed -n "${req}p" "$tmp/$name.txt")"
        diff "$tmp/old.replies" "$tmp/new.replies" | head -20
        exit 1
    fi
    if ! cmp -s "$tmp/old.keys" "$tmp/new.keys"; then
        echo "script-diff: $name: the stored keys differ"
        diff "$tmp/old.keys" "$tmp/new.keys" | head -6 | cut -c1-300
        exit 1
    fi
    echo "script-diff: $name: $n requests, every reply and all $(wc -l < "$tmp/new.keys") keys identical"
done
