// SPDX-License-Identifier: GPL-2.0

//! SVM on every CPU: feature detection (CPUID 8000_000Ah), EFER.SVME and VM_HSAVE_PA per CPU,
//! following CPU hotplug. AMD64 APM vol. 2, 15.4 ("Enabling SVM") and 15.30.

use crate::{
    asid::AsidCpu,
    ffi,
    hwpage::HwPages,
    x86::{CR4_LA57, EFER_SVME, MSR_EFER},
};
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;

pub(crate) const MSR_VM_CR: u32 = 0xc001_0114;
pub(crate) const VM_CR_LOCK: u64 = 1 << 3;
pub(crate) const VM_CR_SVMDIS: u64 = 1 << 4;
pub(crate) const MSR_VM_HSAVE_PA: u32 = 0xc001_0117;
pub(crate) const MSR_IA32_PRED_CMD: u32 = 0x49;

/// What CPUID 8000_000Ah says this CPU's SVM can do (APM vol. 3, appendix E.4.9).
#[derive(Clone, Copy)]
pub(crate) struct SvmFeatures {
    pub(crate) revision: u32,
    pub(crate) nr_asids: u32,
    pub(crate) npt: bool,
    pub(crate) lbr_virt: bool,
    pub(crate) nrip_save: bool,
    pub(crate) vmcb_clean: bool,
    pub(crate) flush_by_asid: bool,
    pub(crate) decode_assists: bool,
    pub(crate) pause_filter: bool,
    pub(crate) avic: bool,
    pub(crate) vgif: bool,
    pub(crate) vmsave_virt: bool,
    /// IBPB (CPUID 8000_0008h EBX bit 12): flushed between VMs on one CPU.
    pub(crate) ibpb: bool,
    /// Host paging depth, which the NPT must match (CR4.LA57: 5 levels).
    pub(crate) npt_levels: u32,
}

const fn bit(v: u32, n: u32) -> bool {
    (v >> n) & 1 != 0
}

impl SvmFeatures {
    /// Checks that this is an AMD CPU with usable SVM and NPT, and reads its features.
    pub(crate) fn probe() -> Result<Self> {
        let v = ffi::cpuid(0, 0);
        // "AuthenticAMD" / "HygonGenuine" in EBX, EDX, ECX.
        let amd = v[1] == 0x6874_7541 && v[3] == 0x6974_6e65 && v[2] == 0x444d_4163;
        let hygon = v[1] == 0x6f67_7948 && v[3] == 0x6e65_476e && v[2] == 0x656e_6975;
        if !amd && !hygon {
            pr_err!("not an AMD CPU: rsvm needs AMD-V (SVM)\n");
            return Err(ENODEV);
        }
        if ffi::cpuid(0x8000_0000, 0)[0] < 0x8000_000a || !bit(ffi::cpuid(0x8000_0001, 0)[2], 2) {
            pr_err!("CPU has no SVM (CPUID 8000_0001h ECX bit 2)\n");
            return Err(ENODEV);
        }
        let vm_cr = ffi::rdmsr(MSR_VM_CR)?;
        if vm_cr & VM_CR_SVMDIS != 0 {
            if vm_cr & VM_CR_LOCK != 0 {
                pr_err!("SVM is disabled by firmware (VM_CR.SVMDIS, locked): enable it in the BIOS setup\n");
            } else {
                pr_err!("SVM is disabled (VM_CR.SVMDIS)\n");
            }
            return Err(ENODEV);
        }
        let [eax, ebx, _ecx, edx] = ffi::cpuid(0x8000_000a, 0);
        let cr4 = ffi::read_cr4();
        let f = Self {
            revision: eax & 0xff,
            nr_asids: ebx,
            npt: bit(edx, 0),
            lbr_virt: bit(edx, 1),
            nrip_save: bit(edx, 3),
            vmcb_clean: bit(edx, 5),
            flush_by_asid: bit(edx, 6),
            decode_assists: bit(edx, 7),
            pause_filter: bit(edx, 10),
            avic: bit(edx, 13),
            vmsave_virt: bit(edx, 15),
            vgif: bit(edx, 16),
            ibpb: ffi::cpuid(0x8000_0000, 0)[0] >= 0x8000_0008 && bit(ffi::cpuid(0x8000_0008, 0)[1], 12),
            npt_levels: if cr4 & CR4_LA57 != 0 { 5 } else { 4 },
        };
        if !f.npt {
            pr_err!("CPU has SVM but no nested paging (CPUID 8000_000Ah EDX bit 0): rsvm requires NPT\n");
            return Err(ENODEV);
        }
        if f.nr_asids < 2 {
            pr_err!("CPU reports {} ASIDs: need at least one for guests\n", f.nr_asids);
            return Err(ENODEV);
        }
        Ok(f)
    }
}

/// The format of `/sys/kernel/debug/rsvm/features` (and the load message): `key: value` lines.
impl fmt::Debug for SvmFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yn = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "svm_revision: {}", self.revision)?;
        writeln!(f, "asids: {}", self.nr_asids)?;
        writeln!(f, "npt: {}", yn(self.npt))?;
        writeln!(f, "npt_levels: {}", self.npt_levels)?;
        writeln!(f, "nrip_save: {}", yn(self.nrip_save))?;
        writeln!(f, "decode_assists: {}", yn(self.decode_assists))?;
        writeln!(f, "flush_by_asid: {}", yn(self.flush_by_asid))?;
        writeln!(f, "vmcb_clean: {}", yn(self.vmcb_clean))?;
        writeln!(f, "vgif: {}", yn(self.vgif))?;
        writeln!(f, "avic: {}", yn(self.avic))?;
        writeln!(f, "lbr_virt: {}", yn(self.lbr_virt))?;
        writeln!(f, "pause_filter: {}", yn(self.pause_filter))?;
        writeln!(f, "vmsave_virt: {}", yn(self.vmsave_virt))?;
        writeln!(f, "ibpb: {}", yn(self.ibpb))
    }
}

/// Per-CPU SVM state.
pub(crate) struct SvmCpu {
    /// The page VM_HSAVE_PA points at: the CPU saves host state there on VMRUN. Software
    /// must not touch it (APM 15.30.4).
    hsave: HwPages,
    /// Where the world switch VMSAVEs the host's FS/GS/TR/LDTR and syscall MSRs.
    pub(crate) host_save: HwPages,
    /// EFER.SVME set by rsvm on this CPU.
    enabled: AtomicBool,
    /// ASID allocator; only this CPU touches it, with preemption off.
    asid: core::cell::UnsafeCell<AsidCpu>,
}

// SAFETY: `asid` is only accessed through `with_asid`, on the owning CPU with preemption
// disabled, so there is never concurrent access; everything else is immutable or atomic.
unsafe impl Sync for SvmCpu {}

impl SvmCpu {
    /// Runs `f` on this CPU's ASID allocator. `_np` proves preemption is off, and callers
    /// get `self` from `this_svm_cpu()` under that same guard, so this is the owning CPU.
    pub(crate) fn with_asid<R>(&self, _np: &ffi::NoPreempt, f: impl FnOnce(&mut AsidCpu) -> R) -> R {
        // SAFETY: see the `Sync` impl: owning CPU, preemption off, and `f` cannot re-enter
        // (it gets no access to `self`).
        f(unsafe { &mut *self.asid.get() })
    }
}

/// The per-CPU array, indexed by CPU id, published for the hotplug callbacks (C function
/// pointers without a context argument). Null while SVM is not set up.
static SVM_CPUS: AtomicPtr<KVec<SvmCpu>> = AtomicPtr::new(core::ptr::null_mut());

/// This CPU's SVM state, if rsvm enabled SVM on it; `_np` proves preemption is off.
pub(crate) fn this_svm_cpu<'a>(_np: &'a ffi::NoPreempt) -> Option<&'a SvmCpu> {
    let cpus = SVM_CPUS.load(Ordering::Acquire);
    if cpus.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer is a live `KVec` published by `SvmEnable::new` and only
    // freed by `SvmEnable::drop` after every user (open files, which hold a module reference,
    // and the hotplug callbacks) is gone.
    let c = unsafe { &*cpus }.get(ffi::this_cpu())?;
    c.enabled.load(Ordering::Relaxed).then_some(c)
}

fn svm_cpu<'a>(cpu: c_uint) -> Option<&'a SvmCpu> {
    let cpus = SVM_CPUS.load(Ordering::Acquire);
    if cpus.is_null() {
        return None;
    }
    // SAFETY: as in `this_svm_cpu`.
    unsafe { &*cpus }.get(cpu as usize)
}

/// Hotplug "online" callback, run on `cpu` itself.
unsafe extern "C" fn svm_cpu_online(cpu: c_uint) -> c_int {
    let Some(c) = svm_cpu(cpu) else {
        return EINVAL.to_errno();
    };
    // EFER is read, checked and written with interrupts off, so an IPI (another hypervisor
    // enabling SVM by on_each_cpu) cannot slip in between.
    let _irq = ffi::IrqSave::new();
    let efer = match ffi::rdmsr(MSR_EFER) {
        Ok(v) => v,
        Err(e) => return e.to_errno(),
    };
    if efer & EFER_SVME != 0 {
        pr_err!("cpu{}: SVM is already enabled (EFER.SVME): another hypervisor, likely kvm_amd, owns it\n", cpu);
        return EBUSY.to_errno();
    }
    // SAFETY: VM_HSAVE_PA gets a page rsvm owns for as long as SVM is on here; EFER.SVME is
    // set only after it, and no other kernel code depends on SVME being clear.
    let r = unsafe { ffi::wrmsr(MSR_VM_HSAVE_PA, c.hsave.phys()) }
        // SAFETY: as above.
        .and_then(|()| unsafe { ffi::wrmsr(MSR_EFER, efer | EFER_SVME) });
    match r {
        Ok(()) => {
            // Whatever VMCB state and TLB entries this CPU holds from before it went offline
            // are not trusted: the first VMCB run here reloads everything (svm/clean.rs) and
            // takes an ASID of a new generation, with a full flush (asid.rs). The callback
            // runs on `cpu` itself (the owner `with_asid` requires), and no vCPU enters here
            // before `enabled` is set below.
            let np = ffi::NoPreempt::new();
            c.with_asid(&np, |a| a.restart());
            drop(np);
            c.enabled.store(true, Ordering::Relaxed);
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Hotplug "offline" callback (also run for every CPU on unload), on `cpu` itself.
unsafe extern "C" fn svm_cpu_offline(cpu: c_uint) -> c_int {
    let Some(c) = svm_cpu(cpu) else {
        return 0;
    };
    let _irq = ffi::IrqSave::new();
    if !c.enabled.swap(false, Ordering::Relaxed) {
        return 0;
    }
    // GIF=1 before SVM goes away, or INIT and NMI would stay blocked (as x86_virt does).
    crate::svm::ops::stgi();
    if let Ok(efer) = ffi::rdmsr(MSR_EFER) {
        // SAFETY: clearing SVME that rsvm set; no guest runs on this CPU (we are in the
        // hotplug thread with interrupts off, and every run loop holds a module reference and
        // re-checks `enabled` with preemption off before VMRUN).
        let _ = unsafe { ffi::wrmsr(MSR_EFER, efer & !EFER_SVME) };
    }
    // SAFETY: the host save area is no longer in use once SVME is clear.
    let _ = unsafe { ffi::wrmsr(MSR_VM_HSAVE_PA, 0) };
    // SAFETY: interrupts are off on `cpu` itself and no guest runs here any more.
    unsafe { ffi::tsc_aux_drop() };
    0
}

/// `/sys/kernel/debug/rsvm/svm_cpus`: the CPUs on which rsvm has SVM enabled, one line,
/// comma-separated (tests follow hotplug with it).
pub(crate) struct SvmCpusFile;

impl fmt::Debug for SvmCpusFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpus = SVM_CPUS.load(Ordering::Acquire);
        if !cpus.is_null() {
            // SAFETY: as in `this_svm_cpu`; debugfs files are removed before the array is freed.
            let cpus = unsafe { &*cpus };
            let mut first = true;
            for (i, c) in cpus.iter().enumerate() {
                if c.enabled.load(Ordering::Relaxed) {
                    write!(f, "{}{}", if first { "" } else { "," }, i)?;
                    first = false;
                }
            }
        }
        writeln!(f)
    }
}

/// SVM enabled on every online CPU for as long as this value lives.
pub(crate) struct SvmEnable {
    state: c_int,
}

impl SvmEnable {
    pub(crate) fn new(features: &SvmFeatures) -> Result<Self> {
        let n = ffi::nr_cpu_ids();
        let mut cpus = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            cpus.push(
                SvmCpu {
                    hsave: HwPages::page()?,
                    host_save: HwPages::page()?,
                    enabled: AtomicBool::new(false),
                    asid: core::cell::UnsafeCell::new(AsidCpu::new(features.nr_asids)),
                },
                GFP_KERNEL,
            )?;
        }
        let cpus = KBox::new(cpus, GFP_KERNEL)?;
        SVM_CPUS.store(KBox::into_raw(cpus), Ordering::Release);
        // cpuhp_setup_state() runs the online callback on every online CPU now and on every
        // CPU that comes online later; on failure it rolls back the CPUs already done.
        // SAFETY: both callbacks are valid for the module's lifetime; the state is removed in
        // `drop` (or below on failure).
        let state = unsafe { ffi::cpuhp_setup(svm_cpu_online, svm_cpu_offline) };
        if state < 0 {
            Self::free_cpus();
            return Err(Error::from_errno(state));
        }
        Ok(Self { state })
    }

    fn free_cpus() {
        let p = SVM_CPUS.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: `p` came from `KBox::into_raw` in `new` and is freed only here, once
            // (the swap took it); no callback can run any more.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

impl Drop for SvmEnable {
    fn drop(&mut self) {
        // Runs the offline callback on every online CPU: SVM off everywhere.
        // SAFETY: `state` came from a successful setup and is removed once.
        unsafe { ffi::cpuhp_remove(self.state) };
        Self::free_cpus();
    }
}
