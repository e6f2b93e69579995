// SPDX-License-Identifier: GPL-2.0

//! `KVM_RUN`: the run loop, the events injected at each entry (EVENTINJ, the interrupt
//! window, V_TPR and the CR8 intercept), the world switch with its ASID, TLB and VMCB
//! clean-bit decisions, re-injection after an exit (EXITINTINFO), and the completion of
//! the I/O or MMIO userspace handled.

use super::{
    history::{self, Record},
    state::{Pending, VcpuState},
    Action, RunPage, Vcpu,
};
use crate::{
    cpu,
    ffi::{self, NoPreempt},
    fpu::{self, FpuGuard},
    svm::{
        clean,
        event::{self, EventInj, Virq, VirqSource},
        exit::{ExitCode, Stat},
        ops,
        vmcb::*,
    },
    uapi::kvm::*,
    x86::RFLAGS_IF,
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// The guest's TSC_AUX: rsvm offers neither RDTSCP, nor RDPID, nor the MSR, so a guest
/// cannot set it, and what it reads with an RDPID its CPU runs anyway is 0, as under KVM
/// (`svm->tsc_aux` after reset), never the host's CPU number.
const GUEST_TSC_AUX: u64 = 0;

/// The emulator's lost guest state (Documentation/testing.md, issue 12): QEMU's TCG has been
/// seen to write the host's own state, as it was right after VMRUN (RIP in `__rsvm_vmrun`,
/// the host's CR3 and stack), into the save area at a #VMEXIT, in place of the guest's. No
/// CPU does that, and no guest can be at the host's CR3 and in the module's world switch
/// unless the CPU put it there. Resuming that "guest" runs host addresses in the guest's
/// context (it then dies in a triple fault or an emulation failure), so it is caught here
/// and named instead.
fn host_state_as_guest(v: &Vmcb) -> bool {
    let start = ffi::__rsvm_vmrun as *const () as usize as u64;
    const PFN: u64 = 0x000f_ffff_ffff_f000;
    let host_cr3: u64;
    // SAFETY: reading CR3 at CPL 0 has no side effects.
    unsafe { core::arch::asm!("mov {}, cr3", out(reg) host_cr3, options(nomem, nostack, preserves_flags)) };
    (start..start + 0x200).contains(&v.save.rip) && v.save.cr3 & PFN == host_cr3 & PFN
}

impl Vcpu {
    /// After `host_state_as_guest`: the guest's registers are gone. The VMM gets
    /// KVM_EXIT_INTERNAL_ERROR (unexpected exit reason: the exit code, the CPU) and the host's
    /// log says what happened.
    fn lost_guest_state(&self, st: &mut VcpuState, run: RunPage, code: ExitCode) {
        if history::may_report() {
            pr_err!(
                "vm{} vcpu{}: #VMEXIT {:#x} saved the host's own state as the guest's (RIP {:#x} in __rsvm_vmrun, the host's CR3): emulator fault, the guest's state is lost\n",
                self.vm.id, self.shared.id, code.0, st.vmcb().save.rip
            );
        }
        let mut i = KvmRunInternal { suberror: KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, ndata: 2, ..Default::default() };
        i.data[0] = code.0;
        i.data[1] = ffi::this_cpu() as u64;
        run.set_exit(KVM_EXIT_INTERNAL_ERROR, i);
    }

    /// `KVM_RUN`: complete what userspace handled, then run until an exit needs it.
    pub(super) fn run(&self) -> Result<isize> {
        let run = self.run_page();
        let mut st = self.state.lock();
        let r = self.run_locked(&mut st, run);
        // Every return, errors included, as KVM's store_regs() at its `out:`.
        Self::sync_regs_out(&mut st, run);
        r
    }

    fn run_locked(&self, st: &mut VcpuState, run: RunPage) -> Result<isize> {
        // KVM's order: register sets from the run page, then the I/O userspace completed.
        self.sync_regs_in(st, run)?;
        self.complete_pending(st, run)?;
        if run.immediate_exit() {
            // As KVM: EINTR with the exit reason left as it was. Clients rely on it: the KVM
            // selftests complete a ucall's IN with an immediate exit and then read the ucall
            // again from the same KVM_EXIT_IO.
            return Err(EINTR);
        }
        let sigmask = st.sigmask.map(ffi::SigmaskGuard::activate);
        let r = self.run_loop(st, run);
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
            ffi::resched_before_entry();
            let want_window = run.request_interrupt_window();
            if want_window && st.ready_for_injection() {
                run.set_reason(KVM_EXIT_IRQ_WINDOW_OPEN);
                return Ok(0);
            }
            self.pvclock_update(st);
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
            let (inj, virq) = (st.injected.0, st.virq.map(|q| q.vector));
            let rec = Record::exit(st.vmcb(), inj, virq);
            st.history.push(rec);
            let code = st.vmcb().exit_code();
            if code != ExitCode::INVALID && host_state_as_guest(st.vmcb()) {
                self.lost_guest_state(st, run, code);
                return Ok(0);
            }
            if let (ExitCode::INVALID, Some(b)) = (code, &snapshot) {
                // SAFETY: `b` holds a copy of a `VmcbSave` taken above.
                unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), &mut st.vmcb().save as *mut VmcbSave as *mut u8, b.len()) };
                st.vmcb().mark_all_dirty();
                st.user_state = true;
            }
            self.count(code.stat() as usize);
            self.count(Stat::Total as usize);
            if code == ExitCode::INVALID {
                // VMRUN refused the state: nothing was delivered, EXITINTINFO means nothing.
                self.entry_failed(st);
            } else {
                self.after_exit(st);
            }
            match self.handle_exit(st, run, code)? {
                Action::Resume => {}
                Action::User => return Ok(0),
            }
        }
    }

    /// The events for this entry: EVENTINJ for an exception rsvm raises or re-injects, the
    /// virtual interrupt for an external interrupt (see `Virq`), else the interrupt window
    /// userspace asked for.
    fn prepare_events(&self, st: &mut VcpuState, want_window: bool) {
        self.lapic_fold(st);
        let (inj, err) = st.event.take().unwrap_or((EventInj::NONE, 0));
        // One taken but cut short goes first, then KVM_INTERRUPT's; the APIC's is chosen
        // afresh at every entry, as it stays requested (IRR) until the guest takes it.
        st.virq = match st.virq {
            Some(q) if q.source != VirqSource::Apic => Some(q),
            _ => match st.irq.take() {
                Some(vector) => Some(Virq { vector, source: VirqSource::User }),
                None => st.lapic.as_ref().and_then(|l| l.deliverable()).map(|vector| Virq { vector, source: VirqSource::Apic }),
            },
        };
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
        st.injected = inj;
        st.virq_rip = st.rip();
        let virq = st.virq;
        let v = st.vmcb();
        v.control.event_inj = inj;
        v.control.event_inj_err = err;
        if let Some(q) = virq {
            v.raise_virtual_interrupt(q.vector);
        } else if want_window && inj == EventInj::NONE {
            v.request_vintr_window();
        } else if v.control.int_ctl.v_irq() {
            v.clear_vintr_window();
        }
    }

    /// After an exit: whether the guest took the virtual interrupt, and re-queues an event
    /// whose delivery the #VMEXIT interrupted (EXITINTINFO); the rules are `event::complete`.
    fn after_exit(&self, st: &mut VcpuState) {
        let injected = st.injected;
        let offered = st.virq.take();
        let v = st.vmcb();
        let (info, err) = (v.control.exit_int_info, v.control.exit_int_info_err);
        let virq_pending = v.control.int_ctl.v_irq();
        v.control.event_inj = EventInj::NONE;
        if virq_pending {
            // Withdrawn here; prepare_events() offers it (or a better one) again.
            v.clear_vintr_window();
        }
        let c = event::complete(offered, virq_pending, injected, info, err);
        if let (Some(vector), Some(l)) = (c.ack, st.lapic.as_mut()) {
            l.ack(vector);
        }
        if c.taken {
            st.intr_rip = Some(st.virq_rip);
        }
        st.virq = c.virq;
        if c.event.is_some() {
            st.event = c.event;
        }
    }

    /// VMRUN refused the state: nothing was delivered, so the event goes in again with the
    /// next entry (not lost with the EVENTINJ field prepare_events() rewrites).
    fn entry_failed(&self, st: &mut VcpuState) {
        let v = st.vmcb();
        let (inj, err) = (v.control.event_inj, v.control.event_inj_err);
        v.control.event_inj = EventInj::NONE;
        if inj.valid() {
            st.event = Some((inj, err));
        }
        if let Some(q) = st.virq.take() {
            if q.source != VirqSource::Apic {
                st.virq = Some(q);
            }
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
            st.ran = true;
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
            let guest_dr7 = st.vmcb().save.dr7;
            // SAFETY: GIF=0 since the CLGI above; `exit` follows before STGI.
            let host_dr = unsafe { st.debug.enter(guest_dr7) };
            let host_pkru = st.fpu.enter_pkru(guest_cr4);
            // SAFETY: preemption is off (`np`) on the CPU about to VMRUN.
            unsafe { ffi::tsc_aux_load(GUEST_TSC_AUX) };
            // SAFETY: SVM is on for this CPU (checked with preemption off), GIF=0, and the
            // VMCB, its IOPM/MSRPM/NPT and the GPR array are valid for the whole call.
            unsafe { ffi::__rsvm_vmrun(vmcb_pa, svm.host_save.phys(), st.gprs.as_mut_ptr()) };
            // SAFETY: GIF=0 and preemption off on the CPU that ran the guest.
            unsafe { ffi::after_vmexit(st.vmcb().control.exit_code) };
            let cr4_now = st.vmcb().save.cr4;
            st.fpu.exit_pkru(host_pkru, cr4_now);
            // SAFETY: GIF=0 still, right after the VMRUN `enter` prepared.
            if unsafe { st.debug.exit(host_dr) } {
                st.vmcb().set_dr_intercepts(true);
            }
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
