//! A minimal VMM on `kvm-ioctls` for the payloads: guest memory, the CPU mode, and a run
//! loop that answers every exit deterministically and records a trace. The same code runs
//! on /dev/rsvm and /dev/kvm; their traces must be equal.

use crate::payloads::Mode;
use kvm_bindings::{kvm_segment, kvm_userspace_memory_region, KVM_MEM_READONLY};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use std::collections::HashMap;
use std::ffi::CString;

/// Guest-physical layout: RAM at [0, 256 KiB) (slot 0) and [1 MiB, 4 MiB) (slot 1); the
/// hole between is for tests' extra slots and MMIO (0xa0000 for real mode); 0x40000000 and
/// 0xd0000000 are MMIO too.
pub const LOW_RAM: u64 = 0x40000;
pub const HIGH_RAM: u64 = 0x100000;
pub const HIGH_RAM_END: u64 = 0x400000;
pub const CODE: u64 = 0x1000;
/// A payload that cannot end with HLT (with an in-kernel APIC, HLT sleeps in the kernel)
/// ends with an OUT to this port.
pub const DONE_PORT: u16 = 0xf4;
const GDT: u64 = 0x500;
const PML4: u64 = 0x10000;

/// An anonymous host mapping, unmapped on drop unless taken.
pub struct HostMem {
    pub ptr: *mut u8,
    pub len: usize,
    /// The whole mapping, when `ptr` was aligned inside a larger one.
    map: (*mut u8, usize),
}

impl HostMem {
    /// `len` bytes at a 2 MiB-aligned address, advised for transparent huge pages.
    pub fn new_huge(len: usize) -> Result<Self, String> {
        const M2: usize = 2 << 20;
        let m = Self::new(len + M2)?;
        let off = (M2 - (m.ptr as usize % M2)) % M2;
        // SAFETY: `off + len` lies inside the mapping.
        let ptr = unsafe { m.ptr.add(off) };
        // SAFETY: advises our own mapping.
        if unsafe { libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE) } != 0 {
            return Err(format!("madvise(MADV_HUGEPAGE): {}", std::io::Error::last_os_error()));
        }
        let r = Self { ptr, len, map: m.map };
        std::mem::forget(m);
        Ok(r)
    }

    pub fn new(len: usize) -> Result<Self, String> {
        // SAFETY: anonymous private mapping; checked below; unmapped in Drop.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
        };
        if p == libc::MAP_FAILED {
            return Err(format!("mmap {len}: {}", std::io::Error::last_os_error()));
        }
        Ok(Self { ptr: p.cast(), len, map: (p.cast(), len) })
    }

    pub fn write(&self, off: u64, data: &[u8]) {
        assert!(off as usize + data.len() <= self.len, "write outside guest memory");
        // SAFETY: bounds checked above; the mapping is ours.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(off as usize), data.len()) };
    }

    /// `len` bytes at `off` (what the guest or the hypervisor wrote there).
    pub fn read(&self, off: u64, len: usize) -> Vec<u8> {
        assert!(off as usize + len <= self.len, "read outside guest memory");
        let mut v = vec![0u8; len];
        // SAFETY: bounds checked above; the mapping is ours.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(off as usize), v.as_mut_ptr(), len) };
        v
    }
}

impl Drop for HostMem {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`.
        unsafe { libc::munmap(self.map.0.cast(), self.map.1) };
    }
}

pub struct Guest {
    /// The device fd; kept open for the VM's lifetime.
    pub _kvm: Kvm,
    pub vm: VmFd,
    pub vcpu: VcpuFd,
    pub mem: HostMem,
    pub extra: Vec<HostMem>,
    pub trace: Vec<String>,
    /// Bytes answered so far per IN port / MMIO read address (deterministic data).
    in_counts: HashMap<u16, usize>,
    /// OUT data to the result port 0xe9, in order, one entry per exit.
    pub results: Vec<Vec<u8>>,
}

/// The byte the harness answers for the `n`-th byte read from an I/O port.
pub fn in_pattern(port: u16, n: usize) -> u8 {
    (port as u8).wrapping_add(0x40).wrapping_add((n as u8).wrapping_mul(0x11))
}

/// The byte the harness answers for byte `i` of an MMIO read at `addr`.
pub fn mmio_pattern(addr: u64, i: usize) -> u8 {
    (addr as u8).wrapping_mul(3).wrapping_add((i as u8).wrapping_mul(0x11)).wrapping_add(0x5a)
}

pub fn open(dev: &str) -> Result<Kvm, String> {
    let path = CString::new(dev).map_err(|e| e.to_string())?;
    Kvm::new_with_path(&path).map_err(|e| format!("open {dev}: {e}"))
}

pub fn region(slot: u32, gpa: u64, size: u64, hva: u64, flags: u32) -> kvm_userspace_memory_region {
    kvm_userspace_memory_region { slot, flags, guest_phys_addr: gpa, memory_size: size, userspace_addr: hva }
}

fn seg(selector: u16, type_: u8, l: u8, db: u8) -> kvm_segment {
    kvm_segment { base: 0, limit: 0xffff_ffff, selector, type_, present: 1, dpl: 0, db, s: 1, l, g: 1, avl: 0, unusable: 0, padding: 0 }
}

impl Guest {
    /// A VM with the standard layout, one vCPU in `mode` at CODE, and `code` loaded there.
    pub fn new(dev: &str, mode: Mode, code: &[u8], cpuid: &kvm_bindings::CpuId) -> Result<Self, String> {
        Self::with_memory(dev, mode, code, cpuid, HostMem::new(HIGH_RAM_END as usize)?)
    }

    /// As `new`, with guest RAM backed by `mem` (at least HIGH_RAM_END bytes).
    pub fn with_memory(dev: &str, mode: Mode, code: &[u8], cpuid: &kvm_bindings::CpuId, mem: HostMem) -> Result<Self, String> {
        Self::build(dev, mode, code, cpuid, mem, false)
    }

    /// As `new`, with the local APIC in the kernel (KVM_CAP_SPLIT_IRQCHIP, enabled before
    /// the vCPU is created, as KVM requires).
    pub fn with_apic(dev: &str, mode: Mode, code: &[u8], cpuid: &kvm_bindings::CpuId) -> Result<Self, String> {
        Self::build(dev, mode, code, cpuid, HostMem::new(HIGH_RAM_END as usize)?, true)
    }

    fn build(dev: &str, mode: Mode, code: &[u8], cpuid: &kvm_bindings::CpuId, mem: HostMem, apic: bool) -> Result<Self, String> {
        let kvm = open(dev)?;
        let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
        if apic {
            let mut cap = kvm_bindings::kvm_enable_cap { cap: kvm_bindings::KVM_CAP_SPLIT_IRQCHIP, ..Default::default() };
            cap.args[0] = 24;
            vm.enable_cap(&cap).map_err(|e| format!("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): {e}"))?;
        }
        let base = mem.ptr as u64;
        // SAFETY: both regions lie in `mem`, which outlives the VM (field order: vm first).
        unsafe {
            vm.set_user_memory_region(region(0, 0, LOW_RAM, base, 0)).map_err(|e| format!("slot 0: {e}"))?;
            vm.set_user_memory_region(region(1, HIGH_RAM, HIGH_RAM_END - HIGH_RAM, base + HIGH_RAM, 0))
                .map_err(|e| format!("slot 1: {e}"))?;
        }
        let vcpu = vm.create_vcpu(0).map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
        mem.write(CODE, code);
        // CPUID first: KVM checks EFER against it (LME needs long mode in the guest's CPUID).
        vcpu.set_cpuid2(cpuid).map_err(|e| format!("KVM_SET_CPUID2: {e}"))?;
        let g = Guest { _kvm: kvm, vm, vcpu, mem, extra: Vec::new(), trace: Vec::new(), in_counts: HashMap::new(), results: Vec::new() };
        g.set_mode(mode)?;
        Ok(g)
    }

    fn set_mode(&self, mode: Mode) -> Result<(), String> {
        set_cpu_mode(&self.vcpu, &self.mem, mode, None)
    }

    /// Adds a slot backed by a fresh host mapping filled with `fill`.
    pub fn add_slot(&mut self, slot: u32, gpa: u64, size: u64, fill: u8, readonly: bool) -> Result<(), String> {
        let m = HostMem::new(size as usize)?;
        m.write(0, &vec![fill; size as usize]);
        let flags = if readonly { KVM_MEM_READONLY } else { 0 };
        // SAFETY: `m` is kept in `extra`, which outlives the VM's use of it (or the slot is
        // deleted first).
        unsafe { self.vm.set_user_memory_region(region(slot, gpa, size, m.ptr as u64, flags)) }
            .map_err(|e| format!("slot {slot}: {e}"))?;
        self.extra.push(m);
        Ok(())
    }

    pub fn delete_slot(&mut self, slot: u32) -> Result<(), String> {
        // SAFETY: a zero-sized region deletes the slot.
        unsafe { self.vm.set_user_memory_region(region(slot, 0, 0, 0, 0)) }.map_err(|e| format!("delete slot {slot}: {e}"))
    }

    fn push_io(&mut self, dir: &str, port: u16, data: &[u8]) {
        // Consecutive string I/O to one port may be split differently by hypervisors:
        // coalesce it so traces compare equal.
        let prefix = format!("{dir} port={port:#x} data=");
        if let Some(last) = self.trace.last_mut() {
            if last.starts_with(&prefix) && port != 0xe9 {
                for b in data {
                    last.push_str(&format!("{b:02x}"));
                }
                return;
            }
        }
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        self.trace.push(format!("{prefix}{hex}"));
    }

    /// Runs until HLT, SHUTDOWN, or an exit the harness does not continue from (at most
    /// `max` exits). Returns the last exit's name.
    pub fn run(&mut self, max: usize) -> Result<String, String> {
        for _ in 0..max {
            let exit = self.vcpu.run().map_err(|e| format!("KVM_RUN: {e}"))?;
            let mut ins: Option<(u16, usize)> = None;
            let end = match exit {
                VcpuExit::IoOut(DONE_PORT, _) => Some("done".to_string()),
                VcpuExit::IoOut(port, data) => {
                    let d = data.to_vec();
                    if port == 0xe9 {
                        self.results.push(d.clone());
                    }
                    self.push_io("out", port, &d);
                    None
                }
                VcpuExit::IoIn(port, data) => {
                    let n0 = *self.in_counts.get(&port).unwrap_or(&0);
                    for (i, b) in data.iter_mut().enumerate() {
                        *b = in_pattern(port, n0 + i);
                    }
                    ins = Some((port, data.len()));
                    let d = data.to_vec();
                    self.push_io("in", port, &d);
                    None
                }
                VcpuExit::MmioWrite(addr, data) => {
                    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
                    self.trace.push(format!("mmio-write addr={addr:#x} data={hex}"));
                    None
                }
                VcpuExit::MmioRead(addr, data) => {
                    for (i, b) in data.iter_mut().enumerate() {
                        *b = mmio_pattern(addr, i);
                    }
                    self.trace.push(format!("mmio-read addr={addr:#x} len={}", data.len()));
                    None
                }
                VcpuExit::Hlt => Some("hlt".to_string()),
                VcpuExit::Shutdown => Some("shutdown".to_string()),
                VcpuExit::FailEntry(reason, _cpu) => Some(format!("fail-entry reason={reason:#x}")),
                VcpuExit::InternalError => Some("internal-error".to_string()),
                VcpuExit::IrqWindowOpen => Some("irq-window-open".to_string()),
                VcpuExit::Intr => Some("intr".to_string()),
                other => Some(format!("unexpected {other:?}")),
            };
            if let Some((port, n)) = ins {
                *self.in_counts.entry(port).or_insert(0) += n;
            }
            if let Some(e) = end {
                self.trace.push(e.clone());
                return Ok(e);
            }
        }
        Err(format!("no end after {max} exits"))
    }

    /// The final register line of a trace.
    pub fn regs_line(&self) -> Result<String, String> {
        let r = self.vcpu.get_regs().map_err(|e| format!("KVM_GET_REGS: {e}"))?;
        let s = self.vcpu.get_sregs().map_err(|e| format!("KVM_GET_SREGS: {e}"))?;
        Ok(format!(
            "regs rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x} rsp={:#x} rbp={:#x} r8={:#x} r9={:#x} r10={:#x} r15={:#x} rip={:#x} rflags={:#x} cr0={:#x} cr4={:#x} efer={:#x}",
            r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r9, r.r10, r.r15, r.rip, r.rflags, s.cr0, s.cr4, s.efer
        ))
    }
}

/// Puts `vcpu` in `mode` at CODE with the stack at 0x8000, writing the GDT into `mem`. In
/// long mode the guest's page tables are at `cr3` if given (built by the caller), else an
/// identity map of 0..4 GiB with 2 MiB pages is built at PML4.
pub fn set_cpu_mode(vcpu: &VcpuFd, mem: &HostMem, mode: Mode, cr3: Option<u64>) -> Result<(), String> {
    let mut s = vcpu.get_sregs().map_err(|e| format!("KVM_GET_SREGS: {e}"))?;
    let mut r = vcpu.get_regs().map_err(|e| format!("KVM_GET_REGS: {e}"))?;
    r.rflags = 2;
    r.rsp = 0x8000;
    // GDT: null, 0x08 code64, 0x10 data, 0x18 code32, 0x20 data32.
    let gdt: [u64; 5] = [0, 0x0020_9a00_0000_0000, 0x00cf_9200_0000_ffff, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff];
    for (i, d) in gdt.iter().enumerate() {
        mem.write(GDT + 8 * i as u64, &d.to_le_bytes());
    }
    match mode {
        Mode::Real => {
            s.cs.selector = 0;
            s.cs.base = 0;
            r.rip = CODE;
        }
        Mode::Prot32 | Mode::Long64 => {
            s.gdt.base = GDT;
            s.gdt.limit = 5 * 8 - 1;
            let long = mode == Mode::Long64;
            s.cs = if long { seg(0x08, 11, 1, 0) } else { seg(0x18, 11, 0, 1) };
            let d = seg(if long { 0x10 } else { 0x20 }, 3, 0, 1);
            (s.ds, s.es, s.ss, s.fs, s.gs) = (d, d, d, d, d);
            s.cr0 = 0x11; // PE | ET
            r.rip = CODE;
            if long && cr3.is_none() {
                // Identity map 0..4 GiB with 2 MiB pages.
                mem.write(PML4, &(PML4 + 0x1000 | 3).to_le_bytes());
                for i in 0..4u64 {
                    let pd = PML4 + 0x2000 + i * 0x1000;
                    mem.write(PML4 + 0x1000 + i * 8, &(pd | 3).to_le_bytes());
                    for j in 0..512u64 {
                        let pa = (i * 512 + j) << 21;
                        mem.write(pd + j * 8, &(pa | 0x83).to_le_bytes());
                    }
                }
            }
            if long {
                s.cr3 = cr3.unwrap_or(PML4);
                s.cr4 = 0x620; // PAE | OSFXSR | OSXMMEXCPT
                s.cr0 = 0x8000_0011; // PG | PE | ET
                s.efer = 0x500; // LME | LMA
            }
        }
    }
    vcpu.set_sregs(&s).map_err(|e| format!("KVM_SET_SREGS: {e}"))?;
    vcpu.set_regs(&r).map_err(|e| format!("KVM_SET_REGS: {e}"))?;
    Ok(())
}


/// A CPUID table with just long mode (8000_0001h EDX bit 29), which KVM requires before it
/// accepts EFER.LME.
pub fn long_mode_cpuid() -> Result<kvm_bindings::CpuId, String> {
    let lm = kvm_bindings::kvm_cpuid_entry2 { function: 0x8000_0001, edx: 1 << 29, ..Default::default() };
    kvm_bindings::CpuId::from_entries(&[lm]).map_err(|e| format!("{e:?}"))
}

/// Arms a one-shot SIGALRM `secs` from now (0 cancels) with a handler that does nothing and
/// no SA_RESTART: a KVM_RUN in progress then returns EINTR (KVM_EXIT_INTR). Tests use it so a
/// guest that never exits (spinning, or halted with an in-kernel APIC) ends the run.
pub fn alarm_interrupts_run(secs: u32) {
    extern "C" fn on_alarm(_: i32) {}
    // SAFETY: installs a signal handler that touches nothing, then arms (or cancels) the
    // process's one alarm.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_alarm as *const () as usize;
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
        libc::alarm(secs);
    }
}
