#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/bench-ab.sh's summary: per module and system, the median of the
repetitions, and each module's ratio to the first module's."""
import re
import statistics
import sys

rows = {}
order = []
for line in open(sys.argv[1], errors='replace'):
    line = line.strip()
    m = re.match(r'^csv,(srv|cli),([^,]+):r(\d+),(.*)$', line)
    if not m:
        continue
    kind, tag, rep, rest = m.groups()
    mod, sysname = tag.split(':', 1)
    d = dict(f.split('=', 1) for f in rest.split(',') if '=' in f)
    key = (mod, sysname)
    if key not in rows:
        rows[key] = {}
        order.append(key)
    rows[key].setdefault(rep, {}).update(
        {('cli_' if kind == 'cli' else '') + k: v for k, v in d.items()})


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return float('nan')


def summary(reps):
    out = {}
    vals = list(reps.values())
    def med(f):
        xs = [f(v) for v in vals]
        xs = [x for x in xs if x == x]
        return statistics.median(xs) if xs else float('nan')
    out['rps'] = med(lambda v: num(v, 'cli_rps'))
    out['rps_all'] = sorted(num(v, 'cli_rps') for v in vals)
    out['p99'] = med(lambda v: num(v, 'cli_p99_us') / 1000)
    out['p999'] = med(lambda v: num(v, 'cli_p999_us') / 1000)
    out['csw'] = med(lambda v: (num(v, 'vcsw') + num(v, 'ivcsw')) /
                     num(v, 'requests'))
    out['wake'] = med(lambda v: num(v, 'handoffs') / num(v, 'requests'))
    out['busy_us'] = med(lambda v: num(v, 'sys_busy_s') * 1e6 /
                         num(v, 'requests'))
    out['fb'] = med(lambda v: num(v, 'runs_fallback') / num(v, 'requests'))
    return out


first = {}
print('| module | system | requests/s (median) | runs | ratio to first | '
      'p99 ms | p99.9 ms | csw/req | handoffs/req | fallback runs/req | '
      'busy CPU us/req |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for mod, sysname in order:
    s = summary(rows[(mod, sysname)])
    if sysname not in first:
        first[sysname] = s['rps']
    ratio = s['rps'] / first[sysname] if first[sysname] else float('nan')
    runs = '/'.join(f'{x:,.0f}' for x in s['rps_all'])
    print(f"| {mod} | {sysname} | {s['rps']:,.0f} | {runs} | x{ratio:.2f} | "
          f"{s['p99']:.1f} | {s['p999']:.1f} | {s['csw']:.3f} | "
          f"{s['wake']:.3f} | {s['fb']:.3f} | {s['busy_us']:.1f} |")
