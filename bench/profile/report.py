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


ap = argparse.ArgumentParser()
ap.add_argument('--log', required=True)
ap.add_argument('--top', type=int, default=40)
args = ap.parse_args()

lines = [l.rstrip('\r\n') for l in open(args.log, errors='replace')]
sysname = None
rps = {}
prof = {}
callers = {}
secs = {}
hz = {}
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
    cpu_s = samples / hz[s]
    req = rps[s] * secs[s]
    us_req = cpu_s * 1e6 / req
    print(f'## {s}\n')
    print(f'- requests/s (client): {rps[s]:,.0f}')
    print(f'- samples: {samples:,.0f} over {secs[s]:.0f} s '
          f'({cpu_s:.2f} CPU-s of {2 * secs[s]:.0f}); '
          f'guest CPU per request: {us_req:.1f} us\n')
    bycomm = {}
    for comm, pct in comms.get(s, {}).items():
        c = comm if comm in ('server', 'loadgen', 'swapper') else 'other'
        bycomm[c] = bycomm.get(c, 0) + pct
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
