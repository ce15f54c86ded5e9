// SPDX-License-Identifier: GPL-2.0
/*
 * The completion ring (struct cport_setup.ring_entries, mmap() of the
 * port): what the port cannot hand to a sleeping waiter goes to the ring
 * while the kernel's queue is empty, user space takes it without a system
 * call, and the kernel takes from the ring too (a wait, a handoff to a
 * sleeper), oldest first, each completion exactly once.  Completions that
 * carry a descriptor, and those that do not fit, wait in the kernel's
 * queue, behind the ring.  Setup and mmap() refuse bad requests with
 * their documented errno.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "cport_test.h"
#include "sock_util.h"
#include "kselftest_harness.h"

static int setup_ring(int port, __u32 entries, __u32 resv3)
{
	struct cport_setup s = { .ring_entries = entries, .resv3 = resv3 };

	return ioctl(port, CPORT_IOC_SETUP, &s) ? -errno : 0;
}

static int revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) < 0 ? -errno : p.revents;
}

static __u32 ring_tail(struct cport_ring *r)
{
	return __atomic_load_n(&r->hdr->tail, __ATOMIC_ACQUIRE);
}

static __u32 ring_head(struct cport_ring *r)
{
	return __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
}

TEST(setup_errors)
{
	static const __u32 bad[] = { 3, 6, 12, 100, CPORT_MAX_RING_ENTRIES + 1,
				     CPORT_MAX_RING_ENTRIES * 2, 0x80000000u,
				     0xffffffffu };
	struct cport_ring r;
	struct cport_info info;
	unsigned int i;
	int port;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		port = cport_open();
		ASSERT_LE(0, port);
		EXPECT_EQ(-EINVAL, setup_ring(port, bad[i], 0)) {
			TH_LOG("ring_entries %u", bad[i]);
		}
		/* Refused: still not set up, a good setup works. */
		EXPECT_EQ(0, setup_ring(port, 2, 0));
		close(port);
	}
	port = cport_open();
	ASSERT_LE(0, port);
	EXPECT_EQ(-EINVAL, setup_ring(port, 8, 1));
	EXPECT_EQ(-EINVAL, setup_ring(port, 0, 1));
	/* No ring: QUERY says 0, mapping it says -ENODEV. */
	EXPECT_EQ(0, setup_ring(port, 0, 0));
	ASSERT_EQ(0, ioctl(port, CPORT_IOC_QUERY, &info));
	EXPECT_TRUE(info.features & CPORT_FEAT_RING);
	EXPECT_EQ(0, info.ring_entries);
	EXPECT_EQ(-ENODEV, cport_ring_map(port, &r));
	EXPECT_EQ(0, fdinfo_get(port, "ring_entries"));
	close(port);

	/* The bounds themselves are fine. */
	port = cport_create_ring(NULL, 1, &r);
	ASSERT_LE(0, port);
	EXPECT_EQ(1, r.entries);
	EXPECT_EQ(1, r.hdr->ring_entries);
	EXPECT_EQ(sizeof(struct cport_cqe), r.hdr->cqe_size);
	cport_ring_unmap(&r);
	cport_close(port);
	port = cport_create_ring(NULL, CPORT_MAX_RING_ENTRIES, &r);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, ioctl(port, CPORT_IOC_QUERY, &info));
	EXPECT_EQ(CPORT_MAX_RING_ENTRIES, info.ring_entries);
	EXPECT_EQ(CPORT_MAX_RING_ENTRIES, fdinfo_get(port, "ring_entries"));
	cport_ring_unmap(&r);
	cport_close(port);
}

/*
 * The ring's pages count against the user's units (max_user_units): past
 * them, setup fails with -EDQUOT and leaves the port as it was.
 */
TEST(setup_edquot)
{
	static const char *param = "/sys/module/cport/parameters/max_user_units";
	char orig[32] = "";
	struct cport_ring r;
	FILE *f;
	int port, ret;

	f = fopen(param, "r");
	if (!f || !fgets(orig, sizeof(orig), f) || access(param, W_OK))
		SKIP(if (f) fclose(f); return, "cannot change %s", param);
	fclose(f);
	port = cport_open();
	ASSERT_LE(0, port);
	f = fopen(param, "w");
	ASSERT_NE(NULL, f);
	fputs("1", f);
	ASSERT_EQ(0, fclose(f));
	ret = setup_ring(port, 1, 0);	/* a page: 8 units */
	f = fopen(param, "w");
	ASSERT_NE(NULL, f);
	fputs(orig, f);
	ASSERT_EQ(0, fclose(f));
	EXPECT_EQ(-EDQUOT, ret);
	/* Not set up by the refusal: with room again, it works. */
	EXPECT_EQ(0, setup_ring(port, 1, 0));
	EXPECT_EQ(0, cport_ring_map(port, &r));
	cport_ring_unmap(&r);
	close(port);
}

TEST(mmap_errors)
{
	long page = sysconf(_SC_PAGESIZE);
	struct statvfs sv;
	struct cport_ring r;
	int port, status;
	void *p;
	pid_t pid;

	/* A port not set up, or set up without a ring. */
	port = cport_open();
	ASSERT_LE(0, port);
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, port, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);
	close(port);

	port = cport_create_ring(NULL, 8, &r);
	ASSERT_LE(0, port);
	/* An offset other than CPORT_RING_OFFSET. */
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, port, page);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* Private: its takes would never reach the kernel. */
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, port, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* Longer than the ring (8 entries fit in a page). */
	p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, port, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* Executable: refused (by the mount first, if it is noexec). */
	ASSERT_EQ(0, fstatvfs(port, &sv));
	p = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, port, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(sv.f_flag & ST_NOEXEC ? EPERM : EINVAL, errno);
	/* Nor made executable later. */
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, port, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, page, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	munmap(p, page);

	/* Another process (a child after fork()) may not map it. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		p = mmap(NULL, page, PROT_READ, MAP_SHARED, port, 0);
		_exit(p == MAP_FAILED && errno == EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cport_ring_unmap(&r);
	cport_close(port);
}

FIXTURE(ring) {
	int port;
	struct cport_ring r;
	struct cport_cqe cqes[64];
};

FIXTURE_SETUP(ring)
{
	struct cport_setup s = { .concurrency = 2 };

	self->port = cport_create_ring(&s, 8, &self->r);
	ASSERT_LE(0, self->port) {
		TH_LOG("cport_create_ring: %s", strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(ring)
{
	cport_ring_unmap(&self->r);
	cport_close(self->port);
}

/* Posts nobody waits for land in the ring, whole, and leave it once. */
TEST_F(ring, posts_go_to_the_ring)
{
	struct cport_cqe *c = self->cqes;
	unsigned int i;

	EXPECT_EQ(0, revents(self->port));
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, cport_post(self->port, 7, i, -5, 9));
	EXPECT_EQ(3, ring_tail(&self->r));
	EXPECT_EQ(0, ring_head(&self->r));
	EXPECT_EQ(0, fdinfo_get(self->port, "queued"));
	EXPECT_EQ(3, fdinfo_get(self->port, "ring_queued"));
	EXPECT_EQ(3, fdinfo_get(self->port, "ring_posts"));
	EXPECT_EQ(POLLIN, revents(self->port));

	ASSERT_EQ(2, cport_ring_take(&self->r, c, 2));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(i + 1, c[i].user_data);
		EXPECT_EQ(7, c[i].key);
		EXPECT_EQ(-5, c[i].res);
		EXPECT_EQ(9, c[i].bytes);
		EXPECT_EQ(CPORT_OP_POST, c[i].op);
	}
	ASSERT_EQ(1, cport_ring_take(&self->r, c, 8));
	EXPECT_EQ(3, c[0].user_data);
	EXPECT_EQ(0, cport_ring_take(&self->r, c, 8));
	EXPECT_EQ(3, ring_head(&self->r));
	EXPECT_EQ(0, revents(self->port));
	/* The kernel has nothing either; none came through it. */
	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, c, 8, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "dequeues"));
}

/*
 * What does not fit waits in the kernel's queue, behind the ring: a wait
 * returns the ring's entries first, then the queue's, in order.
 */
TEST_F(ring, overflow_keeps_order)
{
	struct cport_cqe *c = self->cqes;
	unsigned int i, next = 1;
	int n;

	for (i = 1; i <= 20; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	EXPECT_EQ(8, ring_tail(&self->r));
	EXPECT_EQ(12, fdinfo_get(self->port, "queued"));

	/*
	 * A thread not counted yet waits in the kernel, which returns the
	 * ring's 8, then the queue's 12.
	 */
	n = cport_ring_wait(&self->r, c, 64, 0);
	ASSERT_EQ(20, n);
	for (i = 0; i < 20; i++)
		EXPECT_EQ(next++, c[i].user_data);

	/* Counted now: the ring's 8 without the kernel, then its 12. */
	for (i = 21; i <= 40; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	n = cport_ring_wait(&self->r, c, 64, 0);
	ASSERT_EQ(8, n);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(next++, c[i].user_data);
	n = cport_ring_wait(&self->r, c, 64, 0);
	ASSERT_EQ(12, n);
	for (i = 0; i < 12; i++)
		EXPECT_EQ(next++, c[i].user_data);

	/* The kernel alone: it takes from the ring before its queue. */
	for (i = 41; i <= 60; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	while (next <= 60) {
		n = cport_wait(self->port, c, 64, 0);
		ASSERT_LT(0, n);
		for (i = 0; i < (unsigned int)n; i++)
			ASSERT_EQ(next++, c[i].user_data);
	}
	EXPECT_EQ(-ETIMEDOUT, cport_wait(self->port, c, 64, 0));
	EXPECT_EQ(ring_tail(&self->r), ring_head(&self->r));
}

/*
 * cport_ring_submit_and_wait(): with entries in the ring, a submission
 * without a wait, then the ring; the kernel's wait is not entered.
 */
TEST_F(ring, submit_then_take)
{
	struct cport_cqe *c = self->cqes;
	struct cport_sqe sqe;
	unsigned int sub = 99;
	long long waits;

	/* Counted as running first: a wait in the kernel that returned. */
	ASSERT_EQ(0, cport_post(self->port, 0, 0, 0, 0));
	ASSERT_EQ(1, cport_ring_wait(&self->r, c, 8, 0));
	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	waits = fdinfo_get(self->port, "waits");
	cport_prep_post(&sqe, 0, 2, 0, 0);
	ASSERT_EQ(2, cport_ring_submit_and_wait(&self->r, &sqe, 1, c, 8, -1,
						&sub));
	EXPECT_EQ(1, sub);
	EXPECT_EQ(1, c[0].user_data);
	EXPECT_EQ(2, c[1].user_data);
	/* Nothing to submit: the ring alone. */
	ASSERT_EQ(0, cport_post(self->port, 0, 3, 0, 0));
	ASSERT_EQ(1, cport_ring_submit_and_wait(&self->r, NULL, 0, c, 8, -1,
						&sub));
	EXPECT_EQ(0, sub);
	EXPECT_EQ(3, c[0].user_data);
	EXPECT_EQ(waits, fdinfo_get(self->port, "waits"));
	/* An empty ring: submit and wait in the kernel. */
	cport_prep_post(&sqe, 0, 4, 0, 0);
	ASSERT_EQ(1, cport_ring_submit_and_wait(&self->r, &sqe, 1, c, 8, -1,
						&sub));
	EXPECT_EQ(1, sub);
	EXPECT_EQ(4, c[0].user_data);
	EXPECT_EQ(waits + 1, fdinfo_get(self->port, "waits"));
}

/*
 * A thread the port does not count as running (it never waited, or its
 * last wait returned nothing) does not take from the ring: it waits in
 * the kernel, held back by the concurrency value like any waiter.
 */
static void *uncounted_fn(void *arg)
{
	struct cport_ring *r = arg;
	struct cport_cqe c;

	return (void *)(long)cport_ring_wait(r, &c, 1, 300 * NSEC_PER_MSEC);
}

TEST(uncounted_thread_waits)
{
	struct cport_setup s = { .concurrency = 1,
				 .flags = CPORT_SETUP_NO_BLOCK_TRACKING };
	struct cport_cqe c;
	struct cport_ring r;
	pthread_t t;
	void *ret;
	int port;

	port = cport_create_ring(&s, 8, &r);
	ASSERT_LE(0, port);
	/* This thread holds the one slot. */
	ASSERT_EQ(0, cport_post(port, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_ring_wait(&r, &c, 1, 0));
	ASSERT_EQ(0, cport_post(port, 0, 2, 0, 0));
	EXPECT_EQ(1, ring_tail(&r) - ring_head(&r));

	ASSERT_EQ(0, pthread_create(&t, NULL, uncounted_fn, &r));
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(-ETIMEDOUT, (long)ret);
	/* Still there, for the thread that runs. */
	ASSERT_EQ(1, cport_ring_wait(&r, &c, 1, 0));
	EXPECT_EQ(2, c.user_data);
	EXPECT_GE(1, fdinfo_get(port, "running"));
	cport_ring_unmap(&r);
	cport_close(port);
}

/*
 * Any mix of posts, takes from the ring and waits, by one thread, returns
 * every completion once and in the order posted.
 */
TEST_F(ring, mixed_order)
{
	unsigned int seed = 1, posted = 0, next = 1, i, k, rounds;
	struct cport_cqe *c = self->cqes;
	int n;

	rounds = slow_kernel() ? 300 : 3000;
	for (i = 0; i < rounds; i++) {
		k = rand_r(&seed) % 12;
		while (k--)
			ASSERT_EQ(0, cport_post(self->port, 0, ++posted, 0, 0));
		k = 1 + rand_r(&seed) % 16;
		switch (rand_r(&seed) % 3) {
		case 0:
			n = cport_ring_take(&self->r, c, k);
			break;
		case 1:
			n = port_drain(self->port, c, k);
			break;
		default:
			n = cport_ring_wait(&self->r, c, k, 0);
			if (n == -ETIMEDOUT)
				n = 0;
			break;
		}
		ASSERT_LE(0, n);
		for (k = 0; k < (unsigned int)n; k++)
			ASSERT_EQ(next++, c[k].user_data) {
				TH_LOG("round %u", i);
			}
	}
	while ((n = cport_ring_wait(&self->r, c, 64, 0)) > 0)
		for (k = 0; k < (unsigned int)n; k++)
			ASSERT_EQ(next++, c[k].user_data);
	EXPECT_EQ(-ETIMEDOUT, n);
	EXPECT_EQ(posted + 1, next);
}

/*
 * A completion that carries a descriptor (an ACCEPT's) never goes to the
 * ring: it and what follows wait in the kernel, which installs it.
 */
TEST_F(ring, accept_stays_in_the_kernel)
{
	struct cport_cqe *c = self->cqes;
	struct cport_sqe sqe;
	struct stat st;
	int lst, cli;

	lst = sock_listener(SK_TCP4);
	ASSERT_LE(0, lst);
	ASSERT_EQ(0, cport_associate(self->port, lst, 1, 0));
	cport_prep_accept(&sqe, lst, NULL, 0, 100, 0, 0);
	ASSERT_EQ(1, cport_submit(self->port, &sqe, 1));

	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));	/* ring */
	cli = sock_connect(lst);
	ASSERT_LE(0, cli);
	ASSERT_TRUE(fdinfo_wait(self->port, "queued", 1));	/* ACCEPT */
	ASSERT_EQ(0, cport_post(self->port, 0, 2, 0, 0));	/* behind it */
	EXPECT_EQ(1, ring_tail(&self->r));
	EXPECT_EQ(2, fdinfo_get(self->port, "queued"));

	ASSERT_EQ(1, cport_ring_take(&self->r, c, 8));
	EXPECT_EQ(1, c[0].user_data);
	EXPECT_EQ(0, cport_ring_take(&self->r, c, 8));
	ASSERT_EQ(2, cport_ring_wait(&self->r, c, 8, 0));
	EXPECT_EQ(100, c[0].user_data);
	EXPECT_EQ(CPORT_OP_ACCEPT, c[0].op);
	ASSERT_LE(0, c[0].res);
	ASSERT_EQ(0, fstat(c[0].res, &st));
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(2, c[1].user_data);
	close(c[0].res);

	/* The queue empty again: posts go to the ring again. */
	ASSERT_EQ(0, cport_post(self->port, 0, 3, 0, 0));
	EXPECT_EQ(2, ring_tail(&self->r));
	close(cli);
	close(lst);
}

/*
 * A completion written to the ring gives its operation's place back
 * (max_pending): the ring's memory was charged at setup.  One that stays
 * in the kernel's queue holds its place until it is dequeued.
 */
TEST(ring_entries_hold_no_place)
{
	struct cport_setup s = { .concurrency = 2, .max_pending = 2 };
	struct cport_cqe c[8];
	struct cport_sqe sqe;
	struct cport_ring r;
	int port, fds[3][2], i;
	char buf[3][8];

	port = cport_create_ring(&s, 8, &r);
	ASSERT_LE(0, port);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i]));
		ASSERT_EQ(0, cport_associate(port, fds[i][0], 10 + i, 0));
	}
	/* Two RECVs hold both places; a third is refused. */
	for (i = 0; i < 2; i++)
		ASSERT_EQ(1, recv_pending(port, fds[i][0], buf[i], 8, i, 0, 0));
	EXPECT_EQ(-ENOBUFS, sub_recv(port, &sqe, fds[2][0], buf[2], 8, 2,
				     0, 0, 0));
	/* They complete with nobody waiting: into the ring, places freed. */
	for (i = 0; i < 2; i++)
		ASSERT_EQ(1, write(fds[i][1], "x", 1));
	ASSERT_TRUE(fdinfo_wait(port, "ring_queued", 2));
	EXPECT_EQ(0, fdinfo_get(port, "queued"));
	ASSERT_EQ(1, recv_pending(port, fds[2][0], buf[2], 8, 2, 0, 0));
	ASSERT_EQ(1, recv_pending(port, fds[0][0], buf[0], 8, 3, 0, 0));
	EXPECT_EQ(-ENOBUFS, sub_recv(port, &sqe, fds[1][0], buf[1], 8, 4,
				     0, 0, 0));

	/* A full ring: these two completions stay queued, holding places. */
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, cport_post(port, 0, 100 + i, 0, 0));
	EXPECT_EQ(8, fdinfo_get(port, "ring_queued"));
	ASSERT_EQ(1, write(fds[2][1], "y", 1));
	ASSERT_TRUE(fdinfo_wait(port, "queued", 1));
	ASSERT_EQ(1, write(fds[0][1], "y", 1));
	ASSERT_TRUE(fdinfo_wait(port, "queued", 2));
	EXPECT_EQ(8, fdinfo_get(port, "ring_queued"));
	EXPECT_EQ(-ENOBUFS, sub_recv(port, &sqe, fds[1][0], buf[1], 8, 4,
				     0, 0, 0));
	/* Every completion once, in order: ring first, then the queue. */
	ASSERT_EQ(8, cport_ring_take(&r, c, 8));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(i < 2 ? i : 100 + i - 2, c[i].user_data);
	EXPECT_EQ(1, c[0].res);
	EXPECT_EQ(CPORT_OP_RECV, c[1].op);
	ASSERT_EQ(2, cport_wait(port, c, 8, 0));
	EXPECT_EQ(2, c[0].user_data);
	EXPECT_EQ(3, c[1].user_data);
	/* Dequeued: the places are back. */
	ASSERT_EQ(1, recv_pending(port, fds[1][0], buf[1], 8, 4, 0, 0));
	for (i = 0; i < 3; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	cport_ring_unmap(&r);
	cport_close(port);
}

/*
 * A waiter sleeping behind the concurrency value is handed the oldest
 * entry of the ring when a running thread blocks: exactly one, taken
 * from the ring as user space would.
 */
TEST(handoff_from_the_ring)
{
	struct cport_setup s = { .concurrency = 1 };
	struct cport_cqe c;
	struct cport_ring r;
	struct waiter w;
	int port, seq = 0;

	port = cport_create_ring(&s, 8, &r);
	ASSERT_LE(0, port);
	/* This thread runs: it took completion 1 (through the kernel). */
	ASSERT_EQ(0, cport_post(port, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(port, &c, 1, 0));
	ASSERT_EQ(1, c.user_data);

	ASSERT_EQ(0, waiter_start(&w, port, 4, -1, &seq));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	/* Nobody can be released: 2 and 3 go to the ring. */
	ASSERT_EQ(0, cport_post(port, 0, 2, 0, 0));
	ASSERT_EQ(0, cport_post(port, 0, 3, 0, 0));
	EXPECT_EQ(3, ring_tail(&r));
	EXPECT_EQ(1, ring_head(&r));
	EXPECT_FALSE(waiter_done(&w));

	/* This thread sleeps (blocks): the waiter gets 2, and only 2. */
	ASSERT_TRUE(wait_until(waiter_done(&w), PROGRESS_MS));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	ASSERT_LE(1, w.ret);
	EXPECT_EQ(2, w.cqes[0].user_data);
	if (w.ret == 2) {	/* it may take the next one too, in order */
		EXPECT_EQ(3, w.cqes[1].user_data);
	} else {
		EXPECT_EQ(1, cport_ring_take(&r, &c, 1));
	}
	EXPECT_EQ(3, ring_head(&r));
	EXPECT_EQ(0, cport_ring_take(&r, &c, 1));
	cport_ring_unmap(&r);
	cport_close(port);
}

/*
 * Many takers at once, from user space and in the kernel, while a thread
 * posts: every completion is returned exactly once.
 */
#define NR_TAKERS	4

struct stress {
	int port;
	struct cport_ring *r;
	unsigned int total;
	unsigned char *seen;
	unsigned int got;	/* atomic */
	unsigned int dups;	/* atomic */
	unsigned int errors;	/* atomic */
};

struct taker {
	pthread_t thread;
	struct stress *st;
	int kernel_only;
};

static void *taker_fn(void *arg)
{
	struct taker *t = arg;
	struct stress *st = t->st;
	struct cport_cqe c[8];
	int n, i;

	while (__atomic_load_n(&st->got, __ATOMIC_ACQUIRE) < st->total) {
		if (t->kernel_only)
			n = cport_wait(st->port, c, 8, 20 * NSEC_PER_MSEC);
		else
			n = cport_ring_wait(st->r, c, 8, 20 * NSEC_PER_MSEC);
		if (n == -ETIMEDOUT)
			continue;
		if (n < 0) {
			__atomic_fetch_add(&st->errors, 1, __ATOMIC_RELAXED);
			break;
		}
		for (i = 0; i < n; i++) {
			if (c[i].user_data >= st->total ||
			    __atomic_exchange_n(&st->seen[c[i].user_data], 1,
						__ATOMIC_RELAXED))
				__atomic_fetch_add(&st->dups, 1,
						   __ATOMIC_RELAXED);
		}
		__atomic_fetch_add(&st->got, n, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST(exactly_once)
{
	struct cport_setup s = { .concurrency = 2 };
	struct taker t[NR_TAKERS];
	struct stress st = {};
	struct cport_ring r;
	unsigned int i;
	int ret;

	st.total = slow_kernel() ? 4000 : 40000;
	st.seen = calloc(st.total, 1);
	ASSERT_NE(NULL, st.seen);
	st.port = cport_create_ring(&s, 64, &r);
	ASSERT_LE(0, st.port);
	st.r = &r;
	for (i = 0; i < NR_TAKERS; i++) {
		t[i].st = &st;
		t[i].kernel_only = i % 2;
		ASSERT_EQ(0, pthread_create(&t[i].thread, NULL, taker_fn,
					    &t[i]));
	}
	for (i = 0; i < st.total; i++) {
		while ((ret = cport_post(st.port, 0, i, 0, 0)) == -ENOSPC)
			sched_yield();
		ASSERT_EQ(0, ret);
	}
	for (i = 0; i < NR_TAKERS; i++)
		ASSERT_EQ(0, pthread_join(t[i].thread, NULL));
	EXPECT_EQ(0, st.errors);
	EXPECT_EQ(0, st.dups);
	EXPECT_EQ(st.total, st.got);
	for (i = 0; i < st.total; i++)
		ASSERT_TRUE(st.seen[i]) {
			TH_LOG("completion %u never returned", i);
		}
	EXPECT_EQ(ring_tail(&r), ring_head(&r));
	EXPECT_EQ(0, fdinfo_get(st.port, "queued"));
	TH_LOG("%lld of %u through the ring",
	       fdinfo_get(st.port, "ring_posts"), st.total);
	free(st.seen);
	cport_ring_unmap(&r);
	cport_close(st.port);
}

/*
 * A wait whose buffer faults fails with -EFAULT and loses nothing: what it
 * took from the ring goes back to the kernel's queue.
 */
TEST_F(ring, fault_loses_nothing)
{
	struct cport_cqe *bad = fault_page();
	struct cport_cqe *c = self->cqes;
	unsigned int i;

	ASSERT_NE(NULL, bad);
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	EXPECT_EQ(-EFAULT, cport_wait(self->port, bad, 1, 0));
	EXPECT_EQ(-EFAULT, cport_wait(self->port, bad, 8, 0));
	/* All three, none twice (the ring's order may not hold now). */
	ASSERT_EQ(3, cport_ring_wait(&self->r, c, 8, 0) +
		     cport_ring_take(&self->r, c + 3, 8));
	EXPECT_EQ(6, c[0].user_data + c[1].user_data + c[2].user_data);
	EXPECT_EQ(6, c[0].user_data * c[1].user_data * c[2].user_data);
	EXPECT_EQ(-ETIMEDOUT, cport_ring_wait(&self->r, c, 8, 0));
	munmap(bad, getpagesize());
}

/* DESTROY discards what the ring holds, as it does the queue. */
TEST_F(ring, destroy_empties_it)
{
	unsigned int i;

	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, cport_post(self->port, 0, i, 0, 0));
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(ring_tail(&self->r), ring_head(&self->r));
	EXPECT_EQ(0, cport_ring_take(&self->r, self->cqes, 8));
	EXPECT_EQ(POLLHUP, revents(self->port) & POLLHUP);
}

/*
 * A program that scribbles on head loses its own completions, nothing
 * else: the kernel treats the ring as full (posts go to its queue) or
 * empty, and says nothing.
 */
TEST_F(ring, scribbled_head)
{
	struct cport_cqe *c = self->cqes;
	__u32 tail;

	ASSERT_EQ(0, cport_post(self->port, 0, 1, 0, 0));
	tail = ring_tail(&self->r);
	self->r.hdr->head = tail + 100;		/* "taken" beyond tail */
	ASSERT_EQ(0, cport_post(self->port, 0, 2, 0, 0));
	EXPECT_EQ(tail, ring_tail(&self->r));
	EXPECT_EQ(0, cport_ring_take(&self->r, c, 8));
	ASSERT_EQ(1, cport_wait(self->port, c, 8, 0));
	EXPECT_EQ(2, c[0].user_data);

	self->r.hdr->head = tail - 1000;	/* more than it holds */
	ASSERT_EQ(0, cport_post(self->port, 0, 3, 0, 0));
	EXPECT_EQ(tail, ring_tail(&self->r));
	EXPECT_EQ(0, cport_ring_take(&self->r, c, 8));
	ASSERT_EQ(1, cport_wait(self->port, c, 8, 0));
	EXPECT_EQ(3, c[0].user_data);

	/* Put right, the ring works again. */
	self->r.hdr->head = tail;
	ASSERT_EQ(0, cport_post(self->port, 0, 4, 0, 0));
	EXPECT_EQ(tail + 1, ring_tail(&self->r));
	ASSERT_EQ(1, cport_ring_take(&self->r, c, 8));
	EXPECT_EQ(4, c[0].user_data);
}

/*
 * A ring entry holds no place, so a port can have every place of
 * max_pending taken while the ring holds completions.  A wait whose
 * buffer faults then still puts what it took from the ring back (on the
 * ring's allowance, not a place): nothing is lost.
 */
TEST(fault_at_max_pending_loses_nothing)
{
	struct cport_setup s = { .concurrency = 2, .max_pending = 1 };
	struct cport_cqe *bad = fault_page(), c[8];
	struct cport_sqe sqe;
	struct cport_ring r;
	int port, fds[2];
	char buf[2][8];

	ASSERT_NE(NULL, bad);
	port = cport_create_ring(&s, 8, &r);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
	ASSERT_EQ(0, cport_associate(port, fds[0], 10, 0));
	ASSERT_EQ(1, recv_pending(port, fds[0], buf[0], 8, 1, 0, 0));
	ASSERT_EQ(1, write(fds[1], "x", 1));
	ASSERT_TRUE(fdinfo_wait(port, "ring_queued", 1));
	/* The place came back: another RECV holds it now. */
	ASSERT_EQ(1, recv_pending(port, fds[0], buf[1], 8, 2, 0, 0));
	EXPECT_EQ(-ENOBUFS, sub_recv(port, &sqe, fds[0], buf[1], 8, 3,
				     0, 0, 0));
	EXPECT_EQ(-EFAULT, cport_wait(port, bad, 8, 0));
	EXPECT_EQ(1, fdinfo_get(port, "queued"));
	EXPECT_EQ(0, fdinfo_get(port, "ring_dropped"));
	ASSERT_EQ(1, cport_wait(port, c, 8, 0));
	EXPECT_EQ(1, c[0].user_data);
	EXPECT_EQ(1, c[0].res);
	close(fds[0]);
	close(fds[1]);
	munmap(bad, getpagesize());
	cport_ring_unmap(&r);
	cport_close(port);
}

/*
 * A program that rewinds head gets the ring's entries again, and a wait
 * whose buffer faults puts what it took back on the kernel's queue: done
 * in a loop, that grew the queue by a node per entry per call, charged to
 * nothing.  Entries put back come out of an allowance of as many as the
 * ring holds (8 here), then each holds a place of max_pending and a unit
 * as a queued completion does; past both it is dropped (fdinfo
 * ring_dropped), and what was queued comes out, each once.
 */
TEST(rewound_head_is_bounded)
{
	struct cport_setup s = { .concurrency = 2, .max_pending = 32 };
	struct cport_cqe *bad = fault_page(), c[64];
	unsigned long long sum = 0;
	struct cport_ring r;
	int port, i, got, n = 0;
	long long units;
	__u32 tail;

	ASSERT_NE(NULL, bad);
	/* An earlier test's port gives its units back once its thread is
	 * reaped: counted from zero, or that would be in the baseline. */
	ASSERT_TRUE(wait_until(user_units_now() == 0, PROGRESS_MS)) {
		TH_LOG("user_units %lld before the test", user_units_now());
	}
	port = cport_create_ring(&s, 8, &r);
	ASSERT_LE(0, port);
	units = fdinfo_get(port, "user_units");		/* the ring's */
	for (i = 1; i <= 8; i++)
		ASSERT_EQ(0, cport_post(port, 0, i, 0, 0));
	ASSERT_EQ(8, cport_ring_take(&r, c, 8));
	tail = ring_tail(&r);
	for (i = 0; i < 500; i++) {
		__atomic_store_n(&r.hdr->head, tail - 8, __ATOMIC_RELEASE);
		ASSERT_EQ(-EFAULT, cport_wait(port, bad, 8, 0));
	}
	/* 4,000 entries taken and put back; the port's bound held. */
	EXPECT_EQ(8 + 32, fdinfo_get(port, "queued"));
	EXPECT_EQ(32, fdinfo_get(port, "pending"));
	EXPECT_EQ(units + 32, fdinfo_get(port, "user_units"));
	EXPECT_EQ(500 * 8 - 8 - 32, fdinfo_get(port, "ring_dropped"));
	/* The ring put right, the queue drains: the first 40, 1 to 8 each. */
	__atomic_store_n(&r.hdr->head, tail, __ATOMIC_RELEASE);
	while ((got = cport_wait(port, c, 64, 0)) > 0) {
		for (i = 0; i < got; i++)
			sum += c[i].user_data;
		n += got;
	}
	EXPECT_EQ(-ETIMEDOUT, got);
	EXPECT_EQ(40, n);
	EXPECT_EQ(5 * 36, sum);
	EXPECT_EQ(0, fdinfo_get(port, "pending"));
	EXPECT_EQ(units, fdinfo_get(port, "user_units"));
	munmap(bad, getpagesize());
	cport_ring_unmap(&r);
	cport_close(port);
}

/*
 * A hostile process: threads rewrite head (and the entries) at random
 * while others post and wait in the kernel.  The port loses what the
 * scribbler destroys, nothing more: every wait returns (completions or
 * its timeout), destroy works, and the kernel log stays clean (the
 * harness fails the run on any warning).
 */
struct scribble {
	int port;
	struct cport_ring *r;
	int stop;		/* atomic */
	unsigned int waits;	/* atomic: waits that returned */
	unsigned int bad;	/* atomic: unexpected errors */
};

static void *scribbler_fn(void *arg)
{
	struct scribble *x = arg;
	unsigned int seed = 7, v;

	while (!__atomic_load_n(&x->stop, __ATOMIC_RELAXED)) {
		v = rand_r(&seed);
		switch (v % 4) {
		case 0:
			__atomic_store_n(&x->r->hdr->head, v, __ATOMIC_RELAXED);
			break;
		case 1:
			__atomic_store_n(&x->r->hdr->head,
					 x->r->hdr->tail - (v % 32),
					 __ATOMIC_RELAXED);
			break;
		case 2:
			memset(&x->r->cqes[v & x->r->mask], v & 0xff,
			       sizeof(struct cport_cqe));
			break;
		default:
			__atomic_fetch_add(&x->r->hdr->head, 1,
					   __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

static void *scribble_waiter_fn(void *arg)
{
	struct scribble *x = arg;
	struct cport_cqe c[8];
	int n;

	while (!__atomic_load_n(&x->stop, __ATOMIC_RELAXED)) {
		n = cport_wait(x->port, c, 8, 5 * NSEC_PER_MSEC);
		if (n < 0 && n != -ETIMEDOUT && n != -EIDRM)
			__atomic_fetch_add(&x->bad, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&x->waits, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST(hostile_scribbler)
{
	struct cport_setup s = { .concurrency = 2 };
	struct scribble x = {};
	struct cport_ring r;
	pthread_t t[4];
	long long end;
	unsigned int i;
	int ret;

	x.port = cport_create_ring(&s, 16, &r);
	ASSERT_LE(0, x.port);
	x.r = &r;
	ASSERT_EQ(0, pthread_create(&t[0], NULL, scribbler_fn, &x));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, scribbler_fn, &x));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, scribble_waiter_fn, &x));
	ASSERT_EQ(0, pthread_create(&t[3], NULL, scribble_waiter_fn, &x));
	end = now_ns() + (slow_kernel() ? 2 : 1) * NSEC_PER_SEC;
	for (i = 0; now_ns() < end; i++) {
		ret = cport_post(x.port, 0, i, 0, 0);
		if (ret && ret != -ENOSPC)
			break;
	}
	EXPECT_EQ(0, ret == -ENOSPC ? 0 : ret);
	__atomic_store_n(&x.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	EXPECT_EQ(0, x.bad);
	EXPECT_LT(0, x.waits);
	ASSERT_EQ(0, cport_destroy(x.port));
	cport_ring_unmap(&r);
	close(x.port);
}

/* The mapping keeps the ring's pages after the port is gone. */
TEST_F(ring, mapping_outlives_the_port)
{
	ASSERT_EQ(0, cport_post(self->port, 0, 42, 0, 0));
	ASSERT_EQ(0, close(self->port));
	self->port = -1;
	EXPECT_EQ(1, ring_tail(&self->r));
	EXPECT_EQ(42, self->r.cqes[0].user_data);
	ASSERT_EQ(1, cport_ring_take(&self->r, self->cqes, 8));
	EXPECT_EQ(42, self->cqes[0].user_data);
}

TEST_HARNESS_MAIN
