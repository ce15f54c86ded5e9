// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * floor: what the cheapest steps cost on this machine, so every later
 * figure can be read as a multiple of them.
 *
 *   syscall   getppid(): one system call
 *   futex     two threads ping-pong over two futex words (FUTEX_WAKE,
 *             then FUTEX_WAIT): one round trip = two wakeups
 *   tcp       two threads ping-pong 64 bytes over a loopback TCP
 *             connection (blocking send and recv)
 *   cport     two threads ping-pong over two ports: each posts to the
 *             other's port and waits on its own, in one
 *             cport_submit_and_wait() call
 *
 * futex-1cpu, futex-xcpu, cport-1cpu, cport-xcpu: the same with both
 * threads pinned to CPU 0, or one on CPU 0 and one on CPU 1: whether a
 * round trip pays a cross-CPU wakeup.
 *
 * Each runs for -d seconds (after a short warm-up) and prints
 *   csv,floor,NAME,iters=N,ns_per_op=X
 * where an op is one call (syscall) or one round trip (the others).
 *
 * Usage: floor [-d SECS] [NAME...]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"

static double opt_duration = 1;
/* CPU of the main (0) and the peer (1) thread, -1: wherever they run. */
static int pin[2] = { -1, -1 };

static void pin_self(int which)
{
	cpu_set_t set;

	if (pin[which] < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(pin[which], &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void unpin_self(void)
{
	long i, n = sysconf(_SC_NPROCESSORS_CONF);
	cpu_set_t set;

	CPU_ZERO(&set);
	for (i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}
static _Atomic int stop;
static _Atomic unsigned int fx[2];
static int ports[2], socks[2];
static unsigned long rounds;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(err));
	exit(1);
}

static void report(const char *name, unsigned long n, long long ns)
{
	printf("csv,floor,%s,iters=%lu,ns_per_op=%.1f\n", name, n,
	       n ? (double)ns / n : 0);
	fflush(stdout);
}

static void bench_syscall(void)
{
	long long t0 = now_ns(), end = t0 + opt_duration * 1e9, t;
	unsigned long n = 0;

	do {
		for (int i = 0; i < 1000; i++)
			syscall(SYS_getppid);
		n += 1000;
	} while ((t = now_ns()) < end);
	report("syscall", n, t - t0);
}

static void futex_wait(_Atomic unsigned int *w, unsigned int val)
{
	while (atomic_load(w) == val)
		syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_post(_Atomic unsigned int *w)
{
	atomic_fetch_add(w, 1);
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Thread b: answers each ping until told to stop. */
static void *futex_peer(void *arg)
{
	unsigned int seen = 0;

	pin_self(1);
	for (;;) {
		futex_wait(&fx[0], seen);
		seen = atomic_load(&fx[0]);
		if (atomic_load(&stop))
			break;
		futex_post(&fx[1]);
	}
	return NULL;
}

static void bench_futex(const char *name)
{
	long long t0 = 0, end;
	unsigned long n = 0, i;
	pthread_t th;

	pin_self(0);
	atomic_store(&stop, 0);
	pthread_create(&th, NULL, futex_peer, NULL);
	for (i = 0;; i++) {
		unsigned int seen = atomic_load(&fx[1]);

		if (i == 1000)
			t0 = now_ns();
		futex_post(&fx[0]);
		futex_wait(&fx[1], seen);
		if (i >= 1000 && (++n & 255) == 0 &&
		    now_ns() >= t0 + opt_duration * 1e9)
			break;
	}
	end = now_ns();
	atomic_store(&stop, 1);
	futex_post(&fx[0]);
	pthread_join(th, NULL);
	report(name, n, end - t0);
}

static void *tcp_peer(void *arg)
{
	char buf[64];
	ssize_t n;

	while ((n = recv(socks[1], buf, sizeof(buf), MSG_WAITALL)) > 0)
		send(socks[1], buf, n, 0);
	return NULL;
}

static void bench_tcp(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	long long t0 = 0, end;
	unsigned long n = 0, i;
	int lfd, one = 1;
	char buf[64] = { 0 };
	pthread_t th;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0)
		die("listen", errno);
	socks[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(socks[0], (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect", errno);
	socks[1] = accept(lfd, NULL, NULL);
	setsockopt(socks[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(socks[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_create(&th, NULL, tcp_peer, NULL);
	for (i = 0;; i++) {
		if (i == 1000)
			t0 = now_ns();
		send(socks[0], buf, sizeof(buf), 0);
		if (recv(socks[0], buf, sizeof(buf), MSG_WAITALL) <= 0)
			die("recv", errno);
		if (i >= 1000 && (++n & 255) == 0 &&
		    now_ns() >= t0 + opt_duration * 1e9)
			break;
	}
	end = now_ns();
	shutdown(socks[0], SHUT_WR);
	pthread_join(th, NULL);
	close(socks[0]);
	close(socks[1]);
	close(lfd);
	report("tcp", n, end - t0);
}

/*
 * One side of the cport round trip: post to the peer's port, then wait on
 * its own (a thread waits on one port only: waiting moves its
 * association).  Two calls per half trip, as futex's wake and wait.
 */
static void *cport1_side(void *arg)
{
	int me = (int)(long)arg;
	struct cport_cqe cqe;
	int ret;

	pin_self(me);
	if (me == 1 && cport_wait(ports[1], &cqe, 1, -1) < 0)
		return NULL;
	for (;;) {
		ret = cport_post(ports[me ^ 1], 0, 1, 0, 0);
		if (ret == -EIDRM)
			return NULL;	/* the peer's port is gone: done */
		if (ret < 0)
			die("post", -ret);
		ret = cport_wait(ports[me], &cqe, 1, -1);
		if (ret < 0)
			return NULL;
		if (me == 0)
			rounds++;
	}
}

static void bench_cport(const char *name, void *(*fn)(void *))
{
	long long t0, t1;
	unsigned long r0, r1;
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++) {
		ports[i] = cport_create(NULL);
		if (ports[i] < 0)
			die("cport_create", -ports[i]);
	}
	rounds = 0;
	pthread_create(&th[1], NULL, fn, (void *)1L);
	usleep(10000);
	pthread_create(&th[0], NULL, fn, (void *)0L);
	usleep(100000);
	r0 = __atomic_load_n(&rounds, __ATOMIC_RELAXED);
	t0 = now_ns();
	usleep(opt_duration * 1e6);
	r1 = __atomic_load_n(&rounds, __ATOMIC_RELAXED);
	t1 = now_ns();
	for (i = 0; i < 2; i++)
		cport_destroy(ports[i]);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 2; i++)
		cport_close(ports[i]);
	report(name, r1 - r0, t1 - t0);
}

int main(int argc, char **argv)
{
	const char *all[] = { "syscall", "futex", "futex-1cpu", "futex-xcpu",
			      "tcp", "cport", "cport-1cpu", "cport-xcpu", NULL };
	const char **names = all;
	int c, i;

	while ((c = getopt(argc, argv, "d:")) != -1) {
		if (c != 'd') {
			fprintf(stderr, "usage: floor [-d SECS] [syscall|futex|tcp|cport]...\n");
			return 2;
		}
		opt_duration = atof(optarg);
	}
	if (optind < argc)
		names = (const char **)&argv[optind];
	for (i = 0; names[i]; i++) {
		const char *n = names[i];
		int same = !!strstr(n, "-1cpu"), cross = !!strstr(n, "-xcpu");

		/* -1cpu: both threads on CPU 0; -xcpu: CPU 0 and CPU 1. */
		pin[0] = same || cross ? 0 : -1;
		pin[1] = same ? 0 : cross ? 1 : -1;
		if (!strcmp(n, "syscall"))
			bench_syscall();
		else if (!strncmp(n, "futex", 5))
			bench_futex(n);
		else if (!strcmp(n, "tcp"))
			bench_tcp();
		else if (!strncmp(n, "cport", 5))
			bench_cport(n, cport1_side);
		pin[0] = pin[1] = -1;
		unpin_self();
	}
	return 0;
}
