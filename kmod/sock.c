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
 * the live ones plus a constant linger), every CPORT_GC_PERIOD, on
 * dissociate, and at destroy.
 *
 * While operations are pending, the socket's runner keeps one entry on
 * the socket's wait queue (poll.c).  See cport.h for the locking rules.
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

/*
 * ... and at the latest this long after they closed: an association holds
 * its struct sock, and with it the socket's network namespace.
 */
#define CPORT_GC_PERIOD		(5 * HZ)

static DEFINE_SPINLOCK(cport_sock_table_lock);
static DEFINE_HASHTABLE(cport_sock_table, 10);

static struct workqueue_struct *cport_wq;

/*
 * The association of @id (a struct sock, or a struct file with operations
 * pending, file.c), under RCU.  A file's association that has ended
 * (unlinked, on its way out of the table) is skipped: its file may be
 * gone, and a new file at the same address is another file.
 */
struct cport_sock *cport_sock_find_rcu(const void *id)
{
	struct cport_sock *s;

	hash_for_each_possible_rcu(cport_sock_table, s, hnode,
				   (unsigned long)id)
		if (s->id == id && (!s->is_file || !READ_ONCE(s->unlinked)))
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
	if (!s->is_file)
		sock_put(s->sk);
	kfree_rcu(s, rcu);
	cport_port_put(port);
}

bool cport_queue_work(struct work_struct *work)
{
	return queue_work(cport_wq, work);
}

static struct cport_sock *cport_sock_alloc(struct cport_port *port,
					   const void *id, struct sock *sk,
					   u64 key, bool inline_default)
{
	struct cport_sock *s;
	int nr_wq = sk ? 1 : CPORT_MAX_WQ;

	s = kzalloc(struct_size(s, wq, nr_wq), GFP_KERNEL_ACCOUNT);
	if (!s)
		return NULL;
	s->max_wq = nr_wq;
	refcount_set(&s->refs, 1);
	INIT_LIST_HEAD(&s->ready_link);
	spin_lock_init(&s->lock);
	INIT_LIST_HEAD(&s->rxq);
	INIT_LIST_HEAD(&s->txq);
	INIT_LIST_HEAD(&s->marked);
	cport_sock_wait_init(s);
	s->key = key;
	s->inline_default = inline_default;
	if (sk)
		sock_hold(sk);
	else
		s->is_file = true;
	s->id = id;
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
	/*
	 * Busy while operations are pending, or were finished by a cancel
	 * or timeout and wait for the runner to complete them.  (A runner
	 * at work drops the file and the wait-queue entry itself, linked
	 * or not.)
	 */
	if (!force && (s->nr_ops || !list_empty(&s->marked))) {
		spin_unlock_irq(&s->lock);
		return -EBUSY;
	}
	WRITE_ONCE(s->unlinked, true);
	spin_unlock_irq(&s->lock);

	spin_lock(&cport_sock_table_lock);
	hash_del_rcu(&s->hnode);
	spin_unlock(&cport_sock_table_lock);
	list_del(&s->port_link);
	hash_del(&s->key_node);
	port->nr_socks--;
	if (s->is_file)
		port->nr_file_socks--;
	cport_uncharge_assoc(port);
	cport_sock_put(s);
	return 0;
}

/* Reclaim the associations of sockets closed without operations. */
static void __cport_sock_gc(struct cport_port *port)
{
	struct cport_sock *s, *tmp;

	lockdep_assert_held(&port->socks_mutex);
	list_for_each_entry_safe(s, tmp, &port->socks, port_link) {
		/* A file's association ends with its operations (file.c). */
		if (!s->is_file && sock_flag(s->sk, SOCK_DEAD))
			__cport_sock_unlink(port, s, false);
		cond_resched();
	}
	port->gc_mark = port->nr_socks;
}

/*
 * The periodic reclaim, armed while the port has associations.  The one
 * kernel-thread work cport does besides teardown: one flag read per
 * association every CPORT_GC_PERIOD, touching no user memory.
 */
static void cport_socks_gc_work(struct work_struct *work)
{
	struct cport_port *port = container_of(to_delayed_work(work),
					       struct cport_port, gc_work);

	mutex_lock(&port->socks_mutex);
	if (!READ_ONCE(port->dead)) {
		__cport_sock_gc(port);
		if (port->nr_socks)
			queue_delayed_work(cport_wq, &port->gc_work,
					   CPORT_GC_PERIOD);
	}
	mutex_unlock(&port->socks_mutex);
}

void cport_socks_port_init(struct cport_port *port)
{
	INIT_DELAYED_WORK(&port->gc_work, cport_socks_gc_work);
}

/* -EEXIST or -EBUSY if @id is associated (with @port or another). */
static int cport_sock_taken(struct cport_port *port, const void *id)
{
	struct cport_sock *old;
	int ret = 0;

	rcu_read_lock();
	old = cport_sock_find_rcu(id);
	if (old)
		ret = READ_ONCE(old->port) == port ? -EEXIST : -EBUSY;
	rcu_read_unlock();
	return ret;
}

/*
 * Associate @id (@sk, or a file with @sk NULL) with @port under @key.
 * With @sp, the association is returned there with a reference.
 */
static int __cport_sock_associate(struct cport_port *port, const void *id,
				  struct sock *sk, u64 key,
				  bool inline_default, struct cport_sock **sp)
{
	struct cport_sock *s;
	int ret;

	mutex_lock(&port->socks_mutex);
	ret = -EIDRM;
	if (READ_ONCE(port->dead))
		goto out_unlock;
	ret = cport_sock_taken(port, id);
	if (ret)
		goto out_unlock;
	ret = cport_port_watch_mm(port);
	if (ret)
		goto out_unlock;
	ret = cport_charge_assoc(port);
	if (ret)
		goto out_unlock;
	ret = -ENOMEM;
	s = cport_sock_alloc(port, id, sk, key, inline_default);
	if (!s) {
		cport_uncharge_assoc(port);
		goto out_unlock;
	}
	if (port->nr_socks >= 2 * port->gc_mark + CPORT_GC_SLACK)
		__cport_sock_gc(port);
	/*
	 * Destroy sets dead, then takes socks_mutex, then cancels this: it
	 * sees it queued, or we see dead above.
	 */
	if (!delayed_work_pending(&port->gc_work))
		queue_delayed_work(cport_wq, &port->gc_work, CPORT_GC_PERIOD);

	spin_lock(&cport_sock_table_lock);
	/* Another port may have taken it since (this port cannot). */
	ret = cport_sock_taken(port, id);
	if (!ret) {
		hash_add_rcu(cport_sock_table, &s->hnode, (unsigned long)id);
		list_add_tail(&s->port_link, &port->socks);
		hash_add(port->key_hash, &s->key_node, key);
		port->nr_socks++;
		if (s->is_file)
			port->nr_file_socks++;
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
	if (sp) {
		refcount_inc(&s->refs);
		*sp = s;
	}
out_unlock:
	mutex_unlock(&port->socks_mutex);
	return ret;
}

int cport_sock_associate(struct cport_port *port, struct sock *sk, u64 key,
			 bool inline_default)
{
	return __cport_sock_associate(port, sk, sk, key, inline_default, NULL);
}

/*
 * A new association of file @id (file.c), with a reference: -EEXIST or
 * -EBUSY if another thread made one meanwhile.
 */
struct cport_sock *cport_sock_new(struct cport_port *port, const void *id,
				  struct sock *sk, u64 key,
				  bool inline_default)
{
	struct cport_sock *s;
	int ret;

	ret = __cport_sock_associate(port, id, sk, key, inline_default, &s);
	return ret ? ERR_PTR(ret) : s;
}

/*
 * Take @s (marked unlinked by its caller) out of the table and its port,
 * unless destroy or dissociate did it already.
 */
void cport_sock_unlink_idle(struct cport_sock *s)
{
	struct cport_port *port = s->port;

	mutex_lock(&port->socks_mutex);
	/* Linked: in the port's key index (hash_del() unhashes it). */
	if (!hlist_unhashed(&s->key_node))
		__cport_sock_unlink(port, s, true);
	mutex_unlock(&port->socks_mutex);
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
	cancel_delayed_work_sync(&port->gc_work);

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
	unsigned int socks, file_socks, ready;

	mutex_lock(&port->socks_mutex);
	socks = port->nr_socks;
	file_socks = port->nr_file_socks;
	mutex_unlock(&port->socks_mutex);
	spin_lock_irq(&port->lock);
	ready = port->nr_ready;
	spin_unlock_irq(&port->lock);

	seq_printf(m, "sockets:\t%u\n", socks);
	seq_printf(m, "file_associations:\t%u\n", file_socks);
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
