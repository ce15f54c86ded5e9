/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the cport selftests: opening a set-up port, reading
 * the port's counters from /proc/self/fdinfo, telling whether a thread is
 * asleep, and a waiter thread that makes one wait and records what it got
 * (then exits, or parks until the test lets it go).
 *
 * "Wait until" helpers poll with a generous bound (PROGRESS_MS) that only
 * exists so a broken kernel fails the test instead of hanging it; nothing
 * here measures speed.
 */
#ifndef CPORT_TEST_H
#define CPORT_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"
#include "fdinfo.h"	/* fdinfo_read(), fdinfo_str(), fdinfo_get() */

/* Bound on waiting for something that must happen (a thread to fall
 * asleep, a counter to move).  The debug kernel is slow: be generous. */
#define PROGRESS_MS	20000

/* How long a thread that must stay asleep is watched. */
#define GRACE_MS	200

#define NSEC_PER_MSEC	1000000LL
#define NSEC_PER_SEC	1000000000LL

static inline long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline void sleep_ms(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * NSEC_PER_MSEC,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline pid_t sys_gettid(void)
{
	return syscall(SYS_gettid);
}

/*
 * Evaluates @cond every millisecond until it holds or @ms have passed;
 * the value is whether it held.
 */
#define wait_until(cond, ms) ({						\
	long long __end = now_ns() + (long long)(ms) * NSEC_PER_MSEC;	\
	bool __ok;							\
	while (!(__ok = (cond)) && now_ns() < __end)			\
		usleep(1000);						\
	__ok;								\
})

/*
 * The calling user's units (the per-user bound, max_user_units) from a
 * fresh port's fdinfo, or -1.  What an earlier test held comes back
 * asynchronously (a port freed once its last thread is reaped, one in
 * flight in a unix socket until the garbage collector runs): a test that
 * counts from zero waits for zero first.
 */
static inline long long user_units_now(void)
{
	int p = open(CPORT_DEV_PATH, O_RDWR | O_CLOEXEC);
	long long v;

	if (p < 0)
		return -1;
	v = fdinfo_get(p, "user_units");
	close(p);
	return v;
}

/* A port set up with these values; returns the descriptor or -errno. */
static inline int port_new_flags(unsigned int flags, unsigned int concurrency,
				 unsigned int policy, unsigned int max_queued)
{
	struct cport_setup s = {
		.flags = flags,
		.concurrency = concurrency,
		.policy = policy,
		.max_queued = max_queued,
	};

	return cport_create(&s);
}

static inline int port_new(unsigned int concurrency, unsigned int policy,
			   unsigned int max_queued)
{
	return port_new_flags(0, concurrency, policy, max_queued);
}

/*
 * A port with concurrency 1 and no block tracking whose one slot the
 * calling thread holds (it took completion 1), with completion 2 queued
 * behind it: a thread that waits now is held back.  (The port must not
 * track blocking: the caller keeps the slot while it sleeps in helpers.)
 * Returns the descriptor or -errno.
 */
static inline int port_slot_held(void)
{
	struct cport_cqe cqe;
	int port, ret;

	port = port_new_flags(CPORT_SETUP_NO_BLOCK_TRACKING, 1,
			      CPORT_POLICY_LIFO, 0);
	if (port < 0)
		return port;
	ret = cport_post(port, 0, 1, 0, 0);
	if (!ret) {
		ret = cport_wait(port, &cqe, 1, 0);
		if (ret == 1)
			ret = cport_post(port, 0, 2, 0, 0);
		else if (ret >= 0)
			ret = -EPROTO;
	}
	if (ret) {
		close(port);
		return ret;
	}
	return port;
}

/*
 * Take what is queued on @port without sleeping: the number of completions
 * copied to @cqes (0 if none), or -errno.
 */
static inline int port_drain(int port, struct cport_cqe *cqes,
			     unsigned int max)
{
	int ret = cport_wait(port, cqes, max, 0);

	return ret == -ETIMEDOUT ? 0 : ret;
}

/* Number of open descriptors of this process, or -1. */
static inline int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* An address whose page faults on any access (PROT_NONE), or NULL. */
static inline void *fault_page(void)
{
	void *p = mmap(NULL, getpagesize(), PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * An anonymous page whose first touch, by the kernel too (root: not
 * UFFD_USER_MODE_ONLY), waits on the returned userfaultfd until it is
 * resolved (UFFDIO_COPY); -errno if that cannot be had.
 */
static inline int uffd_page(void **page, long size)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int uffd;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return -errno;
	*page = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*page == MAP_FAILED) {
		close(uffd);
		return -ENOMEM;
	}
	reg.range.start = (unsigned long)*page;
	reg.range.len = size;
	if (ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		munmap(*page, size);
		close(uffd);
		return -EOPNOTSUPP;
	}
	return uffd;
}

/* The debug kernel runs ~20x slower: loops scale down there. */
static inline bool slow_kernel(void)
{
	return !access("/proc/lockdep", F_OK) ||
	       !access("/sys/kernel/debug/kmemleak", F_OK);
}

/* Wait until fdinfo field @name of @fd reads @value. */
static inline bool fdinfo_wait(int fd, const char *name, long long value)
{
	return wait_until(fdinfo_get(fd, name) == value, PROGRESS_MS);
}

/* The scheduler state letter of thread @tid of this process, or '?'. */
static inline char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return '?';
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Wait until thread @tid is in an interruptible sleep. */
static inline bool task_wait_sleeping(pid_t tid)
{
	return wait_until(task_state(tid) == 'S', PROGRESS_MS);
}

/*
 * The system call thread @tid is in (from /proc/.../syscall), or -1 when
 * it is running in user space or the file cannot be read.
 */
static inline long task_syscall(pid_t tid)
{
	char path[64], buf[256];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Wait until thread @tid sleeps inside system call @nr1 or @nr2. */
static inline bool task_wait_blocked_in(pid_t tid, long nr1, long nr2)
{
	return wait_until(task_state(tid) == 'S' &&
			  (task_syscall(tid) == nr1 || task_syscall(tid) == nr2),
			  PROGRESS_MS);
}

/*
 * The number on the line "@key" of the status file @path (a line that
 * starts with @key, so "voluntary_ctxt_switches:" never matches the
 * "nonvoluntary_" line), or -1.
 */
static inline long long status_field(const char *path, const char *key)
{
	size_t len = strlen(key);
	char buf[4096], *p;
	ssize_t n;
	int f;

	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, key)); p++)
		if (p == buf || p[-1] == '\n')
			return strtoll(p + len, NULL, 10);
	return -1;
}

/* Write @s to the file @path (sysfs, tracefs): 0 or -errno. */
static inline int write_str(const char *path, const char *s)
{
	int f = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (f < 0)
		return -errno;
	n = write(f, s, strlen(s));
	close(f);
	return n == (ssize_t)strlen(s) ? 0 : n < 0 ? -errno : -EIO;
}

/* The module's parameters (writable by root) */
#define PARAM_UNITS	"/sys/module/cport/parameters/max_user_units"
#define PARAM_GRACE	"/sys/module/cport/parameters/grace_us"

/* A file that holds one number (a module parameter, memory.current), or -1. */
static inline long long read_param(const char *path)
{
	return status_field(path, "");
}

static inline int write_param(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", v);
	return write_str(path, buf);
}

/* The calling thread's voluntary context switches, or -1. */
static inline long long voluntary_switches(void)
{
	return status_field("/proc/thread-self/status",
			    "voluntary_ctxt_switches:");
}

/* Thread @tid's involuntary context switches (preemptions), or -1. */
static inline long long nonvoluntary_switches(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	return status_field(path, "nonvoluntary_ctxt_switches:");
}

/* Raise *@max to @v if @v is larger (atomically, from any thread). */
static inline void note_max(unsigned int *max, unsigned int v)
{
	unsigned int cur = __atomic_load_n(max, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(max, &cur, v, false,
						      __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED))
		;
}

/*
 * A thread that makes one cport_wait() and records the result.  Returns
 * are numbered in the order they happened, across all waiters sharing
 * @seq, so a test can tell which thread a completion released.
 *
 * A thread that exits stops counting against the port's concurrency value,
 * and so does one that blocks (sleeps) on a port that tracks blocking.  A
 * test about the plain running count starts its waiters parked
 * (waiter_start_parked()) on a port set up with
 * CPORT_SETUP_NO_BLOCK_TRACKING: after its wait a parked waiter stays
 * alive (sleeping, so still counted there) until waiter_unpark().
 */
#define WAITER_MAX_CQES	16

struct waiter {
	pthread_t thread;
	int port;
	unsigned int max;
	long long timeout_ns;
	int *seq;		/* shared return counter */
	pid_t tid;		/* set before the wait; read with acquire */
	int ret;
	int order;		/* value of *seq at return */
	int done;		/* set after ret/order; read with acquire */
	long long done_ns;	/* now_ns() when the wait returned */
	int park;		/* stay alive after the wait until unpark */
	int unpark;		/* set by waiter_unpark() */
	struct cport_cqe cqes[WAITER_MAX_CQES];
};

static inline void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	w->ret = cport_wait(w->port, w->cqes, w->max, w->timeout_ns);
	w->done_ns = now_ns();
	w->order = __atomic_fetch_add(w->seq, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	while (w->park && !__atomic_load_n(&w->unpark, __ATOMIC_ACQUIRE))
		usleep(1000);
	return NULL;
}

static inline int __waiter_start(struct waiter *w, int port, unsigned int max,
				 long long timeout_ns, int *seq, bool park)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->park = park;
	w->port = port;
	w->max = max;
	w->timeout_ns = timeout_ns;
	w->seq = seq;
	ret = pthread_create(&w->thread, NULL, waiter_fn, w);
	if (ret)
		return -ret;
	if (!wait_until(__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE),
			PROGRESS_MS))
		return -ETIMEDOUT;
	return 0;
}

/* Start @w waiting on @port; returns 0 once the thread runs, or -errno. */
static inline int waiter_start(struct waiter *w, int port, unsigned int max,
			       long long timeout_ns, int *seq)
{
	return __waiter_start(w, port, max, timeout_ns, seq, false);
}

/* The same, but the thread stays alive after its wait until unparked. */
static inline int waiter_start_parked(struct waiter *w, int port,
				      unsigned int max, long long timeout_ns,
				      int *seq)
{
	return __waiter_start(w, port, max, timeout_ns, seq, true);
}

/* Let a parked waiter exit (after its wait, if it still waits). */
static inline void waiter_unpark(struct waiter *w)
{
	__atomic_store_n(&w->unpark, 1, __ATOMIC_RELEASE);
}

static inline bool waiter_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/* Number of @n waiters that have returned. */
static inline int waiters_done(struct waiter *w, int n)
{
	int i, done = 0;

	for (i = 0; i < n; i++)
		done += waiter_done(&w[i]);
	return done;
}

#endif /* CPORT_TEST_H */
