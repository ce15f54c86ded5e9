// SPDX-License-Identifier: GPL-2.0
/*
 * The bound on queued completions (cport_setup.max_queued): a POST over
 * the bound fails with -ENOSPC and disturbs nothing already queued; room
 * freed by a dequeue can be used again; a completion handed straight to a
 * waiting thread is not queued and does not count.
 */
#include "cport_test.h"
#include "kselftest_harness.h"

#define BOUND	8

FIXTURE(port) {
	int port;
	int seq;
	struct cport_sqe sqes[CPORT_MAX_ENTER];
	struct cport_cqe cqes[CPORT_MAX_ENTER];
};

FIXTURE_SETUP(port)
{
	self->port = port_new(0, CPORT_POLICY_LIFO, BOUND);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
	ASSERT_EQ(BOUND, fdinfo_get(self->port, "max_queued"));
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

TEST_F(port, post_over_bound)
{
	int i;

	for (i = 0; i < BOUND; i++)
		ASSERT_EQ(0, cport_post(self->port, 100 + i, i, -i, i));
	EXPECT_EQ(-ENOSPC, cport_post(self->port, 999, 999, 999, 999));
	EXPECT_EQ(-ENOSPC, cport_post(self->port, 999, 999, 999, 999));
	EXPECT_EQ(BOUND, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(BOUND, fdinfo_get(self->port, "posts"));

	/* All there, intact, in order. */
	ASSERT_EQ(BOUND, cport_wait(self->port, self->cqes, BOUND + 4, 0));
	for (i = 0; i < BOUND; i++) {
		EXPECT_EQ(i, self->cqes[i].user_data);
		EXPECT_EQ(100 + i, self->cqes[i].key);
		EXPECT_EQ(-i, self->cqes[i].res);
		EXPECT_EQ(i, self->cqes[i].bytes);
	}
	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 1, 0));
}

TEST_F(port, dequeue_makes_room)
{
	int i;

	for (i = 0; i < BOUND; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	ASSERT_EQ(-ENOSPC, cport_post(self->port, 0, 100, 0, 0));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(0, self->cqes[0].user_data);
	EXPECT_EQ(0, cport_post(self->port, 0, 101, 0, 0));
	EXPECT_EQ(-ENOSPC, cport_post(self->port, 0, 102, 0, 0));

	ASSERT_EQ(BOUND, cport_wait(self->port, self->cqes, BOUND, 0));
	for (i = 0; i < BOUND - 1; i++)
		EXPECT_EQ(i + 1, self->cqes[i].user_data);
	EXPECT_EQ(101, self->cqes[BOUND - 1].user_data);
}

/* A batch that runs into the bound: those before it are taken. */
TEST_F(port, batch_over_bound)
{
	unsigned int submitted = 99, i;

	for (i = 0; i < BOUND + 3; i++)
		cport_prep_post(&self->sqes[i], 0, i, 0, 0);
	ASSERT_EQ(0, cport_post(self->port, 0, 1000, 0, 0));
	EXPECT_EQ(-ENOSPC, cport_submit_and_wait(self->port, self->sqes,
						 BOUND + 3, NULL, 0, 0,
						 &submitted));
	EXPECT_EQ(BOUND - 1, submitted);
	/* ENOSPC stops the call before its wait, too. */
	EXPECT_EQ(-ENOSPC, cport_submit_and_wait(self->port, self->sqes, 1,
						 self->cqes, 1, -1,
						 &submitted));
	EXPECT_EQ(0, submitted);

	ASSERT_EQ(BOUND, cport_wait(self->port, self->cqes, BOUND + 3, 0));
	EXPECT_EQ(1000, self->cqes[0].user_data);
	for (i = 1; i < BOUND; i++)
		EXPECT_EQ(i - 1, self->cqes[i].user_data);
}

/* A handed-off completion never sits in the queue. */
TEST_F(port, handoff_does_not_count)
{
	struct waiter w;
	int i;

	for (i = 0; i < BOUND; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	/* Empty the queue with a waiter that then sleeps... */
	ASSERT_EQ(BOUND, cport_wait(self->port, self->cqes, BOUND, 0));
	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 1, 0));
	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	/* ...then fill it again: BOUND + 1 posts, one of them handed off. */
	for (i = 0; i < BOUND + 1; i++)
		EXPECT_EQ(0, cport_post(self->port, 0, 50 + i, 0, 0));
	EXPECT_EQ(-ENOSPC, cport_post(self->port, 0, 99, 0, 0));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(50, w.cqes[0].user_data);
	EXPECT_EQ(BOUND, fdinfo_get(self->port, "queued"));
}

/* The default bound, CPORT_DEFAULT_QUEUED, is enforced too. */
TEST_F_TIMEOUT(port, default_bound, 120)
{
	int port = cport_create(NULL);
	unsigned int submitted, i, total = 0;

	ASSERT_LE(0, port);
	for (i = 0; i < CPORT_MAX_ENTER; i++)
		cport_prep_post(&self->sqes[i], 0, i, 0, 0);
	while (total < CPORT_DEFAULT_QUEUED) {
		ASSERT_EQ(0, cport_submit_and_wait(port, self->sqes,
						   CPORT_MAX_ENTER, NULL, 0, 0,
						   &submitted));
		total += submitted;
	}
	EXPECT_EQ(CPORT_DEFAULT_QUEUED, total);
	EXPECT_EQ(-ENOSPC, cport_post(port, 0, 0, 0, 0));
	EXPECT_EQ(CPORT_DEFAULT_QUEUED, fdinfo_get(port, "queued"));
	EXPECT_EQ(CPORT_MAX_ENTER, cport_wait(port, self->cqes,
					      CPORT_MAX_ENTER, 0));
	EXPECT_EQ(0, cport_post(port, 0, 0, 0, 0));
	cport_close(port);
}

TEST_HARNESS_MAIN
