// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, bounded fuzzer of /dev/cport.
 *
 * Worker threads throw random calls at a few ports while the same threads,
 * at random, destroy and close ports, open new ones, fork, spawn threads
 * that exit at once, and exit themselves (a supervisor starts another):
 *
 *  - CPORT_IOC_ENTER with random headers (flags, resv, counts, timeouts,
 *    ABSTIME, sqe_size, cqe_size) placed in good, read-only, PROT_NONE,
 *    kernel and page-straddling memory, and random submission arrays:
 *    every opcode and invalid ones, random flags and op_flags, a byte or
 *    two of garbage now and then, descriptors of every kind (TCP over
 *    IPv4 and IPv6, connected and listening, unix stream pairs, UDP,
 *    pipes, eventfd, the port itself, another port, closed numbers, -1,
 *    huge ones), buffers in a scribble arena, read-only, PROT_NONE,
 *    unmapped and kernel addresses, straddling pages whose protection
 *    another thread flips, huge lengths and timeouts (also negative);
 *  - waits with bad cqe pointers, LEAVE, DESTROY, close;
 *  - CPORT_IOC_SETUP and CPORT_IOC_QUERY of any size, random commands of
 *    type 0xC9 (valid numbers with wrong sizes and directions) and of
 *    harmless other types, read(), write() and poll() of the port;
 *  - socket peers that send (also SCM_RIGHTS: sockets, ports), receive,
 *    shut down, close and reset at random, listeners that get connected;
 *  - fork(): the child must get -EPERM from the ports it inherited
 *    (-ENOTTY for an unknown command), or opens a port of its own, leaves
 *    operations pending on it and exits.
 *
 * What it asserts, each of which breaks if the module does:
 *
 *  - every ioctl returns success or an errno of the set uapi/linux/cport.h
 *    documents for that command (the tables below; the exact errno where
 *    the arguments alone decide it: a bad ENTER header, SETUP and QUERY
 *    sizes, a non-zero DESTROY or LEAVE argument, unknown commands);
 *  - ENTER says how many submissions it took ('submitted'), writes
 *    PENDING or INLINE into each socket operation it took and nothing
 *    into those it did not, and never returns more than max_cqes;
 *  - every completion's user_data belongs to a submission that was taken
 *    (PENDING, or a POST) on that same port, and is seen exactly once; an
 *    inline result (INLINE) or a refused submission never shows up as a
 *    completion; a POST comes back verbatim; results are within bounds;
 *  - nothing is lost: every few seconds (an audit: the workers wait
 *    between calls) and at the end, every port still alive is cancelled
 *    and drained, every completion it owes must come (only a destroyed
 *    or closed port may drop them, as the header says of DESTROY; and a
 *    delayed POST still due is excused), and then its fdinfo must show
 *    nothing held: no completion queued, no unit, no file; a destroyed
 *    port holds no association either;
 *  - max_user_units and RLIMIT_NOFILE are pulled down for a few
 *    milliseconds now and then (-EDQUOT, -EMFILE where documented);
 *  - no call hangs: a watchdog fails the run with what each thread was
 *    doing if one call takes longer than a generous bound (waits without
 *    a limit are ended by signals from the supervisor, not by the bound);
 *  - after everything is closed no descriptor is left over (accepted
 *    connections included) and the user's units (fdinfo "user_units" of
 *    a fresh port) are back where they started, checked again after the
 *    fuzzing process has exited.
 *
 * The kernel log (check.sh fails on any BUG, WARNING, KASAN, lockdep or
 * kmemleak report) and the rmmod at the end of the guest are the other
 * judges.
 *
 * Knobs (environment):
 *   CPORT_FUZZ_SEED     the seed (default: from the clock), printed first
 *   CPORT_FUZZ_SECONDS  how long to fuzz (default 20, or 170 on a debug
 *                       kernel: CPORT_KERNEL=*-debug, as check.sh says)
 *   CPORT_FUZZ_ITERS    stop each worker after this many iterations
 *   CPORT_FUZZ_THREADS  worker threads (default 6, 4 on a debug kernel)
 * A longer run is just a bigger CPORT_FUZZ_SECONDS (and a bigger
 * CPORT_TEST_TIMEOUT for check.sh); the harness timeout follows the knob.
 *
 * Reproducing: worker N's generation G (a worker that exits is replaced
 * by generation G + 1) draws its operations from a PRNG seeded with the
 * seed, N and G, so a failure's seed replays each thread's operation
 * stream.  What it does not replay is the interleaving of the threads,
 * nor what the kernel answered to them (which decides some later
 * choices): a seed makes a failure likely to come back, not certain.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define MAX_WORKERS	16
#define NPORTS		6	/* port slots */
#define NFDS		48	/* other descriptors: sockets, pipes, eventfd */
#define PAGE		4096UL

/* --- Knobs -------------------------------------------------------------- */

static struct {
	bool init;
	bool debug;
	unsigned long long seed;
	unsigned int seconds;
	unsigned long long iters;	/* per worker, 0: no bound */
	int workers;
	int hang_s;			/* the watchdog's bound on one call */
	const char *kernel;
} cfg;

static unsigned long long env_ull(const char *name, unsigned long long def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (!v || !*v)
		return def;
	errno = 0;
	x = strtoull(v, &end, 0);
	return errno || *end ? def : x;
}

static void cfg_init(void)
{
	if (cfg.init)
		return;
	cfg.init = true;
	cfg.kernel = getenv("CPORT_KERNEL");
	cfg.debug = cfg.kernel ? !!strstr(cfg.kernel, "debug") : slow_kernel();
	cfg.seed = env_ull("CPORT_FUZZ_SEED",
			   (unsigned long long)time(NULL) * 2654435761ULL ^
			   (unsigned long long)now_ns());
	cfg.seconds = env_ull("CPORT_FUZZ_SECONDS", cfg.debug ? 170 : 20);
	cfg.iters = env_ull("CPORT_FUZZ_ITERS", 0);
	cfg.workers = env_ull("CPORT_FUZZ_THREADS", cfg.debug ? 4 : 6);
	if (cfg.workers < 1)
		cfg.workers = 1;
	if (cfg.workers > MAX_WORKERS)
		cfg.workers = MAX_WORKERS;
	cfg.hang_s = cfg.debug ? 240 : 60;
}

/*
 * The harness's timeout, evaluated when the test is registered: the run,
 * the drain at the end (bounded by the watchdog's bound too) and room to
 * spare.  By default within check.sh's bound on a binary (300 s, 900 s on
 * the debug kernel), so that a hang is reported by the harness first.
 */
static int fuzz_harness_timeout(void)
{
	cfg_init();
	return cfg.seconds + 2 * cfg.hang_s + 60;
}

/* --- PRNG (splitmix64) ------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rn(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static bool one_in(struct rng *r, uint32_t n)
{
	return rn(r, n) == 0;
}

/* A mix of @x for the verbatim fields of a POST. */
static uint64_t mix(uint64_t x, uint64_t k)
{
	struct rng r = { x ^ k };

	return rnd(&r);
}

/* --- Failures ---------------------------------------------------------- */

static int failures;		/* atomic */
static volatile int stopping;	/* the run is over: workers return */
static volatile int pausing;	/* an audit: workers wait between calls */

/* One line to stderr, whole (threads and children print at once). */
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "# fuzz: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, n) < 0)
		return;
}

/* A broken assertion: say it (the first 30), and end the run. */
#define FAIL(fmt, ...) do {						\
	if (__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED) < 30)	\
		say("FAIL %s:%d: " fmt, __func__, __LINE__, ##__VA_ARGS__); \
	stopping = 1;							\
} while (0)

static const char *ename(int e)
{
	const char *n = e > 0 ? strerrorname_np(e) : NULL;
	static __thread char buf[16];

	if (!e)
		return "0";
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

/* --- The documented errnos, per command -------------------------------- */

/* Each list ends with 0. */
static const int E_SETUP[] = { EFAULT, EINVAL, E2BIG, EIDRM, EBUSY, 0 };
static const int E_QUERY[] = { EFAULT, EINVAL, E2BIG, EIDRM, 0 };
static const int E_DESTROY[] = { EINVAL, EIDRM, 0 };
static const int E_LEAVE[] = { EINVAL, ENOENT, 0 };
/* ENTER's wait, once every submission was taken. */
static const int E_WAIT[] = { ETIMEDOUT, EINTR, EIDRM, EFAULT, ENOMEM, 0 };
/* A submission that stops ENTER, by opcode (a record that cannot be read,
 * or with a non-zero tail, gives -EFAULT or -E2BIG whatever it holds). */
static const int E_POST[] = { EFAULT, E2BIG, EINVAL, EIDRM, ENOSPC, ENOBUFS,
			      EDQUOT, ENOMEM, 0 };
static const int E_ASSOC[] = { EFAULT, E2BIG, EINVAL, EBADF, ENOTSOCK,
			       EOPNOTSUPP, EIDRM, EEXIST, EBUSY, EDQUOT,
			       ENOMEM, EINTR, 0 };
static const int E_DISSOC[] = { EFAULT, E2BIG, EINVAL, EBADF, ENOTSOCK,
				EOPNOTSUPP, EIDRM, EBUSY, ENOENT, 0 };
static const int E_SOCKOP[] = { EFAULT, E2BIG, EINVAL, EBADF, ENOTSOCK,
				EIDRM, ENOENT, ENOBUFS, EDQUOT, ENOMEM,
				EMFILE, 0 };
static const int E_CONNECT[] = { EFAULT, E2BIG, EINVAL, EBADF, ENOTSOCK,
				 EIDRM, ENOENT, ENOTCONN, ENOBUFS, EDQUOT,
				 ENOMEM, EMFILE, 0 };
static const int E_CANCEL[] = { EFAULT, E2BIG, EINVAL, EBADF, ENOTSOCK,
				EOPNOTSUPP, EIDRM, ENOENT, 0 };
/* READ, WRITE: pipes, eventfd, associated sockets. */
static const int E_RW[] = { EFAULT, E2BIG, EINVAL, EBADF, EOPNOTSUPP, EIDRM,
			    ENOENT, EBUSY, ENOBUFS, EDQUOT, ENOMEM, EMFILE, 0 };
static const int E_PROVIDE[] = { EFAULT, E2BIG, EINVAL, EIDRM, ENOSPC,
				 EDQUOT, ENOMEM, 0 };
static const int E_SENDFILE[] = { EFAULT, E2BIG, EINVAL, EBADF, ENOTSOCK,
				  EIDRM, ENOENT, ESPIPE, ENOBUFS, EDQUOT,
				  ENOMEM, EMFILE, 0 };
static const int E_DISCONNECT[] = { EFAULT, E2BIG, EINVAL, EBADF, ENOTSOCK,
				    EIDRM, ENOENT, ENOTCONN, EOPNOTSUPP,
				    ENOBUFS, EDQUOT, ENOMEM, EMFILE, 0 };
static const int E_BADOP[] = { EFAULT, E2BIG, EINVAL, 0 };

static bool in_set(const int *set, int e)
{
	for (; *set; set++)
		if (*set == e)
			return true;
	return false;
}

static const int *op_errnos(uint8_t op)
{
	switch (op) {
	case CPORT_OP_POST:		return E_POST;
	case CPORT_OP_ASSOCIATE:	return E_ASSOC;
	case CPORT_OP_DISSOCIATE:	return E_DISSOC;
	case CPORT_OP_RECV:
	case CPORT_OP_SEND:
	case CPORT_OP_RECVMSG:
	case CPORT_OP_SENDMSG:
	case CPORT_OP_ACCEPT:		return E_SOCKOP;
	case CPORT_OP_CANCEL:		return E_CANCEL;
	case CPORT_OP_CONNECT:		return E_CONNECT;
	case CPORT_OP_PROVIDE_BUFFERS:	return E_PROVIDE;
	case CPORT_OP_SENDFILE:		return E_SENDFILE;
	case CPORT_OP_DISCONNECT:	return E_DISCONNECT;
	case CPORT_OP_READ:
	case CPORT_OP_WRITE:		return E_RW;
	}
	return E_BADOP;
}

static const char *op_name(uint8_t op)
{
	static const char *const n[] = { "op0", "POST", "ASSOCIATE",
		"DISSOCIATE", "RECV", "SEND", "ACCEPT", "CANCEL", "CONNECT",
		"PROVIDE_BUFFERS", "RECVMSG", "SENDMSG", "SENDFILE", "DISCONNECT",
		"READ", "WRITE" };

	return op < sizeof(n) / sizeof(n[0]) ? n[op] : "op?";
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* --- Memory: good, read-only, PROT_NONE, unmapped and kernel ----------- */

/*
 * The arena is where receives, accepted addresses and sends point: the
 * kernel may write anything there, and nothing of ours lives in it.  Its
 * last VOL_PAGES pages change protection under the operations' feet; a
 * PROT_NONE guard follows, so a huge length ends in a fault, never in our
 * memory.
 */
#define ARENA_PAGES	16
#define VOL_PAGES	4
#define GUARD_PAGES	64
static char *arena, *vol, *guard, *ro_shared;

#define KADDR1		0xffff888000000000ULL	/* the direct map */
#define KADDR2		0xffffffff81000000ULL	/* kernel text */
#define NONCANON	0x0000800000000000ULL
#define USER_TOP	0x00007ffffffff000ULL

/* A pointer that cannot be read or written (or only read). */
static uint64_t bad_ptr(struct rng *r)
{
	switch (rn(r, 8)) {
	case 0: return (uint64_t)(uintptr_t)guard + rn(r, PAGE);
	case 1: return KADDR1 + rn(r, 1 << 20);
	case 2: return KADDR2;
	case 3: return NONCANON;
	case 4: return 0x1000 + rn(r, 0xe000);		/* below mmap_min_addr */
	case 5: return 0;
	case 6: return USER_TOP - 16;
	default: return rnd(r);
	}
}

/* --- Descriptors: slots that are closed only when nobody uses them ------ */

enum kind {
	K_FREE, K_PORT, K_TCP4, K_TCP6, K_UNIX, K_LTCP4, K_LTCP6, K_LUNIX,
	K_UDP, K_PIPE_R, K_PIPE_W, K_EVENTFD, K_ACCEPTED,
};

static const char *const kind_names[] = {
	"free", "port", "tcp4", "tcp6", "unix", "listen4", "listen6",
	"listen-unix", "udp", "pipe-r", "pipe-w", "eventfd", "accepted",
};

static bool kind_stream(int k)
{
	return k == K_TCP4 || k == K_TCP6 || k == K_UNIX || k == K_ACCEPTED;
}

static bool kind_listener(int k)
{
	return k == K_LTCP4 || k == K_LTCP6 || k == K_LUNIX;
}

/*
 * A slot: a descriptor the threads share.  Closing one replaces it with
 * the placeholder (dup2 of /dev/null, so a call in flight on the old file
 * goes on, as with close()), and the number itself is closed only when no
 * thread holds the slot: no ioctl, write or close ever reaches a number
 * that was reused for something else.
 */
struct slot {
	pthread_mutex_t lock;
	int kind;
	int fd;		/* -1 when free; read without the lock for sqe.fd */
	int users;
	bool zombie;	/* closed: fd is the placeholder now */
	unsigned int inst;	/* ports: the instance (below); sockets: the
				 * port last associated (a hint) */
};

static struct slot ports[NPORTS], fds[NFDS];
static int placeholder = -1;
static dev_t cport_rdev;

/*
 * Port instances: every port opened gets a number; a completion carries
 * the number of the port it was submitted to.  DEAD: destroyed or closed,
 * its completions may be lost.  GONE: no thread can dequeue from it any
 * more.
 */
#define MAX_INST	(1u << 20)
#define INST_DEAD	1
#define INST_GONE	2
static unsigned char *inst_flags;
static unsigned int next_inst;

static void inst_set(unsigned int inst, unsigned char f)
{
	__atomic_fetch_or(&inst_flags[inst], f, __ATOMIC_ACQ_REL);
}

static bool inst_has(unsigned int inst, unsigned char f)
{
	return __atomic_load_n(&inst_flags[inst], __ATOMIC_ACQUIRE) & f;
}

/* Take a slot for a call on its descriptor; false if it is free. */
static bool slot_get(struct slot *s, int *fd, int *kind, unsigned int *inst)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = s->fd >= 0 && !s->zombie;
	if (ok) {
		s->users++;
		*fd = s->fd;
		if (kind)
			*kind = s->kind;
		if (inst)
			*inst = s->inst;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void slot_free_locked(struct slot *s)
{
	int fd = s->fd;

	__atomic_store_n(&s->fd, -1, __ATOMIC_RELEASE);
	close(fd);
	if (s->kind == K_PORT)
		inst_set(s->inst, INST_DEAD | INST_GONE);
	s->kind = K_FREE;
	s->zombie = false;
}

static void slot_put(struct slot *s)
{
	pthread_mutex_lock(&s->lock);
	if (!--s->users && s->zombie)
		slot_free_locked(s);
	pthread_mutex_unlock(&s->lock);
}

/* A thread holding the slot sees whether it was closed meanwhile. */
static bool slot_zombie(struct slot *s)
{
	return __atomic_load_n(&s->zombie, __ATOMIC_ACQUIRE);
}

/* Close the slot's descriptor (now, or when its last user lets go). */
static void slot_close(struct slot *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->fd >= 0 && !s->zombie) {
		if (s->kind == K_PORT)
			inst_set(s->inst, INST_DEAD);
		if (s->users) {
			/* Before: a holder that sees the placeholder knows. */
			__atomic_store_n(&s->zombie, true, __ATOMIC_SEQ_CST);
			dup2(placeholder, s->fd);
		} else {
			slot_free_locked(s);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* Put @fd into a free slot of @tab; closes it if there is none. */
static bool slot_add(struct slot *tab, int n, struct rng *r, int kind, int fd,
		     unsigned int inst)
{
	int i, start = rn(r, n);

	for (i = 0; i < NPORTS + NFDS; i++) {
		struct slot *o = i < NPORTS ? &ports[i] : &fds[i - NPORTS];

		if (__atomic_load_n(&o->fd, __ATOMIC_RELAXED) == fd)
			FAIL("descriptor %d (%s) is already in a slot (%s%s)",
			     fd, kind_names[kind], kind_names[o->kind],
			     o->zombie ? ", closed" : "");
	}
	for (i = 0; i < n; i++) {
		struct slot *s = &tab[(start + i) % n];

		if (pthread_mutex_trylock(&s->lock))
			continue;
		if (s->fd < 0) {
			s->kind = kind;
			s->inst = inst;
			s->zombie = false;
			__atomic_store_n(&s->fd, fd, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&s->lock);
			return true;
		}
		pthread_mutex_unlock(&s->lock);
	}
	close(fd);
	return false;
}

/* The descriptor of a random slot, as it is now (no reference). */
static int slot_peek(struct slot *tab, int n, struct rng *r)
{
	return __atomic_load_n(&tab[rn(r, n)].fd, __ATOMIC_RELAXED);
}

/* --- Tracking submissions by user_data --------------------------------- */

enum {
	T_FREE,
	T_SUBMIT,	/* in an ENTER: may or may not be taken */
	T_EARLY,	/* its completion came before ENTER returned */
	T_PENDING,	/* taken: exactly one completion owed */
	T_MAYBE,	/* taken or not, unknowable: at most one */
	T_SEEN,		/* its completion came */
	T_INLINE,	/* returned inline: no completion ever */
	T_NOTTAKEN,	/* refused: no completion ever */
};

static const char *const tstate_names[] = {
	"free", "submitting", "early", "pending", "maybe", "seen", "inline",
	"not-taken",
};

struct track {
	uint64_t ud;
	uint64_t aux;		/* RECV/SEND/ACCEPT: len; POST: when it is due */
	unsigned int inst;
	uint8_t state;
	uint8_t op;
	/* RECV: its completions (arrivals and the end) seen (seq_piece()) */
	uint32_t pieces;
	uint32_t need;		/* the end's seq + 1, once it is seen */
	uint64_t seqsum, seqsq;	/* the sum of their seqs, and of squares */
};

#define TRACK_BITS	16
#define TRACK_N		(1u << TRACK_BITS)
#define UD_TAG		0xc9ULL
#define UD_SEQ_MASK	((1ULL << 48) - 1)

/* Per worker slot, across its generations. */
struct wslot {
	struct track *reg;
	uint64_t seq;
	unsigned long long iters, calls, gens;
};

static struct wslot wslots[MAX_WORKERS];

static uint64_t ud_make(int slot, uint64_t seq)
{
	return UD_TAG << 56 | (uint64_t)slot << 48 | (seq & UD_SEQ_MASK);
}

static struct track *track_of(uint64_t ud)
{
	unsigned int slot = (ud >> 48) & 0xff;
	struct track *t;

	if (ud >> 56 != UD_TAG || slot >= MAX_WORKERS || !wslots[slot].reg)
		return NULL;
	t = &wslots[slot].reg[ud & (TRACK_N - 1)];
	return __atomic_load_n(&t->ud, __ATOMIC_ACQUIRE) == ud ? t : NULL;
}

static bool state_final(uint8_t st, unsigned int inst)
{
	return st == T_FREE || st == T_SEEN || st == T_INLINE ||
	       st == T_NOTTAKEN ||
	       ((st == T_PENDING || st == T_MAYBE) && inst_has(inst, INST_GONE));
}

/* A fresh tracked submission of @op to port instance @inst, or NULL. */
static struct track *track_new(int slot, uint8_t op, unsigned int inst,
			       uint64_t aux)
{
	struct wslot *ws = &wslots[slot];
	struct track *t;
	int tries;

	for (tries = 0; tries < 4096; tries++) {
		uint64_t seq = ws->seq++;

		t = &ws->reg[seq & (TRACK_N - 1)];
		if (!state_final(__atomic_load_n(&t->state, __ATOMIC_ACQUIRE),
				 t->inst))
			continue;
		t->op = op;
		t->inst = inst;
		t->aux = aux;
		t->pieces = 0;
		t->need = 0;
		t->seqsum = 0;
		t->seqsq = 0;
		__atomic_store_n(&t->state, T_SUBMIT, __ATOMIC_RELEASE);
		__atomic_store_n(&t->ud, ud_make(slot, seq), __ATOMIC_RELEASE);
		return t;
	}
	return NULL;
}

/*
 * ENTER returned: @t was taken and pending (T_PENDING), perhaps taken
 * (T_MAYBE), returned inline (T_INLINE) or not taken (T_NOTTAKEN).
 */
static void track_resolve(struct track *t, uint8_t to)
{
	uint8_t st = T_SUBMIT;

	if (__atomic_compare_exchange_n(&t->state, &st, to, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	/* Its completion came first. */
	if (st == T_EARLY && (to == T_PENDING || to == T_MAYBE)) {
		__atomic_store_n(&t->state, T_SEEN, __ATOMIC_RELEASE);
		return;
	}
	FAIL("user_data %#llx (%s): completion of a submission that is %s",
	     (unsigned long long)t->ud, op_name(t->op), tstate_names[to]);
}

/* --- Workers ------------------------------------------------------------ */

struct worker {
	pthread_t thread;
	int slot;
	unsigned long long gen;
	struct rng rng;
	pid_t tid;			/* of whoever runs its calls now */
	/* What it does, for the watchdog and the supervisor's kicks. */
	const char *doing;
	char what[200];
	long long since;		/* start of the current call, 0: none */
	bool endless;			/* in a wait only a signal may end */
	int done;			/* returned (read with acquire) */
	int paused;			/* waiting for an audit to end */
	/* Private memory: records, completions, query buffers. */
	char *sqbuf;			/* 16 records of up to 256 bytes */
	struct cport_cqe *cqes;		/* 64 */
	char *qbuf;			/* 2 pages */
	char *ro;			/* 1 page, made read-only per call */
	char *strad;			/* 1 page, a PROT_NONE page after */
};

static struct worker *workers[MAX_WORKERS];
static int nworkers;

/* Counters for the report. */
static struct {
	unsigned long long cqes, inlines, posts, pending, assocs, forks, ports,
			   destroys, closes, accepts, threads, exits, signals,
			   arrivals, numbered;
} stats;

#define STAT(x)	__atomic_fetch_add(&stats.x, 1, __ATOMIC_RELAXED)

static void begin(struct worker *w, const char *doing, bool endless,
		  const char *fmt, ...)
{
	va_list ap;

	w->doing = doing;
	va_start(ap, fmt);
	vsnprintf(w->what, sizeof(w->what), fmt, ap);
	va_end(ap);
	__atomic_store_n(&w->endless, endless, __ATOMIC_RELAXED);
	__atomic_store_n(&w->since, now_ns(), __ATOMIC_RELEASE);
}

static void end(struct worker *w)
{
	__atomic_store_n(&w->since, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&w->endless, false, __ATOMIC_RELAXED);
	wslots[w->slot].calls++;
}

static int new_port(struct rng *r, bool set_up);

/* A random live port, held (slot_put() when done); false if none. */
static bool pick_port(struct worker *w, struct slot **sp, int *fd,
		      unsigned int *inst)
{
	int i, start = rn(&w->rng, NPORTS);

	for (i = 0; i < NPORTS; i++) {
		struct slot *s = &ports[(start + i) % NPORTS];

		if (slot_get(s, fd, NULL, inst)) {
			*sp = s;
			return true;
		}
	}
	new_port(&w->rng, true);
	return false;
}

/* A random descriptor slot of a kind @ok accepts, held; false if none. */
static bool pick_fd_slot(struct worker *w, bool (*ok)(int), struct slot **sp,
			 int *fd, int *kind)
{
	int i, start = rn(&w->rng, NFDS);

	for (i = 0; i < NFDS; i++) {
		struct slot *s = &fds[(start + i) % NFDS];

		if (__atomic_load_n(&s->fd, __ATOMIC_RELAXED) < 0 ||
		    (ok && !ok(s->kind)))
			continue;
		if (slot_get(s, fd, kind, NULL)) {
			if (!ok || ok(*kind)) {
				*sp = s;
				return true;
			}
			slot_put(s);
		}
	}
	return false;
}

/* A descriptor number for a submission: mostly sockets, of every sort. */
static int pick_sqe_fd(struct rng *r, bool listener, unsigned int inst)
{
	int i;

	switch (rn(r, 20)) {
	case 0 ... 10:	/* one associated with this port, if any */
		for (i = 0; i < 16; i++) {
			struct slot *s = &fds[rn(r, NFDS)];
			int fd = __atomic_load_n(&s->fd, __ATOMIC_RELAXED);

			if (fd >= 0 && s->inst == inst &&
			    (listener ? kind_listener(s->kind) :
			     kind_stream(s->kind)))
				return fd;
		}
		/* fall through */
	case 11 ... 13:
		for (i = 0; i < 8; i++) {
			struct slot *s = &fds[rn(r, NFDS)];
			int fd = __atomic_load_n(&s->fd, __ATOMIC_RELAXED);

			if (fd >= 0 && (listener ? kind_listener(s->kind) :
					kind_stream(s->kind)))
				return fd;
		}
		return slot_peek(fds, NFDS, r);
	case 14:
		return one_in(r, 2) ? slot_peek(ports, NPORTS, r) : -1;
	case 15:
		return one_in(r, 2) ? INT_MAX : 1 << 20;
	case 16:
		return 1000;		/* never open: below RLIMIT_NOFILE */
	case 17:
		return one_in(r, 2) ? rn(r, 3) : rn(r, 128);
	default:
		return slot_peek(fds, NFDS, r);
	}
}

static uint64_t pick_key(struct rng *r)
{
	return one_in(r, 4) ? rnd(r) : rn(r, 4);
}

static uint64_t pick_len(struct rng *r)
{
	switch (rn(r, 20)) {
	case 0: return 0;
	case 1 ... 6: return 1 + rn(r, 64);
	case 7 ... 13: return 1 + rn(r, 4096);
	case 14 ... 16: return 1 + rn(r, 65536);
	case 17: return CPORT_MAX_IO;
	case 18: return one_in(r, 2) ? CPORT_MAX_IO + 1ULL : 1ULL << 40;
	default: return rnd(r);
	}
}

/* A buffer for a socket operation (never our own memory). */
static void pick_buf(struct rng *r, __u64 *addr, __u64 *len)
{
	*len = pick_len(r);
	switch (rn(r, 16)) {
	case 0 ... 7:
		*addr = (uintptr_t)arena + rn(r, ARENA_PAGES * PAGE);
		break;
	case 8 ... 9:
		*addr = (uintptr_t)vol + rn(r, VOL_PAGES * PAGE);
		break;
	case 10:	/* straddling into the pages that change */
		*addr = (uintptr_t)vol - 1 - rn(r, 64);
		break;
	case 11:
		*addr = (uintptr_t)ro_shared + rn(r, PAGE);
		break;
	default:
		*addr = bad_ptr(r);
		break;
	}
}

static uint64_t pick_op_timeout(struct rng *r)
{
	switch (rn(r, 10)) {
	case 0 ... 5: return 0;
	case 6 ... 7: return 1000 + rn(r, 20 * NSEC_PER_MSEC);
	case 8: return rn(r, 1000);
	default: return one_in(r, 2) ? UINT64_MAX : 3600 * NSEC_PER_SEC;
	}
}

static uint16_t pick_sqe_flags(struct rng *r)
{
	switch (rn(r, 8)) {
	case 0 ... 3: return 0;
	case 4 ... 5: return CPORT_SQE_INLINE;
	case 6: return one_in(r, 2) ? CPORT_SQE_POST : CPORT_SQE_INLINE_POST;
	default: return one_in(r, 2) ? 3 : rnd(r);
	}
}

/*
 * The msghdrs of RECVMSG and SENDMSG: shared by the workers and never
 * freed, as the kernel writes a RECVMSG's lengths and flags back into its
 * msghdr whenever it completes.  The buffers are the arena's (or bad); a
 * RECVMSG's control buffer is never writable memory of ours, so that no
 * descriptor received is installed behind the fuzzer's back (the peers
 * send SCM_RIGHTS): they are closed at once, flagged CPORT_CQE_F_CTRUNC.
 */
#define NMSG	64
static struct msghdr fz_msg[NMSG];
static struct iovec fz_iov[NMSG][4];

static void pick_msg(struct rng *r, struct cport_sqe *s, bool send)
{
	unsigned int i = rn(r, NMSG), n = rn(r, 5), k;
	struct msghdr m;
	__u64 a, l;

	memset(&m, 0, sizeof(m));
	for (k = 0; k < n; k++) {
		pick_buf(r, &a, &l);
		if (l > 65536 && !one_in(r, 8))
			l = 1 + rn(r, 4096);
		fz_iov[i][k].iov_base = (void *)(uintptr_t)a;
		fz_iov[i][k].iov_len = l;
	}
	m.msg_iov = one_in(r, 16) ? (void *)(uintptr_t)bad_ptr(r) : fz_iov[i];
	m.msg_iovlen = one_in(r, 16) ? rnd(r) : n;
	if (one_in(r, 2)) {
		pick_buf(r, &a, &l);
		m.msg_name = (void *)(uintptr_t)a;
		m.msg_namelen = one_in(r, 8) ? (int)rnd(r) : (int)rn(r, 130);
	}
	if (one_in(r, 3)) {
		if (send && one_in(r, 2))
			m.msg_control = arena + rn(r, ARENA_PAGES * PAGE - 512);
		else
			m.msg_control = (void *)(uintptr_t)bad_ptr(r);
		m.msg_controllen = one_in(r, 16) ? rnd(r) : rn(r, 256);
	}
	memcpy(&fz_msg[i], &m, sizeof(m));
	s->addr = one_in(r, 16) ? bad_ptr(r) : (uintptr_t)&fz_msg[i];
	if (one_in(r, 16))
		s->len = rnd(r);
}

/*
 * SENDFILE's records: read at submission, so a ring per thread is enough
 * for a batch; the file is a memfd of FUZZ_FILE_LEN bytes (main()).
 */
#define FUZZ_FILE_LEN	(64 << 10)
static int fuzz_file = -1;
static __thread struct cport_sendfile sf_ring[64];
static __thread unsigned int sf_next;

static void make_sendfile(struct rng *r, struct cport_sqe *s,
			  unsigned int inst)
{
	struct cport_sendfile *sf = &sf_ring[sf_next++ % 64];

	memset(sf, 0, sizeof(*sf));
	sf->file_fd = one_in(r, 8) ? pick_sqe_fd(r, false, inst) : fuzz_file;
	sf->offset = one_in(r, 16) ? rnd(r) : rn(r, FUZZ_FILE_LEN + 4096);
	sf->count = one_in(r, 16) ? rnd(r) : one_in(r, 3) ? 0 :
		    rn(r, FUZZ_FILE_LEN);
	if (one_in(r, 3))
		pick_buf(r, &sf->head, &sf->count);
	if (one_in(r, 3)) {
		__u64 len;

		pick_buf(r, &sf->tail, &len);
		sf->tail_len = one_in(r, 8) ? (__u32)rnd(r) : len % 8192;
	}
	sf->head_len = sf->head ? rn(r, 8192) : 0;
	if (one_in(r, 4))
		sf->count = rn(r, FUZZ_FILE_LEN);
	if (one_in(r, 20))
		sf->flags = rnd(r);
	s->addr = one_in(r, 16) ? bad_ptr(r) : (uintptr_t)sf;
	s->len = one_in(r, 10) ? rn(r, 128) : sizeof(*sf);
}

/* A recent user_data of this worker (for CANCEL_USER_DATA). */
static uint64_t recent_ud(struct worker *w)
{
	struct wslot *ws = &wslots[w->slot];

	return ud_make(w->slot, ws->seq - 1 - rn(&w->rng, 16));
}

/* One submission, mostly well formed. */
static void make_sqe(struct worker *w, struct cport_sqe *s, unsigned int inst,
		     int focus)
{
	struct rng *r = &w->rng;
	uint32_t how;

	memset(s, 0, sizeof(*s));
	switch (rn(r, 104)) {
	case 0 ... 29:
		s->opcode = CPORT_OP_POST;
		if (one_in(r, 5))
			s->timeout_ns = one_in(r, 8) ?
				(one_in(r, 2) ? UINT64_MAX : 3600 * NSEC_PER_SEC) :
				rn(r, 20 * NSEC_PER_MSEC);
		break;
	case 30 ... 41:
		s->opcode = CPORT_OP_ASSOCIATE;
		s->fd = one_in(r, 2) ? focus : pick_sqe_fd(r, one_in(r, 4), inst);
		s->key = pick_key(r);
		s->op_flags = one_in(r, 3) ? CPORT_ASSOC_INLINE :
			      one_in(r, 10) ? rnd(r) : 0;
		break;
	case 42 ... 45:
		s->opcode = CPORT_OP_DISSOCIATE;
		s->fd = pick_sqe_fd(r, one_in(r, 4), inst);
		break;
	case 46 ... 65:
		s->opcode = CPORT_OP_RECV;
		s->fd = one_in(r, 2) ? focus : pick_sqe_fd(r, false, inst);
		if (one_in(r, 6)) {		/* zero-byte recv */
			s->addr = one_in(r, 8) ? 1 : 0;
			s->len = 0;
		} else {
			pick_buf(r, &s->addr, &s->len);
		}
		s->op_flags = one_in(r, 4) ? CPORT_RECV_FILL :
			      one_in(r, 20) ? rnd(r) : 0;
		s->flags = pick_sqe_flags(r);
		s->timeout_ns = pick_op_timeout(r);
		if (one_in(r, 5)) {	/* from a buffer group, maybe multishot */
			s->op_flags = CPORT_RECV_BUFFER |
				(one_in(r, 2) ? CPORT_RECV_MULTISHOT : 0);
			s->addr = one_in(r, 16) ? 1 : 0;
			s->len = one_in(r, 2) ? 0 : rn(r, 8192);
			s->key = one_in(r, 16) ? rnd(r) : rn(r, 4);
			if ((s->op_flags & CPORT_RECV_MULTISHOT) &&
			    !one_in(r, 8)) {
				s->flags &= ~(CPORT_SQE_INLINE |
					      CPORT_SQE_INLINE_POST);
				s->timeout_ns = 0;
			}
		}
		break;
	case 77 ... 80:
		/* READ or WRITE: a pipe or eventfd, or a socket (key 0). */
		s->opcode = one_in(r, 2) ? CPORT_OP_READ : CPORT_OP_WRITE;
		s->fd = one_in(r, 3) ? focus : pick_sqe_fd(r, false, inst);
		pick_buf(r, &s->addr, &s->len);
		if (one_in(r, 2) && s->len > 4096)
			s->len = 1 + rn(r, 4096);
		s->key = one_in(r, 2) ? 0 : pick_key(r);
		if (one_in(r, 20))
			s->op_flags = rnd(r);
		s->flags = pick_sqe_flags(r);
		s->timeout_ns = pick_op_timeout(r);
		break;
	case 66 ... 76:
		s->opcode = CPORT_OP_SEND;
		s->fd = one_in(r, 2) ? focus : pick_sqe_fd(r, false, inst);
		pick_buf(r, &s->addr, &s->len);
		if (one_in(r, 2) && s->len > 4096)
			s->len = 1 + rn(r, 4096);
		s->flags = pick_sqe_flags(r);
		s->timeout_ns = pick_op_timeout(r);
		break;
	case 81 ... 88:
		s->opcode = CPORT_OP_ACCEPT;
		s->fd = pick_sqe_fd(r, !one_in(r, 5), inst);
		if (!one_in(r, 3)) {
			pick_buf(r, &s->addr, &s->len);
			if (!one_in(r, 4))
				s->len = 1 + rn(r, 128);
		}
		s->op_flags = rn(r, 16);
		if (s->op_flags & CPORT_ACCEPT_ASSOCIATE)
			s->key = pick_key(r);
		s->flags = pick_sqe_flags(r);
		s->timeout_ns = pick_op_timeout(r);
		break;
	case 89 ... 95:
		s->opcode = CPORT_OP_CANCEL;
		how = 1u << rn(r, 4);
		if (one_in(r, 10))
			how = rnd(r);
		s->op_flags = how;
		if (how == CPORT_CANCEL_USER_DATA)
			s->user_data = recent_ud(w);
		else if (how == CPORT_CANCEL_FD)
			s->fd = pick_sqe_fd(r, one_in(r, 4), inst);
		else if (how == CPORT_CANCEL_KEY)
			s->key = pick_key(r);
		break;
	case 96 ... 97:
		s->opcode = CPORT_OP_CONNECT;
		s->fd = one_in(r, 2) ? focus : pick_sqe_fd(r, false, inst);
		if (!one_in(r, 3))
			pick_buf(r, &s->addr, &s->len);
		if (one_in(r, 20))
			s->op_flags = rnd(r);
		s->flags = pick_sqe_flags(r);
		s->timeout_ns = pick_op_timeout(r);
		break;
	case 98:
		if (one_in(r, 2)) {
			s->opcode = CPORT_OP_PROVIDE_BUFFERS;
		} else {
			s->opcode = one_in(r, 2) ? CPORT_OP_RECVMSG :
						   CPORT_OP_SENDMSG;
			s->fd = one_in(r, 2) ? focus :
					       pick_sqe_fd(r, false, inst);
			pick_msg(r, s, s->opcode == CPORT_OP_SENDMSG);
			if (one_in(r, 8))
				s->op_flags = one_in(r, 2) ? 1 : rnd(r);
			s->flags = pick_sqe_flags(r);
			s->timeout_ns = pick_op_timeout(r);
			break;
		}
		pick_buf(r, &s->addr, &s->len);
		s->fd = one_in(r, 16) ? (int)rnd(r) : 1 + (int)rn(r, 8);
		if (s->len > 8192 || one_in(r, 2))
			s->len = 1 + rn(r, 512);
		s->key = one_in(r, 16) ? rnd(r) : rn(r, 4);
		s->user_data = one_in(r, 16) ? rnd(r) : rn(r, 64);
		break;
	case 99 ... 101:
		s->opcode = CPORT_OP_SENDFILE;
		s->fd = one_in(r, 2) ? focus : pick_sqe_fd(r, false, inst);
		make_sendfile(r, s, inst);
		if (one_in(r, 20))
			s->op_flags = rnd(r);
		s->flags = pick_sqe_flags(r);
		s->timeout_ns = pick_op_timeout(r);
		break;
	case 102:
		s->opcode = CPORT_OP_DISCONNECT;
		s->fd = one_in(r, 2) ? focus : pick_sqe_fd(r, one_in(r, 8), inst);
		s->op_flags = one_in(r, 2) ? CPORT_DISCONNECT_WAIT :
			      one_in(r, 10) ? rnd(r) : 0;
		if (one_in(r, 20))
			s->len = rn(r, 4);
		s->flags = pick_sqe_flags(r);
		s->timeout_ns = pick_op_timeout(r);
		break;
	default:
		s->opcode = one_in(r, 2) ? 0 : CPORT_OP__NR + rn(r, 250);
		s->fd = rnd(r);
		s->user_data = rnd(r);
		break;
	}
	/* A byte or two of garbage. */
	if (one_in(r, 8)) {
		int i, n = 1 + rn(r, 2);

		for (i = 0; i < n; i++)
			((unsigned char *)s)[rn(r, sizeof(*s))] = rnd(r);
	}
}

static bool op_tracked(uint8_t op)
{
	return op == CPORT_OP_POST || op == CPORT_OP_RECV ||
	       op == CPORT_OP_SEND || op == CPORT_OP_ACCEPT ||
	       op == CPORT_OP_CONNECT || op == CPORT_OP_RECVMSG ||
	       op == CPORT_OP_SENDMSG || op == CPORT_OP_SENDFILE ||
	       op == CPORT_OP_DISCONNECT || op == CPORT_OP_READ ||
	       op == CPORT_OP_WRITE;
}

/* An accepted connection handed to us: a socket, kept for later use. */
static void adopt_fd(struct worker *w, int fd, const char *how)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode)) {
		FAIL("%s: descriptor %d is not a socket (%s)", how, fd,
		     strerror(errno));
		return;
	}
	STAT(accepts);
	slot_add(fds, NFDS, &w->rng, K_ACCEPTED, fd, 0);
}

/*
 * Result bounds of a finished RECV, SEND, ACCEPT, CONNECT, SENDFILE or
 * DISCONNECT (inline or posted).
 */
static void check_result(struct worker *w, const char *how, uint8_t op,
			 uint64_t len, int64_t res, uint64_t bytes, uint64_t ud)
{
	bool ok = true;

	if (res < 0 && res < -4095)
		ok = false;
	else if (op == CPORT_OP_RECV || op == CPORT_OP_READ)
		ok = res < 0 ? bytes <= len :
		     (uint64_t)res <= len && (uint64_t)res == bytes;
	else if (op == CPORT_OP_SEND || op == CPORT_OP_CONNECT ||
		 op == CPORT_OP_WRITE)
		ok = res < 0 ? bytes <= len :
		     (uint64_t)res == len && bytes == len;
	else if (op == CPORT_OP_RECVMSG || op == CPORT_OP_SENDMSG)
		ok = res < 0 || ((uint64_t)res == bytes && res <= CPORT_MAX_IO);
	else if (op == CPORT_OP_SENDFILE)	/* len is its record's size */
		ok = res < 0 ? bytes <= CPORT_MAX_IO :
		     (uint64_t)res == bytes && bytes <= CPORT_MAX_IO;
	else if (op == CPORT_OP_DISCONNECT)
		ok = res <= 0 && !bytes;
	else if (op == CPORT_OP_ACCEPT)	/* the address's length, as accept(2) */
		ok = res < INT_MAX && bytes <= sizeof(struct sockaddr_storage) &&
		     (len || !bytes);
	if (!ok)
		FAIL("%s %s user_data %#llx: res %lld bytes %llu of len %llu",
		     how, op_name(op), (unsigned long long)ud, (long long)res,
		     (unsigned long long)bytes, (unsigned long long)len);
	if (op == CPORT_OP_ACCEPT && res >= 0 && res < INT_MAX)
		adopt_fd(w, res, how);
}

/*
 * The numbering of a RECV's completions: a multishot RECV's arrivals are
 * 0, 1, ... n - 1 and its end n; any other RECV's one completion is 0.
 * Threads dequeue them in any order: each adds its seq and counts itself,
 * and the one that completes the count (the end has said how many) checks
 * the sum of the numbers and of their squares, which together tell a
 * number seen twice from the right set.  A completion too many fails.
 */
static void seq_piece(struct track *t, const struct cport_cqe *c)
{
	uint64_t sum, sq, n;
	uint32_t got, need;

	__atomic_add_fetch(&t->seqsum, c->seq, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&t->seqsq, (uint64_t)c->seq * c->seq,
			   __ATOMIC_SEQ_CST);
	if (!(c->flags & CPORT_CQE_F_MORE))
		__atomic_store_n(&t->need, c->seq + 1, __ATOMIC_SEQ_CST);
	got = __atomic_add_fetch(&t->pieces, 1, __ATOMIC_SEQ_CST);
	need = __atomic_load_n(&t->need, __ATOMIC_SEQ_CST);
	if (!need)
		return;
	if (got > need) {
		FAIL("user_data %#llx: %u completions, its end numbered %u",
		     (unsigned long long)c->user_data, got, need - 1);
	} else if (got == need) {
		sum = __atomic_load_n(&t->seqsum, __ATOMIC_SEQ_CST);
		sq = __atomic_load_n(&t->seqsq, __ATOMIC_SEQ_CST);
		n = need - 1;	/* 0..n */
		if (need > 1)
			STAT(numbered);
		if (sum != n * (n + 1) / 2 || sq != n * (n + 1) * (2 * n + 1) / 6)
			FAIL("user_data %#llx: %u completions numbered to %llu, their sum %llu, of squares %llu",
			     (unsigned long long)c->user_data, got,
			     (unsigned long long)n, (unsigned long long)sum,
			     (unsigned long long)sq);
	}
}

/* A completion dequeued from port instance @inst. */
static void on_cqe(struct worker *w, unsigned int inst,
		   const struct cport_cqe *c)
{
	struct track *t = track_of(c->user_data);
	uint8_t st;

	STAT(cqes);
	if (!t) {
		FAIL("completion with unknown user_data %#llx (op %u res %lld)",
		     (unsigned long long)c->user_data, c->op, (long long)c->res);
		if (c->op == CPORT_OP_ACCEPT && c->res >= 0)
			close(c->res);
		return;
	}
	if (t->inst != inst)
		FAIL("user_data %#llx submitted to port %u, dequeued from %u",
		     (unsigned long long)c->user_data, t->inst, inst);
	if (c->op != t->op)
		FAIL("user_data %#llx: submitted %s, completed as op %u",
		     (unsigned long long)c->user_data, op_name(t->op), c->op);
	if (c->resv0 || (c->buf && !(c->flags & CPORT_CQE_F_BUFFER)) ||
	    c->resv2 || (c->seq && c->op != CPORT_OP_RECV) ||
	    (c->flags & ~((c->op == CPORT_OP_RECV ?
			   CPORT_CQE_F_CTRUNC | CPORT_CQE_F_BUFFER |
			   CPORT_CQE_F_MORE | CPORT_CQE_F_TRUNC : 0) |
			  (c->op == CPORT_OP_RECVMSG ?
			   CPORT_CQE_F_CTRUNC | CPORT_CQE_F_TRUNC : 0) |
			  (c->op == CPORT_OP_READ ? CPORT_CQE_F_CTRUNC : 0) |
			  (c->op != CPORT_OP_POST ? CPORT_CQE_F_INLINE : 0))))
		FAIL("user_data %#llx: flags %#x, reserved %u %u %u, seq %u",
		     (unsigned long long)c->user_data, c->flags, c->resv0,
		     c->buf, c->resv2, c->seq);
	if (c->flags & CPORT_CQE_F_MORE) {
		/* A multishot RECV's arrival: data, and it is still pending. */
		if (!(c->flags & CPORT_CQE_F_BUFFER) || c->res <= 0)
			FAIL("user_data %#llx: CPORT_CQE_F_MORE with flags %#x res %lld",
			     (unsigned long long)c->user_data, c->flags,
			     (long long)c->res);
		check_result(w, "arrived", c->op, t->aux, c->res, c->bytes,
			     c->user_data);
		STAT(arrivals);
		seq_piece(t, c);
		/*
		 * Seen or early too: the completion that ended it may have
		 * been dequeued by another thread and recorded first (or
		 * taken while this thread's copy of an arrival failed and put
		 * it back): threads are not ordered among themselves.
		 * sock_buf_test checks the order on one thread.
		 */
		st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
		if (st != T_SUBMIT && st != T_PENDING && st != T_MAYBE &&
		    st != T_EARLY && st != T_SEEN)
			FAIL("arrival of user_data %#llx (%s, port %u) that is %s",
			     (unsigned long long)c->user_data, op_name(t->op),
			     t->inst, tstate_names[st]);
		return;
	}
	if (c->op == CPORT_OP_POST) {
		if (c->key != mix(c->user_data, 1) ||
		    c->res != (int64_t)mix(c->user_data, 2) ||
		    c->bytes != mix(c->user_data, 3))
			FAIL("POST user_data %#llx not returned verbatim",
			     (unsigned long long)c->user_data);
	} else if (c->op == t->op && (c->flags & CPORT_CQE_F_INLINE) &&
		   c->op == CPORT_OP_ACCEPT) {
		/* Its descriptor was installed, and adopted, inline. */
		if (c->res < 0)
			FAIL("ACCEPT inline and posted with res %lld",
			     (long long)c->res);
	} else if (c->op == t->op) {
		check_result(w, "completed", c->op, t->aux, c->res, c->bytes,
			     c->user_data);
		if (c->op == CPORT_OP_RECV)
			seq_piece(t, c);
	}

	st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
	for (;;) {
		uint8_t to;

		if (st == T_SUBMIT)
			to = T_EARLY;
		else if (st == T_PENDING || st == T_MAYBE)
			to = T_SEEN;
		else
			break;
		if (__atomic_compare_exchange_n(&t->state, &st, to, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
	}
	FAIL("completion of user_data %#llx (%s, port %u) that is %s",
	     (unsigned long long)c->user_data, op_name(t->op), t->inst,
	     tstate_names[st]);
}

/* --- ENTER ------------------------------------------------------------- */

/* Socket @fd was associated with port instance @inst: aim there. */
static void note_assoc(int fd, unsigned int inst)
{
	int i;

	STAT(assocs);
	for (i = 0; i < NFDS; i++)
		if (__atomic_load_n(&fds[i].fd, __ATOMIC_RELAXED) == fd)
			__atomic_store_n(&fds[i].inst, inst, __ATOMIC_RELAXED);
}

enum place { P_GOOD, P_RO, P_STRAD, P_BAD };

#define SUBMITTED_UNSET	0xdeadbeefU

struct sub {
	struct track *t;
	uint8_t op;
	uint8_t status_in;
	uint64_t len;
	bool readable;		/* the record lies in readable memory */
	const struct cport_sqe *at;	/* where the kernel saw it */
};

static bool header_invalid(const struct cport_enter *e)
{
	uint32_t ss = e->sqe_size ? e->sqe_size : CPORT_SQE_SIZE_VER0;

	return (e->flags & ~CPORT_ENTER_ABSTIME) || e->resv ||
	       e->nr_sqes > CPORT_MAX_ENTER || e->max_cqes > CPORT_MAX_ENTER ||
	       (!e->nr_sqes && !e->max_cqes) ||
	       ((e->flags & CPORT_ENTER_ABSTIME) && e->timeout_ns < 0) ||
	       ss < CPORT_SQE_SIZE_VER0 || ss > CPORT_SQE_SIZE_MAX || ss % 8 ||
	       (e->cqe_size && e->cqe_size != CPORT_CQE_SIZE_VER0);
}

/* A wait only a completion, a signal or a destroy ends. */
static bool wait_endless(const struct cport_enter *e)
{
	if (!e->max_cqes)
		return false;
	if (e->flags & CPORT_ENTER_ABSTIME)
		return e->timeout_ns > now_ns() + NSEC_PER_SEC;
	return e->timeout_ns < 0 || e->timeout_ns > NSEC_PER_SEC;
}

static void pick_wait(struct rng *r, struct cport_enter *e)
{
	switch (rn(r, 12)) {
	case 0 ... 4:
		e->timeout_ns = 0;
		break;
	case 5 ... 8:
		e->timeout_ns = 1000 + rn(r, 20 * NSEC_PER_MSEC);
		break;
	case 9:
		e->timeout_ns = one_in(r, 2) ? -1 : LLONG_MIN + rn(r, 10);
		break;
	case 10:
		e->flags = CPORT_ENTER_ABSTIME;
		e->timeout_ns = one_in(r, 2) ? rn(r, 1000) :
				now_ns() + rn(r, 20 * NSEC_PER_MSEC);
		break;
	default:
		if (one_in(r, 2)) {
			e->flags = CPORT_ENTER_ABSTIME;
			e->timeout_ns = LLONG_MAX;
		} else {
			e->timeout_ns = 3600 * NSEC_PER_SEC;
		}
		break;
	}
}

/* Garbage in the header, now and then (mostly caught: -EINVAL). */
static void chaos_header(struct rng *r, struct cport_enter *e)
{
	switch (rn(r, 10)) {
	case 0: e->flags = rnd(r); break;
	case 1: e->resv = rnd(r); break;
	case 2: e->nr_sqes = CPORT_MAX_ENTER + 1 + rn(r, 3); break;
	case 3: e->max_cqes = one_in(r, 2) ? CPORT_MAX_ENTER + 1 : rnd(r); break;
	case 4: e->sqe_size = rn(r, 300); break;
	case 5: e->cqe_size = one_in(r, 2) ? rn(r, 100) : rnd(r); break;
	case 6:
		e->flags = CPORT_ENTER_ABSTIME;
		e->timeout_ns = -1 - rn(r, 1000);
		break;
	case 7: e->nr_sqes = 0; e->max_cqes = 0; break;
	case 8: e->submitted = rnd(r); break;
	default: e->timeout_ns = rnd(r); break;
	}
}

static void protect(void *p, size_t len, int prot)
{
	if (mprotect(p, len, prot))
		FAIL("mprotect: %s", strerror(errno));
}

/*
 * One CPORT_IOC_ENTER: submissions (nr, 0 for a wait alone) and a wait
 * (max), with the header, the records and the completions placed in good
 * or bad memory; then every assertion on what came back.
 */
static void do_enter(struct worker *w, unsigned int nr, unsigned int max,
		     bool chaos)
{
	struct rng *r = &w->rng;
	struct cport_enter e = {}, *hdr = &e;
	struct sub subs[16];
	unsigned int stride = CPORT_SQE_SIZE_VER0, i, fit = max, taken_n;
	enum place hp = P_GOOD, sp = P_GOOD, cp = P_GOOD;
	struct cport_cqe *cqes = w->cqes;
	char *sqes = w->sqbuf, *ro_use = NULL;
	const int *set;
	bool hdr_bad, endless, taken_known;
	struct slot *ps;
	unsigned int inst;
	int port, ret, taken, focus;

	if (!pick_port(w, &ps, &port, &inst))
		return;
	/* Most socket records of a batch aim at one socket. */
	focus = pick_sqe_fd(r, false, inst);

	/* The records' stride: a newer, longer record now and then. */
	if (one_in(r, 6))
		stride = CPORT_SQE_SIZE_VER0 + 8 * rn(r, 25);
	e.sqe_size = stride == CPORT_SQE_SIZE_VER0 && one_in(r, 2) ? 0 : stride;
	e.cqe_size = one_in(r, 2) ? 0 : CPORT_CQE_SIZE_VER0;
	e.nr_sqes = nr;
	e.max_cqes = max;
	if (max)
		pick_wait(r, &e);
	memset(w->sqbuf, 0, 16 * 256);
	for (i = 0; i < nr; i++) {
		struct cport_sqe *s = (struct cport_sqe *)(w->sqbuf + i * stride);
		struct sub *sb = &subs[i];

		make_sqe(w, s, inst, focus);
		if (stride > sizeof(*s) && one_in(r, 8))
			w->sqbuf[i * stride + sizeof(*s) + rn(r, stride -
					sizeof(*s))] = 1 + rn(r, 255);
		memset(sb, 0, sizeof(*sb));
		sb->op = s->opcode;
		sb->len = s->len;
	}

	/* Where the header, the records and the completions are. */
	if (chaos) {
		chaos_header(r, &e);
		switch (rn(r, 6)) {
		case 0: hp = P_RO; break;
		case 1: hp = P_STRAD; break;
		case 2: hp = P_BAD; break;
		}
		if (hp != P_RO && one_in(r, 3))
			sp = one_in(r, 2) ? P_RO : P_STRAD;
		else if (one_in(r, 6))
			sp = P_BAD;
		if (sp != P_RO && hp != P_RO && one_in(r, 3))
			cp = one_in(r, 2) ? P_RO : P_STRAD;
		else if (one_in(r, 6))
			cp = P_BAD;
		if (sp == P_STRAD && (hp == P_STRAD || cp == P_STRAD))
			sp = P_GOOD;
		if (hp == P_STRAD && cp == P_STRAD)
			cp = P_GOOD;
	}
	/*
	 * Garbage the kernel accepts must not change the layout: counts and
	 * stride stay what the buffers are (a bigger max_cqes would let the
	 * kernel write past them).
	 */
	hdr_bad = header_invalid(&e);
	if (!hdr_bad) {
		e.nr_sqes = nr;
		e.max_cqes = max;
		e.sqe_size = stride == CPORT_SQE_SIZE_VER0 ? e.sqe_size : stride;
		if (e.sqe_size && e.sqe_size != stride)
			e.sqe_size = stride;
		hdr_bad = header_invalid(&e);
	}
	endless = wait_endless(&e);

	/* Tracking: a fresh user_data per POST, RECV, SEND and ACCEPT. */
	for (i = 0; i < nr && i < 16; i++) {
		struct cport_sqe *s = (struct cport_sqe *)(w->sqbuf + i * stride);
		struct sub *sb = &subs[i];

		sb->op = s->opcode;
		sb->len = s->len;
		if (!op_tracked(s->opcode))
			continue;
		sb->t = track_new(w->slot, s->opcode, inst,
				  s->opcode == CPORT_OP_RECV &&
				  (s->op_flags & CPORT_RECV_BUFFER) && !s->len ?
				  CPORT_MAX_IO :
				  s->opcode != CPORT_OP_POST ? s->len :
				  s->timeout_ns > 1000000 * NSEC_PER_SEC ?
				  (uint64_t)LLONG_MAX :
				  (uint64_t)now_ns() + s->timeout_ns);
		if (!sb->t) {		/* no room to track it: make it fail */
			s->opcode = 0;
			sb->op = 0;
			continue;
		}
		s->user_data = sb->t->ud;
		if (s->opcode == CPORT_OP_POST) {
			s->key = mix(s->user_data, 1);
			s->res = mix(s->user_data, 2);
			s->len = mix(s->user_data, 3);
			sb->len = s->len;
		} else if (hp == P_RO || one_in(r, 2)) {
			s->status = 0;	/* read back to tell whether taken */
		}
		sb->status_in = s->status;
	}

	/* Place the records. */
	switch (sp) {
	case P_RO:
		ro_use = w->ro;
		memcpy(w->ro, w->sqbuf, nr * stride > PAGE ? PAGE : nr * stride);
		sqes = w->ro;
		break;
	case P_STRAD:
		/* The records run into the PROT_NONE page after strad. */
		sqes = w->strad + PAGE - (1 + rn(r, nr ? nr : 1)) * stride +
		       rn(r, 2) * (stride / 2);
		if (sqes < w->strad)
			sqes = w->strad;
		memcpy(sqes, w->sqbuf, w->strad + PAGE - sqes);
		break;
	case P_BAD:
		sqes = (char *)(uintptr_t)bad_ptr(r);
		break;
	default:
		break;
	}
	for (i = 0; i < nr && i < 16; i++) {
		char *at = sqes + (size_t)i * stride;

		subs[i].at = (const struct cport_sqe *)at;
		subs[i].readable = sp == P_GOOD || sp == P_RO ||
				   (sp == P_STRAD && at >= w->strad &&
				    at + stride <= w->strad + PAGE);
	}
	e.sqes = (uintptr_t)sqes;
	if (!nr && one_in(r, 2))
		e.sqes = rnd(r);

	/* Place the completions. */
	switch (cp) {
	case P_RO:
		cqes = (struct cport_cqe *)w->ro;
		ro_use = w->ro;
		fit = 0;
		break;
	case P_STRAD:
		fit = rn(r, max < 4 ? max + 1 : 4);
		cqes = (struct cport_cqe *)(w->strad + PAGE -
					    fit * sizeof(*cqes) -
					    (one_in(r, 2) ? 24 : 0));
		break;
	case P_BAD:
		cqes = (struct cport_cqe *)(uintptr_t)bad_ptr(r);
		fit = 0;
		break;
	default:
		break;
	}
	if (fit > max)
		fit = max;
	e.cqes = (uintptr_t)cqes;
	e.submitted = SUBMITTED_UNSET;

	/* Place the header. */
	switch (hp) {
	case P_RO:
		memcpy(w->ro, &e, sizeof(e));
		hdr = (struct cport_enter *)w->ro;
		ro_use = w->ro;
		break;
	case P_STRAD:
		hdr = (struct cport_enter *)(w->strad + PAGE - 8 * (1 + rn(r, 6)));
		memcpy(hdr, &e, w->strad + PAGE - (char *)hdr);
		break;
	case P_BAD:
		hdr = (struct cport_enter *)(uintptr_t)bad_ptr(r);
		break;
	default:
		break;
	}

	if (ro_use)
		protect(ro_use, PAGE, PROT_READ);
	begin(w, "enter", endless,
	      "ENTER port %u nr %u max %u timeout %lld flags %#x sqe_size %u cqe_size %u hdr %d sqes %d cqes %d",
	      inst, e.nr_sqes, e.max_cqes, (long long)e.timeout_ns, e.flags,
	      e.sqe_size, e.cqe_size, hp, sp, cp);
	ret = xioctl(port, CPORT_IOC_ENTER, hdr);
	end(w);
	if (ro_use)
		protect(ro_use, PAGE, PROT_READ | PROT_WRITE);

	if (ret == -ENOTTY && slot_zombie(ps)) {
		/* The port was closed: the call went to the placeholder. */
		taken = 0;
		goto resolve;
	}
	if (ret == -ENOTTY) {
		struct stat st = {};

		fstat(port, &st);
		FAIL("ENTER on port %u (fd %d, mode %o rdev %#lx): ENOTTY",
		     inst, port, st.st_mode, (long)st.st_rdev);
	}

	/* How many it took, and whether it said the right errno. */
	taken = -1;
	if (hp == P_STRAD || hp == P_BAD) {
		if (ret != -EFAULT)
			FAIL("ENTER, header unreadable: %s, want EFAULT", ename(-ret));
		taken = 0;
	} else if (hdr_bad) {
		if (ret != -EINVAL)
			FAIL("ENTER, header invalid (%s): %s, want EINVAL",
			     w->what, ename(-ret));
		taken = 0;
	} else if (hp == P_RO && nr) {
		/* 'submitted' cannot be written. */
		if (ret != -EFAULT)
			FAIL("ENTER, header read-only: %s, want EFAULT",
			     ename(-ret));
	} else {
		taken_n = nr ? hdr->submitted : 0;
		if (nr && taken_n == SUBMITTED_UNSET) {
			FAIL("ENTER %s: submitted not written (%s)",
			     ename(-ret), w->what);
			taken_n = 0;
		} else if (taken_n > nr) {
			FAIL("ENTER: submitted %u of %u", taken_n, nr);
			taken_n = nr;
		}
		taken = taken_n;
		if (ret >= 0 && taken_n != nr)
			FAIL("ENTER returned %d, submitted %u of %u", ret,
			     taken_n, nr);
		if (ret < 0 && taken_n < nr) {
			set = taken_n < 16 && subs[taken_n].readable ?
			      op_errnos(subs[taken_n].op) : E_BADOP;
			if (!in_set(set, -ret))
				FAIL("ENTER: submission %u (%s) failed with %s",
				     taken_n, op_name(subs[taken_n].op),
				     ename(-ret));
		} else if (ret < 0 && !max) {
			FAIL("ENTER without a wait: %s after all %u taken",
			     ename(-ret), nr);
		} else if (ret < 0 && (!in_set(E_WAIT, -ret) ||
				       (ret == -ETIMEDOUT && e.timeout_ns < 0 &&
					!(e.flags & CPORT_ENTER_ABSTIME)))) {
			FAIL("ENTER's wait (%s): %s", w->what, ename(-ret));
		}
	}
	if (ret >= 0 && !max && ret)
		FAIL("ENTER without a wait returned %d", ret);
	if (ret > 0) {
		if ((unsigned int)ret > max ||
		    (cp != P_GOOD && (unsigned int)ret > fit)) {
			FAIL("ENTER returned %d completions, max %u (room %u)",
			     ret, max, fit);
			ret = fit;
		}
		for (i = 0; i < (unsigned int)ret; i++)
			on_cqe(w, inst, &cqes[i]);
	}

resolve:
	/* What became of each submission. */
	taken_known = taken >= 0;
	for (i = 0; i < nr && i < 16; i++) {
		struct sub *sb = &subs[i];
		bool tk = taken_known && (int)i < taken;
		const struct cport_sqe *s = sb->at;
		uint8_t st;

		if (tk && sb->op == CPORT_OP_ASSOCIATE && sb->readable)
			note_assoc(s->fd, inst);
		if (!sb->t && !(tk && sb->op == CPORT_OP_CANCEL && sb->readable))
			continue;
		if (!sb->readable) {
			if (tk)
				FAIL("ENTER took record %u, which it cannot read", i);
			track_resolve(sb->t, T_NOTTAKEN);
			continue;
		}
		st = s->status;
		if (sb->op == CPORT_OP_CANCEL) {
			if (st != CPORT_STATUS_INLINE ||
			    (s->res <= 0 && s->res != -ENOENT))
				FAIL("CANCEL taken: status %u res %lld", st,
				     (long long)s->res);
			continue;
		}
		if (sb->op == CPORT_OP_POST) {
			track_resolve(sb->t, !taken_known ? T_MAYBE :
					     tk ? T_PENDING : T_NOTTAKEN);
			if (tk)
				STAT(posts);
			continue;
		}
		if (tk || (!taken_known && st)) {
			if (st == CPORT_STATUS_PENDING) {
				STAT(pending);
				track_resolve(sb->t, T_PENDING);
			} else if (st == CPORT_STATUS_INLINE) {
				STAT(inlines);
				track_resolve(sb->t, T_INLINE);
				check_result(w, "inline", sb->op, sb->len,
					     s->res, s->bytes, s->user_data);
			} else if (st == CPORT_STATUS_INLINE_POSTED) {
				/* Inline, and exactly one completion too. */
				STAT(inlines);
				track_resolve(sb->t, T_PENDING);
				check_result(w, "inline", sb->op, sb->len,
					     s->res, s->bytes, s->user_data);
				if (s->res < 0)
					FAIL("%s inline and posted with res %lld",
					     op_name(sb->op), (long long)s->res);
			} else {
				FAIL("%s taken (record %u of %u), status %u",
				     op_name(sb->op), i, nr, st);
				track_resolve(sb->t, T_MAYBE);
			}
		} else {
			if (st && st != sb->status_in)
				FAIL("%s not taken (record %u, ret %s), status %u",
				     op_name(sb->op), i, ename(-ret), st);
			track_resolve(sb->t, T_NOTTAKEN);
		}
	}
	slot_put(ps);
}

static void act_enter(struct worker *w)
{
	struct rng *r = &w->rng;
	unsigned int nr = 1 + rn(r, one_in(r, 8) ? 16 : 4);

	do_enter(w, nr, one_in(r, 3) ? rn(r, 17) : 0, one_in(r, 6));
}

static void act_wait(struct worker *w)
{
	struct rng *r = &w->rng;

	do_enter(w, 0, 1 + rn(r, one_in(r, 4) ? 64 : 8), one_in(r, 5));
}

/* --- The other commands ------------------------------------------------- */

/* A buffer for an ioctl argument: good, read-only, straddling or bad. */
static void *arg_buf(struct worker *w, size_t size, enum place *p)
{
	struct rng *r = &w->rng;

	switch (rn(r, 8)) {
	case 0:
		*p = P_RO;
		return w->ro;
	case 1:
		*p = P_STRAD;	/* at least its last byte past the page */
		return w->strad + PAGE - 1 -
		       (size < 2 ? 0 : rn(r, (size < PAGE ? size : PAGE) - 1));
	case 2:
		*p = P_BAD;
		return (void *)(uintptr_t)bad_ptr(r);
	default:
		*p = P_GOOD;
		return w->qbuf;
	}
}

static void act_setup(struct worker *w)
{
	struct rng *r = &w->rng;
	static const unsigned int sizes[] = { 0, 8, 15, 16, 20, 24, 32, 64,
					      4096, 4097, 16383 };
	struct cport_setup s = {};
	unsigned int size, inst;
	enum place p;
	struct slot *ps;
	char *buf;
	int port, ret, want = 0;

	size = one_in(r, 3) ? rn(r, 5000) : sizes[rn(r, ARRAY_SIZE(sizes))];
	if (!pick_port(w, &ps, &port, &inst))
		return;
	s.flags = one_in(r, 8) ? rnd(r) : rn(r, 2);
	s.concurrency = one_in(r, 8) ? rnd(r) : rn(r, 5);
	s.policy = one_in(r, 8) ? rnd(r) : rn(r, CPORT_POLICY__NR);
	s.max_queued = one_in(r, 8) ? rnd(r) : one_in(r, 2) ? 0 : 1 + rn(r, 64);
	s.max_pending = one_in(r, 8) ? rnd(r) : one_in(r, 2) ? 0 : 1 + rn(r, 64);
	s.resv = one_in(r, 10) ? rnd(r) : 0;
	buf = arg_buf(w, size, &p);
	if (p == P_GOOD || p == P_RO) {
		size_t n = size < PAGE ? size : PAGE;

		memset(buf, 0, n);
		memcpy(buf, &s, n < sizeof(s) ? n : sizeof(s));
		if (n > sizeof(s) && one_in(r, 4))
			buf[sizeof(s) + rn(r, n - sizeof(s))] = 1;
		/* What the kernel must say, from the argument alone. */
		if (size < CPORT_SETUP_SIZE_VER0)
			want = EINVAL;
		else if (size > PAGE)
			want = E2BIG;
		else if (n > sizeof(s) &&
			 memchr(buf + sizeof(s), 1, n - sizeof(s)))
			want = E2BIG;
		else {
			struct cport_setup k = {};

			memcpy(&k, buf, n < sizeof(k) ? n : sizeof(k));
			if ((k.flags & ~(CPORT_SETUP_NO_BLOCK_TRACKING |
					 CPORT_SETUP_EAGER_RELEASE)) ||
			    k.policy >= CPORT_POLICY__NR ||
			    k.concurrency > CPORT_MAX_CONCURRENCY ||
			    k.max_queued > CPORT_MAX_QUEUED ||
			    k.max_pending > CPORT_MAX_PENDING || k.resv)
				want = EINVAL;
		}
		if (p == P_RO)
			protect(w->ro, PAGE, PROT_READ);
	} else {
		want = size < CPORT_SETUP_SIZE_VER0 ? EINVAL :
		       size > PAGE ? E2BIG : EFAULT;
		if (p == P_STRAD)
			want = -1;	/* EFAULT or E2BIG, by the bytes read */
	}
	begin(w, "setup", false, "SETUP port %u size %u place %d", inst, size, p);
	ret = xioctl(port, _IOC(_IOC_WRITE, CPORT_IOC_MAGIC, 0, size), buf);
	end(w);
	if (p == P_RO)
		protect(w->ro, PAGE, PROT_READ | PROT_WRITE);
	if (ret == -ENOTTY && slot_zombie(ps))
		goto out;
	if (ret > 0 || (ret && !in_set(E_SETUP, -ret)))
		FAIL("SETUP size %u: %s", size, ename(-ret));
	else if (want > 0 && -ret != want)
		FAIL("SETUP size %u at %p (place %d): %s, want %s", size, buf,
		     p, ename(-ret), ename(want));
	else if (!want && ret && ret != -EBUSY && ret != -EIDRM)
		FAIL("SETUP size %u (valid): %s", size, ename(-ret));
out:
	slot_put(ps);
}

/* What a successful QUERY of @size bytes wrote at @buf. */
static void check_info(const char *buf, unsigned int size)
{
	const struct cport_info *in = (const void *)buf;
	unsigned int i;

	if (in->api_version != CPORT_API_VERSION || in->features != 0x3f ||
	    in->ops != 0xfffe ||
	    in->setup_flags != (CPORT_SETUP_NO_BLOCK_TRACKING |
				CPORT_SETUP_EAGER_RELEASE) ||
	    in->enter_flags != CPORT_ENTER_ABSTIME ||
	    in->sqe_flags != (CPORT_SQE_INLINE | CPORT_SQE_POST |
			      CPORT_SQE_INLINE_POST) ||
	    in->policies != 0xf || in->policy >= CPORT_POLICY__NR ||
	    !in->concurrency || in->concurrency > CPORT_MAX_CONCURRENCY ||
	    !in->max_queued || in->max_queued > CPORT_MAX_QUEUED ||
	    in->max_enter != CPORT_MAX_ENTER || in->port_flags > 3 ||
	    !in->max_pending || in->max_pending > CPORT_MAX_PENDING ||
	    in->resv[0] || in->resv[1] || in->resv[2])
		FAIL("QUERY: api %u features %#x ops %#llx flags %#x/%#x/%#x policies %#x policy %u concurrency %u max_queued %u max_enter %u port_flags %#x max_pending %u",
		     in->api_version, in->features,
		     (unsigned long long)in->ops, in->setup_flags,
		     in->enter_flags, in->sqe_flags, in->policies, in->policy,
		     in->concurrency, in->max_queued, in->max_enter,
		     in->port_flags, in->max_pending);
	/* A ring is a power of two up to the bound (SETUP refuses others). */
	if (size >= CPORT_INFO_SIZE_VER2 &&
	    (in->ring_entries > CPORT_MAX_RING_ENTRIES ||
	     (in->ring_entries & (in->ring_entries - 1)) || in->resv2))
		FAIL("QUERY: ring_entries %u resv2 %u", in->ring_entries,
		     in->resv2);
	for (i = sizeof(*in); i < size; i++)
		if (buf[i]) {
			FAIL("QUERY size %u: byte %u is %#x, not zero", size, i,
			     (unsigned char)buf[i]);
			break;
		}
	for (i = size; i < size + 16 && i < 2 * PAGE; i++)
		if ((unsigned char)buf[i] != 0xa5) {
			FAIL("QUERY size %u wrote byte %u", size, i);
			break;
		}
}

static void act_query(struct worker *w)
{
	struct rng *r = &w->rng;
	static const unsigned int sizes[] = { 0, 8, 79, 80, 88, 96, 128,
					      4096, 4097, 16383 };
	unsigned int size, inst;
	struct slot *ps;
	enum place p;
	char *buf;
	int port, ret, want;

	size = one_in(r, 3) ? rn(r, 5000) : sizes[rn(r, ARRAY_SIZE(sizes))];
	if (!pick_port(w, &ps, &port, &inst))
		return;
	buf = arg_buf(w, size, &p);
	if (p == P_GOOD)
		memset(buf, 0xa5, 2 * PAGE);
	if (p == P_RO)
		protect(w->ro, PAGE, PROT_READ);
	want = size < CPORT_INFO_SIZE_VER0 ? EINVAL : size > PAGE ? E2BIG :
	       p == P_GOOD ? 0 : EFAULT;
	begin(w, "query", false, "QUERY port %u size %u place %d", inst, size, p);
	ret = xioctl(port, _IOC(_IOC_READ, CPORT_IOC_MAGIC, 1, size), buf);
	end(w);
	if (p == P_RO)
		protect(w->ro, PAGE, PROT_READ | PROT_WRITE);
	if (ret == -ENOTTY && slot_zombie(ps))
		goto out;
	if (ret > 0 || (ret && !in_set(E_QUERY, -ret)))
		FAIL("QUERY size %u: %s", size, ename(-ret));
	else if (-ret != want && !(ret == -EIDRM && want != EINVAL &&
				   want != E2BIG))
		FAIL("QUERY size %u at %p (place %d): %s, want %s", size, buf,
		     p, ename(-ret), ename(want));
	else if (!ret)
		check_info(buf, size);
out:
	slot_put(ps);
}

/*
 * A type that no generic ioctl of the VFS uses (those of types 0, 0x15,
 * 'T', 'X', 'f' and 0x94 act on any file: FIGETBSZ, FIOCLEX, FIFREEZE,
 * FS_IOC_SETFLAGS, FICLONE...), nor cport's.
 */
static unsigned int other_type(struct rng *r)
{
	for (;;) {
		unsigned int t = rn(r, 256);

		if (t && t != 0x15 && t != 'T' && t != 'X' && t != 'f' &&
		    t != 0x94 && t != CPORT_IOC_MAGIC)
			return t;
	}
}

static void act_ioctl(struct worker *w)
{
	struct rng *r = &w->rng;
	unsigned int cmd, nr, dir, size, inst;
	const int *set = NULL;
	struct slot *ps;
	enum place p;
	void *arg;
	int port, ret;

	do {
		switch (rn(r, 4)) {
		case 0:		/* a valid number, another size or direction */
			nr = rn(r, 5);
			dir = rn(r, 4);
			size = one_in(r, 2) ? rn(r, 128) : rn(r, 16384);
			cmd = _IOC(dir, CPORT_IOC_MAGIC, nr, size);
			break;
		case 1:		/* any number of cport's type */
			cmd = _IOC(rn(r, 4), CPORT_IOC_MAGIC, rn(r, 256),
				   rn(r, 16384));
			break;
		case 2:
			cmd = _IOC(rn(r, 4), other_type(r), rn(r, 256),
				   rn(r, 16384));
			break;
		default:	/* another type, cport's numbers and sizes */
			cmd = (CPORT_IOC_ENTER & ~(0xffu << 8)) |
			      other_type(r) << 8;
			break;
		}
	} while (cmd == CPORT_IOC_ENTER || cmd == CPORT_IOC_DESTROY ||
		 cmd == CPORT_IOC_LEAVE);

	if (_IOC_TYPE(cmd) == CPORT_IOC_MAGIC && _IOC_NR(cmd) == 0 &&
	    _IOC_DIR(cmd) == _IOC_WRITE)
		set = E_SETUP;
	else if (_IOC_TYPE(cmd) == CPORT_IOC_MAGIC && _IOC_NR(cmd) == 1 &&
		 _IOC_DIR(cmd) == _IOC_READ)
		set = E_QUERY;
	if (!pick_port(w, &ps, &port, &inst))
		return;
	arg = arg_buf(w, _IOC_SIZE(cmd), &p);
	if (p == P_GOOD)
		memset(arg, 0, 2 * PAGE);
	begin(w, "ioctl", false, "ioctl port %u cmd %#x arg %p", inst, cmd, arg);
	ret = xioctl(port, cmd, arg);
	end(w);
	if (ret == -ENOTTY && slot_zombie(ps))
		goto out;
	if (set ? ret > 0 || (ret && !in_set(set, -ret)) : ret != -ENOTTY)
		FAIL("ioctl %#x: %s, want %s", cmd, ename(-ret),
		     set ? "a SETUP/QUERY errno" : "ENOTTY");
out:
	slot_put(ps);
}

/*
 * A port's fdinfo says it holds nothing: no completion queued, no unit
 * (pending operation, delayed POST, undelivered completion), no file and,
 * with @socks, no association.  Waits a moment: a completion being copied
 * out elsewhere, or a runner letting go of a file, lags a little.
 */
static bool port_empty(int port, bool socks, char *buf, size_t size)
{
	char text[FDINFO_SIZE];

	if (wait_until(fdinfo_read(port, text, sizeof(text)) > 0 &&
		       fdinfo_find_num(text, "queued") == 0 &&
		       fdinfo_find_num(text, "pending") == 0 &&
		       fdinfo_find_num(text, "files") == 0 &&
		       (!socks || fdinfo_find_num(text, "sockets") == 0),
		       PROGRESS_MS))
		return true;
	snprintf(buf, size, "queued %lld pending %lld files %lld sockets %lld waiters %lld",
		 fdinfo_find_num(text, "queued"), fdinfo_find_num(text, "pending"),
		 fdinfo_find_num(text, "files"), fdinfo_find_num(text, "sockets"),
		 fdinfo_find_num(text, "waiters"));
	return false;
}

static void act_destroy(struct worker *w)
{
	struct rng *r = &w->rng;
	unsigned long arg = one_in(r, 5) ? rnd(r) | 1 : 0;
	struct cport_info info;
	struct slot *ps;
	unsigned int inst;
	int port, ret;

	if (!pick_port(w, &ps, &port, &inst))
		return;
	if (!arg) {
		inst_set(inst, INST_DEAD);
		STAT(destroys);
	}
	begin(w, "destroy", false, "DESTROY port %u arg %#lx", inst, arg);
	ret = xioctl(port, CPORT_IOC_DESTROY, (void *)arg);
	end(w);
	if (ret == -ENOTTY && slot_zombie(ps))
		goto out;
	if (arg ? ret != -EINVAL : ret && !in_set(E_DESTROY, -ret))
		FAIL("DESTROY arg %#lx: %s", arg, ename(-ret));
	if (!arg) {
		char why[160];
		int ret2;

		/* Destroyed: every later call but LEAVE says so. */
		ret2 = xioctl(port, CPORT_IOC_QUERY, &info);
		if (ret2 != -EIDRM && !(ret2 == -ENOTTY && slot_zombie(ps)))
			FAIL("QUERY after DESTROY: %s", ename(-ret2));
		/* ... and it let go of everything. */
		begin(w, "destroyed", false, "fdinfo of destroyed port %u", inst);
		if (!ret && !port_empty(port, true, why, sizeof(why)) &&
		    !slot_zombie(ps))
			FAIL("port %u destroyed, still holds: %s", inst, why);
		end(w);
	}
out:
	slot_put(ps);
}

static void act_leave(struct worker *w)
{
	struct rng *r = &w->rng;
	unsigned long arg = one_in(r, 5) ? rnd(r) | 1 : 0;
	struct slot *ps;
	unsigned int inst;
	int port, ret;

	if (!pick_port(w, &ps, &port, &inst))
		return;
	begin(w, "leave", false, "LEAVE port %u arg %#lx", inst, arg);
	ret = xioctl(port, CPORT_IOC_LEAVE, (void *)arg);
	end(w);
	if (!(ret == -ENOTTY && slot_zombie(ps)) &&
	    (arg ? ret != -EINVAL : ret && !in_set(E_LEAVE, -ret)))
		FAIL("LEAVE arg %#lx: %s", arg, ename(-ret));
	slot_put(ps);
}

/* poll(), read() and write() of a port. */
static void act_file(struct worker *w)
{
	struct rng *r = &w->rng;
	struct pollfd pfd;
	struct slot *ps;
	unsigned int inst;
	char buf[64];
	int port, ret = 0, what = rn(r, 3);

	if (!pick_port(w, &ps, &port, &inst))
		return;
	begin(w, "file", false, "%s port %u",
	      what == 0 ? "poll" : what == 1 ? "read" : "write", inst);
	if (what == 0) {
		pfd.fd = port;
		pfd.events = POLLIN | POLLOUT | POLLPRI;
		ret = poll(&pfd, 1, 0);
	} else if (what == 1) {
		ret = read(port, buf, rn(r, sizeof(buf)));
	} else {
		ret = write(port, buf, rn(r, sizeof(buf)));
	}
	if (ret < 0)
		ret = -errno;
	end(w);
	if (slot_zombie(ps) || ret == -EINTR)
		goto out;
	if (what == 0 && ret == 1 &&
	    (pfd.revents & ~(POLLIN | POLLRDNORM | POLLHUP)))
		FAIL("poll of a port: revents %#x", pfd.revents);
	else if (what && ret != -EINVAL)
		FAIL("%s of a port: %s", what == 1 ? "read" : "write",
		     ename(-ret));
out:
	slot_put(ps);
}

/* A new port in a free slot; returns its descriptor or -errno. */
static int new_port(struct rng *r, bool set_up)
{
	struct cport_setup s = {};
	unsigned int inst;
	int fd, ret;

	fd = open(CPORT_DEV_PATH, O_RDWR | (one_in(r, 4) ? 0 : O_CLOEXEC));
	if (fd < 0) {
		if (errno != EINTR && errno != EMFILE)
			FAIL("open %s: %s", CPORT_DEV_PATH, strerror(errno));
		return -errno;
	}
	inst = __atomic_add_fetch(&next_inst, 1, __ATOMIC_RELAXED);
	if (inst >= MAX_INST) {
		close(fd);
		return -ENOSPC;
	}
	if (set_up && !one_in(r, 3)) {
		s.flags = rn(r, 2);
		s.concurrency = rn(r, 4);
		s.policy = rn(r, CPORT_POLICY__NR);
		s.max_queued = one_in(r, 2) ? 0 : 1 + rn(r, 64);
		s.max_pending = one_in(r, 2) ? 0 : 1 + rn(r, 256);
		ret = xioctl(fd, CPORT_IOC_SETUP, &s);
		if (ret)
			FAIL("SETUP of a new port: %s", ename(-ret));
	}
	STAT(ports);
	slot_add(ports, NPORTS, r, K_PORT, fd, inst);
	return fd;
}

static void act_port_new(struct worker *w)
{
	begin(w, "port-new", false, "open a port");
	new_port(&w->rng, true);
	end(w);
}

static void act_port_close(struct worker *w)
{
	struct slot *s = &ports[rn(&w->rng, NPORTS)];

	begin(w, "port-close", false, "close port slot %ld", (long)(s - ports));
	if (__atomic_load_n(&s->fd, __ATOMIC_RELAXED) >= 0) {
		STAT(closes);
		slot_close(s);
	}
	end(w);
}

/* --- Sockets and their peers ---------------------------------------------- */

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void act_sock_new(struct worker *w)
{
	struct rng *r = &w->rng;
	int k = rn(r, 9), f[2], fd;

	begin(w, "sock-new", false, "new descriptor kind %d", k);
	switch (k) {
	case 0 ... 2:
		if (sock_pair(k == 0 ? SK_TCP4 : k == 1 ? SK_TCP6 : SK_UNIX, f))
			break;
		if (one_in(r, 2))
			set_nonblock(f[0]);
		set_nonblock(f[1]);
		if (one_in(r, 3))
			set_bufs(f[0], 4096, 4096);
		slot_add(fds, NFDS, r, K_TCP4 + k, f[0], 0);
		slot_add(fds, NFDS, r, K_TCP4 + k, f[1], 0);
		break;
	case 3 ... 5:
		fd = sock_listener(k == 3 ? SK_TCP4 : k == 4 ? SK_TCP6 : SK_UNIX);
		if (fd >= 0) {
			set_nonblock(fd);
			slot_add(fds, NFDS, r, K_LTCP4 + k - 3, fd, 0);
		}
		break;
	case 6:
		fd = socket(one_in(r, 2) ? AF_INET : AF_INET6,
			    SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0)
			slot_add(fds, NFDS, r, K_UDP, fd, 0);
		break;
	case 7:
		if (pipe2(f, O_CLOEXEC | O_NONBLOCK))
			break;
		slot_add(fds, NFDS, r, K_PIPE_R, f[0], 0);
		slot_add(fds, NFDS, r, K_PIPE_W, f[1], 0);
		break;
	default:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd >= 0)
			slot_add(fds, NFDS, r, K_EVENTFD, fd, 0);
		break;
	}
	end(w);
}

/* A client connected (in the background) to a listener of ours. */
static void act_connect(struct worker *w)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct slot *s;
	int l, kind, c, kk;

	if (!pick_fd_slot(w, kind_listener, &s, &l, &kind))
		return;
	begin(w, "connect", false, "connect to %s", kind_names[kind]);
	if (!getsockname(l, (struct sockaddr *)&ss, &len)) {
		c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
			   SOCK_NONBLOCK, 0);
		if (c >= 0) {
			if (connect(c, (struct sockaddr *)&ss, len) &&
			    errno != EINPROGRESS) {
				close(c);
			} else {
				kk = kind == K_LUNIX ? K_UNIX :
				     kind == K_LTCP4 ? K_TCP4 : K_TCP6;
				slot_add(fds, NFDS, &w->rng, kk, c, 0);
			}
		}
	}
	end(w);
	slot_put(s);
}

static bool any_kind(int k)
{
	return k != K_FREE;
}

/* Send a descriptor (a socket, a port) over unix socket @fd. */
static bool port_in_flight;

static void send_fds(struct worker *w, int fd)
{
	char c = 'x', cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	struct slot *s;
	unsigned int inst;
	int x, kind = K_PORT;

	if (one_in(&w->rng, 4)) {
		if (!pick_port(w, &s, &x, &inst))
			return;
	} else if (!pick_fd_slot(w, any_kind, &s, &x, &kind)) {
		return;
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &x, sizeof(int));
	if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 &&
	    kind == K_PORT)
		__atomic_store_n(&port_in_flight, true, __ATOMIC_RELAXED);
	slot_put(s);
}

static void act_peer(struct worker *w)
{
	struct rng *r = &w->rng;
	static char junk[8192];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct slot *s;
	uint64_t one = 1;
	int fd, kind, what = rn(r, 16);

	if (!pick_fd_slot(w, any_kind, &s, &fd, &kind))
		return;
	begin(w, "peer", false, "peer action %d on %s fd %d", what,
	      kind_names[kind], fd);
	switch (what) {
	case 0 ... 4:
		if (kind == K_PIPE_W)
			(void)!write(fd, junk, 1 + rn(r, 8192));
		else if (kind == K_EVENTFD)
			(void)!write(fd, &one, sizeof(one));
		else if (kind == K_UNIX && one_in(r, 4))
			send_fds(w, fd);
		else
			send(fd, junk, 1 + rn(r, one_in(r, 4) ? 8192 : 256),
			     MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	case 5 ... 7:
		if (kind == K_LTCP4 || kind == K_LTCP6 || kind == K_LUNIX) {
			int c = accept4(fd, NULL, NULL,
					SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c >= 0)
				slot_add(fds, NFDS, r, K_ACCEPTED, c, 0);
		} else {
			char buf[4096];

			/* No room for control data: passed fds are closed. */
			(void)!recv(fd, buf, rn(r, sizeof(buf)), MSG_DONTWAIT);
		}
		break;
	case 8 ... 9:
		shutdown(fd, rn(r, 3));
		break;
	case 10:
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		slot_close(s);		/* a reset, for TCP */
		break;
	case 11 ... 12:
		slot_close(s);
		break;
	case 13:
		set_bufs(fd, 1024 + rn(r, 8192), 1024 + rn(r, 8192));
		break;
	default:
		if (one_in(r, 2))
			set_nonblock(fd);
		else
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		break;
	}
	end(w);
	slot_put(s);
}

/* --- Memory under the operations' feet ---------------------------------- */

static void act_prot(struct worker *w)
{
	struct rng *r = &w->rng;
	char *p = vol + rn(r, VOL_PAGES) * PAGE;
	size_t len = (1 + rn(r, 2)) * PAGE;
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ,
				     PROT_NONE, PROT_READ | PROT_WRITE };

	if (p + len > vol + VOL_PAGES * PAGE)
		len = vol + VOL_PAGES * PAGE - p;
	begin(w, "prot", false, "vol page %ld", (long)(p - vol) / (long)PAGE);
	switch (rn(r, 6)) {
	case 0 ... 3:
		protect(p, len, prots[rn(r, 4)]);
		break;
	case 4:
		madvise(p, len, MADV_DONTNEED);
		break;
	default:
		if (mmap(p, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
			FAIL("mmap MAP_FIXED: %s", strerror(errno));
		break;
	}
	end(w);
}

/* --- Limits pulled down for a moment --------------------------------------- */

static long long units_orig = -1;	/* max_user_units, read at the start */
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * For a few milliseconds, the user's max_user_units just above what it
 * holds (-EDQUOT), or RLIMIT_NOFILE just above the descriptors open
 * (-EMFILE: submissions, accepted connections at dequeue); then back.
 */
static void act_limits(struct worker *w)
{
	struct rng *r = &w->rng;
	struct rlimit rl, low;
	long long units;

	if (pthread_mutex_trylock(&limits_lock))
		return;
	if (one_in(r, 2) && units_orig > 0) {
		begin(w, "limits", false, "max_user_units low");
		units = fdinfo_get(slot_peek(ports, NPORTS, r), "user_units");
		if (units >= 0 && !write_param(PARAM_UNITS, units + rn(r, 8))) {
			usleep(1000 + rn(r, 5000));
			if (write_param(PARAM_UNITS, units_orig))
				FAIL("cannot restore max_user_units");
		}
	} else if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		begin(w, "limits", false, "RLIMIT_NOFILE low");
		low = rl;
		low.rlim_cur = fd_count() + rn(r, 4);
		if (!setrlimit(RLIMIT_NOFILE, &low)) {
			usleep(1000 + rn(r, 5000));
			if (setrlimit(RLIMIT_NOFILE, &rl))
				FAIL("cannot restore RLIMIT_NOFILE");
		}
	}
	end(w);
	pthread_mutex_unlock(&limits_lock);
}

/* --- Processes and threads ------------------------------------------------- */

/*
 * In a child of fork(): every call on an inherited port fails with
 * -EPERM, an unknown command with -ENOTTY first.  Raw calls only (no
 * locks: another thread may have held them at fork()).  Returns an exit
 * status.
 */
static int child_foreign(void)
{
	struct cport_sqe sqe = { .opcode = CPORT_OP_POST };
	struct cport_enter e = {
		.sqes = (uintptr_t)&sqe, .nr_sqes = 1,
	};
	struct cport_setup s = {};
	struct cport_info info;
	struct stat st;
	int i, fd;

	for (i = 0; i < NPORTS; i++) {
		fd = ports[i].fd;
		if (fd < 0 || fstat(fd, &st) || !S_ISCHR(st.st_mode) ||
		    st.st_rdev != cport_rdev)
			continue;
		if (xioctl(fd, CPORT_IOC_QUERY, &info) != -EPERM)
			return 10;
		if (xioctl(fd, CPORT_IOC_SETUP, &s) != -EPERM)
			return 11;
		if (xioctl(fd, CPORT_IOC_ENTER, &e) != -EPERM)
			return 12;
		if (xioctl(fd, CPORT_IOC_LEAVE, NULL) != -EPERM)
			return 13;
		if (xioctl(fd, CPORT_IOC_DESTROY, NULL) != -EPERM)
			return 14;
		if (xioctl(fd, _IO(CPORT_IOC_MAGIC, 0x1f), NULL) != -ENOTTY)
			return 15;
		if (i & 1)
			close(fd);	/* the parent's port lives on */
	}
	return 0;
}

/*
 * In a child of fork(): a port of its own with a socket associated and
 * operations pending, then exit with all of it in place.
 */
static int child_own(unsigned int n)
{
	struct cport_sqe sqes[4];
	struct cport_enter e = {
		.sqes = (uintptr_t)sqes, .nr_sqes = 4,
	};
	char buf[64];
	int p, f[2];

	p = open(CPORT_DEV_PATH, O_RDWR);
	if (p < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, f))
		return errno == EMFILE ? 0 : 20;	/* act_limits() */
	memset(sqes, 0, sizeof(sqes));
	sqes[0].opcode = CPORT_OP_ASSOCIATE;
	sqes[0].fd = f[0];
	sqes[1].opcode = CPORT_OP_RECV;
	sqes[1].fd = f[0];
	sqes[1].addr = (uintptr_t)buf;
	sqes[1].len = sizeof(buf);
	sqes[1].op_flags = CPORT_RECV_FILL;
	sqes[2].opcode = CPORT_OP_SEND;
	sqes[2].fd = f[0];
	sqes[2].addr = (uintptr_t)buf;
	sqes[2].len = sizeof(buf);
	sqes[3].opcode = CPORT_OP_POST;
	sqes[3].timeout_ns = NSEC_PER_SEC;
	if (xioctl(p, CPORT_IOC_ENTER, &e) < 0 && e.submitted < 1)
		return 0;	/* e.g. -EINTR from ASSOCIATE */
	if (n & 1)
		(void)!write(f[1], buf, 1);
	if (n & 2)
		close(f[0]);
	return 0;
}

static void act_fork(struct worker *w)
{
	bool own = one_in(&w->rng, 3);
	unsigned int n = rnd(&w->rng);
	int status = 0;
	pid_t pid, ret;

	STAT(forks);
	begin(w, "fork", false, "fork (%s)", own ? "own port" : "foreign");
	pid = fork();
	if (pid == 0)
		_exit(own ? child_own(n) : child_foreign());
	if (pid < 0) {
		end(w);
		if (errno != EAGAIN && errno != ENOMEM)
			FAIL("fork: %s", strerror(errno));
		return;
	}
	do {
		ret = waitpid(pid, &status, 0);
	} while (ret < 0 && errno == EINTR);
	end(w);
	if (ret != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("child (%s) exited with %#x (10-15: a call on an inherited port did not fail with EPERM, ENOTTY)",
		     own ? "own port" : "foreign", status);
}

/* A thread that makes a call or two for the worker, then exits. */
static void *short_thread(void *arg)
{
	struct worker *w = arg;
	int i, n = 1 + rn(&w->rng, 2);

	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		if (one_in(&w->rng, 2))
			act_enter(w);
		else
			act_wait(w);
	}
	return NULL;
}

static void act_thread(struct worker *w)
{
	pid_t tid = w->tid;
	pthread_t t;

	STAT(threads);
	if (pthread_create(&t, NULL, short_thread, w))
		return;
	pthread_join(t, NULL);
	__atomic_store_n(&w->tid, tid, __ATOMIC_RELEASE);
}

/* --- The worker loop ------------------------------------------------------ */

struct action {
	void (*fn)(struct worker *w);
	const char *name;
	unsigned int weight;		/* per 1000 */
	unsigned int weight_debug;
};

static void act_exit(struct worker *w)
{
	/* Handled by the loop. */
}

static const struct action actions[] = {
	{ act_enter,	"enter",	430, 430 },
	{ act_wait,	"wait",		130, 130 },
	{ act_setup,	"setup",	20, 20 },
	{ act_query,	"query",	30, 30 },
	{ act_ioctl,	"ioctl",	30, 30 },
	{ act_destroy,	"destroy",	3, 3 },
	{ act_leave,	"leave",	20, 20 },
	{ act_file,	"file",		15, 15 },
	{ act_port_new,	"port-new",	5, 5 },
	{ act_port_close, "port-close",	3, 3 },
	{ act_sock_new,	"sock-new",	50, 50 },
	{ act_connect,	"connect",	30, 30 },
	{ act_peer,	"peer",		150, 150 },
	{ act_prot,	"prot",		10, 10 },
	{ act_limits,	"limits",	3, 3 },
	{ act_fork,	"fork",		4, 1 },
	{ act_thread,	"thread",	6, 4 },
	{ act_exit,	"exit",		1, 1 },
};

/* LEAVE every port this thread may be associated with. */
static void leave_all(void)
{
	unsigned int inst;
	int i, fd;

	for (i = 0; i < NPORTS; i++) {
		if (!slot_get(&ports[i], &fd, NULL, &inst))
			continue;
		xioctl(fd, CPORT_IOC_LEAVE, NULL);
		slot_put(&ports[i]);
	}
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct wslot *ws = &wslots[w->slot];
	unsigned int total = 0, i, x;

	__atomic_store_n(&w->tid, sys_gettid(), __ATOMIC_RELEASE);
	for (i = 0; i < ARRAY_SIZE(actions); i++)
		total += cfg.debug ? actions[i].weight_debug : actions[i].weight;
	while (!stopping && (!cfg.iters || ws->iters < cfg.iters)) {
		if (pausing) {
			/*
			 * A thread that took completions counts as running
			 * until it waits again; on a port that does not
			 * track blocking, even while it sleeps here, and the
			 * audit's waits would be held back: let go first.
			 */
			leave_all();
			__atomic_store_n(&w->paused, 1, __ATOMIC_RELEASE);
			while (pausing && !stopping)
				usleep(1000);
			__atomic_store_n(&w->paused, 0, __ATOMIC_RELEASE);
			continue;
		}
		x = rn(&w->rng, total);
		for (i = 0; i < ARRAY_SIZE(actions); i++) {
			unsigned int wt = cfg.debug ? actions[i].weight_debug :
						      actions[i].weight;

			if (x < wt)
				break;
			x -= wt;
		}
		ws->iters++;
		if (actions[i].fn == act_exit) {
			STAT(exits);
			break;
		}
		actions[i].fn(w);
	}
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static char *map_pages(size_t n, int prot)
{
	char *p = mmap(NULL, n * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct worker *worker_new(int slot)
{
	struct worker *w = calloc(1, sizeof(*w));
	char *priv;

	if (!w)
		return NULL;
	w->slot = slot;
	w->gen = wslots[slot].gens++;
	w->rng.s = cfg.seed ^ (0x9e3779b97f4a7c15ULL * (slot + 1)) ^
		   (0xc2b2ae3d27d4eb4fULL * w->gen);
	rnd(&w->rng);
	w->sqbuf = map_pages(1, PROT_READ | PROT_WRITE);
	w->cqes = (struct cport_cqe *)map_pages(1, PROT_READ | PROT_WRITE);
	w->qbuf = map_pages(2, PROT_READ | PROT_WRITE);
	priv = map_pages(3, PROT_READ | PROT_WRITE);
	if (!w->sqbuf || !w->cqes || !w->qbuf || !priv)
		return NULL;
	w->ro = priv;
	w->strad = priv + PAGE;
	protect(priv + 2 * PAGE, PAGE, PROT_NONE);
	if (pthread_create(&w->thread, NULL, worker_fn, w)) {
		free(w);
		return NULL;
	}
	return w;
}

static void worker_free(struct worker *w)
{
	munmap(w->sqbuf, PAGE);
	munmap(w->cqes, PAGE);
	munmap(w->qbuf, 2 * PAGE);
	munmap(w->ro, 3 * PAGE);
	free(w);
}

/* --- Supervisor, watchdog -------------------------------------------------- */

static void on_signal(int sig)
{
}

static void dump_file(const char *path)
{
	char buf[2048];
	ssize_t n;
	int f = open(path, O_RDONLY | O_CLOEXEC);

	if (f < 0)
		return;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		say("    %s", line);
}

static void dump_workers(const char *why)
{
	char path[96];
	int i;

	say("%s; seed %#llx; what each worker was doing:", why,
	    (unsigned long long)cfg.seed);
	for (i = 0; i < nworkers; i++) {
		struct worker *w = workers[i];
		long long since;

		if (!w)
			continue;
		since = __atomic_load_n(&w->since, __ATOMIC_ACQUIRE);
		say("  worker %d gen %llu tid %d: %s for %lld ms: %s", i,
		    w->gen, w->tid, since ? w->doing : "(between calls)",
		    since ? (now_ns() - since) / NSEC_PER_MSEC : 0LL, w->what);
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", w->tid);
		dump_file(path);
		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", w->tid);
		dump_file(path);
	}
}

/*
 * Every 50 ms: kick threads in waits without an end (a signal: -EINTR),
 * a random one now and then, replace workers that exited, and fail the
 * run if one call took longer than the bound.  Returns false on a hang.
 */
static bool supervise(struct rng *r)
{
	long long now = now_ns();
	int i;

	for (i = 0; i < nworkers; i++) {
		struct worker *w = workers[i];
		long long since;

		if (!w)
			continue;
		if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
			pthread_join(w->thread, NULL);
			worker_free(w);
			workers[i] = stopping ? NULL : worker_new(i);
			continue;
		}
		since = __atomic_load_n(&w->since, __ATOMIC_ACQUIRE);
		if (since && now - since > (long long)cfg.hang_s * NSEC_PER_SEC) {
			dump_workers("a call did not return");
			return false;
		}
		if ((since && now - since > 200 * NSEC_PER_MSEC &&
		     (__atomic_load_n(&w->endless, __ATOMIC_RELAXED) ||
		      stopping || pausing)) || one_in(r, 40)) {
			STAT(signals);
			/* By tid: a short-lived thread may be making its calls. */
			syscall(SYS_tgkill, getpid(),
				__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE),
				SIGUSR1);
		}
	}
	return true;
}

/* --- The end: drain, account ------------------------------------------------ */

static unsigned long long audits, audited;

/* Submissions still owed a completion by live port instance @inst. */
static unsigned long owed(unsigned int inst, long long due_by, bool report)
{
	unsigned long n = 0;
	int i;
	unsigned int j;

	for (i = 0; i < MAX_WORKERS; i++) {
		struct track *reg = wslots[i].reg;

		if (!reg)
			continue;
		for (j = 0; j < TRACK_N; j++) {
			struct track *t = &reg[j];
			uint8_t st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

			if (st != T_PENDING || t->inst != inst)
				continue;
			if (t->op == CPORT_OP_POST && (long long)t->aux > due_by)
				continue;	/* a delayed POST not yet due */
			if (report && n < 10)
				say("  lost: user_data %#llx %s on port %u",
				    (unsigned long long)t->ud, op_name(t->op),
				    inst);
			n++;
		}
	}
	return n;
}

/* Submissions to @inst of which it is unknown whether they were taken. */
static unsigned long maybes(unsigned int inst)
{
	unsigned long n = 0;
	unsigned int j;
	int i;

	for (i = 0; i < MAX_WORKERS; i++)
		for (j = 0; wslots[i].reg && j < TRACK_N; j++)
			n += wslots[i].reg[j].state == T_MAYBE &&
			     wslots[i].reg[j].inst == inst;
	return n;
}

/*
 * Every port still alive: cancel all its operations, then take its
 * completions until none is owed; what never comes was lost.
 */
static void drain(struct worker *w, bool final)
{
	struct cport_sqe sqe;
	struct cport_enter e = {};
	long long end_ns, start = now_ns();
	unsigned int inst;
	struct slot *ps;
	char why[160];
	unsigned long n0;
	int i, port, ret;

	for (i = 0; i < NPORTS; i++) {
		ps = &ports[i];
		if (!slot_get(ps, &port, NULL, &inst))
			continue;
		if (inst_has(inst, INST_DEAD)) {
			slot_put(ps);
			continue;
		}
		n0 = owed(inst, start + NSEC_PER_SEC, false);
		cport_prep_cancel(&sqe, CPORT_CANCEL_ALL, 0);
		ret = cport_submit(port, &sqe, 1);
		if (ret != 1)
			FAIL("drain: CANCEL_ALL on port %u: %s", inst,
			     ename(-ret));
		end_ns = now_ns() + (long long)cfg.hang_s * NSEC_PER_SEC;
		while (owed(inst, start + NSEC_PER_SEC, false) &&
		       now_ns() < end_ns) {
			e.cqes = (uintptr_t)w->cqes;
			e.max_cqes = 64;
			e.timeout_ns = 50 * NSEC_PER_MSEC;
			ret = xioctl(port, CPORT_IOC_ENTER, &e);
			if (ret > 64) {
				FAIL("drain: %d completions", ret);
				break;
			}
			for (int j = 0; j < ret; j++)
				on_cqe(w, inst, &w->cqes[j]);
			if (ret < 0 && ret != -ETIMEDOUT && ret != -EINTR)
				FAIL("drain: wait on port %u: %s", inst,
				     ename(-ret));
		}
		if (owed(inst, start + NSEC_PER_SEC, false)) {
			char text[FDINFO_SIZE] = "";

			fdinfo_read(port, text, sizeof(text));
			FAIL("port %u lost %lu completions (queued %lld, running %lld of %lld, threads %lld, block_tracking %lld, pending %lld)",
			     inst, owed(inst, start + NSEC_PER_SEC, true),
			     fdinfo_find_num(text, "queued"),
			     fdinfo_find_num(text, "running"),
			     fdinfo_find_num(text, "concurrency"),
			     fdinfo_find_num(text, "threads"),
			     fdinfo_find_num(text, "block_tracking"),
			     fdinfo_find_num(text, "pending"));
		} else if (!owed(inst, LLONG_MAX, false) && !maybes(inst) &&
			   !port_empty(port, false, why, sizeof(why))) {
			/* Everything cancelled and dequeued: nothing held. */
			FAIL("port %u drained, still holds: %s", inst, why);
		} else if (final) {
			say("port %u drained: the %lu completions it owed came",
			    inst, n0);
		}
		audited += n0;
		/* Not running on it while the workers go on. */
		xioctl(port, CPORT_IOC_LEAVE, NULL);
		slot_put(ps);
	}
}

/*
 * Now and then: stop the workers between calls, cancel and drain every
 * live port, every completion owed must come and the port must hold
 * nothing; then let them go on.  Returns false on a hang.
 */
static bool audit(struct rng *r, struct worker *drainer)
{
	bool all;
	int i;

	pausing = 1;
	for (;;) {
		all = true;
		for (i = 0; i < nworkers; i++)
			if (workers[i] &&
			    !__atomic_load_n(&workers[i]->paused, __ATOMIC_ACQUIRE) &&
			    !__atomic_load_n(&workers[i]->done, __ATOMIC_ACQUIRE))
				all = false;
		if (all || stopping)
			break;
		usleep(10000);
		if (!supervise(r))
			return false;
	}
	if (!stopping) {
		audits++;
		drain(drainer, false);
	}
	pausing = 0;
	return true;
}

static void close_all(void)
{
	int i;

	for (i = 0; i < NPORTS; i++) {
		int fd;

		if (slot_get(&ports[i], &fd, NULL, NULL)) {
			xioctl(fd, CPORT_IOC_DESTROY, NULL);
			slot_put(&ports[i]);
		}
		slot_close(&ports[i]);
	}
	for (i = 0; i < NFDS; i++)
		slot_close(&fds[i]);
}

static int fuzz_init(void)
{
	struct stat st;
	char *a;
	int i;

	placeholder = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (placeholder < 0 || stat(CPORT_DEV_PATH, &st))
		return -1;
	/* What SENDFILEs send: a file of patterned bytes. */
	fuzz_file = memfd_create("fuzz-sendfile", MFD_CLOEXEC);
	if (fuzz_file < 0 || ftruncate(fuzz_file, FUZZ_FILE_LEN))
		return -1;
	for (i = 0; i < FUZZ_FILE_LEN; i += PAGE)
		if (pwrite(fuzz_file, "cport", 5, i) != 5)
			return -1;
	cport_rdev = st.st_rdev;
	a = map_pages(ARENA_PAGES + VOL_PAGES + GUARD_PAGES,
		      PROT_READ | PROT_WRITE);
	ro_shared = map_pages(1, PROT_READ);
	inst_flags = (unsigned char *)map_pages(MAX_INST / PAGE,
						PROT_READ | PROT_WRITE);
	if (!a || !ro_shared || !inst_flags)
		return -1;
	arena = a;
	vol = a + ARENA_PAGES * PAGE;
	guard = vol + VOL_PAGES * PAGE;
	protect(guard, GUARD_PAGES * PAGE, PROT_NONE);
	for (i = 0; i < MAX_WORKERS; i++) {
		wslots[i].reg = (struct track *)mmap(NULL,
				TRACK_N * sizeof(struct track),
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
		if (wslots[i].reg == MAP_FAILED)
			return -1;
	}
	for (i = 0; i < NPORTS; i++) {
		pthread_mutex_init(&ports[i].lock, NULL);
		ports[i].fd = -1;
	}
	for (i = 0; i < NFDS; i++) {
		pthread_mutex_init(&fds[i].lock, NULL);
		fds[i].fd = -1;
	}
	return 0;
}

/* The fuzzing process: returns its exit status. */
static int fuzz_main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long long iters = 0, calls = 0;
	struct rng r = { cfg.seed };
	long long t0, deadline, t_end, units0, units;
	struct worker *drainer;
	long long audit_ns = (cfg.debug ? 20LL : 3LL) * NSEC_PER_SEC;
	long long next_audit;
	int fds0, fds1, i;
	bool hung = false;

	fds0 = fd_count();
	units0 = user_units_now();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);		/* no SA_RESTART: -EINTR */
	signal(SIGPIPE, SIG_IGN);		/* writes to closed pipes */
	if (fuzz_init()) {
		say("cannot set up: %s", strerror(errno));
		return 2;
	}
	units_orig = read_param(PARAM_UNITS);
	for (i = 0; i < 3; i++)
		new_port(&r, i > 0);

	/* The main thread drains with a worker's buffers (and tracking). */
	drainer = calloc(1, sizeof(*drainer));
	drainer->cqes = (struct cport_cqe *)map_pages(1, PROT_READ | PROT_WRITE);
	drainer->rng = r;

	t0 = now_ns();
	deadline = t0 + (long long)cfg.seconds * NSEC_PER_SEC;
	next_audit = t0 + audit_ns;
	nworkers = cfg.workers;
	for (i = 0; i < nworkers; i++) {
		workers[i] = worker_new(i);
		if (!workers[i]) {
			say("cannot start worker %d", i);
			return 2;
		}
	}
	while (!stopping && now_ns() < deadline) {
		bool all_done = true;

		usleep(50000);
		if (!supervise(&r)) {
			hung = true;
			break;
		}
		for (i = 0; i < nworkers; i++)
			if (cfg.iters && wslots[i].iters < cfg.iters)
				all_done = false;
		if (cfg.iters && all_done)
			break;
		if (now_ns() >= next_audit) {
			if (!audit(&r, drainer)) {
				hung = true;
				break;
			}
			next_audit = now_ns() + audit_ns;
		}
	}
	stopping = 1;
	/* Join them all, still watching for a call that never returns. */
	while (!hung) {
		bool left = false;

		for (i = 0; i < nworkers; i++)
			left |= workers[i] != NULL;
		if (!left)
			break;
		usleep(20000);
		if (!supervise(&r))
			hung = true;
	}
	if (hung) {
		say("FAIL: hang; seed %#llx", (unsigned long long)cfg.seed);
		_exit(3);
	}
	t_end = now_ns();

	/* The main thread drains with a worker's buffers (and tracking). */
	drain(drainer, true);
	close_all();
	close(placeholder);
	close(fuzz_file);

	for (i = 0; i < nworkers; i++) {
		say("worker %d: %llu iterations, %llu calls, %llu threads",
		    i, wslots[i].iters, wslots[i].calls, wslots[i].gens);
		iters += wslots[i].iters;
		calls += wslots[i].calls;
	}
	say("total: %llu iterations, %llu calls in %.1f s: %.0f iterations/s",
	    iters, calls, (t_end - t0) / 1e9,
	    iters / ((t_end - t0) / 1e9));
	say("audits %llu: %llu completions owed by live ports all came",
	    audits, audited);
	say("completions %llu; taken: posts %llu, socket ops pending %llu, inline %llu; associations %llu, accepted %llu, ports %llu, destroyed %llu, closed %llu, forks %llu, threads %llu, exits %llu, signals %llu; multishot arrivals %llu, RECVs whose arrivals' numbering was checked %llu",
	    stats.cqes, stats.posts, stats.pending, stats.inlines,
	    stats.assocs, stats.accepts, stats.ports,
	    stats.destroys, stats.closes, stats.forks, stats.threads,
	    stats.exits, stats.signals, stats.arrivals, stats.numbered);

	fds1 = fd_count();
	if (fds1 != fds0)
		FAIL("%d descriptors at the start, %d at the end", fds0, fds1);
	/*
	 * A port whose descriptor sits in flight in a unix socket that its
	 * own operations pin is freed only when this process exits (the
	 * header says so): then the parent checks.
	 */
	if (!port_in_flight) {
		wait_until((units = user_units_now()) == units0, PROGRESS_MS);
		if (units != units0)
			FAIL("user_units %lld at the start, %lld at the end",
			     units0, units);
	}
	if (failures)
		say("%d failures; seed %#llx", failures,
		    (unsigned long long)cfg.seed);
	return failures ? 1 : 0;
}

FIXTURE(fuzz) {};
FIXTURE_SETUP(fuzz) {}
FIXTURE_TEARDOWN(fuzz) {}

TEST_F_TIMEOUT(fuzz, run, fuzz_harness_timeout())
{
	long long units0, units, max_units;
	int status = 0;
	pid_t pid;

	cfg_init();
	/*
	 * From zero: what the binary before this one held may still be
	 * coming back (fork_test ends with a port in flight in a unix
	 * socket), and a start counted high would never be reached again.
	 */
	if (!wait_until(user_units_now() == 0, PROGRESS_MS))
		TH_LOG("user_units %lld before fuzzing", user_units_now());
	units0 = user_units_now();
	ASSERT_LE(0, units0) {
		TH_LOG("cannot read user_units of a port");
	}
	TH_LOG("seed %#llx (CPORT_FUZZ_SEED), %u s, %d workers, kernel %s%s",
	       cfg.seed, cfg.seconds, cfg.workers,
	       cfg.kernel ? cfg.kernel : "?", cfg.debug ? " (debug)" : "");
	if (cfg.iters)
		TH_LOG("at most %llu iterations per worker", cfg.iters);

	max_units = read_param(PARAM_UNITS);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fuzz_main());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* It pulls max_user_units down now and then: put it back. */
	if (max_units > 0 && read_param(PARAM_UNITS) != max_units) {
		write_param(PARAM_UNITS, max_units);
		EXPECT_EQ(max_units, read_param(PARAM_UNITS)) {
			TH_LOG("max_user_units not restored");
		}
	}
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
		TH_LOG("fuzzing process: status %#x; seed %#llx", status,
		       cfg.seed);
	}
	/* Its ports are gone with it, whatever it left in flight. */
	wait_until((units = user_units_now()) == units0, PROGRESS_MS);
	EXPECT_EQ(units0, units) {
		TH_LOG("user_units after the fuzzing process exited");
	}
}

TEST_HARNESS_MAIN
