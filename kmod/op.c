// SPDX-License-Identifier: GPL-2.0
/*
 * Socket operations: submission (prep, then issue, as io_uring pairs its
 * io_*_prep() and io_*() calls), ASSOCIATE and DISSOCIATE, and the life
 * of a struct cport_op.  Cancel and timeouts are cancel.c, the I/O of
 * each opcode net.c, who runs a socket runner.c.
 *
 * Operations queue on their socket in submission order, one queue per
 * direction (RECV and ACCEPT on rxq, SEND on txq); only the head of a
 * queue does I/O (net.c), and only the socket's runner does it
 * (runner.c), so recvs fill in order and sends go out whole, in order.
 *
 */
#include <linux/cred.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/hrtimer.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "compat.h"
#include "cport.h"
#include "trace.h"

static struct kmem_cache *cport_op_cache;

/*
 * Drop a reference to an association a submission looked up: a file's
 * association that the submission created and nothing else uses ends.
 */
static void cport_assoc_put(struct cport_sock *s)
{
	if (s->is_file)
		cport_file_idle(s);
	cport_sock_put(s);
}

/*
 * Turn finished @op into its completion, which takes over the operation's
 * charges (limits.c) until it is dequeued, discarded or moved to the
 * completion ring.
 */
struct cport_node *cport_op_fill(struct cport_sock *s, struct cport_op *op)
{
	struct cport_node *node = op->node;

	op->node = NULL;
	cport_cqe_set(&node->cqe, op->user_data, s->key, op->res, op->moved,
		      op->cqe_flags, op->opcode);
	node->cqe.buf = op->bid;	/* with CPORT_CQE_F_BUFFER */
	/* The end of a multishot RECV is numbered after its arrivals. */
	if (op->opcode == CPORT_OP_RECV &&
	    (op->op_flags & CPORT_RECV_MULTISHOT))
		node->cqe.seq = op->seq;
	node->file = op->newfile;
	op->newfile = NULL;
	node->scm = op->scm;
	op->scm = NULL;
	node->fd_flags = (op->op_flags & CPORT_ACCEPT_CLOEXEC) ? O_CLOEXEC : 0;
	node->charged = true;
	node->file_charged = op->file_charged;
	op->file_charged = false;
	return node;
}

void cport_op_free(struct cport_op *op)
{
	struct cport_port *port = op->sock->port;

	cport_op_unhash(port, op);
	if (op->timed)
		hrtimer_cancel(&op->timer);
	if (op->node)
		cport_node_free(port, op->node);
	if (op->spare)
		cport_node_free(port, op->spare);
	if (op->newfile)
		fput(op->newfile);
	if (op->file_charged)
		cport_uncharge_file(port);
	if (op->cred)
		put_cred(op->cred);
	if (op->scm)
		cport_scm_free(port, op->scm);
	if (op->msg)
		cport_msg_free(port, op->msg);
	if (op->sf) {
		fput(op->sf->file);
		if (op->sf->charged)
			cport_uncharge_file(port);
		kfree(op->sf);
	}
	kfree(op->iov);
	if (op->iov_units)
		cport_uncharge_bytes(port, op->iov_units);
	kmem_cache_free(cport_op_cache, op);
}

/*
 * @op finished while its submitter ran the socket: write its result into
 * the submission, and with @post (CPORT_SQE_INLINE_POST) post its
 * completion too.  If the result cannot be written (another thread
 * unmapped the record since cport_op_prep() wrote it), post it instead:
 * never lost, and say so in status if that still can be written.
 */
static void cport_op_return_inline(struct cport_port *port,
				   struct cport_sock *s, struct cport_op *op,
				   struct cport_sqe __user *usqe, bool post)
{
	s64 res = op->res;
	int fd = -1;
	u8 status;

	if (op->newfile) {
		fd = get_unused_fd_flags((op->op_flags & CPORT_ACCEPT_CLOEXEC) ?
					 O_CLOEXEC : 0);
		res = fd;
	}
	/* Windows' rule: a success that came at once still posts. */
	post = post && res >= 0;
	status = post ? CPORT_STATUS_INLINE_POSTED : CPORT_STATUS_INLINE;
	if (put_user(res, &usqe->res) || put_user(op->moved, &usqe->bytes) ||
	    put_user(status, &usqe->status)) {
		if (fd >= 0)
			put_unused_fd(fd);
		atomic64_inc(&port->sstats.completed);
		if (cport_post_node(port, cport_op_fill(s, op)))
			cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
		if (put_user((u8)CPORT_STATUS_PENDING, &usqe->status))
			pr_debug("cport: status of a posted result unwritable\n");
	} else {
		if (fd >= 0) {
			fd_install(fd, op->newfile);
			op->newfile = NULL;
		}
		atomic64_inc(&port->sstats.inlined);
		if (post) {
			/*
			 * The same result, posted: an accepted connection is
			 * the process's already (res is its number), so the
			 * completion carries no file and no file charge.
			 */
			op->res = res;
			op->cqe_flags |= CPORT_CQE_F_INLINE;
			if (op->file_charged) {
				cport_uncharge_file(port);
				op->file_charged = false;
			}
			atomic64_inc(&port->sstats.completed);
			if (cport_post_node(port, cport_op_fill(s, op)))
				cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
		} else {
			cport_uncharge_units(port, 1);
		}
	}
	/* Without a descriptor the new connection is closed here. */
	cport_op_free(op);
}

/* A RECV or SEND on an iovec array. */
static bool cport_op_vec(const struct cport_sqe *sqe)
{
	return (sqe->opcode == CPORT_OP_RECV &&
		(sqe->op_flags & CPORT_RECV_VEC)) ||
	       (sqe->opcode == CPORT_OP_SEND &&
		(sqe->op_flags & CPORT_SEND_VEC));
}

/* A RECVMSG or SENDMSG: addr is a struct msghdr. */
static bool cport_op_msg(const struct cport_sqe *sqe)
{
	return sqe->opcode == CPORT_OP_RECVMSG ||
	       sqe->opcode == CPORT_OP_SENDMSG;
}

/* A RECV into a buffer its group provides when data is there. */
static bool cport_op_bufsel(const struct cport_sqe *sqe)
{
	return sqe->opcode == CPORT_OP_RECV &&
	       (sqe->op_flags & CPORT_RECV_BUFFER);
}

/*
 * Copy the iovec array of a scatter/gather operation, checked as readv(2)
 * and writev(2) check theirs (a 32-bit caller's compat layout included):
 * the array in *@iovp (charged to the memory cgroup) and the total in
 * *@total, or -EINVAL (also for a total of 0), -EFAULT, -ENOMEM.
 */
static int cport_import_iovec(const struct cport_sqe *sqe,
			      struct iovec **iovp, u32 *total)
{
	u32 nr = sqe->len;	/* 1 to CPORT_MAX_IOV: opdef.c */
	struct iovec *iov, *fast;
	struct iov_iter iter;
	ssize_t n;

	fast = kmalloc_array(nr, sizeof(*iov), GFP_KERNEL_ACCOUNT);
	if (!fast)
		return -ENOMEM;
	/* All of it fits the "fast" array: import_iovec() allocates nothing. */
	iov = fast;
	n = import_iovec(sqe->opcode == CPORT_OP_RECV ? ITER_DEST : ITER_SOURCE,
			 u64_to_user_ptr(sqe->addr), nr, nr, &iov, &iter);
	if (n <= 0) {
		kfree(fast);
		return n ?: -EINVAL;
	}
	*iovp = fast;
	*total = n;
	return 0;
}

/*
 * Prep: check what only the kernel can check (the fields were checked by
 * main.c), charge the port and its user, and build the operation, for
 * socket @s and its @file (cport_fd_assoc()).  Takes over both
 * references: they are dropped if it fails.
 */
static struct cport_op *cport_op_prep(struct cport_port *port,
				      const struct cport_sqe *sqe,
				      struct cport_sqe __user *usqe,
				      struct file *file,
				      struct cport_sock *s)
{
	struct cport_msg *msg = NULL;
	struct cport_sf sf = { };
	struct iovec *iov = NULL;
	u32 total = 0, nr_segs = 0;
	struct cport_op *op;
	int ret;

	ret = -EINVAL;
	if (sqe->opcode == CPORT_OP_ACCEPT &&
	    READ_ONCE(s->sk->sk_state) != TCP_LISTEN)
		goto out_put;
	/*
	 * No connect(2) started: TCP leaves the socket SS_UNCONNECTED, and
	 * unix stream sockets of newer kernels keep that state even when
	 * connected (only their sk_state says so).
	 */
	ret = -ENOTCONN;
	if ((sqe->opcode == CPORT_OP_CONNECT ||
	     sqe->opcode == CPORT_OP_DISCONNECT) &&
	    READ_ONCE(sock_from_file(file)->state) == SS_UNCONNECTED &&
	    READ_ONCE(s->sk->sk_state) != TCP_ESTABLISHED)
		goto out_put;
	/* A listener has nothing to disconnect (shutdown(2) says 0). */
	if (sqe->opcode == CPORT_OP_DISCONNECT &&
	    READ_ONCE(s->sk->sk_state) == TCP_LISTEN)
		goto out_put;
	/*
	 * Nor has a datagram socket a connection to end: connected UDP
	 * stays "established" after the shutdown, and the FIN the
	 * operation waits for never goes (DisconnectEx: connection-oriented
	 * sockets only).
	 */
	ret = -EOPNOTSUPP;
	if (sqe->opcode == CPORT_OP_DISCONNECT &&
	    s->sk->sk_type != SOCK_STREAM &&
	    !(s->sk->sk_family == AF_UNIX &&
	      s->sk->sk_type == SOCK_SEQPACKET))
		goto out_put;
	/* A datagram is taken whole: a RECV cannot fill its buffer with more. */
	ret = -EINVAL;
	if (sqe->opcode == CPORT_OP_RECV &&
	    (sqe->op_flags & CPORT_RECV_FILL) &&
	    s->sk->sk_type != SOCK_STREAM)
		goto out_put;
	ret = -EFAULT;
	if (cport_op_msg(sqe)) {
		ret = cport_msg_import(port, sqe, &msg, &iov, &nr_segs, &total);
		if (ret)
			goto out_put;
		ret = -EFAULT;
	} else if (sqe->opcode == CPORT_OP_SENDFILE) {
		/* Its record, with a reference to its file (xmit.c). */
		ret = cport_sendfile_read(sqe, &sf);
		if (ret)
			goto out_put;
		ret = -EFAULT;
	} else if (cport_op_vec(sqe)) {
		ret = cport_import_iovec(sqe, &iov, &total);
		if (ret)
			goto out_put;
		nr_segs = sqe->len;
		ret = -EFAULT;
	} else if (sqe->len && !cport_op_bufsel(sqe) &&
		   sqe->opcode != CPORT_OP_DISCONNECT &&
		   !access_ok(u64_to_user_ptr(sqe->addr), sqe->len)) {
		goto out_put;
	}
	/*
	 * The outputs must be writable before the operation can start: a
	 * submission that fails was not taken.
	 */
	if (put_user((u8)0, &usqe->status) || put_user(0LL, &usqe->res) ||
	    put_user(0U, &usqe->bytes))
		goto out_put;
	ret = cport_charge_units(port, 1);
	if (ret)
		goto out_put;
	ret = -ENOMEM;
	op = kmem_cache_zalloc(cport_op_cache, GFP_KERNEL_ACCOUNT);
	if (!op)
		goto out_uncharge;
	INIT_HLIST_NODE(&op->cancel_node);
	INIT_LIST_HEAD(&op->more);
	op->sock = s;
	op->node = cport_node_alloc();
	if (!op->node)
		goto out_free;
	if (sqe->opcode == CPORT_OP_ACCEPT) {
		/* Its connection will be a file of the user's. */
		ret = cport_charge_file(port);
		if (ret)
			goto out_free;
		op->file_charged = true;
	}
	if (msg) {
		op->msg = msg;
		msg = NULL;
		/* What it copied, in units of the user's (-EDQUOT). */
		ret = cport_charge_bytes(port, sizeof(*op->msg) +
					 (sqe->opcode == CPORT_OP_SENDMSG ?
					  op->msg->controllen : 0),
					 &op->msg->units);
		if (ret)
			goto out_free;
	}
	if (sf.file) {
		/* Its file, held until it completes: a file of the user's. */
		op->sf = kmemdup(&sf, sizeof(sf), GFP_KERNEL_ACCOUNT);
		if (!op->sf)
			goto out_free;
		sf.file = NULL;
		ret = cport_charge_file(port);
		if (ret)
			goto out_free;
		op->sf->charged = true;
	}
	if (iov) {
		op->iov = iov;
		op->nr_segs = nr_segs;
		op->len = total;
		iov = NULL;
		/* The array, in units of the user's (-EDQUOT). */
		ret = cport_charge_bytes(port, op->nr_segs * sizeof(*op->iov),
					 &op->iov_units);
		if (ret)
			goto out_free;
	} else if (op->msg) {
		/* A msghdr without buffers: a datagram of 0 bytes. */
		op->buf = NULL;
		op->len = 0;
	} else if (op->sf) {
		/* Everything it sends: CPORT_MAX_IO at most (xmit.c). */
		op->len = op->sf->head_len + op->sf->count + op->sf->tail_len;
	} else if (sqe->opcode != CPORT_OP_DISCONNECT) {
		op->buf = u64_to_user_ptr(sqe->addr);
		op->len = sqe->len;
	}
	/*
	 * get_cred() stores 0 to ->non_rcu with a plain write
	 * (include/linux/cred.h), so threads that share these credentials
	 * race storing the same 0, which strict KCSAN reports.  Benign:
	 * every store to a shared cred's ->non_rcu is that 0.
	 */
	op->cred = data_race(get_current_cred());
	op->submitter = current;
	op->opcode = sqe->opcode;
	op->user_data = sqe->user_data;
	op->key = sqe->key;
	op->op_flags = sqe->op_flags;
	if (sqe->timeout_ns) {
		op->timed = true;
		cport_op_timer_init(op);
	}
	return op;

out_free:
	cport_op_free(op);
out_uncharge:
	cport_uncharge_units(port, 1);
out_put:
	kfree(iov);
	if (msg)
		cport_msg_free(port, msg);
	if (sf.file)
		fput(sf.file);
	cport_assoc_put(s);
	fput(file);
	return ERR_PTR(ret);
}

/*
 * Queue @op on its socket (the first pending operation pins the socket's
 * file, charged against RLIMIT_NOFILE) and start its timer.  Consumes the
 * file reference.
 */
static int cport_op_queue(struct cport_port *port, struct cport_sock *s,
			  struct cport_op *op, struct file *file,
			  const struct cport_sqe *sqe, bool first)
{
	struct list_head *q;
	int ret = 0;

	mutex_lock(&port->cancel_lock);
	spin_lock_irq(&s->lock);
	if (s->unlinked) {
		/* A file's association that ended meanwhile: look again. */
		ret = READ_ONCE(port->dead) ? -EIDRM : !s->is_file ? -ENOENT :
		      -EAGAIN;
	} else if (!s->file) {
		ret = cport_charge_file(port);
		if (!ret) {
			s->file = file;
			/* A file's nbfile is its runner's (file.c). */
			s->sock = s->is_file ? NULL : sock_from_file(file);
			file = NULL;
		}
	}
	if (!ret) {
		q = cport_opdefs[op->opcode].tx ? &s->txq : &s->rxq;
		/* first: the rest of a SEND begun by cport_send_now(). */
		if (first)
			list_add(&op->list, q);
		else
			list_add_tail(&op->list, q);
		__cport_op_hash(port, op);
		s->nr_ops++;
		if (op->timed)
			hrtimer_start(&op->timer,
				      ns_to_ktime(min_t(u64, sqe->timeout_ns,
							KTIME_MAX)),
				      HRTIMER_MODE_REL_PINNED_SOFT);
	}
	spin_unlock_irq(&s->lock);
	mutex_unlock(&port->cancel_lock);
	if (file)
		fput(file);
	return ret;
}

/*
 * The end of cport_send_now(): give the socket's runner role back, and
 * run it if somebody asked for a run meanwhile (a wakeup, a cancel, a
 * SEND queued behind).  A destroy may be waiting for the role: see
 * cport_sock_run().
 */
static void cport_send_now_done(struct cport_sock *s)
{
	bool rerun;

	spin_lock_irq(&s->lock);
	s->running = false;
	rerun = s->rerun;
	spin_unlock_irq(&s->lock);
	cport_sock_run_end(s);
	if (rerun)
		cport_sock_run(s, NULL, NULL);
}

/*
 * A SEND whose result is wanted inline, with nothing else to send ahead of
 * it, goes out at once without an operation being built, queued, run and
 * freed (the common case of a server's answer): the submitter takes the
 * socket's runner role (sock->running) and sends.  What does not fit
 * becomes an operation at the head of the socket's send queue, with the
 * bytes sent so far, before the role is given back, so that nothing can
 * slip in between.  The result is written into the submission; if that
 * fails at the end (another thread unmapped it), it is posted instead,
 * with the unit charged at the start: never lost, and the port's bounds
 * hold.
 *
 * @s and @file are the caller's (cport_fd_assoc()), and stay the caller's.
 * Returns 1 if the SEND must go the usual way (nothing was done), 0 when
 * it was taken, or the submission's -errno.
 */
static int cport_send_now(struct cport_port *port, const struct cport_sqe *sqe,
			  struct cport_sqe __user *usqe, struct cport_sock *s,
			  struct file *file)
{
	void __user *buf = u64_to_user_ptr(sqe->addr);
	struct cport_op *op = NULL;
	struct cport_node *node;
	struct socket *sock;
	struct msghdr msg;
	u32 len = sqe->len, moved = 0;
	long res = 0;
	int ret;

	if (sqe->timeout_ns || (sqe->op_flags & CPORT_SEND_VEC) ||
	    (sqe->flags & (CPORT_SQE_POST | CPORT_SQE_INLINE_POST)) ||
	    (!(sqe->flags & CPORT_SQE_INLINE) && !s->inline_default))
		return 1;
	if (!access_ok(buf, len) || put_user((u8)0, &usqe->status) ||
	    put_user(0LL, &usqe->res) || put_user(0U, &usqe->bytes))
		return -EFAULT;
	ret = cport_charge_units(port, 1);
	if (ret)
		return ret;
	spin_lock_irq(&s->lock);
	if (s->running || !list_empty(&s->txq) || s->unlinked) {
		spin_unlock_irq(&s->lock);
		cport_uncharge_units(port, 1);
		return 1;
	}
	s->running = true;
	spin_unlock_irq(&s->lock);

	sock = sock_from_file(file);
	atomic64_inc(&port->sstats.submitted);
	atomic64_inc(&port->sstats.runs_submit);
	trace_cport_sock_run(port->id, s->key, current->pid,
			     CPORT_RUN_SUBMITTER);
	while (moved < len) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
		iov_iter_ubuf(&msg.msg_iter, ITER_SOURCE, buf + moved,
			      len - moved);
		res = sock_sendmsg(sock, &msg);
		if (res <= 0)
			break;
		moved += res;
		cond_resched();
	}
	if (moved == len) {
		res = len;
	} else if (res == -EAGAIN || !res || res == -EINTR ||
		   res == -ERESTARTSYS) {
		/*
		 * The rest as an operation (which holds a unit of its own),
		 * first in the send queue.  A failure here is the SEND's
		 * result: bytes says what went.
		 */
		refcount_inc(&s->refs);
		op = cport_op_prep(port, sqe, usqe, get_file(file), s);
		if (IS_ERR(op)) {
			res = PTR_ERR(op);
			op = NULL;
		} else {
			op->moved = moved;
			cport_sock_put(s);
			/* The reference prep was given goes to the queue. */
			res = cport_op_queue(port, s, op, file, sqe, true);
			if (res) {
				cport_op_free(op);
				cport_uncharge_units(port, 1);
				op = NULL;
			} else {
				cport_uncharge_units(port, 1);
			}
		}
	}
	cport_send_now_done(s);

	if (op) {
		cport_fallback_note(port);
		if (cport_sock_run(s, NULL, op))
			cport_op_return_inline(port, s, op, usqe, false);
		else if (put_user((u8)CPORT_STATUS_PENDING, &usqe->status))
			pr_debug("cport: status of a pending operation unwritable\n");
		return 0;
	}
	trace_cport_op_done(port->id, CPORT_OP_SEND, sqe->user_data, res,
			    moved, CPORT_END_INLINE);
	if (!put_user(res, &usqe->res) && !put_user(moved, &usqe->bytes) &&
	    !put_user((u8)CPORT_STATUS_INLINE, &usqe->status)) {
		atomic64_inc(&port->sstats.inlined);
		cport_uncharge_units(port, 1);
	} else {
		/* Posted instead, with the unit charged above. */
		node = cport_node_alloc_nofail();
		cport_cqe_set(&node->cqe, sqe->user_data, s->key, res, moved,
			      0, CPORT_OP_SEND);
		node->charged = true;
		atomic64_inc(&port->sstats.completed);
		if (cport_post_node(port, node))
			cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
		if (put_user((u8)CPORT_STATUS_PENDING, &usqe->status))
			pr_debug("cport: status of a posted result unwritable\n");
	}
	return 0;
}

/*
 * RECV, SEND, ACCEPT, CONNECT, READ, WRITE: the fields were checked by
 * main.c.
 */
int cport_op_submit(struct cport_port *port, const struct cport_sqe *sqe,
		    struct cport_sqe __user *usqe)
{
	struct cport_sock *s;
	struct cport_op *op;
	struct file *file;
	bool want_inline, post;
	int ret, tries = 0;

again:
	s = cport_fd_assoc(port, sqe, &file);
	if (IS_ERR(s))
		return PTR_ERR(s);
	if (sqe->opcode == CPORT_OP_SEND) {
		ret = cport_send_now(port, sqe, usqe, s, file);
		if (ret <= 0) {
			cport_sock_put(s);
			fput(file);
			return ret;
		}
	}
	op = cport_op_prep(port, sqe, usqe, file, s);
	if (IS_ERR(op))
		return PTR_ERR(op);
	ret = cport_op_queue(port, s, op, file, sqe, false);
	if (ret) {
		cport_op_free(op);
		cport_uncharge_units(port, 1);
		cport_assoc_put(s);
		if (ret == -EAGAIN && ++tries < 16) {
			cond_resched();
			goto again;
		}
		return ret == -EAGAIN ? -EBUSY : ret;
	}
	atomic64_inc(&port->sstats.submitted);
	cport_fallback_note(port);

	/* Issue: the submitter is the first runner. */
	post = sqe->flags & CPORT_SQE_INLINE_POST;
	want_inline = (sqe->flags & (CPORT_SQE_INLINE | CPORT_SQE_INLINE_POST)) ||
		      (s->inline_default && !(sqe->flags & CPORT_SQE_POST));
	/*
	 * A multishot RECV lives on: its completions are always posted.  (The
	 * record says so: once queued, op may complete and be freed by
	 * another runner at any moment, so it is only compared from here on.)
	 */
	if (sqe->opcode == CPORT_OP_RECV &&
	    (sqe->op_flags & CPORT_RECV_MULTISHOT))
		want_inline = false;
	atomic64_inc(&port->sstats.runs_submit);
	trace_cport_sock_run(port->id, s->key, current->pid,
			     CPORT_RUN_SUBMITTER);
	if (cport_sock_run(s, NULL, want_inline ? op : NULL))
		cport_op_return_inline(port, s, op, usqe, post);
	else if (put_user((u8)CPORT_STATUS_PENDING, &usqe->status))
		/* Taken all the same: its completion will come. */
		pr_debug("cport: status of a pending operation unwritable\n");
	cport_sock_put(s);
	return 0;
}

static bool cport_op_rw(u8 opcode)
{
	return opcode == CPORT_OP_READ || opcode == CPORT_OP_WRITE;
}

/*
 * The association of sqe->fd with @port, with a reference, and the file
 * in *@filep; or -EBADF, -ENOTSOCK, -EOPNOTSUPP, -EIDRM, -ENOENT,
 * -EINVAL, -EBUSY, in the order uapi/linux/cport.h documents them.  A
 * socket must be associated; a file (READ and WRITE) gets its
 * association under sqe->key here (file.c).
 */
struct cport_sock *cport_fd_assoc(struct cport_port *port,
				  const struct cport_sqe *sqe,
				  struct file **filep)
{
	bool rw = cport_op_rw(sqe->opcode);
	bool rd = sqe->opcode == CPORT_OP_READ;
	struct cport_sock *s;
	struct socket *sock;
	struct file *file;

	file = fget(sqe->fd);
	if (!file)
		return ERR_PTR(-EBADF);
	*filep = file;
	s = ERR_PTR(-EBADF);
	if (rw && !(file->f_mode & (rd ? FMODE_READ : FMODE_WRITE)))
		goto out_put;
	sock = sock_from_file(file);
	if (!sock) {
		s = ERR_PTR(-ENOTSOCK);
		if (!rw)
			goto out_put;
		s = ERR_PTR(cport_file_supported(file));
		if (IS_ERR(s))
			goto out_put;
		/* eventfd's write, say, has no non-blocking form. */
		s = ERR_PTR(-EOPNOTSUPP);
		if (rd ? !file->f_op->read_iter : !file->f_op->write_iter)
			goto out_put;
		s = ERR_PTR(-EIDRM);
		if (READ_ONCE(port->dead))
			goto out_put;
		s = cport_file_assoc(port, sqe, file);
	} else if (READ_ONCE(port->dead)) {
		s = ERR_PTR(-EIDRM);
	} else {
		s = cport_sock_get(port, sock->sk) ?: ERR_PTR(-ENOENT);
		/* A socket's completions carry its association's key. */
		if (!IS_ERR(s) && rw && sqe->key) {
			cport_sock_put(s);
			s = ERR_PTR(-EINVAL);
		}
	}
out_put:
	if (IS_ERR(s)) {
		fput(file);
		*filep = NULL;
	}
	return s;
}

/*
 * TCP and UDP over IPv4 and IPv6; unix stream, datagram and seqpacket
 * sockets.
 */
static bool cport_sock_supported(const struct sock *sk)
{
	switch (sk->sk_family) {
	case AF_UNIX:
		return sk->sk_type == SOCK_STREAM || sk->sk_type == SOCK_DGRAM ||
		       sk->sk_type == SOCK_SEQPACKET;
	case AF_INET:
	case AF_INET6:
		return (sk->sk_type == SOCK_STREAM &&
			sk->sk_protocol == IPPROTO_TCP) ||
		       (sk->sk_type == SOCK_DGRAM &&
			sk->sk_protocol == IPPROTO_UDP);
	default:
		return false;
	}
}

int cport_op_associate(struct cport_port *port, const struct cport_sqe *sqe,
		       struct cport_sqe __user *usqe)
{
	struct socket *sock;
	struct file *file;
	int ret;

	file = fget(sqe->fd);
	if (!file)
		return -EBADF;
	sock = sock_from_file(file);
	if (!sock)
		ret = cport_file_associate(port, file);
	else if (!cport_sock_supported(sock->sk))
		ret = -EOPNOTSUPP;
	else if (READ_ONCE(port->dead))
		ret = -EIDRM;
	else
		ret = cport_sock_associate(port, sock->sk, sqe->key,
					   sqe->op_flags & CPORT_ASSOC_INLINE);
	fput(file);
	return ret;
}

int cport_op_dissociate(struct cport_port *port, const struct cport_sqe *sqe,
			struct cport_sqe __user *usqe)
{
	struct socket *sock;
	struct file *file;
	int ret;

	file = fget(sqe->fd);
	if (!file)
		return -EBADF;
	sock = sock_from_file(file);
	if (!sock)
		ret = cport_file_dissociate(port, file);
	else
		ret = cport_sock_dissociate(port, sock->sk);
	fput(file);
	return ret;
}

int cport_ops_init(void)
{
	cport_op_cache = KMEM_CACHE(cport_op, SLAB_ACCOUNT);
	return cport_op_cache ? 0 : -ENOMEM;
}

void cport_ops_exit(void)
{
	kmem_cache_destroy(cport_op_cache);
}
