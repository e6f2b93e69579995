// SPDX-License-Identifier: GPL-2.0

//! The APIC's architectural mode and its MSR view: IA32_APIC_BASE (disabled, xAPIC, x2APIC
//! and the legal transitions between them, SDM 11.12.5) and the x2APIC registers as MSRs
//! 0x800-0x8FF (SDM 11.12.1.2), over the register file of `super`.

use super::{Effect, Fault, Lapic, APIC_BASE_BSP, APIC_BASE_EN, APIC_BASE_EXTD, MSR_X2APIC_FIRST, REG_ICR, REG_ID, REG_LDR, REG_LVR, REG_PPR, REG_TMCCT};

/// The x2APIC ICR's reserved bits: 31:20, 17:16, 13.
const X2APIC_ICR_RESERVED: u64 = 0xfff0_0000 | (3 << 16) | (1 << 13);

impl Lapic {
    /// x2APIC MSR read (SDM 11.12.1.2): `Err` is #GP.
    pub(crate) fn msr_read(&self, msr: u32, now: u64) -> Result<u64, Fault> {
        if !self.x2apic() {
            return Err(Fault);
        }
        let off = (msr - MSR_X2APIC_FIRST) << 4;
        if off == REG_ICR {
            return Ok(self.icr);
        }
        self.read(off, now).map(|v| v as u64).ok_or(Fault)
    }

    /// x2APIC MSR write: `Err` is #GP (read-only or reserved register, reserved bits).
    pub(crate) fn msr_write(&mut self, msr: u32, v: u64, now: u64) -> Result<Effect, Fault> {
        if !self.x2apic() {
            return Err(Fault);
        }
        let off = (msr - MSR_X2APIC_FIRST) << 4;
        if off == REG_ICR {
            // Reserved: bits 31:20, 17:16 and 13 (KVM's X2APIC_ICR_RESERVED_BITS); the
            // delivery status (12) reads as 0.
            if v & X2APIC_ICR_RESERVED != 0 {
                return Err(Fault);
            }
            self.icr = v & !(1 << 12);
            return Ok(self.send(self.icr_message()));
        }
        if v >> 32 != 0 {
            return Err(Fault);
        }
        match off {
            REG_ID | REG_LVR | REG_PPR | REG_LDR | REG_TMCCT => Err(Fault),
            0x100..=0x270 => Err(Fault),
            _ => self.write(off, v as u32, now),
        }
    }

    /// IA32_APIC_BASE write (SDM 11.12.5): the legal transitions between disabled, xAPIC
    /// and x2APIC; `host` (KVM_SET_MSRS) may set any valid state directly.
    pub(crate) fn set_base(&mut self, v: u64, host: bool) -> Result<Effect, Fault> {
        // Bits 8, 10, 11 and the base address below 52 bits; x2APIC only if offered.
        let mut reserved = !(0x000f_ffff_ffff_f000 | APIC_BASE_BSP | APIC_BASE_EN | APIC_BASE_EXTD);
        if !self.cpuid_x2apic {
            reserved |= APIC_BASE_EXTD;
        }
        if v & reserved != 0 {
            return Err(Fault);
        }
        let old = self.base;
        let (en, extd) = (v & APIC_BASE_EN != 0, v & APIC_BASE_EXTD != 0);
        if extd && !en {
            return Err(Fault);
        }
        if !host {
            let (old_en, old_extd) = (old & APIC_BASE_EN != 0, old & APIC_BASE_EXTD != 0);
            // x2APIC -> xAPIC, and disabled -> x2APIC, are illegal.
            if (old_en && old_extd && en && !extd) || (!old_en && en && extd) {
                return Err(Fault);
            }
        }
        self.base = v;
        if old & APIC_BASE_EN != 0 && !en {
            // Hardware disable: as RESET for everything but the base (SDM 11.4.3).
            let keep = (self.base, self.cpuid_x2apic, self.cpuid_deadline, self.x2apic_id);
            *self = Lapic::new(keep.3, false);
            self.base = keep.0;
            self.cpuid_x2apic = keep.1;
            self.cpuid_deadline = keep.2;
            return Ok(Effect::CancelTimer);
        }
        if v & APIC_BASE_EXTD != 0 && old & APIC_BASE_EXTD == 0 {
            // Entering x2APIC mode: the ID is the x2APIC ID, the LDR derives from it.
            self.ldr = super::state::x2apic_ldr(self.x2apic_id);
        } else if old & APIC_BASE_EXTD != 0 && en && !extd {
            // x2APIC -> xAPIC (the host only; the guest must disable first): the xAPIC ID
            // is the vCPU's again, as KVM's __kvm_apic_set_base() makes it (KVM ABI).
            self.xapic_id = self.x2apic_id as u8;
        }
        Ok(Effect::Readdressed)
    }
}
