// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of /dev/rsvm: KVM's numbers (type 0xAE) for the KVM subset, and rsvm's own
//! range (type 0xAF, numbers 0x80..0xFF, unused by other drivers) for rsvm-only ioctls.
//! See Documentation/ioctl-abi.md.

use core::mem::{offset_of, size_of};
use kernel::{ioctl::{_IO, _IOR}, static_assert, transmute::AsBytes};

pub(crate) const KVMIO: u32 = 0xAE;
pub(crate) const RSVMIO: u32 = 0xAF;

pub(crate) const KVM_API_VERSION: isize = 12;

pub(crate) const KVM_GET_API_VERSION: u32 = _IO(KVMIO, 0x00);
pub(crate) const KVM_CHECK_EXTENSION: u32 = _IO(KVMIO, 0x03);

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
