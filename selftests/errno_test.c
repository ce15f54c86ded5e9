// SPDX-License-Identifier: GPL-2.0
/*
 * Bad arguments to every cport ioctl, one at a time, with the exact errno
 * uapi/linux/cport.h documents, and the order in which they are reported
 * when two are bad at once: unknown command (-ENOTTY) first, then the
 * argument (-EFAULT, -EINVAL, -E2BIG; the enter header before any
 * submission), then the port's state (-EBUSY, -EIDRM).  A rejected call
 * must have no effect: nothing queued, SETUP still possible.
 */
#include <stdint.h>
#include <sys/ioctl.h>

#include "cport_test.h"
#include "kselftest_harness.h"

/* ioctl() as 0 / positive, or -errno. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static void fill_posts(struct cport_sqe *sqes, unsigned int nr, __u64 first)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		cport_prep_post(&sqes[i], 0x1000 + first + i, first + i,
				-(__s64)i, i);
}

static struct cport_enter enter_args(struct cport_sqe *sqes, unsigned int nr,
				     struct cport_cqe *cqes, unsigned int max,
				     long long timeout_ns)
{
	struct cport_enter e = {
		.sqes = (uintptr_t)sqes,
		.cqes = (uintptr_t)cqes,
		.nr_sqes = nr,
		.max_cqes = max,
		.timeout_ns = timeout_ns,
	};

	return e;
}

FIXTURE(fresh) {
	int port;
};

FIXTURE_SETUP(fresh)
{
	self->port = cport_open();
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(fresh)
{
	close(self->port);
}

/* ------------------------------------------------------------------ */
/* Unknown commands                                                     */

TEST_F(fresh, unknown_commands)
{
	char buf[8192] = {};
	struct cport_setup good = { .concurrency = 1 };

	EXPECT_EQ(-ENOTTY, xioctl(self->port, _IO(CPORT_IOC_MAGIC, 0x05), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOWR(CPORT_IOC_MAGIC, 0x05, struct cport_enter), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port, _IO(CPORT_IOC_MAGIC, 0x7f), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port, _IO(CPORT_IOC_MAGIC, 0xff), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port, _IO('X', 0x00), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOW('X', 0x00, struct cport_setup), buf));

	/* A known number with another size is another command... */
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOWR(CPORT_IOC_MAGIC, 0x02, char[8]), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOWR(CPORT_IOC_MAGIC, 0x02, char[64]), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOW(CPORT_IOC_MAGIC, 0x03, int), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOW(CPORT_IOC_MAGIC, 0x04, int), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOWR(CPORT_IOC_MAGIC, 0x04, struct cport_enter), buf));
	/* ...and so is one with another direction. */
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOW(CPORT_IOC_MAGIC, 0x01, struct cport_info), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOR(CPORT_IOC_MAGIC, 0x02, struct cport_enter), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->port,
			_IOR(CPORT_IOC_MAGIC, 0x00, struct cport_setup), buf));

	/* None of them touched the port. */
	EXPECT_EQ(0, cport_setup(self->port, &good));
}

/* ------------------------------------------------------------------ */
/* CPORT_IOC_SETUP                                                      */

TEST_F(fresh, setup_smaller_than_ver0)
{
	char buf[sizeof(struct cport_setup)] = {};

	EXPECT_EQ(-EINVAL, xioctl(self->port,
			_IOC(_IOC_WRITE, CPORT_IOC_MAGIC, 0, 0), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->port,
			_IOW(CPORT_IOC_MAGIC, 0, char[8]), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->port,
			_IOW(CPORT_IOC_MAGIC, 0, char[CPORT_SETUP_SIZE_VER0 - 1]),
			buf));
	/* Size is checked before the pointer is used. */
	EXPECT_EQ(-EINVAL, xioctl(self->port,
			_IOW(CPORT_IOC_MAGIC, 0, char[8]), NULL));
	EXPECT_EQ(0, cport_setup(self->port, (struct cport_setup *)buf));
}

TEST_F(fresh, setup_bigger_with_nonzero_tail)
{
	struct {
		struct cport_setup s;
		__u64 tail;
	} big = { .s = { .concurrency = 2, .policy = CPORT_POLICY_FIFO } };
	unsigned long cmd = _IOW(CPORT_IOC_MAGIC, 0, big);
	struct cport_info info;

	big.tail = 1ULL << 63;
	EXPECT_EQ(-E2BIG, xioctl(self->port, cmd, &big));
	big.tail = 1;
	EXPECT_EQ(-E2BIG, xioctl(self->port, cmd, &big));
	/* E2BIG comes before the fields' EINVAL. */
	big.s.flags = 1U << 1;
	EXPECT_EQ(-E2BIG, xioctl(self->port, cmd, &big));

	/* Zero bytes beyond what the kernel knows are fine. */
	big.s.flags = 0;
	big.tail = 0;
	ASSERT_EQ(0, xioctl(self->port, cmd, &big));
	ASSERT_EQ(0, cport_query(self->port, &info));
	EXPECT_EQ(2, info.concurrency);
	EXPECT_EQ(CPORT_POLICY_FIFO, info.policy);
}

TEST_F(fresh, setup_bigger_than_a_page)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long size = page + 8;
	char *buf;

	/* _IOC_SIZE has 14 bits. */
	if (size >= (1UL << _IOC_SIZEBITS))
		SKIP(return, "page size %ld: cannot encode a bigger size", page);
	buf = calloc(1, size);
	ASSERT_NE(NULL, buf);

	/* Even all-zero, more than a page is refused. */
	EXPECT_EQ(-E2BIG, xioctl(self->port,
			_IOC(_IOC_WRITE, CPORT_IOC_MAGIC, 0, size), buf));
	/* A page exactly is accepted when the tail is zero. */
	EXPECT_EQ(0, xioctl(self->port,
			_IOC(_IOC_WRITE, CPORT_IOC_MAGIC, 0, page), buf));
	free(buf);
}

TEST_F(fresh, setup_bad_fields)
{
	static const struct cport_setup bad[] = {
		{ .flags = 1U << 2 },
		{ .flags = 1U << 31 },
		{ .flags = CPORT_SETUP_NO_BLOCK_TRACKING | 1U << 2 },
		{ .flags = CPORT_SETUP_EAGER_RELEASE | 1U << 2 },
		{ .flags = ~0U },
		{ .policy = CPORT_POLICY__NR },
		{ .policy = ~0U },
		{ .concurrency = CPORT_MAX_CONCURRENCY + 1 },
		{ .concurrency = ~0U },
		{ .max_queued = CPORT_MAX_QUEUED + 1 },
		{ .max_queued = ~0U },
		{ .max_pending = CPORT_MAX_PENDING + 1 },
		{ .max_pending = ~0U },
		{ .resv = 1 },
		{ .resv = 1U << 31 },
	};
	struct cport_setup good = { .concurrency = 1 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, cport_setup(self->port, &bad[i])) {
			TH_LOG("bad setup #%u", i);
		}
	/* A refused setup does not use up the port. */
	EXPECT_EQ(0, cport_setup(self->port, &good));
}

/* The largest max_pending is accepted; one more is not (above). */
/*
 * policy_name: NUL-terminated within its 16 bytes, zero after the NUL,
 * no number with it (-EINVAL); a name nobody registered: -ENOENT, after
 * the argument's checks and before the port's state (-EIDRM, -EBUSY).
 */
TEST_F(fresh, setup_policy_name)
{
	struct cport_setup s = {};
	struct cport_info info;

	memset(s.policy_name, 'a', sizeof(s.policy_name));
	EXPECT_EQ(-EINVAL, xioctl(self->port, CPORT_IOC_SETUP, &s));
	memset(s.policy_name, 0, sizeof(s.policy_name));
	strcpy(s.policy_name, "fifo");
	s.policy_name[10] = 'x';
	EXPECT_EQ(-EINVAL, xioctl(self->port, CPORT_IOC_SETUP, &s));
	s.policy_name[10] = 0;
	s.policy = CPORT_POLICY_FIFO;
	EXPECT_EQ(-EINVAL, xioctl(self->port, CPORT_IOC_SETUP, &s));
	s.policy = 0;
	strcpy(s.policy_name, "nosuchpolicy");
	EXPECT_EQ(-ENOENT, xioctl(self->port, CPORT_IOC_SETUP, &s));
	/* Not even a valid name is -ENOENT: nothing can have registered it. */
	memset(s.policy_name, 0, sizeof(s.policy_name));
	strcpy(s.policy_name, "Bad Name");
	EXPECT_EQ(-ENOENT, xioctl(self->port, CPORT_IOC_SETUP, &s));

	/* None of them used the port up. */
	memset(s.policy_name, 0, sizeof(s.policy_name));
	strcpy(s.policy_name, "fifo");
	ASSERT_EQ(0, xioctl(self->port, CPORT_IOC_SETUP, &s));
	ASSERT_EQ(0, cport_query(self->port, &info));
	EXPECT_EQ(CPORT_POLICY_FIFO, info.policy);

	/* Set up: -ENOENT still comes first, then -EBUSY. */
	strcpy(s.policy_name, "nosuchpolicy");
	EXPECT_EQ(-ENOENT, xioctl(self->port, CPORT_IOC_SETUP, &s));
	memset(s.policy_name, 0, sizeof(s.policy_name));
	strcpy(s.policy_name, "lifo");
	EXPECT_EQ(-EBUSY, xioctl(self->port, CPORT_IOC_SETUP, &s));
	/* Destroyed: -ENOENT, then -EIDRM. */
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-EIDRM, xioctl(self->port, CPORT_IOC_SETUP, &s));
	strcpy(s.policy_name, "nosuchpolicy");
	EXPECT_EQ(-ENOENT, xioctl(self->port, CPORT_IOC_SETUP, &s));
}

TEST_F(fresh, setup_max_pending_limit)
{
	struct cport_setup s = { .max_pending = CPORT_MAX_PENDING };
	struct cport_info info;

	ASSERT_EQ(0, cport_setup(self->port, &s));
	ASSERT_EQ(0, cport_query(self->port, &info));
	EXPECT_EQ(CPORT_MAX_PENDING, info.max_pending);
}

/*
 * A VER0 argument (16 bytes) is still a setup: the VER1 fields are not
 * read (garbage after the 16 bytes is not looked at) and take their
 * defaults.  In a VER1 argument the same garbage is refused.
 */
TEST_F(fresh, setup_ver0_still_works)
{
	struct cport_setup s = {
		.concurrency = 2,
		.max_queued = 10,
		.max_pending = ~0U,
		.resv = ~0U,
	};
	struct cport_info info;

	EXPECT_EQ(-EINVAL, cport_setup(self->port, &s));
	ASSERT_EQ(0, xioctl(self->port, _IOW(CPORT_IOC_MAGIC, 0x00,
					     char[CPORT_SETUP_SIZE_VER0]), &s));
	ASSERT_EQ(0, cport_query(self->port, &info));
	EXPECT_EQ(2, info.concurrency);
	EXPECT_EQ(10, info.max_queued);
	EXPECT_EQ(CPORT_DEFAULT_PENDING, info.max_pending);
	/* It was a real setup: a second one is refused. */
	EXPECT_EQ(-EBUSY, xioctl(self->port, _IOW(CPORT_IOC_MAGIC, 0x00,
					char[CPORT_SETUP_SIZE_VER0]), &s));
}

/*
 * Any size from VER0 up is a setup: a 20-byte argument carries
 * max_pending but not resv, which is not read (the ~0 there would be
 * refused).
 */
TEST_F(fresh, setup_between_ver0_and_ver1)
{
	struct cport_setup s = { .concurrency = 2, .max_pending = 5 };
	struct cport_info info;

	s.resv = ~0U;
	ASSERT_EQ(0, xioctl(self->port, _IOW(CPORT_IOC_MAGIC, 0x00, char[20]),
			    &s));
	ASSERT_EQ(0, cport_query(self->port, &info));
	EXPECT_EQ(2, info.concurrency);
	EXPECT_EQ(5, info.max_pending);
}

TEST_F(fresh, setup_efault)
{
	void *fault = fault_page();
	struct cport_setup good = {};

	ASSERT_NE(NULL, fault);
	EXPECT_EQ(-EFAULT, cport_setup(self->port, NULL));
	EXPECT_EQ(-EFAULT, cport_setup(self->port, fault));
	/* The struct straddles into the faulting page. */
	EXPECT_EQ(-EFAULT, cport_setup(self->port,
			(struct cport_setup *)((char *)fault - 8)) );
	EXPECT_EQ(0, cport_setup(self->port, &good));
}

TEST_F(fresh, setup_twice)
{
	struct cport_setup good = { .concurrency = 1 };
	struct cport_setup good2 = { .flags = CPORT_SETUP_NO_BLOCK_TRACKING };
	struct cport_setup bad = { .flags = 1U << 2 };

	ASSERT_EQ(0, cport_setup(self->port, &good));
	EXPECT_EQ(-EBUSY, cport_setup(self->port, &good));
	EXPECT_EQ(-EBUSY, cport_setup(self->port, &good2));
	EXPECT_EQ(1, fdinfo_get(self->port, "block_tracking"));
	/* The argument is checked before the port's state. */
	EXPECT_EQ(-EINVAL, cport_setup(self->port, &bad));
	EXPECT_EQ(-EFAULT, cport_setup(self->port, NULL));
}

TEST_F(fresh, setup_after_post)
{
	struct cport_setup good = {};

	ASSERT_EQ(0, cport_post(self->port, 1, 2, 3, 4));
	EXPECT_EQ(-EBUSY, cport_setup(self->port, &good));
}

TEST_F(fresh, setup_after_wait)
{
	struct cport_setup good = {};
	struct cport_cqe cqe;

	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_EQ(-EBUSY, cport_setup(self->port, &good));
}

TEST_F(fresh, setup_after_refused_enter)
{
	struct cport_setup good = {};
	struct cport_cqe cqe;
	struct cport_enter e = enter_args(NULL, 0, &cqe, 1, 0);

	e.flags = 1U << 31;
	ASSERT_EQ(-EINVAL, cport_enter(self->port, &e));
	EXPECT_EQ(0, cport_setup(self->port, &good));
}

/* ------------------------------------------------------------------ */
/* CPORT_IOC_QUERY                                                      */

TEST_F(fresh, query_efault)
{
	void *fault = fault_page();

	ASSERT_NE(NULL, fault);
	EXPECT_EQ(-EFAULT, cport_query(self->port, NULL));
	EXPECT_EQ(-EFAULT, cport_query(self->port, fault));
}

#define QUERY_SIZED(n)	_IOC(_IOC_READ, CPORT_IOC_MAGIC, 0x01, (n))

/* QUERY is size-versioned: shorter than version 0 is refused... */
TEST_F(fresh, query_smaller_than_ver0)
{
	unsigned char buf[CPORT_INFO_SIZE_VER0];

	memset(buf, 0xa5, sizeof(buf));
	EXPECT_EQ(-EINVAL, xioctl(self->port, QUERY_SIZED(0), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->port, QUERY_SIZED(8), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->port,
				  QUERY_SIZED(CPORT_INFO_SIZE_VER0 - 8), buf));
	EXPECT_EQ(0xa5, buf[0]);
	/* ... and so is more than a page (the size field allows 16 KiB). */
	EXPECT_EQ(-E2BIG, xioctl(self->port, QUERY_SIZED(8192), buf));
}

/* ... a longer record gets the known fields and zeros past them. */
TEST_F(fresh, query_longer_record)
{
	static unsigned char buf[4096];
	struct cport_info info;
	size_t sizes[] = { CPORT_INFO_SIZE_VER0 + 8, sizeof(info) + 8, 512,
			   4096 };
	unsigned int i, j;

	ASSERT_EQ(0, xioctl(self->port, CPORT_IOC_QUERY, &info));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(buf, 0xa5, sizeof(buf));
		ASSERT_EQ(0, xioctl(self->port, QUERY_SIZED(sizes[i]), buf));
		/* A record between two versions: what fits of the known. */
		EXPECT_EQ(0, memcmp(buf, &info, sizes[i] < sizeof(info) ?
						 sizes[i] : sizeof(info)));
		for (j = sizeof(info); j < sizes[i]; j++)
			if (buf[j])
				break;
		EXPECT_EQ(sizes[i] > sizeof(info) ? sizes[i] : sizeof(info), j) {
			TH_LOG("size %zu: byte %u not zeroed", sizes[i], j);
		}
		/* Nothing past the size given is written. */
		if (sizes[i] < sizeof(buf))
			EXPECT_EQ(0xa5, buf[sizes[i]]);
	}
}

/* ------------------------------------------------------------------ */
/* CPORT_IOC_ENTER: the header                                          */

FIXTURE(port) {
	int port;
	struct cport_sqe sqes[CPORT_MAX_ENTER + 1];
	struct cport_cqe cqes[CPORT_MAX_ENTER + 1];
};

FIXTURE_SETUP(port)
{
	self->port = cport_create(NULL);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
	fill_posts(self->sqes, CPORT_MAX_ENTER + 1, 1);
}

FIXTURE_TEARDOWN(port)
{
	close(self->port);
}

/*
 * Each bad header comes with one good submission: the header must be
 * refused before anything is submitted, so nothing may be queued.
 */
TEST_F(port, enter_bad_header)
{
	struct cport_enter e;

	e = enter_args(self->sqes, 1, NULL, 0, 0);
	e.flags = 1U << 1;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));
	e.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(self->sqes, 1, NULL, 0, 0);
	e.resv = 1;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(self->sqes, 1, NULL, 0, 0);
	e.resv = 1ULL << 63;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(self->sqes, CPORT_MAX_ENTER + 1, NULL, 0, 0);
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(self->sqes, 1, self->cqes, CPORT_MAX_ENTER + 1, 0);
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(self->sqes, 1, self->cqes, 1, -1);
	e.flags = CPORT_ENTER_ABSTIME;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));
	e.timeout_ns = INT64_MIN;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(self->sqes, 0, self->cqes, 0, 0);
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));
	e.timeout_ns = -1;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(0, fdinfo_get(self->port, "posts"));
}

/* A bad header is reported before the submissions are even read. */
TEST_F(port, enter_header_before_sqes)
{
	void *fault = fault_page();
	struct cport_enter e;

	ASSERT_NE(NULL, fault);

	e = enter_args(fault, 1, NULL, 0, 0);
	e.flags = 1U << 1;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(fault, 1, NULL, 0, 0);
	e.resv = 1;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(fault, CPORT_MAX_ENTER + 1, NULL, 0, 0);
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	e = enter_args(fault, 1, fault, CPORT_MAX_ENTER + 1, 0);
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	/* The last header check still comes before the submissions. */
	e = enter_args(fault, 1, fault, 1, -1);
	e.flags = CPORT_ENTER_ABSTIME;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));

	/* With a good header the same pointer faults. */
	e = enter_args(fault, 1, NULL, 0, 0);
	EXPECT_EQ(-EFAULT, cport_enter(self->port, &e));
	EXPECT_EQ(0, e.submitted);
}

/* A bad header never waits, even with an infinite timeout. */
TEST_F(port, enter_bad_header_does_not_wait)
{
	struct cport_enter e;

	ASSERT_EQ(0, cport_post(self->port, 1, 1, 0, 0));
	e = enter_args(NULL, 0, self->cqes, 1, -1);
	e.resv = 1;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));
	/* ... nor dequeues. */
	EXPECT_EQ(1, port_drain(self->port, self->cqes, 8));
}

TEST_F(port, enter_limits_accepted)
{
	unsigned int submitted = 0;

	/* nr_sqes == CPORT_MAX_ENTER and max_cqes == CPORT_MAX_ENTER. */
	EXPECT_EQ(0, cport_submit_and_wait(self->port, self->sqes,
					   CPORT_MAX_ENTER, NULL, 0, 0,
					   &submitted));
	EXPECT_EQ(CPORT_MAX_ENTER, submitted);
	EXPECT_EQ(CPORT_MAX_ENTER, cport_wait(self->port, self->cqes,
					      CPORT_MAX_ENTER, 0));
	EXPECT_EQ(1, self->cqes[0].user_data);
	EXPECT_EQ(CPORT_MAX_ENTER, self->cqes[CPORT_MAX_ENTER - 1].user_data);
}

TEST_F(port, enter_efault)
{
	void *fault = fault_page();
	struct cport_enter e;

	ASSERT_NE(NULL, fault);
	EXPECT_EQ(-EFAULT, cport_enter(self->port, NULL));
	EXPECT_EQ(-EFAULT, cport_enter(self->port, fault));

	e = enter_args(NULL, 1, NULL, 0, 0);
	EXPECT_EQ(-EFAULT, cport_enter(self->port, &e));
	EXPECT_EQ(0, e.submitted);
	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
}

/* Submissions that run into a faulting page: those before it are taken. */
TEST_F(port, enter_sqes_fault_midway)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cport_sqe *sqes;
	unsigned int submitted = 99;
	char *map;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	sqes = (struct cport_sqe *)(map + page) - 2;
	fill_posts(sqes, 2, 10);

	EXPECT_EQ(-EFAULT, cport_submit_and_wait(self->port, sqes, 3, NULL, 0,
						 0, &submitted));
	EXPECT_EQ(2, submitted);
	ASSERT_EQ(2, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(10, self->cqes[0].user_data);
	EXPECT_EQ(11, self->cqes[1].user_data);
}

/* cqes that cannot be written: nothing is lost, the order is kept. */
TEST_F(port, enter_cqes_efault_requeues)
{
	void *fault = fault_page();

	ASSERT_NE(NULL, fault);
	ASSERT_EQ(2, cport_submit(self->port, self->sqes, 2));
	EXPECT_EQ(-EFAULT, cport_wait(self->port, NULL, 1, 0));
	EXPECT_EQ(-EFAULT, cport_wait(self->port, fault, 2, -1));
	EXPECT_EQ(2, fdinfo_get(self->port, "queued"));
	ASSERT_EQ(2, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(1, self->cqes[0].user_data);
	EXPECT_EQ(2, self->cqes[1].user_data);
}

/* Some cqes written before the fault: their count is returned. */
TEST_F(port, enter_cqes_partial_fault)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cport_cqe *cqes;
	char *map;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	cqes = (struct cport_cqe *)(map + page) - 1;

	ASSERT_EQ(3, cport_submit(self->port, self->sqes, 3));
	EXPECT_EQ(1, cport_wait(self->port, cqes, 3, 0));
	EXPECT_EQ(1, cqes[0].user_data);
	ASSERT_EQ(2, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(2, self->cqes[0].user_data);
	EXPECT_EQ(3, self->cqes[1].user_data);
}

/* ------------------------------------------------------------------ */
/* CPORT_IOC_ENTER: the submissions                                     */

FIXTURE_VARIANT(bad_sqe) {
	const char *what;
	void (*spoil)(struct cport_sqe *sqe);
};

FIXTURE(bad_sqe) {
	int port;
	struct cport_sqe sqes[4];
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(bad_sqe)
{
	self->port = cport_create(NULL);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
	fill_posts(self->sqes, 4, 1);
	variant->spoil(&self->sqes[2]);
}

FIXTURE_TEARDOWN(bad_sqe)
{
	close(self->port);
}

#define BAD_SQE(name, stmt)						\
	static void spoil_##name(struct cport_sqe *sqe) { stmt; }	\
	FIXTURE_VARIANT_ADD(bad_sqe, name) {				\
		.what = #stmt,						\
		.spoil = spoil_##name,					\
	}

BAD_SQE(opcode_0, sqe->opcode = 0);
BAD_SQE(opcode_nr, sqe->opcode = CPORT_OP__NR);
BAD_SQE(opcode_255, sqe->opcode = 255);
BAD_SQE(flags_1, sqe->flags = 1);
BAD_SQE(flags_post, sqe->flags = CPORT_SQE_POST);
BAD_SQE(flags_high, sqe->flags = 0x8000);
BAD_SQE(post_fd, sqe->fd = 1);
BAD_SQE(post_fd_neg, sqe->fd = -1);
BAD_SQE(post_addr, sqe->addr = 0x1000);
BAD_SQE(op_flags_1, sqe->op_flags = 1);
BAD_SQE(op_flags_high, sqe->op_flags = 1U << 31);
/* POST writes nothing back: status and bytes are not outputs there. */
BAD_SQE(post_status, sqe->status = CPORT_STATUS_PENDING);
BAD_SQE(post_status_high, sqe->status = 0xff);
BAD_SQE(post_bytes, sqe->bytes = 1);
BAD_SQE(post_bytes_high, sqe->bytes = 0xffffffff);

/* 2 good, then the bad one, then a good one: the call stops at the bad one. */
TEST_F(bad_sqe, reported_at_its_index)
{
	unsigned int submitted = 99;

	EXPECT_EQ(-EINVAL, cport_submit_and_wait(self->port, self->sqes, 4,
						 NULL, 0, 0, &submitted)) {
		TH_LOG("%s", variant->what);
	}
	EXPECT_EQ(2, submitted);
	/* The two before it are queued, intact; nothing after it. */
	ASSERT_EQ(2, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(1, self->cqes[0].user_data);
	EXPECT_EQ(2, self->cqes[1].user_data);
	EXPECT_EQ(0x1001, self->cqes[0].key);
	EXPECT_EQ(0x1002, self->cqes[1].key);
	EXPECT_EQ(CPORT_OP_POST, self->cqes[1].op);
}

/* The bad one alone: nothing queued, submitted == 0. */
TEST_F(bad_sqe, alone)
{
	unsigned int submitted = 99;

	EXPECT_EQ(-EINVAL, cport_submit_and_wait(self->port, &self->sqes[2], 1,
						 NULL, 0, 0, &submitted));
	EXPECT_EQ(0, submitted);
	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(-EINVAL, cport_submit(self->port, &self->sqes[2], 1));
}

/* A failed submission returns at once: no wait, no dequeue. */
TEST_F(bad_sqe, stops_before_waiting)
{
	unsigned int submitted = 99;

	EXPECT_EQ(-EINVAL, cport_submit_and_wait(self->port, &self->sqes[1], 2,
						 self->cqes, 1, -1,
						 &submitted));
	EXPECT_EQ(1, submitted);
	ASSERT_EQ(1, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(2, self->cqes[0].user_data);
}

/*
 * A POST is untouched by the kernel: the same record submitted twice
 * posts twice, each completion with bytes = len and res as given.
 */
TEST_F(port, post_record_unchanged)
{
	struct cport_sqe sqe, copy;

	cport_prep_post(&sqe, 0x77, 0x88, -5, 9);
	copy = sqe;
	ASSERT_EQ(1, cport_submit(self->port, &sqe, 1));
	EXPECT_EQ(0, memcmp(&sqe, &copy, sizeof(sqe)));
	ASSERT_EQ(1, cport_submit(self->port, &sqe, 1));
	ASSERT_EQ(2, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(0x77, self->cqes[0].key);
	EXPECT_EQ(0x88, self->cqes[0].user_data);
	EXPECT_EQ(-5, self->cqes[0].res);
	EXPECT_EQ(9, self->cqes[0].bytes);
	EXPECT_EQ(9, self->cqes[1].bytes);
}

/* ------------------------------------------------------------------ */
/* Record sizes: sqe_size and cqe_size                                  */

/* Posts laid out with a stride of @size bytes, the tails zeroed. */
static void fill_posts_stride(unsigned char *buf, size_t size, unsigned int nr,
			      __u64 first)
{
	unsigned int i;

	memset(buf, 0, size * nr);
	for (i = 0; i < nr; i++)
		cport_prep_post((struct cport_sqe *)(buf + i * size),
				0x1000 + first + i, first + i, -(__s64)i, i);
}

TEST_F(port, enter_bad_record_sizes)
{
	static const __u32 bad_sqe[] = {
		8, 32, 56, 63, 65, 68, 100, CPORT_SQE_SIZE_MAX + 8, 4096,
		1U << 31, ~0U,
	};
	static const __u32 bad_cqe[] = { 8, 40, 47, 49, 56, 64, 4096, ~0U };
	struct cport_enter e;
	unsigned int i;

	for (i = 0; i < sizeof(bad_sqe) / sizeof(bad_sqe[0]); i++) {
		e = enter_args(self->sqes, 1, NULL, 0, 0);
		e.sqe_size = bad_sqe[i];
		EXPECT_EQ(-EINVAL, cport_enter(self->port, &e)) {
			TH_LOG("sqe_size %u", bad_sqe[i]);
		}
	}
	for (i = 0; i < sizeof(bad_cqe) / sizeof(bad_cqe[0]); i++) {
		e = enter_args(self->sqes, 1, self->cqes, 1, 0);
		e.cqe_size = bad_cqe[i];
		EXPECT_EQ(-EINVAL, cport_enter(self->port, &e)) {
			TH_LOG("cqe_size %u", bad_cqe[i]);
		}
	}
	/* Header errors: nothing was submitted. */
	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
}

/* The sizes this kernel knows, given explicitly, are the defaults. */
TEST_F(port, enter_record_sizes_ver0)
{
	struct cport_enter e;

	e = enter_args(self->sqes, 3, self->cqes, 3, 0);
	e.sqe_size = CPORT_SQE_SIZE_VER0;
	e.cqe_size = CPORT_CQE_SIZE_VER0;
	ASSERT_EQ(3, cport_enter(self->port, &e));
	EXPECT_EQ(3, e.submitted);
	EXPECT_EQ(1, self->cqes[0].user_data);
	EXPECT_EQ(3, self->cqes[2].user_data);
	EXPECT_EQ(0x1003, self->cqes[2].key);
}

/*
 * A newer program's longer records: read at their stride, the bytes past
 * what the kernel knows must be zero.
 */
TEST_F(port, enter_longer_sqes)
{
	static const __u32 sizes[] = { 72, 128, CPORT_SQE_SIZE_MAX };
	static unsigned char buf[4 * CPORT_SQE_SIZE_MAX];
	struct cport_enter e;
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill_posts_stride(buf, sizes[i], 4, 10 * i);
		e = enter_args((struct cport_sqe *)buf, 4, NULL, 0, 0);
		e.sqe_size = sizes[i];
		EXPECT_EQ(0, cport_enter(self->port, &e));
		EXPECT_EQ(4, e.submitted);
		ASSERT_EQ(4, port_drain(self->port, self->cqes, 8));
		EXPECT_EQ(10 * i, self->cqes[0].user_data);
		EXPECT_EQ(10 * i + 3, self->cqes[3].user_data) {
			TH_LOG("sqe_size %u", sizes[i]);
		}
		EXPECT_EQ(0x1000 + 10 * i + 3, self->cqes[3].key);
		EXPECT_EQ(-3, self->cqes[3].res);
	}

	/* A non-zero byte past the known 64 stops the call there: -E2BIG. */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill_posts_stride(buf, sizes[i], 4, 100);
		buf[2 * sizes[i] + sizes[i] - 1] = 1;
		e = enter_args((struct cport_sqe *)buf, 4, NULL, 0, 0);
		e.sqe_size = sizes[i];
		EXPECT_EQ(-E2BIG, cport_enter(self->port, &e));
		EXPECT_EQ(2, e.submitted);
		ASSERT_EQ(2, port_drain(self->port, self->cqes, 8));
		EXPECT_EQ(101, self->cqes[1].user_data);

		/* ... before anything else of the record is looked at. */
		fill_posts_stride(buf, sizes[i], 4, 100);
		buf[0] = 99;	/* no such opcode */
		buf[sizes[i] - 1] = 1;
		e = enter_args((struct cport_sqe *)buf, 4, NULL, 0, 0);
		e.sqe_size = sizes[i];
		EXPECT_EQ(-E2BIG, cport_enter(self->port, &e));
		EXPECT_EQ(0, e.submitted);

		fill_posts_stride(buf, sizes[i], 4, 100);
		buf[CPORT_SQE_SIZE_VER0] = 0x80;
		e = enter_args((struct cport_sqe *)buf, 4, NULL, 0, 0);
		e.sqe_size = sizes[i];
		EXPECT_EQ(-E2BIG, cport_enter(self->port, &e));
		EXPECT_EQ(0, e.submitted);
		EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
	}
}

/* A page followed by one that faults (PROT_NONE), or NULL. */
static unsigned char *guard_page_before(void)
{
	long page = getpagesize();
	unsigned char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map + page, page, PROT_NONE)) {
		munmap(map, 2 * page);
		return NULL;
	}
	return map;
}

/* A longer record whose tail is not mapped: -EFAULT, nothing taken. */
TEST_F(port, enter_longer_sqe_tail_faults)
{
	unsigned char *page = guard_page_before();
	struct cport_enter e;

	ASSERT_NE(NULL, page);
	/* One 128-byte record whose last 64 bytes lie in the guard page. */
	fill_posts_stride(page + getpagesize() - 64, 64, 1, 7);
	e = enter_args((struct cport_sqe *)(page + getpagesize() - 64), 1,
		       NULL, 0, 0);
	e.sqe_size = 128;
	EXPECT_EQ(-EFAULT, cport_enter(self->port, &e));
	EXPECT_EQ(0, e.submitted);
	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
	/* The same record at the known size goes through. */
	e.sqe_size = 0;
	EXPECT_EQ(0, cport_enter(self->port, &e));
	ASSERT_EQ(1, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(7, self->cqes[0].user_data);
}

/* ------------------------------------------------------------------ */
/* CPORT_IOC_LEAVE                                                      */

static int leave(int port, unsigned long arg)
{
	return xioctl(port, CPORT_IOC_LEAVE, (void *)arg);
}

/* Only a thread that waited on the port is associated with it. */
TEST_F(fresh, leave_not_associated)
{
	struct cport_setup good = { .concurrency = 1 };
	struct cport_cqe cqe;
	struct cport_enter e = enter_args(NULL, 0, &cqe, 1, 0);

	EXPECT_EQ(-ENOENT, leave(self->port, 0));
	/* A refused wait does not associate... */
	e.flags = 1U << 31;
	ASSERT_EQ(-EINVAL, cport_enter(self->port, &e));
	EXPECT_EQ(-ENOENT, leave(self->port, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "threads"));
	/* ...and neither LEAVE nor the refused wait used the port up. */
	ASSERT_EQ(0, cport_setup(self->port, &good));
	/* Nor does a post. */
	ASSERT_EQ(0, cport_post(self->port, 1, 2, 3, 4));
	EXPECT_EQ(-ENOENT, leave(self->port, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "threads"));

	/* A wait does, even one that returns at once. */
	ASSERT_EQ(1, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_EQ(1, fdinfo_get(self->port, "threads"));
	EXPECT_EQ(1, fdinfo_get(self->port, "running"));
	EXPECT_EQ(0, leave(self->port, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "threads"));
	EXPECT_EQ(0, fdinfo_get(self->port, "running"));
	EXPECT_EQ(-ENOENT, leave(self->port, 0));

	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_EQ(1, fdinfo_get(self->port, "threads"));
	EXPECT_EQ(0, leave(self->port, 0));
	EXPECT_EQ(-ENOENT, leave(self->port, 0));
}

/* A non-zero argument is refused before the association is looked at. */
TEST_F(fresh, leave_nonzero_arg)
{
	struct cport_cqe cqe;

	EXPECT_EQ(-EINVAL, leave(self->port, 1));
	EXPECT_EQ(-EINVAL, leave(self->port, (unsigned long)&cqe));
	ASSERT_EQ(-ETIMEDOUT, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_EQ(-EINVAL, leave(self->port, 1));
	EXPECT_EQ(-EINVAL, leave(self->port, ~0UL));
	/* Still associated. */
	EXPECT_EQ(1, fdinfo_get(self->port, "threads"));
	EXPECT_EQ(0, leave(self->port, 0));
	EXPECT_EQ(0, fdinfo_get(self->port, "threads"));
}

/* ------------------------------------------------------------------ */
/* CPORT_IOC_DESTROY and the destroyed port                            */

TEST_F(port, destroy_nonzero_arg)
{
	struct cport_info info;

	EXPECT_EQ(-EINVAL, xioctl(self->port, CPORT_IOC_DESTROY, (void *)1));
	EXPECT_EQ(-EINVAL, xioctl(self->port, CPORT_IOC_DESTROY, self->cqes));
	/* Not destroyed. */
	EXPECT_EQ(0, cport_query(self->port, &info));
	EXPECT_EQ(0, fdinfo_get(self->port, "destroyed"));
}

TEST_F(port, after_destroy_everything_eidrm)
{
	struct cport_setup good = {};
	struct cport_info info;
	unsigned int submitted = 99;

	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-EIDRM, cport_query(self->port, &info));
	EXPECT_EQ(-EIDRM, cport_setup(self->port, &good));
	EXPECT_EQ(-EIDRM, cport_post(self->port, 1, 2, 3, 4));
	EXPECT_EQ(-EIDRM, cport_submit_and_wait(self->port, self->sqes, 2,
						NULL, 0, 0, &submitted));
	EXPECT_EQ(0, submitted);
	EXPECT_EQ(-EIDRM, cport_wait(self->port, self->cqes, 1, 0));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, self->cqes, 1, -1));
	EXPECT_EQ(-EIDRM, cport_wait(self->port, self->cqes, 1,
				     10 * NSEC_PER_MSEC));
	EXPECT_EQ(-EIDRM, cport_destroy(self->port));
	/* cport_close() accepts a destroyed port. */
	EXPECT_EQ(0, cport_close(self->port));
	self->port = open("/dev/null", O_RDONLY);
}

/* On a destroyed port a bad argument is still reported as such. */
TEST_F(port, after_destroy_arguments_first)
{
	char small[8] = {};
	struct cport_setup bad = { .flags = 1U << 2 };
	struct cport_enter e;

	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_EQ(-ENOTTY, xioctl(self->port, _IO(CPORT_IOC_MAGIC, 0x05), NULL));
	EXPECT_EQ(-EINVAL, xioctl(self->port,
			_IOW(CPORT_IOC_MAGIC, 0, char[8]), small));
	EXPECT_EQ(-EINVAL, cport_setup(self->port, &bad));
	EXPECT_EQ(-EINVAL, xioctl(self->port, CPORT_IOC_DESTROY, (void *)1));
	EXPECT_EQ(-EINVAL, xioctl(self->port, CPORT_IOC_LEAVE, (void *)1));
	EXPECT_EQ(-EFAULT, cport_enter(self->port, NULL));
	e = enter_args(NULL, 0, self->cqes, 1, -1);
	e.flags = 1U << 1;
	EXPECT_EQ(-EINVAL, cport_enter(self->port, &e));
	/* So is a bad submission. */
	self->sqes[0].op_flags = 1;
	EXPECT_EQ(-EINVAL, cport_submit(self->port, self->sqes, 1));
}

TEST_HARNESS_MAIN
