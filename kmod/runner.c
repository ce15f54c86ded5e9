// SPDX-License-Identifier: GPL-2.0
/*
 * Who runs a socket, and what a run does.
 *
 * All of an associated socket's I/O is done by its runner, one at a time
 * (sock->running), and every runner is a thread of the process that owns
 * the port, so the data moves with that process's credentials, in its
 * cgroups (CPU and memory), under its rlimits, visible in its
 * /proc/<pid>/task, and killable.  No kernel thread touches user memory.
 * The runner is, in order of preference:
 *
 *  1. the submitting thread, at once (op.c);
 *  2. a waiting thread, handed the socket like a completion within the
 *     concurrency value (port.c, __cport_release()): it moves the data in
 *     its own context and returns what completed, as much as its wait
 *     can return, queueing the rest (wait.c);
 *  3. a thread of the port entering a wait while the socket is ready;
 *  4. the fallback, when none of them came: at once if no thread of the
 *     port is running, after a grace otherwise (1 ms, longer while the
 *     port's threads take work rarely; a running thread will most likely
 *     wait again and run the socket itself; the grace starts again while
 *     the port's threads take work):
 *     a. a waiting thread although the port is at its concurrency value:
 *        it serves (__cport_serve()): runs the sockets, posts what
 *        completes, and waits again without counting as running;
 *     b. else task work (task_work_add(), TWA_SIGNAL) on a thread of the
 *        owner, the one that last submitted an operation: it runs when
 *        that thread next returns to user space, and interrupts an
 *        interruptible sleep (which restarts) to get there.  If that
 *        thread is exiting, another live thread of the owner is chosen.
 *
 * Every loop has a budget: a run of the fallback takes at most
 * CPORT_FALLBACK_BUDGET sockets and lets its thread go back to user space
 * before it comes again; a thread entering a wait takes at most
 * CPORT_RUN_BATCH.  One socket's run stops when its queues' heads would
 * block.
 *
 * Cancel, timeout and destroy only mark operations (op.c); the runner
 * completes them, so each operation completes exactly once.
 */
#include <linux/file.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/wait_bit.h>
#include <net/sock.h>

#include "compat.h"
#include "cport.h"
#include "trace.h"

#define CPORT_FALLBACK_BUDGET	32	/* sockets per run of the fallback */

/*
 * The grace: how long work that no running thread of the port took waits
 * before the fallback serves it or the concurrency value alone releases it
 * (cport_fallback_timer()).  1 ms at its base, not HZ's tick; root may set
 * the base (the selftests lengthen it to time their steps on slow
 * kernels).
 */
#define CPORT_GRACE_MIN_US	10
#define CPORT_GRACE_MAX_US	(100 * USEC_PER_MSEC)

static unsigned int grace_us = USEC_PER_MSEC;

static int cport_grace_set(const char *val, const struct kernel_param *kp)
{
	unsigned int us;
	int ret;

	ret = kstrtouint(val, 0, &us);
	if (ret)
		return ret;
	if (us < CPORT_GRACE_MIN_US || us > CPORT_GRACE_MAX_US)
		return -ERANGE;
	WRITE_ONCE(grace_us, us);
	return 0;
}

static const struct kernel_param_ops cport_grace_ops = {
	.set	= cport_grace_set,
	.get	= param_get_uint,
};
module_param_cb(grace_us, &cport_grace_ops, &grace_us, 0644);
MODULE_PARM_DESC(grace_us,
		 "How long work no running thread of a port took waits for the fallback or the release, in microseconds (10-100000, default 1000)");

static u64 cport_grace_ns(void)
{
	return (u64)READ_ONCE(grace_us) * NSEC_PER_USEC;
}

/*
 * The grace scales with how often the port's threads take work: a grace
 * renewed (work waited through it, and they took some) is followed by
 * one of about CPORT_GRACE_TAKES of their intervals between takes (an
 * average of its own length and what it saw), from grace_us up to
 * CPORT_GRACE_SCALE times it (and CPORT_GRACE_MAX_US).  Threads that take
 * rarely (long batches, a slow machine) are not taken for stopped.  Any
 * other end of a grace (nothing left waiting, no take, nobody running)
 * puts it back to grace_us: how much a grace with nothing waiting saw
 * taken says how much work there was, not how often threads come.
 */
#define CPORT_GRACE_TAKES	4
#define CPORT_GRACE_SCALE	16

static u64 cport_grace_cap(u64 base)
{
	return max(base, min(base * CPORT_GRACE_SCALE,
			     (u64)CPORT_GRACE_MAX_US * NSEC_PER_USEC));
}

/* The grace the next arming starts, in nanoseconds.  Under port->lock. */
u64 __cport_grace_len(struct cport_port *port)
{
	u64 base = cport_grace_ns();

	lockdep_assert_held(&port->lock);
	/* Within the bounds of the base in effect now (root may change it). */
	return clamp(port->grace_ns, base, cport_grace_cap(base));
}

static void __cport_grace_scale(struct cport_port *port, unsigned int takes)
{
	u64 len = __cport_grace_len(port);

	len = (len + div_u64(len * CPORT_GRACE_TAKES, takes)) / 2;
	port->grace_ns = min(len, cport_grace_cap(cport_grace_ns()));
}

static void __cport_op_finish(struct cport_sock *s, struct cport_op *op,
			      struct list_head *ended)
{
	lockdep_assert_held(&s->lock);
	list_move_tail(&op->list, ended);
	op->finished = true;
	s->nr_ops--;
}

/*
 * Take the operations that cancel or timeout finished (op.c moved them to
 * s->marked: O(1)); on a dead port, finish every queued one with -EIDRM,
 * CPORT_REAP_BATCH at a time with sock->lock dropped in between.
 */
static void __cport_sock_reap(struct cport_sock *s, struct list_head *ended,
			      bool dead)
{
	struct list_head *queues[] = { &s->rxq, &s->txq };
	struct cport_op *op;
	unsigned int n = 0;
	int i;

	lockdep_assert_held(&s->lock);
	list_splice_tail_init(&s->marked, ended);
	if (!dead)
		return;
	for (i = 0; i < ARRAY_SIZE(queues); i++) {
		while ((op = list_first_entry_or_null(queues[i],
						      struct cport_op, list))) {
			op->cancel = op->cancel ?: -EIDRM;
			op->res = op->cancel;
			__cport_op_finish(s, op, ended);
			if (++n % CPORT_REAP_BATCH)
				continue;
			spin_unlock_irq(&s->lock);
			cond_resched();
			spin_lock_irq(&s->lock);
		}
	}
}

/*
 * Run the head of @q until it would block; sock->lock is dropped for I/O.
 * The completions a multishot RECV produced on the way go to @more.
 */
static void __cport_sock_run_queue(struct cport_sock *s, struct list_head *q,
				   struct list_head *ended,
				   struct list_head *more, bool *retry)
{
	struct cport_op *op;
	enum cport_io io;

	while ((op = list_first_entry_or_null(q, struct cport_op, list))) {
		s->active = op;
		spin_unlock_irq(&s->lock);
		io = cport_op_io(s, op);
		cond_resched();
		spin_lock_irq(&s->lock);
		s->active = NULL;
		/* The runner's alone (the lock is not needed for it). */
		list_splice_tail_init(&op->more, more);
		if (io != CPORT_IO_DONE) {
			*retry |= io == CPORT_IO_RETRY;
			if (!op->cancel)
				break;
			/* Cancelled or timed out meanwhile: the bytes so far. */
			op->res = op->cancel;
		}
		__cport_op_finish(s, op, ended);
	}
}

/*
 * @op is @inline_op, finished, and its result fits in the submission: a
 * result with cqe flags (a RECV that lost control data or truncated a
 * datagram) or with descriptors to install (RECVMSG) is posted.  The
 * submitter passes @inline_op after queueing it, when another runner may
 * already have completed and freed it, and another thread's operation may
 * have been allocated at the same address: only the submitter's own
 * operation matches (it is the caller, and cannot have queued another).
 */
static bool cport_op_inline(const struct cport_op *op,
			    const struct cport_op *inline_op)
{
	return op == inline_op && op->submitter == current && !op->cqe_flags &&
	       !op->has_scm;
}

/*
 * A wait's socket run queues what its @sink has no room for without
 * handing it to anyone yet (struct cport_sink); other runs post it.
 */
static bool cport_spill(struct cport_port *port, struct list_head *nodes,
			struct cport_sink *sink)
{
	if (sink)
		sink->posted = true;
	return cport_post_nodes(port, nodes, !sink);
}

/*
 * Deliver the finished operations on @ended: into @sink while it has room
 * (a waiting thread running the socket takes them itself), else to the
 * port, in order; @inline_op is left for the submitter to return inline.
 * Each completion takes over its operation's charge (limits.c) until it
 * is dequeued or moved to the completion ring.  Returns whether poll
 * waiters need waking.
 */
static bool cport_ops_complete(struct cport_sock *s, struct list_head *ended,
			       struct cport_sink *sink,
			       struct cport_op *inline_op)
{
	struct cport_port *port = s->port;
	bool dead = READ_ONCE(port->dead);
	struct cport_node *node;
	struct cport_op *op;
	LIST_HEAD(spill);

	list_for_each_entry(op, ended, list) {
		if (op->res == -ECANCELED)
			atomic64_inc(&port->sstats.cancelled);
		else if (op->res == -ETIMEDOUT && op->cancel == -ETIMEDOUT)
			atomic64_inc(&port->sstats.timedout);
		trace_cport_op_done(port->id, op->opcode, op->user_data,
				    op->res, op->moved,
				    cport_op_inline(op, inline_op) ?
				    CPORT_END_INLINE : dead ?
				    CPORT_END_DISCARDED : CPORT_END_POSTED);
		if (cport_op_inline(op, inline_op))
			continue;
		atomic64_inc(&port->sstats.completed);
		node = cport_op_fill(s, op);
		if (sink && sink->room && !dead) {
			list_add_tail(&node->list, sink->list);
			sink->room--;
		} else {
			list_add_tail(&node->list, &spill);
		}
		cond_resched();
	}
	return !list_empty(&spill) && cport_spill(port, &spill, sink);
}

/*
 * Deliver the completions of a multishot RECV's arrivals on @nodes (each
 * holds its own charge), oldest first: into @sink while it has room, the
 * rest to the port.  Returns whether poll waiters need waking.
 */
static bool cport_nodes_complete(struct cport_sock *s, struct list_head *nodes,
				 struct cport_sink *sink)
{
	struct cport_port *port = s->port;
	struct list_head *pos;
	LIST_HEAD(kept);

	if (list_empty(nodes))
		return false;
	if (sink && sink->room && !READ_ONCE(port->dead)) {
		/* @pos: the last node that fits (room is at most max). */
		pos = nodes;
		while (sink->room && pos->next != nodes) {
			pos = pos->next;
			sink->room--;
		}
		list_cut_position(&kept, nodes, pos);
		list_splice_tail(&kept, sink->list);
	}
	if (list_empty(nodes))
		return false;
	return cport_spill(port, nodes, sink);
}

/*
 * Unhook @s and drop the file its pending operations pinned (and a
 * pipe's own O_NONBLOCK file, file.c); a file's association ends here.
 */
static void cport_sock_unpin(struct cport_sock *s, struct file *file,
			     struct file *nbfile)
{
	cport_sock_disarm(s);
	if (s->is_file && nbfile)
		fput(nbfile);
	fput(file);
	cport_uncharge_file(s->port);
	if (s->is_file)
		cport_file_idle(s);
}

/*
 * Hook or unhook the socket's wait queues so that they are hooked exactly
 * while operations are pending (the file reference goes with it; a
 * file's association with it, file.c).
 * Called with sock->lock held, which it may drop; returns true if the
 * runner must look at the socket again.
 */
static bool __cport_sock_rearm(struct cport_sock *s, bool *armed)
{
	struct cport_port *port = s->port;
	struct file *file, *nbfile;

	lockdep_assert_held(&s->lock);
	if (s->nr_ops && !*armed && !cport_sock_hooked(s) &&
	    !READ_ONCE(port->dead)) {
		/* Hook the socket, then look again: it may be ready. */
		spin_unlock_irq(&s->lock);
		cport_sock_arm(s);
		*armed = true;
		spin_lock_irq(&s->lock);
		return true;
	}
	if (!s->nr_ops && s->file) {
		file = s->file;
		nbfile = s->nbfile;	/* a file's; for a socket, sock */
		s->file = NULL;
		s->sock = NULL;		/* and nbfile */
		spin_unlock_irq(&s->lock);
		cport_sock_unpin(s, file, nbfile);
		*armed = false;
		spin_lock_irq(&s->lock);
		return s->rerun || s->nr_ops;
	}
	return false;
}

/*
 * The runner of @s has just cleared s->running (under sock->lock).  A
 * destroy (which sets port->dead before it waits) may be waiting for the
 * run to end.  The barrier orders the store of running before the load of
 * dead and wake_up_var()'s lockless look at the wait queue; it pairs with
 * the one in wait_var_event().
 */
void cport_sock_run_end(struct cport_sock *s)
{
	/* running's store before dead's load: pairs with wait_var_event(). */
	smp_mb();
	if (READ_ONCE(s->port->dead))
		wake_up_var(&s->running);
}

/*
 * Run socket @s: finish what was cancelled, do the I/O of each queue's
 * head until it would block, deliver what finished, and keep the socket's
 * wait-queue hook armed exactly while operations are pending.  If another
 * runner owns the socket, it is asked to go round again instead.
 * Completions go to @sink while it has room, else to the port, while the
 * run owns the socket (so the queue has them in order).  Returns true if
 * @inline_op finished: the caller then owns it and returns its result inline.
 * Process context, in a thread of the owner (or destroy's), no lock held,
 * the caller holds a reference to @s.
 */
bool cport_sock_run(struct cport_sock *s, struct cport_sink *sink,
		    struct cport_op *inline_op)
{
	struct cport_port *port = s->port;
	bool inline_done = false, armed = false, wake = false, retry = false;
	struct cport_op *op, *tmp;
	LIST_HEAD(to_free);
	LIST_HEAD(ended);
	LIST_HEAD(more);

	spin_lock_irq(&s->lock);
	if (s->running) {
		s->rerun = true;
		spin_unlock_irq(&s->lock);
		return false;
	}
	s->running = true;
	for (;;) {
		s->rerun = false;
		__cport_sock_reap(s, &ended, READ_ONCE(port->dead));
		__cport_sock_run_queue(s, &s->rxq, &ended, &more, &retry);
		__cport_sock_run_queue(s, &s->txq, &ended, &more, &retry);
		if (!list_empty(&ended) || !list_empty(&more)) {
			spin_unlock_irq(&s->lock);
			/* A multishot RECV's arrivals before its end. */
			wake |= cport_nodes_complete(s, &more, sink);
			wake |= cport_ops_complete(s, &ended, sink, inline_op);
			list_splice_tail_init(&ended, &to_free);
			spin_lock_irq(&s->lock);
		}
		if (s->rerun || __cport_sock_rearm(s, &armed))
			continue;
		break;
	}
	s->running = false;
	spin_unlock_irq(&s->lock);
	cport_sock_run_end(s);

	if (wake)
		cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
	list_for_each_entry_safe(op, tmp, &to_free, list) {
		if (cport_op_inline(op, inline_op)) {
			inline_done = true;
			continue;
		}
		list_del(&op->list);
		cport_op_free(op);
	}
	if (retry)
		cport_sock_kick(s);
	return inline_done;
}

/*
 * @s has I/O to do (data, room, a connection, a cancel or a timeout):
 * queue it for a runner.  A waiting thread gets it if the concurrency
 * value allows; otherwise a running thread picks it up when it next
 * waits, or the fallback runs it (runner.c).  Any context; the caller
 * holds a reference to @s.
 */
void cport_sock_kick(struct cport_sock *s)
{
	struct cport_port *port = s->port;
	struct cport_wake_q q;
	unsigned long flags;

	flags = cport_lock(port, &q);
	if (!port->dead && !s->queued) {
		s->queued = true;
		refcount_inc(&s->refs);
		list_add_tail(&s->ready_link, &port->ready);
		WRITE_ONCE(port->nr_ready, port->nr_ready + 1);
		__cport_release(port);
		__cport_fallback_arm(port);
	}
	cport_unlock(port, &q, flags);
}

/* --- The fallback ----------------------------------------------------- */

/*
 * A task work callback lives in this module's text: each queued one holds
 * a module reference, which its last statement hands to this work item
 * to drop.  Module exit waits an RCU Tasks grace period for a thread
 * still in that statement or after it, then drains cport's workqueue
 * (cport_exit()), so no code of ours runs after the module is gone.
 */
static atomic_t cport_fb_puts = ATOMIC_INIT(0);

static void cport_fb_put_workfn(struct work_struct *work)
{
	int n = atomic_xchg(&cport_fb_puts, 0);

	while (n-- > 0)
		module_put(THIS_MODULE);
}

static DECLARE_WORK(cport_fb_put_work, cport_fb_put_workfn);

static void cport_fb_module_put(void)
{
	/* The first put queues the work; it takes all until its xchg. */
	if (atomic_inc_return(&cport_fb_puts) == 1)
		cport_queue_work(&cport_fb_put_work);
}

/* Which thread the fallback goes to: the last one to submit. */
void cport_fallback_note(struct cport_port *port)
{
	struct task_struct *old;

	/* A lockless look: only current stores current there. */
	if (likely(data_race(READ_ONCE(port->fb_task)) == current))
		return;
	get_task_struct(current);
	spin_lock_irq(&port->lock);
	old = port->fb_task;
	port->fb_task = current;
	spin_unlock_irq(&port->lock);
	put_task_struct(old);
}

/*
 * Start the fallback for the sockets on port->ready, now: a waiter serves
 * them, or the task work is queued on port->fb_task.  Any context.
 */
static void __cport_fallback(struct cport_port *port)
{
	lockdep_assert_held(&port->lock);
	if (port->dead || list_empty(&port->ready) || __cport_serve(port) ||
	    port->fb_queued)
		return;
	/* Both go with the task work, or with the retarget work. */
	cport_port_get(port);
	__module_get(THIS_MODULE);
	port->fb_queued = true;
	atomic64_inc(&port->sstats.fallback_kicks);
	if (task_work_add(port->fb_task, &port->fb_work, TWA_SIGNAL))
		/* It has exited: choose another thread, in process context. */
		cport_queue_work(&port->fb_retarget);
}

/*
 * Sockets were queued for a runner and no waiter could take them: start
 * the fallback at once if no thread of the port is running (nobody will
 * come), else after the grace.  Under port->lock, any context.
 */
void __cport_fallback_arm(struct cport_port *port)
{
	lockdep_assert_held(&port->lock);
	if (port->dead || list_empty(&port->ready))
		return;
	if (!READ_ONCE(port->running))
		__cport_fallback(port);
	else
		__cport_grace_arm(port);
}

/*
 * Start the grace: sockets still waiting for a runner when it ends get the
 * fallback, and work __cport_release() held back because every CPU was
 * busy is released by the concurrency value alone.  Queued, not active: a
 * callback running now may have missed what armed it.  Under port->lock,
 * any context.
 */
void __cport_grace_arm(struct cport_port *port)
{
	lockdep_assert_held(&port->lock);
	if (!hrtimer_is_queued(&port->fb_timer)) {
		port->takes_seen = port->takes;
		hrtimer_start(&port->fb_timer,
			      ns_to_ktime(__cport_grace_len(port)),
			      HRTIMER_MODE_REL_PINNED_SOFT);
	}
}

static enum hrtimer_restart cport_fallback_timer(struct hrtimer *timer)
{
	struct cport_port *port = container_of(timer, struct cport_port,
					       fb_timer);
	struct cport_wake_q q;
	unsigned long flags;

	flags = cport_lock(port, &q);
	/*
	 * A thread of the port took work within the grace: the port's
	 * threads make progress and reach what waits in its turn (ready
	 * sockets and completions are FIFO; a socket ready is handed before
	 * any completion, and a wait that takes on its own runs
	 * CPORT_RUN_BATCH ready sockets at least).  The fallback would only
	 * take its time from a thread of the owner.  Another grace begins.
	 * If this CPU has gone idle since (a producer that now sleeps), a
	 * release held for busy CPUs goes out now.  Only then: from a CPU
	 * that runs a thread of the port, the hold would not count the other
	 * CPUs' tasks, which a waiter released from here preempts.  The
	 * next grace scales with the takes this one saw.
	 */
	if (!port->dead && READ_ONCE(port->running) &&
	    __cport_has_work(port) && port->takes != port->takes_seen) {
		port->stats.grace_renewed++;
		__cport_grace_scale(port, port->takes - port->takes_seen);
		if (is_idle_task(current))
			__cport_release(port);
		if (__cport_has_work(port))
			__cport_grace_arm(port);
		cport_unlock(port, &q, flags);
		return HRTIMER_NORESTART;
	}
	/*
	 * Release what was held by the concurrency value alone; past one
	 * hold's share the release irq_work goes on the same way, and ends
	 * it (cport_release_irq()).  The next grace is grace_us again.
	 */
	port->grace_ns = 0;
	port->hold_off = true;
	__cport_release(port);
	if (!port->release_more)
		port->hold_off = false;
	__cport_fallback(port);
	cport_unlock(port, &q, flags);
	return HRTIMER_NORESTART;
}

/*
 * port->fb_task is exiting: make another live thread of the owner the
 * fallback's and queue it there.  Process context; the caller's port and
 * module references (the queued fallback's) are its own to drop.
 */
static void cport_fallback_switch(struct cport_port *port)
{
	struct task_struct *p, *t, *found = NULL, *old = NULL;

	rcu_read_lock();
	p = pid_task(port->owner, PIDTYPE_TGID);
	if (p) {
		for_each_thread(p, t) {
			if ((t->flags & (PF_EXITING | PF_KTHREAD)) ||
			    t->mm != port->mm)
				continue;
			found = t;
			get_task_struct(found);
			break;
		}
	}
	rcu_read_unlock();

	spin_lock_irq(&port->lock);
	port->fb_queued = false;
	/* None left: the owner is exiting, and its mm's release destroys. */
	if (found) {
		old = port->fb_task;
		port->fb_task = found;
		__cport_fallback(port);
	}
	spin_unlock_irq(&port->lock);
	if (old)
		put_task_struct(old);
}

static void cport_fallback_retarget(struct work_struct *work)
{
	struct cport_port *port = container_of(work, struct cport_port,
					       fb_retarget);

	cport_fallback_switch(port);
	cport_port_put(port);
	/* Safe here: module exit drains this workqueue first. */
	module_put(THIS_MODULE);
}

/*
 * Run ready sockets in the calling thread, at most CPORT_FALLBACK_BUDGET;
 * if sockets are still ready then, come again after the grace, so that
 * the thread gets back to user space (its signals, its own work) in
 * between.
 */
static void cport_fallback_run(struct cport_port *port)
{
	struct cport_sock *s;
	unsigned int n;

	for (n = 0; n < CPORT_FALLBACK_BUDGET; n++) {
		/* Dying: its mm's release destroys the port. */
		if (fatal_signal_pending(current))
			break;
		s = cport_ready_pop(port);
		if (!s)
			break;
		atomic64_inc(&port->sstats.runs_fallback);
		trace_cport_sock_run(port->id, s->key, current->pid,
				     CPORT_RUN_FALLBACK);
		cport_sock_run(s, NULL, NULL);
		cport_sock_put(s);
		cond_resched();
	}
	/*
	 * fb_queued stayed set while it ran, so that kicks meanwhile did not
	 * queue it on this thread again (task_work_run() would run it at
	 * once, and the thread might never get back to user space).
	 */
	spin_lock_irq(&port->lock);
	port->fb_queued = false;
	if (!port->dead && !list_empty(&port->ready))
		__cport_grace_arm(port);
	spin_unlock_irq(&port->lock);
}

/* The task work, in port->fb_task on its way back to user space. */
static void cport_fallback_fn(struct callback_head *cb)
{
	struct cport_port *port = container_of(cb, struct cport_port,
					       fb_work);

	if (current->flags & PF_EXITING) {
		/* From exit_task_work(): its mm is gone already. */
		cport_fallback_switch(port);
	} else if (current->mm == port->mm) {
		cport_fallback_run(port);
	} else {
		spin_lock_irq(&port->lock);
		port->fb_queued = false;
		spin_unlock_irq(&port->lock);
	}
	cport_port_put(port);
	cport_fb_module_put();
}

void cport_fallback_init(struct cport_port *port)
{
	port->owner = get_task_pid(current, PIDTYPE_TGID);
	get_task_struct(current);
	port->fb_task = current;
	init_task_work(&port->fb_work, cport_fallback_fn);
	hrtimer_setup(&port->fb_timer, cport_fallback_timer, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL_PINNED_SOFT);
	INIT_WORK(&port->fb_retarget, cport_fallback_retarget);
}

/*
 * Destroy: the port is dead, so nothing starts the fallback again.  A
 * task work already queued finds the port dead and does nothing.
 */
void cport_fallback_stop(struct cport_port *port)
{
	hrtimer_cancel(&port->fb_timer);
	if (!cancel_work_sync(&port->fb_retarget))
		return;
	spin_lock_irq(&port->lock);
	port->fb_queued = false;
	spin_unlock_irq(&port->lock);
	cport_port_put(port);	/* the caller holds another */
	module_put(THIS_MODULE);
}

/* The port is freed: nothing is queued (each holds a reference). */
void cport_fallback_exit(struct cport_port *port)
{
	hrtimer_cancel(&port->fb_timer);
	put_task_struct(port->fb_task);
	put_pid(port->owner);
}
