/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport-qso's GSKit calls through a port: gsk_secure_soc_startInit,
 * startRecv and startSend, a layer of qso.c (qso_layer.h).
 *
 * When OpenSSL wants to read, the handshake submits a zero-byte cport
 * recv on the port: it pins no buffer and completes when the socket is
 * readable.  The thread that dequeues it in QsoWaitForIOCompletion() runs
 * the next handshake step (gsk_complete()), and so on until the handshake
 * is done; only then is a completion returned to the application.  No
 * thread waits for the peer.  Once the session is on kernel TLS, a
 * startRecv or startSend is one cport recv or send on the socket.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include "gsk_internal.h"

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

