#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing cport needs, idempotently.
#
# System packages come from the machine's own Debian 12 sources.  The
# 6.12 backports kernel and the sid kernel source come through a private
# apt configuration under $CPORT_CACHE, so the system's sources are never
# touched and nothing from those suites is installed: the packages are
# unpacked with dpkg -x into the cache.
#
# Writes $CPORT_CACHE/paths.mk (K612_IMAGE, K612_KDIR, KSRC) for the
# Makefile and the scripts.  Runs unattended (CI: no stdin); apt's chatter
# goes to $CPORT_CACHE/install-deps.log and is shown only on failure.
#
# With --deb, installs only what `make deb` needs (Debian's packaging
# tools, lintian) and stops there: no kernels.
set -euo pipefail

CACHE=${CPORT_CACHE:-/var/cache/cport}
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

$SUDO mkdir -p "$CACHE"
[ -w "$CACHE" ] || $SUDO chown "$(id -u):$(id -g)" "$CACHE"
LOG=$CACHE/install-deps.log
: > "$LOG"

say() { echo "install-deps: $*"; }
die() { echo "install-deps: error: $*" >&2; exit 1; }
# quiet CMD...: run, output to the log; on failure show its tail and stop.
quiet() {
	if ! "$@" >> "$LOG" 2>&1 < /dev/null; then
		tail -n 30 "$LOG" >&2
		die "failed: $*"
	fi
}

# --- System packages (bookworm) ---------------------------------------------
PKGS="build-essential bc bison flex libelf-dev libssl-dev dwarves cpio gzip
      xz-utils kmod busybox-static qemu-system-x86 sparse linux-image-amd64
      linux-headers-amd64 liburing-dev libevent-dev pkg-config python3 perl
      debian-archive-keyring ca-certificates
      gnuplot-nox"
PKGS="$PKGS man-db groff"	# scripts/test-install.sh renders the man pages
PKGS="$PKGS openssl"		# gsk_test's peer, s_client/s_server (libssl-dev above: libcport-qso)
PKGS="$PKGS sockperf wrk"	# make bench: the load clients nobody here wrote
# make deb (scripts/build-deb.sh) and its check (scripts/test-deb.sh):
# Debian's packaging tools, lintian, and dkms to build the packaged source.
DEB_PKGS="build-essential dpkg-dev debhelper dh-dkms fakeroot lintian dkms
	  pkg-config libssl-dev"

# apt_install PKG...: those not installed yet, in one apt-get run.
apt_install() {
	local missing='' p
	for p; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	say "installing:$missing"
	quiet $SUDO apt-get update -q
	# shellcheck disable=SC2086
	quiet $SUDO apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confold $missing
}

if [ "${1:-}" = --deb ]; then
	# shellcheck disable=SC2086
	apt_install $DEB_PKGS
	say "ok (packaging tools)"
	exit 0
fi
# shellcheck disable=SC2086
apt_install $PKGS $DEB_PKGS
command -v pahole > /dev/null || die "pahole missing (dwarves)"

# --- Private apt configuration for bookworm-backports and sid ----------------
APT=$CACHE/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs"
cat > "$APT/sources.list.new" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
SRC
mv "$APT/sources.list.new" "$APT/sources.list"
APTOPTS=(-o Dir::Etc::sourcelist="$APT/sources.list"
	 -o Dir::Etc::sourceparts=/dev/null
	 -o Dir::State::Lists="$APT/lists"
	 -o Dir::Cache="$APT/cache"
	 -o APT::Sandbox::User=root)
papt() { apt-get -q "${APTOPTS[@]}" "$@"; }
pcache() { apt-cache "${APTOPTS[@]}" "$@"; }

stamp=$APT/lists/.updated
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] ||
   ! ls "$APT"/lists/*_Packages* > /dev/null 2>&1; then
	say "updating private package lists (bookworm-backports, sid)"
	quiet papt update
	touch "$stamp"
fi

# newest REGEX SUITE: the highest-versioned package named REGEX in SUITE.
newest() {
	local prefix=${1%%[\\[]*} name
	for name in $(pcache pkgnames "$prefix" | grep -xE "$1" | sort -rV); do
		if pcache madison "$name" | grep -q " $2/"; then
			echo "$name"
			return
		fi
	done
	die "no package matching '$1' in $2"
}
# dep PKG REGEX: the dependency of PKG whose name matches REGEX.
dep() {
	pcache show "$1" | sed -n 's/^Depends: //p' | head -n1 | tr ',|' '\n\n' |
		awk '{print $1}' | grep -xE "$2" | head -n1
}
# fetch PKG: download PKG's .deb into $APT/debs once; print its path.
fetch() {
	local f
	f=$(ls "$APT/debs/$1"_*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		(cd "$APT/debs" && quiet papt download "$1")
		f=$(ls "$APT/debs/$1"_*.deb | head -n1)
	fi
	echo "$f"
}

# --- 6.12 backports: unpacked into $CACHE/k612 ------------------------------
img612=$(newest 'linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned' bookworm-backports)
ver612=${img612#linux-image-}
ver612=${ver612%-unsigned}			# 6.12.NN+deb12-amd64
hdr612=linux-headers-$ver612
common612=$(dep "$hdr612" 'linux-headers-.*-common')
kbuild612=$(dep "$hdr612" 'linux-kbuild-.*')
[ -n "$common612" ] && [ -n "$kbuild612" ] || die "cannot resolve $hdr612's dependencies"
K612=$CACHE/k612
if [ ! -e "$K612/.done-$ver612" ]; then
	say "unpacking $img612 and its headers"
	rm -rf "$K612"
	mkdir -p "$K612"
	for p in "$img612" "$hdr612" "$common612" "$kbuild612"; do
		dpkg -x "$(fetch "$p")" "$K612"
	done
	# The arch headers' Makefile includes the -common tree by absolute
	# path, and the kbuild scripts are reached through absolute symlinks
	# in places: point both at the unpacked copies.
	kdir=$K612/usr/src/linux-headers-$ver612
	sed -i "s|/usr/src/linux-headers-|$K612/usr/src/linux-headers-|g" \
		"$kdir/Makefile"
	find "$K612/usr/src" -type l | while read -r l; do
		t=$(readlink "$l")
		case $t in /usr/*|/lib/*) ln -sfn "$K612$t" "$l";; esac
	done
	touch "$K612/.done-$ver612"
fi

# --- sid kernel source: the debug kernel, kselftest_harness.h, checkpatch ----
src=$(newest 'linux-source-[0-9]+\.[0-9]+' sid)
SRC_DIR=$CACHE/$src
if [ ! -e "$SRC_DIR/.done" ]; then
	say "unpacking $src"
	rm -rf "$SRC_DIR"
	mkdir -p "$SRC_DIR"
	dpkg -x "$(fetch "$src")" "$SRC_DIR/pkg"
	tar -C "$SRC_DIR" -xf "$SRC_DIR"/pkg/usr/src/"$src".tar.xz
	rm -rf "$SRC_DIR/pkg"
	touch "$SRC_DIR/.done"
fi

# --- Tell the Makefile and scripts where things are --------------------------
{
	echo "K612_IMAGE=$K612/boot/vmlinuz-$ver612"
	echo "K612_KDIR=$K612/usr/src/linux-headers-$ver612"
	echo "KSRC=$SRC_DIR/$src"
} > "$CACHE/paths.mk.new"
mv "$CACHE/paths.mk.new" "$CACHE/paths.mk"

# --- Prove the 6.12 headers build a module (once per version) ---------------
if [ ! -e "$K612/.probed-$ver612" ]; then
	probe=$(mktemp -d)
	printf '#include <linux/module.h>\nMODULE_LICENSE("GPL");\n' > "$probe/probe.c"
	echo 'obj-m := probe.o' > "$probe/Kbuild"
	quiet make -C "$K612/usr/src/linux-headers-$ver612" M="$probe" modules
	[ -e "$probe/probe.ko" ] || die "6.12 probe module not built"
	rm -rf "$probe"
	touch "$K612/.probed-$ver612"
fi
say "ok ($ver612, $src)"
