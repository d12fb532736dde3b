#!/bin/sh
# run-unit.sh BUILD - run every unit-test binary and replay every fuzz corpus.
# Prints one line per suite and a closing "unit: N passed, N failed".
set -u
build=${1:-build}
pass=0 fail=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    if out=$(timeout 300 "$t" 2>&1); then
        pass=$((pass + 1)); echo "PASS $(basename "$t"): $(echo "$out" | tail -n 1)"
    else
        fail=$((fail + 1)); echo "FAIL $(basename "$t")"; echo "$out" | tail -n 30
    fi
done
for r in "$build"/tests/replay_*; do
    [ -x "$r" ] || continue
    name=${r##*/replay_}
    dir=tests/fuzz/corpus/$name
    if [ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ]; then
        fail=$((fail + 1)); echo "FAIL replay_$name: no corpus in $dir"; continue
    fi
    if out=$(find "$dir" -type f -print0 | xargs -0 timeout 300 "$r" 2>&1); then
        pass=$((pass + 1)); echo "PASS replay_$name: $(echo "$out" | tail -n 1)"
    else
        fail=$((fail + 1)); echo "FAIL replay_$name"; echo "$out" | tail -n 30
    fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
