// SPDX-License-Identifier: GPL-2.0
/*
 * What a port may hold, and who pays for it.
 *
 * Every object a port allocates is charged to the memory cgroup of the
 * thread that allocates it (SLAB_ACCOUNT, GFP_KERNEL_ACCOUNT), and every
 * byte of socket I/O is moved by a thread of the owning process (runner.c),
 * so its CPU time is the owner's.  On top of that, bounds that a user
 * cannot lift:
 *
 *  - per port, max_pending (CPORT_IOC_SETUP) bounds the "units" of the
 *    port: pending operations, delayed POSTs, and completions of
 *    operations that were not yet dequeued.  An operation holds its unit
 *    from submission until its completion is dequeued, discarded or
 *    moved to the port's completion ring (whose memory was charged at
 *    setup), so
 *    the completion queue holds at most max_queued user POSTs plus
 *    max_pending completions of operations, whatever user space does;
 *  - per user, max_user_units (a module parameter, writable by root only,
 *    like epoll's max_user_watches): the same units plus associations,
 *    plus a unit per CPORT_UNIT_COST bytes of the iovec arrays that
 *    scatter/gather operations hold, summed over every port the user
 *    opened;
 *  - files pinned for user space (a socket's file while operations are
 *    pending on it, an ACCEPT's connection until it is delivered) count
 *    against the submitter's RLIMIT_NOFILE, per port, as io_uring counts
 *    its fixed files.
 *
 * Charges are atomics: they are dropped in any context (a completion
 * discarded in softirq), taken in process context.
 */
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "cport.h"

/* What one unit costs at most, in bytes of slab (docs/design.md). */
#define CPORT_UNIT_COST		512

static unsigned long max_user_units;
module_param(max_user_units, ulong, 0644);
MODULE_PARM_DESC(max_user_units,
		 "Associations plus pending operations per user, over all of the user's ports (default: 4% of memory at 512 bytes each)");

/* A user's charges, shared by the user's ports. */
struct cport_user {
	struct hlist_node	node;	/* cport_users: cport_users_lock */
	struct user_struct	*uid;	/* referenced */
	refcount_t		refs;	/* one per port */
	atomic_long_t		units;
};

static DEFINE_HASHTABLE(cport_users, 6);
static DEFINE_SPINLOCK(cport_users_lock);	/* process context only */

static struct cport_user *cport_user_find(struct user_struct *uid)
{
	struct cport_user *u;

	lockdep_assert_held(&cport_users_lock);
	hash_for_each_possible(cport_users, u, node, (unsigned long)uid)
		if (u->uid == uid && refcount_inc_not_zero(&u->refs))
			return u;
	return NULL;
}

/* The calling user's charges, referenced, or NULL when out of memory. */
struct cport_user *cport_user_get(void)
{
	struct user_struct *uid = current_user();
	struct cport_user *u, *new;

	spin_lock(&cport_users_lock);
	u = cport_user_find(uid);
	spin_unlock(&cport_users_lock);
	if (u)
		return u;

	new = kzalloc_obj(*new, GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	new->uid = get_uid(uid);
	refcount_set(&new->refs, 1);
	atomic_long_set(&new->units, 0);

	spin_lock(&cport_users_lock);
	u = cport_user_find(uid);
	if (!u) {
		hash_add(cport_users, &new->node, (unsigned long)uid);
		u = new;
		new = NULL;
	}
	spin_unlock(&cport_users_lock);
	if (new) {
		free_uid(new->uid);
		kfree(new);
	}
	return u;
}

void cport_user_put(struct cport_user *u)
{
	spin_lock(&cport_users_lock);
	if (!refcount_dec_and_test(&u->refs)) {
		spin_unlock(&cport_users_lock);
		return;
	}
	hash_del(&u->node);
	spin_unlock(&cport_users_lock);
	WARN_ON_ONCE(atomic_long_read(&u->units));
	free_uid(u->uid);
	kfree(u);
}

static int cport_user_charge(struct cport_user *u, unsigned int n)
{
	if (atomic_long_add_return(n, &u->units) > READ_ONCE(max_user_units)) {
		atomic_long_sub(n, &u->units);
		return -EDQUOT;
	}
	return 0;
}

/*
 * Charge @n units to @port (-ENOBUFS past max_pending) and to its user
 * (-EDQUOT past max_user_units).
 */
int cport_charge_units(struct cport_port *port, unsigned int n)
{
	int ret;

	if (atomic_add_return(n, &port->nr_ops) > port->max_pending) {
		atomic_sub(n, &port->nr_ops);
		return -ENOBUFS;
	}
	ret = cport_user_charge(port->user, n);
	if (ret)
		atomic_sub(n, &port->nr_ops);
	return ret;
}

void cport_uncharge_units(struct cport_port *port, unsigned int n)
{
	atomic_sub(n, &port->nr_ops);
	atomic_long_sub(n, &port->user->units);
}

/*
 * Memory an operation holds besides itself (the iovec array of a
 * scatter/gather one): a unit per CPORT_UNIT_COST bytes, against the
 * user's bound only (-EDQUOT).  Returns the units charged through *@units.
 */
int cport_charge_bytes(struct cport_port *port, size_t bytes, u32 *units)
{
	u32 n = DIV_ROUND_UP(bytes, CPORT_UNIT_COST);
	int ret = cport_user_charge(port->user, n);

	if (!ret)
		*units = n;
	return ret;
}

void cport_uncharge_bytes(struct cport_port *port, u32 units)
{
	atomic_long_sub(units, &port->user->units);
}

/* An association: the user's bound only (-EDQUOT). */
int cport_charge_assoc(struct cport_port *port)
{
	return cport_user_charge(port->user, 1);
}

void cport_uncharge_assoc(struct cport_port *port)
{
	atomic_long_sub(1, &port->user->units);
}

/* A pinned file, against the submitter's RLIMIT_NOFILE (-EMFILE). */
int cport_charge_file(struct cport_port *port)
{
	if (atomic_inc_return(&port->nr_files) > rlimit(RLIMIT_NOFILE)) {
		atomic_dec(&port->nr_files);
		return -EMFILE;
	}
	return 0;
}

void cport_uncharge_file(struct cport_port *port)
{
	atomic_dec(&port->nr_files);
}

unsigned long cport_user_units(struct cport_port *port)
{
	return atomic_long_read(&port->user->units);
}

void cport_limits_init(void)
{
	/* As epoll sizes max_user_watches: 4% of memory. */
	if (!max_user_units)
		max_user_units = ((totalram_pages() / 25) << PAGE_SHIFT) /
				 CPORT_UNIT_COST;
}
