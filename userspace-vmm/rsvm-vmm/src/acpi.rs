//! Minimal ACPI tables (on unless --no-acpi), so that the guest can power off (ACPI 6.x,
//! hardware-reduced): RSDP (at 0xe0000, where Linux scans), XSDT, FADT with HW_REDUCED_ACPI
//! and a sleep control/status register pair in port space, a DSDT with `\_S5` and the
//! devices (COM1 as PNP0501, the virtio-mmio disk as LNRO0005, each with its GSI), and a
//! MADT with the same CPUs, IOAPIC, ISA IRQ routing and LINT1 NMI as the MP table
//! (mptable.rs). The MADT is needed: with ACPI on and no MADT, Linux routes interrupts
//! through the (absent) PIC. The DSDT devices are needed: hardware-reduced ACPI means no
//! legacy PIC, and then Linux numbers the IOAPIC's IRQs dynamically, so an ISA device's fixed
//! IRQ (COM1's 4, a command-line virtio-mmio device's 5) is not wired to its pin.
//! Hardware-reduced mode also tells Linux there is no PIC and no PIT.
//!
//! With --passthrough the DSDT also has the PCI root bridge (PNP0A03, [`aml_pci_root`]): its
//! bus range, the configuration ports, its I/O and 32-bit memory windows, and a _PRT wiring
//! INTA-INTD of each populated slot to IOAPIC inputs 16-19 (pci::intx_gsi).
//!
//! Power-off: Linux writes SLP_TYP (from `\_S5`, here 5) << 2 | SLP_EN (0x20) to the sleep
//! control register; [`SleepControl`] turns that into the end of the run (status 0).

use crate::bus::BusDevice;
use crate::exit::{ExitSignal, VmExit};
use crate::layout::{IOAPIC_BASE, LAPIC_BASE, PCI_IO_END, PCI_IO_START, PCI_MMIO_END, PCI_MMIO_START, GED_IRQ, SERIAL_IRQ, VIRTIO_MMIO_SIZE, MAX_VIRTIO_DEVICES, virtio_slot};
use crate::pci::{intx_gsi, SlotIrq, CONFIG_ADDRESS};
use crate::mptable;
use std::sync::Arc;

pub const RSDP_ADDR: u64 = crate::layout::ACPI_START;
const XSDT_ADDR: u64 = RSDP_ADDR + 0x40;
const FADT_ADDR: u64 = RSDP_ADDR + 0x80;
const DSDT_ADDR: u64 = RSDP_ADDR + 0x200;
/// After a DSDT of up to 3.5 KiB (the PCI root bridge's _PRT makes it grow).
const MADT_ADDR: u64 = RSDP_ADDR + 0x1000;

/// Sleep control and status registers (8 bits each, port space).
pub const SLEEP_CONTROL_PORT: u16 = 0x600;
pub const SLEEP_STATUS_PORT: u16 = 0x601;
const SLP_TYP_S5: u8 = 5;
const SLP_EN: u8 = 1 << 5;

const FADT_LEN: usize = 276;
const FADT_HW_REDUCED_ACPI: u32 = 1 << 20;
/// IAPC_BOOT_ARCH: no VGA, no CMOS RTC.
const IAPC_NO_VGA: u16 = 1 << 2;
const IAPC_NO_CMOS_RTC: u16 = 1 << 5;

fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, x| s.wrapping_add(*x)).wrapping_neg()
}

/// A table: the 36-byte header (checksum filled in) followed by `body`.
fn table(sig: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let len = 36 + body.len();
    let mut t = Vec::with_capacity(len);
    t.extend_from_slice(sig);
    t.extend_from_slice(&(len as u32).to_le_bytes());
    t.push(revision);
    t.push(0);
    t.extend_from_slice(b"RSVM  ");
    t.extend_from_slice(b"RSVMVMM ");
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(b"RSVM");
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// A Generic Address Structure for an 8-bit register in port space.
fn gas_io8(port: u16) -> [u8; 12] {
    let mut g = [0u8; 12];
    g[0] = 1; // system I/O
    g[1] = 8; // bit width
    g[3] = 1; // byte access
    g[4..12].copy_from_slice(&u64::from(port).to_le_bytes());
    g
}

/// MPS INTI flags: active high (01), edge-triggered (01 << 2).
const ISO_EDGE_HIGH: u16 = 0b0101;

/// The MADT: local APIC address, one enabled local APIC per vCPU (processor UID = APIC
/// id), the IOAPIC (GSI base 0), ISA IRQs 1-15 to GSIs 1-15 edge/high as in the MP table,
/// the LINT1 NMI on all processors.
fn madt(ncpus: u8) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(LAPIC_BASE as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // flags: no PC-AT PICs
    for id in 0..ncpus {
        b.extend_from_slice(&[0, 8, id, id]);
        b.extend_from_slice(&1u32.to_le_bytes()); // enabled
    }
    b.extend_from_slice(&[1, 12, mptable::ioapic_id(ncpus), 0]);
    b.extend_from_slice(&(IOAPIC_BASE as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // GSI base
    // Interrupt source overrides ISA IRQ n -> GSI n, edge, active high. They look redundant,
    // but hardware-reduced ACPI means no legacy PIC, and then Linux sets up no identity
    // mapping for ISA IRQs: without these, IRQ 4 (COM1's fixed ISA IRQ) and 5 (virtio-mmio)
    // are not wired to the IOAPIC pins. IRQ 0 is left out: Linux takes an override of the
    // FADT's SCI interrupt (0 here) for the SCI.
    for irq in 1..mptable::ISA_IRQS {
        b.extend_from_slice(&[2, 10, 0, irq]);
        b.extend_from_slice(&u32::from(irq).to_le_bytes());
        b.extend_from_slice(&ISO_EDGE_HIGH.to_le_bytes());
    }
    b.extend_from_slice(&[4, 6, 0xff, 0, 0, 1]); // NMI: all processors, conforming, LINT1
    table(b"APIC", 5, &b)
}

/// AML PkgLength for `len` bytes of content (the encoding's own bytes included): one byte
/// up to 63, else two (up to 4095; the tables here are far smaller, see the tests).
fn pkg_length(len: usize) -> Vec<u8> {
    if len + 1 < 0x40 {
        vec![(len + 1) as u8]
    } else {
        let l = len + 2;
        debug_assert!(l < 0x1000, "AML package of {l} bytes needs a longer PkgLength");
        vec![0x40 | (l & 0xf) as u8, (l >> 4) as u8]
    }
}

/// AML: Name (name, integer) with the shortest integer encoding (Zero, One, Byte-, Word-,
/// DWordConst).
fn aml_name_int(name: &[u8; 4], v: u32) -> Vec<u8> {
    let mut out = vec![0x08];
    out.extend_from_slice(name);
    out.extend(aml_int(v));
    out
}

fn aml_int(v: u32) -> Vec<u8> {
    match v {
        0 => vec![0x00],
        1 => vec![0x01],
        2..=0xff => vec![0x0a, v as u8],
        0x100..=0xffff => {
            let mut o = vec![0x0b];
            o.extend_from_slice(&(v as u16).to_le_bytes());
            o
        }
        _ => {
            let mut o = vec![0x0c];
            o.extend_from_slice(&v.to_le_bytes());
            o
        }
    }
}

/// Address space descriptor general flags: producer, positive decode, min and max fixed.
const ADDR_PRODUCER_FIXED: u8 = 0x0c;

/// A Word Address Space Descriptor (ACPI 6.4, 6.4.3.5.3) of `kind` (1 I/O, 2 bus numbers).
fn res_word(kind: u8, type_flags: u8, min: u16, max: u16) -> Vec<u8> {
    let mut v = vec![0x88, 0x0d, 0x00, kind, ADDR_PRODUCER_FIXED, type_flags];
    for x in [0u16, min, max, 0, max - min + 1] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// A DWord Address Space Descriptor (6.4.3.5.2) for memory, read-write, non-cacheable.
fn res_dword_memory(min: u32, max: u32) -> Vec<u8> {
    let mut v = vec![0x87, 0x17, 0x00, 0x00, ADDR_PRODUCER_FIXED, 0x01];
    for x in [0u32, min, max, 0, max - min + 1] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// The PCI root bridge: Device (PCI0) { _HID PNP0A03, _SEG 0, _BBN 0, _UID 0, _CRS (bus 0,
/// the 0xCF8-0xCFF ports, the I/O window, the 32-bit MMIO window), _PRT (INTA-INTD of each
/// populated slot to GSIs: source Zero, i.e. the IOAPIC input directly) }.
fn aml_pci_root(slots: &[SlotIrq]) -> Vec<u8> {
    let mut body = b"PCI0".to_vec();
    body.extend_from_slice(&[0x08, b'_', b'H', b'I', b'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03]); // EISAID("PNP0A03")
    body.extend(aml_name_int(b"_SEG", 0));
    body.extend(aml_name_int(b"_BBN", 0));
    body.extend(aml_name_int(b"_UID", 0));
    let mut crs = res_word(2, 0, 0, 0);
    let cf8 = CONFIG_ADDRESS.to_le_bytes();
    crs.extend_from_slice(&[0x47, 0x01, cf8[0], cf8[1], cf8[0], cf8[1], 0x01, 0x08]); // IO (Decode16, 0xcf8, 0xcf8, 1, 8)
    crs.extend(res_word(1, 0x03, PCI_IO_START, PCI_IO_END)); // EntireRange
    crs.extend(res_dword_memory(PCI_MMIO_START as u32, (PCI_MMIO_END - 1) as u32));
    body.extend(aml_crs(&crs));
    let mut prt = Vec::new();
    let mut n = 0u8;
    for s in slots {
        for pin in 1..=4u8 {
            let mut e = vec![0x04]; // NumElements
            e.extend(aml_int(u32::from(s.slot) << 16 | 0xffff)); // _ADR: the slot, any function
            e.extend(aml_int(u32::from(pin - 1)));
            e.push(0x00); // Source: Zero (a GSI follows)
            e.extend(aml_int(intx_gsi(s.slot, pin)));
            prt.extend(aml_pkg(&[0x12], &e));
            n += 1;
        }
    }
    let mut pkg = vec![n];
    pkg.extend(prt);
    body.extend_from_slice(&[0x08, b'_', b'P', b'R', b'T']);
    body.extend(aml_pkg(&[0x12], &pkg));
    aml_pkg(&[0x5b, 0x82], &body)
}

/// AML: an op with a PkgLength around `body`.
fn aml_pkg(op: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = op.to_vec();
    v.extend(pkg_length(body.len()));
    v.extend_from_slice(body);
    v
}

/// AML: Name (seg, Buffer () { bytes }) for a resource template (End tag appended).
fn aml_crs(resources: &[u8]) -> Vec<u8> {
    let mut res = resources.to_vec();
    res.extend_from_slice(&[0x79, 0x00]); // End tag
    let mut buf = vec![0x0a, res.len() as u8]; // BufferSize (ByteConst)
    buf.extend(res);
    let mut v = vec![0x08];
    v.extend_from_slice(b"_CRS");
    v.extend(aml_pkg(&[0x11], &buf));
    v
}

/// AML: Device (name) { _HID, _UID 0, _CRS }.
fn aml_device(name: &[u8; 4], hid: &[u8], crs: &[u8]) -> Vec<u8> {
    aml_device_ext(name, hid, 0, crs, &[])
}

/// AML: Device (name) { _HID, _UID uid, _CRS, then `extra` (more objects) }.
fn aml_device_ext(name: &[u8; 4], hid: &[u8], uid: u8, crs: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut body = name.to_vec();
    body.extend_from_slice(&[0x08, b'_', b'H', b'I', b'D']);
    body.extend_from_slice(hid);
    body.extend_from_slice(&[0x08, b'_', b'U', b'I', b'D', 0x0a, uid]);
    body.extend(aml_crs(crs));
    body.extend_from_slice(extra);
    aml_pkg(&[0x5b, 0x82], &body)
}

/// The ACPI power button of hardware-reduced ACPI: a Generic Event Device (ACPI0013) on
/// GSI `gsi` whose _EVT notifies the button device PWRB (PNP0C0C) with 0x80 ("pressed"),
/// as Cloud Hypervisor does. The VMM presses it by pulsing the GSI.
fn aml_power_button(gsi: u32) -> Vec<u8> {
    // Method (_EVT, 1) { Notify (PWRB, 0x80) }
    let evt = aml_pkg(&[0x14], &[b'_', b'E', b'V', b'T', 0x01, 0x86, b'P', b'W', b'R', b'B', 0x0a, 0x80]);
    let mut v = aml_device_ext(b"GED0", b"\x0dACPI0013\x00", 0, &res_interrupt(gsi), &evt);
    v.extend(aml_device(b"PWRB", &[0x0c, 0x41, 0xd0, 0x0c, 0x0c], &[]));
    v
}

/// An Extended Interrupt descriptor: consumer, edge, active high, exclusive, one GSI.
fn res_interrupt(gsi: u32) -> Vec<u8> {
    let mut v = vec![0x89, 0x06, 0x00, 0x03, 0x01];
    v.extend_from_slice(&gsi.to_le_bytes());
    v
}

/// The DSDT: \_S5, and under \_SB COM1 (PNP0501) and the virtio-mmio device (LNRO0005)
/// with their interrupts as GSIs: hardware-reduced ACPI has no legacy IRQ numbering, so the
/// devices must be described here to get their interrupts.
fn dsdt(virtio: usize, pci: &[SlotIrq]) -> Vec<u8> {
    // Name (_S5, Package (4) { 5, 0, 0, 0 })
    let mut aml = vec![0x08, b'_', b'S', b'5', b'_', 0x12, 0x07, 0x04, 0x0a, SLP_TYP_S5, 0x00, 0x00, 0x00];
    let mut sb = b"_SB_".to_vec();
    // IO (Decode16, 0x3f8, 0x3f8, 1, 8)
    let mut com1 = vec![0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08];
    com1.extend(res_interrupt(SERIAL_IRQ));
    let eisa_pnp0501 = [0x0c, 0x41, 0xd0, 0x05, 0x01];
    sb.extend(aml_device(b"COM1", &eisa_pnp0501, &com1));
    for i in 0..virtio.min(MAX_VIRTIO_DEVICES) {
        let (base, irq) = virtio_slot(i);
        // Memory32Fixed (ReadWrite, base, 4 KiB)
        let mut vr = vec![0x86, 0x09, 0x00, 0x01];
        vr.extend_from_slice(&(base as u32).to_le_bytes());
        vr.extend_from_slice(&(VIRTIO_MMIO_SIZE as u32).to_le_bytes());
        vr.extend(res_interrupt(irq));
        let name = [b'V', b'R', b'0', b'0' + i as u8];
        sb.extend(aml_device_ext(&name, b"\x0dLNRO0005\x00", i as u8, &vr, &[]));
    }
    sb.extend(aml_power_button(GED_IRQ));
    if !pci.is_empty() {
        sb.extend(aml_pci_root(pci));
    }
    aml.extend(aml_pkg(&[0x10], &sb));
    table(b"DSDT", 2, &aml)
}

/// (guest address, bytes) of each table; `virtio`: describe the virtio-mmio device; `pci`:
/// the PCI bus's populated slots (empty: no PCI root bridge).
pub fn build(ncpus: u8, virtio: usize, pci: &[SlotIrq]) -> Vec<(u64, Vec<u8>)> {
    let dsdt = dsdt(virtio, pci);

    let mut f = vec![0u8; FADT_LEN - 36];
    let at = |off: usize| off - 36;
    f[at(40)..at(44)].copy_from_slice(&(DSDT_ADDR as u32).to_le_bytes());
    f[at(109)..at(111)].copy_from_slice(&(IAPC_NO_VGA | IAPC_NO_CMOS_RTC).to_le_bytes());
    f[at(112)..at(116)].copy_from_slice(&FADT_HW_REDUCED_ACPI.to_le_bytes());
    f[at(131)] = 0; // FADT minor version (6.0)
    f[at(140)..at(148)].copy_from_slice(&DSDT_ADDR.to_le_bytes());
    f[at(244)..at(256)].copy_from_slice(&gas_io8(SLEEP_CONTROL_PORT));
    f[at(256)..at(268)].copy_from_slice(&gas_io8(SLEEP_STATUS_PORT));
    f[at(268)..at(276)].copy_from_slice(b"RSVMVMM\0"); // hypervisor vendor identity
    let fadt = table(b"FACP", 6, &f);

    let madt = madt(ncpus);
    let mut entries = FADT_ADDR.to_le_bytes().to_vec();
    entries.extend_from_slice(&MADT_ADDR.to_le_bytes());
    let xsdt = table(b"XSDT", 1, &entries);

    let mut rsdp = Vec::with_capacity(36);
    rsdp.extend_from_slice(b"RSD PTR ");
    rsdp.push(0); // checksum of the first 20 bytes
    rsdp.extend_from_slice(b"RSVM  ");
    rsdp.push(2); // revision: ACPI 2.0+ (XSDT)
    rsdp.extend_from_slice(&0u32.to_le_bytes()); // no RSDT
    rsdp.extend_from_slice(&36u32.to_le_bytes());
    rsdp.extend_from_slice(&XSDT_ADDR.to_le_bytes());
    rsdp.extend_from_slice(&[0; 4]); // extended checksum, reserved
    rsdp[8] = checksum(&rsdp[..20]);
    rsdp[32] = checksum(&rsdp);

    vec![(RSDP_ADDR, rsdp), (XSDT_ADDR, xsdt), (FADT_ADDR, fadt), (DSDT_ADDR, dsdt), (MADT_ADDR, madt)]
}

/// The sleep control register: S5 with SLP_EN ends the run as a power-off.
pub struct SleepControl {
    exit: Arc<ExitSignal>,
}

impl SleepControl {
    pub fn new(exit: Arc<ExitSignal>) -> Self {
        Self { exit }
    }

    pub fn write(&self, port: u16, value: u8) {
        if port == SLEEP_CONTROL_PORT && value & SLP_EN != 0 && (value >> 2) & 0x7 == SLP_TYP_S5 {
            self.exit.request(VmExit::PowerOff);
        }
    }

    /// Both registers read 0 (no wake status).
    pub fn read(&self, _port: u16) -> u8 {
        0
    }
}

/// On the port bus at [`SLEEP_CONTROL_PORT`] and [`SLEEP_STATUS_PORT`] (one port each, only
/// with ACPI): byte accesses only.
impl BusDevice for SleepControl {
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) -> bool {
        let [b] = data else { return false };
        *b = SleepControl::read(self, (base + offset) as u16);
        true
    }

    fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> bool {
        let [b] = data else { return false };
        SleepControl::write(self, (base + offset) as u16, *b);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
    }

    #[test]
    fn tables() {
        let t = build(2, 2, &[]);
        let (rsdp_at, rsdp) = &t[0];
        assert_eq!(*rsdp_at, 0xe0000);
        assert_eq!(&rsdp[..8], b"RSD PTR ");
        assert_eq!(sum(&rsdp[..20]), 0);
        assert_eq!(sum(rsdp), 0);
        assert_eq!(u64::from_le_bytes(rsdp[24..32].try_into().unwrap()), t[1].0);
        for (addr, tb) in &t[1..] {
            assert_eq!(u32::from_le_bytes(tb[4..8].try_into().unwrap()) as usize, tb.len());
            assert_eq!(sum(tb), 0, "checksum of {:?}", std::str::from_utf8(&tb[..4]));
            assert!(*addr + tb.len() as u64 <= crate::layout::HIGH_MEM);
        }
        // No overlaps.
        for w in t.windows(2) {
            assert!(w[0].0 + w[0].1.len() as u64 <= w[1].0);
        }
        let (_, xsdt) = &t[1];
        assert_eq!(u64::from_le_bytes(xsdt[36..44].try_into().unwrap()), t[2].0);
        let (_, fadt) = &t[2];
        assert_eq!((&fadt[..4], fadt.len(), fadt[8]), (&b"FACP"[..], 276, 6));
        assert_ne!(u32::from_le_bytes(fadt[112..116].try_into().unwrap()) & FADT_HW_REDUCED_ACPI, 0);
        assert_eq!(u64::from_le_bytes(fadt[140..148].try_into().unwrap()), t[3].0);
        assert_eq!(fadt[244], 1);
        assert_eq!(u64::from_le_bytes(fadt[248..256].try_into().unwrap()), 0x600);
        let (_, dsdt) = &t[3];
        assert_eq!(&dsdt[36..41], b"\x08_S5_");
        // Two virtio-mmio devices: VR00 at 0xd0000000, VR01 at 0xd0001000.
        for needle in [&b"_SB_"[..], b"COM1", b"VR00", b"VR01", b"GED0", b"ACPI0013", b"_EVT\x01\x86PWRB\x0a\x80", b"PWRB", b"LNRO0005", b"\x0c\x41\xd0\x05\x01", &[0x00, 0x10, 0x00, 0xd0]] {
            assert!(dsdt.windows(needle.len()).any(|w| w == needle), "{needle:?} in the DSDT");
        }
        assert_eq!(u64::from_le_bytes(xsdt[44..52].try_into().unwrap()), t[4].0);
        let (_, madt) = &t[4];
        assert_eq!(&madt[..4], b"APIC");
        assert_eq!(u32::from_le_bytes(madt[36..40].try_into().unwrap()), 0xfee0_0000);
        // Entries: 2 local APICs, the IOAPIC (id 2 = ncpus), the NMI.
        let mut off = 44;
        let mut kinds = Vec::new();
        while off < madt.len() {
            kinds.push((madt[off], madt[off + 2], madt[off + 3]));
            off += madt[off + 1] as usize;
        }
        assert_eq!(off, madt.len());
        let mut want = vec![(0, 0, 0), (0, 1, 1), (1, 2, 0)];
        want.extend((1..16).map(|i| (2, 0, i)));
        want.push((4, 0xff, 0));
        assert_eq!(kinds, want);
    }

    #[test]
    fn pci_root_bridge() {
        let slots: Vec<SlotIrq> = (1..=crate::pci::MAX_DEVICES as u8).map(|s| SlotIrq { slot: s, pin: 1 }).collect();
        let t = build(32, 1, &slots);
        for w in t.windows(2) {
            assert!(w[0].0 + w[0].1.len() as u64 <= w[1].0, "the largest DSDT fits before the MADT");
        }
        let t = build(1, 0, &slots[..1]);
        let dsdt = &t[3].1;
        assert_eq!(sum(dsdt), 0);
        let has = |needle: &[u8]| dsdt.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"PCI0\x08_HID\x0c\x41\xd0\x0a\x03"), "PNP0A03");
        assert!(has(b"_SEG\x00") && has(b"_BBN\x00") && has(b"_UID\x00"));
        assert!(has(&[0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), "bus range 0..0");
        assert!(has(&[0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08]), "0xcf8, 8 ports");
        assert!(has(&[0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x10, 0xff, 0xff]), "I/O window 0x1000-0xffff");
        let mut mem = vec![0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0];
        mem.extend_from_slice(&0xc000_0000u32.to_le_bytes());
        mem.extend_from_slice(&0xcfff_ffffu32.to_le_bytes());
        mem.extend_from_slice(&[0, 0, 0, 0]);
        mem.extend_from_slice(&0x1000_0000u32.to_le_bytes());
        assert!(has(&mem), "MMIO window 0xc0000000-0xcfffffff");
        // _PRT: 4 entries for slot 1: INTA -> 17, INTB -> 18, INTC -> 19, INTD -> 16.
        assert!(has(b"_PRT\x12"));
        for (pin, gsi) in [(0u8, 17u8), (1, 18), (2, 19), (3, 16)] {
            let pin_enc: Vec<u8> = if pin < 2 { vec![pin] } else { vec![0x0a, pin] };
            let mut e = vec![0x04, 0x0c, 0xff, 0xff, 0x01, 0x00];
            e.extend(pin_enc);
            e.extend_from_slice(&[0x00, 0x0a, gsi]);
            assert!(has(&e), "slot 1 pin {pin} -> GSI {gsi}");
        }
        // Without PCI: no root bridge.
        assert!(!build(1, 0, &[])[3].1.windows(4).any(|w| w == b"PCI0"));
    }

    #[test]
    fn aml_encoding() {
        assert_eq!(pkg_length(5), vec![6]);
        assert_eq!(pkg_length(62), vec![63]);
        // 100 bytes + 2 of PkgLength = 102 = 0x66: low nibble 6, then 0x06.
        assert_eq!(pkg_length(100), vec![0x46, 0x06]);
        let d = aml_device(b"COM1", &[0x0c, 0x41, 0xd0, 0x05, 0x01], &[0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08]);
        assert_eq!(&d[..2], &[0x5b, 0x82]);
        assert_eq!(d[2] as usize, d.len() - 2, "PkgLength covers the rest");
    }

    #[test]
    fn s5_powers_off() {
        let exit = Arc::new(ExitSignal::default());
        let s = SleepControl::new(exit.clone());
        s.write(SLEEP_CONTROL_PORT, 5 << 2); // no SLP_EN
        s.write(SLEEP_CONTROL_PORT, (3 << 2) | SLP_EN); // S3
        s.write(SLEEP_STATUS_PORT, 0x80);
        assert!(!exit.is_set());
        s.write(SLEEP_CONTROL_PORT, (5 << 2) | SLP_EN);
        assert_eq!(exit.wait(None), VmExit::PowerOff);
    }
}
