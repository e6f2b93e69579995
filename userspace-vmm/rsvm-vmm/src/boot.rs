//! Loading Linux with the 64-bit boot protocol (Documentation/arch/x86/boot.rst), as
//! Firecracker does: the kernel (bzImage or ELF vmlinux, through linux-loader), the initrd
//! at the top of low RAM, the command line, the zero page with the e820 map
//! (LinuxBootConfigurator), the MP table, the ACPI tables, identity-mapped page tables and a flat GDT; the
//! boot vCPU starts in long mode at the kernel's 64-bit entry with RSI = zero page.

use crate::layout::*;
use crate::mptable;
use kvm_bindings::{kvm_fpu, kvm_msr_entry, kvm_regs, kvm_segment, kvm_sregs, Msrs};
use kvm_ioctls::VcpuFd;
use linux_loader::configurator::linux::LinuxBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use linux_loader::loader::{load_cmdline, BzImage, Cmdline, Elf, KernelLoader};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use vm_memory::{Bytes, GuestAddress, GuestMemoryError, GuestMemoryMmap};

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("--cmdline: {0}")]
    Cmdline(linux_loader::cmdline::Error),
    #[error("command line too long: {0}")]
    CmdlineTooLong(linux_loader::cmdline::Error),
    #[error("the command line is {len} bytes; this kernel takes at most {max}")]
    CmdlineTooLongForKernel { len: usize, max: u32 },
    #[error("command line: {0}")]
    LoadCmdline(linux_loader::loader::Error),
    #[error("--kernel {}: {source}", .path.display())]
    KernelOpen { path: PathBuf, source: std::io::Error },
    #[error("--kernel {}: cannot read: {source} (is it a kernel image?)", .path.display())]
    KernelRead { path: PathBuf, source: std::io::Error },
    #[error("--kernel {}: not a loadable ELF vmlinux: {source}", .path.display())]
    Elf { path: PathBuf, source: linux_loader::loader::Error },
    #[error("--kernel {}: not a loadable bzImage or ELF vmlinux: {source} (or it does not fit in --mem)", .path.display())]
    BzImage { path: PathBuf, source: linux_loader::loader::Error },
    #[error("--kernel {}: this bzImage has no 64-bit entry point (xloadflags bit 0)", .path.display())]
    No64BitEntry { path: PathBuf },
    #[error("--kernel {}: the kernel needs guest RAM up to {mib} MiB; give more --mem", .path.display())]
    KernelTooBig { path: PathBuf, mib: u64 },
    #[error("--initrd {}: {source}", .path.display())]
    Initrd { path: PathBuf, source: std::io::Error },
    #[error("--initrd {}: {source}", .path.display())]
    InitrdLoad { path: PathBuf, source: GuestMemoryError },
    #[error("--initrd {} ({kib} KiB) does not fit in guest RAM between the kernel (up to {kernel_end:#x}) and {limit:#x}; give more --mem", .path.display())]
    InitrdTooBig { path: PathBuf, kib: u64, kernel_end: u64, limit: u64 },
    #[error("zero page: {0}")]
    ZeroPage(linux_loader::configurator::Error),
    /// A table or structure the VMM writes into guest memory: MP table, ACPI tables, page
    /// tables, GDT, IDT.
    #[error("{what}: {source}")]
    Write { what: &'static str, source: GuestMemoryError },
    /// A vCPU ioctl setting up the boot state.
    #[error("{op}: {source}")]
    Vcpu { op: &'static str, source: kvm_ioctls::Error },
    #[error("MSR list: {0:?}")]
    MsrList(vmm_sys_util::fam::Error),
    #[error("KVM_SET_MSRS: the device took {took} of {all} MSRs (stopped at {stopped:#x})")]
    MsrsRefused { took: usize, all: usize, stopped: u32 },
}

/// A write of `what` into guest memory failed.
fn write_err(what: &'static str) -> impl Fn(GuestMemoryError) -> BootError {
    move |source| BootError::Write { what, source }
}

/// A vCPU ioctl `op` failed.
fn vcpu_err(op: &'static str) -> impl Fn(kvm_ioctls::Error) -> BootError {
    move |source| BootError::Vcpu { op, source }
}

const KERNEL_BOOT_FLAG_MAGIC: u16 = 0xaa55;
const KERNEL_HDR_MAGIC: u32 = 0x5372_6448; // "HdrS"
const KERNEL_LOADER_OTHER: u8 = 0xff;
const KERNEL_MIN_ALIGNMENT: u32 = 0x0100_0000;
/// xloadflags: the kernel has the 64-bit entry at load address + 0x200.
const XLF_KERNEL_64: u16 = 1 << 0;
const PAGE: u64 = 0x1000;

/// The command line defaults when --cmdline is not given.
pub const DEFAULT_CMDLINE: &str = "console=ttyS0 reboot=k panic=1 pci=off";
/// ... and with --passthrough (the guest must probe PCI).
pub const DEFAULT_CMDLINE_PCI: &str = "console=ttyS0 reboot=k panic=1";

/// The command line the guest gets: the user's (or the default), then what the VMM must add
/// for its devices and the clock: the virtio-mmio device, and the TSC frequency.
pub fn cmdline(user: &str, tsc_khz: u32, virtio_devices: usize) -> Result<Cmdline, BootError> {
    // With ACPI the devices are in the DSDT instead (callers pass 0).
    let mut c = Cmdline::try_from(user, CMDLINE_MAX).map_err(BootError::Cmdline)?;
    for i in 0..virtio_devices {
        let (base, irq) = virtio_slot(i);
        c.add_virtio_mmio_device(VIRTIO_MMIO_SIZE, GuestAddress(base), irq, None).map_err(BootError::CmdlineTooLong)?;
    }
    c.insert("tsc_early_khz", &tsc_khz.to_string()).map_err(BootError::CmdlineTooLong)?;
    Ok(c)
}

/// Where the boot vCPU starts.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub rip: u64,
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// Where the initrd goes: page aligned, as high as possible below `limit` (the end of low
/// RAM or the kernel's initrd_addr_max), not below `floor` (the end of the kernel's space).
pub fn initrd_addr(size: u64, floor: u64, limit: u64) -> Option<u64> {
    let addr = limit.checked_sub(size)? & !(PAGE - 1);
    (addr >= align_up(floor, PAGE)).then_some(addr)
}

pub struct LoadSpec<'a> {
    pub kernel: &'a Path,
    pub initrd: Option<&'a Path>,
    pub cmdline: &'a Cmdline,
    pub mem_size: u64,
    pub ncpus: u8,
    pub cpu_signature: u32,
    /// Write the ACPI tables (acpi.rs).
    pub acpi: bool,
    /// virtio-mmio devices to describe in the DSDT (with ACPI).
    pub virtio_in_acpi: usize,
    /// The PCI bus's populated slots and their interrupt pins (empty: no PCI bus).
    pub pci: &'a [crate::pci::SlotIrq],
}

/// Loads everything into guest memory; returns the entry point.
pub fn load(mem: &GuestMemoryMmap, spec: &LoadSpec) -> Result<Entry, BootError> {
    let path = || spec.kernel.to_path_buf();
    let mut kf = File::open(spec.kernel).map_err(|source| BootError::KernelOpen { path: path(), source })?;
    let mut magic = [0u8; 4];
    kf.read_exact(&mut magic).map_err(|source| BootError::KernelRead { path: path(), source })?;
    let is_elf = magic == *b"\x7fELF";
    let res = if is_elf {
        Elf::load(mem, None, &mut kf, Some(GuestAddress(HIGH_MEM)))
            .map_err(|source| BootError::Elf { path: path(), source })?
    } else {
        BzImage::load(mem, None, &mut kf, Some(GuestAddress(HIGH_MEM))).map_err(|source| BootError::BzImage { path: path(), source })?
    };
    let (mut hdr, rip, reserve_end) = match res.setup_header {
        Some(h) => {
            if h.xloadflags & XLF_KERNEL_64 == 0 {
                return Err(BootError::No64BitEntry { path: path() });
            }
            // The decompressor needs init_size bytes at max(load address, pref_address).
            let base = res.kernel_load.0.max(h.pref_address);
            (h, res.kernel_load.0 + 0x200, res.kernel_end.max(base + u64::from(h.init_size)))
        }
        None => {
            let h = setup_header { kernel_alignment: KERNEL_MIN_ALIGNMENT, initrd_addr_max: 0x37ff_ffff, ..Default::default() };
            (h, res.kernel_load.0, res.kernel_end)
        }
    };
    let low_end = low_ram_end(spec.mem_size);
    if reserve_end > low_end {
        return Err(BootError::KernelTooBig { path: path(), mib: reserve_end.div_ceil(1 << 20) });
    }
    hdr.type_of_loader = KERNEL_LOADER_OTHER;
    hdr.boot_flag = KERNEL_BOOT_FLAG_MAGIC;
    hdr.header = KERNEL_HDR_MAGIC;
    if hdr.kernel_alignment == 0 {
        hdr.kernel_alignment = KERNEL_MIN_ALIGNMENT;
    }

    // Command line.
    let cbytes = spec.cmdline.as_cstring().map_err(BootError::Cmdline)?;
    let clen = cbytes.as_bytes().len();
    let max = hdr.cmdline_size;
    if max != 0 && clen > max as usize {
        return Err(BootError::CmdlineTooLongForKernel { len: clen, max });
    }
    load_cmdline(mem, GuestAddress(CMDLINE_ADDR), spec.cmdline).map_err(BootError::LoadCmdline)?;
    hdr.cmd_line_ptr = CMDLINE_ADDR as u32;
    hdr.cmdline_size = clen as u32 + 1;

    // Initrd.
    if let Some(ipath) = spec.initrd {
        let ierr = |source| BootError::Initrd { path: ipath.to_path_buf(), source };
        let mut f = File::open(ipath).map_err(ierr)?;
        let size = f.metadata().map_err(ierr)?.len();
        let limit = low_end.min(u64::from(hdr.initrd_addr_max) + 1);
        let addr = initrd_addr(size, reserve_end, limit).ok_or_else(|| BootError::InitrdTooBig {
            path: ipath.to_path_buf(),
            kib: size.div_ceil(1024),
            kernel_end: reserve_end,
            limit,
        })?;
        mem.read_exact_volatile_from(GuestAddress(addr), &mut f, size as usize)
            .map_err(|source| BootError::InitrdLoad { path: ipath.to_path_buf(), source })?;
        hdr.ramdisk_image = addr as u32;
        hdr.ramdisk_size = size as u32;
    }

    // Zero page.
    let mut params = boot_params { hdr, ..Default::default() };
    let e820 = e820_map(spec.mem_size);
    for (i, e) in e820.iter().enumerate() {
        params.e820_table[i] = boot_e820_entry { addr: e.addr, size: e.size, r#type: e.kind };
    }
    params.e820_entries = e820.len() as u8;
    LinuxBootConfigurator::write_bootparams::<GuestMemoryMmap>(&BootParams::new(&params, GuestAddress(ZERO_PAGE)), mem)
        .map_err(BootError::ZeroPage)?;

    // MP table, page tables, GDT.
    mem.write_slice(&mptable::build(spec.ncpus, spec.cpu_signature, spec.pci), GuestAddress(EBDA_START))
        .map_err(write_err("MP table"))?;
    if spec.acpi {
        for (addr, t) in crate::acpi::build(spec.ncpus, spec.virtio_in_acpi, spec.pci) {
            mem.write_slice(&t, GuestAddress(addr)).map_err(write_err("ACPI tables"))?;
        }
    }
    write_page_tables(mem)?;
    write_gdt(mem)?;
    Ok(Entry { rip })
}

/// Identity map of the first 4 GiB with 2 MiB pages.
fn write_page_tables(mem: &GuestMemoryMmap) -> Result<(), BootError> {
    let w = |v: u64, a: u64| mem.write_obj(v, GuestAddress(a)).map_err(write_err("page tables"));
    w(PDPT_ADDR | 0x3, PML4_ADDR)?;
    for i in 0..4u64 {
        w((PD_ADDR + i * PAGE) | 0x3, PDPT_ADDR + i * 8)?;
    }
    for j in 0..2048u64 {
        w((j << 21) | 0x83, PD_ADDR + j * 8)?;
    }
    Ok(())
}

/// GDT entries: null, 64-bit code (0x08), data (0x10), TSS (0x18).
pub const GDT: [u64; 4] = [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff, 0x008f_8b00_0000_ffff];

fn write_gdt(mem: &GuestMemoryMmap) -> Result<(), BootError> {
    for (i, e) in GDT.iter().enumerate() {
        mem.write_obj(*e, GuestAddress(GDT_ADDR + i as u64 * 8)).map_err(write_err("GDT"))?;
    }
    mem.write_obj(0u64, GuestAddress(IDT_ADDR)).map_err(write_err("IDT"))
}

/// The KVM segment a GDT descriptor describes.
pub fn segment(entry: u64, selector: u16) -> kvm_segment {
    let g = ((entry >> 55) & 1) as u8;
    let raw_limit = (((entry >> 32) & 0x000f_0000) | (entry & 0xffff)) as u32;
    kvm_segment {
        base: ((entry >> 16) & 0x00ff_ffff) | (((entry >> 56) & 0xff) << 24),
        limit: if g == 1 { (raw_limit << 12) | 0xfff } else { raw_limit },
        selector,
        type_: ((entry >> 40) & 0xf) as u8,
        present: ((entry >> 47) & 1) as u8,
        dpl: ((entry >> 45) & 3) as u8,
        db: ((entry >> 54) & 1) as u8,
        s: ((entry >> 44) & 1) as u8,
        l: ((entry >> 53) & 1) as u8,
        g,
        avl: ((entry >> 52) & 1) as u8,
        unusable: u8::from((entry >> 47) & 1 == 0),
        padding: 0,
    }
}

const CR0_PE: u64 = 1;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

/// Puts the boot vCPU in 64-bit mode at `entry`.
pub fn setup_boot_vcpu(vcpu: &VcpuFd, entry: Entry) -> Result<(), BootError> {
    let mut s: kvm_sregs = vcpu.get_sregs().map_err(vcpu_err("KVM_GET_SREGS"))?;
    let code = segment(GDT[1], 0x08);
    let data = segment(GDT[2], 0x10);
    s.cs = code;
    s.ds = data;
    s.es = data;
    s.fs = data;
    s.gs = data;
    s.ss = data;
    s.tr = segment(GDT[3], 0x18);
    s.gdt.base = GDT_ADDR;
    s.gdt.limit = (GDT.len() * 8 - 1) as u16;
    s.idt.base = IDT_ADDR;
    s.idt.limit = 7;
    s.cr3 = PML4_ADDR;
    s.cr4 |= CR4_PAE;
    s.cr0 |= CR0_PE | CR0_PG;
    s.efer |= EFER_LME | EFER_LMA;
    vcpu.set_sregs(&s).map_err(vcpu_err("KVM_SET_SREGS"))?;
    let regs = kvm_regs { rflags: 2, rip: entry.rip, rsp: BOOT_STACK, rbp: BOOT_STACK, rsi: ZERO_PAGE, ..Default::default() };
    vcpu.set_regs(&regs).map_err(vcpu_err("KVM_SET_REGS"))?;
    let fpu = kvm_fpu { fcw: 0x37f, mxcsr: 0x1f80, ..Default::default() };
    vcpu.set_fpu(&fpu).map_err(vcpu_err("KVM_SET_FPU"))
}

/// MSRs set on every vCPU (as Firecracker): the syscall MSRs cleared, fast strings on; only
/// those the device lists in KVM_GET_MSR_INDEX_LIST.
pub fn boot_msrs(index_list: &[u32]) -> Vec<kvm_msr_entry> {
    const MSR_IA32_SYSENTER_CS: u32 = 0x174;
    const MSR_IA32_SYSENTER_ESP: u32 = 0x175;
    const MSR_IA32_SYSENTER_EIP: u32 = 0x176;
    const MSR_STAR: u32 = 0xc000_0081;
    const MSR_LSTAR: u32 = 0xc000_0082;
    const MSR_CSTAR: u32 = 0xc000_0083;
    const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
    const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
    const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
    const MISC_ENABLE_FAST_STRING: u64 = 1;
    [
        (MSR_IA32_SYSENTER_CS, 0),
        (MSR_IA32_SYSENTER_ESP, 0),
        (MSR_IA32_SYSENTER_EIP, 0),
        (MSR_STAR, 0),
        (MSR_LSTAR, 0),
        (MSR_CSTAR, 0),
        (MSR_SYSCALL_MASK, 0),
        (MSR_KERNEL_GS_BASE, 0),
        (MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
    ]
    .iter()
    .filter(|(i, _)| index_list.contains(i))
    .map(|&(index, data)| kvm_msr_entry { index, data, ..Default::default() })
    .collect()
}

pub fn set_msrs(vcpu: &VcpuFd, entries: &[kvm_msr_entry]) -> Result<(), BootError> {
    if entries.is_empty() {
        return Ok(());
    }
    let msrs = Msrs::from_entries(entries).map_err(BootError::MsrList)?;
    let n = vcpu.set_msrs(&msrs).map_err(vcpu_err("KVM_SET_MSRS"))?;
    if n != entries.len() {
        return Err(BootError::MsrsRefused { took: n, all: entries.len(), stopped: entries[n].index });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_assembly() {
        let c = cmdline(DEFAULT_CMDLINE, 2_500_000, 1).unwrap();
        assert_eq!(
            c.as_cstring().unwrap().to_str().unwrap(),
            "console=ttyS0 reboot=k panic=1 pci=off virtio_mmio.device=4K@0xd0000000:5 tsc_early_khz=2500000"
        );
        let c = cmdline("console=ttyS0", 1, 2).unwrap();
        assert_eq!(
            c.as_cstring().unwrap().to_str().unwrap(),
            "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 tsc_early_khz=1"
        );
        let c = cmdline("console=ttyS0 -- init-arg", 1000, 0).unwrap();
        // Init arguments stay last.
        assert_eq!(c.as_cstring().unwrap().to_str().unwrap(), "console=ttyS0 tsc_early_khz=1000 -- init-arg");
        assert!(cmdline(&"x".repeat(5000), 1000, 0).is_err());
    }

    #[test]
    fn initrd_placement() {
        // Top of low RAM, page aligned.
        assert_eq!(initrd_addr(0x1800, 0x200_0000, 0x1000_0000), Some(0x1000_0000 - 0x2000));
        // Does not fit above the kernel.
        assert_eq!(initrd_addr(0x0f00_0000, 0x200_0000, 0x1000_0000), None);
        assert_eq!(initrd_addr(0x2000_0000, 0, 0x1000_0000), None);
    }

    #[test]
    fn gdt_segments() {
        let cs = segment(GDT[1], 8);
        assert_eq!((cs.type_, cs.l, cs.db, cs.present, cs.s, cs.limit, cs.unusable), (0xb, 1, 0, 1, 1, 0xffff_ffff, 0));
        let ds = segment(GDT[2], 0x10);
        assert_eq!((ds.type_, ds.l, ds.db, ds.limit), (3, 0, 1, 0xffff_ffff));
        let tr = segment(GDT[3], 0x18);
        assert_eq!((tr.type_, tr.s, tr.present), (0xb, 0, 1));
    }

    #[test]
    fn msr_filter() {
        let m = boot_msrs(&[0x174, 0xc000_0082, 0x1a0, 0x10]);
        assert_eq!(m.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0x174, 0xc000_0082, 0x1a0]);
        assert_eq!(m[2].data, 1);
    }

    fn mem(size: u64) -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size as usize)]).unwrap()
    }

    #[test]
    fn bad_kernels() {
        let dir = std::env::temp_dir();
        let c = cmdline(DEFAULT_CMDLINE, 1000, 0).unwrap();
        let spec = |k: &'static str| (dir.join(k), c.clone());
        let m = mem(64 << 20);
        let (p, c1) = spec("rsvm-vmm-test-missing-kernel");
        let _ = std::fs::remove_file(&p);
        let e = load(&m, &LoadSpec { kernel: &p, initrd: None, cmdline: &c1, mem_size: 64 << 20, ncpus: 1, cpu_signature: 0, acpi: true, virtio_in_acpi: 0, pci: &[] }).unwrap_err();
        assert_eq!(e.to_string(), format!("--kernel {}: No such file or directory (os error 2)", p.display()));
        let (p, c1) = spec("rsvm-vmm-test-garbage-kernel");
        std::fs::write(&p, vec![0x42u8; 8192]).unwrap();
        let e = load(&m, &LoadSpec { kernel: &p, initrd: None, cmdline: &c1, mem_size: 64 << 20, ncpus: 1, cpu_signature: 0, acpi: true, virtio_in_acpi: 0, pci: &[] }).unwrap_err();
        let e = e.to_string();
        assert!(e.starts_with(&format!("--kernel {}: not a loadable bzImage or ELF vmlinux: ", p.display())), "{e}");
        assert!(e.ends_with(" (or it does not fit in --mem)"), "{e}");
        std::fs::write(&p, b"").unwrap();
        let e = load(&m, &LoadSpec { kernel: &p, initrd: None, cmdline: &c1, mem_size: 64 << 20, ncpus: 1, cpu_signature: 0, acpi: true, virtio_in_acpi: 0, pci: &[] }).unwrap_err();
        assert_eq!(e.to_string(), format!("--kernel {}: cannot read: failed to fill whole buffer (is it a kernel image?)", p.display()));
        std::fs::remove_file(&p).unwrap();
    }
}
