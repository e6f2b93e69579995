// SPDX-License-Identifier: GPL-2.0

//! The interrupt side of an assigned device: its MSI (one host vector, remapped through the
//! device's interrupt remapping table), the remapping entry kept right when CPU hot-unplug
//! moves the host IRQ, and the route both MSI and INTx ([`super::intx`]) deliver through.
//! Documentation/amdvi.md, "Interrupts" and "Interrupt remapping".

use super::super::irt;
use super::{unit, Assigned, Unit};
use crate::ffi::irq::{irqs_moved_cancel, irqs_moved_schedule, CpuDeadState, ThreadedHandler};
use crate::ffi::pci::{MsiIrq, PciDev};
use crate::iommu::Guest;
use crate::lapic::Message;
use crate::uapi::*;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{
    ffi::{c_int, c_uint},
    prelude::*,
    sync::Arc,
};

/// The MSI or INTx route of an assigned device, shared with its interrupt thread.
pub(super) struct IrqCtx {
    pub(super) vm: Arc<dyn Guest>,
    pub(super) address_lo: AtomicU32,
    pub(super) data: AtomicU32,
    pub(super) count: AtomicU64,
    /// INTx: delivered level-triggered whatever the data word says (the APIC sets the
    /// vector's TMR bit, and the guest's EOI comes back to `intx::intx_eoi`).
    level: bool,
}

impl ThreadedHandler for IrqCtx {
    /// The MSI's thread (`IRQF_ONESHOT`: the core's primary handler wakes it).
    const HARD: bool = false;

    fn thread(&self) {
        self.deliver();
    }
}

impl IrqCtx {
    pub(super) fn new(vm: &Arc<dyn Guest>, m: &RsvmDeviceMsi, level: bool) -> Result<Pin<KBox<Self>>> {
        let c = IrqCtx {
            vm: vm.clone(),
            address_lo: AtomicU32::new(m.address_lo),
            data: AtomicU32::new(m.data),
            count: AtomicU64::new(0),
            level,
        };
        Ok(KBox::pin(c, GFP_KERNEL)?)
    }

    pub(super) fn message(&self) -> Message {
        let mut m = Message::from_msi(self.address_lo.load(Ordering::Acquire), self.data.load(Ordering::Acquire));
        m.level_trigger |= self.level;
        m
    }

    pub(super) fn deliver(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.vm.deliver(&self.message());
    }
}

/// Checks an `RSVM_DEVICE_MSI`/`RSVM_DEVICE_INTX` argument: known flags, and when on, an
/// APIC address and a VM with the in-kernel APIC.
pub(super) fn check_msi(vm: &dyn Guest, m: &RsvmDeviceMsi) -> Result {
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
    let (pdev, devid) = (d.pdev.clone(), d.devid);
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if m.flags & 1 == 0 {
        msi_disable(u, devid, &pdev, a);
        return Ok(());
    }
    if a.intx.is_some() {
        // INTx and MSI are exclusive (PCI: MSI Enable disables INTx).
        return Err(EBUSY);
    }
    if let Some(ctx) = a.irq.as_ref().and_then(|i| i.handler()) {
        ctx.address_lo.store(m.address_lo, Ordering::Release);
        ctx.data.store(m.data, Ordering::Release);
        return Ok(());
    }
    // One MSI vector for the device, handled in a thread: delivery to the guest's APICs
    // takes the VM's vCPU-list mutex.
    a.irq = Some(MsiIrq::enable(&pdev, IrqCtx::new(vm, m, false)?, c"rsvm-assigned")?);
    if let Err(e) = remap_msi(u, devid, &pdev, a).map(|_| ()) {
        msi_disable(u, devid, &pdev, a);
        return Err(e);
    }
    Ok(())
}

/// Frees the device's host MSI. Its remapping entry is cleared first: once free_irq returns,
/// the host vector may go to another device, which the assigned device must not reach.
pub(super) fn msi_disable(u: &Unit, devid: u16, pdev: &PciDev, a: &mut Assigned) {
    if let (Some((index, _)), Some(t)) = (a.irte.take(), a.irt.as_mut()) {
        if let Err(e) = u.hw.lock().set_irte(devid, t, index, 0) {
            pr_err!("amdvi: device {:#06x}: remapping entry {:#x} not cleared: {:?}\n", devid, index, e);
        }
    }
    if let Some(msi) = a.irq.take() {
        a.interrupts_before += msi.handler().map_or(0, |c| c.count.load(Ordering::Relaxed));
        // free_irq (waits for a running handler), then the vector.
        drop(msi);
        // Disabling MSI re-enables INTx at the device (pci_intx_for_msi): INTx is not routed
        // (exclusive with MSI), so mask it again.
        pdev.intx(false);
    }
}

/// Copies the message Linux programmed for the device's host IRQ into its remapping entry
/// (index = data[10:0], §2.2.5.1): only that vector at that destination gets through.
/// Until this is done an MSI of the device is aborted (it only comes when the guest asks).
/// Returns whether the entry changed (index or content).
fn remap_msi(u: &Unit, devid: u16, pdev: &PciDev, a: &mut Assigned) -> Result<bool> {
    let Some(t) = a.irt.as_mut() else { return Ok(false) };
    let (irq, lo, hi, data) = pdev.msi_msg()?;
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

/// Watches CPU hot-unplug while rsvm's PCI driver is registered: it moves an assigned
/// device's host IRQ (vector and destination: fixup_irqs() on the dying CPU rewrites the
/// device's MSI message) even with IRQF_NOBALANCING, and the device's remapping entry still
/// holds the old message: its MSIs are aborted from then on. A CPUHP_BP_PREPARE_DYN state's
/// teardown runs on a control CPU after the CPU is dead (kernel/cpu.c: BP states are torn
/// down after takedown_cpu()), i.e. after the move; it only queues a work item, which
/// rewrites the entries (`rsvm_amdvi_irqs_moved`) under the assignment mutex, outside the
/// hotplug lock, so nothing under that mutex (IRQ setup, resets) can deadlock with hotplug.
/// Dropping it removes the state, then cancels the work.
pub(crate) struct IrqMoveWatch(Option<CpuDeadState>);

impl IrqMoveWatch {
    /// The errno as a negative number on failure.
    pub(crate) fn start() -> core::result::Result<Self, c_int> {
        CpuDeadState::register(c"rsvm/amdvi:irq-moved", cpu_dead).map(|s| IrqMoveWatch(Some(s)))
    }
}

impl Drop for IrqMoveWatch {
    fn drop(&mut self) {
        drop(self.0.take());
        // No work runs after this (the unit is withdrawn next).
        irqs_moved_cancel();
    }
}

/// The hotplug teardown (`IrqMoveWatch`): queues the entries' rewrite.
unsafe extern "C" fn cpu_dead(_cpu: c_uint) -> c_int {
    irqs_moved_schedule();
    0
}

/// A CPU went offline (the work queued by `IrqMoveWatch`, after Linux moved the IRQs off it
/// and rewrote their MSI messages): every assigned device's
/// remapping entry is rewritten from its current message. An MSI the device sent between
/// the move and this rewrite was aborted, so the guest gets one interrupt for it: guests
/// tolerate a spurious MSI (drivers read their status), a lost one can hang a driver.
#[no_mangle]
extern "C" fn rsvm_amdvi_irqs_moved() {
    let Ok(u) = unit() else { return };
    let mut reg = u.assign.lock();
    for d in reg.devs.iter_mut() {
        let (devid, pdev) = (d.devid, &d.pdev);
        let Some(a) = d.owner.as_mut() else { continue };
        if a.irte.is_none() {
            continue;
        }
        match remap_msi(u, devid, pdev, a) {
            Ok(false) => {}
            Ok(true) => {
                a.irq_moves += 1;
                pr_info!("amdvi: device {:#06x}: host IRQ moved by CPU hot-unplug, remapping entry rewritten\n", devid);
                if let Some(c) = a.irq.as_ref().and_then(|i| i.handler()) {
                    let m = Message::from_msi(c.address_lo.load(Ordering::Acquire), c.data.load(Ordering::Acquire));
                    c.vm.deliver(&m);
                }
            }
            // The old entry stays: the device's MSIs are aborted until MSI is set again.
            Err(e) => pr_err!("amdvi: device {:#06x}: remapping entry not updated after an IRQ move: {:?}\n", devid, e),
        }
    }
}
