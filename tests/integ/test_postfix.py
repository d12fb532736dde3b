# SPDX-License-Identifier: MIT
"""A real Postfix (Cyrus SASL submission, relaying to smtp-sink) asks a real policyd at
RCPT through check_policy_service, and mail flows through it."""
import os

import pdtest
from pdtest import Policyd, Stack, Suite

S = Suite("postfix")


def run():
    policy_port = pdtest.free_port()
    stack = Stack("sink postfix", POLICY_PORT=policy_port)
    p = Policyd({}, port=policy_port)
    p.start()
    rc, out = stack.swaks("alice@example.com", "alicepw", "friend@example.org")
    S.check(rc == 0, "alice submits a message with SMTP AUTH through Postfix (swaks exit %d)" % rc)
    msgs = pdtest.wait_for(lambda: stack.sink_messages(), what="message in the sink")
    S.check(any("friend@example.org" in m for m in msgs), "the message reached the sink")
    log = pdtest.log_has(p, r"user=alice@example\.com .*rcpt=friend@example\.org state=RCPT action=DUNNO")
    S.check(bool(log), "policyd logged one decision line for alice's RCPT")
    rc, out = stack.swaks("bob@example.com", "bobpw", "one@example.net")
    S.check(rc == 0, "a second user's message flows too (the connection is reused)")
    p.stop()
    rc, out = stack.swaks("carol@example.com", "carolpw", "x@example.net")
    S.check(rc != 0 and "451 4.3.5" in out,
            "with policyd stopped, Postfix's default action applies (451 4.3.5)")
    S.done()


pdtest.main(run)
