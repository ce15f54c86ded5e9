// SPDX-License-Identifier: GPL-2.0
/*
 * Waiting for completions: the dequeue side of CPORT_IOC_ENTER.
 *
 * A thread entering a wait first stops counting as running on the port.
 * If completions are queued and the concurrency value allows, it takes
 * them at once without sleeping.  Otherwise it puts a waiter on its stack
 * at the head of port->waiters and sleeps until a completion is handed to
 * it (port.c), the port is destroyed, a signal arrives or the timeout
 * expires.  A waiter may instead be handed a socket whose operations can
 * make progress: it runs that socket's I/O in its own context (op.c) and
 * returns what completed (as much as fits, the runs queue the rest), or
 * waits again if nothing did.  Whatever was handed to it is returned even
 * if a signal or the timeout came at the same moment.  Completions that
 * cannot be copied to user space go back to the queue: those taken from
 * it to its head, those of the sockets the thread ran to its tail
 * (cport_copy_out()).
 *
 * With a completion ring (ring.c), a wait returns, in this order: what
 * was handed to it (one completion, from the queue or the ring), entries
 * of the ring, then completions of the queue, which are all newer than
 * the ring's; then what the sockets it ran completed, as many as still
 * fit (the runs queue the rest, in order, cport_wait_run()).
 */
#include <linux/err.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/poll.h>
#include <linux/resume_user_mode.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "cport.h"
#include "trace.h"

/* Entries of the ring a wait takes per round, copied on its stack. */
#define CPORT_RING_TAKE		8

/* One CPORT_IOC_ENTER's wait, on the caller's stack. */
struct cport_wait_ctx {
	struct cport_port	*port;
	struct cport_thread	*t;
	u32			max;
	const ktime_t		*expires;
	bool			nowait;
	bool			first;	/* no round done yet */
	bool			slept;
	/* What it returns, in this order: */
	struct list_head	handed;	/* the completion handed over */
	struct cport_cqe	rcqes[CPORT_RING_TAKE]; /* the ring's */
	u32			nr_r;
	struct list_head	taken;	/* the queue's, the runs' */
	u32			n;	/* completions in all three */
	struct list_head	runs;	/* sockets handed to this thread */
	u32			budget;	/* ready sockets it may take */
};

/*
 * Take queued completions up to c->max: the ring's first (up to
 * CPORT_RING_TAKE), and the queue's only once the ring is empty, since
 * they are newer.  Returns how many.
 */
static u32 __cport_take(struct cport_wait_ctx *c)
{
	struct cport_port *port = c->port;
	struct cport_node *node;
	u32 n = 0, nq = 0;

	lockdep_assert_held(&port->lock);
	if (port->ring) {
		while (c->n + n < c->max && c->nr_r < CPORT_RING_TAKE &&
		       __cport_ring_pop(port, &c->rcqes[c->nr_r])) {
			c->nr_r++;
			n++;
		}
		if (c->nr_r == CPORT_RING_TAKE && cport_ring_pending(port))
			goto out;
	}
	while (c->n + n < c->max && !list_empty(&port->queue)) {
		node = list_first_entry(&port->queue, struct cport_node, list);
		list_move_tail(&node->list, &c->taken);
		n++;
		nq++;
	}
	WRITE_ONCE(port->nr_queued, port->nr_queued - nq);
out:
	if (n)
		__cport_took(port);
	c->n += n;
	/* Counted now; cport_copy_out() takes back what it could not copy. */
	port->stats.dequeues += n;
	return n;
}

/*
 * Task work queued with TWA_SIGNAL (the fallback of another port of ours,
 * io_uring's) wants the thread to return to user space; a signal does not
 * end a wait for it.  Let it run on the way out of this call instead.
 */
static void cport_defer_task_work(void)
{
	if (!test_thread_flag(TIF_NOTIFY_SIGNAL))
		return;
	clear_notify_signal();
	set_notify_resume(current);
}

/* Sleep until handed a completion, destroyed, signalled or timed out. */
static int cport_sleep(struct cport_waiter *w, const ktime_t *expires)
{
	bool timed_out = false;
	int ret;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		/* Pairs with the release in __cport_wake_waiter()/destroy. */
		if (smp_load_acquire(&w->woken)) {
			ret = 0;
			break;
		}
		if (timed_out) {
			ret = -ETIMEDOUT;
			break;
		}
		if (task_sigpending(current)) {
			ret = -EINTR;
			break;
		}
		cport_defer_task_work();
		if (!expires) {
			schedule();
		} else {
			ktime_t t = *expires;

			timed_out = !schedule_hrtimeout_range(&t,
						current->timer_slack_ns,
						HRTIMER_MODE_ABS);
		}
	}
	__set_current_state(TASK_RUNNING);
	return ret;
}

/*
 * The next socket this thread runs: one handed to it (@runs), else one
 * from the port's ready list while @budget lasts.  Taken one at a time,
 * so that what this thread has not started yet stays where other threads
 * (and the fallback) can take it.  A wait's take from the list shows the
 * grace that the port's threads make progress (@took); a serve's, the
 * fallback's own, does not.
 */
static struct cport_sock *cport_next_run(struct cport_port *port,
					 struct list_head *runs, u32 *budget,
					 bool took)
{
	struct cport_sock *s;

	spin_lock_irq(&port->lock);
	s = list_first_entry_or_null(runs, struct cport_sock, ready_link);
	if (s) {
		list_del_init(&s->ready_link);
		s->queued = false;
	} else if (*budget && !port->dead) {
		s = __cport_ready_pop(port);
		if (s) {
			(*budget)--;
			if (took)
				__cport_took(port);
		}
	}
	spin_unlock_irq(&port->lock);
	return s;
}

/*
 * Copy the completions on @list to @ucqes from *@copied on, up to @max,
 * installing the descriptors they carry as they go; each one copied is
 * freed.  Returns false if user space could not be written.
 */
static bool cport_copy_nodes(struct cport_port *port, struct list_head *list,
			     struct cport_cqe __user *ucqes, u32 *copied,
			     u32 max)
{
	struct cport_node *node, *tmp;
	int fd;

	list_for_each_entry_safe(node, tmp, list, list) {
		if (*copied == max)
			break;
		fd = -1;
		if (node->file) {
			fd = get_unused_fd_flags(node->fd_flags);
			node->cqe.res = fd;
		}
		/* Descriptors a RECVMSG received: their numbers first. */
		if (node->scm)
			cport_scm_reserve(port, node);
		if (copy_to_user(&ucqes[*copied], &node->cqe,
				 sizeof(node->cqe))) {
			if (node->file) {
				if (fd >= 0)
					put_unused_fd(fd);
				node->cqe.res = 0;
			}
			if (node->scm)
				cport_scm_unreserve(node);
			return false;
		}
		if (fd >= 0) {
			fd_install(fd, node->file);
			node->file = NULL;
		}
		if (node->scm)
			cport_scm_install(port, node);
		/* Without a descriptor, the connection is closed here. */
		list_del(&node->list);
		cport_node_free(port, node);
		(*copied)++;
	}
	return true;
}

/*
 * Copy up to c->max of the c->n completions taken to user space.
 * Whatever is not copied goes back to the queue, in order: what was taken
 * from it (or handed over, or from the ring) to the head, what the
 * sockets this thread ran completed to the tail (or is discarded, if the
 * port was destroyed meanwhile, like everything else it had queued); if
 * nothing could be copied, the thread stops counting as running again.
 * @ran of them came from sockets this thread ran.
 */
static long cport_copy_out(struct cport_wait_ctx *c, u32 ran,
			   struct cport_cqe __user *ucqes)
{
	struct cport_port *port = c->port;
	struct cport_thread *t = c->t;
	u32 copied = 0, i = 0, n = c->n, dropped = 0, fresh;
	struct cport_node *node, *tmp;
	bool requeued, dead, ok;
	struct list_head *pos;
	LIST_HEAD(taken);
	LIST_HEAD(old);

	ok = cport_copy_nodes(port, &c->handed, ucqes, &copied, c->max);
	for (; ok && i < c->nr_r && copied < c->max; i++, copied++) {
		if (copy_to_user(&ucqes[copied], &c->rcqes[i],
				 sizeof(c->rcqes[i]))) {
			ok = false;
			break;
		}
	}
	if (ok && i == c->nr_r)
		cport_copy_nodes(port, &c->taken, ucqes, &copied, c->max);

	/*
	 * Everything copied and nothing from sockets this thread ran: the
	 * take counted it all, and nothing goes back; port->lock is not
	 * needed again (the floor's round trip pays for each hold).
	 */
	if (copied == n && !ran)
		return copied;

	/*
	 * What is left, in order; the ring's entries need nodes again.  An
	 * entry in the ring holds no unit, so they come first out of an
	 * allowance of as many nodes as the ring has entries (its memory was
	 * charged for that many), and past it each takes a unit as a queued
	 * completion does.  User space owns the ring's head: rewound, it
	 * hands the same entries out again, and a wait that cannot copy them
	 * must not grow the queue without bound.  One that finds neither
	 * allowance nor unit is dropped (fdinfo ring_dropped).
	 */
	list_splice_init(&c->handed, &taken);
	for (; i < c->nr_r; i++) {
		if (atomic_inc_return(&port->ring_back) <=
		    cport_ring_entries(port->ring)) {
			node = cport_node_alloc_nofail();
			node->ring_credit = true;
		} else {
			atomic_dec(&port->ring_back);
			node = cport_node_alloc();
			if (node && cport_charge_units(port, 1)) {
				cport_node_free(port, node);
				node = NULL;
			}
			if (!node) {
				dropped++;
				continue;
			}
			node->charged = true;
		}
		node->cqe = c->rcqes[i];
		list_add_tail(&node->list, &taken);
	}
	/*
	 * The queue's completions on c->taken come before those of the
	 * sockets this thread ran (the last @ran), which are the port's
	 * newest: those go back to the tail, behind what others posted
	 * meanwhile (the runs kept no more than fit in @ucqes, so only a
	 * failed copy leaves any).
	 */
	pos = &c->taken;
	for (fresh = ran; fresh && pos->prev != &c->taken; fresh--)
		pos = pos->prev;
	list_cut_before(&old, &c->taken, pos);
	list_splice_tail_init(&old, &taken);

	spin_lock_irq(&port->lock);
	/* The runs' completions are posts and dequeues; less what went back. */
	port->stats.posts += ran;
	port->stats.dequeues += ran;
	port->stats.dequeues -= n - copied - dropped;
	port->stats.ring_dropped += dropped;
	dead = port->dead;
	requeued = copied + dropped < n && !dead;
	if (copied < n && !copied) {
		raw_spin_lock(&port->run_lock);
		__cport_thread_stop(port, t);
		raw_spin_unlock(&port->run_lock);
	}
	if (requeued) {
		list_splice(&taken, &port->queue);
		list_splice_tail_init(&c->taken, &port->queue);
		WRITE_ONCE(port->nr_queued,
			   port->nr_queued + n - copied - dropped);
		/*
		 * All of it went back: not progress for the grace (a thread
		 * that loops on a buffer it cannot write would otherwise keep
		 * a held release held).  The take counted once at least; not
		 * if a grace began since (it would see a take of -1).
		 */
		if (!copied && port->takes != port->takes_seen)
			port->takes--;
	}
	/* Back on the queue, or this thread no longer runs: hand over. */
	if (!dead && (requeued || !copied))
		__cport_release(port);
	spin_unlock_irq(&port->lock);

	if (requeued) {
		cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
	} else {
		list_splice_tail_init(&c->taken, &taken);
		list_for_each_entry_safe(node, tmp, &taken, list)
			cport_node_free(port, node);
	}
	if (copied)
		return copied;
	return dead ? -EIDRM : -EFAULT;
}

/*
 * Serve the port (__cport_serve()): run the socket handed over, and more
 * of the ready ones up to CPORT_RUN_BATCH, posting what completes.
 */
static void cport_serve(struct cport_port *port, struct list_head *runs)
{
	u32 budget = CPORT_RUN_BATCH - 1;
	struct cport_sock *s;

	while ((s = cport_next_run(port, runs, &budget, false))) {
		atomic64_inc(&port->sstats.runs_fallback);
		trace_cport_sock_run(port->id, s->key, current->pid,
				     CPORT_RUN_FALLBACK);
		cport_sock_run(s, NULL, NULL);
		cport_sock_put(s);
	}
}

/*
 * The fast take: stop counting as running, then take what is queued
 * (and the right to run ready sockets) if the concurrency value allows.
 * Under run_lock, so that a running thread blocking at the same moment
 * sees either our slot taken or us waiting (cport_sched_out()).  Returns
 * true if it took; with run_lock held either way.
 */
static bool __cport_wait_take(struct cport_wait_ctx *c)
	__acquires(&c->port->run_lock)
{
	struct cport_port *port = c->port;

	lockdep_assert_held(&port->lock);
	raw_spin_lock(&port->run_lock);
	__cport_thread_stop(port, c->t);
	if (!__cport_has_work(port) || port->running >= port->concurrency)
		return false;
	__cport_thread_start(port, c->t);
	__cport_take(c);
	/*
	 * The ring's entries all went to other takers (or its head is being
	 * scribbled on): nothing taken is not "took", or a thread that
	 * keeps losing would go round without ever sleeping or seeing its
	 * timeout and signals.
	 */
	if (!c->n && list_empty(&port->ready)) {
		__cport_thread_stop(port, c->t);
		return false;
	}
	c->budget = max_t(u32, c->max - c->n, CPORT_RUN_BATCH);
	return true;
}

/*
 * Nothing to take: sleep as a waiter, then collect what was handed over.
 * Called with port->lock and run_lock held, returns with neither.
 * Returns 0 with completions or sockets to run, -EAGAIN to go round again
 * (it served the port), or the errno the wait ends with.
 */
static long __cport_wait_sleep(struct cport_wait_ctx *c, struct cport_waiter *w)
	__releases(&c->port->run_lock) __releases(&c->port->lock)
{
	struct cport_port *port = c->port;
	long ret = 0;

	/* Socket runs that produced nothing do not restart the clock. */
	if (c->nowait || (!c->first && c->expires &&
			  ktime_after(ktime_get(), *c->expires)))
		ret = -ETIMEDOUT;
	else if (!c->first && task_sigpending(current))
		ret = -EINTR;
	if (ret) {
		raw_spin_unlock(&port->run_lock);
		spin_unlock_irq(&port->lock);
		return ret;
	}
	INIT_LIST_HEAD(&w->handed);
	INIT_LIST_HEAD(&w->runs);
	w->task = current;
	w->thread = c->t;
	w->woken = false;
	w->serve = false;
	w->has_rcqe = false;
	__cport_waiter_add(port, w);
	c->t->in_wait = true;
	raw_spin_unlock(&port->run_lock);
	if (c->first)
		port->stats.waits_slept++;
	spin_unlock_irq(&port->lock);

	ret = cport_sleep(w, c->expires);
	c->slept = true;

	spin_lock_irq(&port->lock);
	c->t->in_wait = false;
	if (list_empty(&w->handed) && list_empty(&w->runs) && !w->has_rcqe) {
		/* Timed out, signalled, or destroyed: nothing handed. */
		if (!list_empty(&w->pw.link))
			__cport_waiter_del(port, w);
		if (port->dead)
			ret = -EIDRM;
		spin_unlock_irq(&port->lock);
		return ret;
	}
	list_splice_init(&w->runs, &c->runs);
	if (w->serve) {
		/* Not counted: run them for the port, wait again. */
		spin_unlock_irq(&port->lock);
		cport_serve(port, &c->runs);
		return -EAGAIN;
	}
	/* Handed one (the handoff counted us running); take more. */
	c->budget = 0;
	if (!list_empty(&w->handed)) {
		list_splice_init(&w->handed, &c->handed);
		c->n++;
		port->stats.dequeues++;
	}
	if (w->has_rcqe) {
		c->rcqes[c->nr_r++] = w->rcqe;
		c->n++;
		port->stats.dequeues++;
	}
	__cport_take(c);
	spin_unlock_irq(&port->lock);
	return 0;
}

/*
 * Run the sockets handed over (and ready ones within the budget) in this
 * thread, keeping on @taken what completes, as much as the wait can still
 * return; the runs queue the rest, and waiters are released for it once
 * they are done, before the copy to user space (which may fault and
 * take long).  Returns how many it kept.
 */
static u32 cport_wait_run(struct cport_wait_ctx *c)
{
	struct cport_sink sink = { .list = &c->taken, .room = c->max - c->n };
	struct cport_port *port = c->port;
	struct cport_sock *s;

	while ((s = cport_next_run(port, &c->runs, &c->budget, true))) {
		atomic64_inc(&port->sstats.runs_waiter);
		trace_cport_sock_run(port->id, s->key, current->pid,
				     CPORT_RUN_WAITER);
		cport_sock_run(s, &sink, NULL);
		cport_sock_put(s);
	}
	if (sink.posted) {
		spin_lock_irq(&port->lock);
		if (!port->dead)
			__cport_queued(port);
		spin_unlock_irq(&port->lock);
	}
	return c->max - c->n - sink.room;
}

long cport_port_wait(struct cport_port *port, struct cport_cqe __user *ucqes,
		     u32 max, const ktime_t *expires, bool nowait)
{
	struct cport_wait_ctx c = {
		.port = port, .max = max, .expires = expires,
		.nowait = nowait, .first = true,
	};
	struct cport_waiter w;
	u32 ran;
	long ret;

	INIT_LIST_HEAD(&c.handed);
	INIT_LIST_HEAD(&c.taken);
	INIT_LIST_HEAD(&c.runs);
	/* Not worth associating with a destroyed port (checked again below). */
	if (READ_ONCE(port->dead))
		return -EIDRM;
	c.t = cport_thread_join(port);
	if (IS_ERR(c.t))
		return PTR_ERR(c.t);

	for (;; c.first = false) {
		spin_lock_irq(&port->lock);
		if (port->dead) {
			spin_unlock_irq(&port->lock);
			return -EIDRM;
		}
		port->used = true;
		if (c.first)
			port->stats.waits++;
		if (__cport_wait_take(&c)) {
			raw_spin_unlock(&port->run_lock);
			spin_unlock_irq(&port->lock);
		} else {
			ret = __cport_wait_sleep(&c, &w);
			if (ret == -EAGAIN)
				continue;
			if (ret)
				return ret;
		}
		/* Move the sockets' data here, keeping what completes. */
		ran = cport_wait_run(&c);
		c.n += ran;
		if (c.n)
			break;
	}

	trace_cport_dequeue(port->id, c.n, c.slept);
	return cport_copy_out(&c, ran, ucqes);
}
