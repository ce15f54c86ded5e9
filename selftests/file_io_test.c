// SPDX-License-Identifier: GPL-2.0
/*
 * CPORT_OP_READ and CPORT_OP_WRITE on pipes, FIFOs and eventfd: a READ
 * completes with what is there (partial), 0 at end of file (also when the
 * writer closes while it is pending); a WRITE larger than the pipe is
 * whole with a slow reader; -EPIPE without SIGPIPE; the order of several
 * of each; cancel (user_data, fd, key, all), timeout, destroy and close()
 * with operations pending; the association that lives only while
 * operations are pending (a closed write end is seen by the reader);
 * which files are refused (-EOPNOTSUPP) and every bad field's errno;
 * associations made and ended by several threads at once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY		0x70697065ULL
#define KEY2		(KEY + 1)

static int sub_read(int port, struct cport_sqe *sqe, int fd, void *buf,
		    size_t len, __u64 key, __u64 ud, unsigned int flags,
		    __u64 timeout_ns)
{
	cport_prep_read(sqe, fd, buf, len, key, ud);
	sqe->flags = flags;
	sqe->timeout_ns = timeout_ns;
	return submit1(port, sqe);
}

static int sub_write(int port, struct cport_sqe *sqe, int fd, const void *buf,
		     size_t len, __u64 key, __u64 ud, unsigned int flags)
{
	cport_prep_write(sqe, fd, buf, len, key, ud);
	sqe->flags = flags;
	return submit1(port, sqe);
}

/* A READ or WRITE that must wait: 1, the submission's -errno, or -EPROTO. */
static int read_pending(int port, int fd, void *buf, size_t len, __u64 key,
			__u64 ud, __u64 timeout_ns)
{
	struct cport_sqe sqe;
	int ret = sub_read(port, &sqe, fd, buf, len, key, ud, 0, timeout_ns);

	if (ret == 1 && sqe.status != CPORT_STATUS_PENDING)
		return -EPROTO;
	return ret;
}

static int write_pending(int port, int fd, const void *buf, size_t len,
			 __u64 key, __u64 ud)
{
	struct cport_sqe sqe;
	int ret = sub_write(port, &sqe, fd, buf, len, key, ud, 0);

	if (ret == 1 && sqe.status != CPORT_STATUS_PENDING)
		return -EPROTO;
	return ret;
}

static volatile sig_atomic_t got_sigpipe;

static void on_sigpipe(int sig)
{
	got_sigpipe = 1;
}

FIXTURE(pipe) {
	int port;
	int r, w;		/* the pipe's ends */
	unsigned char buf[4096];
};

FIXTURE_SETUP(pipe)
{
	int p[2];

	sock_fixture_port(_metadata, &self->port);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	self->r = p[0];
	self->w = p[1];
	got_sigpipe = 0;
	signal(SIGPIPE, on_sigpipe);
}

FIXTURE_TEARDOWN(pipe)
{
	if (self->r >= 0)
		close(self->r);
	if (self->w >= 0)
		close(self->w);
	cport_close(self->port);
}

/* ASSOCIATE and DISSOCIATE of a pipe check it and record nothing. */
TEST_F(pipe, associate)
{
	struct cport_cqe cqe;

	EXPECT_EQ(0, cport_associate(self->port, self->r, KEY, 0));
	EXPECT_EQ(0, cport_associate(self->port, self->w, KEY, 0));
	/* Nothing is recorded: again is fine, under another key too. */
	EXPECT_EQ(0, cport_associate(self->port, self->r, KEY2, 0));
	EXPECT_EQ(0, cport_dissociate(self->port, self->r));
	EXPECT_EQ(0, fdinfo_get(self->port, "sockets"));
	EXPECT_EQ(0, fdinfo_get(self->port, "file_associations"));
	/* Busy while a READ is pending. */
	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 1, 0));
	EXPECT_EQ(1, fdinfo_get(self->port, "sockets"));
	EXPECT_EQ(1, fdinfo_get(self->port, "file_associations"));
	EXPECT_EQ(-EBUSY, cport_dissociate(self->port, self->r));
	EXPECT_EQ(0, cport_dissociate(self->port, self->w));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_FD, self->r));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, -ECANCELED, 0);
	/* The association ends with its last operation. */
	EXPECT_TRUE(fdinfo_wait(self->port, "sockets", 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "file_associations"));
	EXPECT_EQ(0, cport_dissociate(self->port, self->r));
}

/* Data already there: at once, what there is (partial). */
TEST_F(pipe, read_partial)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(5, write(self->w, "hello", 5));
	ASSERT_EQ(1, sub_read(self->port, &sqe, self->r, self->buf, 100, KEY,
			      7, CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(5, sqe.res);
	EXPECT_EQ(5, sqe.bytes);
	EXPECT_EQ(0, memcmp(self->buf, "hello", 5));
	/* Posted by default. */
	ASSERT_EQ(3, write(self->w, "abc", 3));
	ASSERT_EQ(1, sub_read(self->port, &sqe, self->r, self->buf, 2, KEY, 8,
			      0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 8, 2, 2);
	EXPECT_EQ(0, memcmp(self->buf, "ab", 2));
	/* What was left, at once. */
	ASSERT_EQ(1, sub_read(self->port, &sqe, self->r, self->buf, 100, KEY,
			      9, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 9, 1, 1);
	EXPECT_EQ('c', self->buf[0]);
	/* Pending, then data. */
	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 100, KEY, 10,
				  0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(4, write(self->w, "defg", 4));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 10, 4, 4);
	EXPECT_EQ(0, memcmp(self->buf, "defg", 4));
	EXPECT_TRUE(fdinfo_wait(self->port, "sockets", 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "files"));
}

/* The writer closes while a READ is pending: it completes with 0. */
TEST_F(pipe, read_eof)
{
	struct cport_cqe cqe;
	struct cport_sqe sqe;

	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 100, KEY, 1,
				  0));
	/* The port holds the read end only: the writer's close is seen. */
	close(self->w);
	self->w = -1;
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, 0, 0);
	/* And a READ at end of file completes at once. */
	ASSERT_EQ(1, sub_read(self->port, &sqe, self->r, self->buf, 100, KEY,
			      2, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 2, 0, 0);
}

/*
 * A WRITE idle on its association (completed) holds nothing: the reader
 * sees end of file when the writer closes after it.
 */
TEST_F(pipe, write_then_close_eof)
{
	struct cport_cqe cqe;
	struct cport_sqe sqe;

	ASSERT_EQ(1, sub_write(self->port, &sqe, self->w, "xy", 2, KEY, 1, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_WRITE, KEY, 1, 2, 2);
	close(self->w);
	self->w = -1;
	EXPECT_EQ(2, read(self->r, self->buf, sizeof(self->buf)));
	EXPECT_EQ(0, read(self->r, self->buf, sizeof(self->buf)));
}

struct slow_reader {
	int fd;
	unsigned char *buf;
	size_t len;
	ssize_t got;
};

/* Read it all, 1 KiB at a time with a pause: the writer waits for room. */
static void *slow_reader_fn(void *arg)
{
	struct slow_reader *sr = arg;
	size_t n = 0;

	while (n < sr->len) {
		size_t want = sr->len - n < 1024 ? sr->len - n : 1024;
		ssize_t r = read(sr->fd, sr->buf + n, want);

		if (r <= 0)
			break;
		n += r;
		usleep(100);
	}
	sr->got = n;
	return NULL;
}

/* Larger than the pipe, with a slow reader: whole, intact. */
TEST_F(pipe, write_whole)
{
	size_t len = slow_kernel() ? (64 << 10) : (512 << 10);
	unsigned char *out = malloc(len), *in = malloc(len);
	struct slow_reader sr = { self->r, in, len, 0 };
	struct cport_cqe cqe;
	pthread_t t;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	ASSERT_LE(0, fcntl(self->w, F_SETPIPE_SZ, 4096));
	pattern_fill(out, len, 3, 0);
	ASSERT_EQ(1, write_pending(self->port, self->w, out, len, KEY, 1));
	ASSERT_EQ(0, pthread_create(&t, NULL, slow_reader_fn, &sr));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_WRITE, KEY, 1, len, len);
	pthread_join(t, NULL);
	EXPECT_EQ((ssize_t)len, sr.got);
	EXPECT_EQ(-1, pattern_check(in, len, 3, 0));
	free(out);
	free(in);
}

/* No reader: -EPIPE, and no SIGPIPE for anybody. */
TEST_F(pipe, epipe)
{
	static unsigned char big[256 << 10];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	long pipe_sz;

	/* Part-way: the reader goes while a WRITE waits for room. */
	pipe_sz = fcntl(self->w, F_GETPIPE_SZ);
	ASSERT_LT(0, pipe_sz);
	ASSERT_EQ(1, write_pending(self->port, self->w, big, sizeof(big), KEY,
				   1));
	close(self->r);
	self->r = -1;
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_WRITE, KEY, 1, -EPIPE, pipe_sz);
	/* At once. */
	ASSERT_EQ(1, sub_write(self->port, &sqe, self->w, "x", 1, KEY, 2,
			       CPORT_SQE_INLINE));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(-EPIPE, sqe.res);
	ASSERT_EQ(1, sub_write(self->port, &sqe, self->w, "x", 1, KEY, 3, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_WRITE, KEY, 3, -EPIPE, 0);
	EXPECT_EQ(0, got_sigpipe);
	/* The test's own write(2) still gets its SIGPIPE. */
	EXPECT_EQ(-1, write(self->w, "x", 1));
	EXPECT_EQ(1, got_sigpipe);
}

/* Several READs, then several WRITEs: in submission order. */
TEST_F(pipe, order)
{
	unsigned char bufs[4][8], src[4][8];
	struct cport_cqe cqe;
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(1, read_pending(self->port, self->r, bufs[i], 8, KEY,
					  10 + i, 0));
	for (i = 0; i < 4; i++) {
		memset(src[i], 'a' + i, 8);
		ASSERT_EQ(8, write(self->w, src[i], 8));
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 10 + i, 8, 8);
		EXPECT_EQ(0, memcmp(bufs[i], src[i], 8));
	}

	/* Fill the pipe so that the WRITEs wait, then drain it. */
	{
		static unsigned char fill[65536], rd[65536 + 4 * 8];
		long sz;
		int n = 0;

		ASSERT_LE(0, fcntl(self->w, F_SETPIPE_SZ, 4096));
		sz = fcntl(self->w, F_GETPIPE_SZ);
		ASSERT_EQ(0, fcntl(self->w, F_SETFL, O_NONBLOCK));
		ASSERT_EQ(sz, write(self->w, fill, sz));
		for (i = 0; i < 4; i++)
			ASSERT_EQ(1, write_pending(self->port, self->w, src[i],
						   8, KEY, 20 + i));
		while (n < sz + 32) {
			ssize_t r = read(self->r, rd + n, sizeof(rd) - n);

			ASSERT_LT(0, r);
			n += r;
		}
		for (i = 0; i < 4; i++) {
			EXPECT_EQ(0, memcmp(rd + sz + 8 * i, src[i], 8));
			ASSERT_EQ(1, wait1(self->port, &cqe));
			EXPECT_CQE(cqe, CPORT_OP_WRITE, KEY, 20 + i, 8, 8);
		}
	}
}

/* Cancel by user_data, fd, key, all; a timeout. */
TEST_F(pipe, cancel_timeout)
{
	struct cport_cqe cqe;
	int p2[2];

	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 1,
				  0));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA, 1));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, -ECANCELED, 0);

	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 2,
				  0));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 2, -ECANCELED, 0);

	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 3,
				  0));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 3, -ECANCELED, 0);

	/* Nothing pending: the cancel finds nothing. */
	EXPECT_TRUE(fdinfo_wait(self->port, "sockets", 0));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_FD, self->r));
	/* ... and touches nothing else, under key 0 either. */
	ASSERT_EQ(0, pipe2(p2, O_CLOEXEC));
	ASSERT_EQ(1, read_pending(self->port, p2[0], self->buf, 8, 0, 9, 0));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_FD, self->r));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_FD, p2[0]));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, 0, 9, -ECANCELED, 0);
	close(p2[0]);
	close(p2[1]);

	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 4,
				  50 * NSEC_PER_MSEC));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 4, -ETIMEDOUT, 0);
	/* The pipe is usable after. */
	ASSERT_EQ(2, write(self->w, "ok", 2));
	EXPECT_EQ(2, read(self->r, self->buf, 8));
}

/*
 * close() with a READ pending: the pipe stays open until it completes,
 * and is released after (the writer then gets EPIPE).
 */
TEST_F(pipe, close_pending)
{
	struct cport_cqe cqe;
	int p[2];

	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 1,
				  0));
	close(self->r);
	self->r = -1;
	ASSERT_EQ(3, write(self->w, "abc", 3));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, 3, 3);
	EXPECT_TRUE(fdinfo_wait(self->port, "files", 0));
	EXPECT_EQ(-1, write(self->w, "x", 1));
	EXPECT_EQ(EPIPE, errno);
	/* Cancel by key still reaches one pending on a closed descriptor. */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(1, read_pending(self->port, p[0], self->buf, 8, KEY2, 2, 0));
	close(p[0]);
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY2));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY2, 2, -ECANCELED, 0);
	EXPECT_TRUE(fdinfo_wait(self->port, "files", 0));
	EXPECT_EQ(-1, write(p[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	close(p[1]);
}

/* Destroy with operations pending: they go, and so do the pinned ends. */
TEST_F(pipe, destroy_pending)
{
	static unsigned char big[256 << 10];
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 1,
				  0));
	ASSERT_EQ(1, write_pending(self->port, p[1], big, sizeof(big), KEY2,
				   2));
	close(self->r);
	self->r = -1;
	close(p[1]);
	ASSERT_EQ(0, cport_destroy(self->port));
	/* Both ends the port held are closed now. */
	EXPECT_EQ(-1, write(self->w, "x", 1));
	EXPECT_EQ(EPIPE, errno);
	for (;;) {
		ssize_t r = read(p[0], big, sizeof(big));

		ASSERT_LE(0, r);
		if (!r)
			break;
	}
	close(p[0]);
	EXPECT_EQ(1, got_sigpipe);	/* the test's own write above */
}

/* Another port's, or another key's, while operations are pending. */
TEST_F(pipe, busy)
{
	int port2 = cport_create(NULL);
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_LE(0, port2);
	ASSERT_EQ(1, read_pending(self->port, self->r, self->buf, 8, KEY, 1,
				  0));
	EXPECT_EQ(-EBUSY, sub_read(port2, &sqe, self->r, self->buf, 8, KEY, 2,
				   0, 0));
	EXPECT_EQ(-EBUSY, sub_read(self->port, &sqe, self->r, self->buf, 8,
				   KEY2, 3, 0, 0));
	/* The write end is another file. */
	EXPECT_EQ(1, sub_write(port2, &sqe, self->w, "z", 1, KEY2, 4, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, 1, 1);
	ASSERT_EQ(1, wait1(port2, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_WRITE, KEY2, 4, 1, 1);
	/* Free again: another port may use it now. */
	ASSERT_EQ(1, write(self->w, "q", 1));
	ASSERT_EQ(1, sub_read(port2, &sqe, self->r, self->buf, 8, KEY2, 5,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(1, sqe.res);
	cport_close(port2);
}

/* A FIFO (mkfifo). */
TEST_F(pipe, fifo)
{
	char path[64];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int r, w;

	snprintf(path, sizeof(path), "/tmp/cport-fifo-%d", getpid());
	unlink(path);
	ASSERT_EQ(0, mkfifo(path, 0600));
	r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, r);
	w = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, w);
	unlink(path);
	EXPECT_EQ(0, cport_associate(self->port, r, KEY, 0));
	ASSERT_EQ(1, read_pending(self->port, r, self->buf, 64, KEY, 1, 0));
	ASSERT_EQ(1, sub_write(self->port, &sqe, w, "fifo", 4, KEY2, 2,
			       CPORT_SQE_INLINE));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(4, sqe.res);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, 4, 4);
	EXPECT_EQ(0, memcmp(self->buf, "fifo", 4));
	close(w);
	ASSERT_EQ(1, sub_read(self->port, &sqe, r, self->buf, 64, KEY, 3, 0,
			      0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 3, 0, 0);
	close(r);
}

/* eventfd: 8 bytes, the counter. */
TEST_F(pipe, eventfd)
{
	int ev = eventfd(0, EFD_CLOEXEC);
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	uint64_t v = 0, add = 5;

	ASSERT_LE(0, ev);
	EXPECT_EQ(0, cport_associate(self->port, ev, KEY, 0));
	ASSERT_EQ(1, read_pending(self->port, ev, &v, 8, KEY, 1, 0));
	/* eventfd's write has no non-blocking form for the kernel. */
	EXPECT_EQ(-EOPNOTSUPP, sub_write(self->port, &sqe, ev, &add, 8, KEY, 2,
					 CPORT_SQE_INLINE));
	ASSERT_EQ(8, write(ev, &add, 8));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, 8, 8);
	EXPECT_EQ(5, v);
	/* Shorter than 8 bytes: eventfd's own -EINVAL, as a result. */
	ASSERT_EQ(1, sub_read(self->port, &sqe, ev, &v, 4, KEY, 3,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(-EINVAL, sqe.res);
	close(ev);
}

/* Files READ and WRITE refuse: -EOPNOTSUPP, at ASSOCIATE too. */
TEST_F(pipe, refused)
{
	char path[64];
	struct cport_sqe sqe;
	int f, d, null_fd, pt;

	snprintf(path, sizeof(path), "/tmp/cport-reg-%d", getpid());
	f = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, f);
	unlink(path);
	d = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, d);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);	/* no poll */
	ASSERT_LE(0, null_fd);

	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, f, KEY, 0));
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, d, KEY, 0));
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, null_fd, KEY, 0));
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, self->port, KEY, 0));
	EXPECT_EQ(-EOPNOTSUPP, cport_dissociate(self->port, f));
	EXPECT_EQ(-EOPNOTSUPP, cport_cancel(self->port, CPORT_CANCEL_FD, f));
	EXPECT_EQ(-EOPNOTSUPP, sub_read(self->port, &sqe, f, self->buf, 8, KEY,
					1, 0, 0));
	EXPECT_EQ(-EOPNOTSUPP, sub_write(self->port, &sqe, f, "x", 1, KEY, 1,
					 0));
	EXPECT_EQ(0, sqe.status);
	/* A tty: no FMODE_NOWAIT (its read may block in spite of it). */
	pt = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (pt >= 0) {
		EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, pt, KEY, 0));
		close(pt);
	} else {
		TH_LOG("no pty: %s", strerror(errno));
	}
	close(f);
	close(d);
	close(null_fd);
}

/* Every bad field, with its errno, in the documented order. */
TEST_F(pipe, errnos)
{
	struct cport_setup st = { .max_pending = 1 };
	int sp[2], port2;
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
#define BAD(err, ...) do {						\
		cport_prep_read(&sqe, self->r, self->buf, 8, KEY, 1);	\
		__VA_ARGS__;						\
		EXPECT_EQ(-(err), submit1(self->port, &sqe));		\
		EXPECT_EQ(0, sqe.status);				\
	} while (0)
	BAD(EINVAL, sqe.flags = 1 << 7);
	BAD(EINVAL, sqe.flags = CPORT_SQE_INLINE | CPORT_SQE_POST);
	BAD(EINVAL, sqe.op_flags = 1);
	BAD(EINVAL, sqe.len = 0);
	BAD(EINVAL, sqe.len = (__u64)CPORT_MAX_IO + 1);
	BAD(EINVAL, sqe.opcode = 13);
	BAD(EINVAL, sqe.opcode = CPORT_OP__NR);
	BAD(EINVAL, sqe.fd = -1; sqe.len = 0);	/* fields before fd */
	BAD(EBADF, sqe.fd = -1);
	BAD(EBADF, sqe.fd = self->w);		/* not open for reading */
	BAD(EBADF, sqe.opcode = CPORT_OP_WRITE);	/* on the read end */
	BAD(ENOTSOCK, sqe.opcode = CPORT_OP_RECV; sqe.key = 0);
	BAD(ENOTSOCK, sqe.opcode = CPORT_OP_SEND; sqe.key = 0;
	    sqe.fd = self->w);
	BAD(EFAULT, sqe.addr = (__u64)-4096);
	/* A socket: it must be associated, under its own key. */
	BAD(ENOENT, sqe.fd = sp[0]);
	ASSERT_EQ(0, cport_associate(self->port, sp[0], KEY2, 0));
	BAD(EINVAL, sqe.fd = sp[0]);
	/* ...and then READ and WRITE are RECV and SEND. */
	cport_prep_write(&sqe, sp[1], "sock", 4, 0, 0);
	EXPECT_EQ(-ENOENT, submit1(self->port, &sqe));
	EXPECT_EQ(4, write(sp[1], "sock", 4));
	cport_prep_read(&sqe, sp[0], self->buf, 8, 0, 5);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(4, sqe.res);
	cport_prep_write(&sqe, sp[0], "back", 4, 0, 6);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(4, sqe.res);
	EXPECT_EQ(4, read(sp[1], self->buf, 8));
	/* max_pending, then a destroyed port. */
	port2 = cport_create(&st);
	ASSERT_LE(0, port2);
	ASSERT_EQ(1, read_pending(port2, self->r, self->buf, 8, KEY, 1,
				  0));
	cport_prep_write(&sqe, self->w, "x", 1, KEY, 2);
	EXPECT_EQ(-ENOBUFS, submit1(port2, &sqe));
	EXPECT_EQ(1, cport_cancel(port2, CPORT_CANCEL_ALL, 0));
	ASSERT_EQ(1, wait1(port2, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_READ, KEY, 1, -ECANCELED, 0);
	ASSERT_EQ(0, cport_destroy(port2));
	cport_prep_read(&sqe, self->r, self->buf, 8, KEY, 1);
	EXPECT_EQ(-EIDRM, submit1(port2, &sqe));
	cport_prep_associate(&sqe, self->r, KEY, 0);
	EXPECT_EQ(-EIDRM, submit1(port2, &sqe));
	/* Unsupported comes before destroyed. */
	cport_prep_read(&sqe, sp[0], self->buf, 8, 0, 1);
	sqe.opcode = CPORT_OP_RECV;
	sqe.fd = self->port;
	EXPECT_EQ(-ENOTSOCK, submit1(port2, &sqe));
	cport_close(port2);
#undef BAD
	close(sp[0]);
	close(sp[1]);
}

/*
 * Associations made and ended from several threads at once: three threads
 * submit one-byte READs on one pipe (under one key; each READ on an idle
 * pipe makes its association, the last one to end ends it) and cancel
 * about half of them, by user_data or by descriptor, while a fourth
 * writes bytes and a fifth calls DISSOCIATE (0 or -EBUSY) and ASSOCIATE
 * on the read end and samples fdinfo (every association is a file's, and
 * there are few: one, plus any that has just ended and is being unlinked
 * while a new one is made, at most one per thread).  Every READ completes exactly once: a byte or -ECANCELED
 * while the writer is open, 0 or -ECANCELED once it has closed.  Every
 * byte written is read once, and the port ends with no association, file
 * or operation left.
 */
#define RACE_THREADS	3

struct race {
	int port, r, w;
	unsigned int iters;
	int stop;		/* atomic */
	unsigned long long written;
	int assoc_err;		/* the fifth thread's finding, or 0 */
	long long socks, files;	/* the fdinfo that was wrong */
	unsigned char bufs[RACE_THREADS][64];
};

struct race_arg {
	struct race *race;
	int t;
	int err;		/* a failed submission's */
	unsigned int done;	/* READs submitted */
};

static void *race_submit_fn(void *arg)
{
	struct race_arg *a = arg;
	struct race *rc = a->race;
	unsigned int seed = a->t * 7919 + 1;
	struct cport_sqe sqe;
	int ret;

	for (; a->done < rc->iters; a->done++) {
		__u64 ud = (__u64)a->t << 32 | a->done;

		/* Inline results are posted too (no CPORT_SQE_INLINE). */
		ret = sub_read(rc->port, &sqe, rc->r,
			       &rc->bufs[a->t][a->done % 64], 1, KEY, ud, 0, 0);
		if (ret != 1) {
			a->err = ret;
			break;
		}
		switch (rand_r(&seed) % 4) {
		case 0:
			cport_cancel(rc->port, CPORT_CANCEL_USER_DATA, ud);
			break;
		case 1:
			cport_cancel(rc->port, CPORT_CANCEL_FD, rc->r);
			break;
		}
	}
	return NULL;
}

static void *race_write_fn(void *arg)
{
	struct race *rc = arg;

	while (!__atomic_load_n(&rc->stop, __ATOMIC_ACQUIRE)) {
		if (write(rc->w, "w", 1) != 1)
			usleep(100);	/* full: the readers are behind */
		else if (++rc->written % 16 == 0)
			usleep(100);
	}
	return NULL;
}

static void *race_assoc_fn(void *arg)
{
	struct race *rc = arg;
	long long socks, files;
	char text[FDINFO_SIZE];
	int ret;

	while (!__atomic_load_n(&rc->stop, __ATOMIC_ACQUIRE)) {
		ret = cport_dissociate(rc->port, rc->r);
		if (ret && ret != -EBUSY)
			break;
		ret = cport_associate(rc->port, rc->r, KEY2, 0);
		if (ret)
			break;
		if (fdinfo_read(rc->port, text, sizeof(text)) <= 0)
			continue;
		socks = fdinfo_find_num(text, "sockets");
		files = fdinfo_find_num(text, "file_associations");
		if (socks < 0 || socks > RACE_THREADS + 3 || files != socks) {
			ret = -EPROTO;
			rc->socks = socks;
			rc->files = files;
			break;
		}
		usleep(50);
	}
	rc->assoc_err = ret;
	return NULL;
}

/* Completions until none comes for @ms; each checked and counted. */
static void race_drain(struct __test_metadata *_metadata, struct race *rc,
		       unsigned char *done, bool closed, int ms,
		       unsigned long long *seen, unsigned long long *got)
{
	struct cport_cqe cqe[16];
	int i, n;

	while ((n = cport_wait(rc->port, cqe, 16, ms)) > 0) {
		for (i = 0; i < n; i++) {
			__u64 t = cqe[i].user_data >> 32;
			__u64 k = cqe[i].user_data & 0xffffffff;

			ASSERT_GT(RACE_THREADS, t);
			ASSERT_GT(rc->iters, k);
			EXPECT_EQ(CPORT_OP_READ, cqe[i].op);
			EXPECT_EQ(KEY, cqe[i].key);
			EXPECT_EQ(0, done[t * rc->iters + k]) {
				TH_LOG("user_data %#llx twice",
				       (unsigned long long)cqe[i].user_data);
			}
			done[t * rc->iters + k] = 1;
			if (cqe[i].res != -ECANCELED) {
				EXPECT_EQ(closed ? 0 : 1, cqe[i].res) {
					TH_LOG("user_data %#llx: %lld with the writer %s",
					       (unsigned long long)cqe[i].user_data,
					       (long long)cqe[i].res,
					       closed ? "closed" : "open");
				}
			}
			if (cqe[i].res == 1)
				(*got)++;
			(*seen)++;
		}
	}
	EXPECT_EQ(-ETIMEDOUT, n);
}

TEST_F(pipe, assoc_race)
{
	struct race rc = { .port = self->port, .r = self->r, .w = self->w,
			   .iters = slow_kernel() ? 300 : 2000 };
	struct race_arg args[RACE_THREADS];
	unsigned long long got = 0, left = 0, seen = 0, want = 0;
	pthread_t sub[RACE_THREADS], wr, as;
	unsigned char *done;
	int i, quiet_ms = slow_kernel() ? 2000 : 300;
	char c;

	done = calloc(RACE_THREADS * rc.iters, 1);
	ASSERT_NE(NULL, done);
	/* A full pipe must not block the writer for ever. */
	ASSERT_EQ(0, fcntl(self->w, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, pthread_create(&wr, NULL, race_write_fn, &rc));
	ASSERT_EQ(0, pthread_create(&as, NULL, race_assoc_fn, &rc));
	for (i = 0; i < RACE_THREADS; i++) {
		args[i] = (struct race_arg){ .race = &rc, .t = i };
		ASSERT_EQ(0, pthread_create(&sub[i], NULL, race_submit_fn,
					    &args[i]));
	}
	for (i = 0; i < RACE_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(sub[i], NULL));
		EXPECT_EQ(0, args[i].err) {
			TH_LOG("thread %d: READ %u: %d (%s)", i, args[i].done,
			       args[i].err, strerror(-args[i].err));
		}
		want += args[i].done;
	}
	__atomic_store_n(&rc.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(wr, NULL));
	ASSERT_EQ(0, pthread_join(as, NULL));
	EXPECT_EQ(0, rc.assoc_err) {
		TH_LOG("fdinfo: sockets %lld, file_associations %lld",
		       rc.socks, rc.files);
	}
	/* The writer open: each READ has a byte or was cancelled. */
	race_drain(_metadata, &rc, done, false, quiet_ms, &seen, &got);
	/* The writer's end: what is still pending completes with 0. */
	close(self->w);
	self->w = -1;
	race_drain(_metadata, &rc, done, true, quiet_ms, &seen, &got);
	EXPECT_EQ(want, seen);
	while (read(self->r, &c, 1) == 1)
		left++;
	EXPECT_EQ(rc.written, got + left);
	EXPECT_TRUE(fdinfo_wait(self->port, "sockets", 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "file_associations"));
	EXPECT_EQ(0, fdinfo_get(self->port, "pending"));
	EXPECT_TRUE(fdinfo_wait(self->port, "files", 0));
	free(done);
}

TEST_HARNESS_MAIN
