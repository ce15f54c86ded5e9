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
#include <linux/build_bug.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>

#include "cport.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

#define CPORT_ENTER_FLAGS	CPORT_ENTER_ABSTIME
#define CPORT_SETUP_FLAGS	(CPORT_SETUP_NO_BLOCK_TRACKING | \
				 CPORT_SETUP_EAGER_RELEASE)

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
	size_t len;
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
	if (s.ring_entries > CPORT_MAX_RING_ENTRIES ||
	    (s.ring_entries & (s.ring_entries - 1)) || s.resv3)
		return -EINVAL;
	/* A name: NUL-terminated, zero after the NUL, and no number. */
	len = strnlen(s.policy_name, sizeof(s.policy_name));
	if (len == sizeof(s.policy_name) ||
	    memchr_inv(s.policy_name + len, 0, sizeof(s.policy_name) - len))
		return -EINVAL;
	if (len && s.policy)
		return -EINVAL;
	return cport_port_setup(port, &s);
}

/* QUERY is size-versioned: @usize bytes, zero past what this kernel knows. */
static long cport_ioctl_query(struct cport_port *port, void __user *argp,
			      size_t usize)
{
	struct cport_info info;

	if (usize < CPORT_INFO_SIZE_VER0)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	if (READ_ONCE(port->dead))
		return -EIDRM;
	cport_port_info(port, &info);
	if (copy_to_user(argp, &info, min(usize, sizeof(info))))
		return -EFAULT;
	if (usize > sizeof(info) &&
	    clear_user(argp + sizeof(info), usize - sizeof(info)))
		return -EFAULT;
	return 0;
}

/* One submission: its opcode's checks, then its issue (opdef.c). */
static int cport_submit_one(struct cport_port *port,
			    const struct cport_sqe *sqe,
			    struct cport_sqe __user *usqe)
{
	const struct cport_opdef *def = cport_opdef(sqe->opcode);
	int ret;

	if (!def)
		return -EINVAL;
	ret = def->check(sqe);
	if (ret)
		return ret;
	return def->issue(port, sqe, usqe);
}

static long cport_ioctl_enter(struct cport_port *port,
			      struct cport_enter __user *uenter)
{
	struct cport_sqe __user *usqe;
	struct cport_enter e;
	struct cport_sqe sqe;
	size_t sqe_size;
	ktime_t expires;
	u32 i;
	int ret = 0;

	if (copy_from_user(&e, uenter, sizeof(e)))
		return -EFAULT;
	if (e.flags & ~CPORT_ENTER_FLAGS)
		return -EINVAL;
	if (e.resv)
		return -EINVAL;
	if (e.nr_sqes > CPORT_MAX_ENTER || e.max_cqes > CPORT_MAX_ENTER)
		return -EINVAL;
	if (!e.nr_sqes && !e.max_cqes)
		return -EINVAL;
	if ((e.flags & CPORT_ENTER_ABSTIME) && e.timeout_ns < 0)
		return -EINVAL;
	sqe_size = e.sqe_size ?: CPORT_SQE_SIZE_VER0;
	if (sqe_size < CPORT_SQE_SIZE_VER0 || sqe_size > CPORT_SQE_SIZE_MAX ||
	    sqe_size % 8)
		return -EINVAL;
	if (e.cqe_size && e.cqe_size != CPORT_CQE_SIZE_VER0)
		return -EINVAL;

	for (i = 0; i < e.nr_sqes; i++) {
		usqe = u64_to_user_ptr(e.sqes + (u64)i * sqe_size);
		/* A longer record than ours: its tail must be zero (-E2BIG). */
		ret = copy_struct_from_user(&sqe, sizeof(sqe), usqe, sqe_size);
		if (ret)
			break;
		ret = cport_submit_one(port, &sqe, usqe);
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
		return cport_port_wait(port, u64_to_user_ptr(e.cqes),
				       e.max_cqes, NULL, false);
	if (e.flags & CPORT_ENTER_ABSTIME)
		expires = ns_to_ktime(e.timeout_ns);
	else
		expires = ktime_add_safe(ktime_get(), ns_to_ktime(e.timeout_ns));
	return cport_port_wait(port, u64_to_user_ptr(e.cqes), e.max_cqes,
			       &expires,
			       !(e.flags & CPORT_ENTER_ABSTIME) && !e.timeout_ns);
}

static long cport_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cport_port *port = file->private_data;
	void __user *argp = (void __user *)arg;
	bool setup, query;

	/*
	 * SETUP and QUERY are size-versioned: any size, same number and
	 * direction.
	 */
	setup = _IOC_TYPE(cmd) == CPORT_IOC_MAGIC &&
		_IOC_NR(cmd) == _IOC_NR(CPORT_IOC_SETUP) &&
		_IOC_DIR(cmd) == _IOC_WRITE;
	query = _IOC_TYPE(cmd) == CPORT_IOC_MAGIC &&
		_IOC_NR(cmd) == _IOC_NR(CPORT_IOC_QUERY) &&
		_IOC_DIR(cmd) == _IOC_READ;
	if (!setup && !query && cmd != CPORT_IOC_ENTER &&
	    cmd != CPORT_IOC_DESTROY && cmd != CPORT_IOC_LEAVE)
		return -ENOTTY;

	/* Operations will move the memory of the process that owns the port. */
	if (current->mm != port->mm)
		return -EPERM;

	if (setup)
		return cport_ioctl_setup(port, argp, _IOC_SIZE(cmd));
	if (query)
		return cport_ioctl_query(port, argp, _IOC_SIZE(cmd));

	switch (cmd) {
	case CPORT_IOC_ENTER:
		return cport_ioctl_enter(port, argp);
	case CPORT_IOC_DESTROY:
		if (arg)
			return -EINVAL;
		return cport_port_destroy(port);
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

static int cport_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct cport_port *port = file->private_data;

	/* Like the ioctls: the owner's, and the port holds its mm. */
	if (current->mm != port->mm)
		return -EPERM;
	return cport_ring_mmap(port, vma);
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
	.mmap		= cport_mmap,
	.show_fdinfo	= cport_show_fdinfo,
};

static struct miscdevice cport_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cport",
	.fops	= &cport_fops,
	.mode	= 0666,
};

/*
 * One field of an ABI record: where it is and how big (io_uring's
 * BUILD_BUG_SQE_ELEM, in two halves so that no macro argument is used
 * twice).
 */
#define CPORT_ABI_OFF(type, name, off) \
	BUILD_BUG_ON(offsetof(struct type, name) != (off))
#define CPORT_ABI_SIZE(type, name, etype) \
	BUILD_BUG_ON(sizeof_field(struct type, name) != sizeof(etype))

/* One layout for 32- and 64-bit user space, field by field. */
static void __init cport_abi_check(void)
{
	BUILD_BUG_ON(sizeof(struct cport_sqe) != CPORT_SQE_SIZE_VER0);
	CPORT_ABI_OFF(cport_sqe, opcode, 0);
	CPORT_ABI_SIZE(cport_sqe, opcode, __u8);
	CPORT_ABI_OFF(cport_sqe, status, 1);
	CPORT_ABI_SIZE(cport_sqe, status, __u8);
	CPORT_ABI_OFF(cport_sqe, flags, 2);
	CPORT_ABI_SIZE(cport_sqe, flags, __u16);
	CPORT_ABI_OFF(cport_sqe, fd, 4);
	CPORT_ABI_SIZE(cport_sqe, fd, __s32);
	CPORT_ABI_OFF(cport_sqe, user_data, 8);
	CPORT_ABI_SIZE(cport_sqe, user_data, __u64);
	CPORT_ABI_OFF(cport_sqe, addr, 16);
	CPORT_ABI_SIZE(cport_sqe, addr, __u64);
	CPORT_ABI_OFF(cport_sqe, len, 24);
	CPORT_ABI_SIZE(cport_sqe, len, __u64);
	CPORT_ABI_OFF(cport_sqe, key, 32);
	CPORT_ABI_SIZE(cport_sqe, key, __u64);
	CPORT_ABI_OFF(cport_sqe, res, 40);
	CPORT_ABI_SIZE(cport_sqe, res, __s64);
	CPORT_ABI_OFF(cport_sqe, timeout_ns, 48);
	CPORT_ABI_SIZE(cport_sqe, timeout_ns, __u64);
	CPORT_ABI_OFF(cport_sqe, op_flags, 56);
	CPORT_ABI_SIZE(cport_sqe, op_flags, __u32);
	CPORT_ABI_OFF(cport_sqe, bytes, 60);
	CPORT_ABI_SIZE(cport_sqe, bytes, __u32);

	BUILD_BUG_ON(sizeof(struct cport_cqe) != CPORT_CQE_SIZE_VER0);
	CPORT_ABI_OFF(cport_cqe, user_data, 0);
	CPORT_ABI_SIZE(cport_cqe, user_data, __u64);
	CPORT_ABI_OFF(cport_cqe, key, 8);
	CPORT_ABI_SIZE(cport_cqe, key, __u64);
	CPORT_ABI_OFF(cport_cqe, res, 16);
	CPORT_ABI_SIZE(cport_cqe, res, __s64);
	CPORT_ABI_OFF(cport_cqe, bytes, 24);
	CPORT_ABI_SIZE(cport_cqe, bytes, __u64);
	CPORT_ABI_OFF(cport_cqe, flags, 32);
	CPORT_ABI_SIZE(cport_cqe, flags, __u32);
	CPORT_ABI_OFF(cport_cqe, op, 36);
	CPORT_ABI_SIZE(cport_cqe, op, __u8);
	CPORT_ABI_OFF(cport_cqe, resv0, 37);
	CPORT_ABI_SIZE(cport_cqe, resv0, __u8);
	CPORT_ABI_OFF(cport_cqe, buf, 38);
	CPORT_ABI_SIZE(cport_cqe, buf, __u16);
	CPORT_ABI_OFF(cport_cqe, seq, 40);
	CPORT_ABI_SIZE(cport_cqe, seq, __u32);
	CPORT_ABI_OFF(cport_cqe, resv2, 44);
	CPORT_ABI_SIZE(cport_cqe, resv2, __u32);

	BUILD_BUG_ON(sizeof(struct cport_enter) != 56);
	CPORT_ABI_OFF(cport_enter, sqes, 0);
	CPORT_ABI_SIZE(cport_enter, sqes, __u64);
	CPORT_ABI_OFF(cport_enter, cqes, 8);
	CPORT_ABI_SIZE(cport_enter, cqes, __u64);
	CPORT_ABI_OFF(cport_enter, nr_sqes, 16);
	CPORT_ABI_SIZE(cport_enter, nr_sqes, __u32);
	CPORT_ABI_OFF(cport_enter, max_cqes, 20);
	CPORT_ABI_SIZE(cport_enter, max_cqes, __u32);
	CPORT_ABI_OFF(cport_enter, timeout_ns, 24);
	CPORT_ABI_SIZE(cport_enter, timeout_ns, __s64);
	CPORT_ABI_OFF(cport_enter, flags, 32);
	CPORT_ABI_SIZE(cport_enter, flags, __u32);
	CPORT_ABI_OFF(cport_enter, submitted, 36);
	CPORT_ABI_SIZE(cport_enter, submitted, __u32);
	CPORT_ABI_OFF(cport_enter, sqe_size, 40);
	CPORT_ABI_SIZE(cport_enter, sqe_size, __u32);
	CPORT_ABI_OFF(cport_enter, cqe_size, 44);
	CPORT_ABI_SIZE(cport_enter, cqe_size, __u32);
	CPORT_ABI_OFF(cport_enter, resv, 48);
	CPORT_ABI_SIZE(cport_enter, resv, __u64);

	BUILD_BUG_ON(sizeof(struct cport_setup) != CPORT_SETUP_SIZE_VER3);
	CPORT_ABI_OFF(cport_setup, flags, 0);
	CPORT_ABI_SIZE(cport_setup, flags, __u32);
	CPORT_ABI_OFF(cport_setup, concurrency, 4);
	CPORT_ABI_SIZE(cport_setup, concurrency, __u32);
	CPORT_ABI_OFF(cport_setup, policy, 8);
	CPORT_ABI_SIZE(cport_setup, policy, __u32);
	CPORT_ABI_OFF(cport_setup, max_queued, 12);
	CPORT_ABI_SIZE(cport_setup, max_queued, __u32);
	CPORT_ABI_OFF(cport_setup, max_pending, CPORT_SETUP_SIZE_VER0);
	CPORT_ABI_SIZE(cport_setup, max_pending, __u32);
	CPORT_ABI_OFF(cport_setup, resv, 20);
	CPORT_ABI_SIZE(cport_setup, resv, __u32);
	CPORT_ABI_OFF(cport_setup, policy_name, CPORT_SETUP_SIZE_VER1);
	CPORT_ABI_SIZE(cport_setup, policy_name, char[CPORT_POLICY_NAME_LEN]);
	CPORT_ABI_OFF(cport_setup, ring_entries, CPORT_SETUP_SIZE_VER2);
	CPORT_ABI_SIZE(cport_setup, ring_entries, __u32);
	CPORT_ABI_OFF(cport_setup, resv3, 44);
	CPORT_ABI_SIZE(cport_setup, resv3, __u32);

	BUILD_BUG_ON(sizeof(struct cport_ring_hdr) != CPORT_RING_CQES);
	CPORT_ABI_OFF(cport_ring_hdr, head, 0);
	CPORT_ABI_SIZE(cport_ring_hdr, head, __u32);
	CPORT_ABI_OFF(cport_ring_hdr, tail, 64);
	CPORT_ABI_SIZE(cport_ring_hdr, tail, __u32);
	CPORT_ABI_OFF(cport_ring_hdr, ring_entries, 68);
	CPORT_ABI_SIZE(cport_ring_hdr, ring_entries, __u32);
	CPORT_ABI_OFF(cport_ring_hdr, cqe_size, 72);
	CPORT_ABI_SIZE(cport_ring_hdr, cqe_size, __u32);

	BUILD_BUG_ON(sizeof(struct cport_info) != CPORT_INFO_SIZE_VER2);
	CPORT_ABI_OFF(cport_info, ring_entries, CPORT_INFO_SIZE_VER1);
	CPORT_ABI_SIZE(cport_info, ring_entries, __u32);
	CPORT_ABI_OFF(cport_info, api_version, 0);
	CPORT_ABI_SIZE(cport_info, api_version, __u32);
	CPORT_ABI_OFF(cport_info, features, 4);
	CPORT_ABI_SIZE(cport_info, features, __u32);
	CPORT_ABI_OFF(cport_info, ops, 8);
	CPORT_ABI_SIZE(cport_info, ops, __u64);
	CPORT_ABI_OFF(cport_info, setup_flags, 16);
	CPORT_ABI_SIZE(cport_info, setup_flags, __u32);
	CPORT_ABI_OFF(cport_info, enter_flags, 20);
	CPORT_ABI_SIZE(cport_info, enter_flags, __u32);
	CPORT_ABI_OFF(cport_info, sqe_flags, 24);
	CPORT_ABI_SIZE(cport_info, sqe_flags, __u32);
	CPORT_ABI_OFF(cport_info, policies, 28);
	CPORT_ABI_SIZE(cport_info, policies, __u32);
	CPORT_ABI_OFF(cport_info, concurrency, 32);
	CPORT_ABI_SIZE(cport_info, concurrency, __u32);
	CPORT_ABI_OFF(cport_info, policy, 36);
	CPORT_ABI_SIZE(cport_info, policy, __u32);
	CPORT_ABI_OFF(cport_info, max_queued, 40);
	CPORT_ABI_SIZE(cport_info, max_queued, __u32);
	CPORT_ABI_OFF(cport_info, max_enter, 44);
	CPORT_ABI_SIZE(cport_info, max_enter, __u32);
	CPORT_ABI_OFF(cport_info, port_flags, 48);
	CPORT_ABI_SIZE(cport_info, port_flags, __u32);
	CPORT_ABI_OFF(cport_info, max_pending, 52);
	CPORT_ABI_SIZE(cport_info, max_pending, __u32);
	CPORT_ABI_OFF(cport_info, resv, 56);
	CPORT_ABI_SIZE(cport_info, resv, __u64[3]);
	CPORT_ABI_OFF(cport_info, policy_name, CPORT_INFO_SIZE_VER0);
	CPORT_ABI_SIZE(cport_info, policy_name, char[CPORT_POLICY_NAME_LEN]);
	CPORT_ABI_OFF(cport_info, nr_policies, 96);
	CPORT_ABI_SIZE(cport_info, nr_policies, __u32);
	CPORT_ABI_OFF(cport_info, resv1, 100);
	CPORT_ABI_SIZE(cport_info, resv1, __u32);
	CPORT_ABI_OFF(cport_info, policy_names, 104);
	CPORT_ABI_SIZE(cport_info, policy_names,
		       char[CPORT_MAX_POLICIES][CPORT_POLICY_NAME_LEN]);
}

static int __init cport_init(void)
{
	int ret;

	cport_abi_check();

	cport_limits_init();
	ret = cport_policies_init();
	if (ret)
		return ret;
	ret = cport_node_cache_init();
	if (ret)
		goto out_policies;
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
out_policies:
	cport_policies_exit();
	return ret;
}

static void __exit cport_exit(void)
{
	misc_deregister(&cport_misc);
	cport_threads_exit();
	/*
	 * A fallback task work gives its module reference back through
	 * cport's workqueue as its last act, so its thread may still be in
	 * our text: before the queue_work() (another callback's work item
	 * may have dropped this one's reference already) or after it.  An
	 * RCU Tasks grace period ends only once every such thread has
	 * switched voluntarily or gone back to user space; then the
	 * workqueue can go.
	 */
	synchronize_rcu_tasks();
	cport_socks_exit();
	cport_ops_exit();
	cport_node_cache_exit();
	cport_policies_exit();
}

module_init(cport_init);
module_exit(cport_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("I/O completion ports");
MODULE_AUTHOR("The cport authors");
