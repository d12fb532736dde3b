#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
NAME
    run.py - the measuring half of make bench: drive each system with loadgen, print one table

SYNOPSIS
    python3 scripts/bench/run.py SYSTEMS.json OUTDIR

DESCRIPTION
    SYSTEMS.json (written by scripts/bench.sh) lists the systems already running: a name,
    a loadgen target ("-t HOST:PORT" or "-u PATH"), the pids whose CPU is that system's,
    and a note. For every repetition (BENCH_REPEATS, default 3) and every connection
    count (BENCH_CONNS, default "1 16 128") each system in turn gets a closed-loop run
    of BENCH_SECS seconds (default 10): the systems are interleaved, so that load from
    other users of the machine falls on all of them alike. Then each system gets open-
    loop runs at BENCH_RATE (default 10000) and BENCH_LOW_RATE (default 1000) requests/s
    with BENCH_OPEN_CONNS connections (default 64), skipped at a rate above 90 % of the
    system's best closed-loop throughput (it would only measure its queue).

    For each run it records loadgen's report (requests/s, latency percentiles, errors,
    actions, loadgen's own CPU), the CPU time of each pid of the system (from
    /proc/PID/stat) and the CPU time of everything else on the machine (from /proc/stat,
    minus the system's and loadgen's), in cores: the load the run competed with.

    It prints the table (medians, with min-max of the repetitions) in Markdown and
    writes OUTDIR/results.json (every run) and OUTDIR/table.md.

DIAGNOSTICS
    Exit 0 with the table; 1 if loadgen is missing or SYSTEMS.json cannot be read. A run
    that fails is reported in the table, not fatal.

SEE ALSO
    scripts/bench.sh, tests/tools/loadgen.c, docs/BENCHMARKS.md
"""
import json
import os
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
MODEL = ["--mailboxes", "10000", "--domains", "200", "--new-share", "0.15",
         "--attack-share", "0.01", "--eom"]


def env_int(name, default):
    return int(os.environ.get(name, default))


def proc_ticks(pid):
    """utime + stime of a process and its waited-for children, in ticks; 0 if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return 0


def machine_ticks():
    """busy ticks of the whole machine (all cores): user+nice+system+irq+softirq+steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_loadgen(loadgen, system, conns, secs, rate=None):
    args = [loadgen] + system["target"] + ["-c", str(conns), "-d", str(secs), "--json"] + MODEL
    if rate:
        args += ["-r", str(rate)]
    pids = system["pids"]
    t0 = {p: proc_ticks(p) for p in pids}
    m0, l0, w0 = machine_ticks(), loadavg(), time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=secs + 60)
    wall = time.monotonic() - w0
    m1 = machine_ticks()
    cpu = {str(q): (proc_ticks(q) - t0[q]) / CLK_TCK / wall for q in pids}
    try:
        rep = json.loads(p.stdout)
    except ValueError:
        return {"failed": (p.stderr or p.stdout or "no output").strip()[:200], "conns": conns,
                "rate": rate}
    own = sum(cpu.values()) + rep.get("cpu_s", 0) / wall
    rep.update({
        "system": system["name"], "conns": conns, "rate": rate,
        "cpu_cores": cpu,
        "server_cores": sum(cpu.values()),
        "loadgen_cores": rep.get("cpu_s", 0) / wall,
        "other_cores": max(0.0, (m1 - m0) / CLK_TCK / wall - own),
        "loadavg_start": l0,
    })
    return rep


def spread(values, fmt="%.0f"):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt % med
    return (fmt + " (" + fmt + "-" + fmt + ")") % (med, min(values), max(values))


def ok_runs(results, name, conns, rate=None):
    return [r for r in results if r.get("system") == name and r["conns"] == conns
            and r.get("rate") == rate and "failed" not in r]


def table(systems, results, conns_list, rates, open_conns):
    out = []
    head = "| system | " + " | ".join("%d conn req/s" % c for c in conns_list)
    head += " | " + " | ".join("ratio @%d" % c for c in conns_list)
    out.append(head + " | server CPU @%d (cores) | errors |" % conns_list[-1])
    out.append("|" + "---|" * (2 * len(conns_list) + 3))
    ceiling = {c: [r["requests_per_s"] for r in ok_runs(results, "ceiling", c)]
               for c in conns_list}
    for s in systems:
        row = ["| " + s["name"]]
        for c in conns_list:
            row.append(spread([r["requests_per_s"] for r in ok_runs(results, s["name"], c)]))
        for c in conns_list:
            mine = [r["requests_per_s"] for r in ok_runs(results, s["name"], c)]
            if mine and ceiling[c]:
                row.append("%.1f %%" % (100 * statistics.median(mine)
                                        / statistics.median(ceiling[c])))
            else:
                row.append("-")
        top = ok_runs(results, s["name"], conns_list[-1])
        cores = {}
        for r in top:
            for pid, v in r["cpu_cores"].items():
                cores.setdefault(pid, []).append(v)
        row.append(" + ".join("%s %.2f" % (s["roles"].get(pid, pid), statistics.median(v))
                              for pid, v in cores.items()) or "-")
        errs = sum(r["errors"]["total"] for r in results
                   if r.get("system") == s["name"] and "errors" in r)
        fails = sum(1 for r in results if r.get("system") == s["name"] and "failed" in r)
        row.append("%d%s" % (errs, " (%d runs failed)" % fails if fails else ""))
        out.append(" | ".join(row) + " |")
    out.append("")
    out.append("| system | offered | achieved req/s | p50 us | p90 us | p99 us | p99.9 us | max us "
               "| errors | server CPU (cores) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for s in systems:
        for rate in rates:
            runs = ok_runs(results, s["name"], open_conns, rate)
            skipped = [r for r in results if r.get("system") == s["name"]
                       and r.get("rate") == rate and r.get("skipped")]
            if skipped:
                out.append("| %s | %d/s | not run: %s | | | | | | | |"
                           % (s["name"], rate, skipped[0]["skipped"]))
                continue
            if not runs:
                continue
            lat = lambda k: spread([r["latency_us"][k] for r in runs])
            out.append("| %s | %d/s | %s | %s | %s | %s | %s | %s | %d | %s |" % (
                s["name"], rate, spread([r["requests_per_s"] for r in runs]), lat("p50"),
                lat("p90"), lat("p99"), lat("p99.9"), lat("max"),
                sum(r["errors"]["total"] for r in runs),
                spread([r["server_cores"] for r in runs], "%.2f")))
    return "\n".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: run.py SYSTEMS.json OUTDIR")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    outdir = sys.argv[2]
    loadgen, systems = spec["loadgen"], spec["systems"]
    if not os.access(loadgen, os.X_OK):
        sys.exit("run.py: %s missing (make all)" % loadgen)
    secs = env_int("BENCH_SECS", 10)
    repeats = env_int("BENCH_REPEATS", 3)
    conns_list = [int(c) for c in os.environ.get("BENCH_CONNS", "1 16 128").split()]
    rates = [env_int("BENCH_RATE", 10000), env_int("BENCH_LOW_RATE", 1000)]
    open_conns = env_int("BENCH_OPEN_CONNS", 64)
    results = []
    for rep in range(repeats):
        for c in conns_list:
            for s in systems:
                r = run_loadgen(loadgen, s, c, secs)
                r.setdefault("system", s["name"])
                r["repeat"] = rep
                results.append(r)
                print("bench: %-24s %3d conns  %s" % (s["name"], c, "failed: " + r["failed"]
                      if "failed" in r else "%8.0f req/s  p99 %6d us  other load %.2f cores"
                      % (r["requests_per_s"], r["latency_us"]["p99"], r["other_cores"])),
                      file=sys.stderr, flush=True)
    for rate in rates:
        for s in systems:
            best = max([r["requests_per_s"] for r in results
                        if r.get("system") == s["name"] and "failed" not in r
                        and r.get("rate") is None] or [0])
            if rate > 0.9 * best:
                results.append({"system": s["name"], "conns": open_conns, "rate": rate,
                                "skipped": "above 90 %% of its best closed loop (%.0f/s)" % best})
                continue
            for rep in range(repeats):
                r = run_loadgen(loadgen, s, open_conns, secs, rate)
                r.setdefault("system", s["name"])
                r["repeat"] = rep
                results.append(r)
                print("bench: %-24s %6d/s    %s" % (s["name"], rate, "failed: " + r["failed"]
                      if "failed" in r else "p50 %5d us  p99 %6d us  p99.9 %6d us"
                      % (r["latency_us"]["p50"], r["latency_us"]["p99"],
                         r["latency_us"]["p99.9"])), file=sys.stderr, flush=True)
    text = table(systems, results, conns_list, rates, open_conns)
    others = [r["other_cores"] for r in results if "other_cores" in r]
    lg = [r["loadgen_cores"] for r in results if "loadgen_cores" in r and r["conns"] == 128]
    notes = ["",
             "%d cores, shared by loadgen, the servers and everything else on the machine; "
             "%d s per run, %d repetitions: median (min-max)." % (os.cpu_count(), secs, repeats),
             "Other load during the runs (cores busy outside the measured processes): "
             "median %.2f, max %.2f; load average at the start of runs %.1f-%.1f."
             % (statistics.median(others) if others else 0, max(others or [0]),
                min(r["loadavg_start"] for r in results if "loadavg_start" in r),
                max(r["loadavg_start"] for r in results if "loadavg_start" in r))]
    if lg:
        notes.append("loadgen itself used %.2f cores (median) at 128 connections."
                     % statistics.median(lg))
    for s in systems:
        if s.get("note"):
            notes.append("%s: %s" % (s["name"], s["note"]))
    text += "\n" + "\n".join("- " + n for n in notes if n) + "\n"
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"systems": systems, "results": results}, f, indent=1)
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
