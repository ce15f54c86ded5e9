// SPDX-License-Identifier: GPL-2.0
/*
 * Submission order on one socket, whatever the number of threads waiting
 * on the port: 64 recvs outstanding at once (plain and CPORT_RECV_FILL)
 * while the peer writes a numbered stream in random-size chunks, and 64
 * sends of random sizes up to 256 KB while the peer reads, with 4 worker
 * threads taking the completions in any order; then recvs and sends
 * mixed on one socket.
 *
 * Ordered by submission index, the recvs' buffers must rebuild the
 * stream exactly (recv i fills before recv i + 1: each holds a
 * contiguous slice starting where the previous one ended), and the peer
 * must read the sends' buffers concatenated in submission order.  Every
 * operation completes once; no byte is written past a buffer.
 * The debug kernel gets smaller sends.
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY		0x6f72646572ULL
#define NR_OPS		64
#define NR_WORKERS	4
#define CANARY		16	/* bytes of 0xa5 after each buffer */

/* Completions taken by the workers, indexed by user_data. */
struct shared {
	int port;
	unsigned int nr;
	struct cport_cqe cqes[2 * NR_OPS];
	unsigned int seen[2 * NR_OPS];
	unsigned int done;	/* atomics from here on */
	unsigned int strays;
	unsigned int stop;
	int err;
};

struct worker {
	pthread_t thread;
	struct shared *sh;
	unsigned int seed;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct cport_cqe cqes[4];
	int n, i;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		/* Batches of 1 to 4, waits short enough to see stop. */
		n = cport_wait(sh->port, cqes, 1 + rand_r(&w->seed) % 4,
			       50 * NSEC_PER_MSEC);
		if (n == -ETIMEDOUT)
			continue;
		if (n < 0) {
			__atomic_store_n(&sh->err, n, __ATOMIC_RELAXED);
			break;
		}
		for (i = 0; i < n; i++) {
			__u64 ud = cqes[i].user_data;

			if (ud >= sh->nr) {
				__atomic_fetch_add(&sh->strays, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			sh->cqes[ud] = cqes[i];
			__atomic_fetch_add(&sh->seen[ud], 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&sh->done, 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

static unsigned int done_count(struct shared *sh)
{
	return __atomic_load_n(&sh->done, __ATOMIC_ACQUIRE);
}

/* Wait until @n completions were taken, bounded by PROGRESS_MS. */
static bool wait_done(struct shared *sh, unsigned int n)
{
	return wait_until(done_count(sh) >= n, PROGRESS_MS);
}

/* An arena of buffers, each followed by CANARY bytes of 0xa5. */
struct arena {
	unsigned char *mem;
	size_t len[2 * NR_OPS];
	size_t at[2 * NR_OPS];
};

static bool arena_alloc(struct arena *a, unsigned int nr)
{
	size_t total = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		a->at[i] = total;
		total += a->len[i] + CANARY;
	}
	a->mem = malloc(total ? total : 1);
	if (a->mem)
		memset(a->mem, 0xa5, total);
	return a->mem;
}

static unsigned char *arena_buf(struct arena *a, unsigned int i)
{
	return a->mem + a->at[i];
}

/* Index of the first buffer whose bytes from @from on were touched, or -1. */
static int arena_overrun(struct arena *a, unsigned int nr, const size_t *from)
{
	unsigned int i;
	size_t j;

	for (i = 0; i < nr; i++)
		for (j = from ? from[i] : a->len[i]; j < a->len[i] + CANARY;
		     j++)
			if (a->mem[a->at[i] + j] != 0xa5)
				return i;
	return -1;
}

FIXTURE(order) {
	int port;
	int s, c;
	unsigned int seed;
	struct shared sh;
	struct worker w[NR_WORKERS];
	struct arena a;
};

SOCK_KIND_VARIANTS(order, );

FIXTURE_SETUP(order)
{
	int i;

	self->s = self->c = -1;
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_assoc(_metadata, self->port, variant->kind, KEY,
			   &self->s, &self->c);
	self->seed = (unsigned int)now_ns();
	TH_LOG("seed %u", self->seed);
	self->sh.port = self->port;
	for (i = 0; i < NR_WORKERS; i++) {
		self->w[i].sh = &self->sh;
		self->w[i].seed = self->seed + i;
		ASSERT_EQ(0, pthread_create(&self->w[i].thread, NULL,
					    worker_fn, &self->w[i]));
	}
}

FIXTURE_TEARDOWN(order)
{
	int i;

	__atomic_store_n(&self->sh.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NR_WORKERS; i++)
		if (self->w[i].thread)
			pthread_join(self->w[i].thread, NULL);
	cport_close(self->port);
	close(self->s);
	close(self->c);
	free(self->a.mem);
}

/* Each op completed exactly once and nothing else came. */
static void check_once(struct __test_metadata *_metadata, struct shared *sh)
{
	unsigned int i, once = 0;

	for (i = 0; i < sh->nr; i++)
		once += sh->seen[i] == 1;
	EXPECT_EQ(sh->nr, once);
	EXPECT_EQ(0, sh->strays);
	EXPECT_EQ(0, sh->err);
}

/*
 * @fill: CPORT_RECV_FILL (each recv gets exactly its length).  The peer
 * writes until every recv completed; the rest stays in the socket.
 */
static void many_recvs(struct __test_metadata *_metadata,
		       FIXTURE_DATA(order) *self, bool fill)
{
	struct shared *sh = &self->sh;
	struct arena *a = &self->a;
	struct cport_sqe sqes[NR_OPS];
	unsigned char chunk[6000], *rest;
	size_t written = 0, total = 0, off, got[NR_OPS];
	unsigned int seed = self->seed, ps = self->seed, i;
	int partial = 0;

	sh->nr = NR_OPS;
	for (i = 0; i < NR_OPS; i++) {
		a->len[i] = 1 + rand_r(&seed) % 8192;
		total += a->len[i];
	}
	ASSERT_TRUE(arena_alloc(a, NR_OPS));
	for (i = 0; i < NR_OPS; i++)
		cport_prep_recv(&sqes[i], self->s, arena_buf(a, i), a->len[i],
				i, fill ? CPORT_RECV_FILL : 0);
	ASSERT_EQ(NR_OPS, cport_submit(self->port, sqes, NR_OPS));
	for (i = 0; i < NR_OPS; i++)
		ASSERT_EQ(CPORT_STATUS_PENDING, sqes[i].status);

	/* A numbered stream in random chunks, sometimes pausing. */
	while (done_count(sh) < NR_OPS && written < total) {
		size_t n = 1 + rand_r(&seed) % sizeof(chunk);

		if (fill && n > total - written)
			n = total - written;
		pattern_fill(chunk, n, ps, written);
		ASSERT_EQ(0, write_bounded(self->c, chunk, n));
		written += n;
		if (rand_r(&seed) % 4 == 0)
			usleep(rand_r(&seed) % 500);
	}
	ASSERT_TRUE(wait_done(sh, NR_OPS)) {
		TH_LOG("%u of %u recvs completed after %zu bytes",
		       done_count(sh), NR_OPS, written);
	}
	check_once(_metadata, sh);

	/* In submission order, the buffers rebuild the stream. */
	for (i = 0, off = 0; i < NR_OPS; i++) {
		struct cport_cqe *cqe = &sh->cqes[i];

		EXPECT_EQ(CPORT_OP_RECV, cqe->op);
		EXPECT_EQ(KEY, cqe->key);
		ASSERT_LT(0, cqe->res) {
			TH_LOG("recv %u: res %lld", i, (long long)cqe->res);
		}
		ASSERT_EQ((__u64)cqe->res, cqe->bytes);
		ASSERT_GE(a->len[i], (size_t)cqe->res);
		if (fill)
			EXPECT_EQ(a->len[i], (size_t)cqe->res);
		partial += (size_t)cqe->res < a->len[i];
		ASSERT_EQ(-1, pattern_check(arena_buf(a, i), cqe->res, ps,
					    off)) {
			TH_LOG("recv %u (%lld bytes at stream offset %zu) is not the next slice",
			       i, (long long)cqe->res, off);
		}
		got[i] = cqe->res;
		off += cqe->res;
	}
	EXPECT_EQ(-1, arena_overrun(a, NR_OPS, got));
	/* And the rest of the stream is still in the socket. */
	ASSERT_GE(written, off);
	rest = malloc(written - off + 1);
	ASSERT_NE(NULL, rest);
	EXPECT_EQ(0, read_bounded(self->s, rest, written - off));
	EXPECT_EQ(-1, pattern_check(rest, written - off, ps, off));
	EXPECT_FALSE(fd_ready(self->s, POLLIN, 0));
	free(rest);
	TH_LOG("%zu bytes into %u recvs (%d partly filled), %zu left over",
	       off, NR_OPS, partial, written - off);
}

TEST_F_TIMEOUT(order, many_recvs, 120)
{
	many_recvs(_metadata, self, false);
}

TEST_F_TIMEOUT(order, many_recvs_fill, 120)
{
	many_recvs(_metadata, self, true);
}

static size_t max_send(void)
{
	return slow_kernel() ? (32 << 10) : (256 << 10);
}

/* Submit @nr records in random batches of 1 to 8. */
static int submit_batches(int port, struct cport_sqe *sqes, unsigned int nr,
			  unsigned int *seed)
{
	unsigned int i = 0, n;
	int ret;

	while (i < nr) {
		n = 1 + rand_r(seed) % 8;
		if (n > nr - i)
			n = nr - i;
		ret = cport_submit(port, sqes + i, n);
		if (ret != (int)n)
			return ret < 0 ? ret : -EPROTO;
		i += n;
	}
	return 0;
}

TEST_F_TIMEOUT(order, many_sends, 120)
{
	struct shared *sh = &self->sh;
	struct arena *a = &self->a;
	struct cport_sqe sqes[NR_OPS];
	unsigned int seed = self->seed, ps = self->seed, i;
	size_t total = 0;
	unsigned char *dst;
	long bad;

	sh->nr = NR_OPS;
	for (i = 0; i < NR_OPS; i++)
		a->len[i] = 1 + rand_r(&seed) % max_send();
	ASSERT_TRUE(arena_alloc(a, NR_OPS));
	for (i = 0; i < NR_OPS; i++) {
		pattern_fill(arena_buf(a, i), a->len[i], ps, total);
		cport_prep_send(&sqes[i], self->s, arena_buf(a, i), a->len[i],
				i);
		total += a->len[i];
	}
	ASSERT_EQ(0, submit_batches(self->port, sqes, NR_OPS, &seed));
	dst = malloc(total);
	ASSERT_NE(NULL, dst);
	EXPECT_EQ(0, read_bounded(self->c, dst, total));
	bad = pattern_check(dst, total, ps, 0);
	EXPECT_EQ(-1, bad) {
		size_t off = 0;

		for (i = 0; i < NR_OPS && off + a->len[i] <= (size_t)bad; i++)
			off += a->len[i];
		TH_LOG("stream differs at byte %ld: in send %u at +%zu",
		       bad, i, bad - off);
	}
	EXPECT_FALSE(fd_ready(self->c, POLLIN, 0));
	ASSERT_TRUE(wait_done(sh, NR_OPS));
	check_once(_metadata, sh);
	for (i = 0; i < NR_OPS; i++) {
		EXPECT_EQ(CPORT_OP_SEND, sh->cqes[i].op);
		EXPECT_EQ(KEY, sh->cqes[i].key);
		EXPECT_EQ(a->len[i], sh->cqes[i].res);
		EXPECT_EQ(a->len[i], sh->cqes[i].bytes);
	}
	/* Sends do not write to their buffers. */
	EXPECT_EQ(-1, arena_overrun(a, NR_OPS, NULL));
	free(dst);
	TH_LOG("%zu bytes in %u sends", total, NR_OPS);
}

struct writer {
	pthread_t thread;
	int fd;
	size_t len;
	unsigned int seed;
	int ret;
};

/* The peer writes a stream in random chunks. */
static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	unsigned int rs = w->seed;
	unsigned char chunk[6000];
	size_t off = 0, n;

	while (off < w->len) {
		n = 1 + rand_r(&rs) % sizeof(chunk);
		if (n > w->len - off)
			n = w->len - off;
		pattern_fill(chunk, n, w->seed, off);
		w->ret = write_bounded(w->fd, chunk, n);
		if (w->ret)
			break;
		off += n;
	}
	return NULL;
}

/* Fill-mode recvs and sends interleaved on one socket, both at once. */
TEST_F_TIMEOUT(order, mixed, 120)
{
	struct shared *sh = &self->sh;
	struct arena *a = &self->a;
	struct cport_sqe sqes[2 * NR_OPS];
	struct writer w = { .fd = self->c };
	unsigned int seed = self->seed, ps = self->seed, i;
	size_t rtotal = 0, stotal = 0, roff = 0;
	unsigned char *dst;

	/* Even user_data: recvs, odd: sends. */
	sh->nr = 2 * NR_OPS;
	for (i = 0; i < 2 * NR_OPS; i++)
		a->len[i] = 1 + rand_r(&seed) % (i & 1 ? max_send() / 2 :
						  max_send() / 4);
	ASSERT_TRUE(arena_alloc(a, 2 * NR_OPS));
	for (i = 0; i < 2 * NR_OPS; i++) {
		if (i & 1) {
			pattern_fill(arena_buf(a, i), a->len[i], ps + 1,
				     stotal);
			cport_prep_send(&sqes[i], self->s, arena_buf(a, i),
					a->len[i], i);
			stotal += a->len[i];
		} else {
			cport_prep_recv(&sqes[i], self->s, arena_buf(a, i),
					a->len[i], i, CPORT_RECV_FILL);
			rtotal += a->len[i];
		}
	}
	ASSERT_EQ(0, submit_batches(self->port, sqes, 2 * NR_OPS, &seed));
	w.len = rtotal;
	w.seed = ps;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, writer_fn, &w));
	dst = malloc(stotal);
	ASSERT_NE(NULL, dst);
	EXPECT_EQ(0, read_bounded(self->c, dst, stotal));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(-1, pattern_check(dst, stotal, ps + 1, 0));
	ASSERT_TRUE(wait_done(sh, 2 * NR_OPS)) {
		TH_LOG("%u of %u completed", done_count(sh), 2 * NR_OPS);
	}
	check_once(_metadata, sh);
	for (i = 0; i < 2 * NR_OPS; i++) {
		struct cport_cqe *cqe = &sh->cqes[i];

		EXPECT_EQ(i & 1 ? CPORT_OP_SEND : CPORT_OP_RECV, cqe->op);
		EXPECT_EQ(a->len[i], cqe->res);
		EXPECT_EQ(a->len[i], cqe->bytes);
		if (i & 1)
			continue;
		EXPECT_EQ(-1, pattern_check(arena_buf(a, i), a->len[i],
					    ps, roff)) {
			TH_LOG("recv %u is not the slice at %zu", i / 2, roff);
		}
		roff += a->len[i];
	}
	EXPECT_EQ(-1, arena_overrun(a, 2 * NR_OPS, NULL));
	EXPECT_FALSE(fd_ready(self->s, POLLIN, 0));
	EXPECT_FALSE(fd_ready(self->c, POLLIN, 0));
	free(dst);
	TH_LOG("%zu bytes received, %zu sent", rtotal, stotal);
}

TEST_HARNESS_MAIN
