# rsvm: top-level make targets. See README.md.
#   make deps    install build and test dependencies (idempotent)
#   make         build rsvm.ko against KDIR (default: the cached test kernel)
#   make test    build everything, run the host unit tests and the in-VM test suites
#   make run     boot the test VM with rsvm loaded, interactively
#   make bench   exit costs under -icount, rsvm vs kvm_amd
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

.PHONY: all module deps kernel userspace test run bench clean
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

run: module userspace
	@$(TOP)/scripts/vm-run --interactive

clean:
	rm -rf $(TOP)/build
	cd $(TOP)/userspace-vmm && cargo clean
endif
