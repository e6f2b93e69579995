//! The emulated PCI bus 0 (only with --passthrough): configuration mechanism #1 (PCI Local
//! Bus Specification 3.0, 3.2.2.3.2: CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF), a
//! host bridge at 00:00.0 and the passed-through functions at 00:01.0 and up.
//!
//! A passed-through function's configuration space goes to the device through a
//! [`DeviceBackend`] (the module's `RSVM_DEVICE_CONFIG`, which drops dangerous writes), except
//! the registers the VMM owns:
//! - the Base Address Registers: sizes and types from the host (sysfs `resource`), the
//!   addresses the guest's (sizing with all-ones works); a memory BAR is mapped into the guest
//!   (`map_bar`) at the address the guest programmed once Memory Space is on, and moved when
//!   reprogrammed; its range on the MMIO bus (`function::BarRange`) follows, so a BAR cannot be put
//!   over another device's range. I/O BARs and memory BARs smaller than a page are hidden
//!   (read 0);
//! - the Expansion ROM BAR: 0 (no ROM);
//! - Interrupt Line (a scratch register) and Interrupt Pin (the device's, read once);
//! - the Multi-Function bit of Header Type (each device is function 0 of its own slot);
//! - the MSI capability (found in the device's list) after its header: Message Control,
//!   Address, Data and Mask Bits are shadowed; enabling MSI routes the guest's message to the
//!   device's interrupt (`set_msi`), disabling it stops it. One vector (Multiple Message
//!   Capable reads 0).
//!
//! Unit-tested against a fake backend (tests.rs): no /dev/rsvm needed.
//!
//! `function.rs` is a passed-through function's configuration space, `intx.rs` its INTx
//! routing; here: the bus itself (mechanism #1, the host bridge), the backend interface, the
//! host's BARs and the interrupt wiring the firmware tables describe.

use crate::bus::BusDevice;
use crate::layout::{PCI_GSI_BASE, PCI_MMIO_END, PCI_MMIO_START};

mod function;
mod intx;
#[cfg(test)]
mod tests;

pub use function::Function;
pub use intx::{IntxRoute, IntxRouter};

pub const CONFIG_ADDRESS: u16 = 0xcf8;
pub const CONFIG_DATA: u16 = 0xcfc;
/// Ports of mechanism #1 from CONFIG_ADDRESS: 0xCF8-0xCFF.
pub const CONFIG_PORTS: u64 = 8;
/// Passed-through functions the bus takes (slots 1..=MAX_DEVICES).
pub const MAX_DEVICES: usize = 4;

/// Type-0 configuration header offsets (PCI Local Bus Specification 3.0, 6.1).
const PCI_COMMAND: u32 = 0x04;
const PCI_STATUS: u32 = 0x06;
const PCI_HEADER_TYPE: u32 = 0x0e;
const PCI_BASE_ADDRESS_0: u32 = 0x10;
const PCI_ROM_ADDRESS: u32 = 0x30;
const PCI_CAPABILITY_LIST: u32 = 0x34;
const PCI_INTERRUPT_LINE: u32 = 0x3c;
const PCI_INTERRUPT_PIN: u32 = 0x3d;
const PCI_COMMAND_MEMORY: u32 = 1 << 1;
const PCI_STATUS_CAP_LIST: u32 = 1 << 4;
const PCI_HEADER_TYPE_MULTI_FUNCTION: u32 = 0x80;
const PCI_BASE_ADDRESS_MEM_TYPE_64: u32 = 0x4;
const PCI_BASE_ADDRESS_MEM_PREFETCH: u32 = 0x8;
const PCI_CAP_ID_MSI: u32 = 0x05;
/// MSI Message Control bits (6.8.1.3).
const PCI_MSI_FLAGS_ENABLE: u16 = 1 << 0;
const PCI_MSI_FLAGS_64BIT: u16 = 1 << 7;
const PCI_MSI_FLAGS_MASKBIT: u16 = 1 << 8;
const PAGE: u64 = 4096;

/// An error of the device backend: the operation (the module's ioctl) and the errno
/// (ENOTTY tells "ioctl not there").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {}", std::io::Error::from_raw_os_error(*.errno))]
pub struct BackendError {
    pub op: &'static str,
    pub errno: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum PciError {
    #[error("resource line {line_no}: '{line}' is not three hex numbers")]
    ResourceSyntax { line_no: usize, line: String },
    #[error("resource line {0}: end before start")]
    ResourceEndBeforeStart(usize),
    #[error("BAR{bar}: size {size:#x} is not a power of two")]
    BarSize { bar: usize, size: u64 },
    #[error("{name}: config read at {offset:#x}: {source}")]
    ConfigRead { name: String, offset: u32, source: BackendError },
    #[error("BAR does not fit")]
    BarOverflow,
    #[error("{name}: BAR{bar} ({} KiB) does not fit in the PCI MMIO window {start:#x}-{end:#x}", .size >> 10, start = PCI_MMIO_START, end = PCI_MMIO_END)]
    WindowFull { name: String, bar: usize, size: u64 },
}

/// What a passed-through function's emulation needs from the device: the module's
/// assignment ioctls on /dev/rsvm (passthrough.rs), or a fake in the tests.
pub trait DeviceBackend: Send + Sync {
    /// A 1, 2 or 4-byte read at a naturally aligned `offset` < 256.
    fn config_read(&self, offset: u32, size: u32) -> Result<u32, BackendError>;
    /// A 1, 2 or 4-byte write (the backend may drop bits it does not allow).
    fn config_write(&self, offset: u32, size: u32, value: u32) -> Result<(), BackendError>;
    /// Maps memory BAR `bar` at guest-physical `gpa` (moving it if it was mapped elsewhere).
    fn map_bar(&self, bar: u32, gpa: u64) -> Result<(), BackendError>;
    /// Routes the device's MSI to the guest as this message (`on`), or stops it.
    fn set_msi(&self, address: u64, data: u32, on: bool) -> Result<(), BackendError>;
    /// Routes the device's INTx to the guest as this message (`on`), or stops it.
    fn set_intx(&self, address: u64, data: u32, on: bool) -> Result<(), BackendError>;
}

/// A BAR of the host device, from sysfs `resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostBar {
    pub size: u64,
    pub io: bool,
    pub mem64: bool,
    pub prefetch: bool,
}

/// IORESOURCE_* flags of `resource` lines (include/linux/ioport.h).
const IORESOURCE_IO: u64 = 0x100;
const IORESOURCE_MEM: u64 = 0x200;
const IORESOURCE_PREFETCH: u64 = 0x2000;
const IORESOURCE_MEM_64: u64 = 0x10_0000;

/// Parses `/sys/bus/pci/devices/BDF/resource`: one "start end flags" line per resource, the
/// first six the BARs (a 64-bit BAR's upper half is an empty line).
pub fn parse_resource(text: &str) -> Result<[Option<HostBar>; 6], PciError> {
    let mut bars = [None; 6];
    for (i, line) in text.lines().take(6).enumerate() {
        let syntax = || PciError::ResourceSyntax { line_no: i, line: line.into() };
        let f: Vec<u64> = line
            .split_whitespace()
            .map(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16))
            .collect::<Result<_, _>>()
            .map_err(|_| syntax())?;
        let [start, end, flags] = f[..] else { return Err(syntax()) };
        if end == 0 && start == 0 || flags & (IORESOURCE_IO | IORESOURCE_MEM) == 0 {
            continue;
        }
        let size = end.checked_sub(start).and_then(|s| s.checked_add(1)).ok_or(PciError::ResourceEndBeforeStart(i))?;
        if !size.is_power_of_two() {
            return Err(PciError::BarSize { bar: i, size });
        }
        bars[i] = Some(HostBar {
            size,
            io: flags & IORESOURCE_IO != 0,
            mem64: flags & IORESOURCE_MEM_64 != 0,
            prefetch: flags & IORESOURCE_PREFETCH != 0,
        });
    }
    Ok(bars)
}

/// A populated slot of bus 0 and its function's interrupt pin (1 = INTA .. 4 = INTD, 0 none),
/// for the firmware tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotIrq {
    pub slot: u8,
    pub pin: u8,
}

/// The IOAPIC input (GSI) INTx pin `pin` (1 = INTA .. 4 = INTD) of `slot` is wired to: the
/// usual swizzle over GSIs 16-19, as the _PRT and the MP table say.
pub fn intx_gsi(slot: u8, pin: u8) -> u32 {
    PCI_GSI_BASE + (u32::from(slot) + u32::from(pin.saturating_sub(1))) % 4
}

/// The host bridge at 00:00.0: read-only identity, class 0x0600 (host bridge).
const HOST_BRIDGE_ID: u32 = 0x29c0_8086; // Intel 82G33 DRAM controller, as QEMU's q35
const HOST_BRIDGE_CLASS: u32 = 0x0600_0000; // class 06 subclass 00 prog-if 00, revision 0

fn host_bridge_read(off: u32, size: u32) -> u32 {
    let dword = match off & !3 {
        0x00 => HOST_BRIDGE_ID,
        0x08 => HOST_BRIDGE_CLASS,
        _ => 0,
    };
    (dword >> (8 * (off % 4))) & (u32::MAX >> (32 - 8 * size))
}

/// Bus 0: the CONFIG_ADDRESS latch, the host bridge, the passed-through functions.
pub struct PciBus {
    address: u32,
    functions: Vec<Function>,
}

/// CONFIG_ADDRESS fields (bit 31 enable, 23:16 bus, 15:11 device, 10:8 function, 7:2 register).
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigAddress {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
    pub register: u32,
}

pub fn decode_config_address(a: u32) -> Option<ConfigAddress> {
    (a & 0x8000_0000 != 0).then_some(ConfigAddress {
        bus: (a >> 16) as u8,
        device: ((a >> 11) & 0x1f) as u8,
        function: ((a >> 8) & 7) as u8,
        register: a & 0xfc,
    })
}

impl PciBus {
    pub fn new(functions: Vec<Function>) -> Self {
        Self { address: 0, functions }
    }

    /// Which function the latched address selects, with the config offset of data port
    /// byte `port_off`; None: no function there (reads all-ones).
    fn target(&self, port_off: u32) -> Option<(usize, u32)> {
        let a = decode_config_address(self.address)?;
        // Bits 27:24 (AMD's extended register number) select offsets beyond 256, which
        // this bus does not have.
        if a.bus != 0 || a.function != 0 || self.address & 0x0f00_0000 != 0 {
            return None;
        }
        Some((usize::from(a.device), a.register + port_off))
    }

    fn config_read(&mut self, port_off: u32, size: u32) -> u32 {
        let Some((dev, off)) = self.target(port_off) else { return u32::MAX };
        match dev {
            0 => host_bridge_read(off, size),
            d => match self.functions.get_mut(d - 1) {
                Some(f) => f.read(off, size),
                None => u32::MAX,
            },
        }
    }

    fn config_write(&mut self, port_off: u32, size: u32, value: u32) {
        let Some((dev, off)) = self.target(port_off) else { return };
        // The host bridge ignores writes.
        if let Some(f) = dev.checked_sub(1).and_then(|d| self.functions.get_mut(d)) {
            f.write(off, size, value);
        }
    }

    /// Port reads at 0xCF8-0xCFF; false if not one of them.
    pub fn pio_read(&mut self, port: u16, data: &mut [u8]) -> bool {
        let size = data.len() as u32;
        let v = match port {
            CONFIG_ADDRESS if size == 4 => self.address,
            p if (CONFIG_DATA..CONFIG_DATA + 4).contains(&p) && matches!(size, 1 | 2 | 4) && u32::from(p - CONFIG_DATA) + size <= 4 => {
                self.config_read(u32::from(p - CONFIG_DATA), size)
            }
            p if (CONFIG_ADDRESS..CONFIG_DATA + 4).contains(&p) => u32::MAX,
            _ => return false,
        };
        for (i, d) in data.iter_mut().enumerate() {
            *d = (v >> (8 * (i % 4))) as u8;
        }
        true
    }

    /// Port writes at 0xCF8-0xCFF; false if not one of them.
    pub fn pio_write(&mut self, port: u16, data: &[u8]) -> bool {
        let size = data.len() as u32;
        let mut v = 0u32;
        for (i, d) in data.iter().take(4).enumerate() {
            v |= u32::from(*d) << (8 * i);
        }
        match port {
            // Only a dword write sets CONFIG_ADDRESS (byte writes to 0xCF8-0xCFB are other
            // I/O: Linux's mechanism #2 probe writes 0xCFB).
            CONFIG_ADDRESS if size == 4 => self.address = v & 0x8fff_fffc,
            p if (CONFIG_DATA..CONFIG_DATA + 4).contains(&p) && matches!(size, 1 | 2 | 4) && u32::from(p - CONFIG_DATA) + size <= 4 => {
                self.config_write(u32::from(p - CONFIG_DATA), size, v)
            }
            p if (CONFIG_ADDRESS..CONFIG_DATA + 4).contains(&p) => {}
            _ => return false,
        }
        true
    }
}

/// On the port bus at [`CONFIG_ADDRESS`], [`CONFIG_PORTS`] ports: any access size (what
/// mechanism #1 does not decode reads all-ones here, not as unclaimed).
impl BusDevice for PciBus {
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) -> bool {
        data.fill(0xff);
        PciBus::pio_read(self, (base + offset) as u16, data)
    }

    fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> bool {
        PciBus::pio_write(self, (base + offset) as u16, data)
    }
}
