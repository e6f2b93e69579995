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
//!   reprogrammed; its range on the MMIO bus ([`BarRange`]) follows, so a BAR cannot be put
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
//! Unit-tested against a fake backend (tests below): no /dev/rsvm needed.

use crate::bus::{Bus, BusDevice};
use crate::ioapic::{rte_to_msi, RteObserver};
use crate::layout::{PCI_GSI_BASE, PCI_MMIO_END, PCI_MMIO_START};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

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

/// An emulated memory BAR (its register pair for a 64-bit one).
#[derive(Clone, Copy, Debug)]
struct Bar {
    size: u64,
    mem64: bool,
    prefetch: bool,
    /// Where it is mapped in the guest now (and registered on the MMIO bus).
    mapped: Option<u64>,
}

/// A mapped memory BAR's range on the MMIO bus. The BAR is in the guest's nested page table
/// there, so the guest's accesses reach the device without an exit; the range reserves the
/// addresses. An access that exits anyway is answered as unclaimed (all-ones).
struct BarRange;

impl BusDevice for BarRange {
    fn read(&mut self, _base: u64, _offset: u64, _data: &mut [u8]) -> bool {
        false
    }

    fn write(&mut self, _base: u64, _offset: u64, _data: &[u8]) -> bool {
        false
    }
}

/// The shadowed MSI capability.
#[derive(Clone, Copy, Debug, Default)]
struct Msi {
    /// Offset of the capability (its ID byte).
    cap: u32,
    /// Message Control bits the device decides (64-bit, per-vector masking).
    ctrl_ro: u16,
    enable: bool,
    addr_lo: u32,
    addr_hi: u32,
    data: u16,
    mask: u32,
    /// The message routed now.
    routed: Option<(u64, u32)>,
}

impl Msi {
    fn is64(&self) -> bool {
        self.ctrl_ro & PCI_MSI_FLAGS_64BIT != 0
    }
    fn data_off(&self) -> u32 {
        if self.is64() { 0x0c } else { 0x08 }
    }
    /// Bytes of the capability after its header (ID, Next) that are shadowed.
    fn end(&self) -> u32 {
        let mut len = self.data_off() + 4;
        if self.ctrl_ro & PCI_MSI_FLAGS_MASKBIT != 0 {
            len += 8; // Mask Bits, Pending Bits
        }
        self.cap + len
    }
    fn address(&self) -> u64 {
        u64::from(self.addr_lo) | if self.is64() { u64::from(self.addr_hi) << 32 } else { 0 }
    }
    /// The 32-bit register at `rel` (a multiple of 4, relative to the capability).
    fn reg(&self, rel: u32) -> u32 {
        match rel {
            0 => u32::from(self.ctrl_ro | u16::from(self.enable)) << 16,
            4 => self.addr_lo,
            8 if self.is64() => self.addr_hi,
            r if r == self.data_off() => u32::from(self.data),
            r if r == self.data_off() + 4 && self.ctrl_ro & PCI_MSI_FLAGS_MASKBIT != 0 => self.mask,
            _ => 0, // Pending Bits: the device's, not visible here
        }
    }
    fn set_reg(&mut self, rel: u32, v: u32) {
        match rel {
            // ID and Next are read-only; Multiple Message Enable stays 0 (one vector).
            0 => self.enable = (v >> 16) as u16 & PCI_MSI_FLAGS_ENABLE != 0,
            4 => self.addr_lo = v & !3, // DWORD aligned
            8 if self.is64() => self.addr_hi = v,
            r if r == self.data_off() => self.data = v as u16,
            // Per-vector masking is shadowed, not honoured (Documentation/vmm.md).
            r if r == self.data_off() + 4 && self.ctrl_ro & PCI_MSI_FLAGS_MASKBIT != 0 => self.mask = v,
            _ => {}
        }
    }
}

/// A passed-through function: the device's configuration space with the VMM's registers
/// laid over it.
pub struct Function {
    pub name: String,
    backend: Arc<dyn DeviceBackend>,
    /// Where the mapped BARs' ranges are registered.
    mmio: Arc<Bus>,
    /// BAR register values as the guest wrote them (masked on read).
    bar_regs: [u32; 6],
    bars: [Option<Bar>; 6],
    interrupt_line: u8,
    interrupt_pin: u8,
    header_type: u8,
    msi: Option<Msi>,
    memory_on: bool,
    /// Backend and guest errors, each reported once.
    reported: HashSet<String>,
}

impl Function {
    /// Reads what the emulation needs from the device: Interrupt Pin, Header Type, the MSI
    /// capability. `host` are its BARs from the host; `mmio` is the bus their ranges go on.
    pub fn new(name: &str, backend: Arc<dyn DeviceBackend>, host: &[Option<HostBar>; 6], mmio: Arc<Bus>) -> Result<Self, PciError> {
        let rd = |offset: u32, size: u32| backend.config_read(offset, size).map_err(|source| PciError::ConfigRead { name: name.into(), offset, source });
        let mut bars = [None; 6];
        let mut notes = Vec::new();
        let mut i = 0;
        while i < 6 {
            if let Some(h) = host[i] {
                if h.io {
                    notes.push(format!("BAR{i} (I/O, {} bytes) hidden: I/O BARs are not passed through", h.size));
                } else if h.size < PAGE {
                    notes.push(format!("BAR{i} ({} bytes) hidden: memory BARs smaller than a page cannot be mapped safely", h.size));
                } else if h.mem64 && i == 5 {
                    notes.push("BAR5 is 64-bit: hidden (no register left for its upper half)".into());
                } else {
                    bars[i] = Some(Bar { size: h.size, mem64: h.mem64, prefetch: h.prefetch, mapped: None });
                }
                if h.mem64 {
                    i += 1; // the upper half
                }
            }
            i += 1;
        }
        for n in &notes {
            eprintln!("rsvm-vmm: {name}: {n}");
        }
        let mut msi = None;
        if rd(PCI_STATUS, 2)? & PCI_STATUS_CAP_LIST != 0 {
            let mut ptr = rd(PCI_CAPABILITY_LIST, 1)? & 0xfc;
            // At most 48 capabilities fit in 192 bytes: a longer chain loops.
            for _ in 0..48 {
                if ptr < 0x40 {
                    break;
                }
                let hdr = rd(ptr, 2)?;
                if hdr & 0xff == PCI_CAP_ID_MSI {
                    let ctrl = rd(ptr + 2, 2)? as u16;
                    msi = Some(Msi { cap: ptr, ctrl_ro: ctrl & (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT), ..Default::default() });
                    break;
                }
                ptr = (hdr >> 8) & 0xfc;
            }
        }
        let interrupt_pin = rd(PCI_INTERRUPT_PIN, 1)? as u8;
        let header_type = rd(PCI_HEADER_TYPE, 1)? as u8;
        let memory_on = rd(PCI_COMMAND, 2)? & PCI_COMMAND_MEMORY != 0;
        Ok(Self { name: name.into(), backend, mmio, bar_regs: [0; 6], bars, interrupt_line: 0, interrupt_pin, header_type, msi, memory_on, reported: HashSet::new() })
    }

    pub fn interrupt_pin(&self) -> u8 {
        self.interrupt_pin
    }

    /// The firmware's part: every memory BAR at a naturally aligned address from `*next` in
    /// the MMIO window (the guest may move them), and Interrupt Line set to `line`.
    pub fn assign_resources(&mut self, next: &mut u64, line: u8) -> Result<(), PciError> {
        for i in 0..6 {
            let Some(b) = self.bars[i] else { continue };
            let at = next.checked_next_multiple_of(b.size).ok_or(PciError::BarOverflow)?;
            let end = at
                .checked_add(b.size)
                .filter(|&e| e <= PCI_MMIO_END)
                .ok_or_else(|| PciError::WindowFull { name: self.name.clone(), bar: i, size: b.size })?;
            self.bar_regs[i] = at as u32;
            if b.mem64 {
                self.bar_regs[i + 1] = (at >> 32) as u32;
            }
            *next = end;
        }
        self.interrupt_line = line;
        self.update_bars();
        Ok(())
    }

    fn report(&mut self, msg: String) {
        if self.reported.insert(msg.clone()) {
            eprintln!("rsvm-vmm: {}: {msg} (reported once)", self.name);
        }
    }

    /// The value of BAR register `i` as the guest reads it.
    fn bar_read(&self, i: usize) -> u32 {
        let reg = self.bar_regs[i];
        if let Some(b) = self.bars[i] {
            let mask = !(b.size - 1) as u32 & !0xf;
            let flags = if b.mem64 { PCI_BASE_ADDRESS_MEM_TYPE_64 } else { 0 } | if b.prefetch { PCI_BASE_ADDRESS_MEM_PREFETCH } else { 0 };
            return (reg & mask) | flags;
        }
        // The upper half of a 64-bit BAR.
        match i.checked_sub(1).and_then(|l| self.bars[l]) {
            Some(lo) if lo.mem64 => reg & (!(lo.size - 1) >> 32) as u32,
            _ => 0,
        }
    }

    /// The guest-physical address memory BAR `i` decodes now.
    fn bar_address(&self, i: usize) -> Option<u64> {
        let b = self.bars[i]?;
        let lo = u64::from(self.bar_read(i) & !0xf);
        let hi = if b.mem64 { u64::from(self.bar_read(i + 1)) << 32 } else { 0 };
        Some(hi | lo)
    }

    /// Maps (or moves) every memory BAR whose address the guest changed, while Memory Space
    /// is on. A BAR outside the MMIO window (e.g. mid-sizing, all-ones), or over another
    /// BAR's range, is left where it was.
    fn update_bars(&mut self) {
        if !self.memory_on {
            // The module cannot unmap a BAR: it stays at its last address (harmless: only
            // this guest's own device is there). Documentation/vmm.md.
            return;
        }
        for i in 0..6 {
            let (Some(b), Some(addr)) = (self.bars[i], self.bar_address(i)) else { continue };
            if b.mapped == Some(addr) {
                continue;
            }
            if addr < PCI_MMIO_START || addr.saturating_add(b.size) > PCI_MMIO_END {
                self.report(format!("BAR{i} programmed at {addr:#x}, outside the PCI MMIO window {PCI_MMIO_START:#x}-{PCI_MMIO_END:#x}: not mapped there"));
                continue;
            }
            // The range first: the module would refuse an overlap with another BAR (EEXIST).
            let placed = match b.mapped {
                None => self.mmio.insert(Arc::new(Mutex::new(BarRange)), addr, b.size),
                Some(old) => self.mmio.move_range(old, addr),
            };
            if let Err(e) = placed {
                self.report(format!("BAR{i} programmed at {addr:#x}: {e}: not mapped there"));
                continue;
            }
            match self.backend.map_bar(i as u32, addr) {
                Ok(()) => {
                    if let Some(bb) = self.bars[i].as_mut() {
                        bb.mapped = Some(addr);
                    }
                }
                Err(e) => {
                    // Back to where the NPT still has it (the place was just vacated).
                    let _ = match b.mapped {
                        None => self.mmio.remove(addr).map(|_| ()),
                        Some(old) => self.mmio.move_range(addr, old),
                    };
                    self.report(format!("mapping BAR{i} at {addr:#x}: {e}"))
                }
            }
        }
    }

    /// Routes or stops MSI after the guest changed the capability.
    fn update_msi(&mut self) {
        let Some(m) = self.msi else { return };
        let want = m.enable.then(|| (m.address(), u32::from(m.data)));
        if want == m.routed {
            return;
        }
        let r = match want {
            Some((a, d)) => self.backend.set_msi(a, d, true),
            None => self.backend.set_msi(0, 0, false),
        };
        match r {
            Ok(()) => {
                if let Some(mm) = self.msi.as_mut() {
                    mm.routed = want;
                }
            }
            Err(e) => self.report(format!("MSI {want:x?}: {e}")),
        }
    }

    /// Whether the VMM owns config byte `off`.
    fn emulated(&self, off: u32) -> bool {
        (PCI_BASE_ADDRESS_0..PCI_BASE_ADDRESS_0 + 24).contains(&off)
            || (PCI_ROM_ADDRESS..PCI_ROM_ADDRESS + 4).contains(&off)
            || off == PCI_INTERRUPT_LINE
            || off == PCI_INTERRUPT_PIN
            || off == PCI_HEADER_TYPE
            || self.msi.is_some_and(|m| (m.cap + 2..m.end()).contains(&off))
    }

    /// An emulated config byte.
    fn emulated_byte(&self, off: u32) -> u8 {
        let shift = 8 * (off % 4);
        match off {
            o if (PCI_BASE_ADDRESS_0..PCI_BASE_ADDRESS_0 + 24).contains(&o) => (self.bar_read(((o - PCI_BASE_ADDRESS_0) / 4) as usize) >> shift) as u8,
            PCI_INTERRUPT_LINE => self.interrupt_line,
            PCI_INTERRUPT_PIN => self.interrupt_pin,
            PCI_HEADER_TYPE => self.header_type & !(PCI_HEADER_TYPE_MULTI_FUNCTION as u8),
            o => match self.msi {
                Some(m) if (m.cap + 2..m.end()).contains(&o) => (m.reg((o - m.cap) & !3) >> (8 * ((o - m.cap) % 4))) as u8,
                _ => 0, // the ROM BAR
            },
        }
    }

    fn set_emulated_byte(&mut self, off: u32, v: u8) {
        let merge = |old: u32, rel: u32| (old & !(0xff << (8 * (rel % 4)))) | (u32::from(v) << (8 * (rel % 4)));
        match off {
            o if (PCI_BASE_ADDRESS_0..PCI_BASE_ADDRESS_0 + 24).contains(&o) => {
                let i = ((o - PCI_BASE_ADDRESS_0) / 4) as usize;
                self.bar_regs[i] = merge(self.bar_regs[i], o);
            }
            PCI_INTERRUPT_LINE => self.interrupt_line = v,
            o => {
                if let Some(m) = self.msi.as_mut() {
                    if (m.cap + 2..m.end()).contains(&o) {
                        let rel = o - m.cap;
                        let cur = m.reg(rel & !3);
                        m.set_reg(rel & !3, merge(cur, rel));
                    }
                }
            }
        }
    }

    /// A guest config read of `size` bytes at `off` (within one dword).
    pub fn read(&mut self, off: u32, size: u32) -> u32 {
        let any_emulated = (off..off + size).any(|o| self.emulated(o));
        if !any_emulated && off % size == 0 {
            return match self.backend.config_read(off, size) {
                Ok(v) => v,
                Err(e) => {
                    self.report(format!("config read at {off:#x}: {e}"));
                    u32::MAX >> (32 - 8 * size)
                }
            };
        }
        let mut v = 0u32;
        for (k, o) in (off..off + size).enumerate() {
            let b = if self.emulated(o) {
                self.emulated_byte(o)
            } else {
                match self.backend.config_read(o, 1) {
                    Ok(x) => x as u8,
                    Err(e) => {
                        self.report(format!("config read at {o:#x}: {e}"));
                        0xff
                    }
                }
            };
            v |= u32::from(b) << (8 * k);
        }
        v
    }

    /// A guest config write.
    pub fn write(&mut self, off: u32, size: u32, value: u32) {
        let any_emulated = (off..off + size).any(|o| self.emulated(o));
        if !any_emulated && off % size == 0 {
            if let Err(e) = self.backend.config_write(off, size, value) {
                self.report(format!("config write at {off:#x}: {e}"));
            }
        } else {
            for (k, o) in (off..off + size).enumerate() {
                let b = (value >> (8 * k)) as u8;
                if self.emulated(o) {
                    self.set_emulated_byte(o, b);
                } else if self.msi.is_some_and(|m| o == m.cap || o == m.cap + 1) {
                    // The MSI capability's ID and Next pointer are read-only.
                } else if let Err(e) = self.backend.config_write(o, 1, u32::from(b)) {
                    self.report(format!("config write at {o:#x}: {e}"));
                }
            }
        }
        if (off..off + size).any(|o| o == PCI_COMMAND || o == PCI_COMMAND + 1) {
            // What the device took (the module filters the command register).
            match self.backend.config_read(PCI_COMMAND, 2) {
                Ok(c) => self.memory_on = c & PCI_COMMAND_MEMORY != 0,
                Err(e) => self.report(format!("command register read: {e}")),
            }
        }
        self.update_bars();
        self.update_msi();
    }
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

/// One passed-through device's INTx route: the IOAPIC pin its interrupt pin is wired to.
pub struct IntxRoute {
    pub name: String,
    pub gsi: u32,
    pub backend: Arc<dyn DeviceBackend>,
    /// The message routed now (None: off).
    routed: Mutex<Option<(u64, u32)>>,
}

impl IntxRoute {
    pub fn new(name: &str, gsi: u32, backend: Arc<dyn DeviceBackend>) -> Self {
        Self { name: name.into(), gsi, backend, routed: Mutex::new(None) }
    }
}

/// Follows the guest's IOAPIC redirection entries for the passed-through devices' pins and
/// routes their INTx accordingly (`set_intx`). Called with the IOAPIC locked; takes only
/// its own locks.
pub struct IntxRouter {
    pub routes: Vec<IntxRoute>,
    unsupported: std::sync::atomic::AtomicBool,
}

impl IntxRouter {
    pub fn new(routes: Vec<IntxRoute>) -> Self {
        Self { routes, unsupported: std::sync::atomic::AtomicBool::new(false) }
    }
}

impl RteObserver for IntxRouter {
    fn rte_written(&self, pin: usize, rte: u64, masked: bool) {
        if self.unsupported.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        for r in self.routes.iter().filter(|r| r.gsi as usize == pin) {
            let Ok(mut routed) = r.routed.lock() else { continue };
            let want = (!masked).then(|| rte_to_msi(rte));
            if *routed == want {
                continue;
            }
            let res = match want {
                Some((a, d)) => r.backend.set_intx(a, d, true),
                None => r.backend.set_intx(0, 0, false),
            };
            match res {
                Ok(()) => *routed = want,
                Err(e) if e.errno == libc::ENOTTY => {
                    eprintln!("rsvm-vmm: {}: the module has no RSVM_DEVICE_INTX: the device's INTx is not routed (MSI works)", r.name);
                    self.unsupported.store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                Err(e) => eprintln!("rsvm-vmm: {}: INTx route for GSI {pin}: {e}", r.name),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::BusKind;

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
}
