// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * win_tutorial_echo: an echo server in the shape of the classic Windows
 * I/O completion port tutorial, written for this repository.
 *
 *   - WSAStartup, then one completion port;
 *   - GetSystemInfo, and two worker threads per processor (CreateThread),
 *     each looping on GetQueuedCompletionStatus;
 *   - a listening socket made with WSASocket(..., WSA_FLAG_OVERLAPPED);
 *   - the main thread accepts (WSAAccept), gives each connection a
 *     PER_HANDLE_DATA (the completion key) and a PER_IO_OPERATION_DATA
 *     (OVERLAPPED first), associates it with CreateIoCompletionPort and
 *     posts the first WSARecv;
 *   - a worker echoes what a WSARecv brought with WSASend, as many sends
 *     as it takes, then posts the next WSARecv; 0 bytes means the client
 *     is gone: closesocket and GlobalFree.
 *
 * Everything below the #include lines is Windows code: it builds with a
 * Windows compiler if the two lines marked "Windows:" replace the
 * cport_win32.h line.  On Linux it links with -lcport-win32 -lcport.
 *
 * Usage: win_tutorial_echo [PORT [CONNECTIONS]]
 *   Listen on PORT (default 5150).  With CONNECTIONS, stop once that many
 *   connections were accepted and closed by their clients: post one quit
 *   packet per worker, wait for the workers, close everything.
 */
#include <cport_win32.h>	/* Windows: #include <winsock2.h> */
				/* Windows: #include <windows.h> */
#include <stdio.h>
#include <stdlib.h>

#define PORT		5150
#define DATA_BUFSIZE	8192

typedef struct _PER_IO_OPERATION_DATA {
	OVERLAPPED Overlapped;		/* first: the OVERLAPPED is the I/O */
	WSABUF DataBuf;
	CHAR Buffer[DATA_BUFSIZE];
	DWORD BytesSEND;
	DWORD BytesRECV;
} PER_IO_OPERATION_DATA, *LPPER_IO_OPERATION_DATA;

typedef struct _PER_HANDLE_DATA {
	SOCKET Socket;
} PER_HANDLE_DATA, *LPPER_HANDLE_DATA;

static volatile LONG ClosedConnections;

static DWORD WINAPI ServerWorkerThread(LPVOID CompletionPortID);

/* A worker is done with a connection: close it, free its data. */
static void CloseClient(LPPER_HANDLE_DATA PerHandleData,
			LPPER_IO_OPERATION_DATA PerIoData)
{
	closesocket(PerHandleData->Socket);
	GlobalFree(PerHandleData);
	GlobalFree(PerIoData);
	InterlockedIncrement(&ClosedConnections);
}

/* Post a WSARecv into the whole buffer.  FALSE if it failed at once. */
static BOOL PostRecv(LPPER_HANDLE_DATA PerHandleData,
		     LPPER_IO_OPERATION_DATA PerIoData)
{
	DWORD RecvBytes;
	DWORD Flags = 0;

	ZeroMemory(&(PerIoData->Overlapped), sizeof(OVERLAPPED));
	PerIoData->BytesRECV = 0;
	PerIoData->BytesSEND = 0;
	PerIoData->DataBuf.len = DATA_BUFSIZE;
	PerIoData->DataBuf.buf = PerIoData->Buffer;
	if (WSARecv(PerHandleData->Socket, &(PerIoData->DataBuf), 1,
		    &RecvBytes, &Flags, &(PerIoData->Overlapped),
		    NULL) == SOCKET_ERROR) {
		if (WSAGetLastError() != ERROR_IO_PENDING) {
			printf("WSARecv() failed with error %d\n",
			       WSAGetLastError());
			return FALSE;
		}
	}
	return TRUE;
}

/* Post a WSASend of what is received and not sent back yet. */
static BOOL PostSend(LPPER_HANDLE_DATA PerHandleData,
		     LPPER_IO_OPERATION_DATA PerIoData)
{
	DWORD SendBytes;

	ZeroMemory(&(PerIoData->Overlapped), sizeof(OVERLAPPED));
	PerIoData->DataBuf.buf = PerIoData->Buffer + PerIoData->BytesSEND;
	PerIoData->DataBuf.len = PerIoData->BytesRECV - PerIoData->BytesSEND;
	if (WSASend(PerHandleData->Socket, &(PerIoData->DataBuf), 1,
		    &SendBytes, 0, &(PerIoData->Overlapped),
		    NULL) == SOCKET_ERROR) {
		if (WSAGetLastError() != ERROR_IO_PENDING) {
			printf("WSASend() failed with error %d\n",
			       WSAGetLastError());
			return FALSE;
		}
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	SOCKADDR_IN InternetAddr;
	SOCKET Listen;
	SOCKET Accept;
	HANDLE CompletionPort;
	SYSTEM_INFO SystemInfo;
	LPPER_HANDLE_DATA PerHandleData;
	LPPER_IO_OPERATION_DATA PerIoData;
	HANDLE ThreadHandles[MAXIMUM_WAIT_OBJECTS];
	DWORD NumberOfThreads;
	DWORD ThreadID;
	DWORD i;
	WSADATA wsaData;
	int Ret;
	unsigned short Port = PORT;
	LONG MaxConnections = 0;
	LONG Connections = 0;

	if (argc > 1)
		Port = (unsigned short)atoi(argv[1]);
	if (argc > 2)
		MaxConnections = atol(argv[2]);

	if ((Ret = WSAStartup(MAKEWORD(2, 2), &wsaData)) != 0) {
		printf("WSAStartup() failed with error %d\n", Ret);
		return 1;
	}

	/* Set up an I/O completion port. */
	CompletionPort = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL,
						0, 0);
	if (CompletionPort == NULL) {
		printf("CreateIoCompletionPort() failed with error %d\n",
		       (int)GetLastError());
		return 1;
	}

	/* Two worker threads per processor. */
	GetSystemInfo(&SystemInfo);
	NumberOfThreads = SystemInfo.dwNumberOfProcessors * 2;
	if (NumberOfThreads > MAXIMUM_WAIT_OBJECTS)
		NumberOfThreads = MAXIMUM_WAIT_OBJECTS;
	for (i = 0; i < NumberOfThreads; i++) {
		ThreadHandles[i] = CreateThread(NULL, 0, ServerWorkerThread,
						CompletionPort, 0, &ThreadID);
		if (ThreadHandles[i] == NULL) {
			printf("CreateThread() failed with error %d\n",
			       (int)GetLastError());
			return 1;
		}
	}

	/* The listening socket. */
	Listen = WSASocket(AF_INET, SOCK_STREAM, 0, NULL, 0,
			   WSA_FLAG_OVERLAPPED);
	if (Listen == INVALID_SOCKET) {
		printf("WSASocket() failed with error %d\n",
		       WSAGetLastError());
		return 1;
	}
	ZeroMemory(&InternetAddr, sizeof(InternetAddr));
	InternetAddr.sin_family = AF_INET;
	InternetAddr.sin_addr.s_addr = htonl(INADDR_ANY);
	InternetAddr.sin_port = htons(Port);
	if (bind(Listen, (PSOCKADDR)&InternetAddr,
		 sizeof(InternetAddr)) == SOCKET_ERROR) {
		printf("bind() failed with error %d\n", WSAGetLastError());
		return 1;
	}
	if (listen(Listen, 5) == SOCKET_ERROR) {
		printf("listen() failed with error %d\n", WSAGetLastError());
		return 1;
	}

	/* Accept connections and hand them to the completion port. */
	while (MaxConnections == 0 || Connections < MaxConnections) {
		Accept = WSAAccept(Listen, NULL, NULL, NULL, 0);
		if (Accept == INVALID_SOCKET) {
			printf("WSAAccept() failed with error %d\n",
			       WSAGetLastError());
			return 1;
		}
		Connections++;

		/* The socket's data: the completion key of its packets. */
		PerHandleData = (LPPER_HANDLE_DATA)GlobalAlloc(GPTR,
						sizeof(PER_HANDLE_DATA));
		PerIoData = (LPPER_IO_OPERATION_DATA)GlobalAlloc(GPTR,
						sizeof(PER_IO_OPERATION_DATA));
		if (PerHandleData == NULL || PerIoData == NULL) {
			printf("GlobalAlloc() failed with error %d\n",
			       (int)GetLastError());
			return 1;
		}
		PerHandleData->Socket = Accept;
		if (CreateIoCompletionPort((HANDLE)Accept, CompletionPort,
					   (ULONG_PTR)PerHandleData,
					   0) == NULL) {
			printf("CreateIoCompletionPort() failed with error %d\n",
			       (int)GetLastError());
			return 1;
		}

		/* The first receive; the workers do the rest. */
		if (!PostRecv(PerHandleData, PerIoData))
			CloseClient(PerHandleData, PerIoData);
	}

	/* Served them all: wait until their clients closed them. */
	while (InterlockedExchangeAdd(&ClosedConnections, 0) < MaxConnections)
		Sleep(10);

	/* One quit packet per worker, then wait for them to end. */
	for (i = 0; i < NumberOfThreads; i++)
		PostQueuedCompletionStatus(CompletionPort, 0, 0, NULL);
	if (WaitForMultipleObjects(NumberOfThreads, ThreadHandles, TRUE,
				   INFINITE) == WAIT_FAILED) {
		printf("WaitForMultipleObjects() failed with error %d\n",
		       (int)GetLastError());
		return 1;
	}
	for (i = 0; i < NumberOfThreads; i++)
		CloseHandle(ThreadHandles[i]);
	closesocket(Listen);
	CloseHandle(CompletionPort);
	WSACleanup();
	return 0;
}

static DWORD WINAPI ServerWorkerThread(LPVOID CompletionPortID)
{
	HANDLE CompletionPort = (HANDLE)CompletionPortID;
	DWORD BytesTransferred;
	LPPER_HANDLE_DATA PerHandleData;
	LPPER_IO_OPERATION_DATA PerIoData;
	BOOL Ok;

	for (;;) {
		Ok = GetQueuedCompletionStatus(CompletionPort,
					       &BytesTransferred,
					       (PULONG_PTR)&PerHandleData,
					       (LPOVERLAPPED *)&PerIoData,
					       INFINITE);
		if (PerIoData == NULL) {
			if (!Ok)	/* nothing dequeued: the port failed */
				printf("GetQueuedCompletionStatus() failed with error %d\n",
				       (int)GetLastError());
			return 0;	/* or the quit packet */
		}

		/*
		 * A failed receive or send, or a receive of 0 bytes (the
		 * client closed): this connection is over.
		 */
		if (!Ok || BytesTransferred == 0) {
			CloseClient(PerHandleData, PerIoData);
			continue;
		}

		/*
		 * BytesRECV == 0: a WSARecv completed.  Otherwise a WSASend
		 * did, and sent BytesTransferred more of the data.
		 */
		if (PerIoData->BytesRECV == 0) {
			PerIoData->BytesRECV = BytesTransferred;
			PerIoData->BytesSEND = 0;
		} else {
			PerIoData->BytesSEND += BytesTransferred;
		}

		if (PerIoData->BytesRECV > PerIoData->BytesSEND) {
			/* Echo what was received and not sent back yet. */
			if (!PostSend(PerHandleData, PerIoData))
				CloseClient(PerHandleData, PerIoData);
		} else {
			/* All sent back: receive the next block. */
			if (!PostRecv(PerHandleData, PerIoData))
				CloseClient(PerHandleData, PerIoData);
		}
	}
}
