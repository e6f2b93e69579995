//! Port-I/O and MMIO dispatch to the devices. Anything unclaimed reads as all-ones and
//! ignores writes (no PIC, no PIT; no PCI unless --passthrough); with --verbose the first
//! access to each unclaimed port or page is logged. A passed-through device's BARs are in
//! the guest's nested page table: their accesses never come here.

use crate::acpi::{SleepControl, SLEEP_CONTROL_PORT, SLEEP_STATUS_PORT};
use crate::i8042::{self, I8042};
use crate::ioapic::Ioapic;
use crate::pci::{PciBus, CONFIG_ADDRESS};
use crate::layout::{IOAPIC_BASE, IOAPIC_SIZE, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SIZE};
use crate::serial::{Com1, COM1_BASE, COM1_LEN};
use crate::virtio_mmio::VirtioMmioBlock;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

pub struct Bus {
    pub serial: Arc<Mutex<Com1>>,
    pub i8042: Mutex<I8042>,
    pub ioapic: Arc<Mutex<Ioapic>>,
    pub blk: Option<Mutex<VirtioMmioBlock>>,
    pub sleep: Option<SleepControl>,
    pub pci: Option<Mutex<PciBus>>,
    pub verbose: bool,
    seen: Mutex<HashSet<u64>>,
}

impl Bus {
    pub fn new(
        serial: Arc<Mutex<Com1>>,
        i8042: I8042,
        ioapic: Arc<Mutex<Ioapic>>,
        blk: Option<VirtioMmioBlock>,
        sleep: Option<SleepControl>,
        pci: Option<PciBus>,
        verbose: bool,
    ) -> Self {
        Self { serial, i8042: Mutex::new(i8042), ioapic, blk: blk.map(Mutex::new), sleep, pci: pci.map(Mutex::new), verbose, seen: Mutex::new(HashSet::new()) }
    }

    fn unclaimed(&self, what: &str, addr: u64, write: bool) {
        if self.verbose {
            if let Ok(mut s) = self.seen.lock() {
                let key = if what == "mmio" { addr & !0xfff } else { addr };
                if s.insert(key | (u64::from(what == "mmio") << 63)) {
                    eprintln!("rsvm-vmm: unclaimed {what} {} at {addr:#x} (reads all-ones, writes ignored; logged once)", if write { "write" } else { "read" });
                }
            }
        }
    }

    pub fn pio_read(&self, port: u16, data: &mut [u8]) {
        match port {
            p if (COM1_BASE..COM1_BASE + COM1_LEN).contains(&p) && data.len() == 1 => {
                if let Ok(mut s) = self.serial.lock() {
                    data[0] = s.read((p - COM1_BASE) as u8);
                }
            }
            i8042::DATA_PORT | i8042::COMMAND_PORT if data.len() == 1 => {
                if let Ok(mut k) = self.i8042.lock() {
                    data[0] = k.read(port);
                }
            }
            SLEEP_CONTROL_PORT | SLEEP_STATUS_PORT if data.len() == 1 && self.sleep.is_some() => {
                data[0] = self.sleep.as_ref().map_or(0xff, |s| s.read(port));
            }
            CONFIG_ADDRESS..=0xcff if self.pci.is_some() => {
                data.fill(0xff);
                if let Some(Ok(mut p)) = self.pci.as_ref().map(|p| p.lock()) {
                    p.pio_read(port, data);
                }
            }
            _ => {
                data.fill(0xff);
                self.unclaimed("port", u64::from(port), false);
            }
        }
    }

    pub fn pio_write(&self, port: u16, data: &[u8]) {
        match port {
            p if (COM1_BASE..COM1_BASE + COM1_LEN).contains(&p) && data.len() == 1 => {
                if let Ok(mut s) = self.serial.lock() {
                    // The trigger cannot fail; an output error is already swallowed.
                    let _ = s.write((p - COM1_BASE) as u8, data[0]);
                }
            }
            i8042::DATA_PORT | i8042::COMMAND_PORT if data.len() == 1 => {
                if let Ok(mut k) = self.i8042.lock() {
                    k.write(port, data[0]);
                }
            }
            SLEEP_CONTROL_PORT | SLEEP_STATUS_PORT if data.len() == 1 && self.sleep.is_some() => {
                if let Some(s) = &self.sleep {
                    s.write(port, data[0]);
                }
            }
            CONFIG_ADDRESS..=0xcff if self.pci.is_some() => {
                if let Some(Ok(mut p)) = self.pci.as_ref().map(|p| p.lock()) {
                    p.pio_write(port, data);
                }
            }
            _ => self.unclaimed("port", u64::from(port), true),
        }
    }

    pub fn mmio_read(&self, addr: u64, data: &mut [u8]) {
        if (IOAPIC_BASE..IOAPIC_BASE + IOAPIC_SIZE).contains(&addr) {
            if let Ok(mut io) = self.ioapic.lock() {
                io.mmio_read(addr - IOAPIC_BASE, data);
            }
            return;
        }
        if let Some(blk) = &self.blk {
            if (VIRTIO_MMIO_BASE..VIRTIO_MMIO_BASE + VIRTIO_MMIO_SIZE).contains(&addr) {
                if let Ok(mut b) = blk.lock() {
                    b.read(addr - VIRTIO_MMIO_BASE, data);
                }
                return;
            }
        }
        data.fill(0xff);
        self.unclaimed("mmio", addr, false);
    }

    pub fn mmio_write(&self, addr: u64, data: &[u8]) {
        if (IOAPIC_BASE..IOAPIC_BASE + IOAPIC_SIZE).contains(&addr) {
            if let Ok(mut io) = self.ioapic.lock() {
                io.mmio_write(addr - IOAPIC_BASE, data);
            }
            return;
        }
        if let Some(blk) = &self.blk {
            if (VIRTIO_MMIO_BASE..VIRTIO_MMIO_BASE + VIRTIO_MMIO_SIZE).contains(&addr) {
                if let Ok(mut b) = blk.lock() {
                    b.write(addr - VIRTIO_MMIO_BASE, data);
                }
                return;
            }
        }
        self.unclaimed("mmio", addr, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{ExitSignal, VmExit};
    use crate::ioapic::tests::Recorder;
    use crate::ioapic::IrqLine;
    use crate::serial::ConsoleOut;
    use vm_superio::Serial;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn dispatch() {
        let exit = Arc::new(ExitSignal::default());
        let ioapic = Arc::new(Mutex::new(Ioapic::new(1, Arc::new(Recorder::default()))));
        let out = Shared::default();
        let com1 = Serial::new(IrqLine { ioapic: ioapic.clone(), pin: 4 }, ConsoleOut::new(Box::new(out.clone()), exit.clone()));
        let bus = Bus::new(Arc::new(Mutex::new(com1)), I8042::new(exit.clone()), ioapic, None, None, None, false);
        // Unclaimed port and MMIO: all-ones, writes ignored (no PIC, no PIT, no PCI).
        for port in [0x21u16, 0x40, 0x61, 0xcfc] {
            let mut b = [0u8; 4];
            bus.pio_read(port, &mut b[..1]);
            assert_eq!(b[0], 0xff);
            bus.pio_read(port, &mut b);
            assert_eq!(b, [0xff; 4]);
            bus.pio_write(port, &[0]);
        }
        let mut m = [0u8; 4];
        bus.mmio_read(0xd000_0000, &mut m); // no disk configured
        assert_eq!(m, [0xff; 4]);
        // COM1: a byte out; LSR says the transmitter is empty.
        bus.pio_write(0x3f8, b"A");
        assert_eq!(*out.0.lock().unwrap(), b"A");
        let mut lsr = [0u8];
        bus.pio_read(0x3fd, &mut lsr);
        assert_ne!(lsr[0] & 0x20, 0);
        // IOAPIC version through the bus.
        bus.mmio_write(0xfec0_0000, &1u32.to_le_bytes());
        bus.mmio_read(0xfec0_0010, &mut m);
        assert_eq!(u32::from_le_bytes(m), 0x0017_0011);
        // i8042 reset.
        assert!(!exit.is_set());
        bus.pio_write(0x64, &[0xfe]);
        assert_eq!(exit.wait(None), VmExit::Reset);
    }
}
