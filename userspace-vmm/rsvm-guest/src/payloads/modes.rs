//! Payloads per CPU mode (real, 32-bit protected, 64-bit long): I/O, MMIO decoding, MSRs,
//! exceptions, memslots, interrupts from userspace, FPU state.

use std::arch::global_asm;

payloads! {
    fn all;
    real_io: Real, "
        .code16
        mov al, 0x11
        out 0x80, al
        mov dx, 0x510
        mov ax, 0x2233
        out dx, ax
        mov eax, 0x44556677
        out dx, eax
        in al, 0x71
        mov bl, al
        in ax, dx
        mov cx, ax
        in eax, dx
        mov esi, eax
        mov al, bl
        out 0xe9, al
        mov ax, cx
        out 0xe9, ax
        mov eax, esi
        out 0xe9, eax
        hlt
    ";
    real_mmio: Real, "
        .code16
        mov ax, 0xa000
        mov ds, ax
        mov byte ptr [0x10], 0x5a
        mov word ptr [0x12], 0xbeef
        mov al, 0x77
        mov byte ptr [0x20], al
        mov bx, 0x1234
        mov word ptr [0x22], bx
        mov eax, 0xdeadbeef
        mov dword ptr [0x24], eax
        mov bh, 0x9c
        mov byte ptr [0x28], bh
        mov dl, byte ptr [0x30]
        mov si, word ptr [0x32]
        movzx ecx, byte ptr [0x34]
        movsx edi, word ptr [0x36]
        mov ah, byte ptr [0x38]
        mov ebp, dword ptr [0x3c]
        mov al, ah
        out 0xe9, al
        mov al, dl
        out 0xe9, al
        mov ax, si
        out 0xe9, ax
        mov eax, ecx
        out 0xe9, eax
        mov eax, edi
        out 0xe9, eax
        mov eax, ebp
        out 0xe9, eax
        hlt
    ";
    prot32: Prot32, "
        .code32
        mov eax, 0xcafebabe
        mov dword ptr [0xd0000000], eax
        mov ebx, dword ptr [0xd0000004]
        movsx ecx, byte ptr [0xd0000008]
        mov word ptr [0xd000000a], 0x1357
        mov eax, ebx
        out 0xe9, eax
        mov eax, ecx
        out 0xe9, eax
        cld
        mov esi, 0x2000
        mov ecx, 5
        mov dx, 0x400
        rep outsb
        mov edi, 0x3000
        mov ecx, 3
        mov dx, 0x402
        rep insw
        mov eax, dword ptr [0x3000]
        out 0xe9, eax
        mov ax, word ptr [0x3004]
        out 0xe9, ax
        mov eax, esi
        out 0xe9, eax
        mov eax, edi
        out 0xe9, eax
        mov eax, ecx
        out 0xe9, eax
        std
        mov esi, 0x2004
        mov ecx, 2
        mov dx, 0x404
        rep outsb
        cld
        mov esi, 0x2001
        mov dx, 0x406
        outsw
        xor eax, eax
        cpuid
        mov eax, ebx
        out 0xe9, eax
        hlt
    ";
    long64: Long64, "
        .code64
        lea rax, [rip + .Lud_handler]
        mov rdi, 0x3000 + 6 * 16
        call .Lset_gate
        lea rax, [rip + .Lgp_handler]
        mov rdi, 0x3000 + 13 * 16
        call .Lset_gate
        lidt [rip + .Lidtr]
        mov rax, 0x1122334455667788
        mov qword ptr [0x40000000], rax
        mov rbx, qword ptr [0x40000008]
        movsx rcx, word ptr [0x40000010]
        movzx edx, byte ptr [0x40000012]
        mov r9d, dword ptr [0x40000014]
        mov qword ptr [0x40000018], -2
        mov r10b, 0x42
        mov byte ptr [0x40000020], r10b
        mov sil, 0x66
        mov byte ptr [0x40000021], sil
        movabs al, byte ptr [0x40000028]
        out 0xe9, al
        mov rax, rbx
        out 0xe9, eax
        shr rax, 32
        out 0xe9, eax
        mov rax, rcx
        out 0xe9, eax
        shr rax, 32
        out 0xe9, eax
        mov eax, edx
        out 0xe9, eax
        mov eax, r9d
        out 0xe9, eax
        mov ecx, 0xc0000082
        mov eax, 0x81000000
        mov edx, 0xffffffff
        wrmsr
        xor eax, eax
        xor edx, edx
        rdmsr
        out 0xe9, eax
        mov eax, edx
        out 0xe9, eax
        mov ecx, 0xc0000080
        rdmsr
        out 0xe9, eax
        mov ecx, 0x277
        mov eax, 0x00070406
        mov edx, 0x00070106
        wrmsr
        xor eax, eax
        rdmsr
        out 0xe9, eax
        mov eax, edx
        out 0xe9, eax
        mov ecx, 0x174
        mov eax, 0x10
        xor edx, edx
        wrmsr
        xor eax, eax
        rdmsr
        out 0xe9, eax
        mov r15, 2
        mov ecx, 0x12345678
        rdmsr
        mov ecx, 0x277
        mov eax, 2
        xor edx, edx
        wrmsr
        mov rax, 12345
        vmmcall
        out 0xe9, eax
        shr rax, 32
        out 0xe9, eax
        ud2
        mov r15, 3
        mov rax, 0x4000
        vmrun
        mov rax, 0x4000
        vmload
        mov rax, 0x4000
        vmsave
        stgi
        clgi
        skinit
        invlpga
        mov eax, 0x80000001
        cpuid
        mov eax, ecx
        out 0xe9, eax
        mov rax, cr4
        or rax, 1 << 18
        mov cr4, rax
        xor ecx, ecx
        mov eax, 3
        xor edx, edx
        xsetbv
        xor ecx, ecx
        xgetbv
        out 0xe9, eax
        mov r15, 3
        xor ecx, ecx
        mov eax, 2
        xsetbv
        hlt
    .Lset_gate:
        mov word ptr [rdi], ax
        mov word ptr [rdi + 2], 0x08
        mov word ptr [rdi + 4], 0x8e00
        shr rax, 16
        mov word ptr [rdi + 6], ax
        shr rax, 16
        mov dword ptr [rdi + 8], eax
        mov dword ptr [rdi + 12], 0
        ret
    .Lud_handler:
        mov al, 6
        out 0xe9, al
        add qword ptr [rsp], r15
        iretq
    .Lgp_handler:
        mov al, 13
        out 0xe9, al
        mov eax, dword ptr [rsp]
        out 0xe9, eax
        add rsp, 8
        add qword ptr [rsp], r15
        iretq
    .Lidtr:
        .word 256 * 16 - 1
        .quad 0x3000
    ";
    triple64: Long64, "
        .code64
        lidt [rip + .Lzidt]
        ud2
    .Lzidt:
        .word 0
        .quad 0
    ";
    touch64: Long64, "
        .code64
        mov rdi, 0x200000
        mov ecx, 512
    .Ltouch_loop:
        mov byte ptr [rdi], 1
        add rdi, 4096
        dec ecx
        jnz .Ltouch_loop
        hlt
    ";
    readonly16: Real, "
        .code16
        mov ax, 0xc000
        mov ds, ax
        mov al, byte ptr [0x5]
        out 0xe9, al
        mov byte ptr [0x5], 0x77
        mov al, byte ptr [0x5]
        out 0xe9, al
        hlt
    ";
    slotdel16: Real, "
        .code16
        mov ax, 0x5000
        mov ds, ax
        mov al, byte ptr [0x0]
        out 0xe9, al
        hlt
        mov al, byte ptr [0x0]
        out 0xe9, al
        hlt
    ";
    irq16: Real, "
        .code16
        jmp .Lirq_main
    .Lirq_handler:
        mov byte ptr [0x600], 1
        mov al, 0x30
        out 0xe9, al
        iret
    .Lirq_main:
        cli
        mov word ptr [0x30 * 4], 0x1002
        mov word ptr [0x30 * 4 + 2], 0
        mov al, 1
        out 0xe9, al
        sti
        nop
        nop
    .Lirq_wait:
        hlt
        cmp byte ptr [0x600], 0
        je .Lirq_wait
        mov al, 2
        out 0xe9, al
        hlt
    ";
    fpu64: Long64, "
        .code64
        movq rax, xmm0
        out 0xe9, eax
        shr rax, 32
        out 0xe9, eax
        fnstcw word ptr [0x700]
        mov ax, word ptr [0x700]
        out 0xe9, ax
        mov ecx, 0xc0000082
        rdmsr
        out 0xe9, eax
        mov eax, edx
        out 0xe9, eax
        mov rax, 0x0102030405060708
        movq xmm1, rax
        mov ecx, 0xc0000084
        mov eax, 0x4700
        xor edx, edx
        wrmsr
        hlt
    ";
    undecodable64: Long64, "
        .code64
        mov eax, 1
        add dword ptr [0x40000000], eax
        hlt
    ";
}

payloads! {
    fn all_tail;
    first16: Real, "
        .code16
        rdtsc
        mov dword ptr [0x600], eax
        mov dword ptr [0x604], edx
        out 0xf0, al
        hlt
    ";
    spin64: Long64, "
        .code64
    .Lspin:
        jmp .Lspin
    ";
}
