// SPDX-License-Identifier: GPL-2.0

//! The VM fd: `KVM_CREATE_VM`, the VM ioctls, `KVM_CHECK_EXTENSION`. The VM's state is
//! `vmshared::VmShared`, which vCPUs and assigned devices hold too; this layer is above
//! them (`dev -> vm -> {vcpu, vmshared}`), and nothing below names it.

use crate::{
    cpu::SvmFeatures,
    iommu::{passthrough, Guest},
    lapic::Message,
    memslot::{Memslot, SlotChange, MAX_SLOTS, PAGE_SIZE},
    uapi::kvm::*,
    vcpu::Vcpu,
    vmmem::VmMem,
    vmsetup::{self, VmSetup, MAX_VCPUS, MAX_VCPU_ID},
    vmshared::{VcpuShared, VmShared},
};
use core::sync::atomic::Ordering;
use kernel::{
    bindings,
    ffi::{c_int, c_long, c_uint, c_ulong},
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

/// KVM_MAX_IRQ_ROUTES: the most IOAPIC routes KVM_CAP_SPLIT_IRQCHIP accepts.
const MAX_IRQ_ROUTES: u64 = 4096;

/// KVM_CHECK_EXTENSION, on the system and the VM fd: non-zero exactly for what rsvm
/// implements (the value where KVM's is a number), 0 for everything else.
pub(crate) fn check_extension(cap: c_ulong) -> isize {
    match cap as u64 {
        KVM_CAP_USER_MEMORY
        | KVM_CAP_EXT_CPUID
        | KVM_CAP_DESTROY_MEMORY_REGION_WORKS
        | KVM_CAP_JOIN_MEMORY_REGIONS_WORKS
        | KVM_CAP_XSAVE
        | KVM_CAP_READONLY_MEM
        | KVM_CAP_CHECK_EXTENSION_VM
        | KVM_CAP_IMMEDIATE_EXIT
        | KVM_CAP_MP_STATE
        | KVM_CAP_GET_TSC_KHZ
        | KVM_CAP_TSC_DEADLINE_TIMER
        | KVM_CAP_SIGNAL_MSI
        | KVM_CAP_ENABLE_CAP_VM
        | KVM_CAP_USER_MEMORY2
        | KVM_CAP_SET_TSS_ADDR
        | KVM_CAP_SET_IDENTITY_MAP_ADDR
        | KVM_CAP_MMU_SHADOW_CACHE_CONTROL
        | KVM_CAP_SYS_ATTRIBUTES
        | KVM_CAP_BINARY_STATS_FD
        | KVM_CAP_DEBUGREGS
        | KVM_CAP_VCPU_EVENTS
        | KVM_CAP_INTR_SHADOW
        | KVM_CAP_VCPU_ATTRIBUTES
        | KVM_CAP_XCRS => 1,
        c if c == KVM_CAP_EXIT_ON_EMULATION_FAILURE as u64 => 1,
        c if c == KVM_CAP_SPLIT_IRQCHIP as u64 => 1,
        c if c == KVM_CAP_X2APIC_API as u64 => (KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK) as isize,
        KVM_CAP_SYNC_REGS => KVM_SYNC_X86_VALID_FIELDS as isize,
        KVM_CAP_ADJUST_CLOCK => KVM_CLOCK_VALID_FLAGS as isize,
        KVM_CAP_COALESCED_MMIO => KVM_COALESCED_MMIO_PAGE_OFFSET as isize,
        KVM_CAP_COALESCED_PIO => 1,
        KVM_CAP_NR_VCPUS => vmsetup::nr_vcpus() as isize,
        KVM_CAP_MAX_VCPUS => MAX_VCPUS as isize,
        KVM_CAP_MAX_VCPU_ID => MAX_VCPU_ID as isize,
        KVM_CAP_NR_MEMSLOTS => MAX_SLOTS as isize,
        _ => 0,
    }
}

/// The VM fd's object: the VM's shared state, and the ioctls only the fd has.
pub(crate) struct Vm {
    shared: Arc<VmShared>,
    setup: VmSetup,
}

impl Vm {
    /// KVM_SET_USER_MEMORY_REGION and KVM_SET_USER_MEMORY_REGION2 (a v1 region is read as a
    /// v2 one with the rest zero, as KVM does).
    fn set_memory_region(&self, r: &KvmUserspaceMemoryRegion2) -> Result<isize> {
        let mut mem = self.shared.mem.lock();
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
        self.shared.flush_npt();
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

    fn create_vcpu(&self, id: c_ulong) -> Result<isize> {
        if id >= MAX_VCPU_ID as c_ulong {
            return Err(EINVAL);
        }
        let shared = {
            // KVM's order: the count, the VM's id limit (fixed now if unset), then EEXIST.
            let mut vcpus = self.shared.vcpus.lock();
            if vcpus.len() >= MAX_VCPUS as usize {
                return Err(EINVAL);
            }
            self.setup.precreate(id as u64)?;
            if vcpus.iter().any(|v| v.id as c_ulong == id) {
                return Err(EEXIST);
            }
            let shared = VcpuShared::new(id as u32)?;
            vcpus.push(shared.clone(), GFP_KERNEL_ACCOUNT)?;
            self.setup.created();
            shared
        };
        let r = Vcpu::new(self.shared.clone(), shared.clone()).and_then(|v| crate::anonfd::install(v));
        if r.is_err() {
            self.shared.vcpus.lock().retain(|v| !Arc::ptr_eq(v, &shared));
        }
        r
    }

    /// KVM_ENABLE_CAP on the VM fd: KVM_CAP_SPLIT_IRQCHIP (before any vCPU exists),
    /// KVM_CAP_MAX_VCPU_ID and KVM_CAP_X2APIC_API.
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
                let vcpus = self.shared.vcpus.lock();
                if self.shared.split_irqchip.load(Ordering::SeqCst) || !vcpus.is_empty() {
                    return Err(EEXIST);
                }
                self.shared.split_irqchip.store(true, Ordering::SeqCst);
                Ok(0)
            }
            KVM_CAP_MAX_VCPU_ID_ENABLE => {
                let _vcpus = self.shared.vcpus.lock();
                self.setup.set_max_vcpu_ids(c.args[0])
            }
            KVM_CAP_X2APIC_API => {
                // As KVM: any time, flags only ever added.
                let f = c.args[0];
                if f & !(KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK) != 0 {
                    return Err(EINVAL);
                }
                if f & KVM_X2APIC_API_USE_32BIT_IDS != 0 {
                    self.shared.x2apic_format.store(true, Ordering::SeqCst);
                }
                if f & KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK != 0 {
                    self.shared.x2apic_bcast_quirk_off.store(true, Ordering::SeqCst);
                }
                Ok(0)
            }
            KVM_CAP_EXIT_ON_EMULATION_FAILURE => {
                // As KVM: 0 or 1, any time.
                if c.args[0] & !1 != 0 {
                    return Err(EINVAL);
                }
                self.shared.exit_on_emulation_failure.store(c.args[0] != 0, Ordering::Relaxed);
                Ok(0)
            }
            _ => Err(EINVAL),
        }
    }

    /// KVM_SIGNAL_MSI: > 0 delivered (to that many vCPUs), 0 no APIC took it.
    fn signal_msi(&self, arg: usize) -> Result<isize> {
        let m: KvmMsi = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmMsi>()).reader().read()?;
        if !self.shared.split_irqchip.load(Ordering::SeqCst) || m.flags != 0 {
            return Err(EINVAL);
        }
        let mut msg = Message::from_msi(m.address_lo, m.data);
        if self.shared.x2apic_format.load(Ordering::SeqCst) {
            // 32-bit x2APIC destinations: bits 31:8 in address_hi 31:8 (KVM's
            // x86_msi_msg_get_destid() with x2apic_format); address_hi 7:0 must be 0
            // (kvm_msi_route_invalid()).
            if m.address_hi & 0xff != 0 {
                return Err(EINVAL);
            }
            msg.dest |= m.address_hi & 0xffff_ff00;
        }
        Ok(self.shared.deliver(&msg, None) as isize)
    }

    fn ioctl(&self, cmd: c_uint, arg: c_ulong) -> Result<isize> {
        if !self.shared.is_owner() {
            return Err(EIO);
        }
        match cmd {
            KVM_CREATE_VCPU => self.create_vcpu(arg),
            KVM_GET_STATS_FD => crate::stats::open(&self.shared, None),
            KVM_CHECK_EXTENSION => Ok(check_extension(arg)),
            KVM_SET_USER_MEMORY_REGION => {
                let r: KvmUserspaceMemoryRegion =
                    UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<KvmUserspaceMemoryRegion>()).reader().read()?;
                // v1 takes only v1's flags (dirty logging, read-only) before the common checks.
                if r.flags & !KVM_SET_USER_MEMORY_REGION_V1_FLAGS != 0 {
                    return Err(EINVAL);
                }
                self.set_memory_region(&r.into())
            }
            KVM_SET_USER_MEMORY_REGION2 => {
                let r: KvmUserspaceMemoryRegion2 =
                    UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<KvmUserspaceMemoryRegion2>()).reader().read()?;
                self.set_memory_region(&r)
            }
            KVM_SET_TSS_ADDR => self.setup.set_tss_addr(arg as u64),
            KVM_SET_IDENTITY_MAP_ADDR => {
                let _vcpus = self.shared.vcpus.lock();
                self.setup.set_identity_map_addr(|| UserSlice::new(UserPtr::from_addr(arg as usize), 8).reader().read::<u64>())
            }
            KVM_SET_NR_MMU_PAGES => self.setup.set_nr_mmu_pages(arg as u64),
            KVM_GET_TSC_KHZ => vmsetup::tsc_khz(),
            KVM_REGISTER_COALESCED_MMIO | KVM_UNREGISTER_COALESCED_MMIO => {
                let z: KvmCoalescedMmioZone =
                    UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<KvmCoalescedMmioZone>()).reader().read()?;
                let c = &self.shared.coalesced;
                if cmd == KVM_REGISTER_COALESCED_MMIO { c.register(&z) } else { c.unregister(&z) }.map(|_| 0)
            }
            KVM_GET_CLOCK => {
                let d = self.shared.clock.get();
                UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<KvmClockData>()).writer().write(&d).map(|_| 0)
            }
            KVM_SET_CLOCK => {
                let d: KvmClockData = UserSlice::new(UserPtr::from_addr(arg as usize), size_of::<KvmClockData>()).reader().read()?;
                self.shared.clock.set(&d).map(|_| 0)
            }
            KVM_ENABLE_CAP => self.enable_cap(arg as usize),
            KVM_SIGNAL_MSI => self.signal_msi(arg as usize),
            _ => {
                let guest: Arc<dyn Guest> = self.shared.clone();
                passthrough::ioctl(&guest, cmd, arg as usize).unwrap_or(Err(ENOTTY))
            }
        }
    }
}

/// Creates a VM fd (`KVM_CREATE_VM`).
pub(crate) fn create_vm(features: SvmFeatures, machine_type: c_ulong) -> Result<isize> {
    // Only the default machine type, as KVM on AMD without SEV.
    if machine_type != 0 {
        return Err(EINVAL);
    }
    let vm = Arc::new(Vm { shared: VmShared::new(features)?, setup: VmSetup::new() }, GFP_KERNEL_ACCOUNT)?;
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
    passthrough::release_vm(&*vm.shared);
    drop(vm);
    0
}
