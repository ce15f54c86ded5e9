// SPDX-License-Identifier: GPL-2.0
/*
 * A port belongs to the process that opened it.  Another process holding
 * its descriptor (inherited through fork(), received over a unix socket,
 * or kept across execve()) gets -EPERM from every ioctl, unknown commands
 * still being -ENOTTY; and nothing that process does (calls, close, exit)
 * disturbs the owner's port.
 */
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cport_test.h"
#include "kselftest_harness.h"

#define EXEC_CHILD_ARG	"--cport-exec-child"

/* ioctl() as 0 / positive, or -errno. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/*
 * Every ioctl from a process that does not own @port.  Returns 0 if all
 * failed as they should, else the number of the first that did not (an
 * exit status).
 */
static int foreign_calls(int port)
{
	struct cport_setup setup = {};
	struct cport_info info;
	struct cport_cqe cqe;
	unsigned int submitted = 99;
	struct cport_sqe sqe;

	cport_prep_post(&sqe, 1, 2, 3, 4);
	if (cport_query(port, &info) != -EPERM)
		return 1;
	if (cport_setup(port, &setup) != -EPERM)
		return 2;
	if (cport_post(port, 1, 2, 3, 4) != -EPERM)
		return 3;
	if (cport_submit_and_wait(port, &sqe, 1, NULL, 0, 0, &submitted) !=
	    -EPERM)
		return 4;
	if (cport_wait(port, &cqe, 1, 0) != -EPERM)
		return 5;
	if (cport_wait(port, &cqe, 1, -1) != -EPERM)
		return 6;
	if (cport_destroy(port) != -EPERM)
		return 7;
	/* EPERM comes before the argument checks... */
	if (cport_query(port, NULL) != -EPERM)
		return 8;
	if (xioctl(port, CPORT_IOC_DESTROY, (void *)1) != -EPERM)
		return 9;
	if (xioctl(port, CPORT_IOC_LEAVE, (void *)1) != -EPERM)
		return 12;
	/* (Not -ENOENT: this process never waited on the port.) */
	if (xioctl(port, CPORT_IOC_LEAVE, NULL) != -EPERM)
		return 13;
	/* ...but after the unknown command. */
	if (xioctl(port, _IO(CPORT_IOC_MAGIC, 0x7f), NULL) != -ENOTTY)
		return 10;
	/* The descriptor is closed, the port not destroyed. */
	if (cport_close(port) != -EPERM)
		return 11;
	return 0;
}

FIXTURE(port) {
	int port;
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(port)
{
	self->port = port_new(0, CPORT_POLICY_FIFO, 0);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
}

/* The owner's port is as it was: setup kept, one queued completion. */
static void owner_unaffected(struct __test_metadata *_metadata,
			     FIXTURE_DATA(port) *self)
{
	struct cport_info info;

	ASSERT_EQ(0, cport_query(self->port, &info));
	EXPECT_EQ(CPORT_POLICY_FIFO, info.policy);
	EXPECT_EQ(0, fdinfo_get(self->port, "destroyed"));
	EXPECT_EQ(1, fdinfo_get(self->port, "posts"));
	ASSERT_EQ(1, cport_wait(self->port, self->cqes, 8, 0));
	EXPECT_EQ(77, self->cqes[0].user_data);
	EXPECT_EQ(0, cport_post(self->port, 0, 78, 0, 0));
	EXPECT_EQ(1, cport_wait(self->port, self->cqes, 8, 0));
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(port, forked_child_eperm)
{
	pid_t pid;

	ASSERT_EQ(0, cport_post(self->port, 0, 77, 0, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(foreign_calls(self->port));
	EXPECT_EQ(0, wait_child(pid));
	owner_unaffected(_metadata, self);
}

/* The child exits holding the descriptor, without calling anything. */
TEST_F(port, child_exit_keeps_port)
{
	pid_t pid;

	ASSERT_EQ(0, cport_post(self->port, 0, 77, 0, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	EXPECT_EQ(0, wait_child(pid));
	owner_unaffected(_metadata, self);
}

/* A waiter in the owner is not woken by the child's calls or exit. */
TEST_F(port, child_does_not_wake_owner)
{
	struct waiter w;
	int seq = 0;
	pid_t pid;

	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1, &seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(foreign_calls(self->port));
	EXPECT_EQ(0, wait_child(pid));
	sleep_ms(GRACE_MS);
	EXPECT_FALSE(waiter_done(&w));
	EXPECT_EQ(1, fdinfo_get(self->port, "waiters"));
	ASSERT_EQ(0, cport_post(self->port, 0, 5, 0, 0));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(5, w.cqes[0].user_data);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* A process that never inherited the port receives it over a socket. */
TEST_F(port, received_over_unix_socket_eperm)
{
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = recv_fd(sv[1]);

		_exit(fd < 0 ? 100 : foreign_calls(fd));
	}
	ASSERT_EQ(0, cport_post(self->port, 0, 77, 0, 0));
	ASSERT_EQ(0, send_fd(sv[0], self->port));
	EXPECT_EQ(0, wait_child(pid));
	owner_unaffected(_metadata, self);
	close(sv[0]);
	close(sv[1]);
}

/*
 * Kept across execve(): the process that opened the port runs a new
 * program (with a new mm).  The port is opened without O_CLOEXEC so it
 * survives; the new program is this test again, told by EXEC_CHILD_ARG to
 * make the calls.
 */
TEST(after_execve_eperm)
{
	char fdarg[16];
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct cport_info info;
		int fd = open(CPORT_DEV_PATH, O_RDWR);

		/* Before execve() the process owns it. */
		if (fd < 0 || cport_query(fd, &info))
			_exit(100);
		if (cport_post(fd, 0, 1, 0, 0))
			_exit(101);
		snprintf(fdarg, sizeof(fdarg), "%d", fd);
		execl("/proc/self/exe", "fork_test", EXEC_CHILD_ARG, fdarg,
		      (char *)NULL);
		_exit(102);
	}
	EXPECT_EQ(0, wait_child(pid));
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], EXEC_CHILD_ARG))
		return foreign_calls(atoi(argv[2]));
	return test_harness_run(argc, argv);
}
