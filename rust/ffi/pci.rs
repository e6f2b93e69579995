// SPDX-License-Identifier: GPL-2.0

//! The PCI functions rsvm assigns to VMs. `kernel::pci` scopes a device to its driver's
//! probe/unbind (`Device<Bound>` with a lifetime) while an assigned device is used from VM
//! ioctls and the VM fd's release, and has no reset, INTx masking, config-space or MSI
//! message access: so this wraps the exported C API (`kernel::bindings`) and, for static
//! inlines without a binding, `pcidrv.c`.

use super::irq::{ThreadedHandler, ThreadedIrq};
use super::{rsvm_shim_pci_ids, rsvm_shim_pci_msi_msg, rsvm_shim_pci_register, rsvm_shim_pci_unregister};
use core::ptr::NonNull;
use kernel::{bindings, ffi::c_int, prelude::*};

/// A counted reference to a PCI function (`pci_dev_get`, put on drop).
///
/// # Invariants
///
/// `0` is a live `struct pci_dev` on which this value holds a reference.
pub(crate) struct PciDev(NonNull<bindings::pci_dev>);

// SAFETY: a counted device reference; the functions called on it lock what they touch (or
// are serialised by rsvm's assignment mutex), from any thread.
unsafe impl Send for PciDev {}
// SAFETY: as above.
unsafe impl Sync for PciDev {}

impl Clone for PciDev {
    fn clone(&self) -> Self {
        // SAFETY: live device (type invariant); the new reference is put by the clone.
        unsafe { bindings::pci_dev_get(self.0.as_ptr()) };
        // INVARIANT: the reference was just taken.
        PciDev(self.0)
    }
}

impl Drop for PciDev {
    fn drop(&mut self) {
        // SAFETY: the reference this value holds (type invariant), put once.
        unsafe { bindings::pci_dev_put(self.0.as_ptr()) };
    }
}

/// An upstream bridge of a device, as its DMA requester id sees it.
pub(crate) struct Bridge {
    /// `PCI_DEV_FLAGS_*` of the bridge.
    pub(crate) flags: u32,
    /// Its PCIe port type (`PCI_EXP_TYPE_*`), `None` for a conventional PCI bridge.
    pub(crate) pcie_type: Option<u32>,
}

/// Who holds a PCI function by requester id (`pci_holder`).
#[derive(PartialEq, Eq)]
pub(crate) enum PciHolder {
    Absent,
    NoDriver,
    /// Bound to a driver (the host's, unless it is rsvm's: the caller knows its own).
    Driver,
}

impl PciDev {
    /// Takes a reference to `pdev`.
    ///
    /// # Safety
    ///
    /// `pdev` is a live device (its driver's probe or remove is running, or a reference is
    /// held).
    pub(crate) unsafe fn get(pdev: *mut bindings::pci_dev) -> Option<Self> {
        let p = NonNull::new(pdev)?;
        // SAFETY: live device (the caller's guarantee).
        unsafe { bindings::pci_dev_get(p.as_ptr()) };
        // INVARIANT: the reference was just taken.
        Some(PciDev(p))
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::pci_dev {
        self.0.as_ptr()
    }

    /// PCI segment and requester id (bus << 8 | devfn).
    pub(crate) fn ids(&self) -> (u16, u16) {
        let (mut seg, mut devid) = (0u16, 0u16);
        // SAFETY: live device (type invariant); the out pointers are ours.
        unsafe { rsvm_shim_pci_ids(self.as_ptr().cast(), &mut seg, &mut devid) };
        (seg, devid)
    }

    /// Memory BAR `bar`: its host physical start and length; `EINVAL` if it is not a
    /// usable memory BAR (I/O, unset or empty).
    pub(crate) fn mem_bar(&self, bar: u32) -> Result<(u64, u64)> {
        // PCI_STD_NUM_BARS.
        if bar >= 6 {
            return Err(EINVAL);
        }
        let p = self.as_ptr();
        // SAFETY: live device (type invariant); its resources are set at enumeration and
        // stable while its driver (rsvm's) holds it; `bar` is a resource index.
        let flags = unsafe { (*p).resource.get(bar as usize).map(|r| r.flags) }.ok_or(EINVAL)?;
        // SAFETY: as above.
        let (start, len) = unsafe { (bindings::pci_resource_start(p, bar as c_int), bindings::pci_resource_len(p, bar as c_int)) };
        let flags = flags as u64;
        if flags & u64::from(bindings::IORESOURCE_MEM) == 0
            || flags & u64::from(bindings::IORESOURCE_UNSET) != 0
            || len == 0
        {
            return Err(EINVAL);
        }
        Ok((start as u64, len as u64))
    }

    /// Whether a DMA-alias quirk gives the device further requester ids (`dma_alias_mask`).
    pub(crate) fn has_quirk_dma_alias(&self) -> bool {
        // SAFETY: live device (type invariant); the mask is set by quirks at enumeration.
        unsafe { !(*self.as_ptr()).dma_alias_mask.is_null() }
    }

    /// Walks the bridges between the device and its root bus, nearest first, until `f`
    /// returns an answer.
    pub(crate) fn find_upstream_bridge<R>(&self, mut f: impl FnMut(&Bridge) -> Option<R>) -> Option<R> {
        // SAFETY: live device (type invariant); a device holds its bus, each bus its
        // parent and its bridge (`self`), all live while the device is.
        unsafe {
            let mut bus = (*self.as_ptr()).bus;
            // pci_is_root_bus(): a bus without a parent.
            while !bus.is_null() && !(*bus).parent.is_null() {
                let br = (*bus).self_;
                if !br.is_null() {
                    // pci_is_pcie() and pci_pcie_type().
                    let pcie_type = ((*br).pcie_cap != 0)
                        .then(|| (u32::from((*br).pcie_flags_reg) & bindings::PCI_EXP_FLAGS_TYPE) >> 4);
                    if let Some(r) = f(&Bridge { flags: u32::from((*br).dev_flags), pcie_type }) {
                        return Some(r);
                    }
                }
                bus = (*bus).parent;
            }
        }
        None
    }

    pub(crate) fn enable(&self) -> Result {
        // SAFETY: live device (type invariant); balanced by `disable`.
        kernel::error::to_result(unsafe { bindings::pci_enable_device(self.as_ptr()) })
    }

    pub(crate) fn disable(&self) {
        // SAFETY: live device, enabled by `enable` (the caller's pairing).
        unsafe { bindings::pci_disable_device(self.as_ptr()) };
    }

    pub(crate) fn request_regions(&self, name: &'static CStr) -> Result {
        // SAFETY: live device; the name is static.
        kernel::error::to_result(unsafe { bindings::pci_request_regions(self.as_ptr(), name.as_char_ptr()) })
    }

    pub(crate) fn release_regions(&self) {
        // SAFETY: live device whose regions `request_regions` claimed (the caller's pairing).
        unsafe { bindings::pci_release_regions(self.as_ptr()) };
    }

    pub(crate) fn clear_master(&self) {
        // SAFETY: live device.
        unsafe { bindings::pci_clear_master(self.as_ptr()) };
    }

    /// A function reset: `pci_reset_function_locked` when the caller holds the device lock
    /// (unbind), else `pci_try_reset_function` (never waits for that lock). 0 or an errno.
    pub(crate) fn reset(&self, device_locked: bool) -> c_int {
        // SAFETY: live device; `device_locked` says which lock state the caller is in.
        unsafe {
            if device_locked {
                bindings::pci_reset_function_locked(self.as_ptr())
            } else {
                bindings::pci_try_reset_function(self.as_ptr())
            }
        }
    }

    /// Sets (`false`) or clears (`true`) the command register's Interrupt Disable bit.
    pub(crate) fn intx(&self, enable: bool) {
        // SAFETY: live device; pci_intx takes only pci_lock (raw): any context.
        unsafe { bindings::pci_intx(self.as_ptr(), enable as c_int) };
    }

    /// The host IRQ of the device's INTx pin, if it has a pin, an IRQ and working PCI 2.3
    /// INTx masking (`pci_intx_mask_supported`): a shared line can then be quieted.
    pub(crate) fn maskable_intx_irq(&self) -> Option<u32> {
        let p = self.as_ptr();
        // SAFETY: live device; these fields are set at enumeration.
        let (pin, irq, broken) = unsafe { ((*p).pin, (*p).irq, (*p).broken_intx_masking() != 0) };
        (pin != 0 && irq != 0 && irq != bindings::IRQ_NOTCONNECTED && !broken).then_some(irq)
    }

    /// If the device asserts INTx (PCI 2.3 Interrupt Status), masks it (Interrupt Disable)
    /// and returns true. Any context.
    pub(crate) fn check_and_mask_intx(&self) -> bool {
        // SAFETY: live device; takes pci_lock (raw) only.
        unsafe { bindings::pci_check_and_mask_intx(self.as_ptr()) }
    }

    /// If the device no longer asserts INTx, unmasks it and returns true. Any context.
    pub(crate) fn check_and_unmask_intx(&self) -> bool {
        // SAFETY: live device; takes pci_lock (raw) only.
        unsafe { bindings::pci_check_and_unmask_intx(self.as_ptr()) }
    }

    /// Writes the command register (`pci_write_config_word`: not blocked during a reset,
    /// and callable under a raw spinlock).
    pub(crate) fn write_command(&self, cmd: u16) -> Result {
        // SAFETY: live device; takes pci_lock (raw) only.
        let r = unsafe { bindings::pci_write_config_word(self.as_ptr(), bindings::PCI_COMMAND as c_int, cmd) };
        pcibios_result(r)
    }

    /// A config-space read of `size` bytes (1, 2, else 4) at `off`, through the user
    /// accessors, which honour the kernel's config-access blocking (during a reset).
    pub(crate) fn read_config(&self, off: u32, size: u32) -> Result<u32> {
        let (p, off) = (self.as_ptr(), off as c_int);
        // SAFETY (all three): live device; the out pointer is ours.
        let r = unsafe {
            match size {
                1 => {
                    let mut v = 0u8;
                    let r = bindings::pci_user_read_config_byte(p, off, &mut v);
                    (r, u32::from(v))
                }
                2 => {
                    let mut v = 0u16;
                    let r = bindings::pci_user_read_config_word(p, off, &mut v);
                    (r, u32::from(v))
                }
                _ => {
                    let mut v = 0u32;
                    let r = bindings::pci_user_read_config_dword(p, off, &mut v);
                    (r, v)
                }
            }
        };
        kernel::error::to_result(r.0)?;
        Ok(r.1)
    }

    /// A config-space write, as `read_config`.
    pub(crate) fn write_config(&self, off: u32, size: u32, v: u32) -> Result {
        let (p, off) = (self.as_ptr(), off as c_int);
        // SAFETY: live device.
        let r = unsafe {
            match size {
                1 => bindings::pci_user_write_config_byte(p, off, v as u8),
                2 => bindings::pci_user_write_config_word(p, off, v as u16),
                _ => bindings::pci_user_write_config_dword(p, off, v),
            }
        };
        kernel::error::to_result(r)
    }

    /// The MSI message Linux programmed into the device for its vector 0 (what the device
    /// sends), with that IRQ's number: (irq, address_lo, address_hi, data). `ENODEV` (or
    /// another errno) without an MSI vector.
    pub(crate) fn msi_msg(&self) -> Result<(i32, u32, u32, u32)> {
        let (mut lo, mut hi, mut data) = (0u32, 0u32, 0u32);
        // SAFETY: live device; the out pointers are ours.
        let irq = unsafe { rsvm_shim_pci_msi_msg(self.as_ptr().cast(), &mut lo, &mut hi, &mut data) };
        kernel::error::to_result(irq)?;
        Ok((irq, lo, hi, data))
    }
}

/// `pcibios_err_to_errno` (a static inline): PCIBIOS_* codes of the non-user config
/// accessors as errnos.
fn pcibios_result(r: c_int) -> Result {
    if r <= 0 {
        return kernel::error::to_result(r);
    }
    Err(match r as u32 {
        bindings::PCIBIOS_FUNC_NOT_SUPPORTED => ENOENT,
        bindings::PCIBIOS_BAD_VENDOR_ID => ENOTTY,
        bindings::PCIBIOS_DEVICE_NOT_FOUND => ENODEV,
        bindings::PCIBIOS_BAD_REGISTER_NUMBER => EFAULT,
        bindings::PCIBIOS_SET_FAILED => EIO,
        bindings::PCIBIOS_BUFFER_TOO_SMALL => ENOSPC,
        _ => ERANGE,
    })
}

/// Who holds the PCI function `devid` of `segment` (looked up, and the reference dropped).
pub(crate) fn pci_holder(segment: u16, devid: u16) -> PciHolder {
    // SAFETY: returns a referenced device or NULL.
    let p = unsafe { bindings::pci_get_domain_bus_and_slot(c_int::from(segment), u32::from(devid >> 8), u32::from(devid & 0xff)) };
    if p.is_null() {
        return PciHolder::Absent;
    }
    // SAFETY: `p` is live (referenced); `driver` changes under the device lock, which we do
    // not hold: one racy read, as `READ_ONCE` in C.
    let bound = unsafe { !core::ptr::read_volatile(core::ptr::addr_of!((*p).dev.driver)).is_null() };
    // SAFETY: the reference pci_get_domain_bus_and_slot took.
    unsafe { bindings::pci_dev_put(p) };
    if bound {
        PciHolder::Driver
    } else {
        PciHolder::NoDriver
    }
}

/// The device's single MSI vector (`pci_alloc_irq_vectors`) with a threaded handler
/// (`IRQF_ONESHOT | IRQF_NOBALANCING`); on drop the IRQ is freed, then the vector.
pub(crate) struct MsiIrq<T: ThreadedHandler> {
    irq: Option<ThreadedIrq<T>>,
    pdev: PciDev,
}

impl<T: ThreadedHandler> MsiIrq<T> {
    /// IRQF_NOBALANCING: the message Linux programs (vector, destination) is what the
    /// device's interrupt remapping entry allows; user space (irqbalance, smp_affinity) must
    /// not move it behind rsvm's back. CPU hot-unplug still does (Documentation/amdvi.md).
    pub(crate) fn enable(pdev: &PciDev, handler: Pin<KBox<T>>, name: &'static CStr) -> Result<Self> {
        // SAFETY: live device; freed in `drop` or below.
        let r = unsafe { bindings::pci_alloc_irq_vectors(pdev.as_ptr(), 1, 1, bindings::PCI_IRQ_MSI) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        // SAFETY: live device with its vector 0 just allocated.
        let irq = unsafe { bindings::pci_irq_vector(pdev.as_ptr(), 0) };
        let flags = bindings::IRQF_ONESHOT | bindings::IRQF_NOBALANCING;
        match ThreadedIrq::request(irq as u32, handler, flags, name) {
            Ok(i) => Ok(Self { irq: Some(i), pdev: pdev.clone() }),
            Err(e) => {
                // SAFETY: allocated above.
                unsafe { bindings::pci_free_irq_vectors(pdev.as_ptr()) };
                Err(e)
            }
        }
    }

    pub(crate) fn handler(&self) -> Option<&T> {
        self.irq.as_ref().map(|i| i.handler())
    }
}

impl<T: ThreadedHandler> Drop for MsiIrq<T> {
    fn drop(&mut self) {
        // free_irq first (waits for a running handler), then the vector.
        drop(self.irq.take());
        // SAFETY: allocated in `enable`; its IRQ is freed.
        unsafe { bindings::pci_free_irq_vectors(self.pdev.as_ptr()) };
    }
}

/// rsvm's PCI driver "rsvm" (`pcidrv.c`: binds only through driver_override), registered
/// while the value lives.
pub(crate) struct PciDriver(());

impl PciDriver {
    /// The errno as a negative number on failure.
    pub(crate) fn register() -> core::result::Result<Self, c_int> {
        // SAFETY: registers the static pci_driver once; unregistered in `drop`.
        match unsafe { rsvm_shim_pci_register() } {
            0 => Ok(PciDriver(())),
            r => Err(r),
        }
    }
}

impl Drop for PciDriver {
    /// Unbinds every device (their `remove` runs before this returns).
    fn drop(&mut self) {
        // SAFETY: registered in `register`, unregistered once.
        unsafe { rsvm_shim_pci_unregister() };
    }
}
