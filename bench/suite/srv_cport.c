// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * cport: one port, N workers, release policy -P (by the name fdinfo
 * prints: lifo, fifo, rr, cpu), each loop one cport_submit_and_wait()
 * that submits everything the last batch of completions asked for (SEND
 * inline when it can finish at once, the next RECV into the connection's
 * other buffer) and waits for up to -b completions.  Each buffer keeps
 * PROTO_HEADROOM bytes in front of it (server.h); the answer is sent from
 * it, or (http) from http_block.
 *
 * Exit status 3: the port cannot be set up with that policy (a module
 * without it); the line "csv,skip,TAG,..." says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cport.h"
#include "fdinfo.h"
#include "server.h"

#define NR_ACCEPTS	8		/* accepts outstanding */

int srv_port = -1;
static int shared_lfd = -1;

/* The completion key and, with the kind in its low bits, the cookie. */
struct conn {
	int fd;
	char *buf[2];
} __attribute__((aligned(8)));

enum { C_ACCEPT = 0, C_RECV = 1, C_SEND = 2, C_QUIT = 7 };
#define CUD(c, kind, k)	((__u64)(uintptr_t)(c) | (kind) << 1 | (k))
#define CUD_CONN(u)	((struct conn *)(uintptr_t)((u) & ~7ULL))
#define CUD_KIND(u)	((unsigned int)((u) >> 1) & 3)
#define CUD_BUF(u)	((unsigned int)(u) & 1)

/* A connection to come; with @bufs, its two receive buffers. */
static struct conn *conn_new(bool bufs)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("calloc", ENOMEM);
	c->fd = -1;
	if (!bufs)
		return c;
	c->buf[0] = malloc(PROTO_HEADROOM + BUF_SIZE);
	c->buf[1] = malloc(PROTO_HEADROOM + BUF_SIZE);
	if (!c->buf[0] || !c->buf[1])
		die("malloc", ENOMEM);
	c->buf[0] += PROTO_HEADROOM;
	c->buf[1] += PROTO_HEADROOM;
	return c;
}

/* An ACCEPT of a new connection (cport-ms: without receive buffers). */
static void cport_prep_accept_conn(struct cport_sqe *sqe, bool bufs)
{
	struct conn *c = conn_new(bufs);

	cport_prep_accept(sqe, shared_lfd, NULL, 0, CUD(c, C_ACCEPT, 0),
			  (__u64)(uintptr_t)c,
			  CPORT_ACCEPT_ASSOCIATE | CPORT_ACCEPT_CLOEXEC);
}

/*
 * One cport_submit_and_wait() of a worker's loop: submit @nr, wait for up
 * to @max (@timeout_ns: -1 without a limit, 0 only look); a refused
 * submission is reported.
 */
static int srv_enter(struct worker *w, struct cport_sqe *sq, unsigned int nr,
		     struct cport_cqe *cq, unsigned int max,
		     unsigned int *submitted, long long timeout_ns)
{
	int ret;

	*submitted = 0;
	ret = cport_submit_and_wait(srv_port, sq, nr, cq, max, timeout_ns,
				    submitted);
	COUNT(w, calls, 1);
	if (ret < 0 && nr && *submitted < nr)
		fprintf(stderr, "server: submission %u (opcode %u) failed: %s\n",
			*submitted, sq[*submitted].opcode, strerror(-ret));
	return ret;
}

/* Connection @c was accepted as @fd: TCP_NODELAY, the protocol's state. */
static void conn_accepted(struct worker *w, struct conn *c, int fd)
{
	int one = 1;

	COUNT(w, accepts, 1);
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	COUNT(w, calls, 1);
	proto_open(fd);
}

static void *cport_main(void *arg)
{
	struct worker *w = arg;
	unsigned int max = opt_batch, nr = 0, submitted, i;
	struct cport_sqe *sq = calloc(2 * max + 2, sizeof(*sq));
	struct cport_cqe *cq = calloc(max, sizeof(*cq));
	const char *out;
	int ret;
	ssize_t n;

	for (;;) {
		ret = srv_enter(w, sq, nr, cq, max, &submitted, -1);
		nr = 0;
		if (ret == -EIDRM)
			break;
		if (ret <= 0)
			continue;
		handled(w, ret);
		for (i = 0; i < (unsigned int)ret; i++) {
			struct cport_cqe *e = &cq[i];
			struct conn *c = CUD_CONN(e->user_data);
			unsigned int k = CUD_BUF(e->user_data);

			if (e->op == CPORT_OP_POST)
				return NULL;
			switch (CUD_KIND(e->user_data)) {
			case C_ACCEPT:
				if (e->res >= 0) {
					conn_accepted(w, c, (int)e->res);
					cport_prep_recv(&sq[nr++], c->fd,
							c->buf[0], BUF_SIZE,
							CUD(c, C_RECV, 0), 0);
				}
				cport_prep_accept_conn(&sq[nr++], true);
				break;
			case C_RECV:
				if (e->res <= 0) {
					/*
					 * A posted SEND may still complete
					 * later with this key: c is not
					 * reused.
					 */
					close(c->fd);
					COUNT(w, calls, 1);
					break;
				}
				n = proto_input(w, c->fd, c->buf[k], e->res,
						&out);
				if (n < 0) {
					/* the RECV below ends: then close */
					shutdown(c->fd, SHUT_RDWR);
				} else if (n > 0) {
					cport_prep_send(&sq[nr], c->fd, out, n,
							CUD(c, C_SEND, k));
					sq[nr++].flags = CPORT_SQE_INLINE;
				}
				cport_prep_recv(&sq[nr++], c->fd, c->buf[k ^ 1],
						BUF_SIZE, CUD(c, C_RECV, k ^ 1),
						0);
				break;
			case C_SEND:	/* posted: the socket was full */
				break;
			}
		}
	}
	return NULL;
}

/* The skip line for a policy this module does not run; exits 3. */
static void skip(const char *why)
{
	printf("csv,skip,%s,model=cport,policy=%s,why=%s\n", opt_tag,
	       opt_policy, why);
	exit(3);
}

static void cport_start(void)
{
	int i, ret, policy = fdinfo_policy(opt_policy);
	struct cport_setup s = { .policy = policy };
	struct cport_sqe sq[NR_ACCEPTS];
	struct cport_info info;
	char why[128];

	if (policy < 0) {
		fprintf(stderr, "server: no policy '%s' (lifo, fifo, rr, cpu)\n",
			opt_policy);
		exit(2);
	}
	/* A submission array of 2 * batch + 2 entries per call. */
	if (opt_batch > CPORT_MAX_ENTER / 2 - 1) {
		fprintf(stderr, "server: -b %d: at most %d\n", opt_batch,
			CPORT_MAX_ENTER / 2 - 1);
		exit(2);
	}
	srv_port = cport_create(&s);
	if (srv_port == -EINVAL && policy > CPORT_POLICY_FIFO)
		skip("setup returned EINVAL: this kernel module has no such policy");
	if (srv_port < 0)
		die("cport_create", -srv_port);
	/* A module older than the header may take the number and ignore it. */
	ret = cport_query(srv_port, &info);
	if (ret < 0)
		die("cport_query", -ret);
	if (!(info.policies & (1U << policy))) {
		snprintf(why, sizeof(why),
			 "the module does not list this policy in CPORT_IOC_QUERY (policies 0x%x)",
			 info.policies);
		skip(why);
	}
	shared_lfd = listener(false);
	ret = cport_associate(srv_port, shared_lfd, 0, 0);
	if (ret < 0)
		die("cport_associate", -ret);
	for (i = 0; i < NR_ACCEPTS; i++)
		cport_prep_accept_conn(&sq[i], true);
	ret = cport_submit(srv_port, sq, NR_ACCEPTS);
	if (ret < 0)
		die("cport_submit accepts", -ret);
}

/* Wakes every worker with -EIDRM. */
static void cport_stop(void)
{
	cport_destroy(srv_port);
}

const struct model model_cport = {
	.name = "cport",
	.batch = 0,
	.start = cport_start,
	.worker = cport_main,
	.stop = cport_stop,
};

/*
 * cport-ms: the same port and loop, but each connection has one multishot
 * RECV (CPORT_RECV_MULTISHOT) that takes its buffers from a buffer group
 * the server provides at start (MS_NBUFS of MS_BUFSZ, io_uring's provided
 * buffers), armed once per connection instead of once per request.  A
 * buffer goes back to the group (PROVIDE_BUFFERS, one record in the next
 * call) when the SEND of its answer is over: at once if it completed
 * inline, else with the SEND's completion.  A multishot RECV that ran out
 * of buffers (-ENOBUFS) is armed again.
 */
#define MS_GROUP	0
#define MS_NBUFS	2048
#define MS_BUFSZ	4096
#define MS_STRIDE	(PROTO_HEADROOM + MS_BUFSZ)

static char *ms_pool;

/* user_data: the connection, the kind, and for a SEND the buffer's id. */
#define MUD(c, kind, bid)	((__u64)(uintptr_t)(c) | (kind) << 1 | \
				 (__u64)(bid) << 48)
#define MUD_CONN(u)	((struct conn *)(uintptr_t)((u) & 0xfffffffffff8ULL))
#define MUD_BID(u)	((unsigned int)((u) >> 48))

static char *ms_buf(unsigned int bid)
{
	return ms_pool + (size_t)bid * MS_STRIDE + PROTO_HEADROOM;
}

static void ms_prep_give_back(struct cport_sqe *sqe, unsigned int bid)
{
	cport_prep_provide_buffers(sqe, MS_GROUP, ms_buf(bid), MS_BUFSZ, 1,
				   bid);
}

static void *cport_ms_main(void *arg)
{
	struct worker *w = arg;
	unsigned int max = opt_batch, nr = 0, submitted, i, give = 0;
	struct cport_sqe *sq = calloc(3 * max + 2, sizeof(*sq));
	unsigned int *back = calloc(2 * max + 2, sizeof(*back));
	struct cport_cqe *cq = calloc(max, sizeof(*cq));
	const char *out;
	int ret;
	ssize_t n;

	if (!sq || !back || !cq)
		die("calloc", ENOMEM);
	for (;;) {
		ret = srv_enter(w, sq, nr, cq, max, &submitted, -1);
		/* The buffers of the answers sent inline go back. */
		give = 0;
		for (i = 0; i < submitted; i++)
			if (sq[i].opcode == CPORT_OP_SEND &&
			    sq[i].status == CPORT_STATUS_INLINE)
				back[give++] = MUD_BID(sq[i].user_data);
		nr = 0;
		for (i = 0; i < give; i++)
			ms_prep_give_back(&sq[nr++], back[i]);
		if (ret == -EIDRM)
			break;
		if (ret <= 0)
			continue;
		handled(w, ret);
		for (i = 0; i < (unsigned int)ret; i++) {
			struct cport_cqe *e = &cq[i];
			struct conn *c = MUD_CONN(e->user_data);
			unsigned int kind = CUD_KIND(e->user_data);
			char *buf;

			if (e->op == CPORT_OP_POST)
				return NULL;
			switch (kind) {
			case C_ACCEPT:
				if (e->res >= 0) {
					conn_accepted(w, c, (int)e->res);
					cport_prep_recv_multishot(&sq[nr++],
						c->fd, MS_GROUP,
						MUD(c, C_RECV, 0));
				}
				cport_prep_accept_conn(&sq[nr++], false);
				break;
			case C_RECV:
				if (!(e->flags & CPORT_CQE_F_BUFFER)) {
					/* It ended: out of buffers, or the end. */
					if (e->res == -ENOBUFS) {
						cport_prep_recv_multishot(
							&sq[nr++], c->fd,
							MS_GROUP,
							MUD(c, C_RECV, 0));
					} else {
						close(c->fd);
						COUNT(w, calls, 1);
					}
					break;
				}
				buf = ms_buf(e->buf);
				n = proto_input(w, c->fd, buf, e->res, &out);
				if (n < 0) {
					/* the RECV ends: then close */
					shutdown(c->fd, SHUT_RDWR);
					ms_prep_give_back(&sq[nr++], e->buf);
				} else if (n > 0) {
					cport_prep_send(&sq[nr], c->fd, out, n,
							MUD(c, C_SEND, e->buf));
					sq[nr++].flags = CPORT_SQE_INLINE;
				} else {
					ms_prep_give_back(&sq[nr++], e->buf);
				}
				break;
			case C_SEND:	/* posted: the socket was full */
				ms_prep_give_back(&sq[nr++],
						  MUD_BID(e->user_data));
				break;
			}
		}
	}
	return NULL;
}

static void cport_ms_start(void)
{
	struct cport_sqe sq[NR_ACCEPTS];
	unsigned int i;
	int ret;

	cport_start();
	ms_pool = aligned_alloc(4096, (size_t)MS_NBUFS * MS_STRIDE);
	if (!ms_pool)
		die("aligned_alloc", ENOMEM);
	memset(ms_pool, 0, (size_t)MS_NBUFS * MS_STRIDE);
	for (i = 0; i < MS_NBUFS; i++) {
		ms_prep_give_back(&sq[0], i);
		ret = cport_submit(srv_port, sq, 1);
		if (ret < 0)
			die("cport_submit provide", -ret);
	}
}

const struct model model_cport_ms = {
	.name = "cport-ms",
	.batch = 0,
	.start = cport_ms_start,
	.worker = cport_ms_main,
	.stop = cport_stop,
};
