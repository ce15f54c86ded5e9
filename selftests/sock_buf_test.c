// SPDX-License-Identifier: GPL-2.0
/*
 * Buffer groups and the RECVs that take their buffers, over TCP/IPv4,
 * TCP/IPv6 and unix stream sockets: CPORT_OP_PROVIDE_BUFFERS (every bad
 * field's errno, a full group, a destroyed port), a single-shot RECV with
 * CPORT_RECV_BUFFER (which buffer, in which order, len as a cap, a
 * buffer given back is the next one taken), and multishot RECVs
 * (CPORT_RECV_MULTISHOT): a completion per arrival flagged
 * CPORT_CQE_F_MORE and the end without it (end of file, reset, no buffer
 * left, cancel, destroy), arrivals beyond one run's budget, a long
 * stream received in order through a small recycled pool, the arrival
 * numbers (seq, the end numbered after the last arrival), the RECV
 * queued behind it, and fdinfo.
 *
 * Every completion is checked whole and the data against a pattern.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY	0x6275660000beefULL
#define UD	0x4d55ULL
#define GROUP	3
#define NBUF	16
#define BUFSZ	64

FIXTURE(buf) {
	int port;
	int s;			/* associated under KEY */
	int c;			/* its peer, plain */
	unsigned char *pool;	/* NBUF x BUFSZ */
};

SOCK_KIND_VARIANTS(buf, );

FIXTURE_SETUP(buf)
{
	self->s = self->c = -1;
	self->pool = NULL;
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_assoc(_metadata, self->port, variant->kind, KEY,
			   &self->s, &self->c);
	self->pool = malloc(NBUF * BUFSZ);
	ASSERT_NE(NULL, self->pool);
	memset(self->pool, 0xa5, NBUF * BUFSZ);
}

FIXTURE_TEARDOWN(buf)
{
	cport_close(self->port);
	if (self->s >= 0)
		close(self->s);
	if (self->c >= 0)
		close(self->c);
	free(self->pool);
}

/* Provide @nr buffers of @len from @addr as ids @bid...: the ioctl's result. */
static int provide(int port, unsigned int group, void *addr, unsigned int len,
		   unsigned int nr, unsigned int bid)
{
	struct cport_sqe sqe;

	cport_prep_provide_buffers(&sqe, group, addr, len, nr, bid);
	return submit1(port, &sqe);
}

static int provide_pool(int port, unsigned char *pool, unsigned int nr)
{
	return provide(port, GROUP, pool, BUFSZ, nr, 0);
}

/* Submit a RECV from GROUP (@flags CPORT_RECV_*): the ioctl's result. */
static int recv_buf(int port, int fd, size_t len, __u64 ud, unsigned int flags,
		    struct cport_sqe *sqe)
{
	cport_prep_recv_buffer(sqe, fd, GROUP, len, ud, flags);
	return submit1(port, sqe);
}

/*
 * A completion of a RECV into buffer @bid of @n bytes, more to come or not
 * (a multishot RECV's arrival: its number in seq, checked by the caller).
 */
#define EXPECT_BUF_CQE(cqe, ud_, n_, bid_, more_) do {			\
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, ud_, n_, n_);		\
	EXPECT_EQ(CPORT_CQE_F_BUFFER | ((more_) ? CPORT_CQE_F_MORE : 0),\
		  (cqe).flags);						\
	EXPECT_EQ((__u16)(bid_), (cqe).buf);				\
	if (!(more_))	/* a single-shot RECV's: not numbered */	\
		EXPECT_EQ(0, (cqe).seq);				\
	EXPECT_EQ(0, (cqe).resv0);					\
	EXPECT_EQ(0, (cqe).resv2);					\
} while (0)

/* The completion that ends a RECV: @res, no buffer, no more. */
#define EXPECT_END_CQE(cqe, ud_, res_) \
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, ud_, res_, 0)

/* The one that ends a multishot RECV after @n_ arrivals: numbered @n_. */
#define EXPECT_MS_END_CQE(cqe, ud_, res_, n_) do {			\
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, ud_, res_, 0);		\
	EXPECT_EQ(0, (cqe).flags);					\
	EXPECT_EQ(0, (cqe).buf);					\
	EXPECT_EQ((__u32)(n_), (cqe).seq);				\
	EXPECT_EQ(0, (cqe).resv0);					\
	EXPECT_EQ(0, (cqe).resv2);					\
} while (0)

/* Write @len pattern bytes (@seed, from @off) to @fd. */
static int send_pattern(int fd, size_t len, unsigned int seed, size_t off)
{
	unsigned char tmp[4096];

	if (len > sizeof(tmp))
		return -E2BIG;
	pattern_fill(tmp, len, seed, off);
	return write_bounded(fd, tmp, len);
}

/*
 * send_pattern(), then wait until @peer, which no RECV is pending on, has
 * the data.
 */
static int send_pattern_there(int fd, int peer, size_t len, unsigned int seed,
			      size_t off)
{
	int ret = send_pattern(fd, len, seed, off);

	if (ret)
		return ret;
	return fd_ready(peer, POLLIN, PROGRESS_MS) ? 0 : -ETIMEDOUT;
}

/* --- PROVIDE_BUFFERS ----------------------------------------------------- */

TEST_F(buf, provide_errors)
{
	struct cport_sqe sqe, good;
	unsigned char *p = self->pool;

	cport_prep_provide_buffers(&good, GROUP, p, BUFSZ, NBUF, 0);
#define BAD(field_expr, err) do {					\
		sqe = good;						\
		field_expr;						\
		EXPECT_EQ(err, submit1(self->port, &sqe));		\
	} while (0)
	BAD(sqe.fd = 0, -EINVAL);
	BAD(sqe.fd = -1, -EINVAL);
	BAD(sqe.fd = CPORT_MAX_BUFS + 1, -EINVAL);
	BAD(sqe.len = 0, -EINVAL);
	BAD(sqe.len = (__u64)CPORT_MAX_IO + 1, -EINVAL);
	BAD(sqe.key = CPORT_MAX_BUF_GROUPS, -EINVAL);
	BAD(sqe.key = 1ULL << 32, -EINVAL);
	BAD((sqe.user_data = CPORT_MAX_BUFS - NBUF + 1), -EINVAL);
	BAD(sqe.user_data = 1ULL << 40, -EINVAL);
	BAD(sqe.flags = CPORT_SQE_INLINE, -EINVAL);
	BAD(sqe.op_flags = 1, -EINVAL);
	BAD(sqe.timeout_ns = 1, -EINVAL);
	BAD(sqe.res = 1, -EINVAL);
	BAD(sqe.bytes = 1, -EINVAL);
	BAD(sqe.status = 1, -EINVAL);
	/*
	 * Not user memory: a kernel address, a range that wraps (the end of
	 * user space depends on the paging mode: not tested).
	 */
	BAD(sqe.addr = 0xffff888000000000ULL, -EFAULT);
	BAD(sqe.addr = ~0ULL - BUFSZ, -EFAULT);
#undef BAD
	/* The last id is CPORT_MAX_BUFS - 1; then the group is full. */
	sqe = good;
	sqe.user_data = CPORT_MAX_BUFS - NBUF;
	EXPECT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(0, sqe.status);	/* nothing written back */
	EXPECT_EQ(1, provide(self->port, 7, p, 1, CPORT_MAX_BUFS, 0));
	EXPECT_EQ(-ENOSPC, provide(self->port, 7, p, 1, 1, 0));
	/* Another group has room. */
	EXPECT_EQ(1, provide(self->port, 8, p, 1, 1, 0));
	/* A destroyed port. */
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-EIDRM, submit1(self->port, &good));
}

/* A RECV from a group and the fields it must leave zero. */
TEST_F(buf, recv_buffer_errors)
{
	struct cport_sqe sqe, good;

	cport_prep_recv_buffer(&good, self->s, GROUP, 0, UD,
			       CPORT_RECV_MULTISHOT);
#define BAD(field_expr) do {						\
		sqe = good;						\
		field_expr;						\
		EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));		\
	} while (0)
	BAD(sqe.addr = (__u64)(uintptr_t)self->pool);
	BAD(sqe.key = CPORT_MAX_BUF_GROUPS);
	BAD(sqe.op_flags |= CPORT_RECV_FILL);
	BAD(sqe.op_flags |= CPORT_RECV_VEC);
	BAD(sqe.op_flags &= ~CPORT_RECV_BUFFER);	/* multishot alone */
	BAD(sqe.flags = CPORT_SQE_INLINE);
	BAD(sqe.flags = CPORT_SQE_INLINE_POST);
	BAD(sqe.timeout_ns = 1000000);
	BAD(sqe.len = (__u64)CPORT_MAX_IO + 1);
	BAD(sqe.op_flags |= 1u << 4);
#undef BAD
	/* Nothing was taken: nothing completes. */
	EXPECT_TRUE(wait_none(self->port, 0));
	/* A key without CPORT_RECV_BUFFER is still refused. */
	cport_prep_recv(&sqe, self->s, self->pool, BUFSZ, UD, 0);
	sqe.key = GROUP;
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
}

/* --- Single-shot RECV from a group --------------------------------------- */

/*
 * A buffer RECV on a listening socket fails at once, as recv(2) there
 * does (-ENOTCONN for TCP, -EINVAL for a unix stream), single-shot and
 * multishot: the RECV asks poll before it takes a buffer, and poll says
 * nothing of a listener's reads.  It waited for a connection.
 */
TEST_F(buf, recv_buffer_on_listener)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int l, want;

	l = sock_listener(variant->kind);
	ASSERT_LE(0, l);
	want = recv(l, self->pool, 1, MSG_DONTWAIT) < 0 ? -errno : 0;
	EXPECT_GT(0, want);
	ASSERT_EQ(0, cport_associate(self->port, l, KEY, 0));
	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(1, recv_buf(self->port, l, 0, UD, 0, &sqe));
	if (sqe.status == CPORT_STATUS_PENDING) {
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_END_CQE(cqe, UD, want);
	} else {
		EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
		EXPECT_EQ(want, sqe.res);
	}
	ASSERT_EQ(1, recv_buf(self->port, l, 0, UD + 1, CPORT_RECV_MULTISHOT,
			      &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD + 1, want, 0);
	EXPECT_TRUE(wait_none(self->port, 0));
	EXPECT_EQ(0, cport_dissociate(self->port, l));
	close(l);
}

TEST_F(buf, recv_buffer_in_order)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int i;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, 4));
	for (i = 0; i < 4; i++) {
		/* Waiting pins no buffer. */
		ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD + i, 0, &sqe));
		EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
		EXPECT_TRUE(wait_none(self->port, i ? 0 : GRACE_MS));
		ASSERT_EQ(0, send_pattern(self->c, 10 + i, i, 0));
		ASSERT_EQ(1, wait1(self->port, &cqe));
		/* The lowest id of the range first. */
		EXPECT_BUF_CQE(cqe, UD + i, 10 + i, i, false);
		EXPECT_EQ(-1, pattern_check(self->pool + i * BUFSZ, 10 + i,
					    i, 0));
		EXPECT_EQ(0xa5, self->pool[i * BUFSZ + 10 + i]);
	}
	/* None left: data that comes ends the RECV with -ENOBUFS. */
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD, 0, &sqe));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, send_pattern(self->c, 5, 9, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_END_CQE(cqe, UD, -ENOBUFS);
	/* The data stayed in the socket. */
	ASSERT_EQ(5, recv(self->s, self->pool, BUFSZ, MSG_DONTWAIT));
	EXPECT_EQ(-1, pattern_check(self->pool, 5, 9, 0));
}

/* len caps the bytes; a buffer given back is the next one taken. */
TEST_F(buf, recv_buffer_len_and_reuse)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(0, send_pattern_there(self->c, self->s, 40, 1, 0));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 16, UD, 0, &sqe));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 16, 0, false);
	EXPECT_EQ(-1, pattern_check(self->pool, 16, 1, 0));
	EXPECT_EQ(0xa5, self->pool[16]);
	/* Buffer 0 back: taken again before 1. */
	ASSERT_EQ(1, provide(self->port, GROUP, self->pool, BUFSZ, 1, 0));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD + 1, 0, &sqe));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD + 1, 24, 0, false);
	EXPECT_EQ(-1, pattern_check(self->pool, 24, 1, 16));
	/* At end of file: res 0, no buffer taken. */
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD + 2, 0, &sqe));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_END_CQE(cqe, UD + 2, 0);
}

/* --- Multishot ---------------------------------------------------------- */

TEST_F(buf, multishot_until_eof)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int i;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, send_pattern(self->c, 20, 10 + i, 0));
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_BUF_CQE(cqe, UD, 20, i, true);
		EXPECT_EQ(i, cqe.seq);		/* numbered in arrival order */
		EXPECT_EQ(-1, pattern_check(self->pool + i * BUFSZ, 20,
					    10 + i, 0));
		/* One completion per arrival. */
		EXPECT_TRUE(wait_none(self->port, 0));
	}
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, 0, 5);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	/* It ended: the socket can be dissociated (nothing is pending). */
	EXPECT_EQ(0, cport_dissociate(self->port, self->s));
}

/* Data already there at submission: completions at once, still pending. */
TEST_F(buf, multishot_data_there)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(0, send_pattern_there(self->c, self->s, 30, 3, 0));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 30, 0, true);
	EXPECT_EQ(-1, pattern_check(self->pool, 30, 3, 0));
	/* A peer reset ends it with the error. */
	sock_set_rst_on_close(self->c);
	close(self->c);
	self->c = -1;
	ASSERT_EQ(1, wait1(self->port, &cqe));
	if (variant->kind == SK_UNIX)
		EXPECT_MS_END_CQE(cqe, UD, 0, 1);	/* unix: end of file */
	else
		EXPECT_MS_END_CQE(cqe, UD, -ECONNRESET, 1);
}

/*
 * Arm a multishot RECV on self->s (pending), then make this thread count
 * as running on the port (it dequeues a post): the fallback then leaves
 * a ready socket to this thread's next wait for a tick, so what arrives
 * before that wait is found by one run.
 */
static void arm_multishot_running(struct __test_metadata *_metadata,
				  FIXTURE_DATA(buf) *self)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, cport_post(self->port, 0, 7, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_EQ(CPORT_OP_POST, cqe.op);
}

/*
 * Data and end of file both come while a multishot RECV is pending, and
 * one run finds both: the data, then the end.  After a receive that took
 * data and left the socket empty (msg_inq 0, which on a recent kernel an
 * AF_UNIX stream reports without counting its peer's shutdown), the
 * runner does not ask again unless the socket looks readable; the end of
 * file must still be seen, since its wakeup came before the run and
 * will not come again.
 */
TEST_F(buf, multishot_data_and_eof_in_one_run)
{
	struct cport_cqe cqe;

	arm_multishot_running(_metadata, self);
	ASSERT_EQ(0, send_pattern(self->c, 30, 4, 0));
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 30, 0, true);
	EXPECT_EQ(0, cqe.seq);
	EXPECT_EQ(-1, pattern_check(self->pool, 30, 4, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, 0, 1);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(0, cport_dissociate(self->port, self->s));
}

/*
 * Data and a reset both come while a multishot RECV is pending, and one
 * run finds both: the data, then the reset's error (unix: end of file).
 * TCP's msg_inq counts neither a reset nor the error after the data:
 * only the runner's look at the socket sees them.
 */
TEST_F(buf, multishot_data_and_reset_in_one_run)
{
	struct cport_cqe cqe;

	arm_multishot_running(_metadata, self);
	ASSERT_EQ(0, send_pattern(self->c, 30, 5, 0));
	sock_set_rst_on_close(self->c);
	close(self->c);
	self->c = -1;
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 30, 0, true);
	EXPECT_EQ(-1, pattern_check(self->pool, 30, 5, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	if (variant->kind == SK_UNIX)
		EXPECT_MS_END_CQE(cqe, UD, 0, 1);
	else
		EXPECT_MS_END_CQE(cqe, UD, -ECONNRESET, 1);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

/*
 * A port of its own with @max_pending places, one end of a pair of the
 * variant's kind (fds[0]) associated under KEY, the pool provided, and a
 * multishot RECV armed on it (pending: it holds one place).
 */
static int small_port_multishot(struct __test_metadata *_metadata,
				FIXTURE_DATA(buf) *self, enum sock_kind kind,
				unsigned int max_pending, int fds[2])
{
	struct cport_setup setup = { .max_pending = max_pending };
	struct cport_sqe sqe;
	int port;

	port = cport_create(&setup);
	ASSERT_LE(0, port);
	sock_fixture_pair(_metadata, kind, fds);
	ASSERT_EQ(0, cport_associate(port, fds[0], KEY, 0));
	ASSERT_EQ(1, provide(port, GROUP, self->pool, BUFSZ, NBUF, 0));
	ASSERT_EQ(1, recv_buf(port, fds[0], 0, UD, CPORT_RECV_MULTISHOT, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	return port;
}

/*
 * A multishot RECV on a full port (its own unit and its undequeued
 * arrivals hold max_pending): it waits while nothing is there, whatever
 * the protocol says is left, and ends with -ENOBUFS when data comes,
 * the data staying in the socket.
 */
TEST_F(buf, multishot_full_port_waits_for_data)
{
	int port, fds[2] = { -1, -1 };
	struct cport_cqe cqe;
	unsigned char got[32];
	int i;

	port = small_port_multishot(_metadata, self, variant->kind, 3, fds);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, send_pattern(fds[1], 20, 20 + i, 0));
		ASSERT_TRUE(fdinfo_wait(port, "queued", i + 1));
	}
	/* Full, nothing there: it waits (no end queued). */
	usleep(GRACE_MS * 1000);
	EXPECT_EQ(2, fdinfo_get(port, "queued"));
	/* Data: the end, and the data stays. */
	ASSERT_EQ(0, send_pattern(fds[1], 10, 22, 0));
	ASSERT_TRUE(fdinfo_wait(port, "queued", 3));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(1, wait1(port, &cqe));
		EXPECT_BUF_CQE(cqe, UD, 20, i, true);
		EXPECT_EQ(i, cqe.seq);
	}
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, -ENOBUFS, 2);
	ASSERT_EQ(10, recv(fds[0], got, sizeof(got), MSG_DONTWAIT));
	EXPECT_EQ(-1, pattern_check(got, 10, 22, 0));
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
}

/*
 * The same full port, but a completion is dequeued while the RECV waits:
 * a place is free again, so the next data is an arrival like any other
 * and the RECV goes on.
 */
TEST_F(buf, multishot_full_port_goes_on_after_dequeue)
{
	int port, fds[2] = { -1, -1 };
	struct cport_cqe cqe;
	int i;

	port = small_port_multishot(_metadata, self, variant->kind, 3, fds);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, send_pattern(fds[1], 20, 30 + i, 0));
		ASSERT_TRUE(fdinfo_wait(port, "queued", i + 1));
	}
	/* Full and waiting (no end queued); a dequeue frees a place. */
	usleep(GRACE_MS * 1000);
	EXPECT_EQ(2, fdinfo_get(port, "queued"));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 20, 0, true);
	EXPECT_EQ(0, cqe.seq);
	EXPECT_EQ(-1, pattern_check(self->pool, 20, 30, 0));
	ASSERT_EQ(0, send_pattern(fds[1], 12, 32, 0));
	ASSERT_TRUE(fdinfo_wait(port, "queued", 2));
	for (i = 1; i < 3; i++) {
		ASSERT_EQ(1, wait1(port, &cqe));
		EXPECT_BUF_CQE(cqe, UD, i == 1 ? 20 : 12, i, true);
		EXPECT_EQ(i, cqe.seq);
		EXPECT_EQ(-1, pattern_check(self->pool + i * BUFSZ,
					    i == 1 ? 20 : 12, 30 + i, 0));
	}
	/* Still armed: end of file ends it, numbered after the three. */
	ASSERT_EQ(0, shutdown(fds[1], SHUT_WR));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, 0, 3);
	EXPECT_TRUE(wait_none(port, GRACE_MS));
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
}

/*
 * max_pending 1: the RECV's own place is the only one, so the first data
 * ends it at once with -ENOBUFS (the end takes the RECV's own place) and
 * stays in the socket; nothing is lost or half delivered.
 */
TEST_F(buf, multishot_no_place_for_an_arrival)
{
	int port, fds[2] = { -1, -1 };
	unsigned char got[32];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	port = small_port_multishot(_metadata, self, variant->kind, 1, fds);
	/* Its place is taken: another RECV is refused. */
	EXPECT_EQ(-ENOBUFS, recv_buf(port, fds[0], 0, UD + 1, 0, &sqe));
	ASSERT_EQ(0, send_pattern(fds[1], 15, 40, 0));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, -ENOBUFS, 0);
	EXPECT_TRUE(wait_none(port, GRACE_MS));
	ASSERT_EQ(15, recv(fds[0], got, sizeof(got), MSG_DONTWAIT));
	EXPECT_EQ(-1, pattern_check(got, 15, 40, 0));
	/* The place is back: a RECV can be armed again. */
	ASSERT_EQ(1, recv_buf(port, fds[0], 0, UD + 2, CPORT_RECV_MULTISHOT,
			      &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
}

/*
 * A RECV_FILL larger than what came: the data so far stays with the
 * operation (not completed) until the rest or end of file comes.
 */
TEST_F(buf, fill_waits_for_rest)
{
	unsigned char got[60];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	memset(got, 0, sizeof(got));
	cport_prep_recv(&sqe, self->s, got, sizeof(got), UD, CPORT_RECV_FILL);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, send_pattern(self->c, 25, 6, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, send_pattern(self->c, 20, 6, 25));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	/* End of file with 45 of 60 bytes: the 45. */
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, UD, 45, 45);
	EXPECT_EQ(-1, pattern_check(got, 45, 6, 0));
}

/* More arrivals than one run delivers: all of them, in order. */
TEST_F(buf, multishot_beyond_budget)
{
	enum { N = 40 };
	unsigned char *pool = malloc(N * BUFSZ), data[N * BUFSZ];
	struct cport_cqe cqe[N + 1];
	struct cport_sqe sqe;
	int i, got = 0, ret;

	ASSERT_NE(NULL, pool);
	ASSERT_EQ(1, provide(self->port, GROUP, pool, BUFSZ, N, 0));
	pattern_fill(data, sizeof(data), 4, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, sizeof(data)));
	/* All of it is there before the RECV starts. */
	for (i = 0; i < 100; i++) {
		int avail = 0;

		ioctl(self->s, FIONREAD, &avail);
		if (avail == (int)sizeof(data))
			break;
		usleep(10000);
	}
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	while (got < N) {
		ret = cport_wait(self->port, cqe + got, N + 1 - got,
				 (long long)PROGRESS_MS * NSEC_PER_MSEC);
		ASSERT_LT(0, ret);
		got += ret;
	}
	for (i = 0; i < N; i++) {
		EXPECT_BUF_CQE(cqe[i], UD, BUFSZ, i, true);
		EXPECT_EQ(i, cqe[i].seq);	/* across the runs too */
	}
	EXPECT_EQ(0, memcmp(pool, data, sizeof(data)));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	free(pool);
}

/* No buffer: it waits while no data comes, and ends when some does. */
TEST_F(buf, multishot_enobufs)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, 1));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	ASSERT_EQ(0, send_pattern(self->c, 8, 5, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 8, 0, true);
	/* The group is empty now, and still the RECV waits. */
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, send_pattern(self->c, 9, 6, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, -ENOBUFS, 1);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(9, recv(self->s, self->pool + BUFSZ, BUFSZ, MSG_DONTWAIT));
	EXPECT_EQ(-1, pattern_check(self->pool + BUFSZ, 9, 6, 0));
}

/*
 * End of file with the group empty ends it with -ENOBUFS as data would,
 * the buffer being taken first (as io_uring does): the end of file stays
 * in the socket for the next receive.
 */
TEST_F(buf, multishot_enobufs_at_eof)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, 1));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	ASSERT_EQ(0, send_pattern(self->c, 8, 7, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 8, 0, true);
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, -ENOBUFS, 1);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(0, recv(self->s, self->pool + BUFSZ, BUFSZ, MSG_DONTWAIT));
}

/* A RECV queued behind a multishot one waits for its end. */
TEST_F(buf, multishot_then_recv)
{
	unsigned char mine[BUFSZ];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, 1));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, mine, sizeof(mine),
			      UD + 1, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, send_pattern(self->c, 11, 7, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 11, 0, true);
	ASSERT_EQ(0, send_pattern(self->c, 12, 8, 0));
	/* No buffer: the multishot ends, then the plain RECV takes it. */
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, -ENOBUFS, 1);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, UD + 1, 12, 12);
	EXPECT_EQ(-1, pattern_check(mine, 12, 8, 0));
}

/*
 * A multishot RECV that found the socket drained skips its look while no
 * wakeup comes (the run of a SEND on the socket finds it empty without
 * poll).  Data under a low-water mark raised meanwhile wakes nobody: the
 * next run still receives it, as before the mark was raised.
 */
TEST_F(buf, multishot_rcvlowat_raised_while_idle)
{
	struct cport_cqe cqe[2];
	struct cport_sqe sqe;
	int i, ret, lowat = 100, got = 0, need;
	char x = 'x';

	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	ASSERT_EQ(0, send_pattern(self->c, 20, 5, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe[0]));
	EXPECT_BUF_CQE(cqe[0], UD, 20, 0, true);
	ASSERT_EQ(0, setsockopt(self->s, SOL_SOCKET, SO_RCVLOWAT, &lowat,
				sizeof(lowat)));
	ASSERT_EQ(0, send_pattern(self->c, 10, 6, 0));
	for (i = 0; i < 100; i++) {
		int avail = 0;

		ioctl(self->s, FIONREAD, &avail);
		if (avail == 10)
			break;
		usleep(10000);
	}
	/* A SEND on the socket runs it, receive queue first. */
	cport_prep_send(&sqe, self->s, &x, 1, UD + 1);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	/* The RECV's arrival, and the SEND's completion unless inline. */
	need = sqe.status == CPORT_STATUS_PENDING ? 2 : 1;
	while (got < need) {
		ret = cport_wait(self->port, &cqe[0], 1,
				 (long long)PROGRESS_MS * NSEC_PER_MSEC);
		ASSERT_EQ(1, ret);
		if (cqe[0].user_data == UD + 1) {
			EXPECT_EQ(1, cqe[0].res);
			got++;
			continue;
		}
		EXPECT_BUF_CQE(cqe[0], UD, 10, 1, true);
		EXPECT_EQ(1, cqe[0].seq);
		EXPECT_EQ(-1, pattern_check(self->pool + BUFSZ, 10, 6, 0));
		got++;
	}
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

TEST_F(buf, multishot_cancel)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	ASSERT_EQ(0, send_pattern(self->c, 3, 1, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_BUF_CQE(cqe, UD, 3, 0, true);
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, UD));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_MS_END_CQE(cqe, UD, -ECANCELED, 1);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_USER_DATA,
					UD));
	/* The data after it stays in the socket. */
	ASSERT_EQ(0, send_pattern_there(self->c, self->s, 4, 2, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(4, recv(self->s, self->pool, BUFSZ, MSG_DONTWAIT));
}

/*
 * A long stream through a pool of 4 buffers given back as they are used:
 * every byte, in order.  The peer writes faster than the pool comes back,
 * so the RECV runs out of buffers now and then (-ENOBUFS ends it) and is
 * submitted again, as an application does: nothing is lost meanwhile.
 */
TEST_F_TIMEOUT(buf, multishot_stream, 120)
{
	const size_t total = slow_kernel() ? 64 << 10 : 512 << 10;
	unsigned char *got = malloc(total);
	size_t off = 0, sent = 0;
	struct cport_cqe cqe[8];
	struct cport_sqe sqe;
	int i, n, fl, rearms = 0;
	__u32 seq = 0;
	bool rearm;

	ASSERT_NE(NULL, got);
	fl = fcntl(self->c, F_GETFL);
	ASSERT_EQ(0, fcntl(self->c, F_SETFL, fl | O_NONBLOCK));
	ASSERT_EQ(1, provide_pool(self->port, self->pool, 4));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	while (off < total) {
		/* Keep the peer writing without blocking. */
		while (sent < total) {
			unsigned char tmp[1000];
			size_t len = total - sent < sizeof(tmp) ?
				     total - sent : sizeof(tmp);
			ssize_t w;

			pattern_fill(tmp, len, 77, sent);
			w = send(self->c, tmp, len, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			sent += w;
		}
		n = cport_wait(self->port, cqe, 8,
			       (long long)PROGRESS_MS * NSEC_PER_MSEC);
		ASSERT_LT(0, n);
		rearm = false;
		for (i = 0; i < n; i++) {
			if (!(cqe[i].flags & CPORT_CQE_F_MORE)) {
				/* The end: only for want of a buffer. */
				EXPECT_MS_END_CQE(cqe[i], UD, -ENOBUFS, seq);
				ASSERT_EQ(i, n - 1);
				rearm = true;
				break;
			}
			EXPECT_BUF_CQE(cqe[i], UD, cqe[i].res, cqe[i].buf,
				       true);
			EXPECT_EQ(seq++, cqe[i].seq);
			ASSERT_LT(cqe[i].buf, 4);
			ASSERT_LT(0, cqe[i].res);
			ASSERT_LE(cqe[i].res, BUFSZ);
			ASSERT_LE(off + cqe[i].res, total);
			memcpy(got + off, self->pool + cqe[i].buf * BUFSZ,
			       cqe[i].res);
			off += cqe[i].res;
			/* Given back at once. */
			ASSERT_EQ(1, provide(self->port, GROUP,
					     self->pool + cqe[i].buf * BUFSZ,
					     BUFSZ, 1, cqe[i].buf));
		}
		if (rearm) {
			rearms++;
			seq = 0;	/* a new RECV numbers from 0 */
			ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
					      CPORT_RECV_MULTISHOT, &sqe));
		}
	}
	EXPECT_EQ(-1, pattern_check(got, total, 77, 0));
	TH_LOG("%zu bytes, submitted again %d times", total, rearms);
	close(self->c);
	self->c = -1;
	ASSERT_EQ(1, wait1(self->port, cqe));
	EXPECT_MS_END_CQE(cqe[0], UD, 0, seq);
	free(got);
}

/* Destroy with a multishot RECV pending and completions queued. */
TEST_F(buf, multishot_destroy)
{
	struct cport_sqe sqe;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, NBUF));
	ASSERT_EQ(1, recv_buf(self->port, self->s, 0, UD,
			      CPORT_RECV_MULTISHOT, &sqe));
	ASSERT_EQ(0, send_pattern(self->c, 3, 1, 0));
	ASSERT_EQ(0, cport_destroy(self->port));
	/* The socket is no longer held: it closes, the peer sees it. */
	close(self->s);
	self->s = -1;
	ASSERT_TRUE(fd_ready(self->c, POLLIN, PROGRESS_MS));
	/* A FIN, or a reset if the 3 bytes were still unread at close. */
	EXPECT_GE(0, recv(self->c, self->pool, 1, MSG_DONTWAIT));
}

/* fdinfo shows each group's buffers, on the shelf and taken. */
TEST_F(buf, fdinfo)
{
	char path[64], line[256];
	bool seen = false;
	FILE *f;

	ASSERT_EQ(1, provide_pool(self->port, self->pool, 5));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->port);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "buf_group:\t3 buffers 5 taken 0\n"))
			seen = true;
	fclose(f);
	EXPECT_TRUE(seen);
}

TEST_HARNESS_MAIN
