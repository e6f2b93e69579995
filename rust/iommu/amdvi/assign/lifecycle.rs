// SPDX-License-Identifier: GPL-2.0

//! Assignment and release: a bound device handed to a VM (its DTE pointing at the VM's
//! domain) and taken back (blocked, quiesced, reset). Documentation/amdvi.md, "Device
//! assignment" and "Aliases".

use super::super::devtab::Dte;
use super::super::irt::{self, Irt};
use super::super::ivrs::{self, AliasConflict};
use super::intr::msi_disable;
use super::intx::intx_disable;
use super::iospace::new_io_space;
use super::{sync_dtes, unit, Assigned, BoundRef, Registry, Unit};
use crate::ffi::pci::{Bridge, PciDev};
use crate::iommu::{same_guest, with_mem, Guest};
use crate::uapi::*;
use kernel::{bindings, prelude::*, sync::Arc};

/// `RSVM_ASSIGN_DEVICE`: the device (bound to rsvm, unassigned) goes to `vm`: enabled, its
/// regions claimed, its DTE (and its IVRS alias's) pointing at the VM's domain, INTx off
/// until routed. `EEXIST` already this VM's, `EBUSY` another's (or an alias sharer's),
/// `EPERM` an alias sharer is a host device's, `EOPNOTSUPP` a PCI-side DMA alias.
pub(crate) fn assign(vm: &Arc<dyn Guest>, sel: &RsvmPciDevice) -> Result {
    let u = unit()?;
    // The device must be there and free before anything is pinned (a refused assignment
    // pins nothing); checked again below, under the same lock, for what changed meanwhile.
    {
        let mut reg = u.assign.lock();
        let d = reg.find(sel)?;
        if let Some(a) = &d.owner {
            return Err(if same_guest(&*a.vm, &**vm) { EEXIST } else { EBUSY });
        }
    }
    // Every slot pinned now, under the VM's own memory lock only: pinning faults pages in and
    // may sleep for long, and the registry lock is every VM's. The domain below then finds
    // the pages pinned (a slot added in between is pinned there).
    with_mem(&**vm, |m| {
        for s in m.slots.iter_mut() {
            s.pin_range(0, s.npages)?;
        }
        Ok(())
    })?;
    let mut reg = u.assign.lock();
    let d = reg.find(sel)?;
    if let Some(a) = &d.owner {
        return Err(if same_guest(&*a.vm, &**vm) { EEXIST } else { EBUSY });
    }
    let (devid, pdev) = (d.devid, d.pdev.clone());
    // VFIO's group rule for the devices sharing a DTE through an IVRS alias: each must be
    // rsvm's (or have no driver), and none another VM's.
    let me = &**vm as *const dyn Guest as *const ();
    let sharers = ivrs::dte_sharers(&u.aliases, devid).filter_map(|x| reg.holder(u, x, None));
    match ivrs::may_assign(&me, sharers) {
        Ok(()) => {}
        Err(AliasConflict::Host) => return Err(EPERM),
        Err(AliasConflict::OtherVm) => return Err(EBUSY),
    }
    // PCI-side aliases (behind a PCIe-to-PCI bridge): DTEs rsvm does not program.
    if has_pci_dma_alias(&pdev) {
        // (The kernel crate names ENOTSUPP, which is not a userspace errno.)
        return Err(Error::from_errno(-(bindings::EOPNOTSUPP as i32)));
    }
    // Balanced in `release` or below.
    pdev.enable()?;
    if let Err(e) = pdev.request_regions(c"rsvm") {
        pdev.disable();
        return Err(if e == EBUSY { EBUSY } else { e });
    }
    let mut table = None;
    let mut dom_id = 0;
    let undo = || {
        pdev.release_regions();
        pdev.disable();
    };
    // The VM's domain (created with its first device), the device's DTE and its alias's
    // pointing at it, under the VM's memory lock (no slot comes or goes meanwhile).
    let r = with_mem(&**vm, |m| {
        if m.io.is_none() {
            *m.io = Some(new_io_space(&u.hw, m.slots)?);
        }
        let Some(io) = m.io.as_mut() else { return Err(EINVAL) };
        let t = io.domain.table();
        // Its DTE and its IVRS alias's (the check above: every other user of the alias is
        // this VM's or rsvm's unassigned device, which then shares the domain), translated
        // through the domain and, with interrupt remapping, its MSIs through the device's
        // table (an MSI carries the requester id its DMA does).
        let mut dte = Dte::translated(t.id, t.root, t.levels as u8, true, true);
        let mut r = Ok(());
        if u.intremap {
            match Irt::new() {
                Ok(irt) => {
                    dte = dte.with_intremap(irt.phys(), irt::LEN_LOG2);
                    table = Some(irt);
                }
                Err(e) => r = Err(e),
            }
        }
        if r.is_ok() {
            for rid in ivrs::requester_ids(&u.aliases, devid) {
                // (The guard is dropped before the error path locks `hw` again.)
                r = u.hw.lock().set_dte(rid, dte, &[0, t.id]);
                if r.is_err() {
                    break;
                }
            }
        }
        if let Err(e) = r {
            // Back to what the ids were (blocked, or a sibling's of this VM: still
            // translated).
            let _ = sync_dtes(u, &reg, devid, None, &[0, t.id]);
            // No DTE points at the table any more: it can go.
            drop(table.take());
            if io.devices == 0 {
                // Dropping the space gives the domain id back.
                drop(m.io.take());
            }
            return Err(e);
        }
        io.devices += 1;
        dom_id = t.id;
        // INTx stays disabled at the device until the VMM routes it (`RSVM_DEVICE_INTX`):
        // an unrouted interrupt on a possibly shared line would have no handler.
        pdev.intx(false);
        Ok(())
    });
    if let Err(e) = r {
        undo();
        return Err(e);
    }
    let d = reg.find(sel)?;
    d.guest_intx_disable = false;
    d.owner = Some(Assigned {
        vm: vm.clone(),
        irq: None,
        intx: None,
        interrupts_before: 0,
        eventfd: None,
        irt: table,
        irte: None,
        irq_moves: 0,
    });
    d.events.clear();
    (d.io_page_faults, d.total_events, d.lost) = (0, 0, 0);
    pr_info!("amdvi: device {:#06x} assigned to VM {} (domain {})\n", d.devid, vm.id(), dom_id);
    Ok(())
}

/// Quiesces, blocks and resets an assigned device and takes it from its VM: INTx freed
/// (and left disabled), bus mastering off (no new DMA), DTE blocked and the domain flushed
/// (none in flight reaches memory), MSI freed, BARs out of the NPT, function reset, regions
/// released, device disabled; the VM's domain goes with its last device. If the block or
/// its flush fails, the unit may still translate the device's DMA through the domain: the
/// domain's tables and every page of the VM's memory stay allocated and pinned for good
/// (leaked, and counted: the unload check reports them) rather than reach the allocator
/// while a device can still write them, as VFIO keeps what an IOMMU may still reach.
pub(super) fn release(u: &Unit, reg: &mut Registry, i: usize, device_locked: bool) {
    let Some(d) = reg.devs.get_mut(i) else { return };
    let Some(mut a) = d.owner.take() else { return };
    let d = BoundRef { pdev: d.pdev.clone(), devid: d.devid };
    // INTx first: its hard handler writes the command register, which pci_clear_master
    // below rewrites unlocked (a lost mask bit would leave the shared line screaming).
    intx_disable(&mut a);
    let vm = a.vm.clone();
    let _ = with_mem(&*vm, |m| {
        let dom_id = m.io.as_ref().map_or(0, |io| io.domain.table().id);
        // No new DMA first (vfio_pci_core_disable() clears bus mastering before anything
        // else), then blocked (its alias's DTE too, unless another device of this VM still
        // uses it) with the domain flushed, so nothing in flight lands after this.
        d.pdev.clear_master();
        let blocked = sync_dtes(u, reg, d.devid, None, &[dom_id, 0]);
        if let Err(e) = blocked {
            pr_err!("amdvi: device {:#06x}: DTE not blocked ({:?}): its interrupt table, the VM's I/O domain and guest memory stay allocated and pinned\n", d.devid, e);
            // The unit may still read the table: never free it (the unload check reports it).
            if let Some(t) = a.irt.take() {
                core::mem::forget(t);
            }
            // Nor the domain's page tables, nor the pages they map.
            if let Some(io) = m.io.take() {
                core::mem::forget(io);
            }
            m.slots.quarantine();
        }
        msi_disable(u, d.devid, &d.pdev, &mut a);
        if let Some(io) = m.io.as_mut() {
            if io.unmap_bars(m.npt, d.devid) {
                vm.flush_npt();
            }
            io.devices = io.devices.saturating_sub(1);
        }
        if m.io.as_ref().is_some_and(|io| io.devices == 0) {
            // No DTE points at the domain any more (blocked and flushed above): dropping the
            // space gives its id back.
            drop(m.io.take());
        }
        Ok(())
    });
    // With the device lock held (remove) the _locked variant, else the try variant (never
    // waits for a lock the driver core may hold while calling us).
    let r = d.pdev.reset(device_locked);
    if r != 0 {
        // edu in QEMU has no FLR or PM reset; log and go on (DMA is blocked regardless).
        pr_info!("amdvi: device {:#06x}: no function reset ({})\n", d.devid, r);
    }
    // Balances `request_regions` and `enable` in `assign`.
    d.pdev.release_regions();
    d.pdev.disable();
    pr_info!("amdvi: device {:#06x} released from VM {}\n", d.devid, vm.id());
}

/// The VM fd is being closed (or its process died): every device it holds is released.
pub(crate) fn release_vm(vm: &dyn Guest) {
    let Ok(u) = unit() else { return };
    let mut reg = u.assign.lock();
    for i in 0..reg.devs.len() {
        if reg.devs.get(i).is_some_and(|d| d.owner.as_ref().is_some_and(|a| same_guest(&*a.vm, vm))) {
            release(u, &mut reg, i, false);
        }
    }
}

/// `RSVM_RELEASE_DEVICE`: the device, if `vm` owns it, is released as on VM close.
pub(crate) fn release_device(vm: &dyn Guest, sel: &RsvmPciDevice) -> Result {
    let u = unit()?;
    let mut reg = u.assign.lock();
    let devid = reg.owned(vm, sel)?.devid;
    if let Some(i) = reg.devs.iter().position(|d| d.devid == devid) {
        release(u, &mut reg, i, false);
    }
    Ok(())
}

/// Whether the device's DMA can also arrive with a requester id other than its own on the
/// PCI side (behind a PCIe-to-PCI or PCI-X bridge, or a DMA-alias quirk): rsvm does not
/// program those DTEs, so it refuses to assign such a device (Documentation/amdvi.md,
/// "Aliases"). `pci_for_each_dma_alias()` is not exported to modules; this is its walk,
/// conservatively: any quirk alias, or any bridge up to the root bus other than a PCIe root,
/// upstream or downstream port (which pass requester ids through), counts. (VMD-style
/// `pci_real_dma_dev` redirection is x86-VMD only and not handled.)
fn has_pci_dma_alias(pdev: &PciDev) -> bool {
    if pdev.has_quirk_dma_alias() {
        return true;
    }
    let verdict = |b: &Bridge| {
        if b.flags & bindings::pci_dev_flags_PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT != 0 {
            // Requester ids are translated here: nothing above matters.
            return Some(false);
        }
        match b.pcie_type {
            // A conventional PCI bridge takes over its devices' requests.
            None => Some(true),
            Some(bindings::PCI_EXP_TYPE_ROOT_PORT | bindings::PCI_EXP_TYPE_UPSTREAM | bindings::PCI_EXP_TYPE_DOWNSTREAM) => None,
            Some(bindings::PCI_EXP_TYPE_PCI_BRIDGE)
                if b.flags & bindings::pci_dev_flags_PCI_DEV_FLAGS_PCI_BRIDGE_NO_ALIAS != 0 =>
            {
                None
            }
            Some(_) => Some(true),
        }
    };
    pdev.find_upstream_bridge(verdict).unwrap_or(false)
}
