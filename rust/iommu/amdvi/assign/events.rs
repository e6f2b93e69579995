// SPDX-License-Identifier: GPL-2.0

//! The unit's event log filed per bound device (queue, counters, the VMM's eventfd), and the
//! poll that drains it while a device is bound. Documentation/amdvi.md, "Events".

use super::super::evtlog::EventCode;
use super::super::ivrs;
use super::{unit, Registry, Unit};
use crate::ffi;
use crate::iommu::{sel_devid, Guest};
use crate::uapi::*;
use core::sync::atomic::Ordering;
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// Event records kept per device for its VMM; older ones are counted as lost.
const EVENT_QUEUE: usize = 64;

/// The event-log poll (shim.c's delayed work, every 100 ms): drains the log and files the
/// records with their devices (signalling their eventfds). Polls only while a device is
/// bound: only DTEs rsvm made valid make the unit log device events (the debugfs test
/// domain's are drained when debugfs is read), so a host with `amdvi=1` and nothing
/// assigned is not woken 10 times a second. Returns whether to poll again.
#[no_mangle]
extern "C" fn rsvm_amdvi_poll() -> bool {
    let Ok(u) = unit() else { return false };
    let mut reg = u.assign.lock();
    if reg.devs.is_empty() {
        return false;
    }
    route_events(u, &mut reg);
    true
}

/// Stops the event-log poll: neither pending nor running afterwards. The caller makes sure
/// nothing starts it again (the PCI driver is unregistered: no more probes).
pub(crate) fn poll_stop() {
    ffi::evt_poll_stop();
}

/// Takes the unit's pending event records and files each with its device.
pub(super) fn route_events(u: &Unit, reg: &mut Registry) {
    let mut hw = u.hw.lock();
    hw.drain_events();
    let pending = core::mem::take(&mut hw.pending_events);
    drop(hw);
    for e in pending.iter() {
        // The record names the requester id: the device's own, or else its IVRS alias
        // (shared by several devices: the first bound one gets it).
        let i = reg.devs.iter().position(|d| d.devid == e.devid())
            .or_else(|| reg.devs.iter().position(|d| ivrs::ivrs_alias(&u.aliases, d.devid) == Some(e.devid())));
        if let Some(d) = i.and_then(|i| reg.devs.get_mut(i)) {
            d.total_events += 1;
            if e.code() == EventCode::IoPageFault {
                d.io_page_faults += 1;
            }
            if d.events.len() >= EVENT_QUEUE || d.events.push(e.0, GFP_ATOMIC).is_err() {
                d.lost += 1;
            }
            // Also for a lost record: the VMM reads `lost` in RSVM_DEVICE_EVENTS.
            if let Some(efd) = d.owner.as_ref().and_then(|a| a.eventfd.as_ref()) {
                efd.signal();
            }
        }
    }
}

/// `RSVM_DEVICE_EVENTS`: takes up to `nr` queued event records of a device the VM owns,
/// with its counters. The records are copied to the VMM's buffer with no lock held: the
/// registry lock is every VM's, and a buffer that faults (or sleeps in userfaultfd) must not
/// stall the others. They are taken from the queue only once written, and only if no other
/// caller of the same VM took them meanwhile (then this caller returns them too: each record
/// reaches the VMM at least once).
pub(crate) fn events(vm: &dyn Guest, ev: &mut RsvmDeviceEvents) -> Result {
    let u = unit()?;
    if ev.pad != 0 {
        return Err(EINVAL);
    }
    let (batch, taken) = {
        let mut reg = u.assign.lock();
        reg.owned(vm, &ev.dev)?;
        route_events(u, &mut reg);
        let d = reg.owned(vm, &ev.dev)?;
        let n = (ev.nr as usize).min(d.events.len());
        let mut batch = KVec::with_capacity(n, GFP_KERNEL)?;
        for r in d.events.iter().take(n) {
            batch.push(*r, GFP_KERNEL)?;
        }
        ev.io_page_faults = d.io_page_faults;
        ev.events = d.total_events;
        ev.lost = d.lost;
        ev.interrupts = d.owner.as_ref().map_or(0, |a| {
            a.interrupts_before
                + a.irq.as_ref().and_then(|i| i.handler()).map_or(0, |c| c.count.load(Ordering::Relaxed))
                + a.intx.as_ref().map_or(0, |i| i.line().ctx.count.load(Ordering::Relaxed))
        });
        (batch, d.events_taken)
    };
    if !batch.is_empty() {
        let mut w = UserSlice::new(UserPtr::from_addr(ev.records as usize), batch.len() * 16).writer();
        for r in batch.iter() {
            w.write(&r[0])?;
            w.write(&r[1])?;
        }
        let mut reg = u.assign.lock();
        if let Ok(d) = reg.owned(vm, &ev.dev) {
            if d.events_taken == taken {
                for _ in 0..batch.len().min(d.events.len()) {
                    let _ = d.events.remove(0);
                }
                d.events_taken += batch.len() as u64;
            }
        }
    }
    ev.nr = batch.len() as u32;
    Ok(())
}

/// `RSVM_DEVICE_EVENTFD`: registers (`fd` >= 0) or unregisters (`fd` = -1) the eventfd of a
/// device the VM owns. A registration replaces the previous one; if records are already
/// queued, the new eventfd is signalled once so none waits unnoticed.
pub(crate) fn set_eventfd(vm: &dyn Guest, r: &RsvmDeviceEventfd) -> Result {
    let u = unit()?;
    sel_devid(&r.dev)?;
    if r.flags != 0 || r.fd < -1 {
        return Err(if r.flags != 0 { EINVAL } else { EBADF });
    }
    // Taken before the registry lock (it looks up the caller's file table); dropped (put)
    // on every error below.
    let efd = if r.fd >= 0 { Some(ffi::EventFd::from_fd(r.fd)?) } else { None };
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &r.dev)?;
    let queued = !d.events.is_empty();
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if queued {
        if let Some(e) = efd.as_ref() {
            e.signal();
        }
    }
    // The previous eventfd, if any, is put here.
    a.eventfd = efd;
    Ok(())
}
