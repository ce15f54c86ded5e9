// SPDX-License-Identifier: GPL-2.0
/*
 * A thread that waits while completions are queued takes them without
 * sleeping (IOCP's "no context switch" case).  "Did not sleep" is read
 * from two counters, never from a clock: the port's waits_slept (fdinfo)
 * and the thread's voluntary_ctxt_switches (/proc/thread-self/status).
 * A control case that must sleep shows both counters do move.
 */
#include "cport_test.h"
#include "kselftest_harness.h"

/* The context-switch count may move for reasons of its own: retry. */
#define ATTEMPTS	5

FIXTURE(port) {
	int port;
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(port)
{
	self->port = cport_create(NULL);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
	/* Fault the buffers in: a page fault could sleep. */
	memset(self->cqes, 0, sizeof(self->cqes));
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

struct sample {
	long long waits, slept, vcsw;
};

static struct sample sample(int port)
{
	struct sample s;

	s.waits = fdinfo_get(port, "waits");
	s.slept = fdinfo_get(port, "waits_slept");
	s.vcsw = voluntary_switches();
	return s;
}

/*
 * Post @nr, then wait for up to @nr with no time limit, @ATTEMPTS times;
 * returns how many attempts went without a voluntary context switch.
 */
static int quiet_waits(struct __test_metadata *_metadata, int port,
		       struct cport_cqe *cqes, int nr)
{
	int attempt, i, quiet = 0;

	for (attempt = 0; attempt < ATTEMPTS; attempt++) {
		struct sample a, b;
		long long v0, v1;

		for (i = 0; i < nr; i++)
			ASSERT_EQ(0, cport_post(port, 0, i, 0, 0));
		a = sample(port);
		v0 = voluntary_switches();
		EXPECT_EQ(nr, cport_wait(port, cqes, nr, -1));
		v1 = voluntary_switches();
		b = sample(port);

		EXPECT_EQ(a.waits + 1, b.waits);
		EXPECT_EQ(a.slept, b.slept);
		ASSERT_LE(0, v0);
		quiet += v1 == v0;
	}
	return quiet;
}

TEST_F(port, one_queued)
{
	EXPECT_LT(0, quiet_waits(_metadata, self->port, self->cqes, 1));
}

TEST_F(port, batch_queued)
{
	EXPECT_LT(0, quiet_waits(_metadata, self->port, self->cqes, 8));
}

/* The zero timeout never sleeps either. */
TEST_F(port, zero_timeout_empty)
{
	struct sample a = sample(self->port), b;

	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 1, 0));
	b = sample(self->port);
	EXPECT_EQ(a.waits + 1, b.waits);
	EXPECT_EQ(a.slept, b.slept);
}

/* Control: an empty queue and a timeout do sleep, and both counters see it. */
TEST_F(port, empty_queue_sleeps)
{
	struct sample a = sample(self->port), b;
	/*
	 * Long enough to outlast the way to schedule(): on the debug kernel
	 * of a loaded host, 20 ms once expired before the thread slept.
	 */
	long long ms = slow_kernel() ? 500 : 20;

	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 1,
					 ms * NSEC_PER_MSEC));
	b = sample(self->port);
	EXPECT_EQ(a.waits + 1, b.waits);
	EXPECT_EQ(a.slept + 1, b.slept);
	EXPECT_LT(a.vcsw, b.vcsw);
}

TEST_HARNESS_MAIN
