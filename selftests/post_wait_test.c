// SPDX-License-Identifier: GPL-2.0
/*
 * Posting and waiting: a posted completion comes back exactly as given,
 * completions are dequeued in the order they were queued, in batches of
 * at most max_cqes, and the three kinds of timeout (zero, relative,
 * absolute CLOCK_MONOTONIC, none) behave as documented.  Elapsed time is
 * only checked from below: a bounded wait may not return early.
 */
#include <stdint.h>

#include "cport_test.h"
#include "kselftest_harness.h"

#define POISON	0xa5

FIXTURE(port) {
	int port;
	struct cport_cqe cqes[16];
};

FIXTURE_SETUP(port)
{
	self->port = cport_create(NULL);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
	memset(self->cqes, POISON, sizeof(self->cqes));
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

static bool poisoned(const struct cport_cqe *cqe)
{
	const unsigned char *p = (const unsigned char *)cqe;
	size_t i;

	for (i = 0; i < sizeof(*cqe); i++)
		if (p[i] != POISON)
			return false;
	return true;
}

TEST_F(port, post_then_wait_verbatim)
{
	static const struct {
		__u64 key, user_data;
		__s64 res;
		__u64 bytes;
	} v[] = {
		{ 0, 0, 0, 0 },
		{ 0xdeadbeefcafef00dULL, 0x0123456789abcdefULL, -EIO, 4096 },
		{ UINT64_MAX, UINT64_MAX, INT64_MIN, UINT64_MAX },
		{ 1, 2, INT64_MAX, 3 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		memset(self->cqes, POISON, sizeof(self->cqes));
		ASSERT_EQ(0, cport_post(self->port, v[i].key, v[i].user_data,
					v[i].res, v[i].bytes));
		ASSERT_EQ(1, cport_wait(self->port, self->cqes, 4, 0));
		EXPECT_EQ(v[i].key, self->cqes[0].key);
		EXPECT_EQ(v[i].user_data, self->cqes[0].user_data);
		EXPECT_EQ(v[i].res, self->cqes[0].res);
		EXPECT_EQ(v[i].bytes, self->cqes[0].bytes);
		EXPECT_EQ(CPORT_OP_POST, self->cqes[0].op);
		EXPECT_EQ(0, self->cqes[0].flags);
		EXPECT_EQ(0, self->cqes[0].resv0);
		EXPECT_EQ(0, self->cqes[0].buf);
		EXPECT_EQ(0, self->cqes[0].resv2);
		/* Only as many records as returned are written. */
		EXPECT_TRUE(poisoned(&self->cqes[1]));
	}
}

TEST_F(port, batches_in_queue_order)
{
	unsigned int i;
	__u64 next = 0;
	static const int expect[] = { 4, 4, 2 };

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, cport_post(self->port, 100 + i, i, i, i));
	for (i = 0; i < ARRAY_SIZE(expect); i++) {
		int n, j;

		memset(self->cqes, POISON, sizeof(self->cqes));
		n = cport_wait(self->port, self->cqes, 4, 0);
		ASSERT_EQ(expect[i], n);
		for (j = 0; j < n; j++, next++) {
			EXPECT_EQ(next, self->cqes[j].user_data);
			EXPECT_EQ(100 + next, self->cqes[j].key);
		}
		EXPECT_TRUE(poisoned(&self->cqes[n]));
	}
	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 4, 0));
}

/* With completions queued, a wait returns what is there, without waiting
 * to fill max_cqes. */
TEST_F(port, wait_returns_what_is_queued)
{
	ASSERT_EQ(0, cport_post(self->port, 1, 1, 0, 0));
	ASSERT_EQ(0, cport_post(self->port, 2, 2, 0, 0));
	ASSERT_EQ(2, cport_wait(self->port, self->cqes, 16, -1));
	EXPECT_EQ(1, self->cqes[0].user_data);
	EXPECT_EQ(2, self->cqes[1].user_data);
}

TEST_F(port, timeout_zero_empty)
{
	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_TRUE(poisoned(&self->cqes[0]));
	EXPECT_EQ(0, fdinfo_get(self->port, "waits_slept"));
}

TEST_F(port, timeout_relative)
{
	long long start = now_ns();

	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 1,
					 50 * NSEC_PER_MSEC));
	EXPECT_LE(50 * NSEC_PER_MSEC, now_ns() - start);
	EXPECT_TRUE(poisoned(&self->cqes[0]));
}

static int wait_abs(int port, struct cport_cqe *cqes, long long deadline)
{
	struct cport_enter e = {
		.cqes = (uintptr_t)cqes,
		.max_cqes = 1,
		.timeout_ns = deadline,
		.flags = CPORT_ENTER_ABSTIME,
	};

	return cport_enter(port, &e);
}

TEST_F(port, timeout_absolute)
{
	long long deadline;

	/* In the past, including time 0. */
	EXPECT_EQ(-ETIMEDOUT, wait_abs(self->port, self->cqes, 0));
	EXPECT_EQ(-ETIMEDOUT, wait_abs(self->port, self->cqes, 1));
	EXPECT_EQ(-ETIMEDOUT, wait_abs(self->port, self->cqes,
				       now_ns() - NSEC_PER_SEC));

	/* In the future: not before the deadline. */
	deadline = now_ns() + 50 * NSEC_PER_MSEC;
	EXPECT_EQ(-ETIMEDOUT, wait_abs(self->port, self->cqes, deadline));
	EXPECT_LE(deadline, now_ns());
	EXPECT_TRUE(poisoned(&self->cqes[0]));

	/* Something queued is returned whatever the deadline. */
	ASSERT_EQ(0, cport_post(self->port, 7, 7, 7, 7));
	EXPECT_EQ(1, wait_abs(self->port, self->cqes, 0));
	EXPECT_EQ(7, self->cqes[0].user_data);
}

struct poster {
	int port;
	pid_t waiter;
	int ret;
};

/* Post once the waiting thread is asleep in the port. */
static void *post_when_asleep(void *arg)
{
	struct poster *p = arg;

	if (!fdinfo_wait(p->port, "waiters", 1) ||
	    !task_wait_sleeping(p->waiter))
		p->ret = -ETIMEDOUT;
	else
		p->ret = cport_post(p->port, 42, 43, 44, 45);
	return NULL;
}

TEST_F(port, infinite_wait_woken_by_post)
{
	struct poster p = { .port = self->port, .waiter = sys_gettid() };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, post_when_asleep, &p));
	EXPECT_EQ(1, cport_wait(self->port, self->cqes, 4, -1));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, p.ret);
	EXPECT_EQ(42, self->cqes[0].key);
	EXPECT_EQ(43, self->cqes[0].user_data);
	EXPECT_EQ(44, self->cqes[0].res);
	EXPECT_EQ(45, self->cqes[0].bytes);
	EXPECT_EQ(CPORT_OP_POST, self->cqes[0].op);
	EXPECT_TRUE(poisoned(&self->cqes[1]));
	/* It slept, and the completion was handed to it. */
	EXPECT_EQ(1, fdinfo_get(self->port, "waits_slept"));
	EXPECT_EQ(1, fdinfo_get(self->port, "handoffs"));
}

TEST_F(port, bounded_wait_woken_by_post)
{
	struct poster p = { .port = self->port, .waiter = sys_gettid() };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, post_when_asleep, &p));
	EXPECT_EQ(1, cport_wait(self->port, self->cqes, 4,
				60 * NSEC_PER_SEC));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, p.ret);
	EXPECT_EQ(43, self->cqes[0].user_data);
}

TEST_F(port, submit_and_wait_own_posts)
{
	struct cport_sqe sqes[3];
	unsigned int submitted = 99, i;

	for (i = 0; i < 3; i++)
		cport_prep_post(&sqes[i], 10 + i, 20 + i, 30 + i, 40 + i);
	EXPECT_EQ(3, cport_submit_and_wait(self->port, sqes, 3, self->cqes, 3,
					   -1, &submitted));
	EXPECT_EQ(3, submitted);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(10 + i, self->cqes[i].key);
		EXPECT_EQ(20 + i, self->cqes[i].user_data);
		EXPECT_EQ(30 + i, self->cqes[i].res);
		EXPECT_EQ(40 + i, self->cqes[i].bytes);
	}

	/* Fewer cqes than submissions: the rest stay queued. */
	EXPECT_EQ(1, cport_submit_and_wait(self->port, sqes, 3, self->cqes, 1,
					   0, &submitted));
	EXPECT_EQ(3, submitted);
	EXPECT_EQ(20, self->cqes[0].user_data);
	EXPECT_EQ(2, cport_wait(self->port, self->cqes, 16, 0));
	EXPECT_EQ(21, self->cqes[0].user_data);
	EXPECT_EQ(22, self->cqes[1].user_data);
}

TEST_F(port, submit_returns_count)
{
	struct cport_sqe sqes[5];
	unsigned int i;

	for (i = 0; i < 5; i++)
		cport_prep_post(&sqes[i], i, i, i, i);
	EXPECT_EQ(5, cport_submit(self->port, sqes, 5));
	EXPECT_EQ(0, cport_submit(self->port, sqes, 0));
	EXPECT_EQ(5, port_drain(self->port, self->cqes, 16));
}

/* cport_prep_post() clears what an earlier use of the record left. */
TEST(prep_post_clears)
{
	struct cport_sqe sqe;

	memset(&sqe, 0xff, sizeof(sqe));
	cport_prep_post(&sqe, 1, 2, -3, 4);
	EXPECT_EQ(CPORT_OP_POST, sqe.opcode);
	EXPECT_EQ(0, sqe.status);
	EXPECT_EQ(0, sqe.flags);
	EXPECT_EQ(0, sqe.fd);
	EXPECT_EQ(2, sqe.user_data);
	EXPECT_EQ(0, sqe.addr);
	EXPECT_EQ(4, sqe.len);
	EXPECT_EQ(1, sqe.key);
	EXPECT_EQ(-3, sqe.res);
	EXPECT_EQ(0, sqe.timeout_ns);
	EXPECT_EQ(0, sqe.op_flags);
	EXPECT_EQ(0, sqe.bytes);
}

/*
 * CPORT_IOC_ENTER writes 'submitted' once its records are taken, before
 * it waits: another thread reads it while the caller sleeps.
 */
struct enter_thread {
	int port;
	struct cport_enter e;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	pid_t tid;
	int ret;
};

static void *enter_fn(void *arg)
{
	struct enter_thread *t = arg;

	__atomic_store_n(&t->tid, sys_gettid(), __ATOMIC_RELEASE);
	t->ret = cport_enter(t->port, &t->e);
	return NULL;
}

TEST_F(port, submitted_before_the_wait)
{
	struct enter_thread t = { .port = self->port };
	pthread_t th;
	int fds[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
	cport_prep_associate(&t.sqe, fds[0], 5, 0);
	t.e.sqes = (__u64)(uintptr_t)&t.sqe;
	t.e.nr_sqes = 1;
	t.e.cqes = (__u64)(uintptr_t)&t.cqe;
	t.e.max_cqes = 1;
	t.e.timeout_ns = -1;
	t.e.submitted = 99;
	ASSERT_EQ(0, pthread_create(&th, NULL, enter_fn, &t));
	ASSERT_TRUE(wait_until(__atomic_load_n(&t.tid, __ATOMIC_ACQUIRE),
			       PROGRESS_MS));
	ASSERT_TRUE(task_wait_sleeping(t.tid));
	EXPECT_EQ(1, __atomic_load_n(&t.e.submitted, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, cport_post(self->port, 0, 77, 0, 0));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(1, t.ret);
	EXPECT_EQ(77, t.cqe.user_data);
	close(fds[0]);
	close(fds[1]);
}

TEST_HARNESS_MAIN
