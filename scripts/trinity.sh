#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# One run of trinity, Debian's system call fuzzer, against /dev/cport in a
# guest.  Not part of "make check": trinity's ioctl arguments know nothing
# of cport (its commands come from other drivers' tables or are random), so
# it rarely gets past -ENOTTY; selftests/fuzz_test.c is cport's fuzzer.
# This is the second opinion, run by hand now and then.
#
#   scripts/trinity.sh [--kernel IMAGE --module cport.ko] [--count N]
#                      [--seed S] [--timeout SECS]
#
# Default: the Debian 12 kernel (6.1) and build/mod-6.1/cport.ko (as
# scripts/check.sh builds them), 20000 calls, seed 1.  trinity runs as root
# with --dangerous (the guest is thrown away), with /dev/cport as its only
# file (-V) and its other descriptor providers off, two children, calling
# ioctl, read, write, poll, mmap and close on those descriptors.  The guest prints trinity's summary and the ioctl commands
# it tried, most frequent first; the kernel log is judged as check.sh does
# (scripts/judge.py).  Output: build/logs/trinity.log (and .console).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1

KERNEL='' MODULE='' COUNT=20000 SEED=1 TIMEOUT=1500
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) KERNEL=$2; shift 2;;
	--module) MODULE=$2; shift 2;;
	--count) COUNT=$2; shift 2;;
	--seed) SEED=$2; shift 2;;
	--timeout) TIMEOUT=$2; shift 2;;
	*) echo "usage: $0 [--kernel IMAGE --module KO] [--count N] [--seed S] [--timeout SECS]" >&2
	   exit 1;;
	esac
done
if [ -z "$KERNEL" ]; then
	KERNEL=$(ls /boot/vmlinuz-6.1.*-amd64 2> /dev/null | sort -rV | head -n 1)
	MODULE=${MODULE:-build/mod-6.1/cport.ko}
fi
TRINITY=$(command -v trinity) || {
	echo "trinity: not installed (apt-get install trinity)" >&2; exit 1; }

# The guest's part: a script at a path outside /tmp (a tmpfs in the guest).
mkdir -p build/logs build/trinity
GUEST=$PWD/build/trinity/guest.sh
cat > "$GUEST" <<EOF
#!/bin/sh
mkdir -p /tmp/trinity && cd /tmp/trinity || exit 1
trinity --dangerous -q -V /dev/cport -s $SEED -N $COUNT -C 2 -l /tmp/trinity \\
	--disable-fds=sockets,pipes,perf,epoll,eventfd,timerfd,testfile,memfd,drm \\
	-c ioctl -c read -c write -c poll -c mmap -c close > out.txt 2>&1
rc=\$?
tail -n 15 out.txt
cat trinity-child*.log > all.log 2> /dev/null
echo "calls logged: \$(grep -c '^\[child' all.log)"
echo "ioctls: \$(grep -c 'ioctl(' all.log)"
echo "ioctls of type 0xC9 (cport's): \$(grep -ioc 'ioctl(fd=[0-9]*, cmd=0x[0-9a-f]*c9[0-9a-f][0-9a-f][,)]' all.log)"
echo "ioctl commands tried, most frequent first:"
grep -o 'ioctl(fd=[0-9]*, cmd=0x[0-9a-f]*' all.log | sed 's/.*cmd=//' |
	sort | uniq -c | sort -rn | head -n 20
echo "results:"
grep -o ') = .*' all.log | sort | uniq -c | sort -rn | head -n 15
exit \$rc
EOF
chmod +x "$GUEST"

status=0
scripts/run-guest.sh --kernel "$KERNEL" --module "$MODULE" \
	--log build/logs/trinity.log --timeout "$TIMEOUT" \
	--test-timeout $((TIMEOUT - 60)) --extra-bin "$TRINITY" \
	--extra-bin "$GUEST" --run "$GUEST" || status=$?
tr -d '\r' < build/logs/trinity.log | sed -n "\|^=== test|,\|^=== exit|p"
# The kernel log, rmmod and the guest's end, as check.sh judges them.
verdicts=$(python3 scripts/judge.py trinity "$status" $((TIMEOUT - 60)) |
	   grep -v '^COUNTS ' || true)
if [ -n "$verdicts" ]; then
	echo "$verdicts"
	exit 1
fi
echo "  ok      trinity: no kernel-log finding, rmmod ok"
