// SPDX-License-Identifier: GPL-2.0

//! The vCPU fd: its ioctls (MSRs, CPUID, FPU/XSAVE, interrupts, MP state, signal mask,
//! statistics; registers and segments in `regs.rs`) and the `extern "C"` entry points the fops table in
//! `shim.c` calls (ioctl, release, mmap of the run and PIO pages).

use super::Vcpu;
use crate::{
    cpuid, ffi, msr,
    uapi::kvm::*,
    uapi::{RsvmVcpuStats, RSVM_GET_VCPU_STATS},
};
use core::sync::atomic::Ordering;
use kernel::{
    bindings,
    ffi::{c_int, c_long, c_uint, c_ulong},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

impl Vcpu {
    /// KVM_GET_MP_STATE.
    fn mp_state(&self) -> u32 {
        let st = self.state.lock();
        if st.wait_sipi {
            KVM_MP_STATE_UNINITIALIZED
        } else if st.halted {
            KVM_MP_STATE_HALTED
        } else {
            KVM_MP_STATE_RUNNABLE
        }
    }

    /// KVM_SET_MP_STATE: only RUNNABLE without an in-kernel APIC (as KVM).
    fn set_mp_state(&self, v: u32) -> Result {
        let mut st = self.state.lock();
        if st.lapic.is_none() && v != KVM_MP_STATE_RUNNABLE {
            return Err(EINVAL);
        }
        match v {
            KVM_MP_STATE_RUNNABLE => (st.wait_sipi, st.halted) = (false, false),
            KVM_MP_STATE_UNINITIALIZED | KVM_MP_STATE_INIT_RECEIVED => (st.wait_sipi, st.halted) = (true, false),
            KVM_MP_STATE_HALTED => (st.wait_sipi, st.halted) = (false, true),
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    fn get_msrs(&self, arg: usize, write: bool) -> Result<isize> {
        let hdr: KvmMsrs = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmMsrs>()).reader().read()?;
        // As KVM's MAX_IO_MSRS.
        if hdr.nmsrs >= 256 {
            return Err(E2BIG);
        }
        let n = hdr.nmsrs as usize;
        let base = arg.checked_add(size_of::<KvmMsrs>()).ok_or(EFAULT)?;
        let (mut r, mut w) = UserSlice::new(UserPtr::from_addr(base), n * size_of::<KvmMsrEntry>()).reader_writer();
        // KVM_SET_MSRS only reads the entries; KVM_GET_MSRS writes each one back in place.
        let mut st = self.state.lock();
        let mut done = 0;
        for _ in 0..n {
            let mut e: KvmMsrEntry = r.read()?;
            let val = write.then_some(e.data);
            let apic = self.tsc_msr(&mut st, e.index, val, true).or_else(|| self.pvclock_msr(&mut st, e.index, val)).map(Ok).or_else(|| st.mtrr_msr(e.index, val)).or_else(|| self.apic_msr(&mut st, e.index, val, true));
            let ok = if let Some(res) = apic {
                match res {
                    Ok(v) => {
                        if !write {
                            e.data = v;
                        }
                        true
                    }
                    Err(()) => false,
                }
            } else if write {
                let allowed = cpuid::efer_allowed(&st.cpuid);
                msr::set(st.vmcb(), e.index, e.data, true, allowed).is_ok()
            } else {
                match msr::get(st.vmcb(), e.index) {
                    Ok(v) => {
                        e.data = v;
                        true
                    }
                    Err(_) => false,
                }
            };
            if !ok {
                break;
            }
            if !write {
                w.write(&e)?;
            }
            done += 1;
        }
        Ok(done)
    }

    fn interrupt(&self, arg: usize) -> Result<isize> {
        let i: KvmInterrupt = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmInterrupt>()).reader().read()?;
        if i.irq >= 256 {
            return Err(EINVAL);
        }
        let mut st = self.state.lock();
        if st.irq.is_some() {
            return Err(EEXIST);
        }
        st.irq = Some(i.irq as u8);
        Ok(0)
    }

    fn set_signal_mask(&self, arg: usize) -> Result<isize> {
        if arg == 0 {
            self.state.lock().sigmask = None;
            return Ok(0);
        }
        let hdr: KvmSignalMask = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmSignalMask>()).reader().read()?;
        if hdr.len != 8 {
            return Err(EINVAL);
        }
        let m: u64 = UserSlice::new(UserPtr::from_addr(arg.checked_add(4).ok_or(EFAULT)?), 8).reader().read()?;
        // SIGKILL and SIGSTOP cannot be blocked (as sigprocmask does).
        self.state.lock().sigmask = Some(m & !((1 << 8) | (1 << 18)));
        Ok(0)
    }

    /// A vCPU fd's ioctl (only from the VM's owner process, as KVM).
    fn ioctl(&self, cmd: c_uint, arg: c_ulong) -> Result<isize> {
        if !self.vm.is_owner() {
            return Err(EIO);
        }
        let a = arg as usize;
        let user = |n: usize| UserSlice::new(UserPtr::from_addr(a), n);
        match cmd {
            KVM_RUN => {
                if arg != 0 {
                    return Err(EINVAL);
                }
                self.run()
            }
            KVM_GET_REGS => user(size_of::<KvmRegs>()).writer().write(&self.get_regs()).map(|_| 0),
            KVM_SET_REGS => {
                let r: KvmRegs = user(size_of::<KvmRegs>()).reader().read()?;
                self.set_regs(&r);
                Ok(0)
            }
            KVM_GET_SREGS => user(size_of::<KvmSregs>()).writer().write(&self.get_sregs()).map(|_| 0),
            KVM_SET_SREGS => {
                let k: KvmSregs = user(size_of::<KvmSregs>()).reader().read()?;
                self.set_sregs(&k).map(|_| 0)
            }
            KVM_GET_FPU => {
                let f = self.state.lock().fpu.get_fpu();
                user(size_of::<KvmFpu>()).writer().write(&f).map(|_| 0)
            }
            KVM_SET_FPU => {
                let f: KvmFpu = user(size_of::<KvmFpu>()).reader().read()?;
                self.state.lock().fpu.set_fpu(&f).map(|_| 0)
            }
            KVM_GET_XCRS => user(size_of::<KvmXcrs>()).writer().write(&self.get_xcrs()).map(|_| 0),
            KVM_SET_XCRS => {
                let x: KvmXcrs = user(size_of::<KvmXcrs>()).reader().read()?;
                self.set_xcrs(&x).map(|_| 0)
            }
            KVM_GET_XSAVE => {
                let x = KBox::new(self.state.lock().fpu.get_xsave(), GFP_KERNEL)?;
                user(size_of::<KvmXsave>()).writer().write(&*x).map(|_| 0)
            }
            KVM_SET_XSAVE => {
                let x: KBox<KvmXsave> = KBox::new(user(size_of::<KvmXsave>()).reader().read()?, GFP_KERNEL)?;
                self.state.lock().fpu.set_xsave(&x).map(|_| 0)
            }
            KVM_GET_MSRS => self.get_msrs(a, false),
            KVM_SET_MSRS => self.get_msrs(a, true),
            KVM_SET_CPUID2 => self.set_cpuid(a),
            KVM_GET_CPUID2 => self.get_cpuid(a),
            KVM_INTERRUPT => self.interrupt(a),
            KVM_GET_VCPU_EVENTS => user(size_of::<KvmVcpuEvents>()).writer().write(&self.get_vcpu_events()).map(|_| 0),
            KVM_SET_VCPU_EVENTS => {
                let e: KvmVcpuEvents = user(size_of::<KvmVcpuEvents>()).reader().read()?;
                self.set_vcpu_events(&e).map(|_| 0)
            }
            KVM_GET_DEBUGREGS => user(size_of::<KvmDebugregs>()).writer().write(&self.get_debugregs()).map(|_| 0),
            KVM_SET_DEBUGREGS => {
                let d: KvmDebugregs = user(size_of::<KvmDebugregs>()).reader().read()?;
                self.set_debugregs(&d).map(|_| 0)
            }
            KVM_GET_LAPIC => {
                let l = self.get_lapic()?;
                user(size_of::<KvmLapicState>()).writer().write(&*l).map(|_| 0)
            }
            KVM_SET_LAPIC => {
                let l: KBox<KvmLapicState> = KBox::new(user(size_of::<KvmLapicState>()).reader().read()?, GFP_KERNEL)?;
                self.set_lapic(&l).map(|_| 0)
            }
            KVM_GET_MP_STATE => user(4).writer().write(&self.mp_state()).map(|_| 0),
            KVM_SET_MP_STATE => {
                let v: u32 = user(4).reader().read()?;
                self.set_mp_state(v).map(|_| 0)
            }
            KVM_GET_TSC_KHZ => match ffi::tsc_khz() {
                0 => Err(EIO),
                k => Ok(k as isize),
            },
            KVM_SET_SIGNAL_MASK => self.set_signal_mask(a),
            KVM_HAS_DEVICE_ATTR | KVM_GET_DEVICE_ATTR | KVM_SET_DEVICE_ATTR => self.tsc_attr(cmd, a),
            KVM_GET_STATS_FD => crate::stats::open(&self.vm, Some(&self.shared)),
            RSVM_GET_VCPU_STATS => {
                let mut s = RsvmVcpuStats::default();
                for (d, c) in s.exits.iter_mut().zip(self.shared.stats.iter()) {
                    *d = c.load(Ordering::Relaxed);
                }
                let mem = self.vm.mem.lock();
                s.pinned_pages = mem.slots.pinned();
                s.npt_leaves_4k = mem.npt.leaves_4k;
                s.npt_leaves_2m = mem.npt.leaves_2m;
                drop(mem);
                user(size_of::<RsvmVcpuStats>()).writer().write(&s).map(|_| 0)
            }
            _ => Err(ENOTTY),
        }
    }
}

// SAFETY: `rsvm_vcpu_ioctl`, `rsvm_vcpu_mmap` and `rsvm_vcpu_release`, the callbacks of the
// `rsvm-vcpu` fops table, read the private data as `Arc<Vcpu>`; `Vm` has the other kind.
unsafe impl crate::anonfd::AnonFd for Vcpu {
    const KIND: crate::anonfd::FdKind = crate::anonfd::FdKind::Vcpu;
}

#[no_mangle]
unsafe extern "C" fn rsvm_vcpu_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: a vCPU fd's private data is its `Arc<Vcpu>` (anonfd::install), alive during
    // the ioctl.
    let v = unsafe { crate::anonfd::borrow::<Vcpu>(file) };
    match v.ioctl(cmd, arg) {
        Ok(r) => r as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

#[no_mangle]
unsafe extern "C" fn rsvm_vcpu_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: the fd's last reference: takes back the Arc installed by anonfd::install.
    drop(unsafe { crate::anonfd::take::<Vcpu>(file) });
    0
}

#[no_mangle]
unsafe extern "C" fn rsvm_vcpu_mmap(file: *mut bindings::file, vma: *mut bindings::vm_area_struct) -> c_int {
    // SAFETY: as in `rsvm_vcpu_ioctl`.
    let v = unsafe { crate::anonfd::borrow::<Vcpu>(file) };
    let pages = [v.run.as_mut_ptr::<u8>() as c_ulong, v.pio.as_mut_ptr::<u8>() as c_ulong, v.vm.coalesced.ring_va() as c_ulong];
    // SAFETY: `vma` is the mapping being set up (this is the fd's mmap handler); the pages
    // are order-0 direct-map pages the vCPU and its VM hold (KVM_COALESCED_MMIO_PAGE_OFFSET
    // is the third).
    unsafe { ffi::mmap_pages(vma, &pages) }
}
