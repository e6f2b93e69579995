//! Payloads that set state the host must get back unchanged (issue 15 section 1): debug
//! registers with a breakpoint and single-step (dr64), CR4 bits the guest's CPUID does not
//! offer (cr4_64), PKRU (pkru64), and the instructions that reach host state (insns64).
//! rsvm-test host-state and the payload table check them.

use std::arch::global_asm;

payloads! {
    fn all;
    dr64: Long64, concat!("
        .code64
        lea rax, [rip + .Ldr_db]
        mov edi, 1
        call .Ldr_gate
        call .Ldr_idt
        mov rax, dr0
        out 0xe9, eax
        mov rax, dr7
        out 0xe9, eax
        mov rax, dr6
        out 0xe9, eax
        mov rax, 0x111000
        mov dr0, rax
        mov rax, 0x222000
        mov dr1, rax
        mov rax, 0x333000
        mov dr2, rax
        mov rax, 0x444000
        mov dr3, rax
        mov rax, 0xd0400
        mov dr7, rax
        out 0x80, al
        mov rax, dr0
        out 0xe9, eax
        mov rax, dr1
        out 0xe9, eax
        mov rax, dr2
        out 0xe9, eax
        mov rax, dr3
        out 0xe9, eax
        mov rax, dr7
        out 0xe9, eax
        mov dword ptr [0x111000], 1
        mov rax, 0x400
        mov dr7, rax
        pushfq
        or qword ptr [rsp], 0x100
        popfq
        nop
        nop
        mov eax, dword ptr [0x600]
        out 0xe9, eax
        hlt
    .Ldr_db:
        push rax
        mov rax, dr6
        out 0xe9, eax
        mov eax, 0xffff0ff0
        mov dr6, rax
        and qword ptr [rsp + 24], ~0x100
        inc dword ptr [0x600]
        pop rax
        iretq
", apic_lib!("dr"));
    cr4_64: Long64, concat!("
        .code64
        lea rax, [rip + .Lcr4_gp]
        mov edi, 13
        call .Lcr4_gate
        call .Lcr4_idt
        mov r15, 3
        mov rax, cr4
        out 0xe9, eax
        mov rax, cr4
        or rax, 1 << 22
        mov cr4, rax
        mov rax, cr4
        or rax, 1 << 20
        mov cr4, rax
        mov rax, cr4
        or rax, 1 << 14
        mov cr4, rax
        mov rax, cr4
        and rax, ~(1 << 5)
        mov cr4, rax
        mov rax, cr4
        or rax, 1 << 7
        mov cr4, rax
        mov rax, cr4
        out 0xe9, eax
        hlt
    .Lcr4_gp:
        mov al, 13
        out 0xe9, al
        mov eax, dword ptr [rsp]
        out 0xe9, eax
        add rsp, 8
        add qword ptr [rsp], r15
        iretq
", apic_lib!("cr4"));
    pkru64: Long64, "
        .code64
        mov rax, cr4
        or rax, 1 << 22
        mov cr4, rax
        xor ecx, ecx
        rdpkru
        out 0xe9, eax
        mov eax, 0xc
        xor ecx, ecx
        xor edx, edx
        wrpkru
        out 0x80, al
        xor ecx, ecx
        rdpkru
        out 0xe9, eax
        hlt
    ";
    insns64: Long64, concat!("
        .code64
        lea rax, [rip + .Lin_ud]
        mov edi, 6
        call .Lin_gate
        lea rax, [rip + .Lin_gp]
        mov edi, 13
        call .Lin_gate
        call .Lin_idt
        mov r15, 3
        rdtscp
        mov r15, 2
        xor ecx, ecx
        rdpmc
        wbinvd
        invd
        mov r15, 3
        mov eax, 0x600
        xor ecx, ecx
        xor edx, edx
        monitor
        xor eax, eax
        mwait
        mov eax, 0x5a
        out 0xe9, eax
        mov r15, 4
        mov rax, 0xdead
        rdpid rax
        out 0xe9, eax
        hlt
    .Lin_ud:
        push rax
        mov al, 6
        out 0xe9, al
        pop rax
        add qword ptr [rsp], r15
        iretq
    .Lin_gp:
        push rax
        mov al, 13
        out 0xe9, al
        pop rax
        add rsp, 8
        add qword ptr [rsp], r15
        iretq
", apic_lib!("in"));
}
