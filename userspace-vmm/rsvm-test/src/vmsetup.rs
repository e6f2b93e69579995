//! The memory and VM-setup ABI a real KVM client needs before its first KVM_RUN, with KVM's
//! answers (arch/x86/kvm/x86.c, virt/kvm/kvm_main.c of Linux 7.2): KVM_SET_USER_MEMORY_REGION2,
//! KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_NR_MMU_PAGES, the VM's
//! KVM_GET_TSC_KHZ, KVM_ENABLE_CAP(KVM_CAP_MAX_VCPU_ID), the vCPU limits, and
//! KVM_GET/HAS_DEVICE_ATTR on the system fd, KVM_GET/SET_LAPIC (`lapicstate`), KVM_GET_STATS_FD (`statsfd`), KVM_GET/SET_DEBUGREGS (`debugregs`), KVM_GET/SET_VCPU_EVENTS (`vcpuevents`). The same checks run on kvm_amd
//! (tests/l1/19-vm-setup.sh), which must pass them too.

use crate::{check, TestResult};
use kvm_bindings::{kvm_device_attr, kvm_enable_cap, kvm_userspace_memory_region2};
use kvm_ioctls::{Kvm, VmFd};
use rsvm_abi::*;
use rsvm_guest::guest::{self, Guest, HostMem};
use rsvm_guest::payloads::Mode;
use std::os::fd::{AsRawFd, RawFd};

const KVM_CAP_MMU_SHADOW_CACHE_CONTROL: u64 = 2;
const KVM_CAP_SET_TSS_ADDR: u64 = 4;
const KVM_CAP_NR_VCPUS: u64 = 9;
const KVM_CAP_SET_IDENTITY_MAP_ADDR: u64 = 37;
const KVM_CAP_XCRS: u64 = 56;
const KVM_CAP_MAX_VCPUS: u64 = 66;
const KVM_CAP_MAX_VCPU_ID: u32 = 128;
const KVM_CAP_SYS_ATTRIBUTES: u64 = 209;
const KVM_CAP_USER_MEMORY2: u64 = 231;
/// KVM_MAX_VCPUS of the test kernel's KVM (CONFIG_KVM_MAX_NR_VCPUS' default without MAXSMP)
/// and KVM_MAX_VCPU_IDS = 4 times that.
const MAX_VCPUS: u64 = 1024;
const MAX_VCPU_IDS: u64 = 4 * MAX_VCPUS;
const KVM_MEM_LOG_DIRTY_PAGES: u32 = 1 << 0;
const KVM_MEM_GUEST_MEMFD: u32 = 1 << 2;

/// A raw ioctl: `Ok(return value)` or `Err(errno)`.
fn ioc(fd: RawFd, nr: u64, arg: u64) -> Result<i32, i32> {
    // SAFETY: the ioctls issued here read or write at most 160 bytes at `arg`, which callers
    // pass as a live buffer of that size, or as an address the kernel must refuse (EFAULT).
    let r = unsafe { libc::ioctl(fd, nr as _, arg) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

fn expect(what: &str, got: Result<i32, i32>, want: Result<i32, i32>) -> TestResult {
    check(got == want, || format!("{what}: {got:?} (want {want:?})"))
}

fn enable_cap(vm: &VmFd, cap: u32, arg: u64, flags: u32) -> Result<i32, i32> {
    let mut c = kvm_enable_cap { cap, flags, ..Default::default() };
    c.args[0] = arg;
    vm.enable_cap(&c).map(|_| 0).map_err(|e| e.errno())
}

pub fn vm_setup(dev: &str) -> TestResult {
    let kvm = guest::open(dev)?;
    caps(&kvm)?;
    device_attr(&kvm)?;
    memory_region2(dev)?;
    setup_ioctls(&kvm)?;
    max_vcpu_id(&kvm)?;
    crate::lapicstate::lapic_state(&kvm)?;
    crate::statsfd::stats_fd(dev)?;
    crate::debugregs::debugregs(dev)?;
    crate::vcpuevents::vcpu_events(dev)?;
    crate::tsc::tsc(dev)?;
    crate::mtrr::mtrr(dev)?;
    crate::coalesced::coalesced(dev)?;
    crate::kvmclock::kvmclock(dev)?;
    crate::emufail::emulation_failure(dev)?;
    max_vcpus(&kvm)
}

/// The capabilities these ioctls answer to, on the system and the VM fd.
fn caps(kvm: &Kvm) -> TestResult {
    // SAFETY: sysconf has no memory effects.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as i32;
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let want: &[(&str, u64, i32)] = &[
        ("USER_MEMORY2", KVM_CAP_USER_MEMORY2, 1),
        ("SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR, 1),
        ("SET_IDENTITY_MAP_ADDR", KVM_CAP_SET_IDENTITY_MAP_ADDR, 1),
        ("MMU_SHADOW_CACHE_CONTROL", KVM_CAP_MMU_SHADOW_CACHE_CONTROL, 1),
        ("SYS_ATTRIBUTES", KVM_CAP_SYS_ATTRIBUTES, 1),
        ("XCRS", KVM_CAP_XCRS, 1),
        ("MAX_VCPUS", KVM_CAP_MAX_VCPUS, MAX_VCPUS as i32),
        ("MAX_VCPU_ID", KVM_CAP_MAX_VCPU_ID as u64, MAX_VCPU_IDS as i32),
        ("NR_VCPUS (the online CPUs)", KVM_CAP_NR_VCPUS, online),
    ];
    for &(name, cap, v) in want {
        let (s, m) = (kvm.check_extension_raw(cap), vm.check_extension_raw(cap));
        check(s == v && m == v, || format!("KVM_CHECK_EXTENSION(KVM_CAP_{name}) = {s}, on the VM fd {m} (want {v})"))?;
    }
    Ok(())
}

/// KVM_GET_DEVICE_ATTR / KVM_HAS_DEVICE_ATTR on the system fd: KVM_X86_XCOMP_GUEST_SUPP, the
/// XSAVE features a guest may have (what the selftests' library asks before AMX & co.).
fn device_attr(kvm: &Kvm) -> TestResult {
    let fd = kvm.as_raw_fd();
    let mut val: u64 = 0;
    let attr = |group: u32, attr: u64, addr: u64| kvm_device_attr { flags: 0, group, attr, addr };
    let a = attr(0, 0, &mut val as *mut u64 as u64);
    expect("KVM_GET_DEVICE_ATTR(0, XCOMP_GUEST_SUPP)", ioc(fd, KVM_GET_DEVICE_ATTR(), &a as *const _ as u64), Ok(0))?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
    let d = cpuid.as_slice().iter().find(|e| e.function == 0xd && e.index == 0).ok_or("no CPUID leaf 0xD")?;
    let xcr0 = d.eax as u64 | (d.edx as u64) << 32;
    check(val & 3 == 3 && val == xcr0, || format!("XCOMP_GUEST_SUPP {val:#x}: x87 and SSE, and equal to CPUID 0xD.0 EDX:EAX ({xcr0:#x})"))?;
    expect("KVM_HAS_DEVICE_ATTR(0, XCOMP_GUEST_SUPP)", ioc(fd, KVM_HAS_DEVICE_ATTR(), &a as *const _ as u64), Ok(0))?;
    // HAS does not write: a NULL value address is fine; GET must fault on it.
    let null = attr(0, 0, 0);
    expect("KVM_HAS_DEVICE_ATTR with addr NULL", ioc(fd, KVM_HAS_DEVICE_ATTR(), &null as *const _ as u64), Ok(0))?;
    expect("KVM_GET_DEVICE_ATTR with addr NULL", ioc(fd, KVM_GET_DEVICE_ATTR(), &null as *const _ as u64), Err(libc::EFAULT))?;
    expect("KVM_GET_DEVICE_ATTR, argument NULL", ioc(fd, KVM_GET_DEVICE_ATTR(), 0), Err(libc::EFAULT))?;
    // Unknown attributes and groups: ENXIO (group 1 is SEV's on kvm_amd: not used here).
    for (g, at) in [(0u32, 1u64), (0, u64::MAX), (0x7f, 0)] {
        let b = attr(g, at, &mut val as *mut u64 as u64);
        expect(&format!("KVM_GET_DEVICE_ATTR({g}, {at:#x})"), ioc(fd, KVM_GET_DEVICE_ATTR(), &b as *const _ as u64), Err(libc::ENXIO))?;
        expect(&format!("KVM_HAS_DEVICE_ATTR({g}, {at:#x})"), ioc(fd, KVM_HAS_DEVICE_ATTR(), &b as *const _ as u64), Err(libc::ENXIO))?;
    }
    Ok(())
}

fn region2(slot: u32, gpa: u64, size: u64, hva: u64, flags: u32) -> kvm_userspace_memory_region2 {
    kvm_userspace_memory_region2 { slot, flags, guest_phys_addr: gpa, memory_size: size, userspace_addr: hva, ..Default::default() }
}

/// KVM_SET_USER_MEMORY_REGION2: a slot made with it backs guest memory; KVM's rules and
/// errnos for what differs from v1 (the whole 160 bytes are read, padding is ignored,
/// guest_memfd is refused without a guest_memfd).
fn memory_region2(dev: &str) -> TestResult {
    // Real mode at 0x1000: mov ax,0x8000; mov ds,ax; mov al,[0x10]; out 0x80,al; hlt.
    let code = [0xb8, 0x00, 0x80, 0x8e, 0xd8, 0xa0, 0x10, 0x00, 0xe6, 0x80, 0xf4];
    // The slot's memory first: dropped after the VM.
    let m = HostMem::new(0x10000)?;
    m.write(0, &[0x5a; 0x10000]);
    let mut g = Guest::new(dev, Mode::Real, &code, &guest::long_mode_cpuid()?)?;
    let vmfd = g.vm.as_raw_fd();
    let set2 = |r: &kvm_userspace_memory_region2| ioc(vmfd, KVM_SET_USER_MEMORY_REGION2(), r as *const _ as u64);
    expect("REGION2: slot 2 at 0x80000", set2(&region2(2, 0x80000, 0x10000, m.ptr as u64, 0)), Ok(0))?;
    let end = g.run(16)?;
    let seen = g.trace.iter().any(|l| l == "out port=0x80 data=5a");
    check(end == "hlt" && seen, || format!("the guest read 0x5a from the REGION2 slot ({:?})", g.trace))?;
    // KVM_RUN with immediate_exit: EINTR, and the last exit's reason stays (as KVM).
    g.vcpu.set_kvm_immediate_exit(1);
    let r = g.vcpu.run().map(|_| ()).map_err(|e| e.errno());
    g.vcpu.set_kvm_immediate_exit(0);
    let reason = g.vcpu.get_kvm_run().exit_reason;
    check(r == Err(libc::EINTR) && reason == kvm_bindings::KVM_EXIT_HLT, || {
        format!("immediate_exit: {r:?}, exit_reason {reason} (want EINTR, still KVM_EXIT_HLT = 5)")
    })?;

    let mut r = region2(3, 0x90000, 0x10000, m.ptr as u64, KVM_MEM_GUEST_MEMFD);
    r.guest_memfd = vmfd as u32; // an open fd that is not a guest_memfd
    expect("REGION2 with KVM_MEM_GUEST_MEMFD", set2(&r), Err(libc::EINVAL))?;
    let v1 = guest::region(3, 0x90000, 0x10000, m.ptr as u64, KVM_MEM_GUEST_MEMFD);
    // SAFETY: refused (the flag is not a v1 flag); nothing is mapped.
    let got = unsafe { g.vm.set_user_memory_region(v1) }.map(|_| 0).map_err(|e| e.errno());
    expect("v1 REGION with KVM_MEM_GUEST_MEMFD", got, Err(libc::EINVAL))?;
    expect("REGION2 with an unknown flag (bit 7)", set2(&region2(3, 0x90000, 0x10000, m.ptr as u64, 1 << 7)), Err(libc::EINVAL))?;
    expect("REGION2 overlapping slot 2", set2(&region2(3, 0x88000, 0x10000, m.ptr as u64, 0)), Err(libc::EEXIST))?;
    expect("REGION2 argument NULL", ioc(vmfd, KVM_SET_USER_MEMORY_REGION2(), 0), Err(libc::EFAULT))?;
    // The struct's last 96 bytes on an unmapped page: v2 reads all 160 bytes (v1's 32 fit).
    let two = HostMem::new(0x2000)?;
    // SAFETY: unmaps the second page of our own mapping (the first stays; `two` unmaps both
    // at drop, and munmap of an unmapped range is harmless).
    unsafe { libc::munmap(two.ptr.add(0x1000).cast(), 0x1000) };
    let at = two.ptr as u64 + 0x1000 - 64;
    two.write(0x1000 - 64, &[0u8; 64]);
    expect("REGION2 straddling into an unmapped page", ioc(vmfd, KVM_SET_USER_MEMORY_REGION2(), at), Err(libc::EFAULT))?;
    // Padding and guest_memfd fields without the flag are ignored, as KVM does.
    let mut r = region2(3, 0x90000, 0x10000, m.ptr as u64, 0);
    (r.pad1, r.pad2[13], r.guest_memfd, r.guest_memfd_offset) = (0xdead, 0xbeef, 7, 0x123);
    expect("REGION2 with padding set (ignored)", set2(&r), Ok(0))?;
    // Deleting: v1 deletes a v2 slot and v2 a v1 one (one slot table).
    // SAFETY: deletes slot 3.
    let got = unsafe { g.vm.set_user_memory_region(guest::region(3, 0, 0, 0, 0)) }.map(|_| 0).map_err(|e| e.errno());
    expect("v1 deletes the REGION2 slot 3", got, Ok(0))?;
    expect("REGION2 deletes slot 1 (made with v1)", set2(&region2(1, 0, 0, 0, 0)), Ok(0))?;
    expect("REGION2 deletes slot 2", set2(&region2(2, 0, 0, 0, 0)), Ok(0))?;
    expect("REGION2 deletes slot 2 again", set2(&region2(2, 0, 0, 0, 0)), Err(libc::EINVAL))?;
    // Dirty logging is a flag KVM takes; rsvm does not log dirty pages (EINVAL): not
    // compared, only printed.
    let d = set2(&region2(4, 0xa0000 + 0x100000, 0x1000, m.ptr as u64, KVM_MEM_LOG_DIRTY_PAGES));
    println!("# REGION2 with KVM_MEM_LOG_DIRTY_PAGES: {d:?} (kvm_amd logs dirty pages, rsvm refuses)");
    drop(g);
    Ok(())
}

/// KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR (before the first vCPU only),
/// KVM_SET_NR_MMU_PAGES (not below 64), KVM_GET_NR_MMU_PAGES (gone), the VM's KVM_GET_TSC_KHZ.
fn setup_ioctls(kvm: &Kvm) -> TestResult {
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let fd = vm.as_raw_fd();
    for (addr, want) in [(0xfffb_d000u64, Ok(0)), (0xffff_d000, Ok(0)), (0xffff_e000, Err(libc::EINVAL)), (u64::MAX, Err(libc::EINVAL))] {
        expect(&format!("KVM_SET_TSS_ADDR {addr:#x}"), ioc(fd, KVM_SET_TSS_ADDR(), addr), want)?;
    }
    let ident: u64 = 0xfeff_c000;
    expect("KVM_SET_IDENTITY_MAP_ADDR from NULL", ioc(fd, KVM_SET_IDENTITY_MAP_ADDR(), 0), Err(libc::EFAULT))?;
    expect("KVM_SET_IDENTITY_MAP_ADDR 0xfeffc000", ioc(fd, KVM_SET_IDENTITY_MAP_ADDR(), &ident as *const u64 as u64), Ok(0))?;
    expect("KVM_SET_IDENTITY_MAP_ADDR again", ioc(fd, KVM_SET_IDENTITY_MAP_ADDR(), &ident as *const u64 as u64), Ok(0))?;
    for (n, want) in [(0u64, Err(libc::EINVAL)), (63, Err(libc::EINVAL)), (64, Ok(0)), (1 << 20, Ok(0))] {
        expect(&format!("KVM_SET_NR_MMU_PAGES {n}"), ioc(fd, KVM_SET_NR_MMU_PAGES(), n), want)?;
    }
    expect("KVM_GET_NR_MMU_PAGES (deprecated, gone)", ioc(fd, KVM_GET_NR_MMU_PAGES(), 0), Err(libc::ENOTTY))?;
    let khz = ioc(fd, KVM_GET_TSC_KHZ(), 0);
    check(matches!(khz, Ok(k) if k > 0), || format!("VM KVM_GET_TSC_KHZ = {khz:?}"))?;
    let vcpu = vm.create_vcpu(0).map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
    let vkhz = ioc(vcpu.as_raw_fd(), KVM_GET_TSC_KHZ(), 0);
    check(vkhz == khz, || format!("vCPU KVM_GET_TSC_KHZ {vkhz:?} = the VM's {khz:?}"))?;
    xcrs(kvm, &vcpu)?;
    expect("KVM_SET_IDENTITY_MAP_ADDR after a vCPU", ioc(fd, KVM_SET_IDENTITY_MAP_ADDR(), &ident as *const u64 as u64), Err(libc::EINVAL))?;
    expect("KVM_SET_IDENTITY_MAP_ADDR from NULL after a vCPU (EINVAL first)", ioc(fd, KVM_SET_IDENTITY_MAP_ADDR(), 0), Err(libc::EINVAL))?;
    drop(vcpu);
    expect("KVM_SET_IDENTITY_MAP_ADDR after the vCPU's fd is closed", ioc(fd, KVM_SET_IDENTITY_MAP_ADDR(), &ident as *const u64 as u64), Err(libc::EINVAL))?;
    expect("KVM_SET_TSS_ADDR after a vCPU", ioc(fd, KVM_SET_TSS_ADDR(), 0xfffb_d000), Ok(0))?;
    expect("KVM_SET_NR_MMU_PAGES after a vCPU", ioc(fd, KVM_SET_NR_MMU_PAGES(), 128), Ok(0))
}

/// KVM_GET/SET_XCRS: XCR0 at reset is x87 only; userspace sets it with XSETBV's rules,
/// within what the vCPU's CPUID offers.
fn xcrs(kvm: &Kvm, vcpu: &kvm_ioctls::VcpuFd) -> TestResult {
    let x = vcpu.get_xcrs().map_err(|e| format!("KVM_GET_XCRS: {e}"))?;
    check(x.nr_xcrs == 1 && x.flags == 0 && x.xcrs[0].xcr == 0 && x.xcrs[0].value == 1, || {
        format!("KVM_GET_XCRS at reset: {} entries, XCR{} = {:#x} (want 1 entry, XCR0 = 1)", x.nr_xcrs, x.xcrs[0].xcr, x.xcrs[0].value)
    })?;
    let set = |nr: u32, flags: u32, xcr: u32, value: u64| {
        let mut x = kvm_bindings::kvm_xcrs { nr_xcrs: nr, flags, ..Default::default() };
        x.xcrs[0].xcr = xcr;
        x.xcrs[0].value = value;
        vcpu.set_xcrs(&x).map(|_| 0).map_err(|e| e.errno())
    };
    expect("KVM_SET_XCRS XCR0 = x87|SSE, no XSAVE leaf in the vCPU's CPUID", set(1, 0, 0, 3), Err(libc::EINVAL))?;
    expect("KVM_SET_XCRS XCR0 = x87, no XSAVE leaf in the vCPU's CPUID", set(1, 0, 0, 1), Ok(0))?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
    vcpu.set_cpuid2(&cpuid).map_err(|e| format!("KVM_SET_CPUID2: {e}"))?;
    expect("KVM_SET_XCRS XCR0 = x87|SSE with the supported CPUID", set(1, 0, 0, 3), Ok(0))?;
    let v = vcpu.get_xcrs().map_err(|e| format!("KVM_GET_XCRS: {e}"))?.xcrs[0].value;
    check(v == 3, || format!("KVM_GET_XCRS reads back {v:#x} (want 0x3)"))?;
    expect("KVM_SET_XCRS XCR0 without x87", set(1, 0, 0, 2), Err(libc::EINVAL))?;
    expect("KVM_SET_XCRS XCR0 = AVX without SSE", set(1, 0, 0, 5), Err(libc::EINVAL))?;
    expect("KVM_SET_XCRS XCR0 with bit 62", set(1, 0, 0, 1 << 62 | 1), Err(libc::EINVAL))?;
    expect("KVM_SET_XCRS with flags 1", set(1, 1, 0, 3), Err(libc::EINVAL))?;
    expect("KVM_SET_XCRS with 17 entries", set(17, 0, 0, 3), Err(libc::EINVAL))?;
    expect("KVM_SET_XCRS of XCR1 only (ignored)", set(1, 0, 1, 0), Ok(0))?;
    expect("KVM_SET_XCRS with no entries", set(0, 0, 0, 0), Ok(0))?;
    let v = vcpu.get_xcrs().map_err(|e| format!("KVM_GET_XCRS: {e}"))?.xcrs[0].value;
    check(v == 3, || format!("XCR0 still {v:#x} after refused and empty sets (want 0x3)"))
}

/// KVM_ENABLE_CAP(KVM_CAP_MAX_VCPU_ID): at most KVM_MAX_VCPU_IDS, set once, bounds vCPU ids;
/// the first vCPU fixes it at the default. (x86/max_vcpuid_cap_test, and more.)
fn max_vcpu_id(kvm: &Kvm) -> TestResult {
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let cap = KVM_CAP_MAX_VCPU_ID;
    expect("ENABLE_CAP(MAX_VCPU_ID, KVM_MAX_VCPU_IDS + 1)", enable_cap(&vm, cap, MAX_VCPU_IDS + 1, 0), Err(libc::EINVAL))?;
    expect("ENABLE_CAP(MAX_VCPU_ID, 2) with flags 1", enable_cap(&vm, cap, 2, 1), Err(libc::EINVAL))?;
    expect("ENABLE_CAP(MAX_VCPU_ID, 2)", enable_cap(&vm, cap, 2, 0), Ok(0))?;
    expect("ENABLE_CAP(MAX_VCPU_ID, 2) again", enable_cap(&vm, cap, 2, 0), Ok(0))?;
    expect("ENABLE_CAP(MAX_VCPU_ID, 3) once set", enable_cap(&vm, cap, 3, 0), Err(libc::EINVAL))?;
    let create = |vm: &VmFd, id: u64| vm.create_vcpu(id).map(|_| 0).map_err(|e| e.errno());
    expect("vCPU id 2 with the limit at 2", create(&vm, 2), Err(libc::EINVAL))?;
    expect("vCPU id 1 << 32", create(&vm, 1 << 32), Err(libc::EINVAL))?;
    let v1 = vm.create_vcpu(1).map_err(|e| format!("vCPU id 1 below the limit: {e}"))?;
    let v0 = vm.create_vcpu(0).map_err(|e| format!("vCPU id 0 below the limit: {e}"))?;
    println!("# ok: vCPUs 0 and 1 below the limit of 2");
    drop((v0, v1));
    // A vCPU first: the limit is fixed at the default, and only that value is accepted.
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let v5 = vm.create_vcpu(5).map_err(|e| format!("vCPU 5: {e}"))?;
    expect("ENABLE_CAP(MAX_VCPU_ID, 8) after a vCPU", enable_cap(&vm, cap, 8, 0), Err(libc::EINVAL))?;
    expect("ENABLE_CAP(MAX_VCPU_ID, KVM_MAX_VCPU_IDS) after a vCPU", enable_cap(&vm, cap, MAX_VCPU_IDS, 0), Ok(0))?;
    expect("vCPU id KVM_MAX_VCPU_IDS", create(&vm, MAX_VCPU_IDS), Err(libc::EINVAL))?;
    expect("vCPU id 5 again", create(&vm, 5), Err(libc::EEXIST))?;
    drop(v5);
    Ok(())
}

/// KVM_CAP_MAX_VCPUS vCPUs fit in one VM, with the highest ids; one more is EINVAL.
fn max_vcpus(kvm: &Kvm) -> TestResult {
    // One fd per vCPU: raise the soft limit of open files to the hard one.
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: get/setrlimit on our own process with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
    if rl.rlim_cur < MAX_VCPUS + 64 {
        return Err(format!("RLIMIT_NOFILE {} is too low for {MAX_VCPUS} vCPUs", rl.rlim_cur));
    }
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let mut vcpus = Vec::new();
    for id in MAX_VCPU_IDS - MAX_VCPUS..MAX_VCPU_IDS {
        vcpus.push(vm.create_vcpu(id).map_err(|e| format!("vCPU {id} of {MAX_VCPUS}: {e}"))?);
    }
    println!("# ok: {MAX_VCPUS} vCPUs with ids {}..{}", MAX_VCPU_IDS - MAX_VCPUS, MAX_VCPU_IDS - 1);
    let more = vm.create_vcpu(0).map(|_| 0).map_err(|e| e.errno());
    expect("one vCPU more than KVM_CAP_MAX_VCPUS", more, Err(libc::EINVAL))?;
    drop(vcpus);
    Ok(())
}
