// SPDX-License-Identifier: GPL-2.0
/*
 * cport_pool: the thread pool over a port (<cport_pool.h>).  Bad input
 * gets its documented errno; work items all run, in order with one
 * thread; threads are made on demand up to the maximum and exit when
 * idle down to the minimum (the pool's counters and /proc/self/task
 * agree); a blocking callback lets another run under concurrency 1;
 * bindings deliver their socket's completions in order, cancel, time
 * out, unbind from their own callback; destroy runs or discards pending
 * work, cancels pending I/O, and leaves no thread and no descriptor.
 */
#include <stdatomic.h>
#include <sys/socket.h>

#include "cport_test.h"
#include "cport_pool.h"
#include "kselftest_harness.h"

static int task_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static struct cport_pool_stats stats(struct cport_pool *p)
{
	struct cport_pool_stats st;

	memset(&st, 0xff, sizeof(st));
	cport_pool_stats(p, &st);
	return st;
}

static atomic_int counter;

static void count_fn(struct cport_pool *p, void *arg)
{
	atomic_fetch_add(&counter, 1);
}

/* A gate the blocking work items wait on. */
static atomic_int gate, in_gate;

static void gate_fn(struct cport_pool *p, void *arg)
{
	atomic_fetch_add(&in_gate, 1);
	while (!atomic_load(&gate))
		usleep(1000);
	atomic_fetch_add(&counter, 1);
}

static void reset(void)
{
	atomic_store(&counter, 0);
	atomic_store(&gate, 0);
	atomic_store(&in_gate, 0);
}

static int self_ret;

static void destroy_self_fn(struct cport_pool *p, void *arg)
{
	self_ret = cport_pool_destroy(p, 0) * 1000 + cport_pool_wait_idle(p, 0);
}

static void nop_cb(struct cport_pool *p, const struct cport_cqe *cqe, void *c)
{
}

TEST(bad_input)
{
	struct cport_pool_opts o = { 0 };
	struct cport_pool *p = (void *)1;
	struct cport_pool_io *io, *io2;
	int fds[2], pfd[2], reg;

	ASSERT_EQ(-EINVAL, cport_pool_create(NULL, NULL));
	o.flags = 0x100;
	EXPECT_EQ(-EINVAL, cport_pool_create(&o, &p));
	EXPECT_EQ(NULL, p);
	o.flags = 0;
	o.min_threads = 3;
	o.max_threads = 2;
	EXPECT_EQ(-EINVAL, cport_pool_create(&o, &p));
	o.min_threads = 0;
	o.max_threads = CPORT_POOL_MAX_THREADS + 1;
	EXPECT_EQ(-EINVAL, cport_pool_create(&o, &p));
	o.max_threads = 0;
	o.concurrency = CPORT_MAX_CONCURRENCY + 1;
	EXPECT_EQ(-EINVAL, cport_pool_create(&o, &p));
	o.concurrency = 1;
	o.flags = CPORT_POOL_PORT;
	o.port = 0;
	EXPECT_EQ(-EINVAL, cport_pool_create(&o, &p));	/* both */
	o.concurrency = 0;
	o.port = -1;
	EXPECT_EQ(-EBADF, cport_pool_create(&o, &p));
	ASSERT_EQ(0, pipe(pfd));
	o.port = pfd[0];
	EXPECT_EQ(-ENOTTY, cport_pool_create(&o, &p));
	close(pfd[1]);

	ASSERT_EQ(0, cport_pool_create(NULL, &p));
	EXPECT_EQ(-EINVAL, cport_pool_submit(p, NULL, NULL));
	EXPECT_EQ(-EINVAL, cport_pool_set_threads(p, 2, 1));
	EXPECT_EQ(-EINVAL, cport_pool_set_threads(p, 0, 0));
	EXPECT_EQ(-EINVAL, cport_pool_set_threads(p, 0,
						  CPORT_POOL_MAX_THREADS + 1));
	EXPECT_EQ(-EINVAL, cport_pool_bind(p, 0, NULL, NULL, &io));
	EXPECT_EQ(-EBADF, cport_pool_bind(p, 1000, nop_cb, NULL, &io));
	/* A pipe can be bound since READ and WRITE; a regular file not. */
	reg = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, reg);
	EXPECT_EQ(-EOPNOTSUPP, cport_pool_bind(p, reg, nop_cb, NULL, &io));
	close(reg);
	close(pfd[0]);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
	ASSERT_EQ(0, cport_pool_bind(p, fds[0], nop_cb, NULL, &io));
	EXPECT_EQ(-EEXIST, cport_pool_bind(p, fds[0], nop_cb, NULL, &io2));
	EXPECT_EQ(NULL, io2);
	EXPECT_EQ(-EINVAL, cport_pool_io_wait(io, 0x10));
	/* Twice, while a started operation keeps it from being freed. */
	cport_pool_io_start(io);
	EXPECT_EQ(0, cport_pool_unbind(io, NULL));
	EXPECT_EQ(-EINVAL, cport_pool_unbind(io, NULL));
	cport_pool_io_cancel(io);	/* frees it */
	EXPECT_EQ(-EINVAL, cport_pool_destroy(p, 0x10));
	/* From its own callback: -EDEADLK, nothing done. */
	self_ret = 1;
	ASSERT_EQ(0, cport_pool_submit(p, destroy_self_fn, NULL));
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	EXPECT_EQ(-EDEADLK * 1000 - EDEADLK, self_ret);
	EXPECT_EQ(0, cport_pool_destroy(p, 0));
	close(fds[0]);
	close(fds[1]);
}

/* Every work item runs once; wait_idle returns when all have. */
TEST(work_all_run)
{
	struct cport_pool_opts o = { .max_threads = 4 };
	struct cport_pool *p;
	int i, n = slow_kernel() ? 200 : 2000;

	reset();
	ASSERT_EQ(0, cport_pool_create(&o, &p));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, cport_pool_submit(p, count_fn, NULL));
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	EXPECT_EQ(n, atomic_load(&counter));
	EXPECT_EQ((unsigned long long)n, stats(p).callbacks);
	EXPECT_GE(4, stats(p).peak);
	EXPECT_EQ(0, cport_pool_destroy(p, 0));
}

static int order[256];
static atomic_int order_n;

static void order_fn(struct cport_pool *p, void *arg)
{
	order[atomic_fetch_add(&order_n, 1)] = (int)(intptr_t)arg;
}

/* One thread: work items run in submission order. */
TEST(work_order_one_thread)
{
	struct cport_pool_opts o = { .max_threads = 1 };
	struct cport_pool *p;
	int i;

	atomic_store(&order_n, 0);
	ASSERT_EQ(0, cport_pool_create(&o, &p));
	for (i = 0; i < 256; i++)
		ASSERT_EQ(0, cport_pool_submit(p, order_fn, (void *)(intptr_t)i));
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	ASSERT_EQ(256, atomic_load(&order_n));
	for (i = 0; i < 256; i++)
		ASSERT_EQ(i, order[i]);
	EXPECT_EQ(1U, stats(p).peak);
	EXPECT_EQ(0, cport_pool_destroy(p, 0));
}

/*
 * Threads on demand: four items that block at once need four threads
 * (no more: the maximum); idle, they exit down to the minimum, and come
 * back on demand.
 */
TEST(threads_on_demand_and_idle_exit)
{
	struct cport_pool_opts o = {
		.concurrency = 4, .min_threads = 1, .max_threads = 4,
		.idle_ms = 100,
	};
	struct cport_pool_stats st;
	struct cport_pool *p;
	int base = task_count(), i;

	reset();
	ASSERT_EQ(0, cport_pool_create(&o, &p));
	st = stats(p);
	EXPECT_EQ(1U, st.threads);
	EXPECT_EQ(1ULL, st.created);
	EXPECT_TRUE(wait_until(task_count() == base + 1, PROGRESS_MS));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, cport_pool_submit(p, gate_fn, NULL));
	ASSERT_TRUE(wait_until(atomic_load(&in_gate) == 4, PROGRESS_MS));
	st = stats(p);
	EXPECT_EQ(4U, st.threads);
	EXPECT_EQ(4U, st.peak);
	EXPECT_EQ(4ULL, st.created);
	EXPECT_EQ(4U, st.running);
	EXPECT_EQ(0U, st.idle);
	/* At the maximum: a fifth item waits for a thread. */
	ASSERT_EQ(0, cport_pool_submit(p, count_fn, NULL));
	sleep_ms(GRACE_MS);
	EXPECT_EQ(0, atomic_load(&counter));
	EXPECT_EQ(4U, stats(p).threads);
	EXPECT_EQ(-ETIMEDOUT, cport_pool_wait_idle(p, 20 * NSEC_PER_MSEC));
	atomic_store(&gate, 1);
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	EXPECT_EQ(5, atomic_load(&counter));
	/* Idle: down to the minimum after idle_ms. */
	ASSERT_TRUE(wait_until(stats(p).threads == 1, PROGRESS_MS));
	st = stats(p);
	EXPECT_EQ(3ULL, st.exited);
	EXPECT_EQ(4U, st.peak);
	EXPECT_TRUE(wait_until(task_count() == base + 1, PROGRESS_MS));
	sleep_ms(300);	/* never below the minimum */
	EXPECT_EQ(1U, stats(p).threads);
	EXPECT_EQ(0, cport_pool_destroy(p, 0));
	EXPECT_TRUE(wait_until(task_count() == base, PROGRESS_MS));
}

/* Minimum 0: every thread exits when idle; work brings one back. */
TEST(min_zero)
{
	struct cport_pool_opts o = { .max_threads = 2, .idle_ms = 50 };
	struct cport_pool *p;
	int base = task_count();

	reset();
	ASSERT_EQ(0, cport_pool_create(&o, &p));
	EXPECT_EQ(0U, stats(p).threads);
	ASSERT_EQ(0, cport_pool_submit(p, count_fn, NULL));
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	ASSERT_TRUE(wait_until(stats(p).threads == 0, PROGRESS_MS));
	EXPECT_TRUE(wait_until(task_count() == base, PROGRESS_MS));
	ASSERT_EQ(0, cport_pool_submit(p, count_fn, NULL));
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	EXPECT_EQ(2, atomic_load(&counter));
	EXPECT_LE(2ULL, stats(p).created);
	EXPECT_EQ(0, cport_pool_destroy(p, 0));
}

static int sleep_each_ms;

static void sleep_fn(struct cport_pool *p, void *arg)
{
	sleep_ms(sleep_each_ms);
	atomic_fetch_add(&counter, 1);
}

/*
 * Concurrency 1: a callback that sleeps frees its slot (block tracking),
 * so three 300 ms sleeps (1 s on the slow debug kernel) overlap on three
 * threads instead of taking three times as long one after the other.
 */
TEST(blocking_callbacks_overlap)
{
	struct cport_pool_opts o = { .concurrency = 1, .max_threads = 4 };
	struct cport_pool *p;
	long long t0;

	reset();
	sleep_each_ms = slow_kernel() ? 1000 : 300;
	ASSERT_EQ(0, cport_pool_create(&o, &p));
	t0 = now_ns();
	ASSERT_EQ(0, cport_pool_submit(p, sleep_fn, NULL));
	ASSERT_EQ(0, cport_pool_submit(p, sleep_fn, NULL));
	ASSERT_EQ(0, cport_pool_submit(p, sleep_fn, NULL));
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	EXPECT_EQ(3, atomic_load(&counter));
	EXPECT_GT(sleep_each_ms * 26 / 10 * NSEC_PER_MSEC, now_ns() - t0);
	EXPECT_LE(3U, stats(p).peak);
	EXPECT_EQ(0, cport_pool_destroy(p, 0));
}

static void *open_gate_later(void *arg)
{
	sleep_ms(300);
	atomic_store(&gate, 1);
	return NULL;
}

/* Destroy with work pending: run all of it, or drop what has not started. */
TEST(destroy_with_work_pending)
{
	struct cport_pool_opts o = { .max_threads = 1 };
	struct cport_pool *p;
	int base_fd = fd_count(), base_task = task_count(), i, discard;
	pthread_t t;

	for (discard = 0; discard < 2; discard++) {
		reset();
		ASSERT_EQ(0, cport_pool_create(&o, &p));
		ASSERT_EQ(0, cport_pool_submit(p, gate_fn, NULL));
		for (i = 0; i < 100; i++)
			ASSERT_EQ(0, cport_pool_submit(p, count_fn, NULL));
		ASSERT_TRUE(wait_until(atomic_load(&in_gate) == 1,
				       PROGRESS_MS));
		/* The gate opens while destroy waits for the first item. */
		ASSERT_EQ(0, pthread_create(&t, NULL, open_gate_later, NULL));
		EXPECT_EQ(0, cport_pool_destroy(p, discard ?
						   CPORT_POOL_DISCARD : 0));
		pthread_join(t, NULL);
		/* Discarded: only the first item (already running) ran. */
		EXPECT_EQ(discard ? 1 : 101, atomic_load(&counter));
		EXPECT_EQ(base_fd, fd_count());
		EXPECT_TRUE(wait_until(task_count() == base_task,
				       PROGRESS_MS));
	}
}

/* --- Bindings ------------------------------------------------------------- */

struct conn {
	struct cport_pool_io *io;
	int fd;
	char buf[64];
	atomic_int results;	/* callbacks seen */
	long long res[16];
	char data[16][64];
	atomic_int released;
	bool unbind_in_cb;
};

static void conn_release(void *context)
{
	struct conn *c = context;

	/* Called once, after every callback returned. */
	atomic_fetch_add(&c->released, 1 + 100 * (atomic_load(&c->results) != 1));
}

static void conn_cb(struct cport_pool *p, const struct cport_cqe *cqe,
		    void *context)
{
	struct conn *c = context;
	int i = atomic_load(&c->results);

	if (i < 16) {
		c->res[i] = cqe->res;
		if (cqe->res > 0)
			memcpy(c->data[i], (void *)(uintptr_t)cqe->user_data,
			       cqe->res < 64 ? cqe->res : 64);
	}
	if (c->unbind_in_cb)
		cport_pool_unbind(c->io, conn_release);
	atomic_fetch_add(&c->results, 1);
}

static int recv_on(struct conn *c, void *buf, size_t len, __u64 timeout_ns)
{
	struct cport_sqe sqe;

	cport_prep_recv(&sqe, c->fd, buf, len, (uintptr_t)buf, 0);
	sqe.timeout_ns = timeout_ns;
	return cport_pool_io_submit(c->io, &sqe, 1);
}

FIXTURE(bound) {
	struct cport_pool *p;
	int fds[2];
	struct conn c;
};

FIXTURE_SETUP(bound)
{
	struct cport_pool_opts o = { .max_threads = 1, .idle_ms = 50 };

	memset(&self->c, 0, sizeof(self->c));
	ASSERT_EQ(0, cport_pool_create(&o, &self->p));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, self->fds));
	self->c.fd = self->fds[0];
	ASSERT_EQ(0, cport_pool_bind(self->p, self->fds[0], conn_cb, &self->c,
				     &self->c.io));
}

FIXTURE_TEARDOWN(bound)
{
	if (self->p)
		cport_pool_destroy(self->p, 0);
	close(self->fds[0]);
	close(self->fds[1]);
}

/* Three recvs complete in order, each into its own buffer, in order. */
TEST_F(bound, recv_order)
{
	static char bufs[3][8];
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(1, recv_on(&self->c, bufs[i], 4, 0));
	/* Minimum 0, but a binding with operations pending keeps a thread. */
	sleep_ms(200);
	EXPECT_LE(1U, stats(self->p).threads);
	ASSERT_EQ(12, write(self->fds[1], "aaaabbbbcccc", 12));
	ASSERT_EQ(0, cport_pool_io_wait(self->c.io, 0));
	ASSERT_EQ(3, atomic_load(&self->c.results));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(4, self->c.res[i]);
		EXPECT_EQ('a' + i, self->c.data[i][0]);
	}
	EXPECT_EQ(0, memcmp(bufs[1], "bbbb", 4));
	EXPECT_EQ(0, memcmp(bufs[2], "cccc", 4));
}

/* Data already there: the completion still comes through the callback. */
TEST_F(bound, immediate_completion_calls_back)
{
	ASSERT_EQ(3, write(self->fds[1], "xyz", 3));
	ASSERT_EQ(1, recv_on(&self->c, self->c.buf, sizeof(self->c.buf), 0));
	ASSERT_EQ(0, cport_pool_io_wait(self->c.io, 0));
	EXPECT_EQ(1, atomic_load(&self->c.results));
	EXPECT_EQ(3, self->c.res[0]);
}

TEST_F(bound, cancel)
{
	ASSERT_EQ(1, recv_on(&self->c, self->c.buf, sizeof(self->c.buf), 0));
	sleep_ms(50);
	EXPECT_EQ(0, atomic_load(&self->c.results));
	ASSERT_EQ(0, cport_pool_io_wait(self->c.io, CPORT_POOL_CANCEL));
	ASSERT_EQ(1, atomic_load(&self->c.results));
	EXPECT_EQ(-ECANCELED, self->c.res[0]);
}

TEST_F(bound, timeout)
{
	ASSERT_EQ(1, recv_on(&self->c, self->c.buf, sizeof(self->c.buf),
			     50 * NSEC_PER_MSEC));
	ASSERT_EQ(0, cport_pool_io_wait(self->c.io, 0));
	ASSERT_EQ(1, atomic_load(&self->c.results));
	EXPECT_EQ(-ETIMEDOUT, self->c.res[0]);
}

/* An operation that fails at submission is not counted: nothing to wait for. */
TEST_F(bound, failed_submission_not_counted)
{
	struct cport_sqe sqe;

	cport_prep_recv(&sqe, self->c.fd, self->c.buf, 0, 0,
			CPORT_RECV_FILL);	/* zero-byte with FILL: -EINVAL */
	EXPECT_EQ(-EINVAL, cport_pool_io_submit(self->c.io, &sqe, 1));
	EXPECT_EQ(0, cport_pool_io_wait(self->c.io, 0));
	/* Inline results are not counted either. */
	ASSERT_EQ(2, write(self->fds[1], "hi", 2));
	cport_prep_recv(&sqe, self->c.fd, self->c.buf, 8, 0, 0);
	sqe.flags = CPORT_SQE_INLINE;
	EXPECT_EQ(1, cport_pool_io_submit(self->c.io, &sqe, 1));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(2, sqe.res);
	EXPECT_EQ(0, cport_pool_io_wait(self->c.io, 0));
	EXPECT_EQ(0, atomic_load(&self->c.results));
}

/*
 * A callback unbinds its own binding: the release runs after that
 * callback has returned (conn_release() adds 100 if not).
 */
TEST_F(bound, unbind_from_own_callback)
{
	self->c.unbind_in_cb = true;
	ASSERT_EQ(1, recv_on(&self->c, self->c.buf, sizeof(self->c.buf), 0));
	ASSERT_EQ(1, write(self->fds[1], "!", 1));
	ASSERT_TRUE(wait_until(atomic_load(&self->c.released) != 0,
			       PROGRESS_MS));
	EXPECT_EQ(1, atomic_load(&self->c.released));
	EXPECT_EQ(1, atomic_load(&self->c.results));
}

/* Release from unbind: once the last started operation's callback ran. */
TEST_F(bound, unbind_release_after_pending)
{
	ASSERT_EQ(1, recv_on(&self->c, self->c.buf, sizeof(self->c.buf), 0));
	ASSERT_EQ(0, cport_pool_unbind(self->c.io, conn_release));
	sleep_ms(50);
	EXPECT_EQ(0, atomic_load(&self->c.released));
	ASSERT_EQ(1, write(self->fds[1], "!", 1));
	ASSERT_TRUE(wait_until(atomic_load(&self->c.released) != 0,
			       PROGRESS_MS));
	EXPECT_EQ(1, atomic_load(&self->c.released));
	EXPECT_EQ(1, self->c.res[0]);
}

/* Destroy with a recv pending: cancelled, its callback run, nothing left. */
TEST_F(bound, destroy_with_io_pending)
{
	int base_fd = fd_count();

	ASSERT_EQ(1, recv_on(&self->c, self->c.buf, sizeof(self->c.buf), 0));
	EXPECT_EQ(0, cport_pool_destroy(self->p, 0));
	self->p = NULL;
	EXPECT_EQ(1, atomic_load(&self->c.results));
	EXPECT_EQ(-ECANCELED, self->c.res[0]);
	EXPECT_EQ(base_fd - 1, fd_count());	/* the pool's port */
}

/* --- A port passed in -------------------------------------------------------- */

static atomic_llong other_key;

static void other_fn(struct cport_pool *p, const struct cport_cqe *cqe,
		     void *context)
{
	atomic_store(&other_key, (long long)cqe->key + (long long)(intptr_t)context);
}

TEST(existing_port)
{
	struct cport_pool_opts o = {
		.flags = CPORT_POOL_PORT, .max_threads = 2, .fn = other_fn,
		.context = (void *)1,
	};
	struct cport_pool *p;
	struct cport_cqe cqe;
	int port = cport_create(NULL), base;

	ASSERT_LE(0, port);
	base = task_count();
	o.port = port;
	reset();
	ASSERT_EQ(0, cport_pool_create(&o, &p));
	EXPECT_EQ(port, cport_pool_port(p));
	/* Minimum 0, but opts.fn keeps a thread for the program's posts. */
	EXPECT_EQ(1U, stats(p).threads);
	ASSERT_EQ(0, cport_post(port, 40, 0, 0, 0));	/* the program's key */
	ASSERT_TRUE(wait_until(atomic_load(&other_key) == 41, PROGRESS_MS));
	ASSERT_EQ(0, cport_pool_submit(p, count_fn, NULL));
	ASSERT_EQ(0, cport_pool_wait_idle(p, -1));
	EXPECT_EQ(1, atomic_load(&counter));
	EXPECT_EQ(0, cport_pool_destroy(p, 0));
	EXPECT_TRUE(wait_until(task_count() == base, PROGRESS_MS));
	/* The port is the program's again, empty: no quit packet left. */
	EXPECT_EQ(-ETIMEDOUT, cport_wait(port, &cqe, 1, 0));
	ASSERT_EQ(0, cport_post(port, 8, 9, 0, 0));
	ASSERT_EQ(1, cport_wait(port, &cqe, 1, 0));
	EXPECT_EQ(8ULL, cqe.key);
	cport_close(port);
}

TEST_HARNESS_MAIN
