// SPDX-License-Identifier: GPL-2.0
/*
 * The Win32 layer's file calls and results (cport_win32.h,
 * LIBCPORT_WIN32_1.5): ReadFile and WriteFile on pipes associated with a
 * port (the kernel's READ and WRITE: pending and immediate, end of file as
 * ERROR_BROKEN_PIPE, no reader as ERROR_NO_DATA without SIGPIPE, zero
 * bytes, skipping completion on success, blocking without an OVERLAPPED)
 * and on regular files (at the OVERLAPPED's offset, done at once, a
 * packet); GetOverlappedResult(Ex) and WSAGetOverlappedResult (pending,
 * waiting while another thread dequeues, a timeout, Winsock's codes);
 * CancelIo; WSARecvMsg and WSASendMsg through WSAIoctl, with control
 * data and truncation; bad inputs.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#include "sock_util.h"
#include "kselftest_harness.h"
#include "cport_win32.h"

/* One packet within @ms: its status, with the bytes, key and OVERLAPPED. */
static BOOL packet(HANDLE port, DWORD *bytes, ULONG_PTR *key,
		   LPOVERLAPPED *ov, DWORD ms)
{
	*ov = NULL;
	return GetQueuedCompletionStatus(port, bytes, key, ov, ms);
}

/* No packet comes within @ms. */
static bool no_packet(HANDLE port, DWORD ms)
{
	LPOVERLAPPED ov;
	ULONG_PTR key;
	DWORD bytes;

	return !packet(port, &bytes, &key, &ov, ms) && !ov &&
	       GetLastError() == WAIT_TIMEOUT;
}

FIXTURE(pipe) {
	HANDLE port;
	int p[2];		/* [0] read end (key 11), [1] write end (key 22) */
	char buf[64];
	OVERLAPPED r, w;
};

FIXTURE_SETUP(pipe)
{
	memset(&self->r, 0, sizeof(self->r));
	memset(&self->w, 0, sizeof(self->w));
	memset(self->buf, 0, sizeof(self->buf));
	self->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	ASSERT_NE(NULL, self->port);
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC));
	ASSERT_EQ(self->port,
		  CreateIoCompletionPort((HANDLE)(intptr_t)self->p[0],
					 self->port, 11, 0));
	ASSERT_EQ(self->port,
		  CreateIoCompletionPort((HANDLE)(intptr_t)self->p[1],
					 self->port, 22, 0));
}

FIXTURE_TEARDOWN(pipe)
{
	if (self->p[0] >= 0)
		CloseHandle((HANDLE)(intptr_t)self->p[0]);
	if (self->p[1] >= 0)
		CloseHandle((HANDLE)(intptr_t)self->p[1]);
	CloseHandle(self->port);
}

#define H(fd)	((HANDLE)(intptr_t)(fd))

/* A read that waits, then a write that feeds it: two packets. */
TEST_F(pipe, read_pending_then_write)
{
	LPOVERLAPPED ov;
	ULONG_PTR key;
	DWORD n = 99;
	int seen = 0, i;

	EXPECT_FALSE(ReadFile(H(self->p[0]), self->buf, sizeof(self->buf),
			      &n, &self->r));
	EXPECT_EQ(ERROR_IO_PENDING, GetLastError());
	EXPECT_EQ(0, n);
	EXPECT_FALSE(HasOverlappedIoCompleted(&self->r));
	EXPECT_FALSE(GetOverlappedResult(H(self->p[0]), &self->r, &n, FALSE));
	EXPECT_EQ(ERROR_IO_INCOMPLETE, GetLastError());
	EXPECT_TRUE(no_packet(self->port, 50));

	/* The pipe has room: done at once, and a packet all the same. */
	EXPECT_TRUE(WriteFile(H(self->p[1]), "hello", 5, &n, &self->w));
	EXPECT_EQ(5, n);
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(packet(self->port, &n, &key, &ov, PROGRESS_MS));
		EXPECT_EQ(5, n);
		if (ov == &self->r) {
			EXPECT_EQ(11, key);
			seen |= 1;
		} else {
			EXPECT_EQ(&self->w, ov);
			EXPECT_EQ(22, key);
			seen |= 2;
		}
	}
	EXPECT_EQ(3, seen);
	EXPECT_EQ(0, memcmp(self->buf, "hello", 5));
	EXPECT_TRUE(HasOverlappedIoCompleted(&self->r));
	n = 0;
	EXPECT_TRUE(GetOverlappedResult(H(self->p[0]), &self->r, &n, FALSE));
	EXPECT_EQ(5, n);
	EXPECT_TRUE(no_packet(self->port, 0));
}

/* Every writer closed: the pending read fails with ERROR_BROKEN_PIPE. */
TEST_F(pipe, end_of_file)
{
	LPOVERLAPPED ov;
	ULONG_PTR key;
	DWORD n = 1;

	EXPECT_FALSE(ReadFile(H(self->p[0]), self->buf, 8, NULL, &self->r));
	EXPECT_EQ(ERROR_IO_PENDING, GetLastError());
	/* Nothing pending on the write end: closing it is EOF. */
	EXPECT_TRUE(CloseHandle(H(self->p[1])));
	self->p[1] = -1;
	EXPECT_FALSE(packet(self->port, &n, &key, &ov, PROGRESS_MS));
	EXPECT_EQ(ERROR_BROKEN_PIPE, GetLastError());
	EXPECT_EQ(&self->r, ov);
	EXPECT_EQ(11, key);
	EXPECT_EQ(0, n);
	EXPECT_FALSE(GetOverlappedResult(H(self->p[0]), &self->r, &n, TRUE));
	EXPECT_EQ(ERROR_BROKEN_PIPE, GetLastError());

	/* At once now, and nothing queued for a failure. */
	EXPECT_FALSE(ReadFile(H(self->p[0]), self->buf, 8, &n, &self->r));
	EXPECT_EQ(ERROR_BROKEN_PIPE, GetLastError());
	EXPECT_TRUE(no_packet(self->port, 50));
	/* Blocking: the same. */
	EXPECT_FALSE(ReadFile(H(self->p[0]), self->buf, 8, &n, NULL));
	EXPECT_EQ(ERROR_BROKEN_PIPE, GetLastError());
	EXPECT_EQ(0, n);
}

static void no_sigpipe_pending(struct __test_metadata *_metadata)
{
	sigset_t pending;

	ASSERT_EQ(0, sigpending(&pending));
	EXPECT_FALSE(sigismember(&pending, SIGPIPE));
}

/*
 * Every reader closed: ERROR_NO_DATA, overlapped or not, and no SIGPIPE
 * (its default action would end this process).
 */
TEST_F(pipe, no_reader)
{
	DWORD n = 1;

	signal(SIGPIPE, SIG_DFL);
	EXPECT_TRUE(CloseHandle(H(self->p[0])));
	self->p[0] = -1;
	EXPECT_FALSE(WriteFile(H(self->p[1]), "x", 1, &n, &self->w));
	EXPECT_EQ(ERROR_NO_DATA, GetLastError());
	EXPECT_EQ(ERROR_NO_DATA, self->w.Internal);
	EXPECT_TRUE(no_packet(self->port, 50));
	EXPECT_FALSE(WriteFile(H(self->p[1]), "xyz", 3, &n, NULL));
	EXPECT_EQ(ERROR_NO_DATA, GetLastError());
	EXPECT_EQ(0, n);
	no_sigpipe_pending(_metadata);
}

struct pkt_waiter {
	HANDLE port;
	BOOL ok;
	DWORD bytes;
	ULONG_PTR key;
	LPOVERLAPPED ov;
};

/* Wait for one packet (the waiting thread runs the pipe's I/O). */
static void *wait_packet(void *arg)
{
	struct pkt_waiter *w = arg;

	w->ok = packet(w->port, &w->bytes, &w->key, &w->ov, PROGRESS_MS);
	return NULL;
}

/* A write bigger than the pipe: pending until the reader makes room. */
TEST_F(pipe, write_pending_until_read)
{
	static char big[256 * 1024], got[256 * 1024];
	struct pkt_waiter w = { .port = self->port };
	size_t have = 0;
	pthread_t t;
	DWORD n;

	memset(big, 'b', sizeof(big));
	EXPECT_FALSE(WriteFile(H(self->p[1]), big, sizeof(big), &n, &self->w));
	EXPECT_EQ(ERROR_IO_PENDING, GetLastError());
	EXPECT_TRUE(no_packet(self->port, 50));
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_packet, &w));
	while (have < sizeof(got)) {
		ssize_t r = read(self->p[0], got + have, sizeof(got) - have);

		if (r < 0 && errno == EINTR)
			continue;
		ASSERT_LT(0, r);
		have += r;
	}
	pthread_join(t, NULL);
	EXPECT_TRUE(w.ok);
	EXPECT_EQ(&self->w, w.ov);
	EXPECT_EQ(22, w.key);
	EXPECT_EQ(sizeof(big), w.bytes);
	EXPECT_EQ(0, memcmp(big, got, sizeof(big)));
}

/* Zero bytes complete at once; a skipping handle posts nothing. */
TEST_F(pipe, zero_bytes_and_skip)
{
	LPOVERLAPPED ov;
	ULONG_PTR key;
	DWORD n = 7;

	EXPECT_TRUE(ReadFile(H(self->p[0]), self->buf, 0, &n, &self->r));
	EXPECT_EQ(0, n);
	ASSERT_TRUE(packet(self->port, &n, &key, &ov, PROGRESS_MS));
	EXPECT_EQ(&self->r, ov);
	EXPECT_EQ(11, key);

	EXPECT_TRUE(SetFileCompletionNotificationModes(H(self->p[1]),
					FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
	EXPECT_TRUE(WriteFile(H(self->p[1]), "ab", 2, &n, &self->w));
	EXPECT_EQ(2, n);
	EXPECT_TRUE(no_packet(self->port, 50));
	/* The read end still posts. */
	EXPECT_TRUE(ReadFile(H(self->p[0]), self->buf, 8, &n, &self->r));
	EXPECT_EQ(2, n);
	ASSERT_TRUE(packet(self->port, &n, &key, &ov, PROGRESS_MS));
	EXPECT_EQ(&self->r, ov);
	EXPECT_EQ(2, n);
}

/*
 * A zero-byte ReadFile fails once every writer is gone and nothing is left
 * to read (ERROR_BROKEN_PIPE), as a longer one would; a zero-byte WriteFile
 * once every reader is gone (ERROR_NO_DATA); overlapped or not, with no
 * packet for the failure.
 */
TEST_F(pipe, zero_bytes_broken)
{
	LPOVERLAPPED ov;
	ULONG_PTR key;
	DWORD n = 7;

	EXPECT_TRUE(WriteFile(H(self->p[1]), "z", 1, &n, NULL));
	EXPECT_TRUE(CloseHandle(H(self->p[1])));
	self->p[1] = -1;
	/* A byte is left: zero bytes still succeed. */
	EXPECT_TRUE(ReadFile(H(self->p[0]), self->buf, 0, &n, &self->r));
	ASSERT_TRUE(packet(self->port, &n, &key, &ov, PROGRESS_MS));
	EXPECT_EQ(&self->r, ov);
	EXPECT_EQ(0, n);
	EXPECT_TRUE(ReadFile(H(self->p[0]), self->buf, 0, &n, NULL));
	EXPECT_TRUE(ReadFile(H(self->p[0]), self->buf, 8, &n, NULL));
	EXPECT_EQ(1, n);
	/* Now the end: */
	EXPECT_FALSE(ReadFile(H(self->p[0]), self->buf, 0, &n, &self->r));
	EXPECT_EQ(ERROR_BROKEN_PIPE, GetLastError());
	EXPECT_EQ(ERROR_BROKEN_PIPE, self->r.Internal);
	EXPECT_FALSE(ReadFile(H(self->p[0]), self->buf, 0, &n, NULL));
	EXPECT_EQ(ERROR_BROKEN_PIPE, GetLastError());
	EXPECT_TRUE(no_packet(self->port, 50));
}

TEST_F(pipe, zero_bytes_no_reader)
{
	LPOVERLAPPED ov;
	ULONG_PTR key;
	DWORD n = 7;

	EXPECT_TRUE(WriteFile(H(self->p[1]), "", 0, &n, &self->w));
	EXPECT_TRUE(CloseHandle(H(self->p[0])));
	self->p[0] = -1;
	EXPECT_FALSE(WriteFile(H(self->p[1]), "", 0, &n, &self->w));
	EXPECT_EQ(ERROR_NO_DATA, GetLastError());
	EXPECT_EQ(ERROR_NO_DATA, self->w.Internal);
	EXPECT_FALSE(WriteFile(H(self->p[1]), "", 0, &n, NULL));
	EXPECT_EQ(ERROR_NO_DATA, GetLastError());
	/* The first, successful write's packet, and no other. */
	ASSERT_TRUE(packet(self->port, &n, &key, &ov, PROGRESS_MS));
	EXPECT_EQ(&self->w, ov);
	EXPECT_EQ(22, key);
	EXPECT_TRUE(no_packet(self->port, 50));
}

/* Blocking ReadFile and WriteFile, and CancelIo of a pending read. */
TEST_F(pipe, blocking_and_cancel)
{
	LPOVERLAPPED ov;
	ULONG_PTR key;
	DWORD n = 0;

	EXPECT_TRUE(WriteFile(H(self->p[1]), "abc", 3, &n, NULL));
	EXPECT_EQ(3, n);
	EXPECT_TRUE(ReadFile(H(self->p[0]), self->buf, 8, &n, NULL));
	EXPECT_EQ(3, n);
	EXPECT_EQ(0, memcmp(self->buf, "abc", 3));
	EXPECT_TRUE(no_packet(self->port, 0));

	EXPECT_FALSE(ReadFile(H(self->p[0]), self->buf, 8, &n, &self->r));
	EXPECT_EQ(ERROR_IO_PENDING, GetLastError());
	EXPECT_TRUE(CancelIo(H(self->p[0])));
	EXPECT_FALSE(packet(self->port, &n, &key, &ov, PROGRESS_MS));
	EXPECT_EQ(ERROR_OPERATION_ABORTED, GetLastError());
	EXPECT_EQ(&self->r, ov);
	/* Nothing pending: CancelIo succeeds, CancelIoEx does not. */
	EXPECT_TRUE(CancelIo(H(self->p[0])));
	EXPECT_FALSE(CancelIoEx(H(self->p[0]), NULL));
	EXPECT_EQ(ERROR_NOT_FOUND, GetLastError());
}

/* A regular file: at the OVERLAPPED's offset, at once, with a packet. */
TEST(regular_file)
{
	HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	OVERLAPPED ov = { 0 }, *got;
	int fd = memfd_create("cport-win32", MFD_CLOEXEC);
	int other = memfd_create("cport-win32-other", MFD_CLOEXEC);
	char buf[16] = { 0 };
	ULONG_PTR key;
	DWORD n = 0;

	ASSERT_NE(NULL, port);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	ASSERT_EQ(port, CreateIoCompletionPort(H(fd), port, 33, 0));
	/* Associated once only. */
	EXPECT_EQ(NULL, CreateIoCompletionPort(H(fd), port, 34, 0));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());

	ov.Offset = 100;
	EXPECT_TRUE(WriteFile(H(fd), "0123456789", 10, &n, &ov));
	EXPECT_EQ(10, n);
	EXPECT_TRUE(HasOverlappedIoCompleted(&ov));
	ASSERT_TRUE(packet(port, &n, &key, &got, PROGRESS_MS));
	EXPECT_EQ(&ov, got);
	EXPECT_EQ(33, key);
	EXPECT_EQ(10, n);
	EXPECT_EQ(110, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(0, lseek(fd, 0, SEEK_SET));

	ov.Offset = 103;
	EXPECT_TRUE(ReadFile(H(fd), buf, 4, &n, &ov));
	EXPECT_EQ(4, n);
	EXPECT_EQ(0, memcmp(buf, "3456", 4));
	ASSERT_TRUE(packet(port, &n, &key, &got, PROGRESS_MS));
	EXPECT_EQ(4, n);
	EXPECT_EQ(0, lseek(fd, 0, SEEK_CUR));	/* the position stays */
	n = 0;
	EXPECT_TRUE(GetOverlappedResult(H(fd), &ov, &n, FALSE));
	EXPECT_EQ(4, n);

	/* At the end: ERROR_HANDLE_EOF, no packet. */
	ov.Offset = 110;
	EXPECT_FALSE(ReadFile(H(fd), buf, 4, &n, &ov));
	EXPECT_EQ(ERROR_HANDLE_EOF, GetLastError());
	EXPECT_EQ(ERROR_HANDLE_EOF, ov.Internal);
	EXPECT_TRUE(no_packet(port, 50));
	/* Nothing is ever pending on it. */
	EXPECT_FALSE(CancelIoEx(H(fd), NULL));
	EXPECT_EQ(ERROR_NOT_FOUND, GetLastError());

	/* Not associated: overlapped fails, blocking works and moves. */
	EXPECT_FALSE(WriteFile(H(other), "z", 1, &n, &ov));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_TRUE(WriteFile(H(other), "zz", 2, &n, NULL));
	EXPECT_EQ(2, n);
	EXPECT_EQ(2, lseek(other, 0, SEEK_CUR));
	/* Blocking at the end of a file: TRUE with 0 bytes, as Windows. */
	EXPECT_TRUE(ReadFile(H(other), buf, 4, &n, NULL));
	EXPECT_EQ(0, n);

	EXPECT_TRUE(CloseHandle(H(fd)));
	EXPECT_TRUE(CloseHandle(H(other)));
	EXPECT_TRUE(CloseHandle(port));
}

struct dequeuer {
	HANDLE port;
	int peer;
	BOOL ok;
	LPOVERLAPPED ov;
};

/* Feed the pending receive after a while, then dequeue its packet. */
static void *feed_and_dequeue(void *arg)
{
	struct dequeuer *d = arg;
	ULONG_PTR key;
	DWORD n;

	usleep(100 * 1000);
	if (write(d->peer, "xyz", 3) != 3)
		return NULL;
	d->ok = GetQueuedCompletionStatus(d->port, &n, &key, &d->ov,
					  PROGRESS_MS);
	return NULL;
}

/*
 * GetOverlappedResult with bWait: sleeps until the thread that dequeues
 * the packet has finished the operation; the Ex form times out first.
 */
TEST(overlapped_result_waits)
{
	HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	struct dequeuer d = { .port = port };
	OVERLAPPED ov = { 0 };
	char buf[8];
	WSABUF b = { .len = sizeof(buf), .buf = buf };
	DWORD n = 0, flags = 0;
	pthread_t t;
	int fds[2] = { -1, -1 };

	ASSERT_NE(NULL, port);
	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	d.peer = fds[1];
	ASSERT_EQ(port, CreateIoCompletionPort(H(fds[0]), port, 5, 0));
	EXPECT_EQ(SOCKET_ERROR, WSARecv(fds[0], &b, 1, NULL, &flags, &ov,
					NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(0, pthread_create(&t, NULL, feed_and_dequeue, &d));
	EXPECT_FALSE(GetOverlappedResultEx(H(fds[0]), &ov, &n, 10, FALSE));
	EXPECT_EQ(WAIT_TIMEOUT, GetLastError());
	EXPECT_FALSE(WSAGetOverlappedResult(fds[0], &ov, &n, FALSE, &flags));
	EXPECT_EQ(WSA_IO_INCOMPLETE, WSAGetLastError());
	EXPECT_TRUE(GetOverlappedResult(H(fds[0]), &ov, &n, TRUE));
	EXPECT_EQ(3, n);
	EXPECT_EQ(0, memcmp(buf, "xyz", 3));
	pthread_join(t, NULL);
	EXPECT_TRUE(d.ok);
	EXPECT_EQ(&ov, d.ov);
	n = 0;
	flags = 99;
	EXPECT_TRUE(WSAGetOverlappedResult(fds[0], &ov, &n, TRUE, &flags));
	EXPECT_EQ(3, n);
	EXPECT_EQ(0, flags);
	EXPECT_TRUE(GetOverlappedResultEx(H(fds[0]), &ov, &n, 0, FALSE));

	/* A reset: the port's ERROR_NETNAME_DELETED is Winsock's reset. */
	EXPECT_EQ(SOCKET_ERROR, WSARecv(fds[0], &b, 1, NULL, &flags, &ov,
					NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	sock_set_rst_on_close(fds[1]);
	close(fds[1]);
	{
		LPOVERLAPPED got;
		ULONG_PTR key;

		EXPECT_FALSE(packet(port, &n, &key, &got, PROGRESS_MS));
		EXPECT_EQ(ERROR_NETNAME_DELETED, GetLastError());
		EXPECT_EQ(&ov, got);
	}
	EXPECT_FALSE(GetOverlappedResult(H(fds[0]), &ov, &n, FALSE));
	EXPECT_EQ(ERROR_NETNAME_DELETED, GetLastError());
	EXPECT_FALSE(WSAGetOverlappedResult(fds[0], &ov, &n, FALSE, &flags));
	EXPECT_EQ(WSAECONNRESET, WSAGetLastError());

	EXPECT_FALSE(GetOverlappedResult(H(fds[0]), NULL, &n, FALSE));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_EQ(0, closesocket(fds[0]));
	EXPECT_TRUE(CloseHandle(port));
}

/* A UDP socket on loopback, bound to an ephemeral port. */
static int udp_bound(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof(*sin)) ||
	    getsockname(fd, (struct sockaddr *)sin, &len))
		return -1;
	return fd;
}

/* WSARecvMsg and WSASendMsg from WSAIoctl: addresses, control data. */
TEST(recvmsg_sendmsg)
{
	GUID rid = WSAID_WSARECVMSG, sid = WSAID_WSASENDMSG;
	HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	struct sockaddr_in ra, sa, from;
	LPFN_WSARECVMSG recvmsg_fn = NULL;
	LPFN_WSASENDMSG sendmsg_fn = NULL;
	char data[16] = { 0 }, control[256], big[100];
	WSABUF b = { .len = sizeof(data), .buf = data };
	WSABUF sb = { .len = 5, .buf = "hello" };
	WSAMSG m = { 0 }, sm = { 0 };
	OVERLAPPED ov = { 0 }, sov = { 0 }, *got;
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	ULONG_PTR key;
	DWORD n = 0;
	int r, s, one = 1, found = 0;

	ASSERT_NE(NULL, port);
	r = udp_bound(&ra);
	s = udp_bound(&sa);
	ASSERT_LE(0, r);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)));
	ASSERT_EQ(port, CreateIoCompletionPort(H(r), port, 1, 0));
	ASSERT_EQ(port, CreateIoCompletionPort(H(s), port, 2, 0));
	ASSERT_EQ(0, WSAIoctl(r, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid,
			      sizeof(rid), &recvmsg_fn, sizeof(recvmsg_fn),
			      &n, NULL, NULL));
	ASSERT_EQ(0, WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &sid,
			      sizeof(sid), &sendmsg_fn, sizeof(sendmsg_fn),
			      &n, NULL, NULL));
	EXPECT_TRUE(sendmsg_fn == WSASendMsg);

	m.name = (LPSOCKADDR)&from;
	m.namelen = sizeof(from);
	m.lpBuffers = &b;
	m.dwBufferCount = 1;
	m.Control.buf = control;
	m.Control.len = sizeof(control);
	EXPECT_EQ(SOCKET_ERROR, recvmsg_fn(r, &m, &n, &ov, NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());

	sm.name = (LPSOCKADDR)&ra;
	sm.namelen = sizeof(ra);
	sm.lpBuffers = &sb;
	sm.dwBufferCount = 1;
	EXPECT_EQ(0, sendmsg_fn(s, &sm, 0, &n, &sov, NULL));
	EXPECT_EQ(5, n);
	/* Two packets: the send's (done at once) and the receive's. */
	for (int i = 0; i < 2; i++) {
		ASSERT_TRUE(packet(port, &n, &key, &got, PROGRESS_MS));
		EXPECT_EQ(5, n);
		EXPECT_EQ(got == &ov ? 1 : 2, key);
	}
	EXPECT_EQ(0, memcmp(data, "hello", 5));
	EXPECT_EQ(sizeof(from), m.namelen);
	EXPECT_EQ(sa.sin_port, from.sin_port);
	EXPECT_EQ(0, m.dwFlags);
	ASSERT_LT(0, m.Control.len);
	mh.msg_control = control;
	mh.msg_controllen = m.Control.len;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct in_pktinfo pi;

		if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO)
			continue;
		memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		EXPECT_EQ(htonl(INADDR_LOOPBACK), pi.ipi_addr.s_addr);
		found++;
	}
	EXPECT_EQ(1, found);

	/* Cut short: WSAEMSGSIZE, MSG_TRUNC, the bytes that fit. */
	memset(big, 'q', sizeof(big));
	m.namelen = sizeof(from);
	m.Control.len = sizeof(control);
	m.dwFlags = 0;
	EXPECT_EQ(SOCKET_ERROR, recvmsg_fn(r, &m, &n, &ov, NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(sizeof(big), sendto(s, big, sizeof(big), 0,
				      (struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_FALSE(packet(port, &n, &key, &got, PROGRESS_MS));
	EXPECT_EQ(WSAEMSGSIZE, GetLastError());
	EXPECT_EQ(&ov, got);
	EXPECT_EQ(sizeof(data), n);
	EXPECT_TRUE(m.dwFlags & MSG_TRUNC);
	EXPECT_FALSE(WSAGetOverlappedResult(r, &ov, &n, FALSE, NULL));
	EXPECT_EQ(WSAEMSGSIZE, WSAGetLastError());

	/* Blocking, without an OVERLAPPED. */
	m.namelen = sizeof(from);
	m.Control.len = sizeof(control);
	m.dwFlags = 0;
	EXPECT_EQ(0, sendmsg_fn(s, &sm, 0, &n, NULL, NULL));
	EXPECT_EQ(0, recvmsg_fn(r, &m, &n, NULL, NULL));
	EXPECT_EQ(5, n);
	EXPECT_LT(0, m.Control.len);

	/* Bad input. */
	m.dwFlags = MSG_PEEK;
	EXPECT_EQ(SOCKET_ERROR, recvmsg_fn(r, &m, &n, &ov, NULL));
	EXPECT_EQ(WSAEOPNOTSUPP, WSAGetLastError());
	m.dwFlags = 0;
	EXPECT_EQ(SOCKET_ERROR, recvmsg_fn(r, NULL, &n, &ov, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	m.dwBufferCount = 0;
	EXPECT_EQ(SOCKET_ERROR, recvmsg_fn(r, &m, &n, &ov, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSASendMsg(s, &sm, MSG_OOB, &n, &sov, NULL));
	EXPECT_EQ(WSAEOPNOTSUPP, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSASendMsg(s, NULL, 0, &n, &sov, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_TRUE(no_packet(port, 50));

	EXPECT_EQ(0, closesocket(r));
	EXPECT_EQ(0, closesocket(s));
	EXPECT_TRUE(CloseHandle(port));
}

/* Handles the file calls refuse, and a pipe not associated. */
TEST(bad_handles)
{
	HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	OVERLAPPED ov = { 0 };
	char buf[4];
	DWORD n;
	int p[2];

	ASSERT_NE(NULL, port);
	EXPECT_FALSE(ReadFile(port, buf, sizeof(buf), &n, &ov));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	EXPECT_FALSE(ReadFile(H(-1), buf, sizeof(buf), &n, NULL));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_FALSE(ReadFile(H(p[0]), NULL, 4, &n, &ov));
	EXPECT_EQ(ERROR_NOACCESS, GetLastError());
	EXPECT_FALSE(ReadFile(H(p[0]), buf, sizeof(buf), &n, &ov));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_FALSE(WriteFile(H(p[1]), buf, sizeof(buf), &n, &ov));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	close(p[0]);
	close(p[1]);
	EXPECT_FALSE(ReadFile(H(p[0]), buf, sizeof(buf), &n, NULL));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	EXPECT_TRUE(no_packet(port, 0));
	EXPECT_TRUE(CloseHandle(port));
}

TEST_HARNESS_MAIN
