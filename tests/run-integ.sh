#!/bin/sh
# run-integ.sh BUILD - run every suite of tests/suites.sh (integ, e2e, chaos), each
# under a time limit, with BUILD exported as PD_BUILD. A suite prints its own checks;
# this prints "integ: N passed, N failed" over suites.
set -u
build=${1:-build}
PD_BUILD=$(cd "$build" && pwd); export PD_BUILD
PD_ROOT=$(pwd); export PD_ROOT
. tests/suites.sh
pass=0 fail=0 failed=""
for t in $(pd_suites); do
    start=$(date +%s)
    log=$(mktemp)
    run=$(pd_runner "$t")
    if timeout -k 10 600 $run "$t" >"$log" 2>&1; then
        pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s): $(tail -n 1 "$log")"
    else
        fail=$((fail + 1)); failed="$failed $t"
        echo "FAIL $t ($(( $(date +%s) - start ))s)"; tail -n 60 "$log"
    fi
    rm -f "$log"
done
[ -z "$failed" ] || echo "failed suites:$failed"
echo "integ: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
