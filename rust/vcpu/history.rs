// SPDX-License-Identifier: GPL-2.0

//! The last exits of a vCPU, for the report of a shutdown (triple fault).
//!
//! After a shutdown intercept the VMCB is undefined and rsvm resets the vCPU (as KVM's
//! `shutdown_interception`), so the VMM's register dump shows only the reset state. What
//! led there is kept here instead: a ring of the last exits (and of the SIPIs that start an
//! AP, which the VMM never sees), printed with the state at the shutdown. KVM answers the
//! same question with its `kvm_exit`/`kvm_inj_virq` tracepoints; a ring costs six stores
//! per exit and needs no tracing set up before the failure, which matters for failures that
//! show once in hours of CI.

use crate::svm::vmcb::Vmcb;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

/// When the last shutdown report was printed (jiffies; 0: never).
static LAST_REPORT: AtomicU64 = AtomicU64::new(0);
/// At most one shutdown report per 5 s.
const REPORT_INTERVAL_MS: u32 = 5000;

/// How many exits are kept.
const LEN: usize = 16;

/// A SIPI started the vCPU (a pseudo exit code: real ones are below 0x500 or -1).
pub(super) const SIPI: u64 = 0xffff_0001;
/// An INIT reset the vCPU.
pub(super) const INIT: u64 = 0xffff_0002;

#[derive(Clone, Copy, Default)]
pub(super) struct Record {
    code: u64,
    info1: u64,
    info2: u64,
    rip: u64,
    /// EXITINTINFO of the exit (an event whose delivery it interrupted).
    intinfo: u32,
    /// EVENTINJ of the entry before it, and whether V_IRQ offered an interrupt (0x100 | vector).
    injected: u32,
    virq: u32,
}

impl Record {
    /// The exit the VMCB holds; `injected` and `virq` describe the entry before it.
    pub(super) fn exit(v: &Vmcb, injected: u32, virq: Option<u8>) -> Self {
        let c = &v.control;
        Self {
            code: c.exit_code,
            info1: c.exit_info_1,
            info2: c.exit_info_2,
            rip: v.save.rip,
            intinfo: c.exit_int_info.0,
            injected,
            virq: virq.map_or(0, |q| 0x100 | q as u32),
        }
    }

    /// A module-side event (`SIPI`, `INIT`) with its argument.
    pub(super) fn event(code: u64, arg: u64, rip: u64) -> Self {
        Self { code, info1: arg, rip, ..Default::default() }
    }
}

/// The ring; `next` is where the next record goes, `n` how many are valid.
pub(super) struct ExitHistory {
    ring: [Record; LEN],
    next: usize,
    n: usize,
}

impl ExitHistory {
    pub(super) const fn new() -> Self {
        Self { ring: [Record { code: 0, info1: 0, info2: 0, rip: 0, intinfo: 0, injected: 0, virq: 0 }; LEN], next: 0, n: 0 }
    }

    pub(super) fn push(&mut self, r: Record) {
        if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = r;
        }
        self.next = (self.next + 1) % LEN;
        self.n = (self.n + 1).min(LEN);
    }

    /// Prints the exits, oldest first (after `print_state`).
    pub(super) fn print(&self, vm: u64, vcpu: u32) {
        let first = (self.next + LEN - self.n) % LEN;
        for i in 0..self.n {
            if let Some(r) = self.ring.get((first + i) % LEN) {
                pr_info!(
                    "vm{} vcpu{}:  exit {:x} info1 {:x} info2 {:x} rip {:x} intinfo {:08x} inj {:08x} virq {:x}\n",
                    vm, vcpu, r.code, r.info1, r.info2, r.rip, r.intinfo, r.injected, r.virq
                );
            }
        }
    }
}

/// Whether a shutdown may be reported now: at most one report every `REPORT_INTERVAL_MS` in
/// the whole module, so a guest that triple-faults in a loop cannot flood the host's log
/// (printk_ratelimited's purpose).
pub(super) fn may_report() -> bool {
    // SAFETY: `jiffies` is the kernel's tick counter, updated by the timer code and read
    // everywhere without a lock; a volatile read of the aligned word cannot tear.
    let now = unsafe { core::ptr::addr_of!(kernel::bindings::jiffies).read_volatile() } as u64;
    let last = LAST_REPORT.load(Ordering::Relaxed);
    let interval = kernel::time::msecs_to_jiffies(REPORT_INTERVAL_MS) as u64;
    !(last != 0 && now.wrapping_sub(last) < interval)
        && LAST_REPORT.compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed).is_ok()
}

/// Prints the state a shutdown intercept left in the VMCB (before `ExitHistory::print`).
pub(super) fn print_state(vm: u64, vcpu: u32, v: &Vmcb) {
    let s = &v.save;
    pr_info!(
        "vm{} vcpu{}: shutdown (triple fault) at {:04x}:{:016x} rsp {:016x} rflags {:x} cr0 {:x} cr3 {:x} cr4 {:x} efer {:x} idtr {:x}/{:x} cpl {} exitintinfo {:08x}\n",
        vm, vcpu, s.cs.selector, s.rip, s.rsp, s.rflags, s.cr0, s.cr3, s.cr4, s.efer, s.idtr.base, s.idtr.limit, s.cpl, v.control.exit_int_info.0
    );
}
