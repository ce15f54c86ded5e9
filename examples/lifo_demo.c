// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lifo_demo: watch a completion port release worker threads one at a
 * time, last-in first-out.
 *
 * Four workers start waiting on one port, in order 0, 1, 2, 3.  Then:
 *  1. four completions are posted one after another, each after the
 *     previous one was handled: the most recent waiter takes every one
 *     (it goes back to waiting first, so it is the most recent again):
 *     one cache-warm thread does the work while the others sleep;
 *  2. four completions are posted in one call while all four sleep, and
 *     each handler stays busy until all four are handled: each completion
 *     releases exactly one worker, newest first: 3, 2, 1, 0;
 *  3. the same burst on a FIFO port releases 0, 1, 2, 3.
 * Finally the port's counters from /proc/self/fdinfo.
 *
 * Usage: lifo_demo
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cport.h"
#include "fdinfo.h"

#define NR_WORKERS	4
#define QUIT_KEY	0xdeadULL

struct worker {
	int port;
	int id;
	pthread_t thread;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cond = PTHREAD_COND_INITIALIZER;
static int nr_handled;
static int hold_until;	/* a handler holds its completion until this many */

static void die(const char *what, int err)
{
	fprintf(stderr, "lifo_demo: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void wait_for_waiters(int port, long n)
{
	while (fdinfo_get(port, "waiters") != n)
		usleep(1000);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct cport_cqe cqe;
	int ret;

	for (;;) {
		ret = cport_wait(w->port, &cqe, 1, -1);
		if (ret == -EIDRM)
			return NULL;
		if (ret < 0)
			die("wait", ret);
		pthread_mutex_lock(&log_lock);
		printf("    completion #%llu -> worker %d\n",
		       (unsigned long long)cqe.user_data, w->id);
		nr_handled++;
		pthread_cond_broadcast(&log_cond);
		/* A busy handler: keep this worker off the port for a while. */
		while (nr_handled < hold_until)
			pthread_cond_wait(&log_cond, &log_lock);
		pthread_mutex_unlock(&log_lock);
	}
}

static void wait_handled(int n)
{
	pthread_mutex_lock(&log_lock);
	while (nr_handled < n)
		pthread_cond_wait(&log_cond, &log_lock);
	pthread_mutex_unlock(&log_lock);
}

static int start_port(struct worker *workers, __u32 policy)
{
	struct cport_setup setup = {
		.concurrency = NR_WORKERS,
		.policy = policy,
	};
	int port, i;

	port = cport_create(&setup);
	if (port < 0)
		die("create", port);
	for (i = 0; i < NR_WORKERS; i++) {
		workers[i].port = port;
		workers[i].id = i;
		pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		/* Start the next one only once this one sleeps in the port. */
		wait_for_waiters(port, i + 1);
		printf("    worker %d waiting\n", i);
	}
	return port;
}

static void stop_port(int port, struct worker *workers)
{
	int i;

	cport_destroy(port);
	for (i = 0; i < NR_WORKERS; i++)
		pthread_join(workers[i].thread, NULL);
}

static void burst(int port, int first)
{
	struct cport_sqe sqes[NR_WORKERS];
	int i, ret;

	/* Handlers stay busy until the whole burst is handled. */
	hold_until = first + NR_WORKERS - 1;
	for (i = 0; i < NR_WORKERS; i++)
		cport_prep_post(&sqes[i], 1, first + i, 0, 0);
	ret = cport_submit(port, sqes, NR_WORKERS);
	if (ret < 0)
		die("submit", ret);
	wait_handled(first + NR_WORKERS - 1);
}

int main(void)
{
	struct worker workers[NR_WORKERS];
	char info[FDINFO_SIZE];
	int port, i, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("cport demo: %d workers on one LIFO port\n", NR_WORKERS);
	port = start_port(workers, CPORT_POLICY_LIFO);

	printf("1. one completion at a time: the newest waiter takes each\n");
	for (i = 1; i <= 4; i++) {
		ret = cport_post(port, 1, i, 0, 0);
		if (ret < 0)
			die("post", ret);
		wait_handled(i);
		wait_for_waiters(port, NR_WORKERS);
	}

	printf("2. four at once: one worker released per completion, newest first\n");
	burst(port, 5);
	wait_for_waiters(port, NR_WORKERS);
	fdinfo_read(port, info, sizeof(info));
	printf("   port counters: posts %lld, handoffs %lld, waits %lld, slept %lld\n",
	       fdinfo_find_num(info, "posts"), fdinfo_find_num(info, "handoffs"),
	       fdinfo_find_num(info, "waits"),
	       fdinfo_find_num(info, "waits_slept"));
	stop_port(port, workers);

	printf("3. the same burst on a FIFO port: oldest waiter first\n");
	nr_handled = 0;
	port = start_port(workers, CPORT_POLICY_FIFO);
	burst(port, 1);
	stop_port(port, workers);
	close(port);
	return 0;
}
