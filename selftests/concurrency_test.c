// SPDX-License-Identifier: GPL-2.0
/*
 * The concurrency value: at most that many of the port's threads run at
 * once.  A thread that returns from a wait with completions counts as
 * running until it waits on the port again; while the running count is at
 * the limit, queued completions stay queued and sleeping waiters stay
 * asleep, and a running thread that waits again takes a queued completion
 * itself without sleeping.
 *
 * These tests are about that count alone, so their ports are set up with
 * CPORT_SETUP_NO_BLOCK_TRACKING (a counted thread keeps its slot while it
 * sleeps between stages or in pthread_join()), and the threads they count
 * stay alive (an exited thread frees its slot): see blocking_test.c for
 * blocking and exit.
 */
#define _GNU_SOURCE
#include "sock_util.h"	/* fd_ready(), with cport_test.h and the harness */

FIXTURE(port) {
	int port;
	int seq;
	long long old_grace;	/* grace_us before port_grace() */
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(port)
{
	self->port = -1;
	self->old_grace = -1;
}

FIXTURE_TEARDOWN(port)
{
	if (self->port >= 0)
		cport_close(self->port);
	if (self->old_grace > 0)
		write_param(PARAM_GRACE, self->old_grace);
}

/*
 * Make the grace @us long for this test (the teardown puts it back), so
 * that its steps fit in one grace even on the debug kernels; the grace in
 * effect, in nanoseconds.
 */
static long long port_grace(FIXTURE_DATA(port) *self, long us)
{
	long long old = read_param(PARAM_GRACE);

	if (old > 0 && !write_param(PARAM_GRACE, us)) {
		self->old_grace = old;
		return us * 1000LL;
	}
	return (old > 0 ? old : 1000) * 1000LL;
}

static void open_port(struct __test_metadata *_metadata,
		      FIXTURE_DATA(port) *self, unsigned int concurrency,
		      unsigned int flags)
{
	self->port = port_new_flags(flags, concurrency, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
	ASSERT_EQ(concurrency, fdinfo_get(self->port, "concurrency"));
	ASSERT_EQ(!(flags & CPORT_SETUP_NO_BLOCK_TRACKING),
		  fdinfo_get(self->port, "block_tracking"));
}

#define UNTRACKED	CPORT_SETUP_NO_BLOCK_TRACKING

/*
 * A thread that waits, then waits again when told to (stage by stage), so
 * the test can watch what a released thread does on its next wait.
 */
struct worker {
	pthread_t thread;
	int port;
	pid_t tid;
	int go;			/* stages the thread may start */
	int stage;		/* stages finished */
	int ret[3];
	struct cport_cqe cqe[3];
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	int i;

	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++) {
		while (__atomic_load_n(&w->go, __ATOMIC_ACQUIRE) <= i)
			usleep(1000);
		w->ret[i] = cport_wait(w->port, &w->cqe[i], 1, -1);
		__atomic_store_n(&w->stage, i + 1, __ATOMIC_RELEASE);
		if (w->ret[i] < 0)
			break;
	}
	return NULL;
}

static int worker_start(struct worker *w, int port)
{
	memset(w, 0, sizeof(*w));
	w->port = port;
	w->go = 1;
	if (pthread_create(&w->thread, NULL, worker_fn, w))
		return -1;
	return wait_until(__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE),
			  PROGRESS_MS) ? 0 : -1;
}

static int stage(struct worker *w)
{
	return __atomic_load_n(&w->stage, __ATOMIC_ACQUIRE);
}

/*
 * Concurrency 1, two threads asleep, two completions: one thread is
 * released, the other completion stays queued; the released thread takes
 * it on its next wait without sleeping.
 */
TEST_F(port, one_running_two_queued)
{
	struct worker w[2];
	struct cport_sqe sqes[2];
	long long slept;
	int i;

	open_port(_metadata, self, 1, UNTRACKED);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, worker_start(&w[i], self->port));
		ASSERT_TRUE(fdinfo_wait(self->port, "waiters", i + 1));
	}
	cport_prep_post(&sqes[0], 0, 100, 0, 0);
	cport_prep_post(&sqes[1], 0, 101, 0, 0);
	ASSERT_EQ(2, cport_submit(self->port, sqes, 2));

	/* LIFO: the second waiter gets the first completion. */
	ASSERT_TRUE(wait_until(stage(&w[1]) == 1, PROGRESS_MS));
	EXPECT_EQ(1, w[1].ret[0]);
	EXPECT_EQ(100, w[1].cqe[0].user_data);

	sleep_ms(GRACE_MS);
	EXPECT_EQ(0, stage(&w[0]));
	EXPECT_EQ('S', task_state(w[0].tid));
	EXPECT_EQ(1, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(1, fdinfo_get(self->port, "waiters"));
	EXPECT_EQ(1, fdinfo_get(self->port, "running"));

	/* Its next wait takes the second one at once. */
	slept = fdinfo_get(self->port, "waits_slept");
	__atomic_store_n(&w[1].go, 2, __ATOMIC_RELEASE);
	ASSERT_TRUE(wait_until(stage(&w[1]) == 2, PROGRESS_MS));
	EXPECT_EQ(1, w[1].ret[1]);
	EXPECT_EQ(101, w[1].cqe[1].user_data);
	EXPECT_EQ(slept, fdinfo_get(self->port, "waits_slept"));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(0, stage(&w[0]));
	EXPECT_EQ(1, fdinfo_get(self->port, "running"));

	/* Destroy releases both, the sleeper and the one waiting again. */
	__atomic_store_n(&w[1].go, 3, __ATOMIC_RELEASE);
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 2));
	ASSERT_EQ(0, cport_destroy(self->port));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
	EXPECT_EQ(-EIDRM, w[0].ret[0]);
	EXPECT_EQ(-EIDRM, w[1].ret[2]);
}

/*
 * Concurrency 1 and the main thread holds the slot: a waiter stays asleep
 * although a completion is queued; the main thread takes that completion
 * itself on its next wait; once the main thread waits again and finds
 * nothing, the slot is free and the next post releases the waiter.
 */
TEST_F(port, waiter_blocked_while_at_limit)
{
	struct waiter b;
	long long slept;

	open_port(_metadata, self, 1, UNTRACKED);
	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	ASSERT_EQ(1, fdinfo_get(self->port, "running"));

	ASSERT_EQ(0, cport_post(self->port, 0, 2, 0, 0));
	ASSERT_EQ(0, waiter_start(&b, self->port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(b.tid));
	sleep_ms(GRACE_MS);
	EXPECT_FALSE(waiter_done(&b));
	EXPECT_EQ(1, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(1, fdinfo_get(self->port, "running"));

	slept = fdinfo_get(self->port, "waits_slept");
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, -1));
	EXPECT_EQ(2, self->cqes[0].user_data);
	EXPECT_EQ(slept, fdinfo_get(self->port, "waits_slept"));
	EXPECT_FALSE(waiter_done(&b));
	EXPECT_EQ(1, fdinfo_get(self->port, "waiters"));

	/* Waiting again with nothing queued gives up the slot. */
	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "running"));
	EXPECT_FALSE(waiter_done(&b));

	ASSERT_EQ(0, cport_post(self->port, 0, 3, 0, 0));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(3, b.cqes[0].user_data);
}

/*
 * A running thread whose wait fails to copy its completions out (-EFAULT)
 * returns with nothing: it no longer counts as running, and the completion
 * it gave back must release the thread that was held back by the limit.
 */
TEST_F(port, failed_copy_frees_slot)
{
	struct waiter b;

	open_port(_metadata, self, 1, UNTRACKED);
	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));

	ASSERT_EQ(0, cport_post(self->port, 0, 2, 0, 0));
	ASSERT_EQ(0, waiter_start(&b, self->port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	sleep_ms(GRACE_MS);
	EXPECT_FALSE(waiter_done(&b));

	ASSERT_EQ(-EFAULT, cport_wait(self->port, NULL, 1, 0));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(2, b.cqes[0].user_data);
}

/*
 * A released waiter takes what else is queued, up to its max_cqes, in
 * the same wait.  (The completions are all queued behind the limit
 * before the slot frees, so the outcome does not depend on timing.)
 */
TEST_F(port, released_waiter_takes_batch)
{
	struct waiter b;
	int i;

	open_port(_metadata, self, 1, UNTRACKED);
	ASSERT_EQ(0, cport_post(self->port, 0, 0, 0, 0));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));

	ASSERT_EQ(0, waiter_start(&b, self->port, 8, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	EXPECT_FALSE(waiter_done(&b));

	ASSERT_EQ(-EFAULT, cport_wait(self->port, NULL, 1, 0));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	ASSERT_EQ(3, b.ret);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(i + 1, b.cqes[i].user_data);
}

/*
 * Concurrency 2, three waiters, three completions: two released.  The
 * released ones stay alive (parked), so they keep counting.
 */
TEST_F(port, two_of_three_released)
{
	struct waiter w[3];
	struct cport_sqe sqes[3];
	int i;

	open_port(_metadata, self, 2, UNTRACKED);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, waiter_start_parked(&w[i], self->port, 1, -1,
						 &self->seq));
		ASSERT_TRUE(fdinfo_wait(self->port, "waiters", i + 1));
	}
	for (i = 0; i < 3; i++)
		cport_prep_post(&sqes[i], 0, 10 + i, 0, 0);
	ASSERT_EQ(3, cport_submit(self->port, sqes, 3));

	ASSERT_TRUE(wait_until(waiters_done(w, 3) == 2, PROGRESS_MS));
	sleep_ms(GRACE_MS);
	EXPECT_EQ(2, waiters_done(w, 3));
	/* LIFO: the two most recent waiters, in queue order. */
	EXPECT_FALSE(waiter_done(&w[0]));
	EXPECT_EQ(10, w[2].cqes[0].user_data);
	EXPECT_EQ(11, w[1].cqes[0].user_data);
	EXPECT_EQ(1, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(1, fdinfo_get(self->port, "waiters"));
	EXPECT_EQ(2, fdinfo_get(self->port, "running"));

	ASSERT_EQ(0, cport_destroy(self->port));
	for (i = 0; i < 3; i++) {
		waiter_unpark(&w[i]);
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
	}
	EXPECT_EQ(-EIDRM, w[0].ret);
}

/* A batch dequeue counts its thread once. */
TEST_F(port, batch_counts_once)
{
	int i;

	open_port(_metadata, self, 2, 0);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	ASSERT_EQ(5, cport_wait(self->port, self->cqes, 8, 0));
	EXPECT_EQ(1, fdinfo_get(self->port, "running"));
	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 8, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "running"));
}

/*
 * Every CPU busy (uapi CPORT_SETUP_EAGER_RELEASE): while threads of the
 * port compute on all CPUs but the poster's, a completion posted from a
 * busy CPU releases nobody at once (busy_holds); a running thread's next
 * wait takes it, or the grace (1 ms by default) releases a waiter for it.
 * These ports track blocking (the spinners never block).
 */
#define MAX_SPINNERS	7

/* Takes one completion, computes until stopped, then only looks. */
struct spinner {
	pthread_t thread;
	int port;
	int spinning;
	int stop;
	int take;		/* looks asked for meanwhile */
	int took;		/* looks done */
	int ret[3];
	struct cport_cqe cqe[3];
};

static void *spinner_fn(void *arg)
{
	struct spinner *s = arg;

	s->ret[0] = cport_wait(s->port, &s->cqe[0], 1, -1);
	__atomic_store_n(&s->spinning, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		/* Counts as running, never blocked; may look once. */
		if (__atomic_load_n(&s->take, __ATOMIC_ACQUIRE) != s->took) {
			s->ret[2] = cport_wait(s->port, &s->cqe[2], 1, 0);
			__atomic_store_n(&s->took, s->took + 1,
					 __ATOMIC_RELEASE);
		}
	}
	s->ret[1] = cport_wait(s->port, &s->cqe[1], 1, 0);
	return NULL;
}

/*
 * Open a port of @flags with the online CPUs as its concurrency value and
 * make one fewer threads than CPUs compute on it; then put @b to sleep in
 * it.  Returns how many spinners run, 0 to skip.
 */
static int __busy_port(struct __test_metadata *_metadata,
		       FIXTURE_DATA(port) *self, unsigned int flags,
		       unsigned int concurrency, struct spinner *sp,
		       struct waiter *b)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int i, n = cpus - 1;

	if (cpus < 2 || n > MAX_SPINNERS)
		return 0;
	open_port(_metadata, self, concurrency ?: cpus, flags);
	for (i = 0; i < n; i++) {
		memset(&sp[i], 0, sizeof(sp[i]));
		sp[i].port = self->port;
		if (pthread_create(&sp[i].thread, NULL, spinner_fn, &sp[i]))
			return -1;
		if (!fdinfo_wait(self->port, "waiters", 1) ||
		    cport_post(self->port, 0, i, 0, 0) ||
		    !wait_until(__atomic_load_n(&sp[i].spinning,
						__ATOMIC_ACQUIRE), PROGRESS_MS))
			return -1;
	}
	if (fdinfo_get(self->port, "running") != n ||
	    waiter_start(b, self->port, 1, -1, &self->seq) ||
	    !fdinfo_wait(self->port, "waiters", 1) ||
	    !task_wait_sleeping(b->tid))
		return -1;
	return n;
}

/* __busy_port() in a test: skips it when the CPUs do not fit. */
#define busy_port(flags, concurrency, sp, b) ({				\
	int __n = __busy_port(_metadata, self, flags, concurrency, sp, b); \
									\
	if (!__n)							\
		SKIP(return, "needs 2 to %d online CPUs",		\
		     MAX_SPINNERS + 1);					\
	ASSERT_LT(0, __n);						\
	__n;								\
})

static void spinners_stop(struct spinner *sp, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		__atomic_store_n(&sp[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(sp[i].thread, NULL);
	}
}

/* Nobody comes back for it: the grace releases the sleeper. */
TEST_F(port, busy_cpus_hold_a_release)
{
	struct spinner sp[MAX_SPINNERS];
	long long handoffs;
	struct waiter b;
	int n, i;

	n = busy_port(0, 0, sp, &b);
	EXPECT_EQ(0, fdinfo_get(self->port, "busy_holds"));
	handoffs = fdinfo_get(self->port, "handoffs");

	ASSERT_EQ(0, cport_post(self->port, 0, 100, 0, 0));
	/* This CPU and the spinners' are busy: held, whatever comes next. */
	EXPECT_EQ(1, fdinfo_get(self->port, "busy_holds"));
	ASSERT_TRUE(wait_until(waiter_done(&b), PROGRESS_MS));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(100, b.cqes[0].user_data);
	EXPECT_EQ(handoffs + 1, fdinfo_get(self->port, "handoffs"));
	EXPECT_EQ(1, fdinfo_get(self->port, "busy_holds"));

	spinners_stop(sp, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(1, sp[i].ret[0]);
		EXPECT_EQ(-ETIMEDOUT, sp[i].ret[1]);
	}
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
}

/* Windows' rule, asked for: released at once, never held. */
TEST_F(port, eager_release_never_holds)
{
	struct spinner sp[MAX_SPINNERS];
	struct waiter b;
	int n;

	n = busy_port(CPORT_SETUP_EAGER_RELEASE, 0, sp, &b);
	ASSERT_EQ(0, cport_post(self->port, 0, 100, 0, 0));
	ASSERT_TRUE(wait_until(waiter_done(&b), PROGRESS_MS));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(100, b.cqes[0].user_data);
	EXPECT_EQ(0, fdinfo_get(self->port, "busy_holds"));
	spinners_stop(sp, n);
	EXPECT_EQ(-ETIMEDOUT, sp[0].ret[1]);
}

/*
 * A spinner that waits again right after the post takes what was held
 * (or, if the grace ran out first, the sleeper has it): exactly one of
 * them, never both, never neither.
 */
TEST_F(port, running_thread_takes_held_work)
{
	struct spinner sp[MAX_SPINNERS];
	struct waiter b;
	int n, got;

	n = busy_port(0, 0, sp, &b);
	ASSERT_EQ(0, cport_post(self->port, 0, 100, 0, 0));
	spinners_stop(sp, 1);
	EXPECT_EQ(1, fdinfo_get(self->port, "busy_holds"));
	got = sp[0].ret[1] == 1;
	if (got) {
		EXPECT_EQ(100, sp[0].cqe[1].user_data);
		/* The spinner exited: the next post goes to the sleeper. */
		ASSERT_EQ(0, cport_post(self->port, 0, 101, 0, 0));
	} else {
		TH_LOG("the grace ran out before the spinner waited");
		EXPECT_EQ(-ETIMEDOUT, sp[0].ret[1]);
	}
	ASSERT_TRUE(wait_until(waiter_done(&b), PROGRESS_MS));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(got ? 101 : 100, b.cqes[0].user_data);
	spinners_stop(sp + 1, n - 1);
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
}

/*
 * A running thread that takes what was held starts the grace again:
 * what is posted next is not released when the first grace ends, but at
 * the end of the next (grace_renewed; 2.5 graces long, scaled by the one
 * take), and then exactly once.  This thread
 * spins meanwhile: the renewal looks at the CPUs again, and would release
 * at once onto this one if it had gone idle.  On a slow kernel the take
 * may come after the first grace ended (the sleeper then has the first
 * post), so a few tries must see one renewal.  The grace is 20 ms here
 * (grace_us), so that two posts and a take fit in one on the debug
 * kernels too.
 */
static void spin_us(long us)
{
	long long end = now_ns() + us * 1000;

	while (now_ns() < end)
		;
}

/*
 * Have spinner @s look once, now, and spin until it has (a sleep of
 * wait_until() could outlast a grace): whether it did within PROGRESS_MS.
 */
static bool spinner_take(struct spinner *s)
{
	long long end = now_ns() + PROGRESS_MS * NSEC_PER_MSEC;
	int want = __atomic_load_n(&s->took, __ATOMIC_ACQUIRE) + 1;

	__atomic_store_n(&s->take, want, __ATOMIC_RELEASE);
	while (__atomic_load_n(&s->took, __ATOMIC_ACQUIRE) != want &&
	       now_ns() < end)
		;
	return __atomic_load_n(&s->took, __ATOMIC_ACQUIRE) == want;
}

TEST_F(port, emptied_port_renews_the_grace)
{
	struct spinner sp[MAX_SPINNERS];
	long long handoffs, renewed, end, t0, asked, grace;
	int n, try, fast = 0, seen = 0;
	struct waiter b;
	unsigned long v;

	grace = port_grace(self, 20000);
	n = busy_port(0, 0, sp, &b);
	for (try = 0; try < 8 && !seen; try++) {
		v = 100 + 2 * try;
		if (try) {
			ASSERT_EQ(0, waiter_start(&b, self->port, 1, -1,
						  &self->seq));
			ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
			ASSERT_TRUE(task_wait_sleeping(b.tid));
		}
		/* Every spinner counts, so that the posts are held. */
		ASSERT_EQ(n, fdinfo_get(self->port, "running"));
		handoffs = fdinfo_get(self->port, "handoffs");
		renewed = fdinfo_get(self->port, "grace_renewed");
		t0 = now_ns();
		ASSERT_EQ(0, cport_post(self->port, 0, v, 0, 0));
		/* Half the grace, then the spinner takes it (spinning: a
		 * sleep of wait_until() would outlast the grace). */
		spin_us(grace / 2000);
		asked = now_ns();
		ASSERT_TRUE(spinner_take(&sp[0]));
		if (sp[0].ret[2] != 1) {
			/* The grace ran out first: the sleeper has it ... */
			ASSERT_TRUE(wait_until(waiter_done(&b), PROGRESS_MS));
			pthread_join(b.thread, NULL);
			EXPECT_EQ(v, b.cqes[0].user_data);
			/* ... and the spinner's empty look stopped it
			 * counting: a completion of its own counts it again. */
			ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
			ASSERT_TRUE(spinner_take(&sp[0]));
			ASSERT_EQ(1, sp[0].ret[2]);
			continue;
		}
		EXPECT_EQ(v, sp[0].cqe[2].user_data);
		ASSERT_EQ(0, cport_post(self->port, 0, v + 1, 0, 0));
		/* Before the first grace (from the first post) ended? */
		fast += now_ns() - t0 < grace;

		/* Spinning: this CPU stays busy. */
		end = now_ns() + PROGRESS_MS * NSEC_PER_MSEC;
		while (!waiter_done(&b) && now_ns() < end)
			;
		ASSERT_TRUE(waiter_done(&b));
		pthread_join(b.thread, NULL);
		EXPECT_EQ(1, b.ret);
		EXPECT_EQ(v + 1, b.cqes[0].user_data);
		EXPECT_EQ(handoffs + 1, fdinfo_get(self->port, "handoffs"));
		/* One renewal at most: the second grace ends it. */
		EXPECT_GE(renewed + 1, fdinfo_get(self->port, "grace_renewed"));
		seen = fdinfo_get(self->port, "grace_renewed") > renewed;
		/*
		 * Renewed: released a grace at least after the renewal
		 * (the next grace is scaled, longer), which came after the
		 * take (after @asked; timers never fire early).
		 */
		if (seen) {
			EXPECT_LE(asked + grace, b.done_ns);
		}
	}
	if (fast) {
		EXPECT_TRUE(seen);
	} else {
		TH_LOG("no try posted twice within the grace");
	}
	TH_LOG("grace %lld us: %d tries, %d within it", grace / 1000, try,
	       fast);

	spinners_stop(sp, n);
	EXPECT_EQ(-ETIMEDOUT, sp[0].ret[1]);
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
}

/*
 * A running thread that keeps taking renews the grace even though the
 * port never empties: what waits is taken in its turn, so the release
 * held for busy CPUs stays held (and the fallback does not run) while the
 * takes go on, and a grace after they stop the sleeper has the oldest
 * completion.  The old rule (renew only when a take emptied the port)
 * released it a grace after the first post.  A take every quarter grace,
 * which is 100 ms here for the debug kernels; a pause of a whole grace
 * between two takes (the test's threads preempted) would make a release
 * right, and is only logged.  This thread spins throughout, so that its
 * CPU stays busy and the renewals hold the release again.
 */
TEST_F(port, taking_threads_renew_the_grace)
{
	long long grace, handoffs, renewed, asked, t, gap = 0;
	struct spinner sp[MAX_SPINNERS];
	unsigned long v = 100;
	bool released;
	struct waiter b;
	int n, i;

	grace = port_grace(self, 100000);
	n = busy_port(0, 0, sp, &b);
	handoffs = fdinfo_get(self->port, "handoffs");
	renewed = fdinfo_get(self->port, "grace_renewed");
	ASSERT_EQ(0, cport_post(self->port, 0, v++, 0, 0));
	asked = now_ns();
	for (i = 0; i < 16 && !waiter_done(&b); i++) {
		/* Two queued, held (every CPU is busy); one taken. */
		ASSERT_EQ(0, cport_post(self->port, 0, v++, 0, 0));
		spin_us(grace / 4000);
		t = now_ns();
		ASSERT_TRUE(spinner_take(&sp[0]));
		ASSERT_EQ(1, sp[0].ret[2]);
		/* This take came at most this long after the one before. */
		if (now_ns() - asked > gap)
			gap = now_ns() - asked;
		asked = t;
	}
	released = waiter_done(&b);
	if (gap < grace) {
		EXPECT_FALSE(released);
		EXPECT_EQ(handoffs, fdinfo_get(self->port, "handoffs"));
		/* 16 quarter graces: three renewals at least. */
		EXPECT_LE(renewed + 3, fdinfo_get(self->port, "grace_renewed"));
	} else {
		TH_LOG("%lld us between two takes: the grace could end",
		       gap / 1000);
	}
	/* The takes stop: a grace later the sleeper has the last post. */
	ASSERT_TRUE(wait_until(waiter_done(&b), PROGRESS_MS));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	if (!released) {
		EXPECT_EQ(v - 1, b.cqes[0].user_data);
		EXPECT_EQ(handoffs + 1, fdinfo_get(self->port, "handoffs"));
	}
	spinners_stop(sp, n);
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
}

/*
 * The grace scales with the port's takes (fdinfo grace_us): a thread that
 * takes once in most of a grace is not taken for stopped by the next
 * pause of that length.  A spinner takes every 3/4 grace for four takes
 * (the first grace is renewed at 1 take, so the next is longer), then
 * pauses 2.5 base graces: the old fixed grace ended in the pause and
 * handed the sleeper a post; a scaled one does not.  The takes stop, the
 * sleeper has the last post, and a grace with no take puts the grace
 * back to grace_us.  20 ms here; a gap between the four takes
 * longer than a grace (this test's threads preempted) makes a release
 * right and is only logged.
 */
TEST_F(port, sparse_takes_lengthen_the_grace)
{
	long long grace, asked, t, gap = 0, scaled, handoffs;
	struct spinner sp[MAX_SPINNERS];
	bool released = false;
	unsigned long v = 100;
	struct waiter b;
	int n, i;

	grace = port_grace(self, 20000);
	n = busy_port(0, 0, sp, &b);
	EXPECT_EQ(grace / 1000, fdinfo_get(self->port, "grace_us"));
	handoffs = fdinfo_get(self->port, "handoffs");
	ASSERT_EQ(0, cport_post(self->port, 0, v++, 0, 0));
	asked = now_ns();
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, cport_post(self->port, 0, v++, 0, 0));
		/* Four takes 3/4 grace apart, then a pause of 2.5. */
		spin_us(i < 4 ? grace * 3 / 4000 : 5 * grace / 2000);
		/* Handed a post (not yet woken, maybe) in the pause? */
		if (i == 4)
			released = fdinfo_get(self->port, "handoffs") !=
				   handoffs;
		t = now_ns();
		ASSERT_TRUE(spinner_take(&sp[0]));
		ASSERT_EQ(1, sp[0].ret[2]);
		if (i < 4 && now_ns() - asked > gap)
			gap = now_ns() - asked;
		asked = t;
	}
	scaled = fdinfo_get(self->port, "grace_us");
	if (gap < grace) {
		EXPECT_FALSE(released);
		EXPECT_LT(grace / 1000, scaled);
	} else {
		TH_LOG("%lld us between two takes: the grace could end",
		       gap / 1000);
	}
	/* At most CPORT_GRACE_SCALE base graces and 100 ms. */
	EXPECT_GE((16 * grace < 100000000 ? 16 * grace : 100000000) / 1000,
		  scaled);
	/*
	 * The takes stop: the sleeper has the last post, after a grace with
	 * no take or at the renewal, if this CPU is idle then.
	 */
	ASSERT_TRUE(wait_until(waiter_done(&b), PROGRESS_MS));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	if (released) {
		/* It had an older post: what is left is not known. */
		spinners_stop(sp, n);
		return;
	}
	EXPECT_EQ(v - 1, b.cqes[0].user_data);
	/*
	 * A grace without a take puts it back to grace_us: one more post,
	 * held for a new sleeper, that nobody takes (this thread spins).
	 */
	ASSERT_EQ(0, waiter_start(&b, self->port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(b.tid));
	ASSERT_EQ(0, cport_post(self->port, 0, v, 0, 0));
	t = now_ns() + PROGRESS_MS * NSEC_PER_MSEC;
	while (!waiter_done(&b) && now_ns() < t)
		;
	ASSERT_TRUE(waiter_done(&b));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(v, b.cqes[0].user_data);
	EXPECT_EQ(grace / 1000, fdinfo_get(self->port, "grace_us"));
	spinners_stop(sp, n);
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
}

/*
 * The renewal looks at the CPUs again: a release held while every CPU was
 * busy goes out at the end of a grace in which work was taken, not a
 * grace later, once the CPU that held it has gone idle.  Two posts held,
 * one taken by the spinner (progress), then this thread sleeps: the first
 * grace's end finds its CPU idle and the sleeper has the second post.
 * Released a whole grace after that end, the test fails; 100 ms here.
 */
TEST_F(port, renewal_looks_at_the_cpus_again)
{
	long long grace, renewed, t0, took;
	struct spinner sp[MAX_SPINNERS];
	struct waiter b;
	int n;

	grace = port_grace(self, 100000);
	n = busy_port(0, 0, sp, &b);
	renewed = fdinfo_get(self->port, "grace_renewed");
	t0 = now_ns();
	ASSERT_EQ(0, cport_post(self->port, 0, 100, 0, 0));
	ASSERT_EQ(0, cport_post(self->port, 0, 101, 0, 0));
	spin_us(grace / 4000);
	ASSERT_TRUE(spinner_take(&sp[0]));
	ASSERT_EQ(1, sp[0].ret[2]);
	took = now_ns();
	/* One sleep past the first grace's end: this CPU is idle then. */
	if (t0 + 3 * grace / 2 > took)
		usleep((t0 + 3 * grace / 2 - took) / 1000);
	ASSERT_TRUE(wait_until(waiter_done(&b), PROGRESS_MS));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	if (took - t0 < grace) {
		EXPECT_EQ(100, sp[0].cqe[2].user_data);
		EXPECT_EQ(101, b.cqes[0].user_data);
		/* At the first grace's end: not before, not a grace later. */
		EXPECT_LE(t0 + grace, b.done_ns);
		EXPECT_GT(t0 + 2 * grace, b.done_ns);
		EXPECT_EQ(renewed + 1, fdinfo_get(self->port, "grace_renewed"));
	} else {
		TH_LOG("the take came %lld us after the posts: after the grace",
		       (took - t0) / 1000);
	}
	spinners_stop(sp, n);
	EXPECT_EQ(-ETIMEDOUT, sp[0].ret[1]);
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
}

/*
 * The grace releases everything held by the concurrency value alone, the
 * release irq_work's chain past 8 handoffs included, and its queueing
 * itself again past 16: 24 completions held (one hold each), 24
 * sleepers, room for all; each sleeper gets one, none twice, 16 of them
 * from the chain (two runs of the irq_work), and nothing is held again.
 * The grace is 100 ms here (16 posts took up to 33 ms on the debug
 * kernels); if it still ends before the 24 posts do (or grace_us cannot
 * be set), only the first and last of those hold.
 */
#define HELD	24

_Static_assert(HELD > 2 * 8 && HELD <= 32, "the chain goes round; a u32 mask");

TEST_F(port, grace_releases_all_held)
{
	struct spinner sp[MAX_SPINNERS];
	struct cport_sqe sqes[HELD];
	struct waiter w[HELD];
	unsigned int seen = 0;
	struct timespec t0, t1;
	long long holds;
	long submit_us, grace_us;
	int n, i;

	grace_us = port_grace(self, 100000) / 1000;
	n = busy_port(0, 64, sp, &w[0]);
	for (i = 1; i < HELD; i++) {
		ASSERT_EQ(0, waiter_start(&w[i], self->port, 1, -1,
					  &self->seq));
		ASSERT_TRUE(fdinfo_wait(self->port, "waiters", i + 1));
		ASSERT_TRUE(task_wait_sleeping(w[i].tid));
	}
	for (i = 0; i < HELD; i++)
		cport_prep_post(&sqes[i], 0, i, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(HELD, cport_submit(self->port, sqes, HELD));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	submit_us = (t1.tv_sec - t0.tv_sec) * 1000000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000;
	holds = fdinfo_get(self->port, "busy_holds");
	/* Within the grace (from the first hold): all of them held. */
	if (submit_us < grace_us) {
		EXPECT_LE(HELD, holds);
	}

	ASSERT_TRUE(wait_until(waiters_done(w, HELD) == HELD, PROGRESS_MS)) {
		TH_LOG("%d of %d released; queued %lld", waiters_done(w, HELD),
		       HELD, fdinfo_get(self->port, "queued"));
	}
	for (i = 0; i < HELD; i++) {
		pthread_join(w[i].thread, NULL);
		ASSERT_EQ(1, w[i].ret);
		ASSERT_GT(HELD, w[i].cqes[0].user_data);
		EXPECT_FALSE(seen & 1U << w[i].cqes[0].user_data);
		seen |= 1U << w[i].cqes[0].user_data;
		/* Held: released when the grace ended, not before. */
		if (submit_us < grace_us) {
			EXPECT_LE(t0.tv_sec * NSEC_PER_SEC + t0.tv_nsec +
				  grace_us * 1000, w[i].done_ns);
		}
	}
	EXPECT_EQ((1U << HELD) - 1, seen);
	if (submit_us < grace_us) {
		EXPECT_EQ(HELD - 8, fdinfo_get(self->port, "deferred_releases"));
	} else {
		TH_LOG("the posts took %ld us: the grace may have ended first",
		       submit_us);
	}
	/* Nothing held again (a slow kernel's second grace may). */
	if (submit_us < grace_us) {
		EXPECT_EQ(holds, fdinfo_get(self->port, "busy_holds"));
	}
	spinners_stop(sp, n);
}

/*
 * A completion that comes from an idle CPU (a delayed POST whose timer
 * fires while the poster sleeps) is released at once: that CPU is free
 * for the woken thread.  The CPU may not be idle when the timer fires (a
 * kworker or a debug kernel's scanner runs there, or the timer moved to a
 * busy CPU): that hold is right, so the test tries again, up to three
 * times; a module that never releases at once fails every try.
 */
TEST_F(port, idle_cpu_releases_at_once)
{
	struct spinner sp[MAX_SPINNERS];
	long long holds = 0, now;
	struct cport_sqe sqe;
	struct waiter b;
	int n, try;

	n = busy_port(0, 0, sp, &b);
	for (try = 0; try < 3; try++) {
		if (try) {
			ASSERT_EQ(0, waiter_start(&b, self->port, 1, -1,
						  &self->seq));
			ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
			ASSERT_TRUE(task_wait_sleeping(b.tid));
		}
		cport_prep_post(&sqe, 0, 100 + try, 0, 0);
		sqe.timeout_ns = 50 * 1000 * 1000;
		ASSERT_EQ(1, cport_submit(self->port, &sqe, 1));
		/* Sleep (this CPU goes idle) until the sleeper has it. */
		ASSERT_EQ(0, pthread_join(b.thread, NULL));
		EXPECT_EQ(1, b.ret);
		EXPECT_EQ(100 + try, b.cqes[0].user_data);
		now = fdinfo_get(self->port, "busy_holds");
		if (now == holds)
			break;
		TH_LOG("try %d: held (the timer's CPU was busy)", try);
		holds = now;
	}
	EXPECT_GT(3, try);
	spinners_stop(sp, n);
}

/*
 * What a waiting thread's socket runs complete beyond what it can return
 * goes to the tail of the queue, not ahead of older completions: a
 * thread that takes one completion at a time and runs sockets on the way
 * must not keep an older one waiting for as long as sockets come.  A
 * counted thread (concurrency 1, so nobody else is released) leaves a
 * socket ready for itself (the grace, 100 ms here, would hand it to the
 * fallback first), takes the older of two posts with max 1 and runs the
 * socket on the way; its next wait gets the second post, then the RECV.
 */
static void ran_socket_behind_older(struct __test_metadata *_metadata,
				    FIXTURE_DATA(port) *self, bool fault)
{
	long long runs, fallback;
	struct cport_sqe sqe;
	char buf[8];
	int fds[2];

	/* A 1 ms grace could hand the socket to the fallback first. */
	if (port_grace(self, 100000) != 100000 * 1000LL)
		SKIP(return, "needs root and " PARAM_GRACE);
	open_port(_metadata, self, 1, UNTRACKED);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(self->port, fds[0], 7, 0));
	/* Counted: it returned with a completion and has not waited since. */
	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	ASSERT_EQ(1, fdinfo_get(self->port, "running"));

	cport_prep_recv(&sqe, fds[0], buf, sizeof(buf), 10, 0);
	ASSERT_EQ(1, cport_submit(self->port, &sqe, 1));
	ASSERT_EQ(0, cport_post(self->port, 0, 2, 0, 0));
	ASSERT_EQ(0, cport_post(self->port, 0, 3, 0, 0));
	runs = fdinfo_get(self->port, "runs_waiter");
	fallback = fdinfo_get(self->port, "runs_fallback");
	ASSERT_EQ(1, write(fds[1], "x", 1));

	if (fault) {
		/* Nothing copied: the post back to the head, the RECV's to
		 * the tail. */
		ASSERT_EQ(-EFAULT, cport_wait(self->port, fault_page(), 1, 0));
		ASSERT_EQ(3, fdinfo_get(self->port, "queued"));
		ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	} else {
		ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	}
	EXPECT_EQ(2, self->cqes[0].user_data);
	/* That wait ran the socket (not the fallback, not at the write). */
	ASSERT_EQ(runs + 1, fdinfo_get(self->port, "runs_waiter"));
	ASSERT_EQ(fallback, fdinfo_get(self->port, "runs_fallback"));
	ASSERT_EQ(2, fdinfo_get(self->port, "queued"));

	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(3, self->cqes[0].user_data);
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(10, self->cqes[0].user_data);
	EXPECT_EQ(1, self->cqes[0].res);
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	close(fds[0]);
	close(fds[1]);
}

TEST_F(port, ran_socket_completes_behind_older)
{
	ran_socket_behind_older(_metadata, self, false);
}

/* The same when the completions cannot be copied (-EFAULT). */
TEST_F(port, fault_requeues_ran_socket_behind_older)
{
	ran_socket_behind_older(_metadata, self, true);
}

/* A thread's wait for one completion into @cqes (a page that faults). */
struct held_wait {
	pthread_t thread;
	int port;
	struct cport_cqe *cqes;
	int ret;
};

static void *held_wait_fn(void *arg)
{
	struct held_wait *h = arg;

	h->ret = cport_wait(h->port, h->cqes, 1, 10 * NSEC_PER_SEC);
	return NULL;
}

/*
 * A multishot RECV's arrivals reach the queue in order although two
 * threads run the socket in turn.  Thread A's wait for one completion
 * runs the socket with two datagrams in it: it keeps seq 0, which it can
 * return, and posts seq 1 while the run still owns the socket.  Its copy
 * to user space then stops on a userfaultfd page.  Meanwhile a third
 * datagram comes and this thread waits: it takes seq 1 from the queue
 * and runs the socket for seq 2, which goes behind it.  (When a wait kept
 * everything its runs completed until its copy-out, this thread got
 * seq 2 while seq 1 was still held by A.)
 */
TEST_F(port, multishot_order_across_runs)
{
	enum { NB = 8, BSZ = 16, GRP = 3 };
	long psz = sysconf(_SC_PAGESIZE);
	struct uffdio_copy cp = { 0 };
	long long runs, fallback;
	struct held_wait a = { 0 };
	char pool[NB][BSZ], *zero;
	struct uffd_msg msg;
	struct cport_sqe sqe;
	void *page = NULL;
	int fds[2], uffd;

	if (port_grace(self, 100000) != 100000 * 1000LL)
		SKIP(return, "needs root and " PARAM_GRACE);
	uffd = uffd_page(&page, psz);
	if (uffd < 0)
		SKIP(return, "no userfaultfd for kernel faults: %s",
		     strerror(-uffd));
	open_port(_metadata, self, 2, UNTRACKED);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(self->port, fds[0], 7, 0));
	cport_prep_provide_buffers(&sqe, GRP, pool, BSZ, NB, 0);
	ASSERT_EQ(1, cport_submit(self->port, &sqe, 1));
	cport_prep_recv_multishot(&sqe, fds[0], GRP, 9);
	ASSERT_EQ(1, cport_submit(self->port, &sqe, 1));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);

	/* Counted, so the arrivals wait for a runner, not the fallback. */
	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	ASSERT_EQ(1, fdinfo_get(self->port, "running"));
	runs = fdinfo_get(self->port, "runs_waiter");
	fallback = fdinfo_get(self->port, "runs_fallback");
	ASSERT_EQ(2, write(fds[1], "d0", 2));
	ASSERT_EQ(2, write(fds[1], "d1", 2));

	a.port = self->port;
	a.cqes = page;
	ASSERT_EQ(0, pthread_create(&a.thread, NULL, held_wait_fn, &a));
	/* A ran the socket and is copying seq 0 out. */
	ASSERT_TRUE(fd_ready(uffd, POLLIN, PROGRESS_MS));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_EQ(runs + 1, fdinfo_get(self->port, "runs_waiter"));
	EXPECT_EQ(1, fdinfo_get(self->port, "queued"));

	ASSERT_EQ(2, write(fds[1], "d2", 2));
	EXPECT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(9, self->cqes[0].user_data);
	EXPECT_EQ(1, self->cqes[0].seq);
	EXPECT_EQ(0, memcmp(pool[self->cqes[0].buf], "d1", 2));

	/* A goes on: it returns seq 0; seq 2 waits in the queue. */
	zero = calloc(1, psz);
	ASSERT_NE(NULL, zero);
	cp.dst = (unsigned long)page;
	cp.src = (unsigned long)zero;
	cp.len = psz;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &cp));
	free(zero);
	ASSERT_EQ(0, pthread_join(a.thread, NULL));
	EXPECT_EQ(1, a.ret);
	EXPECT_EQ(0, a.cqes[0].seq);
	EXPECT_EQ(0, memcmp(pool[a.cqes[0].buf], "d0", 2));
	EXPECT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(2, self->cqes[0].seq);
	EXPECT_EQ(0, memcmp(pool[self->cqes[0].buf], "d2", 2));
	/* Every run was a wait's: the fallback did not take part. */
	EXPECT_EQ(fallback, fdinfo_get(self->port, "runs_fallback"));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	close(fds[0]);
	close(fds[1]);
	close(uffd);
	munmap(page, psz);
}

/*
 * grace_us (root only) takes 10 to 100000 microseconds; anything else is
 * refused with its errno and changes nothing.
 */
TEST(grace_param_is_bounded)
{
	static const struct {
		const char *v;
		int err;
	} bad[] = {
		{ "0\n", -ERANGE }, { "9\n", -ERANGE }, { "100001\n", -ERANGE },
		{ "4294967296\n", -ERANGE }, { "-1\n", -EINVAL },
		{ "1ms\n", -EINVAL }, { "\n", -EINVAL },
	};
	long long old = read_param(PARAM_GRACE), cur;
	pid_t pid;
	int i, st;

	if (old < 0 || getuid())
		SKIP(return, "needs root and " PARAM_GRACE);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		EXPECT_EQ(bad[i].err, write_str(PARAM_GRACE, bad[i].v)) {
			TH_LOG("grace_us <- %s", bad[i].v);
		}
		EXPECT_EQ(old, read_param(PARAM_GRACE));
	}
	EXPECT_EQ(0, write_param(PARAM_GRACE, 10));
	EXPECT_EQ(10, read_param(PARAM_GRACE));
	EXPECT_EQ(0, write_param(PARAM_GRACE, 100000));
	EXPECT_EQ(100000, read_param(PARAM_GRACE));
	/* Not for other users (and put back before any assertion ends it). */
	pid = fork();
	if (!pid)
		_exit(setuid(65534) ? 2 :
		      write_param(PARAM_GRACE, 500) == -EACCES ? 0 : 1);
	st = -1;
	if (pid > 0 && waitpid(pid, &st, 0) != pid)
		st = -1;
	cur = read_param(PARAM_GRACE);
	ASSERT_EQ(0, write_param(PARAM_GRACE, old));
	EXPECT_EQ(old, read_param(PARAM_GRACE));
	ASSERT_LT(0, pid);
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	EXPECT_EQ(100000, cur);
}

TEST_HARNESS_MAIN
