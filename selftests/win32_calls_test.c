// SPDX-License-Identifier: GPL-2.0
/*
 * The calls a Winsock server makes besides the port and the sockets
 * (cport_win32.h, LIBCPORT_WIN32_1.1), one by one: WSAStartup, WSASocket,
 * GetSystemInfo, CreateThread/_beginthreadex with WaitForSingleObject,
 * WaitForMultipleObjects, GetExitCodeThread and CloseHandle, GlobalAlloc,
 * Sleep; the socket calls with Winsock's types and options, ioctlsocket,
 * critical sections, GetTickCount and the thread and process ids;
 * WSARecvFrom and WSASendTo on a UDP WSASocket (LIBCPORT_WIN32_1.4).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <netinet/tcp.h>

#include "sock_util.h"
#include "kselftest_harness.h"
#include "cport_win32.h"

static volatile LONG go, finished;

static DWORD WINAPI waiting_thread(LPVOID param)
{
	while (!InterlockedExchangeAdd(&go, 0))
		Sleep(1);
	InterlockedIncrement(&finished);
	return (DWORD)(uintptr_t)param;
}

static unsigned int WINAPI crt_thread(void *param)
{
	(void)param;
	InterlockedIncrement(&finished);
	return 7;
}

TEST(threads_and_waits)
{
	HANDLE h[3], port;
	DWORD id[2] = { 0 }, code = 0;
	unsigned int crt_id = 0;

	go = 0;
	finished = 0;
	h[0] = CreateThread(NULL, 0, waiting_thread, (LPVOID)(uintptr_t)40,
			    0, &id[0]);
	ASSERT_NE(NULL, h[0]);
	h[1] = CreateThread(NULL, 65536, waiting_thread, (LPVOID)(uintptr_t)41,
			    0, &id[1]);
	ASSERT_NE(NULL, h[1]);
	EXPECT_NE(id[0], id[1]);
	h[2] = (HANDLE)_beginthreadex(NULL, 0, crt_thread, NULL, 0, &crt_id);
	ASSERT_NE(NULL, h[2]);

	/* Running: not signalled. */
	EXPECT_EQ(WAIT_TIMEOUT, WaitForSingleObject(h[0], 0));
	EXPECT_EQ(WAIT_TIMEOUT, WaitForSingleObject(h[1], 20));
	EXPECT_EQ(WAIT_TIMEOUT, WaitForMultipleObjects(2, h, TRUE, 20));
	EXPECT_TRUE(GetExitCodeThread(h[0], &code));
	EXPECT_EQ(STILL_ACTIVE, code);
	/* One of them is: the CRT thread ends at once. */
	EXPECT_EQ(WAIT_OBJECT_0 + 2, WaitForMultipleObjects(3, h, FALSE,
							    INFINITE));
	EXPECT_TRUE(GetExitCodeThread(h[2], &code));
	EXPECT_EQ(7, code);

	InterlockedExchange(&go, 1);
	EXPECT_EQ(WAIT_OBJECT_0, WaitForMultipleObjects(3, h, TRUE, INFINITE));
	/* Signalled for good. */
	EXPECT_EQ(WAIT_OBJECT_0, WaitForSingleObject(h[1], INFINITE));
	EXPECT_EQ(WAIT_OBJECT_0, WaitForMultipleObjects(3, h, FALSE, 0));
	EXPECT_TRUE(GetExitCodeThread(h[0], &code));
	EXPECT_EQ(40, code);
	EXPECT_TRUE(GetExitCodeThread(h[1], &code));
	EXPECT_EQ(41, code);
	EXPECT_EQ(3, finished);
	EXPECT_TRUE(CloseHandle(h[0]));
	EXPECT_TRUE(CloseHandle(h[1]));
	EXPECT_TRUE(CloseHandle(h[2]));

	/* A handle closed while its thread runs: the thread runs on. */
	go = 0;
	h[0] = CreateThread(NULL, 0, waiting_thread, NULL, 0, NULL);
	ASSERT_NE(NULL, h[0]);
	EXPECT_TRUE(CloseHandle(h[0]));
	InterlockedExchange(&go, 1);
	ASSERT_TRUE(wait_until(InterlockedExchangeAdd(&finished, 0) == 4,
			       PROGRESS_MS));

	/* What cannot be waited on, or done. */
	port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	ASSERT_NE(NULL, port);
	EXPECT_EQ(WAIT_FAILED, WaitForSingleObject(port, 0));
	EXPECT_EQ(ERROR_INVALID_HANDLE, GetLastError());
	EXPECT_TRUE(CloseHandle(port));
	EXPECT_EQ(WAIT_FAILED, WaitForMultipleObjects(0, h, TRUE, 0));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
	EXPECT_EQ(NULL, CreateThread(NULL, 0, waiting_thread, NULL,
				     CREATE_SUSPENDED, NULL));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());
}

TEST(startup_sockets_memory_sleep)
{
	WSADATA wsa;
	SYSTEM_INFO si;
	SOCKET s;
	HANDLE port;
	char *p;
	long long start;
	int i;

	memset(&wsa, 0xa5, sizeof(wsa));
	ASSERT_EQ(0, WSAStartup(MAKEWORD(2, 2), &wsa));
	EXPECT_EQ(0x0202, wsa.wVersion);
	EXPECT_EQ(0x0202, wsa.wHighVersion);
	EXPECT_EQ(0, WSAStartup(MAKEWORD(1, 1), &wsa));
	EXPECT_EQ(0x0101, wsa.wVersion);
	EXPECT_EQ(WSAVERNOTSUPPORTED, WSAStartup(MAKEWORD(0, 9), &wsa));
	EXPECT_EQ(0, WSACleanup());
	EXPECT_EQ(0x0202, MAKEWORD(2, 2));

	GetSystemInfo(&si);
	EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), si.dwNumberOfProcessors);
	EXPECT_EQ(sysconf(_SC_PAGESIZE), si.dwPageSize);

	/* A WSASocket can be associated and used as any socket. */
	s = WSASocket(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_OVERLAPPED);
	ASSERT_NE(INVALID_SOCKET, s);
	port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	ASSERT_NE(NULL, port);
	EXPECT_EQ(port, CreateIoCompletionPort((HANDLE)s, port, 1, 0));
	EXPECT_EQ(0, closesocket(s));
	EXPECT_TRUE(CloseHandle(port));
	EXPECT_EQ(INVALID_SOCKET, WSASocket(AF_INET, SOCK_STREAM, 0, NULL, 0,
					    0x40));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	p = GlobalAlloc(GPTR, 4096);
	ASSERT_NE(NULL, p);
	for (i = 0; i < 4096; i++)
		ASSERT_EQ(0, p[i]);
	ZeroMemory(p, 16);
	EXPECT_EQ(NULL, GlobalFree(p));
	p = GlobalAlloc(GMEM_FIXED, 16);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(NULL, GlobalFree(p));
	EXPECT_EQ(NULL, GlobalAlloc(0x0002 /* GMEM_MOVEABLE */, 16));
	EXPECT_EQ(ERROR_INVALID_PARAMETER, GetLastError());

	start = now_ns();
	Sleep(20);
	EXPECT_LE(20 * NSEC_PER_MSEC, now_ns() - start);
}

/* The Winsock spellings: int lengths, SO_UPDATE_*_CONTEXT, ioctlsocket. */
TEST(winsock_spelling)
{
	SOCKADDR_IN addr = { .sin_family = AF_INET }, peer, self;
	int len = sizeof(addr), plen, v, vlen;
	SOCKET l, c, a, bad;
	u_long arg;
	char buf[16];
	int pfd[2];

	l = WSASocket(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_OVERLAPPED);
	ASSERT_NE(INVALID_SOCKET, l);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(0, bind(l, (PSOCKADDR)&addr, sizeof(addr)));
	ASSERT_EQ(0, listen(l, SOMAXCONN));
	ASSERT_EQ(0, getsockname(l, (PSOCKADDR)&addr, &len));
	EXPECT_EQ(sizeof(addr), len);
	EXPECT_NE(0, addr.sin_port);

	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_NE(INVALID_SOCKET, c);
	ASSERT_EQ(0, connect(c, (PSOCKADDR)&addr, sizeof(addr)));
	/* As ConnectEx's documentation has it: no value. */
	EXPECT_EQ(0, setsockopt(c, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT,
				NULL, 0));

	plen = sizeof(peer);
	a = accept(l, (PSOCKADDR)&peer, &plen);
	ASSERT_NE(INVALID_SOCKET, a);
	EXPECT_EQ(sizeof(peer), plen);
	EXPECT_EQ(htonl(INADDR_LOOPBACK), peer.sin_addr.s_addr);
	/* What Windows code does after accept(): a no-op here, accepted. */
	EXPECT_EQ(0, setsockopt(a, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
				(char *)&l, sizeof(l)));
	EXPECT_EQ(SOCKET_ERROR, setsockopt(a, SOL_SOCKET,
					   SO_UPDATE_ACCEPT_CONTEXT, NULL, 0));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	plen = sizeof(self);
	ASSERT_EQ(0, getpeername(c, (PSOCKADDR)&self, &plen));
	EXPECT_EQ(addr.sin_port, self.sin_port);

	/* An ordinary option passes through; a bad one sets the error. */
	v = 1;
	EXPECT_EQ(0, setsockopt(a, IPPROTO_TCP, TCP_NODELAY, (char *)&v,
				sizeof(v)));
	v = 0;
	vlen = sizeof(v);
	EXPECT_EQ(0, getsockopt(a, IPPROTO_TCP, TCP_NODELAY, (char *)&v,
				&vlen));
	EXPECT_EQ(1, v);
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, setsockopt(a, SOL_SOCKET, 0x7fff, (char *)&v,
					   sizeof(v)));
	EXPECT_EQ(WSAENOPROTOOPT, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, setsockopt(a, SOL_SOCKET, SO_REUSEADDR,
					   (char *)&v, -1));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());

	/* ioctlsocket: non-blocking, then the bytes waiting. */
	arg = 1;
	ASSERT_EQ(0, ioctlsocket(a, FIONBIO, &arg));
	EXPECT_EQ(-1, recv(a, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(5, send(c, "hello", 5, 0));
	arg = 0;
	for (v = 0; v < 1000 && !arg; v++) {
		ASSERT_EQ(0, ioctlsocket(a, FIONREAD, &arg));
		if (!arg)
			usleep(1000);
	}
	EXPECT_EQ(5, arg);
	plen = sizeof(peer);
	EXPECT_EQ(5, recvfrom(a, buf, sizeof(buf), 0, (PSOCKADDR)&peer,
			      &plen));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(SOCKET_ERROR, recvfrom(a, buf, sizeof(buf), 0, NULL, NULL));
	EXPECT_EQ(WSAEWOULDBLOCK, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(a, 0x4004667f, &arg));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(a, FIONBIO, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_EQ(0, shutdown(c, SD_SEND));
	arg = 0;
	ASSERT_EQ(0, ioctlsocket(a, FIONBIO, &arg));
	EXPECT_EQ(0, recv(a, buf, sizeof(buf), 0));

	/* Not a socket: WSAENOTSOCK, also for the context options. */
	ASSERT_EQ(0, pipe(pfd));
	bad = (SOCKET)pfd[0];
	EXPECT_EQ(SOCKET_ERROR, setsockopt(bad, SOL_SOCKET,
					   SO_UPDATE_ACCEPT_CONTEXT,
					   (char *)&l, sizeof(l)));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	plen = sizeof(peer);
	EXPECT_EQ(INVALID_SOCKET, accept(bad, (PSOCKADDR)&peer, &plen));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	vlen = sizeof(v);
	EXPECT_EQ(SOCKET_ERROR, getsockopt(bad, SOL_SOCKET, SO_ERROR,
					   (char *)&v, &vlen));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	close(pfd[0]);
	close(pfd[1]);

	EXPECT_EQ(0, closesocket(a));
	EXPECT_EQ(0, closesocket(c));
	EXPECT_EQ(0, closesocket(l));
}

/* Critical sections are recursive and exclude other threads. */
static CRITICAL_SECTION cs;
static LONG cs_counter;

static DWORD WINAPI cs_thread(LPVOID arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 20000; i++) {
		EnterCriticalSection(&cs);
		EnterCriticalSection(&cs);
		cs_counter++;
		LeaveCriticalSection(&cs);
		LeaveCriticalSection(&cs);
	}
	return GetCurrentThreadId();
}

TEST(critical_section_ticks_ids)
{
	HANDLE t[2];
	DWORD code, t0;
	int i;

	ASSERT_TRUE(InitializeCriticalSectionAndSpinCount(&cs, 4000));
	EnterCriticalSection(&cs);
	EXPECT_TRUE(TryEnterCriticalSection(&cs));	/* recursive */
	LeaveCriticalSection(&cs);
	for (i = 0; i < 2; i++) {
		t[i] = CreateThread(NULL, 0, cs_thread, NULL, 0, NULL);
		ASSERT_NE(NULL, t[i]);
	}
	usleep(20000);
	/* Held here: the threads cannot have counted yet. */
	EXPECT_EQ(0, cs_counter);
	LeaveCriticalSection(&cs);
	EXPECT_EQ(WAIT_OBJECT_0, WaitForMultipleObjects(2, t, TRUE, INFINITE));
	EXPECT_EQ(40000, cs_counter);
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(GetExitCodeThread(t[i], &code));
		EXPECT_NE(GetCurrentThreadId(), code);
		EXPECT_NE(0, code);
		EXPECT_TRUE(CloseHandle(t[i]));
	}
	DeleteCriticalSection(&cs);
	EXPECT_EQ((DWORD)getpid(), GetCurrentProcessId());
	EXPECT_EQ((DWORD)getpid(), GetCurrentThreadId());	/* main thread */

	t0 = GetTickCount();
	Sleep(30);
	EXPECT_LE(30, GetTickCount() - t0);
	EXPECT_GE(GetTickCount64(), (ULONGLONG)t0);
}

/* A UDP WSASocket on a port: WSARecvFrom, WSASendTo, truncation. */
TEST(udp_recvfrom_sendto)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, b, from;
	socklen_t alen = sizeof(a), blen = sizeof(b);
	OVERLAPPED ov = { 0 }, *got;
	char buf[16], small[4], out[16];
	WSABUF wb = { sizeof(buf), buf }, ws = { 4, small };
	WSABUF snd = { 5, "hello" };
	DWORD bytes = 0, flags = 0;
	ULONG_PTR key;
	INT fromlen;
	HANDLE port;
	SOCKET s;
	int peer;

	s = WSASocket(AF_INET, SOCK_DGRAM, 0, NULL, 0, WSA_FLAG_OVERLAPPED);
	ASSERT_NE(INVALID_SOCKET, s);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(0, bind((int)s, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, getsockname((int)s, (struct sockaddr *)&a, &alen));
	peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, peer);
	b = a;
	b.sin_port = 0;
	ASSERT_EQ(0, bind(peer, (struct sockaddr *)&b, sizeof(b)));
	ASSERT_EQ(0, getsockname(peer, (struct sockaddr *)&b, &blen));
	port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	ASSERT_NE(NULL, port);
	ASSERT_EQ(port, CreateIoCompletionPort((HANDLE)s, port, 42, 0));

	/* Pending, then a datagram: the sender's address and its length. */
	fromlen = sizeof(from);
	memset(&from, 0, sizeof(from));
	EXPECT_EQ(SOCKET_ERROR, WSARecvFrom(s, &wb, 1, &bytes, &flags,
					    (struct sockaddr *)&from, &fromlen,
					    &ov, NULL));
	EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_EQ(3, sendto(peer, "abc", 3, 0, (struct sockaddr *)&a,
			    sizeof(a)));
	ASSERT_TRUE(GetQueuedCompletionStatus(port, &bytes, &key, &got,
					      PROGRESS_MS));
	EXPECT_EQ(&ov, got);
	EXPECT_EQ(42, key);
	EXPECT_EQ(3, bytes);
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	EXPECT_EQ((INT)sizeof(struct sockaddr_in), fromlen);
	EXPECT_EQ(b.sin_port, from.sin_port);
	EXPECT_EQ(b.sin_addr.s_addr, from.sin_addr.s_addr);

	/* Longer than the buffer: WSAEMSGSIZE with the bytes that fit. */
	ASSERT_EQ(10, sendto(peer, "0123456789", 10, 0,
			     (struct sockaddr *)&a, sizeof(a)));
	fromlen = sizeof(from);
	memset(&ov, 0, sizeof(ov));
	WSARecvFrom(s, &ws, 1, &bytes, &flags, (struct sockaddr *)&from,
		    &fromlen, &ov, NULL);
	EXPECT_FALSE(GetQueuedCompletionStatus(port, &bytes, &key, &got,
					       PROGRESS_MS));
	EXPECT_EQ(WSAEMSGSIZE, GetLastError());
	EXPECT_EQ(&ov, got);
	EXPECT_EQ(4, bytes);
	EXPECT_EQ(0, memcmp(small, "0123", 4));

	/* WSASendTo the peer. */
	memset(&ov, 0, sizeof(ov));
	bytes = 0;
	if (WSASendTo(s, &snd, 1, &bytes, 0, (struct sockaddr *)&b,
		      sizeof(b), &ov, NULL))
		EXPECT_EQ(WSA_IO_PENDING, WSAGetLastError());
	ASSERT_TRUE(GetQueuedCompletionStatus(port, &bytes, &key, &got,
					      PROGRESS_MS));
	EXPECT_EQ(&ov, got);
	EXPECT_EQ(5, bytes);
	ASSERT_TRUE(fd_ready(peer, POLLIN, PROGRESS_MS));
	EXPECT_EQ(5, recv(peer, out, sizeof(out), 0));
	EXPECT_EQ(0, memcmp(out, "hello", 5));

	/* Bad arguments. */
	EXPECT_EQ(SOCKET_ERROR, WSARecvFrom(s, &wb, 1, &bytes, &flags,
					    (struct sockaddr *)&from, NULL,
					    &ov, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSASendTo(s, &snd, 0, &bytes, 0, NULL, 0,
					  &ov, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	EXPECT_EQ(0, closesocket(s));
	EXPECT_TRUE(CloseHandle(port));
	close(peer);
}

TEST_HARNESS_MAIN
