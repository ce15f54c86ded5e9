// SPDX-License-Identifier: GPL-2.0
/*
 * Associating sockets with a port (CPORT_OP_ASSOCIATE, DISSOCIATE): TCP
 * over IPv4 and IPv6 and unix stream sockets can be associated, one port
 * per socket, under a key that every completion of the socket carries;
 * other sockets and non-sockets are refused with the documented errno; a
 * socket must be associated before RECV; DISSOCIATE ends the association
 * (refused while operations are pending); closing an associated socket
 * without pending operations really closes it (the peer sees end of
 * file), the port stays usable, and the association is reclaimed (the
 * port's fdinfo "sockets:" count stays bounded over many cycles, and a
 * new socket on the same descriptor number is a new socket).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY1	0xfeedface00000001ULL
#define KEY2	0x0123456789abcdefULL

/*
 * Read from @fd until end of file, discarding; true when end of file (or
 * a reset) came within PROGRESS_MS.  *@got (if not NULL) counts the bytes
 * read before it.
 */
static bool sees_eof(int fd, size_t *got)
{
	long long end = now_ns() + PROGRESS_MS * NSEC_PER_MSEC;
	char buf[4096];

	if (got)
		*got = 0;
	while (now_ns() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			return false;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n > 0 && got)
			*got += n;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
	}
	return false;
}

/* Wait until @fd has something to read (or end of file). */
FIXTURE(assoc) {
	int port;
	int fds[2];	/* [0] server end, [1] client end */
	char buf[256];
	struct cport_cqe cqe;
	struct cport_sqe sqe;
};

SOCK_KIND_VARIANTS(assoc, af_);

FIXTURE_SETUP(assoc)
{
	self->fds[0] = self->fds[1] = -1;
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_pair(_metadata, variant->kind, self->fds);
}

FIXTURE_TEARDOWN(assoc)
{
	if (self->fds[0] >= 0)
		close(self->fds[0]);
	if (self->fds[1] >= 0)
		close(self->fds[1]);
	cport_close(self->port);
}

/* Completions of an associated socket carry its key: RECV and SEND. */
TEST_F(assoc, completions_carry_key)
{
	char out[4];

	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	EXPECT_EQ(1, fdinfo_get(self->port, "sockets")) {
		TH_LOG("fdinfo has no (or a wrong) \"sockets:\" field");
	}

	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 11, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(0, write_full(self->fds[1], "ping", 4));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(11, self->cqe.user_data);
	EXPECT_EQ(KEY1, self->cqe.key);
	EXPECT_EQ(CPORT_OP_RECV, self->cqe.op);
	EXPECT_EQ(4, self->cqe.res);
	EXPECT_EQ(4, self->cqe.bytes);
	EXPECT_EQ(0, self->cqe.flags);
	EXPECT_EQ(0, memcmp(self->buf, "ping", 4));

	cport_prep_send(&self->sqe, self->fds[0], "pong", 4, 12);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(12, self->cqe.user_data);
	EXPECT_EQ(KEY1, self->cqe.key);
	EXPECT_EQ(CPORT_OP_SEND, self->cqe.op);
	EXPECT_EQ(4, self->cqe.res);
	EXPECT_EQ(4, self->cqe.bytes);
	ASSERT_EQ(0, read_full(self->fds[1], out, 4));
	EXPECT_EQ(0, memcmp(out, "pong", 4));
}

/* Two sockets on one port, keys 0 and ~0: each completion has its own. */
TEST_F(assoc, key_per_socket)
{
	struct cport_cqe cqes[2];
	char buf2[16];
	int other[2] = { -1, -1 }, i;

	ASSERT_EQ(0, sock_pair(variant->kind, other));
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], 0, 0));
	ASSERT_EQ(0, cport_associate(self->port, other[0], UINT64_MAX, 0));
	EXPECT_EQ(2, fdinfo_get(self->port, "sockets"));

	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 1, 0, 0, 0));
	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, other[0], buf2,
			      sizeof(buf2), 2, 0, 0, 0));
	ASSERT_EQ(0, write_full(other[1], "b", 1));
	ASSERT_EQ(0, write_full(self->fds[1], "a", 1));
	ASSERT_EQ(1, wait1(self->port, &cqes[0]));
	ASSERT_EQ(1, wait1(self->port, &cqes[1]));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(1, cqes[i].res);
		if (cqes[i].user_data == 1) {
			EXPECT_EQ(0, cqes[i].key);
		} else {
			EXPECT_EQ(UINT64_MAX, cqes[i].key);
		}
	}
	EXPECT_NE(cqes[0].user_data, cqes[1].user_data);
	EXPECT_EQ('a', self->buf[0]);
	EXPECT_EQ('b', buf2[0]);
	close(other[0]);
	close(other[1]);
}

/* Associating again with the same port: -EEXIST; the first key stays. */
TEST_F(assoc, twice_same_port_eexist)
{
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	EXPECT_EQ(-EEXIST, cport_associate(self->port, self->fds[0], KEY1, 0));
	EXPECT_EQ(-EEXIST, cport_associate(self->port, self->fds[0], KEY2, 0));
	EXPECT_EQ(-EEXIST, cport_associate(self->port, self->fds[0], KEY2,
					   CPORT_ASSOC_INLINE));
	/* Through another descriptor of the same socket too. */
	{
		int dup_fd = dup(self->fds[0]);

		ASSERT_LE(0, dup_fd);
		EXPECT_EQ(-EEXIST, cport_associate(self->port, dup_fd, KEY2,
						   0));
		close(dup_fd);
	}
	EXPECT_EQ(1, fdinfo_get(self->port, "sockets"));

	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 7, 0, 0, 0));
	/* Not ASSOC_INLINE either: the refused flag did not stick. */
	EXPECT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(0, write_full(self->fds[1], "x", 1));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(KEY1, self->cqe.key);
	EXPECT_EQ(7, self->cqe.user_data);
}

/* Associated with another port: -EBUSY; after DISSOCIATE it can move. */
TEST_F(assoc, other_port_ebusy)
{
	int port2 = cport_create(NULL);

	ASSERT_LE(0, port2);
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	EXPECT_EQ(-EBUSY, cport_associate(port2, self->fds[0], KEY2, 0));
	/* It is not associated with port2: */
	EXPECT_EQ(-ENOENT, sub_recv(port2, &self->sqe, self->fds[0], self->buf,
				    sizeof(self->buf), 1, 0, 0, 0));
	EXPECT_EQ(-ENOENT, cport_dissociate(port2, self->fds[0]));
	EXPECT_EQ(0, fdinfo_get(port2, "sockets"));

	ASSERT_EQ(0, cport_dissociate(self->port, self->fds[0]));
	EXPECT_EQ(0, fdinfo_get(self->port, "sockets"));
	ASSERT_EQ(0, cport_associate(port2, self->fds[0], KEY2, 0));
	EXPECT_EQ(-EBUSY, cport_associate(self->port, self->fds[0], KEY1, 0));
	EXPECT_EQ(1, fdinfo_get(port2, "sockets"));

	ASSERT_EQ(1, sub_recv(port2, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 2, 0, 0, 0));
	ASSERT_EQ(0, write_full(self->fds[1], "y", 1));
	ASSERT_EQ(1, wait1(port2, &self->cqe));
	EXPECT_EQ(KEY2, self->cqe.key);
	EXPECT_EQ(2, self->cqe.user_data);
	EXPECT_EQ(1, self->cqe.res);
	EXPECT_TRUE(wait_none(self->port, 0));
	cport_close(port2);
}

/* DISSOCIATE ends the association: RECV is refused, a new key works. */
TEST_F(assoc, dissociate_then_reassociate)
{
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	ASSERT_EQ(0, cport_dissociate(self->port, self->fds[0]));
	EXPECT_EQ(0, fdinfo_get(self->port, "sockets"));
	EXPECT_EQ(-ENOENT, sub_recv(self->port, &self->sqe, self->fds[0],
				    self->buf, sizeof(self->buf), 1, 0, 0, 0));
	EXPECT_EQ(-ENOENT, cport_dissociate(self->port, self->fds[0]));

	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY2, 0));
	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 3, 0, 0, 0));
	ASSERT_EQ(0, write_full(self->fds[1], "z", 1));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(KEY2, self->cqe.key);
	EXPECT_EQ(3, self->cqe.user_data);
	EXPECT_EQ('z', self->buf[0]);
}

TEST_F(assoc, dissociate_not_associated)
{
	EXPECT_EQ(-ENOENT, cport_dissociate(self->port, self->fds[0]));
	EXPECT_EQ(-ENOENT, cport_dissociate(self->port, self->fds[1]));
	/* The peer of an associated socket is another socket. */
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	EXPECT_EQ(-ENOENT, cport_dissociate(self->port, self->fds[1]));
	EXPECT_EQ(0, cport_dissociate(self->port, self->fds[0]));
}

/*
 * DISSOCIATE with a recv pending: -EBUSY, the association and the recv
 * stay; after CANCEL it works, and later data is left in the socket.
 */
TEST_F(assoc, dissociate_busy_while_pending)
{
	char c;

	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 5, 0, 0, 0));
	ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	EXPECT_EQ(-EBUSY, cport_dissociate(self->port, self->fds[0]));
	EXPECT_EQ(-EEXIST, cport_associate(self->port, self->fds[0], KEY2, 0));
	EXPECT_TRUE(wait_none(self->port, 0));

	ASSERT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 5));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(5, self->cqe.user_data);
	EXPECT_EQ(KEY1, self->cqe.key);
	EXPECT_EQ(-ECANCELED, self->cqe.res);
	EXPECT_EQ(0, self->cqe.bytes);
	EXPECT_EQ(0, cport_dissociate(self->port, self->fds[0]));

	/* Nothing of the port reads the socket any more. */
	ASSERT_EQ(0, write_full(self->fds[1], "q", 1));
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(1, recv(self->fds[0], &c, 1, MSG_DONTWAIT));
	EXPECT_EQ('q', c);
}

/* The same with a send pending (the peer does not read). */
TEST_F(assoc, dissociate_busy_while_send_pending)
{
	size_t len = 8 << 20, got;
	int small = 4096;
	char *big;

	setsockopt(self->fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(self->fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	big = malloc(len);
	ASSERT_NE(NULL, big);
	memset(big, 'w', len);
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	cport_prep_send(&self->sqe, self->fds[0], big, len, 6);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	EXPECT_EQ(-EBUSY, cport_dissociate(self->port, self->fds[0]));

	ASSERT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_FD, self->fds[0]));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(6, self->cqe.user_data);
	EXPECT_EQ(-ECANCELED, self->cqe.res);
	EXPECT_GT(len, self->cqe.bytes);
	EXPECT_EQ(0, cport_dissociate(self->port, self->fds[0]));
	/* The peer gets exactly the bytes the completion reports. */
	close(self->fds[0]);
	self->fds[0] = -1;
	ASSERT_TRUE(sees_eof(self->fds[1], &got));
	EXPECT_EQ(self->cqe.bytes, got);
	free(big);
}

/*
 * RECV on a socket that is not associated: -ENOENT, the status is
 * left 0 and its res and bytes untouched (not taken), nothing is posted,
 * nothing is read.
 */
TEST_F(assoc, recv_not_associated)
{
	char c;

	cport_prep_recv(&self->sqe, self->fds[0], self->buf,
			sizeof(self->buf), 9, 0);
	self->sqe.res = 77;
	self->sqe.bytes = 0x12345678;
	EXPECT_EQ(-ENOENT, submit1(self->port, &self->sqe));
	EXPECT_EQ(0, self->sqe.status);
	EXPECT_EQ(77, self->sqe.res);
	EXPECT_EQ(0x12345678, self->sqe.bytes);

	ASSERT_EQ(0, write_full(self->fds[1], "r", 1));
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(1, recv(self->fds[0], &c, 1, MSG_DONTWAIT));
	EXPECT_EQ('r', c);
	EXPECT_EQ(0, fdinfo_get(self->port, "sockets"));
}

/*
 * close() of an associated socket without pending operations closes it
 * as usual: the peer sees end of file, the port carries on, and the
 * association is reclaimed.
 */
TEST_F(assoc, close_really_closes)
{
	struct cport_cqe cqe;

	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	/* An operation that came and went leaves nothing behind. */
	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 1, 0, 0, 0));
	ASSERT_EQ(0, write_full(self->fds[1], "s", 1));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	ASSERT_EQ(1, self->cqe.res);

	ASSERT_EQ(0, close(self->fds[0]));
	self->fds[0] = -1;
	EXPECT_TRUE(sees_eof(self->fds[1], NULL));
	EXPECT_EQ(0, fdinfo_get(self->port, "destroyed"));
	ASSERT_EQ(0, cport_post(self->port, 1, 2, 3, 4));
	ASSERT_EQ(1, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_EQ(2, cqe.user_data);
	EXPECT_TRUE(wait_none(self->port, 0));
}

/*
 * After close, a new socket on the same descriptor number is a new
 * socket: it associates (no -EEXIST from a stale association) under its
 * own key.
 */
TEST_F(assoc, same_fd_number_new_socket)
{
	int num = self->fds[0], other[2] = { -1, -1 };

	ASSERT_EQ(0, cport_associate(self->port, num, KEY1, 0));
	close(self->fds[0]);
	close(self->fds[1]);
	self->fds[0] = self->fds[1] = -1;

	ASSERT_EQ(0, sock_pair(variant->kind, other));
	if (other[0] != num) {
		ASSERT_EQ(num, dup2(other[0], num));
		close(other[0]);
	}
	self->fds[0] = num;
	self->fds[1] = other[1];
	EXPECT_EQ(-ENOENT, cport_dissociate(self->port, num));
	ASSERT_EQ(0, cport_associate(self->port, num, KEY2, 0));
	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, num, self->buf,
			      sizeof(self->buf), 4, 0, 0, 0));
	ASSERT_EQ(0, write_full(self->fds[1], "n", 1));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(KEY2, self->cqe.key);
	EXPECT_EQ(4, self->cqe.user_data);
	EXPECT_EQ('n', self->buf[0]);
}

/*
 * Many associate/close cycles: the port does not keep the associations
 * of closed sockets (its "sockets:" count, which may include some not
 * reclaimed yet, stays bounded instead of growing with the cycles).
 */
#define CYCLES_BOUND	100

TEST_F_TIMEOUT(assoc, many_cycles_bounded, 180)
{
	int n = slow_kernel() ? 200 : 2000, l, i, bad = 0;
	long long count, max = 0;

	ASSERT_LE(0, fdinfo_get(self->port, "sockets")) {
		TH_LOG("the port's fdinfo has no \"sockets:\" field");
	}
	l = sock_listener(variant->kind);
	ASSERT_LE(0, l);
	for (i = 0; i < n; i++) {
		int c = sock_connect(l), s, ret;

		ASSERT_LE(0, c);
		s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ASSERT_LE(0, s);
		ret = cport_associate(self->port, s, i, 0);
		if (ret && !bad++)
			TH_LOG("cycle %d: associate: %s", i, strerror(-ret));
		/* Half of them with one operation that completes. */
		if (i % 2 == 0 && !ret) {
			ASSERT_EQ(1, sub_recv(self->port, &self->sqe, s,
					      self->buf, 1, i, 0, 0, 0));
			ASSERT_EQ(0, write_full(c, "c", 1));
			ASSERT_EQ(1, wait1(self->port, &self->cqe));
			EXPECT_EQ((__u64)i, self->cqe.key);
		}
		if (i % 10 == 0) {
			count = fdinfo_get(self->port, "sockets");
			if (count > max)
				max = count;
		}
		close(c);
		close(s);
	}
	close(l);
	EXPECT_EQ(0, bad);
	EXPECT_GE(CYCLES_BOUND, max) {
		TH_LOG("%d cycles: up to %lld associations", n, max);
	}
	count = fdinfo_get(self->port, "sockets");
	EXPECT_GE(CYCLES_BOUND, count) {
		TH_LOG("%lld associations left after %d cycles", count, n);
	}
}

/*
 * CPORT_ASSOC_INLINE makes CPORT_SQE_INLINE the socket's default: an
 * operation that can finish at once returns its result in the submission
 * (and posts nothing); CPORT_SQE_POST overrides it.
 */
TEST_F(assoc, assoc_inline_default)
{
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1,
				     CPORT_ASSOC_INLINE));
	ASSERT_EQ(0, write_full(self->fds[1], "abc", 3));
	ASSERT_TRUE(readable(self->fds[0]));
	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 1, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
	EXPECT_EQ(3, self->sqe.res);
	EXPECT_EQ(3, self->sqe.bytes);
	EXPECT_EQ(0, memcmp(self->buf, "abc", 3));
	EXPECT_TRUE(wait_none(self->port, 0));

	ASSERT_EQ(0, write_full(self->fds[1], "de", 2));
	ASSERT_TRUE(readable(self->fds[0]));
	cport_prep_recv(&self->sqe, self->fds[0], self->buf,
			sizeof(self->buf), 2, 0);
	self->sqe.flags = CPORT_SQE_POST;
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(2, self->cqe.user_data);
	EXPECT_EQ(KEY1, self->cqe.key);
	EXPECT_EQ(2, self->cqe.res);
	EXPECT_EQ(0, memcmp(self->buf, "de", 2));
}

/* Without CPORT_ASSOC_INLINE an immediate result is posted. */
TEST_F(assoc, default_posts_immediate)
{
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY1, 0));
	ASSERT_EQ(0, write_full(self->fds[1], "abc", 3));
	ASSERT_TRUE(readable(self->fds[0]));
	ASSERT_EQ(1, sub_recv(self->port, &self->sqe, self->fds[0], self->buf,
			      sizeof(self->buf), 1, 0, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(3, self->cqe.res);
	EXPECT_EQ(KEY1, self->cqe.key);
	EXPECT_TRUE(wait_none(self->port, 0));
}

/* ------------------------------------------------------------------ */
/* Sockets that cannot be associated, and descriptors that are none     */

FIXTURE(port) {
	int port;
};

FIXTURE_SETUP(port)
{
	sock_fixture_port(_metadata, &self->port);
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

/*
 * Only TCP and UDP (IPv4, IPv6) and unix stream, datagram and seqpacket
 * sockets: the rest -EOPNOTSUPP.
 */
TEST_F(port, unsupported_sockets)
{
	static const struct {
		const char *name;
		int domain, type, protocol;
		bool optional;	/* socket() may fail on some kernels */
		int err;
	} v[] = {
		{ "udp4", AF_INET, SOCK_DGRAM, 0, false, 0 },
		{ "udp6", AF_INET6, SOCK_DGRAM, 0, false, 0 },
		{ "unix dgram", AF_UNIX, SOCK_DGRAM, 0, false, 0 },
		{ "unix seqpacket", AF_UNIX, SOCK_SEQPACKET, 0, false, 0 },
		{ "netlink", AF_NETLINK, SOCK_DGRAM, 0, false, -EOPNOTSUPP },
		{ "mptcp", AF_INET, SOCK_STREAM, 262 /* IPPROTO_MPTCP */, true,
		  -EOPNOTSUPP },
		{ "icmp ping", AF_INET, SOCK_DGRAM, IPPROTO_ICMP, true,
		  -EOPNOTSUPP },
		{ "udplite", AF_INET, SOCK_DGRAM, 136 /* IPPROTO_UDPLITE */,
		  true, -EOPNOTSUPP },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		int fd = socket(v[i].domain, v[i].type | SOCK_CLOEXEC,
				v[i].protocol);

		if (fd < 0 && v[i].optional)
			continue;
		ASSERT_LE(0, fd) {
			TH_LOG("%s: %s", v[i].name, strerror(errno));
		}
		EXPECT_EQ(v[i].err, cport_associate(self->port, fd, 1, 0)) {
			TH_LOG("%s", v[i].name);
		}
		if (!v[i].err)
			EXPECT_EQ(0, cport_dissociate(self->port, fd));
		close(fd);
	}
	/* Connected unix seqpacket and datagram pairs, too. */
	{
		int sp[2];

		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp));
		EXPECT_EQ(0, cport_associate(self->port, sp[0], 1, 0));
		EXPECT_EQ(0, cport_dissociate(self->port, sp[0]));
		close(sp[0]);
		close(sp[1]);
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sp));
		EXPECT_EQ(0, cport_associate(self->port, sp[0], 1, 0));
		EXPECT_EQ(0, cport_dissociate(self->port, sp[0]));
		close(sp[0]);
		close(sp[1]);
	}
	EXPECT_EQ(0, fdinfo_get(self->port, "sockets"));
}

/* Stream sockets that are not connected yet can be associated. */
TEST_F(port, unconnected_and_listening)
{
	int t4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int l = sock_listener(SK_TCP6);
	int sp[2];

	ASSERT_LE(0, t4);
	ASSERT_LE(0, u);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	EXPECT_EQ(0, cport_associate(self->port, t4, 1, 0));
	EXPECT_EQ(0, cport_associate(self->port, u, 2, 0));
	EXPECT_EQ(0, cport_associate(self->port, l, 3, 0));
	EXPECT_EQ(0, cport_associate(self->port, sp[0], 4, 0));
	EXPECT_EQ(0, cport_associate(self->port, sp[1], 5, 0));
	EXPECT_EQ(5, fdinfo_get(self->port, "sockets"));
	close(t4);
	close(u);
	close(l);
	close(sp[0]);
	close(sp[1]);
}

/*
 * Descriptors that are not sockets: a pipe or eventfd is checked and
 * nothing is recorded (file_io_test); one READ and WRITE refuse,
 * -EOPNOTSUPP.
 */
TEST_F(port, not_sockets)
{
	int p[2], ev, null_fd;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ev = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, ev);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, null_fd);

	EXPECT_EQ(0, cport_associate(self->port, p[0], 1, 0));
	EXPECT_EQ(0, cport_associate(self->port, p[1], 1, 0));
	EXPECT_EQ(0, cport_associate(self->port, ev, 1, 0));
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, null_fd, 1, 0));
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, self->port, 1, 0));
	EXPECT_EQ(0, cport_dissociate(self->port, p[0]));
	EXPECT_EQ(0, cport_dissociate(self->port, ev));
	EXPECT_EQ(-EOPNOTSUPP, cport_dissociate(self->port, null_fd));
	EXPECT_EQ(0, fdinfo_get(self->port, "sockets"));
	close(p[0]);
	close(p[1]);
	close(ev);
	close(null_fd);
}

/* Descriptors that are not open: -EBADF. */
TEST_F(port, bad_descriptors)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EBADF, cport_associate(self->port, fd, 1, 0));
	EXPECT_EQ(-EBADF, cport_associate(self->port, -1, 1, 0));
	EXPECT_EQ(-EBADF, cport_associate(self->port, INT_MAX, 1, 0));
	EXPECT_EQ(-EBADF, cport_associate(self->port, INT_MIN, 1, 0));
	EXPECT_EQ(-EBADF, cport_dissociate(self->port, fd));
	EXPECT_EQ(-EBADF, cport_dissociate(self->port, -1));
	EXPECT_EQ(0, fdinfo_get(self->port, "sockets"));
}

/*
 * A port that is gone (destroyed and closed) lets its sockets go: they
 * can be associated with another port.
 */
TEST_F(port, destroy_releases_sockets)
{
	int fds[2] = { -1, -1 }, port2;
	char buf[4];
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	ASSERT_EQ(0, cport_associate(self->port, fds[0], KEY1, 0));
	ASSERT_EQ(0, cport_close(self->port));
	self->port = cport_create(NULL);
	ASSERT_LE(0, self->port);
	port2 = cport_create(NULL);
	ASSERT_LE(0, port2);
	EXPECT_EQ(0, cport_associate(port2, fds[0], KEY2, 0));
	ASSERT_EQ(1, sub_recv(port2, &sqe, fds[0], buf, sizeof(buf), 1,
			      0, 0, 0));
	ASSERT_EQ(0, write_full(fds[1], "d", 1));
	ASSERT_EQ(1, wait1(port2, &cqe));
	EXPECT_EQ(KEY2, cqe.key);
	EXPECT_EQ(1, cqe.res);
	cport_close(port2);
	close(fds[0]);
	close(fds[1]);
}

/* Closing the port (no DESTROY) also lets the socket go elsewhere. */
TEST_F(port, close_port_releases_sockets)
{
	int fds[2] = { -1, -1 }, port2;

	ASSERT_EQ(0, sock_pair(SK_UNIX, fds));
	ASSERT_EQ(0, cport_associate(self->port, fds[0], KEY1, 0));
	ASSERT_EQ(0, close(self->port));
	self->port = cport_create(NULL);
	ASSERT_LE(0, self->port);
	port2 = cport_create(NULL);
	ASSERT_LE(0, port2);
	EXPECT_EQ(0, cport_associate(port2, fds[0], KEY2, 0));
	cport_close(port2);
	close(fds[0]);
	close(fds[1]);
}

TEST_HARNESS_MAIN
