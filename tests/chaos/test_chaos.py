# SPDX-License-Identifier: MIT
"""test_chaos - faults under load. The load generator (build/tools/loadgen) sends at a
steady open-loop rate to a real policyd (its private redis-server, the stack's slapd for
the LDAP poller, the stack's Postfix sendmail for partner alerts) while one fault at a
time is injected:

  redis-kill      redis-server SIGKILLed, restarted 2 s later (AOF, appendfsync always)
  redis-stop      redis-server SIGSTOPped for 10 s, then SIGCONT
  script-flush    SCRIPT FLUSH (every EVALSHA answers NOSCRIPT once)
  maxmemory       maxmemory set to the memory in use (noeviction): writes fail with OOM
  ldap-stop       slapd SIGSTOPped mid-poll until 'ldap unavailable', SIGKILLed, restarted
  sendmail-fail   sendmail exits 75 while a new block is alerted, then works again
  policyd-kill    policyd SIGKILLed under load and restarted

For each fault: late answers (loadgen timeouts: a request unanswered within 1 s while
redis_timeout is 200 ms) must be 0, policyd must not crash, the recovery time after the
fault ends is measured (a probe asks for a blocked mailbox every 50 ms until it is
refused again, or the fault's own sign of recovery), no block is lost and none is
wrongly cleared (the block index and every probe's block record with its reference are
compared before and after), and no alert mail is sent twice (Message-IDs in the sink).
A table is printed at the end.

CHAOS_LONG=1 runs every fault 3 times at a higher rate with longer loads.
Run: python3 tests/chaos/test_chaos.py   (PD_BUILD=build/san for the sanitiser build)
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integ"))
import pdtest  # noqa: E402
from pdtest import Policyd, Redis, Stack, Suite, wait_for  # noqa: E402

S = Suite("chaos")
LONG = bool(os.environ.get("CHAOS_LONG"))
RATE = 300 if LONG else 100          # requests/s offered by loadgen
CONNS = 64 if LONG else 40           # enough for RATE x redis_timeout in flight
LATE_MS = 1000                       # an answer later than this is late (5 x redis_timeout)
ROUNDS = 3 if LONG else 1
LOAD_EXTRA = 10 if LONG else 0       # seconds of load added to every phase
NETS = ["192.0.2.%d", "198.51.100.%d", "203.0.113.%d", "10.9.9.%d"]  # the first is not new
REF_RE = re.compile(r"\(ref (PD-[0-9A-F]{8})\)")
LITERAL = set(b"abcdefghijklmnopqrstuvwxyz0123456789@._+-")


def loadgen_bin():
    for b in (os.path.join(pdtest.ROOT, "build", "tools", "loadgen"),
              os.path.join(pdtest.BUILD, "tools", "loadgen")):
        if os.path.exists(b):
            return b
    raise AssertionError("no loadgen: run make")


def key(mailbox, suffix):
    enc = "".join(chr(c) if c in LITERAL else "%%%02X" % c for c in mailbox.encode())
    return "pd:1:{%s}:%s" % (enc, suffix)


class World:
    def __init__(self):
        self.stack = Stack("slapd sink postfix", STACK_USERS="alice bob carol dave erin")
        os.environ["MAIL_CONFIG"] = self.stack.vars["POSTFIX_CONF"]
        self.redis = Redis()
        self.redis.cli("CONFIG", "SET", "appendfsync", "always")
        self.tmp = pdtest.tempdir("pdchaos.")
        self.flag = os.path.join(self.tmp, "sendmail.fail")
        sm = os.path.join(self.tmp, "sendmail")
        with open(sm, "w") as f:
            f.write("#!/bin/sh\nif [ -e %s ]; then echo 'sendmail: fatal: chaos: queue "
                    "unavailable' >&2; exit 75; fi\nexec /usr/sbin/sendmail \"$@\"\n" % self.flag)
        os.chmod(sm, 0o755)
        with open(os.path.join(self.tmp, "partners"), "w") as f:
            f.write("example.com  ops@partner.example\n")
        pw = os.path.join(self.tmp, "ldap.pw")
        with open(pw, "w") as f:
            f.write(self.stack.vars["LDAP_BIND_PW"] + "\n")
        os.chmod(pw, 0o600)
        v = self.stack.vars
        self.pd = Policyd({
            "redis_server": "unix:" + self.redis.sock, "redis_timeout": "200ms",
            "redis_fail_action": "DUNNO",
            "rule_trip_nets_1h": "3", "rule_trip_nets_1h_rcpt": "0",
            "alert_enabled": "yes", "alert_partner_map": os.path.join(self.tmp, "partners"),
            "alert_abuse_desk": "abuse@isp.example", "alert_from": "policyd@isp.example",
            "alert_sendmail_path": sm, "alert_retry_delay": "300ms",
            "alert_sendmail_timeout": "10s",
            "ldap_uri": v["LDAP_URI"], "ldap_bind_dn": v["LDAP_BIND_DN"],
            "ldap_bind_password_file": pw, "ldap_search_base": v["LDAP_PEOPLE"],
            "ldap_poll_interval": "1s", "ldap_timeout": "2s", "ldap_clock_skew": "0s",
        }, dirpath=self.tmp)
        self.pd.start()
        pdtest.log_has(self.pd, r"recipient hash key", 10)
        self.refs = {}     # mailbox -> reference of its block
        self.rows = []
        self.nblock = 0

    # -- blocks the natural way: a burst from three never-seen networks (TRIP-NET)
    def block(self, mailbox):
        self.nblock += 1
        c = self.pd.connect()
        try:
            for i, net in enumerate(NETS):
                reply = c.ask(sasl_username=mailbox, sender=mailbox, client_address=net % 77,
                              recipient="r%d@elsewhere.example" % i,
                              instance="chaos.%d.%d" % (self.nblock, i))
        finally:
            c.close()
        m = REF_RE.search(reply or "")
        assert m, "no block for %s: %r" % (mailbox, reply)
        self.refs[mailbox] = m.group(1)
        return m.group(1)

    def probe(self, mailbox="probe@example.com"):
        """One request for a blocked mailbox: True when it is refused (Redis answered)."""
        try:
            c = self.pd.connect(timeout=2)
            try:
                r = c.ask(sasl_username=mailbox, client_address="192.0.2.77")
            finally:
                c.close()
            return r is not None and r.startswith("REJECT")
        except OSError:
            return False

    def blocks(self):
        idx = set(self.redis.cli("ZRANGE", "pd:1:blocked", "0", "-1").split())
        recs = {mb: self.redis.cli("HGET", key(mb, "blk"), "ref") for mb in self.refs}
        return idx, recs

    def alert_ids(self):
        ids = []
        for m in self.stack.sink_messages():
            mm = re.search(r"^Message-ID: (\S+)", m, re.M | re.I)
            if mm and "\nX-Policyd-Event: " in m:
                ids.append(mm.group(1))
        return ids

    def alive(self):
        return self.pd.proc.poll() is None


class Load:
    """loadgen in the background for `secs` seconds; .result() is its JSON report."""

    def __init__(self, w, secs, seed):
        self.p = subprocess.Popen(
            [loadgen_bin(), "-t", "127.0.0.1:%d" % w.pd.port, "-c", str(CONNS), "-r", str(RATE),
             "-d", str(secs), "--timeout", str(LATE_MS), "--networks", "1", "--mailboxes", "2000",
             "--seed", str(seed), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result(self):
        out, err = self.p.communicate(timeout=120)
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("loadgen gave no report: %s %s" % (out, err))


def recover(pred, start, timeout=30, step=0.05):
    wait_for(pred, timeout, step, "recovery")
    return time.time() - start


# ---- the faults: each returns (recovery seconds, what recovery means) ----------------------

def f_redis_kill(w):
    w.redis.kill()
    time.sleep(2)
    w.redis.start()
    t = time.time()
    w.redis.cli("CONFIG", "SET", "appendfsync", "always")
    return recover(w.probe, t), "redis restarted -> block enforced"


def f_redis_stop(w):
    w.redis.proc.send_signal(signal.SIGSTOP)
    time.sleep(10)
    w.redis.proc.send_signal(signal.SIGCONT)
    t = time.time()
    return recover(w.probe, t), "SIGCONT -> block enforced"


def f_script_flush(w):
    t = time.time()
    w.redis.cli("SCRIPT", "FLUSH")
    return recover(w.probe, t), "flush -> block enforced"


def f_maxmemory(w):
    used = int(re.search(r"used_memory:(\d+)", w.redis.cli("INFO", "memory")).group(1))
    w.redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    w.redis.cli("CONFIG", "SET", "maxmemory", str(max(used - 4096, 1024 * 1024)))
    time.sleep(3)
    oom = "OOM" in w.pd.read_log() or "maxmemory" in w.pd.read_log()
    w.redis.cli("CONFIG", "SET", "maxmemory", "0")
    t = time.time()
    return recover(w.probe, t), "limit lifted -> block enforced" + ("" if oom else " (no OOM seen)")


def f_ldap_stop(w):
    slapd = int(open(os.path.join(w.stack.dir, "run", "slapd.pid")).read().split()[0])
    before = len(re.findall(r"ldap unavailable", w.pd.read_log()))
    os.kill(slapd, signal.SIGSTOP)  # the next poll's search hangs mid-poll
    try:
        wait_for(lambda: len(re.findall(r"ldap unavailable", w.pd.read_log())) > before, 15,
                 0.05, "ldap unavailable")
        os.kill(slapd, signal.SIGKILL)
    finally:
        os.kill(slapd, signal.SIGCONT)
    wait_for(lambda: not os.path.exists("/proc/%d" % slapd) or
             open("/proc/%d/stat" % slapd).read().split(")")[1].split()[0] == "Z", 10, 0.05,
             "slapd gone")
    time.sleep(1.5)
    w.stack.up()
    t = time.time()
    n = len(re.findall(r"ldap available again", w.pd.read_log()))
    return recover(lambda: len(re.findall(r"ldap available again", w.pd.read_log())) >= max(n, 1),
                   t, 15), "slapd restarted -> 'ldap available again'"


def f_sendmail_fail(w):
    open(w.flag, "w").close()
    ref = w.block("dave@example.com")
    wait_for(lambda: len(re.findall(r"chaos: queue unavailable", w.pd.read_log())) >= 2, 15,
             0.05, "two sendmail failures")
    os.unlink(w.flag)
    t = time.time()
    return recover(lambda: any(ref in i for i in w.alert_ids()), t, 20, 0.1), \
        "sendmail works -> mail of %s delivered" % ref


def f_policyd_kill(w):
    w.pd.proc.kill()
    w.pd.proc.wait(10)
    t = time.time()
    w.pd.start()
    return recover(w.probe, t), "SIGKILL -> restarted, block enforced"


FAULTS = [("redis-kill", f_redis_kill, 8), ("redis-stop", f_redis_stop, 14),
          ("script-flush", f_script_flush, 5), ("maxmemory", f_maxmemory, 7),
          ("ldap-stop", f_ldap_stop, 12), ("sendmail-fail", f_sendmail_fail, 10),
          ("policyd-kill", f_policyd_kill, 6)]


def phase(w, name, fault, secs, seed):
    idx0, recs0 = w.blocks()
    ids0 = w.alert_ids()
    load = Load(w, secs + LOAD_EXTRA, seed)
    time.sleep(1.5)
    rec, what = fault(w) if fault else (0.0, "-")
    r = load.result()
    crashed = not w.alive() or re.search(r"AddressSanitizer|runtime error|panic", w.pd.read_log())
    idx1, recs1 = w.blocks()
    lost = sorted(idx0 - idx1)
    changed = sorted(mb for mb in recs0 if recs0[mb] and recs1.get(mb) != recs0[mb])
    ids1 = w.alert_ids()
    dups = len(ids1) - len(set(ids1))
    e = r["errors"]
    row = {"fault": name, "sent": r["sent"], "answered": r["requests"], "late": e["timeout"],
           "closed": e["closed"] + e["connect"], "p99_ms": r["latency_us"]["p99"] / 1000.0,
           "max_ms": r["latency_us"]["max"] / 1000.0, "recovery_s": rec, "lost": len(lost),
           "wrong_unblock": len(changed), "dup_alerts": dups, "new_alerts": len(ids1) - len(ids0),
           "crash": bool(crashed), "what": what}
    w.rows.append(row)
    print("     %s: %s" % (name, json.dumps(row)), flush=True)
    S.check(not crashed, "%s: policyd did not crash" % name)
    S.check(e["timeout"] == 0, "%s: 0 late answers (%d sent, %d answered, max %.0f ms)" %
            (name, r["sent"], r["requests"], row["max_ms"]))
    if name != "policyd-kill":
        S.check(row["closed"] == 0 and e["protocol"] == 0,
                "%s: no connection dropped, no protocol error" % name)
    S.check(not lost and not changed, "%s: no block lost, none wrongly cleared (%d indexed)" %
            (name, len(idx1)))
    S.check(dups == 0, "%s: no alert mail sent twice (%d mails so far)" % (name, len(ids1)))


def table(rows):
    cols = ["fault", "sent", "answered", "late", "closed", "p99_ms", "max_ms", "recovery_s",
            "lost", "wrong_unblock", "dup_alerts", "crash"]
    print()
    print(" | ".join("%-13s" % c if c == "fault" else c for c in cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            cells.append("%-13s" % v if c == "fault" else
                         ("%*.2f" % (len(c), v) if isinstance(v, float) else "%*s" % (len(c), v)))
        print(" | ".join(cells))
    print()
    for r in rows:
        print("  %-13s recovery: %s" % (r["fault"], r["what"]))
    print(flush=True)


def run():
    w = World()
    for mb in ("probe@example.com", "bob@example.com", "alice@example.com"):
        w.block(mb)
    S.check(w.probe(), "the probe mailbox is blocked and refused (refs %s)" %
            ", ".join(sorted(w.refs.values())))
    wait_for(lambda: len(w.alert_ids()) >= 3, 30, 0.1, "three block mails")
    phase(w, "baseline", None, 3, 1)
    for rnd in range(ROUNDS):
        for i, (name, fn, secs) in enumerate(FAULTS):
            phase(w, name, fn, secs, 100 * rnd + i + 2)

    # the poller still works after every fault: alice changes her password -> one unblock
    ref = w.refs.pop("alice@example.com")
    time.sleep(1.1)
    w.stack.script("passwd", w.stack.dir, "alice", "alice-new-pw")
    t = time.time()
    wait_for(lambda: w.redis.cli("EXISTS", key("alice@example.com", "blk")) == "0", 20, 0.05,
             "alice unblocked")
    w.rows.append({"fault": "pw-change", "sent": 0, "answered": 0, "late": 0, "closed": 0,
                   "p99_ms": 0.0, "max_ms": 0.0, "recovery_s": time.time() - t, "lost": 0,
                   "wrong_unblock": 0, "dup_alerts": 0, "crash": False,
                   "what": "password changed -> unblocked by the poller"})
    wait_for(lambda: any("unblock" in i and ref in i for i in w.alert_ids()), 20, 0.1,
             "the unblock mail")
    time.sleep(2.5)
    ids = w.alert_ids()
    S.check(len(ids) == len(set(ids)) and sum(ref in i for i in ids) == 2,
            "alice: after every fault, the password change unblocks her; one block mail, one "
            "unblock mail (%d alert mails in all, none twice)" % len(ids))
    idx, recs = w.blocks()
    S.check(all(recs[mb] == r for mb, r in w.refs.items()) and
            {"probe@example.com", "bob@example.com", "dave@example.com"} <= idx,
            "probe, bob and dave are still blocked with their first references")
    table(w.rows)
    rc = w.pd.stop(20)
    log = w.pd.read_log()
    S.check(rc == 0 and not re.search(r"AddressSanitizer|LeakSanitizer|runtime error", log),
            "policyd stops cleanly (exit %s, no sanitiser report)" % rc)
    S.done()


if __name__ == "__main__":
    pdtest.main(run)
