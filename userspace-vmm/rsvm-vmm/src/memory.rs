//! Guest RAM: anonymous private mappings (optionally 2 MiB aligned and advised for
//! transparent huge pages), wrapped as a vm-memory `GuestMemoryMmap`, and registered with
//! the device as one memslot per range.

use crate::layout;
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::mmap::MmapRegionError;
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryError, GuestMemoryMmap, GuestMemoryRegion, GuestRegionCollectionError, GuestRegionMmap, MmapRegion};

const HUGE: usize = 2 << 20;

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("--mem {0}: too large for this host")]
    TooLargeForHost(u64),
    #[error("--mem too large")]
    TooLarge,
    #[error("mmap {size} bytes of guest RAM: {source}")]
    Mmap { size: usize, source: MmapRegionError },
    #[error("mmap {len} bytes of guest RAM: {source}")]
    MmapHuge { len: usize, source: std::io::Error },
    #[error("--hugepages: madvise(MADV_HUGEPAGE): {0} (is transparent huge page support enabled?)")]
    Madvise(std::io::Error),
    #[error("guest RAM region: {0}")]
    Region(MmapRegionError),
    #[error("guest RAM range overflows the address space")]
    Overflow,
    #[error("guest RAM: {0}")]
    Regions(GuestRegionCollectionError),
    #[error("guest RAM: {0}")]
    HostAddress(GuestMemoryError),
    #[error("KVM_SET_USER_MEMORY_REGION slot {slot} ({gpa:#x}+{size:#x}): {source}")]
    SetMemoryRegion { slot: usize, gpa: u64, size: u64, source: kvm_ioctls::Error },
}

/// Maps `mem` bytes of guest RAM at the addresses of `layout::ram_ranges`.
/// The calling process's RLIMIT_MEMLOCK in bytes (`None`: unlimited), and whether it has
/// CAP_IPC_LOCK, which exempts it from the limit.
pub fn memlock_limit() -> (Option<u64>, bool) {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one struct rlimit.
    let limit = if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) } == 0 && r.rlim_cur != libc::RLIM_INFINITY { Some(r.rlim_cur) } else { None };
    // CapEff in /proc/self/status, bit 14 (CAP_IPC_LOCK).
    let cap = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapEff:").and_then(|v| u64::from_str_radix(v.trim(), 16).ok())))
        .is_some_and(|c| c & (1 << 14) != 0);
    (limit, cap)
}

/// What to do when pinning guest memory hits RLIMIT_MEMLOCK, worked out once before the
/// sandbox is on (`warn_memlock`): the vCPU threads' filters allow neither getrlimit nor
/// reading /proc.
static MEMLOCK_ADVICE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn memlock_advice() -> &'static str {
    MEMLOCK_ADVICE.get().map_or("out of memory", |s| s.as_str())
}

/// Warns when guest RAM will not fit under RLIMIT_MEMLOCK: on a device that pins guest
/// memory (rsvm; KVM does not pin) the guest stops with ENOMEM once it has touched that much.
pub fn warn_memlock(mem: u64) {
    let advice = match memlock_limit() {
        (Some(l), false) => format!(
            "/dev/rsvm pins all guest memory and charges it to RLIMIT_MEMLOCK, {} KiB here: raise it (ulimit -l, LimitMEMLOCK= in a systemd unit) or run with CAP_IPC_LOCK",
            l >> 10
        ),
        _ => "out of memory".to_string(),
    };
    if let (Some(l), false) = memlock_limit() {
        if l < mem {
            log::warn!("RLIMIT_MEMLOCK is {} KiB, less than the guest's {} MiB: {advice}", l >> 10, mem >> 20);
        }
    }
    let _ = MEMLOCK_ADVICE.set(advice);
}

pub fn create(mem: u64, hugepages: bool) -> Result<GuestMemoryMmap, MemoryError> {
    let ranges = layout::ram_ranges(mem);
    let mut regions = Vec::new();
    for (gpa, size) in ranges {
        let size = usize::try_from(size).map_err(|_| MemoryError::TooLargeForHost(mem))?;
        let region = if hugepages { huge_region(size)? } else { MmapRegion::new(size).map_err(|source| MemoryError::Mmap { size, source })? };
        regions.push(GuestRegionMmap::new(region, GuestAddress(gpa)).ok_or(MemoryError::Overflow)?);
    }
    GuestMemoryMmap::from_regions(regions).map_err(MemoryError::Regions)
}

/// A 2 MiB-aligned anonymous mapping of `size` bytes with MADV_HUGEPAGE. The mapping lives as
/// long as the process (the VM's memory is never freed before exit).
fn huge_region(size: usize) -> Result<MmapRegion, MemoryError> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let len = size.checked_add(HUGE).ok_or(MemoryError::TooLarge)?;
    // SAFETY: a fresh anonymous mapping at an address the kernel picks; the result is checked.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return Err(MemoryError::MmapHuge { len, source: std::io::Error::last_os_error() });
    }
    let off = (HUGE - (p as usize % HUGE)) % HUGE;
    // SAFETY: off < HUGE, so [p + off, p + off + size) lies inside the mapping of len bytes.
    let start = unsafe { p.cast::<u8>().add(off) };
    // SAFETY: madvise on a range of our own mapping; it only changes the paging policy.
    if unsafe { libc::madvise(start.cast(), size, libc::MADV_HUGEPAGE) } != 0 {
        return Err(MemoryError::Madvise(std::io::Error::last_os_error()));
    }
    // SAFETY: [start, start + size) is inside the mapping made above, with the same prot and
    // flags, and it is never unmapped (build_raw regions do not unmap on drop).
    unsafe { MmapRegion::build_raw(start, size, prot, flags) }.map_err(MemoryError::Region)
}

/// Registers every RAM region as a memslot (slot numbers from 0).
pub fn register(vm: &VmFd, mem: &GuestMemoryMmap) -> Result<(), MemoryError> {
    for (slot, r) in mem.iter().enumerate() {
        let host = r.get_host_address(vm_memory::MemoryRegionAddress(0)).map_err(MemoryError::HostAddress)?;
        let region = kvm_userspace_memory_region {
            slot: slot as u32,
            flags: 0,
            guest_phys_addr: r.start_addr().0,
            memory_size: r.len(),
            userspace_addr: host as u64,
        };
        // SAFETY: the region is a live mapping owned by `mem`, which the caller keeps for the
        // VM's whole life (it is only dropped at process exit).
        unsafe { vm.set_user_memory_region(region) }
            .map_err(|source| MemoryError::SetMemoryRegion { slot, gpa: region.guest_phys_addr, size: region.memory_size, source })?;
    }
    Ok(())
}

/// This process's resident memory and the part of it that is guest RAM (the Rss of the
/// guest RAM mappings in /proc/self/smaps), in KiB.
pub fn resident_kb(mem: &vm_memory::GuestMemoryMmap) -> Option<(u64, u64)> {
    use vm_memory::{GuestMemoryBackend, GuestMemoryRegion};
    let starts: Vec<u64> = mem.iter().filter_map(|r| r.get_host_address(vm_memory::MemoryRegionAddress(0)).ok()).map(|p| p as u64).collect();
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let total = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let (mut guest, mut in_guest) = (0u64, false);
    for l in smaps.lines() {
        // A mapping's header: "start-end perms ..."; guest RAM mappings contain a region's
        // start (a huge-page region starts inside its larger, unaligned mapping).
        let range = l.split_whitespace().next().and_then(|r| r.split_once('-'));
        if let Some((Ok(lo), Ok(hi))) = range.map(|(lo, hi)| (u64::from_str_radix(lo, 16), u64::from_str_radix(hi, 16))) {
            in_guest = starts.iter().any(|&s| (lo..hi).contains(&s));
        } else if let Some(v) = l.strip_prefix("Rss:").filter(|_| in_guest) {
            guest += v.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Some((total, guest))
}

/// AnonHugePages of this process (guest RAM is nearly all of it), from smaps_rollup.
pub fn anon_huge_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = s.lines().find(|l| l.starts_with("AnonHugePages:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_follow_layout() {
        let m = create(64 << 20, false).unwrap();
        assert_eq!(m.num_regions(), 1);
        let m = create(64 << 20, true).unwrap();
        let r = m.iter().next().unwrap();
        let host = r.get_host_address(vm_memory::MemoryRegionAddress(0)).unwrap() as usize;
        assert_eq!(host % HUGE, 0, "hugepage-backed RAM is 2 MiB aligned");
    }
}
