//! The pointer chase of Drepper's "The Cost of Virtualization" (figure 2), natively in this
//! process and inside a guest, with 4 KiB or 2 MiB pages in each of the two levels: the
//! guest's own page tables (GPT) and the VMM memory backing the NPT.
//!
//! Under QEMU TCG there is no hardware TLB: what this measures there is the emulator's
//! software TLB and its emulated two-dimensional walk, not a CPU's.

use crate::list::{self, Order};
use crate::stats;
use rsvm_guest::guest::{self, HostMem};
use rsvm_guest::payloads::{self, Mode};

const PML4: u64 = 0x10000;
/// 4 KiB guest page tables live here (2 MiB of PTEs map 1 GiB).
const PT_BASE: u64 = 0x20_0000;
/// The list starts at 4 MiB (2 MiB aligned).
const LIST_BASE: u64 = 0x40_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    Small,
    Huge,
}

impl PageSize {
    fn name(self) -> &'static str {
        match self {
            PageSize::Small => "4k",
            PageSize::Huge => "2m",
        }
    }
}

use crate::exits::rdtsc;

/// Steps to time for `count` elements: at least two laps and at least 2^16 steps.
fn steps(count: usize) -> u64 {
    (2 * count as u64).max(1 << 16)
}

/// The native chase: ticks per step.
pub fn native(ws: usize, npad: usize, order: Order, backing: PageSize) -> Result<f64, String> {
    let count = list::element_count(ws, npad).max(1);
    let mem = if backing == PageSize::Huge { HostMem::new_huge(ws.max(2 << 20))? } else { HostMem::new(ws.max(4096))? };
    // SAFETY: `mem` is a live mapping of at least `ws` bytes, exclusively ours.
    let buf = unsafe { std::slice::from_raw_parts_mut(mem.ptr, mem.len) };
    let head = list::build(buf, mem.ptr as u64, count, npad, order, 1);
    let chase = |n: u64, mut p: u64| {
        for _ in 0..n {
            // SAFETY: every link written by `list::build` points at an element in `mem`.
            p = unsafe { std::ptr::read_volatile(p as *const u64) };
        }
        p
    };
    let p = chase(count as u64, head);
    let n = steps(count);
    let t0 = rdtsc();
    let p = chase(n, p);
    let t1 = rdtsc();
    std::hint::black_box(p);
    Ok(t1.wrapping_sub(t0) as f64 / n as f64)
}

/// A long-mode guest with one slot of `total` bytes at GPA 0 (backed by `npt` pages),
/// identity-mapped by its own page tables with `gpt` pages, running `payload` at CODE.
pub struct BenchVm {
    pub vcpu: kvm_ioctls::VcpuFd,
    _vm: kvm_ioctls::VmFd,
    _kvm: kvm_ioctls::Kvm,
    pub mem: HostMem,
}

impl BenchVm {
    pub fn new(dev: &str, total: usize, gpt: PageSize, npt: PageSize, payload: &str) -> Result<Self, String> {
        let total = total.next_multiple_of(2 << 20);
        let mem = if npt == PageSize::Huge { HostMem::new_huge(total)? } else { HostMem::new(total)? };
        let kvm = guest::open(dev)?;
        let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
        // SAFETY: the region is `mem`, which outlives `vm` (field order: vm drops first).
        unsafe { vm.set_user_memory_region(guest::region(0, 0, total as u64, mem.ptr as u64, 0)) }.map_err(|e| format!("slot: {e}"))?;
        let vcpu = vm.create_vcpu(0).map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
        vcpu.set_cpuid2(&guest::long_mode_cpuid()?).map_err(|e| format!("KVM_SET_CPUID2: {e}"))?;
        let pds = (total as u64).div_ceil(1 << 30);
        if pds > 4 || (gpt == PageSize::Small && PT_BASE + (total as u64 >> 21) * 0x1000 > LIST_BASE) {
            return Err("guest memory too large for this layout".into());
        }
        // Guest page tables: identity map of [0, total) with 2 MiB or 4 KiB pages.
        mem.write(PML4, &(PML4 + 0x1000 | 3).to_le_bytes());
        for i in 0..pds {
            let pd = PML4 + 0x2000 + i * 0x1000;
            mem.write(PML4 + 0x1000 + i * 8, &(pd | 3).to_le_bytes());
        }
        for j in 0..(total as u64 >> 21) {
            let pde_at = PML4 + 0x2000 + j * 8;
            match gpt {
                PageSize::Huge => mem.write(pde_at, &((j << 21) | 0x83).to_le_bytes()),
                PageSize::Small => {
                    let pt = PT_BASE + j * 0x1000;
                    mem.write(pde_at, &(pt | 3).to_le_bytes());
                    for k in 0..512u64 {
                        mem.write(pt + k * 8, &(((j << 21) + (k << 12)) | 3).to_le_bytes());
                    }
                }
            }
        }
        let (_, _, code) = payloads::all().into_iter().find(|(n, _, _)| *n == payload).ok_or("no payload")?;
        mem.write(guest::CODE, code);
        guest::set_cpu_mode(&vcpu, &mem, Mode::Long64, Some(PML4))?;
        Ok(Self { vcpu, _vm: vm, _kvm: kvm, mem })
    }

    /// Runs to HLT.
    pub fn run_to_hlt(&mut self) -> Result<(), String> {
        loop {
            match self.vcpu.run().map_err(|e| format!("KVM_RUN: {e}"))? {
                kvm_ioctls::VcpuExit::Hlt => return Ok(()),
                e => return Err(format!("unexpected exit {e:?}")),
            }
        }
    }

    pub fn read_u64(&self, at: u64) -> u64 {
        let mut t = [0u8; 8];
        assert!(at as usize + 8 <= self.mem.len, "read outside guest memory");
        // SAFETY: bounds checked; the mapping is ours.
        unsafe { std::ptr::copy_nonoverlapping(self.mem.ptr.add(at as usize), t.as_mut_ptr(), 8) };
        u64::from_le_bytes(t)
    }
}

/// The chase in a guest on `dev`: ticks per step, measured by the guest's own RDTSC.
pub fn guest(dev: &str, ws: usize, npad: usize, order: Order, gpt: PageSize, npt: PageSize) -> Result<f64, String> {
    let count = list::element_count(ws, npad).max(1);
    let mut g = BenchVm::new(dev, LIST_BASE as usize + ws, gpt, npt, "chase64")?;
    // SAFETY: the list area lies inside the guest memory (total >= LIST_BASE + ws).
    let buf = unsafe { std::slice::from_raw_parts_mut(g.mem.ptr.add(LIST_BASE as usize), ws) };
    let head = list::build(buf, LIST_BASE, count, npad, order, 1);
    g.mem.write(0x700, &steps(count).to_le_bytes());
    g.mem.write(0x708, &head.to_le_bytes());
    g.mem.write(0x718, &(count as u64).to_le_bytes());
    g.run_to_hlt()?;
    Ok(g.read_u64(0x710) as f64 / steps(count) as f64)
}

/// Touching all of a guest's memory once (one write per 4 KiB page, guest 2 MiB pages):
/// prints `touch,<device>,<npt pages>,<bytes>,<ticks>,<nested page faults>,<exits>,<4k leaves>,<2m leaves>`
/// (the last four from rsvm's counters; 0 on other devices).
pub fn touch(dev: &str, bytes: usize) -> Result<(), String> {
    for npt in [PageSize::Small, PageSize::Huge] {
        let mut g = BenchVm::new(dev, LIST_BASE as usize + bytes, PageSize::Huge, npt, "touchn64")?;
        g.mem.write(0x700, &((bytes / 4096) as u64).to_le_bytes());
        g.mem.write(0x708, &LIST_BASE.to_le_bytes());
        let t0 = rdtsc();
        g.run_to_hlt()?;
        let t = rdtsc().wrapping_sub(t0);
        let s = crate::rsvm_stats(&g.vcpu).unwrap_or_default();
        println!(
            "touch,{},{},{bytes},{t},{},{},{},{}",
            crate::device_name(dev),
            npt.name(),
            s.exits[5],
            s.exits[15],
            s.npt_leaves_4k,
            s.npt_leaves_2m
        );
    }
    Ok(())
}

/// The sweep: working sets 2^min_log .. 2^max_log, for each NPAD and order, natively and in
/// the guest with the four page-size combinations, each point measured `repeat` times (once
/// above 2^BIG_LOG bytes, where one run already takes minutes under an emulator and
/// millions of steps on hardware).
/// Prints CSV rows `chase,<where>,<gpt>,<npt>,<npad>,<order>,<working set>,<min>,<median>,<max>`
/// in ticks per step.
/// Working sets above 2^BIG_LOG bytes are measured once.
pub const BIG_LOG: u32 = 22;

pub fn sweep(dev: &str, min_log: u32, max_log: u32, npads: &[usize], repeat: usize) -> Result<(), String> {
    let report = |what: &str, gpt: PageSize, npt: PageSize, npad: usize, order: &str, ws: usize, v: &[f64]| -> Result<(), String> {
        let s = stats::summarize(v).ok_or(format!("{what} {ws}: no valid measurement"))?;
        if !(s.min > 0.0) {
            return Err(format!("{what} {ws}: non-positive time"));
        }
        println!("chase,{what},{},{},{npad},{order},{ws},{:.2},{:.2},{:.2}", gpt.name(), npt.name(), s.min, s.median, s.max);
        Ok(())
    };
    for &npad in npads {
        for order in [Order::Sequential, Order::Random] {
            let on = if order == Order::Random { "random" } else { "sequential" };
            for l in min_log..=max_log {
                let ws = 1usize << l;
                let repeat = if l > BIG_LOG { 1 } else { repeat };
                for back in [PageSize::Small, PageSize::Huge] {
                    let v = (0..repeat).map(|_| native(ws, npad, order, back)).collect::<Result<Vec<_>, _>>()?;
                    report("native", back, back, npad, on, ws, &v)?;
                }
                for gpt in [PageSize::Small, PageSize::Huge] {
                    for npt in [PageSize::Small, PageSize::Huge] {
                        let v = (0..repeat).map(|_| guest(dev, ws, npad, order, gpt, npt)).collect::<Result<Vec<_>, _>>()?;
                        report("guest", gpt, npt, npad, on, ws, &v)?;
                    }
                }
            }
        }
    }
    Ok(())
}
