// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * uring: one io_uring per worker and one SO_REUSEPORT listener per worker:
 * multishot accept, multishot recv from a provided buffer ring, send from
 * the received buffer, io_uring_submit_and_wait() batching (liburing's
 * idiom).  A provided buffer keeps PROTO_HEADROOM bytes in front of it
 * (server.h): what goes back is sent from the buffer it came in, or
 * (http) from http_block.  The ring gets the first task-run flags the
 * kernel takes: SINGLE_ISSUER|DEFER_TASKRUN, else
 * COOP_TASKRUN|TASKRUN_FLAG, else none.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

#define URING_ENTRIES	1024
#define URING_NBUF	1024		/* buffers in each ring's group */
#define URING_BUF	4096
#define URING_STRIDE	(PROTO_HEADROOM + URING_BUF)	/* a buffer's */
#define URING_BGID	1

unsigned int uring_flags;

/*
 * user_data: kind 4 bits | bid 12 | off 13 | len 13 | fd 22; a send is of
 * bytes off to len of the buffer's slot (U_SEND) or of http_block
 * (U_SEND_FIXED).
 */
enum { U_ACCEPT = 1, U_RECV, U_SEND, U_SEND_FIXED };
#define UD(kind, bid, off, len, fd) \
	((uint64_t)(kind) << 60 | (uint64_t)(bid) << 48 | \
	 (uint64_t)(off) << 35 | (uint64_t)(len) << 22 | (uint64_t)(fd))
#define UD_KIND(u)	((unsigned int)((u) >> 60))
#define UD_BID(u)	((unsigned int)((u) >> 48) & 0xfff)
#define UD_OFF(u)	((unsigned int)((u) >> 35) & 0x1fff)
#define UD_LEN(u)	((unsigned int)((u) >> 22) & 0x1fff)
#define UD_FD(u)	((int)((u) & 0x3fffff))

struct uring_ctx {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	struct worker *w;
};

static struct io_uring_sqe *get_sqe(struct uring_ctx *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		io_uring_submit(&u->ring);
		COUNT(u->w, calls, 1);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static void uring_arm_recv(struct uring_ctx *u, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = URING_BGID;
	io_uring_sqe_set_data64(sqe, UD(U_RECV, 0, 0, 0, fd));
}

static void uring_arm_accept(struct uring_ctx *u)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_multishot_accept(sqe, u->w->lfd, NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(U_ACCEPT, 0, 0, 0, 0));
}

static char *uring_slot(struct uring_ctx *u, unsigned int bid)
{
	return u->bufs + (size_t)bid * URING_STRIDE;
}

static void uring_send(struct uring_ctx *u, int kind, int fd,
		       unsigned int bid, unsigned int off, unsigned int len)
{
	struct io_uring_sqe *sqe = get_sqe(u);
	const char *base = kind == U_SEND ? uring_slot(u, bid) : http_block;

	io_uring_prep_send(sqe, fd, base + off, len - off, 0);
	io_uring_sqe_set_data64(sqe, UD(kind, bid, off, len, fd));
}

static void uring_put_buf(struct uring_ctx *u, unsigned int bid)
{
	io_uring_buf_ring_add(u->br, uring_slot(u, bid) + PROTO_HEADROOM,
			      URING_BUF, bid,
			      io_uring_buf_ring_mask(URING_NBUF), 0);
	io_uring_buf_ring_advance(u->br, 1);
}

/* res bytes arrived in buffer bid on fd: send the answer, if any. */
static void uring_input(struct uring_ctx *u, int fd, unsigned int bid,
			int res)
{
	char *slot = uring_slot(u, bid);
	const char *out;
	ssize_t n;

	n = proto_input(u->w, fd, slot + PROTO_HEADROOM, res, &out);
	if (n > 0 && out != http_block) {
		uring_send(u, U_SEND, fd, bid, out - slot, out - slot + n);
		return;
	}
	uring_put_buf(u, bid);
	if (n > 0)
		uring_send(u, U_SEND_FIXED, fd, 0, 0, n);
	else if (n < 0)		/* the recv ends, then the fd is closed */
		shutdown(fd, SHUT_RDWR);
}

static void uring_setup(struct uring_ctx *u)
{
	static const unsigned int tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	struct io_uring_buf_reg reg = { 0 };
	unsigned int i;
	int ret = -EINVAL;

	for (i = 0; i < 3 && ret == -EINVAL; i++) {
		struct io_uring_params p = { .flags = tries[i] };

		ret = io_uring_queue_init_params(URING_ENTRIES, &u->ring, &p);
		if (!ret && u->w->id == 0)
			uring_flags = tries[i];
	}
	if (ret < 0)
		die("io_uring_queue_init_params", -ret);
	u->br = mmap(NULL, URING_NBUF * sizeof(struct io_uring_buf),
		     PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	u->bufs = malloc((size_t)URING_NBUF * URING_STRIDE);
	if (u->br == MAP_FAILED || !u->bufs)
		die("buffer ring", ENOMEM);
	reg.ring_addr = (unsigned long)u->br;
	reg.ring_entries = URING_NBUF;
	reg.bgid = URING_BGID;
	ret = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (ret < 0)
		die("io_uring_register_buf_ring", -ret);
	io_uring_buf_ring_init(u->br);
	for (i = 0; i < URING_NBUF; i++)
		io_uring_buf_ring_add(u->br, uring_slot(u, i) + PROTO_HEADROOM,
				      URING_BUF, i,
				      io_uring_buf_ring_mask(URING_NBUF), i);
	io_uring_buf_ring_advance(u->br, URING_NBUF);
}

static void uring_cqe(struct uring_ctx *u, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	bool more = cqe->flags & IORING_CQE_F_MORE;
	struct worker *w = u->w;
	int one = 1, res = cqe->res;
	unsigned int bid;

	switch (UD_KIND(ud)) {
	case U_ACCEPT:
		if (res >= 0) {
			COUNT(w, accepts, 1);
			setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			COUNT(w, calls, 1);
			proto_open(res);
			uring_arm_recv(u, res);
		}
		if (!more)
			uring_arm_accept(u);
		break;
	case U_RECV:
		if (res > 0) {
			bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			uring_input(u, UD_FD(ud), bid, res);
			if (!more)
				uring_arm_recv(u, UD_FD(ud));
		} else if (res == -ENOBUFS) {
			uring_arm_recv(u, UD_FD(ud));	/* buffers come back */
		} else if (!more) {
			close(UD_FD(ud));
			COUNT(w, calls, 1);
		}
		break;
	case U_SEND:
	case U_SEND_FIXED:
		bid = UD_BID(ud);
		if (res > 0 && UD_OFF(ud) + res < UD_LEN(ud))
			uring_send(u, UD_KIND(ud), UD_FD(ud), bid,
				   UD_OFF(ud) + res, UD_LEN(ud));
		else if (UD_KIND(ud) == U_SEND)
			uring_put_buf(u, bid);
		break;
	}
}

static void *uring_main(void *arg)
{
	struct uring_ctx u = { .w = arg };
	struct io_uring_cqe *cqe;
	unsigned int head, nr;

	uring_setup(&u);
	uring_arm_accept(&u);
	for (;;) {
		io_uring_submit_and_wait(&u.ring, 1);
		COUNT(u.w, calls, 1);
		nr = 0;
		io_uring_for_each_cqe(&u.ring, head, cqe) {
			uring_cqe(&u, cqe);
			nr++;
		}
		io_uring_cq_advance(&u.ring, nr);
		if (nr)
			handled(u.w, nr);
	}
	return NULL;
}

const struct model model_uring = {
	.name = "uring",
	.per_cpu = true,
	.batch = -1,
	.worker = uring_main,
};
