// SPDX-License-Identifier: GPL-2.0

//! The interrupt side of an assigned device: its MSI (one host vector, remapped through the
//! device's interrupt remapping table), its INTx (level-triggered, masked until the guest's
//! EOI), the remapping entry kept right when CPU hot-unplug moves the host IRQ.
//! Documentation/amdvi.md, "Interrupts", "INTx" and "Interrupt remapping".

use super::super::irt;
use super::super::Unit;
use super::{unit, Assigned};
use crate::ffi;
use crate::iommu::{same_guest, Guest};
use crate::lapic::{Message, Route, DM_FIXED, DM_LOWEST};
use crate::uapi::*;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
    sync::Arc,
};

/// The MSI or INTx route of an assigned device, shared with its interrupt thread.
pub(super) struct IrqCtx {
    vm: Arc<dyn Guest>,
    address_lo: AtomicU32,
    data: AtomicU32,
    pub(super) count: AtomicU64,
    /// INTx: delivered level-triggered whatever the data word says (the APIC sets the
    /// vector's TMR bit, and the guest's EOI comes back to `intx_eoi`).
    level: bool,
}

impl IrqCtx {
    fn new(vm: &Arc<dyn Guest>, m: &RsvmDeviceMsi, level: bool) -> Result<Pin<KBox<Self>>> {
        let c = IrqCtx {
            vm: vm.clone(),
            address_lo: AtomicU32::new(m.address_lo),
            data: AtomicU32::new(m.data),
            count: AtomicU64::new(0),
            level,
        };
        Ok(KBox::pin(c, GFP_KERNEL)?)
    }

    fn message(&self) -> Message {
        let mut m = Message::from_msi(self.address_lo.load(Ordering::Acquire), self.data.load(Ordering::Acquire));
        m.level_trigger |= self.level;
        m
    }

    fn deliver(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.vm.deliver(&self.message());
    }
}

/// Called by the threaded handler of an assigned device's MSI or INTx (pcidrv.c).
#[no_mangle]
unsafe extern "C" fn rsvm_assigned_irq(ctx: *mut c_void) {
    // SAFETY: `ctx` is the `IrqCtx` given to request_threaded_irq (directly, or in the INTx
    // handler's `struct rsvm_intx`), alive until free_irq (which waits for this handler)
    // returns in `msi_disable` or `intx_disable`.
    let c = unsafe { &*(ctx as *const IrqCtx) };
    c.deliver();
}

/// A routed INTx: the route, and pcidrv.c's `struct rsvm_intx` (the host IRQ's handler and
/// the mask state), freed with it.
///
/// # Invariants
///
/// `x` is the live `struct rsvm_intx` `rsvm_shim_intx_enable` made for `ctx`, freed only by
/// `drop`; the device it names outlives it (an `Intx` lives in its `BoundDev`, which holds
/// the device reference, and goes before that reference in `release`).
pub(super) struct Intx {
    pub(super) ctx: Pin<KBox<IrqCtx>>,
    pub(super) x: *mut c_void,
}

impl Intx {
    fn enable(pdev: *mut bindings::pci_dev, vm: &Arc<dyn Guest>, m: &RsvmDeviceMsi, guest_disabled: bool) -> Result<Self> {
        let ctx = IrqCtx::new(vm, m, true)?;
        let mut x: *mut c_void = core::ptr::null_mut();
        // SAFETY: live, enabled device; `ctx` is pinned and outlives the handler (dropped only
        // after `drop` freed it); `x` is our out pointer.
        let r = unsafe {
            ffi::rsvm_shim_intx_enable(pdev.cast(), &*ctx as *const IrqCtx as *mut c_void, guest_disabled as c_int, &mut x)
        };
        kernel::error::to_result(r)?;
        vm.intx_routes().fetch_add(1, Ordering::SeqCst);
        // INVARIANT: `x` was just made for `ctx`.
        Ok(Intx { ctx, x })
    }
}

impl Drop for Intx {
    /// Frees the host IRQ (free_irq waits for a running handler and thread, so `ctx`, dropped
    /// after this, is unused) and leaves INTx disabled at the device.
    fn drop(&mut self) {
        // SAFETY: type invariant; freed once, here.
        unsafe { ffi::rsvm_shim_intx_disable(self.x) };
        self.ctx.vm.intx_routes().fetch_sub(1, Ordering::SeqCst);
    }
}

/// Checks an `RSVM_DEVICE_MSI`/`RSVM_DEVICE_INTX` argument: known flags, and when on, an
/// APIC address and a VM with the in-kernel APIC.
fn check_msi(vm: &dyn Guest, m: &RsvmDeviceMsi) -> Result {
    if m.flags & !1 != 0 || (m.flags & 1 != 0 && (m.address_hi != 0 || m.address_lo >> 20 != 0xfee)) {
        return Err(EINVAL);
    }
    if m.flags & 1 != 0 && !vm.has_lapic() {
        // Only the in-kernel APIC can take the interrupt.
        return Err(EINVAL);
    }
    Ok(())
}

/// `RSVM_DEVICE_MSI`: delivers the device's MSI to the guest as message `m` (on again:
/// reroutes), or frees it (off). Documentation/amdvi.md, "Interrupts".
pub(crate) fn set_msi(vm: &Arc<dyn Guest>, m: &RsvmDeviceMsi) -> Result {
    let u = unit()?;
    check_msi(&**vm, m)?;
    let mut reg = u.assign.lock();
    let d = reg.owned(&**vm, &m.dev)?;
    let (pdev, devid) = (d.pdev, d.devid);
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if m.flags & 1 == 0 {
        msi_disable(u, devid, pdev, a);
        return Ok(());
    }
    if a.intx.is_some() {
        // INTx and MSI are exclusive (PCI: MSI Enable disables INTx).
        return Err(EBUSY);
    }
    if let Some(ctx) = a.irq.as_ref() {
        ctx.address_lo.store(m.address_lo, Ordering::Release);
        ctx.data.store(m.data, Ordering::Release);
        return Ok(());
    }
    let ctx = IrqCtx::new(vm, m, false)?;
    // SAFETY: live, enabled device; `ctx` is pinned and outlives the registration (freed
    // only after `msi_disable`).
    kernel::error::to_result(unsafe { ffi::rsvm_shim_pci_msi_enable(pdev.cast(), &*ctx as *const IrqCtx as *mut c_void) })?;
    a.irq = Some(ctx);
    if let Err(e) = remap_msi(u, devid, pdev, a).map(|_| ()) {
        msi_disable(u, devid, pdev, a);
        return Err(e);
    }
    Ok(())
}

/// Frees the device's host MSI. Its remapping entry is cleared first: once free_irq returns,
/// the host vector may go to another device, which the assigned device must not reach.
pub(super) fn msi_disable(u: &Unit, devid: u16, pdev: *mut bindings::pci_dev, a: &mut Assigned) {
    if let (Some((index, _)), Some(t)) = (a.irte.take(), a.irt.as_mut()) {
        if let Err(e) = u.hw.lock().set_irte(devid, t, index, 0) {
            pr_err!("amdvi: device {:#06x}: remapping entry {:#x} not cleared: {:?}\n", devid, index, e);
        }
    }
    if let Some(ctx) = a.irq.take() {
        a.interrupts_before += ctx.count.load(Ordering::Relaxed);
        // SAFETY: `ctx` is what `msi_enable` registered for this device; free_irq waits for a
        // running handler, after which `ctx` can be dropped.
        unsafe { ffi::rsvm_shim_pci_msi_disable(pdev.cast(), &*ctx as *const IrqCtx as *mut c_void) };
        // Disabling MSI re-enables INTx at the device (pci_intx_for_msi): INTx is not routed
        // (exclusive with MSI), so mask it again.
        // SAFETY: live device.
        unsafe { bindings::pci_intx(pdev, 0) };
    }
}

/// `RSVM_DEVICE_INTX`: routes the device's INTx to the guest as message `m`, level-triggered
/// (on again: reroutes), or frees it (off). Documentation/amdvi.md, "INTx".
pub(crate) fn set_intx(vm: &Arc<dyn Guest>, m: &RsvmDeviceMsi) -> Result {
    let u = unit()?;
    check_msi(&**vm, m)?;
    if m.flags & 1 != 0 && !matches!(Message::from_msi(m.address_lo, m.data).delivery, DM_FIXED | DM_LOWEST) {
        // Level semantics need an EOI: only fixed and lowest-priority messages have one.
        return Err(EINVAL);
    }
    let mut reg = u.assign.lock();
    let d = reg.owned(&**vm, &m.dev)?;
    let (pdev, guest_disabled) = (d.pdev, d.guest_intx_disable);
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if m.flags & 1 == 0 {
        intx_disable(a);
        return Ok(());
    }
    if a.irq.is_some() {
        return Err(EBUSY);
    }
    if let Some(i) = a.intx.as_ref() {
        i.ctx.address_lo.store(m.address_lo, Ordering::Release);
        i.ctx.data.store(m.data, Ordering::Release);
        // An interrupt delivered under the old route may never see its EOI matched: treat
        // the reroute as that EOI (unmask, or deliver again under the new route).
        intx_resample(i);
        return Ok(());
    }
    a.intx = Some(Intx::enable(pdev, vm, m, guest_disabled)?);
    Ok(())
}

/// Frees the INTx route (`Intx::drop`), keeping its count; INTx stays disabled at the device.
pub(super) fn intx_disable(a: &mut Assigned) {
    if let Some(i) = a.intx.take() {
        a.interrupts_before += i.ctx.count.load(Ordering::Relaxed);
        drop(i);
    }
}

/// The guest EOIed an INTx's vector (or the route changed): rsvm's mask ends; if the device
/// still asserts INTx it stays masked and the interrupt is delivered again.
fn intx_resample(i: &Intx) {
    // SAFETY: `i.x` is live while `i` is (type invariant).
    if unsafe { ffi::rsvm_shim_intx_eoi(i.x) } != 0 {
        i.ctx.deliver();
    }
}

/// vCPU `route` of `vm` EOIed level-triggered `vector` (vcpu.rs, `Effect::LevelEoi`): every
/// INTx of the VM's devices routed to that vector and addressing that vCPU is resampled.
pub(crate) fn intx_eoi(vm: &dyn Guest, vector: u8, route: &Route) {
    let Ok(u) = unit() else { return };
    let reg = u.assign.lock();
    for d in reg.devs.iter() {
        let Some(a) = d.owner.as_ref().filter(|a| same_guest(&*a.vm, vm)) else { continue };
        let Some(i) = a.intx.as_ref() else { continue };
        let m = i.ctx.message();
        if m.vector == vector && route.matches(&m, false) {
            intx_resample(i);
        }
    }
}

/// Copies the message Linux programmed for the device's host IRQ into its remapping entry
/// (index = data[10:0], §2.2.5.1): only that vector at that destination gets through.
/// Until this is done an MSI of the device is aborted (it only comes when the guest asks).
/// Returns whether the entry changed (index or content).
fn remap_msi(u: &Unit, devid: u16, pdev: *mut bindings::pci_dev, a: &mut Assigned) -> Result<bool> {
    let Some(t) = a.irt.as_mut() else { return Ok(false) };
    let (mut lo, mut hi, mut data) = (0u32, 0u32, 0u32);
    // SAFETY: live device with its MSI vector allocated; out pointers are ours.
    let irq = unsafe { ffi::rsvm_shim_pci_msi_msg(pdev.cast(), &mut lo, &mut hi, &mut data) };
    kernel::error::to_result(irq)?;
    let (index, e) = irt::entry_for(hi, lo, data)?;
    if a.irte == Some((index, irq)) && t.get(index) == e {
        return Ok(false);
    }
    // The new entry first, then the old one cleared: one of them matches what the device
    // sends at every moment.
    u.hw.lock().set_irte(devid, t, index, e)?;
    if let Some((old, _)) = a.irte {
        if old != index {
            u.hw.lock().set_irte(devid, t, old, 0)?;
        }
    }
    a.irte = Some((index, irq));
    Ok(true)
}

/// A CPU went offline (the work queued by pcidrv.c's CPUHP_BP_PREPARE_DYN teardown, after
/// Linux moved the IRQs off it and rewrote their MSI messages): every assigned device's
/// remapping entry is rewritten from its current message. An MSI the device sent between
/// the move and this rewrite was aborted, so the guest gets one interrupt for it: guests
/// tolerate a spurious MSI (drivers read their status), a lost one can hang a driver.
#[no_mangle]
extern "C" fn rsvm_amdvi_irqs_moved() {
    let Ok(u) = unit() else { return };
    let mut reg = u.assign.lock();
    for d in reg.devs.iter_mut() {
        let (devid, pdev) = (d.devid, d.pdev);
        let Some(a) = d.owner.as_mut() else { continue };
        if a.irte.is_none() {
            continue;
        }
        match remap_msi(u, devid, pdev, a) {
            Ok(false) => {}
            Ok(true) => {
                a.irq_moves += 1;
                pr_info!("amdvi: device {:#06x}: host IRQ moved by CPU hot-unplug, remapping entry rewritten\n", devid);
                if let Some(c) = a.irq.as_ref() {
                    let m = Message::from_msi(c.address_lo.load(Ordering::Acquire), c.data.load(Ordering::Acquire));
                    c.vm.deliver(&m);
                }
            }
            // The old entry stays: the device's MSIs are aborted until MSI is set again.
            Err(e) => pr_err!("amdvi: device {:#06x}: remapping entry not updated after an IRQ move: {:?}\n", devid, e),
        }
    }
}
