// SPDX-License-Identifier: GPL-2.0

//! The device table (AMD I/O Virtualization Technology spec, doc 48882, §2.2.2): one
//! 256-bit entry (DTE) per PCI requester id, read by the IOMMU for every DMA and interrupt of
//! that device. rsvm's table starts all zero: V=0 in every DTE means "no translation", so
//! every device's DMA passes untranslated exactly as before the unit was enabled.

use crate::hwpage::HwPages;
use core::mem::size_of;
use kernel::{prelude::*, static_assert};

/// One device table entry (§2.2.2.1, figure 7 / table 7), as four quadwords.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Dte(pub(crate) [u64; 4]);
static_assert!(size_of::<Dte>() == 32);

kernel::impl_flags!(
    /// Flag bits of a DTE's first quadword (bits 63:0, §2.2.2.1).
    #[derive(Debug, Clone, Default, Copy, PartialEq, Eq)]
    pub(crate) struct DteFlags(u64);

    /// One flag bit of a DTE's first quadword.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum DteFlag {
        /// V: the entry is valid (else: no translation, no checks).
        Valid = 1 << 0,
        /// TV: the translation fields (Mode, Page Table Root, IR/IW) are valid.
        TranslationValid = 1 << 1,
        /// IR: DMA reads are allowed (further restricted by the page tables).
        IoRead = 1 << 61,
        /// IW: DMA writes are allowed.
        IoWrite = 1 << 62,
    }
);

/// Mode (bits 11:9): the page-table depth, 0 = no translation (IR/IW alone decide).
const DTE_MODE_SHIFT: u32 = 9;
/// Host Page Table Root Pointer (bits 51:12).
const DTE_PT_ROOT_MASK: u64 = 0x000f_ffff_ffff_f000;
/// DomainID: bits 79:64 (the low 16 bits of the second quadword).
const DTE_DOMID_MASK: u64 = 0xffff;

/// Interrupt fields, in the third quadword (bits 191:128, §2.2.2.1 table 7 and §2.2.5):
/// IV (bit 128): the interrupt fields are valid; with IV=0 the unit passes the device's
/// interrupts through unchanged.
const DTE2_IV: u64 = 1 << 0;
/// IntTabLen (bits 132:129): the table has 2^IntTabLen entries.
const DTE2_INT_TAB_LEN_SHIFT: u32 = 1;
/// IntTableRootPtr (bits 179:134): the table's physical address, 128-byte aligned (the low 6
/// bits of the address are implied 0; Linux aligns to 128, DTE_INTTAB_ALIGNMENT).
const DTE2_INT_TAB_ROOT_MASK: u64 = 0x000f_ffff_ffff_ffc0;
/// IntCtl (bits 189:188): 00b abort fixed/arbitrated interrupts, 01b forward them unmapped,
/// 10b remap them through the table.
const DTE2_INT_CTL_SHIFT: u32 = 60;
pub(crate) const INT_CTL_ABORT: u64 = 0b00;
pub(crate) const INT_CTL_REMAP: u64 = 0b10;
// InitPass (184), EIntPass (185), NMIPass (186), Lint0Pass (190), Lint1Pass (191) are left
// 0: INIT, ExtINT, NMI and LINT0/1 messages from the device are aborted (§2.2.2.1, §2.2.5); SysMgt
// (bits 169:168) 00b: SMIs are blocked too.
static_assert!(DTE2_INT_TAB_ROOT_MASK & (0b11 << DTE2_INT_CTL_SHIFT) == 0);
static_assert!(DTE2_INT_TAB_ROOT_MASK & (0xf << DTE2_INT_TAB_LEN_SHIFT | DTE2_IV) == 0);

impl Dte {
    /// All zero: V=0, the device's DMA is not translated.
    pub(crate) const fn untranslated() -> Self {
        Self([0; 4])
    }

    /// Translated through a `levels`-deep v1 page table at `root_pa`, tagged `domain` in the
    /// IOMMU's TLB; `read`/`write` as the DTE-wide IR/IW.
    pub(crate) fn translated(domain: u16, root_pa: u64, levels: u8, read: bool, write: bool) -> Self {
        let mut f = DteFlag::Valid | DteFlag::TranslationValid;
        if read {
            f |= DteFlag::IoRead;
        }
        if write {
            f |= DteFlag::IoWrite;
        }
        let q0 = u64::from(f) | (u64::from(levels & 7) << DTE_MODE_SHIFT) | (root_pa & DTE_PT_ROOT_MASK);
        Self([q0, u64::from(domain) & DTE_DOMID_MASK, 0, 0])
    }

    /// Every DMA of the device is refused: V=1, TV=1, Mode 0 (no translation) with IR=IW=0
    /// (§2.2.2.1: with Mode 0 the IR and IW bits alone control access).
    pub(crate) fn blocked(domain: u16) -> Self {
        let f = DteFlag::Valid | DteFlag::TranslationValid;
        Self([u64::from(f), u64::from(domain) & DTE_DOMID_MASK, 0, 0])
    }

    /// Every interrupt of the device goes through the remapping table at `table_pa` (2^`len_log2`
    /// entries) (§2.2.5): IV=1, IntCtl=10b; every pass bit 0, so the device can raise neither
    /// NMI, INIT, ExtINT, SMI nor a LINT; a fixed or arbitrated interrupt whose entry has
    /// RemapEn=0 is aborted.
    pub(crate) fn with_intremap(mut self, table_pa: u64, len_log2: u8) -> Self {
        self.0[2] = DTE2_IV
            | u64::from(len_log2 & 0xf) << DTE2_INT_TAB_LEN_SHIFT
            | (table_pa & DTE2_INT_TAB_ROOT_MASK)
            | INT_CTL_REMAP << DTE2_INT_CTL_SHIFT;
        self
    }

    /// Every interrupt of the device is aborted: IV=1, IntCtl=00b, no table, no pass bits.
    pub(crate) fn with_interrupts_blocked(mut self) -> Self {
        self.0[2] = DTE2_IV | INT_CTL_ABORT << DTE2_INT_CTL_SHIFT;
        self
    }

    pub(crate) fn domain(&self) -> u16 {
        (self.0[1] & DTE_DOMID_MASK) as u16
    }
}

/// The smallest table rsvm hands a unit: 8 KiB, 256 entries (all of bus 0). QEMU reads DTEs
/// at `base + devid * 32` for every interrupt (IOAPIC: 00:14.0) without checking the size.
const MIN_ENTRIES: usize = 256;
/// The architectural maximum: 64 Ki entries, 2 MiB (size field 1FFh).
const MAX_ENTRIES: usize = 65536;

/// A device table in contiguous, zeroed pages.
///
/// # Invariants
///
/// `pages` holds `entries` DTEs (`entries * 32` bytes, a power-of-two number of pages up to
/// 512).
pub(crate) struct DevTable {
    pages: HwPages,
    entries: usize,
}

impl DevTable {
    /// A table covering device ids `0..=last_devid` (at least bus 0), all entries V=0.
    pub(crate) fn new(last_devid: u16) -> Result<Self> {
        let want = (usize::from(last_devid) + 1).clamp(MIN_ENTRIES, MAX_ENTRIES);
        let bytes = want.next_power_of_two() * size_of::<Dte>();
        let order = (bytes / 4096).trailing_zeros();
        let pages = HwPages::new(order)?;
        let entries = pages.len() / size_of::<Dte>();
        // INVARIANT: `pages` is `entries * 32` bytes, a power of two of 2 to 512 pages.
        Ok(Self { pages, entries })
    }

    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// The Device Table Base Address Register value (§3.4.1): base | (size in 4 KiB - 1).
    pub(crate) fn base_reg(&self) -> u64 {
        self.pages.phys() | ((self.pages.len() / 4096) as u64 - 1)
    }

    fn slot(&self, devid: u16) -> Result<*mut u64> {
        let i = usize::from(devid);
        if i >= self.entries {
            return Err(EINVAL);
        }
        // The table is `entries` DTEs (type invariant), `i` is below that.
        Ok(self.pages.as_mut_ptr::<Dte>().wrapping_add(i).cast::<u64>())
    }

    pub(crate) fn get(&self, devid: u16) -> Result<Dte> {
        let p = self.slot(devid)?;
        let mut d = Dte::default();
        for (q, v) in d.0.iter_mut().enumerate() {
            // SAFETY: `p` points at the DTE of `devid` inside our table (checked in `slot`);
            // the IOMMU may read it concurrently, never writes it: a volatile read.
            *v = unsafe { p.add(q).read_volatile() };
        }
        Ok(d)
    }

    /// Writes the DTE of `devid` so that the IOMMU never sees an invalid entry between two
    /// valid ones nor a mix of two entries' translations (`dtewrite.rs`, Linux's
    /// `update_dte256()` order). The caller then issues INVALIDATE_DEVTAB_ENTRY (and flushes
    /// the domain: QEMU ignores the former).
    pub(crate) fn set(&mut self, devid: u16, dte: Dte) -> Result {
        let p = self.slot(devid)?;
        // SAFETY: `p` points at the DTE of `devid` inside our table (32-byte aligned: the
        // table is page-aligned and entries are 32 bytes), which only `&mut self` writes; the
        // IOMMU only reads it.
        unsafe { super::dtewrite::write_dte(p, dte.0) };
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}
