// SPDX-License-Identifier: GPL-2.0
/*
 * A port inside a libevent loop: an event_base watches the port fd
 * (EV_READ | EV_PERSIST) next to ordinary timers, and the port's callback
 * drains completions with zero-timeout waits.  The loop must see exactly
 * the completions expected, in order, interleaved with the timer ticks,
 * never be woken for an empty port (the fd is level-triggered: readable
 * while completions are queued, and not after the drain), and see a
 * destroyed port as readable (EPOLLHUP) with -EIDRM from the wait.
 *
 * Each test runs on libevent's epoll, poll and select backends.  libevent
 * is linked statically (Debian's libevent_core.a).
 */
#include <event2/event.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define MAX_LOG		1024
#define KEY_POST	0x9051
#define TICK_MS		5

/* What the loop saw, in the order it saw it. */
enum { EV_TICK = 1, EV_CQE, EV_IDRM };

struct entry {
	int kind;
	int tick;			/* EV_TICK: its number */
	struct cport_cqe cqe;		/* EV_CQE */
};

struct loop {
	struct event_base *base;
	struct event *port_ev, *tick_ev, *guard_ev;
	int port;
	unsigned int batch;		/* max_cqes of each wait */
	bool drain_all;			/* wait until -ETIMEDOUT, or once */

	int ticks;			/* timer ticks so far */
	int callbacks;			/* port callbacks */
	int empty_callbacks;		/* ... that found nothing queued */
	int readable_after_drain;	/* POLLIN right after a full drain */
	int wait_errors;		/* waits that failed otherwise */
	int last_err;
	int idrm;			/* waits that returned -EIDRM */
	bool timed_out;			/* the guard timer ended the loop */
	int ncqes;
	int nlog;
	struct entry log[MAX_LOG];

	/* Per-test hooks. */
	void (*on_tick)(struct loop *l);
	void (*on_cqe)(struct loop *l, const struct cport_cqe *cqe);
	bool (*done)(struct loop *l);
	void *priv;
};

static void log_add(struct loop *l, int kind, int tick,
		    const struct cport_cqe *cqe)
{
	struct entry *e;

	if (l->nlog == MAX_LOG)
		return;
	e = &l->log[l->nlog++];
	e->kind = kind;
	e->tick = tick;
	if (cqe)
		e->cqe = *cqe;
}

/* poll() with timeout 0: the revents, or -errno. */
static int revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret = poll(&p, 1, 0);

	return ret < 0 ? -errno : ret ? p.revents : 0;
}

static void check_done(struct loop *l)
{
	if (l->done && l->done(l))
		event_base_loopexit(l->base, NULL);
}

static void port_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct cport_cqe cqes[64];
	int got = 0, n, i;

	l->callbacks++;
	do {
		n = cport_wait(l->port, cqes, l->batch, 0);
		if (n == -ETIMEDOUT)
			break;
		if (n == -EIDRM) {
			/* Destroyed: readable for good (EPOLLHUP). */
			l->idrm++;
			log_add(l, EV_IDRM, 0, NULL);
			event_del(l->port_ev);
			break;
		}
		if (n < 0) {
			l->wait_errors++;
			l->last_err = n;
			break;
		}
		for (i = 0; i < n; i++) {
			l->ncqes++;
			log_add(l, EV_CQE, 0, &cqes[i]);
			if (l->on_cqe)
				l->on_cqe(l, &cqes[i]);
		}
		got += n;
	} while (l->drain_all);
	if (!got && !l->idrm)
		l->empty_callbacks++;
	if (got && l->drain_all && (revents(l->port) & POLLIN))
		l->readable_after_drain++;
	check_done(l);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	l->ticks++;
	log_add(l, EV_TICK, l->ticks, NULL);
	if (l->on_tick)
		l->on_tick(l);
	check_done(l);
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	l->timed_out = true;
	event_base_loopbreak(l->base);
}

static const char *const methods[] = { "epoll", "poll", "select" };

/* An event_base on backend @method alone; NULL if there is none. */
static struct event_base *base_on(const char *method)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;
	unsigned int i;

	if (!cfg)
		return NULL;
	for (i = 0; i < ARRAY_SIZE(methods); i++)
		if (strcmp(methods[i], method))
			event_config_avoid_method(cfg, methods[i]);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

FIXTURE(loop) {
	struct loop *l;
};

FIXTURE_VARIANT(loop) {
	const char *method;
};

FIXTURE_VARIANT_ADD(loop, epoll) { .method = "epoll" };
FIXTURE_VARIANT_ADD(loop, poll) { .method = "poll" };
FIXTURE_VARIANT_ADD(loop, select) { .method = "select" };

FIXTURE_SETUP(loop)
{
	struct timeval tick = { 0, TICK_MS * 1000 };
	struct loop *l;

	l = self->l = calloc(1, sizeof(*l));
	ASSERT_NE(NULL, l);
	l->batch = 16;
	l->drain_all = true;
	l->port = cport_create(NULL);
	ASSERT_LE(0, l->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s", strerror(-l->port));
	}
	l->base = base_on(variant->method);
	ASSERT_NE(NULL, l->base);
	ASSERT_STREQ(variant->method, event_base_get_method(l->base));
	l->port_ev = event_new(l->base, l->port, EV_READ | EV_PERSIST,
			       port_cb, l);
	l->tick_ev = event_new(l->base, -1, EV_PERSIST, tick_cb, l);
	l->guard_ev = evtimer_new(l->base, guard_cb, l);
	ASSERT_NE(NULL, l->port_ev);
	ASSERT_NE(NULL, l->tick_ev);
	ASSERT_NE(NULL, l->guard_ev);
	ASSERT_EQ(0, event_add(l->port_ev, NULL));
	ASSERT_EQ(0, event_add(l->tick_ev, &tick));
}

FIXTURE_TEARDOWN(loop)
{
	struct loop *l = self->l;

	if (!l)
		return;
	if (l->port_ev)
		event_free(l->port_ev);
	if (l->tick_ev)
		event_free(l->tick_ev);
	if (l->guard_ev)
		event_free(l->guard_ev);
	if (l->base)
		event_base_free(l->base);
	if (l->port >= 0)
		cport_close(l->port);
	free(l);
}

/* Run the loop until done() or PROGRESS_MS; 0 or the loop's error. */
static int run(struct loop *l)
{
	struct timeval guard = { PROGRESS_MS / 1000, 0 };

	if (event_add(l->guard_ev, &guard))
		return -1;
	return event_base_dispatch(l->base);
}

/* The index of the log entry for tick @t, or -1. */
static int tick_at(const struct loop *l, int t)
{
	int i;

	for (i = 0; i < l->nlog; i++)
		if (l->log[i].kind == EV_TICK && l->log[i].tick == t)
			return i;
	return -1;
}

/* --- Completions posted from a timer ------------------------------------- */

#define NPOSTS	20

static void post_on_tick(struct loop *l)
{
	if (l->ticks <= NPOSTS)
		cport_post(l->port, KEY_POST, l->ticks, -l->ticks, l->ticks);
}

static bool posts_done(struct loop *l)
{
	return l->ncqes >= NPOSTS && l->ticks >= NPOSTS + 2;
}

/*
 * Tick t posts completion t; the port callback gets each one after the
 * tick that posted it, in order, exactly once, and never finds the port
 * empty or leaves it readable.
 */
TEST_F(loop, posted_from_timer_in_order)
{
	struct loop *l = self->l;
	int i, c = 0, last = -1;

	l->on_tick = post_on_tick;
	l->done = posts_done;
	ASSERT_EQ(0, run(l));
	ASSERT_FALSE(l->timed_out);

	EXPECT_EQ(NPOSTS, l->ncqes);
	for (i = 0; i < l->nlog; i++) {
		const struct cport_cqe *cqe = &l->log[i].cqe;
		int t;

		if (l->log[i].kind != EV_CQE)
			continue;
		c++;
		EXPECT_EQ(c, cqe->user_data);
		EXPECT_EQ(KEY_POST, cqe->key);
		EXPECT_EQ(-c, cqe->res);
		EXPECT_EQ(c, cqe->bytes);
		EXPECT_EQ(CPORT_OP_POST, cqe->op);
		/* After the tick that posted it. */
		t = tick_at(l, c);
		EXPECT_LT(t, i);
		EXPECT_LT(last, i);
		last = i;
	}
	EXPECT_EQ(NPOSTS, c);
	/* One callback per completion: each tick posts one, and the loop
	 * gets to the port before the next tick (or drains two at once). */
	EXPECT_GE(NPOSTS, l->callbacks);
	EXPECT_EQ(0, l->empty_callbacks);
	EXPECT_EQ(0, l->readable_after_drain);
	EXPECT_EQ(0, l->wait_errors) TH_LOG("%s", strerror(-l->last_err));
	EXPECT_EQ(0, revents(l->port));
	EXPECT_EQ(-ETIMEDOUT, cport_wait(l->port, &l->log[0].cqe, 1, 0));
}

/* --- A burst drained in batches, one wait per callback --------------------- */

#define NBURST	100
#define BATCH	16

static bool burst_done(struct loop *l)
{
	/* Some ticks after the last completion: no more callbacks came. */
	return l->ncqes >= NBURST && l->ticks >= 10;
}

/*
 * 100 completions queued before the loop starts; each callback takes one
 * batch of 16 and returns.  The fd stays readable until the queue is
 * empty, so the loop comes back for the rest: exactly 7 callbacks, the
 * completions in order, then not readable.
 */
TEST_F(loop, burst_drained_in_batches)
{
	struct loop *l = self->l;
	int i, c = 0;

	for (i = 0; i < NBURST; i++)
		ASSERT_EQ(0, cport_post(l->port, KEY_POST, i, 0, 0));
	EXPECT_EQ(POLLIN, revents(l->port));
	l->batch = BATCH;
	l->drain_all = false;
	l->done = burst_done;
	ASSERT_EQ(0, run(l));
	ASSERT_FALSE(l->timed_out);

	EXPECT_EQ(NBURST, l->ncqes);
	for (i = 0; i < l->nlog; i++) {
		if (l->log[i].kind != EV_CQE)
			continue;
		EXPECT_EQ(c, l->log[i].cqe.user_data);
		c++;
	}
	EXPECT_EQ((NBURST + BATCH - 1) / BATCH, l->callbacks);
	EXPECT_EQ(0, l->empty_callbacks);
	EXPECT_EQ(0, l->wait_errors);
	EXPECT_EQ(0, revents(l->port));
}

/* --- An echo through socket operations, driven by a timer ------------------ */

#define NCONN	3
#define ROUNDS	8
#define MSG	64

enum { OP_CSEND, OP_CRECV, OP_SRECV, OP_SSEND, NR_OPS };

struct conn {
	int fds[2];			/* [0] server end, [1] client end */
	char out[ROUNDS][MSG];		/* what the client sends */
	char in[ROUNDS][MSG];		/* the echoes it receives */
	char srv[ROUNDS][MSG];		/* what the server receives */
	int echoes;			/* echoes received by the client */
	/* Per operation kind, the rounds in the order they completed, and
	 * where in the loop's log each completion is. */
	int seq[NR_OPS][ROUNDS], nseq[NR_OPS];
	int at[NR_OPS][ROUNDS];
	int bad;			/* unexpected completions */
};

struct echo {
	struct conn c[NCONN];
	int submit_errors;
	int strays;			/* completions of no connection */
};

#define CKEY(i)		(0xc000 + (i))
#define SKEY(i)		(0x5000 + (i))
#define UD(op, r)	((__u64)(op) << 32 | (r))

static void submit_or_count(struct loop *l, struct cport_sqe *sqe)
{
	struct echo *e = l->priv;

	if (cport_submit(l->port, sqe, 1) != 1 ||
	    sqe->status != CPORT_STATUS_PENDING)
		e->submit_errors++;
}

/* Tick r + 1 starts round r on every connection. */
static void echo_tick(struct loop *l)
{
	struct echo *e = l->priv;
	struct cport_sqe sqe;
	int r = l->ticks - 1, i;

	if (r >= ROUNDS)
		return;
	for (i = 0; i < NCONN; i++) {
		struct conn *c = &e->c[i];

		cport_prep_recv(&sqe, c->fds[1], c->in[r], MSG,
				UD(OP_CRECV, r), CPORT_RECV_FILL);
		submit_or_count(l, &sqe);
		cport_prep_send(&sqe, c->fds[1], c->out[r], MSG,
				UD(OP_CSEND, r));
		submit_or_count(l, &sqe);
	}
}

static void echo_cqe(struct loop *l, const struct cport_cqe *cqe)
{
	struct echo *e = l->priv;
	unsigned int op = cqe->user_data >> 32;
	unsigned int r = cqe->user_data & 0xffffffff;
	bool server = cqe->key >= SKEY(0) && cqe->key < SKEY(NCONN);
	bool client = cqe->key >= CKEY(0) && cqe->key < CKEY(NCONN);
	struct cport_sqe sqe;
	struct conn *c;

	if (!server && !client) {
		e->strays++;
		return;
	}
	c = &e->c[server ? cqe->key - SKEY(0) : cqe->key - CKEY(0)];
	if (op >= NR_OPS || r >= ROUNDS || c->nseq[op] >= ROUNDS ||
	    server != (op == OP_SRECV || op == OP_SSEND) || cqe->res != MSG) {
		c->bad++;
		return;
	}
	c->at[op][r] = l->nlog - 1;
	c->seq[op][c->nseq[op]++] = r;

	switch (op) {
	case OP_SRECV:
		/* Echo it, and wait for the next message. */
		cport_prep_send(&sqe, c->fds[0], c->srv[r], MSG,
				UD(OP_SSEND, r));
		submit_or_count(l, &sqe);
		if (r + 1 < ROUNDS) {
			cport_prep_recv(&sqe, c->fds[0], c->srv[r + 1], MSG,
					UD(OP_SRECV, r + 1), CPORT_RECV_FILL);
			submit_or_count(l, &sqe);
		}
		break;
	case OP_CRECV:
		c->echoes++;
		break;
	}
}

static bool echo_done(struct loop *l)
{
	struct echo *e = l->priv;
	int i;

	for (i = 0; i < NCONN; i++)
		if (e->c[i].nseq[OP_CRECV] < ROUNDS ||
		    e->c[i].nseq[OP_SSEND] < ROUNDS)
			return false;
	/* And two more ticks, in which nothing else may come. */
	return l->ticks >= ROUNDS + 2;
}

/*
 * Three connections through the port, all in the one loop: tick r + 1
 * makes the client end of every connection send message r (with a recv
 * posted for its echo); the server end's recv completes in the port
 * callback, which echoes the message back.  Exactly 4 completions per
 * message; per socket and direction they come in submission order; each
 * comes after what caused it (the tick, the server's recv); every byte
 * arrives intact.
 */
TEST_F(loop, socket_echo_in_order)
{
	struct loop *l = self->l;
	struct cport_sqe sqe;
	struct echo *e;
	int i, r, op;

	e = calloc(1, sizeof(*e));
	ASSERT_NE(NULL, e);
	l->priv = e;
	for (i = 0; i < NCONN; i++) {
		struct conn *c = &e->c[i];

		ASSERT_EQ(0, sock_pair(SK_TCP4, c->fds));
		ASSERT_EQ(0, cport_associate(l->port, c->fds[0], SKEY(i), 0));
		ASSERT_EQ(0, cport_associate(l->port, c->fds[1], CKEY(i), 0));
		for (r = 0; r < ROUNDS; r++)
			pattern_fill(c->out[r], MSG, i, r * MSG);
		cport_prep_recv(&sqe, c->fds[0], c->srv[0], MSG,
				UD(OP_SRECV, 0), CPORT_RECV_FILL);
		ASSERT_EQ(1, cport_submit(l->port, &sqe, 1));
		ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	}
	l->on_tick = echo_tick;
	l->on_cqe = echo_cqe;
	l->done = echo_done;
	ASSERT_EQ(0, run(l));
	ASSERT_FALSE(l->timed_out) {
		for (i = 0; i < NCONN; i++)
			TH_LOG("conn %d: %d echoes", i, e->c[i].echoes);
	}

	EXPECT_EQ(0, e->submit_errors);
	EXPECT_EQ(0, e->strays);
	EXPECT_EQ(NCONN * ROUNDS * NR_OPS, l->ncqes);
	for (i = 0; i < NCONN; i++) {
		struct conn *c = &e->c[i];

		EXPECT_EQ(0, c->bad);
		for (op = 0; op < NR_OPS; op++) {
			ASSERT_EQ(ROUNDS, c->nseq[op]);
			for (r = 0; r < ROUNDS; r++)
				EXPECT_EQ(r, c->seq[op][r]);
		}
		for (r = 0; r < ROUNDS; r++) {
			int tick = tick_at(l, r + 1);

			/* Cause, then effect, in the loop's own log. */
			EXPECT_LT(tick, c->at[OP_CSEND][r]);
			EXPECT_LT(tick, c->at[OP_SRECV][r]);
			EXPECT_LT(c->at[OP_SRECV][r], c->at[OP_SSEND][r]);
			EXPECT_LT(c->at[OP_SRECV][r], c->at[OP_CRECV][r]);
			EXPECT_EQ(0, memcmp(c->out[r], c->srv[r], MSG));
			EXPECT_EQ(0, memcmp(c->out[r], c->in[r], MSG));
		}
	}
	/* (The sockets' completions come from other contexts, so the port
	 * may be readable again right after a drain; not at the end.) */
	EXPECT_EQ(0, l->empty_callbacks);
	EXPECT_EQ(0, l->wait_errors) TH_LOG("%s", strerror(-l->last_err));
	EXPECT_EQ(0, revents(l->port));
	EXPECT_EQ(-ETIMEDOUT, cport_wait(l->port, &l->log[0].cqe, 1, 0));
	for (i = 0; i < NCONN; i++) {
		close(e->c[i].fds[0]);
		close(e->c[i].fds[1]);
	}
	free(e);
}

/* --- Destroy ------------------------------------------------------------- */

static void destroy_on_tick(struct loop *l)
{
	if (l->ticks == 2)
		cport_destroy(l->port);
}

static bool destroy_done(struct loop *l)
{
	return l->ticks >= 6;
}

/*
 * The port destroyed from a timer: the loop is woken for it (EPOLLHUP
 * reads as EV_READ), the wait says -EIDRM, the callback removes the
 * event, and the loop runs on with its timers.
 */
TEST_F(loop, destroy_wakes_the_loop)
{
	struct loop *l = self->l;

	ASSERT_EQ(0, cport_post(l->port, KEY_POST, 1, 0, 0));
	l->on_tick = destroy_on_tick;
	l->done = destroy_done;
	ASSERT_EQ(0, run(l));
	ASSERT_FALSE(l->timed_out);
	EXPECT_EQ(1, l->ncqes);		/* the one posted before */
	EXPECT_EQ(1, l->idrm);
	EXPECT_EQ(2, l->callbacks);
	EXPECT_EQ(0, l->empty_callbacks);
	EXPECT_EQ(0, l->wait_errors);
	EXPECT_EQ(POLLHUP, revents(l->port));
	/* Completion, tick 1, tick 2 (destroy), -EIDRM, more ticks. */
	ASSERT_LE(4, l->nlog);
	EXPECT_EQ(EV_CQE, l->log[0].kind);
	EXPECT_EQ(0, tick_at(l, 1) - 1);
	EXPECT_EQ(2, tick_at(l, 2));
	EXPECT_EQ(EV_IDRM, l->log[3].kind);
}

TEST_HARNESS_MAIN
