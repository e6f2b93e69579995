// SPDX-License-Identifier: GPL-2.0

//! A VM: its memslots and nested page tables, its vCPUs, and the VM fd's ioctls.

use crate::{
    cpu::SvmFeatures,
    ffi::{self, WaitQueue},
    hwpage::HwPages,
    iommu::{passthrough, Guest, GuestMem, IoSpace},
    lapic::{Message, Route, DM_FIXED, DM_INIT, DM_LOWEST, DM_SIPI},
    memslot::{Memslot, Memslots, SlotChange, PAGE_SIZE},
    npt::Npt,
    uapi::kvm::*,
    uapi::{STAT_NAMES, STAT_NR},
    vcpu::Vcpu,
};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_long, c_uint, c_ulong},
    impl_has_hr_timer, new_mutex,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    time::{
        hrtimer::{HrTimer, HrTimerCallback, HrTimerCallbackContext, HrTimerRestart, RelativeHardMode},
        Delta, Monotonic,
    },
    uaccess::{UserPtr, UserSlice},
};

/// KVM_CAP_MAX_VCPUS / KVM_CAP_NR_VCPUS.
pub(crate) const MAX_VCPUS: u32 = 64;
/// KVM_MAX_IRQ_ROUTES: the most IOAPIC routes KVM_CAP_SPLIT_IRQCHIP accepts.
const MAX_IRQ_ROUTES: u64 = 4096;
/// KVM_CAP_MAX_VCPU_ID: vCPU ids are below this.
pub(crate) const MAX_VCPU_ID: u32 = 1024;

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
    fn new(id: u32) -> Result<Arc<Self>> {
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
            GFP_KERNEL,
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

/// Guest memory: slots and the NPT that maps them, under one lock (the "MMU lock").
pub(crate) struct VmMem {
    pub(crate) slots: Memslots,
    pub(crate) npt: Npt,
    /// While devices are assigned: the VM's I/O domain, kept in step with the slots, and
    /// the BARs mapped in the NPT (`iommu::IoSpace`).
    pub(crate) io: Option<IoSpace>,
}

/// A VM. Dropped when its fd and every vCPU are gone: no vCPU runs on the NPT any more,
/// and the memslots (with their pins) and the tables go with the fields.
#[pin_data]
pub(crate) struct Vm {
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
    /// Assigned devices' INTx routed to this VM: a level-triggered EOI looks for them only
    /// if there is one (`level_eoi`).
    pub(crate) intx_routes: AtomicU32,
    /// Guest TSC = host TSC + this, the same for every vCPU (a synchronised TSC that starts
    /// near 0 at VM creation, as KVM's).
    pub(crate) tsc_offset: u64,
}

static NEXT_VM_ID: AtomicU64 = AtomicU64::new(1);

impl Vm {
    pub(crate) fn new(features: SvmFeatures) -> Result<Arc<Self>> {
        let npt = Npt::new(features.npt_levels)?;
        let npt_root = npt.root_pa();
        let mut iopm = HwPages::new(2)?; // 12 KiB used: intercept every port
        iopm.fill(0xff);
        let msrpm = crate::msr::new_msrpm()?;
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
                intx_routes: AtomicU32::new(0),
                tsc_offset: 0u64.wrapping_sub(ffi::rdtsc()),
            }? Error),
            GFP_KERNEL,
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

    fn set_memory_region(&self, r: &KvmUserspaceMemoryRegion) -> Result<isize> {
        let mut mem = self.mem.lock();
        let limit = mem.npt.gpa_limit();
        let change = mem.slots.plan(r, limit)?;
        // An assigned device's BAR occupies its guest-physical range.
        let new_range = match &change {
            SlotChange::Create(s) => Some((s.gpa, s.npages)),
            SlotChange::Move { index: _, new_gpa } => Some((*new_gpa, r.memory_size / PAGE_SIZE)),
            _ => None,
        };
        if let (Some((gpa, n)), Some(io)) = (new_range, mem.io.as_ref()) {
            if io.bar_overlap(gpa, n * PAGE_SIZE, None) {
                return Err(EEXIST);
            }
        }
        match change {
            SlotChange::None => {}
            SlotChange::Create(s) => {
                mem.slots.insert(s)?;
                Self::io_map_last(&mut mem)?;
            }
            SlotChange::Delete { index } => {
                // Unpinned only now: no vCPU or device can reach the pages any more.
                drop(self.detach_slot(&mut mem, index)?);
            }
            SlotChange::Move { index, new_gpa } => {
                let mut s = self.detach_slot(&mut mem, index)?;
                s.gpa = new_gpa;
                mem.slots.insert(s)?;
                Self::io_map_last(&mut mem)?;
            }
        }
        Ok(0)
    }

    /// Maps the slot just inserted into the I/O domain when devices are assigned; if that
    /// fails, the slot is taken out again and the error returned.
    fn io_map_last(mem: &mut VmMem) -> Result {
        let VmMem { slots, io, .. } = mem;
        let Some(io) = io.as_mut() else { return Ok(()) };
        let Some(s) = slots.last_mut() else { return Ok(()) };
        if let Err(e) = io.slot_added(s) {
            let last = slots.len().saturating_sub(1);
            // Never mapped in the NPT (no vCPU touched it yet): dropping it unpins.
            drop(slots.remove(last));
            return Err(e);
        }
        Ok(())
    }

    /// Takes slot `index` out of the NPT and, with devices assigned, out of the I/O domain
    /// (and the unit's caches), so that its pages may be unpinned. If the I/O flush fails,
    /// the unit may still translate to the pages: they stay pinned (leaked, and counted).
    fn detach_slot(&self, mem: &mut VmMem, index: usize) -> Result<Memslot> {
        let s = Self::unmap_slot(mem, index)?;
        self.flush_npt();
        if let Some(io) = mem.io.as_mut() {
            if let Err(e) = io.slot_removed(s.gpa, s.npages * PAGE_SIZE) {
                pr_err!("rsvm: I/O domain flush failed ({:?}): slot pages kept pinned\n", e);
                core::mem::forget(s);
                return Err(e);
            }
        }
        Ok(s)
    }

    fn unmap_slot(mem: &mut VmMem, index: usize) -> Result<Memslot> {
        let s = mem.slots.remove(index).ok_or(EINVAL)?;
        mem.npt.unmap(s.gpa, s.npages * PAGE_SIZE);
        Ok(s)
    }

    fn create_vcpu(self: &Arc<Self>, id: c_ulong) -> Result<isize> {
        if id >= MAX_VCPU_ID as c_ulong {
            return Err(EINVAL);
        }
        let shared = {
            let mut vcpus = self.vcpus.lock();
            if vcpus.iter().any(|v| v.id as c_ulong == id) {
                return Err(EEXIST);
            }
            if vcpus.len() >= MAX_VCPUS as usize {
                return Err(EINVAL);
            }
            let shared = VcpuShared::new(id as u32)?;
            vcpus.push(shared.clone(), GFP_KERNEL)?;
            shared
        };
        let r = Vcpu::new(self.clone(), shared.clone()).and_then(|v| crate::anonfd::install(v));
        if r.is_err() {
            self.vcpus.lock().retain(|v| !Arc::ptr_eq(v, &shared));
        }
        r
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
        let vcpus = self.vcpus.lock();
        let mut n = 0;
        for v in vcpus.iter() {
            if v.route().matches(m, from == Some(v.id)) {
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

    /// KVM_ENABLE_CAP on the VM fd: only KVM_CAP_SPLIT_IRQCHIP, before any vCPU exists.
    fn enable_cap(&self, arg: usize) -> Result<isize> {
        let c: KvmEnableCap = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmEnableCap>()).reader().read()?;
        if c.flags != 0 {
            return Err(EINVAL);
        }
        match c.cap {
            KVM_CAP_SPLIT_IRQCHIP => {
                // args[0]: IOAPIC routes the VMM reserves; the checks and errnos in KVM's
                // order (kvm_vm_ioctl_enable_cap): too many routes, then EEXIST for an
                // irqchip already there or vCPUs already created.
                if c.args[0] > MAX_IRQ_ROUTES {
                    return Err(EINVAL);
                }
                let vcpus = self.vcpus.lock();
                if self.split_irqchip.load(Ordering::SeqCst) || !vcpus.is_empty() {
                    return Err(EEXIST);
                }
                self.split_irqchip.store(true, Ordering::SeqCst);
                Ok(0)
            }
            _ => Err(EINVAL),
        }
    }

    /// KVM_SIGNAL_MSI: > 0 delivered (to that many vCPUs), 0 no APIC took it.
    fn signal_msi(&self, arg: usize) -> Result<isize> {
        let m: KvmMsi = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmMsi>()).reader().read()?;
        if !self.split_irqchip.load(Ordering::SeqCst) || m.flags != 0 {
            return Err(EINVAL);
        }
        Ok(self.deliver(&Message::from_msi(m.address_lo, m.data), None) as isize)
    }

    fn ioctl(self: &Arc<Self>, cmd: c_uint, arg: c_ulong) -> Result<isize> {
        if !self.is_owner() {
            return Err(EIO);
        }
        match cmd {
            KVM_CREATE_VCPU => self.create_vcpu(arg),
            KVM_CHECK_EXTENSION => Ok(crate::dev::check_extension(arg)),
            KVM_SET_USER_MEMORY_REGION => {
                let r: KvmUserspaceMemoryRegion =
                    UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<KvmUserspaceMemoryRegion>()).reader().read()?;
                self.set_memory_region(&r)
            }
            KVM_ENABLE_CAP => self.enable_cap(arg as usize),
            KVM_SIGNAL_MSI => self.signal_msi(arg as usize),
            _ => {
                let guest: Arc<dyn Guest> = self.clone();
                passthrough::ioctl(&guest, cmd, arg as usize).unwrap_or(Err(ENOTTY))
            }
        }
    }
}

/// The VM as device assignment sees it (`iommu`): the vendor driver holds it as
/// `Arc<dyn Guest>` and never names `Vm`.
impl Guest for Vm {
    fn id(&self) -> u64 {
        self.id
    }

    fn has_lapic(&self) -> bool {
        self.split_irqchip.load(Ordering::SeqCst)
    }

    fn deliver(&self, m: &Message) {
        Vm::deliver(self, m, None);
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
        Vm::flush_npt(self);
    }
}

/// Creates a VM fd (`KVM_CREATE_VM`).
pub(crate) fn create_vm(features: SvmFeatures, machine_type: c_ulong) -> Result<isize> {
    // Only the default machine type, as KVM on AMD without SEV.
    if machine_type != 0 {
        return Err(EINVAL);
    }
    let vm = Vm::new(features)?;
    crate::anonfd::install(vm)
}

// SAFETY: `rsvm_vm_ioctl` and `rsvm_vm_release`, the callbacks of the `rsvm-vm` fops table,
// read the private data as `Arc<Vm>`; `Vcpu` has the other kind.
unsafe impl crate::anonfd::AnonFd for Vm {
    const KIND: crate::anonfd::FdKind = crate::anonfd::FdKind::Vm;
}

#[no_mangle]
unsafe extern "C" fn rsvm_vm_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: the VM fd's private data is the `Arc<Vm>` installed by `anonfd::install`, alive
    // until release, which cannot run during an ioctl.
    let vm: Arc<Vm> = unsafe { crate::anonfd::borrow::<Vm>(file) }.into();
    match vm.ioctl(cmd, arg) {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

#[no_mangle]
unsafe extern "C" fn rsvm_vm_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: last reference of the fd: takes back the `Arc` installed by `anonfd::install`.
    let vm = unsafe { crate::anonfd::take::<Vm>(file) };
    // The VM fd is gone (closed, or its process died): its devices are released (blocked,
    // reset, out of the NPT; the domain freed), which also drops their references to it.
    passthrough::release_vm(&*vm);
    drop(vm);
    0
}
