// SPDX-License-Identifier: GPL-2.0

//! The VM-setup ioctls a KVM client issues before (or while) creating vCPUs, with KVM's
//! rules and errnos (arch/x86/kvm/x86.c, Linux 7.2): the vCPU-id limit
//! (`KVM_ENABLE_CAP(KVM_CAP_MAX_VCPU_ID)`), `KVM_SET_TSS_ADDR`, `KVM_SET_IDENTITY_MAP_ADDR`,
//! `KVM_SET_NR_MMU_PAGES` and the VM's `KVM_GET_TSC_KHZ`. On SVM the TSS and identity-map
//! addresses mean nothing (they serve VMX's real mode without unrestricted guest: KVM's SVM
//! callbacks return 0), and rsvm has no shadow MMU for the page limit to bound (KVM's TDP MMU
//! does not count against it either): accepted and remembered, with KVM's checks.

use crate::ffi;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

/// KVM_MAX_VCPUS on x86 without CONFIG_MAXSMP (CONFIG_KVM_MAX_NR_VCPUS' default):
/// KVM_CAP_MAX_VCPUS, and how many vCPUs a VM may have.
pub(crate) const MAX_VCPUS: u32 = 1024;
/// KVM_MAX_VCPU_IDS = KVM_MAX_VCPUS * KVM_VCPU_ID_RATIO (4): KVM_CAP_MAX_VCPU_ID, the
/// default bound on vCPU ids, and the most `KVM_ENABLE_CAP(KVM_CAP_MAX_VCPU_ID)` accepts.
pub(crate) const MAX_VCPU_ID: u32 = MAX_VCPUS * 4;
/// KVM_MIN_ALLOC_MMU_PAGES: the smallest `KVM_SET_NR_MMU_PAGES` KVM accepts.
const MIN_ALLOC_MMU_PAGES: u64 = 64;
/// `KVM_SET_TSS_ADDR` takes addresses up to `(unsigned int)(-3 * PAGE_SIZE)`: the three
/// pages of the VMX real-mode TSS must fit below 4 GiB.
const TSS_ADDR_MAX: u64 = 0xffff_d000;

/// KVM_CAP_NR_VCPUS: the recommended vCPU count, KVM's `min(num_online_cpus(), KVM_MAX_VCPUS)`.
pub(crate) fn nr_vcpus() -> u32 {
    ffi::num_online_cpus().min(MAX_VCPUS)
}

/// The VM's setup values. The ones whose rules depend on vCPU creation (`max_vcpu_ids`,
/// `vcpus_created`) are read and written only under `VmShared::vcpus`' lock, which
/// `KVM_CREATE_VCPU` holds while it checks and adds a vCPU (KVM's `kvm->lock`).
pub(crate) struct VmSetup {
    /// The bound on vCPU ids; 0 until set by ENABLE_CAP or fixed at MAX_VCPU_ID by the first
    /// vCPU (KVM's `kvm->arch.max_vcpu_ids`).
    max_vcpu_ids: AtomicU32,
    /// A vCPU was created (KVM's `kvm->created_vcpus != 0`: closing a vCPU fd does not undo it).
    vcpus_created: AtomicBool,
    /// `KVM_SET_NR_MMU_PAGES`' value (KVM's `n_requested_mmu_pages`); nothing to bound.
    nr_mmu_pages: AtomicU64,
    tss_addr: AtomicU64,
    identity_map_addr: AtomicU64,
}

impl VmSetup {
    pub(crate) const fn new() -> Self {
        Self {
            max_vcpu_ids: AtomicU32::new(0),
            vcpus_created: AtomicBool::new(false),
            nr_mmu_pages: AtomicU64::new(0),
            tss_addr: AtomicU64::new(0),
            identity_map_addr: AtomicU64::new(0),
        }
    }

    /// Before a vCPU with `id` is added (under the vcpus lock), KVM's
    /// `kvm_arch_vcpu_precreate`: fixes the VM's limit at the default if ENABLE_CAP did not
    /// set one (kept even if the creation fails later, as KVM), then `id` must be below it.
    pub(crate) fn precreate(&self, id: u64) -> Result {
        let _ = self.max_vcpu_ids.compare_exchange(0, MAX_VCPU_ID, Ordering::SeqCst, Ordering::SeqCst);
        if id >= self.max_vcpu_ids.load(Ordering::SeqCst) as u64 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// A vCPU was added (under the vcpus lock).
    pub(crate) fn created(&self) {
        self.vcpus_created.store(true, Ordering::SeqCst);
    }

    /// `KVM_ENABLE_CAP(KVM_CAP_MAX_VCPU_ID, n)` (under the vcpus lock): at most
    /// KVM_MAX_VCPU_IDS; set once (again with the same value is fine, another is EINVAL). A
    /// vCPU already created has fixed it at the default, so only that value passes then.
    /// (KVM also refuses `n` below KVM_SET_BOOT_CPU_ID's id, which rsvm does not offer: the
    /// boot CPU is id 0.)
    pub(crate) fn set_max_vcpu_ids(&self, n: u64) -> Result<isize> {
        if n > MAX_VCPU_ID as u64 {
            return Err(EINVAL);
        }
        let n = n as u32;
        match self.max_vcpu_ids.compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => Ok(0),
            Err(cur) if cur == n => Ok(0),
            Err(_) => Err(EINVAL),
        }
    }

    /// `KVM_SET_TSS_ADDR`: EINVAL above 0xffffd000, else accepted.
    pub(crate) fn set_tss_addr(&self, addr: u64) -> Result<isize> {
        if addr > TSS_ADDR_MAX {
            return Err(EINVAL);
        }
        self.tss_addr.store(addr, Ordering::Relaxed);
        Ok(0)
    }

    /// `KVM_SET_IDENTITY_MAP_ADDR` (under the vcpus lock): EINVAL once a vCPU was created,
    /// checked before the argument is read (KVM's order: EINVAL wins over EFAULT).
    pub(crate) fn set_identity_map_addr(&self, read: impl FnOnce() -> Result<u64>) -> Result<isize> {
        if self.vcpus_created.load(Ordering::SeqCst) {
            return Err(EINVAL);
        }
        self.identity_map_addr.store(read()?, Ordering::Relaxed);
        Ok(0)
    }

    /// `KVM_SET_NR_MMU_PAGES`: EINVAL below KVM_MIN_ALLOC_MMU_PAGES, else accepted.
    pub(crate) fn set_nr_mmu_pages(&self, n: u64) -> Result<isize> {
        if n < MIN_ALLOC_MMU_PAGES {
            return Err(EINVAL);
        }
        self.nr_mmu_pages.store(n, Ordering::Relaxed);
        Ok(0)
    }
}

/// The VM's `KVM_GET_TSC_KHZ` (KVM's `kvm->arch.default_tsc_khz`): the rate vCPUs get, the
/// host's (rsvm does not scale the TSC).
pub(crate) fn tsc_khz() -> Result<isize> {
    match ffi::tsc_khz() {
        0 => Err(EIO),
        k => Ok(k as isize),
    }
}
