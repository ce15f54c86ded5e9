// SPDX-License-Identifier: GPL-2.0
/*
 * Datagram sockets (UDP over IPv4 and IPv6, unix datagram) through the
 * port, and RECVMSG / SENDMSG: the peer's address and its length (also
 * with too little room), truncation (CPORT_CQE_F_TRUNC and MSG_TRUNC),
 * per-socket order of several RECVs against datagrams and of several
 * SENDs, sendto to several peers, iovecs both ways, an empty datagram,
 * plain RECV and SEND on a connected socket, cancel, timeout, destroy
 * with operations pending; on unix sockets SCM_CREDENTIALS and
 * SCM_RIGHTS both ways, descriptors installed at dequeue (and closed when
 * the completion is discarded), MSG_CTRUNC; and every bad field of
 * RECVMSG and SENDMSG with its errno, in the documented order.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY		0xd6a0000000000001ULL
#define KADDR		0xffff800000000000ULL	/* a kernel address */

enum dg_kind { DG_UDP4, DG_UDP6, DG_UNIX };

struct dg_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* A datagram socket of @kind bound to loopback (unix: an abstract name). */
static int dg_socket(enum dg_kind kind, struct dg_addr *a)
{
	static int seq;
	int fd;

	memset(a, 0, sizeof(*a));
	if (kind == DG_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;

		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		sun->sun_family = AF_UNIX;
		a->len = offsetof(struct sockaddr_un, sun_path) + 1 +
			 snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
				  "cport-dg-%d-%d", getpid(), seq++);
	} else if (kind == DG_UDP4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		a->len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&a->ss, a->len) ||
	    getsockname(fd, (struct sockaddr *)&a->ss, &a->len)) {
		close(fd);
		return -errno;
	}
	return fd;
}

FIXTURE(dg) {
	int port;
	int a, b;		/* a associated under KEY, b its plain peer */
	struct dg_addr aa, ba;
	char buf[256];
};

FIXTURE_VARIANT(dg) {
	enum dg_kind kind;
};

FIXTURE_VARIANT_ADD(dg, udp4) { .kind = DG_UDP4 };
FIXTURE_VARIANT_ADD(dg, udp6) { .kind = DG_UDP6 };
FIXTURE_VARIANT_ADD(dg, unix) { .kind = DG_UNIX };

FIXTURE_SETUP(dg)
{
	self->b = -1;
	sock_fixture_port(_metadata, &self->port);
	self->a = dg_socket(variant->kind, &self->aa);
	ASSERT_LE(0, self->a);
	self->b = dg_socket(variant->kind, &self->ba);
	ASSERT_LE(0, self->b);
	ASSERT_EQ(0, cport_associate(self->port, self->a, KEY, 0));
}

FIXTURE_TEARDOWN(dg)
{
	cport_close(self->port);
	close(self->a);
	if (self->b >= 0)
		close(self->b);
}

static ssize_t dg_sendto(int fd, const void *buf, size_t len,
			 const struct dg_addr *to)
{
	return sendto(fd, buf, len, 0, (const struct sockaddr *)&to->ss,
		      to->len);
}

/* Receive one datagram on plain @fd within PROGRESS_MS. */
static ssize_t dg_recv(int fd, void *buf, size_t len)
{
	if (!fd_ready(fd, POLLIN, PROGRESS_MS))
		return -ETIMEDOUT;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

static int sub_recvmsg(int port, struct cport_sqe *sqe, int fd,
		       struct msghdr *msg, __u64 ud, unsigned int flags)
{
	cport_prep_recvmsg(sqe, fd, msg, ud, flags);
	return submit1(port, sqe);
}

static int sub_sendmsg(int port, struct cport_sqe *sqe, int fd,
		       const struct msghdr *msg, __u64 ud)
{
	cport_prep_sendmsg(sqe, fd, msg, ud);
	return submit1(port, sqe);
}

/* RECVMSG with the peer's address: the address and its length come back. */
TEST_F(dg, recvfrom_address)
{
	struct sockaddr_storage from;
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = {
		.msg_name = &from, .msg_namelen = sizeof(from),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 7, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(5, dg_sendto(self->b, "hello", 5, &self->aa));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 7, 5, 5);
	EXPECT_EQ(0, memcmp(self->buf, "hello", 5));
	EXPECT_EQ(self->ba.len, msg.msg_namelen);
	EXPECT_EQ(0, memcmp(&from, &self->ba.ss, self->ba.len));
	EXPECT_EQ(0, msg.msg_flags);
	EXPECT_EQ(0, msg.msg_controllen);
}

/* Too little room for the address: that much is written, the full length said. */
TEST_F(dg, recvfrom_short_namelen)
{
	unsigned char from[sizeof(struct sockaddr_storage)];
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = {
		.msg_name = from, .msg_namelen = 3,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	unsigned int i;

	memset(from, 0xa5, sizeof(from));
	ASSERT_EQ(3, dg_sendto(self->b, "abc", 3, &self->aa));
	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 8, 0));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 8, 3, 3);
	EXPECT_EQ(self->ba.len, msg.msg_namelen);
	EXPECT_EQ(0, memcmp(from, &self->ba.ss, 3));
	for (i = 3; i < sizeof(from); i++)
		ASSERT_EQ(0xa5, from[i]);
}

/* An inline RECVMSG of a datagram already there. */
TEST_F(dg, recvmsg_inline)
{
	struct sockaddr_storage from;
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = {
		.msg_name = &from, .msg_namelen = sizeof(from),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cport_sqe sqe;

	ASSERT_EQ(4, dg_sendto(self->b, "ping", 4, &self->aa));
	cport_prep_recvmsg(&sqe, self->a, &msg, 9, 0);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(4, sqe.res);
	EXPECT_EQ(4, sqe.bytes);
	EXPECT_EQ(self->ba.len, msg.msg_namelen);
	EXPECT_TRUE(wait_none(self->port, 20));
}

/* A datagram longer than the buffer: truncated, flagged; the next is whole. */
TEST_F(dg, truncation)
{
	struct iovec iov = { self->buf, 10 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	char big[100];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	memset(big, 'x', sizeof(big));
	/* RECVMSG: res = what was delivered, TRUNC, MSG_TRUNC; posted. */
	ASSERT_EQ(100, dg_sendto(self->b, big, 100, &self->aa));
	cport_prep_recvmsg(&sqe, self->a, &msg, 1, 0);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECVMSG, KEY, 1, 10, 10);
	EXPECT_EQ(CPORT_CQE_F_TRUNC, cqe.flags);
	EXPECT_TRUE(msg.msg_flags & MSG_TRUNC);

	/* Plain RECV: the same. */
	ASSERT_EQ(100, dg_sendto(self->b, big, 100, &self->aa));
	ASSERT_EQ(1, recv_pending(self->port, self->a, self->buf, 10, 2, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 2, 10, 10);
	EXPECT_EQ(CPORT_CQE_F_TRUNC, cqe.flags);

	/* The next datagram, that fits, is whole and not flagged. */
	ASSERT_EQ(6, dg_sendto(self->b, "second", 6, &self->aa));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->a, self->buf,
			      sizeof(self->buf), 3, 0, CPORT_SQE_POST, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 3, 6, 6);
}

/* RECVs complete in submission order, each taking one datagram in arrival order. */
TEST_F(dg, recv_order)
{
	enum { N = 6 };
	char bufs[N][32];
	struct iovec iov[N];
	struct msghdr msg[N];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	char d[32];
	int i;

	for (i = 0; i < N; i++) {
		if (i % 2) {
			ASSERT_EQ(1, recv_pending(self->port, self->a, bufs[i],
						  sizeof(bufs[i]), 100 + i, 0,
						  0));
		} else {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			msg[i] = (struct msghdr){ .msg_iov = &iov[i],
						  .msg_iovlen = 1 };
			ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a,
						 &msg[i], 100 + i, 0));
			ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
		}
	}
	for (i = 0; i < N; i++) {
		int n = snprintf(d, sizeof(d), "datagram-%d-%.*s", i, i,
				 "xxxxxxx");

		ASSERT_EQ(n, dg_sendto(self->b, d, n, &self->aa));
	}
	for (i = 0; i < N; i++) {
		int n = snprintf(d, sizeof(d), "datagram-%d-%.*s", i, i,
				 "xxxxxxx");

		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_EQ(100 + i, cqe.user_data);
		EXPECT_EQ(n, cqe.res);
		EXPECT_EQ(0, memcmp(bufs[i], d, n));
	}
}

/* SENDMSGs go out in submission order, each one datagram. */
TEST_F(dg, send_order)
{
	enum { N = 8 };
	struct iovec iov[N];
	struct msghdr msg[N];
	char d[N][16], got[32];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int i, seen = 0;

	for (i = 0; i < N; i++) {
		int n = snprintf(d[i], sizeof(d[i]), "s%d", i);

		iov[i] = (struct iovec){ d[i], n };
		msg[i] = (struct msghdr){ .msg_name = &self->ba.ss,
					  .msg_namelen = self->ba.len,
					  .msg_iov = &iov[i], .msg_iovlen = 1 };
		cport_prep_sendmsg(&sqe, self->a, &msg[i], 200 + i);
		sqe.flags = CPORT_SQE_POST;
		ASSERT_EQ(1, submit1(self->port, &sqe));
	}
	for (i = 0; i < N; i++) {
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_EQ(CPORT_OP_SENDMSG, cqe.op);
		EXPECT_EQ((__s64)strlen(d[cqe.user_data - 200]), cqe.res);
		seen |= 1 << (cqe.user_data - 200);
	}
	EXPECT_EQ((1 << N) - 1, seen);
	for (i = 0; i < N; i++) {
		ssize_t n = dg_recv(self->b, got, sizeof(got));

		ASSERT_EQ((ssize_t)strlen(d[i]), n);
		EXPECT_EQ(0, memcmp(got, d[i], n));
	}
}

/* sendto several peers: each gets its datagram, from a's address. */
TEST_F(dg, sendto_several_peers)
{
	enum { N = 3 };
	struct dg_addr pa[N], from;
	struct iovec iov[N];
	struct msghdr msg[N];
	int p[N], i;
	char d[N][8], got[16];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	for (i = 0; i < N; i++) {
		p[i] = dg_socket(variant->kind, &pa[i]);
		ASSERT_LE(0, p[i]);
		snprintf(d[i], sizeof(d[i]), "peer%d", i);
		iov[i] = (struct iovec){ d[i], 5 };
		msg[i] = (struct msghdr){ .msg_name = &pa[i].ss,
					  .msg_namelen = pa[i].len,
					  .msg_iov = &iov[i], .msg_iovlen = 1 };
		ASSERT_EQ(1, sub_sendmsg(self->port, &sqe, self->a, &msg[i],
					 300 + i));
		if (sqe.status == CPORT_STATUS_PENDING) {
			ASSERT_EQ(1, wait1(self->port, &cqe));
		}
	}
	for (i = 0; i < N; i++) {
		ssize_t n;

		ASSERT_TRUE(fd_ready(p[i], POLLIN, PROGRESS_MS));
		from.len = sizeof(from.ss);
		n = recvfrom(p[i], got, sizeof(got), 0,
			     (struct sockaddr *)&from.ss, &from.len);
		EXPECT_EQ(5, n);
		EXPECT_EQ(0, memcmp(got, d[i], 5));
		EXPECT_EQ(self->aa.len, from.len);
		EXPECT_EQ(0, memcmp(&from.ss, &self->aa.ss, from.len));
		close(p[i]);
	}
}

/* Gather on the way out (one datagram), scatter on the way in. */
TEST_F(dg, iovecs)
{
	struct iovec out[3] = { { "abc", 3 }, { "", 0 }, { "defgh", 5 } };
	char x[2], y[4], z[8];
	struct iovec in[3] = { { x, 2 }, { y, 4 }, { z, 8 } };
	struct msghdr sm = { .msg_name = &self->ba.ss,
			     .msg_namelen = self->ba.len,
			     .msg_iov = out, .msg_iovlen = 3 };
	struct msghdr rm = { .msg_iov = in, .msg_iovlen = 3 };
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	char got[16];

	cport_prep_sendmsg(&sqe, self->a, &sm, 1);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	if (sqe.status == CPORT_STATUS_PENDING) {
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_EQ(8, cqe.res);
	} else {
		EXPECT_EQ(8, sqe.res);
	}
	ASSERT_EQ(8, dg_recv(self->b, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, "abcdefgh", 8));

	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &rm, 2, 0));
	ASSERT_EQ(7, dg_sendto(self->b, "1234567", 7, &self->aa));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 2, 7, 7);
	EXPECT_EQ(0, memcmp(x, "12", 2));
	EXPECT_EQ(0, memcmp(y, "3456", 4));
	EXPECT_EQ('7', z[0]);
}

/* A SENDMSG without buffers sends an empty datagram; RECVMSG takes it. */
TEST_F(dg, empty_datagram)
{
	struct msghdr sm = { .msg_name = &self->ba.ss,
			     .msg_namelen = self->ba.len };
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr rm = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_sendmsg(self->port, &sqe, self->a, &sm, 1));
	if (sqe.status == CPORT_STATUS_PENDING) {
		ASSERT_EQ(1, wait1(self->port, &cqe));
	}
	ASSERT_TRUE(fd_ready(self->b, POLLIN, PROGRESS_MS));
	EXPECT_EQ(0, recv(self->b, self->buf, sizeof(self->buf), 0));

	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &rm, 2, 0));
	ASSERT_EQ(0, dg_sendto(self->b, "", 0, &self->aa));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 2, 0, 0);
}

/*
 * A multishot RECV from a buffer group: a completion per datagram, in
 * order, numbered, one longer than its buffer cut (CPORT_CQE_F_TRUNC);
 * an empty datagram ends it with 0, as io_uring's does, and what comes
 * after stays in the socket.
 */
TEST_F(dg, multishot)
{
	static const char *const d[] = { "one", "a longer datagram here", "3" };
	enum { NB = 4, BSZ = 16, GRP = 5 };
	char pool[NB][BSZ], got[32];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	unsigned int i;

	cport_prep_provide_buffers(&sqe, GRP, pool, BSZ, NB, 0);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	cport_prep_recv_buffer(&sqe, self->a, GRP, 0, 9, CPORT_RECV_MULTISHOT);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	for (i = 0; i < 3; i++) {
		size_t n = strlen(d[i]);
		bool cut = n > BSZ;

		ASSERT_EQ((ssize_t)n, dg_sendto(self->b, d[i], n, &self->aa));
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 9, cut ? BSZ : (int)n,
			   cut ? BSZ : n);
		EXPECT_EQ(CPORT_CQE_F_BUFFER | CPORT_CQE_F_MORE |
			  (cut ? CPORT_CQE_F_TRUNC : 0), cqe.flags);
		EXPECT_EQ(i, cqe.buf);
		EXPECT_EQ(i, cqe.seq);
		EXPECT_EQ(0, memcmp(pool[i], d[i], cut ? BSZ : n));
	}
	ASSERT_EQ(0, dg_sendto(self->b, "", 0, &self->aa));
	ASSERT_EQ(5, dg_sendto(self->b, "after", 5, &self->aa));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 9, 0, 0);
	EXPECT_EQ(0, cqe.flags);
	EXPECT_EQ(0, cqe.buf);
	EXPECT_EQ(3, cqe.seq);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(5, dg_recv(self->a, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, "after", 5));
}

/* Connected: plain RECV and SEND, one datagram each. */
TEST_F(dg, connected_recv_send)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	char got[16];

	ASSERT_EQ(0, connect(self->a, (struct sockaddr *)&self->ba.ss,
			     self->ba.len));
	ASSERT_EQ(0, connect(self->b, (struct sockaddr *)&self->aa.ss,
			     self->aa.len));
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->a, "one", 3, 1,
			      CPORT_SQE_POST, 0));
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->a, "two", 3, 2,
			      CPORT_SQE_POST, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 1, 3, 3);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 2, 3, 3);
	ASSERT_EQ(3, dg_recv(self->b, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, "one", 3));
	ASSERT_EQ(3, dg_recv(self->b, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, "two", 3));

	ASSERT_EQ(1, recv_pending(self->port, self->a, self->buf,
				  sizeof(self->buf), 3, 0, 0));
	ASSERT_EQ(5, send(self->b, "three", 5, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 3, 5, 5);
	EXPECT_EQ(0, memcmp(self->buf, "three", 5));
}

/* CPORT_RECV_FILL cannot fill from datagrams: -EINVAL at submission. */
TEST_F(dg, recv_fill_einval)
{
	struct cport_sqe sqe;

	EXPECT_EQ(-EINVAL, sub_recv(self->port, &sqe, self->a, self->buf,
				    sizeof(self->buf), 1, CPORT_RECV_FILL, 0,
				    0));
	EXPECT_EQ(0, sqe.status);
	EXPECT_TRUE(wait_none(self->port, 20));
}

/*
 * DISCONNECT has no connection to end on a datagram socket: unconnected,
 * -ENOTCONN; connected, -EOPNOTSUPP (it stayed pending for ever: a
 * connected UDP socket is still "established" after the shutdown, so the
 * FIN it waited for never went).  Nothing is taken either way.
 */
TEST_F(dg, disconnect_refused)
{
	struct cport_sqe sqe;

	cport_prep_disconnect(&sqe, self->a, 0, 1);
	EXPECT_EQ(-ENOTCONN, submit1(self->port, &sqe));
	EXPECT_EQ(0, sqe.status);
	ASSERT_EQ(0, connect(self->a, (struct sockaddr *)&self->ba.ss,
			     self->ba.len));
	cport_prep_disconnect(&sqe, self->a, 0, 2);
	EXPECT_EQ(-EOPNOTSUPP, submit1(self->port, &sqe));
	EXPECT_EQ(0, sqe.status);
	EXPECT_EQ(0, fdinfo_get(self->port, "pending"));
	EXPECT_TRUE(wait_none(self->port, 20));
}

/* Cancel and timeout of a pending RECVMSG; the next one still works. */
TEST_F(dg, cancel_and_timeout)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 11, 0));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 11));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 11, -ECANCELED, 0);

	cport_prep_recvmsg(&sqe, self->a, &msg, 12, 0);
	sqe.timeout_ns = 50 * NSEC_PER_MSEC;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 12, -ETIMEDOUT, 0);

	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 13, 0));
	ASSERT_EQ(2, dg_sendto(self->b, "ok", 2, &self->aa));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 13, 2, 2);
}

/* Destroy with RECVMSG and RECV pending: waiters get -EIDRM, nothing leaks. */
TEST_F(dg, destroy_pending)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 1, 0));
	ASSERT_EQ(1, recv_pending(self->port, self->a, self->buf, 8, 2, 0, 0));
	EXPECT_EQ(2, fdinfo_get(self->port, "pending"));
	EXPECT_EQ(1, fdinfo_get(self->port, "files"));
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, &cqe, 1, 0));
	/* The socket is usable again, and its data was not taken. */
	ASSERT_EQ(1, dg_sendto(self->b, "z", 1, &self->aa));
	ASSERT_EQ(1, dg_recv(self->a, self->buf, sizeof(self->buf)));
}

/* Unix datagram and seqpacket pairs, for control messages. */
FIXTURE(ux) {
	int port;
	int a, b;	/* a associated under KEY */
	char buf[64];
	union {
		char c[CMSG_SPACE(sizeof(int) * 4) +
		       CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
};

FIXTURE_VARIANT(ux) {
	int type;
};

FIXTURE_VARIANT_ADD(ux, dgram) { .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(ux, seqpacket) { .type = SOCK_SEQPACKET };

FIXTURE_SETUP(ux)
{
	int sp[2];

	self->b = -1;
	sock_fixture_port(_metadata, &self->port);
	ASSERT_EQ(0, socketpair(AF_UNIX, variant->type | SOCK_CLOEXEC, 0, sp));
	self->a = sp[0];
	self->b = sp[1];
	ASSERT_EQ(0, cport_associate(self->port, self->a, KEY, 0));
}

FIXTURE_TEARDOWN(ux)
{
	cport_close(self->port);
	close(self->a);
	close(self->b);
}

/* Send @fd over plain @sock with SCM_RIGHTS, and @data. */
static int send_fd(int sock, int fd, const char *data)
{
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.c,
			      .msg_controllen = sizeof(u.c) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == (ssize_t)iov.iov_len ? 0 : -errno;
}

/* The descriptor of the first SCM_RIGHTS in @msg, or -1. */
static int rights_fd(struct msghdr *msg)
{
	struct cmsghdr *cm;
	int fd;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			return fd;
		}
	return -1;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* SCM_CREDENTIALS received with SO_PASSCRED, and sent by SENDMSG. */
TEST_F(ux, credentials)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = self->ctl.c,
			      .msg_controllen = sizeof(self->ctl.c) };
	struct ucred cr = { 0 };
	struct cmsghdr *cm;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	bool found = false;
	int one = 1;

	ASSERT_EQ(0, setsockopt(self->a, SOL_SOCKET, SO_PASSCRED, &one,
				sizeof(one)));
	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 1, 0));
	ASSERT_EQ(2, send(self->b, "hi", 2, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 1, 2, 2);
	EXPECT_EQ(0, msg.msg_flags);
	EXPECT_LT(0, msg.msg_controllen);
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
			found = true;
		}
	ASSERT_TRUE(found);
	EXPECT_EQ(getpid(), cr.pid);
	EXPECT_EQ(getuid(), cr.uid);
	EXPECT_EQ(getgid(), cr.gid);
}

/* SENDMSG with explicit credentials: the peer sees them. */
TEST_F(ux, sendmsg_credentials)
{
	struct ucred cr = { 0 }, mine = { getpid(), getuid(), getgid() };
	struct cmsghdr *cm;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int one = 1;

	{
		union {
			char c[CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		} u;
		struct iovec siov = { "yo", 2 };
		struct msghdr sm = { .msg_iov = &siov, .msg_iovlen = 1,
				     .msg_control = u.c,
				     .msg_controllen = sizeof(u.c) };
		char rc[CMSG_SPACE(sizeof(struct ucred))];
		struct iovec riov = { self->buf, sizeof(self->buf) };
		struct msghdr rm = { .msg_iov = &riov, .msg_iovlen = 1,
				     .msg_control = rc,
				     .msg_controllen = sizeof(rc) };

		cm = CMSG_FIRSTHDR(&sm);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_CREDENTIALS;
		cm->cmsg_len = CMSG_LEN(sizeof(mine));
		memcpy(CMSG_DATA(cm), &mine, sizeof(mine));
		ASSERT_EQ(0, setsockopt(self->b, SOL_SOCKET, SO_PASSCRED, &one,
					sizeof(one)));
		ASSERT_EQ(1, sub_sendmsg(self->port, &sqe, self->a, &sm, 2));
		if (sqe.status == CPORT_STATUS_PENDING) {
			ASSERT_EQ(1, wait1(self->port, &cqe));
		}
		ASSERT_TRUE(fd_ready(self->b, POLLIN, PROGRESS_MS));
		ASSERT_EQ(2, recvmsg(self->b, &rm, 0));
		cm = CMSG_FIRSTHDR(&rm);
		ASSERT_NE(NULL, cm);
		EXPECT_EQ(SCM_CREDENTIALS, cm->cmsg_type);
		memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
		EXPECT_EQ(getpid(), cr.pid);
	}
}

/*
 * SCM_RIGHTS: the descriptor is installed when the completion is dequeued,
 * not before; with CPORT_RECVMSG_CMSG_CLOEXEC it is close-on-exec.
 */
TEST_F(ux, rights_installed_at_dequeue)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = self->ctl.c,
			      .msg_controllen = sizeof(self->ctl.c) };
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int p[2], fd, before;
	char c;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, send_fd(self->b, p[1], "fd"));
	/* The data is there: an INLINE RECVMSG with a descriptor is posted. */
	cport_prep_recvmsg(&sqe, self->a, &msg, 5, CPORT_RECVMSG_CMSG_CLOEXEC);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_EQ(1, fdinfo_get(self->port, "files"));
	/* Not installed yet: the number the receive used is free again. */
	before = rights_fd(&msg);
	if (before >= 0)
		EXPECT_FALSE(fd_open(before));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 5, 2, 2);
	EXPECT_EQ(0, msg.msg_flags);
	fd = rights_fd(&msg);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(fd_open(fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD));
	EXPECT_EQ(0, fdinfo_get(self->port, "files"));
	/* It is the pipe's write end. */
	ASSERT_EQ(1, write(fd, "q", 1));
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ('q', c);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* A pending RECVMSG gets a descriptor; no CLOEXEC without the flag. */
TEST_F(ux, rights_pending)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = self->ctl.c,
			      .msg_controllen = sizeof(self->ctl.c) };
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int p[2], fd;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 6, 0));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, send_fd(self->b, p[0], "rd"));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECVMSG, KEY, 6, 2, 2);
	fd = rights_fd(&msg);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fcntl(fd, F_GETFD));
	ASSERT_EQ(1, write(p[1], "w", 1));
	ASSERT_EQ(1, read(fd, self->buf, 1));
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* A completion with descriptors discarded by destroy closes them. */
TEST_F(ux, rights_closed_on_discard)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = self->ctl.c,
			      .msg_controllen = sizeof(self->ctl.c) };
	struct cport_sqe sqe;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, send_fd(self->b, p[1], "w"));
	close(p[1]);
	cport_prep_recvmsg(&sqe, self->a, &msg, 7, 0);
	sqe.flags = CPORT_SQE_POST;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	/* Received: only the completion holds the write end now. */
	EXPECT_EQ(1, fdinfo_get(self->port, "files"));
	EXPECT_FALSE(fd_ready(p[0], POLLIN, 0));
	ASSERT_EQ(0, cport_destroy(self->port));
	/* Its last reference gone: the read end sees end of file. */
	ASSERT_TRUE(fd_ready(p[0], POLLIN | POLLHUP, PROGRESS_MS));
	EXPECT_EQ(0, read(p[0], self->buf, 1));
	close(p[0]);
}

/* No room for the descriptor: closed, CTRUNC, never silent. */
TEST_F(ux, rights_ctrunc)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	/* RECVMSG without a control buffer. */
	ASSERT_EQ(0, send_fd(self->b, p[1], "a"));
	ASSERT_EQ(1, sub_recvmsg(self->port, &sqe, self->a, &msg, 8, 0));
	if (sqe.status == CPORT_STATUS_PENDING) {
		ASSERT_EQ(1, wait1(self->port, &cqe));
	}
	EXPECT_CQE(cqe, CPORT_OP_RECVMSG, KEY, 8, 1, 1);
	EXPECT_EQ(CPORT_CQE_F_CTRUNC, cqe.flags);
	EXPECT_TRUE(msg.msg_flags & MSG_CTRUNC);
	/* Plain RECV: the same flag. */
	ASSERT_EQ(0, send_fd(self->b, p[1], "b"));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->a, self->buf, 8, 9, 0,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 9, 1, 1);
	EXPECT_EQ(CPORT_CQE_F_CTRUNC, cqe.flags);
	EXPECT_EQ(0, fdinfo_get(self->port, "files"));
	/* Neither copy of the write end lives on. */
	close(p[1]);
	ASSERT_TRUE(fd_ready(p[0], POLLIN | POLLHUP, PROGRESS_MS));
	EXPECT_EQ(0, read(p[0], self->buf, 1));
	close(p[0]);
}

/* SENDMSG passes a descriptor with SCM_RIGHTS. */
TEST_F(ux, sendmsg_rights)
{
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec siov = { "fd", 2 };
	struct msghdr sm = { .msg_iov = &siov, .msg_iovlen = 1,
			     .msg_control = u.c, .msg_controllen = sizeof(u.c) };
	struct iovec riov = { self->buf, sizeof(self->buf) };
	struct msghdr rm = { .msg_iov = &riov, .msg_iovlen = 1,
			     .msg_control = self->ctl.c,
			     .msg_controllen = sizeof(self->ctl.c) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&sm);
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int p[2], fd;
	char c;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	cport_prep_sendmsg(&sqe, self->a, &sm, 1);
	sqe.flags = CPORT_SQE_POST;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	/* The control data was copied at submission. */
	memset(u.c, 0, sizeof(u.c));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDMSG, KEY, 1, 2, 2);
	ASSERT_TRUE(fd_ready(self->b, POLLIN, PROGRESS_MS));
	ASSERT_EQ(2, recvmsg(self->b, &rm, 0));
	fd = rights_fd(&rm);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "k", 1));
	ASSERT_EQ(1, read(p[0], &c, 1));
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------------ */
/* Bad fields: each with its errno, the submission not taken.          */

FIXTURE(bad) {
	int port;
	int a, b, unassoc, pipe_r;
	struct dg_addr aa;
	char buf[64];
	void *none;	/* an unmapped page */
};

FIXTURE_SETUP(bad)
{
	struct dg_addr x;
	int p[2];

	sock_fixture_port(_metadata, &self->port);
	self->a = dg_socket(DG_UDP4, &self->aa);
	ASSERT_LE(0, self->a);
	self->b = dg_socket(DG_UDP4, &x);
	ASSERT_LE(0, self->b);
	self->unassoc = dg_socket(DG_UDP4, &x);
	ASSERT_LE(0, self->unassoc);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	self->pipe_r = p[0];
	close(p[1]);
	self->none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	ASSERT_NE(MAP_FAILED, self->none);
	ASSERT_EQ(0, cport_associate(self->port, self->a, KEY, 0));
}

FIXTURE_TEARDOWN(bad)
{
	cport_close(self->port);
	close(self->a);
	close(self->b);
	close(self->unassoc);
	close(self->pipe_r);
	munmap(self->none, 4096);
}

static int submit_expect(struct __test_metadata *_metadata, int port,
			 struct cport_sqe *sqe, int err, const char *what)
{
	int ret = submit1(port, sqe);

	EXPECT_EQ(-err, ret) {
		TH_LOG("%s: %d", what, ret);
	}
	EXPECT_EQ(0, sqe->status) {
		TH_LOG("%s: status", what);
	}
	return ret;
}

#define BAD_MSG(op, fd, m, err, ...) do {				\
	struct cport_sqe s_;						\
	if ((op) == CPORT_OP_RECVMSG)					\
		cport_prep_recvmsg(&s_, fd, m, 1, 0);			\
	else								\
		cport_prep_sendmsg(&s_, fd, m, 1);			\
	__VA_ARGS__;							\
	submit_expect(_metadata, self->port, &s_, err,			\
		      #op " " #err " " #__VA_ARGS__);			\
} while (0)

TEST_F(bad, fields)
{
	struct iovec iov = { self->buf, sizeof(self->buf) };
	struct iovec bad_iov = { (void *)KADDR, 8 };
	struct iovec neg_iov = { self->buf, (size_t)-1 };
	struct sockaddr_storage ss;
	struct msghdr good = { .msg_name = &ss, .msg_namelen = sizeof(ss),
			       .msg_iov = &iov, .msg_iovlen = 1 };
	struct msghdr m;
	struct cport_cqe cqe;
	int ops[] = { CPORT_OP_RECVMSG, CPORT_OP_SENDMSG };
	unsigned int i;
	int gone;

	gone = dup(self->a);
	close(gone);
	memcpy(&ss, &self->aa.ss, sizeof(ss));
	good.msg_namelen = self->aa.len;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		int op = ops[i];

		/* -EINVAL: the record. */
		BAD_MSG(op, self->a, &good, EINVAL, s_.len = 1);
		BAD_MSG(op, self->a, NULL, EINVAL);
		BAD_MSG(op, self->a, &good, EINVAL, s_.key = 1);
		BAD_MSG(op, self->a, &good, EINVAL, s_.op_flags = 2);
		BAD_MSG(op, self->a, &good, EINVAL, s_.op_flags = 1U << 31);
		BAD_MSG(op, self->a, &good, EINVAL,
			s_.flags = CPORT_SQE_INLINE | CPORT_SQE_POST);
		BAD_MSG(op, self->a, &good, EINVAL, s_.flags = 8);
		/* -EINVAL before -EBADF, -ENOTSOCK, -ENOENT. */
		BAD_MSG(op, gone, &good, EINVAL, s_.len = 1);
		BAD_MSG(op, gone, &good, EBADF);
		BAD_MSG(op, self->pipe_r, &good, ENOTSOCK);
		BAD_MSG(op, self->unassoc, &good, ENOENT);
		/* -ENOENT before anything of the msghdr. */
		BAD_MSG(op, self->unassoc, (void *)KADDR, ENOENT);
		/* The msghdr itself. */
		BAD_MSG(op, self->a, (void *)KADDR, EFAULT);
		BAD_MSG(op, self->a, self->none, EFAULT);
		m = good;
		m.msg_iovlen = CPORT_MAX_IOV + 1;
		BAD_MSG(op, self->a, &m, EINVAL);
		m = good;
		m.msg_controllen = CPORT_MAX_CONTROL + 1;
		m.msg_control = self->buf;
		BAD_MSG(op, self->a, &m, EINVAL);
		m = good;
		m.msg_namelen = -1;
		BAD_MSG(op, self->a, &m, EINVAL);
		/* An iovec array that cannot be read, a bad length, buffer. */
		m = good;
		m.msg_iov = (void *)KADDR;
		BAD_MSG(op, self->a, &m, EFAULT);
		m = good;
		m.msg_iov = self->none;
		BAD_MSG(op, self->a, &m, EFAULT);
		m = good;
		m.msg_iov = &neg_iov;
		BAD_MSG(op, self->a, &m, EINVAL);
		m = good;
		m.msg_iov = &bad_iov;
		BAD_MSG(op, self->a, &m, EFAULT);
		/* The address and the control buffer. */
		m = good;
		m.msg_name = (void *)KADDR;
		BAD_MSG(op, self->a, &m, EFAULT);
		m = good;
		m.msg_control = (void *)KADDR;
		m.msg_controllen = 16;
		BAD_MSG(op, self->a, &m, EFAULT);
	}
	/* SENDMSG: an address longer than any, one that cannot be read. */
	m = good;
	m.msg_namelen = sizeof(struct sockaddr_storage) + 1;
	BAD_MSG(CPORT_OP_SENDMSG, self->a, &m, EINVAL);
	m = good;
	m.msg_name = self->none;
	BAD_MSG(CPORT_OP_SENDMSG, self->a, &m, EFAULT);
	m = good;
	m.msg_control = self->none;
	m.msg_controllen = 16;
	BAD_MSG(CPORT_OP_SENDMSG, self->a, &m, EFAULT);
	/* RECVMSG: a longer msg_namelen is cut to the largest address. */
	m = good;
	m.msg_namelen = 100000;
	{
		struct cport_sqe s;

		cport_prep_recvmsg(&s, self->a, &m, 2, 0);
		ASSERT_EQ(1, submit1(self->port, &s));
		EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_EQ(-ECANCELED, cqe.res);
	}
	/* SENDMSG with bad control data fails in its completion. */
	{
		char ctl[CMSG_SPACE(4)] = { 0 };
		struct cport_sqe s;

		m = good;
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		((struct cmsghdr *)ctl)->cmsg_len = 1000;
		cport_prep_sendmsg(&s, self->a, &m, 3);
		s.flags = CPORT_SQE_POST;
		ASSERT_EQ(1, submit1(self->port, &s));
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_EQ(-EINVAL, cqe.res);
	}
	EXPECT_TRUE(wait_none(self->port, 20));
	EXPECT_EQ(0, fdinfo_get(self->port, "pending"));
}

/* Raw and other sockets still cannot be associated. */
TEST_F(bad, unsupported)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sp[2];

	ASSERT_LE(0, nl);
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, nl, 1, 0));
	close(nl);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp));
	EXPECT_EQ(0, cport_associate(self->port, sp[0], 2, 0));
	close(sp[0]);
	close(sp[1]);
}

TEST_HARNESS_MAIN
