// SPDX-License-Identifier: GPL-2.0
/*
 * The hook on an associated socket's wait queue.
 *
 * While operations are pending, the socket's runner keeps one entry on
 * the socket's wait queue, armed through vfs_poll() the way eventpoll
 * does it, and removes it when the last one completes (runner.c), before
 * the file reference the pending operations hold is dropped: the queue
 * cannot go away under the entry.  The callback does the minimum: it
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
	struct cport_sock *s = container_of(wait, struct cport_sock, wait);
	__poll_t mask = key_to_poll(key);
	bool rx, tx, kick = false;
	unsigned long flags;

	if (mask & POLLFREE) {
		/*
		 * The wait queue is going away (eventpoll's protocol; sockets
		 * do not do this, their queue lives as long as the file the
		 * pending operations pin).  Unhook so nobody removes the entry
		 * later; the runner arms again if operations remain.
		 */
		list_del_init(&wait->entry);
		/* Pairs with the acquire in cport_sock_disarm(). */
		smp_store_release(&s->whead, NULL);
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
	init_waitqueue_func_entry(&s->wait, cport_sock_wake);
}

struct cport_poll_table {
	poll_table		pt;
	struct cport_sock	*s;
};

static void cport_sock_queue_proc(struct file *file, wait_queue_head_t *whead,
				  poll_table *pt)
{
	struct cport_sock *s = container_of(pt, struct cport_poll_table,
					    pt)->s;

	/* A socket has one wait queue. */
	if (s->whead)
		return;
	s->whead = whead;
	add_wait_queue(whead, &s->wait);
}

/*
 * Hook the socket's wait queue (the runner only, with s->file held, no
 * lock held).  Returns the socket's current poll mask.
 */
__poll_t cport_sock_arm(struct cport_sock *s)
{
	struct cport_poll_table cpt = { .s = s };

	init_poll_funcptr(&cpt.pt, cport_sock_queue_proc);
	return vfs_poll(s->file, &cpt.pt);
}

/* Unhook it (the runner only, before the file reference goes). */
void cport_sock_disarm(struct cport_sock *s)
{
	wait_queue_head_t *whead;

	/*
	 * As eventpoll does it: a queue that sent POLLFREE is freed after
	 * an RCU grace period, so look at it and unhook under the RCU read
	 * lock.
	 */
	rcu_read_lock();
	/* Pairs with the release in cport_sock_wake(). */
	whead = smp_load_acquire(&s->whead);
	if (whead)
		remove_wait_queue(whead, &s->wait);
	rcu_read_unlock();
	WRITE_ONCE(s->whead, NULL);
}
