#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel under QEMU with cport.ko loaded and run one example,
# showing its output as it runs.
#
#   scripts/demo.sh [EXAMPLE [ARGS...]]    default: echo_demo
#
# echo_demo runs echo_server and echo_client together (5 s of load);
# scripts/demo.sh lifo_demo shows LIFO release on a port.
#
# CPORT_DEMO_KERNEL=6.1 (default) or 6.12 picks the kernel.  The whole
# guest log stays in build/logs/demo.log.
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${CPORT_CACHE:-/var/cache/cport}
export CPORT_CACHE=$CACHE
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
example=${1:-echo_demo}
[ $# -eq 0 ] || shift
# The programs an example runs go into the guest next to it.
bins=("$example")
case $example in
echo_demo) bins+=(echo_server echo_client);;
esac

# shellcheck source=scripts/stock-kernel.sh
. scripts/stock-kernel.sh
stock_kernel "${CPORT_DEMO_KERNEL:-6.1}"
name=${CPORT_DEMO_KERNEL:-6.1}

mkdir -p build/logs
echo "demo: building cport.ko for $(basename "$image") and $example"
make module KDIR="$kdir" MODDIR="build/mod-$name" > build/logs/demo.build.log 2>&1 ||
	{ tail -n 20 build/logs/demo.build.log; exit 1; }
make "${bins[@]/#/build/examples/}" >> build/logs/demo.build.log 2>&1 ||
	{ tail -n 20 build/logs/demo.build.log; exit 1; }

echo "demo: booting (QEMU; takes a few seconds)"
status=0
scripts/run-guest.sh --kernel "$image" --module "build/mod-$name/cport.ko" \
	--log build/logs/demo.log --timeout 600 --live \
	--run "$example${*:+ $*}" "${bins[@]/#/build/examples/}" |
	awk '{ sub(/\r$/, "") }
	     /^=== test /  { on = 1; next }
	     /^=== exit /  { on = 0; rc = $4; next }
	     /^=== insmod [^o]/ { print "demo: " substr($0, 5) }
	     on            { print; fflush() }
	     END { if (rc == "") { print "demo: the guest did not finish"; exit 1 }
		   print "demo: '"$example"' exited with status " rc; exit rc != 0 }' ||
	status=$?
exit $status
