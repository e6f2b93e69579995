//! Guest payloads, assembled by LLVM from the `global_asm!` below into a non-executable
//! section of this binary and copied into guest memory at GPA 0x1000. Each is
//! position-independent. Results are reported with `out 0xe9` (the "result port").

use std::arch::global_asm;

/// The CPU mode a payload starts in (the harness sets the registers for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Real,
    Prot32,
    Long64,
}

/// The helpers every in-kernel-APIC payload (and every 64-bit payload with its own
/// exception handlers) carries (payloads are self-contained blobs):
/// `.L<p>_gate` (EDI = vector, RAX = handler: a 64-bit interrupt gate in the IDT at
/// 0x20000), `.L<p>_idt` (LIDT of that table) and `.L<p>_done` (clear the registers the
/// trace prints, OUT to the done port 0xf4).
macro_rules! apic_lib {
    ($p:literal) => {
        concat!(
            "    .L", $p, "_gate:\n",
            "        mov rdx, rax\n",
            "        and edx, 0xffff\n",
            "        mov rcx, 0x00008e0000080000\n",
            "        or rdx, rcx\n",
            "        mov rcx, rax\n",
            "        shr rcx, 16\n",
            "        shl rcx, 48\n",
            "        or rdx, rcx\n",
            "        shl edi, 4\n",
            "        mov qword ptr [rdi + 0x20000], rdx\n",
            "        mov qword ptr [rdi + 0x20008], 0\n",
            "        ret\n",
            "    .L", $p, "_idt:\n",
            "        mov word ptr [0x21000], 0xfff\n",
            "        mov qword ptr [0x21002], 0x20000\n",
            "        lidt [0x21000]\n",
            "        ret\n",
            "    .L", $p, "_done:\n",
            "        xor eax, eax\n",
            "        xor ebx, ebx\n",
            "        xor ecx, ecx\n",
            "        xor edx, edx\n",
            "        xor esi, esi\n",
            "        xor edi, edi\n",
            "        xor r8d, r8d\n",
            "        xor r9d, r9d\n",
            "        xor r10d, r10d\n",
            "        xor r15d, r15d\n",
            "        out 0xf4, al\n",
            "        hlt\n",
        )
    };
}

macro_rules! payloads {
    ($($name:ident : $mode:ident, $code:expr;)*) => {
        $(
            global_asm!(
                ".pushsection .rodata.rsvm_payloads,\"a\"",
                concat!(".globl rsvm_payload_", stringify!($name), "_start"),
                concat!(".globl rsvm_payload_", stringify!($name), "_end"),
                concat!("rsvm_payload_", stringify!($name), "_start:"),
                $code,
                concat!("rsvm_payload_", stringify!($name), "_end:"),
                ".code64",
                ".popsection",
            );
        )*
        /// (name, mode, bytes) of every payload.
        pub fn all() -> Vec<(&'static str, Mode, &'static [u8])> {
            extern "C" {
                $(
                    #[link_name = concat!("rsvm_payload_", stringify!($name), "_start")]
                    static $name: u8;
                )*
            }
            let mut v = Vec::new();
            $(
                {
                    extern "C" {
                        #[link_name = concat!("rsvm_payload_", stringify!($name), "_end")]
                        static END: u8;
                    }
                    // SAFETY: both symbols delimit the payload's bytes in .rodata, start <= end.
                    let bytes = unsafe {
                        let s = &raw const $name;
                        let e = &raw const END;
                        std::slice::from_raw_parts(s, e as usize - s as usize)
                    };
                    v.push((stringify!($name), Mode::$mode, bytes));
                }
            )*
            v
        }
    };
}

payloads! {
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
    undecodable64: Long64, "
        .code64
        mov eax, 1
        add dword ptr [0x40000000], eax
        hlt
    ";
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

// The passthrough payload (rsvm-test `passthrough`): drives an assigned QEMU `edu` device
// through its BAR0, which the VMM maps at EDU_BAR_GPA with RSVM_MAP_DEVICE_BAR. Not in
// `all()`: it needs a device, so it cannot run in the payload suites (nor on /dev/kvm).
//
// Reports (out 0xe9, 32 bits each): edu's liveness register after writing 0x12345678
// (~value), its id register, 5! from the factorial unit, 1 if a 2 KiB pattern DMA'd
// RAM -> edu -> RAM arrived intact, 0x77 after a DMA to the address at [0x7000] (outside
// the VM's memory), and then by the interrupt mode at [0x7008]:
// - 1 (the VMM routed edu's MSI to vector 0x50): the interrupt count after edu's raise-IRQ
//   register and after a factorial with IRQ, and the factorial;
// - 2 (edu's INTx routed to vector 0x51, level-triggered): edu's raise-IRQ register, whose
//   first delivery is EOIed without acking edu (the line stays asserted: it must come
//   again) and the second acked, then EOIed; reports the count once it is 2, vector 0x51's
//   TMR bit seen at the first delivery, the count after a delay with interrupts on (still
//   2: no third delivery), the count after a factorial with IRQ (3), and the factorial.
// Last, if [0x7010] != 0, 0x79 after edu wrote that dword to 0xfee00000 (a forged MSI).
global_asm!(
    ".pushsection .rodata.rsvm_payloads,\"a\"",
    ".globl rsvm_payload_edu64_start",
    ".globl rsvm_payload_edu64_end",
    "rsvm_payload_edu64_start:",
    ".code64",
    "mov ebx, 0xc0000000",
    // The APIC through a register: a 32-bit displacement would sign-extend.
    "mov r12d, 0xfee00000",
    "mov dword ptr [0x30050], 0",
    "call .Ledu_idt",
    // vector 0x50 (MSI mode): handler 70; vector 0x51 (INTx mode): handler 71
    "mov edi, 0x50",
    "lea rax, [rip + 70f]",
    "call .Ledu_gate",
    "mov edi, 0x51",
    "lea rax, [rip + 71f]",
    "call .Ledu_gate",
    "mov dword ptr [r12 + 0xf0], 0x1ff",
    // No interrupt left enabled or pending in edu by an earlier run (edu has no reset).
    "mov dword ptr [rbx + 0x20], 0",
    "mov eax, dword ptr [rbx + 0x24]",
    "mov dword ptr [rbx + 0x64], eax",
    // liveness and id
    "mov dword ptr [rbx + 4], 0x12345678",
    "mov eax, dword ptr [rbx + 4]",
    "out 0xe9, eax",
    "mov eax, dword ptr [rbx]",
    "out 0xe9, eax",
    // factorial of 5
    "mov dword ptr [rbx + 8], 5",
    "21: mov eax, dword ptr [rbx + 0x20]",
    "test eax, 1",
    "jnz 21b",
    "mov eax, dword ptr [rbx + 8]",
    "out 0xe9, eax",
    // pattern at 0x200000
    "xor ecx, ecx",
    "22: lea eax, [rcx * 8]",
    "sub eax, ecx",
    "add eax, 3",
    "xor eax, 0x5a",
    "mov byte ptr [rcx + 0x200000], al",
    "inc ecx",
    "cmp ecx, 0x800",
    "jb 22b",
    // RAM -> edu
    "mov qword ptr [rbx + 0x80], 0x200000",
    "mov qword ptr [rbx + 0x88], 0x40000",
    "mov qword ptr [rbx + 0x90], 0x800",
    "mov qword ptr [rbx + 0x98], 1",
    "23: mov rax, qword ptr [rbx + 0x98]",
    "test eax, 1",
    "jnz 23b",
    // edu -> RAM at 0x300000
    "mov qword ptr [rbx + 0x80], 0x40000",
    "mov qword ptr [rbx + 0x88], 0x300000",
    "mov qword ptr [rbx + 0x90], 0x800",
    "mov qword ptr [rbx + 0x98], 3",
    "24: mov rax, qword ptr [rbx + 0x98]",
    "test eax, 1",
    "jnz 24b",
    "cld",
    "mov esi, 0x200000",
    "mov edi, 0x300000",
    "mov ecx, 0x800",
    "repe cmpsb",
    "sete al",
    "movzx eax, al",
    "out 0xe9, eax",
    // edu -> the address at [0x7000] (outside the VM's memory): must reach nothing
    "mov qword ptr [rbx + 0x80], 0x40000",
    "mov rax, qword ptr [0x7000]",
    "mov qword ptr [rbx + 0x88], rax",
    "mov qword ptr [rbx + 0x90], 0x100",
    "mov qword ptr [rbx + 0x98], 3",
    "25: mov rax, qword ptr [rbx + 0x98]",
    "test eax, 1",
    "jnz 25b",
    "mov eax, 0x77",
    "out 0xe9, eax",
    // interrupts
    "cmp qword ptr [0x7008], 0",
    "je 29f",
    "cmp qword ptr [0x7008], 2",
    "je 40f",
    // Interrupts stay off except in `sti; hlt` (STI's shadow makes the pair atomic), so
    // an MSI that arrives before the HLT is not lost.
    "mov dword ptr [rbx + 0x60], 1",
    "26: cmp dword ptr [0x30050], 0",
    "jne 28f",
    "sti",
    "hlt",
    "cli",
    "jmp 26b",
    "28: mov eax, dword ptr [0x30050]",
    "out 0xe9, eax",
    "mov dword ptr [rbx + 0x20], 0x80",
    "mov dword ptr [rbx + 8], 4",
    "27: cmp dword ptr [0x30050], 2",
    "jae 30f",
    "sti",
    "hlt",
    "cli",
    "jmp 27b",
    "30: ",
    "mov eax, dword ptr [0x30050]",
    "out 0xe9, eax",
    "mov eax, dword ptr [rbx + 8]",
    "out 0xe9, eax",
    // A forged MSI if [0x7010] is not 0: its low dword (the message data: vector, delivery
    // mode) goes RAM -> edu, then edu writes it to device address 0xfee00000, the interrupt
    // range: without interrupt remapping that is an interrupt of the guest's choosing on the
    // host's APIC 0; with it, the IOMMU aborts it (no remapping entry at that index).
    "29: mov eax, dword ptr [0x7010]",
    "test eax, eax",
    "jz 31f",
    "mov dword ptr [0x208000], eax",
    "mov qword ptr [rbx + 0x80], 0x208000",
    "mov qword ptr [rbx + 0x88], 0x40000",
    "mov qword ptr [rbx + 0x90], 4",
    "mov qword ptr [rbx + 0x98], 1",
    "32: mov rax, qword ptr [rbx + 0x98]",
    "test eax, 1",
    "jnz 32b",
    "mov qword ptr [rbx + 0x80], 0x40000",
    // (32-bit immediates sign-extend: through a register, zero-extended.)
    "mov eax, 0xfee00000",
    "mov qword ptr [rbx + 0x88], rax",
    "mov qword ptr [rbx + 0x90], 4",
    "mov qword ptr [rbx + 0x98], 3",
    "33: mov rax, qword ptr [rbx + 0x98]",
    "test eax, 1",
    "jnz 33b",
    "mov eax, 0x79",
    "out 0xe9, eax",
    "31: out 0xf4, al",
    "hlt",
    // INTx: raise, wait for two deliveries (the first is EOIed with edu still asserting)
    "40: mov dword ptr [rbx + 0x60], 1",
    "41: cmp dword ptr [0x30050], 2",
    "jae 42f",
    "sti",
    "hlt",
    "cli",
    "jmp 41b",
    "42: mov eax, dword ptr [0x30050]",
    "out 0xe9, eax",
    "mov eax, dword ptr [0x30054]",
    "out 0xe9, eax",
    // A while with interrupts on: acked and EOIed, the interrupt does not come a third time.
    "mov ecx, 20000000",
    "sti",
    "43: dec ecx",
    "jnz 43b",
    "cli",
    "mov eax, dword ptr [0x30050]",
    "out 0xe9, eax",
    // factorial with IRQ, through INTx
    "mov dword ptr [rbx + 0x20], 0x80",
    "mov dword ptr [rbx + 8], 4",
    "44: cmp dword ptr [0x30050], 3",
    "jae 45f",
    "sti",
    "hlt",
    "cli",
    "jmp 44b",
    "45: mov eax, dword ptr [0x30050]",
    "out 0xe9, eax",
    "mov eax, dword ptr [rbx + 8]",
    "out 0xe9, eax",
    "jmp 29b",
    // vector 0x50: count, ack edu (write its IRQ status back), EOI
    "70: push rax",
    "inc dword ptr [0x30050]",
    "mov eax, dword ptr [rbx + 0x24]",
    "mov dword ptr [rbx + 0x64], eax",
    "mov dword ptr [r12 + 0xb0], 0",
    "pop rax",
    "iretq",
    // vector 0x51 (INTx, level): count; the first time record the vector's TMR bit (TMR
    // word 2 at 0x1a0, bit 17) and EOI without acking edu; later ack edu, then EOI.
    "71: push rax",
    "inc dword ptr [0x30050]",
    "cmp dword ptr [0x30050], 1",
    "jne 72f",
    "mov eax, dword ptr [r12 + 0x1a0]",
    "shr eax, 17",
    "and eax, 1",
    "mov dword ptr [0x30054], eax",
    "jmp 73f",
    "72: mov eax, dword ptr [rbx + 0x24]",
    "mov dword ptr [rbx + 0x64], eax",
    "73: mov dword ptr [r12 + 0xb0], 0",
    "pop rax",
    "iretq",
    apic_lib!("edu"),
    "rsvm_payload_edu64_end:",
    ".popsection",
);

/// The passthrough payload's bytes (64-bit, see above).
pub fn edu64() -> &'static [u8] {
    extern "C" {
        static rsvm_payload_edu64_start: u8;
        static rsvm_payload_edu64_end: u8;
    }
    // SAFETY: both symbols delimit the payload's bytes in .rodata, start <= end.
    unsafe {
        let s = &raw const rsvm_payload_edu64_start;
        let e = &raw const rsvm_payload_edu64_end;
        std::slice::from_raw_parts(s, e as usize - s as usize)
    }
}

/// Guest-physical address of edu's BAR0 in the passthrough payload.
pub const EDU_BAR_GPA: u64 = 0xc000_0000;
