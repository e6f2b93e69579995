// SPDX-License-Identifier: GPL-2.0

//! The IVRS ACPI table (AMD I/O Virtualization Technology spec, doc 48882, §5.2): which
//! IOMMU units exist (IVHD blocks, §5.2.2) and which PCI device ids each one translates
//! (IVHD device entries, §5.2.2.2).
//!
//! A pure parser over the table's bytes: no kernel imports (the host unit tests in
//! `userspace-vmm/rsvm-test/src/ivrs_tests.rs` compile this file as is), no allocation, no
//! panics. [`Ivrs::parse`] checks the whole table once (header, checksum, every block's
//! length, every device entry's length and range pairing); the iterators it hands out then
//! walk data that is known to be well formed.

/// Why a table was rejected. Every one is a firmware bug (or a truncated copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IvrsError {
    /// Shorter than the fixed IVRS header (48 bytes), or than its own `Length` field.
    Truncated,
    /// The signature is not "IVRS".
    Signature,
    /// The bytes of the table do not sum to zero (ACPI checksum).
    Checksum,
    /// A block's `Length` is shorter than its header or runs past the table.
    BadBlockLength { offset: usize },
    /// A device entry runs past its IVHD block, or has a type whose length is unknown.
    BadEntry { offset: usize, ty: u8 },
    /// A range start (03h, 43h, 47h) not followed by a range end (04h), an end without a
    /// start, or an end before its start.
    BadRange { offset: usize },
}

/// Offset of the first block: ACPI header (36) + IVinfo (4) + reserved (8), §5.2.1.
pub(crate) const IVRS_HEADER_LEN: usize = 48;

/// IVHD block types (§5.2.2): 10h legacy, 11h and 40h with the EFR image (40h may carry
/// ACPI HID device entries).
pub(crate) const IVHD_TYPE_10H: u8 = 0x10;
pub(crate) const IVHD_TYPE_11H: u8 = 0x11;
pub(crate) const IVHD_TYPE_40H: u8 = 0x40;

/// IVHD device entry types (§5.2.2.2, table 95 onwards).
pub(crate) mod dev_type {
    pub(crate) const PAD4: u8 = 0x00;
    pub(crate) const ALL: u8 = 0x01;
    pub(crate) const SELECT: u8 = 0x02;
    pub(crate) const START: u8 = 0x03;
    pub(crate) const END: u8 = 0x04;
    pub(crate) const PAD8: u8 = 0x40;
    pub(crate) const ALIAS_SELECT: u8 = 0x42;
    pub(crate) const ALIAS_START: u8 = 0x43;
    pub(crate) const EXT_SELECT: u8 = 0x46;
    pub(crate) const EXT_START: u8 = 0x47;
    pub(crate) const SPECIAL: u8 = 0x48;
    pub(crate) const ACPI_HID: u8 = 0xf0;
}

fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off.checked_add(4)?)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off.checked_add(8)?)?.try_into().ok()?))
}

/// A checked IVRS table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ivrs<'a> {
    /// The table, cut to its `Length`.
    table: &'a [u8],
}

impl<'a> Ivrs<'a> {
    /// Checks the whole table. `bytes` may be longer than the table (it is cut to the
    /// header's `Length`), never shorter.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, IvrsError> {
        if bytes.len() < IVRS_HEADER_LEN {
            return Err(IvrsError::Truncated);
        }
        if bytes.get(0..4) != Some(b"IVRS".as_slice()) {
            return Err(IvrsError::Signature);
        }
        let len = u32_at(bytes, 4).ok_or(IvrsError::Truncated)? as usize;
        if len < IVRS_HEADER_LEN {
            return Err(IvrsError::Truncated);
        }
        let table = bytes.get(..len).ok_or(IvrsError::Truncated)?;
        if table.iter().fold(0u8, |s, b| s.wrapping_add(*b)) != 0 {
            return Err(IvrsError::Checksum);
        }
        let ivrs = Self { table };
        let mut blocks = ivrs.blocks_checked();
        while let Some(b) = blocks.next() {
            if let Some(ivhd) = b? {
                let mut entries = ivhd.entries_checked();
                while let Some(e) = entries.next() {
                    e?;
                }
            }
        }
        Ok(ivrs)
    }

    /// IVinfo (§5.2.1): bit 0 EFRSup, 7:5 GVAsize, 14:8 PAsize, 21:15 VAsize.
    pub(crate) fn iv_info(&self) -> u32 {
        u32_at(self.table, 36).unwrap_or(0)
    }

    /// Every IVHD block of a type this parser knows (10h, 11h, 40h), in table order.
    pub(crate) fn ivhds(&self) -> impl Iterator<Item = Ivhd<'a>> + 'a {
        // `parse` checked every block: no error can come up here.
        let mut it = self.blocks_checked();
        core::iter::from_fn(move || loop {
            match it.next()? {
                Ok(Some(ivhd)) => return Some(ivhd),
                Ok(None) => continue,
                Err(_) => return None,
            }
        })
    }

    /// The IVHD blocks an OS should use: firmware describes each unit once per IVHD type it
    /// supports, and software takes only the highest type it knows (§5.2.2; Linux and bhyve
    /// do the same).
    pub(crate) fn units(&self) -> impl Iterator<Item = Ivhd<'a>> + 'a {
        let best = self.ivhds().map(|h| h.ty).max().unwrap_or(0);
        self.ivhds().filter(move |h| h.ty == best)
    }

    /// The unit (its index in `units()`) that translates `devid` of `segment`: the last
    /// IVHD that names it, as Linux fills its `rlookup` table block by block in table order
    /// (`init_iommu_from_acpi()`). `None`: no unit covers the device.
    pub(crate) fn unit_of(&self, segment: u16, devid: u16) -> Option<usize> {
        self.units().enumerate().filter(|(_, u)| u.segment == segment && u.covers(devid)).map(|(i, _)| i).last()
    }

    fn blocks_checked(&self) -> Blocks<'a> {
        Blocks { table: self.table, off: IVRS_HEADER_LEN }
    }
}

/// Walks the blocks (IVHD and IVMD) by their `Length`; yields `Ok(None)` for blocks that
/// are not IVHD 10h/11h/40h (IVMD 20h-22h and types of later spec revisions).
struct Blocks<'a> {
    table: &'a [u8],
    off: usize,
}

impl<'a> Blocks<'a> {
    fn next(&mut self) -> Option<Result<Option<Ivhd<'a>>, IvrsError>> {
        if self.off >= self.table.len() {
            return None;
        }
        let off = self.off;
        let bad = IvrsError::BadBlockLength { offset: off };
        // Every block starts with Type, Flags, Length (§5.2.2, §5.2.3).
        let (Some(ty), Some(len)) = (u8_at(self.table, off), u16_at(self.table, off + 2)) else {
            self.off = self.table.len();
            return Some(Err(bad));
        };
        let len = len as usize;
        let hdr = match ty {
            IVHD_TYPE_10H => 24,
            IVHD_TYPE_11H | IVHD_TYPE_40H => 40,
            _ => 4,
        };
        let Some(block) = off.checked_add(len).and_then(|end| self.table.get(off..end)) else {
            self.off = self.table.len();
            return Some(Err(bad));
        };
        if len < hdr {
            self.off = self.table.len();
            return Some(Err(bad));
        }
        self.off = off + len;
        if !matches!(ty, IVHD_TYPE_10H | IVHD_TYPE_11H | IVHD_TYPE_40H) {
            return Some(Ok(None));
        }
        // The header is in `block` (len >= hdr), so these reads cannot fail.
        let g16 = |o| u16_at(block, o).unwrap_or(0);
        Some(Ok(Some(Ivhd {
            ty,
            flags: u8_at(block, 1).unwrap_or(0),
            devid: g16(4),
            cap_offset: g16(6),
            mmio_base: u64_at(block, 8).unwrap_or(0),
            segment: g16(16),
            iommu_info: g16(18),
            attr: u32_at(block, 20).unwrap_or(0),
            efr: if hdr == 40 { u64_at(block, 24) } else { None },
            table_offset: off,
            entries: block.get(hdr..).unwrap_or(&[]),
            entries_offset: off + hdr,
        })))
    }
}

/// One IVHD block: an IOMMU unit (§5.2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ivhd<'a> {
    /// 10h, 11h or 40h.
    pub(crate) ty: u8,
    /// IVHD flags: 0 HtTunEn, 1 PassPW, 2 ResPassPW, 3 Isoc, 4 IotlbSup, 5 Coherent,
    /// 6 PrefSup, 7 PPRSup.
    pub(crate) flags: u8,
    /// The unit's own PCI requester id (bus << 8 | dev << 3 | fn).
    pub(crate) devid: u16,
    /// Offset of the IOMMU capability block in the unit's PCI configuration space.
    pub(crate) cap_offset: u16,
    /// Physical base of the unit's MMIO registers (§3.4).
    pub(crate) mmio_base: u64,
    /// PCI segment group.
    pub(crate) segment: u16,
    /// IOMMU info: 4:0 MSInum, 12:8 UnitID.
    pub(crate) iommu_info: u16,
    /// 10h: IOMMU feature reporting; 11h/40h: IOMMU attributes.
    pub(crate) attr: u32,
    /// 11h/40h: the image of the Extended Feature Register.
    pub(crate) efr: Option<u64>,
    /// Where the block starts in the table (for messages).
    pub(crate) table_offset: usize,
    entries: &'a [u8],
    entries_offset: usize,
}

/// IVHD flag bits (§5.2.2.1, table 90).
pub(crate) mod ivhd_flag {
    pub(crate) const HT_TUN_EN: u8 = 1 << 0;
    pub(crate) const PASS_PW: u8 = 1 << 1;
    pub(crate) const RES_PASS_PW: u8 = 1 << 2;
    pub(crate) const ISOC: u8 = 1 << 3;
}

impl<'a> Ivhd<'a> {
    /// The device entries, range pairs (start + 04h end) merged into one item.
    pub(crate) fn entries(&self) -> impl Iterator<Item = DevEntry> + 'a {
        // `Ivrs::parse` checked every entry of every IVHD.
        let mut it = self.entries_checked();
        core::iter::from_fn(move || it.next()?.ok())
    }

    /// Whether one of the entries names `devid` (an ALL entry names every device).
    pub(crate) fn covers(&self, devid: u16) -> bool {
        self.entries().any(|e| e.covers(devid))
    }

    /// The highest device id the entries name (ranges' ends, aliases' targets, special
    /// devices), or `None` for a unit with only an ALL entry or none at all.
    pub(crate) fn last_devid(&self) -> Option<u16> {
        self.entries().filter_map(|e| e.last_devid()).max()
    }

    fn entries_checked(&self) -> Entries<'a> {
        Entries { b: self.entries, off: 0, base: self.entries_offset, ty: self.ty }
    }
}

/// What one device entry (or range pair) says. `flags` is the DTE setting byte (§5.2.2.2:
/// INITPass, EIntPass, NMIPass, SysMgt, Lint0Pass, Lint1Pass).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DevEntry {
    /// 01h: every device id of the segment.
    All { flags: u8 },
    /// 02h: one device.
    Select { devid: u16, flags: u8 },
    /// 03h ... 04h: `start..=end`.
    Range { start: u16, end: u16, flags: u8 },
    /// 42h: `devid` issues requests as `alias`.
    Alias { devid: u16, alias: u16, flags: u8 },
    /// 43h ... 04h: `start..=end` all issue requests as `alias`.
    AliasRange { start: u16, end: u16, alias: u16, flags: u8 },
    /// 46h: one device with extended (ATS) settings.
    ExtSelect { devid: u16, flags: u8, ext: u32 },
    /// 47h ... 04h: a range with extended settings.
    ExtRange { start: u16, end: u16, flags: u8, ext: u32 },
    /// 48h: an IOAPIC (variety 1) or HPET (variety 2) with its requester id.
    Special { handle: u8, devid: u16, variety: u8, flags: u8 },
    /// F0h (IVHD 40h): a device named by ACPI _HID, with the requester id it uses.
    AcpiHid { devid: u16, flags: u8 },
    /// A reserved type of known length: skipped.
    Other { ty: u8 },
}

impl DevEntry {
    fn last_devid(&self) -> Option<u16> {
        match *self {
            DevEntry::Select { devid, .. }
            | DevEntry::ExtSelect { devid, .. }
            | DevEntry::Special { devid, .. }
            | DevEntry::AcpiHid { devid, .. } => Some(devid),
            DevEntry::Alias { devid, alias, .. } => Some(devid.max(alias)),
            DevEntry::Range { end, .. } | DevEntry::ExtRange { end, .. } => Some(end),
            DevEntry::AliasRange { end, alias, .. } => Some(end.max(alias)),
            DevEntry::All { .. } | DevEntry::Other { .. } => None,
        }
    }

    /// Whether this entry names `devid` (for an alias entry: the device, not its alias).
    pub(crate) fn covers(&self, devid: u16) -> bool {
        match *self {
            DevEntry::All { .. } => true,
            DevEntry::Select { devid: d, .. }
            | DevEntry::ExtSelect { devid: d, .. }
            | DevEntry::Special { devid: d, .. }
            | DevEntry::AcpiHid { devid: d, .. }
            | DevEntry::Alias { devid: d, .. } => d == devid,
            DevEntry::Range { start, end, .. }
            | DevEntry::ExtRange { start, end, .. }
            | DevEntry::AliasRange { start, end, .. } => (start..=end).contains(&devid),
            DevEntry::Other { .. } => false,
        }
    }
}

/// Length of a device entry from its type (§5.2.2.2: type bits 7:6 give 4, 8, 16 bytes, or
/// variable for 11b; of the variable ones only F0h is defined: 22 bytes + UID length).
fn entry_len(b: &[u8], off: usize, ty: u8) -> Option<usize> {
    match ty >> 6 {
        0 => Some(4),
        1 => Some(8),
        2 => Some(16),
        _ if ty == dev_type::ACPI_HID => Some(22 + u8_at(b, off + 21)? as usize),
        _ => None,
    }
}

struct Entries<'a> {
    b: &'a [u8],
    off: usize,
    /// Offset of `b` in the table, for error messages.
    base: usize,
    /// The IVHD type (F0h entries are only valid in 40h).
    ty: u8,
}

impl<'a> Entries<'a> {
    /// The next raw entry: (offset, type, bytes).
    fn raw(&mut self) -> Option<Result<(usize, u8, &'a [u8]), IvrsError>> {
        if self.off >= self.b.len() {
            return None;
        }
        let off = self.off;
        let Some(ty) = u8_at(self.b, off) else { return None };
        let e = entry_len(self.b, off, ty)
            .and_then(|l| off.checked_add(l))
            .and_then(|end| self.b.get(off..end))
            .filter(|_| ty != dev_type::ACPI_HID || self.ty == IVHD_TYPE_40H);
        match e {
            Some(e) => {
                self.off += e.len();
                Some(Ok((off, ty, e)))
            }
            None => {
                self.off = self.b.len();
                Some(Err(IvrsError::BadEntry { offset: self.base + off, ty }))
            }
        }
    }

    fn next(&mut self) -> Option<Result<DevEntry, IvrsError>> {
        use dev_type::*;
        let (off, ty, e) = match self.raw()? {
            Ok(x) => x,
            Err(err) => return Some(Err(err)),
        };
        // Every entry is at least 4 bytes: Type (0), DeviceID (1..3), DTE setting (3).
        let devid = u16_at(e, 1).unwrap_or(0);
        let flags = u8_at(e, 3).unwrap_or(0);
        let at = self.base + off;
        let entry = match ty {
            ALL => DevEntry::All { flags },
            SELECT => DevEntry::Select { devid, flags },
            // 8-byte entries: byte 4 reserved or handle, 5..7 the source id, 7 the variety.
            ALIAS_SELECT => DevEntry::Alias { devid, alias: u16_at(e, 5).unwrap_or(0), flags },
            EXT_SELECT => DevEntry::ExtSelect { devid, flags, ext: u32_at(e, 4).unwrap_or(0) },
            SPECIAL => DevEntry::Special {
                handle: u8_at(e, 4).unwrap_or(0),
                devid: u16_at(e, 5).unwrap_or(0),
                variety: u8_at(e, 7).unwrap_or(0),
                flags,
            },
            ACPI_HID => DevEntry::AcpiHid { devid, flags },
            START | ALIAS_START | EXT_START => {
                // The range ends at the next entry, which must be an END (04h).
                let end = match self.raw() {
                    Some(Ok((_, END, end))) => u16_at(end, 1).unwrap_or(0),
                    Some(Err(err)) => return Some(Err(err)),
                    _ => {
                        self.off = self.b.len();
                        return Some(Err(IvrsError::BadRange { offset: at }));
                    }
                };
                if end < devid {
                    self.off = self.b.len();
                    return Some(Err(IvrsError::BadRange { offset: at }));
                }
                match ty {
                    START => DevEntry::Range { start: devid, end, flags },
                    ALIAS_START => DevEntry::AliasRange {
                        start: devid,
                        end,
                        alias: u16_at(e, 5).unwrap_or(0),
                        flags,
                    },
                    _ => DevEntry::ExtRange { start: devid, end, flags, ext: u32_at(e, 4).unwrap_or(0) },
                }
            }
            END => {
                self.off = self.b.len();
                return Some(Err(IvrsError::BadRange { offset: at }));
            }
            PAD4 | PAD8 => DevEntry::Other { ty },
            _ => DevEntry::Other { ty },
        };
        Some(Ok(entry))
    }
}

/// One IVRS alias mapping (42h, or 43h ... 04h): DMA of `start..=end` arrives at the unit
/// with requester id `alias` (a device behind a PCIe-to-PCI bridge, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AliasMap {
    pub(crate) start: u16,
    pub(crate) end: u16,
    pub(crate) alias: u16,
}

impl<'a> Ivhd<'a> {
    /// The unit's alias entries, in table order.
    pub(crate) fn aliases(&self) -> impl Iterator<Item = AliasMap> + 'a {
        self.entries().filter_map(|e| match e {
            DevEntry::Alias { devid, alias, .. } => Some(AliasMap { start: devid, end: devid, alias }),
            DevEntry::AliasRange { start, end, alias, .. } => Some(AliasMap { start, end, alias }),
            _ => None,
        })
    }
}

// Alias resolution, as Linux's amd_iommu does it (init.c fills `alias_table` from these
// entries in table order; iommu.c's `clone_aliases` gives the alias the device's DTE): pure
// functions over a unit's `AliasMap`s, host-tested in rsvm-test's ivrs_tests.rs.

/// The IVRS alias of `devid`: the requester id its DMA arrives with when that is not its own.
/// A later entry wins over an earlier one (Linux overwrites its alias table in table order);
/// `None` if no entry covers `devid` or the entry names `devid` itself.
pub(crate) fn ivrs_alias(maps: &[AliasMap], devid: u16) -> Option<u16> {
    maps.iter().rev().find(|m| (m.start..=m.end).contains(&devid)).map(|m| m.alias).filter(|&a| a != devid)
}

/// The requester ids whose DTEs must follow `devid`'s state: its own and its IVRS alias.
pub(crate) fn requester_ids(maps: &[AliasMap], devid: u16) -> impl Iterator<Item = u16> {
    core::iter::once(devid).chain(ivrs_alias(maps, devid))
}

/// Whether DMA of `a` and of `b` can arrive with the same requester id (they share a DTE).
pub(crate) fn share_dte(maps: &[AliasMap], a: u16, b: u16) -> bool {
    a == b || requester_ids(maps, a).any(|r| requester_ids(maps, b).any(|s| s == r))
}

/// Every other device id that shares a DTE with `devid`: its alias (as a device of its own)
/// and every device aliased to `devid` or to the same alias. Empty without alias entries.
pub(crate) fn dte_sharers(maps: &[AliasMap], devid: u16) -> impl Iterator<Item = u16> + '_ {
    let any = !maps.is_empty();
    (0..=u16::MAX).filter(move |&x| any && x != devid && share_dte(maps, x, devid))
}

/// Every device id whose DMA can arrive with requester id `rid`: `rid` itself and every
/// device aliased to it.
pub(crate) fn rid_users(maps: &[AliasMap], rid: u16) -> impl Iterator<Item = u16> + '_ {
    let any = !maps.is_empty();
    core::iter::once(rid).chain((0..=u16::MAX).filter(move |&x| any && ivrs_alias(maps, x) == Some(rid)))
}

/// Who holds a device that shares a DTE (`V`: a VM's identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder<V> {
    /// Present with a host driver, not rsvm's: the host uses its DMA.
    Host,
    /// Bound to rsvm, not assigned.
    Unassigned,
    /// Bound to rsvm and assigned to this VM.
    Vm(V),
}

/// Why a device cannot be assigned (Documentation/amdvi.md, "Aliases").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AliasConflict {
    /// A device sharing its DTE is the host's (`EPERM`, as VFIO refuses a group that is not
    /// viable: bind it to rsvm too, or leave it without a driver).
    Host,
    /// A device sharing its DTE is assigned to another VM (`EBUSY`).
    OtherVm,
}

/// Whether a device may be assigned to `vm`, given the holders of the devices that share a
/// DTE with it (devices without a driver are not listed: nothing drives their DMA).
pub(crate) fn may_assign<V: PartialEq>(vm: &V, sharers: impl IntoIterator<Item = Holder<V>>) -> Result<(), AliasConflict> {
    let mut r = Ok(());
    for h in sharers {
        match h {
            Holder::Host => return Err(AliasConflict::Host),
            Holder::Vm(v) if v != *vm => r = Err(AliasConflict::OtherVm),
            _ => {}
        }
    }
    r
}

/// What one requester id's DTE must say, given the holders of every device whose DMA uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RidState<V> {
    /// V=0, as the host had it: no device of rsvm's uses it, or a host device does (its DMA
    /// must keep working while no VM has the id; assignment is refused meanwhile).
    Untranslated,
    /// Used only by devices bound to rsvm, none assigned: DMA blocked.
    Blocked,
    /// Through this VM's I/O domain: a device using it is assigned there. This wins over
    /// everything else, so an assigned device's DMA never escapes its domain, even if a host
    /// driver takes a device sharing the id later.
    Translated(V),
}

pub(crate) fn rid_state<V>(users: impl IntoIterator<Item = Holder<V>>) -> RidState<V> {
    let (mut host, mut bound) = (false, false);
    for h in users {
        match h {
            Holder::Vm(v) => return RidState::Translated(v),
            Holder::Host => host = true,
            Holder::Unassigned => bound = true,
        }
    }
    if bound && !host { RidState::Blocked } else { RidState::Untranslated }
}
