# SPDX-License-Identifier: MIT
"""Which engine counts a request: PD.TRACK of the pdtrack Redis module when the Redis
server has it loaded and redis_use_module = yes (the default), else the Lua script. What a
postmaster checks: Redis' own command statistics, the log line, policyctl status; the
same answers from both engines for the same traffic; redis_use_module = no honoured and
turned on again by SIGHUP; the module unloaded under a running policyd loses no request.
Real redis-server (with and without --loadmodule) and policyd; time driven with
policyd_time. (That both engines store and answer exactly the same, request by request,
is tests/integ/test_module.sh.)"""
import json
import os
import signal
import subprocess
import time

import pdtest
from pdtest import Policyd, Redis, Suite

S = Suite("engine")
T0 = 1_800_000_000
CTL = os.path.join(pdtest.BUILD, "policyctl")


def calls(r):
    """{'pd.track': n, 'evalsha': n, 'pd.api': n} from INFO commandstats."""
    out = {"pd.track": 0, "evalsha": 0, "pd.api": 0}
    for line in r.cli("INFO", "commandstats").splitlines():
        for cmd in out:
            if line.startswith("cmdstat_%s:calls=" % cmd):
                out[cmd] = int(line.split("calls=")[1].split(",")[0])
    return out


def traffic(p, tag, n=40):
    """n RCPTs of one mailbox in messages of 4, then an END-OF-MESSAGE each: the replies."""
    c = p.connect()
    out = []
    try:
        for i in range(n):
            inst = "%s.%d" % (tag, i // 4)
            out.append(c.ask(sasl_username="u@engine.example", sender="u@engine.example",
                             recipient="r%d@d%d.example" % (i, i % 3), instance=inst,
                             client_address="198.51.100.%d" % (1 + i % 2),
                             policyd_time="%d" % (T0 + 30 * i)))
            if i % 4 == 3:
                out.append(c.ask(sasl_username="u@engine.example", sender="u@engine.example",
                                 recipient="", instance=inst, protocol_state="END-OF-MESSAGE",
                                 recipient_count="4", policyd_time="%d" % (T0 + 30 * i + 1)))
    finally:
        c.close()
    return out


def status(p):
    r = subprocess.run([CTL, "-s", p.status_sock, "--json", "status"], capture_output=True,
                       text=True, timeout=20)
    return json.loads(r.stdout.splitlines()[-1]) if r.stdout.strip() else {}


def policyd(r, **extra):
    conf = {"redis_server": "unix:" + r.sock, "trust_request_time": "yes", "mode": "enforce",
            "limit_recipients_per_hour": "30"}
    conf.update(extra)
    p = Policyd(conf).start()
    pdtest.log_has(p, "recipient hash key")  # requests are counted from then on
    return p


def main():
    # 1. the module loaded: PD.TRACK does the counting, and says so
    rm = Redis(appendonly=False, module=True)
    S.check(rm.cli("PD.API") == "1", "the private Redis has the module loaded (PD.API = 1)")
    p = policyd(rm)
    before = calls(rm)
    with_module = traffic(p, "a")
    after = calls(rm)
    pdtest.log_has(p, r"the pdtrack module is loaded: PD\.TRACK replaces script track")
    S.check(p.read_log().count("pdtrack module is loaded") == 1,
            "policyd logs once, at its first call, that PD.TRACK replaces the script")
    S.check(after["pd.track"] - before["pd.track"] == len(with_module) and
            after["evalsha"] == before["evalsha"],
            "every request went to Redis as PD.TRACK, none as EVALSHA (%r -> %r)"
            % (before, after))
    st = status(p)
    S.check(st.get("redis", {}).get("tracking") == "module",
            "policyctl status says tracking by module (%r)" % st.get("redis"))
    S.check(any(a.startswith("DEFER") for a in with_module) and with_module[0] == "DUNNO",
            "the traffic crosses the hourly cap of 30: DUNNO first, then DEFER")
    p.stop()

    # 2. without the module: the script, and exactly the same answers
    rs = Redis(appendonly=False, module=False)
    p = policyd(rs)
    without = traffic(p, "a")
    c = calls(rs)
    S.check(c["pd.track"] == 0 and c["evalsha"] >= len(without),
            "a Redis without the module is served by the script (%r)" % c)
    S.check(without == with_module,
            "the same traffic gets the same %d answers from both engines" % len(without))
    S.check(status(p).get("redis", {}).get("tracking") == "script",
            "policyctl status says tracking by script")
    S.check("pdtrack module" not in p.read_log(), "no module message without the module")
    p.stop()

    # 3. redis_use_module = no, then yes by SIGHUP
    rn = Redis(appendonly=False, module=True)
    p = policyd(rn, redis_use_module="no")
    traffic(p, "b", 8)
    c = calls(rn)
    S.check(c["pd.track"] == 0 and c["evalsha"] >= 10,
            "redis_use_module = no: the script, though the module is loaded (%r)" % c)
    p.settings["redis_use_module"] = "yes"
    p.write_conf(p.settings)
    p.signal(signal.SIGHUP)
    pdtest.log_has(p, r"reload: configuration .* loaded")
    pdtest.wait_for(lambda: calls(rn)["pd.api"] >= 1, what="PD.API asked after SIGHUP")
    time.sleep(0.2)  # its answer read by policyd
    before = calls(rn)
    traffic(p, "c", 8)
    after = calls(rn)
    pdtest.log_has(p, r"PD\.TRACK replaces script track")
    S.check(after["pd.track"] - before["pd.track"] == 10 and after["evalsha"] == before["evalsha"],
            "after SIGHUP with redis_use_module = yes: PD.TRACK, without a reconnect")
    p.stop()

    # 4. the module unloaded under a running policyd: no request lost
    ru = Redis(appendonly=False, module=True)
    ru.stop()
    ru.start(extra=("--enable-module-command", "yes"))
    p = policyd(ru)
    traffic(p, "d", 4)
    pdtest.log_has(p, r"PD\.TRACK replaces script track")
    S.check(ru.cli("MODULE", "UNLOAD", "pdtrack") == "OK", "MODULE UNLOAD pdtrack")
    after_unload = traffic(p, "e", 8)
    S.check(all(a in ("DUNNO",) or a.startswith("DEFER") for a in after_unload)
            and len(after_unload) == 10,
            "every request after the unload is answered from the script (%r)"
            % after_unload[:3])
    pdtest.log_has(p, r"PD\.TRACK is not available any more: using script track")
    r = subprocess.run([CTL, "-s", p.status_sock, "--json", "stats"], capture_output=True,
                       text=True, timeout=20)
    fails = json.loads(r.stdout.splitlines()[-1])["verdicts"]["fail_action"]
    S.check(fails == 0, "and none by redis_fail_action (stats: fail_action %d)" % fails)
    S.check(status(p).get("redis", {}).get("tracking") == "script",
            "policyctl status says tracking by script after the unload")
    p.stop()
    S.done()


if __name__ == "__main__":
    pdtest.main(main)
