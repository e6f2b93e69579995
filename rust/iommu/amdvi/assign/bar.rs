// SPDX-License-Identifier: GPL-2.0

//! An assigned device's memory BARs in the VM's NPT, uncacheable (PCD+PWT) and not
//! executable. Documentation/amdvi.md, "BARs".

use super::unit;
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
        let r = map_mmio(npt, b.gpa, start, len);
        if r.is_err() {
            npt.unmap(b.gpa, len);
            vm.flush_npt();
            return r;
        }
        io.bars.push(BarMap { devid, bar: b.bar, gpa: b.gpa, len }, GFP_KERNEL)?;
        Ok(())
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
