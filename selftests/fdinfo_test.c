// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/self/fdinfo/<port>: the port's setup, state and counters, one
 * "name:\tvalue" line each like the rest of fdinfo, with no kernel
 * pointers; and each counter moves exactly when it should.
 */
#include <limits.h>

#include "cport_test.h"
#include "kselftest_harness.h"

static const char *const fields[] = {
	"policy", "concurrency", "block_tracking", "max_queued", "queued",
	"waiters", "running", "threads", "posts", "dequeues", "waits",
	"waits_slept", "handoffs", "blocked_releases", "deferred_releases",
	"busy_holds", "grace_renewed", "grace_us", "over_limit_events",
	"over_limit_ns", "destroyed",
};

FIXTURE(port) {
	int port;
	int seq;
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(port)
{
	self->port = port_new(3, CPORT_POLICY_FIFO, 50);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

TEST_F(port, format)
{
	char buf[4096], *line, *save = NULL, val[64];
	unsigned int i;

	ASSERT_LT(0, fdinfo_read(self->port, buf, sizeof(buf)));
	/* Every line is "name:\tvalue", values without kernel pointers. */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		ASSERT_NE(NULL, colon) {
			TH_LOG("line '%s'", line);
		}
		EXPECT_EQ('\t', colon[1]) {
			TH_LOG("line '%s'", line);
		}
		EXPECT_EQ(NULL, strstr(line, "ffff")) {
			TH_LOG("line '%s' looks like a kernel pointer", line);
		}
	}
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		EXPECT_EQ(0, fdinfo_str(self->port, fields[i], val, sizeof(val))) {
			TH_LOG("no '%s:' line", fields[i]);
		}
		if (strcmp(fields[i], "policy"))
			EXPECT_LE(0, fdinfo_get(self->port, fields[i])) {
				TH_LOG("'%s' is not a number", fields[i]);
			}
	}
}

TEST_F(port, setup_values)
{
	char policy[16];

	ASSERT_EQ(0, fdinfo_str(self->port, "policy", policy, sizeof(policy)));
	EXPECT_STREQ("fifo", policy);
	EXPECT_EQ(3, fdinfo_get(self->port, "concurrency"));
	EXPECT_EQ(50, fdinfo_get(self->port, "max_queued"));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(0, fdinfo_get(self->port, "waiters"));
	EXPECT_EQ(0, fdinfo_get(self->port, "running"));
	EXPECT_EQ(0, fdinfo_get(self->port, "posts"));
	EXPECT_EQ(0, fdinfo_get(self->port, "dequeues"));
	EXPECT_EQ(0, fdinfo_get(self->port, "waits"));
	EXPECT_EQ(0, fdinfo_get(self->port, "waits_slept"));
	EXPECT_EQ(0, fdinfo_get(self->port, "handoffs"));
	EXPECT_EQ(0, fdinfo_get(self->port, "destroyed"));
	EXPECT_EQ(1, fdinfo_get(self->port, "block_tracking"));
	EXPECT_EQ(0, fdinfo_get(self->port, "threads"));
	EXPECT_EQ(0, fdinfo_get(self->port, "blocked_releases"));
	EXPECT_EQ(0, fdinfo_get(self->port, "over_limit_events"));
	EXPECT_EQ(0, fdinfo_get(self->port, "over_limit_ns"));
}

TEST(default_values)
{
	int port = cport_create(NULL);
	char policy[16];

	ASSERT_LE(0, port);
	ASSERT_EQ(0, fdinfo_str(port, "policy", policy, sizeof(policy)));
	EXPECT_STREQ("lifo", policy);
	EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN),
		  fdinfo_get(port, "concurrency"));
	EXPECT_EQ(CPORT_DEFAULT_QUEUED, fdinfo_get(port, "max_queued"));
	cport_close(port);
}

/* For a counter a step does not pin down. */
#define ANY	LLONG_MIN

struct expect {
	long long queued, waiters, running, posts, dequeues, waits,
		  waits_slept, handoffs, destroyed;
};

static void check(struct __test_metadata *_metadata, int port,
		  const char *step, struct expect e)
{
	EXPECT_EQ(e.queued, fdinfo_get(port, "queued")) TH_LOG("%s", step);
	EXPECT_EQ(e.waiters, fdinfo_get(port, "waiters")) TH_LOG("%s", step);
	if (e.running != ANY)
		EXPECT_EQ(e.running, fdinfo_get(port, "running"))
			TH_LOG("%s", step);
	EXPECT_EQ(e.posts, fdinfo_get(port, "posts")) TH_LOG("%s", step);
	EXPECT_EQ(e.dequeues, fdinfo_get(port, "dequeues")) TH_LOG("%s", step);
	EXPECT_EQ(e.waits, fdinfo_get(port, "waits")) TH_LOG("%s", step);
	EXPECT_EQ(e.waits_slept, fdinfo_get(port, "waits_slept"))
		TH_LOG("%s", step);
	EXPECT_EQ(e.handoffs, fdinfo_get(port, "handoffs")) TH_LOG("%s", step);
	EXPECT_EQ(e.destroyed, fdinfo_get(port, "destroyed")) TH_LOG("%s", step);
}

TEST_F(port, counters_move)
{
	struct waiter w;
	int i;

	ASSERT_EQ(0, cport_post(self->port, 0, 0, 0, 0));
	check(_metadata, self->port, "post", (struct expect){
		.queued = 1, .posts = 1 });
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, 0, 0, 0));
	check(_metadata, self->port, "3 posts", (struct expect){
		.queued = 3, .posts = 3 });

	ASSERT_EQ(2, cport_wait(self->port, self->cqes, 2, 0));
	check(_metadata, self->port, "dequeue 2", (struct expect){
		.queued = 1, .running = 1, .posts = 3, .dequeues = 2,
		.waits = 1 });
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 8, -1));
	check(_metadata, self->port, "dequeue 1", (struct expect){
		.running = 1, .posts = 3, .dequeues = 3, .waits = 2 });
	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 8, 0));
	check(_metadata, self->port, "empty, no sleep", (struct expect){
		.posts = 3, .dequeues = 3, .waits = 3 });
	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, self->cqes, 8,
					 NSEC_PER_MSEC));
	check(_metadata, self->port, "empty, slept", (struct expect){
		.posts = 3, .dequeues = 3, .waits = 4, .waits_slept = 1 });

	/* A submission the kernel refuses counts nowhere. */
	for (i = 0; i < 50; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, 0, 0, 0));
	ASSERT_EQ(-ENOSPC, cport_post(self->port, 0, 0, 0, 0));
	check(_metadata, self->port, "full", (struct expect){
		.queued = 50, .posts = 53, .dequeues = 3, .waits = 4,
		.waits_slept = 1 });
	ASSERT_EQ(8, cport_wait(self->port, self->cqes, 8, 0));
	ASSERT_EQ(8, cport_wait(self->port, self->cqes, 8, 0));
	while (port_drain(self->port, self->cqes, 8) > 0)
		;
	check(_metadata, self->port, "drained", (struct expect){
		.posts = 53, .dequeues = 53, .waits = 12, .waits_slept = 1 });

	/* A handoff to a sleeping thread. */
	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1, &self->seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	check(_metadata, self->port, "asleep", (struct expect){
		.waiters = 1, .posts = 53, .dequeues = 53, .waits = 13,
		.waits_slept = 2 });
	/* The waiter and this thread, which waited above. */
	EXPECT_EQ(2, fdinfo_get(self->port, "threads"));
	ASSERT_EQ(0, cport_post(self->port, 0, 0, 0, 0));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	ASSERT_EQ(1, w.ret);
	/*
	 * The exited thread no longer counts, once its last switch is over
	 * (a little after pthread_join() returns).
	 */
	ASSERT_TRUE(fdinfo_wait(self->port, "threads", 1));
	check(_metadata, self->port, "handoff", (struct expect){
		.running = 0, .posts = 54, .dequeues = 54, .waits = 13,
		.waits_slept = 2, .handoffs = 1 });

	ASSERT_EQ(0, cport_post(self->port, 0, 0, 0, 0));
	ASSERT_EQ(0, cport_destroy(self->port));
	check(_metadata, self->port, "destroyed", (struct expect){
		.running = 0, .posts = 55, .dequeues = 54, .waits = 13,
		.waits_slept = 2, .handoffs = 1, .destroyed = 1 });
	EXPECT_EQ(0, fdinfo_get(self->port, "blocked_releases"));
	EXPECT_EQ(0, fdinfo_get(self->port, "over_limit_events"));
}

TEST_HARNESS_MAIN
