#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of scripts/trace-report on a hand-made trace,
scripts/testdata/trace/sample.trace (tracefs text format, two ports, a
line of another event among them):

    python3 scripts/trace_report_test.py [-v]

port 1: poster (200) posts 0x10, handed to worker-a (201), which dequeues
it 50 us after the post (40 us after the handoff); it posts 0x11 and 0x12,
which worker-a dequeues together 100 and 80 us after; it runs a socket
inline (who=submitter) and hands one to worker-b (202), which runs it
(who=waiter) and dequeues its completion 70 us after the handoff, then
blocks once and exits.  port 2: other (300) dequeues 0x99 10 us after
its post.  sample.csv is what --csv prints for it, checked by hand.
"""

import csv
import io
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, 'trace-report')
DATA = os.path.join(HERE, 'testdata', 'trace')
SAMPLE = os.path.join(DATA, 'sample.trace')


def report(*args, stdin=None):
    """(exit status, standard output) of trace-report ARGS."""
    p = subprocess.run([sys.executable, REPORT] + list(args), input=stdin,
                       capture_output=True, text=True, check=False)
    return p.returncode, p.stdout


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


class Csv(unittest.TestCase):

    def test_sample_exact(self):
        status, out = report('--csv', SAMPLE)
        self.assertEqual(status, 0)
        with open(os.path.join(DATA, 'sample.csv')) as f:
            self.assertEqual(out, f.read())

    def test_header(self):
        out = report('--csv', SAMPLE)[1]
        self.assertEqual(out.split('\n')[0],
                         'kind,pid,comm,completions,share,dequeues,slept,'
                         'handoffs,runs_submitter,runs_waiter,runs_fallback,'
                         'blocked,latency,count,percentile,us')

    def test_threads(self):
        threads = [r for r in rows(report('--csv', SAMPLE)[1])
                   if r['kind'] == 'thread']
        got = {int(r['pid']): r for r in threads}
        # Busiest first.
        self.assertEqual([int(r['pid']) for r in threads],
                         [201, 202, 300, 200])
        self.assertEqual(got[201]['comm'], 'worker-a')
        self.assertEqual((got[201]['completions'], got[201]['share'],
                          got[201]['dequeues'], got[201]['slept'],
                          got[201]['handoffs']), ('3', '60.0', '2', '1', '1'))
        self.assertEqual((got[202]['runs_waiter'], got[202]['blocked'],
                          got[202]['handoffs']), ('1', '1', '1'))
        self.assertEqual((got[200]['runs_submitter'], got[200]['completions']),
                         ('1', '0'))
        for r in threads:
            self.assertEqual((r['latency'], r['count'], r['percentile'],
                              r['us']), ('', '', '', ''))

    def test_latency(self):
        lat = {(r['latency'], r['percentile']): (r['count'], r['us'])
               for r in rows(report('--csv', SAMPLE)[1])
               if r['kind'] == 'latency'}
        self.assertEqual(len(lat), 4 * 5)
        self.assertEqual(lat[('handed', '50')], ('1', '50.0'))
        self.assertEqual(lat[('queued', '50')], ('3', '80.0'))
        self.assertEqual(lat[('queued', 'max')], ('3', '100.0'))
        self.assertEqual(lat[('all', '50')], ('4', '50.0'))
        self.assertEqual(lat[('wake', '50')], ('2', '40.0'))
        self.assertEqual(lat[('wake', '99.9')], ('2', '70.0'))

    def test_port_filter_and_empty_latency(self):
        r = rows(report('--csv', '--port', '2', SAMPLE)[1])
        self.assertEqual([(x['pid'], x['share']) for x in r
                          if x['kind'] == 'thread'], [('300', '100.0')])
        lat = {(x['latency'], x['percentile']): (x['count'], x['us'])
               for x in r if x['kind'] == 'latency'}
        self.assertEqual(lat[('queued', '50')], ('1', '10.0'))
        self.assertEqual(lat[('handed', 'max')], ('0', ''))
        self.assertEqual(lat[('wake', '50')], ('0', ''))

    def test_stdin(self):
        with open(SAMPLE) as f:
            status, out = report('--csv', stdin=f.read())
        self.assertEqual(status, 0)
        self.assertEqual(out, report('--csv', SAMPLE)[1])

    def test_no_events(self):
        # Nothing on standard output: a CSV consumer gets no partial table.
        status, out = report('--csv', '--port', '9', SAMPLE)
        self.assertEqual((status, out), (1, ''))


class Text(unittest.TestCase):
    """The text report says the same as the CSV."""

    def test_sample(self):
        status, out = report(SAMPLE)
        self.assertEqual(status, 0)
        lines = out.split('\n')
        self.assertIn('  201      worker-a                   3   60.0%'
                      '         2        1         1        0         0'
                      '        0', lines)
        self.assertIn('  post -> dequeue, queued         3     80.0    100.0'
                      '    100.0    100.0    100.0', lines)
        self.assertIn('  handoff -> dequeue (wake)       2     40.0     70.0'
                      '     70.0     70.0     70.0', lines)
        self.assertIn('  blocked elsewhere (slot released): 1', lines)

    def test_help_documents_csv(self):
        out = report('--help')[1]
        self.assertIn('--csv', out)
        self.assertIn('kind=thread', out)
        self.assertIn('kind=latency', out)


if __name__ == '__main__':
    unittest.main()
