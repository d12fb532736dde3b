# SPDX-License-Identifier: MIT
"""The helpdesk's status socket and policyctl against a real policyd and a real Redis:
block -> RCPT rejected with the reference; unblock -> accepted, probation, history, index
and audit; overrides of a mailbox (the cap applies) and of a domain; roles (unix peer
credentials as root, nobody, nobody in status_admin_group; TCP without, with a read and
with an admin token, with a wrong one); socket permissions; malformed requests answered
with errors on a connection that stays usable; metrics parse and move, over the socket and
over HTTP (curl, metrics_listen); the audit trail is a Redis stream with the operator;
show's counters, baseline, known networks and correspondents and limit sources for a
mailbox with known traffic; stats (verdicts, latency, LDAP, alerts); clean stop."""
import grp
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pdtest
from pdtest import Policyd, Redis, Suite

S = Suite("status")
CTL = os.path.join(pdtest.BUILD, "policyctl")
OPERATOR = "helpdesk-anna"
ADMIN_GROUP = "adm"


def ctl(p, *args, as_nobody=False, groups=None, tcp=None, token=None, stdin=None):
    """Run policyctl; returns (exit code, stdout, stderr)."""
    cmd = [CTL]
    if tcp:
        cmd += ["-H", "127.0.0.1:%d" % tcp]
    else:
        cmd += ["-s", p.status_sock]
    if token:
        cmd += ["-t", token]
    cmd += list(args)
    if as_nobody:
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup",
               "--groups=" + (groups or "nogroup"), "--"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=20, input=stdin)
    return r.returncode, r.stdout, r.stderr


def ctl_json(p, *args, **kw):
    rc, out, err = ctl(p, "--json", *args, **kw)
    return rc, json.loads(out.splitlines()[-1]) if out.strip() else None


def rcpt(p, user, **kw):
    c = p.connect()
    try:
        return c.ask(sasl_username=user, sender=user, **kw)
    finally:
        c.close()


class Raw:
    """A raw status-socket connection: one JSON line out, one line back."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)  # blocking: waits for room in the listen backlog
        self.s.settimeout(10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, data):
        self.send(data if data.endswith(b"\n") else data + b"\n")
        return self.line()


def start(redis, tmp, extra=None):
    conf = {"redis_server": "unix:" + redis.sock, "status_socket_mode": "0666",
            "status_admin_group": ADMIN_GROUP}
    conf.update(extra or {})
    p = Policyd(conf, dirpath=tmp)
    p.start()
    pdtest.wait_for(lambda: ctl(p, "show", "probe@example.com")[0] == 0, what="redis ready")
    return p


def block_unblock(p, redis):
    S.check(rcpt(p, "alice@example.com") == "DUNNO", "before any block alice's RCPT gets DUNNO")
    rc, out, err = ctl(p, "block", "Alice@Example.com", "--reason", "phished, called in",
                       "--operator", OPERATOR)
    m = re.search(r"ref (PD-[0-9A-F]{8})", out)
    S.check(rc == 0 and m, "policyctl block exits 0 and prints the reference (%r)" % out.strip())
    ref = m.group(1)
    reply = rcpt(p, "alice@example.com")
    S.check(reply.startswith("REJECT") and ref in reply,
            "a blocked mailbox's RCPT is rejected with the reference (%s)" % reply)
    rc, r = ctl_json(p, "block", "alice@example.com", "--reason", "again", "--operator", "x")
    S.check(rc == 0 and r["created"] is False and r["ref"] == ref,
            "a second block keeps the first record (first writer wins)")
    S.check(redis.cli("ZSCORE", "pd:1:blocked", "alice@example.com") != "",
            "the mailbox is in the index pd:1:blocked")
    rc, r = ctl_json(p, "show", "alice@example.com")
    blk = r["block"]
    S.check(rc == 0 and r["blocked"] and blk["ref"] == ref and blk["reason"] == "manual" and
            blk["created_by"] == OPERATOR and blk["rules"] == "phished, called in",
            "show: the block record with reference, reason, operator and words")
    S.check(r["history"][0]["event"] == "block" and r["history"][0]["ref"] == ref,
            "show: the history starts with the block")
    rc, out, _ = ctl(p, "show", "alice@example.com")
    S.check(rc == 0 and "BLOCKED" in out and ref in out, "show prints a readable block state")
    rc, r = ctl_json(p, "list")
    S.check(rc == 0 and [e["user"] for e in r["blocked"]] == ["alice@example.com"] and
            r["blocked"][0]["ref"] == ref and r["total"] == 1, "list shows the blocked mailbox")
    rc, r = ctl_json(p, "list", "--reason", "compromise")
    S.check(rc == 0 and r["blocked"] == [], "list --reason compromise leaves a manual block out")
    rc, r = ctl_json(p, "list", "--domain", "example.org")
    S.check(rc == 0 and r["blocked"] == [], "list --domain filters by the mailbox's domain")
    rc, out, err = ctl(p, "unblock", "alice@example.com", "--reason", "x", "--ref", "PD-00000000")
    S.check(rc == 1 and "ref-mismatch" in err, "unblock with another reference is refused (%s)"
            % err.strip())
    rc, out, err = ctl(p, "unblock", "alice@example.com", "--reason", "password reset",
                       "--false-positive", "--operator", OPERATOR)
    S.check(rc == 0 and "unblocked" in out and "probation" in out,
            "policyctl unblock exits 0 and names the probation (%r)" % out.strip())
    S.check(rcpt(p, "alice@example.com") == "DUNNO", "after the unblock the RCPT is accepted")
    S.check(redis.cli("ZSCORE", "pd:1:blocked", "alice@example.com") == "",
            "the mailbox has left the index")
    rc, r = ctl_json(p, "show", "alice@example.com")
    h = r["history"][0]
    S.check(not r["blocked"] and r["on_probation"] and h["event"] == "unblock" and
            h["false_positive"] is True and h["by"] == OPERATOR,
            "show: probation, and the unblock in the history marked a false positive")
    rc, out, err = ctl(p, "unblock", "alice@example.com", "--reason", "again")
    S.check(rc == 1 and "not-blocked" in err, "unblocking a mailbox that is not blocked: exit 1")
    log = p.read_log()
    S.check(re.search(r"status: op=block user=alice@example.com by=helpdesk-anna peer=uid=0,"
                      r"pid=\d+ ref=" + ref, log) and
            re.search(r"status: op=unblock user=alice@example.com by=helpdesk-anna .*ref=" + ref,
                      log), "every write is logged with user, operator, peer and reference")
    return ref


def audit_stream(redis):
    """The audit trail as Redis holds it: a stream, newest first, operator in "by"."""
    S.check(redis.cli("TYPE", "pd:1:audit") == "stream", "the audit trail is a Redis stream")
    raw = redis.call("XREVRANGE", "pd:1:audit", "+", "-", "COUNT", "10")
    entries = [{k.decode(): v.decode() for k, v in zip(f[0::2], f[1::2])} for _, f in raw]
    acts = [(e.get("action"), e.get("by"), e.get("target")) for e in entries]
    S.check(("unblock", OPERATOR, "alice@example.com") in acts and
            ("block", OPERATOR, "alice@example.com") in acts,
            "the stream has the block and the unblock with the operator (%r)" % acts[:4])
    unb = [e for e in entries if e.get("action") == "unblock"][0]
    full = json.loads(unb["entry"])
    S.check(unb["peer"].startswith("uid=0,") and full["before"]["ref"] and
            full["false_positive"] is True and int(unb["at"]) > 0,
            "a stream entry has peer, time and the whole entry with the record before")
    return raw


def audit(p, ref):
    rc, r = ctl_json(p, "audit")
    acts = [(e["action"], e.get("user"), e["by"], e.get("ref")) for e in r["entries"]]
    S.check(rc == 0 and ("block", "alice@example.com", OPERATOR, ref) in acts and
            ("unblock", "alice@example.com", OPERATOR, ref) in acts,
            "the audit list has the block and the unblock with the operator")
    ub = [e for e in r["entries"] if e["action"] == "unblock"][0]
    S.check(ub["peer"].startswith("uid=0,") and ub["before"]["ref"] == ref and
            ub["false_positive"] is True,
            "an audit entry has the peer's credentials and the record before")
    S.check(all(re.match(r"^\d+-\d+$", e.get("id", "")) for e in r["entries"]),
            "audit entries carry their stream id")
    rc, r2 = ctl_json(p, "audit", "--offset", "1", "--limit", "1")
    S.check(rc == 0 and r2["entries"][0]["id"] == r["entries"][1]["id"] and
            r2["total"] == r["total"], "audit --offset pages through the stream, newest first")
    rc, out, _ = ctl(p, "audit", "--limit", "1")
    S.check(rc == 0 and out.count("\n") == 2, "audit --limit 1 prints one entry and a total")


def overrides(p, redis):
    rc, r = ctl_json(p, "override", "carol@example.com", "lim_rcpt_hour=3", "profile=bulk",
                     "--operator", OPERATOR)
    S.check(rc == 0 and r["after"] == {"lim_rcpt_hour": "3", "profile": "bulk"},
            "override sets a mailbox's caps and profile")
    ovr = [k for k in redis.cli("KEYS", "pd:1:{carol@example.com}:ovr").split()]
    S.check(ovr and redis.cli("HGET", ovr[0], "lim_rcpt_hour") == "3",
            "the ovr hash holds the field track.lua reads")
    replies = [rcpt(p, "carol@example.com", recipient="r%d@example.net" % i) for i in range(6)]
    S.check(any(x.startswith("DEFER") for x in replies[3:]) and replies[0] == "DUNNO",
            "the mailbox's own cap applies to its next recipients (%s)" % replies)
    rc, r = ctl_json(p, "show", "carol@example.com")
    S.check(r["limits"]["rcpt_hour"] == {"value": 3, "source": "mailbox"},
            "show gives the effective cap and where it comes from")
    rc, r = ctl_json(p, "override", "carol@example.com", "raise_until=+1h",
                     "raise_rcpt_hour=50")
    S.check(rc == 0 and int(r["after"]["raise_until"]) > time.time() + 3500,
            "a temporary raise with +DURATION becomes an absolute time")
    rc, r = ctl_json(p, "show", "carol@example.com")
    S.check(r["limits"]["rcpt_hour"] == {"value": 50, "source": "raise"}, "the raise wins")
    rc, r = ctl_json(p, "override", "carol@example.com", "--clear")
    S.check(rc == 0 and r["after"] == {} and redis.cli("EXISTS", ovr[0]) == "0",
            "override --clear deletes the mailbox's overrides")
    rc, r = ctl_json(p, "override", "--domain", "Example.NET", "rcpt_day=5000", "exempt=yes")
    S.check(rc == 0 and redis.cli("HGET", "pd:1:domains", "example.net") == r["after"] and
            "rcpt_day=5000" in r["after"] and "exempt=yes" in r["after"],
            "a domain's overrides are written as name=value text (%s)" % r.get("after"))
    rc, out, err = ctl(p, "override", "--domain", "example.net", "raise_until=+1h")
    S.check(rc == 1 and "raise" in err and "rcpt_day=5000" in
            redis.cli("HGET", "pd:1:domains", "example.net"),
            "a domain setting the domain cache would refuse is refused, nothing written")
    rc, out, err = ctl(p, "override", "carol@example.com", "profile=nosuch")
    S.check(rc == 1 and "bad-value" in err, "an unknown profile is refused")
    rc, r = ctl_json(p, "override", "--domain", "example.net", "exempt=")
    S.check(rc == 0 and r["after"] == "rcpt_day=5000", "NAME= deletes one domain setting")
    rc, r = ctl_json(p, "override", "--domain", "example.net", "--clear")
    S.check(rc == 0 and redis.cli("HEXISTS", "pd:1:domains", "example.net") == "0",
            "--clear deletes the domain's entry")
    rc, r = ctl_json(p, "audit", "--limit", "20")
    S.check(sum(1 for e in r["entries"] if e["action"] == "override") == 6,
            "every override change is in the audit list")


def roles(p, redis, port, tokens):
    rc, out, err = ctl(p, "status", as_nobody=True)
    S.check(rc == 0 and "your role: read" in out, "nobody may read (status)")
    rc, out, err = ctl(p, "block", "bob@example.com", "--reason", "x", as_nobody=True)
    S.check(rc == 4 and "denied" in err, "nobody may not block: exit 4 (%s)" % err.strip())
    rc, out, err = ctl(p, "override", "bob@example.com", "exempt=yes", as_nobody=True)
    S.check(rc == 4, "nobody may not change overrides")
    S.check(redis.cli("KEYS", "pd:1:{bob@example.com}:*") == "", "nothing was written for bob")
    rc, out, err = ctl(p, "block", "bob@example.com", "--reason", "x", as_nobody=True,
                       groups=ADMIN_GROUP)
    S.check(rc == 0, "nobody in status_admin_group may block (%s)" % err.strip())
    rc, out, err = ctl(p, "unblock", "bob@example.com", "--reason", "x", as_nobody=True,
                       groups=ADMIN_GROUP)
    S.check(rc == 0, "... and unblock")
    rc, r = ctl_json(p, "audit", "--limit", "1")
    e = r["entries"][0]
    S.check(e["by"] == "nobody" and e["peer"].startswith("uid=65534,"),
            "the audit names the operator and the peer's uid")
    rc, out, err = ctl(p, "status", tcp=port)
    S.check(rc == 4, "TCP without a token may not read")
    rc, out, err = ctl(p, "ping", tcp=port)
    S.check(rc == 0 and "role: none" in out, "TCP without a token may ping")
    rc, out, err = ctl(p, "status", tcp=port, token=tokens["read"])
    S.check(rc == 0 and "your role: read" in out, "TCP with the read token may read")
    rc, out, err = ctl(p, "block", "bob@example.com", "--reason", "x", tcp=port,
                       token=tokens["read"])
    S.check(rc == 4, "TCP with the read token may not block")
    rc, out, err = ctl(p, "status", tcp=port, token=tokens["wrong"])
    S.check(rc == 4 and "token" in err, "a wrong token is refused (%s)" % err.strip())
    rc, out, err = ctl(p, "block", "bob@example.com", "--reason", "x", tcp=port,
                       token=tokens["admin"])
    S.check(rc == 0 and rcpt(p, "bob@example.com").startswith("REJECT"),
            "TCP with the admin token may block")
    rc, out, err = ctl(p, "unblock", "bob@example.com", "--reason", "x", tcp=port,
                       token=tokens["admin"])
    S.check(rc == 0 and rcpt(p, "bob@example.com") == "DUNNO", "... and unblock")
    S.check(p.read_log().count("status: denied:") >= 5, "each denial is logged")


def garbage(p, redis):
    c = Raw(p.status_sock)
    cases = [
        (b"garbage", "syntax"),
        (b'{"cmd":', "syntax"),
        (b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "too-deep"),
        (b'{"cmd":"show","user":5}', "wrong-type"),
        (b'{"cmd":"show","user":"a\x00b"}', "nul-byte"),
        (b'{"cmd":"show","user":"a\\u0000b"}', "syntax"),
        (b'{"cmd":"shutdown"}', "unknown-command"),
        (b'{"cmd":"status","user":"x"}', "unknown-field"),
        (b'{"cmd":"block","user":"x","reason":"r"}', "missing-field"),
        (b'{"cmd":"list","limit":1000}', "bad-value"),
        (b'{"cmd":"show","user":"\xff"}', "syntax"),
        (b'"ping"', "syntax"),
        (b"", "empty"),
    ]
    for data, code in cases:
        r = c.ask(data)
        S.check(r["ok"] is False and r["error"] == code and r["message"],
                "%r is answered with error %s" % (data[:40], code))
    c.send(b'{"cmd":"show","user":"' + b"x" * (10 * 1024 * 1024) + b'"}\n')
    r = c.line()
    S.check(r["error"] == "too-long", "a 10 MB line is answered too-long")
    S.check(c.ask(b'{"cmd":"ping","id":42}') == {"pong": True, "role": "admin", "ok": True,
                                                  "id": 42},
            "the same connection still answers, with the request's id")
    c.send(b'{"cmd":"ping","id":1}\n{"cmd":"ping","id":2}\n{"cmd":"status","id":3}\n')
    S.check([c.line()["id"] for _ in range(3)] == [1, 2, 3],
            "pipelined requests are answered in order")
    c.send(b'{"cmd":"ping"')
    c.s.close()
    rc, out, err = ctl(p, "raw", stdin='{"cmd":"ping"}\nnot json\n{"cmd":"ping"}\n')
    S.check(rc == 0 and out.count('"ok":true') == 2 and out.count('"ok":false') == 1,
            "policyctl raw sends each line and prints each answer")
    c = Raw(p.status_sock)
    c.send(b'{"cmd":"block","user":"frank@example.com","reason":"r","operator":"o"}\n')
    c.s.close()
    pdtest.wait_for(lambda: ctl_json(p, "show", "frank@example.com")[1]["blocked"],
                    what="block of a client that left")
    S.check(redis.cli("ZSCORE", "pd:1:blocked", "frank@example.com") != "",
            "a block whose client left at once is still written and indexed")
    ctl(p, "unblock", "frank@example.com", "--reason", "r")
    # the earlier clients' closes must have reached the daemon: only the asker is left
    pdtest.wait_for(lambda: ctl_json(p, "status")[1]["status_socket"]["connections"] == 1,
                    what="earlier status connections closed")
    many = [Raw(p.status_sock) for _ in range(70)]
    answered = 0
    for m in many:
        try:
            answered += m.ask(b'{"cmd":"ping"}') is not None
        except OSError:
            pass
    for m in many:
        m.s.close()
    S.check(answered == 64 and "status: 64 connections: refusing more" in p.read_log(),
            "at 64 status connections more are refused (%d answered)" % answered)
    S.check(p.proc.poll() is None and rcpt(p, "dave@example.com") == "DUNNO",
            "after all of it the daemon runs and answers Postfix")


METRIC = re.compile(r'^policyd_[a-z_]+(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? \d+(\.\d+)?$')


def curl(url, *extra):
    r = subprocess.run(["curl", "-s", "-S", "-m", "10", "-o", "-", "-w", "\n%{http_code} "
                        "%{content_type}", *extra, url], capture_output=True, text=True,
                       timeout=20)
    body, _, tail = r.stdout.rpartition("\n")
    code, _, ctype = tail.partition(" ")
    return int(code or 0), ctype, body


def metrics(p, mport):
    def scrape(http=False):
        if http:
            code, ctype, out = curl("http://127.0.0.1:%d/metrics" % mport)
            assert code == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8", \
                (code, ctype)
        else:
            rc, out, err = ctl(p, "metrics")
            assert rc == 0, err
        vals, typed = {}, set()
        for line in out.splitlines():
            if line.startswith("# TYPE "):
                typed.add(line.split()[2])
                continue
            if line.startswith("# HELP "):
                continue
            assert METRIC.match(line), "bad metric line: %r" % line
            name = line.split("{")[0].split(" ")[0]
            base = re.sub(r"_(bucket|sum|count)$", "", name)  # a histogram's series
            assert name in typed or base in typed, "no TYPE for " + name
            vals[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
        return vals

    a = scrape()
    S.check(len(a) > 20, "metrics parse as Prometheus text (%d series)" % len(a))
    for _ in range(5):
        rcpt(p, "erin@example.com")
    ctl(p, "block", "erin@example.com", "--reason", "metrics")
    b = scrape()
    S.check(b["policyd_requests_total"] >= a["policyd_requests_total"] + 5 and
            b["policyd_blocked_mailboxes"] == a["policyd_blocked_mailboxes"] + 1 and
            b['policyd_events_total{type="block",reason="manual"}'] ==
            a['policyd_events_total{type="block",reason="manual"}'] + 1 and
            b["policyd_redis_up"] == 1,
            "metrics move with traffic and blocks")
    S.check(b['policyd_verdicts_total{verdict="pass"}'] >=
            a['policyd_verdicts_total{verdict="pass"}'] + 5 and
            b["policyd_decision_seconds_count"] >= a["policyd_decision_seconds_count"] + 5 and
            b['policyd_decision_seconds_bucket{le="+Inf"}'] == b["policyd_decision_seconds_count"],
            "verdicts by action and the decision-time histogram count the requests")
    ctl(p, "unblock", "erin@example.com", "--reason", "metrics")
    h1 = scrape(http=True)
    S.check(len(h1) > 20 and "policyd_blocked_mailboxes" in h1 and "policyd_alerts_sent_total"
            in h1, "curl GET /metrics: 200, text/plain version 0.0.4, Prometheus text "
            "(%d series)" % len(h1))
    for _ in range(3):
        rcpt(p, "erin@example.com", recipient="x%d@example.net" % _)
    ctl(p, "block", "erin@example.com", "--reason", "metrics over http")
    h2 = scrape(http=True)
    S.check(h2["policyd_requests_total"] >= h1["policyd_requests_total"] + 3 and
            h2['policyd_verdicts_total{verdict="pass"}'] >=
            h1['policyd_verdicts_total{verdict="pass"}'] + 3 and
            h2["policyd_blocked_mailboxes"] == h1["policyd_blocked_mailboxes"] + 1,
            "the HTTP figures move with traffic and blocks")
    ctl(p, "unblock", "erin@example.com", "--reason", "metrics")
    code, _, body = curl("http://127.0.0.1:%d/other" % mport)
    code2, _, _ = curl("http://127.0.0.1:%d/metrics" % mport, "-X", "POST", "-d", "x=1")
    S.check(code == 404 and code2 == 404, "another path or method: 404 (%d, %d)"
            % (code, code2))
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        curl("http://127.0.0.1:%d/metrics" % mport)[0])) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    S.check(results == [200] * 10, "10 scrapes at the same time are all answered")
    s = socket.create_connection(("127.0.0.1", mport))
    s.sendall(b"GET /metr")  # a scraper that never finishes its request
    code, _, _ = curl("http://127.0.0.1:%d/metrics" % mport)
    S.check(code == 200, "a stalled HTTP client does not hold up the others")
    return s


def show_signals(p, redis):
    """A mailbox with known traffic: 4 RCPTs to 3 correspondents from 2 networks."""
    user = "hank@example.com"
    for i, (rc_, net) in enumerate((("a@example.org", "192.0.2.10"),
                                    ("b@example.org", "192.0.2.11"),
                                    ("c@example.net", "198.51.100.7"),
                                    ("a@example.org", "192.0.2.10"))):
        S.check(rcpt(p, user, recipient=rc_, client_address=net,
                     instance="hank.%d" % i) == "DUNNO", "hank's RCPT %d to %s" % (i, rc_))
    rc, r = ctl_json(p, "show", user)
    c, k, b = r.get("counters", {}), r.get("known", {}), r.get("baseline", {})
    S.check(rc == 0 and c.get("rcpt_1h") == 4 and c.get("rcpt_24h") == 4 and
            c.get("msgs_1h") == 4 and c.get("distinct_rcpt_1h") == 3 and
            c.get("refused_1h") == 0, "show: counters per window (%r)" % (c or r))
    S.check(k == {"networks": 2, "correspondents": 3},
            "show: known networks and correspondents (%r)" % k)
    S.check(b.get("days") == 0 and b.get("first_seen", 0) > 0 and "max_hour_rcpt" in b,
            "show: the baseline (no day learned yet) and first seen (%r)" % b)
    lim = r["limits"]
    S.check(all(lim[x]["source"] == "default" for x in ("rcpt_hour", "rcpt_day", "msg_hour",
                                                        "msg_day")) and
            lim["rcpt_hour"]["value"] == 500 and lim["msg_day"]["value"] == 1000,
            "show: effective limits from the defaults")
    ctl(p, "override", user, "lim_rcpt_hour=40", "--operator", OPERATOR)
    ctl(p, "override", "--domain", "example.com", "msg_day=77", "--operator", OPERATOR)
    rc, r = ctl_json(p, "show", user)
    lim = r["limits"]
    S.check(lim["rcpt_hour"] == {"value": 40, "source": "mailbox"} and
            lim["msg_day"] == {"value": 77, "source": "domain"} and
            lim["rcpt_day"]["source"] == "default",
            "show: each limit with its source: mailbox, domain, default (%r)" % lim)
    ctl(p, "override", user, "raise_rcpt_hour=90", "raise_until=+3600", "--operator", OPERATOR)
    rc, r = ctl_json(p, "show", user)
    S.check(r["limits"]["rcpt_hour"] == {"value": 90, "source": "raise"},
            "show: a temporary raise wins while it lasts (%r)" % r["limits"]["rcpt_hour"])
    before = redis.call("HGETALL", "pd:1:{hank@example.com}:st")
    ctl(p, "block", user, "--reason", "show a blocked one", "--operator", OPERATOR)
    rcpt(p, user, recipient="d@example.org", instance="hank.d")
    rc, r = ctl_json(p, "show", user)
    S.check(r["blocked"] and r["counters"]["rcpt_1h"] == 4 and
            r["counters"]["refused_1h"] == 1 and r["known"]["correspondents"] == 3,
            "show of a blocked mailbox still has its counters (a refused RCPT counted)")
    ctl_json(p, "show", user)
    S.check(redis.cli("EXISTS", "pd:1:{hank@example.com}:noblk") == "0" and
            redis.call("HGETALL", "pd:1:{hank@example.com}:st") != before,
            "show writes nothing (only the refused RCPT changed the state)")
    rc, out, _ = ctl(p, "show", user)
    S.check(rc == 0 and "known" in out and "correspondents" in out and "rcpt_1h" in out
            and "(raise)" in out, "policyctl show prints counters, known and limit sources")
    ctl(p, "unblock", user, "--reason", "done", "--operator", OPERATOR)
    ctl(p, "override", "--domain", "example.com", "--clear", "--operator", OPERATOR)


def stats(p):
    rc, a = ctl_json(p, "stats")
    for _ in range(4):
        rcpt(p, "gina@example.com", recipient="s%d@example.org" % _)
    rc, b = ctl_json(p, "stats")
    S.check(rc == 0 and b["verdicts"]["pass"] >= a["verdicts"]["pass"] + 4 and
            b["latency"]["count"] >= a["latency"]["count"] + 4 and
            sum(x["count"] for x in b["latency"]["buckets"]) == b["latency"]["count"] and
            b["latency"]["buckets"][-1]["le_ms"] is None and b["latency"]["mean_ms"] >= 0,
            "stats: verdicts by action and the latency histogram move with traffic")
    S.check("ldap" in b and b["ldap"] is None and isinstance(b["alerts"], dict) and
            "sent" in b["alerts"] and "failures" in b["alerts"],
            "stats: LDAP (null without ldap_uri) and the alert mailer's counters (%r, %r)"
            % (b.get("ldap"), b.get("alerts")))
    rc, out, _ = ctl(p, "stats")
    S.check(rc == 0 and "verdicts" in out and "latency" in out and "alerts" in out,
            "policyctl stats prints verdicts, latency and alerts (%r)" % out[-300:])


def socket_permissions(redis):
    tmp = pdtest.tempdir("pdstatus2.")
    sub = os.path.join(tmp, "run", "status.sock")
    p = Policyd({"redis_server": "unix:" + redis.sock, "status_listen": "unix:" + sub}, dirpath=tmp)
    p.status_sock = sub
    p.start()
    S.check(os.path.exists(sub) and os.stat(sub).st_mode & 0o777 == 0o660,
            "a missing socket directory is created; the socket has status_socket_mode 0660")
    rc, out, err = ctl(p, "ping", as_nobody=True)
    S.check(rc == 4 and "Permission denied" in err,
            "a user outside the socket's group cannot connect: exit 4 (%s)" % err.strip())
    S.check(p.stop() == 0 and not os.path.exists(sub), "stop unlinks the status socket")


def secret(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


def run():
    redis = Redis(appendonly=False)
    tmp = pdtest.tempdir("pdstatus.")
    port = pdtest.free_port()
    mport = pdtest.free_port()
    tokens = {"admin": secret(tmp, "admin.token", "admin-" + os.urandom(8).hex()),
              "read": secret(tmp, "read.token", "read-" + os.urandom(8).hex()),
              "wrong": secret(tmp, "wrong.token", "nope")}
    os.chmod(tokens["wrong"], 0o644)
    try:
        grp.getgrnam(ADMIN_GROUP)
    except KeyError:
        raise AssertionError("group %s is needed by this test" % ADMIN_GROUP)
    p = start(redis, tmp, {"status_listen": "unix:%s/status.sock, inet:127.0.0.1:%d"
                           % (tmp, port), "status_token_file": tokens["admin"],
                           "status_read_token_file": tokens["read"],
                           "metrics_listen": "inet:127.0.0.1:%d" % mport})
    rc, out, err = ctl(p, "ping")
    S.check(rc == 0 and "role: admin" in out, "root on the unix socket has the admin role")
    rc, r = ctl_json(p, "status")
    S.check(rc == 0 and r["redis"]["up"] and r["blocked"] == 0 and r["version"],
            "status: version, Redis up, nothing blocked")
    ref = block_unblock(p, redis)
    audit(p, ref)
    audit_stream(redis)
    overrides(p, redis)
    roles(p, redis, port, tokens)
    garbage(p, redis)
    stalled = metrics(p, mport)
    show_signals(p, redis)
    stats(p)
    rc, out, err = ctl(p, "status", "alice@example.com")
    S.check(rc == 0 and "not blocked" in out and "probation" in out,
            "policyctl status USER shows the mailbox")
    rc, out, err = ctl(p, "frobnicate")
    S.check(rc == 2 and "unknown command" in err, "an unknown policyctl command: exit 2")
    rc, out, err = ctl(p, "block", "--help")
    S.check(rc == 0 and "--reason" in out, "policyctl COMMAND --help")
    p.signal(signal.SIGTERM)
    S.check(p.proc.wait(10) == 0 and "handles still open" not in p.read_log() and
            not os.path.exists(p.status_sock), "SIGTERM: clean stop, the socket is unlinked")
    stalled.close()
    code, _, _ = curl("http://127.0.0.1:%d/metrics" % mport)
    S.check(code == 0, "after the stop the metrics port is closed")
    socket_permissions(redis)
    r = pdtest.run_policyd("-t", "-c", p.conf, "-o", "status_listen=inet:0.0.0.0:%d" % port)
    S.check(r.returncode == 1 and "loopback only" in r.stderr,
            "a status listener off loopback is refused at start-up (%s)" % r.stderr.strip())
    for bad in ("inet:0.0.0.0:9187", "unix:/tmp/m.sock", "127.0.0.1:9187"):
        r = pdtest.run_policyd("-t", "-c", p.conf, "-o", "metrics_listen=" + bad)
        S.check(r.returncode == 1 and "metrics_listen" in r.stderr,
                "metrics_listen=%s is refused at start-up" % bad)
    S.done()


pdtest.main(run)
