// SPDX-License-Identifier: GPL-2.0

//! The IOMMU unit rsvm drives: what the IVRS says about it ([`UnitInfo`]), its hardware
//! state behind a mutex ([`Hw`]: registers, device table, command buffer, event log, domain
//! ids) with the command sequences the rest of the driver uses (DTE and remapping-entry
//! writes with their invalidations, domain flushes, the event drain), and [`Unit`], which
//! holds both with the registry of devices bound to rsvm.
//!
//! Below `mod.rs` (probe, debugfs) and `assign/` (which use it); it names neither. The
//! registry's type is a parameter (`assign::Registry`, see `assign::Unit`) so that this
//! file does not depend on `assign`.

use super::cmdbuf::{CmdBuf, Command};
use super::devtab::{DevTable, Dte};
use super::dmatest::TestDomain;
use super::evtlog::{self, EvtLog};
use super::irt;
use super::ivrs;
use super::pgtable::DomainIds;
use super::regs::{self, Control, ControlBit, Regs, SavedRegs};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{prelude::*, sync::Mutex};

/// What the IVRS says about the unit rsvm drives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnitInfo {
    pub(crate) ivhd_type: u8,
    pub(crate) ivhd_flags: u8,
    pub(crate) devid: u16,
    pub(crate) cap_offset: u16,
    pub(crate) mmio_base: u64,
    pub(crate) segment: u16,
    pub(crate) last_devid: u16,
    pub(crate) units_in_ivrs: usize,
    /// IVinfo: the address sizes the platform supports (§5.2.1).
    pub(crate) iv_info: u32,
}

/// A set of PCI requester ids (one bit each, 8 KiB).
pub(crate) struct DevidSet(KVVec<u64>);

impl DevidSet {
    /// The ids for which `f` holds.
    pub(crate) fn from_fn(f: impl Fn(u16) -> bool) -> Result<Self> {
        let mut v = KVVec::with_capacity(1024, GFP_KERNEL)?;
        for w in 0..1024u32 {
            let mut bits = 0u64;
            for b in 0..64u32 {
                if f((w * 64 + b) as u16) {
                    bits |= 1 << b;
                }
            }
            v.push_within_capacity(bits).map_err(|_| ENOMEM)?;
        }
        Ok(Self(v))
    }

    pub(crate) fn contains(&self, id: u16) -> bool {
        self.0.get(usize::from(id) / 64).is_some_and(|w| w >> (id % 64) & 1 != 0)
    }
}

/// Event records kept between a drain and the VMMs' `RSVM_DEVICE_EVENTS`.
const PENDING_EVENTS: usize = 256;

/// The hardware state, behind the unit's mutex: one command sequence at a time.
pub(super) struct Hw {
    pub(super) regs: Regs,
    pub(super) saved: SavedRegs,
    pub(super) devtab: DevTable,
    pub(super) cmdbuf: CmdBuf,
    pub(super) evtlog: EvtLog,
    pub(super) efr: u64,
    pub(super) domain_ids: DomainIds,
    /// The debugfs-driven test domain and the device ids whose DTE points at it.
    pub(super) test: Option<TestDomain>,
    pub(super) test_devids: KVec<u16>,
    /// Event records drained but not yet filed with their device (`assign::events::route_events`).
    pub(super) pending_events: KVec<evtlog::Event>,
    /// A device id whose DTE debugfs shows (`dte <devid>`), for the tests.
    pub(super) peek: Option<u16>,
}

impl Hw {
    /// The enable sequence (§3.3, and Linux's `early_enable_iommu`): unit off, control
    /// flags from the IVHD, tables and buffers with their heads and tails at 0, then
    /// CmdBufEn, EventLogEn and IommuEn; then the caches are flushed.
    pub(super) fn enable(&mut self, info: &UnitInfo) -> Result {
        let r = &self.regs;
        let off = Control::from_bits(self.saved.control)
            .with(ControlBit::IommuEn, false)
            .with(ControlBit::CmdBufEn, false)
            .with(ControlBit::EventLogEn, false)
            .with(ControlBit::EventIntEn, false)
            .with(ControlBit::ComWaitIntEn, false)
            .with(ControlBit::PprLogEn, false)
            .with(ControlBit::PprIntEn, false)
            .with(ControlBit::PprEn, false)
            .with(ControlBit::GtEn, false)
            .with(ControlBit::GaEn, false)
            .with(ControlBit::GaLogEn, false)
            .with(ControlBit::GaIntEn, false);
        r.set_control(off);
        let f = info.ivhd_flags;
        let c = off
            .with(ControlBit::HtTunEn, f & ivrs::ivhd_flag::HT_TUN_EN != 0)
            .with(ControlBit::PassPw, f & ivrs::ivhd_flag::PASS_PW != 0)
            .with(ControlBit::ResPassPw, f & ivrs::ivhd_flag::RES_PASS_PW != 0)
            .with(ControlBit::Isoc, f & ivrs::ivhd_flag::ISOC != 0)
            .with(ControlBit::Coherent, true);
        let c = Control::from_bits(
            (c.bits() & !regs::CONTROL_INV_TIMEOUT_MASK) | regs::CONTROL_INV_TIMEOUT_1S,
        );
        r.set_control(c);
        // No exclusion range while rsvm owns the unit (its DMA would bypass the tables).
        r.set_excl_base(0);
        r.set_excl_limit(0);
        r.set_dev_tab_base(self.devtab.base_reg());
        r.set_cmd_buf_base(self.cmdbuf.base_reg());
        r.set_cmd_head(0);
        r.set_cmd_tail(0);
        self.cmdbuf.reset();
        r.set_evt_log_base(self.evtlog.base_reg());
        r.set_evt_head(0);
        r.set_evt_tail(0);
        self.evtlog.reset();
        let c = c | ControlBit::CmdBufEn;
        r.set_control(c);
        let c = c | ControlBit::EventLogEn;
        r.set_control(c);
        r.set_control(c | ControlBit::IommuEn);
        self.flush_all()
    }

    /// Drops everything the unit may have cached: INVALIDATE_IOMMU_ALL where supported,
    /// else every DTE of the table (no domain is in use yet).
    pub(super) fn flush_all(&mut self) -> Result {
        if self.efr & regs::efr::IA_SUP != 0 {
            self.cmdbuf.submit(&self.regs, Command::invalidate_all())?;
        } else {
            for id in 0..self.devtab.entries() {
                let id = u16::try_from(id).map_err(|_| EINVAL)?;
                self.cmdbuf.submit(&self.regs, Command::invalidate_devtab_entry(id))?;
            }
        }
        self.cmdbuf.wait(&self.regs)
    }
}

impl Hw {
    /// Writes the DTE of `devid` and makes the unit forget what it cached for it:
    /// INVALIDATE_DEVTAB_ENTRY, then INVALIDATE_IOMMU_PAGES for `domain` (the domain the
    /// entry used or now uses: QEMU ignores the former), then COMPLETION_WAIT.
    /// When the interrupt fields (third quadword) change, INVALIDATE_INTERRUPT_TABLE too
    /// (§2.4.5): the unit may have cached entries of the old table.
    pub(super) fn set_dte(&mut self, devid: u16, dte: Dte, domains: &[u16]) -> Result {
        let old = self.devtab.get(devid)?;
        self.devtab.set(devid, dte)?;
        self.cmdbuf.submit(&self.regs, Command::invalidate_devtab_entry(devid))?;
        if old.0[2] != dte.0[2] {
            self.cmdbuf.submit(&self.regs, Command::invalidate_interrupt_table(devid))?;
        }
        for &d in domains {
            self.cmdbuf.submit(&self.regs, Command::invalidate_domain(d))?;
        }
        self.cmdbuf.wait(&self.regs)
    }

    /// Writes entry `index` of `devid`'s interrupt remapping table, then
    /// INVALIDATE_INTERRUPT_TABLE (§2.4.5; QEMU 7.2 caches nothing and ignores it, hardware
    /// may hold the old entry until then) and COMPLETION_WAIT.
    pub(super) fn set_irte(&mut self, devid: u16, table: &mut irt::Irt, index: usize, e: u32) -> Result {
        table.set(index, e)?;
        self.cmdbuf.submit(&self.regs, Command::invalidate_interrupt_table(devid))?;
        self.cmdbuf.wait(&self.regs)
    }

    /// INVALIDATE_IOMMU_PAGES for every page of domain `id`, then COMPLETION_WAIT.
    pub(super) fn flush_domain(&mut self, id: u16) -> Result {
        self.cmdbuf.submit(&self.regs, Command::invalidate_domain(id))?;
        self.cmdbuf.wait(&self.regs)
    }

    /// Drains the event log; records are kept (at most `PENDING_EVENTS`) for the devices'
    /// VMMs (`RSVM_DEVICE_EVENTS`), the rest only counted and logged.
    pub(super) fn drain_events(&mut self) -> u32 {
        let q = &mut self.pending_events;
        self.evtlog.drain(&self.regs, |e| {
            if q.len() < PENDING_EVENTS {
                let _ = q.push(e, GFP_ATOMIC);
            }
        })
    }

    pub(super) fn test_domain(&mut self) -> Result<&mut TestDomain> {
        self.test.as_mut().ok_or(ENOENT)
    }

    /// Points the DTE of `devid` at the test domain (`translate`) or blocks its DMA.
    pub(super) fn test_attach(&mut self, devid: u16, translate: bool) -> Result {
        let t = self.test_domain()?;
        let (id, root, levels) = (t.dom.id, t.dom.pt.root(), t.dom.pt.levels());
        let dte = if translate {
            Dte::translated(id, root, levels as u8, true, true)
        } else {
            Dte::blocked(id)
        };
        self.set_dte(devid, dte, &[id])?;
        if !self.test_devids.contains(&devid) {
            self.test_devids.push(devid, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Every DTE the test domain used back to V=0 (untranslated, as before rsvm).
    pub(super) fn test_detach_all(&mut self) -> Result {
        let id = self.test_domain()?.dom.id;
        while let Some(devid) = self.test_devids.pop() {
            self.set_dte(devid, Dte::untranslated(), &[id])?;
        }
        Ok(())
    }
}

impl Drop for Hw {
    fn drop(&mut self) {
        // Off first (commands, events, translation), then every register as it was; the
        // tables are freed after this (field drops), when the unit no longer points at them.
        let c = self.regs.control()
            .with(ControlBit::IommuEn, false)
            .with(ControlBit::CmdBufEn, false)
            .with(ControlBit::EventLogEn, false);
        self.regs.set_control(c);
        self.regs.restore(&self.saved);
        let now = self.regs.control().bits();
        if now != self.saved.control {
            pr_warn!("amdvi: control register reads {:#x} after restoring {:#x}\n", now, self.saved.control);
        }
    }
}

/// One IOMMU unit driven by rsvm: the data behind `/sys/kernel/debug/rsvm/amdvi`. `R` is
/// the registry of devices bound to rsvm (`assign::Registry`; `assign::Unit` names the type).
#[pin_data]
pub(crate) struct Unit<R> {
    pub(super) info: UnitInfo,
    /// The unit's IVRS alias entries (42h, 43h): a device's DTE state applies to its alias's
    /// DTE too (`assign/`).
    pub(super) aliases: KVec<ivrs::AliasMap>,
    /// The device ids this unit translates (IVRS): only those may be bound and assigned.
    pub(super) owned: DevidSet,
    /// Whether assigned devices' interrupts are remapped (module parameter
    /// `amdvi_intremap`, default 1; 0 only to show the attack it stops).
    pub(super) intremap: bool,
    /// Devices bound to rsvm's PCI driver and their assignments (taken before `hw`).
    #[pin]
    pub(super) assign: Mutex<R>,
    #[pin]
    pub(super) hw: Mutex<Hw>,
}

/// The hardware state of the unit, published with it (`assign::publish`) for what needs only
/// that: a VM's I/O domain (`assign::iospace`), which names no registry.
static HW: AtomicPtr<Mutex<Hw>> = AtomicPtr::new(core::ptr::null_mut());

/// Publishes the unit's hardware state (`Some`) while the unit is published, withdraws it
/// (`None`) before the unit is.
pub(super) fn publish_hw<R>(u: Option<&Unit<R>>) {
    HW.store(u.map_or(core::ptr::null_mut(), |u| &u.hw as *const Mutex<Hw> as *mut Mutex<Hw>), Ordering::Release);
}

/// The published unit's hardware state.
pub(super) fn hw<'a>() -> Result<&'a Mutex<Hw>> {
    let p = HW.load(Ordering::Acquire);
    if p.is_null() {
        return Err(ENODEV);
    }
    // Non-null only while the unit is alive: published with it after it was pinned in its box
    // and withdrawn with it before it is dropped (`AmdviFile`), after the PCI driver is gone.
    // SAFETY: callers are a VM's I/O domain (its flush and its drop), whose VM fd holds a
    // module reference, so the module and the unit outlive the borrow.
    Ok(unsafe { &*p })
}
