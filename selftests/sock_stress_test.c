// SPDX-License-Identifier: GPL-2.0
/*
 * Data integrity under load: a multi-threaded echo server on one port.
 * Four workers wait on the port; the server accepts its 40 connections
 * asynchronously (16 TCP/IPv4, 16 TCP/IPv6, 8 unix; ACCEPT with
 * CPORT_ACCEPT_ASSOCIATE, the connection's state as its key), then
 * echoes each one: RECV (of a random length; CPORT_RECV_FILL on every
 * other connection), SEND of what it received, RECV again.  Client
 * threads drive the connections with poll(), writing random-size
 * messages of a per-connection pattern and checking every byte echoed
 * back, while randomly cancelling the server's pending recvs: a
 * cancelled recv that got bytes must still be echoed, so any byte the
 * kernel reports wrongly shows up as a lost, duplicated or reordered
 * byte in some client's stream.  At the end each client half-closes and
 * the server's end of file closes the echo.
 *
 * ~300 MB in total on the stock kernels, a twentieth on the debug kernel;
 * volume, time and cancel outcomes are logged.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define NR_TCP4		16
#define NR_TCP6		16
#define NR_UNIX		8
#define NR_CONN		(NR_TCP4 + NR_TCP6 + NR_UNIX)
#define NR_WORKERS	4
#define NR_CLIENTS	4
#define SRV_BUF		(64 << 10)
#define CLI_MSG		(64 << 10)
#define CLI_WINDOW	(256 << 10)	/* bytes in flight per connection */

#define KEY_LISTENER	0x4c00ULL	/* + kind */
#define KEY_CONN	0x10000ULL	/* + connection index */

enum { UD_ACCEPT = 1, UD_RECV, UD_SEND };

static int listener_of(unsigned int idx)
{
	return idx < NR_TCP4 ? 0 : idx < NR_TCP4 + NR_TCP6 ? 1 : 2;
}

static __u64 ud_of(unsigned int idx, unsigned int what)
{
	return (__u64)idx << 8 | what;
}

struct srv_conn {
	int fd;
	unsigned int rs;	/* random state, used by one worker at a time */
	bool fill;
	bool eof;
	size_t send_len;	/* the echo in progress */
	unsigned long long received;
	unsigned char buf[SRV_BUF];
};

struct shared {
	int port;
	int listeners[3];
	struct srv_conn conn[NR_CONN];
	unsigned int stop;	/* atomics from here on */
	unsigned int eofs;
	unsigned int cancelled_empty;
	unsigned int cancelled_bytes;
	unsigned int cancel_hits;
	unsigned int cancel_misses;
	int err;		/* first error: -errno or -EPROTO */
	char what[160];
};

static void fail(struct shared *sh, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct shared *sh, int err, const char *fmt, ...)
{
	int zero = 0;
	va_list ap;

	if (!__atomic_compare_exchange_n(&sh->err, &zero, err ? err : -EPROTO,
					 false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->what, sizeof(sh->what), fmt, ap);
	va_end(ap);
}

static int post_recv(struct shared *sh, unsigned int idx)
{
	struct srv_conn *c = &sh->conn[idx];
	struct cport_sqe sqe;
	size_t len = 1 + rand_r(&c->rs) % SRV_BUF;

	cport_prep_recv(&sqe, c->fd, c->buf, len, ud_of(idx, UD_RECV),
			c->fill ? CPORT_RECV_FILL : 0);
	return cport_submit(sh->port, &sqe, 1);
}

static int post_send(struct shared *sh, unsigned int idx, size_t len)
{
	struct srv_conn *c = &sh->conn[idx];
	struct cport_sqe sqe;

	c->send_len = len;
	cport_prep_send(&sqe, c->fd, c->buf, len, ud_of(idx, UD_SEND));
	return cport_submit(sh->port, &sqe, 1);
}

static void handle(struct shared *sh, const struct cport_cqe *cqe)
{
	unsigned int idx = cqe->user_data >> 8, what = cqe->user_data & 0xff;
	struct srv_conn *c;
	int ret = 1;

	if (idx >= NR_CONN) {
		fail(sh, -EPROTO, "stray completion %llx",
		     (unsigned long long)cqe->user_data);
		return;
	}
	c = &sh->conn[idx];
	if (what != UD_ACCEPT && cqe->key != KEY_CONN + idx) {
		fail(sh, -EPROTO, "conn %u: key %llx", idx,
		     (unsigned long long)cqe->key);
		return;
	}
	switch (what) {
	case UD_ACCEPT:
		if (cqe->op != CPORT_OP_ACCEPT || cqe->res < 0 ||
		    cqe->key != KEY_LISTENER + listener_of(idx)) {
			fail(sh, cqe->res < 0 ? cqe->res : -EPROTO,
			     "conn %u: accept: op %u key %llx res %lld", idx,
			     cqe->op, (unsigned long long)cqe->key,
			     (long long)cqe->res);
			return;
		}
		c->fd = cqe->res;
		ret = post_recv(sh, idx);
		break;
	case UD_RECV:
		if (cqe->op != CPORT_OP_RECV ||
		    (cqe->res >= 0 && (__u64)cqe->res != cqe->bytes)) {
			fail(sh, -EPROTO, "conn %u: recv: op %u res %lld bytes %llu",
			     idx, cqe->op, (long long)cqe->res,
			     (unsigned long long)cqe->bytes);
			return;
		}
		if (cqe->res == -ECANCELED) {
			__atomic_fetch_add(cqe->bytes ? &sh->cancelled_bytes :
					   &sh->cancelled_empty, 1,
					   __ATOMIC_RELAXED);
		} else if (cqe->res == 0) {
			/* The client is done: close the echo. */
			c->eof = true;
			shutdown(c->fd, SHUT_WR);
			__atomic_fetch_add(&sh->eofs, 1, __ATOMIC_RELEASE);
			return;
		} else if (cqe->res < 0) {
			fail(sh, cqe->res, "conn %u: recv: res %lld bytes %llu",
			     idx, (long long)cqe->res,
			     (unsigned long long)cqe->bytes);
			return;
		}
		c->received += cqe->bytes;
		/* Whatever came, even with -ECANCELED, is echoed. */
		ret = cqe->bytes ? post_send(sh, idx, cqe->bytes) :
				   post_recv(sh, idx);
		break;
	case UD_SEND:
		if (cqe->op != CPORT_OP_SEND || cqe->res != (__s64)c->send_len ||
		    cqe->bytes != c->send_len) {
			fail(sh, cqe->res < 0 ? cqe->res : -EPROTO,
			     "conn %u: send of %zu: op %u res %lld bytes %llu",
			     idx, c->send_len, cqe->op, (long long)cqe->res,
			     (unsigned long long)cqe->bytes);
			return;
		}
		ret = post_recv(sh, idx);
		break;
	default:
		fail(sh, -EPROTO, "stray completion %llx",
		     (unsigned long long)cqe->user_data);
		return;
	}
	if (ret != 1)
		fail(sh, ret, "conn %u: submission after %u failed: %d", idx,
		     what, ret);
}

static void *worker_fn(void *arg)
{
	struct shared *sh = arg;
	struct cport_cqe cqes[8];
	int n, i;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		n = cport_wait(sh->port, cqes, 8, 100 * NSEC_PER_MSEC);
		if (n == -ETIMEDOUT)
			continue;
		if (n < 0) {
			if (n != -EIDRM)
				fail(sh, n, "wait: %d", n);
			break;
		}
		for (i = 0; i < n; i++)
			handle(sh, &cqes[i]);
	}
	return NULL;
}

/* The client end of one connection. */
struct cli_conn {
	int fd;
	unsigned int idx;
	unsigned int seed;	/* pattern of its stream */
	unsigned long long tx, rx;
	bool shut, eof;
};

struct client {
	pthread_t thread;
	struct shared *sh;
	struct cli_conn *conns[NR_CONN];
	unsigned int nr;
	unsigned long long per_conn;
	unsigned int rs;
};

static void client_cancel(struct client *cl)
{
	unsigned int idx = rand_r(&cl->rs) % NR_CONN;
	int ret;

	ret = cport_cancel(cl->sh->port, CPORT_CANCEL_USER_DATA,
			   ud_of(idx, UD_RECV));
	if (ret == 1)
		__atomic_fetch_add(&cl->sh->cancel_hits, 1, __ATOMIC_RELAXED);
	else if (ret == -ENOENT)
		__atomic_fetch_add(&cl->sh->cancel_misses, 1, __ATOMIC_RELAXED);
	else
		fail(cl->sh, ret, "cancel of conn %u's recv: %d", idx, ret);
}

static void *client_fn(void *arg)
{
	struct client *cl = arg;
	struct shared *sh = cl->sh;
	struct pollfd pfd[NR_CONN];
	unsigned char *msg = malloc(CLI_MSG);
	unsigned int i, open_conns = cl->nr;
	long long idle = now_ns();
	ssize_t n;
	long bad;

	if (!msg) {
		fail(sh, -ENOMEM, "client buffer");
		return NULL;
	}
	while (open_conns && !__atomic_load_n(&sh->err, __ATOMIC_RELAXED)) {
		for (i = 0; i < cl->nr; i++) {
			struct cli_conn *cc = cl->conns[i];

			pfd[i].fd = cc->eof ? -1 : cc->fd;
			pfd[i].events = POLLIN;
			if (cc->tx < cl->per_conn &&
			    cc->tx - cc->rx < CLI_WINDOW)
				pfd[i].events |= POLLOUT;
		}
		if (poll(pfd, cl->nr, 100) <= 0) {
			if (now_ns() - idle > PROGRESS_MS * NSEC_PER_MSEC) {
				fail(sh, -ETIMEDOUT, "client stalled");
				break;
			}
			continue;
		}
		idle = now_ns();
		for (i = 0; i < cl->nr; i++) {
			struct cli_conn *cc = cl->conns[i];

			if (pfd[i].revents & POLLOUT) {
				size_t m = rand_r(&cl->rs) % 4 ?
					   1 + rand_r(&cl->rs) % CLI_MSG :
					   1 + rand_r(&cl->rs) % 64;

				if (m > cl->per_conn - cc->tx)
					m = cl->per_conn - cc->tx;
				if (m > CLI_WINDOW - (cc->tx - cc->rx))
					m = CLI_WINDOW - (cc->tx - cc->rx);
				pattern_fill(msg, m, cc->seed, cc->tx);
				n = send(cc->fd, msg, m,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN) {
					fail(sh, -errno, "conn %u: send",
					     cc->idx);
					break;
				}
				if (n > 0)
					cc->tx += n;
				if (cc->tx == cl->per_conn && !cc->shut) {
					shutdown(cc->fd, SHUT_WR);
					cc->shut = true;
				}
				if (rand_r(&cl->rs) % 8 == 0)
					client_cancel(cl);
			}
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(cc->fd, msg, CLI_MSG, MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0) {
				fail(sh, -errno, "conn %u: recv after %llu",
				     cc->idx, cc->rx);
				break;
			}
			if (n == 0) {
				if (cc->rx != cl->per_conn)
					fail(sh, -EPROTO,
					     "conn %u: end of file after %llu of %llu bytes",
					     cc->idx, cc->rx, cl->per_conn);
				cc->eof = true;
				open_conns--;
				continue;
			}
			if (cc->rx + n > cc->tx) {
				fail(sh, -EPROTO,
				     "conn %u: %llu bytes echoed, %llu sent",
				     cc->idx, cc->rx + n, cc->tx);
				break;
			}
			bad = pattern_check(msg, n, cc->seed, cc->rx);
			if (bad >= 0) {
				fail(sh, -EPROTO,
				     "conn %u: echoed stream differs at byte %llu",
				     cc->idx, cc->rx + bad);
				break;
			}
			cc->rx += n;
		}
	}
	free(msg);
	return NULL;
}

FIXTURE(echo) {
	struct shared *sh;
	struct cli_conn cc[NR_CONN];
	struct client cl[NR_CLIENTS];
	pthread_t workers[NR_WORKERS];
};

FIXTURE_SETUP(echo)
{
	static const enum sock_kind kinds[3] = { SK_TCP4, SK_TCP6, SK_UNIX };
	struct shared *sh;
	int i;

	for (i = 0; i < NR_CONN; i++)
		self->cc[i].fd = -1;
	sh = self->sh = calloc(1, sizeof(*sh));
	ASSERT_NE(NULL, sh);
	for (i = 0; i < 3; i++)
		sh->listeners[i] = -1;
	for (i = 0; i < NR_CONN; i++)
		sh->conn[i].fd = -1;
	sock_fixture_port(_metadata, &sh->port);
	for (i = 0; i < 3; i++) {
		sh->listeners[i] = sock_listener(kinds[i]);
		ASSERT_LE(0, sh->listeners[i]);
		ASSERT_EQ(0, cport_associate(sh->port, sh->listeners[i],
					     KEY_LISTENER + i, 0));
	}
}

FIXTURE_TEARDOWN(echo)
{
	struct shared *sh = self->sh;
	int i;

	if (!sh)
		return;
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	if (sh->port >= 0)
		cport_destroy(sh->port);
	for (i = 0; i < NR_WORKERS; i++)
		if (self->workers[i])
			pthread_join(self->workers[i], NULL);
	cport_close(sh->port);
	for (i = 0; i < NR_CONN; i++) {
		if (sh->conn[i].fd >= 0)
			close(sh->conn[i].fd);
		if (self->cc[i].fd >= 0)
			close(self->cc[i].fd);
	}
	for (i = 0; i < 3; i++)
		if (sh->listeners[i] >= 0)
			close(sh->listeners[i]);
	free(sh);
}

TEST_F_TIMEOUT(echo, integrity, 280)
{
	struct shared *sh = self->sh;
	unsigned long long total = slow_kernel() ? (15ULL << 20) :
						   (300ULL << 20);
	unsigned long long per_conn = total / NR_CONN, moved = 0;
	unsigned int seed = (unsigned int)now_ns(), i;
	struct cport_sqe sqe;
	long long start, elapsed;
	bool finished;

	TH_LOG("seed %u", seed);
	/* The accepts first, each with its connection's key. */
	for (i = 0; i < NR_CONN; i++) {
		sh->conn[i].rs = seed + i;
		sh->conn[i].fill = i & 1;
		cport_prep_accept(&sqe, sh->listeners[listener_of(i)], NULL, 0,
				  ud_of(i, UD_ACCEPT), KEY_CONN + i,
				  CPORT_ACCEPT_ASSOCIATE | CPORT_ACCEPT_CLOEXEC);
		ASSERT_EQ(1, submit1(sh->port, &sqe));
		ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	}
	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ(0, pthread_create(&self->workers[i], NULL, worker_fn,
					    sh));
	for (i = 0; i < NR_CONN; i++) {
		self->cc[i].fd = sock_connect(sh->listeners[listener_of(i)]);
		ASSERT_LE(0, self->cc[i].fd);
		self->cc[i].idx = i;
		self->cc[i].seed = seed ^ (i * 0x9e3779b9u);
	}

	start = now_ns();
	for (i = 0; i < NR_CONN; i++) {
		struct client *cl = &self->cl[i % NR_CLIENTS];

		cl->conns[cl->nr++] = &self->cc[i];
	}
	for (i = 0; i < NR_CLIENTS; i++) {
		self->cl[i].sh = sh;
		self->cl[i].per_conn = per_conn;
		self->cl[i].rs = seed * 7 + i;
		ASSERT_EQ(0, pthread_create(&self->cl[i].thread, NULL,
					    client_fn, &self->cl[i]));
	}
	for (i = 0; i < NR_CLIENTS; i++)
		ASSERT_EQ(0, pthread_join(self->cl[i].thread, NULL));
	elapsed = now_ns() - start;
	ASSERT_EQ(0, sh->err) {
		TH_LOG("%s: %s", sh->what, strerror(-sh->err));
	}
	/* Every connection echoed all it sent, and the server saw it end. */
	finished = wait_until(__atomic_load_n(&sh->eofs, __ATOMIC_ACQUIRE) ==
			      NR_CONN, PROGRESS_MS);
	EXPECT_TRUE(finished);
	for (i = 0; i < NR_CONN; i++) {
		EXPECT_EQ(per_conn, self->cc[i].tx);
		EXPECT_EQ(per_conn, self->cc[i].rx);
		EXPECT_TRUE(self->cc[i].eof);
		EXPECT_TRUE(sh->conn[i].eof);
		EXPECT_EQ(per_conn, sh->conn[i].received);
		moved += self->cc[i].rx;
	}
	EXPECT_EQ(0, sh->err) {
		TH_LOG("%s: %s", sh->what, strerror(-sh->err));
	}
	EXPECT_TRUE(wait_none(sh->port, 0));
	TH_LOG("%llu MB echoed over %d connections in %.1f s (%.1f MB/s)",
	       moved >> 20, NR_CONN, elapsed / 1e9,
	       (double)moved / (1 << 20) / (elapsed / 1e9));
	TH_LOG("cancels: %u hit, %u found nothing; cancelled recvs: %u with bytes (echoed), %u empty",
	       sh->cancel_hits, sh->cancel_misses, sh->cancelled_bytes,
	       sh->cancelled_empty);
	/* Each hit completed exactly once as a cancelled or a real recv. */
	EXPECT_GE(sh->cancel_hits, sh->cancelled_bytes + sh->cancelled_empty);
}

TEST_HARNESS_MAIN
