// SPDX-License-Identifier: GPL-2.0

//! `KVM_GET_XCRS` / `KVM_SET_XCRS` (KVM_CAP_XCRS): the guest's XCR0 as userspace saves and
//! restores it, and as KVM clients set it before the first run (the KVM selftests' library
//! sets XCR0 to everything supported on every vCPU it adds). rsvm requires XSAVE on the host
//! (`fpu::probe`), so there is always exactly one XCR.

use super::Vcpu;
use crate::uapi::kvm::*;
use kernel::prelude::*;

impl Vcpu {
    /// KVM's `kvm_vcpu_ioctl_x86_get_xcrs`: one entry, XCR0; the rest zero.
    pub(super) fn get_xcrs(&self) -> KvmXcrs {
        let mut x = KvmXcrs { nr_xcrs: 1, ..Default::default() };
        x.xcrs[0] = KvmXcr { xcr: XCR_XFEATURE_ENABLED_MASK, reserved: 0, value: self.state.lock().fpu.xcr0 };
        x
    }

    /// KVM's `kvm_vcpu_ioctl_x86_set_xcrs`: EINVAL for more than KVM_MAX_XCRS entries or
    /// non-zero flags; the first entry for XCR0 is applied with the guest XSETBV's checks
    /// (an invalid value is EINVAL); entries for other XCRs are ignored, as KVM does.
    pub(super) fn set_xcrs(&self, x: &KvmXcrs) -> Result {
        if x.nr_xcrs as usize > KVM_MAX_XCRS || x.flags != 0 {
            return Err(EINVAL);
        }
        let n = x.nr_xcrs as usize;
        match x.xcrs.iter().take(n).find(|e| e.xcr == XCR_XFEATURE_ENABLED_MASK) {
            Some(e) => self.state.lock().fpu.set_xcr0(e.value).map_err(|_| EINVAL),
            None => Ok(()),
        }
    }
}
