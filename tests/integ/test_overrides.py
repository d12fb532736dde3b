# SPDX-License-Identifier: MIT
"""Overrides as a postmaster uses them: an overrides_file with domain and mailbox entries
(caps, exemptions, a temporary raise), the helpdesk's domain entries in Redis winning over
the file, inheritance mailbox > domain > default, a bad file refused at start and kept
out at SIGHUP, and sender_login_maps deciding whether the envelope sender is the login's.
Real redis-server and policyd; time is driven with policyd_time."""
import json
import os
import signal
import subprocess
import time

import pdtest
from pdtest import Policyd, Redis, Suite

S = Suite("overrides")
T0 = 1_800_000_000  # a fixed "now": windows are exact


def send(c, user, n, t, start=0, state="RCPT", **extra):
    """n recipients from user in n separate messages at time t; the replies."""
    out = []
    for i in range(start, start + n):
        out.append(c.ask(sasl_username=user, sender=user, recipient="r%d@dest.example" % i,
                         instance="inst.%s.%d" % (user, i), protocol_state=state,
                         policyd_time="%d" % t, **extra))
    return out


def capped_after(replies):
    """How many were accepted before the first DEFER."""
    for i, r in enumerate(replies):
        if r.startswith("DEFER"):
            return i
    return len(replies)


def main():
    r = Redis(appendonly=False)
    d = pdtest.tempdir("pdovr.")
    ovr = os.path.join(d, "overrides")
    until = T0 + 3600
    with open(ovr, "w") as f:
        f.write("# domain and mailbox exceptions\n"
                "big.example       rcpt_hour=8\n"
                "free.example      exempt=yes\n"
                "vip@big.example   rcpt_hour=12\n"
                "raised@small.example  raise_rcpt_hour=9\n"
                "    raise_until=%d\n" % until)
    logins = os.path.join(d, "logins")
    with open(logins, "w") as f:
        f.write("shared@corp.example   alice@corp.example, bob@corp.example\n"
                "@corp.example         carol@corp.example\n")
    conf = {"redis_server": "unix:" + r.sock, "trust_request_time": "yes",
            "limit_recipients_per_hour": "4", "limit_recipients_per_day": "0",
            "limit_messages_per_hour": "0", "limit_messages_per_day": "0",
            "overrides_file": ovr, "sender_login_match": "map",
            "sender_login_maps": logins, "mode": "enforce"}
    p = Policyd(conf).start()
    pdtest.log_has(p, "recipient hash key")
    S.check(pdtest.log_has(p, r"overrides: 2 mailbox overrides written"),
            "the file's mailbox entries are written to Redis at start (logged)")
    c = p.connect()

    # defaults, domain, mailbox over domain
    S.check(capped_after(send(c, "joe@other.example", 6, T0)) == 4,
            "a mailbox without overrides is capped at the default (4 per hour)")
    S.check(capped_after(send(c, "ann@big.example", 10, T0)) == 8,
            "a mailbox of a domain with an entry gets the domain's cap (8)")
    n = capped_after(send(c, "vip@big.example", 14, T0))
    S.check(n == 12,
            "a mailbox entry overrides its domain's (12 over 8; %d)" % n)
    S.check(capped_after(send(c, "any@free.example", 30, T0)) == 30,
            "an exempt domain is never capped (30 of 30 accepted)")
    deferred = send(c, "joe@other.example", 1, T0, start=100)[0]
    S.check(deferred.startswith("DEFER_IF_PERMIT 4.7.1") and not any(ch.isdigit()
            for ch in deferred.split("4.7.1", 1)[1]),
            "the deferral text states no numbers (%r)" % deferred)
    S.check(pdtest.log_has(p, r"user=joe@other\.example .*action=DEFER"),
            "the deferral is logged per user")

    # the helpdesk sees what is applied, the file's domain entry included
    out = subprocess.run([os.path.join(pdtest.BUILD, "policyctl"), "-s", p.status_sock, "--json", "show",
                          "ann@big.example"], capture_output=True, text=True, timeout=10)
    shown = json.loads(out.stdout) if out.returncode == 0 else {}
    lim = shown.get("limits", {}).get("rcpt_hour", {})
    S.check(lim == {"value": 8, "source": "domain"} and
            shown.get("domain_overrides_from") == "overrides_file",
            "policyctl show gives the file's domain cap and its source (%s)" % lim)

    # the file's mailbox entries are in Redis, where track.lua reads them
    keys = [k for k in r.cli("--scan", "--pattern", "pd:1:*:ovr").split("\n") if k]
    S.check(len(keys) == 2 and any("vip@big.example" in k for k in keys),
            "the file's two mailbox entries are seeded into ovr hashes (%s)" % keys)

    # a temporary raise, then its expiry
    S.check(capped_after(send(c, "raised@small.example", 12, T0)) == 9,
            "a temporary raise lifts the cap (9 over the default 4)")
    later = until + 2 * 3600  # the raise has expired and the hour has rolled off
    S.check(capped_after(send(c, "raised@small.example", 6, later, start=50)) == 4,
            "after raise_until the default cap applies again")

    # the helpdesk's domain entry in Redis wins over the file (re-read every 10 s)
    r.call("HSET", "pd:1:domains", "big.example", "rcpt_hour=2")
    t1 = T0 + 5 * 86400
    ok = pdtest.wait_for(lambda: capped_after(
        send(c, "new%d@big.example" % int(time.time() * 1000), 3, t1)) == 2,
        timeout=15, step=1, what="domain entry from Redis")
    S.check(ok, "a domain entry in Redis replaces the file's within the poll interval")

    # SIGHUP with a broken file: logged, previous entries kept
    with open(ovr, "a") as f:
        f.write("broken.example rcpt_hour=lots\n")
    p.signal(signal.SIGHUP)
    S.check(pdtest.log_has(p, r"overrides:7: bad value for rcpt_hour.*keeping the previous"), "a bad overrides file at reload is "
            "logged with its line number")
    S.check(capped_after(send(c, "vip@big.example", 14, T0 + 9 * 86400, start=200)) == 12,
            "after a bad reload the previous entries stay in force")
    S.check(p.proc.poll() is None, "policyd keeps running after the bad reload")

    # sender_login_maps: the owners of a sender address
    def mismatch(user, sender, i):
        c.ask(sasl_username=user, sender=sender, recipient="x%d@dest.example" % i,
              instance="lm.%d" % i, policyd_time="%d" % (T0 + 20 * 86400))
        line = [l for l in p.read_log().splitlines() if "rcpt=x%d@dest.example" % i in l]
        return line[-1] if line else ""
    S.check("ID-1" not in mismatch("alice@corp.example", "shared@corp.example", 1),
            "a login listed for a sender address is no mismatch")
    S.check("ID-1" not in mismatch("carol@corp.example", "carol@corp.example", 2),
            "an @domain entry lists the logins of the whole domain")
    line = mismatch("mallory@corp.example", "shared@corp.example", 3)
    S.check("ID-1" in line, "a login not listed for the sender is counted as a mismatch "
            "(%s)" % line[line.find("verdict="):][:120])
    p.stop()

    # a bad file at start is fatal, with file:line
    bad = Policyd(dict(conf, overrides_file=ovr))
    bad.start(wait=False)
    rc = bad.proc.wait(10)
    S.check(rc != 0 and "overrides:7: bad value" in bad.read_log(),
            "a bad overrides file at start: policyd exits with the line (exit %d)" % rc)
    r.stop()
    S.done()


if __name__ == "__main__":
    pdtest.main(main)
