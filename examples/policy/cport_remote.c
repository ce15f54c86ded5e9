// SPDX-License-Identifier: GPL-2.0
/*
 * An out-of-tree cport release policy, to copy: "remote" releases the most
 * recent waiter that went to sleep on another CPU than the one where the
 * completion is produced, else the most recent waiter (LIFO).
 *
 * Why: under LIFO (and CPU-affine) the waiter released is usually the one
 * that just went to sleep on the producing CPU, so it queues behind the
 * thread that woke it (docs/policies.md, "Under load"); a waiter asleep on
 * another CPU can run at once, and among those the most recent is the
 * warmest.
 *
 * What it shows of the interface (kmod/cport_policy.h):
 *   - per-port state from ->init (GFP_KERNEL_ACCOUNT), freed by ->free;
 *   - per-waiter state without allocation: the waiter's embedded list
 *     node (->node) and scratch words;
 *   - what the core tells a policy: the producer's CPU (ctx->cpu), each
 *     waiter's CPU and when it went to sleep, the running count.
 * Its pick looks at the newest waiter of each CPU: O(CPUs), bounded by
 * the machine, not by anything a user controls.
 *
 * Parameters for cport's selftests (policy_module_test), never in real
 * use: bad_pick 1 returns NULL, 2 a waiter that sleeps in no port (the
 * core reports it once and releases the most recent waiter instead);
 * at load, iface_version registers as another interface version (refused:
 * -ENOEXEC) and name under another name (a taken one: -EEXIST).
 *
 * Build: see the Makefile next to this file.  Load after cport.ko; a port
 * selects it with cport_setup.policy_name = "remote".
 */
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "cport_policy.h"

static int bad_pick;
module_param(bad_pick, int, 0644);
MODULE_PARM_DESC(bad_pick,
		 "testing only: 1 pick NULL, 2 pick a waiter of no port");
static int iface_version = CPORT_POLICY_VERSION;
module_param(iface_version, int, 0444);
MODULE_PARM_DESC(iface_version, "testing only: register as this version");
static char *name = "remote";
module_param(name, charp, 0444);
MODULE_PARM_DESC(name, "testing only: register under this name");

/* Per port: each CPU's waiters, newest first, and an arrival counter. */
struct remote_port {
	u64			arrivals;	/* under the port's lock */
	struct list_head	cpus[];		/* nr_cpu_ids of them */
};

/* A waiter that sleeps in no port (bad_pick=2). */
static struct cport_policy_waiter remote_stray;

static int remote_init(struct cport_policy_port *pp)
{
	struct remote_port *rp;
	unsigned int cpu;

	rp = kvzalloc(struct_size(rp, cpus, nr_cpu_ids), GFP_KERNEL_ACCOUNT);
	if (!rp)
		return -ENOMEM;
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		INIT_LIST_HEAD(&rp->cpus[cpu]);
	pp->priv = rp;
	return 0;
}

static void remote_free(struct cport_policy_port *pp)
{
	kvfree(pp->priv);
}

static void remote_add(struct cport_policy_port *pp,
		       struct cport_policy_waiter *w)
{
	struct remote_port *rp = pp->priv;

	w->scratch[0] = ++rp->arrivals;		/* orders waiters of all CPUs */
	list_add(&w->node, &rp->cpus[w->cpu]);
}

static void remote_del(struct cport_policy_port *pp,
		       struct cport_policy_waiter *w)
{
	list_del(&w->node);
}

static struct cport_policy_waiter *
remote_pick(struct cport_policy_port *pp, const struct cport_policy_ctx *ctx)
{
	struct cport_policy_waiter *w, *best = NULL;
	struct remote_port *rp = pp->priv;
	unsigned int cpu;

	switch (READ_ONCE(bad_pick)) {
	case 1:
		return NULL;
	case 2:
		return &remote_stray;
	}
	/* The newest waiter is remote already: the common case, O(1). */
	w = cport_policy_newest(pp);
	if (w->cpu != ctx->cpu)
		return w;
	for_each_possible_cpu(cpu) {
		if (cpu == ctx->cpu || list_empty(&rp->cpus[cpu]))
			continue;
		w = list_first_entry(&rp->cpus[cpu], struct cport_policy_waiter,
				     node);
		if (!best || w->scratch[0] > best->scratch[0])
			best = w;
	}
	return best ?: cport_policy_newest(pp);
}

static struct cport_policy_ops remote_ops = {
	.version	= CPORT_POLICY_VERSION,
	.name		= "remote",
	.owner		= THIS_MODULE,
	.init		= remote_init,
	.free		= remote_free,
	.pick		= remote_pick,
	.waiter_add	= remote_add,
	.waiter_del	= remote_del,
};

static int __init remote_mod_init(void)
{
	remote_ops.version = iface_version;
	strscpy(remote_ops.name, name, sizeof(remote_ops.name));
	return cport_register_policy(&remote_ops);
}

static void __exit remote_mod_exit(void)
{
	cport_unregister_policy(&remote_ops);
}

module_init(remote_mod_init);
module_exit(remote_mod_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("cport release policy: the most recent waiter on another CPU");
MODULE_AUTHOR("The cport authors");
