// SPDX-License-Identifier: GPL-2.0

//! A first world switch: a tiny real-mode guest under NPT, run by `RSVM_SELFTEST_WORLD_SWITCH`.
//!
//! The guest (at GPA 0x1000, CS:IP = 0:0x1000) does `OUT 0x80, AL=0xAB; HLT; OUT 0x510,
//! AX=0x1234; CPUID; HLT`. The module resumes it after each exit with the next RIP taken from
//! NRIP save where the CPU has it, else from EXITINFO2 (IOIO) or from the instruction's
//! length (HLT, CPUID), and reports every exit so the test can compare them with the
//! architecture manual. Host interrupts (INTR exits) are taken and not reported.

use crate::{
    cpu::{self, SvmFeatures},
    ffi,
    hwpage::HwPages,
    npt::{Access, Npt},
    svm::{exit::*, ops, vmcb::*},
    uapi::{RsvmSelftest, RsvmSelftestExit, SELFTEST_MAX_EXITS},
};
use kernel::prelude::*;

const CODE_GPA: u64 = 0x1000;
const GUEST_CODE: [u8; 17] = [
    0xb0, 0xab, // mov al, 0xab
    0xe6, 0x80, // out 0x80, al
    0xf4, // hlt
    0xb8, 0x34, 0x12, // mov ax, 0x1234
    0xba, 0x10, 0x05, // mov dx, 0x510
    0xef, // out dx, ax
    0x66, 0x31, 0xc0, // xor eax, eax (CPUID leaf 0)
    0x0f, 0xa2, // cpuid  -- the HLT follows at offset 17
];

/// Length of the instruction at guest RIP for exits that don't report it, read from the one
/// code page this guest has. Handles exactly the opcodes this guest can exit on.
fn insn_len(code: &[u8], rip: u64) -> Option<u64> {
    let off = usize::try_from(rip.checked_sub(CODE_GPA)?).ok()?;
    match code.get(off..)? {
        [0xf4, ..] => Some(1),
        [0x0f, 0xa2, ..] => Some(2),
        _ => None,
    }
}

fn init_real_mode(vmcb: &mut Vmcb, iopm_pa: u64, msrpm_pa: u64, npt: &Npt) {
    let c = &mut vmcb.control;
    c.iopm_base_pa = iopm_pa;
    c.msrpm_base_pa = msrpm_pa;
    c.int_ctl = V_INTR_MASKING;
    c.nested_ctl = NP_ENABLE;
    c.nested_cr3 = npt.root_pa();
    for i in [
        Intercept::Intr,
        Intercept::Nmi,
        Intercept::Smi,
        Intercept::Init,
        Intercept::Cpuid,
        Intercept::Hlt,
        Intercept::IoioProt,
        Intercept::MsrProt,
        Intercept::Shutdown,
        Intercept::Vmrun,
        Intercept::Vmmcall,
        Intercept::Vmload,
        Intercept::Vmsave,
        Intercept::Stgi,
        Intercept::Clgi,
        Intercept::Skinit,
        Intercept::Invlpga,
    ] {
        vmcb.set_intercept(i);
    }

    // Real mode after RESET (APM 14.1.3), with CS:IP moved to the code page.
    let s = &mut vmcb.save;
    let data = VmcbSeg::new(0, 0x93, 0xffff, 0);
    s.cs = VmcbSeg::new(0, 0x9b, 0xffff, 0);
    s.ds = data;
    s.es = data;
    s.ss = data;
    s.fs = data;
    s.gs = data;
    s.gdtr = VmcbSeg::new(0, 0, 0xffff, 0);
    s.idtr = VmcbSeg::new(0, 0, 0xffff, 0);
    s.ldtr = VmcbSeg::new(0, 0x82, 0xffff, 0);
    s.tr = VmcbSeg::new(0, 0x8b, 0xffff, 0);
    s.cr0 = 0x10; // ET
    s.efer = cpu::EFER_SVME; // VMRUN requires guest EFER.SVME (APM 15.5.1)
    s.rflags = 2;
    s.rip = CODE_GPA;
    s.rsp = 0xff0;
    s.dr6 = 0xffff_0ff0;
    s.dr7 = 0x400;
    s.g_pat = 0x0007_0406_0007_0406;
}

/// Runs the self-test guest on the current CPU until its second HLT.
pub(crate) fn world_switch(features: &SvmFeatures) -> Result<RsvmSelftest> {
    let vmcb_page = HwPages::page()?;
    let mut iopm = HwPages::new(2)?; // 12 KiB used
    let mut msrpm = HwPages::new(1)?; // 8 KiB
    iopm.fill(0xff);
    msrpm.fill(0xff);
    let mut code = HwPages::page()?;
    code.bytes()[..GUEST_CODE.len()].copy_from_slice(&GUEST_CODE);
    code.bytes()[GUEST_CODE.len()] = 0xf4; // hlt
    let mut npt = Npt::new(features.npt_levels)?;
    npt.map_4k(CODE_GPA, code.phys(), Access::ReadWrite)?;

    // SAFETY: the page is 4 KiB, zeroed and exclusively ours; `Vmcb` is a 4 KiB POD type
    // for which all-zero is valid.
    let vmcb = unsafe { &mut *vmcb_page.as_mut_ptr::<Vmcb>() };
    init_real_mode(vmcb, iopm.phys(), msrpm.phys(), &npt);

    let mut out = RsvmSelftest { npt_levels: npt.levels(), ..Default::default() };
    let mut gprs = [0u64; 16];
    // The self-test takes its ASIDs from the same per-CPU allocator as vCPUs, so its TLB
    // entries can never be mistaken for a VM's.
    let mut asid = crate::asid::VcpuAsid::default();
    let mut hlts = 0;
    // Bounded: host interrupts can add INTR exits, but not without limit in a test.
    for _ in 0..10_000 {
        let code_bytes = code.bytes();
        {
            let np = ffi::NoPreempt::new();
            let svm = cpu::this_svm_cpu(&np).ok_or(ENODEV)?;
            // GIF=0 with host IF=1: interrupts arriving now are held, then end the guest's
            // slice through the INTR intercept (V_INTR_MASKING).
            ops::clgi();
            let this = ffi::this_cpu();
            let (a, tlb) = svm.with_asid(&np, |c| {
                // Not a VM: make the next VM on this CPU issue its IBPB.
                c.last_vm = 0;
                asid.pre_run(c, this, 0, features.flush_by_asid)
            });
            // SAFETY: the VMCB page is ours and not in use by the CPU right now.
            let v = unsafe { &mut *vmcb_page.as_mut_ptr::<Vmcb>() };
            v.control.asid = a;
            v.control.tlb_ctl = tlb;
            // SAFETY: SVM is enabled on this CPU (checked above with preemption off), GIF=0,
            // the VMCB, IOPM, MSRPM and NPT are valid and live until after the call, and
            // `gprs` has 16 slots.
            unsafe { ffi::__rsvm_vmrun(vmcb_page.phys(), svm.host_save.phys(), gprs.as_mut_ptr()) };
            ops::stgi();
        }
        // SAFETY: as above; the CPU has finished with the VMCB.
        let vmcb = unsafe { &mut *vmcb_page.as_mut_ptr::<Vmcb>() };
        let code_nr = vmcb.exit_code();
        if code_nr == SVM_EXIT_INTR || code_nr == SVM_EXIT_NMI || code_nr == SVM_EXIT_SMI {
            continue;
        }
        let rip = vmcb.save.rip;
        let next_rip = if features.nrip_save {
            Some(vmcb.control.next_rip)
        } else if code_nr == SVM_EXIT_IOIO {
            Some(vmcb.control.exit_info_2)
        } else {
            insn_len(code_bytes, rip).map(|l| rip + l)
        };
        let idx = out.nr_exits as usize;
        let Some(slot) = out.exits.get_mut(idx) else { break };
        *slot = RsvmSelftestExit {
            exit_code: code_nr,
            exit_info_1: vmcb.control.exit_info_1,
            exit_info_2: vmcb.control.exit_info_2,
            rip,
            next_rip: next_rip.unwrap_or(0),
            rax: vmcb.save.rax,
            rdx: gprs[2],
        };
        out.nr_exits += 1;
        match (code_nr, next_rip) {
            (SVM_EXIT_IOIO | SVM_EXIT_CPUID, Some(n)) => vmcb.save.rip = n,
            (SVM_EXIT_HLT, Some(n)) => {
                hlts += 1;
                if hlts == 2 {
                    break;
                }
                vmcb.save.rip = n;
            }
            // Anything else (NPF, SHUTDOWN, VMEXIT_INVALID...) ends the test; the caller
            // sees the unexpected exit in the report.
            _ => break,
        }
        if out.nr_exits as usize >= SELFTEST_MAX_EXITS {
            break;
        }
    }
    Ok(out)
}

/// The floor for the exit-cost benchmark: `iters` bare world switches of a guest that loops
/// on CPUID (`0: cpuid; jmp 0b`), each handled with nothing but a RIP update. Returns the
/// TSC delta over the loop, measured inside the module (under QEMU `-icount` the TSC counts
/// instructions).
pub(crate) fn bench_floor(features: &SvmFeatures, iters: u64) -> Result<u64> {
    let vmcb_page = HwPages::page()?;
    let mut iopm = HwPages::new(2)?;
    let mut msrpm = HwPages::new(1)?;
    iopm.fill(0xff);
    msrpm.fill(0xff);
    let mut code = HwPages::page()?;
    code.bytes()[..4].copy_from_slice(&[0x0f, 0xa2, 0xeb, 0xfc]);
    let mut npt = Npt::new(features.npt_levels)?;
    npt.map_4k(CODE_GPA, code.phys(), Access::ReadWrite)?;
    // SAFETY: as in `world_switch`.
    init_real_mode(unsafe { &mut *vmcb_page.as_mut_ptr::<Vmcb>() }, iopm.phys(), msrpm.phys(), &npt);
    let mut gprs = [0u64; 16];
    let mut asid = crate::asid::VcpuAsid::default();
    let this_vm = u64::MAX;
    let start = ffi::rdtsc();
    for _ in 0..iters {
        if ffi::signal_pending() {
            return Err(EINTR);
        }
        let np = ffi::NoPreempt::new();
        let svm = cpu::this_svm_cpu(&np).ok_or(ENODEV)?;
        ops::clgi();
        let cpu_id = ffi::this_cpu();
        let (a, tlb) = svm.with_asid(&np, |c| {
            c.last_vm = this_vm;
            asid.pre_run(c, cpu_id, 0, features.flush_by_asid)
        });
        // SAFETY: the VMCB page is ours and idle.
        let v = unsafe { &mut *vmcb_page.as_mut_ptr::<Vmcb>() };
        v.control.asid = a;
        v.control.tlb_ctl = tlb;
        // SAFETY: as in `world_switch`.
        unsafe { ffi::__rsvm_vmrun(vmcb_page.phys(), svm.host_save.phys(), gprs.as_mut_ptr()) };
        ops::stgi();
        drop(np);
        // SAFETY: as above.
        let v = unsafe { &mut *vmcb_page.as_mut_ptr::<Vmcb>() };
        match v.exit_code() {
            SVM_EXIT_CPUID => v.save.rip += 2,
            SVM_EXIT_INTR | SVM_EXIT_NMI | SVM_EXIT_SMI => {}
            _ => return Err(EIO),
        }
    }
    Ok(ffi::rdtsc().wrapping_sub(start))
}
