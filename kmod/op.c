// SPDX-License-Identifier: GPL-2.0
/*
 * Socket operations: RECV, SEND and ACCEPT, the runner that moves their
 * data, cancel, per-operation timeouts, and the fallback worker.
 *
 * Operations queue on their socket in submission order, one queue per
 * direction (RECV and ACCEPT on rxq, SEND on txq); only the head of a
 * queue does I/O, so recvs fill in order and sends go out whole, in
 * order.  All I/O is non-blocking and done by the socket's runner
 * (cport_sock_run()), of which there is one at a time per socket:
 *
 *  - the submitting thread, at once (the common case for a send, and for
 *    a recv whose data is already there);
 *  - else, when the socket's wait queue says it is ready, a thread
 *    waiting on the port: port.c hands it the socket like a completion,
 *    and it runs the I/O in its own context and returns what completed,
 *    so a completion costs one wakeup and no kernel-thread hop;
 *  - else a thread of the port that enters a wait while the socket is
 *    queued (no sleep at all);
 *  - and, so that data moves even when no thread waits, the port's
 *    worker: a work item that borrows the owner's address space
 *    (kthread_use_mm()) and memory cgroup, and each operation's
 *    submitter's credentials, started at once when no thread
 *    of the port is running, after CPORT_WORKER_DELAY otherwise.
 *
 * Every path that wants an operation finished early (cancel, timeout,
 * destroy) only marks it (op->cancel, under sock->lock) and kicks the
 * socket; the runner completes it, with its real result if the I/O
 * finished first.  So each operation completes exactly once.  See
 * cport.h for the locking rules and docs/design.md for the reasons.
 */
#include <linux/cred.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait_bit.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "compat.h"
#include "cport.h"
#include "trace.h"

struct cport_op {
	struct list_head	list;		/* sock->rxq or ->txq: slock */
	struct cport_sock	*sock;
	struct cport_node	*node;		/* its completion, preallocated */
	void __user		*buf;
	u32			len;
	u32			done;		/* bytes moved: runner */
	u64			user_data;
	u64			key;		/* ACCEPT: the new socket's key */
	u32			op_flags;
	u8			opcode;
	bool			finished;	/* slock */
	bool			timed;
	int			cancel;		/* slock: the status asked for */
	const struct cred	*cred;		/* the submitter's, for the worker */
	long			res;		/* runner, once finished */
	struct file		*newfile;	/* ACCEPT: the new connection */
	struct hrtimer		timer;
};

enum cport_io {
	CPORT_IO_DONE,		/* finished: op->res */
	CPORT_IO_AGAIN,		/* would block: wait for the socket */
	CPORT_IO_RETRY,		/* interrupted: run again elsewhere */
};

static struct kmem_cache *cport_op_cache;

static enum cport_io cport_io_error(struct cport_op *op, int ret)
{
	if (ret == -EAGAIN)
		return CPORT_IO_AGAIN;
	if (ret == -EINTR || ret == -ERESTARTSYS)
		return CPORT_IO_RETRY;
	op->res = ret;
	return CPORT_IO_DONE;
}

static enum cport_io cport_do_recv(struct cport_sock *s, struct cport_op *op)
{
	struct msghdr msg;
	int ret;

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
		memset(&msg, 0, sizeof(msg));
		iov_iter_ubuf(&msg.msg_iter, ITER_DEST, op->buf + op->done,
			      op->len - op->done);
		ret = sock_recvmsg(s->sock, &msg, MSG_DONTWAIT);
		if (ret <= 0)
			break;
		op->done += ret;
		if (op->done == op->len || !(op->op_flags & CPORT_RECV_FILL))
			break;
	}
	if (ret < 0)
		return cport_io_error(op, ret);
	/* Data, full, or end of file. */
	op->res = op->done;
	return CPORT_IO_DONE;
}

static enum cport_io cport_do_send(struct cport_sock *s, struct cport_op *op)
{
	struct msghdr msg;
	int ret;

	while (op->done < op->len) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
		iov_iter_ubuf(&msg.msg_iter, ITER_SOURCE, op->buf + op->done,
			      op->len - op->done);
		ret = sock_sendmsg(s->sock, &msg);
		if (ret < 0)
			return cport_io_error(op, ret);
		if (!ret)
			return CPORT_IO_AGAIN;
		op->done += ret;
		cond_resched();
	}
	op->res = op->done;
	return CPORT_IO_DONE;
}

static enum cport_io cport_do_accept(struct cport_sock *s,
				     struct cport_op *op)
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
			op->done = ret;
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

static enum cport_io cport_op_io(struct cport_sock *s, struct cport_op *op)
{
	switch (op->opcode) {
	case CPORT_OP_RECV:
		return cport_do_recv(s, op);
	case CPORT_OP_SEND:
		return cport_do_send(s, op);
	default:
		return cport_do_accept(s, op);
	}
}

/* In the worker, the I/O runs with the submitter's credentials. */
static enum cport_io cport_op_io_as(struct cport_sock *s, struct cport_op *op)
{
	const struct cred *old;
	enum cport_io io;

	if (!(current->flags & PF_KTHREAD))
		return cport_op_io(s, op);
	old = override_creds(op->cred);
	io = cport_op_io(s, op);
	revert_creds(old);
	return io;
}

static void __cport_op_finish(struct cport_sock *s, struct cport_op *op,
			      struct list_head *done)
{
	lockdep_assert_held(&s->lock);
	list_move_tail(&op->list, done);
	op->finished = true;
	s->nr_ops--;
}

/* Finish every operation marked by cancel, timeout or (@dead) destroy. */
static void __cport_sock_reap(struct cport_sock *s, struct list_head *done,
			      bool dead)
{
	struct list_head *queues[] = { &s->rxq, &s->txq };
	struct cport_op *op, *tmp;
	int i;

	if (!s->nr_marked && !dead)
		return;
	s->nr_marked = 0;
	for (i = 0; i < ARRAY_SIZE(queues); i++) {
		list_for_each_entry_safe(op, tmp, queues[i], list) {
			if (dead && !op->cancel)
				op->cancel = -EIDRM;
			if (op->cancel) {
				op->res = op->cancel;
				__cport_op_finish(s, op, done);
			}
		}
	}
}

/* Run the head of @q until it would block; sock->lock is dropped for I/O. */
static void __cport_sock_run_queue(struct cport_sock *s, struct list_head *q,
				   struct list_head *done, bool *retry)
{
	struct cport_op *op;
	enum cport_io io;

	while ((op = list_first_entry_or_null(q, struct cport_op, list))) {
		spin_unlock_irq(&s->lock);
		io = cport_op_io_as(s, op);
		cond_resched();
		spin_lock_irq(&s->lock);
		if (io != CPORT_IO_DONE) {
			*retry |= io == CPORT_IO_RETRY;
			if (!op->cancel)
				break;
			/* Cancelled or timed out meanwhile: the bytes so far. */
			op->res = op->cancel;
		}
		__cport_op_finish(s, op, done);
	}
}

static void cport_op_fill(struct cport_sock *s, struct cport_op *op,
			  struct cport_node *node)
{
	memset(&node->cqe, 0, sizeof(node->cqe));
	node->cqe.user_data = op->user_data;
	node->cqe.key = s->key;
	node->cqe.res = op->res;
	node->cqe.bytes = op->done;
	node->cqe.op = op->opcode;
	node->file = op->newfile;
	op->newfile = NULL;
	node->fd_flags = (op->op_flags & CPORT_ACCEPT_CLOEXEC) ? O_CLOEXEC : 0;
}

static void cport_op_free(struct cport_op *op)
{
	if (op->timed)
		hrtimer_cancel(&op->timer);
	if (op->node)
		cport_node_free(op->node);
	if (op->newfile)
		fput(op->newfile);
	if (op->cred)
		put_cred(op->cred);
	kmem_cache_free(cport_op_cache, op);
}

/*
 * Deliver the finished operations on @done: into @sink (a waiting thread
 * running the socket takes them itself), or to the port; @mine is left
 * for the submitter to return inline.  Returns whether poll waiters need
 * waking.
 */
static bool cport_ops_complete(struct cport_sock *s, struct list_head *done,
			       struct list_head *sink, struct cport_op *mine)
{
	struct cport_port *port = s->port;
	bool dead = READ_ONCE(port->dead);
	struct cport_node *node;
	struct cport_op *op;
	bool wake = false;

	list_for_each_entry(op, done, list) {
		atomic_dec(&port->nr_ops);
		if (op->res == -ECANCELED)
			atomic64_inc(&port->sstats.cancelled);
		else if (op->res == -ETIMEDOUT && op->cancel == -ETIMEDOUT)
			atomic64_inc(&port->sstats.timedout);
		trace_cport_op_done(port->id, op->opcode, op->user_data,
				    op->res, op->done,
				    op == mine ? 1 : dead ? 2 : 0);
		if (op == mine)
			continue;
		atomic64_inc(&port->sstats.completed);
		node = op->node;
		op->node = NULL;
		cport_op_fill(s, op, node);
		if (sink && !dead)
			list_add_tail(&node->list, sink);
		else
			wake |= cport_post_node(port, node);
	}
	return wake;
}

/*
 * Run socket @s: finish what was cancelled, do the I/O of each queue's
 * head until it would block, deliver what finished, and keep the socket's
 * wait-queue hook armed exactly while operations are pending (the file
 * reference goes with it).  If another runner owns the socket, it is
 * asked to go round again instead.  Completions go to @sink if given,
 * else to the port.  Returns true if @mine finished: the caller then owns
 * it and returns its result inline.  Process context, no lock held, the
 * caller holds a reference to @s.
 */
bool cport_sock_run(struct cport_sock *s, struct list_head *sink,
		    struct cport_op *mine)
{
	struct cport_port *port = s->port;
	bool mine_done = false, armed = false, wake = false, retry = false;
	wait_queue_head_t *whead;
	struct cport_op *op, *tmp;
	struct file *file;
	LIST_HEAD(finished);
	LIST_HEAD(done);

	spin_lock_irq(&s->lock);
	if (s->running) {
		s->rerun = true;
		spin_unlock_irq(&s->lock);
		return false;
	}
	s->running = true;
	for (;;) {
		s->rerun = false;
		__cport_sock_reap(s, &done, READ_ONCE(port->dead));
		__cport_sock_run_queue(s, &s->rxq, &done, &retry);
		__cport_sock_run_queue(s, &s->txq, &done, &retry);
		if (!list_empty(&done)) {
			spin_unlock_irq(&s->lock);
			wake |= cport_ops_complete(s, &done, sink, mine);
			list_splice_tail_init(&done, &finished);
			spin_lock_irq(&s->lock);
		}
		if (s->rerun)
			continue;
		if (s->nr_ops && !s->whead && !armed && !READ_ONCE(port->dead)) {
			/* Hook the socket, then look again: it may be ready. */
			spin_unlock_irq(&s->lock);
			cport_sock_arm(s);
			armed = true;
			spin_lock_irq(&s->lock);
			continue;
		}
		if (!s->nr_ops && s->file) {
			file = s->file;
			s->file = NULL;
			s->sock = NULL;
			/* Pairs with the POLLFREE unhook in cport_sock_wake(). */
			whead = smp_load_acquire(&s->whead);
			s->whead = NULL;
			spin_unlock_irq(&s->lock);
			cport_sock_disarm(s, whead);
			fput(file);
			armed = false;
			spin_lock_irq(&s->lock);
			if (s->rerun || s->nr_ops)
				continue;
		}
		break;
	}
	s->running = false;
	spin_unlock_irq(&s->lock);
	/*
	 * A destroy (which sets port->dead before it waits) may be waiting
	 * for this run to end.  The barrier orders the store of running
	 * above before the load of dead and wake_up_var()'s lockless look at
	 * the wait queue; it pairs with the one in wait_var_event().
	 */
	smp_mb();
	if (READ_ONCE(port->dead))
		wake_up_var(&s->running);

	if (wake)
		cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
	list_for_each_entry_safe(op, tmp, &finished, list) {
		if (op == mine) {
			mine_done = true;
			continue;
		}
		list_del(&op->list);
		cport_op_free(op);
	}
	if (retry)
		cport_sock_kick(s);
	return mine_done;
}

static enum hrtimer_restart cport_op_timeout(struct hrtimer *timer)
{
	struct cport_op *op = container_of(timer, struct cport_op, timer);
	struct cport_sock *s = op->sock;
	unsigned long flags;
	bool kick = false;

	spin_lock_irqsave(&s->lock, flags);
	if (!op->finished && !op->cancel) {
		op->cancel = -ETIMEDOUT;
		s->nr_marked++;
		if (s->running)
			s->rerun = true;
		else
			kick = true;
	}
	spin_unlock_irqrestore(&s->lock, flags);
	if (kick)
		cport_sock_kick(s);
	return HRTIMER_NORESTART;
}

/*
 * @op finished while its submitter ran the socket: write its result into
 * the submission.  If that cannot be written (user space unmapped it
 * since the probe), post it instead: never lost.
 */
static void cport_op_return_inline(struct cport_port *port,
				   struct cport_sock *s, struct cport_op *op,
				   struct cport_sqe __user *usqe)
{
	struct cport_node *node;
	s64 res = op->res;
	int fd = -1;

	if (op->newfile) {
		fd = get_unused_fd_flags((op->op_flags & CPORT_ACCEPT_CLOEXEC) ?
					 O_CLOEXEC : 0);
		res = fd;
	}
	if (put_user(res, &usqe->res) || put_user(op->done, &usqe->bytes) ||
	    put_user((u8)CPORT_STATUS_INLINE, &usqe->status)) {
		if (fd >= 0)
			put_unused_fd(fd);
		node = op->node;
		op->node = NULL;
		cport_op_fill(s, op, node);
		atomic64_inc(&port->sstats.completed);
		if (cport_post_node(port, node))
			cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
	} else {
		if (fd >= 0) {
			fd_install(fd, op->newfile);
			op->newfile = NULL;
		}
		atomic64_inc(&port->sstats.inlined);
	}
	/* Without a descriptor the new connection is closed here. */
	cport_op_free(op);
}

/* RECV, SEND, ACCEPT: the fields were checked by main.c. */
int cport_op_submit(struct cport_port *port, const struct cport_sqe *sqe,
		    struct cport_sqe __user *usqe)
{
	struct cport_sock *s;
	struct cport_op *op;
	struct socket *sock;
	struct file *file;
	bool want_inline;
	int ret;

	file = fget(sqe->fd);
	if (!file)
		return -EBADF;
	sock = sock_from_file(file);
	ret = -ENOTSOCK;
	if (!sock)
		goto out_fput;
	ret = -EIDRM;
	if (READ_ONCE(port->dead))
		goto out_fput;
	ret = -ENOENT;
	s = cport_sock_get(port, sock->sk);
	if (!s)
		goto out_fput;
	ret = -EINVAL;
	if (sqe->opcode == CPORT_OP_ACCEPT &&
	    READ_ONCE(sock->sk->sk_state) != TCP_LISTEN)
		goto out_put;
	ret = -EFAULT;
	if (sqe->len && !access_ok(u64_to_user_ptr(sqe->addr), sqe->len))
		goto out_put;
	/* The status must be writable before the operation can start. */
	if (put_user((u8)0, &usqe->status))
		goto out_put;
	ret = -ENOBUFS;
	if (atomic_inc_return(&port->nr_ops) > port->max_pending)
		goto out_dec;
	ret = -ENOMEM;
	op = kmem_cache_zalloc(cport_op_cache, GFP_KERNEL_ACCOUNT);
	if (!op)
		goto out_dec;
	op->node = cport_node_alloc();
	if (!op->node)
		goto out_free;
	op->cred = get_current_cred();

	op->sock = s;
	op->opcode = sqe->opcode;
	op->buf = u64_to_user_ptr(sqe->addr);
	op->len = sqe->len;
	op->user_data = sqe->user_data;
	op->key = sqe->key;
	op->op_flags = sqe->op_flags;
	if (sqe->timeout_ns) {
		op->timed = true;
		hrtimer_setup(&op->timer, cport_op_timeout, CLOCK_MONOTONIC,
			      HRTIMER_MODE_REL_PINNED_SOFT);
	}

	spin_lock_irq(&s->lock);
	if (s->unlinked) {
		spin_unlock_irq(&s->lock);
		ret = READ_ONCE(port->dead) ? -EIDRM : -ENOENT;
		goto out_free;
	}
	list_add_tail(&op->list, sqe->opcode == CPORT_OP_SEND ? &s->txq :
							       &s->rxq);
	s->nr_ops++;
	if (!s->file) {
		/* The pending operations pin the socket's file. */
		s->file = file;
		s->sock = sock;
		file = NULL;
	}
	if (op->timed)
		hrtimer_start(&op->timer,
			      ns_to_ktime(min_t(u64, sqe->timeout_ns, KTIME_MAX)),
			      HRTIMER_MODE_REL_PINNED_SOFT);
	spin_unlock_irq(&s->lock);
	if (file)
		fput(file);
	atomic64_inc(&port->sstats.submitted);

	want_inline = (sqe->flags & CPORT_SQE_INLINE) ||
		      (s->inline_default && !(sqe->flags & CPORT_SQE_POST));
	atomic64_inc(&port->sstats.runs_submit);
	trace_cport_sock_run(port->id, s->key, current->pid, 0);
	if (cport_sock_run(s, NULL, want_inline ? op : NULL))
		cport_op_return_inline(port, s, op, usqe);
	else if (put_user((u8)CPORT_STATUS_PENDING, &usqe->status))
		/* Taken all the same: its completion will come. */
		pr_debug("cport: status of a pending operation unwritable\n");
	cport_sock_put(s);
	return 0;

out_free:
	cport_op_free(op);
out_dec:
	atomic_dec(&port->nr_ops);
out_put:
	cport_sock_put(s);
out_fput:
	if (file)
		fput(file);
	return ret;
}

/* Mark @s's operations selected by @sqe cancelled; returns how many. */
static int cport_sock_cancel(struct cport_sock *s, const struct cport_sqe *sqe)
{
	struct list_head *queues[] = { &s->rxq, &s->txq };
	struct cport_op *op;
	bool kick = false;
	int i, n = 0;

	spin_lock_irq(&s->lock);
	for (i = 0; i < ARRAY_SIZE(queues); i++) {
		list_for_each_entry(op, queues[i], list) {
			if (op->cancel)
				continue;
			if (sqe->op_flags == CPORT_CANCEL_USER_DATA &&
			    op->user_data != sqe->user_data)
				continue;
			op->cancel = -ECANCELED;
			n++;
		}
	}
	s->nr_marked += n;
	if (n) {
		if (s->running)
			s->rerun = true;
		else
			kick = true;
	}
	spin_unlock_irq(&s->lock);
	if (kick)
		cport_sock_kick(s);
	return n;
}

/* The socket @fd refers to, with a reference to its file, or an errno. */
static struct socket *cport_fd_sock(int fd, struct file **filep)
{
	struct socket *sock;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	sock = sock_from_file(file);
	if (!sock) {
		fput(file);
		return ERR_PTR(-ENOTSOCK);
	}
	*filep = file;
	return sock;
}

int cport_op_cancel(struct cport_port *port, const struct cport_sqe *sqe,
		    struct cport_sqe __user *usqe)
{
	struct cport_sock *s = NULL;
	struct file *file = NULL;
	struct socket *sock;
	int ret, n = 0;

	if (sqe->op_flags == CPORT_CANCEL_FD) {
		sock = cport_fd_sock(sqe->fd, &file);
		if (IS_ERR(sock))
			return PTR_ERR(sock);
		ret = -EIDRM;
		if (READ_ONCE(port->dead))
			goto out;
		ret = -ENOENT;
		s = cport_sock_get(port, sock->sk);
		if (!s)
			goto out;
	} else if (READ_ONCE(port->dead)) {
		return -EIDRM;
	}
	ret = -EFAULT;
	if (put_user((u8)CPORT_STATUS_INLINE, &usqe->status))
		goto out;

	if (s) {
		n = cport_sock_cancel(s, sqe);
	} else {
		mutex_lock(&port->socks_mutex);
		list_for_each_entry(s, &port->socks, port_link)
			if (sqe->op_flags != CPORT_CANCEL_KEY ||
			    s->key == sqe->key)
				n += cport_sock_cancel(s, sqe);
		mutex_unlock(&port->socks_mutex);
		s = NULL;
	}
	ret = 0;
	if (put_user(n ? (s64)n : (s64)-ENOENT, &usqe->res) ||
	    put_user(0U, &usqe->bytes))
		ret = -EFAULT;
out:
	if (s)
		cport_sock_put(s);
	if (file)
		fput(file);
	return ret;
}

static bool cport_sock_supported(const struct sock *sk)
{
	if (sk->sk_type != SOCK_STREAM)
		return false;
	if (sk->sk_family == AF_UNIX)
		return true;
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_protocol == IPPROTO_TCP;
}

int cport_op_associate(struct cport_port *port, const struct cport_sqe *sqe)
{
	struct socket *sock;
	struct file *file;
	int ret;

	sock = cport_fd_sock(sqe->fd, &file);
	if (IS_ERR(sock))
		return PTR_ERR(sock);
	if (!cport_sock_supported(sock->sk))
		ret = -EOPNOTSUPP;
	else if (READ_ONCE(port->dead))
		ret = -EIDRM;
	else
		ret = cport_sock_associate(port, sock->sk, sqe->key,
					   sqe->op_flags & CPORT_ASSOC_INLINE);
	fput(file);
	return ret;
}

int cport_op_dissociate(struct cport_port *port, const struct cport_sqe *sqe)
{
	struct socket *sock;
	struct file *file;
	int ret;

	sock = cport_fd_sock(sqe->fd, &file);
	if (IS_ERR(sock))
		return PTR_ERR(sock);
	ret = cport_sock_dissociate(port, sock->sk);
	fput(file);
	return ret;
}

/*
 * The fallback runner: moves the data of ready sockets when no thread of
 * the port came for them, in the owner's address space and with its
 * credentials.  If the owner's address space is gone, nothing can move;
 * destroy cleans up.
 */
void cport_port_work(struct work_struct *work)
{
	struct cport_port *port = container_of(to_delayed_work(work),
					       struct cport_port, work);
	struct mem_cgroup *memcg, *old_memcg;
	struct cport_sock *s;

	if (mmget_not_zero(port->mm)) {
		kthread_use_mm(port->mm);
		/* Charge what the I/O allocates to the owner, not to root. */
		memcg = get_mem_cgroup_from_mm(port->mm);
		old_memcg = set_active_memcg(memcg);
		while ((s = cport_ready_pop(port))) {
			atomic64_inc(&port->sstats.runs_worker);
			trace_cport_sock_run(port->id, s->key, current->pid, 2);
			cport_sock_run(s, NULL, NULL);
			cport_sock_put(s);
			cond_resched();
		}
		set_active_memcg(old_memcg);
		mem_cgroup_put(memcg);
		kthread_unuse_mm(port->mm);
		mmput(port->mm);
	}
	/* The reference taken when the work was queued. */
	cport_port_put(port);
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
