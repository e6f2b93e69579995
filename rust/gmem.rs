// SPDX-License-Identifier: GPL-2.0

//! Guest memory as the module sees it: guest-physical reads and writes through the
//! memslots, and the guest's own page-table walk (for instruction fetch and string I/O).

use crate::{ffi, memslot::PAGE_SIZE, vmmem::VmMem, x86::*};
use kernel::prelude::*;

/// Calls `f(direct-map address, range of buf)` for each page-bounded piece of guest-physical
/// `[gpa, gpa + len)`, pinning pages as needed. `EFAULT` outside slot memory, or (for a
/// write) in a read-only slot.
fn for_each_phys_page(mem: &mut VmMem, gpa: u64, len: usize, write: bool, mut f: impl FnMut(*mut u8, core::ops::Range<usize>)) -> Result {
    let mut done = 0;
    while done < len {
        let a = gpa.checked_add(done as u64).ok_or(EFAULT)?;
        let off = (a % PAGE_SIZE) as usize;
        let n = (PAGE_SIZE as usize - off).min(len - done);
        let slot = mem.slots.find_mut(a).ok_or(EFAULT)?;
        if write && slot.readonly {
            return Err(EFAULT);
        }
        let page = slot.page((a - slot.gpa) / PAGE_SIZE)?;
        // SAFETY: `page` is pinned by the slot, so its direct-map address stays valid while
        // the caller holds the memory lock (`mem`); `off < PAGE_SIZE`.
        let va = unsafe { (ffi::page_address(page) as *mut u8).add(off) };
        f(va, done..done + n);
        done += n;
    }
    Ok(())
}

/// Copies guest-physical memory into `buf`. `EFAULT` outside slot memory.
pub(crate) fn read_phys(mem: &mut VmMem, gpa: u64, buf: &mut [u8]) -> Result {
    for_each_phys_page(mem, gpa, buf.len(), false, |va, r| {
        if let Some(dst) = buf.get_mut(r) {
            // SAFETY: `va` points at `dst.len()` bytes inside a pinned page; no overlap.
            unsafe { core::ptr::copy_nonoverlapping(va, dst.as_mut_ptr(), dst.len()) };
        }
    })
}

/// Copies `buf` into guest-physical memory. `EFAULT` outside slot memory or for a
/// read-only slot.
pub(crate) fn write_phys(mem: &mut VmMem, gpa: u64, buf: &[u8]) -> Result {
    for_each_phys_page(mem, gpa, buf.len(), true, |va, r| {
        if let Some(src) = buf.get(r) {
            // SAFETY: as in `read_phys`, in the other direction.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), va, src.len()) };
        }
    })
}

fn read_u64(mem: &mut VmMem, gpa: u64) -> Result<u64> {
    let mut b = [0u8; 8];
    read_phys(mem, gpa, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_u32(mem: &mut VmMem, gpa: u64) -> Result<u64> {
    let mut b = [0u8; 4];
    read_phys(mem, gpa, &mut b)?;
    Ok(u32::from_le_bytes(b) as u64)
}

/// The guest's paging state.
#[derive(Clone, Copy)]
pub(crate) struct Paging {
    pub(crate) cr0: u64,
    pub(crate) cr3: u64,
    pub(crate) cr4: u64,
    pub(crate) efer: u64,
}

/// What kind of access a walk checks for.
#[derive(Clone, Copy)]
pub(crate) struct AccessKind {
    pub(crate) write: bool,
    pub(crate) user: bool,
    pub(crate) fetch: bool,
}

/// Why a guest-virtual access failed.
pub(crate) enum WalkError {
    /// The guest takes #PF with this error code (APM vol. 2, 8.4.2).
    PageFault(u32),
    /// A page table is not in guest RAM (e.g. in MMIO): rsvm cannot follow it.
    NotRam,
}

const PTE_P: u64 = 1;
const PTE_W: u64 = 1 << 1;
const PTE_U: u64 = 1 << 2;
const PTE_PS: u64 = 1 << 7;
const PTE_NX: u64 = 1 << 63;
const ADDR: u64 = 0x000f_ffff_ffff_f000;

/// Translates a guest-virtual (linear) address to guest-physical, checking permissions as
/// the CPU would. Accessed/dirty bits are not updated.
pub(crate) fn translate(mem: &mut VmMem, pg: Paging, la: u64, acc: AccessKind) -> Result<u64, WalkError> {
    if pg.cr0 & CR0_PG == 0 {
        return Ok(if pg.efer & EFER_LMA != 0 { la } else { la & 0xffff_ffff });
    }
    let rd = |mem: &mut VmMem, a: u64, wide: bool| {
        if wide { read_u64(mem, a) } else { read_u32(mem, a) }.map_err(|_| WalkError::NotRam)
    };
    // (table base, levels, entry size 8?, index bits per level)
    let (mut table, levels, wide) = if pg.efer & EFER_LMA != 0 {
        (pg.cr3 & ADDR, if pg.cr4 & CR4_LA57 != 0 { 5 } else { 4 }, true)
    } else if pg.cr4 & CR4_PAE != 0 {
        // PAE: the PDPTE is chosen by bits 31:30 from a 32-byte aligned table.
        let pdpte = rd(mem, (pg.cr3 & 0xffff_ffe0) + ((la >> 30) & 3) * 8, true)?;
        if pdpte & PTE_P == 0 {
            return Err(WalkError::PageFault(fault_code(false, acc)));
        }
        (pdpte & ADDR, 2, true)
    } else {
        (pg.cr3 & 0xffff_f000, 2, false)
    };
    let (mut w, mut u, mut nx) = (true, true, false);
    for level in (1..=levels).rev() {
        let (shift, idx_bits) = if wide { (12 + 9 * (level - 1), 0x1ff) } else { (12 + 10 * (level - 1), 0x3ff) };
        let idx = (la >> shift) & idx_bits;
        let e = rd(mem, table + idx * if wide { 8 } else { 4 }, wide)?;
        if e & PTE_P == 0 {
            return Err(WalkError::PageFault(fault_code(false, acc)));
        }
        w &= e & PTE_W != 0;
        u &= e & PTE_U != 0;
        nx |= wide && pg.efer & EFER_NXE != 0 && e & PTE_NX != 0;
        let large = level > 1 && e & PTE_PS != 0 && (wide || pg.cr4 & CR4_PSE != 0) && level <= 3;
        if level == 1 || large {
            let page_mask = (1u64 << shift) - 1;
            let base = if wide {
                e & ADDR & !page_mask
            } else if large {
                // PSE-36: bits 20:13 of a 4 MiB PDE are physical address bits 39:32.
                (e & 0xffc0_0000) | (((e >> 13) & 0xff) << 32)
            } else {
                e & 0xffff_f000
            };
            if (acc.write && !w && (acc.user || pg.cr0 & CR0_WP != 0)) || (acc.user && !u) || (acc.fetch && nx) {
                return Err(WalkError::PageFault(fault_code(true, acc)));
            }
            return Ok(base | (la & page_mask));
        }
        table = if wide { e & ADDR } else { e & 0xffff_f000 };
    }
    Err(WalkError::PageFault(fault_code(false, acc)))
}

fn fault_code(present: bool, acc: AccessKind) -> u32 {
    (present as u32) | ((acc.write as u32) << 1) | ((acc.user as u32) << 2) | ((acc.fetch as u32) << 4)
}

/// Calls `f(mem, gpa, range)` for each page-bounded piece of `[la, la + len)`, translated
/// with `acc`.
fn for_each_page(
    mem: &mut VmMem,
    pg: Paging,
    la: u64,
    len: usize,
    acc: AccessKind,
    mut f: impl FnMut(&mut VmMem, u64, core::ops::Range<usize>) -> Result,
) -> Result<(), WalkError> {
    let mut done = 0;
    while done < len {
        let a = la.wrapping_add(done as u64);
        let n = (PAGE_SIZE - a % PAGE_SIZE).min((len - done) as u64) as usize;
        let gpa = translate(mem, pg, a, acc)?;
        f(mem, gpa, done..done + n).map_err(|_| WalkError::NotRam)?;
        done += n;
    }
    Ok(())
}

/// Reads guest-virtual memory.
pub(crate) fn read_virt(mem: &mut VmMem, pg: Paging, la: u64, buf: &mut [u8], acc: AccessKind) -> Result<(), WalkError> {
    let len = buf.len();
    for_each_page(mem, pg, la, len, acc, |mem, gpa, r| read_phys(mem, gpa, buf.get_mut(r).ok_or(EFAULT)?))
}

/// Writes guest-virtual memory.
pub(crate) fn write_virt(mem: &mut VmMem, pg: Paging, la: u64, buf: &[u8], user: bool) -> Result<(), WalkError> {
    let acc = AccessKind { write: true, user, fetch: false };
    for_each_page(mem, pg, la, buf.len(), acc, |mem, gpa, r| write_phys(mem, gpa, buf.get(r).ok_or(EFAULT)?))
}
