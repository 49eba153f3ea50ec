# asyncdev: kernel module, C++ library, tools and tests.
#
#   make             build the module and everything in userspace
#   make demo        build, boot the QEMU guest, show the device working
#   make check       every test: lint, host tests (ASan/UBSan, valgrind,
#                    TSan), libFuzzer runs, the guest suite under QEMU on
#                    each supported kernel installed (6.1, 6.12)
#   make check-debug the guest suite on a debug kernel (KASAN, lockdep,
#                    kmemleak, UBSAN, failslab), built once and cached
#   make qemu-shell  interactive guest with the module loaded
#   make bench       performance against pipe and null_blk (build/bench/)
#   make deps        install the Debian packages the project needs (root)
#
# The kernel is the newest one with both /boot/vmlinuz-<ver> and headers
# installed (never `uname -r`); override with KVER= or KDIR=. make check,
# check-build, lint and check-guest run on every supported series installed
# (the newest 6.1 and 6.12: tests/qemu/kver.sh --matrix); KVERS="..." selects,
# KVER= or KDIR= means that one kernel.
# Kbuild (not this file) is what `make -C $(KDIR) M=$(PWD) modules` reads.

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD ?= $(TOP)/build
# A KDIR= of its own names its kernel.
ifdef KDIR
KVER ?= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
endif
KVER ?= $(shell $(TOP)/tests/qemu/kver.sh)
KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build /usr/src/linux-headers-$(KVER)))
# The kernel matrix of make check: KVERS= as given; else the one kernel of a
# KVER= or KDIR= from the command line or the environment; else the newest
# installed kernel of each supported series.
ifneq ($(filter command environment,$(firstword $(origin KVER)) $(firstword $(origin KDIR))),)
KVERS ?= $(KVER)
else
KVERS ?= $(shell $(TOP)/tests/qemu/kver.sh --matrix)
endif
# Evaluate each once.
KVER := $(KVER)
KDIR := $(KDIR)
KVERS := $(KVERS)
# KVER=KDIR pairs for the recipes' loops.
kdir_of = $(if $(filter $(1),$(KVER)),$(KDIR),$(firstword $(wildcard /lib/modules/$(1)/build /usr/src/linux-headers-$(1))))
KPAIRS = $(foreach k,$(KVERS),$(k)=$(call kdir_of,$(k)))
# Each kernel of the matrix builds its module in its own copy of Kbuild and
# driver/ (Kbuild writes its objects next to the sources: two kernels
# building in driver/ would overwrite each other's). tar keeps the sources'
# mtimes, so a refreshed copy rebuilds only what changed.
KMOD_DIR = $(BUILD)/kernels
copy_module = mkdir -p $(1) && tar -C $(TOP) -cf - --exclude='*.o' --exclude='*.ko' \
	--exclude='*.mod' --exclude='*.mod.c' --exclude='.*.cmd' --exclude=modules.order \
	--exclude=Module.symvers Kbuild driver | tar -C $(1) -xf -
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
# make check-debug: where the debug kernel is built and cached (CI points
# ASYNCDEV_DEBUG_KERNEL_DIR at a directory that outlives the clone), and
# where the module copy and the guest logs go.
DEBUG_KERNEL_DIR ?= $(or $(ASYNCDEV_DEBUG_KERNEL_DIR),$(BUILD)/debug-kernel)
DEBUG_BUILD ?= $(BUILD)/debug
DEBUG_GUEST_TIMEOUT ?= 3000
DEBUG_TEST_TIMEOUT ?= 900
# Seconds the debug guest may stay silent after launch (KASAN and lockdep
# set up before its first console line).
DEBUG_SILENCE_TIMEOUT ?= 180
# Environment of the debug guest's tests: they may relax timing on this
# kernel (KASAN, lockdep and kmemleak under TCG are several times slower),
# and the stress test moves 2*10^5 records instead of 10^6 (9 min less).
DEBUG_GUEST_ENV ?= ASYNCDEV_DEBUG_KERNEL=1 ADEV_STRESS_RECORDS=200000

# Both supported kernel series (bookworm's 6.1 and 6.12); dkms, dh-dkms,
# debhelper, dpkg-dev and fakeroot for make deb and check-packages; help2man
# for the tools' man pages (generated from --help at build time);
# libtracefs-dev and libtraceevent-dev for asyncdev-trace, trace-cmd and
# linux-perf for the guest's tracing examples (docs/tracing.md).
DEB_PACKAGES := build-essential linux-image-amd64 linux-headers-amd64 \
	linux-source-6.1 linux-image-6.12-amd64 linux-headers-6.12-amd64 \
	linux-source-6.12 qemu-system-x86 busybox-static cpio kmod \
	libaio-dev liburing-dev libcmocka-dev cmake pkg-config fio valgrind \
	sparse gnuplot-nox bc flex bison libelf-dev libssl-dev \
	trinity clang libclang-rt-14-dev \
	python3 xz-utils dkms dh-dkms debhelper dpkg-dev fakeroot help2man \
	libtracefs-dev libtraceevent-dev trace-cmd linux-perf

.PHONY: all module user deps ensure-deps check check-host check-guest \
	check-build check-debug lint demo bench qemu-shell install clean help \
	kernel-modules deb install-module uninstall-module check-packages

all: module user

help:
	@sed -n '2,/^$$/{/^#/p}' Makefile | sed 's/^# \{0,1\}//'

module:
	@test -n "$(KDIR)" || { echo "No kernel headers with a matching /boot/vmlinuz found: run 'make deps' (or set KDIR=)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 modules

user:
	cmake -S $(TOP) -B $(BUILD)/user -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) -DASYNCDEV_SANITIZE=OFF \
		-DASYNCDEV_GUEST_TESTS=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/user -j$(JOBS)

install: user
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)/user --prefix $(PREFIX)

# Install what is missing; as non-root, say the exact command and stop.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ] && [ -n "$$($(TOP)/tests/qemu/kver.sh)" ]; then \
		echo "deps: all installed"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "deps: missing Debian packages:$$(echo $$missing | sed 's/^/ /')"; \
		echo "deps: as root, run: apt-get update && apt-get install -y --no-install-recommends $(DEB_PACKAGES)"; \
		exit 1; fi; \
	echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES)

# demo and check start here: a fresh machine gets its packages first.
ensure-deps:
	@$(MAKE) --no-print-directory deps

# The module for every kernel of the matrix, each in $(KMOD_DIR)/<ver>/module,
# W=1 with warnings as errors, so a warning fails the check.
kernel-modules:
	@test -n "$(strip $(KVERS))" || { echo "No kernel with headers and a matching /boot/vmlinuz found: make deps"; exit 1; }
	@set -e; for p in $(KPAIRS); do k=$${p%%=*} kd=$${p#*=}; \
	  test -n "$$kd" || { echo "No headers for kernel $$k: make deps (or set KVERS=)"; exit 1; }; \
	  mod=$(KMOD_DIR)/$$k/module; $(call copy_module,$$mod); \
	  echo "module: W=1 -Werror against $$k in $$mod"; \
	  $(MAKE) -C $$kd M=$$mod W=1 KCFLAGS=-Werror modules; done

check-build: kernel-modules
	$(MAKE) user

# checkpatch once, sparse against every kernel of the matrix.
lint: kernel-modules
	$(TOP)/tests/lint.sh $(foreach p,$(KPAIRS),$(lastword $(subst =, ,$(p)))=$(KMOD_DIR)/$(firstword $(subst =, ,$(p)))/module)

check-host:
	cmake -S $(TOP) -B $(BUILD)/asan -DASYNCDEV_SANITIZE=ON \
		-DASYNCDEV_GUEST_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(BUILD)/asan -j$(JOBS)
	ctest --test-dir $(BUILD)/asan --output-on-failure -j$(JOBS)
	ctest --test-dir $(BUILD)/user --output-on-failure -L valgrind
	cmake -S $(TOP) -B $(BUILD)/tsan -DASYNCDEV_SANITIZE=thread \
		-DASYNCDEV_GUEST_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(BUILD)/tsan -j$(JOBS)
	ctest --test-dir $(BUILD)/tsan --output-on-failure -L host -j$(JOBS)
	CC=clang CXX=clang++ cmake -S $(TOP) -B $(BUILD)/fuzz -DASYNCDEV_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD)/fuzz -j$(JOBS)
	ctest --test-dir $(BUILD)/fuzz --output-on-failure -L fuzz -V -j$(JOBS)

# The guest suite on every kernel of the matrix, logs in build/qemu/<ver>/;
# every kernel runs even when one fails, then one summary line per kernel.
check-guest: kernel-modules
	@rc=0; for k in $(KVERS); do \
	  KVER=$$k MODULE=$(KMOD_DIR)/$$k/module/driver/asyncdev.ko GUEST_OUT=$(BUILD)/qemu/$$k \
		$(TOP)/tests/qemu/run.sh check || rc=1; done; \
	echo; echo "Guest suites:"; \
	for k in $(KVERS); do cat $(BUILD)/qemu/$$k/check.summary 2>/dev/null || \
	  echo "Guest $$k: no result, FAILED"; done; \
	exit $$rc

check: ensure-deps
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory check-build && \
	$(MAKE) --no-print-directory lint && \
	$(MAKE) --no-print-directory check-host && \
	$(MAKE) --no-print-directory check-guest; rc=$$?; \
	echo "make check: $$([ $$rc = 0 ] && echo PASSED || echo FAILED) in $$(( $$(date +%s) - start ))s"; \
	exit $$rc

# The debug-kernel tier: the whole guest suite on a kernel with KASAN,
# lockdep, kmemleak, UBSAN, debug objects and failslab (debug-kernel.sh
# builds it once, about 10 minutes, then reuses it). The module is built
# against it in a copy of Kbuild and driver/ (Kbuild writes its objects next
# to the sources). Every test must run: a skip is a failure here.
check-debug: ensure-deps
	@start=$$(date +%s); \
	( set -euo pipefail; \
	  eval "$$(ASYNCDEV_DEBUG_KERNEL_DIR=$(DEBUG_KERNEL_DIR) $(TOP)/tests/qemu/debug-kernel.sh)"; \
	  mod=$(DEBUG_BUILD)/module; rm -rf "$$mod"; mkdir -p "$$mod"; \
	  tar -C $(TOP) -cf - --exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude=modules.order \
		--exclude=Module.symvers Kbuild driver | tar -C "$$mod" -xf -; \
	  echo "check-debug: module against $$DEBUG_KDIR"; \
	  $(MAKE) -C "$$DEBUG_KDIR" M="$$mod" -j$(JOBS) modules; \
	  $(MAKE) --no-print-directory user; \
	  ADEV_NOSKIP=1 BUILD=$(DEBUG_BUILD) KERNEL="$$DEBUG_KERNEL" GUEST_OUT=$(DEBUG_BUILD)/qemu \
		GUEST_SILENCE_TIMEOUT=$(DEBUG_SILENCE_TIMEOUT) \
		MODULE="$$mod/driver/asyncdev.ko" USERBUILD=$(BUILD)/user \
		GUEST_TIMEOUT=$(DEBUG_GUEST_TIMEOUT) ADEV_TEST_TIMEOUT=$(DEBUG_TEST_TIMEOUT) \
		ADEV_GUEST_ENV="$(DEBUG_GUEST_ENV)" \
		$(TOP)/tests/qemu/run.sh check ); rc=$$?; \
	echo "make check-debug: $$([ $$rc = 0 ] && echo PASSED || echo FAILED) in $$(( $$(date +%s) - start ))s"; \
	exit $$rc

# Quiet: the build's output goes to a log (shown when it fails) and the
# terminal shows the guest's own lines (run.sh keeps the kernel's in its log).
demo: ensure-deps
	@mkdir -p $(BUILD); echo "demo: building the module ($(KVER)) and userspace, log in $(BUILD)/demo-build.log"; \
	$(MAKE) --no-print-directory all > $(BUILD)/demo-build.log 2>&1 || { \
	  tail -n 40 $(BUILD)/demo-build.log; echo "demo: the build FAILED (all of it: $(BUILD)/demo-build.log)"; exit 1; }
	@GUEST_TIMEOUT=600 KVER=$(KVER) $(TOP)/tests/qemu/run.sh demo

# Performance against the kernel's own peers, one guest boot (build/bench/).
bench: ensure-deps
	$(MAKE) --no-print-directory all
	KVER=$(KVER) BUILD=$(BUILD) $(TOP)/tests/bench/run.sh

qemu-shell: all
	KVER=$(KVER) $(TOP)/tests/qemu/run.sh shell

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean
	rm -rf $(BUILD)

# ---- Installing on a real machine: Debian packages, DKMS, install-module ----
# make deb: the four packages (asyncdev-dkms, libasyncdev0, libasyncdev-dev,
# asyncdev-tools) from debian/ with dpkg-buildpackage, in $(DEB_DIR). The
# build runs in a copy of the tree without build products (build/, Kbuild
# objects), so an earlier in-tree `make` cannot leak into a package.
DEB_DIR ?= $(BUILD)/deb
deb:
	@set -euo pipefail; \
	ver=$$(dpkg-parsechangelog -l $(TOP)/debian/changelog -S Version); \
	src=$(DEB_DIR)/asyncdev-$$ver; \
	rm -rf $(DEB_DIR); mkdir -p "$$src"; \
	tar -C $(TOP) -cf - --exclude-vcs --exclude=./build --exclude='./obj-*' \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='*.cmd' --exclude=modules.order --exclude=Module.symvers \
		--exclude=.tmp_versions --exclude='*.o.d' . | tar -C "$$src" -xf -; \
	(cd "$$src" && dpkg-buildpackage -us -uc -b -j$(JOBS)) > $(DEB_DIR)/build.log 2>&1 || { \
		tail -n 40 $(DEB_DIR)/build.log; echo "make deb: FAILED (log: $(DEB_DIR)/build.log)"; exit 1; }; \
	rm -rf "$$src"; \
	echo "make deb: $(DEB_DIR) (log: build.log)"; \
	cd $(DEB_DIR) && for d in *.deb; do printf '  %-44s %6s\n' "$$d" "$$(du -h "$$d" | cut -f1)"; done

# make install-module: the module built for KVER (default: the newest kernel
# with headers; KDIR follows it) into $(DESTDIR)/lib/modules/KVER/updates/,
# then depmod (skipped with a DESTDIR: run `depmod KVER` once installed).
# INSTALL_MOD_STRIP=1 strips its debug information, as Kbuild's does.
# For machines without DKMS; uninstall-module takes it out again.
install-module: module
	@set -euo pipefail; ko=$(TOP)/driver/asyncdev.ko; \
	built=$$(modinfo -F vermagic "$$ko" | cut -d' ' -f1); \
	[ "$$built" = "$(KVER)" ] || { echo "install-module: $$ko is built for $$built, not KVER=$(KVER) (make clean, or set KVER= and KDIR= together)"; exit 1; }; \
	dest="$(DESTDIR)/lib/modules/$(KVER)/updates"; \
	install -d "$$dest" && install -m 644 "$$ko" "$$dest/asyncdev.ko"; \
	if [ -n "$(INSTALL_MOD_STRIP)" ]; then strip --strip-debug "$$dest/asyncdev.ko"; fi; \
	echo "install-module: $$dest/asyncdev.ko"; \
	if [ -z "$(DESTDIR)" ]; then depmod -a "$(KVER)" && echo "install-module: depmod $(KVER) done; load it with: modprobe asyncdev"; \
	else echo "install-module: DESTDIR set, depmod not run (run: depmod -a $(KVER))"; fi

uninstall-module:
	rm -f "$(DESTDIR)/lib/modules/$(KVER)/updates/asyncdev.ko"
	@d="$(DESTDIR)/lib/modules/$(KVER)/updates"; [ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d"
	@if [ -z "$(DESTDIR)" ]; then depmod -a "$(KVER)" && echo "uninstall-module: removed, depmod $(KVER) done"; fi

# make check-packages: builds the packages, installs them (root), lets DKMS
# build the module for every kernel (KVERS=, default all with headers), boots
# each in QEMU with the DKMS-built module loaded by modprobe, builds a
# program against libasyncdev-dev, then purges everything it installed.
check-packages:
	KVERS="$(KVERS)" BUILD=$(BUILD) DEB_DIR=$(DEB_DIR) $(TOP)/tests/pkg/check-packages.sh
