// SPDX-License-Identifier: GPL-2.0

//! Coalesced MMIO and PIO (KVM_CAP_COALESCED_MMIO, KVM_CAP_COALESCED_PIO): writes to
//! registered zones do not exit; they are appended to a ring the VMM reads from its vCPU
//! mmap (page KVM_COALESCED_MMIO_PAGE_OFFSET, one ring per VM) when it next has an exit to
//! handle. For devices whose writes can wait (VGA, a disk controller's doorbell batches).
//!
//! As KVM's virt/kvm/coalesced_mmio.c: a write is taken only if it lies wholly inside one
//! zone of its kind and the ring has room (`last + 1 != first`, modulo the ring's 170
//! entries); otherwise it exits as any other. `first` and `last` live in memory the VMM
//! writes, so they are read once and checked before use. Unregistering removes every zone
//! that lies inside the given range. A VM holds at most 1000 zones (KVM's NR_IOBUS_DEVS,
//! ENOSPC beyond).

use crate::{hwpage::HwPages, uapi::kvm::*};
use core::{
    ptr::{addr_of_mut, read_volatile, write_volatile},
    sync::atomic::{fence, AtomicU32, Ordering},
};
use kernel::{prelude::*, sync::Mutex};

/// KVM's NR_IOBUS_DEVS: the devices one I/O bus holds.
const MAX_ZONES: usize = 1000;

#[derive(Clone, Copy)]
struct Zone {
    addr: u64,
    size: u32,
    pio: bool,
}

impl Zone {
    /// KVM's coalesced_mmio_in_range(): `len` bytes at `addr`, without wrapping, inside.
    fn contains(&self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len) else { return false };
        addr >= self.addr && end <= self.addr.saturating_add(self.size as u64)
    }
}

/// A VM's zones and ring (in `VmShared`).
#[pin_data]
pub(crate) struct Coalesced {
    /// The ring page, mapped into every vCPU mmap; written under `zones`' lock.
    ring: HwPages,
    #[pin]
    zones: Mutex<KVec<Zone>>,
    /// The number of zones, read without the lock so I/O exits of VMs without zones (most)
    /// skip it.
    count: AtomicU32,
}

impl Coalesced {
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        let ring = HwPages::page()?;
        Ok(try_pin_init!(Self {
            ring,
            zones <- kernel::new_mutex!(KVec::new()),
            count: AtomicU32::new(0),
        }? Error))
    }

    /// The ring page's direct-map address, for the vCPU mmap.
    pub(crate) fn ring_va(&self) -> usize {
        self.ring.as_mut_ptr::<u8>() as usize
    }

    /// KVM_REGISTER_COALESCED_MMIO.
    pub(crate) fn register(&self, z: &KvmCoalescedMmioZone) -> Result {
        if z.pio > 1 {
            return Err(EINVAL);
        }
        let mut zones = self.zones.lock();
        if zones.len() >= MAX_ZONES {
            return Err(ENOSPC);
        }
        zones.push(Zone { addr: z.addr, size: z.size, pio: z.pio == 1 }, GFP_KERNEL_ACCOUNT)?;
        self.count.store(zones.len() as u32, Ordering::Relaxed);
        Ok(())
    }

    /// KVM_UNREGISTER_COALESCED_MMIO: every zone of that kind inside the range goes.
    pub(crate) fn unregister(&self, z: &KvmCoalescedMmioZone) -> Result {
        if z.pio > 1 {
            return Err(EINVAL);
        }
        let range = Zone { addr: z.addr, size: z.size, pio: z.pio == 1 };
        let mut zones = self.zones.lock();
        zones.retain(|d| !(d.pio == range.pio && d.contains(range.addr, range.size as u64)));
        self.count.store(zones.len() as u32, Ordering::Relaxed);
        Ok(())
    }

    /// A guest write of `data` (1 to 8 bytes) to `addr` (a port with `pio`): `true` if a
    /// zone took it into the ring, `false` if it must exit to the VMM.
    pub(crate) fn write(&self, pio: bool, addr: u64, data: &[u8]) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 || data.is_empty() || data.len() > 8 {
            return false;
        }
        let zones = self.zones.lock();
        // KVM tests the zone its bus finds for the access's first byte (the write must fit
        // in it); zones do not overlap in practice, so any zone that holds it all will do.
        if !zones.iter().any(|z| z.pio == pio && z.contains(addr, data.len() as u64)) {
            return false;
        }
        let base = self.ring.as_mut_ptr::<u8>();
        // SAFETY: the ring page is ours for the VM's life and 4 KiB; `RING_FIRST` and
        // `RING_LAST` are 4-byte aligned offsets in it. The VMM may write them at any time
        // through its mapping, so they are read once, volatile, and checked below.
        let (first, last) = unsafe {
            (read_volatile(base.add(RING_FIRST).cast::<u32>()), read_volatile(base.add(RING_LAST).cast::<u32>()))
        };
        if last >= KVM_COALESCED_MMIO_MAX || (last + 1) % KVM_COALESCED_MMIO_MAX == first {
            return false;
        }
        let mut e = KvmCoalescedMmio { phys_addr: addr, len: data.len() as u32, pio: pio as u32, data: [0; 8] };
        if let Some(d) = e.data.get_mut(..data.len()) {
            d.copy_from_slice(data);
        }
        // SAFETY: `last < KVM_COALESCED_MMIO_MAX` (checked), so the entry lies in the page
        // (static_assert'ed in uapi); entries are 8-byte aligned (RING_ENTRIES is 8, the
        // size 24). Only this code, under `zones`' lock, writes entries.
        unsafe {
            let slot = base.add(RING_ENTRIES).cast::<KvmCoalescedMmio>().add(last as usize);
            write_volatile(slot, e);
            // The entry before the index that publishes it (KVM's smp_wmb()).
            fence(Ordering::Release);
            write_volatile(addr_of_mut!(*base.add(RING_LAST)).cast::<u32>(), (last + 1) % KVM_COALESCED_MMIO_MAX);
        }
        drop(zones);
        true
    }
}
