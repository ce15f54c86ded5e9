// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * notifier_cost: what block tracking costs a thread's context switches.
 *
 * Two threads pinned to one CPU ping-pong a byte over two pipes (each
 * round trip is two blocking reads, so two context switches, and no
 * cross-CPU wake-up to drown them), in three setups:
 *
 *   plain        the threads never touched a port
 *   notrack      both are associated with a port set up with
 *                CPORT_SETUP_NO_BLOCK_TRACKING (the notifier runs, returns)
 *   track        both are associated with a default port: every switch
 *                takes the port's run lock, and every block frees a slot
 *
 * The setups alternate over several rounds and the best round of each is
 * kept; the output is ns per round trip and the ratio to plain.
 *
 * Usage: notifier_cost [-n ROUND_TRIPS] [-r ROUNDS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"

enum setup { PLAIN, NOTRACK, TRACK, NR_SETUPS };

static const char *const setup_names[NR_SETUPS] = {
	"plain", "notrack", "track",
};

struct pingpong {
	int port;		/* -1: no port */
	int in, out;		/* this thread's pipe ends */
	long n;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "notifier_cost: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Associate the calling thread with @port: take one completion from it. */
static void associate(int port)
{
	struct cport_cqe cqe;
	int ret;

	if (port < 0)
		return;
	ret = cport_post(port, 0, 0, 0, 0);
	if (ret >= 0)
		ret = cport_wait(port, &cqe, 1, -1);
	if (ret < 0)
		die("associate", -ret);
}

static void pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity", errno);
}

static void *echo_thread(void *arg)
{
	struct pingpong *pp = arg;
	char c;
	long i;

	pin_to_cpu0();
	associate(pp->port);
	for (i = 0; i < pp->n; i++) {
		if (read(pp->in, &c, 1) != 1 || write(pp->out, &c, 1) != 1)
			die("echo", errno);
	}
	return NULL;
}

static double run_once(enum setup setup, long n)
{
	struct cport_setup s = {
		.flags = setup == NOTRACK ? CPORT_SETUP_NO_BLOCK_TRACKING : 0,
		.concurrency = 2,
	};
	struct pingpong echo;
	int a[2], b[2], port = -1;
	long long t0, t1;
	pthread_t thread;
	char c = 'x';
	long i;

	if (pipe(a) || pipe(b))
		die("pipe", errno);
	if (setup != PLAIN) {
		port = cport_create(&s);
		if (port < 0)
			die("cport_create", -port);
	}
	echo = (struct pingpong){ .port = port, .in = a[0], .out = b[1], .n = n };
	pin_to_cpu0();
	pthread_create(&thread, NULL, echo_thread, &echo);
	associate(port);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			die("ping", errno);
	}
	t1 = now_ns();
	pthread_join(thread, NULL);
	if (port >= 0) {
		cport_leave(port);
		cport_close(port);
	}
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	return (double)(t1 - t0) / n;
}

int main(int argc, char **argv)
{
	double best[NR_SETUPS], ns;
	long n = 20000;
	int rounds = 5, opt, r, s;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n round_trips] [-r rounds]\n",
				argv[0]);
			return 2;
		}
	}
	for (s = 0; s < NR_SETUPS; s++)
		best[s] = 1e30;
	for (r = 0; r < rounds; r++) {
		for (s = 0; s < NR_SETUPS; s++) {
			ns = run_once(s, n);
			if (ns < best[s])
				best[s] = ns;
		}
	}
	printf("pipe ping-pong on one CPU, %ld round trips, best of %d rounds\n\n", n, rounds);
	printf("| setup   | ns/round trip | vs plain |\n");
	printf("|---------|---------------|----------|\n");
	for (s = 0; s < NR_SETUPS; s++)
		printf("| %-7s | %13.0f | %7.3fx |\n", setup_names[s], best[s],
		       best[s] / best[PLAIN]);
	for (s = 0; s < NR_SETUPS; s++)
		fprintf(stderr, "csv,%s,%ld,%.1f,%.4f\n", setup_names[s], n,
			best[s], best[s] / best[PLAIN]);
	return 0;
}
