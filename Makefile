# rsvm: top-level make targets. See README.md.
#   make deps    install build and test dependencies (idempotent)
#   make         build rsvm.ko against KDIR (default: the cached test kernel)
#   make test    build everything, run the host unit tests and the in-VM test suites
#   make run     a Linux guest of rsvm-vmm on rsvm in the test VM, its console on this terminal
#   make shell   a shell in the test VM with rsvm loaded
#   make bench   exit costs under -icount, rsvm vs kvm_amd, on a production kernel and the test kernel
#   make soak    the L2 soak (tests/l1/soak-l2.sh for RSVM_SOAK_SECS per CPU model)
#   make fuzz    the fuzzer (tests/l1/fuzz.sh for RSVM_FUZZ_SECS from a random seed)
#   make flake   the long-run reproducer (scripts/flake-loop: the suite, repeated in one boot)
SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
RSVM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rsvm
export RSVM_CACHE

# Out-of-tree kbuild invokes this Makefile again from the kernel tree with KERNELRELEASE set;
# then only Kbuild matters.
ifneq ($(KERNELRELEASE),)
include $(TOP)/Kbuild
else

# KDIR: the kernel build to compile against. Empty means the cached test kernel (built on
# demand); on a real AMD host: KDIR=/lib/modules/$(uname -r)/build (CONFIG_RUST=y).
KDIR ?=

.PHONY: all module deps kernel userspace test run shell bench soak fuzz flake clean
all: module

deps:
	@$(TOP)/scripts/deps.sh

kernel:
	@$(TOP)/scripts/kernel.sh >/dev/null

module:
	@$(if $(KDIR),,$(TOP)/scripts/kernel.sh >/dev/null)
	@$(TOP)/scripts/build-module.sh "$(KDIR)"

userspace:
	@$(TOP)/scripts/build-userspace.sh

test: module userspace
	@$(TOP)/tests/run.sh

bench: module userspace
	@$(TOP)/scripts/bench.sh

# The soak of `make test` (tests/l1/soak-l2.sh, 180 s per CPU model by default) for RSVM_SOAK_SECS instead.
RSVM_SOAK_SECS ?= 1800
soak: module userspace
	@RSVM_TESTS=soak-l2.sh RSVM_VM_TIMEOUT=$$(($(RSVM_SOAK_SECS) + 1200)) \
		RSVM_APPEND="rsvm_soak_secs=$(RSVM_SOAK_SECS) rsvm_test_timeout=$$(($(RSVM_SOAK_SECS) + 900))" $(TOP)/tests/run.sh

# The fuzzer (tests/l1/fuzz.sh; not yet in make test, Documentation/testing.md) for RSVM_FUZZ_SECS from
# RSVM_FUZZ_SEED (default: a random seed, printed), per CPU model (RSVM_CPUS as for make test).
RSVM_FUZZ_SECS ?= 1800
RSVM_FUZZ_SEED ?= random
fuzz: module userspace
	@RSVM_TESTS=fuzz.sh RSVM_VM_TIMEOUT=$$(($(RSVM_FUZZ_SECS) + 600)) \
		RSVM_APPEND="rsvm_fuzz_secs=$(RSVM_FUZZ_SECS) rsvm_fuzz_seed=$(RSVM_FUZZ_SEED) rsvm_test_timeout=$$(($(RSVM_FUZZ_SECS) + 300))" $(TOP)/tests/run.sh

# The whole suite RSVM_FLAKE_ROUNDS times in one boot, RSVM_FLAKE_TRIES boots, per CPU model.
RSVM_FLAKE_TRIES ?= 2
RSVM_FLAKE_ROUNDS ?= 3
flake: module userspace
	@for cpu in $${RSVM_CPUS:-max max,-la57}; do \
		$(TOP)/scripts/flake-loop --cpu $$cpu --tries $(RSVM_FLAKE_TRIES) --rounds $(RSVM_FLAKE_ROUNDS) || exit 1; done

run: module userspace
	@$(TOP)/scripts/vm-run --guest

shell: module userspace
	@$(TOP)/scripts/vm-run --interactive

clean:
	rm -rf $(TOP)/build
	cd $(TOP)/userspace-vmm && cargo clean
endif
