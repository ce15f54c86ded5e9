// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libevent_demo: a completion port inside a libevent loop.
 *
 * One thread, one event_base.  The port fd is an ordinary libevent event
 * (EV_READ | EV_PERSIST): it is readable while completions are queued, and
 * its callback drains them with zero-timeout waits.  Next to it, two
 * plain libevent timers:
 *  - "tick" (every 20 ms) makes each client connection that is idle send
 *    its next message through the port (a SEND, with a RECV for the
 *    echo);
 *  - "heartbeat" (every 50 ms) posts a user completion to the port,
 *    which comes back through the same callback.
 * The server side is all completions too: ACCEPTs pending on the listener
 * (the new sockets associated with the port), a RECV on each accepted
 * connection whose completion sends the echo back.  Every echo is checked
 * byte for byte.  When each connection has had its echoes, the loop ends
 * and a summary is printed.
 *
 * Usage: libevent_demo [-c CONNECTIONS] [-r ROUNDS]     (default 3, 6)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cport.h"

#define MAX_CONN	16
#define MSG		32
#define TICK_MS		20
#define HEARTBEAT_MS	50
#define GUARD_S		30

#define KEY_LISTEN	1ULL
#define KEY_HEARTBEAT	2ULL
#define KEY_SERVER(i)	(0x100ULL + (i))
#define KEY_CLIENT(i)	(0x200ULL + (i))

/* user_data: what the operation was, and for which round. */
enum { UD_ACCEPT = 1, UD_SRECV, UD_SSEND, UD_CSEND, UD_CRECV, UD_BEAT };
#define UD(kind, n)	((__u64)(kind) << 32 | (__u32)(n))

struct conn {
	int cfd, sfd;			/* client end, accepted server end */
	int round;			/* messages sent by the client */
	int echoes;			/* echoes received and checked */
	bool busy;			/* a message is in flight */
	char out[MSG], in[MSG], srv[MSG];
};

static struct {
	struct event_base *base;
	struct event *port_ev, *tick_ev, *beat_ev, *guard_ev;
	int port, listener;
	int nconn, rounds;
	struct conn c[MAX_CONN];
	int accepted;

	long long t0;
	int ticks, beats_posted, beats_back;
	int callbacks, max_batch;
	int by_op[8];
	int ncqes, echoes, bad;
	long long bytes;
} d;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "libevent_demo: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void submit(struct cport_sqe *sqe)
{
	int ret = cport_submit(d.port, sqe, 1);

	if (ret != 1)
		die("cport_submit", ret);
}

static void msg_fill(char *buf, int conn, int round)
{
	memset(buf, 0, MSG);
	snprintf(buf, MSG, "conn %d, message %d", conn, round);
}

/* Every connection's accept, and four completions per message. */
static bool all_done(void)
{
	return d.ncqes - d.beats_back == d.nconn * (1 + 4 * d.rounds);
}

/* --- Completions ----------------------------------------------------------- */

static void handle(const struct cport_cqe *cqe)
{
	unsigned int kind = cqe->user_data >> 32, n = (__u32)cqe->user_data;
	struct cport_sqe sqe;
	struct conn *c;

	d.ncqes++;
	if (cqe->op < 8)
		d.by_op[cqe->op]++;
	if (kind == UD_BEAT) {
		d.beats_back++;
		return;
	}
	if (cqe->res < 0) {
		fprintf(stderr, "libevent_demo: operation %u/%u failed: %s\n",
			kind, n, strerror((int)-cqe->res));
		d.bad++;
		return;
	}
	switch (kind) {
	case UD_ACCEPT:
		/* Accepts complete in order: the i-th goes with client i. */
		c = &d.c[d.accepted++];
		c->sfd = (int)cqe->res;
		cport_prep_recv(&sqe, c->sfd, c->srv, MSG, UD(UD_SRECV, 0),
				CPORT_RECV_FILL);
		submit(&sqe);
		break;
	case UD_SRECV:
		/* The server echoes what it got, and waits for more. */
		c = &d.c[cqe->key - KEY_SERVER(0)];
		cport_prep_send(&sqe, c->sfd, c->srv, MSG, UD(UD_SSEND, n));
		submit(&sqe);
		break;
	case UD_SSEND:
		c = &d.c[cqe->key - KEY_SERVER(0)];
		if (n + 1 < (unsigned int)d.rounds) {
			cport_prep_recv(&sqe, c->sfd, c->srv, MSG,
					UD(UD_SRECV, n + 1), CPORT_RECV_FILL);
			submit(&sqe);
		}
		break;
	case UD_CSEND:
		break;
	case UD_CRECV:
		c = &d.c[cqe->key - KEY_CLIENT(0)];
		if (memcmp(c->in, c->out, MSG)) {
			fprintf(stderr, "libevent_demo: wrong echo on %llu\n",
				(unsigned long long)cqe->key);
			d.bad++;
		}
		c->echoes++;
		c->busy = false;
		d.echoes++;
		d.bytes += MSG;
		break;
	}
}

static const char *const op_names[] = {
	[CPORT_OP_POST] = "post", [CPORT_OP_RECV] = "recv",
	[CPORT_OP_SEND] = "send", [CPORT_OP_ACCEPT] = "accept",
};

/* The port is readable: take everything queued, without waiting. */
static void port_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cport_cqe cqes[16];
	int by_op[8] = { 0 }, got = 0, n, i;
	char line[160];
	size_t len;

	d.callbacks++;
	for (;;) {
		n = cport_wait(d.port, cqes, 16, 0);
		if (n == -ETIMEDOUT)
			break;
		if (n < 0)
			die("cport_wait", n);
		if (n > d.max_batch)
			d.max_batch = n;
		for (i = 0; i < n; i++) {
			if (cqes[i].op < 8)
				by_op[cqes[i].op]++;
			handle(&cqes[i]);
		}
		got += n;
	}
	len = snprintf(line, sizeof(line), "[%4lld ms] port:      %d completion%s (",
		       now_ms() - d.t0, got, got == 1 ? "" : "s");
	for (i = 0, n = 0; i < 8; i++)
		if (by_op[i] && len < sizeof(line))
			len += snprintf(line + len, sizeof(line) - len, "%s%d %s",
					n++ ? ", " : "", by_op[i],
					i < (int)(sizeof(op_names) / sizeof(op_names[0])) &&
					op_names[i] ? op_names[i] : "?");
	printf("%s)\n", line);
	if (all_done()) {
		/* Nothing more will be posted: the last drain was the last. */
		event_del(d.beat_ev);
		event_del(d.tick_ev);
		event_base_loopexit(d.base, NULL);
	}
}

/* --- Timers ---------------------------------------------------------------- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cport_sqe sqe;
	int i, sent = 0;

	d.ticks++;
	for (i = 0; i < d.accepted; i++) {
		struct conn *c = &d.c[i];

		if (c->busy || c->round >= d.rounds)
			continue;
		msg_fill(c->out, i, c->round);
		memset(c->in, 0, MSG);
		cport_prep_recv(&sqe, c->cfd, c->in, MSG,
				UD(UD_CRECV, c->round), CPORT_RECV_FILL);
		submit(&sqe);
		cport_prep_send(&sqe, c->cfd, c->out, MSG,
				UD(UD_CSEND, c->round));
		submit(&sqe);
		c->round++;
		c->busy = true;
		sent++;
	}
	printf("[%4lld ms] tick %d:    %d message%s sent\n", now_ms() - d.t0,
	       d.ticks, sent, sent == 1 ? "" : "s");
}

static void beat_cb(evutil_socket_t fd, short what, void *arg)
{
	int ret = cport_post(d.port, KEY_HEARTBEAT,
			     UD(UD_BEAT, d.beats_posted), 0, 0);

	if (ret)
		die("cport_post", ret);
	d.beats_posted++;
	printf("[%4lld ms] heartbeat %d posted to the port\n",
	       now_ms() - d.t0, d.beats_posted);
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	fprintf(stderr, "libevent_demo: no progress in %d s\n", GUARD_S);
	exit(1);
}

/* --- Setup ----------------------------------------------------------------- */

static int tcp_listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof(*sin)) ||
	    listen(fd, 64) || getsockname(fd, (struct sockaddr *)sin, &len))
		die("listener", errno);
	return fd;
}

int main(int argc, char **argv)
{
	struct timeval tick = { 0, TICK_MS * 1000 };
	struct timeval beat = { 0, HEARTBEAT_MS * 1000 };
	struct timeval guard = { GUARD_S, 0 };
	struct sockaddr_in sin;
	struct cport_sqe sqe;
	struct pollfd pfd;
	int i, opt, ret;

	d.nconn = 3;
	d.rounds = 6;
	while ((opt = getopt(argc, argv, "c:r:")) != -1) {
		if (opt == 'c')
			d.nconn = atoi(optarg);
		else if (opt == 'r')
			d.rounds = atoi(optarg);
		else
			goto usage;
	}
	if (d.nconn < 1 || d.nconn > MAX_CONN || d.rounds < 1) {
usage:
		fprintf(stderr, "usage: libevent_demo [-c 1..%d] [-r ROUNDS]\n",
			MAX_CONN);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	d.port = cport_create(NULL);
	if (d.port < 0)
		die("cport_create (is cport.ko loaded?)", d.port);
	d.base = event_base_new();
	if (!d.base)
		die("event_base_new", ENOMEM);
	d.port_ev = event_new(d.base, d.port, EV_READ | EV_PERSIST, port_cb, NULL);
	d.tick_ev = event_new(d.base, -1, EV_PERSIST, tick_cb, NULL);
	d.beat_ev = event_new(d.base, -1, EV_PERSIST, beat_cb, NULL);
	d.guard_ev = evtimer_new(d.base, guard_cb, NULL);
	if (!d.port_ev || !d.tick_ev || !d.beat_ev || !d.guard_ev)
		die("event_new", ENOMEM);

	/* The server: ACCEPTs pending on the listener, one per client. */
	d.listener = tcp_listener(&sin);
	ret = cport_associate(d.port, d.listener, KEY_LISTEN, 0);
	if (ret)
		die("cport_associate", ret);
	for (i = 0; i < d.nconn; i++) {
		cport_prep_accept(&sqe, d.listener, NULL, 0, UD(UD_ACCEPT, i),
				  KEY_SERVER(i), CPORT_ACCEPT_ASSOCIATE |
				  CPORT_ACCEPT_CLOEXEC);
		submit(&sqe);
	}
	/* The clients, through the same port. */
	for (i = 0; i < d.nconn; i++) {
		d.c[i].cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (d.c[i].cfd < 0 ||
		    connect(d.c[i].cfd, (struct sockaddr *)&sin, sizeof(sin)))
			die("connect", errno);
		ret = cport_associate(d.port, d.c[i].cfd, KEY_CLIENT(i), 0);
		if (ret)
			die("cport_associate", ret);
	}

	printf("libevent_demo: libevent %s (%s backend), %d connections x %d messages; "
	       "tick every %d ms, heartbeat every %d ms\n",
	       event_get_version(), event_base_get_method(d.base), d.nconn,
	       d.rounds, TICK_MS, HEARTBEAT_MS);
	if (event_add(d.port_ev, NULL) || event_add(d.tick_ev, &tick) ||
	    event_add(d.beat_ev, &beat) || event_add(d.guard_ev, &guard))
		die("event_add", EINVAL);
	d.t0 = now_ms();
	if (event_base_dispatch(d.base) < 0)
		die("event_base_dispatch", EIO);

	pfd = (struct pollfd){ .fd = d.port, .events = POLLIN };
	ret = poll(&pfd, 1, 0);
	printf("libevent_demo: done in %lld ms: %d ticks; heartbeats: %d posted, "
	       "%d came back through the port\n", now_ms() - d.t0, d.ticks,
	       d.beats_posted, d.beats_back);
	printf("libevent_demo: %d completions in %d port callbacks (at most %d "
	       "per wait): %d accept, %d send, %d recv, %d post\n", d.ncqes,
	       d.callbacks, d.max_batch, d.by_op[CPORT_OP_ACCEPT],
	       d.by_op[CPORT_OP_SEND], d.by_op[CPORT_OP_RECV],
	       d.by_op[CPORT_OP_POST]);
	printf("libevent_demo: %d echoes (%lld bytes), every byte verified; "
	       "%d errors; port fd readable after the last drain: %s\n",
	       d.echoes, d.bytes, d.bad, ret > 0 ? "yes" : "no");

	/* Sockets close with no operation pending; then the port goes. */
	for (i = 0; i < d.nconn; i++) {
		close(d.c[i].cfd);
		close(d.c[i].sfd);
	}
	close(d.listener);	/* its last ACCEPTs all completed */
	cport_close(d.port);
	event_free(d.port_ev);
	event_free(d.tick_ev);
	event_free(d.beat_ev);
	event_free(d.guard_ev);
	event_base_free(d.base);
	return d.bad || d.echoes != d.nconn * d.rounds;
}
