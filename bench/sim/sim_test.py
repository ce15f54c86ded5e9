#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""sim_test: the simulator against results known in closed form and
against the kernel's rules (docs/policies.md).  Runs in a few seconds;
scripts/check.sh runs it on the host."""
import math
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model    # noqa: E402


def base(**kw):
    """A port with no costs but the handler's: no wakeup latency, no
    client CPU, no switch cost, plenty of CPUs."""
    cfg = dict(ncpu=64, concurrency=2, workers=4, batch=1, policy="lifo",
               mode="open", rate=1000.0, conns=100000, client_threads=1,
               service="0", duration=20.0, warmup=1.0,
               handler=model.Exponential(1e-3), client_cpu=0.0,
               wake=model.Const(0.0), switch_cpu=0.0, seed=7)
    cfg.update(kw)
    return cfg


def erlang_c_wait(lam, mu, c):
    """Mean wait in queue of M/M/c (Erlang C)."""
    a = lam / mu
    rho = a / c
    s = sum(a ** k / math.factorial(k) for k in range(c))
    top = a ** c / math.factorial(c) / (1 - rho)
    pw = top / (s + top)
    return pw / (c * mu - lam)


class Closed(unittest.TestCase):
    def test_mmc_erlang_c(self):
        # The port with concurrency c, more workers than c, exponential
        # handling, Poisson arrivals and free wakeups is an M/M/c queue:
        # a request's time in the system is wait + service.
        for c, lam, mu in ((1, 600.0, 1000.0), (2, 1500.0, 1000.0), (4, 3400.0, 1000.0)):
            cfg = base(concurrency=c, workers=2 * c, rate=lam,
                       handler=model.Exponential(1 / mu), duration=40.0)
            sim = model.Sim(cfg)
            sim.run()
            mean = sum(sim.lat) / len(sim.lat)
            want = erlang_c_wait(lam, mu, c) + 1 / mu
            self.assertLess(abs(mean - want) / want, 0.05,
                            "c=%d: mean %.6f, Erlang C %.6f" % (c, mean, want))

    def test_erlang_c_formula(self):
        # M/M/1: W_q = rho / (mu - lam)
        self.assertAlmostEqual(erlang_c_wait(600, 1000, 1), 0.6 / 400)


class Rules(unittest.TestCase):
    def test_one_waiter_every_policy_same(self):
        res = {}
        for pol in model.POLICIES:
            r = model.simulate(base(policy=pol, workers=1, concurrency=1,
                                    wake=model.Distribution([(0, 1e-5), (1, 1e-3)]),
                                    duration=5.0))
            res[pol] = (r["requests"], round(r["p50_us"], 6), round(r["p99_us"], 6),
                        r["top_share"])
        self.assertEqual(len(set(res.values())), 1, res)
        self.assertEqual(set(model.POLICIES), {"lifo", "fifo", "rr", "cpu"})

    def test_lifo_light_load_one_thread(self):
        # Arrivals far apart against the handling: the newest waiter is
        # always the one that just finished.
        r = model.simulate(base(policy="lifo", rate=20.0, workers=8, concurrency=4,
                                handler=model.Const(50e-6), duration=20.0))
        self.assertGreater(r["requests"], 300)
        # (two arrivals within one handling, 0.1% of them, need two)
        self.assertLess(r["active_set"], 1.01)
        # (and then the other of the two may stay the newest: which one
        # is hot can change, how many are not)
        self.assertLessEqual(sum(1 for x in r["shares"] if x > 0), 3)
        # FIFO, same load, same arrivals: every worker in turn
        f = model.simulate(base(policy="fifo", rate=20.0, workers=8, concurrency=4,
                                handler=model.Const(50e-6), duration=20.0))
        self.assertLess(f["top_share"], 0.2)

    def test_fifo_spreads_evenly(self):
        r = model.simulate(base(policy="fifo", rate=20.0, workers=8, concurrency=4,
                                handler=model.Const(50e-6), duration=20.0))
        for s in r["shares"]:
            self.assertLess(abs(s - 1 / 8), 0.01, r["shares"])

    def test_rr_turns_in_join_order(self):
        sim = model.Sim(base(policy="rr", rate=20.0, workers=5, concurrency=2,
                             handler=model.Const(50e-6), duration=2.0, warmup=0.0))
        order = []
        orig = sim.dequeue

        def spy(w, taken, slept):
            order.append(w.id)
            orig(w, taken, slept)
        sim.dequeue = spy
        sim.run()
        self.assertGreater(len(order), 20)
        self.assertEqual(order[:15], [i % 5 for i in range(15)])

    def test_cpu_affine_prefers_this_cpu(self):
        sim = model.Sim(base(policy="cpu", workers=4))
        for i, w in enumerate(sim.workers):
            w.cpu = i % 2
            sim.add_waiter(w)
        self.assertIs(model.pick_cpu(sim, 0), sim.workers[2])   # newest on CPU 0
        self.assertIs(model.pick_cpu(sim, 1), sim.workers[3])
        self.assertIs(model.pick_cpu(sim, 5), sim.workers[3])   # none there: LIFO
        self.assertIs(model.pick_lifo(sim, 0), sim.workers[3])
        self.assertIs(model.pick_fifo(sim, 0), sim.workers[0])

    def test_concurrency_never_exceeded(self):
        for pol in model.POLICIES:
            sim = model.Sim(base(policy=pol, rate=3000.0, workers=8, concurrency=3,
                                 duration=3.0, wake=model.Const(2e-4)))
            seen = []
            orig = sim.dequeue

            def spy(w, taken, slept, sim=sim, orig=orig):
                seen.append(sim.running)
                orig(w, taken, slept)
            sim.dequeue = spy
            r = sim.run()
            self.assertLessEqual(max(seen), 3, pol)
            self.assertEqual(max(seen), 3, pol)     # the load does reach it
            self.assertLessEqual(r["max_running_at_release"], 3, pol)
            self.assertGreater(sim.releases_over, 0, pol)
            # at most `concurrency` workers can be running: the rest wait
            self.assertEqual(sum(1 for w in sim.workers if w.busy), sim.running)

    def test_queued_taken_without_sleeping(self):
        # Saturated: threads coming back find completions queued and
        # take them without sleeping, so wakeups per request fall.
        light = model.simulate(base(rate=50.0, duration=5.0))
        heavy = model.simulate(base(rate=1900.0, duration=5.0))
        self.assertGreater(light["wakeups_per_req"], 0.95)
        self.assertLess(heavy["wakeups_per_req"], 0.5)

    def test_blocking_releases_a_waiter(self):
        # Concurrency 1, every handler blocks 5 ms: without block
        # tracking throughput would be at most 200/s; with it the
        # other workers run meanwhile.
        r = model.simulate(base(concurrency=1, workers=8, rate=600.0, block_p=1.0,
                                block_us=5000.0, handler=model.Const(1e-4), duration=5.0))
        self.assertGreater(r["rps"], 550)

    def test_distribution_quantiles(self):
        d = model.Distribution([(0, 1e-5), (0.5, 1e-4), (0.9, 1e-3), (1, 1e-2)])
        self.assertAlmostEqual(d.quantile(0.5), 1e-4)
        self.assertAlmostEqual(d.quantile(0.9), 1e-3)
        rng = random.Random(3)
        xs = sorted(d.sample(rng) for _ in range(20000))
        self.assertLess(abs(xs[10000] - 1e-4) / 1e-4, 0.05)


if __name__ == "__main__":
    unittest.main(verbosity=2)
