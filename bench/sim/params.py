#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""params: the simulator's inputs, derived from a `make bench` result in
bench/results/ (no number typed by hand), each with where it came from.

    params.py [BASE ...]     BASE e.g. bench/results/bench-6.1-quick
                             (default: every bench-*.json there with traces)

Prints the parameters and their sources as JSON.  From BASE.json:
  ncpu, concurrency    environment.vcpus; the suite's port uses
                       concurrency 0 (= vCPUs) and 2 x vCPUs workers
                       (environment.cport says so; checked here)
  handler              server CPU time per request (cpu_per_req_us,
                       getrusage) of the cport closed-loop runs at 64 or
                       more connections, 64 bytes, batch 1, median over
                       policies: there 85-98% of waits do not sleep, so it
                       is the handling (RECV run, SEND inline, one
                       system call) with little wakeup in it; drawn
                       exponentially around that mean
  client_cpu           the load client's CPU time per request
                       (cli_cpu_s / requests) of the same runs, median
  switch_cpu           half the cport round trip with both threads on one
                       CPU (floor_ns cport-1cpu): the CPU cost of one
                       sleep and wakeup
From the trace of LIFO at light load (trace-KERNEL-MODE-lifo.txt, what
scripts/trace-report printed):
  wake                 handoff -> dequeue: its p50, p90, p99, p99.9 and
                       max, log-linear in between, switch_cpu at p0; the
                       max is one handoff of the N traced, so it gets
                       only the top 1/N of the draws: from p99.9 to
                       1 - 1/N the draw stays at p99.9 (all the report
                       says of those handoffs is that they took at least
                       that), log-linear up to the max above it (with
                       N <= 1000, p99.9 is the max and nothing changes)
From the floor trace (trace-KERNEL-MODE-floor.txt, floor's cport-xcpu
ping-pong):
  wake_warm            handoff -> dequeue, as wake (the max in the top
                       1/N likewise); used for a wakeup onto
                       a CPU idle no longer than
  warm_idle            floor_ns cport-xcpu (the round trip of that
                       ping-pong, the longest idle it measured)
From bench/suite/suite.sh (the mode's D= and W=): duration, warmup.
"""
import glob
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(ROOT, "bench", "results")
POLICY_NAMES = {0: "lifo", 1: "fifo", 2: "rr", 3: "cpu"}


def policy_name(p):
    if isinstance(p, str) and not p.replace(".", "").isdigit():
        return p
    return POLICY_NAMES[int(float(p))]


def suite_times(mode):
    """D (measured seconds) and W (warm-up) of suite.sh's MODE."""
    text = open(os.path.join(ROOT, "bench", "suite", "suite.sh")).read()
    m = re.search(r'if \[ "\$MODE" = full \]; then\s*\n\s*D=(\S+) W=(\S+)', text)
    q = re.search(r'else\s*\n\s*D=(\S+) W=(\S+)', text)
    d, w = (m if mode == "full" else q).groups()
    return float(d), float(w)


def read_trace(path):
    """trace-report's text: the handoff -> dequeue row, in seconds."""
    for line in open(path):
        if "handoff -> dequeue" in line:
            f = line.split()
            vals = f[-5:]          # p50 p90 p99 p99.9 max
            return dict(zip(("p50", "p90", "p99", "p99.9", "max"),
                            (float(v) * 1e-6 for v in vals))), int(f[-6])
    raise ValueError("%s: no handoff -> dequeue line" % path)


def extract(base):
    d = json.load(open(base + ".json"))
    env = d["environment"]
    name = os.path.basename(base)[len("bench-"):]
    kernel, mode = env["kernel_name"], env["mode"]
    ncpu = int(env["vcpus"])
    cport = env.get("cport", "")
    if "concurrency 0 (= vCPUs)" not in cport or "2 x vCPUs workers" not in cport:
        raise ValueError("%s: the port's setup is not the one modelled: %s" % (base, cport))
    rows = [r for r in d["runs"] if r.get("srv_model") == "cport" and r["kind"] == "closed"
            and r["conns"] >= 64 and r["len"] == 64 and int(r["srv_batch"]) == 1
            and r.get("cpu_per_req_us") and r["requests"]]
    if not rows:
        raise ValueError("%s: no closed-loop cport runs at 64+ connections" % base)
    handler = statistics.median(r["cpu_per_req_us"] for r in rows) * 1e-6
    client = statistics.median(r["cli_cpu_s"] / r["requests"] for r in rows)
    floor = d["floor_ns"]
    switch = floor["cport-1cpu"] / 2 * 1e-9
    tpath = os.path.join(RESULTS, "trace-%s-%s-lifo.txt" % (kernel, mode))
    wake, nwake = read_trace(tpath)
    fpath = os.path.join(RESULTS, "trace-%s-%s-floor.txt" % (kernel, mode))
    warm, nwarm = read_trace(fpath)
    warm_idle = floor["cport-xcpu"] * 1e-9
    dur, warm_up = suite_times(mode)
    rel = os.path.relpath(base, ROOT)
    return {
        "name": name, "kernel": kernel, "mode": mode,
        "ncpu": ncpu, "concurrency": ncpu, "workers": 2 * ncpu,
        "client_threads": 1,
        "handler_s": handler, "client_cpu_s": client, "switch_cpu_s": switch,
        "wake_points_s": wake_points(wake, nwake, switch),
        "wake_warm_points_s": wake_points(warm, nwarm, switch),
        "warm_idle_s": warm_idle,
        "duration_s": dur, "warmup_s": warm_up,
        "sources": {
            "ncpu, concurrency, workers": "%s.json environment (vcpus=%d; %s)" % (rel, ncpu, "concurrency 0 = vCPUs, 2 x vCPUs workers"),
            "handler_s": "%s.json: median cpu_per_req_us of %d cport closed-loop runs, 64+ connections, 64 B, batch 1 (%s)" % (
                rel, len(rows), ", ".join("%s %.0f" % (r["tag"], r["cpu_per_req_us"]) for r in rows)),
            "client_cpu_s": "%s.json: median cli_cpu_s/requests of the same runs" % rel,
            "switch_cpu_s": "%s.json floor_ns cport-1cpu / 2 (%.0f ns / 2)" % (rel, floor["cport-1cpu"]),
            "wake_points_s": "%s: handoff -> dequeue of %d handoffs, p50/p90/p99/p99.9, the max only in the top 1/N; switch_cpu_s at p0" % (
                os.path.relpath(tpath, ROOT), nwake),
            "wake_warm_points_s": "%s: handoff -> dequeue of %d handoffs of floor's cport-xcpu ping-pong, p50/p90/p99/p99.9, the max only in the top 1/N; switch_cpu_s at p0" % (
                os.path.relpath(fpath, ROOT), nwarm),
            "warm_idle_s": "%s.json floor_ns cport-xcpu (%.0f ns): the idle time of a vCPU in the ping-pong that measured wake_warm; a wakeup onto a CPU idle longer draws from wake_points_s" % (rel, floor["cport-xcpu"]),
            "duration_s, warmup_s": "bench/suite/suite.sh, mode %s: D=%g W=%g" % (mode, dur, warm_up),
        },
        "runs": d["runs"],
        "floor_ns": floor,
    }


def wake_points(t, n, switch):
    """(quantile, seconds) through a handoff -> dequeue row of n
    handoffs: switch at p0, the percentiles, and the max as what it is,
    one handoff of n: it gets the top 1/n of the draws only, and below
    that the draw stays at the last percentile.  (Log-linear from p99.9
    straight to the max would give the whole top 0.1% a spread up to
    the one slowest handoff: with the 6.1 full floor trace's 101 ms max
    against a p99.9 of 276 us, a mean of 17 ms over 13 of the 13,415
    handoffs, where the trace shows one.)"""
    pts = [[0.0, switch], [0.5, t["p50"]], [0.9, t["p90"]], [0.99, t["p99"]],
           [0.999, t["p99.9"]]]
    top = 1.0 - 1.0 / n
    if top > pts[-1][0]:
        pts.append([top, pts[-1][1]])
    pts.append([1.0, t["max"]])
    return pts


def sim_config(p, policy, batch=1, mode="open", rate=0.0, conns=64,
               service="0", seed=1, ncpu=None, duration=None, warmup=None,
               block_p=0.0, block_us=0.0, warm_model=True):
    """The model's configuration for one run under parameters p; ncpu
    scales the machine (concurrency = ncpu, 2 x ncpu workers, one client
    thread per 2 CPUs, as the guest has)."""
    import model
    n = ncpu or p["ncpu"]
    return {
        "ncpu": n, "concurrency": n, "workers": 2 * n,
        "client_threads": max(1, n // 2) if ncpu else p["client_threads"],
        "batch": batch, "policy": policy, "mode": mode, "rate": rate,
        "conns": conns, "service": str(service),
        "duration": duration if duration is not None else p["duration_s"],
        "warmup": warmup if warmup is not None else p["warmup_s"],
        "handler": model.Exponential(p["handler_s"]),
        "client_cpu": p["client_cpu_s"],
        "wake": model.Distribution([tuple(x) for x in p["wake_points_s"]]),
        "switch_cpu": p["switch_cpu_s"],
        "wake_warm": model.Distribution([tuple(x) for x in p["wake_warm_points_s"]]) if warm_model else None,
        "warm_idle": p["warm_idle_s"],
        "block_p": block_p, "block_us": block_us, "seed": seed,
    }


def bases():
    out = []
    for j in sorted(glob.glob(os.path.join(RESULTS, "bench-*.json"))):
        d = json.load(open(j))
        env = d["environment"]
        t = os.path.join(RESULTS, "trace-%s-%s-lifo.txt" % (env["kernel_name"], env["mode"]))
        # the traces belong to the latest run of that kernel and mode
        # only: runs named after a commit (bench-6.1-quick-755cd35) are
        # older ones and are left out
        if os.path.exists(t) and re.fullmatch(r"bench-[0-9.]+-(quick|full)\.json", os.path.basename(j)):
            out.append(j[:-5])
    return out


def main(argv):
    for b in (argv or bases()):
        p = extract(b)
        p.pop("runs")
        print(json.dumps(p, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
