//! rsvm-test: assertions about /dev/rsvm run inside the test VM (tests/l1/*.sh call it).
//!
//! Every subcommand checks behaviour and exits 0 (pass), 1 (fail, with the reason on stderr)
//! or 4 (skip, kselftest's KSFT_SKIP). Output lines start with `# ` so that they are TAP
//! diagnostics.

use clap::{Parser, Subcommand};
use kvm_ioctls::Kvm;
use rsvm_abi::*;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

mod hostile;
mod hoststate;
mod memlock;
mod apic;
mod passthrough;
mod vmtests;
mod debugregs;
mod lapicstate;
mod statsfd;
mod vcpuevents;
mod tsc;
mod mtrr;
mod coalesced;
mod kvmclock;
mod emufail;
mod vmsetup;
#[cfg(test)]
mod emulate_tests;
#[cfg(test)]
mod lapic_tests;
#[cfg(test)]
mod dte_tests;
#[cfg(test)]
mod ivrs_tests;
#[cfg(test)]
mod iopt_tests;
/// Kernel-crate stand-ins for module files compiled here (`iopt_tests`): they name
/// `kernel::impl_flags!` and `kernel::static_assert!`.
#[cfg(test)]
extern crate self as kernel;
#[cfg(test)]
mod kernel_standins;
/// The module's SVM files, at the paths the module gives them (`asid.rs` names
/// `crate::svm::vmcb`; the svm files name each other with `super::`).
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../rust/svm"]
mod svm {
    #[path = "assist.rs"]
    pub(crate) mod assist;
    #[path = "clean.rs"]
    pub(crate) mod clean;
    #[path = "event.rs"]
    pub(crate) mod event;
    #[path = "exit.rs"]
    pub(crate) mod exit;
    #[path = "vmcb.rs"]
    pub(crate) mod vmcb;
}
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../rust/asid.rs"]
mod asid;
#[cfg(test)]
mod svm_tests;

#[derive(Parser)]
#[command(about = "Assertions about /dev/rsvm, run inside the rsvm test VM")]
struct Args {
    /// Device node to test (a KVM-compatible device).
    #[arg(long, default_value = "/dev/rsvm", global = true)]
    dev: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// KVM_GET_API_VERSION is 12 and KVM_CHECK_EXTENSION claims nothing rsvm lacks.
    Api,
    /// Bad ioctl numbers and arguments fail with the right errno.
    BadIoctls,
    /// The in-module world-switch self-test: exits and next RIPs as the APM says.
    Selftest {
        /// NPT depth the host must use: 4, or 5 with LA57.
        #[arg(long)]
        expect_levels: u32,
    },
    /// List the guest payloads.
    List,
    /// Run a guest payload, print its trace (exits and final registers), and check its
    /// results against the architecture's.
    Payload { name: String },
    /// NPT faults on first touch, exit counters, pinned pages back to zero (rsvm only).
    FirstTouch,
    /// KVM_SET_USER_MEMORY_REGION rules and errnos.
    Memslots,
    /// The memory and VM-setup ABI: KVM_SET_USER_MEMORY_REGION2, KVM_SET_TSS_ADDR,
    /// KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_NR_MMU_PAGES, ENABLE_CAP(MAX_VCPU_ID), the vCPU
    /// limits, KVM_GET_DEVICE_ATTR on the system fd; KVM's errnos.
    VmSetup,
    /// THP-backed guest memory maps with 2 MiB NPT leaves (rsvm only).
    HugePages,
    /// Hostile and careless VMM behaviour: errors, nothing leaked (rsvm only).
    Hostile,
    /// Pinned guest memory charged to VmPin and limited by RLIMIT_MEMLOCK without
    /// CAP_IPC_LOCK (rsvm only).
    Memlock,
    /// Guest-controlled host state: debug registers, PKRU, CR4 (pinned to CPU 0), the
    /// instructions that reach host state and TSC_AUX (pinned to CPU 1).
    HostState {
        /// Only this part: debugregs, pkru, cr4, insns.
        #[arg(long)]
        only: Option<String>,
    },
    /// The in-kernel APIC's ABI: KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP) and KVM_SIGNAL_MSI
    /// rules, HLT sleeping in the kernel until an MSI from another thread, signals while
    /// halted, a vCPU closed with its timer armed.
    Lapic,
    /// Device assignment (rsvm with amdvi=1, the device bound to rsvm): a guest drives
    /// QEMU's edu through its BAR (DMA, factorial, MSI); isolation; hostile cases.
    Passthrough {
        /// The device bound to rsvm (QEMU edu), SSSS:BB:DD.F.
        #[arg(long, default_value = "0000:00:04.0")]
        device: String,
        /// A device not bound to rsvm.
        #[arg(long, default_value = "0000:00:00.0")]
        other: String,
        /// Leave edu's interrupts unrouted (no MSI and INTx runs).
        #[arg(long)]
        no_msi: bool,
        /// With --hold-secs: route edu's INTx instead of its MSI.
        #[arg(long)]
        intx: bool,
        /// Only the guest run, ending with edu writing this MSI data (hex, e.g. ee: fixed,
        /// vector 0xee) to 0xfee00000: a forged MSI the IOMMU must abort.
        #[arg(long, value_parser = parse_hex_u32)]
        forge_msi: Option<u32>,
        /// Only the guest run; once edu's MSI is set up print "# msi ready" and wait for
        /// this file before running the guest (the script takes a CPU offline meanwhile).
        #[arg(long)]
        wait_file: Option<String>,
        /// Only assign the device (BAR mapped, MSI routed), print "assigned", hold it this
        /// many seconds and expect it to have been taken away (the script unbinds it).
        #[arg(long)]
        hold_secs: Option<u64>,
    },
}

pub(crate) type TestResult = Result<(), String>;

pub(crate) fn check(cond: bool, what: impl FnOnce() -> String) -> TestResult {
    if cond {
        println!("# ok: {}", what());
        Ok(())
    } else {
        Err(what())
    }
}

fn open_kvm(dev: &str) -> Result<Kvm, String> {
    let path = CString::new(dev).map_err(|e| e.to_string())?;
    Kvm::new_with_path(&path).map_err(|e| format!("open {dev}: {e}"))
}

fn api(dev: &str) -> TestResult {
    let kvm = open_kvm(dev)?;
    let v = kvm.get_api_version();
    check(v == KVM_API_VERSION, || format!("KVM_GET_API_VERSION = {v} (want {KVM_API_VERSION})"))?;
    // KVM_CHECK_EXTENSION claims exactly what rsvm implements (KVM's numbers, kvm.h).
    // NR_VCPUS is KVM's min(online CPUs, KVM_MAX_VCPUS).
    // SAFETY: sysconf has no memory effects.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as i32;
    let want: &[(u64, i32)] = &[
        (2, 1), (3, 1), (4, 1), (7, 1), (9, online), (10, 32764), (14, 1), (15, 2), (21, 1), (30, 1), (37, 1), (39, 14), (41, 1), (49, 1), (50, 1), (55, 1),
        (56, 1), (61, 1), (66, 1024), (72, 1), (74, 7), (77, 1), (81, 1), (98, 1), (105, 1), (121, 1), (127, 1), (128, 4096), (129, 3),
        (136, 1), (162, 1), (203, 1), (204, 1), (209, 1), (231, 1),
    ];
    let claimed: Vec<(u64, i32)> = (0..512u64).map(|c| (c, kvm.check_extension_raw(c))).filter(|&(_, v)| v != 0).collect();
    check(claimed == want, || format!("KVM_CHECK_EXTENSION claims {claimed:?} (want {want:?})"))?;
    check(kvm.check_extension_raw(u64::MAX) == 0, || "KVM_CHECK_EXTENSION(~0) = 0".into())?;
    // The same answers on a VM fd (KVM_CAP_CHECK_EXTENSION_VM).
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let on_vm: Vec<(u64, i32)> = (0..512u64).map(|c| (c, vm.check_extension_raw(c))).filter(|&(_, v)| v != 0).collect();
    check(on_vm == want, || format!("VM fd KVM_CHECK_EXTENSION claims {on_vm:?}"))?;
    let n = kvm.get_vcpu_mmap_size().map_err(|e| e.to_string())?;
    check(n == 3 * 4096, || format!("KVM_GET_VCPU_MMAP_SIZE = {n} (kvm_run page, PIO page, coalesced-I/O ring)"))?;
    let cpuid = kvm.get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES).map_err(|e| format!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
    let ent = cpuid.as_slice();
    let leaf = |f: u32| ent.iter().find(|e| e.function == f);
    check(leaf(0).is_some() && leaf(1).is_some() && leaf(0x8000_0001).is_some(), || "supported CPUID has leaves 0, 1, 8000_0001h".into())?;
    check(leaf(0x8000_0001).map(|e| e.ecx & 4 == 0).unwrap_or(false), || "supported CPUID hides SVM (8000_0001h ECX bit 2)".into())?;
    check(leaf(0x8000_000a).is_none(), || "supported CPUID has no SVM leaf 8000_000Ah".into())?;
    check(leaf(1).map(|e| e.ecx & (1 << 5) == 0 && e.ecx & (1 << 31) != 0).unwrap_or(false), || "supported CPUID: no VMX, hypervisor bit set".into())?;
    // KVM's PV leaves: the signature and only the features rsvm has.
    let sig = leaf(0x4000_0000).map(|e| (e.eax, e.ebx, e.ecx, e.edx));
    check(sig == Some((0x4000_0001, 0x4b4d_564b, 0x564b_4d56, 0x4d)), || format!("supported CPUID 4000_0000h is KVM's signature, max leaf 4000_0001h ({sig:x?})"))?;
    let pv = leaf(0x4000_0001).map(|e| (e.eax, e.ebx, e.ecx, e.edx));
    check(pv == Some((0x100_000b, 0, 0, 0)), || format!("supported CPUID 4000_0001h offers kvm-clock (both MSR pairs, stable bit) and NOP_IO_DELAY ({pv:x?})"))?;
    let msrs = kvm.get_msr_index_list().map_err(|e| format!("KVM_GET_MSR_INDEX_LIST: {e}"))?;
    let m = msrs.as_slice();
    check(m.contains(&0xc000_0080) && m.contains(&0x10) && m.contains(&0xc000_0082), || format!("MSR index list has EFER, TSC, LSTAR ({m:x?})"))
}

/// Raw ioctl returning `Ok(value)` or `Err(errno)`.
fn raw_ioctl(f: &File, nr: u64, arg: u64) -> Result<i32, i32> {
    // SAFETY: the ioctls issued here either take no argument or write at most
    // size_of::<RsvmSelftest>() bytes to `arg`, which callers pass as a valid buffer, NULL, or
    // an address the kernel must reject; no Rust memory is aliased unsoundly.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), nr as _, arg) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

fn expect_err(f: &File, what: &str, nr: u64, arg: u64, errno: i32) -> TestResult {
    let r = raw_ioctl(f, nr, arg);
    check(r == Err(errno), || format!("{what}: {r:?} (want Err({errno}))"))
}

fn bad_ioctls(dev: &str) -> TestResult {
    let f = File::open(dev).map_err(|e| format!("open {dev}: {e}"))?;
    let io = |ty: u64, nr: u64| (ty << 8) | nr;
    expect_err(&f, "unknown KVM ioctl _IO(0xAE,0xff)", io(0xae, 0xff), 0, libc::ENOTTY)?;
    expect_err(&f, "foreign ioctl type _IO(0x54,0x01)", io(0x54, 0x01), 0, libc::ENOTTY)?;
    expect_err(&f, "rsvm range, unused number _IO(0xAF,0xfe)", io(0xaf, 0xfe), 0, libc::ENOTTY)?;
    expect_err(&f, "KVM_GET_API_VERSION with arg 1", KVM_GET_API_VERSION(), 1, libc::EINVAL)?;
    expect_err(&f, "KVM_CREATE_VM with an unknown machine type", KVM_CREATE_VM(), 1, libc::EINVAL)?;
    expect_err(&f, "KVM_GET_VCPU_MMAP_SIZE with arg 1", KVM_GET_VCPU_MMAP_SIZE(), 1, libc::EINVAL)?;
    // A 1-entry buffer is too small for the supported CPUID table.
    let mut small = [1u32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect_err(&f, "KVM_GET_SUPPORTED_CPUID into 1 entry", KVM_GET_SUPPORTED_CPUID(), small.as_mut_ptr() as u64, libc::E2BIG)?;
    expect_err(&f, "KVM_GET_SUPPORTED_CPUID into NULL", KVM_GET_SUPPORTED_CPUID(), 0, libc::EFAULT)?;
    let mut list = [1u32, 0];
    expect_err(&f, "KVM_GET_MSR_INDEX_LIST into 1 entry", KVM_GET_MSR_INDEX_LIST(), list.as_mut_ptr() as u64, libc::E2BIG)?;
    check(list[0] > 1, || format!("KVM_GET_MSR_INDEX_LIST reports the needed count ({})", list[0]))?;
    let st = RSVM_SELFTEST_WORLD_SWITCH();
    expect_err(&f, "self-test into NULL", st, 0, libc::EFAULT)?;
    expect_err(&f, "self-test into a kernel address", st, 0xffff_ffff_8100_0000, libc::EFAULT)?;
    // The same number with the size field off by one is a different command.
    let wrong_size = (st & !(0x3fff << 16)) | (((std::mem::size_of::<RsvmSelftest>() as u64) - 8) << 16);
    let mut buf = RsvmSelftest::default();
    expect_err(&f, "self-test with a wrong size in the number", wrong_size, &mut buf as *mut _ as u64, libc::ENOTTY)?;
    // A read-only user page: the module's copy-out must fail cleanly.
    // SAFETY: anonymous private mapping, checked below, unmapped at the end.
    let ro = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    check(ro != libc::MAP_FAILED, || "mmap a read-only page".into())?;
    let r = expect_err(&f, "self-test into a read-only page", st, ro as u64, libc::EFAULT);
    // SAFETY: `ro` is the mapping made above.
    unsafe { libc::munmap(ro, 4096) };
    r
}

fn selftest(dev: &str, expect_levels: u32) -> TestResult {
    let f = File::open(dev).map_err(|e| format!("open {dev}: {e}"))?;
    let mut r = RsvmSelftest::default();
    raw_ioctl(&f, RSVM_SELFTEST_WORLD_SWITCH(), &mut r as *mut _ as u64)
        .map_err(|e| format!("RSVM_SELFTEST_WORLD_SWITCH failed: errno {e}"))?;
    for (i, e) in r.exits.iter().take(r.nr_exits as usize).enumerate() {
        println!(
            "# exit {i}: code {:#x} info1 {:#x} info2 {:#x} rip {:#x} next_rip {:#x} rax {:#x} rdx {:#x}",
            e.exit_code, e.exit_info_1, e.exit_info_2, e.rip, e.next_rip, e.rax, e.rdx
        );
    }
    check(r.npt_levels == expect_levels, || format!("NPT levels {} (want {expect_levels})", r.npt_levels))?;
    check(r.nr_exits == 5, || format!("{} exits (want 5: OUT, HLT, OUT, CPUID, HLT)", r.nr_exits))?;
    let [out8, hlt1, out16, cpuid, hlt2, ..] = r.exits;
    // APM vol. 2, 15.10.2: EXITINFO1 = port[31:16] | SZn (bits 4..6) | OUT (bit 0 clear);
    // EXITINFO2 = the next RIP. The address-size bits 7..9 are left out of the comparison:
    // QEMU sets them only for string I/O.
    const ASIZE: u64 = 7 << 7;
    check(out8.exit_code == exit::IOIO, || format!("exit 0 is IOIO ({:#x})", out8.exit_code))?;
    check(out8.exit_info_1 & !ASIZE == (0x80 << 16) | (1 << 4), || {
        format!("OUT 0x80,AL: EXITINFO1 {:#x} = port 0x80, 8-bit, out", out8.exit_info_1)
    })?;
    check(out8.rax & 0xff == 0xab, || format!("OUT data AL = {:#x} (want 0xab)", out8.rax & 0xff))?;
    check(out8.rip == 0x1002 && out8.exit_info_2 == 0x1004 && out8.next_rip == 0x1004, || {
        format!("OUT at {:#x}, next RIP {:#x} / EXITINFO2 {:#x} (want 0x1002, 0x1004)", out8.rip, out8.next_rip, out8.exit_info_2)
    })?;
    check(hlt1.exit_code == exit::HLT && hlt1.rip == 0x1004 && hlt1.next_rip == 0x1005, || {
        format!("HLT exit {:#x} at {:#x}, next {:#x} (want 0x78 at 0x1004, next 0x1005)", hlt1.exit_code, hlt1.rip, hlt1.next_rip)
    })?;
    check(out16.exit_code == exit::IOIO && out16.exit_info_1 & !ASIZE == (0x510 << 16) | (1 << 5), || {
        format!("OUT DX=0x510,AX: exit {:#x} EXITINFO1 {:#x} = port 0x510, 16-bit, out", out16.exit_code, out16.exit_info_1)
    })?;
    check(out16.rax & 0xffff == 0x1234 && out16.rdx & 0xffff == 0x510, || {
        format!("OUT data AX = {:#x}, DX = {:#x} (want 0x1234, 0x510)", out16.rax & 0xffff, out16.rdx & 0xffff)
    })?;
    check(out16.rip == 0x100b && out16.next_rip == 0x100c, || {
        format!("OUT DX at {:#x} next {:#x} (want 0x100b, 0x100c)", out16.rip, out16.next_rip)
    })?;
    check(cpuid.exit_code == exit::CPUID && cpuid.rip == 0x100f && cpuid.next_rip == 0x1011, || {
        format!("CPUID exit {:#x} at {:#x} next {:#x} (want 0x72 at 0x100f, next 0x1011)", cpuid.exit_code, cpuid.rip, cpuid.next_rip)
    })?;
    check(hlt2.exit_code == exit::HLT && hlt2.rip == 0x1011, || {
        format!("second HLT exit {:#x} at {:#x} (want 0x78 at 0x1011)", hlt2.exit_code, hlt2.rip)
    })
}

fn parse_hex_u32(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("{s}: {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let r = match args.cmd {
        Cmd::Api => api(&args.dev),
        Cmd::BadIoctls => bad_ioctls(&args.dev),
        Cmd::Selftest { expect_levels } => selftest(&args.dev, expect_levels),
        Cmd::List => {
            for n in vmtests::payload_names() {
                println!("{n}");
            }
            Ok(())
        }
        Cmd::Payload { name } => vmtests::run_payload(&args.dev, &name).and_then(|g| {
            for l in &g.trace {
                println!("{l}");
            }
            vmtests::check_payload(&name, &g)
        }),
        Cmd::FirstTouch => vmtests::first_touch(&args.dev),
        Cmd::Memslots => vmtests::memslot_rules(&args.dev),
        Cmd::HugePages => vmtests::huge_pages(&args.dev),
        Cmd::VmSetup => vmsetup::vm_setup(&args.dev),
        Cmd::Hostile => hostile::hostile(&args.dev),
        Cmd::Memlock => memlock::memlock(&args.dev),
        Cmd::HostState { only } => hoststate::host_state(&args.dev, only.as_deref()),
        Cmd::Lapic => apic::lapic(&args.dev),
        Cmd::Passthrough { device, other, no_msi, intx, forge_msi, wait_file, hold_secs } => match hold_secs {
            Some(secs) => passthrough::hold(&device, secs, intx),
            None => passthrough::passthrough(&device, &other, !no_msi, forge_msi, wait_file.as_deref()),
        },
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("# FAIL: {e}");
            ExitCode::FAILURE
        }
    }
}
