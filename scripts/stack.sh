#!/bin/bash
# Many variables are read by name (env_line, ${!var}):
# shellcheck disable=SC2034
# SPDX-License-Identifier: MIT
# NAME
#   stack.sh - private Redis, slapd, smtp-sink and Postfix on loopback, for tests and make run
# SYNOPSIS
#   scripts/stack.sh up DIR                    start what STACK names (idempotent)
#   scripts/stack.sh down DIR                  stop exactly what up started
#   scripts/stack.sh status DIR                one line per component; exit 1 if one is down
#   scripts/stack.sh env DIR                   print DIR/stack.env
#   scripts/stack.sh passwd DIR USER NEWPW [--as-user]
#                                              change a test user's password everywhere
# DESCRIPTION
#   Everything lives under DIR: configs, data, sockets, pid files (DIR/run) and logs
#   (DIR/log). Nothing is written to /etc. Every daemon runs in its own session with
#   stdin from /dev/null and its output in DIR/log, so a caller capturing our output
#   returns as soon as up exits.
#
#   Components (STACK, default "redis slapd sink postfix"):
#     redis    redis-server, appendonly, TCP on 127.0.0.1:REDIS_PORT and REDIS_SOCK; it
#              loads the Redis module $PD_BUILD/pdtrack.so (default build/) when that is
#              built, unless PD_REDIS_MODULE=0
#     slapd    OpenLDAP with back_mdb and ppolicy, suffix dc=example,dc=com, on LDAP_URI;
#              rootdn cn=admin / secret; read-only cn=policyd,ou=services / policydpw;
#              users uid=<u>,ou=people (objectClass adEmulatedUser, pwdLastSet set)
#     sink     smtp-sink on SINK_PORT, one file per message under SINK_DIR
#     postfix  its own instance (config POSTFIX_CONF), submission with Cyrus SASL
#              (sasldb2) on SUBMIT_PORT, relaying everything to the sink, asking the
#              policy service on 127.0.0.1:POLICY_PORT at RCPT (and at END-OF-MESSAGE
#              with POLICY_EOD=1)
#   Test users: STACK_USERS (default "alice bob carol"), mail <u>@example.com, password
#   <u>pw, in LDAP and in sasldb2. DIR/users holds the current passwords.
#
#   Ports are picked free at up time (20000-31999) and recorded in DIR/stack.env, which
#   later runs reuse. A caller may force any of them through the environment:
#   REDIS_PORT, LDAP_PORT, SINK_PORT, SUBMIT_PORT, POLICY_PORT. Nothing listens on
#   POLICY_PORT: that is where the caller runs its policy server. Do not run up for one
#   DIR with another stack's stack.env in the environment: its ports count as forced.
#
#   Postfix settings from the environment (recorded too; up on a running stack rewrites
#   main.cf and reloads Postfix when they change):
#     POLICY_TIMEOUT         policy service timeout (default 10s)
#     POLICY_DEFAULT_ACTION  action when the policy service fails; empty (the default)
#                            keeps Postfix's "451 4.3.5 Server configuration problem"
#     POLICY_EOD=1           also ask the policy service at END-OF-MESSAGE
#     POLICY_CONTEXT         policy_context attribute sent with each request
#     POSTFIX_MAIN_EXTRA     lines appended to main.cf;  REDIS_EXTRA: lines for redis.conf
#   XCLIENT is allowed from 127.0.0.0/8, so tests can set client_address.
#
#   up is idempotent: running components are left alone; dead ones are restarted on
#   their recorded ports with their data kept (LDAP is populated once, sasldb2 and
#   the queue and the AOF are kept). down signals only the recorded pids after checking
#   that each is still the program that up started, then sweeps Postfix's children by
#   their cwd (the queue directory) and executable.
#
#   stack.env (shell-sourceable NAME=value lines): STACK_DIR STACK STACK_USERS
#   STACK_DOMAIN LOG_DIR; REDIS_PORT REDIS_SOCK; LDAP_PORT LDAP_URI LDAP_BASE LDAP_PEOPLE
#   LDAP_ADMIN_DN LDAP_ADMIN_PW LDAP_BIND_DN LDAP_BIND_PW; SINK_PORT SINK_DIR;
#   SUBMIT_PORT POSTFIX_CONF POSTFIX_QUEUE MAILLOG SASLDB POLICY_PORT POLICY_TIMEOUT
#   POLICY_DEFAULT_ACTION POLICY_EOD POLICY_CONTEXT. Use: set -a; . DIR/stack.env; set +a
# DIAGNOSTICS
#   Exit 0 on success; 1 with "stack: ..." on stderr otherwise (a failed up leaves the
#   components it did start running: call down). Postfix and the sink need root.
# SEE ALSO
#   scripts/lib.sh, scripts/ldap/, shared/research/test-stack.md, tests/integ/test_stack.sh

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
set +m
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"


STACK_ALL="redis slapd sink postfix"
STACK_DOMAIN=example.com
LDAP_BASE="dc=example,dc=com"
LDAP_PEOPLE="ou=people,$LDAP_BASE"
LDAP_ADMIN_DN="cn=admin,$LDAP_BASE"
LDAP_ADMIN_PW=secret
LDAP_BIND_DN="cn=policyd,ou=services,$LDAP_BASE"
LDAP_BIND_PW=policydpw
# Variables a caller may set; captured before stack.env is read, so they win over it.
CALLER_VARS="STACK STACK_USERS REDIS_PORT LDAP_PORT SINK_PORT SUBMIT_PORT POLICY_PORT
    POLICY_TIMEOUT POLICY_DEFAULT_ACTION POLICY_EOD POLICY_CONTEXT POSTFIX_MAIN_EXTRA
    REDIS_EXTRA"
declare -A FORCED=()

die()
{
    echo "stack: $*" >&2
    exit 1
}

now_us()
{
    local t=${EPOCHREALTIME//[.,]/}
    echo "$t"
}

elapsed()
{
    local us=$(($(now_us) - $1))
    printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# filetime_now - the current time as an AD FILETIME (100 ns units since 1601-01-01).
filetime_now()
{
    echo $(($(now_us) * 10 + 116444736000000000))
}

# sed_escape - escape a replacement string for sed s|...|...|.
sed_escape()
{
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# ---------------------------------------------------------------- state and env

# stack_paths - derive every path from DIR.
stack_paths()
{
    STACK_DIR=$1
    LOG_DIR=$STACK_DIR/log
    RUN_DIR=$STACK_DIR/run
    ENV_FILE=$STACK_DIR/stack.env
    USERS_FILE=$STACK_DIR/users
    REDIS_SOCK=$STACK_DIR/redis/redis.sock
    SINK_DIR=$STACK_DIR/sink
    POSTFIX_CONF=$STACK_DIR/postfix/etc
    POSTFIX_QUEUE=$STACK_DIR/postfix/spool
    MAILLOG=$LOG_DIR/maillog
    SASLDB=$POSTFIX_CONF/sasldb2
}

# stack_load - read DIR/stack.env, then let the caller's environment override it. Paths
# always derive from DIR as given, even if stack.env was written under another name.
stack_load()
{
    local v dir=$STACK_DIR
    declare -A saved=()
    for v in $CALLER_VARS; do
        if [ -n "${!v+x}" ]; then
            saved[$v]=${!v}
            FORCED[$v]=1
        fi
    done
    if [ -r "$ENV_FILE" ]; then
        # shellcheck disable=SC1090
        . "$ENV_FILE"
    fi
    for v in "${!saved[@]}"; do
        printf -v "$v" '%s' "${saved[$v]}"
    done
    stack_paths "$dir"
    [ -n "${STACK_USERS:-}" ] || STACK_USERS="alice bob carol"
    [ -n "${POLICY_TIMEOUT:-}" ] || POLICY_TIMEOUT=10s
    : "${POLICY_DEFAULT_ACTION=}" "${POLICY_EOD=0}" "${POLICY_CONTEXT=}"
    : "${POSTFIX_MAIN_EXTRA=}" "${REDIS_EXTRA=}"
    : "${REDIS_PORT=}" "${LDAP_PORT=}" "${SINK_PORT=}" "${SUBMIT_PORT=}" "${POLICY_PORT=}"
    LDAP_URI="ldap://127.0.0.1:$LDAP_PORT"
}

# env_line - one NAME='value' line.
env_line()
{
    local v=${!1-}
    printf "%s='%s'\n" "$1" "${v//\'/\'\\\'\'}"
}

# stack_save - write DIR/stack.env: STACK lists the components that run now; the
# addresses of the others stay recorded so that a later up reuses them.
stack_save()
{
    local c up="" v
    for c in $STACK_ALL; do
        daemon_running "$RUN_DIR/$c.pid" && up="$up $c"
    done
    STACK=${up# }
    {
        echo "# Written by scripts/stack.sh up; source with: set -a; . $ENV_FILE; set +a"
        for v in STACK_DIR STACK STACK_USERS STACK_DOMAIN LOG_DIR; do env_line $v; done
        if [ -n "$REDIS_PORT" ]; then
            for v in REDIS_PORT REDIS_SOCK; do env_line $v; done
        fi
        if [ -n "$LDAP_PORT" ]; then
            LDAP_URI="ldap://127.0.0.1:$LDAP_PORT"
            for v in LDAP_PORT LDAP_URI LDAP_BASE LDAP_PEOPLE LDAP_ADMIN_DN LDAP_ADMIN_PW \
                     LDAP_BIND_DN LDAP_BIND_PW; do env_line $v; done
        fi
        if [ -n "$SINK_PORT" ]; then
            for v in SINK_PORT SINK_DIR; do env_line $v; done
        fi
        if [ -n "$SUBMIT_PORT" ]; then
            for v in SUBMIT_PORT POSTFIX_CONF POSTFIX_QUEUE MAILLOG SASLDB POLICY_PORT \
                     POLICY_TIMEOUT POLICY_DEFAULT_ACTION POLICY_EOD POLICY_CONTEXT; do
                env_line $v
            done
        fi
    } > "$ENV_FILE.tmp" && mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

# stack_users_init - DIR/users ("user password" lines) from STACK_USERS, once.
stack_users_init()
{
    local u
    [ -s "$USERS_FILE" ] && return 0
    for u in $STACK_USERS; do
        case $u in *[!a-z0-9._-]*) die "bad user name '$u' in STACK_USERS" ;; esac
        echo "$u ${u}pw"
    done > "$USERS_FILE"
    chmod 600 "$USERS_FILE"
}

user_password()
{
    awk -v u="$1" '$1 == u { print $2; found = 1 } END { exit !found }' "$USERS_FILE"
}

# port_assign VAR COMPONENT - give VAR a port: the running component's, the forced one
# (must be free), the recorded one if still free, else a fresh one.
port_assign()
{
    local var=$1 comp=$2 cur=${!1:-} others
    if daemon_running "$RUN_DIR/$comp.pid"; then
        [ -n "$cur" ] && return 0
        die "$comp runs but stack.env has no $var; run down first"
    fi
    if [ -n "${FORCED[$var]:-}" ] && [ -n "$cur" ]; then
        port_listening "$cur" && die "$var=$cur is already in use"
        return 0
    fi
    if [ -n "$cur" ] && ! port_listening "$cur"; then
        return 0
    fi
    others="${REDIS_PORT:-} ${LDAP_PORT:-} ${SINK_PORT:-} ${SUBMIT_PORT:-} ${POLICY_PORT:-}"
    cur=$(port_pick_free $others) || die "no free port for $var"
    printf -v "$var" '%s' "$cur"
}

# port_retry VAR - after a bind failure: false if VAR was forced, else pick another.
port_retry()
{
    local var=$1 others p
    [ -n "${FORCED[$1]:-}" ] && return 1
    others="${REDIS_PORT:-} ${LDAP_PORT:-} ${SINK_PORT:-} ${SUBMIT_PORT:-} ${POLICY_PORT:-}"
    p=$(port_pick_free $others) || return 1
    printf -v "$var" '%s' "$p"
}

# check_dir_access - postfix (smtpd, smtp-sink) must traverse DIR and its parents.
check_dir_access()
{
    local p=$STACK_DIR mode
    chmod 755 "$STACK_DIR"
    while [ "$p" != / ]; do
        p=$(dirname "$p")
        mode=$(stat -L -c %A "$p")
        case ${mode:9:1} in
            x | t) ;;
            *) die "$p lacks o+x, so user postfix cannot reach $STACK_DIR;" \
                   "use a DIR elsewhere (e.g. mktemp -d)" ;;
        esac
    done
}

need_bins()
{
    local b
    for b in "$@"; do
        command -v "$b" > /dev/null 2>&1 ||
            die "$b not found; run scripts/install-deps.sh --test (as root)"
    done
}

# ---------------------------------------------------------------- redis

redis_ready()
{
    [ "$(redis-cli -s "$REDIS_SOCK" ping 2>/dev/null)" = PONG ]
}

redis_conf()
{
    cat <<EOF
# Written by scripts/stack.sh
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
unixsocket $REDIS_SOCK
unixsocketperm 777
daemonize no
supervised no
logfile ""
loglevel notice
dir $STACK_DIR/redis
save ""
appendonly yes
appendfilename "appendonly.aof"
appenddirname "appendonlydir"
appendfsync everysec
enable-debug-command local
$(redis_module_line)
$REDIS_EXTRA
EOF
}

# redis_module_line - "loadmodule PATH" for track.lua's native twin when it is built
# (PATH absolute, as loadmodule wants), unless PD_REDIS_MODULE=0.
redis_module_line()
{
    local build=${PD_BUILD:-$HERE/../build}
    [ "${PD_REDIS_MODULE:-}" != 0 ] && [ -f "$build/pdtrack.so" ] || return 0
    echo "loadmodule \"$(cd "$build" && pwd)/pdtrack.so\""
}

redis_start()
{
    local pf=$RUN_DIR/redis.pid
    mkdir -p "$STACK_DIR/redis"
    redis_conf > "$STACK_DIR/redis/redis.conf"
    rm -f "$REDIS_SOCK"
    daemon_start redis "$pf" "$LOG_DIR/redis.log" redis-server \
        "$STACK_DIR/redis/redis.conf" || return 1
    wait_until 5 redis_check_up && daemon_running "$pf"
}

redis_check_up()
{
    daemon_running "$RUN_DIR/redis.pid" || return 0
    redis_ready
}

# ---------------------------------------------------------------- slapd

LDAP_TOOL_OPTS=(-x -o nettimeout=5)

ldap_ready()
{
    ldapwhoami "${LDAP_TOOL_OPTS[@]}" -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" \
        > /dev/null 2>&1
}

slapd_check_up()
{
    daemon_running "$RUN_DIR/slapd.pid" || return 0
    ldap_ready
}

# slapd_populate - load base.ldif and one entry per user through the running slapd,
# once per DIR, so ppolicy hashes the passwords and stamps pwdChangedTime.
slapd_populate()
{
    local ld=$STACK_DIR/ldap u pw ft
    [ -e "$ld/populated" ] && return 0
    ft=$(filetime_now)
    {
        cat "$HERE/ldap/base.ldif"
        while read -r u pw; do
            echo
            sed -e "s|@USER@|$u|g" -e "s|@DOMAIN@|$STACK_DOMAIN|g" \
                -e "s|@PASSWORD@|$(sed_escape "$pw")|g" -e "s|@PWDLASTSET@|$ft|g" \
                "$HERE/ldap/user.ldif.in"
        done < "$USERS_FILE"
    } > "$ld/init.ldif"
    if ! ldapadd "${LDAP_TOOL_OPTS[@]}" -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" \
        -f "$ld/init.ldif" >> "$LOG_DIR/ldapadd.log" 2>&1; then
        echo "stack: ldapadd failed; see $LOG_DIR/ldapadd.log" >&2
        tail -n 5 "$LOG_DIR/ldapadd.log" >&2
        return 1
    fi
    touch "$ld/populated"
}

slapd_start()
{
    local ld=$STACK_DIR/ldap
    LDAP_URI="ldap://127.0.0.1:$LDAP_PORT"
    mkdir -p "$ld/data"
    cp "$HERE/ldap/ad-emul.schema" "$ld/ad-emul.schema"
    sed -e "s|@LDAP_DIR@|$(sed_escape "$ld")|g" "$HERE/ldap/slapd.conf.in" > "$ld/slapd.conf"
    daemon_start slapd "$RUN_DIR/slapd.pid" "$LOG_DIR/slapd.log" slapd \
        -f "$ld/slapd.conf" -h "$LDAP_URI/" -d stats || return 1
    wait_until 10 slapd_check_up || return 1
    daemon_running "$RUN_DIR/slapd.pid" || return 1
    slapd_populate
}

# ---------------------------------------------------------------- sink

sink_check_up()
{
    daemon_running "$RUN_DIR/sink.pid" || return 0
    port_listening "$SINK_PORT"
}

sink_start()
{
    mkdir -p "$SINK_DIR"
    chown postfix "$SINK_DIR"
    daemon_start sink "$RUN_DIR/sink.pid" "$LOG_DIR/sink.log" smtp-sink \
        -u postfix -d "$SINK_DIR/%Y%m%d/%H%M%S." "127.0.0.1:$SINK_PORT" 64 ||
        return 1
    wait_until 5 sink_check_up && daemon_running "$RUN_DIR/sink.pid"
}

# ---------------------------------------------------------------- postfix

postfix_policy()
{
    local s="inet:127.0.0.1:$POLICY_PORT, timeout=$POLICY_TIMEOUT"
    [ -n "$POLICY_DEFAULT_ACTION" ] && s="$s, { default_action = $POLICY_DEFAULT_ACTION }"
    [ -n "$POLICY_CONTEXT" ] && s="$s, { policy_context = $POLICY_CONTEXT }"
    echo "check_policy_service { $s }"
}

postfix_main_cf()
{
    cat <<EOF
# Written by scripts/stack.sh: a private Postfix instance under $STACK_DIR.
compatibility_level = 3.6
queue_directory = $POSTFIX_QUEUE
data_directory = $STACK_DIR/postfix/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $MAILLOG
maillog_file_prefixes = $LOG_DIR
myhostname = mail.$STACK_DOMAIN
mydomain = $STACK_DOMAIN
mydestination =
local_recipient_maps =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$SINK_PORT
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_security_options = noanonymous
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = $(postfix_policy), permit_sasl_authenticated, reject
EOF
    [ "$POLICY_EOD" = 1 ] && echo "smtpd_end_of_data_restrictions = $(postfix_policy)"
    cat <<EOF
smtpd_error_sleep_time = 0
in_flow_delay = 0
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
$POSTFIX_MAIN_EXTRA
EOF
}

postfix_master_cf()
{
    cat <<EOF
# Written by scripts/stack.sh: only the services the tests need, chroot off.
# service    type       private unpriv chroot wakeup maxproc command + args
127.0.0.1:$SUBMIT_PORT inet n   -      n      -      -       smtpd
  -o syslog_name=postfix/submission
pickup       unix       n       -      n      60     1       pickup
cleanup      unix       n       -      n      -      0       cleanup
qmgr         unix       n       -      n      300    1       qmgr
rewrite      unix       -       -      n      -      -       trivial-rewrite
bounce       unix       -       -      n      -      0       bounce
defer        unix       -       -      n      -      0       bounce
trace        unix       -       -      n      -      0       bounce
verify       unix       -       -      n      -      1       verify
flush        unix       n       -      n      1000?  0       flush
proxymap     unix       -       -      n      -      -       proxymap
proxywrite   unix       -       -      n      -      1       proxymap
smtp         unix       -       -      n      -      -       smtp
relay        unix       -       -      n      -      -       smtp
showq        unix       n       -      n      -      -       showq
error        unix       -       -      n      -      -       error
retry        unix       -       -      n      -      -       error
discard      unix       -       -      n      -      -       discard
anvil        unix       -       -      n      -      1       anvil
scache       unix       -       -      n      -      1       scache
postlog      unix-dgram n       -      n      -      1       postlogd
EOF
}

# postfix_write FILE - replace FILE with stdin if different; true if it changed.
# A written file is backdated 10 s: Postfix pauses until main.cf/master.cf are more
# than a second old ("cool down"), which costs ~2 s per start otherwise.
postfix_write()
{
    local f=$1
    cat > "$f.new"
    if [ -e "$f" ] && cmp -s "$f" "$f.new"; then
        rm -f "$f.new"
        return 1
    fi
    mv -f "$f.new" "$f"
    touch -d "@$(($(date +%s) - 10))" "$f"
    return 0
}

# postfix_sasldb - sasldb2 with every test user, once; root:postfix 0640 (smtpd reads
# it as postfix after dropping privileges).
postfix_sasldb()
{
    local u pw
    [ -e "$SASLDB" ] && return 0
    while read -r u pw; do
        printf '%s' "$pw" | saslpasswd2 -p -c -f "$SASLDB" -u "$STACK_DOMAIN" "$u" ||
            return 1
    done < "$USERS_FILE"
    chown root:postfix "$SASLDB"
    chmod 640 "$SASLDB"
}

postfix_configure()
{
    local changed=1
    mkdir -p "$POSTFIX_CONF/sasl" "$POSTFIX_QUEUE" "$STACK_DIR/postfix/data"
    chown postfix:postfix "$STACK_DIR/postfix/data"
    # Debian's smtpd reads $config_directory/sasl/smtpd.conf (cyrus_sasl_config_path
    # is ignored).
    cat > "$POSTFIX_CONF/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $SASLDB
EOF
    postfix_main_cf | postfix_write "$POSTFIX_CONF/main.cf" && changed=0
    postfix_master_cf | postfix_write "$POSTFIX_CONF/master.cf" && changed=0
    postfix_sasldb || return 2
    return $changed
}

# postfix_queue_dirs - create the queue directories as post-install would, and ask
# postfix-script for a quick start: its check-fatal/check-warn pass (post-install in sh,
# ~20 postconf runs, postsuper) costs over a second per start and finds nothing new here.
postfix_queue_dirs()
{
    local d
    install -d -o root -g root -m 755 "$POSTFIX_QUEUE" "$POSTFIX_QUEUE/pid"
    for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        install -d -o postfix -g root -m 700 "$POSTFIX_QUEUE/$d"
    done
    install -d -o postfix -g postdrop -m 730 "$POSTFIX_QUEUE/maildrop"
    install -d -o postfix -g postdrop -m 710 "$POSTFIX_QUEUE/public"
    touch "$POSTFIX_QUEUE/quick-start"
}

postfix_master_pid()
{
    local pid
    read -r pid < "$POSTFIX_QUEUE/pid/master.pid" 2>/dev/null || return 1
    echo "$pid"
}

# postfix_reload - SIGHUP the master and wait for its "reload" log line.
postfix_reload()
{
    local n
    n=$(grep -c 'master.*: reload ' "$MAILLOG" 2>/dev/null)
    kill -HUP "$(daemon_pid "$RUN_DIR/postfix.pid")"
    wait_until 5 postfix_reloaded "${n:-0}"
}

postfix_reloaded()
{
    [ "$(grep -c 'master.*: reload ' "$MAILLOG" 2>/dev/null)" -gt "$1" ]
}

postfix_start()
{
    local rc pid
    postfix_configure
    rc=$?
    [ $rc -eq 2 ] && return 1
    if daemon_running "$RUN_DIR/postfix.pid"; then
        [ $rc -eq 0 ] && { postfix_reload || return 1; echo "stack: postfix reloaded"; }
        return 0
    fi
    postfix_sweep
    postfix_queue_dirs
    if ! (fds_close; exec postfix -c "$POSTFIX_CONF" start) < /dev/null \
        >> "$LOG_DIR/postfix.log" 2>&1; then
        echo "stack: postfix start failed; last lines of $MAILLOG:" >&2
        tail -n 5 "$MAILLOG" >&2
        return 1
    fi
    pid=$(postfix_master_pid) || return 1
    daemon_record "$RUN_DIR/postfix.pid" "$pid" master || return 1
    wait_until 5 port_listening "$SUBMIT_PORT"
}

# postfix_sweep - stop Postfix processes of this instance left without a master: those
# whose cwd is the queue directory and whose executable is under /usr/lib/postfix.
postfix_sweep()
{
    local p pid left i
    for i in 1 2 3; do
        left=""
        # /proc paths have no blanks, so word splitting is safe here.
        # shellcheck disable=SC2044
        for p in $(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$POSTFIX_QUEUE" \
                       2>/dev/null); do
            pid=${p#/proc/}
            pid=${pid%/cwd}
            case $(readlink "/proc/$pid/exe" 2>/dev/null) in
                /usr/lib/postfix/*) ;;
                *) continue ;;
            esac
            proc_alive "$pid" || continue
            left="$left $pid"
            if [ $i -lt 3 ]; then
                kill -TERM "$pid" 2>/dev/null
            else
                kill -KILL "$pid" 2>/dev/null
            fi
        done
        [ -z "$left" ] && return 0
        sleep 0.2
    done
}

postfix_stop()
{
    daemon_stop "$RUN_DIR/postfix.pid" 15
    [ -d "$POSTFIX_QUEUE" ] && postfix_sweep
    return 0
}

# ---------------------------------------------------------------- commands

# component_up COMP VAR - start COMP unless it runs, retrying bind races on fresh ports.
component_up()
{
    local comp=$1 var=$2 t0 try prev
    t0=$(now_us)
    if daemon_running "$RUN_DIR/$comp.pid" && [ "$comp" != postfix ]; then
        return 0
    fi
    for try in 1 2 3; do
        port_assign "$var" "$comp"
        prev=${!var}
        if "${comp}_start"; then
            daemon_running "$RUN_DIR/$comp.pid" || die "$comp died after start; see $LOG_DIR"
            printf 'stack: %s on 127.0.0.1:%s (pid %s, %s s)\n' "$comp" "${!var}" \
                "$(daemon_pid "$RUN_DIR/$comp.pid")" "$(elapsed "$t0")"
            return 0
        fi
        daemon_running "$RUN_DIR/$comp.pid" && break
        rm -f "$RUN_DIR/$comp.pid"
        port_retry "$var" || break
        echo "stack: $comp did not start on port $prev (try $try), retrying on ${!var}" >&2
    done
    stack_save
    die "$comp did not start; see $LOG_DIR"
}

cmd_up()
{
    local t0 c want
    t0=$(now_us)
    # STACK from the caller, else everything (stack.env's STACK only says what ran).
    want=$STACK_ALL
    [ -n "${FORCED[STACK]:-}" ] && want=$STACK
    for c in $want; do
        case " $STACK_ALL " in *" $c "*) ;; *) die "unknown component '$c' in STACK" ;; esac
    done
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    [ ${#STACK_DIR} -le 70 ] || die "DIR path is too long for unix sockets (max 70): $STACK_DIR"
    stack_users_init
    case " $want " in *" sink "* | *" postfix "*)
        [ "$(id -u)" -eq 0 ] || die "sink and postfix need root"
        need_bins smtp-sink postfix saslpasswd2
        check_dir_access ;;
    esac
    case " $want " in *" redis "*) need_bins redis-server redis-cli ;; esac
    case " $want " in *" slapd "*) need_bins slapd ldapadd ldapwhoami ;; esac
    case " $want " in *" postfix "*)
        # Nothing of ours listens on POLICY_PORT; the caller runs the policy server there.
        [ -n "$POLICY_PORT" ] || POLICY_PORT=$(port_pick_free $REDIS_PORT $LDAP_PORT \
            $SINK_PORT $SUBMIT_PORT) || die "no free port for POLICY_PORT"
        [ -n "$SINK_PORT" ] || port_assign SINK_PORT sink ;;
    esac
    for c in $STACK_ALL; do
        case " $want " in *" $c "*) ;; *) continue ;; esac
        case $c in
            redis) component_up redis REDIS_PORT ;;
            slapd) component_up slapd LDAP_PORT ;;
            sink) component_up sink SINK_PORT ;;
            postfix) component_up postfix SUBMIT_PORT ;;
        esac
    done
    stack_save
    echo "stack: up in $(elapsed "$t0") s: $STACK ($ENV_FILE)"
}

cmd_down()
{
    local t0 rc=0
    t0=$(now_us)
    [ -d "$RUN_DIR" ] || { echo "stack: nothing to stop in $STACK_DIR"; return 0; }
    postfix_stop || rc=1
    daemon_stop "$RUN_DIR/sink.pid" 5 || rc=1
    daemon_stop "$RUN_DIR/slapd.pid" 10 || rc=1
    daemon_stop "$RUN_DIR/redis.pid" 10 || rc=1
    [ -S "$REDIS_SOCK" ] && rm -f "$REDIS_SOCK"
    [ $rc -eq 0 ] || die "some processes did not stop"
    echo "stack: down in $(elapsed "$t0") s"
}

cmd_status()
{
    local c rc=0 port
    for c in $STACK_ALL; do
        case $c in
            redis) port=${REDIS_PORT:-} ;;
            slapd) port=${LDAP_PORT:-} ;;
            sink) port=${SINK_PORT:-} ;;
            postfix) port=${SUBMIT_PORT:-} ;;
        esac
        if daemon_running "$RUN_DIR/$c.pid"; then
            printf '%-8s running  pid %s  port %s\n' "$c" "$(daemon_pid "$RUN_DIR/$c.pid")" "$port"
        else
            printf '%-8s stopped\n' "$c"
            case " ${STACK:-} " in *" $c "*) rc=1 ;; esac
        fi
    done
    return $rc
}

# cmd_passwd - what a password change does in production, on every store the stack
# has: the LDAP password (as admin, or as the user with --as-user: either way ppolicy
# stamps pwdChangedTime), pwdLastSet (nothing maintains it in OpenLDAP), and sasldb2.
cmd_passwd()
{
    local user=$1 new=$2 how=${3:-} old dn ft did=""
    case $how in "" | --as-user) ;; *) die "passwd: unknown option '$how'" ;; esac
    old=$(user_password "$user") || die "passwd: no such test user '$user'"
    dn="uid=$user,$LDAP_PEOPLE"
    if daemon_running "$RUN_DIR/slapd.pid"; then
        if [ "$how" = --as-user ]; then
            ldappasswd "${LDAP_TOOL_OPTS[@]}" -H "$LDAP_URI" -D "$dn" -w "$old" -a "$old" \
                -s "$new" "$dn" > /dev/null || die "passwd: ldappasswd as $user failed"
        else
            ldappasswd "${LDAP_TOOL_OPTS[@]}" -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" \
                -w "$LDAP_ADMIN_PW" -s "$new" "$dn" > /dev/null ||
                die "passwd: ldappasswd failed"
        fi
        ft=$(filetime_now)
        printf 'dn: %s\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: %s\n' "$dn" "$ft" |
            ldapmodify "${LDAP_TOOL_OPTS[@]}" -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" \
                -w "$LDAP_ADMIN_PW" > /dev/null || die "passwd: setting pwdLastSet failed"
        did="ldap(pwdLastSet=$ft)"
    fi
    if [ -e "$SASLDB" ]; then
        printf '%s' "$new" | saslpasswd2 -p -f "$SASLDB" -u "$STACK_DOMAIN" "$user" ||
            die "passwd: saslpasswd2 failed"
        chown root:postfix "$SASLDB"
        chmod 640 "$SASLDB"
        did="$did sasldb"
    fi
    [ -n "$did" ] || die "passwd: neither slapd runs nor sasldb2 exists in $STACK_DIR"
    awk -v u="$user" -v p="$new" '$1 == u { $2 = p } { print }' "$USERS_FILE" \
        > "$USERS_FILE.tmp" && mv -f "$USERS_FILE.tmp" "$USERS_FILE"
    echo "stack: password of $user changed:${did:+ }$did"
}

usage()
{
    sed -n '3,11s/^# \{0,1\}//p' "$0"
    exit 2
}

main()
{
    local cmd=${1:-} dir=${2:-}
    if [ -z "$cmd" ] || [ -z "$dir" ]; then usage; fi
    case $cmd in
        up) mkdir -p "$dir" ;;
        down | status | env | passwd) [ -d "$dir" ] || die "no such directory: $dir" ;;
        *) usage ;;
    esac
    dir=$(cd "$dir" && pwd) || die "cannot enter $dir"
    stack_paths "$dir"
    case $cmd in
        up) stack_load; cmd_up ;;
        down) stack_load; cmd_down ;;
        status) stack_load; cmd_status ;;
        env) [ -r "$ENV_FILE" ] || die "no $ENV_FILE (run up first)"; cat "$ENV_FILE" ;;
        passwd)
            [ $# -ge 4 ] || usage
            stack_load
            cmd_passwd "$3" "$4" "${5:-}" ;;
    esac
}

main "$@"
