#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-request costs from scripts/profile.sh's guest log.

For each system: requests/s (the client's), the guest's samples turned
into CPU microseconds per request (perf's cpu-clock at the rate the guest
script used), split by command (server, loadgen, idle = swapper, other),
then the symbols of the server and of the kernel on its behalf, each
with its share of all samples and its microseconds per request; and the
"children" view (time under each function, callees included) for the
functions that matter.
"""
import argparse
import re

from categories import category


ap = argparse.ArgumentParser()
ap.add_argument('--log', required=True)
ap.add_argument('--top', type=int, default=40)
args = ap.parse_args()

lines = [l.rstrip('\r\n') for l in open(args.log, errors='replace')]
sysname = None
rps = {}
prof = {}
callers = {}
bycomm_callers = {}
secs = {}
hz = {}
events = {}
comms = {}
mode = None
for l in lines:
    m = re.match(r'^csv,cli,prof:([^,]+),.*?\brps=([0-9.]+)', l)
    if m:
        rps[m.group(1)] = float(m.group(2))
        continue
    m = re.match(r'^=== profile (\S+) begin', l)
    if m:
        sysname, mode = m.group(1), 'flat'
        prof[sysname], callers[sysname] = [], []
        continue
    m = re.match(r'^=== callers (\S+)', l)
    if m:
        mode = 'callers'
        continue
    m = re.match(r'^=== callers-by-comm (\S+)', l)
    if m:
        mode = 'bycomm'
        bycomm_callers[sysname] = []
        continue
    if l.startswith('=== profile end'):
        sysname = mode = None
        continue
    if not sysname:
        continue
    m = re.match(r'^samples_seconds (\S+) (\S+)', l)
    if m:
        secs[sysname] = float(m.group(1))
        hz[sysname] = float(m.group(2))
        continue
    m = re.match(r'^comm # Event count \(approx.\): (\d+)', l)
    if m:
        events[sysname] = int(m.group(1))
        continue
    m = re.match(r'^comm\s+([0-9.]+)%\s+(\S+)', l)
    if m:
        comms.setdefault(sysname, {})[m.group(2)] = float(m.group(1))
        continue
    if mode == 'flat':
        m = re.match(r'^\s+([0-9.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.*)$', l)
        if m:
            prof[sysname].append((float(m.group(1)), m.group(2), m.group(3),
                                  m.group(5).strip()))
        m = re.match(r'^# Samples: (\S+)', l)
        if m:
            v = m.group(1)
            mult = 1000 if v.endswith('K') else 1000000 if v.endswith('M') else 1
            prof[sysname].insert(0, ('samples', float(v.rstrip('KM')) * mult))
    elif mode == 'bycomm':
        m = re.match(r'^\s+([0-9.]+)%\s+([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$', l)
        if m:
            bycomm_callers[sysname].append((float(m.group(1)),
                                            float(m.group(2)), m.group(3),
                                            m.group(5).strip()))
    elif mode == 'callers':
        m = re.match(r'^\s+([0-9.]+)%\s+([0-9.]+)%\s+\[(.)\]\s+(.*)$', l)
        if m:
            callers[sysname].append((float(m.group(1)), float(m.group(2)),
                                     m.group(4).strip()))


for s in prof:
    rows = prof[s]
    if not rows or rows[0][0] != 'samples' or s not in rps:
        print(f'## {s}: no profile or no client result\n')
        continue
    samples = rows[0][1]
    rows = rows[1:]
    # cpu-clock counts nanoseconds: the CPU time sampled, idle included
    # (perf's sample count is rounded in its header).
    cpu_s = events[s] / 1e9 if s in events else samples / hz[s]
    req = rps[s] * secs[s]
    us_req = cpu_s * 1e6 / req
    print(f'## {s}\n')
    print(f'- requests/s (client): {rps[s]:,.0f}')
    print(f'- samples: about {samples:,.0f} over {secs[s]:.0f} s '
          f'({cpu_s:.2f} CPU-s sampled, both vCPUs); '
          f'guest CPU per request: {us_req:.1f} us\n')
    bycomm = {}
    for comm, pct in comms.get(s, {}).items():
        c = comm if comm in ('server', 'loadgen', 'swapper') else 'other'
        bycomm[c] = bycomm.get(c, 0) + pct
    idle = comms.get(s, {}).get('swapper', 0.0)
    print(f'- busy (not idle) CPU per request: '
          f'{us_req * (100 - idle) / 100:.1f} us; idle {idle:.1f}%\n')
    cats = {}
    for pct, comm, dso, sym in rows:
        if comm == 'swapper':
            continue
        key = (comm if comm in ('server', 'loadgen') else 'other',
               category(dso, sym))
        cats[key] = cats.get(key, 0) + pct
    print('By category (self time of the symbols listed, >= 0.05% each):\n')
    print('| command | category | share | us/request |')
    print('|---|---|---|---|')
    for (comm, cat), pct in sorted(cats.items(), key=lambda x: (x[0][0], -x[1])):
        print(f'| {comm} | {cat} | {pct:.1f}% | {pct / 100 * us_req:.2f} |')
    print()
    print('| command | share | us/request |')
    print('|---|---|---|')
    for c, pct in sorted(bycomm.items(), key=lambda x: -x[1]):
        print(f'| {c} | {pct:.1f}% | {pct / 100 * us_req:.2f} |')
    print()
    print('Server, by symbol:\n')
    print('| share | us/request | where | symbol |')
    print('|---|---|---|---|')
    n = 0
    for pct, comm, dso, sym in rows:
        if comm != 'server':
            continue
        print(f'| {pct:.2f}% | {pct / 100 * us_req:.3f} | {dso} | {sym} |')
        n += 1
        if n >= args.top:
            break
    print('\nTime under a function, callees included (all commands, >= 2%):\n')
    print('| children | self | symbol |')
    print('|---|---|---|')
    for ch, self_, sym in callers[s][:60]:
        print(f'| {ch:.1f}% | {self_:.1f}% | {sym} |')
    print()
    for who in ('server', 'loadgen'):
        rows_c = [r for r in bycomm_callers.get(s, []) if r[2] == who]
        if not rows_c:
            continue
        print(f'Time under a function in the {who}\'s context, callees '
              'included (>= 1%):\n')
        print('| children | us/request | symbol |')
        print('|---|---|---|')
        for ch, self_, comm, sym in rows_c[:50]:
            print(f'| {ch:.1f}% | {ch / 100 * us_req:.2f} | {sym} |')
        print()


def runs_table():
    """Each measured run in order: the server's and the client's calls,
    sleeps and CPU per request, the guest's context switches and
    interrupts, and (TCG) QEMU's soft-TLB flushes and TB invalidations,
    per request.  Runs of the same system are listed separately: under TCG
    one system's runs can differ by 2x, and the counters say how.

    Per request means: the server's and the client's own figures over
    their own measured intervals (the client's requests and duration;
    getrusage); the guest counters over the SECS the guest measured them,
    at the client's rate; QEMU's over the host's time between its two
    answers, at the same rate."""
    runs = {}
    jit = {}
    pending = {'ctr': {}}
    for l in lines:
        m = re.match(r'^jit (\d+):(begin|end) (\S+) (\S+)', l)
        if m:
            jit.setdefault((int(m.group(1)), m.group(2)), {})[
                m.group(3)] = float(m.group(4))
            continue
        m = re.match(r'^counter (\S+) (\S+) (-?\d+)', l)
        if m:
            pending['ctr'][m.group(2)] = int(m.group(3))
            continue
        m = re.match(r'^run (\d+) (\S+) secs=(\S+)', l)
        if m:
            # Printed after the interval: the counters above are its,
            # the csv lines below.
            pending['run'] = int(m.group(1))
            pending['secs'] = float(m.group(3))
            runs[pending['run']] = pending
            pending = {'ctr': {}, 'cur': pending}
            continue
        for kind in ('srv', 'cli'):
            if l.startswith('csv,%s,prof:' % kind) and pending.get('cur'):
                f = dict(kv.split('=', 1) for kv in l.split(',')[3:]
                         if '=' in kv)
                pending['cur'][kind] = f
                pending['cur']['sys'] = l.split(',')[2][5:]
    runs = [r for k, r in sorted(runs.items()) if 'srv' in r and 'cli' in r]
    if not runs:
        return
    print('\nEach run: calls, sleeps and CPU per request\n')
    print('| system | requests/s | server calls | server sleeps | server '
          'preempted | server CPU us | client CPU us | client events per '
          'wait | client preempted | guest ctxt | TLB full flushes | '
          'TLB partial flushes | TB invalidations |')
    print('|---|' + '---|' * 12)
    for r in runs:
        s, c = r['srv'], r['cli']
        req = int(s['requests']) or 1
        creq = int(c['requests']) or 1
        rps = float(c['rps']) or 1

        def per(v, n=req):
            return '%.3f' % (v / n)

        b = jit.get((r['run'], 'begin'), {})
        e = jit.get((r['run'], 'end'), {})
        jv = ['-'] * 3
        if 'time' in b and 'time' in e and e['time'] > b['time']:
            n = rps * (e['time'] - b['time'])
            jv = [('%.2f' % ((e[k] - b[k]) / n)) if k in b and k in e
                  else '-' for k in ('TLB_full_flushes',
                                     'TLB_partial_flushes',
                                     'TB_invalidate_count')]
        waits = int(c.get('cli_waits', 0))
        print('| %s | %.0f | %s | %s | %s | %.1f | %.1f | %s | %s | %s | %s |'
              % (r['sys'], rps, per(int(s['calls'])),
                 per(int(s['vcsw'])), per(int(s['ivcsw'])),
                 (float(s['utime_s']) + float(s['stime_s'])) / req * 1e6,
                 float(c['cli_cpu_s']) / creq * 1e6,
                 '%.1f' % (int(c['cli_wait_events']) / waits) if waits else '-',
                 per(int(c.get('cli_ivcsw', 0)), creq),
                 per(r['ctr'].get('ctxt', 0), rps * r['secs']),
                 ' | '.join(jv)))


runs_table()
