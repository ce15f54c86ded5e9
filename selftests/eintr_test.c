// SPDX-License-Identifier: GPL-2.0
/*
 * Signals and waits.  A signal (handler installed without SA_RESTART)
 * interrupts a wait with -EINTR and dequeues nothing.  A signal racing a
 * completion handed to the same thread never loses the completion and
 * never delivers it twice: many rounds of "post a unique cookie, signal
 * the waiter" (in both orders) must deliver every cookie exactly once.
 */
#include <signal.h>

#include "cport_test.h"
#include "kselftest_harness.h"

#define STOP_COOKIE	(~0ULL)

static int handled;

static void on_signal(int sig)
{
	__atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);
}

FIXTURE(port) {
	int port;
	int seq;
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(port)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: the wait must come back with -EINTR. */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	self->port = port_new(0, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

static void signal_when_asleep(struct __test_metadata *_metadata,
			       int port, struct waiter *w)
{
	ASSERT_TRUE(fdinfo_wait(port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w->tid));
	ASSERT_EQ(0, pthread_kill(w->thread, SIGUSR1));
	ASSERT_EQ(0, pthread_join(w->thread, NULL));
}

TEST_F(port, infinite_wait_interrupted)
{
	struct waiter w;

	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1, &self->seq));
	signal_when_asleep(_metadata, self->port, &w);
	EXPECT_EQ(-EINTR, w.ret);
	EXPECT_EQ(1, __atomic_load_n(&handled, __ATOMIC_RELAXED));
	EXPECT_EQ(0, fdinfo_get(self->port, "waiters"));

	/* The port works on. */
	ASSERT_EQ(0, cport_post(self->port, 1, 2, 3, 4));
	EXPECT_EQ(1, port_drain(self->port, self->cqes, 8));
}

TEST_F(port, bounded_wait_interrupted)
{
	struct waiter w;

	ASSERT_EQ(0, waiter_start(&w, self->port, 1, 60 * NSEC_PER_SEC,
				  &self->seq));
	signal_when_asleep(_metadata, self->port, &w);
	EXPECT_EQ(-EINTR, w.ret);
}

/*
 * A thread held back by the concurrency value with a completion queued:
 * interrupted, it returns -EINTR and the completion stays queued.
 */
TEST_F(port, interrupted_waiter_dequeues_nothing)
{
	struct waiter w;
	int port;

	port = port_slot_held();
	ASSERT_LE(0, port);

	ASSERT_EQ(0, waiter_start(&w, port, 1, -1, &self->seq));
	signal_when_asleep(_metadata, port, &w);
	EXPECT_EQ(-EINTR, w.ret);
	EXPECT_EQ(1, fdinfo_get(port, "queued"));
	ASSERT_EQ(1, port_drain(port, self->cqes, 8));
	EXPECT_EQ(2, self->cqes[0].user_data);
	cport_close(port);
}

struct racer {
	pthread_t thread;
	int port;
	unsigned int rounds;
	unsigned char *seen;	/* per cookie: times received */
	unsigned int received;	/* atomic */
	unsigned int strays;	/* cookies out of range */
	unsigned int eintr;
	int ret;		/* the error that ended the loop, or 0 */
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	struct cport_cqe cqe;
	bool stop = false;
	int ret;

	while (!stop) {
		ret = cport_wait(r->port, &cqe, 1, -1);
		if (ret == -EINTR) {
			r->eintr++;
			continue;
		}
		if (ret != 1) {
			r->ret = ret;
			break;
		}
		if (cqe.user_data == STOP_COOKIE) {
			stop = true;
		} else if (cqe.user_data >= r->rounds) {
			r->strays++;
		} else {
			r->seen[cqe.user_data]++;
			__atomic_fetch_add(&r->received, 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(port, signal_races_post, 300)
{
	struct racer r = { .port = self->port };
	unsigned int i, lost = 0, dup = 0;

	r.rounds = slow_kernel() ? 500 : 2000;
	r.seen = calloc(r.rounds, 1);
	ASSERT_NE(NULL, r.seen);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, racer_fn, &r));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));

	for (i = 0; i < r.rounds; i++) {
		if (i & 1) {
			ASSERT_EQ(0, cport_post(self->port, i, i, i, 0));
			ASSERT_EQ(0, pthread_kill(r.thread, SIGUSR1));
		} else {
			ASSERT_EQ(0, pthread_kill(r.thread, SIGUSR1));
			ASSERT_EQ(0, cport_post(self->port, i, i, i, 0));
		}
		/* The cookie must arrive; a lost one never does. */
		ASSERT_TRUE(wait_until(__atomic_load_n(&r.received,
						       __ATOMIC_ACQUIRE) >= i + 1,
				       PROGRESS_MS)) {
			TH_LOG("cookie %u never arrived (racer ret %d)", i,
			       r.ret);
		}
	}
	ASSERT_EQ(0, cport_post(self->port, 0, STOP_COOKIE, 0, 0));
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	EXPECT_EQ(0, r.ret);

	/* Nothing left behind, nothing twice, nothing made up. */
	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
	for (i = 0; i < r.rounds; i++) {
		lost += r.seen[i] == 0;
		dup += r.seen[i] > 1;
	}
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, r.strays);
	EXPECT_EQ(r.rounds, r.received);
	TH_LOG("%u rounds, %u interrupted waits", r.rounds, r.eintr);
	free(r.seen);
}

TEST_HARNESS_MAIN
