// SPDX-License-Identifier: GPL-2.0
/*
 * Socket operations on kernel-TLS sockets.  A loopback TCP pair gets the
 * "tls" upper-layer protocol on both ends and fixed AES-GCM-128 keys (no
 * handshake: TLS_TX on one end and the matching TLS_RX on the other, one
 * key per direction), in TLS 1.2 and 1.3.  cport's RECV and SEND then go
 * through kTLS like read() and write() do: small and 1 MB transfers both
 * ways, checked byte for byte, a recv pending before its data arrives,
 * recvs in order across record boundaries.  What a SEND puts on the wire
 * is a TLS record, not the plaintext (read raw from a plain peer); that
 * record, written raw into a plain socket, is decrypted by a RECV on a
 * TLS_RX peer, and the same record with one bit flipped fails the RECV
 * with -EBADMSG.
 *
 * The tests skip only when the kernel has no "tls" ULP at all (TCP_ULP
 * fails with ENOENT).  CPORT_KTLS=required in the environment (set by
 * scripts/check.sh for kernels that have TLS, built in or as tls.ko) makes
 * that a failure instead.
 */
#define _GNU_SOURCE		/* memmem */
#include <linux/tls.h>
#include <stdint.h>

#include "sock_util.h"
#include "kselftest_harness.h"

#define KEY_SERVER	0x5e5e
#define KEY_CLIENT	0xc1c1
/* Key material seeds, one per direction. */
#define SEED_C2S	0x11
#define SEED_S2C	0x22

#define SMALL		"cport over kTLS: a small message"
#define LARGE		(1 << 20)
/* Generous bound for the big transfers: AES-GCM in software, under TCG,
 * with KASAN on the debug kernel. */
#define LARGE_MS	180000

#define TLS_HDR		5
#define TLS_TAG		16

static bool ktls_required(void)
{
	const char *e = getenv("CPORT_KTLS");

	return e && !strcmp(e, "required");
}

/* Attach the "tls" ULP; 0 or -errno (-ENOENT: no TLS in this kernel). */
static int ktls_ulp(int fd)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")))
		return -errno;
	return 0;
}

/* Fixed test key material for one direction, record sequence 0. */
static void ktls_info(struct tls12_crypto_info_aes_gcm_128 *ci,
		      unsigned short version, unsigned char seed)
{
	unsigned int i;

	memset(ci, 0, sizeof(*ci));
	ci->info.version = version;
	ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
	for (i = 0; i < sizeof(ci->key); i++)
		ci->key[i] = seed + 7 * i;
	for (i = 0; i < sizeof(ci->iv); i++)
		ci->iv[i] = seed ^ (0x30 + i);
	for (i = 0; i < sizeof(ci->salt); i++)
		ci->salt[i] = seed ^ (0xa0 + i);
}

/* TLS_TX or TLS_RX on @fd (which has the ULP); 0 or -errno. */
static int ktls_key(int fd, int dir, unsigned short version,
		    unsigned char seed)
{
	struct tls12_crypto_info_aes_gcm_128 ci;

	ktls_info(&ci, version, seed);
	if (setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci)))
		return -errno;
	return 0;
}

/* Bytes a record adds around its plaintext. */
static size_t ktls_overhead(unsigned short version)
{
	/* 1.2: explicit 8-byte nonce and the tag; 1.3: inner type, tag. */
	return TLS_HDR + (version == TLS_1_2_VERSION ? 8 : 1) + TLS_TAG;
}

/*
 * Collect @n completions into @cqes within @ms in total.  Returns the
 * number collected (n, or fewer on timeout) or the wait's -errno.
 */
static int wait_n(int port, struct cport_cqe *cqes, int n, int ms)
{
	long long end = now_ns() + (long long)ms * NSEC_PER_MSEC;
	int got = 0, ret;

	while (got < n) {
		long long left = end - now_ns();

		if (left <= 0)
			break;
		ret = cport_wait(port, cqes + got, n - got, left);
		if (ret == -ETIMEDOUT)
			break;
		if (ret < 0)
			return ret;
		got += ret;
	}
	return got;
}

/* The completion with @user_data among @n, or NULL. */
static const struct cport_cqe *find_cqe(const struct cport_cqe *cqes, int n,
					__u64 user_data)
{
	int i;

	for (i = 0; i < n; i++)
		if (cqes[i].user_data == user_data)
			return &cqes[i];
	return NULL;
}

FIXTURE(ktls) {
	int port;
	int fds[2];		/* [0] server end, [1] client end */
	unsigned char *buf[4];	/* LARGE each */
};

FIXTURE_VARIANT(ktls) {
	unsigned short version;
};

FIXTURE_VARIANT_ADD(ktls, tls12) {
	.version = TLS_1_2_VERSION,
};

FIXTURE_VARIANT_ADD(ktls, tls13) {
	.version = TLS_1_3_VERSION,
};

FIXTURE_SETUP(ktls)
{
	int i, ret;

	self->fds[0] = self->fds[1] = -1;
	sock_fixture_port(_metadata, &self->port);
	sock_fixture_pair(_metadata, SK_TCP4, self->fds);

	ret = ktls_ulp(self->fds[0]);
	if (ret == -ENOENT && !ktls_required())
		SKIP(return, "no kernel TLS: TCP_ULP \"tls\" not available (CONFIG_TLS off, or tls.ko not loaded)");
	ASSERT_EQ(0, ret) {
		TH_LOG("TCP_ULP \"tls\": %s%s", strerror(-ret),
		       ktls_required() ? " (CPORT_KTLS=required: is tls.ko loaded?)" : "");
	}
	ASSERT_EQ(0, ktls_ulp(self->fds[1]));

	/* client -> server under one key, server -> client under another. */
	ret = ktls_key(self->fds[1], TLS_TX, variant->version, SEED_C2S);
	ASSERT_EQ(0, ret) {
		TH_LOG("TLS_TX: %s (gcm(aes) missing? load gcm, ctr, ghash-generic)",
		       strerror(-ret));
	}
	ASSERT_EQ(0, ktls_key(self->fds[0], TLS_RX, variant->version, SEED_C2S));
	ASSERT_EQ(0, ktls_key(self->fds[0], TLS_TX, variant->version, SEED_S2C));
	ASSERT_EQ(0, ktls_key(self->fds[1], TLS_RX, variant->version, SEED_S2C));

	ASSERT_EQ(0, cport_associate(self->port, self->fds[0], KEY_SERVER, 0));
	ASSERT_EQ(0, cport_associate(self->port, self->fds[1], KEY_CLIENT, 0));

	for (i = 0; i < 4; i++) {
		self->buf[i] = malloc(LARGE);
		ASSERT_NE(NULL, self->buf[i]);
	}
}

FIXTURE_TEARDOWN(ktls)
{
	int i;

	cport_close(self->port);
	for (i = 0; i < 2; i++)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
	for (i = 0; i < 4; i++)
		free(self->buf[i]);
}

/*
 * A small message each way through the port: RECV submitted first (no
 * data yet, so it is pending), then the SEND; both complete, and the
 * plaintext arrives intact.
 */
TEST_F(ktls, small_both_ways)
{
	static const int from[2] = { 1, 0 };	/* client first, then server */
	struct cport_sqe sqe;
	struct cport_cqe cqes[2];
	const struct cport_cqe *c;
	char rbuf[256];
	int d;

	for (d = 0; d < 2; d++) {
		int tx = self->fds[from[d]], rx = self->fds[!from[d]];
		__u64 rkey = from[d] ? KEY_SERVER : KEY_CLIENT;
		__u64 skey = from[d] ? KEY_CLIENT : KEY_SERVER;

		memset(rbuf, 0, sizeof(rbuf));
		cport_prep_recv(&sqe, rx, rbuf, sizeof(rbuf), 10 + d, 0);
		ASSERT_EQ(1, submit1(self->port, &sqe));
		ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);

		cport_prep_send(&sqe, tx, SMALL, sizeof(SMALL), 20 + d);
		ASSERT_EQ(1, submit1(self->port, &sqe));
		ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);

		ASSERT_EQ(2, wait_n(self->port, cqes, 2, PROGRESS_MS));
		c = find_cqe(cqes, 2, 20 + d);
		ASSERT_NE(NULL, c);
		EXPECT_EQ(CPORT_OP_SEND, c->op);
		EXPECT_EQ(skey, c->key);
		EXPECT_EQ(sizeof(SMALL), c->res);
		EXPECT_EQ(sizeof(SMALL), c->bytes);
		c = find_cqe(cqes, 2, 10 + d);
		ASSERT_NE(NULL, c);
		EXPECT_EQ(CPORT_OP_RECV, c->op);
		EXPECT_EQ(rkey, c->key);
		EXPECT_EQ(sizeof(SMALL), c->res);
		EXPECT_EQ(sizeof(SMALL), c->bytes);
		EXPECT_STREQ(SMALL, rbuf);
	}
	EXPECT_TRUE(wait_none(self->port, 10));
}

/*
 * A RECV pending for a while before anything is sent (nothing completes
 * meanwhile), then a plain write() on the kTLS peer: the RECV completes
 * with the decrypted data.  Both directions.
 */
TEST_F(ktls, recv_pending_before_data)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	char rbuf[256];
	int d;

	for (d = 0; d < 2; d++) {
		int tx = self->fds[!d], rx = self->fds[d];

		memset(rbuf, 0, sizeof(rbuf));
		cport_prep_recv(&sqe, rx, rbuf, sizeof(rbuf), 100 + d, 0);
		ASSERT_EQ(1, submit1(self->port, &sqe));
		ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
		EXPECT_TRUE(wait_none(self->port, GRACE_MS));

		ASSERT_EQ(0, write_full(tx, SMALL, sizeof(SMALL)));
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_EQ(100 + d, cqe.user_data);
		EXPECT_EQ(CPORT_OP_RECV, cqe.op);
		EXPECT_EQ(d ? KEY_CLIENT : KEY_SERVER, cqe.key);
		EXPECT_EQ(sizeof(SMALL), cqe.res);
		EXPECT_STREQ(SMALL, rbuf);
	}
	/* And a plain read() gets what a SEND through the port sent. */
	cport_prep_send(&sqe, self->fds[1], SMALL, sizeof(SMALL), 200);
	sqe.flags = CPORT_SQE_INLINE;
	ASSERT_EQ(1, submit1(self->port, &sqe));
	if (sqe.status == CPORT_STATUS_PENDING) {
		ASSERT_EQ(1, wait1(self->port, &cqe));
		EXPECT_EQ(200, cqe.user_data);
		EXPECT_EQ(sizeof(SMALL), cqe.res);
	} else {
		EXPECT_EQ(CPORT_STATUS_INLINE, sqe.status);
		EXPECT_EQ(sizeof(SMALL), sqe.res);
	}
	memset(rbuf, 0, sizeof(rbuf));
	ASSERT_EQ(0, read_full(self->fds[0], rbuf, sizeof(SMALL)));
	EXPECT_STREQ(SMALL, rbuf);
}

/*
 * 1 MB each way at once: a filling RECV of 1 MB pending on each end, then
 * a 1 MB SEND from each end.  Four completions; every byte checked.
 */
TEST_F_TIMEOUT(ktls, large_fill_both_ways, 300)
{
	struct cport_sqe sqes[4];
	struct cport_cqe cqes[4];
	const struct cport_cqe *c;
	long bad;
	int i;

	pattern_fill(self->buf[0], LARGE, 1, 0);	/* client -> server */
	pattern_fill(self->buf[1], LARGE, 2, 0);	/* server -> client */
	memset(self->buf[2], 0, LARGE);
	memset(self->buf[3], 0, LARGE);

	cport_prep_recv(&sqes[0], self->fds[0], self->buf[2], LARGE, 1,
			CPORT_RECV_FILL);
	cport_prep_recv(&sqes[1], self->fds[1], self->buf[3], LARGE, 2,
			CPORT_RECV_FILL);
	cport_prep_send(&sqes[2], self->fds[1], self->buf[0], LARGE, 3);
	cport_prep_send(&sqes[3], self->fds[0], self->buf[1], LARGE, 4);
	ASSERT_EQ(4, cport_submit(self->port, sqes, 4));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(CPORT_STATUS_PENDING, sqes[i].status);

	ASSERT_EQ(4, wait_n(self->port, cqes, 4, LARGE_MS));
	for (i = 1; i <= 4; i++) {
		c = find_cqe(cqes, 4, i);
		ASSERT_NE(NULL, c);
		EXPECT_EQ(i <= 2 ? CPORT_OP_RECV : CPORT_OP_SEND, c->op);
		EXPECT_EQ(i == 1 || i == 4 ? KEY_SERVER : KEY_CLIENT, c->key);
		EXPECT_EQ(LARGE, c->res) TH_LOG("user_data %d", i);
		EXPECT_EQ(LARGE, c->bytes);
	}
	bad = pattern_check(self->buf[2], LARGE, 1, 0);
	EXPECT_EQ(-1, bad) TH_LOG("client -> server: byte %ld differs", bad);
	bad = pattern_check(self->buf[3], LARGE, 2, 0);
	EXPECT_EQ(-1, bad) TH_LOG("server -> client: byte %ld differs", bad);
	EXPECT_TRUE(wait_none(self->port, 10));
}

/*
 * 1 MB in four SENDs one way, received by a window of eight RECVs of an
 * odd size (not a multiple of the 16 KB record), resubmitted as they
 * complete: the RECVs complete in submission order, each with the next
 * piece of the stream (a RECV without FILL may come back short).  The
 * RECVs left pending at the end are cancelled.  Then the other way.
 */
#define CHUNK	10007
#define WINDOW	8

TEST_F_TIMEOUT(ktls, large_chunked_recvs_in_order, 300)
{
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int d;

	for (d = 0; d < 2; d++) {
		int tx = self->fds[!d], rx = self->fds[d];
		__u64 rkey = d ? KEY_CLIENT : KEY_SERVER;
		unsigned char *src = self->buf[0], *ring = self->buf[2];
		__u64 next_sub = 0, next_done = 0;
		size_t received = 0;
		int sends_done = 0, i;

		pattern_fill(src, LARGE, 10 + d, 0);

		/* The RECV window first: pending before any data. */
		for (i = 0; i < WINDOW; i++, next_sub++) {
			cport_prep_recv(&sqe, rx, ring + (next_sub % WINDOW) * CHUNK,
					CHUNK, next_sub, 0);
			ASSERT_EQ(1, submit1(self->port, &sqe));
			ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
		}
		for (i = 0; i < 4; i++) {
			cport_prep_send(&sqe, tx, src + i * (LARGE / 4),
					LARGE / 4, 1000 + i);
			ASSERT_EQ(1, submit1(self->port, &sqe));
		}

		while (received < LARGE || sends_done < 4) {
			long bad;

			ASSERT_EQ(1, wait_n(self->port, &cqe, 1, LARGE_MS)) {
				TH_LOG("received %zu, sends done %d",
				       received, sends_done);
			}
			if (cqe.op == CPORT_OP_SEND) {
				EXPECT_EQ(1000 + sends_done, cqe.user_data);
				EXPECT_EQ(LARGE / 4, cqe.res);
				sends_done++;
				continue;
			}
			ASSERT_EQ(CPORT_OP_RECV, cqe.op);
			EXPECT_EQ(rkey, cqe.key);
			/* In submission order, each with data. */
			ASSERT_EQ(next_done, cqe.user_data);
			ASSERT_LT(0, cqe.res);
			ASSERT_GE(LARGE - received, cqe.res);
			bad = pattern_check(ring + (next_done % WINDOW) * CHUNK,
					    cqe.res, 10 + d, received);
			ASSERT_EQ(-1, bad) {
				TH_LOG("recv %llu: byte %ld of the stream differs",
				       (unsigned long long)next_done,
				       (long)received + bad);
			}
			received += cqe.res;
			next_done++;
			/* Its slot is free again: keep the window full. */
			cport_prep_recv(&sqe, rx, ring + (next_sub % WINDOW) * CHUNK,
					CHUNK, next_sub, 0);
			ASSERT_EQ(1, submit1(self->port, &sqe));
			next_sub++;
		}
		EXPECT_EQ(LARGE, received);
		/* The whole window is still pending: cancel it, in order. */
		ASSERT_EQ(WINDOW, next_sub - next_done);
		EXPECT_EQ(WINDOW, cport_cancel(self->port, CPORT_CANCEL_FD, rx));
		for (i = 0; i < WINDOW; i++, next_done++) {
			ASSERT_EQ(1, wait1(self->port, &cqe));
			EXPECT_EQ(next_done, cqe.user_data);
			EXPECT_EQ(-ECANCELED, cqe.res);
			EXPECT_EQ(0, cqe.bytes);
		}
		EXPECT_TRUE(wait_none(self->port, 10));
	}
}

#define REC_PLAIN	4096
#define REC_MAX		(REC_PLAIN + 64)

/*
 * Send @len bytes of @plain through the port from a kTLS end (TLS_TX,
 * the client-to-server key) to a plain end, and read what went on the
 * wire from the plain end: one record, into @rec.  Returns its length, or
 * a negative step number (what failed).
 */
static int capture_record(int port, unsigned short version,
			  const void *plain, size_t len, unsigned char *rec)
{
	struct pollfd pfd;
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int p[2], ret, body;

	if (sock_pair(SK_TCP4, p))
		return -1;
	ret = -2;
	if (ktls_ulp(p[1]) || ktls_key(p[1], TLS_TX, version, SEED_C2S))
		goto out;
	ret = -3;
	if (cport_associate(port, p[1], 7, 0))
		goto out;
	cport_prep_send(&sqe, p[1], plain, len, 77);
	ret = -4;
	if (submit1(port, &sqe) != 1 || sqe.status != CPORT_STATUS_PENDING ||
	    wait1(port, &cqe) != 1 || cqe.user_data != 77 ||
	    cqe.res != (__s64)len)
		goto out;
	/* The raw stream: a record header, then its body. */
	ret = -5;
	if (read_full(p[0], rec, TLS_HDR))
		goto out;
	body = rec[3] << 8 | rec[4];
	ret = -6;
	if (body + TLS_HDR > REC_MAX || read_full(p[0], rec + TLS_HDR, body))
		goto out;
	/* And nothing after it. */
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	ret = -7;
	if (poll(&pfd, 1, 50) != 0)
		goto out;
	ret = TLS_HDR + body;
out:
	close(p[0]);
	close(p[1]);
	return ret;
}

/* A SEND on a kTLS socket puts a TLS record on the wire, not plaintext. */
TEST_F(ktls, send_puts_a_record_on_the_wire)
{
	unsigned char plain[REC_PLAIN], rec[REC_MAX];
	size_t start = variant->version == TLS_1_2_VERSION ? TLS_HDR + 8 :
			TLS_HDR;
	int len, i, same = 0;

	pattern_fill(plain, sizeof(plain), 5, 0);
	len = capture_record(self->port, variant->version, plain,
			     sizeof(plain), rec);
	ASSERT_LT(0, len) TH_LOG("capture_record step %d failed", -len);

	/* Application data (the outer type in 1.3 too), version 3.3. */
	EXPECT_EQ(0x17, rec[0]);
	EXPECT_EQ(0x03, rec[1]);
	EXPECT_EQ(0x03, rec[2]);
	EXPECT_EQ(sizeof(plain) + ktls_overhead(variant->version), len);
	/* Ciphertext: about one byte in 256 matches the plaintext by chance. */
	for (i = 0; i < REC_PLAIN; i++)
		same += rec[start + i] == plain[i];
	EXPECT_GT(64, same);
	EXPECT_EQ(NULL, memmem(rec, len, plain, 16));
}

/*
 * That record, written raw into a plain socket, is decrypted by a RECV on
 * its TLS_RX peer (pending before the record arrives); with one bit of
 * the ciphertext flipped, the RECV fails with -EBADMSG.
 */
static void recv_raw_record(struct __test_metadata *_metadata, int port,
			    unsigned short version, bool corrupt)
{
	unsigned char plain[REC_PLAIN], rec[REC_MAX], got[REC_MAX];
	struct cport_sqe sqe;
	struct cport_cqe cqe;
	int p[2], len;

	pattern_fill(plain, sizeof(plain), 6, 0);
	len = capture_record(port, version, plain, sizeof(plain), rec);
	ASSERT_LT(0, len) TH_LOG("capture_record step %d failed", -len);
	if (corrupt)
		rec[len / 2] ^= 0x10;

	ASSERT_EQ(0, sock_pair(SK_TCP4, p));
	ASSERT_EQ(0, ktls_ulp(p[0]));
	ASSERT_EQ(0, ktls_key(p[0], TLS_RX, version, SEED_C2S));
	ASSERT_EQ(0, cport_associate(port, p[0], 8, 0));
	memset(got, 0, sizeof(got));
	cport_prep_recv(&sqe, p[0], got, sizeof(got), 88, 0);
	ASSERT_EQ(1, submit1(port, &sqe));
	ASSERT_EQ(CPORT_STATUS_PENDING, sqe.status);
	EXPECT_TRUE(wait_none(port, 20));

	ASSERT_EQ(0, write_full(p[1], rec, len));
	ASSERT_EQ(1, wait1(port, &cqe));
	EXPECT_EQ(88, cqe.user_data);
	EXPECT_EQ(8, cqe.key);
	EXPECT_EQ(CPORT_OP_RECV, cqe.op);
	if (corrupt) {
		EXPECT_EQ(-EBADMSG, cqe.res);
		EXPECT_EQ(0, cqe.bytes);
	} else {
		EXPECT_EQ(REC_PLAIN, cqe.res);
		EXPECT_EQ(0, memcmp(got, plain, sizeof(plain)));
	}
	close(p[0]);
	close(p[1]);
}

TEST_F(ktls, recv_decrypts_a_raw_record)
{
	recv_raw_record(_metadata, self->port, variant->version, false);
}

TEST_F(ktls, recv_of_a_corrupt_record_fails)
{
	recv_raw_record(_metadata, self->port, variant->version, true);
}

TEST_HARNESS_MAIN
