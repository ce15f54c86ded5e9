#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cport's ioctl type (0xC9, docs/ioctl-number.md) must collide with nothing
# in the kernel source: no row of ioctl-number.rst and no ioctl defined
# under include/uapi with that type.
#   scripts/check-ioctl-number.sh [KSRC]   (default: from $CPORT_CACHE/paths.mk)
set -euo pipefail

CACHE=${CPORT_CACHE:-/var/cache/cport}
KSRC=${1:-${KSRC:-$(sed -n 's/^KSRC=//p' "$CACHE/paths.mk" 2> /dev/null)}}
HERE=$(cd "$(dirname "$0")/.." && pwd)
RST=$KSRC/Documentation/userspace-api/ioctl/ioctl-number.rst
[ -r "$RST" ] || { echo "check-ioctl-number: no $RST" >&2; exit 1; }

type=$(sed -n 's/^#define CPORT_IOC_MAGIC[[:space:]]*//p' "$HERE/uapi/linux/cport.h")
[ "$type" = 0xC9 ] || { echo "check-ioctl-number: CPORT_IOC_MAGIC is '$type', docs say 0xC9" >&2; exit 1; }
grep -q "^0xC9  00-1F  uapi/linux/cport.h" "$HERE/docs/ioctl-number.md" ||
	{ echo "check-ioctl-number: docs/ioctl-number.md has no 0xC9 row" >&2; exit 1; }

bad=0
if grep -inE "^(0x)?c9[[:space:]]" "$RST"; then
	echo "check-ioctl-number: type 0xC9 is taken in $RST" >&2
	bad=1
fi
# _IO(0xC9, ...), _IOR(0xC9, ...), ... with the type as first argument.
if grep -rnIiE "(^|[^a-z0-9_])_IO(R|W|WR)?[[:space:]]*\([[:space:]]*0xc9[[:space:]]*," \
	"$KSRC/include/uapi" "$KSRC/arch"/*/include/uapi 2> /dev/null; then
	echo "check-ioctl-number: an ioctl of type 0xC9 in the uapi headers" >&2
	bad=1
fi
[ $bad = 0 ] && echo "ioctl type 0xC9: no collision in $(make -s -C "$KSRC" kernelversion 2> /dev/null)"
exit $bad
