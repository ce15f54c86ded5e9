// SPDX-License-Identifier: GPL-2.0
/*
 * Pipes and other pollable files: CPORT_OP_READ and CPORT_OP_WRITE.
 *
 * Which files.  A pipe or FIFO, eventfd, or a character device whose
 * file says it honours IOCB_NOWAIT (FMODE_NOWAIT), with a poll method
 * naming at most CPORT_MAX_WQ wait queues.  The I/O is done the way the
 * sockets' is: non-blocking (IOCB_NOWAIT through ->read_iter() and
 * ->write_iter(), as io_uring does it), by a thread of the owner, waiting
 * for the file's wait queues between tries.  A file that may block in
 * spite of IOCB_NOWAIT (a tty, most character devices) could hold its
 * runner, so it is refused.  FIFOs are pipes: a FIFO's file operations
 * are the pipe's (init_special_inode()), which honour IOCB_NOWAIT, but
 * only an anonymous pipe's file is marked FMODE_NOWAIT.  Regular files
 * and directories have no readiness: a read that would wait for the disk
 * can only be made asynchronous by a worker thread (io_uring's io-wq),
 * and cport never does user I/O in a kernel thread.  -EOPNOTSUPP.
 *
 * The association.  A socket's association holds its struct sock, which
 * lives as long as the association and does not keep the socket open.
 * A pipe has no such object: its file is what keeps a reader or a writer
 * counted, and holding it would hide a closed write end from the reader,
 * which would never see end of file.  So a file's association lives only
 * while operations are pending on it: the first READ or WRITE creates it,
 * under the key the operation names, and pins the file (as a socket's
 * first pending operation pins its file); the runner that completes the
 * last one drops the file and ends the association (cport_file_idle()).
 * The table finds it by its struct file, which cannot be freed, and so
 * its address cannot be reused, while the association holds it.  An
 * association between its file's release and its unlinking (a moment in
 * its runner, or after a failed submission) is skipped by lookups.
 * ASSOCIATE of a file only checks that it can be used; DISSOCIATE says
 * whether operations are pending on it.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fsnotify.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>

#include "compat.h"
#include "cport.h"

static bool cport_file_is_eventfd(struct file *file)
{
	struct eventfd_ctx *ctx = eventfd_ctx_fileget(file);

	if (IS_ERR(ctx))
		return false;
	eventfd_ctx_put(ctx);
	return true;
}

/*
 * Can READ and WRITE work on @file (not a socket)?  0, or -EOPNOTSUPP.
 */
int cport_file_supported(struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;

	if (S_ISREG(mode) || S_ISDIR(mode) || !file->f_op->poll ||
	    (!file->f_op->read_iter && !file->f_op->write_iter))
		return -EOPNOTSUPP;
	/* A pipe or FIFO: I/O through an O_NONBLOCK file (cport_file_io()). */
	if (!S_ISFIFO(mode) &&
	    !(S_ISCHR(mode) && (file->f_mode & FMODE_NOWAIT)) &&
	    !((file->f_mode & FMODE_NOWAIT) && cport_file_is_eventfd(file)))
		return -EOPNOTSUPP;
	if (cport_poll_queues(file) > CPORT_MAX_WQ)
		return -EOPNOTSUPP;
	return 0;
}

/* @file's association with @port, with a reference, or NULL. */
struct cport_sock *cport_file_find(struct cport_port *port, struct file *file)
{
	struct cport_sock *s;

	rcu_read_lock();
	s = cport_sock_find_rcu(file);
	if (s && (s->port != port || !refcount_inc_not_zero(&s->refs)))
		s = NULL;
	rcu_read_unlock();
	return s;
}

/* Has @s nothing pending and no file pinned? */
static bool __cport_file_unused(struct cport_sock *s)
{
	lockdep_assert_held(&s->lock);
	return !s->nr_ops && !s->file && list_empty(&s->marked);
}

/*
 * End the association of file @s if no operation is pending on it (the
 * runner that dropped the file, or a submission that failed).  No lock
 * held; process context.
 */
void cport_file_idle(struct cport_sock *s)
{
	spin_lock_irq(&s->lock);
	if (s->unlinked || !__cport_file_unused(s)) {
		spin_unlock_irq(&s->lock);
		return;
	}
	/* No operation can queue on it any more (cport_op_queue()). */
	WRITE_ONCE(s->unlinked, true);
	spin_unlock_irq(&s->lock);
	cport_sock_unlink_idle(s);
}

/*
 * One look for cport_file_assoc(): the association, an errno, or
 * -EAGAIN to look again.
 */
static struct cport_sock *cport_file_try(struct cport_port *port,
					 const struct cport_sqe *sqe,
					 struct file *file)
{
	struct cport_sock *s;
	bool unused;

	rcu_read_lock();
	s = cport_sock_find_rcu(file);
	if (s && !refcount_inc_not_zero(&s->refs))
		s = NULL;
	rcu_read_unlock();
	if (!s) {
		s = cport_sock_new(port, file, NULL, sqe->key, false);
		/* Another thread made one meanwhile: take that. */
		if (s == ERR_PTR(-EEXIST) || s == ERR_PTR(-EBUSY))
			return ERR_PTR(-EAGAIN);
		return s;
	}
	if (s->port == port && s->key == sqe->key)
		return s;
	/*
	 * Another port's or key's: busy while it holds this file, else it is
	 * ending (or its file was released and this one has its address):
	 * end it now.
	 */
	spin_lock_irq(&s->lock);
	unused = __cport_file_unused(s);
	spin_unlock_irq(&s->lock);
	if (unused)
		cport_file_idle(s);
	cport_sock_put(s);
	return ERR_PTR(unused ? -EAGAIN : -EBUSY);
}

/*
 * The association of @file for a READ or WRITE under sqe->key: the one
 * there is, or a new one.  -EBUSY if operations are pending on the file
 * through another port or under another key.
 */
struct cport_sock *cport_file_assoc(struct cport_port *port,
				    const struct cport_sqe *sqe,
				    struct file *file)
{
	struct cport_sock *s;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		s = cport_file_try(port, sqe, file);
		if (s != ERR_PTR(-EAGAIN))
			return s;
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	return ERR_PTR(-EBUSY);
}

/* ASSOCIATE of a file: nothing to record (see above). */
int cport_file_associate(struct cport_port *port, struct file *file)
{
	int ret = cport_file_supported(file);

	if (ret)
		return ret;
	if (READ_ONCE(port->dead))
		return -EIDRM;
	return 0;
}

/* DISSOCIATE of a file: -EBUSY while operations are pending on it. */
int cport_file_dissociate(struct cport_port *port, struct file *file)
{
	struct cport_sock *s;
	int ret = cport_file_supported(file);

	if (ret)
		return ret;
	if (READ_ONCE(port->dead))
		return -EIDRM;
	s = cport_file_find(port, file);
	if (!s)
		return 0;
	spin_lock_irq(&s->lock);
	if (!__cport_file_unused(s))
		ret = -EBUSY;
	spin_unlock_irq(&s->lock);
	cport_sock_put(s);
	return ret;
}

/*
 * The file the runner does @s's I/O through.  A file that says it
 * honours IOCB_NOWAIT (FMODE_NOWAIT): the user's.  A pipe or FIFO: one of
 * the runner's own, on the same pipe with the same access mode and
 * O_NONBLOCK, opened at the first I/O and closed with the pin
 * (runner.c): a pipe honours O_NONBLOCK on every kernel, IOCB_NOWAIT only
 * since 6.4, and the user's file flags are not ours to change.  While it
 * is open it counts as a reader or writer of the pipe, as the user's file
 * the pending operations pin does already.
 */
static struct file *cport_file_io(struct cport_sock *s)
{
	struct file *file = s->file, *nb;

	if (!S_ISFIFO(file_inode(file)->i_mode))
		return file;
	if (s->nbfile)
		return s->nbfile;
	nb = dentry_open(&file->f_path,
			 (file->f_flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC,
			 current_cred());
	if (IS_ERR(nb))
		/* A FIFO's writer with no reader left. */
		return PTR_ERR(nb) == -ENXIO ? ERR_PTR(-EPIPE) : nb;
	s->nbfile = nb;
	return nb;
}

static void cport_file_iter(struct cport_op *op, struct iov_iter *it,
			    unsigned int dir)
{
	iov_iter_ubuf(it, dir, op->buf + op->moved, op->len - op->moved);
}

/*
 * READ: as soon as there is data, what there is (up to len); 0 at end of
 * file (a pipe whose writers have all closed).  The file position is
 * neither used nor moved: the files accepted are streams.  On a socket,
 * a RECV.
 */
enum cport_io cport_do_read(struct cport_sock *s, struct cport_op *op)
{
	struct iov_iter it;
	struct kiocb kiocb;
	struct file *file;
	ssize_t ret;

	if (!s->is_file)
		return cport_do_recv(s, op);
	file = cport_file_io(s);
	if (IS_ERR(file))
		return cport_io_error(op, PTR_ERR(file));
	ret = rw_verify_area(READ, file, NULL, op->len);
	if (ret)
		return cport_io_error(op, ret);
	init_sync_kiocb(&kiocb, file);
	kiocb.ki_flags |= IOCB_NOWAIT;
	cport_file_iter(op, &it, ITER_DEST);
	ret = file->f_op->read_iter(&kiocb, &it);
	if (ret < 0)
		return cport_io_error(op, ret);
	if (ret > 0)
		fsnotify_access(file);
	op->moved += ret;
	op->res = op->moved;
	return CPORT_IO_DONE;
}

/*
 * One write, without the SIGPIPE a pipe with no reader sends the writer
 * (pipe_write()): the runner is any thread of the owner, and the error is
 * the operation's (-EPIPE).  7.2 has IOCB_NOSIGNAL for it; before, the
 * signal is blocked around the write and taken back if the write queued
 * it (a SIGPIPE sent to this thread by another during those instructions
 * would go too).
 */
static ssize_t cport_write_nosignal(struct file *file, struct kiocb *kiocb,
				    struct iov_iter *it)
{
#ifdef IOCB_NOSIGNAL
	kiocb->ki_flags |= IOCB_NOSIGNAL;
	return file->f_op->write_iter(kiocb, it);
#else
	sigset_t pipe_mask, others, old;
	struct sighand_struct *sh;
	kernel_siginfo_t info;
	enum pid_type type;
	bool had;
	ssize_t ret;

	sigemptyset(&pipe_mask);
	sigaddset(&pipe_mask, SIGPIPE);
	siginitsetinv(&others, sigmask(SIGPIPE));
	/* current's own: stable while it runs. */
	sh = rcu_dereference_protected(current->sighand, true);
	sigprocmask(SIG_BLOCK, &pipe_mask, &old);
	spin_lock_irq(&sh->siglock);
	had = sigismember(&current->pending.signal, SIGPIPE);
	spin_unlock_irq(&sh->siglock);

	ret = file->f_op->write_iter(kiocb, it);

	spin_lock_irq(&sh->siglock);
	if (!had && sigismember(&current->pending.signal, SIGPIPE))
		cport_dequeue_signal(&others, &info, &type);
	spin_unlock_irq(&sh->siglock);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
#endif
}

/*
 * WRITE: the whole buffer, in order, as SEND (a pipe takes up to PIPE_BUF
 * bytes at once atomically; more may go in pieces as the reader makes
 * room); -EPIPE, with the bytes written before, when no reader is left.
 * On a socket, a SEND.
 */
enum cport_io cport_do_write(struct cport_sock *s, struct cport_op *op)
{
	struct iov_iter it;
	struct kiocb kiocb;
	struct file *file;
	ssize_t ret;

	if (!s->is_file)
		return cport_do_send(s, op);
	file = cport_file_io(s);
	if (IS_ERR(file))
		return cport_io_error(op, PTR_ERR(file));
	while (op->moved < op->len) {
		ret = rw_verify_area(WRITE, file, NULL, op->len - op->moved);
		if (ret)
			return cport_io_error(op, ret);
		init_sync_kiocb(&kiocb, file);
		kiocb.ki_flags |= IOCB_NOWAIT;
		cport_file_iter(op, &it, ITER_SOURCE);
		ret = cport_write_nosignal(file, &kiocb, &it);
		if (ret < 0)
			return cport_io_error(op, ret);
		if (!ret)
			return CPORT_IO_AGAIN;
		fsnotify_modify(file);
		op->moved += ret;
		if (cport_op_cut(op))
			return CPORT_IO_AGAIN;
		cond_resched();
	}
	op->res = op->moved;
	return CPORT_IO_DONE;
}
