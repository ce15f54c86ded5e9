/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport-qso: IBM i's GSKit secure socket calls (<gskssl.h>) on the
 * system's OpenSSL and kernel TLS, the asynchronous ones completing
 * through the ports of qso.c (gskssl(3) says what each call does).  This
 * file: handles, environments, sessions, the handshake step (OpenSSL's,
 * run non-blocking on the socket), the synchronous calls.  gsk_port.c has
 * the calls through a port, gsk_ktls.c the move to kernel TLS
 * (gsk_internal.h: what they share, and the locks).
 *
 * Handles.  Environments and sessions are registered on a list, so a
 * stale or made-up handle is recognised (GSK_INVALID_HANDLE) rather than
 * used.  A session is referenced by its handle and by each of its
 * operations on a port; gsk_secure_soc_close() takes it off the list and
 * cancels its operations, and the last reference frees it.

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

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "gsk_internal.h"

#ifndef SOL_TLS
#define SOL_TLS		282
#endif

pthread_mutex_t gsk_lock = PTHREAD_MUTEX_INITIALIZER;
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
struct gsk_soc *soc_get(gsk_handle h)
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

void soc_put(struct gsk_soc *s)
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

enum soc_state soc_state(struct gsk_soc *s)
{
	enum soc_state st;

	pthread_mutex_lock(&gsk_lock);
	st = s->state;
	pthread_mutex_unlock(&gsk_lock);
	return st;
}

void soc_set_state(struct gsk_soc *s, enum soc_state st)
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

/*
 * One run of OpenSSL's handshake on the socket, non-blocking for the run
 * (the socket's own mode is put back after), SIGPIPE held back (OpenSSL
 * writes with write(2)).  STEP_DONE with *rc set, or what it waits for.
 */
enum step hs_step(struct gsk_soc *s, int *rc, int *err)
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
