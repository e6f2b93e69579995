//! Pin and IOMMU-map (issue #5's benchmark): how long rsvm takes to pin a VM's memory and map
//! it in the VM's AMD-Vi I/O page table when the VM has an assigned device, with 4 KiB and
//! with 2 MiB (THP) backing, and how many I/O page-table entries that writes. VFIO's figure
//! for 16 GiB: 0.047 s with THP against 0.280 s with 4 KiB pages.
//!
//! Needs rsvm loaded with `amdvi=1` and a device bound to it. A VM gets the device first
//! (with no memory), then one memslot of the measured size: with a device assigned,
//! `KVM_SET_USER_MEMORY_REGION` pins every page and maps it in the domain (2 MiB I/O leaves
//! where the pinned backing is a 2 MiB-aligned contiguous block), so that ioctl is the
//! measurement. The memory is touched beforehand: page allocation and zeroing are not
//! counted, only pinning (`pin_user_pages_fast`, FOLL_LONGTERM), the page-table writes and
//! the unit's flush. Deleting the slot (unmap, flush, unpin) is timed as well.

use crate::exits::rdtsc;
use rsvm_abi::{RsvmPciDevice, RSVM_ASSIGN_DEVICE};
use rsvm_guest::guest::{open, region, HostMem};
use std::os::fd::AsRawFd;
use std::time::Instant;

const AMDVI: &str = "/sys/kernel/debug/rsvm/amdvi";
const PINNED: &str = "/sys/kernel/debug/rsvm/pinned_pages";
/// The measured slot's guest-physical address: 4 GiB, 2 MiB aligned, clear of nothing else.
const SLOT_GPA: u64 = 1 << 32;

/// The `io_pt:` counters of debugfs `amdvi`: entries written, tables, 4 KiB maps, 2 MiB maps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoPt {
    pub entries_written: u64,
    pub tables: u64,
    pub maps_4k: u64,
    pub maps_2m: u64,
}

impl IoPt {
    /// Parses the `io_pt: entries_written N tables N maps_4k N maps_2m N` line.
    pub fn parse(text: &str) -> Option<Self> {
        let line = text.lines().find_map(|l| l.strip_prefix("io_pt:"))?;
        let w: Vec<&str> = line.split_whitespace().collect();
        let get = |k: &str| w.iter().position(|&x| x == k).and_then(|i| w.get(i + 1)).and_then(|v| v.parse().ok());
        Some(Self { entries_written: get("entries_written")?, tables: get("tables")?, maps_4k: get("maps_4k")?, maps_2m: get("maps_2m")? })
    }

    fn read() -> Result<Self, String> {
        let t = std::fs::read_to_string(AMDVI).map_err(|e| format!("{AMDVI}: {e} (rsvm loaded with amdvi=1?)"))?;
        Self::parse(&t).ok_or_else(|| format!("{AMDVI} has no io_pt line"))
    }

    fn since(self, before: Self) -> Self {
        Self {
            entries_written: self.entries_written.wrapping_sub(before.entries_written),
            tables: self.tables.wrapping_sub(before.tables),
            maps_4k: self.maps_4k.wrapping_sub(before.maps_4k),
            maps_2m: self.maps_2m.wrapping_sub(before.maps_2m),
        }
    }
}

fn pinned() -> Result<i64, String> {
    std::fs::read_to_string(PINNED).map_err(|e| format!("{PINNED}: {e}"))?.trim().parse().map_err(|_| format!("{PINNED}: not a number"))
}

/// Kilobytes of `AnonHugePages` in this process (THP really backs the 2 MiB case).
fn anon_huge_kb() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("AnonHugePages:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Memory of `bytes`, touched, 2 MiB aligned; THP when `huge`, 4 KiB pages otherwise.
fn backing(bytes: usize, huge: bool) -> Result<HostMem, String> {
    let m = if huge { HostMem::new_huge(bytes)? } else { HostMem::new(bytes)? };
    if !huge {
        // SAFETY: advises our own mapping (THP may be "always" on the host).
        if unsafe { libc::madvise(m.ptr.cast(), bytes, libc::MADV_NOHUGEPAGE) } != 0 {
            return Err(format!("madvise(MADV_NOHUGEPAGE): {}", std::io::Error::last_os_error()));
        }
    }
    for off in (0..bytes).step_by(4096) {
        // SAFETY: `off` is inside the `bytes`-long mapping.
        unsafe { m.ptr.add(off).write_volatile(1) };
    }
    Ok(m)
}

/// One measurement: `iommu_map,<MiB>,<4k|2m>,<map ns>,<map ticks>,<entries written>,<tables>,
/// <4 KiB leaves>,<2 MiB leaves>,<unmap ns>,<unmap ticks>,<entries written by the unmap>`.
fn one(dev: RsvmPciDevice, mib: usize, huge: bool) -> Result<(), String> {
    let bytes = mib << 20;
    let kvm = open("/dev/rsvm")?;
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let mut d = dev;
    // SAFETY: RsvmPciDevice is the ioctl's argument; the kernel only reads it.
    if unsafe { libc::ioctl(vm.as_raw_fd(), RSVM_ASSIGN_DEVICE() as _, &mut d) } != 0 {
        return Err(format!("RSVM_ASSIGN_DEVICE: {} (device bound to rsvm?)", std::io::Error::last_os_error()));
    }
    let mem = backing(bytes, huge)?;
    let thp_kb = anon_huge_kb();
    if huge && thp_kb < (bytes as u64 >> 10) {
        return Err(format!("2 MiB case: only {thp_kb} KiB of the {mib} MiB are THP-backed"));
    }
    let (p0, s0) = (pinned()?, IoPt::read()?);
    let (w0, t0) = (Instant::now(), rdtsc());
    // SAFETY: `mem` outlives the slot (deleted below, before `mem` is dropped).
    unsafe { vm.set_user_memory_region(region(1, SLOT_GPA, bytes as u64, mem.ptr as u64, 0)) }
        .map_err(|e| format!("KVM_SET_USER_MEMORY_REGION {mib} MiB: {e}"))?;
    let (ticks, ns) = (rdtsc().wrapping_sub(t0), w0.elapsed().as_nanos());
    let (p1, s1) = (pinned()?, IoPt::read()?);
    let map = s1.since(s0);
    if p1 - p0 != (bytes / 4096) as i64 {
        return Err(format!("{mib} MiB: {} pages pinned, want {}", p1 - p0, bytes / 4096));
    }
    let (w1, t1) = (Instant::now(), rdtsc());
    // SAFETY: deletes the slot (size 0).
    unsafe { vm.set_user_memory_region(region(1, SLOT_GPA, 0, mem.ptr as u64, 0)) }.map_err(|e| format!("delete slot: {e}"))?;
    let (uticks, uns) = (rdtsc().wrapping_sub(t1), w1.elapsed().as_nanos());
    let unmap = IoPt::read()?.since(s1);
    if pinned()? != p0 {
        return Err(format!("{mib} MiB: pages still pinned after the slot was deleted"));
    }
    println!(
        "iommu_map,{mib},{},{ns},{ticks},{},{},{},{},{uns},{uticks},{}",
        if huge { "2m" } else { "4k" },
        map.entries_written, map.tables, map.maps_4k, map.maps_2m, unmap.entries_written
    );
    Ok(())
}

/// For each size in `mibs`: 4 KiB then 2 MiB backing, `repeat` times each.
pub fn iommu_map(dev: RsvmPciDevice, mibs: &[usize], repeat: usize) -> Result<(), String> {
    for &mib in mibs {
        for huge in [false, true] {
            for _ in 0..repeat {
                one(dev, mib, huge)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::IoPt;

    #[test]
    fn parses_the_debugfs_line() {
        let t = "domains: 1\nio_pt: entries_written 10 tables 3 maps_4k 5 maps_2m 2\nbound x\n";
        assert_eq!(IoPt::parse(t), Some(IoPt { entries_written: 10, tables: 3, maps_4k: 5, maps_2m: 2 }));
        assert_eq!(IoPt::parse("domains: 1\n"), None);
        assert_eq!(IoPt::parse("io_pt: entries_written x tables 3 maps_4k 5 maps_2m 2"), None);
    }
}
