// SPDX-License-Identifier: GPL-2.0

//! Memslots: guest-physical ranges backed by the VMM's memory.
//!
//! Pinning decision (Documentation/design.md): guest pages are pinned with FOLL_LONGTERM on
//! first touch (the nested page fault) and stay pinned until their slot is deleted or the VM
//! is destroyed; there is no MMU notifier. Faulting takes the whole 2 MiB block where the
//! slot covers it and guest-physical and host-virtual addresses agree modulo 2 MiB, and maps
//! it with one 2 MiB NPT leaf when the pinned block is physically contiguous (a THP or
//! hugetlbfs folio); otherwise 4 KiB leaves. Every pin is counted
//! (`/sys/kernel/debug/rsvm/pinned_pages`) and charged to the VMM's `mm->pinned_vm` against
//! its RLIMIT_MEMLOCK (`ffi::OwnerMm::charge_pinned`): a pin past the limit fails with `ENOMEM`.

use crate::ffi;
use crate::npt::{Access, Npt};
use crate::uapi::kvm::{KvmUserspaceMemoryRegion2, KVM_MEM_READONLY};
use kernel::prelude::*;

pub(crate) const PAGE_SIZE: u64 = 4096;
const PAGES_2M: u64 = 512;
/// As KVM_USER_MEM_SLOTS on x86 (KVM_CAP_NR_MEMSLOTS).
pub(crate) const MAX_SLOTS: u32 = 32764;
/// KVM's KVM_MEM_MAX_NR_PAGES: 2^31 - 1 pages.
const MAX_NR_PAGES: u64 = (1 << 31) - 1;
/// Slot pages per chunk of `PinnedPages` (2 MiB of guest memory, 4 KiB of page pointers),
/// and so the most one `pin_user_pages_fast()` call pins.
const CHUNK: u64 = PAGES_2M;

/// The pinned `struct page *` of a slot by slot page index (0: not pinned), in chunks of
/// [`CHUNK`] allocated on a chunk's first pin. Up front a slot costs 8 bytes per 2 MiB of
/// guest memory (32 MiB for KVM's largest, 8 TiB), not 8 per 4 KiB (16 GiB, which kvmalloc
/// refuses with a warning); everything is memcg-accounted (GFP_KERNEL_ACCOUNT, as KVM's
/// per-slot arrays) and a failed allocation is ENOMEM without a warning.
struct PinnedPages {
    chunks: KVVec<Option<KVec<usize>>>,
}

impl PinnedPages {
    fn new(npages: u64) -> Result<Self> {
        let n = npages.div_ceil(CHUNK) as usize;
        let mut chunks = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT | __GFP_NOWARN)?;
        for _ in 0..n {
            chunks.push_within_capacity(None).map_err(|_| ENOMEM)?;
        }
        Ok(Self { chunks })
    }

    /// The page pinned for slot page `i`, or 0.
    fn get(&self, i: u64) -> usize {
        let c = self.chunks.get((i / CHUNK) as usize).and_then(|c| c.as_ref());
        c.and_then(|c| c.get((i % CHUNK) as usize)).copied().unwrap_or(0)
    }

    /// Records the page pinned for slot page `i` (its chunk allocated first if needed).
    fn set(&mut self, i: u64, page: usize) -> Result {
        let c = self.chunks.get_mut((i / CHUNK) as usize).ok_or(EINVAL)?;
        if c.is_none() {
            let mut v = KVec::with_capacity(CHUNK as usize, GFP_KERNEL_ACCOUNT)?;
            v.resize(CHUNK as usize, 0, GFP_KERNEL_ACCOUNT)?;
            *c = Some(v);
        }
        let e = c.as_mut().and_then(|v| v.get_mut((i % CHUNK) as usize)).ok_or(EINVAL)?;
        *e = page;
        Ok(())
    }

    /// The allocated chunks, mutably (to unpin them).
    fn chunks_mut(&mut self) -> impl Iterator<Item = &mut KVec<usize>> {
        self.chunks.iter_mut().filter_map(|c| c.as_mut())
    }

    fn count(&self) -> u64 {
        self.chunks.iter().flatten().map(|c| c.iter().filter(|&&p| p != 0).count() as u64).sum()
    }
}

/// One memslot.
///
/// # Invariants
///
/// Each non-zero entry of `pages` is a `struct page *` pinned by `pin_range`, unpinned
/// exactly once, in `Drop`.
pub(crate) struct Memslot {
    pub(crate) id: u32,
    pub(crate) gpa: u64,
    pub(crate) npages: u64,
    pub(crate) hva: u64,
    pub(crate) readonly: bool,
    pages: PinnedPages,
    /// Who pays for the pinned pages: each one is charged before it is pinned, returned
    /// when it is unpinned (or was not pinned after all).
    charge: ffi::OwnerMm,
    /// An IOMMU may still reach the pages (a failed block or flush): never unpin them.
    quarantined: bool,
}

impl Memslot {
    pub(crate) fn contains(&self, gpa: u64) -> bool {
        gpa >= self.gpa && (gpa - self.gpa) / PAGE_SIZE < self.npages
    }

    pub(crate) fn overlaps(&self, gpa: u64, npages: u64) -> bool {
        gpa < self.gpa + self.npages * PAGE_SIZE && self.gpa < gpa + npages * PAGE_SIZE
    }

    /// Pins pages `[first, first + n)` of the slot that are not pinned yet, each run of
    /// unpinned pages within a chunk with one `pin_user_pages_fast()` call.
    pub(crate) fn pin_range(&mut self, first: u64, n: u64) -> Result {
        let end = first.checked_add(n).filter(|&e| e <= self.npages).ok_or(EINVAL)?;
        let mut i = first;
        while i < end {
            if self.pages.get(i) != 0 {
                i += 1;
                continue;
            }
            let chunk_end = (i / CHUNK + 1) * CHUNK;
            let mut run = 1;
            while i + run < end.min(chunk_end) && self.pages.get(i + run) == 0 {
                run += 1;
            }
            let mut got: KVec<*mut core::ffi::c_void> = KVec::with_capacity(run as usize, GFP_KERNEL)?;
            got.resize(run as usize, core::ptr::null_mut(), GFP_KERNEL)?;
            self.charge.charge_pinned(run as usize)?;
            // SAFETY: pins up to `run` pages of the caller's (the VM owner's, checked by the
            // ioctl layer) address space into `got`, which has room for `run` pointers.
            let r = unsafe {
                ffi::pin_user_pages((self.hva + i * PAGE_SIZE) as usize, run as usize, !self.readonly, got.as_mut_ptr())
            };
            // What was charged but not pinned goes back at once.
            self.charge.uncharge_pinned((run as isize - r.max(0)) as usize);
            if r <= 0 {
                return Err(if r < 0 { Error::from_errno(r as i32) } else { EFAULT });
            }
            for (k, p) in got.iter().take(r as usize).enumerate() {
                // INVARIANT: each pinned page is recorded exactly once; unpinned in Drop.
                // `set` cannot fail here: the chunk of `i` exists or is allocated for the
                // run's first page, and every page of the run is in it.
                if self.pages.set(i + k as u64, *p as usize).is_err() {
                    // SAFETY: pinned just above and not recorded: given back at once.
                    unsafe { ffi::unpin_user_pages(&mut (*p as *mut core::ffi::c_void), 1, false) };
                    self.charge.uncharge_pinned(1);
                }
            }
            // A partial pin (r < run) continues with the rest of the run.
            i += r as u64;
        }
        Ok(())
    }

    /// The pinned page backing slot page `i`, pinning it first if needed.
    pub(crate) fn page(&mut self, i: u64) -> Result<*mut core::ffi::c_void> {
        self.pin_range(i, 1)?;
        Ok(self.pages.get(i) as *mut core::ffi::c_void)
    }

    pub(crate) fn phys(&self, i: u64) -> Option<u64> {
        let p = Some(self.pages.get(i)).filter(|&p| p != 0)?;
        // SAFETY: `p` is a page we hold pinned (type invariant).
        Some(unsafe { ffi::page_to_phys(p as *mut core::ffi::c_void) })
    }

    /// Handles a nested page fault at `gpa` inside this slot: pins and maps it.
    pub(crate) fn fault_in(&mut self, npt: &mut Npt, gpa: u64) -> Result {
        let access = if self.readonly { Access::ReadOnly } else { Access::ReadWrite };
        let i = (gpa - self.gpa) / PAGE_SIZE;
        let block_gpa = gpa & !(PAGES_2M * PAGE_SIZE - 1);
        let huge_ok = block_gpa >= self.gpa
            && self.contains(block_gpa + (PAGES_2M - 1) * PAGE_SIZE)
            && (self.hva.wrapping_sub(self.gpa)) % (PAGES_2M * PAGE_SIZE) == 0;
        if huge_ok {
            let first = (block_gpa - self.gpa) / PAGE_SIZE;
            self.pin_range(first, PAGES_2M)?;
            if let Some(base) = self.phys(first) {
                let contiguous = base % (PAGES_2M * PAGE_SIZE) == 0
                    && (1..PAGES_2M).all(|k| self.phys(first + k) == Some(base + k * PAGE_SIZE));
                if contiguous && npt.map_2m(block_gpa, base, access).is_ok() {
                    return Ok(());
                }
            }
        }
        self.pin_range(i, 1)?;
        let pa = self.phys(i).ok_or(EFAULT)?;
        npt.map_4k(gpa & !(PAGE_SIZE - 1), pa, access)
    }

    /// Pages of this slot pinned right now.
    pub(crate) fn pinned(&self) -> u64 {
        self.pages.count()
    }
}

impl Drop for Memslot {
    fn drop(&mut self) {
        if self.quarantined {
            // Leaked on purpose, pins and all (`pinned_pages` keeps counting them).
            core::mem::forget(core::mem::replace(&mut self.pages.chunks, KVVec::new()));
            return;
        }
        // Each run of pinned entries of a chunk is unpinned with one call, which handles a
        // folio's pages together (a 2 MiB THP is one reference drop, not 512).
        let dirty = !self.readonly;
        let mut unpinned = 0;
        for chunk in self.pages.chunks_mut() {
            let n = chunk.len();
            let mut i = 0;
            while i < n {
                if chunk.get(i).copied().unwrap_or(0) == 0 {
                    i += 1;
                    continue;
                }
                let mut j = i + 1;
                while j < n && chunk.get(j).copied().unwrap_or(0) != 0 {
                    j += 1;
                }
                if let Some(run) = chunk.get_mut(i..j) {
                    // Pages of a writable slot may have been written by the guest: dirty.
                    // SAFETY: `run` holds non-zero `struct page *`s (a `usize` is
                    // pointer-sized), each pinned by us and unpinned only here (invariant).
                    unsafe { ffi::unpin_user_pages(run.as_mut_ptr().cast(), run.len(), dirty) };
                    unpinned += run.len();
                }
                i = j;
            }
        }
        self.charge.uncharge_pinned(unpinned);
    }
}

/// The memslot table of one VM.
#[derive(Default)]
pub(crate) struct Memslots {
    slots: KVec<Memslot>,
}

/// What `KVM_SET_USER_MEMORY_REGION` asks for, after validation.
pub(crate) enum SlotChange {
    /// Nothing to do (same slot, same flags).
    None,
    Create(Memslot),
    /// Delete slot `id`: the caller unmaps `[gpa, gpa+len)`, flushes, then drops the slot.
    Delete { index: usize },
    Move { index: usize, new_gpa: u64 },
}

impl Memslots {
    pub(crate) fn find_mut(&mut self, gpa: u64) -> Option<&mut Memslot> {
        self.slots.iter_mut().find(|s| s.contains(gpa))
    }

    pub(crate) fn pinned(&self) -> u64 {
        self.slots.iter().map(|s| s.pinned()).sum()
    }

    /// A device's DMA may still reach every slot (its IOMMU entry could not be blocked):
    /// each slot keeps its pins for good, whenever it goes.
    pub(crate) fn quarantine(&mut self) {
        for s in self.slots.iter_mut() {
            s.quarantined = true;
        }
    }

    /// Every slot, mutably (to pin and map them all in an I/O domain).
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Memslot> {
        self.slots.iter_mut()
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot added last (by `insert`).
    pub(crate) fn last_mut(&mut self) -> Option<&mut Memslot> {
        self.slots.last_mut()
    }

    /// Whether any slot overlaps `[gpa, gpa + npages pages)`.
    pub(crate) fn overlap_any(&self, gpa: u64, npages: u64) -> bool {
        self.slots.iter().any(|s| s.overlaps(gpa, npages))
    }

    /// Validates a region as KVM's `__kvm_set_memory_region()` does (same errnos). The only
    /// flag is READONLY: no dirty logging, and no guest_memfd (KVM_MEM_GUEST_MEMFD is EINVAL,
    /// as on a KVM built without it), so `guest_memfd*` and the padding are never read.
    pub(crate) fn plan(&self, r: &KvmUserspaceMemoryRegion2, gpa_limit: u64) -> Result<SlotChange> {
        if r.flags & !KVM_MEM_READONLY != 0 {
            return Err(EINVAL);
        }
        // High 16 bits: address space id (x86 has 1 without SMM); low: slot id.
        if r.slot >> 16 != 0 || (r.slot & 0xffff) >= MAX_SLOTS {
            return Err(EINVAL);
        }
        let id = r.slot & 0xffff;
        if r.memory_size & (PAGE_SIZE - 1) != 0 || r.guest_phys_addr & (PAGE_SIZE - 1) != 0 {
            return Err(EINVAL);
        }
        if r.userspace_addr & (PAGE_SIZE - 1) != 0 || !ffi::access_ok(r.userspace_addr, r.memory_size)
        {
            return Err(EINVAL);
        }
        let end = r.guest_phys_addr.checked_add(r.memory_size).ok_or(EINVAL)?;
        let npages = r.memory_size / PAGE_SIZE;
        if npages > MAX_NR_PAGES {
            return Err(EINVAL);
        }
        let existing = self.slots.iter().position(|s| s.id == id);
        if npages == 0 {
            // Deleting a slot that does not exist is EINVAL, as in KVM.
            return existing.map(|index| SlotChange::Delete { index }).ok_or(EINVAL);
        }
        // rsvm's own limit: the NPT cannot map beyond its depth.
        if end > gpa_limit {
            return Err(EINVAL);
        }
        let overlap = self.slots.iter().any(|s| s.id != id && s.overlaps(r.guest_phys_addr, npages));
        match existing.and_then(|i| self.slots.get(i).map(|s| (i, s))) {
            Some((index, s)) => {
                // KVM: size, host address and READONLY cannot change on an existing slot.
                if s.npages != npages || s.hva != r.userspace_addr || s.readonly != (r.flags & KVM_MEM_READONLY != 0) {
                    return Err(EINVAL);
                }
                if s.gpa == r.guest_phys_addr {
                    return Ok(SlotChange::None);
                }
                if overlap {
                    return Err(EEXIST);
                }
                Ok(SlotChange::Move { index, new_gpa: r.guest_phys_addr })
            }
            None => {
                if overlap {
                    return Err(EEXIST);
                }
                let pages = PinnedPages::new(npages)?;
                Ok(SlotChange::Create(Memslot {
                    id,
                    gpa: r.guest_phys_addr,
                    npages,
                    hva: r.userspace_addr,
                    readonly: r.flags & KVM_MEM_READONLY != 0,
                    pages,
                    charge: ffi::OwnerMm::current()?,
                    quarantined: false,
                }))
            }
        }
    }

    pub(crate) fn insert(&mut self, s: Memslot) -> Result {
        self.slots.push(s, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    pub(crate) fn remove(&mut self, index: usize) -> Option<Memslot> {
        if index < self.slots.len() {
            self.slots.remove(index).ok()
        } else {
            None
        }
    }
}
