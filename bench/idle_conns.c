// SPDX-License-Identifier: GPL-2.0
/*
 * What an idle connection costs in kernel memory: N loopback TCP
 * connections are opened, their server ends associated with one port,
 * and a zero-byte recv (a readiness notification that pins no buffer) is
 * left pending on each, the way Windows servers park 100k idle sockets.
 * The slab growth of each step (from /proc/meminfo, so it includes
 * everything the kernel allocated for it) is divided by N.  Then a few
 * random clients send a byte, and exactly their zero-byte recvs must
 * complete, with their keys.
 *
 *   idle_conns [N]        default 10000
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"

#define BATCH	1024

static long slab_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Let RCU-freed and per-CPU-cached objects settle before measuring. */
static long settle_slab_kb(void)
{
	usleep(300 * 1000);
	return slab_kb();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "idle_conns: %s: %s\n", what, strerror(err));
	exit(1);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit rl = { 3 * n + 64, 3 * n + 64 };
	struct cport_sqe *sqes;
	struct cport_cqe cqe;
	socklen_t len = sizeof(sin);
	long s0, s1, s2;
	int *srv, *cli, lfd, port, i, j, ret, hits = 0, nsent = 0;
	char *sent;
	double t;

	if (n < 1)
		return 2;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit", errno);
	srv = calloc(n, sizeof(*srv));
	cli = calloc(n, sizeof(*cli));
	sqes = calloc(BATCH, sizeof(*sqes));
	if (!srv || !cli || !sqes)
		die("calloc", ENOMEM);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len))
		die("listen", errno);
	for (i = 0; i < n; i++) {
		cli[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (cli[i] < 0 ||
		    connect(cli[i], (struct sockaddr *)&sin, sizeof(sin)))
			die("connect", errno);
		srv[i] = accept(lfd, NULL, NULL);
		if (srv[i] < 0)
			die("accept", errno);
	}

	port = cport_create(NULL);
	if (port < 0)
		die("cport_create", -port);
	s0 = settle_slab_kb();

	t = now_s();
	for (i = 0; i < n; i++) {
		ret = cport_associate(port, srv[i], 1000000 + i, 0);
		if (ret)
			die("associate", -ret);
	}
	t = now_s() - t;
	s1 = settle_slab_kb();
	printf("associate: %d sockets in %.3f s (%.2f us each)\n", n, t,
	       t * 1e6 / n);

	t = now_s();
	for (i = 0; i < n; i += BATCH) {
		int m = n - i < BATCH ? n - i : BATCH;

		for (j = 0; j < m; j++)
			cport_prep_recv(&sqes[j], srv[i + j], NULL, 0, i + j, 0);
		ret = cport_submit(port, sqes, m);
		if (ret != m)
			die("submit zero-byte recv", ret < 0 ? -ret : EIO);
		for (j = 0; j < m; j++)
			if (sqes[j].status != CPORT_STATUS_PENDING)
				die("zero-byte recv completed at once", EIO);
	}
	t = now_s() - t;
	s2 = settle_slab_kb();
	printf("zero-byte recv: %d pending in %.3f s (%.2f us each)\n", n, t,
	       t * 1e6 / n);

	/* Exactly the connections that got a byte complete. */
	sent = calloc(n, 1);
	if (!sent)
		die("calloc", ENOMEM);
	for (i = 0; i < 100 && i < n; i++) {
		j = (int)((i * 7919L) % n);
		if (sent[j])
			continue;
		sent[j] = 1;
		nsent++;
		if (write(cli[j], "x", 1) != 1)
			die("write", errno);
	}
	for (i = 0; i < nsent; i++) {
		ret = cport_wait(port, &cqe, 1, 10LL * 1000000000);
		if (ret != 1)
			die("wait", ret < 0 ? -ret : EIO);
		j = (int)cqe.user_data;
		if (j < 0 || j >= n || sent[j] != 1 || cqe.res != 0 ||
		    cqe.key != 1000000ULL + j)
			die("completion", EIO);
		sent[j] = 2;
		hits++;
	}
	if (cport_wait(port, &cqe, 1, 100 * 1000000LL) != -ETIMEDOUT)
		die("an idle connection completed", EIO);

	printf("completed: %d of the zero-byte recvs, none other\n", hits);
	printf("slab per association: %ld bytes\n", (s1 - s0) * 1024 / n);
	printf("slab per pending zero-byte recv: %ld bytes\n",
	       (s2 - s1) * 1024 / n);
	printf("slab per idle connection, total: %ld bytes (%ld kB for %d)\n",
	       (s2 - s0) * 1024 / n, s2 - s0, n);

	cport_close(port);
	for (i = 0; i < n; i++) {
		close(srv[i]);
		close(cli[i]);
	}
	return 0;
}
