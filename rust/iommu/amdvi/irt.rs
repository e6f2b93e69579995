// SPDX-License-Identifier: GPL-2.0

//! Interrupt remapping tables (AMD I/O Virtualization Technology spec, doc 48882, §2.2.5):
//! an assigned device's DTE has IV=1, IntCtl=10b and points at its own table; the unit
//! looks every fixed or arbitrated MSI of the device up at index `data[10:0]` and delivers
//! the entry's vector to the entry's destination, or aborts the interrupt if the entry has
//! RemapEn=0. rsvm fills exactly one entry: the one for the MSI message Linux programmed
//! into the device for rsvm's host IRQ (`assign::intr::set_msi`). Anything else the device (or a
//! guest driving its DMA engine at 0xFEE0_0000) writes to the interrupt range is dropped.
//! Documentation/amdvi.md, "Interrupt remapping".

use crate::hwpage::HwPages;
use crate::lapic::Message;
use core::mem::size_of;
use kernel::{prelude::*, static_assert};

/// 2048 entries: every index an MSI's data can name (bits 10:0, §2.2.5.1) is inside the
/// table. Linux's fixed MSIs use indexes up to 0xff (the vector; arbitrated ones up to
/// 0x1ff), so 512 would do on hardware, where an index beyond IntTabLen is aborted too; but
/// QEMU 7.2 (`amdvi_get_irte`) reads the entry without checking IntTabLen, so a forged
/// index past a 512-entry table would read whatever host memory follows it. 8 KiB, two
/// pages, per assigned device.
pub(crate) const LEN_LOG2: u8 = 11;
const ENTRIES: usize = 1 << LEN_LOG2;
const ORDER: u32 = 1;
static_assert!(ENTRIES * size_of::<u32>() == 4096 << ORDER);
/// The index mask of an MSI's data (§2.2.5.1).
pub(crate) const INDEX_MASK: u32 = 0x7ff;
static_assert!(INDEX_MASK as usize == ENTRIES - 1);

/// Legacy (32-bit, GA mode off) entry fields (§2.2.5.1, figure 15; Linux's `union irte`).
const IRTE_REMAP_EN: u32 = 1 << 0;
const IRTE_INT_TYPE_SHIFT: u32 = 2;
const IRTE_DM: u32 = 1 << 6;
const IRTE_DEST_SHIFT: u32 = 8;
const IRTE_VECTOR_SHIFT: u32 = 16;
// SupIOPF (bit 1), RqEoi (bit 5) and GuestMode (bit 7) stay 0: faults are logged, no EOI is
// requested, and the entry is not a guest virtual APIC one.

/// MSI address (x86, Intel SDM vol. 3 11.11.1, as AMD): bits 31:20 0xFEE, extended destination
/// id (bits 8..14, Linux's `virt_destid_8_14`) in 11:5; the rest (destination, DM, vector,
/// delivery mode) is decoded by `lapic::Message::from_msi`.
const MSI_ADDR_BASE_MASK: u32 = 0xfff0_0000;
const MSI_ADDR_BASE: u32 = 0xfee0_0000;
const MSI_ADDR_EXT_DEST_MASK: u32 = 0x7f << 5;

/// EOPNOTSUPP (the kernel crate declares no constant for it).
fn eopnotsupp() -> Error {
    Error::from_errno(-(kernel::bindings::EOPNOTSUPP as i32))
}

/// The entry that remaps the host MSI message `(address_hi, address_lo, data)` to itself,
/// with its index; `EOPNOTSUPP` for what a legacy entry cannot express: a destination APIC id
/// above 255 (extended or high address bits; that needs the 128-bit GA format, §2.2.5.2,
/// with EFR GASup and Control GAEn) or a delivery mode other than fixed or lowest priority
/// (rsvm's own IRQ is always one of these; SMI/NMI/INIT/ExtINT are never remapped).
pub(crate) fn entry_for(address_hi: u32, address_lo: u32, data: u32) -> Result<(usize, u32)> {
    if address_lo & MSI_ADDR_BASE_MASK != MSI_ADDR_BASE {
        return Err(EINVAL);
    }
    if address_hi != 0 || address_lo & MSI_ADDR_EXT_DEST_MASK != 0 {
        pr_err!("amdvi: MSI address {:#x}:{:#x} targets an APIC id above 255: not remappable without GA mode\n", address_hi, address_lo);
        return Err(eopnotsupp());
    }
    let m = Message::from_msi(address_lo, data);
    // Fixed (0) and lowest priority (1, the IOMMU's "arbitrated") are IntType 0 and 1.
    if m.delivery > 1 {
        pr_err!("amdvi: MSI data {:#x}: delivery mode {} is not fixed or lowest priority\n", data, m.delivery);
        return Err(eopnotsupp());
    }
    let mut e = IRTE_REMAP_EN
        | u32::from(m.delivery) << IRTE_INT_TYPE_SHIFT
        | m.dest << IRTE_DEST_SHIFT
        | u32::from(m.vector) << IRTE_VECTOR_SHIFT;
    if m.logical {
        e |= IRTE_DM;
    }
    Ok(((data & INDEX_MASK) as usize, e))
}

/// One device's remapping table: zeroed (every entry RemapEn=0: aborted) pages.
///
/// # Invariants
///
/// `pages` is `ENTRIES` 32-bit entries.
pub(crate) struct Irt {
    pages: HwPages,
}

impl Irt {
    pub(crate) fn new() -> Result<Self> {
        // INVARIANT: 2^ORDER pages are ENTRIES entries (asserted above).
        Ok(Self { pages: HwPages::new(ORDER)? })
    }

    /// The physical address for the DTE (page aligned, so 128-byte aligned).
    pub(crate) fn phys(&self) -> u64 {
        self.pages.phys()
    }

    /// Writes entry `index` (`EINVAL` outside the table). The caller then issues
    /// INVALIDATE_INTERRUPT_TABLE and COMPLETION_WAIT (§2.4.5).
    pub(crate) fn set(&mut self, index: usize, e: u32) -> Result {
        if index >= ENTRIES {
            return Err(EINVAL);
        }
        let p = self.pages.as_mut_ptr::<u32>().wrapping_add(index);
        // SAFETY: `index` is below ENTRIES, inside our pages (type invariant), which we own
        // exclusively (`&mut self`); volatile because the unit reads them; a 32-bit entry is
        // written in one store, so the unit never sees half of it.
        unsafe { p.write_volatile(e) };
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Entry `index` (for debugfs), or 0 outside the table.
    pub(crate) fn get(&self, index: usize) -> u32 {
        if index >= ENTRIES {
            return 0;
        }
        // SAFETY: as in `set`, a read of our own entry.
        unsafe { self.pages.as_mut_ptr::<u32>().wrapping_add(index).read_volatile() }
    }
}
