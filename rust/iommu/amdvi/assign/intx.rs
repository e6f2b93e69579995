// SPDX-License-Identifier: GPL-2.0

//! INTx of an assigned device, level-triggered, as VFIO's INTx path with KVM's resamplefd
//! semantics inside the module (Documentation/amdvi.md, "INTx"). The line may be shared
//! (IRQF_SHARED), so the hard handler claims the interrupt only if the device asserts it
//! (PCI 2.3 Interrupt Status) and masks it at the device (command register Interrupt
//! Disable) until the guest EOIs the vector; the thread delivers it (delivery takes the VM's
//! vCPU-list mutex).
//!
//! The mask state (`IntxMask`) is shared with the hard handler under an irq-safe raw
//! spinlock, which also orders every write of the command register while the handler is
//! installed (`pci_intx` and the config accessors take only `pci_lock`, a raw spinlock too:
//! fine under it and in hard-irq context).

use super::intr::{check_msi, IrqCtx};
use super::{unit, Assigned};
use crate::ffi::irq::{RawSpinLockIrq, ThreadedHandler, ThreadedIrq};
use crate::ffi::pci::PciDev;
use crate::iommu::{same_guest, Guest};
use crate::lapic::{Message, Route, DM_FIXED, DM_LOWEST};
use crate::uapi::*;
use core::sync::atomic::Ordering;
use kernel::{bindings, prelude::*, sync::Arc};

/// The command register's Interrupt Disable bit.
const INTX_DISABLE: u16 = bindings::PCI_COMMAND_INTX_DISABLE as u16;

/// Who holds the device's INTx masked.
struct IntxMask {
    /// rsvm, waiting for the guest's EOI of a delivered interrupt.
    masked: bool,
    /// The guest, with its own Interrupt Disable bit (virtualised: the device's bit is the
    /// OR of the two, so the guest cannot unmask behind rsvm's back).
    guest_disabled: bool,
}

/// The handler data of a routed INTx: the device, the route, the mask state.
#[pin_data]
pub(super) struct IntxLine {
    pdev: PciDev,
    pub(super) ctx: Pin<KBox<IrqCtx>>,
    #[pin]
    mask: RawSpinLockIrq<IntxMask>,
}

impl ThreadedHandler for IntxLine {
    const HARD: bool = true;

    /// Hard-irq context: claims the interrupt if the device asserts INTx, masking it.
    fn hard(&self) -> bool {
        let mut s = self.mask.lock();
        // While masked (by rsvm or the guest) the device cannot be asserting the line: this
        // interrupt is another device's on the shared line, even if our status bit is set.
        if !s.masked && !s.guest_disabled && self.pdev.check_and_mask_intx() {
            s.masked = true;
            return true;
        }
        false
    }

    fn thread(&self) {
        self.ctx.deliver();
    }
}

impl IntxLine {
    /// The guest EOIed the vector (or the route changed): rsvm's mask ends. Returns true if
    /// the device still asserts INTx: it stays masked and the caller delivers the interrupt
    /// again (level semantics without a round trip through the host IRQ).
    fn eoi(&self) -> bool {
        let mut s = self.mask.lock();
        if !s.masked {
            return false;
        }
        if s.guest_disabled || self.pdev.check_and_unmask_intx() {
            // (With the guest's bit set the device stays masked by it.)
            s.masked = false;
            return false;
        }
        true
    }
}

/// A routed INTx: its host IRQ registered (IRQF_SHARED) with an [`IntxLine`].
pub(super) struct Intx(ThreadedIrq<IntxLine>);

impl Intx {
    /// Installs the handler and unmasks INTx at the device unless the guest disabled it.
    /// `EINVAL`: no interrupt pin, no host IRQ, or no PCI 2.3 INTx masking (a shared line
    /// could not be quieted).
    fn enable(pdev: &PciDev, vm: &Arc<dyn Guest>, m: &RsvmDeviceMsi, guest_disabled: bool) -> Result<Self> {
        let irq = pdev.maskable_intx_irq().ok_or(EINVAL)?;
        // Masked while the handler goes in.
        pdev.intx(false);
        let line = KBox::pin_init(
            try_pin_init!(IntxLine {
                pdev: pdev.clone(),
                ctx: IrqCtx::new(vm, m, true)?,
                mask <- RawSpinLockIrq::new(IntxMask { masked: false, guest_disabled }),
            }? Error),
            GFP_KERNEL,
        )?;
        let reg = ThreadedIrq::request(irq, line, bindings::IRQF_SHARED, c"rsvm-intx")?;
        {
            let line = reg.handler();
            let s = line.mask.lock();
            // (A shared line's interrupt may have found ours pending and masked it meanwhile.)
            if !s.guest_disabled && !s.masked {
                line.pdev.intx(true);
            }
        }
        vm.intx_routes().fetch_add(1, Ordering::SeqCst);
        Ok(Intx(reg))
    }

    pub(super) fn line(&self) -> &IntxLine {
        self.0.handler()
    }

    /// The guest EOIed the INTx's vector (or the route changed): unmasked, or delivered
    /// again if the device still asserts it.
    fn resample(&self) {
        if self.line().eoi() {
            self.line().ctx.deliver();
        }
    }
}

impl Drop for Intx {
    /// Leaves INTx disabled, then frees the IRQ (the field's drop: free_irq waits for a
    /// running handler and thread). Masked first: an unmasked device asserting a shared line
    /// after free_irq would have no handler.
    fn drop(&mut self) {
        let line = self.line();
        {
            let _s = line.mask.lock();
            line.pdev.intx(false);
        }
        line.ctx.vm.intx_routes().fetch_sub(1, Ordering::SeqCst);
    }
}

/// A guest write of the command register: `cmd` with the guest's Interrupt Disable bit,
/// which is recorded; the device gets that bit ORed with rsvm's mask (always set when INTx
/// is not routed, `intx` `None`). Under the line's lock: the hard handler may set the bit
/// meanwhile.
pub(super) fn write_command(pdev: &PciDev, intx: Option<&Intx>, cmd: u16) -> Result {
    let Some(intx) = intx else { return pdev.write_command(cmd | INTX_DISABLE) };
    let line = intx.line();
    let mut s = line.mask.lock();
    s.guest_disabled = cmd & INTX_DISABLE != 0;
    let cmd = if s.masked { cmd | INTX_DISABLE } else { cmd };
    pdev.write_command(cmd)
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
    let (pdev, guest_disabled) = (d.pdev.clone(), d.guest_intx_disable);
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if m.flags & 1 == 0 {
        intx_disable(a);
        return Ok(());
    }
    if a.irq.is_some() {
        return Err(EBUSY);
    }
    if let Some(i) = a.intx.as_ref() {
        i.line().ctx.address_lo.store(m.address_lo, Ordering::Release);
        i.line().ctx.data.store(m.data, Ordering::Release);
        // An interrupt delivered under the old route may never see its EOI matched: treat
        // the reroute as that EOI (unmask, or deliver again under the new route).
        i.resample();
        return Ok(());
    }
    a.intx = Some(Intx::enable(&pdev, vm, m, guest_disabled)?);
    Ok(())
}

/// Frees the INTx route (`Intx::drop`), keeping its count; INTx stays disabled at the device.
pub(super) fn intx_disable(a: &mut Assigned) {
    if let Some(i) = a.intx.take() {
        a.interrupts_before += i.line().ctx.count.load(Ordering::Relaxed);
        drop(i);
    }
}

/// vCPU `route` of `vm` EOIed level-triggered `vector` (`vcpu/apic.rs`, `Effect::LevelEoi`): every
/// INTx of the VM's devices routed to that vector and addressing that vCPU is resampled.
pub(crate) fn intx_eoi(vm: &dyn Guest, vector: u8, route: &Route) {
    let Ok(u) = unit() else { return };
    let reg = u.assign.lock();
    for d in reg.devs.iter() {
        let Some(a) = d.owner.as_ref().filter(|a| same_guest(&*a.vm, vm)) else { continue };
        let Some(i) = a.intx.as_ref() else { continue };
        let m = i.line().ctx.message();
        if m.vector == vector && route.matches(&m, false) {
            i.resample();
        }
    }
}

