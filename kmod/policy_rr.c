// SPDX-License-Identifier: GPL-2.0
/*
 * Round robin: threads in turn, in the order they joined the port.  The
 * waiter whose thread joined next after the last one released, wrapping
 * around to the first, from an rbtree of the waiters by join number:
 * O(log waiters).  Only a choice: the turn moves when the waiter is
 * actually released (->waiter_released), so a pick that the concurrency
 * value refuses, or a waiter woken to serve the port, skips nobody.
 */
#include <linux/slab.h>

#include "compat.h"
#include "cport.h"

struct cport_rr {
	struct rb_root	root;	/* the waiters by seq */
	u32		last;	/* seq of the last thread released */
};

static int cport_rr_init(struct cport_policy_port *pp)
{
	struct cport_rr *rr = kzalloc_obj(*rr, GFP_KERNEL_ACCOUNT);

	if (!rr)
		return -ENOMEM;
	rr->root = RB_ROOT;
	pp->priv = rr;
	return 0;
}

static void cport_rr_free(struct cport_policy_port *pp)
{
	kfree(pp->priv);
}

static bool cport_rr_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct cport_policy_waiter, rb)->seq <
	       rb_entry(b, struct cport_policy_waiter, rb)->seq;
}

static void cport_rr_add(struct cport_policy_port *pp,
			 struct cport_policy_waiter *w)
{
	struct cport_rr *rr = pp->priv;

	rb_add(&w->rb, &rr->root, cport_rr_less);
}

static void cport_rr_del(struct cport_policy_port *pp,
			 struct cport_policy_waiter *w)
{
	struct cport_rr *rr = pp->priv;

	rb_erase(&w->rb, &rr->root);
}

static void cport_rr_released(struct cport_policy_port *pp,
			      struct cport_policy_waiter *w)
{
	struct cport_rr *rr = pp->priv;

	rr->last = w->seq;
}

static struct cport_policy_waiter *
cport_rr_pick(struct cport_policy_port *pp, const struct cport_policy_ctx *ctx)
{
	struct cport_rr *rr = pp->priv;
	struct rb_node *n = rr->root.rb_node, *next = NULL;
	struct cport_policy_waiter *w;

	while (n) {
		w = rb_entry(n, struct cport_policy_waiter, rb);
		if (w->seq > rr->last) {
			next = n;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return rb_entry(next ?: rb_first(&rr->root),
			struct cport_policy_waiter, rb);
}

struct cport_policy_ops cport_policy_rr = {
	.version		= CPORT_POLICY_VERSION,
	.name			= "rr",
	.init			= cport_rr_init,
	.free			= cport_rr_free,
	.pick			= cport_rr_pick,
	.waiter_add		= cport_rr_add,
	.waiter_del		= cport_rr_del,
	.waiter_released	= cport_rr_released,
};
