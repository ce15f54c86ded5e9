// SPDX-License-Identifier: GPL-2.0
/*
 * A TCG plugin for QEMU (system mode): guest instructions executed, by
 * translation block, on each vCPU.  Used by scripts/insn-profile.sh to
 * count a request's instructions per kernel function, which, unlike
 * perf's samples under TCG, has no sampling error and does not depend on
 * how fast the host runs each instruction.
 *
 *   -plugin insn-plugin.so,trigger=0xADDR,out=PREFIX
 *
 * Each time a translation block that starts at ADDR (a kernel function's
 * entry: the guest's sync(2)) runs, the counts so far are written to
 * PREFIX.N (N = 0, 1, ...) as "VADDR INSNS COUNT_CPU0 COUNT_CPU1" lines,
 * one per block that ran, and set back to zero.  The guest marks the start
 * and end of what it measures that way.  A block's instructions are all
 * counted when it runs (an exception in its middle is rare enough).
 *
 * Built against the running QEMU's qemu-plugin.h (taken from Debian's
 * qemu source package by scripts/insn-profile.sh, not kept here).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* The benchmark guest's (run-guest.sh -smp 2); more are refused. */
#define MAX_VCPUS	2

struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t count[MAX_VCPUS];
};

static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct block **blocks;
static size_t nr_blocks, max_blocks;
static uint64_t trigger;
static const char *out = "insn";
static unsigned int dumps;

static void on_exec(unsigned int vcpu, void *udata)
{
	struct block *b = udata;

	/* Only this vCPU writes its slot: no atomics needed. */
	b->count[vcpu]++;
}

static void dump(void)
{
	char path[4096];
	FILE *f;
	size_t i;
	int v;

	pthread_mutex_lock(&blocks_lock);
	snprintf(path, sizeof(path), "%s.%u", out, dumps++);
	f = fopen(path, "w");
	for (i = 0; i < nr_blocks; i++) {
		struct block *b = blocks[i];
		uint64_t c[MAX_VCPUS];
		int any = 0;

		for (v = 0; v < MAX_VCPUS; v++) {
			c[v] = b->count[v];
			b->count[v] = 0;
			any |= c[v] != 0;
		}
		if (f && any)
			fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRIu64
				"\n", b->vaddr, b->insns, c[0], c[1]);
	}
	if (f)
		fclose(f);
	pthread_mutex_unlock(&blocks_lock);
}

static void on_trigger(unsigned int vcpu, void *udata)
{
	on_exec(vcpu, udata);
	dump();
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b = calloc(1, sizeof(*b));

	if (!b)
		return;
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = qemu_plugin_tb_n_insns(tb);
	pthread_mutex_lock(&blocks_lock);
	if (nr_blocks == max_blocks) {
		size_t n = max_blocks ? 2 * max_blocks : 65536;
		struct block **nb = realloc(blocks, n * sizeof(*nb));

		if (!nb) {
			pthread_mutex_unlock(&blocks_lock);
			free(b);
			return;
		}
		blocks = nb;
		max_blocks = n;
	}
	blocks[nr_blocks++] = b;
	pthread_mutex_unlock(&blocks_lock);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, b->vaddr == trigger ?
					     on_trigger : on_exec,
					     QEMU_PLUGIN_CB_NO_REGS, b);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "trigger=", 8))
			trigger = strtoull(argv[i] + 8, NULL, 0);
		else if (!strncmp(argv[i], "out=", 4))
			out = strdup(argv[i] + 4);	/* argv is freed */
	}
	if (!trigger) {
		fprintf(stderr, "insn-plugin: trigger=ADDR is needed\n");
		return -1;
	}
	if (!info->system_emulation || info->system.max_vcpus > MAX_VCPUS) {
		fprintf(stderr, "insn-plugin: a system guest of at most %d vCPUs\n",
			MAX_VCPUS);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
	return 0;
}
