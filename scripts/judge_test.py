#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of scripts/judge.py on the hand-made guest logs in
scripts/testdata/judge/: CASE.log is what run-guest.sh writes from the
guest, CASE.log.console the kernel console (empty when absent).

    python3 scripts/judge_test.py [-v]

Each test gives the exact verdict lines and the pass, fail and skip
counts; a finding's kernel-log excerpt is checked by its first line and
length, and in full where the excerpt logic itself is the point.
"""

import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, 'testdata', 'judge')
sys.path.insert(0, HERE)

import judge  # noqa: E402

IO_OK = [
    '  ok      sock_io_test: sock.tcp4.associate_dissociate',
    '  ok      sock_io_test: sock.tcp4.recv_pending',
]


def run(case, status, binaries, test_timeout=300):
    """The output lines of judging @case, and (pass, fail, skip)."""
    log = judge.read_log(os.path.join(DATA, case + '.log'))
    console = os.path.join(DATA, case + '.log.console')
    console = judge.read_log(console) if os.path.exists(console) else ''
    out = io.StringIO()
    v = judge.judge(case, status, test_timeout, binaries, log, console, out)
    return out.getvalue().split('\n')[:-1], (v.npass, v.nfail, v.nskip)


def verdicts(lines):
    return [line for line in lines if not line.startswith('          | ')]


def excerpts(lines):
    return [line[12:] for line in lines if line.startswith('          | ')]


class Runs(unittest.TestCase):
    """How the binaries, the module and the guest did."""

    def check(self, case, status, binaries, want, counts):
        lines, got = run(case, status, binaries)
        self.assertEqual(lines, want)
        self.assertEqual(got, counts)

    def test_pass(self):
        self.check('pass', 0, ['sock_io_test', 'sock_ktls_test'], IO_OK + [
            '  ok      sock_ktls_test: ktls.tls12.small_both_ways',
            '  skip    sock_ktls_test: ktls.tls13.small_both_ways'
            ' (no kernel TLS: TCP_ULP "tls" not available)',
        ], (3, 0, 1))

    def test_missing_binary(self):
        self.check('pass', 0,
                   ['sock_io_test', 'sock_ktls_test', 'sock_accept_test'],
                   IO_OK + [
            '  ok      sock_ktls_test: ktls.tls12.small_both_ways',
            '  skip    sock_ktls_test: ktls.tls13.small_both_ways'
            ' (no kernel TLS: TCP_ULP "tls" not available)',
            '  not ok  sock_accept_test # not run',
        ], (3, 1, 1))

    def test_tap_directives(self):
        # "- " before the title, TODO and XFAIL pass, any case of SKIP.
        self.check('tap', 0, ['fdinfo_test'], [
            '  ok      fdinfo_test: global.first',
            '  ok      fdinfo_test: global.second',
            '  ok      fdinfo_test: global.third',
            '  skip    fdinfo_test: global.fourth (no fdinfo here)',
        ], (3, 0, 1))

    def test_failed_result(self):
        self.check('test_failed', 0, ['sock_io_test'], [
            '  ok      sock_io_test: sock.tcp4.associate_dissociate',
            '  not ok  sock_io_test: sock.tcp4.recv_pending',
            # What the test printed before its result, to say why.
            '          | #  RUN           sock.tcp4.recv_pending ...',
            '          | # sock_io_test.c:102:recv_pending:Expected 1 (1) == cqe.res (0)',
            '          | # recv_pending: Test terminated by assertion',
            '          | #          FAIL  sock.tcp4.recv_pending',
        ], (1, 1, 0))

    def test_bad_exit(self):
        self.check('bad_exit', 0, ['abi_test', 'poll_test'], [
            '  ok      abi_test: global.sqe_layout',
            '  not ok  abi_test # 1 of 3 results, exit 139',
            '  ok      poll_test: global.poll_empty',
            '  not ok  poll_test # exit 1 without a failed result',
        ], (2, 2, 0))

    def test_timed_out(self):
        self.check('timeout', 0, ['sock_stress_test', 'sock_order_test'], [
            '  not ok  sock_stress_test # timed out after 300s (exit 124)',
            '  ok      sock_order_test: order.tcp4.many_recvs',
            '  not ok  sock_order_test # timed out after 300s (exit 0)',
        ], (1, 2, 0))

    def test_insmod_failed(self):
        self.check('insmod_failed', 0, ['sock_io_test'], [
            '  not ok  insmod tls.ko failed',
            '  not ok  sock_io_test # not run',
        ], (0, 2, 0))

    def test_rmmod_failed(self):
        self.check('rmmod_failed', 0, ['sock_io_test'], IO_OK + [
            '  not ok  rmmod',
        ], (2, 1, 0))

    def test_guest_hung(self):
        self.check('guest_hung', 2,
                   ['sock_io_test', 'sock_cancel_test', 'sock_errno_test'],
                   IO_OK + [
            '  not ok  sock_cancel_test # did not finish (guest hung)',
            '  not ok  sock_errno_test # not run',
            '  not ok  guest hung (killed)',
        ], (2, 3, 0))

    def test_guest_hung_after_the_dump(self):
        # The dmesg dump came, then poweroff hung: the console counts too.
        self.check('hung_at_poweroff', 2, ['sock_io_test'], IO_OK + [
            '  not ok  guest hung (killed)',
            '  not ok  kernel-log: hung task (1 line)',
            '          | [  245.310021] INFO: task poweroff:201 blocked for '
            'more than 120 seconds.',
            '          | [  245.310312]       Tainted: G           OE      '
            '6.1.0-57-amd64 #1 Debian 6.1.158-1',
            '          | ',
        ], (2, 2, 0))

    def test_guest_died_at_boot(self):
        # Nothing in the log: the console has the panic, twice.
        panic = ('[    1.402117] Kernel panic - not syncing: VFS: Unable to '
                 'mount root fs on unknown-block(0,0)')
        end = ('[    1.403012] ---[ end Kernel panic - not syncing: VFS: '
               'Unable to mount root fs on unknown-block(0,0) ]---')
        self.check('died_at_boot', 1, ['sock_io_test'], [
            '  not ok  insmod: never got there',
            '  not ok  sock_io_test # not run',
            '  not ok  guest died before finishing',
            '  not ok  kernel-log: panic (2 lines)',
            '          | ' + panic,
            '          | [    1.402655] CPU: 0 PID: 1 Comm: swapper/0 Not '
            'tainted 6.1.0-57-amd64 #1  Debian 6.1.158-1',
            '          | ' + end,
            '          | ',
            '          | ' + end,
            '          | ',
        ], (0, 4, 0))

    def test_guest_died_in_a_test(self):
        lines, counts = run('panic', 1, ['sock_io_test'])
        self.assertEqual(verdicts(lines), [
            '  not ok  sock_io_test # did not finish (guest died)',
            '  not ok  guest died before finishing',
            '  not ok  kernel-log: panic (1 line)',
        ])
        self.assertEqual(excerpts(lines)[0],
                         '[   30.100412] Kernel panic - not syncing: '
                         'corrupted stack end detected inside scheduler')
        self.assertEqual(counts, (0, 3, 0))


class Findings(unittest.TestCase):
    """Kernel log findings in a run whose tests all passed."""

    def finding(self, case, verdict, first, shown, count=1):
        lines, counts = run(case, 0, ['sock_io_test'])
        self.assertEqual(verdicts(lines), IO_OK + [
            f'  not ok  kernel-log: {verdict} '
            f'({count} line{"s" if count > 1 else ""})',
        ])
        self.assertEqual(excerpts(lines)[0], first)
        self.assertEqual(len(excerpts(lines)), shown)
        self.assertEqual(counts, (2, 1, 0))

    def test_kasan(self):
        # The report's Call Trace goes with it and is not a finding of its own.
        lines, counts = run('kasan', 0, ['sock_io_test'])
        self.assertEqual(lines, IO_OK + [
            '  not ok  kernel-log: KASAN (1 line)',
            '          | [   41.102871] BUG: KASAN: slab-use-after-free in '
            'cport_complete+0x2e4/0x3a0 [cport]',
            '          | [   41.103512] Read of size 8 at addr '
            'ffff888006b3c418 by task sock_io_test/187',
            '          | [   41.104888] CPU: 1 UID: 0 PID: 187 Comm: '
            'sock_io_test Tainted: G           OE      7.2.0 #1',
            '          | [   41.104990] Call Trace:',
            '          | [   41.105011]  <TASK>',
            '          | [   41.105120]  dump_stack_lvl+0x5d/0x80',
            '          | [   41.105301]  print_report+0xce/0x630',
            '          | [   41.105480]  kasan_report+0xc4/0x100',
        ])
        self.assertEqual(counts, (2, 1, 0))

    def test_kcsan(self):
        # A race between two threads in cport_port_wait() (planted for the
        # purpose: a stats counter moved out of port->lock) fails the run;
        # the kernel's own race next to it is listed, not failed.
        lines, counts = run('kcsan', 0, ['sock_io_test'])
        self.assertEqual(verdicts(lines), IO_OK + [
            '  not ok  kernel-log: KCSAN (1 line)',
            '  info    kernel-log: KCSAN, no cport frame: 1 report, '
            '1 distinct (not failures)',
        ])
        self.assertEqual(excerpts(lines), [
            '[  103.251841] BUG: KCSAN: data-race in cport_port_wait [cport] '
            '/ cport_port_wait [cport]',
            '[  103.252750] ',
            '[  103.253089] read to 0xff1100000097a0f8 of 8 bytes by task 78 '
            'on cpu 0:',
            '[  103.253582]  cport_port_wait+0x8c4/0x17d0 [cport]',
            '[  103.254170]  cport_ioctl_enter+0x351/0x450 [cport]',
            '[  103.256837]  cport_ioctl+0x355/0x480 [cport]',
            '[  103.257398]  __x64_sys_ioctl+0x570/0xc40',
            '[  103.257721]  x64_sys_call+0xb94/0x2780',
            'data-race in do_nanosleep / hrtimer_wakeup',
        ])
        self.assertEqual(counts, (2, 1, 0))

    def test_kcsan_foreign(self):
        # Races of the kernel's own pass, counted by title.  In the second
        # one the timer interrupt landed in cport code (KCSAN delaying an
        # access there): frames below the interrupt's entry are not the
        # racing access's and do not make it cport's.
        lines, counts = run('kcsan_foreign', 0, ['sock_io_test'])
        self.assertEqual(lines, IO_OK + [
            '  info    kernel-log: KCSAN, no cport frame: 3 reports, '
            '2 distinct (not failures)',
            '          | data-race in do_nanosleep / hrtimer_wakeup (x2)',
            '          | data-race in hrtimer_wakeup / '
            'schedule_hrtimeout_range_clock',
        ])
        self.assertEqual(counts, (2, 0, 0))

    def test_kcsan_frames(self):
        # Which stacks count: a cport frame above an interrupt's entry, or
        # in a task's stack however deep, or where a plain access was
        # reordered to (weak memory).
        def report(*stack):
            return [
                '[ 1.0] BUG: KCSAN: data-race in a / b', '[ 1.0] ',
                '[ 1.0] write to 0xff11 of 8 bytes by interrupt on cpu 1:',
            ] + ['[ 1.0]  ' + f for f in stack] + [
                '[ 1.0] ',
                '[ 1.0] read to 0xff11 of 8 bytes by task 68 on cpu 1:',
                '[ 1.0]  b+0x1/0x2', '[ 1.0] ',
                '[ 1.0] ==================================================',
            ]
        cases = [
            (['a+0x1/0x2', 'cport_sock_wake+0x1/0x2 [cport]',
              'handle_softirqs+0x1/0x2', 'irq_exit_rcu+0x1/0x2'], True),
            (['a+0x1/0x2', 'handle_softirqs+0x1/0x2',
              '__local_bh_enable_ip+0x1/0x2',
              'cport_sock_run+0x1/0x2 [cport]'], False),
            (['a+0x1/0x2', 'asm_exc_page_fault+0x1/0x2',
              'cport_copy_cqes+0x1/0x2 [cport]'], False),
            (['a+0x1/0x2', ' |', ' +-> reordered to: '
              'cport_post+0x1/0x2 [cport]'], True),
        ]
        for stack, want in cases:
            with self.subTest(stack=stack):
                self.assertEqual(judge.kcsan_in_cport(report(*stack)), want)
        task = report('a+0x1/0x2')
        task[6] = '[ 1.0]  cport_port_wait+0x1/0x2 [cport]'
        self.assertTrue(judge.kcsan_in_cport(task))

    def test_kcsan_deep(self):
        # An access made deep in the kernel under a cport call races with
        # code that never passed through cport: the kernel's (CI, 7.2-kcsan:
        # a TCP timestamp read of tk->ktime_sec under a cport send, against
        # the tick's timekeeping update).  Two cport paths meeting in a
        # kernel helper, or cport calling the racing function directly,
        # are cport's.
        def report(one, two):
            lines = ['[ 1.0] BUG: KCSAN: data-race in x / y', '[ 1.0] ']
            for who, stack in (('interrupt', one), ('task 70', two)):
                lines.append(f'[ 1.0] read to 0xff11 of 8 bytes by {who} '
                             'on cpu 1:')
                lines += ['[ 1.0]  ' + f for f in stack] + ['[ 1.0] ']
            return lines + ['[ 1.0] ' + '=' * 50]
        tick = ['timekeeping_update_from_shadow.constprop.0+0x23c/0x490',
                '__timekeeping_advance.constprop.0+0x71b/0xb50',
                'tick_nohz_handler+0x28f/0x2b0']
        send = ['ktime_get_seconds+0x1/0x2', 'tcp_rcv_established+0x1/0x2',
                'tcp_v4_do_rcv+0x1/0x2', '__release_sock+0x1/0x2',
                'release_sock+0x1/0x2', 'tcp_sendmsg+0x1/0x2',
                'cport_sock_run+0x1/0x2 [cport]',
                'cport_ioctl+0x1/0x2 [cport]']
        other = ['skb_queue_tail+0x1/0x2', 'tcp_sendmsg+0x1/0x2',
                 'cport_sock_run+0x1/0x2 [cport]']
        direct = ['skb_queue_tail+0x1/0x2', 'cport_post+0x1/0x2 [cport]']
        cases = [
            (tick, send, False),
            (send, tick, False),
            (send, other, True),
            (tick, direct, True),
            (tick, ['tcp_sendmsg+0x1/0x2'] + direct, False),
        ]
        for one, two, want in cases:
            with self.subTest(one=one[0], two=two[:2]):
                self.assertEqual(judge.kcsan_in_cport(report(one, two)),
                                 want)

    def test_kcsan_kernel_global(self):
        # cport calls ktime_get() itself, and it races with the tick's
        # update of the timekeeper, a kernel global (CI, 7.2-kcsan): not
        # cport's when the address lies in the kernel image; the same
        # direct call on an address outside it (cport's own memory
        # passed in) is, and so is cport.ko's own access to a global.
        def report(addr, two):
            lines = ['[ 1.0] BUG: KCSAN: data-race in ktime_get / x',
                     '[ 1.0] ']
            tick = ['timekeeping_update_from_shadow.constprop.0+0x23c/0x490',
                    'tick_nohz_handler+0x28f/0x2b0']
            for who, stack in (('interrupt', tick), ('task 70', two)):
                lines.append(f'[ 1.0] write to 0x{addr:x} of 304 bytes by '
                             f'{who} on cpu 0:')
                lines += ['[ 1.0]  ' + f for f in stack] + ['[ 1.0] ']
            return lines + ['[ 1.0] ' + '=' * 50]
        image = (0xffffffff81000000, 0xffffffff84000000)
        wait = ['ktime_get+0x1/0x2', 'cport_port_wait+0x1/0x2 [cport]']
        own = ['cport_port_wait+0x1/0x2 [cport]']
        glob, heap = 0xffffffff8327cb78, 0xffff888004a1c2d0
        cases = [
            (glob, wait, image, False),
            (glob, wait, None, True),
            (heap, wait, image, True),
            (glob, own, image, True),
            (image[1], wait, image, True),
        ]
        for addr, two, img, want in cases:
            with self.subTest(addr=hex(addr), two=two[0], image=bool(img)):
                self.assertEqual(
                    judge.kcsan_in_cport(report(addr, two), img), want)
        log = ['=== guest 7.2', '=== kernel image at ffffffff81000000 '
               'ffffffff84000000', '=== done']
        self.assertEqual(judge.kernel_image(log), image)
        self.assertIsNone(judge.kernel_image(log[:1]))

    def test_lockdep_circular(self):
        self.finding('lockdep_circular', 'lockdep: circular locking',
                     '[   12.401345] WARNING: possible circular locking '
                     'dependency detected', 7)

    def test_lockdep_inconsistent(self):
        self.finding('lockdep_inconsistent',
                     'lockdep: inconsistent lock state',
                     '[   13.511402] WARNING: inconsistent lock state', 6)

    def test_lockdep_recursive(self):
        self.finding('lockdep_recursive', 'lockdep: recursive locking',
                     '[   14.620512] WARNING: possible recursive locking '
                     'detected', 5)

    def test_suspicious_rcu_usage(self):
        self.finding('rcu_usage', 'lockdep: suspicious RCU usage',
                     '[   15.730612] WARNING: suspicious RCU usage', 4)

    def test_sleep_in_atomic(self):
        self.finding('sleep_atomic', 'sleep in atomic context',
                     '[   16.840521] BUG: sleeping function called from '
                     'invalid context at kernel/locking/mutex.c:283', 8)

    def test_kmemleak(self):
        # From the kmemleak section of the log, not from dmesg.
        self.finding('kmemleak', 'kmemleak',
                     'unreferenced object 0xffff888005e1c300 (size 192):',
                     10, count=2)

    def test_hung_task(self):
        self.finding('hung_task', 'hung task',
                     '[  245.310021] INFO: task sock_io_test:160 blocked for '
                     'more than 120 seconds.', 8)

    def test_soft_lockup(self):
        self.finding('soft_lockup', 'watchdog',
                     '[   88.120031] watchdog: BUG: soft lockup - CPU#1 stuck '
                     'for 26s! [sock_io_test:171]', 8)

    def test_general_protection_fault(self):
        self.finding('gpf', 'general protection fault',
                     '[   20.330141] general protection fault, probably for '
                     'non-canonical address 0xdead000000000122: 0000 [#1] '
                     'PREEMPT SMP NOPTI', 8)

    def test_oops(self):
        self.finding('oops', 'Oops',
                     '[   43.510301] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI',
                     3)

    def test_bug(self):
        self.finding('bug', 'BUG',
                     '[   22.550341] BUG: scheduling while atomic: '
                     'sock_io_test/180/0x00000002', 4)

    def test_warning(self):
        self.finding('warning', 'WARNING',
                     '[   23.660662] WARNING: CPU: 1 PID: 181 at '
                     'kmod/port.c:412 cport_release+0x1f0/0x230 [cport]', 8)

    def test_rcu_stall_by_its_call_trace(self):
        # No pattern names an RCU stall: its lone backtrace is the finding.
        self.finding('rcu_stall', 'Call Trace',
                     '[  105.221616] Call Trace:', 4)

    def test_many_reports(self):
        # Three reports shown, eight lines each at most, then a pointer.
        lines, counts = run('warnings', 0, ['sock_io_test'])
        self.assertEqual(verdicts(lines), IO_OK + [
            '  not ok  kernel-log: WARNING (4 lines)',
        ])
        shown = excerpts(lines)
        self.assertEqual(len(shown), 8 + 6 + 4 + 1)
        self.assertEqual([line[:22] for line in shown[:18:2]],
                         ['[   30.660662] WARNING', '[   31.660662] WARNING',
                          '[   32.660662] WARNING', '[   33.660662] WARNING',
                          '[   31.660662] WARNING', '[   32.660662] WARNING',
                          '[   33.660662] WARNING', '[   32.660662] WARNING',
                          '[   33.660662] WARNING'])
        self.assertEqual(shown[-1], '... see build/logs/warnings.log')
        self.assertEqual(counts, (2, 1, 0))


class CommandLine(unittest.TestCase):
    """judge.py as check.sh runs it: build/logs/ under the current
    directory, binaries given as paths, the counts on the last line."""

    def test_counts_line(self):
        tmp = tempfile.mkdtemp()
        try:
            logs = os.path.join(tmp, 'build', 'logs')
            os.makedirs(logs)
            for suffix in ('.log', '.log.console'):
                shutil.copy(os.path.join(DATA, 'pass' + suffix),
                            os.path.join(logs, '6.1' + suffix))
            p = subprocess.run(
                [sys.executable, os.path.join(HERE, 'judge.py'), '6.1', '0',
                 '300', 'build/selftests/sock_io_test',
                 'build/selftests/sock_ktls_test'],
                cwd=tmp, capture_output=True, text=True)
        finally:
            shutil.rmtree(tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split('\n'), IO_OK + [
            '  ok      sock_ktls_test: ktls.tls12.small_both_ways',
            '  skip    sock_ktls_test: ktls.tls13.small_both_ways'
            ' (no kernel TLS: TCP_ULP "tls" not available)',
            'COUNTS 3 0 1',
            '',
        ])


if __name__ == '__main__':
    unittest.main()
