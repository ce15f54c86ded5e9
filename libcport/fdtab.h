/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * fdtab: per-descriptor state for the compatibility layers (win32.c,
 * qso.c).  Internal: compiled into each layer library, hidden, and listed
 * in no symbol map.
 *
 * A table gives every descriptor, 0 to INT_MAX, a slot of a fixed size,
 * zeroed when it is first made.  Slots are made in leaves of
 * FDTAB_LEAF_SIZE, reached through a two-level directory; both levels are
 * made on first use and kept for the life of the process.  So a slot
 * never moves and is never freed: finding one takes no lock and cannot
 * meet freed memory, and there is no cap below the descriptor range.
 *
 * The table only makes and finds slots.  What a slot holds, and how
 * concurrent users of one slot agree, is the caller's business (atomics
 * in win32.c, a mutex in qso.c).
 */
#ifndef LIBCPORT_FDTAB_H
#define LIBCPORT_FDTAB_H

#include <stdbool.h>
#include <stddef.h>

#define FDTAB_LEAF_SHIFT	10
#define FDTAB_MID_SHIFT		10
#define FDTAB_LEAF_SIZE		(1U << FDTAB_LEAF_SHIFT)
#define FDTAB_MID_SIZE		(1U << FDTAB_MID_SHIFT)
/* Top entries enough for every non-negative int. */
#define FDTAB_TOP_SHIFT		(31 - FDTAB_MID_SHIFT - FDTAB_LEAF_SHIFT)
#define FDTAB_TOP_SIZE		(1U << FDTAB_TOP_SHIFT)

struct fdtab {
	size_t slot_size;
	void *top[FDTAB_TOP_SIZE];	/* each: FDTAB_MID_SIZE leaf pointers */
};

/* A table whose slots are each a @type. */
#define FDTAB_INIT(type)	{ .slot_size = sizeof(type) }

#define FDTAB_HIDDEN	__attribute__((visibility("hidden")))

/*
 * The slot of @fd, made (zeroed) first if @create.  NULL for fd < 0, for
 * a slot not made yet without @create, or if memory ran out.
 */
FDTAB_HIDDEN void *fdtab_get(struct fdtab *t, int fd, bool create);

/*
 * Call @fn on every slot made so far, in descriptor order.  The slots'
 * contents are @fn's to judge (a zeroed slot is one never used).
 */
FDTAB_HIDDEN void fdtab_for_each(struct fdtab *t,
				 void (*fn)(int fd, void *slot, void *arg),
				 void *arg);

#endif /* LIBCPORT_FDTAB_H */
