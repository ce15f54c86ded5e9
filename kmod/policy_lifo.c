// SPDX-License-Identifier: GPL-2.0
/*
 * LIFO, the default and IOCP's rule: the most recent waiter.  The thread
 * that just finished is cache-warm and its stack resident; under light
 * load the others stay asleep.  The core keeps the waiters newest first,
 * so this is the head of that list: no state, no hooks, O(1).
 */
#include "cport.h"

static struct cport_policy_waiter *
cport_lifo_pick(struct cport_policy_port *pp, const struct cport_policy_ctx *ctx)
{
	return cport_policy_newest(pp);
}

struct cport_policy_ops cport_policy_lifo = {
	.version	= CPORT_POLICY_VERSION,
	.name		= "lifo",
	.pick		= cport_lifo_pick,
};
