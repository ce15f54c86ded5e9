// SPDX-License-Identifier: GPL-2.0
/*
 * Release policies: the registry of the policies a port can select, by
 * number (the four built-in ones, policy_*.c) or by name (those and the
 * ones modules register through cport_policy.h).
 *
 * The registry is a list under a mutex, read at setup, QUERY and module
 * load and unload only: the hot paths use the ops a port holds.  A port
 * that selects a policy holds a reference to its module (ops->owner,
 * NULL for the built-in ones) until the port is freed, so the ops and
 * their code stay while any port can call them.
 */
#include <linux/ctype.h>
#include <linux/err.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/string.h>

#include "cport.h"

static DEFINE_MUTEX(cport_policy_mutex);
static LIST_HEAD(cport_policies);	/* cport_policy_mutex: in order */
static unsigned int cport_nr_policies;	/* cport_policy_mutex */

static struct cport_policy_ops * const cport_builtin[CPORT_POLICY__NR] = {
	[CPORT_POLICY_LIFO]	= &cport_policy_lifo,
	[CPORT_POLICY_FIFO]	= &cport_policy_fifo,
	[CPORT_POLICY_RR]	= &cport_policy_rr,
	[CPORT_POLICY_CPU]	= &cport_policy_cpu,
};

/* 1 to CPORT_POLICY_NAME_LEN - 1 of [a-z0-9_-], NUL-terminated. */
static bool cport_policy_name_ok(const char *name)
{
	size_t i, len = strnlen(name, CPORT_POLICY_NAME_LEN);

	if (!len || len == CPORT_POLICY_NAME_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!islower(name[i]) && !isdigit(name[i]) &&
		    name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

static struct cport_policy_ops *__cport_policy_find(const char *name)
{
	struct cport_policy_ops *ops;

	lockdep_assert_held(&cport_policy_mutex);
	list_for_each_entry(ops, &cport_policies, list)
		if (!strncmp(ops->name, name, CPORT_POLICY_NAME_LEN))
			return ops;
	return NULL;
}

int cport_register_policy(struct cport_policy_ops *ops)
{
	int ret = 0;

	/* version and name come first in every version of the ops. */
	if (ops->version != CPORT_POLICY_VERSION) {
		pr_err("cport: policy \"%.*s\" is built for policy interface version %u, this cport.ko has version %u: rebuild it against this cport's cport_policy.h\n",
		       CPORT_POLICY_NAME_LEN, ops->name, ops->version,
		       CPORT_POLICY_VERSION);
		return -ENOEXEC;
	}
	if (!cport_policy_name_ok(ops->name) || !ops->pick ||
	    !ops->init != !ops->free) {
		pr_err("cport: policy \"%.*s\": bad name (1 to %u of [a-z0-9_-]) or ops (pick is required, init and free go together)\n",
		       CPORT_POLICY_NAME_LEN, ops->name,
		       CPORT_POLICY_NAME_LEN - 1);
		return -EINVAL;
	}

	mutex_lock(&cport_policy_mutex);
	if (__cport_policy_find(ops->name)) {
		pr_err("cport: policy \"%s\" is already registered\n",
		       ops->name);
		ret = -EEXIST;
	} else if (cport_nr_policies == CPORT_MAX_POLICIES) {
		pr_err("cport: policy \"%s\": %u policies are registered already\n",
		       ops->name, CPORT_MAX_POLICIES);
		ret = -ENOSPC;
	} else {
		list_add_tail(&ops->list, &cport_policies);
		cport_nr_policies++;
	}
	mutex_unlock(&cport_policy_mutex);
	if (!ret && ops->owner)
		pr_info("cport: policy \"%s\" registered by %s\n", ops->name,
			module_name(ops->owner));
	return ret;
}
EXPORT_SYMBOL_GPL(cport_register_policy);

void cport_unregister_policy(struct cport_policy_ops *ops)
{
	mutex_lock(&cport_policy_mutex);
	list_del(&ops->list);
	cport_nr_policies--;
	mutex_unlock(&cport_policy_mutex);
}
EXPORT_SYMBOL_GPL(cport_unregister_policy);

/*
 * The policy a setup asks for, with a reference to its module: @name if
 * it is not empty (checked by the caller), else built-in number @nr
 * (checked too).  ERR_PTR(-ENOENT) if no such name is registered, or its
 * module is going away.
 */
const struct cport_policy_ops *cport_policy_get(const char *name, u32 nr)
{
	struct cport_policy_ops *ops;

	if (!name[0])
		return cport_builtin[nr];
	mutex_lock(&cport_policy_mutex);
	ops = __cport_policy_find(name);
	if (ops && !try_module_get(ops->owner))
		ops = NULL;
	mutex_unlock(&cport_policy_mutex);
	return ops ?: ERR_PTR(-ENOENT);
}

void cport_policy_put(const struct cport_policy_ops *ops)
{
	module_put(ops->owner);
}

/* QUERY: the number of a port's policy, and the registered names. */
u32 cport_policy_number(const struct cport_policy_ops *ops)
{
	u32 i;

	for (i = 0; i < CPORT_POLICY__NR; i++)
		if (cport_builtin[i] == ops)
			return i;
	return CPORT_POLICY_NAMED;
}

void cport_policy_list(struct cport_info *info)
{
	struct cport_policy_ops *ops;
	u32 n = 0;

	mutex_lock(&cport_policy_mutex);
	list_for_each_entry(ops, &cport_policies, list)
		strscpy_pad(info->policy_names[n++], ops->name,
			    CPORT_POLICY_NAME_LEN);
	info->nr_policies = n;
	mutex_unlock(&cport_policy_mutex);
}

int cport_policies_init(void)
{
	int i, ret;

	for (i = 0; i < CPORT_POLICY__NR; i++) {
		ret = cport_register_policy(cport_builtin[i]);
		if (ret) {
			while (--i >= 0)
				cport_unregister_policy(cport_builtin[i]);
			return ret;
		}
	}
	return 0;
}

/* Module exit: every port is gone, so is every policy module (refs). */
void cport_policies_exit(void)
{
	int i;

	for (i = 0; i < CPORT_POLICY__NR; i++)
		cport_unregister_policy(cport_builtin[i]);
}
