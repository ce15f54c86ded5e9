#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Instructions per request, by kernel function, from scripts/insn-profile.sh.

The guest log gives, for each system in order, the client's requests/s
and the interval (profile-guest.sh with FREQ "insn"), and the module's
symbols ("ksym" lines); QEMU's instruction counter (insn-plugin.c) wrote
one dump per sync(2) in the guest: for system i, dump 2i is everything
before its interval and dump 2i+1 the interval.  The core kernel's
symbols come from --map, /proc/kallsyms as read off an earlier boot of
the same kernel with nokaslr (Debian's System.map is a stub).

Prints, for each system: instructions per request in the kernel and in
user space, by category (categories.py) and by function, with each
function's calls per request (the runs of the block at its entry); then
the functions side by side, the first system against each other one.
Requests are counted in the interval itself: tcp_sendmsg() calls / 2, as
the echo makes one send each way per request.
"""
import argparse
import bisect
import re

from categories import category

ap = argparse.ArgumentParser()
ap.add_argument('--log', required=True)
ap.add_argument('--map', required=True,
                help="the guest kernel's symbols (kallsyms format, nokaslr)")
ap.add_argument('--dumps', required=True, help='the dumps\' PREFIX (PREFIX.N)')
ap.add_argument('--top', type=int, default=45)
args = ap.parse_args()

syms = []
for l in open(args.map):
    f = l.split()
    if len(f) >= 3 and f[1] in 'tTwW':
        syms.append((int(f[0], 16), f[2], '[kernel.kallsyms]'))
runs = []	# (name, secs) in order; a system may run more than once
rps = []	# the client's, in the same order
for l in open(args.log, errors='replace'):
    l = l.rstrip('\r\n')
    m = re.match(r'^ksym ([0-9a-f]+) [tTwW] (\S+)', l)
    if m:
        syms.append((int(m.group(1), 16), m.group(2), '[cport]'))
        continue
    m = re.match(r'^run (\d+) (\S+) secs=(\S+)', l)
    if m:
        runs.append((m.group(2), float(m.group(3))))
        continue
    m = re.match(r'^csv,cli,prof:([^,]+),.*?\brps=([0-9.]+)', l)
    if m:
        rps.append(float(m.group(2)))
syms.sort()
addrs = [s[0] for s in syms]


def symbol(va):
    """The function @va is in, and whether @va is its entry."""
    if va < 0xffff800000000000:
        return ('user space', 'user'), False
    i = bisect.bisect_right(addrs, va) - 1
    if i < 0:
        return ('?', '[kernel.kallsyms]'), False
    return (syms[i][1], syms[i][2]), syms[i][0] == va


per = {}
calls = {}	# the blocks at a function's entry: its calls
names = []
for i, (sys, secs) in enumerate(runs):
    req = rps[i] * secs if i < len(rps) else 0
    if not req:
        continue
    name = sys if sys not in per else '%s (run %d)' % (sys, i + 1)
    by = {}
    entries = {}
    cpu = [0, 0]
    for l in open('%s.%d' % (args.dumps, 2 * i + 1)):
        va, n, c0, c1 = l.split()
        n, c0, c1 = int(n), int(c0), int(c1)
        cpu[0] += n * c0
        cpu[1] += n * c1
        key, entry = symbol(int(va, 16))
        by[key] = by.get(key, 0) + n * (c0 + c1)
        if entry:
            entries[key] = entries.get(key, 0) + c0 + c1
    # Exactly one send per direction per request in the echo: the
    # requests of the interval itself, not the client's average rate.
    sends = entries.get(('tcp_sendmsg', '[kernel.kallsyms]'), 0)
    if sends:
        req = sends / 2
    per[name] = {k: v / req for k, v in by.items()}
    calls[name] = {k: v / req for k, v in entries.items()}
    names.append(name)
    total = sum(by.values()) / req
    user = per[name].get(('user space', 'user'), 0)
    print(f'## {name}\n')
    print(f'- requests/s (client, slowed by the counter): {rps[i]:,.0f}; '
          f'interval {secs:.0f} s; requests counted in it: {req:,.0f} '
          f'({"tcp_sendmsg calls / 2" if sends else "client rate x interval"})')
    print(f'- instructions per request: {total:,.0f} ({total - user:,.0f} '
          f'kernel, {user:,.0f} user space); vCPU 0 {cpu[0] / req:,.0f}, '
          f'vCPU 1 {cpu[1] / req:,.0f}\n')
    cats = {}
    for (sym, dso), v in per[name].items():
        c = 'user space' if dso == 'user' else category(dso, sym)
        cats[c] = cats.get(c, 0) + v
    print('| category | instructions/request |')
    print('|---|---|')
    for c, v in sorted(cats.items(), key=lambda x: -x[1]):
        print(f'| {c} | {v:,.0f} |')
    print('\n| instructions/request | calls/request | where | function |')
    print('|---|---|---|---|')
    for (sym, dso), v in sorted(per[name].items(),
                                key=lambda x: -x[1])[:args.top]:
        c = calls[name].get((sym, dso), 0)
        print(f'| {v:,.0f} | {c:.2f} | {dso} | {sym} |')
    print()

for other in names[1:]:
    base = names[0]
    a, b = per[base], per[other]
    print(f'## {other} against {base}: the largest differences\n')
    print('Instructions per request, then calls per request.\n')
    print(f'| {base} | {other} | difference | calls: {base} | {other} | '
          f'function |')
    print('|---|---|---|---|---|---|')
    keys = set(a) | set(b)
    ca, cb = calls[base], calls[other]
    for k in sorted(keys, key=lambda k: -abs(b.get(k, 0) - a.get(k, 0)))[
            :args.top]:
        print(f'| {a.get(k, 0):,.0f} | {b.get(k, 0):,.0f} | '
              f'{b.get(k, 0) - a.get(k, 0):+,.0f} | {ca.get(k, 0):.2f} | '
              f'{cb.get(k, 0):.2f} | {k[0]} |')
    print()
