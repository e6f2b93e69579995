// SPDX-License-Identifier: GPL-2.0

//! Zeroed, physically contiguous pages for hardware structures.

use crate::ffi;
use kernel::prelude::*;

/// `2^order` zeroed, physically contiguous pages from the direct map.
///
/// # Invariants
///
/// `va` is the direct-map address of a live allocation of `2^order` pages made by
/// `ffi::alloc_pages(order)`, owned by this value and freed exactly once in `Drop`.
pub(crate) struct HwPages {
    va: usize,
    order: u32,
}

impl HwPages {
    pub(crate) fn new(order: u32) -> Result<Self> {
        let va = ffi::alloc_pages(order).ok_or(ENOMEM)?;
        // INVARIANT: `va` was just allocated with `order` and is owned by us.
        Ok(Self { va, order })
    }

    pub(crate) fn page() -> Result<Self> {
        Self::new(0)
    }

    pub(crate) fn len(&self) -> usize {
        4096 << self.order
    }

    pub(crate) fn phys(&self) -> u64 {
        // SAFETY: `va` is a direct-map address (type invariant).
        unsafe { ffi::virt_to_phys(self.va) }
    }

    pub(crate) fn as_mut_ptr<T>(&self) -> *mut T {
        self.va as *mut T
    }

    pub(crate) fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the allocation is `len()` bytes, exclusively ours (`&mut self`), and any
        // bit pattern is a valid u8.
        unsafe { core::slice::from_raw_parts_mut(self.va as *mut u8, self.len()) }
    }

    pub(crate) fn fill(&mut self, byte: u8) {
        self.bytes().fill(byte);
    }
}

impl Drop for HwPages {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own this allocation of this order.
        unsafe { ffi::free_pages(self.va, self.order) };
    }
}

/// The direct-map address of a physical address of RAM rsvm allocated.
pub(crate) fn phys_to_virt(pa: u64) -> usize {
    // SAFETY: __va() is arithmetic on the direct map; callers pass addresses of pages they own.
    unsafe { ffi::phys_to_virt(pa) }
}
