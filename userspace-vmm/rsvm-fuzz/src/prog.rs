//! A program: a sequence of calls generated from one seed, in the style of syzkaller's
//! descriptions. Resources (system fds, VMs, vCPUs, host mappings) are referred to by index
//! into the executor's tables, taken modulo what is alive when the call runs (a call on an
//! empty table is skipped), so a program is a pure function of its seed and printing it
//! (`{:?}` of each call) is the reproducer. Blobs (guest code, register images, MSR and
//! CPUID lists) are described by a seed of their own to keep the print short.

use crate::rng::Rng;

/// Where a struct argument points: valid memory, or memory the kernel must refuse cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ptr {
    Good,
    Null,
    /// A kernel address (must never be read or written for the caller).
    Kernel,
    /// The struct ends half-way into an inaccessible page: the copy faults after a partial read.
    Short,
    /// Read-only memory (fine for input, EFAULT for output).
    ReadOnly,
}

/// Which guest CPU mode a guest program starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Real,
    Prot32,
    /// 32-bit protected mode with 4 MiB pages (CR4.PSE).
    Prot32Paged,
    Long64,
    /// Long mode state, then random changes to the segment and control registers.
    Mutated,
}

#[derive(Debug, Clone, Copy)]
pub enum Op {
    OpenDev,
    CreateVm { sys: u8, ty: u64 },
    /// GET_API_VERSION (0), CHECK_EXTENSION (1), GET_VCPU_MMAP_SIZE (2) on a system fd.
    SysSimple { sys: u8, which: u8, arg: u64 },
    SupportedCpuid { sys: u8, nent: u32, ptr: Ptr },
    MsrIndexList { sys: u8, nmsrs: u32, ptr: Ptr },
    /// rsvm's own system ioctls: the world-switch self-test (0), the VMRUN floor (1).
    RsvmSys { sys: u8, which: u8, iters: u64, ptr: Ptr },
    /// An ioctl number near the real ones (KVM's and rsvm's types, random nr, size, direction).
    RawIoctl { on: u8, res: u8, nr: u64, arg: u64 },
    CreateVcpu { vm: u8, id: u64 },
    SetSlot { vm: u8, slot: u32, flags: u32, gpa: u64, size: u64, map: u8, off: u64, hva: Option<u64>, ptr: Ptr },
    EnableCap { vm: u8, cap: u32, flags: u32, arg0: u64 },
    SignalMsi { vm: u8, addr_lo: u32, addr_hi: u32, data: u32, flags: u32 },
    CheckExtVm { vm: u8, cap: u64 },
    /// VM state: SET_CLOCK with a random image (0), GET_CLOCK (1), REGISTER (2) or
    /// UNREGISTER (3) _COALESCED_MMIO with a zone near the guest's I/O (or random).
    VmState { vm: u8, which: u8, seed: u64, ptr: Ptr },
    /// The device-assignment ioctls (0x83..0x8a) with an edu-like or random function.
    Device { vm: u8, nr: u8, seg: u16, bus: u8, devfn: u8, flags: u32, a: u32, b: u32, c: u32, d: u64 },
    CloseVm { vm: u8 },
    Run { vcpu: u8, immediate_exit: bool, irq_window: bool, timer_us: u32 },
    SetRegs { vcpu: u8, seed: u64, ptr: Ptr },
    SetSregs { vcpu: u8, mode: Mode, seed: u64, ptr: Ptr },
    SetMsrs { vcpu: u8, n: u32, seed: u64, ptr: Ptr },
    GetMsrs { vcpu: u8, n: u32, seed: u64, ptr: Ptr },
    SetCpuid { vcpu: u8, n: u32, seed: u64, ptr: Ptr },
    SetFpu { vcpu: u8, seed: u64, ptr: Ptr },
    SetXsave { vcpu: u8, seed: u64, ptr: Ptr },
    /// GET_REGS, GET_SREGS, GET_FPU, GET_XSAVE, GET_MP_STATE, GET_TSC_KHZ, RSVM_GET_VCPU_STATS,
    /// GET_LAPIC, GET_DEBUGREGS, GET_VCPU_EVENTS, GET_STATS_FD (the fd closed at once).
    Get { vcpu: u8, which: u8, ptr: Ptr },
    /// SET_LAPIC, SET_DEBUGREGS, SET_VCPU_EVENTS, SET_DEVICE_ATTR or GET_DEVICE_ATTR
    /// (`which` 0-4) with a random image (the attribute's group/attr mostly the TSC offset's,
    /// its address a scratch buffer or a random one).
    SetState { vcpu: u8, which: u8, seed: u64, ptr: Ptr },
    Interrupt { vcpu: u8, irq: u32 },
    SetMp { vcpu: u8, state: u32 },
    SignalMask { vcpu: u8, len: u32, mask: u64, null: bool },
    MmapVcpu { vcpu: u8, pgoff: u64, pages: u64, write: bool },
    CloseVcpu { vcpu: u8 },
    /// A guest program: slot 0 at GPA 0 from map 0, the mode's state, random code at 0x1000
    /// (random bytes and instructions that exit), run for up to `exits` exits.
    Guest { vcpu: u8, mode: Mode, seed: u64, len: u32, exits: u32 },
    Munmap { map: u8 },
    Protect { map: u8, prot: i32 },
    Remap { map: u8 },
    /// fork(): the child runs the next `ops` calls on its copies of the fds and exits, or is
    /// killed after `kill_us` microseconds, whichever is first; the parent waits and goes on
    /// after those calls.
    Fork { ops: u8, kill_us: u32 },
    /// KVM_RUN on a dup of a vCPU fd in another thread while the next `ops` calls run here
    /// (slot changes, closes, state changes under a running vCPU); then kicked and joined.
    ThreadRun { vcpu: u8, ops: u8 },
    /// `n` cheap calls (state get/set, interrupts, MSIs, capability checks, slots) from
    /// `seed` in a row: most of the ioctl surface is validation, which this reaches at the
    /// rate the machine allows instead of the rate guest programs allow.
    Burst { seed: u64, n: u16 },
}

/// Whether a call is cheap enough for a Burst (no guest run, no process or thread, no
/// resource created or destroyed).
pub fn cheap(op: &Op) -> bool {
    matches!(
        op,
        Op::SysSimple { .. } | Op::MsrIndexList { .. } | Op::RawIoctl { .. } | Op::SetSlot { .. } | Op::EnableCap { .. }
            | Op::SignalMsi { .. } | Op::CheckExtVm { .. } | Op::VmState { .. } | Op::Device { .. } | Op::SetRegs { .. } | Op::SetSregs { .. }
            | Op::SetMsrs { .. } | Op::GetMsrs { .. } | Op::SetCpuid { .. } | Op::SetFpu { .. } | Op::SetXsave { .. }
            | Op::Get { .. } | Op::SetState { .. } | Op::Interrupt { .. } | Op::SetMp { .. } | Op::SignalMask { .. }
    )
}

/// Host mappings every program starts with (index: size, writable, THP); see exec.rs.
pub const MAPS: usize = 6;

fn ptr(r: &mut Rng) -> Ptr {
    if r.below(10) < 8 {
        return Ptr::Good;
    }
    r.pick(&[Ptr::Null, Ptr::Kernel, Ptr::Short, Ptr::ReadOnly])
}

fn res(r: &mut Rng) -> u8 {
    // Mostly the first resources, sometimes any.
    if r.one_in(4) { r.below(256) as u8 } else { r.below(3) as u8 }
}

fn mode(r: &mut Rng) -> Mode {
    r.pick(&[Mode::Real, Mode::Prot32, Mode::Prot32Paged, Mode::Long64, Mode::Long64, Mode::Mutated])
}

/// KVM capability numbers worth asking for: the ones rsvm implements, their neighbours,
/// and nonsense.
fn cap(r: &mut Rng) -> u64 {
    match r.below(3) {
        0 => r.below(250),
        1 => r.pick(&[3, 7, 9, 16, 25, 50, 57, 66, 68, 101, 121, 128, 136, 158, 232]),
        _ => r.special_u64(),
    }
}

fn slot_size(r: &mut Rng) -> u64 {
    match r.below(10) {
        0 => 0,
        1 => r.special_u64(),
        2 => r.below(16) * 4096 + r.pick(&[0, 0, 1, 0x800]),
        3 => 1 << (12 + r.below(33)),
        _ => (1 + r.below(512)) * 4096,
    }
}

fn gpa(r: &mut Rng) -> u64 {
    match r.below(8) {
        0 => r.special_u64(),
        1 => r.pick(&[0xfee0_0000, 0xfec0_0000, 0xa0000, 0xffff_f000, 1 << 32, (1 << 48) - 4096, (1 << 52) - 4096, 1 << 57]),
        2 => r.below(1 << 20) << 12,
        _ => r.below(64) * 0x10000,
    }
}

/// One call.
pub fn gen_op(r: &mut Rng, big_slots: bool) -> Op {
    let w = r.below(1000);
    match w {
        0..=9 => Op::OpenDev,
        10..=49 => Op::CreateVm { sys: res(r), ty: if r.one_in(8) { r.special_u64() } else { 0 } },
        50..=79 => Op::SysSimple { sys: res(r), which: r.below(3) as u8, arg: if r.one_in(2) { cap(r) } else { 0 } },
        80..=89 => Op::SupportedCpuid { sys: res(r), nent: r.pick(&[0, 1, 8, 40, 64, 256, 257, u32::MAX]), ptr: ptr(r) },
        90..=99 => Op::MsrIndexList { sys: res(r), nmsrs: r.pick(&[0, 1, 13, 14, 100, u32::MAX]), ptr: ptr(r) },
        100..=104 => Op::RsvmSys { sys: res(r), which: r.below(2) as u8, iters: r.pick(&[0, 1, 10, 100, 10_000_001]), ptr: ptr(r) },
        105..=134 => {
            let ty = r.pick(&[0xaeu64, 0xaf]);
            let nr = r.below(256);
            let any = r.below(0x4000);
            let size = r.pick(&[0u64, 4, 8, 16, 24, 32, 56, 104, 144, 312, 416, 4096, any]);
            let dir = r.below(4);
            Op::RawIoctl { on: r.below(3) as u8, res: res(r), nr: dir << 30 | size << 16 | ty << 8 | nr, arg: r.special_u64() }
        }
        135..=209 => Op::CreateVcpu { vm: res(r), id: if r.one_in(5) { r.special_u64() } else { r.below(8) } },
        210..=329 => {
            let hva = if r.one_in(8) { Some(r.special_u64() & !if r.one_in(2) { 0xfff } else { 0 }) } else { None };
            let mut size = slot_size(r);
            if !big_slots {
                // Slots past 4 GiB make the module allocate a page array of size/512 bytes
                // (issue 15 section 2, a known gap): kept out of default runs.
                size = size.min(4 << 30);
            }
            Op::SetSlot {
                vm: res(r),
                slot: if r.one_in(6) { r.special_u64() as u32 } else { r.below(6) as u32 },
                flags: if r.one_in(6) { r.special_u64() as u32 } else { r.pick(&[0, 0, 0, 2]) },
                gpa: gpa(r),
                size,
                map: r.below(MAPS as u64) as u8,
                off: if r.one_in(6) { r.special_u64() } else { r.below(16) * 4096 },
                hva,
                ptr: ptr(r),
            }
        }
        350..=359 => Op::VmState { vm: res(r), which: r.below(4) as u8, seed: r.fork(), ptr: ptr(r) },
        330..=349 => Op::EnableCap {
            vm: res(r),
            cap: if r.one_in(4) { cap(r) as u32 } else { r.pick(&[121, 121, 204]) },
            flags: if r.one_in(6) { r.special_u64() as u32 } else { 0 },
            arg0: r.pick(&[0, 24, 4096, 4097, u64::MAX]),
        },
        360..=399 => Op::SignalMsi {
            vm: res(r),
            addr_lo: if r.one_in(5) { r.next() as u32 } else { 0xfee0_0000 | (r.below(256) as u32) << 12 | (r.below(2) as u32) << 2 },
            addr_hi: if r.one_in(8) { r.next() as u32 } else { 0 },
            data: if r.one_in(4) { r.next() as u32 } else { (r.below(8) as u32) << 8 | r.below(256) as u32 | (r.below(2) as u32) << 15 },
            flags: if r.one_in(8) { r.next() as u32 } else { 0 },
        },
        400..=409 => Op::CheckExtVm { vm: res(r), cap: cap(r) },
        410..=429 => Op::Device {
            vm: res(r),
            nr: 0x83 + r.below(8) as u8,
            seg: if r.one_in(8) { r.next() as u16 } else { 0 },
            bus: if r.one_in(8) { r.next() as u8 } else { 0 },
            devfn: if r.one_in(3) { r.next() as u8 } else { 4 << 3 },
            flags: if r.one_in(6) { r.next() as u32 } else { 0 },
            a: r.special_u64() as u32,
            b: r.special_u64() as u32,
            c: r.special_u64() as u32,
            d: r.special_u64(),
        },
        430..=444 => Op::CloseVm { vm: res(r) },
        445..=514 => Op::Run {
            vcpu: res(r),
            immediate_exit: r.one_in(6),
            irq_window: r.one_in(4),
            timer_us: r.pick(&[500, 2000, 5000]),
        },
        515..=549 => Op::SetRegs { vcpu: res(r), seed: r.fork(), ptr: ptr(r) },
        550..=599 => Op::SetSregs { vcpu: res(r), mode: mode(r), seed: r.fork(), ptr: ptr(r) },
        600..=634 => Op::SetMsrs { vcpu: res(r), n: r.pick(&[0, 1, 2, 4, 16, 255, 256, u32::MAX]), seed: r.fork(), ptr: ptr(r) },
        635..=654 => Op::GetMsrs { vcpu: res(r), n: r.pick(&[0, 1, 4, 16, 255, 256]), seed: r.fork(), ptr: ptr(r) },
        655..=684 => Op::SetCpuid { vcpu: res(r), n: r.pick(&[0, 1, 2, 8, 40, 256, 257, u32::MAX]), seed: r.fork(), ptr: ptr(r) },
        685..=689 => Op::SetFpu { vcpu: res(r), seed: r.fork(), ptr: ptr(r) },
        690..=694 => Op::SetState { vcpu: res(r), which: r.below(5) as u8, seed: r.fork(), ptr: ptr(r) },
        695..=709 => Op::SetXsave { vcpu: res(r), seed: r.fork(), ptr: ptr(r) },
        710..=759 => Op::Get { vcpu: res(r), which: r.below(11) as u8, ptr: ptr(r) },
        760..=779 => Op::Interrupt { vcpu: res(r), irq: if r.one_in(5) { r.special_u64() as u32 } else { r.below(256) as u32 } },
        780..=794 => Op::SetMp { vcpu: res(r), state: if r.one_in(4) { r.special_u64() as u32 } else { r.below(5) as u32 } },
        795..=804 => Op::SignalMask { vcpu: res(r), len: r.pick(&[8, 8, 0, 4, 16, u32::MAX]), mask: r.next(), null: r.one_in(4) },
        805..=814 => Op::MmapVcpu { vcpu: res(r), pgoff: r.pick(&[0, 0, 1, 2, 3, 1 << 40]), pages: r.pick(&[1, 2, 3, 16]), write: r.one_in(2) },
        815..=829 => Op::CloseVcpu { vcpu: res(r) },
        830..=924 => Op::Guest { vcpu: res(r), mode: mode(r), seed: r.fork(), len: 1 + r.below(512) as u32, exits: 1 + r.below(16) as u32 },
        925..=934 => Op::Munmap { map: r.below(MAPS as u64) as u8 },
        935..=944 => Op::Protect { map: r.below(MAPS as u64) as u8, prot: r.pick(&[libc::PROT_NONE, libc::PROT_READ, libc::PROT_READ | libc::PROT_WRITE]) },
        945..=959 => Op::Remap { map: r.below(MAPS as u64) as u8 },
        960..=979 => Op::Fork { ops: 1 + r.below(12) as u8, kill_us: r.pick(&[0, 100, 1000, 20_000, 1_000_000]) },
        980..=989 => Op::ThreadRun { vcpu: res(r), ops: 1 + r.below(8) as u8 },
        _ => Op::Burst { seed: r.fork(), n: 50 + r.below(500) as u16 },
    }
}

/// The program of `seed`: most start by building a VM (a system fd, one or two VMs, vCPUs,
/// slots) so that later calls reach deep state; then `len` random calls.
pub fn generate(seed: u64, len: usize, big_slots: bool) -> Vec<Op> {
    let mut r = Rng::new(seed);
    let mut p = Vec::with_capacity(len + 8);
    if !r.one_in(10) {
        p.push(Op::CreateVm { sys: 0, ty: 0 });
        if r.one_in(3) {
            p.push(Op::EnableCap { vm: 0, cap: 121, flags: 0, arg0: 24 });
        }
        for id in 0..1 + r.below(3) {
            p.push(Op::CreateVcpu { vm: 0, id });
        }
        p.push(Op::SetSlot { vm: 0, slot: 0, flags: 0, gpa: 0, size: 4 << 20, map: 0, off: 0, hva: None, ptr: Ptr::Good });
    }
    for _ in 0..len {
        p.push(gen_op(&mut r, big_slots));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_program() {
        let a = format!("{:?}", generate(42, 200, false));
        let b = format!("{:?}", generate(42, 200, false));
        assert_eq!(a, b);
        assert_ne!(a, format!("{:?}", generate(43, 200, false)));
    }

    #[test]
    fn every_kind_of_call_is_generated() {
        let mut r = Rng::new(1);
        let kinds: std::collections::HashSet<String> =
            (0..100_000).map(|_| format!("{:?}", gen_op(&mut r, false)).split([' ', '{']).next().unwrap_or("").to_string()).collect();
        // 37 variants in Op.
        assert_eq!(kinds.len(), 37, "{kinds:?}");
    }

    #[test]
    fn default_runs_keep_slots_below_4g() {
        let mut r = Rng::new(3);
        for _ in 0..100_000 {
            if let Op::SetSlot { size, .. } = gen_op(&mut r, false) {
                assert!(size <= 4 << 30);
            }
        }
    }
}
