#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check `make install` the way a user of libcport meets it.  Installs into a
# staging DESTDIR under build/, then, with nothing from the repository on
# the include or library path:
#   - the layout (library, soname and dev links, static library, both
#     headers, pkg-config file, man pages, udev rule);
#   - the soname, and that the exported symbols are exactly the functions
#     of libcport.map, each versioned LIBCPORT_1.0;
#   - the installed headers on their own (C99 and C++, -pedantic);
#   - a program built with `pkg-config --cflags --libs libcport`, dynamic
#     and `--static`, and run (without the module, cport_open() says
#     -ENOENT; with it, a post goes round the port);
#   - every man page renders without a warning, and every public function
#     has one;
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

# --- Install ---------------------------------------------------------------------
install_staged() {
	make -s lib && make install DESTDIR="$STAGE"
}
check "make install DESTDIR=build/test-install/stage" install_staged

layout() {
	local f bad=0
	for f in lib/libcport.so.1.0.0 lib/libcport.a include/cport.h \
		 include/linux/cport.h lib/pkgconfig/libcport.pc \
		 share/man/man7/cport.7 share/man/man3/cport_open.3; do
		[ -f "$STAGE$PREFIX/$f" ] || { say "missing $PREFIX/$f"; bad=1; }
	done
	[ "$(readlink "$LIBDIR/libcport.so.1")" = libcport.so.1.0.0 ] ||
		{ say "libcport.so.1 is not a link to libcport.so.1.0.0"; bad=1; }
	[ "$(readlink "$LIBDIR/libcport.so")" = libcport.so.1 ] ||
		{ say "libcport.so is not a link to libcport.so.1"; bad=1; }
	[ -f "$STAGE/lib/udev/rules.d/60-cport.rules" ] ||
		{ say "missing /lib/udev/rules.d/60-cport.rules"; bad=1; }
	cmp -s "$INCDIR/linux/cport.h" uapi/linux/cport.h ||
		{ say "include/linux/cport.h differs from uapi/linux/cport.h"; bad=1; }
	return $bad
}
check layout layout

# --- The shared library ------------------------------------------------------------
soname() {
	local so
	so=$(readelf -d "$LIBDIR/libcport.so.1.0.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	say "SONAME: $so"
	[ "$so" = libcport.so.1 ]
}
check soname soname

# Every defined dynamic symbol must be a function of the map, at the
# version node the map lists it in, and every function of the map must be
# there (LIBCPORT_1.0 for the library, one node per compatibility layer).
exported_symbols() {
	local want got bad nodes
	want=$(awk '/^[A-Z_0-9.]+ *\{/ { node = $1 }
		    /global:/ { g = 1; next } /local:|^}/ { g = 0 }
		    g && /^[[:space:]]*[A-Za-z_0-9]+;/ {
			gsub(/[[:space:];]/, ""); print $0 "@@" node }' \
		libcport/libcport.map | sort)
	nodes=$(sed -n 's/^\([A-Z_0-9.]*\) *{.*/\1/p' libcport/libcport.map |
		paste -sd'|')
	readelf --dyn-syms -W "$LIBDIR/libcport.so.1.0.0" |
		awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $8 != "" { print $4, $8 }' \
		> "$OUT/dynsyms"
	cat "$OUT/dynsyms" >> "$LOG"
	# The version nodes themselves are absolute OBJECT symbols.
	bad=$(grep -vE "^OBJECT ($nodes)\$" "$OUT/dynsyms" |
	      grep -vE "^FUNC [A-Za-z_0-9]+@@($nodes)\$" || true)
	[ -z "$bad" ] || { say "unexpected: $bad"; return 1; }
	got=$(sed -n 's/^FUNC \(.*@@.*\)$/\1/p' "$OUT/dynsyms" | sort)
	[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got") >> "$LOG"; return 1; }
	note "$(echo "$got" | wc -l) functions in $(echo "$nodes" | tr '|' ' ')"
	objdump -T "$LIBDIR/libcport.so.1.0.0" | grep 'LIBCPORT_1\.0 *cport_open$'
}
check "exported symbols are the map's, at their versions" exported_symbols

# --- pkg-config and the headers --------------------------------------------------
pc() {
	local v cflags libs
	v=$(pkg-config --modversion libcport) || return 1
	cflags=$(pkg-config --cflags libcport | sed 's/ *$//')
	libs=$(pkg-config --libs libcport | sed 's/ *$//')
	say "version $v; cflags $cflags; libs $libs"
	[ "$v" = 1.0.0 ] && [ "$cflags" = "-I$INCDIR" ] &&
		[ "$libs" = "-L$LIBDIR -lcport" ]
}
check pkg-config pc

headers() {
	cd "$OUT" || return 1
	echo '#include <cport.h>' > hdr.c
	cp hdr.c hdr.cc
	# shellcheck disable=SC2046	# pkg-config's words
	$CC -std=c99 -pedantic -Wall -Wextra -Werror $(pkg-config --cflags libcport) \
		-c hdr.c -o hdr.o &&
	$CXX -std=c++11 -pedantic -Wall -Wextra -Werror \
		$(pkg-config --cflags libcport) -c hdr.cc -o hdr-cc.o
}
check "installed headers stand alone in C99 and C++11" headers

cat > "$OUT/prog.c" <<'PROG'
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

# The compiler must find both headers in the staging directory.
headers_from_stage() {
	local h
	for h in cport.h linux/cport.h; do
		grep -q "^\.* $INCDIR/$h\$" "$OUT/$1.H" ||
			{ say "<$h> not from $INCDIR"; return 1; }
	done
}

dynamic() {
	cd "$OUT" || return 1
	# shellcheck disable=SC2046
	$CC -Wall -Wextra -Werror -H -o prog-dyn prog.c \
		$(pkg-config --cflags --libs libcport) 2> prog-dyn.H || {
		cat prog-dyn.H; return 1; }
	headers_from_stage prog-dyn || return 1
	readelf -d prog-dyn | grep 'NEEDED.*\[libcport\.so\.1\]' ||
		{ say "prog-dyn does not need libcport.so.1"; return 1; }
	LD_LIBRARY_PATH=$LIBDIR ldd prog-dyn | grep "libcport.so.1 => $LIBDIR/" ||
		{ say "libcport.so.1 not resolved from the stage"; return 1; }
	LD_LIBRARY_PATH=$LIBDIR ./prog-dyn > prog-dyn.out || { cat prog-dyn.out; return 1; }
	note "$(cat prog-dyn.out)"
}
check "dynamic build and run with pkg-config --cflags --libs" dynamic

static() {
	cd "$OUT" || return 1
	# shellcheck disable=SC2046
	$CC -Wall -Wextra -Werror -H -static -o prog-static prog.c \
		$(pkg-config --static --cflags --libs libcport) 2> prog-static.H || {
		cat prog-static.H; return 1; }
	headers_from_stage prog-static || return 1
	! readelf -d prog-static 2>&1 | grep NEEDED ||
		{ say "prog-static has dynamic dependencies"; return 1; }
	nm prog-static | grep ' T cport_open$' ||
		{ say "cport_open not linked in"; return 1; }
	./prog-static > prog-static.out || { cat prog-static.out; return 1; }
	note "$(cat prog-static.out)"
}
check "static build and run with pkg-config --static" static

# --- Man pages ----------------------------------------------------------------------
# Run from the man root, as man(1) does: the .so links are relative to it.
man_render() {
	local err
	cd "$MANDIR" || return 1
	err=$(man -l --warnings man3/*.3 man7/*.7 2>&1 > /dev/null)
	[ -z "$err" ] || { say "$err"; return 1; }
	set -- man3/*.3 man7/*.7
	note "$# pages"
}
check "man -l --warnings on the staged pages" man_render

# A page for each function of the map and each inline helper of the header.
man_cover() {
	local f bad=0
	for f in $(sed -n 's/^[[:space:]]*\(cport_[a-z_0-9]*\);.*/\1/p' libcport/libcport.map) \
		 $(sed -n 's/^static inline void \(cport_prep_[a-z_]*\)(.*/\1/p' libcport/cport.h); do
		[ -f "$MANDIR/man3/$f.3" ] || { say "no page for $f"; bad=1; }
		MANPATH=$MANDIR man -w "$f" > /dev/null 2>&1 ||
			{ say "man -w $f fails"; bad=1; }
	done
	MANPATH=$MANDIR man -w 7 cport > /dev/null || bad=1
	return $bad
}
check "man pages for every public function" man_cover

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
	   ! [ -f "$st/opt/cport/include/linux/cport.h" ] ||
	   ! [ -f "$st/opt/cport/share/man/man3/cport_wait.3" ] ||
	   [ -e "$st/lib" ]; then
		find "$st" >> "$LOG"
		return 1
	fi
	if [ "$(PKG_CONFIG_SYSROOT_DIR='' PKG_CONFIG_LIBDIR=$st/opt/cport/lib/pkgconfig \
		pkg-config --variable=libdir libcport)" != /opt/cport/lib ]; then
		cat "$st/opt/cport/lib/pkgconfig/libcport.pc" >> "$LOG"
		return 1
	fi
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
