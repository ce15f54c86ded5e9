/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cport's release-policy interface: what a module includes to add a
 * policy that picks which sleeping waiter of a port gets the next
 * completion (or ready socket).  docs/policies.md describes it and the
 * invariants a policy keeps; examples/policy/ is a module to copy.
 *
 * The core keeps every guarantee of a port: a completion goes to exactly
 * one waiter, nobody is released while the running count is at the
 * concurrency value (or, unless the port releases eagerly, while every
 * CPU is busy: uapi CPORT_SETUP_EAGER_RELEASE), signals and timeouts end
 * waits.  A policy only chooses, among the waiters asleep right now, whom
 * the core releases.
 * The core checks the choice: a waiter that is not asleep on this port,
 * or NULL while waiters exist, is reported once (pr_warn_once) and the
 * most recent waiter (LIFO) is released instead.
 *
 * Context.  ->pick, ->waiter_add, ->waiter_del and ->waiter_released run
 * under the port's spinlock with interrupts off, often in softirq or hard
 * interrupt context: they must not sleep, allocate, take locks that are
 * not irq-safe, or walk anything whose length a user controls (the
 * waiters are as many as a user's threads).  ->pick and
 * ->waiter_released may also run under the port's raw run_lock, which
 * nests inside the scheduler's locks (see below): they must not printk
 * or wake anything either (a printk reaches the console, whose wakeups
 * take the scheduler's locks: a lockdep cycle).  ->thread_block and
 * ->thread_resume run from the scheduler's preempt notifiers, with the
 * runqueue lock held, under the port's raw run_lock and not its spinlock:
 * they may only update the policy's own state (atomics, or a raw spinlock
 * of its own taken last), and must not wake or queue anything.  ->init
 * and ->free run in process context and may sleep.
 */
#ifndef _CPORT_POLICY_H
#define _CPORT_POLICY_H

#include <linux/list.h>
#include <linux/module.h>
#include <linux/rbtree.h>
#include <linux/types.h>
#include <linux/cport.h>

/*
 * The interface version a policy is built for (cport_policy_ops.version).
 * cport_register_policy() refuses any other with -ENOEXEC and a pr_err
 * naming both: rebuild the module against this header.
 */
#define CPORT_POLICY_VERSION	1

struct cport_policy_port;

/*
 * A waiter, as a policy sees it: a thread asleep in the port.  Embedded
 * in the core's waiter (on the thread's stack), valid from ->waiter_add
 * to ->waiter_del.  Fields marked "core" are read-only for the policy.
 */
struct cport_policy_waiter {
	struct list_head	link;	/* core: on cport_policy_port.waiters */
	const void		*port;	/* core: the port it sleeps in, NULL
					 * when it sleeps in none
					 */
	int			cpu;	/* core: the CPU it last ran on (where it
					 * went to sleep)
					 */
	u32			seq;	/* core: its thread joined the port as
					 * the seq-th (1, 2, ...)
					 */
	u64			sleep_ns; /* core: when it went to sleep
					   * (ktime_get_mono_fast_ns())
					   */
	/* The policy's own, untouched by the core: no allocation needed. */
	struct rb_node		rb;
	struct list_head	node;
	unsigned long		scratch[2];
};

/* What a ->pick is told about the completion at hand. */
struct cport_policy_ctx {
	int		cpu;		/* the producer's CPU: where the
					 * completion is posted, or where the
					 * socket's data arrived
					 */
	unsigned int	running;	/* threads of the port running now */
	unsigned int	concurrency;	/* the port's concurrency value */
	unsigned int	nr_waiters;	/* waiters asleep (>= 1) */
	bool		serve;		/* the waiter will only run sockets
					 * for the port, not be released
					 * (->waiter_released is not called)
					 */
};

/* A port, as a policy sees it.  Embedded in the core's port. */
struct cport_policy_port {
	/*
	 * core: the waiters asleep, the most recent first, linked by
	 * cport_policy_waiter.link.  Read-only: first/last entry only, never
	 * walked in a hot path (see Context above).
	 */
	struct list_head	*waiters;
	void			*priv;	/* the policy's: set by ->init */
	const struct cport_policy_ops *ops; /* core */
};

struct cport_policy_ops {
	u32		version;	/* CPORT_POLICY_VERSION: first, always */
	char		name[CPORT_POLICY_NAME_LEN]; /* [a-z0-9_-], unique */
	struct module	*owner;		/* THIS_MODULE */

	/*
	 * Required.  The waiter the next completion goes to, among those on
	 * pp->waiters (never empty here).  Must not change anything: the
	 * core may still decide not to release it (->waiter_released tells
	 * when it does).
	 */
	struct cport_policy_waiter *(*pick)(struct cport_policy_port *pp,
					    const struct cport_policy_ctx *ctx);

	/* Optional.  Per-port state: ->init sets pp->priv, ->free frees it.
	 * Allocate with GFP_KERNEL_ACCOUNT (charged to the port's user).
	 * ->init returns 0 or -errno (the setup fails with it).
	 */
	int (*init)(struct cport_policy_port *pp);
	void (*free)(struct cport_policy_port *pp);

	/*
	 * Optional.  A waiter arrives (goes to sleep), is released (handed
	 * a completion or a socket and counted running: the moment its
	 * "turn" is used), and leaves the sleepers (after a release, a
	 * serve, a timeout, a signal or a destroy: every arrival has exactly
	 * one leave, and nothing else happens to the waiter in between).
	 */
	void (*waiter_add)(struct cport_policy_port *pp,
			   struct cport_policy_waiter *w);
	void (*waiter_released)(struct cport_policy_port *pp,
				struct cport_policy_waiter *w);
	void (*waiter_del)(struct cport_policy_port *pp,
			   struct cport_policy_waiter *w);

	/*
	 * Optional.  A running thread of the port (joined as the @seq-th)
	 * blocked elsewhere on @cpu (its concurrency slot frees), or runs
	 * again.  Called only for ports that track blocking.
	 */
	void (*thread_block)(struct cport_policy_port *pp, u32 seq, int cpu);
	void (*thread_resume)(struct cport_policy_port *pp, u32 seq, int cpu);

	struct list_head list;		/* core: the registry */
};

/*
 * Register @ops: 0, or -ENOEXEC (another interface version), -EINVAL (no
 * pick, a bad name), -EEXIST (the name is taken), -ENOSPC
 * (CPORT_MAX_POLICIES are registered).  From module init.
 */
int cport_register_policy(struct cport_policy_ops *ops);
/*
 * Unregister @ops, from module exit: no port uses it then (each holds a
 * reference to ops->owner), and no new one can select it.
 */
void cport_unregister_policy(struct cport_policy_ops *ops);

/* The most recent waiter (LIFO), the oldest (FIFO). */
static inline struct cport_policy_waiter *
cport_policy_newest(struct cport_policy_port *pp)
{
	return list_first_entry(pp->waiters, struct cport_policy_waiter, link);
}

static inline struct cport_policy_waiter *
cport_policy_oldest(struct cport_policy_port *pp)
{
	return list_last_entry(pp->waiters, struct cport_policy_waiter, link);
}

#endif /* _CPORT_POLICY_H */
