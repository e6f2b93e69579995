//! An Intel MultiProcessor Specification 1.4 table, so that Linux (X86_MPPARSE) finds the
//! local APICs and the IOAPIC without ACPI: a floating pointer and a configuration table in
//! the EBDA (0x9fc00, reserved in e820; Linux scans the last KiB of conventional memory).
//!
//! Entries: one processor per vCPU (APIC id = index, the first is the BSP), one ISA bus,
//! one IOAPIC (id = number of vCPUs, at 0xfec00000), ISA IRQs 0-15 to IOAPIC pins 0-15
//! ("conforms to bus": edge, active high), LINT0 ExtINT and LINT1 NMI on every local APIC.
//! With a PCI bus (--passthrough): PCI bus 0 is MP bus 0 (Linux matches MP bus ids to PCI
//! bus numbers), ISA becomes bus 1, and each device's interrupt pin has an I/O interrupt
//! entry (level, active low) to its IOAPIC input (pci::intx_gsi).

use crate::layout::{EBDA_START, IOAPIC_BASE, LAPIC_BASE};
use crate::pci::{intx_gsi, SlotIrq};

const MPF_SIZE: usize = 16;
const MPC_HEADER_SIZE: usize = 44;
const APIC_VERSION: u8 = 0x14;
const IOAPIC_VERSION: u8 = 0x11;
/// Processor entry flags.
const CPU_ENABLED: u8 = 1;
const CPU_BSP: u8 = 2;
/// CPUID 1 EDX bits the processor entry reports: FPU and APIC.
const CPU_FEATURES: u32 = (1 << 0) | (1 << 9);
/// Interrupt types.
const MP_INT: u8 = 0;
const MP_NMI: u8 = 1;
const MP_EXTINT: u8 = 3;
/// I/O interrupt entry flags for PCI INTx: polarity active low (11), trigger level (11 << 2).
const MP_IRQ_LEVEL_LOW: u8 = 0x0f;
/// Number of ISA IRQs routed to the IOAPIC.
pub const ISA_IRQS: u8 = 16;

fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, x| s.wrapping_add(*x)).wrapping_neg()
}

/// The IOAPIC's id in the table: one past the last local APIC id.
pub fn ioapic_id(ncpus: u8) -> u8 {
    ncpus
}

/// The bytes to copy at `EBDA_START` for `ncpus` vCPUs; `cpu_signature` is CPUID 1 EAX;
/// `pci`: the PCI bus's devices (empty: no PCI bus).
pub fn build(ncpus: u8, cpu_signature: u32, pci: &[SlotIrq]) -> Vec<u8> {
    let mpc_addr = EBDA_START + MPF_SIZE as u64;
    // Configuration table entries.
    let mut entries = Vec::new();
    for id in 0..ncpus {
        entries.extend_from_slice(&[0, id, APIC_VERSION, CPU_ENABLED | if id == 0 { CPU_BSP } else { 0 }]);
        entries.extend_from_slice(&cpu_signature.to_le_bytes());
        entries.extend_from_slice(&CPU_FEATURES.to_le_bytes());
        entries.extend_from_slice(&[0; 8]);
    }
    let has_pci = !pci.is_empty();
    let isa_bus = u8::from(has_pci);
    if has_pci {
        entries.extend_from_slice(&[1, 0]);
        entries.extend_from_slice(b"PCI   ");
    }
    entries.extend_from_slice(&[1, isa_bus]);
    entries.extend_from_slice(b"ISA   ");
    entries.extend_from_slice(&[2, ioapic_id(ncpus), IOAPIC_VERSION, 1]);
    entries.extend_from_slice(&(IOAPIC_BASE as u32).to_le_bytes());
    for irq in 0..ISA_IRQS {
        // type, irq type, flags (conforms to bus), source bus, source IRQ, IOAPIC, pin
        entries.extend_from_slice(&[3, MP_INT, 0, 0, isa_bus, irq, ioapic_id(ncpus), irq]);
    }
    let mut pci_irqs = 0u16;
    for d in pci.iter().filter(|d| (1..=4).contains(&d.pin)) {
        // Source IRQ of a PCI bus: device << 2 | pin (0 = INTA).
        let gsi = intx_gsi(d.slot, d.pin) as u8;
        entries.extend_from_slice(&[3, MP_INT, MP_IRQ_LEVEL_LOW, 0, 0, d.slot << 2 | (d.pin - 1), ioapic_id(ncpus), gsi]);
        pci_irqs += 1;
    }
    // type, irq type, flags, source bus, source IRQ, destination (0xff: all), LINTn
    entries.extend_from_slice(&[4, MP_EXTINT, 0, 0, 0, 0, 0xff, 0]);
    entries.extend_from_slice(&[4, MP_NMI, 0, 0, 0, 0, 0xff, 1]);
    let count = u16::from(ncpus) + 1 + u16::from(has_pci) + 1 + u16::from(ISA_IRQS) + pci_irqs + 2;

    let mut mpc = Vec::with_capacity(MPC_HEADER_SIZE + entries.len());
    mpc.extend_from_slice(b"PCMP");
    mpc.extend_from_slice(&((MPC_HEADER_SIZE + entries.len()) as u16).to_le_bytes());
    mpc.push(4); // spec revision 1.4
    mpc.push(0); // checksum, below
    mpc.extend_from_slice(b"RSVM    "); // OEM id
    mpc.extend_from_slice(b"rsvm-vmm    "); // product id
    mpc.extend_from_slice(&0u32.to_le_bytes()); // OEM table pointer
    mpc.extend_from_slice(&0u16.to_le_bytes()); // OEM table size
    mpc.extend_from_slice(&count.to_le_bytes());
    mpc.extend_from_slice(&(LAPIC_BASE as u32).to_le_bytes());
    mpc.extend_from_slice(&[0; 4]); // extended table length, checksum, reserved
    debug_assert_eq!(mpc.len(), MPC_HEADER_SIZE);
    mpc.extend_from_slice(&entries);
    mpc[7] = checksum(&mpc);

    let mut mpf = Vec::with_capacity(MPF_SIZE);
    mpf.extend_from_slice(b"_MP_");
    mpf.extend_from_slice(&(mpc_addr as u32).to_le_bytes());
    mpf.push(1); // length in 16-byte units
    mpf.push(4); // spec revision 1.4
    mpf.push(0); // checksum, below
    mpf.extend_from_slice(&[0; 5]); // feature bytes: 0 = a configuration table is present; no IMCR
    mpf[10] = checksum(&mpf);

    mpf.extend_from_slice(&mpc);
    mpf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::EBDA_END;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
    }

    #[test]
    fn floating_pointer() {
        let t = build(2, 0x00a00f11, &[]);
        assert_eq!(&t[0..4], b"_MP_");
        assert_eq!(u32::from_le_bytes(t[4..8].try_into().unwrap()), 0x9fc10);
        assert_eq!(t[8], 1);
        assert_eq!(t[9], 4);
        assert_eq!(sum(&t[..16]), 0, "floating pointer checksum");
        assert_eq!(t[11], 0, "default configuration 0: the table is present");
    }

    #[test]
    fn config_table() {
        for n in [1u8, 2, 8] {
            let t = build(n, 0x00a00f11, &[]);
            let mpc = &t[16..];
            assert_eq!(&mpc[0..4], b"PCMP");
            let len = u16::from_le_bytes([mpc[4], mpc[5]]) as usize;
            assert_eq!(len, mpc.len());
            assert_eq!(sum(mpc), 0, "configuration table checksum");
            assert_eq!(mpc[6], 4);
            let count = u16::from_le_bytes([mpc[34], mpc[35]]) as usize;
            assert_eq!(u32::from_le_bytes(mpc[36..40].try_into().unwrap()), 0xfee0_0000);
            // Walk the entries: processors are 20 bytes, everything else 8.
            let mut off = 44;
            let (mut cpus, mut bsp, mut ioapic, mut ints, mut lints) = (0, 0, None, Vec::new(), 0);
            for _ in 0..count {
                match mpc[off] {
                    0 => {
                        assert_eq!(mpc[off + 1], cpus, "APIC ids in order");
                        if mpc[off + 3] & CPU_BSP != 0 { bsp += 1; }
                        cpus += 1;
                        off += 20;
                    }
                    1 => { assert_eq!((mpc[off + 1], &mpc[off + 2..off + 8]), (0, &b"ISA   "[..])); off += 8; }
                    2 => {
                        ioapic = Some(mpc[off + 1]);
                        assert_eq!(u32::from_le_bytes(mpc[off + 4..off + 8].try_into().unwrap()), 0xfec0_0000);
                        off += 8;
                    }
                    3 => { ints.push((mpc[off + 5], mpc[off + 6], mpc[off + 7])); off += 8; }
                    4 => { lints += 1; off += 8; }
                    t => panic!("unexpected entry type {t}"),
                }
            }
            assert_eq!(off, len, "entries fill the table exactly");
            assert_eq!((cpus, bsp, lints), (n, 1, 2));
            assert_eq!(ioapic, Some(n), "IOAPIC id follows the CPUs");
            assert_eq!(ints, (0..16).map(|i| (i, n, i)).collect::<Vec<_>>());
            assert!(EBDA_START + t.len() as u64 <= EBDA_END, "fits in the EBDA");
        }
    }

    #[test]
    fn pci_bus_and_irqs() {
        // The largest table: 32 vCPUs, 4 devices.
        let devs: Vec<SlotIrq> = (1..=4).map(|s| SlotIrq { slot: s, pin: 1 }).collect();
        let t = build(32, 0, &devs);
        assert!(EBDA_START + t.len() as u64 <= EBDA_END, "fits in the EBDA ({} bytes)", t.len());
        let t = build(1, 0, &[SlotIrq { slot: 1, pin: 1 }, SlotIrq { slot: 2, pin: 0 }]);
        let mpc = &t[16..];
        assert_eq!(sum(mpc), 0);
        let count = u16::from_le_bytes([mpc[34], mpc[35]]) as usize;
        let mut off = 44 + 20;
        let mut rest = Vec::new();
        for _ in 1..count {
            rest.push(mpc[off..off + 8].to_vec());
            off += 8;
        }
        assert_eq!(off, mpc.len());
        assert_eq!(&rest[0][..8], b"\x01\x00PCI   ", "PCI is bus 0");
        assert_eq!(&rest[1][..8], b"\x01\x01ISA   ", "ISA is bus 1");
        let ints: Vec<&Vec<u8>> = rest.iter().filter(|e| e[0] == 3).collect();
        assert_eq!(ints.len(), 16 + 1, "the ISA IRQs and slot 1's INTA (slot 2 has no pin)");
        assert!(ints[..16].iter().all(|e| e[4] == 1), "ISA IRQs on bus 1");
        // 00:01.0 INTA -> IOAPIC 1 pin 17, level, active low.
        assert_eq!(ints[16][..], [3, MP_INT, 0x0f, 0, 0, 1 << 2, 1, 17]);
    }
}
