// SPDX-License-Identifier: GPL-2.0
/*
 * examples/pool_echo.c, the echo server on cport_pool(3), built from the
 * example's own source with its main() renamed and run in a thread:
 * clients on their own connections send messages of many sizes and check
 * every byte of the echo; once they have all closed, the server (asked
 * to serve that many connections) destroys its pool and reports no
 * error, and no thread or descriptor of its pool is left.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define main pool_echo_main
#include "../examples/pool_echo.c"
#undef main

#define CONNS	4
#define MAX_MSG	9000	/* more than the server's buffer: echoed in parts */

struct server {
	pthread_t t;
	char port[16];
	char conns[16];
	int ret;
};

static void *server_fn(void *arg)
{
	struct server *srv = arg;
	char *argv[] = { "pool_echo", "--port", srv->port, "--threads", "3",
			 "--connections", srv->conns, NULL };

	srv->ret = pool_echo_main(7, argv);
	return NULL;
}

static int task_count_(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

struct client {
	pthread_t t;
	int port, seed;
	long result;	/* 0, or what failed */
};

static void *client_fn(void *arg)
{
	struct client *c = arg;
	static __thread char out[MAX_MSG], in[MAX_MSG];
	int fd = tcp_connect_port(c->port), i, msgs = slow_kernel() ? 10 : 40;
	size_t off = 0;

	if (fd < 0) {
		c->result = 1;
		return NULL;
	}
	for (i = 0; i < msgs && !c->result; i++) {
		size_t len = 1 + (pattern_byte(c->seed, i) * 37 + i * 211) % MAX_MSG;

		pattern_fill(out, len, c->seed, off);
		if (write_full(fd, out, len))
			c->result = 2;
		else if (read_full(fd, in, len))
			c->result = 3;
		else if (pattern_check(in, len, c->seed, off) != -1)
			c->result = 4;
		off += len;
	}
	close(fd);
	return NULL;
}

TEST(echo_every_byte)
{
	struct server srv = { .ret = -1 };
	struct client cl[CONNS];
	int port = tcp_free_port(), i, base_fd = fd_count(), base_task = task_count_();

	ASSERT_LT(0, port);
	snprintf(srv.port, sizeof(srv.port), "%d", port);
	snprintf(srv.conns, sizeof(srv.conns), "%d", CONNS);
	ASSERT_EQ(0, pthread_create(&srv.t, NULL, server_fn, &srv));
	for (i = 0; i < CONNS; i++) {
		cl[i].port = port;
		cl[i].seed = i + 1;
		cl[i].result = 0;
		ASSERT_EQ(0, pthread_create(&cl[i].t, NULL, client_fn, &cl[i]));
	}
	for (i = 0; i < CONNS; i++) {
		pthread_join(cl[i].t, NULL);
		EXPECT_EQ(0, cl[i].result) TH_LOG("client %d", i);
	}
	pthread_join(srv.t, NULL);
	EXPECT_EQ(0, srv.ret);
	EXPECT_EQ((unsigned long)CONNS, atomic_load(&served));
	EXPECT_EQ((unsigned long)CONNS, atomic_load(&closed));
	EXPECT_EQ(base_fd, fd_count());
	EXPECT_TRUE(wait_until(task_count_() == base_task, PROGRESS_MS));
}

TEST_HARNESS_MAIN
