// SPDX-License-Identifier: GPL-2.0

//! `KVM_SET_CPUID2`, fixed once the vCPU has run, and `KVM_GET_CPUID2`: the table as
//! `KVM_SET_CPUID2` set it, with the bits that follow the vCPU's state updated (OSXSAVE,
//! OSPKE, APIC), as KVM returns it. Clients read it back after setting CR4 and XCR0 (the KVM
//! selftests' library does for every vCPU it adds).

use super::Vcpu;
use crate::{cpuid, uapi::kvm::*};
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

impl Vcpu {
    /// KVM_SET_CPUID2: the guest's CPUID table (at most KVM_MAX_CPUID_ENTRIES, else E2BIG).
    pub(super) fn set_cpuid(&self, arg: usize) -> Result<isize> {
        let hdr: KvmCpuid2 = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmCpuid2>()).reader().read()?;
        if hdr.nent > KVM_MAX_CPUID_ENTRIES {
            return Err(E2BIG);
        }
        let base = arg.checked_add(size_of::<KvmCpuid2>()).ok_or(EFAULT)?;
        let mut r = UserSlice::new(UserPtr::from_addr(base), hdr.nent as usize * size_of::<KvmCpuidEntry2>()).reader();
        let mut v = KVec::with_capacity(hdr.nent as usize, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..hdr.nent {
            v.push(r.read::<KvmCpuidEntry2>()?, GFP_KERNEL_ACCOUNT)?;
        }
        let (x2, dl) = (cpuid::has(&v, 1, 2, 21), cpuid::has(&v, 1, 2, 24));
        let mut st = self.state.lock();
        if st.ran {
            // As KVM (kvm_set_cpuid(), "KVM does not correctly handle changing guest CPUID
            // after KVM_RUN"): after the first entry only the same table is accepted, compared
            // with the bits that follow the vCPU's state applied to both (VMMs that reuse a
            // vCPU fd for CPU hotplug set it again).
            let cr4 = st.vmcb().save.cr4;
            let apic = st.lapic.as_ref().map(|l| l.hw_enabled());
            let same = v.len() == st.cpuid.len()
                && v.iter().zip(st.cpuid.iter()).all(|(new, old)| {
                    let (mut new, mut old) = (*new, *old);
                    cpuid::runtime_bits(&mut new, cr4, apic);
                    cpuid::runtime_bits(&mut old, cr4, apic);
                    (new.function, new.index, new.flags, new.eax, new.ebx, new.ecx, new.edx)
                        == (old.function, old.index, old.flags, old.eax, old.ebx, old.ecx, old.edx)
                });
            return if same { Ok(0) } else { Err(EINVAL) };
        }
        st.cpuid = v;
        if let Some(l) = st.lapic.as_mut() {
            l.set_cpuid(x2, dl);
        }
        Ok(0)
    }

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
