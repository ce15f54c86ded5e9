/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport: the Win32 completion-port calls (cport_win32.h) on cport.
 *
 * What the kernel does not know about a socket, this layer keeps in a
 * table indexed by descriptor (fdtab.h): whether a descriptor is a port it
 * created, and for an associated socket its port, its completion key (to
 * post the packet of an immediate completion) and its notification modes
 * (SetFileCompletionNotificationModes may come after the association, and
 * the kernel's CPORT_ASSOC_INLINE can only be given at association).
 * An immediate result comes back in the submission.  Unless the socket
 * skips completion on success, its packet is queued too (Windows returns
 * success *and* queues a packet): by the kernel in the same call
 * (CPORT_SQE_INLINE_POST) for an operation without a context of this
 * layer's, by this layer (cport_post()) after it has ended one with a
 * context (which can still turn a success into a failure) and after the
 * I/O it does itself (regular files, zero-byte pipe I/O).  So one Windows
 * rule holds: a packet follows exactly when the call returned success or
 * WSA_IO_PENDING.
 *
 * The OVERLAPPED pointer is the cookie.  While an operation is pending its
 * Internal is STATUS_PENDING and its InternalHigh points to this layer's
 * context for the operation (an AcceptEx's target socket and address
 * buffer), is 0, or is CTX_PIPE_READ (1: a ReadFile on a pipe); both are
 * written
 * before the submission, never after it was taken as pending (another
 * thread may already have dequeued the completion).  The thread that
 * dequeues the completion finishes the operation: it stores the status and
 * the bytes into the OVERLAPPED, moves an accepted connection onto the
 * caller's socket, frees the context; for the kernel's packet of an
 * immediate success (CPORT_CQE_F_INLINE) the submitter does that, and the
 * dequeuer waits for it (ov_settle()).  Several WSABUFs go to the kernel as
 * one scatter/gather operation (CPORT_RECV_VEC, CPORT_SEND_VEC).
 */
#define _GNU_SOURCE
/* 64-bit file offsets and inode numbers on 32-bit builds too (internal). */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "cport.h"
#include "cport_pool.h"
/* The layer calls Linux's own socket functions. */
#define CPORT_WIN32_NO_SOCKET_MACROS
#include "cport_win32.h"
#include "fdtab.h"

/* --- Errors ---------------------------------------------------------------- */

static __thread DWORD last_error;

DWORD GetLastError(void)
{
	return last_error;
}

void SetLastError(DWORD dwErrCode)
{
	last_error = dwErrCode;
}

int WSAGetLastError(void)
{
	return (int)last_error;
}

void WSASetLastError(int iError)
{
	last_error = (DWORD)iError;
}

/*
 * What a pipe reports that no errno names: a read when every writer has
 * closed (the kernel's READ: 0 bytes), a write when every reader has
 * closed (-EPIPE, which on a socket is ERROR_NETNAME_DELETED).  Past
 * MAX_ERRNO, so no errno can be taken for them; only finish() and the
 * file calls make them.
 */
#define XERR_BROKEN_PIPE	5001
#define XERR_NO_DATA		5002
#define XERR_HANDLE_EOF		5003

/*
 * errno -> (Win32 code as GetQueuedCompletionStatus reports it, Winsock
 * code as an immediate WSARecv/WSASend/AcceptEx failure reports it).
 * Windows converts a driver's NTSTATUS differently on the two paths: a
 * reset connection is ERROR_NETNAME_DELETED from the port and
 * WSAECONNRESET from WSARecv.
 */
static const struct {
	int err;
	DWORD win32;
	DWORD wsa;
} errmap[] = {
	{ ECANCELED,	ERROR_OPERATION_ABORTED,   WSA_OPERATION_ABORTED },
	{ ECONNRESET,	ERROR_NETNAME_DELETED,	   WSAECONNRESET },
	{ EPIPE,	ERROR_NETNAME_DELETED,	   WSAESHUTDOWN },
	{ ESHUTDOWN,	ERROR_NETNAME_DELETED,	   WSAESHUTDOWN },
	{ ENETRESET,	ERROR_NETNAME_DELETED,	   WSAENETRESET },
	{ ECONNABORTED,	ERROR_CONNECTION_ABORTED,  WSAECONNABORTED },
	{ ETIMEDOUT,	ERROR_SEM_TIMEOUT,	   WSAETIMEDOUT },
	{ EIDRM,	ERROR_ABANDONED_WAIT_0,	   WSA_OPERATION_ABORTED },
	{ EBADF,	ERROR_INVALID_HANDLE,	   WSAENOTSOCK },
	{ ENOTSOCK,	ERROR_INVALID_HANDLE,	   WSAENOTSOCK },
	{ ENOTTY,	ERROR_INVALID_HANDLE,	   WSA_INVALID_HANDLE },
	{ EINVAL,	ERROR_INVALID_PARAMETER,   WSAEINVAL },
	{ EEXIST,	ERROR_INVALID_PARAMETER,   WSAEINVAL },
	{ EBUSY,	ERROR_INVALID_PARAMETER,   WSAEINVAL },
	{ ENOENT,	ERROR_NOT_FOUND,	   WSAEINVAL },
	{ EFAULT,	ERROR_NOACCESS,		   WSAEFAULT },
	{ ENOMEM,	ERROR_NOT_ENOUGH_MEMORY,   WSAENOBUFS },
	{ ENOBUFS,	ERROR_NO_SYSTEM_RESOURCES, WSAENOBUFS },
	{ ENOSPC,	ERROR_NO_SYSTEM_RESOURCES, WSAENOBUFS },
	{ EMFILE,	ERROR_TOO_MANY_OPEN_FILES, WSAEMFILE },
	{ ENFILE,	ERROR_TOO_MANY_OPEN_FILES, WSAEMFILE },
	{ EOPNOTSUPP,	ERROR_NOT_SUPPORTED,	   WSAEOPNOTSUPP },
	{ ENOSYS,	ERROR_NOT_SUPPORTED,	   WSAEOPNOTSUPP },
	{ ENOTCONN,	ERROR_CONNECTION_INVALID,  WSAENOTCONN },
	{ ECONNREFUSED,	ERROR_CONNECTION_REFUSED,  WSAECONNREFUSED },
	{ ENETDOWN,	ERROR_NETWORK_UNREACHABLE, WSAENETDOWN },
	{ ENETUNREACH,	ERROR_NETWORK_UNREACHABLE, WSAENETUNREACH },
	{ EHOSTUNREACH,	ERROR_HOST_UNREACHABLE,	   WSAEHOSTUNREACH },
	{ EACCES,	ERROR_ACCESS_DENIED,	   WSAEACCES },
	{ EPERM,	ERROR_ACCESS_DENIED,	   WSAEACCES },
	{ EAGAIN,	WSAEWOULDBLOCK,		   WSAEWOULDBLOCK },
	{ EINTR,	WSAEINTR,		   WSAEINTR },
	{ EMSGSIZE,	WSAEMSGSIZE,		   WSAEMSGSIZE },
	/* The socket calls' own (<cport_win32.h>'s wrappers). */
	{ EINPROGRESS,	WSAEINPROGRESS,		   WSAEINPROGRESS },
	{ EALREADY,	WSAEALREADY,		   WSAEALREADY },
	{ EDESTADDRREQ,	WSAEDESTADDRREQ,	   WSAEDESTADDRREQ },
	{ EPROTOTYPE,	WSAEPROTOTYPE,		   WSAEPROTOTYPE },
	{ ENOPROTOOPT,	WSAENOPROTOOPT,		   WSAENOPROTOOPT },
	{ EPROTONOSUPPORT, WSAEPROTONOSUPPORT,	   WSAEPROTONOSUPPORT },
	{ ESOCKTNOSUPPORT, WSAESOCKTNOSUPPORT,	   WSAESOCKTNOSUPPORT },
	{ EPFNOSUPPORT,	WSAEPFNOSUPPORT,	   WSAEPFNOSUPPORT },
	{ EAFNOSUPPORT,	WSAEAFNOSUPPORT,	   WSAEAFNOSUPPORT },
	{ EADDRINUSE,	WSAEADDRINUSE,		   WSAEADDRINUSE },
	{ EADDRNOTAVAIL, WSAEADDRNOTAVAIL,	   WSAEADDRNOTAVAIL },
	{ EISCONN,	WSAEISCONN,		   WSAEISCONN },
	/* A pipe's and a file's, above. */
	{ XERR_BROKEN_PIPE, ERROR_BROKEN_PIPE,	   ERROR_BROKEN_PIPE },
	{ XERR_NO_DATA,	ERROR_NO_DATA,		   ERROR_NO_DATA },
	{ XERR_HANDLE_EOF, ERROR_HANDLE_EOF,	   ERROR_HANDLE_EOF },
};

DWORD cport_win32_error(int err, BOOL winsock)
{
	size_t i;

	if (err < 0)
		err = -err;
	if (!err)
		return 0;
	for (i = 0; i < sizeof(errmap) / sizeof(errmap[0]); i++)
		if (errmap[i].err == err)
			return winsock ? errmap[i].wsa : errmap[i].win32;
	return winsock ? WSASYSCALLFAILURE : ERROR_GEN_FAILURE;
}

/*
 * The Winsock code for the Win32 code @code (an OVERLAPPED's Internal):
 * the first errno of the table with that code.  WSAGetOverlappedResult
 * reports a reset as WSAECONNRESET where the port said
 * ERROR_NETNAME_DELETED, as Windows does.
 */
static DWORD wsa_of_win32(DWORD code)
{
	size_t i;

	for (i = 0; i < sizeof(errmap) / sizeof(errmap[0]); i++)
		if (errmap[i].win32 == code)
			return errmap[i].wsa;
	return code;
}

/* Set the error for -errno @err; returns FALSE for the callers' tails. */
static BOOL fail(int err, BOOL winsock)
{
	SetLastError(cport_win32_error(err, winsock));
	return FALSE;
}

/* --- The descriptor table ---------------------------------------------------- */

/*
 * Entries are read and written from many threads without a lock: meta is
 * written last (release) and read first (acquire), so a reader that sees
 * it sees the key and serial written before it.
 *
 * Closing a port must make every socket associated with it unassociated
 * (CancelIoEx finds nothing, WSARecv fails) without visiting them: each
 * port this layer makes gets a serial, never reused, and a socket's entry
 * records its port's.  An association is live only while the port's
 * entry still holds that serial; closing the port clears its entry, and
 * every association to it reads as none from then on.
 */
#define M_PORT		1ULL	/* a port made by CreateIoCompletionPort */
#define M_SOCK		2ULL	/* a socket associated; port fd in bits 32.. */
#define M_SKIP		4ULL	/* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS */
#define M_THREAD	8ULL	/* a thread handle made by CreateThread */
#define M_SYNC		16ULL	/* with M_SOCK: a regular file, its I/O done
				 * at once by ReadFile/WriteFile */

struct op_ctx;
struct thread_rec;

struct ent {
	uint64_t meta;		/* M_*, written last (release) */
	uint64_t key;		/* the completion key, with M_SOCK */
	uint64_t serial;	/* M_PORT: its serial; M_SOCK: its port's */
	/*
	 * The AcceptEx pending into this descriptor (it is its
	 * sAcceptSocket), or NULL; set and cleared under acc_lock, read
	 * without it only to skip the lock when NULL.
	 */
	struct op_ctx *acc;
	struct thread_rec *thr;	/* with M_THREAD, under thr_lock */
	/*
	 * The BindIoCompletionCallback binding of this socket, or NULL;
	 * taken (exchanged for NULL) by closesocket().
	 */
	struct _TP_IO *bic;
	/* With M_SYNC: the file's identity, against a number reused. */
	dev_t dev;
	ino_t ino;
};

static struct fdtab ents = FDTAB_INIT(struct ent);
static uint64_t last_serial;	/* the serial of the newest port */

static struct ent *ent_get(int fd, bool create)
{
	return fdtab_get(&ents, fd, create);
}

/*
 * The serial a socket associated now with port @pfd records: the port's
 * own if this layer made it, else 0 (a port made by cport_create()
 * directly: this layer does not see it close).
 */
static uint64_t port_serial(int pfd)
{
	struct ent *e = ent_get(pfd, false);

	if (!e || !(__atomic_load_n(&e->meta, __ATOMIC_ACQUIRE) & M_PORT))
		return 0;
	return __atomic_load_n(&e->serial, __ATOMIC_RELAXED);
}

/* Whether @meta, read from @e, is not an association to a closed port. */
static bool ent_live(struct ent *e, uint64_t meta)
{
	return !(meta & M_SOCK) ||
	       __atomic_load_n(&e->serial, __ATOMIC_RELAXED) ==
	       port_serial((int)(meta >> 32));
}

/* @e's meta; an association to a port since closed reads as nothing. */
static uint64_t ent_load(struct ent *e)
{
	uint64_t meta = __atomic_load_n(&e->meta, __ATOMIC_ACQUIRE);

	return ent_live(e, meta) ? meta : 0;
}

static uint64_t ent_meta(int fd)
{
	struct ent *e = ent_get(fd, false);

	return e ? ent_load(e) : 0;
}

static void ent_forget(int fd)
{
	struct ent *e = ent_get(fd, false);

	if (e)
		__atomic_store_n(&e->meta, 0, __ATOMIC_RELEASE);
}

/*
 * A socket's (or pipe's) port and key; false if it is not associated, or
 * associated only in this layer (a regular file: file_port()).
 */
static bool sock_port(int fd, int *port, uint64_t *key, bool *skip)
{
	struct ent *e = ent_get(fd, false);
	uint64_t meta = e ? ent_load(e) : 0;

	if ((meta & (M_SOCK | M_SYNC)) != M_SOCK)
		return false;
	*port = (int)(meta >> 32);
	if (key)
		*key = __atomic_load_n(&e->key, __ATOMIC_RELAXED);
	if (skip)
		*skip = meta & M_SKIP;
	return true;
}

/* A HANDLE or SOCKET as a descriptor, or -1. */
static int handle_fd(UINT_PTR h)
{
	return h > INT_MAX ? -1 : (int)h;
}

#define HFD(h)	handle_fd((UINT_PTR)(h))

/* --- Ports ----------------------------------------------------------------- */

static HANDLE new_port(DWORD concurrency)
{
	/*
	 * Windows bounds neither a port's queue nor its pending I/O, and a
	 * server ported to this layer may hold hundreds of thousands of
	 * connections, each with a recv (often a zero-byte one) pending and
	 * sends in flight: take the kernel's largest bounds, not its
	 * defaults (65,536 each).  What a port holds is still bounded per
	 * user (the module's max_user_units), by RLIMIT_NOFILE for the
	 * files it keeps open, and charged to the memory cgroup.
	 */
	struct cport_setup setup = {
		.concurrency = concurrency > CPORT_MAX_CONCURRENCY ?
			       CPORT_MAX_CONCURRENCY : concurrency,
		.max_queued = CPORT_MAX_QUEUED,
		.max_pending = CPORT_MAX_PENDING,
	};
	struct ent *e;
	int port = cport_create(&setup);

	if (port < 0) {
		SetLastError(port == -ENOENT || port == -ENODEV ?
			     ERROR_FILE_NOT_FOUND :
			     cport_win32_error(port, FALSE));
		return NULL;
	}
	if (port == 0) {	/* (HANDLE)0 is NULL, the failure value */
		int fd = fcntl(port, F_DUPFD_CLOEXEC, 1);

		close(port);
		if (fd < 0) {
			fail(errno, FALSE);
			return NULL;
		}
		port = fd;
	}
	e = ent_get(port, true);
	if (!e) {
		cport_close(port);
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return NULL;
	}
	__atomic_store_n(&e->serial,
			 __atomic_add_fetch(&last_serial, 1, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&e->meta, M_PORT, __ATOMIC_RELEASE);
	return (HANDLE)(intptr_t)port;
}

/* Forgetting the port ends its sockets' associations too (ent_live()). */
static BOOL close_port(int port)
{
	int ret;

	ent_forget(port);
	ret = cport_close(port);
	return ret < 0 ? fail(ret, FALSE) : TRUE;
}

/*
 * Record @e's association with port @pfd under @key.  @serial is the
 * port's, read before the kernel took the association: a close of the
 * port racing with it still ends it.
 */
static void ent_associate(struct ent *e, int pfd, uint64_t key,
			  uint64_t serial, uint64_t flags)
{
	uint64_t old = ent_load(e);
	uint64_t meta = M_SOCK | flags | ((uint64_t)(unsigned int)pfd << 32);

	/*
	 * A skip mode set before the association is kept; one left by an
	 * earlier socket with this number (closed with close(), not
	 * closesocket()) was for an associated socket and is dropped.
	 */
	if (!(old & M_SOCK))
		meta |= old & M_SKIP;
	__atomic_store_n(&e->key, key, __ATOMIC_RELAXED);
	__atomic_store_n(&e->serial, serial, __ATOMIC_RELAXED);
	__atomic_store_n(&e->meta, meta, __ATOMIC_RELEASE);
}

/* Whether @fd is a regular file or a block device; its identity. */
static bool is_regular(int fd, struct stat *st)
{
	return !fstat(fd, st) && (S_ISREG(st->st_mode) || S_ISBLK(st->st_mode));
}

HANDLE CreateIoCompletionPort(HANDLE FileHandle, HANDLE ExistingCompletionPort,
			      ULONG_PTR CompletionKey,
			      DWORD NumberOfConcurrentThreads)
{
	HANDLE port = ExistingCompletionPort;
	struct stat st;
	struct ent *e;
	uint64_t serial;
	int fd, pfd, ret;

	if (FileHandle == INVALID_HANDLE_VALUE) {
		if (ExistingCompletionPort) {
			SetLastError(ERROR_INVALID_PARAMETER);
			return NULL;
		}
		return new_port(NumberOfConcurrentThreads);
	}
	fd = HFD(FileHandle);
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		SetLastError(ERROR_INVALID_HANDLE);
		return NULL;
	}
	if (ent_meta(fd) & M_PORT) {	/* a port into a port */
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	e = ent_get(fd, true);
	if (!e) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return NULL;
	}
	if (!port) {
		port = new_port(NumberOfConcurrentThreads);
		if (!port)
			return NULL;
	}
	pfd = HFD(port);
	serial = port_serial(pfd);	/* before the port can be closed */
	ret = pfd < 0 ? -EBADF : cport_associate(pfd, fd, CompletionKey, 0);
	/*
	 * A regular file has no readiness and the kernel takes no I/O on it
	 * (<linux/cport.h>): ReadFile and WriteFile do it at once and post
	 * the packet, so the association is this layer's alone.
	 */
	if (ret == -EOPNOTSUPP && is_regular(fd, &st)) {
		/*
		 * Associated already, unless the number was close()d and
		 * reopened behind this layer's back (another file).
		 */
		if ((ent_load(e) & (M_SOCK | M_SYNC)) == (M_SOCK | M_SYNC) &&
		    e->dev == st.st_dev && e->ino == st.st_ino) {
			ret = -EINVAL;
			goto fail;
		}
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		ent_associate(e, pfd, CompletionKey, serial, M_SYNC);
		SetLastError(ERROR_SUCCESS);
		return port;
	}
	if (ret < 0) {
fail:
		if (!ExistingCompletionPort)
			close_port(pfd);
		fail(ret, FALSE);
		return NULL;
	}
	ent_associate(e, pfd, CompletionKey, serial, 0);
	SetLastError(ERROR_SUCCESS);
	return port;
}

/*
 * Add M_SKIP to @e.  An association to a closed port is dropped on the
 * way, so that the mode is kept for the socket's next association.
 */
static void ent_set_skip(struct ent *e)
{
	uint64_t old = __atomic_load_n(&e->meta, __ATOMIC_ACQUIRE), meta;

	do {
		meta = (ent_live(e, old) ? old : 0) | M_SKIP;
	} while (!__atomic_compare_exchange_n(&e->meta, &old, meta, false,
					      __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
}

BOOL SetFileCompletionNotificationModes(HANDLE FileHandle, BYTE Flags)
{
	int fd = HFD(FileHandle);
	struct ent *e;

	if (Flags & ~(FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
		      FILE_SKIP_SET_EVENT_ON_HANDLE)) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	if (ent_meta(fd) & M_PORT) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	if (!(Flags & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
		return TRUE;
	e = ent_get(fd, true);
	if (!e) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return FALSE;
	}
	ent_set_skip(e);
	return TRUE;
}

/* --- Finishing an operation ---------------------------------------------------- */

/*
 * GetOverlappedResult(bWait) sleeps on the low 32 bits of an OVERLAPPED's
 * Internal (a futex) until it is no longer STATUS_PENDING.  ov_waiters
 * counts the threads doing so, by a hash of the OVERLAPPED's address: the
 * thread that ends an operation wakes the address only when its slot
 * counts some, so the common case costs one load, and a thread waiting in
 * GetOverlappedResult() does not make every other operation's end pay a
 * FUTEX_WAKE.  Both sides are sequentially consistent: either
 * the ender sees the waiter counted, or the waiter sees the new Internal
 * (and the kernel compares it again under the futex's lock).  Waking an
 * OVERLAPPED freed meanwhile is harmless: a private futex's key is the
 * address, nothing is read there.
 */
#define OV_WAITER_SLOTS	64
static int ov_waiters[OV_WAITER_SLOTS];

/* The count of threads waiting on OVERLAPPEDs that share @ov's slot. */
static int *ov_waiter_slot(LPOVERLAPPED ov)
{
	uintptr_t a = (uintptr_t)ov / sizeof(OVERLAPPED);

	return &ov_waiters[(a ^ a >> 6 ^ a >> 12) % OV_WAITER_SLOTS];
}

static uint32_t *ov_word(LPOVERLAPPED ov)
{
	uint32_t *w = (uint32_t *)&ov->Internal;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w += sizeof(ov->Internal) / sizeof(*w) - 1;
#endif
	return w;
}

/* End @ov's operation: InternalHigh @high, Internal the Win32 @code. */
static void ov_done(LPOVERLAPPED ov, ULONG_PTR high, DWORD code)
{
	ov->InternalHigh = high;
	__atomic_store_n(&ov->Internal, (ULONG_PTR)code, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(ov_waiter_slot(ov), __ATOMIC_SEQ_CST))
		syscall(SYS_futex, ov_word(ov), FUTEX_WAKE_PRIVATE, INT_MAX,
			NULL, NULL, 0);
}

static long long mono_ns(void);

/*
 * Wait while @ov is STATUS_PENDING, until the CLOCK_MONOTONIC @deadline
 * (0: for ever); returns its Internal then.  The waiter counts itself in
 * @ov's slot for ov_done() (see above).
 */
static ULONG_PTR ov_wait(LPOVERLAPPED ov, long long deadline)
{
	ULONG_PTR st = __atomic_load_n(&ov->Internal, __ATOMIC_SEQ_CST);
	int *slot = ov_waiter_slot(ov);

	if (st != STATUS_PENDING)
		return st;
	__atomic_add_fetch(slot, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		struct timespec ts, *tp = NULL;

		st = __atomic_load_n(&ov->Internal, __ATOMIC_SEQ_CST);
		if (st != STATUS_PENDING)
			break;
		if (deadline) {
			long long left = deadline - mono_ns();

			if (left <= 0)
				break;
			ts.tv_sec = left / 1000000000LL;
			ts.tv_nsec = left % 1000000000LL;
			tp = &ts;
		}
		syscall(SYS_futex, ov_word(ov), FUTEX_WAIT_PRIVATE,
			(uint32_t)STATUS_PENDING, tp, NULL, 0);
	}
	__atomic_sub_fetch(slot, 1, __ATOMIC_SEQ_CST);
	return st;
}

/*
 * Wait until @ov is no longer STATUS_PENDING: the thread that submitted
 * its operation is ending it now (a packet the kernel posted for an
 * immediate success, dequeued before that thread stored the result).
 * That is a few instructions after its system call returned, unless it
 * was preempted; at most OV_SETTLE_MS, so that an OVERLAPPED the program
 * reused for a new operation before this packet was dequeued (which it
 * must not) costs a stale OVERLAPPED, not a thread waiting for ever.
 */
#define OV_SETTLE_MS	100

static void ov_settle(LPOVERLAPPED ov)
{
	if (__atomic_load_n(&ov->Internal, __ATOMIC_SEQ_CST) != STATUS_PENDING)
		return;
	ov_wait(ov, mono_ns() + OV_SETTLE_MS * 1000000LL);
}

/*
 * AcceptEx into a caller's socket (sAcceptSocket).
 *
 * Linux makes the accepted socket itself, so when the accept completes the
 * connection is moved onto the caller's descriptor number with dup2(),
 * which atomically closes the caller's unconnected socket there.  dup2()
 * onto a number is only safe while that number still holds the caller's
 * socket: had the caller closed it and an unrelated open() taken the
 * number, the connection would silently replace that descriptor.  So the
 * layer owns the number from AcceptEx until the AcceptEx is over:
 *
 *   - AcceptEx records itself in the target's entry (ent.acc) under
 *     acc_lock; a second AcceptEx into the same socket fails (WSAEINVAL,
 *     as on Windows).
 *   - closesocket()/CloseHandle() of the target while its AcceptEx is
 *     pending does not close() the descriptor: under acc_lock it marks
 *     the AcceptEx closed and cancels it.  The unconnected socket stays
 *     open, and its number taken, until the AcceptEx's completion is
 *     finished; nothing can see it (it has no peer).
 *   - Finishing the AcceptEx (deliver(), under acc_lock) closes the
 *     number itself if the target was closed meanwhile, and reports
 *     ERROR_OPERATION_ABORTED (closing the new connection if the accept
 *     won the race with the cancel); otherwise it dup2()s onto the
 *     number, which the layer still owns.
 *   - The rule: the number is the AcceptEx's exactly while the target's
 *     ent.acc points to its context (under acc_lock); nothing touches
 *     the number otherwise.  If the listener's port was closed (its
 *     destroy discards the AcceptEx: no completion will come),
 *     closesocket() of the target closes the number at once and clears
 *     ent.acc.
 *
 * A plain close() of the target goes around the layer and cannot be seen
 * when it happens.  The identity of the target (device and inode) is
 * recorded at AcceptEx and checked before the dup2(): a number closed
 * with close() and since reused by another file gets no connection (the
 * AcceptEx completes with ERROR_OPERATION_ABORTED).  Only a close() and a
 * reopen racing with that check in other threads can still escape it:
 * close the accept socket with closesocket(), as on Windows.
 *
 * AcceptEx with dwReceiveDataLength > 0 (accept, then the first block of
 * data): the accept is submitted with CPORT_ACCEPT_ASSOCIATE under the
 * listener's key, so the new connection is on the listener's port at
 * once.  The thread that finishes the accept's completion submits a RECV
 * of the first block on it with the same OVERLAPPED, and reports
 * nothing (finish() returns 1: the waiting call goes on waiting).  The
 * RECV's completion (or its inline result) ends the AcceptEx: the
 * connection is dissociated (it is the caller's to associate, as on
 * Windows), moved onto the target, and the packet reports the bytes
 * received.  Closing the target cancels either phase.
 */
static pthread_mutex_t acc_lock = PTHREAD_MUTEX_INITIALIZER;

enum { CTX_ACCEPT, CTX_RECVFROM, CTX_TRANSMIT };

/*
 * What InternalHigh points to while an AcceptEx is pending, or a
 * TransmitFile with TF_DISCONNECT (CTX_TRANSMIT, target INVALID_SOCKET:
 * its two operations, the send and the DISCONNECT queued behind it in the
 * kernel, share the OVERLAPPED; the last of them to finish reports both:
 * left, and the send's bytes and errno and the DISCONNECT's).
 */
struct op_ctx {
	int kind;
	int left;
	DWORD sent;
	int send_err;
	int disc_err;
	SOCKET target;		/* INVALID_SOCKET: keep the new descriptor */
	bool closed;		/* the target was closesocket()ed (acc_lock) */
	dev_t dev;		/* the target's identity */
	ino_t ino;
	LPOVERLAPPED ov;
	int port;		/* the listener's port, its serial, */
	uint64_t serial;
	uint64_t key;		/* ... and the listener's key */
	int nfd;		/* the connection, while its first data comes */
	char *out;		/* lpOutputBuffer */
	DWORD data_len;		/* dwReceiveDataLength */
	DWORD local_len;
	DWORD remote_len;
	/* CTX_RECVFROM: the RECVMSG's msghdr, the kernel's until it is done. */
	LPINT fromlen;		/* lpFromlen, set when it completes */
	LPWSAMSG wmsg;		/* WSARecvMsg's, its lengths set then */
	struct msghdr msg;
	struct iovec iov[];
};

/*
 * What InternalHigh holds while a ReadFile on a pipe or FIFO is pending
 * (not a context: nothing to free): its 0 bytes are the writers' end,
 * ERROR_BROKEN_PIPE, where a character device's are a success.
 */
#define CTX_PIPE_READ	((struct op_ctx *)1)

/* Whether descriptor @fd is still the socket AcceptEx recorded in @ctx. */
static bool same_target(int fd, const struct op_ctx *ctx)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISSOCK(st.st_mode) &&
	       st.st_dev == ctx->dev && st.st_ino == ctx->ino;
}

/*
 * The AcceptEx of @ctx is over without a connection for its target (it
 * failed at submission): give the target back, or close it if it was
 * closesocket()ed meanwhile.  Frees @ctx.
 */
static void ctx_abandon(struct op_ctx *ctx)
{
	if (ctx == CTX_PIPE_READ)
		return;
	if (ctx && ctx->target != INVALID_SOCKET) {
		struct ent *te = ent_get((int)ctx->target, false);

		pthread_mutex_lock(&acc_lock);
		if (te && te->acc == ctx) {
			if (ctx->closed)
				close((int)ctx->target);
			__atomic_store_n(&te->acc, NULL, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&acc_lock);
	}
	free(ctx);
}

/*
 * End the AcceptEx of @ctx: the connection @nfd (or -1) onto its target
 * or as a new descriptor, or the error @err; @nbytes of first data.
 * Stores the result into @ov, frees @ctx; returns 0 or -errno.
 */
static int deliver(struct op_ctx *ctx, LPOVERLAPPED ov, int nfd, int err,
		   DWORD nbytes, DWORD *bytes)
{
	SOCKET s = INVALID_SOCKET;

	if (ctx->target != INVALID_SOCKET) {
		int t = (int)ctx->target;
		struct ent *te = ent_get(t, false);

		pthread_mutex_lock(&acc_lock);
		if (!te || te->acc != ctx) {
			/* Given back by closesocket() (its port was closed). */
			err = ECANCELED;
		} else if (ctx->closed) {
			/* The number was kept for this moment: free it. */
			err = ECANCELED;
			close(t);
		} else if (!err && !same_target(t, ctx)) {
			err = ECANCELED;	/* close()d behind our back */
		} else if (!err) {
			if (dup2(nfd, t) < 0)
				err = errno;
			else
				s = ctx->target;
		}
		if (te && te->acc == ctx)
			__atomic_store_n(&te->acc, NULL, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&acc_lock);
		if (nfd >= 0)
			close(nfd);
		if (s != INVALID_SOCKET) {
			int port;
			uint64_t key;

			/*
			 * Associated before AcceptEx: the association was the
			 * unconnected socket's, which dup2() closed; give it
			 * to the connection now on that number.
			 */
			if (sock_port(t, &port, &key, NULL)) {
				int ret = cport_associate(port, t, key, 0);

				if (ret < 0 && ret != -EEXIST) {
					err = -ret;
					s = INVALID_SOCKET;
				}
			}
		}
	} else if (!err) {
		s = (SOCKET)nfd;
		ent_forget(nfd);	/* a new number: nothing of ours */
	} else if (nfd >= 0) {
		close(nfd);
	}
	if (!err && ctx->local_len) {
		char *local = ctx->out + ctx->data_len;
		socklen_t len = ctx->local_len;

		if (getsockname((int)s, (struct sockaddr *)local, &len))
			memset(local, 0, ctx->local_len);
	}
	free(ctx);
	*bytes = err ? 0 : nbytes;
	ov_done(ov, err ? 0 : s, cport_win32_error(err, FALSE));
	return -err;
}

/*
 * AcceptEx with data: submit the RECV of the first block on the new
 * connection.  Returns true if it is pending (its completion ends the
 * AcceptEx), else false with the RECV's result in *@res (bytes >= 0 or
 * -errno).
 */
static bool first_recv(struct op_ctx *ctx, long long *res)
{
	struct cport_sqe sqe;
	bool locked = ctx->target != INVALID_SOCKET;
	int ret;

	cport_prep_recv(&sqe, ctx->nfd, ctx->out, ctx->data_len,
			(__u64)(uintptr_t)ctx->ov, 0);
	sqe.flags = CPORT_SQE_INLINE;
	/*
	 * Under acc_lock, so that a closesocket() of the target either
	 * came first (seen here) or comes after the submission (and its
	 * cancel finds the RECV).
	 */
	if (locked) {
		pthread_mutex_lock(&acc_lock);
		if (ctx->closed) {
			pthread_mutex_unlock(&acc_lock);
			*res = -ECANCELED;
			return false;
		}
	}
	ret = cport_submit(ctx->port, &sqe, 1);
	if (locked)
		pthread_mutex_unlock(&acc_lock);
	if (ret < 0) {
		*res = ret;
		return false;
	}
	if (sqe.status == CPORT_STATUS_PENDING)
		return true;	/* ctx and the OVERLAPPED are no longer ours */
	*res = sqe.res;
	return false;
}

/* The RECV of an AcceptEx's first data ended with @res. */
static int finish_first_data(struct op_ctx *ctx, LPOVERLAPPED ov,
			     long long res, DWORD *bytes)
{
	int nfd = ctx->nfd;

	if (res < 0) {
		close(nfd);	/* closing it ends its association */
		return deliver(ctx, ov, -1, (int)-res, 0, bytes);
	}
	cport_dissociate(ctx->port, nfd);
	return deliver(ctx, ov, nfd, 0, (DWORD)res, bytes);
}

/*
 * One of a TransmitFile's two operations (TF_DISCONNECT) ended: 1 if the
 * other is still to come, else the packet for both (the bytes sent, the
 * send's error, else the DISCONNECT's).
 */
static int finish_transmit(struct op_ctx *ctx, LPOVERLAPPED ov,
			   const struct cport_cqe *cqe, DWORD *bytes)
{
	int err = cqe->res < 0 ? (int)-cqe->res : 0;

	if (cqe->op == CPORT_OP_DISCONNECT) {
		ctx->disc_err = err;
	} else {
		ctx->sent = (DWORD)cqe->bytes;
		ctx->send_err = err;
	}
	if (__atomic_sub_fetch(&ctx->left, 1, __ATOMIC_ACQ_REL))
		return 1;
	err = ctx->send_err ? ctx->send_err : ctx->disc_err;
	*bytes = ctx->sent;
	free(ctx);
	ov_done(ov, *bytes, cport_win32_error(err, FALSE));
	return -err;
}

/*
 * A RECVMSG of WSARecvFrom or WSARecvMsg received: the address's length
 * to *lpFromlen, or WSARecvMsg's lengths and flags into its WSAMSG.
 */
static void recvmsg_done(struct op_ctx *ctx)
{
	if (ctx->fromlen)
		*ctx->fromlen = (INT)ctx->msg.msg_namelen;
	if (ctx->wmsg) {
		ctx->wmsg->namelen = (INT)ctx->msg.msg_namelen;
		ctx->wmsg->Control.len = (ULONG)ctx->msg.msg_controllen;
		ctx->wmsg->dwFlags = (ULONG)ctx->msg.msg_flags;
	}
}

/*
 * Finish the operation of @cqe (a dequeued completion or an inline
 * result): store status and bytes into its OVERLAPPED, release the
 * context.  Returns 0 or the -errno of a failed operation; *bytes gets
 * the bytes to report.  Returns 1 when the operation went on instead
 * (an AcceptEx now waiting for its first data): nothing to report.
 * Posted packets (CPORT_OP_POST) are reported as given and their
 * OVERLAPPED is not touched; the kernel's packet of an immediate success
 * (CPORT_CQE_F_INLINE) is reported as given once its submitter has ended
 * the operation.
 */
static int finish(const struct cport_cqe *cqe, DWORD *bytes)
{
	LPOVERLAPPED ov = (LPOVERLAPPED)(uintptr_t)cqe->user_data;
	bool pipe_read = false;
	struct op_ctx *ctx;
	int err = 0;

	*bytes = (DWORD)cqe->bytes;
	/* The layer posts a failure with its -errno (transmit_disconnect()). */
	if (cqe->op == CPORT_OP_POST || !ov)
		return cqe->op == CPORT_OP_POST && ov && cqe->res < 0 ?
		       (int)cqe->res : 0;
	if (cqe->flags & CPORT_CQE_F_INLINE) {
		/*
		 * The packet of an immediate success, which the kernel posted
		 * (submit_io()): its submitter ends the operation; the
		 * OVERLAPPED is the caller's once it has.
		 */
		ov_settle(ov);
		return 0;
	}
	ctx = (struct op_ctx *)ov->InternalHigh;
	if (ctx == CTX_PIPE_READ) {
		ctx = NULL;
		pipe_read = true;
	}
	if (cqe->res < 0)
		err = (int)-cqe->res;
	if (ctx && ctx->kind == CTX_TRANSMIT)
		return finish_transmit(ctx, ov, cqe, bytes);

	if (cqe->op == CPORT_OP_RECVMSG) {
		/*
		 * WSARecvFrom: the address's length; WSARecvMsg: the
		 * lengths and flags; both: a datagram cut short.
		 */
		if (ctx) {
			if (!err)
				recvmsg_done(ctx);
			free(ctx);
		}
		if (!err && (cqe->flags & CPORT_CQE_F_TRUNC))
			err = EMSGSIZE;
		ov_done(ov, *bytes, cport_win32_error(err, FALSE));
		return -err;
	}
	if (cqe->op == CPORT_OP_ACCEPT) {
		long long res;

		if (err || !ctx->data_len)
			return deliver(ctx, ov, err ? -1 : (int)cqe->res, err,
				       0, bytes);
		ctx->nfd = (int)cqe->res;
		if (first_recv(ctx, &res))
			return 1;
		return finish_first_data(ctx, ov, res, bytes);
	}
	if (ctx)	/* the RECV of an AcceptEx's first data */
		return finish_first_data(ctx, ov, cqe->res, bytes);

	/*
	 * ReadFile, WriteFile on a pipe or a character device (a socket's
	 * are RECV and SEND).
	 */
	if (pipe_read && !cqe->res)
		err = XERR_BROKEN_PIPE;
	else if (cqe->op == CPORT_OP_WRITE && err == EPIPE)
		err = XERR_NO_DATA;

	ov_done(ov, *bytes, cport_win32_error(err, FALSE));
	return -err;
}

/* --- Waiting --------------------------------------------------------------------- */

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The CLOCK_MONOTONIC deadline of a wait of @ms (0 for none or INFINITE). */
static long long wait_deadline(DWORD ms)
{
	return ms != INFINITE && ms ? mono_ns() + (long long)ms * 1000000LL : 0;
}

/*
 * Wait as GetQueuedCompletionStatus does: restart after a signal.  The
 * same @deadline serves every round of a call that waits again (a
 * completion it finished had nothing to report).
 */
static int win_wait(HANDLE port, struct cport_cqe *cqes, unsigned int max,
		    DWORD ms, long long deadline)
{
	int fd = HFD(port), ret;

	if (fd <= 0)		/* a port is never descriptor 0 */
		return -EBADF;
	do {
		struct cport_enter e = {
			.cqes = (__u64)(uintptr_t)cqes,
			.max_cqes = max,
			.timeout_ns = ms == INFINITE ? -1 : deadline,
			.flags = ms == INFINITE || !ms ? 0 :
				 CPORT_ENTER_ABSTIME,
		};

		ret = cport_enter(fd, &e);
	} while (ret == -EINTR);
	return ret;
}

/* Nothing dequeued: the error for a wait's -errno. */
static DWORD wait_error(int ret)
{
	switch (ret) {
	case -ETIMEDOUT:
		return WAIT_TIMEOUT;
	case -EIDRM:
		return ERROR_ABANDONED_WAIT_0;
	case -EBADF:
	case -ENOTTY:
	case -EPERM:
		return ERROR_INVALID_HANDLE;
	default:
		return cport_win32_error(ret, FALSE);
	}
}

/*
 * Success leaves GetLastError() alone, as on Windows (a caller may read
 * an earlier error after it); failures set it.
 */
BOOL GetQueuedCompletionStatus(HANDLE CompletionPort,
			       LPDWORD lpNumberOfBytesTransferred,
			       PULONG_PTR lpCompletionKey,
			       LPOVERLAPPED *lpOverlapped,
			       DWORD dwMilliseconds)
{
	long long deadline = wait_deadline(dwMilliseconds);
	struct cport_cqe cqe;
	DWORD bytes;
	int ret;

	if (!lpOverlapped || !lpNumberOfBytesTransferred || !lpCompletionKey) {
		if (lpOverlapped)
			*lpOverlapped = NULL;
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	do {
		ret = win_wait(CompletionPort, &cqe, 1, dwMilliseconds,
			       deadline);
		if (ret < 1) {
			*lpOverlapped = NULL;
			SetLastError(ret < 0 ? wait_error(ret) :
					       ERROR_GEN_FAILURE);
			return FALSE;
		}
		ret = finish(&cqe, &bytes);
	} while (ret == 1);	/* went on: wait for the next one */
	*lpNumberOfBytesTransferred = bytes;
	*lpCompletionKey = (ULONG_PTR)cqe.key;
	*lpOverlapped = (LPOVERLAPPED)(uintptr_t)cqe.user_data;
	if (ret < 0)
		return fail(ret, FALSE);
	return TRUE;
}

#define EX_STACK	64

BOOL GetQueuedCompletionStatusEx(HANDLE CompletionPort,
				 LPOVERLAPPED_ENTRY lpCompletionPortEntries,
				 ULONG ulCount, PULONG ulNumEntriesRemoved,
				 DWORD dwMilliseconds, BOOL fAlertable)
{
	long long deadline = wait_deadline(dwMilliseconds);
	struct cport_cqe stack[EX_STACK], *cqes = stack;
	int ret, i;
	ULONG n = 0;

	if (ulNumEntriesRemoved)
		*ulNumEntriesRemoved = 0;
	if (!lpCompletionPortEntries || !ulCount || !ulNumEntriesRemoved) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	if (ulCount > CPORT_MAX_ENTER)
		ulCount = CPORT_MAX_ENTER;
	if (ulCount > EX_STACK) {
		cqes = malloc(ulCount * sizeof(*cqes));
		if (!cqes) {
			SetLastError(ERROR_NOT_ENOUGH_MEMORY);
			return FALSE;
		}
	}
	while (!n) {
		ret = win_wait(CompletionPort, cqes, ulCount, dwMilliseconds,
			       deadline);
		if (ret < 1) {
			SetLastError(ret < 0 ? wait_error(ret) :
					       ERROR_GEN_FAILURE);
			if (cqes != stack)
				free(cqes);
			return FALSE;
		}
		for (i = 0; i < ret; i++) {
			OVERLAPPED_ENTRY *oe = &lpCompletionPortEntries[n];
			DWORD bytes;
			int err = finish(&cqes[i], &bytes);

			if (err == 1)
				continue;	/* went on: nothing to report */
			oe->lpCompletionKey = (ULONG_PTR)cqes[i].key;
			oe->lpOverlapped =
				(LPOVERLAPPED)(uintptr_t)cqes[i].user_data;
			oe->Internal = cport_win32_error(err, FALSE);
			oe->dwNumberOfBytesTransferred = bytes;
			n++;
		}
	}
	*ulNumEntriesRemoved = n;
	if (cqes != stack)
		free(cqes);
	return TRUE;
}

BOOL PostQueuedCompletionStatus(HANDLE CompletionPort,
				DWORD dwNumberOfBytesTransferred,
				ULONG_PTR dwCompletionKey,
				LPOVERLAPPED lpOverlapped)
{
	int fd = HFD(CompletionPort);
	int ret = fd <= 0 ? -EBADF :
		  cport_post(fd, dwCompletionKey,
			     (__u64)(uintptr_t)lpOverlapped, 0,
			     dwNumberOfBytesTransferred);

	if (ret < 0) {
		SetLastError(ret == -EIDRM || ret == -EBADF || ret == -ENOTTY ?
			     ERROR_INVALID_HANDLE :
			     cport_win32_error(ret, FALSE));
		return FALSE;
	}
	return TRUE;
}

/* --- Closing and cancelling ---------------------------------------------------- */

/*
 * closesocket() of an accept socket whose AcceptEx is pending: cancel the
 * AcceptEx, and leave the descriptor to the layer, which closes it when it
 * finishes that AcceptEx (see "AcceptEx into a caller's socket" above).
 * Returns 1 if @e had one (0 or SOCKET_ERROR is then the result), else 0.
 */
static int close_accept_target(int fd, struct ent *e, int *result)
{
	struct op_ctx *ctx;
	int port;

	if (!e || !__atomic_load_n(&e->acc, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&acc_lock);
	ctx = e->acc;
	if (!ctx) {
		pthread_mutex_unlock(&acc_lock);
		return 0;
	}
	if (ctx->closed) {		/* closed already: not a socket now */
		pthread_mutex_unlock(&acc_lock);
		SetLastError(WSAENOTSOCK);
		*result = SOCKET_ERROR;
		return 1;
	}
	ctx->closed = true;
	if (sock_port(fd, &port, NULL, NULL))
		cport_cancel(port, CPORT_CANCEL_FD, (__u64)fd);
	ent_forget(fd);
	if (port_serial(ctx->port) == ctx->serial) {
		cport_cancel(ctx->port, CPORT_CANCEL_USER_DATA,
			     (__u64)(uintptr_t)ctx->ov);
	} else {
		/*
		 * The listener's port was closed: its destroy discarded the
		 * AcceptEx, no completion will come to close the number.
		 * Close it now and give it back (a thread that dequeued the
		 * completion just before the destroy finds it given back
		 * and leaves the number alone).  The context is that
		 * thread's to free, or is lost: nobody may know of it.
		 */
		close(fd);
		__atomic_store_n(&e->acc, NULL, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&acc_lock);
	*result = 0;
	return 1;
}

static void bic_end(int fd);

int closesocket(SOCKET s)
{
	int fd = handle_fd(s), port, ret;

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return SOCKET_ERROR;
	}
	if (close_accept_target(fd, ent_get(fd, false), &ret))
		return ret;
	if (sock_port(fd, &port, NULL, NULL))
		cport_cancel(port, CPORT_CANCEL_FD, (__u64)fd);
	ent_forget(fd);
	bic_end(fd);
	if (close(fd) < 0) {
		fail(errno, TRUE);
		return SOCKET_ERROR;
	}
	return 0;
}

static BOOL close_thread(int fd, struct ent *e);

BOOL CloseHandle(HANDLE hObject)
{
	int fd = HFD(hObject);
	struct ent *e;
	uint64_t meta;

	if (fd < 0) {
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	e = ent_get(fd, false);
	meta = e ? ent_load(e) : 0;
	if (meta & M_PORT)
		return close_port(fd);
	if (meta & M_THREAD)
		return close_thread(fd, e);
	if ((meta & M_SOCK) ||
	    (e && __atomic_load_n(&e->acc, __ATOMIC_ACQUIRE)))
		return closesocket((SOCKET)fd) ? FALSE : TRUE;
	ent_forget(fd);
	if (close(fd) < 0) {
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	return TRUE;
}

BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped)
{
	int fd = HFD(hFile), port, ret;

	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	if (!sock_port(fd, &port, NULL, NULL)) {
		SetLastError(ERROR_NOT_FOUND);	/* no I/O through a port */
		return FALSE;
	}
	if (lpOverlapped)
		ret = cport_cancel(port, CPORT_CANCEL_USER_DATA,
				   (__u64)(uintptr_t)lpOverlapped);
	else
		ret = cport_cancel(port, CPORT_CANCEL_FD, (__u64)fd);
	if (ret < 0)
		return fail(ret, FALSE);
	return TRUE;
}

BOOL CancelIo(HANDLE hFile)
{
	if (CancelIoEx(hFile, NULL))
		return TRUE;
	/* Nothing pending is no failure here, unlike CancelIoEx. */
	return GetLastError() == ERROR_NOT_FOUND;
}

/* --- Socket operations ------------------------------------------------------------- */

/*
 * Submit one RECV, SEND or ACCEPT for @ov with context @ctx on the port
 * of socket @fd.  Returns 0 (done now: *bytes set, the packet posted
 * unless skipped), 1 (pending, or went on pending after an immediate
 * accept), or a negative errno (failed, nothing will follow; @ctx freed
 * and its target given back).
 */
static struct _TP_IO *bic_start(int fd, uint64_t key);
static void bic_cancel(struct _TP_IO *bic);

static int submit_io(int fd, struct cport_sqe *sqe, LPOVERLAPPED ov,
		     struct op_ctx *ctx, DWORD *bytes)
{
	struct _TP_IO *bic = NULL;
	struct cport_cqe cqe = { 0 };
	bool skip, kpost;
	uint64_t key;
	int port, ret;

	if (!sock_port(fd, &port, &key, &skip)) {
		ret = fcntl(fd, F_GETFD) < 0 ? -ENOTSOCK : -EINVAL;
		goto fail;
	}
	/* BindIoCompletionCallback: the layer starts the pool I/O itself. */
	bic = bic_start(fd, key);
	__atomic_store_n(&ov->Internal, STATUS_PENDING, __ATOMIC_RELAXED);
	ov->InternalHigh = (ULONG_PTR)ctx;
	/*
	 * Windows' default mode: an immediate success queues a packet too.
	 * The kernel queues it with the operation's own completion
	 * (CPORT_SQE_INLINE_POST), so a full queue cannot lose it; whoever
	 * dequeues it first waits for this thread to end the operation
	 * (finish()).  An operation with a context (AcceptEx, TransmitFile
	 * with TF_DISCONNECT, WSARecvFrom, WSARecvMsg, a pipe's ReadFile)
	 * can still be made a failure, or go on, by this layer after the
	 * kernel's success (an AcceptEx's target gone, its first data; a
	 * pipe's end of file), so this layer posts that one itself.  (So finish()
	 * must not fail, nor go on, for a result of res >= 0 without a
	 * context: the kernel has queued a success packet for it.)
	 */
	kpost = !skip && !ctx;
	sqe->flags = kpost ? CPORT_SQE_INLINE_POST : CPORT_SQE_INLINE;
	ret = cport_submit(port, sqe, 1);
	if (ret < 0)
		goto fail;
	if (sqe->status == CPORT_STATUS_PENDING)
		return 1;	/* the OVERLAPPED is no longer ours */

	cqe.user_data = sqe->user_data;
	cqe.key = key;
	cqe.res = sqe->res;
	cqe.bytes = sqe->bytes;
	cqe.op = sqe->opcode;
	ret = finish(&cqe, bytes);
	if (ret) {
		if (ret != 1)
			bic_cancel(bic);
		return ret;	/* failed, or an AcceptEx waits for data */
	}
	if (sqe->status == CPORT_STATUS_INLINE_POSTED)
		return 0;	/* its packet is queued */
	if (skip || cport_post(port, key, (__u64)(uintptr_t)ov, 0, *bytes))
		bic_cancel(bic);
	return 0;
fail:
	bic_cancel(bic);
	ctx_abandon(ctx);
	ov_done(ov, 0, cport_win32_error(ret, FALSE));
	return ret;
}

/* The Winsock return of submit_io()'s result. */
static int wsa_result(int ret, DWORD bytes, LPDWORD lpBytes)
{
	if (ret == 0) {
		if (lpBytes)
			*lpBytes = bytes;
		SetLastError(ERROR_SUCCESS);
		return 0;
	}
	SetLastError(ret == 1 ? WSA_IO_PENDING : cport_win32_error(ret, TRUE));
	return SOCKET_ERROR;
}

/* Sum of the buffers' lengths, or -EINVAL past CPORT_MAX_IO. */
static long long total_len(const WSABUF *bufs, DWORD n, DWORD *nonempty,
			   DWORD *first)
{
	long long total = 0;
	DWORD i;

	*nonempty = 0;
	*first = 0;
	for (i = 0; i < n; i++) {
		if (!bufs[i].len)
			continue;
		if (!*nonempty)
			*first = i;
		++*nonempty;
		total += bufs[i].len;
	}
	return total > CPORT_MAX_IO ? -EINVAL : total;
}


#define WSABUF_STACK	16

static void wsabuf_fill(struct iovec *iov, const WSABUF *bufs, DWORD n)
{
	DWORD i;

	for (i = 0; i < n; i++) {
		iov[i].iov_base = bufs[i].buf;
		iov[i].iov_len = bufs[i].len;
	}
}

/*
 * The buffers as an iovec array: in @stack (WSABUF_STACK entries) if
 * they fit, else allocated (iov_put() frees it); NULL (WSAENOBUFS) if
 * that fails.
 */
static struct iovec *wsabuf_iov(const WSABUF *bufs, DWORD n,
				struct iovec *stack)
{
	struct iovec *iov = stack;

	if (n > WSABUF_STACK) {
		iov = calloc(n, sizeof(*iov));
		if (!iov) {
			SetLastError(WSAENOBUFS);
			return NULL;
		}
	}
	wsabuf_fill(iov, bufs, n);
	return iov;
}

static void iov_put(struct iovec *iov, struct iovec *stack)
{
	if (iov != stack)
		free(iov);
}

/* A blocking recvmsg() or sendmsg() of @msg, with the Winsock result. */
static int sync_msg(int fd, struct msghdr *msg, LPDWORD lpBytes, int flags,
		    bool recv)
{
	ssize_t ret;

	do {
		ret = recv ? recvmsg(fd, msg, flags) :
			     sendmsg(fd, msg, flags | MSG_NOSIGNAL);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		fail(errno, TRUE);
		return SOCKET_ERROR;
	}
	if (lpBytes)
		*lpBytes = (DWORD)ret;
	SetLastError(ERROR_SUCCESS);
	return 0;
}

static int sync_io(int fd, LPWSABUF bufs, DWORD n, LPDWORD lpBytes,
		   int flags, bool recv)
{
	struct iovec stack[WSABUF_STACK], *iov;
	struct msghdr msg = { 0 };
	int ret;

	iov = wsabuf_iov(bufs, n, stack);
	if (!iov)
		return SOCKET_ERROR;
	msg.msg_iov = iov;
	msg.msg_iovlen = n;
	ret = sync_msg(fd, &msg, lpBytes, flags, recv);
	iov_put(iov, stack);
	return ret;
}

static int wsa_io(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		  LPDWORD lpBytes, DWORD flags, LPOVERLAPPED ov,
		  LPWSAOVERLAPPED_COMPLETION_ROUTINE routine, bool recv)
{
	struct iovec stack[16], *iov = NULL;
	struct cport_sqe sqe;
	DWORD nonempty, first, bytes = 0, i, k;
	long long total;
	char *buf = NULL;
	int fd = handle_fd(s), ret;

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return SOCKET_ERROR;
	}
	/* No buffer at all is WSAEINVAL, as on Windows; one empty WSABUF
	 * is the zero-byte recv. */
	if (routine || !dwBufferCount || !lpBuffers) {
		SetLastError(WSAEINVAL);
		return SOCKET_ERROR;
	}
	if (flags & ~(recv ? (DWORD)MSG_WAITALL : 0)) {
		SetLastError(WSAEOPNOTSUPP);
		return SOCKET_ERROR;
	}
	if (!ov)
		return sync_io(fd, lpBuffers, dwBufferCount, lpBytes,
			       (int)flags, recv);

	total = total_len(lpBuffers, dwBufferCount, &nonempty, &first);
	if (total < 0) {
		SetLastError(WSAEINVAL);
		return SOCKET_ERROR;
	}
	if (nonempty > CPORT_MAX_IOV) {
		SetLastError(WSAEINVAL);
		return SOCKET_ERROR;
	}
	if (nonempty == 1) {
		buf = lpBuffers[first].buf;
	} else if (nonempty > 1) {
		/* Scatter/gather in the kernel: it reads the array now. */
		iov = nonempty <= 16 ? stack : calloc(nonempty, sizeof(*iov));
		if (!iov) {
			SetLastError(WSAENOBUFS);
			return SOCKET_ERROR;
		}
		for (i = k = 0; i < dwBufferCount; i++) {
			if (!lpBuffers[i].len)
				continue;
			iov[k].iov_base = lpBuffers[i].buf;
			iov[k++].iov_len = lpBuffers[i].len;
		}
	}
	if (recv) {
		unsigned int of = flags & MSG_WAITALL ? CPORT_RECV_FILL : 0;

		if (!total)
			of = 0;	/* a zero-byte recv cannot fill */
		if (iov)
			cport_prep_recvv(&sqe, fd, iov, nonempty,
					 (__u64)(uintptr_t)ov, of);
		else
			cport_prep_recv(&sqe, fd, buf, (size_t)total,
					(__u64)(uintptr_t)ov, of);
	} else if (iov) {
		cport_prep_sendv(&sqe, fd, iov, nonempty, (__u64)(uintptr_t)ov);
	} else {
		cport_prep_send(&sqe, fd, buf, (size_t)total,
				(__u64)(uintptr_t)ov);
	}
	ret = submit_io(fd, &sqe, ov, NULL, &bytes);
	if (iov != stack)
		free(iov);
	return wsa_result(ret, bytes, lpBytes);
}

int WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	return wsa_io(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd,
		      lpFlags ? *lpFlags : 0, lpOverlapped,
		      lpCompletionRoutine, true);
}

int WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	return wsa_io(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent,
		      dwFlags, lpOverlapped, lpCompletionRoutine, false);
}

/*
 * The op_ctx of a RECVMSG into @n buffers (WSARecvFrom, WSARecvMsg): its
 * msghdr and iovec array are the kernel's until it completes.  NULL
 * (WSAENOBUFS set) if it cannot be had.
 */
static struct op_ctx *recvmsg_ctx(const WSABUF *bufs, DWORD n,
				  LPOVERLAPPED ov)
{
	struct op_ctx *ctx = calloc(1, sizeof(*ctx) + n * sizeof(struct iovec));

	if (!ctx) {
		SetLastError(WSAENOBUFS);
		return NULL;
	}
	ctx->kind = CTX_RECVFROM;
	ctx->target = INVALID_SOCKET;
	ctx->nfd = -1;
	ctx->ov = ov;
	wsabuf_fill(ctx->iov, bufs, n);
	ctx->msg.msg_iov = ctx->iov;
	ctx->msg.msg_iovlen = n;
	return ctx;
}

/*
 * The RECVMSG of @ctx on @fd: blocking without @ov, else through the
 * port (finish() ends it).  A datagram cut short fails with WSAEMSGSIZE,
 * the bytes that fit delivered, as on Windows.  Frees or hands over @ctx;
 * the Winsock return.
 */
static int recvmsg_io(int fd, struct op_ctx *ctx, LPDWORD lpBytes,
		      LPOVERLAPPED ov)
{
	struct cport_sqe sqe;
	DWORD bytes = 0;
	ssize_t n;
	int err;

	if (ov) {
		cport_prep_recvmsg(&sqe, fd, &ctx->msg, (__u64)(uintptr_t)ov,
				   0);
		err = submit_io(fd, &sqe, ov, ctx, &bytes);
		return wsa_result(err, bytes, lpBytes);
	}
	do {
		n = recvmsg(fd, &ctx->msg, 0);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		recvmsg_done(ctx);
	err = n < 0 ? errno : (ctx->msg.msg_flags & MSG_TRUNC) ? EMSGSIZE : 0;
	free(ctx);
	if (n >= 0 && lpBytes)
		*lpBytes = (DWORD)n;
	if (err) {
		fail(err, TRUE);
		return SOCKET_ERROR;
	}
	SetLastError(ERROR_SUCCESS);
	return 0;
}

/*
 * The SENDMSG of @msg (its name and control data set) with @n buffers on
 * @fd: blocking without @ov, else through the port, which copies all of
 * it at submission (WSASendTo, WSASendMsg).  The Winsock return.
 */
static int sendmsg_io(int fd, const WSABUF *bufs, DWORD n,
		      struct msghdr *msg, LPDWORD lpBytes, LPOVERLAPPED ov)
{
	struct iovec stack[WSABUF_STACK], *iov;
	struct cport_sqe sqe;
	DWORD bytes = 0;
	int ret;

	iov = wsabuf_iov(bufs, n, stack);
	if (!iov)
		return SOCKET_ERROR;
	msg->msg_iov = iov;
	msg->msg_iovlen = n;
	if (ov) {
		cport_prep_sendmsg(&sqe, fd, msg, (__u64)(uintptr_t)ov);
		ret = submit_io(fd, &sqe, ov, NULL, &bytes);
		ret = wsa_result(ret, bytes, lpBytes);
	} else {
		ret = sync_msg(fd, msg, lpBytes, 0, false);
	}
	iov_put(iov, stack);
	return ret;
}

/* WSARecvFrom: a RECVMSG, lpFromlen set when it completes. */
int WSARecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
		struct sockaddr *lpFrom, LPINT lpFromlen,
		LPWSAOVERLAPPED lpOverlapped,
		LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	int fd = handle_fd(s);
	struct op_ctx *ctx;

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return SOCKET_ERROR;
	}
	if (lpCompletionRoutine || !dwBufferCount || !lpBuffers ||
	    dwBufferCount > CPORT_MAX_IOV) {
		SetLastError(WSAEINVAL);
		return SOCKET_ERROR;
	}
	if (lpFrom && (!lpFromlen || *lpFromlen < 0)) {
		SetLastError(WSAEFAULT);
		return SOCKET_ERROR;
	}
	if (lpFlags && *lpFlags) {
		SetLastError(WSAEOPNOTSUPP);
		return SOCKET_ERROR;
	}
	ctx = recvmsg_ctx(lpBuffers, dwBufferCount, lpOverlapped);
	if (!ctx)
		return SOCKET_ERROR;
	ctx->fromlen = lpFrom ? lpFromlen : NULL;
	ctx->msg.msg_name = lpFrom;
	ctx->msg.msg_namelen = lpFrom ? (socklen_t)*lpFromlen : 0;
	return recvmsg_io(fd, ctx, lpNumberOfBytesRecvd, lpOverlapped);
}

/* WSASendTo: a SENDMSG to lpTo (NULL: the connected peer). */
int WSASendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	      LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
	      const struct sockaddr *lpTo, int iTolen,
	      LPWSAOVERLAPPED lpOverlapped,
	      LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct msghdr msg = { 0 };
	int fd = handle_fd(s);

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return SOCKET_ERROR;
	}
	if (lpCompletionRoutine || !dwBufferCount || !lpBuffers ||
	    dwBufferCount > CPORT_MAX_IOV || (lpTo && iTolen <= 0)) {
		SetLastError(lpTo && iTolen <= 0 ? WSAEFAULT : WSAEINVAL);
		return SOCKET_ERROR;
	}
	if (dwFlags) {
		SetLastError(WSAEOPNOTSUPP);
		return SOCKET_ERROR;
	}
	msg.msg_name = (void *)lpTo;
	msg.msg_namelen = lpTo ? (socklen_t)iTolen : 0;
	return sendmsg_io(fd, lpBuffers, dwBufferCount, &msg,
			  lpNumberOfBytesSent, lpOverlapped);
}

/*
 * WSARecvMsg, as WSAIoctl hands it out (Windows exports no symbol for
 * it): a RECVMSG whose lengths and flags are written back into the WSAMSG
 * when it completes.
 */
static INT wsa_recvmsg(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpBytes,
		       LPWSAOVERLAPPED lpOverlapped,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	int fd = handle_fd(s);
	struct op_ctx *ctx;

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return SOCKET_ERROR;
	}
	if (!lpMsg || (lpMsg->name && lpMsg->namelen < 0)) {
		SetLastError(WSAEFAULT);
		return SOCKET_ERROR;
	}
	if (lpCompletionRoutine || !lpMsg->dwBufferCount ||
	    !lpMsg->lpBuffers || lpMsg->dwBufferCount > CPORT_MAX_IOV) {
		SetLastError(WSAEINVAL);
		return SOCKET_ERROR;
	}
	if (lpMsg->dwFlags) {
		SetLastError(WSAEOPNOTSUPP);
		return SOCKET_ERROR;
	}
	ctx = recvmsg_ctx(lpMsg->lpBuffers, lpMsg->dwBufferCount,
			  lpOverlapped);
	if (!ctx)
		return SOCKET_ERROR;
	ctx->wmsg = lpMsg;
	ctx->msg.msg_name = lpMsg->name;
	ctx->msg.msg_namelen = lpMsg->name ? (socklen_t)lpMsg->namelen : 0;
	ctx->msg.msg_control = lpMsg->Control.len ? lpMsg->Control.buf : NULL;
	ctx->msg.msg_controllen = lpMsg->Control.len;
	return recvmsg_io(fd, ctx, lpBytes, lpOverlapped);
}

/* WSASendMsg: a SENDMSG with the WSAMSG's name and control data. */
int WSASendMsg(SOCKET Handle, LPWSAMSG lpMsg, DWORD dwFlags,
	       LPDWORD lpNumberOfBytesSent, LPWSAOVERLAPPED lpOverlapped,
	       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct msghdr msg = { 0 };
	int fd = handle_fd(Handle);

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return SOCKET_ERROR;
	}
	if (!lpMsg || (lpMsg->name && lpMsg->namelen <= 0)) {
		SetLastError(WSAEFAULT);
		return SOCKET_ERROR;
	}
	if (lpCompletionRoutine ||
	    (lpMsg->dwBufferCount && !lpMsg->lpBuffers) ||
	    lpMsg->dwBufferCount > CPORT_MAX_IOV) {
		SetLastError(WSAEINVAL);
		return SOCKET_ERROR;
	}
	if (dwFlags) {
		SetLastError(WSAEOPNOTSUPP);
		return SOCKET_ERROR;
	}
	msg.msg_name = lpMsg->name;
	msg.msg_namelen = lpMsg->name ? (socklen_t)lpMsg->namelen : 0;
	msg.msg_control = lpMsg->Control.len ? lpMsg->Control.buf : NULL;
	msg.msg_controllen = lpMsg->Control.len;
	return sendmsg_io(fd, lpMsg->lpBuffers, lpMsg->dwBufferCount, &msg,
			  lpNumberOfBytesSent, lpOverlapped);
}

/* --- Pipes, files, and the results of operations --------------------------------- */

/*
 * A regular file's port and key, if this layer associated it (M_SYNC) and
 * @st is still that file: a number close()d behind the layer's back and
 * reopened on another file is not associated (the kernel checks nothing
 * for these associations).
 */
static bool file_port(int fd, const struct stat *st, int *port,
		      uint64_t *key, bool *skip)
{
	struct ent *e = ent_get(fd, false);
	uint64_t meta = e ? ent_load(e) : 0;

	if ((meta & (M_SOCK | M_SYNC)) != (M_SOCK | M_SYNC) ||
	    e->dev != st->st_dev || e->ino != st->st_ino)
		return false;
	*port = (int)(meta >> 32);
	*key = __atomic_load_n(&e->key, __ATOMIC_RELAXED);
	*skip = meta & M_SKIP;
	return true;
}

/*
 * An overlapped operation on @fd that this layer did at once (a regular
 * file's read or write, a zero-byte one on a pipe): @n bytes or the error
 * @err into @ov, and on success its packet, unless @fd skips completion
 * on success.  TRUE, or FALSE with the error (no packet), as Windows.
 */
static BOOL done_now(int fd, int port, uint64_t key, bool skip,
		     LPOVERLAPPED ov, ssize_t n, int err, LPDWORD lpBytes)
{
	struct _TP_IO *bic = bic_start(fd, key);

	ov_done(ov, err ? 0 : (ULONG_PTR)n, cport_win32_error(err, FALSE));
	if (err) {
		bic_cancel(bic);
		return fail(err, FALSE);
	}
	if (lpBytes)
		*lpBytes = (DWORD)n;
	if (skip || cport_post(port, key, (__u64)(uintptr_t)ov, 0, (__u32)n))
		bic_cancel(bic);
	return TRUE;
}

/*
 * write(2) on a pipe with SIGPIPE blocked, and the SIGPIPE it raised
 * taken back: Windows has no signals, and a write to a pipe without
 * readers fails there (ERROR_NO_DATA) instead of ending the process.  A
 * SIGPIPE already pending before the write is left pending.
 */
static ssize_t write_nosig(int fd, const void *buf, size_t len)
{
	static const struct timespec zero;
	sigset_t set, old, pending;
	bool had;
	ssize_t n;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	had = !sigpending(&pending) && sigismember(&pending, SIGPIPE);
	n = write(fd, buf, len);
	err = errno;
	if (n < 0 && err == EPIPE && !had)
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return n;
}

/*
 * A zero-byte ReadFile or WriteFile on a pipe fails as a longer one would
 * at once: ERROR_BROKEN_PIPE once every writer is gone and nothing is left
 * to read, ERROR_NO_DATA once every reader is gone.  Else 0.
 */
static int pipe_broken(int fd, bool rd)
{
	struct pollfd p = { .fd = fd, .events = rd ? POLLIN : POLLOUT };

	if (poll(&p, 1, 0) != 1)
		return 0;
	if (rd)
		return (p.revents & (POLLHUP | POLLIN)) == POLLHUP ?
		       XERR_BROKEN_PIPE : 0;
	return p.revents & POLLERR ? XERR_NO_DATA : 0;
}

/* ReadFile, WriteFile without an OVERLAPPED: blocking, all of a write. */
static BOOL file_sync(int fd, char *buf, DWORD len, LPDWORD lpBytes,
		      bool rd, bool fifo)
{
	size_t done = 0;
	ssize_t n;
	int err = 0;

	if (!len && fifo) {
		err = pipe_broken(fd, rd);
	} else if (rd) {
		do {
			n = read(fd, buf, len);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			err = errno;
		else if (!n && len && fifo)
			err = XERR_BROKEN_PIPE;
		else
			done = (size_t)n;
	} else {
		while (done < len) {
			n = fifo ? write_nosig(fd, buf + done, len - done) :
				   write(fd, buf + done, len - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				err = errno == EPIPE && fifo ? XERR_NO_DATA :
							       errno;
				break;
			}
			done += (size_t)n;
		}
	}
	if (lpBytes)
		*lpBytes = (DWORD)done;
	if (err)
		return fail(err, FALSE);
	return TRUE;
}

static BOOL file_io(HANDLE hFile, char *buf, DWORD len, LPDWORD lpBytes,
		    LPOVERLAPPED ov, bool rd)
{
	int fd = HFD(hFile), port, err = 0, ret;
	struct cport_sqe sqe;
	struct stat st;
	DWORD bytes = 0;
	uint64_t key;
	bool skip;
	ssize_t n;

	if (lpBytes)
		*lpBytes = 0;
	if (fd < 0 || fstat(fd, &st) < 0 ||
	    (ent_meta(fd) & (M_PORT | M_THREAD))) {
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	if (!buf && len) {
		SetLastError(ERROR_NOACCESS);
		return FALSE;
	}
	if (S_ISSOCK(st.st_mode)) {
		WSABUF b = { .len = len, .buf = buf };

		return wsa_io((SOCKET)fd, &b, 1, lpBytes, 0, ov, NULL, rd) ?
		       FALSE : TRUE;
	}
	if (!ov)
		return file_sync(fd, buf, len, lpBytes, rd,
				 S_ISFIFO(st.st_mode));
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		off_t off = (off_t)((uint64_t)ov->OffsetHigh << 32 |
				    ov->Offset);

		if (!file_port(fd, &st, &port, &key, &skip))
			return fail(EINVAL, FALSE);
		do {
			n = rd ? pread(fd, buf, len, off) :
				 pwrite(fd, buf, len, off);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			err = errno;
		else if (rd && !n && len)
			err = XERR_HANDLE_EOF;
		return done_now(fd, port, key, skip, ov, n, err, lpBytes);
	}
	if (!sock_port(fd, &port, &key, &skip))
		return fail(EINVAL, FALSE);
	if (!len)
		return done_now(fd, port, key, skip, ov, 0,
				S_ISFIFO(st.st_mode) ? pipe_broken(fd, rd) : 0,
				lpBytes);
	if (rd)
		cport_prep_read(&sqe, fd, buf, len, key, (__u64)(uintptr_t)ov);
	else
		cport_prep_write(&sqe, fd, buf, len, key, (__u64)(uintptr_t)ov);
	ret = submit_io(fd, &sqe, ov,
			rd && S_ISFIFO(st.st_mode) ? CTX_PIPE_READ : NULL,
			&bytes);
	if (ret == 1) {
		SetLastError(ERROR_IO_PENDING);
		return FALSE;
	}
	if (ret < 0)
		return fail(ret, FALSE);
	if (lpBytes)
		*lpBytes = bytes;
	return TRUE;
}

BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead,
	      LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped)
{
	return file_io(hFile, lpBuffer, nNumberOfBytesToRead,
		       lpNumberOfBytesRead, lpOverlapped, true);
}

BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite,
	       LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped)
{
	return file_io(hFile, (char *)lpBuffer, nNumberOfBytesToWrite,
		       lpNumberOfBytesWritten, lpOverlapped, false);
}

/*
 * The result in @ov, waiting up to @ms (INFINITE: for ever) while it is
 * pending (see ov_done()).  @wsa: the error as Winsock reports it.
 */
static BOOL ov_result(LPOVERLAPPED ov, LPDWORD lpBytes, DWORD ms, bool wsa)
{
	long long deadline = wait_deadline(ms);
	ULONG_PTR st;

	if (!ov) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	st = __atomic_load_n(&ov->Internal, __ATOMIC_SEQ_CST);
	if (st == STATUS_PENDING && ms)	/* deadline 0: INFINITE */
		st = ov_wait(ov, deadline);
	if (st == STATUS_PENDING) {
		SetLastError(ms ? WAIT_TIMEOUT :
			     wsa ? WSA_IO_INCOMPLETE : ERROR_IO_INCOMPLETE);
		return FALSE;
	}
	if (lpBytes)
		*lpBytes = (DWORD)ov->InternalHigh;
	if (st) {
		SetLastError(wsa ? wsa_of_win32((DWORD)st) : (DWORD)st);
		return FALSE;
	}
	return TRUE;
}

BOOL GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
			 LPDWORD lpNumberOfBytesTransferred, BOOL bWait)
{
	return ov_result(lpOverlapped, lpNumberOfBytesTransferred,
			 bWait ? INFINITE : 0, false);
}

BOOL GetOverlappedResultEx(HANDLE hFile, LPOVERLAPPED lpOverlapped,
			   LPDWORD lpNumberOfBytesTransferred,
			   DWORD dwMilliseconds, BOOL bAlertable)
{
	return ov_result(lpOverlapped, lpNumberOfBytesTransferred,
			 dwMilliseconds, false);
}

BOOL WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
			    LPDWORD lpcbTransfer, BOOL fWait,
			    LPDWORD lpdwFlags)
{
	if (lpdwFlags)
		*lpdwFlags = 0;
	return ov_result(lpOverlapped, lpcbTransfer, fWait ? INFINITE : 0,
			 true);
}

BOOL AcceptEx(SOCKET sListenSocket, SOCKET sAcceptSocket,
	      PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
	      DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength,
	      LPDWORD lpdwBytesReceived, LPOVERLAPPED lpOverlapped)
{
	int fd = handle_fd(sListenSocket), ret, port = -1;
	struct op_ctx *ctx;
	struct cport_sqe sqe;
	char *out = lpOutputBuffer, *remote;
	DWORD bytes = 0;
	uint64_t key = 0;
	struct ent *te = NULL;
	struct stat st;

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return FALSE;
	}
	if (!lpOverlapped ||
	    (!out && (dwReceiveDataLength || dwLocalAddressLength ||
		      dwRemoteAddressLength)) ||
	    dwReceiveDataLength > CPORT_MAX_IO ||
	    (sAcceptSocket != INVALID_SOCKET &&
	     (handle_fd(sAcceptSocket) < 0 ||
	      fstat((int)sAcceptSocket, &st) < 0 ||
	      !S_ISSOCK(st.st_mode)))) {
		SetLastError(WSAEINVAL);
		return FALSE;
	}
	sock_port(fd, &port, &key, NULL);	/* else submit_io() fails */
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		SetLastError(WSAENOBUFS);
		return FALSE;
	}
	ctx->kind = CTX_ACCEPT;
	ctx->target = INVALID_SOCKET;
	ctx->ov = lpOverlapped;
	ctx->port = port;
	ctx->serial = port >= 0 ? port_serial(port) : 0;
	ctx->key = key;
	ctx->nfd = -1;
	ctx->out = out;
	ctx->data_len = dwReceiveDataLength;
	ctx->local_len = dwLocalAddressLength;
	ctx->remote_len = dwRemoteAddressLength;
	if (sAcceptSocket != INVALID_SOCKET) {
		te = ent_get((int)sAcceptSocket, true);
		if (!te) {
			free(ctx);
			SetLastError(WSAENOBUFS);
			return FALSE;
		}
		ctx->dev = st.st_dev;
		ctx->ino = st.st_ino;
		/* One AcceptEx at a time into a socket, as on Windows. */
		pthread_mutex_lock(&acc_lock);
		if (te->acc) {
			pthread_mutex_unlock(&acc_lock);
			free(ctx);
			SetLastError(WSAEINVAL);
			return FALSE;
		}
		ctx->target = sAcceptSocket;
		__atomic_store_n(&te->acc, ctx, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&acc_lock);
	}
	if (out)
		memset(out, 0, (size_t)dwReceiveDataLength +
			       dwLocalAddressLength + dwRemoteAddressLength);
	remote = dwRemoteAddressLength ?
		 out + dwReceiveDataLength + dwLocalAddressLength : NULL;
	/*
	 * With data, the connection joins the listener's port under its key
	 * at once, for the RECV of the first block (finish()).
	 */
	cport_prep_accept(&sqe, fd, remote, dwRemoteAddressLength,
			  (__u64)(uintptr_t)lpOverlapped,
			  dwReceiveDataLength ? key : 0,
			  dwReceiveDataLength ? CPORT_ACCEPT_ASSOCIATE : 0);
	ret = submit_io(fd, &sqe, lpOverlapped, ctx, &bytes);
	return wsa_result(ret, bytes, lpdwBytesReceived) ? FALSE : TRUE;
}

/* The length of the address at @sa in an area of @room bytes. */
static int addr_len(const struct sockaddr *sa, DWORD room)
{
	int len;

	switch (sa->sa_family) {
	case AF_INET:
		len = sizeof(struct sockaddr_in);
		break;
	case AF_INET6:
		len = sizeof(struct sockaddr_in6);
		break;
	case AF_UNIX:
		len = sizeof(struct sockaddr_un);
		break;
	default:
		len = 0;
		break;
	}
	return len > (int)room ? (int)room : len;
}

void GetAcceptExSockaddrs(PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
			  DWORD dwLocalAddressLength,
			  DWORD dwRemoteAddressLength,
			  struct sockaddr **LocalSockaddr,
			  int *LocalSockaddrLength,
			  struct sockaddr **RemoteSockaddr,
			  int *RemoteSockaddrLength)
{
	char *out = (char *)lpOutputBuffer + dwReceiveDataLength;
	struct sockaddr *l = (struct sockaddr *)out;
	struct sockaddr *r = (struct sockaddr *)(out + dwLocalAddressLength);

	*LocalSockaddr = l;
	*LocalSockaddrLength = dwLocalAddressLength ?
			       addr_len(l, dwLocalAddressLength) : 0;
	*RemoteSockaddr = r;
	*RemoteSockaddrLength = dwRemoteAddressLength ?
				addr_len(r, dwRemoteAddressLength) : 0;
}

/*
 * Whether @fd has a connection to end: a stream socket, or a unix
 * seqpacket one (the kernel's DISCONNECT says -EOPNOTSUPP otherwise, and
 * the calls without an OVERLAPPED say the same).
 */
static bool has_connection(int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return true;	/* let shutdown(2) say what is wrong */
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return true;
	return type == SOCK_STREAM ||
	       (domain == AF_UNIX && type == SOCK_SEQPACKET);
}

/*
 * Bound, as ConnectEx wants: an IP socket has a local port once bind()
 * (or a connect) gave it one; other families need no bind.
 */
static bool sock_bound(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return false;
	if (ss.ss_family == AF_INET)
		return ((struct sockaddr_in *)&ss)->sin_port != 0;
	if (ss.ss_family == AF_INET6)
		return ((struct sockaddr_in6 *)&ss)->sin6_port != 0;
	return true;
}

BOOL ConnectEx(SOCKET s, const struct sockaddr *name, int namelen,
	       PVOID lpSendBuffer, DWORD dwSendDataLength,
	       LPDWORD lpdwBytesSent, LPOVERLAPPED lpOverlapped)
{
	struct cport_sqe sqe;
	int fd = handle_fd(s), fl, ret;
	DWORD bytes = 0;

	if (fd < 0)
		return fail(ENOTSOCK, TRUE);
	if (!lpOverlapped || !name || namelen <= 0 ||
	    (!lpSendBuffer && dwSendDataLength) || !sock_bound(fd))
		return fail(EINVAL, TRUE);
	/* The connect is the caller's own system call, non-blocking. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return fail(errno, TRUE);
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return fail(errno, TRUE);
	ret = connect(fd, name, (socklen_t)namelen) < 0 &&
	      errno != EINPROGRESS ? -errno : 0;
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl);
	if (ret)
		return fail(ret, TRUE);
	cport_prep_connect(&sqe, fd, lpSendBuffer, dwSendDataLength,
			   (__u64)(uintptr_t)lpOverlapped);
	ret = submit_io(fd, &sqe, lpOverlapped, NULL, &bytes);
	return wsa_result(ret, bytes, lpdwBytesSent) == 0;
}

/* Send all of @buf on @fd, waiting for room if it is non-blocking. */
static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* TransmitFile without an OVERLAPPED: at the file's offset, moving it. */
static BOOL transmit_sync(int fd, int file, DWORD count,
			  const TRANSMIT_FILE_BUFFERS *tb, DWORD flags)
{
	bool to_end = !count;
	size_t left = count;
	ssize_t n;
	int ret;

	if (tb && tb->HeadLength) {
		ret = send_all(fd, tb->Head, tb->HeadLength);
		if (ret)
			return fail(-ret, TRUE);
	}
	while (file >= 0 && (to_end || left)) {
		n = sendfile(fd, file, NULL, to_end || left > (1 << 20) ?
					     (1 << 20) : left);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(errno == ESPIPE ? EINVAL : errno, TRUE);
		if (!n)
			break;		/* the end of the file */
		if (!to_end)
			left -= (size_t)n;
	}
	if (tb && tb->TailLength) {
		ret = send_all(fd, tb->Tail, tb->TailLength);
		if (ret)
			return fail(-ret, TRUE);
	}
	if (flags & TF_DISCONNECT) {
		if (!has_connection(fd))
			return fail(EOPNOTSUPP, TRUE);
		if (shutdown(fd, SHUT_WR))
			return fail(errno, TRUE);
	}
	SetLastError(ERROR_SUCCESS);
	return TRUE;
}

/*
 * TransmitFile with TF_DISCONNECT: its send @sqe and a DISCONNECT, queued
 * together (the kernel runs the DISCONNECT once the send is done, so the
 * FIN follows the data without any thread's help), both always posted,
 * one packet for the two (finish_transmit()).  FALSE with ERROR_IO_PENDING,
 * or another code when nothing was taken.
 */
static BOOL transmit_disconnect(int fd, struct cport_sqe *sqe,
				LPOVERLAPPED ov)
{
	struct cport_sqe sqes[2];
	struct _TP_IO *bic;
	struct op_ctx *ctx;
	unsigned int n = 0;
	uint64_t key;
	int port, ret, err;

	if (!sock_port(fd, &port, &key, NULL))
		return fail(fcntl(fd, F_GETFD) < 0 ? ENOTSOCK : EINVAL, TRUE);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return fail(ENOBUFS, TRUE);
	ctx->kind = CTX_TRANSMIT;
	ctx->target = INVALID_SOCKET;
	ctx->ov = ov;
	ctx->left = 2;
	sqes[0] = *sqe;
	sqes[0].flags = CPORT_SQE_POST;
	cport_prep_disconnect(&sqes[1], fd, 0, (__u64)(uintptr_t)ov);
	sqes[1].flags = CPORT_SQE_POST;
	bic = bic_start(fd, key);
	__atomic_store_n(&ov->Internal, STATUS_PENDING, __ATOMIC_RELAXED);
	ov->InternalHigh = (ULONG_PTR)ctx;
	ret = cport_submit_and_wait(port, sqes, 2, NULL, 0, 0, &n);
	if (!n) {
		bic_cancel(bic);
		free(ctx);
		ov_done(ov, 0, cport_win32_error(-ret, FALSE));
		return fail(-ret, TRUE);
	}
	if (n == 1) {
		/* The send is pending, its DISCONNECT could not be queued. */
		ctx->disc_err = -ret;
		if (!__atomic_sub_fetch(&ctx->left, 1, __ATOMIC_ACQ_REL)) {
			/* The send is over already: post the packet. */
			struct cport_sqe post;
			DWORD bytes = ctx->sent;

			err = ctx->send_err ? ctx->send_err : ctx->disc_err;
			free(ctx);
			ov_done(ov, bytes, cport_win32_error(err, FALSE));
			cport_prep_post(&post, key, (__u64)(uintptr_t)ov, -err,
					bytes);
			if (cport_submit(port, &post, 1) < 0)
				bic_cancel(bic);
		}
	}
	SetLastError(WSA_IO_PENDING);
	return FALSE;
}

BOOL TransmitFile(SOCKET hSocket, HANDLE hFile, DWORD nNumberOfBytesToWrite,
		  DWORD nNumberOfBytesPerSend, LPOVERLAPPED lpOverlapped,
		  LPTRANSMIT_FILE_BUFFERS lpTransmitBuffers, DWORD dwReserved)
{
	const TRANSMIT_FILE_BUFFERS *tb = lpTransmitBuffers;
	int fd = handle_fd(hSocket), file = -1, ret;
	struct cport_sendfile sf = { 0 };
	struct iovec iov[2];
	unsigned int niov = 0;
	struct cport_sqe sqe;
	DWORD bytes = 0;

	if (fd < 0)
		return fail(ENOTSOCK, TRUE);
	if (dwReserved & TF_REUSE_SOCKET)
		return fail(EOPNOTSUPP, TRUE);
	if (hFile) {
		file = HFD(hFile);
		if (file < 0)
			return fail(EINVAL, TRUE);
	}
	if (tb && ((!tb->Head && tb->HeadLength) ||
		   (!tb->Tail && tb->TailLength)))
		return fail(EINVAL, TRUE);
	if (!lpOverlapped)
		return transmit_sync(fd, file, nNumberOfBytesToWrite, tb,
				     dwReserved);

	if (tb && tb->HeadLength) {
		iov[niov].iov_base = tb->Head;
		iov[niov++].iov_len = tb->HeadLength;
		sf.head = (uintptr_t)tb->Head;
		sf.head_len = tb->HeadLength;
	}
	if (tb && tb->TailLength) {
		iov[niov].iov_base = tb->Tail;
		iov[niov++].iov_len = tb->TailLength;
		sf.tail = (uintptr_t)tb->Tail;
		sf.tail_len = tb->TailLength;
	}
	if (file >= 0) {
		sf.file_fd = file;
		sf.offset = lpOverlapped->Offset |
			    (uint64_t)lpOverlapped->OffsetHigh << 32;
		sf.count = nNumberOfBytesToWrite;
		cport_prep_sendfile(&sqe, fd, &sf,
				    (__u64)(uintptr_t)lpOverlapped);
	} else if (niov == 2) {
		cport_prep_sendv(&sqe, fd, iov, 2,
				 (__u64)(uintptr_t)lpOverlapped);
	} else {
		cport_prep_send(&sqe, fd, niov ? iov[0].iov_base : NULL,
				niov ? iov[0].iov_len : 0,
				(__u64)(uintptr_t)lpOverlapped);
	}
	if (dwReserved & TF_DISCONNECT)
		return transmit_disconnect(fd, &sqe, lpOverlapped);
	ret = submit_io(fd, &sqe, lpOverlapped, NULL, &bytes);
	return wsa_result(ret, bytes, NULL) == 0;
}

BOOL DisconnectEx(SOCKET s, LPOVERLAPPED lpOverlapped, DWORD dwFlags,
		  DWORD dwReserved)
{
	int fd = handle_fd(s), ret;
	struct cport_sqe sqe;
	DWORD bytes = 0;

	if (fd < 0)
		return fail(ENOTSOCK, TRUE);
	if (dwReserved || (dwFlags & ~(DWORD)TF_REUSE_SOCKET))
		return fail(EINVAL, TRUE);
	if (dwFlags & TF_REUSE_SOCKET)
		return fail(EOPNOTSUPP, TRUE);
	if (!lpOverlapped) {
		if (!has_connection(fd))
			return fail(EOPNOTSUPP, TRUE);
		if (shutdown(fd, SHUT_WR))
			return fail(errno, TRUE);
		SetLastError(ERROR_SUCCESS);
		return TRUE;
	}
	cport_prep_disconnect(&sqe, fd, 0, (__u64)(uintptr_t)lpOverlapped);
	ret = submit_io(fd, &sqe, lpOverlapped, NULL, &bytes);
	return wsa_result(ret, bytes, NULL) == 0;
}

static bool guid_is(const GUID *g, const GUID *want)
{
	return !memcmp(g, want, sizeof(*g));
}

int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer,
	     DWORD cbInBuffer, LPVOID lpvOutBuffer, DWORD cbOutBuffer,
	     LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
	     LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	static const GUID acceptex = WSAID_ACCEPTEX,
			  connectex = WSAID_CONNECTEX,
			  sockaddrs = WSAID_GETACCEPTEXSOCKADDRS,
			  transmitfile = WSAID_TRANSMITFILE,
			  disconnectex = WSAID_DISCONNECTEX,
			  recvmsg_id = WSAID_WSARECVMSG,
			  sendmsg_id = WSAID_WSASENDMSG;
	void (*fn)(void) = NULL;
	GUID g;

	if (handle_fd(s) < 0) {
		SetLastError(WSAENOTSOCK);
		return SOCKET_ERROR;
	}
	if (dwIoControlCode != SIO_GET_EXTENSION_FUNCTION_POINTER) {
		SetLastError(WSAEOPNOTSUPP);
		return SOCKET_ERROR;
	}
	if (lpOverlapped || lpCompletionRoutine || !lpvInBuffer ||
	    cbInBuffer < sizeof(GUID) || !lpvOutBuffer ||
	    cbOutBuffer < sizeof(fn)) {
		SetLastError(lpvOutBuffer && cbOutBuffer < sizeof(fn) ?
			     WSAEFAULT : WSAEINVAL);
		return SOCKET_ERROR;
	}
	memcpy(&g, lpvInBuffer, sizeof(g));
	if (guid_is(&g, &acceptex))
		fn = (void (*)(void))AcceptEx;
	else if (guid_is(&g, &connectex))
		fn = (void (*)(void))ConnectEx;
	else if (guid_is(&g, &sockaddrs))
		fn = (void (*)(void))GetAcceptExSockaddrs;
	else if (guid_is(&g, &transmitfile))
		fn = (void (*)(void))TransmitFile;
	else if (guid_is(&g, &disconnectex))
		fn = (void (*)(void))DisconnectEx;
	else if (guid_is(&g, &recvmsg_id))
		fn = (void (*)(void))wsa_recvmsg;
	else if (guid_is(&g, &sendmsg_id))
		fn = (void (*)(void))WSASendMsg;
	if (!fn) {
		SetLastError(WSAEINVAL);
		return SOCKET_ERROR;
	}
	memcpy(lpvOutBuffer, &fn, sizeof(fn));
	if (lpcbBytesReturned)
		*lpcbBytesReturned = sizeof(fn);
	SetLastError(ERROR_SUCCESS);
	return 0;
}

/* --- Threads, waits and the rest of a Winsock program's calls ------------------ */

/*
 * A thread's HANDLE is a descriptor too: an eventfd this layer made,
 * written (made readable, for good) when the thread function returns, so
 * WaitForSingleObject and WaitForMultipleObjects are poll().  The thread
 * runs detached: its record is freed by whichever of the thread's end and
 * CloseHandle comes last, under thr_lock, and the thread writes the
 * eventfd only while the handle is open (its number is not reused under
 * it).
 */
struct thread_rec {
	LPTHREAD_START_ROUTINE fn;
	unsigned int (WINAPI *bfn)(void *);	/* _beginthreadex */
	LPVOID arg;
	int efd;		/* the handle; -1 once closed */
	bool done;
	DWORD exit_code;
};

static pthread_mutex_t thr_lock = PTHREAD_MUTEX_INITIALIZER;
static DWORD last_thread_id;

static void *thread_main(void *arg)
{
	struct thread_rec *t = arg;
	DWORD code = t->fn ? t->fn(t->arg) : t->bfn(t->arg);
	bool free_it;

	pthread_mutex_lock(&thr_lock);
	t->exit_code = code;
	t->done = true;
	if (t->efd >= 0)
		eventfd_write(t->efd, 1);
	free_it = t->efd < 0;
	pthread_mutex_unlock(&thr_lock);
	if (free_it)
		free(t);
	return NULL;
}

static HANDLE new_thread(LPSECURITY_ATTRIBUTES sa, SIZE_T stack,
			 LPTHREAD_START_ROUTINE fn,
			 unsigned int (WINAPI *bfn)(void *), LPVOID arg,
			 DWORD flags, DWORD *id)
{
	struct thread_rec *t;
	pthread_attr_t attr;
	pthread_t pt;
	struct ent *e;
	int efd, ret;

	if ((!fn && !bfn) || (flags & CREATE_SUSPENDED)) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return NULL;
	}
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd == 0) {		/* (HANDLE)0 is NULL, the failure value */
		efd = fcntl(0, F_DUPFD_CLOEXEC, 1);
		close(0);
	}
	e = efd < 0 ? NULL : ent_get(efd, true);
	if (!e) {
		ret = efd < 0 ? errno : ENOMEM;
		if (efd >= 0)
			close(efd);
		free(t);
		fail(ret, FALSE);
		return NULL;
	}
	t->fn = fn;
	t->bfn = bfn;
	t->arg = arg;
	t->efd = efd;
	pthread_mutex_lock(&thr_lock);
	e->thr = t;
	__atomic_store_n(&e->meta, M_THREAD, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&thr_lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (stack)
		pthread_attr_setstacksize(&attr,
					  stack < (SIZE_T)PTHREAD_STACK_MIN ?
					  (SIZE_T)PTHREAD_STACK_MIN : stack);
	ret = pthread_create(&pt, &attr, thread_main, t);
	pthread_attr_destroy(&attr);
	if (ret) {
		pthread_mutex_lock(&thr_lock);
		e->thr = NULL;
		__atomic_store_n(&e->meta, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&thr_lock);
		close(efd);
		free(t);
		SetLastError(ret == EAGAIN ? ERROR_NOT_ENOUGH_MEMORY :
					     cport_win32_error(ret, FALSE));
		return NULL;
	}
	if (id)
		*id = __atomic_add_fetch(&last_thread_id, 1, __ATOMIC_RELAXED);
	(void)sa;
	return (HANDLE)(intptr_t)efd;
}

HANDLE CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes,
		    SIZE_T dwStackSize, LPTHREAD_START_ROUTINE lpStartAddress,
		    LPVOID lpParameter, DWORD dwCreationFlags,
		    LPDWORD lpThreadId)
{
	return new_thread(lpThreadAttributes, dwStackSize, lpStartAddress,
			  NULL, lpParameter, dwCreationFlags, lpThreadId);
}

uintptr_t _beginthreadex(void *security, unsigned int stack_size,
			 unsigned int (WINAPI *start_address)(void *),
			 void *arglist, unsigned int initflag,
			 unsigned int *thrdaddr)
{
	DWORD id = 0;
	HANDLE h = new_thread(security, stack_size, NULL, start_address,
			      arglist, initflag, &id);

	if (!h) {
		errno = EINVAL;
		return 0;
	}
	if (thrdaddr)
		*thrdaddr = id;
	return (uintptr_t)h;
}

static BOOL close_thread(int fd, struct ent *e)
{
	struct thread_rec *t;
	bool free_it;

	pthread_mutex_lock(&thr_lock);
	t = e->thr;
	if (!t || !(__atomic_load_n(&e->meta, __ATOMIC_ACQUIRE) & M_THREAD)) {
		pthread_mutex_unlock(&thr_lock);
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	e->thr = NULL;
	__atomic_store_n(&e->meta, 0, __ATOMIC_RELEASE);
	close(fd);
	t->efd = -1;
	free_it = t->done;
	pthread_mutex_unlock(&thr_lock);
	if (free_it)
		free(t);
	return TRUE;
}

BOOL GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode)
{
	struct ent *e = ent_get(HFD(hThread), false);
	BOOL ok = FALSE;

	pthread_mutex_lock(&thr_lock);
	if (e && e->thr && lpExitCode) {
		*lpExitCode = e->thr->done ? e->thr->exit_code : STILL_ACTIVE;
		ok = TRUE;
	}
	pthread_mutex_unlock(&thr_lock);
	if (!ok)
		SetLastError(ERROR_INVALID_HANDLE);
	return ok;
}

/* Whether @h is a handle WaitFor*Object(s) can wait on: a thread's. */
static int waitable_fd(HANDLE h)
{
	int fd = HFD(h);

	return fd > 0 && (ent_meta(fd) & M_THREAD) ? fd : -1;
}

DWORD WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles,
			     BOOL bWaitAll, DWORD dwMilliseconds)
{
	struct pollfd pfd[MAXIMUM_WAIT_OBJECTS];
	long long deadline = wait_deadline(dwMilliseconds);
	DWORD i, left = nCount;

	if (!nCount || nCount > MAXIMUM_WAIT_OBJECTS || !lpHandles) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return WAIT_FAILED;
	}
	for (i = 0; i < nCount; i++) {
		pfd[i].fd = waitable_fd(lpHandles[i]);
		pfd[i].events = POLLIN;
		if (pfd[i].fd < 0) {
			SetLastError(ERROR_INVALID_HANDLE);
			return WAIT_FAILED;
		}
	}
	for (;;) {
		int timeout = -1, n;

		if (dwMilliseconds != INFINITE) {
			long long ns = dwMilliseconds ? deadline - mono_ns() : 0;

			timeout = ns <= 0 ? 0 :
				  ns / 1000000 >= INT_MAX ? INT_MAX :
				  (int)((ns + 999999) / 1000000);
		}
		n = poll(pfd, nCount, timeout);
		if (n < 0 && errno != EINTR) {
			fail(errno, FALSE);
			return WAIT_FAILED;
		}
		for (i = 0; n > 0 && i < nCount; i++) {
			if (pfd[i].revents & POLLNVAL) {
				SetLastError(ERROR_INVALID_HANDLE);
				return WAIT_FAILED;
			}
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (!bWaitAll)
				return WAIT_OBJECT_0 + i;
			/* Signalled for good: stop polling it. */
			pfd[i].fd = -1;
			left--;
		}
		if (bWaitAll && !left)
			return WAIT_OBJECT_0;
		if (dwMilliseconds != INFINITE && !timeout && n >= 0)
			return WAIT_TIMEOUT;
	}
}

DWORD WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds)
{
	return WaitForMultipleObjects(1, &hHandle, FALSE, dwMilliseconds);
}

void Sleep(DWORD dwMilliseconds)
{
	struct timespec ts = {
		.tv_sec = dwMilliseconds / 1000,
		.tv_nsec = (long)(dwMilliseconds % 1000) * 1000000L,
	};

	if (dwMilliseconds == INFINITE) {
		for (;;)
			pause();
	}
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void GetSystemInfo(LPSYSTEM_INFO lpSystemInfo)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long page = sysconf(_SC_PAGESIZE);

	memset(lpSystemInfo, 0, sizeof(*lpSystemInfo));
#if defined(__x86_64__)
	lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
#elif defined(__aarch64__)
	lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_ARM64;
#elif defined(__i386__)
	lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_INTEL;
#else
	lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_UNKNOWN;
#endif
	lpSystemInfo->dwPageSize = page > 0 ? (DWORD)page : 4096;
	lpSystemInfo->lpMinimumApplicationAddress = (LPVOID)(uintptr_t)65536;
	lpSystemInfo->lpMaximumApplicationAddress =
		(LPVOID)(uintptr_t)(sizeof(void *) == 8 ? 0x7ffffffeffffULL :
							  0x7ffeffffULL);
	lpSystemInfo->dwNumberOfProcessors = cpus > 0 ? (DWORD)cpus : 1;
	lpSystemInfo->dwActiveProcessorMask =
		lpSystemInfo->dwNumberOfProcessors >= 8 * sizeof(DWORD_PTR) ?
		~(DWORD_PTR)0 :
		((DWORD_PTR)1 << lpSystemInfo->dwNumberOfProcessors) - 1;
	lpSystemInfo->dwAllocationGranularity = 65536;
}

HGLOBAL GlobalAlloc(UINT uFlags, SIZE_T dwBytes)
{
	void *p;

	/* Fixed memory only: the HGLOBAL is the pointer. */
	if (uFlags & ~(UINT)GPTR) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	if (!dwBytes)
		dwBytes = 1;
	p = uFlags & GMEM_ZEROINIT ? calloc(1, dwBytes) : malloc(dwBytes);
	if (!p)
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
	return p;
}

HGLOBAL GlobalFree(HGLOBAL hMem)
{
	free(hMem);
	return NULL;
}

int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData)
{
	if (!lpWSAData)
		return WSAEFAULT;
	memset(lpWSAData, 0, sizeof(*lpWSAData));
	lpWSAData->wHighVersion = MAKEWORD(2, 2);
	if (LOBYTE(wVersionRequested) < 1 ||
	    (LOBYTE(wVersionRequested) == 1 && HIBYTE(wVersionRequested) < 1)) {
		lpWSAData->wVersion = MAKEWORD(2, 2);
		return WSAVERNOTSUPPORTED;
	}
	/* The version asked for, up to 2.2. */
	lpWSAData->wVersion = LOBYTE(wVersionRequested) > 2 ||
			      (LOBYTE(wVersionRequested) == 2 &&
			       HIBYTE(wVersionRequested) > 2) ?
			      MAKEWORD(2, 2) : wVersionRequested;
	lpWSAData->iMaxSockets = 0;
	lpWSAData->iMaxUdpDg = 0;
	strcpy(lpWSAData->szDescription, "libcport-win32: Winsock on cport");
	strcpy(lpWSAData->szSystemStatus, "Running");
	return 0;
}

int WSACleanup(void)
{
	return 0;
}

SOCKET WSASocket(int af, int type, int protocol,
		 LPWSAPROTOCOL_INFO lpProtocolInfo, GROUP g, DWORD dwFlags)
{
	int fd;

	/* Every socket here can do overlapped I/O; no protocol records,
	 * no groups. */
	if (lpProtocolInfo || g ||
	    (dwFlags & ~(DWORD)(WSA_FLAG_OVERLAPPED |
				WSA_FLAG_NO_HANDLE_INHERIT))) {
		SetLastError(WSAEINVAL);
		return INVALID_SOCKET;
	}
	fd = socket(af, type | (dwFlags & WSA_FLAG_NO_HANDLE_INHERIT ?
				SOCK_CLOEXEC : 0), protocol);
	if (fd < 0) {
		fail(errno, TRUE);
		return INVALID_SOCKET;
	}
	ent_forget(fd);
	return (SOCKET)fd;
}

SOCKET WSAAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen,
		 LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData)
{
	socklen_t len = addrlen ? (socklen_t)*addrlen : 0;
	int fd = handle_fd(s), ret;

	(void)dwCallbackData;	/* for lpfnCondition, which must be NULL */

	if (fd < 0) {
		SetLastError(WSAENOTSOCK);
		return INVALID_SOCKET;
	}
	if (lpfnCondition || (addr && !addrlen)) {
		SetLastError(lpfnCondition ? WSAEOPNOTSUPP : WSAEFAULT);
		return INVALID_SOCKET;
	}
	do {
		ret = accept(fd, addr, addr ? &len : NULL);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		fail(errno, TRUE);
		return INVALID_SOCKET;
	}
	if (addr)
		*addrlen = (INT)len;
	ent_forget(ret);
	return (SOCKET)ret;
}

/* --- The thread pool ------------------------------------------------------------ */

/*
 * Each TP_POOL is a cport_pool with a port of its own.  A pool is
 * destroyed when its last reference goes: CloseThreadpool drops the
 * creator's, and each work object, I/O object and pending
 * TrySubmitThreadpoolCallback holds one.  The last one may go in a
 * callback of that very pool (a callback closing its own object): the
 * destroy then runs on a thread of its own, since a pool cannot wait for
 * its own callbacks.  A TP_IO is a binding (cport_pool_bind()): the
 * socket is associated with the pool's port under the binding's key and
 * recorded in the descriptor table as any association is, so WSARecv &c.
 * find the port and post the packet of an immediate success with that
 * key.  Work objects count their submissions under tp_lock.
 */
struct _TP_CALLBACK_INSTANCE {
	int unused;
};

struct _TP_POOL {
	struct cport_pool *pool;
	unsigned int refs;	/* under tp_lock */
	DWORD min, max;
};

struct _TP_WORK {
	PTP_WORK_CALLBACK fn;
	PVOID ctx;
	PTP_POOL tp;
	unsigned int pending;	/* submitted, not finished */
	unsigned int running;
	unsigned int skip;	/* submissions not to run (cancelled) */
	bool closed;
};

struct _TP_IO {
	PTP_WIN32_IO_CALLBACK fn;
	LPOVERLAPPED_COMPLETION_ROUTINE routine;	/* BindIoCompletionCallback */
	PVOID ctx;
	PTP_POOL tp;
	struct cport_pool_io *io;
	int fd;
	bool skip;		/* WaitForThreadpoolIoCallbacks(TRUE) */
};

struct simple_cb {
	PTP_SIMPLE_CALLBACK fn;
	PVOID ctx;
	PTP_POOL tp;
};

static pthread_mutex_t tp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tp_cond = PTHREAD_COND_INITIALIZER;
static PTP_POOL default_tp;

#define TP_DEFAULT_MAX	512	/* Windows' default maximum */

static PTP_POOL tp_new(void)
{
	struct cport_pool_opts opts = { .max_threads = TP_DEFAULT_MAX };
	PTP_POOL tp = calloc(1, sizeof(*tp));
	int ret;

	if (!tp) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return NULL;
	}
	ret = cport_pool_create(&opts, &tp->pool);
	if (ret < 0) {
		free(tp);
		SetLastError(ret == -ENOENT || ret == -ENODEV ?
			     ERROR_FILE_NOT_FOUND :
			     cport_win32_error(ret, FALSE));
		return NULL;
	}
	tp->refs = 1;
	tp->max = TP_DEFAULT_MAX;
	return tp;
}

/* A reference to the environment's pool, or the default one (made now). */
static PTP_POOL tp_get(PTP_CALLBACK_ENVIRON pcbe)
{
	PTP_POOL tp = pcbe ? pcbe->Pool : NULL;

	pthread_mutex_lock(&tp_lock);
	if (!tp) {
		if (!default_tp)
			default_tp = tp_new();	/* its reference: forever */
		tp = default_tp;
	}
	if (tp)
		tp->refs++;
	pthread_mutex_unlock(&tp_lock);
	return tp;
}

static void *tp_destroy_thread(void *arg)
{
	cport_pool_destroy(arg, 0);
	return NULL;
}

static void tp_put(PTP_POOL tp)
{
	struct cport_pool *pool;
	pthread_attr_t attr;
	pthread_t t;
	bool last;

	pthread_mutex_lock(&tp_lock);
	last = !--tp->refs;
	pthread_mutex_unlock(&tp_lock);
	if (!last)
		return;
	pool = tp->pool;
	free(tp);
	if (cport_pool_destroy(pool, 0) != -EDEADLK)
		return;
	/* From one of its own callbacks: destroy it from another thread. */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* If no thread can be made (out of memory), the pool is leaked. */
	(void)!pthread_create(&t, &attr, tp_destroy_thread, pool);
	pthread_attr_destroy(&attr);
}

PTP_POOL CreateThreadpool(PVOID reserved)
{
	if (reserved) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	return tp_new();
}

VOID SetThreadpoolThreadMaximum(PTP_POOL ptpp, DWORD cthrdMost)
{
	if (!ptpp)
		return;
	if (!cthrdMost)
		cthrdMost = 1;
	if (cthrdMost > CPORT_POOL_MAX_THREADS)
		cthrdMost = CPORT_POOL_MAX_THREADS;
	pthread_mutex_lock(&tp_lock);
	ptpp->max = cthrdMost;
	if (ptpp->min > cthrdMost)
		ptpp->min = cthrdMost;
	cport_pool_set_threads(ptpp->pool, ptpp->min, ptpp->max);
	pthread_mutex_unlock(&tp_lock);
}

BOOL SetThreadpoolThreadMinimum(PTP_POOL ptpp, DWORD cthrdMic)
{
	int ret;

	if (!ptpp || cthrdMic > CPORT_POOL_MAX_THREADS) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	pthread_mutex_lock(&tp_lock);
	ptpp->min = cthrdMic;
	if (ptpp->max < cthrdMic)
		ptpp->max = cthrdMic;
	ret = cport_pool_set_threads(ptpp->pool, ptpp->min, ptpp->max);
	pthread_mutex_unlock(&tp_lock);
	if (ret < 0) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return FALSE;
	}
	return TRUE;
}

VOID CloseThreadpool(PTP_POOL ptpp)
{
	if (ptpp && ptpp != default_tp)
		tp_put(ptpp);
}

VOID InitializeThreadpoolEnvironment(PTP_CALLBACK_ENVIRON pcbe)
{
	if (!pcbe)
		return;
	memset(pcbe, 0, sizeof(*pcbe));
	pcbe->Version = 3;
	pcbe->CallbackPriority = TP_CALLBACK_PRIORITY_NORMAL;
	pcbe->Size = sizeof(*pcbe);
}

VOID SetThreadpoolCallbackPool(PTP_CALLBACK_ENVIRON pcbe, PTP_POOL ptpp)
{
	if (pcbe)
		pcbe->Pool = ptpp;
}

VOID DestroyThreadpoolEnvironment(PTP_CALLBACK_ENVIRON pcbe)
{
	/* Nothing to free, as on Windows. */
}

/* --- Work ------------------------------------------------------------------- */

static void work_free(PTP_WORK w)
{
	PTP_POOL tp = w->tp;

	free(w);
	tp_put(tp);
}

static void work_run(struct cport_pool *pool, void *arg)
{
	PTP_WORK w = arg;
	TP_CALLBACK_INSTANCE inst = { 0 };
	bool run, done;

	pthread_mutex_lock(&tp_lock);
	run = !w->skip;
	if (run)
		w->running++;
	else
		w->skip--;
	pthread_mutex_unlock(&tp_lock);
	if (run)
		w->fn(&inst, w->ctx, w);
	pthread_mutex_lock(&tp_lock);
	if (run)
		w->running--;
	w->pending--;
	done = w->closed && !w->pending;
	pthread_cond_broadcast(&tp_cond);
	pthread_mutex_unlock(&tp_lock);
	if (done)
		work_free(w);
}

PTP_WORK CreateThreadpoolWork(PTP_WORK_CALLBACK pfnwk, PVOID pv,
			      PTP_CALLBACK_ENVIRON pcbe)
{
	PTP_WORK w;

	if (!pfnwk) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return NULL;
	}
	w->fn = pfnwk;
	w->ctx = pv;
	w->tp = tp_get(pcbe);
	if (!w->tp) {
		free(w);
		return NULL;
	}
	return w;
}

/*
 * Windows' SubmitThreadpoolWork cannot fail; here a submission that
 * cannot be queued (out of memory, the port's queue full) is dropped.
 */
VOID SubmitThreadpoolWork(PTP_WORK pwk)
{
	if (!pwk)
		return;
	pthread_mutex_lock(&tp_lock);
	pwk->pending++;
	pthread_mutex_unlock(&tp_lock);
	if (cport_pool_submit(pwk->tp->pool, work_run, pwk) < 0) {
		pthread_mutex_lock(&tp_lock);
		pwk->pending--;
		pthread_cond_broadcast(&tp_cond);
		pthread_mutex_unlock(&tp_lock);
	}
}

VOID WaitForThreadpoolWorkCallbacks(PTP_WORK pwk, BOOL fCancelPendingCallbacks)
{
	if (!pwk)
		return;
	pthread_mutex_lock(&tp_lock);
	if (fCancelPendingCallbacks)
		pwk->skip = pwk->pending - pwk->running;
	while (pwk->pending)
		pthread_cond_wait(&tp_cond, &tp_lock);
	pthread_mutex_unlock(&tp_lock);
}

VOID CloseThreadpoolWork(PTP_WORK pwk)
{
	bool done;

	if (!pwk)
		return;
	pthread_mutex_lock(&tp_lock);
	pwk->closed = true;
	done = !pwk->pending;
	pthread_mutex_unlock(&tp_lock);
	if (done)
		work_free(pwk);
}

static void simple_run(struct cport_pool *pool, void *arg)
{
	struct simple_cb *s = arg;
	TP_CALLBACK_INSTANCE inst = { 0 };
	PTP_POOL tp = s->tp;

	s->fn(&inst, s->ctx);
	free(s);
	tp_put(tp);
}

BOOL TrySubmitThreadpoolCallback(PTP_SIMPLE_CALLBACK pfns, PVOID pv,
				 PTP_CALLBACK_ENVIRON pcbe)
{
	struct simple_cb *s;
	int ret;

	if (!pfns) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	s = malloc(sizeof(*s));
	if (!s) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return FALSE;
	}
	s->fn = pfns;
	s->ctx = pv;
	s->tp = tp_get(pcbe);
	if (!s->tp) {
		free(s);
		return FALSE;
	}
	ret = cport_pool_submit(s->tp->pool, simple_run, s);
	if (ret < 0) {
		tp_put(s->tp);
		free(s);
		return fail(ret, FALSE);
	}
	return TRUE;
}

/* --- I/O -------------------------------------------------------------------- */

/* A binding's completion: finish the OVERLAPPED, call the callback. */
static void tp_io_cb(struct cport_pool *pool, const struct cport_cqe *cqe,
		     void *context)
{
	PTP_IO pio = context;
	TP_CALLBACK_INSTANCE inst = { 0 };
	DWORD bytes, err;
	int ret = finish(cqe, &bytes);

	if (ret == 1) {
		/* An AcceptEx went on to its first data: still started. */
		cport_pool_io_start(pio->io);
		return;
	}
	if (__atomic_load_n(&pio->skip, __ATOMIC_ACQUIRE))
		return;
	err = ret < 0 ? cport_win32_error(ret, FALSE) : 0;
	if (pio->routine)
		pio->routine(err, bytes,
			     (LPOVERLAPPED)(uintptr_t)cqe->user_data);
	else
		pio->fn(&inst, pio->ctx, (PVOID)(uintptr_t)cqe->user_data,
			err, bytes, pio);
}

static void tp_io_release(void *context)
{
	PTP_IO pio = context;
	PTP_POOL tp = pio->tp;

	free(pio);
	tp_put(tp);
}

/* Bind socket @fl to a pool: the common part of the two calls. */
static PTP_IO tp_io_new(HANDLE fl, PTP_CALLBACK_ENVIRON pcbe, struct ent **ep)
{
	int fd = HFD(fl), ret, pfd;
	struct ent *e;
	PTP_IO pio;

	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		SetLastError(ERROR_INVALID_HANDLE);
		return NULL;
	}
	if (ent_meta(fd) & (M_PORT | M_SOCK)) {	/* a port, or on one */
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	e = ent_get(fd, true);
	pio = calloc(1, sizeof(*pio));
	if (!e || !pio) {
		free(pio);
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return NULL;
	}
	pio->tp = tp_get(pcbe);
	if (!pio->tp) {
		free(pio);
		return NULL;
	}
	ret = cport_pool_bind(pio->tp->pool, fd, tp_io_cb, pio, &pio->io);
	if (ret < 0) {
		tp_put(pio->tp);
		free(pio);
		SetLastError(ret == -ENOTSOCK ? ERROR_INVALID_HANDLE :
			     cport_win32_error(ret, FALSE));
		return NULL;
	}
	pio->fd = fd;
	pfd = cport_pool_port(pio->tp->pool);
	ent_associate(e, pfd, cport_pool_io_key(pio->io), port_serial(pfd), 0);
	*ep = e;
	return pio;
}

PTP_IO CreateThreadpoolIo(HANDLE fl, PTP_WIN32_IO_CALLBACK pfnio, PVOID pv,
			  PTP_CALLBACK_ENVIRON pcbe)
{
	struct ent *e;
	PTP_IO pio;

	if (!pfnio) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	pio = tp_io_new(fl, pcbe, &e);
	if (pio) {
		pio->fn = pfnio;
		pio->ctx = pv;
	}
	return pio;
}

VOID StartThreadpoolIo(PTP_IO pio)
{
	cport_pool_io_start(pio ? pio->io : NULL);
}

VOID CancelThreadpoolIo(PTP_IO pio)
{
	cport_pool_io_cancel(pio ? pio->io : NULL);
}

VOID WaitForThreadpoolIoCallbacks(PTP_IO pio, BOOL fCancelPendingCallbacks)
{
	if (!pio)
		return;
	if (fCancelPendingCallbacks)
		__atomic_store_n(&pio->skip, true, __ATOMIC_RELEASE);
	cport_pool_io_wait(pio->io, fCancelPendingCallbacks ?
				    CPORT_POOL_CANCEL : 0);
	__atomic_store_n(&pio->skip, false, __ATOMIC_RELEASE);
}

/*
 * The socket's entry stops naming the binding (if the descriptor still
 * holds that socket's association: it may have been closed and reused),
 * so later overlapped calls fail; the binding goes once its callbacks
 * ran.
 */
VOID CloseThreadpoolIo(PTP_IO pio)
{
	struct ent *e;
	uint64_t meta;

	if (!pio)
		return;
	e = ent_get(pio->fd, false);
	meta = e ? __atomic_load_n(&e->meta, __ATOMIC_ACQUIRE) : 0;
	if ((meta & M_SOCK) && __atomic_load_n(&e->key, __ATOMIC_RELAXED) ==
			       cport_pool_io_key(pio->io))
		__atomic_compare_exchange_n(&e->meta, &meta, meta & M_SKIP,
					    false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
	cport_pool_unbind(pio->io, tp_io_release);
}

static struct _TP_IO *bic_start(int fd, uint64_t key)
{
	struct ent *e = ent_get(fd, false);
	PTP_IO pio = e ? __atomic_load_n(&e->bic, __ATOMIC_ACQUIRE) : NULL;

	if (!pio || cport_pool_io_key(pio->io) != key)
		return NULL;
	cport_pool_io_start(pio->io);
	return pio;
}

static void bic_cancel(struct _TP_IO *bic)
{
	if (bic)
		cport_pool_io_cancel(bic->io);
}

/* closesocket() of a socket bound with BindIoCompletionCallback. */
static void bic_end(int fd)
{
	struct ent *e = ent_get(fd, false);
	PTP_IO pio = e ? __atomic_exchange_n(&e->bic, NULL, __ATOMIC_ACQ_REL) :
			 NULL;

	if (pio)
		cport_pool_unbind(pio->io, tp_io_release);
}

BOOL BindIoCompletionCallback(HANDLE FileHandle,
			      LPOVERLAPPED_COMPLETION_ROUTINE Function,
			      ULONG Flags)
{
	struct ent *e;
	PTP_IO pio;

	if (!Function || Flags) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	pio = tp_io_new(FileHandle, NULL, &e);
	if (!pio)
		return FALSE;
	pio->routine = Function;
	__atomic_store_n(&e->bic, pio, __ATOMIC_RELEASE);
	return TRUE;
}

/* --- Critical sections, ticks, ids ------------------------------------------ */

BOOL InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION cs, DWORD spin)
{
	pthread_mutexattr_t a;
	int err;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	err = pthread_mutex_init(&cs->mutex, &a);
	pthread_mutexattr_destroy(&a);
	if (err)
		return fail(err, FALSE);
	return TRUE;
}

void InitializeCriticalSection(LPCRITICAL_SECTION cs)
{
	InitializeCriticalSectionAndSpinCount(cs, 0);
}

ULONGLONG GetTickCount64(void)
{
	return (ULONGLONG)(mono_ns() / 1000000);
}

DWORD GetTickCount(void)
{
	return (DWORD)GetTickCount64();
}

DWORD GetCurrentThreadId(void)
{
	return (DWORD)gettid();
}

DWORD GetCurrentProcessId(void)
{
	return (DWORD)getpid();
}
