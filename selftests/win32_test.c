// SPDX-License-Identifier: GPL-2.0
/*
 * The Win32 layer (cport_win32.h): each call's TRUE/FALSE and NULL
 * conventions and error codes as Windows documents them.
 * GetQueuedCompletionStatus: TRUE for a success, FALSE with a NULL
 * OVERLAPPED when nothing was dequeued (WAIT_TIMEOUT, ERROR_ABANDONED_WAIT_0
 * on close), FALSE with the OVERLAPPED for a failed I/O.  WSARecv/WSASend:
 * 0 when done at once (and a packet all the same, unless the socket skips
 * completion on success), SOCKET_ERROR with WSA_IO_PENDING otherwise.
 * CancelIoEx one and all, ERROR_NOT_FOUND; the extended OVERLAPPED;
 * several WSABUFs; AcceptEx both ways; the Ex batch; an echo flow.
 * AcceptEx into a caller's socket: the layer owns its number until the
 * AcceptEx is finished (closesocket aborts it, no other descriptor gets
 * the connection), one at a time, an association made before it kept,
 * the first data block.  A success leaves GetLastError() alone; no
 * buffers is WSAEINVAL; ports hold far more than 65,536 operations.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/stat.h>

#include "sock_util.h"
#include "kselftest_harness.h"
#include "cport_win32.h"

#define HFD(h)		((int)(intptr_t)(h))
#define SOCK(fd)	((SOCKET)(fd))
#define WAIT_MS		(PROGRESS_MS)

FIXTURE(win) {
	HANDLE port;
	int fds[2];	/* [0] the server end, [1] the peer */
	OVERLAPPED ov2;
};

FIXTURE_SETUP(win)
{
	self->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	ASSERT_NE(NULL, self->port) {
		TH_LOG("CreateIoCompletionPort: error %u", GetLastError());
	}
	ASSERT_EQ(0, sock_pair(SK_TCP4, self->fds));
}

FIXTURE_TEARDOWN(win)
{
	if (self->port)
		CloseHandle(self->port);
	if (self->fds[0] >= 0)
		closesocket(SOCK(self->fds[0]));
	close(self->fds[1]);
}

/* GetQueuedCompletionStatus with every output poisoned first. */
struct gq {
	BOOL ok;
	DWORD bytes;
	ULONG_PTR key;
	LPOVERLAPPED ov;
	DWORD err;
};

static struct gq gq(HANDLE port, DWORD ms)
{
	struct gq r = {
		.bytes = 0xa5a5a5a5,
		.key = 0xa5a5a5a5,
		.ov = (LPOVERLAPPED)(uintptr_t)0xa5a5a5a5,
	};

	SetLastError(0xdead);
	r.ok = GetQueuedCompletionStatus(port, &r.bytes, &r.key, &r.ov, ms);
	r.err = GetLastError();
	return r;
}

static void associate(struct __test_metadata *_metadata, HANDLE port,
		      int fd, ULONG_PTR key)
{
	ASSERT_EQ(port, CreateIoCompletionPort((HANDLE)SOCK(fd), port, key, 0));
}

static int recv1(int fd, LPOVERLAPPED ov, char *buf, ULONG len, DWORD *bytes)
{
	WSABUF wb = { .len = len, .buf = buf };
	DWORD flags = 0;

	memset(ov, 0, sizeof(*ov));
	return WSARecv(SOCK(fd), &wb, 1, bytes, &flags, ov, NULL);
}

static int send1(int fd, LPOVERLAPPED ov, const char *buf, ULONG len,
		 DWORD *bytes)
{
	WSABUF wb = { .len = len, .buf = (char *)buf };

	memset(ov, 0, sizeof(*ov));
	return WSASend(SOCK(fd), &wb, 1, bytes, 0, ov, NULL);
}

TEST(codes_have_windows_values)
{
	EXPECT_EQ(258, WAIT_TIMEOUT);
	EXPECT_EQ(735, ERROR_ABANDONED_WAIT_0);
	EXPECT_EQ(995, ERROR_OPERATION_ABORTED);
	EXPECT_EQ(1168, ERROR_NOT_FOUND);
	EXPECT_EQ(87, ERROR_INVALID_PARAMETER);
	EXPECT_EQ(997, ERROR_IO_PENDING);
	EXPECT_EQ(997, WSA_IO_PENDING);
	EXPECT_EQ(10054, WSAECONNRESET);
	EXPECT_EQ(64, ERROR_NETNAME_DELETED);
	EXPECT_EQ(38, ERROR_HANDLE_EOF);
	EXPECT_EQ(0xFFFFFFFFu, INFINITE);
	EXPECT_EQ((HANDLE)(intptr_t)-1, INVALID_HANDLE_VALUE);
	EXPECT_EQ(-1, SOCKET_ERROR);
	EXPECT_EQ(32, sizeof(OVERLAPPED));
	EXPECT_EQ(32, sizeof(OVERLAPPED_ENTRY));

	/* The one table, both faces. */
	EXPECT_EQ(ERROR_OPERATION_ABORTED, cport_win32_error(ECANCELED, FALSE));
	EXPECT_EQ(ERROR_NETNAME_DELETED, cport_win32_error(ECONNRESET, FALSE));
	EXPECT_EQ(WSAECONNRESET, cport_win32_error(ECONNRESET, TRUE));
	EXPECT_EQ(ERROR_ABANDONED_WAIT_0, cport_win32_error(EIDRM, FALSE));
	EXPECT_EQ(ERROR_SEM_TIMEOUT, cport_win32_error(ETIMEDOUT, FALSE));
	EXPECT_EQ(WSAETIMEDOUT, cport_win32_error(ETIMEDOUT, TRUE));
	EXPECT_EQ(ERROR_NOT_FOUND, cport_win32_error(ENOENT, FALSE));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, cport_win32_error(EINVAL, FALSE));
	EXPECT_EQ(WSAEINVAL, cport_win32_error(-EINVAL, TRUE));
	EXPECT_EQ(0, cport_win32_error(0, FALSE));
	EXPECT_EQ(ERROR_GEN_FAILURE, cport_win32_error(EXDEV, FALSE));
}

static void *set_error_fn(void *arg)
{
	SetLastError(7);
	*(DWORD *)arg = GetLastError();
	return NULL;
}

TEST(last_error_is_per_thread)
{
	pthread_t t;
	DWORD other = 0;

	SetLastError(5);
	ASSERT_EQ(0, pthread_create(&t, NULL, set_error_fn, &other));
	pthread_join(t, NULL);
	EXPECT_EQ(7, other);
	EXPECT_EQ(5, GetLastError());
	WSASetLastError(WSAECONNRESET);
	EXPECT_EQ(WSAECONNRESET, WSAGetLastError());
	EXPECT_EQ(WSAECONNRESET, GetLastError());
}

TEST_F(win, create_and_associate)
{
	struct cport_info info;
	HANDLE p3, p;
	int pipefd[2];

	ASSERT_EQ(0, cport_query(HFD(self->port), &info));
	EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), info.concurrency);
	p3 = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 3);
	ASSERT_NE(NULL, p3);
	ASSERT_EQ(0, cport_query(HFD(p3), &info));
	EXPECT_EQ(3, info.concurrency);
	EXPECT_TRUE(CloseHandle(p3));

	/* Creating with an existing port is a parameter error. */
	EXPECT_EQ(NULL, CreateIoCompletionPort(INVALID_HANDLE_VALUE,
					       self->port, 0, 0));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());

	/* Associating returns the existing port; twice is an error. */
	EXPECT_EQ(self->port, CreateIoCompletionPort((HANDLE)SOCK(self->fds[0]),
						     self->port, 7, 0));
	EXPECT_EQ(NULL, CreateIoCompletionPort((HANDLE)SOCK(self->fds[0]),
					       self->port, 8, 0));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());

	/* A socket with no existing port gets a new one. */
	p = CreateIoCompletionPort((HANDLE)SOCK(self->fds[1]), NULL, 9, 2);
	ASSERT_NE(NULL, p);
	EXPECT_NE(self->port, p);
	ASSERT_EQ(0, cport_query(HFD(p), &info));
	EXPECT_EQ(2, info.concurrency);
	EXPECT_TRUE(CloseHandle(p));

	/*
	 * A pipe, as on Windows (the kernel's READ and WRITE take it); a
	 * regular file too (this layer does its I/O at once:
	 * win32_file_test), even on a number whose pipe was close()d
	 * behind the layer's back; a character device without readiness
	 * not; not a descriptor; a port.
	 */
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(self->port,
		  CreateIoCompletionPort((HANDLE)(intptr_t)pipefd[0],
					 self->port, 1, 0));
	close(pipefd[0]);
	close(pipefd[1]);
	pipefd[0] = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, pipefd[0]);
	EXPECT_EQ(self->port,
		  CreateIoCompletionPort((HANDLE)(intptr_t)pipefd[0],
					 self->port, 1, 0));
	EXPECT_TRUE(CloseHandle((HANDLE)(intptr_t)pipefd[0]));
	pipefd[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, pipefd[0]);
	EXPECT_EQ(NULL, CreateIoCompletionPort((HANDLE)(intptr_t)pipefd[0],
					       self->port, 1, 0));
	EXPECT_EQ(ERROR_NOT_SUPPORTED, GetLastError());
	close(pipefd[0]);
	EXPECT_EQ(NULL, CreateIoCompletionPort((HANDLE)(intptr_t)100000,
					       self->port, 1, 0));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	EXPECT_EQ(NULL, CreateIoCompletionPort(self->port, self->port, 1, 0));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
}

TEST_F(win, timeout_dequeues_nothing)
{
	struct gq r;
	long long start;

	r = gq(self->port, 0);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(WAIT_TIMEOUT, r.err);
	/* Nothing dequeued: bytes and key are not stored. */
	EXPECT_EQ(0xa5a5a5a5, r.bytes);
	EXPECT_EQ(0xa5a5a5a5, r.key);

	start = now_ns();
	r = gq(self->port, 50);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(WAIT_TIMEOUT, r.err);
	EXPECT_LE(50 * NSEC_PER_MSEC, now_ns() - start);

	/* Not a port. */
	r = gq(NULL, 0);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(ERROR_INVALID_HANDLE, r.err);
	r = gq((HANDLE)(intptr_t)self->fds[0], 0);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(ERROR_INVALID_HANDLE, r.err);
	EXPECT_FALSE(PostQueuedCompletionStatus(NULL, 0, 0, NULL));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
}

TEST_F(win, post_is_verbatim)
{
	OVERLAPPED ov;
	struct gq r;

	memset(&ov, 0x5a, sizeof(ov));
	ASSERT_TRUE(PostQueuedCompletionStatus(self->port, 1234, 0xfeed, &ov));
	ASSERT_TRUE(PostQueuedCompletionStatus(self->port, 0, 0, NULL));
	ASSERT_TRUE(PostQueuedCompletionStatus(self->port, 1, 2,
					       (LPOVERLAPPED)(uintptr_t)3));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(1234, r.bytes);
	EXPECT_EQ(0xfeed, r.key);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0x5a5a5a5a5a5a5a5aULL, ov.Internal);	/* not touched */
	EXPECT_EQ(0x5a5a5a5a5a5a5a5aULL, ov.InternalHigh);
	/* A posted NULL OVERLAPPED is TRUE, not "nothing dequeued". */
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(0, r.key);
	EXPECT_EQ(0, r.bytes);
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ((LPOVERLAPPED)(uintptr_t)3, r.ov);
}

struct gq_thread {
	pthread_t t;
	HANDLE port;
	pid_t tid;
	bool ex;
	struct gq r;
	ULONG removed;
};

static void *gq_fn(void *arg)
{
	struct gq_thread *g = arg;

	__atomic_store_n(&g->tid, sys_gettid(), __ATOMIC_RELEASE);
	if (g->ex) {
		OVERLAPPED_ENTRY e[4];

		g->removed = 99;
		g->r.ok = GetQueuedCompletionStatusEx(g->port, e, 4,
						      &g->removed, INFINITE,
						      FALSE);
		g->r.err = GetLastError();
	} else {
		g->r = gq(g->port, INFINITE);
	}
	return NULL;
}

TEST_F(win, close_wakes_waiters_abandoned)
{
	struct gq_thread g[2] = {
		{ .port = self->port },
		{ .port = self->port, .ex = true },
	};
	struct gq r;
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_create(&g[i].t, NULL, gq_fn, &g[i]));
		ASSERT_TRUE(wait_until(__atomic_load_n(&g[i].tid,
						       __ATOMIC_ACQUIRE),
				       PROGRESS_MS));
		ASSERT_TRUE(task_wait_sleeping(g[i].tid));
	}
	EXPECT_TRUE(CloseHandle(self->port));
	for (i = 0; i < 2; i++)
		pthread_join(g[i].t, NULL);
	EXPECT_FALSE(g[0].r.ok);
	EXPECT_EQ(NULL, g[0].r.ov);
	EXPECT_EQ(ERROR_ABANDONED_WAIT_0, g[0].r.err);
	EXPECT_FALSE(g[1].r.ok);
	EXPECT_EQ(0, g[1].removed);
	EXPECT_EQ(ERROR_ABANDONED_WAIT_0, g[1].r.err);

	/* The handle is gone. */
	r = gq(self->port, 0);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(ERROR_INVALID_HANDLE, r.err);
	EXPECT_FALSE(PostQueuedCompletionStatus(self->port, 0, 0, NULL));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	self->port = NULL;
}

TEST_F(win, recv_pending_then_success)
{
	char buf[64] = { 0 };
	OVERLAPPED ov;
	DWORD bytes = 77;
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, sizeof(buf),
				      &bytes));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	EXPECT_EQ(77, bytes);
	EXPECT_FALSE(HasOverlappedIoCompleted(&ov));
	EXPECT_EQ(FALSE, gq(self->port, 0).ok);

	ASSERT_EQ(0, write_full(self->fds[1], "hello", 5));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(5, r.bytes);
	EXPECT_EQ(7, r.key);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0xdead, r.err);	/* success leaves it alone */
	EXPECT_TRUE(HasOverlappedIoCompleted(&ov));
	EXPECT_EQ(0, ov.Internal);
	EXPECT_EQ(5, ov.InternalHigh);
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
}

TEST_F(win, recv_immediate_still_posts)
{
	char buf[64];
	OVERLAPPED ov;
	DWORD bytes = 0;
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 7);
	ASSERT_EQ(0, write_full(self->fds[1], "hello", 5));
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_EQ(0, recv1(self->fds[0], &ov, buf, sizeof(buf), &bytes));
	EXPECT_EQ(5, bytes);
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(0, ov.Internal);
	EXPECT_EQ(5, ov.InternalHigh);
	/* Windows queues a packet for it all the same. */
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(5, r.bytes);
	EXPECT_EQ(7, r.key);
	EXPECT_EQ(&ov, r.ov);
	r = gq(self->port, 0);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(WAIT_TIMEOUT, r.err);
}

TEST_F(win, skip_completion_on_success)
{
	char buf[64];
	OVERLAPPED ov;
	DWORD bytes = 0;
	struct gq r;

	EXPECT_FALSE(SetFileCompletionNotificationModes(self->port,
			FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_FALSE(SetFileCompletionNotificationModes(
			(HANDLE)SOCK(self->fds[0]), 0x80));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	/* Set before the association: it is kept. */
	ASSERT_TRUE(SetFileCompletionNotificationModes(
			(HANDLE)SOCK(self->fds[0]),
			FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
			FILE_SKIP_SET_EVENT_ON_HANDLE));
	associate(_metadata, self->port, self->fds[0], 7);

	/* Immediate success: 0, and no packet. */
	ASSERT_EQ(0, write_full(self->fds[1], "abc", 3));
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_EQ(0, recv1(self->fds[0], &ov, buf, sizeof(buf), &bytes));
	EXPECT_EQ(3, bytes);
	EXPECT_EQ(0, send1(self->fds[0], &ov, "xyz", 3, &bytes));
	EXPECT_EQ(3, bytes);
	r = gq(self->port, 50);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(WAIT_TIMEOUT, r.err);

	/* Pending: a packet as usual. */
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, sizeof(buf),
				      &bytes));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(0, write_full(self->fds[1], "de", 2));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(2, r.bytes);
	EXPECT_EQ(&ov, r.ov);
}

TEST_F(win, skip_mode_set_after_association)
{
	char buf[8];
	OVERLAPPED ov;
	DWORD bytes = 0;

	associate(_metadata, self->port, self->fds[0], 7);
	ASSERT_TRUE(SetFileCompletionNotificationModes(
			(HANDLE)SOCK(self->fds[0]),
			FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
	ASSERT_EQ(0, write_full(self->fds[1], "q", 1));
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_EQ(0, recv1(self->fds[0], &ov, buf, sizeof(buf), &bytes));
	EXPECT_EQ(1, bytes);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 50).err);
}

/*
 * Closing a port ends its sockets' associations, as closesocket() would:
 * an overlapped recv fails as on an unassociated socket and CancelIoEx
 * finds nothing.  A skip mode set afterwards holds for the next port.
 */
TEST_F(win, closing_port_ends_associations)
{
	char buf[8];
	OVERLAPPED ov;
	DWORD bytes = 0;

	associate(_metadata, self->port, self->fds[0], 7);
	ASSERT_TRUE(CloseHandle(self->port));
	self->port = NULL;
	EXPECT_EQ(SOCKET_ERROR,
		  recv1(self->fds[0], &ov, buf, sizeof(buf), &bytes));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_FALSE(CancelIoEx((HANDLE)SOCK(self->fds[0]), NULL));
	EXPECT_EQ(ERROR_NOT_FOUND, GetLastError());

	ASSERT_TRUE(SetFileCompletionNotificationModes(
			(HANDLE)SOCK(self->fds[0]),
			FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
	self->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	ASSERT_NE(NULL, self->port);
	associate(_metadata, self->port, self->fds[0], 8);
	ASSERT_EQ(0, write_full(self->fds[1], "q", 1));
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_EQ(0, recv1(self->fds[0], &ov, buf, sizeof(buf), &bytes));
	EXPECT_EQ(1, bytes);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 50).err);
}

/*
 * Windows' default mode never loses the packet of an immediate success,
 * even with the port's queue full: the kernel queues it with the
 * operation's own completion (here a port made with cport_create() and a
 * queue of 2, full of posted packets).  Whoever dequeues it sees the
 * OVERLAPPED already ended.
 */
TEST_F(win, immediate_success_packet_survives_full_queue)
{
	struct cport_setup setup = { .max_queued = 2 };
	OVERLAPPED ov, posted;
	char buf[64], back[16];
	int pfd, i, seen = 0;
	HANDLE port;
	DWORD bytes = 0;
	struct gq r;

	pfd = cport_create(&setup);
	ASSERT_LT(0, pfd);
	port = (HANDLE)(intptr_t)pfd;
	associate(_metadata, port, self->fds[0], 9);
	for (i = 0; i < 2; i++)
		ASSERT_TRUE(PostQueuedCompletionStatus(port, i, 1, &posted));
	EXPECT_FALSE(PostQueuedCompletionStatus(port, 2, 1, &posted));

	/* A send with room, and a recv with data: both done at once. */
	EXPECT_EQ(0, send1(self->fds[0], &ov, "full", 4, &bytes));
	EXPECT_EQ(4, bytes);
	ASSERT_EQ(0, read_full(self->fds[1], back, 4));
	EXPECT_EQ(0, memcmp(back, "full", 4));
	r = gq(port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(&posted, r.ov);
	ASSERT_EQ(0, write_full(self->fds[1], "queue", 5));
	ASSERT_TRUE(readable(self->fds[0]));
	/* Still full: a post and the send's packet. */
	EXPECT_FALSE(PostQueuedCompletionStatus(port, 3, 1, &posted));
	EXPECT_EQ(0, recv1(self->fds[0], &self->ov2, buf, sizeof(buf), &bytes));
	EXPECT_EQ(5, bytes);

	for (i = 0; i < 3; i++) {
		r = gq(port, WAIT_MS);
		ASSERT_TRUE(r.ok) {
			TH_LOG("packet %d of 3: error %u", i + 1, r.err);
		}
		if (r.ov == &posted)
			continue;
		EXPECT_EQ(9, r.key);
		EXPECT_TRUE(HasOverlappedIoCompleted(r.ov));
		EXPECT_EQ(r.bytes, r.ov->InternalHigh);
		if (r.ov == &ov) {
			EXPECT_EQ(4, r.bytes);
			seen |= 1;
		} else {
			EXPECT_EQ(&self->ov2, r.ov);
			EXPECT_EQ(5, r.bytes);
			seen |= 2;
		}
	}
	EXPECT_EQ(3, seen);
	r = gq(port, 0);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(WAIT_TIMEOUT, r.err);
	cport_close(pfd);
}

/*
 * The kernel's packets of immediate successes, dequeued by another
 * thread while the submitter goes on: each OVERLAPPED shows its result
 * (HasOverlappedIoCompleted, InternalHigh) when its packet is returned,
 * and each comes exactly once.
 */
struct imm_dequeuer {
	HANDLE port;
	OVERLAPPED *ovs;
	unsigned int n, stale, wrong, dup;
	unsigned char *seen;
	BOOL ok;
};

static void *imm_dequeue_fn(void *arg)
{
	struct imm_dequeuer *d = arg;
	unsigned int i;
	struct gq r;

	d->ok = TRUE;
	for (i = 0; i < d->n; i++) {
		r = gq(d->port, WAIT_MS);
		if (!r.ok) {
			d->ok = FALSE;
			break;
		}
		if (r.ov < d->ovs || r.ov >= d->ovs + d->n || r.bytes != 1) {
			d->wrong++;
			continue;
		}
		if (d->seen[r.ov - d->ovs]++)
			d->dup++;
		if (!HasOverlappedIoCompleted(r.ov) || r.ov->InternalHigh != 1 ||
		    r.ov->Internal != 0)
			d->stale++;
	}
	return NULL;
}

TEST_F(win, immediate_success_dequeued_by_another_thread)
{
	struct imm_dequeuer d = { .port = self->port,
				  .n = slow_kernel() ? 300 : 3000 };
	char *back;
	pthread_t t;
	unsigned int i;
	DWORD bytes;

	d.ovs = calloc(d.n, sizeof(*d.ovs));
	d.seen = calloc(d.n, 1);
	back = malloc(d.n);
	ASSERT_NE(NULL, d.ovs);
	ASSERT_NE(NULL, d.seen);
	ASSERT_NE(NULL, back);
	associate(_metadata, self->port, self->fds[0], 7);
	ASSERT_EQ(0, pthread_create(&t, NULL, imm_dequeue_fn, &d));
	for (i = 0; i < d.n; i++) {
		bytes = 0;
		ASSERT_EQ(0, send1(self->fds[0], &d.ovs[i], "x", 1, &bytes));
		EXPECT_EQ(1, bytes);
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_TRUE(d.ok);
	EXPECT_EQ(0, d.wrong);
	EXPECT_EQ(0, d.dup);
	EXPECT_EQ(0, d.stale);
	EXPECT_TRUE(gq(self->port, 0).err == WAIT_TIMEOUT);
	ASSERT_EQ(0, read_full(self->fds[1], back, d.n));
	free(back);
	free(d.seen);
	free(d.ovs);
}

TEST_F(win, send_immediate_and_pending)
{
	const size_t big = 32 << 20;
	char *data = malloc(big), *back = malloc(big);
	OVERLAPPED ov;
	DWORD bytes = 0;
	struct gq r;
	int ret;

	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, back);
	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(0, send1(self->fds[0], &ov, "0123456789", 10, &bytes));
	EXPECT_EQ(10, bytes);
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(10, r.bytes);
	EXPECT_EQ(&ov, r.ov);
	ASSERT_EQ(0, read_full(self->fds[1], back, 10));
	EXPECT_EQ(0, memcmp(back, "0123456789", 10));

	/* More than the socket holds: pending until the peer reads. */
	pattern_fill(data, big, 1, 0);
	ret = send1(self->fds[0], &ov, data, big, &bytes);
	EXPECT_EQ(SOCKET_ERROR, ret);
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(0, read_full(self->fds[1], back, big));
	EXPECT_EQ(-1, pattern_check(back, big, 1, 0));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(big, r.bytes);
	EXPECT_EQ(big, ov.InternalHigh);
	free(data);
	free(back);
}

TEST_F(win, failed_io_has_overlapped)
{
	char buf[16];
	OVERLAPPED ov;
	DWORD bytes = 0;
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, sizeof(buf),
				      &bytes));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	sock_set_rst_on_close(self->fds[1]);
	close(self->fds[1]);
	self->fds[1] = -1;
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov, r.ov);		/* FALSE, but a packet */
	EXPECT_EQ(7, r.key);
	EXPECT_EQ(0, r.bytes);
	/* From the port, a reset is ERROR_NETNAME_DELETED, as on Windows. */
	EXPECT_EQ(ERROR_NETNAME_DELETED, r.err);
	EXPECT_EQ(ERROR_NETNAME_DELETED, ov.Internal);
	EXPECT_TRUE(HasOverlappedIoCompleted(&ov));
}

TEST_F(win, immediate_failure_posts_nothing)
{
	char buf[16];
	OVERLAPPED ov;
	DWORD bytes = 55;

	associate(_metadata, self->port, self->fds[0], 7);
	sock_set_rst_on_close(self->fds[1]);
	close(self->fds[1]);
	self->fds[1] = -1;
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, sizeof(buf),
				      &bytes));
	/* From WSARecv, the same reset is WSAECONNRESET. */
	EXPECT_EQ(WSAECONNRESET, WSAGetLastError());
	EXPECT_EQ(55, bytes);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 50).err);
}

TEST_F(win, eof_is_success_with_zero_bytes)
{
	char buf[16];
	OVERLAPPED ov;
	DWORD bytes;
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, sizeof(buf),
				      &bytes));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	shutdown(self->fds[1], SHUT_WR);
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(0, r.bytes);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0xdead, r.err);	/* success leaves it alone */
}

TEST_F(win, zero_byte_recv_is_readiness)
{
	WSABUF wb = { 0, NULL };
	OVERLAPPED ov = { 0 };
	DWORD bytes, flags = 0;
	char buf[8];
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), &wb, 1, &bytes,
					&flags, &ov, NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(0, write_full(self->fds[1], "data", 4));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(0, r.bytes);
	EXPECT_EQ(&ov, r.ov);
	/* Nothing was consumed. */
	EXPECT_EQ(4, recv(self->fds[0], buf, sizeof(buf), MSG_DONTWAIT));
}

TEST_F(win, cancel_one_then_all_then_not_found)
{
	int other[2] = { -1, -1 };
	char b1[8], b2[8], b3[8];
	OVERLAPPED ov1, ov2, ov3;
	DWORD bytes;
	struct gq r;

	ASSERT_EQ(0, sock_pair(SK_TCP4, other));
	associate(_metadata, self->port, self->fds[0], 1);
	associate(_metadata, self->port, other[0], 2);
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov1, b1, 8, &bytes));
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov2, b2, 8, &bytes));
	EXPECT_EQ(SOCKET_ERROR, recv1(other[0], &ov3, b3, 8, &bytes));

	EXPECT_TRUE(CancelIoEx((HANDLE)SOCK(self->fds[0]), &ov2));
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov2, r.ov);
	EXPECT_EQ(1, r.key);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, ov2.Internal);
	EXPECT_FALSE(CancelIoEx((HANDLE)SOCK(self->fds[0]), &ov2));
	EXPECT_EQ(ERROR_NOT_FOUND, GetLastError());

	EXPECT_TRUE(CancelIoEx((HANDLE)SOCK(self->fds[0]), NULL));
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov1, r.ov);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	EXPECT_FALSE(CancelIoEx((HANDLE)SOCK(self->fds[0]), NULL));
	EXPECT_EQ(ERROR_NOT_FOUND, GetLastError());

	/* The other socket's recv was not touched; once it completed it
	 * cannot be cancelled. */
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 0).err);
	ASSERT_EQ(0, write_full(other[1], "z", 1));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(&ov3, r.ov);
	EXPECT_EQ(2, r.key);
	EXPECT_FALSE(CancelIoEx((HANDLE)SOCK(other[0]), &ov3));
	EXPECT_EQ(ERROR_NOT_FOUND, GetLastError());

	/* Not associated; not a descriptor. */
	EXPECT_FALSE(CancelIoEx((HANDLE)SOCK(self->fds[1]), NULL));
	EXPECT_EQ(ERROR_NOT_FOUND, GetLastError());
	EXPECT_FALSE(CancelIoEx((HANDLE)(intptr_t)100000, NULL));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	closesocket(SOCK(other[0]));
	close(other[1]);
}

TEST_F(win, closesocket_aborts_pending)
{
	char buf[8];
	OVERLAPPED ov;
	DWORD bytes;
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 3);
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, 8, &bytes));
	EXPECT_EQ(0, closesocket(SOCK(self->fds[0])));
	self->fds[0] = -1;
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	/* The socket really closed: the peer sees end of file. */
	EXPECT_EQ(0, read(self->fds[1], buf, sizeof(buf)));
}

struct per_io {
	int magic;
	char buf[32];
	OVERLAPPED ov;	/* not first: CONTAINING_RECORD finds the rest */
	int op;
};

struct per_handle {
	int fd;
	int nr_ops;
};

TEST_F(win, extended_overlapped)
{
	struct per_handle ph = { .fd = self->fds[0] };
	struct per_io *io = calloc(1, sizeof(*io));
	struct per_io *got;
	WSABUF wb;
	DWORD bytes, flags = 0;
	struct gq r;

	ASSERT_NE(NULL, io);
	io->magic = 0x10c9;
	io->op = 42;
	wb.buf = io->buf;
	wb.len = sizeof(io->buf);
	associate(_metadata, self->port, self->fds[0], (ULONG_PTR)&ph);
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), &wb, 1, &bytes,
					&flags, &io->ov, NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(0, write_full(self->fds[1], "ext", 3));
	r = gq(self->port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	got = CONTAINING_RECORD(r.ov, struct per_io, ov);
	EXPECT_EQ(io, got);
	EXPECT_EQ(0x10c9, got->magic);
	EXPECT_EQ(42, got->op);
	EXPECT_EQ(0, memcmp(got->buf, "ext", 3));
	EXPECT_EQ(&ph, (struct per_handle *)r.key);
	EXPECT_EQ(self->fds[0], ((struct per_handle *)r.key)->fd);
	free(io);
}

TEST_F(win, several_buffers)
{
	char a[4], b[1], c[6], out[16];
	WSABUF rb[4] = {
		{ 4, a }, { 0, NULL }, { 1, b }, { 6, c },
	};
	WSABUF sb[3] = {
		{ 3, "one" }, { 0, NULL }, { 5, "three" },
	};
	OVERLAPPED ov = { 0 };
	DWORD bytes = 0, flags = 0;
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 7);
	/* Immediate: scattered at once. */
	ASSERT_EQ(0, write_full(self->fds[1], "ABCDEFGHIJK", 11));
	ASSERT_TRUE(readable(self->fds[0]));
	usleep(10000);
	EXPECT_EQ(0, WSARecv(SOCK(self->fds[0]), rb, 4, &bytes, &flags, &ov,
			     NULL));
	EXPECT_EQ(11, bytes);
	EXPECT_EQ(0, memcmp(a, "ABCD", 4));
	EXPECT_EQ('E', b[0]);
	EXPECT_EQ(0, memcmp(c, "FGHIJK", 6));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(11, r.bytes);

	/* Pending, with MSG_WAITALL: filled across two writes, scattered
	 * when the packet is dequeued. */
	memset(a, 0, 4);
	memset(c, 0, 6);
	flags = MSG_WAITALL;
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), rb, 4, &bytes,
					&flags, &ov, NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(0, write_full(self->fds[1], "abcdef", 6));
	usleep(20000);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 0).err);
	ASSERT_EQ(0, write_full(self->fds[1], "ghijk", 5));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(11, r.bytes);
	EXPECT_EQ(0, memcmp(a, "abcd", 4));
	EXPECT_EQ('e', b[0]);
	EXPECT_EQ(0, memcmp(c, "fghijk", 6));

	/* Gathered send: one packet. */
	EXPECT_EQ(0, WSASend(SOCK(self->fds[0]), sb, 3, &bytes, 0, &ov, NULL));
	EXPECT_EQ(8, bytes);
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(8, r.bytes);
	ASSERT_EQ(0, read_full(self->fds[1], out, 8));
	EXPECT_EQ(0, memcmp(out, "onethree", 8));
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 0).err);
}

TEST_F(win, unassociated_and_synchronous)
{
	char buf[8];
	WSABUF wb = { sizeof(buf), buf };
	OVERLAPPED ov = { 0 };
	DWORD bytes = 0, flags = 0;

	/* Overlapped I/O needs a port here (no event OVERLAPPEDs). */
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), &wb, 1, &bytes,
					&flags, &ov, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(100000), &wb, 1, &bytes,
					&flags, &ov, NULL));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	/* Without an OVERLAPPED: a blocking call. */
	ASSERT_EQ(0, write_full(self->fds[1], "sync", 4));
	EXPECT_EQ(0, WSARecv(SOCK(self->fds[0]), &wb, 1, &bytes, &flags,
			     NULL, NULL));
	EXPECT_EQ(4, bytes);
	wb.len = 4;
	EXPECT_EQ(0, WSASend(SOCK(self->fds[0]), &wb, 1, &bytes, 0, NULL,
			     NULL));
	EXPECT_EQ(4, bytes);
	ASSERT_EQ(0, read_full(self->fds[1], buf, 4));
	EXPECT_EQ(0, memcmp(buf, "sync", 4));
}

#define ADDR_ROOM	(sizeof(struct sockaddr_in) + 16)

static void check_addrs_after(struct __test_metadata *_metadata, char *out,
			      DWORD data_len, int accepted, int client)
{
	struct sockaddr *l, *r;
	struct sockaddr_in want;
	socklen_t len = sizeof(want);
	int llen, rlen;

	GetAcceptExSockaddrs(out, data_len, ADDR_ROOM, ADDR_ROOM, &l, &llen,
			     &r, &rlen);
	ASSERT_EQ(sizeof(struct sockaddr_in), llen);
	ASSERT_EQ(sizeof(struct sockaddr_in), rlen);
	ASSERT_EQ(0, getsockname(client, (struct sockaddr *)&want, &len));
	EXPECT_EQ(AF_INET, r->sa_family);
	EXPECT_EQ(want.sin_port, ((struct sockaddr_in *)r)->sin_port);
	len = sizeof(want);
	ASSERT_EQ(0, getsockname(accepted, (struct sockaddr *)&want, &len));
	EXPECT_EQ(want.sin_port, ((struct sockaddr_in *)l)->sin_port);
}

static void check_addrs(struct __test_metadata *_metadata, char *out,
			int accepted, int client)
{
	check_addrs_after(_metadata, out, 0, accepted, client);
}

/* The accepted socket @s echoes one message through the port. */
static void echo_once(struct __test_metadata *_metadata, HANDLE port,
		      int s, int client)
{
	char buf[16];
	OVERLAPPED ov;
	DWORD bytes;
	struct gq r;

	associate(_metadata, port, s, 0x5);
	ASSERT_EQ(0, write_full(client, "ping", 4));
	if (recv1(s, &ov, buf, sizeof(buf), &bytes) == SOCKET_ERROR)
		ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	r = gq(port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	ASSERT_EQ(0x5, r.key);
	ASSERT_EQ(0, send1(s, &ov, buf, r.bytes, &bytes));
	r = gq(port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	ASSERT_EQ(0, read_full(client, buf, 4));
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
}

TEST_F(win, acceptex_pending_new_socket)
{
	char out[2 * ADDR_ROOM];
	int l = sock_listener(SK_TCP4), c, s;
	OVERLAPPED ov = { 0 };
	DWORD bytes = 99;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x11);
	EXPECT_FALSE(AcceptEx(SOCK(l), INVALID_SOCKET, out, 0, ADDR_ROOM,
			      ADDR_ROOM, &bytes, &ov));
	EXPECT_EQ(ERROR_IO_PENDING, WSAGetLastError());
	EXPECT_EQ(99, bytes);
	c = sock_connect(l);
	ASSERT_LE(0, c);
	r = gq(self->port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	EXPECT_EQ(0x11, r.key);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0, r.bytes);
	s = (int)ov.InternalHigh;
	ASSERT_LE(0, s);
	EXPECT_NE(l, s);
	check_addrs(_metadata, out, s, c);
	echo_once(_metadata, self->port, s, c);
	closesocket(SOCK(s));
	close(c);
	closesocket(SOCK(l));
}

TEST_F(win, acceptex_immediate_onto_callers_socket)
{
	char out[2 * ADDR_ROOM];
	int l = sock_listener(SK_TCP4), c, target;
	OVERLAPPED ov = { 0 };
	DWORD bytes = 99;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x12);
	target = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, target);
	EXPECT_NE(0, getpeername(target, (struct sockaddr *)&peer, &len));
	c = sock_connect(l);
	ASSERT_LE(0, c);
	ASSERT_TRUE(readable(l));
	EXPECT_TRUE(AcceptEx(SOCK(l), SOCK(target), out, 0, ADDR_ROOM,
			     ADDR_ROOM, &bytes, &ov));
	EXPECT_EQ(0, bytes);
	EXPECT_EQ(target, (int)ov.InternalHigh);
	/* The caller's socket is now the connection. */
	len = sizeof(peer);
	EXPECT_EQ(0, getpeername(target, (struct sockaddr *)&peer, &len));
	check_addrs(_metadata, out, target, c);
	/* And a packet follows, as on Windows. */
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0x12, r.key);
	EXPECT_EQ(0, r.bytes);
	echo_once(_metadata, self->port, target, c);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 0).err);
	closesocket(SOCK(target));
	close(c);
	closesocket(SOCK(l));
}

TEST_F(win, acceptex_skip_and_cancel)
{
	int l = sock_listener(SK_TCP4), c, s;
	OVERLAPPED ov = { 0 };
	DWORD bytes;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x13);
	ASSERT_TRUE(SetFileCompletionNotificationModes((HANDLE)SOCK(l),
				FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
	c = sock_connect(l);
	ASSERT_LE(0, c);
	ASSERT_TRUE(readable(l));
	EXPECT_TRUE(AcceptEx(SOCK(l), INVALID_SOCKET, NULL, 0, 0, 0, &bytes,
			     &ov));
	s = (int)ov.InternalHigh;
	EXPECT_LE(0, s);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 50).err);
	close(s);
	close(c);

	/* A pending AcceptEx cancelled by closing the listener. */
	EXPECT_FALSE(AcceptEx(SOCK(l), INVALID_SOCKET, NULL, 0, 0, 0, &bytes,
			      &ov));
	EXPECT_EQ(ERROR_IO_PENDING, WSAGetLastError());
	EXPECT_TRUE(CloseHandle((HANDLE)SOCK(l)));
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	/* A first data block needs a buffer. */
	EXPECT_FALSE(AcceptEx(SOCK(self->fds[0]), INVALID_SOCKET, NULL, 16, 0,
			      0, &bytes, &ov));
	EXPECT_EQ(WSAEINVAL, GetLastError());
}

TEST_F(win, ex_batches)
{
	OVERLAPPED_ENTRY e[8];
	ULONG n = 99, i, next = 0;
	char buf[8];
	OVERLAPPED ov;
	DWORD bytes;
	static const ULONG expect[] = { 4, 4, 2 };

	EXPECT_FALSE(GetQueuedCompletionStatusEx(self->port, e, 8, &n, 0,
						 FALSE));
	EXPECT_EQ(WAIT_TIMEOUT, GetLastError());
	EXPECT_EQ(0, n);
	EXPECT_FALSE(GetQueuedCompletionStatusEx(self->port, e, 0, &n, 0,
						 FALSE));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());

	for (i = 0; i < 10; i++)
		ASSERT_TRUE(PostQueuedCompletionStatus(self->port, i, 100 + i,
						       (LPOVERLAPPED)(uintptr_t)(i + 1)));
	for (i = 0; i < ARRAY_SIZE(expect); i++) {
		ULONG j;

		ASSERT_TRUE(GetQueuedCompletionStatusEx(self->port, e, 4, &n,
							WAIT_MS, TRUE));
		ASSERT_EQ(expect[i], n);
		for (j = 0; j < n; j++, next++) {
			EXPECT_EQ(next, e[j].dwNumberOfBytesTransferred);
			EXPECT_EQ(100 + next, e[j].lpCompletionKey);
			EXPECT_EQ(next + 1, (uintptr_t)e[j].lpOverlapped);
			EXPECT_EQ(0, e[j].Internal);
		}
	}

	/* A failed I/O in a batch: TRUE, its status in the OVERLAPPED. */
	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, 8, &bytes));
	ASSERT_TRUE(CancelIoEx((HANDLE)SOCK(self->fds[0]), &ov));
	ASSERT_TRUE(PostQueuedCompletionStatus(self->port, 5, 6, NULL));
	n = 0;
	while (n < 2) {
		ULONG got = 0;

		ASSERT_TRUE(GetQueuedCompletionStatusEx(self->port, e + n,
							2 - n, &got, WAIT_MS,
							FALSE));
		n += got;
	}
	ASSERT_EQ(2, n);
	/* The cancel's completion and the post may come in either order. */
	i = e[0].lpOverlapped == &ov ? 0 : 1;
	EXPECT_EQ(&ov, e[i].lpOverlapped);
	EXPECT_EQ(7, e[i].lpCompletionKey);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, e[i].Internal);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, ov.Internal);
	EXPECT_EQ(NULL, e[1 - i].lpOverlapped);
	EXPECT_EQ(5, e[1 - i].dwNumberOfBytesTransferred);
	EXPECT_EQ(6, e[1 - i].lpCompletionKey);
	EXPECT_EQ(0, e[1 - i].Internal);
}

/* --- Issue 13: AcceptEx into the caller's socket, errors, bounds. --- */

/* A fresh accept socket, and a pending AcceptEx into it on listener @l. */
static int acceptex_pending(struct __test_metadata *_metadata, int l,
			    char *out, DWORD data_len, LPOVERLAPPED ov)
{
	int target = socket(AF_INET, SOCK_STREAM, 0);
	DWORD bytes = 99;

	if (target < 0)
		return -1;
	memset(ov, 0, sizeof(*ov));
	EXPECT_FALSE(AcceptEx(SOCK(l), SOCK(target), out, data_len, ADDR_ROOM,
			      ADDR_ROOM, &bytes, ov));
	EXPECT_EQ(ERROR_IO_PENDING, WSAGetLastError());
	EXPECT_EQ(99, bytes);
	return target;
}

/* Whether @fd is readable right now. */
static bool ready_now(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* Whether @fd is the same open file as @other. */
static bool same_file(int fd, int other)
{
	struct stat a, b;

	return !fstat(fd, &a) && !fstat(other, &b) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * closesocket() of the accept socket aborts its AcceptEx, and its number
 * is not given to the next descriptor while the AcceptEx is unfinished:
 * the connection can never land on an unrelated descriptor.
 */
TEST_F(win, acceptex_closesocket_of_target_aborts)
{
	char out[2 * ADDR_ROOM], buf[4];
	int l = sock_listener(SK_TCP4), c, s, target, p[2];
	OVERLAPPED ov;
	struct stat st;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x21);
	target = acceptex_pending(_metadata, l, out, 0, &ov);
	ASSERT_LE(0, target);
	EXPECT_EQ(0, closesocket(SOCK(target)));
	/* The layer keeps the number until the AcceptEx is finished. */
	ASSERT_EQ(0, pipe(p));
	EXPECT_NE(target, p[0]);
	EXPECT_NE(target, p[1]);
	/* A second close: it is no socket of the caller's any more. */
	EXPECT_EQ(SOCKET_ERROR, closesocket(SOCK(target)));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());

	c = sock_connect(l);
	ASSERT_LE(0, c);
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0x21, r.key);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, ov.Internal);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 50).err);
	/* Finished: the number is closed; the pipe is still a pipe. */
	errno = 0;
	EXPECT_EQ(-1, fcntl(target, F_GETFD));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, fstat(p[0], &st));
	EXPECT_TRUE(S_ISFIFO(st.st_mode));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, read(p[0], buf, 1));
	/* The connection was not taken: it waits for the next accept. */
	s = accept(l, NULL, NULL);
	EXPECT_LE(0, s);
	close(s);
	close(p[0]);
	close(p[1]);
	close(c);
	closesocket(SOCK(l));
}

/*
 * The accept won the race with the closesocket(): its completion is
 * queued, not yet dequeued.  The AcceptEx still reports
 * ERROR_OPERATION_ABORTED, and the connection is closed, not delivered.
 */
TEST_F(win, acceptex_closesocket_after_accept_closes_connection)
{
	char out[2 * ADDR_ROOM], buf[4];
	int l = sock_listener(SK_TCP4), c, target, other;
	OVERLAPPED ov;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x22);
	target = acceptex_pending(_metadata, l, out, 0, &ov);
	ASSERT_LE(0, target);
	c = sock_connect(l);
	ASSERT_LE(0, c);
	ASSERT_TRUE(readable(HFD(self->port)));	/* the completion is queued */
	EXPECT_EQ(0, closesocket(SOCK(target)));
	other = dup(self->fds[1]);
	ASSERT_LE(0, other);
	EXPECT_NE(target, other);
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	EXPECT_TRUE(same_file(other, self->fds[1]));
	/* The peer sees the connection closed. */
	EXPECT_TRUE(readable(c));
	EXPECT_GE(0, read(c, buf, sizeof(buf)));
	close(other);
	close(c);
	closesocket(SOCK(l));
}

/*
 * A plain close() goes around the layer: the number may be reused at
 * once.  The layer checks, before moving a connection there, that the
 * number still holds the socket AcceptEx was given.
 */
TEST_F(win, acceptex_target_closed_behind_layers_back)
{
	char out[2 * ADDR_ROOM];
	int l = sock_listener(SK_TCP4), c, target, other;
	OVERLAPPED ov;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x23);
	target = acceptex_pending(_metadata, l, out, 0, &ov);
	ASSERT_LE(0, target);
	close(target);
	other = dup(self->fds[1]);	/* the lowest number: target's */
	ASSERT_EQ(target, other);
	c = sock_connect(l);
	ASSERT_LE(0, c);
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	/* The unrelated descriptor was left alone. */
	EXPECT_TRUE(same_file(other, self->fds[1]));
	close(other);
	close(c);
	closesocket(SOCK(l));
}

/*
 * The port closed first: its destroy discarded the AcceptEx, so no
 * completion will ever give the number back.  closesocket() of the
 * accept socket closes it at once.
 */
TEST_F(win, acceptex_port_closed_then_closesocket)
{
	char out[2 * ADDR_ROOM];
	int l = sock_listener(SK_TCP4), target;
	OVERLAPPED ov;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x27);
	target = acceptex_pending(_metadata, l, out, 0, &ov);
	ASSERT_LE(0, target);
	ASSERT_TRUE(CloseHandle(self->port));
	self->port = NULL;
	EXPECT_EQ(0, closesocket(SOCK(target)));
	errno = 0;
	EXPECT_EQ(-1, fcntl(target, F_GETFD));
	EXPECT_EQ(EBADF, errno);
	closesocket(SOCK(l));
}

/* One AcceptEx at a time into an accept socket: WSAEINVAL, as Windows. */
TEST_F(win, acceptex_twice_into_one_socket)
{
	char out[2 * ADDR_ROOM], out2[2 * ADDR_ROOM];
	int l = sock_listener(SK_TCP4), l2 = sock_listener(SK_TCP4), c;
	int target;
	OVERLAPPED ov, ov2 = { 0 };
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	DWORD bytes = 0;
	struct gq r;

	ASSERT_LE(0, l);
	ASSERT_LE(0, l2);
	associate(_metadata, self->port, l, 0x24);
	/* A failed AcceptEx (listener not associated) reserves nothing. */
	target = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, target);
	EXPECT_FALSE(AcceptEx(SOCK(l2), SOCK(target), out, 0, ADDR_ROOM,
			      ADDR_ROOM, &bytes, &ov2));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	memset(&ov, 0, sizeof(ov));
	EXPECT_FALSE(AcceptEx(SOCK(l), SOCK(target), out, 0, ADDR_ROOM,
			      ADDR_ROOM, &bytes, &ov));
	EXPECT_EQ(ERROR_IO_PENDING, WSAGetLastError());
	/* The second one, even on another listener. */
	memset(&ov2, 0, sizeof(ov2));
	EXPECT_FALSE(AcceptEx(SOCK(l), SOCK(target), out2, 0, ADDR_ROOM,
			      ADDR_ROOM, &bytes, &ov2));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	associate(_metadata, self->port, l2, 0x25);
	EXPECT_FALSE(AcceptEx(SOCK(l2), SOCK(target), out2, 0, ADDR_ROOM,
			      ADDR_ROOM, &bytes, &ov2));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	c = sock_connect(l);
	ASSERT_LE(0, c);
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(target, (int)ov.InternalHigh);
	EXPECT_EQ(0, getpeername(target, (struct sockaddr *)&peer, &len));
	/* Only the first one completes. */
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 50).err);
	closesocket(SOCK(target));
	close(c);
	closesocket(SOCK(l));
	closesocket(SOCK(l2));
}

/*
 * An accept socket associated with the port before AcceptEx keeps its
 * association: the connection's first WSARecv works, under its key.
 */
TEST_F(win, acceptex_target_keeps_association)
{
	char out[2 * ADDR_ROOM], buf[16];
	int l = sock_listener(SK_TCP4), c, target;
	OVERLAPPED ov, rov;
	DWORD bytes = 0;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x26);
	target = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, target);
	associate(_metadata, self->port, target, 0x77);
	memset(&ov, 0, sizeof(ov));
	EXPECT_FALSE(AcceptEx(SOCK(l), SOCK(target), out, 0, ADDR_ROOM,
			      ADDR_ROOM, &bytes, &ov));
	EXPECT_EQ(ERROR_IO_PENDING, WSAGetLastError());
	c = sock_connect(l);
	ASSERT_LE(0, c);
	r = gq(self->port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0x26, r.key);
	EXPECT_EQ(target, (int)ov.InternalHigh);

	ASSERT_EQ(0, write_full(c, "assoc", 5));
	if (recv1(target, &rov, buf, sizeof(buf), &bytes) == SOCKET_ERROR)
		ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	r = gq(self->port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	EXPECT_EQ(&rov, r.ov);
	EXPECT_EQ(0x77, r.key);
	EXPECT_EQ(5, r.bytes);
	EXPECT_EQ(0, memcmp(buf, "assoc", 5));
	/* Associating it again is an error: it is associated. */
	EXPECT_EQ(NULL, CreateIoCompletionPort((HANDLE)SOCK(target),
					       self->port, 0x78, 0));
	/* And closesocket() cancels its pending I/O, as for any socket. */
	EXPECT_EQ(SOCKET_ERROR, recv1(target, &rov, buf, sizeof(buf), &bytes));
	EXPECT_EQ(0, closesocket(SOCK(target)));
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&rov, r.ov);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	close(c);
	closesocket(SOCK(l));
}

#define FIRST	32	/* dwReceiveDataLength in the tests below */

/*
 * AcceptEx with dwReceiveDataLength: it completes when the first data
 * arrived, with its length; the addresses follow the data.
 */
TEST_F(win, acceptex_with_first_data)
{
	char out[FIRST + 2 * ADDR_ROOM];
	int l = sock_listener(SK_TCP4), c, target;
	OVERLAPPED ov;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x31);
	target = acceptex_pending(_metadata, l, out, FIRST, &ov);
	ASSERT_LE(0, target);
	c = sock_connect(l);
	ASSERT_LE(0, c);
	/* Connected, no data yet: nothing to report. */
	r = gq(self->port, 100);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(NULL, r.ov);
	EXPECT_EQ(WAIT_TIMEOUT, r.err);
	EXPECT_FALSE(HasOverlappedIoCompleted(&ov));

	ASSERT_EQ(0, write_full(c, "first block", 11));
	r = gq(self->port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0x31, r.key);
	EXPECT_EQ(11, r.bytes);
	EXPECT_EQ(target, (int)ov.InternalHigh);
	EXPECT_EQ(0, ov.Internal);
	EXPECT_EQ(0, memcmp(out, "first block", 11));
	check_addrs_after(_metadata, out, FIRST, target, c);
	/* The connection is the caller's to associate, then echo. */
	echo_once(_metadata, self->port, target, c);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 0).err);
	closesocket(SOCK(target));
	close(c);
	closesocket(SOCK(l));
}

/* The same, with the data there at once, a new descriptor, and the Ex. */
TEST_F(win, acceptex_with_first_data_immediate_ex)
{
	char out[FIRST + 2 * ADDR_ROOM];
	int l = sock_listener(SK_TCP4), c, s;
	OVERLAPPED ov = { 0 };
	OVERLAPPED_ENTRY e[4];
	DWORD bytes = 99;
	ULONG n = 0;
	BOOL ok;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x32);
	c = sock_connect(l);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, write_full(c, "hi", 2));
	ASSERT_TRUE(readable(l));
	usleep(10000);
	ok = AcceptEx(SOCK(l), INVALID_SOCKET, out, FIRST, ADDR_ROOM,
		      ADDR_ROOM, &bytes, &ov);
	if (ok) {
		EXPECT_EQ(2, bytes);
	} else {
		EXPECT_EQ(ERROR_IO_PENDING, WSAGetLastError());
	}
	/* Either way one packet. */
	ASSERT_TRUE(GetQueuedCompletionStatusEx(self->port, e, 4, &n, WAIT_MS,
						FALSE));
	ASSERT_EQ(1, n);
	EXPECT_EQ(&ov, e[0].lpOverlapped);
	EXPECT_EQ(0x32, e[0].lpCompletionKey);
	EXPECT_EQ(2, e[0].dwNumberOfBytesTransferred);
	EXPECT_EQ(0, e[0].Internal);
	s = (int)ov.InternalHigh;
	ASSERT_LE(0, s);
	EXPECT_EQ(0, memcmp(out, "hi", 2));
	check_addrs_after(_metadata, out, FIRST, s, c);
	echo_once(_metadata, self->port, s, c);
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 0).err);
	closesocket(SOCK(s));
	close(c);
	closesocket(SOCK(l));
}

/* Closing the accept socket while the first data is awaited aborts it. */
TEST_F(win, acceptex_first_data_closesocket_aborts)
{
	char out[FIRST + 2 * ADDR_ROOM], buf[4];
	int l = sock_listener(SK_TCP4), c, target, i;
	OVERLAPPED ov;
	struct gq r;

	ASSERT_LE(0, l);
	associate(_metadata, self->port, l, 0x33);
	target = acceptex_pending(_metadata, l, out, FIRST, &ov);
	ASSERT_LE(0, target);
	c = sock_connect(l);
	ASSERT_LE(0, c);
	/*
	 * Let the accept complete and its completion be taken (the listener
	 * and the port both idle): the AcceptEx now waits for data.
	 */
	for (i = 0; i < 100; i++) {
		EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 20).err);
		if (!ready_now(l) && !ready_now(HFD(self->port)))
			break;
	}
	EXPECT_EQ(0, closesocket(SOCK(target)));
	r = gq(self->port, WAIT_MS);
	EXPECT_FALSE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0x33, r.key);
	EXPECT_EQ(ERROR_OPERATION_ABORTED, r.err);
	EXPECT_EQ(0, r.bytes);
	/* The connection, accepted or not, is closed for the peer. */
	EXPECT_TRUE(readable(c));
	EXPECT_GE(0, read(c, buf, sizeof(buf)));
	errno = 0;
	EXPECT_EQ(-1, fcntl(target, F_GETFD));
	EXPECT_EQ(EBADF, errno);
	close(c);
	closesocket(SOCK(l));
}

/* A successful dequeue leaves GetLastError() alone, as on Windows. */
TEST_F(win, success_keeps_last_error)
{
	OVERLAPPED_ENTRY e[2];
	char buf[8];
	OVERLAPPED ov;
	LPOVERLAPPED got;
	ULONG_PTR key;
	DWORD bytes;
	ULONG n = 0;

	ASSERT_TRUE(PostQueuedCompletionStatus(self->port, 1, 2, NULL));
	SetLastError(ERROR_HANDLE_EOF);
	ASSERT_TRUE(GetQueuedCompletionStatus(self->port, &bytes, &key, &got,
					      WAIT_MS));
	EXPECT_EQ(ERROR_HANDLE_EOF, GetLastError());
	ASSERT_TRUE(PostQueuedCompletionStatus(self->port, 1, 2, NULL));
	SetLastError(WSAECONNRESET);
	ASSERT_TRUE(GetQueuedCompletionStatusEx(self->port, e, 2, &n, WAIT_MS,
						FALSE));
	EXPECT_EQ(1, n);
	EXPECT_EQ(WSAECONNRESET, GetLastError());
	/* A completed I/O too. */
	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(SOCKET_ERROR, recv1(self->fds[0], &ov, buf, sizeof(buf),
				      &bytes));
	ASSERT_EQ(0, write_full(self->fds[1], "le", 2));
	SetLastError(1234);
	ASSERT_TRUE(GetQueuedCompletionStatus(self->port, &bytes, &key, &got,
					      WAIT_MS));
	EXPECT_EQ(&ov, got);
	EXPECT_EQ(1234, GetLastError());
}

/* WSARecv and WSASend without a buffer: WSAEINVAL, nothing queued. */
TEST_F(win, no_buffers_is_einval)
{
	char buf[4];
	WSABUF wb = { sizeof(buf), buf };
	OVERLAPPED ov = { 0 };
	DWORD bytes = 0, flags = 0;
	struct gq r;

	associate(_metadata, self->port, self->fds[0], 7);
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), &wb, 0, &bytes,
					&flags, &ov, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSASend(SOCK(self->fds[0]), &wb, 0, &bytes, 0,
					&ov, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), NULL, 0, &bytes,
					&flags, &ov, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	/* Without an OVERLAPPED too. */
	EXPECT_EQ(SOCKET_ERROR, WSASend(SOCK(self->fds[0]), &wb, 0, &bytes, 0,
					NULL, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), &wb, 0, &bytes,
					&flags, NULL, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(WAIT_TIMEOUT, gq(self->port, 0).err);

	/* One empty WSABUF is still the zero-byte recv. */
	wb.len = 0;
	wb.buf = NULL;
	EXPECT_EQ(SOCKET_ERROR, WSARecv(SOCK(self->fds[0]), &wb, 1, &bytes,
					&flags, &ov, NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(0, write_full(self->fds[1], "z", 1));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(0, r.bytes);
}

/*
 * The layer's ports are set up for hundreds of thousands of connections:
 * the kernel's largest bounds on pending operations and queued packets,
 * not its defaults (65,536).
 */
TEST_F(win, ports_hold_many_connections)
{
	struct cport_info info;
	HANDLE p;

	ASSERT_EQ(0, cport_query(HFD(self->port), &info));
	EXPECT_EQ(CPORT_MAX_PENDING, info.max_pending);
	EXPECT_EQ(CPORT_MAX_QUEUED, info.max_queued);
	EXPECT_LT(CPORT_DEFAULT_PENDING, info.max_pending);
	/* A port made by associating a socket too. */
	p = CreateIoCompletionPort((HANDLE)SOCK(self->fds[1]), NULL, 1, 0);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, cport_query(HFD(p), &info));
	EXPECT_EQ(CPORT_MAX_PENDING, info.max_pending);
	EXPECT_EQ(CPORT_MAX_QUEUED, info.max_queued);
	EXPECT_TRUE(CloseHandle(p));
}

/* --- The echo flow: workers on the port, per-handle and per-I/O data. --- */

#define ECHO_CONNS	4
#define ECHO_MSGS	50
#define ECHO_WORKERS	2

enum { OP_RECV, OP_SEND };

struct echo_io {
	OVERLAPPED ov;
	int op;
	WSABUF wb;
	char buf[256];
};

struct echo_conn {
	int fd;
	struct echo_io io;
};

struct echo_ctx {
	HANDLE port;
	int handled;	/* completions handled, all workers */
	int closed;	/* connections that reached end of file */
	int errors;
};

static void echo_post_recv(struct echo_ctx *ctx, struct echo_conn *c)
{
	DWORD bytes, flags = 0;

	memset(&c->io.ov, 0, sizeof(c->io.ov));
	c->io.op = OP_RECV;
	c->io.wb.buf = c->io.buf;
	c->io.wb.len = sizeof(c->io.buf);
	if (WSARecv(SOCK(c->fd), &c->io.wb, 1, &bytes, &flags, &c->io.ov,
		    NULL) == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING)
		__atomic_fetch_add(&ctx->errors, 1, __ATOMIC_RELAXED);
}

static void *echo_worker(void *arg)
{
	struct echo_ctx *ctx = arg;

	for (;;) {
		DWORD bytes;
		ULONG_PTR key;
		LPOVERLAPPED ov;
		struct echo_conn *c;
		struct echo_io *io;
		BOOL ok = GetQueuedCompletionStatus(ctx->port, &bytes, &key,
						    &ov, INFINITE);

		if (!ok && !ov)
			break;			/* the port went away */
		if (ok && !key && !ov)
			break;			/* the quit packet */
		__atomic_fetch_add(&ctx->handled, 1, __ATOMIC_RELAXED);
		c = (struct echo_conn *)key;
		io = CONTAINING_RECORD(ov, struct echo_io, ov);
		if (!ok) {
			__atomic_fetch_add(&ctx->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (io->op == OP_RECV && bytes == 0) {
			__atomic_fetch_add(&ctx->closed, 1, __ATOMIC_RELAXED);
			continue;	/* the peer closed */
		}
		if (io->op == OP_RECV) {
			memset(&io->ov, 0, sizeof(io->ov));
			io->op = OP_SEND;
			io->wb.len = bytes;
			if (WSASend(SOCK(c->fd), &io->wb, 1, &bytes, 0,
				    &io->ov, NULL) == SOCKET_ERROR &&
			    WSAGetLastError() != WSA_IO_PENDING)
				__atomic_fetch_add(&ctx->errors, 1,
						   __ATOMIC_RELAXED);
		} else {
			echo_post_recv(ctx, c);	/* the next request */
		}
	}
	return NULL;
}

TEST_F(win, echo_flow)
{
	struct echo_ctx ctx = { .port = self->port };
	struct echo_conn conns[ECHO_CONNS];
	int clients[ECHO_CONNS], i, m;
	pthread_t w[ECHO_WORKERS];
	int l = sock_listener(SK_TCP4);

	ASSERT_LE(0, l);
	for (i = 0; i < ECHO_WORKERS; i++)
		ASSERT_EQ(0, pthread_create(&w[i], NULL, echo_worker, &ctx));
	for (i = 0; i < ECHO_CONNS; i++) {
		clients[i] = sock_connect(l);
		ASSERT_LE(0, clients[i]);
		conns[i].fd = accept(l, NULL, NULL);
		ASSERT_LE(0, conns[i].fd);
		associate(_metadata, self->port, conns[i].fd,
			  (ULONG_PTR)&conns[i]);
		echo_post_recv(&ctx, &conns[i]);
	}
	for (m = 0; m < ECHO_MSGS; m++) {
		for (i = 0; i < ECHO_CONNS; i++) {
			char msg[64], back[64];
			int len = snprintf(msg, sizeof(msg), "conn %d msg %d",
					   i, m);

			ASSERT_EQ(0, write_full(clients[i], msg, len));
			ASSERT_EQ(0, read_full(clients[i], back, len));
			ASSERT_EQ(0, memcmp(msg, back, len));
		}
	}
	for (i = 0; i < ECHO_CONNS; i++)
		shutdown(clients[i], SHUT_WR);
	ASSERT_TRUE(wait_until(__atomic_load_n(&ctx.closed, __ATOMIC_RELAXED)
			       == ECHO_CONNS, PROGRESS_MS));
	for (i = 0; i < ECHO_WORKERS; i++)
		ASSERT_TRUE(PostQueuedCompletionStatus(self->port, 0, 0, NULL));
	for (i = 0; i < ECHO_WORKERS; i++)
		pthread_join(w[i], NULL);
	EXPECT_EQ(0, ctx.errors);
	/* A recv and a send per message, then one end-of-file recv. */
	EXPECT_EQ(ECHO_CONNS * (2 * ECHO_MSGS + 1), ctx.handled);
	for (i = 0; i < ECHO_CONNS; i++) {
		closesocket(SOCK(conns[i].fd));
		close(clients[i]);
	}
	close(l);
}

/* ConnectEx as Windows code gets it: WSAIoctl by GUID. */
static LPFN_CONNECTEX get_connectex(int fd)
{
	GUID g = WSAID_CONNECTEX;
	LPFN_CONNECTEX fn = NULL;
	DWORD n = 0;

	if (WSAIoctl(SOCK(fd), SIO_GET_EXTENSION_FUNCTION_POINTER, &g,
		     sizeof(g), &fn, sizeof(fn), &n, NULL, NULL) ||
	    n != sizeof(fn))
		return NULL;
	return fn;
}

/* A TCP socket bound to 127.0.0.1:0, or -errno. */
static int bound_tcp4(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -errno;
	}
	return fd;
}

TEST_F(win, wsaioctl_extension_functions)
{
	GUID accept = WSAID_ACCEPTEX, sockaddrs = WSAID_GETACCEPTEXSOCKADDRS,
	     disconnect = WSAID_DISCONNECTEX, transmit = WSAID_TRANSMITFILE,
	     junk = { 1, 2, 3, { 4 } };
	void (*fn)(void) = NULL;
	DWORD n = 0;

	ASSERT_EQ(0, WSAIoctl(SOCK(self->fds[0]),
			      SIO_GET_EXTENSION_FUNCTION_POINTER, &accept,
			      sizeof(accept), &fn, sizeof(fn), &n, NULL, NULL));
	EXPECT_EQ((void (*)(void))AcceptEx, fn);
	EXPECT_EQ(sizeof(fn), n);
	ASSERT_EQ(0, WSAIoctl(SOCK(self->fds[0]),
			      SIO_GET_EXTENSION_FUNCTION_POINTER, &sockaddrs,
			      sizeof(sockaddrs), &fn, sizeof(fn), &n, NULL,
			      NULL));
	EXPECT_EQ((void (*)(void))GetAcceptExSockaddrs, fn);
	EXPECT_EQ((LPFN_CONNECTEX)ConnectEx, get_connectex(self->fds[0]));
	ASSERT_EQ(0, WSAIoctl(SOCK(self->fds[0]),
			      SIO_GET_EXTENSION_FUNCTION_POINTER, &disconnect,
			      sizeof(disconnect), &fn, sizeof(fn), &n, NULL,
			      NULL));
	EXPECT_EQ((void (*)(void))DisconnectEx, fn);
	ASSERT_EQ(0, WSAIoctl(SOCK(self->fds[0]),
			      SIO_GET_EXTENSION_FUNCTION_POINTER, &transmit,
			      sizeof(transmit), &fn, sizeof(fn), &n, NULL,
			      NULL));
	EXPECT_EQ((void (*)(void))TransmitFile, fn);
	/* No such function: WSAEINVAL. */
	EXPECT_EQ(SOCKET_ERROR,
		  WSAIoctl(SOCK(self->fds[0]),
			   SIO_GET_EXTENSION_FUNCTION_POINTER, &junk,
			   sizeof(junk), &fn, sizeof(fn), &n, NULL, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	/* Too small an output: WSAEFAULT; another code: WSAEOPNOTSUPP. */
	EXPECT_EQ(SOCKET_ERROR,
		  WSAIoctl(SOCK(self->fds[0]),
			   SIO_GET_EXTENSION_FUNCTION_POINTER, &accept,
			   sizeof(accept), &fn, 4, &n, NULL, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR,
		  WSAIoctl(SOCK(self->fds[0]), 0x4004667f, &accept,
			   sizeof(accept), &fn, sizeof(fn), &n, NULL, NULL));
	EXPECT_EQ(WSAEOPNOTSUPP, WSAGetLastError());
}

/* A memfd of @len pattern-@seed bytes. */
static int pattern_memfd(size_t len, unsigned int seed)
{
	char *buf = malloc(len);
	int fd = memfd_create("win-transmit", MFD_CLOEXEC);

	if (fd < 0 || !buf)
		return -1;
	pattern_fill(buf, len, seed, 0);
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

/*
 * TransmitFile as Windows code calls it (through WSAIoctl): head, the
 * range at the OVERLAPPED's offset, tail; one packet with all the bytes;
 * the file's pointer does not move.
 */
TEST_F(win, transmitfile_head_range_tail)
{
	GUID g = WSAID_TRANSMITFILE;
	LPFN_TRANSMITFILE transmitfile = NULL;
	size_t flen = 3 << 20, off = 4096 * 3 + 17, cnt = (2 << 20) + 5;
	TRANSMIT_FILE_BUFFERS tb = {
		.Head = "<<head", .HeadLength = 6,
		.Tail = "tail>>", .TailLength = 6,
	};
	char *back = malloc(cnt), hb[6];
	int file = pattern_memfd(flen, 9);
	OVERLAPPED ov = { 0 };
	DWORD n = 0;
	struct gq r;
	BOOL ok;

	ASSERT_LE(0, file);
	ASSERT_NE(NULL, back);
	ASSERT_EQ(0, WSAIoctl(SOCK(self->fds[0]),
			      SIO_GET_EXTENSION_FUNCTION_POINTER, &g,
			      sizeof(g), &transmitfile, sizeof(transmitfile),
			      &n, NULL, NULL));
	associate(_metadata, self->port, self->fds[0], 11);
	ov.Offset = off;
	ok = transmitfile(SOCK(self->fds[0]), (HANDLE)(intptr_t)file, cnt, 0,
			  &ov, &tb, 0);
	EXPECT_TRUE(ok || WSAGetLastError() == WSA_IO_PENDING);
	ASSERT_EQ(0, read_full(self->fds[1], hb, 6));
	EXPECT_EQ(0, memcmp(hb, "<<head", 6));
	ASSERT_EQ(0, read_full(self->fds[1], back, cnt));
	EXPECT_EQ(-1, pattern_check(back, cnt, 9, off));
	ASSERT_EQ(0, read_full(self->fds[1], hb, 6));
	EXPECT_EQ(0, memcmp(hb, "tail>>", 6));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(11, r.key);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(cnt + 12, r.bytes);
	EXPECT_EQ((off_t)flen, lseek(file, 0, SEEK_CUR));
	/* 0 bytes: to the end of the file; no buffers, hFile NULL: buffers. */
	memset(&ov, 0, sizeof(ov));
	ov.Offset = flen - 100;
	ok = TransmitFile(SOCK(self->fds[0]), (HANDLE)(intptr_t)file, 0, 0,
			  &ov, NULL, 0);
	EXPECT_TRUE(ok || WSAGetLastError() == WSA_IO_PENDING);
	ASSERT_EQ(0, read_full(self->fds[1], back, 100));
	EXPECT_EQ(-1, pattern_check(back, 100, 9, flen - 100));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(100, r.bytes);
	ok = TransmitFile(SOCK(self->fds[0]), NULL, 0, 0, &ov, &tb, 0);
	EXPECT_TRUE(ok || WSAGetLastError() == WSA_IO_PENDING);
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(12, r.bytes);
	ASSERT_EQ(0, read_full(self->fds[1], back, 12));
	EXPECT_EQ(0, memcmp(back, "<<headtail>>", 12));
	/* Synchronous: from the file's pointer, moving it. */
	ASSERT_EQ(flen - 10, lseek(file, flen - 10, SEEK_SET));
	EXPECT_TRUE(TransmitFile(SOCK(self->fds[0]), (HANDLE)(intptr_t)file,
				 0, 0, NULL, NULL, 0));
	ASSERT_EQ(0, read_full(self->fds[1], back, 10));
	EXPECT_EQ(-1, pattern_check(back, 10, 9, flen - 10));
	EXPECT_EQ(flen, lseek(file, 0, SEEK_CUR));
	/* Bad input: nothing follows. */
	EXPECT_FALSE(TransmitFile(SOCK(self->fds[0]), (HANDLE)(intptr_t)file,
				  0, 0, &ov, NULL, TF_REUSE_SOCKET));
	EXPECT_EQ(WSAEOPNOTSUPP, WSAGetLastError());
	EXPECT_FALSE(TransmitFile(SOCK(self->fds[0]),
				  (HANDLE)(intptr_t)self->fds[1], 0, 0, &ov,
				  NULL, 0));
	EXPECT_NE(WSA_IO_PENDING, WSAGetLastError());
	EXPECT_FALSE(gq(self->port, 50).ok);
	close(file);
	free(back);
}

/*
 * TF_DISCONNECT: the peer gets the file, then end of file, and exactly
 * one packet comes, with the bytes sent.  DisconnectEx alone likewise;
 * TF_REUSE_SOCKET cannot be done on Linux.
 */
TEST_F(win, transmitfile_disconnect_and_disconnectex)
{
	GUID g = WSAID_DISCONNECTEX;
	LPFN_DISCONNECTEX disconnectex = NULL;
	size_t flen = 1 << 20;
	char *back = malloc(flen), x;
	int file = pattern_memfd(flen, 4), fds[2] = { -1, -1 };
	OVERLAPPED ov = { 0 };
	DWORD n = 0;
	struct gq r;
	BOOL ok;

	ASSERT_LE(0, file);
	ASSERT_NE(NULL, back);
	associate(_metadata, self->port, self->fds[0], 12);
	ok = TransmitFile(SOCK(self->fds[0]), (HANDLE)(intptr_t)file, 0, 0,
			  &ov, NULL, TF_DISCONNECT);
	EXPECT_TRUE(ok || WSAGetLastError() == WSA_IO_PENDING);
	ASSERT_EQ(0, read_full(self->fds[1], back, flen));
	EXPECT_EQ(-1, pattern_check(back, flen, 4, 0));
	EXPECT_EQ(0, read(self->fds[1], &x, 1));
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(&ov, r.ov);
	EXPECT_EQ(flen, r.bytes);
	EXPECT_FALSE(gq(self->port, 100).ok);

	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	associate(_metadata, self->port, fds[0], 13);
	ASSERT_EQ(0, WSAIoctl(SOCK(fds[0]), SIO_GET_EXTENSION_FUNCTION_POINTER,
			      &g, sizeof(g), &disconnectex,
			      sizeof(disconnectex), &n, NULL, NULL));
	EXPECT_FALSE(disconnectex(SOCK(fds[0]), &ov, TF_REUSE_SOCKET, 0));
	EXPECT_EQ(WSAEOPNOTSUPP, WSAGetLastError());
	EXPECT_FALSE(disconnectex(SOCK(fds[0]), &ov, 0, 1));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	ok = disconnectex(SOCK(fds[0]), &ov, 0, 0);
	EXPECT_TRUE(ok || WSAGetLastError() == WSA_IO_PENDING);
	r = gq(self->port, WAIT_MS);
	EXPECT_TRUE(r.ok);
	EXPECT_EQ(13, r.key);
	EXPECT_EQ(0, r.bytes);
	EXPECT_EQ(0, read(fds[1], &x, 1));
	closesocket(SOCK(fds[0]));
	close(fds[1]);

	/* A connected UDP socket has no connection to end, either way. */
	{
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t alen = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		ASSERT_LE(0, u);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ASSERT_EQ(0, bind(u, (struct sockaddr *)&a, sizeof(a)));
		ASSERT_EQ(0, getsockname(u, (struct sockaddr *)&a, &alen));
		ASSERT_EQ(0, connect(u, (struct sockaddr *)&a, sizeof(a)));
		associate(_metadata, self->port, u, 14);
		EXPECT_FALSE(disconnectex(SOCK(u), NULL, 0, 0));
		EXPECT_EQ(WSAEOPNOTSUPP, WSAGetLastError());
		EXPECT_FALSE(disconnectex(SOCK(u), &ov, 0, 0));
		EXPECT_EQ(WSAEOPNOTSUPP, WSAGetLastError());
		EXPECT_FALSE(gq(self->port, 100).ok);
		closesocket(SOCK(u));
	}
	close(file);
	free(back);
}

/* ConnectEx with send data: its packet carries the bytes sent. */
TEST_F(win, connectex_with_data)
{
	static const char msg[] = "ConnectEx's first block";
	int l = sock_listener(SK_TCP4), c = bound_tcp4(), srv;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	LPFN_CONNECTEX connectex;
	char buf[sizeof(msg)];
	OVERLAPPED ov = { 0 };
	DWORD sent = 0;
	struct gq r;

	ASSERT_LE(0, l);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&ss, &len));
	associate(_metadata, self->port, c, 77);
	connectex = get_connectex(c);
	ASSERT_NE(NULL, connectex);
	if (!connectex(SOCK(c), (struct sockaddr *)&ss, (int)len,
		       (PVOID)msg, sizeof(msg), &sent, &ov))
		ASSERT_EQ(ERROR_IO_PENDING, WSAGetLastError());
	r = gq(self->port, WAIT_MS);
	ASSERT_TRUE(r.ok) {
		TH_LOG("error %u", r.err);
	}
	EXPECT_EQ(sizeof(msg), r.bytes);
	EXPECT_EQ(77, r.key);
	EXPECT_EQ(&ov, r.ov);
	srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, srv);
	ASSERT_EQ(0, read_full(srv, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, msg, sizeof(msg)));
	/* Connected: WSARecv on it works through the same port. */
	ASSERT_EQ((ssize_t)sizeof(msg), write(srv, msg, sizeof(msg)));
	r.bytes = 0;
	if (recv1(c, &ov, buf, sizeof(buf), &r.bytes))
		ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	r = gq(self->port, WAIT_MS);
	ASSERT_TRUE(r.ok);
	EXPECT_EQ(sizeof(msg), r.bytes);
	close(srv);
	closesocket(SOCK(c));
	close(l);
}

/* Refused: at once (WSAECONNREFUSED) or in the packet, nothing sent. */
TEST_F(win, connectex_refused_and_bad_input)
{
	int l = sock_listener(SK_TCP4), c = bound_tcp4(), u;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	OVERLAPPED ov = { 0 };
	DWORD sent = 0;
	struct gq r;

	ASSERT_LE(0, l);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&ss, &len));
	close(l);
	associate(_metadata, self->port, c, 78);
	if (!ConnectEx(SOCK(c), (struct sockaddr *)&ss, (int)len, "x", 1,
		       &sent, &ov)) {
		if (WSAGetLastError() == ERROR_IO_PENDING) {
			r = gq(self->port, WAIT_MS);
			EXPECT_FALSE(r.ok);
			EXPECT_EQ(ERROR_CONNECTION_REFUSED, r.err);
			EXPECT_EQ(0, r.bytes);
			EXPECT_EQ(&ov, r.ov);
		} else {
			EXPECT_EQ(WSAECONNREFUSED, WSAGetLastError());
		}
	} else {
		ASSERT_TRUE(0) TH_LOG("ConnectEx to nobody succeeded");
	}
	EXPECT_FALSE(gq(self->port, 50).ok);
	closesocket(SOCK(c));

	/* Not bound: WSAEINVAL, as on Windows; no OVERLAPPED: WSAEINVAL. */
	u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, u);
	associate(_metadata, self->port, u, 79);
	EXPECT_FALSE(ConnectEx(SOCK(u), (struct sockaddr *)&ss, (int)len,
			       NULL, 0, &sent, &ov));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	c = bound_tcp4();
	ASSERT_LE(0, c);
	EXPECT_FALSE(ConnectEx(SOCK(c), (struct sockaddr *)&ss, (int)len,
			       NULL, 0, &sent, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_FALSE(gq(self->port, 50).ok);
	closesocket(SOCK(u));
	closesocket(SOCK(c));
}

TEST_HARNESS_MAIN
