// SPDX-License-Identifier: GPL-2.0
/*
 * Finishing operations early: CPORT_OP_CANCEL and per-operation timeouts.
 *
 * Neither completes anything.  Each marks an operation, under sock->lock,
 * in O(1) (__cport_op_mark()): an operation the runner is not doing I/O
 * on is finished on the spot and put on sock->marked, which the runner
 * takes in one splice; the active one is finished by the runner when its
 * I/O returns, with its real result if that came first.  The runner
 * (runner.c) delivers the completions, so each operation completes
 * exactly once, with -ECANCELED, -ETIMEDOUT or its result.
 *
 * Cancel finds its operations through indexes: by user_data, a hash of
 * the port's pending operations (port->cancel_lock); by key, a hash of
 * the associations (socks_mutex); all of a socket's, its queues, 64 at a
 * time with sock->lock dropped in between.
 */
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/hrtimer.h>
#include <linux/net.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "cport.h"

/*
 * The index of pending operations by user_data, for CPORT_CANCEL_USER_DATA
 * (port->cancel_lock; process context only: operations are hashed when
 * queued and unhashed when freed, by threads of the owner or by a
 * destroy's worker).
 */
static struct hlist_head *cport_cancel_bucket(struct cport_port *port,
					      u64 user_data)
{
	return &port->cancel_hash[hash_64(user_data, CPORT_CANCEL_HASH_BITS)];
}

/*
 * Hashed under cancel_lock in the same section that queues it on its
 * socket (op.c): once queued, a runner may finish and free it.
 */
void __cport_op_hash(struct cport_port *port, struct cport_op *op)
{
	lockdep_assert_held(&port->cancel_lock);
	hlist_add_head(&op->cancel_node,
		       cport_cancel_bucket(port, op->user_data));
}

void cport_op_unhash(struct cport_port *port, struct cport_op *op)
{
	if (hlist_unhashed(&op->cancel_node))
		return;
	mutex_lock(&port->cancel_lock);
	hlist_del(&op->cancel_node);
	mutex_unlock(&port->cancel_lock);
}

/*
 * Ask for @op to finish with @status (-ECANCELED, -ETIMEDOUT), in O(1).
 * Returns whether the socket must be kicked to a runner.
 */
static bool __cport_op_mark(struct cport_sock *s, struct cport_op *op,
			    int status)
{
	lockdep_assert_held(&s->lock);
	/* Its runner reads it without the lock: cport_op_cut(). */
	WRITE_ONCE(op->cancel, status);
	if (op != s->active) {
		op->res = status;
		list_move_tail(&op->list, &s->marked);
		op->finished = true;
		s->nr_ops--;
	}
	if (s->running) {
		s->rerun = true;
		return false;
	}
	return true;
}

static enum hrtimer_restart cport_op_timeout(struct hrtimer *timer)
{
	struct cport_op *op = container_of(timer, struct cport_op, timer);
	struct cport_sock *s = op->sock;
	unsigned long flags;
	bool kick = false;

	spin_lock_irqsave(&s->lock, flags);
	if (!op->finished && !op->cancel)
		kick = __cport_op_mark(s, op, -ETIMEDOUT);
	spin_unlock_irqrestore(&s->lock, flags);
	if (kick)
		cport_sock_kick(s);
	return HRTIMER_NORESTART;
}

void cport_op_timer_init(struct cport_op *op)
{
	hrtimer_setup(&op->timer, cport_op_timeout, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL_PINNED_SOFT);
}

/*
 * Mark every operation of @s cancelled; returns how many.  The socket may
 * hold many: CPORT_REAP_BATCH at a time, with the lock dropped in
 * between (marked operations leave the queues, so each pass starts over
 * from the head, where at most the active one is left).
 */
static int cport_sock_cancel(struct cport_sock *s)
{
	struct list_head *queues[] = { &s->rxq, &s->txq };
	struct cport_op *op, *tmp;
	int i, n = 0, batch;
	bool kick = false;

	spin_lock_irq(&s->lock);
	for (i = 0; i < ARRAY_SIZE(queues); i++) {
restart:
		batch = 0;
		list_for_each_entry_safe(op, tmp, queues[i], list) {
			if (op->cancel)
				continue;
			kick |= __cport_op_mark(s, op, -ECANCELED);
			n++;
			if (++batch < CPORT_REAP_BATCH)
				continue;
			spin_unlock_irq(&s->lock);
			cond_resched();
			spin_lock_irq(&s->lock);
			goto restart;
		}
	}
	spin_unlock_irq(&s->lock);
	if (kick)
		cport_sock_kick(s);
	return n;
}

/* CPORT_CANCEL_USER_DATA: through the index, not all the sockets. */
static int cport_cancel_user_data(struct cport_port *port, u64 user_data)
{
	struct cport_sock *s;
	struct cport_op *op;
	bool kick;
	int n = 0;

	mutex_lock(&port->cancel_lock);
	hlist_for_each_entry(op, cport_cancel_bucket(port, user_data),
			     cancel_node) {
		/*
		 * As long as the user has operations in one bucket (one
		 * user_data, or colliding ones): nothing is hashed or
		 * unhashed while cancel_lock is held.
		 */
		cond_resched();
		if (op->user_data != user_data)
			continue;
		/* Alive: freeing it takes cancel_lock first. */
		s = op->sock;
		kick = false;
		spin_lock_irq(&s->lock);
		if (!op->finished && !op->cancel) {
			kick = __cport_op_mark(s, op, -ECANCELED);
			n++;
		}
		spin_unlock_irq(&s->lock);
		if (kick)
			cport_sock_kick(s);
	}
	mutex_unlock(&port->cancel_lock);
	return n;
}

/* CPORT_CANCEL_KEY and _ALL: the sockets under @key, or all of them. */
static int cport_cancel_socks(struct cport_port *port, bool all, u64 key)
{
	struct cport_sock *s;
	int n = 0;

	mutex_lock(&port->socks_mutex);
	if (all) {
		list_for_each_entry(s, &port->socks, port_link) {
			n += cport_sock_cancel(s);
			cond_resched();
		}
	} else {
		hash_for_each_possible(port->key_hash, s, key_node, key) {
			if (s->key == key)
				n += cport_sock_cancel(s);
			cond_resched();
		}
	}
	mutex_unlock(&port->socks_mutex);
	return n;
}

int cport_op_cancel(struct cport_port *port, const struct cport_sqe *sqe,
		    struct cport_sqe __user *usqe)
{
	struct cport_sock *s = NULL;
	struct file *file = NULL;
	int ret, n = 0;

	if (sqe->op_flags == CPORT_CANCEL_FD) {
		file = fget(sqe->fd);
		if (!file)
			return -EBADF;
		if (sock_from_file(file)) {
			fput(file);
			s = cport_fd_assoc(port, sqe, &file);
			if (IS_ERR(s))
				return PTR_ERR(s);
		} else {
			/* A file: its association, if operations are pending. */
			ret = cport_file_supported(file);
			if (!ret && READ_ONCE(port->dead))
				ret = -EIDRM;
			if (ret) {
				fput(file);
				return ret;
			}
			s = cport_file_find(port, file);
		}
	} else if (READ_ONCE(port->dead)) {
		return -EIDRM;
	}
	/*
	 * The outputs must be writable before anything is cancelled: a
	 * submission that fails was not taken.
	 */
	ret = -EFAULT;
	if (put_user(0LL, &usqe->res) || put_user(0U, &usqe->bytes) ||
	    put_user((u8)CPORT_STATUS_INLINE, &usqe->status))
		goto out;

	if (s)
		n = cport_sock_cancel(s);
	else if (sqe->op_flags == CPORT_CANCEL_FD)
		n = 0;		/* a file with nothing pending */
	else if (sqe->op_flags == CPORT_CANCEL_USER_DATA)
		n = cport_cancel_user_data(port, sqe->user_data);
	else
		n = cport_cancel_socks(port, sqe->op_flags == CPORT_CANCEL_ALL,
				       sqe->key);
	ret = 0;
	/* Written a moment ago: only an unmap since then fails it. */
	if (put_user(n ? (s64)n : (s64)-ENOENT, &usqe->res))
		pr_debug("cport: result of a cancel unwritable\n");
out:
	if (s)
		cport_sock_put(s);
	if (file)
		fput(file);
	return ret;
}

