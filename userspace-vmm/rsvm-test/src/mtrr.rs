//! The MTRR MSRs as a VMM restoring a vCPU and a guest at boot use them, with KVM's answers
//! (arch/x86/kvm/mtrr.c, Linux 7.2): MTRRcap reads 0x508 (8 variable ranges, fixed ranges,
//! WC) and is read-only; what is written reads back; invalid memory types, reserved bits
//! (above MAXPHYADDR in the variable ranges) and the holes in 0x200-0x26f are refused, by
//! KVM_SET_MSRS (it stops there) and by the guest's WRMSR (#GP). Run by `rsvm-test
//! vm-setup` on rsvm and on kvm_amd (tests/l1/19-vm-setup.sh), which must both pass it.

use crate::{check, TestResult};
use kvm_bindings::{kvm_msr_entry, Msrs};
use rsvm_guest::guest::Guest;
use rsvm_guest::payloads::Mode;

fn set(g: &Guest, index: u32, data: u64) -> Result<usize, String> {
    let m = Msrs::from_entries(&[kvm_msr_entry { index, data, ..Default::default() }]).map_err(|e| format!("{e:?}"))?;
    g.vcpu.set_msrs(&m).map_err(|e| format!("KVM_SET_MSRS({index:#x}): {e}"))
}

fn get(g: &Guest, index: u32) -> Result<Option<u64>, String> {
    let mut m = Msrs::from_entries(&[kvm_msr_entry { index, ..Default::default() }]).map_err(|e| format!("{e:?}"))?;
    let n = g.vcpu.get_msrs(&mut m).map_err(|e| format!("KVM_GET_MSRS({index:#x}): {e}"))?;
    Ok((n == 1).then(|| m.as_slice()[0].data))
}

pub fn mtrr(dev: &str) -> TestResult {
    let kvm = rsvm_guest::guest::open(dev)?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
    let maxphy = cpuid.as_slice().iter().find(|e| e.function == 0x8000_0008).map(|e| e.eax & 0xff).unwrap_or(36);
    // Real mode at 0x1000: rdmsr MTRRcap; out 0xe9,eax; wrmsr MTRRdefType = 0xc06 (E, FE,
    // WB); then wrmsr MTRRdefType = 2 (a reserved type: #GP, whose vector-13 handler at
    // 0x1100 does `mov al,13; out 0xe9,al; hlt`).
    let code = [
        0x66, 0xb9, 0xfe, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x66, 0xe7, 0xe9, 0x66, 0xb9, 0xff, 0x02, 0x00, 0x00, 0x66, 0x31, 0xd2, 0x66, 0xb8,
        0x06, 0x0c, 0x00, 0x00, 0x0f, 0x30, 0x66, 0xb8, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x30, 0xf4,
    ];
    let mut g = Guest::new(dev, Mode::Real, &code, &cpuid)?;
    g.mem.write(13 * 4, &[0x00, 0x11, 0x00, 0x00]);
    g.mem.write(0x1100, &[0xb0, 0x0d, 0xe6, 0xe9, 0xf4]);
    check(get(&g, 0xfe)? == Some(0x508), || "KVM_GET_MSRS(MTRRcap) = 0x508".into())?;
    check(set(&g, 0xfe, 0x508)? == 0, || "KVM_SET_MSRS(MTRRcap) is refused (read-only)".into())?;
    for (what, index, data, ok) in [
        ("MTRRdefType 0xc06", 0x2ff, 0xc06, true),
        ("MTRRdefType bit 12", 0x2ff, 0x1006, false),
        ("MTRRdefType type 2", 0x2ff, 0x802, false),
        ("PhysBase0 WB at 1 MiB", 0x200, 0x10_0006, true),
        ("PhysBase0 bits 11:8", 0x200, 0x10_0106, false),
        ("PhysBase0 type 3", 0x200, 0x10_0003, false),
        ("PhysMask0 valid", 0x201, 0xfff0_0800 & ((1u64 << maxphy) - 1), true),
        ("PhysMask0 above MAXPHYADDR", 0x201, (1u64 << maxphy) | 0x800, false),
        ("PhysMask7 bit 0", 0x20f, 0x801, false),
        ("fix4K_C0000 all WB", 0x268, 0x0606_0606_0606_0606, true),
        ("fix16K_80000 one type 7", 0x258, 0x0607_0606_0606_0606, false),
        ("the hole at 0x210", 0x210, 0, false),
    ] {
        let n = set(&g, index, data)?;
        check(n == ok as usize, || format!("KVM_SET_MSRS {what}: {} (want {})", if n == 1 { "taken" } else { "refused" }, if ok { "taken" } else { "refused" }))?;
        if ok {
            let back = get(&g, index)?;
            check(back == Some(data), || format!("{what} reads back {back:x?}"))?;
        }
    }
    set(&g, 0x2ff, 0)?;
    let end = g.run(16)?;
    let words: Vec<u32> = g.results.iter().filter_map(|r| r.as_slice().try_into().ok().map(u32::from_le_bytes)).collect();
    let bytes: Vec<u8> = g.results.iter().filter(|r| r.len() == 1).map(|r| r[0]).collect();
    check(end == "hlt" && words == [0x508] && bytes == [13], || format!("the guest read MTRRcap {words:x?} (want 508) and its bad MTRRdefType write got #GP ({bytes:?}, ended {end})"))?;
    check(get(&g, 0x2ff)? == Some(0xc06), || "the guest's MTRRdefType write reads back 0xc06".into())?;
    println!("# ok: the MTRR MSRs are kept and checked as KVM's");
    Ok(())
}
