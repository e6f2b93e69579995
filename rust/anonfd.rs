// SPDX-License-Identifier: GPL-2.0

//! VM and vCPU file descriptors: anon-inode fds whose private data is an `Arc<T>`.
//! The fops tables are in shim.c (for `.owner`); this is the only code that converts the
//! private data back.
//!
//! Each object type says which fops table it lives behind ([`AnonFd::KIND`]), so `install`
//! picks the table from the type: a `Vcpu` cannot be installed behind the VM's table, whose
//! callbacks would read its private data as a `Vm`.

use crate::ffi;
use kernel::{
    bindings,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// The kinds of anon-inode fd rsvm hands out (one fops table each, in shim.c).
pub(crate) use crate::ffi::FdKind;

/// An object that lives behind an fd of kind [`AnonFd::KIND`].
///
/// # Safety
///
/// The callbacks of `KIND`'s fops table read the private data as an `Arc<Self>` (with
/// [`borrow`] and [`take`] for `Self`), and no other type has the same `KIND`.
pub(crate) unsafe trait AnonFd: Send + Sync + Sized {
    const KIND: FdKind;
}

/// Installs a new fd, behind `T`'s fops table, owning one reference to `obj`. Returns the
/// fd number.
pub(crate) fn install<T: AnonFd>(obj: Arc<T>) -> Result<isize> {
    let raw = Arc::into_raw(obj) as *mut core::ffi::c_void;
    // SAFETY: `raw` is a leaked `Arc<T>` reference, and `T::KIND`'s table reads it as one
    // (`AnonFd`'s contract); the fd's release takes it back with `take::<T>`.
    let fd = unsafe { ffi::anon_fd(T::KIND, raw) };
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
/// `file` is an fd of `T::KIND` (then `install::<T>` made it: `AnonFd`'s contract), and its
/// release has not run, which holds during its ioctl and mmap calls.
pub(crate) unsafe fn borrow<'a, T: AnonFd>(file: *mut bindings::file) -> ArcBorrow<'a, T> {
    // SAFETY: private_data is the pointer from `Arc::into_raw` in `install`, and the fd's
    // reference keeps it alive for the call (caller's guarantee).
    unsafe { ArcBorrow::from_raw(ffi::file_private(file) as *const T) }
}

/// Takes back the reference an fd made by `install::<T>` owned.
///
/// # Safety
///
/// As `borrow`, and called once, from the fd's release.
pub(crate) unsafe fn take<T: AnonFd>(file: *mut bindings::file) -> Arc<T> {
    // SAFETY: the caller guarantees this is the fd's one reference, given back once.
    unsafe { Arc::from_raw(ffi::file_private(file) as *const T) }
}
