#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run selftests built with AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer in a guest of the 6.1 kernel, by hand (make check links the
# tests statically, which the sanitizers cannot do):
#
#   scripts/asan-guest.sh [TEST...]     default: the thread-pool tests
#
# Each test is compiled with libcport's sources (and the Win32 layer's for
# win32_*) into build/asan/, dynamically; run-guest.sh copies it and its
# libraries into the guest.  The kselftest harness ends each test's child
# with _exit(), which skips LeakSanitizer's exit check: build/asan/lsan_exit.h
# makes that _exit() run the leak check first, so a leak fails the test.
# Needs the module built for 6.1 (make check with CPORT_KERNELS=6.1 once).
# The guest's output is in build/logs/asan-6.1.log; exit status 1 if a
# test failed or a sanitizer reported anything.
set -euo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=$ROOT/build/asan
CACHE=${CACHE:-/var/cache/cport}
KSRC=$(sed -n 's/^KSRC=//p' "$CACHE/paths.mk")
KSFT=$KSRC/tools/testing/selftests
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(pool_test pool_echo_test win32_pool_test)
# shellcheck disable=SC2012	# the kernels' names are plain
k61=$(ls /boot/vmlinuz-6.1.*-amd64 2> /dev/null | sort -rV | head -n 1)
[ -n "$k61" ] || { echo "asan-guest: no /boot/vmlinuz-6.1.*-amd64" >&2; exit 1; }
[ -f build/mod-6.1/cport.ko ] ||
	{ echo "asan-guest: no build/mod-6.1/cport.ko: run make check for 6.1 first" >&2; exit 1; }

mkdir -p "$OUT" build/logs
cat > "$OUT/lsan_exit.h" <<'EOF'
#define _GNU_SOURCE
#include <unistd.h>
#include <sanitizer/lsan_interface.h>
static inline void lsan_exit_(int c) { __lsan_do_leak_check(); _exit(c); }
#define _exit lsan_exit_
EOF
{
	echo '#!/bin/sh'
	echo 'export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1'
	echo 'export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1'
	echo "cd $OUT"
	for t in "${TESTS[@]}"; do
		echo "echo '=== asan $t'; ./$t; echo \"=== asan exit $t \$?\""
	done
} > "$OUT/run.sh"
chmod +x "$OUT/run.sh"

args=(--extra-bin "$OUT/run.sh")
for t in "${TESTS[@]}"; do
	srcs=(libcport/cport.c libcport/pool.c)
	case $t in win32_*) srcs+=(libcport/win32.c libcport/fdtab.c);; esac
	gcc -fsanitize=address,undefined -fno-omit-frame-pointer -g -O1 \
		-Iuapi -Ilibcport -Icommon -I"$KSFT" -include "$OUT/lsan_exit.h" \
		-o "$OUT/$t" "selftests/$t.c" "${srcs[@]}" -lpthread
	args+=(--extra-bin "$OUT/$t")
done

scripts/run-guest.sh --kernel "$k61" --module build/mod-6.1/cport.ko \
	--log build/logs/asan-6.1.log --timeout 900 "${args[@]}" --run "$OUT/run.sh"
grep -E '^=== asan|^(not )?ok |Sanitizer|runtime error' build/logs/asan-6.1.log
! grep -qE '^not ok |Sanitizer|runtime error|^=== asan exit [^ ]+ [1-9]' build/logs/asan-6.1.log
