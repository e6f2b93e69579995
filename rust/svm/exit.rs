// SPDX-License-Identifier: GPL-2.0

//! #VMEXIT codes (APM vol. 2, appendix C), the one table that says what rsvm does with each
//! (its handler and its statistics slot), and the EXITINFO decoders rsvm needs.
//!
//! No kernel imports: the host unit tests compile this file as is (rsvm-test, svm_tests.rs).

/// A #VMEXIT code, as the VMCB's EXITCODE holds it (after `Vmcb::exit_code` normalises
/// VMEXIT_INVALID to -1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExitCode(pub(crate) u64);

/// The vCPU's handler for an exit (the dispatch in `vcpu/exit.rs` matches on this).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handler {
    /// A host interrupt, NMI or SMI ended the guest's slice: the host took it, resume.
    HostEvent,
    /// The interrupt window the vCPU asked for is open.
    Vintr,
    Cpuid,
    Hlt,
    /// MOV to CR4.
    Cr4Write,
    /// MOV to CR8 while the TPR holds an interrupt back.
    Cr8Write,
    Msr,
    Ioio,
    /// Nested page fault: memslot fault-in, the xAPIC page, or MMIO.
    Npf,
    Shutdown,
    Vmmcall,
    Xsetbv,
    /// #AC, reflected to the guest.
    Ac,
    /// #DB, reflected to the guest.
    Db,
    /// #MC in guest mode: the host's machine-check handler has run (`enter_guest`).
    Mc,
    /// An instruction the guest's CPUID does not offer and rsvm intercepts (the SVM
    /// instructions, RDTSCP, RDPRU): #UD, as KVM's `kvm_handle_invalid_op()`.
    InvalidOp,
    /// RDPMC: rsvm offers no performance counters, #GP.
    Rdpmc,
    /// An instruction that runs as a NOP (INVD, WBINVD, MONITOR, MWAIT).
    Nop,
    /// MOV to or from a debug register: the guest's debug registers become live.
    DrAccess,
    /// VMEXIT_INVALID: VMRUN refused the state.
    FailEntry,
    /// Anything rsvm does not intercept on purpose: KVM_EXIT_INTERNAL_ERROR.
    Unexpected,
}

/// Declares the statistics slots of `RsvmVcpuStats::exits` with their names, in ABI order.
macro_rules! stats {
    ($( $(#[$m:meta])* $name:ident = $s:literal, )*) => {
        /// A slot of `RsvmVcpuStats::exits` (the ABI order; rsvm-abi's `STAT_NAMES`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub(crate) enum Stat { $( $(#[$m])* $name, )* }

        impl Stat {
            /// The slots' names, in order (debugfs lines, rsvm-abi's `STAT_NAMES`).
            pub(crate) const NAMES: [&'static str; [$($s),*].len()] = [$($s),*];
            /// Number of slots.
            pub(crate) const NR: usize = Self::NAMES.len();
        }
    };
}

stats! {
    Io = "io",
    /// Counted on the #NPF path when the access goes to userspace (in addition to `Npf`).
    Mmio = "mmio",
    Hlt = "hlt",
    Cpuid = "cpuid",
    Msr = "msr",
    Npf = "npf",
    Intr = "intr",
    Vintr = "vintr",
    Shutdown = "shutdown",
    FailEntry = "fail_entry",
    Ud = "ud",
    Vmmcall = "vmmcall",
    Xsetbv = "xsetbv",
    Exception = "exception",
    Other = "other",
    /// Every exit.
    Total = "total",
}

/// The exit table: each code's name, handler and statistics slot, then the ranges and the
/// default for codes without an entry. Generates the `ExitCode` constants and `dispatch`.
macro_rules! exit_table {
    (
        $( $(#[$m:meta])* $name:ident = $code:literal => $h:ident, $s:ident; )*
        $( [$lo:literal ..= $hi:literal] => $rh:ident, $rs:ident; )*
        default => $dh:ident, $ds:ident;
    ) => {
        // Named for the table and for readers; not every name is used outside it.
        #[allow(dead_code)]
        impl ExitCode {
            $( $(#[$m])* pub(crate) const $name: Self = Self($code); )*

            /// The handler and the statistics slot of this exit.
            pub(crate) const fn dispatch(self) -> (Handler, Stat) {
                match self.0 {
                    $( $code => (Handler::$h, Stat::$s), )*
                    $( $lo..=$hi => (Handler::$rh, Stat::$rs), )*
                    _ => (Handler::$dh, Stat::$ds),
                }
            }
        }
    };
}

exit_table! {
    /// MOV to CR4 (always intercepted: the guest's CPUID decides its bits).
    WRITE_CR4 = 0x014 => Cr4Write, Other;
    /// MOV to CR8 (intercepted only while the TPR holds a requested interrupt back).
    WRITE_CR8 = 0x018 => Cr8Write, Other;
    /// #DB: exception intercepts are 0x40 + vector (1).
    EXCP_DB = 0x041 => Db, Exception;
    /// #AC (vector 17).
    EXCP_AC = 0x051 => Ac, Exception;
    /// #MC (vector 18).
    EXCP_MC = 0x052 => Mc, Exception;
    INTR = 0x060 => HostEvent, Intr;
    NMI = 0x061 => HostEvent, Intr;
    SMI = 0x062 => HostEvent, Intr;
    VINTR = 0x064 => Vintr, Vintr;
    RDPMC = 0x06f => Rdpmc, Other;
    CPUID = 0x072 => Cpuid, Cpuid;
    INVD = 0x076 => Nop, Other;
    HLT = 0x078 => Hlt, Hlt;
    INVLPGA = 0x07a => InvalidOp, Ud;
    IOIO = 0x07b => Ioio, Io;
    MSR = 0x07c => Msr, Msr;
    SHUTDOWN = 0x07f => Shutdown, Shutdown;
    VMRUN = 0x080 => InvalidOp, Ud;
    VMMCALL = 0x081 => Vmmcall, Vmmcall;
    VMLOAD = 0x082 => InvalidOp, Ud;
    VMSAVE = 0x083 => InvalidOp, Ud;
    STGI = 0x084 => InvalidOp, Ud;
    CLGI = 0x085 => InvalidOp, Ud;
    SKINIT = 0x086 => InvalidOp, Ud;
    RDTSCP = 0x087 => InvalidOp, Other;
    WBINVD = 0x089 => Nop, Other;
    MONITOR = 0x08a => Nop, Other;
    MWAIT = 0x08b => Nop, Other;
    XSETBV = 0x08d => Xsetbv, Xsetbv;
    RDPRU = 0x08e => InvalidOp, Other;
    NPF = 0x400 => Npf, Npf;
    /// VMEXIT_INVALID: VMRUN refused the VMCB state.
    INVALID = 0xffff_ffff_ffff_ffff => FailEntry, FailEntry;
    // MOV from DR0-7 (0x20 + n) and to DR0-7 (0x30 + n).
    [0x020..=0x027] => DrAccess, Other;
    [0x030..=0x037] => DrAccess, Other;
    // Exceptions rsvm does not intercept.
    [0x040..=0x05f] => Unexpected, Exception;
    default => Unexpected, Other;
}

impl ExitCode {
    pub(crate) const fn handler(self) -> Handler {
        self.dispatch().0
    }
    pub(crate) const fn stat(self) -> Stat {
        self.dispatch().1
    }
    /// A host interrupt, NMI or SMI: the guest did nothing, the host wanted the CPU.
    pub(crate) const fn is_host_event(self) -> bool {
        matches!(self.handler(), Handler::HostEvent)
    }
}

/// EXITINFO1 of an IOIO intercept (APM 15.10.2, figure 15-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoioInfo(pub(crate) u64);

impl IoioInfo {
    pub(crate) fn is_in(self) -> bool {
        self.0 & 1 != 0
    }
    pub(crate) fn is_string(self) -> bool {
        self.0 & (1 << 2) != 0
    }
    pub(crate) fn is_rep(self) -> bool {
        self.0 & (1 << 3) != 0
    }
    /// Operand size in bytes (SZ8/SZ16/SZ32, bits 4..6); 0 if the CPU reported none.
    pub(crate) fn size(self) -> u32 {
        match (self.0 >> 4) & 7 {
            1 => 1,
            2 => 2,
            4 => 4,
            _ => 0,
        }
    }
    /// Address size in bytes (A16/A32/A64, bits 7..9), if the CPU reported one.
    pub(crate) fn addr_size(self) -> Option<u8> {
        match (self.0 >> 7) & 7 {
            1 => Some(2),
            2 => Some(4),
            4 => Some(8),
            _ => None,
        }
    }
    /// The effective segment of OUTS (SEG, bits 10..12; ES=0 .. GS=5), valid with decode
    /// assists only.
    pub(crate) fn segment(self) -> u8 {
        ((self.0 >> 10) & 7) as u8
    }
    pub(crate) fn port(self) -> u16 {
        (self.0 >> 16) as u16
    }
}

/// EXITINFO1 of a nested page fault (APM 15.25.6): the #PF error-code bits and bit 33.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NpfInfo(pub(crate) u64);

impl NpfInfo {
    pub(crate) fn is_write(self) -> bool {
        self.0 & (1 << 1) != 0
    }
    /// The fault happened while walking the guest's own page tables.
    pub(crate) fn in_guest_page_walk(self) -> bool {
        self.0 & (1 << 33) != 0
    }
}
