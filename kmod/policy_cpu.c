// SPDX-License-Identifier: GPL-2.0
/*
 * CPU-affine: the most recent waiter that went to sleep on the CPU where
 * the completion is produced (for a socket, the CPU whose softirq saw the
 * data), else the most recent one (LIFO).  No cross-CPU wakeup, and the
 * data stays in the cache of the CPU that touched it.  A list per CPU of
 * the waiters that slept there, newest first: O(1).
 */
#include <linux/cpumask.h>
#include <linux/slab.h>

#include "cport.h"

static int cport_cpu_init(struct cport_policy_port *pp)
{
	struct list_head *lists;
	unsigned int cpu;

	lists = kvmalloc_array(nr_cpu_ids, sizeof(*lists), GFP_KERNEL_ACCOUNT);
	if (!lists)
		return -ENOMEM;
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		INIT_LIST_HEAD(&lists[cpu]);
	pp->priv = lists;
	return 0;
}

static void cport_cpu_free(struct cport_policy_port *pp)
{
	kvfree(pp->priv);
}

static void cport_cpu_add(struct cport_policy_port *pp,
			  struct cport_policy_waiter *w)
{
	struct list_head *lists = pp->priv;

	list_add(&w->node, &lists[w->cpu]);
}

static void cport_cpu_del(struct cport_policy_port *pp,
			  struct cport_policy_waiter *w)
{
	list_del(&w->node);
}

static struct cport_policy_waiter *
cport_cpu_pick(struct cport_policy_port *pp, const struct cport_policy_ctx *ctx)
{
	struct list_head *here = (struct list_head *)pp->priv + ctx->cpu;

	if (!list_empty(here))
		return list_first_entry(here, struct cport_policy_waiter, node);
	return cport_policy_newest(pp);
}

struct cport_policy_ops cport_policy_cpu = {
	.version	= CPORT_POLICY_VERSION,
	.name		= "cpu",
	.init		= cport_cpu_init,
	.free		= cport_cpu_free,
	.pick		= cport_cpu_pick,
	.waiter_add	= cport_cpu_add,
	.waiter_del	= cport_cpu_del,
};
