# SPDX-License-Identifier: MIT
# suites.sh - sourced by tests/run-integ.sh and tests/run-valgrind.sh (from the repository
# root): which integration, end-to-end and chaos suites there are, and how to run one.
# A new kind of suite is added here once, for make integ and make valgrind alike.

# pd_suites - every suite file, one per line, in the order they run
pd_suites()
{
    for t in tests/integ/test_*.sh tests/integ/test_*.py tests/e2e/test_*.sh \
             tests/e2e/test_*.py tests/chaos/test_*.py; do
        [ -f "$t" ] && echo "$t"
    done
    return 0
}

# pd_runner FILE - the command that runs suite FILE ("python3 -u" is two words)
pd_runner()
{
    case $1 in
        *.py) echo "python3 -u" ;;
        *) echo bash ;;
    esac
}
