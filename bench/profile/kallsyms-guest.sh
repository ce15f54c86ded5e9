#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest (busybox sh), run by scripts/insn-profile.sh on a kernel
# booted with nokaslr: the core kernel's text symbols (Debian ships no
# System.map), compressed, between "=== kallsyms" and "=== kallsyms end".
echo 0 > /proc/sys/kernel/kptr_restrict
echo "=== kallsyms"
grep -v '\[' /proc/kallsyms | grep ' [tTwW] ' | gzip -c | base64
echo "=== kallsyms end"
