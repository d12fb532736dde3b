#!/bin/sh
# SPDX-License-Identifier: MIT
# run-long.sh [SECONDS] - run every libFuzzer target in build/fuzz/ for SECONDS each
# (default 600; 'make fuzz-long FUZZ_SECONDS=N'), one after the other, and print a table:
# target, seconds, execs, execs/s, corpus size, crashes.
#
# Each target starts from its checked-in corpus tests/fuzz/corpus/<name>/ (read only) and
# grows a scratch corpus in build/fuzz/work/<name>/ that later runs reuse. A crash, leak
# or timeout leaves its input in build/fuzz/artifacts/<name>/; copy it into the checked-in
# corpus once fixed, so every 'make check' replays it.
#
# Environment: FUZZ_TARGETS="proto config ..." limits the run to those targets;
# FUZZ_JOBS=N runs N targets at once (default 1); FUZZ_NICE=N runs them under nice -n N
# (default 0); FUZZ_ARGS adds libFuzzer options (e.g. -max_len=65536).
# Exit status: 0 when no target crashed, 1 otherwise, 2 when no target is built.
set -u
secs=${1:-600}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/fuzz
jobs=${FUZZ_JOBS:-1}
nice=${FUZZ_NICE:-0}
targets=${FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
    for f in "$bin"/fuzz_*; do
        [ -x "$f" ] && targets="$targets ${f##*/fuzz_}"
    done
fi
[ -n "$targets" ] || { echo "run-long: no fuzz target in $bin (run 'make fuzz')" >&2; exit 2; }
logs=$bin/logs
mkdir -p "$logs"

# one NAME - run one target; its log is $logs/NAME.log
one() {
    name=$1
    work=$bin/work/$name art=$bin/artifacts/$name/
    mkdir -p "$work" "$art"
    corpus=$root/tests/fuzz/corpus/$name
    [ -d "$corpus" ] || corpus=
    # -rss_limit_mb: ASan plus a big corpus; -timeout: one input taking 10 s is a bug.
    # shellcheck disable=SC2086
    nice -n "$nice" "$bin/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2560 -artifact_prefix="$art" ${FUZZ_ARGS:-} \
        "$work" $corpus >"$logs/$name.log" 2>&1
    echo $? >"$logs/$name.rc"
}

running=0
for t in $targets; do
    [ -x "$bin/fuzz_$t" ] || { echo "run-long: $bin/fuzz_$t is not built" >&2; echo 99 >"$logs/$t.rc"; continue; }
    echo "run-long: fuzz_$t for ${secs}s" >&2
    one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait

printf '%-12s %8s %14s %10s %8s %8s\n' target seconds execs execs/s corpus crashes
bad=0
for t in $targets; do
    log=$logs/$t.log rc=$(cat "$logs/$t.rc" 2>/dev/null || echo 99)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" 2>/dev/null | tail -n 1)
    corp=$(ls "$bin/work/$t" 2>/dev/null | wc -l)
    crashes=$(grep -c 'Test unit written to' "$log" 2>/dev/null || true)
    crashes=${crashes:-0}
    [ "$rc" -eq 0 ] || { bad=1; [ "$crashes" -gt 0 ] || crashes="rc=$rc"; }
    printf '%-12s %8s %14s %10s %8s %8s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$corp" "$crashes"
done
[ "$bad" -eq 0 ] || echo "run-long: failures; see $logs/ and $bin/artifacts/" >&2
exit "$bad"
