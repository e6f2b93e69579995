// SPDX-License-Identifier: GPL-2.0

//! `KVM_GET_DEBUGREGS` / `KVM_SET_DEBUGREGS` (KVM_CAP_DEBUGREGS): the guest's DR0-3, DR6 and
//! DR7 as a VMM saves and restores them (x86.c kvm_vcpu_ioctl_x86_get/set_debugregs()). DR0-3
//! are `GuestDebug::db` (current outside KVM_RUN: the run loop reads them back after every
//! exit that had them live, `debugreg.rs`), DR6 and DR7 the VMCB's.

use super::Vcpu;
use crate::uapi::kvm::KvmDebugregs;
use kernel::prelude::*;

impl Vcpu {
    pub(super) fn get_debugregs(&self) -> KvmDebugregs {
        let mut st = self.state.lock();
        let db = st.debug.db;
        let v = st.vmcb();
        KvmDebugregs { db, dr6: v.save.dr6, dr7: v.save.dr7, ..Default::default() }
    }

    /// EINVAL for flags or for DR6/DR7 with any of bits 63:32 set (kvm_dr6_valid(),
    /// kvm_dr7_valid()); the reserved words are ignored, as KVM does. A DR7 that enables a
    /// breakpoint makes the next entry load DR0-3 (`debugreg.rs`).
    pub(super) fn set_debugregs(&self, d: &KvmDebugregs) -> Result {
        if d.flags != 0 || d.dr6 >> 32 != 0 || d.dr7 >> 32 != 0 {
            return Err(EINVAL);
        }
        let mut st = self.state.lock();
        st.debug.db = d.db;
        st.vmcb().set_dr6_dr7(d.dr6, d.dr7);
        Ok(())
    }
}
