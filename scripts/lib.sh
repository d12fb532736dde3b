# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# NAME
#   lib.sh - process and port helpers shared by scripts/stack.sh and the test suites
# SYNOPSIS
#   . scripts/lib.sh                   (bash only)
#   port_listening PORT                true if something listens on TCP PORT (any address)
#   port_pick_free [EXCLUDE...]        print a free TCP port in 20000-31999
#   proc_state PID                     print the state letter (R S D Z ...); false if gone
#   proc_alive PID                     true if PID exists and is not a zombie
#   proc_starttime PID                 print field 22 of /proc/PID/stat (clock ticks)
#   daemon_start NAME PIDFILE LOG PROG [ARG...]
#                                      start PROG in its own session, record its pid
#   daemon_record PIDFILE PID PROG     record a pid that something else started
#   daemon_running PIDFILE             true if the recorded process still runs
#   daemon_pid PIDFILE                 print the recorded pid
#   daemon_stop PIDFILE [SECONDS]      SIGTERM (then SIGKILL) the recorded process
#   wait_until SECONDS CMD [ARG...]    poll CMD every 50 ms until it succeeds
#   fds_close                          close descriptors > 2 (in a subshell, before exec)
# DESCRIPTION
#   A pid file written here holds one line "PID STARTTIME PROG". Before a pid is
#   signalled, daemon_* check that the process is alive (not a zombie: a dead daemon
#   stays a zombie of PID 1 for a while), that its start time is the recorded one (the
#   pid was not reused) and that its executable or command line names PROG. So a stale
#   pid file can never make these helpers signal a stranger.
#
#   daemon_start runs "setsid PROG ARGS" in the background with stdin from /dev/null and
#   stdout/stderr appended to LOG. Job control must be off (it is in scripts; this file
#   turns it off): then the background child is not a process-group leader, setsid(1)
#   does not fork, and $! is the daemon itself. A daemon in its own session cannot take
#   the caller down with a kill(0, ...) of its process group (saslauthd does that).
#
#   Ports are read from /proc/net/tcp and /proc/net/tcp6, so no ss/netstat is needed.
#   port_pick_free avoids every port that appears there in any state and the
#   Linux ephemeral range (32768 and up), but another process may still grab the port
#   before the caller binds it: callers retry on bind failure.
# DIAGNOSTICS
#   Functions return non-zero on failure and print nothing unless stated; daemon_start
#   prints the tail of LOG to stderr when PROG dies at once.
# SEE ALSO
#   scripts/stack.sh, setsid(1), proc(5)

set +m

# port_listening - true if a socket is in LISTEN state on TCP port $1.
port_listening()
{
    local want=$1 f sl laddr _ st rest
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        while read -r sl laddr _ st rest; do
            [ "$st" = 0A ] || continue
            [ $((16#${laddr##*:})) -eq "$want" ] && return 0
        done < "$f"
    done
    return 1
}

# port_used_list - print every local TCP port in use, in any state, one per line.
port_used_list()
{
    local f sl laddr rest
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        while read -r sl laddr rest; do
            [ "$sl" = sl ] && continue
            echo $((16#${laddr##*:}))
        done < "$f"
    done
}

# port_pick_free - print a random port in 20000-31999 that no socket uses and that is
# not among the arguments (ports already handed out but not yet bound).
port_pick_free()
{
    local used port i
    used=" $(port_used_list | tr '\n' ' ') $* "
    for i in $(seq 1 200); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        case $used in *" $port "*) continue ;; esac
        echo "$port"
        return 0
    done
    return 1
}

# proc_state - print the one-letter state of PID; false if the process is gone.
# (Builtins only: these run in polling loops, and a fork costs ~5 ms on a small VM.)
proc_state()
{
    local stat
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    echo "${stat%% *}"
}

# proc_alive - PID exists and is neither a zombie nor dead.
proc_alive()
{
    local stat st
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    st=${stat%% *}
    [ "$st" != Z ] && [ "$st" != X ]
}

# proc_starttime - the process start time in clock ticks since boot (field 22).
proc_starttime()
{
    local stat
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    # $stat now starts at field 3; field 22 is its 20th word.
    # shellcheck disable=SC2086
    set -- $stat
    echo "${20}"
}

# proc_is - PID is alive and is PROG: its executable is the file PROG resolves to, or
# its argv[0] (daemons may rewrite their title) has PROG's basename.
proc_is()
{
    local pid=$1 prog=$2 path a0
    local -a argv
    proc_alive "$pid" || return 1
    path=$(type -P "$prog" 2>/dev/null) || path=$prog
    [ -e "$path" ] && [[ /proc/$pid/exe -ef $path ]] && return 0
    { mapfile -d '' -t argv < "/proc/$pid/cmdline"; } 2>/dev/null || return 1
    a0=${argv[0]:-}
    a0=${a0%% *}
    [ "${a0##*/}" = "${prog##*/}" ]
}

# daemon_record - write "PID STARTTIME PROG" to PIDFILE.
daemon_record()
{
    local pidfile=$1 pid=$2 prog=$3 st
    st=$(proc_starttime "$pid") || return 1
    echo "$pid $st $prog" > "$pidfile.tmp" && mv -f "$pidfile.tmp" "$pidfile"
}

# daemon_pid - print the pid recorded in PIDFILE.
daemon_pid()
{
    local pid rest
    [ -r "$1" ] || return 1
    read -r pid rest < "$1" || return 1
    echo "$pid"
}

# daemon_running - the process recorded in PIDFILE is alive, has the recorded start
# time and is still PROG.
daemon_running()
{
    local pid st prog now
    [ -r "$1" ] || return 1
    read -r pid st prog < "$1" || return 1
    [ -n "$pid" ] && [ -n "$prog" ] || return 1
    now=$(proc_starttime "$pid") || return 1
    [ "$now" = "$st" ] || return 1
    proc_is "$pid" "$prog"
}

# fds_close - close every descriptor above 2 of the current (sub)shell, so that a
# daemon does not keep a caller's pipe open (a caller reading our output would hang).
fds_close()
{
    local fd
    for fd in "/proc/$BASHPID/fd/"*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    return 0
}

# daemon_start - start PROG in a new session, stdin /dev/null, output appended to LOG,
# and record it in PIDFILE. Fails if PROG is gone or no longer PROG after a moment.
daemon_start()
{
    local name=$1 pidfile=$2 log=$3 prog=$4 pid i
    shift 3
    (fds_close; exec setsid "$@") < /dev/null >> "$log" 2>&1 &
    pid=$!
    # setsid execs PROG in place; give the exec a moment to happen.
    for i in 1 2 3 4 5 6 7 8 9 10; do
        proc_is "$pid" "$prog" && break
        proc_alive "$pid" || break
        sleep 0.02
    done
    if ! proc_is "$pid" "$prog"; then
        echo "$name: $prog exited at once; last lines of $log:" >&2
        tail -n 15 "$log" >&2
        return 1
    fi
    daemon_record "$pidfile" "$pid" "$prog"
}

# daemon_stop - stop the process recorded in PIDFILE: SIGTERM, wait up to SECONDS
# (default 10), then SIGKILL. A stale or foreign pid is never signalled. Removes
# PIDFILE. Returns 0 when the process is gone.
daemon_stop()
{
    local pidfile=$1 secs=${2:-10} pid i
    [ -e "$pidfile" ] || return 0
    if daemon_running "$pidfile"; then
        pid=$(daemon_pid "$pidfile")
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < secs * 20; i++)); do
            proc_alive "$pid" || break
            sleep 0.05
        done
        if proc_alive "$pid"; then
            echo "daemon_stop: $pid did not stop in ${secs}s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
            for ((i = 0; i < 40; i++)); do
                proc_alive "$pid" || break
                sleep 0.05
            done
        fi
        proc_alive "$pid" && return 1
    fi
    rm -f "$pidfile"
    return 0
}

# wait_until - run CMD every 50 ms until it succeeds or SECONDS pass.
wait_until()
{
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    "$@"
}
