// SPDX-License-Identifier: GPL-2.0

//! rsvm's AMD-Vi driver (AMD I/O Virtualization Technology spec, doc 48882): finds the
//! IOMMU unit in the IVRS table, claims its registers and enables it with a device table
//! whose entries are all V=0 (every device's DMA stays untranslated until rsvm assigns it),
//! a command buffer, an event log and a completion-wait store word.
//!
//! Only with the module parameter `amdvi=1`; a unit that another driver owns (the
//! kernel's `amd_iommu`: its MMIO region is claimed, or the unit is already enabled) is
//! left alone with a message, and the rest of rsvm works as without `amdvi=1`.
//!
//! At unload the unit is turned off and every register rsvm wrote gets its prior value.
//! `/sys/kernel/debug/rsvm/amdvi` shows the unit and its counters; writing a command word
//! to it runs that command (see [`Unit::command`]), for the tests.

pub(crate) mod assign;
pub(crate) mod cmdbuf;
pub(crate) mod devtab;
pub(crate) mod dmatest;
pub(crate) mod dtewrite;
pub(crate) mod domain;
pub(crate) mod evtlog;
pub(crate) mod irt;
pub(crate) mod ivrs;
pub(crate) mod pgtable;
pub(crate) mod regs;
pub(crate) mod unit;

use assign::Unit;
use cmdbuf::{CmdBuf, Command};
use core::fmt;
use devtab::DevTable;
use dmatest::TestDomain;
use domain::Domain;
use evtlog::EvtLog;
use pgtable::DomainIds;
use kernel::{bindings, debugfs, new_mutex, prelude::*, uaccess::UserSliceReader};
use crate::ffi::pci::PciDriver;
use regs::{Control, ControlBit, Regs};
use unit::{Hw, UnitInfo};

/// Reads the IVRS table and describes its first unit, with the unit's alias entries and the
/// device ids it translates.
fn find_unit() -> Result<(UnitInfo, KVec<ivrs::AliasMap>, unit::DevidSet)> {
    let mut hdr: *mut bindings::acpi_table_header = core::ptr::null_mut();
    // SAFETY: the signature is a NUL-terminated string ACPICA only reads; `hdr` is a valid
    // out pointer. On success the table stays mapped until `acpi_put_table`.
    let status = unsafe { bindings::acpi_get_table(c"IVRS".as_ptr().cast_mut().cast(), 0, &mut hdr) };
    if status != 0 || hdr.is_null() {
        pr_info!("amdvi: no IVRS table: no AMD-Vi IOMMU\n");
        return Err(ENODEV);
    }
    // SAFETY: ACPICA mapped the whole table, whose header (read unaligned: the struct is
    // packed) gives its length.
    let len = unsafe { core::ptr::addr_of!((*hdr).length).read_unaligned() } as usize;
    // SAFETY: the mapping covers `len` bytes (ACPICA maps the length the header declares)
    // and stays valid until `acpi_put_table` below; nothing writes it.
    let bytes = unsafe { core::slice::from_raw_parts(hdr.cast::<u8>(), len) };
    let r = match ivrs::Ivrs::parse(bytes) {
        Err(e) => {
            pr_err!("amdvi: IVRS table rejected: {:?}\n", e);
            Err(EINVAL)
        }
        Ok(t) => match t.units().next() {
            None => {
                pr_info!("amdvi: IVRS lists no IOMMU unit\n");
                Err(ENODEV)
            }
            Some(u) => {
                let mut aliases = KVec::new();
                let mut r = Ok(());
                for a in u.aliases() {
                    if let Err(e) = aliases.push(a, GFP_KERNEL) {
                        r = Err(e.into());
                        break;
                    }
                }
                // The devices this unit translates: those no later IVHD claims (a device behind
                // another unit goes through that unit's DTEs, which rsvm does not program).
                let r = r.and_then(|()| unit::DevidSet::from_fn(|id| t.unit_of(u.segment, id) == Some(0)));
                r.map(|owned| (UnitInfo {
                ivhd_type: u.ty,
                ivhd_flags: u.flags,
                devid: u.devid,
                cap_offset: u.cap_offset,
                mmio_base: u.mmio_base,
                segment: u.segment,
                // A unit with only an ALL entry covers bus 0 at least.
                last_devid: u.last_devid().unwrap_or(0xff),
                units_in_ivrs: t.units().count(),
                iv_info: t.iv_info(),
            }, aliases, owned))
            }
        },
    };
    // SAFETY: `hdr` came from `acpi_get_table`; `bytes` is not used after this.
    unsafe { bindings::acpi_put_table(hdr) };
    r
}

/// The unit (owned by its debugfs file: dropping that turns the unit off) and rsvm's PCI
/// driver, registered while the unit is up (binding needs its device table), with the watch
/// for host IRQs moved by CPU hot-unplug.
pub(crate) struct AmdviFile {
    file: Pin<KBox<debugfs::File<Unit>>>,
    pci: Option<(PciDriver, assign::intr::IrqMoveWatch)>,
}

impl AmdviFile {
    fn new(file: Pin<KBox<debugfs::File<Unit>>>) -> Self {
        assign::publish(Some(&**file));
        // The watch first: a device assigned as soon as the driver is up is covered.
        let pci = assign::intr::IrqMoveWatch::start().and_then(|w| PciDriver::register().map(|d| (d, w)));
        if let Err(r) = &pci {
            pr_warn!("amdvi: PCI driver not registered ({}): no device assignment\n", r);
        }
        Self { file, pci: pci.ok() }
    }
}

impl Drop for AmdviFile {
    fn drop(&mut self) {
        if let Some((driver, watch)) = self.pci.take() {
            // Unbinds every device (DTEs back to V=0); no VM holds one (each VM fd holds a
            // module reference).
            drop(driver);
            // Then the hotplug state goes and the IRQ-moved work is cancelled.
            drop(watch);
        }
        // No device is bound any more and none can be: nothing starts the poll again.
        assign::events::poll_stop();
        assign::publish(None);
        let _ = &self.file;
    }
}

/// Probes and enables the unit if `enabled` (the module parameter); `None` when disabled
/// or when the unit cannot be had (the reason is logged): rsvm works on without it.
pub(crate) fn probe(dir: &debugfs::Dir, enabled: bool, intremap: bool) -> Option<AmdviFile> {
    if !enabled {
        return None;
    }
    if !intremap {
        pr_warn!("amdvi: interrupt remapping off (amdvi_intremap=0): assigned devices can raise any host interrupt\n");
    }
    match Unit::probe(dir, intremap) {
        Ok(f) => Some(AmdviFile::new(f)),
        Err(e) => {
            pr_warn!("amdvi: not using the IOMMU ({:?}); rsvm continues without AMD-Vi\n", e);
            None
        }
    }
}

impl Unit {
    fn probe(dir: &debugfs::Dir, intremap: bool) -> Result<Pin<KBox<debugfs::File<Unit>>>> {
        let (info, aliases, owned) = find_unit()?;
        if info.units_in_ivrs > 1 {
            pr_info!("amdvi: {} units in the IVRS; rsvm drives the first\n", info.units_in_ivrs);
        }
        let regs = Regs::map(info.mmio_base).inspect_err(|e| {
            if *e == EBUSY {
                pr_err!(
                    "amdvi: MMIO {:#x} is claimed by another driver (amd_iommu?): boot with amd_iommu=off\n",
                    info.mmio_base
                );
            }
        })?;
        let saved = regs.save();
        if Control::from_bits(saved.control).contains(ControlBit::IommuEn) {
            pr_err!(
                "amdvi: unit at {:#x} is already enabled (control {:#x}): owned by firmware or another driver\n",
                info.mmio_base, saved.control
            );
            return Err(EBUSY);
        }
        let efr = regs.ext_features();
        let mut hw = Hw {
            devtab: DevTable::new(info.last_devid)?,
            cmdbuf: CmdBuf::new()?,
            evtlog: EvtLog::new()?,
            regs,
            saved,
            efr,
            domain_ids: DomainIds::new(),
            test: None,
            test_devids: KVec::new(),
            pending_events: KVec::new(),
            peek: None,
        };
        // On failure `hw` is dropped: the unit is turned off and restored.
        hw.enable(&info)?;
        pr_info!(
            "amdvi: IOMMU {:04x}:{:02x}:{:02x}.{} at {:#x} enabled (IVHD {:#x}, EFR {:#x}, {} DTEs)\n",
            info.segment, info.devid >> 8, (info.devid >> 3) & 0x1f, info.devid & 7,
            info.mmio_base, info.ivhd_type, efr, hw.devtab.entries()
        );
        let init = try_pin_init!(Unit { info, aliases, owned, intremap, assign <- new_mutex!(assign::Registry::default()), hw <- new_mutex!(hw) });
        KBox::pin_init(dir.read_write_callback_file(c"amdvi", init, &Unit::show, &Unit::write), GFP_KERNEL)
    }

    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The registry first (lock order: assign, then hw).
        let reg = self.assign.lock();
        let mut guard = self.hw.lock();
        let hw = &mut *guard;
        hw.drain_events();
        let i = &self.info;
        writeln!(f, "ivhd_type: {:#x}", i.ivhd_type)?;
        writeln!(f, "devid: {:04x}:{:02x}:{:02x}.{}", i.segment, i.devid >> 8, (i.devid >> 3) & 0x1f, i.devid & 7)?;
        writeln!(f, "cap_offset: {:#x}", i.cap_offset)?;
        writeln!(f, "mmio_base: {:#x}", i.mmio_base)?;
        writeln!(f, "iv_info: {:#x}", i.iv_info)?;
        writeln!(f, "ext_features: {:#x}", hw.efr)?;
        writeln!(f, "control: {:#x}", hw.regs.control().bits())?;
        let st = hw.regs.status();
        write!(f, "status: {:#x}", st)?;
        for n in regs::status_names(st) {
            write!(f, " {}", n)?;
        }
        writeln!(f)?;
        writeln!(f, "saved_control: {:#x}", hw.saved.control)?;
        writeln!(f, "dev_table_entries: {}", hw.devtab.entries())?;
        writeln!(f, "commands: {}", hw.cmdbuf.issued)?;
        writeln!(f, "completion_waits: {}", hw.cmdbuf.waits)?;
        writeln!(f, "events: {}", hw.evtlog.drained)?;
        writeln!(f, "event_overflows: {}", hw.evtlog.overflows)?;
        writeln!(f, "domains: {}", hw.domain_ids.in_use())?;
        writeln!(f, "intremap: {}", u8::from(self.intremap))?;
        domain::IO_PT_STATS.show(f)?;
        if let Some(t) = hw.test.as_mut() {
            t.show(f)?;
        }
        reg.show(f, &hw.devtab, &self.aliases)?;
        if let Some(d) = hw.peek {
            let dte = hw.devtab.get(d).unwrap_or_default();
            writeln!(f, "peek {:04x}: {:#018x} {:#018x} {:#018x} {:#018x}", d, dte.0[0], dte.0[1], dte.0[2], dte.0[3])?;
        }
        for &d in hw.test_devids.iter() {
            if let Ok(dte) = hw.devtab.get(d) {
                writeln!(
                    f,
                    "dte {:04x}: {:#018x} {:#018x} {:#018x} {:#018x} domain {}",
                    d, dte.0[0], dte.0[1], dte.0[2], dte.0[3], dte.domain()
                )?;
            }
        }
        Ok(())
    }

    fn write(&self, r: &mut UserSliceReader) -> Result {
        let mut buf = [0u8; 64];
        let n = r.len();
        let b = buf.get_mut(..n).ok_or(EINVAL)?;
        r.read_slice(b)?;
        let s = core::str::from_utf8(b).map_err(|_| EINVAL)?.trim();
        self.command(s)
    }

    /// Test commands written to the debugfs file (numbers in hex):
    /// - `wait`: COMPLETION_WAIT; `inv-dte <devid>`, `inv-domain <id>`; `drain`: the event
    ///   log; `inject-event <code> <devid> <address>`: a record written as the IOMMU would;
    /// - `dom-create <levels>`, `dom-map <iova> <n>` (n new 4 KiB buffers with a pattern),
    ///   `dom-map2m <iova>` (a zeroed 2 MiB buffer), `dom-fill <buf> <byte>`, `dom-unmap`
    ///   (every buffer), `dom-attach <devid>` (DTE translated through the domain),
    ///   `dom-block <devid>` (DTE V=1 TV=1 IR=IW=0), `dom-destroy` (DTEs back to V=0);
    /// - `edu-dma <to_ram> <iova> <len>`: one DMA by QEMU's edu device.
    fn command(&self, s: &str) -> Result {
        let mut words = s.split_ascii_whitespace();
        let cmd = words.next().ok_or(EINVAL)?;
        let mut arg = || -> Result<u64> {
            let w = words.next().ok_or(EINVAL)?;
            u64::from_str_radix(w.trim_start_matches("0x"), 16).map_err(|_| EINVAL)
        };
        let mut arg16 = || -> Result<u16> { u16::try_from(arg()?).map_err(|_| EINVAL) };
        let mut guard = self.hw.lock();
        let hw = &mut *guard;
        match cmd {
            "wait" => hw.cmdbuf.wait(&hw.regs),
            "inv-dte" => {
                let id = arg16()?;
                hw.cmdbuf.submit(&hw.regs, Command::invalidate_devtab_entry(id))?;
                hw.cmdbuf.wait(&hw.regs)
            }
            "inv-domain" => {
                let id = arg16()?;
                hw.cmdbuf.submit(&hw.regs, Command::invalidate_domain(id))?;
                hw.cmdbuf.wait(&hw.regs)
            }
            "dte" => {
                let d = arg16()?;
                hw.devtab.get(d)?;
                hw.peek = Some(d);
                Ok(())
            }
            "drain" => {
                hw.drain_events();
                Ok(())
            }
            "inject-event" => {
                let (code, devid, addr) = (arg()?, arg()?, arg()?);
                let devid = u16::try_from(devid).map_err(|_| EINVAL)?;
                if code > 0xf {
                    return Err(EINVAL);
                }
                let e = evtlog::Event([code << 60 | u64::from(devid), addr]);
                hw.evtlog.inject(&hw.regs, e)
            }
            "dom-create" => {
                let levels = u32::from(arg16()?);
                if levels > regs::efr::max_levels(hw.efr) {
                    return Err(EINVAL);
                }
                if hw.test.is_some() {
                    return Err(EBUSY);
                }
                hw.test = Some(TestDomain::new(Domain::new(&mut hw.domain_ids, levels)?));
                Ok(())
            }
            "dom-map" => {
                let (iova, n) = (arg()?, arg()?);
                hw.test_domain()?.map_4k(iova, n)
            }
            "dom-map2m" => {
                let iova = arg()?;
                hw.test_domain()?.map_2m(iova)
            }
            "dom-fill" => {
                let (index, byte) = (arg()?, arg()?);
                let index = usize::try_from(index).map_err(|_| EINVAL)?;
                hw.test_domain()?.fill(index, u8::try_from(byte).map_err(|_| EINVAL)?)
            }
            "dom-unmap" => {
                let t = hw.test_domain()?;
                t.unmap_all()?;
                let id = t.dom.id;
                hw.cmdbuf.submit(&hw.regs, Command::invalidate_domain(id))?;
                hw.cmdbuf.wait(&hw.regs)
            }
            "dom-attach" => hw.test_attach(arg16()?, true),
            "dom-block" => hw.test_attach(arg16()?, false),
            "dom-destroy" => {
                hw.test_detach_all()?;
                let t = hw.test.take().ok_or(ENOENT)?;
                t.dom_release(&mut hw.domain_ids);
                Ok(())
            }
            "edu-dma" => {
                let (to_ram, iova, len) = (arg()?, arg()?, arg()?);
                // Under the unit's lock (~100 ms): edu's DTE cannot change meanwhile.
                dmatest::edu_dma(to_ram != 0, iova, len, |devid| hw.test_devids.contains(&devid))
            }
            _ => Err(EINVAL),
        }
    }
}
