// SPDX-License-Identifier: GPL-2.0

//! Interrupt messages between local APICs (SDM 11.6, 11.11): an IPI (ICR write) or an MSI
//! as a [`Message`], and the [`Route`] of an APIC a message's destination is matched
//! against. The register file (`super::Lapic`) produces messages and publishes its route;
//! the VM delivers one to every APIC whose route matches.

/// ICR / MSI delivery modes (SDM 11.6.1).
pub(crate) const DM_FIXED: u8 = 0;
pub(crate) const DM_LOWEST: u8 = 1;
pub(crate) const DM_INIT: u8 = 5;
pub(crate) const DM_SIPI: u8 = 6;

/// An interrupt message: an IPI (ICR write) or an MSI (`KVM_SIGNAL_MSI`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Message {
    pub(crate) vector: u8,
    pub(crate) delivery: u8,
    pub(crate) logical: bool,
    /// 0 none, 1 self, 2 all including self, 3 all excluding self.
    pub(crate) shorthand: u8,
    pub(crate) dest: u32,
    pub(crate) level_trigger: bool,
    /// ICR bit 14 (level: assert); 0 with level trigger is an INIT "de-assert", which
    /// modern APICs ignore.
    pub(crate) assert: bool,
}

impl Message {
    /// An MSI as the VMM hands it to `KVM_SIGNAL_MSI` (address 0xFEExxxxx, SDM 11.11):
    /// destination in address bits 19:12, logical mode in bit 2; vector, delivery mode and
    /// trigger mode in the data word.
    pub(crate) fn from_msi(address_lo: u32, data: u32) -> Self {
        Message {
            vector: data as u8,
            delivery: ((data >> 8) & 7) as u8,
            logical: address_lo & (1 << 2) != 0,
            shorthand: 0,
            dest: (address_lo >> 12) & 0xff,
            level_trigger: data & (1 << 15) != 0,
            assert: true,
        }
    }
}

/// How another APIC is addressed: what a message's destination is matched against.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Route {
    /// Hardware- and software-enabled: takes fixed interrupts.
    pub(crate) enabled: bool,
    /// Hardware-enabled: takes INIT and SIPI even while software-disabled (SDM 11.4.7.2).
    pub(crate) hw_enabled: bool,
    pub(crate) x2apic: bool,
    /// Physical APIC ID (8 bits in xAPIC mode).
    pub(crate) id: u32,
    pub(crate) ldr: u32,
    /// DFR model 0000b: cluster (xAPIC only).
    pub(crate) cluster: bool,
}

impl Route {
    /// Does a message with destination `dest` (no shorthand) reach this APIC?
    pub(crate) fn matches(&self, m: &Message, is_self: bool) -> bool {
        let init_sipi = m.delivery == DM_INIT || m.delivery == DM_SIPI;
        if !(self.enabled || (init_sipi && self.hw_enabled)) {
            return false;
        }
        match m.shorthand {
            1 => return is_self,
            2 => return true,
            3 => return !is_self,
            _ => {}
        }
        let broadcast = if self.x2apic { 0xffff_ffff } else { 0xff };
        if m.dest == broadcast {
            return true;
        }
        if !m.logical {
            return m.dest == self.id;
        }
        if self.x2apic {
            // Cluster in bits 31:16, one bit per APIC of the cluster in 15:0.
            m.dest >> 16 == self.ldr >> 16 && m.dest & self.ldr & 0xffff != 0
        } else {
            let ldr = (self.ldr >> 24) as u8;
            let dest = m.dest as u8;
            if self.cluster {
                dest >> 4 == ldr >> 4 && dest & ldr & 0xf != 0
            } else {
                dest & ldr != 0
            }
        }
    }
}
