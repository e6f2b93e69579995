// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of /dev/rsvm: KVM's numbers (type 0xAE) for the KVM subset, and rsvm's own
//! range (type 0xAF, numbers 0x80..0xFF, unused by other drivers) for rsvm-only ioctls.
//! See Documentation/ioctl-abi.md.

use core::mem::{offset_of, size_of};
use kernel::{ioctl::_IOR, static_assert, transmute::AsBytes};

pub(crate) mod kvm;

pub(crate) const RSVMIO: u32 = 0xAF;

pub(crate) const SELFTEST_MAX_EXITS: usize = 8;

/// One exit of the self-test guest.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmSelftestExit {
    pub(crate) exit_code: u64,
    pub(crate) exit_info_1: u64,
    pub(crate) exit_info_2: u64,
    pub(crate) rip: u64,
    pub(crate) next_rip: u64,
    pub(crate) rax: u64,
    pub(crate) rdx: u64,
}

/// Result of `RSVM_SELFTEST_WORLD_SWITCH`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmSelftest {
    pub(crate) npt_levels: u32,
    pub(crate) nr_exits: u32,
    pub(crate) exits: [RsvmSelftestExit; SELFTEST_MAX_EXITS],
}

static_assert!(size_of::<RsvmSelftestExit>() == 56);
static_assert!(size_of::<RsvmSelftest>() == 8 + 8 * 56);
static_assert!(offset_of!(RsvmSelftest, exits) == 8);

// SAFETY: both are `repr(C)` with only integer fields and no padding (asserted sizes).
unsafe impl AsBytes for RsvmSelftestExit {}
// SAFETY: as above.
unsafe impl AsBytes for RsvmSelftest {}

/// Runs the built-in world-switch self-test; the result is written to the argument.
pub(crate) const RSVM_SELFTEST_WORLD_SWITCH: u32 = _IOR::<RsvmSelftest>(RSVMIO, 0x80);

/// Number of exit counters in `RsvmVcpuStats::exits` (`svm::exit::Stat` declares them).
pub(crate) const STAT_NR: usize = crate::svm::exit::Stat::NR;
/// Their names, in order (also the debugfs per-vCPU file's lines).
pub(crate) const STAT_NAMES: [&str; STAT_NR] = crate::svm::exit::Stat::NAMES;
// The ABI has 16 counters; `svm::exit::Stat` is their one list.
static_assert!(STAT_NR == 16);

/// Result of `RSVM_GET_VCPU_STATS` (on a vCPU fd).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmVcpuStats {
    /// Exits by reason: io, mmio, hlt, cpuid, msr, npf, intr, vintr, shutdown, fail_entry,
    /// ud, vmmcall, xsetbv, exception, other, total.
    pub(crate) exits: [u64; STAT_NR],
    /// Guest pages the VM has pinned.
    pub(crate) pinned_pages: u64,
    /// NPT leaves the VM has mapped, 4 KiB and 2 MiB.
    pub(crate) npt_leaves_4k: u64,
    pub(crate) npt_leaves_2m: u64,
}
static_assert!(size_of::<RsvmVcpuStats>() == 8 * (STAT_NR + 3));
// SAFETY: `repr(C)`, u64 fields only, no padding (asserted).
unsafe impl AsBytes for RsvmVcpuStats {}

/// Exit counters and memory figures of a vCPU and its VM.
pub(crate) const RSVM_GET_VCPU_STATS: u32 = _IOR::<RsvmVcpuStats>(RSVMIO, 0x81);

/// Argument of `RSVM_BENCH_FLOOR`: in `iterations`, out `tsc_delta`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmBenchFloor {
    pub(crate) iterations: u64,
    pub(crate) tsc_delta: u64,
}
static_assert!(size_of::<RsvmBenchFloor>() == 16);
// SAFETY: `repr(C)`, two u64, no padding.
unsafe impl AsBytes for RsvmBenchFloor {}
// SAFETY: as above; any bit pattern is valid.
unsafe impl kernel::transmute::FromBytes for RsvmBenchFloor {}

/// The benchmark floor: a bare VMRUN/#VMEXIT loop inside the module (system fd).
pub(crate) const RSVM_BENCH_FLOOR: u32 = kernel::ioctl::_IOWR::<RsvmBenchFloor>(RSVMIO, 0x82);

// Device assignment (Documentation/ioctl-abi.md, "Device assignment"): VM fd ioctls.

/// A PCI function by segment, bus and devfn (`struct rsvm_pci_device`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmPciDevice {
    pub(crate) segment: u16,
    pub(crate) bus: u8,
    pub(crate) devfn: u8,
    /// Must be 0.
    pub(crate) flags: u32,
}
static_assert!(size_of::<RsvmPciDevice>() == 8);

/// `RSVM_MAP_DEVICE_BAR`: memory BAR `bar` of the device at guest-physical `gpa`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmDeviceBar {
    pub(crate) dev: RsvmPciDevice,
    pub(crate) bar: u32,
    pub(crate) flags: u32,
    pub(crate) gpa: u64,
}
static_assert!(size_of::<RsvmDeviceBar>() == 24);

/// `RSVM_DEVICE_CONFIG`: one config-space access of 1, 2 or 4 bytes.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmDeviceConfig {
    pub(crate) dev: RsvmPciDevice,
    pub(crate) offset: u32,
    pub(crate) size: u32,
    /// 0: read (the result in `value`), 1: write `value` (filtered).
    pub(crate) write: u32,
    pub(crate) value: u32,
}
static_assert!(size_of::<RsvmDeviceConfig>() == 24);

/// `RSVM_DEVICE_MSI`: where the device's MSI goes in the guest (also `RSVM_DEVICE_INTX`:
/// where its INTx goes).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmDeviceMsi {
    pub(crate) dev: RsvmPciDevice,
    pub(crate) address_lo: u32,
    pub(crate) address_hi: u32,
    pub(crate) data: u32,
    /// Bit 0: enabled; other bits must be 0.
    pub(crate) flags: u32,
}
static_assert!(size_of::<RsvmDeviceMsi>() == 24);

/// `RSVM_DEVICE_EVENTS`: IOMMU event records of the device, taken from its queue.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmDeviceEvents {
    pub(crate) dev: RsvmPciDevice,
    /// In: room at `records` (16-byte records); out: how many were written.
    pub(crate) nr: u32,
    pub(crate) pad: u32,
    /// Out: IO_PAGE_FAULT events, all events, events dropped (queue full), interrupts (MSI
    /// and INTx) delivered.
    pub(crate) io_page_faults: u64,
    pub(crate) events: u64,
    pub(crate) lost: u64,
    pub(crate) interrupts: u64,
    /// User pointer to `nr` records of two u64 each (the event log's format, §2.5).
    pub(crate) records: u64,
}
static_assert!(size_of::<RsvmDeviceEvents>() == 56);

/// `RSVM_DEVICE_EVENTFD`: an eventfd signalled for every event record filed for the device
/// (`fd` -1: none).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RsvmDeviceEventfd {
    pub(crate) dev: RsvmPciDevice,
    pub(crate) fd: i32,
    /// Must be 0.
    pub(crate) flags: u32,
}
static_assert!(size_of::<RsvmDeviceEventfd>() == 16);

// SAFETY (all six): `repr(C)`, integer fields only, sizes asserted equal to the sum of the
// fields (no padding), any bit pattern is valid.
unsafe impl AsBytes for RsvmPciDevice {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for RsvmPciDevice {}
// SAFETY: as above.
unsafe impl AsBytes for RsvmDeviceBar {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for RsvmDeviceBar {}
// SAFETY: as above.
unsafe impl AsBytes for RsvmDeviceConfig {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for RsvmDeviceConfig {}
// SAFETY: as above.
unsafe impl AsBytes for RsvmDeviceMsi {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for RsvmDeviceMsi {}
// SAFETY: as above.
unsafe impl AsBytes for RsvmDeviceEvents {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for RsvmDeviceEvents {}
// SAFETY: as above.
unsafe impl AsBytes for RsvmDeviceEventfd {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for RsvmDeviceEventfd {}

pub(crate) const RSVM_ASSIGN_DEVICE: u32 = kernel::ioctl::_IOW::<RsvmPciDevice>(RSVMIO, 0x83);
pub(crate) const RSVM_RELEASE_DEVICE: u32 = kernel::ioctl::_IOW::<RsvmPciDevice>(RSVMIO, 0x84);
pub(crate) const RSVM_MAP_DEVICE_BAR: u32 = kernel::ioctl::_IOW::<RsvmDeviceBar>(RSVMIO, 0x85);
pub(crate) const RSVM_DEVICE_CONFIG: u32 = kernel::ioctl::_IOWR::<RsvmDeviceConfig>(RSVMIO, 0x86);
pub(crate) const RSVM_DEVICE_MSI: u32 = kernel::ioctl::_IOW::<RsvmDeviceMsi>(RSVMIO, 0x87);
pub(crate) const RSVM_DEVICE_EVENTS: u32 = kernel::ioctl::_IOWR::<RsvmDeviceEvents>(RSVMIO, 0x88);
pub(crate) const RSVM_DEVICE_EVENTFD: u32 = kernel::ioctl::_IOW::<RsvmDeviceEventfd>(RSVMIO, 0x8a);
/// Routes the device's INTx (level-triggered) to the guest as the `RsvmDeviceMsi` message:
/// what the VMM's IOAPIC redirection entry for the device's pin translates to.
pub(crate) const RSVM_DEVICE_INTX: u32 = kernel::ioctl::_IOW::<RsvmDeviceMsi>(RSVMIO, 0x89);
