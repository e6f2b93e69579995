// SPDX-License-Identifier: GPL-2.0

//! The local APIC model of one vCPU: registers, interrupt acceptance and priority, EOI, the
//! timer's arithmetic, IPIs and MSI decoding (Intel SDM vol. 3 ch. 11 and APM vol. 2 ch. 16,
//! which agree on everything modelled here; x2APIC as SDM 11.12).
//!
//! Pure logic, no kernel imports: the vCPU (`vcpu/apic.rs`) owns a `Lapic`, turns xAPIC MMIO and
//! x2APIC MSR exits into `read`/`write`, and carries out the `Effect`s (host timer, IPIs to
//! other vCPUs). The host unit tests compile these files directly (rsvm-test, lapic_tests.rs).
//! Behaviour follows KVM's lapic.c where the manuals leave a choice, so a guest sees the
//! same thing on /dev/rsvm and /dev/kvm (the differential tests check that).
//!
//! Here the register file (state, priority, acceptance, EOI, the timer, MMIO-view reads and
//! writes); [`route`]: interrupt messages and how a destination is matched; [`msr`]:
//! IA32_APIC_BASE and the x2APIC MSR view; [`state`]: the register page of
//! KVM_GET/SET_LAPIC.

mod error;
mod msr;
mod route;
mod state;

pub(crate) use route::{Message, Route, DM_FIXED, DM_INIT, DM_LOWEST, DM_SIPI};

/// IA32_APIC_BASE (MSR 0x1B) bits.
pub(crate) const APIC_BASE_BSP: u64 = 1 << 8;
pub(crate) const APIC_BASE_EXTD: u64 = 1 << 10;
pub(crate) const APIC_BASE_EN: u64 = 1 << 11;
pub(crate) const APIC_DEFAULT_PHYS: u64 = 0xfee0_0000;
pub(crate) const MSR_IA32_APIC_BASE: u32 = 0x1b;
pub(crate) const MSR_IA32_TSC_DEADLINE: u32 = 0x6e0;
/// x2APIC registers are MSRs 0x800 + offset / 16.
pub(crate) const MSR_X2APIC_FIRST: u32 = 0x800;
pub(crate) const MSR_X2APIC_LAST: u32 = 0x8ff;

// Register offsets in the xAPIC page (SDM table 11-1).
pub(crate) const REG_ID: u32 = 0x20;
pub(crate) const REG_LVR: u32 = 0x30;
pub(crate) const REG_TPR: u32 = 0x80;
pub(crate) const REG_APR: u32 = 0x90;
pub(crate) const REG_PPR: u32 = 0xa0;
pub(crate) const REG_EOI: u32 = 0xb0;
pub(crate) const REG_RRD: u32 = 0xc0;
pub(crate) const REG_LDR: u32 = 0xd0;
pub(crate) const REG_DFR: u32 = 0xe0;
pub(crate) const REG_SVR: u32 = 0xf0;
pub(crate) const REG_ISR: u32 = 0x100;
pub(crate) const REG_TMR: u32 = 0x180;
pub(crate) const REG_IRR: u32 = 0x200;
pub(crate) const REG_ESR: u32 = 0x280;
pub(crate) const REG_ICR: u32 = 0x300;
pub(crate) const REG_ICR2: u32 = 0x310;
pub(crate) const REG_LVTT: u32 = 0x320;
pub(crate) const REG_LVTERR: u32 = 0x370;
pub(crate) const REG_TMICT: u32 = 0x380;
pub(crate) const REG_TMCCT: u32 = 0x390;
pub(crate) const REG_TDCR: u32 = 0x3e0;
/// x2APIC only (MSR 0x83F).
pub(crate) const REG_SELF_IPI: u32 = 0x3f0;

const LVT_MASKED: u32 = 1 << 16;
const LVT_TIMER_MODE_SHIFT: u32 = 17;
const SVR_ENABLE: u32 = 1 << 8;
/// Version 0x14 (integrated APIC), six LVT entries (max LVT index 5: no CMCI, as KVM on
/// AMD), bit 24 "directed EOI" when x2APIC is offered and the IOAPIC is not in the kernel,
/// as KVM's kvm_apic_set_version().
const LVR_BASE: u32 = 0x14 | (5 << 16);
const LVR_DIRECTED_EOI: u32 = 1 << 24;
/// KVM's APIC bus: one tick per nanosecond (APIC_BUS_CYCLE_NS_DEFAULT).
pub(crate) const BUS_CYCLE_NS: u64 = 1;
/// KVM's min_timer_period_us: a periodic timer never fires more often than this, so a
/// guest cannot keep a host CPU in timer interrupts.
pub(crate) const MIN_PERIOD_NS: u64 = 200_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TimerMode {
    OneShot,
    Periodic,
    TscDeadline,
}

/// What an access asks the vCPU to do beyond the register file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Effect {
    None,
    /// Arm the host timer to expire `ns` from now, then every `period_ns` if non-zero.
    ArmTimer { ns: u64, period_ns: u64 },
    /// Arm the host timer for guest TSC value `deadline`.
    ArmDeadline(u64),
    CancelTimer,
    /// Send an interrupt message to the APICs it addresses.
    Send(Message),
    /// The APIC's addressing changed: republish its `Route`.
    Readdressed,
    /// The guest EOIed a level-triggered vector (its TMR bit set): its source may assert it
    /// again (an assigned device's INTx, masked since its delivery, is unmasked). As KVM's
    /// EOI broadcast to the IOAPIC; EOI-broadcast suppression (SVR bit 12) is not honoured:
    /// the source is told on every such EOI.
    LevelEoi(u8),
}

/// A register access the architecture refuses (#GP for an x2APIC MSR).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fault;

/// One vCPU's local APIC.
pub(crate) struct Lapic {
    /// The x2APIC ID (the vCPU id); the xAPIC ID register starts as its low 8 bits.
    x2apic_id: u32,
    xapic_id: u8,
    pub(crate) base: u64,
    tpr: u32,
    ldr: u32,
    dfr: u32,
    svr: u32,
    /// ESR as the guest reads it, and the errors logged since its last write (error.rs).
    esr: u32,
    esr_pending: u32,
    icr: u64,
    /// Timer, thermal, performance counters, LINT0, LINT1, error.
    lvt: [u32; 6],
    irr: [u32; 8],
    isr: [u32; 8],
    tmr: [u32; 8],
    tmict: u32,
    tdcr: u32,
    /// Time (ns, the caller's clock) the current count started from, while counting.
    timer_start: Option<u64>,
    /// Nanoseconds of the period already counted at `timer_start` (KVM_SET_LAPIC resumes a
    /// count part-way, `state.rs`; 0 when the guest starts it).
    timer_ran: u64,
    /// Nanoseconds per count-down of TMICT (or per period).
    timer_period: u64,
    tsc_deadline: u64,
    /// CPUID offers x2APIC / the TSC-deadline timer mode.
    cpuid_x2apic: bool,
    cpuid_deadline: bool,
}

fn highest(v: &[u32; 8]) -> Option<u8> {
    (0..8).rev().find(|&i| v[i] != 0).map(|i| (i as u32 * 32 + 31 - v[i].leading_zeros()) as u8)
}

impl Lapic {
    /// The state after RESET (SDM 11.4.7.1): enabled in xAPIC mode at the default base, but
    /// software-disabled with every LVT masked.
    pub(crate) fn new(vcpu_id: u32, bsp: bool) -> Self {
        Lapic {
            x2apic_id: vcpu_id,
            xapic_id: vcpu_id as u8,
            base: APIC_DEFAULT_PHYS | APIC_BASE_EN | if bsp { APIC_BASE_BSP } else { 0 },
            tpr: 0,
            ldr: 0,
            dfr: 0xffff_ffff,
            svr: 0xff,
            esr: 0,
            esr_pending: 0,
            icr: 0,
            lvt: [LVT_MASKED; 6],
            irr: [0; 8],
            isr: [0; 8],
            tmr: [0; 8],
            tmict: 0,
            tdcr: 0,
            timer_start: None,
            timer_ran: 0,
            timer_period: 0,
            tsc_deadline: 0,
            cpuid_x2apic: false,
            cpuid_deadline: false,
        }
    }

    /// What the guest's CPUID offers (from `KVM_SET_CPUID2`).
    pub(crate) fn set_cpuid(&mut self, x2apic: bool, deadline: bool) {
        self.cpuid_x2apic = x2apic;
        self.cpuid_deadline = deadline;
    }

    pub(crate) fn hw_enabled(&self) -> bool {
        self.base & APIC_BASE_EN != 0
    }

    pub(crate) fn x2apic(&self) -> bool {
        self.base & APIC_BASE_EXTD != 0 && self.hw_enabled()
    }

    /// Hardware- and software-enabled: fixed interrupts are accepted.
    pub(crate) fn enabled(&self) -> bool {
        self.hw_enabled() && self.svr & SVR_ENABLE != 0
    }

    /// The guest-physical page of the xAPIC registers, if MMIO reaches them.
    pub(crate) fn mmio_base(&self) -> Option<u64> {
        (self.hw_enabled() && !self.x2apic()).then_some(self.base & 0x000f_ffff_ffff_f000)
    }

    pub(crate) fn route(&self) -> Route {
        Route {
            enabled: self.enabled(),
            hw_enabled: self.hw_enabled(),
            x2apic: self.x2apic(),
            id: if self.x2apic() { self.x2apic_id } else { self.xapic_id as u32 },
            ldr: self.ldr,
            cluster: !self.x2apic() && self.dfr >> 28 == 0,
        }
    }

    pub(crate) fn tpr(&self) -> u32 {
        self.tpr
    }

    /// TPR as CR8 / V_TPR sees it (bits 7:4).
    pub(crate) fn set_tpr(&mut self, tpr: u32) {
        self.tpr = tpr & 0xff;
    }

    fn isrv(&self) -> u32 {
        highest(&self.isr).map(|v| v as u32).unwrap_or(0)
    }

    /// Processor priority (SDM 11.8.3.1).
    pub(crate) fn ppr(&self) -> u32 {
        let isrv = self.isrv();
        if self.tpr & 0xf0 >= isrv & 0xf0 { self.tpr } else { isrv & 0xf0 }
    }

    /// The vector the APIC would present to the CPU now: the highest requested one whose
    /// priority class is above the processor priority.
    pub(crate) fn deliverable(&self) -> Option<u8> {
        if !self.hw_enabled() {
            return None;
        }
        let v = highest(&self.irr)?;
        (v as u32 & 0xf0 > self.ppr() & 0xf0).then_some(v)
    }

    /// A requested vector that only the TPR holds back (not an in-service one): lowering
    /// the TPR must be noticed (CR8 writes are intercepted while this is true).
    pub(crate) fn blocked_by_tpr(&self) -> bool {
        match highest(&self.irr) {
            Some(v) if self.hw_enabled() => {
                let v = v as u32 & 0xf0;
                v > self.isrv() & 0xf0 && v <= self.tpr & 0xf0
            }
            _ => false,
        }
    }

    /// The CPU takes vector `v` (INTA): requested -> in service.
    pub(crate) fn ack(&mut self, v: u8) {
        let (w, b) = ((v >> 5) as usize, 1u32 << (v & 31));
        self.irr[w] &= !b;
        self.isr[w] |= b;
    }

    /// A fixed interrupt arrives (SDM 11.5.5). Dropped while software-disabled, as KVM does;
    /// dropped and logged if its vector is illegal (error.rs).
    pub(crate) fn accept(&mut self, v: u8, level: bool) {
        if !self.enabled() {
            return;
        }
        if error::illegal_vector(v) {
            self.error(error::ESR_RECEIVE_ILLEGAL_VECTOR);
            return;
        }
        self.request(v, level);
    }

    /// Sets IRR (and TMR for a level-triggered interrupt) for a legal vector.
    fn request(&mut self, v: u8, level: bool) {
        let (w, b) = ((v >> 5) as usize, 1u32 << (v & 31));
        self.irr[w] |= b;
        if level {
            self.tmr[w] |= b;
        } else {
            self.tmr[w] &= !b;
        }
    }

    /// Ends the highest in-service interrupt; `LevelEoi` if it was level-triggered (TMR set
    /// at its acceptance, SDM 11.8.4).
    fn eoi(&mut self) -> Effect {
        let Some(v) = highest(&self.isr) else { return Effect::None };
        let (w, b) = ((v >> 5) as usize, 1u32 << (v & 31));
        self.isr[w] &= !b;
        if self.tmr[w] & b != 0 { Effect::LevelEoi(v) } else { Effect::None }
    }

    pub(crate) fn timer_mode(&self) -> TimerMode {
        match (self.lvt[0] >> LVT_TIMER_MODE_SHIFT) & 3 {
            1 => TimerMode::Periodic,
            2 if self.cpuid_deadline => TimerMode::TscDeadline,
            _ => TimerMode::OneShot,
        }
    }

    fn divide(&self) -> u64 {
        // TDCR bits 3,1:0; 111b divides by 1 (SDM figure 11-10).
        let x = (self.tdcr & 3) | ((self.tdcr & 8) >> 1);
        1 << ((x + 1) & 7)
    }

    /// The host timer fired: the timer interrupt is requested unless masked, and a one-shot
    /// or deadline timer stops.
    pub(crate) fn timer_expired(&mut self) {
        match self.timer_mode() {
            TimerMode::OneShot => self.timer_start = None,
            TimerMode::TscDeadline => self.tsc_deadline = 0,
            TimerMode::Periodic => {}
        }
        if self.lvt[0] & LVT_MASKED == 0 {
            self.accept(self.lvt[0] as u8, false);
        }
    }

    /// The current count (TMCCT) at time `now`.
    fn current_count(&self, now: u64) -> u32 {
        let Some(start) = self.timer_start else { return 0 };
        if self.timer_mode() == TimerMode::TscDeadline || self.timer_period == 0 {
            return 0;
        }
        let elapsed = now.saturating_sub(start).saturating_add(self.timer_ran);
        let left = match self.timer_mode() {
            TimerMode::Periodic => self.timer_period - elapsed % self.timer_period,
            _ => self.timer_period.saturating_sub(elapsed),
        };
        (left / (BUS_CYCLE_NS * self.divide())).min(u32::MAX as u64) as u32
    }

    fn start_timer(&mut self, now: u64) -> Effect {
        if self.tmict == 0 {
            self.timer_start = None;
            return Effect::CancelTimer;
        }
        let mut period = self.tmict as u64 * BUS_CYCLE_NS * self.divide();
        let periodic = self.timer_mode() == TimerMode::Periodic;
        if periodic {
            period = period.max(MIN_PERIOD_NS);
        }
        self.timer_period = period;
        self.timer_start = Some(now);
        self.timer_ran = 0;
        Effect::ArmTimer { ns: period, period_ns: if periodic { period } else { 0 } }
    }

    /// Guest TSC-deadline MSR write (SDM 11.5.4.1): ignored outside TSC-deadline mode; zero
    /// disarms.
    pub(crate) fn write_tsc_deadline(&mut self, v: u64) -> Effect {
        if self.timer_mode() != TimerMode::TscDeadline || !self.hw_enabled() {
            return Effect::None;
        }
        self.tsc_deadline = v;
        if v == 0 { Effect::CancelTimer } else { Effect::ArmDeadline(v) }
    }

    pub(crate) fn read_tsc_deadline(&self) -> u64 {
        if self.timer_mode() == TimerMode::TscDeadline { self.tsc_deadline } else { 0 }
    }

    /// A 32-bit register read at `off` (16-byte aligned). `None`: no such register.
    pub(crate) fn read(&self, off: u32, now: u64) -> Option<u32> {
        let x2 = self.x2apic();
        Some(match off {
            REG_ID => if x2 { self.x2apic_id } else { (self.xapic_id as u32) << 24 },
            REG_LVR => LVR_BASE | if self.cpuid_x2apic { LVR_DIRECTED_EOI } else { 0 },
            REG_TPR => self.tpr,
            REG_APR if !x2 => 0,
            REG_PPR => self.ppr(),
            REG_LDR => self.ldr,
            REG_DFR if !x2 => self.dfr,
            REG_SVR => self.svr,
            0x100..=0x170 => self.isr[((off - REG_ISR) >> 4) as usize],
            0x180..=0x1f0 => self.tmr[((off - REG_TMR) >> 4) as usize],
            0x200..=0x270 => self.irr[((off - REG_IRR) >> 4) as usize],
            REG_ESR => self.esr,
            REG_ICR => self.icr as u32,
            REG_ICR2 if !x2 => (self.icr >> 32) as u32,
            REG_LVTT..=REG_LVTERR => self.lvt[((off - REG_LVTT) >> 4) as usize],
            REG_TMICT => self.tmict,
            REG_TMCCT => self.current_count(now),
            REG_TDCR => self.tdcr,
            // EOI and SELF IPI are write-only: reads give 0 in xAPIC mode, #GP as MSRs.
            REG_EOI | REG_RRD if !x2 => 0,
            _ => return None,
        })
    }

    /// A 32-bit register write at `off`. `Err`: read-only or reserved (x2APIC #GP); in
    /// xAPIC mode such writes are ignored by the caller.
    pub(crate) fn write(&mut self, off: u32, v: u32, now: u64) -> Result<Effect, Fault> {
        let x2 = self.x2apic();
        match off {
            REG_ID if !x2 => {
                self.xapic_id = (v >> 24) as u8;
                return Ok(Effect::Readdressed);
            }
            REG_TPR => self.tpr = v & 0xff,
            REG_EOI => {
                if x2 && v != 0 {
                    return Err(Fault);
                }
                return Ok(self.eoi());
            }
            REG_LDR if !x2 => {
                self.ldr = v & 0xff00_0000;
                return Ok(Effect::Readdressed);
            }
            REG_DFR if !x2 => {
                self.dfr = v | 0x0fff_ffff;
                return Ok(Effect::Readdressed);
            }
            REG_SVR => {
                let was = self.svr & SVR_ENABLE != 0;
                // Vector, enable, focus check (as KVM's 0x3ff); bit 12 (EOI-broadcast
                // suppression) only with directed EOI.
                let mask = if self.cpuid_x2apic { 0x13ff } else { 0x3ff };
                self.svr = v & mask;
                if self.svr & SVR_ENABLE == 0 {
                    // Software disable masks every LVT entry (SDM 11.4.7.2).
                    for l in self.lvt.iter_mut() {
                        *l |= LVT_MASKED;
                    }
                }
                if was != (self.svr & SVR_ENABLE != 0) {
                    return Ok(Effect::Readdressed);
                }
            }
            REG_ESR => {
                if x2 && v != 0 {
                    return Err(Fault);
                }
                self.write_esr();
            }
            REG_ICR => {
                let hi = if x2 { 0 } else { self.icr & 0xffff_ffff_0000_0000 };
                self.icr = hi | (v as u64 & !(1 << 12));
                return Ok(self.send(self.icr_message()));
            }
            REG_ICR2 if !x2 => self.icr = (self.icr & 0xffff_ffff) | ((v as u64 & 0xff00_0000) << 32),
            REG_LVTT..=REG_LVTERR => {
                let i = ((off - REG_LVTT) >> 4) as usize;
                // Writable bits per entry (SDM figure 11-8): vector, mask; delivery mode for
                // thermal/PMC/LINTx; polarity and trigger for LINTx; mode for the timer.
                let mut mask = match i {
                    0 => 0xff | LVT_MASKED | (1 << 17) | if self.cpuid_deadline { 1 << 18 } else { 0 },
                    1 | 2 => 0xff | (7 << 8) | LVT_MASKED,
                    3 | 4 => 0xff | (7 << 8) | (1 << 13) | (1 << 15) | LVT_MASKED,
                    _ => 0xff | LVT_MASKED,
                };
                if self.svr & SVR_ENABLE == 0 {
                    mask |= LVT_MASKED;
                }
                let mut nv = v & mask;
                if self.svr & SVR_ENABLE == 0 {
                    nv |= LVT_MASKED;
                }
                let Some(l) = self.lvt.get_mut(i) else { return Err(Fault) };
                let was_deadline = (*l >> LVT_TIMER_MODE_SHIFT) & 3 == 2;
                *l = nv;
                if i == 0 && was_deadline != ((nv >> LVT_TIMER_MODE_SHIFT) & 3 == 2) {
                    // Entering or leaving TSC-deadline mode stops the timer (as KVM's
                    // apic_update_lvtt(); one-shot <-> periodic keeps counting).
                    self.tmict = 0;
                    self.tsc_deadline = 0;
                    self.timer_start = None;
                    return Ok(Effect::CancelTimer);
                }
            }
            REG_TMICT => {
                if self.timer_mode() == TimerMode::TscDeadline {
                    return Ok(Effect::None);
                }
                self.tmict = v;
                return Ok(self.start_timer(now));
            }
            REG_TDCR => {
                self.tdcr = v & 0xb;
            }
            REG_SELF_IPI if x2 => {
                return Ok(self.send(Message {
                    vector: v as u8,
                    delivery: DM_FIXED,
                    logical: false,
                    shorthand: 1,
                    dest: 0,
                    level_trigger: false,
                    assert: true,
                }));
            }
            _ => return Err(Fault),
        }
        Ok(Effect::None)
    }

    /// A message leaves this APIC, unless it is a fixed or lowest-priority interrupt with an
    /// illegal vector: not sent, logged (error.rs).
    fn send(&mut self, m: Message) -> Effect {
        if m.delivery <= DM_LOWEST && error::illegal_vector(m.vector) {
            self.error(error::ESR_SEND_ILLEGAL_VECTOR);
            return Effect::None;
        }
        Effect::Send(m)
    }

    fn icr_message(&self) -> Message {
        let lo = self.icr as u32;
        Message {
            vector: lo as u8,
            delivery: ((lo >> 8) & 7) as u8,
            logical: lo & (1 << 11) != 0,
            shorthand: ((lo >> 18) & 3) as u8,
            dest: if self.x2apic() { (self.icr >> 32) as u32 } else { (self.icr >> 56) as u32 },
            level_trigger: lo & (1 << 15) != 0,
            assert: lo & (1 << 14) != 0,
        }
    }
}
