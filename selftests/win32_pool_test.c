// SPDX-License-Identifier: GPL-2.0
/*
 * Windows' thread-pool calls on <cport_win32.h>: work objects (submit,
 * wait, cancel pending callbacks), TrySubmitThreadpoolCallback, pools of
 * their own and their thread limits, thread-pool I/O (a pending and an
 * immediate completion both call back, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
 * with CancelThreadpoolIo, an immediate failure, cancel, close from the
 * callback), BindIoCompletionCallback, every call's bad input, and an
 * echo server shaped like a real thread-pool-I/O server (AcceptEx and a
 * TP_IO per connection, WSARecv and WSASend issued from the callbacks)
 * checked by clients that verify every byte.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>

#include "sock_util.h"
#include "kselftest_harness.h"
#include "cport_win32.h"

static int task_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static atomic_int counter, gate, in_gate, max_in;

static void reset(void)
{
	atomic_store(&counter, 0);
	atomic_store(&gate, 0);
	atomic_store(&in_gate, 0);
	atomic_store(&max_in, 0);
}

static void *open_gate_later(void *arg)
{
	sleep_ms(300);
	atomic_store(&gate, 1);
	return NULL;
}

static PTP_WORK seen_work;
static PVOID seen_ctx;

static VOID CALLBACK count_work(PTP_CALLBACK_INSTANCE inst, PVOID ctx,
				PTP_WORK work)
{
	if (inst) {
		seen_work = work;
		seen_ctx = ctx;
		atomic_fetch_add(&counter, 1);
	}
}

static VOID CALLBACK gate_work(PTP_CALLBACK_INSTANCE inst, PVOID ctx,
			       PTP_WORK work)
{
	int n = atomic_fetch_add(&in_gate, 1) + 1, m = atomic_load(&max_in);

	while (n > m && !atomic_compare_exchange_weak(&max_in, &m, n))
		;
	while (!atomic_load(&gate))
		usleep(1000);
	atomic_fetch_sub(&in_gate, 1);
	atomic_fetch_add(&counter, 1);
}

TEST(work_submit_wait_close)
{
	PTP_WORK w = CreateThreadpoolWork(count_work, &counter, NULL);
	int i;

	reset();
	ASSERT_NE(NULL, w);
	for (i = 0; i < 100; i++)
		SubmitThreadpoolWork(w);
	WaitForThreadpoolWorkCallbacks(w, FALSE);
	EXPECT_EQ(100, atomic_load(&counter));
	EXPECT_EQ(w, seen_work);
	EXPECT_EQ((PVOID)&counter, seen_ctx);
	CloseThreadpoolWork(w);
}

/* One thread: the first callback blocks; the nine queued are cancelled. */
TEST(work_cancel_pending_callbacks)
{
	TP_CALLBACK_ENVIRON env;
	PTP_POOL pool = CreateThreadpool(NULL);
	PTP_WORK w;
	pthread_t t;
	int i;

	reset();
	ASSERT_NE(NULL, pool);
	SetThreadpoolThreadMaximum(pool, 1);
	InitializeThreadpoolEnvironment(&env);
	SetThreadpoolCallbackPool(&env, pool);
	w = CreateThreadpoolWork(gate_work, NULL, &env);
	ASSERT_NE(NULL, w);
	for (i = 0; i < 10; i++)
		SubmitThreadpoolWork(w);
	ASSERT_TRUE(wait_until(atomic_load(&in_gate) == 1, PROGRESS_MS));
	ASSERT_EQ(0, pthread_create(&t, NULL, open_gate_later, NULL));
	WaitForThreadpoolWorkCallbacks(w, TRUE);
	pthread_join(t, NULL);
	EXPECT_EQ(1, atomic_load(&counter));
	/* Still usable afterwards. */
	SubmitThreadpoolWork(w);
	WaitForThreadpoolWorkCallbacks(w, FALSE);
	EXPECT_EQ(2, atomic_load(&counter));
	CloseThreadpoolWork(w);
	DestroyThreadpoolEnvironment(&env);
	CloseThreadpool(pool);
}

static VOID CALLBACK simple_cb(PTP_CALLBACK_INSTANCE inst, PVOID ctx)
{
	atomic_fetch_add((atomic_int *)ctx, inst ? 1 : 100);
}

TEST(bad_input_and_try_submit)
{
	atomic_int n = 0;
	int p[2];

	SetLastError(0);
	EXPECT_FALSE(TrySubmitThreadpoolCallback(NULL, NULL, NULL));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_EQ(NULL, CreateThreadpool((PVOID)1));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_EQ(NULL, CreateThreadpoolWork(NULL, NULL, NULL));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_FALSE(SetThreadpoolThreadMinimum(NULL, 1));
	EXPECT_EQ(NULL, CreateThreadpoolIo(INVALID_HANDLE_VALUE,
					   (PTP_WIN32_IO_CALLBACK)simple_cb,
					   NULL, NULL));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	/* A file with no readiness (pipes can be associated now). */
	p[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, p[0]);
	EXPECT_EQ(NULL, CreateThreadpoolIo((HANDLE)(intptr_t)p[0],
					   (PTP_WIN32_IO_CALLBACK)simple_cb,
					   NULL, NULL));
	EXPECT_EQ(ERROR_NOT_SUPPORTED, GetLastError());
	EXPECT_FALSE(BindIoCompletionCallback((HANDLE)(intptr_t)p[0], NULL, 0));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	close(p[0]);
	ASSERT_TRUE(TrySubmitThreadpoolCallback(simple_cb, &n, NULL));
	EXPECT_TRUE(wait_until(atomic_load(&n) == 1, PROGRESS_MS));
}

/* A pool's limits: the minimum made at once, the maximum never passed. */
TEST(pool_thread_limits)
{
	TP_CALLBACK_ENVIRON env;
	PTP_POOL pool;
	PTP_WORK w;
	int base = task_count(), i;

	reset();
	pool = CreateThreadpool(NULL);
	ASSERT_NE(NULL, pool);
	SetLastError(0);
	EXPECT_FALSE(SetThreadpoolThreadMinimum(pool, 5000));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	ASSERT_TRUE(SetThreadpoolThreadMinimum(pool, 2));
	EXPECT_TRUE(wait_until(task_count() == base + 2, PROGRESS_MS));
	SetThreadpoolThreadMaximum(pool, 3);
	InitializeThreadpoolEnvironment(&env);
	SetThreadpoolCallbackPool(&env, pool);
	w = CreateThreadpoolWork(gate_work, NULL, &env);
	ASSERT_NE(NULL, w);
	for (i = 0; i < 6; i++)
		SubmitThreadpoolWork(w);
	ASSERT_TRUE(wait_until(atomic_load(&in_gate) == 3, PROGRESS_MS));
	sleep_ms(GRACE_MS);
	EXPECT_EQ(3, atomic_load(&max_in));
	EXPECT_EQ(base + 3, task_count());
	atomic_store(&gate, 1);
	WaitForThreadpoolWorkCallbacks(w, FALSE);
	EXPECT_EQ(6, atomic_load(&counter));
	EXPECT_EQ(3, atomic_load(&max_in));
	CloseThreadpoolWork(w);
	CloseThreadpool(pool);
	EXPECT_TRUE(wait_until(task_count() == base, PROGRESS_MS));
}

/* --- Thread-pool I/O ------------------------------------------------------ */

struct io_rec {
	atomic_int calls;
	PVOID ov;
	ULONG result;
	ULONG_PTR bytes;
	PTP_IO io;
	PVOID ctx;
	bool close_self;
};

static VOID CALLBACK io_cb(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PVOID ov,
			   ULONG result, ULONG_PTR bytes, PTP_IO io)
{
	struct io_rec *r = ctx;

	r->ov = ov;
	r->result = result;
	r->bytes = bytes;
	r->io = io;
	r->ctx = ctx;
	if (r->close_self)
		CloseThreadpoolIo(io);
	atomic_fetch_add(&r->calls, 1);
}

FIXTURE(tpio) {
	int fds[2];
	PTP_IO io;
	struct io_rec r;
	OVERLAPPED ov;
	char buf[64];
	WSABUF wb;
};

FIXTURE_SETUP(tpio)
{
	memset(&self->r, 0, sizeof(self->r));
	memset(&self->ov, 0, sizeof(self->ov));
	ASSERT_EQ(0, sock_pair(SK_TCP4, self->fds));
	self->io = CreateThreadpoolIo((HANDLE)(intptr_t)self->fds[0], io_cb,
				      &self->r, NULL);
	ASSERT_NE(NULL, self->io);
	self->wb.buf = self->buf;
	self->wb.len = sizeof(self->buf);
}

FIXTURE_TEARDOWN(tpio)
{
	closesocket(self->fds[0]);
	if (self->io) {
		WaitForThreadpoolIoCallbacks(self->io, FALSE);
		CloseThreadpoolIo(self->io);
	}
	close(self->fds[1]);
}

static int recv_ov(FIXTURE_DATA(tpio) *self, DWORD *got)
{
	DWORD flags = 0;

	return WSARecv(self->fds[0], &self->wb, 1, got, &flags, &self->ov,
		       NULL);
}

TEST_F(tpio, pending_completion)
{
	StartThreadpoolIo(self->io);
	ASSERT_EQ(SOCKET_ERROR, recv_ov(self, NULL));
	ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	sleep_ms(50);
	EXPECT_EQ(0, atomic_load(&self->r.calls));
	ASSERT_EQ(5, write(self->fds[1], "hello", 5));
	ASSERT_TRUE(wait_until(atomic_load(&self->r.calls) == 1, PROGRESS_MS));
	EXPECT_EQ((PVOID)&self->ov, self->r.ov);
	EXPECT_EQ(0U, self->r.result);
	EXPECT_EQ(5U, self->r.bytes);
	EXPECT_EQ(self->io, self->r.io);
	EXPECT_EQ((PVOID)&self->r, self->r.ctx);
	EXPECT_EQ(0, memcmp(self->buf, "hello", 5));
	EXPECT_EQ(0U, self->ov.Internal);
	EXPECT_EQ(5U, self->ov.InternalHigh);
}

/* Windows' default mode: a call that succeeds at once still calls back. */
TEST_F(tpio, immediate_success_calls_back)
{
	DWORD got = 0;

	ASSERT_EQ(3, write(self->fds[1], "abc", 3));
	ASSERT_TRUE(readable(self->fds[0]));
	StartThreadpoolIo(self->io);
	ASSERT_EQ(0, recv_ov(self, &got));
	EXPECT_EQ(3U, got);
	ASSERT_TRUE(wait_until(atomic_load(&self->r.calls) == 1, PROGRESS_MS));
	EXPECT_EQ(0U, self->r.result);
	EXPECT_EQ(3U, self->r.bytes);
	WaitForThreadpoolIoCallbacks(self->io, FALSE);
	EXPECT_EQ(1, atomic_load(&self->r.calls));
}

/* Skipping completion on success: no callback, CancelThreadpoolIo instead. */
TEST_F(tpio, skip_on_success_needs_cancel)
{
	DWORD got = 0;

	ASSERT_TRUE(SetFileCompletionNotificationModes(
		(HANDLE)(intptr_t)self->fds[0],
		FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
	ASSERT_EQ(3, write(self->fds[1], "abc", 3));
	ASSERT_TRUE(readable(self->fds[0]));
	StartThreadpoolIo(self->io);
	ASSERT_EQ(0, recv_ov(self, &got));
	EXPECT_EQ(3U, got);
	CancelThreadpoolIo(self->io);
	WaitForThreadpoolIoCallbacks(self->io, FALSE);	/* nothing to wait for */
	sleep_ms(50);
	EXPECT_EQ(0, atomic_load(&self->r.calls));
	/* A pending one still calls back. */
	StartThreadpoolIo(self->io);
	ASSERT_EQ(SOCKET_ERROR, recv_ov(self, NULL));
	ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(1, write(self->fds[1], "d", 1));
	WaitForThreadpoolIoCallbacks(self->io, FALSE);
	EXPECT_EQ(1, atomic_load(&self->r.calls));
	EXPECT_EQ(1U, self->r.bytes);
}

/* An immediate failure posts nothing: CancelThreadpoolIo, no callback. */
TEST_F(tpio, immediate_failure)
{
	WSABUF bad = { .len = 0x7fffffff, .buf = self->buf };
	DWORD flags = 0;

	StartThreadpoolIo(self->io);
	ASSERT_EQ(SOCKET_ERROR, WSARecv(self->fds[0], &bad, 1, NULL, &flags,
					&self->ov, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	CancelThreadpoolIo(self->io);
	WaitForThreadpoolIoCallbacks(self->io, FALSE);
	EXPECT_EQ(0, atomic_load(&self->r.calls));
}

TEST_F(tpio, cancel_io)
{
	StartThreadpoolIo(self->io);
	ASSERT_EQ(SOCKET_ERROR, recv_ov(self, NULL));
	ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_TRUE(CancelIoEx((HANDLE)(intptr_t)self->fds[0], &self->ov));
	WaitForThreadpoolIoCallbacks(self->io, FALSE);
	ASSERT_EQ(1, atomic_load(&self->r.calls));
	EXPECT_EQ((ULONG)ERROR_OPERATION_ABORTED, self->r.result);
}

/* fCancelPendingCallbacks: the pending recv goes, its callback does not run. */
TEST_F(tpio, wait_cancel_pending)
{
	StartThreadpoolIo(self->io);
	ASSERT_EQ(SOCKET_ERROR, recv_ov(self, NULL));
	ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	WaitForThreadpoolIoCallbacks(self->io, TRUE);
	EXPECT_EQ(0, atomic_load(&self->r.calls));
	EXPECT_EQ((ULONG_PTR)ERROR_OPERATION_ABORTED, self->ov.Internal);
	/* Usable again. */
	StartThreadpoolIo(self->io);
	ASSERT_EQ(SOCKET_ERROR, recv_ov(self, NULL));
	ASSERT_EQ(2, write(self->fds[1], "ok", 2));
	WaitForThreadpoolIoCallbacks(self->io, FALSE);
	EXPECT_EQ(1, atomic_load(&self->r.calls));
	EXPECT_EQ(2U, self->r.bytes);
}

/* Closed by its own callback; after CloseThreadpoolIo WSARecv fails. */
TEST_F(tpio, close_from_callback)
{
	self->r.close_self = true;
	StartThreadpoolIo(self->io);
	ASSERT_EQ(SOCKET_ERROR, recv_ov(self, NULL));
	ASSERT_EQ(1, write(self->fds[1], "x", 1));
	ASSERT_TRUE(wait_until(atomic_load(&self->r.calls) == 1, PROGRESS_MS));
	self->io = NULL;	/* closed */
	EXPECT_EQ(SOCKET_ERROR, recv_ov(self, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
}

TEST_F(tpio, bad_input)
{
	HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
	/* A socket that cannot be associated (UDP can be now). */
	int other[2] = { -1, -1 }, udp = socket(AF_NETLINK, SOCK_DGRAM, 0);

	/* Already bound: to this pool, or to a port. */
	EXPECT_EQ(NULL, CreateThreadpoolIo((HANDLE)(intptr_t)self->fds[0],
					   io_cb, NULL, NULL));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_FALSE(BindIoCompletionCallback((HANDLE)(intptr_t)self->fds[0],
					      (LPOVERLAPPED_COMPLETION_ROUTINE)io_cb, 0));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	ASSERT_NE(NULL, port);
	EXPECT_EQ(NULL, CreateThreadpoolIo(port, io_cb, NULL, NULL));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	ASSERT_EQ(0, sock_pair(SK_TCP4, other));
	ASSERT_EQ(port, CreateIoCompletionPort((HANDLE)(intptr_t)other[0],
					       port, 1, 0));
	EXPECT_EQ(NULL, CreateThreadpoolIo((HANDLE)(intptr_t)other[0], io_cb,
					   NULL, NULL));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_EQ(NULL, CreateThreadpoolIo((HANDLE)(intptr_t)other[1], NULL,
					   NULL, NULL));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	ASSERT_LE(0, udp);
	EXPECT_EQ(NULL, CreateThreadpoolIo((HANDLE)(intptr_t)udp, io_cb,
					   NULL, NULL));
	EXPECT_EQ(ERROR_NOT_SUPPORTED, GetLastError());
	EXPECT_FALSE(BindIoCompletionCallback((HANDLE)(intptr_t)other[1],
					      (LPOVERLAPPED_COMPLETION_ROUTINE)io_cb, 1));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	close(udp);
	closesocket(other[0]);
	close(other[1]);
	CloseHandle(port);
}

/* --- BindIoCompletionCallback ----------------------------------------------- */

static atomic_int bic_calls;
static DWORD bic_err, bic_bytes;
static LPOVERLAPPED bic_ov;

static VOID WINAPI bic_routine(DWORD err, DWORD bytes, LPOVERLAPPED ov)
{
	bic_err = err;
	bic_bytes = bytes;
	bic_ov = ov;
	atomic_fetch_add(&bic_calls, 1);
}

TEST(bind_io_completion_callback)
{
	OVERLAPPED ov = { 0 };
	char buf[16];
	WSABUF wb = { .len = sizeof(buf), .buf = buf };
	DWORD flags = 0, got = 0;
	int fds[2] = { -1, -1 };

	atomic_store(&bic_calls, 0);
	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	ASSERT_TRUE(BindIoCompletionCallback((HANDLE)(intptr_t)fds[0],
					     bic_routine, 0));
	/* Pending. */
	ASSERT_EQ(SOCKET_ERROR, WSARecv(fds[0], &wb, 1, NULL, &flags, &ov,
					NULL));
	ASSERT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(4, write(fds[1], "ping", 4));
	ASSERT_TRUE(wait_until(atomic_load(&bic_calls) == 1, PROGRESS_MS));
	EXPECT_EQ(0U, bic_err);
	EXPECT_EQ(4U, bic_bytes);
	EXPECT_EQ(&ov, bic_ov);
	/* At once: called back as well. */
	ASSERT_EQ(2, write(fds[1], "ab", 2));
	ASSERT_TRUE(readable(fds[0]));
	ASSERT_EQ(0, WSARecv(fds[0], &wb, 1, &got, &flags, &ov, NULL));
	EXPECT_EQ(2U, got);
	ASSERT_TRUE(wait_until(atomic_load(&bic_calls) == 2, PROGRESS_MS));
	EXPECT_EQ(2U, bic_bytes);
	/* Closing the socket aborts the pending one and ends the binding. */
	ASSERT_EQ(SOCKET_ERROR, WSARecv(fds[0], &wb, 1, NULL, &flags, &ov,
					NULL));
	ASSERT_EQ(0, closesocket(fds[0]));
	ASSERT_TRUE(wait_until(atomic_load(&bic_calls) == 3, PROGRESS_MS));
	EXPECT_EQ((DWORD)ERROR_OPERATION_ABORTED, bic_err);
	close(fds[1]);
}

/* --- An echo server ------------------------------------------------------------ */

#define CLIENTS		6
#define MAX_MSG		3000

struct conn {
	OVERLAPPED ov;		/* first: the callback's Overlapped is the conn */
	SOCKET s;
	PTP_IO io;
	bool sending;
	WSABUF wb;
	char buf[MAX_MSG];
};

struct server {
	SOCKET l;
	PTP_IO lio;
	TP_CALLBACK_ENVIRON env;
	OVERLAPPED aov;
	char addrs[2 * (sizeof(struct sockaddr_storage) + 16)];
	atomic_int accepted, closed, errors;
};

static struct server srv;

static void conn_close(struct conn *c, PTP_IO io)
{
	closesocket(c->s);
	CloseThreadpoolIo(io);
	free(c);
	atomic_fetch_add(&srv.closed, 1);
}

/* Start the next recv or send of @c from its callback. */
static void conn_next(struct conn *c)
{
	DWORD flags = 0;
	int ret;

	StartThreadpoolIo(c->io);
	if (c->sending)
		ret = WSASend(c->s, &c->wb, 1, NULL, 0, &c->ov, NULL);
	else
		ret = WSARecv(c->s, &c->wb, 1, NULL, &flags, &c->ov, NULL);
	if (ret == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING) {
		CancelThreadpoolIo(c->io);
		atomic_fetch_add(&srv.errors, 1);
		conn_close(c, c->io);
	}
}

static VOID CALLBACK conn_cb(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PVOID ov,
			     ULONG result, ULONG_PTR bytes, PTP_IO io)
{
	struct conn *c = ctx;

	if (ov != &c->ov || result || (!c->sending && !bytes)) {
		if (result || ov != &c->ov)
			atomic_fetch_add(&srv.errors, 1);
		conn_close(c, io);	/* error, or the client closed */
		return;
	}
	if (c->sending) {
		c->sending = false;
		c->wb.buf = c->buf;
		c->wb.len = sizeof(c->buf);
	} else {
		c->sending = true;
		c->wb.len = (ULONG)bytes;	/* echo what came */
	}
	conn_next(c);
}

static void accept_next(void);

static VOID CALLBACK accept_cb(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PVOID ov,
			       ULONG result, ULONG_PTR bytes, PTP_IO io)
{
	struct conn *c;

	if (result || ov != &srv.aov) {
		atomic_fetch_add(&srv.errors, result != ERROR_OPERATION_ABORTED);
		return;
	}
	c = calloc(1, sizeof(*c));
	c->s = (SOCKET)srv.aov.InternalHigh;
	c->wb.buf = c->buf;
	c->wb.len = sizeof(c->buf);
	c->io = CreateThreadpoolIo((HANDLE)c->s, conn_cb, c, &srv.env);
	if (!c->io) {
		atomic_fetch_add(&srv.errors, 1);
		closesocket(c->s);
		free(c);
	} else {
		conn_next(c);
	}
	if (atomic_fetch_add(&srv.accepted, 1) + 1 < CLIENTS)
		accept_next();
}

static void accept_next(void)
{
	DWORD got = 0;

	memset(&srv.aov, 0, sizeof(srv.aov));
	StartThreadpoolIo(srv.lio);
	if (!AcceptEx(srv.l, INVALID_SOCKET, srv.addrs, 0,
		      sizeof(srv.addrs) / 2, sizeof(srv.addrs) / 2, &got,
		      &srv.aov) && WSAGetLastError() != ERROR_IO_PENDING) {
		CancelThreadpoolIo(srv.lio);
		atomic_fetch_add(&srv.errors, 1);
	}
}

static void *client(void *arg)
{
	int seed = (int)(intptr_t)arg, fd, i, rounds = slow_kernel() ? 20 : 100;
	static char out[CLIENTS][MAX_MSG], in[CLIENTS][MAX_MSG];
	size_t off = 0;

	fd = sock_connect(srv.l);
	if (fd < 0)
		return (void *)1;
	for (i = 0; i < rounds; i++) {
		size_t len = 1 + (size_t)(pattern_byte(seed, i) * 11) % MAX_MSG;

		pattern_fill(out[seed], len, seed, off);
		if (write_full(fd, out[seed], len) ||
		    read_full(fd, in[seed], len) ||
		    pattern_check(in[seed], len, seed, off) != -1) {
			close(fd);
			return (void *)2;
		}
		off += len;
	}
	close(fd);
	return NULL;
}

TEST(echo_server)
{
	pthread_t t[CLIENTS];
	PTP_POOL pool;
	int i, base_fd;
	void *ret;

	memset(&srv, 0, sizeof(srv));
	base_fd = fd_count();
	pool = CreateThreadpool(NULL);
	ASSERT_NE(NULL, pool);
	SetThreadpoolThreadMaximum(pool, 4);
	InitializeThreadpoolEnvironment(&srv.env);
	SetThreadpoolCallbackPool(&srv.env, pool);
	srv.l = sock_listener(SK_TCP4);
	ASSERT_LE(0, (int)srv.l);
	srv.lio = CreateThreadpoolIo((HANDLE)srv.l, accept_cb, NULL, &srv.env);
	ASSERT_NE(NULL, srv.lio);
	accept_next();
	for (i = 0; i < CLIENTS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, client,
					    (void *)(intptr_t)i));
	for (i = 0; i < CLIENTS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret) TH_LOG("client %d", i);
	}
	EXPECT_TRUE(wait_until(atomic_load(&srv.closed) == CLIENTS,
			       PROGRESS_MS));
	EXPECT_EQ(CLIENTS, atomic_load(&srv.accepted));
	EXPECT_EQ(0, atomic_load(&srv.errors));
	WaitForThreadpoolIoCallbacks(srv.lio, FALSE);
	CloseThreadpoolIo(srv.lio);
	closesocket(srv.l);
	CloseThreadpool(pool);
	/* The last binding may go after the pool's close: it follows then. */
	EXPECT_TRUE(wait_until(fd_count() == base_fd, PROGRESS_MS));
}

TEST_HARNESS_MAIN
