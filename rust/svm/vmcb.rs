// SPDX-License-Identifier: GPL-2.0

//! The VMCB: control area (AMD64 APM vol. 2, appendix B, table B-1) and state save area
//! (table B-2). `#[repr(C)]`: every field is naturally aligned, so the layout is the manual's
//! without `packed`; every offset is asserted below. Reserved gaps are named by their offset.

use super::{
    clean::{self, Field},
    event::{EventInj, IntCtl},
    exit::ExitCode,
};
use core::mem::{offset_of, size_of};
use kernel::static_assert;

/// One segment register in the save area (APM B-2: selector, attrib, limit, base).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct VmcbSeg {
    pub(crate) selector: u16,
    /// Packed attributes: type[3:0], S[4], DPL[6:5], P[7], AVL[8], L[9], D/B[10], G[11].
    pub(crate) attrib: u16,
    pub(crate) limit: u32,
    pub(crate) base: u64,
}

impl VmcbSeg {
    pub(crate) const fn new(selector: u16, attrib: u16, limit: u32, base: u64) -> Self {
        Self { selector, attrib, limit, base }
    }
}

/// Intercept vectors of the control area, as word * 32 + bit: word 0 is the CR
/// read/write vector (byte offset 0x00, writes in bits 31:16), word 1 the DR vector (0x04,
/// see `DR_INTERCEPTS`), word 2 the exception vector (0x08), word 3 is 0x0C, word 4 is 0x10
/// (APM table B-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Intercept {
    /// MOV to CR4.
    Cr4Write = 16 + 4,
    /// MOV to CR8.
    Cr8Write = 16 + 8,
    /// #DB (exception vector 1).
    ExceptionDb = 2 * 32 + 1,
    /// #AC (exception vector 17).
    ExceptionAc = 2 * 32 + 17,
    /// #MC (exception vector 18).
    ExceptionMc = 2 * 32 + 18,
    Intr = 3 * 32,
    Nmi = 3 * 32 + 1,
    Smi = 3 * 32 + 2,
    Init = 3 * 32 + 3,
    Vintr = 3 * 32 + 4,
    Rdpmc = 3 * 32 + 15,
    Cpuid = 3 * 32 + 18,
    Invd = 3 * 32 + 22,
    Hlt = 3 * 32 + 24,
    Invlpga = 3 * 32 + 26,
    IoioProt = 3 * 32 + 27,
    MsrProt = 3 * 32 + 28,
    Shutdown = 3 * 32 + 31,
    Vmrun = 4 * 32,
    Vmmcall = 4 * 32 + 1,
    Vmload = 4 * 32 + 2,
    Vmsave = 4 * 32 + 3,
    Stgi = 4 * 32 + 4,
    Clgi = 4 * 32 + 5,
    Skinit = 4 * 32 + 6,
    Rdtscp = 4 * 32 + 7,
    /// WBINVD and WBNOINVD.
    Wbinvd = 4 * 32 + 9,
    Monitor = 4 * 32 + 10,
    /// MWAIT, unconditionally.
    Mwait = 4 * 32 + 11,
    Xsetbv = 4 * 32 + 13,
    Rdpru = 4 * 32 + 14,
}

/// VMCB control area, 1024 bytes at offset 0 (APM table B-1).
#[repr(C)]
pub(crate) struct VmcbControl {
    /// 0x000: CR, DR, exception, and the three general intercept vectors.
    pub(crate) intercepts: [u32; 6],
    reserved_0x018: [u32; 9],
    /// 0x03C
    pub(crate) pause_filter_thresh: u16,
    /// 0x03E
    pub(crate) pause_filter_count: u16,
    /// 0x040: physical base of the 12 KiB I/O permission map.
    pub(crate) iopm_base_pa: u64,
    /// 0x048: physical base of the 8 KiB MSR permission map.
    pub(crate) msrpm_base_pa: u64,
    /// 0x050
    pub(crate) tsc_offset: u64,
    /// 0x058: guest ASID; 0 is the host's and makes VMRUN fail.
    pub(crate) asid: u32,
    /// 0x05C: TLB_CONTROL.
    pub(crate) tlb_ctl: u8,
    reserved_0x05d: [u8; 3],
    /// 0x060: V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_GIF...
    pub(crate) int_ctl: IntCtl,
    /// 0x064
    pub(crate) int_vector: u32,
    /// 0x068: interrupt shadow.
    pub(crate) int_state: u32,
    reserved_0x06c: u32,
    /// 0x070: EXITCODE (64 bits; VMEXIT_INVALID is -1).
    pub(crate) exit_code: u64,
    /// 0x078: EXITINFO1.
    pub(crate) exit_info_1: u64,
    /// 0x080: EXITINFO2.
    pub(crate) exit_info_2: u64,
    /// 0x088: EXITINTINFO.
    pub(crate) exit_int_info: EventInj,
    /// 0x08C
    pub(crate) exit_int_info_err: u32,
    /// 0x090: NP_ENABLE (bit 0) and friends.
    pub(crate) nested_ctl: u64,
    /// 0x098
    pub(crate) avic_vapic_bar: u64,
    /// 0x0A0
    pub(crate) ghcb_gpa: u64,
    /// 0x0A8: EVENTINJ.
    pub(crate) event_inj: EventInj,
    /// 0x0AC
    pub(crate) event_inj_err: u32,
    /// 0x0B0: N_CR3, the nested page table root.
    pub(crate) nested_cr3: u64,
    /// 0x0B8: LBR virtualization, VMSAVE/VMLOAD virtualization.
    pub(crate) virt_ext: u64,
    /// 0x0C0: VMCB clean bits.
    pub(crate) clean: u32,
    reserved_0x0c4: u32,
    /// 0x0C8: next sequential RIP (NRIP save).
    pub(crate) next_rip: u64,
    /// 0x0D0: number of bytes fetched (decode assists).
    pub(crate) insn_len: u8,
    /// 0x0D1
    pub(crate) insn_bytes: [u8; 15],
    /// 0x0E0
    pub(crate) avic_backing_page: u64,
    reserved_0x0e8: u64,
    /// 0x0F0
    pub(crate) avic_logical_id: u64,
    /// 0x0F8
    pub(crate) avic_physical_id: u64,
    reserved_0x100: u64,
    /// 0x108
    pub(crate) vmsa_pa: u64,
    reserved_0x110: [u8; 0x3e0 - 0x110],
    /// 0x3E0: reserved for software.
    reserved_sw: [u8; 32],
}

/// VMCB state save area, at offset 0x400 (APM table B-2).
#[repr(C)]
pub(crate) struct VmcbSave {
    pub(crate) es: VmcbSeg,
    pub(crate) cs: VmcbSeg,
    pub(crate) ss: VmcbSeg,
    pub(crate) ds: VmcbSeg,
    pub(crate) fs: VmcbSeg,
    pub(crate) gs: VmcbSeg,
    pub(crate) gdtr: VmcbSeg,
    pub(crate) ldtr: VmcbSeg,
    pub(crate) idtr: VmcbSeg,
    pub(crate) tr: VmcbSeg,
    reserved_0x0a0: [u8; 42],
    pub(crate) vmpl: u8,
    /// 0x0CB
    pub(crate) cpl: u8,
    reserved_0x0cc: u32,
    /// 0x0D0
    pub(crate) efer: u64,
    reserved_0x0d8: [u8; 112],
    /// 0x148
    pub(crate) cr4: u64,
    pub(crate) cr3: u64,
    pub(crate) cr0: u64,
    pub(crate) dr7: u64,
    pub(crate) dr6: u64,
    pub(crate) rflags: u64,
    /// 0x178
    pub(crate) rip: u64,
    reserved_0x180: [u8; 88],
    /// 0x1D8
    pub(crate) rsp: u64,
    pub(crate) s_cet: u64,
    pub(crate) ssp: u64,
    pub(crate) isst_addr: u64,
    /// 0x1F8
    pub(crate) rax: u64,
    pub(crate) star: u64,
    pub(crate) lstar: u64,
    pub(crate) cstar: u64,
    pub(crate) sfmask: u64,
    pub(crate) kernel_gs_base: u64,
    pub(crate) sysenter_cs: u64,
    pub(crate) sysenter_esp: u64,
    pub(crate) sysenter_eip: u64,
    /// 0x240
    pub(crate) cr2: u64,
    reserved_0x248: [u8; 32],
    /// 0x268
    pub(crate) g_pat: u64,
    pub(crate) dbgctl: u64,
    pub(crate) br_from: u64,
    pub(crate) br_to: u64,
    pub(crate) last_excp_from: u64,
    pub(crate) last_excp_to: u64,
    reserved_0x298: [u8; 72],
    /// 0x2E0
    pub(crate) spec_ctrl: u64,
}

/// A whole VMCB: one 4 KiB page, 4 KiB aligned (APM 15.5.1).
#[repr(C, align(4096))]
pub(crate) struct Vmcb {
    pub(crate) control: VmcbControl,
    pub(crate) save: VmcbSave,
    reserved_0x6e8: [u8; 4096 - 0x6e8],
}

// APM vol. 2, appendix B: sizes and the offsets of every field.
static_assert!(size_of::<VmcbSeg>() == 16);
static_assert!(size_of::<VmcbControl>() == 1024);
static_assert!(size_of::<VmcbSave>() == 744);
static_assert!(size_of::<Vmcb>() == 4096);
static_assert!(offset_of!(Vmcb, save) == 0x400);
static_assert!(offset_of!(VmcbControl, pause_filter_thresh) == 0x03c);
static_assert!(offset_of!(VmcbControl, iopm_base_pa) == 0x040);
static_assert!(offset_of!(VmcbControl, msrpm_base_pa) == 0x048);
static_assert!(offset_of!(VmcbControl, tsc_offset) == 0x050);
static_assert!(offset_of!(VmcbControl, asid) == 0x058);
static_assert!(offset_of!(VmcbControl, tlb_ctl) == 0x05c);
static_assert!(offset_of!(VmcbControl, int_ctl) == 0x060);
static_assert!(offset_of!(VmcbControl, int_vector) == 0x064);
static_assert!(offset_of!(VmcbControl, int_state) == 0x068);
static_assert!(offset_of!(VmcbControl, exit_code) == 0x070);
static_assert!(offset_of!(VmcbControl, exit_info_1) == 0x078);
static_assert!(offset_of!(VmcbControl, exit_info_2) == 0x080);
static_assert!(offset_of!(VmcbControl, exit_int_info) == 0x088);
static_assert!(offset_of!(VmcbControl, exit_int_info_err) == 0x08c);
static_assert!(offset_of!(VmcbControl, nested_ctl) == 0x090);
static_assert!(offset_of!(VmcbControl, avic_vapic_bar) == 0x098);
static_assert!(offset_of!(VmcbControl, ghcb_gpa) == 0x0a0);
static_assert!(offset_of!(VmcbControl, event_inj) == 0x0a8);
static_assert!(offset_of!(VmcbControl, event_inj_err) == 0x0ac);
static_assert!(offset_of!(VmcbControl, nested_cr3) == 0x0b0);
static_assert!(offset_of!(VmcbControl, virt_ext) == 0x0b8);
static_assert!(offset_of!(VmcbControl, clean) == 0x0c0);
static_assert!(offset_of!(VmcbControl, next_rip) == 0x0c8);
static_assert!(offset_of!(VmcbControl, insn_len) == 0x0d0);
static_assert!(offset_of!(VmcbControl, insn_bytes) == 0x0d1);
static_assert!(offset_of!(VmcbControl, avic_backing_page) == 0x0e0);
static_assert!(offset_of!(VmcbControl, avic_logical_id) == 0x0f0);
static_assert!(offset_of!(VmcbControl, avic_physical_id) == 0x0f8);
static_assert!(offset_of!(VmcbControl, vmsa_pa) == 0x108);
static_assert!(offset_of!(VmcbControl, reserved_sw) == 0x3e0);
static_assert!(offset_of!(VmcbSave, cs) == 0x010);
static_assert!(offset_of!(VmcbSave, gdtr) == 0x060);
static_assert!(offset_of!(VmcbSave, tr) == 0x090);
static_assert!(offset_of!(VmcbSave, reserved_0x0a0) == 0x0a0);
static_assert!(offset_of!(VmcbSave, cpl) == 0x0cb);
static_assert!(offset_of!(VmcbSave, reserved_0x0cc) == 0x0cc);
static_assert!(offset_of!(VmcbSave, efer) == 0x0d0);
static_assert!(offset_of!(VmcbSave, reserved_0x0d8) == 0x0d8);
static_assert!(offset_of!(VmcbSave, cr4) == 0x148);
static_assert!(offset_of!(VmcbSave, cr3) == 0x150);
static_assert!(offset_of!(VmcbSave, cr0) == 0x158);
static_assert!(offset_of!(VmcbSave, dr7) == 0x160);
static_assert!(offset_of!(VmcbSave, dr6) == 0x168);
static_assert!(offset_of!(VmcbSave, rflags) == 0x170);
static_assert!(offset_of!(VmcbSave, rip) == 0x178);
static_assert!(offset_of!(VmcbSave, reserved_0x180) == 0x180);
static_assert!(offset_of!(VmcbSave, rsp) == 0x1d8);
static_assert!(offset_of!(VmcbSave, s_cet) == 0x1e0);
static_assert!(offset_of!(VmcbSave, rax) == 0x1f8);
static_assert!(offset_of!(VmcbSave, star) == 0x200);
static_assert!(offset_of!(VmcbSave, kernel_gs_base) == 0x220);
static_assert!(offset_of!(VmcbSave, sysenter_eip) == 0x238);
static_assert!(offset_of!(VmcbSave, cr2) == 0x240);
static_assert!(offset_of!(VmcbSave, reserved_0x248) == 0x248);
static_assert!(offset_of!(VmcbSave, g_pat) == 0x268);
static_assert!(offset_of!(VmcbSave, dbgctl) == 0x270);
static_assert!(offset_of!(VmcbSave, last_excp_to) == 0x290);
static_assert!(offset_of!(VmcbSave, reserved_0x298) == 0x298);
static_assert!(offset_of!(VmcbSave, spec_ctrl) == 0x2e0);

/// TLB_CONTROL values (APM table B-1, offset 0x5C).
pub(crate) const TLB_CONTROL_DO_NOTHING: u8 = 0;
pub(crate) const TLB_CONTROL_FLUSH_ALL: u8 = 1;
pub(crate) const TLB_CONTROL_FLUSH_ASID: u8 = 3;

/// nested_ctl bit 0: NP_ENABLE.
pub(crate) const NP_ENABLE: u64 = 1;

/// Word 1 of the intercept vectors: reads (bits 7:0) and writes (bits 23:16) of DR0-7, as
/// KVM's `set_dr_intercepts()`.
const DR_INTERCEPTS: u32 = 0x00ff_00ff;

/// Instructions and events every rsvm guest (VMs and the self-test alike) is intercepted on.
/// #DB and #AC always, as KVM's `init_vmcb()`: a guest that makes their delivery raise the
/// same exception again (a data breakpoint on its IDT or stack, an unaligned stack with
/// alignment checking) would otherwise keep the CPU in microcode forever, deaf to
/// interrupts (CVE-2015-8104, CVE-2015-5307); intercepted, each attempt is an exit.
/// CR4 writes always, as KVM's `init_vmcb()`: the CPU checks a guest's CR4 against its own
/// features, not against the guest's CPUID (vcpu/cr.rs).
/// #MC, so that a machine check in guest mode reaches the host's handler (KVM's
/// `svm_handle_mce()`). The instructions that reach host state KVM's `init_vmcb()` keeps
/// from a guest: RDPMC (the host's counters; rsvm offers no PMU: #GP), RDTSCP (the
/// TSC_AUX; not offered: #UD), RDPRU (the host's APERF/MPERF: #UD), WBINVD and INVD (a
/// flush of every cache of the host, and one that drops its dirty lines: both NOPs, as KVM
/// without non-coherent DMA), MONITOR and MWAIT (the host CPU's sleep states: NOPs, as KVM
/// by default).
const BASE_INTERCEPTS: [Intercept; 29] = [
    Intercept::Cr4Write,
    Intercept::ExceptionDb,
    Intercept::ExceptionAc,
    Intercept::ExceptionMc,
    Intercept::Rdpmc,
    Intercept::Rdtscp,
    Intercept::Rdpru,
    Intercept::Wbinvd,
    Intercept::Monitor,
    Intercept::Mwait,
    Intercept::Intr,
    Intercept::Nmi,
    Intercept::Smi,
    Intercept::Init,
    Intercept::Cpuid,
    Intercept::Invd,
    Intercept::Hlt,
    Intercept::Invlpga,
    Intercept::IoioProt,
    Intercept::MsrProt,
    Intercept::Shutdown,
    Intercept::Vmrun,
    Intercept::Vmmcall,
    Intercept::Vmload,
    Intercept::Vmsave,
    Intercept::Stgi,
    Intercept::Clgi,
    Intercept::Skinit,
    Intercept::Xsetbv,
];

/// Exception vector of #AC: intercepted (`Intercept::ExceptionAc`) and reflected, so that a
/// guest cannot keep the CPU in endless #AC delivery without the host getting it back
/// (CVE-2015-5307).
pub(crate) const AC_VECTOR: u8 = 17;
/// Exception vector of #DB: intercepted and reflected likewise (CVE-2015-8104).
pub(crate) const DB_VECTOR: u8 = 1;

impl Vmcb {
    /// The control area every rsvm guest starts from: permission maps, nested paging on
    /// `npt_root`, V_INTR_MASKING, and the base intercepts.
    pub(crate) fn init_control(&mut self, iopm_pa: u64, msrpm_pa: u64, npt_root: u64) {
        let c = &mut self.control;
        c.iopm_base_pa = iopm_pa;
        c.msrpm_base_pa = msrpm_pa;
        c.int_ctl.set_v_intr_masking();
        c.nested_ctl = NP_ENABLE;
        c.nested_cr3 = npt_root;
        for i in BASE_INTERCEPTS {
            self.set_intercept(i);
        }
        self.set_dr_intercepts(true);
    }

    /// Intercepts every MOV to or from DR0-7 (`true`), or none (the guest's debug registers
    /// are loaded: debugreg.rs).
    pub(crate) fn set_dr_intercepts(&mut self, on: bool) {
        let new = if on { DR_INTERCEPTS } else { 0 };
        if self.control.intercepts[1] != new {
            self.control.intercepts[1] = new;
            self.mark_dirty(Field::Intercepts);
        }
    }

    /// The segment state of RESET/INIT (APM 14.1.3, as KVM's `init_vmcb()`): real mode,
    /// 64 KiB segments, CS at `cs_selector`:`cs_base`.
    pub(crate) fn set_reset_segments(&mut self, cs_selector: u16, cs_base: u64) {
        let s = &mut self.save;
        let data = VmcbSeg::new(0, 0x92, 0xffff, 0);
        s.es = data;
        s.ss = data;
        s.ds = data;
        s.fs = data;
        s.gs = data;
        s.cs = VmcbSeg::new(cs_selector, 0x9a, 0xffff, cs_base);
        s.gdtr = VmcbSeg::new(0, 0, 0xffff, 0);
        s.idtr = VmcbSeg::new(0, 0, 0xffff, 0);
        s.ldtr = VmcbSeg::new(0, 0x82, 0xffff, 0);
        s.tr = VmcbSeg::new(0, 0x83, 0xffff, 0);
        s.dr6 = 0xffff_0ff0;
        s.dr7 = 0x400;
        s.g_pat = 0x0007_0406_0007_0406;
    }

    /// Turns intercept `i` on.
    pub(crate) fn set_intercept(&mut self, i: Intercept) {
        self.update_intercept(i, true);
    }

    /// Turns intercept `i` off.
    pub(crate) fn clear_intercept(&mut self, i: Intercept) {
        self.update_intercept(i, false);
    }

    /// Sets or clears intercept `i`; the intercept group is dirty only if the bit changed,
    /// so that re-asserting the same intercepts before every VMRUN keeps it cached.
    fn update_intercept(&mut self, i: Intercept, on: bool) {
        let bit = i as u32;
        // The enum's values are all below 6 * 32; `get_mut` keeps this panic-free anyway.
        let Some(w) = self.control.intercepts.get_mut((bit / 32) as usize) else { return };
        let new = if on { *w | 1 << (bit % 32) } else { *w & !(1 << (bit % 32)) };
        if new != *w {
            *w = new;
            self.mark_dirty(Field::Intercepts);
        }
    }

    /// The exit code, with QEMU's zero-extended VMEXIT_INVALID (0x0000_0000_FFFF_FFFF)
    /// sign-extended back to the architectural -1.
    pub(crate) fn exit_code(&self) -> ExitCode {
        let c = self.control.exit_code;
        ExitCode(if c as u32 == u32::MAX { u64::MAX } else { c })
    }

    // ---- VMCB clean bits (svm/clean.rs) ------------------------------------------------
    //
    // The fields of a clean-bit group are written through the setters below, which clear
    // the group's bit. RIP, RSP, RAX, RFLAGS, EVENTINJ, TLB_CONTROL, the interrupt shadow
    // and the VMLOAD/VMSAVE state (FS, GS, TR, LDTR, the syscall MSRs) are read by every
    // VMRUN or VMLOAD and may be written directly.

    fn mark_dirty(&mut self, f: Field) {
        self.control.clean = clean::mark_dirty(self.control.clean, f);
    }

    /// Everything reloaded at the next VMRUN (after writes that bypass the setters).
    pub(crate) fn mark_all_dirty(&mut self) {
        self.control.clean = 0;
    }

    /// After a #VMEXIT that was not VMEXIT_INVALID: the CPU's cached copy is current.
    pub(crate) fn mark_clean_after_exit(&mut self, has_clean_bits: bool) {
        self.control.clean = clean::after_exit(has_clean_bits);
    }

    /// Just before VMRUN: all dirty unless the CPU can still hold this VMCB's state.
    pub(crate) fn prepare_clean(&mut self, has_clean_bits: bool, cached_here: bool) {
        self.control.clean = clean::before_run(self.control.clean, has_clean_bits, cached_here);
    }

    pub(crate) fn set_tsc_offset(&mut self, v: u64) {
        self.control.tsc_offset = v;
        self.mark_dirty(Field::TscOffset);
    }

    /// The ASID group is dirty only if the ASID changed (as Linux's `pre_svm_run()`).
    pub(crate) fn set_asid(&mut self, asid: u32) {
        if self.control.asid != asid {
            self.control.asid = asid;
            self.mark_dirty(Field::Asid);
        }
    }

    /// The guest's DR6 and DR7 (KVM_SET_DEBUGREGS).
    pub(crate) fn set_dr6_dr7(&mut self, dr6: u64, dr7: u64) {
        self.save.dr6 = dr6;
        self.save.dr7 = dr7;
        self.mark_dirty(Field::Dr);
    }

    /// V_TPR (the guest's CR8).
    pub(crate) fn set_v_tpr(&mut self, cr8: u32) {
        self.control.int_ctl.set_v_tpr(cr8);
        self.mark_dirty(Field::IntCtl);
    }

    /// Opens an interrupt window: a virtual interrupt (vector 0, priority 0xF, TPR ignored)
    /// and the VINTR intercept, which fires when the guest can take it (APM 15.21.4).
    pub(crate) fn request_vintr_window(&mut self) {
        self.control.int_vector = 0;
        self.control.int_ctl.request_window();
        self.mark_dirty(Field::IntCtl);
        self.set_intercept(Intercept::Vintr);
    }

    /// Hands external interrupt `vector` to the CPU as the virtual interrupt: the guest
    /// takes it through its IDT as soon as RFLAGS.IF and the interrupt shadow allow (APM
    /// 15.21.4), without an exit. TPR is ignored (the APIC model already applied it when it
    /// chose the vector, as for EVENTINJ). VINTR must not be intercepted for this.
    pub(crate) fn raise_virtual_interrupt(&mut self, vector: u8) {
        self.control.int_vector = vector as u32;
        self.control.int_ctl.request_window();
        self.mark_dirty(Field::IntCtl);
        self.clear_intercept(Intercept::Vintr);
    }

    /// Closes the interrupt window `request_vintr_window` opened.
    pub(crate) fn clear_vintr_window(&mut self) {
        self.control.int_ctl.clear_window();
        self.mark_dirty(Field::IntCtl);
        self.clear_intercept(Intercept::Vintr);
    }

    pub(crate) fn set_efer(&mut self, v: u64) {
        self.save.efer = v;
        self.mark_dirty(Field::Efer);
    }

    pub(crate) fn set_g_pat(&mut self, v: u64) {
        self.save.g_pat = v;
        self.mark_dirty(Field::GPat);
    }

    pub(crate) fn set_cr4(&mut self, v: u64) {
        self.save.cr4 = v;
        self.mark_dirty(Field::Cr4);
    }

    pub(crate) fn set_cr2(&mut self, v: u64) {
        self.save.cr2 = v;
        self.mark_dirty(Field::Cr2);
    }

    /// CS's selector and base (as a SIPI sets them).
    pub(crate) fn set_cs_selector_base(&mut self, selector: u16, base: u64) {
        self.save.cs.selector = selector;
        self.save.cs.base = base;
        self.mark_dirty(Field::Seg);
    }
}
