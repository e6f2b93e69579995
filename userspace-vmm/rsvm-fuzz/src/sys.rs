//! What the fuzzer needs from the system: KVM's ioctl numbers (from `kvm-bindings`' layouts,
//! so a size mistake here cannot happen), a raw ioctl that counts itself, host mappings with
//! guard pages, and the two oracles besides a crash: new kernel-log lines of trouble
//! (`/dev/kmsg`) and rsvm's leak counters in debugfs.

use kvm_bindings::*;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use vmm_sys_util::{ioctl_io_nr, ioctl_ior_nr, ioctl_iow_nr, ioctl_iowr_nr};

const KVMIO: u32 = 0xAE;
ioctl_io_nr!(GET_API_VERSION, KVMIO, 0x00);
ioctl_io_nr!(CREATE_VM, KVMIO, 0x01);
ioctl_iowr_nr!(GET_MSR_INDEX_LIST, KVMIO, 0x02, kvm_msr_list);
ioctl_io_nr!(CHECK_EXTENSION, KVMIO, 0x03);
ioctl_io_nr!(GET_VCPU_MMAP_SIZE, KVMIO, 0x04);
ioctl_iowr_nr!(GET_SUPPORTED_CPUID, KVMIO, 0x05, kvm_cpuid2);
ioctl_io_nr!(CREATE_VCPU, KVMIO, 0x41);
ioctl_iow_nr!(SET_USER_MEMORY_REGION, KVMIO, 0x46, kvm_userspace_memory_region);
ioctl_iow_nr!(ENABLE_CAP, KVMIO, 0xa3, kvm_enable_cap);
ioctl_iow_nr!(SIGNAL_MSI, KVMIO, 0xa5, kvm_msi);
ioctl_io_nr!(RUN, KVMIO, 0x80);
ioctl_ior_nr!(GET_REGS, KVMIO, 0x81, kvm_regs);
ioctl_iow_nr!(SET_REGS, KVMIO, 0x82, kvm_regs);
ioctl_ior_nr!(GET_SREGS, KVMIO, 0x83, kvm_sregs);
ioctl_iow_nr!(SET_SREGS, KVMIO, 0x84, kvm_sregs);
ioctl_iow_nr!(INTERRUPT, KVMIO, 0x86, kvm_interrupt);
ioctl_iowr_nr!(GET_MSRS, KVMIO, 0x88, kvm_msrs);
ioctl_iow_nr!(SET_MSRS, KVMIO, 0x89, kvm_msrs);
ioctl_iow_nr!(SET_SIGNAL_MASK, KVMIO, 0x8b, kvm_signal_mask);
ioctl_ior_nr!(GET_FPU, KVMIO, 0x8c, kvm_fpu);
ioctl_iow_nr!(SET_FPU, KVMIO, 0x8d, kvm_fpu);
ioctl_iow_nr!(SET_CPUID2, KVMIO, 0x90, kvm_cpuid2);
ioctl_ior_nr!(GET_MP_STATE, KVMIO, 0x98, kvm_mp_state);
ioctl_iow_nr!(SET_MP_STATE, KVMIO, 0x99, kvm_mp_state);
ioctl_io_nr!(GET_TSC_KHZ, KVMIO, 0xa3);
ioctl_ior_nr!(GET_XSAVE, KVMIO, 0xa4, kvm_xsave);
ioctl_iow_nr!(SET_XSAVE, KVMIO, 0xa5, kvm_xsave);
ioctl_ior_nr!(GET_LAPIC, KVMIO, 0x8e, kvm_lapic_state);
ioctl_iow_nr!(SET_LAPIC, KVMIO, 0x8f, kvm_lapic_state);
ioctl_ior_nr!(GET_VCPU_EVENTS, KVMIO, 0x9f, kvm_vcpu_events);
ioctl_iow_nr!(SET_VCPU_EVENTS, KVMIO, 0xa0, kvm_vcpu_events);
ioctl_ior_nr!(GET_DEBUGREGS, KVMIO, 0xa1, kvm_debugregs);
ioctl_iow_nr!(SET_DEBUGREGS, KVMIO, 0xa2, kvm_debugregs);
ioctl_io_nr!(GET_STATS_FD, KVMIO, 0xce);
ioctl_iow_nr!(SET_DEVICE_ATTR, KVMIO, 0xe1, kvm_device_attr);
ioctl_iow_nr!(GET_DEVICE_ATTR, KVMIO, 0xe2, kvm_device_attr);
ioctl_iow_nr!(SET_CLOCK, KVMIO, 0x7b, kvm_clock_data);
ioctl_ior_nr!(GET_CLOCK, KVMIO, 0x7c, kvm_clock_data);
ioctl_iow_nr!(REGISTER_COALESCED_MMIO, KVMIO, 0x67, kvm_coalesced_mmio_zone);
ioctl_iow_nr!(UNREGISTER_COALESCED_MMIO, KVMIO, 0x68, kvm_coalesced_mmio_zone);

/// Figures and progress, in a MAP_SHARED page so that forked children (the worker and the
/// children programs fork) count into the same numbers and the supervisor sees progress.
#[repr(C)]
pub struct Shared {
    /// ioctls made (every call, whatever its result).
    pub ioctls: AtomicU64,
    /// Guest programs run (a Guest call that reached KVM_RUN).
    pub guests: AtomicU64,
    pub programs: AtomicU64,
    /// Calls executed (the supervisor's watchdog watches it move).
    pub calls: AtomicU64,
    /// The program running now and the index of its call.
    pub seed: AtomicU64,
    pub call: AtomicU64,
    /// Index (from the base seed) of the next program the worker runs.
    pub next: AtomicU64,
    pub findings: AtomicU64,
    /// Set by the supervisor: the worker stops after its current program.
    pub stop: AtomicU64,
    /// How guest runs ended, by guest::End.
    pub ends: [AtomicU64; 8],
    /// Exit reasons of runs that ended as End::Other, by kvm_run.exit_reason (63: larger).
    pub reasons: [AtomicU64; 64],
}

static SHARED: std::sync::OnceLock<&'static Shared> = std::sync::OnceLock::new();

/// The shared counters (mapped on first use, before any fork).
pub fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        // SAFETY: a new shared anonymous page, zero-filled (a valid all-zero `Shared`), never
        // unmapped: the 'static reference stays valid.
        unsafe {
            let p = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0);
            assert!(p != libc::MAP_FAILED, "mmap of the shared page");
            &*(p as *const Shared)
        }
    })
}

/// One ioctl; `Err(errno)` on failure.
pub fn ioctl(fd: i32, nr: u64, arg: u64) -> Result<i32, i32> {
    shared().ioctls.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the fuzzer's arguments are either buffers it owns (sized for the struct the
    // number encodes, or deliberately short with a guard page behind them), or addresses the
    // kernel must refuse (NULL, kernel, unmapped): none can make the kernel write into memory
    // the fuzzer uses for anything else.
    let r = unsafe { libc::ioctl(fd, nr as _, arg) };
    if r < 0 { Err(errno()) } else { Ok(r) }
}

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn close(fd: i32) {
    // SAFETY: closes an fd the fuzzer opened (its tables forget it right after).
    unsafe { libc::close(fd) };
}

/// An anonymous mapping of `len` bytes followed by an inaccessible guard page (a struct
/// placed to end at `end()` makes the kernel's copy fault half-way).
pub struct Map {
    pub ptr: u64,
    pub len: u64,
    /// The whole mapping (`ptr` may be aligned inside it), for munmap.
    base: u64,
    total: u64,
}

impl Map {
    pub fn new(len: u64, prot: i32, huge: bool) -> Option<Self> {
        const M2: u64 = 2 << 20;
        let total = len + 4096 + if huge { M2 } else { 0 };
        // SAFETY: a new private anonymous mapping; nothing else refers to it.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), total as usize, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        let base = p as u64;
        let ptr = if huge { (base + M2 - 1) & !(M2 - 1) } else { base };
        // SAFETY: the guard page and, for huge, the advice are inside the mapping.
        unsafe {
            libc::mprotect((ptr + len) as *mut libc::c_void, 4096, libc::PROT_NONE);
            if huge {
                libc::madvise(ptr as *mut libc::c_void, len as usize, libc::MADV_HUGEPAGE);
            }
        }
        Some(Self { ptr, len, base, total })
    }

    /// Unmaps the whole mapping.
    pub fn unmap(self) {
        // SAFETY: our own mapping; the caller gives up the only handle to it.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.total as usize) };
    }

    pub fn end(&self) -> u64 {
        self.ptr + self.len
    }

    /// Writes `data` at offset `off` (clipped to the mapping) if the mapping is writable.
    pub fn write(&self, off: u64, data: &[u8]) -> bool {
        if off >= self.len {
            return false;
        }
        let n = data.len().min((self.len - off) as usize);
        // SAFETY: inside our own mapping; a write to a page made read-only or unmapped by a
        // Munmap/Protect op would fault, so the executor only calls this on maps it knows are
        // writable (Executor::writable).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), (self.ptr + off) as *mut u8, n) };
        true
    }
}

/// Kernel-log lines that fail a run: the same pattern as scripts/vm-run.
pub const TROUBLE: &[&str] = &[
    "Oops", "BUG:", "WARNING:", "Kernel panic", "general protection fault", "possible recursive locking",
    "possible circular locking", "inconsistent lock state", "INFO: lockdep", "suspicious RCU usage",
    "rcu_sched self-detected", "rcu: INFO", "soft lockup", "hard LOCKUP", "hung_task", "Call Trace:", "UBSAN:",
    "list_add corruption", "list_del corruption", "kmemleak",
];

/// New records of the kernel log since the last call, from /dev/kmsg (non-blocking).
pub struct Kmsg {
    f: Option<std::fs::File>,
}

impl Kmsg {
    /// Opens /dev/kmsg positioned at the end: only what happens from now on is read.
    pub fn open() -> Self {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg").ok();
        if let Some(f) = &f {
            use std::os::fd::AsRawFd;
            // SAFETY: seeks our own fd.
            unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_END) };
        }
        Self { f }
    }

    /// The new lines that match [`TROUBLE`].
    pub fn trouble(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(f) = self.f.as_mut() else { return out };
        let mut buf = vec![0u8; 8192];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    let msg = rec.split_once(';').map(|(_, m)| m).unwrap_or(&rec).trim_end().to_string();
                    if TROUBLE.iter().any(|t| msg.contains(t)) {
                        out.push(msg);
                    }
                }
                // EPIPE: records were overwritten before we read them; keep reading.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// rsvm's leak counters (debugfs); None on /dev/kvm or without debugfs.
pub fn counters() -> Option<(u64, u64)> {
    let rd = |n: &str| std::fs::read_to_string(format!("/sys/kernel/debug/rsvm/{n}")).ok()?.trim().parse::<u64>().ok();
    Some((rd("pages_held")?, rd("pinned_pages")?))
}

/// Whether a failed call failed with EINTR.
pub fn errno_is_intr(r: &Result<i32, i32>) -> bool {
    *r == Err(libc::EINTR)
}
