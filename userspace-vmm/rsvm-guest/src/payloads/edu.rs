//! The passthrough payload: a guest driving QEMU's edu device.

use std::arch::global_asm;

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

