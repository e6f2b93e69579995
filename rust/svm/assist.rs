// SPDX-License-Identifier: GPL-2.0

//! Decisions that depend on the optional SVM features NRIP save and decode assists
//! (CPUID 8000_000Ah EDX bits 3 and 7; APM vol. 2, 15.7.1 and 15.33): where the next RIP,
//! the instruction bytes, the CR8 source register and the OUTS segment come from. QEMU's
//! SVM has neither feature, so the fallbacks are what the in-VM tests run; the feature paths
//! are checked by host unit tests of these functions (rsvm-test, svm_tests.rs).
//!
//! No kernel imports: the host unit tests compile this file as is.

/// The RIP after an intercepted instruction at `rip`: the VMCB's NRIP where the CPU saves
/// it, else `rip` plus the decoded length (`decoded_len`, called only then; `None`: the
/// instruction could not be decoded), wrapped to 32 bits outside 64-bit mode.
pub(crate) fn next_rip(nrip_save: bool, nrip: u64, rip: u64, long_mode: bool, decoded_len: impl FnOnce() -> Option<u64>) -> Option<u64> {
    if nrip_save {
        return Some(nrip);
    }
    let next = rip.wrapping_add(decoded_len()?);
    Some(if long_mode { next } else { next & 0xffff_ffff })
}

/// The instruction bytes decode assists stored in the VMCB for this exit (`insn_len` of
/// them, 1 to 15), if the caller may use them.
pub(crate) fn assist_bytes(use_assist: bool, insn_len: u8, insn_bytes: &[u8; 15]) -> Option<([u8; 15], usize)> {
    let n = insn_len as usize;
    if !use_assist || n == 0 || n > 15 {
        return None;
    }
    let mut b = [0u8; 15];
    b.get_mut(..n)?.copy_from_slice(insn_bytes.get(..n)?);
    Some((b, n))
}

/// The source GPR of an intercepted MOV to CR8, and the instruction's length if the RIP
/// must be advanced by it (`None`: take NRIP). With decode assists EXITINFO1 bit 63 says
/// bits 3:0 hold the GPR (APM 15.33.1); else the bytes at RIP (`fetch`, called only then)
/// must be `REX.R 0F 22 /r` with mod=11 (REX.R selects CR8; AMD's LOCK-prefixed CR0 alias
/// is not decoded). `None`: neither.
pub(crate) fn cr8_write_source(decode_assists: bool, exit_info_1: u64, fetch: impl FnOnce() -> Option<([u8; 15], usize)>) -> Option<(usize, Option<u64>)> {
    if decode_assists && exit_info_1 >> 63 != 0 {
        return Some(((exit_info_1 & 0xf) as usize, None));
    }
    let (b, n) = fetch()?;
    match b {
        [rex, 0x0f, 0x22, modrm, ..] if n >= 4 && rex & 0xf4 == 0x44 && modrm & 0xf8 == 0xc0 => {
            Some(((modrm & 7) as usize | ((rex as usize & 1) << 3), Some(4)))
        }
        _ => None,
    }
}

/// The source GPR of an intercepted MOV to CR`cr` (0-15), and the instruction's length if
/// the RIP must be advanced by it (`None`: take NRIP). With decode assists EXITINFO1 bit 63
/// says bits 3:0 hold the GPR (APM 15.33.1); else the bytes at RIP (`fetch`) must be
/// `[REX] 0F 22 /r` with mod=11 and ModRM.reg (REX.R extended) = `cr`; a REX prefix only in
/// 64-bit mode (`long_mode`; elsewhere 40h-4Fh are INC/DEC). `None`: neither.
pub(crate) fn mov_to_cr_source(decode_assists: bool, exit_info_1: u64, cr: u8, long_mode: bool, fetch: impl FnOnce() -> Option<([u8; 15], usize)>) -> Option<(usize, Option<u64>)> {
    if decode_assists && exit_info_1 >> 63 != 0 {
        return Some(((exit_info_1 & 0xf) as usize, None));
    }
    let (b, n) = fetch()?;
    let b = b.get(..n.min(15))?;
    let (rex, rest) = match b {
        [r, rest @ ..] if long_mode && r & 0xf0 == 0x40 => (*r, rest),
        _ => (0, b),
    };
    match rest {
        [0x0f, 0x22, modrm, ..] if modrm & 0xc0 == 0xc0 && (((rex >> 2) & 1) << 3 | ((modrm >> 3) & 7)) == cr => {
            let len = 3 + (rex != 0) as u64;
            Some(((modrm & 7) as usize | ((rex as usize & 1) << 3), Some(len)))
        }
        _ => None,
    }
}

/// The segment register number (ES=0, CS, SS, DS, FS, GS=5) OUTS reads from: EXITINFO1's
/// SEG field with decode assists, else the decoded segment-override prefix, else DS.
pub(crate) fn outs_segment(decode_assists: bool, exitinfo_seg: u8, prefix_seg: Option<u8>) -> u8 {
    let seg = if decode_assists { Some(exitinfo_seg) } else { prefix_seg };
    seg.unwrap_or(3)
}
