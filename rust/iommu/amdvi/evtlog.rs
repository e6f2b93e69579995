// SPDX-License-Identifier: GPL-2.0

//! The event log (AMD I/O Virtualization Technology spec, doc 48882, §3.3.2 and §2.5): a
//! ring of 128-bit event records the IOMMU writes at the tail; software consumes them from
//! the head. rsvm drains it by polling, not by the unit's event-log interrupt: every 100 ms
//! while a device is bound to rsvm (`assign::events::rsvm_amdvi_poll`, a delayed work item in
//! shim.c), on every debugfs read and on `RSVM_DEVICE_EVENTS`. (QEMU's unit never writes
//! events, so an interrupt path could not be tested here; Documentation/amdvi.md.)
//! Messages are rate-limited (one state for all of them, 10 per 5 s).

use super::regs::{status, Regs, PTR_MASK};
use crate::hwpage::HwPages;
use core::mem::size_of;
use kernel::{prelude::*, static_assert};

/// One event record (§2.5, figure 55): EventCode in bits 63:60 of the first quadword,
/// DeviceID in bits 15:0; the second quadword is the address for most codes.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Event(pub(crate) [u64; 2]);
static_assert!(size_of::<Event>() == 16);

/// Event codes (§2.5, table 56).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EventCode {
    IllegalDevTableEntry,
    IoPageFault,
    DevTabHardwareError,
    PageTabHardwareError,
    IllegalCommandError,
    CommandHardwareError,
    IotlbInvTimeout,
    InvalidDeviceRequest,
    InvalidPprRequest,
    EventCounterZero,
    Unknown(u8),
}

impl Event {
    pub(crate) fn code(&self) -> EventCode {
        match (self.0[0] >> 60) as u8 {
            0x1 => EventCode::IllegalDevTableEntry,
            0x2 => EventCode::IoPageFault,
            0x3 => EventCode::DevTabHardwareError,
            0x4 => EventCode::PageTabHardwareError,
            0x5 => EventCode::IllegalCommandError,
            0x6 => EventCode::CommandHardwareError,
            0x7 => EventCode::IotlbInvTimeout,
            0x8 => EventCode::InvalidDeviceRequest,
            0x9 => EventCode::InvalidPprRequest,
            0xa => EventCode::EventCounterZero,
            c => EventCode::Unknown(c),
        }
    }

    pub(crate) fn devid(&self) -> u16 {
        self.0[0] as u16
    }

    pub(crate) fn address(&self) -> u64 {
        self.0[1]
    }
}

/// Ring size: 4 KiB, 256 records, EventLen = 8 (the minimum, §3.4.3).
const RING_BYTES: usize = 4096;
const EVENT_LEN: u64 = 8;
static_assert!(RING_BYTES == (1 << EVENT_LEN) * size_of::<Event>());

/// # Invariants
///
/// `head` is a multiple of 16 below `RING_BYTES`.
pub(crate) struct EvtLog {
    ring: HwPages,
    head: usize,
    /// Events consumed, and overflows seen (for debugfs).
    pub(crate) drained: u64,
    pub(crate) overflows: u64,
}

impl EvtLog {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { ring: HwPages::page()?, head: 0, drained: 0, overflows: 0 })
    }

    /// The Event Log Base Address Register value (§3.4.3).
    pub(crate) fn base_reg(&self) -> u64 {
        self.ring.phys() | EVENT_LEN << 56
    }

    pub(crate) fn reset(&mut self) {
        // INVARIANT: 0 is a valid record offset.
        self.head = 0;
    }

    /// Test only: writes `e` where the IOMMU would write its next record and moves the
    /// tail past it, as the IOMMU does (QEMU's unit never logs events; the tail register
    /// is writable). `EBUSY` if the log is full.
    pub(crate) fn inject(&mut self, regs: &Regs, e: Event) -> Result {
        let tail = (regs.evt_tail() & PTR_MASK) as usize % RING_BYTES;
        let next = (tail + size_of::<Event>()) % RING_BYTES;
        if next == self.head {
            return Err(EBUSY);
        }
        let p = self.ring.as_mut_ptr::<Event>().wrapping_add(tail / size_of::<Event>());
        // SAFETY: `tail` is reduced to a record offset inside our ring page.
        unsafe { p.write_volatile(e) };
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        regs.set_evt_tail(next as u64);
        if (regs.evt_tail() & PTR_MASK) as usize % RING_BYTES != next {
            // The unit keeps its tail to itself: take the record back.
            // SAFETY: as above.
            unsafe { p.write_volatile(Event::default()) };
            return Err(ENOTSUPP);
        }
        Ok(())
    }

    /// Consumes every record between head and tail: logs them (rate-limited), counts them and
    /// hands the space back by writing the head register. Returns how many were consumed.
    pub(crate) fn drain(&mut self, regs: &Regs, mut sink: impl FnMut(Event)) -> u32 {
        let tail = (regs.evt_tail() & PTR_MASK) as usize % RING_BYTES;
        let mut n = 0u32;
        while self.head != tail {
            let p = self.ring.as_mut_ptr::<Event>().wrapping_add(self.head / size_of::<Event>());
            // SAFETY: `head` is a record offset inside our ring page (type invariant); the
            // IOMMU wrote it before moving the tail past it.
            let e = unsafe { p.read_volatile() };
            if crate::ffi::evt_ratelimit() {
                pr_warn!(
                    "amdvi: event {:?} device {:02x}:{:02x}.{} address {:#x} (raw {:#018x} {:#018x})\n",
                    e.code(), e.devid() >> 8, (e.devid() >> 3) & 0x1f, e.devid() & 7, e.address(), e.0[0], e.0[1]
                );
            }
            sink(e);
            // SAFETY: as above; zeroed so a stale record is never read twice.
            unsafe { p.write_volatile(Event::default()) };
            // INVARIANT: stays a multiple of 16 below RING_BYTES.
            self.head = (self.head + size_of::<Event>()) % RING_BYTES;
            n += 1;
        }
        if n > 0 {
            regs.set_evt_head(self.head as u64);
            self.drained += u64::from(n);
        }
        // The log filled up: events were lost and logging stopped (§3.4.12). Count it and
        // clear the write-1-to-clear bits; the log restarts when the unit is re-enabled.
        let st = regs.status();
        if st & status::EVENT_OVERFLOW != 0 {
            self.overflows += 1;
            if crate::ffi::evt_ratelimit() {
                pr_warn!("amdvi: event log overflow: events lost\n");
            }
        }
        if st & (status::EVENT_OVERFLOW | status::EVENT_LOG_INT) != 0 {
            regs.set_status(st & (status::EVENT_OVERFLOW | status::EVENT_LOG_INT));
        }
        n
    }
}
