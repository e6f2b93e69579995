//! Host-side unit tests of the module's instruction decoder (rust/emulate.rs, compiled
//! here as is: it uses only `core`).

#[path = "../../../rust/emulate.rs"]
#[allow(dead_code)]
mod emulate;

use emulate::*;

fn d(b: &[u8], m: CpuMode) -> MmioInsn {
    decode_mmio(b, m).unwrap_or_else(|| panic!("cannot decode {b:x?}"))
}

#[test]
fn stores_of_every_size() {
    // mov byte [0x10], 0x5a (16-bit)
    let i = d(&[0xc6, 0x06, 0x10, 0x00, 0x5a], CpuMode::Bits16);
    assert_eq!((i.len, i.size, i.op), (5, 1, MmioOp::Store { src: None, imm: 0x5a }));
    // mov word [0x12], 0xbeef
    let i = d(&[0xc7, 0x06, 0x12, 0x00, 0xef, 0xbe], CpuMode::Bits16);
    assert_eq!((i.len, i.size, i.op), (6, 2, MmioOp::Store { src: None, imm: 0xbeef }));
    // mov [0x40000000], rax: 48 89 04 25 disp32
    let i = d(&[0x48, 0x89, 0x04, 0x25, 0, 0, 0, 0x40], CpuMode::Bits64);
    assert_eq!((i.len, i.size), (8, 8));
    assert_eq!(i.op, MmioOp::Store { src: Some(Reg { num: 0, high8: false }), imm: 0 });
    // mov qword [abs], -2: imm32 sign-extended
    let i = d(&[0x48, 0xc7, 0x04, 0x25, 0x18, 0, 0, 0x40, 0xfe, 0xff, 0xff, 0xff], CpuMode::Bits64);
    assert_eq!((i.len, i.size, i.op), (12, 8, MmioOp::Store { src: None, imm: u64::MAX - 1 }));
    // mov [disp], bh without REX is a high-byte register; with REX (sil) it is not.
    let i = d(&[0x88, 0x3e, 0x28, 0x00], CpuMode::Bits16);
    assert_eq!(i.op, MmioOp::Store { src: Some(Reg { num: 7, high8: true }), imm: 0 });
    let i = d(&[0x40, 0x88, 0x34, 0x25, 0x21, 0, 0, 0x40], CpuMode::Bits64);
    assert_eq!(i.op, MmioOp::Store { src: Some(Reg { num: 6, high8: false }), imm: 0 });
    // REX.R: mov [abs], r10b
    let i = d(&[0x44, 0x88, 0x14, 0x25, 0x20, 0, 0, 0x40], CpuMode::Bits64);
    assert_eq!(i.op, MmioOp::Store { src: Some(Reg { num: 10, high8: false }), imm: 0 });
}

#[test]
fn loads_and_extensions() {
    // movzx ecx, byte [0x34] (16-bit code, 66 prefix)
    let i = d(&[0x66, 0x0f, 0xb6, 0x0e, 0x34, 0x00], CpuMode::Bits16);
    assert_eq!((i.len, i.size), (6, 1));
    assert_eq!(i.op, MmioOp::Load { dst: Reg { num: 1, high8: false }, dst_size: 4, ext: Extend::Zero });
    // movsx rcx, word [abs]
    let i = d(&[0x48, 0x0f, 0xbf, 0x0c, 0x25, 0x10, 0, 0, 0x40], CpuMode::Bits64);
    assert_eq!(i.op, MmioOp::Load { dst: Reg { num: 1, high8: false }, dst_size: 8, ext: Extend::Sign });
    // movabs al, [moffs64]: A0 + 8-byte address
    let i = d(&[0xa0, 0x28, 0, 0, 0x40, 0, 0, 0, 0], CpuMode::Bits64);
    assert_eq!((i.len, i.size), (9, 1));
    // mov eax, [0xd0000000] in 32-bit code: A1 + 4-byte address
    let i = d(&[0xa1, 0, 0, 0, 0xd0], CpuMode::Bits32);
    assert_eq!((i.len, i.size), (5, 4));
    // ModRM with SIB and disp8: mov ebx, [eax+ecx*4+8]
    let i = d(&[0x8b, 0x5c, 0x88, 0x08], CpuMode::Bits32);
    assert_eq!((i.len, i.size), (4, 4));
    // RIP-relative: mov rax, [rip+0x100]
    let i = d(&[0x48, 0x8b, 0x05, 0x00, 0x01, 0, 0], CpuMode::Bits64);
    assert_eq!(i.len, 7);
}

#[test]
fn refuses_what_it_cannot_do() {
    // add [mem], eax; register-direct mov; truncated bytes; 16 prefixes.
    assert!(decode_mmio(&[0x01, 0x04, 0x25, 0, 0, 0, 0x40], CpuMode::Bits64).is_none());
    assert!(decode_mmio(&[0x89, 0xc0], CpuMode::Bits64).is_none());
    assert!(decode_mmio(&[0x89, 0x04], CpuMode::Bits64).is_none());
    assert!(decode_mmio(&[0x66; 16], CpuMode::Bits64).is_none());
    assert!(decode_mmio(&[], CpuMode::Bits64).is_none());
}

#[test]
fn register_write_semantics() {
    let mut g = [0xffff_ffff_ffff_ffffu64; 16];
    write_reg(&mut g, Reg { num: 0, high8: false }, 4, 0x1234);
    assert_eq!(g[0], 0x1234, "32-bit writes zero-extend");
    write_reg(&mut g, Reg { num: 1, high8: false }, 2, 0x1234);
    assert_eq!(g[1], 0xffff_ffff_ffff_1234, "16-bit writes merge");
    write_reg(&mut g, Reg { num: 4, high8: true }, 1, 0xab);
    assert_eq!(g[0], 0xab34, "AH is bits 15:8 of RAX");
    assert_eq!(read_reg(&g, Reg { num: 4, high8: true }, 1), 0xab);
    assert_eq!(loaded_value(0x8000, 2, Extend::Sign), 0xffff_ffff_ffff_8000);
    assert_eq!(loaded_value(0x18000, 2, Extend::Zero), 0x8000);
}

#[test]
fn fixed_lengths_with_prefixes() {
    assert_eq!(fixed_insn_len(&[0xf4], CpuMode::Bits16, &[0xf4]), Some(1));
    assert_eq!(fixed_insn_len(&[0x66, 0x0f, 0xa2], CpuMode::Bits32, &[0x0f, 0xa2]), Some(3));
    assert_eq!(fixed_insn_len(&[0x48, 0x0f, 0x30], CpuMode::Bits64, &[0x0f, 0x30]), Some(3));
    assert_eq!(fixed_insn_len(&[0x0f, 0x01, 0xd9], CpuMode::Bits64, &[0x0f, 0x01, 0xd9]), Some(3));
    assert_eq!(fixed_insn_len(&[0x90], CpuMode::Bits64, &[0xf4]), None);
}
