// SPDX-License-Identifier: GPL-2.0

//! The vCPU state a VMM saves and restores beyond registers and FPU (KVM_GET/SET_VCPU_EVENTS,
//! KVM_GET/SET_DEBUGREGS, KVM_GET/SET_LAPIC), the capabilities and flags around them
//! (KVM_CAP_SYNC_REGS, KVM_CAP_X2APIC_API, binary stats, the TSC attribute), as in Linux 7.2's uapi headers.

use super::KVMIO;
use core::mem::{offset_of, size_of};
use kernel::{
    ioctl::{_IOR, _IOW},
    static_assert,
    transmute::{AsBytes, FromBytes},
};

pub(crate) const KVM_GET_VCPU_EVENTS: u32 = _IOR::<KvmVcpuEvents>(KVMIO, 0x9f);
pub(crate) const KVM_SET_VCPU_EVENTS: u32 = _IOW::<KvmVcpuEvents>(KVMIO, 0xa0);
pub(crate) const KVM_GET_DEBUGREGS: u32 = _IOR::<KvmDebugregs>(KVMIO, 0xa1);
pub(crate) const KVM_SET_DEBUGREGS: u32 = _IOW::<KvmDebugregs>(KVMIO, 0xa2);
pub(crate) const KVM_GET_LAPIC: u32 = _IOR::<KvmLapicState>(KVMIO, 0x8e);
pub(crate) const KVM_SET_LAPIC: u32 = _IOW::<KvmLapicState>(KVMIO, 0x8f);
pub(crate) const KVM_CAP_X2APIC_API: u32 = 129;
pub(crate) const KVM_CAP_BINARY_STATS_FD: u64 = 203;
pub(crate) const KVM_CAP_DEBUGREGS: u64 = 50;
pub(crate) const KVM_CAP_SYNC_REGS: u64 = 74;
/// kvm_run.kvm_valid_regs / kvm_dirty_regs bits (KVM_CAP_SYNC_REGS).
pub(crate) const KVM_SYNC_X86_REGS: u64 = 1 << 0;
pub(crate) const KVM_SYNC_X86_SREGS: u64 = 1 << 1;
pub(crate) const KVM_SYNC_X86_EVENTS: u64 = 1 << 2;
pub(crate) const KVM_SYNC_X86_VALID_FIELDS: u64 = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
pub(crate) const KVM_CAP_VCPU_EVENTS: u64 = 41;
/// vCPU device attributes (KVM_{HAS,GET,SET}_DEVICE_ATTR on the vCPU fd): the TSC group and
/// its one attribute, the guest's TSC offset (arch/x86/include/uapi/asm/kvm.h).
pub(crate) const KVM_CAP_VCPU_ATTRIBUTES: u64 = 127;
pub(crate) const KVM_VCPU_TSC_CTRL: u32 = 0;
pub(crate) const KVM_VCPU_TSC_OFFSET: u64 = 0;
pub(crate) const KVM_CAP_INTR_SHADOW: u64 = 49;
// kvm_vcpu_events.flags
pub(crate) const KVM_VCPUEVENT_VALID_NMI_PENDING: u32 = 1 << 0;
pub(crate) const KVM_VCPUEVENT_VALID_SIPI_VECTOR: u32 = 1 << 1;
pub(crate) const KVM_VCPUEVENT_VALID_SHADOW: u32 = 1 << 2;
pub(crate) const KVM_VCPUEVENT_VALID_SMM: u32 = 1 << 3;
/// KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI: SVM's one shadow bit is both.
pub(crate) const KVM_X86_SHADOW_INT_BOTH: u8 = 3;
/// KVM_CAP_X2APIC_API flags rsvm implements: 32-bit x2APIC IDs in KVM_GET/SET_LAPIC and in
/// MSI addresses (bits 31:8 of address_hi), and no MSI broadcast quirk. KVM 7.2's
/// suppress-EOI-broadcast flags (bits 2, 3) are EINVAL: rsvm does not honour SVR bit 12.
pub(crate) const KVM_X2APIC_API_USE_32BIT_IDS: u64 = 1 << 0;
pub(crate) const KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK: u64 = 1 << 1;
/// `struct kvm_vcpu_events`, its nested structs flattened (same offsets, asserted below).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmVcpuEvents {
    pub(crate) exception_injected: u8,
    pub(crate) exception_nr: u8,
    pub(crate) exception_has_error_code: u8,
    pub(crate) exception_pending: u8,
    pub(crate) exception_error_code: u32,
    pub(crate) interrupt_injected: u8,
    pub(crate) interrupt_nr: u8,
    pub(crate) interrupt_soft: u8,
    pub(crate) interrupt_shadow: u8,
    pub(crate) nmi_injected: u8,
    pub(crate) nmi_pending: u8,
    pub(crate) nmi_masked: u8,
    pub(crate) nmi_pad: u8,
    pub(crate) sipi_vector: u32,
    pub(crate) flags: u32,
    pub(crate) smi_smm: u8,
    pub(crate) smi_pending: u8,
    pub(crate) smi_smm_inside_nmi: u8,
    pub(crate) smi_latched_init: u8,
    pub(crate) triple_fault_pending: u8,
    pub(crate) reserved: [u8; 26],
    pub(crate) exception_has_payload: u8,
    pub(crate) exception_payload: u64,
}

/// `struct kvm_debugregs`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmDebugregs {
    pub(crate) db: [u64; 4],
    pub(crate) dr6: u64,
    pub(crate) dr7: u64,
    pub(crate) flags: u64,
    pub(crate) reserved: [u64; 9],
}

/// `struct kvm_lapic_state`: the local APIC's register page (KVM_APIC_REG_SIZE).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct KvmLapicState {
    pub(crate) regs: [u8; 1024],
}
static_assert!(size_of::<KvmLapicState>() == 1024);
static_assert!(size_of::<KvmDebugregs>() == 128);
static_assert!(offset_of!(KvmDebugregs, flags) == 48);
static_assert!(size_of::<KvmVcpuEvents>() == 64);
static_assert!(offset_of!(KvmVcpuEvents, interrupt_injected) == 8);
static_assert!(offset_of!(KvmVcpuEvents, nmi_injected) == 12);
static_assert!(offset_of!(KvmVcpuEvents, sipi_vector) == 16);
static_assert!(offset_of!(KvmVcpuEvents, flags) == 20);
static_assert!(offset_of!(KvmVcpuEvents, smi_smm) == 24);
static_assert!(offset_of!(KvmVcpuEvents, triple_fault_pending) == 28);
static_assert!(offset_of!(KvmVcpuEvents, exception_has_payload) == 55);
static_assert!(offset_of!(KvmVcpuEvents, exception_payload) == 56);

pod!(KvmLapicState, KvmDebugregs, KvmVcpuEvents);
