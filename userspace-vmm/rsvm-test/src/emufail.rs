//! Two answers a VMM gets after the first KVM_RUN, as KVM gives them (Linux 7.2):
//! - an instruction the hypervisor cannot emulate (FLDS from MMIO, which KVM's emulator does
//!   not implement either) at CPL 0 ends in KVM_EXIT_INTERNAL_ERROR /
//!   KVM_INTERNAL_ERROR_EMULATION carrying the instruction's bytes
//!   (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES), with
//!   KVM_CAP_EXIT_ON_EMULATION_FAILURE enabled or not; the cap takes 0 or 1 (else EINVAL).
//!   x86.c handle_emulation_failure(), prepare_emulation_failure_exit().
//! - KVM_SET_CPUID2 after KVM_RUN takes the same table again but refuses a changed one with
//!   EINVAL (kvm_set_cpuid(), kvm_cpuid_check_equal()).
//! Run by `rsvm-test vm-setup` on rsvm and on kvm_amd (tests/l1/19-vm-setup.sh), which must
//! both pass it.

use crate::{check, TestResult};
use rsvm_guest::guest::Guest;
use rsvm_guest::payloads::Mode;

const KVM_CAP_EXIT_ON_EMULATION_FAILURE: u32 = 204;
const KVM_INTERNAL_ERROR_EMULATION: u32 = 1;
const FLAG_INSTRUCTION_BYTES: u64 = 1;

/// Real mode at 0x1000: mov ax,0x8000; mov ds,ax; xor bx,bx; flds [bx]; hlt. 0x80000 is
/// between the harness's two RAM slots: MMIO.
const CODE: [u8; 10] = [0xb8, 0x00, 0x80, 0x8e, 0xd8, 0x31, 0xdb, 0xd9, 0x07, 0xf4];

fn enable(g: &Guest, arg: u64) -> Result<(), i32> {
    let mut c = kvm_bindings::kvm_enable_cap { cap: KVM_CAP_EXIT_ON_EMULATION_FAILURE, ..Default::default() };
    c.args[0] = arg;
    g.vm.enable_cap(&c).map_err(|e| e.errno())
}

/// Runs the FLDS guest; returns the internal-error exit's (suberror, ndata, data).
fn flds_exit(g: &mut Guest) -> Result<(u32, u32, [u64; 16]), String> {
    let end = g.run(8)?;
    check(end == "internal-error", || format!("FLDS from MMIO ends in KVM_EXIT_INTERNAL_ERROR (ended {end})"))?;
    // SAFETY: the exit reason is KVM_EXIT_INTERNAL_ERROR, so `internal` is the union's member.
    let i = unsafe { g.vcpu.get_kvm_run().__bindgen_anon_1.internal };
    Ok((i.suberror, i.ndata, i.data))
}

pub fn emulation_failure(dev: &str) -> TestResult {
    let kvm = rsvm_guest::guest::open(dev)?;
    let caps = kvm.check_extension_raw(KVM_CAP_EXIT_ON_EMULATION_FAILURE as u64);
    check(caps == 1, || format!("KVM_CHECK_EXTENSION(EXIT_ON_EMULATION_FAILURE) is {caps} (want 1)"))?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;

    let mut g = Guest::new(dev, Mode::Real, &CODE, &cpuid)?;
    let (sub, ndata, data) = flds_exit(&mut g)?;
    check(sub == KVM_INTERNAL_ERROR_EMULATION && ndata >= 3 && data[0] & FLAG_INSTRUCTION_BYTES != 0, || {
        format!("without the cap, at CPL 0: suberror {sub} (want 1), ndata {ndata} (want >= 3), flags {:#x} (want instruction bytes)", data[0])
    })?;

    let mut g = Guest::new(dev, Mode::Real, &CODE, &cpuid)?;
    let e = enable(&g, 2);
    check(e == Err(libc::EINVAL), || format!("KVM_ENABLE_CAP(EXIT_ON_EMULATION_FAILURE, 2): {e:?} (want EINVAL)"))?;
    enable(&g, 1).map_err(|e| format!("KVM_ENABLE_CAP(EXIT_ON_EMULATION_FAILURE, 1): errno {e}"))?;
    let (sub, ndata, data) = flds_exit(&mut g)?;
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&data[1].to_le_bytes());
    b[8..].copy_from_slice(&data[2].to_le_bytes());
    let (size, bytes) = (b[0], &b[1..]);
    check(sub == KVM_INTERNAL_ERROR_EMULATION && ndata >= 3 && data[0] & FLAG_INSTRUCTION_BYTES != 0, || {
        format!("with the cap: suberror {sub} (want 1), ndata {ndata} (want >= 3), flags {:#x} (want instruction bytes)", data[0])
    })?;
    check((2..=15).contains(&size) && bytes[..2] == [0xd9, 0x07], || format!("the exit's instruction: {size} bytes {:02x?} (want d9 07 ...)", &bytes[..(size as usize).min(15)]))?;

    // The vCPU has run: KVM_SET_CPUID2 takes the same table, refuses a changed one.
    g.vcpu.set_cpuid2(&cpuid).map_err(|e| format!("KVM_SET_CPUID2 of the same table after KVM_RUN: {e}"))?;
    let mut changed = cpuid.clone();
    if let Some(e) = changed.as_mut_slice().iter_mut().find(|e| e.function == 7 && e.index == 0) {
        e.ebx ^= 1 << 1;
    }
    let e = g.vcpu.set_cpuid2(&changed).map_err(|e| e.errno());
    check(e == Err(libc::EINVAL), || format!("KVM_SET_CPUID2 of a changed table after KVM_RUN: {e:?} (want EINVAL)"))?;
    let e = g.vcpu.set_cpuid2(&kvm_bindings::CpuId::new(1).map_err(|e| format!("{e:?}"))?).map_err(|e| e.errno());
    check(e == Err(libc::EINVAL), || format!("KVM_SET_CPUID2 of a shorter table after KVM_RUN: {e:?} (want EINVAL)"))?;
    println!("# ok: emulation-failure exits and KVM_SET_CPUID2 after KVM_RUN answer as KVM's");
    Ok(())
}
