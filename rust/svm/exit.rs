// SPDX-License-Identifier: GPL-2.0

//! #VMEXIT codes (APM vol. 2, appendix C) and the EXITINFO decoders rsvm needs.

pub(crate) const SVM_EXIT_INTR: u64 = 0x060;
pub(crate) const SVM_EXIT_NMI: u64 = 0x061;
pub(crate) const SVM_EXIT_SMI: u64 = 0x062;
pub(crate) const SVM_EXIT_VINTR: u64 = 0x064;
pub(crate) const SVM_EXIT_CPUID: u64 = 0x072;
pub(crate) const SVM_EXIT_HLT: u64 = 0x078;
pub(crate) const SVM_EXIT_INVLPGA: u64 = 0x07a;
pub(crate) const SVM_EXIT_IOIO: u64 = 0x07b;
pub(crate) const SVM_EXIT_MSR: u64 = 0x07c;
pub(crate) const SVM_EXIT_SHUTDOWN: u64 = 0x07f;
pub(crate) const SVM_EXIT_VMRUN: u64 = 0x080;
pub(crate) const SVM_EXIT_VMMCALL: u64 = 0x081;
pub(crate) const SVM_EXIT_VMLOAD: u64 = 0x082;
pub(crate) const SVM_EXIT_VMSAVE: u64 = 0x083;
pub(crate) const SVM_EXIT_STGI: u64 = 0x084;
pub(crate) const SVM_EXIT_CLGI: u64 = 0x085;
pub(crate) const SVM_EXIT_SKINIT: u64 = 0x086;
pub(crate) const SVM_EXIT_XSETBV: u64 = 0x08d;
pub(crate) const SVM_EXIT_NPF: u64 = 0x400;
/// VMEXIT_INVALID: VMRUN refused the VMCB state (after `Vmcb::exit_code` normalises it).
pub(crate) const SVM_EXIT_ERR: u64 = u64::MAX;

/// EXITINFO1 of an IOIO intercept (APM 15.10.2, figure 15-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoioInfo(pub(crate) u64);

impl IoioInfo {
    pub(crate) fn is_in(self) -> bool {
        self.0 & 1 != 0
    }
    pub(crate) fn is_string(self) -> bool {
        self.0 & (1 << 2) != 0
    }
    pub(crate) fn is_rep(self) -> bool {
        self.0 & (1 << 3) != 0
    }
    /// Operand size in bytes (SZ8/SZ16/SZ32, bits 4..6); 0 if the CPU reported none.
    pub(crate) fn size(self) -> u32 {
        match (self.0 >> 4) & 7 {
            1 => 1,
            2 => 2,
            4 => 4,
            _ => 0,
        }
    }
    pub(crate) fn port(self) -> u16 {
        (self.0 >> 16) as u16
    }
}
