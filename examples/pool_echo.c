// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * pool_echo: a TCP echo server on cport_pool(3), with no worker loop of
 * its own.
 *
 * The pool owns the port and the threads.  The listener is bound to the
 * pool with an accept callback, each connection with an echo callback;
 * an ACCEPT, a RECV and a SEND are submitted with cport_pool_io_submit()
 * and their completions call back on a pool thread: a RECV of n bytes
 * submits the SEND of those n bytes, a SEND's completion the next RECV,
 * end of file or an error unbinds the connection (its state is freed by
 * the release function once its last callback has returned) and closes
 * it.  The main thread only waits for a signal, the duration or the
 * number of connections asked for, then destroys the pool, which cancels
 * what is pending and waits for the callbacks.
 *
 * Usage: pool_echo [--port N] [--threads MAX] [--duration SECS]
 *                  [--connections N]
 * (--connections N: exit once N connections were served and closed.)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cport_pool.h>

#define BUF_SIZE	4096

struct conn {
	int fd;
	struct cport_pool_io *io;
	struct cport_sqe sqe;
	char buf[BUF_SIZE];
};

static int listener = -1;
static struct cport_pool_io *lio;
static atomic_ulong served, closed, echoed_bytes, errors;

static void conn_end(struct conn *c)
{
	cport_pool_unbind(c->io, free);	/* freed after this callback */
	close(c->fd);
	atomic_fetch_add(&closed, 1);
}

static void conn_recv(struct conn *c)
{
	cport_prep_recv(&c->sqe, c->fd, c->buf, sizeof(c->buf), 0, 0);
	if (cport_pool_io_submit(c->io, &c->sqe, 1) < 0)
		conn_end(c);
}

static void on_conn(struct cport_pool *pool, const struct cport_cqe *cqe,
		    void *context)
{
	struct conn *c = context;

	if (cqe->res < 0 && cqe->res != -ECANCELED)
		atomic_fetch_add(&errors, 1);
	if (cqe->res <= 0) {		/* end of file, error, or destroy */
		conn_end(c);
		return;
	}
	if (cqe->op == CPORT_OP_RECV) {
		cport_prep_send(&c->sqe, c->fd, c->buf, (size_t)cqe->res, 0);
		if (cport_pool_io_submit(c->io, &c->sqe, 1) < 0)
			conn_end(c);
		return;
	}
	atomic_fetch_add(&echoed_bytes, (unsigned long)cqe->res);
	conn_recv(c);
}

static int accept_next(void)
{
	struct cport_sqe sqe;

	cport_prep_accept(&sqe, listener, NULL, 0, 0, 0,
			  CPORT_ACCEPT_CLOEXEC);
	return cport_pool_io_submit(lio, &sqe, 1);
}

static void on_accept(struct cport_pool *pool, const struct cport_cqe *cqe,
		      void *context)
{
	struct conn *c;

	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED)
			atomic_fetch_add(&errors, 1);
		return;		/* the pool is being destroyed */
	}
	c = calloc(1, sizeof(*c));
	if (!c || cport_pool_bind(pool, (int)cqe->res, on_conn, c, &c->io)) {
		atomic_fetch_add(&errors, 1);
		close((int)cqe->res);
		free(c);
	} else {
		c->fd = (int)cqe->res;
		atomic_fetch_add(&served, 1);
		conn_recv(c);
	}
	if (accept_next() < 0)
		atomic_fetch_add(&errors, 1);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "connections", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct cport_pool_opts opts = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned long want = 0;
	struct cport_pool_stats st;
	struct cport_pool *pool;
	long long duration = 0;
	struct timespec ts = { .tv_nsec = 10000000 };
	sigset_t sigs;
	int port = 5555, one = 1, opt, ret;
	long long waited = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:t:d:n:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 't': opts.max_threads = (unsigned int)atoi(optarg); break;
		case 'd': duration = atoll(optarg) * 1000; break;
		case 'n': want = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [--port N] [--threads MAX] "
				"[--duration SECS] [--connections N]\n", argv[0]);
			return 2;
		}
	}
	/* The signals that stop the server are taken by this thread only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	ret = cport_pool_create(&opts, &pool);
	if (ret < 0) {
		fprintf(stderr, "pool_echo: cport_pool_create: %s\n",
			strerror(-ret));
		return 1;
	}
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listener < 0 || bind(listener, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(listener, 128)) {
		perror("pool_echo: listener");
		return 1;
	}
	ret = cport_pool_bind(pool, listener, on_accept, NULL, &lio);
	if (!ret)
		ret = accept_next();
	if (ret < 0) {
		fprintf(stderr, "pool_echo: accept: %s\n", strerror(-ret));
		return 1;
	}
	printf("pool_echo: listening on 127.0.0.1:%d, up to %u threads\n",
	       port, opts.max_threads);
	fflush(stdout);
	for (;;) {
		if (sigtimedwait(&sigs, NULL, &ts) > 0)
			break;
		waited += 10;
		if (duration && waited >= duration)
			break;
		if (want && atomic_load(&closed) >= want)
			break;
	}
	cport_pool_stats(pool, &st);
	cport_pool_destroy(pool, 0);	/* cancels the accept and the recvs */
	close(listener);
	printf("pool_echo: %lu connections, %lu bytes echoed, %lu errors; "
	       "threads: %llu made, %u at most\n", atomic_load(&served),
	       atomic_load(&echoed_bytes), atomic_load(&errors), st.created,
	       st.peak);
	return atomic_load(&errors) ? 1 : 0;
}
