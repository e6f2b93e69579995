//! Hostile and careless VMM behaviour: each case must end in a clean error, leave the host
//! alive, and leak nothing (pinned pages back to their count before the case).

use rsvm_guest::guest::{self, Guest, HostMem};
use crate::vmtests::{pinned_pages, run_payload};
use crate::{check, TestResult};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn errno_of<T>(r: Result<T, kvm_ioctls::Error>) -> Option<i32> {
    r.err().map(|e| e.errno())
}

fn raw(fd: i32, nr: u64, arg: u64) -> Result<i32, i32> {
    // SAFETY: the ioctls used here read or write at most one small struct at `arg`, which
    // callers pass as a valid buffer, NULL, or a value the kernel must reject.
    let r = unsafe { libc::ioctl(fd, nr as _, arg) };
    if r < 0 { Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) } else { Ok(r) }
}

/// Bad arguments on VM and vCPU fds.
fn bad_args(dev: &str) -> TestResult {
    let g = Guest::new(dev, rsvm_guest::payloads::Mode::Real, &[0xf4], &kvm_bindings::CpuId::new(1).map_err(|e| format!("{e:?}"))?)?;
    let vfd = g.vcpu.as_raw_fd();
    check(raw(vfd, 0x8090_ae81, 0) == Err(libc::EFAULT), || "KVM_GET_REGS into NULL: EFAULT".into())?;
    check(raw(vfd, 0xae80, 1) == Err(libc::EINVAL), || "KVM_RUN with a non-zero argument: EINVAL".into())?;
    let big = [1000u32, 0];
    check(raw(vfd, 0x4008_ae89, big.as_ptr() as u64) == Err(libc::E2BIG), || "KVM_SET_MSRS with 1000 entries: E2BIG".into())?;
    let cpuid = [300u32, 0];
    check(raw(vfd, 0x4008_ae90, cpuid.as_ptr() as u64) == Err(libc::E2BIG), || "KVM_SET_CPUID2 with 300 entries: E2BIG".into())?;
    let irq = [300u32];
    check(raw(vfd, rsvm_abi::KVM_INTERRUPT(), irq.as_ptr() as u64) == Err(libc::EINVAL), || "KVM_INTERRUPT vector 300: EINVAL".into())?;
    let irq = [0x20u32];
    check(raw(vfd, rsvm_abi::KVM_INTERRUPT(), irq.as_ptr() as u64) == Ok(0), || "KVM_INTERRUPT 0x20".into())?;
    check(raw(vfd, rsvm_abi::KVM_INTERRUPT(), irq.as_ptr() as u64) == Err(libc::EEXIST), || "a second KVM_INTERRUPT before injection: EEXIST".into())?;
    let mask = [4u32, 0];
    check(raw(vfd, rsvm_abi::KVM_SET_SIGNAL_MASK(), mask.as_ptr() as u64) == Err(libc::EINVAL), || "KVM_SET_SIGNAL_MASK with len 4: EINVAL".into())?;
    check(raw(vfd, 0xaeff, 0) == Err(libc::ENOTTY), || "unknown vCPU ioctl: ENOTTY".into())?;
    check(raw(g.vm.as_raw_fd(), 0xaeff, 0) == Err(libc::ENOTTY), || "unknown VM ioctl: ENOTTY".into())?;
    check(errno_of(g.vm.create_vcpu(0)) == Some(libc::EEXIST), || "KVM_CREATE_VCPU with an id in use: EEXIST".into())?;
    check(errno_of(g.vm.create_vcpu(5000)) == Some(libc::EINVAL), || "KVM_CREATE_VCPU id 5000: EINVAL".into())?;
    let mut extra = Vec::new();
    for id in 1..64 {
        extra.push(g.vm.create_vcpu(id).map_err(|e| format!("vCPU {id}: {e}"))?);
    }
    // The vCPU limit itself (KVM_CAP_MAX_VCPUS, 1024) is checked by `rsvm-test vm-setup`.
    println!("# ok: 64 vCPUs in one VM");
    Ok(())
}

/// Invalid CR0/CR4/EFER/segment state: EINVAL from KVM_SET_SREGS, or KVM_EXIT_FAIL_ENTRY
/// when only VMRUN can tell; never a host crash.
fn bad_state(dev: &str) -> TestResult {
    let table = kvm_bindings::CpuId::new(1).map_err(|e| format!("{e:?}"))?;
    let g = Guest::new(dev, rsvm_guest::payloads::Mode::Real, &[0xf4], &table)?;
    let s0 = g.vcpu.get_sregs().map_err(|e| e.to_string())?;
    let cases: [(&str, fn(&mut kvm_bindings::kvm_sregs)); 6] = [
        ("CR0.PG without CR0.PE", |s| s.cr0 = 0x8000_0010),
        ("CR0.NW without CR0.CD", |s| s.cr0 = 0x2000_0011),
        ("CR0 bits 63:32", |s| s.cr0 |= 1 << 40),
        ("EFER.LMA without paging", |s| s.efer = 0x400),
        ("CS.L outside long mode", |s| s.cs.l = 1),
        ("reserved CR4 bit 15", |s| s.cr4 = 1 << 15),
    ];
    for (what, f) in cases {
        let mut s = s0;
        f(&mut s);
        let r = g.vcpu.set_sregs(&s);
        check(errno_of(r) == Some(libc::EINVAL), || format!("KVM_SET_SREGS with {what}: EINVAL"))?;
    }
    Ok(())
}

/// State VMRUN refuses (CR3 bits above the physical-address width in long mode, APM vol. 2
/// 15.5.1): EINVAL from KVM_SET_SREGS or KVM_EXIT_FAIL_ENTRY with VMEXIT_INVALID; then the
/// vCPU is repaired and runs again.
fn fail_entry(dev: &str) -> TestResult {
    let mut g = run_payload_nowait(dev, "touch64")?;
    let good = g.vcpu.get_sregs().map_err(|e| e.to_string())?;
    let mut s = good;
    s.cr3 |= 1 << 62;
    match g.vcpu.set_sregs(&s) {
        Err(e) => check(e.errno() == libc::EINVAL, || format!("CR3 with bit 62: KVM_SET_SREGS fails with EINVAL ({e})"))?,
        Ok(()) => {
            let end = g.run(10)?;
            check(end == "fail-entry reason=0xffffffffffffffff", || format!("CR3 with bit 62: KVM_EXIT_FAIL_ENTRY with VMEXIT_INVALID ({end})"))?;
        }
    }
    g.vcpu.set_sregs(&good).map_err(|e| e.to_string())?;
    let mut r = g.vcpu.get_regs().map_err(|e| e.to_string())?;
    r.rip = guest::CODE;
    g.vcpu.set_regs(&r).map_err(|e| e.to_string())?;
    let end = g.run(10_000)?;
    check(end == "hlt", || format!("the repaired vCPU runs again ({end}; trace {:?})", g.trace))
}

/// An ioctl from a process that did not create the VM: EIO.
fn other_process(dev: &str) -> TestResult {
    let g = run_payload(dev, "readonly16")?;
    // SAFETY: fork in a single-threaded test process; the child only makes two ioctls and
    // exits without returning into Rust code that could unwind.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let a = raw(g.vcpu.as_raw_fd(), 0x8090_ae81, 0);
        let b = raw(g.vcpu.as_raw_fd(), 0xae80, 0);
        let c = raw(g.vm.as_raw_fd(), 0xae41, 7);
        let ok = a == Err(libc::EIO) && b == Err(libc::EIO) && c == Err(libc::EIO);
        // SAFETY: ends the child immediately.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut st = 0;
    // SAFETY: waits for our child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    check(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, || "vCPU and VM ioctls from a forked child: EIO".into())
}

/// Closing the system, VM and vCPU fds in every order releases everything.
fn close_orders(dev: &str) -> TestResult {
    let base = pinned_pages();
    for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let g = run_payload(dev, "touch64")?;
        check(pinned_pages() > base, || "the guest pinned memory".into())?;
        let Guest { _kvm, vm, vcpu, mem, .. } = g;
        let mut parts: [Option<Box<dyn std::any::Any>>; 3] = [Some(Box::new(_kvm)), Some(Box::new(vm)), Some(Box::new(vcpu))];
        for i in order {
            drop(parts[i].take());
        }
        drop(mem);
        let now = pinned_pages();
        check(now == base, || format!("close order {order:?} (0 system, 1 VM, 2 vCPU): pinned pages back to {base} ({now})"))?;
    }
    // The vCPU keeps its VM alive: close the VM fd, then run the vCPU.
    let mut g = run_payload(dev, "slotdel16")?;
    let vm = std::mem::replace(&mut g.vm, guest::open(dev)?.create_vm().map_err(|e| e.to_string())?);
    drop(vm);
    let mut r = g.vcpu.get_regs().map_err(|e| e.to_string())?;
    r.rip = guest::CODE;
    g.vcpu.set_regs(&r).map_err(|e| e.to_string())?;
    let end = g.run(100)?;
    check(end == "hlt", || format!("a vCPU runs after its VM fd was closed ({end})"))
}

/// The VMM unmaps guest memory while the guest uses it: the pinned pages stay valid for
/// the guest until the slot goes, then are released.
fn unmap_while_running(dev: &str) -> TestResult {
    let base = pinned_pages();
    let mut g = run_payload(dev, "touch64")?;
    // SAFETY: unmaps the guest RAM mapping; `g.mem` is not used afterwards except by its
    // (now no-op) Drop, which we prevent by forgetting it.
    unsafe { libc::munmap(g.mem.ptr.cast(), g.mem.len) };
    // (HostMem::new's mapping starts at `ptr`, so this unmapped all of it.)
    std::mem::forget(std::mem::replace(&mut g.mem, HostMem::new(4096)?));
    let mut r = g.vcpu.get_regs().map_err(|e| e.to_string())?;
    r.rip = guest::CODE;
    g.vcpu.set_regs(&r).map_err(|e| e.to_string())?;
    let end = g.run(2000)?;
    check(end == "hlt", || format!("the guest keeps running on its pinned pages ({end})"))?;
    drop(g);
    check(pinned_pages() == base, || format!("pinned pages back to {base}"))
}

/// A guest spinning forever: a signal ends KVM_RUN with EINTR (KVM_EXIT_INTR); SIGKILL
/// of the VMM during KVM_RUN frees everything.
fn spinning(dev: &str) -> TestResult {
    let base = pinned_pages();
    {
        let mut g = run_payload_nowait(dev, "spin64")?;
        rsvm_guest::guest::alarm_interrupts_run(1);
        let t = Instant::now();
        let r = g.vcpu.run().map(|_| ()).map_err(|e| e.errno());
        check(r == Err(libc::EINTR), || format!("SIGALRM ends KVM_RUN of a spinning guest with EINTR ({r:?})"))?;
        check(g.vcpu.get_kvm_run().exit_reason == kvm_bindings::KVM_EXIT_INTR, || "exit_reason is KVM_EXIT_INTR".into())?;
        check(t.elapsed() < Duration::from_secs(20), || "promptly".into())?;
        // KVM_SET_SIGNAL_MASK: SIGALRM blocked in the thread but not during KVM_RUN (how
        // VMMs take their kick signal) still ends KVM_RUN.
        // SAFETY: plain signal-mask calls on this thread.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGALRM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        let empty = [8u32, 0, 0];
        check(raw(g.vcpu.as_raw_fd(), rsvm_abi::KVM_SET_SIGNAL_MASK(), empty.as_ptr() as u64) == Ok(0), || "KVM_SET_SIGNAL_MASK(empty)".into())?;
        // SAFETY: as above.
        unsafe { libc::alarm(1) };
        let r = g.vcpu.run().map(|_| ()).map_err(|e| e.errno());
        check(r == Err(libc::EINTR), || format!("a signal blocked outside KVM_RUN but open inside it ends KVM_RUN ({r:?})"))?;
        // SAFETY: restore the thread's mask; the pending SIGALRM (if any) hits the no-op handler.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGALRM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
        check(raw(g.vcpu.as_raw_fd(), rsvm_abi::KVM_SET_SIGNAL_MASK(), 0) == Ok(0), || "KVM_SET_SIGNAL_MASK(NULL) clears it".into())?;
        // immediate_exit: KVM_RUN returns EINTR without entering the guest.
        g.vcpu.set_kvm_immediate_exit(1);
        let r = g.vcpu.run().map(|_| ()).map_err(|e| e.errno());
        check(r == Err(libc::EINTR), || format!("immediate_exit: EINTR ({r:?})"))?;
        g.vcpu.set_kvm_immediate_exit(0);
    }
    // SAFETY: fork; the child runs the spinning guest until it is killed.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        if let Ok(mut g) = run_payload_nowait(dev, "spin64") {
            let _ = g.vcpu.run();
        }
        // SAFETY: ends the child.
        unsafe { libc::_exit(3) };
    }
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kills and reaps our child.
    let mut st = 0;
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut st, 0);
    }
    check(libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL, || "SIGKILL ends a VMM inside KVM_RUN".into())?;
    let now = pinned_pages();
    check(now == base, || format!("pinned pages back to {base} after SIGKILL ({now})"))
}

/// Builds a payload VM without running it.
fn run_payload_nowait(dev: &str, name: &str) -> Result<Guest, String> {
    let (_, mode, code) = rsvm_guest::payloads::all().into_iter().find(|(n, _, _)| *n == name).ok_or("no payload")?;
    Guest::new(dev, mode, code, &kvm_bindings::CpuId::from_entries(&[kvm_bindings::kvm_cpuid_entry2 {
        function: 0x8000_0001, edx: 1 << 29, ..Default::default()
    }]).map_err(|e| format!("{e:?}"))?)
}

/// 64 VMs with 2 vCPUs each, alive at once: more vCPUs than ASIDs.
fn many_vms(dev: &str) -> TestResult {
    let base = pinned_pages();
    let mut vms = Vec::new();
    for i in 0..64 {
        let mut g = run_payload_nowait(dev, "readonly16").map_err(|e| format!("VM {i}: {e}"))?;
        g.add_slot(2, 0xc0000, 0x1000, 0xc5, true)?;
        let mut second = g.vm.create_vcpu(1).map_err(|e| format!("VM {i} vCPU 1: {e}"))?;
        let end = g.run(100)?;
        check(end == "hlt", || format!("VM {i} vCPU 0 ran ({end})"))?;
        // vCPU 1 starts at the reset vector with no code there: run it once to give it an
        // ASID too; any clean exit will do.
        second.set_kvm_immediate_exit(0);
        let mut r = second.get_regs().map_err(|e| e.to_string())?;
        r.rip = guest::CODE;
        second.set_regs(&r).map_err(|e| e.to_string())?;
        let mut s = second.get_sregs().map_err(|e| e.to_string())?;
        s.cs.base = 0;
        s.cs.selector = 0;
        second.set_sregs(&s).map_err(|e| e.to_string())?;
        let mut ends = 0;
        while ends < 50 {
            match second.run().map_err(|e| e.to_string())? {
                kvm_ioctls::VcpuExit::Hlt => break,
                _ => ends += 1,
            }
        }
        vms.push((g, second));
    }
    // Run every vCPU 0 again: ASIDs have been recycled many times over by now.
    for (i, (g, _)) in vms.iter_mut().enumerate() {
        let mut r = g.vcpu.get_regs().map_err(|e| e.to_string())?;
        r.rip = guest::CODE;
        g.vcpu.set_regs(&r).map_err(|e| e.to_string())?;
        g.results.clear();
        let end = g.run(100)?;
        check(end == "hlt" && g.results.len() == 2, || format!("VM {i} runs again after ASID reuse ({end})"))?;
    }
    println!("# 64 VMs x 2 vCPUs alive, pinned pages {}", pinned_pages() - base);
    drop(vms);
    check(pinned_pages() == base, || format!("pinned pages back to {base}"))
}

/// An MMIO access rsvm cannot decode ends in KVM_EXIT_INTERNAL_ERROR (emulation).
fn undecodable(dev: &str) -> TestResult {
    let mut g = run_payload_nowait(dev, "undecodable64")?;
    let end = g.run(10)?;
    check(end == "internal-error", || format!("ADD to MMIO: KVM_EXIT_INTERNAL_ERROR ({end})"))?;
    let suberror = g.vcpu.get_kvm_run().exit_reason;
    check(suberror == kvm_bindings::KVM_EXIT_INTERNAL_ERROR, || "exit_reason is KVM_EXIT_INTERNAL_ERROR".into())
}

pub fn hostile(dev: &str) -> TestResult {
    let base = pinned_pages();
    for (name, f) in [
        ("bad arguments", bad_args as fn(&str) -> TestResult),
        ("bad state", bad_state),
        ("fail entry", fail_entry),
        ("other process", other_process),
        ("close orders", close_orders),
        ("unmap while running", unmap_while_running),
        ("spinning guest", spinning),
        ("64 VMs", many_vms),
        ("undecodable MMIO", undecodable),
    ] {
        println!("# --- {name}");
        f(dev)?;
    }
    let now = pinned_pages();
    check(now == base, || format!("pinned pages back to {base} after every case ({now})"))
}
