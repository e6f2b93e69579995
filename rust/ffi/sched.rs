// SPDX-License-Identifier: GPL-2.0

//! The current task and deferred work: pending signals and rescheduling, the halted vCPU's
//! sleep (an rcuwait), the vCPU's signal mask during `KVM_RUN`, and the AMD-Vi event-log
//! poll (shim.c's delayed work) with its message ratelimit.

use super::{rsvm_shim_resched_before_entry, rsvm_shim_evt_poll_start, rsvm_shim_evt_poll_stop, rsvm_shim_evt_ratelimit, rsvm_shim_sigset_activate, rsvm_shim_sigset_deactivate, rsvm_shim_waitq_wait};
use kernel::{alloc::KBox, bindings};

/// Whether the current task has a signal pending.
pub(crate) fn signal_pending() -> bool {
    kernel::current!().signal_pending()
}

/// Yields if the scheduler asked (lazily or not), as KVM does between two guest entries
/// (shim.c says why `cond_resched()` is not enough).
pub(crate) fn resched_before_entry() {
    // SAFETY: called from process context without locks that forbid sleeping.
    unsafe { rsvm_shim_resched_before_entry() };
}

/// What a halted vCPU sleeps on: an rcuwait (see `rsvm_shim_waitq_wait` in shim.c for why
/// not a wait queue or `CondVar`); wakers set the flag first.
pub(crate) struct WaitQueue(KBox<kernel::types::Opaque<bindings::rcuwait>>);

// SAFETY: rcuwait is safe to wake from any context and has one waiter (the vCPU thread);
// the box is owned by this value.
unsafe impl Send for WaitQueue {}
// SAFETY: as above (`wait` and `wake` take `&self`; the rcuwait serialises them itself).
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    pub(crate) fn new() -> kernel::error::Result<Self> {
        // `rcuwait_init()` is `task = NULL`; allocated as shim.c's kzalloc did (accounted).
        let w = KBox::new(
            kernel::types::Opaque::new(bindings::rcuwait { task: core::ptr::null_mut() }),
            kernel::alloc::flags::GFP_KERNEL_ACCOUNT,
        )?;
        Ok(WaitQueue(w))
    }

    /// Sleeps until `flag` is non-zero. `Err(())`: a signal is pending.
    pub(crate) fn wait(&self, flag: &core::sync::atomic::AtomicI32) -> Result<(), ()> {
        // SAFETY: the rcuwait is live and initialised (owned by self); `flag` is an
        // AtomicI32, which has the layout of the C atomic_t the shim reads.
        let r = unsafe { rsvm_shim_waitq_wait(self.0.get().cast(), flag.as_ptr()) };
        if r == 0 { Ok(()) } else { Err(()) }
    }

    pub(crate) fn wake(&self) {
        // SAFETY: the rcuwait is live; rcuwait_wake_up() takes no lock and is callable from
        // any context (the APIC timer's hard-irq callback included).
        unsafe { bindings::rcuwait_wake_up(self.0.get()) };
    }
}

/// Starts the event-log poll (shim.c's delayed work, every 100 ms; idempotent).
pub(crate) fn evt_poll_start() {
    // SAFETY: queues the static poll work; `AmdviFile` stops it before the unit goes.
    unsafe { rsvm_shim_evt_poll_start() };
}

/// Stops the event-log poll: neither pending nor running afterwards. Not from the poll
/// itself.
pub(crate) fn evt_poll_stop() {
    // SAFETY: cancel_delayed_work_sync on the static work; callers are not the work.
    unsafe { rsvm_shim_evt_poll_stop() };
}

/// Whether an event-log message may be printed now (one shared ratelimit: 10 per 5 s).
pub(crate) fn evt_ratelimit() -> bool {
    // SAFETY: `__ratelimit` on a static state, any context.
    unsafe { rsvm_shim_evt_ratelimit() != 0 }
}

/// `KVM_SET_SIGNAL_MASK` in effect for the guard's lifetime: the task's blocked signals are
/// the vCPU's mask, the old ones saved in `current->real_blocked` (as KVM's
/// `kvm_sigset_activate`/`kvm_sigset_deactivate`). Not `Send`: it is the current task's.
pub(crate) struct SigmaskGuard(core::marker::PhantomData<*mut ()>);

impl SigmaskGuard {
    pub(crate) fn activate(mask: u64) -> Self {
        // SAFETY: `mask` is a live u64 the shim reads once; the saved mask is restored by
        // `drop`, on this task (the guard cannot leave it).
        unsafe { rsvm_shim_sigset_activate(&mask) };
        SigmaskGuard(core::marker::PhantomData)
    }
}

impl Drop for SigmaskGuard {
    fn drop(&mut self) {
        // SAFETY: pairs with the activation in `activate`, on the same task.
        unsafe { rsvm_shim_sigset_deactivate() };
    }
}
