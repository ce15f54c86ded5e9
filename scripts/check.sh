#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run cport's selftests on every kernel of the matrix under QEMU:
#
#   6.1        Debian 12's stock kernel (/boot/vmlinuz-6.1.*-amd64)
#   6.12       the bookworm-backports kernel, unpacked by install-deps.sh
#   X.Y-debug  the sid kernel source built with KASAN, lockdep, kmemleak...
#              (scripts/build-debug-kernel.sh, cached)
#   X.Y-kcsan  the same source with KCSAN (strict) instead of KASAN and
#              kmemleak, lockdep kept, and proxy execution on
#              (scripts/build-debug-kernel.sh --kcsan, cached; built after
#              the debug kernel); runs only the tests in KCSAN_TESTS below
#
# For each kernel: build the module, boot it with every build/selftests/*
# binary (scripts/run-guest.sh), and judge the run.  A run fails on a "not ok"
# result, a binary that exits non-zero or times out without saying why, a
# failed insmod/rmmod, a guest that dies or hangs, and on ANY kernel log
# finding (BUG, WARNING, KASAN, lockdep, kmemleak, KCSAN, ...) even if every
# test passed; a KCSAN race counts when a racing stack goes through cport.ko,
# the kernel's own are listed on an "info" line (scripts/judge.py).  The
# last line is "N passed, M failed"; exit status 1 on failures.
#
# Environment:
#   CPORT_KERNELS="6.1 debug"  restrict the matrix (names, "debug", "kcsan")
#   CPORT_TESTS="name ..."     run only these selftest binaries
#   CPORT_TEST_TIMEOUT=SECS    per-binary bound (default 300, debug 900, kcsan 600)
#   CPORT_FUZZ_SEED, CPORT_FUZZ_SECONDS, CPORT_FUZZ_ITERS, CPORT_FUZZ_THREADS
#                              passed to the guest for fuzz_test (a longer
#                              run needs a bigger CPORT_TEST_TIMEOUT too)
#   CPORT_GUEST_TIMEOUT=SECS   whole-guest bound (default 600, debug 1500, kcsan 1200)
#   CPORT_CACHE                cache directory (default /var/cache/cport)
#
# Kernel TLS: sock_ktls_test needs the "tls" ULP and gcm(aes).  The debug
# kernel builds them in (CONFIG_TLS=y in scripts/debug-kernel.config); the
# stock kernels have them as modules, which the guest cannot modprobe (no
# module tree): tls.ko and the AES-GCM crypto modules are loaded with
# --extra-ko, dependencies first, and the test runs with CPORT_KTLS=required
# so that it fails rather than skips if TLS is missing after all.
# TLS handshakes: gsk_test runs the openssl command against libcport-qso's
# GSKit calls: /usr/bin/openssl, its libraries and its configuration go
# into every guest with --extra-bin.
# The example policy module (examples/policy/, cport_remote.ko) is built
# for each kernel against its cport.ko and loaded after it (--after-ko);
# policy_module_test uses it (CPORT_POLICY_KO: where the guest has it).
# Logs: build/logs/<kernel>.log (tests + kernel log of the run),
#       <kernel>.log.console (kernel console), <kernel>.build.log.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
CACHE=${CPORT_CACHE:-/var/cache/cport}
export CPORT_CACHE=$CACHE
# A parent "make check" must not leak its flags into kernel builds.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
BUILD=build
LOGS=$BUILD/logs
mkdir -p "$LOGS"

[ -r "$CACHE/paths.mk" ] || { echo "check: run scripts/install-deps.sh first" >&2; exit 1; }
K612_IMAGE=$(sed -n 's/^K612_IMAGE=//p' "$CACHE/paths.mk")
K612_KDIR=$(sed -n 's/^K612_KDIR=//p' "$CACHE/paths.mk")
KSRC=$(sed -n 's/^KSRC=//p' "$CACHE/paths.mk")
export KSRC

now() { date +%s; }
T0=$(now)

# --- The matrix -----------------------------------------------------------------
k61=
for img in $(ls /boot/vmlinuz-6.1.*-amd64 2> /dev/null | sort -rV); do
	v=${img#/boot/vmlinuz-}
	if [ -e "/lib/modules/$v/build/Makefile" ]; then k61=$v; break; fi
done
debug_ver=$(make -s -C "$KSRC" kernelversion 2> /dev/null | cut -d. -f1,2)
DEBUG_NAME=${debug_ver:-7.2}-debug
KCSAN_NAME=${debug_ver:-7.2}-kcsan

# What the KCSAN kernel runs: the tests where threads of a port race each
# other and the socket callbacks.  Names missing from build/selftests (a
# test not written yet) are left out.
KCSAN_TESTS="stress_test concurrency_test sock_stress_test sock_cancel_test blocking_test sock_order_test fuzz_test"

wanted() {
	local k
	for k in ${CPORT_KERNELS:-6.1 6.12 debug kcsan}; do
		[ "$k" = "$1" ] && return 0
		[ "$k" = debug ] && [ "$1" = "$DEBUG_NAME" ] && return 0
		[ "$k" = kcsan ] && [ "$1" = "$KCSAN_NAME" ] && return 0
	done
	return 1
}

# The built kernels take minutes the first time: start them now and let
# them overlap the host build and the stock kernels' runs.  One after the
# other (two builds on two CPUs take as long as both in a row, and the
# debug kernel is needed first); the KCSAN build, niced, then overlaps the
# debug kernel's run without slowing its guest much.
DEBUG_PID= KCSAN_PID=
if wanted "$DEBUG_NAME"; then
	scripts/build-debug-kernel.sh --query > /dev/null ||
		echo "== $DEBUG_NAME: building the kernel in the background (~7 min, once)"
	scripts/build-debug-kernel.sh > "$LOGS/kdebug.out" 2> "$LOGS/kdebug.err" &
	DEBUG_PID=$!
fi
if wanted "$KCSAN_NAME"; then
	scripts/build-debug-kernel.sh --kcsan --query > /dev/null ||
		echo "== $KCSAN_NAME: building the kernel in the background after $DEBUG_NAME (~13 min, once)"
	(
		while [ -n "$DEBUG_PID" ] && kill -0 "$DEBUG_PID" 2> /dev/null; do
			sleep 2
		done
		exec nice -n 10 scripts/build-debug-kernel.sh --kcsan
	) > "$LOGS/kkcsan.out" 2> "$LOGS/kkcsan.err" &
	KCSAN_PID=$!
fi

PASS=0 FAIL=0 SKIP=0
fail_item() {
	echo "  not ok  $1"
	echo "  not ok  $1" >> "$LOGS/failures.txt"
	FAIL=$((FAIL + 1))
}
: > "$LOGS/failures.txt"

# --- Host side ------------------------------------------------------------------
t=$(now)
if make lib selftests examples > "$LOGS/host.build.log" 2>&1 < /dev/null; then
	echo "== host: lib, selftests, examples built ($(( $(now) - t ))s)"
else
	echo "== host: build failed ($(( $(now) - t ))s)"
	tail -n 30 "$LOGS/host.build.log" | sed 's/^/  | /'
	fail_item "host build"
fi
# Kernel coding style and static checks on the module: checkpatch --strict
# and sparse (the per-kernel builds below are W=1 with -Werror).
lint() {	# lint NAME TARGET
	if make -s "$2" > "$LOGS/lint-$1.log" 2>&1 < /dev/null &&
	   ! grep -qE '(warning|error|WARNING|ERROR|CHECK):' "$LOGS/lint-$1.log"; then
		echo "  ok      lint: $1"
		PASS=$((PASS + 1))
	else
		sed 's/^/  | /' "$LOGS/lint-$1.log" | tail -n 30
		fail_item "lint: $1"
	fi
}
lint checkpatch checkpatch
lint sparse sparse
# libcport installs (DESTDIR), builds with pkg-config alone, man pages render.
if scripts/test-install.sh > "$LOGS/test-install.log" 2>&1 < /dev/null; then
	echo "  ok      test-install"
	PASS=$((PASS + 1))
else
	sed 's/^/  | /' "$LOGS/test-install.log" | tail -n 30
	fail_item "test-install"
fi
# The Debian packages (make deb, scripts/test-deb.sh): they build and are
# lintian-clean, the libraries serve a program from a throwaway root, DKMS
# builds the packaged module for 6.1 and 6.12.  One item per check.
t=$(now)
scripts/test-deb.sh > "$LOGS/test-deb.log" 2>&1 < /dev/null
status=$? nfail=0
while IFS= read -r line; do
	case $line in
	"ok "*)		echo "  ok      deb: ${line#ok }"; PASS=$((PASS + 1));;
	"not ok "*)	fail_item "deb: ${line#not ok }"; nfail=$((nfail + 1));;
	"    "*)	echo "  |${line}";;
	esac
done < "$LOGS/test-deb.log"
if [ $status != 0 ] && [ $nfail = 0 ]; then
	sed 's/^/  | /' "$LOGS/test-deb.log" | tail -n 30
	fail_item "deb: scripts/test-deb.sh exited with $status"
fi
echo "== host: Debian packages checked ($(( $(now) - t ))s)"
# The log judge (scripts/judge.py) on hand-made logs: scripts/testdata/judge/.
if python3 scripts/judge_test.py > "$LOGS/judge-test.log" 2>&1 < /dev/null; then
	echo "  ok      judge selftest"
	PASS=$((PASS + 1))
else
	sed 's/^/  | /' "$LOGS/judge-test.log" | tail -n 30
	fail_item "judge selftest"
fi
# trace-report's text and --csv output on a hand-made trace: scripts/testdata/trace/.
if python3 scripts/trace_report_test.py > "$LOGS/trace-report-test.log" 2>&1 < /dev/null; then
	echo "  ok      trace-report selftest"
	PASS=$((PASS + 1))
else
	sed 's/^/  | /' "$LOGS/trace-report-test.log" | tail -n 30
	fail_item "trace-report selftest"
fi

# The policy simulator against closed forms and the port's rules (bench/sim/).
if python3 bench/sim/sim_test.py > "$LOGS/sim-test.log" 2>&1 < /dev/null; then
	echo "  ok      simulator selftest"
	PASS=$((PASS + 1))
else
	sed 's/^/  | /' "$LOGS/sim-test.log" | tail -n 30
	fail_item "simulator selftest"
fi

# cport's ioctl type collides with nothing in the kernel tree (docs/ioctl-number.md).
if scripts/check-ioctl-number.sh > "$LOGS/ioctl-number.log" 2>&1 < /dev/null; then
	echo "  ok      ioctl-number: $(tail -n 1 "$LOGS/ioctl-number.log")"
	PASS=$((PASS + 1))
else
	sed 's/^/  | /' "$LOGS/ioctl-number.log" | tail -n 30
	fail_item "ioctl-number"
fi

TESTS=()
for f in "$BUILD"/selftests/*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	if [ -n "${CPORT_TESTS:-}" ] && ! [[ " $CPORT_TESTS " == *" $(basename "$f") "* ]]; then
		continue
	fi
	TESTS+=("$f")
done
[ ${#TESTS[@]} -gt 0 ] || echo "== host: warning: no selftest binaries in $BUILD/selftests"

# --- Judging a run ------------------------------------------------------------------
# judge NAME STATUS TEST_TIMEOUT BIN...: print the verdicts of one guest run
# (scripts/judge.py) and add to PASS/FAIL/SKIP.
judge() {
	local out
	out=$(python3 scripts/judge.py "$@")
	echo "$out" | grep -v '^COUNTS '
	# The failures again at the end, with what they said (their lines).
	echo "$out" | awk -v k="$1" '
		/^  not ok  / { p = 1; print "  not ok  " k ": " substr($0, 11); next }
		p && /^ +\| / { print; next }
		{ p = 0 }' >> "$LOGS/failures.txt"
	# shellcheck disable=SC2046	# three numbers
	set -- $(echo "$out" | sed -n 's/^COUNTS //p')
	if [ $# -eq 3 ]; then
		PASS=$((PASS + $1)) FAIL=$((FAIL + $2)) SKIP=$((SKIP + $3))
	else
		fail_item "log parser failed"
	fi
}

# --- Modules the tests need from a stock kernel ----------------------------------
# What sock_ktls_test needs: the TLS ULP, and gcm(aes) for its keys (the
# crypto API instantiates the gcm template over ctr(aes) and ghash).
KTLS_MODULES="tls gcm ctr ghash-generic"

# module_files MODULES_DIR NAME...: the .ko files of the named modules and
# of what they depend on (modinfo), dependencies first, each once.  A
# module built into the kernel (modules.builtin) needs no file; one that
# is neither is reported on stderr and left out.
module_files() {
	local dir=$1 seen=' ' name f
	shift
	_module_files() {
		local name=${1//-/_} f dep
		case $seen in *" $name "*) return;; esac
		seen="$seen$name "
		f=$(find "$dir/kernel" -regextype posix-extended \
			-regex ".*/${name//_/[-_]}\.ko(\.xz|\.zst|\.gz)?" | head -n 1)
		if [ -z "$f" ]; then
			grep -qE "/${name//_/[-_]}\.ko\$" "$dir/modules.builtin" 2> /dev/null ||
				echo "check: no module $name under $dir" >&2
			return
		fi
		for dep in $(modinfo -F depends "$f" | tr , ' '); do
			_module_files "$dep"
		done
		echo "$f"
	}
	for name; do _module_files "$name"; done
}

# ktls_setup KDIR MODULES_DIR: set KOS (--extra-ko arguments) and KTLS
# (CPORT_KTLS for the guest) from the kernel's .config.
ktls_setup() {
	local f
	KOS=() KTLS=
	case $(sed -n 's/^CONFIG_TLS=//p' "$1/.config" 2> /dev/null) in
	y) KTLS=required;;
	m)
		KTLS=required
		# shellcheck disable=SC2086	# a list of names
		for f in $(module_files "$2" $KTLS_MODULES); do
			KOS+=(--extra-ko "$f")
		done;;
	esac
}

# boot_and_test NAME MODDIR IMAGE GUEST_TIMEOUT TEST_TIMEOUT: runs RUN_TESTS
boot_and_test() {
	local fuzz=() v
	for v in CPORT_FUZZ_SEED CPORT_FUZZ_SECONDS CPORT_FUZZ_ITERS CPORT_FUZZ_THREADS; do
		[ -z "${!v:-}" ] || fuzz+=(--env "$v=${!v}")
	done
	scripts/run-guest.sh --kernel "$3" --module "$2/cport.ko" \
		--log "$LOGS/$1.log" --timeout "$4" \
		--test-timeout "$5" --env "CPORT_KERNEL=$1" \
		${KTLS:+--env "CPORT_KTLS=$KTLS"} "${KOS[@]}" "${fuzz[@]}" \
		--extra-bin /usr/bin/openssl --extra-bin /usr/lib/ssl/openssl.cnf \
		--after-ko "$BUILD/policy-$1/cport_remote.ko" \
		--env CPORT_POLICY_KO=/lib/modules/cport_remote.ko \
		"${RUN_TESTS[@]}" 2> "$LOGS/$1.guest.err"
}

# run_kernel NAME IMAGE KDIR GUEST_TIMEOUT TEST_TIMEOUT [MODULES_DIR]: the
# test binaries are RUN_TESTS (default: all of TESTS).
RUN_TESTS=("${TESTS[@]}")
run_kernel() {
	local name=$1 image=$2 kdir=$3 gtimeout=$4 ttimeout=$5 t tb status
	local mod=$BUILD/mod-$name
	ktls_setup "$kdir" "${6:-}"
	gtimeout=${CPORT_GUEST_TIMEOUT:-$gtimeout}
	ttimeout=${CPORT_TEST_TIMEOUT:-$ttimeout}
	t=$(now)
	if ! make module KDIR="$kdir" MODDIR="$mod" > "$LOGS/$name.build.log" 2>&1 < /dev/null; then
		echo "== $name: module build failed ($(( $(now) - t ))s)"
		grep -E 'error|Error' "$LOGS/$name.build.log" | head -n 20 | sed 's/^/  | /'
		fail_item "$name: module build"
		return
	fi
	# The example policy module (examples/policy/) against this cport.ko.
	if ! make policy-example KDIR="$kdir" MODDIR="$mod" \
		POLICY_DIR="$BUILD/policy-$name" >> "$LOGS/$name.build.log" 2>&1 < /dev/null; then
		echo "== $name: policy module build failed ($(( $(now) - t ))s)"
		grep -E 'error|Error' "$LOGS/$name.build.log" | head -n 20 | sed 's/^/  | /'
		fail_item "$name: policy module build"
		return
	fi
	tb=$(( $(now) - t ))
	t=$(now)
	boot_and_test "$name" "$mod" "$image" "$gtimeout" "$ttimeout"
	status=$?
	# Loading and unloading cport.ko flip the preempt-notifier static key.
	# Under TCG, live code patching occasionally leaves a stale int3 that
	# another vCPU executes (docs/concurrency.md; it happens without cport
	# too).  The boot's own flips do it too, before any module is loaded
	# (sched_clock_cpu() at 2.7 s, 6.12).  Only that, while the module was
	# loading (OE+) or unloading (OE-) or before any module was, earns one
	# more boot, said aloud.
	if [ $status != 0 ] && grep -q '(tcg)' "$LOGS/$name.guest.err" &&
	   grep -q 'Oops: int3' "$LOGS/$name.log.console" &&
	   grep -qE 'Modules linked in:( cport\(OE[+-]\)|[[:space:]]*$)' "$LOGS/$name.log.console"; then
		echo "== $name: int3 oops while cport.ko was loading or unloading, or before it (TCG text patching); booting again"
		grep -m1 -A3 'Oops: int3' "$LOGS/$name.log.console" | sed 's/^/  | /'
		for f in log log.console guest.err; do
			mv "$LOGS/$name.$f" "$LOGS/$name.try1.$f"
		done
		boot_and_test "$name" "$mod" "$image" "$gtimeout" "$ttimeout"
		status=$?
	fi
	echo "== $name: module build ${tb}s, boot+test $(( $(now) - t ))s"
	[ $status = 0 ] || sed 's/^/  | /' "$LOGS/$name.guest.err"
	judge "$name" "$status" "$ttimeout" "${RUN_TESTS[@]}"
}

if wanted 6.1; then
	if [ -n "$k61" ]; then
		run_kernel 6.1 "/boot/vmlinuz-$k61" "/lib/modules/$k61/build" 600 300 \
			"/lib/modules/$k61"
	else
		echo "== 6.1: no /boot/vmlinuz-6.1.*-amd64 with headers"
		fail_item "6.1: kernel missing"
	fi
fi
if wanted 6.12; then
	run_kernel 6.12 "$K612_IMAGE" "$K612_KDIR" 600 300 \
		"${K612_IMAGE%/boot/vmlinuz-*}/lib/modules/${K612_IMAGE##*/vmlinuz-}"
fi
if [ -n "$DEBUG_PID" ]; then
	t=$(now)
	if wait "$DEBUG_PID"; then
		kdebug=$(tail -n 1 "$LOGS/kdebug.out")
		waited=$(( $(now) - t ))
		[ $waited -lt 2 ] || echo "== $DEBUG_NAME: waited ${waited}s for the kernel build"
		run_kernel "$DEBUG_NAME" "$kdebug/arch/x86/boot/bzImage" "$kdebug" 1500 900
	else
		echo "== $DEBUG_NAME: kernel build failed"
		sed 's/^/  | /' "$LOGS/kdebug.err" | tail -n 30
		fail_item "$DEBUG_NAME: kernel build"
	fi
fi
if [ -n "$KCSAN_PID" ]; then
	t=$(now)
	if wait "$KCSAN_PID"; then
		kkcsan=$(tail -n 1 "$LOGS/kkcsan.out")
		waited=$(( $(now) - t ))
		[ $waited -lt 2 ] || echo "== $KCSAN_NAME: waited ${waited}s for the kernel build"
		RUN_TESTS=()
		for f in "${TESTS[@]}"; do
			[[ " $KCSAN_TESTS " == *" $(basename "$f") "* ]] && RUN_TESTS+=("$f")
		done
		if [ ${#RUN_TESTS[@]} -gt 0 ]; then
			# Measured: the five tests take 2-5 minutes under TCG
			# (each at most ~80 s on a loaded host).
			run_kernel "$KCSAN_NAME" "$kkcsan/arch/x86/boot/bzImage" "$kkcsan" 1200 600
			# A clean run means something only if KCSAN was watching.
			kstats=$(sed -n '/^=== kcsan$/,/^=== kcsan done/p' "$LOGS/$KCSAN_NAME.log" | tr -d '\r')
			if echo "$kstats" | grep -qx 'enabled: 1'; then
				echo "  ok      $KCSAN_NAME: KCSAN on:" \
					"$(echo "$kstats" | sed -n 's/^setup_watchpoints: //p') watchpoints," \
					"$(echo "$kstats" | sed -n 's/^data_races: //p') races seen"
				PASS=$((PASS + 1))
			else
				fail_item "$KCSAN_NAME: KCSAN was not on (no counters in the log)"
			fi
		else
			echo "== $KCSAN_NAME: none of $KCSAN_TESTS to run"
		fi
	else
		echo "== $KCSAN_NAME: kernel build failed"
		sed 's/^/  | /' "$LOGS/kkcsan.err" | tail -n 30
		fail_item "$KCSAN_NAME: kernel build"
	fi
fi

if [ -s "$LOGS/failures.txt" ]; then
	echo "== failures"
	head -n 120 "$LOGS/failures.txt"
fi
echo "== total $(( $(now) - T0 ))s"
echo "$SKIP skipped"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
