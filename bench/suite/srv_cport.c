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

static struct conn *conn_new(void)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("calloc", ENOMEM);
	c->fd = -1;
	c->buf[0] = malloc(PROTO_HEADROOM + BUF_SIZE);
	c->buf[1] = malloc(PROTO_HEADROOM + BUF_SIZE);
	if (!c->buf[0] || !c->buf[1])
		die("malloc", ENOMEM);
	c->buf[0] += PROTO_HEADROOM;
	c->buf[1] += PROTO_HEADROOM;
	return c;
}

static void cport_prep_accept_conn(struct cport_sqe *sqe)
{
	struct conn *c = conn_new();

	cport_prep_accept(sqe, shared_lfd, NULL, 0, CUD(c, C_ACCEPT, 0),
			  (__u64)(uintptr_t)c,
			  CPORT_ACCEPT_ASSOCIATE | CPORT_ACCEPT_CLOEXEC);
}

static void *cport_main(void *arg)
{
	struct worker *w = arg;
	unsigned int max = opt_batch, nr = 0, submitted, i;
	struct cport_sqe *sq = calloc(2 * max + 2, sizeof(*sq));
	struct cport_cqe *cq = calloc(max, sizeof(*cq));
	const char *out;
	int ret, one = 1;
	ssize_t n;

	for (;;) {
		submitted = 0;
		ret = cport_submit_and_wait(srv_port, sq, nr, cq, max, -1,
					    &submitted);
		COUNT(w, calls, 1);
		if (ret < 0 && nr && submitted < nr)
			fprintf(stderr, "server: submission %u (opcode %u) failed: %s\n",
				submitted, sq[submitted].opcode,
				strerror(-ret));
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
					COUNT(w, accepts, 1);
					c->fd = (int)e->res;
					setsockopt(c->fd, IPPROTO_TCP,
						   TCP_NODELAY, &one,
						   sizeof(one));
					COUNT(w, calls, 1);
					proto_open(c->fd);
					cport_prep_recv(&sq[nr++], c->fd,
							c->buf[0], BUF_SIZE,
							CUD(c, C_RECV, 0), 0);
				}
				cport_prep_accept_conn(&sq[nr++]);
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
		cport_prep_accept_conn(&sq[i]);
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
