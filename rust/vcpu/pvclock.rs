// SPDX-License-Identifier: GPL-2.0

//! kvm-clock, a vCPU's side (Documentation/virt/kvm/x86/msr.rst): MSR_KVM_SYSTEM_TIME(_NEW)
//! names the guest-physical address of the vCPU's `pvclock_vcpu_time_info` (bit 0 enables
//! it), which rsvm keeps current before each entry; MSR_KVM_WALL_CLOCK(_NEW) asks for the
//! wall-clock time at which kvm-clock read 0, written once at that address. The page holds
//! the VM's reference (`kvmclock.rs`) in the guest's TSC: its TSC at the reference point
//! and the scale, so the guest computes the clock from RDTSC without exits.
//!
//! As KVM (kvm_write_system_time(), kvm_setup_guest_pvclock(), kvm_write_wall_clock() in
//! arch/x86/kvm/x86.c): a GPA outside guest RAM is accepted and nothing is written; the
//! version field is odd while the structure is being written, then even; both MSR pairs are
//! accepted whatever the guest's CPUID says (KVM checks it only with
//! KVM_CAP_ENFORCE_PV_FEATURE_CPUID, which rsvm does not offer).

use super::{state::VcpuState, Vcpu};
use crate::{gmem, uapi::kvm::*, vmmem::VmMem};
use core::sync::atomic::Ordering;
use kernel::transmute::AsBytes;

/// Reads the u32 version at `gpa` and returns the odd value that opens an update, as KVM
/// does (a guest-initialised page may hold anything; an odd value is skipped past).
fn open_version(mem: &mut VmMem, gpa: u64) -> Option<u32> {
    let mut b = [0u8; 4];
    gmem::read_phys(mem, gpa, &mut b).ok()?;
    Some(u32::from_le_bytes(b).wrapping_add(1) | 1)
}

/// Writes `data` (whose first u32 is the version) at `gpa` between an odd and an even
/// version, so a reader that sees the same even version before and after has a whole copy.
fn versioned_write(mem: &mut VmMem, gpa: u64, data: &mut [u8]) {
    let Some(v) = open_version(mem, gpa) else { return };
    if gmem::write_phys(mem, gpa, &v.to_le_bytes()).is_err() {
        return;
    }
    if let Some(version) = data.get_mut(..4) {
        version.copy_from_slice(&v.to_le_bytes());
    }
    // For a reader on another CPU, the version protocol needs these stores in this order
    // (KVM's smp_wmb()s).
    core::sync::atomic::fence(Ordering::Release);
    let _ = gmem::write_phys(mem, gpa, data);
    core::sync::atomic::fence(Ordering::Release);
    let _ = gmem::write_phys(mem, gpa, &v.wrapping_add(1).to_le_bytes());
}

impl Vcpu {
    /// The kvm-clock MSRs, read or written by the guest or (`host`) by KVM_GET/SET_MSRS;
    /// `None` for any other MSR. They never fault.
    pub(super) fn pvclock_msr(&self, st: &mut VcpuState, msr: u32, write: Option<u64>) -> Option<u64> {
        match (msr, write) {
            (MSR_KVM_SYSTEM_TIME | MSR_KVM_SYSTEM_TIME_NEW, None) => Some(st.pvclock_msr),
            (MSR_KVM_SYSTEM_TIME | MSR_KVM_SYSTEM_TIME_NEW, Some(v)) => {
                (st.pvclock_msr, st.pvclock_written) = (v, None);
                Some(0)
            }
            (MSR_KVM_WALL_CLOCK | MSR_KVM_WALL_CLOCK_NEW, None) => Some(self.vm.wall_clock.load(Ordering::Relaxed)),
            (MSR_KVM_WALL_CLOCK | MSR_KVM_WALL_CLOCK_NEW, Some(gpa)) => {
                self.vm.wall_clock.store(gpa, Ordering::Relaxed);
                let ns = self.vm.clock.boot_wall_ns();
                let mut wc = PvclockWallClock { version: 0, sec: (ns / 1_000_000_000) as u32, nsec: (ns % 1_000_000_000) as u32 };
                let mut mem = self.vm.mem.lock();
                versioned_write(&mut mem, gpa, wc.as_bytes_mut());
                Some(0)
            }
            _ => None,
        }
    }

    /// Before an entry: rewrites the vCPU's pvclock page if it is enabled and the VM's
    /// reference or this vCPU's TSC offset changed since it was written (KVM's
    /// KVM_REQ_CLOCK_UPDATE). Two loads and a compare otherwise.
    pub(super) fn pvclock_update(&self, st: &mut VcpuState) {
        if st.pvclock_msr & 1 == 0 {
            return;
        }
        let offset = st.vmcb().control.tsc_offset;
        if st.pvclock_written == Some((self.vm.clock.generation(), offset)) {
            return;
        }
        let (r, generation) = self.vm.clock.reference();
        let mut p = PvclockVcpuTimeInfo {
            tsc_timestamp: r.tsc.wrapping_add(offset),
            system_time: r.ns,
            tsc_to_system_mul: r.mul,
            tsc_shift: r.shift,
            flags: PVCLOCK_TSC_STABLE_BIT,
            ..Default::default()
        };
        let mut mem = self.vm.mem.lock();
        versioned_write(&mut mem, st.pvclock_msr & !1, p.as_bytes_mut());
        st.pvclock_written = Some((generation, offset));
    }
}
