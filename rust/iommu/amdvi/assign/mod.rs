// SPDX-License-Identifier: GPL-2.0

//! Device assignment: PCI functions bound to rsvm's PCI driver (`pcidrv.c`, VFIO-style
//! driver_override binding) and handed to a VM, whose I/O domain maps all of the VM's memory
//! (guest-physical -> the memslots' pinned pages) so the device's DMA reaches the guest and
//! nothing else. Documentation/amdvi.md, "Device assignment".
//!
//! States of a device's DTE (§2.2.2.1):
//! - not bound to rsvm: V=0 (as the host had it);
//! - bound, not assigned: V=1, TV=1, Mode 0, IR=IW=0: DMA blocked (domain 0, which rsvm never
//!   gives a page table, so nothing is ever cached under it); IV=1, IntCtl=00b: interrupts
//!   aborted too;
//! - assigned: V=1, TV=1, the VM's I/O page table, IR=IW=1 (the leaves decide); IV=1,
//!   IntCtl=10b through the device's own interrupt remapping table ([`super::irt`]), whose
//!   only live entry is the message of rsvm's host IRQ for the device.
//!
//! (With `amdvi_intremap=0` the interrupt fields stay 0: IV=0, interrupts pass unchanged.)
//!
//! Here: the registry of bound devices, the PCI driver's probe and remove, and the DTEs of a
//! device and its IVRS alias. By concern: [`lifecycle`] (assign, release), [`iospace`] (the
//! VM's domain behind `iommu::IoDomain`), [`bar`] (BARs in the NPT), [`config`] (the config
//! space filter), [`intr`] (MSI, INTx, remapping entries, IRQ moves), [`events`] (the event
//! log filed per device). The VM is reached only as an `iommu::Guest`.
//!
//! Locking, in this order: [`Unit::assign`] (every assignment operation, and a guest's EOI
//! of an INTx vector), a VM's memory lock (`iommu::with_mem`), its vCPU list (NPT flushes,
//! deliveries), the unit's `hw`. The MSI and INTx handler threads take only the vCPU list;
//! the INTx hard handler only the INTx line's raw spinlock.

use super::devtab::Dte;
use super::irt::Irt;
use super::ivrs::{self, Holder, RidState};
use crate::ffi;
use crate::iommu::{same_guest, Guest};
use crate::uapi::*;
use core::sync::atomic::{AtomicPtr, Ordering};
use crate::ffi::pci::{pci_holder, MsiIrq, PciDev, PciHolder};
use kernel::{bindings, ffi::c_int, prelude::*, sync::Arc};

pub(crate) mod bar;
pub(crate) mod config;
pub(crate) mod events;
pub(crate) mod intr;
pub(crate) mod intx;
pub(crate) mod iospace;
pub(crate) mod lifecycle;

use intr::IrqCtx;
use intx::Intx;
use lifecycle::release;

/// The unit, published while the PCI driver is registered (see [`super::AmdviFile`]).
static UNIT: AtomicPtr<Unit> = AtomicPtr::new(core::ptr::null_mut());

/// Publishes the unit (`Some`) while the PCI driver is registered, withdraws it (`None`).
pub(crate) fn publish(u: Option<&Unit>) {
    // The hardware state with it, for the VMs' I/O domains (`iospace`).
    super::unit::publish_hw(u);
    UNIT.store(u.map_or(core::ptr::null_mut(), |u| u as *const Unit as *mut Unit), Ordering::Release);
}

pub(super) fn unit<'a>() -> Result<&'a Unit> {
    let p = UNIT.load(Ordering::Acquire);
    if p.is_null() {
        return Err(ENODEV);
    }
    // Non-null only while the unit is alive: published after it was pinned in its box and
    // withdrawn before it is dropped (`AmdviFile`), after the PCI driver is gone.
    // SAFETY: callers are PCI driver callbacks (driver registered), the IRQ-moved work
    // (cancelled before the unit is withdrawn, `intr::IrqMoveWatch`) and VM ioctls/releases, whose fd
    // holds a module reference, so the module and the unit outlive the borrow.
    Ok(unsafe { &*p })
}

struct Assigned {
    vm: Arc<dyn Guest>,
    /// The host MSI (`RSVM_DEVICE_MSI`) and its route to the guest.
    irq: Option<MsiIrq<IrqCtx>>,
    intx: Option<Intx>,
    interrupts_before: u64,
    /// `RSVM_DEVICE_EVENTFD`: signalled per event record filed; put when the assignment
    /// ends (release, VM close, unbind, rmmod all drop the `Assigned`).
    eventfd: Option<ffi::EventFd>,
    /// The device's interrupt remapping table (with `amdvi_intremap=1`), freed with the
    /// assignment after the DTE stopped pointing at it.
    irt: Option<Irt>,
    /// The live entry while the host MSI is enabled: its index and the host IRQ number.
    irte: Option<(usize, i32)>,
    /// How often a CPU going offline moved the host IRQ and the entry was rewritten.
    irq_moves: u32,
}

/// A device bound to rsvm's PCI driver (holding a reference to it until `remove`).
struct BoundDev {
    pdev: PciDev,
    segment: u16,
    devid: u16,
    owner: Option<Assigned>,
    /// The guest's view of the command register's Interrupt Disable bit (virtualised: the
    /// device's bit is this OR rsvm's mask, see `config`).
    guest_intx_disable: bool,
    events: KVec<[u64; 2]>,
    /// Records taken from `events` so far (`RSVM_DEVICE_EVENTS` copies outside the lock and
    /// takes them only if no other caller did meanwhile).
    events_taken: u64,
    io_page_faults: u64,
    total_events: u64,
    lost: u64,
}

/// The unit, with this registry of its bound devices.
pub(crate) type Unit = super::unit::Unit<Registry>;

/// Devices bound to rsvm, behind [`Unit::assign`].
#[derive(Default)]
pub(crate) struct Registry {
    devs: KVec<BoundDev>,
}

/// The DTE of a device bound to rsvm but not assigned: DMA blocked and, with interrupt
/// remapping, every interrupt aborted (IV=1, IntCtl=00b).
fn blocked_dte(u: &Unit) -> Dte {
    if u.intremap {
        Dte::blocked(0).with_interrupts_blocked()
    } else {
        Dte::blocked(0)
    }
}

/// Probe: the device is now rsvm's; its DMA is blocked until it is assigned.
#[no_mangle]
unsafe extern "C" fn rsvm_pci_probe(pdev: *mut bindings::pci_dev) -> c_int {
    // SAFETY: the driver core calls probe with a live device.
    let Some(pdev) = (unsafe { PciDev::get(pdev) }) else { return ENODEV.to_errno() };
    match probe(pdev) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn probe(pdev: PciDev) -> Result {
    let u = unit()?;
    let (segment, devid) = pdev.ids();
    if segment != u.info.segment || !u.owned.contains(devid) {
        // Another unit translates it (or none does): rsvm could not confine its DMA.
        pr_info!(
            "amdvi: {:04x}:{:02x}:{:02x}.{} is not translated by the IOMMU rsvm drives ({:04x}:{:02x}:{:02x}.{}): not bound\n",
            segment, devid >> 8, (devid >> 3) & 0x1f, devid & 7,
            u.info.segment, u.info.devid >> 8, (u.info.devid >> 3) & 0x1f, u.info.devid & 7
        );
        return Err(ENODEV);
    }
    let mut reg = u.assign.lock();
    reg.devs.reserve(1, GFP_KERNEL)?;
    reg.devs.push(
        BoundDev {
            pdev,
            segment,
            devid,
            owner: None,
            guest_intx_disable: false,
            events: KVec::new(),
            events_taken: 0,
            io_page_faults: 0,
            total_events: 0,
            lost: 0,
        },
        GFP_KERNEL,
    )?;
    // Its DTE, and its IVRS alias's, now blocked (unless a host device shares the alias).
    if let Err(e) = sync_dtes(u, &reg, devid, None, &[0]) {
        // (Its device reference goes with it.)
        drop(reg.devs.pop());
        let _ = sync_dtes(u, &reg, devid, Some(devid), &[0]);
        return Err(e);
    }
    let alias = ivrs::ivrs_alias(&u.aliases, devid);
    pr_info!(
        "amdvi: {:04x}:{:02x}:{:02x}.{} bound to rsvm, DMA blocked (IVRS alias {:#06x})\n",
        segment, devid >> 8, (devid >> 3) & 0x1f, devid & 7, alias.map_or(-1, i32::from)
    );
    // The log is polled while a device is bound (see `rsvm_amdvi_poll`).
    ffi::evt_poll_start();
    Ok(())
}

/// Remove (unbind, or the device goes): an assignment is released first (the VM loses the
/// device), then the DTE goes back to V=0, as the host had it.
#[no_mangle]
unsafe extern "C" fn rsvm_pci_remove(pdev: *mut bindings::pci_dev) {
    let Ok(u) = unit() else { return };
    let mut reg = u.assign.lock();
    let Some(i) = reg.devs.iter().position(|d| d.pdev.as_ptr() == pdev) else { return };
    let Some(devid) = reg.devs.get(i).map(|d| d.devid) else { return };
    if reg.devs.get(i).is_some_and(|d| d.owner.is_some()) {
        pr_warn!("amdvi: device {:#06x} unbound while assigned: released from its VM\n", devid);
        // The driver core holds the device lock during remove.
        release(u, &mut reg, i, true);
    }
    // Its DTEs as if it were gone: V=0 as the host had them (blocked still if another device
    // of rsvm's shares its alias).
    if let Err(e) = sync_dtes(u, &reg, devid, Some(devid), &[0]) {
        pr_err!("amdvi: device {:#06x}: DTE not restored: {:?}\n", devid, e);
    }
    // Its device reference goes with it.
    drop(reg.devs.remove(i));
}

impl Registry {
    /// debugfs: one line per bound device: its DTE, its VM, its event counters.
    /// debugfs: one line per bound device: its DTE, its IVRS alias (`-` for none) and that
    /// alias's DTE, its VM, its event counters.
    pub(crate) fn show(
        &self,
        f: &mut core::fmt::Formatter<'_>,
        devtab: &super::devtab::DevTable,
        aliases: &[ivrs::AliasMap],
    ) -> core::fmt::Result {
        for d in self.devs.iter() {
            let dte = devtab.get(d.devid).unwrap_or_default();
            write!(
                f,
                "bound {:04x}:{:02x}:{:02x}.{} vm {} dte {:#018x} {:#018x} {:#018x}",
                d.segment, d.devid >> 8, (d.devid >> 3) & 0x1f, d.devid & 7,
                d.owner.as_ref().map_or(0, |a| a.vm.id()), dte.0[0], dte.0[1], dte.0[2]
            )?;
            match ivrs::ivrs_alias(aliases, d.devid) {
                Some(a) => {
                    let adte = devtab.get(a).unwrap_or_default();
                    write!(f, " alias {:02x}:{:02x}.{} dte {:#018x} {:#018x}", a >> 8, (a >> 3) & 0x1f, a & 7, adte.0[0], adte.0[1])?;
                }
                None => write!(f, " alias -")?,
            }
            write!(f, " events {} io_page_faults {} lost {}", d.total_events, d.io_page_faults, d.lost)?;
            // The live remapping entry: index, value, host IRQ.
            match d.owner.as_ref().and_then(|a| Some((a.irte?, a.irt.as_ref()?))) {
                Some(((i, irq), t)) => {
                    let moves = d.owner.as_ref().map_or(0, |a| a.irq_moves);
                    writeln!(f, " irte {:#x} {:#010x} irq {} moves {}", i, t.get(i), irq, moves)?
                }
                None => writeln!(f)?,
            }
        }
        Ok(())
    }

    /// Who holds device `x` (as a user of a shared DTE): a bound device by its assignment, an
    /// other present device with a driver is the host's; absent or driverless devices and
    /// `skip` (a device being unbound) count as nobody.
    fn holder(&self, u: &Unit, x: u16, skip: Option<u16>) -> Option<Holder<*const ()>> {
        if Some(x) == skip {
            return None;
        }
        if let Some(d) = self.devs.iter().find(|d| d.devid == x) {
            return Some(d.owner.as_ref().map_or(Holder::Unassigned, |a| Holder::Vm(&*a.vm as *const dyn Guest as *const ())));
        }
        match pci_holder(u.info.segment, x) {
            PciHolder::Driver => Some(Holder::Host),
            PciHolder::Absent | PciHolder::NoDriver => None,
        }
    }

    fn find(&mut self, d: &RsvmPciDevice) -> Result<&mut BoundDev> {
        let (seg, devid) = crate::iommu::sel_devid(d)?;
        self.devs.iter_mut().find(|b| b.segment == seg && b.devid == devid).ok_or(ENODEV)
    }

    /// The device, if it is assigned to `vm` (`ENODEV` not bound, `ENOENT` not this VM's).
    fn owned(&mut self, vm: &dyn Guest, d: &RsvmPciDevice) -> Result<&mut BoundDev> {
        let b = self.find(d)?;
        match &b.owner {
            Some(a) if same_guest(&*a.vm, vm) => Ok(b),
            _ => Err(ENOENT),
        }
    }
}

/// The device of a `BoundDev`, copied out so the registry can be read while it is used.
struct BoundRef {
    pdev: PciDev,
    devid: u16,
}

/// Brings the DTEs of `devid`'s requester ids (its own and its IVRS alias's) in line with
/// who uses them (`ivrs::rid_state`): V=0 for no device of rsvm's (or a host device), blocked
/// for rsvm's unassigned devices, left as it is while a VM's device uses it (its VM's
/// domain, written by `assign`). `skip`: a device being unbound, counted as gone. Each write
/// is followed by INVALIDATE_DEVTAB_ENTRY and a flush of `domains`.
fn sync_dtes(u: &Unit, reg: &Registry, devid: u16, skip: Option<u16>, domains: &[u16]) -> Result {
    let mut r = Ok(());
    for rid in ivrs::requester_ids(&u.aliases, devid) {
        let users = ivrs::rid_users(&u.aliases, rid).filter_map(|x| reg.holder(u, x, skip));
        let dte = match ivrs::rid_state(users) {
            RidState::Untranslated => Dte::untranslated(),
            RidState::Blocked => blocked_dte(u),
            RidState::Translated(_) => continue,
        };
        // Every id is tried; the first error is returned.
        if let Err(e) = u.hw.lock().set_dte(rid, dte, domains) {
            r = r.and(Err(e));
        }
    }
    r
}
