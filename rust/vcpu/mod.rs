// SPDX-License-Identifier: GPL-2.0

//! A vCPU: its VMCB and register state, the vCPU fd's ioctls, and the run loop.
//!
//! One concern per file; every file adds `impl Vcpu` methods, and imports only from this
//! file, `state.rs` and the leaf `history.rs` (never from another sibling), so the files form no import cycle:
//!
//! | file | what |
//! | --- | --- |
//! | `state.rs` | `VcpuState` (VMCB, GPRs, pending I/O, events), reset, guest-mode helpers, instruction fetch |
//! | `run.rs` | `KVM_RUN`: the run loop, event injection, the world switch, completing userspace I/O |
//! | `exit.rs` | exit dispatch (`svm::exit::ExitCode`'s table), CPUID, MSR, VMMCALL, XSETBV, RIP advance |
//! | `pio.rs` | port I/O exits to userspace, string (INS/OUTS, REP) I/O |
//! | `mmio.rs` | nested page faults: fault-in from a memslot, or MMIO to userspace |
//! | `apic.rs` | the in-kernel APIC's glue: timer, HLT sleep, INIT/SIPI, APIC MSRs and MMIO, CR8 |
//! | `history.rs` | the last exits, printed at a shutdown (triple fault) |
//! | `ioctl.rs` | the vCPU fd's ioctls and the `extern "C"` fd entry points |
//! | `xcrs.rs` | `KVM_GET/SET_XCRS` (XCR0 from userspace, KVM's checks) |
//! | `dregs.rs` | `KVM_GET/SET_DEBUGREGS` (DR0-3, DR6, DR7 from userspace, KVM's checks) |
//! | `regs.rs` | `KVM_GET/SET_REGS`, `KVM_GET/SET_SREGS`, and the same through the run page (KVM_CAP_SYNC_REGS) |
//! | `events.rs` | `KVM_GET/SET_VCPU_EVENTS` (pending exception, interrupt, shadow, SIPI vector) |
//! | `getcpuid.rs` | `KVM_GET_CPUID2` (the table as set, with the bits that follow vCPU state) |

mod apic;
mod cr;
mod dregs;
mod events;
mod regs;
mod exit;
mod history;
mod ioctl;
mod mmio;
mod pio;
mod run;
mod pvclock;
mod state;
mod tsc;
mod xcrs;
mod cpuid2;

use crate::{
    hwpage::HwPages,
    uapi::kvm::*,
    vmshared::{VcpuShared, VmShared},
};
use core::sync::atomic::Ordering;
use kernel::{
    debugfs, new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex},
    time::{Instant, Monotonic},
    transmute::{AsBytes, FromBytes},
};
use state::VcpuState;

/// Size of the run page and of the PIO data page.
const PAGE: usize = 4096;

/// Whether the exit handler re-enters the guest or returns to userspace.
enum Action {
    Resume,
    User,
}

/// The run page shared with userspace (`struct kvm_run`). Userspace may write it at any
/// time, so it is accessed through raw pointers with volatile loads and stores only.
#[derive(Clone, Copy)]
struct RunPage(*mut KvmRun);

impl RunPage {
    fn immediate_exit(self) -> bool {
        // SAFETY: the page is live while the vCPU is (owned by it); volatile byte read.
        unsafe { core::ptr::addr_of!((*self.0).immediate_exit).read_volatile() != 0 }
    }
    fn request_interrupt_window(self) -> bool {
        // SAFETY: as above.
        unsafe { core::ptr::addr_of!((*self.0).request_interrupt_window).read_volatile() != 0 }
    }
    fn set_reason(self, r: u32) {
        // SAFETY: as above.
        unsafe { core::ptr::addr_of_mut!((*self.0).exit_reason).write_volatile(r) };
    }
    fn set_exit<T: RunExit>(self, reason: u32, v: T) {
        // SAFETY: as above; `KvmRun::set_exit` writes within the exit union only.
        unsafe { (*self.0).set_exit(reason, v) };
    }
    fn exit_as<T: RunExit>(self) -> T {
        // SAFETY: as above; any bit pattern is a valid T.
        unsafe { (*self.0).exit_as() }
    }
    fn valid_regs(self) -> u64 {
        // SAFETY: as above.
        unsafe { core::ptr::addr_of!((*self.0).kvm_valid_regs).read_volatile() }
    }
    fn dirty_regs(self) -> u64 {
        // SAFETY: as above.
        unsafe { core::ptr::addr_of!((*self.0).kvm_dirty_regs).read_volatile() }
    }
    fn clear_dirty(self, bits: u64) {
        // SAFETY: as above. Userspace may write the word meanwhile, as it may under KVM.
        unsafe {
            let p = core::ptr::addr_of_mut!((*self.0).kvm_dirty_regs);
            p.write_volatile(p.read_volatile() & !bits);
        }
    }
    /// A copy of the `T` at `off` in kvm_run's `s` area (`struct kvm_sync_regs`).
    fn sync<T: FromBytes + Default>(self, off: usize) -> T {
        let mut v = T::default();
        // SAFETY: as above; `off + size_of::<T>()` is within the 2048-byte `s` area (the
        // sync-regs offsets are constants below 520), and any bit pattern is a valid T. A
        // volatile byte copy: userspace may write the area meanwhile.
        unsafe {
            let src = core::ptr::addr_of!((*self.0).s).cast::<u8>().add(off);
            let dst = (&mut v as *mut T).cast::<u8>();
            for i in 0..core::mem::size_of::<T>().min(2048usize.saturating_sub(off)) {
                dst.add(i).write(src.add(i).read_volatile());
            }
        }
        v
    }
    /// Writes `v` at `off` in kvm_run's `s` area.
    fn set_sync<T: AsBytes>(self, off: usize, v: T) {
        let bytes = v.as_bytes();
        // SAFETY: as in `sync`.
        unsafe {
            let dst = core::ptr::addr_of_mut!((*self.0).s).cast::<u8>().add(off);
            for (i, b) in bytes.iter().enumerate().take(2048usize.saturating_sub(off)) {
                dst.add(i).write_volatile(*b);
            }
        }
    }
    fn set_status(self, if_flag: bool, ready: bool, cr8: u64, apic_base: u64) {
        // SAFETY: as above.
        unsafe {
            core::ptr::addr_of_mut!((*self.0).if_flag).write_volatile(if_flag as u8);
            core::ptr::addr_of_mut!((*self.0).ready_for_interrupt_injection).write_volatile(ready as u8);
            core::ptr::addr_of_mut!((*self.0).cr8).write_volatile(cr8);
            core::ptr::addr_of_mut!((*self.0).apic_base).write_volatile(apic_base);
        }
    }
}

#[pin_data(PinnedDrop)]
pub(crate) struct Vcpu {
    vm: Arc<VmShared>,
    shared: Arc<VcpuShared>,
    /// kvm_run (mmap page 0) and the PIO data page (mmap page 1).
    run: HwPages,
    pio: HwPages,
    #[pin]
    state: Mutex<VcpuState>,
    /// Origin of the APIC timer's clock (monotonic ns since vCPU creation).
    epoch: Instant<Monotonic>,
    /// This vCPU's exit counters in debugfs (none if debugfs is unavailable).
    _stats_file: Option<Pin<KBox<debugfs::File<Arc<VcpuShared>>>>>,
}

// SAFETY: the raw pages are owned and only touched under `state`'s lock or through the
// volatile `RunPage` accessors; the rest is Send + Sync.
unsafe impl Send for Vcpu {}
// SAFETY: as above.
unsafe impl Sync for Vcpu {}

impl Vcpu {
    pub(crate) fn new(vm: Arc<VmShared>, shared: Arc<VcpuShared>) -> Result<Arc<Self>> {
        let st = VcpuState::new(&vm, shared.id)?;
        let stats_file = crate::debugfs_dir().and_then(|dir| {
            let name = CString::try_from_fmt(fmt!("vm{}-vcpu{}", vm.id, shared.id)).ok()?;
            KBox::pin_init(dir.read_only_file(&name, shared.clone()), GFP_KERNEL).ok()
        });
        Arc::pin_init(
            try_pin_init!(Self {
                _stats_file: stats_file,
                vm,
                shared,
                run: HwPages::page()?,
                pio: HwPages::page()?,
                state <- new_mutex!(st),
                epoch: Instant::now(),
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )
        .inspect(|v| {
            if let Some(l) = v.state.lock().lapic.as_ref() {
                v.shared.set_route(l.route());
            }
        })
    }

    /// Counts one event in statistics slot `i` (`RsvmVcpuStats::exits`).
    fn count(&self, i: usize) {
        if let Some(c) = self.shared.stats.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn run_page(&self) -> RunPage {
        RunPage(self.run.as_mut_ptr())
    }
}

#[pinned_drop]
impl PinnedDrop for Vcpu {
    fn drop(self: Pin<&mut Self>) {
        self.vm.remove_vcpu(&self.shared);
    }
}
