// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * qso_echo: IBM i's asynchronous I/O example (the Qso* calls) on Linux.
 *
 * The shape of IBM's documented example, with only the platform lines
 * changed: a main thread creates an I/O completion port and a worker
 * thread, accepts ONE client with a plain accept(), and starts an
 * asynchronous receive with postFlag set, the client's descriptor in
 * descriptorHandle.  The worker waits on the port with
 * QsoWaitForIOCompletion(); here it echoes each message with QsoStartSend()
 * and re-arms the receive, until the client ends its side.
 *
 * Changes for Linux and for running alone:
 * - <qsoasync.h> is libcport's (link with libcport); no _Multi_Threaded,
 *   no pthread_getthreadid_np(); descriptorHandle carries the descriptor
 *   as (void *)(intptr_t) instead of through an int cast of its address.
 * - The server listens on 127.0.0.1 at a port the kernel picks, and a
 *   client thread connects to it, sends messages, checks every echo, then
 *   shuts its side down: the worker sees end of file and the program ends
 *   by itself, printing a short summary.
 *
 * Usage: qso_echo [MESSAGES]   (default 10)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qsoasync.h"

#define BufferLength	80
#define Failure		0
#define Success		1

static int nr_messages = 10;
static struct sockaddr_in serveraddr;

/* What the worker saw. */
static int recvs, sends_at_once, sends_posted, bytes_echoed;

void *workerThread(void *arg);
void *clientThread(void *arg);

int main(int argc, char *argv[])
{
	int listen_sd, client_sd, rc, ioCompPort, on = 1;
	socklen_t addrlen = sizeof(serveraddr);
	pthread_t thr, client;
	void *status, *client_status;
	char buffer[BufferLength];
	Qso_OverlappedIO_t ioStruct;

	if (argc > 1)
		nr_messages = atoi(argv[1]);

	/* Create an I/O completion port for this process. */
	if ((ioCompPort = QsoCreateIOCompletionPort()) < 0) {
		perror("QsoCreateIOCompletionPort() failed");
		exit(-1);
	}

	/* Create a worker thread to process all client requests.  The
	 * worker thread waits for client requests to arrive on the I/O
	 * completion port just created. */
	rc = pthread_create(&thr, NULL, workerThread, &ioCompPort);
	if (rc != 0) {
		errno = rc;
		perror("pthread_create() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		exit(-1);
	}

	/* Create a listening socket. */
	if ((listen_sd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		perror("socket() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		exit(-1);
	}
	if (setsockopt(listen_sd, SOL_SOCKET, SO_REUSEADDR, &on,
		       sizeof(on)) < 0) {
		perror("setsockopt() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		exit(-1);
	}
	memset(&serveraddr, 0, sizeof(serveraddr));
	serveraddr.sin_family = AF_INET;
	serveraddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	serveraddr.sin_port = 0;	/* the kernel picks one */
	if (bind(listen_sd, (struct sockaddr *)&serveraddr,
		 sizeof(serveraddr)) < 0 ||
	    getsockname(listen_sd, (struct sockaddr *)&serveraddr,
			&addrlen) < 0) {
		perror("bind() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		exit(-1);
	}
	if (listen(listen_sd, 10) < 0) {
		perror("listen() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		exit(-1);
	}
	printf("qso_echo: server ready on 127.0.0.1:%d, port handle %d\n",
	       ntohs(serveraddr.sin_port), ioCompPort);

	/* Added for running alone: the client. */
	rc = pthread_create(&client, NULL, clientThread, NULL);
	if (rc != 0) {
		errno = rc;
		perror("pthread_create() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		exit(-1);
	}

	/* Accept an incoming client connection. */
	if ((client_sd = accept(listen_sd, NULL, NULL)) < 0) {
		perror("accept() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		exit(-1);
	}

	/* Issue QsoStartRecv() to receive the client request.  postFlag is
	 * on: the request is posted to the I/O completion port even if it
	 * is available at once, so the worker thread processes it. */

	/* Initialize the Qso_OverlappedIO_t structure: the reserved fields
	 * must be zero. */
	memset(&ioStruct, '\0', sizeof(ioStruct));
	memset(buffer, '\0', sizeof(buffer));
	ioStruct.buffer = buffer;
	ioStruct.bufferLength = sizeof(buffer);

	/* Store the client descriptor in descriptorHandle: it is defined as
	 * a (void *) so that a server can address more extensive client
	 * connection state if it needs to. */
	ioStruct.descriptorHandle = (void *)(intptr_t)client_sd;
	ioStruct.postFlag = 1;
	ioStruct.fillBuffer = 0;

	rc = QsoStartRecv(client_sd, ioCompPort, &ioStruct);
	if (rc == -1) {
		perror("QsoStartRecv() failed");
		QsoDestroyIOCompletionPort(ioCompPort);
		close(listen_sd);
		close(client_sd);
		exit(-1);
	}

	/* Close the server's listening socket. */
	close(listen_sd);

	/* Wait for the worker thread to finish processing the client. */
	rc = pthread_join(thr, &status);
	pthread_join(client, &client_status);
	QsoDestroyIOCompletionPort(ioCompPort);

	printf("qso_echo: worker: %d receives, %d sends (%d completed at once, "
	       "%d posted), %d bytes echoed\n", recvs,
	       sends_at_once + sends_posted, sends_at_once, sends_posted,
	       bytes_echoed);
	if (rc == 0 && status == (void *)(intptr_t)Success &&
	    client_status == (void *)(intptr_t)Success) {
		printf("qso_echo: success\n");
		return 0;
	}
	printf("qso_echo: FAILED\n");
	return 1;
}

/* Function name: workerThread */
void *workerThread(void *arg)
{
	struct timeval waitTime;
	int ioCompPort, clientfd, rc;
	Qso_OverlappedIO_t ioStruct;

	/* The I/O completion port is passed to this routine. */
	ioCompPort = *(int *)arg;

	for (;;) {
		/* Wait on the supplied I/O completion port for a client
		 * request (or for our own send to complete). */
		waitTime.tv_sec = 30;
		waitTime.tv_usec = 0;
		rc = QsoWaitForIOCompletion(ioCompPort, &ioStruct, &waitTime);
		if (rc != 1 || ioStruct.returnValue == -1) {
			printf("QsoWaitForIOCompletion() or the operation "
			       "failed.\n");
			if (rc == -1)
				perror("QsoWaitForIOCompletion()");
			else if (rc == 0)
				printf("QsoWaitForIOCompletion() timed out\n");
			else
				printf("operation %d completed with errno=%d\n",
				       ioStruct.operationCompleted,
				       ioStruct.errnoValue);
			return (void *)(intptr_t)Failure;
		}

		/* Obtain the socket descriptor of the client connection. */
		clientfd = (int)(intptr_t)ioStruct.descriptorHandle;

		if (ioStruct.operationCompleted == QSOSTARTRECV) {
			recvs++;
			if (ioStruct.returnValue == 0)
				break;	/* the client ended its side */

			/* Echo the data back to the client. */
			ioStruct.bufferLength = ioStruct.returnValue;
			ioStruct.postFlag = 0;
			rc = QsoStartSend(clientfd, ioCompPort, &ioStruct);
			if (rc == -1) {
				perror("QsoStartSend() failed");
				return (void *)(intptr_t)Failure;
			}
			if (rc == 1)
				continue;	/* posted when it is done */
			if (ioStruct.returnValue == -1) {
				printf("QsoStartSend() completed with "
				       "errno=%d\n", ioStruct.errnoValue);
				return (void *)(intptr_t)Failure;
			}
			sends_at_once++;
		} else {
			sends_posted++;
		}
		bytes_echoed += ioStruct.returnValue;

		/* The echo is sent: start the next receive into the same
		 * buffer, posted even if data is there already. */
		ioStruct.bufferLength = BufferLength;
		ioStruct.postFlag = 1;
		if (QsoStartRecv(clientfd, ioCompPort, &ioStruct) == -1) {
			perror("QsoStartRecv() failed");
			return (void *)(intptr_t)Failure;
		}
	}

	/* Close the client connection. */
	close(clientfd);
	return (void *)(intptr_t)Success;
}

/* Added for running alone: a client that checks every echo. */
void *clientThread(void *arg)
{
	char msg[BufferLength], got[BufferLength];
	int sd, i, len, n, bytes = 0;

	sd = socket(AF_INET, SOCK_STREAM, 0);
	if (sd < 0 || connect(sd, (struct sockaddr *)&serveraddr,
			      sizeof(serveraddr)) < 0) {
		perror("client: connect() failed");
		return (void *)(intptr_t)Failure;
	}
	for (i = 0; i < nr_messages; i++) {
		len = snprintf(msg, sizeof(msg), "echo message %d of %d", i + 1,
			       nr_messages);
		if (write(sd, msg, len) != len) {
			perror("client: write() failed");
			goto fail;
		}
		for (n = 0; n < len; ) {
			int r = read(sd, got + n, len - n);

			if (r <= 0) {
				printf("client: echo %d cut short\n", i + 1);
				goto fail;
			}
			n += r;
		}
		if (memcmp(msg, got, len)) {
			printf("client: echo %d differs\n", i + 1);
			goto fail;
		}
		bytes += len;
		if (i < 3 || i == nr_messages - 1)
			printf("client: sent and got back \"%.*s\"\n", len, got);
		else if (i == 3)
			printf("client: ...\n");
	}
	/* End our side: the worker sees end of file and closes. */
	shutdown(sd, SHUT_WR);
	if (read(sd, got, 1) != 0) {
		printf("client: expected end of file from the server\n");
		goto fail;
	}
	close(sd);
	printf("client: %d messages, %d bytes, every echo checked\n",
	       nr_messages, bytes);
	return (void *)(intptr_t)Success;
fail:
	close(sd);
	return (void *)(intptr_t)Failure;
}
