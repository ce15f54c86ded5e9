/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The differences between the kernels cport builds on (6.1 to 7.2), in
 * one place.  Each shim defines a newer kernel's interface for older ones.
 */
#ifndef _CPORT_COMPAT_H
#define _CPORT_COMPAT_H

#include <linux/slab.h>

/* kmalloc_obj() and kzalloc_obj() arrived in 7.0. */
#ifndef kmalloc_obj
#define kmalloc_obj(VAR_OR_TYPE, GFP) \
	kmalloc(sizeof(VAR_OR_TYPE), GFP)
#define kzalloc_obj(VAR_OR_TYPE, GFP) \
	kzalloc(sizeof(VAR_OR_TYPE), GFP)
#endif

#endif /* _CPORT_COMPAT_H */
