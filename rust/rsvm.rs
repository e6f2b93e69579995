// SPDX-License-Identifier: GPL-2.0

//! rsvm: a type-2 hypervisor for AMD-V (SVM).
//!
//! On load: checks the CPU (AMD, SVM usable, NPT), enables SVM on every CPU and follows
//! hotplug, publishes the features in debugfs and registers `/dev/rsvm`, which speaks a
//! subset of KVM's ioctl ABI. See Documentation/design.md.

use core::fmt;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{debugfs, prelude::*};

mod anonfd;
mod asid;
mod cpu;
mod coalesced;
mod cpuid;
mod debugreg;
mod dev;
mod emulate;
mod ffi;
mod fpu;
mod gmem;
mod hwpage;
mod iommu;
mod kvmclock;
mod lapic;
mod memslot;
mod msr;
mod mtrr;
mod npt;
mod selftest;
mod stats;
mod svm;
mod uapi;
mod vcpu;
mod vm;
mod vmmem;
mod vmsetup;
mod vmshared;
mod x86;

module! {
    type: Rsvm,
    name: "rsvm",
    authors: ["The rsvm developers"],
    description: "rsvm: AMD-V (SVM) hypervisor with a KVM-compatible /dev/rsvm",
    license: "GPL",
    params: {
        amdvi: u8 {
            default: 0,
            description: "1: drive the AMD-Vi IOMMU (needs amd_iommu=off or no AMD IOMMU driver)",
        },
        amdvi_intremap: u8 {
            default: 1,
            description: "with amdvi=1: remap assigned devices' interrupts (0: off, for tests only: a device can then raise any host interrupt)",
        },
    },
}

/// The features read at load, published for ioctls (which cannot run before `init` ends or
/// after `drop` begins: every open file holds a module reference).
static FEATURES: AtomicPtr<cpu::SvmFeatures> = AtomicPtr::new(core::ptr::null_mut());

struct PublishedFeatures;

impl PublishedFeatures {
    fn new(f: cpu::SvmFeatures) -> Result<Self> {
        let b = KBox::new(f, GFP_KERNEL)?;
        FEATURES.store(KBox::into_raw(b), Ordering::Release);
        Ok(Self)
    }
}

impl Drop for PublishedFeatures {
    fn drop(&mut self) {
        let p = FEATURES.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: `p` came from `KBox::into_raw` in `new`; the swap makes this the only free.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

/// The module's debugfs directory, for per-vCPU files. Set while the module is live; vCPUs
/// (whose fds hold a module reference) only exist then.
static DEBUGFS_DIR: AtomicPtr<debugfs::Dir> = AtomicPtr::new(core::ptr::null_mut());

struct PublishedDir;

impl PublishedDir {
    fn new(d: *const debugfs::Dir) -> Self {
        DEBUGFS_DIR.store(d as *mut _, Ordering::Release);
        Self
    }
}

impl Drop for PublishedDir {
    fn drop(&mut self) {
        DEBUGFS_DIR.store(core::ptr::null_mut(), Ordering::Release);
    }
}

/// rsvm's debugfs directory, if the module is live.
pub(crate) fn debugfs_dir<'a>() -> Option<&'a debugfs::Dir> {
    let p = DEBUGFS_DIR.load(Ordering::Acquire);
    // SAFETY: non-null only between `PublishedDir::new` and its drop, during which the
    // pinned module object (and its `_debugfs`) is alive; callers are ioctls, which hold a
    // module reference through their fd.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// `/dev/rsvm`, registered through the C shim so that its fops carry `.owner`.
struct MiscReg;

impl MiscReg {
    fn new() -> Result<Self> {
        // Deregistered once in `Drop`.
        kernel::error::to_result(ffi::misc_register())?;
        Ok(Self)
    }
}

impl Drop for MiscReg {
    fn drop(&mut self) {
        // SAFETY: registered in `new`.
        unsafe { ffi::misc_deregister() };
    }
}

/// Pages rsvm holds right now (`/sys/kernel/debug/rsvm/pages_held`), for leak tests.
struct PagesHeld;

impl fmt::Debug for PagesHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", ffi::pages_held())
    }
}

/// Guest pages pinned right now (`/sys/kernel/debug/rsvm/pinned_pages`), for leak tests.
struct PinnedPages;

impl fmt::Debug for PinnedPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", ffi::pinned_pages())
    }
}

#[pin_data]
struct Rsvm {
    // Dropped in declaration order: no new opens, then debugfs, then SVM off everywhere.
    // (Initialised in the opposite order, below.)
    _misc: MiscReg,
    /// The AMD-Vi unit (with `amdvi=1`): turned off and restored before debugfs goes.
    _amdvi: Option<iommu::amdvi::AmdviFile>,
    #[pin]
    _features_file: debugfs::File<cpu::SvmFeatures>,
    #[pin]
    _pages_file: debugfs::File<PagesHeld>,
    #[pin]
    _cpus_file: debugfs::File<cpu::SvmCpusFile>,
    #[pin]
    _pinned_file: debugfs::File<PinnedPages>,
    _dir_published: PublishedDir,
    _debugfs: debugfs::Dir,
    _published: PublishedFeatures,
    _svm: cpu::SvmEnable,
    features: cpu::SvmFeatures,
    /// Dropped last: every page rsvm allocated and every guest page it pinned must be back.
    _leak_check: LeakCheck,
}

/// Checks at unload that nothing rsvm counted is still held. A leak is reported with a
/// "BUG:" line, which fails the test harness's kernel-log check.
struct LeakCheck;

impl Drop for LeakCheck {
    fn drop(&mut self) {
        let (pages, pinned) = (ffi::pages_held(), ffi::pinned_pages());
        if pages != 0 || pinned != 0 {
            pr_err!("BUG: rsvm unloads with {} pages held and {} guest pages pinned\n", pages, pinned);
        }
    }
}

impl kernel::InPlaceModule for Rsvm {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            _leak_check: LeakCheck,
            features: {
                let f = cpu::SvmFeatures::probe()?;
                fpu::probe()?;
                pr_info!(
                    "SVM rev {}, {} ASIDs, {}-level NPT; nrip_save={} decode_assists={} \
                     flush_by_asid={} vmcb_clean={} vgif={} avic={}\n",
                    f.revision, f.nr_asids, f.npt_levels, f.nrip_save, f.decode_assists,
                    f.flush_by_asid, f.vmcb_clean, f.vgif, f.avic
                );
                f
            },
            // SAFETY (this and the accesses below): `this` points at the module object under
            // construction, whose fields named here are already initialised.
            // SAFETY: `features` is initialised.
            _svm: cpu::SvmEnable::new(unsafe { &(*this.as_ptr()).features })?,
            _published: PublishedFeatures::new(unsafe { (*this.as_ptr()).features })?,
            _debugfs: debugfs::Dir::new(c"rsvm"),
            // SAFETY: `_debugfs` is initialised; the module object is pinned, so its address
            // is stable until `_dir_published` (dropped before it) withdraws it.
            _dir_published: PublishedDir::new(unsafe { &raw const (*this.as_ptr())._debugfs }),
            // SAFETY: `_debugfs` is initialised and is dropped after the files.
            _features_file <- unsafe { &(*this.as_ptr())._debugfs }
                // SAFETY: `features` is initialised.
                .read_only_file(c"features", unsafe { (*this.as_ptr()).features }),
            // SAFETY: as above.
            _pages_file <- unsafe { &(*this.as_ptr())._debugfs }.read_only_file(c"pages_held", PagesHeld),
            // SAFETY: as above.
            _cpus_file <- unsafe { &(*this.as_ptr())._debugfs }.read_only_file(c"svm_cpus", cpu::SvmCpusFile),
            // SAFETY: as above.
            _pinned_file <- unsafe { &(*this.as_ptr())._debugfs }.read_only_file(c"pinned_pages", PinnedPages),
            // SAFETY: `_debugfs` is initialised and is dropped after `_amdvi`.
            _amdvi: iommu::amdvi::probe(unsafe { &(*this.as_ptr())._debugfs },
                                        *module_parameters::amdvi.value() != 0,
                                        *module_parameters::amdvi_intremap.value() != 0),
            _misc: MiscReg::new()?,
        })
    }
}

impl Rsvm {
    /// The features read at load.
    pub(crate) fn features() -> Option<cpu::SvmFeatures> {
        let p = FEATURES.load(Ordering::Acquire);
        // SAFETY: non-null means published by `PublishedFeatures::new` and not yet freed
        // (see `FEATURES`).
        (!p.is_null()).then(|| unsafe { *p })
    }
}
