// SPDX-License-Identifier: GPL-2.0
/*
 * CPORT_OP_ACCEPT on TCP/IPv4, TCP/IPv6 and unix listeners: a connection
 * already waiting completes at once (inline with CPORT_SQE_INLINE, else
 * posted), a pending accept completes when a client connects; the new
 * descriptor works, carries CPORT_ACCEPT_CLOEXEC/NONBLOCK, is installed
 * only when the completion is dequeued, and with CPORT_ACCEPT_ASSOCIATE
 * is associated under the given key; the peer's address is written (an
 * address that cannot be written does not lose the connection);
 * pending accepts complete in submission order; a connection reset before
 * it was accepted fails that accept only (-ECONNRESET); a queued accept
 * completion that is never dequeued (the port is destroyed, or no
 * descriptor is free) closes its connection and leaks no descriptor.
 */
#define _GNU_SOURCE
#include <sys/resource.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define LKEY	0x11570000000000aaULL	/* the listener's key */
#define NKEY	0x0ddba11000000001ULL	/* a new socket's key */

/* Wait until a connection is queued on listener @l. */
/* Read until end of file or a reset, discarding: true if it came. */
static bool sees_eof(int fd)
{
	long long end = now_ns() + PROGRESS_MS * NSEC_PER_MSEC;
	char buf[512];

	while (now_ns() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		poll(&pfd, 1, 100);
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
	}
	return false;
}

/* Bytes go both ways between connected @a and @b. */
static bool exchange(int a, int b)
{
	char out[2048], in[2048];

	pattern_fill(out, sizeof(out), a, 0);
	if (write_full(a, out, sizeof(out)) || read_full(b, in, sizeof(in)) ||
	    memcmp(in, out, sizeof(in)))
		return false;
	pattern_fill(out, sizeof(out), b, 0);
	if (write_full(b, out, sizeof(out)) || read_full(a, in, sizeof(in)) ||
	    memcmp(in, out, sizeof(in)))
		return false;
	return true;
}

/*
 * A client connected to @l; for unix, bound to an abstract name first so
 * that its address is not empty.
 */
static int client_bound(int l, enum sock_kind kind)
{
	static int seq;
	struct sockaddr_storage ss;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(ss), slen;
	int fd;

	if (kind != SK_UNIX)
		return sock_connect(l);
	if (getsockname(l, (struct sockaddr *)&ss, &len))
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	slen = offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
			"cport-client-%d-%d", getpid(), seq++);
	if (bind(fd, (struct sockaddr *)&sun, slen) ||
	    connect(fd, (struct sockaddr *)&ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Whether /proc/net/tcp{,6} lists a socket with local port @lport and
 * remote port @rport (the server side of a connection), or -1.
 */
static int tcp_listed(bool v6, unsigned int lport, unsigned int rport)
{
	char line[512];
	FILE *f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "r");
	int found = 0;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {	/* the header */
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned int lp, rp;

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x",
			   &lp, &rp) == 2 && lp == lport && rp == rport)
			found = 1;
	}
	fclose(f);
	return found;
}

static unsigned int sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

FIXTURE(acc) {
	int port;
	int lst;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
};

SOCK_KIND_VARIANTS(acc, af_);

FIXTURE_SETUP(acc)
{
	sock_fixture_port(_metadata, &self->port);
	self->lst = sock_listener(variant->kind);
	ASSERT_LE(0, self->lst);
	ASSERT_EQ(0, cport_associate(self->port, self->lst, LKEY, 0));
}

FIXTURE_TEARDOWN(acc)
{
	if (self->port >= 0)
		cport_close(self->port);
	close(self->lst);
}

static int submit_accept(int port, struct cport_sqe *sqe, int l, __u64 ud,
			 unsigned int op_flags, __u16 flags)
{
	cport_prep_accept(sqe, l, NULL, 0, ud, 0, op_flags);
	sqe->flags = flags;
	return submit1(port, sqe);
}

/* A connection already waiting, CPORT_SQE_INLINE: the result is inline. */
TEST_F(acc, immediate_inline)
{
	int c = sock_connect(self->lst), n0;

	ASSERT_LE(0, c);
	ASSERT_TRUE(readable(self->lst));
	n0 = fd_count();
	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 1, 0,
				   CPORT_SQE_INLINE));
	ASSERT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
	ASSERT_LE(0, self->sqe.res);
	EXPECT_EQ(0, self->sqe.bytes);
	EXPECT_EQ(n0 + 1, fd_count());
	EXPECT_TRUE(wait_none(self->port, 0));
	EXPECT_TRUE(exchange(c, self->sqe.res));
	close(self->sqe.res);
	close(c);
}

/*
 * The same without CPORT_SQE_INLINE: posted, the descriptor installed
 * when the completion is dequeued.
 */
TEST_F(acc, immediate_posted)
{
	int c = sock_connect(self->lst), n0;

	ASSERT_LE(0, c);
	ASSERT_TRUE(readable(self->lst));
	n0 = fd_count();
	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 2, 0, 0));
	ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_TRUE(fdinfo_wait(self->port, "queued", 1));
	EXPECT_EQ(n0, fd_count());
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(2, self->cqe.user_data);
	EXPECT_EQ(LKEY, self->cqe.key);
	EXPECT_EQ(CPORT_OP_ACCEPT, self->cqe.op);
	ASSERT_LE(0, self->cqe.res);
	EXPECT_EQ(0, self->cqe.bytes);
	EXPECT_EQ(n0 + 1, fd_count());
	EXPECT_TRUE(exchange(c, self->cqe.res));
	EXPECT_TRUE(wait_none(self->port, 0));
	close(self->cqe.res);
	close(c);
}

/* Pending first, then a client connects. */
TEST_F(acc, pending_then_connect)
{
	struct pollfd pfd;
	int c;

	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 3, 0,
				   CPORT_SQE_INLINE));
	/* Nothing to accept: pending even with CPORT_SQE_INLINE. */
	ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	EXPECT_TRUE(wait_none(self->port, 50));
	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(3, self->cqe.user_data);
	EXPECT_EQ(LKEY, self->cqe.key);
	EXPECT_EQ(CPORT_OP_ACCEPT, self->cqe.op);
	ASSERT_LE(0, self->cqe.res);
	EXPECT_TRUE(exchange(c, self->cqe.res));
	/* The listener has nothing else queued: the accept took it. */
	pfd.fd = self->lst;
	pfd.events = POLLIN;
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(self->cqe.res);
	close(c);
}

/* CPORT_ACCEPT_CLOEXEC and _NONBLOCK, inline and posted. */
TEST_F(acc, cloexec_nonblock)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		unsigned int op_flags = i & 3;
		bool inl = i & 4;
		int c = sock_connect(self->lst), fd;

		ASSERT_LE(0, c);
		ASSERT_TRUE(readable(self->lst));
		ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, i,
					   op_flags,
					   inl ? CPORT_SQE_INLINE : 0));
		if (inl) {
			ASSERT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
			fd = self->sqe.res;
		} else {
			ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
			ASSERT_EQ(1, wait1(self->port, &self->cqe));
			fd = self->cqe.res;
		}
		ASSERT_LE(0, fd);
		EXPECT_EQ(op_flags & CPORT_ACCEPT_CLOEXEC ? FD_CLOEXEC : 0,
			  fcntl(fd, F_GETFD) & FD_CLOEXEC) {
			TH_LOG("op_flags %#x %s", op_flags,
			       inl ? "inline" : "posted");
		}
		EXPECT_EQ(op_flags & CPORT_ACCEPT_NONBLOCK ? O_NONBLOCK : 0,
			  fcntl(fd, F_GETFL) & O_NONBLOCK) {
			TH_LOG("op_flags %#x %s", op_flags,
			       inl ? "inline" : "posted");
		}
		if (op_flags & CPORT_ACCEPT_NONBLOCK) {
			char b;

			EXPECT_EQ(-1, read(fd, &b, 1));
			EXPECT_EQ(EAGAIN, errno);
		}
		close(fd);
		close(c);
	}
}

/*
 * The peer's address: written to addr (compare with the client's
 * getsockname()), bytes = its length, nothing written beyond it; with
 * less room, at most what fits (and bytes is still the whole length, as
 * accept(2)'s addrlen, so that the caller can tell it was cut).
 */
TEST_F(acc, peer_address)
{
	struct sockaddr_storage want;
	socklen_t want_len = sizeof(want);
	unsigned char got[sizeof(struct sockaddr_storage) + 16];
	unsigned int i;
	int round;

	for (round = 0; round < 2; round++) {
		int c = client_bound(self->lst, variant->kind), fd;

		ASSERT_LE(0, c);
		want_len = sizeof(want);
		ASSERT_EQ(0, getsockname(c, (struct sockaddr *)&want,
					 &want_len));
		ASSERT_TRUE(readable(self->lst));
		memset(got, 0xa5, sizeof(got));
		cport_prep_accept(&self->sqe, self->lst, got,
				  sizeof(struct sockaddr_storage), 10, 0, 0);
		if (round)
			self->sqe.flags = CPORT_SQE_INLINE;
		ASSERT_EQ(1, submit1(self->port, &self->sqe));
		if (round) {
			ASSERT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
			self->cqe.res = self->sqe.res;
			self->cqe.bytes = self->sqe.bytes;
		} else {
			ASSERT_EQ(1, wait1(self->port, &self->cqe));
		}
		fd = self->cqe.res;
		ASSERT_LE(0, fd);
		EXPECT_EQ(want_len, self->cqe.bytes);
		EXPECT_EQ(0, memcmp(got, &want, want_len));
		for (i = want_len; i < sizeof(got); i++)
			if (got[i] != 0xa5)
				break;
		EXPECT_EQ(sizeof(got), i) {
			TH_LOG("byte %u beyond the address was written", i);
		}
		close(fd);
		close(c);
	}

	/* Room for 4 bytes: those are the address's first 4, no more. */
	{
		int c = client_bound(self->lst, variant->kind);

		ASSERT_LE(0, c);
		want_len = sizeof(want);
		ASSERT_EQ(0, getsockname(c, (struct sockaddr *)&want,
					 &want_len));
		memset(got, 0xa5, sizeof(got));
		cport_prep_accept(&self->sqe, self->lst, got, 4, 11, 0, 0);
		ASSERT_EQ(1, submit1(self->port, &self->sqe));
		ASSERT_EQ(1, wait1(self->port, &self->cqe));
		ASSERT_LE(0, self->cqe.res);
		EXPECT_EQ(0, memcmp(got, &want, want_len < 4 ? want_len : 4));
		for (i = 4; i < sizeof(got); i++)
			if (got[i] != 0xa5)
				break;
		EXPECT_EQ(sizeof(got), i);
		/* bytes is the address's length, as accept(2)'s addrlen. */
		EXPECT_EQ(want_len, self->cqe.bytes);
		close(self->cqe.res);
		close(c);
	}
}

/*
 * The peer's address cannot be written (a read-only page: a valid user
 * range, but the copy faults): bytes = 0, and the connection is
 * delivered all the same, posted or inline.
 */
TEST_F(acc, address_unwritable)
{
	long page = sysconf(_SC_PAGESIZE);
	int round, c, n0;
	char *ro;

	ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	for (round = 0; round < 2; round++) {
		c = sock_connect(self->lst);
		ASSERT_LE(0, c);
		ASSERT_TRUE(readable(self->lst));
		n0 = fd_count();
		cport_prep_accept(&self->sqe, self->lst, ro, 128, 40 + round,
				  0, 0);
		self->sqe.flags = round ? CPORT_SQE_INLINE : 0;
		ASSERT_EQ(1, submit1(self->port, &self->sqe));
		if (round) {
			ASSERT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
			self->cqe.res = self->sqe.res;
			self->cqe.bytes = self->sqe.bytes;
		} else {
			ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
			ASSERT_EQ(1, wait1(self->port, &self->cqe));
			EXPECT_EQ(40, self->cqe.user_data);
		}
		ASSERT_LE(0, self->cqe.res);
		EXPECT_EQ(0, self->cqe.bytes);
		EXPECT_EQ(n0 + 1, fd_count());
		EXPECT_TRUE(exchange(c, self->cqe.res));
		close(self->cqe.res);
		close(c);
	}
	munmap(ro, page);
}

/*
 * CPORT_ACCEPT_ASSOCIATE: the new socket is associated under the given
 * key (a RECV on it works at once and its completion carries the key);
 * with CPORT_ACCEPT_ASSOC_INLINE, as by CPORT_ASSOC_INLINE.
 */
TEST_F(acc, associate_new_socket)
{
	char buf[16];
	int c, fd;

	/* Without the flag the new socket is not associated. */
	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 1, 0,
				   CPORT_SQE_INLINE));
	fd = self->sqe.status == CPORT_STATUS_INLINE ? self->sqe.res : -1;
	if (self->sqe.status == CPORT_STATUS_PENDING) {
		ASSERT_EQ(1, wait1(self->port, &self->cqe));
		fd = self->cqe.res;
	}
	ASSERT_LE(0, fd);
	cport_prep_recv(&self->sqe, fd, buf, sizeof(buf), 2, 0);
	EXPECT_EQ(-ENOENT, submit1(self->port, &self->sqe));
	EXPECT_EQ(1, fdinfo_get(self->port, "sockets"));
	close(fd);
	close(c);

	/* With it, pending then connected: a posted completion. */
	cport_prep_accept(&self->sqe, self->lst, NULL, 0, 4, NKEY,
			  CPORT_ACCEPT_ASSOCIATE);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(LKEY, self->cqe.key);
	fd = self->cqe.res;
	ASSERT_LE(0, fd);
	EXPECT_EQ(2, fdinfo_get(self->port, "sockets"));
	EXPECT_EQ(-EEXIST, cport_associate(self->port, fd, NKEY, 0));
	cport_prep_recv(&self->sqe, fd, buf, sizeof(buf), 5, 0);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(0, write_full(c, "hi", 2));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(5, self->cqe.user_data);
	EXPECT_EQ(NKEY, self->cqe.key);
	EXPECT_EQ(2, self->cqe.res);
	EXPECT_EQ(0, memcmp(buf, "hi", 2));
	close(fd);
	close(c);

	/* With ASSOC_INLINE too, inline accept: data there -> inline recv. */
	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, write_full(c, "yo", 2));
	ASSERT_TRUE(readable(self->lst));
	cport_prep_accept(&self->sqe, self->lst, NULL, 0, 6, NKEY + 1,
			  CPORT_ACCEPT_ASSOCIATE | CPORT_ACCEPT_ASSOC_INLINE);
	self->sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	ASSERT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
	fd = self->sqe.res;
	ASSERT_LE(0, fd);
	cport_prep_recv(&self->sqe, fd, buf, sizeof(buf), 7, 0);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	EXPECT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
	EXPECT_EQ(2, self->sqe.res);
	EXPECT_EQ(0, memcmp(buf, "yo", 2));
	/* CPORT_SQE_POST overrides: the completion carries the key. */
	ASSERT_EQ(0, write_full(c, "z", 1));
	ASSERT_TRUE(readable(fd));
	cport_prep_recv(&self->sqe, fd, buf, sizeof(buf), 8, 0);
	self->sqe.flags = CPORT_SQE_POST;
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	EXPECT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(NKEY + 1, self->cqe.key);
	EXPECT_EQ(8, self->cqe.user_data);
	EXPECT_EQ(1, self->cqe.res);
	close(fd);
	close(c);
}

/*
 * A connection reset by the client before any accept was pending: the
 * accept that takes it fails with -ECONNRESET (posted, or inline), no
 * descriptor appears, and the next accept on the listener works.
 */
TEST_F(acc, reset_before_accept)
{
	bool v6 = variant->kind == SK_TCP6;
	unsigned int lport = sock_port(self->lst);
	int round, c, n0;

	if (variant->kind == SK_UNIX)
		SKIP(return, "unix sockets have no reset");

	for (round = 0; round < 2; round++) {
		unsigned int cport;

		c = sock_connect(self->lst);
		ASSERT_LE(0, c);
		ASSERT_TRUE(readable(self->lst));
		cport = sock_port(c);
		ASSERT_EQ(1, tcp_listed(v6, lport, cport));
		sock_set_rst_on_close(c);
		close(c);
		/* The server side is gone from the table once the RST hit. */
		ASSERT_TRUE(wait_until(tcp_listed(v6, lport, cport) == 0,
				       PROGRESS_MS));

		n0 = fd_count();
		ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst,
					   20 + round, 0,
					   round ? CPORT_SQE_INLINE : 0));
		if (round) {
			ASSERT_EQ(CPORT_STATUS_INLINE, self->sqe.status);
			EXPECT_EQ(-ECONNRESET, self->sqe.res);
		} else {
			ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
			ASSERT_EQ(1, wait1(self->port, &self->cqe));
			EXPECT_EQ(20, self->cqe.user_data);
			EXPECT_EQ(-ECONNRESET, self->cqe.res);
			EXPECT_EQ(0, self->cqe.bytes);
		}
		EXPECT_EQ(n0, fd_count());
		EXPECT_TRUE(wait_none(self->port, 0));

		/* The next accept on the same listener works. */
		c = sock_connect(self->lst);
		ASSERT_LE(0, c);
		ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst,
					   30 + round, 0, 0));
		ASSERT_EQ(1, wait1(self->port, &self->cqe));
		EXPECT_EQ(30 + round, self->cqe.user_data);
		ASSERT_LE(0, self->cqe.res);
		EXPECT_TRUE(exchange(c, self->cqe.res));
		close(self->cqe.res);
		close(c);
	}
}

/* Several pending accepts complete in submission order. */
#define NR_ACCEPTS	4

TEST_F(acc, pending_in_order)
{
	int clients[NR_ACCEPTS], i;

	for (i = 0; i < NR_ACCEPTS; i++) {
		cport_prep_accept(&self->sqe, self->lst, NULL, 0, 100 + i, 0, 0);
		ASSERT_EQ(1, submit1(self->port, &self->sqe));
		ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	}
	EXPECT_TRUE(wait_none(self->port, 20));
	for (i = 0; i < NR_ACCEPTS; i++) {
		char b = 'a' + i, got = 0;

		clients[i] = sock_connect(self->lst);
		ASSERT_LE(0, clients[i]);
		ASSERT_EQ(1, wait1(self->port, &self->cqe));
		EXPECT_EQ(100 + i, self->cqe.user_data);
		ASSERT_LE(0, self->cqe.res);
		/* ...and the descriptor is that client's connection. */
		ASSERT_EQ(0, write_full(clients[i], &b, 1));
		ASSERT_EQ(0, read_full(self->cqe.res, &got, 1));
		EXPECT_EQ(b, got);
		close(self->cqe.res);
		if (i < NR_ACCEPTS - 1) {
			EXPECT_TRUE(wait_none(self->port, 0));
		}
	}
	for (i = 0; i < NR_ACCEPTS; i++)
		close(clients[i]);
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
}

/*
 * The port is destroyed while an accept completion is queued, not yet
 * dequeued: the connection is closed (the client reads end of file or a
 * reset), and no descriptor was installed.
 */
TEST_F(acc, destroy_with_queued_accept)
{
	int n0 = fd_count(), c;

	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 1, 0, 0));
	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_TRUE(fdinfo_wait(self->port, "queued", 1));
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_TRUE(sees_eof(c));
	EXPECT_EQ(n0 + 1, fd_count());	/* + the client */
	EXPECT_EQ(0, close(self->port));
	self->port = -1;
	EXPECT_EQ(n0, fd_count());
	close(c);
}

/* The same when the port is only closed (the last reference dropped). */
TEST_F(acc, close_port_with_queued_accept)
{
	int n0 = fd_count(), c;

	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 1, 0, 0));
	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_TRUE(fdinfo_wait(self->port, "queued", 1));
	EXPECT_EQ(0, close(self->port));
	self->port = -1;
	EXPECT_TRUE(sees_eof(c));
	EXPECT_EQ(n0, fd_count());
	close(c);
}

/*
 * No descriptor free when the completion is dequeued: res = -EMFILE and
 * the connection is closed; the next one is fine.
 */
TEST_F(acc, emfile_at_dequeue)
{
	struct rlimit old, lim;
	int c, lowest;

	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 1, 0, 0));
	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_TRUE(fdinfo_wait(self->port, "queued", 1));

	lowest = fcntl(self->lst, F_DUPFD, 0);
	ASSERT_LE(0, lowest);
	close(lowest);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	lim = old;
	lim.rlim_cur = lowest;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
	EXPECT_EQ(1, wait1(self->port, &self->cqe));
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	EXPECT_EQ(1, self->cqe.user_data);
	EXPECT_EQ(-EMFILE, self->cqe.res);
	EXPECT_TRUE(sees_eof(c));
	close(c);

	c = sock_connect(self->lst);
	ASSERT_LE(0, c);
	ASSERT_EQ(1, submit_accept(self->port, &self->sqe, self->lst, 2, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	ASSERT_LE(0, self->cqe.res);
	EXPECT_TRUE(exchange(c, self->cqe.res));
	close(self->cqe.res);
	close(c);
}

TEST_HARNESS_MAIN
