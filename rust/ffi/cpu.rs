// SPDX-License-Identifier: GPL-2.0

//! The CPU: CPUID, MSRs, CR4 and the TSC; preemption and local interrupts off (guards); the
//! current CPU and the CPU ids; IPIs that make a CPU leave guest mode; the kernel FPU
//! section; CPU hotplug states; the host state switch.c keeps around VMRUN (TSC_AUX, #MC).

use super::{rsvm_shim_cpuid, rsvm_shim_fpu_begin, rsvm_shim_host_dr7, rsvm_shim_irq_restore, rsvm_shim_irq_save, rsvm_shim_kick_cpu_async, rsvm_shim_preempt_disable, rsvm_shim_preempt_enable, rsvm_shim_rdmsr, rsvm_shim_read_cr4, rsvm_shim_wrmsr, rsvm_shim_tsc_aux_load, rsvm_shim_after_vmexit, rsvm_shim_tsc_aux_drop};
use kernel::{bindings, ffi::{c_int, c_uint, c_ulong, c_void}};

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

/// Online CPUs right now (C's `num_online_cpus()`, an inline reading this counter).
pub(crate) fn num_online_cpus() -> u32 {
    // SAFETY: `__num_online_cpus` is an exported `atomic_t` the CPU hotplug code updates
    // atomically; a volatile read of its counter is `raw_atomic_read`.
    let n = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::__num_online_cpus.counter)) };
    n.max(1) as u32
}

/// Number of possible CPU ids.
pub(crate) fn nr_cpu_ids() -> usize {
    kernel::cpu::nr_cpu_ids() as usize
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

/// Makes `cpu` leave guest mode soon, without waiting (any context).
pub(crate) fn kick_cpu_async(cpu: u32) {
    // SAFETY: the shim checks the CPU is online and not this one.
    unsafe { rsvm_shim_kick_cpu_async(cpu) };
}

/// CR4 of this CPU (read only: no side effects).
pub(crate) fn read_cr4() -> u64 {
    // SAFETY: reading CR4 has no side effects.
    unsafe { rsvm_shim_read_cr4() as u64 }
}

/// The DR7 the host kernel keeps on this CPU (`cpu_dr7`: its perf and ptrace hardware
/// breakpoints). Call with preemption off.
pub(crate) fn host_dr7() -> u64 {
    // SAFETY: reads this CPU's copy of a per-CPU variable; no side effects.
    unsafe { rsvm_shim_host_dr7() as u64 }
}

/// Loads the guest's TSC_AUX (switch.c); the host's comes back before user space runs on
/// this CPU again.
///
/// # Safety
///
/// Preemption off, on the CPU that is about to VMRUN.
pub(crate) unsafe fn tsc_aux_load(guest: u64) {
    // SAFETY: the caller's guarantee (this CPU's per-CPU state stays this CPU's).
    unsafe { rsvm_shim_tsc_aux_load(guest) };
}

/// Right after #VMEXIT: the host's #MC handler if `exit_code` is a #MC, the VMSCAPE request.
///
/// # Safety
///
/// GIF=0 or interrupts off, preemption off, on the CPU that ran the guest.
pub(crate) unsafe fn after_vmexit(exit_code: u64) {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_after_vmexit(exit_code) };
}

/// The host's TSC_AUX back and rsvm's user-return notifier gone, on this CPU.
///
/// # Safety
///
/// Interrupts off, on the CPU whose SVM is going away (no guest runs here any more).
pub(crate) unsafe fn tsc_aux_drop() {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_tsc_aux_drop() };
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
