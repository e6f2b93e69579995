//! Host-side unit tests of the module's SVM decisions that QEMU's SVM cannot exercise
//! (it has no VMCB clean bits, NRIP save, decode assists or flush-by-ASID), and of the one
//! exit table. The module files are compiled here as they are (see `mod svm` in main.rs).

use crate::asid::{AsidCpu, VcpuAsid};
use crate::svm::assist::*;
use crate::svm::clean::{self, CleanBit, Field};
use crate::svm::event::{complete, EventInj, EventType, IntCtl, Virq, VirqSource};
use crate::svm::exit::{ExitCode, Handler, IoioInfo, Stat};
use crate::svm::vmcb::{Intercept, Vmcb, TLB_CONTROL_DO_NOTHING, TLB_CONTROL_FLUSH_ALL, TLB_CONTROL_FLUSH_ASID};

fn zeroed_vmcb() -> Box<Vmcb> {
    // SAFETY: `Vmcb` is plain old data for which all-zero is valid (the module zeroes its
    // VMCB pages the same way); the layout is the allocator's for `Vmcb`.
    unsafe {
        let layout = std::alloc::Layout::new::<Vmcb>();
        let p = std::alloc::alloc_zeroed(layout).cast::<Vmcb>();
        assert!(!p.is_null());
        Box::from_raw(p)
    }
}

// ---- VMCB clean bits ------------------------------------------------------------------

#[test]
fn each_field_clears_its_apm_group() {
    // APM vol. 2, 15.15.3: the group each field belongs to.
    let table = [
        (Field::Intercepts, 0),
        (Field::TscOffset, 0),
        (Field::Asid, 2),
        (Field::IntCtl, 3),
        (Field::GPat, 4),
        (Field::Cr0, 5),
        (Field::Cr3, 5),
        (Field::Cr4, 5),
        (Field::Efer, 5),
        (Field::Seg, 8),
        (Field::Cpl, 8),
        (Field::Gdtr, 7),
        (Field::Idtr, 7),
        (Field::Cr2, 9),
    ];
    let all = clean::ALL_CLEAN;
    for (f, bit) in table {
        assert_eq!(f.clean_bit() as u32, bit, "{f:?}");
        assert_eq!(clean::mark_dirty(all, f), all & !(1 << bit), "{f:?} clears only its group");
    }
}

#[test]
fn clean_after_exit_needs_the_feature_and_leaves_tpr_and_cr2_dirty() {
    assert_eq!(clean::after_exit(false), 0, "without clean bits the field stays 0 (QEMU)");
    let c = clean::after_exit(true);
    assert_eq!(c & CleanBit::Tpr.mask(), 0);
    assert_eq!(c & CleanBit::Cr2.mask(), 0);
    for b in [CleanBit::Intercepts, CleanBit::Iopm, CleanBit::Asid, CleanBit::Np, CleanBit::Crx, CleanBit::Seg, CleanBit::Dt] {
        assert_ne!(c & b.mask(), 0, "{b:?} clean after an exit");
    }
    assert_eq!(c & !((1 << 13) - 1), 0, "no undefined bits");
}

#[test]
fn all_dirty_unless_same_vmcb_on_same_cpu() {
    let pa = 0x1234_5000;
    assert!(clean::cached_here(Some(3), 3, pa, pa));
    assert!(!clean::cached_here(Some(2), 3, pa, pa), "VMCB last ran on another CPU");
    assert!(!clean::cached_here(None, 3, pa, pa), "VMCB never ran since its reset");
    assert!(!clean::cached_here(Some(3), 3, 0x9999_0000, pa), "another VMCB ran on this CPU");
    assert!(!clean::cached_here(Some(3), 3, 0, pa), "this CPU came back online");
    let c = clean::after_exit(true);
    assert_eq!(clean::before_run(c, true, true), c);
    assert_eq!(clean::before_run(c, true, false), 0);
    assert_eq!(clean::before_run(c, false, true), 0);
}

#[test]
fn vmcb_setters_mark_their_group_dirty() {
    let mut v = zeroed_vmcb();
    let fresh = || clean::after_exit(true);
    v.control.clean = fresh();
    v.set_intercept(Intercept::Cr8Write);
    assert_eq!(v.control.clean, fresh() & !CleanBit::Intercepts.mask());
    // Re-asserting an intercept that is already set keeps the group clean.
    v.control.clean = fresh();
    v.set_intercept(Intercept::Cr8Write);
    assert_eq!(v.control.clean, fresh());
    v.clear_intercept(Intercept::Cr8Write);
    assert_eq!(v.control.clean, fresh() & !CleanBit::Intercepts.mask());
    assert_eq!(v.control.intercepts[0], 0);
    // The same ASID again keeps ASID clean; a new one does not.
    v.control.clean = fresh();
    v.set_asid(0);
    assert_eq!(v.control.clean, fresh());
    v.set_asid(5);
    assert_eq!(v.control.clean, fresh() & !CleanBit::Asid.mask());
    for (set, bit) in [
        (Vmcb::set_efer as fn(&mut Vmcb, u64), CleanBit::Crx),
        (Vmcb::set_g_pat, CleanBit::Np),
        (Vmcb::set_cr2, CleanBit::Cr2),
        (Vmcb::set_tsc_offset, CleanBit::Intercepts),
    ] {
        v.control.clean = ALL;
        set(&mut v, 1);
        assert_eq!(v.control.clean, ALL & !bit.mask(), "{bit:?}");
    }
    v.control.clean = ALL;
    v.set_cs_selector_base(0x9a00, 0x9a000);
    assert_eq!(v.control.clean, ALL & !CleanBit::Seg.mask());
    v.control.clean = ALL;
    v.request_vintr_window();
    assert_eq!(v.control.clean, ALL & !CleanBit::Tpr.mask() & !CleanBit::Intercepts.mask());
    v.mark_all_dirty();
    assert_eq!(v.control.clean, 0);
    // Without the feature, nothing ever sets a bit.
    v.mark_clean_after_exit(false);
    v.prepare_clean(false, true);
    assert_eq!(v.control.clean, 0);
}
const ALL: u32 = clean::ALL_CLEAN;

/// The host-protecting intercepts of issue 15 (APM table B-1 bit positions): #DB, #AC, #MC;
/// RDPMC, INVD; RDTSCP, WBINVD, MONITOR, MWAIT, RDPRU.
#[test]
fn base_intercepts_protect_the_host() {
    let mut v = zeroed_vmcb();
    v.init_control(0x1000, 0x2000, 0x3000);
    let i = v.control.intercepts;
    for (word, bit, what) in [(2, 1, "#DB"), (2, 17, "#AC"), (2, 18, "#MC"), (3, 15, "RDPMC"), (3, 22, "INVD"), (4, 7, "RDTSCP"), (4, 9, "WBINVD"), (4, 10, "MONITOR"), (4, 11, "MWAIT"), (4, 14, "RDPRU")] {
        assert_ne!(i[word] & (1 << bit), 0, "{what} intercepted");
    }
}

#[test]
fn vintr_window_and_v_tpr() {
    let mut v = zeroed_vmcb();
    v.init_control(0x1000, 0x2000, 0x3000);
    assert_eq!(v.control.int_ctl.0, 1 << 24, "V_INTR_MASKING only");
    assert_ne!(v.control.intercepts[2] & (1 << 17), 0, "#AC intercepted");
    v.set_v_tpr(0x1f);
    assert_eq!(v.control.int_ctl.v_tpr(), 0xf);
    v.request_vintr_window();
    assert_eq!(v.control.int_ctl.0, (1 << 24) | 0xf | (1 << 8) | (1 << 20) | (0xf << 16));
    assert_ne!(v.control.intercepts[3] & (1 << 4), 0, "VINTR intercepted");
    v.clear_vintr_window();
    assert_eq!(v.control.int_ctl.0, (1 << 24) | 0xf);
    assert_eq!(v.control.intercepts[3] & (1 << 4), 0);
    let mut i = IntCtl::default();
    i.set_v_tpr(3);
    assert_eq!(i.0, 3);
}

#[test]
fn virtual_interrupt_delivery() {
    // An external interrupt goes in as V_IRQ + int_vector with VINTR *not* intercepted
    // (a VINTR intercept would turn the delivery into a window exit).
    let mut v = zeroed_vmcb();
    v.init_control(0x1000, 0x2000, 0x3000);
    v.request_vintr_window();
    v.control.clean = ALL;
    v.raise_virtual_interrupt(0xec);
    assert_eq!(v.control.int_vector, 0xec);
    assert!(v.control.int_ctl.v_irq());
    assert_eq!(v.control.int_ctl.0 & ((1 << 20) | (0xf << 16)), (1 << 20) | (0xf << 16), "TPR ignored, top priority");
    assert_eq!(v.control.intercepts[3] & (1 << 4), 0, "VINTR not intercepted");
    assert_eq!(v.control.clean & CleanBit::Tpr.mask(), 0, "int_ctl reloaded");
    // The CPU clears V_IRQ when the guest takes it: that is what after_exit() reads.
    v.control.int_ctl.clear_window();
    assert!(!v.control.int_ctl.v_irq());
}

// ---- EVENTINJ ---------------------------------------------------------------------------

#[test]
fn eventinj_encoding() {
    // APM 15.20: VECTOR 7:0, TYPE 10:8, EV 11, V 31.
    assert_eq!(EventInj::intr(0x30).0, 0x8000_0030);
    assert_eq!(EventInj::exception(14, true).0, 0x8000_0b0e);
    assert_eq!(EventInj::exception(6, false).0, 0x8000_0306);
    let e = EventInj(0x8000_0b0e);
    assert!(e.valid() && e.is_type(EventType::Exception) && e.vector() == 14);
    assert_eq!(e.as_intr().0, 0x8000_000e);
    assert!(!EventInj::NONE.valid());
    assert!(EventInj(0x8000_0430).is_type(EventType::SoftInt));
    // QEMU's TCG reports an interrupt whose delivery faulted as TYPE=exception with its
    // vector (>= 32): read as the interrupt it is; real exceptions (< 32) stay exceptions.
    assert!(EventInj(0x8000_03ec).is_interrupt_as_exception());
    assert_eq!(EventInj(0x8000_03ec).as_intr().0, 0x8000_00ec);
    assert!(!EventInj(0x8000_0b0e).is_interrupt_as_exception());
    assert!(!EventInj(0x8000_00ec).is_interrupt_as_exception());
    assert!(!EventInj(0x8000_0300).is_interrupt_as_exception(), "#DE stays #DE");
}

// ---- completing an entry's events after the exit (KVM's svm_complete_interrupts) -----

fn q(vector: u8, source: VirqSource) -> Option<Virq> {
    Some(Virq { vector, source })
}

#[test]
fn complete_virtual_interrupt() {
    let none = EventInj::NONE;
    // Taken: an APIC vector is acknowledged (IRR -> ISR), nothing stays offered.
    let c = complete(q(0xec, VirqSource::Apic), false, none, none, 0);
    assert_eq!((c.ack, c.taken, c.virq, c.event), (Some(0xec), true, None, None));
    // Not taken (IF=0 all along): the APIC's is chosen afresh; a KVM_INTERRUPT one stays.
    let c = complete(q(0xec, VirqSource::Apic), true, none, none, 0);
    assert_eq!((c.ack, c.taken, c.virq), (None, false, None));
    let c = complete(q(0x30, VirqSource::User), true, none, none, 0);
    assert_eq!((c.ack, c.taken, c.virq), (None, false, q(0x30, VirqSource::User)));
    let c = complete(q(0x30, VirqSource::User), false, none, none, 0);
    assert_eq!((c.ack, c.taken, c.virq), (None, true, None));
    // Hardware: taken (V_IRQ clear), delivery cut short by a nested page fault: EXITINTINFO
    // holds it as INTR; it is offered again, already acknowledged.
    let c = complete(q(0xec, VirqSource::Apic), false, none, EventInj(0x8000_00ec), 0);
    assert_eq!((c.ack, c.virq, c.event), (Some(0xec), q(0xec, VirqSource::Reinjected), None));
    // QEMU: V_IRQ still set and EXITINTINFO an "exception" 0xec: still offered, no re-injection.
    let c = complete(q(0xec, VirqSource::Apic), true, none, EventInj(0x8000_03ec), 0);
    assert_eq!((c.ack, c.taken, c.virq, c.event), (None, false, None, None));
    let c = complete(q(0x30, VirqSource::User), true, none, EventInj(0x8000_0330), 0);
    assert_eq!((c.virq, c.event), (q(0x30, VirqSource::User), None));
}

#[test]
fn complete_exceptions() {
    let none = EventInj::NONE;
    // A #PF whose delivery exited is injected again with its error code.
    let c = complete(None, false, none, EventInj(0x8000_0b0e), 6);
    assert_eq!(c.event, Some((EventInj(0x8000_0b0e), 6)));
    // #DE (vector 0) stays an exception when nothing was injected.
    let c = complete(None, false, none, EventInj(0x8000_0300), 0);
    assert_eq!((c.event, c.virq), (Some((EventInj(0x8000_0300), 0)), None));
    // INT n, #BP and #OF restart with their instruction.
    assert_eq!(complete(None, false, none, EventInj(0x8000_0480), 0).event, None);
    assert_eq!(complete(None, false, none, EventInj(0x8000_0303), 0).event, None);
    // An interrupt injected with EVENTINJ and reported as an exception is an interrupt.
    let c = complete(None, false, EventInj::intr(0x41), EventInj(0x8000_0341), 0);
    assert_eq!((c.virq, c.event), (q(0x41, VirqSource::Reinjected), None));
    // Beside a virtual interrupt not taken, an exception is re-injected and the interrupt stays.
    let c = complete(q(0x30, VirqSource::User), true, none, EventInj(0x8000_0b0e), 2);
    assert_eq!((c.virq, c.event), (q(0x30, VirqSource::User), Some((EventInj(0x8000_0b0e), 2))));
}

// ---- the exit table ---------------------------------------------------------------------

#[test]
fn stat_names_are_the_abi() {
    assert_eq!(Stat::NAMES, rsvm_abi::STAT_NAMES);
    assert_eq!(Stat::NR, rsvm_abi::STAT_NR);
    assert_eq!(Stat::Total as usize, Stat::NR - 1);
}

#[test]
fn exit_table_matches_the_old_lists() {
    // The statistics index of each code as the module counted it before the table.
    let old = |code: u64| match code {
        0x07b => 0,
        0x078 => 2,
        0x072 => 3,
        0x07c => 4,
        0x400 => 5,
        0x060..=0x062 => 6,
        0x064 => 7,
        0x07f => 8,
        u64::MAX => 9,
        0x080 | 0x082..=0x086 | 0x07a => 10,
        0x081 => 11,
        0x08d => 12,
        0x40..=0x5f => 13,
        _ => 14,
    };
    for code in (0..0x500).chain([u64::MAX, 0xffff_ffff, 0x1000]) {
        assert_eq!(ExitCode(code).stat() as usize, old(code), "code {code:#x}");
    }
    assert_eq!(ExitCode(0x18).handler(), Handler::Cr8Write);
    assert_eq!(ExitCode(0x51).handler(), Handler::Ac);
    assert_eq!(ExitCode(0x4e).handler(), Handler::Unexpected);
    assert_eq!(ExitCode(u64::MAX).handler(), Handler::FailEntry);
    assert!(ExitCode::NMI.is_host_event() && !ExitCode::VINTR.is_host_event());
    for c in [0x80, 0x82, 0x83, 0x84, 0x85, 0x86, 0x7a, 0x87, 0x8e] {
        assert_eq!(ExitCode(c).handler(), Handler::InvalidOp);
    }
    for c in [0x76, 0x89, 0x8a, 0x8b] {
        assert_eq!(ExitCode(c).handler(), Handler::Nop);
    }
    assert_eq!(ExitCode(0x6f).handler(), Handler::Rdpmc);
    assert_eq!(ExitCode(0x52).handler(), Handler::Mc);
}

#[test]
fn vmexit_invalid_is_normalised() {
    let mut v = zeroed_vmcb();
    v.control.exit_code = 0xffff_ffff;
    assert_eq!(v.exit_code(), ExitCode::INVALID);
    v.control.exit_code = 0x7b;
    assert_eq!(v.exit_code(), ExitCode::IOIO);
}

// ---- NRIP save and decode assists -------------------------------------------------------

#[test]
fn next_rip_from_nrip_or_decode() {
    // NRIP save: the VMCB's value, and the instruction is not decoded at all.
    assert_eq!(next_rip(true, 0x1234, 0x1000, false, || panic!("decoded")), Some(0x1234));
    // Without: RIP + length, wrapped outside 64-bit mode.
    assert_eq!(next_rip(false, 0, 0x1000, false, || Some(2)), Some(0x1002));
    assert_eq!(next_rip(false, 0, 0xffff_ffff, false, || Some(2)), Some(1));
    assert_eq!(next_rip(false, 0, 0xffff_ffff, true, || Some(2)), Some(0x1_0000_0001));
    assert_eq!(next_rip(false, 0, 0x1000, true, || None), None);
}

#[test]
fn decode_assist_bytes() {
    let mut bytes = [0u8; 15];
    bytes[..3].copy_from_slice(&[0x0f, 0x01, 0xd9]);
    let (b, n) = assist_bytes(true, 3, &bytes).unwrap();
    assert_eq!(&b[..n], &[0x0f, 0x01, 0xd9]);
    assert_eq!(assist_bytes(false, 3, &bytes), None, "not for this exit");
    assert_eq!(assist_bytes(true, 0, &bytes), None, "the CPU fetched nothing");
    assert_eq!(assist_bytes(true, 16, &bytes), None);
}

#[test]
fn cr8_write_source_register() {
    // Decode assists: EXITINFO1 bit 63 valid, GPR in bits 3:0, RIP from NRIP.
    assert_eq!(cr8_write_source(true, (1 << 63) | 9, || panic!("fetched")), Some((9, None)));
    // Bit 63 clear: decode, as without decode assists.
    let insn = |b: &[u8]| {
        let mut a = [0u8; 15];
        a[..b.len()].copy_from_slice(b);
        Some((a, b.len()))
    };
    // mov cr8, rax (44 0f 22 c0); mov cr8, r9 (45 0f 22 c1)
    assert_eq!(cr8_write_source(true, 9, || insn(&[0x44, 0x0f, 0x22, 0xc0])), Some((0, Some(4))));
    assert_eq!(cr8_write_source(false, 0, || insn(&[0x45, 0x0f, 0x22, 0xc1])), Some((9, Some(4))));
    // mov cr0, rax (no REX.R) and memory forms are not CR8 writes.
    assert_eq!(cr8_write_source(false, 0, || insn(&[0x0f, 0x22, 0xc0, 0x90])), None);
    assert_eq!(cr8_write_source(false, 0, || insn(&[0x44, 0x0f, 0x22, 0x00])), None);
    assert_eq!(cr8_write_source(false, 0, || insn(&[0x44, 0x0f, 0x22])), None);
    assert_eq!(cr8_write_source(false, 0, || None), None);
}

#[test]
fn outs_segment_and_address_size() {
    // EXITINFO1 SEG (12:10) = FS with decode assists; prefix or DS without.
    let io = IoioInfo((4 << 10) | (2 << 7) | (1 << 4) | (1 << 2));
    assert_eq!(outs_segment(true, io.segment(), Some(0)), 4);
    assert_eq!(outs_segment(false, io.segment(), Some(0)), 0);
    assert_eq!(outs_segment(false, io.segment(), None), 3);
    assert_eq!(io.addr_size(), Some(4));
    assert_eq!(IoioInfo(0).addr_size(), None);
}

// ---- ASIDs and TLB_CONTROL --------------------------------------------------------------

#[test]
fn tlb_control_for_asid_generations_and_npt_changes() {
    let mut cpu = AsidCpu::new(4); // ASIDs 1..=3
    let mut v = VcpuAsid::default();
    // The first generation starts with a full flush.
    assert_eq!(v.pre_run(&mut cpu, 0, 0, true), (1, TLB_CONTROL_FLUSH_ALL));
    assert_eq!(v.pre_run(&mut cpu, 0, 0, true), (1, TLB_CONTROL_DO_NOTHING));
    // NPT changed: flush this ASID where the CPU can...
    assert_eq!(v.pre_run(&mut cpu, 0, 1, true), (1, TLB_CONTROL_FLUSH_ASID));
    // ... else a new ASID (no flush while the generation lasts).
    assert_eq!(v.pre_run(&mut cpu, 0, 2, false), (2, TLB_CONTROL_DO_NOTHING));
    // Another CPU: a new ASID there.
    let mut cpu1 = AsidCpu::new(4);
    assert_eq!(v.pre_run(&mut cpu1, 1, 2, true), (1, TLB_CONTROL_FLUSH_ALL));
    // Back on CPU 0: new ASID 3; then the generation wraps with a full flush.
    assert_eq!(v.pre_run(&mut cpu, 0, 2, true), (3, TLB_CONTROL_DO_NOTHING));
    let mut w = VcpuAsid::default();
    assert_eq!(w.pre_run(&mut cpu, 0, 0, true), (1, TLB_CONTROL_FLUSH_ALL));
    // `v`'s ASID 3 belongs to the old generation: it gets a new one.
    assert_eq!(v.pre_run(&mut cpu, 0, 2, true), (2, TLB_CONTROL_DO_NOTHING));
    // The CPU went offline and came back (another hypervisor may have used its ASIDs): a
    // vCPU that stayed on it must not keep its ASID without a full flush.
    cpu.restart();
    assert_eq!(v.pre_run(&mut cpu, 0, 2, true), (1, TLB_CONTROL_FLUSH_ALL));
    assert_eq!(w.pre_run(&mut cpu, 0, 0, true), (2, TLB_CONTROL_DO_NOTHING));
}

#[test]
fn mov_to_cr4_source_register() {
    let insn = |b: &[u8]| {
        let mut a = [0u8; 15];
        a[..b.len()].copy_from_slice(b);
        Some((a, b.len()))
    };
    // Decode assists: the GPR from EXITINFO1, RIP from NRIP.
    assert_eq!(mov_to_cr_source(true, (1 << 63) | 3, 4, true, || panic!("fetched")), Some((3, None)));
    // mov cr4, rax (0f 22 e0), 3 bytes; mov cr4, r9 (41 0f 22 e1), 4 bytes in 64-bit mode.
    assert_eq!(mov_to_cr_source(false, 0, 4, true, || insn(&[0x0f, 0x22, 0xe0])), Some((0, Some(3))));
    assert_eq!(mov_to_cr_source(false, 0, 4, true, || insn(&[0x41, 0x0f, 0x22, 0xe1])), Some((9, Some(4))));
    // Outside 64-bit mode 41h is INC ECX, not a prefix.
    assert_eq!(mov_to_cr_source(false, 0, 4, false, || insn(&[0x41, 0x0f, 0x22, 0xe1])), None);
    assert_eq!(mov_to_cr_source(false, 0, 4, false, || insn(&[0x0f, 0x22, 0xe3])), Some((3, Some(3))));
    // mov cr0 / cr12 (REX.R) are not CR4 writes; memory forms do not exist.
    assert_eq!(mov_to_cr_source(false, 0, 4, true, || insn(&[0x0f, 0x22, 0xc0])), None);
    assert_eq!(mov_to_cr_source(false, 0, 4, true, || insn(&[0x44, 0x0f, 0x22, 0xe0])), None);
    assert_eq!(mov_to_cr_source(false, 0, 4, true, || insn(&[0x0f, 0x22, 0x20])), None);
    // The CR8 form through the same decoder.
    assert_eq!(mov_to_cr_source(false, 0, 8, true, || insn(&[0x44, 0x0f, 0x22, 0xc0])), Some((0, Some(4))));
}
