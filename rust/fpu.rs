// SPDX-License-Identifier: GPL-2.0

//! The guest's FPU/SSE/AVX state, kept apart from the host's.
//!
//! Each entry takes the FPU from the host task (`kernel_fpu_begin()` saves the task's user
//! state and the kernel restores it on return to userspace), XRSTORs the guest image, loads
//! the guest's XCR0 if it differs, runs the guest, and XSAVEs the image back. The image is
//! the standard (non-compacted) XSAVE format, so `KVM_GET/SET_XSAVE` copy it as is, and
//! `KVM_GET/SET_FPU` read and write its legacy FXSAVE region. PKRU is not part of it: as KVM
//! (`kvm_load_guest_xsave_state()`/`kvm_load_host_xsave_state()` in arch/x86/kvm/x86.c) it is
//! switched on its own, around VMRUN (`enter_pkru`/`exit_pkru`), because the host kernel
//! checks user accesses against the live PKRU and does not reload it on return to userspace.

use crate::{ffi, hwpage::HwPages, uapi::kvm::{KvmFpu, KvmXsave}, x86::{CR4_OSXSAVE, CR4_PKE}};
use core::{
    arch::asm,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::prelude::*;

pub(crate) const XFEATURE_FP: u64 = 1 << 0;
pub(crate) const XFEATURE_SSE: u64 = 1 << 1;
pub(crate) const XFEATURE_YMM: u64 = 1 << 2;
const XFEATURE_PKRU: u64 = 1 << 9;
/// MPX's BNDREGS and BNDCSR.
const XFEATURE_MPX: u64 = (1 << 3) | (1 << 4);
const XSAVE_HDR: usize = 512;
const MXCSR_DEFAULT: u32 = 0x1f80;
/// MXCSR bits 31:16 are reserved; XRSTOR of a set one raises #GP.
const MXCSR_MASK: u32 = 0xffff;

pub(crate) fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV(0) reads XCR0; the module requires XSAVE with CR4.OSXSAVE (checked at
    // load), so it does not fault.
    unsafe { asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (hi as u64) << 32 | lo as u64
}

/// # Safety
///
/// `v` must be a valid XCR0 for this CPU (a subset of the host's, with x87), and the caller
/// restores the host's value before the kernel uses extended state.
unsafe fn xsetbv0(v: u64) {
    // SAFETY: the caller guarantees a valid value, so XSETBV does not fault.
    unsafe { asm!("xsetbv", in("ecx") 0, in("eax") v as u32, in("edx") (v >> 32) as u32, options(nomem, nostack)) };
}

/// The host kernel runs with CR4.PKE (`X86_FEATURE_OSPKE`): PKRU is live and RDPKRU works.
/// Set once at load (`probe`); CR4.PKE does not change afterwards.
static HOST_OSPKE: AtomicBool = AtomicBool::new(false);

fn rdpkru() -> u32 {
    let pkru: u32;
    // SAFETY: only called with the host's CR4.PKE set (HOST_OSPKE), so RDPKRU does not #UD;
    // it reads PKRU into EAX (ECX must be 0, EDX is cleared) and has no other effect.
    unsafe { asm!("rdpkru", in("ecx") 0, out("eax") pkru, out("edx") _, options(nomem, nostack, preserves_flags)) };
    pkru
}

/// # Safety
///
/// The host's CR4.PKE is set, and the caller puts the host's value back before the host
/// kernel touches user memory again (GIF=0 around VMRUN).
unsafe fn wrpkru(pkru: u32) {
    // SAFETY: the caller's guarantees; WRPKRU takes ECX = EDX = 0.
    unsafe { asm!("wrpkru", in("eax") pkru, in("ecx") 0, in("edx") 0, options(nostack, preserves_flags)) };
}

/// The XSAVE components rsvm switches for guests: the host's, without PKRU and without MPX
/// (no MPX for guests on SVM, as KVM on AMD: cpuid.rs).
pub(crate) fn guest_supported_xcr0() -> u64 {
    xgetbv0() & !(XFEATURE_PKRU | XFEATURE_MPX)
}

/// Checks at load that the CPU can do what this module assumes (XSAVE enabled by the host
/// kernel, and a standard-format image that fits the 4 KiB of `struct kvm_xsave`).
pub(crate) fn probe() -> Result {
    let ecx = ffi::cpuid(1, 0)[2];
    let cr4 = ffi::read_cr4();
    if ecx & (1 << 26) == 0 || cr4 & CR4_OSXSAVE == 0 {
        pr_err!("the host does not use XSAVE: rsvm needs it to keep guest FPU state apart\n");
        return Err(ENODEV);
    }
    if ffi::cpuid(0xd, 0)[1] > 4096 {
        pr_err!("the host's XSAVE image exceeds 4 KiB: not supported\n");
        return Err(ENODEV);
    }
    HOST_OSPKE.store(cr4 & CR4_PKE != 0, Ordering::Relaxed);
    Ok(())
}

/// One vCPU's FPU image and XCR0.
pub(crate) struct GuestFpu {
    image: HwPages,
    pub(crate) xcr0: u64,
    mask: u64,
    /// The guest's PKRU (0 after reset, PKRU's init state), live only while it runs.
    pkru: u32,
}

impl GuestFpu {
    pub(crate) fn new() -> Result<Self> {
        let mut f = Self { image: HwPages::page()?, xcr0: XFEATURE_FP, mask: guest_supported_xcr0(), pkru: 0 };
        f.reset();
        Ok(f)
    }

    /// The architectural reset state: every component in its init state, FCW 0x37F and
    /// MXCSR 0x1F80 (which XRSTOR loads from the image even for init components).
    pub(crate) fn reset(&mut self) {
        let b = self.image.bytes();
        b.fill(0);
        b[0..2].copy_from_slice(&0x37fu16.to_le_bytes());
        b[24..28].copy_from_slice(&MXCSR_DEFAULT.to_le_bytes());
        self.xcr0 = XFEATURE_FP;
        self.pkru = 0;
    }

    /// Whether the guest's PKRU is in force: it enabled protection keys (CR4.PKE) or put
    /// PKRU in its XCR0 (its XRSTOR could load it), as `kvm_load_guest_xsave_state()`.
    fn pkru_used(&self, guest_cr4: u64) -> bool {
        guest_cr4 & CR4_PKE != 0 || self.xcr0 & XFEATURE_PKRU != 0
    }

    /// Just before VMRUN (GIF=0): the guest's PKRU in, if it uses one and it differs.
    /// Returns the host's PKRU for `exit_pkru` (`None`: the host has no protection keys;
    /// then no guest can have CR4.PKE either, as CR4 follows the host's features).
    pub(crate) fn enter_pkru(&self, guest_cr4: u64) -> Option<u32> {
        if !HOST_OSPKE.load(Ordering::Relaxed) {
            return None;
        }
        let host = rdpkru();
        if self.pkru_used(guest_cr4) && self.pkru != host {
            // SAFETY: HOST_OSPKE; GIF=0 (the caller), and `exit_pkru` restores `host`.
            unsafe { wrpkru(self.pkru) };
        }
        Some(host)
    }

    /// Right after #VMEXIT (GIF=0): keeps the guest's PKRU if it uses one and puts the
    /// host's back, as `kvm_load_host_xsave_state()`. The host's is restored whenever the
    /// register differs from it, whatever the guest's CR4 says now: no value a guest wrote
    /// reaches the host kernel's user accesses or the VMM thread.
    pub(crate) fn exit_pkru(&mut self, host: Option<u32>, guest_cr4: u64) {
        let Some(host) = host else { return };
        let cur = rdpkru();
        if self.pkru_used(guest_cr4) {
            self.pkru = cur;
        }
        if cur != host {
            // SAFETY: HOST_OSPKE (`host` is Some); the host's own value.
            unsafe { wrpkru(host) };
        }
    }

    /// Loads the guest image into the registers. Call between `kernel_fpu_begin()` and
    /// `kernel_fpu_end()`, with the host's XCR0 loaded.
    pub(crate) fn load(&mut self) {
        let p: *mut u8 = self.image.as_mut_ptr();
        // SAFETY: the image is a page (64-byte aligned, >= the XSAVE size checked by
        // `probe`) whose header and MXCSR were validated by every writer (`reset`,
        // `set_xsave`, `set_fpu`), so XRSTOR cannot #GP; we own the FPU (kernel_fpu_begin).
        unsafe { asm!("xrstor64 [{}]", in(reg) p, in("eax") self.mask as u32, in("edx") (self.mask >> 32) as u32, options(nostack)) };
    }

    /// Saves the registers into the guest image (host XCR0 loaded again).
    pub(crate) fn save(&mut self) {
        let p: *mut u8 = self.image.as_mut_ptr();
        // SAFETY: as in `load`; XSAVE writes at most the image size.
        unsafe { asm!("xsave64 [{}]", in(reg) p, in("eax") self.mask as u32, in("edx") (self.mask >> 32) as u32, options(nostack)) };
    }

    /// Switches to the guest's XCR0 if the guest enabled XSAVE and it differs.
    pub(crate) fn enter_xcr0(&self, guest_cr4: u64, host_xcr0: u64) {
        if guest_cr4 & CR4_OSXSAVE != 0 && self.xcr0 != host_xcr0 {
            // SAFETY: `xcr0` was validated by `set_xcr0` (subset of the host's, x87 set)
            // or read back from the CPU after a guest XSETBV; the caller restores the
            // host's value with `exit_xcr0` right after #VMEXIT.
            unsafe { xsetbv0(self.xcr0) };
        }
    }

    /// After #VMEXIT: takes the XCR0 the guest left loaded and puts the host's back.
    /// XSETBV is intercepted on hardware, but QEMU's SVM does not intercept it, so the
    /// guest may have changed XCR0 directly: reading it back keeps the host safe either way.
    pub(crate) fn exit_xcr0(&mut self, host_xcr0: u64) {
        let cur = xgetbv0();
        if cur != host_xcr0 {
            self.xcr0 = cur;
            // SAFETY: restores the host's own value.
            unsafe { xsetbv0(host_xcr0) };
        }
    }

    /// Guest XSETBV(0, v): Ok, or the guest gets #GP (SDM/APM rules for XCR0).
    pub(crate) fn set_xcr0(&mut self, v: u64) -> Result<(), ()> {
        let avx512 = 0xe0;
        if v & XFEATURE_FP == 0
            || v & !self.mask != 0
            || (v & XFEATURE_YMM != 0 && v & XFEATURE_SSE == 0)
            || (v & avx512 != 0 && (v & avx512 != avx512 || v & XFEATURE_YMM == 0))
            || ((v >> 3) & 1) != ((v >> 4) & 1)
        {
            return Err(());
        }
        self.xcr0 = v;
        Ok(())
    }

    fn xstate_bv(&mut self) -> u64 {
        let b = self.image.bytes();
        u64::from_le_bytes(b[XSAVE_HDR..XSAVE_HDR + 8].try_into().unwrap_or([0; 8]))
    }

    pub(crate) fn get_xsave(&mut self) -> KvmXsave {
        let mut x = KvmXsave { region: [0; 1024] };
        let b = self.image.bytes();
        for (i, w) in x.region.iter_mut().enumerate() {
            let o = i * 4;
            *w = u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        }
        x
    }

    /// Installs an image from userspace after the checks XRSTOR would fault on.
    pub(crate) fn set_xsave(&mut self, x: &KvmXsave) -> Result {
        let word = |i: usize| x.region.get(i).copied().unwrap_or(0);
        let mxcsr = word(6);
        let xstate_bv = word(128) as u64 | (word(129) as u64) << 32;
        let xcomp_bv = word(130) as u64 | (word(131) as u64) << 32;
        let rsvd = (132..144).any(|i| word(i) != 0);
        if mxcsr & !MXCSR_MASK != 0 || xstate_bv & !self.mask != 0 || xcomp_bv != 0 || rsvd {
            return Err(EINVAL);
        }
        let b = self.image.bytes();
        for (i, w) in x.region.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        Ok(())
    }

    /// `KVM_GET_FPU`: the legacy region, with init values for components in init state.
    pub(crate) fn get_fpu(&mut self) -> KvmFpu {
        let bv = self.xstate_bv();
        let b = self.image.bytes();
        let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let mut f = KvmFpu {
            fpr: [[0; 16]; 8],
            fcw: 0x37f,
            fsw: 0,
            ftwx: 0,
            pad1: 0,
            last_opcode: 0,
            last_ip: 0,
            last_dp: 0,
            xmm: [[0; 16]; 16],
            mxcsr: u32::from_le_bytes([b[24], b[25], b[26], b[27]]),
            pad2: 0,
        };
        if bv & XFEATURE_FP != 0 {
            f.fcw = u16at(0);
            f.fsw = u16at(2);
            f.ftwx = b[4];
            f.last_opcode = u16at(6);
            f.last_ip = u64at(8);
            f.last_dp = u64at(16);
            for (i, r) in f.fpr.iter_mut().enumerate() {
                r.copy_from_slice(&b[32 + i * 16..48 + i * 16]);
            }
        }
        if bv & XFEATURE_SSE != 0 {
            for (i, r) in f.xmm.iter_mut().enumerate() {
                r.copy_from_slice(&b[160 + i * 16..176 + i * 16]);
            }
        }
        f
    }

    /// `KVM_SET_FPU`: writes the legacy region and marks x87 and SSE as in use.
    pub(crate) fn set_fpu(&mut self, f: &KvmFpu) -> Result {
        if f.mxcsr & !MXCSR_MASK != 0 {
            return Err(EINVAL);
        }
        let bv = self.xstate_bv() | XFEATURE_FP | XFEATURE_SSE;
        let b = self.image.bytes();
        b[0..2].copy_from_slice(&f.fcw.to_le_bytes());
        b[2..4].copy_from_slice(&f.fsw.to_le_bytes());
        b[4] = f.ftwx;
        b[6..8].copy_from_slice(&f.last_opcode.to_le_bytes());
        b[8..16].copy_from_slice(&f.last_ip.to_le_bytes());
        b[16..24].copy_from_slice(&f.last_dp.to_le_bytes());
        b[24..28].copy_from_slice(&f.mxcsr.to_le_bytes());
        for (i, r) in f.fpr.iter().enumerate() {
            b[32 + i * 16..48 + i * 16].copy_from_slice(r);
        }
        for (i, r) in f.xmm.iter().enumerate() {
            b[160 + i * 16..176 + i * 16].copy_from_slice(r);
        }
        b[XSAVE_HDR..XSAVE_HDR + 8].copy_from_slice(&bv.to_le_bytes());
        Ok(())
    }
}

/// The FPU owned for a guest entry: `kernel_fpu_begin()` .. `kernel_fpu_end()`.
pub(crate) struct FpuGuard(());

impl FpuGuard {
    pub(crate) fn begin() -> Self {
        // SAFETY: process context (KVM_RUN), not nested: the guard ends it.
        unsafe { ffi::fpu_begin() };
        FpuGuard(())
    }
}

impl Drop for FpuGuard {
    fn drop(&mut self) {
        // SAFETY: pairs with `begin`.
        unsafe { ffi::fpu_end() };
    }
}
