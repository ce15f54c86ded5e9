#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A request's instructions, per server model: QEMU's own count of the
# guest instructions executed (a TCG plugin, bench/profile/insn-plugin.c)
# under the closed-loop echo load of `make bench`, by kernel function.
#
#   scripts/insn-profile.sh [CONNS [LEN [SECS [SYSTEM...]]]]
#       defaults: 256 64 4 uring cport-ms:lifo:16
#
# perf under TCG samples time, and a TCG guest's time per instruction
# depends on the host (its caches, QEMU's soft TLB, the other vCPU): a
# function can cost more per request because it runs more instructions
# or because they run slower.  This counts the instructions, exactly,
# over the same interval profile.sh samples (profile-guest.sh, FREQ
# "insn"): the two together say which.  TCG only (the plugin is QEMU's);
# the counter slows the guest, so its requests/s are not the benchmark's.
#
# Builds the plugin against the installed QEMU's qemu-plugin.h, taken
# from Debian's qemu source package (a private apt configuration, cached
# in $CPORT_CACHE/qemu-plugin), boots BENCH_KERNEL (6.12 by default) with
# nokaslr (once before, to read its symbols), and writes
# build/profile/insn-<kernel>-c<CONNS>-l<LEN>.txt (insn-report.py).
# The counts do not depend on the host's load; the requests/s printed
# with them do.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CPORT_CACHE:-/var/cache/cport}
export CPORT_CACHE=$CACHE CPORT_ACCEL=tcg
conns=${1:-256} len=${2:-64} secs=${3:-4}
shift $(($# > 3 ? 3 : $#))
systems=${*:-uring cport-ms:lifo:16}
name=${BENCH_KERNEL:-6.12}
# shellcheck source=scripts/stock-kernel.sh
. scripts/stock-kernel.sh
stock_kernel "$name"

# qemu-plugin.h of the QEMU that runs the guest.
hdr=$CACHE/qemu-plugin/qemu-plugin.h
if [ ! -r "$hdr" ]; then
	apt=$CACHE/qemu-plugin/apt
	mkdir -p "$apt/lists/partial"
	key=/usr/share/keyrings/debian-archive-keyring.gpg
	for suite in bookworm bookworm-updates; do
		echo "deb-src [signed-by=$key] http://deb.debian.org/debian $suite main"
	done > "$apt/sources.list"
	echo "deb-src [signed-by=$key] http://deb.debian.org/debian-security bookworm-security main" \
		>> "$apt/sources.list"
	opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
	      -o "Dir::State::Lists=$apt/lists")
	apt-get -q "${opts[@]}" update > /dev/null
	(cd "$apt" && apt-get -q "${opts[@]}" source --download-only qemu > /dev/null 2>&1)
	tar -xJf "$apt"/qemu_*.orig.tar.xz -C "$apt" --wildcards '*/include/qemu/qemu-plugin.h'
	cp "$apt"/qemu-*/include/qemu/qemu-plugin.h "$hdr"
	rm -rf "$apt"
fi
mkdir -p build/profile build/logs
plugin=$PWD/build/profile/insn-plugin.so
gcc -O2 -Wall -shared -fPIC -I"$(dirname "$hdr")" -o "$plugin" \
	bench/profile/insn-plugin.c -lpthread

scripts/bench.sh build

# The core kernel's symbols at nokaslr addresses (Debian's System.map is a
# stub): read off one boot of the same kernel, once.
map=$CACHE/insn-kallsyms-${image##*/vmlinuz-}
if [ ! -s "$map" ]; then
	klog=build/logs/insn-kallsyms-$name.log
	scripts/run-guest.sh --kernel "$image" --module "build/mod-$name/cport.ko" \
		--log "$klog" --timeout 600 --append nokaslr \
		--run kallsyms-guest.sh bench/profile/kallsyms-guest.sh > /dev/null || true
	sed -n '/^=== kallsyms$/,/^=== kallsyms end/p' "$klog" | tr -d '\r' |
		sed '1d;$d' | base64 -d | gunzip > "$map.tmp"
	[ -s "$map.tmp" ] || { echo "insn-profile: no symbols (see $klog)" >&2; exit 1; }
	mv "$map.tmp" "$map"
fi
log=build/logs/insn-$name-c$conns-l$len.log dumps=$PWD/build/profile/insn-dump-$name-c$conns-l$len
rm -f "$dumps".*
cp bench/profile/profile-guest.sh build/bench/suite/
trigger=$(awk '$3 == "__x64_sys_sync" { print "0x" $1 }' "$map")
[ -n "$trigger" ] || { echo "insn-profile: no __x64_sys_sync in $map" >&2; exit 1; }
echo "insn-profile: $systems at $conns connections, $len bytes, ${secs}s each on $name" \
	"(load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
: > "$log"
# shellcheck disable=SC2086
scripts/run-guest.sh --kernel "$image" --module "build/mod-$name/cport.ko" \
	--log "$log" --timeout 1500 --test-timeout 1400 --append nokaslr \
	--plugin "$plugin,trigger=$trigger,out=$dumps" \
	--run "profile-guest.sh insn $conns $len $secs 0 $systems" \
	build/bench/suite/{server,loadgen,profile-guest.sh} > /dev/null || true
grep -q '^profile done' "$log" || { echo "insn-profile: the guest did not finish (see $log)" >&2; exit 1; }
out=build/profile/insn-$name-c$conns-l$len.txt
python3 bench/profile/insn-report.py --log "$log" --map "$map" --dumps "$dumps" > "$out"
grep '^csv,' "$log" | sed 's/^/# /' >> "$out"
cat "$out"
