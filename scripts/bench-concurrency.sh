#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The concurrency value's benchmarks, in one guest boot:
#   bench/blocking       handlers that block: the limit with and without
#                        block tracking, no limit, and an epoll pool
#   bench/notifier_cost  what block tracking adds to a context switch
# Results go to bench/results/concurrency-<kernel>.{md,csv}, with the
# environment they were measured in.
#
# CPORT_BENCH_KERNEL=6.1 (default) or 6.12 picks the kernel.
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${CPORT_CACHE:-/var/cache/cport}
export CPORT_CACHE=$CACHE
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

# shellcheck source=scripts/stock-kernel.sh
. scripts/stock-kernel.sh
stock_kernel "${CPORT_BENCH_KERNEL:-6.1}"
name=${CPORT_BENCH_KERNEL:-6.1}
benches="blocking notifier_cost"

mkdir -p build/logs bench/results
make module KDIR="$kdir" MODDIR="build/mod-$name" > build/logs/bench.build.log 2>&1 ||
	{ tail -n 20 build/logs/bench.build.log; exit 1; }
for b in $benches; do
	make "build/bench/$b" >> build/logs/bench.build.log 2>&1 ||
		{ tail -n 20 build/logs/bench.build.log; exit 1; }
done

log=build/logs/bench-concurrency-$name.log
echo "bench: concurrency benchmarks on $name (QEMU; about two minutes)"
scripts/run-guest.sh --kernel "$image" --module "build/mod-$name/cport.ko" \
	--log "$log" --timeout 1200 --test-timeout 1000 \
	$(for b in $benches; do echo "build/bench/$b"; done) > /dev/null
section() {	# the output of one bench in the log
	awk -v t="$1" '$0 == "=== test " t {on=1; next} /^=== exit /{on=0} on' "$log" |
		tr -d '\r'
}
for b in $benches; do
	section "$b" | grep -q '^csv,' || { echo "bench: $b gave no result, see $log" >&2; exit 1; }
done

accel=$(cut -d' ' -f2 "$CACHE/kvm-probe" 2>/dev/null || echo unknown)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
env="kernel $(sed -n 's/^=== guest \([^ ]*\) cpus=\([0-9]*\).*/\1, vCPUs \2/p' "$log" | tr -d '\r'), accelerator ${CPORT_ACCEL:-$accel}, commit $commit, $(date -u +%Y-%m-%d)"
{
	echo "# The concurrency value, measured ($name)"
	echo
	echo "\`make bench-concurrency\`: $env."
	for b in $benches; do
		echo
		echo "## $b"
		echo
		section "$b" | grep -v '^csv,'
	done
} > "bench/results/concurrency-$name.md"
{
	echo "# $env"
	for b in $benches; do
		section "$b" | sed -n "s/^csv,/$b,/p"
	done
} > "bench/results/concurrency-$name.csv"
cat "bench/results/concurrency-$name.md"
