//! The guest's TSC as a VMM sets it, with KVM's answers (x86.c, Linux 7.2): the TSC-offset
//! vCPU attribute (KVM_CAP_VCPU_ATTRIBUTES; kvm_arch_tsc_{has,get,set}_attr()) and
//! IA32_TSC_ADJUST (kvm_set_msr_common()). The attribute's errnos (ENXIO for any other group
//! or attribute, EFAULT for a bad value address); the offset set is what the guest's RDTSC
//! sees and what the attribute reads back; a guest write to IA32_TSC_ADJUST moves the TSC by
//! as much (SDM vol. 3 18.17.3) while the host's KVM_SET_MSRS of it does not. Run by
//! `rsvm-test vm-setup` on rsvm and on kvm_amd (tests/l1/19-vm-setup.sh), which must both
//! pass it.

use crate::{check, TestResult};
use kvm_bindings::{kvm_device_attr, Msrs};
use rsvm_guest::guest::Guest;
use rsvm_guest::payloads::Mode;
use std::os::fd::AsRawFd;

const KVM_CAP_VCPU_ATTRIBUTES: u64 = 127;
const KVM_VCPU_TSC_CTRL: u32 = 0;
const KVM_VCPU_TSC_OFFSET: u64 = 0;
/// _IOW(KVMIO, 0xe1..0xe3, struct kvm_device_attr): kvm-ioctls 0.25 offers the device-attr
/// ioctls on vCPU fds only on arm64 and RISC-V.
const KVM_SET_DEVICE_ATTR: libc::c_ulong = 0x4018_aee1;
const KVM_GET_DEVICE_ATTR: libc::c_ulong = 0x4018_aee2;
const KVM_HAS_DEVICE_ATTR: libc::c_ulong = 0x4018_aee3;
const MSR_IA32_TSC: u32 = 0x10;
const MSR_IA32_TSC_ADJUST: u32 = 0x3b;
/// 2^30 TSC ticks: the selftests' tsc_msrs_test rounds to this; far more than the time the
/// test takes between two reads under the emulator (which counts instructions).
const UNIT: u64 = 1 << 30;

fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn attr_ioctl(g: &Guest, nr: libc::c_ulong, a: &kvm_device_attr) -> Result<(), i32> {
    // SAFETY: `a` is a valid kvm_device_attr; the kernel reads or writes 8 bytes at `a.addr`,
    // which is the caller's u64 or an address the test chose to be invalid (EFAULT then).
    let r = unsafe { libc::ioctl(g.vcpu.as_raw_fd(), nr, a) };
    if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) }
}

fn get_attr(g: &Guest, group: u32, attr: u64, addr: u64) -> Result<u64, i32> {
    let mut v = 0u64;
    let a = kvm_device_attr { group, attr, addr: if addr == 0 { &mut v as *mut u64 as u64 } else { addr }, flags: 0 };
    attr_ioctl(g, KVM_GET_DEVICE_ATTR, &a).map(|_| v)
}

fn msr(g: &Guest, index: u32) -> Result<u64, String> {
    let mut m = Msrs::from_entries(&[kvm_bindings::kvm_msr_entry { index, ..Default::default() }]).map_err(|e| format!("{e:?}"))?;
    let n = g.vcpu.get_msrs(&mut m).map_err(|e| format!("KVM_GET_MSRS({index:#x}): {e}"))?;
    check(n == 1, || format!("KVM_GET_MSRS({index:#x}) read {n} of 1"))?;
    Ok(m.as_slice()[0].data)
}

fn set_msr(g: &Guest, index: u32, data: u64) -> Result<(), String> {
    let m = Msrs::from_entries(&[kvm_bindings::kvm_msr_entry { index, data, ..Default::default() }]).map_err(|e| format!("{e:?}"))?;
    let n = g.vcpu.set_msrs(&m).map_err(|e| format!("KVM_SET_MSRS({index:#x}): {e}"))?;
    check(n == 1, || format!("KVM_SET_MSRS({index:#x}) wrote {n} of 1"))
}

/// Rounded to the nearest UNIT, in UNITs (as tsc_msrs_test's ROUND).
fn units(v: u64) -> i64 {
    (v.wrapping_add(UNIT / 2) as i64).div_euclid(UNIT as i64)
}

pub fn tsc(dev: &str) -> TestResult {
    let kvm = rsvm_guest::guest::open(dev)?;
    check(kvm.check_extension_raw(KVM_CAP_VCPU_ATTRIBUTES) == 1, || "KVM_CHECK_EXTENSION(VCPU_ATTRIBUTES) is 1".into())?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
    let adjust_offered = cpuid.as_slice().iter().any(|e| e.function == 7 && e.index == 0 && e.ebx & 2 != 0);
    check(adjust_offered, || "KVM_GET_SUPPORTED_CPUID offers TSC_ADJUST (7.0.EBX bit 1)".into())?;
    // Real mode at 0x1000: rdtsc; out 0xe9,eax; mov eax,edx; out 0xe9,eax;
    // mov ecx,0x3b; xor eax,eax; mov edx,1; wrmsr (IA32_TSC_ADJUST = 2^32); hlt.
    let code = [
        0x0f, 0x31, 0x66, 0xe7, 0xe9, 0x66, 0x89, 0xd0, 0x66, 0xe7, 0xe9, 0x66, 0xb9, 0x3b, 0x00, 0x00, 0x00, 0x66, 0x31, 0xc0, 0x66,
        0xba, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x30, 0xf4,
    ];
    let mut g = Guest::new(dev, Mode::Real, &code, &cpuid)?;
    let attr = |group, attr| kvm_device_attr { group, attr, ..Default::default() };
    attr_ioctl(&g, KVM_HAS_DEVICE_ATTR, &attr(KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET)).map_err(|e| format!("KVM_HAS_DEVICE_ATTR(TSC_CTRL, TSC_OFFSET): errno {e}"))?;
    for (what, group, a) in [("group 1", 1, KVM_VCPU_TSC_OFFSET), ("attribute 1", KVM_VCPU_TSC_CTRL, 1)] {
        let e = attr_ioctl(&g, KVM_HAS_DEVICE_ATTR, &attr(group, a));
        check(e == Err(libc::ENXIO), || format!("KVM_HAS_DEVICE_ATTR with {what}: {e:?} (want ENXIO)"))?;
        let e = get_attr(&g, group, a, 0);
        check(e == Err(libc::ENXIO), || format!("KVM_GET_DEVICE_ATTR with {what}: {e:?} (want ENXIO)"))?;
    }
    let e = get_attr(&g, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 8);
    check(e == Err(libc::EFAULT), || format!("KVM_GET_DEVICE_ATTR(TSC_OFFSET) to address 8: {e:?} (want EFAULT)"))?;
    let bad = kvm_device_attr { group: KVM_VCPU_TSC_CTRL, attr: KVM_VCPU_TSC_OFFSET, addr: 8, flags: 0 };
    let e = attr_ioctl(&g, KVM_SET_DEVICE_ATTR, &bad);
    check(e == Err(libc::EFAULT), || format!("KVM_SET_DEVICE_ATTR(TSC_OFFSET) from address 8: {e:?} (want EFAULT)"))?;

    // The guest's TSC: 1000 units ahead of the host's.
    let offset = 1000 * UNIT;
    let set = kvm_device_attr { group: KVM_VCPU_TSC_CTRL, attr: KVM_VCPU_TSC_OFFSET, addr: &offset as *const u64 as u64, flags: 0 };
    attr_ioctl(&g, KVM_SET_DEVICE_ATTR, &set).map_err(|e| format!("KVM_SET_DEVICE_ATTR(TSC_OFFSET): errno {e}"))?;
    // In units: where the host's TSC is unstable (this emulator's, as L1 sees it), KVM moves
    // a vCPU's offset at each vcpu_load() on another CPU so that the guest's TSC does not
    // jump (kvm_arch_vcpu_load(), "tsc_catchup"): it lags by the time since, far below a unit.
    let got = get_attr(&g, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0).map(units);
    check(got == Ok(1000), || format!("KVM_GET_DEVICE_ATTR(TSC_OFFSET) reads back {got:?} units of 2^30 (want 1000)"))?;
    check(msr(&g, MSR_IA32_TSC_ADJUST)? == 0, || "IA32_TSC_ADJUST is 0 after the host set the offset".into())?;
    let start = rdtsc().wrapping_add(offset);
    let end_kind = g.run(16)?;
    let end = rdtsc().wrapping_add(offset);
    let words: Vec<u64> = g.results.iter().filter_map(|r| r.as_slice().try_into().ok().map(|b| u32::from_le_bytes(b) as u64)).collect();
    check(end_kind == "hlt" && words.len() == 2, || format!("the guest ran RDTSC, two OUTs, WRMSR to HLT (ended {end_kind}, {} OUTs)", words.len()))?;
    let seen = words[0] | words[1] << 32;
    check(start <= seen.saturating_add(UNIT) && seen <= end, || format!("the guest's RDTSC {seen:#x} within [{start:#x} - 2^30, {end:#x}] (host TSC + the offset; the slack is KVM's catch-up, above)"))?;

    // The guest wrote IA32_TSC_ADJUST = 2^32: the TSC moved by 2^32 too.
    let adj = msr(&g, MSR_IA32_TSC_ADJUST)?;
    check(adj == 1 << 32, || format!("IA32_TSC_ADJUST after the guest's WRMSR: {adj:#x} (want 0x100000000)"))?;
    let lead = units(msr(&g, MSR_IA32_TSC)?.wrapping_sub(rdtsc()));
    check(lead == 1000 + 4, || format!("guest TSC - host TSC after the guest's WRMSR: {lead} units of 2^30 (want 1004)"))?;
    let got = get_attr(&g, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0).map(units);
    check(got == Ok(1004), || format!("KVM_GET_DEVICE_ATTR(TSC_OFFSET) after it: {got:?} units (want 1004)"))?;

    // The host's write of IA32_TSC_ADJUST leaves the TSC alone; its write of IA32_TSC leaves
    // IA32_TSC_ADJUST alone.
    set_msr(&g, MSR_IA32_TSC_ADJUST, 7 * UNIT)?;
    let lead = units(msr(&g, MSR_IA32_TSC)?.wrapping_sub(rdtsc()));
    check(lead == 1004, || format!("guest TSC - host TSC after the host's KVM_SET_MSRS(TSC_ADJUST): {lead} units (want 1004)"))?;
    set_msr(&g, MSR_IA32_TSC, rdtsc().wrapping_add(50 * UNIT))?;
    let adj = msr(&g, MSR_IA32_TSC_ADJUST)?;
    check(adj == 7 * UNIT, || format!("IA32_TSC_ADJUST after the host's KVM_SET_MSRS(TSC): {adj:#x} (want {:#x})", 7 * UNIT))?;
    let got = get_attr(&g, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0).map(units);
    check(got == Ok(50), || format!("KVM_GET_DEVICE_ATTR(TSC_OFFSET) after it: {got:?} units (want 50)"))?;
    println!("# ok: the TSC offset attribute and IA32_TSC_ADJUST behave as KVM's");
    Ok(())
}
