/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * cport_pool.h: a thread pool over a port (libcport, -lcport).
 *
 * The pool's threads wait on one port, each for one completion at a time,
 * and call a callback for it, so a program needs no worker loop of its
 * own.  Threads are made on demand (when every pool thread is busy and
 * the pool has fewer than its maximum, one more is started so that a
 * completion queued meanwhile finds a waiter) and exit after an idle
 * timeout, down to the minimum.  The port's concurrency value and block
 * tracking (docs/concurrency.md) bound how many callbacks run at once:
 * a callback that blocks lets another pool thread run.
 *
 * Completions go by key:
 *   - a binding (cport_pool_bind()): a socket associated with the port
 *     under a key the pool chose; its completions call the binding's
 *     callback;
 *   - a work item (cport_pool_submit()): fn(pool, arg);
 *   - anything else (posts or sockets of the program's own, on a port it
 *     passed in): opts.fn, or nothing if that is NULL.
 * The keys the pool makes have one of their two low bits set; the
 * program's own keys on a pool's port must have both clear (an aligned
 * pointer has).
 *
 * Every function returns a value >= 0 on success or a negative errno, as
 * the rest of libcport.  cport_pool(3) has the details.
 */
#ifndef LIBCPORT_CPORT_POOL_H
#define LIBCPORT_CPORT_POOL_H

#include "cport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cport_pool;
struct cport_pool_io;

/* A completion's callback: a binding's, or opts.fn for other keys. */
typedef void (*cport_pool_fn)(struct cport_pool *pool,
			      const struct cport_cqe *cqe, void *context);
/* A work item. */
typedef void (*cport_pool_work_fn)(struct cport_pool *pool, void *arg);

/* cport_pool_opts.flags */
#define CPORT_POOL_PORT		0x1u	/* use opts.port, don't make one */

#define CPORT_POOL_MAX_THREADS	1024	/* bound on max_threads */
#define CPORT_POOL_DEFAULT_IDLE_MS 10000

struct cport_pool_opts {
	unsigned int flags;		/* CPORT_POOL_PORT */
	int port;			/* with CPORT_POOL_PORT: the port */
	unsigned int concurrency;	/* the new port's, 0 = online CPUs */
	unsigned int min_threads;	/* kept even when idle, made at once */
	unsigned int max_threads;	/* 0 = twice the concurrency value */
	unsigned int idle_ms;		/* 0 = CPORT_POOL_DEFAULT_IDLE_MS */
	cport_pool_fn fn;		/* other completions, or NULL */
	void *context;			/* fn's context */
};

/*
 * Make a pool (opts NULL: all defaults) and its min_threads threads.
 * Returns 0 with *pool set, or -EINVAL (pool NULL, unknown flags,
 * min_threads > max_threads, max_threads > CPORT_POOL_MAX_THREADS,
 * concurrency with CPORT_POOL_PORT), cport_query()'s error for a port
 * that is not one (-EBADF, -ENOTTY), cport_create()'s, -ENOMEM, or
 * -EAGAIN (a thread could not be made).
 */
int cport_pool_create(const struct cport_pool_opts *opts,
		      struct cport_pool **pool);

/*
 * Run every work item already submitted (or, with CPORT_POOL_DISCARD,
 * drop those not started), cancel the bindings' pending operations
 * (their callbacks run, with -ECANCELED or their real result), wait for
 * running callbacks, end the threads, close the port the pool made (a
 * port passed in stays open, its sockets associated), free everything.
 * Returns 0, or -EDEADLK from a callback of this pool (nothing done).
 */
#define CPORT_POOL_DISCARD	0x1u
int cport_pool_destroy(struct cport_pool *pool, unsigned int flags);

/* The pool's port descriptor, to submit operations on bound sockets. */
int cport_pool_port(struct cport_pool *pool);

/*
 * Minimum and maximum threads, as in opts; threads up to the new minimum
 * are made now, threads above the new maximum exit when idle.  -EINVAL
 * for min > max, max == 0 or max > CPORT_POOL_MAX_THREADS, -EAGAIN if a
 * thread could not be made.
 */
int cport_pool_set_threads(struct cport_pool *pool, unsigned int min_threads,
			   unsigned int max_threads);

/*
 * Queue fn(pool, arg) to run on a pool thread.  Work items run in
 * submission order when the pool has one thread (or concurrency 1 and
 * callbacks that do not block).  0, or -EINVAL (fn NULL), -ESHUTDOWN
 * (the pool is being destroyed), -ENOMEM, -ENOSPC (the port's queue is
 * full), -EAGAIN (no thread and none could be made).
 */
int cport_pool_submit(struct cport_pool *pool, cport_pool_work_fn fn,
		      void *arg);

/*
 * Wait until no work item is queued or running and no callback runs
 * (timeout_ns < 0: no limit).  Socket operations still pending are not
 * waited for: that is cport_pool_io_wait().  0, -ETIMEDOUT, or -EDEADLK
 * from a callback of this pool.
 */
int cport_pool_wait_idle(struct cport_pool *pool, long long timeout_ns);

/*
 * Associate socket fd with the pool's port; its completions call
 * fn(pool, cqe, context).  Submit its operations with
 * cport_pool_io_submit(), or call cport_pool_io_start() before each
 * one that will post a completion (and cport_pool_io_cancel() if it
 * then posts none): the binding is freed only when every started
 * operation's callback has run.  Returns 0 with *io set, or -EINVAL (fn
 * or io NULL), -ESHUTDOWN, -ENOMEM, or cport_associate()'s error
 * (-EBADF, -ENOTSOCK, -EOPNOTSUPP, -EEXIST, -EBUSY...).
 */
int cport_pool_bind(struct cport_pool *pool, int fd, cport_pool_fn fn,
		    void *context, struct cport_pool_io **io);

/* The key the binding's socket is associated under. */
__u64 cport_pool_io_key(const struct cport_pool_io *io);

/* One more operation of io will post a completion. */
void cport_pool_io_start(struct cport_pool_io *io);

/* ... it did not after all (it failed or completed inline). */
void cport_pool_io_cancel(struct cport_pool_io *io);

/*
 * cport_submit() of nr records on io's socket, each counted as started
 * unless it failed or completed inline without posting (its result is
 * then in the record, as cport_submit() leaves it).  Returns as
 * cport_submit() does, or -ESHUTDOWN (the pool is being destroyed:
 * nothing submitted).
 */
int cport_pool_io_submit(struct cport_pool_io *io, struct cport_sqe *sqes,
			 unsigned int nr);

/*
 * Wait until every started operation of io has had its callback run and
 * none of its callbacks runs.  With CPORT_POOL_CANCEL its pending
 * operations are cancelled first (their callbacks run with -ECANCELED
 * or their real result).  0, or -EDEADLK from io's own callback.
 */
#define CPORT_POOL_CANCEL	0x1u
int cport_pool_io_wait(struct cport_pool_io *io, unsigned int flags);

/*
 * End the binding: no operation may be started on it afterwards.  It is
 * freed, and release(context) called if release is not NULL, once every
 * started operation's callback has run and none runs: at once, or in the
 * pool thread that finishes the last one (a callback may unbind its own
 * binding).  The socket stays associated with the port under the dead
 * key (close it, which ends the association, or cport_dissociate() it
 * yourself once nothing is pending).  0, or -EINVAL if already unbound
 * (and not yet freed: a freed binding must not be used at all).
 */
int cport_pool_unbind(struct cport_pool_io *io, void (*release)(void *));

struct cport_pool_stats {
	unsigned int threads;		/* alive now */
	unsigned int idle;		/* waiting on the port now */
	unsigned int running;		/* callbacks running now */
	unsigned int peak;		/* most threads alive at once */
	unsigned long long created;	/* threads made */
	unsigned long long exited;	/* threads that exited (idle) */
	unsigned long long callbacks;	/* callbacks and work items run */
	unsigned long long unhandled;	/* other completions, no opts.fn */
};

/* A snapshot of the counters.  0. */
int cport_pool_stats(struct cport_pool *pool, struct cport_pool_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* LIBCPORT_CPORT_POOL_H */
