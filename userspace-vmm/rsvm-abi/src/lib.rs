//! Userspace copies of rsvm's ioctl ABI (rust/uapi.rs in the module).
//!
//! The KVM subset uses KVM's numbers and `kvm-bindings`' layouts, so clients use
//! `kvm-ioctls` directly; this crate carries only what rsvm adds (type 0xAF, numbers
//! 0x80..0xFF), with compile-time checks that it matches the module's layout.

use static_assertions::const_assert_eq;
use std::mem::{offset_of, size_of};
use vmm_sys_util::{ioctl_io_nr, ioctl_ior_nr, ioctl_iow_nr, ioctl_iowr_nr};

/// KVM's ioctl type.
pub const KVMIO: u32 = 0xAE;
/// rsvm's own ioctl type (numbers 0x80..0xFF; 0x00..0x1F belong to fsl_hypervisor).
pub const RSVMIO: u32 = 0xAF;
const_assert_eq!(KVMIO, kvm_bindings::KVMIO);

/// KVM's API version, which /dev/rsvm reports too.
pub const KVM_API_VERSION: i32 = 12;

ioctl_io_nr!(KVM_GET_API_VERSION, KVMIO, 0x00);
ioctl_io_nr!(KVM_CREATE_VM, KVMIO, 0x01);
ioctl_io_nr!(KVM_CHECK_EXTENSION, KVMIO, 0x03);
ioctl_io_nr!(KVM_GET_VCPU_MMAP_SIZE, KVMIO, 0x04);
ioctl_iow_nr!(KVM_INTERRUPT, KVMIO, 0x86, kvm_bindings::kvm_interrupt);
ioctl_io_nr!(KVM_RUN, KVMIO, 0x80);
ioctl_iow_nr!(KVM_SET_SIGNAL_MASK, KVMIO, 0x8b, kvm_bindings::kvm_signal_mask);
ioctl_iowr_nr!(KVM_GET_MSR_INDEX_LIST, KVMIO, 0x02, kvm_bindings::kvm_msr_list);
ioctl_iowr_nr!(KVM_GET_SUPPORTED_CPUID, KVMIO, 0x05, kvm_bindings::kvm_cpuid2);
ioctl_io_nr!(KVM_SET_NR_MMU_PAGES, KVMIO, 0x44);
ioctl_io_nr!(KVM_GET_NR_MMU_PAGES, KVMIO, 0x45);
ioctl_io_nr!(KVM_SET_TSS_ADDR, KVMIO, 0x47);
ioctl_iow_nr!(KVM_SET_IDENTITY_MAP_ADDR, KVMIO, 0x48, u64);
ioctl_iow_nr!(KVM_SET_USER_MEMORY_REGION2, KVMIO, 0x49, kvm_bindings::kvm_userspace_memory_region2);
ioctl_io_nr!(KVM_GET_TSC_KHZ, KVMIO, 0xa3);
ioctl_iow_nr!(KVM_GET_DEVICE_ATTR, KVMIO, 0xe2, kvm_bindings::kvm_device_attr);
ioctl_iow_nr!(KVM_HAS_DEVICE_ATTR, KVMIO, 0xe3, kvm_bindings::kvm_device_attr);

/// Maximum exits the world-switch self-test reports.
pub const SELFTEST_MAX_EXITS: usize = 8;

/// One exit of the self-test guest (`struct rsvm_selftest_exit`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmSelftestExit {
    pub exit_code: u64,
    pub exit_info_1: u64,
    pub exit_info_2: u64,
    pub rip: u64,
    pub next_rip: u64,
    pub rax: u64,
    pub rdx: u64,
}

/// Result of `RSVM_SELFTEST_WORLD_SWITCH` (`struct rsvm_selftest`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmSelftest {
    pub npt_levels: u32,
    pub nr_exits: u32,
    pub exits: [RsvmSelftestExit; SELFTEST_MAX_EXITS],
}

// The same layout as the module's (rust/uapi.rs asserts the same numbers).
const_assert_eq!(size_of::<RsvmSelftestExit>(), 56);
const_assert_eq!(size_of::<RsvmSelftest>(), 8 + 8 * 56);
const_assert_eq!(offset_of!(RsvmSelftest, exits), 8);

ioctl_ior_nr!(RSVM_SELFTEST_WORLD_SWITCH, RSVMIO, 0x80, RsvmSelftest);

/// Number of exit counters in `RsvmVcpuStats::exits`.
pub const STAT_NR: usize = 16;
/// Names of the exit counters, in order.
pub const STAT_NAMES: [&str; STAT_NR] = [
    "io", "mmio", "hlt", "cpuid", "msr", "npf", "intr", "vintr", "shutdown", "fail_entry", "ud", "vmmcall", "xsetbv",
    "exception", "other", "total",
];

/// Result of `RSVM_GET_VCPU_STATS` on a vCPU fd (`struct rsvm_vcpu_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmVcpuStats {
    pub exits: [u64; STAT_NR],
    pub pinned_pages: u64,
    pub npt_leaves_4k: u64,
    pub npt_leaves_2m: u64,
}
const_assert_eq!(size_of::<RsvmVcpuStats>(), 8 * (STAT_NR + 3));

ioctl_ior_nr!(RSVM_GET_VCPU_STATS, RSVMIO, 0x81, RsvmVcpuStats);

/// Argument of `RSVM_BENCH_FLOOR` (`struct rsvm_bench_floor`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmBenchFloor {
    pub iterations: u64,
    pub tsc_delta: u64,
}
const_assert_eq!(size_of::<RsvmBenchFloor>(), 16);

ioctl_iowr_nr!(RSVM_BENCH_FLOOR, RSVMIO, 0x82, RsvmBenchFloor);

/// A PCI function (`struct rsvm_pci_device`): segment, bus, devfn; `flags` must be 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmPciDevice {
    pub segment: u16,
    pub bus: u8,
    pub devfn: u8,
    pub flags: u32,
}
const_assert_eq!(size_of::<RsvmPciDevice>(), 8);

impl RsvmPciDevice {
    /// Parses a PCI address `SSSS:BB:DD.F` (hex; `BB:DD.F` means segment 0).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a PCI address (want SSSS:BB:DD.F, e.g. 0000:03:00.0)");
        let parts: Vec<&str> = s.split(':').collect();
        let (seg, bus, rest) = match parts[..] {
            [seg, bus, rest] => (seg, bus, rest),
            [bus, rest] => ("0000", bus, rest),
            _ => return Err(bad()),
        };
        let (dev, func) = rest.split_once('.').ok_or_else(bad)?;
        let hex = |t: &str, max: u32, width: usize| {
            if t.is_empty() || t.len() > width || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u32::from_str_radix(t, 16).ok().filter(|&v| v <= max).ok_or_else(bad)
        };
        let (seg, bus, dev, func) = (hex(seg, 0xffff, 4)?, hex(bus, 0xff, 2)?, hex(dev, 0x1f, 2)?, hex(func, 7, 1)?);
        Ok(Self { segment: seg as u16, bus: bus as u8, devfn: (dev << 3 | func) as u8, flags: 0 })
    }
}

impl std::str::FromStr for RsvmPciDevice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl std::fmt::Display for RsvmPciDevice {
    /// `SSSS:BB:DD.F`, as sysfs names the device.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04x}:{:02x}:{:02x}.{:x}", self.segment, self.bus, self.devfn >> 3, self.devfn & 7)
    }
}

/// `struct rsvm_device_bar`: memory BAR `bar` of `dev` at guest-physical `gpa`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmDeviceBar {
    pub dev: RsvmPciDevice,
    pub bar: u32,
    pub flags: u32,
    pub gpa: u64,
}
const_assert_eq!(size_of::<RsvmDeviceBar>(), 24);

/// `struct rsvm_device_config`: a 1, 2 or 4-byte config access (`write` 0 or 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmDeviceConfig {
    pub dev: RsvmPciDevice,
    pub offset: u32,
    pub size: u32,
    pub write: u32,
    pub value: u32,
}
const_assert_eq!(size_of::<RsvmDeviceConfig>(), 24);

/// `struct rsvm_device_msi`: the guest's MSI address/data for the device (`RSVM_DEVICE_MSI`,
/// and `RSVM_DEVICE_INTX` for its INTx); `flags` bit 0 = on.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmDeviceMsi {
    pub dev: RsvmPciDevice,
    pub address_lo: u32,
    pub address_hi: u32,
    pub data: u32,
    pub flags: u32,
}
const_assert_eq!(size_of::<RsvmDeviceMsi>(), 24);

/// `struct rsvm_device_events`: IOMMU event records of the device (16 bytes each at
/// `records`, room for `nr`; `nr` comes back as the count written) and its counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmDeviceEvents {
    pub dev: RsvmPciDevice,
    pub nr: u32,
    pub pad: u32,
    pub io_page_faults: u64,
    pub events: u64,
    pub lost: u64,
    pub interrupts: u64,
    pub records: u64,
}
const_assert_eq!(size_of::<RsvmDeviceEvents>(), 56);

/// `struct rsvm_device_eventfd`: an eventfd signalled for every IOMMU event record filed for
/// `dev` (`fd` -1 unregisters); `flags` must be 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsvmDeviceEventfd {
    pub dev: RsvmPciDevice,
    pub fd: i32,
    pub flags: u32,
}
const_assert_eq!(size_of::<RsvmDeviceEventfd>(), 16);

ioctl_iow_nr!(RSVM_ASSIGN_DEVICE, RSVMIO, 0x83, RsvmPciDevice);
ioctl_iow_nr!(RSVM_RELEASE_DEVICE, RSVMIO, 0x84, RsvmPciDevice);
ioctl_iow_nr!(RSVM_MAP_DEVICE_BAR, RSVMIO, 0x85, RsvmDeviceBar);
ioctl_iowr_nr!(RSVM_DEVICE_CONFIG, RSVMIO, 0x86, RsvmDeviceConfig);
ioctl_iow_nr!(RSVM_DEVICE_MSI, RSVMIO, 0x87, RsvmDeviceMsi);
ioctl_iowr_nr!(RSVM_DEVICE_EVENTS, RSVMIO, 0x88, RsvmDeviceEvents);
ioctl_iow_nr!(RSVM_DEVICE_EVENTFD, RSVMIO, 0x8a, RsvmDeviceEventfd);
// RSVM_DEVICE_INTX: routes the device's INTx (level-triggered) to the guest as this message
// (the VMM's IOAPIC redirection entry for the device's pin); `flags` bit 0 = on, 0 = off.
ioctl_iow_nr!(RSVM_DEVICE_INTX, RSVMIO, 0x89, RsvmDeviceMsi);

/// #VMEXIT codes the self-test expects (APM vol. 2, appendix C).
pub mod exit {
    pub const CPUID: u64 = 0x72;
    pub const HLT: u64 = 0x78;
    pub const IOIO: u64 = 0x7b;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses() {
        let d: RsvmPciDevice = "0000:00:04.0".parse().unwrap();
        assert_eq!(d, RsvmPciDevice { segment: 0, bus: 0, devfn: 0x20, flags: 0 });
        let d: RsvmPciDevice = "0001:03:1f.7".parse().unwrap();
        assert_eq!((d.segment, d.bus, d.devfn), (1, 3, 0xff));
        for bad in ["", "0000:00:20.0", "0000:00:04.8", "0000:100:04.0", "0000:00:04", "x:00:04.0"] {
            assert!(bad.parse::<RsvmPciDevice>().is_err(), "{bad}");
        }
    }

    #[test]
    fn kvm_numbers_match_linux_uapi() {
        // Values from include/uapi/linux/kvm.h (_IO(0xAE, n) = 0xAE00 | n).
        assert_eq!(KVM_GET_API_VERSION(), 0xae00);
        assert_eq!(KVM_CREATE_VM(), 0xae01);
        assert_eq!(KVM_CHECK_EXTENSION(), 0xae03);
        assert_eq!(KVM_GET_VCPU_MMAP_SIZE(), 0xae04);
        assert_eq!(KVM_SET_NR_MMU_PAGES(), 0xae44);
        assert_eq!(KVM_GET_NR_MMU_PAGES(), 0xae45);
        assert_eq!(KVM_SET_TSS_ADDR(), 0xae47);
        // _IOW(KVMIO, n, T) = 0x4000_0000 | sizeof(T) << 16 | 0xae00 | n.
        assert_eq!(KVM_SET_IDENTITY_MAP_ADDR(), 0x4008_ae48);
        assert_eq!(KVM_SET_USER_MEMORY_REGION2(), 0x40a0_ae49);
        assert_eq!(KVM_GET_DEVICE_ATTR(), 0x4018_aee2);
        assert_eq!(KVM_HAS_DEVICE_ATTR(), 0x4018_aee3);
    }

    #[test]
    fn assignment_numbers() {
        // _IOW = direction 1, _IOWR = 3; type 0xAF, numbers 0x83..0x8a, sizes from the structs.
        let want = [
            (RSVM_ASSIGN_DEVICE(), 1, 0x83, 8),
            (RSVM_RELEASE_DEVICE(), 1, 0x84, 8),
            (RSVM_MAP_DEVICE_BAR(), 1, 0x85, 24),
            (RSVM_DEVICE_CONFIG(), 3, 0x86, 24),
            (RSVM_DEVICE_MSI(), 1, 0x87, 24),
            (RSVM_DEVICE_EVENTS(), 3, 0x88, 56),
            (RSVM_DEVICE_EVENTFD(), 1, 0x8a, 16),
            (RSVM_DEVICE_INTX(), 1, 0x89, 24),
        ];
        for (nr, dir, n, size) in want {
            assert_eq!(nr as u64, (dir << 30) | (size << 16) | (0xaf << 8) | n);
        }
    }

    #[test]
    fn rsvm_numbers_are_in_rsvm_range() {
        let nr = RSVM_SELFTEST_WORLD_SWITCH();
        assert_eq!((nr >> 8) & 0xff, RSVMIO as u64 as _);
        assert!((nr & 0xff) >= 0x80);
        // _IOR: direction bits 2 (read), size of the struct.
        assert_eq!(nr >> 30, 2);
        assert_eq!((nr >> 16) & 0x3fff, size_of::<RsvmSelftest>() as _);
    }
}

/// The KVM struct layouts the module implements (rust/uapi/kvm.rs asserts the same numbers
/// at compile time); checked here against `kvm-bindings`, KVM's own definitions.
#[cfg(test)]
mod kvm_layout {
    use kvm_bindings::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn sizes_match_kvm_bindings() {
        assert_eq!(size_of::<kvm_regs>(), 144);
        assert_eq!(size_of::<kvm_segment>(), 24);
        assert_eq!(size_of::<kvm_dtable>(), 16);
        assert_eq!(size_of::<kvm_sregs>(), 312);
        assert_eq!(size_of::<kvm_fpu>(), 416);
        assert_eq!(size_of::<kvm_xsave>(), 4096);
        assert_eq!(size_of::<kvm_msr_entry>(), 16);
        assert_eq!(size_of::<kvm_msrs>(), 8);
        assert_eq!(size_of::<kvm_msr_list>(), 4);
        assert_eq!(size_of::<kvm_cpuid_entry2>(), 40);
        assert_eq!(size_of::<kvm_cpuid2>(), 8);
        assert_eq!(size_of::<kvm_userspace_memory_region>(), 32);
        assert_eq!(size_of::<kvm_userspace_memory_region2>(), 160);
        assert_eq!(offset_of!(kvm_userspace_memory_region2, guest_memfd), 40);
        assert_eq!(offset_of!(kvm_userspace_memory_region2, pad2), 48);
        assert_eq!(size_of::<kvm_device_attr>(), 24);
        assert_eq!(size_of::<kvm_interrupt>(), 4);
        assert_eq!(size_of::<kvm_signal_mask>(), 4);
        assert_eq!(size_of::<kvm_run>(), 2352);
    }

    #[test]
    fn offsets_match_kvm_bindings() {
        assert_eq!(offset_of!(kvm_sregs, gdt), 192);
        assert_eq!(offset_of!(kvm_sregs, cr0), 224);
        assert_eq!(offset_of!(kvm_sregs, apic_base), 272);
        assert_eq!(offset_of!(kvm_sregs, interrupt_bitmap), 280);
        assert_eq!(offset_of!(kvm_fpu, last_ip), 136);
        assert_eq!(offset_of!(kvm_fpu, xmm), 152);
        assert_eq!(offset_of!(kvm_fpu, mxcsr), 408);
        assert_eq!(offset_of!(kvm_run, exit_reason), 8);
        assert_eq!(offset_of!(kvm_run, ready_for_interrupt_injection), 12);
        assert_eq!(offset_of!(kvm_run, if_flag), 13);
        assert_eq!(offset_of!(kvm_run, cr8), 16);
        assert_eq!(offset_of!(kvm_run, apic_base), 24);
        assert_eq!(offset_of!(kvm_run, __bindgen_anon_1), 32);
        assert_eq!(offset_of!(kvm_run, kvm_valid_regs), 288);
        assert_eq!(offset_of!(kvm_run, s), 304);
        assert_eq!(offset_of!(kvm_run__bindgen_ty_1__bindgen_ty_4, data_offset), 8);
        assert_eq!(offset_of!(kvm_run__bindgen_ty_1__bindgen_ty_6, len), 16);
        assert_eq!(offset_of!(kvm_run__bindgen_ty_1__bindgen_ty_6, is_write), 20);
    }

    #[test]
    fn ioctl_numbers_match_kvm_ioctls() {
        // _IOR/_IOW numbers embed the struct size: equal sizes above give equal numbers.
        assert_eq!(super::KVM_GET_SUPPORTED_CPUID(), 0xc008_ae05);
        assert_eq!(super::KVM_GET_MSR_INDEX_LIST(), 0xc004_ae02);
    }
}
