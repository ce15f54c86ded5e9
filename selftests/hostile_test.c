// SPDX-License-Identifier: GPL-2.0
/*
 * What a hostile local user can do with /dev/cport (mode 0666), and what
 * must hold anyway:
 *
 *  - the completion queue stays bounded: completions of socket operations
 *    count against max_pending until they are dequeued;
 *  - delayed posts cost O(log n): a post earlier than a million queued
 *    ones, and a destroy that frees them, do not walk them all with
 *    interrupts off (a measuring thread reports its worst wakeup latency
 *    meanwhile);
 *  - files pinned by pending operations count against RLIMIT_NOFILE;
 *  - associations and pending operations are bounded per user
 *    (max_user_units, -EDQUOT);
 *  - the fallback that moves data when no thread waits runs in a thread
 *    of the owner: a unix SEND it finishes carries the owner's pid, its
 *    CPU time is the owner's, and it neither makes a wait elsewhere
 *    return -EINTR nor stops when the thread it chose exits;
 *  - a thread's association with a port ends at execve();
 *  - a closed socket's association does not outlive it by more than a
 *    few seconds;
 *  - a connection the fallback accepts is charged to the owner's memory
 *    cgroup.
 *
 * Bounds on elapsed time below are ten times or more what the kernel
 * needs, and far below what the quadratic code needed: they catch the
 * algorithm, not the speed of the machine.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "sock_util.h"
#include "kselftest_harness.h"

/*
 * Tests that do much on the debug kernel (KASAN, kmemleak: ~20x slower)
 * need more than the harness's default 30 s: a fixture with nothing in
 * it, for TEST_F_TIMEOUT().
 */
FIXTURE(heavy) {};
FIXTURE_SETUP(heavy) {}
FIXTURE_TEARDOWN(heavy) {}

static int port_pending(unsigned int max_queued, unsigned int max_pending)
{
	struct cport_setup s = {
		.max_queued = max_queued,
		.max_pending = max_pending,
	};

	return cport_create(&s);
}

/* -------------------------------------------------------------------- */
/* The completion queue is bounded by max_queued + max_pending.         */
/* -------------------------------------------------------------------- */

TEST_F_TIMEOUT(heavy, op_completions_hold_their_unit, 600)
{
	struct cport_sqe sqes[64];
	struct cport_cqe cqes[64];
	int port, fds[2], i, round, ret = 0, taken = 0;
	long long queued;

	port = port_pending(64, 64);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(port, fds[0], 1, 0));
	/* Readable for good: every zero-byte recv completes at once. */
	ASSERT_EQ(1, write(fds[1], "x", 1));

	/* Submit, let them complete, never dequeue: 100 x 64 would do. */
	for (round = 0; round < 100 && !ret; round++) {
		for (i = 0; i < 64; i++) {
			cport_prep_recv(&sqes[i], fds[0], NULL, 0,
					round * 64 + i, 0);
			sqes[i].flags = CPORT_SQE_POST;
		}
		ret = cport_submit(port, sqes, 64);
		if (ret == 64)
			ret = 0;
		for (i = 0; i < 64 && sqes[i].status; i++)
			taken++;
	}
	EXPECT_EQ(-ENOBUFS, ret);
	EXPECT_EQ(64, taken);
	queued = fdinfo_get(port, "queued");
	TH_LOG("taken %d, queued %lld (max_queued 64, max_pending 64)",
	       taken, queued);
	EXPECT_LE(queued, 64 + 64);
	EXPECT_EQ(64, fdinfo_get(port, "pending"));

	/* Dequeued, their units come back, and it all works again. */
	ASSERT_EQ(64, cport_wait(port, cqes, 64, 0));
	EXPECT_EQ(0, fdinfo_get(port, "pending"));
	for (i = 0; i < 64; i++)
		cport_prep_recv(&sqes[i], fds[0], NULL, 0, i, 0);
	EXPECT_EQ(64, cport_submit(port, sqes, 64));
	ASSERT_EQ(64, cport_wait(port, cqes, 64, 0));
	EXPECT_EQ(0, fdinfo_get(port, "pending"));
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
}

/* Inline results and discarded completions give their unit back too. */
TEST(units_come_back)
{
	struct cport_sqe sqe;
	int port, fds[2], i;

	/* Per user: what earlier tests' ports held comes back first. */
	ASSERT_TRUE(wait_until(user_units_now() == 0, PROGRESS_MS));
	port = port_pending(0, 4);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(port, fds[0], 1, 0));
	ASSERT_EQ(1, write(fds[1], "x", 1));
	for (i = 0; i < 100; i++) {
		cport_prep_recv(&sqe, fds[0], NULL, 0, i, 0);
		sqe.flags = CPORT_SQE_INLINE;
		ASSERT_EQ(1, cport_submit(port, &sqe, 1));
		ASSERT_EQ(CPORT_STATUS_INLINE, sqe.status);
	}
	EXPECT_EQ(0, fdinfo_get(port, "pending"));
	EXPECT_EQ(1, fdinfo_get(port, "user_units"));	/* the association */
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
}

/* -------------------------------------------------------------------- */
/* Delayed posts: O(log n), and a measuring thread watching.            */
/* -------------------------------------------------------------------- */

struct latency_probe {
	pthread_t thread;
	volatile bool stop;
	long long worst_ns;
	long long samples;
};

/*
 * A SCHED_FIFO thread on CPU 0 sleeping 1 ms at a time: how late it wakes
 * is how long CPU 0 could not take its timer interrupt or preempt.
 */
static void *latency_fn(void *arg)
{
	struct latency_probe *p = arg;
	struct sched_param sp = { .sched_priority = 50 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	sched_setscheduler(0, SCHED_FIFO, &sp);
	while (!p->stop) {
		long long t0 = now_ns(), late;

		usleep(1000);
		late = now_ns() - t0 - NSEC_PER_MSEC;
		if (late > p->worst_ns)
			p->worst_ns = late;
		p->samples++;
	}
	return NULL;
}

static void latency_start(struct latency_probe *p)
{
	memset(p, 0, sizeof(*p));
	pthread_create(&p->thread, NULL, latency_fn, p);
}

static long long latency_stop(struct latency_probe *p)
{
	p->stop = true;
	pthread_join(p->thread, NULL);
	return p->worst_ns;
}

/* Pin the calling thread to CPU 0, where the probe runs. */
static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* @n delayed posts, due in an hour plus @step * i ns (0: all equal). */
static int post_delayed_many(int port, struct cport_sqe *sqes, int n,
			     long long base_ns, long long step)
{
	int i, done, batch, ret;

	for (done = 0; done < n; done += batch) {
		batch = n - done < CPORT_MAX_ENTER ? n - done : CPORT_MAX_ENTER;
		for (i = 0; i < batch; i++) {
			cport_prep_post(&sqes[i], 1, done + i, 0, 0);
			sqes[i].timeout_ns = base_ns + step * (done + i);
		}
		ret = cport_submit(port, sqes, batch);
		if (ret != batch)
			return ret < 0 ? ret : -EPROTO;
	}
	return 0;
}

#define HOUR_NS		(3600LL * NSEC_PER_SEC)

TEST_F_TIMEOUT(heavy, delayed_posts_earlier_than_all, 600)
{
	int queued_n = slow_kernel() ? 16384 : 131072;
	struct latency_probe probe;
	struct cport_sqe *sqes;
	long long t0, enter_ns, destroy_ns, worst;
	int port;

	sqes = calloc(CPORT_MAX_ENTER, sizeof(*sqes));
	ASSERT_NE(NULL, sqes);
	port = port_pending(0, queued_n + CPORT_MAX_ENTER);
	ASSERT_LE(0, port);
	pin_cpu0();

	/* Each later than all before it: cheap for any structure. */
	ASSERT_EQ(0, post_delayed_many(port, sqes, queued_n, HOUR_NS, 1));
	EXPECT_EQ(queued_n, fdinfo_get(port, "pending"));

	/* Each earlier than all queued: a sorted list walks them all. */
	latency_start(&probe);
	t0 = now_ns();
	ASSERT_EQ(0, post_delayed_many(port, sqes, CPORT_MAX_ENTER,
				       HOUR_NS / 2, -1));
	enter_ns = now_ns() - t0;
	EXPECT_EQ(queued_n + CPORT_MAX_ENTER, fdinfo_get(port, "pending"));

	t0 = now_ns();
	EXPECT_EQ(0, cport_destroy(port));
	destroy_ns = now_ns() - t0;
	worst = latency_stop(&probe);
	TH_LOG("%d posts each earlier than %d queued: %lld ms; destroy: %lld ms; worst wakeup latency on the CPU: %lld us (%lld samples)",
	       CPORT_MAX_ENTER, queued_n, enter_ns / NSEC_PER_MSEC,
	       destroy_ns / NSEC_PER_MSEC, worst / 1000, probe.samples);
	/* A list walk took 27 s here on 6.1 (13 ms a post). */
	EXPECT_GT(3 * NSEC_PER_SEC * (slow_kernel() ? 10 : 1), enter_ns);
	EXPECT_GT(5 * NSEC_PER_SEC * (slow_kernel() ? 10 : 1), destroy_ns);
	close(port);
	free(sqes);
}

/*
 * Delayed posts come out in the order of their due times.  Each one's
 * timeout counts from its own submission, whose time is only known
 * within [before, after] (a TCG guest can stall for 100 ms): the due time
 * of each is within [before + timeout, after + timeout], and each
 * completion must not be due surely later than the one after it.
 */
TEST_F_TIMEOUT(heavy, delayed_posts_fire_in_order, 600)
{
	long long lo[256], hi[256], timeout;
	struct cport_sqe sqe;
	struct cport_cqe cqes[256];
	int port, i, got = 0, ret, a, b;

	port = port_pending(0, 0);
	ASSERT_LE(0, port);
	/* Submitted in reverse order of due time. */
	for (i = 0; i < 256; i++) {
		timeout = 50 * NSEC_PER_MSEC + (255 - i) * NSEC_PER_MSEC;
		cport_prep_post(&sqe, 1, i, 0, 0);
		sqe.timeout_ns = timeout;
		lo[i] = now_ns() + timeout;
		ASSERT_EQ(1, cport_submit(port, &sqe, 1));
		hi[i] = now_ns() + timeout;
	}
	while (got < 256) {
		ret = cport_wait(port, cqes + got, 256 - got,
				 (long long)PROGRESS_MS * NSEC_PER_MSEC);
		ASSERT_LT(0, ret);
		got += ret;
	}
	for (i = 0; i + 1 < 256; i++) {
		a = cqes[i].user_data;
		b = cqes[i + 1].user_data;
		EXPECT_LE(lo[a], hi[b]) TH_LOG("post %d came before post %d", a, b);
	}
	EXPECT_EQ(0, fdinfo_get(port, "pending"));
	cport_close(port);
}

/* -------------------------------------------------------------------- */
/* Timeout and cancel storms on one socket; cancels by cookie.          */
/* -------------------------------------------------------------------- */

/*
 * Submit @n zero-byte recvs on @fd (pending: nothing to read), the i-th
 * with user_data @ud0 + i * @ud_step.
 */
static int recv_many(int port, int fd, struct cport_sqe *sqes, int n,
		     unsigned long long ud0, unsigned int ud_step,
		     unsigned long long timeout_ns)
{
	int i, done, batch, ret;

	for (done = 0; done < n; done += batch) {
		batch = n - done < CPORT_MAX_ENTER ? n - done : CPORT_MAX_ENTER;
		for (i = 0; i < batch; i++) {
			cport_prep_recv(&sqes[i], fd, NULL, 0,
					ud0 + (done + i) * ud_step, 0);
			sqes[i].timeout_ns = timeout_ns;
		}
		ret = cport_submit(port, sqes, batch);
		if (ret != batch)
			return ret < 0 ? ret : -EPROTO;
	}
	return 0;
}

/* Take @n completions (bounded); returns how many had @res. */
static int drain_count(int port, struct cport_cqe *cqes, int n, int res)
{
	int got = 0, ok = 0, ret, i;

	while (got < n) {
		ret = cport_wait(port, cqes, CPORT_MAX_ENTER,
				 (long long)PROGRESS_MS * NSEC_PER_MSEC);
		if (ret <= 0)
			break;
		for (i = 0; i < ret; i++)
			ok += cqes[i].res == res;
		got += ret;
	}
	return ok;
}

#define STORM	20000

/*
 * A storm's setup: a port with one end of a unix stream pair associated
 * under key 1, and arrays of CPORT_MAX_ENTER entries for the batches.
 */
static void storm_setup(struct __test_metadata *_metadata, int *port,
			int fds[2], struct cport_sqe **sqes,
			struct cport_cqe **cqes)
{
	*sqes = calloc(CPORT_MAX_ENTER, sizeof(**sqes));
	*cqes = calloc(CPORT_MAX_ENTER, sizeof(**cqes));
	ASSERT_TRUE(*sqes && *cqes);
	*port = cport_create(NULL);
	ASSERT_LE(0, *port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(*port, fds[0], 1, 0));
}

static void storm_teardown(int port, int fds[2], struct cport_sqe *sqes,
			   struct cport_cqe *cqes)
{
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
	free(sqes);
	free(cqes);
}

TEST_F_TIMEOUT(heavy, timeout_storm_on_one_socket, 600)
{
	struct latency_probe probe;
	struct cport_sqe *sqes;
	struct cport_cqe *cqes;
	int port, fds[2];
	long long t0, ns, worst;

	storm_setup(_metadata, &port, fds, &sqes, &cqes);
	pin_cpu0();
	latency_start(&probe);
	t0 = now_ns();
	/* All due within about the time it takes to submit them. */
	ASSERT_EQ(0, recv_many(port, fds[0], sqes, STORM, 0, 1,
			       10 * NSEC_PER_MSEC));
	EXPECT_EQ(STORM, drain_count(port, cqes, STORM, -ETIMEDOUT));
	ns = now_ns() - t0;
	worst = latency_stop(&probe);
	TH_LOG("%d operations on one socket timed out in %lld ms; worst wakeup latency on the CPU: %lld us",
	       STORM, ns / NSEC_PER_MSEC, worst / 1000);
	EXPECT_EQ(STORM, fdinfo_get(port, "ops_timedout"));
	EXPECT_EQ(0, fdinfo_get(port, "pending"));
	storm_teardown(port, fds, sqes, cqes);
}

TEST_F_TIMEOUT(heavy, cancel_storm_on_one_socket, 600)
{
	struct latency_probe probe;
	struct cport_sqe *sqes;
	struct cport_cqe *cqes;
	long long t0, ns, worst;
	int port, fds[2];

	storm_setup(_metadata, &port, fds, &sqes, &cqes);
	ASSERT_EQ(0, recv_many(port, fds[0], sqes, STORM, 0, 1, 0));
	pin_cpu0();
	latency_start(&probe);
	t0 = now_ns();
	EXPECT_EQ(STORM, cport_cancel(port, CPORT_CANCEL_FD, fds[0]));
	EXPECT_EQ(STORM, drain_count(port, cqes, STORM, -ECANCELED));
	ns = now_ns() - t0;
	worst = latency_stop(&probe);
	TH_LOG("%d operations on one socket cancelled in %lld ms; worst wakeup latency on the CPU: %lld us",
	       STORM, ns / NSEC_PER_MSEC, worst / 1000);
	EXPECT_EQ(0, fdinfo_get(port, "pending"));
	storm_teardown(port, fds, sqes, cqes);
}

/*
 * Operations with one cookie all land in one bucket of the index: a
 * cancel of them walks as many as the user submitted, and reschedules on
 * the way.  The walk once held a spinlock, a non-preemptible stretch of
 * the user's choosing: at this size about 30 ms on the debug kernel (the
 * probe's worst), against 7 ms since; the bound below, with its floor for
 * TCG's stalls, catches only a walk several times longer.  All of them
 * are cancelled, each once, and nothing under another cookie.
 */
TEST_F_TIMEOUT(heavy, cancel_storm_by_one_cookie, 600)
{
	struct latency_probe probe;
	struct cport_sqe *sqes;
	struct cport_cqe *cqes;
	long long t0, ns, worst;
	int port, fds[2];

	storm_setup(_metadata, &port, fds, &sqes, &cqes);
	ASSERT_EQ(0, recv_many(port, fds[0], sqes, STORM, 77, 0, 0));
	/* One more under another cookie, which the cancel must not touch. */
	ASSERT_EQ(0, recv_many(port, fds[0], sqes, 1, 78, 0, 0));
	pin_cpu0();
	latency_start(&probe);
	t0 = now_ns();
	EXPECT_EQ(STORM, cport_cancel(port, CPORT_CANCEL_USER_DATA, 77));
	ns = now_ns() - t0;
	EXPECT_EQ(STORM, drain_count(port, cqes, STORM, -ECANCELED));
	worst = latency_stop(&probe);
	TH_LOG("%d operations under one cookie cancelled in %lld ms; worst wakeup latency on the CPU: %lld us",
	       STORM, ns / NSEC_PER_MSEC, worst / 1000);
	/*
	 * The probe (SCHED_FIFO on this CPU) got to run during the walk: with
	 * preemption off for all of it, its worst lateness is the walk's
	 * length.  A floor for TCG's stalls.
	 */
	EXPECT_GT(ns / 2 > 200 * NSEC_PER_MSEC ? ns / 2 : 200 * NSEC_PER_MSEC,
		  worst);
	EXPECT_EQ(1, fdinfo_get(port, "pending"));
	EXPECT_EQ(-ENOENT, cport_cancel(port, CPORT_CANCEL_USER_DATA, 77));
	EXPECT_EQ(1, cport_cancel(port, CPORT_CANCEL_USER_DATA, 78));
	storm_teardown(port, fds, sqes, cqes);
}

/*
 * Cancel by cookie goes through an index: 4096 cancels among 64 sockets
 * of 1024 operations each.
 */
TEST_F_TIMEOUT(heavy, cancel_by_cookie_is_indexed, 600)
{
	int nsock = 64, per = 1024, i;
	struct cport_sqe *sqes;
	struct cport_cqe *cqes;
	int port, fds[64][2];
	long long t0, ns;

	sqes = calloc(CPORT_MAX_ENTER, sizeof(*sqes));
	cqes = calloc(CPORT_MAX_ENTER, sizeof(*cqes));
	ASSERT_TRUE(sqes && cqes);
	port = port_pending(0, nsock * per);
	ASSERT_LE(0, port);
	for (i = 0; i < nsock; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					fds[i]));
		ASSERT_EQ(0, cport_associate(port, fds[i][0], i, 0));
		ASSERT_EQ(0, recv_many(port, fds[i][0], sqes, per,
				       (unsigned long long)i * per, 1, 0));
	}
	/* One cookie in every 16, spread over every socket. */
	for (i = 0; i < CPORT_MAX_ENTER; i++)
		cport_prep_cancel(&sqes[i], CPORT_CANCEL_USER_DATA, i * 16);
	t0 = now_ns();
	ASSERT_EQ(CPORT_MAX_ENTER, cport_submit(port, sqes, CPORT_MAX_ENTER));
	ns = now_ns() - t0;
	for (i = 0; i < CPORT_MAX_ENTER; i++)
		ASSERT_EQ(1, sqes[i].res);
	EXPECT_EQ(CPORT_MAX_ENTER,
		  drain_count(port, cqes, CPORT_MAX_ENTER, -ECANCELED));
	TH_LOG("%d cancels by cookie among %d operations: %lld ms",
	       CPORT_MAX_ENTER, nsock * per, ns / NSEC_PER_MSEC);
	/* Walking every operation for each cancel took tens of seconds. */
	EXPECT_GT(3 * NSEC_PER_SEC * (slow_kernel() ? 10 : 1), ns);
	/* Not found: already cancelled (and dequeued). */
	EXPECT_EQ(-ENOENT, cport_cancel(port, CPORT_CANCEL_USER_DATA, 16));
	/* By key: one socket's. */
	EXPECT_EQ(per - per / 16, cport_cancel(port, CPORT_CANCEL_KEY, 5));
	cport_close(port);
	for (i = 0; i < nsock; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	free(sqes);
	free(cqes);
}

/*
 * An association holds its socket's struct sock (and network namespace):
 * one whose socket was closed with nothing pending is reclaimed within
 * seconds, with no further call on the port (it was kept until the count
 * of associations doubled).
 */
TEST_F_TIMEOUT(heavy, closed_socket_reclaimed_in_time, 600)
{
	int port, fds[2];

	/* Per user: what earlier tests' ports held comes back first. */
	ASSERT_TRUE(wait_until(user_units_now() == 0, PROGRESS_MS));
	port = cport_create(NULL);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(port, fds[0], 1, 0));
	EXPECT_EQ(1, fdinfo_get(port, "sockets"));
	EXPECT_EQ(1, fdinfo_get(port, "user_units"));
	close(fds[0]);
	close(fds[1]);
	/* The period is 5 s; allow for a slow guest. */
	EXPECT_TRUE(wait_until(fdinfo_get(port, "sockets") == 0, 30000));
	EXPECT_EQ(0, fdinfo_get(port, "user_units"));
	cport_close(port);
}

/* -------------------------------------------------------------------- */
/* Pinned files count against RLIMIT_NOFILE.                            */
/* -------------------------------------------------------------------- */

TEST(pinned_files_count_against_nofile)
{
	struct rlimit rl = { .rlim_cur = 32, .rlim_max = 32 };
	char buf[16];
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct cport_sqe sqe;
		int port, l, c, i, ret = 0;

		port = cport_create(NULL);
		l = sock_listener(SK_TCP4);
		if (port < 0 || l < 0)
			_exit(2);
		if (setrlimit(RLIMIT_NOFILE, &rl))
			_exit(3);
		/* A connection nobody writes to: its recv stays pending. */
		/* Fewer than the listener's backlog: connect() never blocks. */
		for (i = 0; i < 100 && !ret; i++) {
			c = sock_connect(l);
			if (c < 0)
				_exit(4);
			if (cport_associate(port, c, i, 0))
				_exit(5);
			cport_prep_recv(&sqe, c, buf, sizeof(buf), i, 0);
			ret = cport_submit(port, &sqe, 1);
			if (ret == 1) {
				ret = 0;
				if (sqe.status != CPORT_STATUS_PENDING)
					_exit(6);
			}
			close(c);	/* its file stays pinned */
		}
		/* Pinned files are counted, not descriptors: the 33rd fails. */
		if (ret != -EMFILE)
			_exit(7);
		if (i > 33)
			_exit(8);
		if (fdinfo_get(port, "files") > 32)
			_exit(9);
		/* Cancelling unpins them: room again. */
		if (cport_cancel(port, CPORT_CANCEL_ALL, 0) <= 0)
			_exit(10);
		if (!wait_until(fdinfo_get(port, "files") == 0, PROGRESS_MS))
			_exit(11);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* -------------------------------------------------------------------- */
/* Per-user bound on associations plus pending operations.              */
/* -------------------------------------------------------------------- */

/*
 * One hold of port->lock wakes a bounded number of threads: the release
 * irq_work takes over past CPORT_WAKE_Q_SIZE (8), with interrupts on in
 * between, instead of every thread the concurrency value allows (up to
 * 4,096) being handed a completion, and most woken, under the lock.  A
 * multishot RECV armed on 16 queued datagrams posts its 16 arrivals in
 * one hold (CPORT_MULTISHOT_BUDGET), with 16 threads asleep and room for
 * all: 8 are woken by that hold, the rest after it, and each thread
 * still gets exactly one arrival, none twice.  A unix datagram pair:
 * delivery is synchronous, so all 16 are queued when the RECV is armed
 * (its queue's bound, net.unix.max_dgram_qlen, raised for the pair).
 */
#define HOLD_WAITERS	16
#define DGRAM_QLEN	"/proc/sys/net/unix/max_dgram_qlen"

_Static_assert(HOLD_WAITERS <= CPORT_MULTISHOT_BUDGET,
	       "one run posts them all");

TEST(one_hold_wakes_a_bounded_number)
{
	enum { GRP = 3, BSZ = 8 };
	char pool[HOLD_WAITERS][BSZ];
	struct waiter w[HOLD_WAITERS];
	long long qlen = read_param(DGRAM_QLEN), units0 = user_units_now();
	unsigned int seen = 0;
	struct cport_sqe sqe;
	int port, fds[2], i, ret, seq = 0;

	ASSERT_LT(0, qlen);
	ASSERT_EQ(0, write_param(DGRAM_QLEN, 4 * HOLD_WAITERS));
	ret = socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds);
	ASSERT_EQ(0, write_param(DGRAM_QLEN, qlen));
	ASSERT_EQ(0, ret);
	/* Windows' rule: every waiter is released at once (no busy_holds). */
	port = port_new_flags(CPORT_SETUP_EAGER_RELEASE, 2 * HOLD_WAITERS,
			      CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, cport_associate(port, fds[0], 7, 0));
	cport_prep_provide_buffers(&sqe, GRP, pool, BSZ, HOLD_WAITERS, 0);
	ASSERT_EQ(1, submit1(port, &sqe));

	for (i = 0; i < HOLD_WAITERS; i++) {
		ASSERT_EQ(0, waiter_start(&w[i], port, 1, -1, &seq));
		ASSERT_TRUE(fdinfo_wait(port, "waiters", i + 1));
		ASSERT_TRUE(task_wait_sleeping(w[i].tid));
	}
	/* All queued before the RECV is armed: its first run takes them. */
	for (i = 0; i < HOLD_WAITERS; i++)
		ASSERT_EQ(1, send(fds[1], &i, 1, MSG_DONTWAIT));
	cport_prep_recv_buffer(&sqe, fds[0], GRP, 0, 42, CPORT_RECV_MULTISHOT);
	ASSERT_EQ(1, submit1(port, &sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);

	for (i = 0; i < HOLD_WAITERS; i++) {
		ASSERT_TRUE(wait_until(__atomic_load_n(&w[i].done,
						       __ATOMIC_ACQUIRE),
				       PROGRESS_MS)) {
			TH_LOG("waiter %d not released; %lld waiters left", i,
			       fdinfo_get(port, "waiters"));
		}
		pthread_join(w[i].thread, NULL);
		ASSERT_EQ(1, w[i].ret);
		EXPECT_EQ(42, w[i].cqes[0].user_data);
		EXPECT_EQ(CPORT_CQE_F_BUFFER | CPORT_CQE_F_MORE,
			  w[i].cqes[0].flags);
		ASSERT_GT(HOLD_WAITERS, w[i].cqes[0].seq);
		/* Arrival n is datagram n, in buffer n. */
		EXPECT_EQ(w[i].cqes[0].seq, w[i].cqes[0].buf);
		EXPECT_EQ((char)w[i].cqes[0].seq, pool[w[i].cqes[0].buf][0]);
		EXPECT_FALSE(seen & 1U << w[i].cqes[0].seq);
		seen |= 1U << w[i].cqes[0].seq;
	}
	EXPECT_EQ((1U << HOLD_WAITERS) - 1, seen);
	EXPECT_EQ(HOLD_WAITERS, fdinfo_get(port, "handoffs"));
	EXPECT_EQ(0, fdinfo_get(port, "queued"));
	/* The first run was the submitter's: one hold posted all 16. */
	EXPECT_EQ(1, fdinfo_get(port, "runs_submit"));
	EXPECT_EQ(HOLD_WAITERS - 8, fdinfo_get(port, "deferred_releases"));
	EXPECT_TRUE(wait_none(port, GRACE_MS));
	/* That wait made this thread the port's: it holds the port too. */
	EXPECT_EQ(0, cport_leave(port));
	close(fds[1]);
	close(fds[0]);
	cport_close(port);
	/* Given back once the exited waiters are reaped and the port goes. */
	EXPECT_TRUE(wait_until(user_units_now() == units0, PROGRESS_MS)) {
		TH_LOG("user_units %lld, %lld before", user_units_now(),
		       units0);
	}
}

/* Runs in a child: the parent puts max_user_units back, whatever happens. */
static int user_units_child(void)
{
	struct cport_sqe sqes[16];
	struct cport_cqe cqes[16];
	int a, b, fds[2][2], i;

	a = port_pending(0, 0);
	b = port_pending(0, 0);
	if (a < 0 || b < 0)
		return 2;
	for (i = 0; i < 2; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds[i]))
			return 3;
	if (write_param(PARAM_UNITS, 12))
		return 4;

	/* Two ports of one user share the bound: 2 associations... */
	if (cport_associate(a, fds[0][0], 1, 0) ||
	    cport_associate(b, fds[1][0], 2, 0))
		return 5;
	/* ... and 10 pending operations, wherever they are. */
	for (i = 0; i < 16; i++)
		cport_prep_recv(&sqes[i], fds[0][0], NULL, 0, i, 0);
	if (cport_submit(a, sqes, 16) != -EDQUOT)
		return 6;
	if (sqes[9].status != CPORT_STATUS_PENDING || sqes[10].status)
		return 7;
	cport_prep_recv(&sqes[0], fds[1][0], NULL, 0, 0, 0);
	if (cport_submit(b, sqes, 1) != -EDQUOT || sqes[0].status)
		return 8;
	if (fdinfo_get(a, "user_units") != 12 ||
	    fdinfo_get(b, "user_units") != 12)
		return 9;
	/* Delayed posts and associations count too. */
	cport_prep_post(&sqes[0], 1, 1, 0, 0);
	sqes[0].timeout_ns = HOUR_NS;
	if (cport_submit(a, sqes, 1) != -EDQUOT)
		return 10;
	if (cport_associate(a, fds[0][1], 3, 0) != -EDQUOT)
		return 11;
	/* Cancelled, their completions hold the units until dequeued. */
	if (cport_cancel(a, CPORT_CANCEL_ALL, 0) != 10)
		return 12;
	if (!wait_until(fdinfo_get(a, "queued") == 10, PROGRESS_MS))
		return 13;
	if (fdinfo_get(a, "user_units") != 12)
		return 14;
	if (cport_wait(a, cqes, 16, 0) != 10)
		return 15;
	if (fdinfo_get(a, "user_units") != 2)
		return 16;
	if (cport_associate(a, fds[0][1], 3, 0))
		return 17;
	cport_close(a);
	cport_close(b);
	return 0;
}

TEST(user_units_bounded)
{
	long old = read_param(PARAM_UNITS);
	struct stat st;
	int status;
	pid_t pid;

	ASSERT_LT(0, old) TH_LOG("%s unreadable", PARAM_UNITS);
	/* The bound counts from zero: what tests before held is back. */
	ASSERT_TRUE(wait_until(user_units_now() == 0, PROGRESS_MS)) {
		TH_LOG("user_units %lld", user_units_now());
	}
	/* Readable by everyone, writable by root only. */
	ASSERT_EQ(0, stat(PARAM_UNITS, &st));
	EXPECT_EQ(0644, st.st_mode & 0777);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(user_units_child());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, write_param(PARAM_UNITS, old));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* -------------------------------------------------------------------- */
/* The fallback is a thread of the owner.                                */
/* -------------------------------------------------------------------- */

/* A SEND bigger than the socket buffers of a unix pair. */
#define BIG	(1 << 20)

/*
 * The SEND's first part goes inline; the rest moves through the fallback
 * while the only thread sleeps in nanosleep() (interrupted and restarted
 * transparently).  SCM_CREDENTIALS carries the pid of whoever sent.
 */
TEST(fallback_sends_as_the_owner)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	struct msghdr msg = {};
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct cmsghdr *cm;
	struct ucred *uc;
	char *buf, *in;
	int port, fds[2], one = 1;
	size_t got = 0;
	bool checked = false, other_pid = false;

	buf = malloc(BIG);
	in = malloc(BIG);
	ASSERT_TRUE(buf && in);
	pattern_fill(buf, BIG, 7, 0);
	port = cport_create(NULL);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, setsockopt(fds[1], SOL_SOCKET, SO_PASSCRED, &one,
				sizeof(one)));
	ASSERT_EQ(0, cport_associate(port, fds[0], 1, 0));
	cport_prep_send(&sqe, fds[0], buf, BIG, 42);
	ASSERT_EQ(1, cport_submit(port, &sqe, 1));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);

	/* Read it all in a child thread's absence: this thread reads. */
	while (got < BIG) {
		ssize_t n;

		if (!fd_ready(fds[1], POLLIN, PROGRESS_MS))
			break;
		iov.iov_base = in + got;
		iov.iov_len = BIG - got;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(fds[1], &msg, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		ASSERT_LT(0, n);
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_type != SCM_CREDENTIALS)
				continue;
			uc = (struct ucred *)CMSG_DATA(cm);
			checked = true;
			if (uc->pid != getpid()) {
				other_pid = true;
				TH_LOG("bytes at %zu sent by pid %d, not %d",
				       got, uc->pid, getpid());
			}
		}
		got += n;
	}
	ASSERT_EQ(BIG, got);
	EXPECT_EQ(-1, pattern_check(in, BIG, 7, 0));
	EXPECT_TRUE(checked);
	EXPECT_FALSE(other_pid);
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_EQ(BIG, cqe.res);
	EXPECT_LT(0, fdinfo_get(port, "runs_fallback"));
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
	free(buf);
	free(in);
}

/* Both ends of a pair on the port, streaming to each other, nobody waits. */
TEST_F_TIMEOUT(heavy, fallback_cpu_is_the_owners, 600)
{
	size_t len = slow_kernel() ? (4 << 20) : (32 << 20);
	struct cport_sqe sqes[2];
	struct cport_cqe cqes[2];
	struct rusage r0, r1;
	long long cpu_us, t0, elapsed_us;
	int port, fds[2], n = 0, ret;
	char *src, *dst;

	src = malloc(len);
	dst = malloc(len);
	ASSERT_TRUE(src && dst);
	pattern_fill(src, len, 3, 0);
	port = cport_create(NULL);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(port, fds[0], 1, 0));
	ASSERT_EQ(0, cport_associate(port, fds[1], 2, 0));
	cport_prep_send(&sqes[0], fds[0], src, len, 1);
	cport_prep_recv(&sqes[1], fds[1], dst, len, 2, CPORT_RECV_FILL);
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_ns();
	ASSERT_EQ(2, cport_submit(port, sqes, 2));
	/* No thread waits: this one sleeps until both are done. */
	while (fdinfo_get(port, "queued") < 2 &&
	       now_ns() - t0 < (long long)PROGRESS_MS * 5 * NSEC_PER_MSEC)
		sleep_ms(5);
	getrusage(RUSAGE_SELF, &r1);
	elapsed_us = (now_ns() - t0) / 1000;
	while (n < 2) {
		ret = cport_wait(port, cqes + n, 2 - n, 0);
		ASSERT_LT(0, ret);
		n += ret;
	}
	EXPECT_EQ((long long)len, cqes[0].res);
	EXPECT_EQ((long long)len, cqes[1].res);
	EXPECT_EQ(-1, pattern_check(dst, len, 3, 0));
	cpu_us = (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000LL +
		 (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) +
		 (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000LL +
		 (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec);
	TH_LOG("%zu MB moved in %lld ms, the process's CPU time meanwhile %lld ms; fallback runs %lld, kicks %lld",
	       len >> 20, elapsed_us / 1000, cpu_us / 1000,
	       fdinfo_get(port, "runs_fallback"),
	       fdinfo_get(port, "fallback_kicks"));
	EXPECT_LT(10, fdinfo_get(port, "runs_fallback"));
	/*
	 * The copies are all the work there is, done by this process: most
	 * of the time it took (a kernel worker doing it left the process
	 * 6% of it, measured on 6.1).
	 */
	EXPECT_LT(elapsed_us / 3, cpu_us);
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
	free(src);
	free(dst);
}

struct other_wait {
	int port_a, port_b, fd;
	char buf[8];
	int ret;
};

/* Submit a RECV on port A (this thread is A's fallback), wait on port B. */
static void *submit_then_wait_elsewhere(void *arg)
{
	struct other_wait *o = arg;
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	cport_prep_recv(&sqe, o->fd, o->buf, sizeof(o->buf), 7, 0);
	if (cport_submit(o->port_a, &sqe, 1) != 1 ||
	    sqe.status != CPORT_STATUS_PENDING) {
		o->ret = -EPROTO;
		return NULL;
	}
	o->ret = cport_wait(o->port_b, &cqe, 1,
			    (long long)PROGRESS_MS * NSEC_PER_MSEC);
	return NULL;
}

/* The fallback's signal does not end a cport wait with -EINTR. */
TEST(fallback_does_not_interrupt_a_wait)
{
	struct other_wait o = { .ret = 1000 };
	pthread_t th;
	int fds[2];

	o.port_a = cport_create(NULL);
	o.port_b = cport_create(NULL);
	ASSERT_LE(0, o.port_a);
	ASSERT_LE(0, o.port_b);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(o.port_a, fds[0], 1, 0));
	o.fd = fds[0];
	ASSERT_EQ(0, pthread_create(&th, NULL, submit_then_wait_elsewhere,
				    &o));
	ASSERT_TRUE(wait_until(fdinfo_get(o.port_b, "waiters") == 1,
			       PROGRESS_MS));
	/* A's socket becomes ready; A has no waiter and no running thread. */
	ASSERT_EQ(1, write(fds[1], "y", 1));
	ASSERT_TRUE(wait_until(fdinfo_get(o.port_a, "fallback_kicks") >= 1,
			       PROGRESS_MS));
	sleep_ms(GRACE_MS);
	EXPECT_EQ(1, fdinfo_get(o.port_b, "waiters"));
	ASSERT_EQ(0, cport_post(o.port_b, 0, 1, 0, 0));
	pthread_join(th, NULL);
	EXPECT_EQ(1, o.ret);
	/* On its way back to user space, it ran A's socket. */
	EXPECT_TRUE(wait_until(fdinfo_get(o.port_a, "queued") == 1,
			       PROGRESS_MS));
	cport_close(o.port_a);
	cport_close(o.port_b);
	close(fds[0]);
	close(fds[1]);
}

static void *submit_and_exit(void *arg)
{
	struct other_wait *o = arg;
	struct cport_sqe sqe;

	cport_prep_recv(&sqe, o->fd, o->buf, sizeof(o->buf), 9, 0);
	o->ret = cport_submit(o->port_a, &sqe, 1);
	if (o->ret == 1 && sqe.status != CPORT_STATUS_PENDING)
		o->ret = -EPROTO;
	return NULL;
}

/* The thread the fallback would use has exited: another one is chosen. */
TEST(fallback_outlives_its_thread)
{
	struct other_wait o = {};
	struct cport_cqe cqe;
	pthread_t th;
	int fds[2];

	o.port_a = cport_create(NULL);
	ASSERT_LE(0, o.port_a);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
	ASSERT_EQ(0, cport_associate(o.port_a, fds[0], 1, 0));
	o.fd = fds[0];
	ASSERT_EQ(0, pthread_create(&th, NULL, submit_and_exit, &o));
	pthread_join(th, NULL);
	ASSERT_EQ(1, o.ret);
	ASSERT_EQ(1, write(fds[1], "z", 1));
	/* This thread only sleeps; the data must still move. */
	EXPECT_TRUE(wait_until(fdinfo_get(o.port_a, "queued") == 1,
			       PROGRESS_MS));
	ASSERT_EQ(1, cport_wait(o.port_a, &cqe, 1, 0));
	EXPECT_EQ(9, cqe.user_data);
	EXPECT_EQ(1, cqe.res);
	EXPECT_EQ('z', o.buf[0]);
	cport_close(o.port_a);
	close(fds[0]);
	close(fds[1]);
}

/* -------------------------------------------------------------------- */
/* A runner held in a page fault that a user keeps unresolved.          */
/* -------------------------------------------------------------------- */

/*
 * The child: a RECV into a page registered (missing) with a userfaultfd
 * that the parent holds and does not serve.  Data arrives, the fallback
 * runs the socket in the child's main thread, which faults there, held.
 * Two other threads destroy the port meanwhile, one after the other.
 */
struct held {
	long long resolved_ns;		/* set by the parent */
	long long destroy_ns[2];	/* when each destroy returned */
	int destroy_ret[2];
	int port;
};

static struct held *held_shared(void)
{
	void *p = mmap(NULL, sizeof(struct held), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct held *held_child_state;

static void *held_destroy(void *arg)
{
	long i = (long)arg;

	sleep_ms(300 + 300 * i);
	held_child_state->destroy_ret[i] = cport_destroy(held_child_state->port);
	held_child_state->destroy_ns[i] = now_ns();
	return NULL;
}

/* Send @fd over @sock. */
static int send_fd(int sock, int fd)
{
	char c = 0, ctl[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm;
	int fd;

	if (!fd_ready(sock, POLLIN, PROGRESS_MS) || recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static int held_child(int ctl, struct held *h)
{
	struct cport_sqe sqe;
	pthread_t th[2];
	int uffd, fds[2];
	void *page = NULL;
	char *buf;
	long i;

	/* Kernel-mode faults too: the RECV's copy waits on it. */
	uffd = uffd_page(&page, sysconf(_SC_PAGESIZE));
	if (uffd < 0)
		return 2;
	buf = page;
	if (send_fd(ctl, uffd))
		return 4;
	close(uffd);

	held_child_state = h;
	h->port = cport_create(NULL);
	if (h->port < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) ||
	    cport_associate(h->port, fds[0], 1, 0))
		return 5;
	cport_prep_recv(&sqe, fds[0], buf, 64, 1, 0);
	if (cport_submit(h->port, &sqe, 1) != 1 ||
	    sqe.status != CPORT_STATUS_PENDING)
		return 6;
	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, held_destroy, (void *)i))
			return 7;
	/* The fallback runs the RECV here, on the way back from write(). */
	if (write(fds[1], "data", 4) != 4)
		return 8;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return 0;
}

/* Fork the child; returns its pid, and the userfaultfd it registered. */
static pid_t held_start(struct held *h, int *uffd)
{
	int ctl[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl))
		return -1;
	pid = fork();
	if (!pid) {
		close(ctl[0]);
		_exit(held_child(ctl[1], h));
	}
	close(ctl[1]);
	*uffd = pid > 0 ? recv_fd(ctl[0]) : -1;
	close(ctl[0]);
	return pid;
}

/* The child's runner faulted on the page: wait for the fault's message. */
static bool held_faulted(int uffd)
{
	struct uffd_msg msg;

	return fd_ready(uffd, POLLIN, PROGRESS_MS) &&
	       read(uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* Wait up to @ms for @pid; true if it was reaped. */
static bool reaped_within(pid_t pid, int *status, int ms)
{
	return wait_until(waitpid(pid, status, WNOHANG) == pid, ms);
}

/*
 * Both destroys return only when the runner is out of the fault: no
 * operation touches user memory after either returns.
 */
TEST_F_TIMEOUT(heavy, destroys_wait_for_a_held_runner, 600)
{
	long page = sysconf(_SC_PAGESIZE);
	struct uffdio_zeropage zp = { .range.len = page };
	struct held *h = held_shared();
	struct uffd_msg msg;
	int uffd = -1, status;
	pid_t pid;

	ASSERT_NE(NULL, h);
	pid = held_start(h, &uffd);
	ASSERT_LT(0, pid);
	ASSERT_LE(0, uffd);
	ASSERT_TRUE(fd_ready(uffd, POLLIN, PROGRESS_MS));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	/* Both destroys have started (300 and 600 ms) and must wait. */
	sleep_ms(1500);
	h->resolved_ns = now_ns();
	zp.range.start = msg.arg.pagefault.address & ~(page - 1);
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zp));
	ASSERT_TRUE(reaped_within(pid, &status, PROGRESS_MS));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, h->destroy_ret[0]);
	EXPECT_EQ(-EIDRM, h->destroy_ret[1]);
	EXPECT_LE(h->resolved_ns, h->destroy_ns[0]);
	EXPECT_LE(h->resolved_ns, h->destroy_ns[1]);
	close(uffd);
	munmap(h, sizeof(*h));
}

/* SIGKILL ends the process although its destroy waits for the fault. */
TEST_F_TIMEOUT(heavy, kill_ends_a_destroy_held_by_a_fault, 600)
{
	struct held *h = held_shared();
	int uffd = -1, status;
	bool reaped;
	pid_t pid;

	ASSERT_NE(NULL, h);
	pid = held_start(h, &uffd);
	ASSERT_LT(0, pid);
	ASSERT_LE(0, uffd);
	ASSERT_TRUE(held_faulted(uffd));
	sleep_ms(1500);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	/* The parent still holds the userfaultfd: nothing resolves it. */
	reaped = reaped_within(pid, &status, 10000);
	close(uffd);
	if (!reaped)
		waitpid(pid, &status, 0);
	EXPECT_TRUE(reaped);
	EXPECT_TRUE(WIFSIGNALED(status));
	munmap(h, sizeof(*h));
}

/* -------------------------------------------------------------------- */
/* An unprivileged attacker in a cgroup with memory.max and cpu.max.    */
/* -------------------------------------------------------------------- */

#define CG_ROOT		"/sys/fs/cgroup"
#define CG		CG_ROOT "/cport-attacker"

/*
 * cgroup2 with the memory controller (and cpu, where the kernel has it:
 * *@cpu), and our group; or -errno.
 */
static int cg_setup(bool *cpu)
{
	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL))
			return -errno;
	}
	if (write_str(CG_ROOT "/cgroup.subtree_control", "+memory"))
		return -EOPNOTSUPP;
	*cpu = !write_str(CG_ROOT "/cgroup.subtree_control", "+cpu");
	if (mkdir(CG, 0755) && errno != EEXIST)
		return -errno;
	if (write_str(CG "/memory.max", "268435456"))
		return -EOPNOTSUPP;
	if (*cpu && write_str(CG "/cpu.max", "50000 100000"))
		return -EOPNOTSUPP;
	return 0;
}

/* Post-and-wait round trips on a port of our own for @ms: per second. */
static long long victim_rate(int port, int ms)
{
	long long end = now_ns() + ms * NSEC_PER_MSEC, n = 0, t0 = now_ns();
	struct cport_cqe cqe;

	while (now_ns() < end) {
		if (cport_post(port, 0, n, 0, 0) ||
		    cport_wait(port, &cqe, 1, NSEC_PER_SEC) != 1)
			return -1;
		n++;
	}
	return n * NSEC_PER_SEC / (now_ns() - t0);
}

/*
 * The attacker, as nobody: both ends of socketpairs streaming to each
 * other with no thread waiting (the fallback's work), delayed posts until
 * a limit says no, a timeout storm; forever, until killed.
 */
static void attacker(int ready)
{
	size_t len = 8 << 20;
	struct cport_sqe *sqes = calloc(CPORT_MAX_ENTER, sizeof(*sqes));
	char *src = malloc(len), *dst = malloc(len);
	int port, posts[4], fds[2], i, ret;

	if (write_str(CG "/cgroup.procs", "0") || setgid(65534) ||
	    setuid(65534) || !sqes || !src || !dst)
		_exit(2);
	memset(src, 'a', len);
	/* After setuid(), which clears it: die with the test. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(2);
	port = cport_create(NULL);
	for (i = 0; i < 4; i++)
		posts[i] = port_pending(0, CPORT_MAX_PENDING);
	if (port < 0 || posts[3] < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) ||
	    cport_associate(port, fds[0], 1, 0) ||
	    cport_associate(port, fds[1], 2, 0))
		_exit(3);
	/* Delayed posts until a bound says no: which one is reported. */
	for (i = 0, ret = 0; !ret; i = (i + 1) % 4)
		ret = post_delayed_many(posts[i], sqes, CPORT_MAX_ENTER,
					HOUR_NS, 0);
	/* Half of them go, to leave units for the streams. */
	close(posts[0]);
	close(posts[1]);
	if (write(ready, &ret, sizeof(ret)) != sizeof(ret))
		_exit(4);
	for (;;) {
		struct cport_cqe cqes[2];

		cport_prep_send(&sqes[0], fds[0], src, len, 1);
		cport_prep_recv(&sqes[1], fds[1], dst, len, 2, CPORT_RECV_FILL);
		if (cport_submit(port, sqes, 2) != 2)
			_exit(5);
		while (fdinfo_get(port, "queued") < 2)
			sleep_ms(2);
		if (cport_wait(port, cqes, 2, 0) != 2)
			_exit(6);
	}
}

/* The bound lowered for the attacker, put back whatever happens. */
FIXTURE(attack) {
	long old_units;
	pid_t attacker;
};

FIXTURE_SETUP(attack)
{
	self->old_units = read_param(PARAM_UNITS);
	self->attacker = 0;
}

FIXTURE_TEARDOWN(attack)
{
	if (self->attacker > 0) {
		kill(self->attacker, SIGKILL);
		waitpid(self->attacker, NULL, 0);
	}
	if (self->old_units > 0)
		write_param(PARAM_UNITS, self->old_units);
}

TEST_F_TIMEOUT(attack, unprivileged_attacker_in_a_cgroup, 600)
{
	long long base, during, mem0, mem_peak, mem_after, cpu0, cpu1, t0;
	long long slab;
	long long elapsed_us, worst;
	struct latency_probe probe;
	int port, pipefd[2], status, limit_ret = 0, ret;
	bool cpu = false;
	pid_t pid;

	ret = cg_setup(&cpu);
	if (ret)
		SKIP(return, "no cgroup2 memory controller: %s",
		     strerror(-ret));
	/* A low bound, for the attacker to reach it quickly. */
	ASSERT_LT(0, self->old_units);
	ASSERT_EQ(0, write_param(PARAM_UNITS, 20000));
	port = cport_create(NULL);
	ASSERT_LE(0, port);
	base = victim_rate(port, 500);
	ASSERT_LT(0, base);
	mem0 = read_param(CG "/memory.current");
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		attacker(pipefd[1]);
	self->attacker = pid;
	close(pipefd[1]);
	ASSERT_TRUE(fd_ready(pipefd[0], POLLIN, PROGRESS_MS * 3));
	ASSERT_EQ(sizeof(limit_ret), read(pipefd[0], &limit_ret,
					  sizeof(limit_ret)));
	/* Now it streams: what it costs from here on is the fallback's. */
	cpu0 = status_field(CG "/cpu.stat", "usage_usec ");
	t0 = now_ns();
	latency_start(&probe);
	during = victim_rate(port, 1500);
	worst = latency_stop(&probe);
	elapsed_us = (now_ns() - t0) / 1000;
	mem_peak = read_param(CG "/memory.current");
	slab = status_field(CG "/memory.stat", "slab ");
	cpu1 = status_field(CG "/cpu.stat", "usage_usec ");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->attacker = 0;
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("attacker exit %d",
						WEXITSTATUS(status));
	/* Its memory goes with it (RCU-freed objects take a moment). */
	wait_until((mem_after = read_param(CG "/memory.current")) <
		   mem0 + (4 << 20), PROGRESS_MS);
	TH_LOG("attacker stopped by %s; victim %lld round trips/s before, %lld during (x%.2f); worst wakeup latency %lld us",
	       strerror(-limit_ret), base, during, (double)during / base,
	       worst / 1000);
	TH_LOG("attacker's cgroup: memory %lld KB -> %lld KB (slab %lld KB) -> %lld KB after exit; CPU while streaming %lld ms of %lld ms (cpu.max %s)",
	       mem0 >> 10, mem_peak >> 10, slab >> 10, mem_after >> 10,
	       (cpu1 - cpu0) / 1000, elapsed_us / 1000,
	       cpu ? "50%" : "not in this kernel");
	/* A bound stopped the delayed posts, not an out-of-memory kill. */
	EXPECT_TRUE(limit_ret == -EDQUOT || limit_ret == -ENOMEM)
		TH_LOG("stopped by %d", limit_ret);
	/* Charged to the attacker: its kernel memory, and the copies' CPU. */
	EXPECT_LT(mem0 + (8 << 20), mem_peak);
	EXPECT_LT(256 << 10, slab);
	EXPECT_LT(elapsed_us / 5, cpu1 - cpu0);
	EXPECT_GT(mem0 + (4 << 20), mem_after);
	/*
	 * The other user's port kept serving (with the attacker held to
	 * half a CPU by cpu.max; without the cpu controller, nothing here
	 * holds it to less than its fair share).
	 */
	if (cpu)
		EXPECT_LT(base / 4, during);
	cport_close(port);
	close(pipefd[0]);
	rmdir(CG);
}

/*
 * A connection accepted by the fallback (an ACCEPT pending when the
 * client connects, no thread waiting) is charged to the owner's memory
 * cgroup, as accept(2) would charge it: its receive buffer shows in the
 * group's "sock" memory.  A kernel worker accepting gave it no memory
 * cgroup at all.  (Its LSM label is a kernel socket's: the module cannot
 * call security_socket_accept(), not exported on any kernel of the
 * matrix; cport(7), BUGS.)
 */
static int accepted_child(void)
{
	size_t len = 1 << 20, got;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	long long sock0, sock1;
	char *buf = calloc(1, len);
	int port, l, c, conn;

	if (!buf || write_str(CG "/cgroup.procs", "0"))
		return 2;
	port = cport_create(NULL);
	l = sock_listener(SK_TCP4);
	if (port < 0 || l < 0 || cport_associate(port, l, 1, 0))
		return 3;
	cport_prep_accept(&sqe, l, NULL, 0, 1, 0, 0);
	if (cport_submit(port, &sqe, 1) != 1 ||
	    sqe.status != CPORT_STATUS_PENDING)
		return 4;
	sock0 = status_field(CG "/memory.stat", "sock ");
	c = sock_connect(l);		/* the fallback accepts it */
	if (c < 0 || !wait_until(fdinfo_get(port, "queued") == 1, PROGRESS_MS))
		return 5;
	if (cport_wait(port, &cqe, 1, 0) != 1 || cqe.res < 0)
		return 6;
	conn = cqe.res;
	/* Fill the accepted socket's receive buffer; nobody reads it. */
	set_bufs(c, len, 0);
	for (got = 0; got < len; ) {
		ssize_t n = send(c, buf, len - got, MSG_DONTWAIT);

		if (n <= 0)
			break;
		got += n;
	}
	sleep_ms(100);
	sock1 = status_field(CG "/memory.stat", "sock ");
	printf("# fallback-accepted connection: %zu KB sent to it, the group's sock memory %lld KB -> %lld KB (runs_fallback %lld)\n",
	       got >> 10, sock0 >> 10, sock1 >> 10,
	       fdinfo_get(port, "runs_fallback"));
	if (fdinfo_get(port, "runs_fallback") < 1)
		return 7;
	if (sock1 - sock0 < 64 << 10)
		return 8;
	close(conn);
	close(c);
	cport_close(port);
	return 0;
}

TEST(fallback_accept_charged_to_the_owner)
{
	bool cpu;
	int status, ret = cg_setup(&cpu);
	pid_t pid;

	if (ret)
		SKIP(return, "no cgroup2 memory controller: %s",
		     strerror(-ret));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(accepted_child());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* -------------------------------------------------------------------- */
/* execve() ends a thread's association.                                */
/* -------------------------------------------------------------------- */

static const char *self_exe;

TEST(execve_leaves_the_port)
{
	char fdarg[16];
	pid_t pid;
	int status;

	ASSERT_NE(NULL, self_exe);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct cport_cqe cqe;
		int port = cport_create(NULL), fd;

		if (port < 0)
			_exit(2);
		/* Associate by waiting once; keep the port across execve. */
		if (cport_wait(port, &cqe, 1, 0) != -ETIMEDOUT)
			_exit(3);
		if (fdinfo_get(port, "threads") != 1)
			_exit(4);
		fd = fcntl(port, F_DUPFD, 100);
		if (fd < 0)
			_exit(5);
		snprintf(fdarg, sizeof(fdarg), "%d", fd);
		execl(self_exe, self_exe, "--execve-child", fdarg, NULL);
		_exit(6);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* The new image: the old port must no longer count this thread. */
static int execve_child(int fd)
{
	/* A few switches of the new image (each one a chance to count it). */
	sleep_ms(20);
	sleep_ms(20);
	if (fdinfo_get(fd, "threads") != 0) {
		fprintf(stderr, "threads after execve: %lld\n",
			fdinfo_get(fd, "threads"));
		return 1;
	}
	if (fdinfo_get(fd, "running") != 0)
		return 1;
	/* Not the new image's port: refused. */
	return cport_leave(fd) == -EPERM ? 0 : 1;
}

int main(int argc, char **argv)
{
	self_exe = "/proc/self/exe";
	if (argc == 3 && !strcmp(argv[1], "--execve-child"))
		return execve_child(atoi(argv[2]));
	return test_harness_run(argc, argv);
}
