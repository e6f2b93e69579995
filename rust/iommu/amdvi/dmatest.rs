// SPDX-License-Identifier: GPL-2.0

//! Test-only: a domain with buffers rsvm allocates, attached to a device through its DTE,
//! and QEMU's `edu` device (PCI 1234:11e8) driven from here to DMA through the IOMMU.
//! Reached through debugfs commands (`Unit::command`); tests/l1/16-amdvi.sh uses it to show
//! that DMA to a mapped device address lands in the mapped host page, and that a blocked
//! DTE stops DMA.

use super::domain::Domain;
use super::pgtable::PageSize;
use crate::hwpage::HwPages;
use core::fmt;
use kernel::io::{Io, Mmio, MmioRaw};
use kernel::{bindings, prelude::*};

/// The prefix `head` sums cover: what the test DMAs (edu in QEMU 7.2 moves at most 4095
/// bytes, see [`EDU_MAX_LEN`]).
const HEAD: usize = 0x800;

/// A buffer mapped into the test domain.
pub(crate) struct Buf {
    iova: u64,
    size: PageSize,
    pages: HwPages,
}

impl Buf {
    /// Byte sums of the whole buffer and of its first `HEAD` bytes, and its first 8 bytes
    /// (little endian), for the test to compare.
    fn digest(&mut self) -> (u64, u64, u64) {
        let b = self.pages.bytes();
        let sum = b.iter().map(|&x| u64::from(x)).sum();
        let head = b.iter().take(HEAD).map(|&x| u64::from(x)).sum();
        let mut first = [0u8; 8];
        if let Some(s) = b.get(..8) {
            first.copy_from_slice(s);
        }
        (sum, head, u64::from_le_bytes(first))
    }
}

pub(crate) struct TestDomain {
    pub(crate) dom: Domain,
    bufs: KVec<Buf>,
}

/// The pattern a new 4 KiB buffer is filled with: distinct per buffer and per byte.
fn pattern(seed: usize, i: usize) -> u8 {
    (seed.wrapping_mul(31) ^ i.wrapping_mul(7) ^ (i >> 8)) as u8
}

impl TestDomain {
    pub(crate) fn new(dom: Domain) -> Self {
        Self { dom, bufs: KVec::new() }
    }

    /// Maps `n` new 4 KiB buffers (filled with a pattern) at `iova`, `iova + 4K`, ...
    pub(crate) fn map_4k(&mut self, iova: u64, n: u64) -> Result {
        if n == 0 || n > 64 {
            return Err(EINVAL);
        }
        for k in 0..n {
            let mut pages = HwPages::page()?;
            let seed = self.bufs.len() + 1;
            for (i, b) in pages.bytes().iter_mut().enumerate() {
                *b = pattern(seed, i);
            }
            let at = iova.checked_add(k * 4096).ok_or(EINVAL)?;
            self.dom.map(at, pages.phys(), PageSize::Size4K, true, true)?;
            self.bufs.push(Buf { iova: at, size: PageSize::Size4K, pages }, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Maps one new zeroed 2 MiB buffer at `iova` with a single 2 MiB leaf.
    pub(crate) fn map_2m(&mut self, iova: u64) -> Result {
        let pages = HwPages::new(9)?;
        self.dom.map(iova, pages.phys(), PageSize::Size2M, true, true)?;
        self.bufs.push(Buf { iova, size: PageSize::Size2M, pages }, GFP_KERNEL)?;
        Ok(())
    }

    /// Gives the domain id back; the buffers and tables are freed with `self`.
    pub(crate) fn dom_release(self, ids: &mut super::pgtable::DomainIds) {
        self.dom.release(ids)
    }

    pub(crate) fn fill(&mut self, index: usize, byte: u8) -> Result {
        self.bufs.get_mut(index).ok_or(EINVAL)?.pages.fill(byte);
        Ok(())
    }

    /// Unmaps every buffer (the buffers stay allocated until the domain goes).
    pub(crate) fn unmap_all(&mut self) -> Result {
        for b in self.bufs.iter() {
            self.dom.unmap(b.iova, b.size)?;
        }
        Ok(())
    }

    pub(crate) fn show(&mut self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pt = &self.dom.pt;
        writeln!(
            f,
            "domain: id {} levels {} tables {} entries_written {} leaves_4k {} leaves_2m {}",
            self.dom.id, pt.levels(), pt.tables, pt.entries_written, pt.leaves_4k, pt.leaves_2m
        )?;
        for (k, b) in self.bufs.iter_mut().enumerate() {
            let (sum, head, first) = b.digest();
            let pa = b.pages.phys();
            // What the IOMMU's walk of our tables gives for the buffer's address.
            let walk = pt.translate(b.iova).map_or(0, |(pa, _, _)| pa);
            writeln!(
                f,
                "buf {} iova {:#x} pa {:#x} walk {:#x} sum {:#x} head {:#x} first {:#018x}",
                k, b.iova, pa, walk, sum, head, first
            )?;
        }
        Ok(())
    }
}

/// edu's registers (QEMU docs/specs/edu.rst).
const EDU_ID: usize = 0x00;
const EDU_DMA_SRC: usize = 0x80;
const EDU_DMA_DST: usize = 0x88;
const EDU_DMA_CNT: usize = 0x90;
const EDU_DMA_CMD: usize = 0x98;
const EDU_CMD_START: u64 = 1 << 0;
const EDU_CMD_TO_RAM: u64 = 1 << 1;
/// Device-side address of edu's 4 KiB DMA buffer; QEMU 7.2 aborts (hw_error) on a DMA
/// outside it, and its range check wants the end *inside* the window, so a transfer from
/// 0x40000 is at most 4095 bytes.
const EDU_BUF: u64 = 0x40000;
const EDU_MAX_LEN: u64 = 4095;
const EDU_MMIO_LEN: usize = 0x100;

const EDU_VENDOR: u32 = 0x1234;
const EDU_DEVICE: u32 = 0x11e8;

/// A reference to the edu PCI device (`pci_get_device`), dropped with `pci_dev_put`.
///
/// # Invariants
///
/// `0` is a `pci_dev` on which we hold a reference.
struct EduDev(*mut bindings::pci_dev);

impl EduDev {
    /// The first edu device, if it has no driver (rsvm must not race one).
    fn find() -> Result<Self> {
        // SAFETY: plain lookup; returns a referenced device or NULL.
        let p = unsafe { bindings::pci_get_device(EDU_VENDOR, EDU_DEVICE, core::ptr::null_mut()) };
        if p.is_null() {
            return Err(ENODEV);
        }
        // INVARIANT: `pci_get_device` took a reference for us.
        let d = Self(p);
        // SAFETY: `p` is a live, referenced pci_dev; reading its driver pointer is a plain
        // load (a bind racing this test would be a test bug, not memory unsafety).
        if !unsafe { (*p).dev.driver }.is_null() {
            return Err(EBUSY);
        }
        Ok(d)
    }

    /// The requester id edu's DMA carries (bus << 8 | devfn).
    fn devid(&self) -> u16 {
        // SAFETY: the device and its bus are live while we hold the reference.
        let (bus, devfn) = unsafe { ((*(*self.0).bus).number, (*self.0).devfn) };
        u16::from(bus) << 8 | (devfn & 0xff) as u16
    }

    /// BAR0's physical address (edu's registers).
    fn bar0(&self) -> Result<u64> {
        // SAFETY: the device is live (type invariant); BAR resources are set at enumeration.
        let r = unsafe { &(*self.0).resource[0] };
        let mem = r.flags & u64::from(bindings::IORESOURCE_MEM) as kernel::ffi::c_ulong != 0;
        if !mem || r.start == 0 || r.end < r.start + EDU_MMIO_LEN as u64 - 1 {
            return Err(ENODEV);
        }
        Ok(r.start)
    }
}

impl Drop for EduDev {
    fn drop(&mut self) {
        // SAFETY: drops the reference `find` took.
        unsafe { bindings::pci_dev_put(self.0) };
    }
}

/// Memory decoding and bus mastering on, for one DMA; off again when dropped.
struct Enabled<'a>(&'a EduDev);

impl<'a> Enabled<'a> {
    fn new(d: &'a EduDev) -> Result<Self> {
        // SAFETY: the device is live and has no driver (checked in `find`).
        kernel::error::to_result(unsafe { bindings::pci_enable_device_mem(d.0) })?;
        // SAFETY: as above; the device is enabled.
        unsafe { bindings::pci_set_master(d.0) };
        Ok(Self(d))
    }
}

impl Drop for Enabled<'_> {
    fn drop(&mut self) {
        // SAFETY: balances `new` on the same live device.
        unsafe {
            bindings::pci_clear_master(self.0 .0);
            bindings::pci_disable_device(self.0 .0);
        }
    }
}

/// One DMA by QEMU's edu device (found by its PCI id, with no driver bound): edu's buffer
/// to `iova` (`to_ram`) or `iova` to edu's buffer, `len` bytes; returns when edu reports it
/// done (~100 ms of virtual time), `ETIMEDOUT` after 5 s.
///
/// Only if `translated(requester id)`: the caller says whether edu's DTE goes through the
/// test domain (translated or blocked) and keeps it so until this returns; with V=0 the
/// device address would be a host physical address.
pub(crate) fn edu_dma(to_ram: bool, iova: u64, len: u64, translated: impl Fn(u16) -> bool) -> Result {
    if len == 0 || len > EDU_MAX_LEN {
        return Err(EINVAL);
    }
    let edu = EduDev::find()?;
    if !translated(edu.devid()) {
        return Err(EPERM);
    }
    let bar0 = edu.bar0()?;
    let _on = Enabled::new(&edu)?;
    // SAFETY: claims `[bar0, bar0 + 0x100)` in the iomem tree (fails if a driver owns it);
    // the name is static.
    let region = unsafe {
        bindings::__request_region(
            &raw mut bindings::iomem_resource,
            bar0,
            EDU_MMIO_LEN as _,
            c"rsvm-amdvi-edu-test".as_ptr().cast_mut().cast(),
            0,
        )
    };
    if region.is_null() {
        return Err(EBUSY);
    }
    // SAFETY: the range is claimed above; a PCI BAR is MMIO that ioremap can map.
    let va = unsafe { bindings::ioremap(bar0, EDU_MMIO_LEN as _) };
    let r = if va.is_null() {
        Err(ENOMEM)
    } else {
        let r = MmioRaw::<EDU_MMIO_LEN>::new(va as usize, EDU_MMIO_LEN).and_then(|raw| {
            // SAFETY: `raw` describes the live mapping of EDU_MMIO_LEN bytes made above.
            let io = unsafe { Mmio::from_raw(&raw) };
            run_dma(io, to_ram, iova, len)
        });
        // SAFETY: mapped above, not used after this.
        unsafe { bindings::iounmap(va) };
        r
    };
    // SAFETY: claimed above.
    unsafe { bindings::release_mem_region(bar0, EDU_MMIO_LEN as _) };
    r
}

fn run_dma(io: &Mmio<EDU_MMIO_LEN>, to_ram: bool, iova: u64, len: u64) -> Result {
    let id = io.read32(EDU_ID);
    if id & 0xffff != 0x00ed {
        pr_err!("amdvi: edu test: BAR0 id register reads {:#x}, not edu\n", id);
        return Err(ENODEV);
    }
    if io.read64(EDU_DMA_CMD) & EDU_CMD_START != 0 {
        return Err(EBUSY);
    }
    let (src, dst) = if to_ram { (EDU_BUF, iova) } else { (iova, EDU_BUF) };
    io.write64(src, EDU_DMA_SRC);
    io.write64(dst, EDU_DMA_DST);
    io.write64(len, EDU_DMA_CNT);
    io.write64(EDU_CMD_START | if to_ram { EDU_CMD_TO_RAM } else { 0 }, EDU_DMA_CMD);
    for _ in 0..500 {
        // SAFETY: msleep has no preconditions beyond process context (a debugfs write).
        unsafe { bindings::msleep(10) };
        if io.read64(EDU_DMA_CMD) & EDU_CMD_START == 0 {
            return Ok(());
        }
    }
    pr_err!("amdvi: edu test: DMA did not complete\n");
    Err(ETIMEDOUT)
}
