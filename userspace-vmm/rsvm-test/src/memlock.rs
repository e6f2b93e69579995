//! Pinned guest memory is charged to the VMM's `mm->pinned_vm` (VmPin in /proc/PID/status)
//! and limited by RLIMIT_MEMLOCK unless the VMM has CAP_IPC_LOCK (issue 15 section 2; the
//! accounting of ib_umem and iommufd). rsvm only: KVM does not pin guest memory.
//!
//! Each case runs in a child process (the test runs as root: the child drops CAP_IPC_LOCK
//! itself, and its limits and VmPin are its own): payload touch64 touches 2 MiB at GPA
//! 2 MiB, more than a 1 MiB limit allows.

use crate::vmtests::{pinned_pages, run_payload};
use crate::{check, TestResult};

/// VmPin of this process in KiB.
pub(crate) fn vm_pin_kb() -> Result<u64, String> {
    let s = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    s.lines().find_map(|l| l.strip_prefix("VmPin:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).ok_or("no VmPin line".into())
}

/// `struct __user_cap_header_struct` and `__user_cap_data_struct` (version 3: two words).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
const CAP_IPC_LOCK: u32 = 14;

/// Drops CAP_IPC_LOCK from this process (effective and permitted: for good).
pub(crate) fn drop_cap_ipc_lock() -> TestResult {
    let mut h = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut d = [CapData::default(); 2];
    // SAFETY: capget fills the header and two data words.
    if unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut CapHeader, d.as_mut_ptr()) } != 0 {
        return Err(format!("capget: {}", std::io::Error::last_os_error()));
    }
    d[0].effective &= !(1 << CAP_IPC_LOCK);
    d[0].permitted &= !(1 << CAP_IPC_LOCK);
    // SAFETY: capset reads the header and two data words.
    if unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut CapHeader, d.as_ptr()) } != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

pub(crate) fn set_memlock(bytes: u64) -> TestResult {
    let r = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: setrlimit reads one struct rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) } != 0 {
        return Err(format!("setrlimit(RLIMIT_MEMLOCK, {bytes}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Runs `f` in a child process: its error, printed there, fails the parent.
pub(crate) fn in_child(what: &str, f: impl FnOnce() -> TestResult) -> TestResult {
    // SAFETY: this test is single-threaded here; the child only runs `f` and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = match f() {
            Ok(()) => 0,
            Err(e) => {
                println!("# {what}: {e}");
                1
            }
        };
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    check(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, || format!("{what} (child status {status:#x})"))
}

/// One guest running touch64 under `limit` bytes of RLIMIT_MEMLOCK: whether it may finish,
/// VmPin while it exists (all of it pinned memory, at most the limit without CAP_IPC_LOCK),
/// and VmPin 0 once it is gone.
fn case(dev: &str, limit: u64, keep_cap: bool, finishes: bool) -> TestResult {
    if !keep_cap {
        drop_cap_ipc_lock()?;
    }
    set_memlock(limit)?;
    check(vm_pin_kb()? == 0, || "VmPin is 0 before any VM".into())?;
    match run_payload(dev, "touch64") {
        Ok(g) => {
            check(finishes, || format!("touch64 stopped at RLIMIT_MEMLOCK {} KiB (it ran to {:?})", limit >> 10, g.trace.last()))?;
            let pin = vm_pin_kb()?;
            check(pin >= 2048, || format!("VmPin counts the 2 MiB the guest touched ({pin} kB)"))?;
            check(keep_cap || pin <= limit >> 10, || format!("VmPin within the limit ({pin} kB)"))?;
        }
        Err(e) => {
            check(!finishes, || format!("touch64 runs with RLIMIT_MEMLOCK {} KiB, CAP_IPC_LOCK {keep_cap}: {e}", limit >> 10))?;
            check(e.contains("KVM_RUN") && e.contains("os error 12"), || format!("the guest stops with ENOMEM from KVM_RUN ({e})"))?;
        }
    }
    let after = vm_pin_kb()?;
    check(after == 0, || format!("VmPin back to 0 after the VM closed ({after} kB)"))
}

pub fn memlock(dev: &str) -> TestResult {
    let before = pinned_pages();
    in_child("no CAP_IPC_LOCK, RLIMIT_MEMLOCK 1 MiB: touch64 stops with ENOMEM", || case(dev, 1 << 20, false, false))?;
    in_child("no CAP_IPC_LOCK, RLIMIT_MEMLOCK 64 MiB: touch64 runs", || case(dev, 64 << 20, false, true))?;
    in_child("CAP_IPC_LOCK, RLIMIT_MEMLOCK 1 MiB: touch64 runs (the capability exempts)", || case(dev, 1 << 20, true, true))?;
    let after = pinned_pages();
    check(after == before, || format!("rsvm's pinned pages back to {before} ({after})"))
}

/// RLIMIT_MEMLOCK at device assignment (issue 15 section 2): assignment pins every slot, so a
/// VMM without CAP_IPC_LOCK whose limit is below its memory gets ENOMEM, the device stays
/// free (a second VM takes it), and VmPin is 0 again once the VM is gone.
pub fn at_assignment(dev: rsvm_abi::RsvmPciDevice) -> TestResult {
    let before = pinned_pages();
    in_child("no CAP_IPC_LOCK, RLIMIT_MEMLOCK 1 MiB: assigning edu to a VM of 4 MiB is ENOMEM", || {
        drop_cap_ipc_lock()?;
        set_memlock(1 << 20)?;
        let kvm = rsvm_guest::guest::open("/dev/rsvm")?;
        let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
        let mem = rsvm_guest::guest::HostMem::new(0x40_0000)?;
        // SAFETY: `mem` outlives the VM (dropped after it, in reverse order).
        unsafe { vm.set_user_memory_region(rsvm_guest::guest::region(0, 0, 0x40_0000, mem.ptr as u64, 0)) }
            .map_err(|e| format!("slot: {e}"))?;
        let mut d = dev;
        // SAFETY: RSVM_ASSIGN_DEVICE reads one RsvmPciDevice.
        let r = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&vm), rsvm_abi::RSVM_ASSIGN_DEVICE() as _, &mut d) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        check(r < 0 && errno == Some(libc::ENOMEM), || format!("RSVM_ASSIGN_DEVICE: {r}, errno {errno:?} (want ENOMEM)"))?;
        check(vm_pin_kb()? <= 1024, || "VmPin within the limit after the refusal".into())?;
        drop(vm);
        drop(mem);
        let after = vm_pin_kb()?;
        check(after == 0, || format!("VmPin back to 0 after the VM closed ({after} kB)"))
    })?;
    let after = pinned_pages();
    check(after == before, || format!("rsvm's pinned pages back to {before} ({after})"))
}
