// SPDX-License-Identifier: GPL-2.0
/*
 * The completion ring: completions in memory the port shares with user
 * space (uapi/linux/cport.h, "The completion ring"), so that a thread
 * that is running takes what is queued without a system call.
 *
 * The kernel is the only producer: entries are written and tail advanced
 * under port->lock.  Consumers are user-space threads and the kernel
 * itself (a waiter handed the oldest completion, a wait taking what is
 * queued); each takes an entry by a compare-and-swap of head from the
 * value it read.  A producer never writes an entry that a consumer may
 * still take: it writes only while tail - head < entries, and a consumer
 * that read an entry which was taken and rewritten meanwhile fails its
 * swap (head moved).  Head is user memory in all but name: the kernel
 * reads it with READ_ONCE(), bounds what it implies, and never uses it
 * but masked.
 *
 * The pages are allocated one by one (no high-order allocation), charged
 * to the memory cgroup of the thread that sets the port up
 * (GFP_KERNEL_ACCOUNT) and to the user's units (limits.c), mapped
 * contiguously for the kernel with vmap() and inserted into user mappings
 * with vm_map_pages(), which takes a page reference per mapping: the pages
 * outlive the port if a mapping does.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "cport.h"

struct cport_ring_k {
	struct cport_ring_hdr	*hdr;		/* vmap()ed: shared */
	struct cport_cqe	*cqes;
	struct page		**pages;
	unsigned int		nr_pages;
	u32			entries;
	u32			mask;
	u32			tail;		/* port->lock: the kernel's */
	u32			units;		/* charged (limits.c) */
};

static size_t cport_ring_bytes(u32 entries)
{
	return CPORT_RING_CQES + (size_t)entries * sizeof(struct cport_cqe);
}

static void cport_ring_free_pages(struct cport_ring_k *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_pages; i++)
		if (r->pages[i])
			__free_page(r->pages[i]);
	kvfree(r->pages);
}

/*
 * Make a ring of @entries (a power of two, checked by the caller) for
 * @port, not yet used.  Process context.
 */
struct cport_ring_k *cport_ring_alloc(struct cport_port *port, u32 entries)
{
	struct cport_ring_k *r;
	unsigned int i;
	int ret;

	r = kzalloc_obj(*r, GFP_KERNEL_ACCOUNT);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->nr_pages = DIV_ROUND_UP(cport_ring_bytes(entries), PAGE_SIZE);
	ret = cport_charge_bytes(port, (size_t)r->nr_pages * PAGE_SIZE,
				 &r->units);
	if (ret) {
		kfree(r);
		return ERR_PTR(ret);
	}
	ret = -ENOMEM;
	r->pages = kvcalloc(r->nr_pages, sizeof(*r->pages), GFP_KERNEL_ACCOUNT);
	if (!r->pages)
		goto fail;
	for (i = 0; i < r->nr_pages; i++) {
		r->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!r->pages[i])
			goto fail;
	}
	r->hdr = vmap(r->pages, r->nr_pages, VM_MAP, PAGE_KERNEL);
	if (!r->hdr)
		goto fail;
	r->cqes = (void *)r->hdr + CPORT_RING_CQES;
	r->entries = entries;
	r->mask = entries - 1;
	r->hdr->ring_entries = entries;
	r->hdr->cqe_size = sizeof(struct cport_cqe);
	return r;

fail:
	if (r->pages)
		cport_ring_free_pages(r);
	cport_uncharge_bytes(port, r->units);
	kfree(r);
	return ERR_PTR(ret);
}

void cport_ring_free(struct cport_port *port, struct cport_ring_k *r)
{
	if (!r)
		return;
	vunmap(r->hdr);
	/* A mapping still held by user space keeps its own references. */
	cport_ring_free_pages(r);
	cport_uncharge_bytes(port, r->units);
	kfree(r);
}

u32 cport_ring_entries(struct cport_ring_k *r)
{
	return r ? r->entries : 0;
}

/*
 * Entries in the ring, as far as a consistent head says; 0 when head is
 * nonsense (a program wrote it): its entries are then lost to it, never
 * read.  Lockless callers (poll, the notifiers) get a hint.
 */
static u32 cport_ring_count(struct cport_ring_k *r, u32 tail)
{
	u32 n = tail - READ_ONCE(r->hdr->head);

	return n <= r->entries ? n : 0;
}

u32 cport_ring_pending(struct cport_port *port)
{
	/* Set once at setup (release); lockless callers too. */
	struct cport_ring_k *r = READ_ONCE(port->ring);

	return r ? cport_ring_count(r, READ_ONCE(r->tail)) : 0;
}

/*
 * Write @cqe as the newest entry, if there is room (a head beyond tail,
 * which only a program that wrote it can cause, counts as full).
 */
bool __cport_ring_push(struct cport_port *port, const struct cport_cqe *cqe)
{
	struct cport_ring_k *r = port->ring;
	u32 tail;

	lockdep_assert_held(&port->lock);
	tail = r->tail;
	/* Entries taken before their slot is reused: pairs with the swap. */
	if (tail - smp_load_acquire(&r->hdr->head) >= r->entries)
		return false;
	r->cqes[tail & r->mask] = *cqe;
	/* The entry before the index: pairs with the takers' acquire. */
	smp_store_release(&r->hdr->tail, tail + 1);
	WRITE_ONCE(r->tail, tail + 1);
	return true;
}

/*
 * How many times the kernel retries a swap of head that another taker
 * won: each failure means an entry was taken, but a program can also
 * make every swap fail by rewriting head; after this many the ring
 * counts as empty for this call (under port->lock, interrupts off).
 */
#define CPORT_RING_TRIES	8

/* Take the oldest entry into @cqe, as user space would. */
bool __cport_ring_pop(struct cport_port *port, struct cport_cqe *cqe)
{
	struct cport_ring_k *r = port->ring;
	unsigned int tries;
	u32 head, n;

	lockdep_assert_held(&port->lock);
	for (tries = 0; tries < CPORT_RING_TRIES; tries++) {
		head = READ_ONCE(r->hdr->head);
		n = r->tail - head;
		if (!n || n > r->entries)
			return false;
		*cqe = r->cqes[head & r->mask];
		if (cmpxchg(&r->hdr->head, head, head + 1) == head)
			return true;
	}
	return false;
}

/* Destroy: what the ring holds is discarded, as the queue is. */
void __cport_ring_discard(struct cport_port *port)
{
	struct cport_ring_k *r = port->ring;

	lockdep_assert_held(&port->lock);
	if (r)
		WRITE_ONCE(r->hdr->head, r->tail);
}

/* mmap() of the port: the ring, shared, never executable. */
int cport_ring_mmap(struct cport_port *port, struct vm_area_struct *vma)
{
	unsigned long pages = vma_pages(vma);
	struct cport_ring_k *r;

	/* Set up whole before it is seen: pairs with cport_port_setup(). */
	r = smp_load_acquire(&port->ring);
	if (!r)
		return -ENODEV;
	/* A private mapping's takes would never reach the kernel. */
	if (vma->vm_pgoff != CPORT_RING_OFFSET >> PAGE_SHIFT ||
	    pages > r->nr_pages || (vma->vm_flags & VM_EXEC) ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	cport_vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	cport_vm_flags_clear(vma, VM_MAYEXEC);
	return vm_map_pages(vma, r->pages, r->nr_pages);
}
