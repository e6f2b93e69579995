// SPDX-License-Identifier: GPL-2.0

//! KVM's ioctl ABI, the subset rsvm implements: numbers and `#[repr(C)]` layouts as in
//! `include/uapi/linux/kvm.h` and `arch/x86/include/uapi/asm/kvm.h` (Linux 7.2). Sizes and
//! offsets are asserted here and compared with `kvm-bindings` by the userspace tests.

use core::mem::{offset_of, size_of};
use kernel::{
    ioctl::{_IO, _IOR, _IOW, _IOWR},
    static_assert,
    transmute::{AsBytes, FromBytes},
};

pub(crate) const KVMIO: u32 = 0xAE;
pub(crate) const KVM_API_VERSION: isize = 12;

// System ioctls.
pub(crate) const KVM_GET_API_VERSION: u32 = _IO(KVMIO, 0x00);
pub(crate) const KVM_CREATE_VM: u32 = _IO(KVMIO, 0x01);
pub(crate) const KVM_GET_MSR_INDEX_LIST: u32 = _IOWR::<KvmMsrList>(KVMIO, 0x02);
pub(crate) const KVM_CHECK_EXTENSION: u32 = _IO(KVMIO, 0x03);
pub(crate) const KVM_GET_VCPU_MMAP_SIZE: u32 = _IO(KVMIO, 0x04);
pub(crate) const KVM_GET_SUPPORTED_CPUID: u32 = _IOWR::<KvmCpuid2>(KVMIO, 0x05);
/// On the system fd: group 0 (KVM_X86_GRP_SYSTEM) attributes; also vCPU and device fds in KVM.
pub(crate) const KVM_GET_DEVICE_ATTR: u32 = _IOW::<KvmDeviceAttr>(KVMIO, 0xe2);
pub(crate) const KVM_HAS_DEVICE_ATTR: u32 = _IOW::<KvmDeviceAttr>(KVMIO, 0xe3);
pub(crate) const KVM_SET_DEVICE_ATTR: u32 = _IOW::<KvmDeviceAttr>(KVMIO, 0xe1);
/// `KVM_X86_GRP_SYSTEM`'s attribute: the XSAVE features a guest may be given (supported XCR0).
pub(crate) const KVM_X86_GRP_SYSTEM: u32 = 0;
pub(crate) const KVM_X86_XCOMP_GUEST_SUPP: u64 = 0;
// VM ioctls.
pub(crate) const KVM_CREATE_VCPU: u32 = _IO(KVMIO, 0x41);
pub(crate) const KVM_SET_NR_MMU_PAGES: u32 = _IO(KVMIO, 0x44);
// KVM_GET_NR_MMU_PAGES (_IO 0x45) is deprecated and KVM 7.2 no longer handles it: ENOTTY,
// as rsvm.
pub(crate) const KVM_SET_USER_MEMORY_REGION: u32 = _IOW::<KvmUserspaceMemoryRegion>(KVMIO, 0x46);
pub(crate) const KVM_SET_TSS_ADDR: u32 = _IO(KVMIO, 0x47);
pub(crate) const KVM_SET_IDENTITY_MAP_ADDR: u32 = _IOW::<u64>(KVMIO, 0x48);
pub(crate) const KVM_SET_USER_MEMORY_REGION2: u32 = _IOW::<KvmUserspaceMemoryRegion2>(KVMIO, 0x49);
pub(crate) const KVM_ENABLE_CAP: u32 = _IOW::<KvmEnableCap>(KVMIO, 0xa3);
pub(crate) const KVM_SIGNAL_MSI: u32 = _IOW::<KvmMsi>(KVMIO, 0xa5);
/// On the VM and the vCPU fd (`stats.rs`).
pub(crate) const KVM_GET_STATS_FD: u32 = _IO(KVMIO, 0xce);
// vCPU ioctls.
pub(crate) const KVM_RUN: u32 = _IO(KVMIO, 0x80);
pub(crate) const KVM_GET_REGS: u32 = _IOR::<KvmRegs>(KVMIO, 0x81);
pub(crate) const KVM_SET_REGS: u32 = _IOW::<KvmRegs>(KVMIO, 0x82);
pub(crate) const KVM_GET_SREGS: u32 = _IOR::<KvmSregs>(KVMIO, 0x83);
pub(crate) const KVM_SET_SREGS: u32 = _IOW::<KvmSregs>(KVMIO, 0x84);
pub(crate) const KVM_INTERRUPT: u32 = _IOW::<KvmInterrupt>(KVMIO, 0x86);
pub(crate) const KVM_GET_MSRS: u32 = _IOWR::<KvmMsrs>(KVMIO, 0x88);
pub(crate) const KVM_SET_MSRS: u32 = _IOW::<KvmMsrs>(KVMIO, 0x89);
pub(crate) const KVM_SET_SIGNAL_MASK: u32 = _IOW::<KvmSignalMask>(KVMIO, 0x8b);
pub(crate) const KVM_GET_FPU: u32 = _IOR::<KvmFpu>(KVMIO, 0x8c);
pub(crate) const KVM_SET_FPU: u32 = _IOW::<KvmFpu>(KVMIO, 0x8d);
pub(crate) const KVM_SET_CPUID2: u32 = _IOW::<KvmCpuid2>(KVMIO, 0x90);
pub(crate) const KVM_GET_CPUID2: u32 = _IOWR::<KvmCpuid2>(KVMIO, 0x91);
pub(crate) const KVM_GET_XSAVE: u32 = _IOR::<KvmXsave>(KVMIO, 0xa4);
pub(crate) const KVM_SET_XSAVE: u32 = _IOW::<KvmXsave>(KVMIO, 0xa5);
pub(crate) const KVM_GET_TSC_KHZ: u32 = _IO(KVMIO, 0xa3);
pub(crate) const KVM_GET_XCRS: u32 = _IOR::<KvmXcrs>(KVMIO, 0xa6);
pub(crate) const KVM_SET_XCRS: u32 = _IOW::<KvmXcrs>(KVMIO, 0xa7);
pub(crate) const KVM_GET_MP_STATE: u32 = _IOR::<u32>(KVMIO, 0x98);
pub(crate) const KVM_SET_MP_STATE: u32 = _IOW::<u32>(KVMIO, 0x99);
// struct kvm_mp_state values.
pub(crate) const KVM_MP_STATE_RUNNABLE: u32 = 0;
pub(crate) const KVM_MP_STATE_UNINITIALIZED: u32 = 1;
pub(crate) const KVM_MP_STATE_INIT_RECEIVED: u32 = 2;
pub(crate) const KVM_MP_STATE_HALTED: u32 = 3;

// Capabilities rsvm implements (KVM_CHECK_EXTENSION answers these, 0 for all others).
pub(crate) const KVM_CAP_USER_MEMORY: u64 = 3;
pub(crate) const KVM_CAP_EXT_CPUID: u64 = 7;
pub(crate) const KVM_CAP_NR_VCPUS: u64 = 9;
pub(crate) const KVM_CAP_NR_MEMSLOTS: u64 = 10;
pub(crate) const KVM_CAP_DESTROY_MEMORY_REGION_WORKS: u64 = 21;
pub(crate) const KVM_CAP_JOIN_MEMORY_REGIONS_WORKS: u64 = 30;
pub(crate) const KVM_CAP_XSAVE: u64 = 55;
pub(crate) const KVM_CAP_MAX_VCPUS: u64 = 66;
pub(crate) const KVM_CAP_READONLY_MEM: u64 = 81;
pub(crate) const KVM_CAP_CHECK_EXTENSION_VM: u64 = 105;
pub(crate) const KVM_CAP_MAX_VCPU_ID: u64 = 128;
pub(crate) const KVM_CAP_IMMEDIATE_EXIT: u64 = 136;
pub(crate) const KVM_CAP_MP_STATE: u64 = 14;
pub(crate) const KVM_CAP_GET_TSC_KHZ: u64 = 61;
pub(crate) const KVM_CAP_TSC_DEADLINE_TIMER: u64 = 72;
pub(crate) const KVM_CAP_SIGNAL_MSI: u64 = 77;
pub(crate) const KVM_CAP_ENABLE_CAP_VM: u64 = 98;
pub(crate) const KVM_CAP_SPLIT_IRQCHIP: u32 = 121;
pub(crate) const KVM_CAP_MMU_SHADOW_CACHE_CONTROL: u64 = 2;
pub(crate) const KVM_CAP_SET_TSS_ADDR: u64 = 4;
pub(crate) const KVM_CAP_SET_IDENTITY_MAP_ADDR: u64 = 37;
pub(crate) const KVM_CAP_SYS_ATTRIBUTES: u64 = 209;
pub(crate) const KVM_CAP_USER_MEMORY2: u64 = 231;
pub(crate) const KVM_CAP_XCRS: u64 = 56;
/// KVM_ENABLE_CAP's number for KVM_CAP_MAX_VCPU_ID (the u32 `cap` field).
pub(crate) const KVM_CAP_MAX_VCPU_ID_ENABLE: u32 = KVM_CAP_MAX_VCPU_ID as u32;

// kvm_run.exit_reason
pub(crate) const KVM_EXIT_IO: u32 = 2;
pub(crate) const KVM_EXIT_HLT: u32 = 5;
pub(crate) const KVM_EXIT_MMIO: u32 = 6;
pub(crate) const KVM_EXIT_IRQ_WINDOW_OPEN: u32 = 7;
pub(crate) const KVM_EXIT_SHUTDOWN: u32 = 8;
pub(crate) const KVM_EXIT_FAIL_ENTRY: u32 = 9;
pub(crate) const KVM_EXIT_INTR: u32 = 10;
pub(crate) const KVM_EXIT_INTERNAL_ERROR: u32 = 17;
pub(crate) const KVM_EXIT_IO_IN: u8 = 0;
pub(crate) const KVM_EXIT_IO_OUT: u8 = 1;
// kvm_run.internal.suberror
pub(crate) const KVM_INTERNAL_ERROR_EMULATION: u32 = 1;
pub(crate) const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES: u64 = 1 << 0;
pub(crate) const KVM_CAP_EXIT_ON_EMULATION_FAILURE: u32 = 204;
/// An event's delivery needed emulation (e.g. the IDT in MMIO).
pub(crate) const KVM_INTERNAL_ERROR_DELIVERY_EV: u32 = 3;
pub(crate) const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: u32 = 4;

pub(crate) const KVM_MEM_LOG_DIRTY_PAGES: u32 = 1 << 0;
pub(crate) const KVM_MEM_READONLY: u32 = 1 << 1;
// KVM_MEM_GUEST_MEMFD (1 << 2), private memory from a guest_memfd: rsvm has none, so the
// flag is EINVAL, as on a KVM built without CONFIG_KVM_GUEST_MEMFD.
/// The flags KVM_SET_USER_MEMORY_REGION (v1) may carry at all (KVM_SET_USER_MEMORY_REGION_V1_FLAGS).
pub(crate) const KVM_SET_USER_MEMORY_REGION_V1_FLAGS: u32 = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY;
pub(crate) const KVM_MAX_CPUID_ENTRIES: u32 = 256;
/// The PIO data page sits right after `kvm_run` in the vCPU mmap (as KVM_PIO_PAGE_OFFSET).
pub(crate) const KVM_PIO_PAGE_OFFSET: usize = 1;

/// `struct kvm_regs`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmRegs {
    pub(crate) rax: u64,
    pub(crate) rbx: u64,
    pub(crate) rcx: u64,
    pub(crate) rdx: u64,
    pub(crate) rsi: u64,
    pub(crate) rdi: u64,
    pub(crate) rsp: u64,
    pub(crate) rbp: u64,
    pub(crate) r8: u64,
    pub(crate) r9: u64,
    pub(crate) r10: u64,
    pub(crate) r11: u64,
    pub(crate) r12: u64,
    pub(crate) r13: u64,
    pub(crate) r14: u64,
    pub(crate) r15: u64,
    pub(crate) rip: u64,
    pub(crate) rflags: u64,
}

/// `struct kvm_segment`
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KvmSegment {
    pub(crate) base: u64,
    pub(crate) limit: u32,
    pub(crate) selector: u16,
    pub(crate) type_: u8,
    pub(crate) present: u8,
    pub(crate) dpl: u8,
    pub(crate) db: u8,
    pub(crate) s: u8,
    pub(crate) l: u8,
    pub(crate) g: u8,
    pub(crate) avl: u8,
    pub(crate) unusable: u8,
    pub(crate) padding: u8,
}

/// `struct kvm_dtable`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmDtable {
    pub(crate) base: u64,
    pub(crate) limit: u16,
    pub(crate) padding: [u16; 3],
}

/// `struct kvm_sregs`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmSregs {
    pub(crate) cs: KvmSegment,
    pub(crate) ds: KvmSegment,
    pub(crate) es: KvmSegment,
    pub(crate) fs: KvmSegment,
    pub(crate) gs: KvmSegment,
    pub(crate) ss: KvmSegment,
    pub(crate) tr: KvmSegment,
    pub(crate) ldt: KvmSegment,
    pub(crate) gdt: KvmDtable,
    pub(crate) idt: KvmDtable,
    pub(crate) cr0: u64,
    pub(crate) cr2: u64,
    pub(crate) cr3: u64,
    pub(crate) cr4: u64,
    pub(crate) cr8: u64,
    pub(crate) efer: u64,
    pub(crate) apic_base: u64,
    pub(crate) interrupt_bitmap: [u64; 4],
}

/// `struct kvm_fpu` (the FXSAVE image, reordered)
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct KvmFpu {
    pub(crate) fpr: [[u8; 16]; 8],
    pub(crate) fcw: u16,
    pub(crate) fsw: u16,
    pub(crate) ftwx: u8,
    pub(crate) pad1: u8,
    pub(crate) last_opcode: u16,
    pub(crate) last_ip: u64,
    pub(crate) last_dp: u64,
    pub(crate) xmm: [[u8; 16]; 16],
    pub(crate) mxcsr: u32,
    pub(crate) pad2: u32,
}

/// `struct kvm_xsave` (the standard-format XSAVE image; `extra[]` unused)
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct KvmXsave {
    pub(crate) region: [u32; 1024],
}

/// `struct kvm_msr_entry`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmMsrEntry {
    pub(crate) index: u32,
    pub(crate) reserved: u32,
    pub(crate) data: u64,
}

/// Header of `struct kvm_msrs` (entries follow).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmMsrs {
    pub(crate) nmsrs: u32,
    pub(crate) pad: u32,
}

/// Header of `struct kvm_msr_list` (indices follow).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmMsrList {
    pub(crate) nmsrs: u32,
}

/// `struct kvm_cpuid_entry2`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmCpuidEntry2 {
    pub(crate) function: u32,
    pub(crate) index: u32,
    pub(crate) flags: u32,
    pub(crate) eax: u32,
    pub(crate) ebx: u32,
    pub(crate) ecx: u32,
    pub(crate) edx: u32,
    pub(crate) padding: [u32; 3],
}
/// `kvm_cpuid_entry2.flags`: the leaf has subleaves; `index` matters.
pub(crate) const KVM_CPUID_FLAG_SIGNIFCANT_INDEX: u32 = 1;

/// Header of `struct kvm_cpuid2` (entries follow).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmCpuid2 {
    pub(crate) nent: u32,
    pub(crate) padding: u32,
}

/// `struct kvm_userspace_memory_region`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmUserspaceMemoryRegion {
    pub(crate) slot: u32,
    pub(crate) flags: u32,
    pub(crate) guest_phys_addr: u64,
    pub(crate) memory_size: u64,
    pub(crate) userspace_addr: u64,
}

/// `struct kvm_userspace_memory_region2`: v1's fields first, then the guest_memfd binding
/// and padding (ignored, as KVM does).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmUserspaceMemoryRegion2 {
    pub(crate) slot: u32,
    pub(crate) flags: u32,
    pub(crate) guest_phys_addr: u64,
    pub(crate) memory_size: u64,
    pub(crate) userspace_addr: u64,
    pub(crate) guest_memfd_offset: u64,
    pub(crate) guest_memfd: u32,
    pub(crate) pad1: u32,
    pub(crate) pad2: [u64; 14],
}

impl From<KvmUserspaceMemoryRegion> for KvmUserspaceMemoryRegion2 {
    /// As KVM: a v1 region is a v2 region with everything past v1 zero.
    fn from(r: KvmUserspaceMemoryRegion) -> Self {
        Self {
            slot: r.slot,
            flags: r.flags,
            guest_phys_addr: r.guest_phys_addr,
            memory_size: r.memory_size,
            userspace_addr: r.userspace_addr,
            ..Default::default()
        }
    }
}

/// KVM_MAX_XCRS: entries in `struct kvm_xcrs`.
pub(crate) const KVM_MAX_XCRS: usize = 16;
/// XCR_XFEATURE_ENABLED_MASK: XCR0, the only XCR.
pub(crate) const XCR_XFEATURE_ENABLED_MASK: u32 = 0;

/// `struct kvm_xcr`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmXcr {
    pub(crate) xcr: u32,
    pub(crate) reserved: u32,
    pub(crate) value: u64,
}

/// `struct kvm_xcrs`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmXcrs {
    pub(crate) nr_xcrs: u32,
    pub(crate) flags: u32,
    pub(crate) xcrs: [KvmXcr; KVM_MAX_XCRS],
    pub(crate) padding: [u64; 16],
}

/// `struct kvm_device_attr`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmDeviceAttr {
    /// No flags are defined; KVM ignores the field.
    pub(crate) flags: u32,
    pub(crate) group: u32,
    pub(crate) attr: u64,
    /// User address of the attribute's value.
    pub(crate) addr: u64,
}

/// `struct kvm_interrupt`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmInterrupt {
    pub(crate) irq: u32,
}

/// Header of `struct kvm_signal_mask` (`len` bytes of sigset follow).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmSignalMask {
    pub(crate) len: u32,
}

/// `kvm_run.io`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmRunIo {
    pub(crate) direction: u8,
    pub(crate) size: u8,
    pub(crate) port: u16,
    pub(crate) count: u32,
    pub(crate) data_offset: u64,
}

/// `kvm_run.mmio`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmRunMmio {
    pub(crate) phys_addr: u64,
    pub(crate) data: [u8; 8],
    pub(crate) len: u32,
    pub(crate) is_write: u8,
}

/// `kvm_run.fail_entry`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmRunFailEntry {
    pub(crate) hardware_entry_failure_reason: u64,
    pub(crate) cpu: u32,
}

/// `kvm_run.internal`
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmRunInternal {
    pub(crate) suberror: u32,
    pub(crate) ndata: u32,
    pub(crate) data: [u64; 16],
}

/// `struct kvm_run`, the page shared with userspace through the vCPU mmap. The exit union
/// is kept as raw bytes; typed views are read and written with `exit_as`/`set_exit`.
#[repr(C)]
pub(crate) struct KvmRun {
    pub(crate) request_interrupt_window: u8,
    pub(crate) immediate_exit: u8,
    pub(crate) padding1: [u8; 6],
    pub(crate) exit_reason: u32,
    pub(crate) ready_for_interrupt_injection: u8,
    pub(crate) if_flag: u8,
    pub(crate) flags: u16,
    pub(crate) cr8: u64,
    pub(crate) apic_base: u64,
    pub(crate) exit: [u64; 32],
    pub(crate) kvm_valid_regs: u64,
    pub(crate) kvm_dirty_regs: u64,
    pub(crate) s: [u8; 2048],
}

static_assert!(size_of::<KvmRegs>() == 144);
static_assert!(size_of::<KvmSegment>() == 24);
static_assert!(size_of::<KvmDtable>() == 16);
static_assert!(size_of::<KvmSregs>() == 312);
static_assert!(offset_of!(KvmSregs, gdt) == 192);
static_assert!(offset_of!(KvmSregs, cr0) == 224);
static_assert!(offset_of!(KvmSregs, apic_base) == 272);
static_assert!(offset_of!(KvmSregs, interrupt_bitmap) == 280);
static_assert!(size_of::<KvmFpu>() == 416);
static_assert!(offset_of!(KvmFpu, last_ip) == 136);
static_assert!(offset_of!(KvmFpu, xmm) == 152);
static_assert!(offset_of!(KvmFpu, mxcsr) == 408);
static_assert!(size_of::<KvmXsave>() == 4096);
/// `struct kvm_enable_cap`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct KvmEnableCap {
    pub(crate) cap: u32,
    pub(crate) flags: u32,
    pub(crate) args: [u64; 4],
    pub(crate) pad: [u8; 64],
}

/// `struct kvm_msi`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct KvmMsi {
    pub(crate) address_lo: u32,
    pub(crate) address_hi: u32,
    pub(crate) data: u32,
    pub(crate) flags: u32,
    pub(crate) devid: u32,
    pub(crate) pad: [u8; 12],
}

static_assert!(size_of::<KvmEnableCap>() == 104);
static_assert!(offset_of!(KvmEnableCap, args) == 8);
static_assert!(size_of::<KvmMsi>() == 32);
static_assert!(offset_of!(KvmMsi, data) == 8);
static_assert!(size_of::<KvmMsrEntry>() == 16);
static_assert!(size_of::<KvmMsrs>() == 8);
static_assert!(size_of::<KvmCpuidEntry2>() == 40);
static_assert!(size_of::<KvmCpuid2>() == 8);
static_assert!(size_of::<KvmUserspaceMemoryRegion>() == 32);
static_assert!(size_of::<KvmUserspaceMemoryRegion2>() == 160);
static_assert!(offset_of!(KvmUserspaceMemoryRegion2, guest_memfd) == 40);
static_assert!(offset_of!(KvmUserspaceMemoryRegion2, pad2) == 48);
static_assert!(size_of::<KvmDeviceAttr>() == 24);
static_assert!(size_of::<KvmXcr>() == 16);
static_assert!(size_of::<KvmXcrs>() == 392);
static_assert!(offset_of!(KvmXcrs, padding) == 264);
static_assert!(size_of::<KvmRunIo>() == 16);
static_assert!(size_of::<KvmRunMmio>() == 24);
static_assert!(offset_of!(KvmRunMmio, len) == 16);
static_assert!(offset_of!(KvmRunMmio, is_write) == 20);
static_assert!(size_of::<KvmRunInternal>() == 136);
static_assert!(offset_of!(KvmRun, exit_reason) == 8);
static_assert!(offset_of!(KvmRun, ready_for_interrupt_injection) == 12);
static_assert!(offset_of!(KvmRun, if_flag) == 13);
static_assert!(offset_of!(KvmRun, cr8) == 16);
static_assert!(offset_of!(KvmRun, apic_base) == 24);
static_assert!(offset_of!(KvmRun, exit) == 32);
static_assert!(offset_of!(KvmRun, kvm_valid_regs) == 288);
static_assert!(offset_of!(KvmRun, s) == 304);
static_assert!(size_of::<KvmRun>() == 2352);

macro_rules! pod {
    ($($t:ty),*) => {$(
        // SAFETY: `repr(C)` with integer fields only and no padding (sizes asserted above);
        // every bit pattern is valid.
        unsafe impl AsBytes for $t {}
        // SAFETY: as above.
        unsafe impl FromBytes for $t {}
    )*};
}
pod!(KvmRegs, KvmSegment, KvmDtable, KvmSregs, KvmFpu, KvmXsave, KvmMsrEntry, KvmMsrs, KvmMsrList,
     KvmCpuidEntry2, KvmCpuid2, KvmUserspaceMemoryRegion, KvmUserspaceMemoryRegion2, KvmDeviceAttr, KvmXcr, KvmXcrs,
     KvmInterrupt, KvmSignalMask, KvmEnableCap, KvmMsi);

// The vCPU state a VMM saves and restores beyond the registers: events, debug registers,
// the local APIC, the sync-regs and x2APIC-API flags.
mod state;
pub(crate) use state::*;
// kvm-clock: KVM_GET/SET_CLOCK, the pvclock MSRs and pages.
mod clock;
pub(crate) use clock::*;
// Coalesced MMIO and PIO: the zones and the ring.
mod coalesced;
pub(crate) use coalesced::*;

/// Exit-union views that can be stored into `KvmRun::exit`.
pub(crate) trait RunExit: Copy {}
impl RunExit for KvmRunIo {}
impl RunExit for KvmRunMmio {}
impl RunExit for KvmRunFailEntry {}
impl RunExit for KvmRunInternal {}

impl KvmRun {
    pub(crate) fn set_exit<T: RunExit>(&mut self, reason: u32, v: T) {
        const { assert!(size_of::<T>() <= 256) };
        self.exit = [0; 32];
        self.exit_reason = reason;
        // SAFETY: `exit` is 256 bytes, 8-aligned; T is a `repr(C)` POD of at most 256 bytes
        // with alignment <= 8.
        unsafe { (self.exit.as_mut_ptr() as *mut T).write(v) };
    }

    pub(crate) fn exit_as<T: RunExit>(&self) -> T {
        const { assert!(size_of::<T>() <= 256) };
        // SAFETY: as in `set_exit`; every bit pattern of these PODs is valid.
        unsafe { (self.exit.as_ptr() as *const T).read() }
    }
}
