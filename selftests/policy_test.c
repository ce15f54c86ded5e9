// SPDX-License-Identifier: GPL-2.0
/*
 * The release policies that LIFO and FIFO cannot stand in for.
 *
 * Round robin releases threads in the order they joined the port, taking
 * up after the last one released, whatever order they went back to
 * waiting in: a thread that was busy when its turn came gets the next
 * turn after it returns, where FIFO would put it at the back.
 *
 * CPU-affine releases the most recent waiter that went to sleep on the
 * CPU where the completion is produced (here: the posting thread's CPU),
 * else the most recent one.  Waiters and posters are pinned to CPUs.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "cport_test.h"
#include "kselftest_harness.h"

#define NR_LOOPERS	4

struct looper {
	pthread_t thread;
	int port;
	int idx;
	int hold;		/* after the next completion, wait for release */
	int held;		/* it is holding */
	int ret;
	int last;		/* user_data of the last completion */
	int count;		/* completions taken */
};

static void *looper_fn(void *arg)
{
	struct looper *l = arg;
	struct cport_cqe cqe;

	for (;;) {
		l->ret = cport_wait(l->port, &cqe, 1, -1);
		if (l->ret != 1)
			break;
		__atomic_store_n(&l->last, (int)cqe.user_data,
				 __ATOMIC_RELAXED);
		if (__atomic_load_n(&l->hold, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&l->held, 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(&l->hold, __ATOMIC_ACQUIRE))
				usleep(1000);
			__atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
		}
		__atomic_fetch_add(&l->count, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int total(struct looper *l)
{
	int i, n = 0;

	for (i = 0; i < NR_LOOPERS; i++)
		n += __atomic_load_n(&l[i].count, __ATOMIC_ACQUIRE);
	return n;
}

/* Post completion @k, return the index of the looper that took it. */
static int post_and_see(struct __test_metadata *_metadata, int port,
			struct looper *l, int k, int sleepers)
{
	int before = total(l), i;

	ASSERT_EQ(0, cport_post(port, 0, k, 0, 0));
	for (i = 0; i < NR_LOOPERS; i++) {
		if (__atomic_load_n(&l[i].hold, __ATOMIC_ACQUIRE)) {
			if (wait_until(__atomic_load_n(&l[i].held,
						       __ATOMIC_ACQUIRE) &&
				       __atomic_load_n(&l[i].last,
						       __ATOMIC_RELAXED) == k,
				       GRACE_MS))
				return i;
		}
	}
	ASSERT_TRUE(wait_until(total(l) == before + 1, PROGRESS_MS));
	ASSERT_TRUE(fdinfo_wait(port, "waiters", sleepers));
	for (i = 0; i < NR_LOOPERS; i++)
		if (__atomic_load_n(&l[i].last, __ATOMIC_RELAXED) == k)
			return i;
	return -1;
}

static void start_loopers(struct __test_metadata *_metadata, int port,
			  struct looper *l)
{
	int i;

	for (i = 0; i < NR_LOOPERS; i++) {
		l[i] = (struct looper){ .port = port, .idx = i, .last = -1 };
		ASSERT_EQ(0, pthread_create(&l[i].thread, NULL, looper_fn,
					    &l[i]));
		/* Joined and asleep before the next one starts. */
		ASSERT_TRUE(fdinfo_wait(port, "waiters", i + 1));
	}
}

static void stop_loopers(struct __test_metadata *_metadata, int port,
			 struct looper *l)
{
	int i;

	ASSERT_EQ(0, cport_destroy(port));
	for (i = 0; i < NR_LOOPERS; i++) {
		ASSERT_EQ(0, pthread_join(l[i].thread, NULL));
		EXPECT_EQ(-EIDRM, l[i].ret);
	}
}

/*
 * Completions 0..3 go to loopers 0..3 in turn; looper 1 holds on to its
 * completion until after completion 3.  Completion 4 then goes to looper
 * 0 (the turn wraps), completion 5 to looper 1: its turn, although it
 * went back to waiting last (FIFO would pick looper 2).
 */
static void rr_or_fifo(struct __test_metadata *_metadata, unsigned int policy,
		       const int *expect)
{
	struct looper l[NR_LOOPERS];
	int port, k, got;

	port = port_new(NR_LOOPERS, policy, 0);
	ASSERT_LE(0, port);
	start_loopers(_metadata, port, l);

	__atomic_store_n(&l[1].hold, 1, __ATOMIC_RELEASE);
	for (k = 0; k < 6; k++) {
		if (k == 4) {
			/* Looper 1 goes back to waiting, the newest waiter. */
			__atomic_store_n(&l[1].hold, 0, __ATOMIC_RELEASE);
			ASSERT_TRUE(fdinfo_wait(port, "waiters", NR_LOOPERS));
		}
		got = post_and_see(_metadata, port, l, k,
				   k >= 1 && k < 4 ? NR_LOOPERS - 1 :
						     NR_LOOPERS);
		EXPECT_EQ(expect[k], got) {
			TH_LOG("completion %d", k);
		}
	}
	stop_loopers(_metadata, port, l);
}

TEST(rr_keeps_a_busy_threads_turn)
{
	static const int expect[] = { 0, 1, 2, 3, 0, 1 };

	rr_or_fifo(_metadata, CPORT_POLICY_RR, expect);
}

/* The same sequence under FIFO, so the RR test above can fail. */
TEST(fifo_sends_a_late_thread_to_the_back)
{
	static const int expect[] = { 0, 1, 2, 3, 0, 2 };

	rr_or_fifo(_metadata, CPORT_POLICY_FIFO, expect);
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

struct pinned_waiter {
	pthread_t thread;
	int port;
	int cpu;
	pid_t tid;
	int ret;
	struct cport_cqe cqe;
};

static void *pinned_fn(void *arg)
{
	struct pinned_waiter *w = arg;

	if (pin(w->cpu)) {
		w->ret = -EINVAL;
		__atomic_store_n(&w->tid, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	w->ret = cport_wait(w->port, &w->cqe, 1, -1);
	return NULL;
}

/*
 * Waiter A sleeps on CPU 0, then waiter B on CPU 1 (B is the most
 * recent).  A completion posted from CPU 0 goes to A under the CPU-affine
 * policy (to B under LIFO); one posted from CPU 1 goes to B.
 */
static void cpu_affine(struct __test_metadata *_metadata, unsigned int policy,
		       int post_cpu, int expect)
{
	struct pinned_waiter w[2];
	cpu_set_t saved;
	int port, i, got = -1;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(saved), &saved));
	port = port_new(2, policy, 0);
	ASSERT_LE(0, port);
	for (i = 0; i < 2; i++) {
		w[i] = (struct pinned_waiter){ .port = port, .cpu = i };
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, pinned_fn,
					    &w[i]));
		ASSERT_TRUE(wait_until(__atomic_load_n(&w[i].tid,
						       __ATOMIC_ACQUIRE),
				       PROGRESS_MS));
		ASSERT_LT(0, w[i].tid);
		ASSERT_TRUE(fdinfo_wait(port, "waiters", i + 1));
		ASSERT_TRUE(task_wait_sleeping(w[i].tid));
	}

	ASSERT_EQ(0, pin(post_cpu));
	ASSERT_EQ(0, cport_post(port, 0, 7, 0, 0));
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(saved), &saved));
	ASSERT_TRUE(fdinfo_wait(port, "waiters", 1));
	for (i = 0; i < 2; i++) {
		if (wait_until(__atomic_load_n(&w[i].ret, __ATOMIC_ACQUIRE) == 1,
			       GRACE_MS)) {
			got = i;
			break;
		}
	}
	EXPECT_EQ(expect, got);
	if (got >= 0)
		EXPECT_EQ(7, w[got].cqe.user_data);

	ASSERT_EQ(0, cport_destroy(port));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(i == got ? 1 : -EIDRM, w[i].ret);
	}
	cport_close(port);
}

TEST(cpu_affine_prefers_the_posting_cpu)
{
	cpu_affine(_metadata, CPORT_POLICY_CPU, 0, 0);
}

TEST(cpu_affine_same_cpu_as_newest)
{
	cpu_affine(_metadata, CPORT_POLICY_CPU, 1, 1);
}

/* LIFO ignores the CPU: the same post from CPU 0 goes to the newest. */
TEST(lifo_ignores_the_cpu)
{
	cpu_affine(_metadata, CPORT_POLICY_LIFO, 0, 1);
}

TEST_HARNESS_MAIN
