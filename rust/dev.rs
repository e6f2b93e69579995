// SPDX-License-Identifier: GPL-2.0

//! `/dev/rsvm`, the system fd: KVM's system ioctls and rsvm's own.

use crate::{cpuid, fpu, msr, selftest, uapi::kvm::*, uapi::*, vm, Rsvm};
use kernel::{
    bindings,
    ffi::{c_long, c_uint, c_ulong},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// KVM_CHECK_EXTENSION, on the system and the VM fd: non-zero exactly for what rsvm
/// implements (the value where KVM's is a number), 0 for everything else.
pub(crate) fn check_extension(cap: c_ulong) -> isize {
    match cap as u64 {
        KVM_CAP_USER_MEMORY
        | KVM_CAP_EXT_CPUID
        | KVM_CAP_DESTROY_MEMORY_REGION_WORKS
        | KVM_CAP_JOIN_MEMORY_REGIONS_WORKS
        | KVM_CAP_XSAVE
        | KVM_CAP_READONLY_MEM
        | KVM_CAP_CHECK_EXTENSION_VM
        | KVM_CAP_IMMEDIATE_EXIT
        | KVM_CAP_MP_STATE
        | KVM_CAP_GET_TSC_KHZ
        | KVM_CAP_TSC_DEADLINE_TIMER
        | KVM_CAP_SIGNAL_MSI
        | KVM_CAP_ENABLE_CAP_VM => 1,
        c if c == KVM_CAP_SPLIT_IRQCHIP as u64 => 1,
        KVM_CAP_NR_VCPUS | KVM_CAP_MAX_VCPUS => vm::MAX_VCPUS as isize,
        KVM_CAP_MAX_VCPU_ID => vm::MAX_VCPU_ID as isize,
        KVM_CAP_NR_MEMSLOTS => crate::memslot::MAX_SLOTS as isize,
        _ => 0,
    }
}

fn get_supported_cpuid(arg: usize) -> Result<isize> {
    let hdr: KvmCpuid2 = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmCpuid2>()).reader().read()?;
    let table = cpuid::supported(fpu::guest_supported_xcr0())?;
    if (hdr.nent as usize) < table.len() {
        return Err(E2BIG);
    }
    let mut w = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmCpuid2>() + table.len() * size_of::<KvmCpuidEntry2>()).writer();
    w.write(&KvmCpuid2 { nent: table.len() as u32, padding: 0 })?;
    for e in table.iter() {
        w.write(e)?;
    }
    Ok(0)
}

fn get_msr_index_list(arg: usize) -> Result<isize> {
    let hdr: KvmMsrList = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmMsrList>()).reader().read()?;
    let n = msr::index_list().count();
    let mut w = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmMsrList>() + n * 4).writer();
    // As KVM: the count is written back first, then E2BIG if it does not fit.
    w.write(&KvmMsrList { nmsrs: n as u32 })?;
    if (hdr.nmsrs as usize) < n {
        return Err(E2BIG);
    }
    for i in msr::index_list() {
        w.write(&i)?;
    }
    Ok(0)
}

fn ioctl(cmd: c_uint, arg: c_ulong) -> Result<isize> {
    let features = Rsvm::features().ok_or(ENODEV)?;
    match cmd {
        // As KVM: the argument must be 0.
        KVM_GET_API_VERSION if arg != 0 => Err(EINVAL),
        KVM_GET_API_VERSION => Ok(KVM_API_VERSION),
        KVM_CHECK_EXTENSION => Ok(check_extension(arg)),
        KVM_CREATE_VM => vm::create_vm(features, arg),
        // kvm_run and the PIO data page.
        KVM_GET_VCPU_MMAP_SIZE if arg != 0 => Err(EINVAL),
        KVM_GET_VCPU_MMAP_SIZE => Ok(2 * 4096),
        KVM_GET_SUPPORTED_CPUID => get_supported_cpuid(arg as usize),
        KVM_GET_MSR_INDEX_LIST => get_msr_index_list(arg as usize),
        RSVM_SELFTEST_WORLD_SWITCH => {
            let r = selftest::world_switch(&features)?;
            let mut w = UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<RsvmSelftest>()).writer();
            w.write(&r)?;
            Ok(0)
        }
        RSVM_BENCH_FLOOR => {
            let (mut r, mut w) = UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<RsvmBenchFloor>()).reader_writer();
            let mut b: RsvmBenchFloor = r.read()?;
            if b.iterations == 0 || b.iterations > 10_000_000 {
                return Err(EINVAL);
            }
            b.tsc_delta = selftest::bench_floor(&features, b.iterations)?;
            w.write(&b)?;
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
}

/// `unlocked_ioctl` of /dev/rsvm (the fops table is in shim.c, for `.owner`).
#[no_mangle]
unsafe extern "C" fn rsvm_dev_ioctl(_file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    match ioctl(cmd, arg) {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}
