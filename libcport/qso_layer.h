/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * qso_layer.h: how a layer above the Qso* calls (gsk.c, the GSKit TLS
 * calls) runs operations of its own through a port of qso.c.  Internal:
 * hidden, never installed.
 *
 * A layered operation is a struct qso_op with a struct qso_layer: the
 * thread that dequeues one of its completions in QsoWaitForIOCompletion()
 * hands it to layer->complete() instead of returning it.  complete() may
 * start the operation's next step (qso_op_submit() with the same op) and
 * return 0, and the waiter goes back to waiting; or fill in op->area's
 * result fields and return 1, and the waiter returns op->area as the
 * completion and frees op.  So an operation made of many kernel steps (a
 * TLS handshake) reaches the application as one completion, and no thread
 * blocks between the steps.
 */
#ifndef LIBCPORT_QSO_LAYER_H
#define LIBCPORT_QSO_LAYER_H

#include <stdbool.h>

#include "cport.h"
#include "qsoasync.h"

#define QSO_HIDDEN	__attribute__((visibility("hidden")))

struct qso_port;
struct qso_op;

struct qso_layer {
	/*
	 * One of op's kernel steps completed (res, bytes: the cqe's), or
	 * its result was self-posted (done: op->area holds it).  Called
	 * without qso_lock by the thread that dequeued it, with a
	 * reference on p.  Returns 1 (op->area is the completion) or 0
	 * (op was submitted again).
	 */
	int (*complete)(struct qso_port *p, struct qso_op *op, long long res,
			unsigned long long bytes, bool done);
	/*
	 * op goes without its completion being returned (its port was
	 * destroyed with it pending).  Called with qso_lock held: take no
	 * lock that is held while calling into qso.c.
	 */
	void (*discard)(struct qso_op *op);
};

struct qso_op {
	struct qso_op *prev, *next;
	int kind;		/* QSOSTART*, QSOPOSTIOCOMPLETION, GSK* */
	int fd;			/* the socket; -1 for a post */
	bool timed;		/* had an operationWaitTime */
	bool done;		/* completed at once and self-posted */
	int accepted_fd;	/* self-posted accept: closed if discarded */
	const struct qso_layer *layer;	/* NULL for the Qso* calls' own */
	void *ctx;		/* the layer's */
	Qso_OverlappedIO_t area;	/* the caller's area, as started */
};

/* The port of a QsoCreateIOCompletionPort() handle, referenced, or NULL. */
QSO_HIDDEN struct qso_port *qso_port_get(int handle);
QSO_HIDDEN void qso_port_put(struct qso_port *p);
QSO_HIDDEN int qso_port_fd(const struct qso_port *p);

/* A new layered operation on socket sd (area copied), or NULL. */
QSO_HIDDEN struct qso_op *qso_op_new(int kind, int sd,
				     const Qso_OverlappedIO_t *area,
				     const struct qso_layer *layer, void *ctx);
/*
 * Submit one step of op on p (sqe's user_data must be op), associating
 * the socket with p on first use.  op is put on p's list if it is not on
 * one.  Returns 0 or -errno (-EINVAL: p was destroyed); on failure op
 * stays on the list, for qso_op_free() or the caller's next step.
 */
QSO_HIDDEN int qso_op_submit(struct qso_port *p, struct qso_op *op,
			     struct cport_sqe *sqe);
/*
 * Post op's result (already in op->area) to p: complete() is then called
 * with done = true.  Returns 0 or -errno (-ENOSPC: the queue is full).
 */
QSO_HIDDEN int qso_op_post(struct qso_port *p, struct qso_op *op);
/* Take op off its list (if on one) and free it. */
QSO_HIDDEN void qso_op_free(struct qso_op *op);
/*
 * Cancel the layered operations pending in the kernel whose ctx is ctx,
 * on every port: each then completes (layer->complete() sees -ECANCELED
 * or its real result).  Returns how many.
 */
QSO_HIDDEN int qso_cancel_ctx(const void *ctx);

#endif /* LIBCPORT_QSO_LAYER_H */
