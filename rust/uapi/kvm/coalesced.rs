// SPDX-License-Identifier: GPL-2.0

//! Coalesced MMIO and PIO (KVM_CAP_COALESCED_MMIO, KVM_CAP_COALESCED_PIO), as in Linux
//! 7.2's include/uapi/linux/kvm.h: the zones a VMM registers and the ring the vCPU mmap
//! carries at page KVM_COALESCED_MMIO_PAGE_OFFSET.

use super::KVMIO;
use core::mem::{offset_of, size_of};
use kernel::{
    ioctl::_IOW,
    static_assert,
    transmute::{AsBytes, FromBytes},
};

pub(crate) const KVM_REGISTER_COALESCED_MMIO: u32 = _IOW::<KvmCoalescedMmioZone>(KVMIO, 0x67);
pub(crate) const KVM_UNREGISTER_COALESCED_MMIO: u32 = _IOW::<KvmCoalescedMmioZone>(KVMIO, 0x68);
/// KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO) answers the ring's page in the vCPU mmap.
pub(crate) const KVM_CAP_COALESCED_MMIO: u64 = 15;
pub(crate) const KVM_CAP_COALESCED_PIO: u64 = 162;
/// arch/x86/include/uapi/asm/kvm.h: kvm_run, the PIO data page, then the ring.
pub(crate) const KVM_COALESCED_MMIO_PAGE_OFFSET: usize = 2;

/// `struct kvm_coalesced_mmio_zone` (`pio` is the union with `pad`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmCoalescedMmioZone {
    pub(crate) addr: u64,
    pub(crate) size: u32,
    pub(crate) pio: u32,
}
static_assert!(size_of::<KvmCoalescedMmioZone>() == 16);

/// `struct kvm_coalesced_mmio`, one ring entry.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmCoalescedMmio {
    pub(crate) phys_addr: u64,
    pub(crate) len: u32,
    pub(crate) pio: u32,
    pub(crate) data: [u8; 8],
}
static_assert!(size_of::<KvmCoalescedMmio>() == 24);
static_assert!(offset_of!(KvmCoalescedMmio, data) == 16);

/// `struct kvm_coalesced_mmio_ring`'s header: the entries follow it.
pub(crate) const RING_FIRST: usize = 0;
pub(crate) const RING_LAST: usize = 4;
pub(crate) const RING_ENTRIES: usize = 8;
/// KVM_COALESCED_MMIO_MAX: the entries a 4 KiB ring holds.
pub(crate) const KVM_COALESCED_MMIO_MAX: u32 = ((4096 - RING_ENTRIES) / size_of::<KvmCoalescedMmio>()) as u32;
static_assert!(KVM_COALESCED_MMIO_MAX == 170);

pod!(KvmCoalescedMmioZone, KvmCoalescedMmio);
