/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The differences between the kernels cport builds on (6.1 to 7.2), in
 * one place.  Each shim defines a newer kernel's interface for older ones.
 */
#ifndef _CPORT_COMPAT_H
#define _CPORT_COMPAT_H

#include <linux/hrtimer.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/version.h>

#ifndef CONFIG_PREEMPT_NOTIFIERS
#error "cport needs CONFIG_PREEMPT_NOTIFIERS (selected by KVM_INTEL or KVM_AMD)"
#endif

/*
 * Is @p, being switched out, blocked rather than preempted?  Since 6.12 a
 * blocked fair task may stay queued for a while (delayed dequeue), which
 * task_is_runnable() accounts for; with proxy execution (7.x) a task
 * blocked on a mutex stays queued too.  The scheduler tells that with
 * task_is_blocked(), which is private to it (kernel/sched/sched.h) and
 * tests a static key that is not exported: ->blocked_on, which it also
 * tests, is public.  It is set only in the mutex slow path, so with proxy
 * execution off at boot at worst a thread preempted there counts as
 * blocked for that moment.
 */
static inline bool cport_task_blocked(struct task_struct *p)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#ifdef CONFIG_SCHED_PROXY_EXEC
	if (READ_ONCE(p->blocked_on))
		return true;
#endif
	return !task_is_runnable(p);
#else
	return !READ_ONCE(p->on_rq);
#endif
}

/* hrtimer_setup() replaced hrtimer_init() and ->function in 6.13. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
static inline void hrtimer_setup(struct hrtimer *timer,
				 enum hrtimer_restart (*function)(struct hrtimer *),
				 clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}
#endif

/*
 * close_fd_get_file() became file_close_fd() in 6.8: the file at a
 * descriptor, taken out of the table with the table's reference.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
#define file_close_fd(fd)	close_fd_get_file(fd)
#endif

/* vm_flags_set() and vm_flags_clear() arrived in 6.3. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#define cport_vm_flags_set(vma, flags)		((vma)->vm_flags |= (flags))
#define cport_vm_flags_clear(vma, flags)	((vma)->vm_flags &= ~(flags))
#else
#define cport_vm_flags_set(vma, flags)		vm_flags_set(vma, flags)
#define cport_vm_flags_clear(vma, flags)	vm_flags_clear(vma, flags)
#endif

/* kmalloc_obj() and kzalloc_obj() arrived in 7.0. */
#ifndef kmalloc_obj
#define kmalloc_obj(VAR_OR_TYPE, GFP) \
	kmalloc(sizeof(VAR_OR_TYPE), GFP)
#define kzalloc_obj(VAR_OR_TYPE, GFP) \
	kzalloc(sizeof(VAR_OR_TYPE), GFP)
#endif

/*
 * dequeue_signal() lost its task argument (always current) between 6.1
 * and 6.12.  With the caller's siglock held.
 */
static inline int cport_dequeue_signal(sigset_t *mask, kernel_siginfo_t *info,
				       enum pid_type *type)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	return dequeue_signal(mask, info, type);
#else
	return dequeue_signal(current, mask, info, type);
#endif
}

#endif /* _CPORT_COMPAT_H */
