//! The port-I/O and MMIO buses: a range map from guest addresses to devices, in the shape of
//! Firecracker's `vmm::devices::Bus` (a `BTreeMap` keyed by base address, devices as
//! `Arc<Mutex<dyn BusDevice>>`). The vCPU threads dispatch each exit by address; the device
//! gets the base of its range and the offset into it.
//!
//! Anything unclaimed reads as all-ones and ignores writes (no PIC, no PIT; no PCI unless
//! --passthrough); so does an access a device declines (a size it does not decode, as a PCI
//! target without DEVSEL). With --verbose the first such access to each port or MMIO page
//! is logged. An access is dispatched by its first byte, so one that runs past the end of a
//! range still goes to that range's device.
//!
//! The map can change while the guest runs: a passed-through device's memory BARs follow
//! the addresses the guest programs (pci/function.rs). Lock order: a device's lock, then the map's;
//! the map's lock is never held while a device runs, so a device may move its own ranges.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

/// A device on a bus.
pub trait BusDevice: Send {
    /// A read of `data.len()` bytes at `offset` into the range registered at `base`: fills
    /// `data` and returns true, or returns false if the device does not decode the access
    /// (the bus then answers all-ones, as for an unclaimed address).
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) -> bool;
    /// A write; false if the device does not decode it (dropped, as unclaimed).
    fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> bool;
}

/// A device as the buses hold it; one device may be registered for several ranges.
pub type SharedDevice = Arc<Mutex<dyn BusDevice>>;

/// `[base, base + len)`: `len` is non-zero and the range ends at or below `u64::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub base: u64,
    pub len: u64,
}

impl Range {
    pub fn new(base: u64, len: u64) -> Result<Self, BusError> {
        if len == 0 {
            return Err(BusError::Empty { base });
        }
        base.checked_add(len - 1).ok_or(BusError::Overflow { base, len })?;
        Ok(Self { base, len })
    }

    /// The last address in the range.
    pub fn last(&self) -> u64 {
        self.base + (self.len - 1)
    }

    pub fn contains(&self, addr: u64) -> bool {
        (self.base..=self.last()).contains(&addr)
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}-{:#x}", self.base, self.last())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("empty range at {base:#x}")]
    Empty { base: u64 },
    #[error("range {base:#x}+{len:#x} runs past the end of the address space")]
    Overflow { base: u64, len: u64 },
    #[error("{new} overlaps {existing}, already on the {bus} bus")]
    Overlap { new: Range, existing: Range, bus: &'static str },
    #[error("nothing registered at {base:#x} on the {bus} bus")]
    NotFound { base: u64, bus: &'static str },
}

/// Which bus: port I/O or MMIO (for messages, and the unit of "logged once").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusKind {
    Pio,
    Mmio,
}

impl BusKind {
    fn name(self) -> &'static str {
        match self {
            BusKind::Pio => "port",
            BusKind::Mmio => "mmio",
        }
    }
}

/// The buses the vCPUs dispatch their exits to.
pub struct Buses {
    pub pio: Bus,
    /// Shared with the PCI bus, which moves its BARs' ranges.
    pub mmio: Arc<Bus>,
}

pub struct Bus {
    kind: BusKind,
    devices: RwLock<BTreeMap<u64, (Range, SharedDevice)>>,
    verbose: bool,
    /// Unclaimed ports or MMIO pages already logged (--verbose).
    seen: Mutex<HashSet<u64>>,
}

impl Bus {
    pub fn new(kind: BusKind, verbose: bool) -> Self {
        Self { kind, devices: RwLock::new(BTreeMap::new()), verbose, seen: Mutex::new(HashSet::new()) }
    }

    /// The registered range that overlaps `r`, if any.
    fn overlapping(map: &BTreeMap<u64, (Range, SharedDevice)>, r: Range) -> Option<Range> {
        // Ranges are disjoint, so the one with the highest base below r's end has the
        // highest end of those: if any range overlaps r, that one does.
        let (_, (other, _)) = map.range(..=r.last()).next_back()?;
        (other.last() >= r.base).then_some(*other)
    }

    fn overlap(&self, new: Range, existing: Range) -> BusError {
        BusError::Overlap { new, existing, bus: self.kind.name() }
    }

    /// Registers `dev` for `len` addresses from `base`; refused if any of them is taken.
    pub fn insert(&self, dev: SharedDevice, base: u64, len: u64) -> Result<(), BusError> {
        let r = Range::new(base, len)?;
        // A poisoned lock: a thread panicked and the process aborts (panic = "abort").
        let mut map = self.devices.write().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = Self::overlapping(&map, r) {
            return Err(self.overlap(r, existing));
        }
        map.insert(base, (r, dev));
        Ok(())
    }

    /// Unregisters the range at `base`; returns it and its device.
    pub fn remove(&self, base: u64) -> Result<(Range, SharedDevice), BusError> {
        let mut map = self.devices.write().unwrap_or_else(|e| e.into_inner());
        map.remove(&base).ok_or(BusError::NotFound { base, bus: self.kind.name() })
    }

    /// Moves the range registered at `old_base` (same device, same length) to `new_base`;
    /// refused, and nothing changes, if the new place overlaps another range.
    pub fn move_range(&self, old_base: u64, new_base: u64) -> Result<(), BusError> {
        let mut map = self.devices.write().unwrap_or_else(|e| e.into_inner());
        let (old, dev) = map.remove(&old_base).ok_or(BusError::NotFound { base: old_base, bus: self.kind.name() })?;
        let moved = Range::new(new_base, old.len).and_then(|r| match Self::overlapping(&map, r) {
            Some(existing) => Err(self.overlap(r, existing)),
            None => Ok(r),
        });
        match moved {
            Ok(r) => {
                map.insert(new_base, (r, dev));
                Ok(())
            }
            Err(e) => {
                map.insert(old_base, (old, dev));
                Err(e)
            }
        }
    }

    /// The range containing `addr` and its device.
    pub fn lookup(&self, addr: u64) -> Option<(Range, SharedDevice)> {
        let map = self.devices.read().unwrap_or_else(|e| e.into_inner());
        let (_, (r, dev)) = map.range(..=addr).next_back()?;
        r.contains(addr).then(|| (*r, dev.clone()))
    }

    /// Every registered range, in address order.
    #[cfg(test)]
    pub fn ranges(&self) -> Vec<Range> {
        let map = self.devices.read().unwrap_or_else(|e| e.into_inner());
        map.values().map(|(r, _)| *r).collect()
    }

    /// A read at `addr`: the device's answer, or all-ones.
    pub fn read(&self, addr: u64, data: &mut [u8]) {
        // The map's lock is released before the device's is taken (module comment).
        if let Some((r, dev)) = self.lookup(addr) {
            let mut d = dev.lock().unwrap_or_else(|e| e.into_inner());
            if d.read(r.base, addr - r.base, data) {
                return;
            }
        }
        data.fill(0xff);
        self.unclaimed(addr, false);
    }

    /// A write at `addr`: to the device, or dropped.
    pub fn write(&self, addr: u64, data: &[u8]) {
        if let Some((r, dev)) = self.lookup(addr) {
            let mut d = dev.lock().unwrap_or_else(|e| e.into_inner());
            if d.write(r.base, addr - r.base, data) {
                return;
            }
        }
        self.unclaimed(addr, true);
    }

    fn unclaimed(&self, addr: u64, write: bool) {
        if !self.verbose {
            return;
        }
        let key = if self.kind == BusKind::Mmio { addr & !0xfff } else { addr };
        if let Ok(mut s) = self.seen.lock() {
            if s.insert(key) {
                log::debug!(
                    "unclaimed {} {} at {addr:#x} (reads all-ones, writes ignored; logged once)",
                    self.kind.name(),
                    if write { "write" } else { "read" }
                );
            }
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A device that records its accesses and answers reads with its id; it declines
    /// accesses of `decline` bytes.
    #[derive(Default)]
    pub struct Probe {
        pub id: u8,
        pub decline: usize,
        pub log: Vec<(u64, u64, Vec<u8>)>,
    }

    impl Probe {
        pub fn shared(id: u8) -> Arc<Mutex<Probe>> {
            Arc::new(Mutex::new(Probe { id, ..Default::default() }))
        }
    }

    impl BusDevice for Probe {
        fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) -> bool {
            if data.len() == self.decline {
                return false;
            }
            data.fill(self.id);
            self.log.push((base, offset, Vec::new()));
            true
        }
        fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> bool {
            if data.len() == self.decline {
                return false;
            }
            self.log.push((base, offset, data.to_vec()));
            true
        }
    }

    fn base_of(bus: &Bus, addr: u64) -> Option<u64> {
        bus.lookup(addr).map(|(r, _)| r.base)
    }

    #[test]
    fn ranges_refuse_overlap() {
        let bus = Bus::new(BusKind::Mmio, false);
        bus.insert(Probe::shared(1), 0x1000, 0x100).unwrap();
        bus.insert(Probe::shared(2), 0x1100, 0x100).unwrap(); // adjacent above
        bus.insert(Probe::shared(3), 0xf00, 0x100).unwrap(); // adjacent below
        for (base, len) in [(0x1000, 0x100), (0x10ff, 1), (0xfff, 2), (0x800, 0x1000), (0x11ff, 0x10), (0x1050, 0x10)] {
            let e = bus.insert(Probe::shared(9), base, len).unwrap_err();
            assert!(matches!(e, BusError::Overlap { .. }), "{base:#x}+{len:#x}: {e}");
        }
        assert_eq!(
            bus.insert(Probe::shared(9), 0x1080, 0x100).unwrap_err().to_string(),
            "0x1080-0x117f overlaps 0x1100-0x11ff, already on the mmio bus"
        );
        assert_eq!(bus.insert(Probe::shared(9), 0x2000, 0), Err(BusError::Empty { base: 0x2000 }));
        assert!(matches!(bus.insert(Probe::shared(9), u64::MAX, 2), Err(BusError::Overflow { .. })));
        // Up to the top of the address space.
        bus.insert(Probe::shared(9), u64::MAX - 0xfff, 0x1000).unwrap();
        assert_eq!(bus.ranges().len(), 4);
    }

    #[test]
    fn lookup_at_the_edges() {
        let bus = Bus::new(BusKind::Pio, false);
        bus.insert(Probe::shared(1), 0x3f8, 8).unwrap();
        bus.insert(Probe::shared(2), 0x400, 1).unwrap();
        assert_eq!(base_of(&bus, 0x3f7), None);
        assert_eq!(base_of(&bus, 0x3f8), Some(0x3f8));
        assert_eq!(base_of(&bus, 0x3ff), Some(0x3f8));
        assert_eq!(base_of(&bus, 0x400), Some(0x400));
        assert_eq!(base_of(&bus, 0x401), None);
        assert_eq!(base_of(&bus, 0), None);
        assert_eq!(base_of(&bus, u64::MAX), None);
    }

    #[test]
    fn remove_and_move_a_bar_range() {
        let bus = Bus::new(BusKind::Mmio, false);
        let ioapic = Probe::shared(1);
        bus.insert(ioapic, 0xfec0_0000, 0x1000).unwrap();
        let bar = Probe::shared(2);
        bus.insert(bar.clone(), 0xc000_0000, 0x10_0000).unwrap();
        // Moved within the window: the old place is free, the new one dispatches to the BAR.
        bus.move_range(0xc000_0000, 0xc010_0000).unwrap();
        assert_eq!(base_of(&bus, 0xc000_0000), None);
        assert_eq!(base_of(&bus, 0xc01f_ffff), Some(0xc010_0000));
        let mut b = [0u8; 4];
        bus.read(0xc010_0004, &mut b);
        assert_eq!((b, bar.lock().unwrap().log.last().map(|l| (l.0, l.1))), ([2; 4], Some((0xc010_0000, 4))));
        // Onto the IOAPIC (or partly): refused, and the BAR stays where it was.
        for to in [0xfec0_0000, 0xfebf_f000] {
            assert!(matches!(bus.move_range(0xc010_0000, to), Err(BusError::Overlap { .. })));
            assert_eq!(base_of(&bus, 0xc010_0000), Some(0xc010_0000));
        }
        assert!(matches!(bus.move_range(0xc010_0000, u64::MAX - 0xfff), Err(BusError::Overflow { .. })));
        // A move that overlaps only the range's own old place is fine.
        bus.move_range(0xc010_0000, 0xc018_0000).unwrap();
        assert_eq!(bus.ranges(), [Range { base: 0xc018_0000, len: 0x10_0000 }, Range { base: 0xfec0_0000, len: 0x1000 }]);
        assert!(matches!(bus.move_range(0xc000_0000, 0xc020_0000), Err(BusError::NotFound { .. })));
        // Removed: unclaimed again.
        let (r, _) = bus.remove(0xc018_0000).unwrap();
        assert_eq!(r, Range { base: 0xc018_0000, len: 0x10_0000 });
        assert!(bus.remove(0xc018_0000).is_err());
        bus.read(0xc018_0000, &mut b);
        assert_eq!(b, [0xff; 4]);
    }

    #[test]
    fn dispatch_by_address() {
        let bus = Bus::new(BusKind::Pio, true);
        let (a, b) = (Probe::shared(0xa), Probe::shared(0xb));
        b.lock().unwrap().decline = 2;
        bus.insert(a.clone(), 0x60, 1).unwrap();
        bus.insert(a.clone(), 0x64, 1).unwrap(); // one device, two ranges
        bus.insert(b.clone(), 0x600, 2).unwrap();
        let mut d = [0u8; 1];
        bus.read(0x64, &mut d);
        assert_eq!(d, [0xa]);
        bus.write(0x60, &[7]);
        bus.write(0x601, &[5]);
        assert_eq!(a.lock().unwrap().log, [(0x64, 0, vec![]), (0x60, 0, vec![7])]);
        assert_eq!(b.lock().unwrap().log, [(0x600, 1, vec![5])]);
        // Declined (a size the device does not decode) and unclaimed: all-ones, writes dropped.
        let mut w = [0u8; 2];
        bus.read(0x600, &mut w);
        assert_eq!(w, [0xff; 2]);
        bus.write(0x600, &[1, 2]);
        bus.read(0x61, &mut w);
        assert_eq!(w, [0xff; 2]);
        bus.write(0x61, &[1]);
        assert_eq!(b.lock().unwrap().log.len(), 1);
        assert_eq!(a.lock().unwrap().log.len(), 2);
        // Dispatched by the first byte: a word at the range's last port goes to it.
        let c = Probe::shared(0xc);
        bus.insert(c.clone(), 0x70, 2).unwrap();
        bus.read(0x71, &mut w);
        assert_eq!((w, c.lock().unwrap().log[0].1), ([0xc; 2], 1));
    }
}
