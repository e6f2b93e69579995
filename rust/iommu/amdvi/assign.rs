// SPDX-License-Identifier: GPL-2.0

//! Device assignment: PCI functions bound to rsvm's PCI driver (`pcidrv.c`, VFIO-style
//! driver_override binding) and handed to a VM, whose I/O domain maps all of the VM's memory
//! (guest-physical -> the memslots' pinned pages) so the device's DMA reaches the guest and
//! nothing else. Documentation/amdvi.md, "Device assignment".
//!
//! States of a device's DTE (§2.2.2.1):
//! - not bound to rsvm: V=0 (as the host had it);
//! - bound, not assigned: V=1, TV=1, Mode 0, IR=IW=0: DMA blocked (domain 0, which rsvm never
//!   gives a page table, so nothing is ever cached under it); IV=1, IntCtl=00b: interrupts
//!   aborted too;
//! - assigned: V=1, TV=1, the VM's I/O page table, IR=IW=1 (the leaves decide); IV=1,
//!   IntCtl=10b through the device's own interrupt remapping table ([`super::irt`]), whose
//!   only live entry is the message of rsvm's host IRQ for the device.
//!
//! (With `amdvi_intremap=0` the interrupt fields stay 0: IV=0, interrupts pass unchanged.)
//!
//! Locking, in this order: [`Unit::assign`] (every assignment operation, and a guest's EOI
//! of an INTx vector), a VM's `mem`, its `vcpus` (NPT flushes, deliveries), the unit's `hw`.
//! The MSI and INTx handler threads take only `vcpus`; the INTx hard handler only its own
//! spinlock (`pcidrv.c`).

use super::devtab::Dte;
use super::irt::{self, Irt};
use super::domain::Domain;
use super::evtlog::EventCode;
use super::ivrs::{self, AliasConflict, Holder, RidState};
use super::pgtable::PageSize;
use super::{regs, Unit};
use crate::ffi;
use crate::lapic::{Message, Route, DM_FIXED, DM_LOWEST};
use crate::memslot::{Memslot, PAGE_SIZE};
use crate::npt::{Access, Npt};
use crate::uapi::*;
use crate::vm::{Vm, VmMem};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

const SIZE_2M: u64 = 1 << 21;
/// PCI_STD_NUM_BARS.
const NR_BARS: usize = 6;
/// Event records kept per device for its VMM; older ones are counted as lost.
const EVENT_QUEUE: usize = 64;
/// The depth of a VM's I/O page table: 4 levels (48-bit guest-physical addresses), or what
/// the unit supports if less. Memslots above that cannot be mapped (`EINVAL` while assigned).
const IO_LEVELS: u32 = 4;

/// The unit, published while the PCI driver is registered (see [`super::AmdviFile`]).
static UNIT: AtomicPtr<Unit> = AtomicPtr::new(core::ptr::null_mut());

pub(crate) fn publish(u: Option<&Unit>) {
    UNIT.store(u.map_or(core::ptr::null_mut(), |u| u as *const Unit as *mut Unit), Ordering::Release);
}

fn unit<'a>() -> Result<&'a Unit> {
    let p = UNIT.load(Ordering::Acquire);
    if p.is_null() {
        return Err(ENODEV);
    }
    // Non-null only while the unit is alive: published after it was pinned in its box and
    // withdrawn before it is dropped (`AmdviFile`), after the PCI driver is gone.
    // SAFETY: callers are PCI driver callbacks (driver registered), the IRQ-moved work
    // (cancelled before the unit is withdrawn, pcidrv.c) and VM ioctls/releases, whose fd
    // holds a module reference, so the module and the unit outlive the borrow.
    Ok(unsafe { &*p })
}

/// A VM's I/O address space: its domain (device address = guest-physical address) and the
/// BARs mapped into its NPT. Lives in the VM's `VmMem`, under its lock.
pub(crate) struct IoSpace {
    dom: Domain,
    devices: u32,
    /// BAR mappings in the NPT: (requester id, BAR, gpa, len).
    bars: KVec<(u16, u32, u64, u64)>,
}

impl IoSpace {
    /// Whether `[gpa, gpa + len)` overlaps a mapped BAR other than `skip`.
    pub(crate) fn bar_overlap(&self, gpa: u64, len: u64, skip: Option<(u16, u32)>) -> bool {
        self.bars.iter().any(|&(d, b, g, l)| Some((d, b)) != skip && gpa < g + l && g < gpa.saturating_add(len))
    }
}

/// The MSI or INTx route of an assigned device, shared with its interrupt thread.
pub(crate) struct IrqCtx {
    vm: Arc<Vm>,
    address_lo: AtomicU32,
    data: AtomicU32,
    count: AtomicU64,
    /// INTx: delivered level-triggered whatever the data word says (the APIC sets the
    /// vector's TMR bit, and the guest's EOI comes back to `intx_eoi`).
    level: bool,
}

impl IrqCtx {
    fn new(vm: &Arc<Vm>, m: &RsvmDeviceMsi, level: bool) -> Result<Pin<KBox<Self>>> {
        let c = IrqCtx {
            vm: vm.clone(),
            address_lo: AtomicU32::new(m.address_lo),
            data: AtomicU32::new(m.data),
            count: AtomicU64::new(0),
            level,
        };
        Ok(KBox::pin(c, GFP_KERNEL)?)
    }

    fn message(&self) -> Message {
        let mut m = Message::from_msi(self.address_lo.load(Ordering::Acquire), self.data.load(Ordering::Acquire));
        m.level_trigger |= self.level;
        m
    }

    fn deliver(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.vm.deliver(&self.message(), None);
    }
}

/// Called by the threaded handler of an assigned device's MSI or INTx (pcidrv.c).
#[no_mangle]
unsafe extern "C" fn rsvm_assigned_irq(ctx: *mut c_void) {
    // SAFETY: `ctx` is the `IrqCtx` given to request_threaded_irq (directly, or in the INTx
    // handler's `struct rsvm_intx`), alive until free_irq (which waits for this handler)
    // returns in `msi_disable` or `intx_disable`.
    let c = unsafe { &*(ctx as *const IrqCtx) };
    c.deliver();
}

/// A routed INTx: the route, and pcidrv.c's `struct rsvm_intx` (the host IRQ's handler and
/// the mask state), freed with it.
///
/// # Invariants
///
/// `x` is the live `struct rsvm_intx` `rsvm_shim_intx_enable` made for `ctx`, freed only by
/// `drop`; the device it names outlives it (an `Intx` lives in its `BoundDev`, which holds
/// the device reference, and goes before that reference in `release`).
struct Intx {
    ctx: Pin<KBox<IrqCtx>>,
    x: *mut c_void,
}

impl Intx {
    fn enable(pdev: *mut bindings::pci_dev, vm: &Arc<Vm>, m: &RsvmDeviceMsi, guest_disabled: bool) -> Result<Self> {
        let ctx = IrqCtx::new(vm, m, true)?;
        let mut x: *mut c_void = core::ptr::null_mut();
        // SAFETY: live, enabled device; `ctx` is pinned and outlives the handler (dropped only
        // after `drop` freed it); `x` is our out pointer.
        let r = unsafe {
            ffi::rsvm_shim_intx_enable(pdev.cast(), &*ctx as *const IrqCtx as *mut c_void, guest_disabled as c_int, &mut x)
        };
        kernel::error::to_result(r)?;
        vm.intx_routes.fetch_add(1, Ordering::SeqCst);
        // INVARIANT: `x` was just made for `ctx`.
        Ok(Intx { ctx, x })
    }
}

impl Drop for Intx {
    /// Frees the host IRQ (free_irq waits for a running handler and thread, so `ctx`, dropped
    /// after this, is unused) and leaves INTx disabled at the device.
    fn drop(&mut self) {
        // SAFETY: type invariant; freed once, here.
        unsafe { ffi::rsvm_shim_intx_disable(self.x) };
        self.ctx.vm.intx_routes.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Assigned {
    vm: Arc<Vm>,
    irq: Option<Pin<KBox<IrqCtx>>>,
    intx: Option<Intx>,
    interrupts_before: u64,
    /// `RSVM_DEVICE_EVENTFD`: signalled per event record filed; put when the assignment
    /// ends (release, VM close, unbind, rmmod all drop the `Assigned`).
    eventfd: Option<ffi::EventFd>,
    /// The device's interrupt remapping table (with `amdvi_intremap=1`), freed with the
    /// assignment after the DTE stopped pointing at it.
    irt: Option<Irt>,
    /// The live entry while the host MSI is enabled: its index and the host IRQ number.
    irte: Option<(usize, i32)>,
    /// How often a CPU going offline moved the host IRQ and the entry was rewritten.
    irq_moves: u32,
}

/// A device bound to rsvm's PCI driver.
///
/// # Invariants
///
/// `pdev` holds a reference (pci_dev_get) dropped in `Registry::remove`.
struct BoundDev {
    pdev: *mut bindings::pci_dev,
    segment: u16,
    devid: u16,
    owner: Option<Assigned>,
    /// The guest's view of the command register's Interrupt Disable bit (virtualised: the
    /// device's bit is this OR rsvm's mask, see `config`).
    guest_intx_disable: bool,
    events: KVec<[u64; 2]>,
    io_page_faults: u64,
    total_events: u64,
    lost: u64,
}

/// Devices bound to rsvm, behind [`Unit::assign`].
#[derive(Default)]
pub(crate) struct Registry {
    devs: KVec<BoundDev>,
}

// SAFETY: the `pci_dev` pointers are refcounted device references, used only under the
// registry's mutex; nothing in them is tied to a thread.
unsafe impl Send for Registry {}

/// The DTE of a device bound to rsvm but not assigned: DMA blocked and, with interrupt
/// remapping, every interrupt aborted (IV=1, IntCtl=00b).
fn blocked_dte(u: &Unit) -> Dte {
    if u.intremap {
        Dte::blocked(0).with_interrupts_blocked()
    } else {
        Dte::blocked(0)
    }
}

fn devid_of(pdev: *mut bindings::pci_dev) -> (u16, u16) {
    let (mut seg, mut devid) = (0u16, 0u16);
    // SAFETY: `pdev` is a live device (callers hold a reference or are in its probe/remove).
    unsafe { ffi::rsvm_shim_pci_ids(pdev.cast(), &mut seg, &mut devid) };
    (seg, devid)
}

/// Probe: the device is now rsvm's; its DMA is blocked until it is assigned.
#[no_mangle]
unsafe extern "C" fn rsvm_pci_probe(pdev: *mut bindings::pci_dev) -> c_int {
    match probe(pdev) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn probe(pdev: *mut bindings::pci_dev) -> Result {
    let u = unit()?;
    let (segment, devid) = devid_of(pdev);
    if segment != u.info.segment {
        return Err(ENODEV);
    }
    let mut reg = u.assign.lock();
    reg.devs.reserve(1, GFP_KERNEL)?;
    // SAFETY: `pdev` is live during probe; the reference is dropped in `remove`.
    unsafe { bindings::pci_dev_get(pdev) };
    // INVARIANT: the reference was just taken.
    reg.devs.push(
        BoundDev {
            pdev,
            segment,
            devid,
            owner: None,
            guest_intx_disable: false,
            events: KVec::new(),
            io_page_faults: 0,
            total_events: 0,
            lost: 0,
        },
        GFP_KERNEL,
    )?;
    // Its DTE, and its IVRS alias's, now blocked (unless a host device shares the alias).
    if let Err(e) = sync_dtes(u, &reg, devid, None, &[0]) {
        if let Some(d) = reg.devs.pop() {
            // SAFETY: the reference taken above, dropped once.
            unsafe { bindings::pci_dev_put(d.pdev) };
        }
        let _ = sync_dtes(u, &reg, devid, Some(devid), &[0]);
        return Err(e);
    }
    let alias = ivrs::ivrs_alias(&u.aliases, devid);
    pr_info!(
        "amdvi: {:04x}:{:02x}:{:02x}.{} bound to rsvm, DMA blocked (IVRS alias {:#06x})\n",
        segment, devid >> 8, (devid >> 3) & 0x1f, devid & 7, alias.map_or(-1, i32::from)
    );
    // The log is polled while a device is bound (see `rsvm_amdvi_poll`).
    // SAFETY: queues the static poll work, idempotent; `AmdviFile` cancels it before the
    // unit goes.
    unsafe { ffi::rsvm_shim_evt_poll_start() };
    Ok(())
}

/// Remove (unbind, or the device goes): an assignment is released first (the VM loses the
/// device), then the DTE goes back to V=0, as the host had it.
#[no_mangle]
unsafe extern "C" fn rsvm_pci_remove(pdev: *mut bindings::pci_dev) {
    let Ok(u) = unit() else { return };
    let mut reg = u.assign.lock();
    let Some(i) = reg.devs.iter().position(|d| d.pdev == pdev) else { return };
    let Some(devid) = reg.devs.get(i).map(|d| d.devid) else { return };
    if reg.devs.get(i).is_some_and(|d| d.owner.is_some()) {
        pr_warn!("amdvi: device {:#06x} unbound while assigned: released from its VM\n", devid);
        // The driver core holds the device lock during remove.
        release(u, &mut reg, i, true);
    }
    // Its DTEs as if it were gone: V=0 as the host had them (blocked still if another device
    // of rsvm's shares its alias).
    if let Err(e) = sync_dtes(u, &reg, devid, Some(devid), &[0]) {
        pr_err!("amdvi: device {:#06x}: DTE not restored: {:?}\n", devid, e);
    }
    if let Ok(d) = reg.devs.remove(i) {
        // SAFETY: the reference taken in `probe` (type invariant), dropped once.
        unsafe { bindings::pci_dev_put(d.pdev) };
    }
}

/// Maps every page of `s` in `dom` (pinning all of it): 2 MiB leaves where the guest range
/// and the pinned backing are 2 MiB aligned and contiguous, else 4 KiB leaves.
fn map_slot(dom: &mut Domain, s: &mut Memslot) -> Result {
    s.pin_range(0, s.npages)?;
    let write = !s.readonly;
    let pages_2m = SIZE_2M / PAGE_SIZE;
    let mut i = 0u64;
    while i < s.npages {
        let gpa = s.gpa + i * PAGE_SIZE;
        let pa = s.phys(i).ok_or(EFAULT)?;
        if gpa % SIZE_2M == 0 && pa % SIZE_2M == 0 && i + pages_2m <= s.npages
            && (1..pages_2m).all(|k| s.phys(i + k) == Some(pa + k * PAGE_SIZE))
        {
            dom.map(gpa, pa, PageSize::Size2M, true, write)?;
            i += pages_2m;
        } else {
            dom.map(gpa, pa, PageSize::Size4K, true, write)?;
            i += 1;
        }
    }
    Ok(())
}

/// Removes every leaf of `[gpa, gpa + len)` from `dom` (the caller flushes the domain).
fn unmap_range(dom: &mut Domain, gpa: u64, len: u64) {
    let end = gpa.saturating_add(len);
    let mut a = gpa;
    while a < end {
        if a % SIZE_2M == 0 && a + SIZE_2M <= end && dom.unmap(a, PageSize::Size2M).is_ok() {
            a += SIZE_2M;
            continue;
        }
        let _ = dom.unmap(a, PageSize::Size4K);
        a += PAGE_SIZE;
    }
}

fn flush_domain(id: u16) -> Result {
    let u = unit()?;
    let mut hw = u.hw.lock();
    hw.flush_domain(id)
}

/// `KVM_SET_USER_MEMORY_REGION` created (or moved in) slot `s` while devices are assigned:
/// map it in the VM's domain. On error nothing of it stays mapped.
pub(crate) fn slot_added(io: &mut IoSpace, s: &mut Memslot) -> Result {
    if io.bar_overlap(s.gpa, s.npages * PAGE_SIZE, None) {
        return Err(EEXIST);
    }
    let r = map_slot(&mut io.dom, s);
    if r.is_err() {
        unmap_range(&mut io.dom, s.gpa, s.npages * PAGE_SIZE);
    }
    let f = flush_domain(io.dom.id);
    r.and(f)
}

/// A slot's range goes (delete or move): unmapped from the domain and the unit's caches
/// flushed before the caller unpins.
pub(crate) fn slot_removed(io: &mut IoSpace, gpa: u64, len: u64) -> Result {
    unmap_range(&mut io.dom, gpa, len);
    flush_domain(io.dom.id)
}

fn sel_devid(d: &RsvmPciDevice) -> Result<(u16, u16)> {
    if d.flags != 0 {
        return Err(EINVAL);
    }
    Ok((d.segment, u16::from(d.bus) << 8 | u16::from(d.devfn)))
}

impl Registry {
    /// debugfs: one line per bound device: its DTE, its VM, its event counters.
    /// debugfs: one line per bound device: its DTE, its IVRS alias (`-` for none) and that
    /// alias's DTE, its VM, its event counters.
    pub(crate) fn show(
        &self,
        f: &mut core::fmt::Formatter<'_>,
        devtab: &super::devtab::DevTable,
        aliases: &[ivrs::AliasMap],
    ) -> core::fmt::Result {
        for d in self.devs.iter() {
            let dte = devtab.get(d.devid).unwrap_or_default();
            write!(
                f,
                "bound {:04x}:{:02x}:{:02x}.{} vm {} dte {:#018x} {:#018x} {:#018x}",
                d.segment, d.devid >> 8, (d.devid >> 3) & 0x1f, d.devid & 7,
                d.owner.as_ref().map_or(0, |a| a.vm.id), dte.0[0], dte.0[1], dte.0[2]
            )?;
            match ivrs::ivrs_alias(aliases, d.devid) {
                Some(a) => {
                    let adte = devtab.get(a).unwrap_or_default();
                    write!(f, " alias {:02x}:{:02x}.{} dte {:#018x} {:#018x}", a >> 8, (a >> 3) & 0x1f, a & 7, adte.0[0], adte.0[1])?;
                }
                None => write!(f, " alias -")?,
            }
            write!(f, " events {} io_page_faults {} lost {}", d.total_events, d.io_page_faults, d.lost)?;
            // The live remapping entry: index, value, host IRQ.
            match d.owner.as_ref().and_then(|a| Some((a.irte?, a.irt.as_ref()?))) {
                Some(((i, irq), t)) => {
                    let moves = d.owner.as_ref().map_or(0, |a| a.irq_moves);
                    writeln!(f, " irte {:#x} {:#010x} irq {} moves {}", i, t.get(i), irq, moves)?
                }
                None => writeln!(f)?,
            }
        }
        Ok(())
    }

    /// Who holds device `x` (as a user of a shared DTE): a bound device by its assignment, an
    /// other present device with a driver is the host's; absent or driverless devices and
    /// `skip` (a device being unbound) count as nobody.
    fn holder(&self, u: &Unit, x: u16, skip: Option<u16>) -> Option<Holder<*const Vm>> {
        if Some(x) == skip {
            return None;
        }
        if let Some(d) = self.devs.iter().find(|d| d.devid == x) {
            return Some(d.owner.as_ref().map_or(Holder::Unassigned, |a| Holder::Vm(&*a.vm as *const Vm)));
        }
        // SAFETY: looks the function up by id and drops the reference it took.
        match unsafe { ffi::rsvm_shim_pci_holder(u.info.segment, x) } {
            2 => Some(Holder::Host),
            _ => None,
        }
    }

    fn find(&mut self, d: &RsvmPciDevice) -> Result<&mut BoundDev> {
        let (seg, devid) = sel_devid(d)?;
        self.devs.iter_mut().find(|b| b.segment == seg && b.devid == devid).ok_or(ENODEV)
    }

    /// The device, if it is assigned to `vm` (`ENODEV` not bound, `ENOENT` not this VM's).
    fn owned(&mut self, vm: &Vm, d: &RsvmPciDevice) -> Result<&mut BoundDev> {
        let b = self.find(d)?;
        match &b.owner {
            Some(a) if core::ptr::eq(&*a.vm, vm) => Ok(b),
            _ => Err(ENOENT),
        }
    }
}

/// The device of a `BoundDev`, copied out so the registry can be read while it is used.
struct BoundRef {
    pdev: *mut bindings::pci_dev,
    devid: u16,
}

/// Brings the DTEs of `devid`'s requester ids (its own and its IVRS alias's) in line with
/// who uses them (`ivrs::rid_state`): V=0 for no device of rsvm's (or a host device), blocked
/// for rsvm's unassigned devices, left as it is while a VM's device uses it (its VM's
/// domain, written by `assign`). `skip`: a device being unbound, counted as gone. Each write
/// is followed by INVALIDATE_DEVTAB_ENTRY and a flush of `domains`.
fn sync_dtes(u: &Unit, reg: &Registry, devid: u16, skip: Option<u16>, domains: &[u16]) -> Result {
    let mut r = Ok(());
    for rid in ivrs::requester_ids(&u.aliases, devid) {
        let users = ivrs::rid_users(&u.aliases, rid).filter_map(|x| reg.holder(u, x, skip));
        let dte = match ivrs::rid_state(users) {
            RidState::Untranslated => Dte::untranslated(),
            RidState::Blocked => blocked_dte(u),
            RidState::Translated(_) => continue,
        };
        // Every id is tried; the first error is returned.
        if let Err(e) = u.hw.lock().set_dte(rid, dte, domains) {
            r = r.and(Err(e));
        }
    }
    r
}

/// Blocks, quiesces and resets an assigned device and takes it from its VM: INTx freed
/// (and left disabled), DTE blocked (and the domain flushed), bus mastering off, MSI freed,
/// BARs out of the NPT, function reset, regions released, device disabled; the VM's domain
/// goes with its last device.
fn release(u: &Unit, reg: &mut Registry, i: usize, device_locked: bool) {
    let Some(d) = reg.devs.get_mut(i) else { return };
    let Some(mut a) = d.owner.take() else { return };
    let d = BoundRef { pdev: d.pdev, devid: d.devid };
    // INTx first: its hard handler writes the command register, which pci_clear_master
    // below rewrites unlocked (a lost mask bit would leave the shared line screaming).
    intx_disable(&mut a);
    let vm = a.vm.clone();
    let mut mem = vm.mem.lock();
    let dom_id = mem.io.as_ref().map_or(0, |io| io.dom.id);
    // Blocked (its alias's DTE too, unless another device of this VM still uses it).
    if let Err(e) = sync_dtes(u, reg, d.devid, None, &[dom_id, 0]) {
        pr_err!("amdvi: device {:#06x}: DTE not blocked: {:?}\n", d.devid, e);
        // The unit may still read the table: never free it (the unload check reports it).
        if let Some(t) = a.irt.take() {
            core::mem::forget(t);
        }
    }
    // SAFETY: the device is live (we hold a reference) and enabled by `assign`.
    unsafe { bindings::pci_clear_master(d.pdev) };
    msi_disable(u, d.devid, d.pdev, &mut a);
    let VmMem { npt, io, .. } = &mut *mem;
    if let Some(io) = io.as_mut() {
        let mut removed = false;
        let mut k = 0;
        while k < io.bars.len() {
            match io.bars.get(k).copied() {
                Some((devid, _, gpa, len)) if devid == d.devid => {
                    npt.unmap(gpa, len);
                    let _ = io.bars.remove(k);
                    removed = true;
                }
                _ => k += 1,
            }
        }
        if removed {
            vm.flush_npt();
        }
        io.devices = io.devices.saturating_sub(1);
    }
    if mem.io.as_ref().is_some_and(|io| io.devices == 0) {
        if let Some(io) = mem.io.take() {
            // No DTE points at the domain any more (blocked and flushed above).
            io.dom.release(&mut u.hw.lock().domain_ids);
        }
    }
    drop(mem);
    // SAFETY: live device; with the device lock held (remove) the _locked variant, else the
    // try variant (never waits for a lock the driver core may hold while calling us).
    let r = unsafe {
        if device_locked {
            bindings::pci_reset_function_locked(d.pdev)
        } else {
            bindings::pci_try_reset_function(d.pdev)
        }
    };
    if r != 0 {
        // edu in QEMU has no FLR or PM reset; log and go on (DMA is blocked regardless).
        pr_info!("amdvi: device {:#06x}: no function reset ({})\n", d.devid, r);
    }
    // SAFETY: balances `pci_request_regions` and `pci_enable_device` in `assign`.
    unsafe {
        bindings::pci_release_regions(d.pdev);
        bindings::pci_disable_device(d.pdev);
    }
    pr_info!("amdvi: device {:#06x} released from VM {}\n", d.devid, vm.id);
}

/// Frees the INTx route (`Intx::drop`), keeping its count; INTx stays disabled at the device.
fn intx_disable(a: &mut Assigned) {
    if let Some(i) = a.intx.take() {
        a.interrupts_before += i.ctx.count.load(Ordering::Relaxed);
        drop(i);
    }
}

/// Frees the device's host MSI. Its remapping entry is cleared first: once free_irq returns,
/// the host vector may go to another device, which the assigned device must not reach.
fn msi_disable(u: &Unit, devid: u16, pdev: *mut bindings::pci_dev, a: &mut Assigned) {
    if let (Some((index, _)), Some(t)) = (a.irte.take(), a.irt.as_mut()) {
        if let Err(e) = u.hw.lock().set_irte(devid, t, index, 0) {
            pr_err!("amdvi: device {:#06x}: remapping entry {:#x} not cleared: {:?}\n", devid, index, e);
        }
    }
    if let Some(ctx) = a.irq.take() {
        a.interrupts_before += ctx.count.load(Ordering::Relaxed);
        // SAFETY: `ctx` is what `msi_enable` registered for this device; free_irq waits for a
        // running handler, after which `ctx` can be dropped.
        unsafe { ffi::rsvm_shim_pci_msi_disable(pdev.cast(), &*ctx as *const IrqCtx as *mut c_void) };
        // Disabling MSI re-enables INTx at the device (pci_intx_for_msi): INTx is not routed
        // (exclusive with MSI), so mask it again.
        // SAFETY: live device.
        unsafe { bindings::pci_intx(pdev, 0) };
    }
}

fn assign(u: &Unit, vm: &Arc<Vm>, sel: &RsvmPciDevice) -> Result {
    let mut reg = u.assign.lock();
    let d = reg.find(sel)?;
    if let Some(a) = &d.owner {
        return Err(if Arc::ptr_eq(&a.vm, vm) { EEXIST } else { EBUSY });
    }
    let (devid, pdev) = (d.devid, d.pdev);
    // VFIO's group rule for the devices sharing a DTE through an IVRS alias: each must be
    // rsvm's (or have no driver), and none another VM's.
    let me: *const Vm = &**vm;
    let sharers = ivrs::dte_sharers(&u.aliases, devid).filter_map(|x| reg.holder(u, x, None));
    match ivrs::may_assign(&me, sharers) {
        Ok(()) => {}
        Err(AliasConflict::Host) => return Err(EPERM),
        Err(AliasConflict::OtherVm) => return Err(EBUSY),
    }
    // PCI-side aliases (behind a PCIe-to-PCI bridge): DTEs rsvm does not program.
    // SAFETY: live device (reference held).
    if unsafe { ffi::rsvm_shim_pci_has_dma_alias(pdev.cast()) } != 0 {
        // (The kernel crate names ENOTSUPP, which is not a userspace errno.)
        return Err(Error::from_errno(-(bindings::EOPNOTSUPP as i32)));
    }
    let d = reg.find(sel)?;
    // SAFETY: live device (reference held); balanced in `release` or below.
    kernel::error::to_result(unsafe { bindings::pci_enable_device(d.pdev) })?;
    // SAFETY: as above; the name is static.
    let r = kernel::error::to_result(unsafe { bindings::pci_request_regions(d.pdev, c"rsvm".as_ptr().cast()) });
    if let Err(e) = r {
        // SAFETY: enabled just above.
        unsafe { bindings::pci_disable_device(d.pdev) };
        return Err(if e == EBUSY { EBUSY } else { e });
    }
    let undo = || {
        // SAFETY: both taken above.
        unsafe {
            bindings::pci_release_regions(pdev);
            bindings::pci_disable_device(pdev);
        }
    };
    let mut mem = vm.mem.lock();
    if mem.io.is_none() {
        let r = new_io_space(u, &mut mem);
        match r {
            Ok(io) => mem.io = Some(io),
            Err(e) => {
                drop(mem);
                undo();
                return Err(e);
            }
        }
    }
    let Some(io) = mem.io.as_mut() else {
        undo();
        return Err(EINVAL);
    };
    let (id, root, levels) = (io.dom.id, io.dom.pt.root(), io.dom.pt.levels());
    // Its DTE and its IVRS alias's (the check above: every other user of the alias is this
    // VM's or rsvm's unassigned device, which then shares the domain), translated through the
    // domain and, with interrupt remapping, its MSIs through the device's table (an MSI
    // carries the requester id its DMA does).
    let mut dte = Dte::translated(id, root, levels as u8, true, true);
    let mut table = None;
    let mut r = Ok(());
    if u.intremap {
        match Irt::new() {
            Ok(t) => {
                dte = dte.with_intremap(t.phys(), irt::LEN_LOG2);
                table = Some(t);
            }
            Err(e) => r = Err(e),
        }
    }
    if r.is_ok() {
        for rid in ivrs::requester_ids(&u.aliases, devid) {
            // (The guard is dropped before the error path locks `hw` again.)
            r = u.hw.lock().set_dte(rid, dte, &[0, id]);
            if r.is_err() {
                break;
            }
        }
    }
    if let Err(e) = r {
        // Back to what the ids were (blocked, or a sibling's of this VM: still translated).
        let _ = sync_dtes(u, &reg, devid, None, &[0, id]);
        // No DTE points at the table any more: it can go.
        drop(table);
        if io.devices == 0 {
            if let Some(io) = mem.io.take() {
                io.dom.release(&mut u.hw.lock().domain_ids);
            }
        }
        drop(mem);
        undo();
        return Err(e);
    }
    io.devices += 1;
    // INTx stays disabled at the device until the VMM routes it (`RSVM_DEVICE_INTX`): an
    // unrouted interrupt on a possibly shared line would have no handler.
    // SAFETY: live, enabled device.
    unsafe { bindings::pci_intx(d.pdev, 0) };
    d.guest_intx_disable = false;
    d.owner = Some(Assigned {
        vm: vm.clone(),
        irq: None,
        intx: None,
        interrupts_before: 0,
        eventfd: None,
        irt: table,
        irte: None,
        irq_moves: 0,
    });
    d.events.clear();
    (d.io_page_faults, d.total_events, d.lost) = (0, 0, 0);
    pr_info!("amdvi: device {:#06x} assigned to VM {} (domain {})\n", d.devid, vm.id, id);
    Ok(())
}

/// A VM's first assignment: a domain with all of its memory mapped.
fn new_io_space(u: &Unit, mem: &mut VmMem) -> Result<IoSpace> {
    let levels = IO_LEVELS.min(regs::efr::max_levels(u.hw.lock().efr));
    let dom = Domain::new(&mut u.hw.lock().domain_ids, levels)?;
    let mut io = IoSpace { dom, devices: 0, bars: KVec::new() };
    let mut r = Ok(());
    for s in mem.slots.iter_mut() {
        r = map_slot(&mut io.dom, s);
        if r.is_err() {
            break;
        }
    }
    match r {
        Ok(()) => Ok(io),
        Err(e) => {
            // Never attached to a DTE: nothing cached, the tables go with the domain.
            io.dom.release(&mut u.hw.lock().domain_ids);
            Err(if e == EINVAL { EINVAL } else { e })
        }
    }
}

fn map_bar(u: &Unit, vm: &Vm, b: &RsvmDeviceBar) -> Result {
    if b.flags != 0 || b.bar as usize >= NR_BARS || b.gpa % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &b.dev)?;
    let (mut start, mut len) = (0u64, 0u64);
    // SAFETY: live device (reference held); out pointers are ours.
    kernel::error::to_result(unsafe { ffi::rsvm_shim_pci_bar(d.pdev.cast(), b.bar, &mut start, &mut len) })?;
    if start % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
        // A BAR smaller than a page would expose its neighbours.
        return Err(EINVAL);
    }
    let end = b.gpa.checked_add(len).ok_or(EINVAL)?;
    let mut mem = vm.mem.lock();
    if end > mem.npt.gpa_limit() || mem.slots.overlap_any(b.gpa, len / PAGE_SIZE) {
        return Err(if end > mem.npt.gpa_limit() { EINVAL } else { EEXIST });
    }
    let VmMem { npt, io, .. } = &mut *mem;
    let io = io.as_mut().ok_or(ENOENT)?;
    if io.bar_overlap(b.gpa, len, Some((d.devid, b.bar))) {
        return Err(EEXIST);
    }
    io.bars.reserve(1, GFP_KERNEL)?;
    if let Some(k) = io.bars.iter().position(|&(dv, bar, _, _)| dv == d.devid && bar == b.bar) {
        if let Some((_, _, g, l)) = io.bars.get(k).copied() {
            npt.unmap(g, l);
        }
        let _ = io.bars.remove(k);
        vm.flush_npt();
    }
    let r = map_mmio(npt, b.gpa, start, len);
    if r.is_err() {
        npt.unmap(b.gpa, len);
        vm.flush_npt();
        return r;
    }
    io.bars.push((d.devid, b.bar, b.gpa, len), GFP_KERNEL)?;
    Ok(())
}

fn map_mmio(npt: &mut Npt, gpa: u64, hpa: u64, len: u64) -> Result {
    let mut off = 0;
    while off < len {
        npt.map_4k(gpa + off, hpa + off, Access::DeviceMmio)?;
        off += PAGE_SIZE;
    }
    Ok(())
}

/// Bits of the type-0 header a guest may write (by config offset); everything else is
/// dropped: BARs, the ROM BAR, the capability pointer, and every capability (MSI and MSI-X
/// are the VMM's to emulate and route with `RSVM_DEVICE_MSI`; PM control would let the guest
/// change the power state; PCIe device control could start an FLR). Documentation/amdvi.md.
fn writable_mask(offset: u32) -> u8 {
    match offset {
        // Command: Memory Space, Bus Master (the device is assigned: its DMA is confined to
        // the VM's domain), and Interrupt Disable (bit 10).
        0x04 => 0x06,
        0x05 => 0x04,
        // Cache line size, latency timer, interrupt line (scratch registers).
        0x0c | 0x0d | 0x3c => 0xff,
        _ => 0,
    }
}

fn config(u: &Unit, vm: &Vm, c: &mut RsvmDeviceConfig) -> Result {
    // (`size` is checked before it divides; no addition can overflow.)
    if c.write > 1 || !matches!(c.size, 1 | 2 | 4) || c.offset % c.size != 0 || c.offset > 256 - c.size {
        return Err(EINVAL);
    }
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &c.dev)?;
    let cur = read_config(d.pdev, c.offset, c.size)?;
    // The access touches the command register's high byte (Interrupt Disable, bit 10, is
    // bit `intx_bit` of the access) if it covers config byte 5.
    let intx_bit = (c.offset <= 5 && 5 < c.offset + c.size).then(|| 8 * (5 - c.offset) + 2);
    if c.write == 0 {
        // BARs and the ROM BAR read as 0: the VMM emulates them (their host addresses are
        // not the guest's business).
        let hidden = (0x10..0x28).contains(&c.offset) || (0x30..0x34).contains(&c.offset);
        c.value = if hidden { 0 } else { cur };
        if let Some(b) = intx_bit {
            // Interrupt Disable reads as the guest wrote it, not as rsvm's mask has it.
            c.value = (c.value & !(1 << b)) | (u32::from(d.guest_intx_disable) << b);
        }
        return Ok(());
    }
    let mut mask = 0u32;
    for k in 0..c.size {
        mask |= u32::from(writable_mask(c.offset + k)) << (8 * k);
    }
    if mask == 0 {
        return Ok(());
    }
    if (4..6).contains(&c.offset) {
        // The command register (the only writable bits of config dword 1; the status
        // register's bits are read-only or write-1-to-clear and are not written back).
        // Interrupt Disable is virtualised: the device gets the guest's bit ORed with
        // rsvm's mask (INTx not routed, or delivered and not yet EOIed), so the guest cannot
        // unmask INTx behind the module's back; the write is ordered against the INTx hard
        // handler, which sets the bit, by the handler's lock (pcidrv.c).
        let sh = 8 * (c.offset - 4);
        let m = (mask << sh) & 0xffff;
        let cmd = (read_config(d.pdev, 4, 2)? & !m) | ((c.value << sh) & m);
        if m & 0x400 != 0 {
            d.guest_intx_disable = cmd & 0x400 != 0;
        }
        let cmd = (cmd & !0x400) | if d.guest_intx_disable { 0x400 } else { 0 };
        let x = d.owner.as_ref().and_then(|a| a.intx.as_ref()).map_or(core::ptr::null_mut(), |i| i.x);
        // SAFETY: live device (reference held); `x` is null or this device's live INTx state
        // (freed only under the registry lock, which we hold).
        return kernel::error::to_result(unsafe { ffi::rsvm_shim_intx_cmd_write(d.pdev.cast(), x, cmd as u16) });
    }
    let v = (cur & !mask) | (c.value & mask);
    write_config(d.pdev, c.offset, c.size, v)
}

fn read_config(pdev: *mut bindings::pci_dev, off: u32, size: u32) -> Result<u32> {
    let off = off as c_int;
    // SAFETY (all three): live device (reference held); the out pointer is ours. The user_
    // variants honour the kernel's config-access blocking (during a reset).
    let r = unsafe {
        match size {
            1 => {
                let mut v = 0u8;
                let r = bindings::pci_user_read_config_byte(pdev, off, &mut v);
                (r, u32::from(v))
            }
            2 => {
                let mut v = 0u16;
                let r = bindings::pci_user_read_config_word(pdev, off, &mut v);
                (r, u32::from(v))
            }
            _ => {
                let mut v = 0u32;
                let r = bindings::pci_user_read_config_dword(pdev, off, &mut v);
                (r, v)
            }
        }
    };
    kernel::error::to_result(r.0)?;
    Ok(r.1)
}

fn write_config(pdev: *mut bindings::pci_dev, off: u32, size: u32, v: u32) -> Result {
    let off = off as c_int;
    // SAFETY: live device (reference held).
    let r = unsafe {
        match size {
            1 => bindings::pci_user_write_config_byte(pdev, off, v as u8),
            2 => bindings::pci_user_write_config_word(pdev, off, v as u16),
            _ => bindings::pci_user_write_config_dword(pdev, off, v),
        }
    };
    kernel::error::to_result(r)
}

/// Checks an `RSVM_DEVICE_MSI`/`RSVM_DEVICE_INTX` argument: known flags, and when on, an
/// APIC address and a VM with the in-kernel APIC.
fn check_msi(vm: &Vm, m: &RsvmDeviceMsi) -> Result {
    if m.flags & !1 != 0 || (m.flags & 1 != 0 && (m.address_hi != 0 || m.address_lo >> 20 != 0xfee)) {
        return Err(EINVAL);
    }
    if m.flags & 1 != 0 && !vm.split_irqchip.load(Ordering::SeqCst) {
        // Only the in-kernel APIC can take the interrupt.
        return Err(EINVAL);
    }
    Ok(())
}

fn set_msi(u: &Unit, vm: &Arc<Vm>, m: &RsvmDeviceMsi) -> Result {
    check_msi(vm, m)?;
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &m.dev)?;
    let (pdev, devid) = (d.pdev, d.devid);
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if m.flags & 1 == 0 {
        msi_disable(u, devid, pdev, a);
        return Ok(());
    }
    if a.intx.is_some() {
        // INTx and MSI are exclusive (PCI: MSI Enable disables INTx).
        return Err(EBUSY);
    }
    if let Some(ctx) = a.irq.as_ref() {
        ctx.address_lo.store(m.address_lo, Ordering::Release);
        ctx.data.store(m.data, Ordering::Release);
        return Ok(());
    }
    let ctx = IrqCtx::new(vm, m, false)?;
    // SAFETY: live, enabled device; `ctx` is pinned and outlives the registration (freed
    // only after `msi_disable`).
    kernel::error::to_result(unsafe { ffi::rsvm_shim_pci_msi_enable(pdev.cast(), &*ctx as *const IrqCtx as *mut c_void) })?;
    a.irq = Some(ctx);
    if let Err(e) = remap_msi(u, devid, pdev, a).map(|_| ()) {
        msi_disable(u, devid, pdev, a);
        return Err(e);
    }
    Ok(())
}

/// The event-log poll (shim.c's delayed work, every 100 ms): drains the log and files the
/// records with their devices (signalling their eventfds). Polls only while a device is
/// bound: only DTEs rsvm made valid make the unit log device events (the debugfs test
/// domain's are drained when debugfs is read), so a host with `amdvi=1` and nothing
/// assigned is not woken 10 times a second. Returns whether to poll again.
#[no_mangle]
extern "C" fn rsvm_amdvi_poll() -> bool {
    let Ok(u) = unit() else { return false };
    let mut reg = u.assign.lock();
    if reg.devs.is_empty() {
        return false;
    }
    route_events(u, &mut reg);
    true
}

/// Stops the event-log poll: neither pending nor running afterwards. The caller makes sure
/// nothing starts it again (the PCI driver is unregistered: no more probes).
pub(crate) fn poll_stop() {
    // SAFETY: cancel_delayed_work_sync on the static work; not called from the work itself.
    unsafe { ffi::rsvm_shim_evt_poll_stop() };
}

/// `RSVM_DEVICE_INTX`: routes the device's INTx to the guest as message `m`, level-triggered
/// (on again: reroutes), or frees it (off). Documentation/amdvi.md, "INTx".
fn set_intx(u: &Unit, vm: &Arc<Vm>, m: &RsvmDeviceMsi) -> Result {
    check_msi(vm, m)?;
    if m.flags & 1 != 0 && !matches!(Message::from_msi(m.address_lo, m.data).delivery, DM_FIXED | DM_LOWEST) {
        // Level semantics need an EOI: only fixed and lowest-priority messages have one.
        return Err(EINVAL);
    }
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &m.dev)?;
    let (pdev, guest_disabled) = (d.pdev, d.guest_intx_disable);
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if m.flags & 1 == 0 {
        intx_disable(a);
        return Ok(());
    }
    if a.irq.is_some() {
        return Err(EBUSY);
    }
    if let Some(i) = a.intx.as_ref() {
        i.ctx.address_lo.store(m.address_lo, Ordering::Release);
        i.ctx.data.store(m.data, Ordering::Release);
        // An interrupt delivered under the old route may never see its EOI matched: treat
        // the reroute as that EOI (unmask, or deliver again under the new route).
        intx_resample(i);
        return Ok(());
    }
    a.intx = Some(Intx::enable(pdev, vm, m, guest_disabled)?);
    Ok(())
}

/// The guest EOIed an INTx's vector (or the route changed): rsvm's mask ends; if the device
/// still asserts INTx it stays masked and the interrupt is delivered again.
fn intx_resample(i: &Intx) {
    // SAFETY: `i.x` is live while `i` is (type invariant).
    if unsafe { ffi::rsvm_shim_intx_eoi(i.x) } != 0 {
        i.ctx.deliver();
    }
}

/// vCPU `route` of `vm` EOIed level-triggered `vector` (vcpu.rs, `Effect::LevelEoi`): every
/// INTx of the VM's devices routed to that vector and addressing that vCPU is resampled.
pub(crate) fn intx_eoi(vm: &Vm, vector: u8, route: &Route) {
    let Ok(u) = unit() else { return };
    let reg = u.assign.lock();
    for d in reg.devs.iter() {
        let Some(a) = d.owner.as_ref().filter(|a| core::ptr::eq(&*a.vm, vm)) else { continue };
        let Some(i) = a.intx.as_ref() else { continue };
        let m = i.ctx.message();
        if m.vector == vector && route.matches(&m, false) {
            intx_resample(i);
        }
    }
}

/// Copies the message Linux programmed for the device's host IRQ into its remapping entry
/// (index = data[10:0], §2.2.5.1): only that vector at that destination gets through.
/// Until this is done an MSI of the device is aborted (it only comes when the guest asks).
/// Returns whether the entry changed (index or content).
fn remap_msi(u: &Unit, devid: u16, pdev: *mut bindings::pci_dev, a: &mut Assigned) -> Result<bool> {
    let Some(t) = a.irt.as_mut() else { return Ok(false) };
    let (mut lo, mut hi, mut data) = (0u32, 0u32, 0u32);
    // SAFETY: live device with its MSI vector allocated; out pointers are ours.
    let irq = unsafe { ffi::rsvm_shim_pci_msi_msg(pdev.cast(), &mut lo, &mut hi, &mut data) };
    kernel::error::to_result(irq)?;
    let (index, e) = irt::entry_for(hi, lo, data)?;
    if a.irte == Some((index, irq)) && t.get(index) == e {
        return Ok(false);
    }
    // The new entry first, then the old one cleared: one of them matches what the device
    // sends at every moment.
    u.hw.lock().set_irte(devid, t, index, e)?;
    if let Some((old, _)) = a.irte {
        if old != index {
            u.hw.lock().set_irte(devid, t, old, 0)?;
        }
    }
    a.irte = Some((index, irq));
    Ok(true)
}

/// A CPU went offline (the work queued by pcidrv.c's CPUHP_BP_PREPARE_DYN teardown, after
/// Linux moved the IRQs off it and rewrote their MSI messages): every assigned device's
/// remapping entry is rewritten from its current message. An MSI the device sent between
/// the move and this rewrite was aborted, so the guest gets one interrupt for it: guests
/// tolerate a spurious MSI (drivers read their status), a lost one can hang a driver.
#[no_mangle]
extern "C" fn rsvm_amdvi_irqs_moved() {
    let Ok(u) = unit() else { return };
    let mut reg = u.assign.lock();
    for d in reg.devs.iter_mut() {
        let (devid, pdev) = (d.devid, d.pdev);
        let Some(a) = d.owner.as_mut() else { continue };
        if a.irte.is_none() {
            continue;
        }
        match remap_msi(u, devid, pdev, a) {
            Ok(false) => {}
            Ok(true) => {
                a.irq_moves += 1;
                pr_info!("amdvi: device {:#06x}: host IRQ moved by CPU hot-unplug, remapping entry rewritten\n", devid);
                if let Some(c) = a.irq.as_ref() {
                    let m = Message::from_msi(c.address_lo.load(Ordering::Acquire), c.data.load(Ordering::Acquire));
                    c.vm.deliver(&m, None);
                }
            }
            // The old entry stays: the device's MSIs are aborted until MSI is set again.
            Err(e) => pr_err!("amdvi: device {:#06x}: remapping entry not updated after an IRQ move: {:?}\n", devid, e),
        }
    }
}

/// Takes the unit's pending event records and files each with its device.
fn route_events(u: &Unit, reg: &mut Registry) {
    let mut hw = u.hw.lock();
    hw.drain_events();
    let pending = core::mem::take(&mut hw.pending_events);
    drop(hw);
    for e in pending.iter() {
        // The record names the requester id: the device's own, or else its IVRS alias
        // (shared by several devices: the first bound one gets it).
        let i = reg.devs.iter().position(|d| d.devid == e.devid())
            .or_else(|| reg.devs.iter().position(|d| ivrs::ivrs_alias(&u.aliases, d.devid) == Some(e.devid())));
        if let Some(d) = i.and_then(|i| reg.devs.get_mut(i)) {
            d.total_events += 1;
            if e.code() == EventCode::IoPageFault {
                d.io_page_faults += 1;
            }
            if d.events.len() >= EVENT_QUEUE || d.events.push(e.0, GFP_ATOMIC).is_err() {
                d.lost += 1;
            }
            // Also for a lost record: the VMM reads `lost` in RSVM_DEVICE_EVENTS.
            if let Some(efd) = d.owner.as_ref().and_then(|a| a.eventfd.as_ref()) {
                efd.signal();
            }
        }
    }
}

fn events(u: &Unit, vm: &Vm, ev: &mut RsvmDeviceEvents) -> Result {
    if ev.pad != 0 {
        return Err(EINVAL);
    }
    let mut reg = u.assign.lock();
    reg.owned(vm, &ev.dev)?;
    route_events(u, &mut reg);
    let d = reg.owned(vm, &ev.dev)?;
    let n = (ev.nr as usize).min(d.events.len());
    if n > 0 {
        let mut w = UserSlice::new(UserPtr::from_addr(ev.records as usize), n * 16).writer();
        for r in d.events.iter().take(n) {
            w.write(&r[0])?;
            w.write(&r[1])?;
        }
        // Taken only once written.
        for _ in 0..n {
            let _ = d.events.remove(0);
        }
    }
    ev.nr = n as u32;
    ev.io_page_faults = d.io_page_faults;
    ev.events = d.total_events;
    ev.lost = d.lost;
    ev.interrupts = d.owner.as_ref().map_or(0, |a| {
        a.interrupts_before
            + a.irq.as_ref().map_or(0, |c| c.count.load(Ordering::Relaxed))
            + a.intx.as_ref().map_or(0, |i| i.ctx.count.load(Ordering::Relaxed))
    });
    Ok(())
}

/// `RSVM_DEVICE_EVENTFD`: registers (`fd` >= 0) or unregisters (`fd` = -1) the eventfd of a
/// device the VM owns. A registration replaces the previous one; if records are already
/// queued, the new eventfd is signalled once so none waits unnoticed.
fn set_eventfd(u: &Unit, vm: &Vm, r: &RsvmDeviceEventfd) -> Result {
    sel_devid(&r.dev)?;
    if r.flags != 0 || r.fd < -1 {
        return Err(if r.flags != 0 { EINVAL } else { EBADF });
    }
    // Taken before the registry lock (it looks up the caller's file table); dropped (put)
    // on every error below.
    let efd = if r.fd >= 0 { Some(ffi::EventFd::from_fd(r.fd)?) } else { None };
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &r.dev)?;
    let queued = !d.events.is_empty();
    let Some(a) = d.owner.as_mut() else { return Err(ENOENT) };
    if queued {
        if let Some(e) = efd.as_ref() {
            e.signal();
        }
    }
    // The previous eventfd, if any, is put here.
    a.eventfd = efd;
    Ok(())
}

/// rsvm's device-assignment ioctls on a VM fd; `None` if `cmd` is not one of them.
pub(crate) fn ioctl(vm: &Arc<Vm>, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let rd = |n: usize| UserSlice::new(UserPtr::from_addr(arg), n);
    let r = match cmd {
        RSVM_ASSIGN_DEVICE | RSVM_RELEASE_DEVICE => (|| {
            let sel: RsvmPciDevice = rd(size_of::<RsvmPciDevice>()).reader().read()?;
            sel_devid(&sel)?;
            let u = unit()?;
            if cmd == RSVM_ASSIGN_DEVICE {
                assign(u, vm, &sel)
            } else {
                let mut reg = u.assign.lock();
                let devid = reg.owned(vm, &sel)?.devid;
                if let Some(i) = reg.devs.iter().position(|d| d.devid == devid) {
                    release(u, &mut reg, i, false);
                }
                Ok(())
            }
        })(),
        RSVM_MAP_DEVICE_BAR => (|| {
            let b: RsvmDeviceBar = rd(size_of::<RsvmDeviceBar>()).reader().read()?;
            map_bar(unit()?, vm, &b)
        })(),
        RSVM_DEVICE_CONFIG => (|| {
            let (mut r, mut w) = rd(size_of::<RsvmDeviceConfig>()).reader_writer();
            let mut c: RsvmDeviceConfig = r.read()?;
            config(unit()?, vm, &mut c)?;
            w.write(&c)
        })(),
        RSVM_DEVICE_MSI => (|| {
            let m: RsvmDeviceMsi = rd(size_of::<RsvmDeviceMsi>()).reader().read()?;
            set_msi(unit()?, vm, &m)
        })(),
        RSVM_DEVICE_EVENTFD => (|| {
            let e: RsvmDeviceEventfd = rd(size_of::<RsvmDeviceEventfd>()).reader().read()?;
            set_eventfd(unit()?, vm, &e)
        })(),
        RSVM_DEVICE_INTX => (|| {
            let m: RsvmDeviceMsi = rd(size_of::<RsvmDeviceMsi>()).reader().read()?;
            set_intx(unit()?, vm, &m)
        })(),
        RSVM_DEVICE_EVENTS => (|| {
            let (mut r, mut w) = rd(size_of::<RsvmDeviceEvents>()).reader_writer();
            let mut e: RsvmDeviceEvents = r.read()?;
            events(unit()?, vm, &mut e)?;
            w.write(&e)
        })(),
        _ => return None,
    };
    Some(r.map(|()| 0))
}

/// The VM fd is being closed (or its process died): every device it holds is released.
pub(crate) fn release_vm(vm: &Vm) {
    let Ok(u) = unit() else { return };
    let mut reg = u.assign.lock();
    for i in 0..reg.devs.len() {
        if reg.devs.get(i).is_some_and(|d| d.owner.as_ref().is_some_and(|a| core::ptr::eq(&*a.vm, vm))) {
            release(u, &mut reg, i, false);
        }
    }
}
