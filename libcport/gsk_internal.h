/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * gsk_internal.h: what the three files of libcport-qso's GSKit calls
 * share (internal: hidden, never installed).
 *
 *   gsk.c       handles, environments, sessions, the handshake step, the
 *               synchronous calls
 *   gsk_port.c  the calls through a port: startInit, startRecv, startSend
 *               (a layer of qso.c, qso_layer.h)
 *   gsk_ktls.c  kernel TLS: the TLS 1.3 receive key, records that are not
 *               data, close_notify
 *
 * Locks, in the order they nest: a session's step_lock (held across a
 * submission and by close while it cancels, so that no operation is
 * submitted on a closed session), qso.c's qso_lock, gsk_lock (the list of
 * handles, reference counts, session states).
 */
#ifndef LIBCPORT_GSK_INTERNAL_H
#define LIBCPORT_GSK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <openssl/ssl.h>

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

QSO_HIDDEN extern pthread_mutex_t gsk_lock;

/* gsk.c */
QSO_HIDDEN struct gsk_soc *soc_get(gsk_handle h);
QSO_HIDDEN void soc_put(struct gsk_soc *s);
QSO_HIDDEN enum soc_state soc_state(struct gsk_soc *s);
QSO_HIDDEN void soc_set_state(struct gsk_soc *s, enum soc_state st);

enum step { STEP_DONE, STEP_READ, STEP_WRITE };
QSO_HIDDEN enum step hs_step(struct gsk_soc *s, int *rc, int *err);

/* gsk_ktls.c */
QSO_HIDDEN void keylog(const SSL *ssl, const char *line);
QSO_HIDDEN int ktls_finish(struct gsk_soc *s);
QSO_HIDDEN int ktls_control(int fd, int *err);
QSO_HIDDEN void send_close_notify(int fd);

#endif /* LIBCPORT_GSK_INTERNAL_H */
