// SPDX-License-Identifier: GPL-2.0

//! KVM_GET_STATS_FD: a VM's or a vCPU's counters in KVM's binary statistics format
//! (Documentation/virt/kvm/api.rst 4.133, virt/kvm/binary_stats.c): a read-only fd whose
//! contents are a header, an id string, the descriptors and the data, read with read() or
//! pread() at any offset; the data are read live at each call.
//!
//! The counters are rsvm's exit counters (`svm::exit::Stat`) under KVM's names where the
//! meaning is KVM's (`exits`, `io_exits`, `mmio_exits`, `halt_exits`, `irq_exits`,
//! `irq_window_exits`, `hypercalls`; the VM's `pages_4k`/`pages_2m`, its NPT leaves), and
//! rsvm's own names for the rest. KVM's other counters are not offered: a client finds no
//! descriptor rather than a number rsvm does not count.

use crate::{
    anonfd::{self, AnonFd},
    svm::exit::Stat,
    vmshared::{VcpuShared, VmShared},
};
use core::{
    ffi::{c_char, c_int},
    fmt::Write,
    sync::atomic::Ordering,
};
use kernel::{
    bindings,
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

/// KVM_STATS_NAME_SIZE: the id string's and each descriptor's name field.
const NAME_SIZE: usize = 48;
/// `struct kvm_stats_header` (6 u32) and `struct kvm_stats_desc` before its name (16 bytes).
const HEADER_SIZE: usize = 24;
const DESC_SIZE: usize = 16 + NAME_SIZE;
/// Descriptor flags: type (bits 3:0), unit (7:4), base (11:8); units none and base 10 are 0.
const TYPE_CUMULATIVE: u32 = 0;
const TYPE_INSTANT: u32 = 1;

/// A vCPU counter: its name and the exit-counter slot it reads.
const VCPU_STATS: [(&str, Stat); 16] = [
    ("exits", Stat::Total),
    ("io_exits", Stat::Io),
    ("mmio_exits", Stat::Mmio),
    ("halt_exits", Stat::Hlt),
    ("irq_exits", Stat::Intr),
    ("irq_window_exits", Stat::Vintr),
    ("hypercalls", Stat::Vmmcall),
    ("cpuid_exits", Stat::Cpuid),
    ("msr_exits", Stat::Msr),
    ("npf_exits", Stat::Npf),
    ("shutdown_exits", Stat::Shutdown),
    ("fail_entry_exits", Stat::FailEntry),
    ("ud_exits", Stat::Ud),
    ("xsetbv_exits", Stat::Xsetbv),
    ("exception_exits", Stat::Exception),
    ("other_exits", Stat::Other),
];
/// The VM's counters: NPT leaves mapped now, by size (KVM's `pages_4k`, `pages_2m`).
const VM_STATS: [&str; 2] = ["pages_4k", "pages_2m"];

enum Source {
    Vm(Arc<VmShared>),
    Vcpu(Arc<VcpuShared>),
}

/// The object behind a stats fd.
pub(crate) struct StatsFd {
    /// "kvm-PID" or "kvm-PID/vcpu-ID", as KVM's `stats_id`.
    id: [u8; NAME_SIZE],
    src: Source,
}

// SAFETY: `rsvm_stats_read` and `rsvm_stats_release`, the callbacks of the `rsvm-stats`
// fops table, read the private data as `Arc<StatsFd>`; no other type has `FdKind::Stats`.
unsafe impl AnonFd for StatsFd {
    const KIND: crate::anonfd::FdKind = crate::anonfd::FdKind::Stats;
}

/// A fixed-size, NUL-padded name field.
struct Name {
    buf: [u8; NAME_SIZE],
    len: usize,
}

impl Write for Name {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // One byte stays NUL.
        let end = self.len.checked_add(s.len()).filter(|&e| e < NAME_SIZE).ok_or(core::fmt::Error)?;
        self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn name(args: core::fmt::Arguments<'_>) -> Result<[u8; NAME_SIZE]> {
    let mut n = Name { buf: [0; NAME_SIZE], len: 0 };
    n.write_fmt(args).map_err(|_| EINVAL)?;
    Ok(n.buf)
}

/// KVM_GET_STATS_FD on a VM fd (`vcpu` None) or a vCPU fd: a new stats fd.
pub(crate) fn open(vm: &Arc<VmShared>, vcpu: Option<&Arc<VcpuShared>>) -> Result<isize> {
    let pid = kernel::current!().pid();
    let (id, src) = match vcpu {
        None => (name(format_args!("kvm-{pid}"))?, Source::Vm(vm.clone())),
        Some(v) => (name(format_args!("kvm-{pid}/vcpu-{}", v.id))?, Source::Vcpu(v.clone())),
    };
    anonfd::install(Arc::new(StatsFd { id, src }, GFP_KERNEL_ACCOUNT)?)
}

impl StatsFd {
    /// The whole file: header, id, descriptors, data (KVM's order and offsets).
    fn contents(&self) -> Result<KVec<u8>> {
        let mut descs: KVec<(&str, u32, u64)> = KVec::new();
        match &self.src {
            Source::Vcpu(v) => {
                for (n, s) in VCPU_STATS {
                    let val = v.stats.get(s as usize).map_or(0, |c| c.load(Ordering::Relaxed));
                    descs.push((n, TYPE_CUMULATIVE, val), GFP_KERNEL)?;
                }
            }
            Source::Vm(vm) => {
                let mem = vm.mem.lock();
                let (l4k, l2m) = (mem.npt.leaves_4k, mem.npt.leaves_2m);
                drop(mem);
                for (n, val) in VM_STATS.iter().zip([l4k, l2m]) {
                    descs.push((n, TYPE_INSTANT, val), GFP_KERNEL)?;
                }
            }
        }
        let n = descs.len();
        let desc_offset = HEADER_SIZE + NAME_SIZE;
        let data_offset = desc_offset + n * DESC_SIZE;
        let mut out = KVec::with_capacity(data_offset + 8 * n, GFP_KERNEL)?;
        // struct kvm_stats_header: flags, name_size, num_desc, id_offset, desc_offset,
        // data_offset.
        for w in [0, NAME_SIZE, n, HEADER_SIZE, desc_offset, data_offset] {
            out.extend_from_slice(&(w as u32).to_le_bytes(), GFP_KERNEL)?;
        }
        out.extend_from_slice(&self.id, GFP_KERNEL)?;
        for (i, (nm, flags, _)) in descs.iter().enumerate() {
            // struct kvm_stats_desc: flags, exponent (s16), size (u16, in u64s), offset (in
            // the data block), bucket_size, name.
            out.extend_from_slice(&flags.to_le_bytes(), GFP_KERNEL)?;
            out.extend_from_slice(&0i16.to_le_bytes(), GFP_KERNEL)?;
            out.extend_from_slice(&1u16.to_le_bytes(), GFP_KERNEL)?;
            out.extend_from_slice(&((8 * i) as u32).to_le_bytes(), GFP_KERNEL)?;
            out.extend_from_slice(&0u32.to_le_bytes(), GFP_KERNEL)?;
            out.extend_from_slice(&name(format_args!("{nm}"))?, GFP_KERNEL)?;
        }
        for (_, _, v) in descs.iter() {
            out.extend_from_slice(&v.to_le_bytes(), GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// read()/pread() of `size` bytes at `*pos` into `buf`; advances `*pos` (KVM's
    /// kvm_stats_read()): 0 at or past the end.
    fn read(&self, buf: usize, size: usize, pos: &mut i64) -> Result<isize> {
        let all = self.contents()?;
        let start = usize::try_from(*pos).map_err(|_| EINVAL)?;
        let Some(rest) = all.get(start..) else { return Ok(0) };
        let n = rest.len().min(size);
        let part = rest.get(..n).ok_or(EINVAL)?;
        UserSlice::new(UserPtr::from_addr(buf), n).writer().write_slice(part)?;
        *pos += n as i64;
        Ok(n as isize)
    }
}

#[no_mangle]
unsafe extern "C" fn rsvm_stats_read(file: *mut bindings::file, buf: *mut c_char, size: usize, pos: *mut bindings::loff_t) -> isize {
    // SAFETY: a stats fd's private data is its `Arc<StatsFd>` (anonfd::install), alive during
    // the call.
    let s = unsafe { anonfd::borrow::<StatsFd>(file) };
    // SAFETY: the VFS passes the file position (or pread's offset), ours for the call.
    let pos = unsafe { &mut *pos };
    match s.read(buf as usize, size, pos) {
        Ok(n) => n,
        Err(e) => e.to_errno() as isize,
    }
}

#[no_mangle]
unsafe extern "C" fn rsvm_stats_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: the fd's last reference: takes back the Arc installed by anonfd::install.
    drop(unsafe { anonfd::take::<StatsFd>(file) });
    0
}
