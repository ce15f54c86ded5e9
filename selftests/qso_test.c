// SPDX-License-Identifier: GPL-2.0
/*
 * The IBM i Qso* layer (libcport/qsoasync.h): every call, its 1/0/-1
 * returns and errno values; postFlag 0 and 1 with immediate and pending
 * completions and postFlagResult; fillBuffer; operationWaitTime as a
 * per-operation time limit and as a delayed post; cancel by socket and
 * operationId, operation ids generated and checked for pending; destroy
 * under a waiting thread; bad inputs; a socket moved
 * between ports; an area reused while its operation is pending; and the
 * echo flow of IBM's example (examples/qso_echo.c) end to end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include "qsoasync.h"
#include "sock_util.h"
#include "kselftest_harness.h"

/* A zeroed area, as IBM's examples make them (memset, then fields). */
static Qso_OverlappedIO_t area(void *handle, void *buf, size_t len,
			       int post_flag)
{
	Qso_OverlappedIO_t a;

	memset(&a, 0, sizeof(a));
	a.descriptorHandle = handle;
	a.buffer = buf;
	a.bufferLength = len;
	a.postFlag = post_flag;
	return a;
}

/* QsoWaitForIOCompletion() with a limit of @ms milliseconds. */
static int qwait(int port, Qso_OverlappedIO_t *a, int ms)
{
	struct timeval tv = {
		.tv_sec = ms / 1000,
		.tv_usec = (ms % 1000) * 1000,
	};

	return QsoWaitForIOCompletion(port, a, &tv);
}

/* Nothing completes on @port within @ms (the wait returns 0). */
static bool qnone(int port, int ms)
{
	Qso_OverlappedIO_t a;

	return qwait(port, &a, ms) == 0;
}

/* Write @s to @fd (a recv may be pending on the peer). */
static void put(int fd, const char *s)
{
	write_full(fd, s, strlen(s));
}

/* Write @s to @fd and wait until @peer has it queued (no recv pending). */
static void say(int fd, int peer, const char *s)
{
	put(fd, s);
	readable(peer);
}

FIXTURE(qso) {
	int port;
	int fds[2];		/* [0] the server end, [1] the client end */
	char buf[256];
	Qso_OverlappedIO_t cs;	/* a completion */
};

FIXTURE_SETUP(qso)
{
	self->port = QsoCreateIOCompletionPort();
	ASSERT_LE(0, self->port) {
		TH_LOG("QsoCreateIOCompletionPort: %s", strerror(errno));
	}
	ASSERT_EQ(0, sock_pair(SK_TCP4, self->fds));
	memset(self->buf, 0, sizeof(self->buf));
	memset(&self->cs, 0x5a, sizeof(self->cs));
}

FIXTURE_TEARDOWN(qso)
{
	QsoCancelOperation(self->fds[0], 0);
	QsoDestroyIOCompletionPort(self->port);
	close(self->fds[0]);
	close(self->fds[1]);
}

/* ------------------------------------------------------------------ */
/* Ports                                                                */

TEST(create_destroy)
{
	Qso_OverlappedIO_t a = area(NULL, NULL, 0, 0);
	char b[4];
	int p = QsoCreateIOCompletionPort(), fds[2] = { -1, -1 };

	ASSERT_LE(0, p);
	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	EXPECT_EQ(0, QsoDestroyIOCompletionPort(p));

	/* A destroyed port is not a valid port any more. */
	errno = 0;
	EXPECT_EQ(-1, QsoDestroyIOCompletionPort(p));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, qwait(p, &a, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, QsoPostIOCompletion(p, &a));
	EXPECT_EQ(EINVAL, errno);
	a = area(NULL, b, sizeof(b), 0);
	errno = 0;
	EXPECT_EQ(-1, QsoStartRecv(fds[0], p, &a));
	EXPECT_EQ(EINVAL, errno);

	/* Never a port: negative, unknown, or a descriptor of another kind. */
	errno = 0;
	EXPECT_EQ(-1, QsoDestroyIOCompletionPort(-1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, QsoDestroyIOCompletionPort(100000));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, qwait(fds[0], &a, 0));
	EXPECT_EQ(EINVAL, errno);
	close(fds[0]);
	close(fds[1]);
}

/* IBM i's limit: 256 ports per process, then ENOBUFS. */
TEST(port_limit)
{
	int ports[QSO_MAX_IOCOMPLETIONPORTS], i, p;

	for (i = 0; i < QSO_MAX_IOCOMPLETIONPORTS; i++) {
		ports[i] = QsoCreateIOCompletionPort();
		ASSERT_LE(0, ports[i]) {
			TH_LOG("port %d: %s", i, strerror(errno));
		}
	}
	errno = 0;
	EXPECT_EQ(-1, QsoCreateIOCompletionPort());
	EXPECT_EQ(ENOBUFS, errno);
	EXPECT_EQ(0, QsoDestroyIOCompletionPort(ports[0]));
	p = QsoCreateIOCompletionPort();
	EXPECT_LE(0, p);
	ports[0] = p;
	for (i = 0; i < QSO_MAX_IOCOMPLETIONPORTS; i++)
		EXPECT_EQ(0, QsoDestroyIOCompletionPort(ports[i]));
}

/* ------------------------------------------------------------------ */
/* QsoPostIOCompletion, QsoWaitForIOCompletion                         */

TEST_F(qso, post_then_wait)
{
	Qso_OverlappedIO_t a = area((void *)0x1234, (void *)0x5678, 99, 1);
	int i;

	a.fillBuffer = 1;
	a.operationId = 77;
	a.returnValue = 55;		/* output fields: ignored */
	a.errnoValue = 5;
	EXPECT_EQ(0, QsoPostIOCompletion(self->port, &a));
	EXPECT_EQ(0, a.returnValue);
	EXPECT_EQ(0, a.errnoValue);

	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ((void *)0x1234, self->cs.descriptorHandle);
	EXPECT_EQ((void *)0x5678, self->cs.buffer);
	EXPECT_EQ(99, self->cs.bufferLength);
	EXPECT_EQ(1, (int)self->cs.postFlag);
	EXPECT_EQ(1, (int)self->cs.fillBuffer);
	EXPECT_EQ(0, (int)self->cs.postFlagResult);
	EXPECT_EQ(0, self->cs.returnValue);
	EXPECT_EQ(0, self->cs.errnoValue);
	EXPECT_EQ(QSOPOSTIOCOMPLETION, self->cs.operationCompleted);
	EXPECT_EQ(77, self->cs.operationId);
	EXPECT_EQ(0, self->cs.secureDataTransferSize);
	EXPECT_EQ(0, self->cs.bytesAvailable);
	EXPECT_TRUE(qnone(self->port, 0));

	/* Queue order, and the area may change right after the call. */
	for (i = 0; i < 5; i++) {
		a.descriptorHandle = (void *)(long)(i + 1);
		ASSERT_EQ(0, QsoPostIOCompletion(self->port, &a));
	}
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(1, qwait(self->port, &self->cs, 0));
		EXPECT_EQ((void *)(long)(i + 1), self->cs.descriptorHandle);
	}
	EXPECT_TRUE(qnone(self->port, 0));
}

TEST_F(qso, wait_timeouts_and_errors)
{
	struct timeval tv = { 0, 0 };
	long long start;

	/* Zero: a poll.  A limit: not before it. */
	EXPECT_EQ(0, QsoWaitForIOCompletion(self->port, &self->cs, &tv));
	start = now_ns();
	EXPECT_EQ(0, qwait(self->port, &self->cs, 100));
	EXPECT_LE(100 * NSEC_PER_MSEC, now_ns() - start);

	tv.tv_usec = 1000000;
	errno = 0;
	EXPECT_EQ(-1, QsoWaitForIOCompletion(self->port, &self->cs, &tv));
	EXPECT_EQ(EINVAL, errno);
	tv.tv_sec = -1;
	tv.tv_usec = 0;
	errno = 0;
	EXPECT_EQ(-1, QsoWaitForIOCompletion(self->port, &self->cs, &tv));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, QsoWaitForIOCompletion(self->port, NULL, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, QsoWaitForIOCompletion(-1, &self->cs, NULL));
	EXPECT_EQ(EINVAL, errno);
}

struct poster {
	int port;
	pid_t waiter;
	int ret;
};

static void *post_when_asleep(void *arg)
{
	struct poster *ps = arg;
	Qso_OverlappedIO_t a = area((void *)7, NULL, 0, 0);

	if (!task_wait_sleeping(ps->waiter))
		ps->ret = -2;
	else
		ps->ret = QsoPostIOCompletion(ps->port, &a);
	return NULL;
}

/* timeToWait NULL: no limit; a post wakes the waiter. */
TEST_F(qso, wait_forever_woken_by_post)
{
	struct poster ps = { .port = self->port, .waiter = sys_gettid() };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, post_when_asleep, &ps));
	EXPECT_EQ(1, QsoWaitForIOCompletion(self->port, &self->cs, NULL));
	pthread_join(t, NULL);
	EXPECT_EQ(0, ps.ret);
	EXPECT_EQ((void *)7, self->cs.descriptorHandle);
	EXPECT_EQ(QSOPOSTIOCOMPLETION, self->cs.operationCompleted);
}

static void on_signal(int sig)
{
}

struct interrupted {
	int port;
	pid_t tid;
	int ret, err;
};

static void *wait_interrupted_fn(void *arg)
{
	struct interrupted *w = arg;
	Qso_OverlappedIO_t cs;

	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	w->ret = QsoWaitForIOCompletion(w->port, &cs, NULL);
	w->err = errno;
	return NULL;
}

/* A signal (without SA_RESTART) interrupts a wait: -1, EINTR. */
TEST_F(qso, wait_interrupted)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct interrupted w = { .port = self->port };
	pthread_t t;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_interrupted_fn, &w));
	ASSERT_TRUE(wait_until(__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE),
			       PROGRESS_MS));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	EXPECT_EQ(-1, w.ret);
	EXPECT_EQ(EINTR, w.err);
	/* The port still works. */
	EXPECT_TRUE(qnone(self->port, 0));
}

/* operationWaitTime on a post: posted that much later, with EAGAIN. */
TEST_F(qso, delayed_post)
{
	Qso_OverlappedIO_t a = area((void *)0x42, NULL, 0, 0);
	long long start = now_ns();

	a.operationWaitTime.tv_usec = 200000;
	ASSERT_EQ(0, QsoPostIOCompletion(self->port, &a));
	EXPECT_TRUE(qnone(self->port, 0));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_LE(200 * NSEC_PER_MSEC, now_ns() - start);
	EXPECT_EQ((void *)0x42, self->cs.descriptorHandle);
	EXPECT_EQ(QSOPOSTIOCOMPLETION, self->cs.operationCompleted);
	EXPECT_EQ(-1, self->cs.returnValue);
	EXPECT_EQ(EAGAIN, self->cs.errnoValue);

	/* IBM's form: whole seconds, tv_usec 0. */
	a.operationWaitTime.tv_sec = 1;
	a.operationWaitTime.tv_usec = 0;
	start = now_ns();
	ASSERT_EQ(0, QsoPostIOCompletion(self->port, &a));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_LE(NSEC_PER_SEC, now_ns() - start);
	EXPECT_EQ(EAGAIN, self->cs.errnoValue);

	/* Destroy discards a delayed post that has not fired. */
	a.operationWaitTime.tv_sec = 60;
	ASSERT_EQ(0, QsoPostIOCompletion(self->port, &a));
}

TEST_F(qso, post_bad_inputs)
{
	Qso_OverlappedIO_t a = area(NULL, NULL, 0, 0);

	errno = 0;
	EXPECT_EQ(-1, QsoPostIOCompletion(self->port, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, QsoPostIOCompletion(-1, &a));
	EXPECT_EQ(EINVAL, errno);
	a.operationWaitTime.tv_usec = 1000000;
	errno = 0;
	EXPECT_EQ(-1, QsoPostIOCompletion(self->port, &a));
	EXPECT_EQ(EINVAL, errno);
	a.operationWaitTime.tv_usec = 0;
	a.operationWaitTime.tv_sec = -1;
	errno = 0;
	EXPECT_EQ(-1, QsoPostIOCompletion(self->port, &a));
	EXPECT_EQ(EINVAL, errno);
	a.operationWaitTime.tv_sec = 0;
	a.reserved1 = 1;
	errno = 0;
	EXPECT_EQ(-1, QsoPostIOCompletion(self->port, &a));
	EXPECT_EQ(EINVAL, errno);
	a.reserved1 = 0;
	a.reserved3[31] = 1;
	errno = 0;
	EXPECT_EQ(-1, QsoPostIOCompletion(self->port, &a));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing was posted by the failed calls. */
	EXPECT_TRUE(qnone(self->port, 0));
}

/* ------------------------------------------------------------------ */
/* QsoStartRecv: postFlag, postFlagResult, fillBuffer, time limit      */

/* postFlag 0, data there: 0, the result in the area, nothing posted. */
TEST_F(qso, recv_immediate_not_posted)
{
	Qso_OverlappedIO_t a = area((void *)1, self->buf, 16, 0);

	say(self->fds[1], self->fds[0], "hello");
	ASSERT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(5, a.returnValue);
	EXPECT_EQ(0, a.errnoValue);
	EXPECT_EQ(0, (int)a.postFlagResult);
	EXPECT_EQ(0, memcmp(self->buf, "hello", 5));
	EXPECT_TRUE(qnone(self->port, 50));
}

/* postFlag 0, no data yet: 1, then the completion. */
TEST_F(qso, recv_pending_posted)
{
	Qso_OverlappedIO_t a = area((void *)2, self->buf, 16, 0);

	a.operationId = 9;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(0, (int)a.postFlagResult);
	EXPECT_TRUE(qnone(self->port, 50));
	put(self->fds[1], "abc");
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(QSOSTARTRECV, self->cs.operationCompleted);
	EXPECT_EQ(3, self->cs.returnValue);
	EXPECT_EQ(0, self->cs.errnoValue);
	EXPECT_EQ((void *)2, self->cs.descriptorHandle);
	EXPECT_EQ((void *)self->buf, self->cs.buffer);
	EXPECT_EQ(16, self->cs.bufferLength);
	EXPECT_EQ(0, (int)self->cs.postFlag);
	EXPECT_EQ(9, self->cs.operationId);
	EXPECT_EQ(0, memcmp(self->buf, "abc", 3));
}

/* postFlag 1, data there: 1 with postFlagResult 1, and it is posted. */
TEST_F(qso, recv_immediate_postflag)
{
	Qso_OverlappedIO_t a = area((void *)3, self->buf, 16, 1);

	say(self->fds[1], self->fds[0], "xyz!");
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(1, (int)a.postFlagResult);
	ASSERT_EQ(1, qwait(self->port, &self->cs, 0));
	EXPECT_EQ(QSOSTARTRECV, self->cs.operationCompleted);
	EXPECT_EQ(4, self->cs.returnValue);
	EXPECT_EQ(0, self->cs.errnoValue);
	EXPECT_EQ((void *)3, self->cs.descriptorHandle);
	EXPECT_EQ(1, (int)self->cs.postFlag);
	EXPECT_EQ(0, memcmp(self->buf, "xyz!", 4));
	EXPECT_TRUE(qnone(self->port, 0));
}

/* postFlag 1, no data: 1 with postFlagResult 0, then the completion. */
TEST_F(qso, recv_pending_postflag)
{
	Qso_OverlappedIO_t a = area((void *)4, self->buf, 16, 1);

	a.postFlagResult = 1;		/* output: overwritten */
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(0, (int)a.postFlagResult);
	put(self->fds[1], "12");
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(2, self->cs.returnValue);
	EXPECT_EQ((void *)4, self->cs.descriptorHandle);
}

TEST_F(qso, recv_fill_buffer)
{
	Qso_OverlappedIO_t a = area(NULL, self->buf, 10, 0);

	a.fillBuffer = 1;
	say(self->fds[1], self->fds[0], "0123");
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_TRUE(qnone(self->port, 100));
	put(self->fds[1], "456789ab");
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(10, self->cs.returnValue);
	EXPECT_EQ(1, (int)self->cs.fillBuffer);
	EXPECT_EQ(0, memcmp(self->buf, "0123456789", 10));

	/* Without it: whatever is there ("ab"). */
	a.fillBuffer = 0;
	ASSERT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(2, a.returnValue);

	/* With it, end of file completes it with what came. */
	a.fillBuffer = 1;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	put(self->fds[1], "cde");
	shutdown(self->fds[1], SHUT_WR);
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(3, self->cs.returnValue);
	EXPECT_EQ(0, self->cs.errnoValue);
}

TEST_F(qso, recv_end_of_file)
{
	Qso_OverlappedIO_t a = area(NULL, self->buf, 16, 0);

	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	shutdown(self->fds[1], SHUT_WR);
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(0, self->cs.returnValue);
	EXPECT_EQ(0, self->cs.errnoValue);
	/* Once at EOF, a recv completes at once with 0. */
	EXPECT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(0, a.returnValue);
}

/* operationWaitTime on a recv: completes with EAGAIN when it expires. */
TEST_F(qso, recv_time_limit)
{
	Qso_OverlappedIO_t a = area((void *)5, self->buf, 10, 0);
	long long start = now_ns();

	a.operationWaitTime.tv_usec = 100000;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_LE(100 * NSEC_PER_MSEC, now_ns() - start);
	EXPECT_EQ(QSOSTARTRECV, self->cs.operationCompleted);
	EXPECT_EQ(-1, self->cs.returnValue);
	EXPECT_EQ(EAGAIN, self->cs.errnoValue);
	EXPECT_EQ((void *)5, self->cs.descriptorHandle);

	/* fillBuffer and part of the data: the bytes are reported. */
	a.fillBuffer = 1;
	say(self->fds[1], self->fds[0], "abcd");
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(4, self->cs.returnValue);
	EXPECT_EQ(EAGAIN, self->cs.errnoValue);
	EXPECT_EQ(0, memcmp(self->buf, "abcd", 4));

	/* In time: no timeout. */
	a.fillBuffer = 0;
	a.operationWaitTime.tv_sec = 30;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	put(self->fds[1], "ok");
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(2, self->cs.returnValue);
	EXPECT_EQ(0, self->cs.errnoValue);
}

/* A buffer that faults when the data is copied: EFAULT, data kept. */
TEST_F(qso, recv_faulting_buffer)
{
	void *bad = fault_page();
	Qso_OverlappedIO_t a = area(NULL, bad, 64, 0);

	ASSERT_NE(NULL, bad);
	say(self->fds[1], self->fds[0], "kept");
	ASSERT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(-1, a.returnValue);
	EXPECT_EQ(EFAULT, a.errnoValue);
	a = area(NULL, self->buf, 16, 0);
	ASSERT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(4, a.returnValue);
	munmap(bad, getpagesize());
}

/* TCP over IPv6 as on IBM i, and unix stream sockets (an extension). */
TEST(other_socket_kinds)
{
	static const enum sock_kind kinds[] = { SK_TCP6, SK_UNIX };
	int port = QsoCreateIOCompletionPort(), fds[2] = { -1, -1 }, i;
	char buf[8];
	Qso_OverlappedIO_t a = area((void *)9, buf, sizeof(buf), 0), cs;

	ASSERT_LE(0, port);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, sock_pair(kinds[i], fds)) {
			TH_LOG("%s pair", sock_kind_name(kinds[i]));
		}
		ASSERT_EQ(1, QsoStartRecv(fds[0], port, &a));
		put(fds[1], "v6ux");
		ASSERT_EQ(1, qwait(port, &cs, PROGRESS_MS));
		EXPECT_EQ(4, cs.returnValue);
		EXPECT_EQ((void *)9, cs.descriptorHandle);
		a.buffer = "back";
		a.bufferLength = 4;
		EXPECT_EQ(0, QsoStartSend(fds[0], port, &a));
		EXPECT_EQ(4, a.returnValue);
		EXPECT_EQ(0, read_full(fds[1], buf, 4));
		a.buffer = buf;
		a.bufferLength = sizeof(buf);
		close(fds[0]);
		close(fds[1]);
	}
	EXPECT_EQ(0, QsoDestroyIOCompletionPort(port));
}

/* ------------------------------------------------------------------ */
/* QsoStartSend                                                         */

TEST_F(qso, send_immediate)
{
	Qso_OverlappedIO_t a = area((void *)6, "ping", 4, 0);
	char got[8];

	ASSERT_EQ(0, QsoStartSend(self->fds[0], self->port, &a));
	EXPECT_EQ(4, a.returnValue);
	EXPECT_EQ(0, a.errnoValue);
	ASSERT_EQ(0, read_full(self->fds[1], got, 4));
	EXPECT_EQ(0, memcmp(got, "ping", 4));
	EXPECT_TRUE(qnone(self->port, 0));

	a.postFlag = 1;
	ASSERT_EQ(1, QsoStartSend(self->fds[0], self->port, &a));
	EXPECT_EQ(1, (int)a.postFlagResult);
	ASSERT_EQ(1, qwait(self->port, &self->cs, 0));
	EXPECT_EQ(QSOSTARTSEND, self->cs.operationCompleted);
	EXPECT_EQ(4, self->cs.returnValue);
	EXPECT_EQ((void *)6, self->cs.descriptorHandle);
	ASSERT_EQ(0, read_full(self->fds[1], got, 4));
}

struct reader {
	int fd;
	size_t len;
	long bad;
	int ret;
};

static void *read_pattern(void *arg)
{
	struct reader *r = arg;
	char *b = malloc(r->len);

	r->ret = b ? read_full(r->fd, b, r->len) : -ENOMEM;
	r->bad = b ? pattern_check(b, r->len, 3, 0) : 0;
	free(b);
	return NULL;
}

/* A send larger than the socket buffers: pending, whole when posted. */
TEST_F(qso, send_pending)
{
	size_t len = 1 << 20;
	char *big = malloc(len);
	int small = 16384;
	Qso_OverlappedIO_t a = area((void *)8, big, len, 0);
	struct reader r = { .fd = self->fds[1], .len = len };
	pthread_t t;

	ASSERT_NE(NULL, big);
	pattern_fill(big, len, 3, 0);
	setsockopt(self->fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(self->fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ASSERT_EQ(1, QsoStartSend(self->fds[0], self->port, &a));
	EXPECT_EQ(0, (int)a.postFlagResult);
	ASSERT_EQ(0, pthread_create(&t, NULL, read_pattern, &r));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	pthread_join(t, NULL);
	EXPECT_EQ(QSOSTARTSEND, self->cs.operationCompleted);
	EXPECT_EQ((int)len, self->cs.returnValue);
	EXPECT_EQ(0, self->cs.errnoValue);
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(-1, r.bad);
	free(big);
}

/* ------------------------------------------------------------------ */
/* QsoStartAccept                                                       */

/* The accepted descriptor is a connected socket: check it carries data. */
static bool connected_pair(int a, int b)
{
	char c = 0;

	return write(a, "!", 1) == 1 && read(b, &c, 1) == 1 && c == '!';
}

TEST(accept_immediate_and_pending)
{
	int port = QsoCreateIOCompletionPort();
	int l = sock_listener(SK_TCP4), c1, c2, c3;
	char b[8];
	Qso_OverlappedIO_t a = area((void *)11, b, sizeof(b), 0), cs;

	ASSERT_LE(0, port);
	ASSERT_LE(0, l);

	/* A connection waiting: 0, the new descriptor in returnValue. */
	c1 = sock_connect(l);
	ASSERT_LE(0, c1);
	ASSERT_EQ(0, QsoStartAccept(l, port, &a));
	ASSERT_LE(0, a.returnValue);
	EXPECT_EQ(0, a.errnoValue);
	EXPECT_TRUE(connected_pair(c1, a.returnValue));
	close(a.returnValue);

	/* None waiting: 1, then posted; IBM returns no buffer for it. */
	ASSERT_EQ(1, QsoStartAccept(l, port, &a));
	c2 = sock_connect(l);
	ASSERT_LE(0, c2);
	ASSERT_EQ(1, qwait(port, &cs, PROGRESS_MS));
	EXPECT_EQ(QSOSTARTACCEPT, cs.operationCompleted);
	EXPECT_EQ((void *)11, cs.descriptorHandle);
	EXPECT_EQ(NULL, cs.buffer);
	EXPECT_EQ(0, cs.bufferLength);
	ASSERT_LE(0, cs.returnValue);
	EXPECT_EQ(0, cs.errnoValue);
	EXPECT_TRUE(connected_pair(c2, cs.returnValue));
	close(cs.returnValue);

	/* postFlag 1 with a connection waiting: posted, postFlagResult 1. */
	c3 = sock_connect(l);
	ASSERT_LE(0, c3);
	a.postFlag = 1;
	ASSERT_EQ(1, QsoStartAccept(l, port, &a));
	EXPECT_EQ(1, (int)a.postFlagResult);
	ASSERT_EQ(1, qwait(port, &cs, 0));
	ASSERT_LE(0, cs.returnValue);
	EXPECT_TRUE(connected_pair(c3, cs.returnValue));
	close(cs.returnValue);

	/* operationWaitTime: no connection in time, EAGAIN. */
	a.postFlag = 0;
	a.operationWaitTime.tv_usec = 100000;
	ASSERT_EQ(1, QsoStartAccept(l, port, &a));
	ASSERT_EQ(1, qwait(port, &cs, PROGRESS_MS));
	EXPECT_EQ(QSOSTARTACCEPT, cs.operationCompleted);
	EXPECT_EQ(-1, cs.returnValue);
	EXPECT_EQ(EAGAIN, cs.errnoValue);

	EXPECT_EQ(0, QsoDestroyIOCompletionPort(port));
	close(c1);
	close(c2);
	close(c3);
	close(l);
}

/* An accept completed at once and posted, then discarded by destroy:
 * its connection is closed, not leaked (the peer sees end of file). */
TEST(accept_posted_then_destroyed)
{
	int port = QsoCreateIOCompletionPort();
	int l = sock_listener(SK_TCP4), c;
	Qso_OverlappedIO_t a = area(NULL, NULL, 0, 1);
	char b;

	ASSERT_LE(0, port);
	ASSERT_LE(0, l);
	c = sock_connect(l);
	ASSERT_LE(0, c);
	ASSERT_EQ(1, QsoStartAccept(l, port, &a));
	EXPECT_EQ(1, (int)a.postFlagResult);
	EXPECT_EQ(0, QsoDestroyIOCompletionPort(port));
	EXPECT_EQ(0, read(c, &b, 1));
	close(c);
	close(l);
}

/* ------------------------------------------------------------------ */
/* QsoCancelOperation                                                   */

TEST_F(qso, cancel)
{
	Qso_OverlappedIO_t a = area((void *)20, self->buf, 16, 0);
	char other[16];
	int pfd[2];

	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(1, QsoCancelOperation(self->fds[0], 0));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(QSOSTARTRECV, self->cs.operationCompleted);
	EXPECT_EQ(-1, self->cs.returnValue);
	EXPECT_EQ(ECANCELED, self->cs.errnoValue);
	EXPECT_EQ((void *)20, self->cs.descriptorHandle);
	/* Nothing pending any more. */
	EXPECT_EQ(0, QsoCancelOperation(self->fds[0], 0));
	EXPECT_TRUE(qnone(self->port, 0));

	/* By operationId: only the matching one. */
	a.operationId = 7;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	a = area((void *)21, other, sizeof(other), 0);
	a.operationId = 8;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(0, QsoCancelOperation(self->fds[0], 9));
	EXPECT_EQ(1, QsoCancelOperation(self->fds[0], 8));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ((void *)21, self->cs.descriptorHandle);
	EXPECT_EQ(ECANCELED, self->cs.errnoValue);
	EXPECT_EQ(8, self->cs.operationId);
	put(self->fds[1], "still");
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ((void *)20, self->cs.descriptorHandle);
	EXPECT_EQ(5, self->cs.returnValue);
	EXPECT_EQ(7, self->cs.operationId);

	/* Several at once: the count. */
	a = area(NULL, self->buf, 4, 0);
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	a.buffer = other;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(2, QsoCancelOperation(self->fds[0], 0));
	EXPECT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));

	/* Bad descriptors. */
	errno = 0;
	EXPECT_EQ(-1, QsoCancelOperation(-1, 0));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, pipe(pfd));
	errno = 0;
	EXPECT_EQ(-1, QsoCancelOperation(pfd[0], 0));
	EXPECT_EQ(ENOTSOCK, errno);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * QsoGenerateOperationId: new, non-zero ids; QsoIsOperationPending: 1 from
 * the start until the completion is returned, for that id on that socket
 * only.
 */
TEST_F(qso, operation_ids)
{
	unsigned long long id1, id2, id3;
	Qso_OverlappedIO_t a;
	int pfd[2];

	id1 = QsoGenerateOperationId(self->fds[0]);
	id2 = QsoGenerateOperationId(self->fds[0]);
	id3 = QsoGenerateOperationId(self->fds[1]);
	EXPECT_NE(0, id1);
	EXPECT_NE(0, id2);
	EXPECT_NE(id1, id2);
	EXPECT_NE(id2, id3);
	EXPECT_NE(id1, id3);

	EXPECT_EQ(0, QsoIsOperationPending(self->fds[0], id1));
	a = area((void *)30, self->buf, 16, 0);
	a.operationId = id1;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(1, QsoIsOperationPending(self->fds[0], id1));
	EXPECT_EQ(0, QsoIsOperationPending(self->fds[0], id2));
	EXPECT_EQ(0, QsoIsOperationPending(self->fds[1], id1));
	/* Completed but not returned yet: still pending (see qsoasync.h). */
	put(self->fds[1], "id");
	EXPECT_EQ(1, QsoIsOperationPending(self->fds[0], id1));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(id1, self->cs.operationId);
	EXPECT_EQ(2, self->cs.returnValue);
	EXPECT_EQ(0, QsoIsOperationPending(self->fds[0], id1));

	/* Cancelled, then returned: no longer pending. */
	a.operationId = id2;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(1, QsoIsOperationPending(self->fds[0], id2));
	EXPECT_EQ(1, QsoCancelOperation(self->fds[0], id2));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(ECANCELED, self->cs.errnoValue);
	EXPECT_EQ(0, QsoIsOperationPending(self->fds[0], id2));

	/* Completed at once and not posted: never pending. */
	say(self->fds[1], self->fds[0], "now");
	a.operationId = id3;
	EXPECT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(3, a.returnValue);
	EXPECT_EQ(0, QsoIsOperationPending(self->fds[0], id3));
	EXPECT_TRUE(qnone(self->port, 0));
	/* Completed at once but posted (postFlag 1): pending until returned. */
	say(self->fds[1], self->fds[0], "pf");
	a = area((void *)31, self->buf, 16, 1);
	a.operationId = id3;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(1, (int)a.postFlagResult);
	EXPECT_EQ(1, QsoIsOperationPending(self->fds[0], id3));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(id3, self->cs.operationId);
	EXPECT_EQ(2, self->cs.returnValue);
	EXPECT_EQ(0, QsoIsOperationPending(self->fds[0], id3));

	/* Bad descriptors. */
	errno = 0;
	EXPECT_EQ(0, QsoGenerateOperationId(-1));
	EXPECT_EQ(EBADF, errno);
	errno = 0;
	EXPECT_EQ(-1, QsoIsOperationPending(-1, id1));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, pipe(pfd));
	errno = 0;
	EXPECT_EQ(0, QsoGenerateOperationId(pfd[0]));
	EXPECT_EQ(ENOTSOCK, errno);
	errno = 0;
	EXPECT_EQ(-1, QsoIsOperationPending(pfd[0], id1));
	EXPECT_EQ(ENOTSOCK, errno);
	close(pfd[0]);
	close(pfd[1]);
}

/* Cancelling a fill-mode recv reports the bytes it had received. */
TEST_F(qso, cancel_reports_bytes)
{
	Qso_OverlappedIO_t a = area(NULL, self->buf, 10, 0);

	a.fillBuffer = 1;
	say(self->fds[1], self->fds[0], "abc");
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_TRUE(qnone(self->port, 50));
	EXPECT_EQ(1, QsoCancelOperation(self->fds[0], 0));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(3, self->cs.returnValue);
	EXPECT_EQ(ECANCELED, self->cs.errnoValue);
	EXPECT_EQ(0, memcmp(self->buf, "abc", 3));
}

/* ------------------------------------------------------------------ */
/* QsoDestroyIOCompletionPort under waiters and pending operations     */

struct qwaiter {
	int port;
	pid_t tid;
	int ret, err;
};

static void *qwaiter_fn(void *arg)
{
	struct qwaiter *w = arg;
	Qso_OverlappedIO_t cs;

	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	w->ret = QsoWaitForIOCompletion(w->port, &cs, NULL);
	w->err = errno;
	return NULL;
}

TEST_F(qso, destroy_while_waiting)
{
	struct qwaiter w[2] = {
		{ .port = self->port }, { .port = self->port },
	};
	Qso_OverlappedIO_t a = area(NULL, self->buf, 16, 0);
	pthread_t t[2];
	int i, port2;

	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_create(&t[i], NULL, qwaiter_fn, &w[i]));
		ASSERT_TRUE(wait_until(__atomic_load_n(&w[i].tid,
						       __ATOMIC_ACQUIRE),
				       PROGRESS_MS));
		ASSERT_TRUE(task_wait_sleeping(w[i].tid));
	}
	EXPECT_EQ(0, QsoDestroyIOCompletionPort(self->port));
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(-1, w[i].ret);
		EXPECT_EQ(EDESTROYED, w[i].err);
	}

	/* The socket's pending recv went with the port; a new port can
	 * use the socket. */
	port2 = QsoCreateIOCompletionPort();
	ASSERT_LE(0, port2);
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], port2, &a));
	put(self->fds[1], "new");
	ASSERT_EQ(1, qwait(port2, &self->cs, PROGRESS_MS));
	EXPECT_EQ(3, self->cs.returnValue);
	self->port = port2;
}

/* ------------------------------------------------------------------ */
/* Bad inputs to the start calls                                        */

TEST_F(qso, start_bad_inputs)
{
	Qso_OverlappedIO_t a = area(NULL, self->buf, 16, 0);
	int pfd[2], udp, fd;

#define EXPECT_START_FAILS(call, err) do {			\
		errno = 0;					\
		EXPECT_EQ(-1, call);				\
		EXPECT_EQ(err, errno);				\
	} while (0)

	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], -1, &a), EINVAL);
	EXPECT_START_FAILS(QsoStartSend(self->fds[0], 99999, &a), EINVAL);
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, NULL),
			   EFAULT);
	EXPECT_START_FAILS(QsoStartAccept(self->fds[0], self->port, NULL),
			   EFAULT);
	EXPECT_START_FAILS(QsoStartRecv(-1, self->port, &a), EBADF);
	fd = dup(self->fds[0]);
	close(fd);
	EXPECT_START_FAILS(QsoStartSend(fd, self->port, &a), EBADF);
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_START_FAILS(QsoStartRecv(pfd[0], self->port, &a), ENOTSOCK);
	close(pfd[0]);
	close(pfd[1]);
	/* A socket that cannot be associated (netlink). */
	udp = socket(AF_NETLINK, SOCK_DGRAM, 0);
	ASSERT_LE(0, udp);
	EXPECT_START_FAILS(QsoStartRecv(udp, self->port, &a), EOPNOTSUPP);
	close(udp);
	/* Accept on a connected (not listening) socket. */
	EXPECT_START_FAILS(QsoStartAccept(self->fds[0], self->port, &a),
			   EINVAL);

	/* Reserved fields, time limits. */
	a.reserved1 = 4;
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, &a), EINVAL);
	a.reserved1 = 0;
	a.reserved2 = 1;
	EXPECT_START_FAILS(QsoStartSend(self->fds[0], self->port, &a), EINVAL);
	a.reserved2 = 0;
	a.reserved3[0] = 1;
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, &a), EINVAL);
	a.reserved3[0] = 0;
	a.operationWaitTime.tv_usec = -1;
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, &a), EINVAL);
	a.operationWaitTime.tv_usec = 0;
	a.operationWaitTime.tv_sec = -5;
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, &a), EINVAL);
	a.operationWaitTime.tv_sec = 0;

	/* A buffer that is not a user address at all. */
	a.buffer = (void *)(-8192L);
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, &a), EFAULT);
	EXPECT_START_FAILS(QsoStartSend(self->fds[0], self->port, &a), EFAULT);
	/* No buffer: no zero-byte recv here (0 means end of file). */
	a = area(NULL, NULL, 0, 0);
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, &a), EINVAL);
	a = area(NULL, self->buf, 0, 0);
	a.fillBuffer = 1;
	EXPECT_START_FAILS(QsoStartRecv(self->fds[0], self->port, &a), EINVAL);

	/* No failed call posted anything or left anything pending. */
	EXPECT_TRUE(qnone(self->port, 50));
	EXPECT_EQ(0, QsoCancelOperation(self->fds[0], 0));

	/* The socket still works. */
	a = area(NULL, self->buf, 16, 0);
	say(self->fds[1], self->fds[0], "fine");
	EXPECT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(4, a.returnValue);
#undef EXPECT_START_FAILS
}

/* ------------------------------------------------------------------ */
/* A socket named with two ports; an area reused while pending          */

TEST_F(qso, socket_moves_between_ports)
{
	int port2 = QsoCreateIOCompletionPort();
	Qso_OverlappedIO_t a = area((void *)30, self->buf, 16, 0);

	ASSERT_LE(0, port2);
	/* First on the fixture's port, completed at once. */
	say(self->fds[1], self->fds[0], "one");
	ASSERT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	EXPECT_EQ(3, a.returnValue);
	/* Again on the same port: the association is reused. */
	say(self->fds[1], self->fds[0], "two");
	ASSERT_EQ(0, QsoStartRecv(self->fds[0], self->port, &a));
	/* Nothing pending there: it moves to port2. */
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], port2, &a));
	/* Pending on port2: it cannot be named with the first port. */
	errno = 0;
	EXPECT_EQ(-1, QsoStartSend(self->fds[0], self->port, &a));
	EXPECT_EQ(EBUSY, errno);
	put(self->fds[1], "three");
	ASSERT_EQ(1, qwait(port2, &self->cs, PROGRESS_MS));
	EXPECT_EQ(5, self->cs.returnValue);
	EXPECT_EQ((void *)30, self->cs.descriptorHandle);
	EXPECT_TRUE(qnone(self->port, 0));
	/* And back. */
	a = area((void *)31, "back", 4, 1);
	ASSERT_EQ(1, QsoStartSend(self->fds[0], self->port, &a));
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(4, self->cs.returnValue);
	EXPECT_EQ(0, QsoDestroyIOCompletionPort(port2));
}

/* The area is copied at the start call: reusing it while the first
 * operation is pending does not change what that one reports. */
TEST_F(qso, area_reused_while_pending)
{
	char b1[8] = {}, b2[8] = {};
	Qso_OverlappedIO_t a = area((void *)1, b1, 3, 0);

	a.fillBuffer = 1;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	a.descriptorHandle = (void *)2;
	a.buffer = b2;
	a.bufferLength = 2;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &a));
	memset(&a, 0xee, sizeof(a));
	put(self->fds[1], "abcde");
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ((void *)1, self->cs.descriptorHandle);
	EXPECT_EQ((void *)b1, self->cs.buffer);
	EXPECT_EQ(3, self->cs.returnValue);
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ((void *)2, self->cs.descriptorHandle);
	EXPECT_EQ((void *)b2, self->cs.buffer);
	EXPECT_EQ(2, self->cs.returnValue);
	EXPECT_EQ(0, memcmp(b1, "abc", 3));
	EXPECT_EQ(0, memcmp(b2, "de", 2));

	/* The wait's area used as the next start's area (IBM's example). */
	self->cs.bufferLength = 8;
	self->cs.fillBuffer = 0;
	ASSERT_EQ(1, QsoStartRecv(self->fds[0], self->port, &self->cs));
	put(self->fds[1], "z");
	ASSERT_EQ(1, qwait(self->port, &self->cs, PROGRESS_MS));
	EXPECT_EQ(1, self->cs.returnValue);
	EXPECT_EQ((void *)2, self->cs.descriptorHandle);
}

/* Many threads wait; every post is returned exactly once. */
struct counter {
	int port;
	int n;
	unsigned char seen[256];
};

static void *count_fn(void *arg)
{
	struct counter *c = arg;
	Qso_OverlappedIO_t cs;

	while (QsoWaitForIOCompletion(c->port, &cs, NULL) == 1) {
		long v = (long)cs.descriptorHandle;

		if (v < 0)
			break;
		__atomic_fetch_add(&c->seen[v], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&c->n, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST_F(qso, posts_to_several_waiters)
{
	struct counter c = { .port = self->port };
	Qso_OverlappedIO_t a = area(NULL, NULL, 0, 0);
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, count_fn, &c));
	for (i = 0; i < 256; i++) {
		a.descriptorHandle = (void *)(long)i;
		ASSERT_EQ(0, QsoPostIOCompletion(self->port, &a));
	}
	a.descriptorHandle = (void *)-1L;
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, QsoPostIOCompletion(self->port, &a));
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(256, c.n);
	for (i = 0; i < 256; i++)
		EXPECT_EQ(1, c.seen[i]);
}

/* ------------------------------------------------------------------ */
/* The echo flow of IBM's example (examples/qso_echo.c)                 */

struct echo {
	int port;
	int client_fd;		/* the server's end */
	Qso_OverlappedIO_t io;	/* the worker's area */
	char buf[512];
	int echoed, errors;
};

/* IBM's worker thread: wait, echo with QsoStartSend, re-arm the recv. */
static void *echo_worker(void *arg)
{
	struct echo *e = arg;
	struct timeval wait = { .tv_sec = PROGRESS_MS / 1000 };
	Qso_OverlappedIO_t *io = &e->io;

	for (;;) {
		int fd, rc = QsoWaitForIOCompletion(e->port, io, &wait);

		if (rc != 1 || io->returnValue < 0) {
			e->errors++;
			break;
		}
		fd = *(int *)io->descriptorHandle;
		if (io->operationCompleted == QSOSTARTRECV) {
			if (io->returnValue == 0)
				break;			/* the client is done */
			io->bufferLength = io->returnValue;
			io->postFlag = 0;
			rc = QsoStartSend(fd, e->port, io);
			if (rc == 1)
				continue;		/* wait for the send */
			if (rc < 0 || io->returnValue < 0) {
				e->errors++;
				break;
			}
		}
		/* The send is done: receive the next message. */
		e->echoed++;
		io->buffer = e->buf;
		io->bufferLength = sizeof(e->buf);
		io->postFlag = 1;
		if (QsoStartRecv(fd, e->port, io) < 0) {
			e->errors++;
			break;
		}
	}
	return NULL;
}

TEST(echo_flow)
{
	struct echo e = {};
	int l = sock_listener(SK_TCP4), c, i, n = slow_kernel() ? 20 : 200;
	pthread_t worker;
	char msg[64], got[64];

	ASSERT_LE(0, l);
	e.port = QsoCreateIOCompletionPort();
	ASSERT_LE(0, e.port);
	ASSERT_EQ(0, pthread_create(&worker, NULL, echo_worker, &e));
	c = sock_connect(l);
	ASSERT_LE(0, c);
	e.client_fd = accept(l, NULL, NULL);
	ASSERT_LE(0, e.client_fd);

	/* main: the first recv, postFlag on: the worker gets it. */
	memset(&e.io, 0, sizeof(e.io));
	e.io.descriptorHandle = &e.client_fd;
	e.io.buffer = e.buf;
	e.io.bufferLength = sizeof(e.buf);
	e.io.postFlag = 1;
	ASSERT_EQ(1, QsoStartRecv(e.client_fd, e.port, &e.io));

	for (i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof(msg), "message %d", i);

		ASSERT_EQ(0, write_full(c, msg, len));
		ASSERT_EQ(0, read_full(c, got, len));
		ASSERT_EQ(0, memcmp(msg, got, len));
	}
	shutdown(c, SHUT_WR);
	pthread_join(worker, NULL);
	EXPECT_EQ(0, e.errors);
	EXPECT_EQ(n, e.echoed);
	EXPECT_EQ(0, QsoDestroyIOCompletionPort(e.port));
	close(e.client_fd);
	close(c);
	close(l);
}

TEST_HARNESS_MAIN
