#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make deb`: cport's Debian packages (debian/), with dpkg-buildpackage, in
# build/deb/:
#   cport-dkms        the module's source, built by DKMS for every kernel
#                     with CONFIG_PREEMPT_NOTIFIERS, loaded at boot, udev rule
#   libcport1, libcport-win32-1, libcport-qso1   the three shared libraries
#   libcport-dev      headers, static libraries, pkg-config files, man3
#   cport-tools       echo server and client, trace-report, demos, cport(7)
# The build runs in a copy of the sources the packages are built from
# (build/deb/src/cport-VERSION: not bench/, selftests/ or the other
# scripts), so debhelper's files never land in the tree; the source
# package (.dsc and .tar.xz, native), the .debs, .buildinfo and .changes
# are moved up to build/deb/.  Then lintian on all of them, its report in
# build/deb/lintian.log; exit status 1 if it reports an error.
#
# Needs Debian's packaging tools: scripts/install-deps.sh --deb.
set -euo pipefail

cd "$(dirname "$0")/.." || exit 1
# A parent make must not leak its flags into dpkg-buildpackage's make.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
OUT=build/deb
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
SRC=$OUT/src/cport-$VERSION

say() { echo "build-deb: $*"; }

rm -rf "$OUT"
mkdir -p "$SRC"
# What the packages are built from: not build/, bench/, selftests/ or .git.
cp -a Makefile Kbuild dkms.conf COPYING LICENSES README.md uapi kmod \
	libcport common examples man packaging debian "$SRC/"
mkdir -p "$SRC/scripts"
cp -a scripts/trace-report "$SRC/scripts/"

say "dpkg-buildpackage (log: $OUT/build.log)"
if ! (cd "$SRC" && dpkg-buildpackage -us -uc) > "$OUT/build.log" 2>&1 < /dev/null; then
	tail -n 30 "$OUT/build.log" >&2
	say "error: dpkg-buildpackage failed" >&2
	exit 1
fi
mv "$OUT"/src/*.deb "$OUT"/src/*.dsc "$OUT"/src/*.tar.* "$OUT"/src/*.buildinfo \
	"$OUT"/src/*.changes "$OUT/"
rm -rf "$OUT/src"
for f in "$OUT"/*.deb; do
	say "$(basename "$f")"
done

if command -v lintian > /dev/null; then
	# Exit status 2 is lintian's "policy violations": judged by the tags.
	lintian --info --display-info --pedantic "$OUT"/*.changes \
		> "$OUT/lintian.log" 2>&1 || true
	e=$(grep -c '^E: ' "$OUT/lintian.log" || true)
	w=$(grep -c '^W: ' "$OUT/lintian.log" || true)
	say "lintian: $e errors, $w warnings ($OUT/lintian.log)"
	grep -E '^(E|W): ' "$OUT/lintian.log" | sed 's/^/  /' || true
	[ "$e" = 0 ] || exit 1
else
	say "lintian not installed: not checked"
fi
