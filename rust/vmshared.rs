// SPDX-License-Identifier: GPL-2.0

//! The state a VM's fd, its vCPUs and its assigned devices share: `VmShared` (the VM's
//! memory, vCPU list, permission maps; NPT flush, interrupt delivery) and `VcpuShared` (what
//! the VM and other vCPUs need of a vCPU). Below `vm.rs` (the VM fd's ioctls) and `vcpu/`,
//! which reach the VM only through it, so neither imports the other's ioctl layer.

use crate::{
    cpu::SvmFeatures,
    ffi::{self, WaitQueue},
    hwpage::HwPages,
    iommu::{passthrough, Guest, GuestMem},
    coalesced::Coalesced,
    kvmclock::KvmClock,
    lapic::{Message, Route, DM_FIXED, DM_INIT, DM_LOWEST, DM_SIPI},
    memslot::Memslots,
    npt::Npt,
    uapi::{STAT_NAMES, STAT_NR},
    vmmem::VmMem,
};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use kernel::{
    impl_has_hr_timer, new_mutex,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    time::{
        hrtimer::{HrTimer, HrTimerCallback, HrTimerCallbackContext, HrTimerRestart, RelativeHardMode},
        Delta, Monotonic,
    },
};

/// What a VM's other users need of a vCPU, without owning it (the vCPU owns its VM): where
/// it runs (for kicks), its counters, and the in-kernel APIC's doorbell: interrupt requests
/// other contexts post (MSIs, IPIs), the APIC timer's hrtimer, and the halted vCPU's sleep.
#[pin_data]
pub(crate) struct VcpuShared {
    pub(crate) id: u32,
    /// The CPU this vCPU is in guest mode on, or -1. Set before CLGI, cleared after STGI.
    pub(crate) in_guest_cpu: AtomicI32,
    /// Exit counters by reason (`crate::uapi::STAT_NAMES`), readable without the vCPU lock.
    pub(crate) stats: [AtomicU64; STAT_NR],
    /// Posted interrupt requests (a 256-bit IRR), folded into the APIC by the vCPU thread
    /// before each entry; `posted` is non-zero when any bit may be set.
    pir: [AtomicU32; 8],
    /// Trigger mode of each vector's latest post (1 = level: the APIC sets its TMR bit).
    /// Never cleared by taking: a vector's trigger mode is a property of its source, so a
    /// post racing with the fold sees the right mode either way.
    pir_level: [AtomicU32; 8],
    pub(crate) posted: AtomicU32,
    /// Host timer expiries the vCPU has not yet turned into a timer interrupt.
    pub(crate) timer_expired: AtomicU32,
    /// Re-arm interval of a periodic APIC timer (ns), 0 for one-shot.
    pub(crate) timer_period_ns: AtomicU64,
    #[pin]
    pub(crate) timer: HrTimer<VcpuShared>,
    /// An INIT message arrived (the vCPU resets and waits for a SIPI).
    pub(crate) init: AtomicU32,
    /// A SIPI arrived: 0x100 | vector.
    pub(crate) sipi: AtomicU32,
    /// Set before every wake-up; a halted vCPU clears it, re-checks, then sleeps on it.
    pub(crate) wake: AtomicI32,
    pub(crate) waitq: WaitQueue,
    /// How messages address this vCPU's APIC (`Route`), republished on every change.
    route_flags: AtomicU32,
    route_id: AtomicU32,
    route_ldr: AtomicU32,
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for VcpuShared { mode: RelativeHardMode<Monotonic>, field: self.timer }
}

impl HrTimerCallback for VcpuShared {
    type Pointer<'a> = Arc<Self>;

    /// The APIC timer expired (hard-irq context): count it and wake or kick the vCPU; a
    /// periodic timer re-arms itself.
    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        this.timer_expired.fetch_add(1, Ordering::SeqCst);
        this.wake_up();
        let period = this.timer_period_ns.load(Ordering::Relaxed);
        if period == 0 {
            return HrTimerRestart::NoRestart;
        }
        ctx.forward_now(Delta::from_nanos(period.min(i64::MAX as u64) as i64));
        HrTimerRestart::Restart
    }
}

impl VcpuShared {
    pub(crate) fn new(id: u32) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                id,
                in_guest_cpu: AtomicI32::new(-1),
                stats: [const { AtomicU64::new(0) }; STAT_NR],
                pir: [const { AtomicU32::new(0) }; 8],
                pir_level: [const { AtomicU32::new(0) }; 8],
                posted: AtomicU32::new(0),
                timer_expired: AtomicU32::new(0),
                timer_period_ns: AtomicU64::new(0),
                timer <- HrTimer::new(),
                init: AtomicU32::new(0),
                sipi: AtomicU32::new(0),
                wake: AtomicI32::new(0),
                waitq: WaitQueue::new()?,
                route_flags: AtomicU32::new(0),
                route_id: AtomicU32::new(0),
                route_ldr: AtomicU32::new(0),
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Wakes the vCPU if it sleeps in HLT, and makes it leave guest mode if it runs one:
    /// either it sees what was posted before its next entry, or the kick ends that entry.
    pub(crate) fn wake_up(&self) {
        self.wake.store(1, Ordering::SeqCst);
        self.waitq.wake();
        let cpu = self.in_guest_cpu.load(Ordering::SeqCst);
        if cpu >= 0 {
            ffi::kick_cpu_async(cpu as u32);
        }
    }

    /// Requests interrupt `vector`, level- or edge-triggered, from any context (lock-free).
    pub(crate) fn post(&self, vector: u8, level: bool) {
        let (i, b) = ((vector >> 5) as usize, 1u32 << (vector & 31));
        // The mode first: the vCPU reads it after it took the request bit.
        if let Some(l) = self.pir_level.get(i) {
            if level {
                l.fetch_or(b, Ordering::SeqCst);
            } else {
                l.fetch_and(!b, Ordering::SeqCst);
            }
        }
        if let Some(w) = self.pir.get(i) {
            w.fetch_or(b, Ordering::SeqCst);
        }
        self.posted.store(1, Ordering::SeqCst);
        self.wake_up();
    }

    /// Delivers INIT (`None`) or a SIPI with its vector, from any context.
    fn post_init_sipi(&self, sipi: Option<u8>) {
        match sipi {
            None => {
                // A SIPI before this INIT is stale: only one after it starts the vCPU.
                self.sipi.store(0, Ordering::SeqCst);
                self.init.store(1, Ordering::SeqCst);
            }
            Some(v) => self.sipi.store(0x100 | v as u32, Ordering::SeqCst),
        }
        self.wake_up();
    }

    /// Takes the posted requests (vCPU thread): calls `f(vector, level)` for each.
    pub(crate) fn take_posted(&self, mut f: impl FnMut(u8, bool)) {
        if self.posted.swap(0, Ordering::SeqCst) == 0 {
            return;
        }
        for (i, (w, l)) in self.pir.iter().zip(self.pir_level.iter()).enumerate() {
            let mut bits = w.swap(0, Ordering::SeqCst);
            let level = l.load(Ordering::SeqCst);
            while bits != 0 {
                let b = bits.trailing_zeros();
                f((i as u32 * 32 + b) as u8, level & (1 << b) != 0);
                bits &= bits - 1;
            }
        }
    }

    /// Something arrived that the next entry must look at first.
    pub(crate) fn event_pending(&self) -> bool {
        self.posted.load(Ordering::SeqCst) != 0
            || self.timer_expired.load(Ordering::SeqCst) != 0
            || self.init.load(Ordering::SeqCst) != 0
    }

    pub(crate) fn set_route(&self, r: Route) {
        self.route_id.store(r.id, Ordering::Relaxed);
        self.route_ldr.store(r.ldr, Ordering::Relaxed);
        let f = r.enabled as u32 | (r.x2apic as u32) << 1 | (r.cluster as u32) << 2 | (r.hw_enabled as u32) << 3;
        self.route_flags.store(f, Ordering::Release);
    }

    pub(crate) fn route(&self) -> Route {
        let f = self.route_flags.load(Ordering::Acquire);
        Route {
            enabled: f & 1 != 0,
            hw_enabled: f & 8 != 0,
            x2apic: f & 2 != 0,
            cluster: f & 4 != 0,
            id: self.route_id.load(Ordering::Relaxed),
            ldr: self.route_ldr.load(Ordering::Relaxed),
        }
    }
}

/// `/sys/kernel/debug/rsvm/vm<N>-vcpu<M>`: one `reason count` line per exit reason.
impl core::fmt::Debug for VcpuShared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (name, v) in STAT_NAMES.iter().zip(self.stats.iter()) {
            writeln!(f, "{} {}", name, v.load(Ordering::Relaxed))?;
        }
        Ok(())
    }
}

/// What a VM's fd, its vCPUs and its assigned devices share (KVM's `struct kvm` without the
/// ioctls): the VM's memory, its vCPU list, the permission maps, and the operations vCPUs
/// and devices need (NPT flush, interrupt delivery, level-triggered EOI, the owner check).
/// The VM fd's object (`vm::Vm`) and every vCPU hold it; it is dropped when the fd and
/// every vCPU are gone: no vCPU runs on the NPT any more, and the memslots (with their
/// pins) and the tables go with the fields.
#[pin_data]
pub(crate) struct VmShared {
    pub(crate) id: u64,
    pub(crate) features: SvmFeatures,
    /// The creating process's mm (held with mmgrab). ioctls from another mm get EIO, as KVM.
    mm: ffi::OwnerMm,
    #[pin]
    pub(crate) mem: Mutex<VmMem>,
    /// Bumped whenever NPT entries are removed: vCPUs flush their ASID before re-entry.
    pub(crate) npt_gen: AtomicU64,
    pub(crate) npt_root: u64,
    #[pin]
    pub(crate) vcpus: Mutex<KVec<Arc<VcpuShared>>>,
    /// I/O and MSR permission maps, shared by the VM's vCPUs.
    pub(crate) iopm: HwPages,
    pub(crate) msrpm: HwPages,
    /// KVM_CAP_SPLIT_IRQCHIP: vCPUs created from now on have an in-kernel local APIC.
    pub(crate) split_irqchip: AtomicBool,
    /// KVM_CAP_X2APIC_API: 32-bit x2APIC IDs in KVM_GET/SET_LAPIC and MSIs; and the MSI
    /// broadcast quirk turned off (KVM_X2APIC_API_* flags, `uapi::kvm`).
    pub(crate) x2apic_format: AtomicBool,
    pub(crate) x2apic_bcast_quirk_off: AtomicBool,
    /// KVM_CAP_EXIT_ON_EMULATION_FAILURE: an access rsvm cannot decode always exits to the
    /// VMM, without #UD for the guest (`Vcpu::undecodable`).
    pub(crate) exit_on_emulation_failure: AtomicBool,
    /// Assigned devices' INTx routed to this VM: a level-triggered EOI looks for them only
    /// if there is one (`level_eoi`).
    pub(crate) intx_routes: AtomicU32,
    /// kvm-clock (KVM_GET/SET_CLOCK, the vCPUs' pvclock pages).
    #[pin]
    pub(crate) clock: KvmClock,
    /// Coalesced MMIO and PIO zones and their ring.
    #[pin]
    pub(crate) coalesced: Coalesced,
    /// MSR_KVM_WALL_CLOCK(_NEW): the GPA the guest last asked for the wall clock at.
    pub(crate) wall_clock: AtomicU64,
    /// Guest TSC = host TSC + this, the same for every vCPU (a synchronised TSC that starts
    /// near 0 at VM creation, as KVM's).
    pub(crate) tsc_offset: u64,
}

static NEXT_VM_ID: AtomicU64 = AtomicU64::new(1);

impl VmShared {
    pub(crate) fn new(features: SvmFeatures) -> Result<Arc<Self>> {
        let npt = Npt::new(features.npt_levels)?;
        let npt_root = npt.root_pa();
        let mut iopm = HwPages::new(2)?; // 12 KiB used: intercept every port
        iopm.fill(0xff);
        let msrpm = crate::msr::new_msrpm()?;
        let coalesced = Coalesced::new()?;
        let mm = ffi::OwnerMm::current()?;
        Arc::pin_init(
            try_pin_init!(Self {
                id: NEXT_VM_ID.fetch_add(1, Ordering::Relaxed),
                features,
                mm,
                mem <- new_mutex!(VmMem { slots: Memslots::default(), npt, io: None }),
                npt_gen: AtomicU64::new(1),
                npt_root,
                vcpus <- new_mutex!(KVec::new()),
                iopm,
                msrpm,
                split_irqchip: AtomicBool::new(false),
                x2apic_format: AtomicBool::new(false),
                x2apic_bcast_quirk_off: AtomicBool::new(false),
                exit_on_emulation_failure: AtomicBool::new(false),
                intx_routes: AtomicU32::new(0),
                clock <- KvmClock::new(),
                coalesced <- coalesced,
                wall_clock: AtomicU64::new(0),
                tsc_offset: 0u64.wrapping_sub(ffi::rdtsc()),
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )
    }

    pub(crate) fn is_owner(&self) -> bool {
        self.mm.is_current()
    }

    /// After NPT entries were removed: make every vCPU flush before it uses the NPT again,
    /// and wait until none is still in guest mode with the old translations.
    pub(crate) fn flush_npt(&self) {
        self.npt_gen.fetch_add(1, Ordering::SeqCst);
        let vcpus = self.vcpus.lock();
        for v in vcpus.iter() {
            let cpu = v.in_guest_cpu.load(Ordering::SeqCst);
            if cpu >= 0 {
                // `cpu` is a valid CPU id (it ran a guest); the kick waits for the IPI handler,
                // which runs only after that CPU left guest mode.
                ffi::kick_cpu(cpu as u32);
            }
        }
    }

    /// Drops a vCPU from the kick list (its fd was closed).
    pub(crate) fn remove_vcpu(&self, shared: &Arc<VcpuShared>) {
        self.vcpus.lock().retain(|v| !Arc::ptr_eq(v, shared));
    }

    /// Delivers an interrupt message (an IPI from vCPU `from`, or an MSI) to the APICs it
    /// addresses; returns how many took it. Fixed, lowest-priority, INIT and SIPI delivery:
    /// NMI, SMI and ExtINT messages are not delivered (Documentation/design.md), nor is the
    /// level-triggered INIT de-assert, which APICs since the Pentium 4 ignore.
    pub(crate) fn deliver(&self, m: &Message, from: Option<u32>) -> usize {
        let init_sipi = match m.delivery {
            DM_FIXED | DM_LOWEST => None,
            DM_INIT if m.level_trigger && !m.assert => return 0,
            DM_INIT => Some(None),
            DM_SIPI => Some(Some(m.vector)),
            _ => return 0,
        };
        // KVM's x2APIC broadcast quirk (kvm_apic_mda()): unless KVM_CAP_X2APIC_API turned
        // it off, a message that is not an IPI with destination 0xFF is a broadcast to the
        // APICs in x2APIC mode (whose own broadcast is 0xFFFFFFFF).
        let quirk = from.is_none() && m.dest == 0xff && !self.x2apic_bcast_quirk_off.load(Ordering::Relaxed);
        let bcast = Message { dest: 0xffff_ffff, ..*m };
        let vcpus = self.vcpus.lock();
        let mut n = 0;
        for v in vcpus.iter() {
            let r = v.route();
            let m = if quirk && r.x2apic { &bcast } else { m };
            if r.matches(m, from == Some(v.id)) {
                match init_sipi {
                    // Level-triggered fixed messages set the TMR bit (as KVM's
                    // __apic_accept_irq), so the guest's EOI is reported back.
                    None => v.post(m.vector, m.level_trigger),
                    Some(sipi) => v.post_init_sipi(sipi),
                }
                n += 1;
                if m.delivery == DM_LOWEST {
                    // Lowest priority: one APIC of the set takes it (the first, as KVM's
                    // round-robin would at some point).
                    break;
                }
            }
        }
        n
    }

    /// vCPU `v` EOIed level-triggered `vector` (its TMR bit was set): as KVM's EOI broadcast
    /// to the IOAPIC, the sources of that vector may assert it again (an assigned device's
    /// INTx is unmasked, or delivered again if it is still asserted).
    pub(crate) fn level_eoi(&self, vector: u8, v: &VcpuShared) {
        if self.intx_routes.load(Ordering::SeqCst) != 0 {
            passthrough::level_eoi(self, vector, &v.route());
        }
    }
}

/// The VM as device assignment sees it (`iommu`): the vendor driver holds it as
/// `Arc<dyn Guest>` and never names `VmShared`.
impl Guest for VmShared {
    fn id(&self) -> u64 {
        self.id
    }

    fn has_lapic(&self) -> bool {
        self.split_irqchip.load(Ordering::SeqCst)
    }

    fn deliver(&self, m: &Message) {
        VmShared::deliver(self, m, None);
    }

    fn intx_routes(&self) -> &AtomicU32 {
        &self.intx_routes
    }

    fn with_mem_dyn(&self, f: &mut dyn FnMut(GuestMem<'_>) -> Result) -> Result {
        let mut mem = self.mem.lock();
        let VmMem { slots, npt, io } = &mut *mem;
        f(GuestMem { slots, npt, io })
    }

    fn flush_npt(&self) {
        VmShared::flush_npt(self);
    }
}
