/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport: a thin user-space library for cport, the I/O completion ports
 * of /dev/cport (see <linux/cport.h> for the kernel ABI and its semantics).
 *
 * Every function returns a value >= 0 on success or a negative errno on
 * failure; the library never reports errors through errno alone.  The
 * cport_prep_*() helpers are inline and only fill a record: they make no
 * call and cannot fail.
 */
#ifndef LIBCPORT_CPORT_H
#define LIBCPORT_CPORT_H

#include <string.h>
#include <linux/cport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPORT_DEV_PATH	"/dev/cport"

/*
 * Open a new port, not yet set up.  The descriptor is always close-on-exec
 * (a port cannot be used after execve() anyway); flags is 0 or O_CLOEXEC,
 * anything else is reserved (-EINVAL).  Returns the port descriptor or
 * open()'s -errno (-ENOENT: the module is not loaded).
 */
int cport_open(unsigned int flags);

/*
 * Open a port and set it up (CPORT_IOC_SETUP); setup == NULL keeps the
 * defaults and skips the call.  Returns the port descriptor or -errno
 * (nothing is left open on failure).
 */
int cport_create(const struct cport_setup *setup);

/* CPORT_IOC_SETUP.  Returns 0 or -errno. */
int cport_setup(int port, const struct cport_setup *setup);

/* CPORT_IOC_QUERY.  Returns 0 or -errno. */
int cport_query(int port, struct cport_info *info);

/*
 * CPORT_IOC_ENTER as is.  Returns what the ioctl returns (the number of
 * completions copied) or -errno; e->submitted is updated by the kernel.
 */
int cport_enter(int port, struct cport_enter *e);

/*
 * Submit nr records without waiting.  Returns nr when all were taken, 0
 * for nr == 0, or the -errno of the first one that failed; the ones before
 * it were taken.  Use cport_submit_and_wait() with max == 0 to learn how
 * many were taken before a failure.
 */
int cport_submit(int port, const struct cport_sqe *sqes, unsigned int nr);

/*
 * Submit nr records, then wait for up to max completions into cqes
 * (timeout_ns < 0: no limit, 0: only look, > 0: relative nanoseconds).
 * Returns the number of completions copied, or -errno (a submission's
 * error, -ETIMEDOUT, -EINTR, -EIDRM, ...).  If submitted is not NULL it
 * receives the number of submissions taken, also on failure.
 */
int cport_submit_and_wait(int port, const struct cport_sqe *sqes,
			  unsigned int nr, struct cport_cqe *cqes,
			  unsigned int max, long long timeout_ns,
			  unsigned int *submitted);

/*
 * Wait for up to max completions.  Returns how many were copied (>= 1),
 * -ETIMEDOUT, -EINTR, -EIDRM, or another -errno.
 */
int cport_wait(int port, struct cport_cqe *cqes, unsigned int max,
	       long long timeout_ns);

/* Queue one completion (CPORT_OP_POST).  Returns 0 or -errno (-ENOSPC). */
int cport_post(int port, __u64 key, __u64 user_data, __s64 res, __u64 bytes);

/*
 * CPORT_IOC_DESTROY: wake every waiter with -EIDRM and discard what is
 * queued.  Returns 0 or -errno (-EIDRM if already destroyed).
 */
int cport_destroy(int port);

/*
 * CPORT_IOC_LEAVE: the calling thread stops being associated with @port
 * (it no longer counts against the port's concurrency value).  Returns 0,
 * or -ENOENT if the thread is not associated with @port.
 */
int cport_leave(int port);

/*
 * Destroy the port (an already destroyed one is fine), then close the
 * descriptor.  The descriptor is closed in every case; returns 0, or the
 * first -errno other than -EIDRM (e.g. -EPERM from a process that does not
 * own the port: its descriptor is closed, the port is not destroyed).
 */
int cport_close(int port);

/* Fill *sqe as a CPORT_OP_POST of (key, user_data, res, bytes). */
static inline void cport_prep_post(struct cport_sqe *sqe, __u64 key,
				   __u64 user_data, __s64 res, __u64 bytes)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = CPORT_OP_POST;
	sqe->key = key;
	sqe->user_data = user_data;
	sqe->res = res;
	sqe->len = bytes;
}

#ifdef __cplusplus
}
#endif

#endif /* LIBCPORT_CPORT_H */
