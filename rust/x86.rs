// SPDX-License-Identifier: GPL-2.0

//! Architectural bits of the control registers, EFER and RFLAGS (AMD64 APM vol. 2, 3.1-3.2),
//! used by every file that reads or writes guest or host state.

pub(crate) const CR0_PE: u64 = 1 << 0;
pub(crate) const CR0_ET: u64 = 1 << 4;
pub(crate) const CR0_WP: u64 = 1 << 16;
pub(crate) const CR0_NW: u64 = 1 << 29;
pub(crate) const CR0_CD: u64 = 1 << 30;
pub(crate) const CR0_PG: u64 = 1 << 31;

pub(crate) const CR4_PSE: u64 = 1 << 4;
pub(crate) const CR4_PAE: u64 = 1 << 5;
pub(crate) const CR4_LA57: u64 = 1 << 12;
pub(crate) const CR4_OSXSAVE: u64 = 1 << 18;
pub(crate) const CR4_PKE: u64 = 1 << 22;

pub(crate) const MSR_EFER: u32 = 0xc000_0080;
pub(crate) const EFER_SCE: u64 = 1 << 0;
pub(crate) const EFER_LME: u64 = 1 << 8;
pub(crate) const EFER_LMA: u64 = 1 << 10;
pub(crate) const EFER_NXE: u64 = 1 << 11;
pub(crate) const EFER_SVME: u64 = 1 << 12;

pub(crate) const RFLAGS_FIXED: u64 = 1 << 1;
pub(crate) const RFLAGS_IF: u64 = 1 << 9;
pub(crate) const RFLAGS_DF: u64 = 1 << 10;

/// Exception vectors rsvm raises in guests.
pub(crate) const NMI_VECTOR: u8 = 2;
pub(crate) const UD_VECTOR: u8 = 6;
pub(crate) const GP_VECTOR: u8 = 13;
pub(crate) const PF_VECTOR: u8 = 14;
