#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot one kernel under QEMU with a throwaway busybox initramfs, load
# cport.ko, run test binaries (or one command), unload, and power off.
#
#   scripts/run-guest.sh --kernel IMAGE --module cport.ko --log FILE
#           [--timeout SECS]       kill a hung guest after SECS (default 600)
#           [--test-timeout SECS]  per-binary bound inside the guest (300)
#           [--extra-ko FILE]...   modules to insmod before cport.ko, in
#                                  order (dependencies first; .ko.xz, .zst
#                                  and .gz are decompressed); removed in
#                                  reverse order after cport.ko
#           [--after-ko FILE]...   modules that use cport.ko (a policy
#                                  module), loaded after it in order, as
#                                  /lib/modules/NAME.ko; removed in reverse
#                                  order before it (a failure to remove one
#                                  fails cport's rmmod too)
#           [--env NAME=VALUE]...  exported to the test binaries
#           [--append "ARGS"]      extra kernel command line
#           [--run "CMD ARGS"]     run CMD once instead of the binaries
#           [--extra-bin FILE]...  copy FILE into the guest at the same path,
#                                  with the shared libraries ldd lists for
#                                  it (a dynamic program for --run, e.g.
#                                  /usr/bin/trinity; or a script; not under
#                                  /tmp, a fresh tmpfs in the guest)
#           [--live]               copy the guest's output to stdout live
#           [--monitor SOCKET]     QEMU's human monitor on the unix socket
#                                  SOCKET (e.g. for "info jit" while the
#                                  guest runs; bench/profile/jit-watch.py)
#           [--plugin SPEC]        QEMU's -plugin SPEC (TCG only; e.g. the
#                                  instruction counter of insn-profile.sh)
#           BINARY...              static binaries; run as tests, in order
#
# The guest has two serial lines.  ttyS0 is the kernel console (warnings and
# worse), written to FILE.console.  ttyS1 carries the guest's user-space
# output, written to FILE: one block per binary between "=== test NAME" and
# "=== exit NAME RC SECONDS", then "=== rmmod ok|failed", kmemleak reports
# (debug kernel) between "=== kmemleak scan WHEN" and "=== kmemleak done",
# KCSAN's counters (KCSAN kernel) between "=== kcsan" and "=== kcsan done",
# the kernel log lines of the run between "=== dmesg begin" and
# "=== dmesg end", and "=== done".  Kernel messages thus never split a test's output lines.
#
# Exit status: 0 when the guest got to "=== done" (whatever the tests said),
# 1 when it died early (e.g. a panic), 2 when it hung and was killed.
#
# Acceleration: KVM when it really runs a kernel on this host (probed once
# per host boot; CPORT_ACCEL=kvm|tcg overrides), else TCG with -cpu max.
set -euo pipefail

CACHE=${CPORT_CACHE:-/var/cache/cport}
KERNEL='' MODULE='' LOG='' TIMEOUT=600 TEST_TIMEOUT=300 RUN='' LIVE='' APPEND='' MONITOR=''
PLUGIN=()
EXTRA_KOS=() AFTER_KOS=() EXTRA_BINS=() ENVS=() BINS=()
die() { echo "run-guest: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) KERNEL=$2; shift 2;;
	--module) MODULE=$2; shift 2;;
	--log) LOG=$2; shift 2;;
	--timeout) TIMEOUT=$2; shift 2;;
	--test-timeout) TEST_TIMEOUT=$2; shift 2;;
	--extra-ko) EXTRA_KOS+=("$2"); shift 2;;
	--after-ko) AFTER_KOS+=("$2"); shift 2;;
	--extra-bin) EXTRA_BINS+=("$2"); shift 2;;
	--env) ENVS+=("$2"); shift 2;;
	--run) RUN=$2; shift 2;;
	--append) APPEND=$2; shift 2;;
	--live) LIVE=1; shift;;
	--monitor) MONITOR=$2; shift 2;;
	--plugin) PLUGIN=(-plugin "$2"); shift 2;;
	--) shift; BINS+=("$@"); break;;
	-*) die "unknown option $1";;
	*) BINS+=("$1"); shift;;
	esac
done
[ -r "$KERNEL" ] || die "no kernel image: '$KERNEL'"
[ -r "$MODULE" ] || die "no module: '$MODULE'"
[ -n "$LOG" ] || die "--log FILE is required"
CONSOLE=$LOG.console

# --- Acceleration ------------------------------------------------------------
# /dev/kvm may exist and still not run a guest (nested virtualization that
# hangs after the real-mode setup): boot the kernel with KVM and wait for
# its first early message.
kvm_probe() {
	local out pid _
	[ -w /dev/kvm ] || { echo tcg; return; }
	out=$(mktemp)
	qemu-system-x86_64 -accel kvm -cpu host -M pc -m 256 -nodefaults \
		-display none -no-reboot -serial "file:$out" -kernel "$KERNEL" \
		-append "earlyprintk=ttyS0 console=ttyS0 panic=-1" \
		> /dev/null 2>&1 < /dev/null &
	pid=$!
	for _ in $(seq 50); do
		grep -qs 'Linux version' "$out" && break
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.1
	done
	if grep -qs 'Linux version' "$out"; then echo kvm; else echo tcg; fi
	kill "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
	rm -f "$out"
}
accel=${CPORT_ACCEL:-}
if [ -z "$accel" ]; then
	boot_id=$(cat /proc/sys/kernel/random/boot_id)
	probe_file=$CACHE/kvm-probe
	[ -w "$CACHE" ] || probe_file=${TMPDIR:-/tmp}/cport-kvm-probe
	accel=$(sed -n "s/^$boot_id //p" "$probe_file" 2> /dev/null || true)
	if [ -z "$accel" ]; then
		accel=$(kvm_probe)
		echo "$boot_id $accel" > "$probe_file"
	fi
fi
case $accel in
kvm) cpu=host;;
tcg) cpu=max;;
*) die "CPORT_ACCEL must be kvm or tcg";;
esac

# --- Initramfs ---------------------------------------------------------------
WORK=$(mktemp -d)
QPID=
cleanup() {
	[ -z "$QPID" ] || kill -9 "$QPID" 2> /dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,tests,lib/modules}
cp /bin/busybox "$ROOT/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	[ -e "$ROOT/$applet" ] || ln -s /bin/busybox "$ROOT/$applet"
done
[ "$(id -u)" = 0 ] && mknod -m 600 "$ROOT/dev/console" c 5 1

# copy_ko SRC DST: modules may come compressed from a distribution tree.
copy_ko() {
	case $1 in
	*.ko.xz) xz -dc "$1" > "$2";;
	*.ko.zst) zstd -qdc "$1" > "$2";;
	*.ko.gz) gzip -dc "$1" > "$2";;
	*) cp "$1" "$2";;
	esac
}
preload=
for ko in "${EXTRA_KOS[@]}"; do
	name=$(basename "$ko"); name=${name%%.ko*}.ko
	copy_ko "$ko" "$ROOT/lib/modules/$name"
	preload="$preload $name"
done
copy_ko "$MODULE" "$ROOT/lib/modules/cport.ko"
postload=
for ko in "${AFTER_KOS[@]}"; do
	name=$(basename "$ko"); name=${name%%.ko*}.ko
	copy_ko "$ko" "$ROOT/lib/modules/$name"
	postload="$postload $name"
done

# --extra-bin: the file and its libraries (ldd prints their paths, the
# dynamic loader's included), each at its own path.
for bin in "${EXTRA_BINS[@]}"; do
	[ -f "$bin" ] || die "no such file: $bin"
	for f in "$bin" $(ldd "$bin" 2> /dev/null | grep -o '/[^ ]*' || true); do
		mkdir -p "$ROOT$(dirname "$f")"
		rm -f "$ROOT$f"		# perhaps a busybox applet's link
		cp -L "$f" "$ROOT$f"
	done
done

tests=
for bin in "${BINS[@]}"; do
	[ -x "$bin" ] || die "not an executable: $bin"
	if readelf -l "$bin" 2> /dev/null | grep -q 'Requesting program interpreter'; then
		die "$bin is dynamically linked; the guest has no libc"
	fi
	cp "$bin" "$ROOT/tests/"
	tests="$tests $(basename "$bin")"
done

{
	echo "#!/bin/sh"
	for e in "${ENVS[@]}"; do printf 'export %q\n' "$e"; done
	printf 'TESTS=%q\nPRELOAD=%q\nPOSTLOAD=%q\nTEST_TIMEOUT=%q\nRUN=%q\n' \
		"$tests" "$preload" "$postload" "$TEST_TIMEOUT" "$RUN"
	cat <<'INIT'
export PATH=/tests:/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp
mount -t devtmpfs dev /dev
exec < /dev/null > /dev/ttyS1 2>&1
stty -F /dev/ttyS1 raw -echo 2> /dev/null
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2> /dev/null
ip link set lo up

finish() {
	echo "=== dmesg begin"
	dmesg
	echo "=== dmesg end"
	echo "=== done"
	sync
	sleep 1
	poweroff -f
}

# Loading and unloading cport.ko flips the preempt-notifier static key
# in __schedule() (preempt_notifier_inc() and _dec()), a live patch of
# the kernel's text (text_poke_bp()).  Under TCG another vCPU has run the
# patch's int3 after it was withdrawn ("Oops: int3" in __schedule() from
# the idle task, at an unload) and a 6.1 guest hung silently at one:
# load and unload with the other CPUs offline.  Harmless under KVM.
one_cpu()
{
	for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
		[ -e "$c" ] && echo 0 > "$c"
	done
	"$@"
	st=$?
	for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
		[ -e "$c" ] && echo 1 > "$c"
	done
	return $st
}

# A first memory cgroup enables the memcg static keys, which patches
# kmem_cache_free() and its like: do it here with one CPU, since a test's
# first cgroup would do it while the other vCPU runs them (an "Oops: int3"
# in kmem_cache_free() during a mkdir, seen once on 6.12).  The keys stay
# on after the rmdir; the controller is switched off again.
warm_memcg()
{
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control &&
		mkdir /sys/fs/cgroup/cport-warm &&
		rmdir /sys/fs/cgroup/cport-warm
	echo -memory > /sys/fs/cgroup/cgroup.subtree_control
}
one_cpu warm_memcg 2> /dev/null

# The networking stack's hash secrets are made on first use
# (net_get_random_once()), whose static key is then switched off from a
# workqueue: a live patch of inet_ehashfn(), inet6_ehashfn() and their
# like.  A test's first IPv6 connection did it while the other vCPU ran
# inet6_ehashfn() from a softirq ("Oops: int3", fuzz_test on 6.12).
# Connect over both families, and send a datagram over both, with one
# CPU, and give the workqueue the time to run.
warm_net()
{
	for a in 127.0.0.1 ::1; do
		# Bounded: a listener nobody reached must not hold the boot.
		timeout 2 nc -l -p 5599 > /dev/null &
		sleep 0.1
		echo warm | nc -w 1 $a 5599
		wait
		timeout 1 nslookup warm $a > /dev/null
	done
	sleep 0.2
}
one_cpu warm_net 2> /dev/null

echo "=== guest $(uname -r) cpus=$(nproc)"
dmesg -c > /tmp/boot-dmesg		# the run's kernel log starts here
for ko in $PRELOAD cport.ko $POSTLOAD; do
	if ! one_cpu insmod /lib/modules/$ko; then
		echo "=== insmod $ko failed"
		finish
	fi
done
[ "$(nproc)" = "$(grep -c ^processor /proc/cpuinfo)" ] ||
	echo "=== insmod: only $(nproc) CPUs online again"
echo "=== insmod ok"

if [ -n "$RUN" ]; then
	set -- $RUN
	start=$(date +%s)
	echo "=== test $1"
	timeout -k 10 "$TEST_TIMEOUT" "$@"
	echo "=== exit $1 $? $(( $(date +%s) - start ))"
else
	for t in $TESTS; do
		start=$(date +%s)
		echo "=== test $t"
		(cd /tmp && timeout -k 10 "$TEST_TIMEOUT" "/tests/$t")
		echo "=== exit $t $? $(( $(date +%s) - start ))"
	done
fi
# Whatever a timed-out test left behind would keep the module busy.
kill -9 -1 2> /dev/null
sleep 0.2

# kmemleak reports an object once it has stayed unreferenced for two scans
# a few seconds apart.  Scan before rmmod, while the module's symbols still
# resolve in the backtraces, and again after it, when objects that only the
# module's own data pointed to count as leaked too.
kmemleak() {
	[ -e /sys/kernel/debug/kmemleak ] || return 0
	echo "=== kmemleak scan $1"
	echo scan > /sys/kernel/debug/kmemleak; sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
	echo clear > /sys/kernel/debug/kmemleak
	echo "=== kmemleak done"
}
kmemleak "with cport loaded"
# KCSAN's counters (KCSAN kernel): how many watchpoints the run set up.
if [ -e /sys/kernel/debug/kcsan ]; then
	echo "=== kcsan"
	cat /sys/kernel/debug/kcsan
	echo "=== kcsan done"
fi
echo "=== cport .text at $(cat /sys/module/cport/sections/.text 2> /dev/null)"
# Where the kernel image lies (its text and globals): the judge does not
# blame cport for a race on a kernel global in a function cport called.
echo "=== kernel image at $(awk '$3 == "_text" { s = $1 } $3 == "_end" { e = $1 }
	END { print s, e }' /proc/kallsyms)"
# A process killed just above may still be exiting, and a task work cport
# queued drops its module reference from a work item just after it ran:
# give both a few seconds before calling an unload failed.
# Modules using cport.ko first (a test may have unloaded and reloaded one).
unload=
for ko in $POSTLOAD; do unload="${ko%.ko} $unload"; done
for ko in $unload; do
	for i in 1 2 3 4 5; do
		rmmod "$ko" 2> /dev/null && break
		sleep 1
	done
	[ ! -e "/sys/module/$ko" ] || echo "=== rmmod $ko refused"
done
rmmod_ok=
# An unload that does not return (seen once on 6.1: the guest spun on
# both vCPUs, silent, until killed) leaves a trace to read: after 120 s,
# the processes left, and the kernel's blocked tasks and each CPU's
# stack on the console (sysrq w and l).
(
	sleep 120
	echo "=== rmmod stuck: processes, then sysrq w and l on the console"
	ps
	echo w > /proc/sysrq-trigger
	echo l > /proc/sysrq-trigger
) &
rmmod_watch=$!
for i in 1 2 3 4 5; do
	one_cpu rmmod cport 2> /dev/null && { rmmod_ok=1; break; }
	sleep 1
done
if [ -n "$rmmod_ok" ]; then echo "=== rmmod ok"; else one_cpu rmmod cport; echo "=== rmmod failed"; fi
kill $rmmod_watch 2> /dev/null
unload=
for ko in $PRELOAD; do unload="${ko%.ko} $unload"; done	# users first
for ko in $unload; do rmmod "$ko" 2> /dev/null; done
kmemleak "after rmmod"
finish
INIT
} > "$ROOT/init"
chmod 755 "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initramfs.gz"

# --- Boot ----------------------------------------------------------------------
mkdir -p "$(dirname "$LOG")"
: > "$LOG"
: > "$CONSOLE"
# loglevel=5: warnings and worse reach the console (the whole kernel log of
# the run is dumped on ttyS1 anyway).  panic=-1 with -no-reboot: a panic
# ends QEMU at once.  Under TCG on a loaded host the clocksource watchdog
# sees the TSC drift and marks it unstable, which flips the
# sched_clock_stable static key while both vCPUs run: TCG's live code
# patching then let the other vCPU hit a stale int3 in sched_clock_cpu()
# (an "Oops: int3" mid-run, seen on 6.12, nothing to do with cport).
# tsc=reliable turns that watchdog off; under KVM it changes nothing.
cmdline="console=ttyS0 loglevel=5 panic=-1 log_buf_len=8M printk.devkmsg=on"
[ "$accel" = tcg ] && cmdline="$cmdline tsc=reliable"
cmdline="$cmdline $APPEND"
monitor=none
[ -z "$MONITOR" ] || monitor="unix:$MONITOR,server=on,wait=off"
qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 2 -m 2G -M pc \
	-nodefaults -no-reboot -display none -monitor "$monitor" "${PLUGIN[@]}" \
	-serial "file:$CONSOLE" -serial "file:$LOG" \
	-kernel "$KERNEL" -initrd "$WORK/initramfs.gz" -append "$cmdline" \
	> "$WORK/qemu.out" 2>&1 < /dev/null &
QPID=$!
TPID=
if [ -n "$LIVE" ]; then
	tail -n +1 -f --pid="$QPID" "$LOG" &
	TPID=$!
fi

status=0
deadline=$(( $(date +%s) + TIMEOUT ))
while kill -0 "$QPID" 2> /dev/null; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		kill -9 "$QPID" 2> /dev/null || true
		status=2
		break
	fi
	sleep 1
done
{ wait "$QPID"; } 2> /dev/null || true	# no "Killed" job notice
QPID=
[ -z "$TPID" ] || wait "$TPID" 2> /dev/null || true
[ -s "$WORK/qemu.out" ] && cp "$WORK/qemu.out" "$LOG.qemu"

if [ $status = 0 ] && ! grep -q '^=== done' "$LOG"; then
	status=1
fi
if [ $status != 0 ]; then
	if [ $status = 2 ]; then
		echo "run-guest: guest hung: killed after ${TIMEOUT}s ($accel)" >&2
	else
		echo "run-guest: guest died before finishing ($accel)" >&2
	fi
	echo "--- last lines of $CONSOLE" >&2
	tail -n 40 "$CONSOLE" | tr -d '\r' >&2
	echo "--- last lines of $LOG" >&2
	tail -n 20 "$LOG" | tr -d '\r' >&2
	[ ! -s "$WORK/qemu.out" ] || { echo "--- qemu" >&2; cat "$WORK/qemu.out" >&2; }
fi
exit $status
