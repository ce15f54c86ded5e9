/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * fdtab: per-descriptor slots without locks and without a cap (fdtab.h).
 * A descriptor's bits above FDTAB_MID_SHIFT + FDTAB_LEAF_SHIFT pick a
 * directory entry, the next FDTAB_MID_SHIFT a leaf, the low ones a slot.
 */
#include <stdlib.h>

#include "fdtab.h"

/*
 * The array at *@p, made with calloc(@n, @size) if there is none yet and
 * @create.  Threads may race to make it: the first one's wins, the others
 * free theirs.  Acquire/release: whoever sees the pointer sees the zeroes.
 */
static void *get_or_make(void **p, size_t n, size_t size, bool create)
{
	void *cur = __atomic_load_n(p, __ATOMIC_ACQUIRE), *none = NULL;

	if (cur || !create)
		return cur;
	cur = calloc(n, size);
	if (!cur)
		return NULL;
	if (!__atomic_compare_exchange_n(p, &none, cur, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(cur);
		cur = none;
	}
	return cur;
}

void *fdtab_get(struct fdtab *t, int fd, bool create)
{
	unsigned int u = (unsigned int)fd;
	void **mid;
	char *leaf;

	if (fd < 0)
		return NULL;
	mid = get_or_make(&t->top[u >> (FDTAB_MID_SHIFT + FDTAB_LEAF_SHIFT)],
			  FDTAB_MID_SIZE, sizeof(void *), create);
	if (!mid)
		return NULL;
	leaf = get_or_make(&mid[(u >> FDTAB_LEAF_SHIFT) & (FDTAB_MID_SIZE - 1)],
			   FDTAB_LEAF_SIZE, t->slot_size, create);
	if (!leaf)
		return NULL;
	return leaf + (size_t)(u & (FDTAB_LEAF_SIZE - 1)) * t->slot_size;
}

static void for_each_leaf(struct fdtab *t, unsigned int first, char *leaf,
			  void (*fn)(int fd, void *slot, void *arg), void *arg)
{
	unsigned int i;

	for (i = 0; i < FDTAB_LEAF_SIZE; i++)
		fn((int)(first + i), leaf + (size_t)i * t->slot_size, arg);
}

void fdtab_for_each(struct fdtab *t,
		    void (*fn)(int fd, void *slot, void *arg), void *arg)
{
	unsigned int i, j;

	for (i = 0; i < FDTAB_TOP_SIZE; i++) {
		void **mid = __atomic_load_n(&t->top[i], __ATOMIC_ACQUIRE);

		for (j = 0; mid && j < FDTAB_MID_SIZE; j++) {
			char *leaf = __atomic_load_n(&mid[j], __ATOMIC_ACQUIRE);

			if (leaf)
				for_each_leaf(t, (i << (FDTAB_MID_SHIFT +
							FDTAB_LEAF_SHIFT)) |
						 (j << FDTAB_LEAF_SHIFT),
					      leaf, fn, arg);
		}
	}
}
