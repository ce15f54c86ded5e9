// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * server: the echo servers that `make bench` compares, one binary, one
 * model per run (-m):
 *
 *   epoll-rp      one epoll and one SO_REUSEPORT listener per worker,
 *                 level-triggered, read then write (the nginx model)
 *   epoll-shared  N workers on one epoll fd, every fd EPOLLONESHOT and
 *                 re-armed after each event (LIFO wakeups by construction)
 *   uring         one io_uring per worker and one SO_REUSEPORT listener
 *                 per worker: multishot accept, multishot recv from a
 *                 provided buffer ring, send from the received buffer,
 *                 io_uring_submit_and_wait() batching (liburing's idiom)
 *   cport         one port, N workers, release policy -P, each loop one
 *                 cport_submit_and_wait() that submits everything the
 *                 last batch of completions asked for (SEND inline when it
 *                 can finish at once, the next RECV into the connection's
 *                 other buffer) and waits for up to -b completions
 *
 * Every model echoes what it receives after a synthetic service time
 * (-s 0 | US | bimodal: 99.5% 10 us, 0.5% 500 us; a spin on the clock).
 * Each worker counts its system calls, events handled and requests
 * echoed, and marks each 10 ms window in which it handled something.
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
 *               [-s SERVICE] [-T TAG]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"

#define MAX_WORKERS	64
#define BUF_SIZE	16384
#define WINDOW_NS	10000000LL	/* the active-set window: 10 ms */
#define MAX_WINDOWS	12000		/* 120 s of windows */
#define NR_ACCEPTS	8		/* cport: accepts outstanding */
#define URING_ENTRIES	1024
#define URING_NBUF	1024		/* buffers in each ring's group */
#define URING_BUF	4096
#define URING_BGID	1

enum model { EPOLL_RP, EPOLL_SHARED, URING, CPORT };
static const char *const model_names[] = {
	"epoll-rp", "epoll-shared", "uring", "cport",
};

struct worker {
	pthread_t thread;
	int id;
	int epfd, lfd;
	_Atomic uint64_t calls, events, requests, accepts;
	long long last_window;
	unsigned int seed;
} __attribute__((aligned(64)));

static enum model model;
static int opt_port = 7000, opt_threads, opt_policy, opt_batch = 1;
static const char *opt_service = "0", *opt_tag = "-";
static int service_us, service_bimodal;
static struct worker workers[MAX_WORKERS];
static int shared_epfd = -1, shared_lfd = -1, port = -1;
static unsigned int uring_flags;
static _Atomic long long measure_t0;		/* 0: not measuring */
static _Atomic uint64_t windows[MAX_WINDOWS];	/* bit per worker */

static void die(const char *what, int err)
{
	fprintf(stderr, "server: %s: %s\n", what, strerror(err));
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define COUNT(w, field, n) \
	atomic_fetch_add_explicit(&(w)->field, (n), memory_order_relaxed)

/* The synthetic service time of one request. */
static void serve(struct worker *w)
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
static void handled(struct worker *w, unsigned int nr)
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

static int listener(bool reuseport)
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

/* --- epoll ------------------------------------------------------------- */

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

/* Read what is there and echo it; false when the connection ended. */
static bool echo_once(struct worker *w, int fd, char *buf)
{
	ssize_t n = read(fd, buf, BUF_SIZE);

	COUNT(w, calls, 1);
	if (n <= 0)
		return n < 0 && errno == EAGAIN;
	COUNT(w, requests, 1);
	serve(w);
	return write_all(w, fd, buf, n);
}

static void accept_all(struct worker *w, int epfd, int lfd, unsigned int ev)
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
		e.data.fd = fd;
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
		COUNT(w, calls, 2);
	}
}

static void *epoll_rp_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[64], e = { .events = EPOLLIN };
	char *buf = malloc(BUF_SIZE);
	int i, n;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	e.data.fd = w->lfd;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &e);
	for (;;) {
		n = epoll_wait(w->epfd, ev, 64, -1);
		COUNT(w, calls, 1);
		if (n <= 0)
			continue;
		handled(w, n);
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == w->lfd) {
				accept_all(w, w->epfd, fd, EPOLLIN);
			} else if (!echo_once(w, fd, buf)) {
				close(fd);
				COUNT(w, calls, 1);
			}
		}
	}
	return NULL;
}

static void *epoll_shared_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev;
	char *buf = malloc(BUF_SIZE);
	int n;

	for (;;) {
		n = epoll_wait(shared_epfd, &ev, 1, -1);
		COUNT(w, calls, 1);
		if (n <= 0)
			continue;
		handled(w, 1);
		if (ev.data.fd == shared_lfd) {
			accept_all(w, shared_epfd, shared_lfd,
				   EPOLLIN | EPOLLONESHOT);
		} else if (!echo_once(w, ev.data.fd, buf)) {
			close(ev.data.fd);
			COUNT(w, calls, 1);
			continue;
		}
		ev.events = EPOLLIN | EPOLLONESHOT;
		epoll_ctl(shared_epfd, EPOLL_CTL_MOD, ev.data.fd, &ev);
		COUNT(w, calls, 1);
	}
	return NULL;
}

/* --- io_uring ---------------------------------------------------------- */

/* user_data: kind 4 bits | bid 12 | off 13 | len 13 | fd 22 */
enum { U_ACCEPT = 1, U_RECV, U_SEND };
#define UD(kind, bid, off, len, fd) \
	((uint64_t)(kind) << 60 | (uint64_t)(bid) << 48 | \
	 (uint64_t)(off) << 35 | (uint64_t)(len) << 22 | (uint64_t)(fd))
#define UD_KIND(u)	((unsigned int)((u) >> 60))
#define UD_BID(u)	((unsigned int)((u) >> 48) & 0xfff)
#define UD_OFF(u)	((unsigned int)((u) >> 35) & 0x1fff)
#define UD_LEN(u)	((unsigned int)((u) >> 22) & 0x1fff)
#define UD_FD(u)	((int)((u) & 0x3fffff))

struct uring_ctx {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	struct worker *w;
};

static struct io_uring_sqe *get_sqe(struct uring_ctx *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		io_uring_submit(&u->ring);
		COUNT(u->w, calls, 1);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static void uring_arm_recv(struct uring_ctx *u, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = URING_BGID;
	io_uring_sqe_set_data64(sqe, UD(U_RECV, 0, 0, 0, fd));
}

static void uring_arm_accept(struct uring_ctx *u)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_multishot_accept(sqe, u->w->lfd, NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(U_ACCEPT, 0, 0, 0, 0));
}

static void uring_send(struct uring_ctx *u, int fd, unsigned int bid,
		       unsigned int off, unsigned int len)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_send(sqe, fd, u->bufs + bid * URING_BUF + off,
			   len - off, 0);
	io_uring_sqe_set_data64(sqe, UD(U_SEND, bid, off, len, fd));
}

static void uring_put_buf(struct uring_ctx *u, unsigned int bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + bid * URING_BUF, URING_BUF,
			      bid, io_uring_buf_ring_mask(URING_NBUF), 0);
	io_uring_buf_ring_advance(u->br, 1);
}

static void uring_setup(struct uring_ctx *u)
{
	static const unsigned int tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	struct io_uring_buf_reg reg = { 0 };
	unsigned int i;
	int ret = -EINVAL;

	for (i = 0; i < 3 && ret == -EINVAL; i++) {
		struct io_uring_params p = { .flags = tries[i] };

		ret = io_uring_queue_init_params(URING_ENTRIES, &u->ring, &p);
		if (!ret && u->w->id == 0)
			uring_flags = tries[i];
	}
	if (ret < 0)
		die("io_uring_queue_init_params", -ret);
	u->br = mmap(NULL, URING_NBUF * sizeof(struct io_uring_buf),
		     PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	u->bufs = malloc((size_t)URING_NBUF * URING_BUF);
	if (u->br == MAP_FAILED || !u->bufs)
		die("buffer ring", ENOMEM);
	reg.ring_addr = (unsigned long)u->br;
	reg.ring_entries = URING_NBUF;
	reg.bgid = URING_BGID;
	ret = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (ret < 0)
		die("io_uring_register_buf_ring", -ret);
	io_uring_buf_ring_init(u->br);
	for (i = 0; i < URING_NBUF; i++)
		io_uring_buf_ring_add(u->br, u->bufs + i * URING_BUF, URING_BUF,
				      i, io_uring_buf_ring_mask(URING_NBUF), i);
	io_uring_buf_ring_advance(u->br, URING_NBUF);
}

static void uring_cqe(struct uring_ctx *u, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	bool more = cqe->flags & IORING_CQE_F_MORE;
	struct worker *w = u->w;
	int one = 1, res = cqe->res;
	unsigned int bid;

	switch (UD_KIND(ud)) {
	case U_ACCEPT:
		if (res >= 0) {
			COUNT(w, accepts, 1);
			setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			COUNT(w, calls, 1);
			uring_arm_recv(u, res);
		}
		if (!more)
			uring_arm_accept(u);
		break;
	case U_RECV:
		if (res > 0) {
			bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			COUNT(w, requests, 1);
			serve(w);
			uring_send(u, UD_FD(ud), bid, 0, res);
			if (!more)
				uring_arm_recv(u, UD_FD(ud));
		} else if (res == -ENOBUFS) {
			uring_arm_recv(u, UD_FD(ud));	/* buffers come back */
		} else if (!more) {
			close(UD_FD(ud));
			COUNT(w, calls, 1);
		}
		break;
	case U_SEND:
		bid = UD_BID(ud);
		if (res > 0 && UD_OFF(ud) + res < UD_LEN(ud))
			uring_send(u, UD_FD(ud), bid, UD_OFF(ud) + res,
				   UD_LEN(ud));
		else
			uring_put_buf(u, bid);
		break;
	}
}

static void *uring_main(void *arg)
{
	struct uring_ctx u = { .w = arg };
	struct io_uring_cqe *cqe;
	unsigned int head, nr;

	uring_setup(&u);
	uring_arm_accept(&u);
	for (;;) {
		io_uring_submit_and_wait(&u.ring, 1);
		COUNT(u.w, calls, 1);
		nr = 0;
		io_uring_for_each_cqe(&u.ring, head, cqe) {
			uring_cqe(&u, cqe);
			nr++;
		}
		io_uring_cq_advance(&u.ring, nr);
		if (nr)
			handled(u.w, nr);
	}
	return NULL;
}

/* --- cport ------------------------------------------------------------- */

/* The completion key and, with the kind in its low bits, the cookie. */
struct conn {
	int fd;
	char *buf[2];
} __attribute__((aligned(8)));

enum { C_ACCEPT = 0, C_RECV = 1, C_SEND = 2, C_QUIT = 7 };
#define CUD(c, kind, k)	((__u64)(uintptr_t)(c) | (kind) << 1 | (k))
#define CUD_CONN(u)	((struct conn *)(uintptr_t)((u) & ~7ULL))
#define CUD_KIND(u)	((unsigned int)((u) >> 1) & 3)
#define CUD_BUF(u)	((unsigned int)(u) & 1)

static struct conn *conn_new(void)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("calloc", ENOMEM);
	c->fd = -1;
	c->buf[0] = malloc(BUF_SIZE);
	c->buf[1] = malloc(BUF_SIZE);
	if (!c->buf[0] || !c->buf[1])
		die("malloc", ENOMEM);
	return c;
}

static void cport_prep_accept_conn(struct cport_sqe *sqe)
{
	struct conn *c = conn_new();

	cport_prep_accept(sqe, shared_lfd, NULL, 0, CUD(c, C_ACCEPT, 0),
			  (__u64)(uintptr_t)c,
			  CPORT_ACCEPT_ASSOCIATE | CPORT_ACCEPT_CLOEXEC);
}

static void *cport_main(void *arg)
{
	struct worker *w = arg;
	unsigned int max = opt_batch, nr = 0, submitted, i;
	struct cport_sqe *sq = calloc(2 * max + 2, sizeof(*sq));
	struct cport_cqe *cq = calloc(max, sizeof(*cq));
	int ret, one = 1;

	for (;;) {
		submitted = 0;
		ret = cport_submit_and_wait(port, sq, nr, cq, max, -1,
					    &submitted);
		COUNT(w, calls, 1);
		if (ret < 0 && nr && submitted < nr)
			fprintf(stderr, "server: submission %u (opcode %u) failed: %s\n",
				submitted, sq[submitted].opcode,
				strerror(-ret));
		nr = 0;
		if (ret == -EIDRM)
			break;
		if (ret <= 0)
			continue;
		handled(w, ret);
		for (i = 0; i < (unsigned int)ret; i++) {
			struct cport_cqe *e = &cq[i];
			struct conn *c = CUD_CONN(e->user_data);
			unsigned int k = CUD_BUF(e->user_data);

			if (e->op == CPORT_OP_POST)
				return NULL;
			switch (CUD_KIND(e->user_data)) {
			case C_ACCEPT:
				if (e->res >= 0) {
					COUNT(w, accepts, 1);
					c->fd = (int)e->res;
					setsockopt(c->fd, IPPROTO_TCP,
						   TCP_NODELAY, &one,
						   sizeof(one));
					COUNT(w, calls, 1);
					cport_prep_recv(&sq[nr++], c->fd,
							c->buf[0], BUF_SIZE,
							CUD(c, C_RECV, 0), 0);
				}
				cport_prep_accept_conn(&sq[nr++]);
				break;
			case C_RECV:
				if (e->res <= 0) {
					/*
					 * A posted SEND may still complete
					 * later with this key: c is not
					 * reused.
					 */
					close(c->fd);
					COUNT(w, calls, 1);
					break;
				}
				COUNT(w, requests, 1);
				serve(w);
				cport_prep_send(&sq[nr], c->fd, c->buf[k],
						e->res, CUD(c, C_SEND, k));
				sq[nr++].flags = CPORT_SQE_INLINE;
				cport_prep_recv(&sq[nr++], c->fd, c->buf[k ^ 1],
						BUF_SIZE, CUD(c, C_RECV, k ^ 1),
						0);
				break;
			case C_SEND:	/* posted: the socket was full */
				break;
			}
		}
	}
	return NULL;
}

static void cport_start(void)
{
	struct cport_setup s = { .policy = opt_policy };
	struct cport_sqe sq[NR_ACCEPTS];
	struct cport_info info;
	int i, ret;

	port = cport_create(&s);
	if (port == -EINVAL && opt_policy > CPORT_POLICY_FIFO) {
		printf("csv,skip,%s,model=cport,policy=%d,why=setup returned EINVAL: this kernel module has no such policy\n",
		       opt_tag, opt_policy);
		exit(3);
	}
	if (port < 0)
		die("cport_create", -port);
	/* A module older than the header may take the number and ignore it. */
	ret = cport_query(port, &info);
	if (ret < 0)
		die("cport_query", -ret);
	if (!(info.policies & (1U << opt_policy))) {
		printf("csv,skip,%s,model=cport,policy=%d,why=the module does not list this policy in CPORT_IOC_QUERY (policies 0x%x)\n",
		       opt_tag, opt_policy, info.policies);
		exit(3);
	}
	shared_lfd = listener(false);
	ret = cport_associate(port, shared_lfd, 0, 0);
	if (ret < 0)
		die("cport_associate", -ret);
	for (i = 0; i < NR_ACCEPTS; i++)
		cport_prep_accept_conn(&sq[i]);
	ret = cport_submit(port, sq, NR_ACCEPTS);
	if (ret < 0)
		die("cport_submit accepts", -ret);
}

/* --- measurement ------------------------------------------------------- */

static const char *const port_fields[] = {
	"concurrency", "posts", "dequeues", "waits", "waits_slept",
	"handoffs", "runs_submit", "runs_waiter", "runs_fallback",
	"fallback_kicks", "ops_inline", "ops_completed",
};
#define NR_PORT_FIELDS	(sizeof(port_fields) / sizeof(port_fields[0]))

struct snap {
	long long t;
	struct rusage ru;
	uint64_t calls[MAX_WORKERS], events[MAX_WORKERS], requests[MAX_WORKERS];
	uint64_t accepts;
	long long port[NR_PORT_FIELDS];
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
	char path[64], line[160];
	unsigned int i;
	FILE *f;

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
	for (i = 0; i < NR_PORT_FIELDS; i++)
		s->port[i] = -1;
	if (port < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", port);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < NR_PORT_FIELDS; i++) {
			size_t len = strlen(port_fields[i]);

			if (!strncmp(line, port_fields[i], len) &&
			    line[len] == ':')
				s->port[i] = atoll(line + len + 1);
		}
	}
	fclose(f);
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
	printf("csv,srv,%s,model=%s,policy=%d,batch=%d,threads=%d,service=%s,"
	       "uring_flags=0x%x,wall_s=%.3f,requests=%llu,events=%llu,"
	       "accepts=%llu,calls=%llu,vcsw=%ld,ivcsw=%ld,utime_s=%.3f,"
	       "stime_s=%.3f,sys_busy_s=%.3f,sys_all_s=%.3f,windows=%llu,active_mean=%.3f,single_share=%.3f,"
	       "max_share=%.3f,shares=%s",
	       opt_tag, model_names[model], model == CPORT ? opt_policy : -1,
	       model == CPORT ? opt_batch : model == EPOLL_RP ? 64 :
	       model == URING ? -1 : 1, opt_threads, opt_service,
	       model == URING ? uring_flags : 0, (b->t - a->t) / 1e9,
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
			"              [-P POLICY] [-b BATCH] [-s 0|US|bimodal] [-T TAG]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	void *(*fn)(void *) = NULL;
	struct snap a, b;
	bool started = false;
	sigset_t set;
	int c, i, sig, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

	while ((c = getopt(argc, argv, "m:p:t:P:b:s:T:")) != -1) {
		switch (c) {
		case 'm':
			for (i = 0; i < 4; i++)
				if (!strcmp(optarg, model_names[i]))
					break;
			if (i == 4)
				usage();
			model = i;
			fn = (void *(*[])(void *)){ epoll_rp_main,
				epoll_shared_main, uring_main, cport_main }[i];
			break;
		case 'p': opt_port = atoi(optarg); break;
		case 't': opt_threads = atoi(optarg); break;
		case 'P': opt_policy = atoi(optarg); break;
		case 'b': opt_batch = atoi(optarg); break;
		case 's': opt_service = optarg; break;
		case 'T': opt_tag = optarg; break;
		default: usage();
		}
	}
	if (!fn || optind != argc || opt_threads < 0 ||
	    opt_threads > MAX_WORKERS || opt_batch < 1 ||
	    opt_batch > CPORT_MAX_ENTER / 2 - 1)
		usage();
	if (!opt_threads)	/* per-CPU models: CPUs; pools: twice that */
		opt_threads = model == EPOLL_RP || model == URING ? ncpu : 2 * ncpu;
	if (!strcmp(opt_service, "bimodal"))
		service_bimodal = 1;
	else
		service_us = atoi(opt_service);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (model == CPORT) {
		cport_start();
	} else if (model == EPOLL_SHARED) {
		struct epoll_event e = { .events = EPOLLIN | EPOLLONESHOT };

		shared_lfd = listener(false);
		fcntl(shared_lfd, F_SETFL, O_NONBLOCK);
		shared_epfd = epoll_create1(EPOLL_CLOEXEC);
		e.data.fd = shared_lfd;
		epoll_ctl(shared_epfd, EPOLL_CTL_ADD, shared_lfd, &e);
	}
	for (i = 0; i < opt_threads; i++) {
		workers[i].id = i;
		workers[i].seed = i + 1;
		workers[i].last_window = -1;
		if (model == EPOLL_RP || model == URING) {
			workers[i].lfd = listener(true);
			fcntl(workers[i].lfd, F_SETFL, O_NONBLOCK);
		}
		if (pthread_create(&workers[i].thread, NULL, fn, &workers[i]))
			die("pthread_create", errno);
	}
	printf("server: %s, %d workers, ready on 127.0.0.1:%d\n",
	       model_names[model], opt_threads, opt_port);
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
			if (port >= 0)
				cport_destroy(port);
			_exit(0);
		}
	}
}
