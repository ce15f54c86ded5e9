// SPDX-License-Identifier: GPL-2.0
/*
 * The Windows tutorial echo server (examples/win_tutorial_echo.c), built
 * from the example's own source with its main() renamed, run in a thread
 * against clients that check every echoed byte.  The calls it needs
 * besides the port and the sockets are tested one by one in
 * win32_calls_test.c.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define main win_tutorial_main
#include "../examples/win_tutorial_echo.c"
#undef main

#define TUT_CONNS	4
#define TUT_MSGS	20
#define TUT_MAX_MSG	20000	/* more than the server's DATA_BUFSIZE */

struct server {
	pthread_t t;
	char port[16];
	char conns[16];
	int ret;
};

static void *server_fn(void *arg)
{
	struct server *srv = arg;
	char *argv[] = { "win_tutorial_echo", srv->port, srv->conns, NULL };

	srv->ret = win_tutorial_main(3, argv);
	return NULL;
}

TEST(tutorial_server_echoes)
{
	static char msg[TUT_MAX_MSG], back[TUT_MAX_MSG];
	struct server srv = { 0 };
	int port = tcp_free_port(), c[TUT_CONNS], i, m;

	ASSERT_LT(0, port);
	snprintf(srv.port, sizeof(srv.port), "%d", port);
	snprintf(srv.conns, sizeof(srv.conns), "%d", TUT_CONNS);
	ASSERT_EQ(0, pthread_create(&srv.t, NULL, server_fn, &srv));
	for (i = 0; i < TUT_CONNS; i++) {
		c[i] = tcp_connect_port(port);
		ASSERT_LE(0, c[i]);
	}
	for (m = 0; m < TUT_MSGS; m++) {
		for (i = 0; i < TUT_CONNS; i++) {
			/* 1 byte to TUT_MAX_MSG: one recv, or several. */
			size_t len = 1 + ((size_t)(m * 7919 + i * 104729) %
					  TUT_MAX_MSG);

			pattern_fill(msg, len, i, m);
			ASSERT_EQ(0, write_full(c[i], msg, len));
			ASSERT_EQ(0, read_full(c[i], back, len));
			ASSERT_EQ(-1, pattern_check(back, len, i, m));
		}
	}
	/* The clients close; the server then shuts down by itself. */
	for (i = 0; i < TUT_CONNS; i++)
		close(c[i]);
	pthread_join(srv.t, NULL);
	EXPECT_EQ(0, srv.ret);
	EXPECT_EQ(TUT_CONNS, ClosedConnections);
}

TEST_HARNESS_MAIN
