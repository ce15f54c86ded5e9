// SPDX-License-Identifier: GPL-2.0
/*
 * The port: its completion queue, the release policy that picks which
 * waiter a completion goes to, the concurrency value, destroy and poll.
 *
 * Completions are queued first-in first-out.  A completion is handed to a
 * sleeping waiter only while the port's running count is below its
 * concurrency value; otherwise it stays queued until a running thread
 * waits again, or blocks elsewhere (thread.c).  See cport.h for the
 * locking rules.
 */
#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/file.h>
#include <linux/mmu_notifier.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>

#include "compat.h"
#include "cport.h"
#include "trace.h"

static struct kmem_cache *cport_node_cache;
static atomic_t cport_next_id = ATOMIC_INIT(0);

int cport_node_cache_init(void)
{
	cport_node_cache = KMEM_CACHE(cport_node, SLAB_ACCOUNT);
	return cport_node_cache ? 0 : -ENOMEM;
}

void cport_node_cache_exit(void)
{
	kmem_cache_destroy(cport_node_cache);
}

struct cport_node *cport_node_alloc(void)
{
	struct cport_node *node;

	node = kmem_cache_alloc(cport_node_cache, GFP_KERNEL_ACCOUNT);
	if (node) {
		node->file = NULL;
		node->scm = NULL;
		node->charged = false;
		node->file_charged = false;
		node->ring_credit = false;
	}
	return node;
}

/*
 * Free a completion that was delivered or discarded, with what it holds:
 * an undelivered accepted connection is closed, and its operation's
 * charges (limits.c) are dropped.  Any context.
 */
/*
 * A node that must not fail: for a result already charged that can no
 * longer be returned any other way (op.c).  Process context.
 */
struct cport_node *cport_node_alloc_nofail(void)
{
	struct cport_node *node;

	node = kmem_cache_alloc(cport_node_cache,
				GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	node->file = NULL;
	node->scm = NULL;
	node->charged = false;
	node->file_charged = false;
	node->ring_credit = false;
	return node;
}

void cport_node_free(struct cport_port *port, struct cport_node *node)
{
	if (node->file)
		fput(node->file);
	if (node->file_charged)
		cport_uncharge_file(port);
	/* Descriptors received and never delivered are closed. */
	if (node->scm)
		cport_scm_free(port, node->scm);
	if (node->charged)
		cport_uncharge_units(port, 1);
	if (node->ring_credit)
		atomic_dec(&port->ring_back);
	kmem_cache_free(cport_node_cache, node);
}

/* Process context, no lock held: the list may be as long as the queue. */
static void cport_free_list(struct cport_port *port, struct list_head *list)
{
	struct cport_node *node, *tmp;

	list_for_each_entry_safe(node, tmp, list, list) {
		cport_node_free(port, node);
		cond_resched();
	}
}

/* The same for delayed POSTs taken off the port (@root is private). */
static void cport_free_timed(struct cport_port *port,
			     struct rb_root_cached *root)
{
	struct cport_node *node, *tmp;

	rbtree_postorder_for_each_entry_safe(node, tmp, &root->rb_root,
					     tq.node) {
		cport_node_free(port, node);
		cond_resched();
	}
}

static void cport_release_irq(struct irq_work *work);
static enum hrtimer_restart cport_timed_fire(struct hrtimer *timer);
static void cport_port_exit_work(struct work_struct *work);

struct cport_port *cport_port_alloc(void)
{
	struct cport_port *port;
	int i;

	/* A port moves the memory of its owner: a kernel thread has none. */
	if (!current->mm || (current->flags & PF_KTHREAD))
		return ERR_PTR(-EPERM);
	port = kzalloc_obj(*port, GFP_KERNEL_ACCOUNT);
	if (!port)
		return ERR_PTR(-ENOMEM);
	port->user = cport_user_get();
	if (!port->user) {
		kfree(port);
		return ERR_PTR(-ENOMEM);
	}

	spin_lock_init(&port->lock);
	INIT_LIST_HEAD(&port->queue);
	INIT_LIST_HEAD(&port->waiters);
	raw_spin_lock_init(&port->run_lock);
	port->concurrency = num_online_cpus();
	port->policy = CPORT_POLICY_LIFO;
	port->pol.ops = &cport_policy_lifo;
	port->pol.waiters = &port->waiters;
	port->max_queued = CPORT_DEFAULT_QUEUED;
	port->track_blocking = true;
	port->id = atomic_inc_return(&cport_next_id);
	kref_init(&port->ref);
	init_irq_work(&port->release_work, cport_release_irq);
	init_waitqueue_head(&port->poll_wq);
	port->mm = current->mm;
	mmgrab(port->mm);
	INIT_LIST_HEAD(&port->ready);
	mutex_init(&port->socks_mutex);
	INIT_LIST_HEAD(&port->socks);
	hash_init(port->key_hash);
	mutex_init(&port->cancel_lock);
	for (i = 0; i < ARRAY_SIZE(port->cancel_hash); i++)
		INIT_HLIST_HEAD(&port->cancel_hash[i]);
	atomic_set(&port->nr_ops, 0);
	atomic_set(&port->ring_back, 0);
	atomic_set(&port->nr_files, 0);
	port->max_pending = CPORT_DEFAULT_PENDING;
	timerqueue_init_head(&port->timed);
	INIT_WORK(&port->exit_work, cport_port_exit_work);
	hrtimer_setup(&port->timed_timer, cport_timed_fire, CLOCK_MONOTONIC,
		      HRTIMER_MODE_ABS_PINNED_SOFT);
	cport_fallback_init(port);
	cport_socks_port_init(port);
	cport_bufs_init(port);
	return port;
}

void cport_port_get(struct cport_port *port)
{
	kref_get(&port->ref);
}

/*
 * The owner's address space is gone: no thread can use the port any more
 * (every other process gets -EPERM) and no operation can move data.  Tear
 * it down now rather than at the last close: a pending operation pins its
 * socket's file, and if the port's own descriptor sits in flight in such
 * a socket (SCM_RIGHTS), that last close would never come.
 */
static void cport_port_exit_work(struct work_struct *work)
{
	struct cport_port *port = container_of(work, struct cport_port,
					       exit_work);

	cport_port_destroy(port);
	cport_port_put(port);
}

static void cport_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct cport_port *port = container_of(mn, struct cport_port, mn);

	/* Also called by mmu_notifier_unregister() from cport_port_free(). */
	if (kref_get_unless_zero(&port->ref) &&
	    !cport_queue_work(&port->exit_work))
		cport_port_put(port);
}

static const struct mmu_notifier_ops cport_mn_ops = {
	.release	= cport_mm_release,
};

/* Watch the owner's exit (sock.c, at the first association). */
int cport_port_watch_mm(struct cport_port *port)
{
	int ret;

	lockdep_assert_held(&port->socks_mutex);
	if (port->mn_registered)
		return 0;
	port->mn.ops = &cport_mn_ops;
	ret = mmu_notifier_register(&port->mn, port->mm);
	if (!ret)
		port->mn_registered = true;
	return ret;
}

/* The file is gone and no thread is associated: nobody can be waiting. */
static void cport_port_free(struct kref *ref)
{
	struct cport_port *port = container_of(ref, struct cport_port, ref);

	irq_work_sync(&port->release_work);
	hrtimer_cancel(&port->timed_timer);
	cport_fallback_exit(port);
	if (port->mn_registered)
		mmu_notifier_unregister(&port->mn, port->mm);
	/* Destroy emptied both; a port that never had a file may not. */
	cport_free_list(port, &port->queue);
	cport_free_timed(port, &port->timed.rb_root);
	mmdrop(port->mm);
	mutex_destroy(&port->socks_mutex);
	mutex_destroy(&port->cancel_lock);
	cport_bufs_free(port);
	cport_ring_free(port, port->ring);
	cport_user_put(port->user);
	if (port->pol.ops->free)
		port->pol.ops->free(&port->pol);
	cport_policy_put(port->pol.ops);
	kfree(port);
}

void cport_port_put(struct cport_port *port)
{
	kref_put(&port->ref, cport_port_free);
}

/*
 * Set @port up.  The policy (by name or number, checked by the caller) is
 * looked up and its per-port state made first: -ENOENT, or its ->init's
 * errno, come before the port's own state (-EIDRM, -EBUSY).
 */
int cport_port_setup(struct cport_port *port, const struct cport_setup *s)
{
	struct cport_policy_port pol = { .waiters = &port->waiters };
	struct cport_ring_k *ring = NULL;
	int ret = 0;

	pol.ops = cport_policy_get(s->policy_name, s->policy);
	if (IS_ERR(pol.ops))
		return PTR_ERR(pol.ops);
	if (pol.ops->init) {
		ret = pol.ops->init(&pol);
		if (ret) {
			cport_policy_put(pol.ops);
			return ret;
		}
	}
	if (s->ring_entries) {
		ring = cport_ring_alloc(port, s->ring_entries);
		if (IS_ERR(ring)) {
			if (pol.ops->free)
				pol.ops->free(&pol);
			cport_policy_put(pol.ops);
			return PTR_ERR(ring);
		}
	}

	spin_lock_irq(&port->lock);
	if (port->dead) {
		ret = -EIDRM;
	} else if (port->used) {
		ret = -EBUSY;
	} else {
		port->used = true;
		WRITE_ONCE(port->track_blocking,
			   !(s->flags & CPORT_SETUP_NO_BLOCK_TRACKING));
		port->eager_release = !!(s->flags & CPORT_SETUP_EAGER_RELEASE);
		port->concurrency = s->concurrency ?: num_online_cpus();
		port->policy = cport_policy_number(pol.ops);
		/*
		 * No waiter can exist yet (the port was not used), but a
		 * thread may have joined: its notifiers read the policy
		 * under run_lock.  The default one (LIFO) has no state.
		 */
		raw_spin_lock(&port->run_lock);
		swap(port->pol, pol);
		raw_spin_unlock(&port->run_lock);
		port->max_queued = s->max_queued ?: CPORT_DEFAULT_QUEUED;
		port->max_pending = s->max_pending ?: CPORT_DEFAULT_PENDING;
		/* Pairs with mmap(): the ring is whole once seen. */
		smp_store_release(&port->ring, ring);
		ring = NULL;
	}
	spin_unlock_irq(&port->lock);
	cport_ring_free(port, ring);
	/* The policy not used: the new one if refused, else the default. */
	if (pol.ops->free)
		pol.ops->free(&pol);
	cport_policy_put(pol.ops);
	return ret;
}

void cport_port_info(struct cport_port *port, struct cport_info *info)
{
	memset(info, 0, sizeof(*info));
	info->api_version = CPORT_API_VERSION;
	info->features = CPORT_FEAT_HANDOFF | CPORT_FEAT_CONCURRENCY |
			 CPORT_FEAT_POLL | CPORT_FEAT_BLOCK_TRACKING |
			 CPORT_FEAT_SOCKETS | CPORT_FEAT_RING;
	cport_opdefs_info(&info->ops, &info->sqe_flags);
	info->setup_flags = CPORT_SETUP_NO_BLOCK_TRACKING |
			    CPORT_SETUP_EAGER_RELEASE;
	info->enter_flags = CPORT_ENTER_ABSTIME;
	info->policies = GENMASK(CPORT_POLICY__NR - 1, 0);
	info->max_enter = CPORT_MAX_ENTER;
	cport_policy_list(info);

	spin_lock_irq(&port->lock);
	info->concurrency = port->concurrency;
	info->policy = port->policy;
	strscpy_pad(info->policy_name, port->pol.ops->name,
		    sizeof(info->policy_name));
	info->max_queued = port->max_queued;
	info->max_pending = port->max_pending;
	info->ring_entries = cport_ring_entries(port->ring);
	if (port->track_blocking)
		info->port_flags |= CPORT_INFO_BLOCK_TRACKING;
	if (port->eager_release)
		info->port_flags |= CPORT_INFO_EAGER_RELEASE;
	spin_unlock_irq(&port->lock);
}

/*
 * The waiters, newest first on port->waiters, and in whatever index the
 * port's policy keeps (cport_policy.h): its hooks are told of each
 * arrival and leave.  Under port->lock, with interrupts off.
 */
void __cport_waiter_add(struct cport_port *port, struct cport_waiter *w)
{
	const struct cport_policy_ops *ops = port->pol.ops;

	lockdep_assert_held(&port->lock);
	w->pw.port = port;
	w->pw.cpu = raw_smp_processor_id();
	w->pw.seq = w->thread->seq;
	w->pw.sleep_ns = ktime_get_mono_fast_ns();
	list_add(&w->pw.link, &port->waiters);
	if (ops->waiter_add)
		ops->waiter_add(&port->pol, &w->pw);
	WRITE_ONCE(port->nr_waiters, port->nr_waiters + 1);
}

void __cport_waiter_del(struct cport_port *port, struct cport_waiter *w)
{
	const struct cport_policy_ops *ops = port->pol.ops;

	lockdep_assert_held(&port->lock);
	list_del_init(&w->pw.link);
	if (ops->waiter_del)
		ops->waiter_del(&port->pol, &w->pw);
	w->pw.port = NULL;
	WRITE_ONCE(port->nr_waiters, port->nr_waiters - 1);
}

/*
 * A bad pick, reported once.  Not under port->run_lock: the scheduler's
 * locks nest outside it, and the console's wakeups take them.
 */
static void cport_policy_bad(struct cport_port *port, const char *what)
{
	pr_warn_once("cport: policy \"%s\" picked %s; the most recent waiter is released instead\n",
		     port->pol.ops->name, what);
}

/*
 * Which waiter the next completion (or socket) goes to: the policy's
 * pick, checked.  A pick that is not a waiter asleep on this port (a
 * waiter that left, one of another port, NULL) is a bug of the policy:
 * the most recent waiter is taken instead, so the port keeps its
 * guarantees whatever the policy does, and *@bad says what was wrong,
 * for the caller to report with cport_policy_bad().  Waiters exist.
 */
static struct cport_waiter *
__cport_pick_waiter(struct cport_port *port, bool serve, const char **bad)
{
	const struct cport_policy_ops *ops = port->pol.ops;
	struct cport_policy_ctx ctx = {
		.cpu = raw_smp_processor_id(),
		/* Under run_lock when releasing; a hint when serving. */
		.running = data_race(port->running),
		.concurrency = port->concurrency,
		.nr_waiters = port->nr_waiters,
		.serve = serve,
	};
	struct cport_policy_waiter *pw;

	lockdep_assert_held(&port->lock);
	pw = ops->pick(&port->pol, &ctx);
	if (unlikely(!pw || pw->port != port)) {
		*bad = pw ? "a waiter not asleep on the port" : "no waiter";
		pw = cport_policy_newest(&port->pol);
	}
	return container_of(pw, struct cport_waiter, pw);
}

/*
 * Wake @w, which was handed a completion or a socket to run.  The waiter
 * already counts as running (the caller took the slot), so that a second
 * completion posted before the waiter gets to run sees the slot as taken.
 */
static void __cport_wake_waiter(struct cport_port *port,
				struct cport_waiter *w, u64 user_data)
{
	struct task_struct *task = w->task;
	struct cport_wake_q *q = port->wake_q;

	lockdep_assert_held(&port->lock);
	__cport_waiter_del(port, w);
	port->stats.handoffs++;
	trace_cport_handoff(port->id, task->pid, user_data);
	/*
	 * Once done is set the waiter may return and its frame go: w is
	 * not touched after.  Woken after the unlock, the task is held.
	 */
	if (q && q->n < CPORT_WAKE_Q_SIZE) {
		get_task_struct(task);
		q->tasks[q->n++] = task;
		/* Pairs with cport_sleep(): the waiter sees its lists. */
		smp_store_release(&w->woken, true);
		return;
	}
	/* Pairs with cport_sleep(): the waiter sees its lists. */
	smp_store_release(&w->woken, true);
	wake_up_process(task);
}

/* Destroy: @w returns -EIDRM, woken by cport_unlock(). */
static void __cport_wake_dead(struct cport_port *port, struct cport_waiter *w)
{
	struct cport_wake_q *q = port->wake_q;

	lockdep_assert_held(&port->lock);
	__cport_waiter_del(port, w);
	get_task_struct(w->task);
	q->tasks[q->n++] = w->task;
	/* Pairs with cport_sleep(); w is not touched after. */
	smp_store_release(&w->woken, true);
}

/*
 * Wake what cport_lock()'s holder released.  A task woken late may have
 * returned already, or be in another wait: a wakeup it does not need is
 * harmless (cport_sleep() looks at its own state again).
 */
void cport_wake_q_flush(struct cport_wake_q *q)
{
	unsigned int i;

	for (i = 0; i < q->n; i++) {
		wake_up_process(q->tasks[i]);
		put_task_struct(q->tasks[i]);
	}
	q->n = 0;
}

/* Take the first socket waiting for a runner; the caller owns its ref. */
struct cport_sock *__cport_ready_pop(struct cport_port *port)
{
	struct cport_sock *s;

	lockdep_assert_held(&port->lock);
	s = list_first_entry_or_null(&port->ready, struct cport_sock,
				     ready_link);
	if (s) {
		list_del_init(&s->ready_link);
		s->queued = false;
		WRITE_ONCE(port->nr_ready, port->nr_ready - 1);
	}
	return s;
}

struct cport_sock *cport_ready_pop(struct cport_port *port)
{
	struct cport_sock *s = NULL;

	spin_lock_irq(&port->lock);
	if (!port->dead)
		s = __cport_ready_pop(port);
	spin_unlock_irq(&port->lock);
	return s;
}

/*
 * Handoffs per hold of port->lock: as many as cport_unlock() wakes once
 * the lock is dropped.  A holder without a wake queue (spin_lock_irq())
 * wakes under the lock, at most this many per call.  What is left goes
 * to the release irq_work, which takes the lock again with interrupts on
 * in between: one hold's work is bounded by a constant, not by the
 * concurrency value (up to CPORT_MAX_CONCURRENCY threads released).
 */
#define CPORT_RELEASE_BATCH	CPORT_WAKE_Q_SIZE

/*
 * Would a second running thread only take a busy CPU from someone?  The
 * running count is taken to stand for as many busy CPUs (a counted thread
 * that is preempted, or handed work and not yet running, still wants
 * one; threads stacked on one CPU make this an overestimate); the
 * caller's own CPU is busy too unless it is idle (a completion posted
 * from an interrupt of the idle task) or runs a counted thread of the
 * port.  When that covers every online CPU, a waiter released now could
 * only preempt a task, the producer often, and a running thread of the
 * port will take the work when it next waits: the release waits for
 * that, for a thread to block or a CPU to go idle (thread.c), or for the
 * grace timer (runner.c), as it would at the concurrency value.  The
 * first thread is always released, and a port set up with
 * CPORT_SETUP_EAGER_RELEASE, or without block tracking (a blocked thread
 * would look busy), keeps Windows' rule.
 */
static bool __cport_cpus_busy(struct cport_port *port)
{
	unsigned int busy = port->running, cpus = num_online_cpus();

	lockdep_assert_held(&port->lock);
	lockdep_assert_held(&port->run_lock);
	if (!busy || port->eager_release || port->hold_off ||
	    !READ_ONCE(port->track_blocking) || busy + 1 < cpus)
		return false;
	if (!is_idle_task(current) && !__cport_thread_current_runs(port))
		busy++;
	return busy >= cpus;
}

/*
 * Give queued completions, and sockets that have I/O to do, to sleeping
 * waiters, one each, while the concurrency value allows.  A waiter handed
 * a socket moves its data in its own context (op.c) and returns what
 * completes (what its wait cannot return, it queues and releases for
 * when its runs end).  Called whenever a completion or socket is queued
 * or the running count drops.  Returns how many waiters were released.
 */
unsigned int __cport_release(struct cport_port *port)
{
	struct cport_node *node = NULL;
	struct cport_sock *s = NULL;
	struct cport_waiter *w;
	struct cport_cqe cqe;
	const char *bad = NULL;
	unsigned int n = 0;
	bool rcqe;

	lockdep_assert_held(&port->lock);
	/* Destroy wakes the waiters (with nothing) and discards the rest. */
	if (port->dead)
		return 0;
	while (!list_empty(&port->waiters)) {
		if (!__cport_has_work(port))
			break;
		raw_spin_lock(&port->run_lock);
		if (port->running >= port->concurrency) {
			raw_spin_unlock(&port->run_lock);
			break;
		}
		if (__cport_cpus_busy(port)) {
			raw_spin_unlock(&port->run_lock);
			port->stats.busy_holds++;
			__cport_grace_arm(port);
			break;
		}
		/* This hold has woken its share: the irq_work goes on. */
		if (port->wake_q ? port->wake_q->n >= CPORT_RELEASE_BATCH :
		    n >= CPORT_RELEASE_BATCH) {
			raw_spin_unlock(&port->run_lock);
			port->release_more = true;
			irq_work_queue(&port->release_work);
			break;
		}
		/*
		 * What to hand: a socket to run, else the oldest completion:
		 * the ring's (older than the queue's), else the queue's.
		 */
		s = list_first_entry_or_null(&port->ready, struct cport_sock,
					     ready_link);
		rcqe = !s && port->ring && __cport_ring_pop(port, &cqe);
		if (!s && !rcqe) {
			node = list_first_entry_or_null(&port->queue,
							struct cport_node,
							list);
			if (!node) {
				raw_spin_unlock(&port->run_lock);
				break;
			}
		}
		w = __cport_pick_waiter(port, false, &bad);
		/* Its turn is used now (a waiter woken to serve keeps it). */
		if (port->pol.ops->waiter_released)
			port->pol.ops->waiter_released(&port->pol, &w->pw);
		__cport_thread_start(port, w->thread);
		raw_spin_unlock(&port->run_lock);
		if (unlikely(bad))
			cport_policy_bad(port, bad);

		if (s) {
			/* Still "queued" until the waiter takes it off w->runs. */
			list_move_tail(&s->ready_link, &w->runs);
			WRITE_ONCE(port->nr_ready, port->nr_ready - 1);
			__cport_wake_waiter(port, w, 0);
		} else if (rcqe) {
			w->rcqe = cqe;
			w->has_rcqe = true;
			__cport_wake_waiter(port, w, cqe.user_data);
		} else {
			list_move_tail(&node->list, &w->handed);
			WRITE_ONCE(port->nr_queued, port->nr_queued - 1);
			__cport_wake_waiter(port, w, node->cqe.user_data);
		}
		__cport_took(port);
		n++;
	}
	return n;
}

/*
 * The fallback's first choice (runner.c): sockets are ready, nobody can
 * be released for them (the port is at its concurrency value), and
 * threads wait.  Wake one of them to serve: it moves the data of the
 * first socket, and of more of them up to CPORT_RUN_BATCH, in its own
 * context, posts what completes, and waits again, without counting as
 * running and without returning to user space.  Returns whether a waiter
 * was woken.
 */
bool __cport_serve(struct cport_port *port)
{
	struct cport_waiter *w;
	struct cport_sock *s;
	const char *bad = NULL;

	lockdep_assert_held(&port->lock);
	if (list_empty(&port->waiters) || list_empty(&port->ready))
		return false;
	w = __cport_pick_waiter(port, true, &bad);
	if (unlikely(bad))
		cport_policy_bad(port, bad);
	s = list_first_entry(&port->ready, struct cport_sock, ready_link);
	/* Still "queued" until the waiter takes it off w->runs. */
	list_move_tail(&s->ready_link, &w->runs);
	WRITE_ONCE(port->nr_ready, port->nr_ready - 1);
	w->serve = true;
	__cport_wake_waiter(port, w, 0);
	return true;
}

static void __cport_ring_fill(struct cport_port *port);

/*
 * A running thread blocked elsewhere (thread.c), or a hold of the lock
 * left handoffs to do (__cport_release()): release waiters.  When both
 * asked, what is released counts as deferred.
 */
static void cport_release_irq(struct irq_work *work)
{
	struct cport_port *port = container_of(work, struct cport_port,
					       release_work);
	struct cport_wake_q q;
	unsigned long flags;
	bool more, blocked;
	unsigned int n;

	flags = cport_lock(port, &q);
	more = port->release_more;
	port->release_more = false;
	raw_spin_lock(&port->run_lock);
	blocked = port->release_blocked;
	port->release_blocked = false;
	raw_spin_unlock(&port->run_lock);
	n = __cport_release(port);
	if (more)
		port->stats.deferred_releases += n;
	else if (blocked)
		port->stats.blocked_releases += n;
	/* The last of a chain: an eager one ends, the ring gets the rest. */
	if (!port->release_more) {
		port->hold_off = false;
		if (more && port->ring)
			__cport_ring_fill(port);
	}
	cport_unlock(port, &q, flags);
}

void cport_wake_pollers(struct cport_port *port, __poll_t mask)
{
	if (wq_has_sleeper(&port->poll_wq))
		wake_up_poll(&port->poll_wq, mask);
}

/*
 * Completions moved from the head of the queue to the ring per post: the
 * one just queued, and a few that waited for room, with interrupts off.
 */
#define CPORT_RING_FILL		4

/*
 * What no waiter took goes to the ring, oldest first, while it has room
 * (uapi/linux/cport.h): every entry of the ring is older than everything
 * on the queue.  A completion that carries a descriptor stops the move:
 * the thread that dequeues it must install it.
 */
static void __cport_ring_fill(struct cport_port *port)
{
	struct cport_node *node;
	unsigned int n;

	for (n = 0; n < CPORT_RING_FILL; n++) {
		node = list_first_entry_or_null(&port->queue,
						struct cport_node, list);
		if (!node || node->file || node->scm ||
		    !__cport_ring_push(port, &node->cqe))
			break;
		list_del(&node->list);
		/*
		 * After the ring's tail: a lockless reader that sees the
		 * queue shorter sees the ring longer (cport_has_queued()).
		 */
		smp_store_release(&port->nr_queued, port->nr_queued - 1);
		port->stats.ring_posts++;
		/* Its unit goes: the ring's memory holds it now. */
		cport_node_free(port, node);
	}
}

/*
 * Completions were queued: hand them to waiters, and what none can take
 * to the ring.  Not while the release irq_work has waiters to hand
 * completions to: the ring is for what no sleeping waiter can take at
 * once.
 */
void __cport_queued(struct cport_port *port)
{
	lockdep_assert_held(&port->lock);
	__cport_release(port);
	if (port->ring && !port->release_more)
		__cport_ring_fill(port);
}

static void __cport_add_node(struct cport_port *port, struct cport_node *node)
{
	lockdep_assert_held(&port->lock);
	port->stats.posts++;
	trace_cport_post(port->id, node->cqe.key, node->cqe.user_data);
	list_add_tail(&node->list, &port->queue);
	WRITE_ONCE(port->nr_queued, port->nr_queued + 1);
}

static void __cport_queue_node(struct cport_port *port, struct cport_node *node)
{
	__cport_add_node(port, node);
	__cport_queued(port);
}

/*
 * Delayed POSTs whose time has come are queued (softirq), at most
 * CPORT_TIMED_BATCH per run with interrupts off: if more are due, the
 * timer fires again right after, with interrupts on in between.
 */
#define CPORT_TIMED_BATCH	64

static enum hrtimer_restart cport_timed_fire(struct hrtimer *timer)
{
	struct cport_port *port = container_of(timer, struct cport_port,
					       timed_timer);
	enum hrtimer_restart restart = HRTIMER_NORESTART;
	ktime_t now = ktime_get(), next = 0;
	struct timerqueue_node *tq;
	struct cport_node *node;
	struct cport_wake_q q;
	unsigned long flags;
	unsigned int n = 0;
	bool wake_pollers;

	flags = cport_lock(port, &q);
	while ((tq = timerqueue_getnext(&port->timed))) {
		if (ktime_compare(tq->expires, now) > 0) {
			next = tq->expires;
			break;
		}
		if (n == CPORT_TIMED_BATCH) {
			next = ktime_add_us(now, 10);
			break;
		}
		timerqueue_del(&port->timed, tq);
		port->nr_timed--;
		node = container_of(tq, struct cport_node, tq);
		/*
		 * Its unit stays with it until it is dequeued (or moved to
		 * the ring), as an operation's completion's does: queued
		 * uncharged, it would escape both max_queued and
		 * max_pending, and delayed POSTs could grow the queue
		 * without bound.
		 */
		node->charged = true;
		__cport_queue_node(port, node);
		n++;
	}
	/* A POST that became first meanwhile restarted the timer itself. */
	if (next && !port->dead && !hrtimer_is_queued(timer)) {
		hrtimer_set_expires(timer, next);
		restart = HRTIMER_RESTART;
	}
	wake_pollers = n && cport_has_queued(port);
	cport_unlock(port, &q, flags);

	/* Safe: destroy and free wait for this callback to finish. */
	if (wake_pollers)
		cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
	return restart;
}

/*
 * Keep @node on port->timed until it is due: O(log n), however many are
 * queued (a user chooses how many).
 */
static int __cport_post_delayed(struct cport_port *port,
				struct cport_node *node, u64 delay_ns)
{
	int ret;

	lockdep_assert_held(&port->lock);
	ret = cport_charge_units(port, 1);
	if (ret)
		return ret;
	timerqueue_init(&node->tq);
	node->tq.expires = ktime_add_safe(ktime_get(),
					  ns_to_ktime(min_t(u64, delay_ns,
							    KTIME_MAX)));
	port->nr_timed++;
	if (timerqueue_add(&port->timed, &node->tq))
		hrtimer_start(&port->timed_timer, node->tq.expires,
			      HRTIMER_MODE_ABS_PINNED_SOFT);
	return 0;
}

/*
 * Queue a copy of @cqe, or hand it straight to a waiter; with @delay_ns,
 * queue it that much later (it counts as pending meanwhile).
 */
int cport_port_post(struct cport_port *port, const struct cport_cqe *cqe,
		    u64 delay_ns)
{
	struct cport_wake_q q;
	struct cport_node *node;
	unsigned long flags;
	bool wake_pollers = false;
	int ret = 0;

	node = cport_node_alloc();
	if (!node)
		return -ENOMEM;
	node->cqe = *cqe;

	flags = cport_lock(port, &q);
	if (port->dead) {
		ret = -EIDRM;
	} else if (delay_ns) {
		ret = __cport_post_delayed(port, node, delay_ns);
		if (!ret)
			port->used = true;
	} else if (port->nr_queued >= port->max_queued) {
		ret = -ENOSPC;
	} else {
		port->used = true;
		__cport_queue_node(port, node);
		wake_pollers = cport_has_queued(port);
	}
	cport_unlock(port, &q, flags);

	if (ret)
		cport_node_free(port, node);
	else if (wake_pollers)
		cport_wake_pollers(port, EPOLLIN | EPOLLRDNORM);
	return ret;
}

/*
 * Queue the completion of a socket operation, or hand it to a waiter.
 * Never fails: its operation was charged a unit at submission, which the
 * completion holds until it is dequeued (or moved to the completion
 * ring: __cport_ring_fill()), so the queue exceeds max_queued
 * by at most max_pending (limits.c).  On a destroyed port the completion
 * is discarded (an accepted connection is closed).  Returns whether poll
 * waiters should be woken.
 */
bool cport_post_node(struct cport_port *port, struct cport_node *node)
{
	struct cport_wake_q q;
	unsigned long flags;
	bool wake_pollers = false;

	flags = cport_lock(port, &q);
	if (!port->dead) {
		__cport_queue_node(port, node);
		wake_pollers = cport_has_queued(port);
		node = NULL;
	}
	cport_unlock(port, &q, flags);
	if (node)
		cport_node_free(port, node);
	return wake_pollers;
}

/*
 * Queue the completions on @nodes (a multishot RECV's, or what a wait's
 * socket runs could not keep), in order, a bounded number per hold of
 * port->lock; on a dead port they are freed.  Without @release, nobody
 * is handed them yet: the caller, a running thread's wait, calls
 * __cport_queued() when its runs are done (wait.c).  Process context.
 * Returns whether poll waiters need waking.
 */
bool cport_post_nodes(struct cport_port *port, struct list_head *nodes,
		      bool release)
{
	struct cport_node *node, *tmp;
	bool wake_pollers = false;
	struct cport_wake_q q;
	unsigned long flags;
	unsigned int n;

	while (!list_empty(nodes)) {
		flags = cport_lock(port, &q);
		for (n = 0; n < CPORT_MULTISHOT_BUDGET && !port->dead; n++) {
			node = list_first_entry_or_null(nodes,
							struct cport_node,
							list);
			if (!node)
				break;
			list_del(&node->list);
			if (release)
				__cport_queue_node(port, node);
			else
				__cport_add_node(port, node);
			wake_pollers = cport_has_queued(port);
		}
		cport_unlock(port, &q, flags);
		if (READ_ONCE(port->dead))
			break;
		cond_resched();
	}
	/* What a destroy left: freed. */
	list_for_each_entry_safe(node, tmp, nodes, list) {
		list_del(&node->list);
		cport_node_free(port, node);
	}
	return wake_pollers;
}

/* The file is released: no fd is left, only associated threads. */
void cport_port_release(struct cport_port *port)
{
	cport_port_destroy(port);
	cport_port_put(port);
}

static bool cport_destroyed(struct cport_port *port)
{
	/* Pairs with the release at the end of the first destroy. */
	return smp_load_acquire(&port->destroyed);
}

/* Ready sockets taken off a destroyed port per hold of its lock. */
#define CPORT_READY_BATCH	64

/*
 * Destroy @port.  Returns when no operation touches user memory any more,
 * also for a second caller while the first one is still at it (-EIDRM):
 * both wait killably, since a runner may be held in a page fault that a
 * user can keep unresolved forever.
 */
int cport_port_destroy(struct cport_port *port)
{
	struct cport_waiter *w, *tmp;
	struct rb_root_cached timed;
	struct cport_wake_q q;
	unsigned long flags;
	unsigned int n;
	bool more;
	struct cport_sock *s;
	LIST_HEAD(discard);
	LIST_HEAD(ready);

	spin_lock_irq(&port->lock);
	if (port->dead) {
		spin_unlock_irq(&port->lock);
		wait_var_event_killable(&port->destroyed,
					cport_destroyed(port));
		return -EIDRM;
	}
	WRITE_ONCE(port->dead, true);
	port->used = true;
	spin_unlock_irq(&port->lock);

	/*
	 * Wake every waiter with -EIDRM, CPORT_WAKE_Q_SIZE at a time after
	 * dropping the lock: there may be as many as the user has threads.
	 * None joins now that the port is dead.
	 */
	do {
		flags = cport_lock(port, &q);
		list_for_each_entry_safe(w, tmp, &port->waiters, pw.link) {
			if (q.n == CPORT_WAKE_Q_SIZE)
				break;
			__cport_wake_dead(port, w);
		}
		more = !list_empty(&port->waiters);
		cport_unlock(port, &q, flags);
	} while (more);

	spin_lock_irq(&port->lock);
	list_splice_init(&port->queue, &discard);
	WRITE_ONCE(port->nr_queued, 0);
	__cport_ring_discard(port);
	/* O(1) here: the tree is freed below, interrupts on. */
	timed = port->timed.rb_root;
	timerqueue_init_head(&port->timed);
	cport_uncharge_units(port, port->nr_timed);
	port->nr_timed = 0;
	spin_unlock_irq(&port->lock);
	/*
	 * The ready sockets, CPORT_READY_BATCH per lock hold: as many as the
	 * user has sockets, and no kick adds one to a dead port.
	 */
	do {
		cond_resched();
		spin_lock_irq(&port->lock);
		for (n = 0; n < CPORT_READY_BATCH; n++) {
			s = __cport_ready_pop(port);
			if (!s)
				break;
			list_add_tail(&s->ready_link, &ready);
		}
		spin_unlock_irq(&port->lock);
	} while (s);

	hrtimer_cancel(&port->timed_timer);
	/* Nothing starts the fallback on a dead port: stop what is started. */
	cport_fallback_stop(port);
	cport_free_list(port, &discard);
	cport_free_timed(port, &timed);
	/*
	 * A socket waiting for a runner may have been dissociated since it
	 * was kicked (operations finished by a cancel no longer count as
	 * pending): cport_socks_destroy() will not see it.  Run it here, so
	 * its operations complete (discarded), its wait-queue entry comes
	 * off and its file goes.
	 */
	while ((s = list_first_entry_or_null(&ready, struct cport_sock,
					     ready_link))) {
		list_del_init(&s->ready_link);
		cport_sock_run(s, NULL, NULL);
		wait_var_event_killable(&s->running, !READ_ONCE(s->running));
		cport_sock_put(s);
	}
	cport_socks_destroy(port);
	cport_wake_pollers(port, EPOLLHUP);
	/* Pairs with the acquire of a second destroy. */
	smp_store_release(&port->destroyed, true);
	wake_up_var(&port->destroyed);
	return 0;
}

__poll_t cport_port_poll(struct cport_port *port)
{
	if (READ_ONCE(port->dead))
		return EPOLLHUP;
	if (cport_has_queued(port))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

void cport_port_show(struct cport_port *port, struct seq_file *m)
{
	unsigned int queued, waiters, running, threads, ring, ring_queued;
	const char *policy;
	u32 concurrency, max_queued;
	struct cport_stats stats;
	bool dead, tracking;
	u64 over_ns, grace;

	spin_lock_irq(&port->lock);
	raw_spin_lock(&port->run_lock);
	stats = port->stats;
	running = port->running;
	threads = port->nr_threads;
	over_ns = stats.over_ns;
	if (port->over_since)
		over_ns += ktime_get_mono_fast_ns() - port->over_since;
	raw_spin_unlock(&port->run_lock);
	queued = port->nr_queued;
	ring = cport_ring_entries(port->ring);
	ring_queued = cport_ring_pending(port);
	waiters = port->nr_waiters;
	tracking = port->track_blocking;
	policy = port->pol.ops->name;	/* held by the port: stays */
	concurrency = port->concurrency;
	max_queued = port->max_queued;
	dead = port->dead;
	grace = __cport_grace_len(port);
	spin_unlock_irq(&port->lock);

	seq_printf(m, "policy:\t%s\n", policy);
	seq_printf(m, "concurrency:\t%u\n", concurrency);
	seq_printf(m, "block_tracking:\t%u\n", tracking);
	seq_printf(m, "max_queued:\t%u\n", max_queued);
	seq_printf(m, "queued:\t%u\n", queued);
	seq_printf(m, "ring_entries:\t%u\n", ring);
	seq_printf(m, "ring_queued:\t%u\n", ring_queued);
	seq_printf(m, "waiters:\t%u\n", waiters);
	seq_printf(m, "running:\t%u\n", running);
	seq_printf(m, "threads:\t%u\n", threads);
	seq_printf(m, "posts:\t%llu\n", stats.posts);
	seq_printf(m, "dequeues:\t%llu\n", stats.dequeues);
	seq_printf(m, "waits:\t%llu\n", stats.waits);
	seq_printf(m, "waits_slept:\t%llu\n", stats.waits_slept);
	seq_printf(m, "handoffs:\t%llu\n", stats.handoffs);
	seq_printf(m, "ring_posts:\t%llu\n", stats.ring_posts);
	seq_printf(m, "ring_dropped:\t%llu\n", stats.ring_dropped);
	seq_printf(m, "blocked_releases:\t%llu\n", stats.blocked_releases);
	seq_printf(m, "deferred_releases:\t%llu\n", stats.deferred_releases);
	seq_printf(m, "busy_holds:\t%llu\n", stats.busy_holds);
	seq_printf(m, "grace_renewed:\t%llu\n", stats.grace_renewed);
	seq_printf(m, "grace_us:\t%llu\n", div_u64(grace, NSEC_PER_USEC));
	seq_printf(m, "over_limit_events:\t%llu\n", stats.over_events);
	seq_printf(m, "over_limit_ns:\t%llu\n", over_ns);
	seq_printf(m, "destroyed:\t%u\n", dead);
	cport_socks_show(port, m);
	cport_bufs_show(port, m);
}
