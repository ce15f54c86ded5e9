// SPDX-License-Identifier: GPL-2.0
/*
 * CPORT_OP_SENDFILE (TransmitFile) and CPORT_OP_DISCONNECT (DisconnectEx)
 * over TCP/IPv4, TCP/IPv6 and unix stream sockets.
 *
 * SENDFILE: a whole file, a range, head and tail buffers, count 0 (to the
 * end of the file), inline; a file larger than the socket buffers read
 * slowly by the peer (the position is kept from one run to the next);
 * its place in the send order between SENDs; cancel and timeout half-way
 * (bytes = exactly what the peer gets); a destroy with it pending; the
 * peer going away half-way; a head that faults; the file it holds
 * (fdinfo's files); every bad field's errno.
 *
 * DISCONNECT: the peer reads all the data sent before it, then end of
 * file; with CPORT_DISCONNECT_WAIT it completes only once the peer shut
 * its side down; cancel, timeout, destroy; a SEND after it fails with
 * -EPIPE; its errnos.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY	0x5e4d000000000001ULL
#define UD	0xf11e000000000001ULL
#define SEED	7
#define SMALL_BUF	(64 << 10)	/* SO_SNDBUF/SO_RCVBUF, bulk tests */

FIXTURE(sf) {
	int port;
	int s;		/* associated under KEY */
	int c;		/* its peer */
	int file;	/* a memfd of FILE_LEN pattern bytes */
	size_t file_len;
};

SOCK_KIND_VARIANTS(sf, );

/* A memfd of @len bytes of pattern SEED. */
static int pattern_file(size_t len)
{
	size_t chunk = 65536, done;
	char *buf = malloc(chunk);
	int fd = memfd_create("cport-sendfile", MFD_CLOEXEC);

	if (fd < 0 || !buf)
		return -1;
	for (done = 0; done < len; done += chunk) {
		size_t n = len - done < chunk ? len - done : chunk;

		pattern_fill(buf, n, SEED, done);
		if (pwrite(fd, buf, n, done) != (ssize_t)n) {
			close(fd);
			fd = -1;
			break;
		}
	}
	free(buf);
	return fd;
}

FIXTURE_SETUP(sf)
{
	self->port = -1;
	self->s = -1;
	self->c = -1;
	self->file_len = 100000;
	self->file = pattern_file(self->file_len);
	ASSERT_LE(0, self->file);
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_assoc(_metadata, self->port, variant->kind, KEY,
			   &self->s, &self->c);
}

FIXTURE_TEARDOWN(sf)
{
	if (self->s >= 0)
		close(self->s);
	if (self->c >= 0)
		close(self->c);
	if (self->file >= 0)
		close(self->file);
	if (self->port >= 0)
		cport_close(self->port);
}

static void sf_rec(struct cport_sendfile *r, int file, __u64 offset,
		   __u64 count)
{
	memset(r, 0, sizeof(*r));
	r->file_fd = file;
	r->offset = offset;
	r->count = count;
}

static int sub_sendfile(int port, struct cport_sqe *sqe, int fd,
			const struct cport_sendfile *r, __u64 ud,
			unsigned int sqe_flags, __u64 timeout_ns)
{
	cport_prep_sendfile(sqe, fd, r, ud);
	sqe->flags = sqe_flags;
	sqe->timeout_ns = timeout_ns;
	return submit1(port, sqe);
}

/* The peer gets @len bytes of the file from @off. */
static int read_file_part(int fd, size_t off, size_t len)
{
	char *buf = malloc(len ? len : 1);
	long bad;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = read_bounded(fd, buf, len);
	if (!ret) {
		bad = pattern_check(buf, len, SEED, off);
		if (bad >= 0)
			ret = -EILSEQ;
	}
	free(buf);
	return ret;
}

/* Nothing more to read right now (within GRACE_MS). */
static bool nothing_more(int fd)
{
	return !fd_ready(fd, POLLIN, GRACE_MS);
}

/* The whole file, count 0: res and bytes are its size. */
TEST_F(sf, whole_file)
{
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	sf_rec(&r, self->file, 0, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0, 0));
	ASSERT_EQ(0, read_file_part(self->c, 0, self->file_len));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDFILE, KEY, UD, self->file_len,
			 self->file_len);
	EXPECT_TRUE(nothing_more(self->c));
	/* The file's offset was never used (pwrite() left it at 0). */
	EXPECT_EQ(0, lseek(self->file, 0, SEEK_CUR));
}

/* Head, a range, tail, in that order; the record may be reused at once. */
TEST_F(sf, range_head_tail)
{
	static const char head[] = "HEAD:", tail[] = ":TAIL";
	char hbuf[sizeof(head) - 1], tbuf[sizeof(tail) - 1];
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	size_t total = 5 + 7000 + 5;

	sf_rec(&r, self->file, 1234, 7000);
	r.head = (uintptr_t)head;
	r.head_len = 5;
	r.tail = (uintptr_t)tail;
	r.tail_len = 5;
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0, 0));
	memset(&r, 0xff, sizeof(r));
	ASSERT_EQ(0, read_bounded(self->c, hbuf, 5));
	EXPECT_EQ(0, memcmp(hbuf, head, 5));
	ASSERT_EQ(0, read_file_part(self->c, 1234, 7000));
	ASSERT_EQ(0, read_bounded(self->c, tbuf, 5));
	EXPECT_EQ(0, memcmp(tbuf, tail, 5));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDFILE, KEY, UD, total, total);
	EXPECT_TRUE(nothing_more(self->c));
}

/* count 0 from an offset: to the end; a range past the end: what there is. */
TEST_F(sf, count_zero_and_short_file)
{
	struct cport_sendfile r;
	char t;
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	sf_rec(&r, self->file, 90000, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0, 0));
	ASSERT_EQ(0, read_file_part(self->c, 90000, 10000));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDFILE, KEY, UD, 10000, 10000);

	/* 20000 asked from 95000 of 100000: the file part ends at its end. */
	sf_rec(&r, self->file, 95000, 20000);
	r.tail = (uintptr_t)"T";
	r.tail_len = 1;
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD + 1, 0,
				  0));
	ASSERT_EQ(0, read_file_part(self->c, 95000, 5000));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDFILE, KEY, UD + 1, 5001, 5001);

	/* An empty range with nothing around it: done at once, 0 bytes. */
	sf_rec(&r, self->file, 200000, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD + 2,
				  CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(0, sqe.res);
	EXPECT_EQ(0, sqe.bytes);
	ASSERT_EQ(0, read_bounded(self->c, &t, 1));
	EXPECT_EQ('T', t);
	EXPECT_TRUE(nothing_more(self->c));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

/* A small one that fits comes back inline, posting nothing. */
TEST_F(sf, inline_result)
{
	struct cport_sendfile r;
	struct cport_sqe sqe;

	sf_rec(&r, self->file, 100, 3000);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD,
				  CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(3000, sqe.res);
	EXPECT_EQ(3000, sqe.bytes);
	ASSERT_EQ(0, read_file_part(self->c, 100, 3000));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
}

/*
 * A file many times the socket buffers, read slowly: it goes out over
 * many runs (each taking up where the last stopped, and at most a budget
 * at a time), and the peer gets every byte in order.
 */
TEST_F_TIMEOUT(sf, large_slow_reader, 120)
{
	size_t len = slow_kernel() ? (1 << 20) : (4 << 20);
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int big;

	big = pattern_file(len + 4096);
	ASSERT_LE(0, big);
	set_bufs(self->s, SMALL_BUF, 0);
	set_bufs(self->c, 0, SMALL_BUF);
	sf_rec(&r, big, 4096, len);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	/* Its file is held (with the socket's) while it is pending. */
	EXPECT_EQ(2, fdinfo_get(self->port, "files"));
	close(big);
	{
		char *buf = malloc(len);
		char first[65536];

		ASSERT_NE(NULL, buf);
		/* The first part slowly, the rest at full speed. */
		ASSERT_EQ(0, read_slowly(self->c, first, sizeof(first), 4096,
					 2000));
		EXPECT_EQ(-1, pattern_check(first, sizeof(first), SEED, 4096));
		ASSERT_EQ(0, read_bounded(self->c, buf,
					  len - sizeof(first)));
		EXPECT_EQ(-1, pattern_check(buf, len - sizeof(first), SEED,
					    4096 + sizeof(first)));
		free(buf);
	}
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDFILE, KEY, UD, len, len);
	EXPECT_TRUE(fdinfo_wait(self->port, "files", 0));
}

/* In the send order: after a SEND that waits, before the SEND after it. */
TEST_F_TIMEOUT(sf, order_with_sends, 120)
{
	size_t blen = slow_kernel() ? (256 << 10) : (1 << 20);
	char *a = malloc(blen), *got = malloc(blen);
	static const char b[] = "after";
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe[3];
	char bb[sizeof(b)];
	int n = 0, ret;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, got);
	memset(a, 'A', blen);
	set_bufs(self->s, 16384, 0);
	set_bufs(self->c, 0, 16384);
	ASSERT_EQ(1, send_pending(self->port, self->s, a, blen, UD));
	sf_rec(&r, self->file, 0, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD + 1,
				  CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, b, sizeof(b),
			      UD + 2, CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);

	ASSERT_EQ(0, read_bounded(self->c, got, blen));
	EXPECT_EQ(0, memcmp(got, a, blen));
	ASSERT_EQ(0, read_file_part(self->c, 0, self->file_len));
	ASSERT_EQ(0, read_bounded(self->c, bb, sizeof(bb)));
	EXPECT_EQ(0, memcmp(bb, b, sizeof(b)));
	while (n < 3) {
		ret = wait1(self->port, &cqe[n]);
		ASSERT_EQ(1, ret);
		n++;
	}
	EXPECT_CQE_EXACT(cqe[0], CPORT_OP_SEND, KEY, UD, blen, blen);
	EXPECT_CQE_EXACT(cqe[1], CPORT_OP_SENDFILE, KEY, UD + 1,
			 self->file_len, self->file_len);
	EXPECT_CQE_EXACT(cqe[2], CPORT_OP_SEND, KEY, UD + 2, sizeof(b),
			 sizeof(b));
	free(a);
	free(got);
}

/*
 * Stuck on a full socket, then @how ends it: its completion says how many
 * bytes went, and the peer gets exactly those.
 */
static void stuck_then(struct __test_metadata *_metadata,
		       FIXTURE_DATA(sf) *self, bool timeout)
{
	size_t len = 4 << 20;
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	size_t got = 0;
	char *buf;
	int big;

	big = pattern_file(len);
	ASSERT_LE(0, big);
	set_bufs(self->s, 16384, 0);
	set_bufs(self->c, 0, 16384);
	sf_rec(&r, big, 0, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0,
				  timeout ? 300 * NSEC_PER_MSEC : 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	close(big);
	if (!timeout) {
		EXPECT_TRUE(wait_none(self->port, GRACE_MS));
		EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_USER_DATA,
					  UD));
	}
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE(cqe, CPORT_OP_SENDFILE, KEY, UD,
		   timeout ? -ETIMEDOUT : -ECANCELED, cqe.bytes);
	EXPECT_LT(0, cqe.bytes);
	EXPECT_GT(len, cqe.bytes);
	EXPECT_TRUE(fdinfo_wait(self->port, "files", 0));
	/* Exactly those bytes, the file's first ones, then nothing. */
	buf = malloc(cqe.bytes);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, read_bounded(self->c, buf, cqe.bytes));
	EXPECT_EQ(-1, pattern_check(buf, cqe.bytes, SEED, 0));
	free(buf);
	while (!nothing_more(self->c)) {
		char x[4096];
		ssize_t n = recv(self->c, x, sizeof(x), MSG_DONTWAIT);

		if (n <= 0)
			break;
		got += n;
	}
	EXPECT_EQ(0, got);
}

TEST_F_TIMEOUT(sf, cancel_midway, 60)
{
	stuck_then(_metadata, self, false);
}

TEST_F_TIMEOUT(sf, timeout_midway, 60)
{
	stuck_then(_metadata, self, true);
}

/* A destroy completes it (discarded) and lets its file go. */
TEST_F(sf, destroy_pending)
{
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int big = pattern_file(4 << 20);

	ASSERT_LE(0, big);
	set_bufs(self->s, 16384, 0);
	set_bufs(self->c, 0, 16384);
	sf_rec(&r, big, 0, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	close(big);
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "files"));
}

/* The peer goes away half-way: an error, with the bytes that went. */
TEST_F_TIMEOUT(sf, peer_gone, 60)
{
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int big = pattern_file(4 << 20);

	ASSERT_LE(0, big);
	set_bufs(self->s, 16384, 0);
	set_bufs(self->c, 0, 16384);
	sf_rec(&r, big, 0, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0, 0));
	close(big);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	sock_set_rst_on_close(self->c);
	close(self->c);
	self->c = -1;
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_EQ(CPORT_OP_SENDFILE, cqe.op);
	EXPECT_TRUE(cqe.res == -ECONNRESET || cqe.res == -EPIPE) {
		TH_LOG("res %lld", (long long)cqe.res);
	}
	EXPECT_LT(0, cqe.bytes);
	EXPECT_GT(4 << 20, cqe.bytes);
}

/* A head the kernel cannot read: -EFAULT at completion, nothing sent. */
TEST_F(sf, head_faults)
{
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	void *bad = fault_page();

	ASSERT_NE(NULL, bad);
	sf_rec(&r, self->file, 0, 100);
	r.head = (uintptr_t)bad;
	r.head_len = 10;
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD, 0, 0));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDFILE, KEY, UD, -EFAULT, 0);
	EXPECT_TRUE(nothing_more(self->c));
	munmap(bad, getpagesize());
}

/* Submit @sqe and expect it to fail with -@err, taken not (status 0). */
#define EXPECT_SUB_ERR(err, sqe_) do {					\
	(sqe_).status = 0;						\
	EXPECT_EQ(-(err), submit1(self->port, &(sqe_)));		\
	EXPECT_EQ(0, (sqe_).status);					\
} while (0)

/* Every bad field of the submission and of the record, in order. */
TEST_F(sf, sendfile_errnos)
{
	struct {
		struct cport_sendfile r;
		__u64 more;
	} big;
	struct cport_sendfile r;
	struct cport_sqe sqe;
	int other[2] = { -1, -1 }, pfd[2], wr, dir, huge;
	static char zero[4096], got[4096];
	void *bad = fault_page();

	ASSERT_NE(NULL, bad);
	sf_rec(&r, self->file, 0, 10);
#define PREP() cport_prep_sendfile(&sqe, self->s, &r, UD)
	/* The submission's fields. */
	PREP();
	sqe.op_flags = 1;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.key = 1;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.addr = 0;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.len = CPORT_SENDFILE_SIZE_VER0 - 8;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.len = CPORT_SENDFILE_SIZE_MAX + 8;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.flags = CPORT_SQE_INLINE | CPORT_SQE_POST;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.flags = 1 << 5;
	EXPECT_SUB_ERR(EINVAL, sqe);
	/* The socket. */
	PREP();
	sqe.fd = -1;
	EXPECT_SUB_ERR(EBADF, sqe);
	PREP();
	sqe.fd = self->file;
	EXPECT_SUB_ERR(ENOTSOCK, sqe);
	ASSERT_EQ(0, sock_pair(variant->kind, other));
	PREP();
	sqe.fd = other[0];
	EXPECT_SUB_ERR(ENOENT, sqe);
	/* The record. */
	PREP();
	sqe.addr = (uintptr_t)bad;
	EXPECT_SUB_ERR(EFAULT, sqe);
	big.r = r;
	big.more = 1;
	cport_prep_sendfile(&sqe, self->s, &big.r, UD);
	sqe.len = sizeof(big);
	EXPECT_SUB_ERR(E2BIG, sqe);
	r.flags = 1;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.flags = 0;
	r.head = (uintptr_t)&big;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.head = 0;
	r.head_len = 1;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.head_len = 0;
	r.tail = (uintptr_t)&big;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.tail = 0;
	r.tail_len = 1;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.tail_len = 0;
	r.offset = (__u64)LLONG_MAX + 1;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.offset = 0;
	r.count = (__u64)CPORT_MAX_IO + 1;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.count = CPORT_MAX_IO;
	r.head = (uintptr_t)&big;
	r.head_len = 1;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	r.head = 0;
	r.head_len = 0;
	r.count = 10;
	/* The file. */
	r.file_fd = -1;
	PREP();
	EXPECT_SUB_ERR(EBADF, sqe);
	wr = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, wr);
	r.file_fd = wr;
	PREP();
	EXPECT_SUB_ERR(EBADF, sqe);
	close(wr);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	r.file_fd = pfd[0];
	PREP();
	EXPECT_SUB_ERR(ESPIPE, sqe);
	r.file_fd = other[1];
	PREP();
	EXPECT_SUB_ERR(ESPIPE, sqe);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dir);
	r.file_fd = dir;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	close(dir);
	/*
	 * A regular file with no ->read_iter: kernel_read() would refuse
	 * it with a line in the kernel log per call.
	 */
	dir = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, dir);
	r.file_fd = dir;
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	/* count 0 over a file (sparse) larger than one operation sends. */
	huge = memfd_create("huge", MFD_CLOEXEC);
	ASSERT_LE(0, huge);
	ASSERT_EQ(0, ftruncate(huge, 3LL << 30));
	sf_rec(&r, huge, 0, 0);
	PREP();
	EXPECT_SUB_ERR(EINVAL, sqe);
	/* ... from far enough in, it fits. */
	r.offset = (3LL << 30) - 4096;
	PREP();
	sqe.flags = CPORT_SQE_INLINE;
	EXPECT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(0, read_bounded(self->c, got, 4096));
	EXPECT_EQ(0, memcmp(zero, got, 4096));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(4096, sqe.res);
	/* head or tail not user memory. */
	sf_rec(&r, self->file, 0, 10);
	r.head = (uintptr_t)-8192;
	r.head_len = 4096;
	PREP();
	EXPECT_SUB_ERR(EFAULT, sqe);
	r.head = 0;
	r.head_len = 0;
	r.tail = (uintptr_t)-8192;
	r.tail_len = 4096;
	PREP();
	EXPECT_SUB_ERR(EFAULT, sqe);
	/* A longer record with a zero tail is fine. */
	sf_rec(&big.r, self->file, 0, 10);
	big.more = 0;
	cport_prep_sendfile(&sqe, self->s, &big.r, UD);
	sqe.len = sizeof(big);
	sqe.flags = CPORT_SQE_INLINE;
	EXPECT_EQ(1, submit1(self->port, &sqe));
	EXPECT_EQ(10, sqe.res);
	EXPECT_EQ(0, read_file_part(self->c, 0, 10));
	/* Nothing was taken but those. */
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(0, fdinfo_get(self->port, "files"));
#undef PREP
	close(huge);
	close(dir);
	close(pfd[0]);
	close(pfd[1]);
	close(other[0]);
	close(other[1]);
	munmap(bad, getpagesize());
}

/* --- DISCONNECT ------------------------------------------------------ */

static int sub_disconnect(int port, struct cport_sqe *sqe, int fd,
			  unsigned int flags, __u64 ud, __u64 timeout_ns)
{
	cport_prep_disconnect(sqe, fd, flags, ud);
	sqe->timeout_ns = timeout_ns;
	return submit1(port, sqe);
}

/* Read until end of file within PROGRESS_MS: 0, or -errno. */
static int read_eof(int fd)
{
	char x[4096];
	ssize_t n;

	for (;;) {
		if (!fd_ready(fd, POLLIN, PROGRESS_MS))
			return -ETIMEDOUT;
		n = recv(fd, x, sizeof(x), MSG_DONTWAIT);
		if (!n)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0)
			return -EPROTO;
	}
}

/*
 * After a SEND still waiting for room: the peer reads all of it, then
 * end of file; the SEND completes first.
 */
TEST_F_TIMEOUT(sf, disconnect_after_data, 120)
{
	size_t blen = slow_kernel() ? (256 << 10) : (1 << 20);
	char *a = malloc(blen), *got = malloc(blen);
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	char x;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, got);
	pattern_fill(a, blen, 3, 0);
	set_bufs(self->s, 16384, 0);
	set_bufs(self->c, 0, 16384);
	ASSERT_EQ(1, send_pending(self->port, self->s, a, blen, UD));
	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s, 0, UD + 1, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, read_bounded(self->c, got, blen));
	EXPECT_EQ(0, memcmp(a, got, blen));
	EXPECT_EQ(0, read_eof(self->c));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SEND, KEY, UD, blen, blen);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_DISCONNECT, KEY, UD + 1, 0, 0);
	/* Our side still reads what the peer sends. */
	ASSERT_EQ(0, write_full(self->c, "x", 1));
	ASSERT_EQ(0, read_bounded(self->s, &x, 1));
	EXPECT_EQ('x', x);
	free(a);
	free(got);
}

/* WAIT: not before the peer shuts its side down; then res 0. */
TEST_F(sf, disconnect_wait)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s,
				    CPORT_DISCONNECT_WAIT, UD, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_EQ(0, read_eof(self->c));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, write_full(self->c, "bye", 3));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_DISCONNECT, KEY, UD, 0, 0);
	/* The data before the peer's FIN stays to be received. */
	{
		char x[3];

		ASSERT_EQ(0, read_bounded(self->s, x, 3));
		EXPECT_EQ(0, memcmp(x, "bye", 3));
	}
}

/* Alone: completes with the FIN; what comes after it fails. */
TEST_F(sf, disconnect_then_send)
{
	struct cport_sendfile r;
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s, 0, UD, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_DISCONNECT, KEY, UD, 0, 0);
	EXPECT_EQ(0, read_eof(self->c));
	/* A SEND after it: -EPIPE, as send(2) after shutdown(2). */
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->s, "late", 4, UD + 1,
			      CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
	EXPECT_EQ(-EPIPE, sqe.res);
	EXPECT_EQ(0, sqe.bytes);
	/* ... and a SENDFILE, queued behind a DISCONNECT that waits. */
	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s,
				    CPORT_DISCONNECT_WAIT, UD + 2, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	sf_rec(&r, self->file, 0, 0);
	ASSERT_EQ(1, sub_sendfile(self->port, &sqe, self->s, &r, UD + 3,
				  CPORT_SQE_INLINE, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_DISCONNECT, KEY, UD + 2, 0, 0);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_SENDFILE, KEY, UD + 3, -EPIPE, 0);
}

/* A DISCONNECT that waits: cancel, timeout, destroy. */
TEST_F(sf, disconnect_cancel_timeout_destroy)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s,
				    CPORT_DISCONNECT_WAIT, UD, 0));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(1, cport_cancel(self->port, CPORT_CANCEL_FD, self->s));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_DISCONNECT, KEY, UD, -ECANCELED, 0);

	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s,
				    CPORT_DISCONNECT_WAIT, UD + 1,
				    200 * NSEC_PER_MSEC));
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_DISCONNECT, KEY, UD + 1, -ETIMEDOUT,
			 0);

	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s,
				    CPORT_DISCONNECT_WAIT, UD + 2, 0));
	EXPECT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "files"));
	EXPECT_EQ(0, read_eof(self->c));
}

/* WAIT and the peer resets (TCP) or closes (unix, a plain end). */
TEST_F(sf, disconnect_peer_reset)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;

	ASSERT_EQ(1, sub_disconnect(self->port, &sqe, self->s,
				    CPORT_DISCONNECT_WAIT, UD, 0));
	EXPECT_EQ(0, read_eof(self->c));
	sock_set_rst_on_close(self->c);
	close(self->c);
	self->c = -1;
	ASSERT_EQ(1, wait1(self->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_DISCONNECT, KEY, UD,
			 variant->kind == SK_UNIX ? 0 : -ECONNRESET, 0);
}

TEST_F(sf, disconnect_errnos)
{
	struct cport_sqe sqe;
	int lst, un;

#define PREP() cport_prep_disconnect(&sqe, self->s, 0, UD)
	PREP();
	sqe.op_flags = 2;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.addr = 8;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.len = 1;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.key = 1;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.flags = CPORT_SQE_POST | CPORT_SQE_INLINE_POST;
	EXPECT_SUB_ERR(EINVAL, sqe);
	PREP();
	sqe.fd = -1;
	EXPECT_SUB_ERR(EBADF, sqe);
	PREP();
	sqe.fd = self->file;
	EXPECT_SUB_ERR(ENOTSOCK, sqe);
	lst = sock_listener(variant->kind);
	ASSERT_LE(0, lst);
	PREP();
	sqe.fd = lst;
	EXPECT_SUB_ERR(ENOENT, sqe);
	ASSERT_EQ(0, cport_associate(self->port, lst, KEY + 1, 0));
	EXPECT_SUB_ERR(ENOTCONN, sqe);
	un = socket(variant->kind == SK_TCP4 ? AF_INET :
		    variant->kind == SK_TCP6 ? AF_INET6 : AF_UNIX,
		    SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, un);
	ASSERT_EQ(0, cport_associate(self->port, un, KEY + 2, 0));
	PREP();
	sqe.fd = un;
	EXPECT_SUB_ERR(ENOTCONN, sqe);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	/* The peer saw nothing of it. */
	EXPECT_TRUE(nothing_more(self->c));
#undef PREP
	close(un);
	close(lst);
}

TEST_HARNESS_MAIN
