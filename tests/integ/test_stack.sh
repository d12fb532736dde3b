#!/bin/bash
# SPDX-License-Identifier: MIT
# NAME
#   test_stack.sh - self-test of scripts/stack.sh: real Redis, slapd, smtp-sink, Postfix
# SYNOPSIS
#   bash tests/integ/test_stack.sh        (as root; run by make integ)
# DESCRIPTION
#   Brings a stack up in a mktemp -d directory, with a tiny socat + bash policy server
#   standing in for policyd on POLICY_PORT (it logs each request and answers the
#   action in its action file, DUNNO by default). Then checks: mail submitted with AUTH
#   reaches the sink and the policy server saw sasl_username; wrong passwords, relaying
#   without AUTH, REJECT verdicts and a dead policy server fail as Postfix documents;
#   XCLIENT sets client_address; cn=policyd reads pwdChangedTime and pwdLastSet but no
#   password and cannot write; stack.sh passwd moves both and switches SMTP AUTH to the
#   new password; up is idempotent and restarts only a dead component, keeping data;
#   down leaves no process (checked by pid and by cwd) and frees every port.
# DIAGNOSTICS
#   One "ok"/"not ok" line per check, then "stack: N passed, N failed"; exit 1 on any
#   failure. Every client runs under timeout; a trap tears everything down.
# SEE ALSO
#   scripts/stack.sh, scripts/lib.sh

set -u
set +m
ROOT=${PD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STACK_SH=$ROOT/scripts/stack.sh
. "$ROOT/scripts/lib.sh"

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
    echo "stack: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

for b in socat swaks ldapsearch redis-cli postfix smtp-sink slapd; do
    if ! command -v "$b" > /dev/null; then
        notok "tool $b is installed (scripts/install-deps.sh --test)"
        finish
    fi
done
[ "$(id -u)" -eq 0 ] || { notok "running as root (Postfix and smtp-sink need it)"; finish; }

# The caller's environment must not force ports from some other stack.
unset STACK REDIS_PORT LDAP_PORT SINK_PORT SUBMIT_PORT POLICY_PORT POLICY_DEFAULT_ACTION \
    POLICY_EOD POLICY_CONTEXT POLICY_TIMEOUT STACK_USERS

DIR=$(mktemp -d)
STUB_PID=""
cleanup()
{
    stub_stop
    timeout 60 bash "$STACK_SH" down "$DIR" > /dev/null 2>&1
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now_us() { local t=${EPOCHREALTIME//[.,]/}; echo "$t"; }
secs_since()
{
    local us=$(($(now_us) - $1))
    printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# ------------------------------------------------------------------ policy stub

STUB=$DIR/stub
mkdir -p "$STUB"
cat > "$STUB/stub.sh" <<'EOF'
#!/bin/bash
# One policy connection: log each request, answer the action file's text or DUNNO.
while IFS= read -r line; do
    line=${line%$'\r'}
    if [ -n "$line" ]; then echo "$line" >> "$1"; continue; fi
    act=DUNNO
    [ -s "$2" ] && act=$(< "$2")
    echo "--" >> "$1"
    printf 'action=%s\n\n' "$act"
done
EOF
chmod 755 "$STUB/stub.sh"
: > "$STUB/requests"

stub_start()
{
    # socat forks one child per connection; setsid puts them all in one process group.
    (fds_close; exec setsid socat "TCP-LISTEN:$POLICY_PORT,bind=127.0.0.1,reuseaddr,fork" \
        EXEC:"$STUB/stub.sh $STUB/requests $STUB/action") < /dev/null >> "$STUB/socat.log" 2>&1 &
    STUB_PID=$!
    wait_until 5 port_listening "$POLICY_PORT"
}

stub_stop()
{
    [ -n "$STUB_PID" ] || return 0
    if proc_is "$STUB_PID" socat; then
        kill -TERM -- "-$STUB_PID" 2> /dev/null
        wait "$STUB_PID" 2> /dev/null
    fi
    STUB_PID=""
}

# ------------------------------------------------------------------ helpers

load_env() { set -a; . "$DIR/stack.env"; set +a; }

# send USER PASSWORD [swaks options...] - print swaks' transcript.
send()
{
    local user=$1 pw=$2
    shift 2
    timeout 30 swaks --server 127.0.0.1 --port "$SUBMIT_PORT" --timeout 20 \
        --auth PLAIN --auth-user "$user@example.com" --auth-password "$pw" \
        --from "$user@example.com" "$@" 2>&1
}

quiet() { "$@" > /dev/null 2>&1; }
has() { grep -q -- "$2" <<< "$1"; }

ldap_attr()
{
    timeout 10 ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAP_URI" -D "$LDAP_BIND_DN" \
        -w "$LDAP_BIND_PW" -b "$LDAP_PEOPLE" "(uid=$1)" "$2" 2>/dev/null |
        sed -n "s/^$2: //p"
}

sink_has() { grep -rqs -- "$1" "$SINK_DIR"; }
pids_of_stack() { cat "$DIR"/run/*.pid 2>/dev/null | awk '{print $1}' | sort | tr '\n' ' '; }

# ------------------------------------------------------------------ up

t0=$(now_us)
out=$(timeout 60 bash "$STACK_SH" up "$DIR" 2>&1)
rc=$?
echo "# up: $(secs_since "$t0") s"
sed 's/^/# /' <<< "$out"
check "up exits 0" test $rc -eq 0
[ $rc -eq 0 ] || { echo "$out"; finish; }
load_env
missing=""
for v in STACK_DIR STACK REDIS_PORT REDIS_SOCK LDAP_PORT LDAP_URI LDAP_BASE LDAP_PEOPLE \
    LDAP_ADMIN_DN LDAP_ADMIN_PW LDAP_BIND_DN LDAP_BIND_PW SINK_PORT SINK_DIR SUBMIT_PORT \
    POSTFIX_CONF POSTFIX_QUEUE MAILLOG SASLDB POLICY_PORT LOG_DIR; do
    [ -n "${!v:-}" ] || missing="$missing $v"
done
check "stack.env has every variable${missing:+ (missing:$missing)}" test -z "$missing"
check "env prints stack.env" cmp -s <(bash "$STACK_SH" env "$DIR") "$DIR/stack.env"
check "STACK lists all four components" test "$STACK" = "redis slapd sink postfix"
ports="$REDIS_PORT $LDAP_PORT $SINK_PORT $SUBMIT_PORT $POLICY_PORT"
check "five distinct ports" test "$(tr ' ' '\n' <<< "$ports" | sort -u | wc -l)" -eq 5
all_listen()
{
    local p
    for p in $REDIS_PORT $LDAP_PORT $SINK_PORT $SUBMIT_PORT; do
        port_listening "$p" || return 1
    done
}
check "redis, slapd, sink and postfix listen" all_listen
check "status exits 0" quiet bash "$STACK_SH" status "$DIR"
pids1=$(pids_of_stack)
t1=$(now_us)
bash "$STACK_SH" up "$DIR" > /dev/null 2>&1
rc=$?
echo "# up on a running stack: $(secs_since "$t1") s"
check "second up is a no-op (same pids)" test $rc -eq 0 -a "$(pids_of_stack)" = "$pids1"

stub_start
check "policy stub listens on POLICY_PORT" port_listening "$POLICY_PORT"

# ------------------------------------------------------------------ redis

check "redis PING over the unix socket" test "$(timeout 5 redis-cli -s "$REDIS_SOCK" ping)" = PONG
check "redis PING over TCP" test "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping)" = PONG
check "redis has appendonly on" \
    test "$(timeout 5 redis-cli -s "$REDIS_SOCK" config get appendonly | tail -n 1)" = yes

# ------------------------------------------------------------------ ldap

for u in alice bob carol; do
    check "cn=policyd reads $u's pwdChangedTime" \
        grep -Eq '^[0-9]{14}Z$' <<< "$(ldap_attr $u pwdChangedTime)"
    check "cn=policyd reads $u's pwdLastSet" \
        grep -Eq '^1[0-9]{17}$' <<< "$(ldap_attr $u pwdLastSet)"
done
check "cn=policyd reads no userPassword" test -z "$(ldap_attr alice userPassword)"
check "cn=policyd finds users by mail" test "$(timeout 10 ldapsearch -x -LLL -H "$LDAP_URI" \
    -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PW" -b "$LDAP_BASE" '(mail=carol@example.com)' uid |
    sed -n 's/^uid: //p')" = carol
anon=$(timeout 10 ldapsearch -x -LLL -H "$LDAP_URI" -b "$LDAP_BASE" '(uid=alice)' dn 2>&1)
check "anonymous search sees nothing" test -z "$(grep '^dn:' <<< "$anon")"
printf 'dn: uid=carol,%s\nchangetype: modify\nreplace: mail\nmail: x@example.com\n' \
    "$LDAP_PEOPLE" | timeout 10 ldapmodify -x -H "$LDAP_URI" -D "$LDAP_BIND_DN" \
    -w "$LDAP_BIND_PW" > /dev/null 2>&1
check "cn=policyd cannot write" test $? -eq 50

# ------------------------------------------------------------------ mail

token="stack-test-$$-$RANDOM"
out=$(send alice alicepw --to rcpt@example.org --header "Subject: $token")
check "AUTH as alice is accepted" has "$out" '^<-  235 '
check "the message is queued" has "$out" '^<-  250 2.0.0 Ok: queued'
check "the message arrives in the sink" wait_until 10 sink_has "$token"
f=$(grep -rls -- "$token" "$SINK_DIR" | head -n 1)
check "the sink file has the envelope" grep -q 'X-Rcpt-Args: <rcpt@example.org>' "${f:-/dev/null}"
check "the sink file has Postfix's Received: with ESMTPA" grep -q 'with ESMTPA id' "${f:-/dev/null}"
check "the policy server saw sasl_username=alice@example.com" \
    grep -qx 'sasl_username=alice@example.com' "$STUB/requests"
check "the policy server saw protocol_state=RCPT" grep -qx 'protocol_state=RCPT' "$STUB/requests"

out=$(send alice wrongpw --to rcpt@example.org)
check "a wrong password gets 535" has "$out" '^<\*\* *535 '
out=$(timeout 30 swaks --server 127.0.0.1 --port "$SUBMIT_PORT" --timeout 20 \
    --from x@example.com --to rcpt@example.org 2>&1)
check "relaying without AUTH gets 554 Relay access denied" \
    has "$out" '554 5.7.1 .*Relay access denied'

: > "$STUB/requests"
out=$(send bob bobpw --to rcpt@example.org --xclient-addr 192.0.2.7)
check "XCLIENT ADDR sets client_address" grep -qx 'client_address=192.0.2.7' "$STUB/requests"

echo 'REJECT 5.7.1 rate limit exceeded' > "$STUB/action"
out=$(send carol carolpw --to rcpt@example.org)
check "a REJECT verdict gives 554 at RCPT" has "$out" '554 5.7.1 .*rate limit exceeded'
rm -f "$STUB/action"

# ------------------------------------------------------------------ passwd

pct0=$(ldap_attr alice pwdChangedTime)
pls0=$(ldap_attr alice pwdLastSet)
sleep 1.1   # pwdChangedTime has a resolution of one second
check "passwd alice (as admin) exits 0" quiet bash "$STACK_SH" passwd "$DIR" alice alice2pw
pct1=$(ldap_attr alice pwdChangedTime)
pls1=$(ldap_attr alice pwdLastSet)
check "passwd moves pwdChangedTime ($pct0 -> $pct1)" test -n "$pct1" -a "$pct1" != "$pct0"
check "passwd raises pwdLastSet" test -n "$pls1" -a "${pls1:-0}" -gt "${pls0:-0}"
out=$(send alice alicepw --to rcpt@example.org --quit-after AUTH)
check "the old password now gets 535" has "$out" '^<\*\* *535 '
out=$(send alice alice2pw --to rcpt@example.org --quit-after AUTH)
check "the new password gets 235" has "$out" '^<-  235 '
pct0=$(ldap_attr bob pwdChangedTime)
check "passwd bob --as-user exits 0" \
    quiet bash "$STACK_SH" passwd "$DIR" bob bob2pw --as-user
check "a user's own change moves pwdChangedTime" test "$(ldap_attr bob pwdChangedTime)" != "$pct0"

# ------------------------------------------------------------------ restart one component

timeout 5 redis-cli -s "$REDIS_SOCK" set stack:test kept > /dev/null
rpid=$(daemon_pid "$DIR/run/redis.pid")
daemon_stop "$DIR/run/redis.pid" 10
bash "$STACK_SH" status "$DIR" > /dev/null
check "status exits 1 with redis down" test $? -eq 1
others=$(pids_of_stack)
bash "$STACK_SH" up "$DIR" > /dev/null 2>&1
check "up restarts redis" test "$(daemon_pid "$DIR/run/redis.pid")" != "$rpid"
check "up keeps redis on its port" \
    test "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping)" = PONG
check "up leaves the others alone" test "$(pids_of_stack | tr ' ' '\n' |
    grep -vx "$(daemon_pid "$DIR/run/redis.pid")" | tr '\n' ' ')" = "$others"
check "redis kept its data (AOF)" \
    test "$(timeout 5 redis-cli -s "$REDIS_SOCK" get stack:test)" = kept

stub_stop
out=$(send carol carolpw --to rcpt@example.org)
check "a dead policy server gives Postfix's 451 4.3.5" \
    has "$out" '451 4.3.5 .*Server configuration problem'

# ------------------------------------------------------------------ down

down_and_check()
{
    local pids p left="" t
    pids=$(pids_of_stack)
    t=$(now_us)
    bash "$STACK_SH" down "$DIR" > /dev/null 2>&1
    check "down$1 exits 0" test $? -eq 0
    echo "# down$1: $(secs_since "$t") s"
    for p in $pids; do proc_alive "$p" && left="$left $p"; done
    check "down$1 leaves none of the recorded pids${left:+ (left:$left)}" test -z "$left"
    left=$(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$DIR*" 2>/dev/null |
        while read -r c; do p=${c#/proc/}; p=${p%/cwd}; proc_alive "$p" && echo "$p"; done)
    check "down$1 leaves no process inside DIR${left:+ (left: $left)}" test -z "$left"
    left=""
    for p in $REDIS_PORT $LDAP_PORT $SINK_PORT $SUBMIT_PORT; do
        port_listening "$p" && left="$left $p"
    done
    check "down$1 frees every port${left:+ (busy:$left)}" test -z "$left"
    bash "$STACK_SH" status "$DIR" > /dev/null
    check "status$1 exits 1" test $? -eq 1
}
down_and_check ""

# ------------------------------------------------------------------ up again on the same DIR

t0=$(now_us)
bash "$STACK_SH" up "$DIR" > /dev/null 2>&1
check "up after down exits 0" test $? -eq 0
echo "# up after down: $(secs_since "$t0") s"
load_env
check "up after down reuses the ports" \
    test "$REDIS_PORT $LDAP_PORT $SINK_PORT $SUBMIT_PORT $POLICY_PORT" = "$ports"
check "LDAP is not populated again" test "$(ldap_attr alice pwdChangedTime)" = "$pct1"
out=$(send alice alice2pw --to rcpt@example.org --quit-after AUTH)
check "sasldb2 kept the changed password" has "$out" '^<-  235 '
down_and_check " (second)"

finish
