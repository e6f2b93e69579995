// SPDX-License-Identifier: GPL-2.0

//! The guest's MTRRs (SDM vol. 3 12.11, APM vol. 2 7.7): stored and checked, not applied.
//! Under nested paging the memory type comes from the host's page tables and the guest's PAT
//! (as KVM without non-coherent DMA: KVM stopped honouring guest MTRRs in 6.9), but guests
//! program them at boot and VMMs such as QEMU save and restore them, so they must read back
//! what was written and refuse what the architecture refuses (#GP, or a failed
//! KVM_SET_MSRS). KVM's arch/x86/kvm/mtrr.c: 8 variable ranges, the fixed ranges, WC
//! offered, no SMRR.

/// MTRRcap: VCNT 8, FIX, WC; no SMRR (KVM's).
const MSR_MTRR_CAP: u32 = 0xfe;
const MSR_MTRR_PHYS_BASE0: u32 = 0x200;
const NR_VAR: u32 = 8;
const MSR_MTRR_FIX_64K: u32 = 0x250;
const MSR_MTRR_FIX_16K: u32 = 0x258;
const MSR_MTRR_FIX_4K: u32 = 0x268;
const MSR_MTRR_DEF_TYPE: u32 = 0x2ff;
const MTRR_CAP: u64 = 0x500 | NR_VAR as u64;

/// A vCPU's MTRRs, all 0 at creation (every range disabled, MTRRs off).
#[derive(Default)]
pub(crate) struct Mtrrs {
    var: [u64; 2 * NR_VAR as usize],
    /// 64K, 16K x2, 4K x8, in MSR order.
    fixed: [u64; 11],
    def_type: u64,
}

/// UC, WC, WT, WP, WB (KVM's valid_mtrr_type()).
fn valid_type(t: u64) -> bool {
    t < 8 && (1 << t) & 0x73 != 0
}

impl Mtrrs {
    /// Where MSR `msr` is kept, if it is one of the writable MTRRs.
    fn slot(&mut self, msr: u32) -> Option<&mut u64> {
        match msr {
            MSR_MTRR_PHYS_BASE0..=0x20f => self.var.get_mut((msr - MSR_MTRR_PHYS_BASE0) as usize),
            MSR_MTRR_FIX_64K => self.fixed.get_mut(0),
            MSR_MTRR_FIX_16K..=0x259 => self.fixed.get_mut(1 + (msr - MSR_MTRR_FIX_16K) as usize),
            MSR_MTRR_FIX_4K..=0x26f => self.fixed.get_mut(3 + (msr - MSR_MTRR_FIX_4K) as usize),
            MSR_MTRR_DEF_TYPE => Some(&mut self.def_type),
            _ => None,
        }
    }

    /// Is `msr` in the MTRR block KVM handles (MTRRcap, 0x200-0x26f, MTRRdefType)? Holes in
    /// the block fault, as in KVM.
    fn covers(msr: u32) -> bool {
        matches!(msr, MSR_MTRR_CAP | MSR_MTRR_PHYS_BASE0..=0x26f | MSR_MTRR_DEF_TYPE)
    }

    /// RDMSR / KVM_GET_MSRS: `None` if `msr` is not an MTRR, `Err` for a hole.
    pub(crate) fn get(&mut self, msr: u32) -> Option<Result<u64, ()>> {
        if !Self::covers(msr) {
            return None;
        }
        if msr == MSR_MTRR_CAP {
            return Some(Ok(MTRR_CAP));
        }
        Some(self.slot(msr).map(|v| *v).ok_or(()))
    }

    /// WRMSR / KVM_SET_MSRS (the same rules for both, as KVM): `maxphyaddr` is the guest's
    /// (CPUID 8000_0008h), bits above it reserved in the variable ranges. MTRRcap is
    /// read-only.
    pub(crate) fn set(&mut self, msr: u32, v: u64, maxphyaddr: u32) -> Option<Result<(), ()>> {
        if !Self::covers(msr) {
            return None;
        }
        let ok = match msr {
            MSR_MTRR_CAP => false,
            MSR_MTRR_DEF_TYPE => v & !0xcff == 0 && valid_type(v & 0xff),
            MSR_MTRR_FIX_64K..=0x26f => (0..8).all(|i| valid_type((v >> (i * 8)) & 0xff)),
            _ => {
                let mut reserved = if maxphyaddr >= 64 { 0 } else { !0u64 << maxphyaddr };
                if msr & 1 == 0 {
                    // PhysBase: the type, bits 11:8 reserved.
                    reserved |= 0xf00;
                    valid_type(v & 0xff) && v & reserved == 0
                } else {
                    // PhysMask: bit 11 valid, bits 10:0 reserved.
                    v & (reserved | 0x7ff) == 0
                }
            }
        };
        Some(match (ok, self.slot(msr)) {
            (true, Some(s)) => {
                *s = v;
                Ok(())
            }
            _ => Err(()),
        })
    }
}
