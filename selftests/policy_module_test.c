// SPDX-License-Identifier: GPL-2.0
/*
 * A release policy from another module: examples/policy/cport_remote.ko,
 * loaded after cport.ko (scripts/check.sh builds it per kernel and sets
 * CPORT_POLICY_KO to where the guest has it; without that variable and
 * without the module the tests skip, with it they fail).
 *
 * "remote" releases the most recent waiter that went to sleep on another
 * CPU than the poster's, else the most recent.  Waiters and poster are
 * pinned.  The tests prove its order against LIFO's, the core's fallback
 * to LIFO when the policy picks a bad waiter (its bad_pick parameter),
 * what QUERY and fdinfo say, and that the module cannot be unloaded while
 * a port uses it, and can after.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <sys/klog.h>
#include <sys/syscall.h>

#include "cport_test.h"
#include "fdinfo.h"
#include "kselftest_harness.h"

#define MOD		"cport_remote"
#define PARAM		"/sys/module/" MOD "/parameters/bad_pick"
#define NR_W		3

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int set_bad_pick(int v)
{
	char c = '0' + v;
	int fd = open(PARAM, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, &c, 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

static bool module_loaded(void)
{
	return access("/sys/module/" MOD, F_OK) == 0;
}

static long delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

FIXTURE(mod) {
	cpu_set_t saved;
};

FIXTURE_SETUP(mod)
{
	if (!module_loaded()) {
		if (getenv("CPORT_POLICY_KO"))
			ASSERT_TRUE(module_loaded()) TH_LOG("%s not loaded", MOD);
		SKIP(return, "%s not loaded (examples/policy)", MOD);
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(self->saved), &self->saved));
	ASSERT_EQ(0, set_bad_pick(0));
}

FIXTURE_TEARDOWN(mod)
{
	if (module_loaded())
		set_bad_pick(0);
	sched_setaffinity(0, sizeof(self->saved), &self->saved);
}

struct pinned_waiter {
	pthread_t thread;
	int port;
	int cpu;
	pid_t tid;
	int ret;
	struct cport_cqe cqe;
};

static void *pinned_fn(void *arg)
{
	struct pinned_waiter *w = arg;

	if (pin(w->cpu)) {
		w->ret = -EINVAL;
		__atomic_store_n(&w->tid, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	w->ret = cport_wait(w->port, &w->cqe, 1, -1);
	return NULL;
}

/* A port of @policy, concurrency NR_W. */
static int port_named(const char *policy)
{
	struct cport_setup s = { .concurrency = NR_W };

	return cport_create_named(policy, &s);
}

/*
 * Waiters 0, 1, 2 go to sleep in that order on @cpus; a completion is
 * posted from CPU @post_cpu.  Returns which waiter got it.
 */
static int who_gets_it(struct __test_metadata *_metadata, const char *policy,
		       const int *cpus, int post_cpu, const cpu_set_t *saved)
{
	struct pinned_waiter w[NR_W];
	int port, i, got = -1;

	port = port_named(policy);
	if (port < 0)
		TH_LOG("policy %s: %s", policy, strerror(-port));
	ASSERT_LE(0, port);
	for (i = 0; i < NR_W; i++) {
		w[i] = (struct pinned_waiter){ .port = port, .cpu = cpus[i] };
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, pinned_fn,
					    &w[i]));
		ASSERT_TRUE(wait_until(__atomic_load_n(&w[i].tid,
						       __ATOMIC_ACQUIRE),
				       PROGRESS_MS));
		ASSERT_LT(0, w[i].tid);
		ASSERT_TRUE(fdinfo_wait(port, "waiters", i + 1));
		ASSERT_TRUE(task_wait_sleeping(w[i].tid));
	}

	ASSERT_EQ(0, pin(post_cpu));
	ASSERT_EQ(0, cport_post(port, 0, 7, 0, 0));
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(*saved), saved));
	ASSERT_TRUE(fdinfo_wait(port, "waiters", NR_W - 1));
	for (i = 0; i < NR_W; i++) {
		if (wait_until(__atomic_load_n(&w[i].ret, __ATOMIC_ACQUIRE) == 1,
			       GRACE_MS)) {
			got = i;
			break;
		}
	}
	if (got >= 0)
		EXPECT_EQ(7, w[got].cqe.user_data);

	ASSERT_EQ(0, cport_destroy(port));
	for (i = 0; i < NR_W; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(i == got ? 1 : -EIDRM, w[i].ret);
	}
	cport_close(port);
	return got;
}

/* Newest (2) on the poster's CPU: remote takes 1, LIFO 2. */
TEST_F(mod, skips_the_producing_cpu)
{
	static const int cpus[NR_W] = { 0, 1, 0 };

	EXPECT_EQ(1, who_gets_it(_metadata, "remote", cpus, 0, &self->saved));
	EXPECT_EQ(2, who_gets_it(_metadata, "lifo", cpus, 0, &self->saved));
}

/* The newest of the remote ones: 1, not 0 (FIFO's pick). */
TEST_F(mod, newest_remote_waiter)
{
	static const int cpus[NR_W] = { 1, 1, 0 };

	EXPECT_EQ(1, who_gets_it(_metadata, "remote", cpus, 0, &self->saved));
	EXPECT_EQ(0, who_gets_it(_metadata, "fifo", cpus, 0, &self->saved));
}

/* Nobody remote: the newest. */
TEST_F(mod, all_local_is_lifo)
{
	static const int cpus[NR_W] = { 1, 1, 1 };

	EXPECT_EQ(2, who_gets_it(_metadata, "remote", cpus, 1, &self->saved));
}

static bool klog_has(const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	bool found;

	if (len <= 0)
		return false;
	buf = calloc(1, len + 1);
	if (!buf)
		return false;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	found = len > 0 && strstr(buf, what);
	free(buf);
	return found;
}

/*
 * A policy that picks nobody, or a waiter of no port: the core releases
 * the newest waiter (2) instead of remote's 1, and says so in the log.
 */
TEST_F(mod, bad_pick_falls_back_to_lifo)
{
	static const int cpus[NR_W] = { 0, 1, 0 };
	int bad;

	for (bad = 1; bad <= 2; bad++) {
		ASSERT_EQ(0, set_bad_pick(bad));
		EXPECT_EQ(2, who_gets_it(_metadata, "remote", cpus, 0,
					 &self->saved)) {
			TH_LOG("bad_pick=%d", bad);
		}
	}
	ASSERT_EQ(0, set_bad_pick(0));
	EXPECT_TRUE(klog_has("cport: policy \"remote\" picked"));
	/* And back to its own order. */
	EXPECT_EQ(1, who_gets_it(_metadata, "remote", cpus, 0, &self->saved));
}

static bool names_have(const struct cport_info *info, const char *name)
{
	unsigned int i;

	for (i = 0; i < info->nr_policies && i < CPORT_MAX_POLICIES; i++)
		if (!strncmp(info->policy_names[i], name, CPORT_POLICY_NAME_LEN))
			return true;
	return false;
}

TEST_F(mod, query_and_fdinfo)
{
	struct cport_info info;
	char val[64];
	int port;

	port = port_named("remote");
	ASSERT_LE(0, port);
	memset(&info, 0xff, sizeof(info));
	ASSERT_EQ(0, cport_query_policies(port, &info));
	EXPECT_EQ(CPORT_POLICY_NAMED, info.policy);
	EXPECT_STREQ("remote", info.policy_name);
	EXPECT_LE(CPORT_POLICY__NR + 1, info.nr_policies);
	EXPECT_GE(CPORT_MAX_POLICIES, info.nr_policies);
	EXPECT_TRUE(names_have(&info, "remote"));
	EXPECT_STREQ("lifo", info.policy_names[0]);
	EXPECT_STREQ("cpu", info.policy_names[CPORT_POLICY_CPU]);
	ASSERT_EQ(0, fdinfo_str(port, "policy", val, sizeof(val)));
	EXPECT_STREQ("remote", val);
	cport_close(port);
}

static long long refcnt(void)
{
	char buf[32] = "";
	int fd = open("/sys/module/" MOD "/refcnt", O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = 0;
	close(fd);
	return buf[0] ? atoll(buf) : -1;
}

static long load(int fd, const char *params)
{
	return syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
}

/*
 * A port on the policy holds the module: delete_module() fails while it
 * lives (its descriptor, or a thread associated with it, keeps it), and
 * succeeds once it is gone; the name is then unknown (-ENOENT).  The
 * module is loaded again at the end, for the tests after this one and
 * the guest's final rmmod.
 */
TEST_F(mod, unload_refused_while_in_use)
{
	const char *ko = getenv("CPORT_POLICY_KO");
	struct cport_cqe cqe;
	long long before;
	int port, fd;
	long ret;

	if (!ko)
		SKIP(return, "CPORT_POLICY_KO not set: cannot load it again");
	/* Ports of the tests before (their threads are reaped late) go. */
	ASSERT_TRUE(wait_until(refcnt() == 0, PROGRESS_MS));
	before = refcnt();
	port = port_named("remote");
	ASSERT_LE(0, port);
	EXPECT_EQ(before + 1, refcnt());
	ASSERT_EQ(0, cport_post(port, 0, 1, 0, 0));
	ASSERT_EQ(1, cport_wait(port, &cqe, 1, 0));
	EXPECT_EQ(-EWOULDBLOCK, delete_module(MOD));
	ASSERT_TRUE(module_loaded());

	/* The thread left: the descriptor still holds the port. */
	ASSERT_EQ(0, cport_leave(port));
	EXPECT_EQ(-EWOULDBLOCK, delete_module(MOD));
	EXPECT_EQ(before + 1, refcnt());

	/* Closed: the port goes, and the module unloads. */
	ASSERT_EQ(0, close(port));
	ASSERT_TRUE(wait_until(refcnt() == before, PROGRESS_MS)) {
		TH_LOG("refcnt %lld, expected %lld", refcnt(), before);
	}
	EXPECT_EQ(0, delete_module(MOD));
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(-ENOENT, port_named("remote"));

	fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* Built for another interface version: refused, and said why. */
	EXPECT_EQ(-ENOEXEC, load(fd, "iface_version=99"));
	EXPECT_TRUE(klog_has("is built for policy interface version 99"));
	/*
	 * A name that is taken: cport_register_policy() says -EEXIST, which
	 * the module loader passes on until 6.12 and turns into -EBUSY
	 * since (-EEXIST from finit_module() means "already loaded").
	 */
	ret = load(fd, "name=fifo");
	EXPECT_TRUE(ret == -EEXIST || ret == -EBUSY) {
		TH_LOG("loading under a taken name: %s", strerror(-ret));
	}
	EXPECT_TRUE(klog_has("policy \"fifo\" is already registered"));
	EXPECT_FALSE(module_loaded());
	ASSERT_EQ(0, load(fd, ""));
	close(fd);
	ASSERT_TRUE(module_loaded());
	port = port_named("remote");
	ASSERT_LE(0, port);
	cport_close(port);
}

/* Selecting by name: the exact errnos. */
TEST(by_name_errors)
{
	struct cport_setup s = {};
	int port;

	EXPECT_EQ(-ENOENT, cport_create_named("no-such-policy", NULL));
	EXPECT_EQ(-EINVAL, cport_create_named("", NULL));
	EXPECT_EQ(-EINVAL, cport_create_named("sixteen-chars-xx", NULL));
	/* A number with a name. */
	s.policy = CPORT_POLICY_FIFO;
	EXPECT_EQ(-EINVAL, cport_create_named("fifo", &s));
	/* The built-in ones by name. */
	port = cport_create_named("rr", NULL);
	ASSERT_LE(0, port);
	cport_close(port);
}

TEST_HARNESS_MAIN
