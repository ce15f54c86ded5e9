# SPDX-License-Identifier: GPL-2.0
"""A discrete-event model of one cport port under the load of bench/suite.

What is modelled (docs/policies.md, "The simulator"):

  - the port: completions queue FIFO; a completion is handed to exactly
    one sleeping waiter, chosen by the release policy, and only while the
    running count is below the concurrency value; the waiter counts as
    running from the handoff on; a thread entering a wait with
    completions queued takes up to BATCH of them without sleeping if the
    concurrency value allows; a woken waiter takes its handed completion
    and up to BATCH - 1 more queued ones (kmod/port.c __cport_release(),
    kmod/wait.c __cport_wait_take() and __cport_wait_sleep());
  - the policies, one function each (POLICIES), as __cport_pick_waiter():
    LIFO the newest waiter, FIFO the oldest, RR the next join number
    after the last one released (moved only by a real release), CPU the
    newest waiter that slept on the producing CPU, else LIFO;
  - blocking: a handler may block (probability block_p, for block_us);
    while blocked its thread does not count as running and a waiter is
    released (block tracking, kmod/thread.c); it counts again when it
    resumes, whatever the running count;
  - the CPUs: NCPU processors that run, first come first served and
    without preemption, the workers' handling (handler CPU time, the
    synthetic service spin, the context-switch cost of a wakeup) and the
    load client's threads (their CPU time per request, half to send,
    half to receive the echo); every thread runs one job at a time;
  - wakeups: a thread that sleeps (a waiter, or an idle client thread
    with a timer or an echo due) starts running only after a wakeup
    latency drawn from a distribution (measured: the traces'
    handoff-to-dequeue), cold (wake) or, if wake_warm is given and the
    CPU it wakes on idled no longer than warm_idle, warm (wake_warm);
  - the client: loadgen's open loop (Poisson arrivals at RATE over CONNS
    connections, one request outstanding per connection, a backlog
    otherwise, latency from the scheduled send time) or closed loop.

Not modelled: cache effects, where the scheduler places a woken thread,
the port's kernel worker (sockets run by the fallback), and the host's
own scheduling of the vCPUs except as it shows in the wakeup latency.
"""
import bisect
import collections
import heapq
import math
import random

WINDOW = 0.010          # the active-set window (bench/suite/server.c)

POLICIES = {}


def policy(name):
    def reg(fn):
        POLICIES[name] = fn
        return fn
    return reg


# Each pick gets the port and the CPU the completion was produced on and
# returns the waiter to release (the port has at least one).  The
# waiters list is oldest first, newest last.

@policy("lifo")
def pick_lifo(port, cpu):
    return port.waiters[-1]


@policy("fifo")
def pick_fifo(port, cpu):
    return port.waiters[0]


@policy("rr")
def pick_rr(port, cpu):
    seqs = port.rr_seqs
    i = bisect.bisect_right(seqs, port.rr_last)
    return port.by_seq[seqs[i] if i < len(seqs) else seqs[0]]


@policy("cpu")
def pick_cpu(port, cpu):
    here = port.cpu_waiters.get(cpu)
    if here:
        return here[-1]
    return port.waiters[-1]


class Distribution:
    """An inverse CDF through (quantile, value) points, log-linear
    between them; sample() draws from it."""

    def __init__(self, points, name=""):
        pts = sorted(points)
        if pts[0][0] > 0:
            pts.insert(0, (0.0, pts[0][1]))
        if pts[-1][0] < 1:
            pts.append((1.0, pts[-1][1]))
        self.q = [p[0] for p in pts]
        self.v = [max(p[1], 1e-9) for p in pts]
        self.name = name

    def quantile(self, u):
        i = bisect.bisect_right(self.q, u) - 1
        i = max(0, min(i, len(self.q) - 2))
        q0, q1, v0, v1 = self.q[i], self.q[i + 1], self.v[i], self.v[i + 1]
        if q1 <= q0:
            return v1
        f = (u - q0) / (q1 - q0)
        return math.exp(math.log(v0) + f * (math.log(v1) - math.log(v0)))

    def sample(self, rng):
        return self.quantile(rng.random())

    def mean(self, n=2000):
        return sum(self.quantile((i + 0.5) / n) for i in range(n)) / n


class Const:
    def __init__(self, v):
        self.v = v

    def sample(self, rng):
        return self.v

    def mean(self):
        return self.v


class Exponential:
    def __init__(self, mean):
        self.m = mean

    def sample(self, rng):
        return rng.expovariate(1.0 / self.m) if self.m > 0 else 0.0

    def mean(self):
        return self.m


def service_spin(service, rng):
    """bench/suite/server.c serve(): 0, US, or bimodal (0.5% 500 us,
    else 10 us)."""
    if service == "bimodal":
        return 500e-6 if rng.random() < 0.005 else 10e-6
    return float(service) * 1e-6


class Worker:
    __slots__ = ("id", "seq", "cpu", "handled", "busy", "waiting")

    def __init__(self, i, ncpu):
        self.id = i
        self.seq = i            # join order: the order threads start
        self.cpu = i % ncpu
        self.handled = 0
        self.busy = False
        self.waiting = False


class ClientThread:
    __slots__ = ("id", "free", "backlog", "jobs", "busy", "cpu")

    def __init__(self, i, ncpu):
        self.id = i
        self.free = 0           # free connections
        self.backlog = collections.deque()
        self.jobs = collections.deque()
        self.busy = False
        self.cpu = (i * 2 + 1) % ncpu


class Sim:
    """One run.  cfg keys (times in seconds):
    ncpu, concurrency, workers, batch, policy, mode (open|closed),
    rate, conns, client_threads, service, duration, warmup,
    handler (distribution of the handler CPU time per completion),
    client_cpu (client CPU time per request), wake (distribution of the
    wakeup latency), switch_cpu (CPU time of one sleep and wakeup),
    block_p, block_us, seed."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.rng = random.Random(cfg.get("seed", 1))
        self.ncpu = cfg["ncpu"]
        self.K = cfg["concurrency"]
        self.batch = cfg.get("batch", 1)
        self.pick = POLICIES[cfg["policy"]]
        self.now = 0.0
        self.ev = []
        self.seq = 0
        # port
        self.queue = collections.deque()
        self.waiters = []
        self.rr_seqs = []
        self.by_seq = {}
        self.rr_last = -1
        self.cpu_waiters = {}
        self.running = 0
        self.max_running_at_release = 0
        # CPUs
        self.idle_cpus = list(range(self.ncpu - 1, -1, -1))
        self.idle_since = [-1.0] * self.ncpu    # long idle at the start
        self.warm = cfg.get("wake_warm")
        self.warm_idle = cfg.get("warm_idle", 0.0)
        self.wakes_warm = 0
        self.wakes_cold = 0
        self.cpu_q = collections.deque()
        self.workers = [Worker(i, self.ncpu) for i in range(cfg["workers"])]
        nt = cfg.get("client_threads", 1)
        self.clients = [ClientThread(i, self.ncpu) for i in range(nt)]
        for i in range(cfg["conns"]):
            self.clients[i % nt].free += 1
        # measurements
        self.t0 = cfg.get("warmup", 0.5)
        self.t1 = self.t0 + cfg["duration"]
        self.lat = []
        self.windows = collections.defaultdict(set)
        self.requests = 0
        self.handoffs = 0
        self.sleeps = 0
        self.waits = 0
        self.releases_over = 0      # releases seen at the concurrency value
        self.completions = 0

    # --- events ---------------------------------------------------------
    def at(self, t, fn, *args):
        self.seq += 1
        heapq.heappush(self.ev, (t, self.seq, fn, args))

    def run(self):
        cfg = self.cfg
        for w in self.workers:          # every worker starts in a wait
            self.enter_wait(w)
        if cfg["mode"] == "open":
            per = cfg["rate"] / len(self.clients)
            for c in self.clients:
                self.at(self.rng.expovariate(per), self.arrival, c, per)
        else:
            for c in self.clients:
                for _ in range(c.free):
                    self.at(0.0, self.closed_send, c)
        end = self.t1
        ev = self.ev
        while ev:
            t, _, fn, args = heapq.heappop(ev)
            if t > end:
                break
            self.now = t
            fn(*args)
        return self.result()

    # --- the load client ------------------------------------------------
    def arrival(self, c, per):
        t0 = self.now
        self.at(t0 + self.rng.expovariate(per), self.arrival, c, per)
        if c.free:
            c.free -= 1
            self.client_job(c, self.cfg["client_cpu"] / 2, self.post, t0)
        else:
            c.backlog.append(t0)

    def closed_send(self, c):
        c.free -= 1
        self.client_job(c, self.cfg["client_cpu"] / 2, self.post, self.now)

    def client_job(self, c, cpu_time, then, t0):
        c.jobs.append((cpu_time, then, t0))
        if not c.busy:
            c.busy = True
            # asleep: its timer or its epoll wait has to wake it first
            self.at(self.now + self.wake_latency(c.cpu), self.client_next, c)

    def client_next(self, c):
        cpu_time, then, t0 = c.jobs.popleft()
        self.cpu_job(cpu_time, self.client_done, (c, then, t0), c.cpu)

    def client_done(self, cpu, c, then, t0):
        c.cpu = cpu
        then(cpu, c, t0)
        if c.jobs:
            self.client_next(c)
        else:
            c.busy = False

    def post(self, cpu, c, t0):
        """The request's data reached the server's socket: the RECV
        completes (the loopback softirq runs on the sender's CPU)."""
        self.queue.append((t0, c))
        self.release(cpu)

    def echo_back(self, t0, c):
        self.client_job(c, self.cfg["client_cpu"] / 2, self.received, t0)

    def received(self, cpu, c, t0):
        if t0 >= self.t0 and self.now < self.t1:
            self.lat.append(self.now - t0)
            self.requests += 1
        if self.cfg["mode"] == "closed":
            c.free += 1
            self.closed_send(c)
        elif c.backlog:
            t0 = c.backlog.popleft()
            self.client_job(c, self.cfg["client_cpu"] / 2, self.post, t0)
        else:
            c.free += 1

    # --- the CPUs ---------------------------------------------------------
    def wake_latency(self, pref):
        """A sleeping thread's wakeup latency.  With no wake_warm
        distribution, every wakeup draws from wake.  Otherwise the draw
        depends on the CPU the thread would run on (its own if idle, else
        the most recently idled one): idle for longer than warm_idle, the
        wakeup is cold (wake, measured at light load, where the vCPUs
        idle for milliseconds); idle for less, or no CPU idle (the thread
        joins a busy CPU's queue), it is warm (wake_warm, measured by the
        floor ping-pong, where a vCPU idles about one round trip)."""
        if self.warm is not None:
            idle = self.idle_cpus
            if not idle:
                cold = False
            else:
                cpu = pref if pref in idle else idle[-1]
                cold = self.now - self.idle_since[cpu] > self.warm_idle
            if not cold:
                self.wakes_warm += 1
                return self.warm.sample(self.rng)
            self.wakes_cold += 1
        return self.cfg["wake"].sample(self.rng)

    def cpu_job(self, dur, fn, args, pref):
        if self.idle_cpus:
            if pref in self.idle_cpus:
                self.idle_cpus.remove(pref)
                cpu = pref
            else:
                cpu = self.idle_cpus.pop()
            self.at(self.now + dur, self.cpu_end, cpu, fn, args)
        else:
            self.cpu_q.append((dur, fn, args))

    def cpu_end(self, cpu, fn, args):
        if self.cpu_q:
            dur, f2, a2 = self.cpu_q.popleft()
            self.at(self.now + dur, self.cpu_end, cpu, f2, a2)
        else:
            self.idle_cpus.append(cpu)
            self.idle_since[cpu] = self.now
        fn(cpu, *args)

    # --- the port ---------------------------------------------------------
    def add_waiter(self, w):
        w.waiting = True
        self.waiters.append(w)
        if self.cfg["policy"] == "rr":
            bisect.insort(self.rr_seqs, w.seq)
            self.by_seq[w.seq] = w
        elif self.cfg["policy"] == "cpu":
            self.cpu_waiters.setdefault(w.cpu, []).append(w)

    def del_waiter(self, w):
        w.waiting = False
        self.waiters.remove(w)
        if self.cfg["policy"] == "rr":
            self.rr_seqs.remove(w.seq)
        elif self.cfg["policy"] == "cpu":
            self.cpu_waiters[w.cpu].remove(w)

    def release(self, cpu):
        """__cport_release(): hand queued completions to waiters, one
        each, while the concurrency value allows."""
        while self.queue and self.waiters:
            if self.running >= self.K:
                self.releases_over += 1
                break
            w = self.pick(self, cpu)
            self.rr_last = w.seq
            self.del_waiter(w)
            self.running += 1
            if self.running > self.max_running_at_release:
                self.max_running_at_release = self.running
            self.handoffs += 1
            handed = self.queue.popleft()
            self.at(self.now + self.wake_latency(w.cpu), self.woken, w, handed)

    def enter_wait(self, w):
        """__cport_wait_take(), else sleep as a waiter."""
        self.waits += 1
        if w.busy:
            self.running -= 1
            w.busy = False
        if self.queue and self.running < self.K:
            self.running += 1
            taken = [self.queue.popleft()
                     for _ in range(min(self.batch, len(self.queue)))]
            self.dequeue(w, taken, False)
            return
        self.sleeps += 1
        self.add_waiter(w)

    def woken(self, w, handed):
        taken = [handed]
        while self.queue and len(taken) < self.batch:
            taken.append(self.queue.popleft())
        self.dequeue(w, taken, True)

    def dequeue(self, w, taken, slept):
        w.busy = True
        now = self.now
        self.completions += len(taken)
        if self.t0 <= now < self.t1:
            w.handled += len(taken)
            self.windows[int((now - self.t0) / WINDOW)].add(w.id)
        cost = self.cfg["switch_cpu"] if slept else 0.0
        self.handle(w, collections.deque(taken), cost)

    def handle(self, w, taken, extra=0.0):
        t0, c = taken.popleft()
        dur = extra + self.cfg["handler"].sample(self.rng) + \
            service_spin(self.cfg["service"], self.rng)
        self.cpu_job(dur, self.handled, (w, taken, t0, c), w.cpu)

    def handled(self, cpu, w, taken, t0, c):
        w.cpu = cpu
        self.echo_back(t0, c)       # the inline SEND
        if self.cfg.get("block_p", 0) and self.rng.random() < self.cfg["block_p"]:
            # blocked elsewhere: the slot goes (cport_release_irq())
            self.running -= 1
            self.release(cpu)
            self.at(self.now + self.cfg["block_us"] * 1e-6, self.unblocked,
                    w, taken)
            return
        self.after(w, taken)

    def unblocked(self, w, taken):
        self.running += 1
        self.after(w, taken)

    def after(self, w, taken):
        if taken:
            self.handle(w, taken)
        else:
            self.enter_wait(w)

    # --- the summary ------------------------------------------------------
    def result(self):
        lat = sorted(self.lat)
        total = sum(w.handled for w in self.workers)
        sizes = [len(s) for s in self.windows.values()]

        def pct(q):
            if not lat:
                return float("nan")
            return lat[min(len(lat) - 1, max(0, int(q * len(lat) + 0.999999) - 1))]
        return {
            "requests": self.requests,
            "rps": self.requests / self.cfg["duration"],
            "p50_us": pct(0.50) * 1e6,
            "p99_us": pct(0.99) * 1e6,
            "active_set": sum(sizes) / len(sizes) if sizes else 0.0,
            "top_share": max(w.handled for w in self.workers) / total if total else 0.0,
            "shares": [w.handled / total if total else 0.0 for w in self.workers],
            # over the whole run: a request is one completion
            "wakeups_per_req": self.handoffs / max(1, self.completions),
            "csw_per_req": self.sleeps / max(1, self.completions),
            "max_running_at_release": self.max_running_at_release,
            "cold_wake_share": self.wakes_cold / max(1, self.wakes_cold + self.wakes_warm),
            "backlog": sum(len(c.backlog) for c in self.clients),
        }



def simulate(cfg):
    return Sim(cfg).run()
