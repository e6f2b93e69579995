//! Host-side unit tests of the module's IVRS parser (rust/iommu/amdvi/ivrs.rs, compiled here
//! as is: it uses only `core`). The reference table is QEMU 7.2's, dumped in the test VM
//! (`od -t x1 /sys/firmware/acpi/tables/IVRS`, `-device amd-iommu,pt=off,intremap=off`).

#[path = "../../../rust/iommu/amdvi/ivrs.rs"]
#[allow(dead_code)]
mod ivrs;

use ivrs::*;

/// QEMU 7.2's IVRS: one IVHD 10h for the unit at 00:03.0 (capability at 0x40, MMIO
/// 0xfed80000), selecting 00:00.0, 00:01.0, 00:02.0, 00:03.0, 00:04.0, 00:1f.0, 00:1f.2,
/// 00:1f.3.
const QEMU_IVRS: [u8; 0x68] = [
    0x49, 0x56, 0x52, 0x53, 0x68, 0x00, 0x00, 0x00, 0x01, 0xe8, 0x42, 0x4f, 0x43, 0x48, 0x53, 0x20,
    0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0xd1, 0x38, 0x00, 0x18, 0x00, 0x40, 0x00, 0x00, 0x00, 0xd8, 0xfe, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00,
    0x02, 0x10, 0x00, 0x00, 0x02, 0x18, 0x00, 0x00, 0x02, 0x20, 0x00, 0x00, 0x02, 0xf8, 0x00, 0x00,
    0x02, 0xfa, 0x00, 0x00, 0x02, 0xfb, 0x00, 0x00,
];

/// Fixes the length and checksum of a hand-built table.
fn seal(mut t: Vec<u8>) -> Vec<u8> {
    let len = t.len() as u32;
    t[4..8].copy_from_slice(&len.to_le_bytes());
    t[9] = 0;
    let sum = t.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    t[9] = 0u8.wrapping_sub(sum);
    t
}

/// An IVRS header followed by `blocks`.
fn table(blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut t = QEMU_IVRS[..48].to_vec();
    for b in blocks {
        t.extend_from_slice(b);
    }
    seal(t)
}

/// An IVHD of type `ty` (10h: 24-byte header, else 40) with `entries`.
fn ivhd(ty: u8, devid: u16, base: u64, entries: &[u8]) -> Vec<u8> {
    let hdr = if ty == 0x10 { 24 } else { 40 };
    let mut b = vec![0u8; hdr];
    b[0] = ty;
    b[1] = 0x01;
    b[2..4].copy_from_slice(&((hdr + entries.len()) as u16).to_le_bytes());
    b[4..6].copy_from_slice(&devid.to_le_bytes());
    b[6..8].copy_from_slice(&0x40u16.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    if hdr == 40 {
        b[24..32].copy_from_slice(&0x1234_5678_9abc_def0u64.to_le_bytes());
    }
    b.extend_from_slice(entries);
    b
}

#[test]
fn qemu_table() {
    let t = Ivrs::parse(&QEMU_IVRS).expect("QEMU's IVRS parses");
    assert_eq!(t.iv_info(), 0x2800);
    let units: Vec<_> = t.units().collect();
    assert_eq!(units.len(), 1);
    let u = units[0];
    assert_eq!((u.ty, u.flags, u.devid, u.cap_offset), (0x10, 0xd1, 0x0018, 0x40));
    assert_eq!((u.mmio_base, u.segment, u.iommu_info, u.attr, u.efr), (0xfed8_0000, 0, 0, 0x44, None));
    let ids: Vec<_> = u
        .entries()
        .map(|e| match e {
            DevEntry::Select { devid, flags: 0 } => devid,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids, [0x00, 0x08, 0x10, 0x18, 0x20, 0xf8, 0xfa, 0xfb]);
    assert_eq!(u.last_devid(), Some(0xfb));
    // edu at 00:04.0 is requester id 0x0020.
    assert!(u.entries().any(|e| e.covers(0x0020)));
    assert!(!u.entries().any(|e| e.covers(0x0028)));
}

#[test]
fn longer_buffer_is_cut_to_length() {
    let mut b = QEMU_IVRS.to_vec();
    b.extend_from_slice(&[0xff; 64]);
    assert_eq!(Ivrs::parse(&b).unwrap().units().count(), 1);
}

#[test]
fn every_truncation_is_rejected() {
    for n in 0..QEMU_IVRS.len() {
        assert!(Ivrs::parse(&QEMU_IVRS[..n]).is_err(), "truncated to {n}");
    }
}

#[test]
fn every_single_byte_corruption_fails_cleanly() {
    // Any byte flipped breaks the checksum; re-sealing makes the parser see the damage.
    for i in 0..QEMU_IVRS.len() {
        for v in [0x00u8, 0x01, 0x04, 0x40, 0x7f, 0x80, 0xc0, 0xf0, 0xff] {
            let mut b = QEMU_IVRS.to_vec();
            b[i] = v;
            let _ = Ivrs::parse(&b);
            if i != 4 && i != 5 && i != 6 && i != 7 && i != 9 {
                let t = seal(b);
                if let Ok(p) = Ivrs::parse(&t) {
                    for u in p.units() {
                        let _ = u.entries().count();
                        let _ = u.last_devid();
                    }
                }
            }
        }
    }
}

#[test]
fn header_errors() {
    let mut b = QEMU_IVRS.to_vec();
    b[0] = b'X';
    assert_eq!(Ivrs::parse(&b).unwrap_err(), IvrsError::Signature);
    let mut b = QEMU_IVRS.to_vec();
    b[9] ^= 1;
    assert_eq!(Ivrs::parse(&b).unwrap_err(), IvrsError::Checksum);
    // Length field larger than the buffer, and smaller than the fixed header.
    let mut b = QEMU_IVRS.to_vec();
    b[4] = 0x70;
    assert_eq!(Ivrs::parse(&b).unwrap_err(), IvrsError::Truncated);
    let mut b = QEMU_IVRS.to_vec();
    b[4] = 0x20;
    assert_eq!(Ivrs::parse(&b).unwrap_err(), IvrsError::Truncated);
    // Header only: no units, not an error.
    let t = table(&[]);
    assert_eq!(Ivrs::parse(&t).unwrap().units().count(), 0);
}

#[test]
fn block_length_errors() {
    // An IVHD whose Length runs past the table.
    let mut h = ivhd(0x10, 0x18, 0xfed8_0000, &[2, 0x20, 0, 0]);
    h[2] = 0x40;
    assert_eq!(Ivrs::parse(&table(&[h])).unwrap_err(), IvrsError::BadBlockLength { offset: 48 });
    // An IVHD 11h whose Length is shorter than its 40-byte header.
    let mut h = ivhd(0x11, 0x18, 0xfed8_0000, &[]);
    h[2] = 24;
    assert!(matches!(Ivrs::parse(&table(&[h])), Err(IvrsError::BadBlockLength { .. })));
    // A zero-length block would loop forever in a naive walker.
    let t = table(&[vec![0x21, 0, 0, 0]]);
    assert_eq!(Ivrs::parse(&t).unwrap_err(), IvrsError::BadBlockLength { offset: 48 });
    // A block header cut in the middle (3 bytes left).
    let t = table(&[vec![0x10, 0, 0]]);
    assert!(matches!(Ivrs::parse(&t), Err(IvrsError::BadBlockLength { .. })));
}

#[test]
fn ivmd_and_unknown_blocks_are_skipped() {
    let ivmd = {
        let mut b = vec![0u8; 32];
        b[0] = 0x21;
        b[2] = 32;
        b
    };
    let t = table(&[ivmd.clone(), ivhd(0x10, 0x18, 0xfed8_0000, &[1, 0, 0, 0]), vec![0x50, 0, 8, 0, 0, 0, 0, 0]]);
    let p = Ivrs::parse(&t).unwrap();
    let u: Vec<_> = p.units().collect();
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].table_offset, 48 + 32);
    assert_eq!(u[0].entries().collect::<Vec<_>>(), [DevEntry::All { flags: 0 }]);
    assert_eq!(u[0].last_devid(), None);
}

#[test]
fn highest_ivhd_type_wins() {
    // The same unit described as 10h and 11h: only the 11h block is used.
    let t = table(&[
        ivhd(0x10, 0x18, 0xfed8_0000, &[2, 0x20, 0, 0]),
        ivhd(0x11, 0x18, 0xfed8_0000, &[2, 0x28, 0, 0]),
    ]);
    let p = Ivrs::parse(&t).unwrap();
    assert_eq!(p.ivhds().count(), 2);
    let u: Vec<_> = p.units().collect();
    assert_eq!(u.len(), 1);
    assert_eq!((u[0].ty, u[0].efr), (0x11, Some(0x1234_5678_9abc_def0)));
    assert_eq!(u[0].entries().collect::<Vec<_>>(), [DevEntry::Select { devid: 0x28, flags: 0 }]);
}

#[test]
fn every_entry_kind() {
    #[rustfmt::skip]
    let entries = [
        0x00, 0, 0, 0,                                 // PAD4
        0x03, 0x00, 0x01, 0x11, 0x04, 0xff, 0x01, 0,   // 01:00.0 ..= 01:1f.7
        0x42, 0x08, 0x02, 0x22, 0, 0x00, 0x02, 0,      // 02:01.0 as 02:00.0
        0x43, 0x00, 0x03, 0x33, 0, 0x10, 0x03, 0,      // 03:00.0 ..
        0x04, 0x0f, 0x03, 0,                           // .. 03:01.7 as 03:02.0
        0x46, 0x20, 0x00, 0x44, 0x78, 0x56, 0x34, 0x12,// 00:04.0 ext
        0x47, 0x00, 0x04, 0x55, 1, 0, 0, 0,            // 04:00.0 ..
        0x04, 0x07, 0x04, 0,                           // .. 04:00.7 ext 1
        0x48, 0, 0, 0xd7, 0x21, 0xa0, 0x00, 0x01,      // IOAPIC 0x21 at 00:14.0
        0x40, 0, 0, 0, 0, 0, 0, 0,                     // PAD8
        0x85, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // reserved 16-byte type
        0x01, 0, 0, 0x66,                              // ALL
    ];
    let t = table(&[ivhd(0x11, 0x18, 0xfed8_0000, &entries)]);
    let p = Ivrs::parse(&t).unwrap();
    let u = p.units().next().unwrap();
    let got: Vec<_> = u.entries().collect();
    assert_eq!(
        got,
        [
            DevEntry::Other { ty: 0 },
            DevEntry::Range { start: 0x100, end: 0x1ff, flags: 0x11 },
            DevEntry::Alias { devid: 0x208, alias: 0x200, flags: 0x22 },
            DevEntry::AliasRange { start: 0x300, end: 0x30f, alias: 0x310, flags: 0x33 },
            DevEntry::ExtSelect { devid: 0x20, flags: 0x44, ext: 0x1234_5678 },
            DevEntry::ExtRange { start: 0x400, end: 0x407, flags: 0x55, ext: 1 },
            DevEntry::Special { handle: 0x21, devid: 0xa0, variety: 1, flags: 0xd7 },
            DevEntry::Other { ty: 0x40 },
            DevEntry::Other { ty: 0x85 },
            DevEntry::All { flags: 0x66 },
        ]
    );
    assert_eq!(u.last_devid(), Some(0x407));
    assert!(got[1].covers(0x180) && !got[1].covers(0x200));
    assert!(got[3].covers(0x30f) && !got[3].covers(0x310));
}

#[test]
fn acpi_hid_only_in_40h() {
    let mut hid = vec![0xf0, 0xa0, 0x00, 0x00];
    hid.extend_from_slice(b"AMDI0020");
    hid.extend_from_slice(&[0u8; 8]); // CID
    hid.extend_from_slice(&[2, 3]); // UID format, UID length
    hid.extend_from_slice(b"abc");
    let t = table(&[ivhd(0x40, 0x18, 0xfed8_0000, &hid)]);
    let u = Ivrs::parse(&t).unwrap().units().next().unwrap();
    assert_eq!(u.entries().collect::<Vec<_>>(), [DevEntry::AcpiHid { devid: 0xa0, flags: 0 }]);
    // The UID length runs past the block.
    let mut bad = hid.clone();
    bad[21] = 4;
    assert!(matches!(Ivrs::parse(&table(&[ivhd(0x40, 0x18, 0, &bad)])), Err(IvrsError::BadEntry { ty: 0xf0, .. })));
    // F0h in an IVHD 11h.
    assert!(matches!(Ivrs::parse(&table(&[ivhd(0x11, 0x18, 0, &hid)])), Err(IvrsError::BadEntry { ty: 0xf0, .. })));
}

#[test]
fn entry_errors() {
    let bad = |entries: &[u8]| Ivrs::parse(&table(&[ivhd(0x10, 0x18, 0, entries)])).unwrap_err();
    // An 8-byte entry cut short by the block end.
    assert_eq!(bad(&[0x42, 0, 0, 0]), IvrsError::BadEntry { offset: 72, ty: 0x42 });
    // Variable-length type other than F0h.
    assert_eq!(bad(&[0xc1, 0, 0, 0]), IvrsError::BadEntry { offset: 72, ty: 0xc1 });
    // Start without end, start followed by another start, end without start, end < start.
    assert_eq!(bad(&[0x03, 0, 1, 0]), IvrsError::BadRange { offset: 72 });
    assert_eq!(bad(&[0x03, 0, 1, 0, 0x03, 0, 2, 0]), IvrsError::BadRange { offset: 72 });
    assert_eq!(bad(&[0x04, 0, 1, 0]), IvrsError::BadRange { offset: 72 });
    assert_eq!(bad(&[0x03, 0, 2, 0, 0x04, 0, 1, 0]), IvrsError::BadRange { offset: 72 });
    assert_eq!(bad(&[0x47, 0, 2, 0, 0, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0]), IvrsError::BadRange { offset: 72 });
    // A range start whose end entry is itself truncated.
    assert!(matches!(bad(&[0x43, 0, 2, 0, 0, 0, 0, 0, 0x04, 0]), IvrsError::BadEntry { .. }));
}

/// The alias maps of a one-unit table with `entries`.
fn alias_maps(entries: &[u8]) -> Vec<AliasMap> {
    let t = table(&[ivhd(0x10, 0x18, 0xfed8_0000, entries)]);
    let p = Ivrs::parse(&t).unwrap();
    let u = p.units().next().unwrap();
    u.aliases().collect()
}

#[rustfmt::skip]
const ALIASES: [u8; 28] = [
    0x03, 0x00, 0x01, 0, 0x04, 0xff, 0x01, 0,      // 01:00.0 ..= 01:1f.7, no alias
    0x42, 0x08, 0x02, 0, 0, 0x00, 0x02, 0,         // select: 02:01.0 as 02:00.0
    0x43, 0x00, 0x03, 0, 0, 0x10, 0x03, 0,         // range: 03:00.0 ..
    0x04, 0x0f, 0x03, 0,                           // .. 03:01.7 as 03:02.0
];

#[test]
fn alias_select() {
    let m = alias_maps(&ALIASES);
    assert_eq!(m.len(), 2);
    assert_eq!(ivrs_alias(&m, 0x208), Some(0x200));
    // The alias itself and its neighbours have none.
    assert_eq!(ivrs_alias(&m, 0x200), None);
    assert_eq!(ivrs_alias(&m, 0x209), None);
    assert_eq!(requester_ids(&m, 0x208).collect::<Vec<_>>(), [0x208, 0x200]);
    assert_eq!(requester_ids(&m, 0x209).collect::<Vec<_>>(), [0x209]);
    // 02:01.0 and 02:00.0 share 02:00.0's DTE; nobody else does.
    assert_eq!(dte_sharers(&m, 0x208).collect::<Vec<_>>(), [0x200]);
    assert_eq!(dte_sharers(&m, 0x200).collect::<Vec<_>>(), [0x208]);
}

#[test]
fn alias_range() {
    let m = alias_maps(&ALIASES);
    assert_eq!(ivrs_alias(&m, 0x300), Some(0x310));
    assert_eq!(ivrs_alias(&m, 0x305), Some(0x310));
    assert_eq!(ivrs_alias(&m, 0x30f), Some(0x310));
    assert_eq!(ivrs_alias(&m, 0x2ff), None);
    assert_eq!(ivrs_alias(&m, 0x310), None);
    // Every function of the range shares 03:02.0's DTE with the others and with 03:02.0.
    let s: Vec<_> = dte_sharers(&m, 0x305).collect();
    assert_eq!(s.len(), 16);
    assert!(s.contains(&0x300) && s.contains(&0x30f) && s.contains(&0x310) && !s.contains(&0x305));
    let s: Vec<_> = dte_sharers(&m, 0x310).collect();
    assert_eq!(s, (0x300..=0x30f).collect::<Vec<u16>>());
    assert!(share_dte(&m, 0x301, 0x302) && !share_dte(&m, 0x301, 0x208));
    // Who uses 03:02.0's DTE: 03:02.0 and the 16 aliased functions; 03:05.0's only itself.
    assert_eq!(rid_users(&m, 0x310).count(), 17);
    assert_eq!(rid_users(&m, 0x328).collect::<Vec<_>>(), [0x328]);
}

#[test]
fn alias_outside_any_range() {
    // A device no entry names has no alias and shares nothing.
    let m = alias_maps(&ALIASES);
    assert_eq!(ivrs_alias(&m, 0x500), None);
    assert_eq!(dte_sharers(&m, 0x500).count(), 0);
    // Covered by a plain range (01:xx): still no alias.
    assert_eq!(ivrs_alias(&m, 0x150), None);
    // An alias whose target no select or range entry names: the target still gets the DTE,
    // and the device table must reach it (last_devid counts it).
    #[rustfmt::skip]
    let e = [
        0x02, 0x00, 0x06, 0,                       // 06:00.0
        0x42, 0x00, 0x06, 0, 0, 0x00, 0x07, 0,     // 06:00.0 as 07:00.0
    ];
    let t = table(&[ivhd(0x10, 0x18, 0xfed8_0000, &e)]);
    let p = Ivrs::parse(&t).unwrap();
    let u = p.units().next().unwrap();
    assert_eq!(u.last_devid(), Some(0x700));
    let m: Vec<_> = u.aliases().collect();
    assert_eq!(ivrs_alias(&m, 0x600), Some(0x700));
    assert_eq!(dte_sharers(&m, 0x600).collect::<Vec<_>>(), [0x700]);
    // No alias entries at all (QEMU's table): nothing to share.
    let q = Ivrs::parse(&QEMU_IVRS).unwrap();
    let qm: Vec<_> = q.units().next().unwrap().aliases().collect();
    assert!(qm.is_empty());
    assert_eq!(ivrs_alias(&qm, 0x20), None);
    assert_eq!(dte_sharers(&qm, 0x20).count(), 0);
}

#[test]
fn alias_later_entry_wins_and_self_alias_is_none() {
    #[rustfmt::skip]
    let e = [
        0x43, 0x00, 0x03, 0, 0, 0x10, 0x03, 0,     // 03:00.0 ..
        0x04, 0x0f, 0x03, 0,                       // .. 03:01.7 as 03:02.0
        0x42, 0x08, 0x03, 0, 0, 0x18, 0x03, 0,     // then 03:01.0 as 03:03.0
        0x42, 0x20, 0x03, 0, 0, 0x20, 0x03, 0,     // 03:04.0 as itself
    ];
    let m = alias_maps(&e);
    assert_eq!(ivrs_alias(&m, 0x308), Some(0x318));
    assert_eq!(ivrs_alias(&m, 0x309), Some(0x310));
    assert_eq!(ivrs_alias(&m, 0x320), None);
    assert!(!share_dte(&m, 0x308, 0x309));
}

#[test]
fn conflicting_alias() {
    // 02:01.0 and 02:02.0 both arrive as 02:00.0: one DTE for three devices.
    #[rustfmt::skip]
    let e = [
        0x42, 0x08, 0x02, 0, 0, 0x00, 0x02, 0,
        0x42, 0x10, 0x02, 0, 0, 0x00, 0x02, 0,
    ];
    let m = alias_maps(&e);
    assert_eq!(dte_sharers(&m, 0x208).collect::<Vec<_>>(), [0x200, 0x210]);
    // Who holds the sharers decides (VM ids as numbers).
    assert_eq!(may_assign(&1, []), Ok(()));
    assert_eq!(may_assign(&1, [Holder::Unassigned, Holder::Vm(1)]), Ok(()));
    assert_eq!(may_assign(&1, [Holder::Unassigned, Holder::Vm(2)]), Err(AliasConflict::OtherVm));
    assert_eq!(may_assign(&1, [Holder::Vm(2), Holder::Host]), Err(AliasConflict::Host));
    // The shared id's DTE: the VM wins, then a host user, then rsvm's blocking.
    assert_eq!(rid_state::<u32>([]), RidState::Untranslated);
    assert_eq!(rid_state::<u32>([Holder::Unassigned]), RidState::Blocked);
    assert_eq!(rid_state::<u32>([Holder::Unassigned, Holder::Host]), RidState::Untranslated);
    assert_eq!(rid_state([Holder::Host, Holder::Vm(3), Holder::Unassigned]), RidState::Translated(3));
}

/// Two units (issue 15 section 3): each device is translated by the last IVHD that names it,
/// as Linux fills its rlookup table; rsvm drives the first unit and binds only its devices.
#[test]
fn which_unit_translates_a_device() {
    #[rustfmt::skip]
    let first = [
        0x03, 0x00, 0x00, 0, 0x04, 0xff, 0x01, 0,      // 00:00.0 ..= 01:1f.7
        0x02, 0x00, 0x03, 0,                           // 03:00.0
    ];
    #[rustfmt::skip]
    let second = [
        0x03, 0x00, 0x01, 0, 0x04, 0xff, 0x02, 0,      // 01:00.0 ..= 02:1f.7 (takes bus 1 over)
    ];
    let t = table(&[ivhd(0x11, 0x02, 0xfed8_0000, &first), ivhd(0x11, 0x0102, 0xfed9_0000, &second)]);
    let p = Ivrs::parse(&t).unwrap();
    assert_eq!(p.units().count(), 2);
    assert_eq!(p.unit_of(0, 0x0008), Some(0), "bus 0: the first unit only");
    assert_eq!(p.unit_of(0, 0x0100), Some(1), "bus 1: named by both, the later block wins");
    assert_eq!(p.unit_of(0, 0x0208), Some(1), "bus 2: the second unit only");
    assert_eq!(p.unit_of(0, 0x0300), Some(0), "a select entry of the first");
    assert_eq!(p.unit_of(0, 0x0400), None, "no unit names bus 4");
    assert_eq!(p.unit_of(1, 0x0008), None, "another segment");
    // An ALL entry names every device: a later unit with one takes everything over.
    let t = table(&[ivhd(0x11, 0x02, 0xfed8_0000, &first), ivhd(0x11, 0x0102, 0xfed9_0000, &[0x01, 0, 0, 0])]);
    let p = Ivrs::parse(&t).unwrap();
    assert_eq!(p.unit_of(0, 0x0008), Some(1));
    // QEMU's one unit translates what it names (rsvm's edu at 00:04.0 among them).
    let p = Ivrs::parse(&QEMU_IVRS).unwrap();
    assert_eq!(p.unit_of(0, 0x0020), Some(0));
}
