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
/// markers (ports 0xf1, 0xf2). Under QEMU `-icount shift=0` the TSC counts instructions.
fn bench_payload(dev: &str, name: &str, iters: u64) -> Result<f64, String> {
    let (_, mode, code) = payloads::all().into_iter().find(|(n, _, _)| *n == name).ok_or("no payload")?;
    let mut g = Guest::new(dev, mode, code, &rsvm_guest::guest::long_mode_cpuid()?)?;
    g.mem.write(0x700, &iters.to_le_bytes());
    let (mut t0, mut t1) = (0, 0);
    loop {
        match g.vcpu.run().map_err(|e| format!("KVM_RUN: {e}"))? {
            kvm_ioctls::VcpuExit::IoOut(0xf1, _) => t0 = rdtsc(),
            kvm_ioctls::VcpuExit::IoOut(0xf2, _) => t1 = rdtsc(),
            kvm_ioctls::VcpuExit::IoOut(..) => {}
            kvm_ioctls::VcpuExit::Hlt => break,
            e => return Err(format!("{name}: unexpected exit {e:?}")),
        }
    }
    Ok(t1.wrapping_sub(t0) as f64 / iters as f64)
}

/// One result row: `exit,<name>,<device>,<ticks per round trip>`.
fn row(name: &str, dev: &str, v: f64) {
    println!("exit,{name},{},{v:.0}", crate::device_name(dev));
}

/// Exit costs per round trip, printed as CSV rows.
pub fn exit_costs(dev: &str, iters: u64) -> Result<(), String> {
    let cpuid = bench_payload(dev, "bench_cpuid64", iters)?;
    let out = bench_payload(dev, "bench_out64", iters)?;
    row("cpuid", dev, cpuid);
    row("out_roundtrip", dev, out);
    if dev.ends_with("rsvm") {
        let f = std::fs::File::open(dev).map_err(|e| e.to_string())?;
        let mut b = rsvm_abi::RsvmBenchFloor { iterations: iters, tsc_delta: 0 };
        use std::os::fd::AsRawFd;
        // SAFETY: the kernel reads and writes one RsvmBenchFloor.
        let r = unsafe { libc::ioctl(f.as_raw_fd(), rsvm_abi::RSVM_BENCH_FLOOR() as _, &mut b) };
        if r != 0 {
            return Err(format!("RSVM_BENCH_FLOOR: {}", std::io::Error::last_os_error()));
        }
        row("floor_vmrun", dev, b.tsc_delta as f64 / iters as f64);
    }
    if cpuid > 0.0 && out > 0.0 { Ok(()) } else { Err("exit costs not measured".into()) }
}
