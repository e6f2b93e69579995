//! KVM_GET/SET_LAPIC and KVM_CAP_X2APIC_API as a VMM saving and restoring a vCPU uses them,
//! with KVM's answers (arch/x86/kvm/lapic.c kvm_apic_get_state()/kvm_apic_set_state() and
//! x86.c, Linux 7.2): the register page at reset, a page set and read back (TPR with CR8,
//! IRR, PPR), the ID in xAPIC and x2APIC mode with and without 32-bit IDs, the timer going
//! on from the TMCCT that was set, and the errors. Run by `rsvm-test vm-setup`, on rsvm and
//! on kvm_amd (tests/l1/19-vm-setup.sh), which must both pass it.

use crate::{check, TestResult};
use kvm_bindings::{kvm_enable_cap, kvm_lapic_state, kvm_msr_entry, Msrs};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

const KVM_CAP_SPLIT_IRQCHIP: u32 = 121;
const KVM_CAP_X2APIC_API: u32 = 129;
const USE_32BIT_IDS: u64 = 1;
const DISABLE_BROADCAST_QUIRK: u64 = 2;
const MSR_IA32_APICBASE: u32 = 0x1b;
const APIC_BASE: u64 = 0xfee0_0000 | 1 << 11; // enabled, xAPIC mode, not the BSP
const X2APIC: u64 = 1 << 10;
// Register offsets in the page (SDM table 11-1).
const ID: usize = 0x20;
const LVR: usize = 0x30;
const TPR: usize = 0x80;
const PPR: usize = 0xa0;
const LDR: usize = 0xd0;
const DFR: usize = 0xe0;
const SVR: usize = 0xf0;
const IRR: usize = 0x200;
const LVTT: usize = 0x320;
const TMICT: usize = 0x380;
const TMCCT: usize = 0x390;
const TDCR: usize = 0x3e0;

fn reg(s: &kvm_lapic_state, off: usize) -> u32 {
    u32::from_le_bytes(std::array::from_fn(|i| s.regs[off + i] as u8))
}

fn set_reg(s: &mut kvm_lapic_state, off: usize, v: u32) {
    for (i, b) in v.to_le_bytes().into_iter().enumerate() {
        s.regs[off + i] = b as _;
    }
}

fn enable_cap(vm: &VmFd, cap: u32, arg: u64) -> Result<(), i32> {
    let mut c = kvm_enable_cap { cap, ..Default::default() };
    c.args[0] = arg;
    vm.enable_cap(&c).map_err(|e| e.errno())
}

fn get(vcpu: &VcpuFd) -> Result<kvm_lapic_state, String> {
    vcpu.get_lapic().map_err(|e| format!("KVM_GET_LAPIC: {e}"))
}

fn set_base(vcpu: &VcpuFd, v: u64) -> TestResult {
    let m = Msrs::from_entries(&[kvm_msr_entry { index: MSR_IA32_APICBASE, data: v, ..Default::default() }]).map_err(|e| format!("{e:?}"))?;
    let n = vcpu.set_msrs(&m).map_err(|e| format!("KVM_SET_MSRS: {e}"))?;
    check(n == 1, || format!("KVM_SET_MSRS IA32_APIC_BASE = {v:#x}: {n} set (want 1)"))
}

pub fn lapic_state(kvm: &Kvm) -> TestResult {
    // No in-kernel APIC: both are EINVAL.
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let vcpu = vm.create_vcpu(0).map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
    let e = vcpu.get_lapic().map(|_| ()).map_err(|e| e.errno());
    check(e == Err(libc::EINVAL), || format!("KVM_GET_LAPIC without an in-kernel APIC: {e:?} (want EINVAL)"))?;
    drop((vcpu, vm));

    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    enable_cap(&vm, KVM_CAP_SPLIT_IRQCHIP, 24).map_err(|e| format!("ENABLE_CAP(SPLIT_IRQCHIP): errno {e}"))?;
    let vcpu = vm.create_vcpu(3).map_err(|e| format!("KVM_CREATE_VCPU 3: {e}"))?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
    vcpu.set_cpuid2(&cpuid).map_err(|e| format!("KVM_SET_CPUID2: {e}"))?;

    // RESET (SDM 11.4.7.1): xAPIC ID = vCPU id, software-disabled, LVT masked, flat model.
    let s = get(&vcpu)?;
    let at_reset = [(ID, 3 << 24), (TPR, 0), (PPR, 0), (SVR, 0xff), (LVTT, 1 << 16), (DFR, 0xffff_ffff), (TMICT, 0)];
    for (off, want) in at_reset {
        check(reg(&s, off) == want, || format!("register {off:#x} at reset: {:#x} (want {want:#x})", reg(&s, off)))?;
    }
    check(reg(&s, LVR) & 0xff == 0x14, || format!("LVR {:#x}: version 0x14", reg(&s, LVR)))?;

    // Set and read back: TPR (and CR8 with it), a requested vector, PPR from the TPR.
    let mut t = s;
    set_reg(&mut t, SVR, 0x1ff);
    set_reg(&mut t, TPR, 0x50);
    set_reg(&mut t, IRR + 0x20, 1 << 1); // vector 0x41
    set_reg(&mut t, LVR, 0); // computed by the hypervisor, never taken
    vcpu.set_lapic(&t).map_err(|e| format!("KVM_SET_LAPIC: {e}"))?;
    let r = get(&vcpu)?;
    for (off, want) in [(SVR, 0x1ff), (TPR, 0x50), (PPR, 0x50), (IRR + 0x20, 1 << 1), (LVR, reg(&s, LVR))] {
        check(reg(&r, off) == want, || format!("register {off:#x} after KVM_SET_LAPIC: {:#x} (want {want:#x})", reg(&r, off)))?;
    }
    let cr8 = vcpu.get_sregs().map_err(|e| format!("KVM_GET_SREGS: {e}"))?.cr8;
    check(cr8 == 5, || format!("CR8 {cr8} after KVM_SET_LAPIC with TPR 0x50 (want 5)"))?;

    // One-shot timer at divide-by-1 (a count per bus cycle, 1 ns on both): set with TMCCT
    // at half of TMICT, it goes on from there.
    let mut t = r;
    set_reg(&mut t, TDCR, 0xb);
    set_reg(&mut t, LVTT, 0x30);
    set_reg(&mut t, TMICT, 2_000_000_000);
    set_reg(&mut t, TMCCT, 1_000_000_000);
    vcpu.set_lapic(&t).map_err(|e| format!("KVM_SET_LAPIC (timer): {e}"))?;
    let left = reg(&get(&vcpu)?, TMCCT);
    check(left <= 1_000_000_000 && left > 500_000_000, || format!("TMCCT {left} right after setting 1e9 of 2e9 (want 5e8..1e9)"))?;

    // x2APIC: the ID is the vCPU's, shifted left by 24 unless 32-bit IDs are on; the LDR
    // derives from it (cluster 0, bit 3).
    set_base(&vcpu, APIC_BASE | X2APIC)?;
    let x = get(&vcpu)?;
    check(reg(&x, ID) == 3 << 24 && reg(&x, LDR) == 1 << 3, || format!("x2APIC: ID {:#x} LDR {:#x} (want 0x3000000, 0x8)", reg(&x, ID), reg(&x, LDR)))?;
    let mut y = x;
    set_reg(&mut y, ID, 7 << 24);
    vcpu.set_lapic(&y).map_err(|e| format!("KVM_SET_LAPIC with another x2APIC ID (ignored): {e}"))?;
    check(reg(&get(&vcpu)?, ID) == 3 << 24, || "x2APIC ID changed by KVM_SET_LAPIC: it is read-only".into())?;

    let caps = vm.check_extension_raw(KVM_CAP_X2APIC_API as u64) as u64;
    check(caps & 3 == 3, || format!("KVM_CHECK_EXTENSION(X2APIC_API) = {caps:#x}: 32-bit IDs and the broadcast quirk"))?;
    let e = enable_cap(&vm, KVM_CAP_X2APIC_API, 1 << 4);
    check(e == Err(libc::EINVAL), || format!("ENABLE_CAP(X2APIC_API, bit 4): {e:?} (want EINVAL)"))?;
    enable_cap(&vm, KVM_CAP_X2APIC_API, USE_32BIT_IDS | DISABLE_BROADCAST_QUIRK).map_err(|e| format!("ENABLE_CAP(X2APIC_API): errno {e}"))?;
    let x = get(&vcpu)?;
    check(reg(&x, ID) == 3, || format!("x2APIC ID with 32-bit IDs: {:#x} (want 3)", reg(&x, ID)))?;
    let mut y = x;
    set_reg(&mut y, ID, 4);
    let e = vcpu.set_lapic(&y).map_err(|e| e.errno());
    check(e == Err(libc::EINVAL), || format!("KVM_SET_LAPIC with x2APIC ID 4 of vCPU 3, 32-bit IDs: {e:?} (want EINVAL)"))?;
    vcpu.set_lapic(&x).map_err(|e| format!("KVM_SET_LAPIC with its own x2APIC ID: {e}"))?;

    // Back to xAPIC by the host: the ID is the vCPU's again (KVM ABI).
    set_base(&vcpu, APIC_BASE)?;
    let b = get(&vcpu)?;
    check(reg(&b, ID) == 3 << 24, || format!("xAPIC ID after x2APIC -> xAPIC: {:#x} (want 0x3000000)", reg(&b, ID)))?;
    println!("# ok: KVM_GET/SET_LAPIC and KVM_CAP_X2APIC_API");
    Ok(())
}
