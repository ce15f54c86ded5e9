// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection on every user-reachable path of cport: each call is
 * made with /proc/thread-self/fail-nth = 1, 2, 3, ... until it runs
 * without a fault injected, so that every allocation (failslab,
 * fail_page_alloc) and every user copy (fail_usercopy) it passes fails
 * once.  After each run, whatever was injected where:
 *
 *  - the call succeeded or returned an errno the header documents for it;
 *  - nothing is half done: a refused submission has status 0 and nothing
 *    posted or pending for it; a taken one has status PENDING or INLINE
 *    and exactly one completion (or its inline result), whose data is
 *    where it should be and nowhere else (a RECV that failed consumed
 *    nothing, a SEND's bytes are what the peer gets, an accepted
 *    connection is delivered, left waiting or closed, never lost);
 *  - the port's queue, pending count, pinned files, associations and the
 *    user's units are back to what they were, a refused ASSOCIATE leaves
 *    the socket unassociated (a second one works), a refused POST or
 *    SETUP leaves the port unused (SETUP still works);
 *  - no descriptor leaked (/proc/self/fd).
 *
 * What leaked in the kernel, kmemleak finds at the end of the guest's run
 * (scripts/run-guest.sh scans before and after rmmod); the rmmod itself
 * must succeed.
 *
 * fail-nth counts every fault-injection site the thread passes, of every
 * kind enabled.  main() enables failslab and fail_page_alloc for every
 * allocation (fail_usercopy has no filter), silences the reports
 * (verbose = 0), announces itself in the kernel log and puts everything
 * back at exit.  Each path is walked twice (see walk()): failing slab
 * allocations, then page allocations; user copies fail in both.  Which
 * kind each injected fault was is read from the attributes' "times"
 * counters, which only an injection decrements.
 *
 * An injected page allocation failure returns NULL before the
 * allocator's slow path (prepare_alloc_pages() in mm/page_alloc.c), so
 * it prints no "page allocation failure" report with a call trace for the
 * log judge to find; nothing on these paths turns one into a report of
 * its own either (vmalloc's does: none is used here).  fail_usercopy
 * covers copy_{from,to}_user() and the iov_iter copies of the socket
 * data, not get_user()/put_user().
 *
 * Each walk prints how many fail-nth points it went through per pass and
 * kind, and which errnos the call returned; CPORT_FAILNTH_VERBOSE=1 adds
 * a line per step.  A step stuck for STUCK_S seconds gets the kernel
 * stacks of its process printed.  On a kernel without fail-nth (the
 * stock ones), or without root and debugfs, every test skips.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define FAILNTH		"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug"

/* A walk that has not ended by then never will: something is wrong. */
#define MAX_NTH		1500

#define KEY		0x4b45590000000001ULL
#define KEY2		0x4b45590000000002ULL
#define SEED		7
#define HOUR_NS		(3600LL * NSEC_PER_SEC)

/* --- The fault-injection attributes ----------------------------------- */

enum kind { K_SLAB, K_PAGE, K_USERCOPY, K_NR };

static const char *const kind_dir[K_NR] = {
	"failslab", "fail_page_alloc", "fail_usercopy",
};

/* Set in main(), inherited by every test. */
static bool kind_on[K_NR];
static char skip_reason[160];

/* What main() changed, to put back at exit. */
struct saved_attr {
	char path[128];
	char old[64];
};

static struct saved_attr saved[24];
static unsigned int nsaved;

static int file_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

static int file_write(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

/* Set attribute @name of kind @k to @val, remembering the old value. */
static int attr_set(enum kind k, const char *name, const char *val)
{
	struct saved_attr *s = &saved[nsaved];
	int ret;

	if (nsaved == ARRAY_SIZE(saved))
		return -ENOSPC;
	snprintf(s->path, sizeof(s->path), DEBUGFS "/%s/%s", kind_dir[k],
		 name);
	ret = file_read(s->path, s->old, sizeof(s->old));
	if (ret)
		return ret;
	ret = file_write(s->path, val);
	if (!ret)
		nsaved++;
	return ret;
}

static void kmsg(const char *msg)
{
	file_write("/dev/kmsg", msg);
}

static void attrs_restore(void)
{
	while (nsaved) {
		nsaved--;
		file_write(saved[nsaved].path, saved[nsaved].old);
	}
	kmsg("<6>cport failnth_test: fault injection attributes restored\n");
}

/* How many faults attribute @k has injected: its "times" counts down. */
static long long kind_times(enum kind k)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), DEBUGFS "/%s/times", kind_dir[k]);
	if (file_read(path, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

static void times_all(long long t[K_NR])
{
	int k;

	for (k = 0; k < K_NR; k++)
		t[k] = kind_on[k] ? kind_times(k) : -1;
}

/*
 * Enable every kind for every allocation, silently, with "times" as a
 * counter of injections; or say in skip_reason why not.
 */
static void attrs_setup(void)
{
	static const struct {
		int kind;		/* -1: every kind */
		const char *name, *val;
	} set[] = {
		{ K_SLAB, "ignore-gfp-wait", "N" },
		{ K_SLAB, "cache-filter", "N" },
		{ K_PAGE, "ignore-gfp-wait", "N" },
		{ K_PAGE, "ignore-gfp-highmem", "N" },
		{ K_PAGE, "min-order", "0" },
		/* No report (and no stack dump) per injected fault. */
		{ -1, "verbose", "0" },
		/* Only fail-nth injects: no random faults elsewhere. */
		{ -1, "probability", "0" },
		{ -1, "times", "1000000000" },
	};
	char path[128];
	unsigned int i;
	int k, ret;

	if (access(FAILNTH, F_OK)) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "no %s: kernel without CONFIG_FAULT_INJECTION",
			 FAILNTH);
		return;
	}
	if (geteuid()) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "needs root for the fault-injection attributes in debugfs");
		return;
	}
	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (k = 0; k < K_NR; k++) {
		snprintf(path, sizeof(path), DEBUGFS "/%s", kind_dir[k]);
		kind_on[k] = !access(path, F_OK);
	}
	if (!kind_on[K_SLAB]) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "no %s/failslab: kernel without CONFIG_FAILSLAB or CONFIG_FAULT_INJECTION_DEBUG_FS",
			 DEBUGFS);
		return;
	}
	atexit(attrs_restore);
	for (i = 0; i < ARRAY_SIZE(set); i++) {
		for (k = 0; k < K_NR; k++) {
			if (!kind_on[k] || (set[i].kind >= 0 && set[i].kind != k))
				continue;
			ret = attr_set(k, set[i].name, set[i].val);
			if (ret) {
				snprintf(skip_reason, sizeof(skip_reason),
					 "cannot set %s/%s: %s", kind_dir[k],
					 set[i].name, strerror(-ret));
				return;
			}
		}
	}
	/* Whoever reads the kernel log knows why allocations fail now. */
	kmsg("<6>cport failnth_test: injecting faults with fail-nth (failslab, fail_page_alloc, fail_usercopy; verbose 0)\n");
}

/* --- fail-nth of the calling thread ------------------------------------ */

static __thread int nth_fd = -1;

static int nth_open(void)
{
	if (nth_fd < 0)
		nth_fd = open(FAILNTH, O_RDWR | O_CLOEXEC);
	return nth_fd;
}

static void nth_close(void)
{
	if (nth_fd >= 0)
		close(nth_fd);
	nth_fd = -1;
}

/* The @n-th fault-injection site this thread passes from now on fails. */
static void nth_arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (write(nth_fd, buf, len) != len)
		abort();
}

/*
 * Disarm; returns whether the armed fault was injected (the count reached
 * 0).  With fail_usercopy on, reading the count passes a site itself: a
 * read that fails (-EFAULT) consumed the last count there, after the call
 * under test, which thus had no fault injected.  Writing "0" passes one
 * too: if it consumed the last count it failed, and the count is 0 anyway.
 */
static bool nth_disarm(void)
{
	unsigned long left = 1;
	char buf[16];
	ssize_t n;

	n = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		left = strtoul(buf, NULL, 10);
	}
	if (write(nth_fd, "0", 1) != 1 && write(nth_fd, "0", 1) != 1)
		abort();
	return n > 0 && !left;
}

/* --- What a step looks at ----------------------------------------------- */

/* A port's counters (fdinfo), -1 each when unreadable. */
struct snap {
	long long queued, pending, files, sockets, threads, units, destroyed;
};

static void snap(int port, struct snap *s)
{
	char buf[FDINFO_SIZE];

	memset(s, 0xff, sizeof(*s));
	if (fdinfo_read(port, buf, sizeof(buf)) < 0)
		return;
	s->queued = fdinfo_find_num(buf, "queued");
	s->pending = fdinfo_find_num(buf, "pending");
	s->files = fdinfo_find_num(buf, "files");
	s->sockets = fdinfo_find_num(buf, "sockets");
	s->threads = fdinfo_find_num(buf, "threads");
	s->units = fdinfo_find_num(buf, "user_units");
	s->destroyed = fdinfo_find_num(buf, "destroyed");
}

struct step;

/* What a check saw, for the verbose line of its step. */
static char step_note[160];

#define NOTE(fmt, ...) \
	snprintf(step_note, sizeof(step_note), fmt, ##__VA_ARGS__)

/* A thread that waits with its own fail-nth armed (wait_runs_socket). */
struct nth_waiter {
	pthread_t thread;
	int port;
	unsigned int nth;
	int done;
	bool injected;
	long ret;
	struct cport_cqe cqe;
};

/* One path: how to set it up, the one call under fail-nth, the checks. */
struct path {
	const char *name;
	/* -errno the call may return besides success, 0-terminated */
	int errs[6];
	enum sock_kind kind;
	unsigned int flags;	/* sqe flags or op_flags, per path */
	bool fresh;		/* each step in a new process */
	bool own_nth;		/* the call arms fail-nth itself */
	bool full_fdtable;	/* the call needs a bigger descriptor table */
	void (*setup)(struct __test_metadata *_metadata, struct step *st);
	long (*call)(struct step *st);
	void (*check)(struct __test_metadata *_metadata, struct step *st,
		      long ret);
};

struct step {
	const struct path *p;
	unsigned int nth;
	bool injected;		/* own_nth paths set it */
	int port, s, c, l, conn, w;	/* -1 when unused */
	int extra[4];		/* descriptors the call gave us */
	struct snap base;	/* after setup, before the call */
	long long units0;	/* the user's units before setup */
	struct cport_sqe sqe;
	struct cport_sqe sqes[3];
	unsigned int submitted;
	struct cport_cqe cqes[4];
	int fill[64];		/* descriptors that fill the table */
	struct cport_info info;
	char buf[4096];
	char addr[128];
	char *big;
	size_t big_len;
	struct nth_waiter waiter;
};

static void step_init(struct step *st, const struct path *p, unsigned int n)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	st->p = p;
	st->nth = n;
	st->port = st->s = st->c = st->l = st->conn = st->w = -1;
	for (i = 0; i < ARRAY_SIZE(st->extra); i++)
		st->extra[i] = -1;
	for (i = 0; i < ARRAY_SIZE(st->fill); i++)
		st->fill[i] = -1;
}

static void step_extra(struct step *st, int fd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(st->extra); i++) {
		if (st->extra[i] < 0) {
			st->extra[i] = fd;
			return;
		}
	}
	close(fd);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void step_teardown(struct step *st)
{
	unsigned int i;

	if (st->port >= 0) {
		/* The thread's record goes: the next first wait makes one. */
		cport_leave(st->port);
		cport_close(st->port);
		st->port = -1;
	}
	if (st->w >= 0) {
		cport_close(st->w);
		st->w = -1;
	}
	close_fd(&st->s);
	close_fd(&st->c);
	close_fd(&st->l);
	close_fd(&st->conn);
	for (i = 0; i < ARRAY_SIZE(st->extra); i++)
		close_fd(&st->extra[i]);
	for (i = 0; i < ARRAY_SIZE(st->fill); i++)
		close_fd(&st->fill[i]);
	free(st->big);
	st->big = NULL;
}

/* --- Helpers of the setups and checks ----------------------------------- */

/* A connected pair of @kind: *s the end cport gets, *c its peer. */
static void mkpair(struct __test_metadata *_metadata, enum sock_kind kind,
		   int *s, int *c)
{
	int fds[2];

	if (kind == SK_UNIX) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					fds));
	} else {
		ASSERT_EQ(0, sock_pair(kind, fds));
	}
	*s = fds[0];
	*c = fds[1];
}

/* A port and a pair of st->p->kind, st->s associated under KEY. */
static void setup_assoc(struct __test_metadata *_metadata, struct step *st)
{
	st->port = cport_open();
	ASSERT_LE(0, st->port);
	mkpair(_metadata, st->p->kind, &st->s, &st->c);
	ASSERT_EQ(0, cport_associate(st->port, st->s, KEY, 0));
}

/* ... and st->l, an associated listener with a connection waiting. */
static void setup_listener(struct __test_metadata *_metadata, struct step *st)
{
	st->port = cport_open();
	ASSERT_LE(0, st->port);
	st->l = sock_listener(st->p->kind);
	ASSERT_LE(0, st->l);
	ASSERT_EQ(0, cport_associate(st->port, st->l, KEY, 0));
	st->conn = sock_connect(st->l);
	ASSERT_LE(0, st->conn);
	ASSERT_TRUE(readable(st->l));
}

/* Nothing (more) is queued on @port. */
static bool queue_empty(int port)
{
	struct cport_cqe cqe;

	return cport_wait(port, &cqe, 1, 0) == -ETIMEDOUT;
}

/*
 * A refused submission: its status is 0, and the port's queue, pending
 * count, pinned files, associations and the user's units are as before.
 */
static void expect_untouched(struct __test_metadata *_metadata,
			     struct step *st)
{
	struct snap now;

	EXPECT_EQ(0, st->sqe.status);
	snap(st->port, &now);
	EXPECT_EQ(st->base.queued, now.queued);
	EXPECT_EQ(st->base.pending, now.pending);
	EXPECT_EQ(st->base.files, now.files);
	EXPECT_EQ(st->base.sockets, now.sockets);
	EXPECT_EQ(st->base.units, now.units);
	EXPECT_TRUE(queue_empty(st->port));
}

/*
 * After everything was delivered: back to what it was before the call,
 * but for @pending_delta operations (each on st->s, whose file they pin)
 * and @sockets_delta associations.
 */
static void expect_settled(struct __test_metadata *_metadata, struct step *st,
			   long long pending_delta, long long sockets_delta)
{
	struct snap now;

	snap(st->port, &now);
	EXPECT_EQ(0, now.queued);
	EXPECT_EQ(st->base.pending + pending_delta, now.pending);
	EXPECT_EQ(st->base.files + pending_delta, now.files);
	EXPECT_EQ(st->base.sockets + sockets_delta, now.sockets);
	EXPECT_EQ(st->base.units + pending_delta + sockets_delta, now.units);
}

/*
 * The one result of taken socket operation st->sqe: the inline one, or
 * its completion, which must be queued (or come within PROGRESS_MS).
 * Returns false if there is none.
 */
static bool op_result(struct __test_metadata *_metadata, struct step *st,
		      long long *res, unsigned long long *bytes)
{
	struct cport_cqe cqe;
	int ret;

	if (st->sqe.status == CPORT_STATUS_INLINE) {
		*res = st->sqe.res;
		*bytes = st->sqe.bytes;
		return true;
	}
	EXPECT_EQ(CPORT_STATUS_PENDING, st->sqe.status);
	if (st->sqe.status != CPORT_STATUS_PENDING)
		return false;
	ret = wait1(st->port, &cqe);
	EXPECT_EQ(1, ret) {
		TH_LOG("no completion for a submission taken as pending: %s",
		       strerror(-ret));
	}
	if (ret != 1)
		return false;
	EXPECT_EQ(st->sqe.opcode, cqe.op);
	EXPECT_EQ(st->sqe.user_data, cqe.user_data);
	*res = cqe.res;
	*bytes = cqe.bytes;
	/* Exactly one. */
	EXPECT_TRUE(queue_empty(st->port));
	return true;
}

/* Bytes [@from, @len) of stream SEED are in st->s, and nothing more. */
static void expect_in_socket(struct __test_metadata *_metadata,
			     struct step *st, size_t from, size_t len)
{
	char rest[4096];

	ASSERT_GE(sizeof(rest), len);
	if (from < len) {
		EXPECT_EQ(0, read_bounded(st->s, rest, len - from));
		EXPECT_EQ(-1, pattern_check(rest, len - from, SEED, from));
	}
	EXPECT_FALSE(fd_ready(st->s, POLLIN, 0));
}

/*
 * A RECV into st->buf of the @len bytes (stream SEED) that were in the
 * socket: either data (the pattern) with the rest still in the socket, or
 * an error that consumed nothing ("nothing was lost from it").
 */
static void recv_accounted(struct __test_metadata *_metadata, struct step *st,
			   long long res, unsigned long long bytes, size_t len)
{
	size_t got = 0;

	NOTE("RECV res %lld bytes %llu", res, bytes);
	if (res > 0) {
		EXPECT_EQ((unsigned long long)res, bytes);
		EXPECT_GE((long long)len, res);
		EXPECT_EQ(-1, pattern_check(st->buf, res, SEED, 0));
		got = res;
	} else {
		/* Not end of file: the data is there. */
		EXPECT_TRUE(res == -EFAULT || res == -ENOMEM) {
			TH_LOG("RECV completed with %lld", res);
		}
		EXPECT_EQ(0, bytes);
	}
	expect_in_socket(_metadata, st, got, len);
}

/* Read @fd to end of file (bounded); returns the bytes, or -errno. */
static long read_to_eof(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	for (;;) {
		if (!fd_ready(fd, POLLIN, PROGRESS_MS))
			return -ETIMEDOUT;
		n = recv(fd, buf + got, size - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return got;
		got += n;
		if (got == size)
			return got;
	}
}

/*
 * The peer of st->s gets exactly the first @expect bytes of st->big
 * (stream SEED), and nothing more: end of file after them.
 */
static void expect_peer_gets(struct __test_metadata *_metadata,
			     struct step *st, size_t expect)
{
	char *in = malloc(st->big_len + 1);
	long got;

	ASSERT_NE(NULL, in);
	EXPECT_EQ(0, shutdown(st->s, SHUT_WR));
	got = read_to_eof(st->c, in, st->big_len + 1);
	EXPECT_EQ((long)expect, got);
	if (got > 0)
		EXPECT_EQ(-1, pattern_check(in, got, SEED, 0));
	free(in);
}

/* A SEND of st->big: the peer gets what the result says went. */
static void send_accounted(struct __test_metadata *_metadata, struct step *st,
			   long long res, unsigned long long bytes)
{
	NOTE("SEND res %lld bytes %llu", res, bytes);
	if (res >= 0) {
		EXPECT_EQ((long long)st->big_len, res);
		EXPECT_EQ(st->big_len, bytes);
		expect_peer_gets(_metadata, st, st->big_len);
		return;
	}
	EXPECT_TRUE(res == -EFAULT || res == -ENOMEM || res == -ENOBUFS) {
		TH_LOG("SEND completed with %lld", res);
	}
	EXPECT_GE(st->big_len, bytes);
	expect_peer_gets(_metadata, st, bytes);
}

/* A connection waiting on listener @l, or -1 (accept4() without waiting). */
static int accept_nowait(int l)
{
	int fl = fcntl(l, F_GETFL);

	if (fl < 0 || fcntl(l, F_SETFL, fl | O_NONBLOCK))
		return -1;
	return accept4(l, NULL, NULL, SOCK_CLOEXEC);
}

/*
 * An ACCEPT's result: a descriptor connected to st->conn (and associated,
 * with CPORT_ACCEPT_ASSOCIATE), or an error, and then the connection is
 * neither delivered nor lost: still waiting, or closed for the client.
 */
static void accept_accounted(struct __test_metadata *_metadata,
			     struct step *st, long long res,
			     unsigned long long bytes)
{
	bool assoc = st->p->flags & CPORT_ACCEPT_ASSOCIATE;
	struct sockaddr_in *sin = (struct sockaddr_in *)st->addr;
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	char c = 0;
	int fd;

	if (res >= 0) {
		NOTE("ACCEPT res fd, address length %llu", bytes);
		step_extra(st, res);
		/* The address, unless it could not be written. */
		EXPECT_TRUE(bytes == 0 || bytes == sizeof(*sin)) {
			TH_LOG("address length %llu", bytes);
		}
		if (bytes == sizeof(*sin)) {
			ASSERT_EQ(0, getsockname(st->conn,
						 (struct sockaddr *)&me, &len));
			EXPECT_EQ(AF_INET, sin->sin_family);
			EXPECT_EQ(me.sin_port, sin->sin_port);
		}
		EXPECT_EQ(1, send(st->conn, "x", 1, MSG_NOSIGNAL));
		EXPECT_EQ(0, read_bounded(res, &c, 1));
		EXPECT_EQ('x', c);
		if (assoc)
			EXPECT_EQ(-EEXIST, cport_associate(st->port, res, KEY2,
							   0));
		return;
	}
	EXPECT_TRUE(res == -ENOMEM || res == -ENFILE || res == -ENOBUFS ||
		    res == -EMFILE) {
		TH_LOG("ACCEPT completed with %lld", res);
	}
	fd = accept_nowait(st->l);
	if (fd >= 0) {
		NOTE("ACCEPT res %lld, the connection still waiting", res);
		close(fd);
		return;
	}
	NOTE("ACCEPT res %lld, the connection closed", res);
	/* Accepted and closed: the client sees it. */
	EXPECT_TRUE(fd_ready(st->conn, POLLIN, PROGRESS_MS));
	EXPECT_GE(0, recv(st->conn, &c, 1, MSG_DONTWAIT));
}

/* --- The paths ---------------------------------------------------------- */

/* open() of /dev/cport: the port and the user's record. */
static void setup_none(struct __test_metadata *_metadata, struct step *st)
{
}

static long call_open(struct step *st)
{
	return st->port = cport_open();
}

static void check_open(struct __test_metadata *_metadata, struct step *st,
		       long ret)
{
	struct cport_cqe cqe;
	struct snap now;

	if (ret < 0) {
		st->port = -1;
		return;
	}
	snap(ret, &now);
	EXPECT_EQ(0, now.queued);
	EXPECT_EQ(0, now.pending);
	EXPECT_EQ(0, now.threads);
	EXPECT_EQ(0, now.destroyed);
	/* A working port. */
	EXPECT_EQ(0, cport_post(ret, 1, 2, 3, 4));
	EXPECT_EQ(1, cport_wait(ret, &cqe, 1, 0));
	EXPECT_EQ(2, cqe.user_data);
}

/* CPORT_IOC_SETUP: all or nothing. */
static const struct cport_setup setup_vals = {
	.concurrency = 3,
	.policy = CPORT_POLICY_FIFO,
	.max_queued = 100,
	.max_pending = 50,
};

static void setup_port(struct __test_metadata *_metadata, struct step *st)
{
	st->port = cport_open();
	ASSERT_LE(0, st->port);
	snap(st->port, &st->base);
}

static long call_setup(struct step *st)
{
	return cport_setup(st->port, &setup_vals);
}

static void check_setup(struct __test_metadata *_metadata, struct step *st,
			long ret)
{
	ASSERT_EQ(0, cport_query(st->port, &st->info));
	if (!ret) {
		EXPECT_EQ(3, st->info.concurrency);
		EXPECT_EQ(CPORT_POLICY_FIFO, st->info.policy);
		EXPECT_EQ(100, st->info.max_queued);
		EXPECT_EQ(50, st->info.max_pending);
		EXPECT_EQ(-EBUSY, cport_setup(st->port, &setup_vals));
		return;
	}
	/* Not set up, not used: the defaults, and SETUP still works. */
	EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), st->info.concurrency);
	EXPECT_EQ(CPORT_POLICY_LIFO, st->info.policy);
	EXPECT_EQ(CPORT_DEFAULT_QUEUED, st->info.max_queued);
	EXPECT_EQ(CPORT_DEFAULT_PENDING, st->info.max_pending);
	EXPECT_EQ(0, cport_setup(st->port, &setup_vals));
}

/* CPORT_IOC_QUERY. */
static long call_query(struct step *st)
{
	return cport_query(st->port, &st->info);
}

static void check_query(struct __test_metadata *_metadata, struct step *st,
			long ret)
{
	if (!ret)
		EXPECT_EQ(CPORT_API_VERSION, st->info.api_version);
}

/* POST, on a port not yet used. */
static long call_post(struct step *st)
{
	return cport_post(st->port, KEY, 42, -5, 9);
}

static void check_post(struct __test_metadata *_metadata, struct step *st,
		       long ret)
{
	struct cport_cqe cqe;

	if (ret) {
		/* A refused POST does not use the port (a wait would). */
		EXPECT_EQ(0, cport_setup(st->port, &setup_vals));
		EXPECT_EQ(0, fdinfo_get(st->port, "queued"));
		EXPECT_TRUE(queue_empty(st->port));
		return;
	}
	ASSERT_EQ(1, cport_wait(st->port, &cqe, 1, 0));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_POST, KEY, 42, -5, 9);
	EXPECT_TRUE(queue_empty(st->port));
	EXPECT_EQ(-EBUSY, cport_setup(st->port, &setup_vals));
}

/* A delayed POST (due in an hour): pending until a destroy discards it. */
static long call_post_delayed(struct step *st)
{
	int ret;

	cport_prep_post(&st->sqe, KEY, 43, 0, 0);
	st->sqe.timeout_ns = HOUR_NS;
	ret = submit1(st->port, &st->sqe);
	return ret < 0 ? ret : 0;
}

static void check_post_delayed(struct __test_metadata *_metadata,
			       struct step *st, long ret)
{
	struct snap now;

	snap(st->port, &now);
	EXPECT_EQ(0, now.queued);
	EXPECT_EQ(st->base.pending + !ret, now.pending);
	EXPECT_EQ(st->base.units + !ret, now.units);
	EXPECT_EQ(ret ? 0 : -EBUSY, cport_setup(st->port, &setup_vals));
	/* A destroy discards it, and its unit. */
	EXPECT_EQ(0, cport_destroy(st->port));
	snap(st->port, &now);
	EXPECT_EQ(st->base.pending, now.pending);
	EXPECT_EQ(st->base.units, now.units);
}

/* ASSOCIATE: the first of the process registers the MMU notifier. */
static void setup_pair(struct __test_metadata *_metadata, struct step *st)
{
	st->port = cport_open();
	ASSERT_LE(0, st->port);
	mkpair(_metadata, st->p->kind, &st->s, &st->c);
	/* Not the first: another socket associated before. */
	if (st->p->flags) {
		mkpair(_metadata, SK_UNIX, &st->l, &st->conn);
		ASSERT_EQ(0, cport_associate(st->port, st->l, KEY2, 0));
	}
	snap(st->port, &st->base);
}

static long call_associate(struct step *st)
{
	return cport_associate(st->port, st->s, KEY, 0);
}

static void check_associate(struct __test_metadata *_metadata,
			    struct step *st, long ret)
{
	struct snap now;

	snap(st->port, &now);
	EXPECT_EQ(st->base.sockets + !ret, now.sockets);
	EXPECT_EQ(st->base.units + !ret, now.units);
	if (!ret) {
		EXPECT_EQ(-EEXIST, cport_associate(st->port, st->s, KEY, 0));
		return;
	}
	/* Not associated: a second ASSOCIATE works. */
	EXPECT_EQ(0, cport_associate(st->port, st->s, KEY, 0));
	EXPECT_EQ(st->base.sockets + 1, fdinfo_get(st->port, "sockets"));
}

/* DISSOCIATE. */
static void setup_assoc_snap(struct __test_metadata *_metadata,
			     struct step *st)
{
	setup_assoc(_metadata, st);
	snap(st->port, &st->base);
}

static long call_dissociate(struct step *st)
{
	return cport_dissociate(st->port, st->s);
}

static void check_dissociate(struct __test_metadata *_metadata,
			     struct step *st, long ret)
{
	struct snap now;

	snap(st->port, &now);
	EXPECT_EQ(st->base.sockets - !ret, now.sockets);
	EXPECT_EQ(st->base.units - !ret, now.units);
	if (!ret) {
		EXPECT_EQ(-ENOENT, cport_dissociate(st->port, st->s));
		return;
	}
	/* Still associated. */
	EXPECT_EQ(-EEXIST, cport_associate(st->port, st->s, KEY, 0));
	EXPECT_EQ(0, cport_dissociate(st->port, st->s));
}

/* RECV with nothing to read: pending. */
static long call_recv(struct step *st)
{
	int ret;

	cport_prep_recv(&st->sqe, st->s, st->buf, sizeof(st->buf), 0x11,
			0);
	st->sqe.flags = st->p->flags;
	ret = submit1(st->port, &st->sqe);
	return ret < 0 ? ret : 0;
}

/* The same as a scatter RECV (CPORT_RECV_VEC): st->buf in three parts. */
static long call_recvv(struct step *st)
{
	size_t third = sizeof(st->buf) / 3;
	struct iovec iov[3] = {
		{ st->buf, third },
		{ st->buf + third, third },
		{ st->buf + 2 * third, sizeof(st->buf) - 2 * third },
	};
	int ret;

	cport_prep_recvv(&st->sqe, st->s, iov, 3, 0x11, 0);
	st->sqe.flags = st->p->flags;
	ret = submit1(st->port, &st->sqe);
	return ret < 0 ? ret : 0;
}

static void check_recv_pending(struct __test_metadata *_metadata,
			       struct step *st, long ret)
{
	char data[64];
	unsigned long long bytes;
	long long res;

	pattern_fill(data, sizeof(data), SEED, 0);
	if (ret) {
		expect_untouched(_metadata, st);
		/* Nothing waits for the data: it stays in the socket. */
		ASSERT_EQ(0, write_full(st->c, data, sizeof(data)));
		expect_in_socket(_metadata, st, 0, sizeof(data));
		EXPECT_TRUE(queue_empty(st->port));
		return;
	}
	EXPECT_EQ(CPORT_STATUS_PENDING, st->sqe.status);
	EXPECT_EQ(st->base.pending + 1, fdinfo_get(st->port, "pending"));
	ASSERT_EQ(0, write_full(st->c, data, sizeof(data)));
	if (op_result(_metadata, st, &res, &bytes))
		recv_accounted(_metadata, st, res, bytes, sizeof(data));
	expect_settled(_metadata, st, 0, 0);
}

/* RECV with data there: inline (CPORT_SQE_INLINE) or posted at once. */
#define RECV_DATA	100

static void setup_recv_data(struct __test_metadata *_metadata,
			    struct step *st)
{
	char data[RECV_DATA];

	setup_assoc(_metadata, st);
	pattern_fill(data, sizeof(data), SEED, 0);
	ASSERT_EQ(0, write_full(st->c, data, sizeof(data)));
	ASSERT_TRUE(readable(st->s));
	snap(st->port, &st->base);
}

static void check_recv_data(struct __test_metadata *_metadata,
			    struct step *st, long ret)
{
	unsigned long long bytes;
	long long res;

	if (ret) {
		expect_untouched(_metadata, st);
		expect_in_socket(_metadata, st, 0, RECV_DATA);
		return;
	}
	if (st->p->flags & CPORT_SQE_INLINE) {
		EXPECT_EQ(CPORT_STATUS_INLINE, st->sqe.status);
	} else {
		EXPECT_EQ(CPORT_STATUS_PENDING, st->sqe.status);
	}
	if (op_result(_metadata, st, &res, &bytes))
		recv_accounted(_metadata, st, res, bytes, RECV_DATA);
	expect_settled(_metadata, st, 0, 0);
}

/* SEND of 16 KB: several pages, so a copy can fault part-way. */
#define SEND_LEN	(16 << 10)

static void setup_send(struct __test_metadata *_metadata, struct step *st)
{
	setup_assoc(_metadata, st);
	st->big_len = SEND_LEN;
	st->big = malloc(st->big_len);
	ASSERT_NE(NULL, st->big);
	pattern_fill(st->big, st->big_len, SEED, 0);
	snap(st->port, &st->base);
}

/*
 * ... with a RECV pending on the socket first: its wait-queue entry is
 * armed before the SEND runs.
 */
static void setup_send_armed(struct __test_metadata *_metadata,
			     struct step *st)
{
	struct cport_sqe sqe;

	setup_send(_metadata, st);
	cport_prep_recv(&sqe, st->s, st->buf, sizeof(st->buf), 0x66, 0);
	ASSERT_EQ(1, submit1(st->port, &sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	snap(st->port, &st->base);
}

static long call_send(struct step *st)
{
	int ret;

	cport_prep_send(&st->sqe, st->s, st->big, st->big_len, 0x22);
	st->sqe.flags = st->p->flags;
	ret = submit1(st->port, &st->sqe);
	return ret < 0 ? ret : 0;
}

static void check_send(struct __test_metadata *_metadata, struct step *st,
		       long ret)
{
	unsigned long long bytes;
	long long res;

	if (ret) {
		expect_untouched(_metadata, st);
		/* Nothing went. */
		expect_peer_gets(_metadata, st, 0);
		return;
	}
	if (op_result(_metadata, st, &res, &bytes)) {
		expect_settled(_metadata, st, 0, 0);
		send_accounted(_metadata, st, res, bytes);
	}
}

/* ACCEPT of a connection that is waiting. */
static void setup_accept(struct __test_metadata *_metadata, struct step *st)
{
	setup_listener(_metadata, st);
	snap(st->port, &st->base);
}

static long call_accept(struct step *st)
{
	unsigned int of = st->p->flags & ~(CPORT_SQE_INLINE << 8);
	int ret;

	cport_prep_accept(&st->sqe, st->l, st->addr, sizeof(st->addr), 0x33,
			  of & CPORT_ACCEPT_ASSOCIATE ? KEY2 : 0, of);
	if (st->p->flags & (CPORT_SQE_INLINE << 8))
		st->sqe.flags = CPORT_SQE_INLINE;
	ret = submit1(st->port, &st->sqe);
	return ret < 0 ? ret : 0;
}

static void check_accept(struct __test_metadata *_metadata, struct step *st,
			 long ret)
{
	bool assoc = st->p->flags & CPORT_ACCEPT_ASSOCIATE;
	unsigned long long bytes;
	long long res;
	int fd;

	if (ret) {
		expect_untouched(_metadata, st);
		/* The connection still waits. */
		fd = accept_nowait(st->l);
		EXPECT_LE(0, fd);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (!op_result(_metadata, st, &res, &bytes))
		return;
	accept_accounted(_metadata, st, res, bytes);
	expect_settled(_metadata, st, 0, assoc && res >= 0);
}

/* A wait: the first of the thread makes its record. */
static void setup_queued(struct __test_metadata *_metadata, struct step *st)
{
	int i;

	st->port = cport_open();
	ASSERT_LE(0, st->port);
	for (i = 1; i <= (int)st->p->flags; i++)
		ASSERT_EQ(0, cport_post(st->port, KEY, i, i, i));
}

static long call_wait(struct step *st)
{
	return cport_wait(st->port, st->cqes, st->p->flags, 0);
}

/* What was not returned is still queued, in order: nothing lost. */
static void check_wait(struct __test_metadata *_metadata, struct step *st,
		       long ret)
{
	unsigned int n = st->p->flags, got = ret > 0 ? ret : 0, i;
	int more;

	EXPECT_GE((long)n, ret);
	for (i = 0; i < got; i++)
		EXPECT_EQ(i + 1, st->cqes[i].user_data);
	EXPECT_EQ(n - got, fdinfo_get(st->port, "queued"));
	more = port_drain(st->port, st->cqes, ARRAY_SIZE(st->cqes));
	EXPECT_EQ((int)(n - got), more);
	for (i = 0; more > 0 && i < (unsigned int)more; i++)
		EXPECT_EQ(got + i + 1, st->cqes[i].user_data);
	EXPECT_TRUE(queue_empty(st->port));
}

/* A wait that delivers an ACCEPT's connection (its fd installed then). */
static void setup_accepted(struct __test_metadata *_metadata, struct step *st)
{
	setup_listener(_metadata, st);
	snap(st->port, &st->base);
	cport_prep_accept(&st->sqe, st->l, st->addr, sizeof(st->addr), 0x44,
			  st->p->flags ? KEY2 : 0, st->p->flags);
	ASSERT_EQ(1, submit1(st->port, &st->sqe));
	ASSERT_TRUE(fdinfo_wait(st->port, "queued", 1));
	EXPECT_EQ(1, fdinfo_get(st->port, "files"));
}

static long call_wait_accept(struct step *st)
{
	return cport_wait(st->port, st->cqes, 1, 0);
}

static void check_wait_accept(struct __test_metadata *_metadata,
			      struct step *st, long ret)
{
	int n;

	if (ret < 0) {
		/* Back in the queue, its connection and charge with it. */
		EXPECT_EQ(1, fdinfo_get(st->port, "queued"));
		EXPECT_EQ(1, fdinfo_get(st->port, "files"));
		n = cport_wait(st->port, st->cqes, 1, 0);
		EXPECT_EQ(1, n);
		if (n != 1)
			return;
	} else {
		EXPECT_EQ(1, ret);
	}
	EXPECT_EQ(0x44, st->cqes[0].user_data);
	/* No descriptor at dequeue: the connection is closed. */
	accept_accounted(_metadata, st, st->cqes[0].res, st->cqes[0].bytes);
	expect_settled(_metadata, st, 0, !!st->p->flags);
}

/*
 * A waiter that is handed the socket runs it: the RECV's copy and the
 * completion's copy happen in its wait.  The waiter arms its own fail-nth;
 * the data comes once it sleeps in the port (or has returned early).
 */
static void setup_recv_pending(struct __test_metadata *_metadata,
			       struct step *st)
{
	setup_assoc(_metadata, st);
	cport_prep_recv(&st->sqe, st->s, st->buf, sizeof(st->buf), 0x55, 0);
	ASSERT_EQ(1, submit1(st->port, &st->sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, st->sqe.status);
	snap(st->port, &st->base);
}

static void *nth_waiter_fn(void *arg)
{
	struct nth_waiter *w = arg;

	if (nth_open() < 0) {
		w->ret = -EBADF;
	} else {
		nth_arm(w->nth);
		w->ret = cport_wait(w->port, &w->cqe, 1,
				    (long long)PROGRESS_MS * NSEC_PER_MSEC);
		w->injected = nth_disarm();
	}
	nth_close();
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static long call_waiter_runs(struct step *st)
{
	struct nth_waiter *w = &st->waiter;
	char data[64];

	w->port = st->port;
	w->nth = st->nth;
	memset(&w->cqe, 0, sizeof(w->cqe));
	pattern_fill(data, sizeof(data), SEED, 0);
	if (pthread_create(&w->thread, NULL, nth_waiter_fn, w))
		return -EAGAIN;
	wait_until(__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) ||
		   fdinfo_get(st->port, "waiters") == 1, PROGRESS_MS);
	if (write_full(st->c, data, sizeof(data)))
		abort();
	pthread_join(w->thread, NULL);
	st->injected = w->injected;
	return w->ret;
}

static void check_waiter_runs(struct __test_metadata *_metadata,
			      struct step *st, long ret)
{
	struct cport_cqe cqe = st->waiter.cqe;
	int n = 1;

	EXPECT_GE(1, ret);
	/* Not returned to the waiter: the completion is on the queue. */
	if (ret != 1)
		n = wait1(st->port, &cqe);
	EXPECT_EQ(1, n);
	if (n != 1)
		return;
	EXPECT_TRUE(queue_empty(st->port));
	EXPECT_EQ(CPORT_OP_RECV, cqe.op);
	EXPECT_EQ(0x55, cqe.user_data);
	recv_accounted(_metadata, st, cqe.res, cqe.bytes, 64);
	expect_settled(_metadata, st, -1, 0);
}

/*
 * The fallback: no thread waits, so the data a peer writes is moved by
 * task work on the thread that submitted, on its way back from write().
 */
static long call_peer_write(struct step *st)
{
	char data[64];
	ssize_t n;

	pattern_fill(data, sizeof(data), SEED, 0);
	n = send(st->c, data, sizeof(data), MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

static void check_fallback(struct __test_metadata *_metadata, struct step *st,
			   long ret)
{
	char data[64];
	unsigned long long bytes;
	long long res;

	pattern_fill(data, sizeof(data), SEED, 0);
	if (ret < 0) {
		/* Nothing went: the RECV still waits for it. */
		EXPECT_TRUE(queue_empty(st->port));
		EXPECT_EQ(st->base.pending, fdinfo_get(st->port, "pending"));
		ASSERT_EQ(0, write_full(st->c, data, sizeof(data)));
		ret = sizeof(data);
	}
	EXPECT_EQ((long)sizeof(data), ret);
	if (op_result(_metadata, st, &res, &bytes))
		recv_accounted(_metadata, st, res, bytes, sizeof(data));
	expect_settled(_metadata, st, -1, 0);
}

/* CANCEL of a pending RECV, by each selector. */
static long call_cancel(struct step *st)
{
	__u64 what = st->p->flags == CPORT_CANCEL_USER_DATA ? 0x55 :
		     st->p->flags == CPORT_CANCEL_FD ? (__u64)st->s :
		     st->p->flags == CPORT_CANCEL_KEY ? KEY : 0;
	int ret;

	/* Its own record: the status is checked. */
	cport_prep_cancel(&st->sqe, st->p->flags, what);
	ret = submit1(st->port, &st->sqe);
	return ret < 0 ? ret : 0;
}

static void check_cancel(struct __test_metadata *_metadata, struct step *st,
			 long ret)
{
	struct cport_cqe cqe;

	if (ret) {
		expect_untouched(_metadata, st);
		/* Still pending: a cancel now finds it. */
		EXPECT_EQ(1, cport_cancel(st->port, CPORT_CANCEL_ALL, 0));
	} else {
		EXPECT_EQ(CPORT_STATUS_INLINE, st->sqe.status);
		EXPECT_EQ(1, st->sqe.res);
	}
	ASSERT_EQ(1, wait1(st->port, &cqe));
	EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 0x55, -ECANCELED, 0);
	EXPECT_TRUE(queue_empty(st->port));
	expect_settled(_metadata, st, -1, 0);
}

/*
 * One ENTER of three submissions (a POST, a RECV that waits, a delayed
 * POST): the first that fails stops it, 'submitted' says how many were
 * taken before, those stand, and the rest were not taken.
 */
static long call_batch(struct step *st)
{
	cport_prep_post(&st->sqes[0], KEY, 1, 0, 0);
	cport_prep_recv(&st->sqes[1], st->s, st->buf, sizeof(st->buf), 2, 0);
	cport_prep_post(&st->sqes[2], KEY, 3, 0, 0);
	st->sqes[2].timeout_ns = HOUR_NS;
	st->submitted = 99;
	return cport_submit_and_wait(st->port, st->sqes, 3, NULL, 0, 0,
				     &st->submitted);
}

static void check_batch(struct __test_metadata *_metadata, struct step *st,
			long ret)
{
	unsigned int k = st->submitted;
	struct cport_cqe cqe;
	struct snap now;

	if (!ret) {
		EXPECT_EQ(3, k);
	} else {
		EXPECT_GT(3, k);
		NOTE("submitted %u", k);
	}
	if (k > 3)
		return;
	EXPECT_EQ(k >= 2 ? CPORT_STATUS_PENDING : 0, st->sqes[1].status);
	snap(st->port, &now);
	EXPECT_EQ(k >= 1, now.queued);
	EXPECT_EQ(st->base.pending + (k >= 2) + (k >= 3), now.pending);
	EXPECT_EQ(st->base.units + (k >= 2) + (k >= 3), now.units);
	if (k >= 1) {
		EXPECT_EQ(1, cport_wait(st->port, &cqe, 1, 0));
		EXPECT_CQE_EXACT(cqe, CPORT_OP_POST, KEY, 1, 0, 0);
	}
	EXPECT_TRUE(queue_empty(st->port));
	if (k >= 2) {
		EXPECT_EQ(1, cport_cancel(st->port, CPORT_CANCEL_ALL, 0));
		EXPECT_EQ(1, wait1(st->port, &cqe));
		EXPECT_CQE_EXACT(cqe, CPORT_OP_RECV, KEY, 2, -ECANCELED, 0);
	}
	EXPECT_TRUE(queue_empty(st->port));
}

/*
 * DESTROY or close() of a port with everything in it: a RECV pending, a
 * SEND pending (its peer reads nothing), a delayed POST, a POST queued,
 * an ACCEPT's connection queued and not delivered (unix: its close always
 * reaches the client).  st->w, a port of the same user, shows the user's
 * units after a close.
 */
#define BIG_SEND	(512 << 10)

static void setup_full(struct __test_metadata *_metadata, struct step *st)
{
	struct cport_sqe sqes[3];

	st->w = cport_open();
	ASSERT_LE(0, st->w);
	st->units0 = fdinfo_get(st->w, "user_units");
	st->port = cport_open();
	ASSERT_LE(0, st->port);
	mkpair(_metadata, SK_UNIX, &st->s, &st->c);
	ASSERT_EQ(0, cport_associate(st->port, st->s, KEY, 0));
	st->l = sock_listener(SK_UNIX);
	ASSERT_LE(0, st->l);
	ASSERT_EQ(0, cport_associate(st->port, st->l, KEY2, 0));
	st->conn = sock_connect(st->l);
	ASSERT_LE(0, st->conn);
	st->big_len = BIG_SEND;
	st->big = malloc(st->big_len);
	ASSERT_NE(NULL, st->big);
	pattern_fill(st->big, st->big_len, SEED, 0);

	cport_prep_recv(&sqes[0], st->s, st->buf, sizeof(st->buf), 1, 0);
	cport_prep_send(&sqes[1], st->s, st->big, st->big_len, 2);
	cport_prep_accept(&sqes[2], st->l, NULL, 0, 3, 0, 0);
	ASSERT_EQ(3, cport_submit(st->port, sqes, 3));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqes[0].status);
	ASSERT_EQ(CPORT_STATUS_PENDING, sqes[1].status);
	cport_prep_post(&sqes[0], KEY, 4, 0, 0);
	sqes[0].timeout_ns = HOUR_NS;
	ASSERT_EQ(1, cport_submit(st->port, sqes, 1));
	ASSERT_EQ(0, cport_post(st->port, KEY, 5, 0, 0));
	ASSERT_TRUE(fdinfo_wait(st->port, "queued", 2));
	snap(st->port, &st->base);
	EXPECT_EQ(4, st->base.pending);
	EXPECT_EQ(st->units0 + 2 + 4, st->base.units);
}

/* The connection the ACCEPT took was closed with the port's queue. */
static void expect_conn_closed(struct __test_metadata *_metadata,
			       struct step *st)
{
	char c;

	EXPECT_TRUE(fd_ready(st->conn, POLLIN, PROGRESS_MS));
	EXPECT_EQ(0, recv(st->conn, &c, 1, MSG_DONTWAIT));
}

static long call_destroy(struct step *st)
{
	return cport_destroy(st->port);
}

static void check_destroy(struct __test_metadata *_metadata, struct step *st,
			  long ret)
{
	struct cport_cqe cqe;
	struct snap now;

	snap(st->port, &now);
	EXPECT_EQ(1, now.destroyed);
	EXPECT_EQ(0, now.queued);
	EXPECT_EQ(0, now.pending);
	EXPECT_EQ(0, now.files);
	EXPECT_EQ(0, now.sockets);
	EXPECT_EQ(st->units0, now.units);
	EXPECT_EQ(-EIDRM, cport_wait(st->port, &cqe, 1, 0));
	EXPECT_EQ(-EIDRM, cport_destroy(st->port));
	expect_conn_closed(_metadata, st);
}

static long call_close(struct step *st)
{
	int ret = close(st->port);

	st->port = -1;
	return ret < 0 ? -errno : 0;
}

static void check_close(struct __test_metadata *_metadata, struct step *st,
			long ret)
{
	EXPECT_EQ(st->units0, fdinfo_get(st->w, "user_units"));
	expect_conn_closed(_metadata, st);
}

/* LEAVE, for a thread that waited on the port. */
static void setup_joined(struct __test_metadata *_metadata, struct step *st)
{
	st->port = cport_open();
	ASSERT_LE(0, st->port);
	ASSERT_EQ(-ETIMEDOUT, cport_wait(st->port, st->cqes, 1, 0));
	ASSERT_EQ(1, fdinfo_get(st->port, "threads"));
}

static long call_leave(struct step *st)
{
	return cport_leave(st->port);
}

static void check_leave(struct __test_metadata *_metadata, struct step *st,
			long ret)
{
	EXPECT_EQ(0, fdinfo_get(st->port, "threads"));
	EXPECT_EQ(-ENOENT, cport_leave(st->port));
}

/*
 * Fill the process's descriptor table (a new process has room for
 * BITS_PER_LONG): the next descriptor makes the kernel allocate a bigger
 * one (expand_files()).
 */
static void fill_fdtable(struct __test_metadata *_metadata, struct step *st)
{
	unsigned int i;
	int fd = -1;

	for (i = 0; i < ARRAY_SIZE(st->fill) && fd < 63; i++) {
		fd = dup(2);
		ASSERT_LE(0, fd);
		st->fill[i] = fd;
	}
	ASSERT_EQ(63, fd) {
		TH_LOG("the descriptor table was not the initial one");
	}
}

/* --- The walk ----------------------------------------------------------- */

/* CPORT_FAILNTH_VERBOSE=1: a line per step, as it ends. */
static bool verbose;

/*
 * A step that takes longer than STUCK_S is stuck: the watchdog shows
 * where each thread of the process running it is (its kernel stack), and
 * the ports' fdinfo, once; the harness's timeout then ends the test.
 */
#define STUCK_S		90

static struct {
	pid_t pid;		/* the process running the step */
	unsigned int nth;
	long long t0;
	const char *name;
} watch;

static void dump_file(const char *path)
{
	char buf[4096];

	if (!file_read(path, buf, sizeof(buf)))
		ksft_print_msg("%s:\n%s\n", path, buf);
}

static void dump_stuck(pid_t pid)
{
	char path[300], buf[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", pid,
			 e->d_name);
		dump_file(path);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", pid,
			 e->d_name);
		dump_file(path);
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid,
			 e->d_name);
		if (!file_read(path, buf, sizeof(buf)) && strstr(buf, "policy:"))
			dump_file(path);
	}
	if (d)
		closedir(d);
}

static void *watchdog_fn(void *arg)
{
	unsigned int dumped = 0;

	for (;;) {
		sleep(1);
		if (!__atomic_load_n(&watch.pid, __ATOMIC_ACQUIRE) ||
		    watch.nth == dumped ||
		    now_ns() - watch.t0 < STUCK_S * NSEC_PER_SEC)
			continue;
		dumped = watch.nth;
		ksft_print_msg("%s: fail-nth %u: stuck for %d s, in:\n",
			       watch.name, watch.nth, STUCK_S);
		dump_stuck(watch.pid);
	}
	return NULL;
}

static void watch_step(const struct path *p, unsigned int n, pid_t pid)
{
	watch.name = p->name;
	watch.nth = n;
	watch.t0 = now_ns();
	__atomic_store_n(&watch.pid, pid, __ATOMIC_RELEASE);
}

/* What one step reports (shared with a step's own process). */
struct step_out {
	char note[160];
	bool injected;
	int kind;		/* K_*, or K_NR: none of ours */
	long ret;
};

static struct step the_step;

static bool err_allowed(const struct path *p, long ret)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p->errs) && p->errs[i]; i++)
		if (ret == -p->errs[i])
			return true;
	return false;
}

/* Set up, run the call with fail-nth @n, check, tear down. */
static void step_once(struct __test_metadata *_metadata, const struct path *p,
		      unsigned int n, struct step_out *out)
{
	long long t0[K_NR], t1[K_NR];
	struct step *st = &the_step;
	int fds0, k;
	long ret;

	ASSERT_LE(0, nth_open());
	step_note[0] = '\0';
	step_init(st, p, n);
	fds0 = fd_count();
	p->setup(_metadata, st);
	times_all(t0);
	/* Last: opening anything now would make the table bigger. */
	if (p->full_fdtable)
		fill_fdtable(_metadata, st);
	if (p->own_nth) {
		ret = p->call(st);
	} else {
		nth_arm(n);
		ret = p->call(st);
		st->injected = nth_disarm();
	}
	times_all(t1);
	out->injected = st->injected;
	out->ret = ret;
	out->kind = K_NR;
	for (k = 0; k < K_NR; k++)
		if (t1[k] < t0[k])
			out->kind = k;
	if (ret < 0)
		EXPECT_TRUE(err_allowed(p, ret)) {
			TH_LOG("%s returned %ld (%s), not an errno it documents",
			       p->name, ret, strerror(-ret));
		}
	p->check(_metadata, st, ret);
	memcpy(out->note, step_note, sizeof(out->note));
	step_teardown(st);
	EXPECT_EQ(fds0, fd_count()) {
		TH_LOG("descriptors leaked");
	}
}

/* The same in a process of its own (fresh mm, thread, files). */
static void step_forked(struct __test_metadata *_metadata,
			const struct path *p, unsigned int n,
			struct step_out *out)
{
	struct step_out *shared;
	int status;
	pid_t pid;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	memset(shared, 0, sizeof(*shared));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid > 0)
		watch_step(p, n, pid);
	if (!pid) {
		nth_fd = -1;	/* the parent's thread's */
		step_once(_metadata, p, n, shared);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
		TH_LOG("%s: the step's process ended with status %#x",
		       p->name, status);
	}
	*out = *shared;
	munmap(shared, sizeof(*shared));
}

static const char *const kind_name[K_NR + 1] = {
	"failslab", "fail_page_alloc", "fail_usercopy", "other",
};

/*
 * Two passes over each path.  A slab allocation takes a page only when
 * its cache needs a new slab, so page allocation sites come and go from
 * one run to the next and shift the count: walked together with the
 * others, they would make the walk skip some sites.  The first pass
 * fails slab allocations (and user copies), with fail_page_alloc off; the
 * second page allocations (and user copies), with failslab off.
 */
enum pass { P_SLAB, P_PAGE, P_NR };

static const struct {
	int kind;
	const char *cache_filter;	/* failslab: Y is off */
	const char *min_order;		/* fail_page_alloc: 100 is off */
} passes[P_NR] = {
	[P_SLAB] = { K_SLAB, "N", "100" },
	[P_PAGE] = { K_PAGE, "Y", "0" },
};

static void pass_set(enum pass ps)
{
	file_write(DEBUGFS "/failslab/cache-filter", passes[ps].cache_filter);
	if (kind_on[K_PAGE])
		file_write(DEBUGFS "/fail_page_alloc/min-order",
			   passes[ps].min_order);
}

/* What a walk went through. */
struct tally {
	unsigned int points[P_NR];
	unsigned int by_kind[P_NR][K_NR + 1];
	unsigned int failed;
	unsigned int errs[ARRAY_SIZE(((struct path *)0)->errs)];
};

/* One pass: fail-nth 1, 2, ... until nothing is injected. */
static bool walk_pass(struct __test_metadata *_metadata, const struct path *p,
		      enum pass ps, struct tally *t)
{
	struct step_out out;
	unsigned int n, i;

	pass_set(ps);
	for (n = 1; n <= MAX_NTH; n++) {
		memset(&out, 0, sizeof(out));
		watch_step(p, n, getpid());
		if (p->fresh)
			step_forked(_metadata, p, n, &out);
		else
			step_once(_metadata, p, n, &out);
		if (verbose)
			ksft_print_msg("  %s: %s pass, fail-nth %u (%lld ms): %s, the call returned %ld%s%s\n",
				       p->name, kind_name[passes[ps].kind], n,
				       (now_ns() - watch.t0) / NSEC_PER_MSEC,
				       out.injected ? kind_name[out.kind] :
				       "nothing injected", out.ret,
				       out.note[0] ? "; " : "", out.note);
		if (_metadata->exit_code != KSFT_PASS) {
			TH_LOG("%s: %s pass, fail-nth %u (%s, injected: %s): the call returned %ld",
			       p->name, kind_name[passes[ps].kind], n,
			       kind_name[out.kind], out.injected ? "yes" : "no",
			       out.ret);
			return false;
		}
		if (!out.injected)
			return true;
		t->points[ps]++;
		t->by_kind[ps][out.kind]++;
		if (out.ret < 0) {
			t->failed++;
			for (i = 0; i < ARRAY_SIZE(p->errs) && p->errs[i]; i++)
				t->errs[i] += out.ret == -p->errs[i];
		}
	}
	EXPECT_GE(MAX_NTH, n) {
		TH_LOG("%s: still injecting at fail-nth %u", p->name, n);
	}
	return false;
}

static void walk(struct __test_metadata *_metadata, const struct path *p)
{
	struct tally t = { { 0 } };
	char summary[256], page[128];
	size_t len = 0;
	pthread_t dog;
	long long t0;
	unsigned int i;

	if (skip_reason[0])
		SKIP(return, "%s", skip_reason);
	ASSERT_EQ(0, pthread_create(&dog, NULL, watchdog_fn, NULL));
	t0 = now_ns();
	if (!walk_pass(_metadata, p, P_SLAB, &t))
		return;
	if (kind_on[K_PAGE] && !walk_pass(_metadata, p, P_PAGE, &t))
		return;
	for (i = 0; i < ARRAY_SIZE(p->errs) && p->errs[i]; i++)
		if (t.errs[i])
			len += snprintf(summary + len, sizeof(summary) - len,
					"%s%s x%u", len ? ", " : "",
					strerror(p->errs[i]), t.errs[i]);
	if (!len)
		snprintf(summary, sizeof(summary), "none");
	if (kind_on[K_PAGE])
		snprintf(page, sizeof(page),
			 "%3u points (fail_page_alloc %u, fail_usercopy %u)",
			 t.points[P_PAGE], t.by_kind[P_PAGE][K_PAGE],
			 t.by_kind[P_PAGE][K_USERCOPY]);
	else
		snprintf(page, sizeof(page), "not in this kernel");
	ksft_print_msg("fail-nth %-22s slab pass %3u points (failslab %u, fail_usercopy %u), page pass %s; the call failed at %u: %s (%lld ms)\n",
		       p->name, t.points[P_SLAB], t.by_kind[P_SLAB][K_SLAB],
		       t.by_kind[P_SLAB][K_USERCOPY], page, t.failed, summary,
		       (now_ns() - t0) / NSEC_PER_MSEC);
	/* Each pass enables one kind of allocation failure: no other. */
	EXPECT_EQ(0, t.by_kind[P_SLAB][K_PAGE] + t.by_kind[P_PAGE][K_SLAB] +
		     t.by_kind[P_SLAB][K_NR] + t.by_kind[P_PAGE][K_NR]);
}

FIXTURE(failnth) {};
FIXTURE_SETUP(failnth) {}
FIXTURE_TEARDOWN(failnth) {}

/*
 * WALK(name, errnos, fields...): a test that walks path @name.  The
 * errnos are those the header documents for the call that fault
 * injection can cause.
 */
#define WALK(name_, ...)						\
	static const struct path path_##name_ = {			\
		.name = #name_, __VA_ARGS__				\
	};								\
	TEST_F_TIMEOUT(failnth, name_, 600)				\
	{								\
		walk(_metadata, &path_##name_);				\
	}

/* open(2): the VFS's -ENOMEM and -EFAULT (the path), and the port's. */
WALK(open, .errs = { ENOMEM, EFAULT },
	.setup = setup_none, .call = call_open, .check = check_open)
WALK(setup_ioctl, .errs = { EFAULT },
	.setup = setup_port, .call = call_setup, .check = check_setup)
WALK(query_ioctl, .errs = { EFAULT },
	.setup = setup_port, .call = call_query, .check = check_query)
/* CPORT_IOC_ENTER: the header, a record (-EFAULT), the work (-ENOMEM). */
WALK(post, .errs = { ENOMEM, EFAULT },
	.setup = setup_port, .call = call_post, .check = check_post)
WALK(post_delayed, .errs = { ENOMEM, EFAULT },
	.setup = setup_port, .call = call_post_delayed,
	.check = check_post_delayed)
/* The first ASSOCIATE of a process allocates its mm's notifier list. */
WALK(associate_first, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.fresh = true,
	.setup = setup_pair, .call = call_associate, .check = check_associate)
WALK(associate_tcp6, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP6, .flags = 1,
	.setup = setup_pair, .call = call_associate, .check = check_associate)
WALK(dissociate, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.setup = setup_assoc_snap, .call = call_dissociate,
	.check = check_dissociate)
WALK(recv_pending, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.setup = setup_assoc_snap, .call = call_recv,
	.check = check_recv_pending)
WALK(recv_inline_tcp4, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.flags = CPORT_SQE_INLINE,
	.setup = setup_recv_data, .call = call_recv, .check = check_recv_data)
WALK(recv_inline_unix, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.flags = CPORT_SQE_INLINE,
	.setup = setup_recv_data, .call = call_recv, .check = check_recv_data)
WALK(recv_posted_tcp4, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.setup = setup_recv_data, .call = call_recv, .check = check_recv_data)
WALK(recvv_pending, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.setup = setup_assoc_snap, .call = call_recvv,
	.check = check_recv_pending)
WALK(recvv_inline_tcp4, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.flags = CPORT_SQE_INLINE,
	.setup = setup_recv_data, .call = call_recvv, .check = check_recv_data)
WALK(send_tcp4, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.setup = setup_send, .call = call_send, .check = check_send)
WALK(send_unix, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.setup = setup_send, .call = call_send, .check = check_send)
WALK(send_tcp4_armed, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.setup = setup_send_armed, .call = call_send, .check = check_send)
WALK(send_inline_unix, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.flags = CPORT_SQE_INLINE,
	.setup = setup_send, .call = call_send, .check = check_send)
/* flags: the op_flags, and CPORT_SQE_INLINE << 8 for the sqe flag. */
WALK(accept_posted, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.setup = setup_accept, .call = call_accept, .check = check_accept)
WALK(accept_inline, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.flags = CPORT_SQE_INLINE << 8,
	.setup = setup_accept, .call = call_accept, .check = check_accept)
WALK(accept_associate, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.flags = CPORT_ACCEPT_ASSOCIATE,
	.setup = setup_accept, .call = call_accept, .check = check_accept)
/*
 * Waits.  -ENOMEM: the thread's record, made by its first wait on a port
 * (the header lists it for submissions only).  flags: how many queued.
 */
WALK(wait_first, .errs = { EFAULT, ENOMEM }, .flags = 1,
	.setup = setup_queued, .call = call_wait, .check = check_wait)
WALK(wait_three, .errs = { EFAULT, ENOMEM }, .flags = 3,
	.setup = setup_queued, .call = call_wait, .check = check_wait)
WALK(wait_accept, .errs = { EFAULT, ENOMEM }, .kind = SK_TCP4,
	.setup = setup_accepted, .call = call_wait_accept,
	.check = check_wait_accept)
WALK(wait_accept_associate, .errs = { EFAULT, ENOMEM }, .kind = SK_TCP4,
	.flags = CPORT_ACCEPT_ASSOCIATE,
	.setup = setup_accepted, .call = call_wait_accept,
	.check = check_wait_accept)
WALK(wait_runs_socket, .errs = { EFAULT, ENOMEM }, .kind = SK_UNIX,
	.own_nth = true,
	.setup = setup_recv_pending, .call = call_waiter_runs,
	.check = check_waiter_runs)
/* The peer's write (not cport's call) fails as send(2) documents. */
WALK(fallback_unix, .errs = { ENOMEM, ENOBUFS, EFAULT }, .kind = SK_UNIX,
	.setup = setup_recv_pending, .call = call_peer_write,
	.check = check_fallback)
WALK(fallback_tcp4, .errs = { ENOMEM, ENOBUFS, EFAULT }, .kind = SK_TCP4,
	.setup = setup_recv_pending, .call = call_peer_write,
	.check = check_fallback)
WALK(cancel_user_data, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.flags = CPORT_CANCEL_USER_DATA,
	.setup = setup_recv_pending, .call = call_cancel, .check = check_cancel)
WALK(cancel_fd, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.flags = CPORT_CANCEL_FD,
	.setup = setup_recv_pending, .call = call_cancel, .check = check_cancel)
WALK(cancel_key, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.flags = CPORT_CANCEL_KEY,
	.setup = setup_recv_pending, .call = call_cancel, .check = check_cancel)
WALK(cancel_all, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.flags = CPORT_CANCEL_ALL,
	.setup = setup_recv_pending, .call = call_cancel, .check = check_cancel)
WALK(enter_batch, .errs = { ENOMEM, EFAULT }, .kind = SK_UNIX,
	.setup = setup_assoc_snap, .call = call_batch, .check = check_batch)
/*
 * A full descriptor table: the descriptor of an accepted connection
 * cannot be allocated (-ENOMEM from expand_files()), at an inline result
 * and at dequeue.  Each step in a new process, whose table is the
 * initial one.
 */
WALK(accept_inline_fdtable, .errs = { ENOMEM, EFAULT }, .kind = SK_TCP4,
	.flags = CPORT_SQE_INLINE << 8, .fresh = true, .full_fdtable = true,
	.setup = setup_accept, .call = call_accept, .check = check_accept)
WALK(wait_accept_fdtable, .errs = { EFAULT, ENOMEM }, .kind = SK_TCP4,
	.fresh = true, .full_fdtable = true,
	.setup = setup_accepted, .call = call_wait_accept,
	.check = check_wait_accept)
/* DESTROY, close() and LEAVE have no error to give. */
WALK(destroy_pending, .setup = setup_full, .call = call_destroy,
	.check = check_destroy)
WALK(close_pending, .setup = setup_full, .call = call_close,
	.check = check_close)
WALK(leave, .setup = setup_joined, .call = call_leave, .check = check_leave)

int main(int argc, char **argv)
{
	verbose = getenv("CPORT_FAILNTH_VERBOSE");
	attrs_setup();
	return test_harness_run(argc, argv);
}
