//! A passed-through function: its configuration space as the guest sees it, the device's
//! (through the [`DeviceBackend`]) with the VMM's registers laid over it: BARs (mapped, and
//! their ranges on the MMIO bus, where the guest puts them), the ROM BAR, Interrupt Line/Pin,
//! Header Type, the MSI capability. See the parent module.

use super::*;
use crate::bus::Bus;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

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
            log::info!("{name}: {n}");
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
            log::warn!("{}: {msg} (reported once)", self.name);
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
