# SPDX-License-Identifier: GPL-2.0
"""What a kernel symbol is spent on, for the profiles' per-category tables
(report.py: perf's samples; insn-report.py: QEMU's instruction counts)."""
import re

CATEGORIES = [
    ('cport', r'^cport_|^__cport_'),
    ('io_uring', r'^io_|^__io_'),
    ('epoll', r'^ep_|^__ep_|epoll'),
    ('tcp/ip', r'tcp|^ip_|^__ip_|inet|^sk_|^__sk_|^sock_|^__sock_|skb|'
               r'net_rx|netif|napi|dev_queue|dev_hard|loopback|'
               r'__dev_|process_backlog|lock_sock|release_sock|'
               r'^__inet|nf_hook|^dst_|^raw_|ipv6|ip6'),
    ('wakeup/scheduler', r'schedule|switch|wake|enqueue|dequeue|'
                         r'select_task|update_curr|pick_next|'
                         r'ttwu|try_to_wake|idle|hrtimer|tick|'
                         r'_nohz|cpuacct|update_load'),
    ('irqs off (unlock)', r'_raw_spin_unlock_irq|_raw_spin_unlock_bh'),
    ('locks', r'spin_lock|_raw_spin|mutex|rwsem'),
    ('memory', r'alloc|free|kmem|slab|memcg|page|memset|kmalloc|'
               r'charge'),
    ('copy', r'copy_|memcpy|csum|__check_object_size|iov_iter|'
             r'_copy_'),
    ('syscall', r'syscall|entry_|^__x64_sys|^do_sys|fget|fput|'
                r'ioctl|__fdget|exit_to_user'),
]


def category(dso, sym):
    if dso not in ('[kernel.kallsyms]', '[cport]'):
        return 'user space'
    for name, pat in CATEGORIES:
        if re.search(pat, sym):
            return name
    return 'kernel, other'
