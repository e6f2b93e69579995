// SPDX-License-Identifier: GPL-2.0

//! Host interrupts for assigned devices: a threaded IRQ handler registered for a device that
//! rsvm holds outside a bound `kernel::pci` driver scope (the crate's `irq::Registration`
//! needs a `Device<Bound>` and an `IrqRequest` only a bound driver gets), and an irq-safe
//! raw spinlock a hard-irq handler can share with process context (the crate has no raw
//! spinlock; its `SpinLock` is a sleeping lock on PREEMPT_RT, and the PCI config accessors
//! taken under it use the raw `pci_lock`).

use super::{
    rsvm_shim_irqs_moved_cancel, rsvm_shim_irqs_moved_schedule, rsvm_shim_raw_spin_lock_init, rsvm_shim_raw_spin_lock_irqsave,
    rsvm_shim_raw_spin_unlock_irqrestore,
};
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_ulong, c_void},
    prelude::*,
    types::Opaque,
};

/// An interrupt handler in two halves: `hard` in hard-irq context (never sleeps), `thread`
/// in the IRQ's thread (may sleep).
pub(crate) trait ThreadedHandler: Send + Sync + 'static {
    /// Whether `hard` is installed; without it the core's default primary handler wakes the
    /// thread and the line stays masked until it ran (the caller passes `IRQF_ONESHOT`).
    const HARD: bool;
    /// Whether the interrupt is this handler's (then the thread is woken).
    fn hard(&self) -> bool {
        true
    }
    fn thread(&self);
}

/// A registered threaded IRQ; `free_irq` on drop (it waits for a running hard handler and
/// thread), after which the handler goes.
///
/// # Invariants
///
/// `handler` is the `dev_id` registered for `irq` with `request_threaded_irq`, registered
/// until `drop`.
pub(crate) struct ThreadedIrq<T: ThreadedHandler> {
    irq: u32,
    handler: Pin<KBox<T>>,
}

unsafe extern "C" fn hard_irq<T: ThreadedHandler>(_irq: c_int, data: *mut c_void) -> bindings::irqreturn_t {
    // SAFETY: `data` is the pinned `T` registered in `ThreadedIrq::request`, alive until
    // free_irq (which waits for this handler) returned in `ThreadedIrq::drop`.
    let h = unsafe { &*(data as *const T) };
    if h.hard() {
        bindings::irqreturn_IRQ_WAKE_THREAD
    } else {
        bindings::irqreturn_IRQ_NONE
    }
}

unsafe extern "C" fn thread_irq<T: ThreadedHandler>(_irq: c_int, data: *mut c_void) -> bindings::irqreturn_t {
    // SAFETY: as in `hard_irq`.
    let h = unsafe { &*(data as *const T) };
    h.thread();
    bindings::irqreturn_IRQ_HANDLED
}

impl<T: ThreadedHandler> ThreadedIrq<T> {
    /// `request_threaded_irq(irq, ...)` with `flags` (`IRQF_*`); on error `handler` is dropped.
    pub(crate) fn request(irq: u32, handler: Pin<KBox<T>>, flags: u32, name: &'static CStr) -> Result<Self> {
        let data = &*handler as *const T as *mut c_void;
        let hard: bindings::irq_handler_t = if T::HARD { Some(hard_irq::<T>) } else { None };
        // SAFETY: `data` is pinned and outlives the registration (it is dropped only after
        // free_irq in `drop`, or right here if the request failed); the handlers match its
        // type; `name` is static.
        let r = unsafe {
            bindings::request_threaded_irq(irq, hard, Some(thread_irq::<T>), flags as c_ulong, name.as_char_ptr(), data)
        };
        kernel::error::to_result(r)?;
        // INVARIANT: just registered.
        Ok(Self { irq, handler })
    }

    pub(crate) fn handler(&self) -> &T {
        &self.handler
    }
}

impl<T: ThreadedHandler> Drop for ThreadedIrq<T> {
    fn drop(&mut self) {
        let data = &*self.handler as *const T as *mut c_void;
        // SAFETY: registered with this `dev_id` (type invariant), freed once; free_irq waits
        // for running handlers, so `handler` is unused once it returns.
        unsafe { bindings::free_irq(self.irq, data) };
    }
}

/// A raw spinlock taken with local interrupts off (`raw_spin_lock_irqsave`), protecting a
/// `T`; usable from hard-irq context.
#[pin_data]
pub(crate) struct RawSpinLockIrq<T> {
    #[pin]
    lock: Opaque<bindings::raw_spinlock_t>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `data` (through `RawGuard`), from any context.
unsafe impl<T: Send> Send for RawSpinLockIrq<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for RawSpinLockIrq<T> {}

impl<T> RawSpinLockIrq<T> {
    pub(crate) fn new(v: T) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `p` is the pinned, uninitialised lock, initialised once here.
            lock <- Opaque::ffi_init(|p| unsafe { rsvm_shim_raw_spin_lock_init(p) }),
            data: UnsafeCell::new(v),
        })
    }

    /// Local interrupts off and the lock held until the guard goes.
    pub(crate) fn lock(&self) -> RawGuard<'_, T> {
        // SAFETY: the lock was initialised in `new` and is pinned; released in the guard's
        // drop with these flags.
        let flags = unsafe { rsvm_shim_raw_spin_lock_irqsave(self.lock.get()) };
        RawGuard { lock: self, flags, _not_send: PhantomData }
    }
}

/// The held lock (not `Send`: it is released on the CPU that took it).
pub(crate) struct RawGuard<'a, T> {
    lock: &'a RawSpinLockIrq<T>,
    flags: c_ulong,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for RawGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held: no other reference to `data` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for RawGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held: no other reference to `data` exists.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for RawGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken in `lock` with these flags, on this CPU (the guard is not `Send`).
        unsafe { rsvm_shim_raw_spin_unlock_irqrestore(self.lock.lock.get(), self.flags) };
    }
}

/// A CPU-hotplug state in the BP range (`CPUHP_BP_PREPARE_DYN`) with only a teardown:
/// `dead` runs on a control CPU after a CPU went offline. Removed on drop (no calls).
pub(crate) struct CpuDeadState(c_int);

impl CpuDeadState {
    /// `cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, name, NULL, dead)`; the errno as
    /// a negative number on failure.
    pub(crate) fn register(name: &'static CStr, dead: unsafe extern "C" fn(c_uint) -> c_int) -> core::result::Result<Self, c_int> {
        // SAFETY: `name` is static; `dead` is a valid callback for the module's lifetime
        // (the state is removed on drop, before the module goes).
        let r = unsafe {
            bindings::__cpuhp_setup_state(bindings::cpuhp_state_CPUHP_BP_PREPARE_DYN, name.as_char_ptr(), false, None, Some(dead), false)
        };
        if r < 0 {
            Err(r)
        } else {
            Ok(Self(r))
        }
    }
}

impl Drop for CpuDeadState {
    fn drop(&mut self) {
        // SAFETY: the dynamic state `register` got, removed once; waits for running callbacks.
        unsafe { bindings::__cpuhp_remove_state(self.0 as bindings::cpuhp_state, false) };
    }
}

/// Queues the IRQ-moved work (`pcidrv.c`), which calls `rsvm_amdvi_irqs_moved`; any context.
pub(crate) fn irqs_moved_schedule() {
    // SAFETY: schedule_work on a static work item.
    unsafe { rsvm_shim_irqs_moved_schedule() };
}

/// Cancels the IRQ-moved work: neither pending nor running afterwards (process context; not
/// from the work itself).
pub(crate) fn irqs_moved_cancel() {
    // SAFETY: cancel_work_sync on the static work item; callers are not the work.
    unsafe { rsvm_shim_irqs_moved_cancel() };
}
