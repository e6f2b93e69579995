//! The benchmark's payloads: one exit kind each in a loop between markers, the pointer chase,
//! touching memory.

use std::arch::global_asm;

payloads! {
    fn all;
    bench_cpuid64: Long64, "
        .code64
        out 0xf1, al
        mov r8, qword ptr [0x700]
    .Lbench_cpuid:
        xor eax, eax
        cpuid
        dec r8
        jnz .Lbench_cpuid
        out 0xf2, al
        hlt
    ";
    bench_out64: Long64, "
        .code64
        out 0xf1, al
        mov r8, qword ptr [0x700]
    .Lbench_out:
        out 0xf0, al
        dec r8
        jnz .Lbench_out
        out 0xf2, al
        hlt
    ";
    chase64: Long64, "
        .code64
        mov rsi, qword ptr [0x700]
        mov rdi, qword ptr [0x708]
        mov rcx, qword ptr [0x718]
    .Lchase_warm:
        mov rdi, qword ptr [rdi]
        dec rcx
        jnz .Lchase_warm
        rdtsc
        shl rdx, 32
        or rax, rdx
        mov r8, rax
    .Lchase:
        mov rdi, qword ptr [rdi]
        dec rsi
        jnz .Lchase
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, r8
        mov qword ptr [0x710], rax
        hlt
    ";
    bench_vmmcall64: Long64, "
        .code64
        out 0xf1, al
        mov r8, qword ptr [0x700]
    .Lbench_vmmcall:
        mov eax, 1
        vmmcall
        dec r8
        jnz .Lbench_vmmcall
        out 0xf2, al
        hlt
    ";
    bench_msr64: Long64, "
        .code64
        out 0xf1, al
        mov r8, qword ptr [0x700]
    .Lbench_msr:
        mov ecx, 0x277
        rdmsr
        dec r8
        jnz .Lbench_msr
        out 0xf2, al
        hlt
    ";
    bench_hltwake64: Long64, concat!("
        .code64
        mov ebx, 0xfee00000
        call .Lbw_idt
        mov edi, 0x40
        lea rax, [rip + .Lbw_h40]
        call .Lbw_gate
        mov dword ptr [rbx + 0xf0], 0x1ff
        mov dword ptr [rbx + 0x3e0], 0xb
        mov dword ptr [rbx + 0x320], 0x40
        mov r8, qword ptr [0x700]
        out 0xf1, al
    .Lbw_loop:
        mov dword ptr [rbx + 0x380], 50000
        sti
        hlt
        cli
        dec r8
        jnz .Lbw_loop
        out 0xf2, al
        jmp .Lbw_done
    .Lbw_h40:
        mov dword ptr [rbx + 0xb0], 0
        iretq
", apic_lib!("bw"));
    bench_hlt64: Long64, "
        .code64
        out 0xf1, al
        mov r8, qword ptr [0x700]
    .Lbench_hlt:
        hlt
        dec r8
        jnz .Lbench_hlt
        out 0xf2, al
        hlt
    ";
    bench_mmio64: Long64, "
        .code64
        out 0xf1, al
        mov r8, qword ptr [0x700]
    .Lbench_mmio:
        mov dword ptr [0x40000000], eax
        dec r8
        jnz .Lbench_mmio
        out 0xf2, al
        hlt
    ";
    touchn64: Long64, "
        .code64
        mov rcx, qword ptr [0x700]
        mov rdi, qword ptr [0x708]
    .Ltouchn:
        mov byte ptr [rdi], 1
        add rdi, 4096
        dec rcx
        jnz .Ltouchn
        hlt
    ";
}
