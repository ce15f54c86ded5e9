// SPDX-License-Identifier: GPL-2.0
/*
 * Threads associated with a port, and the IOCP concurrency value.
 *
 * A thread that waits on a port becomes associated with it: one port per
 * thread, waiting on another port moves it, CPORT_IOC_LEAVE or exit ends
 * it.  While it runs between two waits it counts against the port's
 * concurrency value; while it is blocked anywhere else (a mutex, a disk
 * read, a sleep) it does not, so the port may release another waiter.
 *
 * The only hook a module has into blocking is a preempt notifier, which
 * the thread registers on itself.  sched_out runs with the runqueue lock
 * held and interrupts off: it may take only port->run_lock (raw, a leaf)
 * and must not wake anything, so a handoff it makes possible is deferred
 * to port->release_work, an irq_work.  "Blocked" means the scheduler took
 * the thread off the run queue; a preempted thread still counts.
 *
 * At exit a thread gets one last sched_out in TASK_DEAD and never runs
 * again.  Its notifier cannot be unregistered by anyone else, but nothing
 * walks a dead task's notifier list after that switch, so the struct is
 * handed to a work item (through an irq_work, since sched_out may not
 * queue work) which frees it and drops the module reference the
 * association held.
 */
#include <linux/err.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "cport.h"
#include "trace.h"

static struct preempt_ops cport_preempt_ops;

/*
 * Reaping exited threads: sched_out queues this CPU's irq_work, then adds
 * the thread to the list.  The irq_work cannot run before interrupts are
 * on again, after the switch, so it always sees the entry; and module
 * exit, which syncs every CPU's irq_work, cannot run while a dying
 * thread is still inside cport_sched_out().
 */
static LLIST_HEAD(cport_reap_list);
static void cport_reap_workfn(struct work_struct *work);
static DECLARE_WORK(cport_reap_work, cport_reap_workfn);
static void cport_reap_irq(struct irq_work *work);
static DEFINE_PER_CPU(struct irq_work, cport_reap_irq_work);

static void __cport_running_inc(struct cport_port *port)
{
	lockdep_assert_held(&port->run_lock);
	/* Marked: the grace timer and the fallback look without the lock. */
	WRITE_ONCE(port->running, port->running + 1);
	if (port->running == port->concurrency + 1) {
		port->over_since = ktime_get_mono_fast_ns() ?: 1;
		port->stats.over_events++;
	}
}

static void __cport_running_dec(struct cport_port *port)
{
	lockdep_assert_held(&port->run_lock);
	if (WARN_ON_ONCE(!port->running))
		return;
	if (port->running == port->concurrency + 1) {
		port->stats.over_ns += ktime_get_mono_fast_ns() -
				       port->over_since;
		port->over_since = 0;
	}
	WRITE_ONCE(port->running, port->running - 1);
}

/* @t starts counting as running: it got completions. */
void __cport_thread_start(struct cport_port *port, struct cport_thread *t)
{
	lockdep_assert_held(&port->run_lock);
	t->counted = true;
	WRITE_ONCE(t->blocked, false);
	__cport_running_inc(port);
}

/* @t stops counting as running: it waits again, moves, leaves or exits. */
void __cport_thread_stop(struct cport_port *port, struct cport_thread *t)
{
	lockdep_assert_held(&port->run_lock);
	if (!t->counted)
		return;
	if (!t->blocked)
		__cport_running_dec(port);
	t->counted = false;
	WRITE_ONCE(t->blocked, false);
}

/* Could a waiter be released now?  Lockless hints, see cport_sched_out(). */
static bool __cport_can_release(struct cport_port *port)
{
	lockdep_assert_held(&port->run_lock);
	return port->running < port->concurrency &&
	       (cport_has_queued(port) || READ_ONCE(port->nr_ready)) &&
	       READ_ONCE(port->nr_waiters);
}

static void cport_thread_free(struct cport_thread *t)
{
	cport_port_put(t->port);
	kfree(t);
	module_put(THIS_MODULE);
}

static void cport_reap_workfn(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&cport_reap_list);
	struct cport_thread *t, *tmp;

	llist_for_each_entry_safe(t, tmp, list, reap) {
		cport_thread_free(t);
		cond_resched();	/* as many as the users' exited threads */
	}
}

static void cport_reap_irq(struct irq_work *work)
{
	schedule_work(&cport_reap_work);
}

/*
 * The thread is switched out: preempted (still runnable: it keeps its
 * slot), blocked (its slot frees), or dead (it leaves).  A thread sleeping
 * in the port's own wait is neither: it does not count while it waits,
 * and once a completion is handed to it, it counts from the handoff on.
 */
static void cport_sched_out(struct preempt_notifier *pn,
			    struct task_struct *next)
{
	struct cport_thread *t = container_of(pn, struct cport_thread, pn);
	struct cport_port *port = READ_ONCE(t->port);
	bool dead = READ_ONCE(current->__state) == TASK_DEAD;
	bool blocked = false, release, execed;
	unsigned long flags;

	/* After execve() the thread is no longer the port's (see below). */
	execed = !dead && current->mm != port->mm;
	if (execed ? READ_ONCE(t->left) :
	    !dead && (!READ_ONCE(port->track_blocking) ||
		      !cport_task_blocked(current)))
		return;

	raw_spin_lock_irqsave(&port->run_lock, flags);
	if (dead || execed) {
		/*
		 * Leaving: at exit, or at the first switch after execve(),
		 * whose new image must not be counted, nor seen in the
		 * port's fdinfo.  The struct stays with the thread until it
		 * exits or joins another port.
		 */
		if (!t->left) {
			__cport_thread_stop(port, t);
			port->nr_threads--;
			WRITE_ONCE(t->left, true);
			port->release_blocked = true;
		}
	} else if (t->counted && !t->blocked && !t->in_wait) {
		WRITE_ONCE(t->blocked, true);
		blocked = true;
		port->release_blocked = true;
		__cport_running_dec(port);
		if (port->pol.ops->thread_block)
			port->pol.ops->thread_block(&port->pol, t->seq,
						    raw_smp_processor_id());
	}
	release = __cport_can_release(port);
	raw_spin_unlock_irqrestore(&port->run_lock, flags);

	if (release)
		irq_work_queue(&port->release_work);
	if (blocked)
		trace_cport_blocked(port->id, current->pid);
	if (dead) {
		trace_cport_thread_exit(port->id, current->pid);
		/*
		 * Only the first entry queues the work, as delayed_fput()
		 * does: a non-empty list has its work queued already, and
		 * queueing a pending work raced the worker's plain read of
		 * its flags (KCSAN, move_linked_works / queue_work_on).
		 */
		if (llist_add(&t->reap, &cport_reap_list))
			irq_work_queue(this_cpu_ptr(&cport_reap_irq_work));
	}
}

static void cport_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct cport_thread *t = container_of(pn, struct cport_thread, pn);
	struct cport_port *port = READ_ONCE(t->port);
	unsigned long flags;
	bool resumed = false;

	/* Only this thread's own sched_out sets ->blocked. */
	if (!READ_ONCE(t->blocked))
		return;
	raw_spin_lock_irqsave(&port->run_lock, flags);
	if (t->blocked) {
		WRITE_ONCE(t->blocked, false);
		resumed = true;
		__cport_running_inc(port);
		if (port->pol.ops->thread_resume)
			port->pol.ops->thread_resume(&port->pol, t->seq, cpu);
	}
	raw_spin_unlock_irqrestore(&port->run_lock, flags);
	if (resumed)
		trace_cport_resumed(port->id, current->pid);
}

static struct preempt_ops cport_preempt_ops = {
	.sched_in	= cport_sched_in,
	.sched_out	= cport_sched_out,
};

static struct cport_thread *cport_thread_current(void)
{
	struct preempt_notifier *pn;

	hlist_for_each_entry(pn, &current->preempt_notifiers, link)
		if (pn->ops == &cport_preempt_ops)
			return container_of(pn, struct cport_thread, pn);
	return NULL;
}

/*
 * Is the caller (or the task it interrupted) a thread of @port that
 * counts as running?  Then the CPU it is on is one the running count
 * already stands for.  current's notifier list changes only in current,
 * with interrupts off (cport_thread_join(), cport_thread_leave()), so an
 * interrupt on this CPU walks it safely.
 */
bool __cport_thread_current_runs(struct cport_port *port)
{
	struct cport_thread *t = cport_thread_current();

	lockdep_assert_held(&port->run_lock);
	return t && READ_ONCE(t->port) == port && t->counted && !t->blocked;
}

static void cport_thread_attach(struct cport_port *port,
				struct cport_thread *t)
{
	cport_port_get(port);
	raw_spin_lock_irq(&port->run_lock);
	t->left = false;
	port->nr_threads++;
	/* Policies see it (cport_policy_waiter.seq): the join order. */
	t->seq = ++port->thread_seq;
	raw_spin_unlock_irq(&port->run_lock);
	WRITE_ONCE(t->port, port);
}

static void cport_thread_detach(struct cport_thread *t)
{
	struct cport_port *port = t->port;

	spin_lock_irq(&port->lock);
	raw_spin_lock(&port->run_lock);
	if (!t->left) {
		__cport_thread_stop(port, t);
		port->nr_threads--;
	}
	raw_spin_unlock(&port->run_lock);
	__cport_release(port);
	spin_unlock_irq(&port->lock);
}

/*
 * Associate the calling thread with @port, moving it from another port if
 * need be.  Returns its struct, which only this thread may free.
 */
struct cport_thread *cport_thread_join(struct cport_port *port)
{
	struct cport_thread *t = cport_thread_current();
	struct cport_port *old;

	if (t && t->port == port)
		return t;

	if (t) {
		old = t->port;
		cport_thread_detach(t);
		cport_thread_attach(port, t);
		cport_port_put(old);
		return t;
	}

	t = kzalloc_obj(*t, GFP_KERNEL_ACCOUNT);
	if (!t)
		return ERR_PTR(-ENOMEM);
	preempt_notifier_init(&t->pn, &cport_preempt_ops);
	__module_get(THIS_MODULE);
	cport_thread_attach(port, t);
	/* Interrupts off: __cport_thread_current_runs() walks the list. */
	local_irq_disable();
	preempt_notifier_register(&t->pn);
	local_irq_enable();
	return t;
}

int cport_thread_leave(struct cport_port *port)
{
	struct cport_thread *t = cport_thread_current();

	if (!t || t->port != port)
		return -ENOENT;
	local_irq_disable();
	preempt_notifier_unregister(&t->pn);
	local_irq_enable();
	cport_thread_detach(t);
	cport_thread_free(t);
	return 0;
}

int cport_threads_init(void)
{
	int cpu;

	/*
	 * Set here: with IRQ_WORK_INIT() as the static initializer, the
	 * per-CPU copies had a NULL func on 6.1 (an oops at a thread exit).
	 */
	for_each_possible_cpu(cpu)
		init_irq_work(per_cpu_ptr(&cport_reap_irq_work, cpu),
			      cport_reap_irq);
	preempt_notifier_inc();
	return 0;
}

/* Every association held a module reference: none is left. */
void cport_threads_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		irq_work_sync(per_cpu_ptr(&cport_reap_irq_work, cpu));
	flush_work(&cport_reap_work);
	preempt_notifier_dec();
}
