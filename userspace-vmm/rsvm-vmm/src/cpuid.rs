//! The guest's CPUID: the device's supported CPUID (KVM_GET_SUPPORTED_CPUID), adjusted so a
//! Linux guest without PIT, HPET or kvm-clock can keep time (see Documentation/vmm.md):
//! TSC-deadline timer (leaf 1 ECX 24, when the device has KVM_CAP_TSC_DEADLINE_TIMER), ARAT
//! (leaf 6 EAX 2), the hypervisor bit (leaf 1 ECX 31), and the vCPU's APIC id. The paravirtual
//! leaves 0x4000_0000+ are dropped: the guest gets no kvm-clock or other PV features.

use kvm_bindings::{kvm_cpuid_entry2, CpuId, KVM_CPUID_FLAG_SIGNIFCANT_INDEX};

const LEAF1_ECX_TSC_DEADLINE: u32 = 1 << 24;
const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;
const LEAF1_EDX_HTT: u32 = 1 << 28;
const LEAF6_EAX_ARAT: u32 = 1 << 2;

pub fn for_vcpu(supported: &CpuId, apic_id: u8, tsc_deadline: bool) -> Result<CpuId, String> {
    let mut entries: Vec<kvm_cpuid_entry2> =
        supported.as_slice().iter().filter(|e| !(0x4000_0000..0x4000_0100).contains(&e.function)).copied().collect();
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
            }
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
    CpuId::from_entries(&entries).map_err(|e| format!("CPUID table: {e:?}"))
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
            kvm_cpuid_entry2 { function: 1, eax: 0xa00f11, ebx: 0x0000_0800, edx: LEAF1_EDX_HTT, ..Default::default() },
            kvm_cpuid_entry2 { function: 0x4000_0000, eax: 0x4000_0001, ..Default::default() },
            kvm_cpuid_entry2 { function: 0x4000_0001, eax: 0xffff, ..Default::default() },
        ])
        .unwrap();
        let c = for_vcpu(&sup, 3, true).unwrap();
        let get = |f| c.as_slice().iter().find(|e| e.function == f).copied();
        let l1 = get(1).unwrap();
        assert_ne!(l1.ecx & LEAF1_ECX_TSC_DEADLINE, 0);
        assert_ne!(l1.ecx & LEAF1_ECX_HYPERVISOR, 0);
        assert_eq!(l1.ebx >> 24, 3);
        assert_eq!(l1.ebx & 0xffff, 0x0800, "CLFLUSH size kept");
        assert_eq!(l1.edx & LEAF1_EDX_HTT, 0);
        assert_eq!(get(6).unwrap().eax & LEAF6_EAX_ARAT, LEAF6_EAX_ARAT, "leaf 6 added with ARAT");
        assert!(get(0x4000_0000).is_none() && get(0x4000_0001).is_none(), "no PV leaves");
        assert_eq!(signature(&c), 0xa00f11);
        let c = for_vcpu(&sup, 0, false).unwrap();
        assert_eq!(c.as_slice().iter().find(|e| e.function == 1).unwrap().ecx & LEAF1_ECX_TSC_DEADLINE, 0);
    }
}
