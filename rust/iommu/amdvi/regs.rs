// SPDX-License-Identifier: GPL-2.0

//! The IOMMU's MMIO register block (AMD I/O Virtualization Technology spec, doc 48882,
//! §3.4 "IOMMU MMIO Registers"), claimed with `request_mem_region` and mapped with
//! `ioremap`, read and written through the `kernel` crate's [`Mmio`] accessors (64-bit
//! `readq`/`writeq`, offsets checked at compile time).

use kernel::bindings;
use kernel::io::{Io, Mmio, MmioRaw};
use kernel::prelude::*;

/// The part of the register block rsvm uses: 0x0000..0x4000 (the control registers at
/// 0x0000 and the head/tail/status registers at 0x2000; QEMU's unit is exactly this size).
pub(crate) const MMIO_LEN: usize = 0x4000;

/// Register offsets (§3.4.1 - §3.4.14).
pub(crate) mod off {
    /// Device Table Base Address Register (§3.4.1): 51:12 base, 8:0 size in 4 KiB pages - 1.
    pub(crate) const DEV_TAB_BASE: usize = 0x0000;
    /// Command Buffer Base Address Register (§3.4.2): 51:12 base, 59:56 ComLen (log2 entries).
    pub(crate) const CMD_BUF_BASE: usize = 0x0008;
    /// Event Log Base Address Register (§3.4.3): 51:12 base, 59:56 EventLen (log2 entries).
    pub(crate) const EVT_LOG_BASE: usize = 0x0010;
    /// IOMMU Control Register (§3.4.4).
    pub(crate) const CONTROL: usize = 0x0018;
    /// IOMMU Exclusion Base Register (§3.4.5).
    pub(crate) const EXCL_BASE: usize = 0x0020;
    /// IOMMU Exclusion Range Limit Register (§3.4.6).
    pub(crate) const EXCL_LIMIT: usize = 0x0028;
    /// IOMMU Extended Feature Register (§3.4.7).
    pub(crate) const EXT_FEATURES: usize = 0x0030;
    /// Command Buffer Head Pointer Register (§3.4.10): 18:4 byte offset of the next entry the
    /// IOMMU reads.
    pub(crate) const CMD_HEAD: usize = 0x2000;
    /// Command Buffer Tail Pointer Register (§3.4.10): 18:4, written by software.
    pub(crate) const CMD_TAIL: usize = 0x2008;
    /// Event Log Head Pointer Register (§3.4.11), written by software.
    pub(crate) const EVT_HEAD: usize = 0x2010;
    /// Event Log Tail Pointer Register (§3.4.11), written by the IOMMU.
    pub(crate) const EVT_TAIL: usize = 0x2018;
    /// IOMMU Status Register (§3.4.12).
    pub(crate) const STATUS: usize = 0x2020;
}

/// Head and tail pointer fields (§3.4.10, §3.4.11): bits 18:4.
pub(crate) const PTR_MASK: u64 = 0x7_fff0;

kernel::impl_flags!(
    /// IOMMU Control Register bits rsvm uses (§3.4.4, table 45).
    #[derive(Debug, Clone, Default, Copy, PartialEq, Eq)]
    pub(crate) struct Control(u64);

    /// One bit of the IOMMU Control Register.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum ControlBit {
        /// IommuEn: translation and the other enables below take effect.
        IommuEn = 1 << 0,
        /// HtTunEn: HyperTransport tunnel translation (from the IVHD flags).
        HtTunEn = 1 << 1,
        /// EventLogEn: the IOMMU writes events to the event log.
        EventLogEn = 1 << 2,
        /// EventIntEn: an interrupt when an event is logged (not used: rsvm polls).
        EventIntEn = 1 << 3,
        /// ComWaitIntEn: an interrupt on COMPLETION_WAIT with I=1 (not used).
        ComWaitIntEn = 1 << 4,
        /// PassPW (from the IVHD flags).
        PassPw = 1 << 8,
        /// ResPassPW (from the IVHD flags).
        ResPassPw = 1 << 9,
        /// Coherent: IOMMU accesses to its tables snoop the caches.
        Coherent = 1 << 10,
        /// Isoc (from the IVHD flags).
        Isoc = 1 << 11,
        /// CmdBufEn: the IOMMU fetches commands.
        CmdBufEn = 1 << 12,
        /// PPRLogEn.
        PprLogEn = 1 << 13,
        /// PPRIntEn.
        PprIntEn = 1 << 14,
        /// PPREn.
        PprEn = 1 << 15,
        /// GTEn: guest translation.
        GtEn = 1 << 16,
        /// GAEn: guest virtual APIC.
        GaEn = 1 << 17,
        /// GALogEn.
        GaLogEn = 1 << 28,
        /// GAIntEn.
        GaIntEn = 1 << 29,
    }
);

/// InvTimeOut (§3.4.4): bits 7:5, the invalidation timeout; 4 = 1 second (as Linux).
pub(crate) const CONTROL_INV_TIMEOUT_SHIFT: u32 = 5;
pub(crate) const CONTROL_INV_TIMEOUT_MASK: u64 = 7 << CONTROL_INV_TIMEOUT_SHIFT;
pub(crate) const CONTROL_INV_TIMEOUT_1S: u64 = 4 << CONTROL_INV_TIMEOUT_SHIFT;

impl Control {
    pub(crate) fn from_bits(v: u64) -> Self {
        Self(v)
    }
    pub(crate) fn bits(self) -> u64 {
        self.0
    }
    pub(crate) fn with(self, bit: ControlBit, on: bool) -> Self {
        if on { self | bit } else { self & !Control::from(bit) }
    }
}

/// IOMMU Status Register bits (§3.4.12, table 60).
pub(crate) mod status {
    /// EventOverflow (RW1C).
    pub(crate) const EVENT_OVERFLOW: u64 = 1 << 0;
    /// EventLogInt (RW1C).
    pub(crate) const EVENT_LOG_INT: u64 = 1 << 1;
    /// ComWaitInt (RW1C).
    pub(crate) const COM_WAIT_INT: u64 = 1 << 2;
    /// EventLogRun (RO).
    pub(crate) const EVENT_LOG_RUN: u64 = 1 << 3;
    /// CmdBufRun (RO).
    pub(crate) const CMD_BUF_RUN: u64 = 1 << 4;
}

/// Extended Feature Register bits rsvm looks at (§3.4.7, table 47).
pub(crate) mod efr {
    /// IASup: INVALIDATE_IOMMU_ALL is supported.
    pub(crate) const IA_SUP: u64 = 1 << 6;
    /// HATS (11:10): host address translation size, 0 = 4 levels, 1 = 5, 2 = 6.
    pub(crate) const HATS_SHIFT: u32 = 10;

    /// The deepest v1 page table the unit walks.
    pub(crate) fn max_levels(efr: u64) -> u32 {
        match (efr >> HATS_SHIFT) & 3 {
            0 => 4,
            1 => 5,
            _ => 6,
        }
    }
}

/// The Status Register's bits by name, for debugfs.
pub(crate) fn status_names(v: u64) -> impl Iterator<Item = &'static str> {
    [
        (status::EVENT_OVERFLOW, "EventOverflow"),
        (status::EVENT_LOG_INT, "EventLogInt"),
        (status::COM_WAIT_INT, "ComWaitInt"),
        (status::EVENT_LOG_RUN, "EventLogRun"),
        (status::CMD_BUF_RUN, "CmdBufRun"),
    ]
    .into_iter()
    .filter(move |(b, _)| v & b != 0)
    .map(|(_, n)| n)
}

/// The registers rsvm writes, as found at probe; written back at unload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SavedRegs {
    pub(crate) dev_tab_base: u64,
    pub(crate) cmd_buf_base: u64,
    pub(crate) evt_log_base: u64,
    pub(crate) control: u64,
    pub(crate) excl_base: u64,
    pub(crate) excl_limit: u64,
    pub(crate) cmd_head: u64,
    pub(crate) cmd_tail: u64,
    pub(crate) evt_head: u64,
    pub(crate) evt_tail: u64,
}

/// The claimed and mapped register block of one unit.
///
/// # Invariants
///
/// `raw` is an `ioremap` mapping of `[pa, pa + MMIO_LEN)`, which rsvm claimed in the iomem
/// resource tree; both are undone exactly once in `Drop`.
pub(crate) struct Regs {
    pa: u64,
    raw: MmioRaw<MMIO_LEN>,
}

// SAFETY: the mapping and the resource are plain addresses usable from any thread; register
// accesses are single MMIO loads and stores (callers serialise the sequences that matter).
unsafe impl Send for Regs {}
// SAFETY: as above.
unsafe impl Sync for Regs {}

macro_rules! reg64 {
    ($(#[$m:meta])* $get:ident, $set:ident, $off:expr) => {
        $(#[$m])*
        #[inline]
        pub(crate) fn $get(&self) -> u64 {
            self.io().read64($off)
        }
        $(#[$m])*
        #[inline]
        pub(crate) fn $set(&self, v: u64) {
            self.io().write64(v, $off)
        }
    };
}

impl Regs {
    /// Claims and maps the block at `pa`. `EBUSY` if someone else (the kernel's own
    /// `amd_iommu` driver) holds any of it.
    pub(crate) fn map(pa: u64) -> Result<Self> {
        if pa == 0 || pa & 0x3fff != 0 {
            // §3.4: the block is 16 KiB aligned.
            return Err(EINVAL);
        }
        // SAFETY: `iomem_resource` is the kernel's root of the MMIO resource tree; taking its
        // address does not read it, and `__request_region` does its own locking. The name is
        // a static string, as `__request_region` keeps the pointer.
        let region = unsafe {
            bindings::__request_region(
                &raw mut bindings::iomem_resource,
                pa,
                MMIO_LEN as bindings::resource_size_t,
                c"rsvm-amdvi".as_ptr().cast_mut().cast(),
                0,
            )
        };
        if region.is_null() {
            return Err(EBUSY);
        }
        // SAFETY: `[pa, pa + MMIO_LEN)` is the IOMMU's register block from the IVRS, which we
        // now own in the resource tree; ioremap maps it uncached.
        let va = unsafe { bindings::ioremap(pa, MMIO_LEN as _) };
        if va.is_null() {
            // SAFETY: the region was requested just above.
            unsafe { bindings::release_mem_region(pa, MMIO_LEN as _) };
            return Err(ENOMEM);
        }
        let raw = match MmioRaw::new(va as usize, MMIO_LEN) {
            Ok(raw) => raw,
            Err(e) => {
                // SAFETY: mapped and requested just above.
                unsafe {
                    bindings::iounmap(va);
                    bindings::release_mem_region(pa, MMIO_LEN as _);
                }
                return Err(e);
            }
        };
        // INVARIANT: mapped and claimed above.
        Ok(Self { pa, raw })
    }

    fn io(&self) -> &Mmio<MMIO_LEN> {
        // SAFETY: `raw` is a live ioremap mapping of MMIO_LEN bytes (type invariant).
        unsafe { Mmio::from_raw(&self.raw) }
    }

    reg64!(
        /// Device Table Base Address Register.
        dev_tab_base, set_dev_tab_base, off::DEV_TAB_BASE
    );
    reg64!(
        /// Command Buffer Base Address Register.
        cmd_buf_base, set_cmd_buf_base, off::CMD_BUF_BASE
    );
    reg64!(
        /// Event Log Base Address Register.
        evt_log_base, set_evt_log_base, off::EVT_LOG_BASE
    );
    reg64!(
        /// Exclusion Base Register.
        excl_base, set_excl_base, off::EXCL_BASE
    );
    reg64!(
        /// Exclusion Range Limit Register.
        excl_limit, set_excl_limit, off::EXCL_LIMIT
    );
    reg64!(
        /// Command Buffer Head Pointer Register.
        cmd_head, set_cmd_head, off::CMD_HEAD
    );
    reg64!(
        /// Command Buffer Tail Pointer Register.
        cmd_tail, set_cmd_tail, off::CMD_TAIL
    );
    reg64!(
        /// Event Log Head Pointer Register.
        evt_head, set_evt_head, off::EVT_HEAD
    );
    reg64!(
        /// Event Log Tail Pointer Register.
        evt_tail, set_evt_tail, off::EVT_TAIL
    );
    reg64!(
        /// Status Register (the low bits are write-1-to-clear).
        status, set_status, off::STATUS
    );

    /// IOMMU Control Register.
    pub(crate) fn control(&self) -> Control {
        Control::from_bits(self.io().read64(off::CONTROL))
    }

    pub(crate) fn set_control(&self, c: Control) {
        self.io().write64(c.bits(), off::CONTROL)
    }

    /// Extended Feature Register (read-only).
    pub(crate) fn ext_features(&self) -> u64 {
        self.io().read64(off::EXT_FEATURES)
    }

    /// The values of every register rsvm will write.
    pub(crate) fn save(&self) -> SavedRegs {
        SavedRegs {
            dev_tab_base: self.dev_tab_base(),
            cmd_buf_base: self.cmd_buf_base(),
            evt_log_base: self.evt_log_base(),
            control: self.control().bits(),
            excl_base: self.excl_base(),
            excl_limit: self.excl_limit(),
            cmd_head: self.cmd_head(),
            cmd_tail: self.cmd_tail(),
            evt_head: self.evt_head(),
            evt_tail: self.evt_tail(),
        }
    }

    /// Writes `saved` back. The caller has turned the unit off (control with IommuEn,
    /// CmdBufEn, EventLogEn clear) first; the control register is written last.
    pub(crate) fn restore(&self, saved: &SavedRegs) {
        self.set_dev_tab_base(saved.dev_tab_base);
        self.set_cmd_buf_base(saved.cmd_buf_base);
        self.set_evt_log_base(saved.evt_log_base);
        self.set_excl_base(saved.excl_base);
        self.set_excl_limit(saved.excl_limit);
        self.set_cmd_head(saved.cmd_head & PTR_MASK);
        self.set_cmd_tail(saved.cmd_tail & PTR_MASK);
        self.set_evt_head(saved.evt_head & PTR_MASK);
        self.set_evt_tail(saved.evt_tail & PTR_MASK);
        self.set_control(Control::from_bits(saved.control));
    }
}

impl Drop for Regs {
    fn drop(&mut self) {
        // SAFETY: mapped and claimed in `map` (type invariant); nothing uses the mapping
        // after this (we are its only owner).
        unsafe {
            bindings::iounmap(self.raw.addr() as *mut _);
            bindings::release_mem_region(self.pa, MMIO_LEN as _);
        }
    }
}
