// SPDX-License-Identifier: GPL-2.0
/*
 * The hook on an associated socket's or file's wait queues.
 *
 * While operations are pending, the runner keeps one entry on each of
 * the file's wait queues (a socket has one, a pipe two: its readers'
 * and its writers'), armed through vfs_poll() as eventpoll does it, and
 * removes them when the last one completes (runner.c), before the file
 * reference the pending operations hold is dropped: the queues cannot go
 * away under the entries.  The callback does the minimum: it
 * filters the mask against the queues that have operations, and kicks
 * the socket to a runner (runner.c); it never touches user memory or
 * sleeps.  See cport.h for the locking rules.
 */
#include <linux/file.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/wait.h>

#include "compat.h"
#include "cport.h"

static int cport_sock_wake(struct wait_queue_entry *wait, unsigned int mode,
			   int sync, void *key)
{
	struct cport_wq_entry *e = container_of(wait, struct cport_wq_entry,
						wait);
	struct cport_sock *s = wait->private;
	__poll_t mask = key_to_poll(key);
	bool rx, tx, kick = false;
	unsigned long flags;

	if (mask & POLLFREE) {
		/*
		 * The wait queue is going away (eventpoll's protocol; sockets
		 * and pipes do not do this, their queues live as long as the
		 * file the pending operations pin).  Unhook so nobody removes
		 * the entry later; the runner arms again if operations remain.
		 */
		list_del_init(&wait->entry);
		/* Pairs with the acquire in cport_sock_disarm(). */
		smp_store_release(&e->whead, NULL);
	}

	rx = !mask || (mask & (EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP |
			       EPOLLERR | POLLFREE));
	tx = !mask || (mask & (EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR |
			       POLLFREE));

	spin_lock_irqsave(&s->lock, flags);
	if ((rx && !list_empty(&s->rxq)) || (tx && !list_empty(&s->txq))) {
		if (s->running)
			s->rerun = true;
		else
			kick = true;
	}
	spin_unlock_irqrestore(&s->lock, flags);

	if (kick)
		cport_sock_kick(s);
	return 0;
}

/*
 * cport's workqueue: the port's teardown when its owner's mm goes, and
 * the fallback's bookkeeping (runner.c).  None of it touches user memory
 * or runs user I/O.  Module exit drains it.
 */

void cport_sock_wait_init(struct cport_sock *s)
{
	int i;

	for (i = 0; i < s->max_wq; i++) {
		init_waitqueue_func_entry(&s->wq[i].wait, cport_sock_wake);
		s->wq[i].wait.private = s;
	}
}

struct cport_poll_table {
	poll_table		pt;
	struct cport_sock	*s;
	int			n;
};

/*
 * One entry per wait queue the file's poll method names (eventpoll's
 * ep_ptable_queue_proc(), bounded): a socket names one, a pipe two.  A
 * file naming more was refused at association (cport_poll_queues()).
 */
static void cport_sock_queue_proc(struct file *file, wait_queue_head_t *whead,
				  poll_table *pt)
{
	struct cport_poll_table *cpt = container_of(pt, struct cport_poll_table,
						    pt);
	struct cport_sock *s = cpt->s;
	struct cport_wq_entry *e;

	if (s->nr_wq >= s->max_wq)
		return;
	e = &s->wq[s->nr_wq++];
	WRITE_ONCE(e->whead, whead);
	add_wait_queue(whead, &e->wait);
}

/*
 * Hook the file's wait queues (the runner only, with s->file held, no
 * lock held), after unhooking what is left of an earlier arming.
 * Returns the file's current poll mask.
 */
__poll_t cport_sock_arm(struct cport_sock *s)
{
	struct cport_poll_table cpt = { .s = s };

	cport_sock_disarm(s);
	init_poll_funcptr(&cpt.pt, cport_sock_queue_proc);
	return vfs_poll(s->file, &cpt.pt);
}

/* Are all the entries armed still hooked (none got POLLFREE)? */
bool cport_sock_hooked(struct cport_sock *s)
{
	int i;

	if (!s->nr_wq)
		return false;
	for (i = 0; i < s->nr_wq; i++)
		/* Pairs with the release in cport_sock_wake(). */
		if (!smp_load_acquire(&s->wq[i].whead))
			return false;
	return true;
}

/* Unhook them (the runner only, before the file reference goes). */
void cport_sock_disarm(struct cport_sock *s)
{
	wait_queue_head_t *whead;
	int i;

	/*
	 * As eventpoll does it: a queue that sent POLLFREE is freed after
	 * an RCU grace period, so look at it and unhook under the RCU read
	 * lock.
	 */
	rcu_read_lock();
	for (i = 0; i < s->nr_wq; i++) {
		/* Pairs with the release in cport_sock_wake(). */
		whead = smp_load_acquire(&s->wq[i].whead);
		if (whead)
			remove_wait_queue(whead, &s->wq[i].wait);
		WRITE_ONCE(s->wq[i].whead, NULL);
	}
	rcu_read_unlock();
	s->nr_wq = 0;
}

static void cport_count_queue_proc(struct file *file, wait_queue_head_t *whead,
				   poll_table *pt)
{
	container_of(pt, struct cport_poll_table, pt)->n++;
}

/*
 * How many wait queues @file's poll method names (nothing is hooked):
 * more than CPORT_MAX_WQ and the file cannot be associated.
 */
int cport_poll_queues(struct file *file)
{
	struct cport_poll_table cpt = { };

	init_poll_funcptr(&cpt.pt, cport_count_queue_proc);
	vfs_poll(file, &cpt.pt);
	return cpt.n;
}
