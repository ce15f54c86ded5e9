// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * echo_server: a TCP (and unix) echo server in the shape of the classic
 * completion-port servers.
 *
 * One port, a pool of worker threads that each loop on one
 * cport_submit_and_wait() call: submit what the last completion asked for,
 * then wait for the next completion, in the same system call.  The
 * connection is the completion key (a struct conn *), the operation is the
 * cookie (a struct io_op *, the "extended OVERLAPPED": the kind of
 * operation and its buffer).  Accepts are asynchronous, a couple of them
 * outstanding per listener, and associate the new socket with the port
 * under its connection's key.
 *
 * Echo: a RECV completes with n bytes -> one call submits the SEND of
 * those bytes (with CPORT_SQE_INLINE: when the socket has room it
 * completes there and then, and posts nothing) and the next RECV into the
 * connection's other buffer, and waits for the next completion.  So an
 * echoed request normally costs one completion and one system call.  The
 * SEND's status (PENDING or INLINE) is written by the kernel into the
 * submission, which lives in the connection (conn->sq), so the worker that
 * handles the next RECV completion can see whether the SEND is done.  If
 * it is not (the socket was full), the received data waits until the
 * SEND's completion arrives, and no RECV is outstanding meanwhile.
 *
 * Shutdown (SIGINT, SIGTERM, --duration, or a client whose first bytes
 * are QUIT_MAGIC): cancel every pending operation, let the workers
 * close every connection, then post one "quit" completion per worker
 * (PostQueuedCompletionStatus), join them and print how many completions
 * each worker handled.
 *
 * Usage: echo_server [--port N] [--threads N] [--unix PATH]
 *                    [--duration SECS] [--buffer BYTES] [--no-inline]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"
#include "fdinfo.h"

#define NR_ACCEPTS	2		/* accepts outstanding per listener */
#define QUIT_COOKIE	0x71756974ULL	/* "quit", the posted cookie */
#define MAX_WORKERS	1024
/* A connection whose first bytes are these asks the server to stop. */
#define QUIT_MAGIC	"\0cport-echo: quit\n"
#define QUIT_MAGIC_LEN	(sizeof(QUIT_MAGIC) - 1)

enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };

static const __u8 op_opcode[] = {
	[OP_ACCEPT] = CPORT_OP_ACCEPT,
	[OP_RECV] = CPORT_OP_RECV,
	[OP_SEND] = CPORT_OP_SEND,
};
static const char *const op_name[] = {
	[OP_ACCEPT] = "accept", [OP_RECV] = "recv", [OP_SEND] = "send",
};

struct conn;
struct listener;

/* Per-operation state: the cookie of its completion. */
struct io_op {
	enum op_kind kind;
	struct conn *conn;	/* RECV, SEND; ACCEPT: the conn to accept */
	struct listener *lst;	/* ACCEPT */
	size_t len;		/* SEND: the bytes to send */
	char buf[];		/* RECV, SEND: opt_buffer bytes */
};

/* Per-connection state: the completion key of its socket. */
struct conn {
	pthread_mutex_t lock;
	int fd;
	bool closing;
	bool seen_data;
	struct io_op *op[2];	/* two buffers: one sent while one receives */
	struct io_op *recv_op;	/* a RECV is pending into it */
	struct io_op *send_op;	/* its SEND was taken, result not seen yet */
	struct io_op *deferred;	/* received, waiting for send_op to finish */
	struct cport_sqe sq[2];	/* SEND, RECV: the SEND's status lands here */
};

struct listener {
	int fd;
	char name[128];
};

struct worker {
	pthread_t thread;
	int id;
	unsigned long completions, accepts, recvs, sends, inline_sends;
	unsigned long calls, vcsw, ivcsw;	/* system calls, context switches */
	unsigned long bytes, errors;
} __attribute__((aligned(64)));

static int port = -1;
static int opt_port = 5555, opt_threads, opt_duration;
static size_t opt_buffer = 16384;
static bool opt_inline = true;
static const char *opt_unix;
static int stopping;		/* no new operations; close on completion */
static long live_conns;		/* allocated struct conn */
static int quit_requested;

static void die(const char *what, int err)
{
	fprintf(stderr, "echo_server: %s: %s\n", what, strerror(err));
	exit(1);
}

static bool is_stopping(void)
{
	return __atomic_load_n(&stopping, __ATOMIC_ACQUIRE);
}

static struct io_op *op_new(enum op_kind kind, struct conn *c, size_t size)
{
	struct io_op *op = calloc(1, sizeof(*op) + size);

	if (!op)
		die("calloc", ENOMEM);
	op->kind = kind;
	op->conn = c;
	return op;
}

static struct conn *conn_new(void)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("calloc", ENOMEM);
	pthread_mutex_init(&c->lock, NULL);
	c->fd = -1;
	c->op[0] = op_new(OP_RECV, c, opt_buffer);
	c->op[1] = op_new(OP_RECV, c, opt_buffer);
	__atomic_fetch_add(&live_conns, 1, __ATOMIC_RELAXED);
	return c;
}

static void conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	free(c->op[0]);
	free(c->op[1]);
	free(c);
	__atomic_fetch_sub(&live_conns, 1, __ATOMIC_RELEASE);
}

/*
 * The SEND taken from conn->sq[0] completed inline if the kernel wrote
 * CPORT_STATUS_INLINE there; then no completion will come for it.  Only
 * called for events that follow the RECV taken after it (conn->sq[1]), so
 * the kernel is done with conn->sq[0].
 */
static void resolve_send(struct worker *w, struct conn *c)
{
	struct cport_sqe *sqe = &c->sq[0];

	if (!c->send_op ||
	    __atomic_load_n(&sqe->status, __ATOMIC_ACQUIRE) !=
	    CPORT_STATUS_INLINE)
		return;
	w->inline_sends++;
	if (sqe->res != (__s64)c->send_op->len) {
		w->errors++;
		c->closing = true;
	} else {
		w->bytes += c->send_op->len;
	}
	c->send_op = NULL;
}

/*
 * Called under c->lock with c->closing set: returns true if nothing is
 * pending any more (the caller frees c after unlocking), otherwise makes
 * sure what is pending completes soon.
 */
static bool conn_finish(struct conn *c)
{
	int ret;

	if (!c->recv_op && !c->send_op)
		return true;
	ret = cport_cancel(port, CPORT_CANCEL_FD, c->fd);
	if (ret < 0 && ret != -ENOENT)
		fprintf(stderr, "echo_server: cancel: %s\n", strerror(-ret));
	return false;
}

/*
 * Under c->lock: send what op received and receive into the other buffer,
 * both from c->sq, which the caller submits.
 */
static void start_echo(struct conn *c, struct io_op *op)
{
	struct io_op *other = op == c->op[0] ? c->op[1] : c->op[0];

	op->kind = OP_SEND;
	cport_prep_send(&c->sq[0], c->fd, op->buf, op->len,
			(__u64)(uintptr_t)op);
	if (opt_inline)
		c->sq[0].flags = CPORT_SQE_INLINE;
	other->kind = OP_RECV;
	cport_prep_recv(&c->sq[1], c->fd, other->buf, opt_buffer,
			(__u64)(uintptr_t)other, 0);
	c->send_op = op;
	c->recv_op = other;
}

static void prep_accept(struct cport_sqe *sqe, struct io_op *op)
{
	cport_prep_accept(sqe, op->lst->fd, NULL, 0, (__u64)(uintptr_t)op,
			  (__u64)(uintptr_t)op->conn,
			  CPORT_ACCEPT_ASSOCIATE | CPORT_ACCEPT_CLOEXEC);
}

static void handle_accept(struct worker *w, struct io_op *op,
			  const struct cport_cqe *cqe,
			  struct cport_sqe *out, unsigned int *nr)
{
	struct conn *c = op->conn;

	if (cqe->res == -ECANCELED || is_stopping()) {
		if (cqe->res >= 0)
			c->fd = (int)cqe->res;
		conn_free(c);
		free(op);
		return;
	}
	if (cqe->res < 0) {
		/* This connection only; keep accepting with the same conn. */
		w->errors++;
		fprintf(stderr, "echo_server: accept: %s\n",
			strerror((int)-cqe->res));
		if (cqe->res == -EMFILE || cqe->res == -ENFILE)
			usleep(10000);
	} else {
		w->accepts++;
		c->fd = (int)cqe->res;
		/* Nobody else sees c before this RECV is taken. */
		c->recv_op = c->op[0];
		cport_prep_recv(&out[(*nr)++], c->fd, c->op[0]->buf,
				opt_buffer, (__u64)(uintptr_t)c->op[0], 0);
		op->conn = conn_new();
	}
	prep_accept(&out[(*nr)++], op);
}

static bool is_quit(const struct io_op *op, size_t n)
{
	return n >= QUIT_MAGIC_LEN && !memcmp(op->buf, QUIT_MAGIC,
					      QUIT_MAGIC_LEN);
}

static void handle_recv(struct worker *w, struct io_op *op,
			const struct cport_cqe *cqe,
			struct cport_sqe **out, unsigned int *nr)
{
	struct conn *c = op->conn;
	bool done = false;

	pthread_mutex_lock(&c->lock);
	c->recv_op = NULL;
	resolve_send(w, c);
	if (cqe->res > 0) {
		if (!c->seen_data && is_quit(op, cqe->res)) {
			__atomic_store_n(&quit_requested, 1, __ATOMIC_RELEASE);
			kill(getpid(), SIGUSR1);
			c->closing = true;
		} else {
			w->recvs++;
		}
		c->seen_data = true;
	} else {
		/* 0: end of file; -ECANCELED: shutdown or conn_finish(). */
		if (cqe->res < 0 && cqe->res != -ECANCELED &&
		    cqe->res != -ECONNRESET)
			w->errors++;
		c->closing = true;
	}
	if (is_stopping())
		c->closing = true;
	if (c->closing) {
		done = conn_finish(c);
	} else {
		op->len = (size_t)cqe->res;
		if (c->send_op) {
			c->deferred = op;
		} else {
			start_echo(c, op);
			*out = c->sq;
			*nr = 2;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (done)
		conn_free(c);
}

/* Only for a SEND that went PENDING: the socket was full at submission. */
static void handle_send(struct worker *w, struct io_op *op,
			const struct cport_cqe *cqe,
			struct cport_sqe **out, unsigned int *nr)
{
	struct conn *c = op->conn;
	bool done = false;

	pthread_mutex_lock(&c->lock);
	c->send_op = NULL;
	w->sends++;
	if (cqe->res == (__s64)op->len) {
		w->bytes += op->len;
	} else {
		if (cqe->res != -ECANCELED && cqe->res != -ECONNRESET &&
		    cqe->res != -EPIPE)
			w->errors++;
		c->closing = true;
	}
	if (is_stopping())
		c->closing = true;
	if (c->closing) {
		done = conn_finish(c);
	} else if (c->deferred) {
		start_echo(c, c->deferred);
		c->deferred = NULL;
		*out = c->sq;
		*nr = 2;
	}
	pthread_mutex_unlock(&c->lock);
	if (done)
		conn_free(c);
}

/*
 * Submissions first..nr-1 were not taken (the first one failed with err):
 * undo what their preparation promised.
 */
static void not_taken(struct worker *w, struct cport_sqe *sqes,
		      unsigned int first, unsigned int nr, int err)
{
	struct io_op *ops[2];
	struct conn *done = NULL;
	unsigned int i, n = 0;

	w->errors++;
	fprintf(stderr, "echo_server: submission (opcode %u) failed: %s\n",
		sqes[first].opcode, strerror(-err));
	for (i = first; i < nr && n < 2; i++)
		ops[n++] = (struct io_op *)(uintptr_t)sqes[i].user_data;
	/* sqes may live in a conn that is freed below: not used from here. */
	for (i = 0; i < n; i++) {
		struct io_op *op = ops[i];
		struct conn *c = op->conn;

		if (op->kind == OP_ACCEPT) {
			/* This accept slot is lost. */
			conn_free(c);
			free(op);
			continue;
		}
		if (c == done)
			continue;
		pthread_mutex_lock(&c->lock);
		if (c->recv_op == op)
			c->recv_op = NULL;
		if (c->send_op == op)
			c->send_op = NULL;
		if (i + 1 < n && ops[i + 1]->conn == c) {
			/* Both of a conn's submissions: SEND, then RECV. */
			c->recv_op = NULL;
			i++;
		}
		resolve_send(w, c);
		c->closing = true;
		if (conn_finish(c))
			done = c;
		pthread_mutex_unlock(&c->lock);
		if (done == c)
			conn_free(c);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct cport_sqe local[2], *sqes = NULL;
	unsigned int nr = 0, submitted;
	struct rusage ru;
	struct cport_cqe cqe;
	struct io_op *op;
	int ret;

	for (;;) {
		submitted = 0;
		w->calls++;
		ret = cport_submit_and_wait(port, sqes, nr, &cqe, 1, -1,
					    &submitted);
		if (ret < 0 && nr && submitted < nr) {
			not_taken(w, sqes, submitted, nr, ret);
			ret = 0;
		}
		sqes = NULL;
		nr = 0;
		if (ret == 0 || ret == -EINTR)
			continue;
		if (ret == -EIDRM)
			break;		/* destroyed: forced shutdown */
		if (ret < 0)
			die("cport_submit_and_wait", -ret);
		if (cqe.op == CPORT_OP_POST) {
			if (cqe.user_data == QUIT_COOKIE)
				break;
			continue;
		}
		w->completions++;
		/* The key says which connection, the cookie which operation. */
		op = (struct io_op *)(uintptr_t)cqe.user_data;
		if (cqe.op != op_opcode[op->kind] ||
		    cqe.key != (op->kind == OP_ACCEPT ?
				(__u64)(uintptr_t)op->lst :
				(__u64)(uintptr_t)op->conn)) {
			fprintf(stderr, "echo_server: a completion (opcode %u, key %#llx) for a %s operation of key %p\n",
				cqe.op, (unsigned long long)cqe.key,
				op_name[op->kind], op->kind == OP_ACCEPT ?
				(void *)op->lst : (void *)op->conn);
			abort();
		}
		switch (op->kind) {
		case OP_ACCEPT:
			handle_accept(w, op, &cqe, local, &nr);
			if (nr)
				sqes = local;
			break;
		case OP_RECV:
			handle_recv(w, op, &cqe, &sqes, &nr);
			break;
		case OP_SEND:
			handle_send(w, op, &cqe, &sqes, &nr);
			break;
		}
	}
	if (!getrusage(RUSAGE_THREAD, &ru)) {
		w->vcsw = ru.ru_nvcsw;
		w->ivcsw = ru.ru_nivcsw;
	}
	return NULL;
}

static struct listener *listen_tcp(int port_nr)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port_nr),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct listener *l = calloc(1, sizeof(*l));
	int one = 1;

	if (!l)
		die("calloc", ENOMEM);
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		die("socket", errno);
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind", errno);
	if (listen(l->fd, 1024) < 0)
		die("listen", errno);
	snprintf(l->name, sizeof(l->name), "127.0.0.1:%d", port_nr);
	return l;
}

static struct listener *listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct listener *l = calloc(1, sizeof(*l));

	if (!l)
		die("calloc", ENOMEM);
	if (strlen(path) >= sizeof(sun.sun_path))
		die(path, ENAMETOOLONG);
	strcpy(sun.sun_path, path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		die("socket", errno);
	unlink(path);
	if (bind(l->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("bind", errno);
	if (listen(l->fd, 1024) < 0)
		die("listen", errno);
	snprintf(l->name, sizeof(l->name), "unix:%s", path);
	return l;
}

/* Associate l with the port and put NR_ACCEPTS accepts on it. */
static void start_accepts(struct listener *l)
{
	struct cport_sqe sqes[NR_ACCEPTS];
	int i, ret;

	ret = cport_associate(port, l->fd, (__u64)(uintptr_t)l, 0);
	if (ret < 0)
		die("associate the listener", -ret);
	for (i = 0; i < NR_ACCEPTS; i++) {
		struct io_op *op = op_new(OP_ACCEPT, conn_new(), 0);

		op->lst = l;
		prep_accept(&sqes[i], op);
	}
	ret = cport_submit(port, sqes, NR_ACCEPTS);
	if (ret < 0)
		die("submit the accepts", -ret);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for a signal or the duration; returns why we stop. */
static const char *wait_for_stop(const sigset_t *set)
{
	struct timespec ts = { .tv_sec = opt_duration };
	int sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, opt_duration ? &ts : NULL);
		if (sig == SIGINT)
			return "SIGINT";
		if (sig == SIGTERM)
			return "SIGTERM";
		if (sig == SIGUSR1 &&
		    __atomic_load_n(&quit_requested, __ATOMIC_ACQUIRE))
			return "a client asked";
		if (sig < 0 && errno == EAGAIN)
			return "--duration elapsed";
	}
}

/* Cancel everything pending until every connection is closed. */
static bool drain(void)
{
	double deadline = now_s() + 10;

	__atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&live_conns, __ATOMIC_ACQUIRE) > 0) {
		int ret = cport_cancel(port, CPORT_CANCEL_ALL, 0);

		if (ret < 0 && ret != -ENOENT)
			die("cancel", -ret);
		if (now_s() > deadline)
			return false;
		usleep(10000);
	}
	return true;
}

/* What one echoed request cost the server: system calls, switches. */
static void print_costs(struct worker *w, int n)
{
	unsigned long calls = 0, vcsw = 0, ivcsw = 0, recvs = 0;
	char info[FDINFO_SIZE] = "";
	int i;

	for (i = 0; i < n; i++) {
		calls += w[i].calls;
		vcsw += w[i].vcsw;
		ivcsw += w[i].ivcsw;
		recvs += w[i].recvs;
	}
	if (!recvs)
		return;
	printf("echo_server: per echoed request: %.3f system calls, %.3f context switches (%.3f voluntary, %.3f involuntary)\n",
	       (double)calls / recvs, (double)(vcsw + ivcsw) / recvs,
	       (double)vcsw / recvs, (double)ivcsw / recvs);
	/* The port's counters: who moved the data (docs/design.md). */
	fdinfo_read(port, info, sizeof(info));
	printf("echo_server: socket runs: %lld by submitters, %lld by waiting workers, %lld by the fallback (task work queued %lld times)\n",
	       fdinfo_find_num(info, "runs_submit"),
	       fdinfo_find_num(info, "runs_waiter"),
	       fdinfo_find_num(info, "runs_fallback"),
	       fdinfo_find_num(info, "fallback_kicks"));
}

static void print_table(struct worker *w, int n)
{
	struct worker t = { .id = -1 };
	int i;

	printf("echo_server: completions handled per worker\n");
	printf("  worker  completions   accepts     recvs  sends(posted)  errors\n");
	for (i = 0; i <= n; i++) {
		struct worker *p = i < n ? &w[i] : &t;

		if (i < n) {
			t.completions += p->completions;
			t.accepts += p->accepts;
			t.recvs += p->recvs;
			t.sends += p->sends;
			t.inline_sends += p->inline_sends;
			t.bytes += p->bytes;
			t.errors += p->errors;
			printf("  %6d", i);
		} else {
			printf("   total");
		}
		printf("  %11lu  %8lu  %8lu  %13lu  %6lu\n", p->completions,
		       p->accepts, p->recvs, p->sends, p->errors);
	}
	printf("echo_server: %lu recvs echoed (%lu bytes) by %lu sends: %lu completed inline, %lu posted a completion; %lu errors\n",
	       t.recvs, t.bytes, t.inline_sends + t.sends, t.inline_sends,
	       t.sends, t.errors);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: echo_server [--port N] [--threads N] [--unix PATH]\n"
		"                   [--duration SECS] [--buffer BYTES] [--no-inline]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "unix", required_argument, NULL, 'u' },
		{ "duration", required_argument, NULL, 'd' },
		{ "buffer", required_argument, NULL, 'b' },
		{ "no-inline", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct listener *tcp, *ux = NULL;
	struct cport_info info;
	struct worker *workers;
	const char *why;
	sigset_t set;
	int i, c, ret;
	bool drained;

	while ((c = getopt_long(argc, argv, "p:t:u:d:b:n", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			opt_port = atoi(optarg);
			break;
		case 't':
			opt_threads = atoi(optarg);
			break;
		case 'u':
			opt_unix = optarg;
			break;
		case 'd':
			opt_duration = atoi(optarg);
			break;
		case 'b':
			opt_buffer = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			opt_inline = false;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt_port <= 0 || opt_port > 65535 ||
	    opt_threads < 0 || opt_threads > MAX_WORKERS ||
	    opt_duration < 0 || !opt_buffer || opt_buffer > CPORT_MAX_IO)
		usage();
	if (!opt_threads)
		opt_threads = 2 * (int)sysconf(_SC_NPROCESSORS_ONLN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Signals go to the main thread's sigtimedwait(), never a worker. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	port = cport_create(NULL);	/* concurrency = CPUs, LIFO */
	if (port < 0)
		die("cport_create", -port);
	ret = cport_query(port, &info);
	if (ret < 0)
		die("cport_query", -ret);
	if (!(info.features & CPORT_FEAT_SOCKETS)) {
		fprintf(stderr, "echo_server: this cport module has no socket operations\n");
		return 1;
	}

	tcp = listen_tcp(opt_port);
	if (opt_unix)
		ux = listen_unix(opt_unix);

	workers = calloc(opt_threads, sizeof(*workers));
	if (!workers)
		die("calloc", ENOMEM);
	for (i = 0; i < opt_threads; i++) {
		workers[i].id = i;
		ret = pthread_create(&workers[i].thread, NULL, worker_main,
				     &workers[i]);
		if (ret)
			die("pthread_create", ret);
	}
	start_accepts(tcp);
	if (ux)
		start_accepts(ux);
	printf("echo_server: %d workers on one port (concurrency %u), sends %s, listening on %s%s%s\n",
	       opt_threads, info.concurrency,
	       opt_inline ? "inline when possible" : "always posted",
	       tcp->name, ux ? " and " : "", ux ? ux->name : "");

	why = wait_for_stop(&set);
	printf("echo_server: stopping: %s\n", why);
	drained = drain();
	if (drained) {
		/* PostQueuedCompletionStatus: one quit per worker. */
		for (i = 0; i < opt_threads; i++) {
			ret = cport_post(port, 0, QUIT_COOKIE, 0, 0);
			if (ret < 0)
				die("post quit", -ret);
		}
	} else {
		fprintf(stderr, "echo_server: %ld connections did not close within 10 s; destroying the port\n",
			__atomic_load_n(&live_conns, __ATOMIC_ACQUIRE));
		cport_destroy(port);
	}
	for (i = 0; i < opt_threads; i++)
		pthread_join(workers[i].thread, NULL);
	print_table(workers, opt_threads);
	print_costs(workers, opt_threads);
	cport_close(port);
	close(tcp->fd);
	free(tcp);
	if (ux) {
		close(ux->fd);
		unlink(opt_unix);
		free(ux);
	}
	free(workers);
	return drained ? 0 : 1;
}
