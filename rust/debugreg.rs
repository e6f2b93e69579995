// SPDX-License-Identifier: GPL-2.0

//! The guest's debug registers, kept apart from the host's (AMD64 APM vol. 2, 13.1 and
//! 15.12.x), with KVM's lazy scheme (`dr_interception()`, `svm_sync_dirty_debug_regs()` in
//! arch/x86/kvm/svm/svm.c and the DR handling of `vcpu_enter_guest()` in x86.c):
//!
//! - DR6 and DR7 live in the VMCB save area: VMRUN loads them, #VMEXIT saves them.
//! - DR0-3 are not in the VMCB. Every `MOV DRn` is intercepted; the first one drops the
//!   intercepts and marks the guest's registers live (`GuestDebug::live`), and the guest
//!   re-executes the instruction on its own registers. From then until the next exit the
//!   guest's DR0-3 are in the hardware; after that exit they are read back and the
//!   intercepts come back, so the switch costs nothing while the guest leaves the registers
//!   alone. The guest's DR0-3 are also loaded while its DR7 enables a breakpoint.
//! - #VMEXIT leaves the host's DR7 with every breakpoint disabled (APM 15.7.2); when the
//!   host has breakpoints (perf, ptrace), they are restored after every exit, as KVM's
//!   `hw_breakpoint_restore()`. Otherwise the guest's DR0-3 stay behind the host's DR7,
//!   which enables none of them (as KVM).
//!
//! Everything here runs between CLGI and STGI: no interrupt or NMI sees a half-switched set
//! and none can install a host breakpoint in the middle.

use crate::ffi;
use core::arch::asm;

/// DR7 with no breakpoint enabled (bit 10 reads as 1).
pub(crate) const DR7_FIXED_1: u64 = 0x400;
/// DR7's local and global enable bits of DR0-3 (L0, G0 .. L3, G3).
const DR7_BP_EN_MASK: u64 = 0xff;
/// The global enable bits, the only ones Linux uses (`DR_GLOBAL_ENABLE_MASK`).
const DR7_GLOBAL_ENABLE_MASK: u64 = 0xaa;
/// DR6 with no condition recorded (`DR6_RESERVED`).
pub(crate) const DR6_RESERVED: u64 = 0xffff_0ff0;

macro_rules! dr_rw {
    ($get:ident, $set:ident, $r:literal) => {
        fn $get() -> u64 {
            let v: u64;
            // SAFETY: MOV from a debug register at CPL 0 has no side effects.
            unsafe { asm!(concat!("mov {}, ", $r), out(reg) v, options(nomem, nostack, preserves_flags)) };
            v
        }
        /// # Safety
        ///
        /// GIF=0 (no interrupt or NMI may observe a breakpoint set up half way), and the
        /// caller restores the host's value before STGI.
        unsafe fn $set(v: u64) {
            // SAFETY: the caller guarantees the conditions above.
            unsafe { asm!(concat!("mov ", $r, ", {}"), in(reg) v, options(nomem, nostack, preserves_flags)) };
        }
    };
}

dr_rw!(get_dr0, set_dr0, "dr0");
dr_rw!(get_dr1, set_dr1, "dr1");
dr_rw!(get_dr2, set_dr2, "dr2");
dr_rw!(get_dr3, set_dr3, "dr3");
dr_rw!(_get_dr6, set_dr6, "dr6");
dr_rw!(_get_dr7, set_dr7, "dr7");

fn get_db() -> [u64; 4] {
    [get_dr0(), get_dr1(), get_dr2(), get_dr3()]
}

/// # Safety
///
/// As `set_dr0`.
unsafe fn set_db(db: &[u64; 4]) {
    // SAFETY: the caller's guarantees are ours.
    unsafe {
        set_dr0(db[0]);
        set_dr1(db[1]);
        set_dr2(db[2]);
        set_dr3(db[3]);
    }
}

/// One vCPU's DR0-3 and whether they are live in the hardware during the next run.
#[derive(Default)]
pub(crate) struct GuestDebug {
    /// DR0-3 as the guest last left them (0 after reset, as KVM's `kvm_vcpu_reset()`).
    pub(crate) db: [u64; 4],
    /// The guest accessed a debug register: DR accesses are not intercepted and DR0-3 are
    /// loaded for the next run (KVM's `KVM_DEBUGREG_WONT_EXIT`).
    pub(crate) live: bool,
}

/// What `GuestDebug::enter` changed in the host's registers, for `GuestDebug::exit`.
pub(crate) struct HostDebug {
    /// The host's DR0-3 and DR7 if it has breakpoints enabled on this CPU.
    host: Option<([u64; 4], u64)>,
}

impl GuestDebug {
    /// Just before VMRUN (GIF=0): loads the guest's DR0-3 if it uses them (live, or its DR7
    /// enables a breakpoint); the host's breakpoints are disabled first, so they cannot fire
    /// on the guest's addresses (as `vcpu_enter_guest()`).
    ///
    /// # Safety
    ///
    /// GIF=0, and `exit` is called after the VMRUN, before STGI.
    pub(crate) unsafe fn enter(&self, guest_dr7: u64) -> HostDebug {
        let host_dr7 = ffi::host_dr7();
        let host = (host_dr7 & DR7_GLOBAL_ENABLE_MASK != 0).then(|| (get_db(), host_dr7));
        let loaded = self.live || guest_dr7 & DR7_BP_EN_MASK != 0;
        if host.is_some() || loaded {
            // SAFETY: GIF=0 (the caller); `exit` puts the host's DR7 back.
            unsafe { set_dr7(DR7_FIXED_1) };
        }
        if loaded {
            // SAFETY: as above; `exit` restores the host's DR0-3 if it has breakpoints (else the
            // host's DR7 enables none of them).
            unsafe { set_db(&self.db) };
        }
        HostDebug { host }
    }

    /// Right after #VMEXIT (GIF=0): reads back the guest's DR0-3 if they were live (DR6 and
    /// DR7 are in the VMCB) and says whether the DR intercepts must come back (`true`), as
    /// `svm_sync_dirty_debug_regs()`; then the host's breakpoints are restored, as
    /// `hw_breakpoint_restore()`.
    ///
    /// # Safety
    ///
    /// GIF=0, after the VMRUN that followed `enter` (which returned `h`).
    pub(crate) unsafe fn exit(&mut self, h: HostDebug) -> bool {
        let was_live = core::mem::take(&mut self.live);
        if was_live {
            self.db = get_db();
        }
        // SAFETY: GIF=0 (the caller); these are the host's own values or zeros.
        unsafe {
            // Without host breakpoints the guest's addresses stay in DR0-3 behind a DR7 that
            // enables nothing, as KVM leaves them ("we don't care about the messed up debug
            // address registers", vcpu_enter_guest()). Not clearing them also keeps rsvm off
            // QEMU 7.2's DR write path, whose watchpoint list VMRUN and #VMEXIT do not update
            // (fixed in QEMU 9.1): every needless DR write there risks a crash of the emulator.
            if let Some((db, dr7)) = h.host {
                set_db(&db);
                set_dr6(DR6_RESERVED);
                set_dr7(dr7);
            }
        }
        was_live
    }
}
