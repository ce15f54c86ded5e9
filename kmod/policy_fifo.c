// SPDX-License-Identifier: GPL-2.0
/*
 * FIFO: the oldest waiter, the one that has slept longest.  Every worker
 * gets a turn.  The tail of the core's list of waiters: O(1), no state.
 */
#include "cport.h"

static struct cport_policy_waiter *
cport_fifo_pick(struct cport_policy_port *pp, const struct cport_policy_ctx *ctx)
{
	return cport_policy_oldest(pp);
}

struct cport_policy_ops cport_policy_fifo = {
	.version	= CPORT_POLICY_VERSION,
	.name		= "fifo",
	.pick		= cport_fifo_pick,
};
