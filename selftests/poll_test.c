// SPDX-License-Identifier: GPL-2.0
/*
 * The port descriptor in an event loop: poll() and epoll report it
 * readable (POLLIN) exactly while completions are queued (a completion
 * handed straight to a waiting thread is never queued), a post wakes a
 * blocked poller, and a destroyed port reports POLLHUP.
 */
#include <poll.h>
#include <sys/epoll.h>

#include "cport_test.h"
#include "kselftest_harness.h"

FIXTURE(port) {
	int port;
	int seq;
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(port)
{
	self->port = port_new(2, CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

/* poll() with timeout 0: the revents, or -errno. */
static int revents(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ret = poll(&p, 1, 0);

	if (ret < 0)
		return -errno;
	return ret ? p.revents : 0;
}

TEST_F(port, poll_readable_while_queued)
{
	EXPECT_EQ(0, revents(self->port, POLLIN));
	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	EXPECT_EQ(POLLIN, revents(self->port, POLLIN));
	EXPECT_EQ(POLLIN | POLLRDNORM, revents(self->port, POLLIN | POLLRDNORM));
	/* Never writable, never an error. */
	EXPECT_EQ(0, revents(self->port, POLLOUT) & (POLLOUT | POLLERR));
	ASSERT_EQ(0, cport_post(self->port, 0, 2, 0, 0));

	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(POLLIN, revents(self->port, POLLIN));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(0, revents(self->port, POLLIN));
}

TEST_F(port, epoll_readable_while_queued)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->port, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	memset(&ev, 0, sizeof(ev));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLIN, ev.events);
	EXPECT_EQ(0x1234, ev.data.u64);
	/* Level-triggered: still there until dequeued. */
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));

	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	close(ep);
}

/* A completion handed to a sleeping waiter is not queued: not readable. */
TEST_F(port, handoff_not_readable)
{
	struct waiter w;

	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	EXPECT_EQ(0, revents(self->port, POLLIN));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(1, w.ret);
}

struct actor {
	int port;
	pid_t poller;
	bool destroy;
	bool epoll;
	int ret;
};

/* Post (or destroy) once the polling thread sleeps in poll or epoll. */
static void *act_when_asleep(void *arg)
{
	struct actor *a = arg;
	bool asleep;

	if (a->epoll)
		asleep = task_wait_blocked_in(a->poller, SYS_epoll_wait,
					      SYS_epoll_pwait);
	else
		asleep = task_wait_blocked_in(a->poller, SYS_poll, SYS_ppoll);
	if (!asleep)
		a->ret = -ETIMEDOUT;
	else if (a->destroy)
		a->ret = cport_destroy(a->port);
	else
		a->ret = cport_post(a->port, 0, 1, 0, 0);
	return NULL;
}

/*
 * Poll without a time limit (a poll that timed out would still report the
 * queued completion): only the wakeup can end it; a missing one hangs the
 * test until the harness fails it.
 */
static int poll_blocked(struct __test_metadata *_metadata, int port,
			bool destroy, bool use_epoll)
{
	struct actor a = { .port = port, .poller = sys_gettid(),
			   .destroy = destroy, .epoll = use_epoll };
	struct pollfd p = { .fd = port, .events = POLLIN };
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t t;
	int ep = -1, ret;

	if (use_epoll) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		EXPECT_LE(0, ep);
		EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, port, &ev));
	}
	EXPECT_EQ(0, pthread_create(&t, NULL, act_when_asleep, &a));
	if (use_epoll) {
		ret = epoll_wait(ep, &ev, 1, -1);
		EXPECT_EQ(1, ret);
		ret = ev.events;
		close(ep);
	} else {
		ret = poll(&p, 1, -1);
		EXPECT_EQ(1, ret);
		ret = p.revents;
	}
	EXPECT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, a.ret);
	return ret;
}

TEST_F(port, post_wakes_poll)
{
	EXPECT_EQ(POLLIN, poll_blocked(_metadata, self->port, false, false));
}

TEST_F(port, post_wakes_epoll)
{
	EXPECT_EQ(EPOLLIN, poll_blocked(_metadata, self->port, false, true));
}

TEST_F(port, hup_after_destroy)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_TRUE(revents(self->port, POLLIN) & POLLHUP);
	/* The discarded completion no longer makes it readable. */
	EXPECT_FALSE(revents(self->port, POLLIN) & POLLIN);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->port, &ev));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_TRUE(ev.events & EPOLLHUP);
	close(ep);
}

TEST_F(port, destroy_wakes_poll)
{
	EXPECT_TRUE(poll_blocked(_metadata, self->port, true, false) & POLLHUP);
}

TEST_F(port, destroy_wakes_epoll)
{
	EXPECT_TRUE(poll_blocked(_metadata, self->port, true, true) & EPOLLHUP);
}

TEST_HARNESS_MAIN
