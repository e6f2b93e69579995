//! Guest payloads, assembled by LLVM from the `global_asm!` below into a non-executable
//! section of this binary and copied into guest memory at GPA 0x1000. Each is
//! position-independent. Results are reported with `out 0xe9` (the "result port").


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
    (fn $all:ident; $($name:ident : $mode:ident, $code:expr;)*) => {
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
        /// (name, mode, bytes) of every payload of this group.
        pub(super) fn $all() -> Vec<(&'static str, super::Mode, &'static [u8])> {
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
                    v.push((stringify!($name), super::Mode::$mode, bytes));
                }
            )*
            v
        }
    };
}


// One file per group (each its own `global_asm!` blocks and list); `all()` keeps the order
// the suites have always run them in.
mod apic;
mod bench;
mod edu;
mod hoststate;
mod modes;

pub use edu::{edu64, EDU_BAR_GPA};

/// (name, mode, bytes) of every payload.
pub fn all() -> Vec<(&'static str, Mode, &'static [u8])> {
    let mut v = apic::all();
    v.extend(modes::all());
    v.extend(hoststate::all());
    v.extend(bench::all());
    v.extend(modes::all_tail());
    v
}
