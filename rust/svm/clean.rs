// SPDX-License-Identifier: GPL-2.0

//! VMCB clean bits (APM vol. 2, 15.15.3 "VMCB Clean Bits"): a CPU with the
//! feature (CPUID 8000_000Ah EDX bit 5) may keep parts of a VMCB cached between VMRUNs and
//! reload only the groups whose bit software cleared. As Linux's `vmcb_mark_dirty()`,
//! `vmcb_mark_all_dirty()`, `vmcb_mark_all_clean()` and `pre_svm_run()` (svm.h, svm.c).
//!
//! The rules rsvm keeps:
//! - every write to a cached field goes through a `Vmcb` setter that clears its group's bit
//!   (`Field::clean_bit`); anything else that rewrites the VMCB (reset, `KVM_SET_SREGS`,
//!   `KVM_SET_REGS`, restoring the save area after VMEXIT_INVALID) marks all dirty;
//! - after a #VMEXIT other than VMEXIT_INVALID the CPU's copy matches the VMCB: all clean,
//!   except V_TPR/int_ctl and CR2, which Linux treats as always dirty too;
//! - before VMRUN, all dirty unless this VMCB ran last on this CPU and this CPU ran no
//!   other VMCB since (a cached copy belongs to a CPU and to one VMCB);
//! - without the feature the field stays 0 (QEMU's SVM has none; it ignores the field).
//!
//! No kernel imports: the host unit tests compile this file as is (rsvm-test, svm_tests.rs).

/// A clean bit: one group of VMCB fields the CPU may cache. The whole table, as the APM
/// defines it (rsvm writes some groups only at reset, which marks all dirty).
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum CleanBit {
    /// I: intercept vectors, TSC_OFFSET, pause filter.
    Intercepts = 0,
    /// IOPM: IOPM_BASE_PA and MSRPM_BASE_PA.
    Iopm = 1,
    Asid = 2,
    /// TPR: V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR.
    Tpr = 3,
    /// NP: NP_ENABLE, N_CR3, G_PAT.
    Np = 4,
    /// CRx: CR0, CR3, CR4, EFER.
    Crx = 5,
    /// DRx: DR6, DR7.
    Drx = 6,
    /// DT: GDTR, IDTR.
    Dt = 7,
    /// SEG: CS, DS, SS, ES (selector, base, limit, attributes) and CPL.
    Seg = 8,
    Cr2 = 9,
    /// LBR: DBGCTL, BR_FROM/TO, LASTEXCP_FROM/TO.
    Lbr = 10,
    Avic = 11,
    /// CET: S_CET, SSP, ISST_ADDR.
    Cet = 12,
}

impl CleanBit {
    pub(crate) const fn mask(self) -> u32 {
        1 << self as u32
    }
}

/// Every group defined (bits 0-12; Linux also sets the software bit 31, which the CPU
/// ignores; rsvm leaves it clear).
pub(crate) const ALL_CLEAN: u32 = (1 << 13) - 1;

/// Groups rewritten before every VMRUN, never left clean (Linux's VMCB_ALWAYS_DIRTY_MASK):
/// int_ctl carries V_TPR and the interrupt window, and CR2 may be set for a #PF.
pub(crate) const ALWAYS_DIRTY: u32 = CleanBit::Tpr.mask() | CleanBit::Cr2.mask();

/// VMCB fields and their clean-bit groups (some written only in bulk, then all dirty).
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Intercepts,
    TscOffset,
    Asid,
    /// int_ctl (V_TPR, V_IRQ and the rest) and int_vector.
    IntCtl,
    GPat,
    Cr0,
    Cr3,
    Cr4,
    Efer,
    Cr2,
    /// CS, DS, SS or ES.
    Seg,
    Cpl,
    Gdtr,
    Idtr,
    /// DR6 or DR7.
    Dr,
}

impl Field {
    /// The clean bit a write to this field must clear (APM 15.15.3).
    pub(crate) const fn clean_bit(self) -> CleanBit {
        match self {
            Field::Intercepts | Field::TscOffset => CleanBit::Intercepts,
            Field::Asid => CleanBit::Asid,
            Field::IntCtl => CleanBit::Tpr,
            Field::GPat => CleanBit::Np,
            Field::Cr0 | Field::Cr3 | Field::Cr4 | Field::Efer => CleanBit::Crx,
            Field::Dr => CleanBit::Drx,
            Field::Cr2 => CleanBit::Cr2,
            Field::Seg | Field::Cpl => CleanBit::Seg,
            Field::Gdtr | Field::Idtr => CleanBit::Dt,
        }
    }
}

/// The clean field after a write to `field`.
pub(crate) const fn mark_dirty(clean: u32, field: Field) -> u32 {
    clean & !field.clean_bit().mask()
}

/// The clean field after a #VMEXIT that was not VMEXIT_INVALID: the CPU's copy is the
/// VMCB's, except the always-dirty groups. 0 without the feature.
pub(crate) const fn after_exit(has_clean_bits: bool) -> u32 {
    if has_clean_bits { ALL_CLEAN & !ALWAYS_DIRTY } else { 0 }
}

/// Whether a CPU can still hold this VMCB's state: it ran last on `cpu` (`vmcb_last_cpu`),
/// and the VMCB `cpu` ran last is this one (`cpu_last_vmcb`, by physical address).
pub(crate) const fn cached_here(vmcb_last_cpu: Option<usize>, cpu: usize, cpu_last_vmcb: u64, vmcb_pa: u64) -> bool {
    matches!(vmcb_last_cpu, Some(c) if c == cpu) && cpu_last_vmcb == vmcb_pa
}

/// The clean field for this VMRUN (Linux's `pre_svm_run()`): all dirty unless the CPU has
/// the feature and can still hold this VMCB's state.
pub(crate) const fn before_run(clean: u32, has_clean_bits: bool, cached_here: bool) -> u32 {
    if has_clean_bits && cached_here { clean } else { 0 }
}
