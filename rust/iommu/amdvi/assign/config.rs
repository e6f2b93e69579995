// SPDX-License-Identifier: GPL-2.0

//! The config-space filter of an assigned device: what a guest may read and write, with
//! the command register's Interrupt Disable bit virtualised. Documentation/amdvi.md.

use super::intx::write_command;
use super::{bar, unit};
use crate::iommu::Guest;
use crate::uapi::*;
use kernel::prelude::*;

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

/// `RSVM_DEVICE_CONFIG`: a guest access to the config space of a device the VM owns,
/// through the filter.
pub(crate) fn config(vm: &dyn Guest, c: &mut RsvmDeviceConfig) -> Result {
    let u = unit()?;
    // (`size` is checked before it divides; no addition can overflow.)
    if c.write > 1 || !matches!(c.size, 1 | 2 | 4) || c.offset % c.size != 0 || c.offset > 256 - c.size {
        return Err(EINVAL);
    }
    let mut reg = u.assign.lock();
    let d = reg.owned(vm, &c.dev)?;
    let cur = d.pdev.read_config(c.offset, c.size)?;
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
        // handler, which sets the bit, by the INTx line's lock (`intx.rs`).
        let sh = 8 * (c.offset - 4);
        let m = (mask << sh) & 0xffff;
        let old = d.pdev.read_config(4, 2)?;
        let cmd = (old & !m) | ((c.value << sh) & m);
        if m & 0x400 != 0 {
            d.guest_intx_disable = cmd & 0x400 != 0;
        }
        let cmd = (cmd & !0x400) | if d.guest_intx_disable { 0x400 } else { 0 };
        // Memory Space off: the BARs leave the NPT before the device stops decoding; on:
        // they return after it decodes again (bar.rs).
        let (was, now) = (old & 0x2 != 0, cmd & 0x2 != 0);
        if was && !now {
            bar::set_decoding(vm, d.devid, false)?;
        }
        let intx = d.owner.as_ref().and_then(|a| a.intx.as_ref());
        write_command(&d.pdev, intx, cmd as u16)?;
        if !was && now {
            bar::set_decoding(vm, d.devid, true)?;
        }
        return Ok(());
    }
    let v = (cur & !mask) | (c.value & mask);
    d.pdev.write_config(c.offset, c.size, v)
}
