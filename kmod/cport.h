/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cport internals: the port, its completion queue, its waiters and the
 * threads associated with it.
 *
 * A completion is handed to exactly one waiter under port->lock: it moves
 * from the port's queue (or straight from the poster) onto the chosen
 * waiter's private list before the waiter is woken, so no other thread
 * can take it and a woken waiter never finds nothing to return.
 *
 * A thread that waits on a port becomes associated with it (thread.c): it
 * registers a preempt notifier, which tells the port when the thread
 * blocks elsewhere (its concurrency slot frees) and when it runs again,
 * and which sees the thread's final switch at exit.
 *
 * LOCKING
 *
 * port->lock (spinlock_t, taken with interrupts disabled: completions of
 *	socket operations will be posted from wait-queue callbacks, and the
 *	release irq_work takes it in hard interrupt context) protects what
 *	is marked "lock" below.  Under it the port issues wake_up_process()
 *	of waiters (the scheduler's locks nest inside, the usual order).
 * port->run_lock (raw_spinlock_t) protects what is marked "run": the
 *	running count and the threads' counted/blocked state.  It is taken
 *	from the scheduler's preempt notifiers (sched_out runs with the
 *	runqueue lock held and interrupts off), so it is raw and taken with
 *	interrupts off everywhere; it is also taken in interrupt context,
 *	under port->lock, by __cport_release() from the release irq_work
 *	(hard irq) and from socket wakeups and timers (softirq).  A leaf:
 *	nothing is taken, woken or queued under it (the notifiers queue
 *	their irq_work after dropping it).
 *	Order: port->lock -> port->run_lock.
 * port->poll_wq.lock is never taken under port->lock: poll waiters are
 *	woken after port->lock is dropped.
 * The completion ring (ring.c): its entries and tail are written under
 *	port->lock, the kernel's takes (compare-and-swap of head, as user
 *	space takes) are made under port->lock, in __cport_release() also
 *	under run_lock (a bounded number of tries, nothing else taken).
 *	poll and the notifiers read how much it holds locklessly, as they
 *	read nr_queued: a hint, see cport_has_queued().
 *
 * Sockets (sock.c, op.c):
 * port->socks_mutex protects port->socks and the association counts;
 *	it is taken in process context only, before any spinlock.  A
 *	runner takes it (no lock held) to end a file's association after
 *	its last operation (file.c), unless destroy, which holds it while
 *	it runs the associations, has unlinked that one already.
 * cport_sock_table_lock (global spinlock) protects the table of
 *	associations by struct sock; lookups walk it under RCU.
 * sock->lock (spinlock_t, interrupts disabled) protects what is marked
 *	"slock": the operation queues and the runner flags.  It is taken in
 *	the socket's wait-queue callback (under the socket's wait-queue
 *	lock, often in softirq context) and in the timeout hrtimer (softirq).
 *	Nothing is woken or queued under it: kicking a socket to a runner
 *	takes port->lock after sock->lock is dropped.
 * port->cancel_lock (a mutex: process context only) protects the
 *	index of pending operations by user_data (op.c); sock->lock nests
 *	inside it, and a cancel kicks sockets (port->lock) under it.  A
 *	mutex because a cancel walks a bucket whose length a user chooses
 *	(operations with one user_data): it reschedules on the way.
 * port->buf_mutex (process context) serialises the providers of buffers
 *	(buf.c); port->buf_lock (spinlock_t, process context only, a leaf)
 *	protects what the buffer groups hold.  A runner takes and puts back
 *	buffers under buf_lock alone, with no other lock held.
 * Order: port->socks_mutex -> socket wait-queue lock -> sock->lock;
 *	port->socks_mutex -> port->cancel_lock (destroy runs the sockets,
 *	whose finished operations are unhashed): never socks_mutex under
 *	cancel_lock;
 *	port->cancel_lock -> sock->lock; port->cancel_lock -> port->lock;
 *	port->socks_mutex -> port->lock -> port->run_lock.  sock->lock and
 *	port->lock are never held together.  No spinlock is held across
 *	socket I/O, vfs_poll(), add_wait_queue() or remove_wait_queue()
 *	(destroy runs the sockets' teardown under port->socks_mutex, which
 *	no wakeup path takes).
 *
 * One runner at a time per socket (sock->running, under sock->lock) does
 * its I/O, arms and disarms its wait-queue entry, and completes its
 * operations; a wakeup, cancel or timeout that finds it running sets
 * sock->rerun and the runner goes round again.  See docs/design.md.
 *
 * A waiter's struct cport_waiter lives on its own stack.  While it is on
 * port->waiters only port->lock holders touch it; the waker reads ->task,
 * then sets ->woken with release semantics as its last access to the
 * frame, and wakes the task: under the lock, or after dropping it with a
 * task reference taken before (cport_lock(), struct cport_wake_q).  The
 * waiter takes port->lock before its stack frame goes away, so a waker
 * can never touch a dead frame; a late wakeup is harmless.
 *
 * Lifetime: a port is freed when its file is released and every thread
 * associated with it has left (each holds a reference).  A thread's
 * struct cport_thread is freed by the thread itself when it leaves or
 * moves, or after its final switch at exit by a work item; each one holds
 * a module reference, so the module cannot be unloaded under it.
 */
#ifndef _CPORT_INTERNAL_H
#define _CPORT_INTERNAL_H

#include <linux/hashtable.h>
#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/preempt.h>
#include <linux/refcount.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/timerqueue.h>
#include <linux/wait.h>
#include <linux/ktime.h>
#include <linux/cport.h>

#include "cport_policy.h"

/* Indexes for CPORT_OP_CANCEL by key and by user_data. */
#define CPORT_KEY_HASH_BITS	6
#define CPORT_CANCEL_HASH_BITS	8

struct cport_ring_k;
struct cport_user;
struct cred;
struct vm_area_struct;
struct file;
struct mm_struct;
struct seq_file;
struct sock;
struct socket;
struct task_struct;

/* A queued completion. */
struct cport_node {
	union {
		struct list_head	list;	/* port->queue or a waiter's
						 * handed list: lock
						 */
		struct timerqueue_node	tq;	/* a delayed POST, on
						 * port->timed until due: lock
						 */
	};
	struct cport_cqe	cqe;
	struct file		*file;	  /* ACCEPT: the new connection, its
					   * descriptor installed at dequeue
					   */
	struct cport_scm	*scm;	  /* RECVMSG: descriptors received,
					   * installed at dequeue
					   */
	unsigned int		fd_flags; /* O_CLOEXEC for that descriptor */
	bool			charged;  /* holds its operation's unit
					   * (limits.c) until it is dequeued
					   * or discarded
					   */
	bool			file_charged; /* ACCEPT: and its file */
	bool			ring_credit; /* a ring entry a wait took and
					      * could not copy, on the ring's
					      * allowance (wait.c)
					      */
};

/*
 * One entry on a wait queue of an associated file (poll.c): a socket has
 * one queue, a pipe two (its readers' and its writers'), so an
 * association has CPORT_MAX_WQ entries, armed by the runner.
 */
#define CPORT_MAX_WQ	2

struct cport_wq_entry {
	wait_queue_entry_t	wait;		/* .private: the association */
	wait_queue_head_t	*whead;		/* runner's; NULL after POLLFREE */
};

/*
 * A socket associated with a port (or a pipe or other pollable file, with
 * is_file set, associated only while operations are pending on it: see
 * file.c).  Lives while it is associated (the
 * "linked" reference), queued for a runner, or looked up; holds a
 * reference to its struct sock (so the pointer cannot be reused while
 * the association exists) and to the port, but to the socket's file only
 * while operations are pending: a socket without operations closes at
 * close() as usual, and its association is reclaimed later (sock.c).
 */
struct cport_sock {
	struct hlist_node	hnode;		/* cport_sock_table: table lock */
	struct list_head	port_link;	/* port->socks: socks_mutex */
	struct hlist_node	key_node;	/* port->key_hash: socks_mutex */
	struct list_head	ready_link;	/* port->ready or a waiter's
						 * runs: port->lock
						 */
	bool			queued;		/* port->lock: ready_link is on
						 * port->ready or a waiter's runs
						 */
	u8			nr_wq;		/* runner: entries armed */
	u8			max_wq;		/* entries: a socket 1, a file
						 * CPORT_MAX_WQ
						 */
	refcount_t		refs;
	struct cport_port	*port;
	union {
		struct sock	*sk;		/* a socket's */
		const void	*id;		/* the table's key: sk, or for
						 * a file (file.c) its struct
						 * file, valid only while
						 * ->file holds it
						 */
	};
	u64			key;
	bool			inline_default;
	bool			is_file;	/* not a socket (file.c) */

	spinlock_t		lock;		/* slock, see LOCKING */
	struct list_head	rxq;		/* slock: RECV, ACCEPT, in order */
	struct list_head	txq;		/* slock: SEND, in order */
	struct list_head	marked;		/* slock: finished by cancel or
						 * timeout, for the runner to
						 * complete
						 */
	struct cport_op		*active;	/* slock: the head the runner
						 * is doing I/O on
						 */
	unsigned int		nr_ops;		/* slock */
	bool			running;	/* slock: a runner owns the I/O */
	bool			rerun;		/* slock: woken while running */
	bool			unlinked;	/* slock (WRITE_ONCE: read by
						 * lookups): no longer associated
						 */

	/* Set under slock while nr_ops goes 0 -> 1, cleared by the runner. */
	struct file		*file;		/* reference held while pending */
	union {
		struct socket	*sock;
		struct file	*nbfile;	/* a pipe's: its runner's own
						 * O_NONBLOCK file, opened for
						 * the I/O (file.c)
						 */
	};
	struct rcu_head		rcu;
	/* The runner's: the wait-queue entries on the file, when armed. */
	struct cport_wq_entry	wq[];

};

struct cport_sock_stats {
	atomic64_t submitted;	/* RECV, SEND, ACCEPT, CONNECT taken */
	atomic64_t inlined;	/* ... completed inline, nothing posted */
	atomic64_t completed;	/* ... completed and posted */
	atomic64_t cancelled;	/* ... completed with -ECANCELED */
	atomic64_t timedout;	/* ... completed with -ETIMEDOUT */
	atomic64_t runs_submit;	/* socket runs by the submitting thread */
	atomic64_t runs_waiter;	/* ... by a waiting thread */
	atomic64_t runs_fallback; /* ... by the fallback: task work in a
				   * thread of the owner
				   */
	atomic64_t fallback_kicks; /* times the fallback was queued */
};

/* A buffer of a buffer group (buf.c), taken by a RECV. */
struct cport_buf {
	u64	addr;
	u32	len;
	u32	bid;
};

struct cport_bufgroup;

/*
 * What RECVMSG and SENDMSG copied from the user's struct msghdr at
 * submission (net.c): where the peer's address, the lengths and the flags
 * go back (RECVMSG), the destination and the control data (SENDMSG).
 */
struct cport_msg {
	struct user_msghdr __user *umsg;
	void __user		*name;		/* RECVMSG: room for the address */
	int			namelen;	/* its size; SENDMSG: addr's */
	void __user		*control;	/* RECVMSG: the control buffer */
	u32			controllen;	/* its size; SENDMSG: kcontrol's */
	u32			units;		/* user units held (limits.c) */
	struct sockaddr_storage	addr;		/* SENDMSG: the destination */
	u8			kcontrol[];	/* SENDMSG: the control data */
};

/*
 * Descriptors a RECVMSG received (SCM_RIGHTS): taken out of the receiving
 * thread's table at once, held as files (each charged as a file held for
 * user space), and installed by the thread that dequeues the completion,
 * their numbers written where the kernel wrote them in the control buffer.
 */
struct cport_scm {
	unsigned int		nr;
	unsigned int		room;		/* entries in fds[] */
	unsigned int		o_flags;	/* O_CLOEXEC */
	struct user_msghdr __user *umsg;	/* for MSG_CTRUNC at dequeue */
	struct {
		struct file	*file;
		int __user	*ufd;		/* its slot in the control data */
		int		fd;		/* reserved at dequeue */
	} fds[];
};

/* A socket operation (RECV, SEND, ACCEPT, CONNECT), queued on its socket. */
struct cport_op {
	struct list_head	list;		/* sock->rxq or ->txq: slock */
	struct hlist_node	cancel_node;	/* port->cancel_hash by
						 * user_data: cancel_lock
						 */
	struct cport_sock	*sock;
	struct cport_node	*node;		/* its completion, preallocated */
	void __user		*buf;
	struct iovec		*iov;		/* *_VEC: the segments, or NULL */
	u32			nr_segs;
	u32			iov_units;	/* the user units iov holds */
	u32			len;		/* bytes, all segments together */
	u32			moved;		/* bytes moved: runner */
	u64			user_data;
	u64			key;		/* ACCEPT: the new socket's key;
						 * RECV with CPORT_RECV_BUFFER:
						 * the buffer group
						 */
	u32			op_flags;
	u32			cqe_flags;	/* CPORT_CQE_F_*: runner */
	u8			opcode;
	bool			finished;	/* slock */
	bool			timed;
	bool			connected;	/* CONNECT: connected;
						 * DISCONNECT: shut down: runner
						 */
	bool			file_charged;	/* ACCEPT: holds a file charge
						 * (limits.c) for its connection
						 */
	int			cancel;		/* slock: the status asked for;
						 * read locklessly by its runner
						 */
	const struct cred	*cred;		/* the submitter's */
	/*
	 * The submitting thread: only it may take the result inline, and an
	 * operation at the address it queued may be another one by then
	 * (runner.c, cport_op_inline()).
	 */
	const struct task_struct *submitter;
	long			res;		/* runner, once finished */
	struct file		*newfile;	/* ACCEPT: the new connection */
	u32			bid;		/* CPORT_RECV_BUFFER: runner */
	u32			seq;		/* MULTISHOT: arrivals: runner */
	/*
	 * CPORT_RECV_MULTISHOT, the runner's: the completions of arrivals
	 * (charged) for it to deliver, and a node kept for the next one.
	 */
	struct list_head	more;
	struct cport_node	*spare;
	struct cport_msg	*msg;		/* RECVMSG, SENDMSG */
	struct cport_scm	*scm;		/* RECVMSG: runner */
	bool			has_scm;	/* ... received some: posted,
						 * never inline (runner)
						 */
	struct cport_sf		*sf;		/* SENDFILE: what to send */
	struct hrtimer		timer;
};

/*
 * SENDFILE's record as read at submission (xmit.c): head_len bytes from
 * head, count bytes of file from offset, tail_len bytes from tail.  The
 * file's reference and its charge (limits.c) go with the operation.
 */
struct cport_sf {
	struct file		*file;
	loff_t			offset;
	u32			count;		/* runner: cut if the file shrank */
	u32			head_len;
	u32			tail_len;
	bool			charged;	/* holds a file charge */
	void __user		*head;
	void __user		*tail;
};

/* A completion record: these fields, the others (reserved, buf) zero. */
static inline void cport_cqe_set(struct cport_cqe *cqe, u64 user_data,
				 u64 key, s64 res, u64 bytes, u32 flags, u8 op)
{
	memset(cqe, 0, sizeof(*cqe));
	cqe->user_data = user_data;
	cqe->key = key;
	cqe->res = res;
	cqe->bytes = bytes;
	cqe->flags = flags;
	cqe->op = op;
}

/* Who ran a socket (tracepoint cport_sock_run). */
enum cport_run_by {
	CPORT_RUN_SUBMITTER,
	CPORT_RUN_WAITER,
	CPORT_RUN_FALLBACK,
};

/* What became of a finished operation (tracepoint cport_op_done). */
enum cport_op_end {
	CPORT_END_POSTED,
	CPORT_END_INLINE,
	CPORT_END_DISCARDED,
};

enum cport_io {
	CPORT_IO_DONE,		/* finished: op->res */
	CPORT_IO_AGAIN,		/* would block: wait for the socket */
	CPORT_IO_RETRY,		/* interrupted: run again elsewhere */
};

/*
 * Between two chunks of a loop that moves data while the peer keeps up (a
 * fill-mode RECV, SEND, SENDMSG, a pipe's WRITE: up to 2 GB): has a
 * cancel or timeout marked @op (cancel.c)?  Then the loop returns
 * CPORT_IO_AGAIN and the runner finishes it with the mark and the bytes
 * moved, instead of going on to the length.  Read without sock->lock.
 */
static inline bool cport_op_cut(const struct cport_op *op)
{
	return op->moved < op->len && READ_ONCE(op->cancel);
}

/*
 * A thread entering a wait, or serving the port, runs up to this many
 * ready sockets at a time.
 */
#define CPORT_RUN_BATCH	16

/* Operations finished or marked per hold of sock->lock. */
#define CPORT_REAP_BATCH	64

/* A thread associated with a port: one port per thread. */
struct cport_thread {
	struct preempt_notifier	pn;	/* registered on the thread itself */
	struct cport_port	*port;	/* reference held; changed only by
					 * the thread itself
					 */
	bool			counted; /* run: in port->running's books */
	bool			blocked; /* run: counted, but blocked now */
	bool			in_wait; /* set by the thread while it sleeps
					  * in the port: not "blocked
					  * elsewhere"
					  */
	bool			left;	/* run: left at exit or execve(),
					 * no longer counted
					 */
	struct llist_node	reap;	/* after the final switch at exit */
	u32			seq;	/* run: joined the port as the seq-th */
};

/*
 * A thread sleeping in a wait, on its own stack.  pw is what the release
 * policy sees (cport_policy.h): pw.link is on port->waiters (lock).
 */
struct cport_waiter {
	struct cport_policy_waiter pw;
	struct list_head	handed;	/* completions handed to it: lock */
	struct list_head	runs;	/* sockets handed to it to run: lock */
	struct task_struct	*task;
	struct cport_thread	*thread;
	struct cport_cqe	rcqe;	/* an entry of the ring handed to it */
	bool			has_rcqe; /* ... lock */
	bool			woken;	/* handed something, or destroyed */
	bool			serve;	/* handed sockets to run for the
					 * port, not counted as running
					 * (__cport_serve())
					 */
};

struct cport_stats {
	u64 posts;		/* lock: completions queued or handed */
	u64 dequeues;		/* lock: completions taken by waits (less
				 * what went back to the queue)
				 */
	u64 waits;		/* lock: waits (enter with max_cqes > 0) */
	u64 waits_slept;	/* lock: waits that had to sleep */
	u64 handoffs;		/* lock: completions handed to a sleeper */
	u64 ring_posts;		/* lock: completions written to the ring */
	u64 ring_dropped;	/* lock: ring entries a wait took, could not
				 * copy, and had no unit to queue again for
				 */
	u64 blocked_releases;	/* lock: handoffs because a thread blocked */
	u64 deferred_releases;	/* lock: handoffs left by a full lock hold
				 * to the release irq_work
				 */
	u64 busy_holds;		/* lock: releases held back, CPUs busy */
	u64 grace_renewed;	/* lock: graces begun again, work taken */
	u64 over_events;	/* run: times running rose above the limit */
	u64 over_ns;		/* run: time spent above the limit */
};

/*
 * Waiters to wake once port->lock is dropped (futex's wake_q, which is not
 * exported, done by hand): a task reference each.  See cport_lock().
 */
#define CPORT_WAKE_Q_SIZE	8

struct cport_wake_q {
	unsigned int		n;
	struct task_struct	*tasks[CPORT_WAKE_Q_SIZE];
};

struct cport_port {
	spinlock_t		lock;		/* see LOCKING above */
	struct cport_wake_q	*wake_q;	/* lock: the holder's, if any */
	struct list_head	queue;		/* lock: FIFO of cport_node */
	struct cport_ring_k	*ring;		/* the completion ring (ring.c),
						 * set once at setup (release),
						 * or NULL
						 */
	unsigned int		nr_queued;	/* lock; WRITE_ONCE, read
						 * locklessly by poll and the
						 * notifiers
						 */
	struct list_head	waiters;	/* lock: newest first */
	unsigned int		nr_waiters;	/* lock; WRITE_ONCE, as above */
	bool			dead;		/* lock: destroyed */
	bool			destroyed;	/* destroy has finished */
	bool			used;		/* lock: setup no longer allowed */

	raw_spinlock_t		run_lock;	/* see LOCKING above */
	unsigned int		running;	/* run: threads running */
	unsigned int		nr_threads;	/* run: threads associated */
	u32			thread_seq;	/* run: threads ever joined */
	u64			over_since;	/* run: when running > limit */

	/* Set before first use (under lock), read-only afterwards. */
	u32			concurrency;
	u32			policy;		/* CPORT_POLICY_NAMED if none */
	struct cport_policy_port pol;	/* the release policy (policy.c):
					 * ops and priv set under lock and
					 * run_lock
					 */
	u32			max_queued;
	bool			track_blocking;
	bool			eager_release;	/* lock: Windows' rule, see
						 * __cport_cpus_busy()
						 */
	bool			hold_off;	/* lock: the grace timer's
						 * release, and its irq_work
						 * chain, ignore busy CPUs
						 */
	unsigned int		takes;		/* lock: work taken by threads,
						 * see __cport_took()
						 */
	unsigned int		takes_seen;	/* lock: ... when the grace
						 * began
						 */
	u64			grace_ns;	/* lock: the grace as the
						 * port's takes set it, 0 for
						 * grace_us (runner.c)
						 */
	bool			release_blocked; /* run_lock: a thread left
						  * its slot (blocked, exited)
						  * for release_work
						  */

	struct cport_stats	stats;
	u32			id;		/* for tracepoints */

	struct kref		ref;		/* file + associated threads */
	struct irq_work		release_work;	/* handoff after a block, or
						 * what a lock hold left
						 */
	bool			release_more;	/* lock: release_work goes on
						 * with what a hold left
						 */
	wait_queue_head_t	poll_wq;
	struct mm_struct	*mm;		/* owner: mmgrab()bed, immutable */

	/* Sockets (sock.c, op.c). */
	struct list_head	ready;		/* lock: cport_sock to run */
	unsigned int		nr_ready;	/* lock; WRITE_ONCE: read by
						 * the notifiers
						 */
	struct mutex		socks_mutex;
	struct list_head	socks;		/* socks_mutex: associations */
	/* socks_mutex: associations by key */
	DECLARE_HASHTABLE(key_hash, CPORT_KEY_HASH_BITS);
	struct mutex		cancel_lock;	/* see LOCKING above */
	/* cancel_lock: pending operations by user_data */
	struct hlist_head	cancel_hash[1 << CPORT_CANCEL_HASH_BITS];
	unsigned int		nr_socks;	/* socks_mutex */
	unsigned int		nr_file_socks;	/* socks_mutex: of nr_socks,
						 * files' (file.c)
						 */
	struct delayed_work	gc_work;	/* reclaims closed sockets'
						 * associations (sock.c)
						 */
	unsigned int		gc_mark;	/* socks_mutex: nr_socks after
						 * the last reclaim
						 */
	atomic_t		ring_back;	/* nodes on the ring's allowance:
						 * at most ring_entries (wait.c)
						 */
	atomic_t		nr_ops;		/* pending operations, delayed
						 * POSTs and completions of
						 * operations not yet dequeued
						 * (limits.c)
						 */
	u32			max_pending;	/* like max_queued */
	atomic_t		nr_files;	/* files pinned for user space:
						 * sockets with operations
						 * pending, ACCEPTs pending or
						 * not yet delivered (limits.c)
						 */
	struct cport_user	*user;		/* the opener's, charged */
	struct work_struct	exit_work;	/* the owner's mm went away */
	struct mmu_notifier	mn;		/* ... watched through this */
	bool			mn_registered;	/* socks_mutex */
	struct timerqueue_head	timed;		/* lock: delayed POSTs */
	unsigned int		nr_timed;	/* lock */
	struct hrtimer		timed_timer;	/* fires for the first */

	/*
	 * The fallback runner (runner.c): task work queued on a thread of
	 * the owner when no thread of the port comes for a ready socket.
	 */
	struct callback_head	fb_work;	/* queued on fb_task */
	bool			fb_queued;	/* lock: fb_work is queued */
	struct task_struct	*fb_task;	/* lock: a thread of the owner
						 * (referenced): the one that
						 * last submitted
						 */
	struct pid		*owner;		/* the owner's thread group */
	struct hrtimer		fb_timer;	/* the grace before it */
	struct work_struct	fb_retarget;	/* fb_task exited: find
						 * another thread
						 */
	struct cport_sock_stats	sstats;

	/* Buffer groups (buf.c); see LOCKING above. */
	spinlock_t		buf_lock;	/* what the groups hold */
	struct mutex		buf_mutex;	/* providers, one at a time */
	struct cport_bufgroup	*bufgroups[CPORT_MAX_BUF_GROUPS];
						/* set once: buf_lock */
};

/* port.c */
void cport_wake_q_flush(struct cport_wake_q *q);

/*
 * Take port->lock, interrupts saved, with the waiters it releases woken
 * only by cport_unlock(), after the lock is dropped and interrupts are
 * back on.
 */
static inline unsigned long cport_lock(struct cport_port *port,
				       struct cport_wake_q *q)
	__acquires(&port->lock)
{
	unsigned long flags;

	spin_lock_irqsave(&port->lock, flags);
	q->n = 0;
	port->wake_q = q;
	return flags;
}

static inline void cport_unlock(struct cport_port *port,
				struct cport_wake_q *q, unsigned long flags)
	__releases(&port->lock)
{
	port->wake_q = NULL;
	spin_unlock_irqrestore(&port->lock, flags);
	cport_wake_q_flush(q);
}

struct cport_port *cport_port_alloc(void);
void cport_port_release(struct cport_port *port);
void cport_port_get(struct cport_port *port);
void cport_port_put(struct cport_port *port);
int cport_port_setup(struct cport_port *port, const struct cport_setup *s);
int cport_port_watch_mm(struct cport_port *port);
void cport_port_info(struct cport_port *port, struct cport_info *info);
int cport_port_post(struct cport_port *port, const struct cport_cqe *cqe,
		    u64 delay_ns);
int cport_port_destroy(struct cport_port *port);
__poll_t cport_port_poll(struct cport_port *port);
void cport_port_show(struct cport_port *port, struct seq_file *m);
void __cport_waiter_add(struct cport_port *port, struct cport_waiter *w);
void __cport_waiter_del(struct cport_port *port, struct cport_waiter *w);
unsigned int __cport_release(struct cport_port *port);
bool __cport_serve(struct cport_port *port);
void cport_wake_pollers(struct cport_port *port, __poll_t mask);
void cport_node_free(struct cport_port *port, struct cport_node *node);
struct cport_node *cport_node_alloc(void);
struct cport_node *cport_node_alloc_nofail(void);
bool cport_post_node(struct cport_port *port, struct cport_node *node);
bool cport_post_nodes(struct cport_port *port, struct list_head *nodes,
		      bool release);
void __cport_queued(struct cport_port *port);
struct cport_sock *cport_ready_pop(struct cport_port *port);
struct cport_sock *__cport_ready_pop(struct cport_port *port);
int cport_node_cache_init(void);
void cport_node_cache_exit(void);

/* ring.c */
struct cport_ring_k *cport_ring_alloc(struct cport_port *port, u32 entries);
void cport_ring_free(struct cport_port *port, struct cport_ring_k *r);
u32 cport_ring_entries(struct cport_ring_k *r);
u32 cport_ring_pending(struct cport_port *port);
bool __cport_ring_push(struct cport_port *port, const struct cport_cqe *cqe);
bool __cport_ring_pop(struct cport_port *port, struct cport_cqe *cqe);
void __cport_ring_discard(struct cport_port *port);
int cport_ring_mmap(struct cport_port *port, struct vm_area_struct *vma);

/* Is a socket ready, or a completion queued or in the ring? */
static inline bool __cport_has_work(struct cport_port *port)
{
	lockdep_assert_held(&port->lock);
	return !list_empty(&port->ready) || !list_empty(&port->queue) ||
	       cport_ring_pending(port);
}

/*
 * A thread of the port took work off it (a wait took completions or a
 * ready socket, or a waiter was handed some): the grace (runner.c) begins
 * again rather than end while threads make progress
 * (cport_fallback_timer()).
 */
static inline void __cport_took(struct cport_port *port)
{
	lockdep_assert_held(&port->lock);
	port->takes++;
}

/* Queued for a wait or in the ring, as far as a lockless look can tell. */
static inline bool cport_has_queued(struct cport_port *port)
{
	/*
	 * A completion moved from the queue to the ring is seen in one or
	 * the other: pairs with the release in __cport_ring_fill().
	 */
	return smp_load_acquire(&port->nr_queued) || cport_ring_pending(port);
}

/* policy.c and policy_*.c */
extern struct cport_policy_ops cport_policy_lifo;
extern struct cport_policy_ops cport_policy_fifo;
extern struct cport_policy_ops cport_policy_rr;
extern struct cport_policy_ops cport_policy_cpu;
const struct cport_policy_ops *cport_policy_get(const char *name, u32 nr);
void cport_policy_put(const struct cport_policy_ops *ops);
u32 cport_policy_number(const struct cport_policy_ops *ops);
void cport_policy_list(struct cport_info *info);
int cport_policies_init(void);
void cport_policies_exit(void);

/* limits.c */
struct cport_user *cport_user_get(void);
void cport_user_put(struct cport_user *u);
int cport_charge_units(struct cport_port *port, unsigned int n);
void cport_uncharge_units(struct cport_port *port, unsigned int n);
int cport_charge_assoc(struct cport_port *port);
int cport_charge_bytes(struct cport_port *port, size_t bytes, u32 *units);
void cport_uncharge_bytes(struct cport_port *port, u32 units);
void cport_uncharge_assoc(struct cport_port *port);
int cport_charge_file(struct cport_port *port);
void cport_uncharge_file(struct cport_port *port);
unsigned long cport_user_units(struct cport_port *port);
void cport_limits_init(void);

/* buf.c */
void cport_bufs_init(struct cport_port *port);
void cport_bufs_free(struct cport_port *port);
int cport_op_provide(struct cport_port *port, const struct cport_sqe *sqe,
		     struct cport_sqe __user *usqe);
bool cport_buf_take(struct cport_port *port, u32 group, struct cport_buf *b);
void cport_buf_put_back(struct cport_port *port, u32 group,
			const struct cport_buf *b);
void cport_buf_used(struct cport_port *port, u32 group);
void cport_bufs_show(struct cport_port *port, struct seq_file *m);

/* sock.c */
int cport_sock_associate(struct cport_port *port, struct sock *sk, u64 key,
			 bool inline_default);
int cport_sock_dissociate(struct cport_port *port, struct sock *sk);
struct cport_sock *cport_sock_get(struct cport_port *port, struct sock *sk);
void cport_sock_put(struct cport_sock *s);
void cport_sock_kick(struct cport_sock *s);
__poll_t cport_sock_arm(struct cport_sock *s);
void cport_sock_disarm(struct cport_sock *s);
void cport_sock_wait_init(struct cport_sock *s);
bool cport_sock_hooked(struct cport_sock *s);
int cport_poll_queues(struct file *file);
struct cport_sock *cport_sock_find_rcu(const void *id);
struct cport_sock *cport_sock_new(struct cport_port *port, const void *id,
				  struct sock *sk, u64 key,
				  bool inline_default);
void cport_sock_unlink_idle(struct cport_sock *s);
void cport_socks_destroy(struct cport_port *port);
void cport_socks_port_init(struct cport_port *port);
void cport_socks_show(struct cport_port *port, struct seq_file *m);
bool cport_queue_work(struct work_struct *work);
int cport_socks_init(void);
void cport_socks_exit(void);

/* cancel.c */
void __cport_op_hash(struct cport_port *port, struct cport_op *op);
void cport_op_unhash(struct cport_port *port, struct cport_op *op);
void cport_op_timer_init(struct cport_op *op);

/* file.c */
int cport_file_supported(struct file *file);
struct cport_sock *cport_file_assoc(struct cport_port *port,
				    const struct cport_sqe *sqe,
				    struct file *file);
struct cport_sock *cport_file_find(struct cport_port *port, struct file *file);
void cport_file_idle(struct cport_sock *s);
int cport_file_associate(struct cport_port *port, struct file *file);
int cport_file_dissociate(struct cport_port *port, struct file *file);
enum cport_io cport_do_read(struct cport_sock *s, struct cport_op *op);
enum cport_io cport_do_write(struct cport_sock *s, struct cport_op *op);

/* op.c */
struct cport_sock *cport_fd_assoc(struct cport_port *port,
				  const struct cport_sqe *sqe,
				  struct file **filep);
int cport_op_submit(struct cport_port *port, const struct cport_sqe *sqe,
		    struct cport_sqe __user *usqe);
int cport_op_cancel(struct cport_port *port, const struct cport_sqe *sqe,
		    struct cport_sqe __user *usqe);
int cport_op_associate(struct cport_port *port, const struct cport_sqe *sqe,
		       struct cport_sqe __user *usqe);
int cport_op_dissociate(struct cport_port *port, const struct cport_sqe *sqe,
			struct cport_sqe __user *usqe);
struct cport_node *cport_op_fill(struct cport_sock *s, struct cport_op *op);
void cport_op_free(struct cport_op *op);
int cport_ops_init(void);
void cport_ops_exit(void);

/* net.c */
enum cport_io cport_op_io(struct cport_sock *s, struct cport_op *op);
void cport_op_iter(struct cport_op *op, struct iov_iter *it, unsigned int dir);
enum cport_io cport_io_error(struct cport_op *op, int ret);
enum cport_io cport_do_recv(struct cport_sock *s, struct cport_op *op);
enum cport_io cport_do_send(struct cport_sock *s, struct cport_op *op);
enum cport_io cport_do_accept(struct cport_sock *s, struct cport_op *op);
enum cport_io cport_do_connect(struct cport_sock *s, struct cport_op *op);
enum cport_io cport_do_recvmsg(struct cport_sock *s, struct cport_op *op);
enum cport_io cport_do_sendmsg(struct cport_sock *s, struct cport_op *op);
int cport_msg_import(struct cport_port *port, const struct cport_sqe *sqe,
		     struct cport_msg **msgp, struct iovec **iovp,
		     u32 *nr_segs, u32 *total);
void cport_msg_free(struct cport_port *port, struct cport_msg *m);
void cport_scm_free(struct cport_port *port, struct cport_scm *scm);
void cport_scm_reserve(struct cport_port *port, struct cport_node *node);
void cport_scm_unreserve(struct cport_node *node);
void cport_scm_install(struct cport_port *port, struct cport_node *node);

/* xmit.c */
int cport_sendfile_read(const struct cport_sqe *sqe, struct cport_sf *sf);
enum cport_io cport_do_sendfile(struct cport_sock *s, struct cport_op *op);
enum cport_io cport_do_disconnect(struct cport_sock *s, struct cport_op *op);

/* opdef.c: one entry per submission opcode. */
struct cport_opdef {
	const char	*name;
	/* The record's fields: 0, or the errno of the first bad one. */
	int		(*check)(const struct cport_sqe *sqe);
	/* Take it: 0, or the submission's errno (it was not taken). */
	int		(*issue)(struct cport_port *port,
				 const struct cport_sqe *sqe,
				 struct cport_sqe __user *usqe);
	/* Socket operations: one try at the I/O, by the runner (net.c). */
	enum cport_io	(*io)(struct cport_sock *s, struct cport_op *op);
	u16		sqe_flags;	/* accepted in cport_sqe.flags */
	bool		tx;		/* runs in the socket's send order */
};

extern const struct cport_opdef cport_opdefs[CPORT_OP__NR];
const struct cport_opdef *cport_opdef(u8 opcode);
void cport_opdefs_info(u64 *ops, u32 *sqe_flags);

/* runner.c */

/*
 * A waiting thread's socket runs keep what completes, up to @room (what
 * the wait can still return), on @list; the rest is queued while the run
 * owns the socket, so that the queue keeps each socket's order, and
 * waiters are released for it once, when the wait's runs are done
 * (wait.c), not at every run.
 */
struct cport_sink {
	struct list_head	*list;
	u32			room;
	bool			posted;	/* queued some, nobody released for
					 * them yet: the wait calls
					 * __cport_queued()
					 */
};

bool cport_sock_run(struct cport_sock *s, struct cport_sink *sink,
		    struct cport_op *inline_op);
void cport_sock_run_end(struct cport_sock *s);
void cport_fallback_note(struct cport_port *port);
void __cport_fallback_arm(struct cport_port *port);
void __cport_grace_arm(struct cport_port *port);
u64 __cport_grace_len(struct cport_port *port);
void cport_fallback_init(struct cport_port *port);
void cport_fallback_stop(struct cport_port *port);
void cport_fallback_exit(struct cport_port *port);

/* thread.c */
struct cport_thread *cport_thread_join(struct cport_port *port);
int cport_thread_leave(struct cport_port *port);
void __cport_thread_stop(struct cport_port *port, struct cport_thread *t);
void __cport_thread_start(struct cport_port *port, struct cport_thread *t);
bool __cport_thread_current_runs(struct cport_port *port);
int cport_threads_init(void);
void cport_threads_exit(void);

/* wait.c */
long cport_port_wait(struct cport_port *port, struct cport_cqe __user *ucqes,
		     u32 max, const ktime_t *expires, bool nowait);

#endif /* _CPORT_INTERNAL_H */
