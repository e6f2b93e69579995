//! rsvm-bench: the cost of virtualization, measured (after Drepper, "The Cost of
//! Virtualization", ACM Queue 2008). Runs the experiments on a KVM-compatible device and turns
//! their results into a report. See Documentation/benchmark.md.

use clap::{Parser, Subcommand};
use rsvm_bench::{chase, exits, iomap, report};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Measure what virtualization costs on /dev/rsvm (or /dev/kvm): exits, and a pointer chase \
natively and in a guest with 4 KiB or 2 MiB pages in both paging levels")]
struct Args {
    /// KVM-compatible device to measure.
    #[arg(long, default_value = "/dev/rsvm", global = true)]
    dev: String,
    /// Pin this process (and so the vCPU) to one CPU.
    #[arg(long, global = true)]
    cpu: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Ticks per round trip: CPUID (handled in the kernel), OUT to this process and back,
    /// and on rsvm the in-module VMRUN floor. CSV rows on stdout.
    ExitCosts {
        #[arg(long, default_value_t = 2000)]
        iters: u64,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// The pointer chase, natively and in a guest, working sets 2^MIN_LOG..2^MAX_LOG bytes
    /// (the article's 2^10..2^28 by default). CSV rows (min, median, max ticks per step over
    /// REPEAT runs; one run above 4 MiB) on stdout.
    Chase {
        #[arg(long, default_value_t = 10)]
        min_log: u32,
        #[arg(long, default_value_t = 28)]
        max_log: u32,
        #[arg(long, value_delimiter = ',', default_value = "0,7")]
        npad: Vec<usize>,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// NPT faults and exits to touch all of a guest's memory, 4 KiB vs 2 MiB backing.
    Touch {
        #[arg(long, default_value_t = 1024)]
        mib: usize,
    },
    /// Time to pin and IOMMU-map a VM's memory with 4 KiB and with 2 MiB backing, and the I/O
    /// page-table entries written (rsvm with `amdvi=1` and DEVICE bound to it).
    IommuMap {
        /// A PCI device bound to rsvm (SSSS:BB:DD.F).
        #[arg(long)]
        device: rsvm_abi::RsvmPciDevice,
        /// Memory sizes in MiB.
        #[arg(long, value_delimiter = ',', default_value = "256,1024")]
        mib: Vec<usize>,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Kernel memory per VM and per vCPU, VMM resident size.
    Overhead,
    /// Time to create a VM and to its first exit.
    Startup,
    /// Turn result rows (from the commands above, in any text) into summary.md and PNG plots.
    Report {
        /// File with the result rows.
        input: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "bench-report")]
        out: PathBuf,
        /// TrueType font for the plots' text (no plots without one).
        #[arg(long, default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")]
        font: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(cpu) = args.cpu {
        // SAFETY: a zeroed cpu_set_t with one bit set, for this thread.
        let r = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        if r != 0 {
            eprintln!("rsvm-bench: cannot pin to CPU {cpu}: {}", std::io::Error::last_os_error());
            return ExitCode::FAILURE;
        }
    }
    let r = match args.cmd {
        Cmd::ExitCosts { iters, repeat } => exits::exit_costs(&args.dev, iters, repeat.max(1)),
        Cmd::Chase { min_log, max_log, npad, repeat } => chase::sweep(&args.dev, min_log, max_log, &npad, repeat.max(1)),
        Cmd::Touch { mib } => chase::touch(&args.dev, mib << 20),
        Cmd::IommuMap { device, mib, repeat } => iomap::iommu_map(device, &mib, repeat.max(1)),
        Cmd::Overhead => rsvm_bench::overhead(&args.dev),
        Cmd::Startup => rsvm_bench::startup(&args.dev),
        Cmd::Report { input, out, font } => std::fs::read_to_string(&input)
            .map_err(|e| format!("{}: {e}", input.display()))
            .and_then(|t| report::write(&report::parse(&t), &out, font.exists().then_some(font.as_path())))
            .map(|()| println!("wrote {}", out.join("summary.md").display())),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rsvm-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
