// SPDX-License-Identifier: GPL-2.0
/*
 * The I/O of each kind of socket operation: RECV, SEND, ACCEPT and
 * CONNECT.
 *
 * Called by a socket's runner (runner.c) for the head of one of its
 * queues, with no lock held, in a thread of the process that owns the
 * port: the buffers are that process's, and the I/O is done, charged and
 * audited as that thread's.  Everything here is non-blocking: a call that
 * would block returns CPORT_IO_AGAIN and the runner waits for the socket's
 * wait queue to say it can make progress.
 */
#include <linux/cred.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/sock.h>

#include "compat.h"
#include "cport.h"

/* Where the next byte of @op goes or comes from: the rest of its buffers. */
void cport_op_iter(struct cport_op *op, struct iov_iter *it, unsigned int dir)
{
	if (op->iov) {
		iov_iter_init(it, dir, op->iov, op->nr_segs, op->len);
		iov_iter_advance(it, op->moved);
	} else {
		iov_iter_ubuf(it, dir, op->buf + op->moved,
			      op->len - op->moved);
	}
}

enum cport_io cport_io_error(struct cport_op *op, int ret)
{
	if (ret == -EAGAIN)
		return CPORT_IO_AGAIN;
	if (ret == -EINTR || ret == -ERESTARTSYS)
		return CPORT_IO_RETRY;
	op->res = ret;
	return CPORT_IO_DONE;
}

/* What a receive's msg_flags say in a completion's flags. */
static u32 cport_msg_cqe_flags(const struct msghdr *msg)
{
	return (msg->msg_flags & MSG_CTRUNC ? CPORT_CQE_F_CTRUNC : 0) |
	       (msg->msg_flags & MSG_TRUNC ? CPORT_CQE_F_TRUNC : 0);
}

/* Is there anything for a RECV to take (data, end of file, an error)? */
static bool cport_sock_readable(struct cport_sock *s)
{
	return vfs_poll(s->file, NULL) & (EPOLLIN | EPOLLRDNORM | EPOLLRDHUP |
					  EPOLLHUP | EPOLLERR);
}

/*
 * A receive's msghdr; with @inq, asking for what is left in the socket
 * afterwards (msg_inq: TCP, and AF_UNIX streams on recent kernels; -1
 * where the protocol does not say), for a receive that goes on after
 * taking data (multishot, or filling its buffer).
 */
static void cport_recv_msg_init(struct msghdr *msg, bool inq)
{
	memset(msg, 0, sizeof(*msg));
	msg->msg_get_inq = inq;
	msg->msg_inq = -1;
}

/*
 * After a receive that took data, is the socket known to be empty, so
 * that another sock_recvmsg() would only say -EAGAIN?  Only if the
 * protocol said nothing is left (msg_inq 0) and a look at the socket
 * finds neither data, end of file nor an error: msg_inq does not count
 * an AF_UNIX peer's shutdown or a TCP error, and a wakeup for those that
 * came before this run started would not come again.  One that comes
 * from now on finds the socket running and makes the runner go round
 * again (s->rerun), as io_uring's multishot receive arms its poll again.
 * Saves the failing call's socket lock, LSM hook, buffer and unit.
 */
static bool cport_recv_drained(struct cport_sock *s, const struct msghdr *msg)
{
	return !msg->msg_inq && !cport_sock_readable(s);
}

/*
 * A multishot RECV's next completion, before it takes any data: a node
 * (kept from one arrival to the next, so that a RECV that waits holds no
 * charge) and its unit of the port's and the user's limits (limits.c), or
 * the errno that ends the RECV.
 */
static int cport_multishot_node(struct cport_sock *s, struct cport_op *op)
{
	if (!op->spare) {
		op->spare = cport_node_alloc();
		if (!op->spare)
			return -ENOMEM;
	}
	return cport_charge_units(s->port, 1);
}

/*
 * RECV into a buffer of group op->key, taken only once there is data.
 * Single-shot, it finishes with the buffer's id in op->bid.  Multishot,
 * each arrival becomes a completion of its own on op->more (flagged
 * CPORT_CQE_F_MORE), and the operation goes on until end of file, an
 * error, a cancel, or data with no buffer left or a full port (-ENOBUFS,
 * the user's -EDQUOT); after
 * CPORT_MULTISHOT_BUDGET arrivals in one run it lets other sockets have
 * the runner (CPORT_IO_RETRY: the socket is queued again).
 */
static enum cport_io cport_recv_buffer(struct cport_sock *s,
				       struct cport_op *op)
{
	bool multi = op->op_flags & CPORT_RECV_MULTISHOT;
	struct cport_port *port = s->port;
	struct sock *sk = s->sock->sk;
	struct cport_node *node;
	unsigned int n = 0;
	struct msghdr msg;
	struct cport_buf b;
	int ret, left = 0;	/* what the last receive left (msg_inq) */

	/*
	 * Nothing to receive: say so before taking a buffer and a unit and
	 * calling sock_recvmsg() for its -EAGAIN.  A run that comes for
	 * another reason (a SEND submitted on the socket, the echo's case)
	 * finds the multishot RECV at the head of the receive queue with
	 * nothing there.  A wakeup from now on finds the socket running and
	 * makes the runner go round again (s->rerun).  Not below a low-water
	 * mark (poll would hide data a receive takes), nor on a listener
	 * (poll says nothing of its reads, which fail at once).
	 */
	if (READ_ONCE(sk->sk_rcvlowat) <= 1 &&
	    READ_ONCE(sk->sk_state) != TCP_LISTEN && !cport_sock_readable(s))
		return CPORT_IO_AGAIN;
	for (;;) {
		if (!cport_buf_take(port, op->key, &b)) {
			if (!cport_sock_readable(s))
				return CPORT_IO_AGAIN;
			ret = -ENOBUFS;
			goto done;
		}
		if (multi) {
			ret = cport_multishot_node(s, op);
			if (ret) {
				cport_buf_put_back(port, op->key, &b);
				/*
				 * The port or its user is full: as with no
				 * buffer, the RECV ends only when data, end
				 * of file or an error is there (it stays in
				 * the socket).  Data the last receive left
				 * counts although poll may not say so (below
				 * SO_RCVLOWAT, no wakeup would come for it).
				 */
				if (ret != -ENOMEM && left <= 0 &&
				    !cport_sock_readable(s))
					return CPORT_IO_AGAIN;
				goto done;
			}
		}
		cport_recv_msg_init(&msg, multi);
		iov_iter_ubuf(&msg.msg_iter, ITER_DEST, u64_to_user_ptr(b.addr),
			      op->len ? min(op->len, b.len) : b.len);
		ret = sock_recvmsg(s->sock, &msg, MSG_DONTWAIT);
		if (ret <= 0) {
			cport_buf_put_back(port, op->key, &b);
			if (multi)
				cport_uncharge_units(port, 1);
			/* Nothing more now (what came is on op->more). */
			if (ret == -EAGAIN || ret == -EINTR ||
			    ret == -ERESTARTSYS)
				return cport_io_error(op, ret);
			goto done;	/* end of file, or an error */
		}
		cport_buf_used(port, op->key);
		if (!multi) {
			op->bid = b.bid;
			op->moved = ret;
			op->res = ret;
			op->cqe_flags |= CPORT_CQE_F_BUFFER |
				cport_msg_cqe_flags(&msg);
			return CPORT_IO_DONE;
		}
		node = op->spare;
		op->spare = NULL;
		node->charged = true;
		cport_cqe_set(&node->cqe, op->user_data, s->key, ret, ret,
			      CPORT_CQE_F_BUFFER | CPORT_CQE_F_MORE |
			      cport_msg_cqe_flags(&msg),
			      CPORT_OP_RECV);
		node->cqe.buf = b.bid;
		node->cqe.seq = op->seq++;
		node->fd_flags = 0;
		list_add_tail(&node->list, &op->more);
		left = msg.msg_inq;
		if (cport_recv_drained(s, &msg))
			return CPORT_IO_AGAIN;
		if (++n == CPORT_MULTISHOT_BUDGET)
			return CPORT_IO_RETRY;
		cond_resched();
	}
done:
	op->res = ret;
	return CPORT_IO_DONE;
}

enum cport_io cport_do_recv(struct cport_sock *s, struct cport_op *op)
{
	struct msghdr msg;
	int ret;

	if (op->op_flags & CPORT_RECV_BUFFER)
		return cport_recv_buffer(s, op);
	if (!op->len) {
		/* Readiness only: consume nothing, report a pending error. */
		__poll_t mask = vfs_poll(s->file, NULL);

		if (!(mask & (EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP |
			      EPOLLERR)))
			return CPORT_IO_AGAIN;
		op->res = -READ_ONCE(s->sk->sk_err);
		return CPORT_IO_DONE;
	}

	for (;;) {
		cport_recv_msg_init(&msg, op->op_flags & CPORT_RECV_FILL);
		cport_op_iter(op, &msg.msg_iter, ITER_DEST);
		ret = sock_recvmsg(s->sock, &msg, MSG_DONTWAIT);
		/*
		 * No control buffer: descriptors or credentials the peer
		 * passed were dropped (scm_recv()).  Say so.
		 */
		if (msg.msg_flags & MSG_CTRUNC)
			op->cqe_flags |= CPORT_CQE_F_CTRUNC;
		/* A datagram longer than the buffer: the rest is gone. */
		if (msg.msg_flags & MSG_TRUNC)
			op->cqe_flags |= CPORT_CQE_F_TRUNC;
		if (ret <= 0)
			break;
		op->moved += ret;
		if (op->moved == op->len || !(op->op_flags & CPORT_RECV_FILL))
			break;
		if (cport_recv_drained(s, &msg))
			return CPORT_IO_AGAIN;
		if (cport_op_cut(op))
			return CPORT_IO_AGAIN;
		cond_resched();
	}
	if (ret < 0)
		return cport_io_error(op, ret);
	/* Data, full, or end of file. */
	op->res = op->moved;
	return CPORT_IO_DONE;
}

enum cport_io cport_do_send(struct cport_sock *s, struct cport_op *op)
{
	struct msghdr msg;
	int ret;

	while (op->moved < op->len) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
		cport_op_iter(op, &msg.msg_iter, ITER_SOURCE);
		ret = sock_sendmsg(s->sock, &msg);
		if (ret < 0)
			return cport_io_error(op, ret);
		if (!ret)
			return CPORT_IO_AGAIN;
		op->moved += ret;
		if (cport_op_cut(op))
			return CPORT_IO_AGAIN;
		cond_resched();
	}
	op->res = op->moved;
	return CPORT_IO_DONE;
}

enum cport_io cport_do_accept(struct cport_sock *s, struct cport_op *op)
{
	struct sockaddr_storage addr;
	struct socket *newsock;
	struct file *file;
	int ret;

	ret = kernel_accept(s->sock, &newsock, O_NONBLOCK);
	if (ret)
		return cport_io_error(op, ret);

	/* Reset before it was accepted: fail this accept, not the listener. */
	ret = sock_error(newsock->sk);
	if (ret)
		goto out_release;
	if (op->buf) {
		ret = kernel_getpeername(newsock, (struct sockaddr *)&addr);
		if (ret < 0)
			goto out_release;
		/* An address that cannot be written does not lose the peer. */
		if (!copy_to_user(op->buf, &addr, min_t(u32, ret, op->len)))
			op->moved = ret;
	}
	file = sock_alloc_file(newsock, (op->op_flags & CPORT_ACCEPT_NONBLOCK) ?
				       O_NONBLOCK : 0, NULL);
	if (IS_ERR(file)) {
		/* sock_alloc_file() released the socket. */
		op->res = PTR_ERR(file);
		return CPORT_IO_DONE;
	}
	if (op->op_flags & CPORT_ACCEPT_ASSOCIATE) {
		ret = cport_sock_associate(s->port, newsock->sk, op->key,
					   op->op_flags &
					   CPORT_ACCEPT_ASSOC_INLINE);
		if (ret) {
			fput(file);
			op->res = ret;
			return CPORT_IO_DONE;
		}
	}
	op->newfile = file;
	op->res = 0;		/* the descriptor, once installed */
	return CPORT_IO_DONE;

out_release:
	sock_release(newsock);
	op->res = ret;
	return CPORT_IO_DONE;
}

/*
 * CONNECT: wait until the connect(2) the caller started is over, then
 * send the data like a SEND.  Connected: the peer has a name (TCP gives
 * none while the SYN is out).  Failed: the socket's error, read and
 * cleared as getsockopt(SO_ERROR) does.  A socket that stopped connecting
 * without an error (shut down meanwhile) has no peer: -ENOTCONN.  One
 * that never started was refused at submission.
 */
enum cport_io cport_do_connect(struct cport_sock *s, struct cport_op *op)
{
	struct sockaddr_storage addr;
	int ret;

	if (!op->connected) {
		ret = sock_error(s->sk);
		if (!ret && kernel_getpeername(s->sock,
					       (struct sockaddr *)&addr) < 0) {
			/* Still connecting, unless poll says it is over. */
			if (!(vfs_poll(s->file, NULL) & (EPOLLERR | EPOLLHUP)))
				return CPORT_IO_AGAIN;
			ret = sock_error(s->sk) ?: -ENOTCONN;
		}
		if (ret) {
			op->res = ret;
			return CPORT_IO_DONE;
		}
		op->connected = true;
	}
	return cport_do_send(s, op);
}

/*
 * Run @op's I/O once.  An operation runs with its submitter's credentials
 * (a waiting thread of the same process may run another thread's
 * operation, and threads can have credentials of their own).
 */
enum cport_io cport_op_io(struct cport_sock *s, struct cport_op *op)
{
	enum cport_io (*io_fn)(struct cport_sock *s, struct cport_op *op) =
		cport_opdefs[op->opcode].io;
	const struct cred *old;
	enum cport_io io;

	if (likely(op->cred == current_cred()))
		return io_fn(s, op);
	old = override_creds(op->cred);
	io = io_fn(s, op);
	revert_creds(old);
	return io;
}
