// SPDX-License-Identifier: GPL-2.0
/*
 * Destroying a port (CPORT_IOC_DESTROY): every thread waiting on it
 * returns -EIDRM, whatever its timeout; queued completions are discarded;
 * every later call fails with -EIDRM.  close() alone does not wake a
 * waiter: the waiting thread holds the file, so its wait runs its course.
 */
#include "cport_test.h"
#include "kselftest_harness.h"

#define NR_WAITERS	4

FIXTURE(port) {
	int port;
	int seq;
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(port)
{
	self->port = port_new(NR_WAITERS, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(port)
{
	if (self->port >= 0)
		close(self->port);
}

static void *destroy_fn(void *arg)
{
	return (void *)(long)cport_destroy(*(int *)arg);
}

TEST_F(port, wakes_every_waiter)
{
	static const long long timeouts[NR_WAITERS] = {
		-1, 60 * NSEC_PER_SEC, -1, 3600 * NSEC_PER_SEC,
	};
	struct waiter w[NR_WAITERS];
	pthread_t destroyer;
	void *ret;
	int i;

	for (i = 0; i < NR_WAITERS; i++) {
		ASSERT_EQ(0, waiter_start(&w[i], self->port, 4, timeouts[i],
					  &self->seq));
		ASSERT_TRUE(fdinfo_wait(self->port, "waiters", i + 1));
	}
	ASSERT_EQ(0, pthread_create(&destroyer, NULL, destroy_fn, &self->port));
	ASSERT_EQ(0, pthread_join(destroyer, &ret));
	ASSERT_EQ(0, (long)ret);
	for (i = 0; i < NR_WAITERS; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(-EIDRM, w[i].ret) {
			TH_LOG("waiter %d", i);
		}
	}
	EXPECT_EQ(0, fdinfo_get(self->port, "waiters"));
	EXPECT_EQ(1, fdinfo_get(self->port, "destroyed"));
}

TEST_F(port, discards_queued)
{
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	EXPECT_EQ(3, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(0, fdinfo_get(self->port, "destroyed"));
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(1, fdinfo_get(self->port, "destroyed"));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, self->cqes, 8, 0));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, self->cqes, 8, -1));
	EXPECT_EQ(-EIDRM, cport_post(self->port, 0, 9, 0, 0));
	EXPECT_EQ(-EIDRM, cport_destroy(self->port));
}

/*
 * A thread held back by the concurrency value, with completions queued:
 * destroy wakes it with -EIDRM (not one of the discarded completions).
 */
TEST_F(port, wakes_waiter_held_back)
{
	struct waiter w;
	int port;

	port = port_slot_held();
	ASSERT_LE(0, port);
	ASSERT_EQ(0, waiter_start(&w, port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	EXPECT_FALSE(waiter_done(&w));
	EXPECT_EQ(1, fdinfo_get(port, "queued"));

	ASSERT_EQ(0, cport_destroy(port));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-EIDRM, w.ret);
	EXPECT_EQ(-EIDRM, cport_wait(port, self->cqes, 1, 0));
	close(port);
}

/*
 * close() of the descriptor while a thread waits on it: the wait is not
 * cut short (no -EBADF, no -EIDRM), it times out as it would have.
 */
TEST_F(port, close_does_not_wake)
{
	struct waiter w;

	ASSERT_EQ(0, waiter_start(&w, self->port, 1, 5 * NSEC_PER_SEC,
				  &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	ASSERT_FALSE(waiter_done(&w));
	ASSERT_EQ(0, close(self->port));
	self->port = -1;
	sleep_ms(GRACE_MS);
	EXPECT_FALSE(waiter_done(&w));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-ETIMEDOUT, w.ret);
}

/*
 * The same through a second descriptor of the port: closing one does not
 * wake the waiter; destroying through the other does.
 */
TEST_F(port, close_one_descriptor_then_destroy)
{
	struct waiter w;
	int other = dup(self->port);

	ASSERT_LE(0, other);
	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_EQ(0, close(self->port));
	self->port = other;
	sleep_ms(GRACE_MS);
	EXPECT_FALSE(waiter_done(&w));
	EXPECT_EQ(1, fdinfo_get(other, "waiters"));

	ASSERT_EQ(0, cport_destroy(other));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(-EIDRM, w.ret);
}

/* close() without destroy frees what is still queued. */
TEST_F(port, close_with_queued_completions)
{
	int i;

	/*
	 * Nothing to assert here beyond the calls' results: the kernel log
	 * watcher (KASAN, kmemleak) sees a leak or a use after free.
	 */
	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	ASSERT_EQ(0, close(self->port));
	self->port = -1;
}

TEST_HARNESS_MAIN
