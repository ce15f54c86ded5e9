/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * A port's /proc/self/fdinfo/<fd>, read by the selftests, the examples and
 * the benchmarks: one "name:\tvalue" line per field, like the rest of
 * fdinfo.  Besides the generic lines (pos, flags, mnt_id, ino) a port
 * shows
 *
 *   policy            lifo, fifo, rr or cpu (the name, not the number)
 *   concurrency, block_tracking, max_queued       its setup
 *   queued, waiters, running, threads, destroyed  its state now
 *   ring_entries, ring_queued, ring_posts, ring_dropped
 *                                                 its completion ring
 *   posts, dequeues, waits, waits_slept, handoffs, blocked_releases,
 *   deferred_releases, busy_holds, grace_renewed,
 *   over_limit_events, over_limit_ns              counters since setup
 *   grace_us                                      the next grace's length
 *   sockets, file_associations, max_pending, pending, ready
 *                                                 its associations (of
 *                                                 them, the files')
 *   ops_submitted, ops_inline, ops_completed, ops_cancelled, ops_timedout,
 *   runs_submit, runs_waiter, runs_fallback, fallback_kicks
 *                                                 socket operations, and
 *                                                 who ran the sockets
 *   files, user_units                             what it holds against
 *                                                 the limits
 *
 * (kmod/port.c and kmod/sock.c print them.)  The names are a debugging
 * interface, not the ABI: they are not in libcport, so a rename costs a
 * change here and in the programs that ask for that field, never a
 * library version.
 *
 * Header-only: each program that needs it includes it (-Icommon).  A
 * program that wants several fields reads the file once (fdinfo_read())
 * and looks each up in the text (fdinfo_find(), fdinfo_find_num()).
 */
#ifndef CPORT_COMMON_FDINFO_H
#define CPORT_COMMON_FDINFO_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/cport.h>

/* Large enough for a port's fdinfo with room to grow (about 700 bytes). */
#define FDINFO_SIZE	4096

/*
 * Read /proc/self/fdinfo/@fd into @buf (NUL-terminated).  Returns the
 * length or -errno.
 */
static inline int fdinfo_read(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n, len = 0;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	while ((size_t)len < size - 1 &&
	       (n = read(f, buf + len, size - 1 - len)) > 0)
		len += n;
	close(f);
	buf[len] = '\0';
	return len;
}

/*
 * The value of the line "@name:\t<value>" of fdinfo text @text (from
 * fdinfo_read()), copied to @out.  Returns 0, or -ENOENT if there is no
 * such line.  The name must match whole: "waits" is not "waits_slept".
 */
static inline int fdinfo_find(const char *text, const char *name, char *out,
			      size_t size)
{
	size_t nlen = strlen(name);
	const char *line, *end;

	for (line = text; *line; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		if (strncmp(line, name, nlen) || line[nlen] != ':' ||
		    line[nlen + 1] != '\t')
			continue;
		line += nlen + 2;
		snprintf(out, size, "%.*s", (int)(end - line), line);
		return 0;
	}
	return -ENOENT;
}

/* A numeric field of fdinfo text @text, or -1 if missing or not a number. */
static inline long long fdinfo_find_num(const char *text, const char *name)
{
	char val[64], *end;
	long long v;

	if (fdinfo_find(text, name, val, sizeof(val)))
		return -1;
	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno || end == val || *end)
		return -1;
	return v;
}

/* Field @name of @fd's fdinfo, copied to @out: 0, -ENOENT or -errno. */
static inline int fdinfo_str(int fd, const char *name, char *out,
			     size_t size)
{
	char buf[FDINFO_SIZE];
	int ret;

	ret = fdinfo_read(fd, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	return fdinfo_find(buf, name, out, size);
}

/* A numeric field of @fd's fdinfo, or -1 if missing or not a number. */
static inline long long fdinfo_get(int fd, const char *name)
{
	char buf[FDINFO_SIZE];

	if (fdinfo_read(fd, buf, sizeof(buf)) < 0)
		return -1;
	return fdinfo_find_num(buf, name);
}

/*
 * The name the "policy:" line prints for CPORT_POLICY_* value @policy (the
 * names kmod/policy_*.c register), or NULL: a policy a module registered
 * has no number, its name is all there is.  Programs take and print policies by
 * these names.
 */
static inline const char *fdinfo_policy_name(unsigned int policy)
{
	static const char *const names[CPORT_POLICY__NR] = {
		[CPORT_POLICY_LIFO] = "lifo",
		[CPORT_POLICY_FIFO] = "fifo",
		[CPORT_POLICY_RR] = "rr",
		[CPORT_POLICY_CPU] = "cpu",
	};

	return policy < CPORT_POLICY__NR ? names[policy] : NULL;
}

/* The CPORT_POLICY_* value of policy @name, or -1. */
static inline int fdinfo_policy(const char *name)
{
	const char *p;
	int i;

	for (i = 0; i < CPORT_POLICY__NR; i++) {
		p = fdinfo_policy_name(i);
		if (p && !strcmp(p, name))
			return i;
	}
	return -1;
}

#endif /* CPORT_COMMON_FDINFO_H */
