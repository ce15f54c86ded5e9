// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * epoll-rp: one epoll and one SO_REUSEPORT listener per worker,
 * level-triggered, read then write (the nginx model).  The kernel spreads
 * connections over the listeners; a connection stays with its worker.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server.h"

static void *epoll_rp_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[64], e = { .events = EPOLLIN };
	char *buf = malloc(PROTO_HEADROOM + BUF_SIZE);
	int i, n;

	if (!buf)
		die("malloc", ENOMEM);
	buf += PROTO_HEADROOM;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	e.data.fd = w->lfd;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &e);
	for (;;) {
		n = epoll_wait(w->epfd, ev, 64, -1);
		COUNT(w, calls, 1);
		if (n <= 0)
			continue;
		handled(w, n);
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == w->lfd) {
				accept_all(w, w->epfd, fd, EPOLLIN);
			} else if (!echo_once(w, fd, buf)) {
				close(fd);
				COUNT(w, calls, 1);
			}
		}
	}
	return NULL;
}

const struct model model_epoll_rp = {
	.name = "epoll-rp",
	.per_cpu = true,
	.batch = 64,
	.worker = epoll_rp_main,
};
