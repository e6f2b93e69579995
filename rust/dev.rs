// SPDX-License-Identifier: GPL-2.0

//! `/dev/rsvm`, the system fd: KVM's system ioctls and rsvm's own.

use crate::{cpuid, fpu, msr, selftest, uapi::kvm::*, uapi::*, vm, Rsvm};
use kernel::{
    bindings,
    ffi::{c_long, c_uint, c_ulong},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};


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

/// KVM_GET_DEVICE_ATTR / KVM_HAS_DEVICE_ATTR on the system fd (KVM_CAP_SYS_ATTRIBUTES):
/// group KVM_X86_GRP_SYSTEM, attribute KVM_X86_XCOMP_GUEST_SUPP (the XSAVE features a guest
/// may have: the supported XCR0). Anything else ENXIO, as KVM without SEV (`flags` is not
/// looked at, as in KVM). `get` writes the u64 value to `addr`.
fn device_attr(arg: usize, get: bool) -> Result<isize> {
    let a: KvmDeviceAttr = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmDeviceAttr>()).reader().read()?;
    if a.group != KVM_X86_GRP_SYSTEM || a.attr != KVM_X86_XCOMP_GUEST_SUPP {
        return Err(ENXIO);
    }
    if get {
        UserSlice::new(UserPtr::from_addr(a.addr as usize), 8).writer().write(&fpu::guest_supported_xcr0())?;
    }
    Ok(0)
}

fn ioctl(cmd: c_uint, arg: c_ulong) -> Result<isize> {
    let features = Rsvm::features().ok_or(ENODEV)?;
    match cmd {
        // As KVM: the argument must be 0.
        KVM_GET_API_VERSION if arg != 0 => Err(EINVAL),
        KVM_GET_API_VERSION => Ok(KVM_API_VERSION),
        KVM_CHECK_EXTENSION => Ok(vm::check_extension(arg)),
        KVM_CREATE_VM => vm::create_vm(features, arg),
        // kvm_run, the PIO data page and the coalesced-I/O ring.
        KVM_GET_VCPU_MMAP_SIZE if arg != 0 => Err(EINVAL),
        KVM_GET_VCPU_MMAP_SIZE => Ok((KVM_COALESCED_MMIO_PAGE_OFFSET as isize + 1) * 4096),
        KVM_GET_SUPPORTED_CPUID => get_supported_cpuid(arg as usize),
        KVM_GET_MSR_INDEX_LIST => get_msr_index_list(arg as usize),
        KVM_GET_DEVICE_ATTR => device_attr(arg as usize, true),
        KVM_HAS_DEVICE_ATTR => device_attr(arg as usize, false),
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
