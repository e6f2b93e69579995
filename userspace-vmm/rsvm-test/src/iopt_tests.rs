//! Host-side unit tests of the module's v1 I/O page tables and domain-id allocator
//! (rust/iommu/amdvi/pgtable.rs, compiled here as is; `kernel::impl_flags!` and
//! `kernel::static_assert!` are the stand-ins in `kernel_standins` below, reached through
//! `extern crate self as kernel` in main.rs).

#[path = "../../../rust/iommu/amdvi/pgtable.rs"]
#[allow(dead_code)]
mod pgtable;

use pgtable::*;
use std::collections::HashMap;

/// Tables in boxed arrays, at made-up "physical" addresses.
#[derive(Default)]
struct Mem {
    tables: HashMap<u64, Box<[u64; 512]>>,
    next: u64,
    limit: Option<usize>,
}

impl TableMem for Mem {
    fn alloc_table(&mut self) -> Option<u64> {
        if self.limit.is_some_and(|l| self.tables.len() >= l) {
            return None;
        }
        self.next += 0x1000;
        let pa = 0x10_0000_0000 + self.next;
        self.tables.insert(pa, Box::new([0; 512]));
        Some(pa)
    }
    fn read(&self, pa: u64, i: usize) -> u64 {
        self.tables[&pa][i]
    }
    fn write(&mut self, pa: u64, i: usize, v: u64) {
        self.tables.get_mut(&pa).unwrap()[i] = v;
    }
}

#[test]
fn entry_encoding() {
    // §2.2.3: PR bit 0, Next Level 11:9, address 51:12, IR 61, IW 62.
    let p = Pte::page(0x1234_5000, true, false);
    assert_eq!(p.0, 1 | 0x1234_5000 | 1 << 61);
    assert!(p.present() && p.read() && !p.write() && p.next_level() == 0);
    assert_eq!(Pte::page(0x2000, true, true).0, 1 | 0x2000 | 1 << 61 | 1 << 62);
    let d = Pte::table(0xabc000, 3);
    assert_eq!(d.0, 1 | 3 << 9 | 0xabc000 | 1 << 61 | 1 << 62);
    assert_eq!((d.next_level(), d.addr()), (3, 0xabc000));
    // Address bits above 51 never leak into an entry.
    assert_eq!(Pte::page(0xfff0_0000_0000_1000, false, false).addr(), 0x0000_0000_0000_1000);
}

#[test]
fn map_translate_unmap_4k() {
    let mut t = IoPageTable::new(Mem::default(), 4).unwrap();
    assert_eq!(t.iova_limit(), 1 << 48);
    t.map(0x10_0000, 0x7654_3000, PageSize::Size4K, true, true).unwrap();
    // Root, then a level-3, level-2 and level-1 table: 3 PDEs + 1 PTE.
    assert_eq!((t.tables, t.entries_written, t.leaves_4k), (4, 4, 1));
    assert_eq!(t.translate(0x10_0123), Some((0x7654_3123, true, true)));
    assert_eq!(t.translate(0x10_1000), None);
    // The walk the IOMMU does: root[0] -> L3 table, [0] -> L2 table, [0] -> L1 table [0x100].
    let m = t.mem();
    let l4 = Pte(m.read(t.root(), 0));
    assert_eq!(l4.next_level(), 3);
    let l3 = Pte(m.read(l4.addr(), 0));
    assert_eq!(l3.next_level(), 2);
    let l2 = Pte(m.read(l3.addr(), 0));
    assert_eq!(l2.next_level(), 1);
    assert_eq!(Pte(m.read(l2.addr(), 0x100)), Pte::page(0x7654_3000, true, true));
    // A neighbour reuses the tables.
    t.map(0x10_1000, 0x1000, PageSize::Size4K, false, true).unwrap();
    assert_eq!((t.tables, t.entries_written, t.leaves_4k), (4, 5, 2));
    assert_eq!(t.translate(0x10_1fff), Some((0x1fff, false, true)));
    assert_eq!(t.map(0x10_0000, 0x9000, PageSize::Size4K, true, true), Err(PtError::Exists));
    assert_eq!(t.unmap(0x10_0000, PageSize::Size4K), Ok(0x7654_3000));
    assert_eq!(t.translate(0x10_0000), None);
    // Unmapped leaves are 0: no PR, no IR/IW (QEMU ignores a leaf's PR).
    let l1 = Pte(t.mem().read(Pte(t.mem().read(Pte(t.mem().read(l4.addr(), 0)).addr(), 0)).addr(), 0x100));
    assert_eq!(l1.0, 0);
    assert_eq!(t.unmap(0x10_0000, PageSize::Size4K), Err(PtError::NotMapped));
    assert_eq!(t.unmap(0x2000_0000, PageSize::Size4K), Err(PtError::NotMapped));
    assert_eq!(t.leaves_4k, 1);
}

#[test]
fn map_2m() {
    let mut t = IoPageTable::new(Mem::default(), 3).unwrap();
    assert_eq!(t.iova_limit(), 1 << 39);
    t.map(0x4000_0000, 0x1_0020_0000, PageSize::Size2M, true, true).unwrap();
    // A level-2 entry with Next Level 0 is the 2 MiB page.
    assert_eq!((t.tables, t.leaves_2m), (2, 1));
    let l3 = Pte(t.mem().read(t.root(), 1));
    let l2 = Pte(t.mem().read(l3.addr(), 0));
    assert_eq!((l2.next_level(), l2.addr()), (0, 0x1_0020_0000));
    assert_eq!(t.translate(0x401f_f123), Some((0x1_003f_f123, true, true)));
    // No 4 KiB page inside a 2 MiB one, no 2 MiB page over 4 KiB ones.
    assert_eq!(t.map(0x4000_1000, 0, PageSize::Size4K, true, true), Err(PtError::Exists));
    t.map(0x4020_1000, 0x5000, PageSize::Size4K, true, true).unwrap();
    assert_eq!(t.map(0x4020_0000, 0x20_0000, PageSize::Size2M, true, true), Err(PtError::Exists));
    assert_eq!(t.unmap(0x4000_1000, PageSize::Size4K), Err(PtError::Exists));
    assert_eq!(t.unmap(0x4020_0000, PageSize::Size2M), Err(PtError::NotMapped));
    assert_eq!(t.unmap(0x4000_0000, PageSize::Size2M), Ok(0x1_0020_0000));
    assert_eq!(t.translate(0x4000_0000), None);
    assert_eq!(t.leaves_2m, 0);
}

#[test]
fn bad_arguments() {
    assert!(IoPageTable::new(Mem::default(), 1).is_err());
    assert!(IoPageTable::new(Mem::default(), 7).is_err());
    let mut t = IoPageTable::new(Mem::default(), 3).unwrap();
    let e = Err(PtError::BadAddress);
    assert_eq!(t.map(0x1001, 0, PageSize::Size4K, true, true), e);
    assert_eq!(t.map(0x1000, 0x1001, PageSize::Size4K, true, true), e);
    assert_eq!(t.map(0x10_0000, 0, PageSize::Size2M, true, true), e);
    assert_eq!(t.map(0x20_0000, 0x1000, PageSize::Size2M, true, true), e);
    assert_eq!(t.map(1 << 39, 0, PageSize::Size4K, true, true), e);
    assert_eq!(t.map(0, 1 << 52, PageSize::Size4K, true, true), e);
    assert_eq!(t.unmap(u64::MAX & !0xfff, PageSize::Size4K), Err(PtError::BadAddress));
    assert_eq!(t.translate(u64::MAX), None);
    assert_eq!(t.entries_written, 0);
    // Out of table memory: an error, nothing half-mapped.
    let mut t = IoPageTable::new(Mem { limit: Some(2), ..Default::default() }, 3).unwrap();
    assert_eq!(t.map(0, 0, PageSize::Size4K, true, true), Err(PtError::NoMemory));
    assert_eq!(t.translate(0), None);
    t.map(0, 0, PageSize::Size2M, true, true).unwrap();
    assert_eq!(t.translate(0x1234), Some((0x1234, true, true)));
}

#[test]
fn domain_ids() {
    let mut d = DomainIds::new();
    let mut got = Vec::new();
    while let Some(id) = d.alloc() {
        got.push(id);
    }
    // 1..=0xff: never 0, never >= 0x100 (QEMU 10 treats those as invalid).
    assert_eq!(got, (1..=0xff).collect::<Vec<u16>>());
    assert_eq!(d.in_use(), 255);
    assert!(d.free(0x42));
    assert!(!d.free(0x42));
    assert!(!d.free(0));
    assert!(!d.free(0x100));
    assert!(!d.free(0xffff));
    assert_eq!(d.alloc(), Some(0x42));
    assert_eq!(d.alloc(), None);
}
