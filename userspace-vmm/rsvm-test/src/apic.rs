//! The in-kernel local APIC through the KVM ABI, on any KVM-compatible device: the
//! KVM_CAP_SPLIT_IRQCHIP and KVM_SIGNAL_MSI rules (KVM's errnos), HLT sleeping in the kernel
//! until another thread's MSI, signals while halted, and a vCPU closed with its timer armed.

use crate::vmtests::apic_cpuid_table;
use crate::{check, TestResult};
use kvm_bindings::{kvm_enable_cap, kvm_msi, KVM_CAP_SPLIT_IRQCHIP};
use rsvm_guest::guest::Guest;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// _IOW(KVMIO, 0xa5, struct kvm_msi): the waker thread issues it on the raw VM fd.
const KVM_SIGNAL_MSI: u64 = (1 << 30) | (32 << 16) | (0xae << 8) | 0xa5;

fn errno<T>(r: Result<T, kvm_ioctls::Error>) -> Option<i32> {
    r.err().map(|e| e.errno())
}

fn split(args0: u64, flags: u32) -> kvm_enable_cap {
    let mut c = kvm_enable_cap { cap: KVM_CAP_SPLIT_IRQCHIP, flags, ..Default::default() };
    c.args[0] = args0;
    c
}

/// An MSI to APIC ID `dest`, fixed delivery, edge: address 0xFEE0_0000 | dest << 12.
fn msi(dest: u32, vector: u32) -> kvm_msi {
    kvm_msi { address_lo: 0xfee0_0000 | dest << 12, address_hi: 0, data: vector, flags: 0, devid: 0, pad: [0; 12] }
}

fn payload(dev: &str, name: &str) -> Result<Guest, String> {
    let (_, mode, code) = rsvm_guest::payloads::all().into_iter().find(|(n, _, _)| *n == name).ok_or("no payload")?;
    Guest::with_apic(dev, mode, code, &apic_cpuid_table())
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes the calling thread's CPU time into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn cap_rules(dev: &str) -> TestResult {
    let kvm = rsvm_guest::guest::open(dev)?;
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let r = vm.signal_msi(msi(0, 0x40));
    check(errno(r) == Some(libc::EINVAL), || "KVM_SIGNAL_MSI without an in-kernel APIC: EINVAL".into())?;
    check(errno(vm.enable_cap(&split(24, 1))) == Some(libc::EINVAL), || "KVM_ENABLE_CAP with flags: EINVAL".into())?;
    check(errno(vm.enable_cap(&split(4097, 0))) == Some(libc::EINVAL), || "KVM_CAP_SPLIT_IRQCHIP with 4097 routes (> KVM_MAX_IRQ_ROUTES): EINVAL".into())?;
    let mut other = split(24, 0);
    other.cap = 0x7fff;
    check(errno(vm.enable_cap(&other)) == Some(libc::EINVAL), || "KVM_ENABLE_CAP of an unknown capability: EINVAL".into())?;
    check(vm.enable_cap(&split(24, 0)).is_ok(), || "KVM_CAP_SPLIT_IRQCHIP with 24 routes".into())?;
    check(errno(vm.enable_cap(&split(24, 0))) == Some(libc::EEXIST), || "enabling it twice: EEXIST".into())?;
    let bsp = vm.create_vcpu(0).map_err(|e| format!("KVM_CREATE_VCPU 0: {e}"))?;
    let ap = vm.create_vcpu(1).map_err(|e| format!("KVM_CREATE_VCPU 1: {e}"))?;
    let (b, a) = (bsp.get_mp_state().map_err(|e| e.to_string())?.mp_state, ap.get_mp_state().map_err(|e| e.to_string())?.mp_state);
    check(b == kvm_bindings::KVM_MP_STATE_RUNNABLE && a == kvm_bindings::KVM_MP_STATE_UNINITIALIZED, || {
        format!("KVM_GET_MP_STATE: BSP runnable, AP waiting for SIPI ({b}, {a})")
    })?;
    ap.set_mp_state(kvm_bindings::kvm_mp_state { mp_state: kvm_bindings::KVM_MP_STATE_RUNNABLE }).map_err(|e| format!("KVM_SET_MP_STATE: {e}"))?;
    let a = ap.get_mp_state().map_err(|e| e.to_string())?.mp_state;
    check(a == kvm_bindings::KVM_MP_STATE_RUNNABLE, || format!("KVM_SET_MP_STATE(RUNNABLE) sticks ({a})"))?;
    let mut bad = msi(0, 0x40);
    bad.flags = 0x80;
    check(errno(vm.signal_msi(bad)) == Some(libc::EINVAL), || "KVM_SIGNAL_MSI with unknown flags: EINVAL".into())?;
    let vm2 = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let _vcpu = vm2.create_vcpu(0).map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
    let r = errno(vm2.enable_cap(&split(24, 0)));
    check(r == Some(libc::EEXIST), || format!("KVM_CAP_SPLIT_IRQCHIP after a vCPU exists: EEXIST ({r:?})"))?;
    let tsc = _vcpu.get_tsc_khz().map_err(|e| format!("KVM_GET_TSC_KHZ: {e}"))?;
    check(tsc > 0, || format!("KVM_GET_TSC_KHZ = {tsc}"))
}

/// The guest halts with IF=1 and nothing pending; another thread's MSI wakes it. The vCPU
/// thread must sleep meanwhile, not spin: its CPU time stays far below the wall time.
fn hlt_sleeps_until_msi(dev: &str) -> TestResult {
    let mut g = payload(dev, "apic_wake64")?;
    let vm_fd = g.vm.as_raw_fd();
    let t0 = Instant::now();
    let cpu0 = thread_cpu_time();
    let r = std::thread::scope(|s| {
        let waker = s.spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let m = msi(0, 0x60);
            // SAFETY: KVM_SIGNAL_MSI reads a `kvm_msi` from `m`, which lives across the call;
            // the VM fd stays open until the scope ends.
            let r = unsafe { libc::ioctl(vm_fd, KVM_SIGNAL_MSI as _, &m as *const kvm_msi) };
            if r < 0 { Err(format!("KVM_SIGNAL_MSI: {}", std::io::Error::last_os_error())) } else { Ok(r) }
        });
        let run = g.run(100);
        (run, waker.join())
    });
    let wall = t0.elapsed();
    let cpu = thread_cpu_time() - cpu0;
    let (run, sent) = r;
    let sent = sent.map_err(|_| "waker thread panicked".to_string())??;
    check(sent == 1, || format!("KVM_SIGNAL_MSI delivered to {sent} vCPU (want 1)"))?;
    let end = run?;
    check(end == "done" && g.results.iter().any(|d| d.first() == Some(&0x60)), || format!("the MSI's vector 0x60 reached the guest ({end})"))?;
    check(wall >= Duration::from_millis(350), || format!("KVM_RUN returned only after the MSI ({wall:?})"))?;
    check(cpu < wall / 4, || format!("the halted vCPU slept: {cpu:?} CPU in {wall:?} (no busy wait)"))
}

/// A signal ends the sleep of a halted vCPU with EINTR (KVM_EXIT_INTR); it stays halted, and
/// an MSI after that still wakes it.
fn signal_while_halted(dev: &str) -> TestResult {
    let mut g = payload(dev, "apic_wake64")?;
    rsvm_guest::guest::alarm_interrupts_run(1);
    let r = g.vcpu.run().map(|_| ()).map_err(|e| e.errno());
    check(r == Err(libc::EINTR), || format!("SIGALRM ends KVM_RUN of a halted vCPU with EINTR ({r:?})"))?;
    check(g.vcpu.get_kvm_run().exit_reason == kvm_bindings::KVM_EXIT_INTR, || "exit_reason KVM_EXIT_INTR".into())?;
    let n = g.vm.signal_msi(msi(0, 0x60)).map_err(|e| format!("KVM_SIGNAL_MSI: {e}"))?;
    check(n == 1, || "KVM_SIGNAL_MSI to APIC 0 while the vCPU is outside KVM_RUN".into())?;
    let end = g.run(100)?;
    check(end == "done", || format!("the next KVM_RUN takes the MSI and the guest finishes ({end})"))
}

/// A guest with a 1 ms periodic APIC timer sleeps in HLT with IF=0 (forever, as on a CPU).
/// A signal ends KVM_RUN; closing the vCPU with the timer armed must cancel it cleanly.
fn close_with_timer_armed(dev: &str) -> TestResult {
    for _ in 0..3 {
        let mut g = payload(dev, "apic_sleep64")?;
        rsvm_guest::guest::alarm_interrupts_run(1);
        let t = Instant::now();
        let r = g.vcpu.run().map(|_| ()).map_err(|e| e.errno());
        check(r == Err(libc::EINTR), || format!("HLT with IF=0 sleeps until a signal ({r:?} after {:?})", t.elapsed()))?;
        drop(g);
    }
    check(true, || "three VMs closed with a periodic timer armed".into())
}

pub fn lapic(dev: &str) -> TestResult {
    for (name, f) in [
        ("capability rules", cap_rules as fn(&str) -> TestResult),
        ("HLT sleeps until an MSI", hlt_sleeps_until_msi),
        ("signal while halted", signal_while_halted),
        ("close with the timer armed", close_with_timer_armed),
    ] {
        println!("# --- {name}");
        f(dev)?;
    }
    Ok(())
}
