// SPDX-License-Identifier: GPL-2.0
/*
 * Many threads on one port: poster threads submit a few hundred thousand
 * completions (batches of 1 and 16, retrying on -ENOSPC from a small
 * queue bound) while worker threads wait for them (batches of 1 and 16).
 * Every cookie must arrive exactly once with its key, res and bytes
 * intact; the number of workers between two waits (which spin a little
 * there on the narrow ports, so that an unenforced limit shows) and the
 * port's running count never exceed the concurrency value; destroy then
 * releases every worker with -EIDRM.
 * The debug kernel gets a tenth of the work.
 */
#include <stdint.h>

#include "cport_test.h"
#include "kselftest_harness.h"

#define MAX_WORKERS	16
#define MAX_POSTERS	4

static __u64 key_of(__u64 cookie)
{
	return cookie * 0x9e3779b97f4a7c15ULL + 1;
}

static __s64 res_of(__u64 cookie)
{
	return (cookie & 1) ? -(__s64)(cookie % 4096) : (__s64)(cookie * 3);
}

static __u64 bytes_of(__u64 cookie)
{
	return cookie ^ 0x5555;
}

struct shared {
	int port;
	unsigned int total;
	unsigned int posters;
	__u64 *bitmap;		/* one bit per cookie received */
	unsigned int received;	/* atomics from here on */
	unsigned int dups;
	unsigned int corrupt;
	unsigned int strays;
	unsigned int in_handler;
	unsigned int max_in_handler;
	unsigned int enospc;
	unsigned int posters_done;
	long long spin_ns;	/* busy time per batch in a worker */
};

struct worker {
	pthread_t thread;
	struct shared *sh;
	unsigned int max;
	int ret;
};

struct poster {
	pthread_t thread;
	struct shared *sh;
	unsigned int idx;
	int ret;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct cport_cqe cqes[16];
	int n, i;

	for (;;) {
		n = cport_wait(sh->port, cqes, w->max, -1);
		if (n <= 0) {
			w->ret = n;
			return NULL;
		}
		note_max(&sh->max_in_handler,
			 __atomic_add_fetch(&sh->in_handler, 1, __ATOMIC_ACQ_REL));
		for (i = 0; i < n; i++) {
			__u64 c = cqes[i].user_data;
			__u64 bit;

			if (c >= sh->total) {
				__atomic_fetch_add(&sh->strays, 1, __ATOMIC_RELAXED);
				continue;
			}
			if (cqes[i].key != key_of(c) || cqes[i].res != res_of(c) ||
			    cqes[i].bytes != bytes_of(c) ||
			    cqes[i].op != CPORT_OP_POST)
				__atomic_fetch_add(&sh->corrupt, 1, __ATOMIC_RELAXED);
			bit = 1ULL << (c % 64);
			if (__atomic_fetch_or(&sh->bitmap[c / 64], bit,
					      __ATOMIC_RELAXED) & bit)
				__atomic_fetch_add(&sh->dups, 1, __ATOMIC_RELAXED);
		}
		if (sh->spin_ns) {
			long long end = now_ns() + sh->spin_ns;

			while (now_ns() < end)
				;
		}
		__atomic_fetch_add(&sh->received, n, __ATOMIC_RELEASE);
		/* Leaving the handler before waiting again: never undercounts. */
		__atomic_sub_fetch(&sh->in_handler, 1, __ATOMIC_ACQ_REL);
	}
}

/* Poster p submits cookies p, p + posters, p + 2 * posters, ... */
static void *poster_fn(void *arg)
{
	struct poster *p = arg;
	struct shared *sh = p->sh;
	struct cport_sqe sqes[16];
	__u64 next = p->idx;
	unsigned int round = 0;

	while (next < sh->total) {
		unsigned int batch = (round++ % 3) ? 1 : 16, nr = 0, done = 0;
		unsigned int submitted;
		int ret;

		for (; nr < batch && next < sh->total; nr++, next += sh->posters)
			cport_prep_post(&sqes[nr], key_of(next), next,
					res_of(next), bytes_of(next));
		while (done < nr) {
			ret = cport_submit_and_wait(sh->port, sqes + done,
						    nr - done, NULL, 0, 0,
						    &submitted);
			if (ret == -ENOSPC) {
				__atomic_fetch_add(&sh->enospc, 1,
						   __ATOMIC_RELAXED);
				done += submitted;
				sched_yield();
				continue;
			}
			if (ret < 0) {
				p->ret = ret;
				goto out;
			}
			done = nr;
		}
	}
out:
	__atomic_fetch_add(&sh->posters_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

FIXTURE(stress) {
	struct shared sh;
	struct worker w[MAX_WORKERS];
	struct poster p[MAX_POSTERS];
};

FIXTURE_VARIANT(stress) {
	unsigned int workers;
	unsigned int posters;
	unsigned int concurrency;
	unsigned int policy;
	unsigned int max_queued;
	long long spin_ns;
};

/* Every worker may run: only the release policy and handoff are at work. */
FIXTURE_VARIANT_ADD(stress, lifo_wide) {
	.workers = 8, .posters = 4, .concurrency = 8,
	.policy = CPORT_POLICY_LIFO, .max_queued = 1024,
};

FIXTURE_VARIANT_ADD(stress, fifo_wide) {
	.workers = 8, .posters = 4, .concurrency = 8,
	.policy = CPORT_POLICY_FIFO, .max_queued = 1024,
};

/* Two of ten workers may run: completions queue up behind the limit. */
FIXTURE_VARIANT_ADD(stress, lifo_narrow) {
	.workers = 10, .posters = 2, .concurrency = 2,
	.policy = CPORT_POLICY_LIFO, .max_queued = 256, .spin_ns = 10000,
};

FIXTURE_VARIANT_ADD(stress, fifo_narrow) {
	.workers = 10, .posters = 2, .concurrency = 2,
	.policy = CPORT_POLICY_FIFO, .max_queued = 256, .spin_ns = 10000,
};

FIXTURE_SETUP(stress)
{
	struct shared *sh = &self->sh;

	sh->port = port_new(variant->concurrency, variant->policy,
			    variant->max_queued);
	ASSERT_LE(0, sh->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-sh->port));
	}
	sh->total = slow_kernel() ? 20000 : 200000;
	sh->posters = variant->posters;
	sh->spin_ns = variant->spin_ns;
	sh->bitmap = calloc((sh->total + 63) / 64, sizeof(__u64));
	ASSERT_NE(NULL, sh->bitmap);
}

FIXTURE_TEARDOWN(stress)
{
	cport_close(self->sh.port);
	free(self->sh.bitmap);
}

TEST_F_TIMEOUT(stress, every_cookie_once, 300)
{
	struct shared *sh = &self->sh;
	unsigned int i, missing = 0, seen, last = 0;
	long long stuck_since = now_ns(), running, max_running = 0;

	for (i = 0; i < variant->workers; i++) {
		self->w[i] = (struct worker){ .sh = sh, .max = i & 1 ? 16 : 1 };
		ASSERT_EQ(0, pthread_create(&self->w[i].thread, NULL, worker_fn,
					    &self->w[i]));
	}
	for (i = 0; i < variant->posters; i++) {
		self->p[i] = (struct poster){ .sh = sh, .idx = i };
		ASSERT_EQ(0, pthread_create(&self->p[i].thread, NULL, poster_fn,
					    &self->p[i]));
	}
	/*
	 * Everything arrives; a lost completion shows as a stall.  Meanwhile
	 * sample the port's running count.
	 */
	for (;;) {
		bool posting = __atomic_load_n(&sh->posters_done,
					       __ATOMIC_ACQUIRE) < variant->posters;

		seen = __atomic_load_n(&sh->received, __ATOMIC_ACQUIRE);
		if (!posting && seen >= sh->total)
			break;
		running = fdinfo_get(sh->port, "running");
		if (running > max_running)
			max_running = running;
		if (posting || seen != last) {
			last = seen;
			stuck_since = now_ns();
		} else if (now_ns() - stuck_since > PROGRESS_MS * NSEC_PER_MSEC) {
			break;
		}
		usleep(1000);
	}
	for (i = 0; i < variant->posters; i++) {
		ASSERT_EQ(0, pthread_join(self->p[i].thread, NULL));
		EXPECT_EQ(0, self->p[i].ret) {
			TH_LOG("poster %u", i);
		}
	}
	EXPECT_EQ(sh->total, seen) {
		TH_LOG("queued %lld waiters %lld running %lld",
		       fdinfo_get(sh->port, "queued"),
		       fdinfo_get(sh->port, "waiters"),
		       fdinfo_get(sh->port, "running"));
	}
	EXPECT_EQ(0, fdinfo_get(sh->port, "queued"));

	ASSERT_EQ(0, cport_destroy(sh->port));
	for (i = 0; i < variant->workers; i++) {
		ASSERT_EQ(0, pthread_join(self->w[i].thread, NULL));
		EXPECT_EQ(-EIDRM, self->w[i].ret) {
			TH_LOG("worker %u", i);
		}
	}

	for (i = 0; i < sh->total; i++)
		missing += !(sh->bitmap[i / 64] & (1ULL << (i % 64)));
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, sh->dups);
	EXPECT_EQ(0, sh->corrupt);
	EXPECT_EQ(0, sh->strays);
	EXPECT_LE(sh->max_in_handler, variant->concurrency);
	EXPECT_LE(max_running, variant->concurrency);
	EXPECT_EQ(sh->total, fdinfo_get(sh->port, "posts"));
	EXPECT_EQ(sh->total, fdinfo_get(sh->port, "dequeues"));
	TH_LOG("%u completions, %u ENOSPC retries, at most %u workers at once (running %lld), %lld handoffs",
	       sh->total, sh->enospc, sh->max_in_handler, max_running,
	       fdinfo_get(sh->port, "handoffs"));
}

TEST_HARNESS_MAIN
