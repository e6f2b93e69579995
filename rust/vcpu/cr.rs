// SPDX-License-Identifier: GPL-2.0

//! MOV to CR4, always intercepted (as KVM's `init_vmcb()`): VMRUN checks a guest's CR4
//! against the CPU's features only, so without the intercept a guest could turn on what its
//! CPUID does not offer (CR4.PKE and WRPKRU on a CPU with PKU, say). Here the write follows
//! KVM's `kvm_set_cr4()` (arch/x86/kvm/x86.c): #GP(0) for a bit `kvm_is_valid_cr4()` calls
//! reserved (cpuid::cr4_allowed), for clearing PAE or toggling LA57 in long mode, and for
//! enabling PCIDE outside long mode or with CR3[11:0] != 0; else the VMCB's CR4 takes it and
//! the guest's TLB is flushed where a real MOV to CR4 would flush it
//! (`kvm_post_set_cr4()`). The PAE PDPTE check of `load_pdptrs()` is not done: under nested
//! paging the CPU reads a PAE guest's PDPTEs itself.

use super::{state::VcpuState, Action, RunPage, Vcpu};
use crate::{
    cpuid,
    emulate::CpuMode,
    svm::assist,
    x86::{CR4_LA57, CR4_PAE, EFER_LMA, GP_VECTOR},
};

const CR4_PSE: u64 = 1 << 4;
const CR4_PGE: u64 = 1 << 7;
const CR4_PCIDE: u64 = 1 << 17;
const CR4_SMEP: u64 = 1 << 20;

/// Why a CR4 value is refused (#GP(0)), or `None` if the write may happen: `kvm_set_cr4()`.
fn cr4_fault(new: u64, old: u64, allowed: u64, long_mode: bool, cr3: u64) -> Option<&'static str> {
    if new & !allowed != 0 {
        return Some("reserved bit (not in the guest's CPUID)");
    }
    if long_mode && (new & CR4_PAE == 0 || (new ^ old) & CR4_LA57 != 0) {
        return Some("PAE cleared or LA57 toggled in long mode");
    }
    if new & CR4_PCIDE != 0 && old & CR4_PCIDE == 0 && (!long_mode || cr3 & 0xfff != 0) {
        return Some("PCIDE outside long mode or with CR3[11:0] set");
    }
    None
}

/// Whether a CR4 change flushes the guest's TLB (`kvm_post_set_cr4()`: PGE toggled, PCIDE
/// cleared, PAE or PSE toggled, SMEP set).
fn cr4_flushes(new: u64, old: u64) -> bool {
    let d = new ^ old;
    d & (CR4_PGE | CR4_PAE | CR4_PSE) != 0 || (old & CR4_PCIDE != 0 && new & CR4_PCIDE == 0) || (new & CR4_SMEP != 0 && old & CR4_SMEP == 0)
}

impl Vcpu {
    /// The intercepted MOV to CR4 (exit 0x14).
    pub(super) fn cr4_write(&self, st: &mut VcpuState, run: RunPage, info1: u64) -> Action {
        let long = st.mode() == CpuMode::Bits64;
        let fetch = || {
            let mut mem = self.vm.mem.lock();
            st.fetch(&mut mem, false).ok()
        };
        let Some((gpr, len)) = assist::mov_to_cr_source(self.vm.features.decode_assists, info1, 4, long, fetch) else {
            return self.emulation_failure(st, run);
        };
        let mut new = st.gprs.get(gpr).copied().unwrap_or(0);
        if !long {
            new &= 0xffff_ffff;
        }
        let allowed = cpuid::cr4_allowed(&st.cpuid);
        let s = &st.vmcb().save;
        let (old, lma, cr3) = (s.cr4, s.efer & EFER_LMA != 0, s.cr3);
        if cr4_fault(new, old, allowed, lma, cr3).is_some() {
            st.queue_exception(GP_VECTOR, Some(0));
            return Action::Resume;
        }
        st.vmcb().set_cr4(new);
        if cr4_flushes(new, old) {
            st.asid.request_flush();
        }
        let next = match len {
            Some(n) => st.rip().wrapping_add(n),
            None => st.vmcb().control.next_rip,
        };
        st.set_rip(if long { next } else { next & 0xffff_ffff });
        Action::Resume
    }
}
