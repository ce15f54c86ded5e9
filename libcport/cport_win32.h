/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * cport_win32.h: the Win32 completion-port calls on cport.
 *
 * A Winsock IOCP server ports to Linux by swapping <windows.h>,
 * <winsock2.h> and <mswsock.h> for this header (which includes the Linux
 * socket headers).  Besides the port and socket calls it has what such a
 * server calls around them (WSAStartup, WSASocket, CreateThread,
 * WaitForMultipleObjects, GetSystemInfo, GlobalAlloc, Sleep...: the end
 * of this header), so the classic tutorial server builds with only its
 * #include lines changed (examples/win_tutorial_echo.c).  The calls keep
 * Windows' names, types, numeric codes and return conventions:
 *
 *   BOOL and the lpOverlapped rule of GetQueuedCompletionStatus: TRUE for
 *   a successful operation (or a posted packet); FALSE with *lpOverlapped
 *   == NULL when nothing was dequeued (GetLastError(): WAIT_TIMEOUT, or
 *   ERROR_ABANDONED_WAIT_0 when the port was closed while waiting);
 *   FALSE with *lpOverlapped != NULL for a failed operation, with the
 *   bytes, the key and the mapped error (GetLastError()).  A success
 *   leaves GetLastError() as it was.
 *
 *   The OVERLAPPED pointer is the operation's cookie (cport's user_data),
 *   so the "extended OVERLAPPED" pattern works: put the OVERLAPPED first
 *   in the per-I/O data, or anywhere and use CONTAINING_RECORD.
 *
 *   Errors are thread-local (GetLastError, WSAGetLastError are the same
 *   value, as on Windows).  Linux errnos map to Windows codes through one
 *   table (cport_win32_error()), with the two faces Windows has: the
 *   Win32 code GetQueuedCompletionStatus reports (a reset connection is
 *   ERROR_NETNAME_DELETED there, because Windows converts the driver's
 *   NTSTATUS), and the Winsock code an immediate WSARecv/WSASend failure
 *   reports (WSAECONNRESET).
 *
 * Handles.  A HANDLE holds a descriptor: a port's HANDLE is the port's fd
 * (never 0, so never NULL), a SOCKET is the socket's fd, and (HANDLE)s
 * works as on Windows; a thread's HANDLE is an eventfd this layer made.
 * Sockets come from socket(), accept(), WSASocket(), WSAAccept() or AcceptEx;
 * close them with closesocket() or CloseHandle(), which cancel their
 * pending operations first (Windows does this; close() would leave them
 * pending, see <linux/cport.h>) and make this layer forget the socket's
 * port, key and notification modes.
 *
 * Differences from Windows, all deliberate or forced by Linux:
 *   - What can be associated: sockets (TCP and UDP over IPv4/IPv6, unix
 *     stream, datagram and seqpacket), pipes and FIFOs (ReadFile and
 *     WriteFile, done by the kernel's CPORT_OP_READ and CPORT_OP_WRITE),
 *     and regular files (ReadFile and WriteFile done at once by the
 *     calling thread: see ReadFile).  An overlapped operation on a handle
 *     that is not associated with a port fails with WSAEINVAL or
 *     ERROR_INVALID_PARAMETER (there are no event-signalled OVERLAPPEDs:
 *     hEvent is ignored); WSARecv/WSASend completion routines are not
 *     supported (the thread pool's callbacks are: see below).
 *   - OVERLAPPED.Internal holds STATUS_PENDING while an operation is
 *     pending (so HasOverlappedIoCompleted() works), then 0 on success or
 *     the Win32 error code on failure (Windows stores an NTSTATUS there).
 *     InternalHigh holds the bytes transferred (for AcceptEx, the accepted
 *     socket).  Both belong to this layer while the operation is pending.
 *   - Without FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, an operation that
 *     completes at once returns success *and* queues a packet, as on
 *     Windows.  The kernel queues that packet in the same call
 *     (CPORT_SQE_INLINE_POST) with the operation's own completion, so a
 *     full queue cannot lose it; a thread that dequeues it before the
 *     submitting thread has stored the result into the OVERLAPPED waits
 *     for that.  (So an OVERLAPPED must not be reused before its packet
 *     is dequeued, as on Windows; here the dequeuing thread would wait
 *     up to 100 ms for the new operation, then return with the
 *     OVERLAPPED showing it.)  For AcceptEx, WSARecvFrom, WSARecvMsg
 *     and a pipe's ReadFile, whose result this layer completes after the
 *     kernel's, and for the I/O this layer does itself (a regular file's
 *     ReadFile/WriteFile, zero bytes on a pipe), the layer posts the
 *     packet (one more system call), and if the port's queue is full at
 *     that moment (its max_queued packets) it is lost.
 *   - WSARecv/WSASend with several buffers are one scatter/gather
 *     operation (one packet).  lpFlags accepts 0 or Linux's MSG_WAITALL
 *     (complete when all buffers are full).  No buffer at all
 *     (dwBufferCount == 0) is WSAEINVAL, as on Windows.
 *   - AcceptEx: see its comment.
 *   - Ports hold up to CPORT_MAX_PENDING pending operations and
 *     CPORT_MAX_QUEUED packets (the kernel's largest bounds, for hundreds
 *     of thousands of connections); the per-user max_user_units of the
 *     module and RLIMIT_NOFILE still bound them (cport(7)).
 *   - A port handle is a descriptor: it is not inherited usefully by
 *     fork(), and a closed handle's number can be reused by the next open.
 *   - The concurrency value is capped at CPORT_MAX_CONCURRENCY (4096).
 *   - An OVERLAPPED's result is stored by the thread that dequeues its
 *     packet: GetOverlappedResult(bWait) waits for that, and waits for
 *     ever for an operation whose packet nobody will dequeue (its port
 *     closed: closing a port discards its pending operations and their
 *     packets, and their OVERLAPPEDs stay STATUS_PENDING).  Reusing an
 *     OVERLAPPED while a thread waits on it makes that thread report the
 *     new operation's result, as on Windows.
 *   - 32-bit programs: WSARecvFrom, WSARecvMsg and WSASendMsg fail with
 *     WSAEINVAL (the kernel does not take a 32-bit msghdr yet).
 */
#ifndef LIBCPORT_CPORT_WIN32_H
#define LIBCPORT_CPORT_WIN32_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Types ---------------------------------------------------------------- */

typedef int		BOOL;
typedef uint8_t		BYTE;
typedef uint16_t	WORD;
typedef uint32_t	DWORD;
typedef int32_t		LONG;
typedef uint32_t	ULONG;
typedef int64_t		LONGLONG;
typedef uint64_t	ULONGLONG;
typedef char		CHAR;
typedef void		*PVOID;
typedef void		*LPVOID;
typedef const void	*LPCVOID;
typedef intptr_t	INT_PTR;
typedef uintptr_t	UINT_PTR;
typedef intptr_t	LONG_PTR;
typedef uintptr_t	ULONG_PTR;
typedef ULONG_PTR	*PULONG_PTR;
typedef ULONG_PTR	SIZE_T;
typedef DWORD		*LPDWORD;
typedef ULONG		*PULONG;
typedef void		*HANDLE;
typedef UINT_PTR	SOCKET;
typedef LONG		NTSTATUS;
typedef int		INT;
typedef int		*LPINT;
typedef unsigned int	UINT;
typedef unsigned short	USHORT;
typedef ULONG_PTR	DWORD_PTR;
typedef HANDLE		HGLOBAL;
typedef unsigned int	GROUP;

/* Calling conventions: one on Linux. */
#ifndef WINAPI
#define WINAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef APIENTRY
#define APIENTRY
#endif
#ifndef __stdcall
#define __stdcall
#endif

#define MAKEWORD(a, b)	((WORD)(((BYTE)(a)) | ((WORD)((BYTE)(b))) << 8))
#define LOBYTE(w)	((BYTE)((w) & 0xff))
#define HIBYTE(w)	((BYTE)(((w) >> 8) & 0xff))
#define LOWORD(l)	((WORD)((l) & 0xffff))
#define HIWORD(l)	((WORD)(((l) >> 16) & 0xffff))

#define ZeroMemory(Destination, Length)	memset((Destination), 0, (Length))
#define FillMemory(Destination, Length, Fill) \
	memset((Destination), (Fill), (Length))
#define CopyMemory(Destination, Source, Length) \
	memcpy((Destination), (Source), (Length))
#define MoveMemory(Destination, Source, Length) \
	memmove((Destination), (Source), (Length))

/* The Winsock names of the socket address types. */
typedef struct sockaddr		SOCKADDR, *PSOCKADDR, *LPSOCKADDR;
typedef struct sockaddr_in	SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;
typedef struct sockaddr_in6	SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;
typedef struct sockaddr_storage	SOCKADDR_STORAGE, *PSOCKADDR_STORAGE;
typedef struct in_addr		IN_ADDR, *PIN_ADDR, *LPIN_ADDR;

#ifndef TRUE
#define TRUE	1
#endif
#ifndef FALSE
#define FALSE	0
#endif

#define INFINITE		0xFFFFFFFFu
#define INVALID_HANDLE_VALUE	((HANDLE)(LONG_PTR)-1)
#define INVALID_SOCKET		((SOCKET)~0)
#define SOCKET_ERROR		(-1)

typedef struct _OVERLAPPED {
	ULONG_PTR Internal;	/* status (see above) */
	ULONG_PTR InternalHigh;	/* bytes transferred */
	union {
		struct {
			DWORD Offset;
			DWORD OffsetHigh;
		};
		PVOID Pointer;
	};
	HANDLE hEvent;		/* ignored */
} OVERLAPPED, *LPOVERLAPPED;

typedef struct _OVERLAPPED_ENTRY {
	ULONG_PTR lpCompletionKey;
	LPOVERLAPPED lpOverlapped;
	ULONG_PTR Internal;	/* 0, or the Win32 error of a failed I/O */
	DWORD dwNumberOfBytesTransferred;
} OVERLAPPED_ENTRY, *LPOVERLAPPED_ENTRY;

typedef struct _WSABUF {
	ULONG len;
	CHAR *buf;
} WSABUF, *LPWSABUF;

typedef void (*LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError,
						   DWORD cbTransferred,
						   LPOVERLAPPED lpOverlapped,
						   DWORD dwFlags);

typedef OVERLAPPED	WSAOVERLAPPED, *LPWSAOVERLAPPED;

#ifndef CONTAINING_RECORD
#define CONTAINING_RECORD(address, type, field) \
	((type *)((char *)(address) - offsetof(type, field)))
#endif

#define STATUS_PENDING		((DWORD)0x00000103L)
#define HasOverlappedIoCompleted(lpOverlapped) \
	((lpOverlapped)->Internal != STATUS_PENDING)

/* SetFileCompletionNotificationModes */
#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS	0x1
#define FILE_SKIP_SET_EVENT_ON_HANDLE		0x2

/* --- Codes (Windows' numeric values) -------------------------------------- */

#define ERROR_SUCCESS			0L
#define NO_ERROR			0L
#define ERROR_INVALID_FUNCTION		1L
#define ERROR_FILE_NOT_FOUND		2L
#define ERROR_TOO_MANY_OPEN_FILES	4L
#define ERROR_ACCESS_DENIED		5L
#define ERROR_INVALID_HANDLE		6L
#define ERROR_NOT_ENOUGH_MEMORY		8L
#define ERROR_GEN_FAILURE		31L
#define ERROR_HANDLE_EOF		38L
#define ERROR_NOT_SUPPORTED		50L
#define ERROR_NETNAME_DELETED		64L
#define ERROR_INVALID_PARAMETER		87L
#define ERROR_BROKEN_PIPE		109L
#define ERROR_NO_DATA			232L
#define ERROR_SEM_TIMEOUT		121L
#define ERROR_INSUFFICIENT_BUFFER	122L
#define WAIT_TIMEOUT			258L
#define ERROR_ABANDONED_WAIT_0		735L
#define ERROR_OPERATION_ABORTED		995L
#define ERROR_IO_INCOMPLETE		996L
#define ERROR_IO_PENDING		997L
#define ERROR_NOACCESS			998L
#define ERROR_NOT_FOUND			1168L
#define ERROR_CONNECTION_REFUSED	1225L
#define ERROR_GRACEFUL_DISCONNECT	1226L
#define ERROR_CONNECTION_INVALID	1229L
#define ERROR_NETWORK_UNREACHABLE	1231L
#define ERROR_HOST_UNREACHABLE		1232L
#define ERROR_CONNECTION_ABORTED	1236L
#define ERROR_NO_SYSTEM_RESOURCES	1450L

#define WSA_INVALID_HANDLE		ERROR_INVALID_HANDLE
#define WSA_NOT_ENOUGH_MEMORY		ERROR_NOT_ENOUGH_MEMORY
#define WSA_INVALID_PARAMETER		ERROR_INVALID_PARAMETER
#define WSA_OPERATION_ABORTED		ERROR_OPERATION_ABORTED
#define WSA_IO_INCOMPLETE		ERROR_IO_INCOMPLETE
#define WSA_IO_PENDING			ERROR_IO_PENDING

#define WSAEINTR			10004L
#define WSAEBADF			10009L
#define WSAEACCES			10013L
#define WSAEFAULT			10014L
#define WSAEINVAL			10022L
#define WSAEMFILE			10024L
#define WSAEWOULDBLOCK			10035L
#define WSAEINPROGRESS			10036L
#define WSAEALREADY			10037L
#define WSAENOTSOCK			10038L
#define WSAEDESTADDRREQ			10039L
#define WSAEMSGSIZE			10040L
#define WSAEPROTOTYPE			10041L
#define WSAENOPROTOOPT			10042L
#define WSAEPROTONOSUPPORT		10043L
#define WSAESOCKTNOSUPPORT		10044L
#define WSAEOPNOTSUPP			10045L
#define WSAEPFNOSUPPORT			10046L
#define WSAEAFNOSUPPORT			10047L
#define WSAEADDRINUSE			10048L
#define WSAEADDRNOTAVAIL		10049L
#define WSAENETDOWN			10050L
#define WSAENETUNREACH			10051L
#define WSAENETRESET			10052L
#define WSAECONNABORTED			10053L
#define WSAECONNRESET			10054L
#define WSAENOBUFS			10055L
#define WSAEISCONN			10056L
#define WSAENOTCONN			10057L
#define WSAESHUTDOWN			10058L
#define WSAETIMEDOUT			10060L
#define WSAECONNREFUSED			10061L
#define WSAEHOSTUNREACH			10065L
#define WSASYSCALLFAILURE		10107L
#define WSAVERNOTSUPPORTED		10092L
#define WSANOTINITIALISED		10093L

#define WAIT_OBJECT_0			0x00000000L
#define WAIT_ABANDONED			0x00000080L
#define WAIT_FAILED			((DWORD)0xFFFFFFFF)
#define STILL_ACTIVE			259L
#define MAXIMUM_WAIT_OBJECTS		64

/* --- Errors ---------------------------------------------------------------- */

DWORD GetLastError(void);
void SetLastError(DWORD dwErrCode);
int WSAGetLastError(void);
void WSASetLastError(int iError);

/*
 * The one errno -> Windows table: the Win32 code (winsock == FALSE, what
 * GetQueuedCompletionStatus reports for a failed I/O) or the Winsock code
 * (winsock == TRUE, what an immediate WSARecv/WSASend/AcceptEx failure
 * reports).  err is a positive errno; 0 gives 0.
 */
DWORD cport_win32_error(int err, BOOL winsock);

/* --- Ports ----------------------------------------------------------------- */

/*
 * FileHandle == INVALID_HANDLE_VALUE, ExistingCompletionPort == NULL:
 * create a port allowing NumberOfConcurrentThreads running threads (0 =
 * the number of CPUs).  FileHandle a socket: associate it under
 * CompletionKey with ExistingCompletionPort (returned), or with a new port
 * if that is NULL.  Returns NULL on failure (GetLastError():
 * ERROR_INVALID_PARAMETER for a socket already associated, one that is
 * not a TCP or unix stream socket, a non-NULL existing port with
 * INVALID_HANDLE_VALUE; ERROR_INVALID_HANDLE for a bad descriptor;
 * ERROR_FILE_NOT_FOUND when /dev/cport is missing).
 */
HANDLE CreateIoCompletionPort(HANDLE FileHandle, HANDLE ExistingCompletionPort,
			      ULONG_PTR CompletionKey,
			      DWORD NumberOfConcurrentThreads);

BOOL GetQueuedCompletionStatus(HANDLE CompletionPort,
			       LPDWORD lpNumberOfBytesTransferred,
			       PULONG_PTR lpCompletionKey,
			       LPOVERLAPPED *lpOverlapped,
			       DWORD dwMilliseconds);

/*
 * Up to ulCount packets.  TRUE with *ulNumEntriesRemoved >= 1, also when
 * some of them are failed I/Os: their status is in lpOverlapped->Internal
 * (and the entry's Internal), as on Windows.  FALSE with
 * *ulNumEntriesRemoved = 0 on timeout (WAIT_TIMEOUT) or close
 * (ERROR_ABANDONED_WAIT_0).  fAlertable is ignored (no APCs).
 */
BOOL GetQueuedCompletionStatusEx(HANDLE CompletionPort,
				 LPOVERLAPPED_ENTRY lpCompletionPortEntries,
				 ULONG ulCount, PULONG ulNumEntriesRemoved,
				 DWORD dwMilliseconds, BOOL fAlertable);

/* Queue (bytes, key, overlapped) verbatim; lpOverlapped is not touched. */
BOOL PostQueuedCompletionStatus(HANDLE CompletionPort,
				DWORD dwNumberOfBytesTransferred,
				ULONG_PTR dwCompletionKey,
				LPOVERLAPPED lpOverlapped);

/*
 * A port: wake every waiter (FALSE, NULL, ERROR_ABANDONED_WAIT_0), discard
 * its packets, cancel its pending operations, close it.  A socket: as
 * closesocket().  Anything else: close().
 */
BOOL CloseHandle(HANDLE hObject);

/*
 * Cancel lpOverlapped's operation, or (NULL) every operation on hFile.
 * Each cancelled operation then completes with ERROR_OPERATION_ABORTED
 * (or its real result if it finished at the same moment).  FALSE with
 * ERROR_NOT_FOUND if nothing was pending (one that already completed is
 * not found).
 */
BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);

/*
 * CancelIoEx(hFile, NULL).  Windows cancels only the calling thread's
 * operations on hFile; cport does not record which thread started an
 * operation, so this cancels every thread's (close the handle or use
 * CancelIoEx with the OVERLAPPED where that matters).
 */
BOOL CancelIo(HANDLE hFile);

/*
 * The result of an overlapped operation, from its OVERLAPPED: TRUE with
 * *lpNumberOfBytesTransferred = InternalHigh when it succeeded, FALSE
 * with its error when it failed, FALSE with ERROR_IO_INCOMPLETE while it
 * is pending and bWait is FALSE.  An operation is over when the thread
 * that dequeued its packet (GetQueuedCompletionStatus, the thread pool)
 * has finished it, or when the call that started it returned its result
 * at once; bWait TRUE waits for that (the packet still has to be
 * dequeued by someone: this call does not dequeue it).
 * GetOverlappedResultEx waits at most dwMilliseconds (WAIT_TIMEOUT);
 * bAlertable is ignored.  hFile is not used (Windows waits on it when
 * hEvent is NULL) and may be any value.  For an AcceptEx, InternalHigh,
 * and so the bytes reported, is the accepted socket, not the bytes of
 * its first data: take those from its packet.
 */
BOOL GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
			 LPDWORD lpNumberOfBytesTransferred, BOOL bWait);
BOOL GetOverlappedResultEx(HANDLE hFile, LPOVERLAPPED lpOverlapped,
			   LPDWORD lpNumberOfBytesTransferred,
			   DWORD dwMilliseconds, BOOL bAlertable);

/*
 * ReadFile and WriteFile.  With an OVERLAPPED, on a handle associated
 * with a port:
 *   - a pipe or FIFO (or an eventfd for reading, or a character device
 *     that honours non-blocking I/O): the kernel's CPORT_OP_READ or
 *     CPORT_OP_WRITE, as WSARecv and WSASend on a socket.  A read
 *     returns what is there as soon as there is something; a write
 *     completes when all of it is written.  A read when every writer has
 *     closed fails with ERROR_BROKEN_PIPE, a write when every reader has
 *     closed with ERROR_NO_DATA (no SIGPIPE), as on Windows.  The
 *     OVERLAPPED's Offset is ignored, as for a Windows pipe.
 *   - a regular file: the read or write at the OVERLAPPED's Offset and
 *     OffsetHigh is done at once by the calling thread (pread, pwrite),
 *     as Windows does for a cached file; TRUE and a packet (unless the
 *     handle skips completion on success), or FALSE with the error and
 *     no packet: ERROR_HANDLE_EOF for a read at or past the end.  The
 *     file position does not move.
 *   - a socket: WSARecv or WSASend of one buffer.
 * TRUE when done at once (*lpNumberOfBytes... set; a packet follows
 * unless the handle skips completion on success), else FALSE with
 * ERROR_IO_PENDING (a packet follows) or another code (nothing follows).
 * A zero-byte ReadFile or WriteFile on a pipe completes at once with 0
 * bytes, or fails as a longer one would once that end is closed
 * (ERROR_BROKEN_PIPE when nothing is left to read, ERROR_NO_DATA); 0
 * bytes read from a character device is a success.  Without an OVERLAPPED: a blocking read(2) or write(2) (all of
 * it), with the same errors; a regular file's position moves.
 */
BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead,
	      LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped);
BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite,
	       LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped);

/* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (and _SET_EVENT_ON_HANDLE, a no-op);
 * once set it cannot be cleared. */
BOOL SetFileCompletionNotificationModes(HANDLE FileHandle, BYTE Flags);

/* --- Sockets --------------------------------------------------------------- */

/*
 * With an OVERLAPPED: 0 when the operation completed at once
 * (*lpNumberOfBytes set; a packet follows unless the socket skips
 * completion on success), else SOCKET_ERROR with WSAGetLastError() ==
 * WSA_IO_PENDING (a packet follows) or another code (nothing follows).
 * lpNumberOfBytesRecvd may be NULL.  Without one (lpOverlapped == NULL):
 * a blocking recvmsg/sendmsg.  lpCompletionRoutine must be NULL.
 */
int WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/*
 * Datagrams (a UDP WSASocket(AF_INET, SOCK_DGRAM, ...) or a unix
 * datagram socket associated with a port): WSARecvFrom writes the
 * sender's address to lpFrom and its length to *lpFromlen (both the
 * kernel's until the operation completes); a datagram longer than the
 * buffers fails with WSAEMSGSIZE, the bytes that fit delivered.
 * WSASendTo sends one datagram to lpTo (NULL: the connected peer).
 * lpFlags / dwFlags must be 0; returns as WSARecv and WSASend.
 */
int WSARecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
		struct sockaddr *lpFrom, LPINT lpFromlen,
		LPWSAOVERLAPPED lpOverlapped,
		LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSASendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	      LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
	      const struct sockaddr *lpTo, int iTolen,
	      LPWSAOVERLAPPED lpOverlapped,
	      LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/*
 * WSAGetOverlappedResult: GetOverlappedResult with the error as Winsock
 * reports it (WSAECONNRESET where GetQueuedCompletionStatus said
 * ERROR_NETNAME_DELETED, WSAEMSGSIZE...); *lpdwFlags gets 0 (lpdwFlags
 * may be NULL).  TRUE, or FALSE with WSAGetLastError() set
 * (WSA_IO_INCOMPLETE while pending and fWait is FALSE).
 */
BOOL WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
			    LPDWORD lpcbTransfer, BOOL fWait,
			    LPDWORD lpdwFlags);

/*
 * WSARecvMsg (obtained through WSAIoctl, as on Windows) and WSASendMsg:
 * one datagram (or stream data) with its address and control data, by
 * the kernel's CPORT_OP_RECVMSG and CPORT_OP_SENDMSG.  The control data
 * is Linux's (struct cmsghdr, the CMSG_* macros, Linux's levels and
 * types: IP_PKTINFO's struct in_pktinfo is Linux's), since the socket
 * options that ask for it are Linux's too.  WSARecvMsg: the WSAMSG, its
 * name and control buffers are the kernel's until the operation
 * completes, when namelen, Control.len and dwFlags (Linux's MSG_TRUNC,
 * MSG_CTRUNC...) are written back; a datagram cut short fails with
 * WSAEMSGSIZE, the bytes that fit delivered; lpMsg->dwFlags must be 0 on
 * entry.  WSASendMsg: the WSAMSG is read at the call; dwFlags must be 0.
 * Both return as WSARecv and WSASend.
 */
typedef struct _WSAMSG {
	LPSOCKADDR	name;
	INT		namelen;
	LPWSABUF	lpBuffers;
	ULONG		dwBufferCount;
	WSABUF		Control;
	ULONG		dwFlags;
} WSAMSG, *PWSAMSG, *LPWSAMSG;

typedef INT (*LPFN_WSARECVMSG)(SOCKET s, LPWSAMSG lpMsg,
			       LPDWORD lpdwNumberOfBytesRecvd,
			       LPWSAOVERLAPPED lpOverlapped,
			       LPWSAOVERLAPPED_COMPLETION_ROUTINE
			       lpCompletionRoutine);
typedef INT (*LPFN_WSASENDMSG)(SOCKET s, LPWSAMSG lpMsg, DWORD dwFlags,
			       LPDWORD lpNumberOfBytesSent,
			       LPWSAOVERLAPPED lpOverlapped,
			       LPWSAOVERLAPPED_COMPLETION_ROUTINE
			       lpCompletionRoutine);

int WSASendMsg(SOCKET Handle, LPWSAMSG lpMsg, DWORD dwFlags,
	       LPDWORD lpNumberOfBytesSent, LPWSAOVERLAPPED lpOverlapped,
	       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/*
 * AcceptEx on a listening socket associated with a port.  Linux creates
 * the accepted socket itself, so sAcceptSocket is either
 *   - a socket the caller made with socket() or WSASocket() (the Windows
 *     shape): when the AcceptEx completes the connection is moved onto
 *     that descriptor (dup2), which then is the connected socket; or
 *   - INVALID_SOCKET: the connection gets a new descriptor.
 * Either way, when the AcceptEx completes (TRUE from this call, or its
 * packet), lpOverlapped->InternalHigh holds the accepted SOCKET.  The
 * connection is associated with a port only if sAcceptSocket was
 * (associated before AcceptEx, it keeps that port and key); else
 * associate it with CreateIoCompletionPort, as on Windows (no
 * SO_UPDATE_ACCEPT_CONTEXT is needed).
 *
 * While the AcceptEx is pending the library owns sAcceptSocket's
 * descriptor: closesocket() or CloseHandle() of it aborts the AcceptEx
 * (its packet: ERROR_OPERATION_ABORTED, and a connection accepted at that
 * moment is closed), and the number is closed only when that packet is
 * dequeued, so that no other descriptor can get it and the connection.
 * Close it with closesocket(), not close(): after a close() the number
 * is checked before the connection is moved there (a different file gets
 * no connection: ERROR_OPERATION_ABORTED), but a close() and a reopen in
 * other threads at that very moment cannot be seen.  A second AcceptEx
 * into a socket with one pending fails with WSAEINVAL, as on Windows.
 *
 * lpOutputBuffer: dwReceiveDataLength bytes for the first data, then
 * dwLocalAddressLength bytes for the local address, then
 * dwRemoteAddressLength for the remote one, as on Windows (each address
 * room must be at least sizeof(struct sockaddr_storage) + 16 on Windows;
 * here at least the address's size); read them with
 * GetAcceptExSockaddrs().  lpOutputBuffer may be NULL when all three are
 * 0.  With dwReceiveDataLength > 0 the AcceptEx completes only when the
 * first data has arrived (or the peer closed: 0 bytes), and its bytes are
 * the data's length, as in Microsoft's samples.  (Closing the listener
 * cancels an AcceptEx still waiting for the connection, not one waiting
 * for its first data: close the accept socket for that.)
 *
 * Returns TRUE when it completed at once (*lpdwBytesReceived = the bytes
 * of first data; a packet follows unless the listener skips completion
 * on success), else FALSE with WSAGetLastError() == ERROR_IO_PENDING (a
 * packet follows) or another code (nothing follows).
 */
BOOL AcceptEx(SOCKET sListenSocket, SOCKET sAcceptSocket,
	      PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
	      DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength,
	      LPDWORD lpdwBytesReceived, LPOVERLAPPED lpOverlapped);

/* The two addresses AcceptEx stored in lpOutputBuffer. */
void GetAcceptExSockaddrs(PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
			  DWORD dwLocalAddressLength,
			  DWORD dwRemoteAddressLength,
			  struct sockaddr **LocalSockaddr,
			  int *LocalSockaddrLength,
			  struct sockaddr **RemoteSockaddr,
			  int *RemoteSockaddrLength);

/*
 * ConnectEx on a bound socket (bind() first, as Windows requires:
 * WSAEINVAL otherwise) associated with a port: connects it to name and
 * then sends lpSendBuffer (dwSendDataLength bytes; NULL and 0 for none).
 * The connect is the caller's own non-blocking connect(2), finished by
 * the kernel's CPORT_OP_CONNECT (cport_connect(3)).  Returns TRUE when it
 * completed at once (*lpdwBytesSent = the bytes sent; a packet follows
 * unless the socket skips completion on success), else FALSE with
 * WSAGetLastError() == ERROR_IO_PENDING (a packet follows: its bytes are
 * those sent, its error WSAECONNREFUSED, WSAETIMEDOUT... as
 * ERROR_CONNECTION_REFUSED, ERROR_SEM_TIMEOUT... from
 * GetQueuedCompletionStatus) or another code (nothing follows).
 * setsockopt(SO_UPDATE_CONNECT_CONTEXT) afterwards is not needed.
 */
BOOL ConnectEx(SOCKET s, const struct sockaddr *name, int namelen,
	       PVOID lpSendBuffer, DWORD dwSendDataLength,
	       LPDWORD lpdwBytesSent, LPOVERLAPPED lpOverlapped);

/* TransmitFile's head and tail buffers. */
typedef struct _TRANSMIT_FILE_BUFFERS {
	LPVOID	Head;
	DWORD	HeadLength;
	LPVOID	Tail;
	DWORD	TailLength;
} TRANSMIT_FILE_BUFFERS, *PTRANSMIT_FILE_BUFFERS, *LPTRANSMIT_FILE_BUFFERS;

/* TransmitFile's dwFlags, DisconnectEx's dwFlags (TF_REUSE_SOCKET). */
#define TF_DISCONNECT		0x01
#define TF_REUSE_SOCKET		0x02
#define TF_WRITE_BEHIND		0x04
#define TF_USE_DEFAULT_WORKER	0x00
#define TF_USE_SYSTEM_THREAD	0x10
#define TF_USE_KERNEL_APC	0x20

/*
 * TransmitFile on a connected socket associated with a port: sends
 * lpTransmitBuffers->Head, then nNumberOfBytesToWrite bytes of hFile (a
 * regular file's descriptor; 0 = to its end) from the offset in
 * lpOverlapped's Offset and OffsetHigh, then ->Tail, by the kernel's
 * CPORT_OP_SENDFILE (cport_prep_sendfile(3)): the file is read at that
 * offset and its file pointer does not move.  hFile NULL sends the
 * buffers alone.  TF_DISCONNECT: then a DisconnectEx, and the packet
 * comes when that is done too (with the bytes sent).  TF_REUSE_SOCKET
 * fails with WSAEOPNOTSUPP: Linux cannot reuse a disconnected socket.
 * TF_WRITE_BEHIND and the TF_USE_* flags are accepted and mean nothing
 * here; so is nNumberOfBytesPerSend.  TRUE when done at once (a packet
 * follows unless the socket skips completion on success), else FALSE
 * with WSAGetLastError() == ERROR_IO_PENDING (a packet follows) or
 * another code (nothing follows: WSAEINVAL for a bad file or range,
 * WSAENOTSOCK...).  Without lpOverlapped it is synchronous and starts at
 * the file's current offset, moving it, as on Windows.
 */
BOOL TransmitFile(SOCKET hSocket, HANDLE hFile, DWORD nNumberOfBytesToWrite,
		  DWORD nNumberOfBytesPerSend, LPOVERLAPPED lpOverlapped,
		  LPTRANSMIT_FILE_BUFFERS lpTransmitBuffers, DWORD dwReserved);

/*
 * DisconnectEx on a connected socket associated with a port: a graceful
 * shutdown for writing after the sends before it (CPORT_OP_DISCONNECT,
 * cport_prep_disconnect(3)), completing when the FIN has gone (TCP: the
 * peer acknowledged it).  dwFlags TF_REUSE_SOCKET fails with
 * WSAEOPNOTSUPP (close the socket and make a new one instead);
 * dwReserved must be 0 (WSAEINVAL).  Without lpOverlapped it is
 * shutdown(SHUT_WR) at once.  Returns as TransmitFile.
 */
BOOL DisconnectEx(SOCKET s, LPOVERLAPPED lpOverlapped, DWORD dwFlags,
		  DWORD dwReserved);

/* The extension functions, as Windows code obtains them (WSAIoctl). */
typedef struct {
	uint32_t	Data1;
	uint16_t	Data2;
	uint16_t	Data3;
	uint8_t		Data4[8];
} GUID;

typedef BOOL (*LPFN_ACCEPTEX)(SOCKET, SOCKET, PVOID, DWORD, DWORD, DWORD,
			      LPDWORD, LPOVERLAPPED);
typedef BOOL (*LPFN_CONNECTEX)(SOCKET, const struct sockaddr *, int, PVOID,
			       DWORD, LPDWORD, LPOVERLAPPED);
typedef void (*LPFN_GETACCEPTEXSOCKADDRS)(PVOID, DWORD, DWORD, DWORD,
					  struct sockaddr **, int *,
					  struct sockaddr **, int *);
typedef BOOL (*LPFN_TRANSMITFILE)(SOCKET, HANDLE, DWORD, DWORD, LPOVERLAPPED,
				  LPTRANSMIT_FILE_BUFFERS, DWORD);
typedef BOOL (*LPFN_DISCONNECTEX)(SOCKET, LPOVERLAPPED, DWORD, DWORD);

#define WSAID_ACCEPTEX \
	{ 0xb5367df1, 0xcbac, 0x11cf, \
	  { 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92 } }
#define WSAID_GETACCEPTEXSOCKADDRS \
	{ 0xb5367df2, 0xcbac, 0x11cf, \
	  { 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92 } }
#define WSAID_CONNECTEX \
	{ 0x25a207b9, 0xddf3, 0x4660, \
	  { 0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e } }
#define WSAID_DISCONNECTEX \
	{ 0x7fda2e11, 0x8630, 0x436f, \
	  { 0xa0, 0x31, 0xf5, 0x36, 0xa6, 0xee, 0xc1, 0x57 } }
#define WSAID_TRANSMITFILE \
	{ 0xb5367df0, 0xcbac, 0x11cf, \
	  { 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92 } }
#define WSAID_WSARECVMSG \
	{ 0xf689d7c8, 0x6f1f, 0x436b, \
	  { 0x8a, 0x53, 0xe5, 0x4f, 0xe3, 0x51, 0xc3, 0x22 } }
#define WSAID_WSASENDMSG \
	{ 0xa441e712, 0x754f, 0x43ca, \
	  { 0x84, 0xa7, 0x0d, 0xee, 0x44, 0xcf, 0x60, 0x6d } }

#define SIO_GET_EXTENSION_FUNCTION_POINTER	0xc8000006UL

/*
 * WSAIoctl: only SIO_GET_EXTENSION_FUNCTION_POINTER, synchronously
 * (lpOverlapped and the completion routine NULL): lpvInBuffer holds a
 * GUID, lpvOutBuffer receives the function's pointer: AcceptEx,
 * ConnectEx, GetAcceptExSockaddrs, DisconnectEx, TransmitFile, WSARecvMsg
 * and WSASendMsg (WSAEINVAL for an unknown GUID); other codes fail with
 * WSAEOPNOTSUPP.
 */
int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer,
	     DWORD cbInBuffer, LPVOID lpvOutBuffer, DWORD cbOutBuffer,
	     LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
	     LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/*
 * Cancel s's pending operations (they complete with
 * ERROR_OPERATION_ABORTED), forget its association, close it.  0 or
 * SOCKET_ERROR (WSAENOTSOCK for a bad descriptor).
 */
int closesocket(SOCKET s);

/* --- The rest of a Winsock server's calls --------------------------------- */

/*
 * What the classic Windows IOCP tutorial server calls besides the port
 * and the sockets, so that it builds with only its #include lines
 * changed (examples/win_tutorial_echo.c).  These are libcport-win32's,
 * version node LIBCPORT_WIN32_1.1.
 */

#define WSADESCRIPTION_LEN	256
#define WSASYS_STATUS_LEN	128

/* WSAStartup's record, laid out as on 64-bit Windows. */
typedef struct WSAData {
	WORD wVersion;
	WORD wHighVersion;
	unsigned short iMaxSockets;
	unsigned short iMaxUdpDg;
	char *lpVendorInfo;
	char szDescription[WSADESCRIPTION_LEN + 1];
	char szSystemStatus[WSASYS_STATUS_LEN + 1];
} WSADATA, *LPWSADATA;

/* 0 (versions 1.1 to 2.2; a later one gets 2.2), or WSAVERNOTSUPPORTED.
 * Nothing needs starting on Linux; WSACleanup returns 0. */
int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData);
int WSACleanup(void);

#define WSA_FLAG_OVERLAPPED		0x01
#define WSA_FLAG_NO_HANDLE_INHERIT	0x80

typedef struct _WSAPROTOCOL_INFO WSAPROTOCOL_INFO, *LPWSAPROTOCOL_INFO;
typedef int (CALLBACK *LPCONDITIONPROC)(LPWSABUF lpCallerId,
					LPWSABUF lpCallerData, void *lpSQOS,
					void *lpGQOS, LPWSABUF lpCalleeId,
					LPWSABUF lpCalleeData, GROUP *g,
					DWORD_PTR dwCallbackData);

/*
 * socket(): every socket can do overlapped I/O (WSA_FLAG_OVERLAPPED is
 * accepted and changes nothing; WSA_FLAG_NO_HANDLE_INHERIT is
 * SOCK_CLOEXEC).  lpProtocolInfo must be NULL and g 0 (WSAEINVAL).
 */
SOCKET WSASocket(int af, int type, int protocol,
		 LPWSAPROTOCOL_INFO lpProtocolInfo, GROUP g, DWORD dwFlags);
#define WSASocketA	WSASocket
#define WSASocketW	WSASocket

/* accept(); lpfnCondition must be NULL (WSAEOPNOTSUPP). */
SOCKET WSAAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen,
		 LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData);

typedef struct _SECURITY_ATTRIBUTES {
	DWORD nLength;
	LPVOID lpSecurityDescriptor;
	BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

typedef DWORD (WINAPI *LPTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);

#define CREATE_SUSPENDED	0x00000004

/*
 * A thread, as a HANDLE (a descriptor, like the others): wait for it to
 * end with WaitForSingleObject/WaitForMultipleObjects, read its return
 * value with GetExitCodeThread, release the handle with CloseHandle (the
 * thread runs on).  lpThreadAttributes is ignored; CREATE_SUSPENDED is
 * not supported (ERROR_INVALID_PARAMETER).  *lpThreadId is a number
 * unique in the process, not a Linux thread id.
 */
HANDLE CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes,
		    SIZE_T dwStackSize, LPTHREAD_START_ROUTINE lpStartAddress,
		    LPVOID lpParameter, DWORD dwCreationFlags,
		    LPDWORD lpThreadId);
/* The C runtime's way to the same; 0 on failure (errno EINVAL). */
uintptr_t _beginthreadex(void *security, unsigned int stack_size,
			 unsigned int (WINAPI *start_address)(void *),
			 void *arglist, unsigned int initflag,
			 unsigned int *thrdaddr);
BOOL GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);

/*
 * Wait for thread handles (other handles: WAIT_FAILED with
 * ERROR_INVALID_HANDLE).  WAIT_OBJECT_0 (+ the index of a signalled one
 * unless bWaitAll), WAIT_TIMEOUT, or WAIT_FAILED.  At most
 * MAXIMUM_WAIT_OBJECTS handles.
 */
DWORD WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
DWORD WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles,
			     BOOL bWaitAll, DWORD dwMilliseconds);

void Sleep(DWORD dwMilliseconds);

#define PROCESSOR_ARCHITECTURE_INTEL	0
#define PROCESSOR_ARCHITECTURE_ARM64	12
#define PROCESSOR_ARCHITECTURE_AMD64	9
#define PROCESSOR_ARCHITECTURE_UNKNOWN	0xffff

typedef struct _SYSTEM_INFO {
	union {
		DWORD dwOemId;
		struct {
			WORD wProcessorArchitecture;
			WORD wReserved;
		};
	};
	DWORD dwPageSize;
	LPVOID lpMinimumApplicationAddress;
	LPVOID lpMaximumApplicationAddress;
	DWORD_PTR dwActiveProcessorMask;
	DWORD dwNumberOfProcessors;	/* the online CPUs */
	DWORD dwProcessorType;
	DWORD dwAllocationGranularity;
	WORD wProcessorLevel;
	WORD wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;

void GetSystemInfo(LPSYSTEM_INFO lpSystemInfo);

#define GMEM_FIXED	0x0000
#define GMEM_ZEROINIT	0x0040
#define GPTR		(GMEM_FIXED | GMEM_ZEROINIT)

/* Fixed memory only (GMEM_FIXED, GMEM_ZEROINIT, GPTR): the HGLOBAL is
 * the pointer.  GlobalFree returns NULL. */
HGLOBAL GlobalAlloc(UINT uFlags, SIZE_T dwBytes);
HGLOBAL GlobalFree(HGLOBAL hMem);

/* --- The thread pool -------------------------------------------------------- */

/*
 * Windows' thread-pool calls (Vista and later, and BindIoCompletionCallback
 * of Windows 2000), on cport_pool(3): each pool is a cport_pool with a
 * port of its own (concurrency: the number of CPUs), whose threads are
 * made on demand up to the pool's maximum (512 unless set) and exit after
 * 10 s idle down to its minimum (0 unless set).  The process's default
 * pool is made at first use and lives as long as the process.  Version
 * node LIBCPORT_WIN32_1.3.
 *
 * Thread-pool I/O: CreateThreadpoolIo associates a socket with the
 * pool's port (a socket already associated with a port fails with
 * ERROR_INVALID_PARAMETER).  Call StartThreadpoolIo before each
 * overlapped WSARecv, WSASend, AcceptEx or ConnectEx on it, and
 * CancelThreadpoolIo if that call then fails (anything but success or
 * WSA_IO_PENDING), or if it succeeded at once on a socket set to
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS; every other started operation,
 * also one that succeeded at once (Windows' default mode), calls the
 * callback once, on a pool thread, with its OVERLAPPED, the Win32 error
 * (0, ERROR_OPERATION_ABORTED, ERROR_NETNAME_DELETED...) and the bytes
 * transferred.  CloseThreadpoolIo frees the object once the callbacks
 * of the operations started have run (a callback may close its own).
 * WaitForThreadpoolIoCallbacks waits for those callbacks; with
 * fCancelPendingCallbacks it first cancels the operations still pending
 * and does not call their callbacks (Windows cancels only callbacks
 * queued, not the I/O: here the two cannot be told apart).
 *
 * BindIoCompletionCallback: the socket's completions call Function on
 * the default pool, with no Start/Cancel calls; closesocket() or
 * CloseHandle() of the socket ends the binding.
 *
 * Not supported: cleanup groups (CleanupGroup must be NULL: it is
 * ignored), callback priorities, timers and waits, and the
 * PTP_CALLBACK_INSTANCE calls (the instance is only passed along).
 */
typedef void			VOID;
typedef DWORD			TP_VERSION, *PTP_VERSION;
typedef struct _TP_CALLBACK_INSTANCE TP_CALLBACK_INSTANCE,
				*PTP_CALLBACK_INSTANCE;
typedef struct _TP_POOL		TP_POOL, *PTP_POOL;
typedef struct _TP_WORK		TP_WORK, *PTP_WORK;
typedef struct _TP_IO		TP_IO, *PTP_IO;
typedef struct _TP_CLEANUP_GROUP TP_CLEANUP_GROUP, *PTP_CLEANUP_GROUP;

typedef VOID (CALLBACK *PTP_SIMPLE_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
					     PVOID Context);
typedef VOID (CALLBACK *PTP_WORK_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
					   PVOID Context, PTP_WORK Work);
typedef VOID (CALLBACK *PTP_WIN32_IO_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
					       PVOID Context, PVOID Overlapped,
					       ULONG IoResult,
					       ULONG_PTR NumberOfBytesTransferred,
					       PTP_IO Io);
typedef VOID (CALLBACK *PTP_CLEANUP_GROUP_CANCEL_CALLBACK)(PVOID ObjectContext,
							   PVOID CleanupContext);
typedef VOID (WINAPI *LPOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwErrorCode,
						       DWORD dwNumberOfBytesTransfered,
						       LPOVERLAPPED lpOverlapped);

typedef enum _TP_CALLBACK_PRIORITY {
	TP_CALLBACK_PRIORITY_HIGH,
	TP_CALLBACK_PRIORITY_NORMAL,
	TP_CALLBACK_PRIORITY_LOW,
	TP_CALLBACK_PRIORITY_INVALID,
	TP_CALLBACK_PRIORITY_COUNT = TP_CALLBACK_PRIORITY_INVALID
} TP_CALLBACK_PRIORITY;

/* Windows' layout (version 3); only Pool is used. */
typedef struct _TP_CALLBACK_ENVIRON_V3 {
	TP_VERSION Version;
	PTP_POOL Pool;
	PTP_CLEANUP_GROUP CleanupGroup;
	PTP_CLEANUP_GROUP_CANCEL_CALLBACK CleanupGroupCancelCallback;
	PVOID RaceDll;
	struct _ACTIVATION_CONTEXT *ActivationContext;
	PTP_SIMPLE_CALLBACK FinalizationCallback;
	union {
		DWORD Flags;
		struct {
			DWORD LongFunction : 1;
			DWORD Persistent : 1;
			DWORD Private : 30;
		} s;
	} u;
	TP_CALLBACK_PRIORITY CallbackPriority;
	DWORD Size;
} TP_CALLBACK_ENVIRON_V3, TP_CALLBACK_ENVIRON, *PTP_CALLBACK_ENVIRON;

/* A pool of its own; Reserved must be NULL.  NULL on failure. */
PTP_POOL CreateThreadpool(PVOID reserved);
/* At most cthrdMost threads (0 counts as 1); the minimum follows it down. */
VOID SetThreadpoolThreadMaximum(PTP_POOL ptpp, DWORD cthrdMost);
/* At least cthrdMic threads, made now; the maximum follows it up.
 * FALSE: ERROR_INVALID_PARAMETER (more than 1024), ERROR_NOT_ENOUGH_MEMORY. */
BOOL SetThreadpoolThreadMinimum(PTP_POOL ptpp, DWORD cthrdMic);
/* Released once its work and I/O objects are closed and their callbacks ran. */
VOID CloseThreadpool(PTP_POOL ptpp);

VOID InitializeThreadpoolEnvironment(PTP_CALLBACK_ENVIRON pcbe);
VOID SetThreadpoolCallbackPool(PTP_CALLBACK_ENVIRON pcbe, PTP_POOL ptpp);
VOID DestroyThreadpoolEnvironment(PTP_CALLBACK_ENVIRON pcbe);

/* Work objects: each SubmitThreadpoolWork runs pfnwk once. */
PTP_WORK CreateThreadpoolWork(PTP_WORK_CALLBACK pfnwk, PVOID pv,
			      PTP_CALLBACK_ENVIRON pcbe);
VOID SubmitThreadpoolWork(PTP_WORK pwk);
/* Wait for the submitted callbacks (fCancelPendingCallbacks: those not
 * started yet do not run).  Not from pwk's own callback (it deadlocks). */
VOID WaitForThreadpoolWorkCallbacks(PTP_WORK pwk, BOOL fCancelPendingCallbacks);
VOID CloseThreadpoolWork(PTP_WORK pwk);
/* pfns(Instance, pv) once; FALSE (ERROR_INVALID_PARAMETER, ...) if not queued. */
BOOL TrySubmitThreadpoolCallback(PTP_SIMPLE_CALLBACK pfns, PVOID pv,
				 PTP_CALLBACK_ENVIRON pcbe);

/* Thread-pool I/O on a socket (see above).  NULL on failure:
 * ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, ERROR_NOT_SUPPORTED... */
PTP_IO CreateThreadpoolIo(HANDLE fl, PTP_WIN32_IO_CALLBACK pfnio, PVOID pv,
			  PTP_CALLBACK_ENVIRON pcbe);
VOID StartThreadpoolIo(PTP_IO pio);
VOID CancelThreadpoolIo(PTP_IO pio);
VOID CloseThreadpoolIo(PTP_IO pio);
VOID WaitForThreadpoolIoCallbacks(PTP_IO pio, BOOL fCancelPendingCallbacks);

/* Flags must be 0.  FALSE: ERROR_INVALID_PARAMETER, ERROR_INVALID_HANDLE... */
BOOL BindIoCompletionCallback(HANDLE FileHandle,
			      LPOVERLAPPED_COMPLETION_ROUTINE Function,
			      ULONG Flags);

/* --- Sockets spelled the Winsock way ---------------------------------------- */

/*
 * Where Winsock's socket calls differ from Linux's in their types, or in
 * an option Linux does not have, these wrappers take Windows' spelling:
 * a length is an int (Linux: socklen_t), setsockopt() accepts
 * SO_UPDATE_ACCEPT_CONTEXT and SO_UPDATE_CONNECT_CONTEXT (nothing to do
 * on Linux: an accepted or connected socket already has its context),
 * and a failure sets WSAGetLastError() as well as errno.  In C they
 * replace accept(), getsockopt(), setsockopt(), getpeername(),
 * getsockname() and recvfrom() by function-like macros (a length may be
 * an int * or a socklen_t *); define CPORT_WIN32_NO_SOCKET_MACROS before
 * including this header to keep Linux's own.  socket(), bind(), listen(),
 * connect(), send(), recv(), sendto() and shutdown() have the same shape
 * on both systems and are Linux's own: after them errno, not
 * WSAGetLastError(), holds the error.  SD_RECEIVE, SD_SEND and SD_BOTH are
 * SHUT_RD, SHUT_WR and SHUT_RDWR.
 */
#define SO_UPDATE_ACCEPT_CONTEXT	0x700B
#define SO_UPDATE_CONNECT_CONTEXT	0x7010

#define SD_RECEIVE	SHUT_RD
#define SD_SEND		SHUT_WR
#define SD_BOTH		SHUT_RDWR

typedef unsigned long	u_long;

/* The Winsock error of the failed call just made (errno), as SOCKET_ERROR. */
static inline int cport_win32_sock_fail(void)
{
	WSASetLastError((int)cport_win32_error(errno, TRUE));
	return SOCKET_ERROR;
}

#ifndef __cplusplus
/* An int * (Winsock) or a socklen_t * (Linux) length, as glibc does it. */
typedef union {
	int *i;
	socklen_t *s;
} cport_win32_lenp __attribute__((__transparent_union__));

static inline SOCKET cport_win32_accept(SOCKET s, struct sockaddr *addr,
					cport_win32_lenp addrlen)
{
	int fd = (accept)((int)s, addr, addrlen.s);

	if (fd < 0) {
		cport_win32_sock_fail();
		return INVALID_SOCKET;
	}
	return (SOCKET)fd;
}

static inline int cport_win32_getsockopt(SOCKET s, int level, int optname,
					 void *optval,
					 cport_win32_lenp optlen)
{
	if ((getsockopt)((int)s, level, optname, optval, optlen.s))
		return cport_win32_sock_fail();
	return 0;
}

static inline int cport_win32_getpeername(SOCKET s, struct sockaddr *name,
					  cport_win32_lenp namelen)
{
	if ((getpeername)((int)s, name, namelen.s))
		return cport_win32_sock_fail();
	return 0;
}

static inline int cport_win32_getsockname(SOCKET s, struct sockaddr *name,
					  cport_win32_lenp namelen)
{
	if ((getsockname)((int)s, name, namelen.s))
		return cport_win32_sock_fail();
	return 0;
}

static inline int cport_win32_recvfrom(SOCKET s, void *buf, int len,
				       int flags, struct sockaddr *from,
				       cport_win32_lenp fromlen)
{
	ssize_t n = (recvfrom)((int)s, buf, len < 0 ? 0 : (size_t)len, flags,
			       from, fromlen.s);

	if (n < 0)
		return cport_win32_sock_fail();
	return (int)n;
}
#endif /* !__cplusplus */

static inline int cport_win32_setsockopt(SOCKET s, int level, int optname,
					 const void *optval, int optlen)
{
	if (level == SOL_SOCKET && (optname == SO_UPDATE_ACCEPT_CONTEXT ||
				    optname == SO_UPDATE_CONNECT_CONTEXT)) {
		int type;
		socklen_t tl = sizeof(type);

		/*
		 * Windows checks the socket, and that SO_UPDATE_ACCEPT_CONTEXT
		 * names the listening socket (SO_UPDATE_CONNECT_CONTEXT takes
		 * no value).
		 */
		if ((getsockopt)((int)s, SOL_SOCKET, SO_TYPE, &type, &tl))
			return cport_win32_sock_fail();
		if (optlen < 0 || (optname == SO_UPDATE_ACCEPT_CONTEXT &&
				   (!optval || optlen < (int)sizeof(SOCKET)))) {
			WSASetLastError(WSAEFAULT);
			return SOCKET_ERROR;
		}
		return 0;
	}
	if (optlen < 0) {
		WSASetLastError(WSAEFAULT);
		return SOCKET_ERROR;
	}
	if ((setsockopt)((int)s, level, optname, optval, (socklen_t)optlen))
		return cport_win32_sock_fail();
	return 0;
}

/*
 * ioctlsocket: FIONBIO (*argp non-zero: non-blocking) and FIONREAD (the
 * bytes readable at once, into *argp).  Others: WSAEINVAL.
 */
static inline int ioctlsocket(SOCKET s, long cmd, u_long *argp)
{
	int v;

	if (!argp) {
		WSASetLastError(WSAEFAULT);
		return SOCKET_ERROR;
	}
	switch (cmd) {
	case FIONBIO:
		v = *argp != 0;
		if (ioctl((int)s, FIONBIO, &v))
			return cport_win32_sock_fail();
		return 0;
	case FIONREAD:
		if (ioctl((int)s, FIONREAD, &v))
			return cport_win32_sock_fail();
		*argp = (u_long)v;
		return 0;
	}
	WSASetLastError(WSAEINVAL);
	return SOCKET_ERROR;
}

#if !defined(CPORT_WIN32_NO_SOCKET_MACROS)
#ifndef __cplusplus
#define accept(s, addr, addrlen) \
	cport_win32_accept((s), (addr), (addrlen))
#define getsockopt(s, level, optname, optval, optlen) \
	cport_win32_getsockopt((s), (level), (optname), (optval), (optlen))
#define getpeername(s, name, namelen) \
	cport_win32_getpeername((s), (name), (namelen))
#define getsockname(s, name, namelen) \
	cport_win32_getsockname((s), (name), (namelen))
#define recvfrom(s, buf, len, flags, from, fromlen) \
	cport_win32_recvfrom((s), (buf), (len), (flags), (from), (fromlen))
#endif
#define setsockopt(s, level, optname, optval, optlen) \
	cport_win32_setsockopt((s), (level), (optname), (optval), (optlen))
#endif

/* --- Critical sections, ticks, thread ids ------------------------------------ */

/*
 * A CRITICAL_SECTION is a recursive mutex, as on Windows (the owning
 * thread may enter it again and must leave it as often).  The spin count
 * is accepted and ignored (glibc's mutex spins adaptively on its own).
 */
typedef struct _CRITICAL_SECTION {
	pthread_mutex_t mutex;
} CRITICAL_SECTION, *LPCRITICAL_SECTION, *PCRITICAL_SECTION;

/* Both are exported (LIBCPORT_WIN32_1.4); the first returns TRUE. */
BOOL InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION cs, DWORD spin);
void InitializeCriticalSection(LPCRITICAL_SECTION cs);

static inline void EnterCriticalSection(LPCRITICAL_SECTION cs)
{
	pthread_mutex_lock(&cs->mutex);
}

/* TRUE if entered (also again by its owner), FALSE if another holds it. */
static inline BOOL TryEnterCriticalSection(LPCRITICAL_SECTION cs)
{
	return pthread_mutex_trylock(&cs->mutex) == 0;
}

static inline void LeaveCriticalSection(LPCRITICAL_SECTION cs)
{
	pthread_mutex_unlock(&cs->mutex);
}

static inline void DeleteCriticalSection(LPCRITICAL_SECTION cs)
{
	pthread_mutex_destroy(&cs->mutex);
}

/* Milliseconds since an arbitrary start (CLOCK_MONOTONIC); 32 bits wrap. */
ULONGLONG GetTickCount64(void);
DWORD GetTickCount(void);
/* The kernel's thread id (gettid(2)) and process id. */
DWORD GetCurrentThreadId(void);
DWORD GetCurrentProcessId(void);

/* The Interlocked calls, on LONG: the new value (Exchange*: the old). */
static inline LONG InterlockedIncrement(LONG volatile *Addend)
{
	return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}

static inline LONG InterlockedDecrement(LONG volatile *Addend)
{
	return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}

static inline LONG InterlockedExchangeAdd(LONG volatile *Addend, LONG Value)
{
	return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}

static inline LONG InterlockedExchange(LONG volatile *Target, LONG Value)
{
	return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}

#ifdef __cplusplus
}
#endif

#endif /* LIBCPORT_CPORT_WIN32_H */
