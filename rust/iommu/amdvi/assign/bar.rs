// SPDX-License-Identifier: GPL-2.0

//! An assigned device's memory BARs in the VM's NPT, uncacheable (PCD+PWT) and not
//! executable, while the device decodes memory: with its Memory Space bit clear the BARs
//! leave the NPT and a guest access exits to the VMM as MMIO, as VFIO zaps a BAR's mappings
//! then (CVE-2020-12888: an access a disabled device does not claim can raise an
//! unsupported-request error, fatal on some hosts). Documentation/amdvi.md, "BARs".

use super::unit;
use crate::ffi::pci::PciDev;
use crate::iommu::{with_mem, BarMap, Guest};
use crate::memslot::PAGE_SIZE;
use crate::npt::{Access, Npt};
use crate::uapi::*;
use kernel::prelude::*;

/// PCI_STD_NUM_BARS.
const NR_BARS: usize = 6;

/// `RSVM_MAP_DEVICE_BAR`: maps memory BAR `b.bar` of a device the VM owns at `b.gpa` in
/// its NPT (moving it if it was mapped). `EEXIST` over a memslot or another BAR.
pub(crate) fn map_bar(vm: &dyn Guest, b: &RsvmDeviceBar) -> Result {
    let u = unit()?;
    if b.flags != 0 || b.bar as usize >= NR_BARS || b.gpa % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &b.dev)?;
    let (start, len) = d.pdev.mem_bar(b.bar)?;
    if start % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
        // A BAR smaller than a page would expose its neighbours.
        return Err(EINVAL);
    }
    let end = b.gpa.checked_add(len).ok_or(EINVAL)?;
    let devid = d.devid;
    let decoding = memory_space(&d.pdev)?;
    with_mem(vm, |m| {
        if end > m.npt.gpa_limit() || m.slots.overlap_any(b.gpa, len / PAGE_SIZE) {
            return Err(if end > m.npt.gpa_limit() { EINVAL } else { EEXIST });
        }
        let (npt, io) = (m.npt, m.io.as_mut().ok_or(ENOENT)?);
        if io.bar_overlap(b.gpa, len, Some((devid, b.bar))) {
            return Err(EEXIST);
        }
        io.bars.reserve(1, GFP_KERNEL)?;
        if let Some(k) = io.bars.iter().position(|x| x.devid == devid && x.bar == b.bar) {
            if let Some(old) = io.bars.get(k).copied() {
                npt.unmap(old.gpa, old.len);
            }
            let _ = io.bars.remove(k);
            vm.flush_npt();
        }
        if decoding {
            let r = map_mmio(npt, b.gpa, start, len);
            if r.is_err() {
                npt.unmap(b.gpa, len);
                vm.flush_npt();
                return r;
            }
        }
        io.bars.push(BarMap { devid, bar: b.bar, gpa: b.gpa, len, hpa: start }, GFP_KERNEL)?;
        Ok(())
    })
}

/// Whether the device decodes memory now (command register bit 1).
pub(super) fn memory_space(pdev: &PciDev) -> Result<bool> {
    Ok(pdev.read_config(4, 2)? & 0x2 != 0)
}

/// The guest turned the device's Memory Space bit on or off (`config.rs`): its BARs enter or
/// leave the NPT. Leaving, the NPT is flushed before the command register changes, so no
/// vCPU reaches a BAR the device no longer decodes; on error nothing of the BARs stays mapped.
pub(super) fn set_decoding(vm: &dyn Guest, devid: u16, on: bool) -> Result {
    with_mem(vm, |m| {
        let (npt, io) = (m.npt, m.io.as_mut().ok_or(ENOENT)?);
        let mine = || io.bars.iter().filter(|b| b.devid == devid);
        let mut r = Ok(());
        if on {
            for b in mine() {
                r = r.and(map_mmio(npt, b.gpa, b.hpa, b.len));
            }
        }
        if !on || r.is_err() {
            let mut any = false;
            for b in mine() {
                npt.unmap(b.gpa, b.len);
                any = true;
            }
            if any {
                vm.flush_npt();
            }
        }
        r
    })
}

fn map_mmio(npt: &mut Npt, gpa: u64, hpa: u64, len: u64) -> Result {
    let mut off = 0;
    while off < len {
        npt.map_4k(gpa + off, hpa + off, Access::DeviceMmio)?;
        off += PAGE_SIZE;
    }
    Ok(())
}
