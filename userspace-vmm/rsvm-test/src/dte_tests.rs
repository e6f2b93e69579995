//! Host-side tests of how a DTE is written while the IOMMU may read it
//! (rust/iommu/amdvi/dtewrite.rs, compiled here as is): another thread plays the IOMMU and
//! reads the entry as the unit does (128 bits at a time) while entries are replaced.

#[path = "../../../rust/iommu/amdvi/dtewrite.rs"]
mod dtewrite;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The 128 bits at `p`, read in one atomic operation as the unit reads them (a compare with
/// 0 that stores 0 only where 0 already is).
unsafe fn read128(p: *mut u64) -> [u64; 2] {
    // SAFETY: the caller's: `p` valid and aligned; storing 0 over 0 changes nothing.
    unsafe { dtewrite::cmpxchg128(p, [0, 0], [0, 0]) }
}

#[repr(C, align(32))]
struct Entry([u64; 4]);

/// A valid translated DTE of domain `dom` with page-table root `root` and interrupt table
/// `irt` (the fields that must never mix between two entries).
fn dte(dom: u64, root: u64, irt: u64) -> [u64; 4] {
    [1 | 2 | (4 << 9) | root | (3 << 61), dom, 1 | irt, 2 << 60]
}

#[test]
fn valid_to_valid_never_shows_v0_nor_a_mixed_translation() {
    let e = Arc::new(std::sync::Mutex::new(())); // keeps the entry alive across threads
    let mut entry = Box::new(Entry(dte(1, 0x1000_0000, 0x2000_0000)));
    let p = entry.0.as_mut_ptr() as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let reader = std::thread::spawn(move || {
        let _keep = e;
        let (mut seen, mut bad) = (0u64, Vec::new());
        while !s.load(Ordering::Relaxed) {
            // SAFETY: the entry outlives the thread (joined before it is dropped), aligned.
            let lo = unsafe { read128(p as *mut u64) };
            seen += 1;
            let (v, dom, root) = (lo[0] & 1, lo[1] & 0xffff, lo[0] & 0x000f_ffff_ffff_f000);
            // Domain 1 goes with root 0x10000000, domain 2 with 0x30000000.
            let consistent = (dom == 1 && root == 0x1000_0000) || (dom == 2 && root == 0x3000_0000);
            if v == 0 || !consistent {
                bad.push(lo);
            }
        }
        (seen, bad)
    });
    for i in 0..200_000 {
        let new = if i % 2 == 0 { dte(2, 0x3000_0000, 0x4000_0000) } else { dte(1, 0x1000_0000, 0x2000_0000) };
        // SAFETY: `entry` is ours, 32-byte aligned; this thread is the only writer.
        unsafe { dtewrite::write_dte(entry.0.as_mut_ptr(), new) };
    }
    stop.store(true, Ordering::Relaxed);
    let (seen, bad) = reader.join().unwrap();
    assert!(seen > 0);
    assert!(bad.is_empty(), "the reader saw {} invalid or mixed lower halves, first {:x?}", bad.len(), bad.first());
    assert_eq!(entry.0, dte(1, 0x1000_0000, 0x2000_0000));
}

#[test]
fn order_of_halves() {
    // Valid -> invalid: the lower half (V) goes first; the result is the new entry either way.
    let mut e = Entry(dte(1, 0x1000_0000, 0x2000_0000));
    // SAFETY: our aligned entry.
    unsafe { dtewrite::write_dte(e.0.as_mut_ptr(), [0, 5, 0, 0]) };
    assert_eq!(e.0, [0, 5, 0, 0]);
    // SAFETY: as above.
    unsafe { dtewrite::write_dte(e.0.as_mut_ptr(), dte(2, 0x3000_0000, 0x4000_0000)) };
    assert_eq!(e.0, dte(2, 0x3000_0000, 0x4000_0000));
    // SAFETY: as above.
    assert_eq!(unsafe { read128(e.0.as_mut_ptr().add(2)) }, [1 | 0x4000_0000, 2 << 60]);
}
