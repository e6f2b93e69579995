// SPDX-License-Identifier: GPL-2.0

//! `/dev/rsvm`, the system fd: KVM's system ioctls that exist so far, and rsvm's own.

use crate::{selftest, uapi::*, Rsvm};
use kernel::{
    bindings,
    ffi::{c_long, c_uint, c_ulong},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// KVM_CAP_* numbers rsvm can answer for. Nothing of KVM's capability list is implemented
/// yet, so KVM_CHECK_EXTENSION says 0 for every one: clients that need a capability stop at
/// their own check instead of failing later.
fn check_extension(_cap: c_ulong) -> isize {
    0
}

fn ioctl(cmd: c_uint, arg: c_ulong) -> Result<isize> {
    match cmd {
        // As KVM: the argument must be 0.
        KVM_GET_API_VERSION if arg != 0 => Err(EINVAL),
        KVM_GET_API_VERSION => Ok(KVM_API_VERSION),
        KVM_CHECK_EXTENSION => Ok(check_extension(arg)),
        RSVM_SELFTEST_WORLD_SWITCH => {
            let features = Rsvm::features().ok_or(ENODEV)?;
            let r = selftest::world_switch(&features)?;
            let mut w = UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<RsvmSelftest>()).writer();
            w.write(&r)?;
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
