/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * A latency histogram for the load clients (bench/suite/loadgen.c,
 * examples/echo_client.c): log-linear, HIST_SUB linear sub-buckets per
 * power of two, so a reported value (the middle of its bucket) is within
 * 0.4% of the measured one; values below HIST_SUB have a bucket each, and
 * the maximum is kept exactly.  Fixed size (58 KiB), no allocation: each
 * client thread fills its own, the main thread adds them up.
 *
 * Header-only: each program that needs it includes it (-Icommon).
 */
#ifndef CPORT_COMMON_HIST_H
#define CPORT_COMMON_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
};

static inline unsigned int hist_index(uint64_t v)
{
	unsigned int e;

	if (v < HIST_SUB)
		return v;
	e = 63 - __builtin_clzll(v);
	return (e - HIST_SUB_BITS + 1) * HIST_SUB +
	       ((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The middle of bucket @i: the mean of the integers it holds. */
static inline double hist_value(unsigned int i)
{
	unsigned int e;
	uint64_t low, width;

	if (i < HIST_SUB)
		return i;
	e = i / HIST_SUB + HIST_SUB_BITS - 1;
	low = (uint64_t)(HIST_SUB + i % HIST_SUB) << (e - HIST_SUB_BITS);
	width = 1ULL << (e - HIST_SUB_BITS);
	return low + (width - 1) / 2.0;
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* Add @from's values to @to. */
static inline void hist_merge(struct hist *to, const struct hist *from)
{
	unsigned int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		to->bucket[i] += from->bucket[i];
	to->count += from->count;
	if (from->max > to->max)
		to->max = from->max;
}

/*
 * The @q quantile (0.99 for p99): the middle of its bucket, but never
 * above the maximum (so p99.9 does not print above max); 0 if empty.
 */
static inline double hist_percentile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * h->count + 0.999999), sum = 0;
	unsigned int i;

	if (!rank)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		sum += h->bucket[i];
		if (sum >= rank)
			return hist_value(i) < h->max ? hist_value(i) : h->max;
	}
	return 0;
}

#endif /* CPORT_COMMON_HIST_H */
