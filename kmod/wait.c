// SPDX-License-Identifier: GPL-2.0
/*
 * Waiting for completions: the dequeue side of CPORT_IOC_ENTER.
 *
 * A thread entering a wait first stops counting as running on the port.
 * If completions are queued and the concurrency value allows, it takes
 * them at once without sleeping.  Otherwise it puts a waiter on its stack
 * at the head of port->waiters and sleeps until a completion is handed to
 * it (port.c), the port is destroyed, a signal arrives or the timeout
 * expires.  Whatever was handed to it is returned even if a signal or the
 * timeout came at the same moment.  Completions that cannot be copied to
 * user space go back to the head of the queue.
 */
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "cport.h"
#include "trace.h"

/* Move up to @max queued completions to @taken; returns how many. */
static u32 __cport_take(struct cport_port *port, struct list_head *taken,
			u32 max)
{
	struct cport_node *node;
	u32 n = 0;

	lockdep_assert_held(&port->lock);
	while (n < max && !list_empty(&port->queue)) {
		node = list_first_entry(&port->queue, struct cport_node, list);
		list_move_tail(&node->list, taken);
		n++;
	}
	WRITE_ONCE(port->nr_queued, port->nr_queued - n);
	return n;
}

/* Sleep until handed a completion, destroyed, signalled or timed out. */
static int cport_sleep(struct cport_waiter *w, const ktime_t *expires)
{
	bool timed_out = false;
	int ret;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		/* Pairs with the release in __cport_handoff()/cport_destroy(). */
		if (smp_load_acquire(&w->done)) {
			ret = 0;
			break;
		}
		if (timed_out) {
			ret = -ETIMEDOUT;
			break;
		}
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
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
 * Copy @taken (@n completions) to user space.  Whatever cannot be copied
 * goes back to the head of the queue, in order (or is discarded, if the
 * port was destroyed meanwhile, like everything else it had queued); if
 * nothing could be copied, the thread stops counting as running again.
 */
static long cport_copy_out(struct cport_port *port, struct cport_thread *t,
			   struct list_head *taken, u32 n,
			   struct cport_cqe __user *ucqes)
{
	struct cport_node *node, *tmp;
	bool requeued, dead;
	u32 copied = 0;

	list_for_each_entry_safe(node, tmp, taken, list) {
		if (copy_to_user(&ucqes[copied], &node->cqe, sizeof(node->cqe)))
			break;
		list_del(&node->list);
		cport_node_free(node);
		copied++;
	}

	spin_lock_irq(&port->lock);
	port->stats.dequeues += copied;
	dead = port->dead;
	requeued = copied < n && !dead;
	if (copied < n && !copied) {
		raw_spin_lock(&port->run_lock);
		__cport_thread_stop(port, t);
		raw_spin_unlock(&port->run_lock);
	}
	if (requeued) {
		list_splice(taken, &port->queue);
		WRITE_ONCE(port->nr_queued, port->nr_queued + n - copied);
		__cport_release(port);
	}
	spin_unlock_irq(&port->lock);

	if (requeued)
		cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
	else
		list_for_each_entry_safe(node, tmp, taken, list)
			cport_node_free(node);
	if (copied)
		return copied;
	return dead ? -EIDRM : -EFAULT;
}

long cport_wait(struct cport_port *port, struct cport_cqe __user *ucqes,
		u32 max, const ktime_t *expires, bool nowait)
{
	struct cport_thread *t;
	struct cport_waiter w;
	LIST_HEAD(taken);
	bool slept = false;
	long ret;
	u32 n;

	/* Not worth associating with a destroyed port (checked again below). */
	if (READ_ONCE(port->dead))
		return -EIDRM;
	t = cport_thread_join(port);
	if (IS_ERR(t))
		return PTR_ERR(t);

	spin_lock_irq(&port->lock);
	if (port->dead) {
		spin_unlock_irq(&port->lock);
		return -EIDRM;
	}
	port->used = true;
	port->stats.waits++;

	/*
	 * Stop counting as running, then take what is queued if the
	 * concurrency value allows, or become a waiter: under run_lock, so
	 * that a running thread blocking at the same moment sees either our
	 * slot taken or us waiting (cport_sched_out()).
	 */
	raw_spin_lock(&port->run_lock);
	__cport_thread_stop(port, t);
	if (!list_empty(&port->queue) && port->running < port->concurrency) {
		__cport_thread_start(port, t);
		raw_spin_unlock(&port->run_lock);
		n = __cport_take(port, &taken, max);
		goto out_taken;
	}
	if (nowait) {
		raw_spin_unlock(&port->run_lock);
		spin_unlock_irq(&port->lock);
		return -ETIMEDOUT;
	}
	INIT_LIST_HEAD(&w.handed);
	w.task = current;
	w.thread = t;
	w.done = false;
	list_add(&w.list, &port->waiters);
	WRITE_ONCE(port->nr_waiters, port->nr_waiters + 1);
	t->in_wait = true;
	raw_spin_unlock(&port->run_lock);
	port->stats.waits_slept++;
	spin_unlock_irq(&port->lock);

	ret = cport_sleep(&w, expires);
	slept = true;

	spin_lock_irq(&port->lock);
	t->in_wait = false;
	if (list_empty(&w.handed)) {
		/* Timed out, signalled, or destroyed: nothing was handed. */
		if (!list_empty(&w.list)) {
			list_del(&w.list);
			WRITE_ONCE(port->nr_waiters, port->nr_waiters - 1);
		}
		if (port->dead)
			ret = -EIDRM;
		spin_unlock_irq(&port->lock);
		return ret;
	}
	/* Handed one (the handoff counted us running); take more if room. */
	list_splice_init(&w.handed, &taken);
	n = 1 + __cport_take(port, &taken, max - 1);

out_taken:
	trace_cport_dequeue(port->id, n, slept);
	spin_unlock_irq(&port->lock);
	return cport_copy_out(port, t, &taken, n, ucqes);
}
