# SPDX-License-Identifier: MIT
"""The queue helper on a real Postfix queue: `policyctl block USER --purge-queue` deletes the
blocked mailbox's messages (by sender and by SASL login) and nobody else's, and
`policyctl unblock USER --release-held` puts its held messages back into delivery. Postfix
keeps mail queued here (defer_transports = smtp), as a flooded outbound queue would."""
import json
import os
import subprocess

import pdtest
from pdtest import Policyd, Redis, Stack, Suite

S = Suite("queue")
CTL = os.path.join(pdtest.BUILD, "policyctl")


def ctl(p, *args):
    r = subprocess.run([CTL, "-s", p.status_sock] + list(args), capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def queue(stack):
    """The queue as postqueue -j sees it: a list of dicts."""
    r = subprocess.run(["postqueue", "-c", stack.vars["POSTFIX_CONF"], "-j"],
                       capture_output=True, text=True, timeout=30)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def of(msgs, sender):
    return [m for m in msgs if m["sender"] == sender]


def run():
    policy_port = pdtest.free_port()
    stack = Stack("sink postfix", POLICY_PORT=policy_port,
                  POSTFIX_MAIN_EXTRA="defer_transports = smtp")
    conf = stack.vars["POSTFIX_CONF"]
    r = Redis(appendonly=False)
    p = Policyd({"redis_server": "unix:" + r.sock}, port=policy_port)
    p.start()
    pdtest.log_has(p, "recipient hash key")
    # carol's attacker sends three messages, one with a forged sender; bob and alice one each
    for frm in ("carol@example.com", "carol@example.com", "ceo@bank.example"):
        rc, _ = stack.swaks("carol@example.com", "carolpw", "victim@example.net", frm=frm)
        S.check(rc == 0, "carol's attacker submits a message (sender %s)" % frm)
    for user in ("bob", "alice"):
        rc, _ = stack.swaks("%s@example.com" % user, "%spw" % user, "friend@example.org")
        S.check(rc == 0, "%s submits a message" % user)
    msgs = pdtest.wait_for(lambda: (lambda q: q if len(q) == 5 else None)(queue(stack)),
                           timeout=20, what="five queued messages")
    S.check(len(msgs) == 5, "Postfix holds the five messages in its queue")

    # block with --purge-queue: carol's three go, the forged one included (SASL login)
    rc, out, err = ctl(p, "block", "carol@example.com", "--reason", "phished",
                       "--purge-queue", "-c", conf)
    left = queue(stack)
    S.check(rc == 0 and "3 removed" in out,
            "block --purge-queue exits 0 and reports 3 removed (%d, %r, %r)"
            % (rc, out.strip()[-120:], err.strip()[-200:]))
    S.check(len(left) == 2 and not of(left, "carol@example.com") and
            not of(left, "ceo@bank.example"),
            "carol's messages are gone, the forged-sender one too; 2 others remain")
    S.check(of(left, "bob@example.com") and of(left, "alice@example.com"),
            "bob's and alice's messages are untouched")

    # bob's message put on hold (as a HOLD verdict would), bob blocked, then unblocked
    bob_id = of(left, "bob@example.com")[0]["queue_id"]
    subprocess.run(["postsuper", "-c", conf, "-h", bob_id], capture_output=True, timeout=30)
    S.check([m["queue_name"] for m in queue(stack) if m["queue_id"] == bob_id] == ["hold"],
            "bob's message is on the hold queue")
    ctl(p, "block", "bob@example.com", "--reason", "suspicious")
    rc, out, err = ctl(p, "unblock", "bob@example.com", "--reason", "checked with bob",
                       "--release-held", "-c", conf)
    names = [m["queue_name"] for m in queue(stack) if m["queue_id"] == bob_id]
    S.check(rc == 0 and "1 released from hold" in out and names and names[0] != "hold",
            "unblock --release-held releases bob's held message (%s; %r)"
            % (names, out.strip()[-100:]))
    S.check(len(queue(stack)) == 2, "nothing else was removed")
    rc, out, err = ctl(p, "queue", "release", "alice@example.com", "-c", conf)
    S.check(rc == 0 and "0 released" in out,
            "queue release does not touch messages that are not held (%r)" % out.strip())
    p.stop()
    r.stop()
    S.done()


pdtest.main(run)
