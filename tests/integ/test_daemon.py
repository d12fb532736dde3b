# SPDX-License-Identifier: MIT
"""The daemon over real TCP and unix sockets: framing, limits, idle connections, the
connection cap, signals (SIGHUP good/bad, SIGTERM with clients connected), -t and -n."""
import os
import signal
import socket
import time

import pdtest
from pdtest import Policyd, Suite, request

S = Suite("daemon")


def framing(p):
    c = p.connect()
    S.check(c.ask() == "DUNNO", "a Postfix 3.7 RCPT request over TCP is answered DUNNO")
    S.check(c.ask(sasl_username="bob@example.com") == "DUNNO",
            "the same connection answers a second request (persistent connection)")
    u = p.connect(unix=True)
    S.check(u.ask() == "DUNNO", "a request over the unix socket is answered DUNNO")
    mode = os.stat(p.sock).st_mode & 0o777
    S.check(mode == 0o666, "the unix socket has the configured mode (0%o)" % mode)

    # The README's nc example: a minimal request.
    S.check(c.ask(**{k: None for k in ("protocol_name", "client_address", "client_name",
                                        "client_port", "reverse_client_name")}) == "DUNNO",
            "a minimal request is answered")

    # Split at every byte boundary, on one connection.
    req = request().encode()
    ok = 0
    for i in range(1, len(req)):
        c.send(req[:i])
        time.sleep(0.0005)
        c.send(req[i:])
        if c.read_reply() == "DUNNO":
            ok += 1
    S.check(ok == len(req) - 1, "a request split at each of its %d byte boundaries is "
            "answered every time" % (len(req) - 1))

    # One byte at a time.
    for b in req:
        c.send(bytes([b]))
    S.check(c.read_reply() == "DUNNO", "a request sent one byte at a time is answered")

    # Pipelined: 100 requests in one write, 100 replies in order.
    c.send(req * 100)
    replies = [c.read_reply() for _ in range(100)]
    S.check(replies == ["DUNNO"] * 100, "100 pipelined requests in one write get 100 replies")
    S.check(c.ask() == "DUNNO", "the connection is still usable after pipelining")

    # CRLF line endings (telnet users).
    c.send(req.replace(b"\n", b"\r\n"))
    S.check(c.read_reply() == "DUNNO", "CRLF line endings are accepted")
    c.close()
    u.close()


def protocol_errors(p):
    cases = [
        ("an overlong line (1 MB)", b"request=smtpd_access_policy\nsender=" + b"a" * 1000000 + b"\n\n"),
        ("a NUL byte", b"request=smtpd_access_policy\nsasl_username=al\0ice\n\n"),
        ("a duplicate known attribute", b"request=smtpd_access_policy\nsender=a\nsender=b\n\n"),
        ("a wrong request=", b"request=something_else\nsender=a\n\n"),
        ("a missing request=", b"protocol_state=RCPT\nsender=a\n\n"),
        ("a line without '='", b"request=smtpd_access_policy\nhello\n\n"),
        ("10,000 attributes", b"request=smtpd_access_policy\n" +
         b"".join(b"x%d=1\n" % i for i in range(10000)) + b"\n"),
    ]
    for what, data in cases:
        c = p.connect()
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        S.check(c.closed_without_reply(), "%s: closed without a reply" % what)
        c.close()
    log = p.read_log()
    S.check(log.count("protocol error") >= len(cases), "each protocol error is logged as a warning")
    c = p.connect()
    S.check(c.ask() == "DUNNO", "other clients are still served after the errors")
    c.close()
    # Unknown attributes are ignored.
    c = p.connect()
    c.send(request().replace("\n\n", "\nfuture_attribute=1\ntls_sni=x\n\n"))
    S.check(c.read_reply() == "DUNNO", "unknown attributes are ignored")
    # Mid-request disconnect.
    c2 = p.connect()
    c2.send(b"request=smtpd_access_policy\nsasl_user")
    c2.close()
    S.check(c.ask() == "DUNNO", "a client that disconnects mid-request harms nobody")
    c.close()


def idle_connections(p, n=2000):
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", p.port), 5)
        conns.append(s)
    c = p.connect()
    S.check(c.ask() == "DUNNO", "with %d idle connections held, a new client is served" % n)
    # every idle connection is still open and usable: ask on a sample
    for s in conns[:: n // 20]:
        s.sendall(request().encode())
    got = 0
    for s in conns[:: n // 20]:
        data = b""
        while b"\n\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        got += data == b"action=DUNNO\n\n"
    S.check(got == len(conns[:: n // 20]), "a sample of the idle connections still answers")
    time.sleep(11)  # idle connections give back their parser after 10 s
    rss = pdtest.rss_kb(p.proc.pid)
    print("measure: policyd RSS with %d idle connections: %d KiB" % (n, rss), flush=True)
    S.check(rss < 64 * 1024, "RSS with %d idle connections is %d KiB (< 64 MiB)" % (n, rss))
    for s in conns:
        s.close()
    c.close()


def connection_cap():
    p = Policyd({"max_connections": "5"}).start()
    held = [p.connect() for _ in range(5)]
    answered = sum(c.ask() == "DUNNO" for c in held)
    S.check(answered == 5, "5 connections under max_connections=5 are served")
    extra = socket.create_connection(("127.0.0.1", p.port), 5)
    extra.sendall(request().encode())
    extra.settimeout(1.0)
    try:
        data = extra.recv(100)
    except socket.timeout:
        data = None
    S.check(data is None, "the 6th connection over max_connections=5 waits in the backlog")
    t0 = pdtest.cpu_ticks(p.proc.pid)
    time.sleep(1.0)
    spent = pdtest.cpu_ticks(p.proc.pid) - t0
    S.check(spent <= 5, "at the cap the daemon does not spin (%d CPU ticks in 1 s)" % spent)
    held[0].close()
    extra.settimeout(5)
    data = b""
    while b"\n\n" not in data:
        chunk = extra.recv(100)
        if not chunk:
            break
        data += chunk
    S.check(data == b"action=DUNNO\n\n", "once a connection closes, the waiting one is served")
    S.check("connection limit 5 reached" in p.read_log(), "reaching the cap is logged")
    extra.close()
    for c in held[1:]:
        c.close()
    p.stop()


def idle_timeout():
    p = Policyd({"idle_timeout": "2s"}).start()
    c = p.connect()
    S.check(c.ask() == "DUNNO", "served before the idle timeout")
    S.check(c.closed_without_reply(timeout=5), "an idle connection is closed after idle_timeout")
    p.stop()


def signals_and_reload(p):
    c = p.connect()
    S.check(c.ask() == "DUNNO", "served before SIGHUP")
    good = dict(p.settings)
    good["max_connections"] = "100"
    p.write_conf(good)
    p.signal(signal.SIGHUP)
    pdtest.log_has(p, "reload: configuration .* loaded")
    S.check(c.ask() == "DUNNO", "SIGHUP with a good config keeps the connection")
    with open(p.conf, "a") as f:
        f.write("no_such_parameter = 1\n")
    p.signal(signal.SIGHUP)
    pdtest.log_has(p, "reload: .*no_such_parameter.*keeping the running configuration")
    S.check(c.ask() == "DUNNO", "SIGHUP with a bad config is logged and the old one kept")
    partial = p.connect()
    partial.send(b"request=smtpd_access_policy\nsasl_username=x\n")
    idle = p.connect()
    time.sleep(0.2)
    t0 = time.time()
    p.signal(signal.SIGTERM)
    rc = p.proc.wait(10)
    took = time.time() - t0
    S.check(rc == 0, "SIGTERM: exit code 0")
    S.check(took < 1.0, "SIGTERM with no request in flight: exited at once (%.2f s)" % took)
    S.check(c.closed_without_reply(1) and idle.closed_without_reply(1),
            "SIGTERM: idle connections are closed")
    S.check(not os.path.exists(p.sock), "SIGTERM: the unix socket is removed")
    log = p.read_log()
    S.check("stopped:" in log and "event loop closed with handles" not in log,
            "SIGTERM: orderly stop, every handle closed")
    S.check("ERROR: AddressSanitizer" not in log and "runtime error" not in log,
            "no sanitizer report in the log")


def config_cli():
    d = pdtest.tempdir()
    conf = os.path.join(d, "good.conf")
    with open(conf, "w") as f:
        f.write("# comment\nmax_connections = 77\nidle_timeout = 5m\n")
    r = pdtest.run_policyd("-t", "-c", conf)
    S.check(r.returncode == 0, "policyd -t on a good config exits 0")
    r = pdtest.run_policyd("-n", "-c", conf)
    S.check(r.returncode == 0 and "max_connections = 77" in r.stdout and
            "idle_timeout = 5m" in r.stdout and r.stdout.count("\n") == 2,
            "policyd -n prints exactly the two non-default settings")
    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("max_connections = 77\n\nmax_connections = lots\n")
    r = pdtest.run_policyd("-t", "-c", bad)
    S.check(r.returncode == 1 and (bad + ":3:") in r.stderr,
            "policyd -t on a bad value exits 1 with file:line (%s)" % r.stderr.strip())
    r = pdtest.run_policyd("-t", "-c", os.path.join(d, "missing.conf"))
    S.check(r.returncode == 1 and "missing.conf" in r.stderr, "a missing config file is fatal")
    r = pdtest.run_policyd("-t", "-c", os.path.join(pdtest.ROOT, "policyd.conf"))
    S.check(r.returncode == 0, "the shipped policyd.conf is valid")
    port = pdtest.free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    r = pdtest.run_policyd("-f", "-c", conf, "-o", "listen=inet:127.0.0.1:%d" % port, "-o",
                           "run_user=", timeout=10)
    S.check(r.returncode == 1 and "cannot listen" in r.stderr,
            "a port already in use is fatal at start-up with a clear message")
    blocker.close()


def run():
    config_cli()
    p = Policyd({}).start()
    framing(p)
    protocol_errors(p)
    idle_connections(p)
    signals_and_reload(p)
    connection_cap()
    idle_timeout()
    S.done()


pdtest.main(run)
