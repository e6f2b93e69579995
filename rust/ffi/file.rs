// SPDX-License-Identifier: GPL-2.0

//! Files and file descriptors: `/dev/rsvm` (the miscdevice), the VM and vCPU anon-inode
//! fds and their private data, the vCPU mmap, and eventfds.

use super::{rsvm_shim_anon_fd, rsvm_shim_misc_deregister, rsvm_shim_misc_register, rsvm_shim_mmap_pages};
use kernel::{bindings, ffi::{c_int, c_uint, c_ulong, c_void}};

/// A reference to an eventfd's context (`struct eventfd_ctx`), dropped with the value.
///
/// # Invariants
///
/// `0` is a context reference from `eventfd_ctx_fdget`, put exactly once (in `drop`).
pub(crate) struct EventFd(core::ptr::NonNull<bindings::eventfd_ctx>);

// SAFETY: an eventfd context is refcounted and signalled under its own lock, from any
// thread; the reference is owned by this value alone.
unsafe impl Send for EventFd {}
// SAFETY: as above (`signal` takes `&self`).
unsafe impl Sync for EventFd {}

impl EventFd {
    /// The eventfd behind file descriptor `fd` of the calling process: `EBADF` if `fd` is
    /// not open or not an eventfd.
    pub(crate) fn from_fd(fd: i32) -> kernel::error::Result<Self> {
        // SAFETY: eventfd_ctx_fdget takes any fd number; it returns a referenced context or
        // an ERR_PTR (-EBADF no such file, -EINVAL not an eventfd), never NULL.
        let p = kernel::error::from_err_ptr(unsafe { bindings::eventfd_ctx_fdget(fd) })
            .map_err(|_| kernel::error::code::EBADF)?;
        let p = core::ptr::NonNull::new(p).ok_or(kernel::error::code::EBADF)?;
        // INVARIANT: a reference was just taken.
        Ok(EventFd(p))
    }

    /// Adds 1 to the eventfd's counter and wakes its readers (process context).
    pub(crate) fn signal(&self) {
        // SAFETY: the context is live (type invariant). `eventfd_signal(ctx)` is the static
        // inline `eventfd_signal_mask(ctx, 0)`.
        unsafe { bindings::eventfd_signal_mask(self.0.as_ptr(), 0) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `from_fd`, put once (type invariant).
        unsafe { bindings::eventfd_ctx_put(self.0.as_ptr()) };
    }
}

/// Registers `/dev/rsvm` (shim.c's static miscdevice, with `.owner`): 0 or an errno.
pub(crate) fn misc_register() -> c_int {
    // SAFETY: registers a static miscdevice; the caller deregisters it once.
    unsafe { rsvm_shim_misc_register() }
}

/// # Safety
///
/// `misc_register` succeeded and this is its one deregistration.
pub(crate) unsafe fn misc_deregister() {
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_misc_deregister() };
}

/// The anon-inode fd kinds of shim.c, one fops table each (`anonfd::AnonFd::KIND`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// `rsvm-vm`: `rsvm_vm_ioctl`, `rsvm_vm_release`.
    Vm,
    /// `rsvm-vcpu`: `rsvm_vcpu_ioctl`, `rsvm_vcpu_mmap`, `rsvm_vcpu_release`.
    Vcpu,
    /// `rsvm-stats` (read-only, preadable): `rsvm_stats_read`, `rsvm_stats_release`.
    Stats,
}

/// A new anon-inode fd (`rsvm-vm`, `rsvm-vcpu` or `rsvm-stats` fops) with `private` as its
/// private data; the fd or an errno (negative).
///
/// # Safety
///
/// `private` is what the fops kind's ioctl/mmap/release handlers expect.
pub(crate) unsafe fn anon_fd(kind: FdKind, private: *mut c_void) -> c_int {
    let k = match kind {
        FdKind::Vm => 0,
        FdKind::Vcpu => 1,
        FdKind::Stats => 2,
    };
    // SAFETY: the caller's guarantee.
    unsafe { rsvm_shim_anon_fd(k, private) }
}

/// A file's private data.
///
/// # Safety
///
/// `file` is a live file (in one of its fops calls).
pub(crate) unsafe fn file_private(file: *mut bindings::file) -> *mut c_void {
    // SAFETY: the caller's guarantee; `private_data` is set once, before the fd is installed.
    unsafe { (*file).private_data }
}

/// The vCPU mmap: maps `pages[vma->vm_pgoff..]` (direct-map addresses of order-0 pages)
/// over the whole of `vma`, `VM_DONTEXPAND | VM_DONTDUMP`; `EINVAL` if the range does not
/// fit. 0 or an errno (negative).
///
/// # Safety
///
/// `vma` is a mapping being set up in this file's `mmap` handler; every address in `pages`
/// is an order-0 page rsvm holds (`vm_insert_page` takes its own references on them).
pub(crate) unsafe fn mmap_pages(vma: *mut bindings::vm_area_struct, pages: &[c_ulong]) -> c_int {
    let Ok(n) = c_uint::try_from(pages.len()) else {
        return -(bindings::EINVAL as c_int);
    };
    // SAFETY: the caller's guarantee; `pages` holds `n` addresses.
    unsafe { rsvm_shim_mmap_pages(vma.cast(), pages.as_ptr(), n) }
}
