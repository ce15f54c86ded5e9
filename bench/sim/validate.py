#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""validate: the simulator against what `make bench` measured.

    validate.py [--out DIR] [BASE ...]   (default: params.py's bases, build/sim)

For every cport run of a result (open loop: every policy, batch, service
and load; closed loop at one connection: the median of the three passes)
the model is run with the parameters params.py derives from that result
and the same configuration, and the active set, the busiest worker's
share and the p50 and p99 latency are compared with the measured ones.

Tolerances (stated before looking, in docs/policies.md):
  active set       |sim - measured| / measured <= 20%
  busiest share    |sim - measured| <= 0.10
  p50 latency      |sim - measured| / measured <= 35%
  p99 latency      within a factor of 2 either way
A run the guest did not keep up with (achieved below 95% of offered) is
overloaded: its latency is the backlog's growth over the run, which
depends on where saturation falls; it is shown, marked, and counted
apart.

Prints the table and a summary; writes DIR/validation.{md,csv} and
DIR/validation-{activeset,share}.png (gnuplot).  Exits 0 whatever the
errors (a report); non-zero only if something could not be run.
"""
import argparse
import csv
import math
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model    # noqa: E402
import params   # noqa: E402

TOL = {"active": 0.20, "share": 0.10, "p50": 0.35, "p99": 2.0}
TOL_TEXT = {"active": "20% rel", "share": "0.10 abs", "p50": "35% rel", "p99": "x2"}


def err(metric, sim, meas):
    if metric == "share":
        e = sim - meas
        return e, abs(e) <= TOL[metric]
    if metric == "p99":
        r = sim / meas if meas > 0 else float("inf")
        return r, 1 / TOL[metric] <= r <= TOL[metric]
    e = (sim - meas) / meas if meas else float("inf")
    return e, abs(e) <= TOL[metric]


def fmt_err(metric, e):
    if metric == "share":
        return "%+.2f" % e
    if metric == "p99":
        return "x%.2f" % e
    return "%+.0f%%" % (100 * e)


def cases(p):
    """(label, cfg kwargs, measured, overloaded) for each cport run."""
    out = []
    closed = {}
    for r in p["runs"]:
        if r.get("srv_model") != "cport":
            continue
        pol = params.policy_name(r["srv_policy"])
        b = int(r["srv_batch"])
        meas = {"active": r["srv_active_mean"], "share": r["srv_max_share"],
                "p50": r["p50_us"], "p99": r["p99_us"]}
        if r["kind"] == "open":
            over = r["rps"] < 0.95 * r["rate"]
            out.append(("open s%s f%g" % (r["service"], r["load_frac"]), pol, b,
                        dict(mode="open", rate=r["rate"], conns=int(r["conns"]),
                             service=r["service"]), meas, over))
        elif r["kind"] == "closed" and int(r["conns"]) == 1 and int(r["len"]) == 64:
            closed.setdefault((pol, b), []).append(meas)
    for (pol, b), ms in sorted(closed.items()):
        meas = {k: statistics.median(m[k] for m in ms) for k in ms[0]}
        out.append(("closed c1", pol, b, dict(mode="closed", conns=1), meas, False))
    return out


def gnuplot(script):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("validate: gnuplot failed: %s\n" % getattr(e, "stderr", e))


def scatter(png, title, label, pts, lo, hi):
    data = "\n".join("%g %g" % xy for xy in pts)
    gnuplot("""set terminal pngcairo size 640,520 noenhanced
set output '%s'
set title '%s'
set xlabel 'measured'
set ylabel 'simulated'
set grid
set key top left
set xrange [%g:%g]
set yrange [%g:%g]
$d << EOD
%s
EOD
plot $d using 1:2 with points pt 7 ps 0.8 title '%s', x with lines lc rgb '#777777' title 'sim = measured'
""" % (png, title, lo, hi, lo, hi, data, label))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(params.ROOT, "build", "sim"))
    ap.add_argument("bases", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for base in a.bases or params.bases():
        p = params.extract(base)
        for label, pol, b, kw, meas, over in cases(p):
            sim = model.simulate(params.sim_config(p, pol, b, **kw))
            s = {"active": sim["active_set"], "share": sim["top_share"],
                 "p50": sim["p50_us"], "p99": sim["p99_us"]}
            row = {"result": p["name"], "config": label, "policy": pol, "batch": b,
                   "overloaded": over, "sim_rps": sim["rps"]}
            for m in ("active", "share", "p50", "p99"):
                e, ok = err(m, s[m], meas[m])
                row.update({m + "_meas": meas[m], m + "_sim": s[m], m + "_err": e, m + "_ok": ok})
            rows.append(row)
    hdr = ("| result | config | policy | active set meas / sim (err) | busiest share meas / sim (err) "
           "| p50 us meas / sim (err) | p99 us meas / sim (ratio) |")
    lines = ["Tolerances: active set %s, busiest share %s, p50 %s, p99 %s; "
             "'!' marks an error outside its tolerance, 'overload' a run the guest did not keep up with."
             % tuple(TOL_TEXT[m] for m in ("active", "share", "p50", "p99")), "",
             hdr, "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = []
        for m, f in (("active", "%.2f"), ("share", "%.2f"), ("p50", "%.0f"), ("p99", "%.0f")):
            cells.append("%s / %s (%s)%s" % (f % r[m + "_meas"], f % r[m + "_sim"],
                                             fmt_err(m, r[m + "_err"]), "" if r[m + "_ok"] else " !"))
        lines.append("| %s | %s%s | %s-b%d | %s |" % (
            r["result"], r["config"], " overload" if r["overloaded"] else "",
            r["policy"], r["batch"], " | ".join(cells)))
    lines += ["", "Within tolerance (runs the guest kept up with; overloaded runs apart):", "",
              "| result | runs | active set | busiest share | p50 | p99 | overloaded runs: active / share / p50 / p99 |",
              "|---|---|---|---|---|---|---|"]
    for name in sorted(set(r["result"] for r in rows)):
        ok = [r for r in rows if r["result"] == name and not r["overloaded"]]
        ov = [r for r in rows if r["result"] == name and r["overloaded"]]

        def frac(rs, m):
            return "%d/%d" % (sum(r[m + "_ok"] for r in rs), len(rs))

        def med(rs, m):
            v = [abs(r[m + "_err"]) if m != "p99" else abs(math.log2(r[m + "_err"]))
                 for r in rs if r[m + "_err"] == r[m + "_err"]]
            if not v:
                return ""
            x = statistics.median(v)
            return " (median |err| %s)" % ("%.2f" % x if m == "share" else
                                           "x%.2f" % 2 ** x if m == "p99" else "%.0f%%" % (100 * x))
        lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            name, len(ok), *(frac(ok, m) + med(ok, m) for m in ("active", "share", "p50", "p99")),
            " / ".join(frac(ov, m) for m in ("active", "share", "p50", "p99")) if ov else "-"))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    open(os.path.join(a.out, "validation.md"), "w").write(text)
    with open(os.path.join(a.out, "validation.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    keep = [r for r in rows if not r["overloaded"]]
    scatter(os.path.join(a.out, "validation-activeset.png"),
            "Active set per 10 ms window: model vs make bench (runs kept up with)",
            "cport runs", [(r["active_meas"], r["active_sim"]) for r in keep], 0.8, 4.2)
    scatter(os.path.join(a.out, "validation-share.png"),
            "Busiest worker share: model vs make bench (runs kept up with)",
            "cport runs", [(r["share_meas"], r["share_sim"]) for r in keep], 0.2, 0.8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
