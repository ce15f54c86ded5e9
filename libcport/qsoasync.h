/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * qsoasync.h: IBM i's asynchronous socket I/O interface (the Qso* calls of
 * service program QSOSRV3) on top of cport.  Source-compatible with IBM's
 * documented interface: the names, fields, return values and errno values
 * are IBM's; the numeric values of the constants are ours.
 *
 * Every call returns -1 and sets errno on failure, like the IBM calls.
 *
 * How it maps onto cport (see libcport/qso.c):
 *
 * - An I/O completion port is a cport port; its handle is the port's file
 *   descriptor.  At most QSO_MAX_IOCOMPLETIONPORTS ports per process, as on
 *   IBM i (ENOBUFS past that).
 *
 * - IBM names the port on every operation and has no association step.
 *   A socket is associated with the named port lazily, by its first
 *   QsoStart*() there (completion key = the socket descriptor).  A cport
 *   socket belongs to one port at a time: naming another port moves it,
 *   which works only while no operation is pending on it at the first
 *   port (else -1/EBUSY, a Linux restriction).
 *
 * - QsoStart*() copies the communications area: the area may be changed
 *   or reused as soon as the call returns (the buffer may not: it belongs
 *   to the operation until its completion is returned).  The copy is what
 *   QsoWaitForIOCompletion() returns (descriptorHandle, buffer, ...), with
 *   the result fields filled in, in the area passed to the wait.
 *
 * - postFlag = 0: an operation that completes at once returns 0 with
 *   returnValue/errnoValue set, and nothing is posted; otherwise the call
 *   returns 1 and the completion is posted.  postFlag = 1: the call
 *   returns 1 and the completion is always posted; postFlagResult says
 *   whether the operation had completed at once (1) or is pending (0).
 *   (Only if the port's queue is full when an immediate result must be
 *   posted does the call return 0 with the result, rather than lose it.)
 *
 * - QsoStartRecv() with bufferLength 0 fails with EINVAL: cport's
 *   zero-byte recv (a readiness notification) would complete with
 *   returnValue 0, which here means end of file.
 *
 * - Results: returnValue is the bytes moved (recv: 0 at end of file;
 *   accept: the new descriptor) with errnoValue 0, or -1 with errnoValue
 *   set.  An operation that fails after moving some bytes (a recv with
 *   fillBuffer that timed out or was cancelled, a send cut short) reports
 *   those bytes in returnValue and the cause in errnoValue.
 *
 * - operationWaitTime on QsoStart*(): the operation completes with
 *   returnValue -1 (or the bytes moved) and errnoValue EAGAIN if not done
 *   in time.  On QsoPostIOCompletion(): the completion is posted that much
 *   later, with returnValue -1 and errnoValue EAGAIN.  IBM i ignores
 *   tv_usec (minimum 1 s); here tv_usec is honoured (0 <= tv_usec <
 *   1000000, else EINVAL).  postedDescriptor is ignored: a delayed post is
 *   not tied to a socket (IBM posts it early with ECLOSED when that socket
 *   is closed; cport has no hook for that).
 *
 * - QsoWaitForIOCompletion() returns 1 with the area filled in, 0 when
 *   timeToWait passed, -1 with errno: EINVAL (bad port or timeval), EFAULT
 *   (completionStatus NULL), EINTR (a signal), EDESTROYED (the port was
 *   destroyed while waiting).
 *
 * - QsoCancelOperation(sd, operationId) cancels the operations pending on
 *   sd (on any port) whose operationId matches; each then completes with
 *   returnValue -1 (or the bytes moved) and errnoValue ECANCELED, unless it
 *   finished at that moment.  Returns how many were cancelled (0: none).
 *
 * - QsoGenerateOperationId(sd) returns a new operationId, unique on sd
 *   (and on every socket: one counter), never 0; 0 with errno EBADF or
 *   ENOTSOCK.
 *
 * - QsoIsOperationPending(sd, operationId) returns 1 if an operation
 *   started on sd (on any port, by a Qso* or a gsk_secure_soc_start* call)
 *   with that operationId is pending, else 0; -1 with errno EBADF or
 *   ENOTSOCK.  Pending here means not yet returned by
 *   QsoWaitForIOCompletion(): an operation that has completed but whose
 *   completion is still queued on the port counts as pending (IBM i
 *   counts it from the moment it is posted), so a 0 means its buffer is
 *   the application's again.
 *
 * - QsoDestroyIOCompletionPort() wakes every waiter (-1, EDESTROYED),
 *   and the pending operations and queued completions go with the port,
 *   unposted (an accepted connection not yet returned is closed); the
 *   port's sockets may then be used with another port.  As IBM i
 *   promises, the buffers are free when the call returns (cport's destroy
 *   waits for an operation another thread is moving data for).
 *
 * - Sockets: TCP over IPv4 and IPv6 as on IBM i, and unix stream sockets
 *   (a Linux extension); others fail with EOPNOTSUPP.
 *
 * - close() of a socket does not cancel its pending operations (they keep
 *   the socket open until they complete): cancel them, or shutdown() the
 *   socket, before closing it.  IBM i reclaims them at close().
 *
 * - Only Qso* calls may post to or submit on a port created here.
 */
#ifndef LIBCPORT_QSOASYNC_H
#define LIBCPORT_QSOASYNC_H

#include <errno.h>
#include <stddef.h>
#include <sys/time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* operationCompleted: which call the completion belongs to. */
#define QSOSTARTRECV		1
#define QSOSTARTSEND		2
#define QSOPOSTIOCOMPLETION	3
#define QSOSTARTACCEPT		4
/* The GSKit (TLS) calls of <gskssl.h> completing through a port. */
#ifndef GSKSECURESOCSTARTRECV
#define GSKSECURESOCSTARTRECV	5
#endif
#ifndef GSKSECURESOCSTARTSEND
#define GSKSECURESOCSTARTSEND	6
#endif
#ifndef GSKSECURESOCSTARTINIT
#define GSKSECURESOCSTARTINIT	7
#endif

/* IBM i's errno for a port destroyed under a waiting thread. */
#ifndef EDESTROYED
#define EDESTROYED		EIDRM
#endif

/* IBM i's per-process limit on I/O completion ports. */
#define QSO_MAX_IOCOMPLETIONPORTS	256

/*
 * The communications area.  Zero it (memset) before filling it in: the
 * reserved fields must be zero (EINVAL otherwise).
 */
typedef struct Qso_OverlappedIO_t {
	void *descriptorHandle;		/* in: the application's, returned */
	void *buffer;			/* in: recv into / send from */
	size_t bufferLength;		/* in: its length */
	unsigned int postFlag:1;	/* in: post even an immediate result */
	unsigned int fillBuffer:1;	/* in: recv completes when full */
	unsigned int postFlagResult:1;	/* out: 1 completed and posted,
					 * 0 pending (with postFlag = 1)
					 */
	unsigned int reserved1:29;	/* must be zero */
	int returnValue;		/* out: bytes, new descriptor, or -1 */
	int errnoValue;			/* out: errno when it failed */
	int operationCompleted;		/* out: QSOSTART*, QSOPOSTIOCOMPLETION */
	int secureDataTransferSize;	/* GSKit: bytes moved (gskssl.h) */
	unsigned int bytesAvailable;	/* GSKit: unused */
	struct timeval operationWaitTime; /* in: time limit; post: delay */
	int postedDescriptor;		/* post: ignored (see above) */
	int reserved2;			/* must be zero */
	unsigned long long operationId;	/* in: for QsoCancelOperation() */
	char reserved3[32];		/* must be zero */
} Qso_OverlappedIO_t;

int QsoCreateIOCompletionPort(void);
int QsoDestroyIOCompletionPort(int IOCompletionPort);
int QsoStartRecv(int socketDescriptor, int IOCompletionPort,
		 Qso_OverlappedIO_t *communicationsArea);
int QsoStartSend(int socketDescriptor, int IOCompletionPort,
		 Qso_OverlappedIO_t *communicationsArea);
int QsoStartAccept(int socketDescriptor, int IOCompletionPort,
		   Qso_OverlappedIO_t *communicationsArea);
int QsoPostIOCompletion(int IOCompletionPort,
			Qso_OverlappedIO_t *communicationsArea);
int QsoWaitForIOCompletion(int IOCompletionPort,
			   Qso_OverlappedIO_t *completionStatus,
			   struct timeval *timeToWait);
int QsoCancelOperation(int socketDescriptor, unsigned long long operationId);
unsigned long long QsoGenerateOperationId(int socketDescriptor);
int QsoIsOperationPending(int socketDescriptor, unsigned long long operationId);

#ifdef __cplusplus
}
#endif

#endif /* LIBCPORT_QSOASYNC_H */
