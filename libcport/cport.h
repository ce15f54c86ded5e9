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
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/cport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPORT_DEV_PATH	"/dev/cport"

/*
 * Open a new port, not yet set up.  The descriptor is always close-on-exec
 * (a port cannot be used after execve() anyway).  Returns the port
 * descriptor or open()'s -errno (-ENOENT: the module is not loaded).
 */
int cport_open(void);

/*
 * Open a port and set it up (CPORT_IOC_SETUP); setup == NULL keeps the
 * defaults and skips the call.  Returns the port descriptor or -errno
 * (nothing is left open on failure).
 */
int cport_create(const struct cport_setup *setup);

/*
 * CPORT_IOC_SETUP.  Returns 0 or -errno.  Passes the fields up to
 * max_pending (CPORT_SETUP_SIZE_VER1), not policy_name: select a policy
 * by name with cport_create_named().
 */
int cport_setup(int port, const struct cport_setup *setup);

/*
 * CPORT_IOC_QUERY.  Returns 0 or -errno.  Fills the fields up to
 * resv (CPORT_INFO_SIZE_VER0); cport_query_policies() fills them all.
 */
int cport_query(int port, struct cport_info *info);

/*
 * Open a port and set it up with the release policy named @policy_name
 * (a built-in one: "lifo", "fifo", "rr", "cpu", or one a kernel module
 * registered) and the other fields of @setup (NULL: defaults; its policy
 * must be 0, its policy_name is not used).  Returns the port descriptor or
 * -errno: -EINVAL for an empty name or one of CPORT_POLICY_NAME_LEN
 * bytes or more, -ENOENT if no such policy is registered, -E2BIG from a
 * kernel without policy names (since LIBCPORT_1.2).
 */
int cport_create_named(const char *policy_name,
		       const struct cport_setup *setup);

/*
 * CPORT_IOC_QUERY with the whole struct cport_info of this header: also
 * the port's policy name and the names of the registered policies.  A
 * kernel that knows fewer fields returns the others zero (since
 * LIBCPORT_1.2).
 */
int cport_query_policies(int port, struct cport_info *info);

/*
 * CPORT_IOC_ENTER as is.  Returns what the ioctl returns (the number of
 * completions copied) or -errno; e->submitted is updated by the kernel.
 */
int cport_enter(int port, struct cport_enter *e);

/*
 * Submit nr records without waiting.  The kernel writes each socket
 * operation's status (and an inline result) back into its record.
 * Returns nr when all were taken, 0
 * for nr == 0, or the -errno of the first one that failed; the ones before
 * it were taken.  Use cport_submit_and_wait() with max == 0 to learn how
 * many were taken before a failure.
 */
int cport_submit(int port, struct cport_sqe *sqes, unsigned int nr);

/*
 * Submit nr records, then wait for up to max completions into cqes
 * (timeout_ns < 0: no limit, 0: only look, > 0: relative nanoseconds).
 * Returns the number of completions copied, or -errno (a submission's
 * error, -ETIMEDOUT, -EINTR, -EIDRM, ...).  If submitted is not NULL it
 * receives the number of submissions taken, also on failure.
 */
int cport_submit_and_wait(int port, struct cport_sqe *sqes,
			  unsigned int nr, struct cport_cqe *cqes,
			  unsigned int max, long long timeout_ns,
			  unsigned int *submitted);

/*
 * Wait for up to max completions.  Returns how many were copied (>= 1),
 * -ETIMEDOUT, -EINTR, -EIDRM, or another -errno.
 */
int cport_wait(int port, struct cport_cqe *cqes, unsigned int max,
	       long long timeout_ns);

/*
 * The completion ring (since LIBCPORT_1.3; uapi/linux/cport.h, "The
 * completion ring"): completions a running thread takes without a system
 * call.  Filled by cport_ring_map(); port is the port's descriptor.
 */
struct cport_ring {
	int			port;
	unsigned int		entries;
	unsigned int		mask;
	size_t			size;	/* of the mapping */
	struct cport_ring_hdr	*hdr;
	struct cport_cqe	*cqes;
};

/*
 * Open a port, set it up with @setup (NULL: defaults; all its fields,
 * policy_name included, its ring_entries replaced) and a ring of @entries
 * (a power of two, at most CPORT_MAX_RING_ENTRIES), and map the ring into
 * @ring.  Returns the port descriptor or -errno (-EINVAL: entries; -E2BIG:
 * a kernel without rings; mmap()'s errors); nothing is left open on
 * failure.
 */
int cport_create_ring(const struct cport_setup *setup, unsigned int entries,
		      struct cport_ring *ring);

/*
 * Map the ring of @port, set up with one, into @ring.  Returns 0 or
 * -errno (-ENODEV: the port has no ring).
 */
int cport_ring_map(int port, struct cport_ring *ring);

/* Unmap it (the port stays open: cport_close() it). */
void cport_ring_unmap(struct cport_ring *ring);

/*
 * Take up to @max completions from the ring, oldest first, without a
 * system call; any number of threads may take at once.  The bare step:
 * a thread the port does not count as running that takes runs beyond the
 * concurrency value (cport_ring_wait() takes only when counted).  Returns how many
 * (0: the ring is empty, which does not mean that the kernel has none:
 * completions that carry a descriptor, and those that did not fit,
 * wait in the kernel's queue).
 */
unsigned int cport_ring_take(struct cport_ring *ring, struct cport_cqe *cqes,
			     unsigned int max);

/*
 * cport_wait(), taking from the ring first: the system call only when the
 * ring is empty.  Only in a thread the port counts as running (its last
 * wait in the kernel through these calls returned completions); another
 * thread waits in the kernel, held back at the concurrency value.
 */
int cport_ring_wait(struct cport_ring *ring, struct cport_cqe *cqes,
		    unsigned int max, long long timeout_ns);

/*
 * cport_submit_and_wait() in one system call (two if other threads took
 * the ring's entries meanwhile): with nothing to
 * submit, the ring first, as cport_ring_wait(); with submissions and
 * entries in the ring, a submission without wait, then the ring; else one
 * call that submits and waits (the kernel takes from the ring first).
 */
int cport_ring_submit_and_wait(struct cport_ring *ring, struct cport_sqe *sqes,
			       unsigned int nr, struct cport_cqe *cqes,
			       unsigned int max, long long timeout_ns,
			       unsigned int *submitted);

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

/*
 * Associate socket fd with the port under key (CPORT_ASSOC_* flags).
 * Returns 0 or -errno (-ENOTSOCK, -EOPNOTSUPP, -EEXIST, -EBUSY, ...).
 */
int cport_associate(int port, int fd, __u64 key, unsigned int flags);

/* End fd's association.  Returns 0 or -errno (-ENOENT, -EBUSY). */
int cport_dissociate(int port, int fd);

/*
 * Cancel pending operations: how is one CPORT_CANCEL_* selector, what the
 * user_data, fd or key it selects by (ignored for CPORT_CANCEL_ALL).
 * Returns the number of operations cancelled (each then completes once,
 * with -ECANCELED or its real result), -ENOENT if none was pending, or
 * another -errno.
 */
int cport_cancel(int port, unsigned int how, __u64 what);

/*
 * Connect socket fd (associated with the port) to addr asynchronously:
 * connect(2) on it, non-blocking for the call (its O_NONBLOCK flag is put
 * back after), so the connect is checked and audited as the caller's own;
 * then a CPORT_OP_CONNECT of data (NULL, 0 for none) with user_data and
 * sqe_flags (CPORT_SQE_*), which completes when the connection is
 * established and data sent (res = 0, or len with data) or the connect
 * fails (res = -ECONNREFUSED, -ETIMEDOUT, ...).  Returns the CONNECT's
 * status (CPORT_STATUS_PENDING, or an inline one, with *sqe holding the
 * result if sqe is not NULL), or -errno if connect(2) failed at once or
 * the submission did (nothing is posted then).  A unix stream socket
 * connects at once or fails (-EAGAIN: the listener's backlog is full).
 */
int cport_connect(int port, int fd, const struct sockaddr *addr,
		  socklen_t addrlen, const void *data, size_t len,
		  __u64 user_data, unsigned int sqe_flags,
		  struct cport_sqe *sqe);

/*
 * The fill every cport_prep_*() helper starts with, as liburing's
 * io_uring_prep_rw(): zero the record (the kernel wants every field an
 * opcode does not use zero), then set the opcode and the fields most
 * opcodes share.  Each helper then sets only what is its own.
 */
static inline void cport_prep_rw(__u8 op, struct cport_sqe *sqe, int fd,
				 const void *addr, __u64 len,
				 __u64 user_data)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->addr = (__u64)(unsigned long)addr;
	sqe->len = len;
	sqe->user_data = user_data;
}

/* Fill *sqe as a CPORT_OP_POST of (key, user_data, res, bytes). */
static inline void cport_prep_post(struct cport_sqe *sqe, __u64 key,
				   __u64 user_data, __s64 res, __u64 bytes)
{
	cport_prep_rw(CPORT_OP_POST, sqe, 0, NULL, bytes, user_data);
	sqe->key = key;
	sqe->res = res;
}

/* Fill *sqe as a CPORT_OP_ASSOCIATE of socket fd under key. */
static inline void cport_prep_associate(struct cport_sqe *sqe, int fd,
					__u64 key, unsigned int flags)
{
	cport_prep_rw(CPORT_OP_ASSOCIATE, sqe, fd, NULL, 0, 0);
	sqe->key = key;
	sqe->op_flags = flags;
}

/* Fill *sqe as a CPORT_OP_DISSOCIATE of socket fd. */
static inline void cport_prep_dissociate(struct cport_sqe *sqe, int fd)
{
	cport_prep_rw(CPORT_OP_DISSOCIATE, sqe, fd, NULL, 0, 0);
}

/*
 * Fill *sqe as a CPORT_OP_RECV into buf (len 0 and buf NULL: a zero-byte
 * recv); flags are CPORT_RECV_*.  Set sqe->flags (CPORT_SQE_INLINE,
 * CPORT_SQE_POST) and sqe->timeout_ns afterwards if wanted.
 */
static inline void cport_prep_recv(struct cport_sqe *sqe, int fd, void *buf,
				   size_t len, __u64 user_data,
				   unsigned int flags)
{
	cport_prep_rw(CPORT_OP_RECV, sqe, fd, buf, len, user_data);
	sqe->op_flags = flags;
}

/*
 * Fill *sqe as a CPORT_OP_RECV into a buffer that buffer group group
 * provides when data is there (CPORT_RECV_BUFFER): the completion says
 * which (CPORT_CQE_F_BUFFER, cqe->buf).  len: at most that many bytes, 0
 * for the whole buffer.  flags: CPORT_RECV_MULTISHOT for a completion per
 * arrival (each with CPORT_CQE_F_MORE, numbered in cqe->seq from 0) until
 * it ends.
 */
static inline void cport_prep_recv_buffer(struct cport_sqe *sqe, int fd,
					  unsigned int group, size_t len,
					  __u64 user_data, unsigned int flags)
{
	cport_prep_rw(CPORT_OP_RECV, sqe, fd, NULL, len, user_data);
	sqe->key = group;
	sqe->op_flags = flags | CPORT_RECV_BUFFER;
}

/* A multishot RECV from buffer group group: cport_prep_recv_buffer(). */
static inline void cport_prep_recv_multishot(struct cport_sqe *sqe, int fd,
					     unsigned int group,
					     __u64 user_data)
{
	cport_prep_recv_buffer(sqe, fd, group, 0, user_data,
			       CPORT_RECV_MULTISHOT);
}

/*
 * Fill *sqe as a CPORT_OP_READ of up to len bytes into buf from fd: a
 * pipe, FIFO, eventfd or pollable character device (its completions carry
 * key), or an associated socket (key 0: the association's).  It completes
 * as soon as there is data, with 0 at end of file.  Set sqe->flags and
 * sqe->timeout_ns afterwards if wanted.
 */
static inline void cport_prep_read(struct cport_sqe *sqe, int fd, void *buf,
				   size_t len, __u64 key, __u64 user_data)
{
	cport_prep_rw(CPORT_OP_READ, sqe, fd, buf, len, user_data);
	sqe->key = key;
}

/*
 * Fill *sqe as a CPORT_OP_WRITE of all len bytes of buf to fd (as
 * cport_prep_read()): it completes when all of it is written (res = len),
 * or on an error (-EPIPE when no reader is left) with bytes = what was.
 */
static inline void cport_prep_write(struct cport_sqe *sqe, int fd,
				    const void *buf, size_t len, __u64 key,
				    __u64 user_data)
{
	cport_prep_rw(CPORT_OP_WRITE, sqe, fd, buf, len, user_data);
	sqe->key = key;
}

/*
 * Fill *sqe as a CPORT_OP_PROVIDE_BUFFERS: nr buffers of len bytes each,
 * back to back from addr, with ids bid, bid + 1, ..., given to buffer
 * group group (a buffer a completion handed over is given back with
 * nr = 1 and its own address and id).
 */
static inline void cport_prep_provide_buffers(struct cport_sqe *sqe,
					      unsigned int group, void *addr,
					      unsigned int len, unsigned int nr,
					      unsigned int bid)
{
	cport_prep_rw(CPORT_OP_PROVIDE_BUFFERS, sqe, (int)nr, addr, len, bid);
	sqe->key = group;
}

/* Fill *sqe as a CPORT_OP_SEND of the whole of buf. */
static inline void cport_prep_send(struct cport_sqe *sqe, int fd,
				   const void *buf, size_t len,
				   __u64 user_data)
{
	cport_prep_rw(CPORT_OP_SEND, sqe, fd, buf, len, user_data);
}

/*
 * Fill *sqe as a CPORT_OP_RECV into the iovcnt buffers of iov, filled in
 * order as one (readv(2)); flags are CPORT_RECV_FILL or 0.  The array is
 * read at submission; the buffers belong to the kernel until completion.
 */
static inline void cport_prep_recvv(struct cport_sqe *sqe, int fd,
				    const struct iovec *iov, unsigned int iovcnt,
				    __u64 user_data, unsigned int flags)
{
	cport_prep_rw(CPORT_OP_RECV, sqe, fd, iov, iovcnt, user_data);
	sqe->op_flags = flags | CPORT_RECV_VEC;
}

/* Fill *sqe as a CPORT_OP_SEND of the whole of the iovcnt buffers of iov. */
static inline void cport_prep_sendv(struct cport_sqe *sqe, int fd,
				    const struct iovec *iov, unsigned int iovcnt,
				    __u64 user_data)
{
	cport_prep_rw(CPORT_OP_SEND, sqe, fd, iov, iovcnt, user_data);
	sqe->op_flags = CPORT_SEND_VEC;
}

/*
 * Fill *sqe as a CPORT_OP_RECVMSG on socket fd: recvmsg(2) with msg's
 * msg_name (the peer's address), msg_iov and msg_control; flags
 * CPORT_RECVMSG_CMSG_CLOEXEC or 0.  The msghdr and its iovec array are
 * read at submission; the buffers they point to, and the msghdr itself
 * (msg_namelen, msg_controllen and msg_flags are written back into it),
 * belong to the kernel until the operation completes.
 */
static inline void cport_prep_recvmsg(struct cport_sqe *sqe, int fd,
				      struct msghdr *msg, __u64 user_data,
				      unsigned int flags)
{
	cport_prep_rw(CPORT_OP_RECVMSG, sqe, fd, msg, 0, user_data);
	sqe->op_flags = flags;
}

/*
 * Fill *sqe as a CPORT_OP_SENDMSG on socket fd: sendmsg(2) of msg's
 * msg_iov to msg_name (if set), with msg_control.  The msghdr, its iovec
 * array, the address and the control data are read at submission; the
 * buffers belong to the kernel until the operation completes.
 */
static inline void cport_prep_sendmsg(struct cport_sqe *sqe, int fd,
				      const struct msghdr *msg,
				      __u64 user_data)
{
	cport_prep_rw(CPORT_OP_SENDMSG, sqe, fd, msg, 0, user_data);
}

/*
 * Fill *sqe as a CPORT_OP_ACCEPT on listening socket fd.  addr/addrlen:
 * room for the peer's address (NULL, 0 for none); flags CPORT_ACCEPT_*;
 * key: the new socket's key with CPORT_ACCEPT_ASSOCIATE.
 */
static inline void cport_prep_accept(struct cport_sqe *sqe, int fd,
				     void *addr, size_t addrlen,
				     __u64 user_data, __u64 key,
				     unsigned int flags)
{
	cport_prep_rw(CPORT_OP_ACCEPT, sqe, fd, addr, addrlen, user_data);
	sqe->key = key;
	sqe->op_flags = flags;
}

/*
 * Fill *sqe as a CPORT_OP_CONNECT on socket fd, whose connect(2) was
 * started (cport_connect() does both): completes once connected and data
 * (NULL, 0 for none) is sent.
 */
static inline void cport_prep_connect(struct cport_sqe *sqe, int fd,
				      const void *data, size_t len,
				      __u64 user_data)
{
	cport_prep_rw(CPORT_OP_CONNECT, sqe, fd, data, len, user_data);
}

/*
 * Fill *sqe as a CPORT_OP_SENDFILE of the transfer sf describes (head, a
 * range of a regular file, tail: TransmitFile); *sf is read at
 * submission and may be reused once the submission returns.
 */
static inline void cport_prep_sendfile(struct cport_sqe *sqe, int fd,
				       const struct cport_sendfile *sf,
				       __u64 user_data)
{
	cport_prep_rw(CPORT_OP_SENDFILE, sqe, fd, sf, sizeof(*sf), user_data);
}

/*
 * Fill *sqe as a CPORT_OP_DISCONNECT (DisconnectEx): shut the socket down
 * for writing after the sends before it; flags CPORT_DISCONNECT_WAIT to
 * complete only once the peer has shut down its side too.
 */
static inline void cport_prep_disconnect(struct cport_sqe *sqe, int fd,
					 unsigned int flags, __u64 user_data)
{
	cport_prep_rw(CPORT_OP_DISCONNECT, sqe, fd, NULL, 0, user_data);
	sqe->op_flags = flags;
}

/*
 * Fill *sqe as a CPORT_OP_CANCEL: how is one CPORT_CANCEL_* selector, what
 * the user_data, fd or key it selects by (unused for CPORT_CANCEL_ALL).
 */
static inline void cport_prep_cancel(struct cport_sqe *sqe, unsigned int how,
				     __u64 what)
{
	cport_prep_rw(CPORT_OP_CANCEL, sqe, 0, NULL, 0, 0);
	sqe->op_flags = how;
	if (how == CPORT_CANCEL_USER_DATA)
		sqe->user_data = what;
	else if (how == CPORT_CANCEL_FD)
		sqe->fd = (int)what;
	else if (how == CPORT_CANCEL_KEY)
		sqe->key = what;
}

#ifdef __cplusplus
}
#endif

#endif /* LIBCPORT_CPORT_H */
