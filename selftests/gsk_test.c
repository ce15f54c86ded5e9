// SPDX-License-Identifier: GPL-2.0
/*
 * IBM i's GSKit calls (libcport/gskssl.h): TLS sessions whose handshake
 * runs through a port (gsk_secure_soc_startInit: the completion arrives
 * once the handshake is over) and whose data then moves on kernel TLS
 * (gsk_secure_soc_startRecv/startSend: one cport recv or send).
 *
 * - Both ends ours on one port, TLS 1.2 and 1.3: both handshakes complete
 *   GSK_OK, both sockets then have the kernel's "tls" ULP with TLS_TX and
 *   TLS_RX of the negotiated version, and 256 KB go each way, checked.
 * - Against the openssl command: our server with `openssl s_client`, our
 *   client with `openssl s_server` (whose TLS 1.3 session tickets reach
 *   the kTLS receive side as non-data records), 64 KB each way, checked.
 * - A client whose keyring does not hold the server's signer (ours, and
 *   `openssl s_server`): its handshake completes with
 *   GSK_OS400_ERROR_NOT_TRUSTED_ROOT.
 * - Records that are not data (a session ticket, a KeyUpdate, a
 *   close_notify alert) on the kTLS receive side, as the peer's kernel
 *   sends them.
 * - The synchronous calls: gsk_secure_soc_init, _read and _write against
 *   an asynchronous peer.
 * - Bad input, one argument at a time, in the documented order; a time
 *   limit on a handshake and on a recv; QsoCancelOperation() of both;
 *   gsk_secure_soc_close() with a recv pending; the port destroyed with a
 *   handshake pending.
 *
 * Certificates (EC P-256) are made at test time with the openssl command
 * under /tmp.  scripts/check.sh brings /usr/bin/openssl into the guest and
 * loads the kernel's TLS; with CPORT_KTLS=required a missing piece fails
 * the tests instead of skipping them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/tls.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "gskssl.h"
#include "sock_util.h"
#include "kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS		282
#endif

#define OPENSSL		"/usr/bin/openssl"
#define CERTS		"/tmp/gsk-certs"
#define SERVER_RING	CERTS "/server-ring.pem"
#define CLIENT_RING	CERTS "/client-ring.pem"
#define OTHER_RING	CERTS "/other-ring.pem"
#define WAIT_MS		120000	/* a handshake under TCG, KASAN */

static bool required(void)
{
	const char *e = getenv("CPORT_KTLS");

	return e && !strcmp(e, "required");
}

/* Run @cmd with sh; its exit status, or -1. */
static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The certificates, once per boot: a CA, a server certificate it signs,
 * another CA; the server's keyring (certificate, key, CA), a client's
 * (the CA), and a client's that trusts only the other CA.
 */
static int make_certs(void)
{
	static const char *cmd =
		"set -e; cd " CERTS "; "
		"O=" OPENSSL "; "
		"EC='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "
		"$O req -x509 $EC -keyout ca.key -out ca.pem -days 3 "
		"  -subj /CN=cport-test-ca 2>/dev/null; "
		"$O req -x509 $EC -keyout srv.key -out srv.pem -days 3 "
		"  -subj /CN=localhost -CA ca.pem -CAkey ca.key 2>/dev/null; "
		"$O req -x509 $EC -keyout other.key -out other.pem -days 3 "
		"  -subj /CN=cport-other-ca 2>/dev/null; "
		"cat srv.pem srv.key ca.pem > server-ring.pem; "
		"cp ca.pem client-ring.pem; cp other.pem other-ring.pem; "
		"touch done";

	if (!access(CERTS "/done", F_OK))
		return 0;
	if (access(OPENSSL, X_OK))
		return -ENOENT;
	mkdir(CERTS, 0700);
	return sh(cmd) ? -EIO : 0;
}

/* Does this kernel have the "tls" ULP?  0, or -errno. */
static int have_ktls(void)
{
	int fds[2], ret = 0;

	if (sock_pair(SK_TCP4, fds))
		return -EIO;
	if (setsockopt(fds[0], IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")))
		ret = -errno;
	close(fds[0]);
	close(fds[1]);
	return ret;
}

/* Skip (or, when required, fail) without the openssl command or kTLS. */
#define NEED_TLS() do {							\
	int _c = make_certs(), _k = have_ktls();			\
	if (_c || _k) {							\
		if (required())						\
			ASSERT_TRUE(!"openssl and kernel TLS are required"); \
		SKIP(return, "no %s", _c ? OPENSSL : "kernel TLS");	\
	}								\
} while (0)

/*
 * No state of its own: the fixture is for TEST_F_TIMEOUT(), as a
 * handshake under TCG with KASAN takes seconds (check.sh's per-binary
 * bound still applies).
 */
#define TEST_S		600
FIXTURE(gsk) {};
FIXTURE_SETUP(gsk) {}
FIXTURE_TEARDOWN(gsk) {}

static Qso_OverlappedIO_t area(void *handle, void *buf, size_t len)
{
	Qso_OverlappedIO_t a;

	memset(&a, 0, sizeof(a));
	a.descriptorHandle = handle;
	a.buffer = buf;
	a.bufferLength = len;
	return a;
}

static int qwait(int port, Qso_OverlappedIO_t *a, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return QsoWaitForIOCompletion(port, a, &tv);
}

/*
 * An initialised environment: session type, TLS 1.2 and/or 1.3, a
 * keyring (NULL: none).  NULL if any call failed.
 */
static gsk_handle env_make(int type, bool tls12, bool tls13,
			   const char *ring)
{
	gsk_handle env = NULL;

	if (gsk_environment_open(&env) != GSK_OK)
		return NULL;
	if ((ring && gsk_attribute_set_buffer(env, GSK_KEYRING_FILE, ring,
					      0) != GSK_OK) ||
	    gsk_attribute_set_enum(env, GSK_SESSION_TYPE, type) != GSK_OK ||
	    gsk_attribute_set_enum(env, GSK_PROTOCOL_TLSV12,
				   tls12 ? GSK_TRUE : GSK_FALSE) != GSK_OK ||
	    gsk_attribute_set_enum(env, GSK_PROTOCOL_TLSV13,
				   tls13 ? GSK_TRUE : GSK_FALSE) != GSK_OK ||
	    gsk_environment_init(env) != GSK_OK) {
		gsk_environment_close(&env);
		return NULL;
	}
	return env;
}

static gsk_handle soc_make(gsk_handle env, int fd)
{
	gsk_handle soc = NULL;

	if (gsk_secure_soc_open(env, &soc) != GSK_OK)
		return NULL;
	if (gsk_attribute_set_numeric_value(soc, GSK_FD, fd) != GSK_OK) {
		gsk_secure_soc_close(&soc);
		return NULL;
	}
	return soc;
}

/* The TLS version kTLS has on @fd for @dir (TLS_TX, TLS_RX), or 0. */
static int ktls_version(int fd, int dir)
{
	struct tls12_crypto_info_aes_gcm_256 ci;
	socklen_t len = sizeof(ci);
	char ulp[16] = "";
	socklen_t ulen = sizeof(ulp);

	if (getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ulen) ||
	    strcmp(ulp, "tls"))
		return 0;
	memset(&ci, 0, sizeof(ci));
	if (getsockopt(fd, SOL_TLS, dir, &ci, &len))
		return 0;
	return ci.info.version;
}

/*
 * Move @len bytes of pattern @seed through the sessions: startSend of the
 * whole on @tx, startRecvs on @rx until all arrived, every completion
 * from @port.  Returns the offset of the first wrong byte, -1 if all are
 * right, or -2 - the GSK code of a failure.
 */
static long transfer(int port, gsk_handle tx, gsk_handle rx, size_t len,
		     unsigned int seed)
{
	unsigned char *out = malloc(len), *in = malloc(len);
	size_t got = 0, chunk = 16384;
	bool sent = false, recving = false;
	Qso_OverlappedIO_t a, done;
	long bad = -1;
	int rc;

	pattern_fill(out, len, seed, 0);
	a = area(tx, out, len);
	rc = gsk_secure_soc_startSend(tx, port, &a);
	if (rc == GSK_OK) {
		if (a.secureDataTransferSize != (int)len)
			bad = -2 - GSK_INTERNAL_ERROR;
		sent = true;
	} else if (rc != GSK_OS400_ASYNCHRONOUS_SEND) {
		bad = -2 - rc;
	}
	while (bad == -1 && (!sent || got < len)) {
		if (!recving && got < len) {
			a = area(rx, in + got, len - got < chunk ? len - got
								  : chunk);
			rc = gsk_secure_soc_startRecv(rx, port, &a);
			if (rc == GSK_OK) {
				got += a.secureDataTransferSize;
				continue;
			}
			if (rc != GSK_OS400_ASYNCHRONOUS_RECV) {
				bad = -2 - rc;
				break;
			}
			recving = true;
		}
		if (qwait(port, &done, WAIT_MS) != 1) {
			bad = -2 - GSK_OS400_ERROR_TIMED_OUT;
			break;
		}
		if (done.returnValue != GSK_OK) {
			bad = -2 - done.returnValue;
			break;
		}
		if (done.operationCompleted == GSKSECURESOCSTARTSEND) {
			if (done.secureDataTransferSize != (int)len ||
			    done.descriptorHandle != tx)
				bad = -2 - GSK_INTERNAL_ERROR;
			sent = true;
		} else if (done.operationCompleted == GSKSECURESOCSTARTRECV &&
			   done.descriptorHandle == rx) {
			got += done.secureDataTransferSize;
			recving = false;
		} else {
			bad = -2 - GSK_INTERNAL_ERROR;
		}
	}
	if (bad == -1)
		bad = pattern_check(in, len, seed, 0);
	free(out);
	free(in);
	return bad;
}

/* Both ends ours: server and client sessions on a TCP pair, one port. */
struct pair {
	int port, fds[2];		/* [0] server end, [1] client end */
	gsk_handle env[2], soc[2];
};

static int pair_open(struct pair *p, bool tls12, bool tls13,
		     const char *client_ring)
{
	memset(p, 0, sizeof(*p));
	p->port = QsoCreateIOCompletionPort();
	if (p->port < 0 || sock_pair(SK_TCP4, p->fds))
		return -1;
	p->env[0] = env_make(GSK_SERVER_SESSION, tls12, tls13, SERVER_RING);
	p->env[1] = env_make(GSK_CLIENT_SESSION, tls12, tls13, client_ring);
	if (!p->env[0] || !p->env[1])
		return -1;
	p->soc[0] = soc_make(p->env[0], p->fds[0]);
	p->soc[1] = soc_make(p->env[1], p->fds[1]);
	return p->soc[0] && p->soc[1] ? 0 : -1;
}

static void pair_close(struct pair *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (p->soc[i])
			gsk_secure_soc_close(&p->soc[i]);
		if (p->env[i])
			gsk_environment_close(&p->env[i]);
		if (p->fds[i] > 0)
			close(p->fds[i]);
	}
	if (p->port >= 0)
		QsoDestroyIOCompletionPort(p->port);
}

/*
 * Start both handshakes and wait for both completions: rc[i] is side
 * i's returnValue.  Returns 0, or -1 if a start or a wait failed.
 */
static int pair_handshake(struct pair *p, int rc[2])
{
	Qso_OverlappedIO_t a, done;
	int i, n;

	for (i = 0; i < 2; i++) {
		a = area(p->soc[i], NULL, 0);
		if (gsk_secure_soc_startInit(p->soc[i], p->port, &a) !=
		    GSK_OS400_ASYNCHRONOUS_SOC_INIT)
			return -1;
	}
	for (n = 0; n < 2; n++) {
		if (qwait(p->port, &done, WAIT_MS) != 1 ||
		    done.operationCompleted != GSKSECURESOCSTARTINIT ||
		    done.buffer || done.bufferLength)
			return -1;
		i = done.descriptorHandle == p->soc[0] ? 0 : 1;
		rc[i] = done.returnValue;
	}
	return 0;
}

static void loopback(struct __test_metadata *_metadata, bool tls13)
{
	int rc[2] = { -1, -1 }, v = tls13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	struct pair p;
	int i;

	ASSERT_EQ(0, pair_open(&p, !tls13, tls13, CLIENT_RING));
	ASSERT_EQ(0, pair_handshake(&p, rc));
	EXPECT_EQ(GSK_OK, rc[0]) TH_LOG("server: %s", gsk_strerror(rc[0]));
	EXPECT_EQ(GSK_OK, rc[1]) TH_LOG("client: %s", gsk_strerror(rc[1]));
	/* The data path is the kernel's TLS, both directions, both ends. */
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(v, ktls_version(p.fds[i], TLS_TX));
		EXPECT_EQ(v, ktls_version(p.fds[i], TLS_RX));
	}
	EXPECT_EQ(-1, transfer(p.port, p.soc[1], p.soc[0], 256 << 10, 1));
	EXPECT_EQ(-1, transfer(p.port, p.soc[0], p.soc[1], 256 << 10, 2));
	pair_close(&p);
}

TEST_F_TIMEOUT(gsk, loopback_tls12, TEST_S)
{
	NEED_TLS();
	loopback(_metadata, false);
}

TEST_F_TIMEOUT(gsk, loopback_tls13, TEST_S)
{
	NEED_TLS();
	loopback(_metadata, true);
}

TEST_F_TIMEOUT(gsk, verify_fails, TEST_S)
{
	int rc[2] = { -1, -1 };
	struct pair p;

	NEED_TLS();
	ASSERT_EQ(0, pair_open(&p, true, true, OTHER_RING));
	ASSERT_EQ(0, pair_handshake(&p, rc));
	EXPECT_EQ(GSK_OS400_ERROR_NOT_TRUSTED_ROOT, rc[1]) TH_LOG("client: %d %s", rc[1], gsk_strerror(rc[1]));
	EXPECT_NE(GSK_OK, rc[0]);		/* the client's alert */
	/* A failed session takes no data calls. */
	do {
		char b[8];
		Qso_OverlappedIO_t a = area(p.soc[1], b, sizeof(b));

		EXPECT_EQ(GSK_INVALID_STATE,
			  gsk_secure_soc_startRecv(p.soc[1], p.port, &a));
	} while (0);
	pair_close(&p);
}

/* --- Against the openssl command ---------------------------------------- */

struct child {
	pid_t pid;
	int in, out;		/* its stdin (ours to write), its stdout */
};

static int spawn(struct child *c, char *const argv[])
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (!c->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(OPENSSL, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
	return 0;
}

static void reap(struct child *c)
{
	close(c->in);
	close(c->out);
	kill(c->pid, SIGTERM);
	waitpid(c->pid, NULL, 0);
}

struct pipe_io {
	int fd;
	unsigned char *buf;
	size_t len;
	ssize_t done;
};

static void *pipe_writer(void *arg)
{
	struct pipe_io *io = arg;

	io->done = 0;
	while ((size_t)io->done < io->len) {
		ssize_t n = write(io->fd, io->buf + io->done,
				  io->len - io->done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		io->done += n;
	}
	return NULL;
}

static void *pipe_reader(void *arg)
{
	struct pipe_io *io = arg;

	io->done = 0;
	while ((size_t)io->done < io->len) {
		ssize_t n;

		if (!fd_ready(io->fd, POLLIN, WAIT_MS))
			break;
		n = read(io->fd, io->buf + io->done, io->len - io->done);
		if (n <= 0)
			break;
		io->done += n;
	}
	return NULL;
}

#define CLI_LEN		(64 << 10)

/*
 * The data of a session with the openssl command: CLI_LEN bytes from its
 * stdin to our startRecvs, CLI_LEN from our startSend to its stdout.
 */
static void cli_exchange(struct __test_metadata *_metadata, int port,
			 gsk_handle soc, struct child *c)
{
	unsigned char *to = malloc(CLI_LEN), *from = malloc(CLI_LEN);
	unsigned char *ours = malloc(CLI_LEN), *back = malloc(CLI_LEN);
	struct pipe_io w = { c->in, to, CLI_LEN }, r = { c->out, back, CLI_LEN };
	Qso_OverlappedIO_t a, done;
	pthread_t wt, rt;
	size_t got = 0;
	int rc;

	signal(SIGPIPE, SIG_IGN);	/* the command may be gone */
	pattern_fill(to, CLI_LEN, 7, 0);
	pattern_fill(ours, CLI_LEN, 8, 0);
	ASSERT_EQ(0, pthread_create(&wt, NULL, pipe_writer, &w));
	ASSERT_EQ(0, pthread_create(&rt, NULL, pipe_reader, &r));
	while (got < CLI_LEN) {
		a = area(soc, from + got, CLI_LEN - got);
		rc = gsk_secure_soc_startRecv(soc, port, &a);
		if (rc == GSK_OS400_ASYNCHRONOUS_RECV) {
			ASSERT_EQ(1, qwait(port, &done, WAIT_MS));
			ASSERT_EQ(GSKSECURESOCSTARTRECV, done.operationCompleted);
			a = done;
		} else {
			ASSERT_EQ(GSK_OK, rc);
		}
		ASSERT_EQ(GSK_OK, a.returnValue) TH_LOG("recv: %s", gsk_strerror(a.returnValue));
		ASSERT_LT(0, a.secureDataTransferSize);
		got += a.secureDataTransferSize;
	}
	EXPECT_EQ(-1, pattern_check(from, CLI_LEN, 7, 0));
	a = area(soc, ours, CLI_LEN);
	rc = gsk_secure_soc_startSend(soc, port, &a);
	if (rc == GSK_OS400_ASYNCHRONOUS_SEND) {
		ASSERT_EQ(1, qwait(port, &done, WAIT_MS));
		a = done;
	} else {
		ASSERT_EQ(GSK_OK, rc);
	}
	EXPECT_EQ(GSK_OK, a.returnValue);
	EXPECT_EQ(CLI_LEN, a.secureDataTransferSize);
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	EXPECT_EQ(CLI_LEN, w.done);
	ASSERT_EQ(CLI_LEN, r.done);
	EXPECT_EQ(0, memcmp(ours, back, CLI_LEN));
	free(to);
	free(from);
	free(ours);
	free(back);
}

/* Our server, `openssl s_client` verifying it against the CA. */
static void server_vs_s_client(struct __test_metadata *_metadata, bool tls13)
{
	int l, fd, port, v = tls13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	Qso_OverlappedIO_t a, done;
	gsk_handle env, soc;
	char addr[32];
	struct child c;
	char *argv[] = { "openssl", "s_client", "-connect", addr,
			 tls13 ? "-tls1_3" : "-tls1_2", "-CAfile",
			 CERTS "/ca.pem", "-verify_return_error", "-quiet",
			 NULL };

	l = sock_listener(SK_TCP4);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&sin, &len));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
	ASSERT_EQ(0, spawn(&c, argv));
	fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, fd);
	port = QsoCreateIOCompletionPort();
	ASSERT_LE(0, port);
	env = env_make(GSK_SERVER_SESSION, !tls13, tls13, SERVER_RING);
	ASSERT_TRUE(env != NULL);
	soc = soc_make(env, fd);
	ASSERT_TRUE(soc != NULL);
	a = area(soc, NULL, 0);
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_SOC_INIT,
		  gsk_secure_soc_startInit(soc, port, &a));
	ASSERT_EQ(1, qwait(port, &done, WAIT_MS));
	ASSERT_EQ(GSK_OK, done.returnValue) TH_LOG("%s", gsk_strerror(done.returnValue));
	EXPECT_EQ(v, ktls_version(fd, TLS_TX));
	EXPECT_EQ(v, ktls_version(fd, TLS_RX));
	cli_exchange(_metadata, port, soc, &c);
	EXPECT_EQ(GSK_OK, gsk_secure_soc_close(&soc));
	close(fd);
	reap(&c);
	gsk_environment_close(&env);
	QsoDestroyIOCompletionPort(port);
	close(l);
}

TEST_F_TIMEOUT(gsk, server_vs_s_client_tls12, TEST_S)
{
	NEED_TLS();
	server_vs_s_client(_metadata, false);
}

TEST_F_TIMEOUT(gsk, server_vs_s_client_tls13, TEST_S)
{
	NEED_TLS();
	server_vs_s_client(_metadata, true);
}

/*
 * `openssl s_server` for one connection (TLS 1.3 or 1.2 only), and a
 * socket connected to it; the socket, or -1.
 */
static int s_server(struct child *c, bool tls13)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char num[16];
	char *argv[] = { "openssl", "s_server", "-accept", num, "-naccept",
			 "1", "-cert", CERTS "/srv.pem", "-key",
			 CERTS "/srv.key", tls13 ? "-tls1_3" : "-tls1_2",
			 "-quiet", NULL };
	int l, fd = -1, i;

	/* A free port number for s_server. */
	l = sock_listener(SK_TCP4);
	if (l < 0 || getsockname(l, (struct sockaddr *)&sin, &len))
		return -1;
	close(l);
	snprintf(num, sizeof(num), "%d", ntohs(sin.sin_port));
	if (spawn(c, argv))
		return -1;
	for (i = 0; i < WAIT_MS / 50 && fd < 0; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
			close(fd);
			fd = -1;
			usleep(50000);
		}
	}
	return fd;
}

/* Our client against `openssl s_server`, which sends session tickets. */
static void client_vs_s_server(struct __test_metadata *_metadata, bool tls13)
{
	int fd, port, v = tls13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	Qso_OverlappedIO_t a, done;
	gsk_handle env, soc;
	struct child c;

	fd = s_server(&c, tls13);
	ASSERT_LE(0, fd);
	port = QsoCreateIOCompletionPort();
	ASSERT_LE(0, port);
	env = env_make(GSK_CLIENT_SESSION, !tls13, tls13, CLIENT_RING);
	ASSERT_TRUE(env != NULL);
	soc = soc_make(env, fd);
	ASSERT_TRUE(soc != NULL);
	a = area(soc, NULL, 0);
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_SOC_INIT,
		  gsk_secure_soc_startInit(soc, port, &a));
	ASSERT_EQ(1, qwait(port, &done, WAIT_MS));
	ASSERT_EQ(GSK_OK, done.returnValue) TH_LOG("%s", gsk_strerror(done.returnValue));
	EXPECT_EQ(v, ktls_version(fd, TLS_TX));
	EXPECT_EQ(v, ktls_version(fd, TLS_RX));
	cli_exchange(_metadata, port, soc, &c);
	EXPECT_EQ(GSK_OK, gsk_secure_soc_close(&soc));
	close(fd);
	reap(&c);
	gsk_environment_close(&env);
	QsoDestroyIOCompletionPort(port);
}

/* s_server's certificate is not signed by a signer of our key store. */
TEST_F_TIMEOUT(gsk, client_untrusted_vs_s_server, TEST_S)
{
	Qso_OverlappedIO_t a, done;
	gsk_handle env, soc;
	struct child c;
	int fd, port;

	NEED_TLS();
	fd = s_server(&c, true);
	ASSERT_LE(0, fd);
	port = QsoCreateIOCompletionPort();
	ASSERT_LE(0, port);
	env = env_make(GSK_CLIENT_SESSION, true, true, OTHER_RING);
	ASSERT_TRUE(env != NULL);
	soc = soc_make(env, fd);
	ASSERT_TRUE(soc != NULL);
	a = area(soc, NULL, 0);
	a.operationId = 5;
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_SOC_INIT,
		  gsk_secure_soc_startInit(soc, port, &a));
	ASSERT_EQ(1, qwait(port, &done, WAIT_MS));
	EXPECT_EQ(GSKSECURESOCSTARTINIT, done.operationCompleted);
	EXPECT_EQ(GSK_OS400_ERROR_NOT_TRUSTED_ROOT, done.returnValue) TH_LOG("%s", gsk_strerror(done.returnValue));
	EXPECT_EQ(5, done.operationId);
	/* No kernel TLS for a session that failed. */
	EXPECT_EQ(0, ktls_version(fd, TLS_RX));
	EXPECT_EQ(GSK_OK, gsk_secure_soc_close(&soc));
	close(fd);
	reap(&c);
	gsk_environment_close(&env);
	QsoDestroyIOCompletionPort(port);
}

TEST_F_TIMEOUT(gsk, client_vs_s_server_tls12, TEST_S)
{
	NEED_TLS();
	client_vs_s_server(_metadata, false);
}

TEST_F_TIMEOUT(gsk, client_vs_s_server_tls13, TEST_S)
{
	NEED_TLS();
	client_vs_s_server(_metadata, true);
}

/* --- The synchronous calls ---------------------------------------------- */

struct sync_client {
	gsk_handle soc;
	int init_rc, write_rc, read_rc, amt;
	char buf[64];
};

static void *sync_client(void *arg)
{
	struct sync_client *c = arg;
	int amt = 0;

	c->init_rc = gsk_secure_soc_init(c->soc);
	if (c->init_rc != GSK_OK)
		return NULL;
	c->write_rc = gsk_secure_soc_write(c->soc, "ping", 4, &amt);
	c->amt = amt;
	c->read_rc = gsk_secure_soc_read(c->soc, c->buf, sizeof(c->buf),
					 &amt);
	if (c->read_rc == GSK_OK)
		c->buf[amt] = 0;
	return NULL;
}

TEST_F_TIMEOUT(gsk, sync_calls, TEST_S)
{
	struct sync_client c = { 0 };
	Qso_OverlappedIO_t a, done;
	char buf[16] = "";
	struct pair p;
	pthread_t t;

	NEED_TLS();
	ASSERT_EQ(0, pair_open(&p, true, true, CLIENT_RING));
	c.soc = p.soc[1];
	ASSERT_EQ(0, pthread_create(&t, NULL, sync_client, &c));
	a = area(p.soc[0], NULL, 0);
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_SOC_INIT,
		  gsk_secure_soc_startInit(p.soc[0], p.port, &a));
	ASSERT_EQ(1, qwait(p.port, &done, WAIT_MS));
	ASSERT_EQ(GSK_OK, done.returnValue);
	a = area(p.soc[0], buf, 4);
	a.fillBuffer = 1;
	if (gsk_secure_soc_startRecv(p.soc[0], p.port, &a) ==
	    GSK_OS400_ASYNCHRONOUS_RECV) {
		ASSERT_EQ(1, qwait(p.port, &done, WAIT_MS));
		a = done;
	}
	EXPECT_EQ(GSK_OK, a.returnValue);
	EXPECT_EQ(4, a.secureDataTransferSize);
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
	memcpy(buf, "pong", 4);
	a = area(p.soc[0], buf, 4);
	if (gsk_secure_soc_startSend(p.soc[0], p.port, &a) ==
	    GSK_OS400_ASYNCHRONOUS_SEND) {
		ASSERT_EQ(1, qwait(p.port, &done, WAIT_MS));
		a = done;
	}
	EXPECT_EQ(GSK_OK, a.returnValue);
	pthread_join(t, NULL);
	EXPECT_EQ(GSK_OK, c.init_rc);
	EXPECT_EQ(GSK_OK, c.write_rc);
	EXPECT_EQ(4, c.amt);
	EXPECT_EQ(GSK_OK, c.read_rc);
	EXPECT_STREQ("pong", c.buf);
	/* The peer's close_notify ends the next read. */
	do {
		int amt = -1;

		EXPECT_EQ(GSK_OK, gsk_secure_soc_close(&p.soc[0]));
		EXPECT_EQ(GSK_ERROR_SOCKET_CLOSED,
			  gsk_secure_soc_read(p.soc[1], buf, sizeof(buf), &amt));
	} while (0);
	pair_close(&p);
}

/* --- Bad input --------------------------------------------------------- */

TEST_F_TIMEOUT(gsk, bad_input, TEST_S)
{
	gsk_handle env = NULL, env2 = NULL, soc = NULL, bogus = &env;
	Qso_OverlappedIO_t a;
	int port, fds[2], u;
	char b[8];

	NEED_TLS();
	port = QsoCreateIOCompletionPort();
	ASSERT_LE(0, port);
	ASSERT_EQ(0, sock_pair(SK_TCP4, fds));

	/* Environments. */
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_POINTER, gsk_environment_open(NULL));
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_environment_init(NULL));
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_environment_init(bogus));
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_environment_close(&bogus));
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_POINTER, gsk_environment_close(NULL));
	ASSERT_EQ(GSK_OK, gsk_environment_open(&env));
	EXPECT_EQ(GSK_ATTRIBUTE_INVALID_ID,
		  gsk_attribute_set_buffer(env, GSK_OS400_APPLICATION_ID,
					   "QIBM_APP", 0));
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_POINTER,
		  gsk_attribute_set_buffer(env, GSK_KEYRING_FILE, NULL, 0));
	EXPECT_EQ(GSK_ATTRIBUTE_INVALID_LENGTH,
		  gsk_attribute_set_buffer(env, GSK_KEYRING_FILE, "x", -1));
	EXPECT_EQ(GSK_ATTRIBUTE_INVALID_ENUMERATION,
		  gsk_attribute_set_enum(env, GSK_SESSION_TYPE, GSK_TRUE));
	EXPECT_EQ(GSK_ATTRIBUTE_INVALID_ENUMERATION,
		  gsk_attribute_set_enum(env, GSK_PROTOCOL_TLSV13,
					 GSK_CLIENT_SESSION));
	EXPECT_EQ(GSK_ATTRIBUTE_INVALID_ID,
		  gsk_attribute_set_enum(env, (GSK_ENUM_ID)12345, GSK_TRUE));
	EXPECT_EQ(GSK_ERROR_UNSUPPORTED,
		  gsk_attribute_set_enum(env, GSK_PROTOCOL_SSLV3, GSK_TRUE));
	EXPECT_EQ(GSK_OK,
		  gsk_attribute_set_enum(env, GSK_PROTOCOL_SSLV3, GSK_FALSE));
	EXPECT_EQ(GSK_ATTRIBUTE_INVALID_ID,
		  gsk_attribute_set_numeric_value(env, GSK_FD, fds[0]));
	/* A session before the environment is initialised. */
	EXPECT_EQ(GSK_INVALID_STATE, gsk_secure_soc_open(env, &soc));
	/* A server needs a certificate and key; the file must open. */
	ASSERT_EQ(GSK_OK, gsk_attribute_set_enum(env, GSK_SESSION_TYPE,
						 GSK_SERVER_SESSION));
	EXPECT_EQ(GSK_ERROR_NO_CERTIFICATE, gsk_environment_init(env));
	ASSERT_EQ(GSK_OK, gsk_attribute_set_buffer(env, GSK_KEYRING_FILE,
						   CERTS "/nonexistent", 0));
	EXPECT_EQ(GSK_KEYRING_OPEN_ERROR, gsk_environment_init(env));
	ASSERT_EQ(GSK_OK, gsk_attribute_set_buffer(env, GSK_KEYRING_FILE,
						   CLIENT_RING, 0));
	EXPECT_EQ(GSK_ERROR_NO_CERTIFICATE, gsk_environment_init(env));
	ASSERT_EQ(GSK_OK, gsk_attribute_set_enum(env, GSK_PROTOCOL_TLSV12,
						 GSK_FALSE));
	ASSERT_EQ(GSK_OK, gsk_attribute_set_enum(env, GSK_PROTOCOL_TLSV13,
						 GSK_FALSE));
	EXPECT_EQ(GSK_ERROR_UNSUPPORTED, gsk_environment_init(env));
	ASSERT_EQ(GSK_OK, gsk_attribute_set_enum(env, GSK_PROTOCOL_TLSV13,
						 GSK_TRUE));
	ASSERT_EQ(GSK_OK, gsk_attribute_set_buffer(env, GSK_KEYRING_FILE,
						   SERVER_RING, 0));
	ASSERT_EQ(GSK_OK, gsk_environment_init(env));
	EXPECT_EQ(GSK_INVALID_STATE, gsk_environment_init(env));
	EXPECT_EQ(GSK_INVALID_STATE,
		  gsk_attribute_set_enum(env, GSK_PROTOCOL_TLSV12, GSK_TRUE));

	/* Sessions. */
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_secure_soc_open(NULL, &soc));
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_POINTER,
		  gsk_secure_soc_open(env, NULL));
	ASSERT_EQ(GSK_OK, gsk_secure_soc_open(env, &soc));
	EXPECT_EQ(GSK_INVALID_HANDLE,
		  gsk_attribute_set_numeric_value(NULL, GSK_FD, fds[0]));
	EXPECT_EQ(GSK_ATTRIBUTE_INVALID_ID,
		  gsk_attribute_set_numeric_value(soc, (GSK_NUM_ID)1, 0));
	EXPECT_EQ(GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR,
		  gsk_attribute_set_numeric_value(soc, GSK_FD, -1));
	u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, u);
	EXPECT_EQ(GSK_OS400_ERROR_NOT_TCP,
		  gsk_attribute_set_numeric_value(soc, GSK_FD, u));
	close(u);
	/* startInit: handle, area, port, state, descriptor, in that order. */
	a = area(soc, NULL, 0);
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_secure_soc_startInit(NULL, port, &a));
	EXPECT_EQ(GSK_INVALID_HANDLE,
		  gsk_secure_soc_startInit(bogus, port, &a));
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_OVERLAPPEDIO_T,
		  gsk_secure_soc_startInit(soc, -1, NULL));
	a.reserved2 = 1;
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_OVERLAPPEDIO_T,
		  gsk_secure_soc_startInit(soc, port, &a));
	a.reserved2 = 0;
	a.operationWaitTime.tv_usec = 1000000;
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_OVERLAPPEDIO_T,
		  gsk_secure_soc_startInit(soc, port, &a));
	a.operationWaitTime.tv_usec = 0;
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_IOCOMPLETIONPORT,
		  gsk_secure_soc_startInit(soc, fds[0], &a));
	EXPECT_EQ(GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR,
		  gsk_secure_soc_startInit(soc, port, &a));
	EXPECT_EQ(GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR,
		  gsk_secure_soc_init(soc));
	/* startRecv/startSend: ..., buffer, length, state. */
	ASSERT_EQ(GSK_OK, gsk_attribute_set_numeric_value(soc, GSK_FD, fds[0]));
	a = area(soc, b, sizeof(b));
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_secure_soc_startRecv(NULL, port, &a));
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_OVERLAPPEDIO_T,
		  gsk_secure_soc_startRecv(soc, port, NULL));
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_IOCOMPLETIONPORT,
		  gsk_secure_soc_startSend(soc, port + 1000, &a));
	a.buffer = NULL;
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_POINTER,
		  gsk_secure_soc_startRecv(soc, port, &a));
	a.buffer = b;
	a.bufferLength = 0;
	EXPECT_EQ(GSK_INVALID_BUFFER_SIZE,
		  gsk_secure_soc_startSend(soc, port, &a));
	a.bufferLength = sizeof(b);
	EXPECT_EQ(GSK_INVALID_STATE, gsk_secure_soc_startRecv(soc, port, &a));
	EXPECT_EQ(GSK_INVALID_STATE, gsk_secure_soc_startSend(soc, port, &a));
	do {
		int amt;

		EXPECT_EQ(GSK_INVALID_STATE,
			  gsk_secure_soc_read(soc, b, sizeof(b), &amt));
		EXPECT_EQ(GSK_INVALID_BUFFER_SIZE,
			  gsk_secure_soc_write(soc, b, 0, &amt));
		EXPECT_EQ(GSK_OS400_ERROR_INVALID_POINTER,
			  gsk_secure_soc_read(soc, NULL, 1, &amt));
	} while (0);
	/* Nothing was posted by any of it. */
	EXPECT_EQ(0, qwait(port, &a, 10));
	/* Closed handles are no longer handles. */
	ASSERT_EQ(GSK_OK, gsk_secure_soc_close(&soc));
	EXPECT_TRUE(soc == NULL);
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_secure_soc_close(&soc));
	EXPECT_EQ(GSK_OS400_ERROR_INVALID_POINTER, gsk_secure_soc_close(NULL));
	env2 = env;
	ASSERT_EQ(GSK_OK, gsk_environment_close(&env));
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_environment_init(env2));
	EXPECT_TRUE(NULL != strstr(gsk_strerror(GSK_OS400_ERROR_NOT_TRUSTED_ROOT),
			       "trusted"));
	EXPECT_STRNE(gsk_strerror(GSK_OK), gsk_strerror(GSK_INVALID_HANDLE));
	close(fds[0]);
	close(fds[1]);
	QsoDestroyIOCompletionPort(port);
}

/* --- Time limits, cancel, close, destroy ------------------------------- */

/* A server session on a pair whose client never speaks. */
struct lone {
	int port, fds[2];
	gsk_handle env, soc;
};

static int lone_open(struct lone *l)
{
	memset(l, 0, sizeof(*l));
	l->port = QsoCreateIOCompletionPort();
	if (l->port < 0 || sock_pair(SK_TCP4, l->fds))
		return -1;
	l->env = env_make(GSK_SERVER_SESSION, true, true, SERVER_RING);
	l->soc = l->env ? soc_make(l->env, l->fds[0]) : NULL;
	return l->soc ? 0 : -1;
}

static void lone_close(struct lone *l)
{
	if (l->soc)
		gsk_secure_soc_close(&l->soc);
	gsk_environment_close(&l->env);
	close(l->fds[0]);
	close(l->fds[1]);
	QsoDestroyIOCompletionPort(l->port);
}

TEST_F_TIMEOUT(gsk, init_timeout, TEST_S)
{
	Qso_OverlappedIO_t a, done;
	struct lone l;

	NEED_TLS();
	ASSERT_EQ(0, lone_open(&l));
	a = area(&l, NULL, 0);
	a.operationWaitTime.tv_usec = 300000;
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_SOC_INIT,
		  gsk_secure_soc_startInit(l.soc, l.port, &a));
	ASSERT_EQ(1, qwait(l.port, &done, WAIT_MS));
	EXPECT_EQ(GSKSECURESOCSTARTINIT, done.operationCompleted);
	EXPECT_EQ(GSK_OS400_ERROR_TIMED_OUT, done.returnValue);
	EXPECT_TRUE(done.descriptorHandle == (void *)&l);
	lone_close(&l);
}

TEST_F_TIMEOUT(gsk, init_cancel, TEST_S)
{
	Qso_OverlappedIO_t a, done;
	struct lone l;

	NEED_TLS();
	ASSERT_EQ(0, lone_open(&l));
	a = area(&l, NULL, 0);
	a.operationId = 42;
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_SOC_INIT,
		  gsk_secure_soc_startInit(l.soc, l.port, &a));
	EXPECT_EQ(0, QsoCancelOperation(l.fds[0], 41));
	EXPECT_EQ(1, QsoCancelOperation(l.fds[0], 42));
	ASSERT_EQ(1, qwait(l.port, &done, WAIT_MS));
	EXPECT_EQ(GSK_ERROR_IO, done.returnValue);
	EXPECT_EQ(ECANCELED, done.errnoValue);
	EXPECT_EQ(42, done.operationId);
	lone_close(&l);
}

/* The port destroyed with a handshake pending: nothing is left behind. */
TEST_F_TIMEOUT(gsk, destroy_with_init_pending, TEST_S)
{
	Qso_OverlappedIO_t a;
	struct lone l;
	char b[4];
	int port2;

	NEED_TLS();
	ASSERT_EQ(0, lone_open(&l));
	a = area(&l, NULL, 0);
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_SOC_INIT,
		  gsk_secure_soc_startInit(l.soc, l.port, &a));
	ASSERT_EQ(0, QsoDestroyIOCompletionPort(l.port));
	EXPECT_EQ(-1, qwait(l.port, &a, 10));
	EXPECT_EQ(EINVAL, errno);
	/* The session is closed; its socket serves another port. */
	EXPECT_EQ(GSK_OK, gsk_secure_soc_close(&l.soc));
	port2 = QsoCreateIOCompletionPort();
	ASSERT_LE(0, port2);
	a = area(NULL, b, sizeof(b));
	EXPECT_EQ(1, QsoStartRecv(l.fds[0], port2, &a));
	ASSERT_EQ(0, QsoDestroyIOCompletionPort(port2));
	l.port = -1;
	lone_close(&l);
}

/* An established pair of our own sessions (TLS 1.3). */
#define ESTABLISHED(p) do {						\
	int _rc[2] = { -1, -1 };					\
	ASSERT_EQ(0, pair_open(p, false, true, CLIENT_RING));		\
	ASSERT_EQ(0, pair_handshake(p, _rc));				\
	ASSERT_EQ(GSK_OK, _rc[0]);					\
	ASSERT_EQ(GSK_OK, _rc[1]);					\
} while (0)

TEST_F_TIMEOUT(gsk, recv_timeout, TEST_S)
{
	Qso_OverlappedIO_t a, done;
	struct pair p;
	char b[16];

	NEED_TLS();
	ESTABLISHED(&p);
	a = area(p.soc[0], b, sizeof(b));
	a.operationWaitTime.tv_usec = 200000;
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_RECV,
		  gsk_secure_soc_startRecv(p.soc[0], p.port, &a));
	ASSERT_EQ(1, qwait(p.port, &done, WAIT_MS));
	EXPECT_EQ(GSKSECURESOCSTARTRECV, done.operationCompleted);
	EXPECT_EQ(GSK_OS400_ERROR_TIMED_OUT, done.returnValue);
	EXPECT_EQ(0, done.secureDataTransferSize);
	EXPECT_TRUE(done.buffer == (void *)b);
	/* The session still works. */
	EXPECT_EQ(-1, transfer(p.port, p.soc[1], p.soc[0], 1000, 3));
	pair_close(&p);
}

TEST_F_TIMEOUT(gsk, recv_cancel, TEST_S)
{
	Qso_OverlappedIO_t a, done;
	struct pair p;
	char b[16];

	NEED_TLS();
	ESTABLISHED(&p);
	a = area(p.soc[0], b, sizeof(b));
	a.operationId = 7;
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_RECV,
		  gsk_secure_soc_startRecv(p.soc[0], p.port, &a));
	EXPECT_EQ(1, QsoCancelOperation(p.fds[0], 7));
	ASSERT_EQ(1, qwait(p.port, &done, WAIT_MS));
	EXPECT_EQ(GSK_ERROR_IO, done.returnValue);
	EXPECT_EQ(ECANCELED, done.errnoValue);
	EXPECT_EQ(-1, transfer(p.port, p.soc[1], p.soc[0], 1000, 4));
	pair_close(&p);
}

TEST_F_TIMEOUT(gsk, close_with_recv_pending, TEST_S)
{
	Qso_OverlappedIO_t a, done;
	gsk_handle old;
	struct pair p;
	char b[16];

	NEED_TLS();
	ESTABLISHED(&p);
	a = area(p.soc[0], b, sizeof(b));
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_RECV,
		  gsk_secure_soc_startRecv(p.soc[0], p.port, &a));
	old = p.soc[0];
	EXPECT_EQ(GSK_OK, gsk_secure_soc_close(&p.soc[0]));
	EXPECT_TRUE(p.soc[0] == NULL);
	ASSERT_EQ(1, qwait(p.port, &done, WAIT_MS));
	EXPECT_EQ(GSKSECURESOCSTARTRECV, done.operationCompleted);
	EXPECT_EQ(GSK_OS400_ERROR_CLOSED, done.returnValue);
	EXPECT_TRUE(done.descriptorHandle == old);
	a = area(old, b, sizeof(b));
	EXPECT_EQ(GSK_INVALID_HANDLE, gsk_secure_soc_startRecv(old, p.port, &a));
	EXPECT_EQ(0, qwait(p.port, &done, 10));
	pair_close(&p);
}

/* A record of @type with @len bytes of @data, through @fd's kTLS TX. */
static int send_record(int fd, unsigned char type, const void *data,
		       size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*CMSG_DATA(cmsg) = type;
	return sendmsg(fd, &msg, 0) == (ssize_t)len ? 0 : -errno;
}

/* startRecv on @soc of up to @len bytes; its completion's area. */
static Qso_OverlappedIO_t recv_one(int port, gsk_handle soc, char *buf,
				   size_t len)
{
	Qso_OverlappedIO_t a = area(soc, buf, len), done;

	if (gsk_secure_soc_startRecv(soc, port, &a) ==
	    GSK_OS400_ASYNCHRONOUS_RECV) {
		if (qwait(port, &done, WAIT_MS) != 1)
			done.returnValue = -1;
		return done;
	}
	return a;
}

/*
 * Records that are not data, as the peer's kernel TLS sends them: a
 * session ticket (a handshake record) is skipped and the receive gets the
 * data behind it, pending or not; a close_notify alert ends it with
 * GSK_ERROR_SOCKET_CLOSED; a KeyUpdate with GSK_ERROR_UNSUPPORTED.
 */
TEST_F_TIMEOUT(gsk, control_records, TEST_S)
{
	static const unsigned char ticket[] = { 4, 0, 0, 4, 1, 2, 3, 4 };
	static const unsigned char key_update[] = { 24, 0, 0, 1, 0 };
	static const unsigned char close_notify[] = { 1, 0 };
	Qso_OverlappedIO_t a, done;
	struct pair p;
	char b[16];

	NEED_TLS();
	ESTABLISHED(&p);
	/* Ticket and data already there when the recv starts. */
	ASSERT_EQ(0, send_record(p.fds[1], 22, ticket, sizeof(ticket)));
	ASSERT_EQ(0, send_record(p.fds[1], 23, "data1", 5));
	a = recv_one(p.port, p.soc[0], b, sizeof(b));
	EXPECT_EQ(GSK_OK, a.returnValue);
	ASSERT_EQ(5, a.secureDataTransferSize);
	EXPECT_EQ(0, memcmp(b, "data1", 5));
	/* The recv pending when the ticket, then the data, arrive. */
	a = area(p.soc[0], b, sizeof(b));
	ASSERT_EQ(GSK_OS400_ASYNCHRONOUS_RECV,
		  gsk_secure_soc_startRecv(p.soc[0], p.port, &a));
	ASSERT_EQ(0, send_record(p.fds[1], 22, ticket, sizeof(ticket)));
	ASSERT_EQ(0, qwait(p.port, &done, 300));	/* not for a ticket */
	ASSERT_EQ(0, send_record(p.fds[1], 23, "data2", 5));
	ASSERT_EQ(1, qwait(p.port, &done, WAIT_MS));
	EXPECT_EQ(GSK_OK, done.returnValue);
	ASSERT_EQ(5, done.secureDataTransferSize);
	EXPECT_EQ(0, memcmp(b, "data2", 5));
	/* The peer's close_notify. */
	ASSERT_EQ(0, send_record(p.fds[1], 21, close_notify,
				 sizeof(close_notify)));
	a = recv_one(p.port, p.soc[0], b, sizeof(b));
	EXPECT_EQ(GSK_ERROR_SOCKET_CLOSED, a.returnValue);
	/*
	 * A KeyUpdate is not followed (last: a kernel that can rekey its
	 * receive side fails every recv after it until a new key is set).
	 */
	ASSERT_EQ(0, send_record(p.fds[1], 22, key_update, sizeof(key_update)));
	a = recv_one(p.port, p.soc[0], b, sizeof(b));
	EXPECT_EQ(GSK_ERROR_UNSUPPORTED, a.returnValue);
	pair_close(&p);
}

TEST_HARNESS_MAIN
