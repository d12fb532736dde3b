# SPDX-License-Identifier: MIT
"""test_ldap - the LDAP poller against the real slapd of the test stack: a blocked mailbox
is unblocked after its password changes, and only then.

The stack (scripts/stack.sh, components redis and slapd) gives OpenLDAP with the ppolicy
overlay (pwdChangedTime, pwdReset) and the AD-emulating pwdLastSet attribute. One policyd
polls it every second with ldap_password_time_attribute = auto, so entries with pwdLastSet
are judged by it and the others by pwdChangedTime. Block records are written the way
block.lua writes them (hash <prefix>1:{<mailbox>}:blk plus the index <prefix>1:blocked),
over a binary-safe RESP connection. Checked:

  - AD-emulated user, changed by an admin (stack.sh passwd): unblocked within two polls,
    the log line with its reference, the history entry, probation, the index entry gone;
  - ppolicy user changing their own password (ldappasswd as the user), and one whose
    password the admin sets (ldappasswd as the rootdn): unblocked;
  - password changed before the block, and a pwdLastSet that goes down: stays blocked;
  - pwdLastSet = 0 (admin reset, must change): stays blocked, logged once; the user's own
    change then unblocks; ppolicy pwdReset: TRUE likewise;
  - a mailbox with no entry: stays blocked, logged once;
  - injection: mailboxes with '*', '(', ')', '\\', NUL and UTF-8 match only their own entry;
  - 2,500 blocked mailboxes (250 with an entry: slapd adds ~100 entries/s here): fewer
    than 10 searches per poll, poll time shown;
  - slapd hung (SIGSTOP: the search times out mid-poll), then killed, then restarted:
    nothing unblocked meanwhile, "ldap unavailable" and "ldap available again" logged
    once each, and the pending unblock happens after the recovery;
  - SIGTERM: exit 0, no sanitiser report.
"""
import os
import re
import signal
import socket
import subprocess
import time
import base64

import pdtest
from pdtest import Policyd, Stack, Suite, wait_for

POLL = 1.0
ADMIN_RESET_LOG = "password reset by an administrator"
LITERAL = set(b"abcdefghijklmnopqrstuvwxyz0123456789@._+-")
OLD_FILETIME = (1577836800 + 11644473600) * 10 ** 7  # 2020-01-01


def filetime_now():
    return int((time.time() + 11644473600) * 10 ** 7)


# ---- a binary-safe Redis client (RESP2 over the stack's unix socket) ----------------------

class Resp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise AssertionError("redis closed the connection")
            self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill(len(self.buf) + 1)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise AssertionError("redis error: %r" % rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            self._fill(n + 2)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise AssertionError("bad reply %r" % line)

    @staticmethod
    def _encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def call(self, *args):
        self.s.sendall(self._encode(args))
        return self._read()

    def pipeline(self, commands):
        self.s.sendall(b"".join(self._encode(c) for c in commands))
        return [self._read() for _ in commands]


def key(mailbox, suffix):
    enc = b"".join(bytes([c]) if c in LITERAL else b"%%%02X" % c for c in mailbox)
    assert len(enc) <= 200
    return b"pd:1:{" + enc + b"}:" + suffix


def block_commands(mailbox, ref, created):
    return [
        [b"HSET", key(mailbox, b"blk"), b"ref", ref, b"state", b"blocked", b"reason",
         b"compromise", b"score", b"9", b"rules", b"test", b"created", str(created),
         b"created_by", b"auto", b"unblock", b"password-change", b"expires", b"0",
         b"mailbox", mailbox, b"refused", b"0"],
        [b"ZADD", b"pd:1:blocked", str(created), mailbox],
    ]


class World:
    def __init__(self):
        users = "alice bob carol dave erin frank grace"
        self.stack = Stack("redis slapd", STACK_USERS=users)
        self.v = self.stack.vars
        self.redis = Resp(self.v["REDIS_SOCK"])
        self.nref = 0
        d = pdtest.tempdir("pdldap.")
        self.pwfile = os.path.join(d, "bind.pw")
        with open(self.pwfile, "w") as f:
            f.write(self.v["LDAP_BIND_PW"] + "\n")
        os.chmod(self.pwfile, 0o600)
        keyfile = os.path.join(d, "hash.key")
        with open(keyfile, "w") as f:
            f.write("00112233445566778899aabbccddeeff\n")
        os.chmod(keyfile, 0o600)
        self.pd = Policyd({
            "redis_server": "unix:" + self.v["REDIS_SOCK"],
            "recipient_hash_key_file": keyfile,
            "ldap_uri": self.v["LDAP_URI"],
            "ldap_bind_dn": self.v["LDAP_BIND_DN"],
            "ldap_bind_password_file": self.pwfile,
            "ldap_search_base": self.v["LDAP_PEOPLE"],
            "ldap_query_filter": "(|(mail=%s)(userPrincipalName=%s))",
            "ldap_password_time_attribute": "auto",
            "ldap_poll_interval": "1s",
            "ldap_timeout": "2s",
            "ldap_clock_skew": "0",
        }, dirpath=d, extra_args=["-v"])

    # -- directory
    def ldap(self, tool, *args, stdin=None):
        r = subprocess.run([tool, "-x", "-o", "nettimeout=5", "-H", self.v["LDAP_URI"]] +
                           list(args), input=stdin, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("%s failed: %s %s" % (tool, r.stdout, r.stderr))
        return r.stdout

    def admin_modify(self, ldif):
        self.ldap("ldapmodify", "-D", self.v["LDAP_ADMIN_DN"], "-w", self.v["LDAP_ADMIN_PW"],
                  stdin=ldif)

    def admin_add(self, ldif):
        self.ldap("ldapadd", "-D", self.v["LDAP_ADMIN_DN"], "-w", self.v["LDAP_ADMIN_PW"],
                  stdin=ldif)

    def dn(self, uid):
        return "uid=%s,%s" % (uid, self.v["LDAP_PEOPLE"])

    def set_attr(self, uid, attr, value):
        self.admin_modify("dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n" %
                          (self.dn(uid), attr, attr, value))

    def passwd_as_user(self, uid, old, new):
        self.ldap("ldappasswd", "-D", self.dn(uid), "-w", old, "-a", old, "-s", new,
                  self.dn(uid))

    def passwd_as_admin(self, uid, new):
        self.ldap("ldappasswd", "-D", self.v["LDAP_ADMIN_DN"], "-w", self.v["LDAP_ADMIN_PW"],
                  "-s", new, self.dn(uid))

    def stack_passwd(self, uid, new, *extra):
        self.stack.script("passwd", self.stack.dir, uid, new, *extra)

    # -- blocks
    def block(self, mailbox, created=None):
        self.nref += 1
        ref = b"PD-%08X" % (0xA0000000 + self.nref)
        created = int(time.time()) if created is None else created
        self.redis.pipeline(block_commands(mailbox, ref, created))
        return ref

    def blocked(self, mailbox):
        return self.redis.call(b"EXISTS", key(mailbox, b"blk")) == 1

    def indexed(self, mailbox):
        return self.redis.call(b"ZSCORE", b"pd:1:blocked", mailbox) is not None

    # -- the daemon's log
    def polls(self):
        return len(re.findall(r"ldap poll: blocked=", self.pd.read_log()))

    def wait_polls(self, n, timeout=15):
        start = self.polls()
        wait_for(lambda: self.polls() >= start + n, timeout, 0.05, "%d polls" % n)

    def count(self, pattern):
        return len(re.findall(pattern, self.pd.read_log()))

    def wait_unblocked(self, mailbox, timeout=4 * POLL + 2):
        wait_for(lambda: not self.blocked(mailbox), timeout, 0.05,
                 "unblock of %r" % mailbox)


def test_basic(s, w):
    """AD-emulated and ppolicy users: unblocked after a change, and only after it."""
    for uid in ("dave", "erin", "frank"):  # ppolicy-only users: no pwdLastSet
        w.admin_modify("dn: %s\nchangetype: modify\ndelete: pwdLastSet\n" % w.dn(uid))
    w.stack_passwd("bob", "bobpw2")  # before the block
    time.sleep(1.1)
    refs = {u: w.block(b"%s@example.com" % u.encode())
            for u in ("alice", "bob", "carol", "dave", "erin", "frank")}
    ghost = w.block(b"nobody@example.com")
    w.wait_polls(2)
    s.check(all(w.blocked(b"%s@example.com" % u.encode()) for u in refs),
            "nothing changed after the blocks: all six stay blocked")
    s.check(w.count(r"ldap: user=nobody@example\.com ref=%s: no directory entry" %
                    ghost.decode()) == 1, "a mailbox without an entry is logged once")

    time.sleep(1.1)
    t0 = time.time()
    w.stack_passwd("alice", "alicepw2")
    w.wait_unblocked(b"alice@example.com")
    s.check(True, "AD-emulated user (pwdLastSet), changed by an admin: unblocked in %.1f s "
            "(poll interval %.0f s)" % (time.time() - t0, POLL))
    # Redis deletes the record before policyd has its answer and logs: wait for the line
    line = wait_for(lambda: re.search(r"unblocked: user=alice@example\.com ref=%s "
                                      r"reason=password-change changed=\d{4}-\d\d-\d\dT"
                                      r"\d\d:\d\d:\d\dZ" % refs["alice"].decode(),
                                      w.pd.read_log()), 5, 0.02, "the unblocked: line")
    s.check(line is not None, "log: " + (line.group(0) if line else "unblocked: ..."))
    hist = w.redis.call(b"LRANGE", key(b"alice@example.com", b"hist"), 0, -1)
    s.check(hist and b'"by":"ldap"' in hist[0] and b'"how":"password-change"' in hist[0] and
            b"pwdLastSet" in hist[0], "history entry: by ldap, password-change, pwdLastSet")
    prob = w.redis.call(b"HGET", key(b"alice@example.com", b"st"), b"probation_until")
    s.check(prob is not None and int(prob) > time.time() + 86400, "probation started")
    wait_for(lambda: not w.indexed(b"alice@example.com"), 5, 0.02, "alice out of the index")
    s.check(True, "alice left the index of blocked mailboxes")

    w.passwd_as_user("dave", "davepw", "davepw2")
    w.wait_unblocked(b"dave@example.com")
    s.check(True, "ppolicy user (pwdChangedTime), their own ldappasswd: unblocked")
    w.passwd_as_admin("frank", "frankpw2")
    w.wait_unblocked(b"frank@example.com")
    s.check(True, "ppolicy user, ldappasswd by the admin (no pwdReset): unblocked")

    w.set_attr("carol", "pwdLastSet", "0")
    # the helpdesk's reset: a new password and pwdReset in one operation
    w.admin_modify("dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: erinpw2\n"
                   "-\nreplace: pwdReset\npwdReset: TRUE\n" % w.dn("erin"))
    w.wait_polls(3)
    s.check(w.blocked(b"carol@example.com"), "pwdLastSet = 0 (must change): stays blocked")
    s.check(w.blocked(b"erin@example.com"), "ppolicy admin reset with pwdReset TRUE: stays "
            "blocked")
    s.check(w.count(r"user=carol@example\.com ref=%s dn=\S+: %s" %
                    (refs["carol"].decode(), ADMIN_RESET_LOG)) == 1,
            "the admin reset is logged once (3 polls)")
    s.check(w.blocked(b"bob@example.com"), "password changed before the block: stays blocked")
    w.set_attr("bob", "pwdLastSet", OLD_FILETIME)
    w.wait_polls(2)
    s.check(w.blocked(b"bob@example.com"), "pwdLastSet that goes down (a restore): stays "
            "blocked")
    w.stack_passwd("carol", "carolpw2", "--as-user")
    w.passwd_as_user("erin", "erinpw2", "erinpw3")
    w.wait_unblocked(b"carol@example.com")
    w.wait_unblocked(b"erin@example.com")
    s.check(True, "the users' own changes after the resets: both unblocked")
    s.check(w.blocked(b"bob@example.com") and w.blocked(b"nobody@example.com"),
            "bob and the missing mailbox are still blocked")
    s.check(w.count(r"no directory entry matches") == 1, "still logged only once")


def test_injection(s, w):
    """Special characters in mailboxes match only their own entry."""
    star = b"st*r(x)\\y@example.com"
    uni = "\u00fcn\u00ef@example.com".encode()
    w.admin_add(
        "dn: uid=star,%s\nobjectClass: inetOrgPerson\nobjectClass: adEmulatedUser\n"
        "uid: star\ncn: star\nsn: star\nmail: star@example.com\n"
        "userPrincipalName: %s\npwdLastSet: %d\nuserPassword: starpw\n\n"
        "dn: uid=uni,%s\nobjectClass: inetOrgPerson\nobjectClass: adEmulatedUser\n"
        "uid: uni\ncn: uni\nsn: uni\nmail: uni@example.com\n"
        "userPrincipalName:: %s\npwdLastSet: %d\nuserPassword: unipw\n"
        % (w.v["LDAP_PEOPLE"], star.decode(), OLD_FILETIME, w.v["LDAP_PEOPLE"],
           base64.b64encode(uni).decode(), OLD_FILETIME))
    hostile = [b"*", b"*@example.com", b")(mail=*", b"*)(uid=*))(|(uid=*",
               b"st*r(x)\\z@example.com", b"st\\2ar(x)\\5cy@example.com",
               b"alice@example.com\x00x", b"\x00", b"\xff\xfe@example.com",
               b"\xc3\xbcn\xc3\xaf@example.co"]
    for m in [star, uni] + hostile:
        w.block(m)
    w.wait_polls(2)
    time.sleep(1.1)
    ft = filetime_now()
    for uid in ("star", "uni", "alice", "bob", "grace"):
        w.set_attr(uid, "pwdLastSet", ft)
    w.wait_unblocked(star)
    w.wait_unblocked(uni)
    s.check(True, "%r and the UTF-8 %r: unblocked after their change" % (star, uni))
    w.wait_polls(2)
    still = [m for m in hostile if w.blocked(m)]
    s.check(still == hostile, "%d hostile mailboxes (*, ), \\, NUL, UTF-8, near misses) "
            "stay blocked while everyone's password changed" % len(hostile))
    s.check(w.count(r"no directory entry matches") == 1 + len(hostile),
            "each of them logged once as without an entry")
    # slapd's IA5 matching stops at a NUL: (mail=alice@example.com\00x) finds alice, whose
    # password just changed. The poller maps entries back by value and must not take it.
    s.check(w.blocked(b"alice@example.com\x00x") and
            w.count(r"entries matched no mailbox of their batch") >= 1,
            "(mail=alice@example.com\\00x) returns alice's entry (slapd stops at the NUL); "
            "it is not taken for that mailbox")


def test_batch_and_outage(s, w):
    """2,500 blocked mailboxes: few searches; slapd hung, killed, restarted."""
    n, with_entry = 2500, 250  # slapd adds ~100 entries/s (a sync write each): not all 2,500
    ldif = []
    for i in range(with_entry):
        ldif.append("dn: uid=bulk%d,%s\nobjectClass: inetOrgPerson\nobjectClass: "
                    "adEmulatedUser\nuid: bulk%d\ncn: bulk%d\nsn: bulk\nmail: bulk%d@example.com\n"
                    "pwdLastSet: %d\n" % (i, w.v["LDAP_PEOPLE"], i, i, i, OLD_FILETIME))
    t0 = time.time()
    w.admin_add("\n".join(ldif))
    t_add = time.time() - t0
    cmds = []
    now = int(time.time())
    for i in range(n):
        cmds += block_commands(b"bulk%d@example.com" % i, b"PD-B%07X" % i, now)
    w.redis.pipeline(cmds)
    start = w.polls()
    wait_for(lambda: re.search(r"ldap poll: blocked=(\d{4,})", w.pd.read_log()[-4000:]),
             15, 0.1, "a poll over the bulk")
    w.wait_polls(2)
    polls = re.findall(r"ldap poll: blocked=(\d+) waiting=(\d+) batches=(\d+) searches=(\d+) "
                       r"entries=(\d+) unblocked=\d+ kept=\d+ time=([\d.]+)ms",
                       w.pd.read_log())[start:]
    big = [p for p in polls if int(p[1]) >= n]
    s.check(len(big) >= 2, "%d polls over %s blocked mailboxes (%d of them with an entry, "
            "added in %.1f s)" % (len(big), big[-1][1] if big else "?", with_entry, t_add))
    worst = max(int(p[3]) for p in big)
    s.check(worst < 10 and int(big[-1][4]) >= with_entry,
            "at most %d searches per poll for %s waiting mailboxes (batches of 500); %s "
            "entries returned" % (worst, big[-1][1], big[-1][4]))
    s.check(True, "poll time over %s mailboxes: %s ms (last), %s ms (max)" %
            (big[-1][1], big[-1][5], max(float(p[5]) for p in big)))

    slapd = int(open(os.path.join(w.stack.dir, "run", "slapd.pid")).read().split()[0])
    os.kill(slapd, signal.SIGSTOP)  # hung: the next poll's search times out mid-poll
    try:
        wait_for(lambda: w.count(r"ldap unavailable: ") >= 1, 10, 0.05, "ldap unavailable")
        w.block(b"grace@example.com", created=1000000000)  # any change is after this one
        os.kill(slapd, signal.SIGKILL)
    finally:
        os.kill(slapd, signal.SIGCONT)
    wait_for(lambda: not os.path.exists("/proc/%d" % slapd) or
             open("/proc/%d/stat" % slapd).read().split(")")[1].split()[0] == "Z", 10, 0.05,
             "slapd gone")
    time.sleep(3 * POLL)
    s.check(w.count(r"ldap unavailable: ") == 1, "slapd hung then killed: 'ldap unavailable' "
            "logged once: " + re.search(r"ldap unavailable: .*", w.pd.read_log()).group(0))
    s.check(w.blocked(b"grace@example.com"), "nothing is unblocked while the directory is "
            "down")
    s.check(w.count(r"unblocked: user=bulk") == 0, "no bulk mailbox was unblocked")
    w.stack.up()
    w.wait_unblocked(b"grace@example.com", timeout=10)
    s.check(w.count(r"ldap available again") == 1, "slapd back: 'ldap available again' "
            "logged once, the pending unblock done")
    wait_for(lambda: w.redis.call(b"ZCARD", b"pd:1:blocked") == n + 1 + 10, 5, 0.02,
             "grace out of the index")
    s.check(True, "the index holds the 2,500 bulk blocks, nobody@, the 10 hostile ones")


def run():
    s = Suite("test_ldap")
    t0 = time.time()
    w = World()
    w.pd.start()
    pdtest.log_has(w.pd, r"ldap poller: every 1 s")
    w.wait_polls(1)
    test_basic(s, w)
    test_injection(s, w)
    test_batch_and_outage(s, w)
    rc = w.pd.stop(15)
    log = w.pd.read_log()
    s.check(rc == 0 and "stopped:" in log, "SIGTERM: orderly stop, exit 0")
    s.check("AddressSanitizer" not in log and "runtime error" not in log and
            "LeakSanitizer" not in log, "no sanitiser report")
    s.check(time.time() - t0 < 120, "suite time %.0f s" % (time.time() - t0))
    s.done()


if __name__ == "__main__":
    pdtest.main(run)
