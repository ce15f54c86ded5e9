// SPDX-License-Identifier: GPL-2.0
/*
 * The cport ABI: the size and offset of every field of every uapi struct
 * (one layout for 32- and 64-bit user space), the ioctl numbers and flag
 * values, and what CPORT_IOC_QUERY reports for a fresh port and for a
 * set-up one.
 */
#include <stddef.h>
#include <sys/ioctl.h>

#include "cport_test.h"
#include "kselftest_harness.h"

#define ASSERT_FIELD(type, field, offset, size) do {			\
	ASSERT_EQ(offset, offsetof(struct type, field));		\
	ASSERT_EQ(size, sizeof(((struct type *)0)->field));		\
} while (0)

TEST(sqe_layout)
{
	ASSERT_EQ(64, sizeof(struct cport_sqe));
	ASSERT_FIELD(cport_sqe, opcode, 0, 1);
	ASSERT_FIELD(cport_sqe, status, 1, 1);
	ASSERT_FIELD(cport_sqe, flags, 2, 2);
	ASSERT_FIELD(cport_sqe, fd, 4, 4);
	ASSERT_FIELD(cport_sqe, user_data, 8, 8);
	ASSERT_FIELD(cport_sqe, addr, 16, 8);
	ASSERT_FIELD(cport_sqe, len, 24, 8);
	ASSERT_FIELD(cport_sqe, key, 32, 8);
	ASSERT_FIELD(cport_sqe, res, 40, 8);
	ASSERT_FIELD(cport_sqe, timeout_ns, 48, 8);
	ASSERT_FIELD(cport_sqe, op_flags, 56, 4);
	ASSERT_FIELD(cport_sqe, bytes, 60, 4);
}

TEST(cqe_layout)
{
	ASSERT_EQ(48, sizeof(struct cport_cqe));
	ASSERT_FIELD(cport_cqe, user_data, 0, 8);
	ASSERT_FIELD(cport_cqe, key, 8, 8);
	ASSERT_FIELD(cport_cqe, res, 16, 8);
	ASSERT_FIELD(cport_cqe, bytes, 24, 8);
	ASSERT_FIELD(cport_cqe, flags, 32, 4);
	ASSERT_FIELD(cport_cqe, op, 36, 1);
	ASSERT_FIELD(cport_cqe, resv0, 37, 1);
	ASSERT_FIELD(cport_cqe, buf, 38, 2);
	ASSERT_FIELD(cport_cqe, seq, 40, 4);
	ASSERT_FIELD(cport_cqe, resv2, 44, 4);
}

TEST(sendfile_layout)
{
	ASSERT_EQ(CPORT_SENDFILE_SIZE_VER0, sizeof(struct cport_sendfile));
	ASSERT_FIELD(cport_sendfile, file_fd, 0, 4);
	ASSERT_FIELD(cport_sendfile, flags, 4, 4);
	ASSERT_FIELD(cport_sendfile, offset, 8, 8);
	ASSERT_FIELD(cport_sendfile, count, 16, 8);
	ASSERT_FIELD(cport_sendfile, head, 24, 8);
	ASSERT_FIELD(cport_sendfile, tail, 32, 8);
	ASSERT_FIELD(cport_sendfile, head_len, 40, 4);
	ASSERT_FIELD(cport_sendfile, tail_len, 44, 4);
}

TEST(enter_layout)
{
	ASSERT_EQ(56, sizeof(struct cport_enter));
	ASSERT_FIELD(cport_enter, sqes, 0, 8);
	ASSERT_FIELD(cport_enter, cqes, 8, 8);
	ASSERT_FIELD(cport_enter, nr_sqes, 16, 4);
	ASSERT_FIELD(cport_enter, max_cqes, 20, 4);
	ASSERT_FIELD(cport_enter, timeout_ns, 24, 8);
	ASSERT_FIELD(cport_enter, flags, 32, 4);
	ASSERT_FIELD(cport_enter, submitted, 36, 4);
	ASSERT_FIELD(cport_enter, sqe_size, 40, 4);
	ASSERT_FIELD(cport_enter, cqe_size, 44, 4);
	ASSERT_FIELD(cport_enter, resv, 48, 8);
}

TEST(setup_layout)
{
	ASSERT_EQ(16, CPORT_SETUP_SIZE_VER0);
	ASSERT_EQ(24, CPORT_SETUP_SIZE_VER1);
	ASSERT_EQ(40, CPORT_SETUP_SIZE_VER2);
	ASSERT_EQ(48, CPORT_SETUP_SIZE_VER3);
	ASSERT_EQ(CPORT_SETUP_SIZE_VER3, sizeof(struct cport_setup));
	ASSERT_FIELD(cport_setup, flags, 0, 4);
	ASSERT_FIELD(cport_setup, concurrency, 4, 4);
	ASSERT_FIELD(cport_setup, policy, 8, 4);
	ASSERT_FIELD(cport_setup, max_queued, 12, 4);
	/* VER0 ends where the fields added in VER1 begin. */
	ASSERT_EQ(CPORT_SETUP_SIZE_VER0, offsetof(struct cport_setup, max_pending));
	ASSERT_FIELD(cport_setup, max_pending, 16, 4);
	ASSERT_FIELD(cport_setup, resv, 20, 4);
	/* VER1 ends where the name added in VER2 begins. */
	ASSERT_EQ(CPORT_SETUP_SIZE_VER1, offsetof(struct cport_setup, policy_name));
	ASSERT_FIELD(cport_setup, policy_name, 24, 16);
	/* VER2 ends where the ring added in VER3 begins. */
	ASSERT_EQ(CPORT_SETUP_SIZE_VER2, offsetof(struct cport_setup, ring_entries));
	ASSERT_FIELD(cport_setup, ring_entries, 40, 4);
	ASSERT_FIELD(cport_setup, resv3, 44, 4);
}

TEST(ring_layout)
{
	ASSERT_EQ(0, CPORT_RING_OFFSET);
	ASSERT_EQ(128, CPORT_RING_CQES);
	ASSERT_EQ(16384, CPORT_MAX_RING_ENTRIES);
	ASSERT_EQ(CPORT_RING_CQES, sizeof(struct cport_ring_hdr));
	ASSERT_FIELD(cport_ring_hdr, head, 0, 4);
	ASSERT_FIELD(cport_ring_hdr, tail, 64, 4);
	ASSERT_FIELD(cport_ring_hdr, ring_entries, 68, 4);
	ASSERT_FIELD(cport_ring_hdr, cqe_size, 72, 4);

}

TEST(info_layout)
{
	ASSERT_EQ(80, CPORT_INFO_SIZE_VER0);
	ASSERT_EQ(360, CPORT_INFO_SIZE_VER1);
	ASSERT_EQ(368, CPORT_INFO_SIZE_VER2);
	ASSERT_EQ(CPORT_INFO_SIZE_VER2, sizeof(struct cport_info));
	ASSERT_FIELD(cport_info, ring_entries, 360, 4);
	ASSERT_FIELD(cport_info, resv2, 364, 4);
	ASSERT_FIELD(cport_info, api_version, 0, 4);
	ASSERT_FIELD(cport_info, features, 4, 4);
	ASSERT_FIELD(cport_info, ops, 8, 8);
	ASSERT_FIELD(cport_info, setup_flags, 16, 4);
	ASSERT_FIELD(cport_info, enter_flags, 20, 4);
	ASSERT_FIELD(cport_info, sqe_flags, 24, 4);
	ASSERT_FIELD(cport_info, policies, 28, 4);
	ASSERT_FIELD(cport_info, concurrency, 32, 4);
	ASSERT_FIELD(cport_info, policy, 36, 4);
	ASSERT_FIELD(cport_info, max_queued, 40, 4);
	ASSERT_FIELD(cport_info, max_enter, 44, 4);
	ASSERT_FIELD(cport_info, port_flags, 48, 4);
	ASSERT_FIELD(cport_info, max_pending, 52, 4);
	ASSERT_FIELD(cport_info, resv, 56, 24);
	ASSERT_EQ(CPORT_INFO_SIZE_VER0, offsetof(struct cport_info, policy_name));
	ASSERT_FIELD(cport_info, policy_name, 80, 16);
	ASSERT_FIELD(cport_info, nr_policies, 96, 4);
	ASSERT_FIELD(cport_info, resv1, 100, 4);
	ASSERT_FIELD(cport_info, policy_names, 104, 256);
}

TEST(constants)
{
	ASSERT_EQ(1, CPORT_API_VERSION);
	ASSERT_EQ(0, CPORT_POLICY_LIFO);
	ASSERT_EQ(1, CPORT_POLICY_FIFO);
	ASSERT_EQ(2, CPORT_POLICY_RR);
	ASSERT_EQ(3, CPORT_POLICY_CPU);
	ASSERT_EQ(16, CPORT_POLICY_NAME_LEN);
	ASSERT_EQ(0xffffffffU, CPORT_POLICY_NAMED);
	ASSERT_EQ(16, CPORT_MAX_POLICIES);
	ASSERT_EQ(1, CPORT_OP_POST);
	ASSERT_EQ(2, CPORT_OP_ASSOCIATE);
	ASSERT_EQ(3, CPORT_OP_DISSOCIATE);
	ASSERT_EQ(4, CPORT_OP_RECV);
	ASSERT_EQ(5, CPORT_OP_SEND);
	ASSERT_EQ(6, CPORT_OP_ACCEPT);
	ASSERT_EQ(7, CPORT_OP_CANCEL);
	ASSERT_EQ(8, CPORT_OP_CONNECT);
	ASSERT_EQ(9, CPORT_OP_PROVIDE_BUFFERS);
	ASSERT_EQ(10, CPORT_OP_RECVMSG);
	ASSERT_EQ(11, CPORT_OP_SENDMSG);
	ASSERT_EQ(12, CPORT_OP_SENDFILE);
	ASSERT_EQ(13, CPORT_OP_DISCONNECT);
	ASSERT_EQ(14, CPORT_OP_READ);
	ASSERT_EQ(15, CPORT_OP_WRITE);
	ASSERT_EQ(16, CPORT_OP__NR);
	ASSERT_EQ(1, CPORT_DISCONNECT_WAIT);
	ASSERT_EQ(48, CPORT_SENDFILE_SIZE_VER0);
	ASSERT_EQ(4096, CPORT_SENDFILE_SIZE_MAX);
	ASSERT_EQ(1, CPORT_STATUS_PENDING);
	ASSERT_EQ(2, CPORT_STATUS_INLINE);
	ASSERT_EQ(1, CPORT_SQE_INLINE);
	ASSERT_EQ(2, CPORT_SQE_POST);
	ASSERT_EQ(4, CPORT_SQE_INLINE_POST);
	ASSERT_EQ(3, CPORT_STATUS_INLINE_POSTED);
	ASSERT_EQ(1, CPORT_ASSOC_INLINE);
	ASSERT_EQ(1, CPORT_RECV_FILL);
	ASSERT_EQ(1, CPORT_ACCEPT_CLOEXEC);
	ASSERT_EQ(2, CPORT_ACCEPT_NONBLOCK);
	ASSERT_EQ(4, CPORT_ACCEPT_ASSOCIATE);
	ASSERT_EQ(8, CPORT_ACCEPT_ASSOC_INLINE);
	ASSERT_EQ(1, CPORT_CANCEL_USER_DATA);
	ASSERT_EQ(2, CPORT_CANCEL_FD);
	ASSERT_EQ(4, CPORT_CANCEL_KEY);
	ASSERT_EQ(8, CPORT_CANCEL_ALL);
	ASSERT_EQ(0x7ffff000, CPORT_MAX_IO);
	ASSERT_EQ(64, CPORT_SQE_SIZE_VER0);
	ASSERT_EQ(256, CPORT_SQE_SIZE_MAX);
	ASSERT_EQ(48, CPORT_CQE_SIZE_VER0);
	ASSERT_EQ(80, CPORT_INFO_SIZE_VER0);
	ASSERT_EQ(1, CPORT_CQE_F_CTRUNC);
	ASSERT_EQ(2, CPORT_CQE_F_INLINE);
	ASSERT_EQ(2, CPORT_RECV_VEC);
	ASSERT_EQ(2, CPORT_SEND_VEC);
	ASSERT_EQ(1024, CPORT_MAX_IOV);
	ASSERT_EQ(4, CPORT_RECV_BUFFER);
	ASSERT_EQ(8, CPORT_RECV_MULTISHOT);
	ASSERT_EQ(4, CPORT_CQE_F_BUFFER);
	ASSERT_EQ(8, CPORT_CQE_F_MORE);
	ASSERT_EQ(16, CPORT_CQE_F_TRUNC);
	ASSERT_EQ(1, CPORT_RECVMSG_CMSG_CLOEXEC);
	ASSERT_EQ(65536, CPORT_MAX_CONTROL);
	ASSERT_EQ(64, CPORT_MAX_BUF_GROUPS);
	ASSERT_EQ(65536, CPORT_MAX_BUFS);
	ASSERT_EQ(1, CPORT_ENTER_ABSTIME);
	ASSERT_EQ(1, CPORT_SETUP_NO_BLOCK_TRACKING);
	ASSERT_EQ(2, CPORT_SETUP_EAGER_RELEASE);
	ASSERT_EQ(1, CPORT_INFO_BLOCK_TRACKING);
	ASSERT_EQ(2, CPORT_INFO_EAGER_RELEASE);
	ASSERT_EQ(1, CPORT_FEAT_HANDOFF);
	ASSERT_EQ(2, CPORT_FEAT_CONCURRENCY);
	ASSERT_EQ(4, CPORT_FEAT_POLL);
	ASSERT_EQ(8, CPORT_FEAT_BLOCK_TRACKING);
	ASSERT_EQ(16, CPORT_FEAT_SOCKETS);
	ASSERT_EQ(32, CPORT_FEAT_RING);
	ASSERT_EQ(1, CPORT_INFO_BLOCK_TRACKING);
	ASSERT_EQ(4096, CPORT_MAX_ENTER);
	ASSERT_EQ(4096, CPORT_MAX_CONCURRENCY);
	ASSERT_EQ(65536, CPORT_DEFAULT_QUEUED);
	ASSERT_EQ(1U << 22, CPORT_MAX_QUEUED);
	ASSERT_EQ(65536, CPORT_DEFAULT_PENDING);
	ASSERT_EQ(1U << 22, CPORT_MAX_PENDING);
}

TEST(ioctl_numbers)
{
	ASSERT_EQ(0xC9, CPORT_IOC_MAGIC);

	ASSERT_EQ(CPORT_IOC_MAGIC, _IOC_TYPE(CPORT_IOC_SETUP));
	ASSERT_EQ(0x00, _IOC_NR(CPORT_IOC_SETUP));
	ASSERT_EQ(_IOC_WRITE, _IOC_DIR(CPORT_IOC_SETUP));
	ASSERT_EQ(CPORT_SETUP_SIZE_VER3, _IOC_SIZE(CPORT_IOC_SETUP));
	ASSERT_EQ(48, _IOC_SIZE(CPORT_IOC_SETUP));

	ASSERT_EQ(CPORT_IOC_MAGIC, _IOC_TYPE(CPORT_IOC_QUERY));
	ASSERT_EQ(0x01, _IOC_NR(CPORT_IOC_QUERY));
	ASSERT_EQ(_IOC_READ, _IOC_DIR(CPORT_IOC_QUERY));
	ASSERT_EQ(368, _IOC_SIZE(CPORT_IOC_QUERY));
	ASSERT_EQ(CPORT_INFO_SIZE_VER2, _IOC_SIZE(CPORT_IOC_QUERY));

	ASSERT_EQ(CPORT_IOC_MAGIC, _IOC_TYPE(CPORT_IOC_ENTER));
	ASSERT_EQ(0x02, _IOC_NR(CPORT_IOC_ENTER));
	ASSERT_EQ(_IOC_READ | _IOC_WRITE, _IOC_DIR(CPORT_IOC_ENTER));
	ASSERT_EQ(56, _IOC_SIZE(CPORT_IOC_ENTER));

	ASSERT_EQ(CPORT_IOC_MAGIC, _IOC_TYPE(CPORT_IOC_DESTROY));
	ASSERT_EQ(0x03, _IOC_NR(CPORT_IOC_DESTROY));
	ASSERT_EQ(_IOC_NONE, _IOC_DIR(CPORT_IOC_DESTROY));
	ASSERT_EQ(0, _IOC_SIZE(CPORT_IOC_DESTROY));

	ASSERT_EQ(CPORT_IOC_MAGIC, _IOC_TYPE(CPORT_IOC_LEAVE));
	ASSERT_EQ(0x04, _IOC_NR(CPORT_IOC_LEAVE));
	ASSERT_EQ(_IOC_NONE, _IOC_DIR(CPORT_IOC_LEAVE));
	ASSERT_EQ(0, _IOC_SIZE(CPORT_IOC_LEAVE));
}

FIXTURE(port) {
	int port;
};

FIXTURE_SETUP(port)
{
	self->port = cport_open();
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s (module loaded?)",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(port)
{
	if (self->port >= 0)
		close(self->port);
}

/* Fill with a pattern so fields the kernel forgets to write show up. */
static int query_poisoned(int port, struct cport_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return cport_query(port, info);
}

TEST_F(port, query_defaults)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	__u64 all_ops = (1ULL << CPORT_OP_POST) | (1ULL << CPORT_OP_ASSOCIATE) |
			(1ULL << CPORT_OP_DISSOCIATE) | (1ULL << CPORT_OP_RECV) |
			(1ULL << CPORT_OP_SEND) | (1ULL << CPORT_OP_ACCEPT) |
			(1ULL << CPORT_OP_CANCEL) | (1ULL << CPORT_OP_CONNECT) |
			(1ULL << CPORT_OP_PROVIDE_BUFFERS) |
			(1ULL << CPORT_OP_RECVMSG) | (1ULL << CPORT_OP_SENDMSG) |
			(1ULL << CPORT_OP_SENDFILE) |
			(1ULL << CPORT_OP_DISCONNECT) |
			(1ULL << CPORT_OP_READ) | (1ULL << CPORT_OP_WRITE);
	struct cport_info info;
	int i;

	ASSERT_EQ(0, query_poisoned(self->port, &info));

	EXPECT_EQ(CPORT_API_VERSION, info.api_version);
	EXPECT_EQ(CPORT_FEAT_HANDOFF | CPORT_FEAT_CONCURRENCY | CPORT_FEAT_POLL |
		  CPORT_FEAT_BLOCK_TRACKING | CPORT_FEAT_SOCKETS | CPORT_FEAT_RING,
		  info.features);
	/* POST..WRITE are there; opcode 0 and opcodes this header lacks
	 * are not. */
	EXPECT_EQ(all_ops, info.ops);
	EXPECT_EQ(0xfffe, info.ops);
	EXPECT_EQ(CPORT_SETUP_NO_BLOCK_TRACKING | CPORT_SETUP_EAGER_RELEASE,
		  info.setup_flags);
	EXPECT_EQ(CPORT_ENTER_ABSTIME, info.enter_flags);
	EXPECT_EQ(CPORT_SQE_INLINE | CPORT_SQE_POST | CPORT_SQE_INLINE_POST,
		  info.sqe_flags);
	EXPECT_EQ((1U << CPORT_POLICY_LIFO) | (1U << CPORT_POLICY_FIFO),
		  info.policies & ((1U << CPORT_POLICY_LIFO) |
				   (1U << CPORT_POLICY_FIFO)));
	EXPECT_EQ(0, info.policies & ~((1U << CPORT_POLICY__NR) - 1));
	EXPECT_EQ(CPORT_MAX_ENTER, info.max_enter);

	/* A port never set up uses the defaults. */
	EXPECT_EQ(cpus, info.concurrency);
	EXPECT_EQ(CPORT_POLICY_LIFO, info.policy);
	EXPECT_EQ(CPORT_DEFAULT_QUEUED, info.max_queued);
	EXPECT_EQ(CPORT_DEFAULT_PENDING, info.max_pending);
	/* Blocking is tracked unless the setup says otherwise. */
	EXPECT_EQ(CPORT_INFO_BLOCK_TRACKING, info.port_flags);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, info.resv[i]);
}

/*
 * The names: this port's policy and the registered ones, the built-in
 * four first in number order.  cport_query() (LIBCPORT_1.0) writes the
 * VER0 record only: a program built before the names has no room.
 */
TEST_F(port, query_policy_names)
{
	static const char *const builtin[] = { "lifo", "fifo", "rr", "cpu" };
	struct cport_info info;
	unsigned int i;

	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, cport_query(self->port, &info));
	for (i = CPORT_INFO_SIZE_VER0; i < sizeof(info); i++)
		ASSERT_EQ(0xa5, ((unsigned char *)&info)[i]);

	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, cport_query_policies(self->port, &info));
	/* LIBCPORT_1.2's record: what a program built then has room for. */
	for (i = CPORT_INFO_SIZE_VER1; i < sizeof(info); i++)
		ASSERT_EQ(0xa5, ((unsigned char *)&info)[i]);
	EXPECT_STREQ("lifo", info.policy_name);
	EXPECT_LE(CPORT_POLICY__NR, info.nr_policies);
	EXPECT_GE(CPORT_MAX_POLICIES, info.nr_policies);
	EXPECT_EQ(0, info.resv1);
	for (i = 0; i < CPORT_POLICY__NR; i++)
		EXPECT_STREQ(builtin[i], info.policy_names[i]);
	for (i = 0; i < CPORT_MAX_POLICIES; i++) {
		const char *n = info.policy_names[i];
		size_t len = strnlen(n, CPORT_POLICY_NAME_LEN);

		ASSERT_GT(CPORT_POLICY_NAME_LEN, len);
		EXPECT_EQ(i < info.nr_policies, len > 0);
		EXPECT_EQ(NULL, memchr(n + len, 0xa5,
				       CPORT_POLICY_NAME_LEN - len));
	}
}

/* A built-in policy selected by name reports its number too. */
TEST(setup_by_name_builtin)
{
	struct cport_setup s = { .concurrency = 3 };
	struct cport_info info;
	int port;

	port = cport_create_named("rr", &s);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, cport_query_policies(port, &info));
	EXPECT_EQ(CPORT_POLICY_RR, info.policy);
	EXPECT_STREQ("rr", info.policy_name);
	EXPECT_EQ(3, info.concurrency);
	cport_close(port);
}

TEST_F(port, query_after_setup)
{
	struct cport_setup s = {
		.concurrency = 3,
		.policy = CPORT_POLICY_FIFO,
		.max_queued = 100,
		.max_pending = 7,
	};
	struct cport_info info;

	/* QUERY does not count as using the port: SETUP still works. */
	ASSERT_EQ(0, query_poisoned(self->port, &info));
	ASSERT_EQ(0, cport_setup(self->port, &s));
	ASSERT_EQ(0, query_poisoned(self->port, &info));
	EXPECT_EQ(3, info.concurrency);
	EXPECT_EQ(CPORT_POLICY_FIFO, info.policy);
	EXPECT_EQ(100, info.max_queued);
	EXPECT_EQ(7, info.max_pending);
	EXPECT_EQ(CPORT_API_VERSION, info.api_version);
	EXPECT_EQ(CPORT_INFO_BLOCK_TRACKING, info.port_flags);
	EXPECT_EQ(0, info.resv[0] | info.resv[1] | info.resv[2]);
}

TEST_F(port, query_no_block_tracking)
{
	struct cport_setup s = {
		.flags = CPORT_SETUP_NO_BLOCK_TRACKING,
		.concurrency = 2,
	};
	struct cport_info info;

	ASSERT_EQ(0, cport_setup(self->port, &s));
	ASSERT_EQ(0, query_poisoned(self->port, &info));
	EXPECT_EQ(0, info.port_flags);
	EXPECT_EQ(2, info.concurrency);
	EXPECT_EQ(CPORT_SETUP_NO_BLOCK_TRACKING | CPORT_SETUP_EAGER_RELEASE,
		  info.setup_flags);
	EXPECT_TRUE(info.features & CPORT_FEAT_BLOCK_TRACKING);
	EXPECT_EQ(CPORT_DEFAULT_PENDING, info.max_pending);
	EXPECT_EQ(0, info.resv[0] | info.resv[1] | info.resv[2]);
	EXPECT_EQ(0, fdinfo_get(self->port, "block_tracking"));
}

/* Windows' release rule, asked for, is reported. */
TEST_F(port, query_eager_release)
{
	struct cport_setup s = { .flags = CPORT_SETUP_EAGER_RELEASE };
	struct cport_info info;

	ASSERT_EQ(0, cport_setup(self->port, &s));
	ASSERT_EQ(0, query_poisoned(self->port, &info));
	EXPECT_EQ(CPORT_INFO_BLOCK_TRACKING | CPORT_INFO_EAGER_RELEASE,
		  info.port_flags);
	EXPECT_EQ(0, fdinfo_get(self->port, "busy_holds"));
}

TEST_F(port, setup_zero_means_default)
{
	struct cport_setup s = { .policy = CPORT_POLICY_LIFO };
	struct cport_info info;

	ASSERT_EQ(0, cport_setup(self->port, &s));
	ASSERT_EQ(0, query_poisoned(self->port, &info));
	EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), info.concurrency);
	EXPECT_EQ(CPORT_POLICY_LIFO, info.policy);
	EXPECT_EQ(CPORT_DEFAULT_QUEUED, info.max_queued);
	EXPECT_EQ(CPORT_DEFAULT_PENDING, info.max_pending);
}

TEST_F(port, setup_limits_accepted)
{
	struct cport_setup s = {
		.concurrency = CPORT_MAX_CONCURRENCY,
		.policy = CPORT_POLICY__NR - 1,
		.max_queued = CPORT_MAX_QUEUED,
		.max_pending = CPORT_MAX_PENDING,
	};
	struct cport_info info;

	ASSERT_EQ(0, cport_setup(self->port, &s));
	ASSERT_EQ(0, query_poisoned(self->port, &info));
	EXPECT_EQ(CPORT_MAX_CONCURRENCY, info.concurrency);
	EXPECT_EQ(CPORT_POLICY__NR - 1, info.policy);
	EXPECT_EQ(CPORT_MAX_QUEUED, info.max_queued);
	EXPECT_EQ(CPORT_MAX_PENDING, info.max_pending);
}

/*
 * A VER0 setup (16 bytes, from before max_pending existed) still works:
 * the kernel reads only _IOC_SIZE bytes (here the struct ends where an
 * inaccessible page begins) and max_pending takes its default.
 */
TEST_F(port, setup_ver0)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cport_info info;
	struct cport_setup *s;
	char *map;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	s = (struct cport_setup *)(map + page - CPORT_SETUP_SIZE_VER0);
	s->flags = CPORT_SETUP_NO_BLOCK_TRACKING;
	s->concurrency = 3;
	s->policy = CPORT_POLICY_FIFO;
	s->max_queued = 50;

	ASSERT_EQ(0, ioctl(self->port, _IOW(CPORT_IOC_MAGIC, 0x00,
					    char[CPORT_SETUP_SIZE_VER0]), s));
	ASSERT_EQ(0, query_poisoned(self->port, &info));
	EXPECT_EQ(3, info.concurrency);
	EXPECT_EQ(CPORT_POLICY_FIFO, info.policy);
	EXPECT_EQ(50, info.max_queued);
	EXPECT_EQ(0, info.port_flags);
	EXPECT_EQ(CPORT_DEFAULT_PENDING, info.max_pending);
	munmap(map, 2 * page);
}

/* libcport: cport_create(NULL) is a port with the defaults. */
TEST(create_defaults)
{
	struct cport_info info;
	int port = cport_create(NULL);

	ASSERT_LE(0, port);
	ASSERT_EQ(0, cport_query(port, &info));
	EXPECT_EQ(CPORT_POLICY_LIFO, info.policy);
	EXPECT_EQ(CPORT_DEFAULT_QUEUED, info.max_queued);
	EXPECT_EQ(CPORT_DEFAULT_PENDING, info.max_pending);
	/* The descriptor is close-on-exec. */
	EXPECT_EQ(FD_CLOEXEC, fcntl(port, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, cport_close(port));
}

/* libcport: a failed setup leaves no descriptor behind. */
TEST(create_bad_setup)
{
	struct cport_setup s = { .flags = 1U << 2 };
	int before, after;

	/* open() returns the lowest free descriptor. */
	before = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, before);
	close(before);
	EXPECT_EQ(-EINVAL, cport_create(&s));
	after = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, after);
	close(after);
	EXPECT_EQ(before, after);
}

TEST_HARNESS_MAIN
