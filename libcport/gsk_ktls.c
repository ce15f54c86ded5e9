/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport-qso's GSKit calls: the session on kernel TLS.  OpenSSL 3.0
 * installs the transmit key (SSL_OP_ENABLE_KTLS), and the receive key for
 * TLS 1.2; for TLS 1.3, whose kTLS receive side OpenSSL 3.0 does not do,
 * the receive key is derived here from the traffic secret OpenSSL reports
 * (its keylog callback) with OpenSSL's TLS 1.3 KDF, and installed with
 * TLS_RX.  A record that is not data fails the kernel's recv with EIO;
 * ktls_control() reads it with its type and deals with it.
 */
#include <errno.h>
#include <linux/tls.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "gsk_internal.h"

/* TLS record content types and handshake message types. */
#define REC_ALERT		21
#define REC_HANDSHAKE		22
#define HS_NEW_SESSION_TICKET	4
#define ALERT_CLOSE_NOTIFY	0

/* OpenSSL's keylog line: keep the secret the session will receive with. */
void keylog(const SSL *ssl, const char *line)
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
int ktls_finish(struct gsk_soc *s)
{
	if (!BIO_get_ktls_send(SSL_get_wbio(s->ssl)))
		return GSK_ERROR_UNSUPPORTED;
	if (!BIO_get_ktls_recv(SSL_get_rbio(s->ssl)) &&
	    (SSL_version(s->ssl) != TLS1_3_VERSION || ktls_rx13(s)))
		return GSK_ERROR_UNSUPPORTED;
	return GSK_OK;
}

/* A session with nothing pending: send the peer a close_notify alert. */
void send_close_notify(int fd)
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
int ktls_control(int fd, int *err)
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
