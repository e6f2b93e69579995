// SPDX-License-Identifier: GPL-2.0

//! The command buffer (AMD I/O Virtualization Technology spec, doc 48882, §3.3.1 and §2.4):
//! a ring of 128-bit commands in host memory; software writes entries at the tail and
//! publishes them by writing the Command Buffer Tail Pointer Register, the IOMMU consumes
//! them from the head. Completion is observed with COMPLETION_WAIT storing a value to
//! memory, polled with a bounded wait.

use super::regs::{Regs, PTR_MASK};
use crate::hwpage::HwPages;
use core::mem::size_of;
use core::sync::atomic::{fence, Ordering};
use kernel::time::{delay::fsleep, Delta, Instant, Monotonic};
use kernel::{prelude::*, static_assert};

/// One command (§2.4, figure 40): the opcode is in bits 63:60 of the first quadword.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Command(pub(crate) [u64; 2]);
static_assert!(size_of::<Command>() == 16);

/// Opcodes (§2.4, table 29).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Opcode {
    CompletionWait = 0x01,
    InvalidateDevtabEntry = 0x02,
    InvalidateIommuPages = 0x03,
    InvalidateInterruptTable = 0x05,
    InvalidateIommuAll = 0x08,
}

const OPCODE_SHIFT: u32 = 60;

/// INVALIDATE_IOMMU_PAGES with S=1 and this address invalidates every page (§2.4.3,
/// table 32).
const ALL_PAGES_ADDRESS: u64 = 0x7fff_ffff_ffff_f000;

impl Command {
    fn op(op: Opcode, q0: u64, q1: u64) -> Self {
        Self([q0 | (op as u64) << OPCODE_SHIFT, q1])
    }

    /// COMPLETION_WAIT (§2.4.1) with S=1: when every earlier command has completed, the
    /// IOMMU stores `data` (8 bytes) at `store_pa` (8-byte aligned, bits 51:3).
    pub(crate) fn completion_wait(store_pa: u64, data: u64) -> Self {
        Self::op(Opcode::CompletionWait, (store_pa & 0x000f_ffff_ffff_fff8) | 1, data)
    }

    /// INVALIDATE_DEVTAB_ENTRY (§2.4.2): DeviceID in bits 15:0.
    pub(crate) fn invalidate_devtab_entry(devid: u16) -> Self {
        Self::op(Opcode::InvalidateDevtabEntry, u64::from(devid), 0)
    }

    /// INVALIDATE_IOMMU_PAGES (§2.4.3) for every page of `domain` (DomainID in bits 47:32;
    /// S=1, PDE=1 so cached page directory entries go too, all-pages address).
    pub(crate) fn invalidate_domain(domain: u16) -> Self {
        Self::op(Opcode::InvalidateIommuPages, u64::from(domain) << 32, ALL_PAGES_ADDRESS | 0b11)
    }

    /// INVALIDATE_INTERRUPT_TABLE (§2.4.5): DeviceID in bits 15:0; the unit drops the
    /// interrupt remapping entries it cached for the device.
    pub(crate) fn invalidate_interrupt_table(devid: u16) -> Self {
        Self::op(Opcode::InvalidateInterruptTable, u64::from(devid), 0)
    }

    /// INVALIDATE_IOMMU_ALL (§2.4.7), when the Extended Feature Register has IASup.
    pub(crate) fn invalidate_all() -> Self {
        Self::op(Opcode::InvalidateIommuAll, 0, 0)
    }
}

/// Ring size: 4 KiB, 256 entries, ComLen = 8 (the minimum, §3.4.2).
const RING_BYTES: usize = 4096;
const COM_LEN: u64 = 8;
static_assert!(RING_BYTES == (1 << COM_LEN) * size_of::<Command>());

/// How long a command may take to be consumed (ring space) or to complete, polled every
/// 10 us: 2 s of monotonic time (the unit's invalidation timeout is set to 1 s).
const POLL_STEP_US: i64 = 10;
const TIMEOUT_MS: i64 = 2000;

/// Polls `done` until it holds (`Ok`) or `TIMEOUT_MS` have passed (`ETIMEDOUT`).
fn poll(mut done: impl FnMut() -> bool) -> Result {
    let start = Instant::<Monotonic>::now();
    loop {
        if done() {
            return Ok(());
        }
        if start.elapsed() > Delta::from_millis(TIMEOUT_MS) {
            // One last look: the sleep may have been long.
            return if done() { Ok(()) } else { Err(ETIMEDOUT) };
        }
        fsleep(Delta::from_micros(POLL_STEP_US));
    }
}

/// The ring and the completion-wait store word.
///
/// # Invariants
///
/// `tail` is a multiple of 16 below `RING_BYTES`: the byte offset of the next free entry.
pub(crate) struct CmdBuf {
    ring: HwPages,
    tail: usize,
    /// The 8-byte word COMPLETION_WAIT stores to (its own page: the IOMMU writes it).
    sem: HwPages,
    /// The value the next COMPLETION_WAIT stores; never 0, the initial content.
    seq: u64,
    /// Commands written, and completion waits that completed (for debugfs).
    pub(crate) issued: u64,
    pub(crate) waits: u64,
}

impl CmdBuf {
    pub(crate) fn new() -> Result<Self> {
        // INVARIANT: the ring starts empty at offset 0.
        Ok(Self { ring: HwPages::page()?, tail: 0, sem: HwPages::page()?, seq: 0, issued: 0, waits: 0 })
    }

    /// The Command Buffer Base Address Register value (§3.4.2).
    pub(crate) fn base_reg(&self) -> u64 {
        self.ring.phys() | COM_LEN << 56
    }

    /// The head as a byte offset into the ring. QEMU reports RING_BYTES right after a
    /// wrap: the modulo folds it to 0.
    fn head(regs: &Regs) -> usize {
        (regs.cmd_head() & PTR_MASK) as usize % RING_BYTES
    }

    /// Queues one command: waits (bounded) for a free entry, writes it, then publishes it
    /// by moving the tail (§3.3.1: the entry must be in memory before the tail write).
    pub(crate) fn submit(&mut self, regs: &Regs, cmd: Command) -> Result {
        let next = (self.tail + size_of::<Command>()) % RING_BYTES;
        // Full while the IOMMU has not consumed the entry we would overwrite.
        poll(|| Self::head(regs) != next).inspect_err(|_| {
            pr_err!("amdvi: command buffer full (head {:#x}, tail {:#x})\n", Self::head(regs), self.tail);
        })?;
        let p = self.ring.as_mut_ptr::<Command>().wrapping_add(self.tail / size_of::<Command>());
        // SAFETY: `tail` is an entry offset inside the ring page (type invariant), which we
        // own; the IOMMU does not read it before the tail register says so.
        unsafe { p.write_volatile(cmd) };
        fence(Ordering::SeqCst);
        // INVARIANT: `next` is a multiple of 16 below RING_BYTES.
        self.tail = next;
        regs.set_cmd_tail(next as u64);
        self.issued += 1;
        Ok(())
    }

    /// COMPLETION_WAIT: returns when every command queued before it has completed, or
    /// `ETIMEDOUT` (with the ring's state logged) if the store does not come.
    pub(crate) fn wait(&mut self, regs: &Regs) -> Result {
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        let sem = self.sem.as_mut_ptr::<u64>();
        self.submit(regs, Command::completion_wait(self.sem.phys(), seq))?;
        // SAFETY: `sem` is the first word of our page (alive as long as `self`); the IOMMU
        // stores to it by DMA, so it is read volatile.
        let read = || unsafe { sem.read_volatile() };
        if poll(|| read() == seq).is_ok() {
            self.waits += 1;
            return Ok(());
        }
        let got = read();
        pr_err!(
            "amdvi: COMPLETION_WAIT timed out: store {:#x}, want {:#x}; head {:#x}, tail {:#x}, status {:#x}\n",
            got, seq, regs.cmd_head(), regs.cmd_tail(), regs.status()
        );
        Err(ETIMEDOUT)
    }

    /// Forgets the ring's content: the hardware's head and tail were reset to 0 (by a write
    /// of the base register, §3.4.2, or explicitly).
    pub(crate) fn reset(&mut self) {
        // INVARIANT: 0 is a valid entry offset.
        self.tail = 0;
    }
}
