// SPDX-License-Identifier: GPL-2.0

//! The register state as userspace reads and writes it: `KVM_GET/SET_REGS`,
//! `KVM_GET/SET_SREGS` (segments as `struct kvm_segment`, KVM's checks), and the same sets
//! exchanged through the run page (KVM_CAP_SYNC_REGS, `syncregs.rs`).

use super::{state::VcpuState, RunPage, Vcpu};
use crate::{
    cpuid, lapic,
    svm::{event::VirqSource, vmcb::VmcbSeg},
    uapi::kvm::*,
    x86::*,
};
use core::mem::size_of;
use kernel::prelude::*;

/// `struct kvm_sync_regs` in kvm_run's `s`: regs, sregs, events, in that order.
const SYNC_REGS_OFFSET: usize = 0;
const SYNC_SREGS_OFFSET: usize = size_of::<KvmRegs>();
const SYNC_EVENTS_OFFSET: usize = SYNC_SREGS_OFFSET + size_of::<KvmSregs>();

/// A VMCB segment as `struct kvm_segment` (attributes unpacked, G from the limit).
fn seg_to_kvm(s: &VmcbSeg) -> KvmSegment {
    let a = s.attrib;
    let present = ((a >> 7) & 1) as u8;
    KvmSegment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: (a & 0xf) as u8,
        s: ((a >> 4) & 1) as u8,
        dpl: ((a >> 5) & 3) as u8,
        present,
        avl: ((a >> 8) & 1) as u8,
        l: ((a >> 9) & 1) as u8,
        db: ((a >> 10) & 1) as u8,
        g: (s.limit > 0xfffff) as u8,
        unusable: (present == 0) as u8,
        padding: 0,
    }
}

/// A `struct kvm_segment` as a VMCB segment (attributes packed; unusable is not present).
fn seg_from_kvm(k: &KvmSegment) -> VmcbSeg {
    let a = (k.type_ as u16 & 0xf)
        | ((k.s as u16 & 1) << 4)
        | ((k.dpl as u16 & 3) << 5)
        | ((((k.present & 1) != 0 && k.unusable == 0) as u16) << 7)
        | ((k.avl as u16 & 1) << 8)
        | ((k.l as u16 & 1) << 9)
        | ((k.db as u16 & 1) << 10)
        | ((k.g as u16 & 1) << 11);
    VmcbSeg::new(k.selector, a, k.limit, k.base)
}

impl Vcpu {
    pub(super) fn get_regs(&self) -> KvmRegs {
        Self::regs_of(&mut self.state.lock())
    }

    pub(super) fn set_regs(&self, r: &KvmRegs) {
        Self::set_regs_st(&mut self.state.lock(), r)
    }

    pub(super) fn get_sregs(&self) -> KvmSregs {
        Self::sregs_of(&mut self.state.lock())
    }

    pub(super) fn set_sregs(&self, k: &KvmSregs) -> Result {
        self.set_sregs_st(&mut self.state.lock(), k)
    }

    pub(super) fn regs_of(st: &mut VcpuState) -> KvmRegs {
        let g = st.gprs;
        let (rip, rflags) = (st.vmcb().save.rip, st.vmcb().save.rflags);
        KvmRegs {
            rax: g[0], rcx: g[1], rdx: g[2], rbx: g[3], rsp: g[4], rbp: g[5], rsi: g[6], rdi: g[7],
            r8: g[8], r9: g[9], r10: g[10], r11: g[11], r12: g[12], r13: g[13], r14: g[14], r15: g[15],
            rip, rflags,
        }
    }

    pub(super) fn set_regs_st(st: &mut VcpuState, r: &KvmRegs) {
        st.gprs = [r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15];
        st.user_state = true;
        let v = st.vmcb();
        v.save.rip = r.rip;
        v.save.rflags = r.rflags | RFLAGS_FIXED;
        // Userspace's state replaces the guest's: reload all of it (clean bits).
        v.mark_all_dirty();
    }

    pub(super) fn sregs_of(st: &mut VcpuState) -> KvmSregs {
        // A KVM_INTERRUPT vector not yet taken, or one whose delivery an exit cut short,
        // is KVM's pending interrupt (interrupt.injected).
        let irq = st.irq.or(st.virq.filter(|q| q.source != VirqSource::Apic).map(|q| q.vector));
        let apic_base = st.apic_base();
        let v = st.vmcb();
        let s = &v.save;
        let mut k = KvmSregs {
            cs: seg_to_kvm(&s.cs),
            ds: seg_to_kvm(&s.ds),
            es: seg_to_kvm(&s.es),
            fs: seg_to_kvm(&s.fs),
            gs: seg_to_kvm(&s.gs),
            ss: seg_to_kvm(&s.ss),
            tr: seg_to_kvm(&s.tr),
            ldt: seg_to_kvm(&s.ldtr),
            gdt: KvmDtable { base: s.gdtr.base, limit: s.gdtr.limit as u16, padding: [0; 3] },
            idt: KvmDtable { base: s.idtr.base, limit: s.idtr.limit as u16, padding: [0; 3] },
            cr0: s.cr0,
            cr2: s.cr2,
            cr3: s.cr3,
            cr4: s.cr4,
            cr8: v.control.int_ctl.v_tpr() as u64,
            efer: s.efer & !EFER_SVME,
            apic_base,
            interrupt_bitmap: [0; 4],
        };
        // As svm_get_segment(): TR busy, data segments accessed, SS.DPL = CPL.
        k.tr.type_ |= 2;
        for d in [&mut k.ds, &mut k.es, &mut k.fs, &mut k.gs] {
            if d.unusable == 0 {
                d.type_ |= 1;
            }
        }
        if k.ss.unusable != 0 {
            k.ss.db = 0;
        }
        k.ss.dpl = s.cpl;
        if let Some(vec) = irq {
            k.interrupt_bitmap[(vec / 64) as usize & 3] |= 1 << (vec % 64);
        }
        k
    }

    /// As KVM's kvm_is_valid_sregs() + __set_sregs(): inconsistent paging state is EINVAL;
    /// anything else VMRUN refuses ends in KVM_EXIT_FAIL_ENTRY.
    pub(super) fn set_sregs_st(&self, st: &mut VcpuState, k: &KvmSregs) -> Result {
        let long = k.efer & EFER_LME != 0 && k.cr0 & CR0_PG != 0;
        if long {
            if k.cr4 & CR4_PAE == 0 || k.efer & EFER_LMA == 0 {
                return Err(EINVAL);
            }
        } else if k.efer & EFER_LMA != 0 || k.cs.l != 0 {
            return Err(EINVAL);
        }
        if k.cr0 >> 32 != 0 || (k.cr0 & CR0_NW != 0 && k.cr0 & CR0_CD == 0) || (k.cr0 & CR0_PG != 0 && k.cr0 & CR0_PE == 0) {
            return Err(EINVAL);
        }
        st.user_state = true;
        let efer_ok = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
        // CR4: as KVM's kvm_is_valid_sregs() -> kvm_is_valid_cr4(), by the guest's CPUID.
        if k.cr4 & !cpuid::cr4_allowed(&st.cpuid) != 0 || k.efer & !(efer_ok & cpuid::efer_allowed(&st.cpuid)) != 0 {
            return Err(EINVAL);
        }
        let v = st.vmcb();
        let s = &mut v.save;
        s.cs = seg_from_kvm(&k.cs);
        s.ds = seg_from_kvm(&k.ds);
        s.es = seg_from_kvm(&k.es);
        s.fs = seg_from_kvm(&k.fs);
        s.gs = seg_from_kvm(&k.gs);
        s.ss = seg_from_kvm(&k.ss);
        s.tr = seg_from_kvm(&k.tr);
        s.ldtr = seg_from_kvm(&k.ldt);
        s.cpl = k.ss.dpl & 3;
        s.gdtr = VmcbSeg::new(0, 0, k.gdt.limit as u32, k.gdt.base);
        s.idtr = VmcbSeg::new(0, 0, k.idt.limit as u32, k.idt.base);
        s.cr0 = k.cr0;
        s.cr2 = k.cr2;
        s.cr3 = k.cr3;
        s.cr4 = k.cr4;
        s.efer = k.efer | EFER_SVME;
        v.control.int_ctl.set_v_tpr(k.cr8 as u32);
        // Written behind the setters: reload all of it (clean bits).
        v.mark_all_dirty();
        if st.lapic.is_some() {
            // As KVM's __set_sregs(): APIC base through the MSR rules (host-initiated), TPR
            // from CR8.
            if self.apic_msr(st, lapic::MSR_IA32_APIC_BASE, Some(k.apic_base), true) != Some(Ok(0)) {
                return Err(EINVAL);
            }
            if let Some(l) = st.lapic.as_mut() {
                l.set_tpr(((k.cr8 as u32) & 0xf) << 4);
            }
        } else {
            st.apic_base = k.apic_base;
        }
        let first = k.interrupt_bitmap.iter().enumerate().find(|(_, w)| **w != 0).map(|(i, w)| i as u32 * 64 + w.trailing_zeros());
        if let Some(vec) = first {
            st.irq = Some(vec as u8);
        }
        Ok(())
    }

    /// KVM_CAP_SYNC_REGS at `KVM_RUN`'s start (KVM's kvm_arch_vcpu_ioctl_run() and
    /// sync_regs()): unknown bits in `kvm_valid_regs` or `kvm_dirty_regs` are `EINVAL`; each
    /// dirty set is copied out of the shared page once, then checked and applied as its ioctl
    /// would (so a racing writer cannot change it between the two), and its dirty bit cleared.
    pub(super) fn sync_regs_in(&self, st: &mut VcpuState, run: RunPage) -> Result {
        let (valid, dirty) = (run.valid_regs(), run.dirty_regs());
        if valid & !KVM_SYNC_X86_VALID_FIELDS != 0 || dirty & !KVM_SYNC_X86_VALID_FIELDS != 0 {
            return Err(EINVAL);
        }
        if dirty & KVM_SYNC_X86_REGS != 0 {
            Self::set_regs_st(st, &run.sync::<KvmRegs>(SYNC_REGS_OFFSET));
            run.clear_dirty(KVM_SYNC_X86_REGS);
        }
        if dirty & KVM_SYNC_X86_SREGS != 0 {
            self.set_sregs_st(st, &run.sync::<KvmSregs>(SYNC_SREGS_OFFSET))?;
            run.clear_dirty(KVM_SYNC_X86_SREGS);
        }
        if dirty & KVM_SYNC_X86_EVENTS != 0 {
            Self::set_events_st(st, &run.sync::<KvmVcpuEvents>(SYNC_EVENTS_OFFSET))?;
            run.clear_dirty(KVM_SYNC_X86_EVENTS);
        }
        Ok(())
    }

    /// KVM_CAP_SYNC_REGS at every return from `KVM_RUN` (KVM's store_regs()): the sets
    /// `kvm_valid_regs` asks for, written into the shared page.
    pub(super) fn sync_regs_out(st: &mut VcpuState, run: RunPage) {
        let valid = run.valid_regs();
        if valid & KVM_SYNC_X86_REGS != 0 {
            run.set_sync(SYNC_REGS_OFFSET, Self::regs_of(st));
        }
        if valid & KVM_SYNC_X86_SREGS != 0 {
            run.set_sync(SYNC_SREGS_OFFSET, Self::sregs_of(st));
        }
        if valid & KVM_SYNC_X86_EVENTS != 0 {
            run.set_sync(SYNC_EVENTS_OFFSET, Self::events_of(st));
        }
    }
}
