// SPDX-License-Identifier: GPL-2.0

//! A VM's I/O domain (device address = guest-physical address) behind the vendor-neutral
//! [`IoDomain`]: the VM keeps it in step with its memslots (`iommu::IoSpace`), assignment
//! creates it with the VM's first device and drops it with the last.

use super::super::domain::Domain;
use super::super::pgtable::PageSize;
use super::super::regs;
use super::super::unit::{hw, Hw};
use crate::iommu::{IoDomain, IoSpace, IoTable};
use crate::memslot::{Memslot, Memslots, PAGE_SIZE};
use kernel::{prelude::*, sync::Mutex};

const SIZE_2M: u64 = 1 << 21;
/// The depth of a VM's I/O page table: 4 levels (48-bit guest-physical addresses), or what
/// the unit supports if less. Memslots above that cannot be mapped (`EINVAL` while assigned).
const IO_LEVELS: u32 = 4;

/// A VM's domain. Dropping it gives its id back (every DTE that used it was pointed
/// elsewhere and the domain flushed before); its tables go with it.
pub(super) struct VmDomain(Domain);

impl IoDomain for VmDomain {
    fn table(&self) -> IoTable {
        IoTable { id: self.0.id, root: self.0.pt.root(), levels: self.0.pt.levels() }
    }

    fn map_slot(&mut self, s: &mut Memslot) -> Result {
        map_slot(&mut self.0, s)
    }

    fn unmap_range(&mut self, gpa: u64, len: u64) {
        unmap_range(&mut self.0, gpa, len)
    }

    /// INVALIDATE_IOMMU_PAGES for the domain, then COMPLETION_WAIT.
    fn flush(&self) -> Result {
        hw()?.lock().flush_domain(self.0.id)
    }
}

impl Drop for VmDomain {
    fn drop(&mut self) {
        // The unit outlives every VM (a VM fd holds a module reference); without it the id
        // allocator is gone too.
        if let Ok(hw) = hw() {
            self.0.free_id(&mut hw.lock().domain_ids);
        }
    }
}

/// Maps every page of `s` in `dom` (pinning all of it): 2 MiB leaves where the guest range
/// and the pinned backing are 2 MiB aligned and contiguous, else 4 KiB leaves.
fn map_slot(dom: &mut Domain, s: &mut Memslot) -> Result {
    s.pin_range(0, s.npages)?;
    let write = !s.readonly;
    let pages_2m = SIZE_2M / PAGE_SIZE;
    let mut i = 0u64;
    while i < s.npages {
        let gpa = s.gpa + i * PAGE_SIZE;
        let pa = s.phys(i).ok_or(EFAULT)?;
        if gpa % SIZE_2M == 0 && pa % SIZE_2M == 0 && i + pages_2m <= s.npages
            && (1..pages_2m).all(|k| s.phys(i + k) == Some(pa + k * PAGE_SIZE))
        {
            dom.map(gpa, pa, PageSize::Size2M, true, write)?;
            i += pages_2m;
        } else {
            dom.map(gpa, pa, PageSize::Size4K, true, write)?;
            i += 1;
        }
    }
    Ok(())
}

/// Removes every leaf of `[gpa, gpa + len)` from `dom` (the caller flushes the domain).
fn unmap_range(dom: &mut Domain, gpa: u64, len: u64) {
    let end = gpa.saturating_add(len);
    let mut a = gpa;
    while a < end {
        if a % SIZE_2M == 0 && a + SIZE_2M <= end && dom.unmap(a, PageSize::Size2M).is_ok() {
            a += SIZE_2M;
            continue;
        }
        let _ = dom.unmap(a, PageSize::Size4K);
        a += PAGE_SIZE;
    }
}

/// A VM's first assignment: a domain of the unit (`hw`) with all of the VM's memory mapped
/// (pinned whole).
pub(super) fn new_io_space(hw: &Mutex<Hw>, slots: &mut Memslots) -> Result<IoSpace> {
    let levels = IO_LEVELS.min(regs::efr::max_levels(hw.lock().efr));
    let dom = VmDomain(Domain::new(&mut hw.lock().domain_ids, levels)?);
    // On error the domain, never attached to a DTE (nothing cached), is dropped: its id goes
    // back and its tables are freed.
    IoSpace::new(KBox::new(dom, GFP_KERNEL)?, slots)
}
