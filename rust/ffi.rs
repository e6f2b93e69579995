// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shim (`shim.c`) and the VMRUN trampoline (`svm/vmenter.S`).
//! Each exists because Linux 7.2's `kernel` crate lacks the corresponding abstraction;
//! `shim.c` says why for each one.

use kernel::ffi::{c_int, c_long, c_uint, c_ulong, c_void};

pub(crate) mod irq;
pub(crate) mod pci;

extern "C" {
    pub(crate) fn rsvm_shim_misc_register() -> c_int;
    pub(crate) fn rsvm_shim_misc_deregister();
    pub(crate) fn rsvm_shim_cpuhp_setup(
        online: unsafe extern "C" fn(c_uint) -> c_int,
        offline: unsafe extern "C" fn(c_uint) -> c_int,
    ) -> c_int;
    pub(crate) fn rsvm_shim_cpuhp_remove(state: c_int);
    pub(crate) fn rsvm_shim_cpu() -> c_uint;
    pub(crate) fn rsvm_shim_nr_cpu_ids() -> c_uint;
    pub(crate) fn rsvm_shim_preempt_disable();
    pub(crate) fn rsvm_shim_preempt_enable();
    pub(crate) fn rsvm_shim_irq_save() -> c_ulong;
    pub(crate) fn rsvm_shim_irq_restore(flags: c_ulong);
    pub(crate) fn rsvm_shim_rdmsr(msr: u32, val: *mut u64) -> c_int;
    pub(crate) fn rsvm_shim_wrmsr(msr: u32, val: u64) -> c_int;
    pub(crate) fn rsvm_shim_cpuid(leaf: u32, subleaf: u32, out: *mut u32);
    pub(crate) fn rsvm_shim_read_cr4() -> c_ulong;
    pub(crate) fn rsvm_shim_alloc_pages(order: c_uint) -> c_ulong;
    pub(crate) fn rsvm_shim_free_pages(va: c_ulong, order: c_uint);
    pub(crate) fn rsvm_shim_pages_held() -> c_long;
    pub(crate) fn rsvm_shim_virt_to_phys(va: c_ulong) -> u64;
    pub(crate) fn rsvm_shim_phys_to_virt(pa: u64) -> c_ulong;

    pub(crate) fn rsvm_shim_anon_fd(vcpu: c_int, private: *mut c_void) -> c_int;
    pub(crate) fn rsvm_shim_file_private(file: *mut c_void) -> *mut c_void;
    pub(crate) fn rsvm_shim_mmap_pages(vma: *mut c_void, vas: *const c_ulong, n: c_uint) -> c_int;
    pub(crate) fn rsvm_shim_current_mm_grab() -> *mut c_void;
    pub(crate) fn rsvm_shim_is_current_mm(mm: *mut c_void) -> c_int;
    pub(crate) fn rsvm_shim_mmdrop(mm: *mut c_void);
    pub(crate) fn rsvm_shim_pin_user_pages(start: c_ulong, nr: c_ulong, write: c_int, pages: *mut *mut c_void) -> c_long;
    pub(crate) fn rsvm_shim_unpin_user_pages(pages: *mut *mut c_void, n: core::ffi::c_ulong, dirty: c_int);
    pub(crate) fn rsvm_shim_pinned_pages() -> c_long;
    pub(crate) fn rsvm_shim_page_to_phys(page: *mut c_void) -> u64;
    pub(crate) fn rsvm_shim_page_address(page: *mut c_void) -> c_ulong;
    pub(crate) fn rsvm_shim_access_ok(addr: c_ulong, size: c_ulong) -> c_int;
    pub(crate) fn rsvm_shim_signal_pending() -> c_int;
    pub(crate) fn rsvm_shim_cond_resched();
    pub(crate) fn rsvm_shim_sigset_activate(mask: *const u64);
    pub(crate) fn rsvm_shim_sigset_deactivate();
    pub(crate) fn rsvm_shim_kick_cpu(cpu: c_uint);
    pub(crate) fn rsvm_shim_fpu_begin();
    pub(crate) fn rsvm_shim_fpu_end();
    pub(crate) fn rsvm_shim_rdtsc() -> u64;
    pub(crate) fn rsvm_shim_waitq_new() -> *mut c_void;
    pub(crate) fn rsvm_shim_waitq_free(wq: *mut c_void);
    pub(crate) fn rsvm_shim_waitq_wait(wq: *mut c_void, flag: *mut i32) -> c_int;
    pub(crate) fn rsvm_shim_waitq_wake(wq: *mut c_void);
    pub(crate) fn rsvm_shim_kick_cpu_async(cpu: c_uint);
    pub(crate) fn rsvm_shim_tsc_khz() -> c_uint;
    pub(crate) fn rsvm_shim_evt_poll_start();
    pub(crate) fn rsvm_shim_evt_poll_stop();
    pub(crate) fn rsvm_shim_evt_ratelimit() -> c_int;
    pub(crate) fn rsvm_shim_eventfd_get(fd: c_int, ctx: *mut *mut c_void) -> c_int;
    pub(crate) fn rsvm_shim_eventfd_signal(ctx: *mut c_void);
    pub(crate) fn rsvm_shim_eventfd_put(ctx: *mut c_void);

    // pcidrv.c: rsvm's PCI driver for device assignment, and what `ffi::{pci, irq}` need.
    fn rsvm_shim_pci_register() -> c_int;
    fn rsvm_shim_pci_unregister();
    fn rsvm_shim_pci_ids(pdev: *mut c_void, segment: *mut u16, devid: *mut u16);
    fn rsvm_shim_pci_msi_msg(pdev: *mut c_void, address_lo: *mut u32, address_hi: *mut u32, data: *mut u32) -> c_int;
    fn rsvm_shim_irqs_moved_schedule();
    fn rsvm_shim_irqs_moved_cancel();
    fn rsvm_shim_raw_spin_lock_init(lock: *mut kernel::bindings::raw_spinlock_t);
    fn rsvm_shim_raw_spin_lock_irqsave(lock: *mut kernel::bindings::raw_spinlock_t) -> c_ulong;
    fn rsvm_shim_raw_spin_unlock_irqrestore(lock: *mut kernel::bindings::raw_spinlock_t, flags: c_ulong);

    /// The world switch (svm/vmenter.S). Requires GIF=0, SVM enabled on this CPU, valid
    /// physical addresses of a VMCB and of this CPU's host save page, and 16 GPR slots.
    pub(crate) fn __rsvm_vmrun(vmcb_pa: u64, host_save_pa: u64, gprs: *mut u64) -> u64;
}

/// CPUID leaf `leaf`, subleaf `sub`: [eax, ebx, ecx, edx].
pub(crate) fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    let mut out = [0u32; 4];
    // SAFETY: `out` is a valid array of four u32 the shim writes; CPUID has no side effects.
    unsafe { rsvm_shim_cpuid(leaf, sub, out.as_mut_ptr()) };
    out
}

/// RDMSR with exception fixup: a #GP comes back as `EIO`.
pub(crate) fn rdmsr(msr: u32) -> kernel::error::Result<u64> {
    let mut v = 0u64;
    // SAFETY: `v` is a valid u64 to write; rdmsrq_safe catches a faulting RDMSR.
    match unsafe { rsvm_shim_rdmsr(msr, &mut v) } {
        0 => Ok(v),
        _ => Err(kernel::error::code::EIO),
    }
}

/// WRMSR with exception fixup: a #GP comes back as `EIO`.
///
/// # Safety
///
/// The caller owns the MSR's meaning: writing it must not break the kernel's invariants
/// (rsvm writes only EFER.SVME and VM_HSAVE_PA, which no other kernel code relies on).
pub(crate) unsafe fn wrmsr(msr: u32, val: u64) -> kernel::error::Result {
    // SAFETY: the caller guarantees the write is sound; wrmsrq_safe catches a #GP.
    match unsafe { rsvm_shim_wrmsr(msr, val) } {
        0 => Ok(()),
        _ => Err(kernel::error::code::EIO),
    }
}

/// The current CPU. Only meaningful while preemption is off (or in a CPU-bound context).
pub(crate) fn this_cpu() -> usize {
    // SAFETY: raw_smp_processor_id() has no preconditions.
    unsafe { rsvm_shim_cpu() as usize }
}

/// Number of possible CPU ids.
pub(crate) fn nr_cpu_ids() -> usize {
    // SAFETY: reads a boot-time constant.
    unsafe { rsvm_shim_nr_cpu_ids() as usize }
}

/// Pages currently held by rsvm (all hardware structures), for leak tests.
pub(crate) fn pages_held() -> i64 {
    // SAFETY: reads an atomic counter.
    unsafe { rsvm_shim_pages_held() as i64 }
}

/// Preemption off for the guard's lifetime.
pub(crate) struct NoPreempt(());

impl NoPreempt {
    pub(crate) fn new() -> Self {
        // SAFETY: balanced by the enable in `Drop`.
        unsafe { rsvm_shim_preempt_disable() };
        NoPreempt(())
    }
}

impl Drop for NoPreempt {
    fn drop(&mut self) {
        // SAFETY: balances the disable in `new`.
        unsafe { rsvm_shim_preempt_enable() };
    }
}

/// Local interrupts off for the guard's lifetime (restored to their prior state).
pub(crate) struct IrqSave(c_ulong);

impl IrqSave {
    pub(crate) fn new() -> Self {
        // SAFETY: balanced by the restore in `Drop`.
        IrqSave(unsafe { rsvm_shim_irq_save() })
    }
}

impl Drop for IrqSave {
    fn drop(&mut self) {
        // SAFETY: restores exactly the flags saved in `new`, on the same CPU (IRQs were off).
        unsafe { rsvm_shim_irq_restore(self.0) };
    }
}

/// Pages of guest memory pinned by rsvm right now, for leak tests.
pub(crate) fn pinned_pages() -> i64 {
    // SAFETY: reads an atomic counter.
    unsafe { rsvm_shim_pinned_pages() as i64 }
}

pub(crate) fn signal_pending() -> bool {
    // SAFETY: reads the current task's flags.
    unsafe { rsvm_shim_signal_pending() != 0 }
}

pub(crate) fn cond_resched() {
    // SAFETY: called from process context without locks that forbid sleeping.
    unsafe { rsvm_shim_cond_resched() };
}

pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no side effects.
    unsafe { rsvm_shim_rdtsc() }
}

/// The host TSC frequency in kHz.
pub(crate) fn tsc_khz() -> u32 {
    // SAFETY: reads a variable the kernel set at boot.
    unsafe { rsvm_shim_tsc_khz() }
}

/// What a halted vCPU sleeps on (an rcuwait, see shim.c); wakers set the flag first.
pub(crate) struct WaitQueue(*mut c_void);

// SAFETY: rcuwait is safe to wake from any context and has one waiter (the vCPU thread);
// the pointer is owned and freed once.
unsafe impl Send for WaitQueue {}
// SAFETY: as above.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    pub(crate) fn new() -> kernel::error::Result<Self> {
        // SAFETY: allocates and initialises an rcuwait, or returns NULL.
        let p = unsafe { rsvm_shim_waitq_new() };
        if p.is_null() {
            return Err(kernel::error::code::ENOMEM);
        }
        Ok(WaitQueue(p))
    }

    /// Sleeps until `flag` is non-zero. `Err(())`: a signal is pending.
    pub(crate) fn wait(&self, flag: &core::sync::atomic::AtomicI32) -> Result<(), ()> {
        // SAFETY: the queue is live (owned by self); `flag` is an AtomicI32, which has the
        // layout of the C atomic_t the shim reads.
        let r = unsafe { rsvm_shim_waitq_wait(self.0, flag.as_ptr()) };
        if r == 0 { Ok(()) } else { Err(()) }
    }

    pub(crate) fn wake(&self) {
        // SAFETY: the rcuwait is live; rcuwait_wake_up() is callable from any context.
        unsafe { rsvm_shim_waitq_wake(self.0) };
    }
}

impl Drop for WaitQueue {
    fn drop(&mut self) {
        // SAFETY: allocated in `new`, freed once; nobody waits any more (the owner is going).
        unsafe { rsvm_shim_waitq_free(self.0) };
    }
}

/// Makes `cpu` leave guest mode and waits until it did (an IPI whose handler runs only after
/// the CPU left guest mode; `smp_call_function_single` waits for it).
pub(crate) fn kick_cpu(cpu: u32) {
    // SAFETY: the shim checks the CPU is online and not this one.
    unsafe { rsvm_shim_kick_cpu(cpu) };
}

/// A reference to the current task's `mm_struct` (`mmgrab`, dropped with the value): the
/// VM's owner, compared with the caller's mm on every ioctl.
///
/// # Invariants
///
/// `0` is an `mm_struct` grabbed by `current`, dropped once (in `drop`).
pub(crate) struct OwnerMm(core::ptr::NonNull<c_void>);

// SAFETY: the mm is only compared by address and dropped once; mmgrab/mmdrop are callable
// from any thread.
unsafe impl Send for OwnerMm {}
// SAFETY: as above (`is_current` takes `&self` and only compares).
unsafe impl Sync for OwnerMm {}

impl OwnerMm {
    /// The calling task's mm; `EINVAL` for a task without one (a kernel thread).
    pub(crate) fn current() -> kernel::error::Result<Self> {
        // SAFETY: grabs the current task's mm, if any.
        let p = unsafe { rsvm_shim_current_mm_grab() };
        // INVARIANT: grabbed just now.
        core::ptr::NonNull::new(p).map(OwnerMm).ok_or(kernel::error::code::EINVAL)
    }

    /// Whether the calling task runs in this mm.
    pub(crate) fn is_current(&self) -> bool {
        // SAFETY: a pointer comparison with the current task's mm.
        unsafe { rsvm_shim_is_current_mm(self.0.as_ptr()) != 0 }
    }
}

impl Drop for OwnerMm {
    fn drop(&mut self) {
        // SAFETY: grabbed in `current` (type invariant), dropped once.
        unsafe { rsvm_shim_mmdrop(self.0.as_ptr()) };
    }
}

/// Makes `cpu` leave guest mode soon, without waiting (any context).
pub(crate) fn kick_cpu_async(cpu: u32) {
    // SAFETY: the shim checks the CPU is online and not this one.
    unsafe { rsvm_shim_kick_cpu_async(cpu) };
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

/// A reference to an eventfd's context (`struct eventfd_ctx`), dropped with the value.
///
/// # Invariants
///
/// `0` is a context reference from `eventfd_ctx_fdget`, put exactly once (in `drop`).
pub(crate) struct EventFd(*mut c_void);

// SAFETY: an eventfd context is refcounted and signalled under its own lock, from any
// thread; the reference is owned by this value alone.
unsafe impl Send for EventFd {}
// SAFETY: as above (`signal` takes `&self`).
unsafe impl Sync for EventFd {}

impl EventFd {
    /// The eventfd behind file descriptor `fd` of the calling process: `EBADF` if `fd` is
    /// not open or not an eventfd.
    pub(crate) fn from_fd(fd: i32) -> kernel::error::Result<Self> {
        let mut p = core::ptr::null_mut();
        // SAFETY: `p` is a valid out pointer; the shim takes a reference on success only.
        let r = unsafe { rsvm_shim_eventfd_get(fd, &mut p) };
        if r != 0 || p.is_null() {
            return Err(kernel::error::code::EBADF);
        }
        // INVARIANT: a reference was just taken.
        Ok(EventFd(p))
    }

    /// Adds 1 to the eventfd's counter and wakes its readers (process context).
    pub(crate) fn signal(&self) {
        // SAFETY: the context is live (type invariant).
        unsafe { rsvm_shim_eventfd_signal(self.0) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `from_fd`, put once (type invariant).
        unsafe { rsvm_shim_eventfd_put(self.0) };
    }
}

/// CR4 of this CPU (read only: no side effects).
pub(crate) fn read_cr4() -> u64 {
    // SAFETY: reading CR4 has no side effects.
    unsafe { rsvm_shim_read_cr4() as u64 }
}

/// `2^order` zeroed, physically contiguous pages (counted in `pages_held`): their direct-map
/// address, or `None`.
pub(crate) fn alloc_pages(order: u32) -> Option<usize> {
    // SAFETY: plain page allocation; a zero return is failure.
    let va = unsafe { rsvm_shim_alloc_pages(order) } as usize;
    (va != 0).then_some(va)
}

/// Frees what `alloc_pages(order)` returned.
///
/// # Safety
///
/// `va` came from `alloc_pages(order)` with this `order` and is freed once, unused after.
pub(crate) unsafe fn free_pages(va: usize, order: u32) {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_free_pages(va as c_ulong, order) };
}

/// The physical address of a direct-map address (`__pa`).
///
/// # Safety
///
/// `va` is a direct-map address (of pages rsvm allocated or holds).
pub(crate) unsafe fn virt_to_phys(va: usize) -> u64 {
    // SAFETY: the caller's guarantee; __pa is arithmetic on the direct map.
    unsafe { rsvm_shim_virt_to_phys(va as c_ulong) }
}

/// The direct-map address of RAM at `pa` (`__va`).
///
/// # Safety
///
/// `pa` is RAM rsvm allocated or holds (pinned).
pub(crate) unsafe fn phys_to_virt(pa: u64) -> usize {
    // SAFETY: the caller's guarantee; __va is arithmetic on the direct map.
    unsafe { rsvm_shim_phys_to_virt(pa) as usize }
}

/// The physical address of a `struct page`.
///
/// # Safety
///
/// `page` is a page the caller holds (pinned).
pub(crate) unsafe fn page_to_phys(page: *mut c_void) -> u64 {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_page_to_phys(page) }
}

/// The direct-map address of a `struct page`.
///
/// # Safety
///
/// `page` is a page the caller holds (pinned).
pub(crate) unsafe fn page_address(page: *mut c_void) -> usize {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_page_address(page) as usize }
}

/// Whether `[addr, addr + size)` is a user address range (`access_ok`: only the numbers).
pub(crate) fn access_ok(addr: u64, size: u64) -> bool {
    // SAFETY: access_ok() only inspects the numbers.
    unsafe { rsvm_shim_access_ok(addr as c_ulong, size as c_ulong) != 0 }
}

/// `pin_user_pages_fast(FOLL_LONGTERM [| FOLL_WRITE])` of `nr` pages of the current task from
/// `start` into `pages` (counted in `pinned_pages`): how many were pinned, or an errno.
///
/// # Safety
///
/// `pages` has room for `nr` pointers; every page pinned is unpinned once with
/// `unpin_user_pages`.
pub(crate) unsafe fn pin_user_pages(start: usize, nr: usize, write: bool, pages: *mut *mut c_void) -> isize {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_pin_user_pages(start as c_ulong, nr as c_ulong, write as c_int, pages) as isize }
}

/// Unpins `n` pages (marked dirty if `dirty`), a folio's pages together.
///
/// # Safety
///
/// `pages` holds `n` pages pinned by `pin_user_pages`, none unpinned before.
pub(crate) unsafe fn unpin_user_pages(pages: *mut *mut c_void, n: usize, dirty: bool) {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_unpin_user_pages(pages, n as core::ffi::c_ulong, dirty as c_int) };
}

/// `kernel_fpu_begin()`: the task's FPU state saved, the FPU rsvm's until `fpu_end`.
///
/// # Safety
///
/// Process context, not nested; paired with `fpu_end` on this CPU.
pub(crate) unsafe fn fpu_begin() {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_fpu_begin() };
}

/// `kernel_fpu_end()`.
///
/// # Safety
///
/// Pairs with a `fpu_begin` on this CPU.
pub(crate) unsafe fn fpu_end() {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_fpu_end() };
}

/// Registers `/dev/rsvm` (shim.c's static miscdevice, with `.owner`): 0 or an errno.
pub(crate) fn misc_register() -> c_int {
    // SAFETY: registers a static miscdevice; the caller deregisters it once.
    unsafe { rsvm_shim_misc_register() }
}

/// # Safety
///
/// `misc_register` succeeded and this is its one deregistration.
pub(crate) unsafe fn misc_deregister() {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_misc_deregister() };
}

/// `cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, ...)`: the state, or an errno (negative).
///
/// # Safety
///
/// Both callbacks are valid until `cpuhp_remove`, which the caller calls once on success.
pub(crate) unsafe fn cpuhp_setup(
    online: unsafe extern "C" fn(c_uint) -> c_int,
    offline: unsafe extern "C" fn(c_uint) -> c_int,
) -> c_int {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_cpuhp_setup(online, offline) }
}

/// # Safety
///
/// `state` came from a successful `cpuhp_setup` and is removed once.
pub(crate) unsafe fn cpuhp_remove(state: c_int) {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_cpuhp_remove(state) };
}

/// A new anon-inode fd (`rsvm-vcpu` or `rsvm-vm` fops) with `private` as its private data;
/// the fd or an errno (negative).
///
/// # Safety
///
/// `private` is what the fops kind's ioctl/mmap/release handlers expect.
pub(crate) unsafe fn anon_fd(vcpu: bool, private: *mut c_void) -> c_int {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_anon_fd(vcpu as c_int, private) }
}

/// A file's private data.
///
/// # Safety
///
/// `file` is a live file (in one of its fops calls).
pub(crate) unsafe fn file_private(file: *mut c_void) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_file_private(file) }
}
