// SPDX-License-Identifier: GPL-2.0
/*
 * Bad socket submissions (ASSOCIATE, DISSOCIATE, RECV, SEND, ACCEPT,
 * CANCEL), one bad input at a time, with the exact errno the header
 * documents, and the order in which they are checked when two are bad at
 * once: -EINVAL (flags, op_flags, unused fields, len, zero-byte recv,
 * CANCEL selectors), -EBADF, -ENOTSOCK, -EOPNOTSUPP, -EIDRM, -EEXIST,
 * -EBUSY, -ENOENT, -EINVAL (ACCEPT on a socket that is not listening),
 * -EFAULT, -ENOBUFS.  A refused submission stops CPORT_IOC_ENTER at its
 * index, is not taken (its status is left 0, nothing is posted or
 * left pending for it), and the submissions before it stand.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY		0x5eed0000cafe0001ULL
#define KADDR		0xffff800000000000ULL	/* a kernel address */

/* The descriptors the bad submissions are made of. */
static struct ctx {
	int sock;	/* connected TCP socket, associated under KEY */
	int peer;	/* its peer */
	int lst;	/* listening socket, associated */
	int unassoc;	/* connected socket, not associated */
	int unassoc_peer;
	int ulst;	/* listening socket, not associated */
	int idle;	/* TCP socket, neither connected nor listening, associated */
	int pipe_r;	/* a pipe */
	int closed;	/* a descriptor number that is not open */
	int udp;	/* a socket that cannot be associated (netlink) */
	char buf[64];
	char addr[128];
} c;

static void good_recv(struct cport_sqe *sqe, int fd)
{
	cport_prep_recv(sqe, fd, c.buf, sizeof(c.buf), 0xbad, 0);
}

static void good_send(struct cport_sqe *sqe, int fd)
{
	cport_prep_send(sqe, fd, c.buf, sizeof(c.buf), 0xbad);
}

static void good_accept(struct cport_sqe *sqe, int fd)
{
	cport_prep_accept(sqe, fd, c.addr, sizeof(c.addr), 0xbad, 0, 0);
}

static void good_cancel_all(struct cport_sqe *sqe)
{
	cport_prep_cancel(sqe, CPORT_CANCEL_ALL, 0);
}

FIXTURE(eno) {
	int port;
	struct cport_sqe sqes[4];
	struct cport_cqe cqes[8];
};

FIXTURE_SETUP(eno)
{
	int fds[2], l;

	sock_fixture_port(_metadata, &self->port);
	sock_fixture_pair(_metadata, SK_TCP4, fds);
	c.sock = fds[0];
	c.peer = fds[1];
	sock_fixture_pair(_metadata, SK_TCP4, fds);
	c.unassoc = fds[0];
	c.unassoc_peer = fds[1];
	c.lst = sock_listener(SK_TCP4);
	ASSERT_LE(0, c.lst);
	c.ulst = sock_listener(SK_TCP4);
	ASSERT_LE(0, c.ulst);
	c.idle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, c.idle);
	c.udp = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, c.udp);
	ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
	c.pipe_r = fds[0];
	close(fds[1]);
	/* A number far above anything the test opens, then closed. */
	l = fcntl(c.sock, F_DUPFD_CLOEXEC, 900);
	ASSERT_LE(900, l);
	close(l);
	c.closed = l;

	ASSERT_EQ(0, cport_associate(self->port, c.sock, KEY, 0));
	ASSERT_EQ(0, cport_associate(self->port, c.lst, KEY + 1, 0));
	ASSERT_EQ(0, cport_associate(self->port, c.idle, KEY + 2, 0));
}

FIXTURE_TEARDOWN(eno)
{
	cport_close(self->port);
	close(c.sock);
	close(c.peer);
	close(c.unassoc);
	close(c.unassoc_peer);
	close(c.lst);
	close(c.ulst);
	close(c.idle);
	close(c.udp);
	close(c.pipe_r);
}

FIXTURE_VARIANT(eno) {
	void (*make)(struct cport_sqe *sqe);
	int err;
	const char *what;
};

/*
 * BAD(name, errno, statement...): a variant whose bad submission is made
 * by the statements, which fill *sqe.
 */
#define BAD(name, e, ...)						\
	static void make_##name(struct cport_sqe *sqe) { __VA_ARGS__; }	\
	FIXTURE_VARIANT_ADD(eno, name) {				\
		.make = make_##name,					\
		.err = e,						\
		.what = #__VA_ARGS__,					\
	}

/* -EINVAL: flags (RECV, SEND, ACCEPT only; not both INLINE and POST). */
BAD(recv_flags_unknown, EINVAL, good_recv(sqe, c.sock); sqe->flags = 8);
BAD(recv_flags_high, EINVAL, good_recv(sqe, c.sock); sqe->flags = 0x8000);
BAD(recv_inline_and_post, EINVAL, good_recv(sqe, c.sock);
    sqe->flags = CPORT_SQE_INLINE | CPORT_SQE_POST);
BAD(send_flags_unknown, EINVAL, good_send(sqe, c.sock); sqe->flags = 8);
BAD(recv_inline_and_inline_post, EINVAL, good_recv(sqe, c.sock);
    sqe->flags = CPORT_SQE_INLINE | CPORT_SQE_INLINE_POST);
BAD(send_post_and_inline_post, EINVAL, good_send(sqe, c.sock);
    sqe->flags = CPORT_SQE_POST | CPORT_SQE_INLINE_POST);
BAD(accept_all_three, EINVAL, good_accept(sqe, c.lst);
    sqe->flags = CPORT_SQE_INLINE | CPORT_SQE_POST | CPORT_SQE_INLINE_POST);
BAD(send_inline_and_post, EINVAL, good_send(sqe, c.sock);
    sqe->flags = CPORT_SQE_INLINE | CPORT_SQE_POST);
BAD(accept_flags_unknown, EINVAL, good_accept(sqe, c.lst); sqe->flags = 8);
BAD(accept_inline_and_post, EINVAL, good_accept(sqe, c.lst);
    sqe->flags = CPORT_SQE_INLINE | CPORT_SQE_POST);
BAD(assoc_flags_inline, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->flags = CPORT_SQE_INLINE);
BAD(assoc_flags_post, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->flags = CPORT_SQE_POST);
BAD(dissoc_flags_inline, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->flags = CPORT_SQE_INLINE);
BAD(dissoc_flags_post, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->flags = CPORT_SQE_POST);
BAD(cancel_flags_inline, EINVAL, good_cancel_all(sqe);
    sqe->flags = CPORT_SQE_INLINE);
BAD(cancel_flags_post, EINVAL, good_cancel_all(sqe);
    sqe->flags = CPORT_SQE_POST);

/* -EINVAL: unknown op_flags. */
BAD(assoc_op_flags_unknown, EINVAL,
    cport_prep_associate(sqe, c.unassoc, 1, 2));
BAD(assoc_op_flags_high, EINVAL,
    cport_prep_associate(sqe, c.unassoc, 1, 1U << 31));
BAD(dissoc_op_flags, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->op_flags = 1);
BAD(recv_op_flags_unknown, EINVAL, good_recv(sqe, c.sock); sqe->op_flags = 4);
BAD(recv_op_flags_high, EINVAL, good_recv(sqe, c.sock);
    sqe->op_flags = 1U << 31);
BAD(send_op_flags, EINVAL, good_send(sqe, c.sock); sqe->op_flags = 1);
BAD(send_op_flags_high, EINVAL, good_send(sqe, c.sock);
    sqe->op_flags = 1U << 31);
BAD(accept_op_flags_unknown, EINVAL, good_accept(sqe, c.lst);
    sqe->op_flags = 1U << 4);
BAD(accept_op_flags_high, EINVAL, good_accept(sqe, c.lst);
    sqe->op_flags = 1U << 31);
BAD(cancel_op_flags_unknown, EINVAL,
    cport_prep_cancel(sqe, 1U << 4, 0));

/* -EINVAL: CANCEL needs exactly one selector. */
BAD(cancel_no_selector, EINVAL, cport_prep_cancel(sqe, 0, 0));
BAD(cancel_user_data_and_fd, EINVAL,
    cport_prep_cancel(sqe, CPORT_CANCEL_USER_DATA | CPORT_CANCEL_FD, 0);
    sqe->fd = c.sock);
BAD(cancel_key_and_all, EINVAL,
    cport_prep_cancel(sqe, CPORT_CANCEL_KEY | CPORT_CANCEL_ALL, 0));
BAD(cancel_all_selectors, EINVAL,
    cport_prep_cancel(sqe, CPORT_CANCEL_USER_DATA | CPORT_CANCEL_FD |
		      CPORT_CANCEL_KEY | CPORT_CANCEL_ALL, 0));

/* -EINVAL: a non-zero field the opcode does not use. */
BAD(assoc_user_data, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->user_data = 1);
BAD(assoc_addr, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->addr = (uintptr_t)c.buf);
BAD(assoc_len, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->len = 1);
BAD(assoc_timeout, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->timeout_ns = 1);
BAD(dissoc_user_data, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->user_data = 1);
BAD(dissoc_addr, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->addr = (uintptr_t)c.buf);
BAD(dissoc_len, EINVAL, cport_prep_dissociate(sqe, c.sock); sqe->len = 1);
BAD(dissoc_key, EINVAL, cport_prep_dissociate(sqe, c.sock); sqe->key = KEY);
BAD(dissoc_timeout, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->timeout_ns = 1);
/*
 * ASSOCIATE and DISSOCIATE write nothing back: status, res and bytes are
 * not outputs there, so they must be zero (room for later meanings).
 */
BAD(assoc_status, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->status = CPORT_STATUS_PENDING);
BAD(assoc_res, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->res = -1);
BAD(assoc_bytes, EINVAL, cport_prep_associate(sqe, c.unassoc, 1, 0);
    sqe->bytes = 1);
BAD(dissoc_status, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->status = CPORT_STATUS_INLINE);
BAD(dissoc_res, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->res = 1LL << 40);
BAD(dissoc_bytes, EINVAL, cport_prep_dissociate(sqe, c.sock);
    sqe->bytes = 1U << 31);
BAD(recv_key, EINVAL, good_recv(sqe, c.sock); sqe->key = 1);
BAD(send_key, EINVAL, good_send(sqe, c.sock); sqe->key = 1);
BAD(cancel_addr, EINVAL, good_cancel_all(sqe); sqe->addr = (uintptr_t)c.buf);
BAD(cancel_len, EINVAL, good_cancel_all(sqe); sqe->len = 1);
BAD(cancel_timeout, EINVAL, good_cancel_all(sqe); sqe->timeout_ns = 1);
/* ACCEPT: key and ASSOC_INLINE only with ASSOCIATE; addr and len together. */
BAD(accept_key_alone, EINVAL, good_accept(sqe, c.lst); sqe->key = 1);
BAD(accept_assoc_inline_alone, EINVAL, good_accept(sqe, c.lst);
    sqe->op_flags = CPORT_ACCEPT_ASSOC_INLINE);
BAD(accept_addr_no_len, EINVAL, good_accept(sqe, c.lst); sqe->len = 0);
BAD(accept_len_no_addr, EINVAL, good_accept(sqe, c.lst); sqe->addr = 0);

/* -EINVAL: len > CPORT_MAX_IO (before the range is looked at). */
BAD(recv_len_max_io, EINVAL, good_recv(sqe, c.sock);
    sqe->len = CPORT_MAX_IO + 1ULL);
BAD(recv_len_huge, EINVAL, good_recv(sqe, c.sock); sqe->len = 1ULL << 63);
BAD(recv_len_u32, EINVAL, good_recv(sqe, c.sock); sqe->len = 1ULL << 32);
BAD(send_len_max_io, EINVAL, good_send(sqe, c.sock);
    sqe->len = CPORT_MAX_IO + 1ULL);
BAD(send_len_huge, EINVAL, good_send(sqe, c.sock); sqe->len = ~0ULL);

/* -EINVAL: a zero-byte recv has addr == 0 and no CPORT_RECV_FILL. */
BAD(recv_zero_len_addr, EINVAL, cport_prep_recv(sqe, c.sock, c.buf, 0, 1, 0));
BAD(recv_zero_len_fill, EINVAL,
    cport_prep_recv(sqe, c.sock, NULL, 0, 1, CPORT_RECV_FILL));

/* Scatter/gather: the iovec array is checked as readv(2) checks it. */
static struct iovec iov_good[2] = {
	{ c.buf, 8 }, { c.buf + 8, 8 },
};
static struct iovec iov_empty[3];		/* 0 bytes in all */
static struct iovec iov_kernel[2] = {		/* a kernel address */
	{ c.buf, 8 }, { (void *)0xffff888000000000UL, 8 },
};
static struct iovec iov_huge[1] = {		/* wraps around */
	{ c.buf, ~0UL },
};
static struct iovec iov_many[CPORT_MAX_IOV + 1];

BAD(recv_vec_none, EINVAL, cport_prep_recvv(sqe, c.sock, iov_good, 0, 1, 0));
BAD(recv_vec_too_many, EINVAL,
    cport_prep_recvv(sqe, c.sock, iov_many, CPORT_MAX_IOV + 1, 1, 0));
BAD(recv_vec_len_huge, EINVAL,
    cport_prep_recvv(sqe, c.sock, iov_good, 1, 1, 0);
    sqe->len = 1ULL << 32 | 1);
BAD(recv_vec_empty, EINVAL,
    cport_prep_recvv(sqe, c.sock, iov_empty, 3, 1, 0));
BAD(recv_vec_unknown_flag, EINVAL,
    cport_prep_recvv(sqe, c.sock, iov_good, 2, 1, 1U << 2));
BAD(send_vec_none, EINVAL, cport_prep_sendv(sqe, c.sock, iov_good, 0, 1));
BAD(send_vec_too_many, EINVAL,
    cport_prep_sendv(sqe, c.sock, iov_many, CPORT_MAX_IOV + 1, 1));
BAD(send_vec_empty, EINVAL, cport_prep_sendv(sqe, c.sock, iov_empty, 3, 1));
BAD(send_vec_fill, EINVAL, cport_prep_sendv(sqe, c.sock, iov_good, 2, 1);
    sqe->op_flags |= CPORT_RECV_FILL);
BAD(recv_vec_array_null, EFAULT,
    cport_prep_recvv(sqe, c.sock, NULL, 2, 1, 0));
BAD(recv_vec_array_kernel, EFAULT,
    cport_prep_recvv(sqe, c.sock, (void *)0xffff888000000000UL, 2, 1, 0));
BAD(recv_vec_segment_kernel, EFAULT,
    cport_prep_recvv(sqe, c.sock, iov_kernel, 2, 1, 0));
BAD(recv_vec_segment_huge, EINVAL,
    cport_prep_recvv(sqe, c.sock, iov_huge, 1, 1, 0));
BAD(send_vec_array_null, EFAULT, cport_prep_sendv(sqe, c.sock, NULL, 2, 1));
BAD(send_vec_segment_kernel, EFAULT,
    cport_prep_sendv(sqe, c.sock, iov_kernel, 2, 1));
BAD(recv_vec_unassoc, ENOENT,
    cport_prep_recvv(sqe, c.unassoc, iov_good, 2, 1, 0));

/* -EBADF */
BAD(assoc_closed, EBADF, cport_prep_associate(sqe, c.closed, 1, 0));
BAD(assoc_neg, EBADF, cport_prep_associate(sqe, -1, 1, 0));
BAD(dissoc_closed, EBADF, cport_prep_dissociate(sqe, c.closed));
BAD(recv_closed, EBADF, good_recv(sqe, c.closed));
BAD(recv_neg, EBADF, good_recv(sqe, -1));
BAD(recv_int_min, EBADF, good_recv(sqe, INT_MIN));
BAD(send_closed, EBADF, good_send(sqe, c.closed));
BAD(accept_closed, EBADF, good_accept(sqe, c.closed));
BAD(cancel_fd_closed, EBADF, cport_prep_cancel(sqe, CPORT_CANCEL_FD,
					       (__u64)c.closed));
BAD(zero_recv_closed, EBADF, cport_prep_recv(sqe, c.closed, NULL, 0, 1, 0));

/* -ENOTSOCK */
/* (ASSOCIATE, DISSOCIATE, CANCEL_FD of a pipe: file_io_test.) */
BAD(recv_pipe, ENOTSOCK, good_recv(sqe, c.pipe_r));
BAD(send_pipe, ENOTSOCK, good_send(sqe, c.pipe_r));
BAD(accept_pipe, ENOTSOCK, good_accept(sqe, c.pipe_r));

/* -EOPNOTSUPP, -EEXIST (ASSOCIATE) */
BAD(assoc_udp, EOPNOTSUPP, cport_prep_associate(sqe, c.udp, 1, 0));
BAD(assoc_again, EEXIST, cport_prep_associate(sqe, c.sock, 2, 0));

/* -ENOENT: not associated with this port. */
BAD(dissoc_unassoc, ENOENT, cport_prep_dissociate(sqe, c.unassoc));
BAD(recv_unassoc, ENOENT, good_recv(sqe, c.unassoc));
BAD(send_unassoc, ENOENT, good_send(sqe, c.unassoc));
BAD(accept_unassoc, ENOENT, good_accept(sqe, c.ulst));
BAD(zero_recv_unassoc, ENOENT, cport_prep_recv(sqe, c.unassoc, NULL, 0, 1, 0));
BAD(recv_udp, ENOENT, good_recv(sqe, c.udp));
BAD(cancel_fd_unassoc, ENOENT, cport_prep_cancel(sqe, CPORT_CANCEL_FD,
						 (__u64)c.unassoc));

/* -EINVAL: ACCEPT on a socket that is not listening. */
BAD(accept_connected, EINVAL, good_accept(sqe, c.sock));
BAD(accept_idle, EINVAL, good_accept(sqe, c.idle));

/* -EFAULT: the buffer is not a valid user range. */
BAD(recv_kernel_addr, EFAULT, good_recv(sqe, c.sock); sqe->addr = KADDR);
BAD(recv_addr_wraps, EFAULT, good_recv(sqe, c.sock); sqe->addr = ~0ULL - 7);
BAD(recv_fill_kernel_addr, EFAULT, good_recv(sqe, c.sock); sqe->addr = KADDR;
    sqe->op_flags = CPORT_RECV_FILL);
BAD(send_kernel_addr, EFAULT, good_send(sqe, c.sock); sqe->addr = KADDR);
BAD(send_addr_wraps, EFAULT, good_send(sqe, c.sock); sqe->addr = ~0ULL - 7);
BAD(accept_kernel_addr, EFAULT, good_accept(sqe, c.lst); sqe->addr = KADDR);
BAD(accept_addr_wraps, EFAULT, good_accept(sqe, c.lst);
    sqe->addr = ~0ULL - 7);

/* Two bad inputs: the one checked first is reported. */
BAD(order_flags_before_ebadf, EINVAL, good_recv(sqe, c.closed);
    sqe->flags = 8);
BAD(order_op_flags_before_ebadf, EINVAL, good_send(sqe, c.closed);
    sqe->op_flags = 1);
BAD(order_vec_len_before_ebadf, EINVAL,
    cport_prep_recvv(sqe, c.closed, iov_good, 0, 1, 0));
BAD(order_enoent_before_vec_efault, ENOENT,
    cport_prep_sendv(sqe, c.unassoc, NULL, 2, 1));
BAD(order_len_before_ebadf, EINVAL, good_recv(sqe, c.closed);
    sqe->len = CPORT_MAX_IO + 1ULL);
BAD(order_zero_recv_before_ebadf, EINVAL,
    cport_prep_recv(sqe, c.closed, c.buf, 0, 1, 0));
BAD(order_selector_before_ebadf, EINVAL,
    cport_prep_cancel(sqe, CPORT_CANCEL_FD | CPORT_CANCEL_KEY, 0);
    sqe->fd = c.closed);
BAD(order_unused_before_enotsock, EINVAL,
    cport_prep_associate(sqe, c.pipe_r, 1, 0); sqe->user_data = 1);
BAD(order_ebadf_before_efault, EBADF, good_recv(sqe, c.closed);
    sqe->addr = KADDR);
BAD(order_enotsock_before_efault, ENOTSOCK, good_send(sqe, c.pipe_r);
    sqe->addr = KADDR);
BAD(order_enotsock_before_enoent, ENOTSOCK, good_recv(sqe, c.pipe_r));
BAD(order_enoent_before_efault, ENOENT, good_recv(sqe, c.unassoc);
    sqe->addr = KADDR);
BAD(order_enoent_before_notlistening, ENOENT, good_accept(sqe, c.unassoc));
BAD(order_notlistening_before_efault, EINVAL, good_accept(sqe, c.sock);
    sqe->addr = KADDR);

/*
 * The bad submission alone, then between two good POSTs: the call stops
 * at its index, the one before is posted, nothing of it or after it.
 */
TEST_F(eno, refused)
{
	unsigned int submitted = 99;
	__u8 status;
	int ret;

	variant->make(&self->sqes[0]);
	status = self->sqes[0].status;
	ret = cport_submit_and_wait(self->port, self->sqes, 1, NULL, 0, 0,
				    &submitted);
	EXPECT_EQ(-variant->err, ret) {
		TH_LOG("%s: %s instead of %s", variant->what,
		       ret < 0 ? strerror(-ret) : "taken",
		       strerror(variant->err));
	}
	EXPECT_EQ(0, submitted);
	/* Not taken: its status is left as it was (0), nothing is posted. */
	EXPECT_EQ(status, self->sqes[0].status);
	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));

	cport_prep_post(&self->sqes[0], 10, 1, 0, 0);
	variant->make(&self->sqes[1]);
	cport_prep_post(&self->sqes[2], 10, 3, 0, 0);
	submitted = 99;
	EXPECT_EQ(-variant->err, cport_submit_and_wait(self->port, self->sqes,
						       3, NULL, 0, 0,
						       &submitted));
	EXPECT_EQ(1, submitted);
	EXPECT_EQ(status, self->sqes[1].status);
	ASSERT_EQ(1, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(1, self->cqes[0].user_data);
	EXPECT_EQ(CPORT_OP_POST, self->cqes[0].op);
	/* Nothing pending for it either. */
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
	EXPECT_EQ(0, port_drain(self->port, self->cqes, 8));
}

/* ------------------------------------------------------------------ */
/* Tests with their own set-up                                          */

FIXTURE(port) {
	int port;
	int fds[2];
	struct cport_sqe sqes[8];
	struct cport_cqe cqes[8];
	char buf[64];
};

FIXTURE_SETUP(port)
{
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_pair(_metadata, SK_TCP4, self->fds);
	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY, 0));
}

FIXTURE_TEARDOWN(port)
{
	cport_close(self->port);
	close(self->fds[0]);
	close(self->fds[1]);
}

/*
 * The output fields (status, res, bytes) of the socket operations and
 * CANCEL are ignored on input: garbage there is accepted.  ASSOCIATE and
 * DISSOCIATE write nothing back, so there the same fields must be zero.
 */
TEST_F(port, output_fields_ignored)
{
	struct cport_sqe *s = self->sqes;
	int other[2] = { -1, -1 }, l, i;

	ASSERT_EQ(0, sock_pair(SK_UNIX, other));
	l = sock_listener(SK_TCP4);
	ASSERT_LE(0, l);
	cport_prep_associate(&s[0], other[0], 7, 0);
	cport_prep_associate(&s[1], l, 8, 0);
	cport_prep_recv(&s[2], self->fds[0], self->buf, sizeof(self->buf), 1,
			0);
	cport_prep_send(&s[3], other[0], "x", 1, 2);
	cport_prep_accept(&s[4], l, NULL, 0, 3, 0, 0);
	cport_prep_cancel(&s[5], CPORT_CANCEL_USER_DATA, 3);
	for (i = 2; i < 6; i++) {
		s[i].status = 0xff;
		s[i].res = -1;
		s[i].bytes = 0xffffffff;
	}
	ASSERT_EQ(6, cport_submit(self->port, s, 6));
	EXPECT_EQ(CPORT_STATUS_PENDING, s[2].status);
	EXPECT_EQ(CPORT_STATUS_PENDING, s[3].status);
	EXPECT_EQ(CPORT_STATUS_PENDING, s[4].status);
	EXPECT_EQ(CPORT_STATUS_INLINE, s[5].status);
	EXPECT_EQ(1, s[5].res);
	EXPECT_EQ(-EEXIST, cport_associate(self->port, other[0], 7, 0));

	cport_prep_dissociate(&s[0], l);
	s[0].status = 0xff;
	s[0].res = 1;
	s[0].bytes = 1;
	/* (The accept's completion must come first: l has none pending.) */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(1, wait1(self->port, &self->cqes[i]));
	}
	EXPECT_EQ(-EINVAL, cport_submit(self->port, s, 1));
	cport_prep_dissociate(&s[0], l);
	ASSERT_EQ(1, cport_submit(self->port, s, 1));
	EXPECT_EQ(-ENOENT, cport_dissociate(self->port, l));
	close(l);
	close(other[0]);
	close(other[1]);
}

/* A recv that is pending and a bad one after it in the same batch. */
TEST_F(port, batch_keeps_taken_ones)
{
	struct cport_sqe *s = self->sqes;
	unsigned int submitted = 99;
	char buf2[8];
	int un[2] = { -1, -1 };

	ASSERT_EQ(0, sock_pair(SK_TCP4, un));
	cport_prep_post(&s[0], 0, 1, 0, 0);
	cport_prep_recv(&s[1], self->fds[0], self->buf, sizeof(self->buf), 2,
			0);
	cport_prep_recv(&s[2], un[0], buf2, sizeof(buf2), 3, 0);
	cport_prep_post(&s[3], 0, 4, 0, 0);
	EXPECT_EQ(-ENOENT, cport_submit_and_wait(self->port, s, 4, NULL, 0, 0,
						 &submitted));
	EXPECT_EQ(2, submitted);
	EXPECT_EQ(CPORT_STATUS_PENDING, s[1].status);
	EXPECT_EQ(0, s[2].status);
	ASSERT_EQ(1, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(1, self->cqes[0].user_data);

	/* The recv taken before the failure works. */
	ASSERT_EQ(0, write_full(self->fds[1], "ok", 2));
	ASSERT_EQ(1, wait1(self->port, &self->cqes[0]));
	EXPECT_EQ(2, self->cqes[0].user_data);
	EXPECT_EQ(2, self->cqes[0].res);
	EXPECT_EQ(0, memcmp(self->buf, "ok", 2));
	EXPECT_TRUE(wait_none(self->port, 0));
	close(un[0]);
	close(un[1]);
}

/*
 * Submissions in read-only memory: status cannot be written back, so
 * the operation is refused with -EFAULT and not taken (nothing pending,
 * nothing posted, the data stays in the socket); those before it stand.
 */
TEST_F(port, readonly_sqes_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned int submitted = 99;
	struct cport_sqe *sqes;
	char *map, c;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* A POST at the end of a writable page, a RECV in a read-only one. */
	sqes = (struct cport_sqe *)(map + page) - 1;
	cport_prep_post(&sqes[0], 0, 1, 0, 0);
	cport_prep_recv(&sqes[1], self->fds[0], self->buf, sizeof(self->buf),
			2, 0);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_READ));

	EXPECT_EQ(-EFAULT, cport_submit_and_wait(self->port, &sqes[1], 1, NULL,
						 0, 0, &submitted));
	EXPECT_EQ(0, submitted);
	EXPECT_EQ(-EFAULT, cport_submit_and_wait(self->port, sqes, 2, NULL, 0,
						 0, &submitted));
	EXPECT_EQ(1, submitted);
	EXPECT_EQ(0, sqes[1].status);
	ASSERT_EQ(1, port_drain(self->port, self->cqes, 8));
	EXPECT_EQ(1, self->cqes[0].user_data);
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));

	ASSERT_EQ(0, write_full(self->fds[1], "d", 1));
	ASSERT_TRUE(readable(self->fds[0]));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	ASSERT_EQ(1, recv(self->fds[0], &c, 1, MSG_DONTWAIT));
	EXPECT_EQ('d', c);
	munmap(map, 2 * page);
}

/*
 * A submission whose status is writable but whose bytes field is not (it
 * straddles into a read-only page): all of its outputs are checked before
 * it is taken, so an inline RECV with data there fails with -EFAULT, not
 * taken: status 0, nothing posted, the data still in the socket.  (It
 * once ran, wrote res, failed on bytes and posted its result anyway,
 * with status 0.)
 */
TEST_F(port, sqe_bytes_readonly_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cport_sqe *sqe;
	char *map, c;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* status (1) and res (40) in the first page, bytes (60) not. */
	sqe = (struct cport_sqe *)(map + page - 48);
	cport_prep_recv(sqe, self->fds[0], self->buf, sizeof(self->buf), 9, 0);
	sqe->flags = CPORT_SQE_INLINE;
	ASSERT_EQ(0, mprotect(map + page, page, PROT_READ));
	ASSERT_EQ(0, write_full(self->fds[1], "f", 1));
	ASSERT_TRUE(readable(self->fds[0]));

	EXPECT_EQ(-EFAULT, submit1(self->port, sqe));
	EXPECT_EQ(0, sqe->status);
	EXPECT_EQ(0, sqe->bytes);
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));
	EXPECT_EQ(-ENOENT, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
	ASSERT_EQ(1, recv(self->fds[0], &c, 1, MSG_DONTWAIT));
	EXPECT_EQ('f', c);
	munmap(map, 2 * page);
}

/* A CANCEL in read-only memory cancels nothing. */
TEST_F(port, readonly_cancel_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cport_sqe *sqe;
	char *map;

	map = mmap(NULL, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	cport_prep_recv(&self->sqes[0], self->fds[0], self->buf,
			sizeof(self->buf), 5, 0);
	ASSERT_EQ(1, submit1(self->port, &self->sqes[0]));
	ASSERT_EQ(CPORT_STATUS_PENDING, self->sqes[0].status);

	sqe = (struct cport_sqe *)map;
	cport_prep_cancel(sqe, CPORT_CANCEL_USER_DATA, 5);
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	EXPECT_EQ(-EFAULT, submit1(self->port, sqe));
	EXPECT_TRUE(wait_none(self->port, GRACE_MS));

	/* The recv is still pending and gets the data. */
	ASSERT_EQ(0, write_full(self->fds[1], "e", 1));
	ASSERT_EQ(1, wait1(self->port, &self->cqes[0]));
	EXPECT_EQ(5, self->cqes[0].user_data);
	EXPECT_EQ(1, self->cqes[0].res);
	EXPECT_EQ('e', self->buf[0]);
	munmap(map, page);
}

/* ------------------------------------------------------------------ */
/* -ENOBUFS: max_pending                                                */

#define MAX_PENDING	4

TEST(enobufs_max_pending)
{
	struct cport_setup setup = { .max_pending = MAX_PENDING };
	char bufs[MAX_PENDING][8], data[MAX_PENDING * 8], c;
	struct cport_sqe sqes[MAX_PENDING + 2];
	struct cport_cqe cqes[MAX_PENDING];
	unsigned int submitted = 99;
	struct cport_info info;
	int port, fds[2] = { -1, -1 }, l, i;

	port = cport_create(&setup);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, cport_query(port, &info));
	ASSERT_EQ(MAX_PENDING, info.max_pending);
	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	l = sock_listener(SK_TCP6);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, cport_associate(port, fds[0], KEY, 0));
	ASSERT_EQ(0, cport_associate(port, l, KEY + 1, 0));

	for (i = 0; i < MAX_PENDING - 1; i++)
		cport_prep_recv(&sqes[i], fds[0], bufs[i], 8, i,
				CPORT_RECV_FILL);
	ASSERT_EQ(MAX_PENDING - 1, cport_submit(port, sqes, MAX_PENDING - 1));
	/* A batch that crosses the bound stops where it is reached. */
	cport_prep_recv(&sqes[i], fds[0], bufs[i], 8, i, CPORT_RECV_FILL);
	cport_prep_send(&sqes[i + 1], fds[0], "s", 1, 100);
	EXPECT_EQ(-ENOBUFS, cport_submit_and_wait(port, &sqes[i], 2, NULL, 0,
						  0, &submitted));
	EXPECT_EQ(1, submitted);
	for (i = 0; i < MAX_PENDING; i++)
		EXPECT_EQ(CPORT_STATUS_PENDING, sqes[i].status);
	EXPECT_EQ(0, sqes[MAX_PENDING].status);

	/* Every operation that would be pending is refused... */
	cport_prep_recv(&sqes[0], fds[0], &c, 1, 200, 0);
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqes[0]));
	EXPECT_EQ(0, sqes[0].status);
	cport_prep_recv(&sqes[0], fds[0], NULL, 0, 201, 0);
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqes[0]));
	cport_prep_send(&sqes[0], fds[0], "s", 1, 202);
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqes[0]));
	cport_prep_accept(&sqes[0], l, NULL, 0, 203, 0, 0);
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqes[0]));
	/* ...after the checks that come before it. */
	cport_prep_recv(&sqes[0], fds[0], (void *)KADDR, 1, 204, 0);
	EXPECT_EQ(-EFAULT, submit1(port, &sqes[0]));
	cport_prep_accept(&sqes[0], fds[0], NULL, 0, 205, 0, 0);
	EXPECT_EQ(-EINVAL, submit1(port, &sqes[0]));
	/* What is no pending operation still works. */
	EXPECT_EQ(0, cport_post(port, 0, 300, 0, 0));
	ASSERT_EQ(1, cport_wait(port, cqes, 1, 0));
	EXPECT_EQ(300, cqes[0].user_data);
	EXPECT_EQ(-EBUSY, cport_dissociate(port, fds[0]));
	EXPECT_EQ(0, cport_dissociate(port, l));
	EXPECT_EQ(0, cport_associate(port, l, KEY + 1, 0));
	EXPECT_TRUE(wait_none(port, 0));

	/* The pending ones were not disturbed: they fill in order. */
	pattern_fill(data, sizeof(data), 7, 0);
	ASSERT_EQ(0, write_full(fds[1], data, sizeof(data)));
	for (i = 0; i < MAX_PENDING; i++)
		ASSERT_EQ(1, wait1(port, &cqes[i]));
	for (i = 0; i < MAX_PENDING; i++) {
		__u64 ud = cqes[i].user_data;

		ASSERT_GT(MAX_PENDING, ud);
		EXPECT_EQ(8, cqes[i].res);
		EXPECT_EQ(8, cqes[i].bytes);
		EXPECT_EQ(KEY, cqes[i].key);
		EXPECT_EQ(-1, pattern_check(bufs[ud], 8, 7, ud * 8)) {
			TH_LOG("recv %llu has the wrong bytes",
			       (unsigned long long)ud);
		}
	}
	EXPECT_TRUE(wait_none(port, 0));

	/* Done and dequeued, they no longer count. */
	for (i = 0; i < MAX_PENDING; i++)
		cport_prep_recv(&sqes[i], fds[0], bufs[i], 8, 10 + i, 0);
	EXPECT_EQ(MAX_PENDING, cport_submit(port, sqes, MAX_PENDING));
	EXPECT_EQ(MAX_PENDING, cport_cancel(port, CPORT_CANCEL_ALL, 0));
	for (i = 0; i < MAX_PENDING; i++) {
		ASSERT_EQ(1, wait1(port, &cqes[0]));
		EXPECT_EQ(-ECANCELED, cqes[0].res);
	}
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
	close(l);
}

/*
 * The header lists -EFAULT (the buffer, or status that cannot be written
 * back) before -ENOBUFS: a submission in read-only memory on a port at
 * its max_pending is refused with -EFAULT.
 */
TEST(enobufs_after_efault)
{
	struct cport_setup setup = { .max_pending = 1 };
	struct cport_sqe sqe, *ro;
	struct cport_cqe cqe;
	int port, fds[2] = { -1, -1 };
	char buf[8];

	port = cport_create(&setup);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));
	ASSERT_EQ(0, cport_associate(port, fds[0], KEY, 0));
	cport_prep_recv(&sqe, fds[0], buf, sizeof(buf), 1, 0);
	ASSERT_EQ(1, submit1(port, &sqe));

	/* A bad buffer: -EFAULT, not -ENOBUFS. */
	cport_prep_recv(&sqe, fds[0], (void *)KADDR, 8, 2, 0);
	EXPECT_EQ(-EFAULT, submit1(port, &sqe));
	/* Status cannot be written: -EFAULT too. */
	ro = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	cport_prep_recv(ro, fds[0], buf, sizeof(buf), 3, 0);
	ASSERT_EQ(0, mprotect(ro, getpagesize(), PROT_READ));
	EXPECT_EQ(-EFAULT, submit1(port, ro));
	munmap(ro, getpagesize());
	/* A good one: -ENOBUFS. */
	cport_prep_recv(&sqe, fds[0], buf, sizeof(buf), 4, 0);
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqe));

	ASSERT_EQ(0, write_full(fds[1], "x", 1));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_EQ(1, cqe.user_data);
	EXPECT_TRUE(wait_none(port, 0));
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
}

/*
 * A delayed POST (timeout_ns > 0) counts against max_pending until its
 * completion is dequeued; a plain POST does not.
 */
TEST(enobufs_counts_delayed_posts)
{
	struct cport_setup setup = { .max_pending = 2 };
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int port, fds[2] = { -1, -1 };
	char buf[8];

	port = cport_create(&setup);
	ASSERT_LE(0, port);
	ASSERT_EQ(0, sock_pair(SK_UNIX, fds));
	ASSERT_EQ(0, cport_associate(port, fds[0], KEY, 0));
	cport_prep_recv(&sqe, fds[0], buf, sizeof(buf), 1, 0);
	ASSERT_EQ(1, submit1(port, &sqe));
	cport_prep_post(&sqe, 0, 2, 0, 0);
	sqe.timeout_ns = 3600 * NSEC_PER_SEC;
	ASSERT_EQ(1, submit1(port, &sqe));

	EXPECT_EQ(-ENOBUFS, submit1(port, &sqe));
	cport_prep_recv(&sqe, fds[0], buf, sizeof(buf), 3, 0);
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqe));
	EXPECT_EQ(0, cport_post(port, 0, 4, 0, 0));
	ASSERT_EQ(1, cport_wait(port, &cqe, 1, 0));
	EXPECT_EQ(4, cqe.user_data);
	EXPECT_TRUE(wait_none(port, 0));
	cport_close(port);
	close(fds[0]);
	close(fds[1]);
}

/*
 * A delayed POST that came due keeps its place until it is dequeued:
 * delayed POSTs cannot grow the queue past max_queued + max_pending.
 */
TEST(delayed_post_holds_its_place_until_dequeued)
{
	struct cport_setup setup = { .max_pending = 2, .max_queued = 1 };
	struct cport_sqe sqe;
	struct cport_cqe cqe[4];
	int port, i;

	port = cport_create(&setup);
	ASSERT_LE(0, port);
	for (i = 0; i < 2; i++) {
		cport_prep_post(&sqe, 0, 10 + i, 0, 0);
		sqe.timeout_ns = 1000;
		ASSERT_EQ(1, submit1(port, &sqe));
	}
	ASSERT_TRUE(fdinfo_wait(port, "queued", 2));
	/* Both came due and are queued: still no place for a third. */
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqe));
	/* The queue is past max_queued: no plain POST either. */
	EXPECT_EQ(-ENOSPC, cport_post(port, 0, 20, 0, 0));
	ASSERT_EQ(1, cport_wait(port, cqe, 1, 0));
	EXPECT_EQ(10, cqe[0].user_data);
	/* One dequeued: one place back. */
	ASSERT_EQ(1, submit1(port, &sqe));
	EXPECT_EQ(-ENOBUFS, submit1(port, &sqe));
	cport_close(port);
}

/* ------------------------------------------------------------------ */
/* -EIDRM: a destroyed port                                             */

TEST_F(port, destroyed_eidrm)
{
	struct cport_sqe *s = self->sqes;
	int fresh = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int udp = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int p[2], gone;

	ASSERT_LE(0, fresh);
	ASSERT_LE(0, udp);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	gone = dup(p[0]);
	ASSERT_LE(0, gone);
	close(gone);

	ASSERT_EQ(0, cport_destroy(self->port));
	/* Everything that passes the checks before it: -EIDRM. */
	EXPECT_EQ(-EIDRM, cport_associate(self->port, fresh, 1, 0));
	cport_prep_recv(&s[0], self->fds[0], self->buf, sizeof(self->buf), 1,
			0);
	EXPECT_EQ(-EIDRM, submit1(self->port, &s[0]));
	cport_prep_send(&s[0], self->fds[0], "x", 1, 2);
	EXPECT_EQ(-EIDRM, submit1(self->port, &s[0]));
	EXPECT_EQ(-EIDRM, cport_cancel(self->port, CPORT_CANCEL_ALL, 0));
	EXPECT_EQ(-EIDRM, cport_cancel(self->port, CPORT_CANCEL_KEY, KEY));
	EXPECT_EQ(-EIDRM, cport_post(self->port, 1, 2, 3, 4));

	/* -EIDRM comes before -EEXIST, -ENOENT, -EINVAL (ACCEPT), -EFAULT. */
	EXPECT_EQ(-EIDRM, cport_associate(self->port, self->fds[0], KEY, 0));
	EXPECT_EQ(-EIDRM, cport_dissociate(self->port, fresh));
	cport_prep_recv(&s[0], fresh, self->buf, sizeof(self->buf), 1, 0);
	EXPECT_EQ(-EIDRM, submit1(self->port, &s[0]));
	cport_prep_accept(&s[0], self->fds[0], NULL, 0, 1, 0, 0);
	EXPECT_EQ(-EIDRM, submit1(self->port, &s[0]));
	cport_prep_recv(&s[0], self->fds[0], (void *)KADDR, 1, 1, 0);
	EXPECT_EQ(-EIDRM, submit1(self->port, &s[0]));

	/* ...but after -EINVAL, -EBADF, -ENOTSOCK, -EOPNOTSUPP. */
	EXPECT_EQ(-EOPNOTSUPP, cport_associate(self->port, udp, 1, 0));
	cport_prep_recv(&s[0], p[0], self->buf, 8, 1, 0);
	EXPECT_EQ(-ENOTSOCK, submit1(self->port, &s[0]));
	/* A pipe can be associated: the port's state comes first. */
	EXPECT_EQ(-EIDRM, cport_associate(self->port, p[0], 1, 0));
	EXPECT_EQ(-EBADF, cport_associate(self->port, gone, 1, 0));
	EXPECT_EQ(-EINVAL, cport_associate(self->port, fresh, 1, 1U << 7));
	EXPECT_EQ(-EINVAL, cport_cancel(self->port, 0, 0));
	cport_prep_recv(&s[0], self->fds[0], self->buf, 8, 1, 0);
	s[0].flags = CPORT_SQE_INLINE | CPORT_SQE_POST;
	EXPECT_EQ(-EINVAL, submit1(self->port, &s[0]));
	cport_prep_recv(&s[0], p[0], self->buf, 8, 1, 0);
	EXPECT_EQ(-ENOTSOCK, submit1(self->port, &s[0]));
	cport_prep_recv(&s[0], gone, self->buf, 8, 1, 0);
	EXPECT_EQ(-EBADF, submit1(self->port, &s[0]));
	close(fresh);
	close(udp);
	close(p[0]);
	close(p[1]);
}

TEST_HARNESS_MAIN
