// SPDX-License-Identifier: GPL-2.0
/*
 * Socket operations one at a time, over TCP/IPv4, TCP/IPv6 and unix
 * stream sockets: ASSOCIATE and DISSOCIATE, ACCEPT, RECV (what is there,
 * pending then data, data already there posted or returned inline,
 * CPORT_ASSOC_INLINE and its CPORT_SQE_POST override, CPORT_RECV_FILL,
 * end of file, peer reset, zero-byte recvs), SEND (small; several MB in
 * each direction and both at once against a slow plain read(); a peer
 * reset part-way; an inline one sent at submission without an operation,
 * in part with the rest queued first, behind a pending one, or with
 * outputs that cannot be written), a buffer that faults, close() with an operation
 * pending, progress with no thread waiting on the port, and the
 * per-operation timeout (an empty recv, a partly filled recv, a send the
 * peer never reads, and an operation that completes first).
 *
 * Every completion is checked whole: op, key, user_data, res and bytes,
 * and the data against a deterministic pattern.  Elapsed time is only
 * checked from below (a timeout may not fire early).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY		0x6b657900c0ffeeULL
#define SMALL_BUF	(64 << 10)	/* SO_SNDBUF/SO_RCVBUF for bulk tests */

/* Bytes in the bulk transfers: far beyond any socket buffer. */
static size_t bulk_len(void)
{
	return slow_kernel() ? (2 << 20) : (8 << 20);
}

/* Write @len pattern bytes (@seed, from @offset) to blocking @fd. */
static int write_pattern(int fd, size_t len, unsigned int seed, size_t offset)
{
	unsigned char tmp[4096];
	size_t n;
	int ret;

	while (len) {
		n = len < sizeof(tmp) ? len : sizeof(tmp);
		pattern_fill(tmp, n, seed, offset);
		ret = write_bounded(fd, tmp, n);
		if (ret)
			return ret;
		len -= n;
		offset += n;
	}
	return 0;
}

FIXTURE(sock) {
	int port;
	int s;			/* associated under KEY */
	int c;			/* its peer, plain */
	unsigned char buf[4096];
};

SOCK_KIND_VARIANTS(sock, );

FIXTURE_SETUP(sock)
{
	self->s = self->c = -1;
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_assoc(_metadata, self->port, variant->kind, KEY,
			   &self->s, &self->c);
	memset(self->buf, 0xa5, sizeof(self->buf));
}

FIXTURE_TEARDOWN(sock)
{
	cport_close(self->port);
	if (self->s >= 0)
		close(self->s);
	if (self->c >= 0)
		close(self->c);
}

/* --- ASSOCIATE, DISSOCIATE, ACCEPT ---------------------------------------- */

TEST_F(sock, associate_dissociate)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int other;

	/* Once per port; another port gets -EBUSY. */
	EXPECT_EQ(-EEXIST, cport_associate(self->port, self->s, KEY, 0));
	other = cport_create(NULL);
	ASSERT_LE(0, other);
	EXPECT_EQ(-EBUSY, cport_associate(other, self->s, KEY, 0));
	EXPECT_EQ(-ENOENT, cport_dissociate(other, self->s));

	/* Not while an operation is pending on it. */
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf, 16, 1,
			      0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_EQ(-EBUSY, cport_dissociate(self->port, self->s));
	ASSERT_EQ(0, write_bounded(self->c, "x", 1));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 1, 1, 1);

	/* Dissociated: operations are refused, the other port may take it. */
	EXPECT_EQ(0, cport_dissociate(self->port, self->s));
	EXPECT_EQ(-ENOENT, cport_dissociate(self->port, self->s));
	EXPECT_EQ(-ENOENT, sub_recv(self->port, &sqe, self->s, self->buf, 16,
				    2, 0, 0, 0));
	EXPECT_EQ(0, cport_associate(other, self->s, KEY + 1, 0));
	EXPECT_EQ(-EBUSY, cport_associate(self->port, self->s, KEY, 0));
	EXPECT_EQ(0, cport_dissociate(other, self->s));
	/* And back, under a new key that its completions carry. */
	EXPECT_EQ(0, cport_associate(self->port, self->s, KEY + 2, 0));
	ASSERT_EQ(0, write_bounded(self->c, "y", 1));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf, 16, 3,
			      0, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY + 2, 3, 1, 1);
	EXPECT_EQ('y', self->buf[0]);
	EXPECT_TRUE(wait_none(other, 0));
	cport_close(other);
}

/* Sockets that cannot be associated (datagrams can: sock_dgram_test). */
TEST_F(sock, associate_unsupported_socket)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int f = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, nl);
	ASSERT_LE(0, f);
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, nl, 1, 0));
	/* Not a socket, and no poll method: READ and WRITE refuse it too. */
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, f, 1, 0));
	EXPECT_EQ(-EBADF, cport_associate(self->port, 999999, 1, 0));
	close(nl);
	close(f);
}

TEST_F(sock, accept)
{
	struct sockaddr_storage addr, peer;
	socklen_t plen = sizeof(peer);
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int l, cl, fd, fl;

	l = sock_listener(variant->kind);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, cport_associate(self->port, l, KEY + 10, 0));

	/* Not listening: -EINVAL. */
	cport_prep_accept(&sqe, self->s, NULL, 0, 1, 0, 0);
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));

	/* Pending until a client connects. */
	memset(&addr, 0xa5, sizeof(addr));
	cport_prep_accept(&sqe, l, &addr, sizeof(addr), 7, 0,
			  CPORT_ACCEPT_CLOEXEC);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	cl = sock_connect(l);
	ASSERT_LE(0, cl);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_EQ(CPORT_OP_ACCEPT, cqe.op);
	EXPECT_EQ(KEY + 10, cqe.key);
	EXPECT_EQ(7, cqe.user_data);
	ASSERT_LE(0, cqe.res);
	fd = cqe.res;
	ASSERT_EQ(0, getpeername(fd, (struct sockaddr *)&peer, &plen));
	EXPECT_EQ(plen, cqe.bytes);
	EXPECT_EQ(0, memcmp(&addr, &peer, plen));
	fl = fcntl(fd, F_GETFD);
	EXPECT_TRUE(fl >= 0 && (fl & FD_CLOEXEC));
	fl = fcntl(fd, F_GETFL);
	EXPECT_TRUE(fl >= 0 && !(fl & O_NONBLOCK));
	/* It is the client's peer. */
	ASSERT_EQ(0, write_bounded(fd, "hello", 5));
	ASSERT_EQ(0, read_bounded(cl, self->buf, 5));
	EXPECT_EQ(0, memcmp(self->buf, "hello", 5));
	close(fd);
	close(cl);

	/* A connection already waiting, inline, associated under a key. */
	cl = sock_connect(l);
	ASSERT_LE(0, cl);
	ASSERT_TRUE(fd_ready(l, POLLIN, PROGRESS_MS));
	cport_prep_accept(&sqe, l, NULL, 0, 8, KEY + 11,
			  CPORT_ACCEPT_ASSOCIATE | CPORT_ACCEPT_NONBLOCK);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(CPORT_STATUS_INLINE, sqe.status);
	ASSERT_LE(0, sqe.res);
	EXPECT_EQ(0, sqe.bytes);
	fd = sqe.res;
	fl = fcntl(fd, F_GETFL);
	EXPECT_TRUE(fl >= 0 && (fl & O_NONBLOCK));
	EXPECT_TRUE(wait_none(self->port, 0));
	/* Already associated: its completions carry the new key. */
	EXPECT_EQ(-EEXIST, cport_associate(self->port, fd, 1, 0));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, fd, self->buf, 64, 9, 0, 0, 0));
	ASSERT_EQ(0, write_bounded(cl, "abc", 3));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY + 11, 9, 3, 3);
	EXPECT_EQ(0, memcmp(self->buf, "abc", 3));
	close(fd);
	close(cl);
	close(l);
}

/* --- RECV ----------------------------------------------------------------- */

/* A 4096-byte recv gets the 10 bytes that arrive and completes. */
TEST_F(sock, recv_pending_then_data)
{
	unsigned char data[10];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 0x1234, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	/* Pending while nothing arrives. */
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	pattern_fill(data, sizeof(data), 1, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, sizeof(data)));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 0x1234, 10, 10);
	EXPECT_EQ(-1, pattern_check(self->buf, 10, 1, 0));
	/* Nothing beyond what was received was written. */
	EXPECT_EQ(0xa5, self->buf[10]);
	EXPECT_TRUE(wait_none(self->port, 0));
}

/* Data already there: by default a completion is posted all the same. */
TEST_F(sock, recv_data_there_posts)
{
	unsigned char data[10];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 2, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, sizeof(data)));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 5, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 5, 10, 10);
	EXPECT_EQ(-1, pattern_check(self->buf, 10, 2, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

/* CPORT_SQE_INLINE: the result is in the submission, nothing is posted. */
TEST_F(sock, recv_inline)
{
	unsigned char data[10];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 3, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, sizeof(data)));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 6, 0, CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(10, sqe.res);
	EXPECT_EQ(10, sqe.bytes);
	EXPECT_EQ(-1, pattern_check(self->buf, 10, 3, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	/* Nothing there: it goes pending and posts as usual. */
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 7, 0, CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, write_bounded(self->c, data, 4));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 7, 4, 4);
	EXPECT_TRUE(wait_none(self->port, 0));

	/* Both flags at once: -EINVAL, status not written. */
	cport_prep_recv(&sqe, self->s, self->buf, 16, 8, 0);
	sqe.flags = CPORT_SQE_INLINE | CPORT_SQE_POST;
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	EXPECT_EQ(0, sqe.status);
}

/* CPORT_ASSOC_INLINE makes inline the default; CPORT_SQE_POST overrides. */
TEST_F(sock, assoc_inline_default)
{
	unsigned char data[20];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(0, cport_dissociate(self->port, self->s));
	ASSERT_EQ(0, cport_associate(self->port, self->s, KEY,
				     CPORT_ASSOC_INLINE));
	pattern_fill(data, sizeof(data), 4, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, 10));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 1, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(10, sqe.res);
	EXPECT_EQ(10, sqe.bytes);
	EXPECT_EQ(-1, pattern_check(self->buf, 10, 4, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	ASSERT_EQ(0, write_bounded(self->c, data + 10, 10));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 2, 0, CPORT_SQE_POST, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 2, 10, 10);
	EXPECT_EQ(-1, pattern_check(self->buf, 10, 4, 10));

	/* Inline sends too. */
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, data, 20, 3, 0, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(20, sqe.res);
	EXPECT_EQ(20, sqe.bytes);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, read_bounded(self->c, self->buf, 20));
	EXPECT_EQ(-1, pattern_check(self->buf, 20, 4, 0));
}

/* CPORT_RECV_FILL completes only when the buffer is full. */
TEST_F(sock, recv_fill)
{
	unsigned char data[1000];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 5, 0);
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf, 1000, 9,
			      CPORT_RECV_FILL, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, write_bounded(self->c, data, 100));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, write_bounded(self->c, data + 100, 1));
	ASSERT_EQ(0, write_bounded(self->c, data + 101, 398));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, write_bounded(self->c, data + 499, 500));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	/* One more than it needs: the last byte stays in the socket. */
	ASSERT_EQ(0, write_bounded(self->c, data + 999, 1));
	ASSERT_EQ(0, write_bounded(self->c, "Z", 1));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 9, 1000, 1000);
	EXPECT_EQ(0, memcmp(self->buf, data, 1000));
	EXPECT_EQ(0xa5, self->buf[1000]);
	ASSERT_EQ(0, read_bounded(self->s, self->buf, 1));
	EXPECT_EQ('Z', self->buf[0]);
	EXPECT_TRUE(wait_none(self->port, 0));
}

/* Fill mode at end of file: res is what was received. */
TEST_F(sock, recv_fill_eof)
{
	unsigned char data[300];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 6, 0);
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf, 1000, 10,
			      CPORT_RECV_FILL, 0, 0));
	ASSERT_EQ(0, write_bounded(self->c, data, 300));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 10, 300, 300);
	EXPECT_EQ(0, memcmp(self->buf, data, 300));
	/* After that, end of file. */
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf, 1000, 11,
			      CPORT_RECV_FILL, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 11, 0, 0);
}

TEST_F(sock, recv_eof)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 12, 0, 0, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 12, 0, 0);
	EXPECT_EQ(0xa5, self->buf[0]);
	/* Already at end of file: inline with 0. */
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 13, 0, CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(0, sqe.res);
	EXPECT_EQ(0, sqe.bytes);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	/* The other direction still works. */
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, "ok", 2, 14, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 14, 2, 2);
	ASSERT_EQ(0, read_bounded(self->c, self->buf, 2));
	EXPECT_EQ(0, memcmp(self->buf, "ok", 2));
}

/*
 * The peer resets: close() with SO_LINGER 0 and unread data (a reset for
 * TCP; for unix sockets unread data is what makes it a reset).
 */
static void reset_peer(int s, int *c)
{
	send(s, "u", 1, MSG_NOSIGNAL);
	fd_ready(*c, POLLIN, PROGRESS_MS);
	sock_set_rst_on_close(*c);
	close(*c);
	*c = -1;
}

TEST_F(sock, recv_reset)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 15, 0, 0, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	reset_peer(self->s, &self->c);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 15, -ECONNRESET, 0);
	EXPECT_TRUE(wait_none(self->port, 0));
}

/* A fill-mode recv that got part of the data, then a reset: bytes = part. */
TEST_F(sock, recv_fill_reset)
{
	unsigned char data[100];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 7, 0);
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf, 1000, 16,
			      CPORT_RECV_FILL, 0, 0));
	ASSERT_EQ(0, write_bounded(self->c, data, 100));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	reset_peer(self->s, &self->c);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 16, -ECONNRESET, 100);
	EXPECT_EQ(0, memcmp(self->buf, data, 100));
}

/* A zero-byte recv: readiness only; consumes nothing. */
TEST_F(sock, recv_zero_byte)
{
	unsigned char data[100];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 8, 0);
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, NULL, 0, 17, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, write_bounded(self->c, data, 100));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 17, 0, 0);
	/* Everything is still there. */
	ASSERT_EQ(0, read_bounded(self->s, self->buf, 100));
	EXPECT_EQ(0, memcmp(self->buf, data, 100));
	EXPECT_FALSE(fd_ready(self->s, POLLIN, 0));

	/* Data already there: completes at once, inline if asked. */
	ASSERT_EQ(0, write_bounded(self->c, data, 10));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, NULL, 0, 18, 0,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(0, sqe.res);
	EXPECT_EQ(0, sqe.bytes);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, read_bounded(self->s, self->buf, 10));
	EXPECT_EQ(0, memcmp(self->buf, data, 10));

	/* Not with a buffer address, not in fill mode. */
	cport_prep_recv(&sqe, self->s, self->buf, 0, 19, 0);
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	cport_prep_recv(&sqe, self->s, NULL, 0, 19, CPORT_RECV_FILL);
	EXPECT_EQ(-EINVAL, submit1(self->port, &sqe));
	EXPECT_TRUE(wait_none(self->port, 0));
}

TEST_F(sock, recv_zero_byte_eof)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, NULL, 0, 20, 0, 0, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 20, 0, 0);
	EXPECT_EQ(0, read(self->s, self->buf, 1));
}

/* A zero-byte recv reports a reset as the socket's pending error. */
TEST_F(sock, recv_zero_byte_reset)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, NULL, 0, 21, 0, 0, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	reset_peer(self->s, &self->c);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 21, -ECONNRESET, 0);
}

/* --- SEND ----------------------------------------------------------------- */

TEST_F(sock, send_small)
{
	unsigned char data[100];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 9, 0);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, data, 100, 22, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 22, 100, 100);
	ASSERT_EQ(0, read_bounded(self->c, self->buf, 100));
	EXPECT_EQ(0, memcmp(self->buf, data, 100));

	/* Room in the socket: inline when asked. */
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, data, 50, 23,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(50, sqe.res);
	EXPECT_EQ(50, sqe.bytes);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, read_bounded(self->c, self->buf, 50));
	EXPECT_EQ(0, memcmp(self->buf, data, 50));
	EXPECT_FALSE(fd_ready(self->c, POLLIN, 0));
}

/*
 * An inline SEND that does not fit goes out in part at once and the rest
 * as an operation: one completion, every byte, in order.
 */
TEST_F_TIMEOUT(sock, send_inline_partial, 120)
{
	size_t len = slow_kernel() ? (1 << 20) : (4 << 20);
	unsigned char *src = malloc(len), *dst = malloc(len);
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	pattern_fill(src, len, 31, 0);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, src, len, 70,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, read_bounded(self->c, dst, len));
	EXPECT_EQ(-1, pattern_check(dst, len, 31, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 70, len, len);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	free(src);
	free(dst);
}

/* An inline SEND behind a pending one waits its turn. */
TEST_F_TIMEOUT(sock, send_inline_behind_pending, 120)
{
	size_t len = slow_kernel() ? (1 << 20) : (4 << 20), i;
	unsigned char *src = malloc(len), *dst = malloc(len + 100);
	unsigned char small[100];
	struct cport_sqe sqe;
	struct cport_cqe cqe[2];
	int n = 0, ret;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	pattern_fill(src, len, 32, 0);
	pattern_fill(small, sizeof(small), 32, len);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, src, len, 71, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, small, sizeof(small),
			      72, CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, read_bounded(self->c, dst, len + sizeof(small)));
	/* Every byte of the first, then the second: one stream. */
	EXPECT_EQ(-1, pattern_check(dst, len + sizeof(small), 32, 0));
	while (n < 2) {
		ret = cport_wait(self->port, cqe + n, 2 - n,
				 (long long)PROGRESS_MS * NSEC_PER_MSEC);
		ASSERT_LT(0, ret);
		n += ret;
	}
	EXPECT_CQE_EXACT(cqe[0], CPORT_OP_SEND, KEY, 71, len, len);
	EXPECT_CQE_EXACT(cqe[1], CPORT_OP_SEND, KEY, 72, 100, 100);
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(wait_none(self->port, 0));
	free(src);
	free(dst);
}

/* An inline SEND whose outputs cannot be written is refused, not sent. */
TEST_F(sock, send_inline_outputs_unwritable)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct cport_sqe *sqe;
	void *page;

	page = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	sqe = page;
	cport_prep_send(sqe, self->s, "hello", 5, 73);
	sqe->flags = CPORT_SQE_INLINE;
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, cport_submit(self->port, sqe, 1));
	EXPECT_FALSE(fd_ready(self->c, POLLIN, GRACE_MS));
	EXPECT_TRUE(wait_none(self->port, 0));
	munmap(page, pg);
}

/* Several MB against a slow plain reader: res == len, data intact. */
TEST_F_TIMEOUT(sock, send_large, 120)
{
	size_t len = bulk_len();
	unsigned char *src = malloc(len), *dst = malloc(len);
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	long bad;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	pattern_fill(src, len, 10, 0);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, src, len, 24, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	/* It cannot be done before the peer has read. */
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, read_slowly(self->c, dst, len / 2, 16 << 10, 100));
	EXPECT_EQ(0, port_drain(self->port, &cqe, 1));
	ASSERT_EQ(0, read_slowly(self->c, dst + len / 2, len - len / 2,
				 64 << 10, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 24, len, len);
	bad = pattern_check(dst, len, 10, 0);
	EXPECT_EQ(-1, bad);
	EXPECT_FALSE(fd_ready(self->c, POLLIN, 0));
	free(src);
	free(dst);
}

struct writer {
	pthread_t thread;
	int fd;
	size_t len;
	unsigned int seed;
	int ret;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;

	w->ret = write_pattern(w->fd, w->len, w->seed, 0);
	return NULL;
}

/* A large RECV (fill) and a large SEND at once on one socket. */
TEST_F_TIMEOUT(sock, duplex_large, 120)
{
	size_t len = bulk_len();
	unsigned char *src = malloc(len), *dst = malloc(len);
	unsigned char *rbuf = malloc(len);
	struct writer w = { .fd = self->c, .len = len, .seed = 12 };
	struct cport_sqe sqes[2];
	struct cport_cqe cqes[2];
	int n = 0, i, got;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_NE(NULL, rbuf);
	set_bufs(self->s, SMALL_BUF, SMALL_BUF);
	set_bufs(self->c, SMALL_BUF, SMALL_BUF);
	pattern_fill(src, len, 11, 0);
	cport_prep_send(&sqes[0], self->s, src, len, 1);
	cport_prep_recv(&sqes[1], self->s, rbuf, len, 2, CPORT_RECV_FILL);
	ASSERT_EQ(2, cport_submit(self->port, sqes, 2));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqes[0].status);
	EXPECT_EQ(CPORT_STATUS_PENDING, sqes[1].status);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, writer_fn, &w));
	EXPECT_EQ(0, read_slowly(self->c, dst, len, 16 << 10, 50));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	while (n < 2) {
		got = cport_wait(self->port, cqes + n, 2 - n,
				 (long long)PROGRESS_MS * NSEC_PER_MSEC);
		ASSERT_LT(0, got);
		n += got;
	}
	for (i = 0; i < 2; i++) {
		int j = cqes[i].user_data == 1 ? 0 : 1;

		EXPECT_CQE_EXACT(cqes[i], j ? CPORT_OP_RECV : CPORT_OP_SEND,
				 KEY, j + 1, len, len);
	}
	EXPECT_NE(cqes[0].user_data, cqes[1].user_data);
	EXPECT_EQ(-1, pattern_check(dst, len, 11, 0));
	EXPECT_EQ(-1, pattern_check(rbuf, len, 12, 0));
	EXPECT_TRUE(wait_none(self->port, 0));
	free(src);
	free(dst);
	free(rbuf);
}

/* The peer resets part-way through a large send. */
TEST_F_TIMEOUT(sock, send_reset_midway, 60)
{
	size_t len = bulk_len(), part = 256 << 10;
	unsigned char *src = malloc(len), *dst = malloc(part);
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	pattern_fill(src, len, 13, 0);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, src, len, 25, 0, 0));
	ASSERT_EQ(0, read_bounded(self->c, dst, part));
	EXPECT_EQ(-1, pattern_check(dst, part, 13, 0));
	/* More is queued behind: the close is a reset. */
	ASSERT_TRUE(fd_ready(self->c, POLLIN, PROGRESS_MS));
	sock_set_rst_on_close(self->c);
	close(self->c);
	self->c = -1;
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_EQ(CPORT_OP_SEND, cqe.op);
	EXPECT_EQ(KEY, cqe.key);
	EXPECT_EQ(25, cqe.user_data);
	/*
	 * TCP reports the reset (sk_err); a unix socket may report its
	 * pending -ECONNRESET or the peer's shutdown (-EPIPE), whichever its
	 * sendmsg checks first.
	 */
	if (variant->kind == SK_UNIX) {
		EXPECT_TRUE(cqe.res == -ECONNRESET || cqe.res == -EPIPE) {
			TH_LOG("res %lld", (long long)cqe.res);
		}
	} else {
		EXPECT_EQ(-ECONNRESET, cqe.res);
	}
	EXPECT_LE(part, cqe.bytes);
	EXPECT_GT(len, cqe.bytes);
	TH_LOG("%s: reset after %llu of %zu bytes: %s",
	       sock_kind_name(variant->kind), (unsigned long long)cqe.bytes,
	       len, strerror(-cqe.res));
	EXPECT_TRUE(wait_none(self->port, 0));
	free(src);
	free(dst);
}

/* The data moves while no thread waits on the port. */
TEST_F_TIMEOUT(sock, progress_without_waiter, 60)
{
	size_t len = 4 << 20;
	unsigned char *src = malloc(len), *dst = malloc(len);
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, SMALL_BUF);
	set_bufs(self->c, SMALL_BUF, SMALL_BUF);
	pattern_fill(src, len, 14, 0);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, src, len, 26, 0, 0));
	ASSERT_EQ(0, read_bounded(self->c, dst, len));
	EXPECT_EQ(-1, pattern_check(dst, len, 14, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 26, len, len);

	/* And the other way: a fill recv drains what the peer writes. */
	memset(dst, 0, len);
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, dst, len, 27,
			      CPORT_RECV_FILL, 0, 0));
	ASSERT_EQ(0, write_pattern(self->c, len, 15, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 27, len, len);
	EXPECT_EQ(-1, pattern_check(dst, len, 15, 0));
	free(src);
	free(dst);
}

/*
 * A buffer that faults (PROT_NONE) is a valid user range, so the
 * submission is taken; the operation fails with -EFAULT, and the socket
 * stays usable with nothing lost.
 */
TEST_F(sock, fault_buffer)
{
	unsigned char data[100];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	void *bad = fault_page();

	ASSERT_NE(NULL, bad);
	pattern_fill(data, sizeof(data), 18, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, 100));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, bad, 64, 35, 0, 0,
			      0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 35, -EFAULT, 0);
	/* Nothing was taken from the socket. */
	ASSERT_EQ(0, read_bounded(self->s, self->buf, 100));
	EXPECT_EQ(0, memcmp(self->buf, data, 100));

	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, bad, 64, 36, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 36, -EFAULT, 0);
	EXPECT_FALSE(fd_ready(self->c, POLLIN, GRACE_MS));

	/* Still usable both ways. */
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, data, 10, 37, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 37, 10, 10);
	ASSERT_EQ(0, read_bounded(self->c, self->buf, 10));
	EXPECT_EQ(0, memcmp(self->buf, data, 10));
	munmap(bad, getpagesize());
}

/*
 * A pending operation holds the socket's file: close() neither cancels
 * it nor closes the connection until it completes (or is cancelled).
 */
TEST_F(sock, close_with_pending)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int fds[2] = { -1, -1 };

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 38, 0, 0, 0));
	close(self->s);
	self->s = -1;
	/* The peer sees no end of file while the recv pends. */
	EXPECT_FALSE(fd_ready(self->c, POLLIN, GRACE_MS));
	EXPECT_TRUE(wait_none(self->port, 0));
	ASSERT_EQ(0, write_bounded(self->c, "hello", 5));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 38, 5, 5);
	EXPECT_EQ(0, memcmp(self->buf, "hello", 5));
	/* Done: now it closes. */
	ASSERT_TRUE(fd_ready(self->c, POLLIN, PROGRESS_MS));
	EXPECT_EQ(0, read(self->c, self->buf, 1));

	/* Cancelled by key, it closes too. */
	ASSERT_EQ(0, sock_pair(variant->kind, fds));
	ASSERT_EQ(0, cport_associate(self->port, fds[0], KEY + 20, 0));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, fds[0], self->buf,
			      sizeof(self->buf), 39, 0, 0, 0));
	close(fds[0]);
	EXPECT_FALSE(fd_ready(fds[1], POLLIN, GRACE_MS));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY + 20));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY + 20, 39, -ECANCELED, 0);
	ASSERT_TRUE(fd_ready(fds[1], POLLIN, PROGRESS_MS));
	EXPECT_EQ(0, read(fds[1], self->buf, 1));
	close(fds[1]);
}

/* --- timeout_ns ----------------------------------------------------------- */

TEST_F(sock, timeout_recv_empty)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	long long start = now_ns();

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 28, 0, 0,
			      50 * NSEC_PER_MSEC));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_LE(50 * NSEC_PER_MSEC, now_ns() - start);
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 28, -ETIMEDOUT, 0);
	EXPECT_EQ(0xa5, self->buf[0]);
	/* The socket is still usable and lost nothing. */
	ASSERT_EQ(0, write_bounded(self->c, "abc", 3));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 29, 0, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 29, 3, 3);
	EXPECT_EQ(0, memcmp(self->buf, "abc", 3));
}

/* A fill-mode recv that got part of its data, then timed out. */
TEST_F(sock, timeout_recv_fill_partial)
{
	unsigned char data[1000];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 16, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, 300));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf, 1000, 30,
			      CPORT_RECV_FILL, 0, 100 * NSEC_PER_MSEC));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 30, -ETIMEDOUT, 300);
	EXPECT_EQ(0, memcmp(self->buf, data, 300));
	/* It took exactly those 300: the rest follows them. */
	ASSERT_EQ(0, write_bounded(self->c, data + 300, 700));
	ASSERT_EQ(0, read_bounded(self->s, self->buf, 700));
	EXPECT_EQ(0, memcmp(self->buf, data + 300, 700));
}

/* A send the peer never reads: -ETIMEDOUT, bytes = what the peer gets. */
TEST_F_TIMEOUT(sock, timeout_send, 60)
{
	size_t len = bulk_len();
	unsigned char *src = malloc(len), *dst = malloc(len);
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	pattern_fill(src, len, 17, 0);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, src, len, 31, 0,
			      200 * NSEC_PER_MSEC));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_EQ(CPORT_OP_SEND, cqe.op);
	EXPECT_EQ(31, cqe.user_data);
	EXPECT_EQ(-ETIMEDOUT, cqe.res);
	EXPECT_LT(0, cqe.bytes);
	ASSERT_GT(len, cqe.bytes);
	ASSERT_EQ(0, read_bounded(self->c, dst, cqe.bytes));
	EXPECT_EQ(-1, pattern_check(dst, cqe.bytes, 17, 0));
	/* Not a byte more. */
	EXPECT_FALSE(fd_ready(self->c, POLLIN, GRACE_MS));
	TH_LOG("%s: %llu bytes sent before the timeout",
	       sock_kind_name(variant->kind), (unsigned long long)cqe.bytes);
	free(src);
	free(dst);
}

/* An operation that completes first is not completed again at timeout. */
TEST_F(sock, timeout_after_completion)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 32, 0, 0,
			      200 * NSEC_PER_MSEC));
	ASSERT_EQ(0, write_bounded(self->c, "abcd", 4));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	ASSERT_EQ(4, cqe.res) {
		TH_LOG("the recv did not complete before its timeout");
	}
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 32, 4, 4);
	/* Inline completions with a timeout, both directions. */
	ASSERT_EQ(0, write_bounded(self->c, "ef", 2));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 33, 0, CPORT_SQE_INLINE,
			      100 * NSEC_PER_MSEC));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(2, sqe.res);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, "gh", 2, 34, 0,
			      100 * NSEC_PER_MSEC));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 34, 2, 2);
	/* Well past every timeout: nothing more. */
	EXPECT_TRUE(wait_none(self->port, 500));
	ASSERT_EQ(0, read_bounded(self->c, self->buf, 2));
	EXPECT_EQ(0, memcmp(self->buf, "gh", 2));
}

/* --- Inline and posted (Windows' default mode) ------------------------------- */

/*
 * CPORT_SQE_INLINE_POST: an immediate result is written into the
 * submission and its completion is posted too, exactly one; a result that
 * is not immediate goes pending and posts once, as usual.
 */
TEST_F(sock, recv_inline_post)
{
	unsigned char data[10];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 50, 0);
	ASSERT_EQ(0, write_bounded(self->c, data, sizeof(data)));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 60, 0, CPORT_SQE_INLINE_POST,
			      0));
	ASSERT_EQ(CPORT_STATUS_INLINE_POSTED, sqe.status);
	EXPECT_EQ(10, sqe.res);
	EXPECT_EQ(10, sqe.bytes);
	EXPECT_EQ(-1, pattern_check(self->buf, 10, 50, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 60, 10, 10);
	EXPECT_EQ(CPORT_CQE_F_INLINE, cqe.flags);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	/* Nothing there: pending, one completion when data comes. */
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 61, 0, CPORT_SQE_INLINE_POST,
			      0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, write_bounded(self->c, data, 4));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 61, 4, 4);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	/* A SEND with room completes at once: inline and posted. */
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, data, 7, 62,
			      CPORT_SQE_INLINE_POST, 0));
	ASSERT_EQ(CPORT_STATUS_INLINE_POSTED, sqe.status);
	EXPECT_EQ(7, sqe.res);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_SEND, KEY, 62, 7, 7);
	EXPECT_EQ(CPORT_CQE_F_INLINE, cqe.flags);
	EXPECT_EQ(0, read_bounded(self->c, self->buf, 7));
	EXPECT_EQ(-1, pattern_check(self->buf, 7, 50, 0));
	EXPECT_TRUE(wait_none(self->port, 0));

	/* End of file is a success (0): inline and posted. */
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->s, self->buf,
			      sizeof(self->buf), 63, 0, CPORT_SQE_INLINE_POST,
			      0));
	ASSERT_EQ(CPORT_STATUS_INLINE_POSTED, sqe.status);
	EXPECT_EQ(0, sqe.res);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 63, 0, 0);
	EXPECT_EQ(CPORT_CQE_F_INLINE, cqe.flags);

	/* A failure at once is returned inline and posts nothing. */
	ASSERT_EQ(0, shutdown(self->s, SHUT_WR));
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, data, 7, 64,
			      CPORT_SQE_INLINE_POST, 0));
	ASSERT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(-EPIPE, sqe.res);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

/*
 * An ACCEPT inline and posted: the connection is installed once, now;
 * the completion carries the same descriptor number and installs nothing.
 */
TEST(accept_inline_post)
{
	unsigned char buf[2];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int port, l, cl, fd, before;

	port = cport_create(NULL);
	ASSERT_LE(0, port);
	l = sock_listener(SK_TCP4);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, cport_associate(port, l, KEY, 0));
	cl = sock_connect(l);
	ASSERT_LE(0, cl);
	ASSERT_TRUE(fd_ready(l, POLLIN, PROGRESS_MS));
	before = fd_count();
	cport_prep_accept(&sqe, l, NULL, 0, 70, 0, CPORT_ACCEPT_CLOEXEC);
	sqe.flags = CPORT_SQE_INLINE_POST;
	ASSERT_EQ(1, submit1(port, &sqe));
	ASSERT_EQ(CPORT_STATUS_INLINE_POSTED, sqe.status);
	ASSERT_LE(0, sqe.res);
	fd = sqe.res;
	EXPECT_EQ(before + 1, fd_count());
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_ACCEPT, KEY, 70, fd, 0);
	EXPECT_EQ(CPORT_CQE_F_INLINE, cqe.flags);
	EXPECT_EQ(before + 1, fd_count());
	/* It is the client's peer. */
	ASSERT_EQ(0, write_bounded(fd, "hi", 2));
	ASSERT_EQ(0, read_bounded(cl, buf, 2));
	EXPECT_EQ(0, memcmp(buf, "hi", 2));
	EXPECT_TRUE(wait_none(port, 0));
	close(fd);
	close(cl);
	close(l);
	cport_close(port);
}

/*
 * With the completion queue full (max_queued user POSTs), an immediate
 * result in Windows' default mode is still posted: the operation's own
 * completion was allocated and counted when it was submitted.
 */
TEST(inline_post_queue_full)
{
	struct cport_setup setup = { .max_queued = 2 };
	struct cport_cqe cqes[4];
	struct cport_sqe sqe;
	unsigned char buf[8];
	int port, sv[2];

	port = cport_create(&setup);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, cport_associate(port, sv[0], KEY, 0));
	ASSERT_EQ(0, cport_post(port, 1, 1, 0, 0));
	ASSERT_EQ(0, cport_post(port, 1, 2, 0, 0));
	EXPECT_EQ(-ENOSPC, cport_post(port, 1, 3, 0, 0));
	ASSERT_EQ(3, write(sv[1], "abc", 3));
	ASSERT_TRUE(fd_ready(sv[0], POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(port, &sqe, sv[0], buf, sizeof(buf), 4, 0,
			      CPORT_SQE_INLINE_POST, 0));
	ASSERT_EQ(CPORT_STATUS_INLINE_POSTED, sqe.status);
	EXPECT_EQ(3, sqe.res);
	ASSERT_EQ(3, port_drain(port, cqes, 4));
	EXPECT_EQ(1, cqes[0].user_data);
	EXPECT_EQ(2, cqes[1].user_data);
	EXPECT_CQE(cqes[2], CPORT_OP_RECV, KEY, 4, 3, 3);
	EXPECT_EQ(CPORT_CQE_F_INLINE, cqes[2].flags);
	cport_close(port);
	close(sv[0]);
	close(sv[1]);
}

/* --- Scatter/gather ----------------------------------------------------------- */

/*
 * CPORT_RECV_VEC with CPORT_RECV_FILL: the segments (one of them empty)
 * are filled in order as one buffer, across several arrivals; the array
 * is read at submission, so it is spoiled right after.
 */
TEST_F(sock, recv_vec_fill)
{
	unsigned char data[20], a[3], b[5], d[1], e[11];
	struct iovec iov[5] = {
		{ a, 3 }, { NULL, 0 }, { b, 5 }, { d, 1 }, { e, 11 },
	};
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	pattern_fill(data, sizeof(data), 30, 0);
	cport_prep_recvv(&sqe, self->s, iov, 5, 40, CPORT_RECV_FILL);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	memset(iov, 0, sizeof(iov));
	ASSERT_EQ(0, write_bounded(self->c, data, 7));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, write_bounded(self->c, data + 7, 13));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 40, 20, 20);
	EXPECT_EQ(0, memcmp(a, data, 3));
	EXPECT_EQ(0, memcmp(b, data + 3, 5));
	EXPECT_EQ(0, memcmp(d, data + 8, 1));
	EXPECT_EQ(0, memcmp(e, data + 9, 11));

	/* Without FILL it completes with what is there, inline if asked. */
	ASSERT_EQ(0, write_bounded(self->c, data, 4));
	ASSERT_EQ(0, write_bounded(self->c, data, 4));
	ASSERT_TRUE(fd_ready(self->s, POLLIN, PROGRESS_MS));
	iov[0] = (struct iovec){ a, 3 };
	iov[1] = (struct iovec){ e, 11 };
	cport_prep_recvv(&sqe, self->s, iov, 2, 41, 0);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(CPORT_STATUS_INLINE, sqe.status);
	/* Both writes may or may not have merged: 4 or 8 bytes. */
	ASSERT_TRUE(sqe.res == 4 || sqe.res == 8);
	EXPECT_EQ(sqe.res, sqe.bytes);
	EXPECT_EQ(0, memcmp(a, data, 3));
	EXPECT_EQ(data[3], e[0]);
	if (sqe.res == 8) {
		EXPECT_EQ(0, memcmp(e + 1, data, 4));
	}
}

/*
 * CPORT_SEND_VEC: several MB in three segments against a slow reader, so
 * the send stops and resumes in the middle of segments; the peer gets
 * the segments' bytes in order.
 */
TEST_F_TIMEOUT(sock, send_vec_large, 120)
{
	size_t len = bulk_len(), part[3] = { len / 3, 7, len - len / 3 - 7 };
	unsigned char *dst = malloc(len);
	struct iovec iov[3];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	size_t off = 0;
	int i;

	ASSERT_NE(NULL, dst);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	/* Three separate buffers holding consecutive parts of the pattern. */
	for (i = 0; i < 3; i++) {
		iov[i].iov_base = malloc(part[i]);
		iov[i].iov_len = part[i];
		ASSERT_NE(NULL, iov[i].iov_base);
		pattern_fill(iov[i].iov_base, part[i], 31, off);
		off += part[i];
	}
	cport_prep_sendv(&sqe, self->s, iov, 3, 42);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, read_slowly(self->c, dst, len / 2, 16 << 10, 100));
	ASSERT_EQ(0, read_slowly(self->c, dst + len / 2, len - len / 2,
				 64 << 10, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, 42, len, len);
	EXPECT_EQ(-1, pattern_check(dst, len, 31, 0));
	for (i = 0; i < 3; i++)
		free(iov[i].iov_base);
	free(dst);
}

/*
 * The iovec array a pending operation holds is charged to the user: a
 * unit per 512 bytes of it on top of the operation's own, given back
 * when the operation ends.
 */
TEST_F(sock, vec_units_charged)
{
	static struct iovec iov[CPORT_MAX_IOV];
	long long base, held;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int i;

	for (i = 0; i < CPORT_MAX_IOV; i++)
		iov[i] = (struct iovec){ self->buf + (i % 4), 1 };
	base = fdinfo_get(self->port, "user_units");
	cport_prep_recvv(&sqe, self->s, iov, CPORT_MAX_IOV, 43, 0);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	held = fdinfo_get(self->port, "user_units") - base;
	EXPECT_EQ(1 + CPORT_MAX_IOV * sizeof(struct iovec) / 512, held);
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 43));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 43, -ECANCELED, 0);
	EXPECT_EQ(base, fdinfo_get(self->port, "user_units"));
}

/* --- Control data a RECV has no room for ------------------------------------ */

/* Send @len bytes of @data on unix socket @sock with descriptor @fd. */
static int send_with_fd(int sock, const void *data, size_t len, int fd)
{
	char control[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof(control),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == (ssize_t)len ? 0 : -errno;
}

/*
 * A RECV has no control buffer: descriptors the peer passes with
 * SCM_RIGHTS are closed by the kernel, as read(2) does, and the
 * completion says so with CPORT_CQE_F_CTRUNC (MSG_CTRUNC).  Such a result
 * is posted even when the RECV asked for an inline one, so the flag is
 * not lost.  Data without control messages carries no flag.
 */
TEST(unix_recv_reports_dropped_descriptors)
{
	unsigned char buf[64];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int port, sv[2], p[2];

	signal(SIGPIPE, SIG_IGN);
	port = cport_create(NULL);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, cport_associate(port, sv[0], KEY, 0));
	ASSERT_EQ(0, pipe(p));

	/* The only other reference to the pipe's read end is in flight. */
	ASSERT_EQ(0, send_with_fd(sv[1], "abc", 3, p[0]));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_TRUE(fd_ready(sv[0], POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(port, &sqe, sv[0], buf, sizeof(buf), 1, 0,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 1, 3, 3);
	EXPECT_EQ(CPORT_CQE_F_CTRUNC, cqe.flags);
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	/* The passed descriptor was closed: the pipe has no reader left. */
	EXPECT_EQ(-1, write(p[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);

	/* Plain data: no flag, and inline works as usual. */
	ASSERT_EQ(3, write(sv[1], "def", 3));
	ASSERT_TRUE(fd_ready(sv[0], POLLIN, PROGRESS_MS));
	ASSERT_EQ(1, sub_recv(port, &sqe, sv[0], buf, sizeof(buf), 2, 0,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(3, sqe.res);
	ASSERT_EQ(1, sub_recv(port, &sqe, sv[0], buf, sizeof(buf), 3, 0, 0,
			      0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(3, write(sv[1], "ghi", 3));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 3, 3, 3);

	/* A pending RECV that the descriptor arrives for: flagged too. */
	ASSERT_EQ(0, pipe(p) ? -errno : 0);
	ASSERT_EQ(1, sub_recv(port, &sqe, sv[0], buf, sizeof(buf), 4, 0, 0,
			      0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, send_with_fd(sv[1], "j", 1, p[0]));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 4, 1, 1);
	EXPECT_EQ(CPORT_CQE_F_CTRUNC, cqe.flags);
	EXPECT_EQ(-1, write(p[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	close(p[1]);

	/* SO_PASSCRED: the credentials had no room either. */
	ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &(int){ 1 },
				sizeof(int)));
	ASSERT_EQ(2, write(sv[1], "kl", 2));
	ASSERT_EQ(1, sub_recv(port, &sqe, sv[0], buf, sizeof(buf), 5, 0, 0,
			      0));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 5, 2, 2);
	EXPECT_EQ(CPORT_CQE_F_CTRUNC, cqe.flags);

	EXPECT_TRUE(wait_none(port, 0));
	cport_close(port);
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
