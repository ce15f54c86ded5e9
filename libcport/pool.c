/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport: a thread pool over a port (cport_pool.h).
 *
 * One mutex per pool guards every counter and the list of bindings; the
 * threads take it only around a completion (before and after its
 * callback), never while they wait on the port.  A thread counts as idle
 * from the moment it is made until it takes a completion, and again once
 * its callback returns: a thread that takes a completion while no other
 * is idle makes one more (below the maximum), so a completion queued
 * while every thread is in a callback always has a waiter, and the
 * kernel hands it over as soon as the concurrency value allows (a
 * callback that blocks frees its slot).  An idle thread whose wait times
 * out exits while the pool has more than its floor: the minimum, or one
 * while anything may still complete (a binding, an operation started, a
 * work item, or opts.fn for the port's other completions).
 *
 * A key's two low bits say what a completion is: 1 a binding's (the
 * rest of the key is the binding), 2 a work item's (the item, freed by
 * the thread that runs it), 3 the quit packet of cport_pool_destroy() on
 * a port passed in; 0 the program's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cport_pool.h"

#define TAG_MASK	3ULL
#define TAG_IO		1ULL
#define TAG_WORK	2ULL
#define KEY_QUIT	3ULL

struct cport_pool_io {
	struct cport_pool *pool;
	cport_pool_fn fn;
	void *context;
	void (*release)(void *);
	unsigned int expected;	/* started, callback not yet returned */
	unsigned int running;	/* its callbacks running now */
	bool closed;		/* unbound */
	struct cport_pool_io *prev, *next;
};

struct work {
	cport_pool_work_fn fn;
	void *arg;
};

struct cport_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a callback, a work item, a thread ended */
	int port;
	bool own_port;
	bool stopping;		/* cport_pool_destroy() began */
	bool discard;		/* ... with CPORT_POOL_DISCARD */
	unsigned int min, max, idle_ms;
	cport_pool_fn fn;
	void *context;
	unsigned int threads, idle, running, peak;
	unsigned long long created, exited, callbacks, unhandled;
	unsigned long long work_out;	/* work items not yet finished */
	unsigned long long io_expected;	/* sum of the bindings' expected */
	unsigned int nbindings;		/* not unbound */
	struct cport_pool_io *ios;	/* every binding not yet freed */
};

/* The pool (and binding) whose callback this thread is running. */
static __thread struct cport_pool *cur_pool;
static __thread struct cport_pool_io *cur_io;

static void *pool_thread(void *arg);

/* Make one thread (under the lock); it counts as idle at once. */
static int spawn(struct cport_pool *p)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int ret;

	if (pthread_attr_init(&attr))
		return -ENOMEM;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The program's signals go to its own threads, not the pool's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&t, &attr, pool_thread, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	p->threads++;
	p->idle++;
	p->created++;
	if (p->threads > p->peak)
		p->peak = p->threads;
	return 0;
}

/* The fewest threads the pool keeps now (under the lock). */
static unsigned int pool_floor(const struct cport_pool *p)
{
	if (p->min)
		return p->min;
	return p->nbindings || p->io_expected || p->work_out || p->fn ? 1 : 0;
}

/*
 * @io, unlinked, if it is unbound and done with (under the lock): the
 * caller frees it and calls its release outside the lock.
 */
static struct cport_pool_io *io_done(struct cport_pool_io *io)
{
	struct cport_pool *p = io->pool;

	if (!io->closed || io->expected || io->running)
		return NULL;
	if (io->prev)
		io->prev->next = io->next;
	else
		p->ios = io->next;
	if (io->next)
		io->next->prev = io->prev;
	return io;
}

static void io_free(struct cport_pool_io *io)
{
	if (!io)
		return;
	if (io->release)
		io->release(io->context);
	free(io);
}

static void dispatch(struct cport_pool *p, const struct cport_cqe *cqe)
{
	uint64_t tag = cqe->key & TAG_MASK;

	if (tag == TAG_IO) {
		struct cport_pool_io *io =
			(struct cport_pool_io *)(uintptr_t)(cqe->key & ~TAG_MASK);
		struct cport_pool_io *done;

		pthread_mutex_lock(&p->lock);
		io->running++;
		pthread_mutex_unlock(&p->lock);
		cur_io = io;
		io->fn(p, cqe, io->context);
		cur_io = NULL;
		pthread_mutex_lock(&p->lock);
		io->running--;
		if (io->expected) {
			io->expected--;
			p->io_expected--;
		}
		p->callbacks++;
		done = io_done(io);
		pthread_mutex_unlock(&p->lock);
		io_free(done);
	} else if (tag == TAG_WORK) {
		struct work *w = (struct work *)(uintptr_t)(cqe->key & ~TAG_MASK);
		cport_pool_work_fn fn = w->fn;
		void *arg = w->arg;
		bool run;

		free(w);
		pthread_mutex_lock(&p->lock);
		run = !p->discard;
		pthread_mutex_unlock(&p->lock);
		if (run)
			fn(p, arg);
		pthread_mutex_lock(&p->lock);
		p->work_out--;
		if (run)
			p->callbacks++;
		pthread_mutex_unlock(&p->lock);
	} else if (p->fn) {
		p->fn(p, cqe, p->context);
		pthread_mutex_lock(&p->lock);
		p->callbacks++;
		pthread_mutex_unlock(&p->lock);
	} else {
		pthread_mutex_lock(&p->lock);
		p->unhandled++;
		pthread_mutex_unlock(&p->lock);
	}
}

static void *pool_thread(void *arg)
{
	struct cport_pool *p = arg;
	struct cport_cqe cqe;
	int ret;

	cur_pool = p;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		long long timeout = p->stopping ? -1 :
				    (long long)p->idle_ms * 1000000LL;

		pthread_mutex_unlock(&p->lock);
		ret = cport_wait(p->port, &cqe, 1, timeout);
		pthread_mutex_lock(&p->lock);
		if (ret == -EINTR)
			continue;
		if (ret == -ETIMEDOUT) {
			if (!p->stopping && p->threads > pool_floor(p))
				break;
			continue;
		}
		if (ret < 0 || cqe.key == KEY_QUIT)
			break;	/* destroyed, or told to quit */
		p->idle--;
		if (!p->idle && p->threads < p->max && !p->stopping)
			spawn(p);
		p->running++;
		pthread_mutex_unlock(&p->lock);
		dispatch(p, &cqe);
		pthread_mutex_lock(&p->lock);
		p->running--;
		p->idle++;
		pthread_cond_broadcast(&p->cond);
		if (!p->stopping && p->threads > p->max &&
		    p->threads > pool_floor(p))
			break;	/* the maximum was lowered */
	}
	p->idle--;
	p->threads--;
	p->exited++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int cport_pool_create(const struct cport_pool_opts *opts,
		      struct cport_pool **poolp)
{
	static const struct cport_pool_opts defaults;
	struct cport_info info;
	pthread_condattr_t ca;
	struct cport_pool *p;
	unsigned int max;
	int ret;

	if (!poolp)
		return -EINVAL;
	*poolp = NULL;
	if (!opts)
		opts = &defaults;
	if ((opts->flags & ~CPORT_POOL_PORT) ||
	    opts->max_threads > CPORT_POOL_MAX_THREADS ||
	    (opts->max_threads && opts->min_threads > opts->max_threads) ||
	    opts->min_threads > CPORT_POOL_MAX_THREADS ||
	    ((opts->flags & CPORT_POOL_PORT) && opts->concurrency) ||
	    opts->concurrency > CPORT_MAX_CONCURRENCY)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (opts->flags & CPORT_POOL_PORT) {
		p->port = opts->port;
	} else {
		struct cport_setup setup = { .concurrency = opts->concurrency };

		p->port = cport_create(&setup);
		if (p->port < 0) {
			ret = p->port;
			free(p);
			return ret;
		}
		p->own_port = true;
	}
	ret = cport_query(p->port, &info);
	if (ret < 0) {
		if (p->own_port)
			cport_close(p->port);
		free(p);
		return ret;
	}
	max = opts->max_threads;
	if (!max) {
		max = 2 * (info.concurrency ? info.concurrency : 1);
		if (max > CPORT_POOL_MAX_THREADS)
			max = CPORT_POOL_MAX_THREADS;
		if (max < opts->min_threads)
			max = opts->min_threads;
	}
	p->min = opts->min_threads;
	p->max = max;
	p->idle_ms = opts->idle_ms ? opts->idle_ms : CPORT_POOL_DEFAULT_IDLE_MS;
	p->fn = opts->fn;
	p->context = opts->context;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	*poolp = p;
	ret = cport_pool_set_threads(p, p->min, p->max);
	if (ret < 0) {
		cport_pool_destroy(p, 0);
		*poolp = NULL;
	}
	return ret;
}

int cport_pool_set_threads(struct cport_pool *p, unsigned int min,
			   unsigned int max)
{
	int ret = 0;

	if (!p || !max || min > max || max > CPORT_POOL_MAX_THREADS)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	p->min = min;
	p->max = max;
	while (!ret && p->threads < pool_floor(p) && !p->stopping)
		ret = spawn(p) ? -EAGAIN : 0;
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int cport_pool_port(struct cport_pool *p)
{
	return p ? p->port : -EINVAL;
}

static void deadline_ts(struct timespec *ts, long long ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += ts->tv_nsec;
	ts->tv_sec += ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
}

/* Wait on the pool's condition (under the lock) for at most @ns. */
static int cond_wait_ns(struct cport_pool *p, long long ns)
{
	struct timespec ts;

	if (ns < 0)
		return -pthread_cond_wait(&p->cond, &p->lock);
	deadline_ts(&ts, ns);
	return -pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

int cport_pool_submit(struct cport_pool *p, cport_pool_work_fn fn, void *arg)
{
	struct work *w;
	int ret = 0;

	if (!p || !fn)
		return -EINVAL;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->stopping)
		ret = -ESHUTDOWN;
	else if (!p->idle && p->threads < p->max && spawn(p) && !p->threads)
		ret = -EAGAIN;
	if (!ret)
		p->work_out++;
	pthread_mutex_unlock(&p->lock);
	if (!ret)
		ret = cport_post(p->port, (uintptr_t)w | TAG_WORK, 0, 0, 0);
	if (ret < 0) {
		free(w);
		if (ret != -ESHUTDOWN && ret != -EAGAIN) {
			pthread_mutex_lock(&p->lock);
			p->work_out--;
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->lock);
		}
	}
	return ret;
}

int cport_pool_wait_idle(struct cport_pool *p, long long timeout_ns)
{
	long long end = 0;
	struct timespec ts;
	int ret = 0;

	if (!p)
		return -EINVAL;
	if (cur_pool == p)
		return -EDEADLK;
	if (timeout_ns >= 0) {
		deadline_ts(&ts, timeout_ns);
		end = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	pthread_mutex_lock(&p->lock);
	while (p->work_out || p->running) {
		if (timeout_ns < 0) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		ts.tv_sec = end / 1000000000LL;
		ts.tv_nsec = end % 1000000000LL;
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) ==
		    ETIMEDOUT && (p->work_out || p->running)) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int cport_pool_bind(struct cport_pool *p, int fd, cport_pool_fn fn,
		    void *context, struct cport_pool_io **iop)
{
	struct cport_pool_io *io;
	int ret;

	if (!p || !fn || !iop)
		return -EINVAL;
	*iop = NULL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->pool = p;
	io->fn = fn;
	io->context = context;
	pthread_mutex_lock(&p->lock);
	ret = p->stopping ? -ESHUTDOWN : 0;
	pthread_mutex_unlock(&p->lock);
	if (!ret)
		ret = cport_associate(p->port, fd, cport_pool_io_key(io), 0);
	if (ret < 0) {
		free(io);
		return ret;
	}
	pthread_mutex_lock(&p->lock);
	io->next = p->ios;
	if (p->ios)
		p->ios->prev = io;
	p->ios = io;
	p->nbindings++;
	pthread_mutex_unlock(&p->lock);
	*iop = io;
	return 0;
}

__u64 cport_pool_io_key(const struct cport_pool_io *io)
{
	return (uintptr_t)io | TAG_IO;
}

/* Add @n (may be negative) to @io's started operations. */
static void io_count(struct cport_pool_io *io, long n)
{
	struct cport_pool *p = io->pool;
	struct cport_pool_io *done = NULL;

	pthread_mutex_lock(&p->lock);
	if (n < 0 && (unsigned long)-n > io->expected)
		n = -(long)io->expected;
	io->expected += n;
	p->io_expected += n;
	if (n > 0 && !p->threads)
		spawn(p);
	if (n < 0) {
		done = io_done(io);
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	io_free(done);
}

void cport_pool_io_start(struct cport_pool_io *io)
{
	if (io)
		io_count(io, 1);
}

void cport_pool_io_cancel(struct cport_pool_io *io)
{
	if (io)
		io_count(io, -1);
}

int cport_pool_io_submit(struct cport_pool_io *io, struct cport_sqe *sqes,
			 unsigned int nr)
{
	unsigned int i, taken = 0, posted = 0;
	int ret;

	if (!io || (!sqes && nr))
		return -EINVAL;
	if (!nr)
		return 0;
	pthread_mutex_lock(&io->pool->lock);
	ret = io->pool->stopping ? -ESHUTDOWN : 0;
	pthread_mutex_unlock(&io->pool->lock);
	if (ret)
		return ret;
	/* Counted before: another thread may run a callback at once. */
	io_count(io, nr);
	ret = cport_submit_and_wait(io->pool->port, sqes, nr, NULL, 0, 0,
				    &taken);
	for (i = 0; i < taken && i < nr; i++) {
		switch (sqes[i].opcode) {
		case CPORT_OP_RECV:
		case CPORT_OP_SEND:
		case CPORT_OP_ACCEPT:
		case CPORT_OP_CONNECT:
			if (sqes[i].status == CPORT_STATUS_PENDING ||
			    sqes[i].status == CPORT_STATUS_INLINE_POSTED)
				posted++;
			break;
		}
	}
	if (posted < nr)
		io_count(io, -(long)(nr - posted));
	return ret < 0 ? ret : (int)nr;
}

int cport_pool_io_wait(struct cport_pool_io *io, unsigned int flags)
{
	struct cport_pool *p;

	if (!io || (flags & ~CPORT_POOL_CANCEL))
		return -EINVAL;
	if (cur_io == io)
		return -EDEADLK;
	p = io->pool;
	pthread_mutex_lock(&p->lock);
	while (io->expected || io->running) {
		/*
		 * Cancel again each round: a callback may have started
		 * another operation meanwhile.
		 */
		if (flags & CPORT_POOL_CANCEL)
			cport_cancel(p->port, CPORT_CANCEL_KEY,
				     cport_pool_io_key(io));
		cond_wait_ns(p, flags & CPORT_POOL_CANCEL ? 50000000LL : -1);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int cport_pool_unbind(struct cport_pool_io *io, void (*release)(void *))
{
	struct cport_pool *p;
	struct cport_pool_io *done;

	if (!io)
		return -EINVAL;
	p = io->pool;
	pthread_mutex_lock(&p->lock);
	if (io->closed) {
		pthread_mutex_unlock(&p->lock);
		return -EINVAL;
	}
	io->closed = true;
	io->release = release;
	p->nbindings--;
	done = io_done(io);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	io_free(done);
	return 0;
}

int cport_pool_stats(struct cport_pool *p, struct cport_pool_stats *st)
{
	if (!p || !st)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	st->threads = p->threads;
	st->idle = p->idle;
	st->running = p->running;
	st->peak = p->peak;
	st->created = p->created;
	st->exited = p->exited;
	st->callbacks = p->callbacks;
	st->unhandled = p->unhandled;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int cport_pool_destroy(struct cport_pool *p, unsigned int flags)
{
	struct cport_pool_io *io, *next;
	unsigned int i, n;

	if (!p || (flags & ~CPORT_POOL_DISCARD))
		return -EINVAL;
	if (cur_pool == p)
		return -EDEADLK;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return -EINVAL;
	}
	p->stopping = true;
	p->discard = flags & CPORT_POOL_DISCARD;
	/*
	 * Every work item dequeued (run or dropped) and every started
	 * operation's callback run: cancel the bindings' operations, again
	 * each round, since a callback may start another.
	 */
	while (p->work_out || p->io_expected || p->running) {
		if (!p->threads)
			spawn(p);
		for (io = p->ios; io; io = io->next)
			if (io->expected)
				cport_cancel(p->port, CPORT_CANCEL_KEY,
					     cport_pool_io_key(io));
		cond_wait_ns(p, 100000000LL);
	}
	/* End the threads: destroy our own port, else one quit each. */
	n = p->threads;
	pthread_mutex_unlock(&p->lock);
	if (p->own_port)
		cport_destroy(p->port);
	else
		for (i = 0; i < n; i++)
			cport_post(p->port, KEY_QUIT, 0, 0, 0);
	pthread_mutex_lock(&p->lock);
	while (p->threads)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	if (p->own_port)
		close(p->port);
	/* Bindings never unbound: freed without a release call. */
	for (io = p->ios; io; io = next) {
		next = io->next;
		if (io->closed)
			io_free(io);
		else
			free(io);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return 0;
}
