#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: cport against epoll and io_uring, in one guest boot.
#
#   scripts/bench.sh [quick|full]      (make bench QUICK=1 runs quick)
#   scripts/bench.sh build             only build the module and programs
#                                      (scripts/profile.sh uses them)
#
# Builds the module for the chosen kernel (BENCH_KERNEL=6.1, the default,
# or 6.12) and the programs of bench/suite/ (static: the guest is a busybox
# initramfs; liburing linked from Debian's liburing.a), boots the kernel
# under QEMU (KVM where it works, else TCG: scripts/run-guest.sh decides),
# runs bench/suite/suite.sh in it with a progress line, then writes the
# tables to bench/results/ (git keeps them: docs/ cite them):
#   bench-<kernel>-<mode>.csv     one row per run, the server's and the
#                                 client's fields side by side
#   bench-<kernel>-<mode>.json    the environment record and the rows
#   bench-<kernel>-<mode>.md      the summary tables
#   trace-<kernel>-<mode>-{lifo,fifo,floor}.txt
#                                 trace-report's summary of the cport
#                                 traces at light load (and of the
#                                 floor's ping-pong)
# and the build output to build/bench/results/ (not in git):
#   bench-<kernel>-<mode>-*.png   the plots (gnuplot)
#   trace-<kernel>-<mode>-{lifo,fifo,floor}.trace.xz
#                                 the cport events of those traces
# The guest's whole output stays in build/logs/bench-<kernel>-<mode>.log.
#
# Two clients nobody here wrote run too, when the host has them
# (scripts/install-deps.sh installs both): Debian's sockperf against the
# servers' sockperf protocol and wrk against their HTTP responder.  Both
# are dynamic programs: run-guest.sh --extra-bin brings their libraries.
# BENCH_ONLY=clients runs only those (a short check of them, not a
# table to keep).  BENCH_PLAN="closed uring 256 64 1;..." runs those plan
# lines instead (bench/suite/suite.sh; a last field r1, r2... repeats a
# run, the report takes the median), and BENCH_TAG=NAME names its results
# bench/results/bench-<kernel>-<mode>-NAME.* (kept: an A/B to cite).
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${CPORT_CACHE:-/var/cache/cport}
export CPORT_CACHE=$CACHE
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
mode=${1:-full}
case $mode in quick|full|build) ;; *) echo "usage: $0 [quick|full|build]" >&2; exit 2;; esac
name=${BENCH_KERNEL:-6.1}

# shellcheck source=scripts/stock-kernel.sh
. scripts/stock-kernel.sh
stock_kernel "$name"

liburing_a=$(find /usr/lib /usr/lib64 -name liburing.a 2> /dev/null | head -n 1)
[ -n "$liburing_a" ] || { echo "bench: liburing.a not found (liburing-dev)" >&2; exit 1; }
liburing_version=$(dpkg-query -W -f='${Version}' liburing-dev 2> /dev/null || echo unknown)

out=build/bench/results		# plots and traces: build output
mkdir -p build/logs build/bench/suite bench/results "$out"
blog=build/logs/bench.build.log
: > "$blog"
make module KDIR="$kdir" MODDIR="build/mod-$name" >> "$blog" 2>&1 &&
	make lib >> "$blog" 2>&1 ||
	{ tail -n 20 "$blog"; exit 1; }
CFLAGS="-O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Iuapi -Ilibcport -Icommon -static"
# build_prog NAME SOURCES...: build/bench/suite/NAME
build_prog() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	${CC:-gcc} $CFLAGS -o "build/bench/suite/$name" "$@" \
		build/libcport/libcport.a "$liburing_a" -lm -lpthread >> "$blog" 2>&1 ||
		{ tail -n 20 "$blog"; exit 1; }
}
build_prog server bench/suite/server.c bench/suite/srv_*.c	# one file per model
build_prog loadgen bench/suite/loadgen.c
build_prog floor bench/suite/floor.c
cp bench/suite/suite.sh build/bench/suite/suite.sh
[ "$mode" != build ] || exit 0

# What is measured is what is checked out now, before the run.
extra=()
for c in sockperf wrk; do
	p=$(command -v "$c" || true)
	if [ -n "$p" ]; then
		extra+=(--extra-bin "$p")
	else
		echo "bench: no $c on this host (scripts/install-deps.sh): its runs are skipped" >&2
	fi
done
[ -z "${BENCH_ONLY:-}" ] || extra+=(--env "BENCH_ONLY=$BENCH_ONLY")
[ -z "${BENCH_PLAN:-}" ] || extra+=(--env "BENCH_PLAN=$BENCH_PLAN")
commit=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
dirty=$(git status --porcelain -- kmod uapi libcport common bench/suite 2> /dev/null | head -c1)
sfx=${BENCH_ONLY:+-$BENCH_ONLY}
tag=${BENCH_TAG:+-$BENCH_TAG}
log=build/logs/bench-$name-$mode$sfx$tag.log
timeout=$([ "$mode" = quick ] && echo 1500 || echo 7200)
echo "bench: $mode run on $name (QEMU; quick: a few minutes, full: about half an hour under TCG)"
# The host's load, before the guest starts and after it ends: a busy host
# (another guest, a build) distorts every figure (docs/policies.md).
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
status=0
scripts/run-guest.sh --kernel "$image" --module "build/mod-$name/cport.ko" \
	--log "$log" --timeout "$timeout" --test-timeout $((timeout - 60)) --live \
	"${extra[@]}" \
	--run "suite.sh $mode" build/bench/suite/{server,loadgen,floor,suite.sh} |
	awk -v tty="$([ -t 2 ] && echo 1)" '
	     { sub(/\r$/, "") }
	     /^progress / { line = sprintf("bench: [%d/%d] %s %s %s %s %s %s", $2, $3, $4, $5, $6, $7, $8, $9)
			    if (tty) printf "\r\033[K%s", line > "/dev/stderr"
			    else print line > "/dev/stderr"
			    fflush("/dev/stderr"); next }
	     /^error: / { print "\nbench: " $0 > "/dev/stderr" }
	     /^=== exit / { rc = $4 }
	     END { if (tty) print "" > "/dev/stderr"
		   exit rc == "" ? 1 : rc != 0 }' || status=$?
if ! grep -q '^suite done' "$log"; then
	echo "bench: the suite did not finish (see $log)" >&2
	exit 1
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
accel=${CPORT_ACCEL:-$(cut -d' ' -f2 "$CACHE/kvm-probe" 2> /dev/null || echo unknown)}
base=bench/results/bench-$name-$mode$tag
# A part of the suite is a check, not a table to keep: build output.
[ -z "$sfx" ] || base=$out/bench-$name-$mode$sfx
python3 bench/suite/report.py --log "$log" --out "$base" --plots "$out" \
	--env "kernel_name=$name" --env "accelerator=$accel" \
	--env "commit=$commit${dirty:++dirty}" --env "mode=$mode" \
	--env "liburing=$liburing_version" --env "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
	--env "qemu=$(qemu-system-x86_64 --version | head -n1)" \
	--env "host_load_before=$load_before (1, 5, 15 min)" \
	--env "host_load_after=$load_after (the guest's own vCPUs included)"
# The traces: trace-report's summary with the tables, the events
# compressed with the plots.
for t in lifo fifo floor; do
	raw=build/logs/trace-$name-$mode$tag-$t.trace
	awk -v p="$t" '$0 ~ "^=== trace " p " begin" {on=1; next} /^=== trace end/ {on=0} on' "$log" |
		tr -d '\r' > "$raw"
	if [ -s "$raw" ] && [ -z "$sfx" ]; then
		scripts/trace-report "$raw" > "bench/results/trace-$name-$mode$tag-$t.txt" || true
		grep -E '^#|cport_' "$raw" | xz -9 > "$out/trace-$name-$mode$tag-$t.trace.xz"
	fi
done
echo "bench: tables in $base.{md,csv,json}, plots and traces in $out/"
exit $status
