/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport: the calls.  Each function is one ioctl (or open/close) on a
 * port descriptor, translating the kernel's -1/errno convention into a
 * negative errno return; cport_close() combines destroy and close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cport.h"

static int cport_ioctl(int port, unsigned long cmd, void *arg)
{
	int ret = ioctl(port, cmd, arg);

	return ret < 0 ? -errno : ret;
}

int cport_open(void)
{
	int fd = open(CPORT_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int cport_create(const struct cport_setup *setup)
{
	int port, ret;

	port = cport_open();
	if (port < 0 || !setup)
		return port;
	ret = cport_setup(port, setup);
	if (ret < 0) {
		close(port);
		return ret;
	}
	return port;
}

/*
 * The LIBCPORT_1.0 calls pass the records as they were then (setup VER1,
 * info VER0): a program built against that header has records that size,
 * and the records grew since.  The names are in the LIBCPORT_1.2 calls.
 */
int cport_setup(int port, const struct cport_setup *setup)
{
	return cport_ioctl(port, _IOC(_IOC_WRITE, CPORT_IOC_MAGIC,
				      _IOC_NR(CPORT_IOC_SETUP),
				      CPORT_SETUP_SIZE_VER1), (void *)setup);
}

int cport_query(int port, struct cport_info *info)
{
	return cport_ioctl(port, _IOC(_IOC_READ, CPORT_IOC_MAGIC,
				      _IOC_NR(CPORT_IOC_QUERY),
				      CPORT_INFO_SIZE_VER0), info);
}

int cport_create_named(const char *policy_name, const struct cport_setup *setup)
{
	struct cport_setup s = {};
	size_t len = policy_name ? strlen(policy_name) : 0;
	int port, ret;

	if (!len || len >= sizeof(s.policy_name))
		return -EINVAL;
	if (setup)
		memcpy(&s, setup, CPORT_SETUP_SIZE_VER1);
	memcpy(s.policy_name, policy_name, len);
	port = cport_open();
	if (port < 0)
		return port;
	ret = cport_ioctl(port, CPORT_IOC_SETUP, &s);
	if (ret < 0) {
		close(port);
		return ret;
	}
	return port;
}

int cport_query_policies(int port, struct cport_info *info)
{
	/* The record of LIBCPORT_1.2's header: VER1. */
	return cport_ioctl(port, _IOC(_IOC_READ, CPORT_IOC_MAGIC,
				      _IOC_NR(CPORT_IOC_QUERY),
				      CPORT_INFO_SIZE_VER1), info);
}

int cport_enter(int port, struct cport_enter *e)
{
	return cport_ioctl(port, CPORT_IOC_ENTER, e);
}

int cport_submit_and_wait(int port, struct cport_sqe *sqes,
			  unsigned int nr, struct cport_cqe *cqes,
			  unsigned int max, long long timeout_ns,
			  unsigned int *submitted)
{
	struct cport_enter e = {
		.sqes		= (__u64)(uintptr_t)sqes,
		.cqes		= (__u64)(uintptr_t)cqes,
		.nr_sqes	= nr,
		.max_cqes	= max,
		.timeout_ns	= timeout_ns,
	};
	int ret;

	ret = cport_enter(port, &e);
	if (submitted)
		*submitted = e.submitted;
	return ret;
}

int cport_submit(int port, struct cport_sqe *sqes, unsigned int nr)
{
	int ret;

	if (!nr)
		return 0;
	ret = cport_submit_and_wait(port, sqes, nr, NULL, 0, 0, NULL);
	return ret < 0 ? ret : (int)nr;
}

int cport_wait(int port, struct cport_cqe *cqes, unsigned int max,
	       long long timeout_ns)
{
	return cport_submit_and_wait(port, NULL, 0, cqes, max, timeout_ns,
				     NULL);
}

int cport_post(int port, __u64 key, __u64 user_data, __s64 res, __u64 bytes)
{
	struct cport_sqe sqe;
	int ret;

	cport_prep_post(&sqe, key, user_data, res, bytes);
	ret = cport_submit(port, &sqe, 1);
	return ret < 0 ? ret : 0;
}

int cport_destroy(int port)
{
	return cport_ioctl(port, CPORT_IOC_DESTROY, NULL);
}

int cport_leave(int port)
{
	return cport_ioctl(port, CPORT_IOC_LEAVE, NULL);
}

int cport_close(int port)
{
	int ret = cport_destroy(port);

	if (ret == -EIDRM)
		ret = 0;
	if (close(port) < 0 && !ret)
		ret = -errno;
	return ret;
}

/* Submit one synchronous record (ASSOCIATE, DISSOCIATE, CANCEL). */
static int cport_submit_sync(int port, struct cport_sqe *sqe)
{
	int ret = cport_submit(port, sqe, 1);

	if (ret < 0)
		return ret;
	if (sqe->status == CPORT_STATUS_INLINE)
		return (int)sqe->res;
	return 0;
}

int cport_associate(int port, int fd, __u64 key, unsigned int flags)
{
	struct cport_sqe sqe;

	cport_prep_associate(&sqe, fd, key, flags);
	return cport_submit_sync(port, &sqe);
}

int cport_dissociate(int port, int fd)
{
	struct cport_sqe sqe;

	cport_prep_dissociate(&sqe, fd);
	return cport_submit_sync(port, &sqe);
}

int cport_cancel(int port, unsigned int how, __u64 what)
{
	struct cport_sqe sqe;

	cport_prep_cancel(&sqe, how, what);
	return cport_submit_sync(port, &sqe);
}

int cport_connect(int port, int fd, const struct sockaddr *addr,
		  socklen_t addrlen, const void *data, size_t len,
		  __u64 user_data, unsigned int sqe_flags,
		  struct cport_sqe *sqe)
{
	struct cport_sqe local;
	int fl, ret, err = 0;

	if (!sqe)
		sqe = &local;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (connect(fd, addr, addrlen) < 0 && errno != EINPROGRESS)
		err = -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl) < 0 && !err)
		err = -errno;
	if (err)
		return err;
	cport_prep_connect(sqe, fd, data, len, user_data);
	sqe->flags = (__u16)sqe_flags;
	ret = cport_submit(port, sqe, 1);
	return ret < 0 ? ret : sqe->status;
}

/*
 * The completion ring (LIBCPORT_1.3).  Takers advance head by
 * compare-and-swap from the value they read, several entries at once:
 * the swap succeeds only if nobody took any of them meanwhile, and the
 * kernel never rewrites an entry before head has passed it
 * (uapi/linux/cport.h).
 */
int cport_create_ring(const struct cport_setup *setup, unsigned int entries,
		      struct cport_ring *ring)
{
	struct cport_setup s = {};
	int port, ret;

	if (setup)
		s = *setup;
	s.ring_entries = entries;
	port = cport_open();
	if (port < 0)
		return port;
	ret = cport_ioctl(port, CPORT_IOC_SETUP, &s);
	if (!ret)
		ret = cport_ring_map(port, ring);
	if (ret < 0) {
		close(port);
		return ret;
	}
	return port;
}

int cport_ring_map(int port, struct cport_ring *ring)
{
	struct cport_info info = {};
	void *map;
	size_t size;
	int ret;

	memset(ring, 0, sizeof(*ring));
	ring->port = port;
	ret = cport_ioctl(port, CPORT_IOC_QUERY, &info);
	if (ret < 0)
		return ret;
	if (!info.ring_entries)
		return -ENODEV;
	size = CPORT_RING_CQES + (size_t)info.ring_entries *
				 sizeof(struct cport_cqe);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, port,
		   CPORT_RING_OFFSET);
	if (map == MAP_FAILED)
		return -errno;
	ring->hdr = map;
	ring->cqes = (struct cport_cqe *)((char *)map + CPORT_RING_CQES);
	ring->size = size;
	ring->entries = info.ring_entries;
	ring->mask = info.ring_entries - 1;
	return 0;
}

void cport_ring_unmap(struct cport_ring *ring)
{
	if (ring->hdr)
		munmap(ring->hdr, ring->size);
	ring->hdr = NULL;
	ring->cqes = NULL;
}

unsigned int cport_ring_take(struct cport_ring *ring, struct cport_cqe *cqes,
			     unsigned int max)
{
	__u32 head, tail, avail, i;

	if (!ring->hdr || !max)
		return 0;
	for (;;) {
		/* The entries before the index that covers them. */
		tail = __atomic_load_n(&ring->hdr->tail, __ATOMIC_ACQUIRE);
		head = __atomic_load_n(&ring->hdr->head, __ATOMIC_RELAXED);
		avail = tail - head;
		if (!avail || avail > ring->entries)
			return 0;
		if (avail > max)
			avail = max;
		for (i = 0; i < avail; i++)
			cqes[i] = ring->cqes[(head + i) & ring->mask];
		/* The copies before the entries are given back. */
		if (__atomic_compare_exchange_n(&ring->hdr->head, &head,
						head + avail, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return avail;
	}
}

/*
 * The ring whose port counts this thread as running: set when a wait in
 * the kernel returned completions (the thread then counts), cleared when
 * one returned none (it stopped counting at the wait's start).  Only such
 * a thread takes from the ring in the calls below: any other goes to the
 * kernel, which holds it back while the port is at its concurrency value,
 * as it would a thread that had nothing queued.
 */
static __thread const void *cport_counted_ring;

static bool cport_ring_counted(const struct cport_ring *ring)
{
	return ring->hdr && cport_counted_ring == ring->hdr;
}

static int cport_ring_kernel(struct cport_ring *ring, struct cport_sqe *sqes,
			     unsigned int nr, struct cport_cqe *cqes,
			     unsigned int max, long long timeout_ns,
			     unsigned int *submitted)
{
	int ret = cport_submit_and_wait(ring->port, sqes, nr, cqes, max,
					timeout_ns, submitted);

	if (max)
		cport_counted_ring = ret > 0 ? ring->hdr : NULL;
	return ret;
}

int cport_ring_wait(struct cport_ring *ring, struct cport_cqe *cqes,
		    unsigned int max, long long timeout_ns)
{
	return cport_ring_submit_and_wait(ring, NULL, 0, cqes, max,
					  timeout_ns, NULL);
}

int cport_ring_submit_and_wait(struct cport_ring *ring, struct cport_sqe *sqes,
			       unsigned int nr, struct cport_cqe *cqes,
			       unsigned int max, long long timeout_ns,
			       unsigned int *submitted)
{
	unsigned int n;
	int ret;

	if (submitted)
		*submitted = 0;
	if (!max || !cport_ring_counted(ring))
		return cport_ring_kernel(ring, sqes, nr, cqes, max,
					 timeout_ns, submitted);
	if (nr && __atomic_load_n(&ring->hdr->tail, __ATOMIC_ACQUIRE) !=
		  __atomic_load_n(&ring->hdr->head, __ATOMIC_RELAXED)) {
		/* Something to take: submit only, then take it here. */
		ret = cport_submit_and_wait(ring->port, sqes, nr, NULL, 0, 0,
					    submitted);
		if (ret < 0)
			return ret;
		nr = 0;
	}
	if (!nr) {
		n = cport_ring_take(ring, cqes, max);
		if (n)
			return (int)n;
		sqes = NULL;	/* nothing (more) to submit: wait */
	}
	/* The kernel takes from the ring first, then its queue. */
	return cport_ring_kernel(ring, sqes, nr, cqes, max, timeout_ns,
				 nr ? submitted : NULL);
}
