// SPDX-License-Identifier: GPL-2.0

//! `KVM_GET_VCPU_EVENTS` / `KVM_SET_VCPU_EVENTS` (KVM_CAP_VCPU_EVENTS, KVM_CAP_INTR_SHADOW):
//! the events a vCPU holds between two entries, as a VMM saves and restores them (x86.c
//! kvm_vcpu_ioctl_x86_get/set_vcpu_events(), Linux 7.2, without the exception-payload and
//! triple-fault capabilities, which rsvm does not offer):
//! - the exception: one rsvm raised or whose delivery an exit cut short (`VcpuState::event`);
//!   KVM reports a pending exception as injected, and ignores `pending` when it is set;
//! - the external interrupt: a KVM_INTERRUPT vector not yet offered (`irq`), or one offered
//!   through V_IRQ and not yet taken, or taken and cut short (`virq`, user or re-injected;
//!   an in-kernel APIC's vectors stay in its IRR and show in KVM_GET_LAPIC instead);
//! - the interrupt shadow (VMCB int_state bit 0, reported as MOV SS and STI, as kvm_amd);
//! - the SIPI vector: never valid when reported (0, as KVM); set, it would be the vector of a
//!   pending SIPI, and rsvm keeps a SIPI and its vector together, so it is accepted and unused.
//!
//! rsvm delivers no NMIs and has no SMM (Documentation/design.md): NMI and SMM state are
//! reported as none, and setting an NMI (injected or pending) or SMM state is `EINVAL` rather
//! than dropped. `nmi.masked` is accepted and has nothing to mask.

use super::{state::VcpuState, Vcpu};
use crate::{
    svm::event::{EventInj, EventType, VirqSource},
    uapi::kvm::*,
    x86::NMI_VECTOR,
};
use kernel::prelude::*;

/// int_state bit 0: the interrupt shadow.
const INT_SHADOW: u32 = 1;

impl Vcpu {
    pub(super) fn get_vcpu_events(&self) -> KvmVcpuEvents {
        Self::events_of(&mut self.state.lock())
    }

    pub(super) fn set_vcpu_events(&self, e: &KvmVcpuEvents) -> Result {
        Self::set_events_st(&mut self.state.lock(), e)
    }

    /// The events `st` holds, as KVM_GET_VCPU_EVENTS reports them.
    pub(super) fn events_of(st: &mut VcpuState) -> KvmVcpuEvents {
        let mut e = KvmVcpuEvents {
            flags: KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM,
            ..Default::default()
        };
        if let Some((ev, err)) = st.event {
            if ev.is_type(EventType::Exception) {
                e.exception_injected = 1;
                e.exception_nr = ev.vector();
                e.exception_has_error_code = ev.error_valid() as u8;
                e.exception_error_code = err;
            }
        }
        let intr = match st.virq {
            Some(q) if q.source != VirqSource::Apic => Some(q.vector),
            _ => st.irq,
        };
        if let Some(v) = intr {
            e.interrupt_injected = 1;
            e.interrupt_nr = v;
        }
        if st.vmcb().control.int_state & INT_SHADOW != 0 {
            e.interrupt_shadow = KVM_X86_SHADOW_INT_BOTH;
        }
        e
    }

    /// KVM_SET_VCPU_EVENTS on `st`. KVM's checks, in its order: unknown flags (exception payloads
    /// and triple-fault events included, capabilities rsvm does not offer), an exception vector
    /// above 31 or NMI's; then rsvm's: NMI and SMM state. All `EINVAL`, and nothing changed.
    pub(super) fn set_events_st(st: &mut VcpuState, e: &KvmVcpuEvents) -> Result {
        let known = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
        if e.flags & !known != 0 {
            return Err(EINVAL);
        }
        if e.exception_injected != 0 && (e.exception_nr > 31 || e.exception_nr == NMI_VECTOR) {
            return Err(EINVAL);
        }
        let nmi_pending = e.flags & KVM_VCPUEVENT_VALID_NMI_PENDING != 0 && e.nmi_pending != 0;
        let smm = e.flags & KVM_VCPUEVENT_VALID_SMM != 0 && (e.smi_smm != 0 || e.smi_pending != 0 || e.smi_smm_inside_nmi != 0 || e.smi_latched_init != 0);
        if e.nmi_injected != 0 || nmi_pending || smm {
            return Err(EINVAL);
        }
        st.event = (e.exception_injected != 0).then(|| {
            let ev = EventInj::exception(e.exception_nr, e.exception_has_error_code != 0);
            (ev, e.exception_error_code)
        });
        // An injected interrupt is delivered when the guest can take it, as a KVM_INTERRUPT
        // vector is; none clears any the vCPU held.
        st.virq = st.virq.filter(|q| q.source == VirqSource::Apic);
        st.irq = (e.interrupt_injected != 0).then_some(e.interrupt_nr);
        if e.flags & KVM_VCPUEVENT_VALID_SHADOW != 0 {
            let v = st.vmcb();
            if e.interrupt_shadow != 0 {
                v.control.int_state |= INT_SHADOW;
            } else {
                v.control.int_state &= !INT_SHADOW;
            }
        }
        Ok(())
    }
}
