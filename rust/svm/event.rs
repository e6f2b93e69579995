// SPDX-License-Identifier: GPL-2.0

//! Event injection and virtual interrupts in the VMCB: EVENTINJ / EXITINTINFO (APM vol. 2,
//! 15.20 "Event Injection"; EXITINTINFO has the same format, 15.7.2) and the
//! int_ctl word's virtual-interrupt fields (15.21.1, table B-1 offset 0x60).
//!
//! No kernel imports: the host unit tests compile this file as is (rsvm-test, svm_tests.rs).

/// EVENTINJ's TYPE field (bits 10:8); rsvm never injects an NMI.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum EventType {
    /// External or virtual interrupt (INTR).
    Intr = 0,
    Nmi = 2,
    /// Exception (fault or trap).
    Exception = 3,
    /// Software interrupt (INTn).
    SoftInt = 4,
}

/// EVENTINJ or EXITINTINFO: VECTOR (7:0), TYPE (10:8), EV (11, error code valid), V (31).
/// The error code itself is the separate 32-bit field next to it.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventInj(pub(crate) u32);

impl EventInj {
    const TYPE_SHIFT: u32 = 8;
    const TYPE_MASK: u32 = 7 << Self::TYPE_SHIFT;
    const EV: u32 = 1 << 11;
    const V: u32 = 1 << 31;

    /// Nothing to inject (V clear).
    pub(crate) const NONE: Self = Self(0);

    /// A valid event of `ty` with `vector`; `error_valid`: the CPU pushes the error code.
    pub(crate) const fn new(vector: u8, ty: EventType, error_valid: bool) -> Self {
        let ev = if error_valid { Self::EV } else { 0 };
        Self(vector as u32 | ((ty as u32) << Self::TYPE_SHIFT) | ev | Self::V)
    }

    /// An external interrupt.
    pub(crate) const fn intr(vector: u8) -> Self {
        Self::new(vector, EventType::Intr, false)
    }

    /// An exception, with an error code if it has one.
    pub(crate) const fn exception(vector: u8, error_valid: bool) -> Self {
        Self::new(vector, EventType::Exception, error_valid)
    }

    pub(crate) const fn valid(self) -> bool {
        self.0 & Self::V != 0
    }

    pub(crate) const fn vector(self) -> u8 {
        self.0 as u8
    }

    /// The TYPE field as is (the reserved encodings 1, 5-7 included).
    pub(crate) const fn type_bits(self) -> u32 {
        (self.0 & Self::TYPE_MASK) >> Self::TYPE_SHIFT
    }

    /// Whether TYPE is `ty` (V not considered).
    pub(crate) const fn is_type(self, ty: EventType) -> bool {
        self.type_bits() == ty as u32
    }

    /// The same event as an external interrupt: TYPE=INTR, EV clear, vector and V kept.
    pub(crate) const fn as_intr(self) -> Self {
        Self(self.0 & !Self::TYPE_MASK & !Self::EV)
    }
}

/// The int_ctl word (VMCB offset 0x60): V_TPR (3:0), V_IRQ (8), V_INTR_PRIO (19:16),
/// V_IGN_TPR (20), V_INTR_MASKING (24). Other bits (V_GIF, AVIC, vNMI) rsvm leaves 0.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct IntCtl(pub(crate) u32);

impl IntCtl {
    const V_TPR_MASK: u32 = 0xf;
    const V_IRQ: u32 = 1 << 8;
    const V_INTR_PRIO_SHIFT: u32 = 16;
    const V_INTR_PRIO_MASK: u32 = 0xf << Self::V_INTR_PRIO_SHIFT;
    const V_IGN_TPR: u32 = 1 << 20;
    const V_INTR_MASKING: u32 = 1 << 24;

    /// V_TPR: the guest's CR8 (TPR bits 7:4).
    pub(crate) const fn v_tpr(self) -> u32 {
        self.0 & Self::V_TPR_MASK
    }

    /// Sets V_TPR to `cr8`'s low four bits.
    pub(crate) fn set_v_tpr(&mut self, cr8: u32) {
        self.0 = (self.0 & !Self::V_TPR_MASK) | (cr8 & Self::V_TPR_MASK);
    }

    /// V_INTR_MASKING: the host's RFLAGS.IF, not the guest's, masks physical interrupts, so
    /// a host interrupt always ends the guest's slice.
    pub(crate) fn set_v_intr_masking(&mut self) {
        self.0 |= Self::V_INTR_MASKING;
    }

    /// A virtual interrupt the guest takes as soon as it can (V_IRQ, priority 0xF, TPR
    /// ignored): with the VINTR intercept, that moment is the interrupt window (15.21.4).
    pub(crate) fn request_window(&mut self) {
        self.0 |= Self::V_IRQ | Self::V_IGN_TPR | Self::V_INTR_PRIO_MASK;
    }

    /// Withdraws `request_window`'s virtual interrupt.
    pub(crate) fn clear_window(&mut self) {
        self.0 &= !(Self::V_IRQ | Self::V_IGN_TPR | Self::V_INTR_PRIO_MASK);
    }
}
