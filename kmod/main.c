// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/cport: the misc device, its file operations and the ioctl
 * dispatch.
 *
 * Each open() creates a port.  This file only validates what user space
 * passes in (every field, with the errno documented in uapi/linux/cport.h,
 * in the order documented there) and hands the work to port.c and wait.c.
 * Errors are checked in this order: unknown command (-ENOTTY), a caller
 * outside the owning process (-EPERM), the argument itself (-EFAULT,
 * -EINVAL, -E2BIG), then the port's state (-EIDRM, -EBUSY).
 */
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "cport.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

#define CPORT_ENTER_FLAGS	CPORT_ENTER_ABSTIME
#define CPORT_SQE_FLAGS		(CPORT_SQE_INLINE | CPORT_SQE_POST)
#define CPORT_CANCEL_HOW	(CPORT_CANCEL_USER_DATA | CPORT_CANCEL_FD | \
				 CPORT_CANCEL_KEY | CPORT_CANCEL_ALL)
#define CPORT_ACCEPT_FLAGS	(CPORT_ACCEPT_CLOEXEC | CPORT_ACCEPT_NONBLOCK | \
				 CPORT_ACCEPT_ASSOCIATE | \
				 CPORT_ACCEPT_ASSOC_INLINE)
#define CPORT_SETUP_FLAGS	CPORT_SETUP_NO_BLOCK_TRACKING

static int cport_open(struct inode *inode, struct file *file)
{
	struct cport_port *port;

	port = cport_port_alloc();
	if (IS_ERR(port))
		return PTR_ERR(port);
	file->private_data = port;
	return nonseekable_open(inode, file);
}

static int cport_release(struct inode *inode, struct file *file)
{
	cport_port_release(file->private_data);
	return 0;
}

static long cport_ioctl_setup(struct cport_port *port, void __user *argp,
			      size_t usize)
{
	struct cport_setup s;
	int ret;

	if (usize < CPORT_SETUP_SIZE_VER0)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(&s, sizeof(s), argp, usize);
	if (ret)
		return ret;
	if (s.flags & ~CPORT_SETUP_FLAGS)
		return -EINVAL;
	if (s.policy >= CPORT_POLICY__NR)
		return -EINVAL;
	if (s.concurrency > CPORT_MAX_CONCURRENCY)
		return -EINVAL;
	if (s.max_queued > CPORT_MAX_QUEUED)
		return -EINVAL;
	if (s.max_pending > CPORT_MAX_PENDING || s.resv)
		return -EINVAL;
	return cport_port_setup(port, &s);
}

static long cport_ioctl_query(struct cport_port *port, void __user *argp)
{
	struct cport_info info;

	if (READ_ONCE(port->dead))
		return -EIDRM;
	cport_port_info(port, &info);
	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/*
 * The fields of one submission, by opcode: anything an opcode does not use
 * must be zero (status and bytes are outputs and ignored, and so is res
 * for every opcode but POST).
 */
static int cport_check_sqe(const struct cport_sqe *sqe)
{
	const u32 of = sqe->op_flags;

	switch (sqe->opcode) {
	case CPORT_OP_POST:
		if (sqe->flags || of || sqe->fd || sqe->addr)
			return -EINVAL;
		return 0;
	case CPORT_OP_ASSOCIATE:
		if (sqe->flags || (of & ~CPORT_ASSOC_INLINE) ||
		    sqe->user_data || sqe->addr || sqe->len || sqe->timeout_ns)
			return -EINVAL;
		return 0;
	case CPORT_OP_DISSOCIATE:
		if (sqe->flags || of || sqe->user_data || sqe->addr ||
		    sqe->len || sqe->key || sqe->timeout_ns)
			return -EINVAL;
		return 0;
	case CPORT_OP_CANCEL:
		if (sqe->flags || !of || (of & ~CPORT_CANCEL_HOW) ||
		    (of & (of - 1)) || sqe->addr || sqe->len || sqe->timeout_ns)
			return -EINVAL;
		if (of != CPORT_CANCEL_USER_DATA && sqe->user_data)
			return -EINVAL;
		if (of != CPORT_CANCEL_FD && sqe->fd)
			return -EINVAL;
		if (of != CPORT_CANCEL_KEY && sqe->key)
			return -EINVAL;
		return 0;
	case CPORT_OP_RECV:
	case CPORT_OP_SEND:
	case CPORT_OP_ACCEPT:
		break;
	default:
		return -EINVAL;
	}

	/* RECV, SEND, ACCEPT */
	if (sqe->flags & ~CPORT_SQE_FLAGS)
		return -EINVAL;
	if ((sqe->flags & CPORT_SQE_INLINE) && (sqe->flags & CPORT_SQE_POST))
		return -EINVAL;
	if (sqe->len > CPORT_MAX_IO)
		return -EINVAL;
	switch (sqe->opcode) {
	case CPORT_OP_RECV:
		if ((of & ~CPORT_RECV_FILL) || sqe->key)
			return -EINVAL;
		if (!sqe->len && (sqe->addr || (of & CPORT_RECV_FILL)))
			return -EINVAL;
		return 0;
	case CPORT_OP_SEND:
		if (of || sqe->key)
			return -EINVAL;
		return 0;
	default:
		if (of & ~CPORT_ACCEPT_FLAGS)
			return -EINVAL;
		if (!(of & CPORT_ACCEPT_ASSOCIATE) &&
		    ((of & CPORT_ACCEPT_ASSOC_INLINE) || sqe->key))
			return -EINVAL;
		if (!sqe->addr != !sqe->len)
			return -EINVAL;
		return 0;
	}
}

static int cport_submit_one(struct cport_port *port,
			    const struct cport_sqe *sqe,
			    struct cport_sqe __user *usqe)
{
	struct cport_cqe cqe = {};
	int ret;

	ret = cport_check_sqe(sqe);
	if (ret)
		return ret;

	switch (sqe->opcode) {
	case CPORT_OP_POST:
		cqe.user_data = sqe->user_data;
		cqe.key = sqe->key;
		cqe.res = sqe->res;
		cqe.bytes = sqe->len;
		cqe.op = CPORT_OP_POST;
		return cport_post(port, &cqe, sqe->timeout_ns);
	case CPORT_OP_ASSOCIATE:
		return cport_op_associate(port, sqe);
	case CPORT_OP_DISSOCIATE:
		return cport_op_dissociate(port, sqe);
	case CPORT_OP_CANCEL:
		return cport_op_cancel(port, sqe, usqe);
	default:
		return cport_op_submit(port, sqe, usqe);
	}
}

static long cport_ioctl_enter(struct cport_port *port,
			      struct cport_enter __user *uenter)
{
	struct cport_sqe __user *usqes;
	struct cport_enter e;
	struct cport_sqe sqe;
	ktime_t expires;
	u32 i;
	int ret = 0;

	if (copy_from_user(&e, uenter, sizeof(e)))
		return -EFAULT;
	if (e.flags & ~CPORT_ENTER_FLAGS)
		return -EINVAL;
	if (e.resv[0] || e.resv[1])
		return -EINVAL;
	if (e.nr_sqes > CPORT_MAX_ENTER || e.max_cqes > CPORT_MAX_ENTER)
		return -EINVAL;
	if (!e.nr_sqes && !e.max_cqes)
		return -EINVAL;
	if ((e.flags & CPORT_ENTER_ABSTIME) && e.timeout_ns < 0)
		return -EINVAL;

	usqes = u64_to_user_ptr(e.sqes);
	for (i = 0; i < e.nr_sqes; i++) {
		if (copy_from_user(&sqe, &usqes[i], sizeof(sqe))) {
			ret = -EFAULT;
			break;
		}
		ret = cport_submit_one(port, &sqe, &usqes[i]);
		if (ret)
			break;
		/* Up to CPORT_MAX_ENTER of them: a chance to reschedule. */
		cond_resched();
	}
	if (e.nr_sqes && put_user(i, &uenter->submitted))
		return -EFAULT;
	if (ret)
		return ret;
	if (!e.max_cqes)
		return 0;

	if (e.timeout_ns < 0)
		return cport_wait(port, u64_to_user_ptr(e.cqes), e.max_cqes,
				  NULL, false);
	if (e.flags & CPORT_ENTER_ABSTIME)
		expires = ns_to_ktime(e.timeout_ns);
	else
		expires = ktime_add_safe(ktime_get(), ns_to_ktime(e.timeout_ns));
	return cport_wait(port, u64_to_user_ptr(e.cqes), e.max_cqes, &expires,
			  !(e.flags & CPORT_ENTER_ABSTIME) && !e.timeout_ns);
}

static long cport_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cport_port *port = file->private_data;
	void __user *argp = (void __user *)arg;
	bool setup;

	/* SETUP is size-extensible: any size, same number and direction. */
	setup = _IOC_TYPE(cmd) == CPORT_IOC_MAGIC &&
		_IOC_NR(cmd) == _IOC_NR(CPORT_IOC_SETUP) &&
		_IOC_DIR(cmd) == _IOC_WRITE;
	if (!setup && cmd != CPORT_IOC_QUERY && cmd != CPORT_IOC_ENTER &&
	    cmd != CPORT_IOC_DESTROY && cmd != CPORT_IOC_LEAVE)
		return -ENOTTY;

	/* Operations will move the memory of the process that owns the port. */
	if (current->mm != port->mm)
		return -EPERM;

	if (setup)
		return cport_ioctl_setup(port, argp, _IOC_SIZE(cmd));

	switch (cmd) {
	case CPORT_IOC_QUERY:
		return cport_ioctl_query(port, argp);
	case CPORT_IOC_ENTER:
		return cport_ioctl_enter(port, argp);
	case CPORT_IOC_DESTROY:
		if (arg)
			return -EINVAL;
		return cport_destroy(port);
	case CPORT_IOC_LEAVE:
		if (arg)
			return -EINVAL;
		return cport_thread_leave(port);
	}
	return -ENOTTY;
}

static __poll_t cport_poll(struct file *file, poll_table *wait)
{
	struct cport_port *port = file->private_data;

	poll_wait(file, &port->poll_wq, wait);
	return cport_port_poll(port);
}

static void cport_show_fdinfo(struct seq_file *m, struct file *file)
{
	cport_port_show(file->private_data, m);
}

static const struct file_operations cport_fops = {
	.owner		= THIS_MODULE,
	.open		= cport_open,
	.release	= cport_release,
	.unlocked_ioctl	= cport_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.poll		= cport_poll,
	.show_fdinfo	= cport_show_fdinfo,
};

static struct miscdevice cport_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cport",
	.fops	= &cport_fops,
	.mode	= 0666,
};

static int __init cport_init(void)
{
	int ret;

	/* One layout for 32- and 64-bit user space. */
	BUILD_BUG_ON(sizeof(struct cport_sqe) != 64);
	BUILD_BUG_ON(sizeof(struct cport_cqe) != 48);
	BUILD_BUG_ON(sizeof(struct cport_enter) != 56);
	BUILD_BUG_ON(sizeof(struct cport_setup) != CPORT_SETUP_SIZE_VER1);
	BUILD_BUG_ON(sizeof(struct cport_info) != 80);

	cport_limits_init();
	ret = cport_node_cache_init();
	if (ret)
		return ret;
	ret = cport_ops_init();
	if (ret)
		goto out_cache;
	ret = cport_socks_init();
	if (ret)
		goto out_ops;
	ret = cport_threads_init();
	if (ret)
		goto out_socks;
	ret = misc_register(&cport_misc);
	if (ret)
		goto out_threads;
	return 0;

out_threads:
	cport_threads_exit();
out_socks:
	cport_socks_exit();
out_ops:
	cport_ops_exit();
out_cache:
	cport_node_cache_exit();
	return ret;
}

static void __exit cport_exit(void)
{
	misc_deregister(&cport_misc);
	cport_threads_exit();
	cport_socks_exit();
	cport_ops_exit();
	cport_node_cache_exit();
}

module_init(cport_init);
module_exit(cport_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("I/O completion ports");
MODULE_AUTHOR("The cport authors");
