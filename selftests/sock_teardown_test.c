// SPDX-License-Identifier: GPL-2.0
/*
 * Socket operations when things go away: the port is destroyed (waiters
 * return -EIDRM), closed, or its process exits with recv, send and accept
 * operations pending, and the sockets come out intact (nothing consumed
 * by a cancelled recv, a cancelled send stopped, the peer sees end of
 * file once the sockets are closed); the owner's exit destroys the port
 * even when its descriptor lives on (in another process, or in flight in
 * a socket the port's own operation pins); destroy after waiters ran a
 * busy socket; the thread that submitted exits and its operations still
 * complete; close() of a socket with an operation
 * pending does not cancel it (the operation keeps the socket open until
 * it completes or is cancelled by key); shutdown() completes pending
 * operations; a buffer unmapped while the kernel owns it fails its
 * operation with -EFAULT and loses nothing from the socket; and a forked
 * child cannot use its parent's port for socket operations.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KRX	0x1000000000000001ULL	/* key of the receiving socket */
#define KTX	0x1000000000000002ULL	/* key of the sending socket */
#define KLS	0x1000000000000003ULL	/* key of the listener */

#define BIG	(1 << 20)		/* a send that cannot complete */
#define SEED_FILL	1
#define SEED_BIG	2

/*
 * A small send buffer on @sender, so that a send of BIG cannot complete
 * while the peer does not read.  (The receiver keeps its default buffer:
 * a tiny TCP window makes a transfer crawl.)
 */
static void small_sndbuf(int sender)
{
	int v = 16384;

	setsockopt(sender, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/*
 * Send the SEED_FILL pattern on @fd until nothing more fits (twice, a
 * little apart, for TCP's window to settle); returns the bytes sent.
 */
static size_t fill(int fd)
{
	char buf[1024];
	size_t total = 0;
	int full = 0;

	while (full < 2) {
		ssize_t n;

		pattern_fill(buf, sizeof(buf), SEED_FILL, total);
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			total += n;
			full = 0;
		} else if (errno == EAGAIN) {
			full++;
			sleep_ms(10);
		} else if (errno != EINTR) {
			break;
		}
	}
	return total;
}

/*
 * Read from @fd into @buf (room @max) until end of file or a reset;
 * returns the bytes read, or -1 if the end did not come within
 * PROGRESS_MS (or more than @max came).
 */
static long read_to_eof(int fd, char *buf, size_t max)
{
	long long end = now_ns() + PROGRESS_MS * NSEC_PER_MSEC;
	size_t got = 0;

	while (now_ns() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char scratch[1];
		ssize_t n;

		poll(&pfd, 1, 100);
		if (got < max)
			n = recv(fd, buf + got, max - got, MSG_DONTWAIT);
		else
			n = recv(fd, scratch, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return got;
		if (n > 0 && got >= max)
			return -1;
		if (n > 0)
			got += n;
		else if (errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return -1;
}

static bool sees_eof(int fd)
{
	static char sink[BIG];

	return read_to_eof(fd, sink, sizeof(sink)) >= 0;
}

/* A thread that reads a socket until end of file (read_to_eof()). */
struct reader {
	pthread_t thread;
	int fd;
	char *buf;
	size_t max;
	long n;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->n = read_to_eof(r->fd, r->buf, r->max);
	return NULL;
}

static int reader_start(struct reader *r, int fd, char *buf, size_t max)
{
	r->fd = fd;
	r->buf = buf;
	r->max = max;
	r->n = -1;
	return pthread_create(&r->thread, NULL, reader_fn, r);
}

/* Nothing to read on @fd, not even end of file, for GRACE_MS. */
static bool stays_quiet(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, GRACE_MS) == 0;
}

/*
 * @buf holds @len bytes a reader got: @filled bytes of SEED_FILL, then a
 * prefix of SEED_BIG, then @tail (if not NULL).  Returns the length of
 * that prefix, or -1 if the bytes are not that.
 */
static long check_stream(const char *buf, long len, size_t filled,
			 const char *tail)
{
	size_t tl = tail ? strlen(tail) : 0;
	long k = len - (long)filled - (long)tl;

	if (k < 0 || pattern_check(buf, filled, SEED_FILL, 0) != -1 ||
	    pattern_check(buf + filled, k, SEED_BIG, 0) != -1 ||
	    (tl && memcmp(buf + len - tl, tail, tl)))
		return -1;
	return k;
}

FIXTURE(td) {
	int port;
	int rx[2];	/* [0] receives through the port, [1] its peer */
	int tx[2];	/* [0] sends through the port, [1] its peer */
	int lst;
	size_t filled;	/* bytes fill() put in tx */
	char *big;	/* BIG bytes of SEED_BIG */
	char *sink;	/* what tx[1] reads */
	char buf[64];
	struct sockaddr_storage lst_addr;
	socklen_t lst_len;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
};

SOCK_KIND_VARIANTS(td, af_);

FIXTURE_SETUP(td)
{
	self->rx[0] = self->rx[1] = self->tx[0] = self->tx[1] = -1;
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_pair(_metadata, variant->kind, self->rx);
	sock_fixture_pair(_metadata, variant->kind, self->tx);
	small_sndbuf(self->tx[0]);
	self->lst = sock_listener(variant->kind);
	ASSERT_LE(0, self->lst);
	self->lst_len = sizeof(self->lst_addr);
	ASSERT_EQ(0, getsockname(self->lst, (struct sockaddr *)&self->lst_addr,
				 &self->lst_len));
	self->big = malloc(BIG);
	ASSERT_NE(NULL, self->big);
	pattern_fill(self->big, BIG, SEED_BIG, 0);
	self->sink = malloc(2 * BIG);
	ASSERT_NE(NULL, self->sink);
}

FIXTURE_TEARDOWN(td)
{
	if (self->port >= 0)
		cport_close(self->port);
	if (self->rx[0] >= 0)
		close(self->rx[0]);
	if (self->rx[1] >= 0)
		close(self->rx[1]);
	if (self->tx[0] >= 0)
		close(self->tx[0]);
	if (self->tx[1] >= 0)
		close(self->tx[1]);
	if (self->lst >= 0)
		close(self->lst);
	free(self->big);
	free(self->sink);
}

/* A client to the fixture's listener (by its address). */
static int connect_to(struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Whether a connection to @ss is refused (nothing listens there). */
static bool refused(struct sockaddr_storage *ss, socklen_t len)
{
	int fd = connect_to(ss, len);

	if (fd >= 0)
		close(fd);
	return fd == -ECONNREFUSED;
}

/*
 * Associate rx[0], tx[0] and the listener, and leave a recv, a send and
 * an accept pending.  Returns 0 or the failing step.
 */
static int pending_ops(int port, FIXTURE_DATA(td) *self)
{
	struct cport_sqe sqes[3];

	if (cport_associate(port, self->rx[0], KRX, 0) ||
	    cport_associate(port, self->tx[0], KTX, 0) ||
	    cport_associate(port, self->lst, KLS, 0))
		return 1;
	self->filled = fill(self->tx[0]);
	if (!self->filled)
		return 2;
	cport_prep_recv(&sqes[0], self->rx[0], self->buf, sizeof(self->buf),
			1, 0);
	cport_prep_send(&sqes[1], self->tx[0], self->big, BIG, 2);
	cport_prep_accept(&sqes[2], self->lst, NULL, 0, 3, 0, 0);
	if (cport_submit(port, sqes, 3) != 3)
		return 3;
	if (sqes[0].status != CPORT_STATUS_PENDING ||
	    sqes[1].status != CPORT_STATUS_PENDING ||
	    sqes[2].status != CPORT_STATUS_PENDING)
		return 4;
	return 0;
}

/*
 * After the port is gone: the recv consumed nothing (data sent now is
 * read whole by a plain read), the send stopped (what the peer reads is
 * the fill, a prefix of the send, then what is written now), the
 * listener's connections are there for a plain accept.
 */
static void sockets_intact(struct __test_metadata *_metadata,
			   FIXTURE_DATA(td) *self)
{
	struct reader r;
	char in[6];
	int c, a;

	ASSERT_EQ(0, write_full(self->rx[1], "after", 6));
	ASSERT_EQ(0, read_full(self->rx[0], in, 6));
	EXPECT_EQ(0, memcmp(in, "after", 6));

	/* (The socket buffer is full: the peer reads while we write.) */
	ASSERT_EQ(0, reader_start(&r, self->tx[1], self->sink, 2 * BIG));
	ASSERT_EQ(0, write_full(self->tx[0], "tail", 4));
	close(self->tx[0]);
	self->tx[0] = -1;
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	ASSERT_LE(0, r.n);
	EXPECT_LE(0, check_stream(self->sink, r.n, self->filled, "tail")) {
		TH_LOG("%ld bytes read after %zu of fill: not fill, part of "
		       "the send, tail", r.n, self->filled);
	}

	c = connect_to(&self->lst_addr, self->lst_len);
	ASSERT_LE(0, c);
	ASSERT_TRUE(readable(self->lst));
	a = accept4(self->lst, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	EXPECT_LE(0, a);
	close(a);
	close(c);

	close(self->rx[0]);
	self->rx[0] = -1;
	EXPECT_TRUE(sees_eof(self->rx[1]));
}

/*
 * CPORT_IOC_DESTROY with operations pending and threads asleep on the
 * port: the waiters return -EIDRM, the operations are cancelled.
 */
TEST_F(td, destroy_with_pending)
{
	struct waiter w[2];
	int seq = 0, i;

	ASSERT_EQ(0, pending_ops(self->port, self));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, waiter_start(&w[i], self->port, 4, -1, &seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 2));
	ASSERT_EQ(0, cport_destroy(self->port));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(-EIDRM, w[i].ret);
	}
	sockets_intact(_metadata, self);
	EXPECT_EQ(0, close(self->port));
	self->port = -1;
}

/* close() of the port with operations pending: no hang, same outcome. */
TEST_F(td, close_port_with_pending)
{
	ASSERT_EQ(0, pending_ops(self->port, self));
	ASSERT_EQ(0, close(self->port));
	self->port = -1;
	sockets_intact(_metadata, self);
}

/*
 * The process exits with operations pending (and an accept completion
 * queued): it exits, and its sockets close (the peers see end of file,
 * the listener refuses connections).
 */
TEST_F(td, exit_with_pending)
{
	int up[2], down[2], status = -1, c;
	char code = 99, go;
	long n;
	pid_t pid;

	ASSERT_EQ(0, pipe2(up, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(down, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct cport_sqe sqe;
		int port = cport_create(NULL);

		close(self->port);
		if (port < 0)
			_exit(10);
		code = pending_ops(port, self);
		if (!code) {
			/* A second accept, to complete before the exit. */
			cport_prep_accept(&sqe, self->lst, NULL, 0, 4, 0, 0);
			code = submit1(port, &sqe) == 1 ? 0 : 5;
		}
		if (write(up[1], &code, 1) != 1 || code ||
		    write(up[1], &self->filled, sizeof(self->filled)) !=
		    sizeof(self->filled))
			_exit(11);
		if (read(down[0], &go, 1) != 1)
			_exit(12);
		if (!fdinfo_wait(port, "queued", 1))
			_exit(13);
		_exit(0);
	}
	/* The child's ends are the child's alone. */
	close(self->rx[0]);
	close(self->tx[0]);
	close(self->lst);
	self->rx[0] = self->tx[0] = self->lst = -1;

	ASSERT_EQ(1, read(up[0], &code, 1));
	ASSERT_EQ(0, code);
	ASSERT_EQ(sizeof(self->filled), read(up[0], &self->filled,
					     sizeof(self->filled)));
	c = connect_to(&self->lst_addr, self->lst_len);
	ASSERT_LE(0, c);
	ASSERT_EQ(1, write(down[1], "g", 1));
	ASSERT_TRUE(wait_until(waitpid(pid, &status, WNOHANG) == pid,
			       PROGRESS_MS));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	EXPECT_TRUE(sees_eof(self->rx[1]));
	EXPECT_TRUE(sees_eof(c));
	n = read_to_eof(self->tx[1], self->sink, 2 * BIG);
	ASSERT_LE(0, n);
	EXPECT_LE(0, check_stream(self->sink, n, self->filled, NULL));
	close(c);
	EXPECT_TRUE(wait_until(refused(&self->lst_addr, self->lst_len),
			       PROGRESS_MS));
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

struct submitter {
	int port;
	struct cport_sqe sqes[2];
	int ret;
};

static void *submit_fn(void *arg)
{
	struct submitter *s = arg;

	s->ret = cport_submit(s->port, s->sqes, 2);
	return NULL;
}

/*
 * The thread that submitted exits; the operations complete all the same
 * and another thread gets their completions.
 */
TEST_F(td, submitter_exits)
{
	char in[4096], out[4096];
	struct submitter s = { .port = self->port };
	struct cport_cqe cqes[2];
	pthread_t t;
	int i;

	ASSERT_EQ(0, cport_associate(self->port, self->rx[0], KRX, 0));
	ASSERT_EQ(0, cport_associate(self->port, self->tx[0], KTX, 0));
	self->filled = fill(self->tx[0]);
	ASSERT_LT(0, self->filled);
	cport_prep_recv(&s.sqes[0], self->rx[0], in, sizeof(in), 1,
			CPORT_RECV_FILL);
	cport_prep_send(&s.sqes[1], self->tx[0], self->big, BIG, 2);
	ASSERT_EQ(0, pthread_create(&t, NULL, submit_fn, &s));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(2, s.ret);
	ASSERT_EQ(CPORT_STATUS_PENDING, s.sqes[0].status);
	ASSERT_EQ(CPORT_STATUS_PENDING, s.sqes[1].status);

	pattern_fill(out, sizeof(out), 5, 0);
	ASSERT_EQ(0, write_full(self->rx[1], out, sizeof(out)));
	ASSERT_EQ(0, read_full(self->tx[1], self->sink, self->filled + BIG));
	EXPECT_EQ(BIG, check_stream(self->sink, self->filled + BIG,
				    self->filled, NULL));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(1, wait1(self->port, &cqes[i]));
	for (i = 0; i < 2; i++) {
		if (cqes[i].user_data == 1) {
			EXPECT_EQ(sizeof(in), cqes[i].res);
			EXPECT_EQ(KRX, cqes[i].key);
		} else {
			EXPECT_EQ(2, cqes[i].user_data);
			EXPECT_EQ(BIG, cqes[i].res);
			EXPECT_EQ(BIG, cqes[i].bytes);
			EXPECT_EQ(KTX, cqes[i].key);
		}
	}
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
}

/*
 * close() of a socket with a recv pending does not cancel it: the
 * operation holds the socket open, data from the peer still completes
 * it, and the peer sees end of file only once the last operation is
 * cancelled (by key: the descriptor is gone).
 */
TEST_F(td, close_keeps_recv)
{
	char b1[16], b2[16];
	struct cport_sqe sqes[2];
	int fd;

	ASSERT_EQ(0, cport_associate(self->port, self->rx[0], KRX, 0));
	cport_prep_recv(&sqes[0], self->rx[0], b1, sizeof(b1), 1, 0);
	cport_prep_recv(&sqes[1], self->rx[0], b2, sizeof(b2), 2, 0);
	ASSERT_EQ(2, cport_submit(self->port, sqes, 2));
	fd = self->rx[0];
	ASSERT_EQ(0, close(self->rx[0]));
	self->rx[0] = -1;
	EXPECT_TRUE(stays_quiet(self->rx[1]));
	/* By descriptor they cannot be reached any more. */
	EXPECT_EQ(-EBADF, cport_cancel(self->port, CPORT_CANCEL_FD, fd));

	ASSERT_EQ(0, write_full(self->rx[1], "data", 4));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(1, self->cqe.user_data);
	EXPECT_EQ(4, self->cqe.res);
	EXPECT_EQ(KRX, self->cqe.key);
	EXPECT_EQ(0, memcmp(b1, "data", 4));
	/* The second recv still holds the socket. */
	EXPECT_TRUE(stays_quiet(self->rx[1]));
	EXPECT_TRUE(wait_none(self->port, 0));

	ASSERT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_KEY, KRX));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(2, self->cqe.user_data);
	EXPECT_EQ(-ECANCELED, self->cqe.res);
	EXPECT_EQ(0, self->cqe.bytes);
	EXPECT_TRUE(sees_eof(self->rx[1]));
}

/* The same for a send: it completes after close(), then the FIN. */
TEST_F(td, close_keeps_send)
{
	long n;

	ASSERT_EQ(0, cport_associate(self->port, self->tx[0], KTX, 0));
	self->filled = fill(self->tx[0]);
	cport_prep_send(&self->sqe, self->tx[0], self->big, BIG, 1);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	ASSERT_EQ(0, close(self->tx[0]));
	self->tx[0] = -1;

	n = read_to_eof(self->tx[1], self->sink, 2 * BIG);
	ASSERT_EQ(self->filled + BIG, n);
	EXPECT_EQ(BIG, check_stream(self->sink, n, self->filled, NULL));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(1, self->cqe.user_data);
	EXPECT_EQ(BIG, self->cqe.res);
	EXPECT_EQ(BIG, self->cqe.bytes);
}

/* And an accept: the listener keeps listening until the accept is done. */
TEST_F(td, close_keeps_accept)
{
	int c;

	ASSERT_EQ(0, cport_associate(self->port, self->lst, KLS, 0));
	cport_prep_accept(&self->sqe, self->lst, NULL, 0, 1, 0, 0);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	ASSERT_EQ(0, close(self->lst));
	self->lst = -1;
	c = connect_to(&self->lst_addr, self->lst_len);
	ASSERT_LE(0, c);
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(KLS, self->cqe.key);
	ASSERT_LE(0, self->cqe.res);
	ASSERT_EQ(0, write_full(c, "k", 1));
	ASSERT_EQ(0, read_full(self->cqe.res, self->buf, 1));
	EXPECT_EQ('k', self->buf[0]);
	close(self->cqe.res);
	close(c);
	/* Now nothing holds the listener. */
	EXPECT_TRUE(wait_until(refused(&self->lst_addr, self->lst_len),
			       PROGRESS_MS));
}

/*
 * shutdown(SHUT_RDWR) completes what is pending: a recv with 0 (end of
 * file), a send with -EPIPE and the bytes it got into the socket, which
 * are exactly what the peer reads.
 */
TEST_F(td, shutdown_completes)
{
	struct cport_sqe sqes[2];
	struct cport_cqe cqes[2], *r = NULL, *s = NULL;
	long n;
	int i;

	ASSERT_EQ(0, cport_associate(self->port, self->tx[0], KTX, 0));
	self->filled = fill(self->tx[0]);
	cport_prep_recv(&sqes[0], self->tx[0], self->buf, sizeof(self->buf),
			1, 0);
	cport_prep_send(&sqes[1], self->tx[0], self->big, BIG, 2);
	ASSERT_EQ(2, cport_submit(self->port, sqes, 2));
	EXPECT_TRUE(wait_none(self->port, 20));
	ASSERT_EQ(0, shutdown(self->tx[0], SHUT_RDWR));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(1, wait1(self->port, &cqes[i]));
	for (i = 0; i < 2; i++) {
		if (cqes[i].user_data == 1)
			r = &cqes[i];
		else
			s = &cqes[i];
	}
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, r->res);
	EXPECT_EQ(0, r->bytes);
	EXPECT_EQ(-EPIPE, s->res);
	EXPECT_GT(BIG, s->bytes);
	n = read_to_eof(self->tx[1], self->sink, 2 * BIG);
	ASSERT_LE(0, n);
	EXPECT_EQ(s->bytes, check_stream(self->sink, n, self->filled, NULL));
}

/*
 * A recv buffer unmapped while the recv is pending: -EFAULT with 0
 * bytes, and the data stays in the socket for the next recv.
 */
TEST_F(td, recv_buffer_unmapped)
{
	long page = sysconf(_SC_PAGESIZE);
	char out[1000], in[1000];
	char *map;

	ASSERT_EQ(0, cport_associate(self->port, self->rx[0], KRX, 0));
	map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	cport_prep_recv(&self->sqe, self->rx[0], map + page, page, 1, 0);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(0, munmap(map + page, page));

	pattern_fill(out, sizeof(out), 9, 0);
	ASSERT_EQ(0, write_full(self->rx[1], out, sizeof(out)));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(1, self->cqe.user_data);
	EXPECT_EQ(-EFAULT, self->cqe.res);
	EXPECT_EQ(0, self->cqe.bytes);

	cport_prep_recv(&self->sqe, self->rx[0], in, sizeof(in), 2,
			CPORT_RECV_FILL);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(2, self->cqe.user_data);
	EXPECT_EQ(sizeof(in), self->cqe.res);
	EXPECT_EQ(-1, pattern_check(in, sizeof(in), 9, 0));
	munmap(map, page);
	munmap(map + 2 * page, page);
}

/*
 * A send buffer unmapped before the socket had room for it: -EFAULT
 * with the bytes sent so far, which are exactly what the peer gets; the
 * socket still works.
 */
TEST_F(td, send_buffer_unmapped)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = 64 * page;
	struct reader r;
	char *map;

	ASSERT_EQ(0, cport_associate(self->port, self->tx[0], KTX, 0));
	self->filled = fill(self->tx[0]);
	map = mmap(NULL, len + 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(map + page, self->big, len);
	cport_prep_send(&self->sqe, self->tx[0], map + page, len, 1);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, self->sqe.status);
	ASSERT_EQ(0, munmap(map + page, len));

	/* The peer drains: the send goes on from the unmapped buffer. */
	ASSERT_EQ(0, reader_start(&r, self->tx[1], self->sink, 2 * BIG));
	ASSERT_EQ(1, wait1(self->port, &self->cqe));
	EXPECT_EQ(1, self->cqe.user_data);
	EXPECT_EQ(-EFAULT, self->cqe.res);
	EXPECT_GT(len, self->cqe.bytes);

	/* The socket still works: the rest, then what is written now. */
	ASSERT_EQ(0, write_full(self->tx[0], "tail", 4));
	ASSERT_EQ(0, shutdown(self->tx[0], SHUT_WR));
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	ASSERT_LE(0, r.n);
	EXPECT_EQ(self->cqe.bytes, check_stream(self->sink, r.n, self->filled,
						"tail"));
	munmap(map, page);
	munmap(map + page + len, page);
}

struct trickle {
	int fd;
	size_t len;
	int ret;
};

/* Write @len bytes of pattern 11, one byte per write. */
static void *trickle_fn(void *arg)
{
	struct trickle *t = arg;
	size_t i;

	for (i = 0; i < t->len; i++) {
		char b = pattern_byte(11, i);

		t->ret = write_full(t->fd, &b, 1);
		if (t->ret)
			break;
	}
	return NULL;
}

/*
 * Destroy after waiters ran a busy socket: the main thread sleeps on the
 * port with a fill-mode recv pending while another thread trickles the
 * data in one byte at a time, so the socket is kicked again and again,
 * also while it is handed to the sleeping thread and not yet run (a
 * kick then once corrupted the port's ready list: destroy spun forever
 * with interrupts off).  Every recv gets its bytes, in order.
 */
#define TRICKLE_RECV	64

TEST_F(td, destroy_after_busy_waiter)
{
	int rounds = slow_kernel() ? 100 : 1000, i;
	char buf[TRICKLE_RECV];
	struct trickle t;
	pthread_t th;

	ASSERT_EQ(0, cport_associate(self->port, self->rx[0], KRX, 0));
	t.fd = self->rx[1];
	t.len = (size_t)rounds * TRICKLE_RECV;
	t.ret = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, trickle_fn, &t));
	for (i = 0; i < rounds; i++) {
		cport_prep_recv(&self->sqe, self->rx[0], buf, sizeof(buf), i,
				CPORT_RECV_FILL);
		ASSERT_EQ(1, submit1(self->port, &self->sqe));
		ASSERT_EQ(1, wait1(self->port, &self->cqe));
		ASSERT_EQ(i, self->cqe.user_data);
		ASSERT_EQ(sizeof(buf), self->cqe.res);
		ASSERT_EQ(-1, pattern_check(buf, sizeof(buf), 11,
					    (size_t)i * sizeof(buf))) {
			TH_LOG("recv %d has the wrong bytes", i);
		}
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, t.ret);
	/* One more pending, and the port goes with it. */
	cport_prep_recv(&self->sqe, self->rx[0], buf, sizeof(buf), 1, 0);
	ASSERT_EQ(1, submit1(self->port, &self->sqe));
	EXPECT_EQ(0, cport_destroy(self->port));
	sockets_intact(_metadata, self);
}

/* ------------------------------------------------------------------ */

/* Send descriptor @fd over unix socket @sock; returns 0 or -errno. */
static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = "f", .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_DONTWAIT) == 1 ? 0 : -errno;
}

/* Receive a descriptor sent by send_fd(); returns it or -errno. */
static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * The owner exits while its port's descriptor lives on in another
 * process (passed over a unix socket): the port is destroyed at once,
 * its pending recv cancelled, the socket closed (the peer sees end of
 * file); the other process sees a destroyed port.
 */
TEST(exit_port_fd_elsewhere)
{
	int rx[2] = { -1, -1 }, ch[2], status = -1, port;
	pid_t pid;

	ASSERT_EQ(0, sock_pair(SK_TCP4, rx));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		static char buf[64];
		struct cport_sqe sqe;

		port = cport_create(NULL);
		if (port < 0 || cport_associate(port, rx[0], KRX, 0))
			_exit(1);
		cport_prep_recv(&sqe, rx[0], buf, sizeof(buf), 1, 0);
		if (submit1(port, &sqe) != 1)
			_exit(2);
		if (send_fd(ch[1], port))
			_exit(3);
		_exit(0);
	}
	close(rx[0]);
	close(ch[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	port = recv_fd(ch[0]);
	ASSERT_LE(0, port);

	EXPECT_TRUE(sees_eof(rx[1]));
	EXPECT_TRUE(fdinfo_wait(port, "destroyed", 1));
	EXPECT_EQ(-EPERM, cport_destroy(port));
	close(port);
	close(rx[1]);
	close(ch[0]);
}

/*
 * A cycle: the port's own descriptor in flight in the receive queue of a
 * socket that a pending send of that port pins.  When the owner exits
 * the port is destroyed all the same, and so the socket closes: its peer
 * sees end of file (instead of both leaking).
 */
TEST(exit_port_fd_in_own_socket)
{
	int u[2], status = -1;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, u));
	small_sndbuf(u[0]);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		static char big[BIG];
		struct cport_sqe sqe;
		int port = cport_create(NULL);

		if (port < 0 || cport_associate(port, u[0], KTX, 0))
			_exit(1);
		if (!fill(u[0]))
			_exit(2);
		cport_prep_send(&sqe, u[0], big, sizeof(big), 1);
		if (submit1(port, &sqe) != 1 ||
		    sqe.status != CPORT_STATUS_PENDING)
			_exit(3);
		/* Into u[0]'s receive queue, which nobody reads. */
		if (send_fd(u[1], port))
			_exit(4);
		_exit(0);
	}
	close(u[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_TRUE(sees_eof(u[1]));
	close(u[1]);
}

/* A forked child gets -EPERM for every socket operation on the port. */
TEST(fork_child_eperm)
{
	int port, fds[2] = { -1, -1 }, other[2] = { -1, -1 }, l, status = -1;
	struct cport_sqe psqe;
	struct cport_cqe pcqe;
	char buf[8];
	pid_t pid;

	port = cport_create(NULL);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	ASSERT_EQ(0, sock_pair(SK_UNIX, other));
	l = sock_listener(SK_TCP4);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, cport_associate(port, fds[0], KRX, 0));
	ASSERT_EQ(0, cport_associate(port, l, KLS, 0));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct cport_sqe sqe;

		if (cport_associate(port, other[0], 1, 0) != -EPERM)
			_exit(1);
		if (cport_dissociate(port, fds[0]) != -EPERM)
			_exit(2);
		cport_prep_recv(&sqe, fds[0], buf, sizeof(buf), 1, 0);
		if (submit1(port, &sqe) != -EPERM)
			_exit(3);
		cport_prep_send(&sqe, fds[0], "x", 1, 2);
		if (submit1(port, &sqe) != -EPERM)
			_exit(4);
		cport_prep_accept(&sqe, l, NULL, 0, 3, 0, 0);
		if (submit1(port, &sqe) != -EPERM)
			_exit(5);
		if (cport_cancel(port, CPORT_CANCEL_ALL, 0) != -EPERM)
			_exit(6);
		/* Before the submission's own checks. */
		cport_prep_recv(&sqe, -1, buf, sizeof(buf), 1, 0);
		sqe.flags = 0x8000;
		if (submit1(port, &sqe) != -EPERM)
			_exit(7);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* Nothing happened to the parent's port. */
	EXPECT_EQ(2, fdinfo_get(port, "sockets"));
	EXPECT_EQ(0, cport_associate(port, other[0], 1, 0));
	EXPECT_EQ(-ENOENT, cport_cancel(port, CPORT_CANCEL_ALL, 0));
	cport_prep_recv(&psqe, fds[0], buf, sizeof(buf), 9, 0);
	ASSERT_EQ(1, submit1(port, &psqe));
	ASSERT_EQ(0, write_full(fds[1], "p", 1));
	ASSERT_EQ(1, wait1(port, &pcqe));
	EXPECT_EQ(9, pcqe.user_data);
	EXPECT_EQ(1, pcqe.res);
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
	close(other[0]);
	close(other[1]);
	close(l);
}

TEST_HARNESS_MAIN
