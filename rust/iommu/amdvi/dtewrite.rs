// SPDX-License-Identifier: GPL-2.0

//! How a DTE is written while the IOMMU may read it (Linux's `update_dte256()` in
//! drivers/iommu/amd/iommu.c): in two 128-bit halves, each one atomic (`cmpxchg16b`), in an
//! order that never shows the unit an invalid entry between two valid ones, nor a mix of two
//! entries' translation fields. A DTE with V=0 means "no translation" (DMA passes
//! untranslated), so the earlier scheme of clearing quadword 0 first opened exactly the
//! window the entry is there to close.
//!
//! No kernel imports: the host unit tests compile this file as is (rsvm-test, dte_tests.rs).

use core::arch::asm;

/// One `lock cmpxchg16b` at `p`: stores `new` if the 128 bits there equal `old`; returns
/// what was there (equal to `old` exactly when it stored).
///
/// # Safety
///
/// `p` is valid for reads and writes of 16 bytes, 16-byte aligned; concurrent accesses are
/// reads (the IOMMU) or atomic.
pub(crate) unsafe fn cmpxchg128(p: *mut u64, old: [u64; 2], new: [u64; 2]) -> [u64; 2] {
    let (mut lo, mut hi) = (old[0], old[1]);
    // CMPXCHG16B compares RDX:RAX with the 128 bits at `p` and, if equal, stores RCX:RBX,
    // else loads them into RDX:RAX. RBX may be LLVM's: the new low half comes in R10 and RBX
    // is restored; every operand has a fixed register, so none of them is RBX.
    // SAFETY: `p` is valid for 16 bytes and 16-byte aligned (the caller), as the above needs.
    unsafe {
        asm!(
            "xchg r10, rbx",
            "lock cmpxchg16b xmmword ptr [rdi]",
            "mov rbx, r10",
            in("rdi") p,
            inout("r10") new[0] => _,
            inout("rax") lo,
            inout("rdx") hi,
            in("rcx") new[1],
            options(nostack),
        )
    };
    [lo, hi]
}

/// Writes `v` to the 16-byte-aligned 128 bits at `p` in one atomic operation (Linux's
/// `write_dte_lower128/upper128`, `try_cmpxchg128`).
///
/// # Safety
///
/// As `cmpxchg128`.
pub(crate) unsafe fn write128(p: *mut u64, v: [u64; 2]) {
    // SAFETY: the caller's guarantee; a first guess of the old value (the loop corrects it).
    let mut old = unsafe { [p.read_volatile(), p.add(1).read_volatile()] };
    loop {
        // SAFETY: the caller's guarantee.
        let seen = unsafe { cmpxchg128(p, old, v) };
        if seen == old {
            return;
        }
        old = seen;
    }
}

/// Replaces the 256-bit DTE at `p` with `new` as `update_dte256()` does for DTEs without a
/// guest page table (rsvm never sets GV): to an invalid entry, the lower half (V, TV, the
/// translation fields, the domain id) first; otherwise the upper half (interrupt remapping)
/// first and the lower half last, so the unit sees the old entry, or the old translation with
/// the new interrupt fields, or the new entry, and never V=0 in between.
///
/// # Safety
///
/// `p` is valid for 32 bytes, 32-byte aligned (a DTE in the device table), and the caller
/// serialises writers of this entry.
pub(crate) unsafe fn write_dte(p: *mut u64, new: [u64; 4]) {
    let (lower, upper) = ([new[0], new[1]], [new[2], new[3]]);
    // SAFETY: the caller's guarantee: both halves are 16-byte aligned inside the entry.
    unsafe {
        if new[0] & 1 == 0 {
            write128(p, lower);
            write128(p.add(2), upper);
        } else {
            write128(p.add(2), upper);
            write128(p, lower);
        }
    }
}
