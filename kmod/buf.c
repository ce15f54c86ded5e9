// SPDX-License-Identifier: GPL-2.0
/*
 * Buffer groups: buffers the application gives the port
 * (CPORT_OP_PROVIDE_BUFFERS) for RECVs that pick one only when data is
 * there (CPORT_RECV_BUFFER), io_uring's provided buffers.  A connection
 * that waits pins no buffer, and a multishot RECV (CPORT_RECV_MULTISHOT)
 * takes one per arrival for as long as it runs.
 *
 * A group is a stack of (address, length, id): the buffer provided last is
 * taken first, so a buffer the application hands back after use is the
 * next one filled, still in its caches.  The kernel keeps the addresses
 * only: the memory is the application's, written by the runner (a thread
 * of the owner, runner.c) with copy_to_user() like any RECV's buffer.
 *
 * port->buf_mutex serialises the providers, which alone allocate and grow
 * a group's array; port->buf_lock (a plain spinlock: process context only,
 * runners and providers) protects what the stacks hold.  A buffer taken by
 * a RECV is counted in ->out until it is filled (the completion hands it
 * to the application) or put back (nothing to receive), so that a
 * provider growing the array always leaves room for those coming back:
 * nr + out <= cap.
 */
#include <linux/errno.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "cport.h"

/* Buffers pushed per hold of port->buf_lock. */
#define CPORT_BUF_BATCH		256

struct cport_buf_slot {
	u64	addr;
	u32	len;
	u32	bid;
};

struct cport_bufgroup {
	struct cport_buf_slot	*slots;	/* the stack, top at [nr - 1] */
	u32			nr;	/* buf_lock: buffers on the stack */
	u32			out;	/* buf_lock: taken, not yet back or used */
	u32			cap;	/* buf_mutex (and buf_lock to change) */
	u32			units;	/* buf_mutex: charged (limits.c) */
};

void cport_bufs_init(struct cport_port *port)
{
	spin_lock_init(&port->buf_lock);
	mutex_init(&port->buf_mutex);
}

/* The port is freed: no runner or provider is left. */
void cport_bufs_free(struct cport_port *port)
{
	struct cport_bufgroup *g;
	int i;

	for (i = 0; i < CPORT_MAX_BUF_GROUPS; i++) {
		g = port->bufgroups[i];
		if (!g)
			continue;
		kvfree(g->slots);
		if (g->units)
			cport_uncharge_bytes(port, g->units);
		kfree(g);
	}
	mutex_destroy(&port->buf_mutex);
}

/*
 * Make room in @g for @more buffers besides those it holds and those out:
 * the array grows to a power of two, at most CPORT_MAX_BUFS.  Under
 * port->buf_mutex; -ENOSPC, -EDQUOT, -ENOMEM.
 */
static int cport_bufgroup_reserve(struct cport_port *port,
				  struct cport_bufgroup *g, u32 more)
{
	struct cport_buf_slot *slots, *old;
	u32 need, cap, units;
	int ret;

	lockdep_assert_held(&port->buf_mutex);
	spin_lock(&port->buf_lock);
	/* Runners only move buffers between nr and out, or use them up. */
	need = g->nr + g->out + more;
	spin_unlock(&port->buf_lock);
	if (need > CPORT_MAX_BUFS)
		return -ENOSPC;
	if (need <= g->cap)
		return 0;
	cap = max_t(u32, roundup_pow_of_two(need), 16);
	ret = cport_charge_bytes(port, (size_t)cap * sizeof(*slots), &units);
	if (ret)
		return ret;
	slots = kvmalloc_array(cap, sizeof(*slots), GFP_KERNEL_ACCOUNT);
	if (!slots) {
		cport_uncharge_bytes(port, units);
		return -ENOMEM;
	}
	spin_lock(&port->buf_lock);
	/* At most CPORT_MAX_BUFS slots: a bounded copy. */
	memcpy(slots, g->slots, g->nr * sizeof(*slots));
	old = g->slots;
	g->slots = slots;
	g->cap = cap;
	spin_unlock(&port->buf_lock);
	kvfree(old);
	if (g->units)
		cport_uncharge_bytes(port, g->units);
	g->units = units;
	return 0;
}

/*
 * CPORT_OP_PROVIDE_BUFFERS: fd buffers of len bytes each, back to back
 * from addr, with ids user_data, user_data + 1, ..., into group key.  The
 * fields were checked by opdef.c.
 */
int cport_op_provide(struct cport_port *port, const struct cport_sqe *sqe,
		     struct cport_sqe __user *usqe)
{
	u32 nr = sqe->fd, len = sqe->len, bid = sqe->user_data, i, n;
	struct cport_bufgroup *g, *new = NULL;
	u64 addr = sqe->addr;
	int ret;

	if (READ_ONCE(port->dead))
		return -EIDRM;
	if (!access_ok(u64_to_user_ptr(addr), (u64)nr * len))
		return -EFAULT;

	mutex_lock(&port->buf_mutex);
	/* Checked at submission (opdef.c), a call away: not speculated. */
	g = port->bufgroups[array_index_nospec(sqe->key,
					       CPORT_MAX_BUF_GROUPS)];
	if (!g) {
		ret = -ENOMEM;
		new = kzalloc_obj(*new, GFP_KERNEL_ACCOUNT);
		if (!new)
			goto out;
		g = new;
	}
	ret = cport_bufgroup_reserve(port, g, nr);
	if (ret)
		goto out;
	if (new) {
		spin_lock(&port->buf_lock);
		port->bufgroups[sqe->key] = new;
		spin_unlock(&port->buf_lock);
		new = NULL;
	}
	/*
	 * The lowest id on top: a range is taken in order.  A bounded number
	 * per hold of the lock, with a reschedule point in between.
	 */
	for (i = nr; i > 0; ) {
		spin_lock(&port->buf_lock);
		for (n = 0; n < CPORT_BUF_BATCH && i > 0; n++) {
			struct cport_buf_slot *slot = &g->slots[g->nr++];

			i--;
			slot->addr = addr + (u64)i * len;
			slot->len = len;
			slot->bid = bid + i;
		}
		spin_unlock(&port->buf_lock);
		cond_resched();
	}
	ret = 0;
out:
	mutex_unlock(&port->buf_mutex);
	kfree(new);
	return ret;
}

/*
 * Take the top buffer of group @group for a RECV: true and *@b, or false
 * if the group has none (or does not exist).  Any lock but port->buf_lock
 * may be held; process context.
 */
bool cport_buf_take(struct cport_port *port, u32 group, struct cport_buf *b)
{
	struct cport_bufgroup *g;
	struct cport_buf_slot *slot;
	bool ok = false;

	spin_lock(&port->buf_lock);
	g = port->bufgroups[array_index_nospec(group, CPORT_MAX_BUF_GROUPS)];
	if (g && g->nr) {
		slot = &g->slots[--g->nr];
		b->addr = slot->addr;
		b->len = slot->len;
		b->bid = slot->bid;
		g->out++;
		ok = true;
	}
	spin_unlock(&port->buf_lock);
	return ok;
}

/*
 * @b, taken from @group, was not used (no data, an error): back on top,
 * where it is taken next.
 */
void cport_buf_put_back(struct cport_port *port, u32 group,
			const struct cport_buf *b)
{
	struct cport_bufgroup *g;
	struct cport_buf_slot *slot;

	spin_lock(&port->buf_lock);
	g = port->bufgroups[group];
	/* Room: nr + out <= cap, and this one is out. */
	slot = &g->slots[g->nr++];
	slot->addr = b->addr;
	slot->len = b->len;
	slot->bid = b->bid;
	g->out--;
	spin_unlock(&port->buf_lock);
}

/* @b, taken from @group, holds data: it is the application's now. */
void cport_buf_used(struct cport_port *port, u32 group)
{
	spin_lock(&port->buf_lock);
	port->bufgroups[group]->out--;
	spin_unlock(&port->buf_lock);
}

/* fdinfo: the buffers each group holds now. */
void cport_bufs_show(struct cport_port *port, struct seq_file *m)
{
	struct cport_bufgroup *g;
	u32 nr, out;
	int i;

	for (i = 0; i < CPORT_MAX_BUF_GROUPS; i++) {
		spin_lock(&port->buf_lock);
		g = port->bufgroups[i];
		nr = g ? g->nr : 0;
		out = g ? g->out : 0;
		spin_unlock(&port->buf_lock);
		if (g)
			seq_printf(m, "buf_group:\t%d buffers %u taken %u\n",
				   i, nr, out);
	}
}
