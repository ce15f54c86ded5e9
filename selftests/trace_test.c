// SPDX-License-Identifier: GPL-2.0
/*
 * The cport: tracepoints (kmod/trace.h): each fires when its event
 * happens, with the documented fields.  The events are enabled in a trace
 * instance of the test's own (instances/cport_trace_test.PID, made once
 * for the run and removed at its end), so that a tracer already running
 * on the system is neither disturbed nor read;
 * each test triggers its events with real port operations, then reads the
 * instance's trace and looks for the exact lines, field by field:
 *
 *   cport_post         port key user_data          a POST, or a socket
 *                                                  operation's completion
 *   cport_handoff      port pid user_data          to a sleeping waiter
 *   cport_dequeue      port nr slept               in the waiter's context
 *   cport_op_done      port op user_data res bytes how=posted|inline|discarded
 *   cport_sock_run     port key pid who=submitter|waiter|fallback
 *   cport_blocked      port pid                    a counted thread slept
 *   cport_resumed      port pid                    and ran again
 *   cport_thread_exit  port pid                    an associated thread exited
 *
 * Ports are named by a small id that only the tracepoints show (fdinfo
 * has no "id" line yet; if it gets one, it must match): each test learns
 * its port's id from a sentinel POST, then every event it looks for must
 * carry that id.
 * The pid in a line's header (the task the event ran in) is checked too
 * where the event runs in a known thread.  The socket tests use unix
 * stream sockets, whose peer's data-ready callback runs in the writer's
 * system call, so who runs the socket does not depend on softirq timing.
 *
 * CPORT_TRACE_DUMP=1 in the environment logs each test's events even when
 * it passes.
 *
 * The whole test is skipped when tracefs cannot be mounted, instances
 * cannot be made (not root), or the module has no cport events.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sock_util.h"

#define TRACEFS		"/sys/kernel/tracing"
#define DEBUGFS_TRACING	"/sys/kernel/debug/tracing"

#define KEY		0x6b6579ULL		/* "key" */

/* The test has failed so far (then its port's events are logged). */
#define FAILED()	(_metadata->exit_code == KSFT_FAIL)

/* --- tracefs ------------------------------------------------------------- */

/* A whole file, NUL-terminated, in a malloc()ed buffer, or NULL. */
static char *read_all(const char *path)
{
	size_t len = 0, size = 1 << 16;
	char *buf = malloc(size), *p;
	ssize_t n;
	int f;

	if (!buf)
		return NULL;
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		free(buf);
		return NULL;
	}
	for (;;) {
		if (size - len < 4096) {
			p = realloc(buf, size * 2);
			if (!p)
				break;
			buf = p;
			size *= 2;
		}
		n = read(f, buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(f);
	buf[len] = '\0';
	return buf;
}

/* Where tracefs is, mounting it if needed; NULL if it cannot be had. */
static const char *tracefs_root(void)
{
	if (!access(TRACEFS "/instances", F_OK))
		return TRACEFS;
	if (!mount("nodev", TRACEFS, "tracefs", 0, NULL) &&
	    !access(TRACEFS "/instances", F_OK))
		return TRACEFS;
	if (!access(DEBUGFS_TRACING "/instances", F_OK))
		return DEBUGFS_TRACING;
	return NULL;
}

/* One parsed line of the trace: a cport_* event. */
struct tev {
	char name[32];		/* cport_post ... */
	int task;		/* the header's pid: the task it ran in */
	char args[256];		/* "port=1 key=0x0 ..." */
};

struct trace {
	struct tev *ev;
	int n;
};

static void trace_free(struct trace *t)
{
	free(t->ev);
	t->ev = NULL;
	t->n = 0;
}

/*
 * "  comm-1234    [001] d..2.   12.345678: cport_post: port=1 key=0x0 ..."
 * (the flags column and a "(tgid)" column are optional).  Returns whether
 * @line is a cport event; fills @e.
 */
static bool parse_line(const char *line, struct tev *e)
{
	const char *ev = strstr(line, ": cport_"), *p, *q, *colon;
	size_t len;

	if (!ev)
		return false;
	ev += 2;
	colon = strstr(ev, ": ");
	if (!colon || (size_t)(colon - ev) >= sizeof(e->name))
		return false;
	memcpy(e->name, ev, colon - ev);
	e->name[colon - ev] = '\0';
	len = strcspn(colon + 2, "\n");
	if (len >= sizeof(e->args))
		len = sizeof(e->args) - 1;
	memcpy(e->args, colon + 2, len);
	e->args[len] = '\0';
	/* The header's pid: digits after the last '-' before the "[cpu]". */
	e->task = -1;
	for (p = line; p < ev && (p = strchr(p, '[')) && p < ev; p++) {
		if (!isdigit((unsigned char)p[1]))
			continue;
		q = p;
		while (q > line && q[-1] == ' ')
			q--;
		if (q > line && q[-1] == ')') {		/* "(tgid)" */
			while (q > line && q[-1] != '(')
				q--;
			if (q > line)
				q--;
			while (q > line && q[-1] == ' ')
				q--;
		}
		while (q > line && isdigit((unsigned char)q[-1]))
			q--;
		if (q > line && q[-1] == '-')
			e->task = atoi(q);
		break;
	}
	return true;
}

/* The cport events in instance @dir's trace, in order. */
static int trace_read(const char *dir, struct trace *t)
{
	char path[512], *buf, *line, *save = NULL;
	struct tev e, *ev;

	trace_free(t);
	snprintf(path, sizeof(path), "%s/trace", dir);
	buf = read_all(path);
	if (!buf)
		return -errno ?: -EIO;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !parse_line(line, &e))
			continue;
		ev = realloc(t->ev, (t->n + 1) * sizeof(*ev));
		if (!ev)
			break;
		t->ev = ev;
		t->ev[t->n++] = e;
	}
	free(buf);
	return 0;
}

/* Whether every "k=v" of @want is, exactly, a field of @args. */
static bool args_match(const char *args, const char *want)
{
	char tok[128];
	const char *w = want, *a;
	size_t len;

	while (*w) {
		while (*w == ' ')
			w++;
		len = strcspn(w, " ");
		if (!len)
			break;
		if (len >= sizeof(tok))
			return false;
		memcpy(tok, w, len);
		tok[len] = '\0';
		w += len;
		for (a = args; (a = strstr(a, tok)); a++)
			if ((a == args || a[-1] == ' ') &&
			    (a[len] == ' ' || a[len] == '\0'))
				break;
		if (!a)
			return false;
	}
	return true;
}

/*
 * The index of the first event at or after @from named @name whose fields
 * include each "k=v" of the printf-formatted @fmt, or -1.
 */
static int __attribute__((format(printf, 4, 5)))
trace_find(const struct trace *t, int from, const char *name,
	   const char *fmt, ...)
{
	char want[256];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	for (i = from < 0 ? 0 : from; i < t->n; i++)
		if (!strcmp(t->ev[i].name, name) &&
		    args_match(t->ev[i].args, want))
			return i;
	return -1;
}

/* How many events named @name (any, if NULL) carry the fields of @want. */
static int trace_count(const struct trace *t, const char *name,
		       const char *want)
{
	int i, n = 0;

	for (i = 0; i < t->n; i++)
		n += (!name || !strcmp(t->ev[i].name, name)) &&
		     args_match(t->ev[i].args, want);
	return n;
}

/* The events of port @id, for a failing test's log. */
static void trace_dump(struct __test_metadata *_metadata,
		       const struct trace *t, unsigned int id)
{
	char want[32];
	int i;

	snprintf(want, sizeof(want), "port=%u", id);
	TH_LOG("cport events of port %u (%d events in all):", id, t->n);
	for (i = 0; i < t->n; i++)
		if (args_match(t->ev[i].args, want))
			TH_LOG("  %3d %5d %s: %s", i, t->ev[i].task,
			       t->ev[i].name, t->ev[i].args);
}

/* --- The fixture: an instance with the cport events on --------------------- */

FIXTURE(trace) {
	char dir[256];		/* the instance; "" when not made */
	struct trace t;
	int port;
	unsigned int id;	/* the port's trace id */
	int fds[2];		/* [0] associated (server end), [1] the peer */
};

/*
 * The instance, one for the whole run: made by the first test's setup,
 * removed when the harness (the process that forks the tests) exits.
 * Enabling and disabling the events flips static keys, i.e. patches
 * kernel text; under QEMU TCG that live patching can leave a stale int3
 * that another vCPU hits (docs/concurrency.md), so it is done once, not
 * per test, and with record-cmd off, so that the scheduler's sched_switch
 * and sched_wakeup tracepoints (which record-cmd hooks) are not flipped
 * at all.  (Task names then print as "<...>"; the pids are all the test
 * reads.)
 */
static pid_t harness_pid;
static char instance[256];

static void __attribute__((constructor)) note_harness(void)
{
	harness_pid = getpid();
}

/* (The tests run in forked children: the harness has its own copy of
 * instance[], empty; it looks under both places tracefs may be.) */
static void __attribute__((destructor)) instance_remove(void)
{
	static const char * const roots[] = { TRACEFS, DEBUGFS_TRACING };
	char dir[256], path[512];
	unsigned int i;

	if (getpid() != harness_pid)
		return;
	for (i = 0; i < ARRAY_SIZE(roots); i++) {
		snprintf(dir, sizeof(dir), "%s/instances/cport_trace_test.%d",
			 roots[i], harness_pid);
		if (access(dir, F_OK))
			continue;
		snprintf(path, sizeof(path), "%s/events/cport/enable", dir);
		write_str(path, "0");
		rmdir(dir);
	}
}

/* Make the instance if it is not there yet: NULL, or why not. */
static const char *instance_get(void)
{
	const char *root = tracefs_root();
	static char why[128];
	char path[512];
	int ret;

	if (!root)
		return "no tracefs (not mountable at " TRACEFS ")";
	snprintf(instance, sizeof(instance), "%s/instances/cport_trace_test.%d",
		 root, harness_pid);
	if (!access(instance, F_OK))
		return NULL;
	if (mkdir(instance, 0755)) {
		snprintf(why, sizeof(why), "cannot make a trace instance: %s",
			 strerror(errno));
		return why;
	}
	snprintf(path, sizeof(path), "%s/events/cport/cport_post", instance);
	if (access(path, F_OK)) {
		rmdir(instance);
		return "no cport events in tracefs (module without tracepoints?)";
	}
	snprintf(path, sizeof(path), "%s/options/record-cmd", instance);
	write_str(path, "0");
	/* Small: what a test makes is a few dozen lines. */
	snprintf(path, sizeof(path), "%s/buffer_size_kb", instance);
	write_str(path, "256");
	snprintf(path, sizeof(path), "%s/events/cport/enable", instance);
	ret = write_str(path, "1");
	if (ret) {
		rmdir(instance);
		snprintf(why, sizeof(why), "cannot enable the cport events: %s",
			 strerror(-ret));
		return why;
	}
	return NULL;
}

FIXTURE_SETUP(trace)
{
	const char *why;
	char path[512];

	self->dir[0] = '\0';
	self->port = -1;
	self->fds[0] = self->fds[1] = -1;
	memset(&self->t, 0, sizeof(self->t));

	why = instance_get();
	if (why)
		SKIP(return, "%s", why);
	snprintf(self->dir, sizeof(self->dir), "%s", instance);
	/* Each test reads only its own events. */
	snprintf(path, sizeof(path), "%s/trace", self->dir);
	ASSERT_EQ(0, write_str(path, ""));

	self->port = cport_create(NULL);
	ASSERT_LE(0, self->port) {
		TH_LOG("cannot open " CPORT_DEV_PATH ": %s",
		       strerror(-self->port));
	}
}

FIXTURE_TEARDOWN(trace)
{
	if (self->fds[0] >= 0)
		close(self->fds[0]);
	if (self->fds[1] >= 0)
		close(self->fds[1]);
	if (self->port >= 0)
		cport_close(self->port);
	trace_free(&self->t);
}

/* Re-read the trace until event @name with fields @fmt... is in it. */
#define trace_wait_for(self, name, fmt, ...)				\
	wait_until(!trace_read((self)->dir, &(self)->t) &&		\
		   trace_find(&(self)->t, 0, name, fmt, ##__VA_ARGS__) >= 0, \
		   PROGRESS_MS)

struct sentinel {
	int port;
	__u64 ud;
	pid_t tid;
	int ret;
};

static void *sentinel_fn(void *arg)
{
	struct sentinel *s = arg;
	struct cport_cqe cqe;

	s->tid = sys_gettid();
	s->ret = cport_post(s->port, 0, s->ud, 0, 0);
	if (!s->ret)
		s->ret = cport_wait(s->port, &cqe, 1, 0);
	return NULL;
}

/*
 * The trace id of @port: the port of the cport_post of a sentinel POST,
 * which a thread of its own makes and takes (and then exits), so that the
 * calling thread does not become one of the port's threads; and fdinfo's
 * "id" line, if the module prints one, must say the same (-EPROTO if
 * not).  On success *@tid is that thread.  Returns 0 or -errno.
 */
static int learn_port_id(FIXTURE_DATA(trace) *self, int port,
			 unsigned int *id, pid_t *tid)
{
	static unsigned int seq;
	struct sentinel s = {
		.port = port,
		.ud = 0x5e47000000000000ULL | ((__u64)getpid() << 16) | ++seq,
	};
	pthread_t th;
	long long v;
	int i;

	*tid = 0;
	if (pthread_create(&th, NULL, sentinel_fn, &s))
		return -EAGAIN;
	pthread_join(th, NULL);
	if (s.ret != 1)
		return s.ret < 0 ? s.ret : -EPROTO;
	if (!wait_until(!trace_read(self->dir, &self->t) &&
			trace_find(&self->t, 0, "cport_post",
				   "user_data=0x%llx",
				   (unsigned long long)s.ud) >= 0, PROGRESS_MS))
		return -ENOENT;
	i = trace_find(&self->t, 0, "cport_post", "user_data=0x%llx",
		       (unsigned long long)s.ud);
	*id = strtoul(self->t.ev[i].args + strlen("port="), NULL, 10);
	*tid = s.tid;
	/* A module that shows the id in fdinfo must show this one. */
	v = fdinfo_get(port, "id");
	if (v >= 0 && v != *id)
		return -EPROTO;
	/*
	 * Its exit is counted at its last switch, which may come after
	 * the join: until then it holds a slot of the concurrency value.
	 */
	return fdinfo_wait(port, "threads", 0) ? 0 : -EBUSY;
}

/* Learn self->id of self->port, or fail the test. */
#define LEARN_ID(self) do {						\
	pid_t __tid;							\
	int __ret = learn_port_id(self, (self)->port, &(self)->id, &__tid); \
	ASSERT_EQ(0, __ret) {						\
		TH_LOG("port id from a sentinel POST: %s",		\
		       strerror(-__ret));				\
	}								\
} while (0)

/* self->fds: a unix stream pair, [0] associated with the port under KEY. */
static int assoc_pair(FIXTURE_DATA(trace) *self)
{
	int ret = sock_pair(SK_UNIX, self->fds);

	return ret ?: cport_associate(self->port, self->fds[0], KEY, 0);
}

/* --- The events ------------------------------------------------------------ */

/*
 * The event files carry the documented fields (what perf and trace-cmd
 * read), and every enum the print format names is resolved to a number:
 * a name left in "print fmt" (an enum without TRACE_DEFINE_ENUM) is one
 * that user-space parsers of the binary trace cannot print.
 */
TEST_F(trace, formats)
{
	static const struct {
		const char *event, *fields[6];
	} ev[] = {
		{ "cport_post", { "port", "key", "user_data" } },
		{ "cport_handoff", { "port", "pid", "user_data" } },
		{ "cport_dequeue", { "port", "nr", "slept" } },
		{ "cport_op_done", { "port", "op", "how", "user_data", "res",
				     "bytes" } },
		{ "cport_sock_run", { "port", "pid", "key", "who" } },
		{ "cport_blocked", { "port", "pid" } },
		{ "cport_resumed", { "port", "pid" } },
		{ "cport_thread_exit", { "port", "pid" } },
	};
	char path[512], want[64], *fmt, *p, *end;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(ev); i++) {
		snprintf(path, sizeof(path), "%s/events/cport/%s/format",
			 self->dir, ev[i].event);
		fmt = read_all(path);
		ASSERT_NE(NULL, fmt) {
			TH_LOG("%s: no format file", ev[i].event);
		}
		for (j = 0; j < ARRAY_SIZE(ev[i].fields) && ev[i].fields[j]; j++) {
			snprintf(want, sizeof(want), " %s;", ev[i].fields[j]);
			EXPECT_NE(NULL, strstr(fmt, want)) {
				TH_LOG("%s: no field %s", ev[i].event,
				       ev[i].fields[j]);
			}
		}
		/* Unresolved enum names left in the print format. */
		p = strstr(fmt, "print fmt:");
		ASSERT_NE(NULL, p);
		while ((p = strstr(p, "CPORT_"))) {
			for (end = p; isalnum((unsigned char)*end) || *end == '_';
			     end++)
				;
			TH_LOG("%s: print fmt names %.*s (no TRACE_DEFINE_ENUM: "
			       "perf and trace-cmd cannot print it)",
			       ev[i].event, (int)(end - p), p);
			_metadata->exit_code = KSFT_FAIL;
			p = end;
		}
		free(fmt);
	}
}

/* A POST taken by a wait that did not sleep; then a batch of three. */
TEST_F(trace, post_and_dequeue)
{
	struct cport_cqe cqes[4];
	pid_t me = sys_gettid();
	int i;

	LEARN_ID(self);
	ASSERT_EQ(0, cport_post(self->port, KEY, 0x1001, -5, 77));
	ASSERT_EQ(1, cport_wait(self->port, cqes, 4, 0));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cport_post(self->port, KEY + 1 + i, 0x2000 + i, 0, 0));
	ASSERT_EQ(3, cport_wait(self->port, cqes, 4, 0));
	ASSERT_TRUE(trace_wait_for(self, "cport_dequeue", "port=%u nr=3",
				   self->id));

	i = trace_find(&self->t, 0, "cport_post",
		       "port=%u key=0x%llx user_data=0x1001", self->id, KEY);
	EXPECT_LE(0, i);
	if (i >= 0)
		EXPECT_EQ(me, self->t.ev[i].task);
	i = trace_find(&self->t, i, "cport_dequeue", "port=%u nr=1 slept=0",
		       self->id);
	EXPECT_LE(0, i);
	if (i >= 0)
		EXPECT_EQ(me, self->t.ev[i].task);
	for (int k = 0; k < 3; k++) {
		int j = trace_find(&self->t, i, "cport_post",
				   "port=%u key=0x%llx user_data=0x%x",
				   self->id, KEY + 1 + k, 0x2000 + k);

		EXPECT_LT(i, j);
		i = j;
	}
	i = trace_find(&self->t, i, "cport_dequeue", "port=%u nr=3 slept=0",
		       self->id);
	EXPECT_LE(0, i);
	if (i >= 0)
		EXPECT_EQ(me, self->t.ev[i].task);
	/* Nothing was handed: nobody slept. */
	EXPECT_EQ(0, trace_count(&self->t, "cport_handoff", ""));
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/*
 * A POST to a port with a sleeping waiter: cport_post, then
 * cport_handoff naming the waiter, in the poster's context; the waiter's
 * cport_dequeue says it slept.
 */
TEST_F(trace, handoff_to_sleeping_waiter)
{
	pid_t me = sys_gettid();
	struct waiter w;
	int seq = 0, i, j;

	LEARN_ID(self);
	ASSERT_EQ(0, waiter_start(&w, self->port, 1,
				  4LL * PROGRESS_MS * NSEC_PER_MSEC, &seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	ASSERT_EQ(0, cport_post(self->port, KEY, 0xabc, 0, 0));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.ret);
	EXPECT_EQ(0xabc, w.cqes[0].user_data);
	ASSERT_TRUE(trace_wait_for(self, "cport_dequeue", "port=%u slept=1",
				   self->id));

	i = trace_find(&self->t, 0, "cport_post",
		       "port=%u key=0x%llx user_data=0xabc", self->id, KEY);
	ASSERT_LE(0, i);
	EXPECT_EQ(me, self->t.ev[i].task);
	j = trace_find(&self->t, i, "cport_handoff",
		       "port=%u pid=%d user_data=0xabc", self->id, w.tid);
	EXPECT_LT(i, j);
	if (j >= 0)
		EXPECT_EQ(me, self->t.ev[j].task);
	i = trace_find(&self->t, j, "cport_dequeue", "port=%u nr=1 slept=1",
		       self->id);
	EXPECT_LT(j, i);
	if (i >= 0)
		EXPECT_EQ(w.tid, self->t.ev[i].task);
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/*
 * A RECV that finds its data at submission and returns inline: the
 * submitter runs the socket, cport_op_done says inline, nothing posted.
 * Then a SEND inline, for the op name.
 */
TEST_F(trace, recv_send_inline)
{
	char buf[64] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?";
	char in[64];
	struct cport_sqe sqe;
	pid_t me = sys_gettid();
	int i, j;

	LEARN_ID(self);
	ASSERT_EQ(0, assoc_pair(self));
	ASSERT_EQ(0, write_full(self->fds[1], buf, 40));
	ASSERT_EQ(1, sub_recv(self->port, &sqe, self->fds[0], in, sizeof(in),
			      0x7ec1, 0, CPORT_SQE_INLINE, 0));
	ASSERT_EQ(CPORT_STATUS_INLINE, sqe.status);
	ASSERT_EQ(40, sqe.res);
	ASSERT_EQ(1, sub_send(self->port, &sqe, self->fds[0], buf, 24, 0x5e2d,
			      CPORT_SQE_INLINE, 0));
	ASSERT_EQ(CPORT_STATUS_INLINE, sqe.status);
	ASSERT_EQ(24, sqe.res);
	ASSERT_TRUE(trace_wait_for(self, "cport_op_done", "port=%u op=SEND",
				   self->id));

	i = trace_find(&self->t, 0, "cport_sock_run",
		       "port=%u key=0x%llx pid=%d who=submitter", self->id, KEY,
		       me);
	ASSERT_LE(0, i);
	EXPECT_EQ(me, self->t.ev[i].task);
	j = trace_find(&self->t, i, "cport_op_done",
		       "port=%u op=RECV user_data=0x7ec1 res=40 bytes=40 how=inline",
		       self->id);
	EXPECT_LT(i, j);
	i = trace_find(&self->t, j, "cport_sock_run",
		       "port=%u key=0x%llx pid=%d who=submitter", self->id, KEY,
		       me);
	EXPECT_LT(j, i);
	j = trace_find(&self->t, i, "cport_op_done",
		       "port=%u op=SEND user_data=0x5e2d res=24 bytes=24 how=inline",
		       self->id);
	EXPECT_LT(i, j);
	/* Inline: no completion was posted for either. */
	EXPECT_EQ(0, trace_count(&self->t, "cport_post", "user_data=0x7ec1"));
	EXPECT_EQ(0, trace_count(&self->t, "cport_post", "user_data=0x5e2d"));
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/*
 * A pending RECV whose data comes while a thread sleeps on the port: the
 * socket is handed to that waiter (cport_handoff user_data 0), which runs
 * it (who=waiter), takes the completion itself (how=posted, no
 * cport_post: it never went through the queue) and returns it.
 */
TEST_F(trace, recv_run_by_waiter)
{
	char buf[32] = "hello, waiter", in[32];
	pid_t me = sys_gettid();
	struct waiter w;
	int seq = 0, i, j;

	LEARN_ID(self);
	ASSERT_EQ(0, assoc_pair(self));
	ASSERT_EQ(1, recv_pending(self->port, self->fds[0], in, sizeof(in),
				  0x7ec2, 0, 0));
	ASSERT_EQ(0, waiter_start(&w, self->port, 1,
				  4LL * PROGRESS_MS * NSEC_PER_MSEC, &seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	ASSERT_EQ(0, write_full(self->fds[1], buf, 13));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.ret);
	EXPECT_CQE(w.cqes[0], CPORT_OP_RECV, KEY, 0x7ec2, 13, 13);
	ASSERT_TRUE(trace_wait_for(self, "cport_dequeue", "port=%u slept=1",
				   self->id));

	/* The submission ran the socket first, and found nothing. */
	i = trace_find(&self->t, 0, "cport_sock_run",
		       "port=%u key=0x%llx pid=%d who=submitter", self->id, KEY,
		       me);
	EXPECT_LE(0, i);
	i = trace_find(&self->t, 0, "cport_handoff",
		       "port=%u pid=%d user_data=0x0", self->id, w.tid);
	ASSERT_LE(0, i);
	j = trace_find(&self->t, i, "cport_sock_run",
		       "port=%u key=0x%llx pid=%d who=waiter", self->id, KEY,
		       w.tid);
	ASSERT_LT(i, j);
	EXPECT_EQ(w.tid, self->t.ev[j].task);
	i = trace_find(&self->t, j, "cport_op_done",
		       "port=%u op=RECV user_data=0x7ec2 res=13 bytes=13 how=posted",
		       self->id);
	ASSERT_LT(j, i);
	EXPECT_EQ(w.tid, self->t.ev[i].task);
	j = trace_find(&self->t, i, "cport_dequeue", "port=%u nr=1 slept=1",
		       self->id);
	EXPECT_LT(i, j);
	if (j >= 0)
		EXPECT_EQ(w.tid, self->t.ev[j].task);
	EXPECT_EQ(0, trace_count(&self->t, "cport_post", "user_data=0x7ec2"));
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/*
 * A pending RECV whose data comes while no thread of the port runs or
 * waits: the fallback (task work on the thread that submitted, run on its
 * way back to user space from the write) runs the socket and posts the
 * completion (cport_post with the RECV's key and user_data), which a
 * wait that does not sleep then takes.
 */
TEST_F(trace, recv_posted_by_fallback)
{
	char buf[32] = "hello, fallback", in[32];
	struct cport_cqe cqe;
	pid_t me = sys_gettid();
	int i, j;

	LEARN_ID(self);
	ASSERT_EQ(0, assoc_pair(self));
	ASSERT_EQ(1, recv_pending(self->port, self->fds[0], in, sizeof(in),
				  0x7ec3, 0, 0));
	ASSERT_EQ(0, write_full(self->fds[1], buf, 15));
	/* Run by the fallback before anyone waits. */
	ASSERT_TRUE(fdinfo_wait(self->port, "queued", 1));
	ASSERT_EQ(1, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 0x7ec3, 15, 15);
	ASSERT_TRUE(trace_wait_for(self, "cport_dequeue", "port=%u nr=1",
				   self->id));

	i = trace_find(&self->t, 0, "cport_sock_run",
		       "port=%u key=0x%llx pid=%d who=fallback", self->id, KEY,
		       me);
	ASSERT_LE(0, i);
	EXPECT_EQ(me, self->t.ev[i].task);
	j = trace_find(&self->t, i, "cport_op_done",
		       "port=%u op=RECV user_data=0x7ec3 res=15 bytes=15 how=posted",
		       self->id);
	ASSERT_LT(i, j);
	i = trace_find(&self->t, j, "cport_post",
		       "port=%u key=0x%llx user_data=0x7ec3", self->id, KEY);
	ASSERT_LT(j, i);
	j = trace_find(&self->t, i, "cport_dequeue", "port=%u nr=1 slept=0",
		       self->id);
	EXPECT_LT(i, j);
	if (j >= 0)
		EXPECT_EQ(me, self->t.ev[j].task);
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/*
 * A pending RECV whose data comes while the port is at its concurrency
 * value (1: this thread holds the slot, no block tracking) and another
 * thread waits: after the grace, the fallback wakes the waiter to serve
 * (who=fallback in the waiter's context), which posts the completion and
 * sleeps again; this thread takes it.
 */
TEST_F(trace, recv_served_by_waiter_at_limit)
{
	char buf[32] = "hello, server", in[32];
	struct cport_cqe cqe;
	pid_t me = sys_gettid();
	struct waiter w;
	int seq = 0, i, j;

	cport_close(self->port);
	self->port = port_new_flags(CPORT_SETUP_NO_BLOCK_TRACKING, 1,
				    CPORT_POLICY_LIFO, 0);
	ASSERT_LE(0, self->port);
	LEARN_ID(self);
	ASSERT_EQ(0, assoc_pair(self));
	/* Take the one slot. */
	ASSERT_EQ(0, cport_post(self->port, 0, 0x51, 0, 0));
	ASSERT_EQ(1, cport_wait(self->port, &cqe, 1, 0));
	ASSERT_EQ(0, waiter_start(&w, self->port, 1, -1 /* none */, &seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	ASSERT_EQ(1, recv_pending(self->port, self->fds[0], in, sizeof(in),
				  0x7ec4, 0, 0));
	ASSERT_EQ(0, write_full(self->fds[1], buf, 13));
	ASSERT_TRUE(fdinfo_wait(self->port, "queued", 1));
	ASSERT_EQ(1, cport_wait(self->port, &cqe, 1, 0));
	EXPECT_CQE(cqe, CPORT_OP_RECV, KEY, 0x7ec4, 13, 13);
	/* The waiter still waits: destroy sends it away. */
	EXPECT_EQ(0, waiter_done(&w));
	ASSERT_EQ(0, cport_destroy(self->port));
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EIDRM, w.ret);
	ASSERT_TRUE(trace_wait_for(self, "cport_dequeue",
				   "port=%u nr=1 slept=0", self->id));

	i = trace_find(&self->t, 0, "cport_handoff",
		       "port=%u pid=%d user_data=0x0", self->id, w.tid);
	ASSERT_LE(0, i);
	j = trace_find(&self->t, i, "cport_sock_run",
		       "port=%u key=0x%llx pid=%d who=fallback", self->id, KEY,
		       w.tid);
	ASSERT_LT(i, j);
	EXPECT_EQ(w.tid, self->t.ev[j].task);
	i = trace_find(&self->t, j, "cport_op_done",
		       "port=%u op=RECV user_data=0x7ec4 res=13 bytes=13 how=posted",
		       self->id);
	ASSERT_LT(j, i);
	j = trace_find(&self->t, i, "cport_post",
		       "port=%u key=0x%llx user_data=0x7ec4", self->id, KEY);
	ASSERT_LT(i, j);
	EXPECT_EQ(w.tid, self->t.ev[j].task);
	/* Taken by this thread, not handed to the waiter. */
	EXPECT_EQ(0, trace_count(&self->t, "cport_handoff", "user_data=0x7ec4"));
	i = trace_find(&self->t, j, "cport_dequeue", "port=%u nr=1 slept=0",
		       self->id);
	EXPECT_LT(j, i);
	if (i >= 0)
		EXPECT_EQ(me, self->t.ev[i].task);
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/*
 * The ACCEPT @ud's cport_op_done (how=@how) says res=@res bytes=@bytes,
 * what the submission or the completion said.  Known and reported: the
 * module traces the ACCEPT before it installs the new descriptor (at the
 * inline return, or at dequeue), so its res is 0, not the descriptor;
 * logged, not failed, until kmod/runner.c traces the descriptor (or
 * trace.h says what res means for an ACCEPT).
 */
static void accept_res(struct __test_metadata *_metadata,
		       const struct trace *t, unsigned int id,
		       unsigned long long ud, const char *how, long long res,
		       unsigned long long bytes)
{
	if (trace_find(t, 0, "cport_op_done",
		       "port=%u op=ACCEPT user_data=0x%llx res=%lld bytes=%llu how=%s",
		       id, ud, res, bytes, how) >= 0)
		return;
	if (trace_find(t, 0, "cport_op_done",
		       "port=%u op=ACCEPT user_data=0x%llx res=0 bytes=%llu how=%s",
		       id, ud, bytes, how) >= 0) {
		TH_LOG("known: ACCEPT 0x%llx (%s): cport_op_done says res=0, "
		       "the %s says %lld (the descriptor)", ud, how,
		       strcmp(how, "inline") ? "completion" : "submission", res);
		return;
	}
	TH_LOG("no cport_op_done op=ACCEPT user_data=0x%llx res=%lld bytes=%llu how=%s",
	       ud, res, bytes, how);
	_metadata->exit_code = KSFT_FAIL;
}

/*
 * ACCEPTs of a connection already waiting, run by the submitter: inline,
 * then posted (cport_post, then taken).  Their cport_op_done's res should
 * be what the submission and the completion say: the new descriptor (see
 * accept_res()).
 */
TEST_F(trace, accept_inline_and_posted)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	unsigned long long in_bytes;
	pid_t me = sys_gettid();
	int lst, c1, c2, i;
	long long in_res;

	LEARN_ID(self);
	lst = sock_listener(SK_UNIX);
	ASSERT_LE(0, lst);
	self->fds[0] = lst;	/* closed by the teardown */
	ASSERT_EQ(0, cport_associate(self->port, lst, KEY, 0));
	c1 = sock_connect(lst);
	ASSERT_LE(0, c1);
	self->fds[1] = c1;
	cport_prep_accept(&sqe, lst, NULL, 0, 0xacc1, 0, 0);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(CPORT_STATUS_INLINE, sqe.status);
	ASSERT_LE(0, sqe.res);
	in_res = sqe.res;
	in_bytes = sqe.bytes;
	close(sqe.res);
	c2 = sock_connect(lst);
	ASSERT_LE(0, c2);
	cport_prep_accept(&sqe, lst, NULL, 0, 0xacc2, 0, 0);
	ASSERT_EQ(1, submit1(self->port, &sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	ASSERT_EQ(1, wait1(self->port, &cqe));
	close(c2);
	ASSERT_EQ(0xacc2, cqe.user_data);
	ASSERT_LE(0, cqe.res);
	close(cqe.res);
	ASSERT_TRUE(trace_wait_for(self, "cport_dequeue", "port=%u nr=1",
				   self->id));

	i = trace_find(&self->t, 0, "cport_op_done",
		       "port=%u op=ACCEPT user_data=0xacc1 how=inline", self->id);
	ASSERT_LE(0, i);
	EXPECT_EQ(me, self->t.ev[i].task);
	accept_res(_metadata, &self->t, self->id, 0xacc1, "inline", in_res,
		   in_bytes);
	i = trace_find(&self->t, i, "cport_op_done",
		       "port=%u op=ACCEPT user_data=0xacc2 how=posted", self->id);
	ASSERT_LE(0, i);
	accept_res(_metadata, &self->t, self->id, 0xacc2, "posted", cqe.res,
		   cqe.bytes);
	EXPECT_LT(i, trace_find(&self->t, i, "cport_post",
				"port=%u key=0x%llx user_data=0xacc2", self->id,
				KEY));
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/* A pending RECV when the port is destroyed: discarded, -EIDRM. */
TEST_F(trace, recv_discarded_by_destroy)
{
	char in[32];

	LEARN_ID(self);
	ASSERT_EQ(0, assoc_pair(self));
	ASSERT_EQ(1, recv_pending(self->port, self->fds[0], in, sizeof(in),
				  0x7ec5, 0, 0));
	ASSERT_EQ(0, cport_destroy(self->port));
	EXPECT_TRUE(trace_wait_for(self, "cport_op_done",
				   "port=%u op=RECV user_data=0x7ec5 res=%d bytes=0 how=discarded",
				   self->id, -EIDRM));
	EXPECT_EQ(0, trace_count(&self->t, "cport_post", "user_data=0x7ec5"));
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

struct sleeper {
	int port;
	pid_t tid;
	int ret;
};

/* Take a completion (now counted running), sleep in nanosleep, exit. */
static void *sleeper_fn(void *arg)
{
	struct sleeper *s = arg;
	struct cport_cqe cqe;

	s->tid = sys_gettid();
	s->ret = cport_wait(s->port, &cqe, 1,
			    (long long)PROGRESS_MS * NSEC_PER_MSEC);
	if (s->ret == 1)
		sleep_ms(20);
	return NULL;
}

/*
 * A thread that took a completion counts as running; sleeping in
 * nanosleep on a port that tracks blocking frees its slot (cport_blocked),
 * waking takes it back (cport_resumed), and its exit says
 * cport_thread_exit; each in its own context, blocked before resumed
 * before exit.
 */
TEST_F(trace, blocked_resumed_exit)
{
	struct sleeper s = { .port = self->port };
	char want[64];
	pthread_t th;
	int i, j;

	if (fdinfo_get(self->port, "block_tracking") != 1)
		SKIP(return, "the port does not track blocking");
	LEARN_ID(self);
	ASSERT_EQ(0, cport_post(self->port, 0, 0xb10c, 0, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, sleeper_fn, &s));
	pthread_join(th, NULL);
	ASSERT_EQ(1, s.ret);
	/* The exit is traced at the dead task's last switch: after join. */
	ASSERT_TRUE(trace_wait_for(self, "cport_thread_exit", "port=%u pid=%d",
				   self->id, s.tid));

	i = trace_find(&self->t, 0, "cport_dequeue", "port=%u nr=1", self->id);
	for (; i >= 0 && self->t.ev[i].task != s.tid;)
		i = trace_find(&self->t, i + 1, "cport_dequeue", "port=%u nr=1",
			       self->id);
	ASSERT_LE(0, i);
	j = trace_find(&self->t, i, "cport_blocked", "port=%u pid=%d",
		       self->id, s.tid);
	ASSERT_LT(i, j);
	EXPECT_EQ(s.tid, self->t.ev[j].task);
	i = trace_find(&self->t, j, "cport_resumed", "port=%u pid=%d",
		       self->id, s.tid);
	ASSERT_LT(j, i);
	EXPECT_EQ(s.tid, self->t.ev[i].task);
	j = trace_find(&self->t, i, "cport_thread_exit", "port=%u pid=%d",
		       self->id, s.tid);
	ASSERT_LT(i, j);
	EXPECT_EQ(s.tid, self->t.ev[j].task);
	/* Each exit is traced once. */
	snprintf(want, sizeof(want), "port=%u pid=%d", self->id, s.tid);
	EXPECT_EQ(1, trace_count(&self->t, "cport_thread_exit", want));
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

/*
 * A waiter that sleeps does not count as blocked: a thread that only
 * waits on the port (and exits) has no cport_blocked.
 */
TEST_F(trace, wait_is_not_blocked)
{
	struct waiter w;
	int seq = 0;

	if (fdinfo_get(self->port, "block_tracking") != 1)
		SKIP(return, "the port does not track blocking");
	LEARN_ID(self);
	ASSERT_EQ(0, waiter_start(&w, self->port, 1,
				  4LL * PROGRESS_MS * NSEC_PER_MSEC, &seq));
	ASSERT_TRUE(fdinfo_wait(self->port, "waiters", 1));
	ASSERT_TRUE(task_wait_sleeping(w.tid));
	ASSERT_EQ(0, cport_post(self->port, 0, 0xfee, 0, 0));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.ret);
	ASSERT_TRUE(trace_wait_for(self, "cport_thread_exit", "port=%u pid=%d",
				   self->id, w.tid));
	/* Between its handoff and its exit, it never blocked elsewhere
	 * (exiting may; the wait itself must not). */
	int h = trace_find(&self->t, 0, "cport_handoff", "port=%u pid=%d",
			   self->id, w.tid);
	int b = trace_find(&self->t, 0, "cport_blocked", "port=%u pid=%d",
			   self->id, w.tid);

	ASSERT_LE(0, h);
	EXPECT_TRUE(b < 0 || b > h);
	if (FAILED() || getenv("CPORT_TRACE_DUMP"))
		trace_dump(_metadata, &self->t, self->id);
}

TEST_HARNESS_MAIN
