// SPDX-License-Identifier: GPL-2.0
/*
 * The Windows-style proxy (examples/win_proxy.c: AcceptEx, ConnectEx,
 * TransmitFile, DisconnectEx, WSARecv/WSASend through one port), built
 * from the example's own source with its main() renamed and run in a
 * thread between clients and an upstream server of this test.  Each
 * client first gets the banner file (TransmitFile), sends a patterned,
 * checksummed stream of several megabytes and ends it; the upstream gets
 * it whole (the end passed on by DisconnectEx), checks it, and answers
 * with a stream of its own, which the client gets whole, then the end.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define main win_proxy_main
#include "../examples/win_proxy.c"
#undef main

#define CONNS		3
#define BANNER_LEN	(200 << 10)

static size_t stream_len(void)
{
	return slow_kernel() ? (1 << 20) : (6 << 20);
}

/* FNV-1a over @len bytes, continuing @h. */
static uint64_t fnv(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

#define FNV_INIT	0xcbf29ce484222325ULL

/* The checksum of @len bytes of pattern @seed. */
static uint64_t pattern_sum(unsigned int seed, size_t len)
{
	unsigned char buf[4096];
	uint64_t h = FNV_INIT;
	size_t off;

	for (off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		pattern_fill(buf, n, seed, off);
		h = fnv(h, buf, n);
	}
	return h;
}

/* Read until end of file: the checksum of what came, its length in *len. */
static int read_sum(int fd, uint64_t *sum, size_t *len)
{
	static __thread unsigned char buf[65536];
	uint64_t h = FNV_INIT;
	size_t total = 0;
	ssize_t n;

	for (;;) {
		if (!fd_ready(fd, POLLIN, PROGRESS_MS))
			return -ETIMEDOUT;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		h = fnv(h, buf, n);
		total += n;
	}
	*sum = h;
	*len = total;
	return 0;
}

static int send_pattern(int fd, unsigned int seed, size_t len)
{
	unsigned char buf[65536];
	size_t off;
	int ret;

	for (off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		pattern_fill(buf, n, seed, off);
		ret = write_bounded(fd, buf, n);
		if (ret)
			return ret;
	}
	return 0;
}

/* The upstream: each connection's stream until its end, then an answer. */
struct upstream {
	int lst;
	volatile int errors;
};

struct answer {
	uint64_t len;
	uint64_t sum;
};

#define ANSWER_SEED	77
#define BANNER_SEED	5

static void *upstream_conn(void *arg)
{
	struct upstream *up = ((void **)arg)[0];
	int fd = (int)(intptr_t)((void **)arg)[1];
	struct answer a;
	size_t len;

	free(arg);
	if (read_sum(fd, &a.sum, &len) ||
	    write_bounded(fd, (a.len = len, &a), sizeof(a)) ||
	    send_pattern(fd, ANSWER_SEED, stream_len()))
		__atomic_add_fetch(&up->errors, 1, __ATOMIC_RELAXED);
	close(fd);
	return NULL;
}

static void *upstream_fn(void *arg)
{
	struct upstream *up = arg;
	pthread_t t[CONNS];
	int i, fd;

	for (i = 0; i < CONNS; i++) {
		void **a = malloc(2 * sizeof(void *));

		fd = fd_ready(up->lst, POLLIN, 2 * PROGRESS_MS) ?
		     accept4(up->lst, NULL, NULL, SOCK_CLOEXEC) : -1;
		if (fd < 0 || !a) {
			__atomic_add_fetch(&up->errors, 1, __ATOMIC_RELAXED);
			free(a);
			break;
		}
		a[0] = up;
		a[1] = (void *)(intptr_t)fd;
		pthread_create(&t[i], NULL, upstream_conn, a);
	}
	while (i-- > 0)
		pthread_join(t[i], NULL);
	return NULL;
}

struct client {
	pthread_t t;
	int port;
	unsigned int seed;
	int line;		/* 0, or where it went wrong */
};

#define CHECK(c, cond) do { if (!(cond)) { (c)->line = __LINE__; \
	goto out; } } while (0)

static void *client_fn(void *arg)
{
	struct client *c = arg;
	char *banner = malloc(BANNER_LEN);
	struct answer a;
	uint64_t sum;
	size_t len;
	int fd;

	fd = tcp_connect_port(c->port);
	CHECK(c, fd >= 0 && banner);
	CHECK(c, !send_pattern(fd, c->seed, stream_len()));
	CHECK(c, !shutdown(fd, SHUT_WR));
	/* The banner came first, whole (TransmitFile). */
	CHECK(c, !read_bounded(fd, banner, BANNER_LEN));
	CHECK(c, pattern_check(banner, BANNER_LEN, BANNER_SEED, 0) == -1);
	/* The upstream got our stream whole, then its end (DisconnectEx). */
	CHECK(c, !read_bounded(fd, &a, sizeof(a)));
	CHECK(c, a.len == stream_len());
	CHECK(c, a.sum == pattern_sum(c->seed, stream_len()));
	/* Its answer, whole, then the end. */
	CHECK(c, !read_sum(fd, &sum, &len));
	CHECK(c, len == stream_len());
	CHECK(c, sum == pattern_sum(ANSWER_SEED, stream_len()));
out:
	if (fd >= 0)
		close(fd);
	free(banner);
	return NULL;
}

struct proxy_run {
	pthread_t t;
	char *argv[6];
	int ret;
};

static void *proxy_fn(void *arg)
{
	struct proxy_run *p = arg;

	p->ret = win_proxy_main(5, p->argv);
	return NULL;
}

FIXTURE(proxy) {
	int unused;
};

FIXTURE_SETUP(proxy)
{
}

FIXTURE_TEARDOWN(proxy)
{
}

TEST_F_TIMEOUT(proxy, relays_checksummed_streams, 300)
{
	char lport[16], uport[16], conns[16], path[] = "/tmp/win-proxy-XXXXXX";
	struct sockaddr_in ua;
	socklen_t ualen = sizeof(ua);
	struct client cl[CONNS];
	struct upstream up = { 0 };
	struct proxy_run px = { 0 };
	pthread_t upt;
	char *banner = malloc(BANNER_LEN);
	int bfd, port, i;

	ASSERT_NE(NULL, banner);
	bfd = mkstemp(path);
	ASSERT_LE(0, bfd);
	pattern_fill(banner, BANNER_LEN, BANNER_SEED, 0);
	ASSERT_EQ(BANNER_LEN, write(bfd, banner, BANNER_LEN));
	close(bfd);
	free(banner);

	up.lst = sock_listener(SK_TCP4);
	ASSERT_LE(0, up.lst);
	ASSERT_EQ(0, getsockname(up.lst, (struct sockaddr *)&ua, &ualen));
	port = tcp_free_port();
	ASSERT_LT(0, port);
	snprintf(lport, sizeof(lport), "%d", port);
	snprintf(uport, sizeof(uport), "%d", ntohs(ua.sin_port));
	snprintf(conns, sizeof(conns), "%d", CONNS);
	px.argv[0] = "win_proxy";
	px.argv[1] = lport;
	px.argv[2] = uport;
	px.argv[3] = path;
	px.argv[4] = conns;
	ASSERT_EQ(0, pthread_create(&upt, NULL, upstream_fn, &up));
	ASSERT_EQ(0, pthread_create(&px.t, NULL, proxy_fn, &px));
	for (i = 0; i < CONNS; i++) {
		cl[i].port = port;
		cl[i].seed = 10 + i;
		cl[i].line = 0;
		ASSERT_EQ(0, pthread_create(&cl[i].t, NULL, client_fn, &cl[i]));
	}
	for (i = 0; i < CONNS; i++) {
		pthread_join(cl[i].t, NULL);
		EXPECT_EQ(0, cl[i].line) {
			TH_LOG("client %d failed at line %d", i, cl[i].line);
		}
	}
	pthread_join(upt, NULL);
	EXPECT_EQ(0, up.errors);
	/* The proxy stops once its CONNS connections are over. */
	pthread_join(px.t, NULL);
	EXPECT_EQ(0, px.ret);
	close(up.lst);
	unlink(path);
}

TEST_HARNESS_MAIN
