#!/bin/sh
# SPDX-License-Identifier: MIT
# NAME
#   run-valgrind.sh - valgrind memcheck of every integration suite's policyd processes
# SYNOPSIS
#   sh tests/run-valgrind.sh            (make valgrind; needs the plain build: make all)
#   VG_SUITES="tests/integ/test_daemon.py tests/chaos/test_hostile.py" sh tests/run-valgrind.sh
# DESCRIPTION
#   Runs the suites that tests/run-integ.sh runs (tests/suites.sh: tests/integ, tests/e2e,
#   tests/chaos/test_*.py), or those named in VG_SUITES, one after the other against the
#   plain build (PD_BUILD=build, never build/san: valgrind and ASan do not mix), with
#   PD_WRAP set so that every policyd a suite starts runs under
#       valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
#           --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
#           --track-fds=no --num-callers=30 --log-file=DIR/SUITE/vg.%p.log
#   (DIR a mktemp -d directory; tests/valgrind.supp, when present, is passed with
#   --suppressions: third-party false positives only, never our own code).
#   Each suite runs under VG_TIMEOUT seconds (default 3600), ended by SIGINT so that its
#   atexit cleanup still runs; policyd processes still alive afterwards (found by the
#   pids of their logs, and only when their command line names this run's log directory)
#   get SIGTERM, then SIGKILL.
#
#   Afterwards every vg.*.log is parsed and a table is printed, one row per suite:
#     procs    policyd processes run under valgrind (a log whose parent is another log
#              of the suite and that has no summary is a fork that exec'd a helper,
#              e.g. sendmail for alerts: not counted)
#     nosum    of those, processes without a final summary: SIGKILLed by the suite or
#              its cleanup, so never leak-checked (their errors are still counted,
#              one per error context printed)
#     errors   memcheck errors (ERROR SUMMARY minus the leak records it includes)
#     def/ind  bytes definitely / indirectly lost (LEAK SUMMARY)
#     checks   the suite's own checks: pass, fail or timeout. Under valgrind policyd is
#              20-50x slower, so timing-sensitive checks may fail; such a failure is
#              not a memcheck failure and does not change the exit status (the first
#              failed check is shown below the table). A suite stops at its first
#              failed check, so the rest of it is not exercised.
#   Logs with errors or leaks, and the output of suites whose checks failed, are copied
#   to build/valgrind/ (emptied first).
# ENVIRONMENT
#   VG_SUITES   suites to run, in order (default: tests/suites.sh, as make integ)
#   VG_TIMEOUT  per-suite time limit in seconds (default 3600)
#   VG_KEEP     when set, the log directory is kept (its path is printed)
# DIAGNOSTICS
#   Exit 0 only when memcheck errors and definitely/indirectly lost bytes are 0 over all
#   logs; 1 otherwise; 2 when build/policyd is missing or valgrind is not installed.
# SEE ALSO
#   tests/run-integ.sh, tests/integ/pdtest.py (PD_WRAP), tests/valgrind.supp
set -u
PD_ROOT=$(pwd); export PD_ROOT
PD_BUILD=$PD_ROOT/build; export PD_BUILD
timeout_s=${VG_TIMEOUT:-3600}
out=$PD_ROOT/build/valgrind

[ -x "$PD_BUILD/policyd" ] || { echo "run-valgrind: no $PD_BUILD/policyd (make all)"; exit 2; }
command -v valgrind >/dev/null || { echo "run-valgrind: valgrind is not installed"; exit 2; }

. tests/suites.sh
suites=${VG_SUITES:-$(pd_suites)}

DIR=$(mktemp -d)
# policyd drops privileges (run_user) and its forks open their own vg.PID.log
chmod 1777 "$DIR"
rm -rf "$out"
mkdir -p "$out"
supp=""
[ -f "$PD_ROOT/tests/valgrind.supp" ] && supp="--suppressions=$PD_ROOT/tests/valgrind.supp"

# stop_left SUITEDIR - SIGTERM, then SIGKILL, the processes of this run still alive.
stop_left()
{
    pids=""
    for f in "$1"/vg.*.log; do
        [ -f "$f" ] || continue
        p=${f##*/vg.}; p=${p%.log}
        if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$1/"; then
            pids="$pids $p"
        fi
    done
    [ -n "$pids" ] || return 0
    echo "  stopping processes left running:$pids"
    # shellcheck disable=SC2086 # a list of pids
    kill -TERM $pids 2>/dev/null
    i=0
    while [ $i -lt 60 ]; do
        alive=""
        for p in $pids; do [ -d "/proc/$p" ] && alive="$alive $p"; done
        [ -n "$alive" ] || return 0
        sleep 1; i=$((i + 1))
    done
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $alive 2>/dev/null
}

# vgparse SUITEDIR - one line per log: pid kind errors defbytes indbytes summary(0/1)
#   kind: helper (a fork that exec'd: its parent's log is here, no summary) or proc.
vgparse()
{
    for f in "$1"/vg.*.log; do
        [ -f "$f" ] || continue
        ppid=$(sed -n 's/^==[0-9]*== Parent PID: \([0-9]*\).*/\1/p' "$f" | head -n 1)
        parent=0
        [ -n "$ppid" ] && [ -f "$1/vg.$ppid.log" ] && parent=1
        awk -v f="$f" -v parent="$parent" '
            function num(s) { gsub(/,/, "", s); return s + 0 }
            / ERROR SUMMARY: / { for (i = 1; i <= NF; i++) if ($i == "SUMMARY:") total = num($(i + 1)); summ = 1 }
            / HEAP SUMMARY:/ { heap = 1 }
            / are (definitely|indirectly) lost in loss record / { leakrec++ }
            / definitely lost: / { for (i = 1; i <= NF; i++) if ($i == "lost:") def = num($(i + 1)) }
            / indirectly lost: / { for (i = 1; i <= NF; i++) if ($i == "lost:") ind = num($(i + 1)) }
            /^==[0-9]+== (Invalid |Mismatched |Conditional jump |Use of uninitialised |Syscall param |Source and destination overlap|Argument .* fishy|Jump to the invalid address|Uninitialised byte|Unaddressable byte|realloc\(\) with size 0|Mismatched new\/delete)/ { hdr++ }
            END {
                n = f; sub(/.*\/vg\./, "", n); sub(/\.log$/, "", n)
                kind = (parent && !heap) ? "helper" : "proc"
                err = summ ? total - leakrec : hdr
                if (err < 0) err = 0
                printf "%s %s %d %d %d %d\n", n, kind, err, def, ind, summ
            }' "$f"
    done
}

rows=$DIR/rows
notes=$DIR/notes
: >"$rows"
: >"$notes"
n=0
for t in $suites; do
    [ -f "$t" ] || { echo "run-valgrind: no suite $t"; continue; }
    n=$((n + 1))
    name=$(echo "$t" | sed 's|^tests/||')
    sd=$DIR/$n
    mkdir -p "$sd"
    chmod 1777 "$sd"
    PD_WRAP="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full\
 --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect\
 --track-fds=no --num-callers=30 --log-file=$sd/vg.%p.log $supp"
    export PD_WRAP
    run=$(pd_runner "$t")
    start=$(date +%s)
    echo "run-valgrind: $t ..."
    # shellcheck disable=SC2086 # "python3 -u" is two words
    timeout -s INT -k 60 "$timeout_s" $run "$t" >"$sd/suite.out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    stop_left "$sd"
    if [ "$rc" -eq 0 ]; then
        checks=pass
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        checks=timeout
    else
        checks=fail
    fi
    if [ "$checks" != pass ]; then
        first=$(grep -m 1 -E '^(FAIL|not ok)' "$sd/suite.out" || tail -n 1 "$sd/suite.out")
        echo "$name ($checks, exit $rc): $first" >>"$notes"
        cp "$sd/suite.out" "$out/$(echo "$name" | tr '/' '_').out"
    fi
    vgparse "$sd" >"$sd/parsed"
    # copy the logs with errors or leaks
    while read -r pid _ err def ind _; do
        if [ "$err" -gt 0 ] || [ "$def" -gt 0 ] || [ "$ind" -gt 0 ]; then
            cp "$sd/vg.$pid.log" "$out/$(echo "$name" | tr '/' '_').vg.$pid.log"
        fi
    done <"$sd/parsed"
    awk -v name="$name" -v checks="$checks" -v secs="$secs" '
        $2 == "proc" { procs++; if (!$6) nosum++ }
        { err += $3; def += $4; ind += $5 }
        END { printf "%s %d %d %d %d %d %s %d\n", name, procs, nosum, err, def, ind, checks, secs }
    ' "$sd/parsed" >>"$rows"
    tail -n 1 "$rows" | awk '{ printf "  %s: %d policyd, %d errors, %d+%d bytes lost, checks %s (%ds)\n", $1, $2, $4, $5, $6, $7, $8 }'
done

echo
awk '
    BEGIN { printf "%-26s %6s %6s %7s %10s %10s %-8s %6s\n", "suite", "procs", "nosum", "errors", "def.lost", "ind.lost", "checks", "secs" }
    { printf "%-26s %6d %6d %7d %10d %10d %-8s %6d\n", $1, $2, $3, $4, $5, $6, $7, $8
      p += $2; s += $3; e += $4; d += $5; i += $6 }
    END { printf "%-26s %6d %6d %7d %10d %10d\n", "total", p, s, e, d, i }
' "$rows"
if [ -s "$notes" ]; then
    echo
    echo "suite checks that failed under valgrind (not memcheck failures; policyd is 20-50x"
    echo "slower, so usually timing; compare with make integ):"
    sed 's/^/  /' "$notes"
fi
bad=$(awk '{ s += $4 + $5 + $6 } END { print s + 0 }' "$rows")
if [ -n "${VG_KEEP:-}" ]; then echo "logs kept in $DIR"; else rm -rf "$DIR"; fi
if [ "$bad" -eq 0 ]; then
    echo "valgrind: clean (0 memcheck errors, 0 bytes definitely/indirectly lost)"
    exit 0
fi
echo "valgrind: NOT clean; logs in $out/"
exit 1
