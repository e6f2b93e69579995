//! Payloads of the in-kernel local APIC: its timer, priorities, HLT wake-up and sleep, x2APIC.

use std::arch::global_asm;

payloads! {
    fn all;
    apic_timer64: Long64, concat!("
        .code64
        mov ebx, 0xfee00000
        call .Lat_idt
        mov edi, 0x40
        lea rax, [rip + .Lat_h40]
        call .Lat_gate
        mov edi, 0x41
        lea rax, [rip + .Lat_h41]
        call .Lat_gate
        mov edi, 0x42
        lea rax, [rip + .Lat_h42]
        call .Lat_gate
        mov dword ptr [rbx + 0x0f0], 0x1ff
        mov eax, dword ptr [rbx + 0x030]
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x020]
        out 0xe9, eax
        mov dword ptr [rbx + 0x3e0], 0xb
        mov dword ptr [rbx + 0x320], 0x40
        mov dword ptr [rbx + 0x380], 200000000
        mov eax, dword ptr [rbx + 0x390]
        xor ecx, ecx
        cmp eax, 0
        je .Lat_cnt
        cmp eax, 200000000
        ja .Lat_cnt
        mov ecx, 1
    .Lat_cnt:
        mov eax, ecx
        out 0xe9, eax
        sti
    .Lat_w40:
        hlt
        cmp dword ptr [0x30040], 0
        je .Lat_w40
        cli
        mov eax, dword ptr [0x30040]
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x390]
        out 0xe9, eax
        mov dword ptr [rbx + 0x320], 0x20041
        mov dword ptr [rbx + 0x380], 300000
        sti
    .Lat_w41:
        hlt
        cmp dword ptr [0x30041], 3
        jb .Lat_w41
        cli
        mov dword ptr [rbx + 0x320], 0x30041
        mov dword ptr [rbx + 0x380], 0
        mov eax, 3
        out 0xe9, eax
        mov dword ptr [rbx + 0x320], 0x40042
        mov dword ptr [rbx + 0x380], 12345
        mov eax, dword ptr [rbx + 0x380]
        out 0xe9, eax
        rdtsc
        shl rdx, 32
        or rax, rdx
        add rax, 200000
        mov rdx, rax
        shr rdx, 32
        mov ecx, 0x6e0
        wrmsr
        sti
    .Lat_w42:
        hlt
        cmp dword ptr [0x30042], 0
        je .Lat_w42
        cli
        mov ecx, 0x6e0
        rdmsr
        or eax, edx
        out 0xe9, eax
        mov eax, dword ptr [0x30042]
        out 0xe9, eax
        jmp .Lat_done
    .Lat_h40:
        inc dword ptr [0x30040]
        mov dword ptr [rbx + 0x0b0], 0
        iretq
    .Lat_h41:
        inc dword ptr [0x30041]
        mov dword ptr [rbx + 0x0b0], 0
        iretq
    .Lat_h42:
        inc dword ptr [0x30042]
        mov dword ptr [rbx + 0x0b0], 0
        iretq

", apic_lib!("at"));
    apic_prio64: Long64, concat!("
        .code64
        mov ebx, 0xfee00000
        call .Lap_idt
        mov edi, 0x50
        lea rax, [rip + .Lap_h50]
        call .Lap_gate
        mov edi, 0x60
        lea rax, [rip + .Lap_h60]
        call .Lap_gate
        mov edi, 0x61
        lea rax, [rip + .Lap_h61]
        call .Lap_gate
        mov edi, 0x70
        lea rax, [rip + .Lap_h70]
        call .Lap_gate
        mov dword ptr [rbx + 0x0f0], 0x1ff
        cli
        mov dword ptr [rbx + 0x300], 0x40050
        mov dword ptr [rbx + 0x300], 0x40070
        mov dword ptr [rbx + 0x300], 0x40060
        mov eax, dword ptr [rbx + 0x220]
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x230]
        out 0xe9, eax
        mov dword ptr [rbx + 0x080], 0x60
        mov eax, dword ptr [rbx + 0x0a0]
        out 0xe9, eax
        sti
        nop
        nop
        cli
        mov eax, 0xaa
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x230]
        out 0xe9, eax
        xor eax, eax
        sti
        mov cr8, rax
        nop
        nop
        cli
        mov eax, 0xbb
        out 0xe9, eax
        mov dword ptr [rbx + 0x080], 0xf0
        mov rax, cr8
        out 0xe9, eax
        mov dword ptr [rbx + 0x300], 0x40061
        sti
        nop
        cli
        mov eax, dword ptr [rbx + 0x230]
        out 0xe9, eax
        sti
        mov dword ptr [rbx + 0x080], 0
        nop
        cli
        mov eax, 0xcc
        out 0xe9, eax
        mov dword ptr [rbx + 0x320], 0x30
        mov dword ptr [rbx + 0x0f0], 0xff
        mov eax, dword ptr [rbx + 0x320]
        out 0xe9, eax
        mov dword ptr [rbx + 0x300], 0x40050
        mov eax, dword ptr [rbx + 0x220]
        out 0xe9, eax
        mov dword ptr [rbx + 0x0f0], 0x1ff
        mov eax, dword ptr [rbx + 0x0f0]
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x320]
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x0a0]
        out 0xe9, eax
        jmp .Lap_done
    .Lap_h50:
        push rax
        mov eax, 0x50
        out 0xe9, eax
        mov dword ptr [rbx + 0x0b0], 0
        pop rax
        iretq
    .Lap_h60:
        push rax
        mov eax, 0x60
        out 0xe9, eax
        mov dword ptr [rbx + 0x0b0], 0
        pop rax
        iretq
    .Lap_h61:
        push rax
        mov eax, 0x61
        out 0xe9, eax
        mov dword ptr [rbx + 0x0b0], 0
        pop rax
        iretq
    .Lap_h70:
        push rax
        mov eax, 0x70
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x0a0]
        out 0xe9, eax
        mov eax, dword ptr [rbx + 0x130]
        out 0xe9, eax
        mov dword ptr [rbx + 0x0b0], 0
        pop rax
        iretq

", apic_lib!("ap"));
    apic_wake64: Long64, concat!("
        .code64
        mov ebx, 0xfee00000
        call .Law_idt
        mov edi, 0x60
        lea rax, [rip + .Law_h60]
        call .Law_gate
        mov dword ptr [rbx + 0xf0], 0x1ff
        sti
    .Law_wait:
        hlt
        cmp dword ptr [0x30060], 0
        je .Law_wait
        cli
        jmp .Law_done
    .Law_h60:
        mov dword ptr [0x30060], 1
        push rax
        mov eax, 0x60
        out 0xe9, eax
        pop rax
        mov dword ptr [rbx + 0xb0], 0
        iretq
", apic_lib!("aw"));
    apic_sleep64: Long64, concat!("
        .code64
        mov ebx, 0xfee00000
        call .Las_idt
        mov edi, 0x61
        lea rax, [rip + .Las_h61]
        call .Las_gate
        mov dword ptr [rbx + 0xf0], 0x1ff
        mov dword ptr [rbx + 0x3e0], 0xb
        mov dword ptr [rbx + 0x320], 0x20061
        mov dword ptr [rbx + 0x380], 1000000
        cli
    .Las_forever:
        hlt
        jmp .Las_forever
    .Las_h61:
        mov dword ptr [rbx + 0xb0], 0
        iretq
", apic_lib!("as"));
    apic_x2_64: Long64, concat!("
        .code64
        call .Lx2_idt
        mov edi, 0x55
        lea rax, [rip + .Lx2_h55]
        call .Lx2_gate
        mov edi, 0x56
        lea rax, [rip + .Lx2_h56]
        call .Lx2_gate
        mov edi, 0x57
        lea rax, [rip + .Lx2_h57]
        call .Lx2_gate
        mov edi, 13
        lea rax, [rip + .Lx2_gp]
        call .Lx2_gate
        mov edi, 0x58
        lea rax, [rip + .Lx2_h58]
        call .Lx2_gate
        mov ecx, 0x1b
        rdmsr
        out 0xe9, eax
        mov eax, 0xfee00d00
        xor edx, edx
        wrmsr
        mov ecx, 0x802
        rdmsr
        out 0xe9, eax
        mov ecx, 0x80d
        rdmsr
        out 0xe9, eax
        mov ecx, 0x803
        rdmsr
        out 0xe9, eax
        mov ecx, 0x80f
        mov eax, 0x1ff
        xor edx, edx
        wrmsr
        cli
        mov ecx, 0x83f
        mov eax, 0x55
        wrmsr
        mov ecx, 0x822
        rdmsr
        out 0xe9, eax
        sti
        nop
        cli
        mov ecx, 0x830
        mov eax, 0x40056
        xor edx, edx
        wrmsr
        sti
        nop
        cli
        mov ecx, 0x830
        mov eax, 0x57
        xor edx, edx
        wrmsr
        sti
        nop
        cli
        mov ecx, 0x80b
        rdmsr
        mov ecx, 0x802
        mov eax, 5
        xor edx, edx
        wrmsr
        mov ecx, 0x1b
        mov eax, 0xfee00900
        xor edx, edx
        wrmsr
        mov ecx, 0x809
        rdmsr
        mov ecx, 0x83e
        mov eax, 0xb
        xor edx, edx
        wrmsr
        mov ecx, 0x832
        mov eax, 0x58
        wrmsr
        mov ecx, 0x838
        mov eax, 500000
        wrmsr
        sti
    .Lx2_w58:
        hlt
        cmp dword ptr [0x30058], 0
        je .Lx2_w58
        cli
        mov eax, dword ptr [0x30058]
        out 0xe9, eax
        jmp .Lx2_done
    .Lx2_h55:
        push rax
        push rcx
        push rdx
        mov eax, 0x55
        out 0xe9, eax
        mov ecx, 0x80b
        xor eax, eax
        xor edx, edx
        wrmsr
        pop rdx
        pop rcx
        pop rax
        iretq
    .Lx2_h56:
        push rax
        push rcx
        push rdx
        mov eax, 0x56
        out 0xe9, eax
        mov ecx, 0x80b
        xor eax, eax
        xor edx, edx
        wrmsr
        pop rdx
        pop rcx
        pop rax
        iretq
    .Lx2_h57:
        push rax
        push rcx
        push rdx
        mov eax, 0x57
        out 0xe9, eax
        mov ecx, 0x80b
        xor eax, eax
        xor edx, edx
        wrmsr
        pop rdx
        pop rcx
        pop rax
        iretq
    .Lx2_h58:
        inc dword ptr [0x30058]
        push rax
        push rcx
        push rdx
        mov ecx, 0x80b
        xor eax, eax
        xor edx, edx
        wrmsr
        pop rdx
        pop rcx
        pop rax
        iretq
    .Lx2_gp:
        add rsp, 8
        add qword ptr [rsp], 2
        push rax
        mov eax, 0xd
        out 0xe9, eax
        pop rax
        iretq

", apic_lib!("x2"));
}
