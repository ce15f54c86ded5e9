// SPDX-License-Identifier: GPL-2.0
/*
 * The submission opcodes, one entry each (io_uring's opdef.c): how a
 * record's fields are checked, how it is issued, and, for the socket
 * operations, how its I/O is done.  CPORT_IOC_ENTER (main.c) and
 * CPORT_IOC_QUERY (port.c) both read this table, so what QUERY announces
 * is what ENTER accepts.  A new opcode is one entry here and its
 * functions in the file of its concern.
 *
 * The checks return the errno documented in uapi/linux/cport.h for the
 * first bad field, in the documented order: every field an opcode
 * neither reads nor writes must be zero.  status, res and bytes are
 * outputs of RECV, SEND, ACCEPT, CONNECT, SENDFILE, DISCONNECT and
 * CANCEL and ignored on input; POST,
 * ASSOCIATE and DISSOCIATE write nothing back, so there they must be zero
 * (but POST's res, its result).
 */
#include <linux/compat.h>
#include <linux/errno.h>

#include "cport.h"

#define CPORT_SQE_FLAGS		(CPORT_SQE_INLINE | CPORT_SQE_POST | \
				 CPORT_SQE_INLINE_POST)
#define CPORT_CANCEL_HOW	(CPORT_CANCEL_USER_DATA | CPORT_CANCEL_FD | \
				 CPORT_CANCEL_KEY | CPORT_CANCEL_ALL)
#define CPORT_ACCEPT_FLAGS	(CPORT_ACCEPT_CLOEXEC | CPORT_ACCEPT_NONBLOCK | \
				 CPORT_ACCEPT_ASSOCIATE | \
				 CPORT_ACCEPT_ASSOC_INLINE)

static int cport_post_check(const struct cport_sqe *sqe)
{
	if (sqe->flags || sqe->op_flags || sqe->fd || sqe->addr ||
	    sqe->status || sqe->bytes)
		return -EINVAL;
	return 0;
}

static int cport_post_issue(struct cport_port *port,
			    const struct cport_sqe *sqe,
			    struct cport_sqe __user *usqe)
{
	struct cport_cqe cqe = {
		.user_data = sqe->user_data,
		.key = sqe->key,
		.res = sqe->res,
		.bytes = sqe->len,
		.op = CPORT_OP_POST,
	};

	return cport_port_post(port, &cqe, sqe->timeout_ns);
}

static int cport_associate_check(const struct cport_sqe *sqe)
{
	if (sqe->flags || (sqe->op_flags & ~CPORT_ASSOC_INLINE) ||
	    sqe->user_data || sqe->addr || sqe->len || sqe->timeout_ns ||
	    sqe->status || sqe->res || sqe->bytes)
		return -EINVAL;
	return 0;
}

static int cport_dissociate_check(const struct cport_sqe *sqe)
{
	if (sqe->flags || sqe->op_flags || sqe->user_data || sqe->addr ||
	    sqe->len || sqe->key || sqe->timeout_ns || sqe->status ||
	    sqe->res || sqe->bytes)
		return -EINVAL;
	return 0;
}

static int cport_cancel_check(const struct cport_sqe *sqe)
{
	const u32 how = sqe->op_flags;

	if (sqe->flags || !how || (how & ~CPORT_CANCEL_HOW) ||
	    (how & (how - 1)) || sqe->addr || sqe->len || sqe->timeout_ns)
		return -EINVAL;
	if (how != CPORT_CANCEL_USER_DATA && sqe->user_data)
		return -EINVAL;
	if (how != CPORT_CANCEL_FD && sqe->fd)
		return -EINVAL;
	if (how != CPORT_CANCEL_KEY && sqe->key)
		return -EINVAL;
	return 0;
}

/* What every socket operation (RECV, SEND, ACCEPT, CONNECT) checks first. */
static int cport_sockop_check(const struct cport_sqe *sqe, bool vec)
{
	if (sqe->flags & ~CPORT_SQE_FLAGS)
		return -EINVAL;
	/* At most one of INLINE, POST and INLINE_POST. */
	if (sqe->flags & (sqe->flags - 1))
		return -EINVAL;
	/* len is a byte count, or with an iovec array its entries. */
	if (sqe->len > (vec ? CPORT_MAX_IOV : CPORT_MAX_IO))
		return -EINVAL;
	return 0;
}

#define CPORT_RECV_FLAGS	(CPORT_RECV_FILL | CPORT_RECV_VEC | \
				 CPORT_RECV_BUFFER | CPORT_RECV_MULTISHOT)

/*
 * A RECV into a buffer of a group: len is 0 (the whole buffer) or at most
 * that many bytes, key the group; neither a buffer of its own, nor FILL or
 * VEC.  A multishot one always posts and has no timeout.
 */
static int cport_recv_buffer_check(const struct cport_sqe *sqe)
{
	const u32 of = sqe->op_flags;

	if (sqe->addr || (of & (CPORT_RECV_FILL | CPORT_RECV_VEC)) ||
	    sqe->key >= CPORT_MAX_BUF_GROUPS)
		return -EINVAL;
	if ((of & CPORT_RECV_MULTISHOT) &&
	    ((sqe->flags & (CPORT_SQE_INLINE | CPORT_SQE_INLINE_POST)) ||
	     sqe->timeout_ns))
		return -EINVAL;
	return 0;
}

static int cport_recv_check(const struct cport_sqe *sqe)
{
	const u32 of = sqe->op_flags;
	int ret = cport_sockop_check(sqe, of & CPORT_RECV_VEC);

	if (ret)
		return ret;
	if (of & ~CPORT_RECV_FLAGS)
		return -EINVAL;
	if ((of & CPORT_RECV_MULTISHOT) && !(of & CPORT_RECV_BUFFER))
		return -EINVAL;
	if (of & CPORT_RECV_BUFFER)
		return cport_recv_buffer_check(sqe);
	if (sqe->key)
		return -EINVAL;
	/* An iovec array has at least one entry. */
	if ((sqe->op_flags & CPORT_RECV_VEC) && !sqe->len)
		return -EINVAL;
	/* A zero-byte recv: a readiness notification, no buffer. */
	if (!sqe->len && (sqe->addr || (sqe->op_flags & CPORT_RECV_FILL)))
		return -EINVAL;
	return 0;
}

static int cport_send_check(const struct cport_sqe *sqe)
{
	int ret = cport_sockop_check(sqe, sqe->op_flags & CPORT_SEND_VEC);

	if (ret)
		return ret;
	if ((sqe->op_flags & ~CPORT_SEND_VEC) || sqe->key)
		return -EINVAL;
	if ((sqe->op_flags & CPORT_SEND_VEC) && !sqe->len)
		return -EINVAL;
	return 0;
}

static int cport_connect_check(const struct cport_sqe *sqe)
{
	int ret = cport_sockop_check(sqe, false);

	if (ret)
		return ret;
	if (sqe->op_flags || sqe->key)
		return -EINVAL;
	return 0;
}

/*
 * RECVMSG, SENDMSG: addr is the user's struct msghdr (read at submission,
 * op.c), len 0; a 32-bit caller's compat msghdr is not supported.
 */
static int cport_msg_check(const struct cport_sqe *sqe)
{
	u32 of = sqe->opcode == CPORT_OP_RECVMSG ?
		 CPORT_RECVMSG_CMSG_CLOEXEC : 0;
	int ret = cport_sockop_check(sqe, false);

	if (ret)
		return ret;
	if ((sqe->op_flags & ~of) || sqe->key || sqe->len || !sqe->addr ||
	    in_compat_syscall())
		return -EINVAL;
	return 0;
}

/*
 * SENDFILE: addr points to its struct cport_sendfile, len is that
 * record's size (read and checked at submission, xmit.c).
 */
static int cport_sendfile_check(const struct cport_sqe *sqe)
{
	int ret = cport_sockop_check(sqe, false);

	if (ret)
		return ret;
	if (sqe->op_flags || sqe->key || !sqe->addr ||
	    sqe->len < CPORT_SENDFILE_SIZE_VER0 ||
	    sqe->len > CPORT_SENDFILE_SIZE_MAX)
		return -EINVAL;
	return 0;
}

static int cport_disconnect_check(const struct cport_sqe *sqe)
{
	int ret = cport_sockop_check(sqe, false);

	if (ret)
		return ret;
	if ((sqe->op_flags & ~CPORT_DISCONNECT_WAIT) || sqe->key ||
	    sqe->addr || sqe->len)
		return -EINVAL;
	return 0;
}

/*
 * PROVIDE_BUFFERS: fd buffers (1 to CPORT_MAX_BUFS) of len bytes each
 * (1 to CPORT_MAX_IO) from addr, ids from user_data on (the last below
 * CPORT_MAX_BUFS), into group key.  Nothing is written back.
 */
static int cport_provide_check(const struct cport_sqe *sqe)
{
	if (sqe->flags || sqe->op_flags || sqe->timeout_ns || sqe->status ||
	    sqe->res || sqe->bytes)
		return -EINVAL;
	if (sqe->fd <= 0 || sqe->fd > CPORT_MAX_BUFS || !sqe->len ||
	    sqe->len > CPORT_MAX_IO || sqe->key >= CPORT_MAX_BUF_GROUPS ||
	    sqe->user_data > CPORT_MAX_BUFS - sqe->fd)
		return -EINVAL;
	return 0;
}

static int cport_accept_check(const struct cport_sqe *sqe)
{
	const u32 of = sqe->op_flags;
	int ret = cport_sockop_check(sqe, false);

	if (ret)
		return ret;
	if (of & ~CPORT_ACCEPT_FLAGS)
		return -EINVAL;
	if (!(of & CPORT_ACCEPT_ASSOCIATE) &&
	    ((of & CPORT_ACCEPT_ASSOC_INLINE) || sqe->key))
		return -EINVAL;
	if (!sqe->addr != !sqe->len)
		return -EINVAL;
	return 0;
}

/*
 * READ, WRITE: fd, user_data, addr and len (1 to CPORT_MAX_IO bytes),
 * key (the completion key of a file's operations; 0 on a socket, whose
 * association has one), timeout_ns, flags; no op_flags.
 */
static int cport_rw_check(const struct cport_sqe *sqe)
{
	int ret = cport_sockop_check(sqe, false);

	if (ret)
		return ret;
	if (sqe->op_flags || !sqe->len)
		return -EINVAL;
	return 0;
}

/* Opcodes 10 to 13 are other branches' (datagrams, file transfer). */
const struct cport_opdef cport_opdefs[CPORT_OP__NR] = {
	[CPORT_OP_POST] = {
		.name		= "POST",
		.check		= cport_post_check,
		.issue		= cport_post_issue,
	},
	[CPORT_OP_ASSOCIATE] = {
		.name		= "ASSOCIATE",
		.check		= cport_associate_check,
		.issue		= cport_op_associate,
	},
	[CPORT_OP_DISSOCIATE] = {
		.name		= "DISSOCIATE",
		.check		= cport_dissociate_check,
		.issue		= cport_op_dissociate,
	},
	[CPORT_OP_RECV] = {
		.name		= "RECV",
		.check		= cport_recv_check,
		.issue		= cport_op_submit,
		.io		= cport_do_recv,
		.sqe_flags	= CPORT_SQE_FLAGS,
	},
	[CPORT_OP_SEND] = {
		.name		= "SEND",
		.check		= cport_send_check,
		.issue		= cport_op_submit,
		.io		= cport_do_send,
		.sqe_flags	= CPORT_SQE_FLAGS,
		.tx		= true,
	},
	[CPORT_OP_ACCEPT] = {
		.name		= "ACCEPT",
		.check		= cport_accept_check,
		.issue		= cport_op_submit,
		.io		= cport_do_accept,
		.sqe_flags	= CPORT_SQE_FLAGS,
	},
	[CPORT_OP_CANCEL] = {
		.name		= "CANCEL",
		.check		= cport_cancel_check,
		.issue		= cport_op_cancel,
	},
	[CPORT_OP_CONNECT] = {
		.name		= "CONNECT",
		.check		= cport_connect_check,
		.issue		= cport_op_submit,
		.io		= cport_do_connect,
		.sqe_flags	= CPORT_SQE_FLAGS,
		.tx		= true,
	},
	[CPORT_OP_PROVIDE_BUFFERS] = {
		.name		= "PROVIDE_BUFFERS",
		.check		= cport_provide_check,
		.issue		= cport_op_provide,
	},
	[CPORT_OP_RECVMSG] = {
		.name		= "RECVMSG",
		.check		= cport_msg_check,
		.issue		= cport_op_submit,
		.io		= cport_do_recvmsg,
		.sqe_flags	= CPORT_SQE_FLAGS,
	},
	[CPORT_OP_SENDMSG] = {
		.name		= "SENDMSG",
		.check		= cport_msg_check,
		.issue		= cport_op_submit,
		.io		= cport_do_sendmsg,
		.sqe_flags	= CPORT_SQE_FLAGS,
		.tx		= true,
	},
	[CPORT_OP_SENDFILE] = {
		.name		= "SENDFILE",
		.check		= cport_sendfile_check,
		.issue		= cport_op_submit,
		.io		= cport_do_sendfile,
		.sqe_flags	= CPORT_SQE_FLAGS,
		.tx		= true,
	},
	[CPORT_OP_DISCONNECT] = {
		.name		= "DISCONNECT",
		.check		= cport_disconnect_check,
		.issue		= cport_op_submit,
		.io		= cport_do_disconnect,
		.sqe_flags	= CPORT_SQE_FLAGS,
		.tx		= true,
	},
	[CPORT_OP_READ] = {
		.name		= "READ",
		.check		= cport_rw_check,
		.issue		= cport_op_submit,
		.io		= cport_do_read,
		.sqe_flags	= CPORT_SQE_FLAGS,
	},
	[CPORT_OP_WRITE] = {
		.name		= "WRITE",
		.check		= cport_rw_check,
		.issue		= cport_op_submit,
		.io		= cport_do_write,
		.sqe_flags	= CPORT_SQE_FLAGS,
		.tx		= true,
	},
};

/*
 * The entry of @opcode, or NULL if there is none (-EINVAL): the table may
 * have holes (opcodes not defined), whose entries are all zero.
 */
const struct cport_opdef *cport_opdef(u8 opcode)
{
	if (opcode >= CPORT_OP__NR || !cport_opdefs[opcode].issue)
		return NULL;
	return &cport_opdefs[opcode];
}

/* What CPORT_IOC_QUERY announces: the opcodes and sqe flags there are. */
void cport_opdefs_info(u64 *ops, u32 *sqe_flags)
{
	int i;

	*ops = 0;
	*sqe_flags = 0;
	for (i = 0; i < CPORT_OP__NR; i++) {
		if (!cport_opdefs[i].issue)
			continue;
		*ops |= BIT_ULL(i);
		*sqe_flags |= cport_opdefs[i].sqe_flags;
	}
}
