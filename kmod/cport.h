/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cport internals: the port, its completion queue, its waiters and the
 * threads it counts as running.
 *
 * A completion is handed to exactly one waiter under port->lock: it moves
 * from the port's queue (or straight from the poster) onto the chosen
 * waiter's private list before the waiter is woken, so no other thread
 * can take it and a woken waiter never finds nothing to return.
 *
 * LOCKING
 *
 * port->lock (spinlock_t, taken with interrupts disabled: completions of
 *	socket operations will be posted from wait-queue callbacks) protects
 *	everything marked "lock" below.  It is a leaf apart from the wakeups
 *	it issues (wake_up_process() of a waiter, which takes the scheduler's
 *	locks, the usual order).
 * port->poll_wq.lock is never taken under port->lock: poll waiters are
 *	woken after port->lock is dropped.
 *
 * A waiter's struct cport_waiter lives on its own stack.  While it is on
 * port->waiters only port->lock holders touch it; the waker sets ->done
 * with release semantics as the last store and wakes the task while still
 * holding the lock, and the waiter takes port->lock before its stack frame
 * goes away, so the waker can never touch a dead frame.
 */
#ifndef _CPORT_INTERNAL_H
#define _CPORT_INTERNAL_H

#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/ktime.h>
#include <linux/cport.h>

struct mm_struct;
struct task_struct;

/* A queued completion. */
struct cport_node {
	struct list_head	list;	/* port->queue or waiter->handed: lock */
	struct cport_cqe	cqe;
};

/* A thread counted in port->running: it returned from a wait with
 * completions and has not waited on this port again.
 */
struct cport_thread {
	struct hlist_node	hnode;	/* port->threads: lock */
	struct task_struct	*task;	/* identity only: no reference held */
};

/* A thread sleeping in a wait, on its own stack. */
struct cport_waiter {
	struct list_head	list;	/* port->waiters: lock */
	struct list_head	handed;	/* completions handed to it: lock */
	struct task_struct	*task;
	bool			done;	/* handed or woken by destroy */
};

struct cport_stats {
	u64 posts;		/* completions queued or handed */
	u64 dequeues;		/* completions returned to user space */
	u64 waits;		/* waits (enter calls with max_cqes > 0) */
	u64 waits_slept;	/* waits that had to sleep */
	u64 handoffs;		/* completions handed to a sleeping waiter */
};

#define CPORT_THREAD_HASH_BITS	6

struct cport_port {
	spinlock_t		lock;		/* see LOCKING above */
	struct list_head	queue;		/* lock: FIFO of cport_node */
	unsigned int		nr_queued;	/* lock */
	struct list_head	waiters;	/* lock: newest first */
	unsigned int		nr_waiters;	/* lock */
	unsigned int		running;	/* lock: threads counted running */
	DECLARE_HASHTABLE(threads, CPORT_THREAD_HASH_BITS);	/* lock */
	bool			dead;		/* lock: destroyed */
	bool			used;		/* lock: setup no longer allowed */

	/* Set before first use (under lock), read-only afterwards. */
	u32			concurrency;
	u32			policy;
	u32			max_queued;

	struct cport_stats	stats;		/* lock */

	wait_queue_head_t	poll_wq;
	struct mm_struct	*mm;		/* owner: mmgrab()bed, immutable */
};

/* port.c */
struct cport_port *cport_port_alloc(void);
void cport_port_free(struct cport_port *port);
int cport_port_setup(struct cport_port *port, const struct cport_setup *s);
void cport_port_info(struct cport_port *port, struct cport_info *info);
int cport_post(struct cport_port *port, const struct cport_cqe *cqe);
int cport_destroy(struct cport_port *port);
__poll_t cport_port_poll(struct cport_port *port);
void cport_port_show(struct cport_port *port, struct seq_file *m);
void __cport_release(struct cport_port *port);
void cport_wake_pollers(struct cport_port *port, __poll_t mask);
void cport_node_free(struct cport_node *node);
int cport_node_cache_init(void);
void cport_node_cache_exit(void);

/* wait.c */
long cport_wait(struct cport_port *port, struct cport_cqe __user *ucqes,
		u32 max, const ktime_t *expires, bool nowait);

#endif /* _CPORT_INTERNAL_H */
