// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * win_proxy: a TCP proxy written the way Windows servers are, for this
 * repository.
 *
 *   - one completion port, worker threads looping on
 *     GetQueuedCompletionStatus;
 *   - the extension functions obtained the Windows way, with
 *     WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER): AcceptEx, ConnectEx,
 *     TransmitFile, DisconnectEx, GetAcceptExSockaddrs;
 *   - AcceptEx posted several times on the listening socket, into
 *     sockets made beforehand;
 *   - each accepted client gets an upstream socket, bound and connected
 *     with ConnectEx;
 *   - then TransmitFile sends the client a banner file, and WSARecv /
 *     WSASend relay both ways, one buffer per direction;
 *   - when one side ends its stream, DisconnectEx passes the end on to
 *     the other side; when both ways are done, the connection is closed.
 *
 * Everything below the #include lines is Windows code, but for
 * OpenBanner(), whose open(2) is CreateFileA on Windows (marked).  On
 * Linux it links with -lcport-win32 -lcport.
 *
 * Usage: win_proxy LISTEN_PORT UPSTREAM_PORT [BANNER_FILE [CONNECTIONS]]
 *   Accept on LISTEN_PORT (any address), relay each connection to
 *   127.0.0.1:UPSTREAM_PORT, after sending the client BANNER_FILE ("-"
 *   for none).  With CONNECTIONS, stop once that many connections are
 *   over: close the listener, let the workers go, close everything.
 */
#include <cport_win32.h>	/* Windows: #include <winsock2.h> */
				/* Windows: #include <mswsock.h> */
#include <fcntl.h>		/* Windows: #include <windows.h> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS		4
#define ACCEPTS		4
#define BUFSIZE		65536
#define ADDRLEN		(sizeof(struct sockaddr_storage) + 16)

enum { IO_ACCEPT, IO_CONNECT, IO_BANNER, IO_RECV, IO_SEND, IO_DISCONNECT };

typedef struct _CONNECTION CONNECTION;

/* What each OVERLAPPED is part of: the OVERLAPPED first. */
typedef struct _PER_IO {
	OVERLAPPED Overlapped;
	int Kind;
	int Dir;		/* 0: client to upstream, 1: the other way */
	CONNECTION *Conn;
} PER_IO;

typedef struct _RELAY {
	PER_IO Io;
	WSABUF Buf;
	DWORD Len;		/* bytes in Data */
	DWORD Off;		/* of which sent */
	CHAR Data[BUFSIZE];
} RELAY;

struct _CONNECTION {
	SOCKET Client;
	SOCKET Upstream;
	volatile LONG Refs;	/* I/O in flight, + 1 while set up */
	volatile LONG Closed;
	volatile LONG Ended;	/* directions passed on with DisconnectEx */
	PER_IO Connect;
	PER_IO Banner;
	PER_IO Disconnect[2];
	RELAY Relay[2];
};

typedef struct _ACCEPT_SLOT {
	PER_IO Io;
	SOCKET Socket;
	CHAR Addresses[2 * ADDRLEN];
} ACCEPT_SLOT;

static HANDLE Port;
static SOCKET Listener;
static HANDLE Banner;
static struct sockaddr_in UpstreamAddr;
static LPFN_ACCEPTEX pAcceptEx;
static LPFN_CONNECTEX pConnectEx;
static LPFN_TRANSMITFILE pTransmitFile;
static LPFN_DISCONNECTEX pDisconnectEx;
static LPFN_GETACCEPTEXSOCKADDRS pGetAcceptExSockaddrs;
static volatile LONG Stopping;
static volatile LONG AcceptsOut;	/* AcceptEx calls pending */
static volatile LONG Accepted;
static volatile LONG Finished;		/* connections over */
static LONG Limit;			/* 0: serve for ever */
static ACCEPT_SLOT Slots[ACCEPTS];

static HANDLE OpenBanner(const char *path)
{
	/* Windows: CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL,
	 *                      OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN, NULL) */
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? INVALID_HANDLE_VALUE : (HANDLE)(INT_PTR)fd;
}

static BOOL GetExtension(SOCKET s, GUID guid, void *fn, DWORD size)
{
	DWORD bytes = 0;

	return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid,
			sizeof(guid), fn, size, &bytes, NULL, NULL) == 0;
}

/* Both sockets closed: the I/O still pending on them is aborted. */
static void CloseConnection(CONNECTION *c)
{
	if (InterlockedExchange(&c->Closed, 1) == 0) {
		closesocket(c->Client);
		closesocket(c->Upstream);
	}
}

/* An I/O of c is over (or its set-up): the last one frees it. */
static void Release(CONNECTION *c)
{
	if (InterlockedDecrement(&c->Refs) == 0) {
		CloseConnection(c);
		free(c);
		InterlockedIncrement(&Finished);
	}
}

/* An I/O call's return: TRUE if a packet will come for it. */
static BOOL Started(BOOL ok, CONNECTION *c)
{
	if (ok || WSAGetLastError() == WSA_IO_PENDING)
		return TRUE;
	CloseConnection(c);
	Release(c);		/* the reference taken for it */
	return FALSE;
}

static void PostRecv(CONNECTION *c, int dir)
{
	RELAY *r = &c->Relay[dir];
	DWORD flags = 0;

	r->Io.Kind = IO_RECV;
	r->Buf.buf = r->Data;
	r->Buf.len = BUFSIZE;
	memset(&r->Io.Overlapped, 0, sizeof(r->Io.Overlapped));
	InterlockedIncrement(&c->Refs);
	Started(WSARecv(dir ? c->Upstream : c->Client, &r->Buf, 1, NULL,
			&flags, &r->Io.Overlapped, NULL) == 0, c);
}

static void PostSend(CONNECTION *c, int dir)
{
	RELAY *r = &c->Relay[dir];

	r->Io.Kind = IO_SEND;
	r->Buf.buf = r->Data + r->Off;
	r->Buf.len = r->Len - r->Off;
	memset(&r->Io.Overlapped, 0, sizeof(r->Io.Overlapped));
	InterlockedIncrement(&c->Refs);
	Started(WSASend(dir ? c->Client : c->Upstream, &r->Buf, 1, NULL, 0,
			&r->Io.Overlapped, NULL) == 0, c);
}

/* Put a fresh socket under AcceptEx in slot. */
static void PostAccept(ACCEPT_SLOT *slot)
{
	DWORD bytes = 0;

	if (Stopping || (Limit && InterlockedIncrement(&Accepted) > Limit))
		return;
	slot->Socket = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
				 WSA_FLAG_OVERLAPPED);
	if (slot->Socket == INVALID_SOCKET)
		return;
	memset(&slot->Io.Overlapped, 0, sizeof(slot->Io.Overlapped));
	slot->Io.Kind = IO_ACCEPT;
	InterlockedIncrement(&AcceptsOut);
	if (!pAcceptEx(Listener, slot->Socket, slot->Addresses, 0, ADDRLEN,
		       ADDRLEN, &bytes, &slot->Io.Overlapped) &&
	    WSAGetLastError() != WSA_IO_PENDING) {
		closesocket(slot->Socket);
		InterlockedDecrement(&AcceptsOut);
	}
}

/* A client came: make its upstream socket and connect it. */
static void OnAccept(ACCEPT_SLOT *slot, DWORD err)
{
	struct sockaddr *local, *remote;
	int llen, rlen;
	struct sockaddr_in any = { 0 };
	CONNECTION *c;

	if (err) {
		closesocket(slot->Socket);
		goto next;
	}
	pGetAcceptExSockaddrs(slot->Addresses, 0, ADDRLEN, ADDRLEN, &local,
			      &llen, &remote, &rlen);
	c = calloc(1, sizeof(*c));
	if (!c) {
		closesocket(slot->Socket);
		goto next;
	}
	c->Client = slot->Socket;
	c->Refs = 1;
	c->Upstream = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
				WSA_FLAG_OVERLAPPED);
	any.sin_family = AF_INET;
	if (c->Upstream == INVALID_SOCKET ||
	    bind(c->Upstream, (struct sockaddr *)&any, sizeof(any)) ||
	    !CreateIoCompletionPort((HANDLE)c->Client, Port, (ULONG_PTR)c, 0) ||
	    !CreateIoCompletionPort((HANDLE)c->Upstream, Port, (ULONG_PTR)c,
				    0)) {
		if (c->Upstream == INVALID_SOCKET)
			c->Upstream = c->Client;	/* closed once */
		Release(c);
		goto next;
	}
	c->Connect.Kind = IO_CONNECT;
	c->Connect.Conn = c;
	InterlockedIncrement(&c->Refs);
	Started(pConnectEx(c->Upstream, (struct sockaddr *)&UpstreamAddr,
			   sizeof(UpstreamAddr), NULL, 0, NULL,
			   &c->Connect.Overlapped), c);
	Release(c);		/* the set-up's reference */
next:
	InterlockedDecrement(&AcceptsOut);
	PostAccept(slot);
}

/* Connected upstream: the banner to the client, then relay both ways. */
static void OnConnect(CONNECTION *c)
{
	int dir;

	if (Banner != INVALID_HANDLE_VALUE) {
		/* The whole file, from offset 0 (Offset, OffsetHigh). */
		memset(&c->Banner.Overlapped, 0, sizeof(c->Banner.Overlapped));
		c->Banner.Kind = IO_BANNER;
		c->Banner.Conn = c;
		InterlockedIncrement(&c->Refs);
		if (!Started(pTransmitFile(c->Client, Banner, 0, 0,
					   &c->Banner.Overlapped, NULL, 0), c))
			return;
	}
	for (dir = 0; dir < 2; dir++) {
		c->Relay[dir].Io.Conn = c;
		c->Relay[dir].Io.Dir = dir;
		PostRecv(c, dir);
	}
}

/* One side ended its stream: end the other side's too. */
static void OnEnd(CONNECTION *c, int dir)
{
	PER_IO *d = &c->Disconnect[dir];

	memset(&d->Overlapped, 0, sizeof(d->Overlapped));
	d->Kind = IO_DISCONNECT;
	d->Dir = dir;
	d->Conn = c;
	InterlockedIncrement(&c->Refs);
	Started(pDisconnectEx(dir ? c->Client : c->Upstream, &d->Overlapped,
			      0, 0), c);
}

static DWORD WINAPI Worker(LPVOID param)
{
	for (;;) {
		LPOVERLAPPED ov = NULL;
		ULONG_PTR key = 0;
		DWORD bytes = 0, err = 0;
		CONNECTION *c;
		PER_IO *io;

		if (!GetQueuedCompletionStatus(Port, &bytes, &key, &ov,
					       INFINITE))
			err = GetLastError();
		if (!ov)
			break;		/* a quit packet, or the port is gone */
		io = (PER_IO *)ov;
		if (io->Kind == IO_ACCEPT) {
			OnAccept((ACCEPT_SLOT *)io, err);
			continue;
		}
		c = io->Conn;
		if (err) {
			CloseConnection(c);
		} else if (io->Kind == IO_CONNECT) {
			OnConnect(c);
		} else if (io->Kind == IO_RECV) {
			if (bytes == 0) {
				OnEnd(c, io->Dir);
			} else {
				c->Relay[io->Dir].Len = bytes;
				c->Relay[io->Dir].Off = 0;
				PostSend(c, io->Dir);
			}
		} else if (io->Kind == IO_SEND) {
			RELAY *r = &c->Relay[io->Dir];

			r->Off += bytes;
			if (r->Off < r->Len)
				PostSend(c, io->Dir);
			else
				PostRecv(c, io->Dir);
		} else if (io->Kind == IO_DISCONNECT) {
			if (InterlockedIncrement(&c->Ended) == 2)
				CloseConnection(c);
		}
		/* IO_BANNER: sent; nothing follows from it. */
		Release(c);
	}
	return 0;
}

int main(int argc, char **argv)
{
	GUID acceptex = WSAID_ACCEPTEX, connectex = WSAID_CONNECTEX,
	     transmitfile = WSAID_TRANSMITFILE,
	     disconnectex = WSAID_DISCONNECTEX,
	     sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
	HANDLE workers[WORKERS];
	struct sockaddr_in addr = { 0 };
	WSADATA wsa;
	int i, ret = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: %s LISTEN_PORT UPSTREAM_PORT "
			"[BANNER_FILE [CONNECTIONS]]\n", argv[0]);
		return 2;
	}
	Banner = INVALID_HANDLE_VALUE;
	if (argc > 3 && strcmp(argv[3], "-")) {
		Banner = OpenBanner(argv[3]);
		if (Banner == INVALID_HANDLE_VALUE) {
			fprintf(stderr, "%s: cannot open\n", argv[3]);
			return 1;
		}
	}
	if (argc > 4)
		Limit = atoi(argv[4]);
	if (WSAStartup(MAKEWORD(2, 2), &wsa))
		return 1;
	UpstreamAddr.sin_family = AF_INET;
	UpstreamAddr.sin_port = htons((unsigned short)atoi(argv[2]));
	UpstreamAddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	Port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	if (!Port) {
		fprintf(stderr, "CreateIoCompletionPort: error %u\n",
			(unsigned int)GetLastError());
		goto out_cleanup;
	}
	Listener = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
			     WSA_FLAG_OVERLAPPED);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	if (Listener == INVALID_SOCKET ||
	    bind(Listener, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(Listener, SOMAXCONN) ||
	    !CreateIoCompletionPort((HANDLE)Listener, Port, 0, 0) ||
	    !GetExtension(Listener, acceptex, &pAcceptEx, sizeof(pAcceptEx)) ||
	    !GetExtension(Listener, connectex, &pConnectEx,
			  sizeof(pConnectEx)) ||
	    !GetExtension(Listener, transmitfile, &pTransmitFile,
			  sizeof(pTransmitFile)) ||
	    !GetExtension(Listener, disconnectex, &pDisconnectEx,
			  sizeof(pDisconnectEx)) ||
	    !GetExtension(Listener, sockaddrs, &pGetAcceptExSockaddrs,
			  sizeof(pGetAcceptExSockaddrs))) {
		fprintf(stderr, "listen: error %d\n", WSAGetLastError());
		goto out_port;
	}
	for (i = 0; i < WORKERS; i++) {
		workers[i] = CreateThread(NULL, 0, Worker, NULL, 0, NULL);
		if (!workers[i]) {
			fprintf(stderr, "CreateThread: error %u\n",
				(unsigned int)GetLastError());
			return 1;
		}
	}
	for (i = 0; i < ACCEPTS; i++)
		PostAccept(&Slots[i]);

	if (!Limit)
		for (;;)
			Sleep(INFINITE);
	while (Finished < Limit)
		Sleep(10);
	/* Stop accepting: the AcceptEx calls still out are aborted. */
	Stopping = 1;
	closesocket(Listener);
	Listener = INVALID_SOCKET;
	while (AcceptsOut)
		Sleep(10);
	for (i = 0; i < WORKERS; i++)
		PostQueuedCompletionStatus(Port, 0, 0, NULL);
	WaitForMultipleObjects(WORKERS, workers, TRUE, INFINITE);
	for (i = 0; i < WORKERS; i++)
		CloseHandle(workers[i]);
	ret = 0;
out_port:
	if (Listener != INVALID_SOCKET)
		closesocket(Listener);
	CloseHandle(Port);
out_cleanup:
	if (Banner != INVALID_HANDLE_VALUE)
		CloseHandle(Banner);
	WSACleanup();
	return ret;
}
