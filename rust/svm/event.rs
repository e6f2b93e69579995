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

    /// An external interrupt. rsvm hands those to the CPU as the virtual interrupt
    /// (vcpu/state.rs, `Virq`); this stays for EXITINTINFO comparisons and the host tests.
    #[allow(dead_code)]
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

    /// EV: the CPU pushes an error code.
    pub(crate) const fn error_valid(self) -> bool {
        self.0 & Self::EV != 0
    }

    /// The TYPE field as is (the reserved encodings 1, 5-7 included).
    pub(crate) const fn type_bits(self) -> u32 {
        (self.0 & Self::TYPE_MASK) >> Self::TYPE_SHIFT
    }

    /// Whether TYPE is `ty` (V not considered).
    pub(crate) const fn is_type(self, ty: EventType) -> bool {
        self.type_bits() == ty as u32
    }

    /// An "exception" with a vector of 32 or more, which no CPU reports: QEMU's TCG writes
    /// that into EXITINTINFO for an external or virtual interrupt whose delivery faulted.
    pub(crate) const fn is_interrupt_as_exception(self) -> bool {
        self.is_type(EventType::Exception) && self.vector() >= 32
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

    /// V_IRQ: a virtual interrupt is pending. The CPU clears it when the guest takes the
    /// interrupt (and writes int_ctl back at #VMEXIT), so after an exit a clear V_IRQ
    /// means the interrupt was delivered (APM 15.21.4).
    pub(crate) const fn v_irq(self) -> bool {
        self.0 & Self::V_IRQ != 0
    }

    /// A virtual interrupt the guest takes as soon as it can (V_IRQ, priority 0xF, TPR
    /// ignored): with the VINTR intercept, that moment is the interrupt window (15.21.4);
    /// without it, the guest takes the vector in int_vector.
    pub(crate) fn request_window(&mut self) {
        self.0 |= Self::V_IRQ | Self::V_IGN_TPR | Self::V_INTR_PRIO_MASK;
    }

    /// Withdraws `request_window`'s virtual interrupt.
    pub(crate) fn clear_window(&mut self) {
        self.0 &= !(Self::V_IRQ | Self::V_IGN_TPR | Self::V_INTR_PRIO_MASK);
    }
}

/// Where an external interrupt handed to the CPU as the virtual interrupt came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VirqSource {
    /// The in-kernel APIC's highest deliverable vector, still requested (IRR): it moves to
    /// in-service only once the guest took it, so an exit first re-chooses.
    Apic,
    /// A KVM_INTERRUPT vector (userspace irqchip).
    User,
    /// An interrupt the guest took but whose delivery an exit interrupted (EXITINTINFO).
    Reinjected,
}

/// An external interrupt delivered through V_IRQ and int_vector rather than EVENTINJ.
///
/// Why not EVENTINJ: QEMU's TCG (7.2 as in Debian 12, and still 10.2) delivers an
/// EVENTINJ interrupt inside VMRUN without resetting its pending-exception slot, so the next
/// bare kick of that vCPU thread delivers the same vector again, at any instruction and
/// whatever RFLAGS.IF says. From user mode the second delivery lands before the handler's
/// SWAPGS, and the guest kernel runs with the user GS base (issue 12's lost guest). The
/// virtual interrupt goes through QEMU's normal interrupt path, and on hardware it is the
/// architected way to hand a vector to a guest that takes it when IF allows (APM 15.21.4),
/// which also saves the interrupt-window exit EVENTINJ needs while IF=0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Virq {
    pub(crate) vector: u8,
    pub(crate) source: VirqSource,
}

/// What an exit means for the events of the entry before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Completion {
    /// The guest took this APIC vector: requested -> in service.
    pub(crate) ack: Option<u8>,
    /// The guest took the virtual interrupt during this run.
    pub(crate) taken: bool,
    /// The virtual interrupt to keep offering (an APIC one is chosen afresh instead).
    pub(crate) virq: Option<Virq>,
    /// An event to inject with EVENTINJ again (EXITINTINFO), with its error code.
    pub(crate) event: Option<(EventInj, u32)>,
}

/// The rules after an exit, as KVM's svm_complete_interrupts(), for an entry that offered
/// `offered` through V_IRQ and `injected` through EVENTINJ: `virq_pending` is V_IRQ as the
/// CPU wrote it back, `info`/`err` are EXITINTINFO.
pub(crate) fn complete(offered: Option<Virq>, virq_pending: bool, injected: EventInj, info: EventInj, err: u32) -> Completion {
    let mut c = Completion { ack: None, taken: false, virq: None, event: None };
    if let Some(q) = offered {
        if virq_pending {
            if q.source != VirqSource::Apic {
                c.virq = Some(q);
            }
        } else {
            c.taken = true;
            if q.source == VirqSource::Apic {
                c.ack = Some(q.vector);
            }
        }
    }
    if !info.valid() {
        return c;
    }
    let mut info = info;
    // QEMU reports a faulting external-interrupt delivery as an exception: normalise.
    if info.is_interrupt_as_exception() || (injected.valid() && injected.is_type(EventType::Intr) && injected.vector() == info.vector()) {
        info = info.as_intr();
    }
    if info.is_type(EventType::Intr) {
        match offered {
            // QEMU cut the delivery short before it cleared V_IRQ: still offered as is.
            Some(q) if virq_pending && q.vector == info.vector() => {}
            // Taken, and its delivery interrupted: offered again, already acknowledged.
            _ => c.virq = Some(Virq { vector: info.vector(), source: VirqSource::Reinjected }),
        }
        return c;
    }
    // Software interrupts (and #BP/#OF) restart with their instruction instead.
    let restarts = (info.is_type(EventType::Exception) && matches!(info.vector(), 3 | 4)) || info.is_type(EventType::SoftInt);
    if !restarts {
        c.event = Some((info, err));
    }
    c
}
