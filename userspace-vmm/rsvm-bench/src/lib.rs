//! rsvm's "cost of virtualization" benchmark (after Drepper, "The Cost of Virtualization",
//! ACM Queue 2008, figure 2): the pointer-chasing list, the statistics, the experiments
//! (exit costs, the chase natively and in a guest) and the report.

pub mod chase;
pub mod exits;
pub mod iomap;
pub mod list;
pub mod report;
pub mod stats;

/// "rsvm" or "kvm", from a device path, for result rows.
pub fn device_name(dev: &str) -> &'static str {
    if dev.ends_with("kvm") { "kvm" } else { "rsvm" }
}

/// rsvm's per-vCPU counters (`RSVM_GET_VCPU_STATS`), or None on another device.
pub fn rsvm_stats(vcpu: &kvm_ioctls::VcpuFd) -> Option<rsvm_abi::RsvmVcpuStats> {
    use std::os::fd::AsRawFd;
    let mut s = rsvm_abi::RsvmVcpuStats::default();
    // SAFETY: the kernel writes one RsvmVcpuStats into `s`.
    let r = unsafe { libc::ioctl(vcpu.as_raw_fd(), rsvm_abi::RSVM_GET_VCPU_STATS() as _, &mut s) };
    (r == 0).then_some(s)
}

fn meminfo_kb(key: &str) -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn self_rss_kb() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn rsvm_pages_held() -> i64 {
    std::fs::read_to_string("/sys/kernel/debug/rsvm/pages_held").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Memory per VM and per vCPU: rsvm's hardware pages (`pages_held`) and unreclaimable slab,
/// over 8 VMs of 1 vCPU (run to HLT, so everything is allocated) and then a second vCPU
/// each; and this process's resident size per VM beyond the guest memory it touched.
/// Prints `overhead,<device>,<what>,<bytes>`.
pub fn overhead(dev: &str) -> Result<(), String> {
    use rsvm_guest::{guest::Guest, payloads};
    let (_, mode, code) = payloads::all().into_iter().find(|(n, _, _)| *n == "first16").ok_or("no payload")?;
    let table = kvm_bindings::CpuId::new(1).map_err(|e| format!("{e:?}"))?;
    let n = 8i64;
    let k0 = (rsvm_pages_held() * 4, meminfo_kb("SUnreclaim:"), self_rss_kb());
    let mut vms = Vec::new();
    for _ in 0..n {
        let mut g = Guest::new(dev, mode, code, &table)?;
        g.run(10)?;
        vms.push(g);
    }
    let k1 = (rsvm_pages_held() * 4, meminfo_kb("SUnreclaim:"), self_rss_kb());
    let mut extra = Vec::new();
    for g in &vms {
        extra.push(g.vm.create_vcpu(1).map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?);
    }
    let k2 = (rsvm_pages_held() * 4, meminfo_kb("SUnreclaim:"), self_rss_kb());
    let name = device_name(dev);
    println!("overhead,{name},kernel_per_vm,{}", ((k1.0 - k0.0) + (k1.1 - k0.1)) * 1024 / n);
    println!("overhead,{name},kernel_per_vcpu,{}", ((k2.0 - k1.0) + (k2.1 - k1.1)) * 1024 / n);
    // Each VM touched a few pages of guest memory (code, stack): 16 KiB is an upper bound.
    println!("overhead,{name},vmm_rss_per_vm,{}", ((k1.2 - k0.2) * 1024 / n - 16 * 1024).max(0));
    println!("overhead,{name},vmm_rss_total,{}", k2.2 * 1024);
    Ok(())
}

/// VM creation (KVM_CREATE_VM, a memslot, KVM_CREATE_VCPU, registers), the guest's first
/// instruction (an RDTSC, with the guest TSC set to the host's through KVM_SET_MSRS just
/// before KVM_RUN) and its first exit (the OUT after it): prints `startup,<device>,<what>,<t>`
/// for create_ticks, first_insn_ticks and first_exit_ticks (from the end of creation),
/// medians of 9.
pub fn startup(dev: &str) -> Result<(), String> {
    use rsvm_guest::{guest::Guest, payloads};
    let (_, mode, code) = payloads::all().into_iter().find(|(n, _, _)| *n == "first16").ok_or("no payload")?;
    let table = kvm_bindings::CpuId::new(1).map_err(|e| format!("{e:?}"))?;
    let (mut create, mut insn, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..9 {
        let t0 = exits::rdtsc();
        let mut g = Guest::new(dev, mode, code, &table)?;
        let t1 = exits::rdtsc();
        let tsc = kvm_bindings::Msrs::from_entries(&[kvm_bindings::kvm_msr_entry { index: 0x10, reserved: 0, data: exits::rdtsc() }])
            .map_err(|e| format!("{e:?}"))?;
        g.vcpu.set_msrs(&tsc).map_err(|e| format!("KVM_SET_MSRS: {e}"))?;
        let e = g.vcpu.run().map_err(|e| format!("KVM_RUN: {e}"))?;
        let t2 = exits::rdtsc();
        if !matches!(e, kvm_ioctls::VcpuExit::IoOut(0xf0, _)) {
            return Err(format!("first exit is {e:?}"));
        }
        let mut b = [0u8; 8];
        // SAFETY: 0x600 lies in the guest memory mapping.
        unsafe { std::ptr::copy_nonoverlapping(g.mem.ptr.add(0x600), b.as_mut_ptr(), 8) };
        create.push(t1.wrapping_sub(t0) as f64);
        insn.push(u64::from_le_bytes(b).wrapping_sub(t1) as i64 as f64);
        first.push(t2.wrapping_sub(t1) as f64);
    }
    let name = device_name(dev);
    let m = |v: &[f64]| stats::summarize(v).map(|s| s.median).unwrap_or(0.0);
    println!("startup,{name},create_ticks,{:.0}", m(&create));
    println!("startup,{name},first_insn_ticks,{:.0}", m(&insn));
    println!("startup,{name},first_exit_ticks,{:.0}", m(&first));
    Ok(())
}
