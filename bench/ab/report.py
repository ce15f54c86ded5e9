#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/bench-ab.sh's summary: per module and system, the median of the
repetitions, each module's ratio to the first module's, the median of
the per-repetition ratios to the first system that is not cport's (its
run in the same repetition under the same module: the host's drift
within a boot moves both), and TCP's segments and timer ACKs per
request."""
import re
import statistics
import sys

rows = {}
order = []
for line in open(sys.argv[1], errors='replace'):
    line = line.strip()
    m = re.match(r'^csv,(srv|cli|tcp),([^,]+):r(\d+),(.*)$', line)
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
        {('' if kind == 'srv' else kind + '_') + k: v for k, v in d.items()})


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
    # Over the whole loadgen run, warm-up included: per client request.
    out['segs'] = med(lambda v: num(v, 'tcp_out_segs') /
                      num(v, 'cli_requests'))
    out['dack'] = med(lambda v: num(v, 'tcp_delayed_acks') /
                      num(v, 'cli_requests'))
    return out


def per_rep(mod, sysname, base):
    """Median of requests/s over @base's, repetition by repetition."""
    if not base or sysname == base or (mod, base) not in rows:
        return float('nan')
    mine, theirs = rows[(mod, sysname)], rows[(mod, base)]
    xs = [num(v, 'cli_rps') / num(theirs[r], 'cli_rps')
          for r, v in mine.items() if r in theirs]
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float('nan')


first = {}
base = next((n for _, n in order if not n.startswith('cport')), None)
print('| module | system | requests/s (median) | runs | ratio to first | '
      f'per rep x {base} | '
      'p99 ms | p99.9 ms | csw/req | handoffs/req | fallback runs/req | '
      'busy CPU us/req | TCP segs/req | timer ACKs/req |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for mod, sysname in order:
    s = summary(rows[(mod, sysname)])
    if sysname not in first:
        first[sysname] = s['rps']
    ratio = s['rps'] / first[sysname] if first[sysname] else float('nan')
    runs = '/'.join(f'{x:,.0f}' for x in s['rps_all'])
    pr = per_rep(mod, sysname, base)
    prs = f'x{pr:.2f}' if pr == pr else '-'
    print(f"| {mod} | {sysname} | {s['rps']:,.0f} | {runs} | x{ratio:.2f} | "
          f"{prs} | {s['p99']:.1f} | {s['p999']:.1f} | {s['csw']:.3f} | "
          f"{s['wake']:.3f} | {s['fb']:.3f} | {s['busy_us']:.1f} | "
          f"{s['segs']:.2f} | {s['dack']:.2f} |")

# The per-repetition ratios themselves, in repetition order: the spread
# that the medians above hide.
if base:
    print()
    for mod, sysname in order:
        if sysname == base or (mod, base) not in rows:
            continue
        mine, theirs = rows[(mod, sysname)], rows[(mod, base)]
        xs = [num(mine[r], 'cli_rps') / num(theirs[r], 'cli_rps')
              for r in sorted(mine, key=int) if r in theirs]
        print(f'per rep, {mod} {sysname} x {base}: ' +
              ' '.join(f'{x:.2f}' for x in xs))
