// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * win_echo: the classic Winsock completion-port echo server, ported to
 * Linux by swapping <winsock2.h>/<mswsock.h> for cport_win32.h and the
 * Windows-only calls for their Linux counterparts (CreateThread ->
 * pthread_create, GetSystemInfo -> sysconf, WSAStartup -> nothing).
 * The server code is otherwise what a Windows programmer writes:
 *
 *   - one port, CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
 *   - 2 x CPUs worker threads looping on GetQueuedCompletionStatus;
 *   - per-handle data (the socket) as the completion key, per-I/O data
 *     around the OVERLAPPED, found back with CONTAINING_RECORD;
 *   - AcceptEx on a socket made beforehand, a few outstanding;
 *   - per connection: a zero-byte WSARecv (pins no buffer while the
 *     connection is idle), then the real WSARecv; 0 bytes from it means
 *     the peer closed; otherwise WSASend the bytes back and, when the send
 *     completed, post the zero-byte WSARecv again;
 *   - shutdown by PostQueuedCompletionStatus(port, 0, 0, NULL), one per
 *     worker.
 *
 * It runs self-contained: a client thread opens several connections,
 * sends messages of varying sizes on all of them, checks every echo byte
 * for byte, closes the connections, waits for the server to see them
 * close, closes the listener (its pending AcceptEx calls complete with
 * ERROR_OPERATION_ABORTED) and posts the quit packets.  Then a summary.
 *
 * Usage: win_echo [-c CONNECTIONS] [-m MESSAGES] [-t THREADS]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cport_win32.h"

#define DATA_BUFSIZE	4096
#define NR_ACCEPTS	4
#define ADDR_SIZE	(sizeof(struct sockaddr_in) + 16)
#define MAX_MSG		6000	/* larger than one buffer: several recvs */
#define MAX_WORKERS	256

typedef struct _PER_HANDLE_DATA {
	SOCKET Socket;
	struct sockaddr_in ClientAddr;
} PER_HANDLE_DATA, *LPPER_HANDLE_DATA;

enum { IO_ACCEPT, IO_PROBE, IO_READ, IO_WRITE };

typedef struct _PER_IO_DATA {
	OVERLAPPED Overlapped;
	WSABUF DataBuf;
	CHAR Buffer[DATA_BUFSIZE];
	DWORD BytesSEND;
	DWORD BytesRECV;
	int Operation;
	SOCKET AcceptSocket;
	CHAR AddrBuf[2 * ADDR_SIZE];
} PER_IO_DATA, *LPPER_IO_DATA;

static HANDLE CompletionPort;
static SOCKET Listen;
static PER_HANDLE_DATA ListenData;
static int nr_workers;
static unsigned long handled[MAX_WORKERS];

/* Server counters. */
static int accepted, closed, aborted_accepts, accepts_out, errors;
static unsigned long long echoed_bytes;

static int opt_conns = 8, opt_msgs = 200;

#define INC(x)		__atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define DEC(x)		__atomic_fetch_sub(&(x), 1, __ATOMIC_RELAXED)
#define ADD(x, n)	__atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define GET(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)

static void report(const char *what, DWORD err)
{
	fprintf(stderr, "win_echo: %s failed with error %u\n", what, err);
}

static void die(const char *what)
{
	report(what, GetLastError());
	exit(1);
}

/* --- The server, as on Windows --------------------------------------------- */

static BOOL PostAccept(LPPER_IO_DATA io)
{
	DWORD bytes = 0;

	memset(&io->Overlapped, 0, sizeof(io->Overlapped));
	io->Operation = IO_ACCEPT;
	io->AcceptSocket = socket(AF_INET, SOCK_STREAM, 0);
	if (io->AcceptSocket == INVALID_SOCKET)
		return FALSE;
	INC(accepts_out);
	if (!AcceptEx(Listen, io->AcceptSocket, io->AddrBuf, 0, ADDR_SIZE,
		      ADDR_SIZE, &bytes, &io->Overlapped) &&
	    WSAGetLastError() != ERROR_IO_PENDING) {
		DEC(accepts_out);
		closesocket(io->AcceptSocket);
		return FALSE;
	}
	/* Done at once or pending: either way a packet comes. */
	return TRUE;
}

/* The zero-byte receive: completes when the peer sent something. */
static BOOL PostProbe(LPPER_HANDLE_DATA phd, LPPER_IO_DATA io)
{
	DWORD bytes, flags = 0;

	memset(&io->Overlapped, 0, sizeof(io->Overlapped));
	io->Operation = IO_PROBE;
	io->DataBuf.len = 0;
	io->DataBuf.buf = NULL;
	return WSARecv(phd->Socket, &io->DataBuf, 1, &bytes, &flags,
		       &io->Overlapped, NULL) != SOCKET_ERROR ||
	       WSAGetLastError() == WSA_IO_PENDING;
}

static BOOL PostRead(LPPER_HANDLE_DATA phd, LPPER_IO_DATA io)
{
	DWORD bytes, flags = 0;

	memset(&io->Overlapped, 0, sizeof(io->Overlapped));
	io->Operation = IO_READ;
	io->DataBuf.len = DATA_BUFSIZE;
	io->DataBuf.buf = io->Buffer;
	return WSARecv(phd->Socket, &io->DataBuf, 1, &bytes, &flags,
		       &io->Overlapped, NULL) != SOCKET_ERROR ||
	       WSAGetLastError() == WSA_IO_PENDING;
}

static BOOL PostWrite(LPPER_HANDLE_DATA phd, LPPER_IO_DATA io)
{
	DWORD bytes;

	memset(&io->Overlapped, 0, sizeof(io->Overlapped));
	io->Operation = IO_WRITE;
	io->DataBuf.buf = io->Buffer + io->BytesSEND;
	io->DataBuf.len = io->BytesRECV - io->BytesSEND;
	return WSASend(phd->Socket, &io->DataBuf, 1, &bytes, 0,
		       &io->Overlapped, NULL) != SOCKET_ERROR ||
	       WSAGetLastError() == WSA_IO_PENDING;
}

static void CloseConnection(LPPER_HANDLE_DATA phd, LPPER_IO_DATA io)
{
	closesocket(phd->Socket);
	free(phd);
	free(io);
	INC(closed);
}

static void OnAccept(LPPER_IO_DATA io)
{
	struct sockaddr *local, *remote;
	int llen, rlen;
	LPPER_HANDLE_DATA phd;
	LPPER_IO_DATA conn_io;

	INC(accepted);
	phd = calloc(1, sizeof(*phd));
	conn_io = calloc(1, sizeof(*conn_io));
	if (!phd || !conn_io) {
		INC(errors);
		closesocket(io->AcceptSocket);
		free(phd);
		free(conn_io);
		goto rearm;
	}
	phd->Socket = io->AcceptSocket;
	GetAcceptExSockaddrs(io->AddrBuf, 0, ADDR_SIZE, ADDR_SIZE, &local,
			     &llen, &remote, &rlen);
	if (rlen == sizeof(phd->ClientAddr))
		memcpy(&phd->ClientAddr, remote, rlen);
	if (CreateIoCompletionPort((HANDLE)phd->Socket, CompletionPort,
				   (ULONG_PTR)phd, 0) == NULL) {
		report("CreateIoCompletionPort (associate)", GetLastError());
		INC(errors);
		CloseConnection(phd, conn_io);
		goto rearm;
	}
	if (!PostProbe(phd, conn_io)) {
		report("WSARecv", WSAGetLastError());
		INC(errors);
		CloseConnection(phd, conn_io);
	}
rearm:
	if (!PostAccept(io))
		free(io);
}

static void *ServerWorkerThread(void *arg)
{
	unsigned long *count = arg;

	for (;;) {
		DWORD BytesTransferred;
		ULONG_PTR key;
		LPOVERLAPPED ov;
		LPPER_HANDLE_DATA phd;
		LPPER_IO_DATA io;
		BOOL ok = GetQueuedCompletionStatus(CompletionPort,
						    &BytesTransferred, &key,
						    &ov, INFINITE);

		if (!ok && ov == NULL) {	/* nothing dequeued */
			report("GetQueuedCompletionStatus", GetLastError());
			break;
		}
		if (ok && key == 0 && ov == NULL)
			break;			/* the quit packet */
		++*count;
		phd = (LPPER_HANDLE_DATA)key;
		io = CONTAINING_RECORD(ov, PER_IO_DATA, Overlapped);

		if (io->Operation == IO_ACCEPT) {
			DEC(accepts_out);
			if (!ok) {		/* the listener was closed */
				INC(aborted_accepts);
				closesocket(io->AcceptSocket);
				free(io);
				continue;
			}
			OnAccept(io);
			continue;
		}
		if (!ok) {			/* a failed I/O: drop it */
			INC(errors);
			CloseConnection(phd, io);
			continue;
		}
		switch (io->Operation) {
		case IO_PROBE:			/* readable, or EOF */
			if (!PostRead(phd, io))
				CloseConnection(phd, io);
			break;
		case IO_READ:
			if (BytesTransferred == 0) {	/* the peer closed */
				CloseConnection(phd, io);
				break;
			}
			io->BytesRECV = BytesTransferred;
			io->BytesSEND = 0;
			if (!PostWrite(phd, io))
				CloseConnection(phd, io);
			break;
		case IO_WRITE:
			io->BytesSEND += BytesTransferred;
			ADD(echoed_bytes, BytesTransferred);
			if (io->BytesSEND < io->BytesRECV) {
				if (!PostWrite(phd, io))
					CloseConnection(phd, io);
			} else if (!PostProbe(phd, io)) {
				CloseConnection(phd, io);
			}
			break;
		}
	}
	return NULL;
}

/* --- The client: connections, messages, checks, shutdown ------------------- */

static unsigned char msg_byte(int conn, int msg, int i)
{
	return (unsigned char)(conn * 131 + msg * 31 + i * 7 + (i >> 8));
}

static int msg_len(int conn, int msg)
{
	return 1 + (conn * 977 + msg * 1499) % MAX_MSG;
}

static int read_all(int fd, unsigned char *p, int len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_all(int fd, const unsigned char *p, int len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static unsigned long long client_bytes, verified;
static int client_failed;

static void *ClientThread(void *arg)
{
	struct sockaddr_in *addr = arg;
	static unsigned char buf[MAX_MSG], back[MAX_MSG];
	int *fds = calloc(opt_conns, sizeof(int));
	int c, m, i, q;

	for (c = 0; c < opt_conns; c++)
		fds[c] = -1;
	for (c = 0; c < opt_conns; c++) {
		fds[c] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[c] < 0 || connect(fds[c], (struct sockaddr *)addr,
					  sizeof(*addr))) {
			perror("client: connect");
			client_failed = 1;
			goto out;
		}
	}
	for (m = 0; m < opt_msgs; m++) {
		/* One message on every connection, then every echo. */
		for (c = 0; c < opt_conns; c++) {
			int len = msg_len(c, m);

			for (i = 0; i < len; i++)
				buf[i] = msg_byte(c, m, i);
			if (write_all(fds[c], buf, len)) {
				perror("client: send");
				client_failed = 1;
				goto out;
			}
		}
		for (c = 0; c < opt_conns; c++) {
			int len = msg_len(c, m);

			if (read_all(fds[c], back, len)) {
				fprintf(stderr, "client: conn %d msg %d: "
					"short echo\n", c, m);
				client_failed = 1;
				goto out;
			}
			for (i = 0; i < len; i++)
				if (back[i] != msg_byte(c, m, i)) {
					fprintf(stderr, "client: conn %d msg "
						"%d: byte %d differs\n",
						c, m, i);
					client_failed = 1;
					goto out;
				}
			client_bytes += len;
			verified++;
		}
	}
out:
	for (c = 0; c < opt_conns; c++)
		if (fds[c] >= 0)
			close(fds[c]);
	free(fds);
	/* Let the server see every connection close (a 0-byte WSARecv). */
	for (i = 0; i < 20000 && GET(closed) < GET(accepted); i++)
		usleep(1000);
	/* Close the listener: the pending AcceptEx calls are aborted. */
	closesocket(Listen);
	for (i = 0; i < 20000 && GET(accepts_out) > 0; i++)
		usleep(1000);
	/* Then one quit packet per worker. */
	for (q = 0; q < nr_workers; q++)
		if (!PostQueuedCompletionStatus(CompletionPort, 0, 0, NULL))
			die("PostQueuedCompletionStatus");
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t workers[MAX_WORKERS], client;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	unsigned long total = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int i, opt;

	nr_workers = 2 * (int)(cpus > 0 ? cpus : 1);
	while ((opt = getopt(argc, argv, "c:m:t:")) != -1) {
		switch (opt) {
		case 'c':
			opt_conns = atoi(optarg);
			break;
		case 'm':
			opt_msgs = atoi(optarg);
			break;
		case 't':
			nr_workers = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: win_echo [-c CONNECTIONS] "
				"[-m MESSAGES] [-t THREADS]\n");
			return 2;
		}
	}
	if (opt_conns < 1 || opt_msgs < 0 || nr_workers < 1 ||
	    nr_workers > MAX_WORKERS) {
		fprintf(stderr, "win_echo: bad arguments\n");
		return 2;
	}

	/* The port: as many running threads as CPUs. */
	CompletionPort = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0,
						0);
	if (CompletionPort == NULL)
		die("CreateIoCompletionPort");

	for (i = 0; i < nr_workers; i++)
		if (pthread_create(&workers[i], NULL, ServerWorkerThread,
				   &handled[i])) {
			perror("pthread_create");
			return 1;
		}

	Listen = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (Listen == INVALID_SOCKET ||
	    bind(Listen, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(Listen, SOMAXCONN) ||
	    getsockname(Listen, (struct sockaddr *)&addr, &len)) {
		perror("win_echo: listen");
		return 1;
	}
	ListenData.Socket = Listen;
	if (CreateIoCompletionPort((HANDLE)Listen, CompletionPort,
				   (ULONG_PTR)&ListenData, 0) == NULL)
		die("CreateIoCompletionPort (listener)");
	for (i = 0; i < NR_ACCEPTS; i++) {
		LPPER_IO_DATA io = calloc(1, sizeof(*io));

		if (!io || !PostAccept(io))
			die("AcceptEx");
	}
	printf("win_echo: one port (concurrency = %ld CPUs), %d worker "
	       "threads, listening on 127.0.0.1:%d, %d AcceptEx pending\n",
	       cpus, nr_workers, ntohs(addr.sin_port), NR_ACCEPTS);

	if (pthread_create(&client, NULL, ClientThread, &addr)) {
		perror("pthread_create");
		return 1;
	}
	pthread_join(client, NULL);
	for (i = 0; i < nr_workers; i++)
		pthread_join(workers[i], NULL);

	printf("client: %d connections x %d messages: %llu echoes verified, "
	       "%llu bytes\n", opt_conns, opt_msgs, verified, client_bytes);
	printf("server: %d accepted, %d closed on a 0-byte WSARecv, %llu bytes "
	       "echoed, %d AcceptEx aborted at shutdown, %d errors\n",
	       accepted, closed, echoed_bytes, aborted_accepts, errors);
	printf("server: completions per worker:");
	for (i = 0; i < nr_workers; i++) {
		printf(" %lu", handled[i]);
		total += handled[i];
	}
	printf(" (total %lu)\n", total);
	printf("shutdown: %d quit packets (PostQueuedCompletionStatus), "
	       "workers joined\n", nr_workers);
	if (!CloseHandle(CompletionPort))
		die("CloseHandle");

	if (client_failed || errors || accepted != opt_conns ||
	    closed != opt_conns ||
	    verified != (unsigned long long)opt_conns * opt_msgs ||
	    echoed_bytes != client_bytes) {
		printf("win_echo: FAILED\n");
		return 1;
	}
	printf("win_echo: OK\n");
	return 0;
}
