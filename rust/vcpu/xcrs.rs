// SPDX-License-Identifier: GPL-2.0

//! `KVM_GET_XCRS` / `KVM_SET_XCRS` (KVM_CAP_XCRS): the guest's XCR0 as userspace saves and
//! restores it, and as KVM clients set it before the first run (the KVM selftests' library
//! sets XCR0 to everything supported on every vCPU it adds). rsvm requires XSAVE on the host
//! (`fpu::probe`), so there is always exactly one XCR.

use super::Vcpu;
use crate::uapi::kvm::*;
use kernel::prelude::*;

/// XCR0 bit 0, x87: always allowed (KVM's reset value even without XSAVE in CPUID).
const XFEATURE_FP: u64 = 1;

impl Vcpu {
    /// KVM's `kvm_vcpu_ioctl_x86_get_xcrs`: one entry, XCR0; the rest zero.
    pub(super) fn get_xcrs(&self) -> KvmXcrs {
        let mut x = KvmXcrs { nr_xcrs: 1, ..Default::default() };
        x.xcrs[0] = KvmXcr { xcr: XCR_XFEATURE_ENABLED_MASK, reserved: 0, value: self.state.lock().fpu.xcr0 };
        x
    }

    /// KVM's `kvm_vcpu_ioctl_x86_set_xcrs`: EINVAL for more than KVM_MAX_XCRS entries or
    /// non-zero flags; the first entry for XCR0 is applied with `__kvm_set_xcr`'s checks (an
    /// invalid value is EINVAL); entries for other XCRs are ignored, as KVM does. As KVM,
    /// XCR0 may hold only what the guest's CPUID offers (leaf 0xD.0 EDX:EAX; x87 alone without
    /// it), within what the host supports (`GuestFpu::set_xcr0`'s checks).
    pub(super) fn set_xcrs(&self, x: &KvmXcrs) -> Result {
        if x.nr_xcrs as usize > KVM_MAX_XCRS || x.flags != 0 {
            return Err(EINVAL);
        }
        let n = x.nr_xcrs as usize;
        let Some(e) = x.xcrs.iter().take(n).find(|e| e.xcr == XCR_XFEATURE_ENABLED_MASK) else {
            return Ok(());
        };
        let mut st = self.state.lock();
        let offered = st
            .cpuid
            .iter()
            .find(|c| c.function == 0xd && c.index == 0)
            .map(|c| c.eax as u64 | (c.edx as u64) << 32)
            .unwrap_or(0);
        if e.value & !(offered | XFEATURE_FP) != 0 {
            return Err(EINVAL);
        }
        st.fpu.set_xcr0(e.value).map_err(|_| EINVAL)
    }
}
