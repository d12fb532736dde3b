# SPDX-License-Identifier: MIT
"""test_story - the seed story end to end, with real processes only.

A phishing wave takes over five of fifty mailboxes; the attacker sends through rotating
proxies to hundreds of never-seen recipients (shared/seeds/000: "the IPs seemed to change
every few hours ... proxies in other countries"; the spool "flooded"; "nuke" the queue;
domain-wide password reset), and the provider's answer in shared/seeds/004: block the
one mailbox, tell the partner, unblock it by itself once the password is changed.

What runs (scripts/stack.sh): redis-server (appendonly), slapd with ppolicy and the
AD-like pwdLastSet, Postfix with Cyrus SASL on a loopback submission port
(check_policy_service in smtpd_recipient_restrictions before permit_sasl_authenticated,
XCLIENT allowed from loopback), smtp-sink as the next hop; policyd (PD_BUILD: the ASan
build under 'make SAN=address,undefined integ'), policyctl, and Postfix's own sendmail,
postqueue, postsuper and postcat. Mail is submitted with SMTP AUTH by a small SMTP client
(smtplib) that sets the client address with XCLIENT before it authenticates, so the
proxies' addresses are real client_address values at Postfix's RCPT stage.

Honest shortcuts, and why:
  - The week of history. Postfix cannot send policyd a time, and a week of real time is
    not a test. So a separate "replay" policyd with trust_request_time = yes feeds the
    week before now over the policy protocol (policyd_time=, the same request Postfix
    sends at RCPT) into the same Redis, and stops. The policyd under test then starts with
    the default trust_request_time = no and the wall clock, and only Postfix talks to it.
  - The spool. Delivery is slower than submission in real life (the seed's UTM queued
    thousands of messages); here Postfix's smtp transport is in defer_transports, so what
    Postfix accepts stays in the queue ("deferred transport") where the queue helper must
    find it. Alert mails go to the partner and abuse domains through the relay transport
    (transport_maps) straight to the sink. At the end "postqueue -f" delivers the queue,
    and every message of the 45 other mailboxes must reach the sink.
  - Settings: everything is policyd's default except what the story needs: alerts on
    (alert_wave_threshold = 5, as the wave has five mailboxes), the LDAP poller every 3 s,
    and ldap_clock_skew = 1s (the default 10 s margin would ignore a password changed
    within 10 s of its block; here blocks and changes are seconds apart, on one clock).
  - Restarts are planned ones (SIGTERM): Redis with appendfsync everysec may lose the last
    second of writes on a crash, which is a setting, not a bug this story can judge.
  - Two of the compromised mailboxes and their users live in domains other than the
    stack's example.com; the test adds them to slapd and sasldb2 itself, the way the stack
    adds its own. The three users who change their passwords are stack users and use
    "stack.sh passwd" (LDAP password, pwdLastSet and sasldb2, as production would).
  - The queue helper matches the envelope sender; one attacker forges another sender, and
    only "policyctl queue list --sasl" (the SASL login recorded in the queue file) finds
    its messages. That is what the helper documents.

The story, asserted step by step:
  1. 50 mailboxes in 3 customer domains have a week of ordinary history.
  2. 5 are taken over: the attacker sends from a new /24 of a far-away network for every
     message, 10 never-seen recipients a message, up to 120 per mailbox (it gives up after
     three refused messages), while the 45 others send their usual mail from their offices.
  3. Each compromised mailbox is refused at RCPT (554 5.7.1 ... ref PD-...) after a
     bounded number of recipients, and stays refused with the same reference; the
     messages accepted before are exactly what "policyctl queue list" shows, and
     "policyctl queue purge" removes exactly them; nothing of the 45 is refused or
     purged; the spool never held more than a bounded number of attacker messages.
  4. Each partner gets exactly one alert per blocked mailbox (the abuse desk a copy), and
     the abuse desk one wave alert.
  5. policyctl shows the five blocks with their evidence.
  6. Three users change their passwords: within one LDAP poll interval their mailboxes
     send again (the attacker's old password fails), and each partner gets one unblock
     mail; the other two stay blocked.
  7. Redis and policyd are restarted mid-story (after the third block): no block is lost,
     nothing is alerted twice, the blocks made after the restart complete the wave.
A failed story check (expect) lets the story go on, so one run shows every step that
breaks; the suite then fails with the list. Figures for the closing note are printed as
"figure:" lines.

Run: python3 tests/e2e/test_story.py   (PD_BUILD=build/san for the sanitiser build; root)
"""
import email
import email.policy
import json
import os
import random
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integ"))
import pdtest  # noqa: E402
from pdtest import Policyd, Stack, Suite, request  # noqa: E402

class Story(Suite):
    """A Suite whose story checks (expect) let the story go on when they fail, so that one
    run shows every step that breaks and prints every figure; the suite still fails."""

    def __init__(self, name):
        Suite.__init__(self, name)
        self.failed = []

    def expect(self, cond, what):
        if cond:
            self.check(True, what)
        else:
            print("FAIL " + what, flush=True)
            self.failed.append(what)

    def done(self):
        if self.failed:
            print("%s: %d passed, %d failed:" % (self.name, self.passed, len(self.failed)))
            for f in self.failed:
                print("  FAILED " + f)
            raise AssertionError("%d story checks failed" % len(self.failed))
        Suite.done(self)


S = Story("story")
SEED = 20170627  # the date of the seed's new process, as a seed
DAY = 86400
POLL = 3           # ldap_poll_interval, seconds
WAVE = 5           # alert_wave_threshold
BLOCK_BOUND = 100  # at most this many recipients accepted per compromised mailbox
PLAN = 120         # recipients the attacker tries per compromised mailbox
PER_MSG = 10       # recipients per attacker message
ABUSE = "abuse@isp.example"
PARTNER_A = ["ops@partner-a.example"]
PARTNER_B = ["help@partner-b.example", "noc@partner-b.example"]
PARTNERS = {"example.com": PARTNER_A, "lawfirm.example": PARTNER_A,
            "bakery.example": PARTNER_B}
OFFICE = {"example.com": "198.51.100.%d", "bakery.example": "203.0.113.%d",
          "lawfirm.example": "192.0.2.%d"}
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor",
         "wendy", "xavier", "yolanda", "zoe", "arthur", "bella", "cedric", "delia", "emil",
         "fiona", "gus", "hana", "igor", "jana", "kurt", "lena", "milo", "nora", "oscar",
         "paula", "quinn", "rosa", "sven", "tara", "ugo", "vera", "walt", "xenia", "yuri",
         "zara", "abel"]
# 17 stack users in example.com (the stack's domain), 17 in bakery, 16 in lawfirm
DOMAIN_OF = {n: "example.com" if i < 17 else "bakery.example" if i < 34 else "lawfirm.example"
             for i, n in enumerate(FIRST)}
# taken over: three example.com users (they change their passwords), one of each other domain
VICTIMS = ["carol", "dave", "erin", "fiona.bakery", "oscar.lawfirm"]
CHANGERS = ["carol", "dave", "erin"]
FORGER = "fiona.bakery"  # its attacker uses a look-alike envelope sender
REF_RE = re.compile(r"\(ref (PD-[0-9A-F]{8})\)")
FREEMAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.net", "aol.com"]
FAR_NETS = ["41.%d.%d.%d", "102.%d.%d.%d", "105.%d.%d.%d", "154.%d.%d.%d", "197.%d.%d.%d",
            "185.%d.%d.%d", "45.%d.%d.%d", "177.%d.%d.%d"]
FIGURES = []


def figure(text):
    FIGURES.append(text)
    print("figure: " + text, flush=True)


# ---- the people -------------------------------------------------------------------------

class Person:
    """A mailbox and its owner: login, password, usual networks, address book."""

    def __init__(self, uid, rng):
        self.uid = uid
        name = uid.split(".")[0]
        self.domain = DOMAIN_OF[name]
        self.mb = "%s@%s" % (name, self.domain)
        self.password = "%spw" % (name if self.domain == "example.com" else uid)
        self.rng = random.Random(rng.random())
        self.office = OFFICE[self.domain] % self.rng.randint(2, 250)
        self.home = "100.%d.%d.%d" % (64 + self.rng.randint(0, 63), self.rng.randint(0, 255),
                                      self.rng.randint(2, 250))
        partners = ["%s-client%d.example" % (name, i) for i in range(8)]
        self.book = ["contact%d.%s@%s" % (i, name, self.rng.choice(partners + FREEMAIL))
                     for i in range(40)]
        self.daily = max(1.0, self.rng.lognormvariate(1.8, 0.5))  # messages a workday
        self.nmsg = 0
        self.queued = []   # queue ids of today's accepted messages
        self.refused = []  # (recipient, reply) of today's refused RCPTs

    def recipients(self):
        x = self.rng.random()
        n = 1 if x < 0.72 else 2 if x < 0.86 else 3 if x < 0.95 else self.rng.randint(4, 8)
        out = []
        for _ in range(n):
            if self.rng.random() < 0.12:
                a = "new%06x.%s@%s" % (self.rng.getrandbits(24), self.uid,
                                       self.rng.choice(FREEMAIL))
                self.book.append(a)
            else:
                a = self.book[min(int(self.rng.paretovariate(1.2)) - 1, len(self.book) - 1)]
            if a not in out:
                out.append(a)
        return out

    def history(self, now):
        """RCPT requests of the 7 days before now (policyd_time), oldest first."""
        reqs = []
        for d in range(7, 0, -1):
            start = now - d * DAY
            weekday = time.gmtime(start).tm_wday < 5
            n = int(round(self.rng.gauss(self.daily, self.daily / 3))) if weekday \
                else int(self.rng.random() < 0.3)
            for t in sorted(self.rng.uniform(0, 9 * 3600) for _ in range(max(0, n))):
                client = self.office if self.rng.random() < 0.85 else self.home
                self.nmsg += 1
                inst = "h%d.%s" % (self.nmsg, self.uid)
                for i, r in enumerate(self.recipients()):
                    reqs.append(request(sasl_username=self.mb, sender=self.mb, recipient=r,
                                        client_address=client, client_name="unknown",
                                        instance=inst, policyd_time=str(int(start + t + i))))
        return reqs


# ---- SMTP submission through XCLIENT ------------------------------------------------------

class Submission:
    """One SMTP session: XCLIENT ADDR=..., AUTH, MAIL, RCPT..., DATA."""

    def __init__(self, port, login, password, sender, rcpts, addr, helo, subject):
        self.rcpt_replies = []
        self.queue_id = None
        self.auth_ok = False
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        try:
            s.ehlo("submission-proxy")
            code, msg = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE]" % addr)
            assert code == 220, "XCLIENT: %d %s" % (code, msg)
            s.ehlo_resp = None
            s.esmtp_features = {}
            s.ehlo(helo)
            try:
                s.login(login, password)
            except smtplib.SMTPAuthenticationError as e:
                self.auth_error = e.smtp_code
                return
            self.auth_ok = True
            code, msg = s.mail(sender)
            assert code == 250, "MAIL FROM: %d %s" % (code, msg)
            for r in rcpts:
                code, msg = s.rcpt(r)
                self.rcpt_replies.append((r, code, msg.decode("utf-8", "replace")))
            if any(c == 250 for _, c, _ in self.rcpt_replies):
                body = ("From: %s\r\nTo: undisclosed-recipients:;\r\nSubject: %s\r\n\r\n"
                        "%s\r\n" % (sender, subject, subject)).encode()
                code, msg = s.data(body)
                m = re.search(rb"queued as ([0-9A-Za-z]+)", msg)
                assert code == 250 and m, "DATA: %d %s" % (code, msg)
                self.queue_id = m.group(1).decode()
            else:
                s.rset()
        finally:
            try:
                s.quit()
            except smtplib.SMTPException:
                s.close()

    def accepted(self):
        return [r for r, c, _ in self.rcpt_replies if c == 250]

    def refused(self):
        return [(r, c, m) for r, c, m in self.rcpt_replies if c != 250]


# ---- the sink ------------------------------------------------------------------------------

class Mail:
    def __init__(self, raw):
        head = raw.split("\n\n", 1)[0]
        self.rcpts = sorted(re.findall(r"^X-Rcpt-Args: <([^>]*)>", head, re.M))
        self.msg = email.message_from_string(raw, policy=email.policy.default)
        self.event = str(self.msg.get("X-Policyd-Event", ""))
        self.ref = str(self.msg.get("X-Policyd-Ref", ""))
        self.subject = str(self.msg.get("Subject", ""))
        m = re.search(r"with ESMTPA id ([0-9A-Za-z]+)", raw)
        self.smtp_queue_id = m.group(1) if m else None
        self.body = self.msg.get_body(("plain",)).get_content() if self.event else ""


def sink(stack):
    return [Mail(m) for m in stack.sink_messages()]


def alerts(stack, event=None):
    return [m for m in sink(stack) if m.event and (event is None or m.event == event)]


# ---- Postfix's queue ------------------------------------------------------------------------

def postqueue(stack):
    r = subprocess.run(["postqueue", "-c", stack.vars["POSTFIX_CONF"], "-j"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]


def policyctl(p, *args, env=None):
    ctl = os.path.join(pdtest.BUILD, "policyctl")
    r = subprocess.run([ctl, "-s", p.status_sock] + list(args), capture_output=True, text=True,
                       timeout=120, env=env)
    return r.returncode, r.stdout, r.stderr


# ---- set-up ---------------------------------------------------------------------------------

def add_directory_users(stack, people):
    """The users of the two other domains: LDAP entries as the stack's own (ppolicy hashes
    the password, pwdLastSet set) and sasldb2 entries for SMTP AUTH."""
    ft = int((time.time() - 30 * DAY + 11644473600) * 10 ** 7)
    ldif = []
    for p in people:
        name = p.mb.split("@")[0]
        ldif.append("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: adEmulatedUser\n"
                    "uid: %s\ncn: %s\nsn: %s\nmail: %s\nsAMAccountName: %s\n"
                    "userPrincipalName: %s\npwdLastSet: %d\nuserPassword: %s\n"
                    % (p.uid, stack.vars["LDAP_PEOPLE"], p.uid, name, name, p.mb, p.uid, p.mb,
                       ft, p.password))
    r = subprocess.run(["ldapadd", "-x", "-H", stack.vars["LDAP_URI"], "-D",
                        stack.vars["LDAP_ADMIN_DN"], "-w", stack.vars["LDAP_ADMIN_PW"]],
                       input="\n".join(ldif), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    db = stack.vars["SASLDB"]
    for p in people:
        name, dom = p.mb.split("@")
        r = subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", dom, name],
                           input=p.password, capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
    os.chown(db, 0, int(subprocess.run(["getent", "group", "postfix"], capture_output=True,
                                       text=True).stdout.split(":")[2]))
    os.chmod(db, 0o640)


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def policyd_conf(stack, tmp):
    return {
        "redis_server": "unix:" + stack.vars["REDIS_SOCK"],
        "alert_enabled": "yes",
        "alert_partner_map": os.path.join(tmp, "partners"),
        "alert_abuse_desk": ABUSE,
        "alert_from": "policyd@isp.example",
        "alert_helpdesk": "helpdesk@isp.example, +44 20 7946 0000",
        "alert_wave_threshold": str(WAVE),
        "ldap_uri": stack.vars["LDAP_URI"],
        "ldap_bind_dn": stack.vars["LDAP_BIND_DN"],
        "ldap_bind_password_file": os.path.join(tmp, "ldap.pw"),
        "ldap_search_base": stack.vars["LDAP_PEOPLE"],
        "ldap_poll_interval": "%ds" % POLL,
        "ldap_clock_skew": "1s",
    }


def ready(p):
    """Start p (if it is not running) and wait until it answers from Redis."""
    if p.proc is None or p.proc.poll() is not None:
        p.start()
    pdtest.log_has(p, r"recipient hash key", 20)
    c = p.connect()

    def probe():
        c.ask(sasl_username="probe@probe.example", protocol_state="DATA")
        last = [ln for ln in p.read_log().splitlines() if "user=probe@probe.example " in ln]
        return last and "verdict=FAIL" not in last[-1]

    pdtest.wait_for(probe, 20, 0.05, what="policyd answering from redis")
    c.close()
    return p


def seed_history(stack, tmp, people, now):
    """Step 1: a week of ordinary mail, fed by a replay policyd over the protocol."""
    t0 = time.time()
    rp = Policyd({"redis_server": "unix:" + stack.vars["REDIS_SOCK"],
                  "trust_request_time": "yes"}, dirpath=pdtest.tempdir("pdreplay."))
    ready(rp)
    reqs = {p.uid: p.history(now) for p in people}
    errors = []

    def feed(p):
        try:
            c = rp.connect(timeout=60)
            todo = reqs[p.uid]
            for k in range(0, len(todo), 200):
                c.send("".join(todo[k:k + 200]))
                got = [c.read_reply() for _ in todo[k:k + 200]]
                bad = [g for g in got if g != "DUNNO"]
                if bad:
                    errors.append("%s: %s" % (p.mb, bad[:2]))
            c.close()
        except Exception as e:  # reported below, in the main thread
            errors.append("%s: %r" % (p.mb, e))

    threads = [threading.Thread(target=feed, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n = sum(len(v) for v in reqs.values())
    msgs = sum(p.nmsg for p in people)
    S.check(not errors, "step 1: a week of history for %d mailboxes in 3 domains: %d messages, "
            "%d recipients, all DUNNO (%.1f s)" % (len(people), msgs, n, time.time() - t0))
    rc = rp.stop()
    S.check(rc == 0 and "Sanitizer" not in rp.read_log(),
            "the replay policyd (trust_request_time = yes) stops cleanly; from now on only "
            "Postfix asks, on the wall clock")
    figure("history: %d mailboxes, %d messages, %d recipients over 7 days" % (len(people), msgs, n))


# ---- the attack and the ordinary day -------------------------------------------------------------

class Attacker:
    """One compromised mailbox's attacker: a new far-away /24 for every message."""

    def __init__(self, victim, rng, k):
        self.v = victim
        self.password = victim.password  # phished: the attacker keeps the one it has
        self.rng = random.Random(rng.random())
        self.k = k
        self.sender = victim.mb if victim.uid != FORGER else \
            "billing@%s-payments.example" % victim.domain.split(".")[0]
        self.todo = ["u%08x@%s" % (self.rng.getrandbits(32),
                                   self.rng.choice(FREEMAIL + ["d%05x.example" % i
                                                               for i in range(40)]))
                     for _ in range(PLAN)]
        self.sessions = []
        self.nets = 0
        self.ref = None
        self.block_at = None  # 1-based index of the first refused recipient
        self.tried = 0

    def net(self):
        self.nets += 1
        pat = FAR_NETS[(self.k + self.nets) % len(FAR_NETS)]
        return pat % (self.k * 20 + self.nets // 250 + 1, self.nets % 250, self.rng.randint(2, 250))

    def send(self, stack, n=PER_MSG):
        if not self.todo:
            return None
        rcpts, self.todo = self.todo[:n], self.todo[n:]
        s = Submission(int(stack.vars["SUBMIT_PORT"]), self.v.mb, self.password, self.sender,
                       rcpts, self.net(), "WIN-%04X" % self.rng.getrandbits(16),
                       "Your invoice %06d" % self.rng.getrandbits(20))
        self.sessions.append(s)
        for i, (r, code, msg) in enumerate(s.rcpt_replies):
            if code != 250 and self.block_at is None:
                self.block_at = self.tried + i + 1
            m = REF_RE.search(msg)
            if m and self.ref is None:
                self.ref = m.group(1)
        self.tried += len(s.rcpt_replies)
        return s

    def accepted(self):
        return sum(len(s.accepted()) for s in self.sessions)

    def queue_ids(self):
        return {s.queue_id for s in self.sessions if s.queue_id}

    def refusals(self):
        return [x for s in self.sessions for x in s.refused()]


def ordinary(stack, p):
    """One message of an ordinary user, from the office."""
    s = Submission(int(stack.vars["SUBMIT_PORT"]), p.mb, p.password, p.mb, p.recipients(),
                   p.office, "laptop-%s" % p.uid.split(".")[0], "Re: our meeting")
    if s.queue_id:
        p.queued.append(s.queue_id)
    p.refused += s.refused()
    return s


def attacker_spool(stack, attackers):
    """Messages in the queue (any queue: hold, deferred, ...) with an attacker's sender."""
    senders = {a.sender.lower() for a in attackers}
    return sum(1 for m in postqueue(stack) if m["sender"].lower() in senders)


def attack(stack, attackers, honest, rng, spool, everyone, stop_after_block=3):
    """Interleave attacker messages with the honest users' day until every attacker was
    refused stop_after_block times after its block (or ran out of recipients). spool gets
    the number of attacker messages (of every attacker) in the queue after each one."""
    live = list(attackers)
    while live:
        for a in list(live):
            a.send(stack)
            spool.append(attacker_spool(stack, everyone))
            refused_sessions = sum(1 for s in a.sessions if s.rcpt_replies and not s.accepted())
            if not a.todo or refused_sessions >= stop_after_block:
                live.remove(a)
            for _ in range(2):
                ordinary(stack, rng.choice(honest))


def check_blocks(attackers, label):
    for a in attackers:
        refs = {REF_RE.search(m).group(1) if REF_RE.search(m) else None
                for _, _, m in a.refusals()}
        codes = {(c, m.split(" ", 1)[0]) for _, c, m in a.refusals()}
        S.check(a.block_at is not None and a.accepted() <= BLOCK_BOUND and
                refs == {a.ref} and codes == {(554, "5.7.1")},
                "%s: %s refused at RCPT from recipient %s on (%d accepted before, bound %d), "
                "every later RCPT 554 5.7.1 with ref %s (%d refusals)"
                % (label, a.v.mb, a.block_at, a.accepted(), BLOCK_BOUND, a.ref,
                   len(a.refusals())))
    r = attackers[0].refusals()[0][2]
    reply_re = r"5\.7\.1 <[^>]+>: Recipient address rejected: [^0-9]*\(ref PD-[0-9A-F]{8}\)"
    S.check(re.fullmatch(reply_re, r) is not None,
            "%s: the reply names the reference and no numbers: %s" % (label, r))


def check_queue_helper(stack, p, attackers):
    conf = stack.vars["POSTFIX_CONF"]
    for a in attackers:
        want = a.queue_ids()
        rc, out, err = policyctl(p, "-j", "queue", "list", a.v.mb, "-c", conf)
        listed = {json.loads(ln)["queue_id"] for ln in out.splitlines() if ln.strip()}
        if a.v.uid == FORGER:
            S.check(rc == 0 and listed == set() and want,
                    "queue list %s: its attacker forged the envelope sender (%s), so matching "
                    "the sender finds none of its %d messages" % (a.v.mb, a.sender, len(want)))
            rc, out, err = policyctl(p, "-j", "queue", "list", "--sasl", a.v.mb, "-c", conf)
            listed = {json.loads(ln)["queue_id"] for ln in out.splitlines() if ln.strip()}
            S.check(rc == 0 and listed == want,
                    "queue list --sasl %s: the SASL login in the queue files finds all %d"
                    % (a.v.mb, len(want)))
        else:
            S.check(rc == 0 and listed == want,
                    "queue list %s: exactly the %d messages accepted before the block (%s)"
                    % (a.v.mb, len(want), " ".join(sorted(want)[:3]) + " ..."))
    a = attackers[0]
    rc, out, err = policyctl(p, "queue", "purge", "--dry-run", a.v.mb, "-c", conf)
    S.check(rc == 0 and "dry run: nothing removed" in out and
            a.queue_ids() <= {m["queue_id"] for m in postqueue(stack)},
            "queue purge --dry-run %s lists and removes nothing" % a.v.mb)
    env = dict(os.environ, MAIL_CONFIG=conf)
    for a in attackers:
        extra = ["--sasl"] if a.v.uid == FORGER else []
        rc, out, err = policyctl(p, "queue", "purge", *extra, a.v.mb, env=env)
        removed = set(re.findall(r"^removed ([0-9A-Za-z]+)$", out, re.M))
        S.check(rc == 0 and removed == a.queue_ids(),
                "queue purge %s%s (MAIL_CONFIG): postsuper removed exactly its %d messages"
                % (" ".join(extra) + " " if extra else "", a.v.mb, len(removed)))
    left = {m["queue_id"] for m in postqueue(stack)}
    atk = set().union(*(a.queue_ids() for a in attackers))
    return left, atk


# ---- the story --------------------------------------------------------------------------------

def run():
    t_start = time.time()
    rng = random.Random(SEED)
    tmp = pdtest.tempdir("pdstory.")
    policy_port, sink_port = pdtest.free_port(), pdtest.free_port()
    relay = "relay:[127.0.0.1]:%d" % sink_port
    extra = ("defer_transports = smtp\n"
             "transport_maps = inline:{ partner-a.example=%s, partner-b.example=%s, "
             "isp.example=%s }\n" % (relay, relay, relay))
    stack_users = [n for n in FIRST if DOMAIN_OF[n] == "example.com"]
    stack = Stack("redis slapd sink postfix", POLICY_PORT=policy_port, SINK_PORT=sink_port,
                  STACK_USERS=" ".join(stack_users), POSTFIX_MAIN_EXTRA=extra)
    people = [Person(n if DOMAIN_OF[n] == "example.com" else
                     "%s.%s" % (n, DOMAIN_OF[n].split(".")[0]), rng) for n in FIRST]
    add_directory_users(stack, [p for p in people if p.domain != "example.com"])
    os.environ["MAIL_CONFIG"] = stack.vars["POSTFIX_CONF"]  # policyd's alerts: Postfix sendmail
    write_file(os.path.join(tmp, "partners"), "".join(
        "%s  %s\n" % (d, ", ".join(a)) for d, a in PARTNERS.items()))
    write_file(os.path.join(tmp, "ldap.pw"), stack.vars["LDAP_BIND_PW"] + "\n", 0o600)
    S.check(True, "stack up: redis, slapd (+%d users of two more domains), smtp-sink, Postfix "
            "(%.1f s)" % (33, time.time() - t_start))

    # 1. history
    seed_history(stack, tmp, people, int(time.time()) - 600)
    p = ready(Policyd(policyd_conf(stack, tmp), port=policy_port))
    by_uid = {x.uid: x for x in people}
    victims = [by_uid[u] for u in VICTIMS]
    honest = [x for x in people if x.uid not in VICTIMS]
    attackers = [Attacker(v, rng, k) for k, v in enumerate(victims)]
    spool = []

    # 2.-3. the first three mailboxes, while the others work
    t_attack = time.time()
    for x in honest:
        ordinary(stack, x)
    attack(stack, attackers[:3], honest, rng, spool, attackers)
    check_blocks(attackers[:3], "step 3")
    figure("attack, first wave: %d SMTP sessions in %.1f s"
           % (sum(len(a.sessions) for a in attackers[:3]), time.time() - t_attack))

    # 7. mid-story restarts: Redis under a running policyd, then policyd itself
    refs_before = {a.v.mb: a.ref for a in attackers[:3]}
    rpid = int(open(os.path.join(stack.dir, "run", "redis.pid")).read().split()[0])
    os.kill(rpid, signal.SIGTERM)
    pdtest.wait_for(lambda: not os.path.exists("/proc/%d" % rpid) or
                    open("/proc/%d/stat" % rpid).read().split(")")[1].split()[0] == "Z",
                    20, what="redis stopped")
    pdtest.log_has(p, r"redis unavailable", 10)
    stack.up()
    pdtest.log_has(p, r"redis available again", 20)
    log = p.read_log()
    S.check(log.count("redis unavailable") == 1 and log.count("redis available again") == 1,
            "step 7: Redis restarted under policyd: 'redis unavailable' and 'redis available "
            "again' logged once each")
    rc = p.stop()
    S.check(rc == 0 and "Sanitizer" not in p.read_log(),
            "step 7: policyd stops cleanly (exit 0) mid-story")
    ready(p)
    rc, out, err = policyctl(p, "list")
    S.check(rc == 0 and all(r in out for r in refs_before.values()) and
            "3 blocked in all" in out,
            "step 7: after both restarts policyctl list still shows the 3 blocks")
    for a in attackers[:3]:
        a.todo = a.todo or ["late%d.%s@gmail.com" % (i, a.v.uid) for i in range(PER_MSG)]
        s = a.send(stack)
        S.check(s.auth_ok and not s.accepted() and
                {REF_RE.search(m).group(1) for _, _, m in s.refused()} == {a.ref},
                "step 7: %s is still refused after the restarts, same ref %s" % (a.v.mb, a.ref))

    # 2.-3. the other two, after the restart
    attack(stack, attackers[3:], honest, rng, spool, attackers)
    check_blocks(attackers[3:], "step 3")
    for x in honest:
        ordinary(stack, x)
    t_attack_end = time.time()
    nrefused = sum(len(x.refused) for x in honest)
    nmsgs = sum(len(x.queued) for x in honest)
    S.check(nrefused == 0 and nmsgs >= 2 * len(honest),
            "step 3: the 45 other mailboxes sent %d messages today, none refused" % nmsgs)
    S.check(max(spool) <= 5 * (BLOCK_BOUND // PER_MSG + 1),
            "step 3: the spool never held more than %d attacker messages (bound %d)"
            % (max(spool), 5 * (BLOCK_BOUND // PER_MSG + 1)))

    # 4. alerts
    pdtest.wait_for(lambda: len(alerts(stack, "block")) >= 5 and alerts(stack, "wave"), 60, 0.2,
                    what="five block alerts and the wave alert")
    time.sleep(2.0)  # anything more would show up now
    blocks = alerts(stack, "block")
    for a in attackers:
        mine = [m for m in blocks if m.ref == a.ref]
        want = sorted(PARTNERS[a.v.domain] + [ABUSE])
        S.check(len(mine) == 1 and mine[0].rcpts == want and a.v.mb in mine[0].subject,
                "step 4: one block alert for %s (ref %s) to %s, a copy to the abuse desk"
                % (a.v.mb, a.ref, ", ".join(PARTNERS[a.v.domain])))
    S.check(len(blocks) == 5, "step 4: five block alerts in all, none twice (restarts included)")
    for partner in (PARTNER_A, PARTNER_B):
        got = sorted(m.ref for m in blocks if partner[0] in m.rcpts)
        want = sorted(a.ref for a in attackers if PARTNERS[a.v.domain] == partner)
        S.check(got == want, "step 4: %s got exactly one alert per blocked mailbox of theirs "
                "(%d)" % (partner[0], len(got)))
    waves = alerts(stack, "wave")
    S.check(len(waves) == 1 and waves[0].rcpts == [ABUSE] and
            all(a.v.mb in waves[0].body for a in attackers),
            "step 4: one wave alert to the abuse desk only, naming the five mailboxes (%s)"
            % waves[0].subject)

    # 5. the helpdesk
    rc, out, err = policyctl(p, "list")
    S.check(rc == 0 and "5 blocked in all" in out and all(a.ref in out for a in attackers),
            "step 5: policyctl list shows the five blocks")
    for a in attackers:
        rc, out, err = policyctl(p, "show", a.v.mb)
        ev = re.search(r"evidence: (.*)", out)
        S.check(rc == 0 and "BLOCKED since" in out and "ref %s" % a.ref in out and ev and
                re.search(r"(TRIP-NET|NET-\d|ID-1)\(", ev.group(1)),
                "step 5: policyctl show %s: blocked, ref, evidence: %s"
                % (a.v.mb, ev.group(1) if ev else "-"))
        figure("%s: blocked at recipient %d, %d recipients in %d messages accepted before, "
               "evidence: %s" % (a.v.mb, a.block_at, a.accepted(), len(a.queue_ids()),
                                 ev.group(1) if ev else "-"))

    # 3. the queue helper
    left, atk = check_queue_helper(stack, p, attackers)
    mine = set().union(*(set(x.queued) for x in honest))
    S.check(not (left & atk) and mine <= left,
            "step 3: no attacker message left in the queue, all %d of the 45 others still "
            "there" % len(mine))

    # 6. three password changes
    time.sleep(1.1)  # pwdChangedTime has a resolution of one second
    for u in CHANGERS:
        v = by_uid[u]
        t = time.time()
        stack.script("passwd", stack.dir, u, "%s-new-pw" % u)
        v.password = "%s-new-pw" % u
        pdtest.wait_for(lambda: "not blocked" in policyctl(p, "show", v.mb)[1], POLL + 5, 0.1,
                        what="unblock of " + v.mb)
        dt = time.time() - t
        S.check(dt <= POLL + 2.0, "step 6: %s unblocked %.1f s after the password change "
                "(poll interval %d s)" % (v.mb, dt, POLL))
        figure("%s: unblocked %.1f s after the password change" % (v.mb, dt))
        s = ordinary(stack, v)
        why = ""
        if s.refused():
            m = REF_RE.search(s.refused()[0][2])
            line = [ln for ln in p.read_log().splitlines()
                    if m and "blocked: user=%s ref=%s " % (v.mb, m.group(1)) in ln]
            why = ": refused, blocked again: %s" % (line[0].split("blocked: ", 1)[1] if line
                                                   else s.refused()[0][2])
        held = [m["queue_id"] for m in postqueue(stack)
                if m["queue_id"] == s.queue_id and m["queue_name"] == "hold"]
        if held:
            hl = [ln for ln in p.read_log().splitlines()
                  if "user=%s " % v.mb in ln and "verdict=HOLD" in ln]
            why = ": accepted but put on hold (%s)" % (hl[-1].split("verdict=", 1)[1][:240]
                                                      if hl else "no HOLD line in the log")
        S.expect(s.queue_id is not None and not s.refused() and not held,
                 "step 6: %s sends again with the new password (accepted, not held)%s"
                 % (v.mb, why))
        a = attackers[VICTIMS.index(u)]
        a.todo = ["again%d.%s@gmail.com" % (i, u) for i in range(3)]
        s = a.send(stack)
        S.check(not s.auth_ok, "step 6: the attacker's old password for %s fails (535)" % v.mb)
    pdtest.wait_for(lambda: len(alerts(stack, "unblock")) >= 3, 30, 0.2, what="unblock mails")
    time.sleep(1.0)
    unb = alerts(stack, "unblock")
    for u in CHANGERS:
        a = attackers[VICTIMS.index(u)]
        mine = [m for m in unb if m.ref == a.ref]
        S.expect(len(mine) == 1 and mine[0].rcpts == sorted(PARTNERS[a.v.domain] + [ABUSE]),
                 "step 6: one unblock mail for %s (ref %s) to its partner" % (a.v.mb, a.ref))
    for a in attackers[3:]:
        s = Submission(int(stack.vars["SUBMIT_PORT"]), a.v.mb, a.v.password, a.v.mb,
                       ["friend@%s-client1.example" % a.v.uid.split(".")[0]], a.v.office,
                       "laptop", "still blocked?")
        S.check(s.auth_ok and not s.accepted() and a.ref in s.refused()[0][2],
                "step 6: %s, password unchanged, stays blocked (ref %s), even from the office"
                % (a.v.mb, a.ref))
    rc, out, err = policyctl(p, "list")
    S.expect("2 blocked in all" in out, "step 6: policyctl list: the two remain (%s)"
             % out.strip().splitlines()[-1])
    every = alerts(stack)
    keys = [(m.event, m.ref) for m in every if m.event != "wave"]
    S.check(len(keys) == len(set(keys)) and len(alerts(stack, "wave")) == 1,
            "no alert twice: each of %d block/unblock mails names its own (event, reference), "
            "and there is one wave mail" % len(keys))
    nb = len(alerts(stack, "block"))
    S.expect(len(unb) == 3 and nb == 5, "no new incident after the password changes: %d block "
             "alerts, %d unblock mails (want 5 and 3)" % (nb, len(unb)))

    # the honest mail gets delivered, the attacker's never
    mine = set().union(*(set(x.queued) for x in people if x.uid not in VICTIMS[3:]))
    held = {m["queue_id"] for m in postqueue(stack) if m["queue_name"] == "hold"} & mine
    S.expect(not held, "none of the owners' own messages is on hold (%d are)" % len(held))
    mine -= held
    r = subprocess.run(["postqueue", "-c", stack.vars["POSTFIX_CONF"], "-f"], capture_output=True,
                       text=True, timeout=60)
    pdtest.wait_for(lambda: mine <= {m.smtp_queue_id for m in sink(stack)}, 60, 0.5,
                    what="the honest mail in the sink")
    delivered = {m.smtp_queue_id for m in sink(stack)}
    S.check(r.returncode == 0 and not (delivered & atk),
            "postqueue -f: all %d messages of the honest users reach the sink, none of the "
            "attacker's" % len(mine))

    rc = p.stop()
    log = p.read_log()
    S.check(rc == 0 and "Sanitizer" not in log and "runtime error" not in log and
            "handles still open" not in log, "policyd stops cleanly (exit 0, no sanitizer report)")
    blocks, waves, unb = alerts(stack, "block"), alerts(stack, "wave"), alerts(stack, "unblock")
    total_acc = sum(a.accepted() for a in attackers)
    total_try = sum(a.tried for a in attackers)
    figure("attack: %d recipients tried from %d networks, %d accepted before the blocks "
           "(max %d per mailbox), %d messages purged" % (
               total_try, sum(a.nets for a in attackers), total_acc,
               max(a.accepted() for a in attackers), len(atk)))
    figure("spool: at most %d attacker messages queued at once" % max(spool))
    figure("alerts: %d block (to partner A %d, partner B %d, abuse desk copies %d), %d wave, "
           "%d unblock" % (len(blocks), sum(PARTNER_A[0] in m.rcpts for m in blocks),
                           sum(PARTNER_B[0] in m.rcpts for m in blocks),
                           sum(ABUSE in m.rcpts for m in blocks), len(waves), len(unb)))
    figure("honest mail: %d messages of 45 mailboxes, 0 refused, 0 purged; attack and "
           "restarts took %.0f s" % (nmsgs, t_attack_end - t_attack))
    figure("run time %.0f s (%s)" % (time.time() - t_start, pdtest.POLICYD))
    S.done()


pdtest.main(run)
