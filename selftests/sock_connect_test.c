// SPDX-License-Identifier: GPL-2.0
/*
 * CPORT_OP_CONNECT and cport_connect() over TCP/IPv4, TCP/IPv6 and unix
 * stream sockets: a connect completes once established, with its data
 * sent first; a refused one with -ECONNREFUSED (from connect(2) at once,
 * or in the completion); one that cannot complete (the listener's accept
 * queue is full, so its SYN is dropped) times out, is cancelled, holds
 * back a SEND submitted after it until it completes, and is discarded by
 * a destroy; and every bad field gets its errno (-ENOTCONN for a socket
 * on which no connect was started).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY	0xc0c0000000000001ULL
#define UD	0x5ca1ab1e00000001ULL

FIXTURE(conn) {
	int port;
	int lst;		/* listening socket */
	int cl;			/* client socket, associated under KEY */
	struct sockaddr_storage addr;	/* the listener's */
	socklen_t addrlen;
};

SOCK_KIND_VARIANTS(conn, af_);

static int client_socket(enum sock_kind kind)
{
	int family = kind == SK_TCP4 ? AF_INET :
		     kind == SK_TCP6 ? AF_INET6 : AF_UNIX;

	return socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

FIXTURE_SETUP(conn)
{
	self->port = -1;
	self->lst = -1;
	self->cl = -1;
	sock_fixture_port(_metadata, &self->port);
	self->lst = sock_listener(variant->kind);
	ASSERT_LE(0, self->lst);
	self->addrlen = sizeof(self->addr);
	ASSERT_EQ(0, getsockname(self->lst, (struct sockaddr *)&self->addr,
				 &self->addrlen));
	self->cl = client_socket(variant->kind);
	ASSERT_LE(0, self->cl);
	ASSERT_EQ(0, cport_associate(self->port, self->cl, KEY, 0));
}

FIXTURE_TEARDOWN(conn)
{
	if (self->cl >= 0)
		close(self->cl);
	if (self->lst >= 0)
		close(self->lst);
	if (self->port >= 0)
		cport_close(self->port);
}

/* The connection the listener accepts, within PROGRESS_MS. */
static int accept_one(int lst)
{
	if (!fd_ready(lst, POLLIN, PROGRESS_MS))
		return -ETIMEDOUT;
	return accept4(lst, NULL, NULL, SOCK_CLOEXEC);
}

/*
 * Fill the accept queue of a listener with backlog 0 (one connection,
 * never accepted), so that a further TCP connect's SYN is dropped and
 * the connect stays in progress.  Returns the queued client or -errno.
 */
static int fill_backlog(int lst)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	if (listen(lst, 0) || getsockname(lst, (struct sockaddr *)&ss, &len))
		return -errno;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* connect(2) on the client made non-blocking: in progress, or the test fails. */
static void start_connect(struct __test_metadata *_metadata,
			  FIXTURE_DATA(conn) *self)
{
	ASSERT_EQ(0, fcntl(self->cl, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(-1, connect(self->cl, (struct sockaddr *)&self->addr,
			      self->addrlen));
	ASSERT_EQ(EINPROGRESS, errno);
}

/* A connect with data: completes with the data's length, sent first. */
TEST_F(conn, with_data)
{
	static const char msg[] = "connected, then this";
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	char buf[sizeof(msg)];
	int srv, ret;

	ret = cport_connect(self->port, self->cl,
			    (struct sockaddr *)&self->addr, self->addrlen,
			    msg, sizeof(msg), UD, 0, &sqe);
	ASSERT_EQ(CPORT_STATUS_PENDING, ret);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_CONNECT, KEY, UD, sizeof(msg),
			 sizeof(msg));
	srv = accept_one(self->lst);
	ASSERT_LE(0, srv);
	ASSERT_EQ(0, read_full(srv, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, msg, sizeof(msg)));
	close(srv);
}

/* Without data: res 0; and an established socket's CONNECT is inline. */
TEST_F(conn, no_data_then_inline)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int srv;

	ASSERT_EQ(CPORT_STATUS_PENDING,
		  cport_connect(self->port, self->cl,
				(struct sockaddr *)&self->addr, self->addrlen,
				NULL, 0, UD, 0, &sqe));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_CONNECT, KEY, UD, 0, 0);

	/* Connected now: a CONNECT completes at once. */
	cport_prep_connect(&sqe, self->cl, NULL, 0, UD + 1);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(0, sqe.res);
	EXPECT_EQ(0, sqe.bytes);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	srv = accept_one(self->lst);
	ASSERT_LE(0, srv);
	close(srv);
}

/*
 * Nothing listens: -ECONNREFUSED, from connect(2) itself (unix, and TCP
 * when the reset came back before it returned) or in the completion,
 * with nothing sent.
 */
TEST_F(conn, refused)
{
	static const char msg[] = "never sent";
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int ret;

	close(self->lst);
	self->lst = -1;
	ret = cport_connect(self->port, self->cl,
			    (struct sockaddr *)&self->addr, self->addrlen,
			    msg, sizeof(msg), UD, 0, &sqe);
	if (ret == CPORT_STATUS_PENDING) {
		socklen_t len = sizeof(ret);

		ASSERT_NE(SK_UNIX, variant->kind);
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_CQE_EXACT(cqe, CPORT_OP_CONNECT, KEY, UD, -ECONNREFUSED,
				 0);
		/* The error was the connect's: read and cleared. */
		ret = -1;
		ASSERT_EQ(0, getsockopt(self->cl, SOL_SOCKET, SO_ERROR, &ret,
					&len));
		EXPECT_EQ(0, ret);
	} else {
		EXPECT_EQ(-ECONNREFUSED, ret);
	}
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

/* A connect in progress times out with its timeout_ns, nothing sent. */
TEST_F(conn, timeout)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	long long t0;
	int q;

	if (variant->kind == SK_UNIX) {
		/* A unix connect is never in progress: it fails at once. */
		q = fill_backlog(self->lst);
		ASSERT_LE(0, q);
		EXPECT_EQ(-EAGAIN,
			  cport_connect(self->port, self->cl,
					(struct sockaddr *)&self->addr,
					self->addrlen, NULL, 0, UD, 0, &sqe));
		EXPECT_TRUE(wait_none(self->port, GRACE_MS));
		close(q);
		return;
	}
	q = fill_backlog(self->lst);
	ASSERT_LE(0, q);
	start_connect(_metadata, self);
	cport_prep_connect(&sqe, self->cl, "x", 1, UD);
	sqe.timeout_ns = 200 * NSEC_PER_MSEC;
	t0 = now_ns();
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_CONNECT, KEY, UD, -ETIMEDOUT, 0);
	EXPECT_LE(200 * NSEC_PER_MSEC, now_ns() - t0);
	close(q);
}

/*
 * Cancelled while in progress: -ECANCELED; and a SEND submitted behind a
 * CONNECT in progress waits for it, then runs once it completes.
 */
TEST_F(conn, cancel_and_send_order)
{
	static const char hello[] = "hello";
	static const char after[] = "after the connect";
	char buf[sizeof(hello) + sizeof(after)];
	struct cport_sqe sqe, snd;
	struct cport_cqe cqe[2];
	int q, srv, n, i;

	if (variant->kind == SK_UNIX)
		SKIP(return, "a unix connect is never in progress");
	q = fill_backlog(self->lst);
	ASSERT_LE(0, q);
	start_connect(_metadata, self);

	cport_prep_connect(&sqe, self->cl, NULL, 0, UD);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, UD));
	ASSERT_EQ(1, wait1(self->port, &cqe[0]));
	EXPECT_CQE_EXACT(cqe[0], CPORT_OP_CONNECT, KEY, UD, -ECANCELED, 0);

	/* Still in progress: CONNECT with data, then a SEND behind it. */
	cport_prep_connect(&sqe, self->cl, hello, sizeof(hello), UD + 1);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	cport_prep_send(&snd, self->cl, after, sizeof(after), UD + 2);
	snd.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &snd));
	EXPECT_EQ(CPORT_STATUS_PENDING, snd.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	/* Room in the accept queue: the SYN's retransmission gets in. */
	srv = accept4(self->lst, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, srv);
	close(srv);
	for (n = 0; n < 2; n++)
		ASSERT_EQ(1, wait1(self->port, &cqe[n]));
	EXPECT_CQE_EXACT(cqe[0], CPORT_OP_CONNECT, KEY, UD + 1, sizeof(hello),
			 sizeof(hello));
	EXPECT_CQE_EXACT(cqe[1], CPORT_OP_SEND, KEY, UD + 2, sizeof(after),
			 sizeof(after));
	srv = accept_one(self->lst);
	ASSERT_LE(0, srv);
	ASSERT_EQ(0, read_full(srv, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, hello, sizeof(hello)));
	EXPECT_EQ(0, memcmp(buf + sizeof(hello), after, sizeof(after)));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, cqe[i].flags);
	close(srv);
	close(q);
}

/* A destroy with a CONNECT in progress: waiters see -EIDRM, nothing leaks. */
TEST_F(conn, destroy_pending)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int q;

	if (variant->kind == SK_UNIX)
		SKIP(return, "a unix connect is never in progress");
	q = fill_backlog(self->lst);
	ASSERT_LE(0, q);
	ASSERT_EQ(CPORT_STATUS_PENDING,
		  cport_connect(self->port, self->cl,
				(struct sockaddr *)&self->addr, self->addrlen,
				"x", 1, UD, 0, &sqe));
	EXPECT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, &cqe, 1, 0));
	/* The socket is the user's still: its connect goes on. */
	ASSERT_EQ(0, fcntl(self->cl, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, connect(self->cl, (struct sockaddr *)&self->addr,
			      self->addrlen));
	EXPECT_EQ(EALREADY, errno);
	close(q);
}

/* Bad CONNECT submissions, with the errno the header documents. */
TEST_F(conn, errors)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	char *bad;
	int other;

	/* No connect(2) was started on it. */
	cport_prep_connect(&sqe, self->cl, NULL, 0, UD);
	EXPECT_EQ(-ENOTCONN, submit1(self->port, &sqe));
	EXPECT_EQ(0, sqe.status);
	/* A listening socket has no connect either. */
	ASSERT_EQ(0, cport_associate(self->port, self->lst, KEY + 1, 0));
	cport_prep_connect(&sqe, self->lst, NULL, 0, UD);
	EXPECT_EQ(-ENOTCONN, submit1(self->port, &sqe));
	/* Fields CONNECT does not use. */
	cport_prep_connect(&sqe, self->cl, NULL, 0, UD);
	sqe.op_flags = 1;
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	cport_prep_connect(&sqe, self->cl, NULL, 0, UD);
	sqe.key = 1;
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	cport_prep_connect(&sqe, self->cl, NULL, 0, UD);
	sqe.flags = CPORT_SQE_INLINE | CPORT_SQE_POST;
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	cport_prep_connect(&sqe, self->cl, NULL, (__u64)CPORT_MAX_IO + 1, UD);
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	/* Not associated: -ENOENT (before -ENOTCONN). */
	other = client_socket(variant->kind);
	ASSERT_LE(0, other);
	cport_prep_connect(&sqe, other, NULL, 0, UD);
	EXPECT_EQ(-ENOENT, submit1(self->port, &sqe));
	close(other);
	/* A bad data buffer, once connecting: -EFAULT, nothing posted. */
	ASSERT_EQ(0, fcntl(self->cl, F_SETFL, O_NONBLOCK));
	if (connect(self->cl, (struct sockaddr *)&self->addr, self->addrlen))
		ASSERT_EQ(EINPROGRESS, errno);
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	cport_prep_connect(&sqe, self->cl, (void *)0xffff800000000000ULL, 16,
			   UD);
	EXPECT_EQ(-EFAULT, submit1(self->port, &sqe));
	EXPECT_EQ(0, sqe.status);
	/* A buffer that faults when the data is sent: -EFAULT, bytes 0. */
	cport_prep_connect(&sqe, self->cl, bad, 16, UD + 9);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_CONNECT, KEY, UD + 9, -EFAULT, 0);
	munmap(bad, 4096);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

TEST_HARNESS_MAIN
