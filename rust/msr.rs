// SPDX-License-Identifier: GPL-2.0

//! Guest MSRs: the MSR permission map (APM vol. 2, 15.11) and the emulated MSRs.
//!
//! MSRs that VMLOAD/VMSAVE switch (STAR, LSTAR, CSTAR, SFMASK, KernelGsBase, SYSENTER_*,
//! FS/GS base) are passed through: the world switch saves and restores them. EFER, PAT and
//! TSC are intercepted and emulated (the TSC in `vcpu/tsc.rs`); a few AMD MSRs read as zero
//! (as KVM); the machine-check globals describe a CPU with no banks; every other MSR is intercepted and raises #GP.

use crate::{hwpage::HwPages, svm::vmcb::Vmcb, uapi::kvm::*, x86::*};
use kernel::prelude::*;

pub(crate) const MSR_IA32_TSC: u32 = 0x10;
pub(crate) const MSR_IA32_TSC_ADJUST: u32 = 0x3b;
pub(crate) const MSR_IA32_SYSENTER_CS: u32 = 0x174;
pub(crate) const MSR_IA32_SYSENTER_ESP: u32 = 0x175;
pub(crate) const MSR_IA32_SYSENTER_EIP: u32 = 0x176;
pub(crate) const MSR_IA32_CR_PAT: u32 = 0x277;
/// Machine-check global capability and status (SDM vol. 3 15.3.1; APM vol. 2 9.3).
pub(crate) const MSR_IA32_MCG_CAP: u32 = 0x179;
pub(crate) const MSR_IA32_MCG_STATUS: u32 = 0x17a;
pub(crate) const MSR_STAR: u32 = 0xc000_0081;
pub(crate) const MSR_LSTAR: u32 = 0xc000_0082;
pub(crate) const MSR_CSTAR: u32 = 0xc000_0083;
pub(crate) const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
pub(crate) const MSR_FS_BASE: u32 = 0xc000_0100;
pub(crate) const MSR_GS_BASE: u32 = 0xc000_0101;
pub(crate) const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;

/// AMD model-specific MSRs Linux reads on AMD CPUs that a guest gets as KVM gives them:
/// reads 0, writes ignored (KVM's kvm_get_msr_common() "data = 0" group and HWCR without
/// the bits KVM keeps). SYSCFG, HWCR, INT_PENDING_MSG (the E400 C1E check), TSEG base and
/// mask, NB_CFG, DC_CFG, BU_CFG2.
const READ_AS_ZERO: [u32; 8] = [0xc001_0010, 0xc001_0015, 0xc001_0055, 0xc001_0112, 0xc001_0113, 0xc001_001f, 0xc001_1022, 0xc001_102a];

/// EFER bits a guest may set (SVM is not offered to guests).
const EFER_GUEST_VALID: u64 = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

/// MSRs passed through to the guest (switched by VMLOAD/VMSAVE).
const PASSTHROUGH: [u32; 10] = [
    MSR_IA32_SYSENTER_CS,
    MSR_IA32_SYSENTER_ESP,
    MSR_IA32_SYSENTER_EIP,
    MSR_STAR,
    MSR_LSTAR,
    MSR_CSTAR,
    MSR_SYSCALL_MASK,
    MSR_FS_BASE,
    MSR_GS_BASE,
    MSR_KERNEL_GS_BASE,
];

/// MSRs intercepted and emulated: here, and the TSC's two in `vcpu/tsc.rs` (they need the
/// vCPU's IA32_TSC_ADJUST).
const EMULATED: [u32; 6] = [MSR_IA32_TSC, MSR_IA32_TSC_ADJUST, MSR_IA32_CR_PAT, MSR_EFER, MSR_IA32_MCG_CAP, MSR_IA32_MCG_STATUS];

/// kvm-clock's MSRs, emulated in `vcpu/pvclock.rs`.
const KVM_CLOCK: [u32; 4] = [MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW];

/// The MSRs `KVM_GET_MSR_INDEX_LIST` reports: everything `get`/`set` and the vCPU's
/// TSC and kvm-clock emulation handle.
pub(crate) fn index_list() -> impl Iterator<Item = u32> {
    Iterator::chain(Iterator::chain(EMULATED.into_iter(), PASSTHROUGH), KVM_CLOCK)
}

/// Byte offset and bit of `msr`'s read-intercept bit in the MSRPM (the write bit follows).
fn msrpm_bit(msr: u32) -> Option<(usize, u32)> {
    let (base, off) = match msr {
        0..=0x1fff => (0, 0),
        0xc000_0000..=0xc000_1fff => (0xc000_0000, 0x800),
        0xc001_0000..=0xc001_1fff => (0xc001_0000, 0x1000),
        _ => return None,
    };
    let bit = (msr - base) * 2;
    Some((off + (bit / 8) as usize, bit % 8))
}

/// A new MSRPM: every MSR intercepted except the pass-through ones.
pub(crate) fn new_msrpm() -> Result<HwPages> {
    let mut pm = HwPages::new(1)?;
    pm.fill(0xff);
    let bytes = pm.bytes();
    for msr in PASSTHROUGH {
        if let Some((byte, bit)) = msrpm_bit(msr) {
            if let Some(b) = bytes.get_mut(byte) {
                *b &= !(3 << bit);
            }
        }
    }
    Ok(pm)
}

/// Why an MSR access failed: the guest gets #GP, `KVM_{GET,SET}_MSRS` stop there.
pub(crate) struct MsrFault;

fn pat_valid(v: u64) -> bool {
    // Each byte a valid memory type: UC, WC, WT, WP, WB, UC-.
    (0..8).all(|i| matches!((v >> (i * 8)) & 0xff, 0 | 1 | 4 | 5 | 6 | 7))
}

/// Reads an MSR of the guest whose state is `vmcb` (after VMSAVE).
pub(crate) fn get(vmcb: &Vmcb, msr: u32) -> Result<u64, MsrFault> {
    let s = &vmcb.save;
    Ok(match msr {
        MSR_IA32_SYSENTER_CS => s.sysenter_cs,
        MSR_IA32_SYSENTER_ESP => s.sysenter_esp,
        MSR_IA32_SYSENTER_EIP => s.sysenter_eip,
        MSR_IA32_CR_PAT => s.g_pat,
        MSR_EFER => s.efer & !EFER_SVME,
        MSR_STAR => s.star,
        MSR_LSTAR => s.lstar,
        MSR_CSTAR => s.cstar,
        MSR_SYSCALL_MASK => s.sfmask,
        MSR_FS_BASE => s.fs.base,
        MSR_GS_BASE => s.gs.base,
        MSR_KERNEL_GS_BASE => s.kernel_gs_base,
        m if READ_AS_ZERO.contains(&m) => 0,
        // The CPUID offers MCE and MCA (as KVM's): the architecture then has these two, and
        // Linux reads them from its machine-check poll, where a #GP panics ("MCA
        // architectural violation"). No banks, no MCG_CTL (KVM's get_msr_mce() with a
        // zero MCG_CAP); no machine check is ever in progress.
        MSR_IA32_MCG_CAP | MSR_IA32_MCG_STATUS => 0,
        _ => return Err(MsrFault),
    })
}

/// Writes an MSR. `host` is true for `KVM_SET_MSRS` (the VMM may set what the guest may
/// not, such as EFER.LMA).
pub(crate) fn set(vmcb: &mut Vmcb, msr: u32, v: u64, host: bool, efer_allowed: u64) -> Result<(), MsrFault> {
    // G_PAT and EFER are cached by CPUs with VMCB clean bits: their setters mark them dirty.
    // The rest is VMLOAD/VMSAVE state, loaded on every entry.
    match msr {
        MSR_IA32_CR_PAT if pat_valid(v) => vmcb.set_g_pat(v),
        MSR_EFER => {
            if v & !(EFER_GUEST_VALID & efer_allowed) != 0 {
                return Err(MsrFault);
            }
            let s = &vmcb.save;
            let mut v = v;
            if !host {
                // As KVM's set_efer(): LME cannot change with paging on; LMA is read-only.
                if s.cr0 & CR0_PG != 0 && (s.efer ^ v) & EFER_LME != 0 {
                    return Err(MsrFault);
                }
                v = (v & !EFER_LMA) | (s.efer & EFER_LMA);
            }
            vmcb.set_efer(v | EFER_SVME);
        }
        _ => {
            let s = &mut vmcb.save;
            match msr {
                MSR_IA32_SYSENTER_CS => s.sysenter_cs = v,
                MSR_IA32_SYSENTER_ESP => s.sysenter_esp = v,
                MSR_IA32_SYSENTER_EIP => s.sysenter_eip = v,
                MSR_STAR => s.star = v,
                MSR_LSTAR if is_canonical(v) => s.lstar = v,
                MSR_CSTAR if is_canonical(v) => s.cstar = v,
                MSR_SYSCALL_MASK => s.sfmask = v,
                MSR_FS_BASE if is_canonical(v) => s.fs.base = v,
                MSR_GS_BASE if is_canonical(v) => s.gs.base = v,
                MSR_KERNEL_GS_BASE if is_canonical(v) => s.kernel_gs_base = v,
                m if READ_AS_ZERO.contains(&m) => {}
                // MCG_STATUS takes the guest's "done" (0); MCG_CAP is read-only to the guest.
                MSR_IA32_MCG_STATUS if v == 0 => {}
                MSR_IA32_MCG_CAP if host && v == 0 => {}
                _ => return Err(MsrFault),
            }
        }
    }
    Ok(())
}

/// Canonical for 57-bit virtual addresses (the widest the guest can have).
fn is_canonical(v: u64) -> bool {
    ((v as i64) << 7 >> 7) as u64 == v
}
