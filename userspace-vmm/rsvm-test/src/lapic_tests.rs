//! Host-side unit tests of the module's local APIC model (rust/lapic/, compiled here as
//! is: it uses only `core`). Expected values from the SDM vol. 3 ch. 11 and, where it
//! leaves a choice, from KVM's lapic.c.

#[path = "../../../rust/lapic/mod.rs"]
// The module's re-exports (`route::DM_*`) the tests do not all use.
#[allow(dead_code, unused_imports)]
mod lapic;

use lapic::*;

fn enabled() -> Lapic {
    let mut l = Lapic::new(0, true);
    l.set_cpuid(true, true);
    assert_eq!(l.write(REG_SVR, 0x1ff, 0), Ok(Effect::Readdressed));
    l
}

#[test]
fn reset_state() {
    let l = Lapic::new(3, false);
    assert_eq!(l.base, 0xfee0_0800, "enabled, not BSP");
    assert_eq!(l.read(REG_ID, 0), Some(3 << 24));
    assert_eq!(l.read(REG_SVR, 0), Some(0xff), "software-disabled, spurious vector 0xff");
    assert_eq!(l.read(REG_LVTT, 0), Some(1 << 16), "LVT masked");
    assert_eq!(l.read(REG_DFR, 0), Some(0xffff_ffff), "flat model");
    assert_eq!(l.read(REG_LVR, 0), Some(0x5_0014), "version 0x14, 6 LVT entries");
    assert_eq!(l.mmio_base(), Some(0xfee0_0000));
    assert!(!l.enabled());
}

#[test]
fn software_disabled_drops_fixed_interrupts() {
    let mut l = Lapic::new(0, true);
    l.accept(0x40, false);
    assert_eq!(l.deliverable(), None);
    let mut l = enabled();
    l.accept(0x40, false);
    assert_eq!(l.deliverable(), Some(0x40));
}

#[test]
fn priority_tpr_isr_and_eoi() {
    let mut l = enabled();
    for v in [0x50, 0x70, 0x60] {
        l.accept(v, false);
    }
    assert_eq!(l.read(REG_IRR + 0x20, 0), Some(1 << 16));
    assert_eq!(l.read(REG_IRR + 0x30, 0), Some(1 | 1 << 16));
    l.write(REG_TPR, 0x60, 0).unwrap();
    assert_eq!(l.ppr(), 0x60);
    assert_eq!(l.deliverable(), Some(0x70), "only class 7 beats TPR class 6");
    l.ack(0x70);
    assert_eq!(l.ppr(), 0x70, "PPR follows the in-service vector's class");
    assert_eq!(l.read(REG_ISR + 0x30, 0), Some(1 << 16));
    assert_eq!(l.deliverable(), None);
    assert!(!l.blocked_by_tpr(), "held back by the ISR, not only the TPR");
    l.write(REG_EOI, 0, 0).unwrap();
    assert_eq!(l.read(REG_ISR + 0x30, 0), Some(0));
    assert_eq!(l.deliverable(), None);
    assert!(l.blocked_by_tpr(), "0x60 waits for the TPR alone");
    l.set_tpr(0);
    assert_eq!(l.deliverable(), Some(0x60), "highest first");
    l.ack(0x60);
    // Same class as the in-service vector: waits for its EOI.
    l.accept(0x61, false);
    assert_eq!(l.deliverable(), None);
    l.write(REG_EOI, 0, 0).unwrap();
    assert_eq!(l.deliverable(), Some(0x61));
}

#[test]
fn level_triggered_eoi() {
    let mut l = enabled();
    // 0x51 level (an assigned device's INTx), 0x50 edge (an MSI).
    l.accept(0x51, true);
    l.accept(0x50, false);
    assert_eq!(l.read(REG_TMR + 0x20, 0), Some(1 << 17), "TMR set for the level vector only");
    assert_eq!(l.deliverable(), Some(0x51));
    l.ack(0x51);
    assert_eq!(l.write(REG_EOI, 0, 0), Ok(Effect::LevelEoi(0x51)), "EOI of a level vector is reported");
    l.ack(0x50);
    assert_eq!(l.write(REG_EOI, 0, 0), Ok(Effect::None), "edge EOI: nothing to tell");
    assert_eq!(l.write(REG_EOI, 0, 0), Ok(Effect::None), "EOI with nothing in service");
    // TMR follows the trigger mode of the vector's last acceptance (SDM 11.8.4).
    l.accept(0x51, false);
    assert_eq!(l.read(REG_TMR + 0x20, 0), Some(0));
    l.ack(0x51);
    assert_eq!(l.write(REG_EOI, 0, 0), Ok(Effect::None));
    // x2APIC: the EOI MSR reports it too; only the highest in-service vector ends.
    l.set_base(0xfee0_0c00, false).unwrap();
    l.accept(0x51, true);
    l.ack(0x51);
    l.accept(0x61, false);
    l.ack(0x61);
    assert_eq!(l.msr_write(0x80b, 0, 0), Ok(Effect::None), "0x61 (edge) ends first");
    assert_eq!(l.msr_write(0x80b, 0, 0), Ok(Effect::LevelEoi(0x51)));
    assert_eq!(l.msr_write(0x80b, 1, 0), Err(Fault), "non-zero EOI write #GPs");
}

#[test]
fn software_disable_masks_lvts() {
    let mut l = enabled();
    l.write(REG_LVTT, 0x30, 0).unwrap();
    assert_eq!(l.read(REG_LVTT, 0), Some(0x30));
    l.write(REG_SVR, 0xff, 0).unwrap();
    assert_eq!(l.read(REG_LVTT, 0), Some(0x1_0030));
    l.write(REG_LVTT, 0x31, 0).unwrap();
    assert_eq!(l.read(REG_LVTT, 0), Some(0x1_0031), "writes while disabled stay masked");
    l.write(REG_SVR, 0x1ff, 0).unwrap();
    assert_eq!(l.read(REG_LVTT, 0), Some(0x1_0031), "re-enabling does not unmask");
}

#[test]
fn one_shot_timer_counts_down_then_stops() {
    let mut l = enabled();
    l.write(REG_TDCR, 0xb, 0).unwrap(); // divide by 1
    l.write(REG_LVTT, 0x40, 0).unwrap();
    assert_eq!(l.write(REG_TMICT, 1000, 100), Ok(Effect::ArmTimer { ns: 1000 * BUS_CYCLE_NS, period_ns: 0 }));
    assert_eq!(l.read(REG_TMCCT, 100 + 400), Some(600));
    l.timer_expired();
    assert_eq!(l.read(REG_TMCCT, 100 + 1000), Some(0));
    assert_eq!(l.deliverable(), Some(0x40));
    // Divide by 2 (TDCR 0): twice the time per count.
    l.write(REG_TDCR, 0, 0).unwrap();
    assert_eq!(l.write(REG_TMICT, 10, 0), Ok(Effect::ArmTimer { ns: 20, period_ns: 0 }));
    assert_eq!(l.write(REG_TMICT, 0, 0), Ok(Effect::CancelTimer), "TMICT 0 stops the timer");
}

#[test]
fn periodic_timer_has_a_floor_and_keeps_running() {
    let mut l = enabled();
    l.write(REG_TDCR, 0xb, 0).unwrap();
    l.write(REG_LVTT, 1 << 17 | 0x41, 0).unwrap();
    assert_eq!(l.timer_mode(), TimerMode::Periodic);
    assert_eq!(l.write(REG_TMICT, 10, 0), Ok(Effect::ArmTimer { ns: MIN_PERIOD_NS, period_ns: MIN_PERIOD_NS }));
    l.timer_expired();
    let p = MIN_PERIOD_NS;
    assert_eq!(l.read(REG_TMCCT, p + p / 4), Some((3 * p / 4) as u32), "counts down again after each period");
}

#[test]
fn masked_timer_requests_nothing() {
    let mut l = enabled();
    l.write(REG_LVTT, 1 << 16 | 0x40, 0).unwrap();
    l.timer_expired();
    assert_eq!(l.deliverable(), None);
}

#[test]
fn tsc_deadline_mode() {
    let mut l = enabled();
    assert_eq!(l.write_tsc_deadline(1234), Effect::None, "ignored outside TSC-deadline mode");
    assert_eq!(l.write(REG_LVTT, 2 << 17 | 0x42, 0), Ok(Effect::CancelTimer), "entering deadline mode stops the timer");
    assert_eq!(l.timer_mode(), TimerMode::TscDeadline);
    assert_eq!(l.write(REG_TMICT, 99, 0), Ok(Effect::None), "TMICT ignored");
    assert_eq!(l.read(REG_TMICT, 0), Some(0));
    assert_eq!(l.write_tsc_deadline(5000), Effect::ArmDeadline(5000));
    assert_eq!(l.read_tsc_deadline(), 5000);
    l.timer_expired();
    assert_eq!(l.read_tsc_deadline(), 0, "reads 0 once fired");
    assert_eq!(l.deliverable(), Some(0x42));
    assert_eq!(l.write_tsc_deadline(0), Effect::CancelTimer);
    // Without TSC-deadline in CPUID the mode bit is not writable.
    let mut l = Lapic::new(0, true);
    l.set_cpuid(false, false);
    l.write(REG_SVR, 0x1ff, 0).unwrap();
    l.write(REG_LVTT, 2 << 17 | 0x42, 0).unwrap();
    assert_eq!(l.timer_mode(), TimerMode::OneShot);
}

#[test]
fn icr_messages() {
    let mut l = enabled();
    l.write(REG_ICR2, 0x0300_0000, 0).unwrap();
    let e = l.write(REG_ICR, 0x4_0000 | 0x55, 0).unwrap();
    assert_eq!(e, Effect::Send(Message { vector: 0x55, delivery: 0, logical: false, shorthand: 1, dest: 3, level_trigger: false, assert: false }));
    assert_eq!(l.read(REG_ICR, 0), Some(0x4_0055), "delivery status always idle");
    let e = l.write(REG_ICR, 0x800 | 0x100 | 0x66, 0).unwrap();
    assert_eq!(e, Effect::Send(Message { vector: 0x66, delivery: 1, logical: true, shorthand: 0, dest: 3, level_trigger: false, assert: false }));
}

/// Illegal vectors 0-15 (SDM 11.5.3, APM 16.4.6): not sent, not received, logged in ESR
/// after the next ESR write, and the LVT error interrupt raised.
#[test]
fn illegal_vectors_set_esr_and_are_dropped() {
    let mut l = enabled();
    // Fixed and lowest-priority IPIs with vector 5: not sent; NMI/INIT carry no vector.
    assert_eq!(l.write(REG_ICR, 0x4_0005, 0), Ok(Effect::None));
    assert_eq!(l.write(REG_ICR, 0x4_0105, 0), Ok(Effect::None));
    assert!(matches!(l.write(REG_ICR, 0x4_0405, 0), Ok(Effect::Send(_))), "NMI is sent");
    assert_eq!(l.read(REG_ESR, 0), Some(0), "nothing readable before the ESR write");
    l.write(REG_ESR, 0, 0).unwrap();
    assert_eq!(l.read(REG_ESR, 0), Some(0x20), "Send Illegal Vector");
    l.write(REG_ESR, 0, 0).unwrap();
    assert_eq!(l.read(REG_ESR, 0), Some(0), "the write cleared it");
    // Received: dropped, logged; with the LVT error entry unmasked, its interrupt comes.
    l.write(REG_LVTERR, 0x4e, 0).unwrap();
    l.accept(3, false);
    assert_eq!(l.deliverable(), Some(0x4e), "the error interrupt, not vector 3");
    l.write(REG_ESR, 0, 0).unwrap();
    assert_eq!(l.read(REG_ESR, 0), Some(0x40), "Receive Illegal Vector");
    // A timer with vector 2 fires into the same error; an illegal error vector only logs.
    l.ack(0x4e);
    l.write(REG_EOI, 0, 0).unwrap();
    l.write(REG_LVTERR, 0x7, 0).unwrap();
    l.write(REG_LVTT, 0x2, 0).unwrap();
    l.timer_expired();
    assert_eq!(l.deliverable(), None);
    l.write(REG_ESR, 0, 0).unwrap();
    assert_eq!(l.read(REG_ESR, 0), Some(0x40));
}

#[test]
fn x2apic_mode_and_msrs() {
    let mut l = Lapic::new(0x21, false);
    l.set_cpuid(true, true);
    assert_eq!(l.msr_read(0x802, 0), Err(Fault), "x2APIC MSRs #GP in xAPIC mode");
    // Disabled -> x2APIC directly is illegal; xAPIC -> x2APIC is fine.
    let mut d = Lapic::new(0, false);
    d.set_cpuid(true, true);
    d.set_base(0xfee0_0000, false).unwrap();
    assert_eq!(d.set_base(0xfee0_0c00, false), Err(Fault));
    assert_eq!(l.set_base(0xfee0_0c00, false), Ok(Effect::Readdressed));
    assert!(l.x2apic());
    assert_eq!(l.mmio_base(), None, "no MMIO in x2APIC mode");
    assert_eq!(l.msr_read(0x802, 0), Ok(0x21), "32-bit x2APIC ID");
    assert_eq!(l.msr_read(0x80d, 0), Ok(2 << 16 | 1 << 1), "LDR: cluster id >> 4, bit id & 15");
    assert_eq!(l.msr_read(0x80b, 0), Err(Fault), "EOI is write-only");
    assert_eq!(l.msr_read(0x809, 0), Err(Fault), "no DFR in x2APIC mode");
    assert_eq!(l.msr_write(0x802, 5, 0), Err(Fault), "ID is read-only");
    assert_eq!(l.msr_write(0x808, 1 << 32, 0), Err(Fault), "reserved upper half");
    assert_eq!(l.set_base(0xfee0_0800, false), Err(Fault), "x2APIC -> xAPIC is illegal");
    l.msr_write(0x80f, 0x1ff, 0).unwrap();
    let e = l.msr_write(0x83f, 0x57, 0).unwrap();
    assert_eq!(e, Effect::Send(Message { vector: 0x57, delivery: 0, logical: false, shorthand: 1, dest: 0, level_trigger: false, assert: true }));
    let e = l.msr_write(0x830, 0x21 << 32 | 0x58, 0).unwrap();
    assert_eq!(e, Effect::Send(Message { vector: 0x58, delivery: 0, logical: false, shorthand: 0, dest: 0x21, level_trigger: false, assert: false }));
    assert_eq!(l.msr_read(0x830, 0), Ok(0x21 << 32 | 0x58));
    // Without x2APIC in CPUID, EXTD is a reserved bit.
    let mut n = Lapic::new(0, true);
    assert_eq!(n.set_base(0xfee0_0d00, false), Err(Fault));
}

#[test]
fn hardware_disable_resets() {
    let mut l = enabled();
    l.accept(0x40, false);
    assert_eq!(l.set_base(0xfee0_0100, false), Ok(Effect::CancelTimer));
    assert!(!l.hw_enabled());
    assert_eq!(l.deliverable(), None);
    assert_eq!(l.mmio_base(), None);
    l.set_base(0xfee0_0900, false).unwrap();
    assert_eq!(l.read(REG_IRR + 0x20, 0), Some(0), "requests were dropped");
    assert_eq!(l.read(REG_SVR, 0), Some(0xff));
}

#[test]
fn routes_match_destinations() {
    let msg = |dest, logical, shorthand| Message { vector: 0x30, delivery: 0, logical, shorthand, dest, level_trigger: false, assert: true };
    let mut a = enabled();
    a.write(REG_LDR, 0x0400_0000, 0).unwrap();
    let r = a.route();
    assert!(r.matches(&msg(0, false, 0), false), "physical id 0");
    assert!(!r.matches(&msg(1, false, 0), false));
    assert!(r.matches(&msg(0xff, false, 0), false), "xAPIC broadcast");
    assert!(r.matches(&msg(0x06, true, 0), false), "flat logical: bit 2 set");
    assert!(!r.matches(&msg(0x03, true, 0), false));
    assert!(r.matches(&msg(9, false, 1), true) && !r.matches(&msg(9, false, 1), false), "self shorthand");
    assert!(!r.matches(&msg(0, false, 3), true), "all-but-self");
    a.write(REG_DFR, 0x0fff_ffff, 0).unwrap();
    a.write(REG_LDR, 0x1200_0000, 0).unwrap();
    let r = a.route();
    assert!(r.matches(&msg(0x16, true, 0), false), "cluster 1, member bit 1");
    assert!(!r.matches(&msg(0x26, true, 0), false), "other cluster");
    let mut x = Lapic::new(0x12, false);
    x.set_cpuid(true, false);
    x.set_base(0xfee0_0c00, false).unwrap();
    x.msr_write(0x80f, 0x1ff, 0).unwrap();
    let r = x.route();
    assert!(r.matches(&msg(0x12, false, 0), false));
    assert!(r.matches(&msg(0x1_0004, true, 0), false), "x2APIC cluster 1, bit 2");
    assert!(!r.matches(&msg(0xff, false, 0), false), "0xff is not broadcast in x2APIC mode");
    assert!(r.matches(&msg(0xffff_ffff, false, 0), false));
    assert!(!Lapic::new(0, true).route().matches(&msg(0, false, 0), false), "software-disabled APIC takes nothing");
}

#[test]
fn msi_decoding() {
    // Address 0xFEE0_3004: destination 3, logical; data: vector 0x41, lowest priority, level.
    let m = Message::from_msi(0xfee0_3004, 0x8141);
    assert_eq!(m, Message { vector: 0x41, delivery: 1, logical: true, shorthand: 0, dest: 3, level_trigger: true, assert: true });
}

fn page_get(p: &[u8; 1024], off: u32) -> u32 {
    let o = off as usize;
    u32::from_le_bytes(p[o..o + 4].try_into().unwrap())
}

fn page_put(p: &mut [u8; 1024], off: u32, v: u32) {
    let o = off as usize;
    p[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn lapic_state_xapic_round_trip() {
    // KVM_GET_LAPIC then KVM_SET_LAPIC of the same page changes nothing.
    let mut l = enabled();
    l.write(REG_TPR, 0x30, 0).unwrap();
    l.accept(0x41, true);
    l.write(REG_ICR2, 0x0300_0000, 0).unwrap();
    let p = l.get_state(0, false);
    assert_eq!(page_get(&p, REG_ID), 0, "xAPIC ID 0 in bits 31:24");
    assert_eq!(page_get(&p, REG_LVR), 0x5_0014 | 1 << 24, "computed version, directed EOI with x2APIC in CPUID");
    assert_eq!(page_get(&p, REG_TPR), 0x30);
    assert_eq!(page_get(&p, REG_IRR + 0x20), 1 << 1);
    assert_eq!(page_get(&p, REG_TMR + 0x20), 1 << 1, "level-triggered");
    assert_eq!(page_get(&p, REG_ICR2), 0x0300_0000);
    assert_eq!(page_get(&p, REG_SVR), 0x1ff);
    let mut m = Lapic::new(0, true);
    m.set_cpuid(true, true);
    assert_eq!(m.set_state(&p, 0, false), Ok(Effect::CancelTimer), "no timer running");
    assert_eq!(m.get_state(0, false), p);
    assert_eq!(m.deliverable(), Some(0x41));
}

#[test]
fn lapic_state_ids_and_icr_in_x2apic_mode() {
    let mut l = Lapic::new(5, false);
    l.set_cpuid(true, true);
    l.set_base(0xfee0_0000 | APIC_BASE_EN | APIC_BASE_EXTD, true).unwrap();
    l.msr_write(MSR_X2APIC_FIRST + (REG_SVR >> 4), 0x1ff, 0).unwrap();
    l.msr_write(MSR_X2APIC_FIRST + (REG_ICR >> 4), 0x0000_0007_0004_40f0, 0).unwrap();
    let p = l.get_state(0, false);
    assert_eq!(page_get(&p, REG_ID), 5 << 24, "without KVM_X2APIC_API_USE_32BIT_IDS, shifted");
    assert_eq!(l.get_state(0, true)[REG_ID as usize], 5, "with it, as is");
    assert_eq!((page_get(&p, REG_ICR), page_get(&p, REG_ICR2)), (0x0004_40f0, 7), "ICR split in two words (SVM)");
    assert_eq!(page_get(&p, REG_LDR), 1 << 5, "cluster 0, bit 5");
    // The x2APIC ID is read-only: ignored without the format, EINVAL with it.
    let mut q = p;
    page_put(&mut q, REG_ID, 9 << 24);
    page_put(&mut q, REG_LDR, 0x1234);
    assert!(l.set_state(&q, 0, false).is_ok());
    assert_eq!(page_get(&l.get_state(0, false), REG_ID), 5 << 24);
    assert_eq!(page_get(&l.get_state(0, false), REG_LDR), 1 << 5, "LDR derived from the ID");
    assert_eq!(l.set_state(&q, 0, true), Err(Fault));
    page_put(&mut q, REG_ID, 5);
    assert!(l.set_state(&q, 0, true).is_ok());
    // Reserved ICR bits #GP in x2APIC mode (31:20, 17:16, 13).
    for bit in [31, 20, 17, 16, 13] {
        assert_eq!(l.msr_write(MSR_X2APIC_FIRST + (REG_ICR >> 4), 0x40 | 1u64 << bit, 0), Err(Fault), "bit {bit}");
    }
    // Back to xAPIC by the host: the xAPIC ID is the vCPU's again.
    l.set_base(0xfee0_0000 | APIC_BASE_EN, true).unwrap();
    assert_eq!(page_get(&l.get_state(0, false), REG_ID), 5 << 24);
}

#[test]
fn lapic_state_timer_goes_on_from_tmcct() {
    let mut l = enabled();
    l.write(REG_TDCR, 0xb, 0).unwrap(); // divide by 1: a count is a nanosecond
    l.write(REG_LVTT, 0x20, 0).unwrap(); // one-shot, vector 0x20
    assert_eq!(l.write(REG_TMICT, 1_000_000, 0), Ok(Effect::ArmTimer { ns: 1_000_000, period_ns: 0 }));
    let p = l.get_state(400_000, false);
    assert_eq!(page_get(&p, REG_TMCCT), 600_000, "current count");
    let mut m = enabled();
    assert_eq!(m.set_state(&p, 7_000_000, false), Ok(Effect::ArmTimer { ns: 600_000, period_ns: 0 }));
    assert_eq!(m.read(REG_TMCCT, 7_100_000), Some(500_000), "counts on from TMCCT");
    let mut z = enabled();
    z.set_state(&p, 0, false).unwrap();
    assert_eq!(z.read(REG_TMCCT, 100_000), Some(500_000), "also when set at the clock's start (a new vCPU's epoch)");
    let mut q = p;
    page_put(&mut q, REG_TMCCT, 0);
    assert_eq!(m.set_state(&q, 0, false), Ok(Effect::ArmTimer { ns: 0, period_ns: 0 }), "a one-shot with TMCCT 0 has expired");
    page_put(&mut q, REG_LVTT, 0x20 | 1 << 17);
    assert_eq!(m.set_state(&q, 0, false), Ok(Effect::ArmTimer { ns: 1_000_000, period_ns: 1_000_000 }), "periodic: a new period");
    page_put(&mut q, REG_TMCCT, 5_000_000);
    assert_eq!(m.set_state(&q, 0, false), Ok(Effect::ArmTimer { ns: 1_000_000, period_ns: 1_000_000 }), "clamped to the period");
}
