#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check `make install` the way a user of libcport meets it.  Installs into a
# staging DESTDIR under build/, then, with nothing from the repository on
# the include or library path, for each of the three libraries (libcport,
# and the compatibility layers libcport-win32 and libcport-qso):
#   - the layout (library, soname and dev links, static library, public
#     headers and no internal one, pkg-config file, man pages, udev rule,
#     cport-trace-report, whose --csv reads scripts/testdata/trace/);
#   - the soname (a layer's needs libcport.so.1), and that the exported
#     symbols are exactly the names of libcport/LIB.map at their version
#     node, which are exactly the library's public functions (those of
#     its static library);
#   - the installed headers on their own (C and C++);
#   - a program built with `pkg-config --cflags --libs LIB`, dynamic and
#     `--static`, and run (without the module, opening a port fails;
#     with it, a post goes round the port);
#   - every man page renders without a warning, every public function has
#     one, and a layer's pages say which library to link;
#   - `make uninstall` leaves nothing behind; PREFIX moves everything.
# One "ok NAME" or "not ok NAME" line per check; exit status 1 if any
# failed.  Details of a failure are indented under it; logs are in
# build/test-install/.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
# The Makefile's install variables: the defaults, whatever the environment.
unset PREFIX LIBDIR INCLUDEDIR MANDIR PKGCONFIGDIR UDEVRULESDIR DESTDIR
ROOT=$PWD
OUT=$ROOT/build/test-install
STAGE=$OUT/stage
PREFIX=/usr/local
LIBDIR=$STAGE$PREFIX/lib
INCDIR=$STAGE$PREFIX/include
MANDIR=$STAGE$PREFIX/share/man
CC=${CC:-cc}
CXX=${CXX:-c++}
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
# check NAME CMD...: run CMD (a function or a command) in a subshell, its
# output to the log.
check() {
	local name=$1
	shift
	: > "$LOG"
	: > "$NOTE"
	if ( "$@" ) >> "$LOG" 2>&1 < /dev/null; then ok "$name"; else not_ok "$name"; fi
}
say() { echo "$*" >> "$LOG"; }
# note TEXT: said after the check's "ok" line.
note() { echo "$*" > "$NOTE"; }

# pkg-config sees only the staged copy; the sysroot prefixes its -I and -L.
export PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig PKG_CONFIG_PATH=
export PKG_CONFIG_SYSROOT_DIR=$STAGE

LIBS=(libcport libcport-win32 libcport-qso)

# --- Install ---------------------------------------------------------------------
install_staged() {
	make -s lib && make install DESTDIR="$STAGE"
}
check "make install DESTDIR=build/test-install/stage" install_staged

layout() {
	local f l bad=0
	for f in include/cport.h include/cport_pool.h include/cport_win32.h \
		 include/qsoasync.h include/gskssl.h include/linux/cport.h \
		 share/man/man7/cport.7 share/man/man3/cport_open.3 \
		 share/man/man3/cport_pool.3 share/man/man3/cport_win32.3 \
		 share/man/man3/qsoasync.3 share/man/man3/gskssl.3 \
		 share/man/man1/cport-trace-report.1 \
		 bin/cport-trace-report; do
		[ -f "$STAGE$PREFIX/$f" ] || { say "missing $PREFIX/$f"; bad=1; }
	done
	for l in "${LIBS[@]}"; do
		for f in "lib/$l.so.1.0.0" "lib/$l.a" "lib/pkgconfig/$l.pc"; do
			[ -f "$STAGE$PREFIX/$f" ] || { say "missing $PREFIX/$f"; bad=1; }
		done
		[ "$(readlink "$LIBDIR/$l.so.1")" = "$l.so.1.0.0" ] ||
			{ say "$l.so.1 is not a link to $l.so.1.0.0"; bad=1; }
		[ "$(readlink "$LIBDIR/$l.so")" = "$l.so.1" ] ||
			{ say "$l.so is not a link to $l.so.1"; bad=1; }
	done
	[ ! -e "$INCDIR/fdtab.h" ] || { say "internal fdtab.h installed"; bad=1; }
	for f in qso_layer.h gsk_internal.h; do
		[ ! -e "$INCDIR/$f" ] || { say "internal $f installed"; bad=1; }
	done
	[ -x "$STAGE$PREFIX/bin/cport-trace-report" ] ||
		{ say "bin/cport-trace-report not executable"; bad=1; }
	"$STAGE$PREFIX/bin/cport-trace-report" --csv scripts/testdata/trace/sample.trace |
		cmp - scripts/testdata/trace/sample.csv ||
		{ say "the installed cport-trace-report --csv differs"; bad=1; }
	[ -f "$STAGE/lib/udev/rules.d/60-cport.rules" ] ||
		{ say "missing /lib/udev/rules.d/60-cport.rules"; bad=1; }
	cmp -s "$INCDIR/linux/cport.h" uapi/linux/cport.h ||
		{ say "include/linux/cport.h differs from uapi/linux/cport.h"; bad=1; }
	return $bad
}
check layout layout

# --- The shared libraries -----------------------------------------------------------
soname() {	# soname LIB
	local so
	so=$(readelf -d "$LIBDIR/$1.so.1.0.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	say "SONAME: $so"
	[ "$so" = "$1.so.1" ] || return 1
	[ "$1" = libcport ] && return 0
	readelf -d "$LIBDIR/$1.so.1.0.0" | grep 'NEEDED.*\[libcport\.so\.1\]' ||
		{ say "$1 does not need libcport.so.1"; return 1; }
}

# map_names MAP: NAME@@NODE for each name the map exports.
map_names() {
	awk '/^[A-Z_0-9.]+ *\{/ { node = $1 }
	     /global:/ { g = 1; next } /local:|^}/ { g = 0 }
	     g && /^[[:space:]]*[A-Za-z_0-9]+;/ {
		gsub(/[[:space:];]/, ""); print $0 "@@" node }' "$1" | sort
}

# Every defined dynamic symbol must be a function of the map, at the
# version node the map lists it in, and every function of the map must be
# there.  The map in turn must name exactly the library's public
# functions, the global functions of default visibility in its static
# library: a call left out of the map, a name that is no call, or an
# internal function (fdtab's are hidden) that is not hidden all fail.
exported_symbols() {	# exported_symbols LIB
	local lib=$1 map=libcport/$1.map want got bad nodes funcs
	want=$(map_names "$map")
	nodes=$(sed -n 's/^\([A-Z_0-9.]*\) *{.*/\1/p' "$map" | paste -sd'|')
	readelf --dyn-syms -W "$LIBDIR/$lib.so.1.0.0" |
		awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $8 != "" { print $4, $8 }' \
		> "$OUT/$lib.dynsyms"
	cat "$OUT/$lib.dynsyms" >> "$LOG"
	# The version nodes themselves are absolute OBJECT symbols.
	bad=$(grep -vE "^OBJECT ($nodes)\$" "$OUT/$lib.dynsyms" |
	      grep -vE "^FUNC [A-Za-z_0-9]+@@($nodes)\$" || true)
	[ -z "$bad" ] || { say "unexpected: $bad"; return 1; }
	got=$(sed -n 's/^FUNC \(.*@@.*\)$/\1/p' "$OUT/$lib.dynsyms" | sort)
	[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got") >> "$LOG"; return 1; }
	funcs=$(readelf -sW "$LIBDIR/$lib.a" |
		awk '$4 == "FUNC" && $5 == "GLOBAL" && $6 == "DEFAULT" &&
		     $7 != "UND" { print $8 }' | sort)
	[ "$funcs" = "$(echo "$want" | sed 's/@@.*//' | sort)" ] || {
		say "$map and the public functions of $lib.a differ:"
		diff <(echo "$want" | sed 's/@@.*//' | sort) <(echo "$funcs") >> "$LOG"
		return 1
	}
	note "$(echo "$got" | wc -l) functions in $(echo "$nodes" | tr '|' ' ')"
}

for l in "${LIBS[@]}"; do
	check "$l: soname" soname "$l"
	check "$l: exported symbols are the map's, at their versions" exported_symbols "$l"
done

# --- pkg-config and the headers --------------------------------------------------
# A layer's -l flag, then libcport's (Requires: libcport), the same
# whether dynamic or --static, but for libcport-qso's OpenSSL (its GSKit
# calls), which a static link needs too.
pc() {	# pc LIB
	local v cflags libs slibs want=-lcport private=''
	v=$(pkg-config --modversion "$1") || return 1
	cflags=$(pkg-config --cflags "$1" | sed 's/ *$//')
	libs=$(pkg-config --libs "$1" | sed 's/ *$//')
	slibs=$(pkg-config --static --libs "$1" | sed 's/ *$//')
	say "version $v; cflags $cflags; libs $libs; static $slibs"
	[ "$1" = libcport ] || want="-l${1#lib} -lcport"
	[ "$1" = libcport-qso ] && private=' -lssl -lcrypto'
	[ "$v" = 1.0.0 ] && [ "$cflags" = "-I$INCDIR" ] &&
		[ "$libs" = "-L$LIBDIR $want" ] &&
		[ "$slibs" = "-L$LIBDIR -l${1#lib}$private${want#-l${1#lib}}" ]
}
for l in "${LIBS[@]}"; do
	check "$l: pkg-config" pc "$l"
done

# hdr NAME HEADER CSTD CXXFLAGS: HEADER alone, as C (CSTD, -pedantic) and
# as C++11.
hdr() {
	echo "#include <$2>" > "$1.c"
	cp "$1.c" "$1.cc"
	# shellcheck disable=SC2046,SC2086	# pkg-config's words, $4's
	$CC "-std=$3" -pedantic -Wall -Wextra -Werror $(pkg-config --cflags libcport) \
		-c "$1.c" -o "$1.o" &&
	$CXX -std=c++11 $4 -Wall -Wextra -Werror \
		$(pkg-config --cflags libcport) -c "$1.cc" -o "$1-cc.o"
}
# <cport_win32.h> has Windows' anonymous unions and structs (OVERLAPPED):
# C11, and C++ without -pedantic.
headers() {
	cd "$OUT" || return 1
	hdr hdr cport.h c99 -pedantic &&
	hdr hdr-pool cport_pool.h c99 -pedantic &&
	hdr hdr-qso qsoasync.h c99 -pedantic &&
	hdr hdr-gsk gskssl.h c99 -pedantic &&
	hdr hdr-win32 cport_win32.h c11 ""
}
check "installed headers stand alone (C99, C11 for <cport_win32.h>, C++11)" headers

cat > "$OUT/prog-libcport.c" <<'PROG'
/* Built against the installed libcport only. */
#include <cport.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(struct cport_sqe) == 64, "struct cport_sqe");
_Static_assert(sizeof(struct cport_cqe) == 48, "struct cport_cqe");

int main(void)
{
	struct cport_cqe cqe;
	struct cport_sqe sqe;
	int port, n;

	cport_prep_post(&sqe, 1, 2, 3, 4);	/* an inline helper */
	port = cport_open();
	if (port < 0) {
		printf("cport_open: %d (%s): no module, linked and ran\n",
		       port, strerror(-port));
		return 0;
	}
	n = cport_submit(port, &sqe, 1);
	if (n == 1)
		n = cport_wait(port, &cqe, 1, 0);
	cport_close(port);
	if (n != 1 || cqe.key != 1 || cqe.user_data != 2 || cqe.res != 3) {
		printf("post and wait: %d\n", n);
		return 1;
	}
	printf("cport_open: ok; a post went round the port\n");
	return 0;
}
PROG

cat > "$OUT/prog-libcport-win32.c" <<'PROG'
/* Built against the installed libcport-win32 only. */
#include <cport_win32.h>
#include <stdio.h>

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
	    !GetQueuedCompletionStatus(port, &bytes, &key, &got, 0) ||
	    got != &ov || key != 1 || bytes != 4) {
		printf("post and dequeue: error %u\n", (unsigned int)GetLastError());
		return 1;
	}
	CloseHandle(port);
	printf("CreateIoCompletionPort: ok; a packet went round the port\n");
	return 0;
}
PROG

cat > "$OUT/prog-libcport-qso.c" <<'PROG'
/* Built against the installed libcport-qso only. */
#include <qsoasync.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
	    QsoWaitForIOCompletion(port, &done, NULL) != 1 ||
	    done.operationId != 7) {
		printf("post and wait: %s\n", strerror(errno));
		return 1;
	}
	QsoDestroyIOCompletionPort(port);
	printf("QsoCreateIOCompletionPort: ok; a post went round the port\n");
	return 0;
}
PROG

# Each program's headers, and the call that shows its library linked in.
declare -A PROG_HEADERS=([libcport]="cport.h linux/cport.h"
			 [libcport-win32]=cport_win32.h [libcport-qso]=qsoasync.h)
declare -A PROG_CALL=([libcport]=cport_open [libcport-win32]=CreateIoCompletionPort
		      [libcport-qso]=QsoCreateIOCompletionPort)

# The compiler must find the program's headers in the stage.
headers_from_stage() {	# headers_from_stage PROG LIB
	local h
	for h in ${PROG_HEADERS[$2]}; do
		grep -q "^\.* $INCDIR/$h\$" "$OUT/$1.H" ||
			{ say "<$h> not from $INCDIR"; return 1; }
	done
}

# Dynamic: the program needs LIB's soname, and it and libcport.so.1
# (a layer's dependency) resolve from the stage.
dynamic() {	# dynamic LIB
	local p=prog-$1-dyn so
	cd "$OUT" || return 1
	# shellcheck disable=SC2046
	$CC -Wall -Wextra -Werror -H -o "$p" "prog-$1.c" \
		$(pkg-config --cflags --libs "$1") 2> "$p.H" || {
		cat "$p.H"; return 1; }
	headers_from_stage "$p" "$1" || return 1
	readelf -d "$p" | grep "NEEDED.*\[$1\.so\.1\]" ||
		{ say "$p does not need $1.so.1"; return 1; }
	for so in "$1.so.1" libcport.so.1; do
		LD_LIBRARY_PATH=$LIBDIR ldd "$p" | grep "$so => $LIBDIR/" ||
			{ say "$so not resolved from the stage"; return 1; }
	done
	LD_LIBRARY_PATH=$LIBDIR "./$p" > "$p.out" || { cat "$p.out"; return 1; }
	note "$(cat "$p.out")"
}

# Static: nothing dynamic, LIB's call and (for a layer) libcport's in.
static() {	# static LIB
	local p=prog-$1-static f
	cd "$OUT" || return 1
	# shellcheck disable=SC2046
	$CC -Wall -Wextra -Werror -H -static -o "$p" "prog-$1.c" \
		$(pkg-config --static --cflags --libs "$1") 2> "$p.H" || {
		cat "$p.H"; return 1; }
	headers_from_stage "$p" "$1" || return 1
	! readelf -d "$p" 2>&1 | grep NEEDED ||
		{ say "$p has dynamic dependencies"; return 1; }
	local calls=("${PROG_CALL[$1]}")
	[ "$1" = libcport ] || calls+=(cport_create)
	for f in "${calls[@]}"; do
		nm "$p" | grep " T $f\$" || { say "$f not linked in"; return 1; }
	done
	"./$p" > "$p.out" || { cat "$p.out"; return 1; }
	note "$(cat "$p.out")"
}

for l in "${LIBS[@]}"; do
	check "$l: dynamic build and run with pkg-config --cflags --libs" dynamic "$l"
	check "$l: static build and run with pkg-config --static" static "$l"
done

# --- Man pages ----------------------------------------------------------------------
# Run from the man root, as man(1) does: the .so links are relative to it.
man_render() {
	local err
	cd "$MANDIR" || return 1
	err=$(man -l --warnings man1/*.1 man3/*.3 man7/*.7 2>&1 > /dev/null)
	[ -z "$err" ] || { say "$err"; return 1; }
	set -- man1/*.1 man3/*.3 man7/*.7
	note "$# pages"
}
check "man -l --warnings on the staged pages" man_render

# A page for each cport_, Qso and gsk_ function of the maps and each inline
# helper of the header; the Win32 calls keep Windows' names and are all in
# the SYNOPSIS of cport_win32(3).
man_cover() {
	local f bad=0 win32
	win32=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$MANDIR/man3/cport_win32.3")
	for f in $(for l in "${LIBS[@]}"; do map_names "libcport/$l.map"; done | sed 's/@@.*//') \
		 $(sed -n 's/^static inline void \(cport_prep_[a-z_]*\)(.*/\1/p' libcport/cport.h); do
		case $f in
		cport_*|Qso*|gsk_*)
			[ -f "$MANDIR/man3/$f.3" ] || { say "no page for $f"; bad=1; }
			MANPATH=$MANDIR man -w "$f" > /dev/null 2>&1 ||
				{ say "man -w $f fails"; bad=1; } ;;
		*)
			grep -q "[ \"]$f(" <<< "$win32" ||
				{ say "$f not in cport_win32(3)'s SYNOPSIS"; bad=1; } ;;
		esac
	done
	MANPATH=$MANDIR man -w 7 cport > /dev/null || bad=1
	return $bad
}
check "man pages for every public function" man_cover

# The SYNOPSIS of every call's page says which library to link, as
# rendered (a layer's pages are mostly .so links to cport_win32(3) and
# qsoasync(3) or gskssl(3)): -lcport-win32, -lcport-qso, else -lcport.
man_link() {
	local page lib syn bad=0
	cd "$MANDIR" || return 1
	for page in man3/*.3; do
		case $(basename "$page") in
		cport_win32*) lib=cport-win32 ;;
		Qso*|qsoasync*|gsk*) lib=cport-qso ;;
		*) lib=cport ;;
		esac
		syn=$(LC_ALL=C MANWIDTH=200 man -l "$page" 2> /dev/null |
		      sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | tr -s ' ')
		grep -qiE "link with -l$lib( |\$)" <<< "$syn" ||
			{ say "$page: no \"Link with -l$lib\" in its SYNOPSIS"; bad=1; }
	done
	return $bad
}
check "man pages say which library to link" man_link

# --- Uninstall, PREFIX --------------------------------------------------------------
uninstall_staged() {
	local left
	make uninstall DESTDIR="$STAGE" || return 1
	left=$(find "$STAGE" ! -type d)
	[ -z "$left" ] || { say "left behind:"; say "$left"; return 1; }
}
check "make uninstall leaves nothing" uninstall_staged

other_prefix() {
	local st=$OUT/stage-opt
	make install DESTDIR="$st" PREFIX=/opt/cport UDEVRULESDIR= || return 1
	if ! [ -f "$st/opt/cport/lib/libcport.so.1.0.0" ] ||
	   ! [ -f "$st/opt/cport/lib/libcport-win32.so.1.0.0" ] ||
	   ! [ -f "$st/opt/cport/lib/libcport-qso.a" ] ||
	   ! [ -f "$st/opt/cport/include/linux/cport.h" ] ||
	   ! [ -f "$st/opt/cport/share/man/man3/cport_wait.3" ] ||
	   ! [ -x "$st/opt/cport/bin/cport-trace-report" ] ||
	   ! [ -f "$st/opt/cport/share/man/man1/cport-trace-report.1" ] ||
	   [ -e "$st/lib" ]; then
		find "$st" >> "$LOG"
		return 1
	fi
	for l in "${LIBS[@]}"; do
		if [ "$(PKG_CONFIG_SYSROOT_DIR='' PKG_CONFIG_LIBDIR=$st/opt/cport/lib/pkgconfig \
			pkg-config --variable=libdir "$l")" != /opt/cport/lib ]; then
			cat "$st/opt/cport/lib/pkgconfig/$l.pc" >> "$LOG"
			return 1
		fi
	done
	make uninstall DESTDIR="$st" PREFIX=/opt/cport UDEVRULESDIR= || return 1
	[ -z "$(find "$st" ! -type d)" ]
}
check "make install PREFIX=/opt/cport" other_prefix

if [ "$FAILED" = 0 ]; then
	echo "test-install: all passed"
else
	echo "test-install: $FAILED failed"
fi
[ "$FAILED" = 0 ]
