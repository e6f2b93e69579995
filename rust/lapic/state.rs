// SPDX-License-Identifier: GPL-2.0

//! The APIC as a register page, for KVM_GET_LAPIC and KVM_SET_LAPIC (`struct
//! kvm_lapic_state`): the 1024-byte xAPIC layout (SDM table 11-1) in the form KVM's
//! kvm_apic_get_state()/kvm_apic_set_state() give and take it on AMD (lapic.c, Linux 7.2):
//! - the ID register: in xAPIC mode the ID in bits 31:24; in x2APIC mode the read-only
//!   x2APIC ID, as it is with KVM_X2APIC_API_USE_32BIT_IDS (a different one is `EINVAL`),
//!   else shifted left by 24 and ignored when set (kvm_apic_state_fixup());
//! - the ICR as two words at 0x300 (bits 31:0) and 0x310 (bits 63:32) in both modes (SVM
//!   keeps the x2APIC ICR split, `x2apic_icr_is_split`);
//! - TMCCT: the current count when read; when set, the count the timer goes on from
//!   (zero: a one-shot timer has expired, a periodic one starts a new period), as KVM's
//!   `__start_apic_timer(apic, APIC_TMCCT)`;
//! - LVR and PPR are computed, never taken; every other register is taken as it is, as
//!   KVM's memcpy() takes it, and in x2APIC mode the LDR is derived from the ID.

use super::{
    Effect, Fault, Lapic, TimerMode, BUS_CYCLE_NS, REG_DFR, REG_ESR, REG_ICR, REG_ICR2, REG_ID, REG_IRR, REG_ISR, REG_LDR, REG_LVR,
    REG_LVTT, REG_PPR, REG_SVR, REG_TDCR, REG_TMCCT, REG_TMICT, REG_TMR, REG_TPR,
};

/// KVM_APIC_REG_SIZE.
pub(crate) const APIC_PAGE_SIZE: usize = 1024;

fn get(page: &[u8; APIC_PAGE_SIZE], off: u32) -> u32 {
    let o = off as usize;
    page.get(o..o + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes)
}

fn put(page: &mut [u8; APIC_PAGE_SIZE], off: u32, v: u32) {
    let o = off as usize;
    if let Some(b) = page.get_mut(o..o + 4) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// The x2APIC logical ID of x2APIC ID `id` (SDM 11.12.10.2; KVM's kvm_apic_calc_x2apic_ldr()).
pub(crate) fn x2apic_ldr(id: u32) -> u32 {
    ((id >> 4) << 16) | (1 << (id & 0xf))
}

impl Lapic {
    /// KVM_GET_LAPIC at time `now`. `x2apic_format`: KVM_X2APIC_API_USE_32BIT_IDS.
    pub(crate) fn get_state(&self, now: u64, x2apic_format: bool) -> [u8; APIC_PAGE_SIZE] {
        let mut p = [0u8; APIC_PAGE_SIZE];
        let id = match (self.x2apic(), x2apic_format) {
            (true, true) => self.x2apic_id,
            (true, false) => self.x2apic_id << 24,
            (false, _) => (self.xapic_id as u32) << 24,
        };
        put(&mut p, REG_ID, id);
        // LVR, TPR, PPR, the timer registers and the rest as the guest reads them in xAPIC
        // mode; the register file keeps them mode-independent.
        for off in [REG_LVR, REG_TPR, REG_PPR, REG_LDR, REG_SVR, REG_ESR, REG_TMICT, REG_TMCCT, REG_TDCR] {
            put(&mut p, off, self.read(off, now).unwrap_or(0));
        }
        put(&mut p, REG_DFR, self.dfr);
        for i in 0..8u32 {
            let w = i as usize;
            put(&mut p, REG_ISR + i * 16, self.isr[w]);
            put(&mut p, REG_TMR + i * 16, self.tmr[w]);
            put(&mut p, REG_IRR + i * 16, self.irr[w]);
        }
        put(&mut p, REG_ICR, self.icr as u32);
        put(&mut p, REG_ICR2, (self.icr >> 32) as u32);
        for (i, l) in self.lvt.iter().enumerate() {
            put(&mut p, REG_LVTT + 16 * i as u32, *l);
        }
        p
    }

    /// KVM_SET_LAPIC at time `now`: the registers from `p`, in the APIC's current mode (the
    /// mode is IA32_APIC_BASE's, set through KVM_SET_MSRS). `Err`: an x2APIC ID other than
    /// this APIC's with `x2apic_format` (KVM's `EINVAL`). The effect is the timer's: the
    /// caller cancels the old one, carries this out, and republishes the route.
    pub(crate) fn set_state(&mut self, p: &[u8; APIC_PAGE_SIZE], now: u64, x2apic_format: bool) -> Result<Effect, Fault> {
        if self.x2apic() {
            if x2apic_format && get(p, REG_ID) != self.x2apic_id {
                return Err(Fault);
            }
            self.ldr = x2apic_ldr(self.x2apic_id);
        } else {
            self.xapic_id = (get(p, REG_ID) >> 24) as u8;
            self.ldr = get(p, REG_LDR);
        }
        self.dfr = get(p, REG_DFR);
        self.tpr = get(p, REG_TPR);
        self.svr = get(p, REG_SVR);
        self.esr = get(p, REG_ESR);
        self.esr_pending = 0;
        for i in 0..8u32 {
            let w = i as usize;
            self.isr[w] = get(p, REG_ISR + i * 16);
            self.tmr[w] = get(p, REG_TMR + i * 16);
            self.irr[w] = get(p, REG_IRR + i * 16);
        }
        self.icr = get(p, REG_ICR) as u64 | (get(p, REG_ICR2) as u64) << 32;
        for (i, l) in self.lvt.iter_mut().enumerate() {
            *l = get(p, REG_LVTT + 16 * i as u32);
        }
        self.tdcr = get(p, REG_TDCR);
        self.tmict = get(p, REG_TMICT);
        self.timer_start = None;
        Ok(self.restart_timer(get(p, REG_TMCCT), now))
    }

    /// Restarts the timer after its registers were set: one-shot and periodic go on from
    /// `tmcct` counts (clamped to a period; zero: a one-shot has expired, a periodic one
    /// starts a new period); TSC-deadline re-arms its deadline (kept, as KVM keeps the
    /// MSR's value).
    fn restart_timer(&mut self, tmcct: u32, now: u64) -> Effect {
        if self.timer_mode() == TimerMode::TscDeadline {
            return if self.tsc_deadline == 0 { Effect::CancelTimer } else { Effect::ArmDeadline(self.tsc_deadline) };
        }
        if self.tmict == 0 {
            return Effect::CancelTimer;
        }
        let per = BUS_CYCLE_NS * self.divide();
        let mut period = self.tmict as u64 * per;
        let periodic = self.timer_mode() == TimerMode::Periodic;
        if periodic {
            period = period.max(super::MIN_PERIOD_NS);
        }
        let left = match tmcct as u64 * per {
            0 if periodic => period,
            l => l.min(period),
        };
        self.timer_period = period;
        // The count resumes with `period - left` of it done, so that TMCCT reads `tmcct` now.
        self.timer_start = Some(now);
        self.timer_ran = period - left;
        Effect::ArmTimer { ns: left, period_ns: if periodic { period } else { 0 } }
    }
}
