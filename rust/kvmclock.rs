// SPDX-License-Identifier: GPL-2.0

//! kvm-clock, the VM's side: the guest's nanosecond clock that `KVM_GET_CLOCK` reads,
//! `KVM_SET_CLOCK` sets (KVM_CAP_ADJUST_CLOCK), and each vCPU's pvclock page publishes
//! (`vcpu/pvclock.rs`; Documentation/virt/kvm/x86/msr.rst).
//!
//! One reference point per VM, as KVM's "master clock" (arch/x86/kvm/x86.c,
//! pvclock_update_vm_gtod_copy()): a host TSC value and the kvm-clock time at it. The clock
//! at host TSC `t` is that time plus `t - tsc` scaled by the TSC's frequency, the same
//! integer arithmetic the guest does on its pvclock page (`pvclock_scale_delta`), so what
//! the host reads and what the guest computes agree to the nanosecond and both are
//! monotonic. The reference is taken at VM creation (the clock starts at 0, as KVM's) and
//! again at each `KVM_SET_CLOCK`; `generation` counts them, so vCPUs know to rewrite their
//! pages. Host-suspend handling and NTP-style rate correction are KVM's and not rsvm's: the
//! TSC is the clock (the kernel's `tsc_khz`), which is what KVM does too while the host's
//! clocksource is the TSC.

use crate::{ffi, uapi::kvm::*};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    prelude::*,
    sync::Mutex,
    time::{ClockSource, RealTime},
};

/// The reference point: the kvm-clock reads `ns` at host TSC `tsc`.
#[derive(Clone, Copy)]
pub(crate) struct ClockRef {
    pub(crate) tsc: u64,
    pub(crate) ns: u64,
    /// The TSC-to-nanoseconds scale (`time_scale`).
    pub(crate) mul: u32,
    pub(crate) shift: i8,
}

impl ClockRef {
    fn at(tsc: u64, ns: u64) -> Self {
        let (shift, mul) = time_scale(1_000_000_000, ffi::tsc_khz() as u64 * 1000);
        ClockRef { tsc, ns, mul, shift }
    }

    /// The kvm-clock at host TSC `tsc`; a TSC behind the reference (another CPU's, read
    /// just after a `KVM_SET_CLOCK`) counts as the reference, so the clock never jumps back.
    pub(crate) fn ns_at(&self, tsc: u64) -> u64 {
        self.ns.wrapping_add(scale_delta(tsc.saturating_sub(self.tsc), self.mul, self.shift))
    }
}

/// `shift` and `mul` such that nanoseconds = ((ticks << shift) * mul) >> 32 (a negative
/// shift shifts right) for a `base_hz` TSC: KVM's kvm_get_time_scale(), which the guest's
/// pvclock reader assumes.
fn time_scale(scaled_hz: u64, base_hz: u64) -> (i8, u32) {
    let (mut tps64, mut scaled64, mut shift) = (base_hz.max(1), scaled_hz, 0i32);
    while tps64 > scaled64 * 2 || tps64 & 0xffff_ffff_0000_0000 != 0 {
        tps64 >>= 1;
        shift -= 1;
    }
    let mut tps32 = tps64 as u32;
    while tps32 as u64 <= scaled64 || scaled64 & 0xffff_ffff_0000_0000 != 0 {
        if scaled64 & 0xffff_ffff_0000_0000 != 0 || tps32 & 0x8000_0000 != 0 {
            scaled64 >>= 1;
        } else {
            tps32 <<= 1;
        }
        shift += 1;
    }
    // div_frac(): (scaled64 << 32) / tps32, below 2^32 because scaled64 < tps32 here.
    let mul = ((scaled64 << 32) / tps32.max(1) as u64) as u32;
    (shift as i8, mul)
}

/// The guest's pvclock_scale_delta(): `delta` ticks in nanoseconds.
pub(crate) fn scale_delta(delta: u64, mul: u32, shift: i8) -> u64 {
    let d = if shift < 0 { delta >> (-shift as u32).min(63) } else { delta << (shift as u32).min(63) };
    ((d as u128 * mul as u128) >> 32) as u64
}

fn realtime_ns() -> u64 {
    RealTime::ktime_get() as u64
}

/// The VM's kvm-clock (in `VmShared`).
#[pin_data]
pub(crate) struct KvmClock {
    #[pin]
    reference: Mutex<ClockRef>,
    /// Bumped under `reference`'s lock whenever it changes.
    generation: AtomicU64,
}

impl KvmClock {
    /// A clock that reads 0 now.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            reference <- kernel::new_mutex!(ClockRef::at(ffi::rdtsc(), 0)),
            generation: AtomicU64::new(1),
        })
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The reference and its generation, read together.
    pub(crate) fn reference(&self) -> (ClockRef, u64) {
        let r = self.reference.lock();
        (*r, self.generation.load(Ordering::Relaxed))
    }

    /// `KVM_GET_CLOCK`: the clock now, with the host's wall clock and TSC read with it
    /// (KVM_CLOCK_REALTIME, KVM_CLOCK_HOST_TSC) and KVM_CLOCK_TSC_STABLE: every vCPU's
    /// page is from the same reference.
    pub(crate) fn get(&self) -> KvmClockData {
        let r = *self.reference.lock();
        let host_tsc = ffi::rdtsc();
        let realtime = realtime_ns();
        KvmClockData {
            clock: r.ns_at(host_tsc),
            flags: KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC,
            realtime,
            host_tsc,
            ..Default::default()
        }
    }

    /// `KVM_SET_CLOCK`: the clock reads `d.clock` now, plus the wall-clock time since
    /// `d.realtime` with KVM_CLOCK_REALTIME (kvm_vm_ioctl_set_clock(): a migrated VM's clock
    /// keeps counting while it was in flight). Other flags KVM defines are accepted and
    /// ignored, as KVM does; unknown ones are EINVAL.
    pub(crate) fn set(&self, d: &KvmClockData) -> Result {
        if d.flags & !KVM_CLOCK_VALID_FLAGS != 0 {
            return Err(EINVAL);
        }
        let mut clock = d.clock;
        let mut r = self.reference.lock();
        let tsc = ffi::rdtsc();
        if d.flags & KVM_CLOCK_REALTIME != 0 {
            let now = realtime_ns();
            if now > d.realtime {
                clock = clock.wrapping_add(now - d.realtime);
            }
        }
        *r = ClockRef::at(tsc, clock);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// The wall-clock time (ns since the epoch) at which the kvm-clock read 0: what
    /// MSR_KVM_WALL_CLOCK(_NEW) publishes (kvm_write_wall_clock()).
    pub(crate) fn boot_wall_ns(&self) -> u64 {
        let now = self.get();
        now.realtime.wrapping_sub(now.clock)
    }
}
