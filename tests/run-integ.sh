#!/bin/sh
# run-integ.sh BUILD - run every tests/integ/test_*, tests/e2e/test_* and tests/chaos/test_*.py, each
# under a time limit, with BUILD exported as PD_BUILD. A suite prints its own checks;
# this prints "integ: N passed, N failed" over suites.
set -u
build=${1:-build}
PD_BUILD=$(cd "$build" && pwd); export PD_BUILD
PD_ROOT=$(pwd); export PD_ROOT
pass=0 fail=0 failed=""
for t in tests/integ/test_*.sh tests/integ/test_*.py tests/e2e/test_*.sh tests/e2e/test_*.py tests/chaos/test_*.py; do
    [ -f "$t" ] || continue
    start=$(date +%s)
    log=$(mktemp)
    case $t in *.py) run="python3 -u" ;; *) run=bash ;; esac
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
