//! Exit costs: a CPUID exit handled in the kernel, an OUT exit to the VMM and back, and on
//! rsvm the floor (a bare VMRUN/#VMEXIT loop inside the module). Counted in TSC ticks of
//! the host (under QEMU `-icount shift=0` the L1 TSC counts instructions).

use rsvm_guest::guest::Guest;
use rsvm_guest::payloads;


pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no preconditions.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// L1 TSC ticks per iteration of a bench payload, measured between its start and end
/// markers (ports 0xf1, 0xf2); every other exit (the one measured) is answered and the guest
/// resumed. Under QEMU `-icount shift=0` the TSC counts instructions.
fn bench_payload(dev: &str, name: &str, iters: u64) -> Result<f64, String> {
    let (_, mode, code) = payloads::all().into_iter().find(|(n, _, _)| *n == name).ok_or("no payload")?;
    let cpuid = rsvm_guest::guest::long_mode_cpuid()?;
    // The wake-up payload needs the in-kernel APIC; it ends at the DONE port, not HLT.
    let apic = name == "bench_hltwake64";
    let mut g = if apic { Guest::with_apic(dev, mode, code, &cpuid)? } else { Guest::new(dev, mode, code, &cpuid)? };
    g.mem.write(0x700, &iters.to_le_bytes());
    if apic {
        // A lost wake-up must fail the measurement, not hang it: SIGALRM ends KVM_RUN.
        rsvm_guest::guest::alarm_interrupts_run(120);
    }
    let (mut t0, mut t1) = (0, 0);
    loop {
        match g.vcpu.run().map_err(|e| format!("KVM_RUN: {e}"))? {
            kvm_ioctls::VcpuExit::IoOut(0xf1, _) => t0 = rdtsc(),
            kvm_ioctls::VcpuExit::IoOut(0xf2, _) => t1 = rdtsc(),
            kvm_ioctls::VcpuExit::Hlt if t1 != 0 => break,
            kvm_ioctls::VcpuExit::IoOut(rsvm_guest::guest::DONE_PORT, _) if t1 != 0 => break,
            kvm_ioctls::VcpuExit::IoOut(..) | kvm_ioctls::VcpuExit::Hlt | kvm_ioctls::VcpuExit::MmioWrite(..) => {}
            e => return Err(format!("{name}: unexpected exit {e:?}")),
        }
    }
    if apic {
        rsvm_guest::guest::alarm_interrupts_run(0);
    }
    Ok(t1.wrapping_sub(t0) as f64 / iters as f64)
}

/// One result row: `exit,<name>,<device>,<median>,<min>,<max>` in ticks per round trip.
fn row(name: &str, dev: &str, v: &[f64]) -> Result<(), String> {
    let s = crate::stats::summarize(v).ok_or(format!("{name}: no measurement"))?;
    if !(s.min > 0.0) {
        return Err(format!("{name}: not measured"));
    }
    println!("exit,{name},{},{:.0},{:.0},{:.0}", crate::device_name(dev), s.median, s.min, s.max);
    Ok(())
}

/// Exit costs per round trip, each measured `repeat` times, as CSV rows: CPUID, VMMCALL and
/// RDMSR (PAT) handled in the kernel; OUT, HLT and an MMIO write, to this process and back;
/// HLT woken by the in-kernel APIC timer (a 50 us one-shot armed before each HLT: the vCPU
/// sleeps in the kernel until the hrtimer fires, the interrupt is injected, the guest EOIs;
/// the 50 us are in the figure); and on rsvm the floor.
pub fn exit_costs(dev: &str, iters: u64, repeat: usize) -> Result<(), String> {
    for (name, payload) in [
        ("cpuid", "bench_cpuid64"),
        ("vmmcall", "bench_vmmcall64"),
        ("rdmsr", "bench_msr64"),
        ("out_roundtrip", "bench_out64"),
        ("hlt_roundtrip", "bench_hlt64"),
        ("hlt_wakeup", "bench_hltwake64"),
        ("mmio_roundtrip", "bench_mmio64"),
    ] {
        let v = (0..repeat).map(|_| bench_payload(dev, payload, iters)).collect::<Result<Vec<_>, _>>()?;
        row(name, dev, &v)?;
    }
    if dev.ends_with("rsvm") {
        let f = std::fs::File::open(dev).map_err(|e| e.to_string())?;
        let mut v = Vec::new();
        for _ in 0..repeat {
            let mut b = rsvm_abi::RsvmBenchFloor { iterations: iters, tsc_delta: 0 };
            use std::os::fd::AsRawFd;
            // SAFETY: the kernel reads and writes one RsvmBenchFloor.
            let r = unsafe { libc::ioctl(f.as_raw_fd(), rsvm_abi::RSVM_BENCH_FLOOR() as _, &mut b) };
            if r != 0 {
                return Err(format!("RSVM_BENCH_FLOOR: {}", std::io::Error::last_os_error()));
            }
            v.push(b.tsc_delta as f64 / iters as f64);
        }
        row("floor_vmrun", dev, &v)?;
    }
    Ok(())
}
