//! rsvm-vmm: boots a Linux guest on a KVM-compatible device (/dev/rsvm or /dev/kvm) with
//! the subset of KVM's ABI rsvm implements. See Documentation/vmm.md.

mod acpi;
mod api;
mod boot;
mod bus;
mod console;
mod control;
mod cpuid;
mod exit;
mod i8042;
mod io_thread;
mod ioapic;
mod layout;
mod logger;
mod memory;
mod mptable;
mod options;
mod passthrough;
mod seccomp;
mod pci;
mod serial;
mod stats;
mod tap;
mod terminal;
#[cfg(test)]
mod testutil;
mod vcpu;
mod virtio;
mod vm;

use clap::Parser;

use exit::VmExit;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
The guest's console is COM1 on this terminal (raw mode while it runs): type Ctrl-A x to
quit, Ctrl-A Ctrl-A to send Ctrl-A. The VMM appends to the command line what its devices
need: tsc_early_khz=<the device's TSC frequency> (the guest has no PIT, HPET or
kvm-clock) and, with --no-acpi, virtio_mmio.device=4K@0xd0000000:5 per virtio device
(with ACPI they are described in the DSDT).

Exit status:
  0    the guest rebooted (i8042 reset) or powered off (ACPI S5; with --no-acpi, seen as
       the kernel's \"reboot: Power down\"/\"System halted\" on its console), or Ctrl-A x
  1    bad arguments or a VMM error (the message says which)
  2    the guest crashed: triple fault, failed VM entry, emulation failure (registers printed)
  3    the guest kernel panicked (seen as \"Kernel panic - not syncing\" on its console)
  124  --timeout expired

Example:
  rsvm-vmm --dev /dev/kvm --kernel bzImage --initrd rootfs.cpio \\
           --cmdline \"console=ttyS0\" --mem 256M --disk disk.img";

/// Boot a Linux guest on /dev/rsvm (or /dev/kvm) with a serial console and a virtio-blk disk.
#[derive(Parser, Debug)]
#[command(name = "rsvm-vmm", version, about, after_help = AFTER_HELP)]
struct Args {
    /// Kernel to boot: a bzImage (64-bit boot protocol) or an uncompressed ELF vmlinux.
    #[arg(long, value_name = "FILE")]
    kernel: PathBuf,

    /// Initial ramdisk (e.g. a cpio archive), placed at the top of low guest RAM.
    #[arg(long, value_name = "FILE")]
    initrd: Option<PathBuf>,

    /// Kernel command line (replaces the default; the VMM's own parameters are appended).
    #[arg(long, value_name = "ARGS", default_value = boot::DEFAULT_CMDLINE)]
    cmdline: String,

    /// Guest RAM: bytes, or with a K, M or G suffix (at least 32M).
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    mem: u64,

    /// Number of vCPUs (1-32).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=32))]
    cpus: u8,

    /// Disk image for a virtio-blk device: FILE, or path=FILE[,ro=on|off]. Repeatable: the
    /// first is /dev/vda in the guest (virtio-mmio at 0xd0000000, IRQ 5), the next vdb
    /// (0xd0001000, IRQ 6), and so on; at most 8 virtio devices in all.
    #[arg(long, value_name = "FILE", value_parser = options::parse_disk)]
    disk: Vec<options::DiskSpec>,

    /// A virtio-net device on the TAP interface NAME (created if it does not exist; needs
    /// CAP_NET_ADMIN): tap=NAME[,mac=MAC]. Repeatable; virtio-mmio after the disks.
    #[arg(long, value_name = "tap=NAME[,mac=MAC]", value_parser = options::parse_net)]
    net: Vec<options::NetSpec>,

    /// Attach the first --disk read-only (the guest sees VIRTIO_BLK_F_RO; writes fail).
    #[arg(long, requires = "disk")]
    disk_ro: bool,

    /// The KVM-compatible device to use.
    #[arg(long, value_name = "PATH", default_value = "/dev/rsvm")]
    dev: PathBuf,

    /// Back guest RAM with transparent huge pages (2 MiB aligned, MADV_HUGEPAGE).
    #[arg(long)]
    hugepages: bool,

    /// No ACPI tables: the guest finds its CPUs and IOAPIC in the MP table only, and cannot
    /// power off through ACPI (the VMM then notices a power-off on the console).
    #[arg(long)]
    no_acpi: bool,

    /// Offer XSAVE (and AVX) to the guest (off by default: see --help).
    ///
    /// Off by default because under QEMU TCG the guest's XSETBV is invisible to the
    /// hypervisor, so CPUID 0xD cannot follow it and Linux's XSAVE setup fails
    /// (Documentation/vmm.md). Fine on real hardware.
    #[arg(long)]
    xsave: bool,

    /// Stop the guest after SECS seconds and exit with status 124.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,

    /// Print the number of KVM_RUN exits by reason when the guest ends, and this process's
    /// resident memory beyond guest RAM.
    #[arg(long)]
    stats: bool,

    /// When a guest console line first contains TEXT, print the time since the guest
    /// started and the exits so far (e.g. --mark "init started" times a boot).
    #[arg(long, value_name = "TEXT")]
    mark: Option<String>,

    /// Give the guest the host PCI function SSSS:BB:DD.F (bound to rsvm; /dev/rsvm only) on
    /// an emulated PCI bus, at 00:01.0 and up (repeatable, at most 4). All guest RAM is
    /// pinned while a device is assigned.
    #[arg(long, value_name = "SSSS:BB:DD.F", value_parser = passthrough::parse_bdf)]
    passthrough: Vec<passthrough::Bdf>,

    /// Log the configuration and the first access to each unemulated port or MMIO page
    /// (the same as --log-level debug).
    #[arg(long, short)]
    verbose: bool,

    /// A control socket at PATH (a Unix stream socket): one JSON request per line, e.g.
    /// {"cmd":"pause"}, "resume", "power-button", "reset", "stats"; one JSON answer per line.
    #[arg(long, value_name = "PATH")]
    api_sock: Option<PathBuf>,

    /// Enable the control socket's debug requests (for tests: debug-forbidden-syscall).
    #[arg(long, hide = true)]
    api_debug: bool,

    /// Run without the sandbox (the per-thread seccomp filters), to debug.
    #[arg(long)]
    no_seccomp: bool,

    /// What the VMM logs on stderr: off, error, warn, info (the default: what ended the run,
    /// --stats), debug (as -v), trace.
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = logger::parse_level)]
    log_level: log::LevelFilter,
}

/// A --mem value that is not a size (clap prints it after "invalid value").
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum SizeError {
    #[error("'{0}' is not a size (e.g. 256M, 1G)")]
    NotASize(String),
    #[error("'{0}' is too large")]
    TooLarge(String),
    #[error("'{0}' is not a multiple of 4 KiB")]
    NotPageMultiple(String),
}

/// "256M", "1G", "65536K", "33554432".
fn parse_size(s: &str) -> Result<u64, SizeError> {
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| SizeError::NotASize(s.into()))?;
    let bytes = n.checked_mul(mult).ok_or_else(|| SizeError::TooLarge(s.into()))?;
    if bytes % 4096 != 0 {
        return Err(SizeError::NotPageMultiple(s.into()));
    }
    Ok(bytes)
}

fn main() {
    // Bad arguments exit with 1 (clap's own 2 would read as "the guest crashed").
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { exit::STATUS_ERROR } else { exit::STATUS_OK });
        }
    };
    logger::init(if args.verbose { args.log_level.max(log::LevelFilter::Debug) } else { args.log_level });
    // The default command line has pci=off, which would hide a passed-through device.
    let cmdline = if !args.passthrough.is_empty() && args.cmdline == boot::DEFAULT_CMDLINE { boot::DEFAULT_CMDLINE_PCI.to_string() } else { args.cmdline };
    let mut disks = args.disk;
    if let Some(d) = disks.first_mut() {
        d.read_only |= args.disk_ro;
    }
    let cfg = vm::Config {
        dev: args.dev,
        kernel: args.kernel,
        initrd: args.initrd,
        cmdline,
        mem: args.mem,
        cpus: args.cpus,
        disks,
        nets: args.net,
        hugepages: args.hugepages,
        xsave: args.xsave,
        acpi: !args.no_acpi,
        timeout: args.timeout.map(Duration::from_secs),
        stats: args.stats,
        mark: args.mark,
        passthrough: args.passthrough,
        verbose: log::log_enabled!(log::Level::Debug),
        api_sock: args.api_sock,
        api_debug: args.api_debug,
        seccomp: !args.no_seccomp,
    };
    let result = match vm::run(&cfg) {
        Ok(result) => result,
        Err(e) => {
            log::error!("{e}");
            std::process::exit(exit::STATUS_ERROR);
        }
    };
    match &result {
        VmExit::Reset => log::info!("the guest rebooted"),
        VmExit::PowerOff => log::info!("the guest powered off"),
        VmExit::Halted => log::info!("the guest halted (its kernel said so on the console; no ACPI power-off)"),
        VmExit::UserQuit => log::info!("quit (Ctrl-A x)"),
        VmExit::Panic => log::error!("the guest kernel panicked"),
        VmExit::Crash(m) => log::error!("the guest crashed: {m}"),
        VmExit::Error(e) => log::error!("{e}"),
        VmExit::Timeout => log::warn!("--timeout expired; guest stopped"),
    }
    std::process::exit(result.status());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("65536K"), Ok(64 << 20));
        assert_eq!(parse_size("33554432"), Ok(32 << 20));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("100").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[test]
    fn bad_inputs() {
        let base = |mem: u64, dev: &str| vm::Config {
            dev: dev.into(),
            kernel: "/nonexistent/bzImage".into(),
            initrd: None,
            cmdline: boot::DEFAULT_CMDLINE.into(),
            mem,
            cpus: 1,
            disks: Vec::new(),
            nets: Vec::new(),
            hugepages: false,
            xsave: false,
            acpi: false,
            timeout: None,
            stats: false,
            mark: None,
            passthrough: Vec::new(),
            verbose: false,
            api_sock: None,
            api_debug: false,
            seccomp: false,
        };
        let err = |mem, dev| vm::run(&base(mem, dev)).map(|e| format!("{e:?}")).unwrap_err().to_string();
        assert_eq!(err(16 << 20, "/dev/null"), "--mem 16 MiB is too small: at least 32 MiB");
        assert_eq!(
            err(64 << 20, "/nonexistent/kvm"),
            "--dev /nonexistent/kvm: No such file or directory (os error 2) (is the module loaded? rsvm.ko for /dev/rsvm, kvm_amd for /dev/kvm)"
        );
        // /dev/null answers KVM_GET_API_VERSION with an error: not KVM-compatible.
        assert_eq!(err(64 << 20, "/dev/null"), "--dev /dev/null: not a KVM-compatible device (KVM_GET_API_VERSION returned -1, expected 12)");
    }
}
