# SPDX-License-Identifier: MIT
"""Tracking end to end: real policyd processes asking a real redis-server, with the clock
driven by the test (trust_request_time = yes, policyd_time=...). What a postmaster checks:
the replies, the counts in policyd's log lines, and the Redis keys themselves.

  counting   one message of N recipients counts 1 message and N recipients; DATA and
             END-OF-MESSAGE record the final recipient count and count nothing again;
             logins without sasl_username (or at an uncounted state) never reach Redis
  nodes      two policyd processes on one Redis agree on every count
  windows    the 60-minute window rolls off 5-minute bucket by bucket, the 24-hour one
             hour by hour; slots that leave the window are deleted
  caps       all four caps answer rate_limit_action (no numbers in it), the log states
             the cap, refused retries do not consume quota, the window releases them
  overrides  the mailbox's ovr hash: mailbox > default per cap, exempt, 0 = off, a raise
             that ends at raise_until
  hostile    '{', '}', spaces, CR, UTF-8, 500-byte logins: no collision, one hash tag per
             key, no control byte in the log, no recipient in clear in Redis
  outages    Redis SIGKILLed, SIGSTOPped, restarted, SCRIPT FLUSHed under a stream of
             requests: every request answered in time with redis_fail_action (DUNNO and
             DEFER_IF_PERMIT), the outage and the recovery logged once each, counting resumes
  late redis policyd started before its Redis: answered at once, connects when it can
  loading    Redis restarted with a slow-loading data set: -LOADING is not "available",
             and policyd comes back by itself once the data is loaded
  data loss  Redis without persistence restarts empty: a node started afterwards must
             still hash recipients like the running ones (the shared hash key)

Every daemon is stopped with SIGTERM at the end and must exit 0 with every handle closed
and no sanitizer report. A failed check ends its section only; the suite then fails.
"""
import os
import re
import signal
import struct
import threading
import time

import pdtest
from pdtest import Policyd, Redis, Suite

S = Suite("tracking")

T0 = 1767225600  # 2026-01-01 00:00:00 UTC: a day boundary, so hour and 5-minute aligned
assert T0 % 86400 == 0
RATE_ACTION = "DEFER_IF_PERMIT 4.7.1 Sending rate limit reached, please try again later"
FAIL_DEFER = "DEFER_IF_PERMIT 4.3.0 Service temporarily unavailable"
REDIS_TIMEOUT = 0.200
# What "in time" allows beyond redis_timeout: scheduling on 2 busy cores under ASan.
MARGIN = float(os.environ.get("PD_LATENCY_MARGIN", "0.300"))

RECIPIENTS = set()  # every recipient address sent, to look for in Redis afterwards
COUNTERS = ("rcpt", "msgs", "refused", "new_rcpt", "new_dom", "new_net", "mismatch")
PER_MAILBOX = ("st", "kr", "kd", "net", "ovr", "blk", "hist")
GLOBAL_KEYS = {b"pd:1:hashkey", b"pd:1:blocked"}

# ---------------------------------------------------------------------------- helpers


def _defaults():
    out = []
    for line in pdtest.request().splitlines():
        if line:
            k, v = line.split("=", 1)
            out.append((k, v.encode()))
    return out


DEFAULTS = _defaults()


def brequest(**attrs):
    """pdtest.request() with byte-exact values (str or bytes; None drops the attribute)."""
    a = dict(DEFAULTS)
    for k, v in attrs.items():
        if v is None:
            a.pop(k, None)
        else:
            a[k] = v if isinstance(v, bytes) else str(v).encode()
    return b"".join(k.encode() + b"=" + v + b"\n" for k, v in a.items()) + b"\n"


def enc(mailbox):
    """keys_encode for a literal encoding: [a-z0-9@._+-] kept, any other byte %XX."""
    if isinstance(mailbox, str):
        mailbox = mailbox.encode()
    keep = set(b"abcdefghijklmnopqrstuvwxyz0123456789@._+-")
    return "".join(chr(c) if c in keep else "%%%02X" % c for c in mailbox)


def normalise(login):
    """keys_normalise without a default domain: trimmed, ASCII letters lowercased."""
    if isinstance(login, str):
        login = login.encode()
    return bytes(c + 32 if 65 <= c <= 90 else c for c in login.strip(b" \t\r\n\v\f"))


def key(mailbox, suffix):
    return "pd:1:{%s}:%s" % (enc(normalise(mailbox)), suffix)


def unpack_ring(raw):
    v = struct.unpack("<15I", raw)
    return v[0], dict(zip(COUNTERS, v[1:8])), dict(zip(COUNTERS, v[8:15]))


def state(r, tag_key):
    """The st hash of a mailbox as stored: window totals and today's counters."""
    h = r.call("HGETALL", tag_key)
    h = dict(zip(h[::2], h[1::2]))
    out = {"fields": set(h)}
    if b"f" in h:
        out["b5"], tot, _ = unpack_ring(h[b"f"])
        out.update({k + "_1h": v for k, v in tot.items()})
    if b"h" in h:
        out["b60"], tot, _ = unpack_ring(h[b"h"])
        out.update({k + "_24h": v for k, v in tot.items()})
    if b"d" in h:
        d = struct.unpack("<13I", h[b"d"])
        out.update(day=d[0], day_rcpt=d[1], day_msgs=d[2], day_max_hour=d[3],
                   day_max_msg=d[4], first_seen=d[10], c0=d[11], c1=d[12])
    out["i0"], out["i1"] = h.get(b"i0"), h.get(b"i1")
    return out


def mstate(r, mailbox):
    return state(r, key(mailbox, "st"))


DECISION = re.compile(r"conn=[0-9a-f]{8} user=(\S*) client=(\S*) rcpt=(\S*) state=(\S*) "
                      r"action=(.*?) verdict=(\S+)(.*) delay=([0-9.]+)ms$")


def decisions(text):
    out = []
    for line in text.splitlines():
        m = DECISION.search(line)
        if m:
            d = {"user": m.group(1), "rcpt": m.group(3), "state": m.group(4),
                 "action": m.group(5), "verdict": m.group(6), "extra": m.group(7),
                 "line": line}
            for k, v in re.findall(r" (\w+)=(\d+)(?= |$)", m.group(7)):
                d[k] = int(v)
            rm = re.search(r'rules="(.*)"', m.group(7))
            d["rules"] = rm.group(1) if rm else ""
            out.append(d)
    return out


class Node:
    """One policyd with one persistent client: ask() returns the reply and the log line
    policyd wrote for that request."""

    def __init__(self, p):
        self.p = p
        self.c = p.connect()

    def ask(self, **attrs):
        off = os.path.getsize(self.p.log)
        self.c.send(brequest(**attrs))
        reply = self.c.read_reply()
        with open(self.p.log, "rb") as f:
            f.seek(off)
            new = decisions(f.read().decode("utf-8", "replace"))
        assert len(new) == 1, "expected one decision line, got %r" % new
        return reply, new[0]


def rcpt(node, user, to, t, inst, **kw):
    RECIPIENTS.add(to if isinstance(to, bytes) else to.encode())
    return node.ask(sasl_username=user, recipient=to, policyd_time=t, instance=inst, **kw)


def eom(node, user, t, inst, count, state="END-OF-MESSAGE"):
    return node.ask(sasl_username=user, recipient="", policyd_time=t, instance=inst,
                    protocol_state=state, recipient_count=count)


NODES = []  # (name, Policyd) of every daemon started: checked and stopped at the end


def start_policyd(redis, name, wait_key=True, **conf):
    settings = {"redis_server": "unix:" + redis.sock, "trust_request_time": "yes",
                "redis_timeout": "200ms"}
    settings.update({k: str(v) for k, v in conf.items()})
    p = Policyd(settings).start()
    NODES.append((name, p))
    if wait_key:
        pdtest.log_has(p, "recipient hash key: shared key from Redis in use")
    return p


def commandstats(r):
    text = r.call("INFO", "commandstats").decode()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"cmdstat_(\S+?):calls=(\d+)", text)}


def no_digits(reply):
    return not re.search(r"\d", reply.replace("4.7.1", "", 1))


# ---------------------------------------------------------------------------- counting


def counting(r, n):
    u = "multi@example.com"
    got = [rcpt(n, u, "m%d@dest.example" % i, T0 + 60 + i, "MSG-1") for i in range(4)]
    S.check([a for a, _ in got] == ["DUNNO"] * 4 and
            [d["rcpt_1h"] for _, d in got] == [1, 2, 3, 4],
            "one message to 4 recipients: DUNNO each, the log counts rcpt_1h 1, 2, 3, 4")
    st = mstate(r, u)
    S.check(st["msgs_1h"] == 1 and st["msgs_24h"] == 1 and st["rcpt_1h"] == 4 and
            st["rcpt_24h"] == 4,
            "Redis: that is 1 message and 4 recipients in the 60-minute and 24-hour windows "
            "(%d msgs, %d rcpt)" % (st["msgs_1h"], st["rcpt_1h"]))
    S.check(st["i0"] == b"MSG-1" and st["c0"] == 4 and st["day_max_msg"] == 4,
            "Redis: the message's instance and its 4 recipients are remembered")

    a, d = eom(n, u, T0 + 70, "MSG-1", 4, state="DATA")
    a2, d2 = eom(n, u, T0 + 71, "MSG-1", 4)
    st2 = mstate(r, u)
    S.check(a == a2 == "DUNNO" and d["rcpt_1h"] == d2["rcpt_1h"] == 4,
            "DATA and END-OF-MESSAGE are answered DUNNO and the log still says rcpt_1h=4")
    S.check(st2["rcpt_1h"] == 4 and st2["msgs_1h"] == 1 and st2["refused_1h"] == 0 and
            st2["day_rcpt"] == 4 and st2["day_msgs"] == 1,
            "Redis: DATA and END-OF-MESSAGE counted no recipient and no message again")

    # Postfix accepted 3 recipients from us but a later restriction refused one: the final
    # count is 2, and the message's largest-so-far stays that of the bigger message.
    for i in range(3):
        rcpt(n, u, "n%d@dest.example" % i, T0 + 80 + i, "MSG-2")
    eom(n, u, T0 + 90, "MSG-2", 2)
    st3 = mstate(r, u)
    S.check(st3["i0"] == b"MSG-2" and st3["c0"] == 2 and st3["i1"] == b"MSG-1" and st3["c1"] == 4,
            "END-OF-MESSAGE records the final recipient count (2 of the 3 RCPTs) for its "
            "message, the previous message keeps its 4")
    S.check(st3["rcpt_1h"] == 7 and st3["msgs_1h"] == 2 and st3["day_max_msg"] == 4,
            "Redis: 2 messages, 7 recipients; the day's largest message is still 4")

    # Two sessions of one mailbox sending at the same time: each message counted once.
    u2 = "twosessions@example.com"
    for i in range(6):
        rcpt(n, u2, "s%d@dest.example" % i, T0 + 100 + i, "A" if i % 2 == 0 else "B")
    st4 = mstate(r, u2)
    S.check(st4["msgs_1h"] == 2 and st4["rcpt_1h"] == 6 and st4["c0"] == 3 and st4["c1"] == 3,
            "two interleaved messages of one mailbox: 2 messages of 3 recipients each")

    # Never reaching Redis: no login, an empty login, a blank one, uncounted states.
    before_keys = r.call("DBSIZE")
    before = commandstats(r)
    cases = [
        ("no sasl_username", {"sasl_username": None}, "UNAUTHENTICATED"),
        ("an empty sasl_username", {"sasl_username": ""}, "UNAUTHENTICATED"),
        ("a blank sasl_username", {"sasl_username": "   "}, "BAD-LOGIN"),
    ] + [("state %s" % s, {"protocol_state": s, "sasl_username": "alice@example.com"},
          "NOT-COUNTED") for s in ("CONNECT", "EHLO", "HELO", "MAIL", "VRFY", "ETRN")]
    ok = []
    for what, attrs, verdict in cases:
        attrs.setdefault("recipient", "someone@dest.example")
        RECIPIENTS.add(attrs["recipient"].encode())
        a, d = n.ask(policyd_time=T0 + 200, instance="U-1", **attrs)
        ok.append(a == "DUNNO" and d["verdict"] == verdict)
    after = commandstats(r)
    S.check(all(ok), "no login, an empty or blank login, and CONNECT/EHLO/HELO/MAIL/VRFY/ETRN "
            "are answered DUNNO (logged UNAUTHENTICATED, BAD-LOGIN, NOT-COUNTED)")
    after.pop("info", None)
    before.pop("info", None)
    S.check(after == before and r.call("DBSIZE") == before_keys,
            "none of those %d requests reached Redis (command counts unchanged)" % len(cases))


# ---------------------------------------------------------------------------- two nodes


def two_nodes(r):
    p1 = start_policyd(r, "node 1", limit_recipients_per_hour=9)
    p2 = start_policyd(r, "node 2", limit_recipients_per_hour=9)
    n1, n2 = Node(p1), Node(p2)
    key_text = r.call("GET", "pd:1:hashkey")
    S.check(key_text is not None and re.fullmatch(rb"[0-9a-f]{32}", key_text) is not None,
            "both nodes share the one recipient hash key kept in Redis (pd:1:hashkey)")
    u = "shared@example.com"
    res = []
    for i in range(12):
        node = (n1, n2)[i % 2]
        res.append(rcpt(node, u, "x%d@dest.example" % i, T0 + 10 + i, "SH-1"))
    S.check([a for a, _ in res] == ["DUNNO"] * 9 + [RATE_ACTION] * 3,
            "12 recipients of one message, alternating between two nodes: the 10th, 11th, "
            "12th are deferred by whichever node gets them (cap 9)")
    S.check([d.get("rcpt_1h") for _, d in res[:9]] == list(range(1, 10)),
            "the two logs together count rcpt_1h 1..9, one step per request")
    S.check(all("rcpt 60m 9, cap 9" in d["rules"] for _, d in res[9:]),
            "both nodes log the same cap evidence (rcpt 60m 9, cap 9)")
    st = mstate(r, u)
    S.check(st["msgs_1h"] == 1 and st["rcpt_1h"] == 9 and st["refused_1h"] == 3,
            "Redis: one message, 9 recipients, 3 refused, whichever node counted them")

    u2 = "shared2@example.com"
    rcpt(n1, u2, "Same@Dest.example", T0 + 30, "SH-2")
    rcpt(n2, u2, "same@dest.example", T0 + 31, "SH-2")
    rcpt(n2, u2, "other@dest.example", T0 + 32, "SH-2")
    kr = r.call("GET", key(u2, "kr"))
    kd = r.call("GET", key(u2, "kd"))
    S.check(len(kr) == 2 * 7 and len(kd) == 7,
            "the same recipient sent through either node is one known recipient (2 of 3 "
            "remembered, one domain): both nodes hash it with the same key")

    long_login = "L" * 500 + "@example.com"
    res = [rcpt((n1, n2)[i % 2], long_login, "y%d@dest.example" % i, T0 + 40 + i, "SH-3")
           for i in range(4)]
    tags = [k for k in r.call("KEYS", "pd:1:{h~*}:st")]
    S.check([d["rcpt_1h"] for _, d in res] == [1, 2, 3, 4] and len(tags) == 1,
            "a 500-byte login alternating between nodes is one mailbox (one hashed tag, "
            "rcpt_1h 1..4)")


# ---------------------------------------------------------------------------- windows


def windows(r, n):
    u = "win@example.com"
    events = []

    def want_1h(t):
        b = t // 300
        return sum(1 for e in events if b - 11 <= e // 300 <= b)

    def want_24h(t):
        b = t // 3600
        return sum(1 for e in events if b - 23 <= e // 3600 <= b)

    seen = []
    for k in range(12):
        t = T0 + 300 * k + 10
        _, d = rcpt(n, u, "w%d@dest.example" % k, t, "W-%d" % k)
        events.append(t)
        seen.append(d["rcpt_1h"])
    S.check(seen == list(range(1, 13)), "one recipient in each of twelve 5-minute buckets: "
            "rcpt_1h 1..12")
    _, d = eom(n, u, T0 + 3599, "none", 0, state="DATA")
    _, d2 = eom(n, u, T0 + 3600, "none", 0, state="DATA")
    S.check(d["rcpt_1h"] == 12 and d2["rcpt_1h"] == 11,
            "at 00:59:59 the first bucket is still in the hour (12); at 01:00:00 it has "
            "rolled off (11)")
    seen, want = [], []
    for j in range(1, 29):
        t = T0 + 3600 + 300 * j
        if j == 5:  # one counted request mid-way: the write path drops 6 slots at once
            t += 1
            _, d = rcpt(n, u, "late@dest.example", t, "W-late")
            events.append(t)
        else:  # DATA of no known message: reads the windows, writes nothing
            _, d = eom(n, u, t, "none", 0, state="DATA")
        seen.append(d["rcpt_1h"])
        want.append(want_1h(t))
    S.check(seen == want and want[:6] == [10, 9, 8, 7, 7, 6] and want[-1] == 0,
            "then one bucket rolls off every 5 minutes: %s" % seen)
    S.check(d["rcpt_24h"] == want_24h(T0 + 3600 + 300 * 28) == 13,
            "meanwhile all 13 stay in the 24-hour window")
    _, d = rcpt(n, u, "last@dest.example", T0 + 3600 + 300 * 29, "W-last")
    fields = mstate(r, u)["fields"]
    S.check(d["rcpt_1h"] == 1 and not any(re.fullmatch(rb"f\d+", f) for f in fields),
            "the next counted request counts 1 and deletes every 5-minute slot that left "
            "the window (fields now %s)" % sorted(f.decode() for f in fields))

    # 24 hours of hourly buckets
    u = "win24@example.com"
    events = []
    seen = []
    for h in range(24):
        t = T0 + 3600 * h + 30
        _, d = rcpt(n, u, "h%d@dest.example" % h, t, "H-%d" % h)
        events.append(t)
        seen.append((d["rcpt_24h"], d["rcpt_1h"]))
    S.check(seen == [(h + 1, 1) for h in range(24)],
            "one recipient per hour for 24 hours: rcpt_24h 1..24, rcpt_1h 1 each time")
    _, d = eom(n, u, T0 + 86399, "none", 0, state="DATA")
    _, d2 = eom(n, u, T0 + 86400, "none", 0, state="DATA")
    S.check(d["rcpt_24h"] == 24 and d2["rcpt_24h"] == 23,
            "at 23:59:59 the first hour is still in the day (24); at midnight it rolls off (23)")
    seen, want = [], []
    for j in range(1, 25):
        t = T0 + 86400 + 3600 * j
        if j == 10:
            _, d = rcpt(n, u, "h-late@dest.example", t + 5, "H-late")
            events.append(t + 5)
            t += 5
        else:
            _, d = eom(n, u, t, "none", 0, state="DATA")
        seen.append(d["rcpt_24h"])
        want.append(want_24h(t))
    S.check(seen == want and want[:3] == [22, 21, 20] and want[-1] == 1,
            "then one hour rolls off every hour: %s" % seen)
    # Idle longer than both rings: one request starts them again from zero.
    _, d = rcpt(n, u, "again@dest.example", T0 + 5 * 86400, "H-again")
    st = mstate(r, u)
    S.check(d["rcpt_1h"] == 1 and d["rcpt_24h"] == 1 and st["rcpt_24h"] == 1 and
            not any(re.fullmatch(rb"[fh]\d+", f) for f in st["fields"]),
            "after 3 idle days one recipient counts 1 in each window; no stale slot is left")


# ---------------------------------------------------------------------------- caps


def caps(r, n):
    a_user, b_user = "capa@example.com", "capb@example.com"
    res = [rcpt(n, a_user, "a%d@dest.example" % i, T0 + 60 + i, "A-1") for i in range(5)]
    S.check([x for x, _ in res] == ["DUNNO"] * 4 + [RATE_ACTION],
            "cap of 4 recipients per hour: the 5th recipient is deferred")
    a, d = res[4]
    S.check(a.startswith("DEFER_IF_PERMIT 4.7.1 ") and no_digits(a),
            "the reply is DEFER_IF_PERMIT 4.7.1 with a text without numbers (%s)" % a)
    S.check(d["verdict"] == "DEFER" and "CAP-H(defer) rcpt 60m 4, cap 4 (default)" in d["rules"],
            "the log line states the cap: %s" % d["rules"])
    retries = [rcpt(n, a_user, "a4@dest.example", T0 + t, "A-retry-%d" % t)
               for t in (300, 900, 1800, 3599)]
    st = mstate(r, a_user)
    S.check([x for x, _ in retries] == [RATE_ACTION] * 4 and st["rcpt_1h"] == 4 and
            st["msgs_1h"] == 1 and st["refused_1h"] == 5,
            "4 retries within the hour are deferred too and counted as refused, not as sent "
            "(4 rcpt, 1 msg, %d refused)" % st["refused_1h"])
    a, d = rcpt(n, a_user, "a4@dest.example", T0 + 3600, "A-2")
    S.check(a == "DUNNO" and d["rcpt_1h"] == 1 and d["rcpt_24h"] == 5,
            "at 01:00 the hour has moved: the retry is accepted (rcpt_1h=1, rcpt_24h=5)")
    for i in range(2):
        rcpt(n, a_user, "b%d@dest.example" % i, T0 + 3610 + i, "A-2")
    a, d = rcpt(n, a_user, "c0@dest.example", T0 + 7200, "A-3")
    a2, d2 = rcpt(n, a_user, "c1@dest.example", T0 + 7201, "A-3")
    S.check(a == "DUNNO" and d["rcpt_24h"] == 8 and a2 == RATE_ACTION and
            "CAP-D(defer) rcpt 24h 8, cap 8 (default)" in d2["rules"],
            "cap of 8 recipients per day: the 9th in 24 h is deferred (%s)" % d2["rules"])
    a, d = rcpt(n, a_user, "c1@dest.example", T0 + 86399, "A-4")
    a2, d2 = rcpt(n, a_user, "c1@dest.example", T0 + 86400, "A-5")
    S.check(a == RATE_ACTION and a2 == "DUNNO" and d2["rcpt_24h"] == 5,
            "released when the first hour leaves the day: deferred at 23:59:59, accepted at "
            "midnight (rcpt_24h=5)")

    msgs = [rcpt(n, b_user, "m%d@dest.example" % i, T0 + 60 + i, "B-%d" % i) for i in range(4)]
    S.check([x for x, _ in msgs] == ["DUNNO"] * 3 + [RATE_ACTION] and
            "CAP-MH(defer) msgs 60m 3, cap 3 (default)" in msgs[3][1]["rules"],
            "cap of 3 messages per hour: the 4th message is deferred (%s)" % msgs[3][1]["rules"])
    a, d = rcpt(n, b_user, "extra@dest.example", T0 + 70, "B-2")
    st = mstate(r, b_user)
    S.check(a == "DUNNO" and st["msgs_1h"] == 3 and st["rcpt_1h"] == 4 and st["refused_1h"] == 1,
            "another recipient of a message already counted is still accepted (3 msgs, "
            "4 rcpt, 1 refused)")
    out = [rcpt(n, b_user, "p%d@dest.example" % i, T0 + 3600 + i, "B-h1-%d" % i)
           for i in range(3)]
    S.check([x for x, _ in out] == ["DUNNO", "DUNNO", RATE_ACTION] and
            "CAP-MD(defer) msgs 24h 5, cap 5 (default)" in out[2][1]["rules"],
            "cap of 5 messages per day: the 6th message in 24 h is deferred (%s)" %
            out[2][1]["rules"])
    st = mstate(r, b_user)
    S.check(st["msgs_24h"] == 5 and st["refused_24h"] == 2,
            "Redis: 5 messages and 2 refused attempts in 24 h")
    a, d = rcpt(n, b_user, "p2@dest.example", T0 + 86400 + 1, "B-d1")
    S.check(a == "DUNNO", "released when the first hour's 3 messages leave the day")


# ---------------------------------------------------------------------------- overrides


def ovr_set(r, mailbox, *pairs):
    r.cli("DEL", key(mailbox, "ovr"))
    r.cli("HSET", key(mailbox, "ovr"), *pairs)


def overrides(r, n):
    # Caps of this node: 4/h, 8/d recipients, 3/h, 5/d messages.
    u = "ovr-low@example.com"
    ovr_set(r, u, "lim_rcpt_hour", 2)
    S.check(r.cli("EXISTS", "pd:1:{ovr-low@example.com}:ovr") == "1",
            "the override hash of ovr-low@example.com is pd:1:{ovr-low@example.com}:ovr")
    res = [rcpt(n, "  OVR-Low@Example.COM ", "o%d@dest.example" % i, T0 + 60 + i, "O-1")
           for i in range(3)]
    S.check([x for x, _ in res] == ["DUNNO", "DUNNO", RATE_ACTION] and
            "rcpt 60m 2, cap 2 (mailbox)" in res[2][1]["rules"],
            "lim_rcpt_hour=2 in the mailbox's ovr hash applies to the normalised login "
            "(%s)" % res[2][1]["rules"])
    for h in (1, 2, 3):
        for i in range(2):
            rcpt(n, u, "o%d-%d@dest.example" % (h, i), T0 + 3600 * h + i, "O-h%d" % h)
    a, d = rcpt(n, u, "o9@dest.example", T0 + 4 * 3600, "O-h4")
    S.check(a == RATE_ACTION and "rcpt 24h 8, cap 8 (default)" in d["rules"],
            "the caps it does not override are inherited from the defaults, and the log "
            "says so: %s" % d["rules"])

    u = "ovr-day@example.com"
    ovr_set(r, u, "lim_rcpt_day", 100)
    res = [rcpt(n, u, "d%d@dest.example" % i, T0 + 60 + i, "D-1") for i in range(5)]
    S.check([x for x, _ in res] == ["DUNNO"] * 4 + [RATE_ACTION] and
            "rcpt 60m 4, cap 4 (default)" in res[4][1]["rules"],
            "a mailbox that only overrides the day cap keeps the default hour cap, logged "
            "as the default: %s" % res[4][1]["rules"])

    u = "ovr-off@example.com"
    ovr_set(r, u, "lim_rcpt_hour", 0)
    res = [rcpt(n, u, "f%d@dest.example" % i, T0 + 60 + i, "F-1") for i in range(7)]
    S.check([x for x, _ in res] == ["DUNNO"] * 7,
            "lim_rcpt_hour=0 turns the hour cap off for that mailbox (7 recipients accepted)")

    u = "ovr-exempt@example.com"
    ovr_set(r, u, "exempt", 1)
    res = [rcpt(n, u, "e%d@dest.example" % i, T0 + 60 + i, "E-%d" % (i // 2))
           for i in range(12)]
    st = mstate(r, u)
    S.check([x for x, _ in res] == ["DUNNO"] * 12 and
            all(d["verdict"] == "PASS" for _, d in res),
            "an exempt mailbox is never capped: 12 recipients in 6 messages, all DUNNO")
    S.check(st["rcpt_1h"] == 12 and st["msgs_1h"] == 6 and st["refused_1h"] == 0,
            "Redis: the exempt mailbox is still counted (12 recipients, 6 messages)")
    r.cli("HSET", key(u, "ovr"), "exempt", 0)
    a, d = rcpt(n, u, "e12@dest.example", T0 + 120, "E-9")
    S.check(a == RATE_ACTION and "cap 4 (default)" in d["rules"],
            "exempt=0: the same mailbox is capped at once by what it sent while exempt")

    u = "ovr-raise@example.com"
    ovr_set(r, u, "lim_rcpt_hour", 2, "raise_rcpt_hour", 6, "raise_until", T0 + 1800)
    res = [rcpt(n, u, "r%d@dest.example" % i, T0 + 60 + i, "R-1") for i in range(7)]
    S.check([x for x, _ in res] == ["DUNNO"] * 6 + [RATE_ACTION] and
            "rcpt 60m 6, cap 6 (raised)" in res[6][1]["rules"],
            "a raise to 6 wins over the mailbox's 2 until raise_until: %s" % res[6][1]["rules"])
    a, d = rcpt(n, u, "r7@dest.example", T0 + 1799, "R-2")
    a2, d2 = rcpt(n, u, "r7@dest.example", T0 + 1800, "R-3")
    S.check(a == a2 == RATE_ACTION and "cap 6 (raised)" in d["rules"] and
            "rcpt 60m 6, cap 2 (mailbox)" in d2["rules"],
            "at raise_until the raise has expired and the mailbox's own cap applies again")
    res = [rcpt(n, u, "s%d@dest.example" % i, T0 + 3600 + i, "R-4") for i in range(3)]
    S.check([x for x, _ in res] == ["DUNNO", "DUNNO", RATE_ACTION],
            "the next hour: 2 recipients, then the mailbox cap")


# ---------------------------------------------------------------------------- hostile


HOSTILE = [
    b"a{b}@example.com", b"a}b{@example.com", b"{a}@example.com", b"a%7Bb%7D@example.com",
    b"a%257bb%257d@example.com", b"a b@example.com", b"a%20b@example.com", b"a\rb@example.com",
    b"a?b@example.com", b"a\tb@example.com", b"a\x1b[31mred@example.com",
    "jöns@exämple.org".encode(), b"j%C3%B6ns@ex%C3%A4mple.org", "JÖNS@exämple.org".encode(),
    b"\xff\xfe@example.com", b"h~0123456789abcdef0123456789abcdef",
    b"x" * 500, b"x" * 499 + b"y", b"{" * 500, b"}" * 250 + b"{" * 250,
    "é".encode() * 250,
]


def all_keys(r):
    return set(r.call("KEYS", "*"))


def tag_of(k):
    m = re.fullmatch(rb"pd:1:\{([^{}]*)\}:([a-z]+)", k)
    return m.group(1) if m else None


def hostile(r, n):
    before = all_keys(r)
    expect_literal, expect_hashed = {}, []
    for i, user in enumerate(HOSTILE):
        for j in range(i + 1):
            to = b"R%d.%d {x}\r\xc3\xbc@Hostile-Domain-%d.example" % (i, j, i)
            a, _ = rcpt(n, user, to, T0 + 60 + j, b"HOSTILE-%d" % i)
            assert a == "DUNNO", (user, a)
        e = enc(normalise(user))
        if len(e) <= 200:
            expect_literal[e.encode()] = i + 1
        else:
            expect_hashed.append(i + 1)
    new = all_keys(r) - before
    st_keys = [k for k in new if k.endswith(b":st")]
    counts = {tag_of(k): state(r, k)["rcpt_1h"] for k in st_keys}
    S.check(len(st_keys) == len(HOSTILE),
            "%d hostile logins give %d mailboxes: no two of them collide" %
            (len(HOSTILE), len(st_keys)))
    S.check(all(counts.get(t) == c for t, c in expect_literal.items()),
            "each literal one is stored under its %%XX encoding with its own count "
            "(e.g. pd:1:{a%%7Bb%%7D@example.com}:st, pd:1:{a%%0Db@example.com}:st)")
    hashed = sorted(c for t, c in counts.items() if t.startswith(b"h~"))
    S.check(hashed == sorted(expect_hashed) and
            all(re.fullmatch(rb"h~[0-9a-f]{32}", t) for t in counts if t.startswith(b"h~")),
            "the %d long ones (500 bytes) get distinct h~<hash> tags with their own counts" %
            len(expect_hashed))
    S.check(b"h%7E0123456789abcdef0123456789abcdef" in counts,
            "a login that looks like a hashed tag is encoded, not taken as one")

    keys = all_keys(r)
    bad = [k for k in keys if k not in GLOBAL_KEYS and not (
        k.count(b"{") == 1 and k.count(b"}") == 1 and tag_of(k) is not None and
        tag_of(k) != b"" and re.fullmatch(rb"[a-z0-9@._+%A-F~-]+", tag_of(k)) and
        k.rsplit(b":", 1)[1].decode() in PER_MAILBOX)]
    S.check(not bad, "every one of the %d keys is a global key or <prefix>1:{tag}:suffix with "
            "exactly one '{' and one '}' and a tag of [a-z0-9@._+%%A-F~-]: %r" %
            (len(keys), bad[:3]))
    no_ttl = [k for k in keys if k not in GLOBAL_KEYS and not k.endswith((b":ovr", b":blk"))
              and r.call("PTTL", k) <= 0]
    S.check(not no_ttl, "every per-mailbox key the script writes has a TTL: %r" % no_ttl[:3])

    # Over-long: beyond the 1024-byte mailbox limit, and a 3000-byte recipient.
    a, d = n.ask(sasl_username="z" * 2000, policyd_time=T0, instance="LONG")
    a2, d2 = rcpt(n, "longrcpt@example.com", "q" * 3000 + "@dest.example", T0, "LONG")
    S.check(a == "DUNNO" and d["verdict"] == "BAD-LOGIN" and a2 == "DUNNO" and
            d2["rcpt_1h"] == 1,
            "a 2000-byte login is answered DUNNO (not counted); a 3000-byte recipient counts")


def log_is_clean(p, what):
    with open(p.log, "rb") as f:
        raw = f.read()
    bad = sorted({c for c in raw if not (0x20 <= c < 0x7f or c == 0x0a)})
    S.check(not bad, "%s: no control or non-ASCII byte in the log (%d bytes): %r" %
            (what, len(raw), bad[:5]))


def dump_redis(r):
    """Every key name and every value byte in Redis, whatever the type."""
    blobs = []
    for k in all_keys(r):
        blobs.append(k)
        t = r.call("TYPE", k)
        if t == b"string":
            blobs.append(r.call("GET", k))
        elif t == b"hash":
            blobs.extend(r.call("HGETALL", k))
        elif t == b"list":
            blobs.extend(r.call("LRANGE", k, 0, -1))
        elif t == b"set":
            blobs.extend(r.call("SMEMBERS", k))
        elif t == b"zset":
            blobs.extend(r.call("ZRANGE", k, 0, -1, "WITHSCORES"))
        elif t == b"stream":
            for _, fields in r.call("XRANGE", k, "-", "+"):
                blobs.extend(fields)
        else:
            raise AssertionError("unexpected type %r of %r" % (t, k))
    return blobs


def no_recipient_in_clear(r, what):
    blobs = dump_redis(r)
    needles = set()
    for a in RECIPIENTS:
        if len(a) >= 8:
            needles.update({a, a.lower(), a.strip().lower()})
        dom = a.rsplit(b"@", 1)[-1] if b"@" in a else b""
        if len(dom) >= 8:
            needles.update({dom, dom.lower()})
    found = [nd for nd in needles if any(nd in b for b in blobs)]
    S.check(not found, "%s: none of %d recipient addresses or domains appears in any of %d "
            "key names and values: %r" % (what, len(RECIPIENTS), len(blobs), found[:3]))
    files = []
    for root, _, names in os.walk(r.dir):
        for name in names:
            if "aof" in name:
                with open(os.path.join(root, name), "rb") as f:
                    files.append(f.read())
    found = [nd for nd in needles if any(nd in b for b in files)]
    S.check(files and not found, "%s: nor in the append-only files on disk (%d files)" %
            (what, len(files)))


# ---------------------------------------------------------------------------- outages


class Stream:
    """Clients sending requests to one policyd in a loop, timing every answer."""

    def __init__(self, p, user, clients=2, pause=0.004):
        self.p, self.user, self.pause = p, user, pause
        self.stop = False
        self.results = []  # (start, latency, reply)
        self.errors = []
        self.sent = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(clients)]

    def run(self, i):
        try:
            c = self.p.connect(timeout=5.0)
            k = 0
            while not self.stop:
                k += 1
                to = "stream%d-%d@dest.example" % (i, k)
                RECIPIENTS.add(to.encode())
                t = time.time()
                with self.lock:
                    self.sent += 1
                c.send(brequest(sasl_username=self.user, recipient=to,
                                instance="ST-%d-%d" % (i, k)))
                reply = c.read_reply()
                self.results.append((t, time.time() - t, reply))
                if reply is None:
                    raise AssertionError("connection closed")
                time.sleep(self.pause)
            c.close()
        except Exception as e:  # noqa: BLE001 - reported by the suite
            self.errors.append(repr(e))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self):
        self.stop = True
        for t in self.threads:
            t.join(10)


def count(p, pattern):
    return len(re.findall(pattern, p.read_log()))


def recovered(nodes, n):
    return all(count(p, r"redis available again") >= n for p in nodes)


def outages():
    # Without the module: the SCRIPT FLUSH checks below need policyd on EVALSHA (with
    # pdtrack.so loaded it counts with PD.TRACK, which no NOSCRIPT reaches).
    r = Redis(appendonly=True, module=False)
    common = {"redis_server": "127.0.0.1:%d" % r.port, "redis_timeout": "200ms"}
    pa = start_policyd(r, "outage node DUNNO", **common)
    pb = start_policyd(r, "outage node DEFER", redis_fail_action=FAIL_DEFER, **common)
    user = "stream@example.com"
    r.cli("HSET", key(user, "ovr"), "exempt", 1)  # no rule may interfere: PASS or FAIL
    nodes = (pa, pb)
    streams = [Stream(pa, user).start(), Stream(pb, user).start()]
    try:
        return outage_sequence(r, nodes, streams, user)
    finally:
        for s in streams:
            s.join()
        r.proc.send_signal(signal.SIGCONT)


def outage_sequence(r, nodes, streams, user):
    pa, pb = nodes
    time.sleep(0.5)

    r.kill()
    time.sleep(1.0)
    r.start()
    pdtest.wait_for(lambda: recovered(nodes, 1), 10, what="recovery after SIGKILL")
    time.sleep(0.3)

    r.proc.send_signal(signal.SIGSTOP)
    time.sleep(2.5)
    r.proc.send_signal(signal.SIGCONT)
    pdtest.wait_for(lambda: recovered(nodes, 2), 10, what="recovery after SIGSTOP")
    time.sleep(0.3)

    r.stop()
    time.sleep(0.5)
    r.start()
    pdtest.wait_for(lambda: recovered(nodes, 3), 10, what="recovery after a restart")
    time.sleep(0.3)

    offsets = [os.path.getsize(p.log) for p in nodes]
    r.cli("SCRIPT", "FLUSH")
    time.sleep(0.5)
    for s in streams:
        s.join()
    # Again with 20 requests in flight at once on each node: all of them get NOSCRIPT.
    # (Redis' script cache is shared: the flush comes just before each node's burst.)
    burst, burst_offsets = [], []
    for p in nodes:
        clients = [p.connect() for _ in range(20)]
        burst_offsets.append(os.path.getsize(p.log))
        r.cli("SCRIPT", "FLUSH")
        for i, c in enumerate(clients):
            c.send(brequest(sasl_username=user, recipient="burst%d@dest.example" % i,
                            instance="BURST-%d" % i))
            RECIPIENTS.add(b"burst%d@dest.example" % i)
        burst += [c.read_reply() for c in clients]
        for c in clients:
            c.close()
    S.check(not any(s.errors for s in streams), "the request streams ran without an error: %r"
            % [s.errors for s in streams])
    lat = [x[1] for s in streams for x in s.results]
    n_req = len(lat)
    print("measure: %d requests during the outages, slowest answer %.0f ms" %
          (n_req, max(lat) * 1000), flush=True)
    S.check(all(x[2] is not None for s in streams for x in s.results) and
            sum(len(s.results) for s in streams) == sum(s.sent for s in streams),
            "every one of the %d requests got an answer" % n_req)
    S.check(max(lat) <= REDIS_TIMEOUT + MARGIN,
            "every answer came within redis_timeout (200 ms) + %.0f ms: slowest %.0f ms" %
            (MARGIN * 1000, max(lat) * 1000))
    replies_b = {x[2] for x in streams[1].results}
    S.check(replies_b == {"DUNNO", FAIL_DEFER},
            "with redis_fail_action = DEFER_IF_PERMIT ..., requests during the outages get "
            "it, the others DUNNO: %s" % sorted(replies_b))
    S.check(count(pa, r"verdict=FAIL redis=not connected") > 0 and
            count(pa, r"verdict=FAIL redis=timeout") > 0 and
            not re.search(r"action=(?!DUNNO )\S+ verdict=FAIL", pa.read_log()),
            "with redis_fail_action = DUNNO, requests during the outages are answered DUNNO "
            "(logged verdict=FAIL redis=not connected, or redis=timeout while Redis is "
            "stopped)")
    for what, p in (("DUNNO", pa), ("DEFER_IF_PERMIT", pb)):
        down = count(p, r"warning: redis unavailable")
        up = count(p, r"redis available again")
        S.check(down == 3 and up == 3,
                "fail action %s: 3 outages (kill, stop, restart) logged as 3 'redis "
                "unavailable' and 3 'redis available again' (%d, %d)" % (what, down, up))
        log = p.read_log()
        lines = log.splitlines()
        ok = True
        seen = []
        for i, line in enumerate(lines):
            m = re.search(r"redis available again .* \((\d+) requests answered", line)
            if m:
                start = max(j for j in range(i) if "redis unavailable" in lines[j])
                fails = sum(1 for x in lines[start:i] if "verdict=FAIL" in x)
                seen.append("%s/%d" % (m.group(1), fails))
                ok = ok and int(m.group(1)) == fails
        S.check(ok, "fail action %s: each recovery line counts the requests answered with "
                "the fail action during that outage (%s)" % (what, " ".join(seen)))
    S.check(burst == ["DUNNO"] * 40, "after SCRIPT FLUSH, 20 requests in flight at once on "
            "each node are all answered")
    for i, p in enumerate(nodes):
        with open(p.log, "rb") as f:
            f.seek(offsets[i])
            after = f.read().decode()
            f.seek(burst_offsets[i])
            in_burst = f.read().decode()
        S.check("verdict=FAIL" not in after,
                "SCRIPT FLUSH under the stream and under the burst: no request of node %d "
                "gets the fail action (the script is reloaded and the call retried)" % (i + 1))
        S.check(in_burst.count("NOSCRIPT") == 1,
                "node %d: 20 calls answered NOSCRIPT at once make one warning and one "
                "reload (%d warnings)" % (i + 1, in_burst.count("NOSCRIPT")))
        S.check(re.search(r"verdict=PASS", after) is not None,
                "node %d counts again after the last recovery" % (i + 1))
    # Counting resumed: what Redis holds is at least what the nodes reported counted.
    passed = sum(count(p, r"user=stream@example\.com .*state=RCPT .*verdict=PASS") for p in nodes)
    st = mstate(r, user)
    sent = sum(s.sent for s in streams)
    S.check(passed <= st["rcpt_24h"] <= sent,
            "Redis holds the counted recipients through kill, stop, restart and flush: "
            "%d answered as counted <= %d stored <= %d sent" % (passed, st["rcpt_24h"], sent))
    for i, p in enumerate(nodes):
        before = mstate(r, user)["rcpt_24h"]
        a, d = Node(p).ask(sasl_username=user, recipient="final%d@dest.example" % i,
                           instance="FINAL-%d" % i)
        RECIPIENTS.add(b"final%d@dest.example" % i)
        S.check(a == "DUNNO" and d["verdict"] == "PASS" and d["rcpt_24h"] == before + 1,
                "node %d: the next request counts on top of what Redis held (%d -> %d)" %
                (i + 1, before, d["rcpt_24h"]))
    no_recipient_in_clear(r, "outage Redis")


def late_redis():
    """policyd started while its Redis is down: answered at once, recovers by itself."""
    r = Redis(appendonly=False)
    r.kill()
    p = start_policyd(r, "late-Redis node", wait_key=False, trust_request_time="no",
                      redis_server="127.0.0.1:%d" % r.port, redis_fail_action=FAIL_DEFER)
    n = Node(p)
    t = time.time()
    a, d = n.ask(sasl_username="late@example.com", instance="LATE-1")
    S.check(a == FAIL_DEFER and d["verdict"] == "FAIL" and time.time() - t < REDIS_TIMEOUT,
            "policyd started with Redis down answers redis_fail_action at once")
    r.start()
    pdtest.log_has(p, "recipient hash key: shared key from Redis in use", 10)
    a, d = n.ask(sasl_username="late@example.com", instance="LATE-2")
    log = p.read_log()
    S.check(a == "DUNNO" and d["verdict"] == "PASS" and d["rcpt_1h"] == 1 and
            log.count("redis unavailable") == 1 and log.count("redis available again") == 1,
            "once Redis is up it connects, fetches the hash key and counts; down and up "
            "logged once each")


def loading_redis():
    """Redis restarted with a data set that takes seconds to load: while it answers
    -LOADING, policyd is reachable-but-not-available, and once loaded it must come back by
    itself, with no request needed to notice (the seed story's Redis restart)."""
    r = Redis(appendonly=False)
    p = start_policyd(r, "loading-Redis node", redis_fail_action=FAIL_DEFER)
    n = Node(p)
    a, d = rcpt(n, "load@example.com", "before@dest.example", T0, "LD-1")
    S.check(a == "DUNNO" and d["rcpt_1h"] == 1, "loading: the first request counts")
    r.call("EVAL", "for i = 1, 20000 do redis.call('SET', 'filler:' .. i, i) end", 0)
    r.call("SAVE")
    r.kill()
    pdtest.log_has(p, "redis unavailable", 10)
    t = time.time()
    # 20,000 keys at 200 us each: about 4 s of -LOADING, events served every 1 KB read
    r.start(["--key-load-delay", "200", "--loading-process-events-interval-bytes", "1024"],
            wait=False)
    pdtest.wait_for(lambda: "LOADING" in r.cli("PING"), 10, what="redis answering LOADING")
    a, d = rcpt(n, "load@example.com", "during@dest.example", T0 + 1, "LD-2")
    S.check(a == FAIL_DEFER and d["verdict"] == "FAIL",
            "while Redis loads its data, a request is answered redis_fail_action (%s)" % a)
    pdtest.wait_for(lambda: r.cli("PING") == "PONG", 30, what="redis loaded")
    loaded = time.time() - t
    pdtest.log_has(p, "redis available again", 10)
    log = p.read_log()
    S.check(log.count("redis unavailable") == 1 and log.count("redis available again") == 1,
            "Redis done loading (%.1f s): 'redis available again' logged by itself within "
            "the reconnect backoff, with no request in between; down and up logged once "
            "each" % loaded)
    a, d = rcpt(n, "load@example.com", "after@dest.example", T0 + 2, "LD-3")
    S.check(a == "DUNNO" and d["rcpt_1h"] == 2,
            "after loading, the mailbox counts on top of the saved data (rcpt_1h %s)"
            % d.get("rcpt_1h"))


def data_loss():
    """Redis without persistence restarts empty: its recipient hash key is gone."""
    r = Redis(appendonly=False)
    p1 = start_policyd(r, "data-loss node 1")
    n1 = Node(p1)
    rcpt(n1, "dl@example.com", "first@dest.example", T0, "DL-1")
    r.kill()
    r.start()
    pdtest.wait_for(lambda: "redis available again" in p1.read_log(), 10,
                    what="recovery after data loss")
    a, d = rcpt(n1, "dl@example.com", "same@dest.example", T0 + 1, "DL-2")
    S.check(a == "DUNNO" and d["rcpt_1h"] == 1,
            "after Redis restarts empty, the running node counts again from zero")
    p2 = start_policyd(r, "data-loss node 2")
    n2 = Node(p2)
    rcpt(n2, "dl@example.com", "same@dest.example", T0 + 2, "DL-2")
    long_login = "d" * 500 + "@example.com"  # its keys are named by a keyed hash too
    rcpt(n1, long_login, "a@dest.example", T0 + 3, "DL-3")
    rcpt(n2, long_login, "b@dest.example", T0 + 4, "DL-3")
    kr = r.call("GET", key("dl@example.com", "kr")) or b""
    tags = r.call("KEYS", "pd:1:{h~*}:st")
    S.check(len(kr) == 7 and len(tags) == 1,
            "a node started after the restart agrees with the running one: the same "
            "recipient through both is one known recipient (%d), a 500-byte login is one "
            "mailbox (%d h~ tags). [If not: the running node did not put the shared hash "
            "key back into the emptied Redis, so the new node made another.]" %
            (len(kr) // 7, len(tags)))


# ---------------------------------------------------------------------------- teardown


def stopped_cleanly(p, what):
    rc = p.stop(timeout=15)
    log = p.read_log()
    S.check(rc == 0 and "stopped:" in log and "event loop closed with handles" not in log,
            "%s: SIGTERM, exit 0, every handle closed" % what)
    S.check(not re.search(r"AddressSanitizer|LeakSanitizer|runtime error:|panic:", log),
            "%s: no sanitizer report and no panic" % what)


FAILED = []


def section(name, fn, *args):
    """Run one section; a failed check ends the section, not the suite, so that one bug
    does not hide the others. The suite fails at the end if any section did."""
    try:
        return fn(*args)
    except AssertionError as e:
        FAILED.append(name)
        print("FAIL section %s: %s" % (name, e), flush=True)
        return None


def run():
    t0 = time.time()
    r = Redis(appendonly=True)
    main_node = start_policyd(r, "caps node", limit_recipients_per_hour=4,
                              limit_recipients_per_day=8, limit_messages_per_hour=3,
                              limit_messages_per_day=5)
    free = start_policyd(r, "uncapped node", limit_recipients_per_hour=0,
                         limit_recipients_per_day=0, limit_messages_per_hour=0,
                         limit_messages_per_day=0)
    n_caps, n_free = Node(main_node), Node(free)
    section("counting", counting, r, n_free)
    section("nodes", two_nodes, r)
    section("windows", windows, r, n_free)
    section("caps", caps, r, n_caps)
    section("overrides", overrides, r, n_caps)
    section("hostile", hostile, r, n_free)
    section("in clear", no_recipient_in_clear, r, "main Redis")
    section("outages", outages)
    section("late redis", late_redis)
    section("loading redis", loading_redis)
    section("data loss", data_loss)
    for what, p in NODES:
        section("log", log_is_clean, p, what)
    for what, p in NODES:
        section("shutdown", stopped_cleanly, p, what)
    print("measure: tracking suite ran in %.1f s" % (time.time() - t0), flush=True)
    if FAILED:
        print("%s: %d passed, %d failed (sections: %s)" % (S.name, S.passed, len(FAILED),
                                                        ", ".join(FAILED)), flush=True)
        raise AssertionError("failed sections: " + ", ".join(FAILED))
    S.done()


pdtest.main(run)
