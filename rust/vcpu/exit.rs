// SPDX-License-Identifier: GPL-2.0

//! Exit dispatch (`svm::exit::ExitCode`'s table names the handler) and the exits handled
//! here whole: CPUID, MSR, VMMCALL, XSETBV, HLT, SHUTDOWN, #UD and NOP instructions, RDPMC,
//! #AC, #DB, #MC, DR accesses, failed entries; advancing RIP past an intercepted instruction
//! (NRIP or decoding).

use super::{history, state::VcpuState, Action, RunPage, Vcpu};
use crate::{
    cpuid,
    emulate::{self, CpuMode},
    ffi, msr,
    svm::{
        assist,
        exit::{ExitCode, Handler, IoioInfo, NpfInfo},
        vmcb::{AC_VECTOR, DB_VECTOR},
    },
    uapi::kvm::*,
    x86::{CR4_OSXSAVE, GP_VECTOR, UD_VECTOR},
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// VMMCALL's answers (KVM's uapi kvm_para.h): no such hypercall, or not from CPL > 0.
const KVM_ENOSYS: u64 = 1000;
const KVM_EPERM: u64 = 1;

impl Vcpu {
    /// Advances RIP past an intercepted instruction with opcode bytes `op`: NRIP where the
    /// CPU saves it, else the decoded length. `Err` ends in an emulation-failure exit.
    pub(super) fn skip(&self, st: &mut VcpuState, op: &[u8]) -> Result<(), ()> {
        let nrip = st.vmcb().control.next_rip;
        let rip = st.rip();
        let mode = st.mode();
        let decoded_len = || {
            let mut mem = self.vm.mem.lock();
            let (b, n) = st.fetch(&mut mem, false).ok()?;
            drop(mem);
            emulate::fixed_insn_len(b.get(..n)?, mode, op)
        };
        let next = assist::next_rip(self.vm.features.nrip_save, nrip, rip, mode == CpuMode::Bits64, decoded_len).ok_or(())?;
        st.set_rip(next);
        Ok(())
    }

    pub(super) fn emulation_failure(&self, st: &mut VcpuState, run: RunPage) -> Action {
        self.emulation_failure_insn(st, run, &[])
    }

    /// An MMIO access rsvm's decoder does not know (`insn` its bytes), as KVM's
    /// handle_emulation_failure(): with KVM_CAP_EXIT_ON_EMULATION_FAILURE the VMM gets it;
    /// without, the guest gets #UD, and the VMM gets the exit too if the guest is at CPL 0.
    pub(super) fn undecodable(&self, st: &mut VcpuState, run: RunPage, insn: &[u8]) -> Action {
        if !self.vm.exit_on_emulation_failure.load(Ordering::Relaxed) {
            st.queue_exception(UD_VECTOR, None);
            if st.vmcb().save.cpl != 0 {
                return Action::Resume;
            }
        }
        self.emulation_failure_insn(st, run, insn)
    }

    /// `KVM_EXIT_INTERNAL_ERROR` / KVM_INTERNAL_ERROR_EMULATION in KVM's layout
    /// (`prepare_emulation_failure_exit()`, arch/x86/kvm/x86.c): data[0] the flags; with the
    /// instruction's bytes known (`insn`), KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES
    /// and data[1..3] `insn_size` and `insn_bytes` (0x90-padded); then SVM's exit information
    /// as `svm_get_exit_info()` gives it: exit code, EXITINFO1, EXITINFO2, EXITINTINFO, its
    /// error code.
    pub(super) fn emulation_failure_insn(&self, st: &mut VcpuState, run: RunPage, insn: &[u8]) -> Action {
        let v = st.vmcb();
        let c = &v.control;
        let err = if c.exit_int_info.error_valid() { c.exit_int_info_err } else { 0 };
        let info = [v.exit_code().0, c.exit_info_1, c.exit_info_2, c.exit_int_info.0 as u64, err as u64];
        let mut i = KvmRunInternal { suberror: KVM_INTERNAL_ERROR_EMULATION, ..Default::default() };
        let start = if let Some(n) = (1..=15).contains(&insn.len()).then_some(insn.len()) {
            i.data[0] = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
            let mut b = [0x90u8; 16];
            b[0] = n as u8;
            b[1..=n].copy_from_slice(insn);
            i.data[1] = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
            i.data[2] = u64::from_le_bytes(b[8..].try_into().unwrap_or_default());
            3
        } else {
            1
        };
        i.data[start..start + info.len()].copy_from_slice(&info);
        i.ndata = (start + info.len()) as u32;
        run.set_exit(KVM_EXIT_INTERNAL_ERROR, i);
        Action::User
    }

    /// Dispatches an exit to its handler (`ExitCode::dispatch`'s table).
    pub(super) fn handle_exit(&self, st: &mut VcpuState, run: RunPage, code: ExitCode) -> Result<Action> {
        let (info1, info2) = {
            let c = &st.vmcb().control;
            (c.exit_info_1, c.exit_info_2)
        };
        Ok(match code.handler() {
            Handler::HostEvent => Action::Resume,
            Handler::Vintr => {
                st.vmcb().clear_vintr_window();
                Action::Resume
            }
            Handler::Cpuid => {
                let (leaf, sub) = (st.gprs[0] as u32, st.gprs[1] as u32);
                let cr4 = st.vmcb().save.cr4;
                let apic = st.lapic.as_ref().map(|l| l.hw_enabled());
                let r = cpuid::guest_cpuid(&st.cpuid, leaf, sub, cr4, apic);
                if self.skip(st, &[0x0f, 0xa2]).is_err() {
                    return Ok(self.emulation_failure(st, run));
                }
                st.gprs[0] = r[0] as u64;
                st.gprs[3] = r[1] as u64;
                st.gprs[1] = r[2] as u64;
                st.gprs[2] = r[3] as u64;
                Action::Resume
            }
            Handler::Hlt => {
                let rip = st.rip();
                if self.skip(st, &[0xf4]).is_err() {
                    return Ok(self.emulation_failure(st, run));
                }
                if st.lapic.is_some() {
                    // The interrupt that ends the HLT comes from the in-kernel APIC: sleep
                    // here (run_loop -> block), not in the VMM. Except right after an
                    // interrupt was delivered at this very HLT: QEMU 7.2 does not restore
                    // the STI interrupt shadow on VMRUN, so an interrupt meant to wake
                    // `sti; hlt` can arrive just before the HLT instead, and sleeping then
                    // would wait for the next one (forever, for a one-shot timer). Treating
                    // that HLT as woken is at worst a spurious wake-up, which guests allow.
                    let woken = st.intr_rip.take() == Some(rip);
                    st.halted = !woken;
                    return Ok(Action::Resume);
                }
                run.set_reason(KVM_EXIT_HLT);
                Action::User
            }
            Handler::Cr4Write => self.cr4_write(st, run, info1),
            Handler::Cr8Write => self.cr8_write(st, run, info1),
            Handler::Msr => self.msr_exit(st, run, info1 != 0),
            Handler::Ioio => self.io_exit(st, run, IoioInfo(info1), info2)?,
            Handler::Npf => self.npf_exit(st, run, NpfInfo(info1), info2)?,
            Handler::Shutdown => {
                // The VMCB is undefined after a shutdown intercept (on hardware; QEMU saves
                // it): say what led there, then back to reset (as KVM).
                if history::may_report() {
                    history::print_state(self.vm.id, self.shared.id, st.vmcb());
                    st.history.print(self.vm.id, self.shared.id);
                }
                st.reset(&self.vm, self.shared.id, true);
                run.set_reason(KVM_EXIT_SHUTDOWN);
                Action::User
            }
            Handler::InvalidOp => {
                st.queue_exception(UD_VECTOR, None);
                Action::Resume
            }
            Handler::Rdpmc => {
                // As KVM's kvm_emulate_rdpmc() for a guest without a PMU (version 0).
                st.queue_exception(GP_VECTOR, Some(0));
                Action::Resume
            }
            Handler::Nop => {
                // KVM's kvm_emulate_as_nop(): INVD and WBINVD (no non-coherent DMA: the
                // AMD IOMMU snoops), MONITOR and MWAIT (KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS).
                let op: &[u8] = match code {
                    ExitCode::INVD => &[0x0f, 0x08],
                    ExitCode::WBINVD => &[0x0f, 0x09],
                    ExitCode::MONITOR => &[0x0f, 0x01, 0xc8],
                    _ => &[0x0f, 0x01, 0xc9],
                };
                if self.skip(st, op).is_err() {
                    return Ok(self.emulation_failure(st, run));
                }
                Action::Resume
            }
            Handler::Mc => {
                // The host's handler ran right after the #VMEXIT (enter_guest), as KVM's
                // svm_handle_mce(); the guest goes on.
                Action::Resume
            }
            Handler::Vmmcall => self.hypercall(st, run),
            Handler::Xsetbv => {
                let (cr4, cpl) = (st.vmcb().save.cr4, st.vmcb().save.cpl);
                let v = (st.gprs[2] << 32) | (st.gprs[0] & 0xffff_ffff);
                if cr4 & CR4_OSXSAVE == 0 {
                    st.queue_exception(UD_VECTOR, None);
                } else if cpl != 0 || st.gprs[1] as u32 != 0 || st.fpu.set_xcr0(v).is_err() {
                    st.queue_exception(GP_VECTOR, Some(0));
                } else if self.skip(st, &[0x0f, 0x01, 0xd1]).is_err() {
                    return Ok(self.emulation_failure(st, run));
                }
                Action::Resume
            }
            Handler::Ac => {
                st.queue_exception(AC_VECTOR, Some(info1 as u32));
                Action::Resume
            }
            Handler::Db => {
                // As KVM's db_interception() without host-side guest debugging: the CPU has
                // recorded the condition in the guest's DR6 (VMCB), the guest gets the #DB.
                st.queue_exception(DB_VECTOR, None);
                Action::Resume
            }
            Handler::DrAccess => {
                // As KVM's dr_interception(): no more DR exits until the next exit of any
                // kind; the guest re-executes the MOV on its own registers (debugreg.rs).
                st.vmcb().set_dr_intercepts(false);
                st.debug.live = true;
                Action::Resume
            }
            Handler::FailEntry => {
                let f = KvmRunFailEntry { hardware_entry_failure_reason: code.0, cpu: ffi::this_cpu() as u32 };
                run.set_exit(KVM_EXIT_FAIL_ENTRY, f);
                Action::User
            }
            Handler::Unexpected => {
                let mut i = KvmRunInternal { suberror: KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, ndata: 2, ..Default::default() };
                i.data[0] = code.0;
                i.data[1] = ffi::this_cpu() as u64;
                run.set_exit(KVM_EXIT_INTERNAL_ERROR, i);
                Action::User
            }
        })
    }

    fn msr_exit(&self, st: &mut VcpuState, run: RunPage, write: bool) -> Action {
        let index = st.gprs[1] as u32;
        let value = (st.gprs[2] << 32) | (st.gprs[0] & 0xffff_ffff);
        let w = write.then_some(value);
        let apic = self.tsc_msr(st, index, w, false).or_else(|| self.pvclock_msr(st, index, w)).map(Ok).or_else(|| st.mtrr_msr(index, w)).or_else(|| self.apic_msr(st, index, w, false));
        let ok = if let Some(r) = apic {
            match r {
                Ok(v) if !write => {
                    st.gprs[0] = v & 0xffff_ffff;
                    st.gprs[2] = v >> 32;
                    true
                }
                Ok(_) => true,
                Err(()) => false,
            }
        } else if write {
            let v = (st.gprs[2] << 32) | (st.gprs[0] & 0xffff_ffff);
            let allowed = cpuid::efer_allowed(&st.cpuid);
            msr::set(st.vmcb(), index, v, false, allowed).is_ok()
        } else {
            match msr::get(st.vmcb(), index) {
                Ok(v) => {
                    st.gprs[0] = v & 0xffff_ffff;
                    st.gprs[2] = v >> 32;
                    true
                }
                Err(_) => false,
            }
        };
        if !ok {
            st.queue_exception(GP_VECTOR, Some(0));
            return Action::Resume;
        }
        if self.skip(st, if write { &[0x0f, 0x30] } else { &[0x0f, 0x32] }).is_err() {
            return self.emulation_failure(st, run);
        }
        Action::Resume
    }

    /// VMMCALL as KVM's kvm_emulate_hypercall() answers it: rsvm implements no hypercall,
    /// so RAX = -KVM_ENOSYS (or -KVM_EPERM outside CPL 0), and the guest continues.
    fn hypercall(&self, st: &mut VcpuState, run: RunPage) -> Action {
        let long = st.mode() == CpuMode::Bits64;
        let ret = if st.vmcb().save.cpl != 0 { KVM_EPERM } else { KVM_ENOSYS }.wrapping_neg();
        if self.skip(st, &[0x0f, 0x01, 0xd9]).is_err() {
            return self.emulation_failure(st, run);
        }
        st.gprs[0] = if long { ret } else { ret & 0xffff_ffff };
        Action::Resume
    }
}
