/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cport internals: the port, its completion queue, its waiters and the
 * threads associated with it.
 *
 * A completion is handed to exactly one waiter under port->lock: it moves
 * from the port's queue (or straight from the poster) onto the chosen
 * waiter's private list before the waiter is woken, so no other thread
 * can take it and a woken waiter never finds nothing to return.
 *
 * A thread that waits on a port becomes associated with it (thread.c): it
 * registers a preempt notifier, which tells the port when the thread
 * blocks elsewhere (its concurrency slot frees) and when it runs again,
 * and which sees the thread's final switch at exit.
 *
 * LOCKING
 *
 * port->lock (spinlock_t, taken with interrupts disabled: completions of
 *	socket operations will be posted from wait-queue callbacks, and the
 *	release irq_work takes it in hard interrupt context) protects what
 *	is marked "lock" below.  Under it the port issues wake_up_process()
 *	of waiters (the scheduler's locks nest inside, the usual order).
 * port->run_lock (raw_spinlock_t) protects what is marked "run": the
 *	running count and the threads' counted/blocked state.  It is taken
 *	from the scheduler's preempt notifiers (sched_out runs with the
 *	runqueue lock held and interrupts off), so it is raw, never taken
 *	in interrupt context, and a leaf: nothing is taken, woken or queued
 *	under it (the notifiers queue their irq_work after dropping it).
 *	Order: port->lock -> port->run_lock.
 * port->poll_wq.lock is never taken under port->lock: poll waiters are
 *	woken after port->lock is dropped.
 *
 * A waiter's struct cport_waiter lives on its own stack.  While it is on
 * port->waiters only port->lock holders touch it; the waker sets ->done
 * with release semantics as the last store and wakes the task while still
 * holding the lock, and the waiter takes port->lock before its stack frame
 * goes away, so the waker can never touch a dead frame.
 *
 * Lifetime: a port is freed when its file is released and every thread
 * associated with it has left (each holds a reference).  A thread's
 * struct cport_thread is freed by the thread itself when it leaves or
 * moves, or after its final switch at exit by a work item; each one holds
 * a module reference, so the module cannot be unloaded under it.
 */
#ifndef _CPORT_INTERNAL_H
#define _CPORT_INTERNAL_H

#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/preempt.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/ktime.h>
#include <linux/cport.h>

struct mm_struct;
struct seq_file;
struct task_struct;

/* A queued completion. */
struct cport_node {
	struct list_head	list;	/* port->queue or waiter->handed: lock */
	struct cport_cqe	cqe;
};

/* A thread associated with a port: one port per thread. */
struct cport_thread {
	struct preempt_notifier	pn;	/* registered on the thread itself */
	struct cport_port	*port;	/* reference held; changed only by
					 * the thread itself
					 */
	bool			counted; /* run: in port->running's books */
	bool			blocked; /* run: counted, but blocked now */
	bool			in_wait; /* set by the thread while it sleeps
					  * in the port: not "blocked
					  * elsewhere"
					  */
	struct llist_node	reap;	/* after the final switch at exit */
};

/* A thread sleeping in a wait, on its own stack. */
struct cport_waiter {
	struct list_head	list;	/* port->waiters: lock */
	struct list_head	handed;	/* completions handed to it: lock */
	struct task_struct	*task;
	struct cport_thread	*thread;
	bool			done;	/* handed or woken by destroy */
};

struct cport_stats {
	u64 posts;		/* lock: completions queued or handed */
	u64 dequeues;		/* lock: completions returned to user space */
	u64 waits;		/* lock: waits (enter with max_cqes > 0) */
	u64 waits_slept;	/* lock: waits that had to sleep */
	u64 handoffs;		/* lock: completions handed to a sleeper */
	u64 blocked_releases;	/* lock: handoffs because a thread blocked */
	u64 over_events;	/* run: times running rose above the limit */
	u64 over_ns;		/* run: time spent above the limit */
};

struct cport_port {
	spinlock_t		lock;		/* see LOCKING above */
	struct list_head	queue;		/* lock: FIFO of cport_node */
	unsigned int		nr_queued;	/* lock; WRITE_ONCE, read
						 * locklessly by poll and the
						 * notifiers
						 */
	struct list_head	waiters;	/* lock: newest first */
	unsigned int		nr_waiters;	/* lock; WRITE_ONCE, as above */
	bool			dead;		/* lock: destroyed */
	bool			used;		/* lock: setup no longer allowed */

	raw_spinlock_t		run_lock;	/* see LOCKING above */
	unsigned int		running;	/* run: threads running */
	unsigned int		nr_threads;	/* run: threads associated */
	u64			over_since;	/* run: when running > limit */

	/* Set before first use (under lock), read-only afterwards. */
	u32			concurrency;
	u32			policy;
	u32			max_queued;
	bool			track_blocking;

	struct cport_stats	stats;
	u32			id;		/* for tracepoints */

	struct kref		ref;		/* file + associated threads */
	struct irq_work		release_work;	/* handoff after a block */
	wait_queue_head_t	poll_wq;
	struct mm_struct	*mm;		/* owner: mmgrab()bed, immutable */
};

/* port.c */
struct cport_port *cport_port_alloc(void);
void cport_port_release(struct cport_port *port);
void cport_port_get(struct cport_port *port);
void cport_port_put(struct cport_port *port);
int cport_port_setup(struct cport_port *port, const struct cport_setup *s);
void cport_port_info(struct cport_port *port, struct cport_info *info);
int cport_post(struct cport_port *port, const struct cport_cqe *cqe);
int cport_destroy(struct cport_port *port);
__poll_t cport_port_poll(struct cport_port *port);
void cport_port_show(struct cport_port *port, struct seq_file *m);
unsigned int __cport_release(struct cport_port *port);
void cport_wake_pollers(struct cport_port *port, __poll_t mask);
void cport_node_free(struct cport_node *node);
int cport_node_cache_init(void);
void cport_node_cache_exit(void);

/* thread.c */
struct cport_thread *cport_thread_join(struct cport_port *port);
int cport_thread_leave(struct cport_port *port);
void __cport_thread_stop(struct cport_port *port, struct cport_thread *t);
void __cport_thread_start(struct cport_port *port, struct cport_thread *t);
int cport_threads_init(void);
void cport_threads_exit(void);

/* wait.c */
long cport_wait(struct cport_port *port, struct cport_cqe __user *ucqes,
		u32 max, const ktime_t *expires, bool nowait);

#endif /* _CPORT_INTERNAL_H */
