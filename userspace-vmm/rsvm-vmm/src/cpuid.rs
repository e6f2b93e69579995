//! The guest's CPUID: the device's supported CPUID (KVM_GET_SUPPORTED_CPUID), adjusted so a
//! Linux guest without PIT, HPET or kvm-clock can keep time (see Documentation/vmm.md):
//! TSC-deadline timer (leaf 1 ECX 24, when the device has KVM_CAP_TSC_DEADLINE_TIMER), ARAT
//! (leaf 6 EAX 2), the hypervisor bit (leaf 1 ECX 31), and the vCPU's APIC id. The paravirtual
//! leaves 0x4000_0000+ are dropped: the guest gets no kvm-clock or other PV features.
//!
//! XSAVE is hidden unless asked for (`--xsave`): CPUID 0xD.0 EBX (the XSAVE area size for
//! the XCR0 the guest has set) must follow the guest's XSETBV, and under QEMU TCG's SVM
//! XSETBV is not intercepted, so neither KVM nor rsvm sees it; Linux then finds the size
//! wrong ("XSAVE consistency problem") and its fallback crashes later. Without XSAVE the
//! guest uses FXSAVE and no AVX. With `--xsave`, 0xD.0 EBX is preset to the size for every
//! supported feature (ECX), which is what Linux enables (KVM recomputes it anyway).

use kvm_bindings::{kvm_cpuid_entry2, CpuId, KVM_CPUID_FLAG_SIGNIFCANT_INDEX};

#[derive(Debug, thiserror::Error)]
pub enum CpuidError {
    #[error("CPUID table: {0:?}")]
    Table(vmm_sys_util::fam::Error),
}

const LEAF1_ECX_TSC_DEADLINE: u32 = 1 << 24;
const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;
const LEAF1_EDX_HTT: u32 = 1 << 28;
const LEAF6_EAX_ARAT: u32 = 1 << 2;
/// XSAVE, OSXSAVE and the features that need XSAVE state: FMA, AVX, F16C.
const LEAF1_ECX_XSAVE_DEPS: u32 = (1 << 26) | (1 << 27) | (1 << 12) | (1 << 28) | (1 << 29);
/// Leaf 7 EBX: AVX2, AVX512F/DQ/IFMA/PF/ER/CD/BW/VL.
const LEAF7_EBX_AVX: u32 = (1 << 5) | (1 << 16) | (1 << 17) | (1 << 21) | (1 << 26) | (1 << 27) | (1 << 28) | (1 << 30) | (1 << 31);
/// Leaf 7 ECX: AVX512_VBMI, VBMI2, GFNI-VEX users, VAES, VPCLMULQDQ, VNNI, BITALG, VPOPCNTDQ.
const LEAF7_ECX_AVX: u32 = (1 << 1) | (1 << 6) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 14);
/// Leaf 7.1 EAX: AVX-VNNI, AVX512_BF16.
const LEAF7_1_EAX_AVX: u32 = (1 << 4) | (1 << 5);
/// Leaf 0x8000_0001 ECX: XOP, FMA4.
const LEAF_EXT1_ECX_AVX: u32 = (1 << 11) | (1 << 16);

pub fn for_vcpu(supported: &CpuId, apic_id: u8, tsc_deadline: bool, xsave: bool) -> Result<CpuId, CpuidError> {
    let mut entries: Vec<kvm_cpuid_entry2> = supported
        .as_slice()
        .iter()
        .filter(|e| !(0x4000_0000..0x4000_0100).contains(&e.function))
        .filter(|e| xsave || e.function != 0xd)
        .copied()
        .collect();
    let max_basic = entries.iter().find(|e| e.function == 0).map(|e| e.eax).unwrap_or(0);
    if max_basic >= 6 && !entries.iter().any(|e| e.function == 6) {
        entries.push(kvm_cpuid_entry2 { function: 6, ..Default::default() });
    }
    for e in entries.iter_mut() {
        match e.function {
            1 => {
                e.ecx |= LEAF1_ECX_HYPERVISOR;
                if tsc_deadline {
                    e.ecx |= LEAF1_ECX_TSC_DEADLINE;
                }
                // APIC id; one logical processor per package (no HTT).
                e.ebx = (e.ebx & 0xffff) | (1 << 16) | (u32::from(apic_id) << 24);
                e.edx &= !LEAF1_EDX_HTT;
                if !xsave {
                    e.ecx &= !LEAF1_ECX_XSAVE_DEPS;
                }
            }
            7 if !xsave => match e.index {
                0 => {
                    e.ebx &= !LEAF7_EBX_AVX;
                    e.ecx &= !LEAF7_ECX_AVX;
                }
                1 => e.eax &= !LEAF7_1_EAX_AVX,
                _ => {}
            },
            0x8000_0001 if !xsave => e.ecx &= !LEAF_EXT1_ECX_AVX,
            0xd if e.index == 0 => e.ebx = e.ecx,
            6 => e.eax |= LEAF6_EAX_ARAT,
            // x2APIC id in the extended topology leaves.
            0xb | 0x1f => e.edx = u32::from(apic_id),
            // AMD extended APIC id.
            0x8000_001e => e.eax = u32::from(apic_id),
            _ => {}
        }
        if matches!(e.function, 0xb | 0x1f) {
            e.flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        }
    }
    CpuId::from_entries(&entries).map_err(CpuidError::Table)
}

/// CPUID 1 EAX (family, model, stepping), for the MP table.
pub fn signature(c: &CpuId) -> u32 {
    c.as_slice().iter().find(|e| e.function == 1).map(|e| e.eax).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timekeeping_bits_and_apic_id() {
        let sup = CpuId::from_entries(&[
            kvm_cpuid_entry2 { function: 0, eax: 0xd, ..Default::default() },
            kvm_cpuid_entry2 { function: 1, eax: 0xa00f11, ebx: 0x0000_0800, ecx: 1 << 26 | 1 << 28, edx: LEAF1_EDX_HTT, ..Default::default() },
            kvm_cpuid_entry2 { function: 0xd, index: 0, eax: 7, ebx: 0x240, ecx: 0x340, ..Default::default() },
            kvm_cpuid_entry2 { function: 0x4000_0000, eax: 0x4000_0001, ..Default::default() },
            kvm_cpuid_entry2 { function: 0x4000_0001, eax: 0xffff, ..Default::default() },
        ])
        .unwrap();
        let c = for_vcpu(&sup, 3, true, false).unwrap();
        let get = |f| c.as_slice().iter().find(|e| e.function == f).copied();
        let l1 = get(1).unwrap();
        assert_ne!(l1.ecx & LEAF1_ECX_TSC_DEADLINE, 0);
        assert_ne!(l1.ecx & LEAF1_ECX_HYPERVISOR, 0);
        assert_eq!(l1.ebx >> 24, 3);
        assert_eq!(l1.ebx & 0xffff, 0x0800, "CLFLUSH size kept");
        assert_eq!(l1.edx & LEAF1_EDX_HTT, 0);
        assert_eq!(l1.ecx & (1 << 26 | 1 << 28), 0, "no XSAVE, no AVX by default");
        assert!(get(0xd).is_none());
        assert_eq!(get(6).unwrap().eax & LEAF6_EAX_ARAT, LEAF6_EAX_ARAT, "leaf 6 added with ARAT");
        assert!(get(0x4000_0000).is_none() && get(0x4000_0001).is_none(), "no PV leaves");
        assert_eq!(signature(&c), 0xa00f11);
        let c = for_vcpu(&sup, 0, false, true).unwrap();
        assert_eq!(c.as_slice().iter().find(|e| e.function == 1).unwrap().ecx & LEAF1_ECX_TSC_DEADLINE, 0);
        assert_ne!(c.as_slice().iter().find(|e| e.function == 1).unwrap().ecx & (1 << 26), 0, "--xsave keeps it");
        assert_eq!(c.as_slice().iter().find(|e| e.function == 0xd).unwrap().ebx, 0x340, "size for all features");
    }
}
