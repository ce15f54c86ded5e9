/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The echo servers of `make bench`: what server.c (options, measurement,
 * main()) and the four models share.  One file per model:
 *
 *   srv_epoll_rp.c      epoll-rp
 *   srv_epoll_shared.c  epoll-shared
 *   srv_uring.c         uring
 *   srv_cport.c         cport
 *
 * A model is a struct model: main() calls its start() once, then runs its
 * worker() in each worker thread; the workers count what they did in
 * their struct worker and never return while the server runs.
 *
 * What a model sends back is the protocol's business (-k, server.c):
 * echo (what was received), sockperf (its framed messages, the pong
 * requests sent back) or http (a fixed response per request).  A model
 * hands each received buffer to proto_input() and sends what it returns.
 */
#ifndef BENCH_SERVER_H
#define BENCH_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_WORKERS	64
#define BUF_SIZE	16384

struct worker {
	pthread_t thread;
	int id;
	int epfd, lfd;
	_Atomic uint64_t calls, events, requests, accepts;
	long long last_window;
	unsigned int seed;
} __attribute__((aligned(64)));

struct model {
	const char *name;
	/*
	 * One worker per CPU, each with its own SO_REUSEPORT listener
	 * (w->lfd, non-blocking); otherwise a pool of two workers per CPU
	 * that start() gives one shared listener.
	 */
	bool per_cpu;
	/* Events or completions taken per wait: -1 all that are ready, 0 -b. */
	int batch;
	void (*start)(void);		/* before the workers; may be NULL */
	void *(*worker)(void *);	/* arg: its struct worker */
	void (*stop)(void);		/* at SIGTERM; may be NULL */
};

extern const struct model model_epoll_rp, model_epoll_shared, model_uring,
	model_cport, model_cport_ms, model_cport_msr;

enum proto { PROTO_ECHO, PROTO_SOCKPERF, PROTO_HTTP };

/*
 * The bytes a model keeps free before each receive buffer: proto_input()
 * may write a sockperf header carried over from the previous receive
 * (at most SOCKPERF_HDR - 1 bytes) in front of what was received.
 */
#define PROTO_HEADROOM	16
#define SOCKPERF_HDR	14	/* seq 8, flags 2, length 4; big-endian */
#define HTTP_RESP_LEN	128	/* one response, headers and body */
#define HTTP_MAX_RESP	32	/* responses sent for one receive, at most */

/* Per connection, indexed by fd; proto_open() resets it. */
struct pstate {
	uint32_t left;		/* sockperf: bytes of the body to go */
	uint8_t have;		/* sockperf: header bytes kept in hdr */
	uint8_t reply;		/* sockperf: this message goes back */
	uint8_t match;		/* http: bytes of "\r\n\r\n" matched */
	uint8_t hdr[SOCKPERF_HDR];
};

extern enum proto opt_proto;
/* HTTP_MAX_RESP copies of the response, back to back; never written. */
extern const char *http_block;

/* Options (server.c). */
extern int opt_port, opt_batch, opt_concurrency;
extern const char *opt_policy, *opt_tag;

/* The cport model's port, whose fdinfo counters the report adds; or -1. */
extern int srv_port;
/* The io_uring setup flags worker 0 got (srv_uring.c), for the report. */
extern unsigned int uring_flags;

#define COUNT(w, field, n) \
	atomic_fetch_add_explicit(&(w)->field, (n), memory_order_relaxed)

/* What the models share (server.c). */
void die(const char *what, int err);
long long now_ns(void);
void serve(struct worker *w);
void handled(struct worker *w, unsigned int nr);
int listener(bool reuseport);

/* The protocols (server.c). */
void proto_open(int fd);
ssize_t proto_input(struct worker *w, int fd, char *buf, size_t len,
		    const char **out);

/*
 * The readiness models (epoll-rp, epoll-shared): read, answer, accept;
 * buf has PROTO_HEADROOM bytes before it.
 */
bool echo_once(struct worker *w, int fd, char *buf);
void accept_all(struct worker *w, int epfd, int lfd, unsigned int ev);

#endif /* BENCH_SERVER_H */
