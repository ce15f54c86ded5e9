/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport-qso: IBM i's GSKit secure socket calls (<gskssl.h>) on the
 * system's OpenSSL and kernel TLS, the asynchronous ones completing
 * through the ports of qso.c (gskssl(3) says what each call does).
 *
 * The handshake is OpenSSL's, run non-blocking on the socket.  When
 * OpenSSL wants to read, gsk_secure_soc_startInit() submits a zero-byte
 * cport recv on the port: it pins no buffer and completes when the socket
 * is readable.  The thread that dequeues it in QsoWaitForIOCompletion()
 * runs the next handshake step (qso_layer.h), and so on until the
 * handshake is done; only then is a completion returned to the
 * application.  No thread waits for the peer.
 *
 * Then the session moves to kernel TLS: OpenSSL installs the transmit key
 * (SSL_OP_ENABLE_KTLS), and the receive key for TLS 1.2; for TLS 1.3,
 * whose kTLS receive side OpenSSL 3.0 does not do, the receive key is
 * derived from the traffic secret OpenSSL reports (its keylog callback)
 * with OpenSSL's TLS 1.3 KDF and installed here.  A startRecv or startSend
 * is then one cport recv or send on the socket.  A record that is not
 * data (a TLS 1.3 NewSessionTicket, an alert) fails the kernel's recv with
 * EIO; the thread that sees it reads the record with its type (recvmsg()
 * with a control buffer), deals with it and submits the recv again.
 *
 * Handles.  Environments and sessions are registered on a list, so a
 * stale or made-up handle is recognised (GSK_INVALID_HANDLE) rather than
 * used.  A session is referenced by its handle and by each of its
 * operations on a port; gsk_secure_soc_close() takes it off the list and
 * cancels its operations, and the last reference frees it.
 *
 * Locks, in the order they nest: a session's step_lock (held across a
 * submission and by close while it cancels, so that no operation is
 * submitted on a closed session), qso.c's qso_lock, gsk_lock (the list,
 * reference counts, session states).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "gskssl.h"
#include "qso_layer.h"

#ifndef SOL_TLS
#define SOL_TLS		282
#endif

#define GSK_MAGIC_ENV	0x47534b45u
#define GSK_MAGIC_SOC	0x47534b53u

/* TLS record content types and handshake message types. */
#define REC_ALERT		21
#define REC_HANDSHAKE		22
#define HS_NEW_SESSION_TICKET	4
#define ALERT_CLOSE_NOTIFY	0

struct gsk_obj {
	struct gsk_obj *next;
	unsigned int magic;
};

struct gsk_env {
	struct gsk_obj obj;
	bool inited;
	int session_type;	/* GSK_CLIENT_SESSION, GSK_SERVER_SESSION* */
	bool tls12, tls13;
	char *keyring, *pw;
	SSL_CTX *ctx;		/* once inited */
};

enum soc_state { SOC_OPEN, SOC_HANDSHAKE, SOC_READY, SOC_FAILED };

struct gsk_soc {
	struct gsk_obj obj;
	pthread_mutex_t step_lock;
	int refs;		/* gsk_lock: the handle's and one per op */
	bool closed;		/* gsk_lock and step_lock */
	enum soc_state state;	/* gsk_lock */
	int fd;			/* GSK_FD, -1 until set */
	bool server;
	SSL *ssl;
	/* The handshake's time limit (the startInit's operationWaitTime). */
	bool hs_timed;
	struct timespec hs_deadline;
	/* The peer's TLS 1.3 application traffic secret, from the keylog. */
	unsigned char rx_secret[EVP_MAX_MD_SIZE];
	size_t rx_secret_len;
};

static pthread_mutex_t gsk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gsk_obj *gsk_objs;	/* gsk_lock: live handles */

/* --- Handles -------------------------------------------------------------- */

static void obj_add(struct gsk_obj *o, unsigned int magic)
{
	o->magic = magic;
	pthread_mutex_lock(&gsk_lock);
	o->next = gsk_objs;
	gsk_objs = o;
	pthread_mutex_unlock(&gsk_lock);
}

/* Called with gsk_lock held: is h a live handle of this kind? */
static bool __obj_live(const void *h, unsigned int magic)
{
	struct gsk_obj *o;

	for (o = gsk_objs; o; o = o->next)
		if (o == h)
			return o->magic == magic;
	return false;
}

/* Called with gsk_lock held. */
static void __obj_del(struct gsk_obj *o)
{
	struct gsk_obj **pp;

	for (pp = &gsk_objs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			return;
		}
	}
}

static struct gsk_env *env_find(gsk_handle h)
{
	bool ok;

	pthread_mutex_lock(&gsk_lock);
	ok = h && __obj_live(h, GSK_MAGIC_ENV);
	pthread_mutex_unlock(&gsk_lock);
	return ok ? h : NULL;
}

/* A live session, referenced, or NULL. */
static struct gsk_soc *soc_get(gsk_handle h)
{
	struct gsk_soc *s = NULL;

	pthread_mutex_lock(&gsk_lock);
	if (h && __obj_live(h, GSK_MAGIC_SOC)) {
		s = h;
		s->refs++;
	}
	pthread_mutex_unlock(&gsk_lock);
	return s;
}

static void soc_put(struct gsk_soc *s)
{
	int left;

	pthread_mutex_lock(&gsk_lock);
	left = --s->refs;
	pthread_mutex_unlock(&gsk_lock);
	if (left)
		return;
	OPENSSL_cleanse(s->rx_secret, sizeof(s->rx_secret));
	SSL_free(s->ssl);
	pthread_mutex_destroy(&s->step_lock);
	free(s);
}

static enum soc_state soc_state(struct gsk_soc *s)
{
	enum soc_state st;

	pthread_mutex_lock(&gsk_lock);
	st = s->state;
	pthread_mutex_unlock(&gsk_lock);
	return st;
}

static void soc_set_state(struct gsk_soc *s, enum soc_state st)
{
	pthread_mutex_lock(&gsk_lock);
	s->state = st;
	pthread_mutex_unlock(&gsk_lock);
}

/* --- Environments ---------------------------------------------------------- */

int gsk_environment_open(gsk_handle *my_env_handle)
{
	struct gsk_env *e;

	if (!my_env_handle)
		return GSK_OS400_ERROR_INVALID_POINTER;
	e = calloc(1, sizeof(*e));
	if (!e)
		return GSK_INSUFFICIENT_STORAGE;
	e->session_type = GSK_CLIENT_SESSION;
	e->tls12 = e->tls13 = true;
	obj_add(&e->obj, GSK_MAGIC_ENV);
	*my_env_handle = e;
	return GSK_OK;
}

int gsk_attribute_set_buffer(gsk_handle my_gsk_handle, GSK_BUF_ID bufID,
			     const char *buffer, int bufSize)
{
	struct gsk_env *e = env_find(my_gsk_handle);
	char *copy, **dst;

	if (!e)
		return GSK_INVALID_HANDLE;
	if (e->inited)
		return GSK_INVALID_STATE;
	switch (bufID) {
	case GSK_KEYRING_FILE:
		dst = &e->keyring;
		break;
	case GSK_KEYRING_PW:
		dst = &e->pw;
		break;
	default:
		/* GSK_OS400_APPLICATION_ID: Linux has no DCM registry. */
		return GSK_ATTRIBUTE_INVALID_ID;
	}
	if (!buffer)
		return GSK_OS400_ERROR_INVALID_POINTER;
	if (bufSize < 0)
		return GSK_ATTRIBUTE_INVALID_LENGTH;
	if (!bufSize)
		bufSize = (int)strnlen(buffer, INT_MAX);
	if (!bufSize || memchr(buffer, 0, bufSize))
		return GSK_ATTRIBUTE_INVALID_LENGTH;
	copy = strndup(buffer, bufSize);
	if (!copy)
		return GSK_INSUFFICIENT_STORAGE;
	if (*dst) {
		OPENSSL_cleanse(*dst, strlen(*dst));
		free(*dst);
	}
	*dst = copy;
	return GSK_OK;
}

int gsk_attribute_set_enum(gsk_handle my_gsk_handle, GSK_ENUM_ID enumID,
			   GSK_ENUM_VALUE enumValue)
{
	struct gsk_env *e = env_find(my_gsk_handle);
	bool on = enumValue == GSK_TRUE;

	if (!e)
		return GSK_INVALID_HANDLE;
	if (e->inited)
		return GSK_INVALID_STATE;
	switch (enumID) {
	case GSK_SESSION_TYPE:
		if (enumValue != GSK_CLIENT_SESSION &&
		    enumValue != GSK_SERVER_SESSION &&
		    enumValue != GSK_SERVER_SESSION_WITH_CL_AUTH)
			return GSK_ATTRIBUTE_INVALID_ENUMERATION;
		e->session_type = enumValue;
		return GSK_OK;
	case GSK_PROTOCOL_SSLV2:
	case GSK_PROTOCOL_SSLV3:
	case GSK_PROTOCOL_TLSV1:
	case GSK_PROTOCOL_TLSV11:
	case GSK_PROTOCOL_TLSV12:
	case GSK_PROTOCOL_TLSV13:
		break;
	default:
		return GSK_ATTRIBUTE_INVALID_ID;
	}
	if (enumValue != GSK_TRUE && enumValue != GSK_FALSE)
		return GSK_ATTRIBUTE_INVALID_ENUMERATION;
	if (enumID == GSK_PROTOCOL_TLSV12)
		e->tls12 = on;
	else if (enumID == GSK_PROTOCOL_TLSV13)
		e->tls13 = on;
	else if (on)
		return GSK_ERROR_UNSUPPORTED;	/* never offered here */
	return GSK_OK;
}

/* OpenSSL's passphrase callback: the keyring's password, never a prompt. */
static int keyring_pw(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	int n;

	if (!pw)
		return -1;
	n = (int)strlen(pw);
	if (n > size)
		return -1;
	memcpy(buf, pw, n);
	return n;
}

/* Does the PEM file @b hold a private key?  (Rewinds it.) */
static bool has_key(BIO *b)
{
	char line[256];
	bool found = false;

	while (!found && BIO_gets(b, line, sizeof(line)) > 0)
		found = !strncmp(line, "-----BEGIN ", 11) &&
			strstr(line, "PRIVATE KEY-----");
	BIO_seek(b, 0);
	return found;
}

/*
 * The keyring: a PEM file.  Every certificate in it is a trusted signer
 * (as in a .KDB); a private key, if there is one, is the session's own,
 * with the file's first certificate and the ones after it as its chain.
 */
static int load_keyring(struct gsk_env *e, SSL_CTX *ctx)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	EVP_PKEY *key = NULL;
	int n = 0, ret = GSK_OK;
	X509 *x;
	BIO *b;

	if (!e->keyring)
		return e->session_type == GSK_CLIENT_SESSION ?
		       GSK_OK : GSK_ERROR_NO_CERTIFICATE;
	b = BIO_new_file(e->keyring, "r");
	if (!b)
		return GSK_KEYRING_OPEN_ERROR;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		X509_STORE_add_cert(store, x);
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	if (BIO_seek(b, 0) < 0) {
		ret = GSK_KEYRING_OPEN_ERROR;
		goto out;
	}
	if (!has_key(b)) {
		ret = e->session_type == GSK_CLIENT_SESSION ?
		      GSK_OK : GSK_ERROR_NO_CERTIFICATE;
		goto out;
	}
	key = PEM_read_bio_PrivateKey(b, NULL, keyring_pw, e->pw);
	if (!key) {
		ERR_clear_error();
		ret = GSK_ERROR_BAD_KEYFILE_PASSWORD;
		goto out;
	}
	if (!n || SSL_CTX_use_certificate_chain_file(ctx, e->keyring) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		ret = GSK_ERROR_BAD_CERTIFICATE;
	}
out:
	EVP_PKEY_free(key);
	BIO_free(b);
	return ret;
}

static void keylog(const SSL *ssl, const char *line);

int gsk_environment_init(gsk_handle my_env_handle)
{
	struct gsk_env *e = env_find(my_env_handle);
	SSL_CTX *ctx;
	int ret;

	if (!e)
		return GSK_INVALID_HANDLE;
	if (e->inited)
		return GSK_INVALID_STATE;
	if (!e->tls12 && !e->tls13)
		return GSK_ERROR_UNSUPPORTED;
	ctx = SSL_CTX_new(TLS_method());
	if (!ctx)
		return GSK_INSUFFICIENT_STORAGE;
	SSL_CTX_set_min_proto_version(ctx, e->tls12 ? TLS1_2_VERSION :
						     TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, e->tls13 ? TLS1_3_VERSION :
						     TLS1_2_VERSION);
	/* The ciphers the kernel's TLS has on every kernel: AES-GCM. */
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES256-GCM-SHA384:"
				    "ECDHE-RSA-AES256-GCM-SHA384:"
				    "ECDHE-ECDSA-AES128-GCM-SHA256:"
				    "ECDHE-RSA-AES128-GCM-SHA256") != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:"
				     "TLS_AES_128_GCM_SHA256") != 1) {
		ret = GSK_INTERNAL_ERROR;
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_keylog_callback(ctx, keylog);
	if (e->session_type == GSK_CLIENT_SESSION)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	else if (e->session_type == GSK_SERVER_SESSION_WITH_CL_AUTH)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
				   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ret = load_keyring(e, ctx);
	if (ret != GSK_OK)
		goto fail;
	e->ctx = ctx;
	e->inited = true;
	return GSK_OK;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return ret;
}

int gsk_environment_close(gsk_handle *my_env_handle)
{
	struct gsk_env *e;

	if (!my_env_handle)
		return GSK_OS400_ERROR_INVALID_POINTER;
	pthread_mutex_lock(&gsk_lock);
	e = *my_env_handle;
	if (!e || !__obj_live(e, GSK_MAGIC_ENV)) {
		pthread_mutex_unlock(&gsk_lock);
		return GSK_INVALID_HANDLE;
	}
	__obj_del(&e->obj);
	pthread_mutex_unlock(&gsk_lock);
	/* Its sessions hold references of their own on the SSL_CTX. */
	SSL_CTX_free(e->ctx);
	if (e->pw)
		OPENSSL_cleanse(e->pw, strlen(e->pw));
	free(e->pw);
	free(e->keyring);
	free(e);
	*my_env_handle = NULL;
	return GSK_OK;
}

/* --- Sessions -------------------------------------------------------------- */

int gsk_secure_soc_open(gsk_handle my_env_handle,
			gsk_handle *my_session_handle)
{
	struct gsk_env *e = env_find(my_env_handle);
	struct gsk_soc *s;

	if (!e)
		return GSK_INVALID_HANDLE;
	if (!my_session_handle)
		return GSK_OS400_ERROR_INVALID_POINTER;
	if (!e->inited)
		return GSK_INVALID_STATE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return GSK_INSUFFICIENT_STORAGE;
	s->ssl = SSL_new(e->ctx);
	if (!s->ssl) {
		free(s);
		return GSK_INSUFFICIENT_STORAGE;
	}
	SSL_set_app_data(s->ssl, s);
	if (e->session_type == GSK_CLIENT_SESSION)
		SSL_set_connect_state(s->ssl);
	else
		SSL_set_accept_state(s->ssl);
	pthread_mutex_init(&s->step_lock, NULL);
	s->refs = 1;
	s->fd = -1;
	s->server = e->session_type != GSK_CLIENT_SESSION;
	s->state = SOC_OPEN;
	obj_add(&s->obj, GSK_MAGIC_SOC);
	*my_session_handle = s;
	return GSK_OK;
}

int gsk_attribute_set_numeric_value(gsk_handle my_gsk_handle,
				    GSK_NUM_ID numID, int numValue)
{
	struct gsk_soc *s;
	int type, proto, ret = GSK_OK;
	socklen_t len = sizeof(int);

	if (env_find(my_gsk_handle))
		return GSK_ATTRIBUTE_INVALID_ID;  /* GSK_FD is a session's */
	s = soc_get(my_gsk_handle);
	if (!s)
		return GSK_INVALID_HANDLE;
	if (numID != GSK_FD) {
		ret = GSK_ATTRIBUTE_INVALID_ID;
	} else if (soc_state(s) != SOC_OPEN) {
		ret = GSK_INVALID_STATE;
	} else if (numValue < 0 ||
		   getsockopt(numValue, SOL_SOCKET, SO_TYPE, &type, &len)) {
		ret = GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR;
	} else if (type != SOCK_STREAM ||
		   getsockopt(numValue, SOL_SOCKET, SO_PROTOCOL, &proto,
			      &len) || proto != IPPROTO_TCP) {
		ret = GSK_OS400_ERROR_NOT_TCP;
	} else if (SSL_set_fd(s->ssl, numValue) != 1) {
		ERR_clear_error();
		ret = GSK_INSUFFICIENT_STORAGE;
	} else {
		s->fd = numValue;
	}
	soc_put(s);
	return ret;
}

/* OpenSSL's keylog line: keep the secret the session will receive with. */
static void keylog(const SSL *ssl, const char *line)
{
	struct gsk_soc *s = SSL_get_app_data(ssl);
	const char *want = s->server ? "CLIENT_TRAFFIC_SECRET_0 " :
				       "SERVER_TRAFFIC_SECRET_0 ";
	const char *hex;
	size_t i, n;

	if (strncmp(line, want, strlen(want)))
		return;
	hex = strchr(line + strlen(want), ' ');
	if (!hex)
		return;
	hex++;
	n = strlen(hex) / 2;
	if (n > sizeof(s->rx_secret))
		return;
	for (i = 0; i < n; i++) {
		unsigned int v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return;
		s->rx_secret[i] = (unsigned char)v;
	}
	s->rx_secret_len = n;
}

/* TLS 1.3's HKDF-Expand-Label(secret, label, "", len), by OpenSSL. */
static int tls13_expand(const char *md, const unsigned char *secret,
			size_t secret_len, const char *label,
			unsigned char *out, size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok = 0;
	OSSL_PARAM params[7], *p = params;

	if (kctx) {
		*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
		*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
							(char *)md, 0);
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
				(unsigned char *)secret, secret_len);
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX,
				(unsigned char *)"tls13 ", 6);
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL,
				(unsigned char *)label, strlen(label));
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA,
				(unsigned char *)"", 0);
		*p = OSSL_PARAM_construct_end();
		ok = EVP_KDF_derive(kctx, out, len, params) == 1;
	}
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : -1;
}

/*
 * The TLS 1.3 receive key on the socket (TLS_RX), from the peer's
 * traffic secret; record sequence 0: OpenSSL read no record under it
 * (it reads one record at a time, no read-ahead, and the handshake is
 * over before the peer's first application record).
 */
static int ktls_rx13(struct gsk_soc *s)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(s->ssl);
	union {
		struct tls12_crypto_info_aes_gcm_128 g128;
		struct tls12_crypto_info_aes_gcm_256 g256;
	} ci;
	unsigned char key[32], iv[12];
	const char *md;
	size_t keylen, size;
	int ret = -1;

	if (!c || !s->rx_secret_len || SSL_has_pending(s->ssl))
		return -1;
	memset(&ci, 0, sizeof(ci));
	switch (SSL_CIPHER_get_protocol_id(c)) {
	case 0x1301:		/* TLS_AES_128_GCM_SHA256 */
		md = "SHA256";
		keylen = 16;
		ci.g128.info.cipher_type = TLS_CIPHER_AES_GCM_128;
		size = sizeof(ci.g128);
		break;
	case 0x1302:		/* TLS_AES_256_GCM_SHA384 */
		md = "SHA384";
		keylen = 32;
		ci.g256.info.cipher_type = TLS_CIPHER_AES_GCM_256;
		size = sizeof(ci.g256);
		break;
	default:
		return -1;
	}
	ci.g128.info.version = TLS_1_3_VERSION;
	if (tls13_expand(md, s->rx_secret, s->rx_secret_len, "key", key,
			 keylen) ||
	    tls13_expand(md, s->rx_secret, s->rx_secret_len, "iv", iv,
			 sizeof(iv)))
		goto out;
	/* The kernel's 12-byte nonce base is salt (4) followed by iv (8). */
	if (keylen == 16) {
		memcpy(ci.g128.key, key, 16);
		memcpy(ci.g128.salt, iv, 4);
		memcpy(ci.g128.iv, iv + 4, 8);
	} else {
		memcpy(ci.g256.key, key, 32);
		memcpy(ci.g256.salt, iv, 4);
		memcpy(ci.g256.iv, iv + 4, 8);
	}
	ret = setsockopt(s->fd, SOL_TLS, TLS_RX, &ci, size) ? -1 : 0;
out:
	OPENSSL_cleanse(&ci, sizeof(ci));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(s->rx_secret, sizeof(s->rx_secret));
	s->rx_secret_len = 0;
	return ret;
}

/* The handshake is done: the session's records go through kernel TLS. */
static int ktls_finish(struct gsk_soc *s)
{
	if (!BIO_get_ktls_send(SSL_get_wbio(s->ssl)))
		return GSK_ERROR_UNSUPPORTED;
	if (!BIO_get_ktls_recv(SSL_get_rbio(s->ssl)) &&
	    (SSL_version(s->ssl) != TLS1_3_VERSION || ktls_rx13(s)))
		return GSK_ERROR_UNSUPPORTED;
	return GSK_OK;
}

/* The GSK code for a failed handshake. */
static int hs_error(struct gsk_soc *s, int ret, int *err)
{
	int e = SSL_get_error(s->ssl, ret);
	long v = SSL_get_verify_result(s->ssl);

	*err = 0;
	ERR_clear_error();
	if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
		if (e == SSL_ERROR_SYSCALL && errno) {
			*err = errno;
			return GSK_ERROR_IO;
		}
		return GSK_ERROR_SOCKET_CLOSED;
	}
	switch (v) {
	case X509_V_OK:
		return GSK_ERROR_BAD_MESSAGE;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return GSK_OS400_ERROR_NOT_TRUSTED_ROOT;
	default:
		return GSK_ERROR_CERT_VALIDATION;
	}
}

enum step { STEP_DONE, STEP_READ, STEP_WRITE };

/*
 * One run of OpenSSL's handshake on the socket, non-blocking for the run
 * (the socket's own mode is put back after), SIGPIPE held back (OpenSSL
 * writes with write(2)).  STEP_DONE with *rc set, or what it waits for.
 */
static enum step hs_step(struct gsk_soc *s, int *rc, int *err)
{
	sigset_t pipe, old, pending;
	int flags, ret, e, was_pending;
	struct timespec zero = { 0, 0 };

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	flags = fcntl(s->fd, F_GETFL);
	if (flags >= 0 && !(flags & O_NONBLOCK))
		fcntl(s->fd, F_SETFL, flags | O_NONBLOCK);
	ERR_clear_error();
	errno = 0;
	ret = SSL_do_handshake(s->ssl);
	e = SSL_get_error(s->ssl, ret);
	if (ret != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		*rc = hs_error(s, ret, err);
	if (flags >= 0 && !(flags & O_NONBLOCK))
		fcntl(s->fd, F_SETFL, flags);
	if (!was_pending) {
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (ret == 1) {
		*err = 0;
		*rc = ktls_finish(s);
		return STEP_DONE;
	}
	if (e == SSL_ERROR_WANT_READ)
		return STEP_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return STEP_WRITE;
	return STEP_DONE;
}

int gsk_secure_soc_init(gsk_handle my_session_handle)
{
	struct gsk_soc *s = soc_get(my_session_handle);
	int rc = GSK_OK, err = 0;
	enum step st;

	if (!s)
		return GSK_INVALID_HANDLE;
	pthread_mutex_lock(&gsk_lock);
	if (s->state != SOC_OPEN || s->fd < 0)
		rc = s->fd < 0 && s->state == SOC_OPEN ?
		     GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR : GSK_INVALID_STATE;
	else
		s->state = SOC_HANDSHAKE;
	pthread_mutex_unlock(&gsk_lock);
	if (rc != GSK_OK)
		goto out;
	while ((st = hs_step(s, &rc, &err)) != STEP_DONE) {
		struct pollfd pfd = {
			.fd = s->fd,
			.events = st == STEP_READ ? POLLIN : POLLOUT,
		};

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			rc = GSK_ERROR_IO;
			break;
		}
	}
	soc_set_state(s, rc == GSK_OK ? SOC_READY : SOC_FAILED);
	if (rc == GSK_ERROR_IO && err)
		errno = err;
out:
	soc_put(s);
	return rc;
}

/* --- Through the port ------------------------------------------------------- */

static long long ns_left(const struct timespec *deadline)
{
	struct timespec now;
	long long left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (deadline->tv_sec - now.tv_sec) * 1000000000LL +
	       (deadline->tv_nsec - now.tv_nsec);
	return left > 0 ? left : 0;
}

/* operationWaitTime in ns (0: none), or -1 if the area is not valid. */
static long long area_wait(const Qso_OverlappedIO_t *a)
{
	static const char zero[sizeof(a->reserved3)];
	const struct timeval *tv = &a->operationWaitTime;

	if (a->reserved1 || a->reserved2 ||
	    memcmp(a->reserved3, zero, sizeof(zero)))
		return -1;
	if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
		return -1;
	if (tv->tv_sec >= LLONG_MAX / 1000000000LL - 1)
		return LLONG_MAX;
	return tv->tv_sec * 1000000000LL + tv->tv_usec * 1000LL;
}

/*
 * Submit one step of op for session s, unless s was closed: -ESHUTDOWN
 * then.  Under step_lock, so gsk_secure_soc_close()'s cancel sees it.
 */
static int soc_submit(struct gsk_soc *s, struct qso_port *p,
		      struct qso_op *op, struct cport_sqe *sqe)
{
	int ret;

	pthread_mutex_lock(&s->step_lock);
	ret = s->closed ? -ESHUTDOWN : qso_op_submit(p, op, sqe);
	pthread_mutex_unlock(&s->step_lock);
	return ret;
}

/* The result fields of op's area. */
static void set_result(struct qso_op *op, int rc, int err, int bytes)
{
	op->area.operationCompleted = op->kind;
	op->area.returnValue = rc;
	op->area.errnoValue = err;
	op->area.secureDataTransferSize = bytes;
}

/* The GSK code of a failed kernel step. */
static int step_error(struct gsk_soc *s, struct qso_op *op, long long res,
		      int *err)
{
	bool closed;

	pthread_mutex_lock(&gsk_lock);
	closed = s->closed;
	pthread_mutex_unlock(&gsk_lock);
	*err = 0;
	if (closed || res == -ESHUTDOWN)
		return GSK_OS400_ERROR_CLOSED;
	if (res == -ETIMEDOUT && op->timed)
		return GSK_OS400_ERROR_TIMED_OUT;
	if (res == -EBADMSG)
		return GSK_ERROR_BAD_MESSAGE;
	if (res == -EINVAL || res == -EIDRM)
		return GSK_OS400_ERROR_INVALID_IOCOMPLETIONPORT;
	*err = (int)-res;
	return GSK_ERROR_IO;
}

/*
 * Run the handshake of op from where it is: 1 when it is over (op's area
 * has the result), 0 when a zero-byte recv was submitted for its next
 * step (op is not ours to touch any more).
 */
static int hs_run(struct qso_port *p, struct qso_op *op)
{
	struct gsk_soc *s = op->ctx;
	int rc = GSK_OK, err = 0;
	struct cport_sqe sqe;
	long long left = 0;
	enum step st;

	for (;;) {
		st = hs_step(s, &rc, &err);
		if (st == STEP_DONE)
			break;
		if (s->hs_timed) {
			left = ns_left(&s->hs_deadline);
			if (!left) {
				rc = GSK_OS400_ERROR_TIMED_OUT;
				break;
			}
		}
		if (st == STEP_WRITE) {
			/* The socket buffer took no handshake flight. */
			struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

			poll(&pfd, 1, s->hs_timed ? (int)(left / 1000000) + 1
						  : -1);
			continue;
		}
		cport_prep_recv(&sqe, s->fd, NULL, 0, (uintptr_t)op, 0);
		sqe.flags = CPORT_SQE_INLINE;
		sqe.timeout_ns = (__u64)left;
		err = soc_submit(s, p, op, &sqe);
		if (err < 0) {
			rc = step_error(s, op, err, &err);
			break;
		}
		if (sqe.status != CPORT_STATUS_INLINE)
			return 0;
		if (sqe.res < 0) {
			rc = step_error(s, op, sqe.res, &err);
			break;
		}
	}
	soc_set_state(s, rc == GSK_OK ? SOC_READY : SOC_FAILED);
	set_result(op, rc, err, 0);
	return 1;
}

/* A session with nothing pending: send the peer a close_notify alert. */
static void send_close_notify(int fd)
{
	unsigned char alert[2] = { 1 /* warning */, ALERT_CLOSE_NOTIFY };
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	struct iovec iov = { alert, sizeof(alert) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*CMSG_DATA(cmsg) = REC_ALERT;
	sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * The record at the head of the socket's kTLS receive queue is not data
 * (the kernel's recv failed with EIO): read it with its type and deal
 * with it.  GSK_OK: skipped, receive again; else why the session ends.
 */
static int ktls_control(int fd, int *err)
{
	static __thread unsigned char rec[16384 + 256];
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	struct iovec iov = { rec, sizeof(rec) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	unsigned char type = 0;
	ssize_t n, i;

	*err = 0;
	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN)
			return GSK_OK;	/* taken already: receive again */
		*err = errno;
		return errno == EBADMSG ? GSK_ERROR_BAD_MESSAGE : GSK_ERROR_IO;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_TLS &&
		    cmsg->cmsg_type == TLS_GET_RECORD_TYPE)
			type = *CMSG_DATA(cmsg);
	if (type == REC_ALERT)
		return n >= 2 && rec[1] == ALERT_CLOSE_NOTIFY ?
		       GSK_ERROR_SOCKET_CLOSED : GSK_ERROR_BAD_MESSAGE;
	if (type != REC_HANDSHAKE)
		return GSK_ERROR_BAD_MESSAGE;
	/* Session tickets are of no use (no session cache); else give up. */
	for (i = 0; i + 4 <= n; ) {
		size_t len = (size_t)rec[i + 1] << 16 | rec[i + 2] << 8 |
			     rec[i + 3];

		if (rec[i] != HS_NEW_SESSION_TICKET)
			return GSK_ERROR_UNSUPPORTED;	/* KeyUpdate... */
		i += 4 + len;
	}
	return i == n ? GSK_OK : GSK_ERROR_BAD_MESSAGE;
}

/*
 * The result of a recv or send step: 1 with op's area filled in, or 0 if
 * a control record was dealt with and the recv must be submitted again.
 */
static int io_result(struct gsk_soc *s, struct qso_op *op, long long res,
		     unsigned long long bytes)
{
	int rc, err = 0;

	if (res >= 0) {
		if (!res && op->kind == GSKSECURESOCSTARTRECV)
			set_result(op, GSK_ERROR_SOCKET_CLOSED, 0, 0);
		else
			set_result(op, GSK_OK, 0, (int)res);
		return 1;
	}
	if (res == -EIO && op->kind == GSKSECURESOCSTARTRECV && !bytes) {
		rc = ktls_control(s->fd, &err);
		if (rc == GSK_OK)
			return 0;
		set_result(op, rc, err, 0);
		return 1;
	}
	rc = step_error(s, op, res, &err);
	set_result(op, rc, err, (int)bytes);
	return 1;
}

/* The sqe of op's recv or send (flags and time limit included). */
static void io_prep(struct qso_op *op, struct cport_sqe *sqe, long long wait)
{
	if (op->kind == GSKSECURESOCSTARTRECV)
		cport_prep_recv(sqe, op->fd, op->area.buffer,
				op->area.bufferLength, (uintptr_t)op,
				op->area.fillBuffer ? CPORT_RECV_FILL : 0);
	else
		cport_prep_send(sqe, op->fd, op->area.buffer,
				op->area.bufferLength, (uintptr_t)op);
	sqe->flags = CPORT_SQE_INLINE;
	sqe->timeout_ns = (__u64)wait;
}

/*
 * Submit op's recv or send until it is pending (0) or has a result (1,
 * in op's area).
 */
static int io_run(struct qso_port *p, struct qso_op *op)
{
	struct gsk_soc *s = op->ctx;
	struct cport_sqe sqe;
	int ret, rc, err;

	for (;;) {
		io_prep(op, &sqe, area_wait(&op->area));
		ret = soc_submit(s, p, op, &sqe);
		if (ret < 0) {
			rc = step_error(s, op, ret, &err);
			set_result(op, rc, err, 0);
			return 1;
		}
		if (sqe.status != CPORT_STATUS_INLINE)
			return 0;
		if (io_result(s, op, sqe.res, sqe.bytes))
			return 1;
	}
}

/* qso_layer.complete: a step of a handshake, recv or send completed. */
static int gsk_complete(struct qso_port *p, struct qso_op *op, long long res,
			unsigned long long bytes, bool done)
{
	struct gsk_soc *s = op->ctx;
	int ret, err;

	if (done) {
		ret = 1;
	} else if (op->kind == GSKSECURESOCSTARTINIT) {
		if (res < 0) {
			int rc = step_error(s, op, res, &err);

			set_result(op, rc, err, 0);
			soc_set_state(s, SOC_FAILED);
			ret = 1;
		} else {
			ret = hs_run(p, op);
		}
	} else {
		ret = io_result(s, op, res, bytes);
		if (!ret)
			ret = io_run(p, op);
	}
	if (ret)
		soc_put(s);	/* op's reference; the waiter frees op */
	return ret;
}

/* qso_layer.discard: op's port was destroyed with it pending. */
static void gsk_discard(struct qso_op *op)
{
	soc_put(op->ctx);
}

static const struct qso_layer gsk_layer = {
	.complete = gsk_complete,
	.discard = gsk_discard,
};

/*
 * op finished at the start call.  With postFlag, its result goes to the
 * port all the same; else into the caller's area, nothing posted.
 */
static int start_done(struct gsk_soc *s, struct qso_port *p,
		      struct qso_op *op, Qso_OverlappedIO_t *area,
		      int async_rc)
{
	if (area->postFlag || op->kind == GSKSECURESOCSTARTINIT) {
		if (!qso_op_post(p, op)) {
			area->postFlagResult = 1;
			return async_rc;	/* op's reference goes with it */
		}
	}
	area->operationCompleted = op->area.operationCompleted;
	area->returnValue = op->area.returnValue;
	area->errnoValue = op->area.errnoValue;
	area->secureDataTransferSize = op->area.secureDataTransferSize;
	qso_op_free(op);
	soc_put(s);
	return area->returnValue;
}

/* What every start call checks, in this order; GSK_OK or the error. */
static int start_check(struct gsk_soc *s, Qso_OverlappedIO_t *area,
		       struct qso_port **p, int port)
{
	if (!s)
		return GSK_INVALID_HANDLE;
	if (!area || area_wait(area) < 0)
		return GSK_OS400_ERROR_INVALID_OVERLAPPEDIO_T;
	*p = qso_port_get(port);
	if (!*p)
		return GSK_OS400_ERROR_INVALID_IOCOMPLETIONPORT;
	return GSK_OK;
}

int gsk_secure_soc_startInit(gsk_handle my_session_handle,
			     int IOCompletionPort,
			     Qso_OverlappedIO_t *communicationsArea)
{
	struct gsk_soc *s = soc_get(my_session_handle);
	Qso_OverlappedIO_t *area = communicationsArea;
	struct qso_port *p = NULL;
	struct qso_op *op;
	long long wait;
	int rc;

	rc = start_check(s, area, &p, IOCompletionPort);
	if (rc != GSK_OK)
		goto fail;
	pthread_mutex_lock(&gsk_lock);
	if (s->state != SOC_OPEN)
		rc = GSK_INVALID_STATE;
	else if (s->fd < 0)
		rc = GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR;
	else
		s->state = SOC_HANDSHAKE;
	pthread_mutex_unlock(&gsk_lock);
	if (rc != GSK_OK)
		goto fail;
	op = qso_op_new(GSKSECURESOCSTARTINIT, s->fd, area, &gsk_layer, s);
	if (!op) {
		soc_set_state(s, SOC_OPEN);
		rc = GSK_INSUFFICIENT_STORAGE;
		goto fail;
	}
	/* IBM returns no buffer, length or flags for a startInit. */
	op->area.buffer = NULL;
	op->area.bufferLength = 0;
	op->area.postFlag = 0;
	op->area.fillBuffer = 0;
	wait = area_wait(area);
	s->hs_timed = wait > 0;
	if (s->hs_timed) {
		clock_gettime(CLOCK_MONOTONIC, &s->hs_deadline);
		s->hs_deadline.tv_sec += wait / 1000000000LL;
		s->hs_deadline.tv_nsec += wait % 1000000000LL;
		if (s->hs_deadline.tv_nsec >= 1000000000L) {
			s->hs_deadline.tv_sec++;
			s->hs_deadline.tv_nsec -= 1000000000L;
		}
	}
	area->postFlagResult = 0;
	if (hs_run(p, op))	/* over at once: failed, most likely */
		rc = start_done(s, p, op, area,
				GSK_OS400_ASYNCHRONOUS_SOC_INIT);
	else
		rc = GSK_OS400_ASYNCHRONOUS_SOC_INIT;
	qso_port_put(p);
	return rc;	/* s's reference went to op */
fail:
	if (p)
		qso_port_put(p);
	if (s)
		soc_put(s);
	return rc;
}

static int soc_start_io(int kind, gsk_handle h, int port,
			Qso_OverlappedIO_t *area)
{
	struct gsk_soc *s = soc_get(h);
	struct qso_port *p = NULL;
	struct qso_op *op;
	int rc, async_rc = kind == GSKSECURESOCSTARTRECV ?
			   GSK_OS400_ASYNCHRONOUS_RECV :
			   GSK_OS400_ASYNCHRONOUS_SEND;

	rc = start_check(s, area, &p, port);
	if (rc != GSK_OK)
		goto fail;
	if (!area->buffer) {
		rc = GSK_OS400_ERROR_INVALID_POINTER;
		goto fail;
	}
	if (!area->bufferLength || area->bufferLength > INT_MAX) {
		rc = GSK_INVALID_BUFFER_SIZE;
		goto fail;
	}
	if (soc_state(s) != SOC_READY) {
		rc = GSK_INVALID_STATE;
		goto fail;
	}
	op = qso_op_new(kind, s->fd, area, &gsk_layer, s);
	if (!op) {
		rc = GSK_INSUFFICIENT_STORAGE;
		goto fail;
	}
	area->postFlagResult = 0;
	if (io_run(p, op))
		rc = start_done(s, p, op, area, async_rc);
	else
		rc = async_rc;
	qso_port_put(p);
	return rc;
fail:
	if (p)
		qso_port_put(p);
	if (s)
		soc_put(s);
	return rc;
}

int gsk_secure_soc_startRecv(gsk_handle my_session_handle,
			     int IOCompletionPort,
			     Qso_OverlappedIO_t *communicationsArea)
{
	return soc_start_io(GSKSECURESOCSTARTRECV, my_session_handle,
			    IOCompletionPort, communicationsArea);
}

int gsk_secure_soc_startSend(gsk_handle my_session_handle,
			     int IOCompletionPort,
			     Qso_OverlappedIO_t *communicationsArea)
{
	return soc_start_io(GSKSECURESOCSTARTSEND, my_session_handle,
			    IOCompletionPort, communicationsArea);
}

/* --- Synchronous data calls -------------------------------------------------- */

int gsk_secure_soc_read(gsk_handle my_session_handle, char *readBuffer,
			int readBufSize, int *amtRead)
{
	struct gsk_soc *s = soc_get(my_session_handle);
	int rc = GSK_OK, err = 0;
	ssize_t n;

	if (!s)
		return GSK_INVALID_HANDLE;
	if (!readBuffer || !amtRead)
		rc = GSK_OS400_ERROR_INVALID_POINTER;
	else if (readBufSize <= 0)
		rc = GSK_INVALID_BUFFER_SIZE;
	else if (soc_state(s) != SOC_READY)
		rc = GSK_INVALID_STATE;
	while (rc == GSK_OK) {
		n = recv(s->fd, readBuffer, readBufSize, 0);
		if (n > 0) {
			*amtRead = (int)n;
			break;
		}
		if (!n) {
			rc = GSK_ERROR_SOCKET_CLOSED;
		} else if (errno == EIO) {
			rc = ktls_control(s->fd, &err);
		} else if (errno == EAGAIN) {
			rc = GSK_WOULD_BLOCK;
		} else if (errno != EINTR) {
			err = errno;
			rc = err == EBADMSG ? GSK_ERROR_BAD_MESSAGE :
					      GSK_ERROR_IO;
		}
	}
	soc_put(s);
	if (err)
		errno = err;
	return rc;
}

int gsk_secure_soc_write(gsk_handle my_session_handle, char *writeBuffer,
			 int writeBufSize, int *amtWritten)
{
	struct gsk_soc *s = soc_get(my_session_handle);
	int rc = GSK_OK, err = 0, done = 0;
	ssize_t n;

	if (!s)
		return GSK_INVALID_HANDLE;
	if (!writeBuffer || !amtWritten)
		rc = GSK_OS400_ERROR_INVALID_POINTER;
	else if (writeBufSize <= 0)
		rc = GSK_INVALID_BUFFER_SIZE;
	else if (soc_state(s) != SOC_READY)
		rc = GSK_INVALID_STATE;
	while (rc == GSK_OK && done < writeBufSize) {
		n = send(s->fd, writeBuffer + done, writeBufSize - done,
			 MSG_NOSIGNAL);
		if (n >= 0) {
			done += (int)n;
		} else if (errno == EAGAIN) {
			rc = done ? GSK_OK : GSK_WOULD_BLOCK;
			break;
		} else if (errno != EINTR) {
			err = errno;
			rc = GSK_ERROR_IO;
		}
	}
	if (amtWritten)
		*amtWritten = done;
	soc_put(s);
	if (err)
		errno = err;
	return rc;
}

int gsk_secure_soc_close(gsk_handle *my_session_handle)
{
	struct gsk_soc *s;
	bool idle;

	if (!my_session_handle)
		return GSK_OS400_ERROR_INVALID_POINTER;
	pthread_mutex_lock(&gsk_lock);
	s = *my_session_handle;
	if (!s || !__obj_live(s, GSK_MAGIC_SOC)) {
		pthread_mutex_unlock(&gsk_lock);
		return GSK_INVALID_HANDLE;
	}
	__obj_del(&s->obj);
	pthread_mutex_unlock(&gsk_lock);

	/* Its pending operations complete with GSK_OS400_ERROR_CLOSED. */
	pthread_mutex_lock(&s->step_lock);
	pthread_mutex_lock(&gsk_lock);
	s->closed = true;
	idle = s->refs == 1;
	pthread_mutex_unlock(&gsk_lock);
	qso_cancel_ctx(s);
	pthread_mutex_unlock(&s->step_lock);
	if (idle && soc_state(s) == SOC_READY)
		send_close_notify(s->fd);
	*my_session_handle = NULL;
	soc_put(s);
	return GSK_OK;
}

const char *gsk_strerror(int gsk_return_value)
{
	switch (gsk_return_value) {
	case GSK_OK: return "no error";
	case GSK_INVALID_HANDLE: return "the handle is not valid";
	case GSK_API_NOT_AVAILABLE: return "the call is not available";
	case GSK_INTERNAL_ERROR: return "internal error";
	case GSK_INSUFFICIENT_STORAGE: return "not enough storage";
	case GSK_INVALID_STATE: return "the handle is not in a state for this call";
	case GSK_ERROR_CERT_VALIDATION: return "the certificate failed validation";
	case GSK_KEYRING_OPEN_ERROR: return "the keyring file could not be opened";
	case GSK_ERROR_NO_CERTIFICATE: return "no certificate and private key for a server session";
	case GSK_ERROR_BAD_CERTIFICATE: return "the keyring's certificate does not go with its key";
	case GSK_ERROR_IO: return "an I/O error on the socket (see errnoValue or errno)";
	case GSK_ERROR_BAD_KEYFILE_PASSWORD: return "the keyring password does not open its private key";
	case GSK_ERROR_BAD_MESSAGE: return "a bad or unexpected message from the peer";
	case GSK_ERROR_UNSUPPORTED: return "not supported";
	case GSK_ERROR_SOCKET_CLOSED: return "the peer closed the session";
	case GSK_INVALID_BUFFER_SIZE: return "the buffer size is not valid";
	case GSK_WOULD_BLOCK: return "the call would block on a non-blocking socket";
	case GSK_ATTRIBUTE_INVALID_ID: return "the attribute identifier is not valid here";
	case GSK_ATTRIBUTE_INVALID_LENGTH: return "the attribute's length is not valid";
	case GSK_ATTRIBUTE_INVALID_ENUMERATION: return "the attribute's value is not valid";
	case GSK_ATTRIBUTE_INVALID_NUMERIC_VALUE: return "the attribute's number is not valid";
	case GSK_OS400_ERROR_NOT_TRUSTED_ROOT: return "the peer's certificate is not signed by a trusted signer";
	case GSK_OS400_ERROR_CLOSED: return "the session was closed";
	case GSK_OS400_ERROR_NOT_TCP: return "the descriptor is not a TCP socket";
	case GSK_OS400_ERROR_INVALID_POINTER: return "a pointer argument is not valid";
	case GSK_OS400_ERROR_TIMED_OUT: return "the operation timed out";
	case GSK_OS400_ASYNCHRONOUS_RECV: return "the receive was started";
	case GSK_OS400_ASYNCHRONOUS_SEND: return "the send was started";
	case GSK_OS400_ERROR_INVALID_OVERLAPPEDIO_T: return "the Qso_OverlappedIO_t is not valid";
	case GSK_OS400_ERROR_INVALID_IOCOMPLETIONPORT: return "the I/O completion port is not valid";
	case GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR: return "the socket descriptor is not valid";
	case GSK_OS400_ASYNCHRONOUS_SOC_INIT: return "the handshake was started";
	default: return "unknown GSK return value";
	}
}
