// SPDX-License-Identifier: GPL-2.0

//! APIC errors (SDM 11.5.3, APM 16.4.6): illegal vectors 0-15, the error status register
//! and the LVT error interrupt. A fixed interrupt with a vector below 16 is dropped, sent or
//! received, and logged; the guest sees the log in ESR after its next ESR write ("write,
//! then read"), and an unmasked LVT error entry raises its interrupt. KVM does not model
//! these (its ESR reads 0); rsvm follows the manuals, as the hardware does.

use super::{Lapic, LVT_MASKED};

/// ESR bit 5: a message this APIC sent had an illegal vector (it was not sent).
pub(crate) const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
/// ESR bit 6: an interrupt with an illegal vector arrived or was generated here (dropped).
pub(crate) const ESR_RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;

/// Index of the LVT error entry in `Lapic::lvt`.
const LVT_ERROR: usize = 5;

/// Vectors 0-15 are reserved for exceptions: an APIC never delivers them as interrupts.
pub(crate) const fn illegal_vector(v: u8) -> bool {
    v < 16
}

impl Lapic {
    /// Logs `bit` and raises the LVT error interrupt unless it is masked (or would itself be
    /// illegal, which only logs: no error loop).
    pub(super) fn error(&mut self, bit: u32) {
        self.esr_pending |= bit;
        let lvt = self.lvt[LVT_ERROR];
        if lvt & LVT_MASKED != 0 {
            return;
        }
        let v = lvt as u8;
        if illegal_vector(v) {
            self.esr_pending |= ESR_RECEIVE_ILLEGAL_VECTOR;
        } else {
            self.request(v, false);
        }
    }

    /// ESR write: the errors logged since the last write become readable, the log restarts.
    pub(super) fn write_esr(&mut self) {
        self.esr = core::mem::take(&mut self.esr_pending);
    }
}
