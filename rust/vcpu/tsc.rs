// SPDX-License-Identifier: GPL-2.0

//! The guest's time-stamp counter: IA32_TSC and IA32_TSC_ADJUST as KVM emulates them, and the
//! TSC-offset vCPU attribute (KVM_VCPU_TSC_CTRL / KVM_VCPU_TSC_OFFSET).
//!
//! The guest's TSC is the host's plus the VMCB's TSC_OFFSET (rsvm does not scale the TSC).
//! IA32_TSC_ADJUST (SDM vol. 3 18.17.3) is a separate value: a guest write to either MSR moves
//! both, because the architecture says a write to IA32_TSC adds the same amount to
//! IA32_TSC_ADJUST and a write to IA32_TSC_ADJUST adds the difference to the TSC. A write from
//! the host (KVM_SET_MSRS, the attribute) sets one without the other, so that restoring a
//! migrated vCPU does not count as the guest adjusting its clock: KVM's kvm_set_msr_common()
//! (MSR_IA32_TSC, MSR_IA32_TSC_ADJUST) and kvm_arch_tsc_set_attr() in arch/x86/kvm/x86.c.

use super::{state::VcpuState, Vcpu};
use crate::{
    cpuid, ffi,
    msr::{MSR_IA32_TSC, MSR_IA32_TSC_ADJUST},
    uapi::kvm::*,
};
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

impl Vcpu {
    /// IA32_TSC and IA32_TSC_ADJUST, read (`write` None) or written, by the guest or, with
    /// `host`, by KVM_GET/SET_MSRS. `None` for any other MSR. These two never fault: as KVM,
    /// IA32_TSC_ADJUST reads whatever the CPUID says, and writes to it are dropped when the
    /// guest's CPUID lacks the feature.
    pub(super) fn tsc_msr(&self, st: &mut VcpuState, msr: u32, write: Option<u64>, host: bool) -> Option<u64> {
        // Every MSR exit asks here first: one compare for the others (no RDTSC).
        if msr != MSR_IA32_TSC && msr != MSR_IA32_TSC_ADJUST {
            return None;
        }
        let now = ffi::rdtsc();
        let offset = st.vmcb().control.tsc_offset;
        match (msr, write) {
            (MSR_IA32_TSC, None) => Some(now.wrapping_add(offset)),
            (MSR_IA32_TSC, Some(v)) => {
                let new = v.wrapping_sub(now);
                if !host {
                    st.tsc_adjust = st.tsc_adjust.wrapping_add(new.wrapping_sub(offset));
                }
                st.vmcb().set_tsc_offset(new);
                Some(0)
            }
            (MSR_IA32_TSC_ADJUST, None) => Some(st.tsc_adjust),
            (MSR_IA32_TSC_ADJUST, Some(v)) => {
                // CPUID.(EAX=7,ECX=0):EBX[1], TSC_ADJUST.
                if cpuid::has(&st.cpuid, 7, 1, 1) {
                    if !host {
                        let new = offset.wrapping_add(v.wrapping_sub(st.tsc_adjust));
                        st.vmcb().set_tsc_offset(new);
                    }
                    st.tsc_adjust = v;
                }
                Some(0)
            }
            _ => None,
        }
    }

    /// KVM_HAS/GET/SET_DEVICE_ATTR on the vCPU fd (KVM_CAP_VCPU_ATTRIBUTES): the one
    /// attribute KVM has on x86, the TSC offset, a u64 at `addr`. Setting it is the host
    /// setting the guest's TSC: IA32_TSC_ADJUST stays. Anything else is ENXIO, as KVM's
    /// kvm_vcpu_ioctl_device_attr().
    pub(super) fn tsc_attr(&self, cmd: u32, arg: usize) -> Result<isize> {
        let a: KvmDeviceAttr = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmDeviceAttr>()).reader().read()?;
        if a.group != KVM_VCPU_TSC_CTRL || a.attr != KVM_VCPU_TSC_OFFSET {
            return Err(ENXIO);
        }
        let value = UserSlice::new(UserPtr::from_addr(a.addr as usize), size_of::<u64>());
        match cmd {
            KVM_GET_DEVICE_ATTR => {
                let offset = self.state.lock().vmcb().control.tsc_offset;
                value.writer().write(&offset)?;
            }
            KVM_SET_DEVICE_ATTR => {
                let offset: u64 = value.reader().read()?;
                self.state.lock().vmcb().set_tsc_offset(offset);
            }
            _ => {}
        }
        Ok(0)
    }
}
