#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the Debian packages (`make deb`) the way a user meets them, for
# `make check` (its host stage):
#   - they build (scripts/build-deb.sh: dpkg-buildpackage, in build/deb/),
#     each has what it should, and lintian reports no error;
#   - apt would install them all on this machine (apt-get --simulate);
#   - libcport1, libcport-win32-1, libcport-qso1, libcport-dev and
#     cport-tools installed with dpkg --root into a throwaway root: a
#     program built with nothing but that root's pkg-config files, headers
#     and libraries, for each library (dynamic, and static for libcport),
#     and run; the tools' binaries find their libraries in the root;
#   - cport-dkms unpacked there: `dkms build` of the packaged source for
#     Debian's 6.1 kernel and the 6.12 backports kernel (headers from
#     scripts/install-deps.sh), in a private DKMS tree, so nothing is
#     added to /var/lib/dkms, /usr/src or /lib/modules; a kernel without
#     CONFIG_PREEMPT_NOTIFIERS is skipped (dkms' exit status 77).
# One "ok NAME" or "not ok NAME" line per check, details of a failure
# indented under it; exit status 1 if any failed.  Work files in
# build/test-deb/ (removed when every check passed).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
ROOT=$PWD
DEB=$ROOT/build/deb
OUT=$ROOT/build/test-deb
SYSROOT=$OUT/root
CACHE=${CPORT_CACHE:-/var/cache/cport}
CC=${CC:-cc}
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
rm -rf "$OUT"
mkdir -p "$OUT"

FAILED=0
LOG=$OUT/last.log
NOTE=$OUT/note
ok() {
	if [ -s "$NOTE" ]; then echo "ok $1 -- $(cat "$NOTE")"; else echo "ok $1"; fi
}
not_ok() {
	echo "not ok $1"
	[ -s "$LOG" ] && tail -n 20 "$LOG" | sed 's/^/    /'
	FAILED=$((FAILED + 1))
}
# check NAME CMD...: run CMD in a subshell, its output to the log.
check() {
	local name=$1
	shift
	: > "$LOG"
	: > "$NOTE"
	if ( "$@" ) >> "$LOG" 2>&1 < /dev/null; then ok "$name"; else not_ok "$name"; fi
}
say() { echo "$*" >> "$LOG"; }
note() { echo "$*" > "$NOTE"; }
now() { date +%s; }

PKGS=(cport-dkms libcport1 libcport-win32-1 libcport-qso1 libcport-dev cport-tools)
# Each library's package: named after its soname (Debian policy 8.1).
declare -A RUNTIME=([libcport]=libcport1 [libcport-win32]=libcport-win32-1
		    [libcport-qso]=libcport-qso1)
deb_of() { ls "$DEB/$1"_*.deb 2> /dev/null | head -n 1; }

# --- Build, contents, lintian ---------------------------------------------------------
build() {
	local t p
	t=$(now)
	scripts/build-deb.sh
	# lintian's verdict is the next check: only the packages count here.
	for p in "${PKGS[@]}"; do
		[ -n "$(deb_of "$p")" ] || { say "no $p .deb in build/deb"; return 1; }
	done
	note "${#PKGS[@]} packages in $(( $(now) - t ))s"
}
check "make deb builds ${PKGS[*]}" build

# has PKG PATH...: the package holds each PATH (a file or a link).
has() {
	local p=$1 list f bad=0
	shift
	list=$(dpkg-deb -c "$(deb_of "$p")" | awk '{ print substr($6, 2) }')
	for f; do
		grep -qx "$f" <<< "$list" || { say "$p: no $f"; bad=1; }
	done
	return $bad
}
contents() {
	local v l f bad=0
	v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
	has cport-dkms "/usr/src/cport-$v/dkms.conf" "/usr/src/cport-$v/Kbuild" \
		"/usr/src/cport-$v/kmod/main.c" "/usr/src/cport-$v/uapi/linux/cport.h" \
		/usr/lib/modules-load.d/cport.conf /lib/udev/rules.d/60-cport.rules || bad=1
	for l in libcport libcport-win32 libcport-qso; do
		has "${RUNTIME[$l]}" "/usr/lib/$MA/$l.so.1" "/usr/lib/$MA/$l.so.1.0.0" || bad=1
		has libcport-dev "/usr/lib/$MA/$l.so" "/usr/lib/$MA/$l.a" \
			"/usr/lib/$MA/pkgconfig/$l.pc" || bad=1
	done
	has libcport-dev /usr/include/cport.h /usr/include/cport_pool.h \
		/usr/include/cport_win32.h \
		/usr/include/qsoasync.h /usr/include/linux/cport.h \
		/usr/share/man/man3/cport_wait.3.gz /usr/share/man/man3/qsoasync.3.gz || bad=1
	has cport-tools /usr/bin/cport-echo-server /usr/bin/cport-echo-client \
		/usr/bin/cport-trace-report /usr/libexec/cport/lifo_demo \
		/usr/share/man/man7/cport.7.gz \
		/usr/share/man/man1/cport-trace-report.1.gz \
		/usr/share/man/man1/cport-echo-server.1.gz || bad=1
	# One version: the packages' (debian/changelog), the module's
	# (dkms.conf) and the libraries' (LIB_VERSION in the Makefile).
	for l in "${PKGS[@]}"; do
		[ "$(dpkg-deb -f "$(deb_of "$l")" Version)" = "$v" ] ||
			{ say "$l's version is not dkms.conf's $v"; bad=1; }
	done
	grep -qx "LIB_VERSION	:= $v" Makefile ||
		{ say "the Makefile's LIB_VERSION is not dkms.conf's $v"; bad=1; }
	# The module's copy must be the tree's, and dkms.conf the one make
	# dkms-install uses.
	dpkg-deb -x "$(deb_of cport-dkms)" "$OUT/dkms-contents" || return 1
	for f in Kbuild dkms.conf kmod uapi; do
		diff -r "$f" "$OUT/dkms-contents/usr/src/cport-$v/$f" >> "$LOG" ||
			{ say "cport-dkms: /usr/src/cport-$v/$f differs from the tree's"; bad=1; }
	done
	return $bad
}
check "the packages hold what they should" contents

lintian_clean() {
	local e w
	[ -s "$DEB/lintian.log" ] || { say "no build/deb/lintian.log"; return 1; }
	e=$(grep -c '^E: ' "$DEB/lintian.log")
	w=$(grep -c '^W: ' "$DEB/lintian.log")
	grep -E '^(E|W): ' "$DEB/lintian.log" >> "$LOG"
	note "$e errors, $w warnings"
	[ "$e" = 0 ]
}
check "lintian: no errors" lintian_clean

# apt resolves every dependency from this machine's sources.
apt_simulate() {
	local debs=() p
	for p in "${PKGS[@]}"; do debs+=("$(deb_of "$p")"); done
	apt-get --simulate -q install "${debs[@]}" > "$OUT/apt.log" 2>&1 ||
		{ cat "$OUT/apt.log"; return 1; }
	note "$(grep -c '^Inst ' "$OUT/apt.log") packages would be installed"
}
check "apt-get --simulate install ./build/deb/*.deb" apt_simulate

# --- The libraries from a throwaway root ------------------------------------------------
# dpkg --root: the root has no libc6 or python3 (--force-depends); it runs
# no maintainer script (these packages have none, only ldconfig's trigger).
install_root() {
	local p debs=()
	mkdir -p "$SYSROOT/var/lib/dpkg/info" "$SYSROOT/var/lib/dpkg/updates"
	touch "$SYSROOT/var/lib/dpkg/status" "$SYSROOT/var/lib/dpkg/available"
	for p in libcport1 libcport-win32-1 libcport-qso1 libcport-dev cport-tools; do
		debs+=("$(deb_of "$p")")
	done
	# shellcheck disable=SC2046	# one option or none
	dpkg --root="$SYSROOT" --force-depends $([ "$(id -u)" = 0 ] || echo --force-not-root) \
		-i "${debs[@]}" || return 1
	dpkg --root="$SYSROOT" -l | grep '^ii' || return 1
	note "$(dpkg --root="$SYSROOT" -l | grep -c '^ii') packages installed"
}
check "dpkg --root: the libraries, libcport-dev and cport-tools into build/test-deb/root" \
	install_root

LIBDIR=$SYSROOT/usr/lib/$MA
# pkg-config sees only the root's .pc files; the sysroot prefixes -I and
# -L, which must not be dropped as the system's /usr/include and libdir.
export PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig PKG_CONFIG_PATH=
export PKG_CONFIG_SYSROOT_DIR=$SYSROOT
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1

cat > "$OUT/prog.c" <<'PROG'
/* Built against the packages in the throwaway root only: -DLAYER picks
 * the library whose calls it makes.  Without the module, creating a port
 * fails: linked and ran.  With it, a post goes round the port. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#if LAYER == 0
#include <cport.h>

int main(void)
{
	struct cport_cqe cqe;
	int port = cport_create(NULL), n;

	if (port < 0) {
		printf("cport_create: %s: no module, linked and ran\n", strerror(-port));
		return 0;
	}
	n = cport_post(port, 1, 2, 3, 0);
	if (!n)
		n = cport_wait(port, &cqe, 1, 0);
	cport_close(port);
	if (n != 1 || cqe.key != 1 || cqe.user_data != 2) {
		printf("post and wait: %d\n", n);
		return 1;
	}
	printf("cport_create: ok; a post went round the port\n");
	return 0;
}
#elif LAYER == 1
#include <cport_win32.h>

int main(void)
{
	HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
	OVERLAPPED ov, *got = NULL;
	ULONG_PTR key = 0;
	DWORD bytes = 0;

	if (!port) {
		printf("CreateIoCompletionPort: error %u: no module, linked and ran\n",
		       (unsigned int)GetLastError());
		return 0;
	}
	if (!PostQueuedCompletionStatus(port, 4, 1, &ov) ||
	    !GetQueuedCompletionStatus(port, &bytes, &key, &got, 0) || got != &ov) {
		printf("post and dequeue: error %u\n", (unsigned int)GetLastError());
		return 1;
	}
	CloseHandle(port);
	printf("CreateIoCompletionPort: ok; a packet went round the port\n");
	return 0;
}
#else
#include <qsoasync.h>

int main(void)
{
	Qso_OverlappedIO_t area, done;
	int port = QsoCreateIOCompletionPort();

	if (port < 0) {
		printf("QsoCreateIOCompletionPort: %s: no module, linked and ran\n",
		       strerror(errno));
		return 0;
	}
	memset(&area, 0, sizeof(area));
	area.operationId = 7;
	if (QsoPostIOCompletion(port, &area) ||
	    QsoWaitForIOCompletion(port, &done, NULL) != 1 || done.operationId != 7) {
		printf("post and wait: %s\n", strerror(errno));
		return 1;
	}
	QsoDestroyIOCompletionPort(port);
	printf("QsoCreateIOCompletionPort: ok; a post went round the port\n");
	return 0;
}
#endif
PROG

# prog LIB LAYER [--static]: build with the root's pkg-config, check that
# the headers and libraries came from the root, run.
prog() {
	local lib=$1 layer=$2 static=${3:-} p=$OUT/prog-$1${3:+-static} h
	# shellcheck disable=SC2046	# pkg-config's words
	$CC -Wall -Wextra -Werror -H ${static:+-static} -DLAYER="$layer" -o "$p" \
		"$OUT/prog.c" $(pkg-config ${static:+"$static"} --cflags --libs "$lib") -lpthread \
		2> "$p.H" || { cat "$p.H"; return 1; }
	for h in ${PROG_HEADERS[$lib]}; do
		grep -q "^\.* $SYSROOT/usr/include/$h\$" "$p.H" ||
			{ say "<$h> not from the root"; return 1; }
	done
	if [ -n "$static" ]; then
		! readelf -d "$p" 2>&1 | grep NEEDED || { say "$p is dynamic"; return 1; }
	else
		LD_LIBRARY_PATH=$LIBDIR ldd "$p" | grep "$lib.so.1 => $LIBDIR/" ||
			{ say "$lib.so.1 not resolved from the root"; return 1; }
	fi
	LD_LIBRARY_PATH=$LIBDIR "$p" > "$p.out" || { cat "$p.out"; return 1; }
	note "$(cat "$p.out")"
}
declare -A PROG_HEADERS=([libcport]="cport.h linux/cport.h"
			 [libcport-win32]=cport_win32.h [libcport-qso]=qsoasync.h)
check "libcport: built with the root's pkg-config, run" prog libcport 0
check "libcport: built with the root's pkg-config --static, run" prog libcport 0 --static
check "libcport-win32: built with the root's pkg-config, run" prog libcport-win32 1
check "libcport-qso: built with the root's pkg-config, run" prog libcport-qso 2

# The examples libcport-dev installs (/usr/share/doc/libcport-dev/examples,
# with the two helper headers they include) build against the root alone.
examples() {
	local d=$SYSROOT/usr/share/doc/libcport-dev/examples f lib n=0
	for f in "$d"/*.c; do
		case $(basename "$f") in
		win_*.c) lib=libcport-win32;;
		qso_echo.c) lib=libcport-qso;;
		*) lib=libcport;;
		esac
		# shellcheck disable=SC2046	# pkg-config's words
		$CC -Wall -Wextra -Werror -Wno-unused-parameter -o "$OUT/example" "$f" \
			$(pkg-config --cflags --libs "$lib") -levent_core -lpthread ||
			{ say "$f does not build"; return 1; }
		n=$((n + 1))
	done
	[ $n -gt 0 ] || { say "no examples in $d"; return 1; }
	note "$n examples"
}
check "libcport-dev's examples build with the root's pkg-config" examples

# cport-tools: every binary's libraries resolve, and from the root when
# they are cport's; trace-report runs, and its --csv reads the sample
# trace of scripts/testdata/trace/ as the tree's copy does.
tools() {
	local f
	for f in "$SYSROOT"/usr/bin/cport-echo-* "$SYSROOT"/usr/libexec/cport/*; do
		LD_LIBRARY_PATH=$LIBDIR ldd "$f" > "$OUT/ldd.out" || return 1
		! grep 'not found' "$OUT/ldd.out" || { say "$f: a library not found"; return 1; }
		! grep 'libcport' "$OUT/ldd.out" | grep -v "=> $LIBDIR/" ||
			{ say "$f: libcport not from the root"; return 1; }
	done
	"$SYSROOT/usr/bin/cport-trace-report" --help
	"$SYSROOT/usr/bin/cport-trace-report" --csv scripts/testdata/trace/sample.trace |
		cmp - scripts/testdata/trace/sample.csv
}
check "cport-tools: binaries linked to the packaged libraries, trace-report runs" tools

# --- cport-dkms: DKMS builds the packaged source ------------------------------------------
DKMS_VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
SRCTREE=$OUT/dkms-src
DKMSTREE=$OUT/dkms-tree
# No signing: Debian's dkms would otherwise make /var/lib/dkms/mok.key.
export sign_file=/nonexistent
pdkms() { dkms "$@" --sourcetree "$SRCTREE/usr/src" --dkmstree "$DKMSTREE"; }

dkms_add() {
	dpkg-deb -x "$(deb_of cport-dkms)" "$SRCTREE" || return 1
	mkdir -p "$DKMSTREE"
	pdkms add -m cport -v "$DKMS_VERSION"
}
check "cport-dkms: dkms add (private tree)" dkms_add

# dkms_build KVER KDIR: the module built for KVER, for that kernel.
dkms_build() {
	local t ko vm
	t=$(now)
	[ -e "$2/Makefile" ] || { say "no kernel headers at $2"; return 1; }
	pdkms build -m cport -v "$DKMS_VERSION" -k "$1" -j 2 --kernelsourcedir "$2" || {
		cat "$DKMSTREE/cport/$DKMS_VERSION/build/make.log" 2> /dev/null; return 1; }
	ko=$(ls "$DKMSTREE/cport/$DKMS_VERSION/$1"/*/module/cport.ko* 2> /dev/null | head -n 1)
	[ -n "$ko" ] || { say "no cport.ko for $1"; return 1; }
	vm=$(modinfo -F vermagic "$ko")
	say "vermagic: $vm"
	[ "${vm%% *}" = "$1" ] || return 1
	note "$(( $(now) - t ))s"
}
k61=
for d in $(ls -d /lib/modules/6.1.*-amd64 2> /dev/null | sort -rV); do
	[ -e "$d/build/Makefile" ] && { k61=${d#/lib/modules/}; break; }
done
if [ -n "$k61" ]; then
	check "cport-dkms: dkms build for $k61" dkms_build "$k61" "/lib/modules/$k61/build"
else
	: > "$LOG"; say "no /lib/modules/6.1.*-amd64/build: run scripts/install-deps.sh"
	not_ok "cport-dkms: dkms build for 6.1"
fi
k612dir=$(sed -n 's/^K612_KDIR=//p' "$CACHE/paths.mk" 2> /dev/null)
if [ -n "$k612dir" ]; then
	k612=${k612dir##*/linux-headers-}
	check "cport-dkms: dkms build for $k612" dkms_build "$k612" "$k612dir"
else
	: > "$LOG"; say "no K612_KDIR in $CACHE/paths.mk: run scripts/install-deps.sh"
	not_ok "cport-dkms: dkms build for 6.12"
fi

# BUILD_EXCLUSIVE_CONFIG: a kernel tree whose .config (the 6.1 one) lacks
# CONFIG_PREEMPT_NOTIFIERS: dkms skips the kernel (77), builds nothing.
dkms_exclusive() {
	local st
	mkdir -p "$OUT/nopn"
	grep -v '^CONFIG_PREEMPT_NOTIFIERS=' "/lib/modules/$k61/build/.config" \
		> "$OUT/nopn/.config"
	pdkms build -m cport -v "$DKMS_VERSION" -k "$k61-nopn" \
		--kernelsourcedir "$OUT/nopn"
	st=$?
	say "dkms build: exit status $st"
	[ $st = 77 ] && ! ls "$DKMSTREE/cport/$DKMS_VERSION/$k61-nopn"/*/module/cport.ko* 2> /dev/null
}
if [ -n "$k61" ]; then
	check "cport-dkms: a kernel without CONFIG_PREEMPT_NOTIFIERS is skipped" dkms_exclusive
fi

if [ "$FAILED" = 0 ]; then
	rm -rf "$OUT"
	echo "test-deb: all passed"
else
	echo "test-deb: $FAILED failed (build/test-deb/ kept)"
fi
[ "$FAILED" = 0 ]
