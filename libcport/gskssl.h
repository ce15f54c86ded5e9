/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * gskssl.h: IBM i's secure sockets calls (GSKit, <gskssl.h>) on top of
 * cport and the system's OpenSSL, with the asynchronous ones completing
 * through the I/O completion ports of <qsoasync.h>.  Part of libcport-qso.
 *
 * The names, argument shapes and the meaning of the results are IBM's;
 * the numeric values of the constants are ours (GSK_OK is 0), so a
 * program must use the names.  gskssl(3) says what each call does and
 * where the Linux port differs (key store: PEM files, not a *SYSTEM
 * keyring or a .KDB).
 *
 * The handshake is OpenSSL's; once it is done the session runs on kernel
 * TLS, so gsk_secure_soc_startRecv() and gsk_secure_soc_startSend() are
 * single cport recv and send operations on the socket.
 */
#ifndef LIBCPORT_GSKSSL_H
#define LIBCPORT_GSKSSL_H

#include "qsoasync.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *gsk_handle;

/* Return codes. */
enum {
	GSK_OK					= 0,
	GSK_INVALID_HANDLE			= 1,
	GSK_API_NOT_AVAILABLE			= 2,
	GSK_INTERNAL_ERROR			= 3,
	GSK_INSUFFICIENT_STORAGE		= 4,
	GSK_INVALID_STATE			= 5,
	GSK_ERROR_CERT_VALIDATION		= 8,
	GSK_KEYRING_OPEN_ERROR			= 202,
	GSK_ERROR_NO_CERTIFICATE		= 403,
	GSK_ERROR_BAD_CERTIFICATE		= 404,
	GSK_ERROR_IO				= 406,
	GSK_ERROR_BAD_KEYFILE_PASSWORD		= 408,
	GSK_ERROR_BAD_MESSAGE			= 410,
	GSK_ERROR_UNSUPPORTED			= 412,
	GSK_ERROR_SOCKET_CLOSED			= 420,
	GSK_INVALID_BUFFER_SIZE			= 501,
	GSK_WOULD_BLOCK				= 502,
	GSK_ATTRIBUTE_INVALID_ID		= 701,
	GSK_ATTRIBUTE_INVALID_LENGTH		= 702,
	GSK_ATTRIBUTE_INVALID_ENUMERATION	= 703,
	GSK_ATTRIBUTE_INVALID_NUMERIC_VALUE	= 705,
	GSK_OS400_ERROR_NOT_TRUSTED_ROOT	= 6000,
	GSK_OS400_ERROR_CLOSED			= 6004,
	GSK_OS400_ERROR_NOT_TCP			= 6009,
	GSK_OS400_ERROR_INVALID_POINTER		= 6010,
	GSK_OS400_ERROR_TIMED_OUT		= 6011,
	GSK_OS400_ASYNCHRONOUS_RECV		= 6012,
	GSK_OS400_ASYNCHRONOUS_SEND		= 6013,
	GSK_OS400_ERROR_INVALID_OVERLAPPEDIO_T	= 6014,
	GSK_OS400_ERROR_INVALID_IOCOMPLETIONPORT = 6015,
	GSK_OS400_ERROR_BAD_SOCKET_DESCRIPTOR	= 6016,
	GSK_OS400_ASYNCHRONOUS_SOC_INIT		= 6019
};
/* The older spellings IBM keeps. */
#define GSK_AS400_ASYNCHRONOUS_RECV	GSK_OS400_ASYNCHRONOUS_RECV
#define GSK_AS400_ASYNCHRONOUS_SEND	GSK_OS400_ASYNCHRONOUS_SEND

/* gsk_attribute_set_buffer() */
typedef enum {
	GSK_KEYRING_FILE		= 201,	/* PEM file (see gskssl(3)) */
	GSK_KEYRING_PW			= 202,	/* its private key's passphrase */
	GSK_OS400_APPLICATION_ID	= 6999	/* not on Linux: no DCM */
} GSK_BUF_ID;

/* gsk_attribute_set_numeric_value() */
typedef enum {
	GSK_FD				= 300	/* the connected socket */
} GSK_NUM_ID;

/* gsk_attribute_set_enum(): which setting ... */
typedef enum {
	GSK_SESSION_TYPE		= 402,
	GSK_PROTOCOL_SSLV2		= 403,
	GSK_PROTOCOL_SSLV3		= 404,
	GSK_PROTOCOL_TLSV1		= 407,
	GSK_PROTOCOL_TLSV11		= 438,
	GSK_PROTOCOL_TLSV12		= 439,
	GSK_PROTOCOL_TLSV13		= 440
} GSK_ENUM_ID;

/* ... and its value. */
typedef enum {
	GSK_TRUE			= 501,
	GSK_FALSE			= 502,
	GSK_CLIENT_SESSION		= 507,
	GSK_SERVER_SESSION		= 508,
	GSK_SERVER_SESSION_WITH_CL_AUTH	= 509,
	GSK_PROTOCOL_SSLV2_ON		= GSK_TRUE,
	GSK_PROTOCOL_SSLV2_OFF		= GSK_FALSE,
	GSK_PROTOCOL_SSLV3_ON		= GSK_TRUE,
	GSK_PROTOCOL_SSLV3_OFF		= GSK_FALSE,
	GSK_PROTOCOL_TLSV1_ON		= GSK_TRUE,
	GSK_PROTOCOL_TLSV1_OFF		= GSK_FALSE
} GSK_ENUM_VALUE;

int gsk_environment_open(gsk_handle *my_env_handle);
int gsk_attribute_set_buffer(gsk_handle my_gsk_handle, GSK_BUF_ID bufID,
			     const char *buffer, int bufSize);
int gsk_attribute_set_enum(gsk_handle my_gsk_handle, GSK_ENUM_ID enumID,
			   GSK_ENUM_VALUE enumValue);
int gsk_attribute_set_numeric_value(gsk_handle my_gsk_handle,
				    GSK_NUM_ID numID, int numValue);
int gsk_environment_init(gsk_handle my_env_handle);
int gsk_environment_close(gsk_handle *my_env_handle);

int gsk_secure_soc_open(gsk_handle my_env_handle,
			gsk_handle *my_session_handle);
int gsk_secure_soc_init(gsk_handle my_session_handle);
int gsk_secure_soc_startInit(gsk_handle my_session_handle,
			     int IOCompletionPort,
			     Qso_OverlappedIO_t *communicationsArea);
int gsk_secure_soc_read(gsk_handle my_session_handle, char *readBuffer,
			int readBufSize, int *amtRead);
int gsk_secure_soc_write(gsk_handle my_session_handle, char *writeBuffer,
			 int writeBufSize, int *amtWritten);
int gsk_secure_soc_startRecv(gsk_handle my_session_handle,
			     int IOCompletionPort,
			     Qso_OverlappedIO_t *communicationsArea);
int gsk_secure_soc_startSend(gsk_handle my_session_handle,
			     int IOCompletionPort,
			     Qso_OverlappedIO_t *communicationsArea);
int gsk_secure_soc_close(gsk_handle *my_session_handle);

const char *gsk_strerror(int gsk_return_value);

#ifdef __cplusplus
}
#endif

#endif /* LIBCPORT_GSKSSL_H */
