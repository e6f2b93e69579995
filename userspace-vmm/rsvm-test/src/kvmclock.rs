//! kvm-clock as a VMM and a guest use it, with KVM's answers (x86.c, Linux 7.2):
//! KVM_CAP_ADJUST_CLOCK's flags, KVM_GET_CLOCK's flags and a clock that advances,
//! KVM_SET_CLOCK (unknown flags EINVAL; KVM_CLOCK_REALTIME adds the wall-clock time since
//! `realtime`), and a guest that writes MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_WALL_CLOCK_NEW:
//! its pvclock page (even version, TSC-stable flag) gives, at the host's TSC plus the
//! guest's TSC offset, a time between two KVM_GET_CLOCKs around the reading; its wall-clock
//! page is the wall time at which kvm-clock read 0. Run by `rsvm-test vm-setup` on rsvm and
//! on kvm_amd (tests/l1/19-vm-setup.sh), which must both pass it.

use crate::{check, TestResult};
use kvm_bindings::kvm_clock_data;
use rsvm_guest::guest::Guest;
use rsvm_guest::payloads::Mode;

const KVM_CAP_ADJUST_CLOCK: u64 = 39;
const KVM_CLOCK_TSC_STABLE: u32 = 2;
const KVM_CLOCK_REALTIME: u32 = 4;
const KVM_CLOCK_HOST_TSC: u32 = 8;
const SECOND: u64 = 1_000_000_000;
const PVTI: u64 = 0x2000;
const WALL: u64 = 0x3000;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or_default())
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or_default())
}

/// The guest's pvclock_scale_delta().
fn scale(delta: u64, mul: u32, shift: i8) -> u64 {
    let d = if shift < 0 { delta >> -shift } else { delta << shift };
    ((d as u128 * mul as u128) >> 32) as u64
}

fn realtime_ns() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    t.as_nanos() as u64
}

/// Whether the host's clocksource is the TSC. KVM's "master clock" needs it: without it
/// (L1 here switches away from the TSC when it sees a TSC go backwards between CPUs, which
/// this emulator does) KVM_GET_CLOCK has no REALTIME/HOST_TSC and its value is not tied to
/// the pvclock page; the selftests' kvm_clock_test skips then. rsvm's clock is always tied
/// to the TSC, so on /dev/rsvm everything is checked whatever the clocksource.
fn strict(dev: &str) -> bool {
    dev.contains("rsvm")
        || std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource").map(|s| s.trim() == "tsc").unwrap_or(false)
}

pub fn kvmclock(dev: &str) -> TestResult {
    let strict = strict(dev);
    if !strict {
        println!("# note: the host's clocksource is not the TSC: KVM's clock flags and its pvclock agreement are not checked");
    }
    let kvm = rsvm_guest::guest::open(dev)?;
    let flags = kvm.check_extension_raw(KVM_CAP_ADJUST_CLOCK) as u32;
    let want = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
    check(flags == want, || format!("KVM_CHECK_EXTENSION(ADJUST_CLOCK) = {flags:#x} (want {want:#x})"))?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
    let pv = cpuid.as_slice().iter().find(|e| e.function == 0x4000_0001).map(|e| e.eax).unwrap_or(0);
    check(pv & (1 << 3) != 0 && pv & (1 << 24) != 0, || format!("4000_0001h EAX {pv:#x} offers CLOCKSOURCE2 and CLOCKSOURCE_STABLE_BIT"))?;
    // Real mode at 0x1000: MSR_KVM_SYSTEM_TIME_NEW = PVTI | 1; MSR_KVM_WALL_CLOCK_NEW = WALL;
    // out 0xe9,al; hlt.
    let code = [
        0x66, 0xb9, 0x01, 0x4d, 0x56, 0x4b, 0x66, 0xb8, 0x01, 0x20, 0x00, 0x00, 0x66, 0x31, 0xd2, 0x0f, 0x30, 0x66, 0xb9, 0x00, 0x4d, 0x56,
        0x4b, 0x66, 0xb8, 0x00, 0x30, 0x00, 0x00, 0x0f, 0x30, 0xe6, 0xe9, 0xf4,
    ];
    let mut g = Guest::new(dev, Mode::Real, &code, &cpuid)?;
    let a = g.vm.get_clock().map_err(|e| format!("KVM_GET_CLOCK: {e}"))?;
    check(a.clock < 60 * SECOND, || format!("a new VM's kvm-clock {} ns is near 0 (under a minute)", a.clock))?;
    let e = g.vm.set_clock(&kvm_clock_data { flags: 1, ..Default::default() }).map_err(|e| e.errno());
    check(e == Err(libc::EINVAL), || format!("KVM_SET_CLOCK with flags 1: {e:?} (want EINVAL)"))?;
    // 1000 s, set as of 10 s ago: the clock reads at least 1010 s.
    let set = kvm_clock_data { clock: 1000 * SECOND, flags: KVM_CLOCK_REALTIME, realtime: realtime_ns() - 10 * SECOND, ..Default::default() };
    g.vm.set_clock(&set).map_err(|e| format!("KVM_SET_CLOCK: {e}"))?;
    let b = g.vm.get_clock().map_err(|e| format!("KVM_GET_CLOCK: {e}"))?;
    // KVM reports the wall clock and host TSC with the clock once its "master clock" is in
    // use, which KVM_SET_CLOCK sets up (with a TSC clocksource); rsvm always does.
    let both = KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
    check(!strict || b.flags & both == both, || format!("KVM_GET_CLOCK after KVM_SET_CLOCK: flags {:#x} have REALTIME and HOST_TSC", b.flags))?;
    check((1010 * SECOND..1070 * SECOND).contains(&b.clock), || format!("after KVM_SET_CLOCK(1000 s, REALTIME 10 s ago) the clock reads {} ns (want 1010 s and a little)", b.clock))?;

    let end = g.run(16)?;
    check(end == "hlt", || format!("the guest wrote the two kvm-clock MSRs and halted (ended {end})"))?;
    let before = g.vm.get_clock().map_err(|e| format!("KVM_GET_CLOCK: {e}"))?;
    let p = g.mem.read(PVTI, 32);
    let (version, ts, system_time, mul, shift, pflags) = (u32_at(&p, 0), u64_at(&p, 8), u64_at(&p, 16), u32_at(&p, 24), p[28] as i8, p[29]);
    // The guest's TSC now, read as the guest would: host TSC + the VM's TSC offset (read
    // back through KVM_GET_MSRS(IA32_TSC), which is host-initiated and adds the offset).
    let mut m = kvm_bindings::Msrs::from_entries(&[kvm_bindings::kvm_msr_entry { index: 0x10, ..Default::default() }]).map_err(|e| format!("{e:?}"))?;
    g.vcpu.get_msrs(&mut m).map_err(|e| format!("KVM_GET_MSRS(TSC): {e}"))?;
    let guest_tsc = m.as_slice()[0].data;
    let after = g.vm.get_clock().map_err(|e| format!("KVM_GET_CLOCK: {e}"))?;
    check(version != 0 && version % 2 == 0 && mul != 0 && pflags & 1 != 0, || format!("pvclock page: version {version} (even, not 0), mul {mul:#x} (not 0), flags {pflags:#x} (TSC stable)"))?;
    let now = system_time.wrapping_add(scale(guest_tsc.wrapping_sub(ts), mul, shift));
    check(!strict || (before.clock <= now && now <= after.clock), || format!("the pvclock page gives {now} ns at the guest's TSC, within KVM_GET_CLOCK's [{}, {}]", before.clock, after.clock))?;
    let w = g.mem.read(WALL, 12);
    let (wversion, wall) = (u32_at(&w, 0), u32_at(&w, 4) as u64 * SECOND + u32_at(&w, 8) as u64);
    let boot = after.realtime.wrapping_sub(after.clock);
    check(wversion % 2 == 0 && wversion != 0 && wall.abs_diff(boot) < 2 * SECOND, || {
        format!("wall-clock page: version {wversion} (even), {wall} ns since the epoch at kvm-clock 0 (want about {boot})")
    })?;
    println!("# ok: kvm-clock: KVM_GET/SET_CLOCK and the guest's pvclock and wall-clock pages agree");
    Ok(())
}
