// SPDX-License-Identifier: GPL-2.0

//! v1 I/O page tables (AMD I/O Virtualization Technology spec, doc 48882, §2.2.3 "I/O Page
//! Tables for Host Translations"): the device-address to system-physical-address tables a
//! DTE points at, and the domain ids that tag their translations in the IOMMU's TLB.
//!
//! Kernel-free apart from two macros, `kernel::impl_flags!` and `kernel::static_assert!`
//! (the host unit tests in `userspace-vmm/rsvm-test/src/iopt_tests.rs` compile it as is,
//! with stand-ins for both): the table pages come from a [`TableMem`], which in the module
//! is a set of counted `HwPages` (`domain.rs`) and in the tests a map of boxed arrays.

use core::mem::size_of;

kernel::impl_flags!(
    /// Flag bits of an I/O page-table entry (§2.2.3, figures 9-10, tables 15-16).
    #[derive(Debug, Clone, Default, Copy, PartialEq, Eq)]
    pub(crate) struct PteFlags(u64);

    /// One flag bit of an I/O PTE or PDE.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum PteFlag {
        /// PR: present.
        Present = 1 << 0,
        /// A: accessed (set by the IOMMU).
        Accessed = 1 << 5,
        /// D: dirty (leaves, set by the IOMMU).
        Dirty = 1 << 6,
        /// U: untranslated access for ATS devices.
        Untranslated = 1 << 59,
        /// FC: force coherent.
        ForceCoherent = 1 << 60,
        /// IR: DMA reads allowed.
        IoRead = 1 << 61,
        /// IW: DMA writes allowed.
        IoWrite = 1 << 62,
    }
);

/// One entry (PDE or PTE) of an I/O page table: 8 bytes, 512 per 4 KiB table.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Pte(pub(crate) u64);
kernel::static_assert!(size_of::<Pte>() == 8);

/// Next Level (bits 11:9): the level of the table this entry points at; 0 = this entry
/// maps a page (a 2 MiB page at level 2, a 1 GiB page at level 3 ...).
const NEXT_LEVEL_SHIFT: u32 = 9;
const NEXT_LEVEL_MASK: u64 = 7 << NEXT_LEVEL_SHIFT;
/// Page or table address (bits 51:12).
pub(crate) const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

pub(crate) const SIZE_4K: u64 = 1 << 12;
pub(crate) const SIZE_2M: u64 = 1 << 21;
const ENTRIES: usize = 512;

impl Pte {
    /// A PDE pointing at the table of level `next` at `table_pa`. Permissions are the AND of
    /// every level's IR/IW (§2.2.3): directories allow both, leaves decide.
    pub(crate) fn table(table_pa: u64, next: u32) -> Self {
        let f = PteFlag::Present | PteFlag::IoRead | PteFlag::IoWrite;
        Self(u64::from(f) | (u64::from(next) << NEXT_LEVEL_SHIFT & NEXT_LEVEL_MASK) | (table_pa & ADDR_MASK))
    }

    /// A leaf (Next Level 0) mapping the page at `pa`.
    pub(crate) fn page(pa: u64, read: bool, write: bool) -> Self {
        let mut f = PteFlags::from(PteFlag::Present);
        if read {
            f |= PteFlag::IoRead;
        }
        if write {
            f |= PteFlag::IoWrite;
        }
        Self(u64::from(f) | (pa & ADDR_MASK))
    }

    pub(crate) fn present(self) -> bool {
        self.0 & u64::from(PteFlags::from(PteFlag::Present)) != 0
    }

    pub(crate) fn next_level(self) -> u32 {
        ((self.0 & NEXT_LEVEL_MASK) >> NEXT_LEVEL_SHIFT) as u32
    }

    pub(crate) fn addr(self) -> u64 {
        self.0 & ADDR_MASK
    }

    pub(crate) fn read(self) -> bool {
        self.0 & u64::from(PteFlags::from(PteFlag::IoRead)) != 0
    }

    pub(crate) fn write(self) -> bool {
        self.0 & u64::from(PteFlags::from(PteFlag::IoWrite)) != 0
    }
}

/// Why a map or unmap was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PtError {
    /// Address not aligned to the page size, or beyond what the table depth translates.
    BadAddress,
    /// Something is mapped there already (or a larger page covers it).
    Exists,
    /// Nothing is mapped there at that size.
    NotMapped,
    /// No memory for a table page.
    NoMemory,
}

/// Where the table pages live.
pub(crate) trait TableMem {
    /// A new zeroed 4 KiB table; its physical address.
    fn alloc_table(&mut self) -> Option<u64>;
    /// Entry `i` (< 512) of the table at `pa` (an address `alloc_table` returned).
    fn read(&self, pa: u64, i: usize) -> u64;
    /// Stores entry `i` of the table at `pa`; the IOMMU may be walking the table.
    fn write(&mut self, pa: u64, i: usize, v: u64);
}

/// Page sizes a leaf can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageSize {
    Size4K,
    Size2M,
}

impl PageSize {
    pub(crate) fn bytes(self) -> u64 {
        match self {
            PageSize::Size4K => SIZE_4K,
            PageSize::Size2M => SIZE_2M,
        }
    }
    fn level(self) -> u32 {
        match self {
            PageSize::Size4K => 1,
            PageSize::Size2M => 2,
        }
    }
}

/// An I/O page table of `levels` levels (the DTE's Mode, 1..=6; §2.2.3).
///
/// # Invariants
///
/// `root` and every table a present PDE points at came from `mem.alloc_table()`.
pub(crate) struct IoPageTable<M: TableMem> {
    mem: M,
    levels: u32,
    root: u64,
    /// Entries written (PDEs and leaves, maps and unmaps), and leaves mapped now.
    pub(crate) entries_written: u64,
    pub(crate) tables: u64,
    pub(crate) leaves_4k: u64,
    pub(crate) leaves_2m: u64,
}

fn index(iova: u64, level: u32) -> usize {
    ((iova >> (12 + 9 * (level - 1))) & 0x1ff) as usize
}

impl<M: TableMem> IoPageTable<M> {
    pub(crate) fn new(mut mem: M, levels: u32) -> Result<Self, PtError> {
        if !(2..=6).contains(&levels) {
            return Err(PtError::BadAddress);
        }
        let root = mem.alloc_table().ok_or(PtError::NoMemory)?;
        // INVARIANT: the root came from `mem`.
        Ok(Self { mem, levels, root, entries_written: 0, tables: 1, leaves_4k: 0, leaves_2m: 0 })
    }

    /// The root table's physical address (the DTE's Host Page Table Root Pointer).
    pub(crate) fn root(&self) -> u64 {
        self.root
    }

    /// The DTE's Mode.
    pub(crate) fn levels(&self) -> u32 {
        self.levels
    }

    /// Device addresses below this are translatable.
    pub(crate) fn iova_limit(&self) -> u64 {
        1u64 << (12 + 9 * self.levels).min(63)
    }

    fn check(&self, iova: u64, size: PageSize) -> Result<(), PtError> {
        if iova % size.bytes() != 0 || iova >= self.iova_limit() {
            return Err(PtError::BadAddress);
        }
        Ok(())
    }

    /// The table holding the entry for `iova` at `level`, creating missing tables when
    /// `create`. `Exists` if a larger page is in the way.
    fn table_for(&mut self, iova: u64, level: u32, create: bool) -> Result<u64, PtError> {
        let mut table = self.root;
        let mut l = self.levels;
        while l > level {
            let i = index(iova, l);
            let e = Pte(self.mem.read(table, i));
            if e.present() && e.next_level() == 0 {
                return Err(PtError::Exists);
            }
            if !e.present() {
                if !create {
                    return Err(PtError::NotMapped);
                }
                let t = self.mem.alloc_table().ok_or(PtError::NoMemory)?;
                self.tables += 1;
                // INVARIANT: the new table came from `mem`.
                self.mem.write(table, i, Pte::table(t, l - 1).0);
                self.entries_written += 1;
                table = t;
            } else {
                table = e.addr();
            }
            l -= 1;
        }
        Ok(table)
    }

    /// Maps `[iova, iova + size)` to `pa`. The caller then flushes the domain
    /// (INVALIDATE_IOMMU_PAGES) if the IOMMU may have cached a miss.
    pub(crate) fn map(&mut self, iova: u64, pa: u64, size: PageSize, read: bool, write: bool) -> Result<(), PtError> {
        self.check(iova, size)?;
        if pa % size.bytes() != 0 || pa & !ADDR_MASK != 0 {
            return Err(PtError::BadAddress);
        }
        let table = self.table_for(iova, size.level(), true)?;
        let i = index(iova, size.level());
        if Pte(self.mem.read(table, i)).present() {
            return Err(PtError::Exists);
        }
        self.mem.write(table, i, Pte::page(pa, read, write).0);
        self.entries_written += 1;
        match size {
            PageSize::Size4K => self.leaves_4k += 1,
            PageSize::Size2M => self.leaves_2m += 1,
        }
        Ok(())
    }

    /// Unmaps the page of `size` at `iova`: the entry becomes 0 (QEMU does not honour a
    /// leaf's PR bit, only IR/IW; 0 clears all three). Tables stay. The caller flushes the
    /// domain before the page may be reused.
    pub(crate) fn unmap(&mut self, iova: u64, size: PageSize) -> Result<u64, PtError> {
        self.check(iova, size)?;
        let table = self.table_for(iova, size.level(), false)?;
        let i = index(iova, size.level());
        let e = Pte(self.mem.read(table, i));
        if !e.present() || e.next_level() != 0 {
            return Err(PtError::NotMapped);
        }
        self.mem.write(table, i, 0);
        self.entries_written += 1;
        match size {
            PageSize::Size4K => self.leaves_4k = self.leaves_4k.saturating_sub(1),
            PageSize::Size2M => self.leaves_2m = self.leaves_2m.saturating_sub(1),
        }
        Ok(e.addr())
    }

    /// What the IOMMU would do with `iova`: the physical address and (read, write), or
    /// `None` if it faults. Walks the tables as §2.2.3 describes (for tests and debugfs).
    pub(crate) fn translate(&self, iova: u64) -> Option<(u64, bool, bool)> {
        if iova >= self.iova_limit() {
            return None;
        }
        let mut table = self.root;
        let mut l = self.levels;
        loop {
            let e = Pte(self.mem.read(table, index(iova, l)));
            if !e.present() {
                return None;
            }
            if e.next_level() == 0 {
                let mask = (1u64 << (12 + 9 * (l - 1))) - 1;
                return Some((e.addr() | (iova & mask), e.read(), e.write()));
            }
            // A PDE must point one level down (the tables rsvm builds always do).
            if e.next_level() != l - 1 {
                return None;
            }
            table = e.addr();
            l -= 1;
        }
    }

    // The host unit tests inspect the tables through this.
    #[allow(dead_code)]
    pub(crate) fn mem(&self) -> &M {
        &self.mem
    }
}

/// Domain ids for DTEs (§2.2.2.1: 16 bits; 0 is left unused). QEMU 10 treats ids >= 0x100 as
/// invalid, so rsvm hands out 1..=0xff.
pub(crate) struct DomainIds {
    used: [u64; 4],
}

pub(crate) const DOMAIN_ID_MAX: u16 = 0xff;

impl DomainIds {
    pub(crate) const fn new() -> Self {
        // Id 0 is never handed out.
        Self { used: [1, 0, 0, 0] }
    }

    pub(crate) fn alloc(&mut self) -> Option<u16> {
        for (w, bits) in self.used.iter_mut().enumerate() {
            if *bits != u64::MAX {
                let b = (!*bits).trailing_zeros();
                *bits |= 1 << b;
                return u16::try_from(w * 64 + b as usize).ok();
            }
        }
        None
    }

    /// Gives `id` back; `false` if it was not allocated (a caller bug, reported not fatal).
    pub(crate) fn free(&mut self, id: u16) -> bool {
        if id == 0 || id > DOMAIN_ID_MAX {
            return false;
        }
        let (w, b) = (usize::from(id / 64), id % 64);
        match self.used.get_mut(w) {
            Some(bits) if *bits & (1 << b) != 0 => {
                *bits &= !(1u64 << b);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn in_use(&self) -> u32 {
        self.used.iter().map(|w| w.count_ones()).sum::<u32>() - 1
    }
}

kernel::static_assert!(ENTRIES * size_of::<Pte>() == SIZE_4K as usize);
