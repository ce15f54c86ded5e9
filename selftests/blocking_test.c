// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking and the concurrency value (IOCP's "a running thread that blocks
 * frees its slot").  A thread that got completions from a port counts as
 * running until it waits again, except while it is blocked elsewhere: then
 * the port may release one more waiter; when the blocked thread runs again
 * it counts again, so the count may briefly exceed the limit, and no
 * waiter is released until it falls back.  A preempted thread keeps its
 * slot; a thread that exits, leaves or waits on another port gives it up;
 * CPORT_SETUP_NO_BLOCK_TRACKING turns the blocking part off (not exit).
 *
 * The handlers block in a pipe read, on a pthread mutex the main thread
 * holds, or in a page fault that userfaultfd holds until the main thread
 * resolves it.  Every "stays queued" is watched across a grace period;
 * every "must happen" is a bounded wait; counts are exact.  The debug
 * kernel gets less work (slow_kernel()).
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "cport_test.h"
#include "kselftest_harness.h"

/* ioctl() as 0 / positive, or -errno. */
static int xioctl(int fd, unsigned long cmd, unsigned long arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static int leave(int port, unsigned long arg)
{
	return xioctl(port, CPORT_IOC_LEAVE, arg);
}

static int load(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Busy-wait (no system call) until *@p is set. */
static void spin_until(const int *p)
{
	while (!load(p))
		__builtin_ia32_pause();
}

/* Compute for a while: no system call, no memory but the stack. */
static void compute(unsigned int loops)
{
	volatile unsigned int x = 0;
	unsigned int i;

	for (i = 0; i < loops; i++)
		x += i;
}

/*
 * Touch the stack a handler will use, so that it does not take page
 * faults (which might sleep) while it is supposed to only compute.
 */
static void __attribute__((noinline)) prefault_stack(void)
{
	volatile char buf[64 * 1024];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 512)
		buf[i] = 0;
}

/* Join @t, or give up after PROGRESS_MS. */
static bool join_bounded(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PROGRESS_MS / 1000;
	return !pthread_timedjoin_np(t, NULL, &ts);
}

/* ------------------------------------------------------------------ */
/* A pool of long-lived workers, and handlers that block on cue         */

enum blocker { BLOCK_PIPE, BLOCK_MUTEX, BLOCK_UFFD };

/* What a handler does with completion c (the completion's key). */
#define A_GATE	1	/* first spin until gate[c] */
#define A_BLOCK	2	/* then block (pool->kind) until unblock() */
#define A_HOLD	4	/* then spin until hold[c] */

#define MAX_WORKERS	8
#define MAX_COOKIES	16

struct pool;

struct pworker {
	pthread_t thread;
	struct pool *p;
	int idx;
	pid_t tid;		/* set before the first wait */
	int ret;		/* the wait's result that ended the loop */
	int created;		/* to be joined */
};

struct pool {
	int port;
	enum blocker kind;
	int nworkers;
	int stop;		/* workers exit after their current handler */

	int pipe[2];
	pthread_mutex_t mutex;
	int locked;		/* main holds mutex */
	int uffd;
	char *page;		/* registered with uffd, missing */
	int resolved;

	int seen[MAX_COOKIES];	/* times delivered */
	int who[MAX_COOKIES];	/* worker index + 1 */
	int started[MAX_COOKIES];
	int resumed[MAX_COOKIES];	/* after the block */
	int finished[MAX_COOKIES];
	int gate[MAX_COOKIES];
	int hold[MAX_COOKIES];
	int strays;
	int bad_reads;
	struct pworker w[MAX_WORKERS];
};

static void block(struct pool *p)
{
	char byte;

	switch (p->kind) {
	case BLOCK_PIPE:
		if (read(p->pipe[0], &byte, 1) != 1)
			__atomic_fetch_add(&p->bad_reads, 1, __ATOMIC_RELAXED);
		break;
	case BLOCK_MUTEX:
		pthread_mutex_lock(&p->mutex);
		pthread_mutex_unlock(&p->mutex);
		break;
	case BLOCK_UFFD:
		if (*(volatile int *)p->page != 0x5eed)
			__atomic_fetch_add(&p->bad_reads, 1, __ATOMIC_RELAXED);
		break;
	}
}

static void *pworker_fn(void *arg)
{
	struct pworker *w = arg;
	struct pool *p = w->p;
	struct cport_cqe cqe;
	__u64 c;
	int n;

	prefault_stack();
	store(&w->tid, sys_gettid());
	for (;;) {
		n = cport_wait(p->port, &cqe, 1, -1);
		if (n != 1) {
			w->ret = n;
			return NULL;
		}
		c = cqe.user_data;
		if (c >= MAX_COOKIES) {
			__atomic_fetch_add(&p->strays, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_fetch_add(&p->seen[c], 1, __ATOMIC_RELAXED);
		store(&p->who[c], w->idx + 1);
		store(&p->started[c], 1);
		if (cqe.key & A_GATE)
			spin_until(&p->gate[c]);
		if (cqe.key & A_BLOCK) {
			block(p);
			store(&p->resumed[c], 1);
		}
		if (cqe.key & A_HOLD)
			spin_until(&p->hold[c]);
		store(&p->finished[c], 1);
		if (load(&p->stop))
			return NULL;
	}
}

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK |
		     UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Blocking resources for @kind; 0, or -errno (-ENOSYS/-EPERM: no uffd). */
static int pool_init(struct pool *p, enum blocker kind)
{
	long page = sysconf(_SC_PAGESIZE);
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int fd;

	memset(p, 0, sizeof(*p));
	p->port = -1;
	p->kind = kind;
	p->pipe[0] = p->pipe[1] = p->uffd = -1;
	pthread_mutex_init(&p->mutex, NULL);
	if (pipe2(p->pipe, O_CLOEXEC))
		return -errno;
	if (kind != BLOCK_UFFD)
		return 0;
	fd = uffd_open();
	if (fd < 0)
		return fd;
	p->uffd = fd;
	p->page = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->page == MAP_FAILED)
		return -ENOMEM;
	reg.range.start = (unsigned long)p->page;
	reg.range.len = page;
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		return -errno;
	return 0;
}

/* Open the port and start @n workers, all asleep in it. */
static int pool_start(struct pool *p, unsigned int flags,
		      unsigned int concurrency, int n)
{
	int i;

	p->port = port_new_flags(flags, concurrency, CPORT_POLICY_LIFO, 0);
	if (p->port < 0)
		return p->port;
	for (i = 0; i < n; i++) {
		p->w[i].p = p;
		p->w[i].idx = i;
		if (pthread_create(&p->w[i].thread, NULL, pworker_fn, &p->w[i]))
			return -EAGAIN;
		p->w[i].created = 1;
		p->nworkers++;
	}
	if (!fdinfo_wait(p->port, "waiters", n))
		return -ETIMEDOUT;
	return 0;
}

/* Before posting: make the next block() block. */
static void arm(struct pool *p)
{
	if (p->kind == BLOCK_MUTEX && !p->locked) {
		pthread_mutex_lock(&p->mutex);
		p->locked = 1;
	}
}

/* Let the block() in progress (or the next one) through. */
static int unblock(struct pool *p)
{
	long page = sysconf(_SC_PAGESIZE);
	struct uffdio_copy copy = { .len = page };
	char *src;
	int ret = 0;

	switch (p->kind) {
	case BLOCK_PIPE:
		if (write(p->pipe[1], "x", 1) != 1)
			ret = -errno;
		break;
	case BLOCK_MUTEX:
		if (p->locked) {
			p->locked = 0;
			ret = -pthread_mutex_unlock(&p->mutex);
		}
		break;
	case BLOCK_UFFD:
		if (p->resolved)
			break;
		src = aligned_alloc(page, page);
		if (!src)
			return -ENOMEM;
		memset(src, 0, page);
		*(int *)src = 0x5eed;
		copy.dst = (unsigned long)p->page;
		copy.src = (unsigned long)src;
		if (ioctl(p->uffd, UFFDIO_COPY, &copy))
			ret = -errno;
		else
			p->resolved = 1;
		free(src);
		break;
	}
	return ret;
}

/* Wait until worker @tid sleeps in block(). */
static bool wait_blocked(struct pool *p, pid_t tid)
{
	struct uffd_msg msg;
	struct pollfd pfd = { .fd = p->uffd, .events = POLLIN };

	switch (p->kind) {
	case BLOCK_PIPE:
		return task_wait_blocked_in(tid, SYS_read, SYS_read);
	case BLOCK_MUTEX:
		return task_wait_blocked_in(tid, SYS_futex, SYS_futex);
	case BLOCK_UFFD:
		/* The fault is reported, then the thread sleeps in it. */
		if (poll(&pfd, 1, PROGRESS_MS) != 1 ||
		    read(p->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT ||
		    (msg.arg.pagefault.address & ~(__u64)(getpagesize() - 1)) !=
		    (unsigned long)p->page)
			return false;
		return wait_until(task_state(tid) == 'S' ||
				  task_state(tid) == 'D', PROGRESS_MS);
	}
	return false;
}

/* Destroy the port, let every handler finish, join the workers. */
static void pool_stop(struct pool *p)
{
	int i;

	if (p->port >= 0)
		cport_destroy(p->port);
	store(&p->stop, 1);
	for (i = 0; i < MAX_COOKIES; i++) {
		store(&p->gate[i], 1);
		store(&p->hold[i], 1);
	}
	if (p->kind == BLOCK_PIPE) {
		for (i = 0; i < MAX_WORKERS; i++)
			if (write(p->pipe[1], "x", 1) != 1)
				break;
	} else {
		unblock(p);
	}
	for (i = 0; i < p->nworkers; i++)
		if (p->w[i].created)
			join_bounded(p->w[i].thread);
	p->nworkers = 0;
	if (p->port >= 0)
		cport_close(p->port);
	p->port = -1;
	if (p->uffd >= 0)
		close(p->uffd);
	if (p->pipe[0] >= 0) {
		close(p->pipe[0]);
		close(p->pipe[1]);
	}
	p->uffd = p->pipe[0] = p->pipe[1] = -1;
}

static pid_t tid_of(struct pool *p, int cookie)
{
	int who = load(&p->who[cookie]);

	return who ? p->w[who - 1].tid : 0;
}

static void post(struct __test_metadata *_metadata, struct pool *p,
		 __u64 cookie, unsigned int action)
{
	ASSERT_EQ(0, cport_post(p->port, action, cookie, 0, 0));
}

/*
 * Completions 0, 1, ... with these actions in one call: all are queued (or
 * handed) before any handler runs.
 */
static void post_all(struct __test_metadata *_metadata, struct pool *p,
		     int nr, const unsigned int *actions)
{
	struct cport_sqe sqes[MAX_COOKIES];
	int i;

	for (i = 0; i < nr; i++)
		cport_prep_post(&sqes[i], actions[i], i, 0, 0);
	ASSERT_EQ(nr, cport_submit(p->port, sqes, nr));
}

#define post_n(p, ...) do {						\
	const unsigned int __a[] = { __VA_ARGS__ };			\
	post_all(_metadata, p, ARRAY_SIZE(__a), __a);			\
} while (0)

#define fdinfo(p, name)	fdinfo_get((p)->port, name)

/* The end of every pool test: each completion once, everyone waiting. */
static void pool_settled(struct __test_metadata *_metadata, struct pool *p,
			 int cookies)
{
	int i;

	ASSERT_TRUE(fdinfo_wait(p->port, "waiters", p->nworkers));
	EXPECT_EQ(0, fdinfo(p, "running"));
	EXPECT_EQ(0, fdinfo(p, "queued"));
	EXPECT_EQ(p->nworkers, fdinfo(p, "threads"));
	EXPECT_EQ(cookies, fdinfo(p, "posts"));
	EXPECT_EQ(cookies, fdinfo(p, "dequeues"));
	for (i = 0; i < cookies; i++)
		EXPECT_EQ(1, load(&p->seen[i])) {
			TH_LOG("completion %d", i);
		}
	EXPECT_EQ(0, load(&p->strays));
	EXPECT_EQ(0, load(&p->bad_reads));
}

/* ------------------------------------------------------------------ */
/* A handler that blocks, three ways                                    */

FIXTURE(blocking) {
	struct pool p;
};

FIXTURE_VARIANT(blocking) {
	enum blocker kind;
};

FIXTURE_VARIANT_ADD(blocking, pipe_read) {
	.kind = BLOCK_PIPE,
};

FIXTURE_VARIANT_ADD(blocking, mutex) {
	.kind = BLOCK_MUTEX,
};

FIXTURE_VARIANT_ADD(blocking, page_fault) {
	.kind = BLOCK_UFFD,
};

FIXTURE_SETUP(blocking)
{
	int ret = pool_init(&self->p, variant->kind);

	if (variant->kind == BLOCK_UFFD &&
	    (ret == -ENOSYS || ret == -EPERM))
		SKIP(return, "userfaultfd: %s", strerror(-ret));
	ASSERT_EQ(0, ret) {
		TH_LOG("pool_init: %s", strerror(-ret));
	}
}

FIXTURE_TEARDOWN(blocking)
{
	pool_stop(&self->p);
}

/*
 * Concurrency 1, four waiters, three completions.  The first handler
 * blocks: exactly one more waiter is released, for the second completion;
 * the third stays queued, and so does a fourth posted while the second
 * handler computes and the first is still blocked: one running thread is
 * the limit.  The second handler takes both itself when it waits again.
 */
TEST_F_TIMEOUT(blocking, blocked_handler_releases_one, 180)
{
	struct pool *p = &self->p;

	ASSERT_EQ(0, pool_start(p, 0, 1, 4));
	arm(p);
	post_n(p, A_GATE | A_BLOCK, A_GATE, 0);

	/* The first handler computes (at its gate): the others are queued. */
	ASSERT_TRUE(wait_until(load(&p->started[0]), PROGRESS_MS));
	EXPECT_EQ(2, fdinfo(p, "queued"));
	EXPECT_EQ(1, fdinfo(p, "running"));
	EXPECT_EQ(3, fdinfo(p, "waiters"));
	EXPECT_EQ(0, load(&p->started[1]));

	/* It blocks: the second completion releases another waiter. */
	store(&p->gate[0], 1);
	ASSERT_TRUE(wait_until(load(&p->started[1]), PROGRESS_MS)) {
		TH_LOG("nobody released: queued %lld running %lld",
		       fdinfo(p, "queued"), fdinfo(p, "running"));
	}
	ASSERT_TRUE(wait_blocked(p, tid_of(p, 0)));
	EXPECT_NE(load(&p->who[0]), load(&p->who[1]));
	EXPECT_EQ(0, load(&p->resumed[0]));

	/* Exactly one more, also after a fourth is posted. */
	post(_metadata, p, 3, 0);
	sleep_ms(GRACE_MS);
	EXPECT_EQ(0, load(&p->started[2]));
	EXPECT_EQ(0, load(&p->started[3]));
	EXPECT_EQ(1, fdinfo(p, "blocked_releases"));
	EXPECT_EQ(2, fdinfo(p, "handoffs"));
	EXPECT_EQ(1, fdinfo(p, "running"));
	EXPECT_EQ(2, fdinfo(p, "queued"));
	EXPECT_EQ(2, fdinfo(p, "waiters"));
	EXPECT_EQ(4, fdinfo(p, "threads"));

	/* The second handler waits again: it takes the others itself. */
	store(&p->gate[1], 1);
	ASSERT_TRUE(wait_until(load(&p->finished[3]), PROGRESS_MS));
	EXPECT_EQ(load(&p->who[1]), load(&p->who[2]));
	EXPECT_EQ(load(&p->who[1]), load(&p->who[3]));
	ASSERT_TRUE(fdinfo_wait(p->port, "waiters", 3));
	EXPECT_EQ(0, load(&p->resumed[0]));
	EXPECT_EQ(0, fdinfo(p, "running"));

	/* The first runs again, alone: not over the limit. */
	ASSERT_EQ(0, unblock(p));
	ASSERT_TRUE(wait_until(load(&p->finished[0]), PROGRESS_MS));
	pool_settled(_metadata, p, 4);
	EXPECT_EQ(1, fdinfo(p, "blocked_releases"));
	EXPECT_EQ(2, fdinfo(p, "handoffs"));
	EXPECT_EQ(0, fdinfo(p, "over_limit_events"));
}

/*
 * The same handler on a port set up with CPORT_SETUP_NO_BLOCK_TRACKING
 * keeps its slot while blocked: nobody else is released until it waits
 * again, and then it takes the queued completion itself.
 */
TEST_F_TIMEOUT(blocking, untracked_releases_none, 180)
{
	struct pool *p = &self->p;

	ASSERT_EQ(0, pool_start(p, CPORT_SETUP_NO_BLOCK_TRACKING, 1, 4));
	ASSERT_EQ(0, fdinfo(p, "block_tracking"));
	arm(p);
	post_n(p, A_BLOCK, 0);
	ASSERT_TRUE(wait_until(load(&p->started[0]), PROGRESS_MS));
	ASSERT_TRUE(wait_blocked(p, tid_of(p, 0)));

	sleep_ms(GRACE_MS);
	EXPECT_EQ(0, load(&p->started[1]));
	EXPECT_EQ(1, fdinfo(p, "queued"));
	EXPECT_EQ(3, fdinfo(p, "waiters"));
	EXPECT_EQ(1, fdinfo(p, "running"));
	EXPECT_EQ(0, fdinfo(p, "blocked_releases"));

	ASSERT_EQ(0, unblock(p));
	ASSERT_TRUE(wait_until(load(&p->finished[1]), PROGRESS_MS));
	EXPECT_EQ(load(&p->who[0]), load(&p->who[1]));
	pool_settled(_metadata, p, 2);
	EXPECT_EQ(0, fdinfo(p, "blocked_releases"));
	EXPECT_EQ(1, fdinfo(p, "handoffs"));
	EXPECT_EQ(0, fdinfo(p, "over_limit_events"));
}

/*
 * Overshoot: the blocked handler runs again while the one released in its
 * place still runs: two running, over the limit of one.  A completion
 * posted then stays queued; when the second handler waits again the count
 * is back at the limit, so it stays queued still (and that thread sleeps);
 * only when the first waits again does it go, to the first.
 */
TEST_F_TIMEOUT(blocking, resumed_thread_overshoots, 180)
{
	struct pool *p = &self->p;
	long long ns;

	ASSERT_EQ(0, pool_start(p, 0, 1, 4));
	arm(p);
	post_n(p, A_GATE | A_BLOCK | A_HOLD, A_GATE);
	ASSERT_TRUE(wait_until(load(&p->started[0]), PROGRESS_MS));
	EXPECT_EQ(1, fdinfo(p, "queued"));
	store(&p->gate[0], 1);
	ASSERT_TRUE(wait_until(load(&p->started[1]), PROGRESS_MS));
	ASSERT_TRUE(wait_blocked(p, tid_of(p, 0)));
	EXPECT_EQ(1, fdinfo(p, "running"));
	EXPECT_EQ(0, fdinfo(p, "over_limit_events"));
	EXPECT_EQ(0, fdinfo(p, "over_limit_ns"));

	/* The first runs again (and computes): two running. */
	ASSERT_EQ(0, unblock(p));
	ASSERT_TRUE(wait_until(load(&p->resumed[0]), PROGRESS_MS));
	EXPECT_EQ(2, fdinfo(p, "running"));
	EXPECT_LE(1, fdinfo(p, "over_limit_events"));

	/* Nobody is released while over the limit. */
	post(_metadata, p, 2, 0);
	sleep_ms(GRACE_MS);
	EXPECT_EQ(0, load(&p->started[2]));
	EXPECT_EQ(1, fdinfo(p, "queued"));
	EXPECT_EQ(2, fdinfo(p, "waiters"));
	EXPECT_EQ(2, fdinfo(p, "running"));
	EXPECT_LT(0, fdinfo(p, "over_limit_ns"));

	/* Nor at the limit: the second waits again and goes to sleep. */
	store(&p->gate[1], 1);
	ASSERT_TRUE(fdinfo_wait(p->port, "waiters", 3));
	sleep_ms(GRACE_MS);
	EXPECT_EQ(0, load(&p->started[2]));
	EXPECT_EQ(1, fdinfo(p, "queued"));
	EXPECT_EQ(3, fdinfo(p, "waiters"));
	EXPECT_EQ(1, fdinfo(p, "running"));

	/* The first waits again: below the limit, it takes the third. */
	store(&p->hold[0], 1);
	ASSERT_TRUE(wait_until(load(&p->finished[2]), PROGRESS_MS));
	EXPECT_EQ(load(&p->who[0]), load(&p->who[2]));
	pool_settled(_metadata, p, 3);
	EXPECT_EQ(1, fdinfo(p, "blocked_releases"));
	EXPECT_LE(1, fdinfo(p, "over_limit_events"));
	/* No longer over the limit: the time spent there stops growing. */
	ns = fdinfo(p, "over_limit_ns");
	EXPECT_LT(0, ns);
	sleep_ms(20);
	EXPECT_EQ(ns, fdinfo(p, "over_limit_ns"));
}

/* ------------------------------------------------------------------ */
/* Handlers that only compute                                          */

FIXTURE(compute) {
	struct pool p;
	pthread_t hog;
	int hog_stop;
	bool hog_started;
};

FIXTURE_SETUP(compute)
{
	ASSERT_EQ(0, pool_init(&self->p, BLOCK_PIPE));
}

FIXTURE_TEARDOWN(compute)
{
	store(&self->hog_stop, 1);
	if (self->hog_started)
		join_bounded(self->hog);
	pool_stop(&self->p);
}

static void *hog_fn(void *arg)
{
	spin_until(arg);
	return NULL;
}

/* Pin the calling thread (and threads it creates later) to @cpu. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * A handler that only computes is never "blocked", even when it is
 * preempted (here by a thread of no port pinned to its CPU): it keeps its
 * slot, nobody else is released, and it takes the queued completion
 * itself when it waits again.
 */
TEST_F_TIMEOUT(compute, preempted_handler_releases_none, 120)
{
	struct pool *p = &self->p;
	cpu_set_t set;
	long long before;
	int cpu = 0;
	pid_t tid;

	/* Workers and hog on one CPU, so they preempt each other. */
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
		cpu++;
	ASSERT_EQ(0, pin_to(cpu));
	ASSERT_EQ(0, pool_start(p, 0, 1, 4));
	ASSERT_EQ(0, pthread_create(&self->hog, NULL, hog_fn, &self->hog_stop));
	self->hog_started = true;
	CPU_ZERO(&set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);	/* main only */

	post_n(p, A_GATE, 0);
	ASSERT_TRUE(wait_until(load(&p->started[0]), PROGRESS_MS));
	tid = tid_of(p, 0);
	before = nonvoluntary_switches(tid);
	ASSERT_LE(0, before);

	/* It is preempted (the hog shares its CPU), again and again. */
	sleep_ms(GRACE_MS);
	ASSERT_TRUE(wait_until(nonvoluntary_switches(tid) >= before + 10,
			       PROGRESS_MS)) {
		TH_LOG("%lld preemptions", nonvoluntary_switches(tid) - before);
	}
	EXPECT_EQ(0, load(&p->started[1]));
	EXPECT_EQ(1, fdinfo(p, "queued"));
	EXPECT_EQ(3, fdinfo(p, "waiters"));
	EXPECT_EQ(1, fdinfo(p, "running"));
	EXPECT_EQ(0, fdinfo(p, "blocked_releases"));

	store(&p->gate[0], 1);
	ASSERT_TRUE(wait_until(load(&p->finished[1]), PROGRESS_MS));
	EXPECT_EQ(load(&p->who[0]), load(&p->who[1]));
	pool_settled(_metadata, p, 2);
	EXPECT_EQ(0, fdinfo(p, "blocked_releases"));
	EXPECT_EQ(1, fdinfo(p, "handoffs"));
	EXPECT_EQ(0, fdinfo(p, "over_limit_events"));
}

/* ------------------------------------------------------------------ */
/* Many completions: every one once, and the limit                      */

enum kind { K_COMPUTE, K_USLEEP, K_MUTEX, K_POLL, K__NR };

struct many {
	int port;
	unsigned int total;
	unsigned int kinds;	/* K_COMPUTE only (1) or all of them */
	unsigned int loops;	/* compute per completion */
	unsigned int drain;	/* let the queue run dry that often */
	__u64 *bitmap;
	unsigned int received;
	unsigned int dups;
	unsigned int strays;
	unsigned int in_handler;
	unsigned int max_in_handler;
	pthread_mutex_t mutex;
	int idle_pipe[2];	/* never readable */
	int sampling;
	long long max_running;	/* seen by the sampler */
	long long samples;
};

struct mworker {
	pthread_t thread;
	struct many *m;
	int ret;
};

static void *mworker_fn(void *arg)
{
	struct mworker *w = arg;
	struct many *m = w->m;
	struct pollfd pfd = { .fd = m->idle_pipe[0], .events = POLLIN };
	struct cport_cqe cqe;
	__u64 c, bit;
	int n;

	prefault_stack();
	for (;;) {
		n = cport_wait(m->port, &cqe, 1, -1);
		if (n != 1) {
			w->ret = n;
			return NULL;
		}
		note_max(&m->max_in_handler,
			 __atomic_add_fetch(&m->in_handler, 1, __ATOMIC_ACQ_REL));
		c = cqe.user_data;
		if (c >= m->total) {
			__atomic_fetch_add(&m->strays, 1, __ATOMIC_RELAXED);
		} else {
			bit = 1ULL << (c % 64);
			if (__atomic_fetch_or(&m->bitmap[c / 64], bit,
					      __ATOMIC_RELAXED) & bit)
				__atomic_fetch_add(&m->dups, 1, __ATOMIC_RELAXED);
		}
		switch (cqe.key) {
		case K_COMPUTE:
			compute(m->loops);
			break;
		case K_USLEEP:
			usleep(20 + c % 200);
			break;
		case K_MUTEX:
			/* Contended: the holder computes, others sleep. */
			pthread_mutex_lock(&m->mutex);
			compute(m->loops);
			pthread_mutex_unlock(&m->mutex);
			break;
		case K_POLL:
			poll(&pfd, 1, 1);
			break;
		}
		__atomic_sub_fetch(&m->in_handler, 1, __ATOMIC_ACQ_REL);
		__atomic_fetch_add(&m->received, 1, __ATOMIC_RELEASE);
	}
}

/* Samples the port's running count; never waits on the port. */
static void *sampler_fn(void *arg)
{
	struct many *m = arg;
	long long v;

	while (load(&m->sampling)) {
		v = fdinfo_get(m->port, "running");
		if (v > m->max_running)
			m->max_running = v;
		m->samples++;
		usleep(100);
	}
	return NULL;
}

FIXTURE(many) {
	struct many m;
	struct mworker w[MAX_WORKERS];
	int nworkers;
};

FIXTURE_SETUP(many)
{
	memset(&self->m, 0, sizeof(self->m));
	self->m.port = -1;
	pthread_mutex_init(&self->m.mutex, NULL);
	ASSERT_EQ(0, pipe2(self->m.idle_pipe, O_CLOEXEC));
	self->nworkers = 0;
}

FIXTURE_TEARDOWN(many)
{
	int i;

	store(&self->m.sampling, 0);
	if (self->m.port >= 0)
		cport_destroy(self->m.port);
	for (i = 0; i < self->nworkers; i++)
		join_bounded(self->w[i].thread);
	if (self->m.port >= 0)
		cport_close(self->m.port);
	close(self->m.idle_pipe[0]);
	close(self->m.idle_pipe[1]);
	free(self->m.bitmap);
}

/* Open the port and start @workers workers, all asleep in it. */
static void many_start(struct __test_metadata *_metadata,
		       FIXTURE_DATA(many) *self, unsigned int concurrency,
		       int workers)
{
	struct many *m = &self->m;
	int i;

	m->bitmap = calloc((m->total + 63) / 64, sizeof(__u64));
	ASSERT_NE(NULL, m->bitmap);
	memset(m->bitmap, 0, (m->total + 63) / 64 * sizeof(__u64));
	m->port = port_new(concurrency, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, m->port);
	for (i = 0; i < workers; i++) {
		self->w[i].m = m;
		ASSERT_EQ(0, pthread_create(&self->w[i].thread, NULL,
					    mworker_fn, &self->w[i]));
		self->nworkers++;
	}
	ASSERT_TRUE(fdinfo_wait(m->port, "waiters", workers));
}

/*
 * Post m->total completions (handler kind: cookie % kinds) and wait for
 * every one to be handled, once, and every worker to wait again.
 */
static void many_run(struct __test_metadata *_metadata,
		     FIXTURE_DATA(many) *self)
{
	struct many *m = &self->m;
	struct cport_sqe sqes[16];
	unsigned int i, nr, seen, last = 0, missing = 0;
	long long stuck_since;

	for (i = 0; i < m->total; i += nr) {
		for (nr = 0; nr < 16 && i + nr < m->total; nr++)
			cport_prep_post(&sqes[nr], (i + nr) % m->kinds, i + nr,
					0, 0);
		ASSERT_EQ((int)nr, cport_submit(m->port, sqes, nr));
		/*
		 * Every m->drain completions, let the queue run dry: the
		 * workers go to sleep and are released again.
		 */
		if (m->drain && (i + nr) % m->drain == 0)
			ASSERT_TRUE(wait_until(__atomic_load_n(&m->received,
					__ATOMIC_ACQUIRE) >= i + nr, PROGRESS_MS));
	}

	/* Everything arrives; a lost completion (or a leaked slot) stalls. */
	stuck_since = now_ns();
	for (;;) {
		seen = __atomic_load_n(&m->received, __ATOMIC_ACQUIRE);
		if (seen >= m->total)
			break;
		if (seen != last) {
			last = seen;
			stuck_since = now_ns();
		} else if (now_ns() - stuck_since > PROGRESS_MS * NSEC_PER_MSEC) {
			break;
		}
		usleep(1000);
	}
	EXPECT_EQ(m->total, seen) {
		TH_LOG("stalled: queued %lld waiters %lld running %lld",
		       fdinfo_get(m->port, "queued"),
		       fdinfo_get(m->port, "waiters"),
		       fdinfo_get(m->port, "running"));
	}
	ASSERT_TRUE(fdinfo_wait(m->port, "waiters", self->nworkers));
	EXPECT_EQ(0, fdinfo_get(m->port, "running"));
	EXPECT_EQ(0, fdinfo_get(m->port, "queued"));
	EXPECT_EQ(self->nworkers, fdinfo_get(m->port, "threads"));
	EXPECT_EQ(m->total, fdinfo_get(m->port, "posts"));
	EXPECT_EQ(m->total, fdinfo_get(m->port, "dequeues"));
	for (i = 0; i < m->total; i++)
		missing += !(m->bitmap[i / 64] & (1ULL << (i % 64)));
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, m->dups);
	EXPECT_EQ(0, m->strays);
}

/*
 * Handlers that only compute never take the port over its limit:
 * concurrency 2, six workers, thousands of completions; a thread that
 * never waits on the port samples the running count meanwhile, and the
 * workers count themselves between their waits.
 */
TEST_F_TIMEOUT(many, compute_never_over_limit, 300)
{
	struct many *m = &self->m;
	pthread_t sampler;

	m->total = slow_kernel() ? 1000 : 4000;
	m->kinds = 1;
	m->loops = slow_kernel() ? 2000 : 20000;
	m->drain = 64;
	many_start(_metadata, self, 2, 6);
	store(&m->sampling, 1);
	ASSERT_EQ(0, pthread_create(&sampler, NULL, sampler_fn, m));
	many_run(_metadata, self);
	store(&m->sampling, 0);
	ASSERT_EQ(0, pthread_join(sampler, NULL));

	EXPECT_LT(0, m->samples);
	EXPECT_LE(m->max_running, 2);
	EXPECT_LE(m->max_in_handler, 2);
	EXPECT_EQ(0, fdinfo_get(m->port, "over_limit_events"));
	EXPECT_EQ(0, fdinfo_get(m->port, "over_limit_ns"));
	EXPECT_EQ(0, fdinfo_get(m->port, "blocked_releases"));
	TH_LOG("%u completions, %lld samples, max running %lld, at most %u in handlers, %lld handoffs",
	       m->total, m->samples, m->max_running, m->max_in_handler,
	       fdinfo_get(m->port, "handoffs"));
}

/*
 * Stress: handlers that sleep, poll a pipe, fight over a mutex or compute,
 * concurrency 2, eight workers: every completion once, the port keeps
 * releasing, and the count ends at zero.
 */
TEST_F_TIMEOUT(many, mixed_handlers, 300)
{
	struct many *m = &self->m;

	m->total = slow_kernel() ? 1000 : 5000;
	m->kinds = K__NR;
	m->loops = slow_kernel() ? 100 : 1000;
	m->drain = 256;
	many_start(_metadata, self, 2, 8);
	many_run(_metadata, self);
	/* With handlers sleeping and others held back, some were released. */
	EXPECT_LT(0, fdinfo_get(m->port, "blocked_releases"));
	TH_LOG("%u completions, %lld blocked releases, %lld over-limit events (%lld ns), %lld handoffs",
	       m->total, fdinfo_get(m->port, "blocked_releases"),
	       fdinfo_get(m->port, "over_limit_events"),
	       fdinfo_get(m->port, "over_limit_ns"),
	       fdinfo_get(m->port, "handoffs"));
}

/* ------------------------------------------------------------------ */
/* Thread exit                                                          */

struct exiter {
	pthread_t thread;
	int port;
	int idx;
	int ret;
	__u64 cookie;
	int *seen;
};

static void *exiter_fn(void *arg)
{
	struct exiter *e = arg;
	struct cport_cqe cqe;

	e->ret = cport_wait(e->port, &cqe, 1, -1);
	if (e->ret != 1)
		return NULL;
	e->cookie = cqe.user_data;
	__atomic_fetch_add(&e->seen[cqe.user_data % 4096], 1, __ATOMIC_RELAXED);
	switch (e->idx % 3) {
	case 0:		/* exit at once, counted */
		break;
	case 1:		/* block a little first */
		usleep(200);
		break;
	case 2:		/* compute a little first */
		compute(1000);
		break;
	}
	return NULL;
}

FIXTURE(exits) {
	int port;
	struct exiter *e;
	int *seen;
	int n;
	int created;
};

FIXTURE_VARIANT(exits) {
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(exits, tracking) {
	.flags = 0,
};

/* Blocking frees no slot here: only exits (and waits) do. */
FIXTURE_VARIANT_ADD(exits, untracked) {
	.flags = CPORT_SETUP_NO_BLOCK_TRACKING,
};

FIXTURE_SETUP(exits)
{
	self->n = slow_kernel() ? 100 : 300;
	self->created = 0;
	self->e = calloc(self->n, sizeof(*self->e));
	self->seen = calloc(4096, sizeof(int));
	ASSERT_NE(NULL, self->e);
	ASSERT_NE(NULL, self->seen);
	self->port = port_new_flags(variant->flags, 2, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, self->port);
}

FIXTURE_TEARDOWN(exits)
{
	int i;

	cport_destroy(self->port);
	for (i = 0; i < self->created; i++)
		join_bounded(self->e[i].thread);
	cport_close(self->port);
	free(self->e);
	free(self->seen);
}

/*
 * Hundreds of threads each wait once, get a completion and exit (some at
 * once, some after sleeping or computing a little), on a port with
 * concurrency 2: the port must keep releasing.  A thread that exits while
 * counted must give its slot back, or the port stalls after two.
 */
TEST_F_TIMEOUT(exits, exiting_threads_free_slots, 300)
{
	struct cport_sqe sqes[16];
	pthread_attr_t attr;
	int i, nr, done = 0;

	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 256 * 1024));
	for (i = 0; i < self->n; i++) {
		self->e[i] = (struct exiter){
			.port = self->port, .idx = i, .seen = self->seen,
		};
		ASSERT_EQ(0, pthread_create(&self->e[i].thread, &attr,
					    exiter_fn, &self->e[i]));
		self->created++;
	}
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", self->n));
	EXPECT_EQ(self->n, fdinfo_get(self->port, "threads"));

	for (i = 0; i < self->n; i += nr) {
		for (nr = 0; nr < 16 && i + nr < self->n; nr++)
			cport_prep_post(&sqes[nr], 0, i + nr, 0, 0);
		ASSERT_EQ(nr, cport_submit(self->port, sqes, nr));
	}
	ASSERT_TRUE(wait_until(fdinfo_get(self->port, "dequeues") == self->n,
			       PROGRESS_MS)) {
		TH_LOG("stalled after %lld of %d: queued %lld waiters %lld running %lld threads %lld",
		       fdinfo_get(self->port, "dequeues"), self->n,
		       fdinfo_get(self->port, "queued"),
		       fdinfo_get(self->port, "waiters"),
		       fdinfo_get(self->port, "running"),
		       fdinfo_get(self->port, "threads"));
	}
	/* Joined only now: the main thread does not pace the exits. */
	for (i = 0; i < self->created; i++) {
		if (join_bounded(self->e[i].thread))
			done++;
		self->e[i].thread = 0;
	}
	self->created = 0;
	ASSERT_EQ(self->n, done);

	/* The last exits finish their final switch a little after join. */
	EXPECT_TRUE(fdinfo_wait(self->port, "threads", 0)) {
		TH_LOG("threads %lld", fdinfo_get(self->port, "threads"));
	}
	EXPECT_EQ(0, fdinfo_get(self->port, "running"));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(0, fdinfo_get(self->port, "waiters"));
	EXPECT_EQ(self->n, fdinfo_get(self->port, "dequeues"));
	for (i = 0; i < self->n; i++) {
		EXPECT_EQ(1, self->e[i].ret);
		EXPECT_EQ(1, self->seen[i]) {
			TH_LOG("completion %d", i);
		}
	}
	pthread_attr_destroy(&attr);
}

/* ------------------------------------------------------------------ */
/* Moving between ports, and leaving                                    */

/* No state: for the timeout of TEST_F_TIMEOUT(). */
FIXTURE(plain) {
	int unused;
};

FIXTURE_SETUP(plain)
{
}

FIXTURE_TEARDOWN(plain)
{
}

/*
 * The calling thread is associated with the port it last waited on: a
 * wait on port B (even one that only looks) moves it from A, where it no
 * longer counts.  LEAVE ends the association; a second LEAVE, or one on a
 * port the thread never waited on, is -ENOENT.
 */
TEST_F_TIMEOUT(plain, move_and_leave, 60)
{
	struct cport_cqe cqe;
	int a, b, c;

	a = port_new_flags(CPORT_SETUP_NO_BLOCK_TRACKING, 1,
			   CPORT_POLICY_LIFO, 0);
	b = port_new(1, CPORT_POLICY_LIFO, 0);
	c = port_new(1, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);

	ASSERT_EQ(0, cport_post(a, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(a, &cqe, 1, 0));
	EXPECT_EQ(1, fdinfo_get(a, "running"));
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	EXPECT_EQ(0, fdinfo_get(b, "threads"));

	/* Move to B. */
	ASSERT_EQ(-ETIMEDOUT, cport_wait(b, &cqe, 1, 0));
	EXPECT_EQ(0, fdinfo_get(a, "running"));
	EXPECT_EQ(0, fdinfo_get(a, "threads"));
	EXPECT_EQ(1, fdinfo_get(b, "threads"));
	EXPECT_EQ(0, fdinfo_get(b, "running"));
	EXPECT_EQ(-ENOENT, leave(a, 0));

	/* And counted on B once it gets something there. */
	ASSERT_EQ(0, cport_post(b, 0, 2, 0, 0));
	ASSERT_EQ(1, cport_wait(b, &cqe, 1, 0));
	EXPECT_EQ(1, fdinfo_get(b, "running"));
	EXPECT_EQ(0, fdinfo_get(a, "running"));

	/* Back to A. */
	ASSERT_EQ(-ETIMEDOUT, cport_wait(a, &cqe, 1, 0));
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	EXPECT_EQ(0, fdinfo_get(b, "threads"));
	EXPECT_EQ(0, fdinfo_get(b, "running"));

	/* Leave. */
	EXPECT_EQ(-EINVAL, leave(a, 1));
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	EXPECT_EQ(-ENOENT, leave(b, 0));
	EXPECT_EQ(-ENOENT, leave(c, 0));
	EXPECT_EQ(0, leave(a, 0));
	EXPECT_EQ(0, fdinfo_get(a, "threads"));
	EXPECT_EQ(-ENOENT, leave(a, 0));
	EXPECT_EQ(0, fdinfo_get(c, "threads"));

	/* A left thread is associated again by its next wait. */
	ASSERT_EQ(-ETIMEDOUT, cport_wait(a, &cqe, 1, 0));
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	EXPECT_EQ(0, leave(a, 0));
	cport_close(a);
	cport_close(b);
	cport_close(c);
}

/*
 * Leaving or moving while counted frees the slot: a waiter held back by
 * the limit (concurrency 1, the main thread holding the slot) is released
 * for the queued completion.
 */
static void frees_slot(struct __test_metadata *_metadata, bool move)
{
	struct cport_cqe cqe;
	struct waiter w;
	int seq = 0, a, b;

	a = port_new_flags(CPORT_SETUP_NO_BLOCK_TRACKING, 1,
			   CPORT_POLICY_LIFO, 0);
	b = port_new(1, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, cport_post(a, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(a, &cqe, 1, 0));	/* holds the slot */
	ASSERT_EQ(0, cport_post(a, 0, 2, 0, 0));
	ASSERT_EQ(0, waiter_start_parked(&w, a, 1, -1, &seq));
	ASSERT_TRUE(fdinfo_wait(a, "waiters", 1));
	sleep_ms(GRACE_MS);
	EXPECT_FALSE(waiter_done(&w));
	EXPECT_EQ(1, fdinfo_get(a, "queued"));
	EXPECT_EQ(2, fdinfo_get(a, "threads"));

	if (move) {
		ASSERT_EQ(-ETIMEDOUT, cport_wait(b, &cqe, 1, 0));
	} else {
		ASSERT_EQ(0, leave(a, 0));
	}
	ASSERT_TRUE(wait_until(waiter_done(&w), PROGRESS_MS));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(2, w.cqes[0].user_data);
	EXPECT_EQ(0, fdinfo_get(a, "queued"));
	EXPECT_EQ(1, fdinfo_get(a, "running"));	/* the waiter */
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	EXPECT_EQ(0, fdinfo_get(a, "blocked_releases"));

	/* Its exit frees the slot in turn. */
	waiter_unpark(&w);
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_TRUE(fdinfo_wait(a, "threads", 0));
	EXPECT_EQ(0, fdinfo_get(a, "running"));
	cport_close(a);
	cport_close(b);
}

TEST_F_TIMEOUT(plain, leave_frees_slot, 60)
{
	frees_slot(_metadata, false);
}

TEST_F_TIMEOUT(plain, move_frees_slot, 60)
{
	frees_slot(_metadata, true);
}

/*
 * A wait that fails (here on a destroyed port, -EIDRM) is no wait: it
 * neither moves the calling thread from the port it counts on nor
 * associates it with the destroyed one.
 */
TEST_F_TIMEOUT(plain, failed_wait_keeps_association, 60)
{
	struct cport_cqe cqe;
	int a, b;

	a = port_new_flags(CPORT_SETUP_NO_BLOCK_TRACKING, 1,
			   CPORT_POLICY_LIFO, 0);
	b = port_new(1, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, cport_post(a, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(a, &cqe, 1, 0));
	ASSERT_EQ(0, cport_destroy(b));

	EXPECT_EQ(-EIDRM, cport_wait(b, &cqe, 1, 0));
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	EXPECT_EQ(1, fdinfo_get(a, "running"));
	EXPECT_EQ(0, fdinfo_get(b, "threads"));
	EXPECT_EQ(-ENOENT, leave(b, 0));
	EXPECT_EQ(0, leave(a, 0));
	cport_close(a);
	cport_close(b);
}

/* LEAVE is about the calling thread only. */
TEST_F_TIMEOUT(plain, leave_is_per_thread, 60)
{
	struct waiter w;
	int seq = 0, a;

	a = port_new(1, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, a);
	ASSERT_EQ(0, waiter_start_parked(&w, a, 1, -1, &seq));
	ASSERT_TRUE(fdinfo_wait(a, "waiters", 1));
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	EXPECT_EQ(-ENOENT, leave(a, 0));
	EXPECT_EQ(1, fdinfo_get(a, "threads"));
	ASSERT_EQ(0, cport_post(a, 0, 1, 0, 0));
	ASSERT_TRUE(wait_until(waiter_done(&w), PROGRESS_MS));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(-ENOENT, leave(a, 0));
	waiter_unpark(&w);
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_TRUE(fdinfo_wait(a, "threads", 0));
	cport_close(a);
}

/* ------------------------------------------------------------------ */
/* Teardown under associated threads                                    */

/*
 * The port is destroyed and closed while associated threads are blocked
 * (counted, then blocked in a pipe read), computing, and waiting.  The
 * waiters return -EIDRM; the others run on, find the descriptor gone and
 * exit: nothing hangs (and the debug kernel checks for leaks).
 */
TEST_F_TIMEOUT(compute, destroy_and_close_under_threads, 120)
{
	struct pool *p = &self->p;
	int i, eidrm = 0, ebadf = 0;

	ASSERT_EQ(0, pool_start(p, 0, 4, 6));
	post(_metadata, p, 0, A_BLOCK);
	post(_metadata, p, 1, A_BLOCK);
	post(_metadata, p, 2, A_GATE);
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(wait_until(load(&p->started[i]), PROGRESS_MS));
	ASSERT_TRUE(wait_blocked(p, tid_of(p, 0)));
	ASSERT_TRUE(wait_blocked(p, tid_of(p, 1)));
	ASSERT_TRUE(fdinfo_wait(p->port, "waiters", 3));
	EXPECT_EQ(6, fdinfo(p, "threads"));
	EXPECT_EQ(1, fdinfo(p, "running"));	/* the one computing */

	ASSERT_EQ(0, cport_destroy(p->port));
	ASSERT_EQ(0, close(p->port));
	p->port = -1;	/* (nothing opens a file until the joins) */
	store(&p->gate[2], 1);
	ASSERT_EQ(1, write(p->pipe[1], "x", 1));
	ASSERT_EQ(1, write(p->pipe[1], "x", 1));
	for (i = 0; i < p->nworkers; i++) {
		ASSERT_TRUE(join_bounded(p->w[i].thread)) {
			TH_LOG("worker %d hangs", i);
		}
		p->w[i].created = 0;
		eidrm += p->w[i].ret == -EIDRM;
		ebadf += p->w[i].ret == -EBADF;
	}
	EXPECT_EQ(3, eidrm);
	EXPECT_EQ(3, ebadf);
}

/*
 * A process killed with SIGKILL while its associated threads are blocked
 * (and one computes): the kill completes, the parent goes on.
 */
static int killed_child(int ready)
{
	struct cport_cqe cqe;
	struct pool p;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (pool_init(&p, BLOCK_PIPE) || pool_start(&p, 0, 1, 4))
		_exit(100);
	/* This thread too: associated, then blocked in read() below. */
	if (cport_wait(p.port, &cqe, 1, 0) != -ETIMEDOUT)
		_exit(101);
	for (i = 0; i < 3; i++)
		if (cport_post(p.port, A_BLOCK, i, 0, 0))
			_exit(102);
	/* Each blocks in turn, releasing the next. */
	for (i = 0; i < 3; i++) {
		if (!wait_until(load(&p.started[i]), PROGRESS_MS))
			_exit(103);
		if (!wait_blocked(&p, tid_of(&p, i)))
			_exit(104);
	}
	/* (Concurrency 1: the second and third came because of blocking.) */
	if (fdinfo_get(p.port, "threads") != 5 ||
	    fdinfo_get(p.port, "running") != 0)
		_exit(105);
	if (write(ready, "r", 1) != 1)
		_exit(106);
	for (;;)
		pause();
}

TEST_F_TIMEOUT(plain, sigkill_with_blocked_threads, 180)
{
	int rounds = slow_kernel() ? 3 : 5, r, fds[2], status;
	struct pollfd pfd;
	char byte;
	pid_t pid;

	for (r = 0; r < rounds; r++) {
		ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(fds[0]);
			killed_child(fds[1]);
		}
		close(fds[1]);
		pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
		EXPECT_EQ(1, poll(&pfd, 1, PROGRESS_MS));
		EXPECT_EQ(1, read(fds[0], &byte, 1)) {
			TH_LOG("round %d: the child did not get ready", r);
		}
		close(fds[0]);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_TRUE(wait_until(waitpid(pid, &status, WNOHANG) == pid,
				       PROGRESS_MS)) {
			TH_LOG("round %d: the killed child does not exit", r);
		}
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
			TH_LOG("round %d: status %#x", r, status);
		}
	}
}

/*
 * execve() by a thread that is associated (and counted): the association
 * outlives the old program's port (closed on exec) until the new program
 * waits on a port of its own, which moves it, or exits.
 */
#define EXEC_CHILD_ARG	"--cport-exec-child"

static int exec_child(void)
{
	struct cport_cqe cqe;
	int port = port_new(1, CPORT_POLICY_LIFO, 0);

	if (port < 0)
		return 1;
	if (cport_wait(port, &cqe, 1, 0) != -ETIMEDOUT)
		return 2;
	if (fdinfo_get(port, "threads") != 1)
		return 3;
	if (cport_post(port, 0, 1, 0, 0) || cport_wait(port, &cqe, 1, 0) != 1)
		return 4;
	/* Exits counted. */
	return 0;
}

TEST_F_TIMEOUT(plain, execve_while_associated, 60)
{
	int status, i;
	pid_t pid;

	for (i = 0; i < 2; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct cport_cqe cqe;
			int port = port_new(1, CPORT_POLICY_LIFO, 0);

			if (port < 0 || cport_post(port, 0, 1, 0, 0) ||
			    cport_wait(port, &cqe, 1, 0) != 1 ||
			    fdinfo_get(port, "running") != 1)
				_exit(100);
			/* The second time, the new program just exits. */
			execl("/proc/self/exe", "blocking_test",
			      i ? "--exit" : EXEC_CHILD_ARG, (char *)NULL);
			_exit(101);
		}
		ASSERT_TRUE(wait_until(waitpid(pid, &status, WNOHANG) == pid,
				       PROGRESS_MS));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			TH_LOG("round %d: status %#x", i, status);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], EXEC_CHILD_ARG))
		return exec_child();
	if (argc == 2 && !strcmp(argv[1], "--exit"))
		return 0;
	return test_harness_run(argc, argv);
}
