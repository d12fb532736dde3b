#!/bin/sh
# SPDX-License-Identifier: MIT
# NAME
#   install-deps.sh - install the Debian 12 packages policyd needs to build, run and test
# SYNOPSIS
#   sh scripts/install-deps.sh [--run|--test|--list]
# DESCRIPTION
#   --run   what make run needs: the compiler, the libraries' -dev packages and Redis.
#   --test  (default) also what make test needs: clang with libFuzzer, slapd and the
#           LDAP tools, Postfix with Cyrus SASL, swaks, socat and small tools.
#   --list  print the packages the chosen mode needs (with --run or --test first).
#
#   Fast and idempotent: dpkg-query decides what is missing, and apt-get runs only
#   then (update, then install with --no-install-recommends). Only Debian's own mirror
#   is used. Postfix is preseeded "No configuration", so it installs no
#   /etc/postfix/main.cf and starts nothing; tests run their own instance
#   (scripts/stack.sh). While apt runs, a temporary /usr/sbin/policy-rc.d answering 101
#   (unless one exists already) keeps the packages' postinst scripts from starting a
#   system slapd on 389 or redis on 6379; it is removed afterwards.
# DIAGNOSTICS
#   Exit 0 when everything is installed. Not root and something missing: the missing
#   packages are named on stderr, exit 1. apt-get failures: exit non-zero.
# SEE ALSO
#   scripts/stack.sh, Makefile (deps, run, test)

set -eu

RUN_PKGS="build-essential pkg-config libuv1-dev libhiredis-dev libjansson-dev libldap-dev
    libmicrohttpd-dev redis-server redis-tools"
TEST_PKGS="clang slapd ldap-utils postfix sasl2-bin libsasl2-modules swaks socat
    netcat-openbsd python3 curl procps psmisc iproute2"

usage()
{
    echo "usage: sh scripts/install-deps.sh [--run|--test] [--list]" >&2
    exit 2
}

# clang_rt_pkg - the package with libFuzzer for the default clang: libclang-rt-N-dev,
# N being clang's major version (14 on Debian 12).
clang_rt_pkg()
{
    v=""
    if command -v clang > /dev/null 2>&1; then
        v=$(clang -dumpversion 2> /dev/null | cut -d. -f1) || v=""
    fi
    echo "libclang-rt-${v:-14}-dev"
}

mode=--test
list=0
for a in "$@"; do
    case $a in
        --run | --test) mode=$a ;;
        --list) list=1 ;;
        *) usage ;;
    esac
done

want=$RUN_PKGS
[ "$mode" = --test ] && want="$RUN_PKGS $TEST_PKGS $(clang_rt_pkg)"

if [ $list -eq 1 ]; then
    for p in $want; do echo "$p"; done
    exit 0
fi

# One dpkg-query for all: "name status" for each known package.
# shellcheck disable=SC2086
have=" $(dpkg-query -W -f='${Package}=${db:Status-Status} ' $want 2> /dev/null || true) "
missing=""
for p in $want; do
    case $have in *" $p=installed "*) ;; *) missing="$missing $p" ;; esac
done

if [ -z "$missing" ]; then
    echo "install-deps: all $(echo $want | wc -w) packages for $mode are installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root: sh scripts/install-deps.sh $mode" >&2
    exit 1
fi

# The first clang install decides which libclang-rt we need: ask again after it.
case " $missing " in *" clang "*) need_rt_again=1 ;; *) need_rt_again=0 ;; esac

policy_rc=/usr/sbin/policy-rc.d
made_policy_rc=0
cleanup()
{
    [ $made_policy_rc -eq 1 ] && rm -f "$policy_rc"
    return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\n# Temporary, from scripts/install-deps.sh: %s\nexit 101\n' \
        "start no daemons" > "$policy_rc"
    chmod 755 "$policy_rc"
    made_policy_rc=1
fi

case " $missing " in *" postfix "*)
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections ;;
esac

export DEBIAN_FRONTEND=noninteractive
APT="apt-get -y -q -o Dpkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0"
echo "install-deps: installing:$missing"
$APT update
# shellcheck disable=SC2086
$APT install --no-install-recommends $missing
if [ $need_rt_again -eq 1 ]; then
    rt=$(clang_rt_pkg)
    st=$(dpkg-query -W -f='${db:Status-Status}' "$rt" 2> /dev/null) || st=""
    # shellcheck disable=SC2086
    [ "$st" = installed ] || $APT install --no-install-recommends "$rt"
fi
echo "install-deps: done"
