/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket helpers shared by the socket-operation selftests: connected
 * pairs over TCP/IPv4, TCP/IPv6 and unix stream sockets, a listener,
 * submitting one operation and reading back its status, and waiting for
 * one completion with a bound; the socket fixture (its variants, a port
 * and an associated pair) and EXPECT_CQE().  Each helper lives here once:
 * a test file defines only what no other file needs.
 */
#ifndef CPORT_SOCK_UTIL_H
#define CPORT_SOCK_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cport_test.h"
#include "kselftest_harness.h"

enum sock_kind { SK_TCP4, SK_TCP6, SK_UNIX };

static inline const char *sock_kind_name(enum sock_kind k)
{
	return k == SK_TCP4 ? "tcp4" : k == SK_TCP6 ? "tcp6" : "unix";
}

/*
 * A listening socket of @kind bound to loopback (an abstract unix name
 * for SK_UNIX).  Returns the descriptor or -errno.
 */
static inline int sock_listener(enum sock_kind kind)
{
	static int unix_seq;
	int fd, one = 1;

	if (kind == SK_UNIX) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		socklen_t len;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		len = offsetof(struct sockaddr_un, sun_path) + 1 +
		      snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
			       "cport-test-%d-%d", getpid(),
			       __atomic_fetch_add(&unix_seq, 1,
						  __ATOMIC_RELAXED));
		if (bind(fd, (struct sockaddr *)&sun, len) ||
		    listen(fd, 128)) {
			close(fd);
			return -errno;
		}
		return fd;
	}

	fd = socket(kind == SK_TCP4 ? AF_INET : AF_INET6,
		    SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (kind == SK_TCP4) {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};

		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			goto fail;
	} else {
		struct sockaddr_in6 sin6 = {
			.sin6_family = AF_INET6,
			.sin6_addr = IN6ADDR_LOOPBACK_INIT,
		};

		if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)))
			goto fail;
	}
	if (listen(fd, 128))
		goto fail;
	return fd;
fail:
	one = -errno;
	close(fd);
	return one;
}

/* A client socket connected (blocking connect) to @listener. */
static inline int sock_connect(int listener)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	if (getsockname(listener, (struct sockaddr *)&ss, &len))
		return -errno;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * A connected pair of @kind: fds[0] the accepted (server) end, fds[1]
 * the client end.  Returns 0 or -errno.
 */
static inline int sock_pair(enum sock_kind kind, int fds[2])
{
	int l = sock_listener(kind), c, s;

	if (l < 0)
		return l;
	c = sock_connect(l);
	if (c < 0) {
		close(l);
		return c;
	}
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		int err = -errno;

		close(c);
		close(l);
		return err;
	}
	close(l);
	fds[0] = s;
	fds[1] = c;
	return 0;
}

/* A TCP port free right now on the wildcard address, or -1. */
static inline int tcp_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/*
 * Connect to 127.0.0.1:@port, retrying while it is refused (a server
 * still starting) for up to PROGRESS_MS.  The descriptor, or -1.
 */
static inline int tcp_connect_port(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	long long end = now_ns() + (long long)PROGRESS_MS * NSEC_PER_MSEC;

	while (now_ns() < end) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		close(fd);
		if (errno != ECONNREFUSED)
			return -1;
		usleep(2000);
	}
	return -1;
}

/* Make close() of @fd send a reset instead of a FIN. */
static inline void sock_set_rst_on_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/*
 * Submit one record.  Returns the ioctl's result (1, or -errno); on
 * success sqe->status says CPORT_STATUS_PENDING or CPORT_STATUS_INLINE.
 */
static inline int submit1(int port, struct cport_sqe *sqe)
{
	return cport_submit(port, sqe, 1);
}

/*
 * Submit one RECV into @buf (CPORT_RECV_* @op_flags, CPORT_SQE_* @sqe_flags,
 * @timeout_ns 0 for none); the sqe is left in *sqe (status, res).  Returns
 * the ioctl's result, as submit1().
 */
static inline int sub_recv(int port, struct cport_sqe *sqe, int fd, void *buf,
			   size_t len, __u64 ud, unsigned int op_flags,
			   unsigned int sqe_flags, __u64 timeout_ns)
{
	cport_prep_recv(sqe, fd, buf, len, ud, op_flags);
	sqe->flags = sqe_flags;
	sqe->timeout_ns = timeout_ns;
	return submit1(port, sqe);
}

/* Submit one SEND of @buf; as sub_recv(). */
static inline int sub_send(int port, struct cport_sqe *sqe, int fd,
			   const void *buf, size_t len, __u64 ud,
			   unsigned int sqe_flags, __u64 timeout_ns)
{
	cport_prep_send(sqe, fd, buf, len, ud);
	sqe->flags = sqe_flags;
	sqe->timeout_ns = timeout_ns;
	return submit1(port, sqe);
}

/*
 * sub_recv() of a RECV that must wait for its completion: 1 when it is
 * pending, the submission's -errno, or -EPROTO when it completed at once.
 */
static inline int recv_pending(int port, int fd, void *buf, size_t len,
			       __u64 ud, unsigned int op_flags,
			       __u64 timeout_ns)
{
	struct cport_sqe sqe;
	int ret;

	ret = sub_recv(port, &sqe, fd, buf, len, ud, op_flags, 0, timeout_ns);
	if (ret == 1 && sqe.status != CPORT_STATUS_PENDING)
		return -EPROTO;
	return ret;
}

/* sub_send() of a SEND that must wait; as recv_pending(). */
static inline int send_pending(int port, int fd, const void *buf,
			       size_t len, __u64 ud)
{
	struct cport_sqe sqe;
	int ret;

	ret = sub_send(port, &sqe, fd, buf, len, ud, 0, 0);
	if (ret == 1 && sqe.status != CPORT_STATUS_PENDING)
		return -EPROTO;
	return ret;
}

/*
 * Wait up to PROGRESS_MS for exactly one completion into @cqe.  Returns 1,
 * or the -errno of the wait (-ETIMEDOUT when nothing came).
 */
static inline int wait1(int port, struct cport_cqe *cqe)
{
	return cport_wait(port, cqe, 1, (long long)PROGRESS_MS * NSEC_PER_MSEC);
}

/* Nothing is queued for @ms milliseconds (the wait times out). */
static inline bool wait_none(int port, int ms)
{
	struct cport_cqe cqe;

	return cport_wait(port, &cqe, 1, (long long)ms * NSEC_PER_MSEC) ==
	       -ETIMEDOUT;
}

/* The five fields of completion @cqe (a struct, not a pointer). */
#define EXPECT_CQE(cqe, op_, key_, ud_, res_, bytes_) do {		\
	EXPECT_EQ((__u8)(op_), (cqe).op);				\
	EXPECT_EQ((__u64)(key_), (cqe).key);				\
	EXPECT_EQ((__u64)(ud_), (cqe).user_data);			\
	EXPECT_EQ((__s64)(res_), (cqe).res);				\
	EXPECT_EQ((__u64)(bytes_), (cqe).bytes);			\
} while (0)

/*
 * EXPECT_CQE(), and flags, buf, seq (not a multishot RECV's) and the
 * reserved fields zero.
 */
#define EXPECT_CQE_EXACT(cqe, op_, key_, ud_, res_, bytes_) do {	\
	EXPECT_CQE(cqe, op_, key_, ud_, res_, bytes_);			\
	EXPECT_EQ(0, (cqe).flags);					\
	EXPECT_EQ(0, (cqe).resv0);					\
	EXPECT_EQ(0, (cqe).buf);					\
	EXPECT_EQ(0, (cqe).seq);					\
	EXPECT_EQ(0, (cqe).resv2);					\
} while (0)

/* Read exactly @len bytes from blocking @fd; returns 0 or -errno/-EPIPE. */
static inline int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

/* Write exactly @len bytes to blocking @fd; returns 0 or -errno. */
static inline int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Wait up to PROGRESS_MS until @fd is readable: data, end of file, an
 * error or a hang-up; on a listener, a connection waiting.
 */
static inline bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, PROGRESS_MS) == 1;
}

/* poll() one descriptor for @events for at most @ms; true if ready. */
static inline bool fd_ready(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1 && (p.revents & events);
}

/*
 * Read exactly @len bytes, at most @chunk per read (0: any), pausing
 * @pause_us after each; -ETIMEDOUT if no byte comes for PROGRESS_MS
 * instead of hanging, -EPIPE at end of file.
 */
static inline int read_slowly(int fd, void *buf, size_t len, size_t chunk,
			      int pause_us)
{
	char *p = buf;

	while (len) {
		size_t want = chunk && chunk < len ? chunk : len;
		ssize_t n;

		if (!fd_ready(fd, POLLIN, PROGRESS_MS))
			return -ETIMEDOUT;
		n = recv(fd, p, want, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= n;
		if (pause_us)
			usleep(pause_us);
	}
	return 0;
}

/* Read exactly @len bytes; -ETIMEDOUT when none come for PROGRESS_MS. */
static inline int read_bounded(int fd, void *buf, size_t len)
{
	return read_slowly(fd, buf, len, 0, 0);
}

/* Write exactly @len bytes; -ETIMEDOUT if no room comes for PROGRESS_MS. */
static inline int write_bounded(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!fd_ready(fd, POLLOUT, PROGRESS_MS))
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* Socket buffer sizes (0: leave as is). */
static inline void set_bufs(int fd, int snd, int rcv)
{
	if (snd)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (rcv)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

/* A deterministic byte pattern: byte i of stream @seed. */
static inline unsigned char pattern_byte(unsigned int seed, size_t i)
{
	unsigned long long x = (i / 8 + 1) * 0x9E3779B97F4A7C15ULL + seed;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return (unsigned char)(x >> ((i % 8) * 8));
}

static inline void pattern_fill(void *buf, size_t len, unsigned int seed,
				size_t offset)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(seed, offset + i);
}

/* Index of the first byte that differs from the pattern, or -1. */
static inline long pattern_check(const void *buf, size_t len,
				 unsigned int seed, size_t offset)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern_byte(seed, offset + i))
			return (long)i;
	return -1;
}

/* --- The socket fixture ---------------------------------------------- */

/*
 * The variants of socket fixture @f, one per stream socket kind, which a
 * test reads as variant->kind: f.tcp4, f.tcp6 and f.unix, or f.af_unix
 * when @unix_prefix is af_.  The name is pasted, never expanded: GNU C
 * predefines the macro unix as 1.
 */
#define SOCK_KIND_VARIANTS(f, unix_prefix)				\
	FIXTURE_VARIANT(f) {						\
		enum sock_kind kind;					\
	};								\
	FIXTURE_VARIANT_ADD(f, tcp4) { .kind = SK_TCP4 };		\
	FIXTURE_VARIANT_ADD(f, tcp6) { .kind = SK_TCP6 };		\
	FIXTURE_VARIANT_ADD(f, unix_prefix##unix) { .kind = SK_UNIX }

/*
 * Fixture set-up: *port is a new port with the defaults, or the test
 * fails saying why.  *port is set first: a teardown that runs after the
 * failure sees a negative number, not a descriptor.
 */
static inline void sock_fixture_port(struct __test_metadata *_metadata,
				     int *port)
{
	*port = cport_create(NULL);
	ASSERT_LE(0, *port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s", strerror(-*port));
	}
}

/*
 * Fixture set-up: a connected pair of @kind into @fds ([0] the server end,
 * [1] the client end; left as they were on failure), or the test fails.
 */
static inline void sock_fixture_pair(struct __test_metadata *_metadata,
				     enum sock_kind kind, int fds[2])
{
	int ret = sock_pair(kind, fds);

	ASSERT_EQ(0, ret) {
		TH_LOG("%s pair: %s", sock_kind_name(kind), strerror(-ret));
	}
}

/*
 * Fixture set-up: a connected pair of @kind, *s the server end associated
 * with @port under @key, *c its plain peer; or the test fails.
 */
static inline void sock_fixture_assoc(struct __test_metadata *_metadata,
				      int port, enum sock_kind kind, __u64 key,
				      int *s, int *c)
{
	int fds[2] = { -1, -1 };

	sock_fixture_pair(_metadata, kind, fds);
	*s = fds[0];
	*c = fds[1];
	ASSERT_EQ(0, cport_associate(port, *s, key, 0));
}

#endif /* CPORT_SOCK_UTIL_H */
