// SPDX-License-Identifier: GPL-2.0
/*
 * SENDFILE (Windows' TransmitFile) and DISCONNECT (DisconnectEx): the
 * two operations that end up in the socket's send order besides SEND and
 * CONNECT.
 *
 * SENDFILE sends a head buffer, a range of a regular file and a tail
 * buffer as one stream.  The file is read a page at a time into a bounce
 * page with kernel_read() at an explicit position (the file's own offset
 * is never used), and the page is sent with MSG_DONTWAIT, so the runner
 * never waits for the socket; where the stream stands is op->moved alone,
 * so a run that finds the socket full stops and the next one reads again
 * from there.  Splicing the page cache into the socket would save the
 * copy, but a non-blocking splice to a socket is not something all the
 * kernels cport builds on export.  A run sends at most
 * CPORT_SENDFILE_BUDGET bytes and then gives the socket back to the ready
 * list (CPORT_IO_RETRY), so that one large file cannot keep a runner to
 * itself.  The file is read in the runner, a thread of the owner: a read
 * from disk blocks that thread, as read(2) would, and is charged to it.
 *
 * DISCONNECT shuts the socket down for writing once what was submitted
 * before it is in the socket, and completes when the FIN has gone (TCP:
 * the peer acknowledged it, with all the data before it) and, with
 * CPORT_DISCONNECT_WAIT, once the peer's FIN has come.  The socket's
 * state changes wake its wait queue without a key, which the hook
 * (poll.c) passes to both queues.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "compat.h"
#include "cport.h"

/* Bytes of one SENDFILE a run sends before other sockets get a turn. */
#define CPORT_SENDFILE_BUDGET	(256 * 1024)

/*
 * Read and check SENDFILE's record at sqe->addr into @sf, with a
 * reference to its file; the errnos of uapi/linux/cport.h in their order.
 */
int cport_sendfile_read(const struct cport_sqe *sqe, struct cport_sf *sf)
{
	struct cport_sendfile rec;
	struct file *file;
	u64 count;
	int ret;

	ret = copy_struct_from_user(&rec, sizeof(rec),
				    u64_to_user_ptr(sqe->addr), sqe->len);
	if (ret)
		return ret;
	if (rec.flags || !rec.head != !rec.head_len ||
	    !rec.tail != !rec.tail_len || rec.offset > LLONG_MAX ||
	    rec.count > CPORT_MAX_IO ||
	    (u64)rec.head_len + rec.count + rec.tail_len > CPORT_MAX_IO)
		return -EINVAL;

	file = fget(rec.file_fd);
	if (!file)
		return -EBADF;
	ret = -EBADF;
	if (!(file->f_mode & FMODE_READ))
		goto out_put;
	ret = -ESPIPE;
	if (!(file->f_mode & FMODE_PREAD))
		goto out_put;
	/*
	 * A regular file read through ->read_iter alone, as kernel_read()
	 * wants (it warns in the log of one with ->read: /proc/self/mem).
	 */
	ret = -EINVAL;
	if (!S_ISREG(file_inode(file)->i_mode) || !file->f_op->read_iter ||
	    file->f_op->read)
		goto out_put;
	count = rec.count;
	if (!count) {
		loff_t size = i_size_read(file_inode(file));

		count = size > (loff_t)rec.offset ? size - rec.offset : 0;
		if ((u64)rec.head_len + count + rec.tail_len > CPORT_MAX_IO)
			goto out_put;
	}
	ret = -EFAULT;
	if (!access_ok(u64_to_user_ptr(rec.head), rec.head_len) ||
	    !access_ok(u64_to_user_ptr(rec.tail), rec.tail_len))
		goto out_put;

	sf->file = file;
	sf->offset = rec.offset;
	sf->count = count;
	sf->head = u64_to_user_ptr(rec.head);
	sf->tail = u64_to_user_ptr(rec.tail);
	sf->head_len = rec.head_len;
	sf->tail_len = rec.tail_len;
	return 0;

out_put:
	fput(file);
	return ret;
}

/* One non-blocking send of @len bytes from user memory. */
static int cport_xmit_user(struct cport_sock *s, void __user *buf, size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };

	iov_iter_ubuf(&msg.msg_iter, ITER_SOURCE, buf, len);
	return sock_sendmsg(s->sock, &msg);
}

/* ... and from the bounce page. */
static int cport_xmit_kernel(struct cport_sock *s, void *buf, size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };
	struct kvec kv = { .iov_base = buf, .iov_len = len };

	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &kv, 1, len);
	return sock_sendmsg(s->sock, &msg);
}

/*
 * A piece of the file into @page: the bytes read, 0 at its end, or
 * -errno.
 */
static ssize_t cport_sendfile_read_page(struct cport_sf *sf, u32 done,
					void *page)
{
	loff_t pos = sf->offset + done;

	return kernel_read(sf->file, page,
			   min_t(u32, sf->count - done, PAGE_SIZE), &pos);
}

enum cport_io cport_do_sendfile(struct cport_sock *s, struct cport_op *op)
{
	struct cport_sf *sf = op->sf;
	u32 budget = CPORT_SENDFILE_BUDGET, file_end;
	enum cport_io io = CPORT_IO_DONE;
	void *page = NULL;
	ssize_t n;
	int ret;

	while (op->moved < op->len) {
		if (!budget) {
			io = CPORT_IO_RETRY;
			goto out;
		}
		file_end = sf->head_len + sf->count;
		if (op->moved < sf->head_len) {
			ret = cport_xmit_user(s, sf->head + op->moved,
					      sf->head_len - op->moved);
		} else if (op->moved < file_end) {
			if (!page) {
				page = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
				if (!page) {
					ret = -ENOMEM;
					goto fail;
				}
			}
			n = cport_sendfile_read_page(sf, op->moved -
						     sf->head_len, page);
			if (n < 0) {
				/* Not the socket's: never "wait for it". */
				ret = n == -EAGAIN ? -EIO : n;
				goto fail;
			}
			if (!n) {
				/* Shorter than it was: the file part ends. */
				op->len -= file_end - op->moved;
				sf->count = op->moved - sf->head_len;
				continue;
			}
			ret = cport_xmit_kernel(s, page, n);
		} else {
			ret = cport_xmit_user(s, sf->tail + (op->moved - file_end),
					      op->len - op->moved);
		}
		if (ret < 0)
			goto fail;
		if (!ret) {
			io = CPORT_IO_AGAIN;
			goto out;
		}
		op->moved += ret;
		budget -= min_t(u32, ret, budget);
		cond_resched();
	}
	op->res = op->moved;
	goto out;

fail:
	if (ret == -EAGAIN)
		io = CPORT_IO_AGAIN;
	else if (ret == -EINTR || ret == -ERESTARTSYS)
		io = CPORT_IO_RETRY;
	else
		op->res = ret;
out:
	kfree(page);
	return io;
}

/*
 * Has the FIN gone?  TCP: the peer acknowledged it (and so all the data
 * before it), or the connection is over.  A unix socket's peer sees the
 * end of the stream at the shutdown itself.
 */
static bool cport_fin_sent(struct sock *sk)
{
	if (sk->sk_family == AF_UNIX)
		return true;
	return (1 << READ_ONCE(sk->sk_state)) &
	       (TCPF_FIN_WAIT2 | TCPF_TIME_WAIT | TCPF_CLOSE);
}

enum cport_io cport_do_disconnect(struct cport_sock *s, struct cport_op *op)
{
	struct sock *sk = s->sk;
	int ret;

	/* An error of the socket's (a reset), read as SO_ERROR reads it. */
	ret = sock_error(sk);
	if (!ret && !op->connected) {
		ret = kernel_sock_shutdown(s->sock, SHUT_WR);
		op->connected = !ret;
	}
	if (ret) {
		op->res = ret;
		return CPORT_IO_DONE;
	}
	if (!cport_fin_sent(sk))
		return CPORT_IO_AGAIN;
	if ((op->op_flags & CPORT_DISCONNECT_WAIT) &&
	    !(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN))
		return CPORT_IO_AGAIN;
	op->res = 0;
	return CPORT_IO_DONE;
}
