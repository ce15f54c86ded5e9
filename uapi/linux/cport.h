/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cport: I/O completion ports for Linux.
 *
 * Each open() of /dev/cport is a port: a kernel queue of completions and a
 * set of threads waiting for them.  A completion releases exactly one
 * waiting thread (the most recent one under the default LIFO policy), by
 * direct handoff under the port lock, and a concurrency value limits how
 * many of the port's threads run at once, as on Windows.
 *
 * Every record can grow.  struct cport_setup is size-extensible (the
 * kernel reads _IOC_SIZE(cmd) bytes and requires any bytes it does not
 * know to be zero), and so is struct cport_info in the other direction
 * (the kernel writes _IOC_SIZE(cmd) bytes, zero past what it knows).  The
 * records that travel in arrays carry their size in struct cport_enter:
 * sqe_size (a newer program's longer submissions are accepted as long as
 * the bytes this kernel does not know are zero) and cqe_size.  struct
 * cport_enter and struct cport_cqe keep reserved fields.  Every reserved
 * field and unknown flag must be zero or the call fails with -EINVAL;
 * unknown commands fail with -ENOTTY.
 *
 * The ioctl numbers are type 0xC9, numbers 0x00-0x1f (docs/ioctl-number.md).
 *
 * open() of /dev/cport fails with -EPERM in a thread without an address
 * space (a kernel thread): a port moves its owner's memory.
 *
 * Errors common to every ioctl, in the order they are checked:
 *   -ENOTTY  unknown command: a number, direction or size this header
 *            does not define (CPORT_IOC_SETUP and CPORT_IOC_QUERY accept
 *            other sizes).
 *   -EPERM   the port belongs to another process (inherited through
 *            fork(), passed over a unix socket, or used after execve()).
 *   -EFAULT, -EINVAL, -E2BIG   the argument: a bad pointer (the ioctl
 *            argument or one inside it), an unknown flag, a non-zero
 *            reserved field, a value out of range.
 *   -EIDRM   the port was destroyed with CPORT_IOC_DESTROY (QUERY, which
 *            has no input, reports this before a bad pointer; LEAVE still
 *            works).
 *   -EBUSY   (SETUP) the port is already set up or in use.
 *
 * A port is "in use" from its first successful post, its first wait that
 * got past argument checking and joined the thread to the port (even one
 * that timed out; not one that failed with -ENOMEM), or its SETUP.
 *
 * poll(): the port fd is readable (EPOLLIN | EPOLLRDNORM) while
 * completions are queued, not while they are only handed to a waiter;
 * after CPORT_IOC_DESTROY it reports EPOLLHUP alone.
 */
#ifndef _UAPI_LINUX_CPORT_H
#define _UAPI_LINUX_CPORT_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/const.h>

#define CPORT_API_VERSION	1

/* Release policies: which waiting thread a new completion goes to. */
enum {
	CPORT_POLICY_LIFO	= 0,	/* most recent waiter (default) */
	CPORT_POLICY_FIFO	= 1,	/* oldest waiter */
	CPORT_POLICY_RR		= 2,	/* threads in turn: the waiter that
					 * follows the last one released, in
					 * the order threads joined the port
					 */
	CPORT_POLICY_CPU	= 3,	/* the most recent waiter that went
					 * to sleep on the CPU where the
					 * completion is produced, else LIFO
					 */
	CPORT_POLICY__NR,
};

/*
 * Policies also have names: the four above are "lifo", "fifo", "rr" and
 * "cpu", and a kernel module can register more (cport_register_policy(),
 * docs/policies.md).  A registered policy has no number: it is selected
 * by name only (struct cport_setup.policy_name), and a port using one
 * reports CPORT_POLICY_NAMED in struct cport_info.policy.  A name is 1 to
 * CPORT_POLICY_NAME_LEN - 1 bytes, NUL-terminated, zero-padded.
 */
#define CPORT_POLICY_NAME_LEN	16
#define CPORT_POLICY_NAMED	0xffffffffU
/* The most policies registered at once, the four built-in ones included. */
#define CPORT_MAX_POLICIES	16

/*
 * CPORT_IOC_SETUP: configure a fresh port.  Allowed once, before the port
 * is first used for a submission or a wait (-EBUSY afterwards).  A port
 * that is never set up uses the defaults (all fields zero).
 *
 * Errors, in the order they are checked:
 *   -EINVAL  the argument is shorter than CPORT_SETUP_SIZE_VER0 (the
 *            command's size field, _IOC_SIZE, is the argument's size)
 *   -E2BIG   the argument is larger than a page, or has non-zero bytes
 *            beyond the fields this kernel knows
 *   -EINVAL  unknown flags, policy >= CPORT_POLICY__NR,
 *            concurrency > CPORT_MAX_CONCURRENCY,
 *            max_queued > CPORT_MAX_QUEUED,
 *            max_pending > CPORT_MAX_PENDING, resv != 0,
 *            policy_name not NUL-terminated within its 16 bytes, or
 *            with non-zero bytes after its NUL, or policy != 0 with a
 *            policy_name, ring_entries not a power of two up to
 *            CPORT_MAX_RING_ENTRIES, resv3 != 0
 *   -ENOENT  no policy of that name is registered (a policy module is
 *            not loaded, or is being unloaded)
 *   -EDQUOT, -ENOMEM  the ring's memory (ring_entries): the user's bound
 *            on units (max_user_units, see CPORT_OP_ASSOCIATE) or memory
 *   -EIDRM   the port was destroyed
 *   -EBUSY   the port was already set up or used
 *
 * policy_name (since CPORT_SETUP_SIZE_VER2), when not empty, selects the
 * policy by name instead of by number: a built-in one ("lifo", "fifo",
 * "rr", "cpu") or one a module registered.  The port then holds a
 * reference to that module until the port is freed: the module cannot be
 * unloaded meanwhile.  A kernel older than VER2 refuses a non-empty name
 * with -E2BIG (bytes beyond what it knows).
 */
struct cport_setup {
	__u32 flags;		/* CPORT_SETUP_* */
	__u32 concurrency;	/* running threads allowed, 0 = online CPUs */
	__u32 policy;		/* CPORT_POLICY_* */
	__u32 max_queued;	/* queued completions, 0 = CPORT_DEFAULT_QUEUED */
	/* since CPORT_SETUP_SIZE_VER1: */
	__u32 max_pending;	/* pending socket operations,
				 * 0 = CPORT_DEFAULT_PENDING
				 */
	__u32 resv;		/* must be zero */
	/* since CPORT_SETUP_SIZE_VER2: */
	char policy_name[CPORT_POLICY_NAME_LEN]; /* "" = by number */
	/* since CPORT_SETUP_SIZE_VER3: */
	__u32 ring_entries;	/* completion ring, 0 = none (see below) */
	__u32 resv3;		/* must be zero */
};

#define CPORT_SETUP_SIZE_VER0	16
#define CPORT_SETUP_SIZE_VER1	24
#define CPORT_SETUP_SIZE_VER2	40
#define CPORT_SETUP_SIZE_VER3	48

/*
 * The completion ring (struct cport_setup.ring_entries, since VER3): a
 * power of two from 1 to CPORT_MAX_RING_ENTRIES (else -EINVAL, as is
 * resv3 != 0), memory shared with user space by mmap() of the port's
 * descriptor at offset CPORT_RING_OFFSET, read and write, MAP_SHARED,
 * CPORT_RING_CQES + ring_entries * sizeof(struct cport_cqe) bytes at
 * most.  It starts with struct cport_ring_hdr; the entries (struct cport_cqe)
 * follow at offset CPORT_RING_CQES.
 *
 * What it changes: a completion the port cannot hand to a sleeping
 * waiter at once (the concurrency value is reached, or nobody waits) is
 * written to the ring instead of the kernel's queue, when the ring has
 * room and the kernel's queue is empty; a running thread then takes it
 * without a system call (libcport's cport_ring_take()).  The handoff is
 * unchanged: a waiter sleeping in CPORT_IOC_ENTER is handed the oldest
 * entry of the ring (the kernel takes it the way user space does) when
 * the concurrency value allows, exactly one per waiter, and a wait takes
 * what the ring holds before what the kernel's queue holds.  So every
 * completion is returned exactly once, by the ring or by a wait, in the
 * order of the queue except as said here.
 *
 * Never in the ring: completions that carry a descriptor (ACCEPT, a
 * RECVMSG that received SCM_RIGHTS), which the dequeuing thread must
 * install; they and everything after them go to the kernel's queue until
 * it is empty again, as do completions when the ring is full: a wait
 * returns them.  An empty ring therefore means "enter the kernel", not
 * "nothing is queued".
 *
 * Taking entries (any number of threads at once, with the kernel): read
 * tail (acquire), then head; while head != tail copy entry
 * [head & (ring_entries - 1)] and advance head by compare-and-swap from
 * the value read; a failed swap means another taker had that entry:
 * discard the copy and read again.  Only the kernel writes tail and the
 * entries.  A ring entry holds no charge of the port (limits.c): its
 * memory is the ring's, charged to the memory cgroup of the thread that
 * set the port up and to the user's units.  A program that writes
 * anything but head, or writes head other than as above, loses its own
 * completions (the kernel then treats the ring as empty or full); the
 * kernel never reads an entry back except to hand it to a waiter of the
 * same port.  CPORT_IOC_DESTROY empties the ring (head = tail).  After a
 * wait fails with -EFAULT, the completions it took from the ring go back
 * to the head of the kernel's queue, behind what the ring holds by then:
 * as many as the ring has entries without a charge, more each holding a
 * place of max_pending and a unit of the user's until dequeued (or moved
 * to the ring, or discarded); one that finds neither is dropped (fdinfo
 * ring_dropped).  A program that rewinds head, so that failing waits take
 * the same entries again and again, gets there.
 *
 * Threads that take from the ring stay counted as running (they never
 * waited): as on Windows, a running thread that asks for the next packet
 * takes it without giving up its concurrency slot.  So only a thread the
 * port counts should take: one whose last wait returned completions.  A
 * thread that never waited, or whose last wait returned none, should wait
 * in the kernel, which holds it back at the concurrency value (libcport's
 * cport_ring_wait() does so); taking anyway runs it beyond that value.
 *
 * mmap() errors: -EPERM (another process's port), -ENODEV (the port has
 * no ring), -EINVAL (an offset other than CPORT_RING_OFFSET, a length
 * beyond the ring's size, PROT_EXEC, or MAP_PRIVATE).
 *
 * The kernel retries a lost swap of head a few times; a kernel take that
 * loses them all (other takers won every time, or a program rewrites
 * head) finds the ring empty for that moment, and a wait may then take
 * from the kernel's queue before entries still in the ring.
 */
#define CPORT_MAX_RING_ENTRIES	16384
#define CPORT_RING_OFFSET	0
#define CPORT_RING_CQES		128

struct cport_ring_hdr {
	__u32 head;		/* next entry to take: takers, see above */
	__u32 resv0[15];	/* head alone in its cache line */
	__u32 tail;		/* one past the newest entry: the kernel */
	__u32 ring_entries;	/* as set up */
	__u32 cqe_size;		/* sizeof(struct cport_cqe) */
	__u32 resv1[13];
};

/*
 * By default a running thread that blocks elsewhere (a mutex, a disk read,
 * a sleep) frees its concurrency slot until it runs again, as on Windows:
 * the port may release another waiter meanwhile.  With this flag a thread
 * keeps its slot until it waits on the port again, and its context
 * switches cost nothing extra.
 */
#define CPORT_SETUP_NO_BLOCK_TRACKING	_BITUL(0)

/*
 * By default, while at least one thread of the port runs, a waiter is not
 * released when every CPU looks busy: the running count plus the CPU the
 * completion comes from (unless it is idle or runs a thread of the port)
 * cover every online CPU, so the waiter could only preempt a task, often
 * the producer of the completion.  The work stays queued, as at the
 * concurrency value, for a running thread's next wait, a thread that
 * blocks or sleeps, or the end of a grace (1 ms): one in which no thread
 * of the port took work releases waiters by the concurrency value alone;
 * one in which some did releases them only if its CPU went idle.  With
 * this flag (or without block tracking) the port always releases by the
 * concurrency value alone, as Windows does.  fdinfo's busy_holds counts
 * the times a release was held back.
 */
#define CPORT_SETUP_EAGER_RELEASE	_BITUL(1)

#define CPORT_MAX_CONCURRENCY	4096
#define CPORT_DEFAULT_QUEUED	65536
#define CPORT_MAX_QUEUED	4194304
#define CPORT_DEFAULT_PENDING	65536
#define CPORT_MAX_PENDING	4194304

/* struct cport_info.features */
#define CPORT_FEAT_HANDOFF	_BITUL(0)	/* completions handed to one waiter */
#define CPORT_FEAT_CONCURRENCY	_BITUL(1)	/* concurrency value enforced */
#define CPORT_FEAT_POLL		_BITUL(2)	/* port fd pollable */
#define CPORT_FEAT_BLOCK_TRACKING _BITUL(3)	/* blocked threads free slots */
#define CPORT_FEAT_SOCKETS	_BITUL(4)	/* socket operations */
#define CPORT_FEAT_RING		_BITUL(5)	/* completion ring (mmap) */

/* struct cport_info.port_flags */
#define CPORT_INFO_BLOCK_TRACKING _BITUL(0)	/* this port tracks blocking */
#define CPORT_INFO_EAGER_RELEASE _BITUL(1)	/* CPORT_SETUP_EAGER_RELEASE */

/*
 * CPORT_IOC_QUERY: what this kernel supports and how this port is set up.
 * Output only, size-versioned: _IOC_SIZE(cmd) bytes are written, the
 * fields this kernel knows and zeros after them (a newer program's longer
 * record comes back with its new fields zero: not supported).  The
 * reserved fields are returned as zero.  Since CPORT_INFO_SIZE_VER1 it
 * also names this port's policy and lists every policy registered at the
 * time of the call (the built-in ones first), which a program may select
 * by name in CPORT_IOC_SETUP; policies says which built-in numbers exist.
 *   -EINVAL  _IOC_SIZE(cmd) is smaller than CPORT_INFO_SIZE_VER0
 *   -E2BIG   it is larger than a page
 */
struct cport_info {
	__u32 api_version;	/* CPORT_API_VERSION */
	__u32 features;		/* CPORT_FEAT_* */
	__u64 ops;		/* bit (1 << CPORT_OP_x) per supported opcode */
	__u32 setup_flags;	/* flags accepted in cport_setup.flags */
	__u32 enter_flags;	/* flags accepted in cport_enter.flags */
	__u32 sqe_flags;	/* flags accepted in cport_sqe.flags */
	__u32 policies;		/* bit (1 << CPORT_POLICY_x) per policy */
	__u32 concurrency;	/* this port's effective concurrency value */
	__u32 policy;		/* this port's policy, CPORT_POLICY_NAMED
				 * for a registered one (see policy_name)
				 */
	__u32 max_queued;	/* this port's bound on queued completions */
	__u32 max_enter;	/* CPORT_MAX_ENTER */
	__u32 port_flags;	/* CPORT_INFO_* for this port */
	__u32 max_pending;	/* this port's bound on pending operations */
	__u64 resv[3];
	/* since CPORT_INFO_SIZE_VER1: */
	char policy_name[CPORT_POLICY_NAME_LEN]; /* this port's policy */
	__u32 nr_policies;	/* policies registered now, built-in ones
				 * included (at most CPORT_MAX_POLICIES)
				 */
	__u32 resv1;
	/* Their names, in registration order, zero-padded; unused rows zero. */
	char policy_names[CPORT_MAX_POLICIES][CPORT_POLICY_NAME_LEN];
	/* since CPORT_INFO_SIZE_VER2: */
	__u32 ring_entries;	/* this port's completion ring, 0 = none */
	__u32 resv2;
};

#define CPORT_INFO_SIZE_VER0	80
#define CPORT_INFO_SIZE_VER1	360
#define CPORT_INFO_SIZE_VER2	368

/* Submission opcodes (struct cport_sqe.opcode, struct cport_cqe.op). */
enum {
	CPORT_OP_POST		= 1,	/* queue a user completion verbatim */
	CPORT_OP_ASSOCIATE	= 2,	/* associate a socket under a key */
	CPORT_OP_DISSOCIATE	= 3,	/* end a socket's association */
	CPORT_OP_RECV		= 4,	/* receive into a buffer */
	CPORT_OP_SEND		= 5,	/* send a whole buffer */
	CPORT_OP_ACCEPT		= 6,	/* accept a connection */
	CPORT_OP_CANCEL		= 7,	/* cancel pending operations */
	CPORT_OP_CONNECT	= 8,	/* finish a connect, then send */
	CPORT_OP_PROVIDE_BUFFERS = 9,	/* give buffers to a buffer group */
	CPORT_OP_RECVMSG	= 10,	/* recvmsg(2): address, iovec, control */
	CPORT_OP_SENDMSG	= 11,	/* sendmsg(2): address, iovec, control */
	CPORT_OP_SENDFILE	= 12,	/* send a file range (TransmitFile) */
	CPORT_OP_DISCONNECT	= 13,	/* graceful shutdown (DisconnectEx) */
	CPORT_OP_READ		= 14,	/* read from a pipe or pollable file */
	CPORT_OP_WRITE		= 15,	/* write a whole buffer to one */
	CPORT_OP__NR,
};

/*
 * A submission: 64 bytes (CPORT_SQE_SIZE_VER0), in an array passed to
 * CPORT_IOC_ENTER.  A later version may make it longer: the array's
 * stride is struct cport_enter.sqe_size, and a kernel accepts a longer
 * record than it knows as long as the bytes it does not know are zero.
 *
 * Fields an opcode neither reads nor writes must be zero.  The output
 * fields (status, res and bytes of RECV, SEND, ACCEPT, CONNECT,
 * SENDFILE, DISCONNECT and CANCEL) are
 * ignored on input; for POST, ASSOCIATE and DISSOCIATE, which write
 * nothing back, status and bytes must be zero, and res too except for
 * POST (where it is the result to post).
 *
 * The array belongs to the kernel until CPORT_IOC_ENTER returns: it
 * reads each record once, and writes status, res and bytes back into the
 * records it takes (another thread must not change or unmap them
 * meanwhile; if it does, the kernel still reads each record once and
 * never loses a completion, but what the record says may be wrong).
 *
 * Sockets (and pipes: CPORT_OP_READ below).  TCP and UDP over IPv4 and
 * IPv6 and unix stream, datagram and seqpacket sockets can be
 * associated with a port (ASSOCIATE), one port per socket, under a 64-bit
 * completion key that every completion of the socket carries.  RECV, SEND
 * and ACCEPT then run asynchronously: the kernel moves the data between
 * the socket and the buffer on its own, and posts a completion when the
 * operation is done.  Operations on one socket complete in submission
 * order per direction: recvs (and accepts) fill their buffers in the order
 * submitted, sends reach the socket in the order submitted, each whole
 * before the next begins, however many threads wait on the port.
 *
 * The buffer belongs to the kernel until the operation completes.  The
 * data is moved by threads of the process that owns the port, never by a
 * kernel thread: the submitter, a waiting thread, or, when no thread of
 * the port comes for it, task work run by the thread that last submitted
 * (as it returns to user space: a blocking system call it is in is
 * interrupted and restarted, as by a signal; a wait on a port is not
 * interrupted).  So the data moves even when no thread waits on the port.
 * Each pending
 * operation holds a reference to its socket's file: close() of the
 * descriptor does not cancel it, and the socket stays open until its
 * operations complete or are cancelled (CPORT_OP_CANCEL by key or all, or
 * shutdown(2), which completes them).  A socket without pending operations
 * closes at close() as usual; its association is then reclaimed.  When
 * the owning process's address space goes away (exit, execve), a port
 * that ever had a socket associated is destroyed at once, even if its
 * descriptor lives on elsewhere (no other process can use it).
 *
 * Immediate completion.  An operation that can finish at submission (data
 * already there, room in the socket buffer, a connection waiting) either
 * posts a completion like any other (the default, Windows' behaviour) or
 * returns its result in the submission itself and posts nothing
 * (CPORT_SQE_INLINE, IBM i's postFlag = 0; CPORT_ASSOC_INLINE makes it the
 * socket's default, CPORT_SQE_POST overrides that), or both: returns it,
 * and if it is a success (res >= 0) posts its completion as well, marked
 * CPORT_CQE_F_INLINE (CPORT_SQE_INLINE_POST: Windows' default mode, where
 * a call that succeeds at once still queues a packet and one that fails
 * at once queues none; the kernel posts it with the operation's own
 * preallocated completion, so it cannot be lost to a full queue).  The
 * kernel writes status for every RECV, SEND, ACCEPT, CONNECT, SENDFILE,
 * DISCONNECT and CANCEL it takes:
 *   CPORT_STATUS_PENDING  a completion will be posted for it, exactly one;
 *   CPORT_STATUS_INLINE   it completed now: res and bytes hold the
 *                         result, nothing is or will be posted;
 *   CPORT_STATUS_INLINE_POSTED  it completed now: res and bytes hold the
 *                         result, and exactly one completion with the same
 *                         result and CPORT_CQE_F_INLINE was posted (an
 *                         ACCEPT's descriptor is installed once, now: the
 *                         completion carries its number; a destroy at the
 *                         same moment discards it with the rest of the
 *                         queue).
 * Exactly one of them.  A submission that fails (its -errno stops CPORT_IOC_ENTER)
 * was not taken: its status is left 0 and nothing is posted.
 *
 * A completion (or an inline result) carries res and bytes:
 *   RECV    res = bytes received (> 0), 0 at end of file, or -errno;
 *           bytes = bytes received, also when res is an error.  Without
 *           CPORT_RECV_FILL it completes as soon as any data is there.
 *           With it, when the buffer is full, at end of file (res = the
 *           bytes received) or on error.  len == 0 (and addr == 0) is a
 *           zero-byte recv: a readiness notification that pins no buffer;
 *           it completes with res = 0 when the socket is readable or at end
 *           of file, or with the socket's pending error, consuming nothing.
 *   SEND    res = len when the whole buffer went to the socket, else
 *           -errno with bytes = the bytes sent before the error.
 *   ACCEPT  res = a new descriptor for the accepted connection, installed
 *           in the process when the completion is dequeued (or at once for
 *           an inline result); bytes = the length of the peer's address,
 *           as accept(2) reports it (if addr != 0; len is the room there:
 *           at most len bytes of it are written, bytes may be more).
 *           A connection reset before it was accepted fails that
 *           operation only (-ECONNRESET).  If the
 *           peer's address cannot be written, bytes = 0 and the
 *           connection is delivered all the same.  The accept runs in the
 *           kernel (kernel_accept()): the LSM accept hook of accept(2) is
 *           not called for it.  If the
 *           port is destroyed before the completion is dequeued, the
 *           connection is closed.  If no descriptor is free at dequeue,
 *           res = -EMFILE (-ENOMEM if the descriptor table could not
 *           grow) and the connection is closed.  An ACCEPT that fails
 *           with -ENOMEM leaves the connection in the backlog if the
 *           kernel could not take it off yet, and closes it if it could.
 *   RECVMSG res and bytes as RECV (a 0-byte datagram gives res = 0).
 *   SENDMSG res = the bytes of its buffers when all went, as SEND.
 *   CONNECT res = 0 (len if it had data to send) once the connection is
 *           established and the data sent, or -errno: the connect's own
 *           failure (-ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH,
 *           -EHOSTUNREACH..., read and cleared as getsockopt(SO_ERROR)
 *           does) with bytes = 0, or the send's with bytes = the bytes
 *           sent before it.
 * Statuses that tell causes apart:
 *   -ECANCELED   cancelled by CPORT_OP_CANCEL
 *   -ETIMEDOUT   timeout_ns passed first (IBM's operationWaitTime)
 *   -EIDRM       the port was destroyed (seen in tracepoints, or as an
 *                inline result when the destroy raced the submission: a
 *                destroyed port's queue cannot be read)
 *   -ECONNRESET  the peer reset the connection
 *   0            (RECV) end of file
 *   -EFAULT      the buffer stopped being accessible; the socket stays
 *                usable and nothing was lost from it
 * All report the bytes moved before.
 *
 * CPORT_OP_POST: queues a completion with key, user_data, res and
 *   bytes (= len) exactly as given.  With timeout_ns > 0 it is queued
 *   that many nanoseconds later (IBM i's delayed QsoPostIOCompletion);
 *   from submission until its completion is dequeued (or written to the
 *   completion ring) it counts against max_pending (-ENOBUFS), as an
 *   operation does, not against max_queued; a destroy discards it.
 * CPORT_OP_ASSOCIATE: fd, key, op_flags CPORT_ASSOC_*.  It registers an
 *   MMU notifier on the owner's address space the first time a socket is
 *   associated with the port; that registration gives up on a pending
 *   signal, and ASSOCIATE then fails with -EINTR (nothing was done: retry).
 * CPORT_OP_DISSOCIATE: fd.
 * Pipes and other pollable files (CPORT_OP_READ, CPORT_OP_WRITE: Windows'
 *   ReadFile and WriteFile on an overlapped pipe handle).  Accepted: pipes
 *   and FIFOs, eventfd, and character devices whose file says it honours
 *   non-blocking I/O (FMODE_NOWAIT: /dev/random, say), with a poll method
 *   naming at most two wait queues.  Refused with -EOPNOTSUPP (at
 *   ASSOCIATE, READ, WRITE, DISSOCIATE and CANCEL_FD): regular files and
 *   directories (no readiness: a read that waits for the disk can only be
 *   made asynchronous by a worker thread, as io_uring's io-wq does, and
 *   cport never does user I/O in a kernel thread), files without a poll
 *   method (/dev/null), ttys and other character devices without
 *   FMODE_NOWAIT (their read may block however it is asked), anything
 *   else that is not a socket, and a direction the file cannot do without
 *   blocking (WRITE on an eventfd, whose write has no non-blocking form
 *   for the kernel).  A file has no association of its own: each READ and
 *   WRITE names its completion key in key, and the file is associated
 *   with the port under that key only while operations are pending on
 *   it (they pin the file, as a socket's do; the association ends with
 *   the last one, so a write end with nothing pending is not held open
 *   and its reader sees end of file when it is closed).  ASSOCIATE of such
 *   a file checks it (0 or -EOPNOTSUPP) and records nothing; DISSOCIATE
 *   returns -EBUSY while operations are pending on it through this port,
 *   else 0; CANCEL_FD finds its pending operations (res -ENOENT when none
 *   is).  The I/O is done as for sockets, by threads of the owner, never
 *   blocking: through the file's own non-blocking read and write
 *   (IOCB_NOWAIT), or for a pipe or FIFO through a second, O_NONBLOCK
 *   file on the same pipe opened by the runner while operations are
 *   pending (it counts as a reader or writer exactly when the pinned
 *   user's file does).  The file position is neither used nor moved.
 * CPORT_OP_READ: fd (a file as above open for reading, or an associated
 *   socket), user_data, addr, len (1 to CPORT_MAX_IO), key (a file: the
 *   completion key; a socket: 0, its association's key applies),
 *   timeout_ns, flags; op_flags 0.  res = the bytes read (> 0) as soon as
 *   there are any (partial), 0 at end of file (a pipe whose writers have
 *   all closed, also while the READ is pending), or -errno (an eventfd's
 *   -EINVAL for len < 8).  READs of one file fill in submission order.
 *   On a socket it is a RECV (and completes as op CPORT_OP_READ).
 * CPORT_OP_WRITE: as READ, for writing.  res = len once all of it is
 *   written (a pipe takes up to PIPE_BUF bytes at once atomically, more in
 *   pieces as its reader makes room), or -errno with bytes = what was
 *   written before: -EPIPE when no reader is left (no SIGPIPE is sent:
 *   the runner is any thread of the owner).  WRITEs of one file reach it
 *   whole, in submission order.  On a socket it is a SEND.
 * A file's operations are cancelled (by user_data, fd, key, all), time
 *   out, and go with a destroyed port like a socket's; close() of its
 *   descriptor does not cancel them.
 * CPORT_OP_RECV: fd, user_data, addr, len, timeout_ns, op_flags
 *   CPORT_RECV_*, flags.
 * CPORT_OP_SEND: fd, user_data, addr, len, timeout_ns, op_flags
 *   CPORT_SEND_*, flags.
 * Scatter/gather (CPORT_RECV_VEC, CPORT_SEND_VEC): addr points to an
 *   array of len struct iovec (1 to CPORT_MAX_IOV), read at submission
 *   as readv(2) and writev(2) read theirs (the array itself may be reused
 *   once CPORT_IOC_ENTER returns; the buffers it points to belong to the
 *   kernel until the operation completes).  The buffers are filled or
 *   sent in order as one: res and bytes count all of them, CPORT_RECV_FILL
 *   fills all of them, and as with readv(2) a total beyond MAX_RW_COUNT
 *   (CPORT_MAX_IO with 4 KiB pages) is cut to it.  A total of 0 is -EINVAL (a zero-byte RECV is
 *   the readiness form).
 * Buffer groups (CPORT_RECV_BUFFER, io_uring's provided buffers): a
 *   RECV takes its buffer from buffer group key (0 to
 *   CPORT_MAX_BUF_GROUPS - 1) only when data is there, so a waiting
 *   connection pins no buffer; addr is 0, len at most that many bytes (0:
 *   the whole buffer).  Its completion has CPORT_CQE_F_BUFFER and the
 *   buffer's id in buf (a completion without data takes none); the buffer
 *   is the application's until it provides it again.  Data, end of file
 *   or an error with no buffer in the group ends the RECV with -ENOBUFS
 *   (what came stays in the socket, as with io_uring, which takes the
 *   buffer first).  Such a RECV that took a buffer is never returned
 *   inline: it is posted (one that ends without data, as above, may be
 *   returned inline like any RECV).
 *   With CPORT_RECV_MULTISHOT as well, the RECV is armed once and
 *   completes for each arrival, with CPORT_CQE_F_MORE, until a completion
 *   without it ends it: end of file (0; on a datagram socket, an empty
 *   datagram, as with io_uring), an error, -ENOBUFS (data, end of file
 *   or an error came with no buffer left, or with the
 *   port at max_pending or its user at max_user_units: -EDQUOT for the
 *   user's; what came stays in the socket; a message waiting on the
 *   socket's error queue, e.g. with IP_RECVERR or TX timestamps, counts
 *   as an error there, as poll's EPOLLERR does), -ECANCELED, or a
 *   destroy.  It
 *   keeps its place in the socket's receive order while it lives.  It
 *   takes neither CPORT_SQE_INLINE nor CPORT_SQE_INLINE_POST nor
 *   timeout_ns (-EINVAL), and at most CPORT_MULTISHOT_BUDGET arrivals of
 *   a socket in a row before other sockets get a turn.
 * Datagrams (UDP, unix datagram and seqpacket sockets): each RECV or
 *   RECVMSG takes one datagram, in submission order, the datagrams in
 *   arrival order; one longer than the buffer completes with the bytes
 *   delivered and CPORT_CQE_F_TRUNC (the rest is gone, as recv(2) without
 *   MSG_TRUNC).  A SEND or SENDMSG sends one datagram, in submission
 *   order (a SEND of len 0 sends nothing: a SENDMSG without buffers sends
 *   an empty datagram).  CPORT_RECV_FILL is refused (-EINVAL).
 * CPORT_OP_RECVMSG, CPORT_OP_SENDMSG: fd, user_data, addr (the user's
 *   struct msghdr, as io_uring's IORING_OP_RECVMSG and SENDMSG take it),
 *   len 0, timeout_ns, flags, op_flags (RECVMSG: CPORT_RECVMSG_*).  The
 *   msghdr and its msg_iov array (at most CPORT_MAX_IOV entries) are read
 *   at submission; a SENDMSG also copies its destination (msg_name) and
 *   its control data (msg_control, at most CPORT_MAX_CONTROL bytes) then,
 *   and its msg_flags are ignored.  The buffers msg_iov points to, and
 *   for RECVMSG msg_name, msg_control and the msghdr itself, belong to
 *   the kernel until the operation completes: when the receive is done,
 *   msg_namelen (the peer address's full length; at most the room given
 *   is written), msg_controllen and msg_flags are written back into it,
 *   as recvmsg(2) writes them; if they cannot be, res = -EFAULT (bytes
 *   says what was received) and descriptors received are closed.  A
 *   32-bit caller's msghdr is not supported (-EINVAL).
 *   Credentials (SCM_CREDENTIALS, SO_PASSCRED) arrive and are sent as
 *   with recvmsg(2) and sendmsg(2), those of the submitting thread.
 *   Descriptors (SCM_RIGHTS) received are installed by the thread that
 *   dequeues the completion, as an ACCEPT's connection is, and their
 *   numbers written into the control data then.  The kernel offers no
 *   way to receive them without installing them: the thread that does
 *   the receive installs them and takes them straight out of its table,
 *   so that until the dequeue the numbers in the control buffer are not
 *   the descriptors'.  A completion discarded (destroy) closes them; a
 *   completion with descriptors is never returned inline (it is posted),
 *   and they count against RLIMIT_NOFILE as files held for user space
 *   (-EMFILE below).  If no descriptor is free at dequeue, or a number
 *   cannot be written, none is installed: they are closed, their slots
 *   say -1, and the completion carries CPORT_CQE_F_CTRUNC (msg_flags
 *   MSG_CTRUNC), as for control data that did not fit the buffer: never
 *   silent.  Descriptors a SENDMSG passes are looked up when it sends.
 * CPORT_OP_PROVIDE_BUFFERS: fd buffers (1 to CPORT_MAX_BUFS) of len bytes
 *   each (1 to CPORT_MAX_IO), back to back from addr, with ids user_data,
 *   user_data + 1, ... (below CPORT_MAX_BUFS), given to buffer group key.
 *   A group is a stack: the buffer provided last is taken first, and a
 *   range from its lowest id.  Nothing is written back; the other fields
 *   must be zero.  -EFAULT if the range is not user memory, -EIDRM on a
 *   destroyed port, -ENOSPC if the group would hold more than
 *   CPORT_MAX_BUFS (those taken by a RECV and not yet delivered count),
 *   -EDQUOT (its table counts against max_user_units), -ENOMEM.
 * CPORT_OP_ACCEPT: fd (a listening socket), user_data, addr and len (room
 *   for the peer's address; both 0 for none), key (the new socket's key,
 *   with CPORT_ACCEPT_ASSOCIATE), timeout_ns, op_flags CPORT_ACCEPT_*,
 *   flags.
 * CPORT_OP_CONNECT: fd, user_data, addr and len (data to send once
 *   connected, Windows' ConnectEx send buffer; both 0 for none),
 *   timeout_ns, flags.  The connect itself is started by connect(2) on
 *   the non-blocking socket (which returns 0 or -EINPROGRESS), so that it
 *   is checked, audited and charged as the caller's own system call
 *   (LSM hooks, cgroup BPF programs): libcport's cport_connect() does
 *   both.  CONNECT then completes when the socket is connected (at once
 *   if it is already, as a unix stream socket is after its connect(2)),
 *   or the connect fails.  It runs in the socket's send order: a SEND
 *   submitted after it starts when it has completed, whatever its
 *   result.  A CONNECT cancelled or timed out leaves the connect attempt
 *   to the protocol; the socket is then best closed (as after a
 *   cancelled ConnectEx on Windows).
 * CPORT_OP_SENDFILE: fd (the socket), user_data, addr (a struct
 *   cport_sendfile) and len (its size: CPORT_SENDFILE_SIZE_VER0 up to
 *   CPORT_SENDFILE_SIZE_MAX, bytes past what this kernel knows zero),
 *   timeout_ns, flags.  Windows' TransmitFile: sends head_len bytes from
 *   head, then count bytes of the regular file file_fd from offset, then
 *   tail_len bytes from tail, as one stream.  The record is read once, at
 *   submission (it may be reused when CPORT_IOC_ENTER returns; head and
 *   tail belong to the kernel until the operation completes).  count 0
 *   means up to the end of the file, its size taken at submission.  The
 *   file is read at explicit positions (its file offset, f_pos, is never
 *   used or changed); if it is shorter than offset + count by the time a
 *   byte is read, the file part ends there and the tail follows.  The
 *   operation holds a reference to the file until it completes (counted
 *   against RLIMIT_NOFILE like the socket's, -EMFILE).  The file is read
 *   by the thread that runs the socket (a thread of the owner): a read
 *   from disk blocks that thread, as read(2) would.  It runs in the
 *   socket's send order like SEND.  res = head_len + file bytes + tail_len
 *   when all of it went to the socket, else -errno with bytes = what was
 *   sent (a read error of the file ends it with that error).
 * CPORT_OP_DISCONNECT: fd, user_data, timeout_ns, op_flags
 *   CPORT_DISCONNECT_*, flags.  Windows' DisconnectEx: a graceful
 *   shutdown(fd, SHUT_WR) once every earlier operation in the socket's
 *   send order has completed, then completes (res = 0) when the FIN has
 *   been sent: on TCP when the peer has acknowledged all the data and the
 *   FIN (the socket left FIN_WAIT1/LAST_ACK/CLOSING), on a unix socket at
 *   once (the peer sees end of file).  With CPORT_DISCONNECT_WAIT it
 *   completes only once the peer's FIN has arrived too (the socket would
 *   read end of file after any data still queued, which stays to be
 *   received).  A reset, or any error of the socket's, ends it with that
 *   -errno (-ECONNRESET).  A SEND or SENDFILE submitted after it
 *   fails with -EPIPE, as send(2) after shutdown(2) does.  Linux cannot
 *   reuse a disconnected socket (Windows' TF_REUSE_SOCKET): close it.
 *   -ENOTCONN at submission if no connection was ever made or the socket
 *   is listening.
 * CPORT_OP_CANCEL: op_flags selects exactly one of: CPORT_CANCEL_USER_DATA
 *   (the operations whose cookie is user_data), CPORT_CANCEL_FD (all on
 *   the socket fd), CPORT_CANCEL_KEY (all on the sockets associated under
 *   key), CPORT_CANCEL_ALL (all on the port).  Always inline: res = the
 *   number of operations cancelled, or -ENOENT if none was pending (one
 *   that already completed is not found).  Each cancelled operation then
 *   completes exactly once: with -ECANCELED and the bytes moved so far, or
 *   with its real result if it finished at the same moment.  One that is
 *   moving data (a fill-mode RECV, a SEND, SENDMSG or WRITE whose peer
 *   keeps up) stops after the chunk in progress; a timeout likewise.
 *
 * Errors of a submission (it stops CPORT_IOC_ENTER, nothing is posted),
 * checked in this order:
 *   -EFAULT      the record cannot be read
 *   -E2BIG       the record is longer than this kernel knows (sqe_size)
 *                and the bytes past what it knows are not all zero
 *   -EINVAL      unknown opcode, flags or op_flags, a non-zero field the
 *                opcode does not use, (SENDFILE) addr == 0 or len not
 *                from CPORT_SENDFILE_SIZE_VER0 to CPORT_SENDFILE_SIZE_MAX,
 *                more than one of CPORT_SQE_INLINE,
 *                CPORT_SQE_POST and CPORT_SQE_INLINE_POST,
 *                len > CPORT_MAX_IO, a zero-byte recv with
 *                addr != 0 or CPORT_RECV_FILL, (RECV with
 *                CPORT_RECV_BUFFER) addr != 0, CPORT_RECV_FILL or
 *                CPORT_RECV_VEC, key >= CPORT_MAX_BUF_GROUPS, (with
 *                CPORT_RECV_MULTISHOT) no CPORT_RECV_BUFFER,
 *                CPORT_SQE_INLINE or CPORT_SQE_INLINE_POST, timeout_ns,
 *                an ACCEPT with only one of
 *                addr and len, a key without CPORT_ACCEPT_ASSOCIATE, not
 *                exactly one CPORT_CANCEL_* selector, (RECV, SEND with
 *                *_VEC) len == 0 or len > CPORT_MAX_IOV, (RECVMSG,
 *                SENDMSG) len != 0, addr == 0, key != 0, a 32-bit caller,
 *                (READ, WRITE) op_flags != 0 or len == 0
 *   -EBADF       fd is not an open descriptor; (READ, WRITE) not open
 *                for reading, writing
 *   -ENOTSOCK    (RECV, SEND, ACCEPT, CONNECT, RECVMSG, SENDMSG, SENDFILE,
 *                DISCONNECT) fd is not a socket
 *   -EOPNOTSUPP  (ASSOCIATE) not a TCP or UDP (IPv4, IPv6) socket nor a
 *                unix stream, datagram or seqpacket socket nor a file
 *                READ and WRITE accept; (READ, WRITE, DISSOCIATE,
 *                CANCEL_FD) not a socket nor such a file, or (READ,
 *                WRITE) a direction it cannot do without blocking
 *   -EIDRM       the port was destroyed
 *   -EEXIST      (ASSOCIATE) already associated with this port
 *   -EBUSY       (ASSOCIATE) associated with another port;
 *                (DISSOCIATE) operations are pending on it
 *   -EDQUOT      (ASSOCIATE) the user's max_user_units, as below
 *   -ENOENT      the socket is not associated with this port
 *   -EINVAL      (READ, WRITE on a socket) key != 0
 *   -EBUSY       (READ, WRITE on a file) operations are pending on it
 *                through another port or under another key
 *   -EINVAL      (ACCEPT) the socket is not listening
 *   -ENOTCONN    (CONNECT) no connect(2) was started on the socket: it is
 *                neither connecting nor connected
 *   -ENOTCONN    (DISCONNECT) no connection was made, or the socket is
 *                listening
 *   -EOPNOTSUPP  (DISCONNECT) a datagram socket (connected UDP, unix
 *                datagram): only stream and unix seqpacket sockets
 *                have a connection to end
 *   -EINVAL      (RECV) CPORT_RECV_FILL on a datagram or seqpacket socket
 *   -EFAULT      (RECVMSG, SENDMSG) the msghdr cannot be read
 *   -EINVAL      (RECVMSG, SENDMSG) msg_iovlen > CPORT_MAX_IOV,
 *                msg_controllen > CPORT_MAX_CONTROL, msg_namelen < 0
 *                (with a msg_name), (SENDMSG) msg_namelen larger than
 *                struct sockaddr_storage (RECVMSG: cut to it)
 *   -EINVAL      (RECV, SEND with *_VEC; RECVMSG, SENDMSG) an iovec length
 *                is negative, or (*_VEC only) the buffers hold 0 bytes in all
 *   (SENDFILE) its struct cport_sendfile, in this order:
 *   -EFAULT      it cannot be read
 *   -E2BIG       len is larger than this kernel's record and the bytes
 *                past it are not all zero
 *   -EINVAL      flags != 0, only one of head and head_len (tail and
 *                tail_len) non-zero, offset > LLONG_MAX, count >
 *                CPORT_MAX_IO or head_len + count + tail_len >
 *                CPORT_MAX_IO
 *   -EBADF       file_fd is not an open descriptor, or not open for
 *                reading
 *   -ESPIPE      file_fd cannot be read at a position (a pipe, a FIFO, a
 *                socket, a stream device), as pread(2) says
 *   -EINVAL      file_fd is not a regular file (a directory, a device)
 *                or is one read only through ->read (/proc/PID/mem);
 *                with count 0, head_len + the bytes from offset to the end
 *                of the file + tail_len > CPORT_MAX_IO
 *   -EFAULT      head or tail is not a valid user range
 *   -EFAULT      the buffer (addr, len) is not a valid user range (with
 *                *_VEC: the iovec array cannot be read, or one of its
 *                buffers is not a valid user range; RECVMSG, SENDMSG: the
 *                same of msg_iov, and msg_name or msg_control is not a
 *                valid user range, or (SENDMSG) cannot be read), or the submission's
 *                outputs (status, res, bytes) cannot be written
 *   -ENOBUFS     the port holds max_pending operations already: pending
 *                ones, delayed POSTs, and completions of operations not
 *                yet dequeued (an operation holds its place until its
 *                completion is dequeued or written to the port's
 *                completion ring, whose memory was charged at setup, so
 *                the completion queue exceeds max_queued by at most
 *                max_pending)
 *   -EDQUOT      the user who opened the port holds max_user_units (a
 *                module parameter) associations plus places as above,
 *                over all of the user's ports; also from ASSOCIATE
 *   -ENOMEM      out of kernel memory
 *   -EMFILE      the files held open for user space by this port (the
 *                socket's file while operations are pending on it, the
 *                connection of each pending or undelivered ACCEPT) would
 *                exceed the submitter's RLIMIT_NOFILE
 * POST fails with -EIDRM on a destroyed port, else -ENOSPC when the
 * port's queue is full (-ENOBUFS or -EDQUOT for a delayed POST, as
 * above).
 */
#define CPORT_SQE_SIZE_VER0	64
#define CPORT_SQE_SIZE_MAX	256

struct cport_sqe {
	__u8	opcode;		/* CPORT_OP_* */
	__u8	status;		/* out: CPORT_STATUS_* */
	__u16	flags;		/* CPORT_SQE_* */
	__s32	fd;		/* the socket or file */
	__u64	user_data;	/* per-operation cookie, returned verbatim */
	__u64	addr;		/* buffer address */
	__u64	len;		/* buffer length; POST: the bytes value */
	__u64	key;		/* POST, ASSOCIATE, ACCEPT, CANCEL: a key */
	__s64	res;		/* POST: the result; out: the inline result */
	__u64	timeout_ns;	/* per-operation timeout, 0 = none */
	__u32	op_flags;	/* per-opcode flags, below */
	__u32	bytes;		/* out: bytes moved, with an inline result */
};

/* struct cport_sqe.status, written by the kernel. */
enum {
	CPORT_STATUS_PENDING	= 1,	/* a completion will be posted */
	CPORT_STATUS_INLINE	= 2,	/* completed: res, bytes; none posted */
	CPORT_STATUS_INLINE_POSTED = 3,	/* completed: res, bytes; and its
					 * completion was posted as well
					 */
};

/*
 * struct cport_sqe.flags (RECV, SEND, ACCEPT, CONNECT, SENDFILE,
 * DISCONNECT); at most one
 */
#define CPORT_SQE_INLINE	_BITUL(0)	/* return an immediate result */
#define CPORT_SQE_POST		_BITUL(1)	/* post even an immediate one */
#define CPORT_SQE_INLINE_POST	_BITUL(2)	/* return an immediate result,
						 * and post it too if it is a
						 * success (res >= 0)
						 */

/* struct cport_sqe.op_flags for ASSOCIATE */
#define CPORT_ASSOC_INLINE	_BITUL(0)	/* default: CPORT_SQE_INLINE */
/* ... for RECV */
#define CPORT_RECV_FILL		_BITUL(0)	/* complete when full (IBM
						 * fillBuffer, MSG_WAITALL)
						 */
#define CPORT_RECV_VEC		_BITUL(1)	/* scatter: readv(2) */
#define CPORT_RECV_BUFFER	_BITUL(2)	/* into a buffer of group key */
#define CPORT_RECV_MULTISHOT	_BITUL(3)	/* a completion per arrival,
						 * until it ends (needs
						 * CPORT_RECV_BUFFER)
						 */
/* ... for SEND */
#define CPORT_SEND_VEC		_BITUL(1)	/* gather: writev(2) */
/* ... for RECVMSG */
#define CPORT_RECVMSG_CMSG_CLOEXEC _BITUL(0)	/* O_CLOEXEC on descriptors
						 * received (MSG_CMSG_CLOEXEC)
						 */
/* ... for ACCEPT */
#define CPORT_ACCEPT_CLOEXEC	_BITUL(0)	/* O_CLOEXEC on the new fd */
#define CPORT_ACCEPT_NONBLOCK	_BITUL(1)	/* O_NONBLOCK on the new fd */
#define CPORT_ACCEPT_ASSOCIATE	_BITUL(2)	/* associate it under key */
#define CPORT_ACCEPT_ASSOC_INLINE _BITUL(3)	/* ... with CPORT_ASSOC_INLINE */
/* ... for DISCONNECT */
#define CPORT_DISCONNECT_WAIT	_BITUL(0)	/* and wait for the peer's FIN */
/* ... for CANCEL: exactly one */
#define CPORT_CANCEL_USER_DATA	_BITUL(0)
#define CPORT_CANCEL_FD		_BITUL(1)
#define CPORT_CANCEL_KEY	_BITUL(2)
#define CPORT_CANCEL_ALL	_BITUL(3)

#define CPORT_MAX_IO		0x7ffff000	/* largest len of one RECV, SEND */
#define CPORT_MAX_IOV		1024		/* most segments of one, as
						 * UIO_MAXIOV
						 */
#define CPORT_MAX_CONTROL	65536		/* largest msg_controllen of a
						 * RECVMSG, SENDMSG
						 */
#define CPORT_MAX_BUF_GROUPS	64		/* buffer groups per port */
#define CPORT_MULTISHOT_BUDGET	16		/* arrivals per turn */
#define CPORT_MAX_BUFS		65536		/* buffers per group; ids are
						 * 0 to CPORT_MAX_BUFS - 1
						 */

/*
 * CPORT_OP_SENDFILE's record, pointed to by cport_sqe.addr (cport_sqe.len
 * is its size, so that it can grow: a kernel accepts a longer record as
 * long as the bytes it does not know are zero).
 */
struct cport_sendfile {
	__s32	file_fd;	/* a regular file, open for reading */
	__u32	flags;		/* must be zero */
	__u64	offset;		/* where in the file to start */
	__u64	count;		/* bytes of the file, 0 = to its end */
	__u64	head;		/* bytes sent before the file (0: none) */
	__u64	tail;		/* bytes sent after it (0: none) */
	__u32	head_len;
	__u32	tail_len;
};

#define CPORT_SENDFILE_SIZE_VER0	48
#define CPORT_SENDFILE_SIZE_MAX		4096

/*
 * A completion: 48 bytes.  res is the result (bytes moved, a new fd) or
 * a negative errno; bytes is the number of bytes moved even when res is
 * an error.  op says which kind of operation completed.
 */
struct cport_cqe {
	__u64	user_data;
	__u64	key;
	__s64	res;
	__u64	bytes;
	__u32	flags;		/* CPORT_CQE_F_* */
	__u8	op;		/* CPORT_OP_* */
	__u8	resv0;
	__u16	buf;		/* with CPORT_CQE_F_BUFFER: the buffer's id */
	__u32	seq;		/* a multishot RECV's arrival number */
	__u32	resv2;
};

#define CPORT_CQE_SIZE_VER0	48

/*
 * struct cport_cqe.seq: the completions of one multishot RECV are numbered
 * 0, 1, 2... in the order the data arrived (modulo 2^32), the one that ends
 * it (without CPORT_CQE_F_MORE) next; every other completion has 0.  The
 * port's queue keeps them in that order (a wait that runs the socket
 * keeps what it can return and queues the rest while it still owns the
 * socket), except after a wait could not copy what it kept to user
 * space (EFAULT): that goes back to the tail, behind the later arrivals
 * the wait queued itself and any posted meanwhile.  Several threads
 * dequeuing from one port take them apart: a thread that must handle a
 * connection's data in order (a stream protocol) puts them back in seq
 * order.
 */

/*
 * struct cport_cqe.flags
 *
 * CPORT_CQE_F_CTRUNC (RECV, RECVMSG): the peer passed control data the operation
 * had no room for (on a unix socket: descriptors sent with SCM_RIGHTS,
 * which the kernel closed, or credentials), as MSG_CTRUNC from recvmsg().
 * The data is delivered all the same.  A RECV or RECVMSG that would carry it
 * is never returned inline: it is posted (status CPORT_STATUS_PENDING).
 */
#define CPORT_CQE_F_CTRUNC	_BITUL(0)
/*
 * CPORT_CQE_F_INLINE: the result was also returned in the submission
 * (CPORT_SQE_INLINE_POST, status CPORT_STATUS_INLINE_POSTED): whoever
 * handled it there has handled it.
 */
#define CPORT_CQE_F_INLINE	_BITUL(1)
/*
 * CPORT_CQE_F_BUFFER (RECV with CPORT_RECV_BUFFER): the data is in the
 * buffer whose id is in buf, taken from the operation's buffer group; it
 * is the application's until it provides it again.
 */
#define CPORT_CQE_F_BUFFER	_BITUL(2)
/*
 * CPORT_CQE_F_MORE (RECV with CPORT_RECV_MULTISHOT): the operation is
 * still pending and more completions will come for it; the last one, which
 * ends it, comes without this flag.
 */
#define CPORT_CQE_F_MORE	_BITUL(3)
/*
 * CPORT_CQE_F_TRUNC (RECV, RECVMSG on a datagram or seqpacket socket): the
 * datagram was longer than the buffer; res is the bytes delivered, the
 * rest of that datagram is gone (MSG_TRUNC from recvmsg()).  Such a RECV
 * is never returned inline: it is posted (RECVMSG also says MSG_TRUNC in
 * msg_flags).
 */
#define CPORT_CQE_F_TRUNC	_BITUL(4)

/* struct cport_enter.flags */
#define CPORT_ENTER_ABSTIME	_BITUL(0)	/* timeout_ns is CLOCK_MONOTONIC */

#define CPORT_MAX_ENTER		4096	/* bound on nr_sqes and max_cqes */

/*
 * CPORT_IOC_ENTER: submit, then wait; the one call on the fast path.
 *
 * First the nr_sqes submissions at sqes are taken in order.  The first
 * one that fails stops the call: it returns that submission's -errno,
 * without waiting, and 'submitted' says how many were taken before it
 * (so sqes[submitted] is the one that failed).
 *
 * 'submitted' is written back whenever nr_sqes > 0 and the header was
 * valid, also on success (then it equals nr_sqes).  If it cannot be
 * written the call fails with -EFAULT, although the submissions it counts
 * were taken.  It is written once they are taken, before the wait begins:
 * another thread that reads it equal to nr_sqes while the call still
 * waits knows that its operations are queued on their sockets, so what
 * it submits after them comes after them (a multishot server that hands
 * a connection from one thread to another relies on this).
 *
 * Then, if max_cqes > 0, the calling thread waits for completions and
 * copies up to max_cqes of them to cqes.  Threads waiting on a port are
 * released last-in first-out (or by the port's policy), one per
 * completion; a thread that finds completions queued takes them without
 * sleeping, unless the port's running count is at its concurrency value.
 * A thread that returns with completions counts as running until it
 * calls CPORT_IOC_ENTER with max_cqes > 0 again, leaves or exits; while
 * it is blocked anywhere else it does not count (unless the port was set
 * up with CPORT_SETUP_NO_BLOCK_TRACKING).  The count goes back up when
 * the blocked thread runs again (Windows counts it when it is woken), so
 * one more thread than the limit may briefly run; no waiter is released
 * until the count is back below the limit.
 *
 * timeout_ns < 0 waits without a limit, 0 only looks, > 0 waits that
 * many nanoseconds, or until that CLOCK_MONOTONIC time with
 * CPORT_ENTER_ABSTIME.
 *
 * Returns the number of completions copied (0 if max_cqes == 0), or:
 *   -EINVAL     unknown flags, non-zero resv, nr_sqes or max_cqes above
 *               CPORT_MAX_ENTER, both zero, a negative timeout with
 *               CPORT_ENTER_ABSTIME, sqe_size not 0 or a multiple of 8
 *               from CPORT_SQE_SIZE_VER0 to CPORT_SQE_SIZE_MAX, cqe_size
 *               not 0 or CPORT_CQE_SIZE_VER0; all checked before any
 *               submission is read
 *   -ETIMEDOUT  nothing completed within the timeout (or at once, for 0)
 *   -EINTR      a signal arrived first; nothing was dequeued (a completion
 *               handed to the thread at the same moment is returned
 *               instead, never lost)
 *   -EIDRM      the port was destroyed (also wakes threads already waiting)
 *   -ENOMEM     a thread's first wait on the port could not allocate the
 *               thread's record (nothing was dequeued)
 *   -EFAULT     cqes could not be written: nothing is lost, the
 *               completions go back to the queue, those taken from it to
 *               its head and those of sockets the call ran to its tail (if
 *               some were written before the fault, their count is
 *               returned; if the port was destroyed meanwhile they are
 *               discarded with the rest of its queue and the call fails
 *               with -EIDRM)
 *   a submission's error, as described at struct cport_sqe
 */
struct cport_enter {
	__u64	sqes;		/* in: struct cport_sqe[nr_sqes] */
	__u64	cqes;		/* in: room for struct cport_cqe[max_cqes] */
	__u32	nr_sqes;	/* in */
	__u32	max_cqes;	/* in */
	__s64	timeout_ns;	/* in */
	__u32	flags;		/* in: CPORT_ENTER_* */
	__u32	submitted;	/* out: submissions taken */
	__u32	sqe_size;	/* in: stride of sqes, 0 = CPORT_SQE_SIZE_VER0 */
	__u32	cqe_size;	/* in: stride of cqes, 0 = CPORT_CQE_SIZE_VER0 */
	__u64	resv;		/* must be zero */
};

#define CPORT_IOC_MAGIC		0xC9

#define CPORT_IOC_SETUP		_IOW(CPORT_IOC_MAGIC, 0x00, struct cport_setup)
#define CPORT_IOC_QUERY		_IOR(CPORT_IOC_MAGIC, 0x01, struct cport_info)
#define CPORT_IOC_ENTER		_IOWR(CPORT_IOC_MAGIC, 0x02, struct cport_enter)
/*
 * CPORT_IOC_DESTROY: destroy the port (IBM QsoDestroyIOCompletionPort,
 * Windows CloseHandle on a port).  Every thread waiting on it returns at
 * once with -EIDRM, queued completions are discarded, and every later
 * call on the port fails with -EIDRM.  The argument must be 0 (-EINVAL).
 * It returns when no operation touches user memory any more; so does a
 * second DESTROY made meanwhile (it returns -EIDRM when the first is
 * done).  A thread still moving data for the port (in a page fault a
 * user keeps unresolved, say) is waited for killably.
 *
 * close() alone does not wake waiters: a thread blocked in the ENTER
 * ioctl holds a reference to the file, so the port lives on until that
 * thread returns.  Destroy first, then close.
 */
#define CPORT_IOC_DESTROY	_IO(CPORT_IOC_MAGIC, 0x03)
/*
 * CPORT_IOC_LEAVE: the calling thread stops being associated with the
 * port.  A thread becomes associated with a port by waiting on it (one
 * port per thread: waiting on another port moves it), counts against the
 * port's concurrency value while it runs between waits, and leaves when it
 * exits, or explicitly with this call.  The argument must be 0 (-EINVAL).
 * Returns -ENOENT if the thread is not associated with this port.  Unlike
 * the other calls it works on a destroyed port, so a thread can let go.
 * An association ends at execve() too: the new program is never counted
 * against the old port (whose owner check refuses it LEAVE anyway).
 */
#define CPORT_IOC_LEAVE		_IO(CPORT_IOC_MAGIC, 0x04)

#endif /* _UAPI_LINUX_CPORT_H */
