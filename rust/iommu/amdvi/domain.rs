// SPDX-License-Identifier: GPL-2.0

//! An I/O address space: a domain id and a v1 I/O page table whose pages are rsvm's counted
//! `HwPages` (so the unload leak check covers them).

use super::pgtable::{DomainIds, IoPageTable, PageSize, PtError, TableMem};
use crate::hwpage::{phys_to_virt, HwPages};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

/// What every domain's page-table updates cost, for the pin-and-map benchmark (debugfs
/// `amdvi`, `io_pt:` line): entries written (PDEs and leaves, maps and unmaps), table pages
/// allocated, and leaves mapped by size. Totals since load; readers take differences.
pub(crate) struct IoPtStats {
    pub(crate) entries_written: AtomicU64,
    pub(crate) tables: AtomicU64,
    pub(crate) maps_4k: AtomicU64,
    pub(crate) maps_2m: AtomicU64,
}

pub(crate) static IO_PT_STATS: IoPtStats = IoPtStats {
    entries_written: AtomicU64::new(0),
    tables: AtomicU64::new(0),
    maps_4k: AtomicU64::new(0),
    maps_2m: AtomicU64::new(0),
};

impl IoPtStats {
    pub(crate) fn show(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        writeln!(
            f,
            "io_pt: entries_written {} tables {} maps_4k {} maps_2m {}",
            g(&self.entries_written), g(&self.tables), g(&self.maps_4k), g(&self.maps_2m)
        )
    }

    /// Adds what `pt` did since `before` (its counters then: entries written, tables).
    fn account<M: TableMem>(&self, pt: &IoPageTable<M>, before: (u64, u64)) {
        self.entries_written.fetch_add(pt.entries_written.wrapping_sub(before.0), Ordering::Relaxed);
        self.tables.fetch_add(pt.tables.wrapping_sub(before.1), Ordering::Relaxed);
    }
}

/// Table pages for [`IoPageTable`], freed with it.
///
/// # Invariants
///
/// Every address `alloc_table` returned is the physical address of a page in `pages`.
#[derive(Default)]
pub(crate) struct HwTables {
    pages: KVec<HwPages>,
}

impl HwTables {
    fn entry(&self, pa: u64, i: usize) -> Option<*mut u64> {
        if i >= 512 {
            return None;
        }
        // `pa` is one of our table pages (the `TableMem` contract, upheld by IoPageTable,
        // which passes only addresses `alloc_table` returned); `i` is inside it.
        Some((phys_to_virt(pa) as *mut u64).wrapping_add(i))
    }
}

impl TableMem for HwTables {
    fn alloc_table(&mut self) -> Option<u64> {
        let p = HwPages::page().ok()?;
        let pa = p.phys();
        // INVARIANT: `pa` is the page just pushed (or nothing is returned).
        self.pages.push(p, GFP_KERNEL).ok()?;
        Some(pa)
    }

    fn read(&self, pa: u64, i: usize) -> u64 {
        match self.entry(pa, i) {
            // SAFETY: an entry of one of our live table pages (type invariant and `entry`);
            // the IOMMU may set A/D bits concurrently: a volatile read.
            Some(p) => unsafe { p.read_volatile() },
            None => 0,
        }
    }

    fn write(&mut self, pa: u64, i: usize, v: u64) {
        if let Some(p) = self.entry(pa, i) {
            // SAFETY: as in `read`; we own the page (`&mut self`), the IOMMU only reads it
            // (and sets A/D bits, which a whole-entry store may drop: harmless).
            unsafe { p.write_volatile(v) };
        }
    }
}

/// A domain: its id tags the IOMMU's cached translations (INVALIDATE_IOMMU_PAGES).
pub(crate) struct Domain {
    pub(crate) id: u16,
    pub(crate) pt: IoPageTable<HwTables>,
}

pub(crate) fn pt_errno(e: PtError) -> Error {
    match e {
        PtError::BadAddress => EINVAL,
        PtError::Exists => EEXIST,
        PtError::NotMapped => ENOENT,
        PtError::NoMemory => ENOMEM,
    }
}

impl Domain {
    /// A new empty domain of `levels` levels with an id from `ids` (give it back with
    /// [`Domain::release`]).
    pub(crate) fn new(ids: &mut DomainIds, levels: u32) -> Result<Self> {
        let pt = IoPageTable::new(HwTables::default(), levels).map_err(pt_errno)?;
        IO_PT_STATS.tables.fetch_add(1, Ordering::Relaxed);
        let id = ids.alloc().ok_or(ENOSPC)?;
        Ok(Self { id, pt })
    }

    pub(crate) fn map(&mut self, iova: u64, pa: u64, size: PageSize, read: bool, write: bool) -> Result {
        let before = (self.pt.entries_written, self.pt.tables);
        let r = self.pt.map(iova, pa, size, read, write).map_err(pt_errno);
        IO_PT_STATS.account(&self.pt, before);
        if r.is_ok() {
            let n = match size {
                PageSize::Size4K => &IO_PT_STATS.maps_4k,
                PageSize::Size2M => &IO_PT_STATS.maps_2m,
            };
            n.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    pub(crate) fn unmap(&mut self, iova: u64, size: PageSize) -> Result<u64> {
        let before = (self.pt.entries_written, self.pt.tables);
        let r = self.pt.unmap(iova, size).map_err(pt_errno);
        IO_PT_STATS.account(&self.pt, before);
        r
    }

    /// Frees the id; the tables go with `self`. The caller has pointed every DTE that used
    /// the domain elsewhere and flushed the domain.
    pub(crate) fn release(self, ids: &mut DomainIds) {
        self.free_id(ids);
    }

    /// Gives the id back to `ids` (for an owner whose `Drop` frees the domain).
    pub(crate) fn free_id(&self, ids: &mut DomainIds) {
        if !ids.free(self.id) {
            pr_warn!("amdvi: domain {} freed twice\n", self.id);
        }
    }
}
