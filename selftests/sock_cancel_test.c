// SPDX-License-Identifier: GPL-2.0
/*
 * CPORT_OP_CANCEL over TCP/IPv4, TCP/IPv6 and unix stream sockets: by
 * user_data, by fd, by key and all; the count it returns; each cancelled
 * operation completes exactly once with -ECANCELED and the bytes moved so
 * far (a fill-mode recv that got part, a send part-way: the peer receives
 * exactly those bytes; a fill-mode recv whose peer never pauses ends at
 * the cancel, not at its length); -ENOENT with nothing posted for an
 * operation that already completed and when nothing is pending; invalid
 * selectors.
 *
 * Then the races, looped: a cancel against a recv completing on a 1-byte
 * write, with the test thread waiting on the port and with no thread
 * waiting (exactly one completion: the byte, or -ECANCELED with no bytes
 * and the byte still in the socket; the cancel's delay adapts so that
 * both outcomes keep happening), against a large send part-way (the
 * peer receives exactly the bytes reported), and against the operation's
 * timeout.  Outcome counts are logged, never asserted.  The debug kernel
 * gets fewer rounds.
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY		0x63616e63656cULL
#define KEY2		(KEY + 1)
#define SMALL_BUF	(64 << 10)

/* A CPORT_OP_CANCEL through a raw submission: the sqe's inline result. */
static __s64 cancel_sqe(int port, unsigned int how, __u64 what,
			struct cport_sqe *sqe)
{
	int ret;

	cport_prep_cancel(sqe, how, what);
	ret = submit1(port, sqe);
	if (ret != 1)
		return ret < 0 ? ret : -EPROTO;
	if (sqe->status != CPORT_STATUS_INLINE)
		return -EPROTO;
	return sqe->res;
}

FIXTURE(cancel) {
	int port;
	int s, c;		/* s associated under KEY */
	int s2, c2;		/* s2 associated under KEY2 */
	unsigned char buf[4096], buf2[4096];
};

SOCK_KIND_VARIANTS(cancel, );

FIXTURE_SETUP(cancel)
{
	self->s = self->c = self->s2 = self->c2 = -1;
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_assoc(_metadata, self->port, variant->kind, KEY,
			   &self->s, &self->c);
	sock_fixture_assoc(_metadata, self->port, variant->kind, KEY2,
			   &self->s2, &self->c2);
	memset(self->buf, 0xa5, sizeof(self->buf));
}

FIXTURE_TEARDOWN(cancel)
{
	cport_close(self->port);
	close(self->s);
	close(self->c);
	close(self->s2);
	close(self->c2);
}

/* Take @n completions into @cqes sorted by user_data; returns how many. */
static int wait_n_sorted(int port, struct cport_cqe *cqes, int n)
{
	int got = 0, r, i, j;

	while (got < n) {
		r = cport_wait(port, cqes + got, n - got,
			       (long long)PROGRESS_MS * NSEC_PER_MSEC);
		if (r < 0)
			break;
		got += r;
	}
	for (i = 1; i < got; i++)
		for (j = i; j > 0 && cqes[j].user_data < cqes[j - 1].user_data;
		     j--) {
			struct cport_cqe t = cqes[j];

			cqes[j] = cqes[j - 1];
			cqes[j - 1] = t;
		}
	return got;
}

TEST_F(cancel, by_user_data)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe[2];

	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 100,
				  1, 0, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf2, 100,
				  2, 0, 0));
	EXPECT_EQ(1, cancel_sqe(self->port, CPORT_CANCEL_USER_DATA, 1, &sqe));
	EXPECT_EQ(0, sqe.bytes);
	ASSERT_EQ(1, wait1(self->port, cqe));
	EXPECT_CQE(cqe[0], CPORT_OP_RECV, KEY, 1, -ECANCELED, 0);
	/* The other one is still pending, and the data goes to it. */
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, write_bounded(self->c, "hello", 5));
	ASSERT_EQ(1, wait1(self->port, cqe));
	EXPECT_CQE(cqe[0], CPORT_OP_RECV, KEY, 2, 5, 5);
	EXPECT_EQ(0, memcmp(self->buf2, "hello", 5));
	EXPECT_EQ(0xa5, self->buf[0]);

	/* Two with the same cookie, on two sockets: both. */
	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 100,
				  3, 0, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->s2, self->buf2, 100,
				  3, 0, 0));
	EXPECT_EQ(2, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 3));
	ASSERT_EQ(2, wait_n_sorted(self->port, cqe, 2));
	EXPECT_EQ(-ECANCELED, cqe[0].res);
	EXPECT_EQ(-ECANCELED, cqe[1].res);
	EXPECT_NE(cqe[0].key, cqe[1].key);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

TEST_F(cancel, by_fd)
{
	size_t len = 2 << 20;
	unsigned char *src = malloc(len), *dst = malloc(len);
	struct cport_cqe cqe[4];
	int i;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	pattern_fill(src, len, 1, 0);
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(1, recv_pending(self->port, self->s,
					  self->buf + i * 100, 100, i, 0, 0));
	/* A send that cannot finish: the peer does not read. */
	ASSERT_EQ(1, send_pending(self->port, self->s, src, len, 4));
	ASSERT_EQ(1, recv_pending(self->port, self->s2, self->buf2, 100,
				  5, 0, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	EXPECT_EQ(4, cport_cancel(self->port, CPORT_CANCEL_FD, self->s));
	ASSERT_EQ(4, wait_n_sorted(self->port, cqe, 4));
	for (i = 0; i < 3; i++)
		EXPECT_CQE(cqe[i], CPORT_OP_RECV, KEY, i + 1, -ECANCELED, 0);
	EXPECT_EQ(CPORT_OP_SEND, cqe[3].op);
	EXPECT_EQ(4, cqe[3].user_data);
	EXPECT_EQ(-ECANCELED, cqe[3].res);
	ASSERT_GT(len, cqe[3].bytes);
	/* The peer gets exactly the bytes reported. */
	ASSERT_EQ(0, read_bounded(self->c, dst, cqe[3].bytes));
	EXPECT_EQ(-1, pattern_check(dst, cqe[3].bytes, 1, 0));
	EXPECT_FALSE(fd_ready(self->c, POLLIN, GRACE_MS));

	/* s2's recv was not touched. */
	EXPECT_TRUE(wait_none(self->port, 0));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_FD, self->s));
	ASSERT_EQ(0, write_bounded(self->c2, "x", 1));
	ASSERT_EQ(1, wait1(self->port, cqe));
	EXPECT_CQE(cqe[0], CPORT_OP_RECV, KEY2, 5, 1, 1);
	TH_LOG("send cancelled after %llu of %zu bytes",
	       (unsigned long long)cqe[3].bytes, len);
	free(src);
	free(dst);
}

TEST_F(cancel, by_key)
{
	struct cport_cqe cqe[3];
	int fds[2] = { -1, -1 };

	/* A third socket under KEY2 too. */
	ASSERT_EQ(0, sock_pair(variant->kind, fds));
	ASSERT_EQ(0, cport_associate(self->port, fds[0], KEY2, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 100,
				  1, 0, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->s2, self->buf2, 100,
				  2, 0, 0));
	ASSERT_EQ(1, recv_pending(self->port, fds[0], self->buf2 + 200, 100,
				  3, 0, 0));
	ASSERT_EQ(1, recv_pending(self->port, fds[0], self->buf2 + 400, 100,
				  4, 0, 0));
	EXPECT_EQ(3, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY2));
	ASSERT_EQ(3, wait_n_sorted(self->port, cqe, 3));
	EXPECT_CQE(cqe[0], CPORT_OP_RECV, KEY2, 2, -ECANCELED, 0);
	EXPECT_CQE(cqe[1], CPORT_OP_RECV, KEY2, 3, -ECANCELED, 0);
	EXPECT_CQE(cqe[2], CPORT_OP_RECV, KEY2, 4, -ECANCELED, 0);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY2));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY));
	ASSERT_EQ(1, wait1(self->port, cqe));
	EXPECT_CQE(cqe[0], CPORT_OP_RECV, KEY, 1, -ECANCELED, 0);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(cancel, all)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe[4];
	int l;

	l = sock_listener(variant->kind);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, cport_associate(self->port, l, KEY + 2, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 100,
				  1, 0, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->s2, self->buf2, 100,
				  2, 0, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->s2, NULL, 0, 3, 0, 0));
	cport_prep_accept(&sqe, l, NULL, 0, 4, 0, 0);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(4, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
	ASSERT_EQ(4, wait_n_sorted(self->port, cqe, 4));
	EXPECT_CQE(cqe[0], CPORT_OP_RECV, KEY, 1, -ECANCELED, 0);
	EXPECT_CQE(cqe[1], CPORT_OP_RECV, KEY2, 2, -ECANCELED, 0);
	EXPECT_CQE(cqe[2], CPORT_OP_RECV, KEY2, 3, -ECANCELED, 0);
	EXPECT_CQE(cqe[3], CPORT_OP_ACCEPT, KEY + 2, 4, -ECANCELED, 0);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
	close(l);
}

/* A fill-mode recv that got part: bytes = the part, the rest follows. */
TEST_F(cancel, fill_partial)
{
	unsigned char data[1000];
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 2, 0);
	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 1000,
				  1, CPORT_RECV_FILL, 0));
	ASSERT_EQ(0, write_bounded(self->c, data, 300));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 1));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 1, -ECANCELED, 300);
	EXPECT_EQ(0, memcmp(self->buf, data, 300));
	EXPECT_EQ(0xa5, self->buf[300]);
	ASSERT_EQ(0, write_bounded(self->c, data + 300, 700));
	ASSERT_EQ(0, read_bounded(self->s, self->buf, 700));
	EXPECT_EQ(0, memcmp(self->buf, data + 300, 700));
	EXPECT_TRUE(wait_none(self->port, 0));
}

/*
 * A peer that writes without pause, a period of PUMP_PERIOD bytes
 * repeated (an odd size: no chunk lines up with it).
 */
#define PUMP_PERIOD	((1 << 20) + 7)

struct pump {
	pthread_t thread;
	int fd;
	const unsigned char *pat;
	unsigned long long sent;	/* atomic */
	int quit;			/* atomic */
	int err;
};

static void *pump_fn(void *arg)
{
	struct pump *p = arg;
	unsigned long long sent = 0;
	size_t off, n;
	ssize_t w;

	while (!__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE)) {
		off = sent % PUMP_PERIOD;
		n = PUMP_PERIOD - off < 65536 ? PUMP_PERIOD - off : 65536;
		if (!fd_ready(p->fd, POLLOUT, 10))
			continue;
		w = send(p->fd, p->pat + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN)
			continue;
		if (w <= 0) {
			p->err = w ? -errno : -EPIPE;
			break;
		}
		sent += w;
		__atomic_store_n(&p->sent, sent, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Whether @len bytes at @buf are the pump's stream from offset @off. */
static bool pump_matches(const unsigned char *pat, const unsigned char *buf,
			 size_t len, unsigned long long off)
{
	size_t o, n;

	while (len) {
		o = off % PUMP_PERIOD;
		n = PUMP_PERIOD - o < len ? PUMP_PERIOD - o : len;
		if (memcmp(buf, pat + o, n))
			return false;
		buf += n;
		len -= n;
		off += n;
	}
	return true;
}

/*
 * A cancel ends a fill-mode RECV whose peer keeps it busy: its runner (a
 * waiting thread, handed the socket) looks for it between chunks instead
 * of going on to the length (up to 2 GB).  It ends with -ECANCELED and
 * the bytes it took, and the rest of the stream stays in the socket,
 * nothing lost or taken twice.
 */
TEST_F_TIMEOUT(cancel, fill_ends_while_peer_sends, 120)
{
	size_t len = slow_kernel() ? (64 << 20) : (512 << 20);
	unsigned char *pat = malloc(PUMP_PERIOD), *buf, *rest;
	struct pump p = { .fd = self->c };
	unsigned long long got = 0, sent;
	struct cport_cqe cqe;
	struct waiter w;
	int seq = 0;
	long long idle;
	ssize_t n;

	ASSERT_NE(NULL, pat);
	rest = malloc(1 << 20);
	ASSERT_NE(NULL, rest);
	pattern_fill(pat, PUMP_PERIOD, 5, 0);
	p.pat = pat;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(1, recv_pending(self->port, self->s, buf, len, 1,
				  CPORT_RECV_FILL, 0));
	/* The runner: a thread asleep in the port when the data comes. */
	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1, &seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	ASSERT_EQ(0, pthread_create(&p.thread, NULL, pump_fn, &p));
	/* Well under way: more than any socket buffer has gone through. */
	ASSERT_TRUE(wait_until(__atomic_load_n(&p.sent, __ATOMIC_ACQUIRE) >=
			       (16 << 20), PROGRESS_MS));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 1));
	ASSERT_TRUE(wait_until(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE),
			       PROGRESS_MS)) {
		TH_LOG("the RECV did not end; %llu bytes sent",
		       (unsigned long long)__atomic_load_n(&p.sent,
							   __ATOMIC_ACQUIRE));
	}
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.ret);
	cqe = w.cqes[0];
	EXPECT_EQ(1, cqe.user_data);
	EXPECT_EQ(-ECANCELED, cqe.res) {
		TH_LOG("res %lld, bytes %llu of %zu", (long long)cqe.res,
		       (unsigned long long)cqe.bytes, len);
	}
	EXPECT_GT(len, cqe.bytes);
	EXPECT_TRUE(pump_matches(pat, buf, cqe.bytes, 0));

	__atomic_store_n(&p.quit, 1, __ATOMIC_RELEASE);
	pthread_join(p.thread, NULL);
	EXPECT_EQ(0, p.err);
	sent = p.sent;
	TH_LOG("%llu bytes sent, %llu taken by the RECV; runs by waiters %lld, by the fallback %lld",
	       sent, (unsigned long long)cqe.bytes,
	       fdinfo_get(self->port, "runs_waiter"),
	       fdinfo_get(self->port, "runs_fallback"));
	/* The rest is in the socket, from where the RECV stopped. */
	idle = now_ns();
	while (cqe.bytes + got < sent &&
	       now_ns() - idle < PROGRESS_MS * NSEC_PER_MSEC) {
		if (!fd_ready(self->s, POLLIN, 10))
			continue;
		n = recv(self->s, rest, 1 << 20, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		ASSERT_LT(0, n);
		ASSERT_TRUE(pump_matches(pat, rest, n, cqe.bytes + got)) {
			TH_LOG("bytes %llu on differ", cqe.bytes + got);
		}
		got += n;
		idle = now_ns();
	}
	EXPECT_EQ(sent, cqe.bytes + got);
	EXPECT_FALSE(fd_ready(self->s, POLLIN, GRACE_MS));
	EXPECT_TRUE(wait_none(self->port, 0));
	munmap(buf, len);
	free(rest);
	free(pat);
}

/* An operation that already completed is not found; nothing is posted. */
TEST_F(cancel, after_completion)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	/* Completed and taken. */
	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 100,
				  1, 0, 0));
	ASSERT_EQ(0, write_bounded(self->c, "abc", 3));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 1, 3, 3);
	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_USER_DATA, 1,
				      &sqe));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	/* Completed, still queued: the real result, once. */
	ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 100,
				  2, 0, 0));
	ASSERT_EQ(0, write_bounded(self->c, "de", 2));
	ASSERT_TRUE(fd_ready(self->port, POLLIN, PROGRESS_MS));
	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_USER_DATA, 2,
				      &sqe));
	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_FD, self->s,
				      &sqe));
	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_ALL, 0, &sqe));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 2, 2, 2);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	/* Completed inline: never pending. */
	ASSERT_EQ(0, write_bounded(self->c, "f", 1));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	cport_prep_recv(&sqe, self->s, self->buf, 100, 3, 0);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 3));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

TEST_F(cancel, nothing_pending)
{
	struct cport_sqe sqe;

	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_USER_DATA, 9,
				      &sqe));
	EXPECT_EQ(0, sqe.bytes);
	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_FD, self->s,
				      &sqe));
	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_KEY, KEY, &sqe));
	EXPECT_EQ(-ENOENT, cancel_sqe(self->port, CPORT_CANCEL_ALL, 0, &sqe));
	/* A pending op elsewhere does not match. */
	ASSERT_EQ(1, recv_pending(self->port, self->s2, self->buf2, 100,
				  1, 0, 0));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 2));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_FD, self->s));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
}

TEST_F(cancel, bad_selector)
{
	struct cport_sqe sqe;

	cport_prep_cancel(&sqe, 0, 0);
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	EXPECT_EQ(0, sqe.status);
	cport_prep_cancel(&sqe, CPORT_CANCEL_USER_DATA, 1);
	sqe.op_flags |= CPORT_CANCEL_ALL;
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	cport_prep_cancel(&sqe, CPORT_CANCEL_ALL << 1, 0);
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	EXPECT_TRUE(wait_none(self->port, 0));
}

/* --- Races ---------------------------------------------------------------- */

/*
 * A thread that acts once per round when told to: writes one byte
 * (round & 0xff) to fd, or cancels the round's recv by user_data; first
 * it spins for delay plus a random part of it.
 */
struct actor {
	pthread_t thread;
	int port;
	int fd;			/* >= 0: write there; -1: cancel */
	unsigned int go;	/* round to act for; 0 = none yet */
	unsigned int acted;	/* last round acted for */
	unsigned int delay;	/* spin loops before acting */
	unsigned int quit;
	__s64 result;		/* of the cancel */
	int err;
};

static void spin_loops(unsigned int n)
{
	volatile unsigned int i;

	for (i = 0; i < n; i++)
		;
}

static void *actor_fn(void *arg)
{
	struct actor *a = arg;
	unsigned int last = 0, r, d, rs = 1;
	unsigned char b;

	while (!__atomic_load_n(&a->quit, __ATOMIC_ACQUIRE)) {
		r = __atomic_load_n(&a->go, __ATOMIC_ACQUIRE);
		if (r == last) {
			sched_yield();
			continue;
		}
		d = __atomic_load_n(&a->delay, __ATOMIC_RELAXED);
		spin_loops(d + rand_r(&rs) % (d / 2 + 64));
		if (a->fd >= 0) {
			b = r & 0xff;
			if (send(a->fd, &b, 1, MSG_NOSIGNAL) != 1)
				a->err = -errno;
		} else {
			a->result = cport_cancel(a->port,
						 CPORT_CANCEL_USER_DATA, r);
		}
		last = r;
		__atomic_store_n(&a->acted, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

static bool actor_wait(struct actor *a, unsigned int round)
{
	return wait_until(__atomic_load_n(&a->acted, __ATOMIC_ACQUIRE) == round,
			  PROGRESS_MS);
}

static void actor_stop(struct actor *a)
{
	if (!a->thread)
		return;
	__atomic_store_n(&a->quit, 1, __ATOMIC_RELEASE);
	pthread_join(a->thread, NULL);
	a->thread = 0;
}

static unsigned int race_rounds(unsigned int stock, unsigned int debug)
{
	return slow_kernel() ? debug : stock;
}

/*
 * One recv per round; the peer writes one byte while the recv is
 * cancelled.  @waiting: the test thread waits on the port meanwhile (it
 * runs the socket itself when the byte arrives) and another thread
 * cancels; else the test thread cancels and waits only then (the port's
 * worker moves the data).  The cancel's delay adapts towards the moment
 * the recv completes, so that both outcomes keep happening.
 */
static void race_recv(struct __test_metadata *_metadata,
		      FIXTURE_DATA(cancel) *self, unsigned int rounds,
		      bool waiting)
{
	unsigned int completed = 0, cancelled = 0, missed = 0, delay = 0;
	unsigned int i, rs = 7;
	struct actor w = { .fd = self->c, .delay = 1000 };
	struct actor c = { .port = self->port, .fd = -1 };
	struct cport_cqe cqe;
	unsigned char b;
	__s64 n;

	ASSERT_EQ(0, pthread_create(&w.thread, NULL, actor_fn, &w));
	if (waiting)
		ASSERT_EQ(0, pthread_create(&c.thread, NULL, actor_fn, &c));
	for (i = 1; i <= rounds; i++) {
		memset(self->buf, 0, 8);
		ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 8,
					  i, 0, 0));
		__atomic_store_n(&w.go, i, __ATOMIC_RELEASE);
		if (waiting) {
			__atomic_store_n(&c.delay, delay, __ATOMIC_RELAXED);
			__atomic_store_n(&c.go, i, __ATOMIC_RELEASE);
		} else {
			spin_loops(delay + rand_r(&rs) % (delay / 2 + 64));
			c.result = cport_cancel(self->port,
						CPORT_CANCEL_USER_DATA, i);
		}
		ASSERT_EQ(1, wait1(self->port, &cqe)) {
			TH_LOG("round %u: no completion", i);
		}
		ASSERT_TRUE(actor_wait(&w, i));
		if (waiting)
			ASSERT_TRUE(actor_wait(&c, i));
		n = c.result;
		ASSERT_TRUE(n == 1 || n == -ENOENT) {
			TH_LOG("round %u: cancel returned %lld", i,
			       (long long)n);
		}
		missed += n == -ENOENT;
		/* A second completion of an earlier round would show here. */
		ASSERT_EQ(i, cqe.user_data);
		ASSERT_EQ(CPORT_OP_RECV, cqe.op);
		ASSERT_EQ(KEY, cqe.key);
		if (cqe.res == 1) {
			ASSERT_EQ(1, cqe.bytes);
			ASSERT_EQ(i & 0xff, self->buf[0]);
			completed++;
			delay -= delay / 4;
		} else {
			ASSERT_EQ(-ECANCELED, cqe.res) {
				TH_LOG("round %u: res %lld", i,
				       (long long)cqe.res);
			}
			/* Not found means it completed for real. */
			ASSERT_EQ(1, n);
			ASSERT_EQ(0, cqe.bytes);
			ASSERT_EQ(0, self->buf[0]);
			/* Nothing lost: the byte is still in the socket. */
			ASSERT_EQ(0, read_bounded(self->s, &b, 1)) {
				TH_LOG("round %u: the byte is gone", i);
			}
			ASSERT_EQ(i & 0xff, b);
			cancelled++;
			delay += delay / 4 + 256;
		}
		/* And nothing more. */
		ASSERT_FALSE(fd_ready(self->s, POLLIN, 0));
	}
	actor_stop(&w);
	actor_stop(&c);
	EXPECT_EQ(0, w.err);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	TH_LOG("%u rounds: %u got the byte (%u of them after the cancel missed), %u cancelled (cancel delay %u loops)",
	       rounds, completed, missed, cancelled, delay);
}

TEST_F_TIMEOUT(cancel, race_recv, 200)
{
	race_recv(_metadata, self, race_rounds(2000, 300), true);
}

TEST_F_TIMEOUT(cancel, race_recv_no_waiter, 200)
{
	race_recv(_metadata, self, race_rounds(300, 100), false);
}

/* A reader that takes each round's stream and checks it against the send. */
struct reader {
	pthread_t thread;
	int fd;
	unsigned char *buf;
	size_t len;
	unsigned int round;	/* set by the test to start a round */
	long long target;	/* bytes the round must deliver, -1 unknown */
	unsigned int finished;	/* round the reader is done with */
	size_t got;
	long bad;		/* first wrong byte, or -1 */
	bool extra;		/* more than target arrived */
	int err;
	unsigned int quit;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	unsigned int last = 0, round;
	long long target, idle;
	ssize_t n;

	while (!__atomic_load_n(&r->quit, __ATOMIC_ACQUIRE)) {
		round = __atomic_load_n(&r->round, __ATOMIC_ACQUIRE);
		if (round == last) {
			usleep(100);
			continue;
		}
		r->got = 0;
		r->extra = false;
		r->err = 0;
		idle = now_ns();
		for (;;) {
			target = __atomic_load_n(&r->target, __ATOMIC_ACQUIRE);
			if (target >= 0 && (long long)r->got >= target)
				break;
			if (now_ns() - idle > PROGRESS_MS * NSEC_PER_MSEC) {
				r->err = -ETIMEDOUT;
				break;
			}
			if (!fd_ready(r->fd, POLLIN, 2))
				continue;
			n = recv(r->fd, r->buf + r->got, r->len - r->got,
				 MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0) {
				r->err = n ? -errno : -EPIPE;
				break;
			}
			r->got += n;
			idle = now_ns();
		}
		r->extra = (long long)r->got > target ||
			   fd_ready(r->fd, POLLIN, 20);
		r->bad = pattern_check(r->buf, r->got, round, 0);
		last = round;
		__atomic_store_n(&r->finished, round, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST_F_TIMEOUT(cancel, race_send, 200)
{
	unsigned int rounds = race_rounds(100, 20), i, rs = 11;
	unsigned int completed = 0, cancelled = 0, missed = 0;
	size_t len = slow_kernel() ? (256 << 10) : (1 << 20);
	unsigned char *src = malloc(len);
	struct reader r = { .fd = self->c, .len = len };
	struct cport_cqe cqe;
	unsigned long long sum = 0;
	__s64 n;

	ASSERT_NE(NULL, src);
	r.buf = malloc(len);
	ASSERT_NE(NULL, r.buf);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, reader_fn, &r));
	for (i = 1; i <= rounds; i++) {
		pattern_fill(src, len, i, 0);
		__atomic_store_n(&r.target, -1, __ATOMIC_RELEASE);
		__atomic_store_n(&r.round, i, __ATOMIC_RELEASE);
		ASSERT_EQ(1, send_pending(self->port, self->s, src, len, i));
		usleep(rand_r(&rs) % 3000);
		n = cport_cancel(self->port, CPORT_CANCEL_USER_DATA, i);
		ASSERT_TRUE(n == 1 || n == -ENOENT);
		missed += n == -ENOENT;
		ASSERT_EQ(1, wait1(self->port, &cqe)) {
			TH_LOG("round %u: no completion", i);
		}
		ASSERT_EQ(i, cqe.user_data);
		ASSERT_EQ(CPORT_OP_SEND, cqe.op);
		if (cqe.res == (__s64)len) {
			ASSERT_EQ(len, cqe.bytes);
			completed++;
		} else {
			ASSERT_EQ(-ECANCELED, cqe.res) {
				TH_LOG("round %u: res %lld", i,
				       (long long)cqe.res);
			}
			ASSERT_EQ(1, n);
			ASSERT_GT(len, cqe.bytes);
			cancelled++;
		}
		sum += cqe.bytes;
		__atomic_store_n(&r.target, (long long)cqe.bytes,
				 __ATOMIC_RELEASE);
		ASSERT_TRUE(wait_until(__atomic_load_n(&r.finished,
						       __ATOMIC_ACQUIRE) == i,
				       2 * PROGRESS_MS));
		ASSERT_EQ(0, r.err) {
			TH_LOG("round %u: reader got %zu of %llu: %s", i,
			       r.got, (unsigned long long)cqe.bytes,
			       strerror(-r.err));
		}
		/* The peer received exactly the bytes reported. */
		ASSERT_EQ(cqe.bytes, r.got);
		ASSERT_FALSE(r.extra) {
			TH_LOG("round %u: more than the %llu bytes reported arrived",
			       i, (unsigned long long)cqe.bytes);
		}
		ASSERT_EQ(-1, r.bad);
	}
	__atomic_store_n(&r.quit, 1, __ATOMIC_RELEASE);
	pthread_join(r.thread, NULL);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	TH_LOG("%u sends of %zu bytes: %u completed (%u after the cancel missed), %u cancelled, %llu bytes moved",
	       rounds, len, completed, missed, cancelled, sum);
	free(src);
	free(r.buf);
}

/* A cancel racing the operation's own timeout: exactly one completion. */
TEST_F_TIMEOUT(cancel, race_timeout, 120)
{
	unsigned int rounds = race_rounds(1000, 100), i, rs = 13;
	unsigned int timedout = 0, cancelled = 0, missed = 0;
	struct cport_cqe cqe;
	__s64 n;

	for (i = 1; i <= rounds; i++) {
		__u64 t = (200 + rand_r(&rs) % 800) * 1000ULL;	/* 0.2-1 ms */

		ASSERT_EQ(1, recv_pending(self->port, self->s, self->buf, 8,
					  i, 0, t));
		usleep(rand_r(&rs) % 1200);
		n = cport_cancel(self->port, CPORT_CANCEL_USER_DATA, i);
		ASSERT_TRUE(n == 1 || n == -ENOENT);
		missed += n == -ENOENT;
		ASSERT_EQ(1, wait1(self->port, &cqe));
		ASSERT_EQ(i, cqe.user_data);
		ASSERT_EQ(0, cqe.bytes);
		if (cqe.res == -ETIMEDOUT) {
			timedout++;
		} else {
			ASSERT_EQ(-ECANCELED, cqe.res) {
				TH_LOG("round %u: res %lld", i,
				       (long long)cqe.res);
			}
			ASSERT_EQ(1, n);
			cancelled++;
		}
	}
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	/* The socket is intact. */
	ASSERT_EQ(0, write_bounded(self->c, "z", 1));
	ASSERT_EQ(0, read_bounded(self->s, self->buf, 1));
	EXPECT_EQ('z', self->buf[0]);
	TH_LOG("%u rounds: %u timed out (%u after the cancel missed), %u cancelled",
	       rounds, timedout, missed, cancelled);
}

TEST_HARNESS_MAIN
