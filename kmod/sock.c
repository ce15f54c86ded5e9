// SPDX-License-Identifier: GPL-2.0
/*
 * Sockets associated with a port: the association table, the lifetime of
 * an association, and the hook on the socket's wait queue.
 *
 * A socket belongs to at most one port, found by its struct sock in one
 * global table.  The association holds the struct sock (so the pointer
 * cannot be reused while the association exists) but not the socket's
 * file: only pending operations pin the file (op.c), so an idle socket
 * closes at close() like any other, and the peer sees its FIN.  An
 * association whose socket has been closed is reclaimed when the port's
 * association count has doubled since the last reclaim (so at most twice
 * the live ones plus a constant linger), on dissociate, and at destroy.
 *
 * While operations are pending, the socket's runner keeps one entry on
 * the socket's wait queue (armed through vfs_poll(), the way eventpoll
 * does it).  Its callback only filters the mask and kicks the socket to
 * a runner (port.c hands it to a waiting thread, runner.c's fallback is
 * the last resort); it never touches user memory or sleeps.  See cport.h for
 * the locking rules.
 */
#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include <net/sock.h>

#include "compat.h"
#include "cport.h"

/* Reclaim closed sockets' associations past this many (and doubling). */
#define CPORT_GC_SLACK		32

static DEFINE_SPINLOCK(cport_sock_table_lock);
static DEFINE_HASHTABLE(cport_sock_table, 10);

static struct workqueue_struct *cport_wq;

static struct cport_sock *cport_sock_find_rcu(struct sock *sk)
{
	struct cport_sock *s;

	hash_for_each_possible_rcu(cport_sock_table, s, hnode,
				   (unsigned long)sk)
		if (s->sk == sk)
			return s;
	return NULL;
}

/* The association of @sk with @port, with a reference, or NULL. */
struct cport_sock *cport_sock_get(struct cport_port *port, struct sock *sk)
{
	struct cport_sock *s;

	rcu_read_lock();
	s = cport_sock_find_rcu(sk);
	if (s && (s->port != port || !refcount_inc_not_zero(&s->refs)))
		s = NULL;
	rcu_read_unlock();
	return s;
}

void cport_sock_put(struct cport_sock *s)
{
	struct cport_port *port = s->port;

	if (!refcount_dec_and_test(&s->refs))
		return;
	sock_put(s->sk);
	kfree_rcu(s, rcu);
	cport_port_put(port);
}

static int cport_sock_wake(struct wait_queue_entry *wait, unsigned int mode,
			   int sync, void *key)
{
	struct cport_sock *s = container_of(wait, struct cport_sock, wait);
	__poll_t mask = key_to_poll(key);
	bool rx, tx, kick = false;
	unsigned long flags;

	if (mask & POLLFREE) {
		/*
		 * The wait queue is going away (eventpoll's protocol; sockets
		 * do not do this, their queue lives as long as the file the
		 * pending operations pin).  Unhook so nobody removes the entry
		 * later; the runner arms again if operations remain.
		 */
		list_del_init(&wait->entry);
		/* Pairs with the acquire in cport_sock_run()'s disarm. */
		smp_store_release(&s->whead, NULL);
	}

	rx = !mask || (mask & (EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP |
			       EPOLLERR | POLLFREE));
	tx = !mask || (mask & (EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR |
			       POLLFREE));

	spin_lock_irqsave(&s->lock, flags);
	if ((rx && !list_empty(&s->rxq)) || (tx && !list_empty(&s->txq))) {
		if (s->running)
			s->rerun = true;
		else
			kick = true;
	}
	spin_unlock_irqrestore(&s->lock, flags);

	if (kick)
		cport_sock_kick(s);
	return 0;
}

/*
 * cport's workqueue: the port's teardown when its owner's mm goes, and
 * the fallback's bookkeeping (runner.c).  None of it touches user memory
 * or runs user I/O.  Module exit drains it.
 */
bool cport_queue_work(struct work_struct *work)
{
	return queue_work(cport_wq, work);
}

/*
 * @s has I/O to do (data, room, a connection, a cancel or a timeout):
 * queue it for a runner.  A waiting thread gets it if the concurrency
 * value allows; otherwise a running thread picks it up when it next
 * waits, or the fallback runs it (runner.c).  Any context; the caller
 * holds a reference to @s.
 */
void cport_sock_kick(struct cport_sock *s)
{
	struct cport_port *port = s->port;
	struct cport_wake_q q;
	unsigned long flags;

	flags = cport_lock(port, &q);
	if (!port->dead && !s->queued) {
		s->queued = true;
		refcount_inc(&s->refs);
		list_add_tail(&s->ready_link, &port->ready);
		WRITE_ONCE(port->nr_ready, port->nr_ready + 1);
		__cport_release(port);
		__cport_fallback_arm(port);
	}
	cport_unlock(port, &q, flags);
}

struct cport_poll_table {
	poll_table		pt;
	struct cport_sock	*s;
};

static void cport_sock_queue_proc(struct file *file, wait_queue_head_t *whead,
				  poll_table *pt)
{
	struct cport_sock *s = container_of(pt, struct cport_poll_table,
					    pt)->s;

	/* A socket has one wait queue. */
	if (s->whead)
		return;
	s->whead = whead;
	add_wait_queue(whead, &s->wait);
}

/*
 * Hook the socket's wait queue (the runner only, with s->file held, no
 * lock held).  Returns the socket's current poll mask.
 */
__poll_t cport_sock_arm(struct cport_sock *s)
{
	struct cport_poll_table cpt = { .s = s };

	init_poll_funcptr(&cpt.pt, cport_sock_queue_proc);
	return vfs_poll(s->file, &cpt.pt);
}

/* Unhook it (the runner only, before the file reference goes). */
void cport_sock_disarm(struct cport_sock *s, wait_queue_head_t *whead)
{
	if (whead)
		remove_wait_queue(whead, &s->wait);
}

static struct cport_sock *cport_sock_alloc(struct cport_port *port,
					   struct sock *sk, u64 key,
					   bool inline_default)
{
	struct cport_sock *s;

	s = kzalloc_obj(*s, GFP_KERNEL_ACCOUNT);
	if (!s)
		return NULL;
	refcount_set(&s->refs, 1);
	INIT_LIST_HEAD(&s->ready_link);
	spin_lock_init(&s->lock);
	INIT_LIST_HEAD(&s->rxq);
	INIT_LIST_HEAD(&s->txq);
	INIT_LIST_HEAD(&s->marked);
	init_waitqueue_func_entry(&s->wait, cport_sock_wake);
	s->key = key;
	s->inline_default = inline_default;
	sock_hold(sk);
	s->sk = sk;
	cport_port_get(port);
	s->port = port;
	return s;
}

/*
 * Unlink @s from the table and the port, unless operations are pending
 * (and @force is false).  The "linked" reference is dropped.
 */
static int __cport_sock_unlink(struct cport_port *port, struct cport_sock *s,
			       bool force)
{
	lockdep_assert_held(&port->socks_mutex);

	spin_lock_irq(&s->lock);
	if (s->nr_ops && !force) {
		spin_unlock_irq(&s->lock);
		return -EBUSY;
	}
	s->unlinked = true;
	spin_unlock_irq(&s->lock);

	spin_lock(&cport_sock_table_lock);
	hash_del_rcu(&s->hnode);
	spin_unlock(&cport_sock_table_lock);
	list_del(&s->port_link);
	hash_del(&s->key_node);
	port->nr_socks--;
	cport_uncharge_assoc(port);
	cport_sock_put(s);
	return 0;
}

/* Reclaim the associations of sockets closed without operations. */
static void __cport_sock_gc(struct cport_port *port)
{
	struct cport_sock *s, *tmp;

	lockdep_assert_held(&port->socks_mutex);
	list_for_each_entry_safe(s, tmp, &port->socks, port_link)
		if (sock_flag(s->sk, SOCK_DEAD))
			__cport_sock_unlink(port, s, false);
	port->gc_mark = port->nr_socks;
}

/* -EEXIST or -EBUSY if @sk is associated (with @port or another). */
static int cport_sock_taken(struct cport_port *port, struct sock *sk)
{
	struct cport_sock *old;
	int ret = 0;

	rcu_read_lock();
	old = cport_sock_find_rcu(sk);
	if (old)
		ret = READ_ONCE(old->port) == port ? -EEXIST : -EBUSY;
	rcu_read_unlock();
	return ret;
}

int cport_sock_associate(struct cport_port *port, struct sock *sk, u64 key,
			 bool inline_default)
{
	struct cport_sock *s;
	int ret;

	mutex_lock(&port->socks_mutex);
	ret = -EIDRM;
	if (READ_ONCE(port->dead))
		goto out_unlock;
	ret = cport_sock_taken(port, sk);
	if (ret)
		goto out_unlock;
	ret = cport_port_watch_mm(port);
	if (ret)
		goto out_unlock;
	ret = cport_charge_assoc(port);
	if (ret)
		goto out_unlock;
	ret = -ENOMEM;
	s = cport_sock_alloc(port, sk, key, inline_default);
	if (!s) {
		cport_uncharge_assoc(port);
		goto out_unlock;
	}
	if (port->nr_socks >= 2 * port->gc_mark + CPORT_GC_SLACK)
		__cport_sock_gc(port);

	spin_lock(&cport_sock_table_lock);
	/* Another port may have taken it since (this port cannot). */
	ret = cport_sock_taken(port, sk);
	if (!ret) {
		hash_add_rcu(cport_sock_table, &s->hnode, (unsigned long)sk);
		list_add_tail(&s->port_link, &port->socks);
		hash_add(port->key_hash, &s->key_node, key);
		port->nr_socks++;
	}
	spin_unlock(&cport_sock_table_lock);
	if (ret) {
		cport_uncharge_assoc(port);
		cport_sock_put(s);
		goto out_unlock;
	}
	spin_lock_irq(&port->lock);
	port->used = true;
	spin_unlock_irq(&port->lock);
out_unlock:
	mutex_unlock(&port->socks_mutex);
	return ret;
}

int cport_sock_dissociate(struct cport_port *port, struct sock *sk)
{
	struct cport_sock *s;
	int ret = -ENOENT;

	mutex_lock(&port->socks_mutex);
	if (READ_ONCE(port->dead)) {
		ret = -EIDRM;
		goto out;
	}
	rcu_read_lock();
	s = cport_sock_find_rcu(sk);
	/* This port's associations are only unlinked under socks_mutex. */
	if (s && s->port != port)
		s = NULL;
	rcu_read_unlock();
	if (s)
		ret = __cport_sock_unlink(port, s, false);
out:
	mutex_unlock(&port->socks_mutex);
	return ret;
}

/*
 * The port is destroyed: unlink every association and let its runner
 * complete (and discard) every pending operation, close what is pinned
 * and unhook the wait queue.  A socket being run by another thread right
 * now is finished by that thread, which sees the port dead; destroy waits
 * for it (after dropping socks_mutex, which an ACCEPT that associates
 * takes), so that when it returns no operation touches a buffer any more.
 */
void cport_socks_destroy(struct cport_port *port)
{
	struct cport_sock *s, *tmp;
	LIST_HEAD(busy);

	mutex_lock(&port->socks_mutex);
	list_for_each_entry_safe(s, tmp, &port->socks, port_link) {
		refcount_inc(&s->refs);
		__cport_sock_unlink(port, s, true);
		cport_sock_run(s, NULL, NULL);
		cond_resched();
		/* port_link is free now: keep the ones still being run. */
		list_add_tail(&s->port_link, &busy);
	}
	mutex_unlock(&port->socks_mutex);

	/*
	 * A runner is a thread of the owner, which a fatal signal ends (also
	 * in a page fault on a buffer a user keeps unresolved): wait
	 * killably, and leave the rest to the runners if we are killed.
	 */
	list_for_each_entry_safe(s, tmp, &busy, port_link) {
		list_del(&s->port_link);
		wait_var_event_killable(&s->running, !READ_ONCE(s->running));
		cport_sock_put(s);
	}
}

void cport_socks_show(struct cport_port *port, struct seq_file *m)
{
	struct cport_sock_stats *st = &port->sstats;
	unsigned int socks, ready;

	mutex_lock(&port->socks_mutex);
	socks = port->nr_socks;
	mutex_unlock(&port->socks_mutex);
	spin_lock_irq(&port->lock);
	ready = port->nr_ready;
	spin_unlock_irq(&port->lock);

	seq_printf(m, "sockets:\t%u\n", socks);
	seq_printf(m, "max_pending:\t%u\n", port->max_pending);
	seq_printf(m, "pending:\t%d\n", atomic_read(&port->nr_ops));
	seq_printf(m, "ready:\t%u\n", ready);
	seq_printf(m, "ops_submitted:\t%lld\n", atomic64_read(&st->submitted));
	seq_printf(m, "ops_inline:\t%lld\n", atomic64_read(&st->inlined));
	seq_printf(m, "ops_completed:\t%lld\n", atomic64_read(&st->completed));
	seq_printf(m, "ops_cancelled:\t%lld\n", atomic64_read(&st->cancelled));
	seq_printf(m, "ops_timedout:\t%lld\n", atomic64_read(&st->timedout));
	seq_printf(m, "runs_submit:\t%lld\n", atomic64_read(&st->runs_submit));
	seq_printf(m, "runs_waiter:\t%lld\n", atomic64_read(&st->runs_waiter));
	seq_printf(m, "runs_fallback:\t%lld\n",
		   atomic64_read(&st->runs_fallback));
	seq_printf(m, "fallback_kicks:\t%lld\n",
		   atomic64_read(&st->fallback_kicks));
	seq_printf(m, "files:\t%d\n", atomic_read(&port->nr_files));
	seq_printf(m, "user_units:\t%lu\n", cport_user_units(port));
}

int cport_socks_init(void)
{
	cport_wq = alloc_workqueue("cport", WQ_UNBOUND, 0);
	return cport_wq ? 0 : -ENOMEM;
}

void cport_socks_exit(void)
{
	/* Every port is gone; its last work items may still be finishing. */
	destroy_workqueue(cport_wq);
	rcu_barrier();
}
