/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libcport: IBM i's Qso* asynchronous I/O calls on cport (qsoasync.h says
 * what they do and how they map).
 *
 * State.  Each port created here has a struct qso_port, found by its
 * descriptor in a table (fdtab.h).  Each operation (and each user post)
 * has a struct qso_op: a copy of the caller's communications area, and
 * the cookie (user_data) of the cport operation, so the completion brings
 * it back to QsoWaitForIOCompletion().  A port keeps its operations on a list
 * so that QsoCancelOperation() can find them by socket and operationId,
 * and QsoDestroyIOCompletionPort() can free those whose completions the
 * kernel discards.
 *
 * Lifetime.  The table holds one reference to a port; every call that
 * uses the descriptor holds another while it does.  Destroy takes the
 * port out of the table and destroys the cport port (waiters return
 * EDESTROYED); the descriptor is closed, and the remaining operations
 * freed, when the last reference goes.  A waiter that dequeued a
 * completion unlinks its operation before it lets go of the port, so an
 * operation is never freed under it, and the descriptor number cannot be
 * reused by another port while a call still uses it.
 *
 * Layered operations (qso_layer.h: the GSKit TLS calls of gsk.c) are
 * qso_ops too, on the same lists; the waiter that dequeues one of their
 * completions lets the layer run the next step before anything is
 * returned.
 *
 * One mutex (qso_lock) protects the table's slots, the reference counts
 * and the operation lists.  It is held across no blocking call;
 * QsoCancelOperation holds it across the non-blocking cancel ioctls so
 * that the operations it names stay allocated.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cport.h"
#include "fdtab.h"
#include "qso_layer.h"
#include "qsoasync.h"

struct qso_port {
	int fd;			/* -1 once the descriptor is not ours */
	int refs;
	struct qso_op ops;	/* list head: operations not yet returned */
};

static pthread_mutex_t qso_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fdtab qso_ports = FDTAB_INIT(struct qso_port *);
static int qso_nr;			/* ports in the table or being made */

static int qso_fail(int err)
{
	errno = err;
	return -1;
}

/* @handle's slot in the table, NULL if none was made.  qso_lock held. */
static struct qso_port **port_slot(int handle)
{
	return fdtab_get(&qso_ports, handle, false);
}

static struct qso_port *port_get(int handle)
{
	struct qso_port **slot, *p = NULL;

	pthread_mutex_lock(&qso_lock);
	slot = port_slot(handle);
	if (slot && *slot) {
		p = *slot;
		p->refs++;
	}
	pthread_mutex_unlock(&qso_lock);
	return p;
}

/* Called with qso_lock held; the last reference frees the port. */
static void __port_put(struct qso_port *p)
{
	struct qso_op *op, *next;

	if (--p->refs)
		return;
	for (op = p->ops.next; op != &p->ops; op = next) {
		next = op->next;
		if (op->layer)
			op->layer->discard(op);
		if (op->accepted_fd >= 0)
			close(op->accepted_fd);
		free(op);
	}
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void port_put(struct qso_port *p)
{
	pthread_mutex_lock(&qso_lock);
	__port_put(p);
	pthread_mutex_unlock(&qso_lock);
}

static void op_link(struct qso_port *p, struct qso_op *op)
{
	pthread_mutex_lock(&qso_lock);
	op->next = &p->ops;
	op->prev = p->ops.prev;
	p->ops.prev->next = op;
	p->ops.prev = op;
	pthread_mutex_unlock(&qso_lock);
}

static void op_unlink(struct qso_op *op)
{
	pthread_mutex_lock(&qso_lock);
	op->prev->next = op->next;
	op->next->prev = op->prev;
	op->next = op->prev = op;
	pthread_mutex_unlock(&qso_lock);
}

/*
 * The reserved fields must be zero and a time limit valid.  Returns the
 * operationWaitTime in nanoseconds (0: none), or -EINVAL.
 */
static long long area_check(const Qso_OverlappedIO_t *a)
{
	static const char zero[sizeof(a->reserved3)];
	const struct timeval *tv = &a->operationWaitTime;

	if (a->reserved1 || a->reserved2 ||
	    memcmp(a->reserved3, zero, sizeof(zero)))
		return -EINVAL;
	if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
		return -EINVAL;
	if (tv->tv_sec >= LLONG_MAX / 1000000000LL - 1)
		return LLONG_MAX;
	return tv->tv_sec * 1000000000LL + tv->tv_usec * 1000LL;
}

/* The result fields of @dst from a cport result. */
static void fill_result(Qso_OverlappedIO_t *dst, const struct qso_op *op,
			long long res, unsigned long long bytes)
{
	int err;

	dst->operationCompleted = op->kind;
	if (res >= 0) {
		dst->returnValue = res > INT_MAX ? INT_MAX : (int)res;
		dst->errnoValue = 0;
		return;
	}
	err = (int)-res;
	if (err == ETIMEDOUT && op->timed)
		err = EAGAIN;		/* IBM: operationWaitTime expired */
	dst->returnValue = bytes ? (bytes > INT_MAX ? INT_MAX : (int)bytes)
				 : -1;
	dst->errnoValue = err;
}

/* The ports of the table other than @self, each with a reference. */
struct others {
	struct qso_port *self;
	int n;
	struct qso_port *v[QSO_MAX_IOCOMPLETIONPORTS];
};

/* fdtab_for_each() callback; qso_lock held. */
static void collect_other(int fd, void *slot, void *arg)
{
	struct qso_port *p = *(struct qso_port **)slot;
	struct others *o = arg;

	/* The table holds qso_nr <= QSO_MAX_IOCOMPLETIONPORTS ports. */
	if (p && p != o->self && o->n < QSO_MAX_IOCOMPLETIONPORTS) {
		p->refs++;
		o->v[o->n++] = p;
	}
}

/*
 * Associate @sd with @p, moving it from another port of ours if it has
 * nothing pending there.  Returns 0 or -errno.
 */
static int qso_associate(struct qso_port *p, int sd)
{
	struct others o = { .self = p };
	int ret, i, moved = 0;

	ret = cport_associate(p->fd, sd, (__u64)sd, 0);
	if (ret != -EBUSY)
		return ret == -EEXIST ? 0 : ret;

	pthread_mutex_lock(&qso_lock);
	fdtab_for_each(&qso_ports, collect_other, &o);
	pthread_mutex_unlock(&qso_lock);
	for (i = 0; i < o.n; i++) {
		if (!moved && !cport_dissociate(o.v[i]->fd, sd))
			moved = 1;
		port_put(o.v[i]);
	}
	if (!moved)
		return -EBUSY;	/* pending operations on another port */
	ret = cport_associate(p->fd, sd, (__u64)sd, 0);
	return ret == -EEXIST ? 0 : ret;
}

/* Submit one socket operation, associating the socket on first use. */
static int qso_submit(struct qso_port *p, struct cport_sqe *sqe, int sd)
{
	int ret = cport_submit(p->fd, sqe, 1);

	if (ret == -ENOENT) {
		ret = qso_associate(p, sd);
		if (!ret)
			ret = cport_submit(p->fd, sqe, 1);
	}
	if (ret == -EIDRM)
		ret = -EINVAL;		/* destroyed meanwhile: not valid */
	return ret < 0 ? ret : 0;
}

static int qso_start(int kind, int sd, int port, Qso_OverlappedIO_t *area)
{
	struct cport_sqe sqe;
	struct qso_port *p;
	struct qso_op *op;
	long long timeout;
	void *buf;
	int ret;

	if (!area)
		return qso_fail(EFAULT);
	timeout = area_check(area);
	if (timeout < 0)
		return qso_fail(EINVAL);
	/* A zero-byte recv would complete with 0, which means end of file. */
	if (kind == QSOSTARTRECV && !area->bufferLength)
		return qso_fail(EINVAL);
	p = port_get(port);
	if (!p)
		return qso_fail(EINVAL);
	op = calloc(1, sizeof(*op));
	if (!op) {
		port_put(p);
		return qso_fail(ENOMEM);
	}
	op->kind = kind;
	op->fd = sd;
	op->timed = timeout > 0;
	op->accepted_fd = -1;
	op->area = *area;

	buf = area->bufferLength ? area->buffer : NULL;	/* send: 0 bytes */
	switch (kind) {
	case QSOSTARTRECV:
		cport_prep_recv(&sqe, sd, buf, area->bufferLength,
				(uintptr_t)op,
				area->fillBuffer ? CPORT_RECV_FILL : 0);
		break;
	case QSOSTARTSEND:
		cport_prep_send(&sqe, sd, buf, area->bufferLength,
				(uintptr_t)op);
		break;
	default:
		/* IBM returns no buffer, length or flags for an accept. */
		op->area.buffer = NULL;
		op->area.bufferLength = 0;
		op->area.postFlag = 0;
		op->area.fillBuffer = 0;
		cport_prep_accept(&sqe, sd, NULL, 0, (uintptr_t)op, 0, 0);
		break;
	}
	sqe.flags = CPORT_SQE_INLINE;
	sqe.timeout_ns = (__u64)timeout;

	op_link(p, op);
	ret = qso_submit(p, &sqe, sd);
	if (ret < 0) {
		op_unlink(op);
		free(op);
		port_put(p);
		return qso_fail(-ret);
	}
	area->postFlagResult = 0;
	if (sqe.status != CPORT_STATUS_INLINE) {
		/* Pending: the completion owns op from here on. */
		port_put(p);
		return 1;
	}
	if (area->postFlag) {
		/* Completed at once, to be posted all the same. */
		pthread_mutex_lock(&qso_lock);
		op->done = true;
		if (kind == QSOSTARTACCEPT && sqe.res >= 0)
			op->accepted_fd = (int)sqe.res;
		pthread_mutex_unlock(&qso_lock);
		if (!cport_post(p->fd, (__u64)sd, (uintptr_t)op, sqe.res,
				sqe.bytes)) {
			area->postFlagResult = 1;
			port_put(p);
			return 1;
		}
		/* The queue is full: return the result rather than lose it. */
		op->accepted_fd = -1;
	}
	fill_result(area, op, sqe.res, sqe.bytes);
	op_unlink(op);
	free(op);
	port_put(p);
	return 0;
}

int QsoStartRecv(int socketDescriptor, int IOCompletionPort,
		 Qso_OverlappedIO_t *communicationsArea)
{
	return qso_start(QSOSTARTRECV, socketDescriptor, IOCompletionPort,
			 communicationsArea);
}

int QsoStartSend(int socketDescriptor, int IOCompletionPort,
		 Qso_OverlappedIO_t *communicationsArea)
{
	return qso_start(QSOSTARTSEND, socketDescriptor, IOCompletionPort,
			 communicationsArea);
}

int QsoStartAccept(int socketDescriptor, int IOCompletionPort,
		   Qso_OverlappedIO_t *communicationsArea)
{
	return qso_start(QSOSTARTACCEPT, socketDescriptor, IOCompletionPort,
			 communicationsArea);
}

int QsoPostIOCompletion(int IOCompletionPort,
			Qso_OverlappedIO_t *communicationsArea)
{
	Qso_OverlappedIO_t *area = communicationsArea;
	struct cport_sqe sqe;
	struct qso_port *p;
	struct qso_op *op;
	long long timeout;
	int ret;

	if (!area)
		return qso_fail(EFAULT);
	timeout = area_check(area);
	if (timeout < 0)
		return qso_fail(EINVAL);
	p = port_get(IOCompletionPort);
	if (!p)
		return qso_fail(EINVAL);
	op = calloc(1, sizeof(*op));
	if (!op) {
		port_put(p);
		return qso_fail(ENOMEM);
	}
	op->kind = QSOPOSTIOCOMPLETION;
	op->fd = -1;
	op->accepted_fd = -1;
	op->area = *area;
	/* A delayed post arrives with returnValue -1, errnoValue EAGAIN. */
	cport_prep_post(&sqe, 0, (uintptr_t)op, timeout ? -EAGAIN : 0, 0);
	sqe.timeout_ns = (__u64)timeout;

	op_link(p, op);
	ret = cport_submit(p->fd, &sqe, 1);
	if (ret < 0) {
		op_unlink(op);
		free(op);
		port_put(p);
		return qso_fail(ret == -EIDRM ? EINVAL : -ret);
	}
	port_put(p);
	area->returnValue = 0;
	area->errnoValue = 0;
	return 0;
}

/* Nanoseconds left until @deadline (CLOCK_MONOTONIC), at least 0. */
static long long time_left(const struct timespec *deadline)
{
	struct timespec now;
	long long left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (deadline->tv_sec - now.tv_sec) * 1000000000LL +
	       (deadline->tv_nsec - now.tv_nsec);
	return left > 0 ? left : 0;
}

int QsoWaitForIOCompletion(int IOCompletionPort,
			   Qso_OverlappedIO_t *completionStatus,
			   struct timeval *timeToWait)
{
	Qso_OverlappedIO_t *cs = completionStatus;
	struct timespec deadline = { 0, 0 };
	long long timeout = -1;
	struct cport_cqe cqe;
	struct qso_port *p;
	struct qso_op *op;
	int ret;

	if (!cs)
		return qso_fail(EFAULT);
	if (timeToWait) {
		if (timeToWait->tv_sec < 0 || timeToWait->tv_usec < 0 ||
		    timeToWait->tv_usec >= 1000000)
			return qso_fail(EINVAL);
		if (timeToWait->tv_sec >= LLONG_MAX / 1000000000LL - 1)
			timeout = -1;
		else
			timeout = timeToWait->tv_sec * 1000000000LL +
				  timeToWait->tv_usec * 1000LL;
	}
	if (timeout > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout / 1000000000LL;
		deadline.tv_nsec += timeout % 1000000000LL;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	p = port_get(IOCompletionPort);
	if (!p)
		return qso_fail(EINVAL);
	for (;;) {
		ret = cport_wait(p->fd, &cqe, 1, timeout);
		if (ret < 0) {
			port_put(p);
			if (ret == -ETIMEDOUT)
				return 0;
			return qso_fail(ret == -EIDRM ? EDESTROYED : -ret);
		}
		op = (struct qso_op *)(uintptr_t)cqe.user_data;
		/*
		 * A layered operation's step: the layer runs the next one
		 * here, and only its last completion is returned.
		 */
		if (!op->layer || op->layer->complete(p, op, cqe.res,
						      cqe.bytes, op->done))
			break;
		if (timeout > 0)
			timeout = time_left(&deadline);
	}
	op_unlink(op);
	port_put(p);

	memset(cs, 0, sizeof(*cs));
	cs->descriptorHandle = op->area.descriptorHandle;
	cs->buffer = op->area.buffer;
	cs->bufferLength = op->area.bufferLength;
	cs->postFlag = op->area.postFlag;
	cs->fillBuffer = op->area.fillBuffer;
	cs->operationId = op->area.operationId;
	if (op->layer) {
		cs->operationCompleted = op->area.operationCompleted;
		cs->returnValue = op->area.returnValue;
		cs->errnoValue = op->area.errnoValue;
		cs->secureDataTransferSize = op->area.secureDataTransferSize;
		cs->bytesAvailable = op->area.bytesAvailable;
	} else {
		fill_result(cs, op, cqe.res, cqe.bytes);
	}
	free(op);
	return 1;
}

/* The socket check of the IBM calls: EBADF, ENOTSOCK as they report them. */
static int check_sock(int sd)
{
	int type;
	socklen_t len = sizeof(type);

	return getsockopt(sd, SOL_SOCKET, SO_TYPE, &type, &len);
}

/*
 * Identifiers from one counter for every socket: unique on each socket,
 * as IBM i promises, and on all of them; never 0 (the failure value).
 */
static unsigned long long last_op_id;

unsigned long long QsoGenerateOperationId(int socketDescriptor)
{
	if (check_sock(socketDescriptor))
		return 0;
	return __atomic_add_fetch(&last_op_id, 1, __ATOMIC_RELAXED);
}

/* What QsoIsOperationPending() looks for, and whether it found it. */
struct pending {
	int sd;
	unsigned long long id;
	bool found;
};

/* fdtab_for_each() callback: @arg's operation among one port's. */
static void pending_on_port(int fd, void *slot, void *arg)
{
	struct qso_port *p = *(struct qso_port **)slot;
	struct pending *q = arg;
	struct qso_op *op;

	if (!p || q->found)
		return;
	for (op = p->ops.next; op != &p->ops; op = op->next)
		/*
		 * Linked means not yet returned, also when it completed at
		 * once and was posted (done).
		 */
		if (op->fd == q->sd && op->area.operationId == q->id) {
			q->found = true;
			return;
		}
}

int QsoIsOperationPending(int socketDescriptor, unsigned long long operationId)
{
	struct pending q = { .sd = socketDescriptor, .id = operationId };

	if (check_sock(socketDescriptor))
		return -1;
	pthread_mutex_lock(&qso_lock);
	fdtab_for_each(&qso_ports, pending_on_port, &q);
	pthread_mutex_unlock(&qso_lock);
	return q.found;
}

/* What QsoCancelOperation() looks for, and what it found. */
struct cancel {
	int sd;
	unsigned long long id;
	int n, err;
};

/* fdtab_for_each() callback: cancel @arg's operations on one port. */
static void cancel_on_port(int fd, void *slot, void *arg)
{
	struct qso_port *p = *(struct qso_port **)slot;
	struct cancel *c = arg;
	struct qso_op *op;

	if (!p)
		return;
	for (op = p->ops.next; op != &p->ops; op = op->next) {
		int ret;

		if (op->fd != c->sd || op->done ||
		    op->area.operationId != c->id)
			continue;
		ret = cport_cancel(p->fd, CPORT_CANCEL_USER_DATA,
				   (uintptr_t)op);
		if (ret > 0)
			c->n += ret;
		else if (ret != -ENOENT && !c->err)
			c->err = -ret;
	}
}

int QsoCancelOperation(int socketDescriptor, unsigned long long operationId)
{
	struct cancel c = { .sd = socketDescriptor, .id = operationId };

	if (check_sock(socketDescriptor))
		return -1;
	pthread_mutex_lock(&qso_lock);
	fdtab_for_each(&qso_ports, cancel_on_port, &c);
	pthread_mutex_unlock(&qso_lock);
	if (!c.n && c.err)
		return qso_fail(c.err);
	return c.n;
}

int QsoCreateIOCompletionPort(void)
{
	struct qso_port *p, **slot;
	int fd;

	pthread_mutex_lock(&qso_lock);
	if (qso_nr >= QSO_MAX_IOCOMPLETIONPORTS) {
		pthread_mutex_unlock(&qso_lock);
		return qso_fail(ENOBUFS);
	}
	qso_nr++;
	pthread_mutex_unlock(&qso_lock);

	p = calloc(1, sizeof(*p));
	fd = p ? cport_create(NULL) : -ENOMEM;
	if (fd < 0) {
		free(p);
		pthread_mutex_lock(&qso_lock);
		qso_nr--;
		pthread_mutex_unlock(&qso_lock);
		return qso_fail(-fd);
	}
	p->fd = fd;
	p->refs = 1;
	p->ops.next = p->ops.prev = &p->ops;

	pthread_mutex_lock(&qso_lock);
	slot = fdtab_get(&qso_ports, fd, true);
	if (!slot) {
		qso_nr--;
		pthread_mutex_unlock(&qso_lock);
		cport_close(fd);
		free(p);
		return qso_fail(ENOMEM);
	}
	/*
	 * A port whose descriptor the application closed itself (not
	 * destroyed) left its entry: the number is someone else's now.
	 */
	if (*slot) {
		(*slot)->fd = -1;
		qso_nr--;
		__port_put(*slot);
	}
	*slot = p;
	pthread_mutex_unlock(&qso_lock);
	return fd;
}

int QsoDestroyIOCompletionPort(int IOCompletionPort)
{
	struct qso_port **slot, *p = NULL;

	pthread_mutex_lock(&qso_lock);
	slot = port_slot(IOCompletionPort);
	if (slot && *slot) {
		p = *slot;
		*slot = NULL;
		qso_nr--;
	}
	pthread_mutex_unlock(&qso_lock);
	if (!p)
		return qso_fail(EINVAL);
	/*
	 * Wake every waiter (EDESTROYED), cancel what is pending and discard
	 * what is queued; the table's reference goes, and with the last one
	 * the descriptor and the operations the kernel discarded.
	 */
	cport_destroy(p->fd);
	port_put(p);
	return 0;
}

/* --- For the layers above (qso_layer.h) --------------------------------- */

struct qso_port *qso_port_get(int handle)
{
	return port_get(handle);
}

void qso_port_put(struct qso_port *p)
{
	port_put(p);
}

int qso_port_fd(const struct qso_port *p)
{
	return p->fd;
}

struct qso_op *qso_op_new(int kind, int sd, const Qso_OverlappedIO_t *area,
			  const struct qso_layer *layer, void *ctx)
{
	struct qso_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->next = op->prev = op;	/* on no list yet */
	op->kind = kind;
	op->fd = sd;
	op->accepted_fd = -1;
	op->layer = layer;
	op->ctx = ctx;
	op->area = *area;
	return op;
}

int qso_op_submit(struct qso_port *p, struct qso_op *op,
		  struct cport_sqe *sqe)
{
	if (op->next == op)
		op_link(p, op);
	op->timed = sqe->timeout_ns != 0;
	return qso_submit(p, sqe, op->fd);
}

int qso_op_post(struct qso_port *p, struct qso_op *op)
{
	int ret;

	if (op->next == op)
		op_link(p, op);
	pthread_mutex_lock(&qso_lock);
	op->done = true;
	pthread_mutex_unlock(&qso_lock);
	ret = cport_post(p->fd, (__u64)op->fd, (uintptr_t)op, 0, 0);
	if (ret) {
		pthread_mutex_lock(&qso_lock);
		op->done = false;
		pthread_mutex_unlock(&qso_lock);
	}
	return ret == -EIDRM ? -EINVAL : ret;
}

void qso_op_free(struct qso_op *op)
{
	if (op->next != op)
		op_unlink(op);
	free(op);
}

struct cancel_ctx {
	const void *ctx;
	int n;
};

/* fdtab_for_each() callback: cancel the ctx's operations on one port. */
static void cancel_ctx_on_port(int fd, void *slot, void *arg)
{
	struct qso_port *p = *(struct qso_port **)slot;
	struct cancel_ctx *c = arg;
	struct qso_op *op;

	if (!p)
		return;
	for (op = p->ops.next; op != &p->ops; op = op->next) {
		int ret;

		if (!op->layer || op->ctx != c->ctx || op->done)
			continue;
		ret = cport_cancel(p->fd, CPORT_CANCEL_USER_DATA,
				   (uintptr_t)op);
		if (ret > 0)
			c->n += ret;
	}
}

int qso_cancel_ctx(const void *ctx)
{
	struct cancel_ctx c = { .ctx = ctx };

	pthread_mutex_lock(&qso_lock);
	fdtab_for_each(&qso_ports, cancel_ctx_on_port, &c);
	pthread_mutex_unlock(&qso_lock);
	return c.n;
}
