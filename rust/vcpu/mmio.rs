// SPDX-License-Identifier: GPL-2.0

//! Nested page faults: fault-in from a memslot (pinning, NPT mapping), the in-kernel
//! APIC's xAPIC page, or MMIO to userspace (`KVM_EXIT_MMIO`, the access decoded by
//! `emulate.rs`); completing an MMIO load when the VMM comes back.

use super::{
    state::{Pending, VcpuState},
    Action, RunPage, Vcpu,
};
use crate::{
    emulate::{self, CpuMode, MmioInsn, MmioOp},
    gmem::WalkError,
    svm::exit::{NpfInfo, Stat},
    uapi::kvm::*,
    vmmem::VmMem,
};
use kernel::prelude::*;

impl Vcpu {
    /// A nested page fault at `gpa`: map the page if a memslot covers it (and allows the
    /// access), else emulate the xAPIC page or exit to userspace with `KVM_EXIT_MMIO`.
    pub(super) fn npf_exit(&self, st: &mut VcpuState, run: RunPage, info: NpfInfo, gpa: u64) -> Result<Action> {
        let write = info.is_write();
        let mut mem = self.vm.mem.lock();
        let VmMem { slots, npt, .. } = &mut *mem;
        if let Some(slot) = slots.find_mut(gpa) {
            if !(write && slot.readonly) {
                slot.fault_in(npt, gpa)?;
                return Ok(Action::Resume);
            }
        }
        if let Some(a) = self.vectoring_mmio(st, run, gpa) {
            return Ok(a);
        }
        if info.in_guest_page_walk() {
            // The guest's own page tables point outside RAM: nothing to emulate.
            drop(mem);
            return Ok(self.emulation_failure(st, run));
        }
        let mode = st.mode();
        let fetched = st.fetch(&mut mem, self.vm.features.decode_assists);
        drop(mem);
        let (bytes, n) = match fetched {
            Ok(f) => f,
            Err(WalkError::PageFault(_)) | Err(WalkError::NotRam) => return Ok(self.emulation_failure(st, run)),
        };
        let bytes = bytes.get(..n).unwrap_or(&[]);
        let Some(insn) = emulate::decode_mmio(bytes, mode) else {
            return Ok(self.undecodable(st, run, bytes));
        };
        if let Some(base) = st.lapic.as_ref().and_then(|l| l.mmio_base()) {
            if gpa & !0xfff == base {
                self.apic_mmio(st, (gpa & 0xfff) as u32, insn, mode);
                return Ok(Action::Resume);
            }
        }
        self.count(Stat::Mmio as usize);
        let rip = st.rip();
        let mut m = KvmRunMmio { phys_addr: gpa, len: insn.size as u32, ..Default::default() };
        match insn.op {
            MmioOp::Store { src, imm } => {
                let v = match src {
                    Some(r) => emulate::read_reg(&st.gprs, r, insn.size),
                    None => imm & emulate::mask(insn.size),
                };
                m.data = v.to_le_bytes();
                m.is_write = 1;
                // A store is complete once the VMM has the data: RIP moves on now (as KVM).
                let next = rip.wrapping_add(insn.len as u64);
                st.set_rip(if mode == CpuMode::Bits64 { next } else { next & 0xffff_ffff });
                if self.vm.coalesced.write(false, gpa, m.data.get(..insn.size as usize).unwrap_or(&[])) {
                    return Ok(Action::Resume);
                }
            }
            MmioOp::Load { .. } => st.pending = Pending::MmioRead { rip, insn },
        }
        run.set_exit(KVM_EXIT_MMIO, m);
        Ok(Action::User)
    }

    /// The fault hit MMIO while the CPU was delivering an event (EXITINTINFO holds an NMI,
    /// exception or software interrupt: the IDT, a stack or a TSS outside RAM): nothing can
    /// be emulated, so `KVM_EXIT_INTERNAL_ERROR` with KVM_INTERNAL_ERROR_DELIVERY_EV and KVM's
    /// data (`kvm_prepare_event_vectoring_exit`: EXITINFO2, exit code, EXITINFO1, the GPA,
    /// the CPU). External interrupts (type 0) are not counted, as in KVM's SVM check.
    fn vectoring_mmio(&self, st: &mut VcpuState, run: RunPage, gpa: u64) -> Option<Action> {
        let c = &st.vmcb().control;
        if !c.exit_int_info.valid() || c.exit_int_info.type_bits() == 0 {
            return None;
        }
        let mut i = KvmRunInternal { suberror: KVM_INTERNAL_ERROR_DELIVERY_EV, ndata: 5, ..Default::default() };
        for (d, v) in i.data.iter_mut().zip([c.exit_info_2, c.exit_code, c.exit_info_1, gpa, crate::ffi::this_cpu() as u64]) {
            *d = v;
        }
        run.set_exit(KVM_EXIT_INTERNAL_ERROR, i);
        Some(Action::User)
    }

    /// Finishes an MMIO load the VMM handled: the data into the destination register, then
    /// RIP (only if the VMM did not move it meanwhile).
    pub(super) fn complete_mmio_read(&self, st: &mut VcpuState, run: RunPage, rip: u64, insn: MmioInsn) {
        if st.rip() != rip {
            return;
        }
        if let MmioOp::Load { dst, dst_size, ext } = insn.op {
            let m: KvmRunMmio = run.exit_as();
            let v = emulate::loaded_value(u64::from_le_bytes(m.data), insn.size, ext);
            emulate::write_reg(&mut st.gprs, dst, dst_size, v);
        }
        st.set_rip(rip.wrapping_add(insn.len as u64));
    }
}
