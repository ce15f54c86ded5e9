#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Is a change of the module faster?  Measure module revisions side by side
# in one guest boot, alternating, under the closed-loop echo of `make bench`:
#
#   scripts/bench-ab.sh [-r REPS] [-c CONNS] [-l LEN] [-d SECS]
#                       [-s SYSTEMS] [-p] REV...
#
# Each REV is a git revision (or "." for the working tree); its kmod/ and
# uapi/ are built for BENCH_KERNEL (6.1 by default) into build/ab/REV.ko,
# while the server and loadgen are this tree's.  SYSTEMS (comma-separated,
# default uring,cport:lifo:16) run once per module per repetition (REPS, default 3);
# the order of the modules alternates.  Prints, per module and system,
# the median requests/s, p99, context switches and wakeups per request,
# the busy CPU and TCP segments per request, each module's ratio to the
# first, and the median per-repetition ratio to the non-cport system.  A
# non-cport system (uring) runs under each module too: its spread is the
# noise floor of the run.  With -p, the server is pinned to the guest's
# CPU 0 and loadgen to CPU 1.  Run it on a quiet host.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CPORT_CACHE:-/var/cache/cport}
export CPORT_CACHE=$CACHE
reps=3 conns=256 len=64 secs=3 systems=uring,cport:lifo:16 pin=
while getopts r:c:l:d:s:p o; do
	case $o in
	r) reps=$OPTARG;; c) conns=$OPTARG;; l) len=$OPTARG;;
	d) secs=$OPTARG;; s) systems=$OPTARG;; p) pin=pin;;
	*) exit 2;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-r REPS] [-c CONNS] [-l LEN] [-d SECS] [-s SYSTEMS] [-p] REV..." >&2; exit 2; }
name=${BENCH_KERNEL:-6.1}
# shellcheck source=scripts/stock-kernel.sh
. scripts/stock-kernel.sh
stock_kernel "$name"
scripts/bench.sh build
mkdir -p build/ab build/logs
mods=()
for rev in "$@"; do
	tag=$(echo "$rev" | tr -c 'A-Za-z0-9_.\n-' _)
	[ "$rev" = . ] && tag=worktree
	src=build/ab/src-$tag
	rm -rf "$src"
	mkdir -p "$src"
	if [ "$rev" = . ]; then
		cp -r Kbuild kmod uapi "$src/"
	else
		git archive "$rev" Kbuild kmod uapi | tar -x -C "$src"
	fi
	make -s -C "$kdir" M="$PWD/$src" modules > "build/ab/$tag.build.log" 2>&1 ||
		{ tail "build/ab/$tag.build.log"; exit 1; }
	cp "$src/cport.ko" "build/ab/$tag.ko"
	mods+=("$PWD/build/ab/$tag.ko")
done
list=$(IFS=,; echo "${mods[*]}")
log=build/logs/bench-ab-$name.log
echo "bench-ab: $* on $name, $conns connections, $len bytes, ${secs}s x $reps" \
	"(load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
extra=()
for m in "${mods[@]}"; do extra+=(--extra-bin "$m"); done
scripts/run-guest.sh --kernel "$image" --module "${mods[0]}" "${extra[@]}" \
	--log "$log" --timeout 1500 --test-timeout 1440 \
	--run "ab-guest.sh $reps $conns $len $secs $list $systems $pin" \
	build/bench/suite/{server,loadgen} bench/ab/ab-guest.sh > /dev/null || true
grep '^error:' "$log" >&2 || true
grep -q '^ab done' "$log" || { echo "bench-ab: the guest did not finish (see $log)" >&2; exit 1; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 bench/ab/report.py "$log"
