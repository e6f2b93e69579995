//! The guest-physical memory map and the e820 table the guest is given.
//!
//! ```text
//! 0x0000_0500  GDT (4 entries), IDT (empty) at 0x520
//! 0x0000_7000  zero page (boot_params)
//! 0x0000_8ff0  initial stack (grows down)
//! 0x0000_9000  page tables: PML4, PDPT at 0xa000, 4 PDs at 0xb000-0xe000 (identity, 4 GiB, 2 MiB pages)
//! 0x0002_0000  kernel command line
//! 0x0009_fc00  EBDA: MP floating pointer + MP configuration table (reserved in e820)
//! 0x000e_0000  ACPI: RSDP, XSDT, FADT, DSDT (reserved in e820)
//! 0x0010_0000  kernel (bzImage protected-mode part or ELF vmlinux), then free RAM;
//!              initrd at the top of low RAM
//! 0xc000_0000  32-bit MMIO hole (RAM above it is moved to 4 GiB):
//!   0xc000_0000  PCI MMIO window (256 MiB, with --passthrough): the devices' BARs
//!   0xd000_0000  virtio-mmio devices, 4 KiB each (disks, then network), IRQs 5-12
//!   0xfec0_0000  IOAPIC (VMM)
//!   0xfee0_0000  local APIC (in the kernel: split irqchip)
//! 0x1_0000_0000  RAM beyond 3 GiB
//! ```

/// GDT and IDT.
pub const GDT_ADDR: u64 = 0x500;
pub const IDT_ADDR: u64 = 0x520;
/// boot_params ("zero page").
pub const ZERO_PAGE: u64 = 0x7000;
pub const BOOT_STACK: u64 = 0x8ff0;
pub const PML4_ADDR: u64 = 0x9000;
pub const PDPT_ADDR: u64 = 0xa000;
pub const PD_ADDR: u64 = 0xb000;
pub const CMDLINE_ADDR: u64 = 0x20000;
/// Room for the command line (the kernel's own limit, `cmdline_size`, may be lower).
pub const CMDLINE_MAX: usize = 4096;
/// Extended BIOS data area: where the MP tables live. RAM below it is usable.
pub const EBDA_START: u64 = 0x9fc00;
pub const EBDA_END: u64 = 0xa0000;
/// ACPI tables (RSDP first, where Linux scans for it), up to 1 MiB; reserved in e820.
pub const ACPI_START: u64 = 0xe0000;
/// Where the kernel is loaded (the boot protocol's default, "high memory").
pub const HIGH_MEM: u64 = 0x10_0000;
/// Start and end of the 32-bit MMIO hole.
pub const MMIO_HOLE_START: u64 = 0xc000_0000;
pub const FOUR_GIB: u64 = 0x1_0000_0000;
/// The PCI host bridge's 32-bit memory window (BARs of passed-through devices), up to the
/// virtio-mmio device; and its I/O window (above the legacy and ACPI ports).
pub const PCI_MMIO_START: u64 = 0xc000_0000;
pub const PCI_MMIO_END: u64 = 0xd000_0000;
pub const PCI_IO_START: u16 = 0x1000;
pub const PCI_IO_END: u16 = 0xffff;
/// First IOAPIC input of the PCI INTx lines (GSIs 16-19; 0-15 are the ISA IRQs).
pub const PCI_GSI_BASE: u32 = 16;
pub const VIRTIO_MMIO_BASE: u64 = 0xd000_0000;
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// The first virtio-mmio device's IRQ; device i has IRQ 5 + i (ISA IRQs, edge: no PIT, RTC
/// or IDE here to clash with).
pub const VIRTIO_IRQ_BASE: u32 = 5;
/// virtio-mmio devices in all (--disk and --net): IRQs 5-12.
pub const MAX_VIRTIO_DEVICES: usize = 8;

/// Guest-physical base and IRQ of virtio-mmio device `i` (< MAX_VIRTIO_DEVICES).
pub fn virtio_slot(i: usize) -> (u64, u32) {
    (VIRTIO_MMIO_BASE + i as u64 * VIRTIO_MMIO_SIZE, VIRTIO_IRQ_BASE + i as u32)
}
pub const IOAPIC_BASE: u64 = 0xfec0_0000;
pub const IOAPIC_SIZE: u64 = 0x1000;
pub const LAPIC_BASE: u64 = 0xfee0_0000;
pub const SERIAL_IRQ: u32 = 4;
/// The ACPI power button's Generic Event Device (with ACPI): after the virtio IRQs.
pub const GED_IRQ: u32 = 15;

/// Smallest --mem accepted: a kernel, its initramfs and some room to run.
pub const MIN_MEM: u64 = 32 << 20;

/// e820 entry types (boot protocol).
pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;

/// One e820 entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820 {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

/// RAM as (guest address, size) ranges: below the MMIO hole, and the rest from 4 GiB.
pub fn ram_ranges(mem: u64) -> Vec<(u64, u64)> {
    if mem <= MMIO_HOLE_START {
        vec![(0, mem)]
    } else {
        vec![(0, MMIO_HOLE_START), (FOUR_GIB, mem - MMIO_HOLE_START)]
    }
}

/// End of RAM below the MMIO hole.
pub fn low_ram_end(mem: u64) -> u64 {
    mem.min(MMIO_HOLE_START)
}

/// The e820 map for `mem` bytes of RAM (mem >= MIN_MEM): conventional memory below the EBDA,
/// the EBDA reserved (MP tables), the ACPI area reserved, RAM from 1 MiB to the hole, RAM
/// above 4 GiB.
pub fn e820_map(mem: u64) -> Vec<E820> {
    let mut v = vec![
        E820 { addr: 0, size: EBDA_START, kind: E820_RAM },
        E820 { addr: EBDA_START, size: EBDA_END - EBDA_START, kind: E820_RESERVED },
        E820 { addr: ACPI_START, size: HIGH_MEM - ACPI_START, kind: E820_RESERVED },
        E820 { addr: HIGH_MEM, size: low_ram_end(mem) - HIGH_MEM, kind: E820_RAM },
    ];
    if mem > MMIO_HOLE_START {
        v.push(E820 { addr: FOUR_GIB, size: mem - MMIO_HOLE_START, kind: E820_RAM });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e820_small() {
        let m = e820_map(256 << 20);
        assert_eq!(
            m,
            vec![
                E820 { addr: 0, size: 0x9fc00, kind: E820_RAM },
                E820 { addr: 0x9fc00, size: 0x400, kind: E820_RESERVED },
                E820 { addr: 0xe0000, size: 0x20000, kind: E820_RESERVED },
                E820 { addr: 0x10_0000, size: (256 << 20) - 0x10_0000, kind: E820_RAM },
            ]
        );
        assert_eq!(ram_ranges(256 << 20), vec![(0, 256 << 20)]);
    }

    #[test]
    fn e820_split_around_hole() {
        let mem = 4u64 << 30;
        let m = e820_map(mem);
        assert_eq!(m.len(), 5);
        assert_eq!(m[3], E820 { addr: 0x10_0000, size: 0xc000_0000 - 0x10_0000, kind: E820_RAM });
        assert_eq!(m[4], E820 { addr: 1 << 32, size: 1 << 30, kind: E820_RAM });
        assert_eq!(ram_ranges(mem), vec![(0, 0xc000_0000), (1 << 32, 1 << 30)]);
        // Total RAM is what was asked for (the map leaves out only the legacy hole).
        let total: u64 = ram_ranges(mem).iter().map(|r| r.1).sum();
        assert_eq!(total, mem);
    }

    #[test]
    fn devices_in_hole() {
        for a in [VIRTIO_MMIO_BASE, IOAPIC_BASE, LAPIC_BASE] {
            assert!((MMIO_HOLE_START..FOUR_GIB).contains(&a));
            assert!(!(PCI_MMIO_START..PCI_MMIO_END).contains(&a), "{a:#x} outside the PCI window");
        }
        const { assert!(MMIO_HOLE_START <= PCI_MMIO_START && PCI_MMIO_END <= VIRTIO_MMIO_BASE) };
        // The last virtio-mmio device ends below the IOAPIC; its IRQ is an ISA IRQ that is
        // not COM1's.
        let (last, irq) = virtio_slot(MAX_VIRTIO_DEVICES - 1);
        assert!(last + VIRTIO_MMIO_SIZE <= IOAPIC_BASE);
        assert!(irq < GED_IRQ && irq != SERIAL_IRQ && VIRTIO_IRQ_BASE > SERIAL_IRQ);
        assert_eq!(virtio_slot(1), (0xd000_1000, 6));
        // Below the hole is all the low RAM there is: the window never overlaps RAM.
        assert_eq!(low_ram_end(8 << 30), PCI_MMIO_START);
    }
}
