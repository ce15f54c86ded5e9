// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * epoll-shared: N workers on one epoll fd, every fd EPOLLONESHOT and
 * re-armed after each event (LIFO wakeups by construction): the pool a
 * completion port replaces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server.h"

static int shared_epfd = -1, shared_lfd = -1;

static void epoll_shared_start(void)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLONESHOT };

	shared_lfd = listener(false);
	fcntl(shared_lfd, F_SETFL, O_NONBLOCK);
	shared_epfd = epoll_create1(EPOLL_CLOEXEC);
	e.data.fd = shared_lfd;
	epoll_ctl(shared_epfd, EPOLL_CTL_ADD, shared_lfd, &e);
}

static void *epoll_shared_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev;
	char *buf = malloc(PROTO_HEADROOM + BUF_SIZE);
	int n;

	if (!buf)
		die("malloc", ENOMEM);
	buf += PROTO_HEADROOM;
	for (;;) {
		n = epoll_wait(shared_epfd, &ev, 1, -1);
		COUNT(w, calls, 1);
		if (n <= 0)
			continue;
		handled(w, 1);
		if (ev.data.fd == shared_lfd) {
			accept_all(w, shared_epfd, shared_lfd,
				   EPOLLIN | EPOLLONESHOT);
		} else if (!echo_once(w, ev.data.fd, buf)) {
			close(ev.data.fd);
			COUNT(w, calls, 1);
			continue;
		}
		ev.events = EPOLLIN | EPOLLONESHOT;
		epoll_ctl(shared_epfd, EPOLL_CTL_MOD, ev.data.fd, &ev);
		COUNT(w, calls, 1);
	}
	return NULL;
}

const struct model model_epoll_shared = {
	.name = "epoll-shared",
	.batch = 1,
	.start = epoll_shared_start,
	.worker = epoll_shared_main,
};
