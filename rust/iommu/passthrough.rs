// SPDX-License-Identifier: GPL-2.0

//! Device passthrough as the VM sees it: rsvm's device-assignment ioctls on a VM fd (the
//! rsvm-only number range, `uapi::RSVM_*`), the VM fd's release, and the level-triggered EOI
//! that resamples an assigned device's INTx. Each goes to the vendor driver (AMD-Vi, the only
//! one), which finds its unit itself (`ENODEV` without one). Documentation/ioctl-abi.md.

use super::amdvi::assign::{bar, config, events, intr, intx, lifecycle};
use super::{sel_devid, Guest};
use crate::lapic::Route;
use crate::uapi::*;
use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

/// rsvm's device-assignment ioctls on a VM fd; `None` if `cmd` is not one of them.
pub(crate) fn ioctl(vm: &Arc<dyn Guest>, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let rd = |n: usize| UserSlice::new(UserPtr::from_addr(arg), n);
    let r = match cmd {
        RSVM_ASSIGN_DEVICE | RSVM_RELEASE_DEVICE => (|| {
            let sel: RsvmPciDevice = rd(size_of::<RsvmPciDevice>()).reader().read()?;
            sel_devid(&sel)?;
            if cmd == RSVM_ASSIGN_DEVICE {
                lifecycle::assign(vm, &sel)
            } else {
                lifecycle::release_device(&**vm, &sel)
            }
        })(),
        RSVM_MAP_DEVICE_BAR => (|| {
            let b: RsvmDeviceBar = rd(size_of::<RsvmDeviceBar>()).reader().read()?;
            bar::map_bar(&**vm, &b)
        })(),
        RSVM_DEVICE_CONFIG => (|| {
            let (mut r, mut w) = rd(size_of::<RsvmDeviceConfig>()).reader_writer();
            let mut c: RsvmDeviceConfig = r.read()?;
            config::config(&**vm, &mut c)?;
            w.write(&c)
        })(),
        RSVM_DEVICE_MSI => (|| {
            let m: RsvmDeviceMsi = rd(size_of::<RsvmDeviceMsi>()).reader().read()?;
            intr::set_msi(vm, &m)
        })(),
        RSVM_DEVICE_EVENTFD => (|| {
            let e: RsvmDeviceEventfd = rd(size_of::<RsvmDeviceEventfd>()).reader().read()?;
            events::set_eventfd(&**vm, &e)
        })(),
        RSVM_DEVICE_INTX => (|| {
            let m: RsvmDeviceMsi = rd(size_of::<RsvmDeviceMsi>()).reader().read()?;
            intx::set_intx(vm, &m)
        })(),
        RSVM_DEVICE_EVENTS => (|| {
            let (mut r, mut w) = rd(size_of::<RsvmDeviceEvents>()).reader_writer();
            let mut e: RsvmDeviceEvents = r.read()?;
            events::events(&**vm, &mut e)?;
            w.write(&e)
        })(),
        _ => return None,
    };
    Some(r.map(|()| 0))
}

/// The VM fd is being closed (or its process died): every device it holds is released
/// (blocked, reset, out of the NPT; the domain freed), which also drops their references to
/// the VM.
pub(crate) fn release_vm(vm: &dyn Guest) {
    lifecycle::release_vm(vm);
}

/// vCPU `route` of `vm` EOIed level-triggered `vector`: as KVM's EOI broadcast to the
/// IOAPIC, the INTx of the VM's devices routed to that vector and addressing that vCPU are
/// resampled (unmasked, or delivered again if still asserted).
pub(crate) fn level_eoi(vm: &dyn Guest, vector: u8, route: &Route) {
    intx::intx_eoi(vm, vector, route);
}
