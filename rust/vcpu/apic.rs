// SPDX-License-Identifier: GPL-2.0

//! The in-kernel local APIC's glue (`lapic/` is the register model): folding posted
//! interrupts and timer expiries in, carrying out an access's `Effect` (the hrtimer, IPIs,
//! routes, level EOIs), the APIC MSRs and the xAPIC page, HLT sleeping in the kernel,
//! INIT/SIPI, and CR8 writes intercepted while the TPR holds an interrupt back.

use super::{
    history::{Record, INIT, SIPI},
    state::VcpuState,
    Action, RunPage, Vcpu,
};
use crate::{
    emulate::{self, CpuMode, MmioInsn, MmioOp},
    uapi::kvm::KvmLapicState,
    ffi,
    lapic::{self, Effect},
    svm::assist,
    x86::GP_VECTOR,
};
use core::sync::atomic::Ordering;
use kernel::{
    prelude::*,
    time::{hrtimer::HrTimerPointer, Delta},
};

impl Vcpu {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos().max(0) as u64
    }

    /// Folds what other contexts posted (MSIs, IPIs, timer expiries) into the APIC.
    pub(super) fn lapic_fold(&self, st: &mut VcpuState) {
        let Some(l) = st.lapic.as_mut() else { return };
        if self.shared.timer_expired.swap(0, Ordering::SeqCst) != 0 {
            l.timer_expired();
        }
        self.shared.take_posted(|v, level| l.accept(v, level));
    }

    /// Carries out what an APIC access asked for.
    fn apic_effect(&self, st: &mut VcpuState, e: Effect) {
        match e {
            Effect::None => {}
            Effect::CancelTimer => self.cancel_timer(st),
            Effect::ArmTimer { ns, period_ns } => self.arm_timer(st, ns, period_ns),
            Effect::ArmDeadline(deadline) => {
                // Guest TSC ticks to nanoseconds at the host's TSC rate (no TSC scaling).
                let now = ffi::rdtsc().wrapping_add(st.vmcb().control.tsc_offset);
                let khz = ffi::tsc_khz().max(1) as u64;
                let ns = match deadline.checked_sub(now) {
                    None | Some(0) => 0,
                    Some(d) => d.checked_mul(1_000_000).map(|x| x / khz).unwrap_or(u64::MAX / khz),
                };
                self.arm_timer(st, ns, 0);
            }
            Effect::Send(m) => {
                self.vm.deliver(&m, Some(self.shared.id));
            }
            Effect::Readdressed => {
                if let Some(l) = st.lapic.as_ref() {
                    self.shared.set_route(l.route());
                }
            }
            Effect::LevelEoi(vector) => self.vm.level_eoi(vector, &self.shared),
        }
    }

    pub(super) fn cancel_timer(&self, st: &mut VcpuState) {
        // Dropping the handle cancels the hrtimer and waits for a running callback; an
        // expiry counted before that belongs to the old timer and is discarded.
        st.timer = None;
        self.shared.timer_period_ns.store(0, Ordering::SeqCst);
        self.shared.timer_expired.store(0, Ordering::SeqCst);
    }

    fn arm_timer(&self, st: &mut VcpuState, ns: u64, period_ns: u64) {
        self.cancel_timer(st);
        if ns == 0 {
            self.shared.timer_expired.fetch_add(1, Ordering::SeqCst);
            return;
        }
        self.shared.timer_period_ns.store(period_ns, Ordering::SeqCst);
        let d = Delta::from_nanos(ns.min(i64::MAX as u64) as i64);
        st.timer = Some(self.shared.clone().start(d));
    }

    /// An APIC MSR (IA32_APIC_BASE, x2APIC registers, TSC_DEADLINE) read (`value` None) or
    /// write; `None` if `index` is not one or there is no in-kernel APIC. `Err`: #GP.
    pub(super) fn apic_msr(&self, st: &mut VcpuState, index: u32, value: Option<u64>, host: bool) -> Option<Result<u64, ()>> {
        st.lapic.as_ref()?;
        let now = self.now_ns();
        let l = st.lapic.as_mut()?;
        let (r, e) = match (index, value) {
            (lapic::MSR_IA32_APIC_BASE, None) => (Ok(l.base), Effect::None),
            (lapic::MSR_IA32_APIC_BASE, Some(v)) => match l.set_base(v, host) {
                Ok(e) => (Ok(0), e),
                Err(_) => (Err(()), Effect::None),
            },
            (lapic::MSR_IA32_TSC_DEADLINE, None) => (Ok(l.read_tsc_deadline()), Effect::None),
            (lapic::MSR_IA32_TSC_DEADLINE, Some(v)) => (Ok(0), l.write_tsc_deadline(v)),
            (lapic::MSR_X2APIC_FIRST..=lapic::MSR_X2APIC_LAST, None) => (l.msr_read(index, now).map_err(|_| ()), Effect::None),
            (lapic::MSR_X2APIC_FIRST..=lapic::MSR_X2APIC_LAST, Some(v)) => match l.msr_write(index, v, now) {
                Ok(e) => (Ok(0), e),
                Err(_) => (Err(()), Effect::None),
            },
            _ => return None,
        };
        // Leaving the enabled state drops the route too.
        let e = if index == lapic::MSR_IA32_APIC_BASE && e == Effect::CancelTimer {
            self.apic_effect(st, Effect::Readdressed);
            e
        } else {
            e
        };
        self.apic_effect(st, e);
        Some(r)
    }

    /// KVM_GET_LAPIC: the register page (`EINVAL` without an in-kernel APIC, as KVM).
    pub(super) fn get_lapic(&self) -> Result<KBox<KvmLapicState>> {
        let now = self.now_ns();
        let fmt = self.vm.x2apic_format.load(Ordering::SeqCst);
        let mut st = self.state.lock();
        // Interrupts posted since the last entry are in the IRR the page shows.
        self.lapic_fold(&mut st);
        let l = st.lapic.as_ref().ok_or(EINVAL)?;
        Ok(KBox::new(KvmLapicState { regs: l.get_state(now, fmt) }, GFP_KERNEL)?)
    }

    /// KVM_SET_LAPIC: every register from the page (`lapic::state`), then the timer
    /// restarted, the route republished and CR8 (V_TPR) following the TPR, as KVM's
    /// kvm_apic_set_state(). `EINVAL` without an in-kernel APIC or for an x2APIC ID other
    /// than the vCPU's with KVM_X2APIC_API_USE_32BIT_IDS.
    pub(super) fn set_lapic(&self, s: &KvmLapicState) -> Result {
        let now = self.now_ns();
        let fmt = self.vm.x2apic_format.load(Ordering::SeqCst);
        let mut st = self.state.lock();
        self.lapic_fold(&mut st);
        let l = st.lapic.as_mut().ok_or(EINVAL)?;
        let e = l.set_state(&s.regs, now, fmt).map_err(|_| EINVAL)?;
        let tpr = l.tpr();
        self.cancel_timer(&mut st);
        self.apic_effect(&mut st, Effect::Readdressed);
        self.apic_effect(&mut st, e);
        st.vmcb().set_v_tpr(tpr >> 4);
        Ok(())
    }

    /// A load or store to the xAPIC page at offset `off`, emulated here (SDM 11.4.1: only
    /// aligned 32-bit accesses are defined; like KVM, other stores are dropped and other
    /// loads see the register's bytes or zero).
    pub(super) fn apic_mmio(&self, st: &mut VcpuState, off: u32, insn: MmioInsn, mode: CpuMode) {
        let now = self.now_ns();
        let size = insn.size as u32;
        match insn.op {
            MmioOp::Store { src, imm } => {
                let v = match src {
                    Some(r) => emulate::read_reg(&st.gprs, r, insn.size),
                    None => imm & emulate::mask(insn.size),
                };
                if size == 4 && off & 0xf == 0 {
                    let e = st.lapic.as_mut().and_then(|l| l.write(off, v as u32, now).ok());
                    if let Some(e) = e {
                        self.apic_effect(st, e);
                    }
                }
            }
            MmioOp::Load { dst, dst_size, ext } => {
                let within = off & 0xf;
                let reg = st.lapic.as_ref().and_then(|l| l.read(off & !0xf, now)).unwrap_or(0);
                let v = if within + size <= 4 { (reg as u64) >> (within * 8) } else { 0 };
                let v = emulate::loaded_value(v & emulate::mask(insn.size), insn.size, ext);
                emulate::write_reg(&mut st.gprs, dst, dst_size, v);
            }
        }
        let next = st.rip().wrapping_add(insn.len as u64);
        st.set_rip(if mode == CpuMode::Bits64 { next } else { next & 0xffff_ffff });
    }

    /// A halted vCPU sleeps until an interrupt can be taken (KVM's kvm_vcpu_block()).
    /// `false`: a signal ended the sleep (the vCPU stays halted).
    pub(super) fn block(&self, st: &mut VcpuState) -> bool {
        loop {
            self.shared.wake.store(0, Ordering::SeqCst);
            self.lapic_fold(st);
            let has_irq = st.irq.is_some() || st.virq.is_some() || st.lapic.as_ref().is_some_and(|l| l.deliverable().is_some());
            let init = self.shared.init.load(Ordering::SeqCst) != 0;
            if init || st.event.is_some() || (has_irq && st.interrupt_allowed()) {
                st.halted = false;
                return true;
            }
            if ffi::signal_pending() {
                return false;
            }
            if self.shared.waitq.wait(&self.shared.wake).is_err() && ffi::signal_pending() {
                return false;
            }
        }
    }

    /// INIT and SIPI (SDM 8.4.4.1, "MP initialisation"): an INIT resets the vCPU (as INIT
    /// does, APIC base kept) into wait-for-SIPI; a SIPI then starts it in real mode at
    /// vector << 12. `false`: a signal ended the wait.
    pub(super) fn init_sipi(&self, st: &mut VcpuState) -> bool {
        loop {
            if self.shared.init.swap(0, Ordering::SeqCst) != 0 {
                self.cancel_timer(st);
                let rip = st.rip();
                st.history.push(Record::event(INIT, 0, rip));
                st.reset(&self.vm, self.shared.id, true);
                st.user_state = true;
                st.wait_sipi = true;
                if let Some(l) = st.lapic.as_ref() {
                    self.shared.set_route(l.route());
                }
            }
            if !st.wait_sipi {
                return true;
            }
            self.shared.wake.store(0, Ordering::SeqCst);
            let sipi = self.shared.sipi.swap(0, Ordering::SeqCst);
            if sipi & 0x100 != 0 {
                let v = (sipi & 0xff) as u16;
                let vmcb = st.vmcb();
                vmcb.set_cs_selector_base(v << 8, (v as u64) << 12);
                vmcb.save.rip = 0;
                st.wait_sipi = false;
                st.history.push(Record::event(SIPI, v as u64, 0));
                continue;
            }
            if self.shared.init.load(Ordering::SeqCst) != 0 {
                continue;
            }
            if ffi::signal_pending() {
                return false;
            }
            let _ = self.shared.waitq.wait(&self.shared.wake);
        }
    }

    /// MOV to CR8, intercepted while the TPR holds an interrupt back: the new TPR may let
    /// it through. The GPR comes from decode assists or from decoding `REX.R 0F 22 /r`.
    pub(super) fn cr8_write(&self, st: &mut VcpuState, run: RunPage, info1: u64) -> Action {
        let fetch = || {
            let mut mem = self.vm.mem.lock();
            st.fetch(&mut mem, false).ok()
        };
        let Some((gpr, len)) = assist::cr8_write_source(self.vm.features.decode_assists, info1, fetch) else {
            return self.emulation_failure(st, run);
        };
        let v = st.gprs.get(gpr).copied().unwrap_or(0);
        if v > 0xf {
            st.queue_exception(GP_VECTOR, Some(0));
            return Action::Resume;
        }
        if let Some(l) = st.lapic.as_mut() {
            l.set_tpr((v as u32) << 4);
        }
        match len {
            Some(n) => {
                let next = st.rip().wrapping_add(n);
                st.set_rip(next);
            }
            None => {
                let n = st.vmcb().control.next_rip;
                st.set_rip(n);
            }
        }
        Action::Resume
    }
}
