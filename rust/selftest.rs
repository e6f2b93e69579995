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
    x86::{CR0_ET, EFER_SVME, RFLAGS_FIXED},
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

/// A guest of one code page at CODE_GPA in real mode, under its own NPT and permission maps.
struct TinyGuest {
    vmcb: HwPages,
    _iopm: HwPages,
    _msrpm: HwPages,
    code: HwPages,
    npt: Npt,
    gprs: [u64; 16],
    asid: crate::asid::VcpuAsid,
}

impl TinyGuest {
    fn new(features: &SvmFeatures, code_bytes: &[u8]) -> Result<Self> {
        let vmcb = HwPages::page()?;
        let mut iopm = HwPages::new(2)?; // 12 KiB used
        let mut msrpm = HwPages::new(1)?; // 8 KiB
        iopm.fill(0xff);
        msrpm.fill(0xff);
        let mut code = HwPages::page()?;
        code.bytes().get_mut(..code_bytes.len()).ok_or(EINVAL)?.copy_from_slice(code_bytes);
        let mut npt = Npt::new(features.npt_levels)?;
        npt.map_4k(CODE_GPA, code.phys(), Access::ReadWrite)?;
        let mut g = Self { vmcb, _iopm: iopm, _msrpm: msrpm, code, npt, gprs: [0; 16], asid: Default::default() };
        let (iopm_pa, msrpm_pa, root) = (g._iopm.phys(), g._msrpm.phys(), g.npt.root_pa());
        let v = g.vmcb();
        v.init_control(iopm_pa, msrpm_pa, root);
        // Real mode after RESET, with CS:IP moved to the code page.
        v.set_reset_segments(0, 0);
        let s = &mut v.save;
        s.cr0 = CR0_ET;
        s.efer = EFER_SVME; // VMRUN requires guest EFER.SVME (APM 15.5.1)
        s.rflags = RFLAGS_FIXED;
        s.rip = CODE_GPA;
        s.rsp = 0xff0;
        Ok(g)
    }

    fn vmcb(&mut self) -> &mut Vmcb {
        // SAFETY: the page is 4 KiB, exclusively ours, and used by the CPU only inside
        // `enter`, which takes `&mut self`; all-zero (its initial content) is a valid `Vmcb`.
        unsafe { &mut *self.vmcb.as_mut_ptr::<Vmcb>() }
    }

    /// One world switch on the current CPU. Returns the exit code.
    fn enter(&mut self, features: &SvmFeatures) -> Result<ExitCode> {
        let np = ffi::NoPreempt::new();
        let svm = cpu::this_svm_cpu(&np).ok_or(ENODEV)?;
        // GIF=0 with host IF=1: interrupts arriving now are held, then end the guest's
        // slice through the INTR intercept (V_INTR_MASKING).
        ops::clgi();
        let this = ffi::this_cpu();
        // The self-test takes its ASIDs from the same per-CPU allocator as vCPUs, so its TLB
        // entries can never be mistaken for a VM's; not being a VM, it makes the next VM on
        // this CPU issue its IBPB.
        // Its VMCB also counts as the last one run here, so the next vCPU on this CPU marks
        // its own all dirty (its clean field is never set: it stays all dirty).
        let asid = &mut self.asid;
        let vmcb_pa = self.vmcb.phys();
        let (a, tlb) = svm.with_asid(&np, |c| {
            c.last_vm = 0;
            c.last_vmcb = vmcb_pa;
            asid.pre_run(c, this, 0, features.flush_by_asid)
        });
        let v = self.vmcb();
        v.set_asid(a);
        v.control.tlb_ctl = tlb;
        // SAFETY: SVM is enabled on this CPU (checked above with preemption off), GIF=0,
        // the VMCB, IOPM, MSRPM and NPT are valid and owned by `self`, and `gprs` has 16
        // slots.
        unsafe { ffi::__rsvm_vmrun(self.vmcb.phys(), svm.host_save.phys(), self.gprs.as_mut_ptr()) };
        ops::stgi();
        Ok(self.vmcb().exit_code())
    }
}

/// Runs the self-test guest on the current CPU until its second HLT.
pub(crate) fn world_switch(features: &SvmFeatures) -> Result<RsvmSelftest> {
    let mut code = [0xf4u8; GUEST_CODE.len() + 1]; // ... and a final HLT
    code[..GUEST_CODE.len()].copy_from_slice(&GUEST_CODE);
    let mut g = TinyGuest::new(features, &code)?;
    let mut out = RsvmSelftest { npt_levels: g.npt.levels(), ..Default::default() };
    let mut hlts = 0;
    // Bounded: host interrupts can add INTR exits, but not without limit in a test.
    for _ in 0..10_000 {
        let code_nr = g.enter(features)?;
        if code_nr.is_host_event() {
            continue;
        }
        let (info1, info2, next) = {
            let c = &g.vmcb().control;
            (c.exit_info_1, c.exit_info_2, c.next_rip)
        };
        let (rip, rax) = (g.vmcb().save.rip, g.vmcb().save.rax);
        let next_rip = if features.nrip_save {
            Some(next)
        } else if code_nr == ExitCode::IOIO {
            Some(info2)
        } else {
            insn_len(g.code.bytes(), rip).map(|l| rip + l)
        };
        let idx = out.nr_exits as usize;
        let Some(slot) = out.exits.get_mut(idx) else { break };
        *slot = RsvmSelftestExit {
            exit_code: code_nr.0,
            exit_info_1: info1,
            exit_info_2: info2,
            rip,
            next_rip: next_rip.unwrap_or(0),
            rax,
            rdx: g.gprs[2],
        };
        out.nr_exits += 1;
        match (code_nr, next_rip) {
            (ExitCode::IOIO | ExitCode::CPUID, Some(n)) => g.vmcb().save.rip = n,
            (ExitCode::HLT, Some(n)) => {
                hlts += 1;
                if hlts == 2 {
                    break;
                }
                g.vmcb().save.rip = n;
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
    let mut g = TinyGuest::new(features, &[0x0f, 0xa2, 0xeb, 0xfc])?;
    let start = ffi::rdtsc();
    for _ in 0..iters {
        if ffi::signal_pending() {
            return Err(EINTR);
        }
        match g.enter(features)? {
            ExitCode::CPUID => g.vmcb().save.rip += 2,
            c if c.is_host_event() => {}
            _ => return Err(EIO),
        }
    }
    Ok(ffi::rdtsc().wrapping_sub(start))
}
