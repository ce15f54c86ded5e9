#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build cport's debug kernel (KASAN, lockdep, kmemleak, ...) from the kernel
# source that scripts/install-deps.sh unpacked: tinyconfig plus
# scripts/debug-kernel.config, built out of tree into a cache directory
# keyed by the kernel version and the fragment's hash, and reused from
# there.  Only bzImage and what external modules need are built.
#
#   scripts/build-debug-kernel.sh          builds if needed, then prints the
#                                          build directory (KDIR); the image
#                                          is KDIR/arch/x86/boot/bzImage
#   scripts/build-debug-kernel.sh --query  prints it; fails if not built yet
#   scripts/build-debug-kernel.sh --kcsan [--query]
#                                          the same for the KCSAN kernel:
#                                          tinyconfig, debug-kernel.config,
#                                          then scripts/kcsan-kernel.config
#                                          (KCSAN instead of KASAN and
#                                          kmemleak; proxy execution on)
#
# Environment: KSRC (default: from $CPORT_CACHE/paths.mk), CPORT_CACHE,
# JOBS (default: number of CPUs).
set -euo pipefail

CACHE=${CPORT_CACHE:-/var/cache/cport}
HERE=$(cd "$(dirname "$0")" && pwd)
FRAGMENTS=("$HERE/debug-kernel.config")
PREFIX=kdebug
if [ "${1:-}" = --kcsan ]; then
	FRAGMENTS+=("$HERE/kcsan-kernel.config")
	PREFIX=kcsan
	shift
fi

if [ -z "${KSRC:-}" ] && [ -r "$CACHE/paths.mk" ]; then
	KSRC=$(sed -n 's/^KSRC=//p' "$CACHE/paths.mk")
fi
[ -n "${KSRC:-}" ] && [ -e "$KSRC/Makefile" ] ||
	{ echo "build-debug-kernel: no kernel source: run scripts/install-deps.sh" >&2; exit 1; }

ver=$(make -s -C "$KSRC" kernelversion 2> /dev/null)
# The debug kernel's key is its fragment's hash; the KCSAN kernel's, that of
# both fragments in order.
hash=$(cat "${FRAGMENTS[@]}" | sha256sum | cut -c1-12)
OUT=$CACHE/$PREFIX-$ver-$hash
LOG=$OUT.log

if [ "${1:-}" = --query ]; then
	echo "$OUT"
	[ -e "$OUT/.done" ]
	exit
fi

# One build at a time; a second caller waits and then reuses the result.
mkdir -p "$CACHE"
exec 9> "$OUT.lock"
flock 9

if [ -e "$OUT/.done" ]; then
	echo "$OUT"
	exit 0
fi

echo "build-debug-kernel: building $ver into $OUT (log: $LOG)" >&2
start=$(date +%s)
rm -rf "$OUT"
mkdir -p "$OUT"
: > "$LOG"
fail() {
	tail -n 40 "$LOG" >&2
	echo "build-debug-kernel: error: $*" >&2
	exit 1
}
kmake() { make -C "$KSRC" O="$OUT" "$@" >> "$LOG" 2>&1 < /dev/null; }

kmake tinyconfig || fail "make tinyconfig"
"$KSRC"/scripts/kconfig/merge_config.sh -m -O "$OUT" "$OUT/.config" "${FRAGMENTS[@]}" \
	>> "$LOG" 2>&1 || fail "merge_config.sh"
kmake olddefconfig || fail "make olddefconfig"

# Kconfig drops options with unmet dependencies silently: every line of
# the fragments (the last fragment that names an option wins) must have
# survived olddefconfig, and the bug finders above all (a few are
# selected, not set, by the fragment).
declare -A want=()
for fragment in "${FRAGMENTS[@]}"; do
	while read -r line; do
		case $line in
		CONFIG_*=*) want[${line%%=*}]=$line;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; want[${opt%% *}]=;;
		esac
	done < "$fragment"
done
missing=
for opt in "${!want[@]}"; do
	if [ -n "${want[$opt]}" ]; then
		grep -qxF "${want[$opt]}" "$OUT/.config" || missing="$missing ${want[$opt]}"
	else
		grep -q "^$opt=" "$OUT/.config" && missing="$missing $opt(must be off)"
	fi
done
for opt in CONFIG_PREEMPT_NOTIFIERS=y CONFIG_TRACEPOINTS=y CONFIG_EVENT_TRACING=y \
	   CONFIG_PROVE_RCU=y CONFIG_STACKTRACE=y; do
	grep -qx "$opt" "$OUT/.config" || missing="$missing $opt"
done
[ -z "$missing" ] || fail "options did not stick after olddefconfig:$missing"

kmake -j"${JOBS:-$(nproc)}" bzImage modules_prepare || fail "kernel build"
# modules_prepare alone leaves no Module.symvers: modpost needs one.
cp "$OUT/vmlinux.symvers" "$OUT/Module.symvers"
touch "$OUT/.done"
# Builds for older sources or fragments are dead weight (~650 MB each).
for old in "$CACHE/$PREFIX"-*; do
	case $old in "$OUT"|"$OUT".*|*.log|*.lock) continue;; esac
	[ -d "$old" ] && rm -rf "$old" "$old.log" "$old.lock"
done
# So are the proxy-execution trees older versions built (kproxy-*).
[ $PREFIX = kdebug ] && rm -rf "$CACHE"/kproxy-*
echo "build-debug-kernel: done in $(( $(date +%s) - start ))s" >&2
echo "$OUT"
