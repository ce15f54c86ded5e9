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
#include <pthread.h>
#include <sched.h>
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

struct ms_thread;

/* An arrival of a multishot RECV, or its end, kept for later (cport-ms). */
struct ms_node {
	struct ms_node *next;
	uint32_t seq;
	int32_t res;
	uint16_t bid;
	bool end;
};

/* The completion key and, with the kind in its low bits, the cookie. */
struct conn {
	int fd;
	char *buf[2];
	/* cport-ms: its arrivals in order (see cport_ms_main) */
	pthread_mutex_t lock;
	struct ms_thread *owner;	/* lock; an owner until done >= ticket */
	uint64_t ticket;		/* lock */
	struct ms_node *stash, *stash_tail; /* lock: early ones, by seq */
	uint32_t next_seq;		/* lock: the one to handle next */
	uint16_t gen;			/* lock: the RECV armed now */
	bool broken;			/* owner: the protocol broke */
	_Atomic bool stashed;		/* stash != NULL, a hint */
	struct ms_node end;		/* lock: the RECV's end, kept */
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
	pthread_mutex_init(&c->lock, NULL);
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
/*
 * cport-msr: the port's completion ring (cport_ring(3)), which srv_enter()
 * takes from before it enters the kernel: with nothing to submit it takes
 * without a system call; with submissions, if the ring holds entries, it
 * submits without a wait and takes them.  Counted: the system calls made.
 */
#define MSR_RING_ENTRIES	4096

static unsigned int srv_ring_entries;
static struct cport_ring srv_ring;
/*
 * Whether the port counts this thread as running (its last wait in the
 * kernel returned completions): only then may it take from the ring, or
 * threads the port holds back at its concurrency value would run.
 */
static __thread bool srv_counted;

static bool srv_ring_nonempty(void)
{
	return __atomic_load_n(&srv_ring.hdr->tail, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&srv_ring.hdr->head, __ATOMIC_RELAXED);
}

/* cport_enter.submitted before the kernel wrote it (cport-ms). */
#define MS_UNSUBMITTED	UINT32_MAX

/*
 * Submit @nr records and wait for up to @max completions.  With @pub (the
 * thread's record that other threads read, cport-ms): the call is made
 * through it, and pub->submitted tells them when the submissions are in
 * the kernel (the kernel writes it after them, before it waits); the
 * caller set it to MS_UNSUBMITTED.
 */
static int srv_enter(struct worker *w, struct cport_sqe *sq, unsigned int nr,
		     struct cport_cqe *cq, unsigned int max,
		     unsigned int *submitted, long long timeout_ns,
		     struct cport_enter *pub)
{
	unsigned int n, done = 0;
	int ret;

	*submitted = 0;
	if (srv_ring.hdr && max && srv_counted) {
		if (nr && srv_ring_nonempty()) {
			ret = cport_submit_and_wait(srv_port, sq, nr, NULL, 0,
						    0, &done);
			COUNT(w, calls, 1);
			*submitted = done;
			if (ret < 0)
				goto out;
			if (pub) {	/* in the kernel: say so */
				__atomic_store_n(&pub->nr_sqes, done,
						 __ATOMIC_RELAXED);
				__atomic_store_n(&pub->submitted, done,
						 __ATOMIC_RELEASE);
			}
			nr = 0;
		}
		if (!nr) {
			n = cport_ring_take(&srv_ring, cq, max);
			if (n)
				return (int)n;
		}
	}
	if (pub && nr) {
		pub->sqes = (__u64)(uintptr_t)sq;
		pub->cqes = (__u64)(uintptr_t)cq;
		pub->max_cqes = max;
		pub->timeout_ns = timeout_ns;
		pub->flags = 0;
		__atomic_store_n(&pub->nr_sqes, nr, __ATOMIC_RELAXED);
		ret = cport_enter(srv_port, pub);
		done = __atomic_load_n(&pub->submitted, __ATOMIC_RELAXED);
		*submitted = done == MS_UNSUBMITTED ? 0 : done;
	} else {
		if (pub && *submitted == 0) {	/* nothing to order */
			__atomic_store_n(&pub->nr_sqes, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&pub->submitted, 0, __ATOMIC_RELEASE);
		}
		ret = cport_submit_and_wait(srv_port, nr ? sq : NULL, nr, cq,
					    max, timeout_ns,
					    nr ? submitted : NULL);
	}
	COUNT(w, calls, 1);
	if (max)
		srv_counted = ret > 0;
out:
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
		ret = srv_enter(w, sq, nr, cq, max, &submitted, -1, NULL);
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
	struct cport_setup s = { .policy = policy,
				 .concurrency = opt_concurrency };
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
	if (srv_ring_entries)
		srv_port = cport_create_ring(&s, srv_ring_entries, &srv_ring);
	else
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

/*
 * user_data: the connection, the kind, and in the top 16 bits a SEND's
 * buffer id or a RECV's generation.
 */
#define MUD(c, kind, x)	((__u64)(uintptr_t)(c) | (kind) << 1 | \
			 (__u64)(x) << 48)
#define MUD_CONN(u)	((struct conn *)(uintptr_t)((u) & 0xfffffffffff8ULL))
#define MUD_BID(u)	((unsigned int)((u) >> 48))
#define MUD_GEN(u)	((uint16_t)((u) >> 48))

/* An arrival kept for later: the node of its buffer. */
static struct ms_node ms_nodes[MS_NBUFS];

/*
 * What other threads read of a thread: the submissions it has made, the
 * one it is making now (0: none) and the record of that call, whose
 * submitted field the kernel writes once the records are in.
 */
struct ms_thread {
	_Atomic uint64_t done;
	_Atomic uint64_t entering;
	struct cport_enter e;
} __attribute__((aligned(64)));

static struct ms_thread ms_threads[MAX_WORKERS];

/* A close or shutdown that waits for the submission before it. */
struct ms_after {
	int fd;
	int how;			/* SHUT_RDWR, or -1: close */
};

/* A worker's own state. */
struct ms_ctx {
	struct worker *w;
	struct ms_thread *t;
	uint64_t done;			/* t->done, which only we write */
	struct cport_sqe *sq;		/* the next submission */
	unsigned int nr, cap;
	unsigned int *back;		/* cap buffer ids */
	struct conn **owned;		/* taken since the last submission */
	unsigned int nowned, owned_cap;
	struct ms_after *after;
	unsigned int nafter, after_cap;
};

static char *ms_buf(unsigned int bid)
{
	return ms_pool + (size_t)bid * MS_STRIDE + PROTO_HEADROOM;
}

static void ms_prep_give_back(struct cport_sqe *sqe, unsigned int bid)
{
	cport_prep_provide_buffers(sqe, MS_GROUP, ms_buf(bid), MS_BUFSZ, 1,
				   bid);
}

/* Array @a of @n (@size bytes each), with room for one more. */
static void *ms_grow(void *a, unsigned int *cap, unsigned int n, size_t size)
{
	if (n < *cap)
		return a;
	*cap = *cap ? 2 * *cap : 16;
	a = realloc(a, *cap * size);
	if (!a)
		die("realloc", ENOMEM);
	return a;
}

/*
 * @submitted of the x->nr records were taken: the buffers of the answers
 * sent inline go back in the next submission.  If one was refused
 * (srv_enter() said so), it is dropped (a SEND's buffer goes back) and
 * the records after it, which were not taken, are kept in order.  Returns
 * how many were kept.
 */
static unsigned int ms_submitted(struct ms_ctx *x, unsigned int submitted)
{
	unsigned int i, give = 0, rest = 0;

	for (i = 0; i < submitted; i++)
		if (x->sq[i].opcode == CPORT_OP_SEND &&
		    x->sq[i].status == CPORT_STATUS_INLINE)
			x->back[give++] = MUD_BID(x->sq[i].user_data);
	if (submitted < x->nr) {
		if (x->sq[submitted].opcode == CPORT_OP_SEND)
			x->back[give++] = MUD_BID(x->sq[submitted].user_data);
		rest = x->nr - submitted - 1;
		memmove(&x->sq[give], &x->sq[submitted + 1],
			rest * sizeof(*x->sq));
	}
	for (i = 0; i < give; i++)
		ms_prep_give_back(&x->sq[i], x->back[i]);
	x->nr = give + rest;
	return rest;
}

/* Submit what is queued now, without waiting (the array is full). */
static void ms_flush(struct ms_ctx *x)
{
	unsigned int submitted;

	while (x->nr) {
		srv_enter(x->w, x->sq, x->nr, NULL, 0, &submitted, 0, NULL);
		ms_submitted(x, submitted);
	}
}

/* A record in the next submission. */
static struct cport_sqe *ms_sqe(struct ms_ctx *x)
{
	if (x->nr == x->cap)
		ms_flush(x);
	return &x->sq[x->nr++];
}

static void ms_after(struct ms_ctx *x, int fd, int how)
{
	x->after = ms_grow(x->after, &x->after_cap, x->nafter,
			   sizeof(*x->after));
	x->after[x->nafter].fd = fd;
	x->after[x->nafter++].how = how;
}

/*
 * Is submission @ticket of thread @o in the kernel (the socket has its
 * answers, in order)?  It is while @o makes that call and the kernel has
 * written all of its records as taken; entering read again after, since
 * the record is reused by the next call.
 */
static bool ms_sent(struct ms_thread *o, uint64_t ticket)
{
	uint32_t sub, nr;

	if (atomic_load(&o->entering) != ticket)
		return false;
	sub = __atomic_load_n(&o->e.submitted, __ATOMIC_ACQUIRE);
	nr = __atomic_load_n(&o->e.nr_sqes, __ATOMIC_RELAXED);
	return sub == nr && atomic_load(&o->entering) == ticket;
}

/*
 * Under c->lock: may x take @c?  Nobody owns it, or x does, or its
 * owner's submission that carries its answers is made or in the kernel.
 */
static bool ms_free(struct ms_ctx *x, struct conn *c)
{
	return !c->owner || c->owner == x->t ||
	       atomic_load(&c->owner->done) >= c->ticket ||
	       ms_sent(c->owner, c->ticket);
}

/* Under c->lock, ms_free(): x owns @c until its next submission is made. */
static void ms_take(struct ms_ctx *x, struct conn *c)
{
	if (c->owner == x->t && c->ticket > x->done)
		return;			/* since the last submission */
	c->owner = x->t;
	c->ticket = x->done + 1;
	x->owned = ms_grow(x->owned, &x->owned_cap, x->nowned,
			   sizeof(*x->owned));
	x->owned[x->nowned++] = c;
}

/* Under c->lock: @n, numbered next_seq, is handled now. */
static void ms_advance(struct conn *c, struct ms_node *n)
{
	if (!n->end) {
		c->next_seq++;
		return;
	}
	/* The RECV is over; one armed again numbers from 0. */
	c->next_seq = 0;
	c->gen++;
}

/* Under c->lock: keep @n for later, in seq order. */
static void ms_stash(struct conn *c, struct ms_node *n)
{
	uint32_t d = n->seq - c->next_seq;
	struct ms_node **p = &c->stash;

	if (c->stash_tail && c->stash_tail->seq - c->next_seq < d) {
		p = &c->stash_tail->next;	/* the usual case: the last */
	} else {
		while (*p && (*p)->seq - c->next_seq < d)
			p = &(*p)->next;
		if (*p && (*p)->seq == n->seq) {
			fprintf(stderr, "server: cport-ms: arrival %u twice\n",
				n->seq);
			abort();
		}
	}
	n->next = *p;
	*p = n;
	if (!n->next)
		c->stash_tail = n;
	/* Then the owner is looked at again: see cport_ms_main. */
	atomic_store(&c->stashed, true);
}

/*
 * Under c->lock, c taken: detach the kept arrivals that follow on from
 * next_seq, in order.
 */
static struct ms_node *ms_unstash(struct conn *c)
{
	struct ms_node *run = c->stash, *n, *last = NULL;

	for (n = c->stash; n && n->seq == c->next_seq; n = n->next) {
		ms_advance(c, n);
		last = n;
		if (n->end)
			break;
	}
	if (!last)
		return NULL;
	c->stash = last->next;
	last->next = NULL;
	if (!c->stash) {
		c->stash_tail = NULL;
		atomic_store_explicit(&c->stashed, false,
				      memory_order_relaxed);
	} else if (last->end) {
		fprintf(stderr, "server: cport-ms: arrival %u after the end\n",
			c->stash->seq);
		abort();
	}
	return run;
}

/* Handle @n of @c (owned), in order: queue its answer. */
static void ms_handle(struct ms_ctx *x, struct conn *c, struct ms_node *n)
{
	struct cport_sqe *sqe;
	const char *out;
	ssize_t len;

	if (n->end) {
		/* It ended: out of buffers, or the end. */
		if (n->res == -ENOBUFS && !c->broken)
			cport_prep_recv_multishot(ms_sqe(x), c->fd, MS_GROUP,
						  MUD(c, C_RECV, c->gen));
		else
			ms_after(x, c->fd, -1);	/* after its answers */
		return;
	}
	if (c->broken) {
		ms_prep_give_back(ms_sqe(x), n->bid);
		return;
	}
	len = proto_input(x->w, c->fd, ms_buf(n->bid), n->res, &out);
	if (len < 0) {
		/* the RECV ends: then close */
		c->broken = true;
		ms_after(x, c->fd, SHUT_RDWR);
		ms_prep_give_back(ms_sqe(x), n->bid);
	} else if (len > 0) {
		sqe = ms_sqe(x);
		cport_prep_send(sqe, c->fd, out, len, MUD(c, C_SEND, n->bid));
		sqe->flags = CPORT_SQE_INLINE;
	} else {
		ms_prep_give_back(ms_sqe(x), n->bid);
	}
}

/* Handle the chain @run of @c, which x owns. */
static void ms_handle_run(struct ms_ctx *x, struct conn *c,
			  struct ms_node *run)
{
	struct ms_node *next;

	for (; run; run = next) {
		next = run->next;
		ms_handle(x, c, run);
	}
}

/*
 * If what is kept for @c can go now and x may take @c, take it and handle
 * that, in order.
 */
static void ms_take_kept(struct ms_ctx *x, struct conn *c)
{
	struct ms_node *run = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->stash && c->stash->seq == c->next_seq && ms_free(x, c)) {
		ms_take(x, c);
		run = ms_unstash(c);
	}
	pthread_mutex_unlock(&c->lock);
	ms_handle_run(x, c, run);
}

#define MS_POLLS	128

static inline void ms_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * An arrival of @c was kept while its owner @o is in the call (@ticket)
 * that carries c's answers, perhaps asleep in it: wait (briefly: the
 * kernel takes the records before it waits) until they are in, then take
 * @c and handle what is kept, unless another thread did.
 */
static void ms_follow(struct ms_ctx *x, struct conn *c, struct ms_thread *o,
		      uint64_t ticket)
{
	unsigned int polls = 0;

	/* Polls first: over loopback the owner is often mid-submission. */
	while (atomic_load(&o->done) < ticket && !ms_sent(o, ticket)) {
		if (++polls < MS_POLLS)
			ms_pause();
		else
			sched_yield();
	}
	ms_take_kept(x, c);
}

/*
 * Before the call that sends their answers (x->t->entering set): what
 * other threads kept for the connections x owns, and can go now, goes in
 * this submission too.  A thread that keeps an arrival sets c->stashed,
 * then looks at the owner's entering; the owner sets entering, then looks
 * at c->stashed (both sequentially consistent): either the owner handles
 * it here, or the other thread follows the owner's call (ms_follow()).
 */
static void ms_claim(struct ms_ctx *x)
{
	struct conn *c;
	unsigned int i;

	for (i = 0; i < x->nowned; i++) {
		c = x->owned[i];
		if (!atomic_load(&c->stashed))
			continue;
		ms_take_kept(x, c);
	}
}

/* A completion of a multishot RECV: an arrival, or the end. */
static void ms_recv(struct ms_ctx *x, const struct cport_cqe *e)
{
	struct conn *c = MUD_CONN(e->user_data);
	struct ms_node *n, *run = NULL;
	struct ms_thread *o = NULL;
	uint64_t ticket = 0;

	if (e->flags & CPORT_CQE_F_BUFFER) {
		if (e->buf >= MS_NBUFS)
			die("cport-ms: buffer id", ERANGE);
		n = &ms_nodes[e->buf];
		n->end = false;
		n->bid = e->buf;
	} else {
		n = &c->end;
		n->end = true;
	}
	n->seq = e->seq;
	n->res = (int32_t)e->res;
	n->next = NULL;

	pthread_mutex_lock(&c->lock);
	if (MUD_GEN(e->user_data) != c->gen ||
	    e->seq - c->next_seq >= 1U << 31) {
		fprintf(stderr,
			"server: cport-ms: RECV %u arrival %u, expected RECV %u from %u\n",
			MUD_GEN(e->user_data), e->seq, c->gen, c->next_seq);
		abort();
	}
	if (e->seq == c->next_seq && ms_free(x, c)) {
		ms_take(x, c);
		ms_advance(c, n);
		run = n;
		if (c->stash && n->end) {
			fprintf(stderr,
				"server: cport-ms: arrival %u after the end\n",
				c->stash->seq);
			abort();
		}
		if (c->stash)
			n->next = ms_unstash(c);
	} else {
		ms_stash(c, n);
		if (ms_free(x, c) && c->stash->seq == c->next_seq) {
			ms_take(x, c);
			run = ms_unstash(c);
		} else if (c->stash->seq == c->next_seq &&
			   atomic_load(&c->owner->entering) == c->ticket) {
			/* Its owner is in the call that sends its answers. */
			o = c->owner;
			ticket = c->ticket;
		}
	}
	pthread_mutex_unlock(&c->lock);
	ms_handle_run(x, c, run);
	if (o)
		ms_follow(x, c, o, ticket);
}

/*
 * The submission that carried the answers of the connections x owned has
 * been made: do what waited for it, end those ownerships, and handle what
 * was kept for later meanwhile (x owns those connections again).
 */
static void ms_release(struct ms_ctx *x)
{
	unsigned int i, n = x->nowned;
	struct conn *c;

	for (i = 0; i < x->nafter; i++) {
		if (x->after[i].how < 0)
			close(x->after[i].fd);
		else
			shutdown(x->after[i].fd, x->after[i].how);
		COUNT(x->w, calls, 1);
	}
	x->nafter = 0;
	/* Sequentially consistent, before the loads of c->stashed. */
	atomic_store(&x->t->done, ++x->done);
	for (i = 0; i < n; i++) {
		c = x->owned[i];
		if (!atomic_load(&c->stashed))
			continue;
		ms_take_kept(x, c);
	}
	/* Those taken again stay. */
	if (n) {
		memmove(x->owned, x->owned + n,
			(x->nowned - n) * sizeof(*x->owned));
		x->nowned -= n;
	}
}

/*
 * The worker of cport-ms.  Several threads dequeue from the one port, so
 * two arrivals of a connection (a client that pipelines: sockperf under
 * load) may be taken by two threads at once, while the protocol's parser
 * (proto_input(), state per connection) must see them in order and their
 * answers must reach the socket in order.  The kernel numbers a multishot
 * RECV's completions (struct cport_cqe.seq: the arrivals 0, 1, 2..., the
 * completion that ends it next) and keeps a socket's SENDs in submission
 * order; the rest is done here:
 *
 * - One thread at a time handles a connection: its owner.  A thread that
 *   dequeues the arrival numbered c->next_seq of a connection nobody owns
 *   takes it, handles it and the arrivals kept for later that follow on
 *   from it, and queues their answers (SENDs) in its next submission, in
 *   that order.  An arrival that comes early (with a gap before it), or
 *   while another thread owns the connection, is kept in the
 *   connection's stash, a list by seq, and the thread goes on with its
 *   other completions.  A kept arrival's node is its buffer's
 *   (ms_nodes[bid]), so the stash holds at most MS_NBUFS of them (and the
 *   end, c->end).  c->lock covers the owner, next_seq and the stash: one
 *   uncontended lock per arrival, the handling itself outside it.
 *
 * - An ownership lasts until the submission that carries those answers
 *   has been made: the socket then has them in order, ahead of whatever
 *   the next owner submits.  Each thread counts its submissions
 *   (ms_thread.done, which only it writes); a connection records the
 *   count at which its owner's ownership ends (c->ticket), so that all of
 *   a thread's ownerships end with one store, without their locks.
 *
 * - Nothing kept waits for a thread asleep in the kernel.  Before its
 *   call, a thread sets its entering (the ticket of that submission) and
 *   handles what was kept meanwhile for the connections it owns
 *   (ms_claim()); the call is made through a record other threads can
 *   read (ms_thread.e), whose submitted field the kernel writes once the
 *   records are in, before it waits.  A thread that keeps an arrival
 *   while the owner is in that call waits until the owner's records are
 *   in (ms_follow(): microseconds, the kernel's submission), then takes
 *   the connection and handles it: the owner's answers are in the socket
 *   first.  A thread that keeps an arrival sets c->stashed, then looks at
 *   the owner's entering and count; the owner sets them, then looks at
 *   c->stashed (ms_claim() before the call, ms_release() after): all
 *   sequentially consistent, so at least one of them sees the other.
 *   Threads always wait in the kernel with the caller's timeout.
 * - The completion that ends the RECV is kept and handled in order too:
 *   after -ENOBUFS the RECV is armed again, under a new generation
 *   (c->gen, in its user_data: MUD_GEN) that numbers from 0 again and is
 *   checked at each completion; otherwise the connection is closed.  A
 *   close, or the shutdown of a connection that broke the protocol, waits
 *   for the submission that carries the connection's answers before it.
 *
 * A close or shutdown is done after the call that carries the answers
 * before it; such a call is not followed (another thread taking the
 * connection over could close it first, and the descriptor be reused)
 * and so does not sleep: a call more at each connection's end.
 *
 * A client with one request in flight costs one lock per arrival and a
 * few atomic stores per call; no system call more.
 */
static void *cport_ms_main(void *arg)
{
	struct worker *w = arg;
	unsigned int max = opt_batch, submitted, i;
	struct cport_cqe *cq = calloc(max, sizeof(*cq));
	struct ms_ctx x = {
		.w = w,
		.t = &ms_threads[w->id],
		.cap = 3 * max + 2 < CPORT_MAX_ENTER ? 3 * max + 2 :
						       CPORT_MAX_ENTER,
	};
	int ret;

	x.sq = calloc(x.cap, sizeof(*x.sq));
	x.back = calloc(x.cap, sizeof(*x.back));
	if (!x.sq || !x.back || !cq)
		die("calloc", ENOMEM);
	for (;;) {
		if (x.nafter) {
			/*
			 * A close or shutdown waits for this call: nobody may
			 * take its connections over before it is done (the
			 * descriptor could be reused), so this call is not
			 * followed and does not sleep.  Once per connection.
			 */
			ret = srv_enter(w, x.sq, x.nr, cq, max, &submitted, 0,
					NULL);
		} else {
			/* Others may now follow this call (ms_sent()). */
			__atomic_store_n(&x.t->e.submitted, MS_UNSUBMITTED,
					 __ATOMIC_RELAXED);
			atomic_store(&x.t->entering, x.done + 1);
			ms_claim(&x);
			ret = srv_enter(w, x.sq, x.nr, cq, max, &submitted,
					x.nafter ? 0 : -1,
					x.nafter ? NULL : &x.t->e);
			atomic_store(&x.t->entering, 0);
		}
		if (ret == -EIDRM)
			break;
		if (ms_submitted(&x, submitted))
			ms_flush(&x);
		ms_release(&x);
		if (ret <= 0)
			continue;
		handled(w, ret);
		for (i = 0; i < (unsigned int)ret; i++) {
			struct cport_cqe *e = &cq[i];
			struct conn *c = MUD_CONN(e->user_data);

			if (e->op == CPORT_OP_POST)
				return NULL;
			switch (CUD_KIND(e->user_data)) {
			case C_ACCEPT:
				if (e->res >= 0) {
					conn_accepted(w, c, (int)e->res);
					cport_prep_recv_multishot(ms_sqe(&x),
						c->fd, MS_GROUP,
						MUD(c, C_RECV, 0));
				}
				cport_prep_accept_conn(ms_sqe(&x), false);
				break;
			case C_RECV:
				ms_recv(&x, e);
				break;
			case C_SEND:	/* posted: the socket was full */
				ms_prep_give_back(ms_sqe(&x),
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

/* cport-ms with the port's completion ring, taken from in srv_enter(). */
static void cport_msr_start(void)
{
	srv_ring_entries = MSR_RING_ENTRIES;
	cport_ms_start();
}

const struct model model_cport_msr = {
	.name = "cport-msr",
	.batch = 0,
	.start = cport_msr_start,
	.worker = cport_ms_main,
	.stop = cport_stop,
};
