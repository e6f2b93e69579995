//! Putting a VM together: open and check the device, create the VM with a split irqchip,
//! guest RAM, vCPUs, the kernel, the devices; run the vCPU threads; wait for the end.

use crate::acpi::{SleepControl, SLEEP_CONTROL_PORT, SLEEP_STATUS_PORT};
use crate::boot::{self, BootError, LoadSpec};
use crate::bus::{Bus, BusError, BusKind, Buses};
use crate::exit::{ExitSignal, VmExit};
use crate::i8042::{self, I8042};
use crate::cpuid::CpuidError;
use crate::ioapic::{Ioapic, IrqLine, MsiSink};
use crate::memory::MemoryError;
use crate::passthrough::PassthroughError;
use crate::api::{self, ApiError, ApiServer, ApiTargets};
use crate::console::{Console, OutBuf, RxReady};
use crate::control::{self, VmControl};
use crate::seccomp::{self, SandboxError, ThreadKind};
use crate::io_thread::{IoThread, IoThreadError, Subscriber};
use crate::layout::{self, IOAPIC_BASE, IOAPIC_SIZE, SERIAL_IRQ, VIRTIO_MMIO_SIZE};
use crate::options::{DiskSpec, NetSpec};
use crate::tap::{Tap, TapError};
use crate::virtio::net::NetDevice;
use crate::serial::{self, Com1, ConsoleOut, COM1_BASE, COM1_LEN};
use crate::stats::Stats;
use crate::vcpu;
use crate::virtio::blk::{Block, BlockError};
use crate::virtio::block::BlockDevice;
use crate::virtio::mmio::{MmioTransport, VirtioMmioError};
use crate::virtio::{Counters, VirtioDevice};
use crate::pci::{self, DeviceBackend, Function, IntxRoute, IntxRouter, PciBus, PciError, SlotIrq};
use crate::{cpuid, memory, mptable, passthrough};
use kvm_bindings::{kvm_enable_cap, KVM_API_VERSION, KVM_CAP_SPLIT_IRQCHIP, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vm_superio::Serial;
use crate::terminal::{RawMode, TerminalError};

/// IOAPIC pins the split irqchip reserves (KVM_ENABLE_CAP args[0]).
const IOAPIC_PINS: u64 = 24;

pub struct Config {
    pub dev: PathBuf,
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
    pub mem: u64,
    pub cpus: u8,
    /// --disk, in order (the guest's vda, vdb, ...).
    pub disks: Vec<DiskSpec>,
    /// --net, in order (eth0, eth1, ... after the disks' virtio-mmio slots).
    pub nets: Vec<NetSpec>,
    pub hugepages: bool,
    pub xsave: bool,
    pub acpi: bool,
    pub timeout: Option<Duration>,
    pub stats: bool,
    pub mark: Option<String>,
    /// Host PCI functions to assign (--passthrough).
    pub passthrough: Vec<crate::passthrough::Bdf>,
    pub verbose: bool,
    /// --api-sock: the control socket's path.
    pub api_sock: Option<PathBuf>,
    /// --api-debug: the control socket's debug requests.
    pub api_debug: bool,
    /// The sandbox (per-thread seccomp filters); off with --no-seccomp.
    pub seccomp: bool,
}

/// Why a VM could not be built or started (a message for "rsvm-vmm: error: ", status 1).
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("--mem {} MiB is too small: at least {} MiB", .mem >> 20, layout::MIN_MEM >> 20)]
    MemTooSmall { mem: u64 },
    #[error("--dev {}: bad path", .dev.display())]
    DevPath { dev: PathBuf },
    /// `hint` is empty or says what to check.
    #[error("--dev {}: {source}{hint}", .dev.display())]
    DevOpen { dev: PathBuf, source: kvm_ioctls::Error, hint: &'static str },
    #[error("--dev {}: not a KVM-compatible device (KVM_GET_API_VERSION returned {version}, expected {KVM_API_VERSION})", .dev.display())]
    NotKvm { dev: PathBuf, version: i32 },
    #[error("--dev {}: missing capability: {}", .dev.display(), .caps.join(", "))]
    MissingCaps { dev: PathBuf, caps: Vec<&'static str> },
    /// A system, VM or vCPU ioctl (`op` names it, with the vCPU where there is one).
    #[error("{op}: {source}")]
    Kvm { op: String, source: kvm_ioctls::Error },
    #[error("KVM_GET_TSC_KHZ returned 0: the guest could not keep time")]
    TscKhzZero,
    #[error("--passthrough: at most {} devices", pci::MAX_DEVICES)]
    TooManyDevices,
    #[error("at most {} virtio devices (--disk and --net together), {n} given", layout::MAX_VIRTIO_DEVICES)]
    TooManyVirtio { n: usize },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    IoThread(#[from] IoThreadError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Tap(#[from] TapError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("vCPU kick signal handler: {0}")]
    KickHandler(vmm_sys_util::errno::Error),
    #[error("{what} thread: {source}")]
    Thread { what: &'static str, source: std::io::Error },
    #[error("device ranges: {0}")]
    DeviceRanges(BusError),
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error(transparent)]
    Boot(#[from] BootError),
    #[error(transparent)]
    Cpuid(#[from] CpuidError),
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    #[error(transparent)]
    Disk(#[from] BlockError),
    #[error(transparent)]
    VirtioMmio(#[from] VirtioMmioError),
    #[error(transparent)]
    Passthrough(#[from] PassthroughError),
    #[error(transparent)]
    Pci(#[from] PciError),
}

/// An ioctl `op` failed.
fn kvm_err(op: impl Into<String>) -> impl FnOnce(kvm_ioctls::Error) -> VmError {
    move |source| VmError::Kvm { op: op.into(), source }
}

/// Capabilities rsvm-vmm needs, by the name users see in error messages.
const REQUIRED_CAPS: [(Cap, &str); 3] = [
    (Cap::SplitIrqchip, "KVM_CAP_SPLIT_IRQCHIP (in-kernel local APIC, IOAPIC in userspace)"),
    (Cap::SignalMsi, "KVM_CAP_SIGNAL_MSI"),
    (Cap::GetTscKhz, "KVM_CAP_GET_TSC_KHZ"),
];

/// Opens `dev` and checks it speaks enough of KVM's ABI.
pub fn open_device(dev: &std::path::Path) -> Result<Kvm, VmError> {
    let path = CString::new(dev.as_os_str().as_bytes()).map_err(|_| VmError::DevPath { dev: dev.into() })?;
    let kvm = Kvm::new_with_path(&path).map_err(|source| {
        let hint = if source.errno() == libc::ENOENT { " (is the module loaded? rsvm.ko for /dev/rsvm, kvm_amd for /dev/kvm)" } else { "" };
        VmError::DevOpen { dev: dev.into(), source, hint }
    })?;
    let version = kvm.get_api_version();
    if version != KVM_API_VERSION as i32 {
        return Err(VmError::NotKvm { dev: dev.into(), version });
    }
    let caps: Vec<&'static str> = REQUIRED_CAPS.iter().filter(|(c, _)| !kvm.check_extension(*c)).map(|(_, n)| *n).collect();
    if !caps.is_empty() {
        return Err(VmError::MissingCaps { dev: dev.into(), caps });
    }
    Ok(kvm)
}

/// Builds the VM and runs it to its end; an error is the VMM's (status 1), not the guest's.
pub fn run(cfg: &Config) -> Result<VmExit, VmError> {
    if cfg.mem < layout::MIN_MEM {
        return Err(VmError::MemTooSmall { mem: cfg.mem });
    }
    let nvirtio = cfg.disks.len() + cfg.nets.len();
    if nvirtio > layout::MAX_VIRTIO_DEVICES {
        return Err(VmError::TooManyVirtio { n: nvirtio });
    }
    let kvm = open_device(&cfg.dev)?;
    let tsc_deadline = kvm.check_extension(Cap::TscDeadlineTimer);
    if !tsc_deadline {
        log::warn!("the device has no KVM_CAP_TSC_DEADLINE_TIMER; a Linux guest without a PIT may not get timer interrupts");
    }
    let vm = Arc::new(kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?);
    let cap = kvm_enable_cap { cap: KVM_CAP_SPLIT_IRQCHIP, args: [IOAPIC_PINS, 0, 0, 0], ..Default::default() };
    vm.enable_cap(&cap).map_err(kvm_err("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)"))?;

    memory::warn_memlock(cfg.mem);
    let mem = Arc::new(memory::create(cfg.mem, cfg.hugepages)?);
    memory::register(&vm, &mem)?;
    let bus = Arc::new(Buses { pio: Bus::new(BusKind::Pio, cfg.verbose), mmio: Arc::new(Bus::new(BusKind::Mmio, cfg.verbose)) });
    let pci = passthrough_devices(cfg, &vm, &bus.mmio)?;
    let slots: Vec<SlotIrq> = pci.iter().enumerate().map(|(i, (_, f))| SlotIrq { slot: i as u8 + 1, pin: f.interrupt_pin() }).collect();

    let supported = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
    let msr_list = kvm.get_msr_index_list().map_err(kvm_err("KVM_GET_MSR_INDEX_LIST"))?;
    let msrs = boot::boot_msrs(msr_list.as_slice());
    let mut vcpus = Vec::new();
    for id in 0..cfg.cpus {
        let v = vm.create_vcpu(u64::from(id)).map_err(kvm_err(format!("KVM_CREATE_VCPU {id}")))?;
        let c = cpuid::for_vcpu(&supported, id, tsc_deadline, cfg.xsave)?;
        v.set_cpuid2(&c).map_err(kvm_err(format!("KVM_SET_CPUID2 (vCPU {id})")))?;
        boot::set_msrs(&v, &msrs)?;
        vcpus.push(v);
    }
    let tsc_khz = vcpus[0].get_tsc_khz().map_err(kvm_err("KVM_GET_TSC_KHZ"))?;
    if tsc_khz == 0 {
        return Err(VmError::TscKhzZero);
    }
    let cmdline = boot::cmdline(&cfg.cmdline, tsc_khz, if cfg.acpi { 0 } else { nvirtio })?;
    let cpu_signature = cpuid::signature(&supported);
    let entry = boot::load(
        &mem,
        &LoadSpec { kernel: &cfg.kernel, initrd: cfg.initrd.as_deref(), cmdline: &cmdline, mem_size: cfg.mem, ncpus: cfg.cpus, cpu_signature, acpi: cfg.acpi, virtio_in_acpi: if cfg.acpi { nvirtio } else { 0 }, pci: &slots },
    )?;
    boot::setup_boot_vcpu(&vcpus[0], entry)?;

    // Devices.
    let exit = Arc::new(ExitSignal::default());
    let sink: Arc<dyn MsiSink> = vm.clone();
    let ioapic = Arc::new(Mutex::new(Ioapic::new(mptable::ioapic_id(cfg.cpus), sink)));
    let line = |pin: u32| IrqLine { ioapic: ioapic.clone(), pin: pin as usize };
    let stats = Arc::new(Stats::new(cfg.stats));
    let start = Instant::now();
    let io_err = |what: &str| { let what = what.to_string(); move |source| VmError::Io { what, source } };
    let out_buf = Arc::new(OutBuf::new(Box::new(std::io::stdout())).map_err(io_err("console eventfd"))?);
    let mut out = ConsoleOut::new(out_buf.clone(), exit.clone());
    if let Some(text) = &cfg.mark {
        out.set_mark(serial::Mark::new(text, start, stats.clone()));
    }
    let rx_ready = Arc::new(RxReady::new().map_err(io_err("console eventfd"))?);
    let com1 = Arc::new(Mutex::new(Serial::with_events(line(SERIAL_IRQ), rx_ready.clone(), out)));
    let mut io = IoThread::new()?;
    let mut virtio = Vec::new();
    let mut counters: Vec<Arc<Counters>> = Vec::new();
    for (i, d) in cfg.disks.iter().enumerate() {
        let dev = BlockDevice::new(Block::open(&d.path, d.read_only)?, format!("disk{i}")).map_err(io_err("virtio-blk eventfd"))?;
        let notify = vec![dev.notify_fd().map_err(io_err("virtio-blk eventfd"))?];
        counters.push(dev.counters());
        let dev = Arc::new(Mutex::new(dev));
        io.add(dev.clone());
        let (_, irq) = layout::virtio_slot(virtio.len());
        virtio.push(MmioTransport::new(dev as Arc<Mutex<dyn VirtioDevice>>, notify, mem.clone(), line(irq))?);
    }
    for (i, n) in cfg.nets.iter().enumerate() {
        let mac = n.mac.unwrap_or([0x52, 0x54, 0x00, 0x12, 0x34, 0x50 + i as u8]);
        let dev = NetDevice::new(Tap::open(&n.tap)?, mac, format!("net{i}")).map_err(io_err("virtio-net eventfd"))?;
        let notify = dev.notify_fds().map_err(io_err("virtio-net eventfd"))?;
        counters.push(dev.counters());
        let dev = Arc::new(Mutex::new(dev));
        io.add(dev.clone());
        let (_, irq) = layout::virtio_slot(virtio.len());
        virtio.push(MmioTransport::new(dev as Arc<Mutex<dyn VirtioDevice>>, notify, mem.clone(), line(irq))?);
    }
    let sleep = cfg.acpi.then(|| SleepControl::new(exit.clone()));
    let pci_bus = if pci.is_empty() {
        None
    } else {
        // INTx: the guest's redirection entry of each device's pin becomes its INTx route.
        let routes = pci.iter().zip(&slots).filter(|(_, s)| (1..=4).contains(&s.pin)).map(|((b, f), s)| {
            IntxRoute::new(&f.name, pci::intx_gsi(s.slot, s.pin), b.clone())
        });
        let router = Arc::new(IntxRouter::new(routes.collect()));
        if let Ok(mut io) = ioapic.lock() {
            io.set_observer(router);
        }
        Some(PciBus::new(pci.into_iter().map(|(_, f)| f).collect()))
    };
    let devices = Devices { com1: com1.clone(), i8042: I8042::new(exit.clone()), ioapic: ioapic.clone(), virtio, sleep, pci: pci_bus };
    attach(devices, &bus).map_err(VmError::DeviceRanges)?;

    let control = Arc::new(VmControl::default());
    if let Some(path) = &cfg.api_sock {
        let listener = api::bind(path)?;
        let targets = ApiTargets {
            control: control.clone(),
            exit: exit.clone(),
            stats: stats.clone(),
            devices: counters,
            power_button: cfg.acpi.then(|| line(layout::GED_IRQ)),
            debug: cfg.api_debug,
        };
        io.add(Arc::new(Mutex::new(ApiServer::new(listener, targets))));
    }
    control::install_kick_handler().map_err(VmError::KickHandler)?;
    if cfg.seccomp {
        seccomp::install_sigsys_handler()?;
        // Built once here: a list that does not compile fails the start, not a thread.
        for k in [ThreadKind::Main, ThreadKind::Vcpu, ThreadKind::Io, ThreadKind::StdinCopy] {
            seccomp::filter(k)?;
        }
    }

    let term = RawMode::enter()?;
    let console = Console::new(com1, out_buf.clone(), rx_ready, exit.clone(), cfg.seccomp).map_err(io_err("console input"))?;
    let console: Subscriber = Arc::new(Mutex::new(console));
    io.add(console);
    let sandbox = cfg.seccomp;
    io.spawn(exit.clone(), move || seccomp::apply_or_exit(ThreadKind::Io, sandbox))?;
    if cfg.verbose {
        log::debug!("{} vCPU(s), {} MiB, tsc {} kHz, cmdline: {}", cfg.cpus, cfg.mem >> 20, tsc_khz, cmdline.as_cstring().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default());
    }

    for (id, v) in vcpus.into_iter().enumerate() {
        let (bus, exit, stats, ctl) = (bus.clone(), exit.clone(), stats.clone(), control.clone());
        let h = std::thread::Builder::new()
            .name(format!("vcpu{id}"))
            .spawn(move || {
                let mut v = v;
                seccomp::apply_or_exit(ThreadKind::Vcpu, sandbox);
                vcpu::run(id as u8, &mut v, bus, exit, stats, ctl);
                // The vCPU fd stays open until the process exits (as the VM's does): the
                // run is over, and close(2) is not in this thread's sandbox.
                std::mem::forget(v);
            })
            .map_err(|source| VmError::Thread { what: "vCPU", source })?;
        control.add_vcpu(h);
    }
    seccomp::apply(ThreadKind::Main, cfg.seccomp)?;
    let result = exit.wait(cfg.timeout);
    // What the guest wrote last (its final lines before a reboot) may still be buffered.
    out_buf.drain();
    drop(term);
    if let Some(p) = &cfg.api_sock {
        let _ = std::fs::remove_file(p);
    }
    if cfg.stats {
        log::info!("{}", stats.report());
        log::info!("ran {:.1} s", start.elapsed().as_secs_f64());
        if let Some(kb) = memory::anon_huge_kb() {
            log::info!("guest RAM in transparent huge pages: {} MiB", kb / 1024);
        }
        if let Some((total, guest)) = memory::resident_kb(&mem) {
            log::info!("resident {total} KiB, of which guest RAM {guest} KiB: {} KiB beyond guest RAM", total.saturating_sub(guest));
        }
    }
    // Keep the VM (and its memory) alive until the process exits: vCPU threads may still be
    // inside KVM_RUN; the caller exits the process.
    std::mem::forget(vm);
    // The devices (and their eventfds) too: a vCPU thread must never drop the last
    // reference, which would close fds under its sandbox.
    std::mem::forget(bus);
    std::mem::forget(mem);
    Ok(result)
}

/// The emulated devices, before they go on the buses.
pub struct Devices {
    pub com1: Arc<Mutex<Com1>>,
    pub i8042: I8042,
    pub ioapic: Arc<Mutex<Ioapic>>,
    /// virtio-mmio devices, in slot order (layout::virtio_slot).
    pub virtio: Vec<MmioTransport>,
    pub sleep: Option<SleepControl>,
    pub pci: Option<PciBus>,
}

/// Puts each device on its bus at its ranges (Documentation/vmm.md, "Devices").
pub fn attach(d: Devices, bus: &Buses) -> Result<(), BusError> {
    let (pio, mmio) = (&bus.pio, &bus.mmio);
    pio.insert(d.com1, COM1_BASE.into(), COM1_LEN.into())?;
    let i8042 = Arc::new(Mutex::new(d.i8042));
    pio.insert(i8042.clone(), i8042::DATA_PORT.into(), 1)?;
    pio.insert(i8042, i8042::COMMAND_PORT.into(), 1)?;
    if let Some(s) = d.sleep {
        let s = Arc::new(Mutex::new(s));
        pio.insert(s.clone(), SLEEP_CONTROL_PORT.into(), 1)?;
        pio.insert(s, SLEEP_STATUS_PORT.into(), 1)?;
    }
    if let Some(p) = d.pci {
        pio.insert(Arc::new(Mutex::new(p)), pci::CONFIG_ADDRESS.into(), pci::CONFIG_PORTS)?;
    }
    mmio.insert(d.ioapic, IOAPIC_BASE, IOAPIC_SIZE)?;
    for (i, v) in d.virtio.into_iter().enumerate() {
        mmio.insert(Arc::new(Mutex::new(v)), layout::virtio_slot(i).0, VIRTIO_MMIO_SIZE)?;
    }
    Ok(())
}

/// A passed-through device: its backend (shared with its INTx route) and its function.
type PassedThrough = (Arc<dyn DeviceBackend>, Function);

/// --passthrough: each device assigned to the VM (the module pins all guest RAM and maps it
/// in the VM's I/O domain), its emulated function with BARs placed in the MMIO window (their
/// ranges go on `mmio` when they are mapped).
fn passthrough_devices(cfg: &Config, vm: &Arc<kvm_ioctls::VmFd>, mmio: &Arc<Bus>) -> Result<Vec<PassedThrough>, VmError> {
    if cfg.passthrough.len() > pci::MAX_DEVICES {
        return Err(VmError::TooManyDevices);
    }
    let mut out: Vec<PassedThrough> = Vec::new();
    let mut next = layout::PCI_MMIO_START;
    for (i, bdf) in cfg.passthrough.iter().enumerate() {
        let bars = passthrough::host_bars(bdf)?;
        let backend: Arc<dyn DeviceBackend> = Arc::new(passthrough::Assigned::assign(vm.clone(), bdf, &cfg.dev)?);
        if i == 0 {
            log::info!(
                "note: a device is assigned: all {} MiB of guest RAM are pinned for its DMA for the whole run (no overcommit, no swap)",
                cfg.mem >> 20
            );
        }
        let slot = i as u8 + 1;
        let mut f = Function::new(&format!("--passthrough {}", bdf.text), backend.clone(), &bars, mmio.clone())?;
        let line = if (1..=4).contains(&f.interrupt_pin()) { pci::intx_gsi(slot, f.interrupt_pin()) as u8 } else { 0xff };
        f.assign_resources(&mut next, line)?;
        log::info!("{} is the guest's 0000:00:{slot:02x}.0", bdf.text);
        out.push((backend, f));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioapic::tests::Recorder;

    /// A writer the test can read back.
    use crate::testutil::Shared;

    #[test]
    fn dispatch() {
        let exit = Arc::new(ExitSignal::default());
        let ioapic = Arc::new(Mutex::new(Ioapic::new(1, Arc::new(Recorder::default()))));
        let out = Shared::default();
        let buf = Arc::new(OutBuf::new(Box::new(out.clone())).unwrap());
        let com1 = Serial::with_events(IrqLine { ioapic: ioapic.clone(), pin: 4 }, Arc::new(RxReady::new().unwrap()), ConsoleOut::new(buf.clone(), exit.clone()));
        let bus = Buses { pio: Bus::new(BusKind::Pio, false), mmio: Arc::new(Bus::new(BusKind::Mmio, false)) };
        let devices = Devices { com1: Arc::new(Mutex::new(com1)), i8042: I8042::new(exit.clone()), ioapic, virtio: Vec::new(), sleep: None, pci: None };
        attach(devices, &bus).unwrap();
        // Unclaimed port and MMIO: all-ones, writes ignored (no PIC, no PIT, no PCI).
        for port in [0x21u64, 0x40, 0x61, 0xcfc, 0x600] {
            let mut b = [0u8; 4];
            bus.pio.read(port, &mut b[..1]);
            assert_eq!(b[0], 0xff);
            bus.pio.read(port, &mut b);
            assert_eq!(b, [0xff; 4]);
            bus.pio.write(port, &[0]);
        }
        let mut m = [0u8; 4];
        bus.mmio.read(0xd000_0000, &mut m); // no disk configured
        assert_eq!(m, [0xff; 4]);
        // COM1: a byte out; LSR says the transmitter is empty; a word access is not decoded.
        bus.pio.write(0x3f8, b"A");
        bus.pio.write(0x3f8, b"BC");
        buf.drain();
        assert_eq!(*out.0.lock().unwrap(), b"A");
        let mut lsr = [0u8];
        bus.pio.read(0x3fd, &mut lsr);
        assert_ne!(lsr[0] & 0x20, 0);
        let mut w = [0u8; 2];
        bus.pio.read(0x3fd, &mut w);
        assert_eq!(w, [0xff; 2]);
        // IOAPIC version through the bus.
        bus.mmio.write(0xfec0_0000, &1u32.to_le_bytes());
        bus.mmio.read(0xfec0_0010, &mut m);
        assert_eq!(u32::from_le_bytes(m), 0x0017_0011);
        // i8042: 0x61 between its ports is not its; reset.
        bus.pio.write(0x61, &[0xfe]);
        assert!(!exit.is_set());
        bus.pio.write(0x64, &[0xfe]);
        assert_eq!(exit.wait(None), VmExit::Reset);
    }

    #[test]
    fn device_ranges() {
        let exit = Arc::new(ExitSignal::default());
        let ioapic = Arc::new(Mutex::new(Ioapic::new(1, Arc::new(Recorder::default()))));
        let buf = Arc::new(OutBuf::new(Box::new(Shared::default())).unwrap());
        let com1 = Serial::with_events(IrqLine { ioapic: ioapic.clone(), pin: 4 }, Arc::new(RxReady::new().unwrap()), ConsoleOut::new(buf, exit.clone()));
        let bus = Buses { pio: Bus::new(BusKind::Pio, false), mmio: Arc::new(Bus::new(BusKind::Mmio, false)) };
        let devices = Devices {
            com1: Arc::new(Mutex::new(com1)),
            i8042: I8042::new(exit.clone()),
            ioapic,
            virtio: Vec::new(),
            sleep: Some(SleepControl::new(exit.clone())),
            pci: Some(PciBus::new(Vec::new())),
        };
        attach(devices, &bus).unwrap();
        let pio: Vec<String> = bus.pio.ranges().iter().map(ToString::to_string).collect();
        assert_eq!(pio, ["0x60-0x60", "0x64-0x64", "0x3f8-0x3ff", "0x600-0x600", "0x601-0x601", "0xcf8-0xcff"]);
        assert_eq!(bus.mmio.ranges().iter().map(ToString::to_string).collect::<Vec<_>>(), ["0xfec00000-0xfec00fff"]);
        // The ACPI sleep control register through the bus: S5 with SLP_EN.
        bus.pio.write(0x600, &[(5 << 2) | (1 << 5)]);
        assert_eq!(exit.wait(None), VmExit::PowerOff);
    }
}
