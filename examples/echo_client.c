// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * echo_client: a closed-loop load generator for echo servers (plain
 * sockets and epoll, no cport: it is the load, not the thing measured).
 *
 * C connections, spread over T threads, each loop: send one message of L
 * bytes (a pattern unique to the connection and the message), wait for
 * the whole echo, compare every byte, record the round trip, repeat, for
 * D seconds.  Latencies go into a log-linear histogram (common/hist.h: a
 * reported value is within 0.4% of the measured one).  Prints
 * requests/s, p50, p99, p99.9 and max, the bytes verified and the errors
 * (failed connects, resets, early EOF, wrong bytes, an echo not back
 * within 10 s).  Exit status 0 when there were requests and no errors.
 *
 * --shutdown: at the end, open one more connection and send the
 * echo_server's quit message, which stops the server.
 *
 * Usage: echo_client [-c CONNS] [-l LEN] [-d SECS] [-t THREADS]
 *                    [-a ADDR:PORT | -u PATH] [--shutdown]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#define GRACE_NS	10000000000ULL	/* for the last echoes after -d */
#define QUIT_MAGIC	"\0cport-echo: quit\n"
#define QUIT_MAGIC_LEN	(sizeof(QUIT_MAGIC) - 1)

struct cconn {
	int fd;
	unsigned int id;
	bool active, want_out;
	uint64_t seq, t0;
	size_t sent, rcvd;
	unsigned char *tx, *rx;
};

struct cthread {
	pthread_t thread;
	struct cconn *conns;
	unsigned int nr;
	uint64_t bytes, errors, mismatches;
	struct hist lat;	/* one value per request */
};

static unsigned int opt_conns = 50, opt_threads, opt_duration = 5;
static size_t opt_len = 64;
static const char *opt_addr = "127.0.0.1:5555", *opt_unix;
static bool opt_shutdown;
static struct sockaddr_storage peer;
static socklen_t peer_len;
static uint64_t start_ns, end_ns;
static pthread_barrier_t barrier;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A pattern unique to (connection, message): a corrupt echo cannot match. */
static void fill(struct cconn *c)
{
	uint64_t x = (c->seq + 1) * 0x9e3779b97f4a7c15ULL ^ c->id;
	size_t i;

	for (i = 0; i < opt_len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c->tx[i] = (unsigned char)x;
	}
}

static void set_events(int ep, struct cconn *c, bool out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | (out ? EPOLLOUT : 0),
		.data.ptr = c,
	};

	if (c->want_out == out)
		return;
	c->want_out = out;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_stop(struct cthread *t, int ep, struct cconn *c, bool error)
{
	if (error)
		t->errors++;
	if (c->active) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		c->active = false;
	}
}

/* Send what is left of the message; returns false on error. */
static bool pump_out(int ep, struct cconn *c)
{
	while (c->sent < opt_len) {
		ssize_t n = send(c->fd, c->tx + c->sent, opt_len - c->sent,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			set_events(ep, c, true);
			return true;
		}
		if (n <= 0)
			return false;
		c->sent += n;
	}
	set_events(ep, c, false);
	return true;
}

static bool start_request(int ep, struct cconn *c)
{
	fill(c);
	c->sent = 0;
	c->rcvd = 0;
	c->t0 = now_ns();
	return pump_out(ep, c);
}

static void handle(struct cthread *t, int ep, struct cconn *c, uint32_t ev)
{
	uint64_t now;
	ssize_t n;

	if ((ev & EPOLLOUT) && !pump_out(ep, c)) {
		fprintf(stderr, "echo_client: conn %u: send: %s\n", c->id,
			strerror(errno));
		conn_stop(t, ep, c, true);
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	n = recv(c->fd, c->rx + c->rcvd, opt_len - c->rcvd, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		fprintf(stderr, "echo_client: conn %u: %s\n", c->id,
			n ? strerror(errno) : "EOF before the whole echo");
		conn_stop(t, ep, c, true);
		return;
	}
	c->rcvd += n;
	if (c->rcvd > c->sent) {
		/* More echoed than sent: the server sent something else. */
		fprintf(stderr, "echo_client: conn %u: %zu bytes back, %zu sent\n",
			c->id, c->rcvd, c->sent);
		t->mismatches++;
		conn_stop(t, ep, c, true);
		return;
	}
	if (c->rcvd < opt_len)
		return;
	now = now_ns();
	if (memcmp(c->tx, c->rx, opt_len)) {
		fprintf(stderr, "echo_client: conn %u: message %llu echoed wrong\n",
			c->id, (unsigned long long)c->seq);
		t->mismatches++;
		conn_stop(t, ep, c, true);
		return;
	}
	t->bytes += opt_len;
	hist_add(&t->lat, now - c->t0);
	c->seq++;
	if (now >= end_ns)
		conn_stop(t, ep, c, false);
	else if (!start_request(ep, c))
		conn_stop(t, ep, c, true);
}

static int connect_peer(void)
{
	int fd, one = 1;

	fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&peer, peer_len) < 0) {
		close(fd);
		return -1;
	}
	if (peer.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void *thread_main(void *arg)
{
	struct cthread *t = arg;
	struct epoll_event evs[64];
	unsigned int i, active = 0;
	int ep, n;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("echo_client: epoll_create1");
		exit(1);
	}
	for (i = 0; i < t->nr; i++) {
		struct cconn *c = &t->conns[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->tx = malloc(opt_len);
		c->rx = malloc(opt_len);
		if (!c->tx || !c->rx) {
			perror("echo_client: malloc");
			exit(1);
		}
		c->fd = connect_peer();
		if (c->fd < 0) {
			fprintf(stderr, "echo_client: connect: %s\n",
				strerror(errno));
			t->errors++;
			continue;
		}
		fcntl(c->fd, F_SETFL, O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
		c->active = true;
	}
	pthread_barrier_wait(&barrier);	/* all connected */
	pthread_barrier_wait(&barrier);	/* main set end_ns: go */
	for (i = 0; i < t->nr; i++)
		if (t->conns[i].active && !start_request(ep, &t->conns[i]))
			conn_stop(t, ep, &t->conns[i], true);

	for (;;) {
		uint64_t now = now_ns();
		int timeout;

		for (active = 0, i = 0; i < t->nr; i++)
			active += t->conns[i].active;
		if (!active)
			break;
		if (now >= end_ns + GRACE_NS) {
			fprintf(stderr, "echo_client: %u echoes not back %llu s after the end\n",
				active, GRACE_NS / 1000000000ULL);
			t->errors += active;
			break;
		}
		timeout = (int)((end_ns + GRACE_NS - now) / 1000000) + 1;
		n = epoll_wait(ep, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			perror("echo_client: epoll_wait");
			exit(1);
		}
		for (i = 0; i < (unsigned int)(n > 0 ? n : 0); i++)
			handle(t, ep, evs[i].data.ptr, evs[i].events);
	}
	for (i = 0; i < t->nr; i++) {
		if (t->conns[i].fd >= 0)
			close(t->conns[i].fd);
		free(t->conns[i].tx);
		free(t->conns[i].rx);
	}
	close(ep);
	return NULL;
}

static void parse_peer(void)
{
	if (opt_unix) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&peer;

		if (strlen(opt_unix) >= sizeof(sun->sun_path)) {
			fprintf(stderr, "echo_client: unix path too long\n");
			exit(2);
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, opt_unix);
		peer_len = sizeof(*sun);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&peer;
		char host[64];
		const char *colon = strrchr(opt_addr, ':');

		if (!colon || colon - opt_addr >= (long)sizeof(host)) {
			fprintf(stderr, "echo_client: -a wants IPV4:PORT\n");
			exit(2);
		}
		memcpy(host, opt_addr, colon - opt_addr);
		host[colon - opt_addr] = 0;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(atoi(colon + 1));
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			fprintf(stderr, "echo_client: bad address %s\n", host);
			exit(2);
		}
		peer_len = sizeof(*sin);
	}
}

static void send_quit(void)
{
	int fd = connect_peer();

	if (fd < 0 || send(fd, QUIT_MAGIC, QUIT_MAGIC_LEN, MSG_NOSIGNAL) !=
	    (ssize_t)QUIT_MAGIC_LEN)
		perror("echo_client: --shutdown");
	if (fd >= 0)
		close(fd);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: echo_client [-c CONNS] [-l LEN] [-d SECS] [-t THREADS]\n"
		"                   [-a ADDR:PORT | -u PATH] [--shutdown]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connections", required_argument, NULL, 'c' },
		{ "length", required_argument, NULL, 'l' },
		{ "duration", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "address", required_argument, NULL, 'a' },
		{ "unix", required_argument, NULL, 'u' },
		{ "shutdown", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	static struct hist lat;
	uint64_t bytes = 0, errors = 0, mismatches = 0;
	struct cthread *threads;
	struct cconn *conns;
	unsigned int i, j, k;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "c:l:d:t:a:u:q", opts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			opt_conns = atoi(optarg);
			break;
		case 'l':
			opt_len = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			opt_duration = atoi(optarg);
			break;
		case 't':
			opt_threads = atoi(optarg);
			break;
		case 'a':
			opt_addr = optarg;
			break;
		case 'u':
			opt_unix = optarg;
			break;
		case 'q':
			opt_shutdown = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !opt_conns || !opt_len || !opt_duration)
		usage();
	if (!opt_threads) {
		opt_threads = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
		if (opt_threads > 4)
			opt_threads = 4;
	}
	if (opt_threads > opt_conns)
		opt_threads = opt_conns;
	parse_peer();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	threads = calloc(opt_threads, sizeof(*threads));
	conns = calloc(opt_conns, sizeof(*conns));
	if (!threads || !conns) {
		perror("echo_client: calloc");
		return 1;
	}
	printf("echo_client: %u connections, %zu-byte messages, %u s, %u threads, to %s\n",
	       opt_conns, opt_len, opt_duration, opt_threads,
	       opt_unix ? opt_unix : opt_addr);
	pthread_barrier_init(&barrier, NULL, opt_threads + 1);
	for (i = 0, k = 0; i < opt_threads; i++) {
		struct cthread *t = &threads[i];

		t->nr = opt_conns / opt_threads + (i < opt_conns % opt_threads);
		t->conns = &conns[k];
		for (j = 0; j < t->nr; j++, k++) {
			conns[k].id = k;
			conns[k].fd = -1;
		}
		if (pthread_create(&t->thread, NULL, thread_main, t)) {
			perror("echo_client: pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&barrier);	/* every thread connected */
	start_ns = now_ns();
	end_ns = start_ns + opt_duration * 1000000000ULL;
	pthread_barrier_wait(&barrier);	/* go */
	for (i = 0; i < opt_threads; i++) {
		struct cthread *t = &threads[i];

		pthread_join(t->thread, NULL);
		bytes += t->bytes;
		errors += t->errors;
		mismatches += t->mismatches;
		hist_merge(&lat, &t->lat);
	}
	/* Up to the last echo of a request started within the duration. */
	secs = (now_ns() - start_ns) / 1e9;
	printf("echo_client: %llu requests in %.2f s: %.0f requests/s\n",
	       (unsigned long long)lat.count, secs, lat.count / secs);
	if (lat.count)
		printf("echo_client: latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
		       hist_percentile(&lat, 0.50) / 1e3,
		       hist_percentile(&lat, 0.99) / 1e3,
		       hist_percentile(&lat, 0.999) / 1e3, lat.max / 1e3);
	printf("echo_client: %llu bytes echoed, every byte verified; %llu errors (%llu wrong echoes)\n",
	       (unsigned long long)bytes, (unsigned long long)errors,
	       (unsigned long long)mismatches);
	if (opt_shutdown)
		send_quit();
	free(threads);
	free(conns);
	return lat.count && !errors ? 0 : 1;
}
