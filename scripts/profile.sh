#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Where a request's CPU goes, per server model: a perf profile of the
# whole guest under the closed-loop echo load of `make bench`.
#
#   scripts/profile.sh [CONNS [LEN [SECS [SYSTEM...]]]]
#       defaults: 256 64 4 uring cport:lifo:16 epoll-rp
#
# Builds what `make bench` builds (scripts/bench.sh build), boots the
# BENCH_KERNEL (6.1 by default) with Debian's perf and its libraries, runs
# bench/profile/profile-guest.sh, and prints for each system: requests/s,
# the guest's CPU (both vCPUs) per request in microseconds, and where it
# goes, by command (server, loadgen, idle) and by symbol: each symbol's
# share of the samples and its microseconds per request.  The whole
# output is kept in build/logs/profile-<kernel>.log, the report in
# build/profile/profile-<kernel>-c<CONNS>-l<LEN>.txt.  Run it on a quiet
# host: another guest changes every figure.  PROFILE_FREQ (default 499)
# is perf's sampling rate in Hz; perf's call graphs cost the guest much
# CPU under TCG, so compare systems within one run, and PROFILE_FREQ=0
# gives the requests/s without perf; PROFILE_PIN=1 runs every server on
# CPU 1 and the client on CPU 0 (taskset), as if on two machines.  Under TCG, QEMU's own counters
# ("info jit": TLB flushes, TB invalidations) are read at the start and
# end of each measured interval (bench/profile/jit-watch.py) and printed
# per request with the report.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CPORT_CACHE:-/var/cache/cport}
export CPORT_CACHE=$CACHE
conns=${1:-256} len=${2:-64} secs=${3:-4}
shift $(($# > 3 ? 3 : $#))
systems=${*:-uring cport:lifo:16 epoll-rp}
name=${BENCH_KERNEL:-6.1}
# shellcheck source=scripts/stock-kernel.sh
. scripts/stock-kernel.sh
stock_kernel "$name"
command -v perf > /dev/null || apt-get install -y -q linux-perf > /dev/null
perf=$(readlink -f "$(command -v perf)")

scripts/bench.sh build
mkdir -p build/profile build/logs
log=build/logs/profile-$name.log
cp bench/profile/profile-guest.sh build/bench/suite/
echo "profile: $systems at $conns connections, $len bytes, ${secs}s each on $name" \
	"(load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
mon=$(mktemp -u /tmp/cport-mon.XXXXXX) jit=build/logs/profile-$name.jit
rm -f "$jit"
: > "$log"
bench/profile/jit-watch.py "$mon" "$log" "$jit" &
watch=$!
trap 'kill $watch 2> /dev/null; rm -f "$mon"' EXIT
# shellcheck disable=SC2086
scripts/run-guest.sh --kernel "$image" --module "build/mod-$name/cport.ko" \
	--log "$log" --timeout 900 --test-timeout 840 --extra-bin "$perf" \
	--monitor "$mon" \
	--run "profile-guest.sh ${PROFILE_FREQ:-499} $conns $len $secs ${PROFILE_PIN:-0} $systems" \
	build/bench/suite/{server,loadgen,profile-guest.sh} > /dev/null || true
kill "$watch" 2> /dev/null || true
wait "$watch" 2> /dev/null || true
trap - EXIT
rm -f "$mon"
[ -s "$jit" ] && cat "$jit" >> "$log"
grep -q '^profile done' "$log" || { echo "profile: the guest did not finish (see $log)" >&2; exit 1; }
out=build/profile/profile-$name-c$conns-l$len.txt
python3 bench/profile/report.py --log "$log" > "$out"
grep '^csv,' "$log" | sed 's/^/# /' >> "$out"
cat "$out"
