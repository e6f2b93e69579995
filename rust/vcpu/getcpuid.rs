// SPDX-License-Identifier: GPL-2.0

//! `KVM_GET_CPUID2`: the vCPU's CPUID table as `KVM_SET_CPUID2` set it, with the bits that
//! follow the vCPU's state updated (OSXSAVE, OSPKE, APIC), as KVM returns it. Clients read it
//! back after setting CR4 and XCR0 (the KVM selftests' library does for every vCPU it adds).

use super::Vcpu;
use crate::{cpuid, uapi::kvm::*};
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

impl Vcpu {
    /// KVM's order: `nent` below the table's size is E2BIG (nothing written), then the
    /// entries, then `nent` set to their number.
    pub(super) fn get_cpuid(&self, arg: usize) -> Result<isize> {
        let hdr: KvmCpuid2 = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmCpuid2>()).reader().read()?;
        let table = {
            let mut st = self.state.lock();
            let cr4 = st.vmcb().save.cr4;
            let apic = st.lapic.as_ref().map(|l| l.hw_enabled());
            let mut t = KVec::with_capacity(st.cpuid.len(), GFP_KERNEL)?;
            for e in st.cpuid.iter() {
                let mut e = *e;
                cpuid::runtime_bits(&mut e, cr4, apic);
                t.push(e, GFP_KERNEL)?;
            }
            t
        };
        if (hdr.nent as usize) < table.len() {
            return Err(E2BIG);
        }
        let base = arg.checked_add(size_of::<KvmCpuid2>()).ok_or(EFAULT)?;
        let mut w = UserSlice::new(UserPtr::from_addr(base), table.len() * size_of::<KvmCpuidEntry2>()).writer();
        for e in table.iter() {
            w.write(e)?;
        }
        let n = KvmCpuid2 { nent: table.len() as u32, padding: hdr.padding };
        UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmCpuid2>()).writer().write(&n)?;
        Ok(0)
    }
}
