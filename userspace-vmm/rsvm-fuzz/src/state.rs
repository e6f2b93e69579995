//! Random vCPU state for SET_REGS/SREGS/MSRS/CPUID/FPU/XSAVE: each starts from something
//! valid (a CPU mode's segment and control registers, real MSR numbers, real CPUID leaves)
//! and changes a few fields to boundary or random values, so that most calls pass the first
//! checks and reach the deep ones; pure random bytes would stop at the first EINVAL.

use crate::prog::Mode;
use crate::rng::Rng;
use kvm_bindings::*;

pub const GDT: u64 = 0x500;
pub const IDT: u64 = 0x800;
pub const CODE: u64 = 0x1000;
pub const HANDLER: u64 = 0x3000;
pub const PML4: u64 = 0x10000;
pub const PD32: u64 = 0x20000;

fn seg(sel: u16, ty: u8, l: u8, db: u8) -> kvm_segment {
    kvm_segment { base: 0, limit: 0xffff_ffff, selector: sel, type_: ty, present: 1, dpl: 0, db, s: 1, l, g: 1, avl: 0, unusable: 0, padding: 0 }
}

/// The segment and control registers of `mode` (GDT, IDT and page tables as `layout` writes).
pub fn sregs_for(mode: Mode, idt_limit: u16) -> kvm_sregs {
    let mut s = kvm_sregs::default();
    let rs = |sel: u16, ty: u8| kvm_segment { base: (sel as u64) << 4, limit: 0xffff, selector: sel, type_: ty, present: 1, s: 1, ..Default::default() };
    (s.cs, s.ds, s.es, s.fs, s.gs, s.ss) = (rs(0, 11), rs(0, 3), rs(0, 3), rs(0, 3), rs(0, 3), rs(0, 3));
    s.tr = kvm_segment { limit: 0xffff, type_: 11, present: 1, ..Default::default() };
    s.ldt = kvm_segment { limit: 0xffff, type_: 2, present: 1, ..Default::default() };
    s.gdt = kvm_dtable { base: GDT, limit: 5 * 8 - 1, ..Default::default() };
    s.idt = kvm_dtable { base: if mode == Mode::Real { 0 } else { IDT }, limit: idt_limit, ..Default::default() };
    s.cr0 = 0x6000_0010;
    s.apic_base = 0xfee0_0900;
    match mode {
        Mode::Real => {}
        Mode::Prot32 | Mode::Prot32Paged => {
            s.cs = seg(0x18, 11, 0, 1);
            let d = seg(0x20, 3, 0, 1);
            (s.ds, s.es, s.ss, s.fs, s.gs) = (d, d, d, d, d);
            s.cr0 = 0x11;
            if mode == Mode::Prot32Paged {
                s.cr0 |= 0x8000_0000;
                s.cr3 = PD32;
                s.cr4 = 0x10; // PSE
            }
        }
        Mode::Long64 | Mode::Mutated => {
            s.cs = seg(0x08, 11, 1, 0);
            let d = seg(0x10, 3, 0, 1);
            (s.ds, s.es, s.ss, s.fs, s.gs) = (d, d, d, d, d);
            s.cr0 = 0x8000_0011;
            s.cr3 = PML4;
            s.cr4 = 0x620;
            s.efer = 0x500;
        }
    }
    s
}

fn mutate_seg(r: &mut Rng, s: &mut kvm_segment) {
    match r.below(8) {
        0 => s.selector = r.next() as u16,
        1 => s.base = r.special_u64(),
        2 => s.limit = r.special_u64() as u32,
        3 => s.type_ = r.below(16) as u8,
        4 => s.dpl = r.below(4) as u8,
        5 => s.present ^= 1,
        6 => (s.l, s.db) = (r.below(2) as u8, r.below(2) as u8),
        _ => (s.s, s.g, s.unusable) = (r.below(2) as u8, r.below(2) as u8, r.below(2) as u8),
    }
}

/// A mode's registers with up to 4 random changes (Mode::Mutated: 1 to 8).
pub fn random_sregs(r: &mut Rng, mode: Mode) -> kvm_sregs {
    let mut s = sregs_for(mode, if r.one_in(2) { 0 } else { 256 * 16 - 1 });
    let n = if mode == Mode::Mutated { 1 + r.below(8) } else { r.below(5) };
    for _ in 0..n {
        match r.below(14) {
            0 => s.cr0 ^= 1 << r.below(64),
            1 => s.cr4 ^= 1 << r.below(32),
            2 => s.efer ^= 1 << r.below(16),
            3 => s.cr3 = r.special_u64(),
            4 => s.cr8 = r.special_u64(),
            5 => s.apic_base = r.special_u64(),
            6 => s.interrupt_bitmap[r.below(4) as usize] = 1 << r.below(64),
            7 => s.gdt = kvm_dtable { base: r.special_u64(), limit: r.next() as u16, ..Default::default() },
            8 => s.idt = kvm_dtable { base: r.special_u64(), limit: r.next() as u16, ..Default::default() },
            9 => mutate_seg(r, &mut s.cs),
            10 => mutate_seg(r, &mut s.ss),
            11 => mutate_seg(r, &mut s.tr),
            12 => mutate_seg(r, &mut s.ldt),
            _ => mutate_seg(r, &mut s.ds),
        }
    }
    s
}

pub fn random_regs(r: &mut Rng) -> kvm_regs {
    let mut g = [0u64; 18];
    for v in g.iter_mut() {
        *v = if r.one_in(2) { r.special_u64() } else { 0 };
    }
    let mut k = kvm_regs {
        rax: g[0], rbx: g[1], rcx: g[2], rdx: g[3], rsi: g[4], rdi: g[5], rsp: g[6], rbp: g[7],
        r8: g[8], r9: g[9], r10: g[10], r11: g[11], r12: g[12], r13: g[13], r14: g[14], r15: g[15],
        rip: g[16], rflags: g[17],
    };
    if r.one_in(2) {
        // Mostly sane: code at CODE, flags with only a few bits (TF, IF, AC, VM, RF...).
        k.rip = CODE;
        k.rflags = 2 | ((1 << r.below(22)) * r.below(2));
        k.rcx = msr_index(r) as u64;
    }
    k
}

/// MSR numbers worth touching: those rsvm or KVM handle, their neighbours, x2APIC, AMD's
/// SVM MSRs, and random ones.
pub fn msr_index(r: &mut Rng) -> u32 {
    const MSRS: &[u32] = &[
        0x10, 0x1b, 0x3a, 0x48, 0x49, 0x8b, 0xfe, 0x174, 0x175, 0x176, 0x179, 0x17a, 0x1a0, 0x1d9, 0x1db, 0x200, 0x277,
        0x2ff, 0x6e0, 0x802, 0x803, 0x808, 0x80b, 0x80d, 0x80f, 0x828, 0x830, 0x832, 0x835, 0x838, 0x839, 0x83e, 0x83f,
        0xda0, 0xc000_0080, 0xc000_0081, 0xc000_0082, 0xc000_0083, 0xc000_0084, 0xc000_0100, 0xc000_0101, 0xc000_0102,
        0xc000_0103, 0xc001_0010, 0xc001_0015, 0xc001_0114, 0xc001_0117, 0xc001_011e, 0xc001_0131, 0x4b56_4d00,
    ];
    match r.below(6) {
        0 => r.next() as u32,
        1 => 0x800 + r.below(0x100) as u32,
        _ => r.pick(MSRS),
    }
}

/// A kvm_msrs header with `n` entries after it, as bytes; `room` entries of space (never
/// more than 256: a count past that must be refused before anything is read).
pub fn msrs_blob(r: &mut Rng, n: u32, room: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + room * 16);
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    for _ in 0..room {
        v.extend_from_slice(&msr_index(r).to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&r.special_u64().to_le_bytes());
    }
    v
}

/// A kvm_cpuid2 with `n` in its header and `room` entries of real-looking leaves.
pub fn cpuid_blob(r: &mut Rng, n: u32, room: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + room * 40);
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    for _ in 0..room {
        let f = match r.below(4) {
            0 => r.next() as u32,
            1 => 0x8000_0000 + r.below(0x20) as u32,
            _ => r.below(0x20) as u32,
        };
        let e = kvm_cpuid_entry2 {
            function: f,
            index: r.below(4) as u32,
            flags: r.below(8) as u32,
            eax: r.special_u64() as u32,
            ebx: r.special_u64() as u32,
            ecx: if f == 1 && r.one_in(2) { 1 << 21 | 1 << 24 } else { r.special_u64() as u32 },
            edx: if f == 0x8000_0001 { 1 << 29 | (r.next() as u32 & 1 << 20) } else { r.special_u64() as u32 },
            padding: [0; 3],
        };
        v.extend_from_slice(as_bytes(&e));
    }
    v
}

/// The bytes of a plain-data struct (the kvm-bindings layouts).
pub fn as_bytes<T: Copy>(t: &T) -> &[u8] {
    // SAFETY: every T used here is a repr(C) struct of integers from kvm-bindings (no
    // padding read as uninitialised: they are built from Default/zeroed values).
    unsafe { std::slice::from_raw_parts((t as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// `len` bytes: all random, or zero with a few random bytes (mostly valid images).
pub fn raw_blob(r: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    if r.one_in(2) {
        r.bytes(&mut v);
    } else {
        for _ in 0..r.below(16) {
            let i = r.below(len as u64) as usize;
            v[i] = r.next() as u8;
        }
    }
    v
}

/// Random bytes with a few plausible fields (FCW/MXCSR, the XSAVE header's XSTATE_BV and
/// XCOMP_BV), so that some images pass the checks and reach XRSTOR.
pub fn fpu_blob(r: &mut Rng, len: usize, xsave: bool) -> Vec<u8> {
    let mut v = raw_blob(r, len);
    // FCW and MXCSR: at 0 and 24 in the XSAVE legacy area, at 128 and 408 in kvm_fpu.
    let (fcw, mx) = if xsave { (0, 24) } else { (128, 408) };
    if r.one_in(2) && mx + 4 <= len {
        v[fcw..fcw + 2].copy_from_slice(&0x37fu16.to_le_bytes());
        let mxcsr = if r.one_in(4) { r.next() as u32 } else { 0x1f80 };
        v[mx..mx + 4].copy_from_slice(&mxcsr.to_le_bytes());
    }
    if xsave && len >= 528 {
        let bv: u64 = if r.one_in(3) { r.special_u64() } else { r.below(8) };
        v[512..520].copy_from_slice(&bv.to_le_bytes());
        let comp: u64 = if r.one_in(4) { r.special_u64() } else { 0 };
        v[520..528].copy_from_slice(&comp.to_le_bytes());
    }
    v
}
