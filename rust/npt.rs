// SPDX-License-Identifier: GPL-2.0

//! Nested page tables (APM vol. 2, 15.25): guest-physical to host-physical, in the host's
//! own paging format and depth (4 levels, or 5 when the host runs with CR4.LA57).

use crate::hwpage::HwPages;
use kernel::prelude::*;

/// Present, writable, user. All NPT levels need U=1: the walk is a user-mode access
/// (APM 15.25.5).
pub(crate) const NPT_P: u64 = 1 << 0;
pub(crate) const NPT_RW: u64 = 1 << 1;
pub(crate) const NPT_US: u64 = 1 << 2;
pub(crate) const NPT_NX: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const TABLE_FLAGS: u64 = NPT_P | NPT_RW | NPT_US;

/// A nested page table tree with 4 KiB leaves.
pub(crate) struct Npt {
    levels: u32,
    root: HwPages,
    /// Non-root table pages, kept so they are freed with the tree.
    tables: KVec<HwPages>,
}

impl Npt {
    pub(crate) fn new(levels: u32) -> Result<Self> {
        if levels != 4 && levels != 5 {
            return Err(EINVAL);
        }
        Ok(Self { levels, root: HwPages::page()?, tables: KVec::new() })
    }

    pub(crate) fn levels(&self) -> u32 {
        self.levels
    }

    /// N_CR3 for the VMCB.
    pub(crate) fn root_pa(&self) -> u64 {
        self.root.phys()
    }

    /// Highest guest-physical address this depth can translate, plus one.
    pub(crate) fn gpa_limit(&self) -> u64 {
        1u64 << (12 + 9 * self.levels)
    }

    /// Maps the 4 KiB guest page at `gpa` to the host page at `hpa` with `flags`
    /// (`NPT_RW`, `NPT_NX`; P and U are implied).
    pub(crate) fn map_4k(&mut self, gpa: u64, hpa: u64, flags: u64) -> Result {
        if gpa & 0xfff != 0 || hpa & !ADDR_MASK != 0 || gpa >= self.gpa_limit() {
            return Err(EINVAL);
        }
        let mut table: *mut u64 = self.root.as_mut_ptr();
        for level in (2..=self.levels).rev() {
            let idx = ((gpa >> (12 + 9 * (level - 1))) & 0x1ff) as usize;
            // SAFETY: `table` points at a live 512-entry table page owned by this tree and
            // `idx < 512`.
            let entry = unsafe { &mut *table.add(idx) };
            if *entry & NPT_P == 0 {
                let page = HwPages::page()?;
                *entry = page.phys() | TABLE_FLAGS;
                self.tables.push(page, GFP_KERNEL)?;
            }
            // Every table below the root was allocated by this tree from the direct map.
            table = crate::hwpage::phys_to_virt(*entry & ADDR_MASK) as *mut u64;
        }
        let idx = ((gpa >> 12) & 0x1ff) as usize;
        // SAFETY: as above, for the last-level table.
        unsafe { *table.add(idx) = hpa | NPT_P | NPT_US | (flags & (NPT_RW | NPT_NX)) };
        Ok(())
    }
}
