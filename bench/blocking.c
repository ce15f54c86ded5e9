// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * blocking: what the concurrency value buys when handlers block.
 *
 * A pool of W worker threads handles R requests.  Each request computes
 * for C microseconds (a spin on the clock, no system call) and, for a
 * share P of them, then blocks for B microseconds (nanosleep) before it
 * is done: a disk read, a lock, a call to another service.  All requests
 * are queued at the start, so the run measures how well each pool keeps
 * the CPUs busy.  Pools compared, same workers, same requests:
 *
 *   cport-track    one port, concurrency K (default: CPUs), blocked
 *                  threads free their slot (the default)
 *   cport-notrack  the same with CPORT_SETUP_NO_BLOCK_TRACKING: a thread
 *                  keeps its slot while it sleeps
 *   cport-nolimit  concurrency W: every worker may run
 *   epoll          W workers on one epoll fd (EPOLLONESHOT, re-armed
 *                  after each take) over an eventfd semaphore holding the
 *                  requests: the usual Linux pool
 *
 * Reported per pool: requests/s, CPU-seconds per second of wall time,
 * context switches per request (voluntary and involuntary, all threads),
 * the mean number of workers inside a handler (sampled every ms) and, for
 * cport, the port's counters: releases caused by blocking, and the time
 * the running count spent above the limit.  Output: a markdown table,
 * then one "csv," line per pool.
 *
 * Usage: blocking [-r REQUESTS] [-w WORKERS] [-k CONCURRENCY]
 *                 [-p BLOCK_SHARE] [-b BLOCK_US] [-c COMPUTE_US]
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"
#include "fdinfo.h"

enum pool { CPORT_TRACK, CPORT_NOTRACK, CPORT_NOLIMIT, EPOLL, NR_POOLS };

static const char *const pool_names[NR_POOLS] = {
	"cport-track", "cport-notrack", "cport-nolimit", "epoll",
};

static struct params {
	unsigned int requests, workers, concurrency;
	double block_share;
	unsigned int block_us, compute_us;
} prm = {
	.requests = 20000, .workers = 8, .block_share = 0.2,
	.block_us = 1000, .compute_us = 50,
};

struct run {
	enum pool pool;
	int port, epfd, efd;
	atomic_uint next;	/* request numbers handed out (epoll) */
	atomic_uint done;	/* requests finished */
	atomic_int in_handler;
	atomic_bool stop_sampler;
	double in_handler_sum;
	unsigned long samples;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "blocking: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Request n blocks if its hash falls in the block share: same for all pools. */
static bool request_blocks(unsigned int n)
{
	unsigned int h = n * 2654435761u;

	return (double)(h >> 8) / (1u << 24) < prm.block_share;
}

static void handle(struct run *run, unsigned int n)
{
	long long end = now_ns() + prm.compute_us * 1000LL;
	struct timespec ts = {
		.tv_sec = prm.block_us / 1000000,
		.tv_nsec = (prm.block_us % 1000000) * 1000L,
	};

	atomic_fetch_add(&run->in_handler, 1);
	while (now_ns() < end)
		;
	if (request_blocks(n))
		nanosleep(&ts, NULL);
	atomic_fetch_sub(&run->in_handler, 1);
	atomic_fetch_add(&run->done, 1);
}

static void *cport_worker(void *arg)
{
	struct run *run = arg;
	struct cport_cqe cqe;
	int ret;

	for (;;) {
		ret = cport_wait(run->port, &cqe, 1, -1);
		if (ret == -EIDRM)
			return NULL;
		if (ret < 0)
			die("cport_wait", -ret);
		handle(run, cqe.user_data);
	}
}

static void *epoll_worker(void *arg)
{
	struct run *run = arg;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
	uint64_t one;
	int ret;

	for (;;) {
		ret = epoll_wait(run->epfd, &ev, 1, -1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			die("epoll_wait", errno);
		if (ev.data.u32 == 1)	/* the stop eventfd */
			return NULL;
		ret = read(run->efd, &one, sizeof(one));
		/* Re-arm at once so another worker can take the next one. */
		ev.events = EPOLLIN | EPOLLONESHOT;
		ev.data.u32 = 0;
		if (epoll_ctl(run->epfd, EPOLL_CTL_MOD, run->efd, &ev))
			die("epoll_ctl", errno);
		if (ret == sizeof(one))
			handle(run, atomic_fetch_add(&run->next, 1));
	}
}

static void *sampler(void *arg)
{
	struct run *run = arg;

	while (!atomic_load(&run->stop_sampler)) {
		run->in_handler_sum += atomic_load(&run->in_handler);
		run->samples++;
		usleep(1000);
	}
	return NULL;
}

static void setup_source(struct run *run)
{
	struct cport_setup setup = { .concurrency = prm.concurrency };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
	struct cport_sqe sqes[256];
	unsigned int n, i, batch;
	int ret;

	if (run->pool == EPOLL) {
		run->efd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
		run->epfd = epoll_create1(0);
		if (run->efd < 0 || run->epfd < 0)
			die("eventfd/epoll", errno);
		if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, run->efd, &ev))
			die("epoll_ctl", errno);
		return;
	}
	if (run->pool == CPORT_NOTRACK)
		setup.flags = CPORT_SETUP_NO_BLOCK_TRACKING;
	if (run->pool == CPORT_NOLIMIT)
		setup.concurrency = prm.workers;
	run->port = cport_create(&setup);
	if (run->port < 0)
		die("cport_create", -run->port);
	/* Queue every request before a worker starts. */
	for (n = 0; n < prm.requests; n += batch) {
		batch = prm.requests - n < 256 ? prm.requests - n : 256;
		for (i = 0; i < batch; i++)
			cport_prep_post(&sqes[i], 0, n + i, 0, 0);
		ret = cport_submit(run->port, sqes, batch);
		if (ret < 0)
			die("cport_submit", -ret);
	}
}

static void start_source(struct run *run)
{
	uint64_t count = prm.requests;

	if (run->pool == EPOLL && write(run->efd, &count, sizeof(count)) < 0)
		die("eventfd write", errno);
}

static void stop_pool(struct run *run)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
	uint64_t one = 1;
	int stopfd;

	if (run->pool != EPOLL) {
		cport_destroy(run->port);
		return;
	}
	/* Level-triggered, never read: wakes every worker for good. */
	stopfd = eventfd(0, 0);
	epoll_ctl(run->epfd, EPOLL_CTL_ADD, stopfd, &ev);
	if (write(stopfd, &one, sizeof(one)) < 0)
		die("eventfd write", errno);
}

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static void run_pool(enum pool pool)
{
	pthread_t threads[256], sampler_thread;
	struct rusage ru0, ru1;
	long long t0, t1, over_ns = -1, releases = -1, over_events = -1;
	struct run run = { .pool = pool };
	double wall, cpu, csw;
	unsigned int i;

	setup_source(&run);
	for (i = 0; i < prm.workers; i++)
		pthread_create(&threads[i], NULL,
			       pool == EPOLL ? epoll_worker : cport_worker, &run);
	pthread_create(&sampler_thread, NULL, sampler, &run);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_ns();
	start_source(&run);
	while (atomic_load(&run.done) < prm.requests)
		usleep(500);
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	if (pool != EPOLL) {
		char info[FDINFO_SIZE] = "";

		fdinfo_read(run.port, info, sizeof(info));
		over_ns = fdinfo_find_num(info, "over_limit_ns");
		over_events = fdinfo_find_num(info, "over_limit_events");
		releases = fdinfo_find_num(info, "blocked_releases");
	}
	atomic_store(&run.stop_sampler, true);
	pthread_join(sampler_thread, NULL);
	stop_pool(&run);
	for (i = 0; i < prm.workers; i++)
		pthread_join(threads[i], NULL);
	close(pool == EPOLL ? run.epfd : run.port);

	wall = (t1 - t0) / 1e9;
	cpu = tv_s(ru1.ru_utime) + tv_s(ru1.ru_stime) -
	      tv_s(ru0.ru_utime) - tv_s(ru0.ru_stime);
	csw = (ru1.ru_nvcsw + ru1.ru_nivcsw - ru0.ru_nvcsw - ru0.ru_nivcsw) /
	      (double)prm.requests;
	printf("| %-13s | %9.0f | %5.2f | %7.2f | %10.2f |",
	       pool_names[pool], prm.requests / wall, cpu / wall, csw,
	       run.samples ? run.in_handler_sum / run.samples : 0.0);
	if (pool == EPOLL)
		printf(" %8s | %10s |\n", "-", "-");
	else
		printf(" %8lld | %9.1f%% |\n", releases,
		       100.0 * over_ns / (t1 - t0));
	fprintf(stderr, "csv,%s,%u,%u,%u,%.3f,%u,%u,%.0f,%.3f,%.3f,%.3f,%lld,%lld,%lld,%.3f\n",
		pool_names[pool], prm.requests, prm.workers, prm.concurrency,
		prm.block_share, prm.block_us, prm.compute_us,
		prm.requests / wall, cpu / wall, csw,
		run.samples ? run.in_handler_sum / run.samples : 0.0,
		releases, over_events, over_ns, wall);
}

int main(int argc, char **argv)
{
	int opt, p;

	prm.concurrency = sysconf(_SC_NPROCESSORS_ONLN);
	while ((opt = getopt(argc, argv, "r:w:k:p:b:c:")) != -1) {
		switch (opt) {
		case 'r': prm.requests = atoi(optarg); break;
		case 'w': prm.workers = atoi(optarg); break;
		case 'k': prm.concurrency = atoi(optarg); break;
		case 'p': prm.block_share = atof(optarg); break;
		case 'b': prm.block_us = atoi(optarg); break;
		case 'c': prm.compute_us = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-r requests] [-w workers] [-k concurrency] [-p block_share] [-b block_us] [-c compute_us]\n",
				argv[0]);
			return 2;
		}
	}
	if (!prm.workers || prm.workers > 256 || !prm.requests ||
	    prm.requests > CPORT_DEFAULT_QUEUED) {
		fprintf(stderr, "blocking: 1..256 workers, 1..%u requests\n",
			CPORT_DEFAULT_QUEUED);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%u requests, %u workers, concurrency %u, %.0f%% block %u us, compute %u us, %ld CPUs\n\n",
	       prm.requests, prm.workers, prm.concurrency,
	       prm.block_share * 100, prm.block_us, prm.compute_us,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("| pool          | req/s     | CPU/s | csw/req | in handler | blk.rel. | over limit |\n");
	printf("|---------------|-----------|-------|---------|------------|----------|------------|\n");
	fprintf(stderr, "csv,pool,requests,workers,concurrency,block_share,block_us,compute_us,req_per_s,cpu_per_s,csw_per_req,in_handler,blocked_releases,over_events,over_ns,wall_s\n");
	for (p = 0; p < NR_POOLS; p++)
		run_pool(p);
	return 0;
}
