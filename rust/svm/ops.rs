// SPDX-License-Identifier: GPL-2.0

//! Single-instruction SVM wrappers (as arch/x86/kvm/svm/svm_ops.h).

use core::arch::asm;

/// CLGI: clear the global interrupt flag. Interrupts, NMIs and SMIs are held until STGI or
/// VMRUN. Requires EFER.SVME on this CPU.
pub(crate) fn clgi() {
    // SAFETY: callers run with SVM enabled on this CPU (checked under preemption off); CLGI
    // only holds interrupts, and every caller pairs it with `stgi`.
    unsafe { asm!("clgi", options(nomem, nostack)) };
}

/// STGI: set the global interrupt flag.
pub(crate) fn stgi() {
    // SAFETY: as for `clgi`; STGI releases held interrupts, which the kernel is ready for.
    unsafe { asm!("stgi", options(nomem, nostack)) };
}
