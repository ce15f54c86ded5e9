// SPDX-License-Identifier: GPL-2.0
/*
 * Which waiting thread a completion releases.  Threads start waiting one
 * by one, each only after the previous one is seen asleep in the port, so
 * the order in which they wait is known; completions are then posted one
 * at a time.  LIFO (the default) releases the most recent waiter, FIFO the
 * oldest, round robin the next thread in join order (here the same as
 * FIFO; policy_test tells them apart), and each completion releases
 * exactly one thread: the others stay asleep until the port is destroyed,
 * when they get -EIDRM.
 */
#include "cport_test.h"
#include "kselftest_harness.h"

#define NR_WAITERS	4

FIXTURE(order) {
	int port;
	int seq;
	struct waiter w[NR_WAITERS];
};

FIXTURE_VARIANT(order) {
	unsigned int policy;
};

FIXTURE_VARIANT_ADD(order, lifo) {
	.policy = CPORT_POLICY_LIFO,
};

FIXTURE_VARIANT_ADD(order, fifo) {
	.policy = CPORT_POLICY_FIFO,
};

/* Threads that wait in join order: round robin looks like FIFO here. */
FIXTURE_VARIANT_ADD(order, rr) {
	.policy = CPORT_POLICY_RR,
};

FIXTURE_SETUP(order)
{
	char policy[16];

	/* Enough concurrency that only the policy decides. */
	self->port = port_new(NR_WAITERS, variant->policy, 0);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
	ASSERT_EQ(0, fdinfo_str(self->port, "policy", policy, sizeof(policy)));
	ASSERT_STREQ(variant->policy == CPORT_POLICY_LIFO ? "lifo" :
		     variant->policy == CPORT_POLICY_FIFO ? "fifo" : "rr",
		     policy);
}

FIXTURE_TEARDOWN(order)
{
	cport_close(self->port);
}

/* Start the waiters in index order, each asleep before the next starts. */
static void start_waiters(struct __test_metadata *_metadata,
			  FIXTURE_DATA(order) *self)
{
	int i;

	for (i = 0; i < NR_WAITERS; i++) {
		ASSERT_EQ(0, waiter_start(&self->w[i], self->port, 1, -1,
					  &self->seq));
		ASSERT_TRUE(fdinfo_wait(self->port, "waiters", i + 1));
		ASSERT_TRUE(task_wait_sleeping(self->w[i].tid));
	}
}

/* The index of the waiter that returned @order-th, or -1. */
static int returned_as(struct waiter *w, int order)
{
	int i;

	for (i = 0; i < NR_WAITERS; i++)
		if (waiter_done(&w[i]) && w[i].order == order)
			return i;
	return -1;
}

TEST_F(order, one_post_at_a_time)
{
	int k, i;

	start_waiters(_metadata, self);
	for (k = 0; k < NR_WAITERS; k++) {
		int expect = variant->policy == CPORT_POLICY_LIFO ?
			     NR_WAITERS - 1 - k : k;

		ASSERT_EQ(0, cport_post(self->port, 1000 + k, k, -k, k));
		ASSERT_TRUE(wait_until(waiters_done(self->w, NR_WAITERS) == k + 1,
				       PROGRESS_MS));
		i = returned_as(self->w, k);
		ASSERT_EQ(expect, i);
		EXPECT_EQ(1, self->w[i].ret);
		EXPECT_EQ(k, self->w[i].cqes[0].user_data);
		EXPECT_EQ(1000 + k, self->w[i].cqes[0].key);
		EXPECT_EQ(-k, self->w[i].cqes[0].res);
		EXPECT_EQ(NR_WAITERS - 1 - k,
			  fdinfo_get(self->port, "waiters"));
	}
	for (i = 0; i < NR_WAITERS; i++)
		ASSERT_EQ(0, pthread_join(self->w[i].thread, NULL));
	EXPECT_EQ(NR_WAITERS, fdinfo_get(self->port, "handoffs"));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
}

TEST_F(order, exactly_one_released)
{
	int expect = variant->policy == CPORT_POLICY_LIFO ? NR_WAITERS - 1 : 0;
	int i;

	start_waiters(_metadata, self);
	ASSERT_EQ(0, cport_post(self->port, 1, 2, 3, 4));
	ASSERT_TRUE(wait_until(waiters_done(self->w, NR_WAITERS) == 1,
			       PROGRESS_MS));
	ASSERT_EQ(expect, returned_as(self->w, 0));
	EXPECT_EQ(1, self->w[expect].ret);
	EXPECT_EQ(2, self->w[expect].cqes[0].user_data);

	/* Nobody else moves. */
	sleep_ms(GRACE_MS);
	EXPECT_EQ(1, waiters_done(self->w, NR_WAITERS));
	EXPECT_EQ(NR_WAITERS - 1, fdinfo_get(self->port, "waiters"));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(1, fdinfo_get(self->port, "handoffs"));
	for (i = 0; i < NR_WAITERS; i++)
		if (i != expect)
			EXPECT_EQ('S', task_state(self->w[i].tid));

	/* Destroy releases the rest, with -EIDRM. */
	ASSERT_EQ(0, cport_destroy(self->port));
	for (i = 0; i < NR_WAITERS; i++) {
		ASSERT_EQ(0, pthread_join(self->w[i].thread, NULL));
		if (i != expect)
			EXPECT_EQ(-EIDRM, self->w[i].ret);
	}
}

/*
 * Threads that go back to waiting after each completion: under LIFO the
 * thread that just finished is the most recent waiter and gets the next
 * completion too (one hot thread does all the work); under FIFO it goes
 * to the back of the line and the work rotates.
 */
#define ROUNDS	(3 * NR_WAITERS)

struct looper {
	pthread_t thread;
	int port;
	int idx;
	int ret;
	int *log;		/* log[k]: index of the thread that got k */
	int *nlog;
};

static void *looper_fn(void *arg)
{
	struct looper *l = arg;
	struct cport_cqe cqe;

	for (;;) {
		l->ret = cport_wait(l->port, &cqe, 1, -1);
		if (l->ret != 1)
			break;
		if (cqe.user_data < ROUNDS)
			l->log[cqe.user_data] = l->idx;
		__atomic_fetch_add(l->nlog, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST_F(order, rewaiting_threads)
{
	struct looper l[NR_WAITERS];
	int log[ROUNDS], nlog = 0;
	int i, k;

	memset(log, 0xff, sizeof(log));
	for (i = 0; i < NR_WAITERS; i++) {
		l[i] = (struct looper){
			.port = self->port, .idx = i, .log = log, .nlog = &nlog,
		};
		ASSERT_EQ(0, pthread_create(&l[i].thread, NULL, looper_fn,
					    &l[i]));
		ASSERT_TRUE(fdinfo_wait(self->port, "waiters", i + 1));
	}
	for (k = 0; k < ROUNDS; k++) {
		int expect = variant->policy == CPORT_POLICY_LIFO ?
			     NR_WAITERS - 1 : k % NR_WAITERS;

		ASSERT_EQ(0, cport_post(self->port, 0, k, 0, 0));
		ASSERT_TRUE(wait_until(__atomic_load_n(&nlog, __ATOMIC_ACQUIRE)
				       == k + 1, PROGRESS_MS));
		/* Back asleep before the next completion. */
		ASSERT_TRUE(fdinfo_wait(self->port, "waiters", NR_WAITERS));
		EXPECT_EQ(expect, log[k]) {
			TH_LOG("completion %d", k);
		}
	}
	ASSERT_EQ(0, cport_destroy(self->port));
	for (i = 0; i < NR_WAITERS; i++) {
		ASSERT_EQ(0, pthread_join(l[i].thread, NULL));
		EXPECT_EQ(-EIDRM, l[i].ret);
	}
}

/*
 * Round robin at the concurrency value: a completion posted while the
 * port is at its limit is queued, and released when the running thread
 * blocks.  Each such release goes to the next thread in join order: a
 * pick the limit refused must not use up anyone's turn (it once did, and
 * W1 W2 W3 W1 W2 came out as W2 W3 W2 W3 W2).
 */
TEST(rr_at_the_limit)
{
	struct looper l[3];
	int log[ROUNDS], nlog = 0;
	struct cport_cqe cqe;
	int port, i, k;

	memset(log, 0xff, sizeof(log));
	port = port_new(1, CPORT_POLICY_RR, 0);
	ASSERT_LE(0, port);
	/* This thread joins first and takes the only slot. */
	ASSERT_EQ(0, cport_post(port, 0, 1000, 0, 0));
	ASSERT_EQ(1, cport_wait(port, &cqe, 1, 0));
	ASSERT_EQ(1, fdinfo_get(port, "running"));
	for (i = 0; i < 3; i++) {
		l[i] = (struct looper){
			.port = port, .idx = i, .log = log, .nlog = &nlog,
		};
		ASSERT_EQ(0, pthread_create(&l[i].thread, NULL, looper_fn,
					    &l[i]));
		ASSERT_TRUE(fdinfo_wait(port, "waiters", i + 1));
	}
	for (k = 0; k < 5; k++) {
		/* Posted at the limit: this thread runs, so it is queued... */
		ASSERT_EQ(0, cport_post(port, 0, k, 0, 0));
		/* ...and released when this thread blocks (it sleeps here). */
		ASSERT_TRUE(wait_until(__atomic_load_n(&nlog, __ATOMIC_ACQUIRE)
				       == k + 1, PROGRESS_MS));
		ASSERT_TRUE(fdinfo_wait(port, "waiters", 3));
		EXPECT_EQ(k % 3, log[k]) {
			TH_LOG("completion %d went to W%d", k, log[k] + 1);
		}
	}
	EXPECT_EQ(0, fdinfo_get(port, "queued"));
	ASSERT_EQ(0, cport_destroy(port));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, pthread_join(l[i].thread, NULL));
		EXPECT_EQ(-EIDRM, l[i].ret);
	}
	cport_close(port);
}

TEST_HARNESS_MAIN
