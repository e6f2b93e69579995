// SPDX-License-Identifier: GPL-2.0

//! rsvm's own IOMMU drivers (off unless asked for: module parameter `amdvi=1`), and the
//! vendor-neutral interface between a VM and the I/O side of device assignment.
//!
//! The VM (`vm.rs`) knows only this module's types and [`passthrough`]'s entry points:
//! - [`IoSpace`]: the VM's I/O address space, held in its guest memory while devices are
//!   assigned; the VM tells it about memslots coming and going ([`IoSpace::slot_added`],
//!   [`IoSpace::slot_removed`]) and asks it whether a range is a device's BAR
//!   ([`IoSpace::bar_overlap`]);
//! - [`passthrough`]: the rsvm-only assignment ioctls, the VM fd's release and the
//!   level-triggered EOI (an assigned device's INTx resampled).
//!
//! The vendor driver ([`amdvi`]) knows the VM only as a [`Guest`]: its memory (under its
//! memory lock), its NPT flush, its APIC delivery. Neither side imports the other.

use crate::lapic::Message;
use crate::memslot::{Memslot, Memslots, PAGE_SIZE};
use crate::npt::Npt;
use crate::uapi::RsvmPciDevice;
use core::sync::atomic::AtomicU32;
use kernel::prelude::*;

pub(crate) mod amdvi;
pub(crate) mod passthrough;

/// The VM that devices are assigned to, as the I/O side sees it (implemented by `vmshared::VmShared`).
/// Held as `Arc<dyn Guest>` by every assignment and interrupt route, so the VM outlives them.
pub(crate) trait Guest: Send + Sync {
    /// The VM's id, for messages and debugfs.
    fn id(&self) -> u64;
    /// Whether the VM has the in-kernel local APIC (`KVM_CAP_SPLIT_IRQCHIP`): only it can
    /// take a device's interrupt.
    fn has_lapic(&self) -> bool;
    /// Delivers an interrupt message to the APICs it addresses (an assigned device's MSI or
    /// INTx; a level-triggered message sets the vector's TMR bit, so its EOI comes back to
    /// [`passthrough::level_eoi`]). Takes the VM's vCPU-list mutex: process context.
    fn deliver(&self, m: &Message);
    /// Assigned devices' INTx routed to this VM: a level-triggered EOI looks for them only
    /// while this is non-zero.
    fn intx_routes(&self) -> &AtomicU32;
    /// Runs `f` under the VM's memory lock (slots, NPT, I/O space) and returns its result.
    /// Prefer [`with_mem`], which takes an `FnOnce`.
    fn with_mem_dyn(&self, f: &mut dyn FnMut(GuestMem<'_>) -> Result) -> Result;
    /// After NPT entries were removed: every vCPU flushes before it uses the NPT again, and
    /// none is still in guest mode with the old translations when this returns.
    fn flush_npt(&self);
}

/// Whether `a` and `b` are the same VM (by address: vtables may differ between codegen units).
pub(crate) fn same_guest(a: &dyn Guest, b: &dyn Guest) -> bool {
    core::ptr::addr_eq(a as *const dyn Guest, b as *const dyn Guest)
}

/// A VM's guest memory under its memory lock (the "MMU lock"), as [`Guest::with_mem_dyn`]
/// lends it.
pub(crate) struct GuestMem<'a> {
    pub(crate) slots: &'a mut Memslots,
    pub(crate) npt: &'a mut Npt,
    pub(crate) io: &'a mut Option<IoSpace>,
}

/// [`Guest::with_mem_dyn`] for an `FnOnce`.
pub(crate) fn with_mem<F: FnOnce(GuestMem<'_>) -> Result>(vm: &dyn Guest, f: F) -> Result {
    let mut f = Some(f);
    // The VM calls the closure exactly once; a second call could only be a bug there.
    vm.with_mem_dyn(&mut |m| f.take().map_or(Err(EINVAL), |f| f(m)))
}

/// An ioctl's device selector as (PCI segment, requester id = bus << 8 | devfn); `EINVAL`
/// for unknown flags.
pub(crate) fn sel_devid(d: &RsvmPciDevice) -> Result<(u16, u16)> {
    if d.flags != 0 {
        return Err(EINVAL);
    }
    Ok((d.segment, u16::from(d.bus) << 8 | u16::from(d.devfn)))
}

/// The root of a VM's I/O page table, as a vendor's device-table entry points at it.
#[derive(Clone, Copy)]
pub(crate) struct IoTable {
    /// The domain id that tags the unit's cached translations.
    pub(crate) id: u16,
    /// Physical address of the top-level table.
    pub(crate) root: u64,
    pub(crate) levels: u32,
}

/// A vendor's I/O page table for one VM (device address = guest-physical address). Dropping
/// it frees the table and its domain id; the vendor's caller has pointed every device-table
/// entry that used it elsewhere and flushed it first.
pub(crate) trait IoDomain: Send {
    fn table(&self) -> IoTable;
    /// Pins all of `s` and maps it (read-only slots without write permission). On error
    /// part of it may be mapped: the caller unmaps the slot's range.
    fn map_slot(&mut self, s: &mut Memslot) -> Result;
    /// Removes every leaf of `[gpa, gpa + len)`; the caller flushes.
    fn unmap_range(&mut self, gpa: u64, len: u64);
    /// Drops the unit's cached translations of the domain and waits until it did.
    fn flush(&self) -> Result;
}

/// A device's memory BAR placed in the VM's guest-physical space; in the NPT while the
/// device decodes memory (its command register's Memory Space bit: CVE-2020-12888).
#[derive(Clone, Copy)]
pub(crate) struct BarMap {
    /// The device's PCI requester id (bus << 8 | devfn).
    pub(crate) devid: u16,
    pub(crate) bar: u32,
    pub(crate) gpa: u64,
    pub(crate) len: u64,
    /// The BAR's host-physical address.
    pub(crate) hpa: u64,
}

/// A VM's I/O address space, present in its guest memory while a device is assigned: the
/// vendor's I/O page table kept in step with the memslots, and the BARs mapped in the NPT.
pub(crate) struct IoSpace {
    pub(crate) domain: KBox<dyn IoDomain>,
    /// Devices assigned to the VM: the space goes with the last.
    pub(crate) devices: u32,
    pub(crate) bars: KVec<BarMap>,
}

impl IoSpace {
    /// A VM's first assignment: `domain` with every slot of `slots` mapped (pinned whole).
    /// On error the domain is dropped (never attached to a device: nothing is cached).
    pub(crate) fn new(mut domain: KBox<dyn IoDomain>, slots: &mut Memslots) -> Result<Self> {
        for s in slots.iter_mut() {
            domain.map_slot(s)?;
        }
        Ok(IoSpace { domain, devices: 0, bars: KVec::new() })
    }

    /// Whether `[gpa, gpa + len)` overlaps a mapped BAR other than `skip` (devid, BAR).
    pub(crate) fn bar_overlap(&self, gpa: u64, len: u64, skip: Option<(u16, u32)>) -> bool {
        self.bars
            .iter()
            .any(|b| Some((b.devid, b.bar)) != skip && gpa < b.gpa + b.len && b.gpa < gpa.saturating_add(len))
    }

    /// `KVM_SET_USER_MEMORY_REGION` created (or moved in) slot `s` while devices are
    /// assigned: it is mapped in the domain. On error nothing of it stays mapped.
    pub(crate) fn slot_added(&mut self, s: &mut Memslot) -> Result {
        if self.bar_overlap(s.gpa, s.npages * PAGE_SIZE, None) {
            return Err(EEXIST);
        }
        let r = self.domain.map_slot(s);
        if r.is_err() {
            self.domain.unmap_range(s.gpa, s.npages * PAGE_SIZE);
        }
        let f = self.domain.flush();
        r.and(f)
    }

    /// A slot's range goes (delete or move): unmapped from the domain and the unit's caches
    /// flushed before the caller unpins.
    pub(crate) fn slot_removed(&mut self, gpa: u64, len: u64) -> Result {
        self.domain.unmap_range(gpa, len);
        self.domain.flush()
    }

    /// Takes device `devid`'s BARs out of `npt`; returns whether there were any (the caller
    /// then flushes the NPT).
    pub(crate) fn unmap_bars(&mut self, npt: &mut Npt, devid: u16) -> bool {
        let mut removed = false;
        let mut k = 0;
        while k < self.bars.len() {
            match self.bars.get(k).copied() {
                Some(b) if b.devid == devid => {
                    npt.unmap(b.gpa, b.len);
                    let _ = self.bars.remove(k);
                    removed = true;
                }
                _ => k += 1,
            }
        }
        removed
    }
}
