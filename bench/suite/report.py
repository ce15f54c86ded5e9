#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py: turn the guest log of bench/suite/suite.sh into results.

    report.py --log LOG --out BASE [--plots DIR] [--env KEY=VALUE]...

Writes the tables, which docs/ cite and git keeps: BASE.csv (one row per
run: the client's and the server's fields side by side, plus derived
per-request figures), BASE.json (the environment record, the floor, the
rows, the skipped runs) and BASE.md (the summary tables and cport's
targets, each with its figures); and the plots, which are build
output: DIR/NAME-*.png (gnuplot; DIR defaults to BASE's directory, NAME
is BASE's file name).  Reports; never fails because a number moved.

A system is named as suite.sh names it, model[:policy:batch], the
policy by the name the port's fdinfo prints (lifo, fifo, rr, cpu):
cport:fifo:16 is reported as cport-fifo-b16.

The runs of the clients nobody here wrote (tags sockperf:SYSTEM:pp|ul
and wrk:SYSTEM:cN) get sections of their own, with the client's CPU
share (its CPU time over the server's measured interval, over that
interval times the vCPUs)
and ratios to io_uring; a closing list says where their ratios and
loadgen's disagree.
"""
import argparse
import collections
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys

def kv(fields):
    out = {}
    for f in fields:
        if "=" in f:
            k, v = f.split("=", 1)
            try:
                out[k] = float(v) if re.fullmatch(r"-?[0-9.]+(e-?\d+)?", v) else v
            except ValueError:
                out[k] = v
    return out


def system_of(tag):
    """closed:cport:lifo:16:c64:l64 -> cport-lifo-b16 (cport-ms:... ->
    cport-ms-lifo-b16); open:uring:s0:f0.1 -> uring."""
    parts = tag.split(":")[1:]
    if parts[0] in ("cport", "cport-ms", "cport-msr"):
        return "%s-%s-b%s" % (parts[0], parts[1], parts[2])
    return parts[0]


def parse(log):
    env, floor, srv, cli, skips, errors = {}, {}, {}, {}, [], []
    with open(log, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            m = re.match(r"=== guest (\S+) cpus=(\d+)", line)
            if m:
                env["kernel"], env["vcpus"] = m.group(1), int(m.group(2))
            if line.startswith("error: "):
                errors.append(line[7:])
            if not line.startswith("csv,"):
                continue
            p = line.split(",")
            if p[1] == "floor":
                floor[p[2]] = kv(p[3:])["ns_per_op"]
            elif p[1] == "srv":
                srv[p[2]] = kv(p[3:])
            elif p[1] == "cli":
                cli[p[2]] = kv(p[3:])
            elif p[1] == "skip":
                skips.append({"tag": p[2], **kv(p[3:])})
    return env, floor, srv, cli, skips, errors


def derive(tag, c, s):
    r = {"tag": tag, "kind": tag.split(":")[0], "system": system_of(tag)}
    r.update({k: c.get(k) for k in ("mode", "conns", "len", "rate", "requests",
                                     "rps", "p50_us", "p99_us", "p999_us",
                                     "max_us", "errors", "dropped", "bursts",
                                     "drain_p50_us", "drain_p99_us")})
    if r["kind"] in ("sockperf", "wrk"):
        r.update({k: c.get(k) for k in ("client", "avg_us", "replies_per_s",
                                         "cli_cpu_s", "cli_share")})
        r["mode"] = tag.split(":")[-1]
        if r["kind"] == "wrk":
            r["conns"] = int(r["mode"][1:])
    m = re.search(r":s([^:]+):f([0-9.]+)$", tag)
    r["service"] = m.group(1) if m else "0"
    r["load_frac"] = float(m.group(2)) if m else None
    if not s:
        return r
    req = s.get("requests") or 0
    ev = s.get("events") or 0
    cpu = (s.get("utime_s") or 0) + (s.get("stime_s") or 0)
    for k in ("model", "policy", "batch", "threads", "uring_flags", "calls",
              "vcsw", "ivcsw", "utime_s", "stime_s", "active_mean",
              "single_share", "max_share", "shares", "concurrency", "waits",
              "waits_slept", "handoffs", "runs_submit", "runs_waiter",
              "runs_fallback", "fallback_kicks", "ops_inline", "posts",
              "over_limit_events"):
        r["srv_" + k] = s.get(k)
    r["srv_requests"] = req
    r["srv_events"] = ev
    r["req_per_cpu_s"] = req / cpu if cpu > 0 else None
    # All CPU time of the guest but the client's: the server, softirqs and
    # kernel workers (before cport's fallback ran in the owner's threads,
    # its kernel worker did not show in the server's getrusage).
    busy = s.get("sys_busy_s")
    if isinstance(busy, float) and busy > 0 and c.get("cli_cpu_s") is not None:
        other = busy - c["cli_cpu_s"]
        r["srv_sys_busy_s"] = busy
        r["cli_cpu_s"] = c["cli_cpu_s"]
        r["req_per_guest_cpu_s"] = req / other if other > 0 else None
        r["other_cpu_s"] = other - cpu
    r["cpu_per_req_us"] = cpu / req * 1e6 if req else None
    r["csw_per_req"] = (s["vcsw"] + s["ivcsw"]) / req if req else None
    r["calls_per_req"] = s["calls"] / req if req else None
    if s.get("model") in ("cport", "cport-ms", "cport-msr") and (s.get("waits") or 0) > 0:
        r["wakeups_per_completion"] = s["waits_slept"] / ev if ev else None
        r["nosleep_share"] = 1 - s["waits_slept"] / s["waits"]
        for k in ("runs_submit", "runs_waiter", "runs_fallback",
                  "fallback_kicks", "handoffs"):
            r[k + "_per_req"] = s[k] / req if req else None
    else:
        # No port counters: a voluntary switch is a sleep that was woken.
        r["wakeups_per_completion"] = s["vcsw"] / ev if ev else None
        r["nosleep_share"] = None
    return r


def aggregate(raw):
    """Repetitions of a run (tags ending :rN) become one row: the median of
    each number, with the spread of requests/s."""
    groups = collections.OrderedDict()
    for r in raw:
        groups.setdefault(re.sub(r":r\d+$", "", r["tag"]), []).append(r)
    out = []
    for tag, rs in groups.items():
        row = dict(rs[0])
        row["tag"] = tag
        row["reps"] = len(rs)
        for k in row:
            vals = [r.get(k) for r in rs if isinstance(r.get(k), (int, float))
                    and not isinstance(r.get(k), bool)]
            if len(vals) == len(rs) and k not in ("conns", "len", "rate", "load_frac"):
                row[k] = statistics.median(vals)
        rps = [r["rps"] for r in rs if r.get("rps") is not None]
        if rps:
            row["rps_min"], row["rps_max"] = min(rps), max(rps)
        out.append(row)
    return out


def fmt(v, nd=2):
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if abs(v) >= 1000:
            return "{:,.0f}".format(v)
        return ("{:.%df}" % nd).format(v)
    return str(v)


def table(rows, cols):
    out = ["| " + " | ".join(h for h, _ in cols) + " |",
           "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(fmt(f(r)) for _, f in cols) + " |")
    return "\n".join(out)


ORDER = ["epoll-rp", "epoll-shared", "uring", "cport-lifo-b1", "cport-lifo-b16",
         "cport-ms-lifo-b16", "cport-msr-lifo-b16", "cport-fifo-b1", "cport-fifo-b16", "cport-rr-b1", "cport-rr-b16",
         "cport-cpu-b1", "cport-cpu-b16"]


def sort_key(r):
    s = r["system"]
    return ORDER.index(s) if s in ORDER else 99


CLOSED_COLS = [
    ("system", lambda r: r["system"]),
    ("requests/s", lambda r: r.get("rps")),
    ("runs (min-max req/s)", lambda r: "%d (%s-%s)" % (r["reps"], fmt(r["rps_min"], 0),
                                                       fmt(r["rps_max"], 0))
     if r.get("reps", 1) > 1 else "1"),
    ("p50 us", lambda r: r.get("p50_us")),
    ("p99 us", lambda r: r.get("p99_us")),
    ("p99.9 us", lambda r: r.get("p999_us")),
    ("req per CPU-s", lambda r: r.get("req_per_cpu_s")),
    ("csw/req", lambda r: r.get("csw_per_req")),
    ("syscalls/req", lambda r: r.get("calls_per_req")),
    ("wakeups/compl", lambda r: r.get("wakeups_per_completion")),
    ("waits not slept", lambda r: r.get("nosleep_share")),
    ("active set", lambda r: r.get("srv_active_mean")),
    ("top worker share", lambda r: r.get("srv_max_share")),
]


def gnuplot(script):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True,
                       capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("report: gnuplot failed: %s\n" % getattr(e, "stderr", e))
        return False


# Eleven systems: eleven colours, dashes for the non-cport ones.
COLOURS = ["#1f77b4", "#17becf", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#000000", "#aec7e8"]
LINETYPES = "\n".join("set linetype %d lc rgb '%s' lw 2 pt %d" % (i + 1, c, i + 1)
                       for i, c in enumerate(COLOURS))


def plot_lines(png, title, xlabel, ylabel, series, logx=False, logy=False):
    """series: {name: [(x, y), ...]}"""
    series = {k: sorted(v) for k, v in series.items() if v}
    if not series:
        return None
    data = png + ".dat"
    with open(data, "w") as f:
        for name, pts in series.items():
            f.write("# %s\n" % name)
            for x, y in pts:
                f.write("%s %s\n" % (x, y))
            f.write("\n\n")
    plots = ", ".join("'%s' index %d with linespoints lw 2 title '%s'" %
                      (data, i, n) for i, n in enumerate(series))
    ok = gnuplot("""set terminal pngcairo size 900,560 noenhanced
set output '%s'
set title '%s'
set xlabel '%s'
set ylabel '%s'
set key outside right
set grid
%s
%s
%s
plot %s
""" % (png, title, xlabel, ylabel, LINETYPES, "set logscale x" if logx else "",
       "set logscale y" if logy else "", plots))
    os.unlink(data)
    return png if ok else None


def plot_refs(pngs, out):
    """Markdown for the plots: images when they sit next to the tables,
    else where this run wrote them (build output, which git does not keep,
    so a committed table never links to a missing file)."""
    pngs = [p for p in pngs if p]
    if not pngs:
        return []
    if os.path.dirname(pngs[0]) == os.path.dirname(out):
        return ["![%s](%s)" % (os.path.basename(p)[:-4], os.path.basename(p)) for p in pngs]
    return ["Plots (build output of `make bench`, not kept in git): " +
            ", ".join("`%s`" % p for p in pngs)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--plots", help="directory of the plots (default: that of --out)")
    ap.add_argument("--env", action="append", default=[])
    a = ap.parse_args()
    env, floor, srv, cli, skips, errors = parse(a.log)
    for e in a.env:
        k, v = e.split("=", 1)
        env[k] = v
    raw = [derive(t, cli[t], srv.get(t)) for t in cli]
    rows = aggregate(raw)
    for t in srv:
        if t not in cli:
            errors.append("%s: the server reported, the client did not" % t)
    uflags = {r.get("srv_uring_flags") for r in rows if r["system"] == "uring"}
    env["io_uring_setup_flags"] = ", ".join(sorted(
        "0x%x%s" % (int(str(f), 0), " (SINGLE_ISSUER|DEFER_TASKRUN)"
                    if int(str(f), 0) == 0x3000 else "")
        for f in uflags if f not in (None, "")))
    env["io_uring_idiom"] = ("one ring per worker, multishot accept, multishot "
                             "recv with a provided buffer ring (1024 x 4 KiB), "
                             "send from the received buffer, submit_and_wait(1)")
    env["cport"] = ("one port, setup flags 0 (block tracking on), concurrency 0 "
                    "(= vCPUs), policy per row, 2 x vCPUs workers, "
                    "SEND with CPORT_SQE_INLINE, RECV into the other buffer, "
                    "batch = max completions per cport_submit_and_wait()")
    env["pools"] = ("epoll-rp and uring: one worker per vCPU; epoll-shared and "
                    "cport: two workers per vCPU")

    # --- files: csv, json ---------------------------------------------------
    keys = []
    for r in raw:
        keys += [k for k in r if k not in keys]
    with open(a.out + ".csv", "w", newline="") as f:
        f.write("# " + "; ".join("%s=%s" % kv_ for kv_ in sorted(env.items())) + "\n")
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in raw:
            w.writerow(r)
    # One run per line: small, and diffs stay readable.
    with open(a.out + ".json", "w") as f:
        doc = {"environment": env, "floor_ns": floor, "runs": raw,
               "summary_rows": rows, "skipped": skips, "errors": errors}
        f.write("{\n" + ",\n".join(
            '"%s": ' % k + (("[\n" + ",\n".join(json.dumps(x) for x in v) + "\n]")
                           if isinstance(v, list) else json.dumps(v))
            for k, v in doc.items()) + "\n}\n")

    base = os.path.basename(a.out)
    plots = os.path.join(a.plots or os.path.dirname(a.out), base)
    if a.plots:
        os.makedirs(a.plots, exist_ok=True)
    closed = [r for r in rows if r["kind"] == "closed"]
    opened = [r for r in rows if r["kind"] == "open"]
    bursts = [r for r in rows if r["kind"] == "burst"]
    storms = [r for r in rows if r["kind"] == "storm"]
    sockperf = [r for r in rows if r["kind"] == "sockperf"]
    wrk = [r for r in rows if r["kind"] == "wrk"]
    pngs = {}

    # --- plots ---------------------------------------------------------------
    def series(rs, x, y, sel=lambda r: True):
        out = {}
        for r in sorted(rs, key=sort_key):
            if sel(r) and r.get(x) is not None and r.get(y) is not None:
                out.setdefault(r["system"], []).append((r[x], r[y]))
        return out

    pngs["rps"] = plot_lines(plots + "-closed-rps.png",
                             "Closed loop, 64-byte echo: requests/s",
                             "connections", "requests/s",
                             series(closed, "conns", "rps", lambda r: r["len"] == 64),
                             logx=True)
    pngs["csw"] = plot_lines(plots + "-closed-csw.png",
                             "Closed loop, 64-byte echo: server context switches per request",
                             "connections", "context switches / request",
                             series(closed, "conns", "csw_per_req", lambda r: r["len"] == 64),
                             logx=True)
    pngs["cpu"] = plot_lines(plots + "-closed-cpu.png",
                             "Closed loop, 64-byte echo: requests per server CPU-second",
                             "connections", "requests / CPU-s",
                             series(closed, "conns", "req_per_cpu_s", lambda r: r["len"] == 64),
                             logx=True)
    for svc in sorted({r["service"] for r in opened}):
        pngs["open-" + svc] = plot_lines(
            plots + "-open-p99-%s.png" % svc,
            "Open loop (Poisson), service %s: p99 latency vs offered load" %
            (svc + (" us" if svc.isdigit() else "")),
            "offered load (requests/s)", "p99 latency (us)",
            series(opened, "rate", "p99_us", lambda r: r["service"] == svc),
            logy=True)
    pngs["active"] = plot_lines(plots + "-open-activeset.png",
                                "Open loop, service 0: workers active per 10 ms window",
                                "offered load (requests/s)", "mean active workers",
                                series(opened, "rate", "srv_active_mean",
                                       lambda r: r["service"] == "0"))
    pngs["share"] = plot_lines(plots + "-open-topshare.png",
                               "Open loop, service 0: share of completions of the busiest worker",
                               "offered load (requests/s)", "top worker share",
                               series(opened, "rate", "srv_max_share",
                                      lambda r: r["service"] == "0"))

    # --- markdown ---------------------------------------------------------------
    md = ["# cport against epoll and io_uring (%s, %s mode)" %
          (env.get("kernel_name", "?"), env.get("mode", "?")), ""]
    md.append("`make bench%s`; environment: " %
              (" QUICK=1" if env.get("mode") == "quick" else ""))
    md.append("")
    for k in ("kernel", "accelerator", "vcpus", "commit", "date", "liburing",
              "io_uring_setup_flags", "io_uring_idiom", "cport", "pools", "qemu",
              "host_load_before", "host_load_after"):
        if k in env:
            md.append("- %s: %s" % (k, env[k]))
    md += ["", "Absolute figures from an emulated guest on a shared host mean "
           "little; read the ratios of systems measured side by side and the "
           "counts (switches, calls, wakeups per request).", ""]
    if floor:
        md += ["## Floor", "", "| step | ns |", "|---|---|"]
        names = {"syscall": "system call (getppid)",
                 "futex": "futex ping-pong round trip (2 threads)",
                 "tcp": "loopback TCP ping-pong round trip, 64 B",
                 "cport": "cport post-to-wait ping-pong round trip (2 ports)",
                 "futex-1cpu": "futex round trip, both threads on CPU 0",
                 "futex-xcpu": "futex round trip, threads on CPU 0 and 1",
                 "cport-1cpu": "cport round trip, both threads on CPU 0",
                 "cport-xcpu": "cport round trip, threads on CPU 0 and 1"}
        for k, v in floor.items():
            md.append("| %s | %s |" % (names.get(k, k), fmt(v, 0)))
        md.append("")
    if closed:
        md += ["## Closed-loop echo", ""]
        for (c, l) in sorted({(r["conns"], r["len"]) for r in closed}):
            md += ["### %d connection%s, %d bytes" % (c, "" if c == 1 else "s", l), ""]
            md.append(table(sorted([r for r in closed if r["conns"] == c and r["len"] == l],
                                   key=sort_key), CLOSED_COLS))
            md.append("")
        md += plot_refs([pngs.get(k) for k in ("rps", "csw", "cpu")], a.out)
        md.append("")
    if opened:
        md += ["## Open-loop latency vs load (64 connections, Poisson arrivals)", "",
               "Offered load is a fraction of the best closed-loop requests/s at 64 "
               "connections; latency counts from the scheduled send time.", ""]
        cols = [("system", lambda r: r["system"]), ("service", lambda r: r["service"]),
                ("load", lambda r: r["load_frac"]), ("offered/s", lambda r: r["rate"]),
                ("achieved/s", lambda r: r["rps"]), ("p50 us", lambda r: r["p50_us"]),
                ("p99 us", lambda r: r["p99_us"]), ("p99.9 us", lambda r: r["p999_us"]),
                ("csw/req", lambda r: r.get("csw_per_req")),
                ("active set", lambda r: r.get("srv_active_mean")),
                ("top worker share", lambda r: r.get("srv_max_share")),
                ("worker shares", lambda r: r.get("srv_shares"))]
        md.append(table(sorted(opened, key=lambda r: (r["service"], r["load_frac"] or 0,
                                                      sort_key(r))), cols))
        md.append("")
        md += plot_refs([pngs[k] for k in sorted(pngs)
                         if k.startswith("open-") or k in ("active", "share")], a.out)
        md.append("")
    if bursts:
        md += ["## Bursts (32 connections send at once every 50 ms)", ""]
        cols = [("system", lambda r: r["system"]), ("bursts", lambda r: r.get("bursts")),
                ("drain p50 us", lambda r: r.get("drain_p50_us")),
                ("drain p99 us", lambda r: r.get("drain_p99_us")),
                ("request p99 us", lambda r: r["p99_us"]),
                ("csw/req", lambda r: r.get("csw_per_req")),
                ("wakeups/compl", lambda r: r.get("wakeups_per_completion")),
                ("waits not slept", lambda r: r.get("nosleep_share")),
                ("active set", lambda r: r.get("srv_active_mean"))]
        md.append(table(sorted(bursts, key=sort_key), cols))
        md.append("")
    if storms:
        md += ["## Accept storm (connect, one request, close)", ""]
        cols = [("system", lambda r: r["system"]), ("connections/s", lambda r: r["rps"]),
                ("p50 us", lambda r: r["p50_us"]), ("p99 us", lambda r: r["p99_us"]),
                ("csw/req", lambda r: r.get("csw_per_req")),
                ("syscalls/req", lambda r: r.get("calls_per_req"))]
        md.append(table(sorted(storms, key=sort_key), cols))
        md.append("")
    md += ext_sections(sockperf, wrk, closed)
    cport_rows = [r for r in closed + opened + bursts if r["system"].startswith("cport")
                  and r.get("srv_waits") is not None]
    if cport_rows:
        md += ["## cport: who ran the sockets (per request)", ""]
        cols = [("run", lambda r: r["tag"]), ("runs by submitter", lambda r: r.get("runs_submit_per_req")),
                ("by a waiter", lambda r: r.get("runs_waiter_per_req")),
                ("by the fallback", lambda r: r.get("runs_fallback_per_req")),
                ("fallback kicks", lambda r: r.get("fallback_kicks_per_req")),
                ("handoffs", lambda r: r.get("handoffs_per_req")),
                ("waits not slept", lambda r: r.get("nosleep_share"))]
        md.append(table([r for r in cport_rows if r["kind"] == "closed"], cols))
        md.append("")
    md += ["## Ahead of io_uring: the goals, as measured", "", GOALS, ""]
    md += goals(closed, opened, floor, wrk)
    md += ["", "## cport's earlier targets, as measured", "", TARGETS, ""]
    md += targets(closed, opened, floor)
    if skips:
        md += ["", "## Skipped", ""]
        seen = {}
        for s in skips:
            sysname = system_of(s["tag"])
            if sysname not in seen:
                seen[sysname] = s.get("why")
        for sysname, why in seen.items():
            n = sum(1 for s in skips if system_of(s["tag"]) == sysname)
            md.append("- %s (%d runs): %s" % (sysname, n, why))
    if errors:
        md += ["", "## Errors", ""] + ["- " + e for e in errors]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


def vs_uring(rows, r, key, **kw):
    """r[key] over io_uring's in the same table."""
    u = pick(rows, "uring", **kw)
    return ratio(r.get(key), u.get(key)) if u else None


def ext_sections(sockperf, wrk, closed):
    """The tables of sockperf and wrk, and where they and loadgen disagree."""
    md = []
    share = ("client CPU share", lambda r: r.get("cli_share"))
    server = [("req per server CPU-s", lambda r: r.get("req_per_cpu_s")),
              ("csw/req", lambda r: r.get("csw_per_req"))]
    if sockperf:
        md += ["## sockperf (Debian's; one TCP connection, 64-byte messages)", "",
               "Round-trip latency (`--full-rtt`) over sockperf's valid duration; "
               "the client CPU share is the client's CPU time over the server's "
               "measured interval, divided by that interval times the vCPUs "
               "(client and server compete for them).", ""]
        pp = sorted([r for r in sockperf if r["mode"] == "pp"], key=sort_key)
        if pp:
            md += ["### Ping-pong", ""]
            md.append(table(pp, [
                ("system", lambda r: r["system"]),
                ("round trips/s", lambda r: r.get("rps")),
                ("x uring", lambda r: vs_uring(pp, r, "rps")),
                ("avg us", lambda r: r.get("avg_us")),
                ("p50 us", lambda r: r.get("p50_us")),
                ("p50 x uring", lambda r: vs_uring(pp, r, "p50_us")),
                ("p99 us", lambda r: r.get("p99_us")),
                ("p99.9 us", lambda r: r.get("p999_us")), share] + server))
            md.append("")
        ul = sorted([r for r in sockperf if r["mode"] == "ul"], key=sort_key)
        if ul:
            md += ["### Under load (fixed send rate, a share of the messages answered)", ""]
            md.append(table(ul, [
                ("system", lambda r: r["system"]),
                ("sent/s", lambda r: r.get("rps")),
                ("answered/s", lambda r: r.get("replies_per_s")),
                ("p50 us", lambda r: r.get("p50_us")),
                ("p50 x uring", lambda r: vs_uring(ul, r, "p50_us")),
                ("p99 us", lambda r: r.get("p99_us")),
                ("p99 x uring", lambda r: vs_uring(ul, r, "p99_us")),
                ("p99.9 us", lambda r: r.get("p999_us")), share] + server))
            md.append("")
    if wrk:
        md += ["## wrk (Debian's; HTTP/1.1 keep-alive, 128-byte response, one wrk thread)", "",
               "Latency from wrk's histogram over its whole run; the client CPU "
               "share as above.", ""]
        for c in sorted({r["conns"] for r in wrk}):
            rs = sorted([r for r in wrk if r["conns"] == c], key=sort_key)
            md += ["### %d connections" % c, ""]
            md.append(table(rs, [
                ("system", lambda r: r["system"]),
                ("requests/s", lambda r: r.get("rps")),
                ("x uring", lambda r, rs=rs: vs_uring(rs, r, "rps")),
                ("p50 us", lambda r: r.get("p50_us")),
                ("p99 us", lambda r: r.get("p99_us")),
                ("p99.9 us", lambda r: r.get("p999_us")),
                ("errors", lambda r: None if r.get("errors") is None
                 else int(r["errors"])), share] + server))
            md.append("")
    # The same question asked with two clients: each system's requests/s
    # over io_uring's, by loadgen (closed loop, 64 bytes) and by the other.
    pairs = []
    for r in sockperf:
        if r["mode"] == "pp":
            pairs.append(("sockperf ping-pong", r, vs_uring(sockperf, r, "rps", mode="pp"),
                          1, [x for x in closed if x["conns"] == 1 and x["len"] == 64]))
    for r in wrk:
        pairs.append(("wrk %d conns" % r["conns"], r,
                      vs_uring(wrk, r, "rps", conns=r["conns"]), r["conns"],
                      [x for x in closed if x["conns"] == r["conns"] and x["len"] == 64]))
    lines = []
    for what, r, other, c, lg in pairs:
        if r["system"] == "uring" or other is None:
            continue
        lr = pick(lg, r["system"])
        mine = vs_uring(lg, lr, "rps") if lr else None
        if mine is None:
            continue
        verdict = "DISAGREE" if abs(other / mine - 1) > 0.1 else "agree within 10%"
        lines.append("- %s, %s vs uring: requests/s x%s; loadgen at %d connection%s: "
                     "x%s (%s)" % (what, r["system"], fmt(other), c,
                                   "" if c == 1 else "s", fmt(mine), verdict))
    if lines:
        md += ["## The clients compared (ratios to io_uring, same run)", ""] + lines + [""]
    return md


def pick(rows, system, **kw):
    for r in rows:
        if r["system"] == system and all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def ratio(a, b):
    return a / b if a and b else None


# What `make bench` holds cport to; targets() measures each, against
# systems measured in the same run (docs/policies.md discusses the misses).
TARGETS = """Each line below compares cport with what it is meant to match, measured \
side by side in this run:

- one connection, closed loop: cport LIFO (batch 1 and 16) within 10% of \
epoll-rp and of io_uring, in requests/s and in p50 latency (with one \
request in flight every server pays one wakeup per request; the port \
should add nothing to it);
- 64 and 256 connections: cport LIFO batch 16 at or above io_uring's \
requests/s, with no more context switches per request;
- the floor: cport's post-to-wait round trip within 1.25x of a futex \
ping-pong between two threads (the bare wakeup a handoff is built on), \
unpinned, on one CPU and across two;
- light load (the lowest open-loop rate, service 0): under LIFO the \
busiest worker handles at least 90% of the completions (the active set \
stays as small as the load allows); FIFO's spread is shown beside it."""


# The goals of "ahead of io_uring at many connections"; goals() fills in
# the table, a line per goal and point, each met or not.
GOALS = """With the default policy (LIFO) and concurrency (0: the vCPUs), in this \
run. cport-ms is the server with one multishot RECV per connection from a \
buffer group (the design the goal is measured on); cport-lifo-b16 the one \
with a RECV per request, shown beside it. Server CPU per request counts \
all of the guest's busy time but the client's (softirqs and kernel \
threads included) where the run recorded it."""


def cpu_per_req(r):
    """Server CPU per request, us: the guest's busy time less the client's
    where recorded, else the server's own getrusage()."""
    if r.get("req_per_guest_cpu_s"):
        return 1e6 / r["req_per_guest_cpu_s"]
    return r.get("cpu_per_req_us")


def goals(closed, opened, floor, wrk):
    out = ["| goal | point | cport-ms | cport-lifo-b16 | reference (io_uring unless named) | cport-ms / reference | met |",
           "|---|---|---|---|---|---|---|"]

    def line(goal, point, ms, lb, u, key, want, fmt_nd=0, better="higher"):
        a = ms.get(key) if ms else None
        b = lb.get(key) if lb else None
        c = u.get(key) if u else None
        rr = ratio(a, c)
        if rr is None:
            verdict = "-"
        elif better == "higher":
            verdict = "met" if rr >= want else "NOT met"
        else:
            verdict = "met" if rr <= want else "NOT met"
        out.append("| %s | %s | %s | %s | %s | x%s | %s |" % (
            goal, point, fmt(a, fmt_nd), fmt(b, fmt_nd), fmt(c, fmt_nd),
            fmt(rr), verdict))

    points = [(c, l) for c in (64, 256, 1000) for l in (64, 4096)]
    for c, l in points:
        cc = [r for r in closed if r["conns"] == c and r["len"] == l]
        ms, lb, u = (pick(cc, "cport-ms-lifo-b16"), pick(cc, "cport-lifo-b16"),
                     pick(cc, "uring"))
        if not (ms and u):
            continue
        pt = "loadgen, %d conns, %d B" % (c, l)
        line("requests/s >= x1.1 io_uring", pt, ms, lb, u, "rps", 1.1)
        line("p99 <= io_uring's", pt, ms, lb, u, "p99_us", 1.0, better="lower")
        line("p99.9 <= io_uring's", pt, ms, lb, u, "p999_us", 1.0, better="lower")
        for r in (ms, lb, u):
            if r is not None:
                r["_cpu_us"] = cpu_per_req(r)
        line("server CPU/request (us) <= io_uring's", pt, ms, lb, u, "_cpu_us",
             1.0, fmt_nd=1, better="lower")
    for c in sorted({r["conns"] for r in wrk}):
        ww = [r for r in wrk if r["conns"] == c]
        ms, lb, u = (pick(ww, "cport-ms-lifo-b16"), pick(ww, "cport-lifo-b16"),
                     pick(ww, "uring"))
        if not (ms and u):
            continue
        pt = "wrk, %d conns" % c
        line("requests/s >= x1.1 io_uring", pt, ms, lb, u, "rps", 1.1)
        line("p99 <= io_uring's", pt, ms, lb, u, "p99_us", 1.0, better="lower")
        line("p99.9 <= io_uring's", pt, ms, lb, u, "p999_us", 1.0, better="lower")
    c1 = [r for r in closed if r["conns"] == 1 and r["len"] == 64]
    ms, lb = pick(c1, "cport-ms-lifo-b16"), pick(c1, "cport-lifo-b16")
    for other in ("epoll-rp", "uring"):
        o = pick(c1, other)
        if ms and o:
            line("requests/s within 10%% of %s (or above)" % other,
                 "loadgen, 1 conn (median of 3)", ms, lb, o, "rps", 0.9)
    for c in (64, 256):
        cc = [r for r in closed if r["conns"] == c and r["len"] == 64]
        ms, lb = pick(cc, "cport-ms-lifo-b16"), pick(cc, "cport-lifo-b16")
        if ms and ms.get("calls_per_req") is not None:
            out.append("| at most one system call per request | loadgen, %d conns | %s | %s | | | %s |" % (
                c, fmt(ms["calls_per_req"]),
                fmt(lb.get("calls_per_req")) if lb else "-",
                "met" if ms["calls_per_req"] <= 1.0 else "NOT met"))
    c, fx = floor.get("cport"), floor.get("futex")
    if c and fx:
        out.append("| post-to-wait round trip (ns) <= x1.1 futex ping-pong | floor, unpinned | %s | | futex %s | x%s | %s |" % (
            fmt(c, 0), fmt(fx, 0), fmt(c / fx), "met" if c / fx <= 1.1 else "NOT met"))
    light = [r for r in opened if r["service"] == "0"
             and r["system"].startswith("cport-lifo")]
    if light:
        lo = min(r["load_frac"] for r in light)
        for r in sorted([x for x in light if x["load_frac"] == lo], key=sort_key):
            conc = r.get("srv_concurrency")
            act = r.get("srv_active_mean")
            over = r.get("srv_over_limit_events")
            ok = conc is not None and act is not None and act <= conc and \
                (over is None or over <= 0)
            out.append("| light load, %s: active set <= concurrency, no thread running beyond it | open loop, %.0f%% of saturation | | active set %s, over-limit events %s | concurrency %s | | %s |" % (
                r["system"], lo * 100, fmt(act),
                "not recorded" if over is None or over < 0 else fmt(over, 0),
                fmt(conc, 0), "met" if ok else "NOT met"))
    return out


def targets(closed, opened, floor):
    out = []
    c1 = [r for r in closed if r["conns"] == 1 and r["len"] == 64]
    for cp, other in [(pick(c1, a), b) for a in ("cport-lifo-b1", "cport-lifo-b16")
                      for b in ("epoll-rp", "uring")]:
        o = pick(c1, other)
        if cp and o:
            rr, pr = ratio(cp["rps"], o["rps"]), ratio(cp["p50_us"], o["p50_us"])
            if rr and pr and 0.9 <= rr <= 1.1 and 0.9 <= pr <= 1.1:
                verdict = "within 10%"
            elif rr and pr and rr >= 0.9 and pr <= 1.1:
                verdict = "better than parity by more than 10%"
            else:
                verdict = "NOT within 10% (worse)"
            spread = " (requests/s of the passes: %s %s-%s, %s %s-%s)" % (
                cp["system"], fmt(cp.get("rps_min"), 0), fmt(cp.get("rps_max"), 0),
                other, fmt(o.get("rps_min"), 0), fmt(o.get("rps_max"), 0)) \
                if cp.get("reps", 1) > 1 else ""
            out.append("- 1 connection, %s vs %s: requests/s x%s, p50 x%s: %s%s" %
                       (cp["system"], other, fmt(rr), fmt(pr), verdict, spread))
    for c in (64, 256):
        cc = [r for r in closed if r["conns"] == c and r["len"] == 64]
        cp, u = pick(cc, "cport-lifo-b16"), pick(cc, "uring")
        if cp and u:
            rr = ratio(cp["rps"], u["rps"])
            out.append("- %d connections, cport-lifo-b16 vs uring: requests/s x%s (%s), "
                       "context switches per request %s vs %s (%s)" %
                       (c, fmt(rr), "at or above" if rr and rr >= 1 else "below",
                        fmt(cp.get("csw_per_req")), fmt(u.get("csw_per_req")),
                        "no more" if (cp.get("csw_per_req") or 9) <= (u.get("csw_per_req") or 0)
                        else "more"))
    for sfx, where in (("", "unpinned"), ("-1cpu", "both on one CPU"),
                       ("-xcpu", "on two CPUs")):
        c, fx = floor.get("cport" + sfx), floor.get("futex" + sfx)
        if c and fx:
            rr = c / fx
            out.append("- cport post-to-wait round trip / futex ping-pong, %s: "
                       "%s / %s ns = x%s (%s 1.25x)" %
                       (where, fmt(c, 0), fmt(fx, 0), fmt(rr),
                        "within" if rr <= 1.25 else "NOT within"))
    light = [r for r in opened if r["service"] == "0"]
    if light:
        lo = min(r["load_frac"] for r in light)
        li, fi = pick(light, "cport-lifo-b1", load_frac=lo), pick(light, "cport-fifo-b1", load_frac=lo)
        if li:
            out.append("- light load (%.0f%% of saturation), LIFO: busiest worker handles %s "
                       "of completions (%s 90%%), active set %s" %
                       (lo * 100, fmt(li.get("srv_max_share")),
                        ">=" if (li.get("srv_max_share") or 0) >= 0.9 else "below",
                        fmt(li.get("srv_active_mean"))))
        if fi:
            out.append("- light load, FIFO: busiest worker %s, shares %s, active set %s" %
                       (fmt(fi.get("srv_max_share")), fi.get("srv_shares"),
                        fmt(fi.get("srv_active_mean"))))
    return out or ["- (not enough runs)"]


if __name__ == "__main__":
    main()
