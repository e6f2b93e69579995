//! An 82093AA-style IOAPIC (24 pins) emulated in the VMM. With KVM's split irqchip the local
//! APICs are in the kernel; a pin assertion becomes an MSI (KVM_SIGNAL_MSI) built from the
//! pin's redirection entry: vector, delivery mode, destination mode and destination.
//!
//! Pins are edge-triggered as the MP table says for ISA IRQs. An entry the guest programs
//! level-triggered is delivered the same way (one MSI per assertion); remote IRR and the
//! EOI broadcast (KVM_EXIT_IOAPIC_EOI) are not emulated: they would need KVM_SET_GSI_ROUTING,
//! which rsvm does not provide, for the kernel to report the EOI of a level-triggered vector.

use crate::bus::BusDevice;
use std::sync::{Arc, Mutex};

pub const NUM_PINS: usize = 24;
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const IOAPIC_EOI: u64 = 0x40;
const REG_ID: u32 = 0x00;
const REG_VER: u32 = 0x01;
const REG_ARB: u32 = 0x02;
const REG_REDIR: u32 = 0x10;
const VERSION: u32 = 0x11 | ((NUM_PINS as u32 - 1) << 16);

const RTE_MASKED: u64 = 1 << 16;
const RTE_LEVEL: u64 = 1 << 15;
const RTE_REMOTE_IRR: u64 = 1 << 14;
const RTE_DELIVERY_STATUS: u64 = 1 << 12;
const RTE_DEST_LOGICAL: u64 = 1 << 11;
/// Bits the guest cannot write: delivery status and remote IRR.
const RTE_RO: u64 = RTE_REMOTE_IRR | RTE_DELIVERY_STATUS;

/// Told about every redirection-entry write (the PCI bus routes a passed-through device's
/// INTx by the entry of its pin). Called with the IOAPIC locked.
pub trait RteObserver: Send + Sync {
    fn rte_written(&self, pin: usize, rte: u64, masked: bool);
}

#[derive(Debug, thiserror::Error)]
pub enum IoapicError {
    #[error("KVM_SIGNAL_MSI: {0}")]
    SignalMsi(kvm_ioctls::Error),
}

/// Where assertions go: KVM_SIGNAL_MSI on the VM, or a recorder in tests.
pub trait MsiSink: Send + Sync {
    fn signal_msi(&self, address: u64, data: u32) -> Result<(), IoapicError>;
}

impl MsiSink for kvm_ioctls::VmFd {
    fn signal_msi(&self, address: u64, data: u32) -> Result<(), IoapicError> {
        let msi = kvm_bindings::kvm_msi { address_lo: address as u32, address_hi: (address >> 32) as u32, data, ..Default::default() };
        // KVM returns 0 when the interrupt was blocked or coalesced: not an error.
        kvm_ioctls::VmFd::signal_msi(self, msi).map(|_| ()).map_err(IoapicError::SignalMsi)
    }
}

/// The MSI (address, data) a redirection entry turns into, in the x86 MSI format the local
/// APICs take (Intel SDM vol. 3 10.11): address 0xfee00000 | destination << 12 | logical << 2,
/// data = vector | delivery mode << 8 | level << 15 (| assert << 14 for level).
pub fn rte_to_msi(rte: u64) -> (u64, u32) {
    let vector = (rte & 0xff) as u32;
    let delivery_mode = ((rte >> 8) & 0x7) as u32;
    let dest = (rte >> 56) & 0xff;
    let logical = u64::from(rte & RTE_DEST_LOGICAL != 0);
    let level = rte & RTE_LEVEL != 0;
    let address = 0xfee0_0000 | (dest << 12) | (logical << 2);
    let mut data = vector | (delivery_mode << 8);
    if level {
        data |= (1 << 15) | (1 << 14);
    }
    (address, data)
}

pub struct Ioapic {
    id: u32,
    regsel: u32,
    rte: [u64; NUM_PINS],
    sink: Arc<dyn MsiSink>,
    observer: Option<Arc<dyn RteObserver>>,
    /// Errors from the sink, reported once.
    error_reported: bool,
}

impl Ioapic {
    pub fn new(id: u8, sink: Arc<dyn MsiSink>) -> Self {
        // Every pin starts masked (82093AA reset state).
        Self { id: u32::from(id) << 24, regsel: 0, rte: [RTE_MASKED; NUM_PINS], sink, observer: None, error_reported: false }
    }

    pub fn set_observer(&mut self, o: Arc<dyn RteObserver>) {
        self.observer = Some(o);
    }

    /// An edge on `pin`: delivered unless the pin is masked.
    pub fn pulse(&mut self, pin: usize) {
        let Some(&rte) = self.rte.get(pin) else { return };
        if rte & RTE_MASKED != 0 {
            return;
        }
        let (address, data) = rte_to_msi(rte);
        if let Err(e) = self.sink.signal_msi(address, data) {
            if !self.error_reported {
                log::error!("IOAPIC pin {pin}: {e}");
                self.error_reported = true;
            }
        }
    }

    fn read_reg(&self) -> u32 {
        match self.regsel {
            REG_ID => self.id,
            REG_VER => VERSION,
            REG_ARB => self.id,
            r if (REG_REDIR..REG_REDIR + 2 * NUM_PINS as u32).contains(&r) => {
                let i = ((r - REG_REDIR) / 2) as usize;
                if r % 2 == 0 { self.rte[i] as u32 } else { (self.rte[i] >> 32) as u32 }
            }
            _ => 0,
        }
    }

    fn write_reg(&mut self, val: u32) {
        match self.regsel {
            REG_ID => self.id = val & 0x0f00_0000,
            r if (REG_REDIR..REG_REDIR + 2 * NUM_PINS as u32).contains(&r) => {
                let i = ((r - REG_REDIR) / 2) as usize;
                let old = self.rte[i];
                let new = if r % 2 == 0 {
                    (old & !0xffff_ffff) | u64::from(val)
                } else {
                    (old & 0xffff_ffff) | (u64::from(val) << 32)
                };
                self.rte[i] = (new & !RTE_RO) | (old & RTE_RO);
                if let Some(o) = &self.observer {
                    o.rte_written(i, self.rte[i], self.rte[i] & RTE_MASKED != 0);
                }
            }
            _ => {}
        }
    }

    /// MMIO read at `offset` in the IOAPIC page.
    pub fn mmio_read(&mut self, offset: u64, data: &mut [u8]) {
        let v = match offset {
            IOREGSEL => self.regsel,
            IOWIN => self.read_reg(),
            _ => 0,
        };
        let b = v.to_le_bytes();
        for (i, d) in data.iter_mut().enumerate() {
            *d = b.get(i).copied().unwrap_or(0);
        }
    }

    /// MMIO write at `offset`.
    pub fn mmio_write(&mut self, offset: u64, data: &[u8]) {
        let mut b = [0u8; 4];
        for (i, d) in data.iter().take(4).enumerate() {
            b[i] = *d;
        }
        let v = u32::from_le_bytes(b);
        match offset {
            IOREGSEL => self.regsel = v & 0xff,
            IOWIN => self.write_reg(v),
            // Directed EOI (version 0x20 only): nothing to clear, remote IRR is not tracked.
            IOAPIC_EOI => {}
            _ => {}
        }
    }

    #[cfg(test)]
    pub fn rte(&self, pin: usize) -> u64 {
        self.rte[pin]
    }
}

/// On the MMIO bus at IOAPIC_BASE (layout.rs), IOAPIC_SIZE bytes: any access size.
impl BusDevice for Ioapic {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) -> bool {
        self.mmio_read(offset, data);
        true
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> bool {
        self.mmio_write(offset, data);
        true
    }
}

/// An interrupt line of a device: pin `pin` of the IOAPIC; vm-superio devices trigger it.
#[derive(Clone)]
pub struct IrqLine {
    pub ioapic: Arc<Mutex<Ioapic>>,
    pub pin: usize,
}

impl IrqLine {
    pub fn pulse(&self) {
        // A poisoned lock means another thread panicked; the process aborts (panic=abort).
        if let Ok(mut io) = self.ioapic.lock() {
            io.pulse(self.pin);
        }
    }
}

impl vm_superio::Trigger for IrqLine {
    type E = std::convert::Infallible;
    fn trigger(&self) -> Result<(), Self::E> {
        self.pulse();
        Ok(())
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    #[derive(Default)]
    pub struct Recorder(pub Mutex<Vec<(u64, u32)>>);
    impl MsiSink for Recorder {
        fn signal_msi(&self, address: u64, data: u32) -> Result<(), IoapicError> {
            self.0.lock().unwrap().push((address, data));
            Ok(())
        }
    }

    fn write32(io: &mut Ioapic, off: u64, v: u32) {
        io.mmio_write(off, &v.to_le_bytes());
    }
    fn read32(io: &mut Ioapic, off: u64) -> u32 {
        let mut b = [0; 4];
        io.mmio_read(off, &mut b);
        u32::from_le_bytes(b)
    }
    fn set_rte(io: &mut Ioapic, pin: u32, v: u64) {
        write32(io, IOREGSEL, REG_REDIR + 2 * pin);
        write32(io, IOWIN, v as u32);
        write32(io, IOREGSEL, REG_REDIR + 2 * pin + 1);
        write32(io, IOWIN, (v >> 32) as u32);
    }

    #[test]
    fn msi_format() {
        // Fixed, physical, vector 0x31 to APIC 1, edge.
        assert_eq!(rte_to_msi(0x0100_0000_0000_0031), (0xfee0_1000, 0x31));
        // Lowest priority (1), logical, destination 0x03.
        assert_eq!(rte_to_msi(0x0300_0000_0000_0941), (0xfee0_3004, 0x141));
        // NMI (4), level.
        assert_eq!(rte_to_msi(0x0000_0000_0000_8402), (0xfee0_0000, 0xc402));
    }

    #[test]
    fn id_version_and_registers() {
        let rec = Arc::new(Recorder::default());
        let mut io = Ioapic::new(2, rec.clone());
        write32(&mut io, IOREGSEL, REG_ID);
        assert_eq!(read32(&mut io, IOWIN), 2 << 24);
        write32(&mut io, IOREGSEL, REG_VER);
        assert_eq!(read32(&mut io, IOWIN), 0x0017_0011);
        // Reset state: masked.
        assert_eq!(io.rte(4), RTE_MASKED);
        // Read-only bits stay.
        set_rte(&mut io, 4, 0x0100_0000_0000_5031);
        assert_eq!(io.rte(4), 0x0100_0000_0000_0031);
        write32(&mut io, IOREGSEL, REG_REDIR + 9);
        assert_eq!(read32(&mut io, IOWIN), 0x0100_0000);
    }

    #[test]
    fn mask_and_delivery() {
        let rec = Arc::new(Recorder::default());
        let mut io = Ioapic::new(1, rec.clone());
        io.pulse(4);
        assert!(rec.0.lock().unwrap().is_empty(), "masked at reset");
        set_rte(&mut io, 4, 0x0000_0000_0000_0024);
        io.pulse(4);
        io.pulse(5);
        io.pulse(99);
        assert_eq!(*rec.0.lock().unwrap(), vec![(0xfee0_0000, 0x24)]);
        set_rte(&mut io, 4, RTE_MASKED | 0x24);
        io.pulse(4);
        assert_eq!(rec.0.lock().unwrap().len(), 1, "masked again");
    }
}
