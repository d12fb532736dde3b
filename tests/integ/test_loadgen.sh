#!/bin/bash
# SPDX-License-Identifier: MIT
# NAME
#   test_loadgen.sh - self-test of the load generator and the ceiling server
# SYNOPSIS
#   bash tests/integ/test_loadgen.sh        (run by make integ; needs make all first)
# DESCRIPTION
#   Starts build/tools/ceiling on a free loopback port and a unix socket in a mktemp -d
#   directory and drives it with build/tools/loadgen for a couple of seconds, closed and
#   open loop: the --json report parses, errors are 0 and every reply is counted as DUNNO.
#   A small Python stub server records requests and misbehaves on demand, to check that
#   the requests carry every attribute of the Postfix 3.7 capture with per-message
#   instance/queue_id semantics and policyd_time, that the attack model looks like one,
#   and that timeouts, protocol errors, closed connections, refused connections and a
#   stalled server (coordinated omission) are reported, with --strict exiting 1.
#   Also: -n is exact, non-loopback targets are refused, SIGINT ends a run with a
#   report, the ceiling answers pipelined requests in order, survives a peer that does
#   reads slowly, and exits 0 on SIGTERM.
# DIAGNOSTICS
#   One "ok"/"not ok" line per check, then "loadgen: N passed, N failed"; exit 1 on any
#   failure. Clients run under timeout; the ceilings are stopped by SIGTERM, or by the trap (not
#   under timeout(1): its group-wide signals and ASan's exit scan can end in a SIGKILL).
# SEE ALSO
#   tests/tools/loadgen.c, tests/tools/ceiling.c, docs/LOADGEN.md

set -u
set +m
ROOT=${PD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${PD_BUILD:-$ROOT/build}
LOADGEN=$BUILD/tools/loadgen
CEILING=$BUILD/tools/ceiling

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
notok() { fail=$((fail + 1)); echo "not ok - $1"; }
check()
{
    local name=$1
    shift
    if "$@"; then ok "$name"; else notok "$name"; fi
}
finish()
{
    echo "loadgen: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

for b in "$LOADGEN" "$CEILING"; do
    [ -x "$b" ] || { notok "$b is built (make all)"; finish; }
done
command -v python3 > /dev/null || { notok "python3 is installed"; finish; }

DIR=$(mktemp -d)
PIDS=""
cleanup()
{
    local p
    for p in $PIDS; do kill "$p" 2> /dev/null; done
    wait 2> /dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT

# wait_line FILE - wait up to 10 s for FILE to hold a first line, then print it.
wait_line()
{
    local i
    for i in $(seq 100); do
        [ -s "$1" ] && { head -n 1 "$1"; return 0; }
        sleep 0.1
    done
    return 1
}

# jq_py FILE EXPR - evaluate a Python expression over the JSON object d in FILE.
jq_py()
{
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"
}

# lg ARGS... - loadgen under a time limit, its report in $DIR/out, its status in $rc.
lg()
{
    timeout -k 5 60 "$LOADGEN" "$@" > "$DIR/out" 2> "$DIR/err"
    rc=$?
}

cat > "$DIR/stub.py" << 'EOF'
# stub.py MODE CAPTURE - a policy server that records requests and misbehaves on demand.
import socket, sys, threading, time
mode, capture = sys.argv[1], sys.argv[2]
lock, out = threading.Lock(), open(capture, "a")
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
REPLIES = [b"action=DUNNO\n\n", b"action=REJECT 5.7.1 blocked\n\n",
           b"foo=bar\naction=defer_if_permit try later\n\n", b"action=HOLD\n\n"]
def serve(c, cid):
    buf, n = b"", 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        buf += d
        while b"\n\n" in buf:
            req, buf = buf.split(b"\n\n", 1)
            with lock:
                out.write("conn=%d\n%s\n\n" % (cid, req.decode()))
                out.flush()
            n += 1
            if mode == "silent":
                continue
            if mode.startswith("slow:"):
                time.sleep(float(mode[5:]) / 1000)
            reply = {"garbage": b"hello\n\n", "actions": REPLIES[n % 4]}.get(mode, b"action=DUNNO\n\n")
            c.sendall(reply)
            if mode == "close":
                c.close()
                return
    c.close()
cid = 0
while True:
    c, _ = s.accept()
    cid += 1
    threading.Thread(target=serve, args=(c, cid), daemon=True).start()
EOF

# stub MODE - start the stub, set STUB_PORT and STUB_PID; requests go to $DIR/cap.
stub()
{
    rm -f "$DIR/cap" "$DIR/stub.port"
    timeout -k 5 120 python3 "$DIR/stub.py" "$1" "$DIR/cap" > "$DIR/stub.port" 2>&1 &
    STUB_PID=$!
    PIDS="$PIDS $STUB_PID"
    STUB_PORT=$(wait_line "$DIR/stub.port")
}
stub_stop() { kill "$STUB_PID" 2> /dev/null; wait "$STUB_PID" 2> /dev/null; }

# ---- the ceiling, closed and open loop -----------------------------------------------
"$CEILING" -l 127.0.0.1:0 > "$DIR/ceiling.out" 2> "$DIR/ceiling.err" &
CEIL_PID=$!
PIDS="$PIDS $CEIL_PID"
line=$(wait_line "$DIR/ceiling.out")
PORT=${line##*:}
check "ceiling listens on a free loopback port ($line)" test -n "$PORT"
"$CEILING" -u "$DIR/policy.sock" > "$DIR/ceiling_u.out" 2>&1 &
CEILU_PID=$!
PIDS="$PIDS $CEILU_PID"
wait_line "$DIR/ceiling_u.out" > /dev/null
check "ceiling listens on a unix socket" test -S "$DIR/policy.sock"

lg -t "127.0.0.1:$PORT" -c 16 -d 2 --json --strict
check "closed loop, 16 connections, 2 s: exit 0" test "$rc" -eq 0
check "the --json report parses, errors.total == 0" \
    test "$(jq_py "$DIR/out" 'd["errors"]["total"]')" = 0
check "closed loop answers many requests ($(jq_py "$DIR/out" 'd["requests_per_s"]')/s)" \
    test "$(jq_py "$DIR/out" 'd["requests"] > 1000')" = True
check "every reply is counted as DUNNO" \
    test "$(jq_py "$DIR/out" 'd["actions"] == {"DUNNO": d["requests"]}')" = True
check "the run lasted about -d seconds" \
    test "$(jq_py "$DIR/out" '1.9 < d["duration_s"] < 2.5')" = True
check "the report has latency percentiles and its own CPU time" \
    test "$(jq_py "$DIR/out" 'sorted(d["latency_us"]) == sorted(["p50","p90","p99","p99.9","max","mean"]) and d["cpu_s"] > 0 and d["latency_us"]["p50"] <= d["latency_us"]["max"]')" = True

lg -u "$DIR/policy.sock" -c 8 -r 2000 -d 2 --json --strict
check "open loop over the unix socket at 2000/s: exit 0, no errors" \
    test "$rc" -eq 0 -a "$(jq_py "$DIR/out" 'd["errors"]["total"]')" = 0
check "open loop sends the offered rate ($(jq_py "$DIR/out" 'd["requests"]') in 2 s)" \
    test "$(jq_py "$DIR/out" 'd["mode"] == "open" and 3800 <= d["requests"] <= 4100')" = True

lg -t "127.0.0.1:$PORT" -c 8 -n 500 --json
check "-n 500 stops at exactly 500 requests" \
    test "$(jq_py "$DIR/out" 'd["requests"] == 500 and d["sent"] == 500')" = True

lg -t "127.0.0.1:$PORT" -c 2 -d 0.3
check "the text report names requests_per_s and errors" \
    grep -q "^requests_per_s .*" "$DIR/out"

timeout -k 5 30 "$LOADGEN" -t "127.0.0.1:$PORT" -c 4 -d 20 --json > "$DIR/sig" 2>&1 &
lp=$!
sleep 0.5
kill -INT "$lp"
wait "$lp"
rc=$?
check "SIGINT ends a run early with a report and exit 0" \
    test "$rc" -eq 0 -a "$(jq_py "$DIR/sig" 'd["duration_s"] < 5 and d["requests"] > 0')" = True

# ---- refusals --------------------------------------------------------------------------
for t in 192.0.2.1:25 10.0.0.1:10040 0.0.0.0:10040 example.com:25 "[2001:db8::1]:25"; do
    lg -t "$t" -d 1
    check "loadgen refuses the non-loopback target $t (exit 2)" test "$rc" -eq 2
done
timeout 10 "$CEILING" -l 192.0.2.1:10040 > /dev/null 2>&1
check "ceiling refuses a non-loopback listen address (exit 2)" test $? -eq 2
lg -t "127.0.0.1:$PORT" -c 0
check "loadgen rejects -c 0 (exit 2)" test "$rc" -eq 2

# ---- requests, as Postfix 3.7 sends them ------------------------------------------------
stub ok
lg -t "127.0.0.1:$STUB_PORT" -c 2 -n 24 --eom --time-attr --rcpt-per-msg 2:1 --json --strict
stub_stop
check "24 requests against the recording stub: exit 0" test "$rc" -eq 0
cat > "$DIR/check_reqs.py" << 'EOF'
import sys
CAPTURE = """request protocol_state protocol_name client_address client_name client_port
reverse_client_name server_address server_port helo_name sender recipient recipient_count
queue_id instance size etrn_domain stress sasl_method sasl_username sasl_sender ccert_subject
ccert_issuer ccert_fingerprint ccert_pubkey_fingerprint encryption_protocol encryption_cipher
encryption_keysize policy_context""".split() + ["policyd_time"]
reqs = []
for block in open(sys.argv[1]).read().split("\n\n"):
    lines = [l for l in block.split("\n") if l]
    if lines:
        reqs.append((lines[0], [l.split("=", 1) for l in lines[1:]]))
problems = []
def bad(msg):
    problems.append(msg)
by_conn = {}
for conn, attrs in reqs:
    names = [a[0] for a in attrs]
    if names != CAPTURE:
        bad("attribute names/order differ: %s" % names)
    by_conn.setdefault(conn, []).append(dict(attrs))
if len(reqs) != 24:
    bad("%d requests recorded" % len(reqs))
for conn, rs in by_conn.items():
    last_t = 0
    for i in range(0, len(rs) - 2, 3):
        r1, r2, eom = rs[i], rs[i + 1], rs[i + 2]
        if (r1["protocol_state"], r2["protocol_state"], eom["protocol_state"]) != ("RCPT", "RCPT", "END-OF-MESSAGE"):
            bad("states %s" % [r["protocol_state"] for r in (r1, r2, eom)])
        if r1["queue_id"] != "" or not r2["queue_id"] or eom["queue_id"] != r2["queue_id"]:
            bad("queue_id: %r %r %r" % (r1["queue_id"], r2["queue_id"], eom["queue_id"]))
        if not (r1["instance"] == r2["instance"] == eom["instance"]):
            bad("instance differs within a message")
        if i >= 3 and rs[i - 1]["instance"] == r1["instance"]:
            bad("instance repeats across messages")
        if r1["recipient_count"] != "0" or eom["recipient_count"] != "2" or eom["recipient"] != "":
            bad("recipient_count/recipient at EOM")
        if not r1["sasl_username"] or r1["sasl_username"] != r1["sender"] or r1["request"] != "smtpd_access_policy":
            bad("sender/sasl_username/request")
        if r1["sasl_username"] != eom["sasl_username"] or r1["client_address"] != r2["client_address"]:
            bad("mailbox or client changes within a message")
        for r in (r1, r2, eom):
            t = float(r["policyd_time"])
            if t < last_t:
                bad("policyd_time goes back")
            last_t = t
print("\n".join(problems[:5]) if problems else "good")
EOF
res=$(python3 "$DIR/check_reqs.py" "$DIR/cap")
check "requests carry the capture's attributes in order, RCPT,RCPT,EOM per message, queue_id empty on the first RCPT, one instance per message, policyd_time ascending ($res)" \
    test "$res" = good

stub ok
lg -t "127.0.0.1:$STUB_PORT" -c 1 -n 10 --time-attr --time-step 60 --start-time 1700000000 --rcpt-per-msg 1:1
stub_stop
times=$(grep -o '^policyd_time=.*' "$DIR/cap" | cut -d= -f2 | tr '\n' ' ')
check "--time-step 60 --start-time: policyd_time advances 60 s per request ($times)" \
    test "$(echo "$times" | cut -d' ' -f1,2,10)" = "1700000000.000000 1700000060.000000 1700000540.000000"

stub ok
lg -t "127.0.0.1:$STUB_PORT" -c 2 -n 200 --attack-share 1 --attackers 3 --mailboxes 1000
stub_stop
nsasl=$(grep '^sasl_username=' "$DIR/cap" | sort -u | wc -l)
nnew=$(grep -c '^recipient=n' "$DIR/cap")
nnet=$(grep '^client_address=' "$DIR/cap" | cut -d= -f2 | cut -d. -f1-3 | sort -u | wc -l)
check "--attack-share 1: at most 3 mailboxes ($nsasl), only new recipients ($nnew/200), many networks ($nnet)" \
    test "$nsasl" -le 3 -a "$nnew" -eq 200 -a "$nnet" -gt 20

stub ok
lg -t "127.0.0.1:$STUB_PORT" -c 2 -n 400 --mailboxes 5 --networks 1 --recipients 10 --new-share 0
stub_stop
nsasl=$(grep '^sasl_username=' "$DIR/cap" | sort -u | wc -l)
nrcpt=$(grep '^recipient=' "$DIR/cap" | sort -u | wc -l)
nnet=$(grep '^client_address=' "$DIR/cap" | cut -d= -f2 | cut -d. -f1-3 | sort -u | wc -l)
check "a small population stays small: 5 mailboxes ($nsasl), <= 50 recipients ($nrcpt), 5 networks ($nnet)" \
    test "$nsasl" -eq 5 -a "$nrcpt" -le 50 -a "$nnet" -eq 5

# ---- errors -----------------------------------------------------------------------------
stub actions
lg -t "127.0.0.1:$STUB_PORT" -c 1 -n 400 --json --strict
stub_stop
check "action words are counted per word, uppercased, extra reply attributes skipped" \
    test "$(jq_py "$DIR/out" 'd["actions"] == {"DUNNO": 100, "REJECT": 100, "DEFER_IF_PERMIT": 100, "HOLD": 100}')" = True

stub silent
lg -t "127.0.0.1:$STUB_PORT" -c 2 -d 1 --timeout 200 --json --strict
stub_stop
check "a silent server: timeouts counted, --strict exits 1" \
    test "$rc" -eq 1 -a "$(jq_py "$DIR/out" 'd["errors"]["timeout"] >= 2')" = True

stub garbage
lg -t "127.0.0.1:$STUB_PORT" -c 2 -d 0.5 --json --strict
stub_stop
check "a reply without action=: protocol errors counted, exit 1" \
    test "$rc" -eq 1 -a "$(jq_py "$DIR/out" 'd["errors"]["protocol"] >= 2 and d["requests"] == 0')" = True

stub close
lg -t "127.0.0.1:$STUB_PORT" -c 2 -d 1 --json
stub_stop
check "a server that closes after each reply: closed counted, connections re-made" \
    test "$rc" -eq 0 -a "$(jq_py "$DIR/out" 'd["errors"]["closed"] >= 2 and d["requests"] >= 4')" = True

lg -t "127.0.0.1:1" -c 2 -d 0.5 --json --strict
check "nobody listening: connect errors counted, --strict exits 1" \
    test "$rc" -eq 1 -a "$(jq_py "$DIR/out" 'd["errors"]["connect"] >= 2')" = True

stub slow:20
lg -t "127.0.0.1:$STUB_PORT" -c 1 -r 200 -d 1 --json
stub_stop
check "open loop against a 20 ms server at 200/s: late sends, backlog, latency from the intended time ($(jq_py "$DIR/out" 'd["latency_us"]["p90"]') us p90)" \
    test "$(jq_py "$DIR/out" 'd["late_sends"] > 10 and d["backlog"] > 50 and d["latency_us"]["p90"] > 200000')" = True

# ---- the ceiling itself ---------------------------------------------------------------
cat > "$DIR/pipeline.py" << 'EOF'
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
req = b"request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=a@b\n\n"
n = int(sys.argv[2])
threading.Thread(target=s.sendall, args=(req * n,), daemon=True).start()
want, got = b"action=DUNNO\n\n" * n, b""
s.settimeout(10)
while len(got) < len(want):
    d = s.recv(65536)
    if not d:
        break
    got += d
print("good" if got == want else "bad: %d of %d bytes" % (len(got), len(want)))
EOF
res=$(timeout 30 python3 "$DIR/pipeline.py" "$PORT" 1000)
check "ceiling answers 1000 pipelined requests in one write, in order ($res)" test "$res" = good
res=$(timeout 60 python3 "$DIR/pipeline.py" "$PORT" 200000)
check "ceiling answers 200000 pipelined requests while the peer is still sending ($res)" \
    test "$res" = good

kill -TERM "$CEIL_PID" "$CEILU_PID"
wait "$CEIL_PID"
rc1=$?
wait "$CEILU_PID"
rc2=$?
[ "$rc1" -eq 0 -a "$rc2" -eq 0 ] || tail -n 40 "$DIR/ceiling.err" "$DIR/ceiling_u.out" 2>/dev/null
check "ceiling exits 0 on SIGTERM, loop closed cleanly (exit $rc1/$rc2; $(tail -n 1 "$DIR/ceiling.err"))" \
    test "$rc1" -eq 0 -a "$rc2" -eq 0
check "the ceiling's unix socket is removed on exit" test ! -e "$DIR/policy.sock"
PIDS=""
finish
