// SPDX-License-Identifier: GPL-2.0

//! Nested page tables (AMD64 APM vol. 2, 15.25): guest-physical to host-physical, in the
//! host's own long-mode paging format and depth (4 levels, or 5 when the host runs with
//! CR4.LA57; a 4-level NPT under a 5-level host faults on every access).

use crate::hwpage::{phys_to_virt, HwPages};
use core::mem::size_of;
use kernel::{prelude::*, static_assert};

kernel::impl_flags!(
    /// Flag bits of an NPT entry (the long-mode PTE format, APM vol. 2, 5.3.3).
    #[derive(Debug, Clone, Default, Copy, PartialEq, Eq)]
    pub(crate) struct NptFlags(u64);

    /// One flag bit of an NPT entry.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum NptFlag {
        /// Present.
        Present = 1 << 0,
        /// Writable.
        Write = 1 << 1,
        /// User: required at every level, because NPT walks are user-mode accesses
        /// (APM 15.25.5).
        User = 1 << 2,
        /// Accessed.
        Accessed = 1 << 5,
        /// Dirty (leaves).
        Dirty = 1 << 6,
        /// PWT: write-through (with PCD: PAT entry 3, UC in the reset PAT, APM vol. 2, 7.8.2).
        WriteThrough = 1 << 3,
        /// PCD: cache disable.
        CacheDisable = 1 << 4,
        /// Page size: a 2 MiB leaf at the PD level.
        Large = 1 << 7,
        /// No execute.
        NoExec = 1 << 63,
    }
);

/// One NPT entry.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NptEntry(u64);
static_assert!(size_of::<NptEntry>() == 8);

const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const SIZE_2M: u64 = 2 << 20;

impl NptEntry {
    const fn new(pa: u64, flags: NptFlags) -> Self {
        Self((pa & ADDR_MASK) | flags.0)
    }
    fn present(self) -> bool {
        self.0 & NptFlag::Present as u64 != 0
    }
    fn large(self) -> bool {
        self.0 & NptFlag::Large as u64 != 0
    }
    fn addr(self) -> u64 {
        self.0 & ADDR_MASK
    }
}

/// What a guest page may do in the NPT.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadOnly,
    ReadWrite,
    /// A device's MMIO (an assigned device's BAR): read/write, not executable, uncacheable.
    /// PCD|PWT select PAT entry 3, UC under the reset PAT (host PAT, which Linux keeps at
    /// entry 3 = UC); with nested paging the stricter of the guest's and the nested type
    /// wins (APM vol. 2, 15.25.8), so the guest cannot make device registers cacheable.
    DeviceMmio,
}

fn leaf_flags(access: Access) -> NptFlags {
    let f = NptFlag::Present | NptFlag::User | NptFlag::Accessed;
    match access {
        Access::ReadOnly => f,
        Access::ReadWrite => f | NptFlag::Write | NptFlag::Dirty,
        Access::DeviceMmio => {
            f | NptFlag::Write | NptFlag::Dirty | NptFlag::WriteThrough | NptFlag::CacheDisable | NptFlag::NoExec
        }
    }
}

/// A nested page table tree with 4 KiB and 2 MiB leaves.
///
/// # Invariants
///
/// Every present non-leaf entry points at a table page in `tables` (or the root), so the
/// tree can be walked through the direct map.
pub(crate) struct Npt {
    levels: u32,
    root: HwPages,
    tables: KVec<HwPages>,
    /// Leaves currently mapped: 4 KiB and 2 MiB (for tests and the benchmark).
    pub(crate) leaves_4k: u64,
    pub(crate) leaves_2m: u64,
}

impl Npt {
    pub(crate) fn new(levels: u32) -> Result<Self> {
        if levels != 4 && levels != 5 {
            return Err(EINVAL);
        }
        Ok(Self { levels, root: HwPages::page()?, tables: KVec::new(), leaves_4k: 0, leaves_2m: 0 })
    }

    pub(crate) fn levels(&self) -> u32 {
        self.levels
    }

    /// N_CR3 for the VMCB.
    pub(crate) fn root_pa(&self) -> u64 {
        self.root.phys()
    }

    /// Highest guest-physical address this depth translates, plus one.
    pub(crate) fn gpa_limit(&self) -> u64 {
        1u64 << (12 + 9 * self.levels)
    }

    fn index(gpa: u64, level: u32) -> usize {
        ((gpa >> (12 + 9 * (level - 1))) & 0x1ff) as usize
    }

    /// The entry slot for `gpa` at `level` (1 = PTE, 2 = PDE), creating tables on the way
    /// when `create`. `None` if a table is missing (and not created) or a larger leaf is in
    /// the way.
    fn slot(&mut self, gpa: u64, level: u32, create: bool) -> Result<Option<*mut NptEntry>> {
        if gpa >= self.gpa_limit() {
            return Err(EINVAL);
        }
        let mut table: *mut NptEntry = self.root.as_mut_ptr();
        for l in (level + 1..=self.levels).rev() {
            // SAFETY: `table` is a live 512-entry table of this tree (type invariant) and
            // the index is < 512.
            let e = unsafe { table.add(Self::index(gpa, l)) };
            // SAFETY: as above.
            let cur = unsafe { e.read_volatile() };
            if !cur.present() {
                if !create {
                    return Ok(None);
                }
                let page = HwPages::page()?;
                let ent = NptEntry::new(page.phys(), NptFlag::Present | NptFlag::Write | NptFlag::User | NptFlag::Accessed);
                self.tables.push(page, GFP_KERNEL_ACCOUNT)?;
                // SAFETY: as above; a single aligned 64-bit store, atomic for the walker.
                unsafe { e.write_volatile(ent) };
                table = phys_to_virt(ent.addr()) as *mut NptEntry;
            } else if cur.large() {
                return Ok(None);
            } else {
                // INVARIANT: present non-leaf entries point at our tables.
                table = phys_to_virt(cur.addr()) as *mut NptEntry;
            }
        }
        // SAFETY: as above.
        Ok(Some(unsafe { table.add(Self::index(gpa, level)) }))
    }

    /// Maps the 4 KiB guest page at `gpa` to the host page at `hpa`.
    pub(crate) fn map_4k(&mut self, gpa: u64, hpa: u64, access: Access) -> Result {
        if gpa & 0xfff != 0 || hpa & !ADDR_MASK != 0 {
            return Err(EINVAL);
        }
        let e = self.slot(gpa, 1, true)?.ok_or(EEXIST)?;
        // SAFETY: `e` is an entry of a live table of this tree.
        let old = unsafe { e.read_volatile() };
        // SAFETY: as above.
        unsafe { e.write_volatile(NptEntry::new(hpa, leaf_flags(access))) };
        if !old.present() {
            self.leaves_4k += 1;
        }
        Ok(())
    }

    /// Maps the 2 MiB guest range at `gpa` to the 2 MiB-aligned host range at `hpa` with one
    /// PDE leaf. `EEXIST` if 4 KiB mappings already exist in that range.
    pub(crate) fn map_2m(&mut self, gpa: u64, hpa: u64, access: Access) -> Result {
        if gpa & (SIZE_2M - 1) != 0 || hpa & (SIZE_2M - 1) != 0 || hpa & !ADDR_MASK != 0 {
            return Err(EINVAL);
        }
        let e = self.slot(gpa, 2, true)?.ok_or(EEXIST)?;
        // SAFETY: `e` is an entry of a live table of this tree.
        let old = unsafe { e.read_volatile() };
        if old.present() && !old.large() {
            return Err(EEXIST);
        }
        // SAFETY: as above.
        unsafe { e.write_volatile(NptEntry::new(hpa, leaf_flags(access) | NptFlag::Large)) };
        if !old.present() {
            self.leaves_2m += 1;
        }
        Ok(())
    }

    /// Removes every leaf in `[gpa, gpa + len)` (both page sizes). Tables stay until the tree
    /// is dropped. The caller flushes the TLB (NPT generation) before freeing the pages.
    pub(crate) fn unmap(&mut self, gpa: u64, len: u64) {
        let end = gpa.saturating_add(len).min(self.gpa_limit());
        let mut a = gpa;
        while a < end {
            if let Ok(Some(pde)) = self.slot(a, 2, false) {
                // SAFETY: `pde` is an entry of a live table of this tree.
                let cur = unsafe { pde.read_volatile() };
                if cur.present() && cur.large() {
                    // Slots are 2 MiB-aligned wherever a 2 MiB leaf was used (see memslot.rs).
                    // SAFETY: as above.
                    unsafe { pde.write_volatile(NptEntry::default()) };
                    self.leaves_2m -= 1;
                    a = (a & !(SIZE_2M - 1)) + SIZE_2M;
                    continue;
                }
                if cur.present() {
                    if let Ok(Some(pte)) = self.slot(a, 1, false) {
                        // SAFETY: as above.
                        if unsafe { pte.read_volatile() }.present() {
                            // SAFETY: as above.
                            unsafe { pte.write_volatile(NptEntry::default()) };
                            self.leaves_4k -= 1;
                        }
                    }
                    a += 4096;
                    continue;
                }
            }
            // No table here: skip to the next 2 MiB boundary.
            a = (a & !(SIZE_2M - 1)) + SIZE_2M;
        }
    }
}
