// SPDX-License-Identifier: GPL-2.0

//! Every call from Rust into C goes through this file and `ffi/`: the C shim (`shim.c`,
//! `pcidrv.c`; each C function says why it is C), the VMRUN trampoline (`svm/vmenter.S`),
//! and the exported kernel functions the `kernel` crate has no abstraction for, called
//! through `kernel::bindings` (GUP, cross-CPU calls, cpuhp states, rcuwait, eventfd).

//!
//! By concern: [`cpu`] (CPUID, MSRs, preemption and interrupts, IPIs, FPU, hotplug),
//! [`mem`] (pages, addresses, pinned guest memory), [`sched`] (signals, sleeping, the signal
//! mask, deferred work), [`file`] (the miscdevice, anon-inode fds, mmap, eventfds), [`pci`]
//! and [`irq`] (device assignment). The wrappers of the first four are re-exported here
//! (`crate::ffi::cpuid`, ...). The shim's declarations below are private to this file and
//! `ffi/`.

use kernel::ffi::{c_int, c_uint, c_ulong, c_void};

pub(crate) mod cpu;
pub(crate) mod file;
pub(crate) mod irq;
pub(crate) mod mem;
pub(crate) mod pci;
pub(crate) mod sched;

pub(crate) use cpu::{
    cpuhp_remove, cpuhp_setup, cpuid, fpu_begin, fpu_end, host_dr7, kick_cpu, kick_cpu_async, nr_cpu_ids, num_online_cpus, rdmsr, rdtsc,
    read_cr4,
    this_cpu, tsc_khz, wrmsr, IrqSave, NoPreempt, tsc_aux_load, after_vmexit, tsc_aux_drop,
};
pub(crate) use file::{anon_fd, file_private, misc_deregister, misc_register, mmap_pages, EventFd, FdKind};
pub(crate) use mem::{
    access_ok, alloc_pages, free_pages, page_address, page_to_phys, pages_held, phys_to_virt, pin_user_pages,
    pinned_pages, unpin_user_pages, virt_to_phys, OwnerMm,
};
pub(crate) use sched::{resched_before_entry, evt_poll_start, evt_poll_stop, evt_ratelimit, signal_pending, SigmaskGuard, WaitQueue};

extern "C" {
    // Private: Rust outside this file and `ffi/` calls the safe wrappers of `ffi/`.
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
    fn rsvm_shim_host_dr7() -> c_ulong;
    fn rsvm_shim_alloc_pages(order: c_uint) -> c_ulong;
    fn rsvm_shim_virt_to_phys(va: c_ulong) -> u64;
    fn rsvm_shim_phys_to_virt(pa: u64) -> c_ulong;

    fn rsvm_shim_anon_fd(vcpu: c_int, private: *mut c_void) -> c_int;
    fn rsvm_shim_mmap_pages(vma: *mut c_void, vas: *const c_ulong, n: c_uint) -> c_int;
    fn rsvm_shim_page_to_phys(page: *mut c_void) -> u64;
    fn rsvm_shim_page_address(page: *mut c_void) -> c_ulong;
    fn rsvm_shim_access_ok(addr: c_ulong, size: c_ulong) -> c_int;
    fn rsvm_shim_resched_before_entry();
    fn rsvm_shim_sigset_activate(mask: *const u64);
    fn rsvm_shim_sigset_deactivate();
    fn rsvm_shim_fpu_begin();
    // The rcuwait as `void *`: `struct task_struct` behind it is opaque to `improper_ctypes`.
    fn rsvm_shim_waitq_wait(w: *mut c_void, flag: *mut i32) -> c_int;
    fn rsvm_shim_kick_cpu_async(cpu: c_uint);
    fn rsvm_shim_evt_poll_start();
    fn rsvm_shim_evt_poll_stop();
    fn rsvm_shim_evt_ratelimit() -> c_int;
    // The mm as `void *`: `struct mm_struct` has members opaque to `improper_ctypes`.
    fn rsvm_shim_pinned_vm_charge(mm: *mut c_void, npages: c_ulong) -> c_int;
    fn rsvm_shim_pinned_vm_uncharge(mm: *mut c_void, npages: c_ulong);
    // switch.c: host state around VMRUN (TSC_AUX, #MC, VMSCAPE).
    fn rsvm_shim_tsc_aux_load(guest: u64);
    fn rsvm_shim_after_vmexit(exit_code: u64);
    fn rsvm_shim_tsc_aux_drop();

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
