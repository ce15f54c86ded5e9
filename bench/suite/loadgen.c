// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * loadgen: the one load client of `make bench`, for every echo server.
 *
 * Modes:
 *   closed (default)  C connections, each: send a message of L bytes,
 *                     wait for the whole echo, repeat (rust_echo_bench's
 *                     options: --address, --number, --duration, --length)
 *   open (-r RATE)    Poisson arrivals at RATE requests/s over C
 *                     connections, one request outstanding per connection;
 *                     an arrival that finds no free connection waits in a
 *                     backlog.  Latency counts from the scheduled send time,
 *                     so a slow server is not forgiven (no coordinated
 *                     omission).
 *   burst (-B MS)     every MS milliseconds all C connections send at once;
 *                     also reports the drain time of each burst (first send
 *                     to last echo)
 *   storm (-A)        each thread: connect, one request, close, repeat
 *
 * Latencies go into a log-linear histogram (common/hist.h: a reported
 * value is within 0.4% of the measured one).  After a
 * warm-up (-w) the measured interval starts; with -S PID the server gets
 * SIGUSR1 at its start and SIGUSR2 at its end, so both sides measure the
 * same interval.  Prints one line:
 *   csv,cli,TAG,field=value,...
 *
 * Usage: loadgen [-a ADDR:PORT] [-c CONNS] [-l LEN] [-d SECS] [-t THREADS]
 *                [-r RATE | -B MS | -A] [-w WARMUP] [-S PID] [-T TAG]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#define BACKLOG		(1u << 20)

enum mode { CLOSED, OPEN, BURST, STORM };
static const char *const mode_names[] = { "closed", "open", "burst", "storm" };

struct conn {
	int fd;
	bool busy;
	uint64_t t0;		/* scheduled (or actual) send time */
	uint64_t burst;		/* burst number of the request */
	size_t rcvd;
	struct conn *next_free;
};

struct thread {
	pthread_t thread;
	unsigned int id, nr;
	struct conn *conns, *free;
	uint64_t errors, dropped;
	uint64_t waits, wait_events, empty;	/* measured interval only */
	struct hist lat;	/* each request */
	struct hist drain;	/* each burst: first send to last echo */
	uint64_t *backlog;
	unsigned int bl_head, bl_tail;
	unsigned int seed;
};

static enum mode mode = CLOSED;
static unsigned int opt_conns = 1, opt_threads = 1, opt_burst_ms;
static double opt_duration = 5, opt_warmup = 0.5, opt_rate;
static size_t opt_len = 64;
static const char *opt_addr = "127.0.0.1:7000", *opt_tag = "-";
static pid_t opt_server;
static struct sockaddr_in peer;
static _Atomic uint64_t t_start, t_end;	/* the measured interval */
static pthread_barrier_t barrier;
static char *txbuf;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(err));
	exit(1);
}

static bool measuring(uint64_t t)
{
	return t >= atomic_load(&t_start) && t < atomic_load(&t_end);
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket", errno);
	if (connect(fd, (struct sockaddr *)&peer, sizeof(peer)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool send_msg(struct thread *t, struct conn *c, uint64_t t0)
{
	size_t off = 0;

	c->t0 = t0;
	c->rcvd = 0;
	c->busy = true;
	while (off < opt_len) {
		ssize_t n = send(c->fd, txbuf + off, opt_len - off, 0);

		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				continue;
			t->errors++;
			return false;
		}
		off += n;
	}
	return true;
}

/* Exponential inter-arrival time for rate per second. */
static uint64_t exp_gap(struct thread *t, double rate)
{
	double u;

	t->seed = t->seed * 1103515245u + 12345u;
	u = ((t->seed >> 8) + 1.0) / (double)(1u << 24);
	return (uint64_t)(-log(u) / rate * 1e9);
}

/* A request arrives (scheduled at t0): send it, or queue it. */
static void arrive(struct thread *t, uint64_t t0, uint64_t burst)
{
	struct conn *c = t->free;

	if (!c) {
		if (t->bl_tail - t->bl_head >= BACKLOG) {
			t->dropped++;
			return;
		}
		t->backlog[t->bl_tail++ % BACKLOG] = t0;
		return;
	}
	t->free = c->next_free;
	c->burst = burst;
	send_msg(t, c, t0);
}

static void *storm_main(void *arg)
{
	struct thread *t = arg;
	char *rx = malloc(opt_len);

	pthread_barrier_wait(&barrier);
	while (now_ns() < atomic_load(&t_end)) {
		uint64_t t0 = now_ns();
		struct conn c = { .fd = dial() };
		size_t got = 0;

		if (c.fd < 0) {
			t->errors++;
			continue;
		}
		if (send_msg(t, &c, t0)) {
			while (got < opt_len) {
				ssize_t n = recv(c.fd, rx, opt_len - got, 0);

				if (n <= 0) {
					t->errors++;
					break;
				}
				got += n;
			}
		}
		close(c.fd);
		if (got == opt_len && measuring(now_ns()))
			hist_add(&t->lat, now_ns() - t0);
	}
	return NULL;
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	struct epoll_event ev[64];
	uint64_t next = 0, burst = 0, burst_t0 = 0, burst_left = 0;
	uint64_t burst_gap = opt_burst_ms * 1000000ULL;
	double rate = opt_rate / opt_threads;
	char *rx = malloc(opt_len < 65536 ? 65536 : opt_len);
	int epfd = epoll_create1(EPOLL_CLOEXEC), i, n;
	unsigned int j;

	if (mode == STORM)
		return storm_main(arg);
	for (j = 0; j < t->nr; j++) {
		struct conn *c = &t->conns[j];
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };

		c->fd = dial();
		if (c->fd < 0)
			die("connect", errno);
		epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e);
		c->next_free = t->free;
		t->free = c;
	}
	pthread_barrier_wait(&barrier);
	if (mode == CLOSED) {
		while (t->free)
			arrive(t, now_ns(), 0);
	}
	next = now_ns();
	for (;;) {
		uint64_t now = now_ns();
		struct timespec ts, *tp = NULL;

		if (now >= atomic_load(&t_end))
			break;
		if (mode == OPEN) {
			while (next <= now) {
				arrive(t, next, 0);
				next += exp_gap(t, rate);
			}
		} else if (mode == BURST && next <= now && !burst_left) {
			burst++;
			burst_t0 = next;
			burst_left = t->nr;
			for (j = 0; j < t->nr; j++)
				arrive(t, next, burst);
			next += burst_gap;
		}
		if (mode != CLOSED) {
			uint64_t wait = next > now ? next - now : 0;

			if (mode == BURST && burst_left)
				wait = 100000000;
			if (wait > 100000000)
				wait = 100000000;
			ts.tv_sec = wait / 1000000000;
			ts.tv_nsec = wait % 1000000000;
			tp = &ts;
		} else {
			ts.tv_sec = 0;
			ts.tv_nsec = 100000000;
			tp = &ts;
		}
		n = epoll_pwait2(epfd, ev, 64, tp, NULL);
		if (measuring(now)) {	/* the time before the wait */
			t->waits++;
			t->wait_events += n > 0 ? n : 0;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			ssize_t r = recv(c->fd, rx, opt_len - c->rcvd,
					 MSG_DONTWAIT);

			if (r <= 0) {
				if (r < 0 && errno == EAGAIN) {
					t->empty++;
					continue;
				}
				t->errors++;
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				continue;
			}
			c->rcvd += r;
			if (c->rcvd < opt_len)
				continue;
			now = now_ns();
			c->busy = false;
			if (measuring(now))
				hist_add(&t->lat, now - c->t0);
			if (mode == BURST && c->burst == burst && !--burst_left &&
			    measuring(now))
				hist_add(&t->drain, now - burst_t0);
			if (mode == CLOSED) {
				send_msg(t, c, now);
			} else if (t->bl_head != t->bl_tail) {
				send_msg(t, c, t->backlog[t->bl_head++ % BACKLOG]);
			} else {
				c->next_free = t->free;
				t->free = c;
			}
		}
	}
	for (j = 0; j < t->nr; j++)
		close(t->conns[j].fd);
	close(epfd);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen [-a ADDR:PORT] [-c CONNS] [-l LEN] [-d SECS] [-t THREADS]\n"
			"               [-r RATE | -B MS | -A] [-w WARMUP] [-S PID] [-T TAG]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "number", required_argument, NULL, 'c' },
		{ "length", required_argument, NULL, 'l' },
		{ "duration", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'B' },
		{ "accept-storm", no_argument, NULL, 'A' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "server-pid", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	static struct hist lat, drain;
	uint64_t errors = 0, dropped = 0, waits = 0, wait_events = 0, empty = 0, t0;
	struct thread *threads;
	struct rusage ru0, ru1;
	char host[64], *colon;
	unsigned int i;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "a:c:l:d:t:r:B:Aw:S:T:", opts,
				NULL)) != -1) {
		switch (c) {
		case 'a': opt_addr = optarg; break;
		case 'c': opt_conns = atoi(optarg); break;
		case 'l': opt_len = strtoul(optarg, NULL, 0); break;
		case 'd': opt_duration = atof(optarg); break;
		case 't': opt_threads = atoi(optarg); break;
		case 'r': opt_rate = atof(optarg); mode = OPEN; break;
		case 'B': opt_burst_ms = atoi(optarg); mode = BURST; break;
		case 'A': mode = STORM; break;
		case 'w': opt_warmup = atof(optarg); break;
		case 'S': opt_server = atoi(optarg); break;
		case 'T': opt_tag = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || !opt_conns || !opt_threads || !opt_len ||
	    opt_len > 16384 || opt_duration <= 0 ||
	    (mode == OPEN && opt_rate <= 0) || (mode == BURST && !opt_burst_ms))
		usage();
	if (opt_threads > opt_conns && mode != STORM)
		opt_threads = opt_conns;
	snprintf(host, sizeof(host), "%s", opt_addr);
	colon = strrchr(host, ':');
	if (!colon)
		usage();
	*colon = 0;
	peer.sin_family = AF_INET;
	peer.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &peer.sin_addr) != 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	txbuf = malloc(opt_len);
	memset(txbuf, 'x', opt_len);

	atomic_store(&t_start, UINT64_MAX);
	atomic_store(&t_end, UINT64_MAX);
	threads = calloc(opt_threads, sizeof(*threads));
	pthread_barrier_init(&barrier, NULL, opt_threads + 1);
	for (i = 0; i < opt_threads; i++) {
		struct thread *t = &threads[i];

		t->id = i;
		t->seed = 12345 + i * 7919;
		t->nr = opt_conns / opt_threads + (i < opt_conns % opt_threads);
		t->conns = calloc(t->nr, sizeof(*t->conns));
		if (mode == OPEN || mode == BURST)
			t->backlog = malloc(BACKLOG * sizeof(uint64_t));
		if (pthread_create(&t->thread, NULL, thread_main, t))
			die("pthread_create", errno);
	}
	pthread_barrier_wait(&barrier);	/* every connection is up */
	t0 = now_ns() + (uint64_t)(opt_warmup * 1e9);
	atomic_store(&t_end, t0 + (uint64_t)(opt_duration * 1e9));
	atomic_store(&t_start, t0);
	usleep(opt_warmup * 1e6);
	if (opt_server)
		kill(opt_server, SIGUSR1);
	getrusage(RUSAGE_SELF, &ru0);
	while (now_ns() < atomic_load(&t_end))
		usleep(10000);
	if (opt_server)
		kill(opt_server, SIGUSR2);
	getrusage(RUSAGE_SELF, &ru1);
	for (i = 0; i < opt_threads; i++) {
		struct thread *t = &threads[i];

		pthread_join(t->thread, NULL);
		errors += t->errors;
		dropped += t->dropped;
		waits += t->waits;
		wait_events += t->wait_events;
		empty += t->empty;
		hist_merge(&lat, &t->lat);
		hist_merge(&drain, &t->drain);
	}
	secs = opt_duration;	/* requests are counted inside [t_start, t_end) */
	printf("csv,cli,%s,mode=%s,conns=%u,len=%zu,rate=%.0f,threads=%u,"
	       "duration_s=%.2f,requests=%llu,rps=%.1f,p50_us=%.1f,"
	       "p99_us=%.1f,p999_us=%.1f,max_us=%.1f,errors=%llu,dropped=%llu,"
	       "cli_cpu_s=%.3f",
	       opt_tag, mode_names[mode], opt_conns, opt_len, opt_rate,
	       opt_threads, secs, (unsigned long long)lat.count,
	       lat.count / secs, hist_percentile(&lat, 0.5) / 1e3,
	       hist_percentile(&lat, 0.99) / 1e3,
	       hist_percentile(&lat, 0.999) / 1e3, lat.max / 1e3,
	       (unsigned long long)errors, (unsigned long long)dropped,
	       (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	       (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	       (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	       (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6);
	if (mode == BURST)
		printf(",bursts=%llu,drain_p50_us=%.1f,drain_p99_us=%.1f",
		       (unsigned long long)drain.count,
		       hist_percentile(&drain, 0.5) / 1e3,
		       hist_percentile(&drain, 0.99) / 1e3);
	/*
	 * How the client spent its calls: epoll waits and the events they
	 * returned, recv()s that found nothing, and its context switches
	 * (voluntary: it slept), so that its CPU per request can be split
	 * into "more calls" and "costlier calls".
	 */
	printf(",cli_waits=%llu,cli_wait_events=%llu,cli_empty=%llu,"
	       "cli_vcsw=%ld,cli_ivcsw=%ld",
	       (unsigned long long)waits, (unsigned long long)wait_events,
	       (unsigned long long)empty, ru1.ru_nvcsw - ru0.ru_nvcsw,
	       ru1.ru_nivcsw - ru0.ru_nivcsw);
	printf("\n");
	return lat.count ? 0 : 1;
}
