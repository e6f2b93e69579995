// SPDX-License-Identifier: GPL-2.0

//! Every call from Rust into C goes through this file and `ffi/`: the C shim (`shim.c`,
//! `pcidrv.c`; each C function says why it is C), the VMRUN trampoline (`svm/vmenter.S`),
//! and the exported kernel functions the `kernel` crate has no abstraction for, called
//! through `kernel::bindings` (GUP, cross-CPU calls, cpuhp states, rcuwait, eventfd).

use core::sync::atomic::{AtomicI64, Ordering};
use kernel::{
    alloc::KBox,
    bindings,
    ffi::{c_int, c_uint, c_ulong, c_void},
    mm::Mm,
    sync::aref::ARef,
};

pub(crate) mod irq;
pub(crate) mod pci;

extern "C" {
    // Private: Rust outside this file and `ffi/` calls the safe wrappers below.
    fn rsvm_shim_misc_register() -> c_int;
    fn rsvm_shim_misc_deregister();
    fn rsvm_shim_preempt_disable();
    fn rsvm_shim_preempt_enable();
    fn rsvm_shim_irq_save() -> c_ulong;
    fn rsvm_shim_irq_restore(flags: c_ulong);
    fn rsvm_shim_rdmsr(msr: u32, val: *mut u64) -> c_int;
    fn rsvm_shim_wrmsr(msr: u32, val: u64) -> c_int;
    fn rsvm_shim_cpuid(leaf: u32, subleaf: u32, out: *mut u32);
    fn rsvm_shim_read_cr4() -> c_ulong;
    fn rsvm_shim_alloc_pages(order: c_uint) -> c_ulong;
    fn rsvm_shim_virt_to_phys(va: c_ulong) -> u64;
    fn rsvm_shim_phys_to_virt(pa: u64) -> c_ulong;

    fn rsvm_shim_anon_fd(vcpu: c_int, private: *mut c_void) -> c_int;
    fn rsvm_shim_mmap_pages(vma: *mut c_void, vas: *const c_ulong, n: c_uint) -> c_int;
    fn rsvm_shim_page_to_phys(page: *mut c_void) -> u64;
    fn rsvm_shim_page_address(page: *mut c_void) -> c_ulong;
    fn rsvm_shim_access_ok(addr: c_ulong, size: c_ulong) -> c_int;
    fn rsvm_shim_cond_resched();
    fn rsvm_shim_sigset_activate(mask: *const u64);
    fn rsvm_shim_sigset_deactivate();
    fn rsvm_shim_fpu_begin();
    // The rcuwait as `void *`: `struct task_struct` behind it is opaque to `improper_ctypes`.
    fn rsvm_shim_waitq_wait(w: *mut c_void, flag: *mut i32) -> c_int;
    fn rsvm_shim_kick_cpu_async(cpu: c_uint);
    fn rsvm_shim_evt_poll_start();
    fn rsvm_shim_evt_poll_stop();
    fn rsvm_shim_evt_ratelimit() -> c_int;

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

/// The current CPU (`raw_smp_processor_id`). Only meaningful while preemption is off (or in
/// a CPU-bound context).
pub(crate) fn this_cpu() -> usize {
    kernel::cpu::CpuId::current().as_u32() as usize
}

/// Number of possible CPU ids.
pub(crate) fn nr_cpu_ids() -> usize {
    kernel::cpu::nr_cpu_ids() as usize
}

/// Pages rsvm holds for hardware structures (`alloc_pages`, less `free_pages`).
static PAGES_HELD: AtomicI64 = AtomicI64::new(0);
/// Guest pages rsvm holds pinned (`pin_user_pages`, less `unpin_user_pages`).
static PINNED_PAGES: AtomicI64 = AtomicI64::new(0);

/// Pages currently held by rsvm (all hardware structures), for leak tests.
pub(crate) fn pages_held() -> i64 {
    PAGES_HELD.load(Ordering::Relaxed)
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
    PINNED_PAGES.load(Ordering::Relaxed)
}

/// Whether the current task has a signal pending.
pub(crate) fn signal_pending() -> bool {
    kernel::current!().signal_pending()
}

pub(crate) fn cond_resched() {
    // SAFETY: called from process context without locks that forbid sleeping.
    unsafe { rsvm_shim_cond_resched() };
}

/// The time-stamp counter (`rdtsc()`: the bare RDTSC instruction, unordered, as the C one).
pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the counter (CR4.TSD does not fault at CPL 0).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The host TSC frequency in kHz.
pub(crate) fn tsc_khz() -> u32 {
    // SAFETY: `tsc_khz` is set during boot (and recalibrated at most once, by the kernel,
    // with a plain store): a racy u32 read, as C's readers do.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::tsc_khz)) }
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

/// The IPI handler of `kick_cpu`: the work is done by the interrupt itself (the guest's
/// slice ends through the INTR intercept before the handler runs).
unsafe extern "C" fn kick_fn(_info: *mut c_void) {}

/// Makes `cpu` leave guest mode and waits until it did (an IPI whose handler runs only after
/// the CPU left guest mode; `smp_call_function_single` with `wait = 1` waits for it).
pub(crate) fn kick_cpu(cpu: u32) {
    // SAFETY: `kick_fn` is a valid handler that ignores its argument; an offline or
    // out-of-range `cpu` makes smp_call_function_single return -ENXIO (ignored: a CPU that
    // is not online runs no guest), and on this CPU it just calls `kick_fn` with IRQs off.
    unsafe { bindings::smp_call_function_single(cpu as c_int, Some(kick_fn), core::ptr::null_mut(), 1) };
}

/// A reference to the current task's `mm_struct` (`mmgrab`, `mmdrop` when dropped): the
/// VM's owner, compared with the caller's mm on every ioctl.
pub(crate) struct OwnerMm(ARef<Mm>);

impl OwnerMm {
    /// The calling task's mm; `EINVAL` for a task without one (a kernel thread).
    pub(crate) fn current() -> kernel::error::Result<Self> {
        let task = kernel::current!();
        let mm: &Mm = task.mm().ok_or(kernel::error::code::EINVAL)?;
        Ok(OwnerMm(mm.into()))
    }

    /// Whether the calling task runs in this mm (an address comparison, as `current->mm ==`).
    pub(crate) fn is_current(&self) -> bool {
        kernel::current!().mm().is_some_and(|m| core::ptr::eq(m.as_raw(), self.0.as_raw()))
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
pub(crate) struct EventFd(core::ptr::NonNull<bindings::eventfd_ctx>);

// SAFETY: an eventfd context is refcounted and signalled under its own lock, from any
// thread; the reference is owned by this value alone.
unsafe impl Send for EventFd {}
// SAFETY: as above (`signal` takes `&self`).
unsafe impl Sync for EventFd {}

impl EventFd {
    /// The eventfd behind file descriptor `fd` of the calling process: `EBADF` if `fd` is
    /// not open or not an eventfd.
    pub(crate) fn from_fd(fd: i32) -> kernel::error::Result<Self> {
        // SAFETY: eventfd_ctx_fdget takes any fd number; it returns a referenced context or
        // an ERR_PTR (-EBADF no such file, -EINVAL not an eventfd), never NULL.
        let p = kernel::error::from_err_ptr(unsafe { bindings::eventfd_ctx_fdget(fd) })
            .map_err(|_| kernel::error::code::EBADF)?;
        let p = core::ptr::NonNull::new(p).ok_or(kernel::error::code::EBADF)?;
        // INVARIANT: a reference was just taken.
        Ok(EventFd(p))
    }

    /// Adds 1 to the eventfd's counter and wakes its readers (process context).
    pub(crate) fn signal(&self) {
        // SAFETY: the context is live (type invariant). `eventfd_signal(ctx)` is the static
        // inline `eventfd_signal_mask(ctx, 0)`.
        unsafe { bindings::eventfd_signal_mask(self.0.as_ptr(), 0) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `from_fd`, put once (type invariant).
        unsafe { bindings::eventfd_ctx_put(self.0.as_ptr()) };
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
    if va != 0 {
        PAGES_HELD.fetch_add(1 << order, Ordering::Relaxed);
    }
    (va != 0).then_some(va)
}

/// Frees what `alloc_pages(order)` returned.
///
/// # Safety
///
/// `va` came from `alloc_pages(order)` with this `order` and is freed once, unused after.
pub(crate) unsafe fn free_pages(va: usize, order: u32) {
    // SAFETY: the caller's guarantee: `va` is the address `__get_free_pages(.., order)`
    // returned, which free_pages() takes back.
    unsafe { bindings::free_pages(va as c_ulong, order) };
    PAGES_HELD.fetch_sub(1 << order, Ordering::Relaxed);
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
    // pin_user_pages_fast takes an int count (rsvm pins at most a 2 MiB block at a time).
    let Ok(nr) = c_int::try_from(nr) else {
        return -(bindings::EINVAL as isize);
    };
    let flags = bindings::FOLL_LONGTERM | if write { bindings::FOLL_WRITE } else { 0 };
    // SAFETY: the caller's guarantee: `pages` has room for `nr` page pointers; the pins are
    // the current task's user pages, released by `unpin_user_pages`.
    let r = unsafe { bindings::pin_user_pages_fast(start as c_ulong, nr, flags as c_uint, pages.cast()) };
    if r > 0 {
        PINNED_PAGES.fetch_add(i64::from(r), Ordering::Relaxed);
    }
    r as isize
}

/// Unpins `n` pages (marked dirty if `dirty`), a folio's pages together.
///
/// # Safety
///
/// `pages` holds `n` pages pinned by `pin_user_pages`, none unpinned before.
pub(crate) unsafe fn unpin_user_pages(pages: *mut *mut c_void, n: usize, dirty: bool) {
    // SAFETY: the caller's guarantee: `n` pages pinned here, each unpinned once.
    // unpin_user_pages_dirty_lock() drops the pins of one folio's pages together (a THP's
    // 512 in one atomic operation, where page by page costs 512).
    unsafe { bindings::unpin_user_pages_dirty_lock(pages.cast(), n as c_ulong, dirty) };
    PINNED_PAGES.fetch_sub(n as i64, Ordering::Relaxed);
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
    unsafe { bindings::kernel_fpu_end() };
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
    // SAFETY: the caller's guarantee; the name is static. This is the static inline
    // `cpuhp_setup_state()`: invoke the startup callback on every online CPU, cpus_read_lock
    // not held by the caller.
    unsafe {
        bindings::__cpuhp_setup_state(
            bindings::cpuhp_state_CPUHP_AP_ONLINE_DYN,
            kernel::str::CStrExt::as_char_ptr(c"x86/rsvm:online"),
            true,
            Some(online),
            Some(offline),
            false,
        )
    }
}

/// # Safety
///
/// `state` came from a successful `cpuhp_setup` and is removed once.
pub(crate) unsafe fn cpuhp_remove(state: c_int) {
    // SAFETY: the caller's guarantee. `cpuhp_remove_state()` (static inline) invokes the
    // teardown callback on every online CPU.
    unsafe { bindings::__cpuhp_remove_state(state as bindings::cpuhp_state, true) };
}

/// The anon-inode fd kinds of shim.c, one fops table each (`anonfd::AnonFd::KIND`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// `rsvm-vm`: `rsvm_vm_ioctl`, `rsvm_vm_release`.
    Vm,
    /// `rsvm-vcpu`: `rsvm_vcpu_ioctl`, `rsvm_vcpu_mmap`, `rsvm_vcpu_release`.
    Vcpu,
}

/// A new anon-inode fd (`rsvm-vcpu` or `rsvm-vm` fops) with `private` as its private data;
/// the fd or an errno (negative).
///
/// # Safety
///
/// `private` is what the fops kind's ioctl/mmap/release handlers expect.
pub(crate) unsafe fn anon_fd(kind: FdKind, private: *mut c_void) -> c_int {
    let vcpu = kind == FdKind::Vcpu;
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_anon_fd(vcpu as c_int, private) }
}

/// A file's private data.
///
/// # Safety
///
/// `file` is a live file (in one of its fops calls).
pub(crate) unsafe fn file_private(file: *mut bindings::file) -> *mut c_void {
    // SAFETY: the caller's guarantee; `private_data` is set once, before the fd is installed.
    unsafe { (*file).private_data }
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

/// The vCPU mmap: maps `pages[vma->vm_pgoff..]` (direct-map addresses of order-0 pages)
/// over the whole of `vma`, `VM_DONTEXPAND | VM_DONTDUMP`; `EINVAL` if the range does not
/// fit. 0 or an errno (negative).
///
/// # Safety
///
/// `vma` is a mapping being set up in this file's `mmap` handler; every address in `pages`
/// is an order-0 page rsvm holds (`vm_insert_page` takes its own references on them).
pub(crate) unsafe fn mmap_pages(vma: *mut bindings::vm_area_struct, pages: &[c_ulong]) -> c_int {
    let Ok(n) = c_uint::try_from(pages.len()) else {
        return -(bindings::EINVAL as c_int);
    };
    // SAFETY: the caller's guarantee; `pages` holds `n` addresses.
    unsafe { rsvm_shim_mmap_pages(vma.cast(), pages.as_ptr(), n) }
}
