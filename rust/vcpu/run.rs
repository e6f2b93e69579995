// SPDX-License-Identifier: GPL-2.0

//! `KVM_RUN`: the run loop, the events injected at each entry (EVENTINJ, the interrupt
//! window, V_TPR and the CR8 intercept), the world switch with its ASID, TLB and VMCB
//! clean-bit decisions, re-injection after an exit (EXITINTINFO), and the completion of
//! the I/O or MMIO userspace handled.

use super::{
    state::{Pending, VcpuState},
    Action, RunPage, Vcpu,
};
use crate::{
    cpu,
    ffi::{self, NoPreempt},
    fpu::{self, FpuGuard},
    svm::{
        clean,
        event::{EventInj, EventType},
        exit::{ExitCode, Stat},
        ops,
        vmcb::*,
    },
    uapi::kvm::*,
    x86::RFLAGS_IF,
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

impl Vcpu {
    /// `KVM_RUN`: complete what userspace handled, then run until an exit needs it.
    pub(super) fn run(&self) -> Result<isize> {
        let run = self.run_page();
        let mut st = self.state.lock();
        self.complete_pending(&mut st, run)?;
        if run.immediate_exit() {
            run.set_reason(KVM_EXIT_INTR);
            return Err(EINTR);
        }
        let sigmask = st.sigmask.map(ffi::SigmaskGuard::activate);
        let r = self.run_loop(&mut st, run);
        // The task's own mask back before the run page is updated, as before.
        drop(sigmask);
        let if_flag = st.vmcb().save.rflags & RFLAGS_IF != 0;
        let ready = st.ready_for_injection();
        let cr8 = st.vmcb().control.int_ctl.v_tpr() as u64;
        let apic_base = st.apic_base();
        run.set_status(if_flag, ready, cr8, apic_base);
        r
    }

    fn run_loop(&self, st: &mut VcpuState, run: RunPage) -> Result<isize> {
        loop {
            if st.lapic.is_some() && !self.init_sipi(st) {
                run.set_reason(KVM_EXIT_INTR);
                return Err(EINTR);
            }
            if st.halted && !self.block(st) {
                run.set_reason(KVM_EXIT_INTR);
                return Err(EINTR);
            }
            if ffi::signal_pending() {
                run.set_reason(KVM_EXIT_INTR);
                return Err(EINTR);
            }
            ffi::cond_resched();
            let want_window = run.request_interrupt_window();
            if want_window && st.ready_for_injection() {
                run.set_reason(KVM_EXIT_IRQ_WINDOW_OPEN);
                return Ok(0);
            }
            self.prepare_events(st, want_window);
            let snapshot = if core::mem::take(&mut st.user_state) {
                // Userspace (or an INIT) rewrote registers behind the VMCB setters.
                st.vmcb().mark_all_dirty();
                let mut b = KVec::with_capacity(size_of::<VmcbSave>(), GFP_KERNEL)?;
                b.resize(size_of::<VmcbSave>(), 0u8, GFP_KERNEL)?;
                // SAFETY: `b` has room for a `VmcbSave`, which is plain old data.
                unsafe { core::ptr::copy_nonoverlapping(&st.vmcb().save as *const VmcbSave as *const u8, b.as_mut_ptr(), b.len()) };
                Some(b)
            } else {
                None
            };
            if !self.enter_guest(st)? {
                // An interrupt arrived just before entry: take it into account first.
                continue;
            }
            let code = st.vmcb().exit_code();
            if let (ExitCode::INVALID, Some(b)) = (code, &snapshot) {
                // SAFETY: `b` holds a copy of a `VmcbSave` taken above.
                unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), &mut st.vmcb().save as *mut VmcbSave as *mut u8, b.len()) };
                st.vmcb().mark_all_dirty();
                st.user_state = true;
            }
            self.count(code.stat() as usize);
            self.count(Stat::Total as usize);
            if code != ExitCode::INVALID {
                // VMRUN refused the state: nothing was delivered, EXITINTINFO means nothing.
                self.after_exit(st);
            }
            match self.handle_exit(st, run, code)? {
                Action::Resume => {}
                Action::User => return Ok(0),
            }
        }
    }

    /// EVENTINJ for this entry, or an interrupt window if an interrupt must wait.
    fn prepare_events(&self, st: &mut VcpuState, want_window: bool) {
        self.lapic_fold(st);
        let mut inj = EventInj::NONE;
        let mut err = 0;
        let mut apic_wait = false;
        if let Some((e, c)) = st.event.take() {
            inj = e;
            err = c;
        } else if let Some(vec) = st.irq {
            if st.interrupt_allowed() {
                inj = EventInj::intr(vec);
                st.irq = None;
            }
        } else if let Some(vec) = st.lapic.as_ref().and_then(|l| l.deliverable()) {
            if st.interrupt_allowed() {
                inj = EventInj::intr(vec);
                if let Some(l) = st.lapic.as_mut() {
                    l.ack(vec);
                }
            } else {
                apic_wait = true;
            }
        }
        // The APIC's TPR is the guest's V_TPR (CR8) while it runs; while only the TPR holds
        // an interrupt back, CR8 writes exit so that lowering it delivers the interrupt.
        if let Some((tpr, tpr_blocks)) = st.lapic.as_ref().map(|l| (l.tpr(), l.blocked_by_tpr())) {
            let v = st.vmcb();
            v.set_v_tpr(tpr >> 4);
            if tpr_blocks {
                v.set_intercept(Intercept::Cr8Write);
            } else {
                v.clear_intercept(Intercept::Cr8Write);
            }
        }
        let need_window = (st.irq.is_some() || want_window || apic_wait) && inj == EventInj::NONE;
        st.injected = inj;
        if inj.is_type(EventType::Intr) && inj.valid() {
            st.intr_rip = Some(st.rip());
        }
        let v = st.vmcb();
        v.control.event_inj = inj;
        v.control.event_inj_err = err;
        if need_window {
            v.request_vintr_window();
        }
    }

    /// Re-queues an event whose delivery the #VMEXIT interrupted (EXITINTINFO).
    fn after_exit(&self, st: &mut VcpuState) {
        let injected = st.injected;
        let v = st.vmcb();
        let info = v.control.exit_int_info;
        let err = v.control.exit_int_info_err;
        v.control.event_inj = EventInj::NONE;
        if !info.valid() {
            return;
        }
        let mut info = info;
        // QEMU reports a faulting external-interrupt delivery as an exception: normalise.
        // (TYPE and vector are compared as they are, V of `injected` not considered.)
        if injected.is_type(EventType::Intr) && injected.vector() == info.vector() {
            info = info.as_intr();
        }
        // Software interrupts (and #BP/#OF) restart with their instruction instead.
        let restarts = (info.is_type(EventType::Exception) && matches!(info.vector(), 3 | 4)) || info.is_type(EventType::SoftInt);
        if !restarts {
            st.event = Some((info, err));
        }
    }

    /// One world switch on this CPU. `false`: not entered, because an interrupt was posted
    /// or the APIC timer fired after the events for this entry were chosen.
    fn enter_guest(&self, st: &mut VcpuState) -> Result<bool> {
        let vm = &self.vm;
        let features = &vm.features;
        let (rax, rsp) = (st.gprs[0], st.gprs[4]);
        {
            let v = st.vmcb();
            v.save.rax = rax;
            v.save.rsp = rsp;
        }
        let host_xcr0 = fpu::xgetbv0();
        let guest_cr4 = st.vmcb().save.cr4;
        let np = NoPreempt::new();
        let svm = cpu::this_svm_cpu(&np).ok_or(EIO)?;
        let cpu_id = ffi::this_cpu();
        let fpu_guard = FpuGuard::begin();
        st.fpu.load();
        st.fpu.enter_xcr0(guest_cr4, host_xcr0);
        self.shared.in_guest_cpu.store(cpu_id as i32, Ordering::SeqCst);
        ops::clgi();
        // Posted after prepare_events(): the poster may have seen us outside guest mode and
        // not kicked, so go round again (an injected event is kept for then).
        let abort = st.lapic.is_some() && self.shared.event_pending();
        if !abort {
            // Read after CLGI: a concurrent NPT flush either sees us in guest mode and waits
            // for our exit, or we see its new generation here (see Vm::flush_npt).
            let npt_gen = vm.npt_gen.load(Ordering::SeqCst);
            let vmcb_pa = st.vmcb.phys();
            let vmcb_cpu = st.vmcb_cpu.replace(cpu_id);
            let (asid, tlb, ibpb, cached) = svm.with_asid(&np, |c| {
                let ibpb = c.last_vm != vm.id;
                c.last_vm = vm.id;
                let cached = clean::cached_here(vmcb_cpu, cpu_id, c.last_vmcb, vmcb_pa);
                c.last_vmcb = vmcb_pa;
                let (a, t) = st.asid.pre_run(c, cpu_id, npt_gen, features.flush_by_asid);
                (a, t, ibpb, cached)
            });
            if ibpb && features.ibpb {
                // Another VM ran here last: its branch predictions must not steer this one.
                // SAFETY: PRED_CMD.IBPB is a write-only command with no other effect.
                let _ = unsafe { ffi::wrmsr(cpu::MSR_IA32_PRED_CMD, 1) };
            }
            {
                let v = st.vmcb();
                v.set_asid(asid);
                v.control.tlb_ctl = tlb;
                v.prepare_clean(features.vmcb_clean, cached);
            }
            // SAFETY: SVM is on for this CPU (checked with preemption off), GIF=0, and the
            // VMCB, its IOPM/MSRPM/NPT and the GPR array are valid for the whole call.
            unsafe { ffi::__rsvm_vmrun(vmcb_pa, svm.host_save.phys(), st.gprs.as_mut_ptr()) };
        }
        ops::stgi();
        self.shared.in_guest_cpu.store(-1, Ordering::SeqCst);
        st.fpu.exit_xcr0(host_xcr0);
        st.fpu.save();
        drop(fpu_guard);
        drop(np);
        let v = st.vmcb();
        if abort {
            let (inj, err) = (v.control.event_inj, v.control.event_inj_err);
            v.control.event_inj = EventInj::NONE;
            if inj.valid() {
                st.event = Some((inj, err));
            }
            return Ok(false);
        }
        let (rax, rsp) = (v.save.rax, v.save.rsp);
        v.control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
        if v.exit_code() != ExitCode::INVALID {
            // The CPU's copy of the VMCB is the VMCB now (as Linux, not after a failed VMRUN).
            v.mark_clean_after_exit(features.vmcb_clean);
        }
        // CR8 writes in the guest changed V_TPR without an exit: the APIC's TPR follows.
        let vtpr = v.control.int_ctl.v_tpr();
        st.gprs[0] = rax;
        st.gprs[4] = rsp;
        if let Some(l) = st.lapic.as_mut() {
            if l.tpr() >> 4 != vtpr {
                l.set_tpr(vtpr << 4);
            }
        }
        Ok(true)
    }

    /// Finishes the exit the VMM just handled (KVM's complete_userspace_io). RIP moves on
    /// only if the VMM did not change it meanwhile.
    fn complete_pending(&self, st: &mut VcpuState, run: RunPage) -> Result {
        match core::mem::replace(&mut st.pending, Pending::None) {
            Pending::None => Ok(()),
            Pending::Pio { rip, next_rip, size, input, string } => self.complete_pio(st, rip, next_rip, size, input, string),
            Pending::MmioRead { rip, insn } => {
                self.complete_mmio_read(st, run, rip, insn);
                Ok(())
            }
        }
    }
}
