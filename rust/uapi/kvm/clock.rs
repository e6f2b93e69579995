// SPDX-License-Identifier: GPL-2.0

//! kvm-clock's ABI (Linux 7.2): `KVM_GET/SET_CLOCK` (KVM_CAP_ADJUST_CLOCK) from
//! include/uapi/linux/kvm.h, the paravirtual MSRs and CPUID feature bits from
//! arch/x86/include/uapi/asm/kvm_para.h, the guest's pvclock page from
//! arch/x86/include/asm/pvclock-abi.h.

use super::KVMIO;
use core::mem::{offset_of, size_of};
use kernel::{
    ioctl::{_IOR, _IOW},
    static_assert,
    transmute::{AsBytes, FromBytes},
};

pub(crate) const KVM_SET_CLOCK: u32 = _IOW::<KvmClockData>(KVMIO, 0x7b);
pub(crate) const KVM_GET_CLOCK: u32 = _IOR::<KvmClockData>(KVMIO, 0x7c);
pub(crate) const KVM_CAP_ADJUST_CLOCK: u64 = 39;
pub(crate) const KVM_CLOCK_TSC_STABLE: u32 = 2;
pub(crate) const KVM_CLOCK_REALTIME: u32 = 1 << 2;
pub(crate) const KVM_CLOCK_HOST_TSC: u32 = 1 << 3;
/// KVM's KVM_CLOCK_VALID_FLAGS (x86.c): the flags `KVM_SET_CLOCK` accepts and
/// KVM_CAP_ADJUST_CLOCK reports.
pub(crate) const KVM_CLOCK_VALID_FLAGS: u32 = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;

/// The paravirtual clock MSRs: the old pair (KVM_FEATURE_CLOCKSOURCE) and the new
/// (KVM_FEATURE_CLOCKSOURCE2), the same semantics.
pub(crate) const MSR_KVM_WALL_CLOCK: u32 = 0x11;
pub(crate) const MSR_KVM_SYSTEM_TIME: u32 = 0x12;
pub(crate) const MSR_KVM_WALL_CLOCK_NEW: u32 = 0x4b56_4d00;
pub(crate) const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b56_4d01;
/// CPUID 4000_0001h EAX bits.
pub(crate) const KVM_FEATURE_CLOCKSOURCE: u32 = 1 << 0;
pub(crate) const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;
pub(crate) const KVM_FEATURE_CLOCKSOURCE_STABLE_BIT: u32 = 1 << 24;
/// `pvclock_vcpu_time_info.flags`: every vCPU's clock is from the same reference.
pub(crate) const PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;

/// `struct kvm_clock_data`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmClockData {
    pub(crate) clock: u64,
    pub(crate) flags: u32,
    pub(crate) pad0: u32,
    pub(crate) realtime: u64,
    pub(crate) host_tsc: u64,
    pub(crate) pad: [u32; 4],
}
static_assert!(size_of::<KvmClockData>() == 48);
static_assert!(offset_of!(KvmClockData, realtime) == 16);

/// `struct pvclock_vcpu_time_info`, the page MSR_KVM_SYSTEM_TIME(_NEW) points at.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct PvclockVcpuTimeInfo {
    pub(crate) version: u32,
    pub(crate) pad0: u32,
    pub(crate) tsc_timestamp: u64,
    pub(crate) system_time: u64,
    pub(crate) tsc_to_system_mul: u32,
    pub(crate) tsc_shift: i8,
    pub(crate) flags: u8,
    pub(crate) pad: [u8; 2],
}
static_assert!(size_of::<PvclockVcpuTimeInfo>() == 32);
static_assert!(offset_of!(PvclockVcpuTimeInfo, tsc_shift) == 28);

/// `struct pvclock_wall_clock`, the one MSR_KVM_WALL_CLOCK(_NEW) points at.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct PvclockWallClock {
    pub(crate) version: u32,
    pub(crate) sec: u32,
    pub(crate) nsec: u32,
}
static_assert!(size_of::<PvclockWallClock>() == 12);

pod!(KvmClockData, PvclockVcpuTimeInfo, PvclockWallClock);
