# HC1 software stack: the one entry point.
#
#   make demo    set everything up, boot the VM, show the card generating
#   make test    set everything up, run every test (host, device, guest,
#                serve, packages)
#
# Other targets: deps, all, userspace, kmod, qemu, kernel, deb, test-host,
# test-qtest, test-guest, test-compat, test-packages, bench, stress, vm-shell, lint, format,
# clean, test-debug-kernel (with debug-kernel and kmod-debug; not part of test).
#
# HC1_WERROR=ON turns compiler warnings into errors in the userspace build
# and hc1.ko (CI sets it; off by default, so a newer compiler's warnings
# never stop a user's build).
#
# KV_FORMAT=f16|int8 builds the cards of demo, bench and every VM boot with
# that KV cache (default f32, exact).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

SRC := $(CURDIR)
BUILD ?= $(SRC)/build
JOBS ?= 2
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/hc1
# The guest's kernel release: the ABI Debian's linux-headers-amd64 names.
KREL = $(shell dpkg-query -W -f='$${Depends}' linux-headers-amd64 2>/dev/null | \
	sed -n 's/.*linux-headers-\([^ ,]*\).*/\1/p')
KDIR = /usr/src/linux-headers-$(KREL)
QEMU := $(BUILD)/qemu/qemu-system-x86_64
VM := HC1_BUILD=$(BUILD) $(SRC)/tools/vm/hc1-vm
GUEST_TIMEOUT ?= 1500
HC1_WERROR ?= OFF
KMOD_FLAGS := $(if $(filter ON,$(HC1_WERROR)),KCFLAGS=-Werror)
# The debug-kernel lane: a KASAN + lockdep kernel built from source and an
# hc1.ko built against it, both apart from the default lane's.  Its guest
# CPU has no LA57: 6.1's pgtable_l5_enabled() reads the LA57 feature bit,
# which identify_cpu() clears and sets again, so an interrupt in between
# made KASAN take every 5-level address for a wild access (a flood of
# "BUG: KASAN: wild-memory-access" at boot, one boot in a few).
DEBUG_KERNEL := $(BUILD)/debug-kernel
DEBUG_KMOD := $(BUILD)/kmod-debug
DEBUG_VM := $(VM) --kernel $(DEBUG_KERNEL)/bzImage --kmod $(DEBUG_KMOD)/hc1.ko \
	--cpu max,la57=off --append kasan_multi_shot --mem 2048
DEBUG_GUEST_TIMEOUT ?= 7200
DEBUG_TEST_TIMEOUT ?= 1800

export HC1_BUILD := $(BUILD)
# The cards' KV-cache format in make demo, make bench and every hc1-vm
# boot: f32 (exact), f16 or int8.
KV_FORMAT ?= f32
export HC1_KV_FORMAT := $(KV_FORMAT)

.PHONY: all deps userspace kmod qemu kernel udev deb test test-host test-qtest test-guest test-compat test-serve \
	test-packages serve \
	demo bench stress vm-shell lint format clean debug-kernel kmod-debug test-debug-kernel

all: userspace kmod qemu kernel udev

# Stamp on the dependency list: re-run the installer only when it changes.
deps: $(BUILD)/.deps
$(BUILD)/.deps: tools/deps.sh
	$(SRC)/tools/deps.sh
	@mkdir -p $(BUILD) && touch $@

# Configured again only when HC1_WERROR changes.
userspace: $(BUILD)/.deps
	@[ -f $(BUILD)/build.ninja ] && grep -qx 'HC1_WERROR:BOOL=$(HC1_WERROR)' $(BUILD)/CMakeCache.txt || \
		cmake -S $(SRC) -B $(BUILD) -G Ninja -DHC1_WERROR=$(HC1_WERROR)
	ninja -C $(BUILD) -j$(JOBS)

# Kbuild writes next to the sources, so build a copy.
kmod: $(BUILD)/.deps
	@mkdir -p $(BUILD)/kmod
	cp -u $(SRC)/kmod/* $(SRC)/VERSION $(BUILD)/kmod/ 2>/dev/null || true
	$(MAKE) -C $(KDIR) M=$(BUILD)/kmod HC1_INCLUDE=$(SRC)/include $(KMOD_FLAGS) modules

qemu: $(BUILD)/.deps
	$(SRC)/qemu-device/build-qemu.sh $(BUILD)/qemu

kernel: $(BUILD)/.deps
	$(SRC)/tools/vm/fetch-kernel.sh $(CACHE)/kernel >/dev/null

# udevadm for the guest test of the udev rule (Debian's udev, unpacked).
udev: $(BUILD)/.deps
	$(SRC)/tools/vm/fetch-udev.sh $(CACHE)/udev >/dev/null

# Each layer ends with one "LAYER: N passed, N failed, N skipped" line (and
# every skip's reason) from tests/summary.py; make test repeats the three.
SUMMARY := $(BUILD)/test-summary
test: all
	@rc=0; rm -rf $(SUMMARY); \
	$(MAKE) --no-print-directory test-host || rc=1; \
	$(MAKE) --no-print-directory test-qtest || rc=1; \
	$(MAKE) --no-print-directory test-guest || rc=1; \
	$(MAKE) --no-print-directory test-serve || rc=1; \
	$(MAKE) --no-print-directory test-packages || rc=1; \
	echo "== summary"; cat $(SUMMARY)/host $(SUMMARY)/qtest $(SUMMARY)/guest $(SUMMARY)/serve \
		$(SUMMARY)/packages 2>/dev/null || rc=1; \
	exit $$rc

test-host: userspace
	@mkdir -p $(SUMMARY) $(BUILD)/Testing
	@rc=0; ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) \
		--output-junit $(BUILD)/Testing/host.xml || rc=1; \
	$(SRC)/tests/summary.py host $(SUMMARY)/host $(BUILD)/Testing/host.xml || rc=1; \
	exit $$rc

test-qtest: userspace qemu
	@mkdir -p $(SUMMARY) $(BUILD)/Testing
	@rc=0; $(SRC)/tests/qtest/run.sh $(QEMU) --gtest_output=json:$(BUILD)/Testing/qtest.json || rc=1; \
	fuzz=0; HC1_QEMU=$(QEMU) $(BUILD)/bin/qtest-hc1-fuzz 20000 1 || fuzz=$$?; \
	$(SRC)/tests/summary.py qtest $(SUMMARY)/qtest $(BUILD)/Testing/qtest.json \
		qtest-hc1-fuzz=$$fuzz || rc=1; \
	exit $$rc

# The guest tests pin llama2.c's known answers, so the card burns the
# reference model from the repository.  Everything in one boot, then the
# fault-injection tests (the reset tests' second half, guest-hc1-faults) on
# a card that has fault injection (a test-only register, off by default),
# then a server of three cards: two of the reference model and one of the
# card's own (hc1-kjv), with fault injection for the multi-card test's
# reset (tests named multicard-*, which only this boot runs).  Its removal
# of card 0 is a surprise one: tools/stress/hotplug-host.py makes the card
# vanish, device_dels it on QMP and device_adds a new one when the guest
# asks (multicard-libhc, HC1_MULTICARD_QMP).
# The programs with cases that need the card's fault injection (those skip
# in the first boot, whose card has none; several pace the card with
# HC1_TEST_SLOW_ENGINE so that what they do mid-stream lands mid-stream):
# the second boot runs them.  Those that also
# need a card whose queues fill with three commands (queue-entries=4) run
# in a boot of their own, after the three-card one.
FAULT_TESTS := guest-hc1-reset guest-hc1-faults guest-hc1-uring-deadline guest-hc1-owner \
	guest-hc1-probe-timeout guest-hc1-shutdown guest-hc1-wedged guest-libhc-loop-teardown \
	guest-libhc-session-lifetime guest-libhc-reset guest-libhc-cancel-timeout guest-hc1-uring
SMALL_QUEUE_TESTS := guest-hc1-submit-race
# Every boot's tests check that the cards report the KV-cache format they
# were booted with; the small-queue boot's card has one other than f32
# (KV_FORMAT's, else int8), on which these run too.
KV_TESTS := guest-hc1-ioctl guest-libhc-c-api hcctl/info.sh
SMALL_QUEUE_KV := $(if $(filter f32,$(KV_FORMAT)),int8,$(KV_FORMAT))
REF_MODEL := $(SRC)/models/llama2c/stories260K.bin
SMALL_QUEUE := --model $(REF_MODEL) --kv-format $(SMALL_QUEUE_KV) \
	--device-opts ,fault-inject=on,queue-entries=4
KJV_MODEL := $(SRC)/models/hc1-kjv.bin
MULTICARD := --card $(REF_MODEL) --card $(REF_MODEL) --card $(KJV_MODEL)
MULTICARD_NEW := driver=hc1,id=hc1,bus=rp0,model=$(REF_MODEL),tokenizer=$(dir $(REF_MODEL))tok512.bin,fault-inject=on
# The three-card boot: $(1) the VM command with its timeout, $(2) options of
# hc1-run-tests, $(3) the console log, $(4) how long the tests before the
# removal may take (hotplug-host.py's wait for the guest; the debug kernel
# is many times slower).  The VM runs in the background while
# hotplug-host.py answers the guest on QMP; sets rc=1 on failure.
define multicard_boot
log3=$(3) sock=$(BUILD)/vm/multicard-qmp.sock; rm -f $$sock; \
$(1) $(MULTICARD) --device-opts ,fault-inject=on --qmp $$sock -- \
	HC1_MULTICARD_QMP=1 hc1-run-tests $(2) multicard-hcctl multicard-c-api multicard-udev multicard-serve \
	multicard-libhc >$$log3 2>&1 & vm=$$!; \
$(SRC)/tools/stress/hotplug-host.py $$sock $$log3 "$(MULTICARD_NEW)" $(4) || rc=1; \
wait $$vm || rc=1; cat $$log3
endef
test-guest: all
	@mkdir -p $(SUMMARY) $(BUILD)/Testing
	@rc=0; \
	$(VM) --timeout $(GUEST_TIMEOUT) --model $(REF_MODEL) -- hc1-run-tests \
		| tee $(BUILD)/Testing/guest-1.log || rc=1; \
	$(VM) --timeout 600 --model $(REF_MODEL) --device-opts ,fault-inject=on -- \
		hc1-run-tests $(FAULT_TESTS) | tee $(BUILD)/Testing/guest-2.log || rc=1; \
	$(call multicard_boot,$(VM) --timeout 600,,$(BUILD)/Testing/guest-3.log,600); \
	$(VM) --timeout 300 $(SMALL_QUEUE) -- hc1-run-tests $(KV_TESTS) $(SMALL_QUEUE_TESTS) \
		| tee $(BUILD)/Testing/guest-4.log || rc=1; \
	$(SRC)/tests/compat/run.sh $(SRC) $(BUILD) $(JOBS) || rc=1; \
	$(SRC)/tests/summary.py guest $(SUMMARY)/guest $(BUILD)/Testing/guest-1.log \
		$(BUILD)/Testing/guest-2.log $(BUILD)/Testing/guest-3.log \
		$(BUILD)/Testing/guest-4.log $(BUILD)/Testing/compat-soname.log \
		$(BUILD)/Testing/compat-previous.log $(BUILD)/Testing/compat-abi.log \
		$(BUILD)/Testing/compat-withheld.log || rc=1; \
	exit $$rc

# test-guest's last step alone: the previous release's libhc and hcctl on
# today's driver and card, its programs on today's libhc, and today's on a
# driver without the newest feature bit (tests/compat/run.sh, three boots).
test-compat: all
	$(SRC)/tests/compat/run.sh $(SRC) $(BUILD) $(JOBS)

# hc1-serve with real clients: the server in the guest, curl there and on
# the host, the OpenAI library and Chromium (puppeteer-core) on the host,
# from npm (tests/serve/package-lock.json); tests/serve/run.py.
SERVE_NODE := $(SRC)/tests/serve/node_modules/.package-lock.json
$(SERVE_NODE): $(SRC)/tests/serve/package-lock.json $(BUILD)/.deps
	cd $(SRC)/tests/serve && npm ci --no-audit --no-fund
test-serve: all $(SERVE_NODE)
	@mkdir -p $(SUMMARY)
	@rc=0; $(SRC)/tests/serve/run.py $(SRC) $(BUILD) || rc=1; \
	$(SRC)/tests/summary.py serve $(SUMMARY)/serve $(BUILD)/Testing/serve-guest.log \
		$(BUILD)/Testing/serve-host.log || rc=1; \
	exit $$rc

# The Debian packages (hc1-dkms, libhc0, libhc-dev, hcctl, hc1-serve) into
# build/deb, built with dpkg-buildpackage in a copy of the tree and checked
# by lintian (docs/packaging.md).
deb: $(BUILD)/.deps
	$(SRC)/tools/deb/build.sh $(SRC) $(BUILD)/deb $(JOBS)

# The packages, installed on this machine and tested there: DKMS builds
# hc1.ko for the guest's kernel and a guest boots that module, the SDK
# builds programs from outside, remove and purge leave nothing
# (tests/packages/run.sh; its own "packages:" summary line).  Needs root.
test-packages: all
	@mkdir -p $(SUMMARY) $(BUILD)/Testing
	@rc=0; $(SRC)/tests/packages/run.sh $(SRC) $(BUILD) $(KREL) $(JOBS) \
		2>&1 | tee $(BUILD)/Testing/packages.log || rc=1; \
	$(SRC)/tests/summary.py packages $(SUMMARY)/packages $(BUILD)/Testing/packages.log || rc=1; \
	exit $$rc

# The card (its own model) behind hc1-serve on http://localhost:8080 of the
# host, until Ctrl-C or a day.  SERVE_PORT and SERVE_ARGS change it.
SERVE_PORT ?= 8080
serve: all
	$(VM) --timeout 86400 --forward $(SERVE_PORT):8080 -- \
		"hc1-serve --listen 0.0.0.0:8080 $(SERVE_ARGS)"

debug-kernel: $(BUILD)/.deps
	$(SRC)/tools/vm/build-debug-kernel.sh $(DEBUG_KERNEL)

kmod-debug: debug-kernel
	@mkdir -p $(DEBUG_KMOD)
	cp -u $(SRC)/kmod/* $(SRC)/VERSION $(DEBUG_KMOD)/ 2>/dev/null || true
	$(MAKE) -C $(DEBUG_KERNEL)/build M=$(DEBUG_KMOD) HC1_INCLUDE=$(SRC)/include modules

# test-guest's four boots on the debug kernel; all run whatever the first
# shows.  KASAN under TCG is several times slower: hence the timeouts.
test-debug-kernel: all kmod-debug
	@rc=0; \
	$(DEBUG_VM) --timeout $(DEBUG_GUEST_TIMEOUT) --model $(REF_MODEL) -- \
		hc1-run-tests -t $(DEBUG_TEST_TIMEOUT) || rc=1; \
	$(DEBUG_VM) --timeout $(DEBUG_GUEST_TIMEOUT) --model $(REF_MODEL) --device-opts ,fault-inject=on -- \
		hc1-run-tests -t $(DEBUG_TEST_TIMEOUT) $(FAULT_TESTS) || rc=1; \
	$(call multicard_boot,$(DEBUG_VM) --timeout $(DEBUG_GUEST_TIMEOUT),-t $(DEBUG_TEST_TIMEOUT),$(BUILD)/vm/debug-multicard.log,$(DEBUG_GUEST_TIMEOUT)); \
	$(DEBUG_VM) --timeout $(DEBUG_GUEST_TIMEOUT) $(SMALL_QUEUE) -- \
		hc1-run-tests -t $(DEBUG_TEST_TIMEOUT) $(SMALL_QUEUE_TESTS) || rc=1; \
	exit $$rc

demo: all
	@echo "== model: $$($(SRC)/tools/vm/default-model.sh name)"
	$(VM) --timeout 600 -- "set -x; hcctl list && hcctl info && \
		hcctl run '$$($(SRC)/tools/vm/default-model.sh prompt)' --stats"

bench: all
	$(SRC)/tools/bench/run.sh $(BUILD)

# Fuzzers, faults, kill storm, soak, surprise removal: bench/reliability.json.
# STRESS_ARGS=--short for a few-minute version.
stress: all
	$(SRC)/tools/stress/run.sh $(STRESS_ARGS) $(BUILD)

vm-shell: all
	$(VM) --shell

# Every style and static check (tools/lint/run.sh, docs/contributing.md):
# checkpatch, W=1 and sparse, kernel-doc, QEMU's checkpatch, clang-format,
# whitespace, -Werror (with HC1_WERROR=ON), commit subjects since the last
# tag.  A few minutes once the tree is built.
lint: userspace qemu
	$(SRC)/tools/lint/run.sh $(SRC) $(BUILD) $(KDIR)

# Userspace only (tools/lint/format-files.sh): kmod/ and the contract headers
# it shares follow the kernel's style, and the device model QEMU's.
format:
	$(SRC)/tools/lint/format-files.sh $(SRC) | xargs clang-format -i

clean:
	rm -rf $(BUILD)
