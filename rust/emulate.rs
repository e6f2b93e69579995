// SPDX-License-Identifier: GPL-2.0

//! The instruction decoding rsvm needs without decode assists: the length of intercepted
//! instructions (no NRIP save) and the MMIO forms of MOV (no EXITINFO data for #NPF).
//! Anything else is a clean "cannot decode", never a guess.

/// Code-segment size, from CR0.PE, EFER.LMA, CS.L and CS.D.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum CpuMode {
    Bits16,
    Bits32,
    Bits64,
}

/// Legacy prefixes and REX of an instruction.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Prefixes {
    pub(crate) len: usize,
    pub(crate) opsize: bool,
    pub(crate) adsize: bool,
    pub(crate) rep: bool,
    /// Segment override: 0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS.
    pub(crate) seg: Option<u8>,
    pub(crate) rex: u8,
}

pub(crate) fn prefixes(b: &[u8], mode: CpuMode) -> Option<Prefixes> {
    let mut p = Prefixes::default();
    loop {
        match *b.get(p.len)? {
            0x66 => p.opsize = true,
            0x67 => p.adsize = true,
            0xf2 | 0xf3 => p.rep = true,
            0xf0 => {}
            0x26 => p.seg = Some(0),
            0x2e => p.seg = Some(1),
            0x36 => p.seg = Some(2),
            0x3e => p.seg = Some(3),
            0x64 => p.seg = Some(4),
            0x65 => p.seg = Some(5),
            _ => break,
        }
        p.len += 1;
        if p.len >= 15 {
            return None;
        }
    }
    if mode == CpuMode::Bits64 {
        if let Some(&r) = b.get(p.len) {
            if r & 0xf0 == 0x40 {
                p.rex = r;
                p.len += 1;
            }
        }
    }
    Some(p)
}

/// Length of an intercepted instruction whose opcode bytes are `opcode` (CPUID, HLT,
/// RDMSR, ...), after any prefixes. `None` if the bytes at RIP are not that instruction.
pub(crate) fn fixed_insn_len(b: &[u8], mode: CpuMode, opcode: &[u8]) -> Option<u64> {
    let p = prefixes(b, mode)?;
    let end = p.len + opcode.len();
    (b.get(p.len..end)? == opcode && end <= 15).then_some(end as u64)
}

/// Operand size in bytes (2, 4, 8) and address size in bytes.
pub(crate) fn sizes(p: &Prefixes, mode: CpuMode) -> (u8, u8) {
    match mode {
        CpuMode::Bits64 => (if p.rex & 8 != 0 { 8 } else if p.opsize { 2 } else { 4 }, if p.adsize { 4 } else { 8 }),
        CpuMode::Bits32 => (if p.opsize { 2 } else { 4 }, if p.adsize { 2 } else { 4 }),
        CpuMode::Bits16 => (if p.opsize { 4 } else { 2 }, if p.adsize { 4 } else { 2 }),
    }
}

/// A general-purpose register operand: x86 number (0..15); `high8` for AH/CH/DH/BH.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Reg {
    pub(crate) num: u8,
    pub(crate) high8: bool,
}

/// How a loaded value reaches its register.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Extend {
    None,
    Zero,
    Sign,
}

/// A decoded MMIO access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MmioOp {
    /// Store `size` bytes of a register or an immediate.
    Store { src: Option<Reg>, imm: u64 },
    /// Load `size` bytes into `dst` (of `dst_size` bytes), extended as `ext`.
    Load { dst: Reg, dst_size: u8, ext: Extend },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct MmioInsn {
    pub(crate) len: u8,
    /// Bytes accessed in memory.
    pub(crate) size: u8,
    pub(crate) op: MmioOp,
}

/// Bytes of ModRM + SIB + displacement for a memory operand; `None` for a register operand
/// (which cannot be an MMIO access).
fn modrm_len(b: &[u8], at: usize, adsize: u8) -> Option<(u8, usize)> {
    let m = *b.get(at)?;
    let (md, reg, rm) = (m >> 6, (m >> 3) & 7, m & 7);
    if md == 3 {
        return None;
    }
    let mut n = 1;
    let disp = if adsize == 2 {
        match md {
            0 if rm == 6 => 2,
            1 => 1,
            2 => 2,
            _ => 0,
        }
    } else {
        let mut base_disp = 0;
        if rm == 4 {
            let sib = *b.get(at + 1)?;
            n += 1;
            if md == 0 && sib & 7 == 5 {
                base_disp = 4;
            }
        }
        match md {
            0 if rm == 5 => 4,
            0 => base_disp,
            1 => 1,
            _ => 4,
        }
    };
    Some((reg, n + disp))
}

fn le(b: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = b.get(at..at + n)?;
    Some(s.iter().rev().fold(0u64, |v, &x| (v << 8) | x as u64))
}

fn sign_extend(v: u64, bytes: u8) -> u64 {
    let sh = 64 - 8 * bytes as u32;
    (((v << sh) as i64) >> sh) as u64
}

/// Decodes the MOV forms that can access MMIO: 88, 89, 8A, 8B, C6 /0, C7 /0, A0-A3,
/// 0F B6/B7 (MOVZX), 0F BE/BF (MOVSX).
pub(crate) fn decode_mmio(b: &[u8], mode: CpuMode) -> Option<MmioInsn> {
    let p = prefixes(b, mode)?;
    let (osz, asz) = sizes(&p, mode);
    let rex_r = if p.rex & 4 != 0 { 8 } else { 0 };
    let reg8 = |r: u8| Reg { num: r | rex_r, high8: p.rex == 0 && (4..8).contains(&r) };
    let regn = |r: u8| Reg { num: r | rex_r, high8: false };
    let op = *b.get(p.len)?;
    let at = p.len + 1;
    let insn = |len: usize, size: u8, op: MmioOp| (len <= 15).then_some(MmioInsn { len: len as u8, size, op });
    match op {
        0x88 | 0x89 | 0x8a | 0x8b => {
            let (r, n) = modrm_len(b, at, asz)?;
            let (size, reg) = if op & 1 == 0 { (1, reg8(r)) } else { (osz, regn(r)) };
            let mop = if op & 2 == 0 {
                MmioOp::Store { src: Some(reg), imm: 0 }
            } else {
                MmioOp::Load { dst: reg, dst_size: size, ext: Extend::None }
            };
            insn(at + n, size, mop)
        }
        0xc6 | 0xc7 => {
            let (r, n) = modrm_len(b, at, asz)?;
            if r != 0 {
                return None;
            }
            let (size, isz) = if op == 0xc6 { (1, 1) } else { (osz, osz.min(4)) };
            let imm = le(b, at + n, isz as usize)?;
            let imm = if size == 8 { sign_extend(imm, 4) } else { imm };
            insn(at + n + isz as usize, size, MmioOp::Store { src: None, imm })
        }
        0xa0..=0xa3 => {
            let size = if op & 1 == 0 { 1 } else { osz };
            let rax = Reg { num: 0, high8: false };
            let mop = if op & 2 == 0 {
                MmioOp::Load { dst: rax, dst_size: size, ext: Extend::None }
            } else {
                MmioOp::Store { src: Some(rax), imm: 0 }
            };
            insn(at + asz as usize, size, mop)
        }
        0x0f => {
            let op2 = *b.get(at)?;
            let (size, ext) = match op2 {
                0xb6 => (1, Extend::Zero),
                0xb7 => (2, Extend::Zero),
                0xbe => (1, Extend::Sign),
                0xbf => (2, Extend::Sign),
                _ => return None,
            };
            let (r, n) = modrm_len(b, at + 1, asz)?;
            insn(at + 1 + n, size, MmioOp::Load { dst: regn(r), dst_size: osz, ext })
        }
        _ => None,
    }
}

/// Mask of the low `bytes` bytes.
pub(crate) fn mask(bytes: u8) -> u64 {
    if bytes >= 8 { u64::MAX } else { (1u64 << (8 * bytes as u32)) - 1 }
}

/// The value of a register operand of `size` bytes, from the 16 GPRs.
pub(crate) fn read_reg(gprs: &[u64; 16], r: Reg, size: u8) -> u64 {
    let v = gprs[(r.num & 15) as usize];
    if r.high8 {
        (gprs[((r.num - 4) & 15) as usize] >> 8) & 0xff
    } else {
        v & mask(size)
    }
}

/// Writes a register operand of `size` bytes with x86 semantics: 8/16-bit writes merge,
/// 32-bit writes zero-extend, 64-bit writes replace.
pub(crate) fn write_reg(gprs: &mut [u64; 16], r: Reg, size: u8, v: u64) {
    if r.high8 {
        let g = &mut gprs[((r.num - 4) & 15) as usize];
        *g = (*g & !0xff00) | ((v & 0xff) << 8);
        return;
    }
    let g = &mut gprs[(r.num & 15) as usize];
    *g = match size {
        1 | 2 => (*g & !mask(size)) | (v & mask(size)),
        4 => v & 0xffff_ffff,
        _ => v,
    };
}

/// The value a load puts into its destination register.
pub(crate) fn loaded_value(data: u64, size: u8, ext: Extend) -> u64 {
    let v = data & mask(size);
    match ext {
        Extend::Sign => sign_extend(v, size),
        _ => v,
    }
}
