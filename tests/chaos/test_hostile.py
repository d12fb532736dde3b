# SPDX-License-Identifier: MIT
"""test_hostile - resource abuse, injection and hardening against a real policyd (run as
an unprivileged user after binding), its private redis-server (with AUTH) and the stack's
slapd (the LDAP poller, with a bind password).

Resource abuse (memory must stay bounded, other clients keep being served):
  - 10,000 connections opened at once, each sending one request: all answered;
  - 1 MB lines (no newline) on 20 connections: each closed after PD_MAX_LINE;
  - slow clients sending one byte per second while normal traffic is served;
  - requests with 10,000 attributes (known and unknown names): closed, nothing kept.
Injection (0 escapes):
  - SASL usernames crafted against the Redis key schema (hash-tag braces, the prefix, a
    victim's key name, CR, glob characters, 1 KB): every key stays under the prefix with
    exactly one well-formed hash tag, and a victim's block record is untouched;
  - LDAP filters: a blocked mailbox "*@example.com" is not unblocked when another entry
    matching the wildcard changes its password (that one is unblocked);
  - log lines: control bytes and fake syslog lines in attribute values;
  - email headers and sendmail's argv: alerts for hostile mailboxes go to a recorder
    that keeps argv and the message: argv is fixed, headers are ours only;
  - JSON output of the status socket: hostile users round-trip and the output parses.
Hardening:
  - policyd runs as nobody after binding, with no capabilities;
  - secrets (Redis password, LDAP bind password, status tokens, hash key) never appear in
    the log, 'policyd -n', 'policyd -t' or any policyctl output;
  - the status socket from another uid: 0666 -> read but no admin (forbidden), admin with
    the token; 0660 -> cannot connect.

HOSTILE_LONG=1 holds the slow clients longer and repeats the 10,000-connection burst.
Run: python3 tests/chaos/test_hostile.py   (PD_BUILD=build/san for the sanitiser build)
"""
import email
import email.policy
import json
import os
import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integ"))
import pdtest  # noqa: E402
from pdtest import Policyd, Redis, Stack, Suite, wait_for  # noqa: E402

S = Suite("hostile")
LONG = bool(os.environ.get("HOSTILE_LONG"))
SAN = "san" in os.path.basename(pdtest.BUILD.rstrip("/")) or bool(os.environ.get("PD_WRAP"))
CTL = os.path.join(pdtest.BUILD, "policyctl")
OTHER_UID = 4242
NETS = ["192.0.2.%d", "198.51.100.%d", "203.0.113.%d", "10.9.9.%d"]
REF_RE = re.compile(r"\(ref (PD-[0-9A-F]{8})\)")
LITERAL = set(b"abcdefghijklmnopqrstuvwxyz0123456789@._+-")
SECRETS = {"redis": "Redis-S3cret-7c1f9a", "ldap": None, "admin": "Adm1n-T0ken-55e2b0d4",
           "read": "R3ad-T0ken-9f00aa1c", "hash": "H4shK3y-0123456789abcdef0123456789"}
OUR_HEADERS = {"Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted",
               "X-Auto-Response-Suppress", "MIME-Version", "Content-Type",
               "Content-Transfer-Encoding", "X-Policyd-Event", "X-Policyd-Ref"}


def key(mailbox, suffix):
    enc = "".join(chr(c) if c in LITERAL else "%%%02X" % c for c in mailbox.encode())
    return "pd:1:{%s}:%s" % (enc, suffix)


def secret_file(d, name, text, mode=0o600):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


class World:
    def __init__(self):
        self.stack = Stack("slapd", STACK_USERS="alice bob carol")
        v = self.stack.vars
        SECRETS["ldap"] = v["LDAP_BIND_PW"]
        self.redis = Redis()
        self.redis.cli("CONFIG", "SET", "requirepass", SECRETS["redis"])
        self.tmp = pdtest.tempdir("pdhostile.")
        self.mail_dir = os.path.join(self.tmp, "mail")
        os.mkdir(self.mail_dir)
        os.chmod(self.mail_dir, 0o777)
        rec = os.path.join(self.tmp, "sendmail")
        with open(rec, "w") as f:  # records argv (NUL-separated) and the message
            f.write("#!/bin/sh\nf=%s/$$.$(date +%%s%%N)\nfor a in \"$0\" \"$@\"; do "
                    "printf '%%s\\0' \"$a\"; done >\"$f.argv\"\ncat >\"$f.msg\"\n" % self.mail_dir)
        os.chmod(rec, 0o755)
        with open(os.path.join(self.tmp, "partners"), "w") as f:
            f.write("example.com  ops@partner.example\n*  catchall@partner.example\n")
        self.conf = {
            "run_user": "nobody",
            "redis_server": "unix:" + self.redis.sock,
            "redis_password_file": secret_file(self.tmp, "redis.pw", SECRETS["redis"]),
            "recipient_hash_key_file": secret_file(self.tmp, "hash.key", SECRETS["hash"]),
            "status_token_file": secret_file(self.tmp, "admin.tok", SECRETS["admin"]),
            "status_read_token_file": secret_file(self.tmp, "read.tok", SECRETS["read"]),
            "status_socket_mode": "0666",
            "max_connections": "12000",
            "rule_trip_nets_1h": "3", "rule_trip_nets_1h_rcpt": "0",
            "alert_enabled": "yes", "alert_partner_map": os.path.join(self.tmp, "partners"),
            "alert_abuse_desk": "abuse@isp.example", "alert_from": "policyd@isp.example",
            "alert_sendmail_path": rec, "alert_retry_delay": "300ms",
            "ldap_uri": v["LDAP_URI"], "ldap_bind_dn": v["LDAP_BIND_DN"],
            "ldap_bind_password_file": secret_file(self.tmp, "ldap.pw", SECRETS["ldap"]),
            "ldap_search_base": v["LDAP_PEOPLE"], "ldap_poll_interval": "1s",
            "ldap_timeout": "2s", "ldap_clock_skew": "0s",
        }
        # the other uid's token copy, readable by it only
        self.other_tok = secret_file(self.tmp, "other.tok", SECRETS["admin"])
        os.chown(self.other_tok, OTHER_UID, OTHER_UID)
        self.pd = Policyd(self.conf, dirpath=self.tmp, extra_args=["-v"])
        self.pd.start()
        pdtest.log_has(self.pd, r"ldap poll: ", 10)
        self.nblock = 0

    def rcli(self, *args):
        r = subprocess.run(["redis-cli", "-s", self.redis.sock, "-a", SECRETS["redis"],
                            "--no-auth-warning"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def rss(self):
        return pdtest.rss_kb(self.pd.proc.pid)

    def served(self):
        c = self.pd.connect(timeout=5)
        try:
            t = time.time()
            self.nserved = getattr(self, "nserved", 0) + 1
            ok = c.ask(sasl_username="n%d@served.example" % self.nserved) == "DUNNO"
            return ok, time.time() - t
        finally:
            c.close()

    def block(self, mailbox):
        self.nblock += 1
        c = self.pd.connect()
        try:
            for i, net in enumerate(NETS):
                reply = c.ask(sasl_username=mailbox, sender="x@example.com",
                              client_address=net % 88, recipient="r%d@elsewhere.example" % i,
                              instance="hostile.%d.%d" % (self.nblock, i))
        finally:
            c.close()
        m = REF_RE.search(reply or "")
        return m.group(1) if m else None

    def ctl(self, *args, uid=None, stdin=None):
        kw = {}
        if uid is not None:
            kw = {"user": uid, "group": uid, "extra_groups": []}
        r = subprocess.run([CTL, "-s", self.pd.status_sock] + list(args), capture_output=True,
                           text=True, timeout=20, input=stdin, **kw)
        return r.returncode, r.stdout + r.stderr


# ---- resource abuse ---------------------------------------------------------------------------

def burst(w, n):
    """n connections opened at once, each sends one request; returns how many got DUNNO."""
    sel = selectors.DefaultSelector()
    req = pdtest.request().encode()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", w.pd.port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, [b"", False])
    got, end = 0, time.time() + 60
    while got < n and time.time() < end:
        for k, ev in sel.select(1):
            s, st = k.fileobj, k.data
            if ev & selectors.EVENT_WRITE and not st[1]:
                try:
                    s.send(req)
                except OSError:
                    sel.unregister(s)
                    continue
                st[1] = True
                sel.modify(s, selectors.EVENT_READ, st)
            elif ev & selectors.EVENT_READ:
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                st[0] += d
                if not d or st[0].endswith(b"\n\n"):
                    got += st[0].startswith(b"action=") and st[0].endswith(b"\n\n")
                    sel.unregister(s)
    peak = w.rss()
    for s in socks:
        s.close()
    return got, peak


def many_connections(w):
    base = w.rss()
    for rnd in range(2 if LONG else 1):
        got, peak = burst(w, 10000)
        S.check(got == 10000, "10,000 connections opened at once, each with a request: %d "
                "answered (DUNNO: Redis's fail action where it lagged)" % got)
    ok, lat = w.served()
    S.check(ok, "a new client is served right after the burst (%.1f ms)" % (lat * 1000))
    # A busy connection holds its parser and buffers (~13 KiB); an idle one gives them back
    # (conn_sweep). ASan's redzones and quarantine roughly double that and keep it.
    per = 40 if SAN else 20
    S.check(peak - base < 10000 * per, "RSS with 10,000 busy connections: %d -> %d KiB "
            "(%.1f KiB each, bound %d)" % (base, peak, (peak - base) / 10000.0, per))
    time.sleep(2.5)
    after = w.rss()
    S.check(w.pd.proc.poll() is None and (SAN or after - base < 32 * 1024),
            "policyd is alive; RSS 2 s after the burst: %d KiB" % after)


def huge_lines(w):
    base = w.rss()
    conns = [w.pd.connect(timeout=10) for _ in range(20)]
    chunk = b"x" * 65536
    closed = 0
    for c in conns:
        c.send(b"sasl_username=")
        try:
            for _ in range(16):  # 1 MB
                c.s.sendall(chunk)
        except OSError:
            pass
    ok, lat = w.served()
    for c in conns:
        closed += c.closed_without_reply(5)
        c.close()
    S.check(closed == 20, "20 connections sending 1 MB lines are closed without a reply")
    S.check(ok and lat < 1.0, "another client is served meanwhile (%.1f ms)" % (lat * 1000))
    S.check(w.rss() - base < 32 * 1024, "RSS after 20 MB of hostile lines: %d -> %d KiB" %
            (base, w.rss()))
    S.check(len(re.findall(r"line too long|too long", w.pd.read_log())) >= 20,
            "each is logged as a protocol error")


def slow_clients(w):
    n, secs = 200, (30 if LONG else 6)
    req = pdtest.request().encode()
    conns = [w.pd.connect(timeout=10) for _ in range(n)]
    stop = threading.Event()
    lats = []

    def normal():
        while not stop.is_set():
            ok, lat = w.served()
            lats.append(lat if ok else 99)
            time.sleep(0.05)
    t = threading.Thread(target=normal)
    t.start()
    base = w.rss()
    for i in range(secs):
        for c in conns:
            c.send(req[i:i + 1])
        time.sleep(1)
    stop.set()
    t.join()
    alive = 0
    for c in conns:  # the rest of the request, at once: each still gets its answer
        c.send(req[secs:])
        alive += c.read_reply() is not None  # DUNNO, or HOLD: 200 requests of one mailbox
        c.close()
    S.check(len(lats) > 20 and max(lats) < 1.0, "%d slow clients at 1 byte/s for %d s: %d "
            "normal requests served meanwhile, slowest %.1f ms" %
            (n, secs, len(lats), max(lats) * 1000))
    S.check(alive == n, "each slow client gets its answer once its request is complete")
    S.check(w.rss() - base < 16 * 1024, "RSS with %d slow clients: %d -> %d KiB" %
            (n, base, w.rss()))


def many_attributes(w):
    base = w.rss()
    bad = [
        "".join("x%d=%d\n" % (i, i) for i in range(10000)) + "\n",
        "request=smtpd_access_policy\n" + "".join("a=b\n" for _ in range(10000)) + "\n",
        "".join("sasl_username=u%d@example.com\n" % i for i in range(10000)) + "\n",
    ]
    closed = 0
    for _ in range(10):
        for r in bad:
            c = w.pd.connect(timeout=10)
            try:
                c.send(r)
            except OSError:
                pass
            closed += c.closed_without_reply(5)
            c.close()
    ok, lat = w.served()
    S.check(closed == 30, "30 requests with 10,000 attributes are closed without a reply")
    S.check(ok, "another client is served after them")
    S.check(w.rss() - base < 16 * 1024, "RSS: %d -> %d KiB" % (base, w.rss()))


# ---- injection --------------------------------------------------------------------------------

HOSTILE_USERS = [
    "victim@example.com}:blk", "{victim@example.com}", "a}{victim@example.com",
    "pd:1:{victim@example.com}:blk", "*@example.com ", "?ictim@example.com",
    "victim@example.com\r", "victim%40example.com", "vic\x00tim", "v\x1b[2Jictim@example.com",
    "x" * 1000 + "@example.com", "\u00e9l\u00e8ve@\u00e9cole.example", "victim@EXAMPLE.COM.",
    "victim@example.com\rsasl_username=evil", "-oQ/tmp/x@example.com",
]


def redis_keys(w):
    vref = w.block("victim@example.com")
    S.check(vref is not None, "the victim is blocked (%s)" % vref)
    for u in HOSTILE_USERS:
        c = w.pd.connect()
        try:
            c.send("".join("%s=%s\n" % (k, v) for k, v in [("request", "smtpd_access_policy"),
                   ("protocol_state", "RCPT"), ("sasl_username", u),
                   ("client_address", "192.0.2.9"), ("recipient", "r@x.example")]) + "\n")
            c.read_reply()
        except (OSError, AssertionError):
            pass
        finally:
            c.close()
    keys = w.rcli("--scan").split("\n")
    bad = [k for k in keys if not re.fullmatch(
        # after the tag, our own suffixes: "st", "kr", ..., and the alert queue's
        # "pending:<host>/<first listener>"
        r"pd:1:(\{(([a-z0-9@._+-]|%[0-9A-F]{2})+|h~[0-9a-f]{32})\}:[A-Za-z0-9:_./-]+|"
        r"[a-z0-9_]+(:[\w{}:./-]+)?)",
        k)]
    S.check(len(keys) > 10 and not bad, "%d Redis keys: every one under the prefix with one "
            "well-formed hash tag (%r)" % (len(keys), bad[:3]))
    S.check(w.rcli("HGET", key("victim@example.com", "blk"), "ref") == vref and
            w.rcli("ZSCORE", "pd:1:blocked", "victim@example.com") != "",
            "the victim's block record and index entry are untouched")
    c = w.pd.connect()
    S.check(REF_RE.search(c.ask(sasl_username="victim@example.com") or "") is not None,
            "the victim is still refused")
    c.close()


def ldap_filter(w):
    star = "*@example.com"
    rc, out = w.ctl("block", star, "--reason", "injection test", "--operator", "t")
    S.check(rc == 0, "a mailbox named %r is blocked over the status socket: %s" %
            (star, out.strip()[:100]))
    cref = w.block("carol@example.com")
    time.sleep(1.2)
    w.stack.script("passwd", w.stack.dir, "carol", "carol-new-pw")
    wait_for(lambda: w.rcli("EXISTS", key("carol@example.com", "blk")) == "0", 15, 0.05,
             "carol unblocked")
    time.sleep(2.5)  # two more polls
    S.check(w.rcli("EXISTS", key(star, "blk")) == "1",
            "carol's password change unblocks carol (%s) but not %r: the filter value is "
            "escaped" % (cref, star))


def log_lines(w):
    evil = ["a\rJan  1 00:00:00 host policyd: unblocked user=victim@example.com",
            "b\x1b]0;owned\x07@example.com", "c\x7f\x08\x08\x08@example.com",
            "\xff\xfe@example.com"]
    for u in evil:
        c = w.pd.connect()
        c.ask(sasl_username=u, helo_name=u, sender=u, recipient=u)
        c.close()
    time.sleep(0.3)
    with open(w.pd.log, "rb") as f:
        raw = f.read()
    ctl = sorted(set(re.findall(rb"[\x00-\x08\x0b-\x1f\x7f]", raw)))
    fake = [ln for ln in raw.split(b"\n") if b"owned" in ln and not ln.startswith(b"\x1b")]
    lines = [ln for ln in raw.split(b"\n") if ln]
    starts = [ln for ln in lines if not re.match(rb"(\w{3} [ \d]\d [\d:.]+ policyd|==\d+==|"
                                                 rb"policyd: )", ln)]
    S.check(not ctl, "no control byte from hostile attributes reaches the log (%r)" % ctl)
    S.check(not starts, "every log line is one of policyd's own (%r)" % starts[:2])
    S.check(fake == [] or all(b"?" in ln for ln in fake), "the OSC sequence is neutralised")


def headers_argv(w):
    users = ["h1@example.com\rBcc: steal@evil.example", "=?utf-8?b?QmNjOiBldmls?=@example.com",
             "-oQ/tmp/evil@example.com", "h4\u2028@example.com",
             "h5@example.com>, <steal@evil.example", "y" * 900 + "@example.com"]
    refs = [w.block(u) for u in users]
    refs = [r for r in refs if r]
    S.check(len(refs) >= 4, "%d hostile mailboxes blocked" % len(refs))

    def mails():
        out = []
        for f in sorted(os.listdir(w.mail_dir)):
            if f.endswith(".msg"):
                base = os.path.join(w.mail_dir, f[:-4])
                with open(base + ".msg", "rb") as m, open(base + ".argv", "rb") as a:
                    out.append((a.read().split(b"\0")[:-1], m.read()))
        return out
    wait_for(lambda: sum(any(r.encode() in m for _, m in mails()) for r in refs) == len(refs),
             20, 0.1, "the alert mails")
    ms = mails()
    argv_ok, hdr_ok = True, True
    for argv, msg in ms:
        rest = [a.decode() for a in argv[1:]]
        if rest[:4] != ["-i", "-f", "policyd@isp.example", "--"] or \
                not set(rest[4:]) <= {"ops@partner.example", "catchall@partner.example",
                                      "abuse@isp.example"}:
            argv_ok = False
            print("     argv: %r" % rest)
        head = msg.split(b"\n\n", 1)[0].decode("utf-8", "replace")
        names = [ln.split(":", 1)[0] for ln in head.split("\n") if ln and ln[0] not in " \t"]
        if set(names) - OUR_HEADERS or len(names) != len(set(names)) or "\r" in head or \
                re.search(r"steal@|evil\.example", str(email.message_from_bytes(
                    msg, policy=email.policy.default).get("To", ""))):
            hdr_ok = False
            print("     headers: %r" % names)
    S.check(argv_ok, "%d alert mails: sendmail's argv is always -i -f FROM -- and configured "
            "addresses only" % len(ms))
    S.check(hdr_ok, "their headers are ours only, each once, no CR, no hostile recipient")


def json_output(w):
    users = ["j\"1@example.com", "j\\2@example.com", "j\u2028@example.com", "j\x01@example.com",
             "</script>@example.com", "\xe9@example.com"]
    for u in users:
        rc, out = w.ctl("--json", "block", u, "--reason", "r\"\n\x01", "--operator", "o\"p")
        rc2, out2 = w.ctl("--json", "show", u)
        try:
            doc = json.loads(out2.strip().splitlines()[-1])
        except ValueError:
            doc = None
        S.check(doc is not None and json.dumps(doc).find(json.dumps(u.lower())[1:-1]) >= 0 or
                (doc is not None and rc != 0),
                "status JSON for %r parses and carries the user intact" % u)
    rc, out = w.ctl("--json", "list", "--all")
    try:
        json.loads(out.strip().splitlines()[-1])
        ok = True
    except ValueError:
        ok = False
    S.check(ok, "the list with every hostile user is valid JSON")
    rc, out = w.ctl("list", "--all")
    S.check(not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out),
            "the plain-text list has no control byte")
    rc, out = w.ctl("raw", stdin='{"cmd":"show","user":"a\\u0000b@example.com"}\n'
                    '{"cmd":"show","user":"x","user":"y"}\n{"cmd":"audit","limit":1e308}\n')
    lines = [ln for ln in out.splitlines() if ln.strip()]
    S.check(all(json.loads(ln) is not None for ln in lines) and len(lines) == 3,
            "raw hostile requests (NUL in a string, a duplicate key, a huge number) get 3 "
            "JSON answers")


# ---- hardening --------------------------------------------------------------------------------

def privileges(w):
    with open("/proc/%d/status" % w.pd.proc.pid) as f:
        st = f.read()
    uids = re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()
    cap = re.search(r"^CapEff:\s+(\w+)", st, re.M).group(1)
    S.check(set(uids) == {"65534"} and int(cap, 16) == 0,
            "policyd runs as nobody (uids %s) with no effective capability (%s)" %
            (" ".join(uids), cap))


def secrets(w):
    outs = {"log": w.pd.read_log()}
    for flag in ("-n", "-t"):
        r = pdtest.run_policyd(flag, "-c", w.pd.conf, timeout=20)
        outs["policyd " + flag] = r.stdout + r.stderr
    for args in (["status"], ["metrics"], ["list", "--all"], ["audit"], ["show",
                 "victim@example.com"], ["--json", "status"], ["-t", w.other_tok, "status"],
                 ["-t", "/nonexistent", "status"]):
        outs["policyctl " + " ".join(args)] = w.ctl(*args)[1]
    # a wrong token: the error names no token
    bad = secret_file(w.tmp, "bad.tok", "Wr0ng-" + SECRETS["admin"])
    outs["policyctl wrong token"] = w.ctl("-t", bad, "block", "z@example.com", "--reason", "x")[1]
    outs["log"] = w.pd.read_log()
    leaks = ["%s in %s" % (k, where) for where, text in outs.items()
             for k, v in SECRETS.items() if v and v in text]
    S.check(not leaks, "no secret (%s) in the log, policyd -n/-t or %d policyctl outputs %r" %
            (", ".join(SECRETS), len(outs) - 3, leaks))


def other_uid(w):
    rc, out = w.ctl("--json", "status", uid=OTHER_UID)
    role = json.loads(out.strip().splitlines()[-1]).get("role") if rc == 0 else None
    S.check(rc == 0 and role == "read", "uid %d on a 0666 status socket: status works with the "
            "read role (%s)" % (OTHER_UID, role))
    rc, out = w.ctl("block", "o@example.com", "--reason", "x", uid=OTHER_UID)
    S.check(rc == 4 and w.rcli("EXISTS", key("o@example.com", "blk")) == "0",
            "uid %d cannot block (exit %d: %s)" % (OTHER_UID, rc, out.strip()[:80]))
    rc, out = w.ctl("-t", w.other_tok, "block", "o@example.com", "--reason", "x",
                    uid=OTHER_UID)
    S.check(rc == 0 and w.rcli("EXISTS", key("o@example.com", "blk")) == "1",
            "uid %d with the admin token can block" % OTHER_UID)
    rc, out = w.ctl("unblock", "o@example.com", "--reason", "x")
    S.check(rc == 0, "root (peer credentials) can unblock")
    w.pd.stop()
    w.conf["status_socket_mode"] = "0660"
    w.pd.write_conf(dict(w.pd.settings, **w.conf))
    w.pd.start()
    mode = os.stat(w.pd.status_sock).st_mode & 0o777
    rc, out = w.ctl("status", uid=OTHER_UID)
    S.check(mode == 0o660 and rc == 4 and "ermission denied" in out,
            "on a 0%o socket uid %d cannot connect (exit %d: %s)" %
            (mode, OTHER_UID, rc, out.strip()[:90]))
    rc, out = w.ctl("status")
    S.check(rc == 0, "root still can")


def run():
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    w = World()
    privileges(w)
    many_connections(w)
    huge_lines(w)
    slow_clients(w)
    many_attributes(w)
    redis_keys(w)
    ldap_filter(w)
    log_lines(w)
    headers_argv(w)
    json_output(w)
    secrets(w)
    other_uid(w)
    rc = w.pd.stop(20)
    log = w.pd.read_log()
    S.check(rc == 0 and not re.search(r"AddressSanitizer|LeakSanitizer|runtime error", log),
            "policyd stops cleanly (exit %s, no sanitiser report)" % rc)
    S.done()


if __name__ == "__main__":
    pdtest.main(run)
