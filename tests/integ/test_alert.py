# SPDX-License-Identifier: MIT
"""Partner alert mails end to end: real policyd nodes sharing a real redis-server, blocks
made the natural way (a burst from rotating networks over the policy protocol, with the
TRIP-NET tripwire lowered to 2 never-seen networks), unblocks by a real password change
in the stack's slapd (the LDAP poller), and mail delivered by Postfix's own sendmail
(MAIL_CONFIG: the stack's Postfix) to smtp-sink, where every message is parsed back.

Checked:
  - one block gives exactly one mail, to the partner of the domain (To:) and the abuse
    desk (envelope copy), with the reference and the rules; the password change gives
    exactly one unblock mail for the same reference (two nodes run, one mails);
  - hostile mailbox names (CR, escape sequences, invalid UTF-8, an encoded-word
    look-alike, 1 KB) give valid mails with no extra header and no extra recipient;
  - an attack alternating between two nodes gives one mail, and the incident key exists;
  - a storm of 50 blocks of one partner gives the hourly cap of single mails plus one
    summary listing the rest (every reference exactly once), and one mass-compromise mail
    to the abuse desk;
  - sendmail exiting 75 twice is logged with its stderr and retried: one mail; a missing
    sendmail, then a stop: the alert waits in Redis and the restarted node sends it once;
  - a node starting after alert_digest_time gathers the day's digest: one mail per
    partner with something to say (still blocked, unblocked in the last 24 h), a mark per
    partner and day in Redis, and a second node that day sends none;
  - a hostile block.txt template (a CRLF "Bcc:" after its Subject line, "Bcc:" in the body)
    with a hostile mailbox: the headers stay ours, the Subject one line; the body shows the
    client networks (alert_detail.lua), the rules and the refused count;
  - every node stops cleanly.

Run: python3 tests/integ/test_alert.py   (PD_BUILD=build/san for the sanitiser build)
"""
import email
import email.policy
import os
import re
import signal
import stat
import time

import pdtest
from pdtest import Policyd, Redis, Stack, Suite

S = Suite("alert")

CAP = 5
WAVE = 40
NETS = ["192.0.2.%d", "198.51.100.%d", "203.0.113.%d"]
REF_RE = re.compile(r"\(ref (PD-[0-9A-F]{8})\)")
PARTNERS = """# partner map of the test
example.com        ops@partner-a.example, noc@partner-a.example
hostile.example    sec@partner-h.example
*.twonode.example  two@partner-t.example
storm.example      storm@partner-s.example
retry.example      retry@partner-r.example
restart.example    restart@partner-r.example
"""
ABUSE = "abuse@isp.example"
OUR_HEADERS = {"Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted",
               "X-Auto-Response-Suppress", "MIME-Version", "Content-Type",
               "Content-Transfer-Encoding", "X-Policyd-Event", "X-Policyd-Ref"}
TRANSPORT_HEADERS = {"X-Client-Addr", "X-Client-Proto", "X-Helo-Args", "X-Mail-Args",
                     "X-Rcpt-Args", "Received"}


# ---- the sink ------------------------------------------------------------------------

class Mail:
    """One message in the sink: raw header names, envelope recipients, parsed message."""

    def __init__(self, raw):
        self.raw = raw
        head = raw.split("\n\n", 1)[0]
        self.names = [ln.split(":", 1)[0] for ln in head.split("\n")
                      if ln and ln[0] not in " \t"]
        self.rcpts = sorted(re.findall(r"^X-Rcpt-Args: <([^>]*)>", head, re.M))
        self.msg = email.message_from_string(raw, policy=email.policy.default)
        self.event = str(self.msg.get("X-Policyd-Event", ""))
        self.msgid = str(self.msg.get("Message-ID", ""))
        self.subject = str(self.msg["Subject"])  # unfolded, encoded-words decoded
        self.body = self.msg.get_content()


def alert_mails(stack):
    return [Mail(m) for m in stack.sink_messages() if "\nX-Policyd-Event: " in m]


def wait_mails(stack, pred, n=1, timeout=20, what="mails"):
    return pdtest.wait_for(lambda: (lambda ms: ms if len(ms) >= n else None)(
        [m for m in alert_mails(stack) if pred(m)]), timeout, 0.1, what)


def check_safe(m, want_rcpts):
    """The header names are ours and the transport's, each of ours once; the envelope
    recipients are exactly the expected ones."""
    extra = [n for n in m.names if n not in OUR_HEADERS | TRANSPORT_HEADERS]
    ours = [n for n in m.names if n in OUR_HEADERS]
    return not extra and len(ours) == len(set(ours)) and m.rcpts == sorted(want_rcpts)


# ---- blocks the natural way ----------------------------------------------------------

def block(node, mailbox, host=10):
    """A burst from three networks: TRIP-NET blocks at the third; the reference."""
    c = node.connect()
    try:
        for i, net in enumerate(NETS):
            reply = c.ask(sasl_username=mailbox, sender="x@example.com",
                          client_address=net % host, recipient="r%d@elsewhere.example" % i,
                          instance="inst.%d.%s" % (i, mailbox[:20]))
        m = REF_RE.search(reply)
        assert m, "no block for %r: %s" % (mailbox, reply)
        return m.group(1)
    finally:
        c.close()


def block_many(node, mailboxes):
    """Pipelined bursts for many mailboxes on one connection: their references."""
    c = node.connect(timeout=30)
    reqs = []
    for mb in mailboxes:
        for i, net in enumerate(NETS):
            reqs.append(pdtest.request(sasl_username=mb, sender="x@example.com",
                                       client_address=net % 20, recipient="s%d@else.example" % i,
                                       instance="storm.%d.%s" % (i, mb)))
    c.send("".join(reqs))
    replies = [c.read_reply() for _ in reqs]
    c.close()
    refs = [REF_RE.search(r).group(1) for r in replies[2::3]]
    assert len(refs) == len(mailboxes)
    return refs


# ---- the nodes -----------------------------------------------------------------------

def node_conf(redis, stack, tmp, extra=None):
    conf = {
        "redis_server": "unix:" + redis.sock,
        "rule_trip_nets_1h": "2", "rule_trip_nets_1h_rcpt": "0",
        "alert_enabled": "yes",
        "alert_partner_map": os.path.join(tmp, "partners"),
        "alert_abuse_desk": ABUSE,
        "alert_from": "policyd@isp.example",
        "alert_helpdesk": "helpdesk@isp.example",
        "alert_partner_hourly_cap": str(CAP),
        "alert_digest_window": "3s",
        "alert_wave_threshold": str(WAVE),
        "alert_wave_window": "10m",
        "alert_retry_delay": "300ms",
        "alert_sendmail_timeout": "20s",
        "ldap_uri": stack.vars["LDAP_URI"],
        "ldap_bind_dn": stack.vars["LDAP_BIND_DN"],
        "ldap_bind_password_file": os.path.join(tmp, "ldap.pw"),
        "ldap_search_base": stack.vars["LDAP_PEOPLE"],
        "ldap_poll_interval": "1s",
        "ldap_clock_skew": "0s",
    }
    conf.update(extra or {})
    return conf


def start(node):
    node.start()
    pdtest.log_has(node, r"recipient hash key", 10)
    return node


def pending_key(node):
    return "pd:1:{alert}:pending:%s/inet:127.0.0.1:%d" % (os.uname().nodename, node.port)


# ---- the checks ----------------------------------------------------------------------

def one_block_one_mail(stack, a, redis):
    ref = block(a, "alice@example.com")
    ms = wait_mails(stack, lambda m: ref in m.msgid, what="the block mail")
    time.sleep(1.0)
    ms = [m for m in alert_mails(stack) if ref in m.msgid]
    S.check(len(ms) == 1, "a block (%s) gives exactly one mail" % ref)
    m = ms[0]
    S.check(check_safe(m, ["ops@partner-a.example", "noc@partner-a.example", ABUSE]),
            "it goes to the partner of example.com and, as a copy, the abuse desk")
    S.check(str(m.msg["To"]) == "ops@partner-a.example, noc@partner-a.example" and
            str(m.msg["From"]) == "policyd@isp.example",
            "To: is the partner (the abuse desk is an envelope copy), From: is alert_from")
    S.check(m.subject == "[policyd] alice@example.com blocked: suspected compromise (ref %s)"
            % ref, "the subject names the mailbox, the reason and the reference")
    S.check(m.msgid == "<policyd.block.%s@isp.example>" % ref and m.event == "block" and
            str(m.msg["X-Policyd-Ref"]) == ref and
            str(m.msg["Auto-Submitted"]) == "auto-generated",
            "Message-ID, X-Policyd-Ref and Auto-Submitted are set")
    S.check("Reference:   %s" % ref in m.body and "TRIP-NET" in m.body and
            "Change the mailbox's password" in m.body and "restored by itself" in m.body and
            "helpdesk@isp.example" in m.body,
            "the body has the reference, the rule fired and what to do")
    S.check(len(redis.cli("KEYS", "pd:1:{alert}:inc:block:%s:*" % ref).split()) == 1,
            "the incident key is in Redis (SET NX: one mail per incident across nodes)")
    return ref


def unblock_mail(stack, a, ref):
    time.sleep(1.2)  # pwdChangedTime has a resolution of one second
    stack.script("passwd", stack.dir, "alice", "alice-new-pw")
    ms = wait_mails(stack, lambda m: m.event == "unblock" and ref in m.msgid, timeout=20,
                    what="the unblock mail")
    time.sleep(2.5)  # two pollers, two rounds: still one mail
    ms = [m for m in alert_mails(stack) if m.event == "unblock" and ref in m.msgid]
    S.check(len(ms) == 1, "the password change gives exactly one unblock mail (two nodes)")
    m = ms[0]
    S.check(m.subject == "[policyd] alice@example.com unblocked: sending restored (ref %s)"
            % ref and "the password was changed" in m.body and "ldap" in m.body,
            "it says sending is restored and how (password change, by the LDAP poller)")
    S.check(m.msgid == "<policyd.unblock.%s@isp.example>" % ref and
            check_safe(m, ["ops@partner-a.example", "noc@partner-a.example", ABUSE]),
            "same partner, its own Message-ID")


HOSTILE = [
    ("CR and a header", "evil\rBcc: victim@evil.example\r@hostile.example"),
    ("escape sequence", "\x1b[31mred\x1b[0m@hostile.example"),
    ("encoded-word look-alike", "=?utf-8?q?Bcc=3A_x=40evil.example?=@hostile.example"),
    ("invalid UTF-8", "inv\udcff\udcfe@hostile.example"),
    ("1 KB", "k" * 1000 + "@hostile.example"),
]


def hostile_mailboxes(stack, a):
    refs = {}
    for what, mb in HOSTILE:
        raw = mb.encode("utf-8", "surrogateescape")
        c = a.connect()
        try:
            for i, net in enumerate(NETS):
                c.send(pdtest.request(sasl_username="@@MB@@", client_address=net % 30,
                                      recipient="h%d@else.example" % i,
                                      instance="host.%d" % i).encode()
                       .replace(b"@@MB@@", raw))
                reply = c.read_reply()
        finally:
            c.close()
        refs[what] = REF_RE.search(reply).group(1)
    ms = wait_mails(stack, lambda m: any(r in m.msgid for r in refs.values()), n=len(refs),
                    what="the hostile mails")
    for what, mb in HOSTILE:
        m = [x for x in ms if refs[what] in x.msgid][0]
        subj = m.subject
        S.check(check_safe(m, ["sec@partner-h.example", ABUSE]) and "Bcc" not in m.names,
                "hostile mailbox (%s): no extra header, no extra recipient" % what)
        S.check("\r" not in subj and "\n" not in subj and "\x1b" not in subj and
                subj.endswith("blocked: suspected compromise (ref %s)" % refs[what]) and
                all(len(ln) <= 998 for ln in m.raw.split("\n")) and "\r" not in m.body and
                "\x1b" not in m.body,
                "hostile mailbox (%s): a clean one-line subject, a clean body" % what)
    cr = [x for x in ms if refs["CR and a header"] in x.msgid][0]
    S.check("evil?bcc: victim@evil.example?@hostile.example" in cr.subject,
            "the CR became '?' inside the subject text")
    ew = [x for x in ms if refs["encoded-word look-alike"] in x.msgid][0]
    S.check("=?utf-8?q?bcc=3a_x=40evil.example?=@hostile.example" in ew.subject,
            "an encoded-word look-alike is shown literally, not decoded")


def two_nodes(stack, a, b, redis):
    """The attack alternates between the nodes; the node that writes the block mails."""
    mb = "eve@www.twonode.example"
    ref = None
    for i, net in enumerate(NETS):
        node = a if i % 2 == 0 else b
        c = node.connect()
        reply = c.ask(sasl_username=mb, client_address=net % 40,
                      recipient="t%d@else.example" % i, instance="two.%d" % i)
        c.close()
        if REF_RE.search(reply):
            ref = REF_RE.search(reply).group(1)
    assert ref
    wait_mails(stack, lambda m: ref in m.msgid, what="the two-node mail")
    time.sleep(1.0)
    ms = [m for m in alert_mails(stack) if ref in m.msgid]
    S.check(len(ms) == 1 and check_safe(ms[0], ["two@partner-t.example", ABUSE]),
            "an attack across two nodes gives one mail, to the *.twonode.example partner")


def config_and_map(stack, b, redis, tmp):
    """Bad settings are refused at start; a bad map on SIGHUP keeps the old one."""
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write("alert_enabled = yes\nstatus_listen =\n")
    r = pdtest.run_policyd("-t", "-c", conf, timeout=20)
    S.check(r.returncode == 1 and "alert_enabled = yes needs alert_partner_map or "
            "alert_abuse_desk" in r.stderr, "alerts without anyone to tell: policyd -t refuses")
    with open(conf, "w") as f:
        f.write("alert_from = Policyd <p@isp.example>\n")
    r = pdtest.run_policyd("-t", "-c", conf, timeout=20)
    S.check(r.returncode == 1 and "alert_from" in r.stderr,
            "alert_from must be a plain address: policyd -t refuses a display name")
    bad = os.path.join(tmp, "bad-partners")
    with open(bad, "w") as f:
        f.write("example.com ops@partner-a.example\nexample.com -oQ/tmp/x@evil.example\n")
    c = Policyd(dict(b.settings, alert_partner_map=bad, listen="inet:127.0.0.1:%d"
                     % pdtest.free_port()))
    c.start(wait=False)
    rc = c.proc.wait(20)
    S.check(rc != 0 and re.search(r"alert_partner_map %s:2: example\.com: bad address" % bad,
                                  c.read_log()),
            "a bad partner map is fatal at start, with file and line")
    b.settings["alert_partner_map"] = bad
    b.write_conf(b.settings)
    b.signal(signal.SIGHUP)
    pdtest.log_has(b, r"warning: reload: alert_partner_map .*:2: .*; keeping the previous "
                   r"partner map", 5)
    ref = block(b, "hugo@www.twonode.example", host=50)
    wait_mails(stack, lambda m: ref in m.msgid, what="the mail after a bad reload")
    S.check(check_safe([m for m in alert_mails(stack) if ref in m.msgid][0],
                       ["two@partner-t.example", ABUSE]),
            "on SIGHUP a bad partner map is logged and the previous one keeps routing")
    b.settings["alert_partner_map"] = os.path.join(tmp, "partners")
    b.write_conf(b.settings)
    b.signal(signal.SIGHUP)


def storm(stack, a, redis):
    mbs = ["user%02d@storm.example" % i for i in range(50)]
    # the per-partner cap counts per clock hour: a storm that straddles the hour would
    # rightly get a fresh cap in the new hour, so start it clear of the boundary
    left = 3600 - time.time() % 3600
    if left < 90:
        time.sleep(left + 2)
    t = time.time()
    refs = block_many(a, mbs)
    S.check(len(set(refs)) == 50, "a storm: 50 mailboxes of one partner blocked in %.1f s"
            % (time.time() - t))
    wait_mails(stack, lambda m: m.event == "digest" and "storm.example" in m.subject,
               timeout=25, what="the summary")
    wait_mails(stack, lambda m: m.event == "wave", timeout=20, what="the wave mail")
    time.sleep(1.5)
    ms = [m for m in alert_mails(stack) if "storm@partner-s.example" in m.rcpts]
    singles = [m for m in ms if m.event == "block"]
    digests = [m for m in ms if m.event == "digest"]
    S.check(len(singles) == CAP and len(digests) == 1,
            "the storm gives %d mails to the partner: %d single (the hourly cap) + 1 summary"
            % (len(ms), len(singles)))
    d = digests[0]
    seen = {r: sum(m.msgid.count(r) for m in singles) + d.body.count(r) for r in refs}
    S.check(all(v == 1 for v in seen.values()),
            "every one of the 50 references is in exactly one of them")
    S.check("Blocked (45):" in d.body and "user49@storm.example" in d.body and
            check_safe(d, ["storm@partner-s.example", ABUSE]) and
            d.subject == "[policyd] summary for storm.example: 45 blocked, 0 restored",
            "the summary lists the 45 blocks past the cap, with their rules")
    waves = [m for m in alert_mails(stack) if m.event == "wave"]
    S.check(len(waves) == 1 and waves[0].rcpts == [ABUSE] and
            "mass compromise event" in waves[0].subject and
            "user00@storm.example" in waves[0].body and
            "%d mailboxes were blocked" % WAVE in waves[0].body.replace("\n", " "),
            "one mass-compromise mail to the abuse desk (%s)" % waves[0].subject)
    S.check(pdtest.log_has(a, r"warning: alert: mass compromise: \d+ mailboxes blocked", 2),
            "the mass compromise is logged")


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def failing_sendmail(stack, a, tmp):
    """sendmail exits 75 twice with a message on stderr, then works."""
    flaky = os.path.join(tmp, "flaky-sendmail")
    count = os.path.join(tmp, "flaky.count")
    write_script(flaky, """#!/bin/sh
n=$(cat %s 2>/dev/null || echo 0); echo $((n + 1)) > %s
if [ "$n" -lt 2 ]; then
    cat > /dev/null
    echo "sendmail: fatal: queue file write error (try $n)" >&2
    exit 75
fi
exec /usr/sbin/sendmail "$@"
""" % (count, count))
    a.settings["alert_sendmail_path"] = flaky
    a.write_conf(a.settings)
    a.signal(signal.SIGHUP)
    pdtest.log_has(a, r"reload: configuration .* loaded", 5)
    ref = block(a, "frank@retry.example")
    wait_mails(stack, lambda m: ref in m.msgid, what="the retried mail")
    log = a.read_log()
    fails = re.findall(r"warning: alert: block ref=%s user=frank@retry\.example: sendmail "
                       r"failed \(attempt (\d) of 8\): exit status 75: sendmail: fatal: queue "
                       r"file write error" % ref, log)
    S.check(fails == ["1", "2"], "two failures logged with sendmail's own words, then retried")
    time.sleep(1.0)
    S.check(len([m for m in alert_mails(stack) if ref in m.msgid]) == 1,
            "the alert arrives exactly once after the failures")


def missing_sendmail_restart(stack, a, redis):
    """A missing sendmail, then a stop: the single mails and a batch past the cap wait in
    Redis; the restarted node sends each of them once."""
    a.settings.update({"alert_sendmail_path": "/nonexistent/sendmail",
                       "alert_retry_delay": "10s", "alert_digest_window": "60s"})
    a.write_conf(a.settings)
    a.signal(signal.SIGHUP)
    time.sleep(0.5)
    refs = block_many(a, ["gina%d@restart.example" % i for i in range(CAP + 2)])
    pdtest.log_has(a, r"alert: block ref=%s .*cannot run /nonexistent/sendmail: no such file"
                   % refs[0], 10)
    pdtest.log_has(a, r"alert: block ref=%s .*into the summary" % refs[-1], 10)
    S.check(True, "a missing sendmail is logged (cannot run ...: no such file or directory)")
    S.check(a.stop() == 0, "the node stops cleanly with %d mails and a summary pending" % CAP)
    key = pending_key(a)
    batch = "pd:1:{alert}:batch:%s:restart.example" % key.split("pending:", 1)[1]
    S.check(redis.cli("HLEN", key) == str(CAP + 1) and
            redis.call("GET", batch).count(b"\n") == 2,
            "Redis keeps them: %d mails and one batch of 2 events (%s)" % (CAP, key))
    a.settings.update({"alert_sendmail_path": "/usr/sbin/sendmail", "alert_digest_window": "2s"})
    a.write_conf(a.settings)
    start(a)
    wait_mails(stack, lambda m: "restart@partner-r.example" in m.rcpts, n=CAP + 1, timeout=25,
               what="the mails after the restart")
    time.sleep(1.0)
    ms = [m for m in alert_mails(stack) if "restart@partner-r.example" in m.rcpts]
    digest = [m for m in ms if m.event == "digest"]
    S.check(len(ms) == CAP + 1 and all(sum(r in m.msgid for m in ms) == 1 for r in refs[:CAP])
            and len(digest) == 1 and refs[CAP] in digest[0].body and
            refs[CAP + 1] in digest[0].body,
            "after the restart each pending mail arrives once, and the summary of the batch")
    pdtest.wait_for(lambda: redis.cli("HLEN", key) == "0" and redis.cli("EXISTS", batch) == "0",
                    5, what="pending emptied")
    S.check(True, "and Redis is empty of them")


TEMPLATE = ("Subject: {subject} [tpl]\r\nBcc: evil@x.example\n\n"
            "Bcc: evil@x.example\nTo: {mailbox}\nNetworks:\n  {networks}\n"
            "refused={refused} held={held} {{literal}}\n{rules}\n")


def digest_and_templates(stack, redis, tmp, alice_ref):
    """Node C starts after its digest time (00:00, local): it gathers today's digest at
    once, one mail per partner with something to say; node D, started next, sends none
    (the per-partner, per-day SET NX). C's block.txt is hostile: headers stay ours."""
    tdir = os.path.join(tmp, "templates")
    os.mkdir(tdir)
    with open(os.path.join(tdir, "block.txt"), "w") as f:
        f.write(TEMPLATE)
    conf = node_conf(redis, stack, tmp, {"alert_digest_time": "00:00",
                                         "alert_template_dir": tdir})
    c = start(Policyd(conf))
    pdtest.log_has(c, r"alert: daily digest \d{4}-\d\d-\d\d: \d+ entries, \d+ mails queued", 20)
    ms = wait_mails(stack, lambda m: m.event == "daily", n=2, timeout=20, what="the digests")
    time.sleep(1.0)
    ms = [m for m in alert_mails(stack) if m.event == "daily"]
    by = {}
    for m in ms:
        by.setdefault(str(m.msg["To"]), []).append(m)
    S.check(all(len(v) == 1 for v in by.values()) and len(by) >= 4,
            "one daily digest per partner (%d partners)" % len(by))
    a = by.get("ops@partner-a.example, noc@partner-a.example", [None])[0]
    S.check(a is not None and "Restored in the last 24 hours (1):" in a.body and
            alice_ref in a.body and "the password was changed" in a.body and
            check_safe(a, ["ops@partner-a.example", "noc@partner-a.example", ABUSE]),
            "example.com's digest lists alice, unblocked today by a password change")
    st = by.get("storm@partner-s.example", [None])[0]
    S.check(st is not None and "Still blocked (50):" in st.body and
            "user00@storm.example" in st.body and "daily digest for storm.example" in
            st.subject and "Restored" not in st.body,
            "storm.example's digest lists its 50 mailboxes still blocked")
    S.check(all(redis.cli("EXISTS", k) == "1" for k in
                redis.cli("KEYS", "pd:1:{alert}:daily:*").split()) and
            len(redis.cli("KEYS", "pd:1:{alert}:daily:*").split()) == len(by),
            "a per-partner, per-day mark for each of them in Redis")
    d = start(Policyd(node_conf(redis, stack, tmp, {"alert_digest_time": "00:00"})))
    pdtest.log_has(d, r"alert: daily digest .*: \d+ entries, 0 mails queued by this node", 20)
    time.sleep(1.0)
    S.check(len([m for m in alert_mails(stack) if m.event == "daily"]) == len(ms),
            "a second node starting the same day sends no digest again")
    clean_stop(d, "node D")

    mb = "tpl\rBcc: victim@evil.example@tpl.twonode.example"  # under its partner's cap
    ref = block(c, mb, host=70)
    m = wait_mails(stack, lambda x: ref in x.msgid, what="the templated mail")[0]
    S.check(check_safe(m, ["two@partner-t.example", ABUSE]) and "Bcc" not in m.names,
            "a hostile template and a hostile mailbox: no extra header, no extra recipient")
    S.check(m.subject.endswith("(ref %s) [tpl]" % ref) and "\n" not in m.subject and
            "Bcc: evil" not in m.subject,
            "the template's Subject line, cleaned, one line (%s)" % m.subject)
    # the template's own "Bcc:" after its Subject line is body text, like its second one
    S.check(m.body.startswith("Bcc: evil@x.example\n\nBcc: evil@x.example\n"
                              "To: tpl?bcc: victim@evil.example@") and
            "\n  192.0.2.0/24 (last seen " in m.body and
            "{literal}" in m.body and "TRIP-NET" in m.body and
            all(len(ln) <= 998 for ln in m.raw.split("\n")),
            "the body is the template's, with the networks seen, the rules and '{{'")
    S.check(re.search(r"refused=\d+ held=", m.body) is not None,
            "the refused count comes from the block record (alert_detail.lua)")
    return c


def clean_stop(node, name):
    rc = node.stop()
    log = node.read_log()
    S.check(rc == 0 and "handles still open" not in log and "Sanitizer" not in log
            and "runtime error" not in log, "%s stops cleanly (exit 0, no leak report)" % name)


def run():
    t0 = time.time()
    stack = Stack("slapd sink postfix")
    os.environ["MAIL_CONFIG"] = stack.vars["POSTFIX_CONF"]  # Postfix's sendmail -> the stack
    redis = Redis()
    tmp = pdtest.tempdir("pdalert.")
    with open(os.path.join(tmp, "partners"), "w") as f:
        f.write(PARTNERS)
    pw = os.path.join(tmp, "ldap.pw")
    with open(pw, "w") as f:
        f.write(stack.vars["LDAP_BIND_PW"] + "\n")
    os.chmod(pw, stat.S_IRUSR | stat.S_IWUSR)
    a = start(Policyd(node_conf(redis, stack, tmp)))
    b = start(Policyd(node_conf(redis, stack, tmp)))
    S.check(True, "stack, redis and two policyd nodes up in %.1f s" % (time.time() - t0))

    ref = one_block_one_mail(stack, a, redis)
    alice_ref = ref
    unblock_mail(stack, a, ref)
    hostile_mailboxes(stack, a)
    two_nodes(stack, a, b, redis)
    config_and_map(stack, b, redis, tmp)
    storm(stack, a, redis)
    failing_sendmail(stack, a, tmp)
    missing_sendmail_restart(stack, a, redis)
    c = digest_and_templates(stack, redis, tmp, alice_ref)
    clean_stop(c, "node C")
    clean_stop(a, "node A")
    clean_stop(b, "node B")
    S.check(True, "total %.1f s" % (time.time() - t0))
    S.done()


pdtest.main(run)
