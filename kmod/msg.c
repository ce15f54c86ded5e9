// SPDX-License-Identifier: GPL-2.0
/*
 * RECVMSG and SENDMSG: recvmsg(2) and sendmsg(2) through the port, with
 * the peer's address, an iovec array and control data, as io_uring's
 * IORING_OP_RECVMSG and IORING_OP_SENDMSG take them: addr points to the
 * user's struct msghdr.
 *
 * At submission the msghdr and its iovec array are copied (and for
 * SENDMSG the destination and the control data too); the buffers they
 * point to are the kernel's until the operation completes.  A RECVMSG
 * writes msg_namelen, msg_controllen and msg_flags back into the user's
 * msghdr when its receive is done, in the runner (a thread of the owner).
 *
 * Descriptors received with SCM_RIGHTS.  The kernel installs them in the
 * receiving thread's table while it writes the control data
 * (scm_detach_fds(), which refuses a kernel buffer): there is no exported
 * way to receive the files without installing them.  So the runner takes
 * them straight back out of its table (file_close_fd()), holds the files
 * on the operation, and the thread that dequeues the completion installs
 * them and writes their numbers where the kernel wrote the old ones, as
 * accepted connections are delivered; a completion discarded (destroy)
 * closes them.  Between the receive and that moment the numbers are free
 * again in the table.  The numbers are read back from the control buffer,
 * user memory: a thread of the process that rewrites them there, or
 * closes and reuses a received number at once, makes the runner take
 * another of the process's own files (closed as close(2) closes it, then
 * delivered in the completion), and leaves the received one installed;
 * it can do nothing a close(2) of its own could not.  SCM_PIDFD (6.5) is
 * not taken back: that descriptor is installed by the runner, a thread
 * of the owner, as recvmsg(2) installs it.
 */
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/scm.h>
#include <net/sock.h>

#include "compat.h"
#include "cport.h"

/*
 * Copy the msghdr of a RECVMSG or SENDMSG at submission, checked in the
 * order uapi/linux/cport.h documents: the struct in *@msgp, the iovec
 * array in *@iovp (NULL for none) with *@nr_segs entries and *@total
 * bytes.  -EFAULT, -EINVAL, -ENOMEM.
 */
int cport_msg_import(struct cport_port *port, const struct cport_sqe *sqe,
		     struct cport_msg **msgp, struct iovec **iovp,
		     u32 *nr_segs, u32 *total)
{
	struct user_msghdr __user *umsg = u64_to_user_ptr(sqe->addr);
	bool send = sqe->opcode == CPORT_OP_SENDMSG;
	struct iovec *iov = NULL, *fast;
	struct user_msghdr um;
	struct cport_msg *m;
	struct iov_iter iter;
	ssize_t n = 0;
	int ret;

	if (copy_from_user(&um, umsg, sizeof(um)))
		return -EFAULT;
	if (!um.msg_name)
		um.msg_namelen = 0;
	if (um.msg_iovlen > CPORT_MAX_IOV ||
	    um.msg_controllen > CPORT_MAX_CONTROL || um.msg_namelen < 0 ||
	    (send && um.msg_namelen > sizeof(struct sockaddr_storage)))
		return -EINVAL;
	/* As recvmsg(2): no address is longer than that. */
	if (um.msg_namelen > sizeof(struct sockaddr_storage))
		um.msg_namelen = sizeof(struct sockaddr_storage);
	if (!um.msg_control)
		um.msg_controllen = 0;

	if (um.msg_iovlen) {
		fast = kmalloc_array(um.msg_iovlen, sizeof(*fast),
				     GFP_KERNEL_ACCOUNT);
		if (!fast)
			return -ENOMEM;
		/* All of it fits the "fast" array: nothing else allocated. */
		iov = fast;
		n = import_iovec(send ? ITER_SOURCE : ITER_DEST, um.msg_iov,
				 um.msg_iovlen, um.msg_iovlen, &iov, &iter);
		if (n < 0) {
			kfree(fast);
			return n;
		}
		iov = fast;
	}

	ret = -ENOMEM;
	m = kzalloc(struct_size(m, kcontrol, send ? um.msg_controllen : 0),
		    GFP_KERNEL_ACCOUNT);
	if (!m)
		goto out_free;
	m->umsg = umsg;
	m->namelen = um.msg_namelen;
	m->controllen = um.msg_controllen;
	ret = -EFAULT;
	if (send) {
		if (m->namelen && copy_from_user(&m->addr, um.msg_name,
						 m->namelen))
			goto out_free;
		if (m->controllen && copy_from_user(m->kcontrol, um.msg_control,
						    m->controllen))
			goto out_free;
	} else {
		if (!access_ok(um.msg_name, m->namelen) ||
		    !access_ok(um.msg_control, m->controllen))
			goto out_free;
		m->name = um.msg_name;
		m->control = um.msg_control;
	}
	*msgp = m;
	*iovp = iov;
	*nr_segs = um.msg_iovlen;
	*total = n;
	return 0;

out_free:
	kfree(m);
	kfree(iov);
	return ret;
}

void cport_msg_free(struct cport_port *port, struct cport_msg *m)
{
	if (m->units)
		cport_uncharge_bytes(port, m->units);
	kfree(m);
}

/* Close the descriptors @scm holds (none installed), and free it. */
void cport_scm_free(struct cport_port *port, struct cport_scm *scm)
{
	unsigned int i;

	for (i = 0; i < scm->nr; i++) {
		if (!scm->fds[i].file)
			continue;
		fput(scm->fds[i].file);
		cport_uncharge_file(port);
	}
	kfree(scm);
}

/*
 * The runner's: take the descriptors the receive just installed in this
 * thread's table (SCM_RIGHTS in the @clen bytes of control data the
 * kernel wrote) back out of it, to @op.  One it cannot hold (no memory,
 * the RLIMIT_NOFILE of what the port holds) is closed, its slot set to
 * -1, and the completion flagged CPORT_CQE_F_CTRUNC, as recvmsg(2) flags
 * descriptors it could not install.
 */
static void cport_scm_take(struct cport_sock *s, struct cport_op *op,
			   size_t clen)
{
	struct cmsghdr __user *ucm = op->msg->control;
	struct cport_scm *scm = NULL;
	struct cmsghdr cm;
	struct file *file;
	int __user *ufd;
	unsigned int i, n;
	int fd;

	while (clen >= sizeof(cm)) {
		if (copy_from_user(&cm, ucm, sizeof(cm)) ||
		    cm.cmsg_len < sizeof(cm) || cm.cmsg_len > clen)
			break;
		n = 0;
		if (cm.cmsg_level == SOL_SOCKET && cm.cmsg_type == SCM_RIGHTS)
			n = (cm.cmsg_len - sizeof(cm)) / sizeof(int);
		if (n && !scm) {
			/* The kernel writes one SCM_RIGHTS: no more room. */
			scm = kzalloc(struct_size(scm, fds, min_t(u32, n,
								  SCM_MAX_FD)),
				      GFP_KERNEL_ACCOUNT);
			if (scm)
				scm->room = min_t(u32, n, SCM_MAX_FD);
		}
		ufd = (int __user *)CMSG_USER_DATA(ucm);
		for (i = 0; i < n; i++, ufd++) {
			/* As many as a rewritten buffer says: ~16K. */
			if (i && !(i % 64))
				cond_resched();
			if (get_user(fd, ufd) || fd < 0)
				continue;
			file = file_close_fd(fd);
			if (!file)
				continue;
			/*
			 * A close, as close(2) does it (dnotify, POSIX locks
			 * of this table dropped): the number came from user
			 * memory, which another thread may have rewritten to
			 * name a file of its own, so the file may be any of
			 * the process's.  Only our reference is kept.
			 */
			get_file(file);
			filp_close(file, current->files);
			if (scm && scm->nr < scm->room &&
			    !cport_charge_file(s->port)) {
				scm->fds[scm->nr].file = file;
				scm->fds[scm->nr].ufd = ufd;
				scm->nr++;
				continue;
			}
			fput(file);
			if (put_user(-1, ufd))
				pr_debug("cport: control buffer unwritable\n");
			op->cqe_flags |= CPORT_CQE_F_CTRUNC;
		}
		cond_resched();
		if (CMSG_ALIGN(cm.cmsg_len) >= clen)
			break;
		clen -= CMSG_ALIGN(cm.cmsg_len);
		ucm = (void __user *)ucm + CMSG_ALIGN(cm.cmsg_len);
	}
	if (scm && !scm->nr) {
		kfree(scm);
		scm = NULL;
	}
	if (scm) {
		scm->o_flags = (op->op_flags & CPORT_RECVMSG_CMSG_CLOEXEC) ?
			       O_CLOEXEC : 0;
		scm->umsg = op->msg->umsg;
		op->has_scm = true;
	}
	op->scm = scm;
}

/*
 * RECVMSG: one recvmsg() into the operation's buffers, the peer's address
 * and the user's control buffer; then the lengths and flags go back into
 * the user's msghdr, as recvmsg(2) writes them.  If they cannot be
 * written, the result is -EFAULT (bytes = what was received) and
 * descriptors received are closed.
 */
enum cport_io cport_do_recvmsg(struct cport_sock *s, struct cport_op *op)
{
	struct cport_msg *m = op->msg;
	struct sockaddr_storage addr;
	unsigned int flags = MSG_DONTWAIT;
	struct msghdr msg;
	size_t clen;
	int ret, len;

	if (op->op_flags & CPORT_RECVMSG_CMSG_CLOEXEC)
		flags |= MSG_CMSG_CLOEXEC;
	memset(&msg, 0, sizeof(msg));
	cport_op_iter(op, &msg.msg_iter, ITER_DEST);
	if (m->name)
		msg.msg_name = &addr;
	msg.msg_control_user = m->control;
	msg.msg_control_is_user = true;
	msg.msg_controllen = m->controllen;
	msg.msg_flags = flags & MSG_CMSG_CLOEXEC;
	ret = sock_recvmsg(s->sock, &msg, flags);
	if (ret < 0)
		return cport_io_error(op, ret);

	op->moved = ret;
	op->res = ret;
	clen = m->controllen - msg.msg_controllen;
	if (clen)
		cport_scm_take(s, op, clen);
	if (msg.msg_flags & MSG_TRUNC)
		op->cqe_flags |= CPORT_CQE_F_TRUNC;
	if (op->cqe_flags & CPORT_CQE_F_CTRUNC)
		msg.msg_flags |= MSG_CTRUNC;
	if (msg.msg_flags & MSG_CTRUNC)
		op->cqe_flags |= CPORT_CQE_F_CTRUNC;

	len = m->name ? min(msg.msg_namelen, m->namelen) : 0;
	if ((len > 0 && copy_to_user(m->name, &addr, len)) ||
	    (m->name && put_user(msg.msg_namelen, &m->umsg->msg_namelen)) ||
	    put_user(clen, &m->umsg->msg_controllen) ||
	    put_user(msg.msg_flags & ~(MSG_CMSG_CLOEXEC | MSG_CMSG_COMPAT),
		     &m->umsg->msg_flags)) {
		op->res = -EFAULT;
		if (op->scm) {
			cport_scm_free(s->port, op->scm);
			op->scm = NULL;
		}
	}
	return CPORT_IO_DONE;
}

/*
 * SENDMSG: sendmsg() of the operation's buffers, to its destination, with
 * its control data.  A stream socket may take part of it: the rest goes
 * as a SEND's would, the address and control data having gone with the
 * first part.
 */
enum cport_io cport_do_sendmsg(struct cport_sock *s, struct cport_op *op)
{
	struct cport_msg *m = op->msg;
	struct msghdr msg;
	int ret;

	do {
		memset(&msg, 0, sizeof(msg));
		msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
		cport_op_iter(op, &msg.msg_iter, ITER_SOURCE);
		if (!op->moved) {
			if (m->namelen) {
				msg.msg_name = &m->addr;
				msg.msg_namelen = m->namelen;
			}
			if (m->controllen) {
				msg.msg_control = m->kcontrol;
				msg.msg_controllen = m->controllen;
			}
		}
		ret = sock_sendmsg(s->sock, &msg);
		if (ret < 0)
			return cport_io_error(op, ret);
		if (!ret && op->moved < op->len)
			return CPORT_IO_AGAIN;
		op->moved += ret;
		if (cport_op_cut(op))
			return CPORT_IO_AGAIN;
		cond_resched();
	} while (op->moved < op->len);
	op->res = op->moved;
	return CPORT_IO_DONE;
}

/*
 * Dequeue, before the completion is copied out: reserve a descriptor for
 * each file the RECVMSG holds and write its number into the control
 * data.  If a descriptor is not free (RLIMIT_NOFILE) or a number cannot
 * be written, none is installed: the files are closed, their slots say
 * -1, and the completion (and the msghdr's msg_flags) say MSG_CTRUNC, as
 * recvmsg(2) does for descriptors that did not fit.
 */
void cport_scm_reserve(struct cport_port *port, struct cport_node *node)
{
	struct cport_scm *scm = node->scm;
	unsigned int i, got;
	u32 mflags;
	int fd;

	for (got = 0; got < scm->nr; got++) {
		fd = get_unused_fd_flags(scm->o_flags);
		if (fd < 0)
			break;
		scm->fds[got].fd = fd;
		if (put_user(fd, scm->fds[got].ufd)) {
			put_unused_fd(fd);
			break;
		}
	}
	if (got == scm->nr)
		return;
	for (i = 0; i < got; i++)
		put_unused_fd(scm->fds[i].fd);
	for (i = 0; i < scm->nr; i++)
		if (put_user(-1, scm->fds[i].ufd))
			break;
	node->scm = NULL;
	node->cqe.flags |= CPORT_CQE_F_CTRUNC;
	if (!get_user(mflags, &scm->umsg->msg_flags) &&
	    put_user(mflags | MSG_CTRUNC, &scm->umsg->msg_flags))
		pr_debug("cport: msghdr unwritable\n");
	cport_scm_free(port, scm);
}

/* The completion could not be copied out: give the descriptors back. */
void cport_scm_unreserve(struct cport_node *node)
{
	unsigned int i;

	for (i = 0; i < node->scm->nr; i++)
		put_unused_fd(node->scm->fds[i].fd);
}

/* The completion was copied out: the descriptors are the process's now. */
void cport_scm_install(struct cport_port *port, struct cport_node *node)
{
	struct cport_scm *scm = node->scm;
	unsigned int i;

	for (i = 0; i < scm->nr; i++) {
		fd_install(scm->fds[i].fd, scm->fds[i].file);
		scm->fds[i].file = NULL;
		cport_uncharge_file(port);
	}
	node->scm = NULL;
	kfree(scm);
}
