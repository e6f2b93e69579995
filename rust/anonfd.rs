// SPDX-License-Identifier: GPL-2.0

//! VM and vCPU file descriptors: anon-inode fds whose private data is an `Arc<T>`.
//! The fops tables are in shim.c (for `.owner`); this is the only code that converts the
//! private data back.

use crate::ffi;
use kernel::{
    bindings,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// Installs a new fd owning one reference to `obj`. Returns the fd number.
pub(crate) fn install<T>(obj: Arc<T>, vcpu: bool) -> Result<isize> {
    let raw = Arc::into_raw(obj) as *mut core::ffi::c_void;
    // SAFETY: `raw` is a leaked `Arc<T>` reference; the fd's release takes it back with
    // `take::<T>`, and each fops kind (`vcpu`) is used with exactly one T.
    let fd = unsafe { ffi::anon_fd(vcpu, raw) };
    if fd < 0 {
        // SAFETY: the fd was not created, so the reference is still ours.
        drop(unsafe { Arc::from_raw(raw as *const T) });
        return Err(Error::from_errno(fd));
    }
    Ok(fd as isize)
}

/// Borrows the object of an fd made by `install::<T>`.
///
/// # Safety
///
/// `file` is such an fd's file (made with the matching T), and its release has not run,
/// which holds during its ioctl and mmap calls.
pub(crate) unsafe fn borrow<'a, T>(file: *mut bindings::file) -> ArcBorrow<'a, T> {
    // SAFETY: private_data is the pointer from `Arc::into_raw` in `install`, and the fd's
    // reference keeps it alive for the call (caller's guarantee).
    unsafe { ArcBorrow::from_raw(ffi::file_private(file) as *const T) }
}

/// Takes back the reference an fd made by `install::<T>` owned.
///
/// # Safety
///
/// As `borrow`, and called once, from the fd's release.
pub(crate) unsafe fn take<T>(file: *mut bindings::file) -> Arc<T> {
    // SAFETY: the caller guarantees this is the fd's one reference, given back once.
    unsafe { Arc::from_raw(ffi::file_private(file) as *const T) }
}
