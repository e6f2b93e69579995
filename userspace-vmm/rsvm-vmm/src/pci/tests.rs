//! The PCI bus against a fake device backend: no /dev/rsvm needed.

use super::*;
use crate::bus::{Bus, BusKind};
use crate::ioapic::RteObserver;
use std::sync::{Arc, Mutex};

/// A device: 256 bytes of config space (command register filtered to bits 1-2, BARs
/// reading 0 as the module does), and a log of the routing calls.
#[derive(Default)]
pub struct Fake {
    pub cfg: Mutex<Vec<u8>>,
    pub calls: Mutex<Vec<String>>,
    pub intx_errno: Option<i32>,
}

impl Fake {
    /// edu-like: 1234:11e8, INTA, MSI (64-bit) at 0x40, a PM-like capability at 0x60 first.
    fn edu() -> Arc<Self> {
        let mut c = vec![0u8; 256];
        c[0..4].copy_from_slice(&0x11e8_1234u32.to_le_bytes());
        c[6] = PCI_STATUS_CAP_LIST as u8;
        c[0x0e] = 0x80; // multi-function, to see it hidden
        c[0x34] = 0x60;
        c[0x3d] = 1;
        c[0x60] = 0x01; // PM
        c[0x61] = 0x40;
        c[0x40] = 0x05; // MSI, end of list
        c[0x42] = 0x80 | 0x02; // 64-bit, 2 vectors capable
        Arc::new(Self { cfg: Mutex::new(c), ..Default::default() })
    }
    fn log(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl DeviceBackend for Fake {
    fn config_read(&self, offset: u32, size: u32) -> Result<u32, BackendError> {
        assert!(matches!(size, 1 | 2 | 4) && offset % size == 0 && offset + size <= 256, "bad access {offset:#x}/{size}");
        let c = self.cfg.lock().unwrap();
        let mut v = 0;
        for k in 0..size {
            let o = offset + k;
            let hidden = (0x10..0x28).contains(&o) || (0x30..0x34).contains(&o);
            v |= u32::from(if hidden { 0 } else { c[o as usize] }) << (8 * k);
        }
        Ok(v)
    }
    fn config_write(&self, offset: u32, size: u32, value: u32) -> Result<(), BackendError> {
        assert!(matches!(size, 1 | 2 | 4) && offset % size == 0 && offset + size <= 256);
        self.calls.lock().unwrap().push(format!("cfg {offset:#x}/{size} {value:#x}"));
        let mut c = self.cfg.lock().unwrap();
        for k in 0..size {
            let o = (offset + k) as usize;
            let mask: u8 = match o { 4 => 0x06, 5 => 0x04, 0x0c | 0x0d | 0x3c => 0xff, _ => 0 };
            c[o] = (c[o] & !mask) | ((value >> (8 * k)) as u8 & mask);
        }
        Ok(())
    }
    fn map_bar(&self, bar: u32, gpa: u64) -> Result<(), BackendError> {
        self.calls.lock().unwrap().push(format!("map {bar} {gpa:#x}"));
        Ok(())
    }
    fn set_msi(&self, address: u64, data: u32, on: bool) -> Result<(), BackendError> {
        self.calls.lock().unwrap().push(format!("msi {address:#x} {data:#x} {on}"));
        Ok(())
    }
    fn set_intx(&self, address: u64, data: u32, on: bool) -> Result<(), BackendError> {
        if let Some(errno) = self.intx_errno {
            self.calls.lock().unwrap().push("intx-failed".into());
            return Err(BackendError { op: "nope", errno });
        }
        self.calls.lock().unwrap().push(format!("intx {address:#x} {data:#x} {on}"));
        Ok(())
    }
}

const EDU_RESOURCE: &str = "0x00000000fea00000 0x00000000feafffff 0x0000000000040200
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x0000000000000000 0x0000000000000000 0x0000000000000000
";

fn mmio_bus() -> Arc<Bus> {
    Arc::new(Bus::new(BusKind::Mmio, false))
}

/// The ranges on the MMIO bus, as text.
fn ranges(mmio: &Bus) -> Vec<String> {
    mmio.ranges().iter().map(ToString::to_string).collect()
}

fn edu_bus() -> (Arc<Fake>, PciBus) {
    let (fake, bus, _) = edu_bus_mmio();
    (fake, bus)
}

fn edu_bus_mmio() -> (Arc<Fake>, PciBus, Arc<Bus>) {
    let fake = Fake::edu();
    let bars = parse_resource(EDU_RESOURCE).unwrap();
    let mmio = mmio_bus();
    let mut f = Function::new("edu", fake.clone(), &bars, mmio.clone()).unwrap();
    let mut next = PCI_MMIO_START;
    f.assign_resources(&mut next, 17).unwrap();
    (fake, PciBus::new(vec![f]), mmio)
}

fn cfg_addr(dev: u32, reg: u32) -> [u8; 4] {
    (0x8000_0000 | dev << 11 | reg).to_le_bytes()
}
fn rd(bus: &mut PciBus, dev: u32, off: u32, size: usize) -> u32 {
    assert!(bus.pio_write(CONFIG_ADDRESS, &cfg_addr(dev, off & !3)));
    let mut b = [0u8; 4];
    assert!(bus.pio_read(CONFIG_DATA + (off % 4) as u16, &mut b[..size]));
    u32::from_le_bytes(b)
}
fn wr(bus: &mut PciBus, dev: u32, off: u32, size: usize, v: u32) {
    assert!(bus.pio_write(CONFIG_ADDRESS, &cfg_addr(dev, off & !3)));
    assert!(bus.pio_write(CONFIG_DATA + (off % 4) as u16, &v.to_le_bytes()[..size]));
}

#[test]
fn resource_parsing() {
    let b = parse_resource(EDU_RESOURCE).unwrap();
    assert_eq!(b[0], Some(HostBar { size: 1 << 20, io: false, mem64: false, prefetch: false }));
    assert!(b[1..].iter().all(Option::is_none));
    let r = "0x1000 0x101f 0x40101\n0xfe000000 0xfe003fff 0x14220c\n0 0 0\n";
    let b = parse_resource(r).unwrap();
    assert_eq!(b[0], Some(HostBar { size: 32, io: true, mem64: false, prefetch: false }));
    assert_eq!(b[1], Some(HostBar { size: 0x4000, io: false, mem64: true, prefetch: true }));
    assert!(parse_resource("0x1000 0x1fff\n").is_err());
    assert!(parse_resource("0x1000 0x1ffe 0x200\n").is_err(), "not a power of two");
    assert!(parse_resource("zz 0 0\n").is_err());
}

#[test]
fn config_address_decoding() {
    assert_eq!(decode_config_address(0x8000_0810), Some(ConfigAddress { bus: 0, device: 1, function: 0, register: 0x10 }));
    assert_eq!(decode_config_address(0x80ff_ff3f), Some(ConfigAddress { bus: 0xff, device: 31, function: 7, register: 0x3c }));
    assert_eq!(decode_config_address(0x0000_0810), None, "enable bit clear");
    let (_, mut bus) = edu_bus();
    // CONFIG_ADDRESS reads back (reserved bits 30:28 and 1:0 clear): Linux's conf1 probe.
    bus.pio_write(CONFIG_ADDRESS, &0xffff_ffffu32.to_le_bytes());
    let mut b = [0u8; 4];
    bus.pio_read(CONFIG_ADDRESS, &mut b);
    assert_eq!(u32::from_le_bytes(b), 0x8fff_fffc);
    // An extended register number (bits 27:24): no such offset here.
    bus.pio_write(CONFIG_ADDRESS, &0x8100_0800u32.to_le_bytes());
    bus.pio_read(CONFIG_DATA, &mut b);
    assert_eq!(b, [0xff; 4]);
    // A byte write to 0xCFB is not CONFIG_ADDRESS.
    bus.pio_write(CONFIG_ADDRESS, &0x8000_0000u32.to_le_bytes());
    bus.pio_write(0xcfb, &[1]);
    bus.pio_read(CONFIG_ADDRESS, &mut b);
    assert_eq!(u32::from_le_bytes(b), 0x8000_0000);
    // Not our ports.
    assert!(!bus.pio_read(0xcf7, &mut b) && !bus.pio_write(0xd00, &b));
}

#[test]
fn host_bridge_and_empty_slots() {
    let (_, mut bus) = edu_bus();
    assert_eq!(rd(&mut bus, 0, 0, 4), 0x29c0_8086);
    assert_eq!(rd(&mut bus, 0, 0x0a, 2), 0x0600, "class: host bridge (Linux's conf1 sanity check)");
    assert_eq!(rd(&mut bus, 0, 0x02, 2), 0x29c0);
    assert_eq!(rd(&mut bus, 0, 0x0b, 1), 0x06);
    assert_eq!(rd(&mut bus, 1, 0, 4), 0x11e8_1234, "edu at 00:01.0");
    assert_eq!(rd(&mut bus, 1, 2, 2), 0x11e8, "word read at 0xCFE");
    assert_eq!(rd(&mut bus, 2, 0, 4), 0xffff_ffff, "empty slot");
    // Function 1 of slot 1, bus 1: nothing.
    bus.pio_write(CONFIG_ADDRESS, &(0x8000_0900u32).to_le_bytes());
    let mut b = [0u8; 2];
    bus.pio_read(CONFIG_DATA, &mut b);
    assert_eq!(b, [0xff; 2]);
    bus.pio_write(CONFIG_ADDRESS, &(0x8001_0800u32).to_le_bytes());
    bus.pio_read(CONFIG_DATA, &mut b);
    assert_eq!(b, [0xff; 2]);
    // Enable bit clear: all-ones.
    bus.pio_write(CONFIG_ADDRESS, &(0x0000_0800u32).to_le_bytes());
    bus.pio_read(CONFIG_DATA, &mut b);
    assert_eq!(b, [0xff; 2]);
    // A write to the host bridge changes nothing.
    wr(&mut bus, 0, 0, 4, 0);
    assert_eq!(rd(&mut bus, 0, 0, 4), 0x29c0_8086);
    // Header type: multi-function bit hidden; interrupt pin from the device, line from
    // the firmware, line writable.
    assert_eq!(rd(&mut bus, 1, 0x0e, 1), 0);
    assert_eq!(rd(&mut bus, 1, 0x3c, 2), 0x0111);
    wr(&mut bus, 1, 0x3c, 1, 0x42);
    assert_eq!(rd(&mut bus, 1, 0x3c, 4) & 0xffff, 0x0142);
    wr(&mut bus, 1, 0x3d, 1, 3);
    assert_eq!(rd(&mut bus, 1, 0x3d, 1), 1, "interrupt pin is read-only");
}

#[test]
fn bar_sizing_and_mapping() {
    let (fake, mut bus, mmio) = edu_bus_mmio();
    assert_eq!(rd(&mut bus, 1, 0x10, 4), 0xc000_0000, "initial assignment at the window's start");
    assert!(fake.log().is_empty(), "nothing mapped while Memory Space is off: {:?}", fake.log());
    assert!(ranges(&mmio).is_empty(), "no range while not mapped");
    // Sizing: all-ones, read the mask, restore.
    wr(&mut bus, 1, 0x10, 4, 0xffff_ffff);
    assert_eq!(rd(&mut bus, 1, 0x10, 4), 0xfff0_0000, "1 MiB, 32-bit, not prefetchable");
    wr(&mut bus, 1, 0x14, 4, 0xffff_ffff);
    assert_eq!(rd(&mut bus, 1, 0x14, 4), 0, "BAR1 does not exist: reads 0 after sizing");
    wr(&mut bus, 1, 0x30, 4, 0xffff_f800);
    assert_eq!(rd(&mut bus, 1, 0x30, 4), 0, "no ROM");
    wr(&mut bus, 1, 0x10, 4, 0xc010_0000);
    // Byte reads of a BAR.
    assert_eq!(rd(&mut bus, 1, 0x13, 1), 0xc0);
    assert_eq!(rd(&mut bus, 1, 0x12, 2), 0xc010);
    // BAR writes never reach the device.
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    // Memory Space on: mapped where the guest put it.
    wr(&mut bus, 1, 0x04, 2, 0x0006);
    assert_eq!(rd(&mut bus, 1, 0x04, 2) & 6, 6);
    assert_eq!(fake.log(), ["cfg 0x4/2 0x6", "map 0 0xc0100000"]);
    assert_eq!(ranges(&mmio), ["0xc0100000-0xc01fffff"], "the BAR's range follows its mapping");
    // Moved while on; not remapped for the same address.
    wr(&mut bus, 1, 0x10, 4, 0xc020_0000);
    wr(&mut bus, 1, 0x10, 4, 0xc020_0000);
    assert_eq!(fake.log().last().map(String::as_str), Some("map 0 0xc0200000"));
    assert_eq!(fake.log().iter().filter(|c| c.starts_with("map")).count(), 2);
    assert_eq!(ranges(&mmio), ["0xc0200000-0xc02fffff"], "moved, not added");
    // Sizing with Memory Space on (all-ones is outside the window): not mapped there.
    wr(&mut bus, 1, 0x10, 4, 0xffff_ffff);
    assert_eq!(fake.log().iter().filter(|c| c.starts_with("map")).count(), 2);
    // Off, moved, on: mapped at the new address when turned on.
    wr(&mut bus, 1, 0x04, 2, 0x0004);
    wr(&mut bus, 1, 0x10, 4, 0xc030_0000);
    assert_eq!(fake.log().iter().filter(|c| c.starts_with("map")).count(), 2);
    assert_eq!(ranges(&mmio), ["0xc0200000-0xc02fffff"], "still mapped at its last address while off");
    wr(&mut bus, 1, 0x04, 1, 0x06);
    assert_eq!(fake.log().last().map(String::as_str), Some("map 0 0xc0300000"));
    assert_eq!(ranges(&mmio), ["0xc0300000-0xc03fffff"]);
}

#[test]
fn bar_over_another_bar() {
    let mmio = mmio_bus();
    let (a, b) = (Fake::edu(), Fake::edu());
    let bars = parse_resource(EDU_RESOURCE).unwrap();
    let mut next = PCI_MMIO_START;
    let mut fa = Function::new("a", a.clone(), &bars, mmio.clone()).unwrap();
    fa.assign_resources(&mut next, 17).unwrap();
    let mut fb = Function::new("b", b.clone(), &bars, mmio.clone()).unwrap();
    fb.assign_resources(&mut next, 18).unwrap();
    let mut bus = PciBus::new(vec![fa, fb]);
    wr(&mut bus, 1, 0x04, 2, 0x0006);
    wr(&mut bus, 2, 0x04, 2, 0x0006);
    assert_eq!(ranges(&mmio), ["0xc0000000-0xc00fffff", "0xc0100000-0xc01fffff"]);
    // b's BAR moved onto a's: refused before the module is asked; b stays where it was.
    wr(&mut bus, 2, 0x10, 4, 0xc000_0000);
    assert_eq!(b.log(), ["cfg 0x4/2 0x6", "map 0 0xc0100000"]);
    assert_eq!(ranges(&mmio), ["0xc0000000-0xc00fffff", "0xc0100000-0xc01fffff"]);
    // Moved elsewhere: fine. Then a can take b's old place.
    wr(&mut bus, 2, 0x10, 4, 0xc080_0000);
    wr(&mut bus, 1, 0x10, 4, 0xc010_0000);
    assert_eq!(b.log().last().map(String::as_str), Some("map 0 0xc0800000"));
    assert_eq!(a.log().last().map(String::as_str), Some("map 0 0xc0100000"));
    assert_eq!(ranges(&mmio), ["0xc0100000-0xc01fffff", "0xc0800000-0xc08fffff"]);
}

#[test]
fn bar_64bit_prefetchable() {
    let fake = Fake::edu();
    let mut bars = [None; 6];
    bars[2] = Some(HostBar { size: 0x4000, io: false, mem64: true, prefetch: true });
    bars[0] = Some(HostBar { size: 0x100, io: true, mem64: false, prefetch: false });
    bars[4] = Some(HostBar { size: 0x100, io: false, mem64: false, prefetch: false });
    let mut f = Function::new("dev", fake.clone(), &bars, mmio_bus()).unwrap();
    let mut next = PCI_MMIO_START + 0x1000;
    f.assign_resources(&mut next, 16).unwrap();
    assert_eq!(next, PCI_MMIO_START + 0x8000, "naturally aligned");
    let mut bus = PciBus::new(vec![f]);
    assert_eq!(rd(&mut bus, 1, 0x10, 4), 0, "I/O BAR hidden");
    assert_eq!(rd(&mut bus, 1, 0x20, 4), 0, "sub-page BAR hidden");
    assert_eq!(rd(&mut bus, 1, 0x18, 4), 0xc000_400c, "64-bit prefetchable");
    assert_eq!(rd(&mut bus, 1, 0x1c, 4), 0);
    wr(&mut bus, 1, 0x18, 4, 0xffff_ffff);
    wr(&mut bus, 1, 0x1c, 4, 0xffff_ffff);
    assert_eq!(rd(&mut bus, 1, 0x18, 4), 0xffff_c00c);
    assert_eq!(rd(&mut bus, 1, 0x1c, 4), 0xffff_ffff);
    wr(&mut bus, 1, 0x18, 4, 0xc000_8000);
    wr(&mut bus, 1, 0x1c, 4, 0);
    wr(&mut bus, 1, 0x04, 2, 2);
    assert_eq!(fake.log().last().map(String::as_str), Some("map 2 0xc0008000"));
    // Upper half set: above the window, not mapped.
    wr(&mut bus, 1, 0x1c, 4, 1);
    assert_eq!(fake.log().last().map(String::as_str), Some("map 2 0xc0008000"));
}

#[test]
fn window_overflow() {
    let fake = Fake::edu();
    let mut bars = [None; 6];
    bars[0] = Some(HostBar { size: 1 << 30, io: false, mem64: false, prefetch: false });
    let mut f = Function::new("big", fake, &bars, mmio_bus()).unwrap();
    let mut next = PCI_MMIO_START;
    let e = f.assign_resources(&mut next, 16).unwrap_err().to_string();
    assert_eq!(e, "big: BAR0 (1048576 KiB) does not fit in the PCI MMIO window 0xc0000000-0xd0000000");
}

#[test]
fn msi_shadowing() {
    let (fake, mut bus) = edu_bus();
    // The list as the guest walks it: PM at 0x60, then MSI at 0x40 (header from the device).
    assert_eq!(rd(&mut bus, 1, 0x34, 1), 0x60);
    assert_eq!(rd(&mut bus, 1, 0x60, 2), 0x4001);
    assert_eq!(rd(&mut bus, 1, 0x40, 4), 0x0080_0005, "ID 5, end, 64-bit, 1 vector, off");
    // Program address, data; nothing routed until enabled.
    wr(&mut bus, 1, 0x44, 4, 0xfee0_1000);
    wr(&mut bus, 1, 0x48, 4, 0);
    wr(&mut bus, 1, 0x4c, 2, 0x41);
    assert_eq!(rd(&mut bus, 1, 0x44, 4), 0xfee0_1000);
    assert_eq!(rd(&mut bus, 1, 0x4c, 4), 0x41);
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    // Enable with Multiple Message Enable 1: one vector only (MME stays 0).
    wr(&mut bus, 1, 0x42, 2, 0x0011);
    assert_eq!(rd(&mut bus, 1, 0x42, 2), 0x0081);
    assert_eq!(fake.log(), ["msi 0xfee01000 0x41 true"]);
    // Data changed while on (affinity): re-routed; unchanged: no call.
    wr(&mut bus, 1, 0x4c, 2, 0x42);
    wr(&mut bus, 1, 0x40, 4, 0x0001_0000);
    assert_eq!(fake.log(), ["msi 0xfee01000 0x41 true", "msi 0xfee01000 0x42 true"]);
    // Disable: stopped. Capability writes never reach the device.
    wr(&mut bus, 1, 0x40, 4, 0);
    assert_eq!(fake.log().last().map(String::as_str), Some("msi 0x0 0x0 false"));
    assert!(!fake.log().iter().any(|c| c.starts_with("cfg")), "{:?}", fake.log());
    assert_eq!(rd(&mut bus, 1, 0x40, 4), 0x0080_0005);
    // Beyond the capability (0x50): passed through.
    wr(&mut bus, 1, 0x50, 4, 1);
    assert_eq!(fake.log().last().map(String::as_str), Some("cfg 0x50/4 0x1"));
}

#[test]
fn msi_32bit_with_mask() {
    let fake = Fake::edu();
    {
        let mut c = fake.cfg.lock().unwrap();
        c[0x42] = 0x00;
        c[0x43] = 0x01; // per-vector masking, 32-bit
    }
    let f = Function::new("d", fake.clone(), &[None; 6], mmio_bus()).unwrap();
    let mut bus = PciBus::new(vec![f]);
    wr(&mut bus, 1, 0x44, 4, 0xfee0_0003);
    assert_eq!(rd(&mut bus, 1, 0x44, 4), 0xfee0_0000, "address DWORD aligned");
    wr(&mut bus, 1, 0x48, 4, 0xffff_0033);
    assert_eq!(rd(&mut bus, 1, 0x48, 4), 0x33, "16-bit data");
    wr(&mut bus, 1, 0x4c, 4, 1);
    assert_eq!(rd(&mut bus, 1, 0x4c, 4), 1, "mask bits shadowed");
    assert_eq!(rd(&mut bus, 1, 0x50, 4), 0, "pending bits read 0");
    wr(&mut bus, 1, 0x42, 1, 1);
    assert_eq!(fake.log(), ["msi 0xfee00000 0x33 true"]);
}

#[test]
fn intx_routing() {
    assert_eq!(intx_gsi(1, 1), 17);
    assert_eq!(intx_gsi(1, 4), 16);
    assert_eq!(intx_gsi(3, 2), 16);
    let fake = Fake::edu();
    let router = IntxRouter::new(vec![IntxRoute::new("edu", 17, fake.clone())]);
    router.rte_written(16, 0x31, false); // another pin
    router.rte_written(17, 0x1_0031, true); // masked: already off
    assert!(fake.log().is_empty());
    // Level, active low, vector 0x31 to APIC 1: the IOAPIC's MSI translation.
    router.rte_written(17, 0x0100_0000_0000_a031, false);
    router.rte_written(17, 0x0100_0000_0000_a031, false);
    router.rte_written(17, 0x0100_0000_0001_a031, true);
    assert_eq!(fake.log(), ["intx 0xfee01000 0xc031 true", "intx 0x0 0x0 false"]);
    // ENOTTY (module without RSVM_DEVICE_INTX): reported once, then left alone.
    let old = Arc::new(Fake { intx_errno: Some(libc::ENOTTY), ..Default::default() });
    let router = IntxRouter::new(vec![IntxRoute::new("edu", 17, old.clone())]);
    router.rte_written(17, 0x31, false);
    router.rte_written(17, 0x32, false);
    assert_eq!(old.log(), ["intx-failed"]);
}
