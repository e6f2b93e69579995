// SPDX-License-Identifier: GPL-2.0

//! Memory: pages for hardware structures (counted for the leak tests), direct-map and
//! physical addresses, guest memory pinned from the VMM's address space (counted too), and
//! the VM owner's `mm_struct`.

use super::{rsvm_shim_access_ok, rsvm_shim_alloc_pages, rsvm_shim_pinned_vm_charge, rsvm_shim_pinned_vm_uncharge, rsvm_shim_page_address, rsvm_shim_page_to_phys, rsvm_shim_phys_to_virt, rsvm_shim_virt_to_phys};
use core::sync::atomic::{AtomicI64, Ordering};
use kernel::{bindings, ffi::{c_int, c_uint, c_ulong, c_void}, mm::Mm, sync::aref::ARef};

/// Pages rsvm holds for hardware structures (`alloc_pages`, less `free_pages`).
static PAGES_HELD: AtomicI64 = AtomicI64::new(0);
/// Guest pages rsvm holds pinned (`pin_user_pages`, less `unpin_user_pages`).
static PINNED_PAGES: AtomicI64 = AtomicI64::new(0);

/// Pages currently held by rsvm (all hardware structures), for leak tests.
pub(crate) fn pages_held() -> i64 {
    PAGES_HELD.load(Ordering::Relaxed)
}

/// Pages of guest memory pinned by rsvm right now, for leak tests.
pub(crate) fn pinned_pages() -> i64 {
    PINNED_PAGES.load(Ordering::Relaxed)
}

/// A reference to the current task's `mm_struct` (`mmgrab`, `mmdrop` when dropped): the
/// VM's owner, compared with the caller's mm on every ioctl, and what each memslot charges
/// its pinned pages to.
pub(crate) struct OwnerMm(ARef<Mm>);

impl OwnerMm {
    /// The calling task's mm; `EINVAL` for a task without one (a kernel thread).
    pub(crate) fn current() -> kernel::error::Result<Self> {
        let task = kernel::current!();
        let mm: &Mm = task.mm().ok_or(kernel::error::code::EINVAL)?;
        Ok(OwnerMm(mm.into()))
    }

    /// Whether the calling task runs in this mm (an address comparison, as `current->mm ==`).
    pub(crate) fn is_current(&self) -> bool {
        kernel::current!().mm().is_some_and(|m| core::ptr::eq(m.as_raw(), self.0.as_raw()))
    }

    /// Charges `n` guest pages about to be pinned to this mm's `pinned_vm` (VmPin): `ENOMEM`
    /// past the caller's RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK, and nothing charged
    /// then (ib_umem's and iommufd's accounting). Call in the VMM's (the owner's) context.
    pub(crate) fn charge_pinned(&self, n: usize) -> kernel::error::Result {
        // SAFETY: the mm is alive (mmgrab); the shim only updates its atomic counter.
        let r = unsafe { rsvm_shim_pinned_vm_charge(self.0.as_raw().cast(), n as c_ulong) };
        if r < 0 { Err(kernel::error::Error::from_errno(r)) } else { Ok(()) }
    }

    /// Returns the charge of `n` pages no longer pinned (or not pinned after all), from any
    /// context (the VM's last close).
    pub(crate) fn uncharge_pinned(&self, n: usize) {
        if n > 0 {
            // SAFETY: as in `charge_pinned`.
            unsafe { rsvm_shim_pinned_vm_uncharge(self.0.as_raw().cast(), n as c_ulong) };
        }
    }
}

/// `2^order` zeroed, physically contiguous pages (counted in `pages_held`): their direct-map
/// address, or `None`.
pub(crate) fn alloc_pages(order: u32) -> Option<usize> {
    // SAFETY: plain page allocation; a zero return is failure.
    let va = unsafe { rsvm_shim_alloc_pages(order) } as usize;
    if va != 0 {
        PAGES_HELD.fetch_add(1 << order, Ordering::Relaxed);
    }
    (va != 0).then_some(va)
}

/// Frees what `alloc_pages(order)` returned.
///
/// # Safety
///
/// `va` came from `alloc_pages(order)` with this `order` and is freed once, unused after.
pub(crate) unsafe fn free_pages(va: usize, order: u32) {
    // SAFETY: the caller's guarantee: `va` is the address `__get_free_pages(.., order)`
    // returned, which free_pages() takes back.
    unsafe { bindings::free_pages(va as c_ulong, order) };
    PAGES_HELD.fetch_sub(1 << order, Ordering::Relaxed);
}

/// The physical address of a direct-map address (`__pa`).
///
/// # Safety
///
/// `va` is a direct-map address (of pages rsvm allocated or holds).
pub(crate) unsafe fn virt_to_phys(va: usize) -> u64 {
    // SAFETY: the caller's guarantee; __pa is arithmetic on the direct map.
    unsafe { rsvm_shim_virt_to_phys(va as c_ulong) }
}

/// The direct-map address of RAM at `pa` (`__va`).
///
/// # Safety
///
/// `pa` is RAM rsvm allocated or holds (pinned).
pub(crate) unsafe fn phys_to_virt(pa: u64) -> usize {
    // SAFETY: the caller's guarantee; __va is arithmetic on the direct map.
    unsafe { rsvm_shim_phys_to_virt(pa) as usize }
}

/// The physical address of a `struct page`.
///
/// # Safety
///
/// `page` is a page the caller holds (pinned).
pub(crate) unsafe fn page_to_phys(page: *mut c_void) -> u64 {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_page_to_phys(page) }
}

/// The direct-map address of a `struct page`.
///
/// # Safety
///
/// `page` is a page the caller holds (pinned).
pub(crate) unsafe fn page_address(page: *mut c_void) -> usize {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_page_address(page) as usize }
}

/// Whether `[addr, addr + size)` is a user address range (`access_ok`: only the numbers).
pub(crate) fn access_ok(addr: u64, size: u64) -> bool {
    // SAFETY: access_ok() only inspects the numbers.
    unsafe { rsvm_shim_access_ok(addr as c_ulong, size as c_ulong) != 0 }
}

/// `pin_user_pages_fast(FOLL_LONGTERM [| FOLL_WRITE])` of `nr` pages of the current task from
/// `start` into `pages` (counted in `pinned_pages`): how many were pinned, or an errno.
///
/// # Safety
///
/// `pages` has room for `nr` pointers; every page pinned is unpinned once with
/// `unpin_user_pages`.
pub(crate) unsafe fn pin_user_pages(start: usize, nr: usize, write: bool, pages: *mut *mut c_void) -> isize {
    // pin_user_pages_fast takes an int count (rsvm pins at most a 2 MiB block at a time).
    let Ok(nr) = c_int::try_from(nr) else {
        return -(bindings::EINVAL as isize);
    };
    let flags = bindings::FOLL_LONGTERM | if write { bindings::FOLL_WRITE } else { 0 };
    // SAFETY: the caller's guarantee: `pages` has room for `nr` page pointers; the pins are
    // the current task's user pages, released by `unpin_user_pages`.
    let r = unsafe { bindings::pin_user_pages_fast(start as c_ulong, nr, flags as c_uint, pages.cast()) };
    if r > 0 {
        PINNED_PAGES.fetch_add(i64::from(r), Ordering::Relaxed);
    }
    r as isize
}

/// Unpins `n` pages (marked dirty if `dirty`), a folio's pages together.
///
/// # Safety
///
/// `pages` holds `n` pages pinned by `pin_user_pages`, none unpinned before.
pub(crate) unsafe fn unpin_user_pages(pages: *mut *mut c_void, n: usize, dirty: bool) {
    // SAFETY: the caller's guarantee: `n` pages pinned here, each unpinned once.
    // unpin_user_pages_dirty_lock() drops the pins of one folio's pages together (a THP's
    // 512 in one atomic operation, where page by page costs 512).
    unsafe { bindings::unpin_user_pages_dirty_lock(pages.cast(), n as c_ulong, dirty) };
    PINNED_PAGES.fetch_sub(n as i64, Ordering::Relaxed);
}
