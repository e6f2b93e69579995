// SPDX-License-Identifier: GPL-2.0

//! A vCPU's state under its lock: the VMCB, the GPRs, what userspace must complete, the
//! events to inject, the in-kernel APIC; the reset state and the guest-mode helpers every
//! exit handler uses. Imports nothing from the other vCPU files.

use crate::{
    asid::VcpuAsid,
    cpuid,
    debugreg::GuestDebug,
    emulate::{CpuMode, MmioInsn},
    fpu::GuestFpu,
    gmem::{self, AccessKind, Paging, WalkError},
    hwpage::HwPages,
    lapic::Lapic,
    mtrr::Mtrrs,
    svm::{
        assist,
        event::{EventInj, Virq},
        vmcb::*,
    },
    uapi::kvm::KvmCpuidEntry2,
    vmmem::VmMem,
    vmshared::{VcpuShared, VmShared},
    x86::*,
};
use super::history::ExitHistory;
use core::sync::atomic::Ordering;
use kernel::{prelude::*, time::hrtimer::ArcHrTimerHandle};

/// Segment attribute bits: L (64-bit code) and D/B (32-bit default size).
const SEG_L: u16 = 1 << 9;
const SEG_DB: u16 = 1 << 10;
/// int_state bit 0: the guest is in an interrupt shadow (after STI or MOV SS).
const INT_SHADOW: u32 = 1;

/// I/O or MMIO that userspace must complete on the next `KVM_RUN`.
#[derive(Clone, Copy)]
pub(super) enum Pending {
    None,
    /// IN or OUT (possibly string); RIP advances when the VMM comes back (as KVM).
    Pio { rip: u64, next_rip: u64, size: u8, input: bool, string: Option<StrIo> },
    /// An MMIO load: the register is written when the VMM supplies the data.
    MmioRead { rip: u64, insn: MmioInsn },
}

/// The memory side of an INS/OUTS exit.
#[derive(Clone, Copy)]
pub(super) struct StrIo {
    pub(super) count: u32,
    pub(super) addr_size: u8,
    pub(super) rep: bool,
    pub(super) seg_base: u64,
}

pub(super) struct VcpuState {
    pub(super) vmcb: HwPages,
    /// GPRs in x86 order (RAX=0..R15=15). RAX and RSP mirror the VMCB around each entry.
    pub(super) gprs: [u64; 16],
    pub(super) asid: VcpuAsid,
    /// The CPU this VMCB last ran on (`None`: not since its reset), for its clean bits.
    pub(super) vmcb_cpu: Option<usize>,
    pub(super) cpuid: KVec<KvmCpuidEntry2>,
    pub(super) fpu: GuestFpu,
    /// DR0-3 and whether they are live (DR6 and DR7 are in the VMCB).
    pub(super) debug: GuestDebug,
    pub(super) pending: Pending,
    /// KVM_INTERRUPT vector waiting for an interrupt window.
    pub(super) irq: Option<u8>,
    /// An event for EVENTINJ at the next entry (an exception rsvm raises, or re-injection of
    /// one whose delivery a #VMEXIT interrupted): (EVENTINJ, error code).
    pub(super) event: Option<(EventInj, u32)>,
    /// EVENTINJ of the last entry (QEMU reports a faulting INTR delivery as an exception).
    pub(super) injected: EventInj,
    /// The external interrupt offered to the guest through V_IRQ at the last entry.
    pub(super) virq: Option<Virq>,
    /// RIP at that entry (for the HLT rule, see `intr_rip`).
    pub(super) virq_rip: u64,
    pub(super) sigmask: Option<u64>,
    /// IA32_APIC_BASE as KVM keeps it without an in-kernel APIC (the APIC's own otherwise).
    pub(super) apic_base: u64,
    /// The in-kernel local APIC (VMs with KVM_CAP_SPLIT_IRQCHIP).
    pub(super) lapic: Option<Lapic>,
    /// The armed APIC timer; dropping the handle cancels it (and waits for its callback).
    pub(super) timer: Option<ArcHrTimerHandle<VcpuShared>>,
    /// HLT with an in-kernel APIC: the vCPU sleeps until an interrupt can be taken.
    pub(super) halted: bool,
    /// RIP at which the guest last took an external interrupt, until a HLT there uses it
    /// (see the HLT exit).
    pub(super) intr_rip: Option<u64>,
    /// Wait-for-SIPI (KVM_MP_STATE_UNINITIALIZED / INIT_RECEIVED): an AP after creation or
    /// INIT sleeps until a SIPI says where to start.
    pub(super) wait_sipi: bool,
    /// Userspace changed the register state since the last entry: snapshot the save area
    /// first, so a state VMRUN refuses (KVM_EXIT_FAIL_ENTRY) is left exactly as userspace
    /// set it, as KVM leaves it (an emulated VMEXIT_INVALID may write the save area).
    pub(super) user_state: bool,
    /// The last exits, for the report of a shutdown (`history.rs`).
    pub(super) history: ExitHistory,
    /// IA32_TSC_ADJUST (`tsc.rs`).
    pub(super) tsc_adjust: u64,
    /// MSR_KVM_SYSTEM_TIME(_NEW): the pvclock page's GPA, bit 0 enable (`pvclock.rs`).
    pub(super) pvclock_msr: u64,
    /// The (clock generation, TSC offset) the page was last written for; `None` forces a
    /// write at the next entry.
    pub(super) pvclock_written: Option<(u64, u64)>,
    /// The MTRRs (kept, not applied: `mtrr.rs`).
    pub(super) mtrrs: Mtrrs,
    /// KVM_RUN has entered the guest: the CPUID is fixed from now on (`set_cpuid`).
    pub(super) ran: bool,
}

impl VcpuState {
    /// A vCPU `id` of `vm` in its reset state.
    pub(super) fn new(vm: &VmShared, id: u32) -> Result<Self> {
        let mut st = VcpuState {
            vmcb: HwPages::page()?,
            gprs: [0; 16],
            asid: VcpuAsid::default(),
            vmcb_cpu: None,
            cpuid: KVec::new(),
            fpu: GuestFpu::new()?,
            debug: GuestDebug::default(),
            pending: Pending::None,
            irq: None,
            event: None,
            injected: EventInj::NONE,
            virq: None,
            virq_rip: 0,
            sigmask: None,
            apic_base: 0,
            lapic: vm.split_irqchip.load(Ordering::SeqCst).then(|| Lapic::new(id, id == 0)),
            timer: None,
            halted: false,
            intr_rip: None,
            wait_sipi: false,
            user_state: true,
            history: ExitHistory::new(),
            tsc_adjust: 0,
            pvclock_msr: 0,
            pvclock_written: None,
            ran: false,
            mtrrs: Mtrrs::default(),
        };
        st.reset(vm, id, false);
        // With an in-kernel APIC, every vCPU but the BSP (id 0) starts waiting for a SIPI,
        // as KVM's (KVM_MP_STATE_UNINITIALIZED).
        st.wait_sipi = st.lapic.is_some() && id != 0;
        Ok(st)
    }

    pub(super) fn vmcb(&mut self) -> &mut Vmcb {
        // SAFETY: the page is exclusively ours (under the vCPU lock), 4 KiB, and `Vmcb` is a
        // 4 KiB POD. The CPU only uses it during VMRUN, which happens under this lock too.
        unsafe { &mut *self.vmcb.as_mut_ptr::<Vmcb>() }
    }

    /// The architectural reset state, as KVM's `kvm_vcpu_reset()` + `init_vmcb()` leave it.
    /// `init`: an INIT-like reset (after a shutdown), which keeps CR0.CD and CR0.NW.
    pub(super) fn reset(&mut self, vm: &VmShared, id: u32, init: bool) {
        let old_cr0 = self.vmcb().save.cr0;
        let old_tsc_offset = self.vmcb().control.tsc_offset;
        let rdx = self.cpuid.iter().find(|e| e.function == 1).map(|e| e.eax as u64).unwrap_or(0x600);
        self.gprs = [0; 16];
        self.gprs[2] = rdx;
        self.pending = Pending::None;
        self.irq = None;
        self.event = None;
        self.virq = None;
        self.fpu.reset();
        // DR0-3 are 0 after RESET and INIT; DR6/DR7 are set with the VMCB below, whose
        // fresh control area intercepts DR accesses again.
        self.debug = GuestDebug::default();
        self.apic_base = 0xfee0_0000 | (1 << 11) | if id == 0 { 1 << 8 } else { 0 };
        self.halted = false;
        self.timer = None;
        if let Some(l) = self.lapic.as_mut() {
            let (x2, dl) = (cpuid::has(&self.cpuid, 1, 2, 21), cpuid::has(&self.cpuid, 1, 2, 24));
            let base = l.base;
            *l = Lapic::new(id, id == 0);
            l.set_cpuid(x2, dl);
            if init {
                // INIT keeps IA32_APIC_BASE (SDM 11.4.7.3).
                l.base = base;
            }
        }
        let npt_root = vm.npt_root;
        let (iopm, msrpm) = (vm.iopm.phys(), vm.msrpm.phys());
        let v = self.vmcb();
        // SAFETY: all-zero is a valid `Vmcb`; the page is ours (see `vmcb()`).
        unsafe { core::ptr::write_bytes(v as *mut Vmcb, 0, 1) };
        v.init_control(iopm, msrpm, npt_root);
        // INIT leaves the TSC running (SDM vol. 3 table 10-1); RESET starts it at the VM's.
        v.control.tsc_offset = if init { old_tsc_offset } else { vm.tsc_offset };
        v.set_reset_segments(0xf000, 0xffff_0000);
        let s = &mut v.save;
        s.cr0 = CR0_ET | if init { old_cr0 & (CR0_CD | CR0_NW) } else { CR0_CD | CR0_NW };
        s.efer = EFER_SVME;
        s.rflags = RFLAGS_FIXED;
        s.rip = 0xfff0;
        // Written behind the setters: nothing the CPU may have cached of the old state is
        // valid (the zeroing above already cleared the clean field; this says why).
        v.mark_all_dirty();
        // A fresh VMCB needs a fresh ASID decision.
        self.asid = VcpuAsid::default();
        self.vmcb_cpu = None;
    }

    /// The MTRR MSRs, read (`write` None) or written, by the guest or the VMM alike: `None`
    /// if `msr` is not one, `Err` where the guest gets #GP.
    pub(super) fn mtrr_msr(&mut self, msr: u32, write: Option<u64>) -> Option<Result<u64, ()>> {
        match write {
            None => self.mtrrs.get(msr),
            Some(v) => {
                let maxphyaddr = cpuid::maxphyaddr(&self.cpuid);
                self.mtrrs.set(msr, v, maxphyaddr).map(|r| r.map(|()| 0))
            }
        }
    }

    pub(super) fn mode(&mut self) -> CpuMode {
        let s = &self.vmcb().save;
        if s.efer & EFER_LMA != 0 && s.cs.attrib & SEG_L != 0 {
            CpuMode::Bits64
        } else if s.cr0 & CR0_PE != 0 && s.cs.attrib & SEG_DB != 0 {
            CpuMode::Bits32
        } else {
            CpuMode::Bits16
        }
    }

    pub(super) fn paging(&mut self) -> Paging {
        let s = &self.vmcb().save;
        Paging { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer }
    }

    pub(super) fn rip(&mut self) -> u64 {
        self.vmcb().save.rip
    }

    pub(super) fn set_rip(&mut self, rip: u64) {
        let v = self.vmcb();
        v.save.rip = rip;
        // Completing an instruction ends an interrupt shadow (STI/MOV SS) it was in.
        v.control.int_state &= !INT_SHADOW;
    }

    /// Raises exception `vector` (with error code `err` if it has one) at the next entry.
    pub(super) fn queue_exception(&mut self, vector: u8, err: Option<u32>) {
        self.event = Some((EventInj::exception(vector, err.is_some()), err.unwrap_or(0)));
    }

    pub(super) fn page_fault(&mut self, la: u64, code: u32) {
        self.vmcb().set_cr2(la);
        self.queue_exception(PF_VECTOR, Some(code));
    }

    pub(super) fn apic_base(&self) -> u64 {
        self.lapic.as_ref().map(|l| l.base).unwrap_or(self.apic_base)
    }

    pub(super) fn interrupt_allowed(&mut self) -> bool {
        let v = self.vmcb();
        v.save.rflags & RFLAGS_IF != 0 && v.control.int_state & INT_SHADOW == 0
    }

    /// KVM's `kvm_vcpu_ready_for_interrupt_injection()` for a userspace irqchip.
    pub(super) fn ready_for_injection(&mut self) -> bool {
        self.irq.is_none() && self.event.is_none() && self.virq.is_none() && self.interrupt_allowed()
    }

    /// Fetches up to 15 instruction bytes at CS:RIP (decode-assist bytes when the CPU gave
    /// them for this exit and `use_assist`).
    pub(super) fn fetch(&mut self, mem: &mut VmMem, use_assist: bool) -> Result<([u8; 15], usize), WalkError> {
        let v = self.vmcb();
        if let Some(r) = assist::assist_bytes(use_assist, v.control.insn_len, &v.control.insn_bytes) {
            return Ok(r);
        }
        let mut b = [0u8; 15];
        let mode = self.mode();
        let v = self.vmcb();
        let mut la = v.save.cs.base.wrapping_add(v.save.rip);
        if mode != CpuMode::Bits64 {
            la &= 0xffff_ffff;
        }
        let user = v.save.cpl == 3;
        let pg = self.paging();
        let acc = AccessKind { write: false, user, fetch: true };
        // Read what is there up to 15 bytes: the first page must work, a second may not.
        let first = (4096 - (la & 0xfff) as usize).min(15);
        gmem::read_virt(mem, pg, la, &mut b[..first], acc)?;
        let mut len = first;
        if first < 15 && gmem::read_virt(mem, pg, la.wrapping_add(first as u64), &mut b[first..], acc).is_ok() {
            len = 15;
        }
        Ok((b, len))
    }
}
