#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAME
#   measure-memory.sh - Redis memory and script time per active mailbox
# SYNOPSIS
#   scripts/measure-memory.sh [MAILBOXES]        (default 10000; run from the repository root)
# DESCRIPTION
#   Starts a private redis-server (mktemp -d, a free port, a unix socket; removed on exit;
#   the Redis module build/pdtrack.so loaded when it is built, unless PD_REDIS_MODULE=0,
#   as in every private Redis of the project) and drives MAILBOXES mailboxes through
#   ratelimit/lua/track.lua with build/tools/trackcli (the daemon's own key, hash and
#   argv code), fed by a small generator:
#     - history: 30 days ago each mailbox mails its whole address book (50-200
#       correspondents, one recipient per message), then one message a day on 20 of
#       the last 28 days, so the memories and the daily ring are those of a mailbox in
#       use for a month;
#     - the measured day: 20-60 recipients in 8-25 messages between 08:00 and 18:00,
#       85 % to known correspondents (Zipf), 15 % new, from 1-3 client networks, each
#       message followed by its END-OF-MESSAGE.
#   Then it prints the sum of MEMORY USAGE over every key divided by MAILBOXES (and by
#   kind of key), used_memory_dataset per mailbox (which adds Redis' own per-key
#   overhead: dictionary and expiry entries), and INFO commandstats for EVALSHA over the
#   measured day and over one typical RCPT per mailbox (a known recipient from a known
#   network).
# DIAGNOSTICS
#   Exit 0 with the report on stdout; non-zero if a tool is missing or a step fails.
# SEE ALSO
#   docs/keys.md, tests/tools/trackcli.c
set -euo pipefail

mailboxes=${1:-10000}
build=${PD_BUILD:-build}
cli=$build/tools/trackcli
[ -x "$cli" ] || { echo "measure-memory: $cli missing (make $cli)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "measure-memory: redis-server missing" >&2; exit 1; }
command -v python3 >/dev/null || { echo "measure-memory: python3 missing" >&2; exit 1; }

. scripts/lib.sh
tmp=$(mktemp -d)
redis_pid=
cleanup()
{
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(port_pick_free)
module=()
if [ "${PD_REDIS_MODULE:-}" != 0 ] && [ -f "$build/pdtrack.so" ]; then
    module=(--loadmodule "$(cd "$build" && pwd)/pdtrack.so") # absolute, as --loadmodule wants
fi
redis-server --port "$port" --bind 127.0.0.1 --unixsocket "$tmp/redis.sock" \
    --save '' --appendonly no --dir "$tmp" "${module[@]}" >"$tmp/redis.log" 2>&1 &
redis_pid=$!
rcli() { timeout 120 redis-cli -s "$tmp/redis.sock" "$@"; }
for _ in $(seq 1 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli ping >/dev/null

# The generator: "gen.py PHASE N" prints trackcli batch lines for N mailboxes; PHASE is
# "history", "day" (the measured day) or "rcpt" (one typical RCPT each, at 18:00).
cat >"$tmp/gen.py" <<'PY'
import random, sys
phase, n = sys.argv[1], int(sys.argv[2])
DAY = 86400 * 1000
day0 = 1767225600000 + 40 * DAY             # the measured day, 00:00 UTC
out = sys.stdout

def domain(rnd, m):
    return rnd.choice(["gmail.test", "partner%d.test" % rnd.randrange(15),
                       "customer%03d.example" % (m % 500)])

for m in range(n):
    rnd = random.Random(m)
    user = "user%05d@customer%03d.example" % (m, m % 500)
    book = ["c%d.%d@%s" % (m, i, domain(rnd, m)) for i in range(rnd.randint(50, 200))]
    nets = ["10.%d.%d.%d" % (m % 250, rnd.randrange(250), rnd.randrange(250))
            for _ in range(rnd.randint(1, 3))]
    base = "user=%s" % user
    if phase == "rcpt":
        out.write("%s now=%d instance=x%d rcpt=%s client=%s\n"
                  % (base, day0 + 18 * 3600 * 1000 + m, m, book[1], nets[0]))
        continue
    if phase == "history":
        t = day0 - 30 * DAY + 8 * 3600 * 1000
        for i, c in enumerate(book):
            t += rnd.randrange(60, 300) * 1000
            out.write("%s now=%d instance=h%d.%d rcpt=%s client=%s\n" % (base, t, m, i, c, nets[0]))
        for d in sorted(rnd.sample(range(1, 29), 20), reverse=True):
            t = day0 - d * DAY + rnd.randrange(8 * 3600, 18 * 3600) * 1000
            out.write("%s now=%d instance=d%d.%d rcpt=%s client=%s\n"
                      % (base, t, m, d, book[0], nets[0]))
        continue
    rcpts = rnd.randint(20, 60)
    msgs = rnd.randint(8, min(25, rcpts))
    sizes = [1] * msgs
    for _ in range(rcpts - msgs):
        sizes[rnd.randrange(msgs)] += 1
    times = sorted(rnd.randrange(8 * 3600, 18 * 3600) for _ in range(msgs))
    weights = [1.0 / (i + 1) for i in range(len(book))]
    for k, (t, size) in enumerate(zip(times, sizes)):
        now = day0 + t * 1000
        inst = "m%d.%d" % (m, k)
        client = rnd.choice(nets)
        for j in range(size):
            if rnd.random() < 0.15:
                rcpt = "new%d.%d.%d@%s" % (m, k, j, rnd.choice(["gmail.test",
                                                               "new%d.test" % rnd.randrange(1000)]))
            else:
                rcpt = rnd.choices(book, weights)[0]
            out.write("%s now=%d instance=%s rcpt=%s client=%s\n"
                      % (base, now + j * 200, inst, rcpt, client))
        out.write("%s now=%d instance=%s state=END-OF-MESSAGE count=%d client=%s\n"
                  % (base, now + size * 200 + 1000, inst, size, client))
PY
gen() { python3 "$tmp/gen.py" "$1" "$mailboxes"; }
drive() { "$cli" -q -s "$tmp/redis.sock" -f ratelimit/lua/track.lua batch; }
evalsha_stats() { rcli info commandstats | grep '^cmdstat_evalsha:' | tr -d '\r'; }

echo "measure-memory: $mailboxes mailboxes: history ..." >&2
gen history | drive
rcli config resetstat >/dev/null
echo "measure-memory: the measured day ..." >&2
gen day | drive
day_stats=$(evalsha_stats)

# MEMORY USAGE of every key (SAMPLES 0: exact even for large hashes), by kind of key.
rcli --scan >"$tmp/keys"
awk '{print "MEMORY USAGE " $0 " SAMPLES 0"}' "$tmp/keys" | rcli >"$tmp/usage"
sed 's/.*}://' "$tmp/keys" >"$tmp/kinds"
dataset=$(rcli info memory | tr -d '\r' | sed -n 's/^used_memory_dataset:\([0-9]*\).*/\1/p')

rcli config resetstat >/dev/null
gen rcpt | drive
rcpt_stats=$(evalsha_stats)

paste "$tmp/kinds" "$tmp/usage" | awk -v n="$mailboxes" -v dataset="$dataset" '
    { sum += $2; k[$1] += $2; c[$1]++ }
    END {
        printf "keys: %d for %d mailboxes\n", NR, n
        for (s in k)
            printf "  %-4s %6d keys, %6.0f bytes per key, %6.0f bytes per mailbox\n",
                   s, c[s], k[s] / c[s], k[s] / n
        printf "MEMORY USAGE summed / mailboxes: %.0f bytes\n", sum / n
        printf "used_memory_dataset / mailboxes: %.0f bytes\n", dataset / n
    }'
echo "evalsha, measured day: $day_stats"
echo "evalsha, typical RCPT: $rcpt_stats"
