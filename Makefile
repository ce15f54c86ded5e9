# SPDX-License-Identifier: GPL-2.0
#
# cport top-level Makefile.
#
#   make                  module (default kernel), libcport, selftests, examples
#   make module KDIR=...  the module for any prepared kernel tree
#   make policy-example   the example policy module (examples/policy/) for
#                         the same kernel, against that cport.ko
#   make check            install dependencies, run the selftests on every
#                         kernel of the matrix under QEMU
#   make demo             boot the default kernel: the echo server under load,
#                         then the IBM i, Windows and libevent examples
#   make bench-concurrency  the concurrency value: blocking handlers, cost
#   make bench [QUICK=1]  cport against epoll and io_uring (BENCH_KERNEL=6.12)
#   make lint             checkpatch --strict and sparse on the module
#   make deb              Debian packages in build/deb/ (debian/)

CACHE	?= /var/cache/cport
-include $(CACHE)/paths.mk

BUILD	?= build
KDIR	?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
		       $(wildcard /lib/modules/*-amd64/build))
MODDIR	?= $(BUILD)/mod
C	?= 0

CC	?= gcc
WFLAGS	:= -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS	?= -O2 -g
# common/: header-only helpers of the selftests, examples and benchmarks
# (the port's fdinfo, a latency histogram), not part of libcport's API.
CPPFLAGS += -Iuapi -Ilibcport -Icommon
COMMON_H	:= $(wildcard common/*.h)

# libcport, and the two compatibility layers as libraries of their own on
# top of it (a program that does not use them does not get GetLastError,
# CloseHandle or closesocket): each with its sources, its symbol map
# libcport/NAME.map, its soname NAME.so.1 and libcport/NAME.pc.in.
LIB_VERSION	:= 1.0.0
LIBS		:= libcport libcport-win32 libcport-qso
libcport_SRCS	:= libcport/cport.c libcport/pool.c
libcport-win32_SRCS := libcport/win32.c libcport/fdtab.c
libcport-qso_SRCS := libcport/qso.c libcport/fdtab.c libcport/gsk.c \
		     libcport/gsk_port.c libcport/gsk_ktls.c
# The GSKit TLS calls (gsk*.c): the system's OpenSSL (libssl-dev).
libcport-qso_LIBS := -lssl -lcrypto
SSL_LIBS	:= -lssl -lcrypto
LIB_HEADERS	:= libcport/cport.h libcport/cport_pool.h libcport/cport_win32.h \
		   libcport/qsoasync.h libcport/gskssl.h
LIB_A		:= $(BUILD)/libcport/libcport.a
LIB_SO		:= $(BUILD)/libcport/libcport.so.$(LIB_VERSION)
WIN32_A		:= $(BUILD)/libcport/libcport-win32.a
QSO_A		:= $(BUILD)/libcport/libcport-qso.a
LIB_ALL_A	:= $(LIBS:%=$(BUILD)/libcport/%.a)
LIB_ALL_SO	:= $(LIBS:%=$(BUILD)/libcport/%.so.$(LIB_VERSION))

KSFT_DIR	:= $(KSRC)/tools/testing/selftests
TEST_SRCS	:= $(wildcard selftests/*.c)
TESTS		:= $(TEST_SRCS:selftests/%.c=$(BUILD)/selftests/%)
EXAMPLE_SRCS	:= $(wildcard examples/*.c)
EXAMPLES	:= $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)
BENCH_SRCS	:= $(wildcard bench/*.c)
BENCHES		:= $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all module policy-example lib selftests examples tools benches check demo bench-concurrency bench sim \
	lint checkpatch sparse clean deb

all: module policy-example lib selftests examples benches

# Out-of-tree builds write objects next to the sources, so each kernel gets
# its own copy of the module sources under $(MODDIR).
module:
	@test -n "$(KDIR)" || { echo "no kernel tree: pass KDIR=" >&2; exit 1; }
	@mkdir -p $(MODDIR)
	@cp -a Kbuild kmod uapi $(MODDIR)/
	$(MAKE) -C $(KDIR) M=$(abspath $(MODDIR)) W=1 C=$(C) modules

# The example policy module, like the module: built in a copy
# ($(POLICY_DIR)), for KDIR, with cport.ko's Module.symvers from MODDIR.
POLICY_DIR ?= $(BUILD)/policy
policy-example: module
	@mkdir -p $(POLICY_DIR)
	@cp -a examples/policy/. $(POLICY_DIR)/
	$(MAKE) -C $(POLICY_DIR) KDIR=$(KDIR) CPORT=$(CURDIR) \
		CPORT_SYMVERS=$(abspath $(MODDIR))/Module.symvers

lib: $(LIB_ALL_A) $(LIB_ALL_SO)

$(BUILD)/libcport/%.o: libcport/%.c $(wildcard libcport/*.h) uapi/linux/cport.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -c -o $@ $<

$(BUILD)/libcport/%.pic.o: libcport/%.c $(wildcard libcport/*.h) uapi/linux/cport.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -fPIC -c -o $@ $<

# lib_rules NAME: NAME.a and NAME.so.$(LIB_VERSION) with its two links.
# The archive is made afresh: a member whose source left NAME_SRCS must
# not stay in it.  -z defs: every symbol a library uses is resolved by the
# libraries it names, so a layer that forgets -lcport fails here.
define lib_rules
$(BUILD)/libcport/$(1).a: $$($(1)_SRCS:%.c=$$(BUILD)/%.o)
	rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/libcport/$(1).so.$$(LIB_VERSION): $$($(1)_SRCS:%.c=$$(BUILD)/%.pic.o) \
		libcport/$(1).map $(if $(filter-out libcport,$(1)),$$(LIB_SO))
	$$(CC) $$(LDFLAGS) -shared -Wl,-soname,$(1).so.1 -Wl,-z,defs \
		-Wl,--version-script=libcport/$(1).map -o $$@ \
		$$(filter %.o,$$^) $(if $(filter-out libcport,$(1)),-L$$(BUILD)/libcport -lcport) \
		$$($(1)_LIBS)
	ln -sf $(1).so.$$(LIB_VERSION) $$(BUILD)/libcport/$(1).so.1
	ln -sf $(1).so.1 $$(BUILD)/libcport/$(1).so
endef
$(foreach l,$(LIBS),$(eval $(call lib_rules,$(l))))

# Tests and examples run in a busybox initramfs: link them statically.
selftests: $(TESTS)

$(BUILD)/selftests/%: selftests/%.c $(wildcard selftests/*.h) $(COMMON_H) $(LIB_A)
	@test -f $(KSFT_DIR)/kselftest_harness.h || \
		{ echo "kselftest_harness.h not found: run scripts/install-deps.sh" >&2; exit 1; }
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I$(KSFT_DIR) $(CFLAGS) -Wall -Werror -static -o $@ $< \
		$(LAYER_A) $(LIB_A) $(TEST_LIBS) -lpthread

examples: $(EXAMPLES)

$(BUILD)/examples/%: examples/%.c $(COMMON_H) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -static -o $@ $< \
		$(LAYER_A) $(LIB_A) -lpthread

# The compatibility layers' tests and examples link their layer's static
# library in front of libcport.a, as pkg-config --static lists them.
WIN32_USERS	:= $(BUILD)/selftests/win32_test $(BUILD)/examples/win_echo \
		   $(BUILD)/selftests/win32_calls_test \
		   $(BUILD)/selftests/win32_tutorial_test \
		   $(BUILD)/selftests/win32_pool_test \
		   $(BUILD)/examples/win_tutorial_echo \
		   $(BUILD)/examples/win_proxy \
		   $(BUILD)/selftests/win32_proxy_test \
		   $(BUILD)/selftests/win32_file_test
QSO_USERS	:= $(BUILD)/selftests/qso_test $(BUILD)/examples/qso_echo
$(WIN32_USERS): LAYER_A := $(WIN32_A)
$(WIN32_USERS): $(WIN32_A)
$(QSO_USERS): LAYER_A := $(QSO_A)
$(QSO_USERS): $(QSO_A)
# The GSKit test: libcport-qso.a and the system's static OpenSSL, whose
# getaddrinfo/dlopen the test never calls (the linker's notes about them
# in a static link are expected).
$(BUILD)/selftests/gsk_test: LAYER_A := $(QSO_A)
$(BUILD)/selftests/gsk_test: TEST_LIBS := $(SSL_LIBS)
$(BUILD)/selftests/gsk_test: $(QSO_A)
# The tutorial's test runs the example's own source.
$(BUILD)/selftests/win32_tutorial_test: examples/win_tutorial_echo.c
$(BUILD)/selftests/win32_proxy_test: examples/win_proxy.c

# The libevent example and test, with Debian's libevent_core.a (libevent-dev).
LIBEVENT	:= -levent_core

$(BUILD)/selftests/libevent_test: selftests/libevent_test.c $(wildcard selftests/*.h) $(COMMON_H) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I$(KSFT_DIR) $(CFLAGS) -Wall -Werror -static -o $@ $< \
		$(LIB_A) $(LIBEVENT) -lpthread

$(BUILD)/examples/libevent_demo: examples/libevent_demo.c $(COMMON_H) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -static -o $@ $< $(LIB_A) $(LIBEVENT) -lpthread

# The examples a package installs (cport-tools), linked against the shared
# libraries instead of statically: build/tools/.
TOOLS		:= echo_server echo_client lifo_demo win_echo qso_echo
tools: $(TOOLS:%=$(BUILD)/tools/%)

$(BUILD)/tools/%: examples/%.c $(COMMON_H) $(LIB_ALL_SO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(BUILD)/libcport $(TOOL_LIBS) -lcport -lpthread
$(BUILD)/tools/win_echo: TOOL_LIBS := -lcport-win32
$(BUILD)/tools/qso_echo: TOOL_LIBS := -lcport-qso

benches: $(BENCHES)

$(BUILD)/bench/%: bench/%.c $(COMMON_H) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -static -o $@ $< $(LIB_A) -lpthread

check:
	scripts/install-deps.sh
	scripts/check.sh

# Debian packages (debian/): cport-dkms, libcport1 and the layers'
# libraries, libcport-dev, cport-tools, in build/deb/, checked by lintian.
deb:
	scripts/install-deps.sh --deb
	scripts/build-deb.sh

# The echo server under load, then the IBM i, Windows and libevent examples.
DEMOS	?= echo_demo qso_echo win_echo libevent_demo
demo:
	scripts/install-deps.sh
	set -e; for d in $(DEMOS); do scripts/demo.sh $$d; done

# The concurrency value: blocking handlers (limit on/off, epoll), notifier cost.
bench-concurrency: lib
	scripts/install-deps.sh
	scripts/bench-concurrency.sh

# cport against epoll and io_uring: bench/suite/; tables in bench/results/,
# plots and traces (build output) in build/bench/results/.
bench:
	scripts/install-deps.sh
	scripts/bench.sh $(if $(QUICK),quick,full)

# The release-policy simulator (bench/sim/): checked against bench/results,
# then its predictions at 16, 64 and 256 cores; tables and plots in build/sim/.
sim:
	python3 bench/sim/validate.py
	python3 bench/sim/predict.py

# compat.h is the one place where kernel versions are tested.
CHECKPATCH = $(KSRC)/scripts/checkpatch.pl --strict --no-tree --terse \
	     --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG
checkpatch:
	$(CHECKPATCH) -f $(filter-out kmod/compat.h,$(wildcard kmod/*.[ch])) \
		uapi/linux/cport.h examples/policy/*.c
	$(CHECKPATCH) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON \
		-f kmod/compat.h

sparse:
	$(MAKE) module MODDIR=$(BUILD)/mod-sparse C=2

lint: checkpatch sparse

clean:
	rm -rf $(BUILD)

# --- Install ------------------------------------------------------------------
#   make install [PREFIX=/usr/local] [DESTDIR=stage]   libcport and the two
#                         layer libraries, headers, .pc files, man pages,
#                         udev rule (UDEVRULESDIR= to skip it), and
#                         scripts/trace-report as cport-trace-report with its
#                         page (debian/man/, which cport-tools ships too)
#   make uninstall        the same variables: removes what install put there
#   make dkms-install     the module for every kernel, through DKMS (root);
#                         KVER=<version> builds for that kernel, not the running one
#   make dkms-uninstall
#   make test-install     stage an install, build against it with pkg-config
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig
UDEVRULESDIR	?= /lib/udev/rules.d
MODULESLOADDIR	?= /usr/lib/modules-load.d
LIB_PCS		:= $(LIBS:%=$(BUILD)/libcport/%.pc)
MAN_PAGES	:= $(wildcard man/man3/*.3 man/man7/*.7)
DKMS_VERSION	:= $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC	:= /usr/src/cport-$(DKMS_VERSION)

.PHONY: install uninstall pkgconfig dkms-install dkms-uninstall test-install

# Regenerated every time: PREFIX and LIBDIR may differ from the last run.
# libdir and includedir stay relative to ${prefix} when they are under it.
pkgconfig:
	@mkdir -p $(BUILD)/libcport
	set -e; for l in $(LIBS); do \
		sed -e 's|@prefix@|$(PREFIX)|' \
		    -e 's|@libdir@|$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))|' \
		    -e 's|@includedir@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
		    -e 's|@version@|$(LIB_VERSION)|' libcport/$$l.pc.in \
		    > $(BUILD)/libcport/$$l.pc; \
	done

# <cport.h> includes <linux/cport.h>: a copy of the UAPI goes with it, so
# programs build without kernel headers (linux-libc-dev is enough).
install: lib pkgconfig
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/linux $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(LIB_ALL_SO) $(DESTDIR)$(LIBDIR)/
	set -e; for l in $(LIBS); do \
		ln -sf $$l.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.1; \
		ln -sf $$l.so.1 $(DESTDIR)$(LIBDIR)/$$l.so; \
	done
	install -m 0644 $(LIB_ALL_A) $(DESTDIR)$(LIBDIR)/
	install -m 0644 $(LIB_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 uapi/linux/cport.h $(DESTDIR)$(INCLUDEDIR)/linux/
	install -m 0644 $(LIB_PCS) $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 0644 $(filter %.3,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 $(filter %.7,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man7/
	$(if $(UDEVRULESDIR),install -D -m 0644 packaging/60-cport.rules \
		$(DESTDIR)$(UDEVRULESDIR)/60-cport.rules)
	install -D -m 0755 scripts/trace-report $(DESTDIR)$(BINDIR)/cport-trace-report
	install -D -m 0644 debian/man/cport-trace-report.1 \
		$(DESTDIR)$(MANDIR)/man1/cport-trace-report.1
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall:
	rm -f $(foreach l,$(LIBS),$(addprefix $(DESTDIR)$(LIBDIR)/$(l),\
		.so.$(LIB_VERSION) .so.1 .so .a)) \
	      $(LIB_HEADERS:libcport/%=$(DESTDIR)$(INCLUDEDIR)/%) \
	      $(DESTDIR)$(INCLUDEDIR)/linux/cport.h \
	      $(LIBS:%=$(DESTDIR)$(PKGCONFIGDIR)/%.pc) \
	      $(MAN_PAGES:man/%=$(DESTDIR)$(MANDIR)/%) \
	      $(DESTDIR)$(BINDIR)/cport-trace-report \
	      $(DESTDIR)$(MANDIR)/man1/cport-trace-report.1
	$(if $(UDEVRULESDIR),rm -f $(DESTDIR)$(UDEVRULESDIR)/60-cport.rules)
	-rmdir --ignore-fail-on-non-empty $(DESTDIR)$(INCLUDEDIR)/linux
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# DKMS builds the module from a copy of Kbuild, kmod/ and uapi/ (dkms.conf).
dkms-install:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)
	cp -a Kbuild kmod uapi dkms.conf COPYING LICENSES $(DKMS_SRC)/
	dkms add -m cport -v $(DKMS_VERSION)
	dkms build -m cport -v $(DKMS_VERSION) $(if $(KVER),-k $(KVER))
	dkms install -m cport -v $(DKMS_VERSION) $(if $(KVER),-k $(KVER))
	install -D -m 0644 packaging/cport.conf $(MODULESLOADDIR)/cport.conf

dkms-uninstall:
	-dkms remove -m cport -v $(DKMS_VERSION) --all
	rm -rf $(DKMS_SRC) $(MODULESLOADDIR)/cport.conf

test-install:
	scripts/test-install.sh
