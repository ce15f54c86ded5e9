# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the scripts that boot one stock kernel (demo, benchmarks):
#   stock_kernel NAME    NAME is 6.1 or 6.12; sets $image and $kdir
# Needs $CACHE (the paths.mk that install-deps.sh writes is read from it).

stock_kernel() {
	case $1 in
	6.1)
		image=$(ls /boot/vmlinuz-6.1.*-amd64 | sort -V | tail -n 1)
		kdir=/lib/modules/${image#/boot/vmlinuz-}/build;;
	6.12)
		image=$(sed -n 's/^K612_IMAGE=//p' "$CACHE/paths.mk")
		kdir=$(sed -n 's/^K612_KDIR=//p' "$CACHE/paths.mk");;
	*)
		echo "$(basename "$0"): the kernel must be 6.1 or 6.12, not '$1'" >&2
		exit 1;;
	esac
}
