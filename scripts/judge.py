#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one guest run of scripts/check.sh.

    scripts/judge.py NAME STATUS TEST_TIMEOUT BINARY...

NAME is the kernel's name in the matrix: the run's output is read from
build/logs/NAME.log (what scripts/run-guest.sh wrote from the guest) and
build/logs/NAME.log.console (the kernel console).  STATUS is run-guest.sh's
exit status (0 done, 1 died, 2 hung and killed), TEST_TIMEOUT the bound on
each binary in seconds, and BINARY... the test binaries that should have run
(paths or names).

Prints one line per verdict, "  ok      WHAT", "  skip    WHAT" or
"  not ok  WHAT", with excerpts of the kernel log under its findings, and
last "COUNTS PASS FAIL SKIP" for check.sh to add up.  A run fails on a
"not ok" result, a binary that did not run, did not finish, timed out,
gave fewer results than its plan or exited non-zero without a failed
result, a failed insmod or rmmod, a guest that hung or died, and on any
kernel log finding (BUG, WARNING, KASAN, lockdep, kmemleak, ...) even if
every test passed.

A KCSAN data-race report fails the run when it is cport's: a racing
access was made in cport.ko ("[cport]", the stack's first frame) or in a
function cport.ko called directly (its second), or both racing accesses
have a cport frame somewhere in their stacks (two cport paths meeting in
a kernel helper).  The kernel's own races are listed under an "info"
line and counted, but do not fail it (the KCSAN kernel runs in strict
mode, which sees the whole kernel): a race between the timer interrupt
and a timekeeping read made deep in TCP under a cport send is the
kernel's, not cport's.  A stack taken in an interrupt, softirq or
exception goes on below its entry frame (asm_*, handle_softirqs) with
whatever code was interrupted: those frames are not the access's and do
not count.
"""

import re
import sys

RESULT = re.compile(r'^(not ok|ok) (\d+) (.*)$')
PLAN = re.compile(r'^1\.\.(\d+)')

# Kernel log findings: a line counts for the first kind whose pattern it
# matches, so the more precise patterns come first.
KINDS = [
    ('KCSAN', r'BUG: KCSAN:'),
    ('KASAN', r'KASAN'),
    ('lockdep: circular locking', r'possible circular locking'),
    ('lockdep: inconsistent lock state', r'inconsistent lock state'),
    ('lockdep: recursive locking', r'possible recursive locking'),
    ('lockdep: suspicious RCU usage', r'suspicious RCU usage'),
    ('sleep in atomic context', r'sleeping function called from invalid context'),
    ('kmemleak', r'unreferenced object'),
    ('hung task', r'INFO: task .* blocked'),
    ('watchdog', r'watchdog: BUG'),
    ('panic', r'Kernel panic'),
    ('general protection fault', r'general protection'),
    ('Oops', r'Oops'),
    ('BUG', r'BUG:'),
    ('WARNING', r'WARNING:'),
    ('Call Trace', r'Call Trace'),
]

# A KCSAN report is a block of lines from its "BUG: KCSAN:" line to the
# "=====" line after "Reported by": for each access a line "read to 0x...
# of 8 bytes by task 84 on cpu 1:" (or "by interrupt") and its stack, one
# frame a line as printk'd with %pS ("func+0x1d/0x30 [module]"), possibly
# behind a "+-> reordered to: " (weak memory).  Held-lock and irq-event
# lines (the verbose report) name functions too, but are not frames.
TIMESTAMP = re.compile(r'^\[\s*\d+\.\d+\] ?')
KCSAN_TITLE = re.compile(r'BUG: KCSAN: (.*)$')
KCSAN_ACCESS = re.compile(r' to 0x[0-9a-f]+ of \d+ bytes by .* on cpu \d+:$')
KCSAN_ADDR = re.compile(r' to 0x([0-9a-f]+) of \d+ bytes by ')
FRAME = re.compile(r'^\s+(?:\|\s*|\+-> reordered to: )?([\w.]+)\+0x[0-9a-f]+/0x[0-9a-f]+'
                   r'(?: \[(\w+)\])?\s*$')
# Where an interrupt, softirq or exception entered: the frames below are
# the interrupted code's (often KCSAN's own delay in some other function).
ENTRY = re.compile(r'^(asm_|handle_softirqs$|__do_softirq$)')

DIAG_LINES = 20         # a failed test's own lines shown under it
EXCERPTS = 3            # reports shown per kind
EXCERPT_LINES = 8       # lines shown per report


class Verdicts:
    """The verdict lines, written as they come, and their counts."""

    def __init__(self, stream):
        self.stream = stream
        self.npass = self.nfail = self.nskip = 0

    def say(self, line):
        print(line, file=self.stream)

    def out(self, verdict, what):
        self.say(f'  {verdict:7} {what}')

    def ok(self, what):
        self.npass += 1
        self.out('ok', what)

    def skip(self, what):
        self.nskip += 1
        self.out('skip', what)

    def failed(self, what):
        self.nfail += 1
        self.out('not ok', what)


def test_blocks(lines):
    """Each binary's output lines, between "=== test B" and "=== exit B RC
    SECS": {B: (lines, RC, SECS)}, RC and SECS None if it never exited."""
    ran, cur, block = {}, None, []
    for line in lines:
        if line.startswith('=== test '):
            cur, block = line.split()[2], []
        elif line.startswith('=== exit ') and cur:
            f = line.split()
            ran[cur] = (block, int(f[3]), int(f[4]))
            cur = None
        elif cur:
            block.append(line)
    if cur:
        ran[cur] = (block, None, None)
    return ran


def judge_binary(v, b, block, rc, secs, status, test_timeout):
    """The TAP results of binary @b, then how it ended.  Under a failed
    result, the last DIAG_LINES lines the test printed before it (its
    assertions, TH_LOG()s and, for fuzz_test, its seed): a CI log that
    shows only the verdicts still says why."""
    plan = None
    results = 0
    said = []
    for line in block:
        m = PLAN.match(line)
        if m:
            plan = int(m.group(1))
        m = RESULT.match(line)
        if not m:
            if line.strip() and not line.startswith('=== '):
                said.append(line)
            continue
        results += 1
        title, _, directive = m.group(3).partition(' # ')
        title = re.sub(r'^- ', '', title)
        if m.group(1) == 'not ok' and not directive.upper().startswith('TODO'):
            v.failed(f'{b}: {title}')
            # Its FAIL lines, however early, then its last lines.
            early = said[:-DIAG_LINES]
            shown = [d for d in early if 'FAIL' in d][:DIAG_LINES // 2]
            if shown:
                shown.append('...')
            for d in shown + said[-DIAG_LINES:]:
                v.say(f'          | {d[:200]}')
        elif directive.upper().startswith('SKIP'):
            reason = directive[4:].strip()
            v.skip(f'{b}: {title}' + (f' ({reason})' if reason else ''))
        else:
            v.ok(f'{b}: {title}')
        said = []
    if rc is None:
        v.failed(f'{b} # did not finish (guest {"hung" if status == 2 else "died"})')
    elif rc in (124, 137, 143) or secs >= test_timeout:
        v.failed(f'{b} # timed out after {secs}s (exit {rc})')
    elif plan is not None and results < plan:
        v.failed(f'{b} # {results} of {plan} results, exit {rc}')
    elif rc != 0 and not any(line.startswith('not ok') for line in block):
        v.failed(f'{b} # exit {rc} without a failed result')


def section(lines, begin, end):
    """The lines between @begin and @end (or the last line), or None."""
    try:
        i = lines.index(begin)
    except ValueError:
        return None
    j = lines.index(end, i) if end in lines[i:] else len(lines)
    return lines[i + 1:j]


def kernel_log(lines, console, status):
    """The run's dmesg dump and kmemleak reports; the console too when the
    guest never got to the dump or did not finish."""
    klog = section(lines, '=== dmesg begin', '=== dmesg end')
    if klog is None or status != 0:
        klog = (klog or []) + console.split('\n')
    inleak = False
    for line in lines:
        if line.startswith('=== kmemleak scan'):
            inleak = True
        elif line.startswith('=== kmemleak done'):
            inleak = False
        elif inleak:
            klog.append(line)
    return klog


def kcsan_report(klog, i):
    """The lines of the KCSAN report whose title is klog[@i]."""
    block = [klog[i]]
    for line in klog[i + 1:]:
        text = TIMESTAMP.sub('', line)
        if KCSAN_TITLE.search(text):
            break
        block.append(line)
        if text.startswith('=================='):
            break
    return block


def kcsan_stacks(block):
    """The stacks of this KCSAN report's racing accesses: for each, the
    modules of its frames from the access down to an interrupt's entry,
    and of the frames a plain access was "reordered to" (weak memory:
    where it was made)."""
    stacks, entered = [], False
    for line in block:
        text = TIMESTAMP.sub('', line)
        if KCSAN_ACCESS.search(text):
            stacks.append(([], []))
            entered = False
            continue
        m = FRAME.match(text)
        if not m or entered or not stacks:
            continue
        frames, reordered = stacks[-1]
        if 'reordered to:' in text:
            reordered.append(m.group(2))
            continue
        frames.append(m.group(2))
        entered = bool(ENTRY.match(m.group(1)))
    return stacks


DIRECT = 2              # an access is cport's in these many top frames
IMAGE = re.compile(r'^=== kernel image at ([0-9a-f]+) ([0-9a-f]+)$')


def kernel_image(lines):
    """The kernel image's [start, end) as the guest printed it, or None."""
    for line in lines:
        m = IMAGE.match(line)
        if m:
            return int(m.group(1), 16), int(m.group(2), 16)
    return None


def kcsan_in_cport(block, image=None):
    """Is this KCSAN report cport's: an access made in cport.ko or in a
    function it called directly, or every racing access (two of them)
    on a path through cport.ko?  A function cport called that races on
    one of the kernel's globals (in @image, the kernel's [start, end)),
    ktime_get() against the tick's timekeeping update say, races on
    data cport never passed it: that access counts only if made in
    cport.ko itself."""
    stacks = kcsan_stacks(block)
    direct = DIRECT
    addr = next((int(m.group(1), 16) for m in map(KCSAN_ADDR.search, block)
                 if m), None)
    if image and addr is not None and image[0] <= addr < image[1]:
        direct = 1
    if any('cport' in frames[:direct] + reordered
           for frames, reordered in stacks):
        return True
    return len(stacks) > 1 and all('cport' in frames + reordered
                                   for frames, reordered in stacks)


def findings(klog, image=None):
    """{kind: [line index...]} in order of first appearance, and the
    KCSAN reports without a cport frame ({title: count}); a lone Call
    Trace counts, one that goes with another finding does not."""
    found, foreign = {}, {}
    for i, line in enumerate(klog):
        m = KCSAN_TITLE.search(line)
        if m and not kcsan_in_cport(kcsan_report(klog, i), image):
            foreign[m.group(1)] = foreign.get(m.group(1), 0) + 1
            continue
        for kind, pat in KINDS:
            if re.search(pat, line):
                found.setdefault(kind, []).append(i)
                break
    if len(found) > 1:
        found.pop('Call Trace', None)
    return found, foreign


def judge(name, status, test_timeout, expected, log, console, stream):
    """Write the verdicts of one run to @stream; returns the Verdicts."""
    v = Verdicts(stream)
    lines = log.split('\n')
    ran = test_blocks(lines)

    if '=== insmod ok' not in lines:
        bad = [line for line in lines if line.startswith('=== insmod')]
        v.failed(bad[0][4:] if bad else 'insmod: never got there')
    for b in expected:
        if b not in ran:
            v.failed(f'{b} # not run')
            continue
        block, rc, secs = ran[b]
        judge_binary(v, b, block, rc, secs, status, test_timeout)

    if '=== rmmod failed' in lines:
        v.failed('rmmod')
    if status == 2:
        v.failed('guest hung (killed)')
    elif status != 0:
        v.failed('guest died before finishing')

    klog = kernel_log(lines, console, status)
    found, foreign = findings(klog, kernel_image(lines))
    for kind, idx in found.items():
        v.failed(f'kernel-log: {kind} ({len(idx)} line{"s" if len(idx) > 1 else ""})')
        for i in idx[:EXCERPTS]:
            for line in klog[i:i + EXCERPT_LINES]:
                v.say(f'          | {line}')
        if len(idx) > EXCERPTS:
            v.say(f'          | ... see build/logs/{name}.log')
    if foreign:
        n = sum(foreign.values())
        v.out('info', f'kernel-log: KCSAN, no cport frame: {n} report'
              f'{"s" if n > 1 else ""}, {len(foreign)} distinct (not failures)')
        for title, count in foreign.items():
            v.say(f'          | {title}' + (f' (x{count})' if count > 1 else ''))
    return v


def read_log(path):
    return open(path, errors='replace').read().replace('\r', '')


def main(argv):
    name, status, test_timeout = argv[1], int(argv[2]), int(argv[3])
    expected = [b.rsplit('/', 1)[-1] for b in argv[4:]]
    log = read_log(f'build/logs/{name}.log')
    console = read_log(f'build/logs/{name}.log.console')
    v = judge(name, status, test_timeout, expected, log, console, sys.stdout)
    print(f'COUNTS {v.npass} {v.nfail} {v.nskip}')


if __name__ == '__main__':
    main(sys.argv)
