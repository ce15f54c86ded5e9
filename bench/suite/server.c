// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * server: the echo servers that `make bench` compares, one binary, one
 * model per run (-m), each model in a file of its own (server.h):
 *
 *   epoll-rp      one epoll and one SO_REUSEPORT listener per worker
 *                 (srv_epoll_rp.c)
 *   epoll-shared  a pool on one EPOLLONESHOT epoll fd (srv_epoll_shared.c)
 *   uring         one io_uring and one SO_REUSEPORT listener per worker
 *                 (srv_uring.c)
 *   cport         a pool on one port, release policy -P by the name the
 *                 port's fdinfo prints (lifo, fifo, rr, cpu), up to -b
 *                 completions per cport_submit_and_wait() (srv_cport.c)
 *
 * Every model answers what it receives after a synthetic service time
 * (-s 0 | US | bimodal: 99.5% 10 us, 0.5% 500 us; a spin on the clock),
 * by the protocol -k:
 *
 *   echo      sends back what it received (loadgen; the default)
 *   sockperf  sockperf's framed messages (a 14-byte header: sequence,
 *             flags, length, big-endian): each one from the client that
 *             asks for a reply (pong request, not warm-up) goes back with
 *             the client flag cleared, as sockperf's own server does
 *   http      HTTP/1.1 keep-alive: each request (up to its blank line)
 *             gets a fixed 128-byte 200 response (wrk)
 * Each worker counts its system calls, events handled and requests
 * echoed, and marks each 10 ms window in which it handled something.
 * This file: the options, what the models share, the measurement and
 * main().
 *
 * The load client signals the measured interval: SIGUSR1 starts it,
 * SIGUSR2 ends it and prints one line
 *   csv,srv,TAG,field=value,...
 * with the deltas (getrusage of the whole process, the worker counters,
 * the port's fdinfo counters).  SIGTERM exits.
 *
 * Exit status 3: the port cannot be set up with that policy (a kernel
 * without it); the line "csv,skip,TAG,..." says so.
 *
 * Usage: server -m MODEL [-p PORT] [-t THREADS] [-P POLICY] [-b BATCH]
 *               [-s SERVICE] [-k echo|sockperf|http] [-C CONCURRENCY] [-T TAG]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fdinfo.h"
#include "server.h"

#define WINDOW_NS	10000000LL	/* the active-set window: 10 ms */
#define MAX_WINDOWS	12000		/* 120 s of windows */

static const struct model *const models[] = {
	&model_epoll_rp, &model_epoll_shared, &model_uring, &model_cport,
	&model_cport_ms, &model_cport_msr,
};
#define NR_MODELS	(sizeof(models) / sizeof(models[0]))

static const struct model *model;
int opt_port = 7000, opt_batch = 1, opt_concurrency;	/* -C: cport models; 0: the CPUs */
const char *opt_policy = "lifo", *opt_tag = "-";
enum proto opt_proto = PROTO_ECHO;
static const char *const proto_names[] = { "echo", "sockperf", "http" };
static int opt_threads;
static const char *opt_service = "0";
static int service_us, service_bimodal;
static struct worker workers[MAX_WORKERS];
static _Atomic long long measure_t0;		/* 0: not measuring */
static _Atomic uint64_t windows[MAX_WINDOWS];	/* bit per worker */

/* --- what the models share --------------------------------------------- */

void die(const char *what, int err)
{
	fprintf(stderr, "server: %s: %s\n", what, strerror(err));
	exit(1);
}

long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The synthetic service time of one request. */
void serve(struct worker *w)
{
	long long us = service_us, end;

	if (service_bimodal) {
		w->seed = w->seed * 1103515245u + 12345u;
		us = (w->seed >> 8) % 1000 < 5 ? 500 : 10;
	}
	if (!us)
		return;
	end = now_ns() + us * 1000;
	while (now_ns() < end)
		;
}

/* w handled nr events now: count them and mark the 10 ms window. */
void handled(struct worker *w, unsigned int nr)
{
	long long t0 = atomic_load_explicit(&measure_t0, memory_order_relaxed);
	long long win;

	COUNT(w, events, nr);
	if (!t0)
		return;
	win = (now_ns() - t0) / WINDOW_NS;
	if (win == w->last_window || win < 0 || win >= MAX_WINDOWS)
		return;
	w->last_window = win;
	atomic_fetch_or_explicit(&windows[win], 1ULL << w->id,
				 memory_order_relaxed);
}

int listener(bool reuseport)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(opt_port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind", errno);
	if (listen(fd, 4096) < 0)
		die("listen", errno);
	return fd;
}

/* --- the protocols ------------------------------------------------------ */

#define MAX_FDS		65536
#define SP_CLIENT	1		/* sockperf's header flags */
#define SP_PONG		2
#define SP_WARMUP	4
#define SP_MASK		(SP_CLIENT | SP_PONG | SP_WARMUP)
#define SP_MAX_MSG	65536		/* sockperf's largest message */

static struct pstate *pstates;		/* MAX_FDS, by fd */
const char *http_block;

static void proto_init(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Server: cport-bench\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: %02d\r\n"
				   "Connection: keep-alive\r\n"
				   "\r\n";
	char one[HTTP_RESP_LEN + 1], *block;
	int hlen, i;

	pstates = calloc(MAX_FDS, sizeof(*pstates));
	block = malloc(HTTP_MAX_RESP * HTTP_RESP_LEN);
	if (!pstates || !block)
		die("calloc", ENOMEM);
	/* The body fills the response up to HTTP_RESP_LEN bytes. */
	hlen = snprintf(one, sizeof(one), head, 0);
	snprintf(one, sizeof(one), head, HTTP_RESP_LEN - hlen);
	memset(one + hlen, 'x', HTTP_RESP_LEN - hlen - 1);
	one[HTTP_RESP_LEN - 1] = '\n';
	for (i = 0; i < HTTP_MAX_RESP; i++)
		memcpy(block + i * HTTP_RESP_LEN, one, HTTP_RESP_LEN);
	http_block = block;
}

/* A new connection on fd: no message or request under way. */
void proto_open(int fd)
{
	if (fd >= 0 && fd < MAX_FDS)
		memset(&pstates[fd], 0, sizeof(pstates[fd]));
}

/*
 * sockperf: keep the messages that ask for a reply, in place.  What goes
 * back is written from buf - st->have on (the headroom), never past what
 * has been read: at most SOCKPERF_HDR - 1 bytes of header come from an
 * earlier receive.  Returns the bytes to send from buf - PROTO_HEADROOM.
 */
static ssize_t sockperf_input(struct worker *w, struct pstate *st, char *buf,
			      size_t len, char **start)
{
	char *in = buf, *end = buf + len, *o = buf - st->have;
	unsigned int flags, n;
	uint32_t mlen;

	*start = o;
	while (in < end) {
		if (!st->left) {		/* in a header */
			n = SOCKPERF_HDR - st->have;
			if (n > end - in)
				n = end - in;
			memcpy(st->hdr + st->have, in, n);
			st->have += n;
			in += n;
			if (st->have < SOCKPERF_HDR)
				break;
			flags = st->hdr[8] << 8 | st->hdr[9];
			mlen = (uint32_t)st->hdr[10] << 24 | st->hdr[11] << 16 |
			       st->hdr[12] << 8 | st->hdr[13];
			if (mlen < SOCKPERF_HDR || mlen > SP_MAX_MSG)
				return -1;
			st->have = 0;
			st->left = mlen - SOCKPERF_HDR;
			st->reply = (flags & SP_MASK) == (SP_CLIENT | SP_PONG);
			if ((flags & (SP_CLIENT | SP_WARMUP)) == SP_CLIENT)
				COUNT(w, requests, 1);
			if (st->reply) {
				st->hdr[9] &= ~SP_CLIENT;
				memcpy(o, st->hdr, SOCKPERF_HDR);
				o += SOCKPERF_HDR;
			}
			continue;
		}
		n = st->left < (uint32_t)(end - in) ? st->left : end - in;
		if (st->reply) {
			memmove(o, in, n);
			o += n;
		}
		in += n;
		st->left -= n;
	}
	return o - *start;
}

/* http: count the requests that ended here; a response for each. */
static ssize_t http_input(struct worker *w, struct pstate *st, char *buf,
			  size_t len)
{
	unsigned int nr = 0, m = st->match;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\r')
			m = m == 2 ? 3 : 1;
		else if (c == '\n' && (m == 1 || m == 3))
			m++;
		else
			m = 0;
		if (m == 4) {
			nr++;
			m = 0;
		}
	}
	st->match = m;
	if (!nr)
		return 0;
	COUNT(w, requests, nr);
	/* wrk sends one request at a time; a deeper pipeline is cut short. */
	if (nr > HTTP_MAX_RESP)
		nr = HTTP_MAX_RESP;
	return nr * HTTP_RESP_LEN;
}

/*
 * len bytes arrived in buf (with PROTO_HEADROOM bytes before it) on fd:
 * serve them and return how many bytes to send from *out (0: nothing),
 * or -1 when the peer broke the protocol (close the connection).  *out
 * is in buf's headroom or buf (echo, sockperf) or http_block (http).
 */
ssize_t proto_input(struct worker *w, int fd, char *buf, size_t len,
		    const char **out)
{
	struct pstate *st;
	ssize_t n;
	char *o;

	if (fd < 0 || fd >= MAX_FDS)
		return -1;
	st = &pstates[fd];
	switch (opt_proto) {
	case PROTO_SOCKPERF:
		n = sockperf_input(w, st, buf, len, &o);
		*out = o;
		break;
	case PROTO_HTTP:
		n = http_input(w, st, buf, len);
		*out = http_block;
		break;
	default:
		COUNT(w, requests, 1);
		n = len;
		*out = buf;
	}
	if (n > 0)
		serve(w);
	return n;
}

/* --- what the readiness models (epoll-rp, epoll-shared) share ---------- */

/* Write all of buf to a non-blocking socket; false if the peer is gone. */
static bool write_all(struct worker *w, int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		COUNT(w, calls, 1);
		if (n > 0) {
			buf += n;
			len -= n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, 1000);
			COUNT(w, calls, 1);
		} else {
			return false;
		}
	}
	return true;
}

/* Read what is there and answer it; false when the connection ended. */
bool echo_once(struct worker *w, int fd, char *buf)
{
	ssize_t n = read(fd, buf, BUF_SIZE);
	const char *out;

	COUNT(w, calls, 1);
	if (n <= 0)
		return n < 0 && errno == EAGAIN;
	n = proto_input(w, fd, buf, n, &out);
	return n >= 0 && write_all(w, fd, out, n);
}

/* Accept every pending connection and add it to @epfd for events @ev. */
void accept_all(struct worker *w, int epfd, int lfd, unsigned int ev)
{
	struct epoll_event e = { .events = ev };
	int one = 1, fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		COUNT(w, calls, 1);
		if (fd < 0)
			return;
		COUNT(w, accepts, 1);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		proto_open(fd);
		e.data.fd = fd;
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
		COUNT(w, calls, 2);
	}
}

/* --- measurement ------------------------------------------------------- */

/* The port's fdinfo fields in the report: a value, then counters. */
static const char *const port_fields[] = {
	"concurrency", "posts", "dequeues", "waits", "waits_slept",
	"handoffs", "runs_submit", "runs_waiter", "runs_fallback",
	"fallback_kicks", "ops_inline", "ops_completed", "over_limit_events",
	"busy_holds", "grace_renewed",
};
#define NR_PORT_FIELDS	(sizeof(port_fields) / sizeof(port_fields[0]))

struct snap {
	long long t;
	struct rusage ru;
	uint64_t calls[MAX_WORKERS], events[MAX_WORKERS], requests[MAX_WORKERS];
	uint64_t accepts;
	long long port[NR_PORT_FIELDS];
	char policy[16];			/* what the port runs, or "-" */
	unsigned long long cpu_busy, cpu_all;	/* /proc/stat, all CPUs */
};

/*
 * Busy and total time of all CPUs, in clock ticks: kernel workers that
 * run sockets for cport do not show in the server's getrusage().
 */
static void cpu_ticks(unsigned long long *busy, unsigned long long *all)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*busy = *all = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		*all = *busy + v[3] + v[4];
	}
	fclose(f);
}

static void take_snap(struct snap *s)
{
	char info[FDINFO_SIZE];
	unsigned int i;

	s->t = now_ns();
	getrusage(RUSAGE_SELF, &s->ru);
	cpu_ticks(&s->cpu_busy, &s->cpu_all);
	s->accepts = 0;
	for (i = 0; i < (unsigned int)opt_threads; i++) {
		s->calls[i] = atomic_load(&workers[i].calls);
		s->events[i] = atomic_load(&workers[i].events);
		s->requests[i] = atomic_load(&workers[i].requests);
		s->accepts += atomic_load(&workers[i].accepts);
	}
	if (srv_port < 0 || fdinfo_read(srv_port, info, sizeof(info)) < 0)
		info[0] = '\0';
	for (i = 0; i < NR_PORT_FIELDS; i++)
		s->port[i] = fdinfo_find_num(info, port_fields[i]);
	/* The policy the port runs, as the kernel names it. */
	if (fdinfo_find(info, "policy", s->policy, sizeof(s->policy)))
		strcpy(s->policy, "-");
}

static double tv_s(const struct timeval *a, const struct timeval *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_usec - a->tv_usec) / 1e6;
}

static void report(const struct snap *a, const struct snap *b)
{
	uint64_t calls = 0, events = 0, requests = 0, maxev = 0;
	unsigned long long busy = 0, active = 0, single = 0;
	long long nwin = (b->t - a->t) / WINDOW_NS, i;
	char shares[MAX_WORKERS * 8] = "", *p = shares;
	int t;

	for (t = 0; t < opt_threads; t++) {
		uint64_t ev = b->events[t] - a->events[t];

		calls += b->calls[t] - a->calls[t];
		events += ev;
		requests += b->requests[t] - a->requests[t];
		if (ev > maxev)
			maxev = ev;
	}
	for (t = 0; t < opt_threads; t++)
		p += sprintf(p, "%s%.3f", t ? "/" : "", events ?
			     (double)(b->events[t] - a->events[t]) / events : 0);
	for (i = 0; i < nwin && i < MAX_WINDOWS; i++) {
		int n = __builtin_popcountll(atomic_load(&windows[i]));

		if (!n)
			continue;
		busy++;
		active += n;
		single += n == 1;
	}
	printf("csv,srv,%s,model=%s,proto=%s,policy=%s,batch=%d,threads=%d,"
	       "service=%s,uring_flags=0x%x,wall_s=%.3f,requests=%llu,events=%llu,"
	       "accepts=%llu,calls=%llu,vcsw=%ld,ivcsw=%ld,utime_s=%.3f,"
	       "stime_s=%.3f,sys_busy_s=%.3f,sys_all_s=%.3f,windows=%llu,active_mean=%.3f,single_share=%.3f,"
	       "max_share=%.3f,shares=%s",
	       opt_tag, model->name, proto_names[opt_proto], b->policy,
	       model->batch ? model->batch : opt_batch, opt_threads,
	       opt_service, uring_flags, (b->t - a->t) / 1e9,
	       (unsigned long long)requests, (unsigned long long)events,
	       (unsigned long long)(b->accepts - a->accepts),
	       (unsigned long long)calls, b->ru.ru_nvcsw - a->ru.ru_nvcsw,
	       b->ru.ru_nivcsw - a->ru.ru_nivcsw,
	       tv_s(&a->ru.ru_utime, &b->ru.ru_utime),
	       tv_s(&a->ru.ru_stime, &b->ru.ru_stime),
	       (double)(b->cpu_busy - a->cpu_busy) / sysconf(_SC_CLK_TCK),
	       (double)(b->cpu_all - a->cpu_all) / sysconf(_SC_CLK_TCK), busy,
	       busy ? (double)active / busy : 0, busy ? (double)single / busy : 0,
	       events ? (double)maxev / events : 0, shares);
	for (t = 0; t < (int)NR_PORT_FIELDS; t++)
		printf(",%s=%lld", port_fields[t], b->port[t] < 0 ? -1 :
		       t == 0 ? b->port[t] : b->port[t] - a->port[t]);
	printf("\n");
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: server -m epoll-rp|epoll-shared|uring|cport [-p PORT] [-t THREADS]\n"
			"              [-P lifo|fifo|rr|cpu] [-b BATCH] [-s 0|US|bimodal]\n"
			"              [-k echo|sockperf|http] [-C CONCURRENCY] [-T TAG]\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int c, i, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

	while ((c = getopt(argc, argv, "m:p:t:P:b:s:k:T:C:")) != -1) {
		switch (c) {
		case 'm':
			model = NULL;
			for (i = 0; i < (int)NR_MODELS; i++)
				if (!strcmp(optarg, models[i]->name))
					model = models[i];
			break;
		case 'p': opt_port = atoi(optarg); break;
		case 't': opt_threads = atoi(optarg); break;
		case 'P': opt_policy = optarg; break;
		case 'b': opt_batch = atoi(optarg); break;
		case 'C': opt_concurrency = atoi(optarg); break;
		case 's': opt_service = optarg; break;
		case 'k':
			for (i = 0; i < 3; i++)
				if (!strcmp(optarg, proto_names[i]))
					break;
			if (i == 3)
				usage();
			opt_proto = i;
			break;
		case 'T': opt_tag = optarg; break;
		default: usage();
		}
	}
	if (!model || optind != argc || opt_threads < 0 ||
	    opt_threads > MAX_WORKERS || opt_batch < 1)
		usage();
	if (!opt_threads)	/* per-CPU models: CPUs; pools: twice that */
		opt_threads = model->per_cpu ? ncpu : 2 * ncpu;
	if (!strcmp(opt_service, "bimodal"))
		service_bimodal = 1;
	else
		service_us = atoi(opt_service);
}

static void start_workers(void)
{
	int i;

	proto_init();
	if (model->start)
		model->start();
	for (i = 0; i < opt_threads; i++) {
		workers[i].id = i;
		workers[i].seed = i + 1;
		workers[i].last_window = -1;
		if (model->per_cpu) {
			workers[i].lfd = listener(true);
			fcntl(workers[i].lfd, F_SETFL, O_NONBLOCK);
		}
		if (pthread_create(&workers[i].thread, NULL, model->worker,
				   &workers[i]))
			die("pthread_create", errno);
	}
}

/* Measure between SIGUSR1 and SIGUSR2, exit at SIGTERM or SIGINT. */
int main(int argc, char **argv)
{
	struct snap a, b;
	bool started = false;
	sigset_t set;
	int i, sig;

	parse_args(argc, argv);
	/* Before the workers start: they inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	start_workers();
	printf("server: %s, %d workers, ready on 127.0.0.1:%d\n",
	       model->name, opt_threads, opt_port);
	take_snap(&a);
	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGUSR1) {
			take_snap(&a);
			for (i = 0; i < MAX_WINDOWS; i++)
				atomic_store(&windows[i], 0);
			for (i = 0; i < opt_threads; i++)
				workers[i].last_window = -1;
			atomic_store(&measure_t0, a.t);
			started = true;
		} else if (sig == SIGUSR2) {
			take_snap(&b);
			atomic_store(&measure_t0, 0);
			report(&a, &b);
			started = false;
		} else if (sig == SIGTERM || sig == SIGINT) {
			if (started) {
				take_snap(&b);
				report(&a, &b);
			}
			if (model->stop)
				model->stop();
			_exit(0);
		}
	}
}
