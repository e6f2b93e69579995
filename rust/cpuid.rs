// SPDX-License-Identifier: GPL-2.0

//! Guest CPUID: the table the VMM sets with `KVM_SET_CPUID2`, what `KVM_GET_SUPPORTED_CPUID`
//! offers, and the in-kernel CPUID exit. SVM is never shown to guests.

use crate::{
    ffi,
    uapi::kvm::*,
    x86::{CR4_OSXSAVE, CR4_PKE},
};
use kernel::prelude::*;

const XFEATURE_PKRU: u64 = 1 << 9;

fn entry(function: u32, index: u32, flags: u32) -> KvmCpuidEntry2 {
    let [eax, ebx, ecx, edx] = ffi::cpuid(function, index);
    KvmCpuidEntry2 { function, index, flags, eax, ebx, ecx, edx, padding: [0; 3] }
}

/// Removes what rsvm cannot give a guest from a host CPUID entry.
fn mask_supported(e: &mut KvmCpuidEntry2, host_xcr0: u64) {
    match e.function {
        1 => {
            // No VMX/SMX, MONITOR/MWAIT; OSXSAVE is the guest's own CR4 bit. The in-kernel
            // APIC (KVM_CAP_SPLIT_IRQCHIP) emulates x2APIC and the TSC-deadline timer
            // whatever the host has, as KVM does. Hypervisor present.
            e.ecx &= !((1 << 3) | (1 << 5) | (1 << 6) | (1 << 27));
            e.ecx |= (1 << 21) | (1 << 24) | (1 << 31);
        }
        7 => {
            // No PKU (guest PKRU is not context-switched) and OSPKE is dynamic; no RDPID
            // (the guest's TSC_AUX is always 0: vcpu/run.rs). None of the speculation-control
            // MSRs (SPEC_CTRL, PRED_CMD, ARCH_CAPABILITIES): rsvm does not give guests
            // those MSRs, so it must not offer them. TSC_ADJUST whatever the host has: the
            // MSR is emulated (vcpu/tsc.rs), as KVM's EMULATED_F(TSC_ADJUST).
            // No shadow stacks or IBT (CET state is not switched; CR4.CET stays reserved).
            // No MPX: SVM has no BNDCFGS in the VMCB, as KVM on AMD (kvm_mpx_supported()).
            e.ecx &= !((1 << 3) | (1 << 4) | (1 << 7) | (1 << 22));
            e.ebx &= !(1 << 14);
            e.ebx |= 1 << 1;
            e.edx &= !((1 << 20) | (1 << 26) | (1 << 27) | (1 << 29) | (1 << 31));
        }
        0xd if e.index == 0 => {
            // XSAVE components: the host's, without PKRU (`host_xcr0` is
            // fpu::guest_supported_xcr0(), which has no MPX state either).
            let xcr0 = host_xcr0 & !XFEATURE_PKRU;
            e.eax = xcr0 as u32;
            e.edx = (xcr0 >> 32) as u32;
        }
        0x8000_0000 => e.eax = e.eax.min(0x8000_0008),
        0x8000_0001 => {
            // No SVM, SKINIT for guests; no RDTSCP (intercepted: #UD; the guest's TSC_AUX is
            // always 0, vcpu/run.rs).
            e.ecx &= !((1 << 2) | (1 << 12));
            e.edx &= !(1 << 27);
        }
        0x8000_0008 => {
            // No IBPB, IBRS, STIBP, SSBD, VIRT_SSBD (their MSRs are not offered).
            e.ebx &= !((1 << 12) | (1 << 14) | (1 << 15) | (1 << 24) | (1 << 25));
        }
        _ => {}
    }
}

/// KVM's paravirtual leaves (Documentation/virt/kvm/x86/cpuid.rst), where KVM puts them.
const KVM_CPUID_SIGNATURE: u32 = 0x4000_0000;
const KVM_CPUID_FEATURES: u32 = 0x4000_0001;
/// KVM_FEATURE_NOP_IO_DELAY: "not necessary to perform delays on PIO operations", a hint
/// that needs nothing of the hypervisor.
const KVM_FEATURE_NOP_IO_DELAY: u32 = 1 << 1;
/// What rsvm offers: kvm-clock with both MSR pairs and a stable TSC (`kvmclock.rs`), and the
/// hint. The other features (async page faults, PV EOI, steal time, PV IPIs and TLB
/// flushes...) are not offered: rsvm implements none of their MSRs or hypercalls.
const PV_FEATURES: u32 =
    KVM_FEATURE_CLOCKSOURCE | KVM_FEATURE_NOP_IO_DELAY | KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;

/// Leaf 0x40000000: "KVMKVMKVM\0\0\0" in EBX, ECX, EDX and the highest PV leaf in EAX, as
/// KVM gives it, so guests and KVM's selftests find the KVM interface they look for.
fn pv_signature() -> KvmCpuidEntry2 {
    let sig = *b"KVMKVMKVM\0\0\0";
    let word = |i: usize| u32::from_le_bytes([sig[i], sig[i + 1], sig[i + 2], sig[i + 3]]);
    KvmCpuidEntry2 { function: KVM_CPUID_SIGNATURE, eax: KVM_CPUID_FEATURES, ebx: word(0), ecx: word(4), edx: word(8), ..Default::default() }
}

/// Leaf 0x40000001: the PV features in EAX, the hints (none) in EDX.
fn pv_features() -> KvmCpuidEntry2 {
    KvmCpuidEntry2 { function: KVM_CPUID_FEATURES, eax: PV_FEATURES, ..Default::default() }
}

/// The `KVM_GET_SUPPORTED_CPUID` table.
pub(crate) fn supported(host_xcr0: u64) -> Result<KVec<KvmCpuidEntry2>> {
    let mut v = KVec::new();
    let max_basic = ffi::cpuid(0, 0)[0].min(0xd);
    let max_ext = ffi::cpuid(0x8000_0000, 0)[0].min(0x8000_0008);
    for f in 0..=max_basic {
        match f {
            // Leaves with subleaves: the ones the guest needs.
            4 | 7 | 0xb | 0xd => {
                let n = if f == 0xd { 2 } else { 1 };
                for i in 0..n {
                    v.push(entry(f, i, KVM_CPUID_FLAG_SIGNIFCANT_INDEX), GFP_KERNEL)?;
                }
            }
            // MONITOR/MWAIT and performance monitoring: not offered.
            5 | 0xa => {}
            // Thermal/power: only ARAT (the APIC timer runs in every C-state), as KVM.
            6 => v.push(KvmCpuidEntry2 { function: 6, eax: 1 << 2, ..Default::default() }, GFP_KERNEL)?,
            _ => v.push(entry(f, 0, 0), GFP_KERNEL)?,
        }
    }
    v.push(pv_signature(), GFP_KERNEL)?;
    v.push(pv_features(), GFP_KERNEL)?;
    for f in 0x8000_0000..=max_ext {
        // 8000_000Ah is SVM's own leaf.
        if f != 0x8000_000a {
            v.push(entry(f, 0, 0), GFP_KERNEL)?;
        }
    }
    for e in v.iter_mut() {
        mask_supported(e, host_xcr0);
    }
    Ok(v)
}

/// Does the guest's CPUID table have feature bit `bit` of register `reg` (0 EAX .. 3 EDX)
/// in leaf `function` (subleaf 0)?
pub(crate) fn has(table: &[KvmCpuidEntry2], function: u32, reg: usize, bit: u32) -> bool {
    lookup(table, function, 0).map(|e| [e.eax, e.ebx, e.ecx, e.edx].get(reg).copied().unwrap_or(0) >> bit & 1 != 0).unwrap_or(false)
}

/// CR4 bits every guest may set: VME, PVI, TSD, DE, PSE, PAE, MCE, PGE, PCE, OSFXSR,
/// OSXMMEXCPT.
const CR4_BASE: u64 = 0x7ff;

/// CR4 bits that need a CPUID feature, with it: (CR4 bit, leaf, subleaf, register, bit).
/// KVM's `__cr4_reserved_bits()` (arch/x86/kvm/regs.h), without CET (rsvm does not switch
/// the CET state, so CR4.CET is always reserved) and SMXE (never offered, as KVM).
const CR4_FEATURES: [(u32, u32, u32, usize, u32); 10] = [
    (11, 7, 0, 2, 2),  // UMIP
    (12, 7, 0, 2, 16), // LA57
    (13, 1, 0, 2, 5),  // VMXE: VMX
    (16, 7, 0, 1, 0),  // FSGSBASE
    (17, 1, 0, 2, 17), // PCIDE: PCID
    (18, 1, 0, 2, 26), // OSXSAVE: XSAVE
    (20, 7, 0, 1, 7),  // SMEP
    (21, 7, 0, 1, 20), // SMAP
    (22, 7, 0, 2, 3),  // PKE: PKU
    (28, 7, 1, 0, 26), // LAM_SUP: LAM
];

/// The CR4 bits a guest with CPUID table `table` may set (`KVM_SET_SREGS` refuses others
/// with `EINVAL`, a guest's MOV to CR4 gets #GP), as KVM's `kvm_is_valid_cr4()`: a bit whose
/// feature the guest's CPUID lacks, or this CPU lacks, is reserved.
pub(crate) fn cr4_allowed(table: &[KvmCpuidEntry2]) -> u64 {
    let mut a = CR4_BASE;
    for (cr4_bit, leaf, sub, reg, bit) in CR4_FEATURES {
        let guest = lookup(table, leaf, sub).map(|e| [e.eax, e.ebx, e.ecx, e.edx].get(reg).copied().unwrap_or(0) >> bit & 1 != 0).unwrap_or(false);
        let host = ffi::cpuid(0, 0)[0] >= leaf && ffi::cpuid(leaf, sub).get(reg).copied().unwrap_or(0) >> bit & 1 != 0;
        if guest && host {
            a |= 1 << cr4_bit;
        }
    }
    a
}

/// EFER bits the guest's CPUID allows (KVM's __kvm_valid_efer): LME/LMA need long mode,
/// NXE needs NX, SCE needs SYSCALL.
pub(crate) fn efer_allowed(table: &[KvmCpuidEntry2]) -> u64 {
    let mut a = 0;
    if has(table, 0x8000_0001, 3, 29) {
        a |= (1 << 8) | (1 << 10);
    }
    if has(table, 0x8000_0001, 3, 20) {
        a |= 1 << 11;
    }
    if has(table, 0x8000_0001, 3, 11) {
        a |= 1;
    }
    a
}

/// The guest's physical-address width, as KVM's cpuid_query_maxphyaddr(): 8000_0008h EAX
/// bits 7:0 if the table goes that far, else 36.
pub(crate) fn maxphyaddr(table: &[KvmCpuidEntry2]) -> u32 {
    match (lookup(table, 0x8000_0000, 0), lookup(table, 0x8000_0008, 0)) {
        (Some(m), Some(e)) if m.eax >= 0x8000_0008 => e.eax & 0xff,
        _ => 36,
    }
}

/// Is the guest's CPU vendor Intel (which decides out-of-range leaf behaviour)?
fn vendor_intel(table: &[KvmCpuidEntry2]) -> bool {
    table.iter().any(|e| e.function == 0 && e.ebx == 0x756e_6547 && e.edx == 0x4965_6e69 && e.ecx == 0x6c65_746e)
}

fn lookup(table: &[KvmCpuidEntry2], function: u32, index: u32) -> Option<&KvmCpuidEntry2> {
    table.iter().find(|e| {
        e.function == function && (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX == 0 || e.index == index)
    })
}

/// The guest's CPUID(function, index) from its table, as KVM's kvm_cpuid(): a missing leaf
/// reads as zeros (AMD), or for an Intel guest above the basic range as the highest basic
/// leaf; the OS-controlled bits follow the guest's CR4 (and, with an in-kernel APIC, the
/// APIC bit its IA32_APIC_BASE enable: `apic_enabled`); SVM stays hidden.
pub(crate) fn guest_cpuid(table: &[KvmCpuidEntry2], function: u32, index: u32, cr4: u64, apic_enabled: Option<bool>) -> [u32; 4] {
    let mut e = lookup(table, function, index).copied();
    if e.is_none() && vendor_intel(table) {
        let max_basic = lookup(table, 0, 0).map(|e| e.eax).unwrap_or(0);
        let in_ext = function & 0x8000_0000 != 0;
        let max_ext = lookup(table, 0x8000_0000, 0).map(|e| e.eax).unwrap_or(0);
        if (!in_ext && function > max_basic) || (in_ext && function > max_ext) {
            e = lookup(table, max_basic, index).copied();
        }
    }
    let Some(mut e) = e else { return [0; 4] };
    runtime_bits(&mut e, cr4, apic_enabled);
    match e.function {
        0x8000_0001 => e.ecx &= !(1 << 2),
        0x8000_000a => return [0; 4],
        _ => {}
    }
    [e.eax, e.ebx, e.ecx, e.edx]
}

/// The bits of an entry that follow the vCPU's state, as KVM's kvm_update_cpuid_runtime():
/// OSXSAVE and OSPKE from CR4, APIC from IA32_APIC_BASE's enable (with an in-kernel APIC).
/// What the guest's CPUID returns and what `KVM_GET_CPUID2` reads back.
pub(crate) fn runtime_bits(e: &mut KvmCpuidEntry2, cr4: u64, apic_enabled: Option<bool>) {
    match e.function {
        1 => {
            e.ecx &= !(1 << 27);
            if cr4 & CR4_OSXSAVE != 0 {
                e.ecx |= 1 << 27;
            }
            if let Some(en) = apic_enabled {
                e.edx = (e.edx & !(1 << 9)) | ((en as u32) << 9);
            }
        }
        7 if e.index == 0 => {
            e.ecx &= !(1 << 4);
            if cr4 & CR4_PKE != 0 {
                e.ecx |= 1 << 4;
            }
        }
        _ => {}
    }
}
