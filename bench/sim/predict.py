#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""predict: what the model says each policy does at 16, 64 and 256 cores.
PREDICTIONS OF THE MODEL, NOT MEASUREMENTS.

    predict.py [--out DIR] [--base BASE] [--cores 16,64,256]

Parameters from BASE (default bench/results/bench-6.1-quick: the quiet
host's run, the one the model matches best; params.py says where each
comes from).  The machine scales as the guest is built: concurrency =
cores, 2 x cores workers, one load-client thread per 2 cores, 32
connections per core (64 on the guest's 2).  The workloads are the
suite's open-loop ones (its quick mode's loads, 0.02 0.1 0.5 0.8, read
from bench/suite/suite.sh; services 0 and bimodal): Poisson arrivals at
LOAD x the suite's saturation (the best closed-loop requests/s at 64
connections, from BASE) x cores / 2.  Each run measures 0.4 s (16
cores), 0.2 s (64) or 0.1 s (256) after a warm-up of a quarter of that:
10 to 40 windows of 10 ms.

Writes DIR/predict.{md,csv} and DIR/predict-{activeset,share,p99,wakeups}.png.
"""
import argparse
import csv
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model    # noqa: E402
import params   # noqa: E402

POLICIES = ("lifo", "fifo", "rr", "cpu")
SERVICES = ("0", "bimodal")
MEASURE = {16: 0.4, 64: 0.2, 256: 0.1}


def suite_loads():
    text = open(os.path.join(params.ROOT, "bench", "suite", "suite.sh")).read()
    m = re.search(r'else\s*\n(?:.*\n){2}\s*RATES="([^"]+)"', text)
    return [float(x) for x in m.group(1).split()]


def saturation(p):
    best = [r["rps"] for r in p["runs"] if r["kind"] == "closed" and r["conns"] == 64
            and r["len"] == 64 and r["rps"]]
    return max(best)


def gnuplot(script):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("predict: gnuplot failed: %s\n" % getattr(e, "stderr", e))


def plot(png, title, ylabel, rows, key, cores, logy=False):
    """One panel per core count, load on x, a line per policy."""
    blocks, plots, i = [], [], 0
    panels = []
    for n in cores:
        cmds = []
        for pol in POLICIES:
            pts = [(r["load"], r[key]) for r in rows
                   if r["cores"] == n and r["policy"] == pol and r["service"] == "0"]
            name = "d%d" % i
            i += 1
            blocks.append("$%s << EOD\n%s\nEOD" % (name, "\n".join("%g %g" % xy for xy in pts)))
            cmds.append("$%s using 1:2 with linespoints title '%s'" % (name, pol))
        panels.append("set title '%d cores (model)'\nplot %s" % (n, ", ".join(cmds)))
    gnuplot("""set terminal pngcairo size 1200,400 noenhanced font ',9'
set output '%s'
%s
set multiplot layout 1,%d title '%s (PREDICTIONS OF THE MODEL, service 0)'
set xlabel 'offered load (fraction of saturation)'
set ylabel '%s'
set logscale x
set grid
set key top left
%s
%s
unset multiplot
""" % (png, "\n".join(blocks), len(cores), title, ylabel, "set logscale y" if logy else "",
       "\n".join(panels)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(params.ROOT, "build", "sim"))
    ap.add_argument("--base", default=os.path.join(params.RESULTS, "bench-6.1-quick"))
    ap.add_argument("--cores", default="16,64,256")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    p = params.extract(a.base)
    sat = saturation(p)
    cores = [int(x) for x in a.cores.split(",")]
    rows = []
    for n in cores:
        meas = MEASURE.get(n, 0.2)
        for svc in SERVICES:
            for load in suite_loads():
                for pol in POLICIES:
                    rate = load * sat * n / p["ncpu"]
                    cfg = params.sim_config(p, pol, 1, mode="open", rate=rate, conns=32 * n,
                                            service=svc, ncpu=n, duration=meas,
                                            warmup=meas / 4)
                    s = model.simulate(cfg)
                    rows.append({"cores": n, "service": svc, "load": load, "policy": pol,
                                 "offered": rate, "achieved": s["rps"],
                                 "active_set": s["active_set"], "top_share": s["top_share"],
                                 "p50_us": s["p50_us"], "p99_us": s["p99_us"],
                                 "wakeups_per_req": s["wakeups_per_req"],
                                 "csw_per_req": s["csw_per_req"],
                                 "workers_used": sum(1 for x in s["shares"] if x > 0)})
    lines = ["PREDICTIONS OF THE MODEL, NOT MEASUREMENTS (bench/sim/predict.py; parameters from %s, "
             "saturation %.0f requests/s on %d CPUs, scaled with the cores)." % (
                 os.path.relpath(a.base, params.ROOT), sat, p["ncpu"]), "",
             "| cores | service | load | policy | offered/s | achieved/s | active set | workers used "
             "| busiest share | p50 us | p99 us | wakeups/req | csw/req |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %d | %s | %g | %s | %.0f | %.0f | %.1f | %d/%d | %.3f | %.0f | %.0f | %.2f | %.2f |" % (
            r["cores"], r["service"], r["load"], r["policy"], r["offered"], r["achieved"],
            r["active_set"], r["workers_used"], 2 * r["cores"], r["top_share"], r["p50_us"],
            r["p99_us"], r["wakeups_per_req"], r["csw_per_req"]))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    open(os.path.join(a.out, "predict.md"), "w").write(text)
    with open(os.path.join(a.out, "predict.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    plot(os.path.join(a.out, "predict-activeset.png"), "Active set (workers per 10 ms window)",
         "active set", rows, "active_set", cores, logy=True)
    plot(os.path.join(a.out, "predict-share.png"), "Busiest worker share", "share",
         rows, "top_share", cores, logy=True)
    plot(os.path.join(a.out, "predict-p99.png"), "p99 latency", "p99 (us)",
         rows, "p99_us", cores, logy=True)
    plot(os.path.join(a.out, "predict-wakeups.png"), "Wakeups per request", "wakeups/request",
         rows, "wakeups_per_req", cores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
