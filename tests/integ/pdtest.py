# SPDX-License-Identifier: MIT
"""pdtest - shared helpers of the integration suites: free ports, temp dirs, a real
policyd process, a real private redis-server, and a policy-protocol client.

Every process started here is stopped by pid when the suite ends (atexit), and every
suite prints its checks and a closing "NAME: N passed, 0 failed" line.
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("PD_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("PD_BUILD") or os.path.join(ROOT, "build")
POLICYD = os.path.join(BUILD, "policyd")
# The Redis module (ratelimit/module/): track.lua's native twin, PD.TRACK. Never sanitised,
# so build/san has a plain one too. redis-server --loadmodule wants an absolute path.
REDIS_MODULE = os.path.abspath(os.path.join(BUILD, "pdtrack.so"))

_procs = []
_dirs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(5)
            except Exception:
                pass
    if not os.environ.get("PD_KEEP"):
        for d in _dirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tempdir(prefix="pdtest."):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    _dirs.append(d)
    return d


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0, step=0.02, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


class Suite:
    """Counts checks; a failed check raises, so the suite stops at the first failure."""

    def __init__(self, name):
        self.name = name
        self.passed = 0

    def check(self, cond, what):
        if not cond:
            print("FAIL " + what, flush=True)
            raise AssertionError(what)
        self.passed += 1
        print("ok   " + what, flush=True)

    def done(self):
        print("%s: %d passed, 0 failed" % (self.name, self.passed), flush=True)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def redis_module(module=None):
    """The module file a private redis-server loads, or None. module=None: REDIS_MODULE
    when it is built, unless the environment has PD_REDIS_MODULE=0; False: never; True:
    REDIS_MODULE, which must exist (AssertionError otherwise)."""
    if module is None:
        if os.environ.get("PD_REDIS_MODULE") == "0" or not os.path.isfile(REDIS_MODULE):
            return None
        return REDIS_MODULE
    if not module:
        return None
    if not os.path.isfile(REDIS_MODULE):
        raise AssertionError("%s missing (make all)" % REDIS_MODULE)
    return REDIS_MODULE


class Redis:
    """A private redis-server on a free port and a unix socket in its own temp dir, with
    the module loaded as redis_module(module) says (self.module: its path, or None)."""

    def __init__(self, appendonly=True, module=None):
        self.dir = tempdir("pdredis.")
        self.port = free_port()
        self.sock = os.path.join(self.dir, "redis.sock")
        self.appendonly = appendonly
        self.module = redis_module(module)
        self.proc = None
        self.start()

    def start(self, extra=(), wait=True):
        """Start (again) on the same port and directory; extra: more redis-server options.
        wait=False returns at once (a Redis still loading its data answers -LOADING)."""
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--unixsocket", self.sock, "--unixsocketperm", "777", "--dir", self.dir,
                "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                "--logfile", os.path.join(self.dir, "redis.log")]
        if self.module:
            args += ["--loadmodule", self.module]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        _procs.append(self.proc)
        if wait:
            wait_for(self._up, what="redis up")

    def _up(self):
        if self.proc.poll() is not None:  # e.g. a module that does not load: say why
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                raise AssertionError("redis-server exited: " + "".join(f.readlines()[-3:]))
        return self.cli("PING") == "PONG"

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-s", self.sock] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def call(self, *args):
        """One command over the unix socket, binary-safe (RESP): bytes, int, list, None;
        an error reply raises RedisError. For values redis-cli would mangle."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.sock)
            s.sendall(resp_command(args))
            return RespReader(s).read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)


class RedisError(Exception):
    pass


def resp_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespReader:
    """Reads RESP2 replies from a socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RedisError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RedisError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RedisError("bad reply: %r" % line)


# PD_WRAP: a command prefix for every policyd a suite runs, e.g. "valgrind
# --error-exitcode=99" (tests/run-valgrind.sh): Policyd.start and run_policyd use it.
WRAP = os.environ.get("PD_WRAP", "").split()


def run_policyd(*args, **kw):
    """policyd ARGS run to completion (-t, -n, --import-blocks, a start meant to fail),
    under PD_WRAP like every other policyd of the suites; output captured as text."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(WRAP + [POLICYD] + list(args), **kw)


class Policyd:
    """A real policyd in the foreground with its own config file and log file."""

    def __init__(self, conf_lines, dirpath=None, extra_args=(), port=None):
        self.dir = dirpath or tempdir("pdd.")
        self.port = port or free_port()
        self.sock = os.path.join(self.dir, "policy.sock")
        self.conf = os.path.join(self.dir, "policyd.conf")
        self.log = os.path.join(self.dir, "policyd.log")
        self.status_sock = os.path.join(self.dir, "status.sock")
        base = {"listen": "inet:127.0.0.1:%d, unix:%s" % (self.port, self.sock),
                "run_user": "", "unix_socket_mode": "0666",
                "status_listen": "unix:" + self.status_sock}
        base.update(conf_lines)
        self.settings = base
        self.write_conf(base)
        self.extra_args = list(extra_args)
        self.proc = None

    def write_conf(self, settings):
        with open(self.conf, "w") as f:
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))

    def start(self, wait=True):
        self.logf = open(self.log, "ab")
        cmd = [POLICYD, "-f", "-c", self.conf] + self.extra_args
        cmd = WRAP + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _procs.append(self.proc)
        if wait:
            wait_for(self._connectable, what="policyd listening")
        return self

    def _connectable(self):
        if self.proc.poll() is not None:
            raise AssertionError("policyd exited: " + self.read_log()[-2000:])
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def read_log(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout)

    def connect(self, unix=False, timeout=5.0):
        return Client(self.sock if unix else ("127.0.0.1", self.port), timeout)


class Client:
    def __init__(self, addr, timeout=5.0):
        fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(addr)
        if fam == socket.AF_INET:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def read_reply(self):
        """One reply: 'action=...\\n\\n' -> the action text; None on EOF."""
        while b"\n\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n\n", 1)
        reply = reply.decode()
        assert reply.startswith("action="), reply
        return reply[len("action="):]

    def ask(self, **attrs):
        self.send(request(**attrs))
        return self.read_reply()

    def closed_without_reply(self, timeout=3.0):
        """True when the server closes the connection without sending anything."""
        self.s.settimeout(timeout)
        try:
            data = self.s.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return data == b""

    def close(self):
        self.s.close()


def request(**attrs):
    """A realistic Postfix 3.7 RCPT request; keyword arguments override attributes."""
    a = {
        "request": "smtpd_access_policy", "protocol_state": "RCPT", "protocol_name": "ESMTP",
        "client_address": "192.0.2.10", "client_name": "client.example.net",
        "client_port": "58042", "reverse_client_name": "client.example.net",
        "server_address": "127.0.0.1", "server_port": "587", "helo_name": "laptop",
        "sender": "alice@example.com", "recipient": "bob@example.org", "recipient_count": "0",
        "queue_id": "", "instance": "1186.6b02ce4a.31de0.0", "size": "0", "etrn_domain": "",
        "stress": "", "sasl_method": "PLAIN", "sasl_username": "alice@example.com",
        "sasl_sender": "", "ccert_subject": "", "ccert_issuer": "", "ccert_fingerprint": "",
        "ccert_pubkey_fingerprint": "", "encryption_protocol": "TLSv1.3",
        "encryption_cipher": "TLS_AES_256_GCM_SHA384", "encryption_keysize": "256",
        "policy_context": "",
    }
    for k, v in attrs.items():
        if v is None:
            a.pop(k, None)
        else:
            a[k] = v
    return "".join("%s=%s\n" % (k, v) for k, v in a.items()) + "\n"


def log_has(p, pattern, timeout=5.0):
    return wait_for(lambda: re.search(pattern, p.read_log()), timeout, what="log: " + pattern)


def main(fn):
    try:
        fn()
    except AssertionError as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)


class Stack:
    """The project's test stack (scripts/stack.sh): real Postfix, smtp-sink, slapd, Redis
    in a temp dir on free ports; stopped by its own 'down' at exit."""

    def __init__(self, components, **env):
        self.dir = tempdir("pdstack.")
        self.env = dict(os.environ)
        for k in ("REDIS_PORT", "LDAP_PORT", "SINK_PORT", "SUBMIT_PORT", "POLICY_PORT"):
            self.env.pop(k, None)
        self.env["STACK"] = components
        self.env.update({k: str(v) for k, v in env.items()})
        self.vars = {}
        self.up()
        atexit.register(self.down)

    def script(self, *args, check=True):
        r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "stack.sh")] + list(args),
                           env=self.env, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("stack.sh %s failed: %s %s" % (args[0], r.stdout, r.stderr))
        return r

    def up(self):
        self.script("up", self.dir)
        self.vars = {}
        with open(os.path.join(self.dir, "stack.env")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    self.vars[k] = v.strip("'")
        return self

    def down(self):
        if os.path.exists(os.path.join(self.dir, "stack.env")):
            self.script("down", self.dir, check=False)

    def swaks(self, user, password, to, *extra, frm=None, body="hello"):
        """Submit one message with SMTP AUTH; returns (exit code, transcript)."""
        args = ["swaks", "--server", "127.0.0.1", "--port", self.vars["SUBMIT_PORT"],
                "--timeout", "20", "--auth", "PLAIN", "--auth-user", user,
                "--auth-password", password, "--from", frm or user, "--to", to,
                "--body", body] + list(extra)
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def sink_messages(self):
        d = self.vars["SINK_DIR"]
        out = []
        for root, _, files in os.walk(d):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
        return out
