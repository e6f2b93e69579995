//! Device assignment (rsvm only, `amdvi=1`, QEMU's edu bound to rsvm): the test acts as the
//! VMM. A guest drives edu through its BAR mapped into the NPT: liveness, factorial, a DMA
//! round trip through the VM's I/O domain, a DMA to an address outside the VM's memory (a
//! host canary page stays unchanged), and edu's MSI routed to the guest's APIC; then a
//! second guest with edu's INTx routed instead (level-triggered: masked until the guest's
//! EOI, delivered again while edu still asserts it). Then the hostile cases: errnos for
//! unbound devices, double and cross-VM assignment, bad arguments, event forwarding with the
//! event-injection hook, 20 release/assign cycles, a VM closed with INTx routed, and a VMM
//! killed while it holds the device.

use crate::vmtests::apic_cpuid_table;
use crate::{check, TestResult};
use rsvm_abi::*;
use rsvm_guest::guest::{Guest, HostMem};
use rsvm_guest::payloads::{edu64, Mode, EDU_BAR_GPA};
use std::os::fd::AsRawFd;

/// Parses `SSSS:BB:DD.F`.
pub fn parse_bdf(s: &str) -> Result<RsvmPciDevice, String> {
    RsvmPciDevice::parse(s)
}

fn ioctl<T>(fd: &impl AsRawFd, nr: u64, arg: &mut T) -> Result<(), i32> {
    // SAFETY: `arg` is a live, correctly sized argument struct for `nr` (the ioctl number
    // encodes its size; rsvm-abi asserts the layouts).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), nr as _, arg as *mut T) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

fn expect<T>(fd: &impl AsRawFd, what: &str, nr: u64, mut arg: T, want: Result<(), i32>) -> TestResult {
    let r = ioctl(fd, nr, &mut arg);
    check(r == want, || format!("{what}: {r:?} (want {want:?})"))
}

fn cfg(vm: &impl AsRawFd, dev: RsvmPciDevice, offset: u32, size: u32, write: Option<u32>) -> Result<u32, String> {
    let mut c = RsvmDeviceConfig { dev, offset, size, write: write.is_some() as u32, value: write.unwrap_or(0) };
    ioctl(vm, RSVM_DEVICE_CONFIG(), &mut c).map_err(|e| format!("RSVM_DEVICE_CONFIG {offset:#x}: errno {e}"))?;
    Ok(c.value)
}

fn sysfs_config(bdf: &str) -> Result<Vec<u8>, String> {
    std::fs::read(format!("/sys/bus/pci/devices/{bdf}/config")).map_err(|e| format!("read config of {bdf}: {e}"))
}

/// The physical address of the page at `p` (root: /proc/self/pagemap shows PFNs).
fn phys_of(p: *const u8) -> Result<u64, String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open("/proc/self/pagemap").map_err(|e| format!("pagemap: {e}"))?;
    f.seek(SeekFrom::Start((p as u64 / 4096) * 8)).map_err(|e| e.to_string())?;
    let mut b = [0u8; 8];
    f.read_exact(&mut b).map_err(|e| e.to_string())?;
    let e = u64::from_le_bytes(b);
    if e & (1 << 63) == 0 || e & ((1 << 55) - 1) == 0 {
        return Err(format!("canary page not present in pagemap ({e:#x})"));
    }
    Ok((e & ((1 << 55) - 1)) * 4096)
}

fn debugfs(cmd: &str) -> Result<(), String> {
    std::fs::write("/sys/kernel/debug/rsvm/amdvi", cmd).map_err(|e| format!("debugfs amdvi '{cmd}': {e}"))
}

fn install_alarm_handler() {
    extern "C" fn on_alarm(_: i32) {}
    // SAFETY: a handler that does nothing, without SA_RESTART: KVM_RUN returns EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_alarm as *const () as usize;
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
    }
}

fn pattern(i: usize) -> u8 {
    ((i * 7 + 3) as u8) ^ 0x5a
}

/// How edu interrupts the guest (the payload's mode word at 0x7008).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Irq {
    None = 0,
    /// MSI to vector 0x50 of APIC 0.
    Msi = 1,
    /// INTx to vector 0x51 of APIC 0, level-triggered.
    Intx = 2,
}

/// The host IRQ line of rsvm's INTx handler is in /proc/interrupts.
fn intx_irq_requested() -> Result<bool, String> {
    let s = std::fs::read_to_string("/proc/interrupts").map_err(|e| format!("/proc/interrupts: {e}"))?;
    Ok(s.lines().any(|l| l.contains("rsvm-intx")))
}

/// INTx routing errnos, then INTx on for the guest run.
fn intx_setup(g: &Guest, dev: RsvmPciDevice) -> TestResult {
    let x = RsvmDeviceMsi { dev, address_lo: 0xfee0_0000, address_hi: 0, data: 0x51, flags: 1 };
    let msi = RsvmDeviceMsi { data: 0x50, ..x };
    expect(&g.vm, "INTx with unknown flag bits", RSVM_DEVICE_INTX(), RsvmDeviceMsi { flags: 3, ..x }, Err(libc::EINVAL))?;
    expect(&g.vm, "INTx with a non-APIC address", RSVM_DEVICE_INTX(), RsvmDeviceMsi { address_lo: 0x1000, ..x }, Err(libc::EINVAL))?;
    expect(&g.vm, "INTx with an address above 4 GiB", RSVM_DEVICE_INTX(), RsvmDeviceMsi { address_hi: 1, ..x }, Err(libc::EINVAL))?;
    expect(&g.vm, "INTx as an NMI (no EOI)", RSVM_DEVICE_INTX(), RsvmDeviceMsi { data: 0x451, ..x }, Err(libc::EINVAL))?;
    expect(&g.vm, "MSI on", RSVM_DEVICE_MSI(), msi, Ok(()))?;
    expect(&g.vm, "INTx while MSI is on", RSVM_DEVICE_INTX(), x, Err(libc::EBUSY))?;
    expect(&g.vm, "MSI off", RSVM_DEVICE_MSI(), RsvmDeviceMsi { flags: 0, ..msi }, Ok(()))?;
    check(!intx_irq_requested()?, || "no rsvm-intx line in /proc/interrupts before INTx is on".into())?;
    expect(&g.vm, "INTx off while off", RSVM_DEVICE_INTX(), RsvmDeviceMsi { flags: 0, ..x }, Ok(()))?;
    expect(&g.vm, "INTx to vector 0x52", RSVM_DEVICE_INTX(), RsvmDeviceMsi { data: 0x52, ..x }, Ok(()))?;
    check(intx_irq_requested()?, || "rsvm-intx host IRQ in /proc/interrupts while INTx is on".into())?;
    expect(&g.vm, "MSI while INTx is on", RSVM_DEVICE_MSI(), msi, Err(libc::EBUSY))?;
    expect(&g.vm, "INTx rerouted to vector 0x51", RSVM_DEVICE_INTX(), x, Ok(()))?;
    Ok(())
}

/// The guest drives edu; `irq` says how edu interrupts it; a non-zero `forge` makes the
/// guest have edu write that MSI data to 0xfee00000 at the end (the script checks whether
/// the host received it).
/// With `wait_file`, it prints "# msi ready" once edu's MSI is set up and waits for that
/// file before the guest runs (the script moves the host IRQ meanwhile: a CPU goes offline),
/// and the interrupt counts are checked as lower bounds (the module delivers one more
/// interrupt after a move).
fn guest_run(bdf: &str, dev: RsvmPciDevice, irq: Irq, forge: u32, wait_file: Option<&str>) -> TestResult {
    println!("# guest run with interrupts: {irq:?}");
    let msi = irq == Irq::Msi;
    let mut g = Guest::with_apic("/dev/rsvm", Mode::Long64, edu64(), &apic_cpuid_table())?;
    // A host page outside the VM's memory whose physical address the guest will DMA to.
    let canary = HostMem::new(4096)?;
    canary.write(0, &[0xcc; 4096]);
    // SAFETY: locks our own mapping in memory (its PFN must not change).
    unsafe { libc::mlock(canary.ptr.cast(), 4096) };
    let canary_pa = phys_of(canary.ptr)?;
    check(canary_pa >= 0x40_0000 && !(0xc000_0000..0xc020_0000).contains(&canary_pa), || {
        format!("canary page at host physical {canary_pa:#x}, outside the guest's RAM and BAR")
    })?;
    // The canary page is also the memory of a second VM: a device assigned to this VM must
    // reach neither the host nor another VM.
    let vm_b = rsvm_guest::guest::open("/dev/rsvm")?.create_vm().map_err(|e| format!("KVM_CREATE_VM (VM B): {e}"))?;
    // SAFETY: `canary` outlives `vm_b` (declared before it).
    unsafe { vm_b.set_user_memory_region(rsvm_guest::guest::region(0, 0, 4096, canary.ptr as u64, 0)) }
        .map_err(|e| format!("VM B's memslot on the canary page: {e}"))?;
    g.mem.write(0x7000, &canary_pa.to_le_bytes());
    g.mem.write(0x7008, &(irq as u64).to_le_bytes());
    g.mem.write(0x7010, &u64::from(forge).to_le_bytes());

    expect(&g.vm, "assign edu", RSVM_ASSIGN_DEVICE(), dev, Ok(()))?;
    expect(&g.vm, "assign edu again (same VM)", RSVM_ASSIGN_DEVICE(), dev, Err(libc::EEXIST))?;
    // BAR0 first at another address, then moved (the first mapping must go).
    let bar = |gpa| RsvmDeviceBar { dev, bar: 0, flags: 0, gpa };
    expect(&g.vm, "BAR0 over guest RAM", RSVM_MAP_DEVICE_BAR(), bar(0x10_0000), Err(libc::EEXIST))?;
    expect(&g.vm, "BAR 6", RSVM_MAP_DEVICE_BAR(), RsvmDeviceBar { bar: 6, ..bar(0xd000_0000) }, Err(libc::EINVAL))?;
    expect(&g.vm, "BAR 1 (not a memory BAR)", RSVM_MAP_DEVICE_BAR(), RsvmDeviceBar { bar: 1, ..bar(0xd000_0000) }, Err(libc::EINVAL))?;
    expect(&g.vm, "BAR0 unaligned", RSVM_MAP_DEVICE_BAR(), bar(0xd000_0800), Err(libc::EINVAL))?;
    expect(&g.vm, "BAR0 at 0xd0000000", RSVM_MAP_DEVICE_BAR(), bar(0xd000_0000), Ok(()))?;
    expect(&g.vm, "BAR0 moved to 0xc0000000", RSVM_MAP_DEVICE_BAR(), bar(EDU_BAR_GPA), Ok(()))?;
    // A memslot over the BAR is refused while it is mapped.
    let r = g.add_slot(5, EDU_BAR_GPA, 0x1000, 0, false);
    check(r.as_ref().is_err_and(|e| e.contains("File exists")), || format!("memslot over the BAR: {r:?} (want EEXIST)"))?;
    // A memslot added while assigned is mapped in the I/O domain (and deleted again).
    g.add_slot(6, 0x80_0000, 0x20_0000, 0x11, false)?;
    g.delete_slot(6)?;

    // Config space: ids read through, BARs hidden, the filter drops BAR writes.
    let id = cfg(&g.vm, dev, 0, 4, None)?;
    check(id == 0x11e8_1234, || format!("config dword 0: {id:#x} (edu 1234:11e8)"))?;
    let b0 = cfg(&g.vm, dev, 0x10, 4, None)?;
    check(b0 == 0, || format!("BAR0 reads {b0:#x} through the module (hidden: 0)"))?;
    let before = sysfs_config(bdf)?;
    cfg(&g.vm, dev, 0x10, 4, Some(0xffff_ffff))?;
    cfg(&g.vm, dev, 0x30, 4, Some(0xffff_ffff))?;
    let after = sysfs_config(bdf)?;
    check(before.get(0x10..0x34) == after.get(0x10..0x34), || "BAR and ROM writes were dropped (sysfs config unchanged)".into())?;
    expect(&g.vm, "config access of size 3", RSVM_DEVICE_CONFIG(), RsvmDeviceConfig { dev, offset: 0, size: 3, ..Default::default() }, Err(libc::EINVAL))?;
    expect(&g.vm, "config access beyond 256", RSVM_DEVICE_CONFIG(), RsvmDeviceConfig { dev, offset: 256, size: 4, ..Default::default() }, Err(libc::EINVAL))?;
    let cmd = cfg(&g.vm, dev, 4, 2, None)?;
    cfg(&g.vm, dev, 4, 2, Some(cmd | 0x6))?;
    let cmd = cfg(&g.vm, dev, 4, 2, None)?;
    check(cmd & 6 == 6, || format!("command register {cmd:#x}: memory space and bus master on"))?;
    if msi {
        let m = RsvmDeviceMsi { dev, address_lo: 0xfee0_0000, address_hi: 0, data: 0x50, flags: 1 };
        expect(&g.vm, "MSI with a non-APIC address", RSVM_DEVICE_MSI(), RsvmDeviceMsi { address_lo: 0x1000, ..m }, Err(libc::EINVAL))?;
        expect(&g.vm, "MSI to vector 0x50", RSVM_DEVICE_MSI(), m, Ok(()))?;
    }
    if irq == Irq::Intx {
        intx_setup(&g, dev)?;
        // The guest's Interrupt Disable bit reads back as written, whatever rsvm's mask.
        let cmd = cfg(&g.vm, dev, 4, 2, None)?;
        check(cmd & 0x400 == 0, || format!("command register {cmd:#x}: the guest sees INTx enabled"))?;
    }
    if let Some(f) = wait_file {
        println!("# msi ready");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut n = 0;
        while !std::path::Path::new(f).exists() {
            check(n < 1200, || format!("{f} appeared within 120 s"))?;
            std::thread::sleep(std::time::Duration::from_millis(100));
            n += 1;
        }
    }

    install_alarm_handler();
    // SAFETY: alarm() only schedules SIGALRM for this process.
    unsafe { libc::alarm(60) };
    let end = g.run(1000);
    // SAFETY: cancels the alarm.
    unsafe { libc::alarm(0) };
    let end = end.map_err(|e| format!("{e}; trace so far {:?}", g.trace))?;
    check(end == "done", || format!("guest ends with OUT 0xf4 ({end}; trace {:?})", g.trace))?;
    let res: Vec<u32> = g.results.iter().map(|d| d.iter().rev().fold(0u32, |a, &b| a << 8 | b as u32)).collect();
    println!("# guest results: {res:x?}");
    let r = |i: usize| res.get(i).copied();
    check(r(0) == Some(!0x1234_5678u32), || format!("edu liveness through the BAR: {:x?} (want {:#x})", r(0), !0x1234_5678u32))?;
    check(r(1).is_some_and(|v| v & 0xffff == 0xed), || format!("edu id register: {:x?}", r(1)))?;
    check(r(2) == Some(120), || format!("edu factorial of 5: {:?}", r(2)))?;
    check(r(3) == Some(1), || format!("guest saw its pattern back after RAM -> edu -> RAM DMA: {:?}", r(3)))?;
    let host: Vec<u8> = (0..0x800).map(|i| {
        // SAFETY: the guest's RAM mapping is HIGH_RAM_END (4 MiB) long.
        unsafe { *g.mem.ptr.add(0x30_0000 + i) }
    }).collect();
    check(host.iter().enumerate().all(|(i, &b)| b == pattern(i)), || "the DMA'd pattern is in the VMM's view of guest page 0x300000".into())?;
    check(r(4) == Some(0x77), || format!("DMA outside the VM's memory completed: {:x?}", r(4)))?;
    // SAFETY: the canary mapping is 4096 bytes.
    let cnry = unsafe { std::slice::from_raw_parts(canary.ptr, 4096) };
    check(cnry.iter().all(|&b| b == 0xcc), || format!("canary page at {canary_pa:#x} (host memory and VM B's RAM) unchanged by the guest's DMA to it"))?;
    drop(vm_b);
    if msi && wait_file.is_some() {
        check(r(5).is_some_and(|n| n >= 1), || format!("edu's raise-IRQ reached the guest after the IRQ move (count {:?})", r(5)))?;
        let mut ev = RsvmDeviceEvents { dev, ..Default::default() };
        ioctl(&g.vm, RSVM_DEVICE_EVENTS(), &mut ev).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
        println!("# module counted {} MSIs of edu", ev.interrupts);
        check(ev.interrupts >= 1, || format!("edu's MSIs reached the host handler through the rewritten entry ({})", ev.interrupts))?;
    } else if msi {
        check(r(5) == Some(1), || format!("edu's raise-IRQ reached the guest as vector 0x50 (count {:?})", r(5)))?;
        check(r(6) == Some(2), || format!("edu's factorial IRQ reached the guest (count {:?})", r(6)))?;
        check(r(7) == Some(24), || format!("factorial of 4 with IRQ: {:?}", r(7)))?;
        let mut ev = RsvmDeviceEvents { dev, ..Default::default() };
        ioctl(&g.vm, RSVM_DEVICE_EVENTS(), &mut ev).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
        // (2, or 3 when edu still had its interrupt status from an earlier run: QEMU's edu
        // has no reset.)
        println!("# module counted {} MSIs of edu", ev.interrupts);
        check(ev.interrupts >= 2, || format!("module counted {} MSIs of edu", ev.interrupts))?;
    }
    if irq == Irq::Intx {
        check(r(5) == Some(2), || format!("edu's raise-IRQ reached the guest as vector 0x51 twice: EOIed unacked, it came again (count {:?})", r(5)))?;
        check(r(6) == Some(1), || format!("vector 0x51's TMR bit set at delivery (level-triggered): {:?}", r(6)))?;
        check(r(7) == Some(2), || format!("acked, then EOIed: no third delivery (count {:?})", r(7)))?;
        check(r(8) == Some(3), || format!("edu's factorial IRQ reached the guest through INTx (count {:?})", r(8)))?;
        check(r(9) == Some(24), || format!("factorial of 4 with IRQ: {:?}", r(9)))?;
        let mut ev = RsvmDeviceEvents { dev, ..Default::default() };
        ioctl(&g.vm, RSVM_DEVICE_EVENTS(), &mut ev).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
        check(ev.interrupts == 3, || format!("module counted {} INTx deliveries of edu (want 3)", ev.interrupts))?;
        // Guest writes to Interrupt Disable are its own: set and read back, cleared again.
        let cmd = cfg(&g.vm, dev, 4, 2, None)?;
        cfg(&g.vm, dev, 4, 2, Some(cmd | 0x400))?;
        let set = cfg(&g.vm, dev, 5, 1, None)?;
        let phys = sysfs_config(bdf)?;
        check(set & 4 != 0 && phys.get(5).is_some_and(|b| b & 4 != 0), || format!("guest set Interrupt Disable: reads {set:#x}, device {:x?}", phys.get(5)))?;
        cfg(&g.vm, dev, 4, 2, Some(cmd & !0x400))?;
        let clr = cfg(&g.vm, dev, 4, 2, None)?;
        check(clr & 0x400 == 0, || format!("guest cleared Interrupt Disable: reads {clr:#x}"))?;
        expect(&g.vm, "INTx off", RSVM_DEVICE_INTX(), RsvmDeviceMsi { dev, flags: 0, ..Default::default() }, Ok(()))?;
        check(!intx_irq_requested()?, || "INTx off: the host IRQ is freed (no rsvm-intx in /proc/interrupts)".into())?;
        let phys = sysfs_config(bdf)?;
        check(phys.get(5).is_some_and(|b| b & 4 != 0), || format!("INTx off: Interrupt Disable set at the device ({:x?}) though the guest cleared it", phys.get(5)))?;
        let mut ev2 = RsvmDeviceEvents { dev, ..Default::default() };
        ioctl(&g.vm, RSVM_DEVICE_EVENTS(), &mut ev2).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
        check(ev2.interrupts == 3, || format!("interrupt count kept after INTx off: {}", ev2.interrupts))?;
        // On again: the release below frees it.
        let x = RsvmDeviceMsi { dev, address_lo: 0xfee0_0000, address_hi: 0, data: 0x51, flags: 1 };
        expect(&g.vm, "INTx on again (freed by the release)", RSVM_DEVICE_INTX(), x, Ok(()))?;
    }
    if forge != 0 && wait_file.is_none() {
        // (The forged write's result follows the interrupt results of the mode.)
        let i = match irq { Irq::None => 5, Irq::Msi => 8, Irq::Intx => 10 };
        check(r(i) == Some(0x79), || format!("the guest had edu write MSI data {forge:#x} to 0xfee00000: {:x?}", r(i)))?;
        println!("# forged MSI data {forge:#x} written to 0xfee00000 by edu");
    }

    // Event forwarding: an IO_PAGE_FAULT record for edu, injected where the unit writes.
    let devid = (dev.bus as u16) << 8 | dev.devfn as u16;
    debugfs(&format!("inject-event 2 {devid:x} 123000"))?;
    debugfs(&format!("inject-event 1 {devid:x} 0"))?;
    let mut recs = [[0u64; 2]; 4];
    let mut ev = RsvmDeviceEvents { dev, nr: 4, records: recs.as_mut_ptr() as u64, ..Default::default() };
    ioctl(&g.vm, RSVM_DEVICE_EVENTS(), &mut ev).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
    check(ev.nr == 2 && ev.io_page_faults == 1 && ev.events == 2 && ev.lost == 0, || format!("events: {ev:?}"))?;
    check(recs[0][0] >> 60 == 2 && recs[0][0] & 0xffff == devid as u64 && recs[0][1] == 0x123000, || format!("first record {:#x?} is the IO_PAGE_FAULT", recs[0]))?;
    check(recs[1][0] >> 60 == 1, || format!("second record {:#x?} is ILLEGAL_DEV_TABLE_ENTRY", recs[1]))?;
    let mut ev = RsvmDeviceEvents { dev, nr: 4, records: 0, ..Default::default() };
    ioctl(&g.vm, RSVM_DEVICE_EVENTS(), &mut ev).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
    check(ev.nr == 0 && ev.events == 2, || format!("records are taken once: {ev:?}"))?;
    expect(&g.vm, "events with pad set", RSVM_DEVICE_EVENTS(), RsvmDeviceEvents { dev, nr: 0, pad: 1, ..Default::default() }, Err(libc::EINVAL))?;
    eventfd_forwarding(&g.vm, dev)?;

    expect(&g.vm, "release edu", RSVM_RELEASE_DEVICE(), dev, Ok(()))?;
    check(!intx_irq_requested()?, || "released: no rsvm-intx host IRQ left".into())?;
    let phys = sysfs_config(bdf)?;
    check(phys.get(5).is_some_and(|b| b & 4 != 0), || format!("released: INTx disabled at the device ({:x?})", phys.get(5)))?;
    expect(&g.vm, "release edu again", RSVM_RELEASE_DEVICE(), dev, Err(libc::ENOENT))?;
    expect(&g.vm, "INTx of a released device", RSVM_DEVICE_INTX(), RsvmDeviceMsi { dev, address_lo: 0xfee0_0000, data: 0x51, flags: 1, ..Default::default() }, Err(libc::ENOENT))?;
    expect(&g.vm, "BAR of a released device", RSVM_MAP_DEVICE_BAR(), bar(EDU_BAR_GPA), Err(libc::ENOENT))?;
    Ok(())
}

/// A new non-blocking eventfd.
fn new_eventfd() -> Result<std::os::fd::OwnedFd, String> {
    // SAFETY: creates a new file descriptor, owned below.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("eventfd: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Waits up to `ms` for `fd` to become readable; then reads its counter (0 if it did not).
fn wait_eventfd(fd: &impl AsRawFd, ms: i32) -> Result<u64, String> {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    if n < 0 {
        return Err(format!("poll: {}", std::io::Error::last_os_error()));
    }
    if n == 0 {
        return Ok(0);
    }
    let mut v = 0u64;
    // SAFETY: reads the 8-byte counter into `v`.
    let r = unsafe { libc::read(fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    if r != 8 {
        return Err(format!("read eventfd: {}", std::io::Error::last_os_error()));
    }
    Ok(v)
}

/// RSVM_DEVICE_EVENTFD: events are forwarded without asking (the module's 100 ms poll drains
/// the log and signals the eventfd); errnos; no signal once unregistered.
fn eventfd_forwarding(vm: &impl AsRawFd, dev: RsvmPciDevice) -> TestResult {
    let devid = (dev.bus as u16) << 8 | dev.devfn as u16;
    let efd = new_eventfd()?;
    let reg = |fd: i32| RsvmDeviceEventfd { dev, fd, flags: 0 };
    expect(vm, "eventfd with flags", RSVM_DEVICE_EVENTFD(), RsvmDeviceEventfd { flags: 1, ..reg(efd.as_raw_fd()) }, Err(libc::EINVAL))?;
    expect(vm, "eventfd with device flags", RSVM_DEVICE_EVENTFD(), RsvmDeviceEventfd { dev: RsvmPciDevice { flags: 1, ..dev }, ..reg(efd.as_raw_fd()) }, Err(libc::EINVAL))?;
    expect(vm, "eventfd -2", RSVM_DEVICE_EVENTFD(), reg(-2), Err(libc::EBADF))?;
    expect(vm, "eventfd: a closed fd", RSVM_DEVICE_EVENTFD(), reg(4000), Err(libc::EBADF))?;
    let mut pipe = [0i32; 2];
    // SAFETY: a pipe, closed below.
    if unsafe { libc::pipe(pipe.as_mut_ptr()) } != 0 {
        return Err("pipe".into());
    }
    let r = ioctl(vm, RSVM_DEVICE_EVENTFD(), &mut reg(pipe[0]));
    // SAFETY: our pipe's two ends.
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
    check(r == Err(libc::EBADF), || format!("eventfd: a pipe instead: {r:?} (want EBADF)"))?;
    expect(vm, "eventfd of a device that is not bound", RSVM_DEVICE_EVENTFD(), RsvmDeviceEventfd { dev: RsvmPciDevice { bus: 0x7f, ..dev }, ..reg(efd.as_raw_fd()) }, Err(libc::ENODEV))?;
    expect(vm, "register the eventfd", RSVM_DEVICE_EVENTFD(), reg(efd.as_raw_fd()), Ok(()))?;

    // Three records, and no RSVM_DEVICE_EVENTS: the poll must drain and signal by itself.
    let t = std::time::Instant::now();
    for a in [0x1000u64, 0x2000, 0x3000] {
        debugfs(&format!("inject-event 2 {devid:x} {a:x}"))?;
    }
    let mut count = 0;
    while count < 3 && t.elapsed() < std::time::Duration::from_millis(1000) {
        count += wait_eventfd(&efd, 1000)?;
    }
    let ms = t.elapsed().as_millis();
    println!("# eventfd signalled {count} times within {ms} ms of the injection");
    check(count >= 3 && ms <= 1000, || format!("eventfd counted {count} (want >= 3) within 1 s (took {ms} ms)"))?;
    let mut recs = [[0u64; 2]; 4];
    let mut ev = RsvmDeviceEvents { dev, nr: 4, records: recs.as_mut_ptr() as u64, ..Default::default() };
    ioctl(vm, RSVM_DEVICE_EVENTS(), &mut ev).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
    check(ev.nr == 3 && recs[2][1] == 0x3000 && recs[0][0] >> 60 == 2, || format!("the 3 records after the signal: {ev:?} {recs:#x?}"))?;

    // Unregistered: an event is still filed, but nothing is signalled.
    expect(vm, "unregister the eventfd", RSVM_DEVICE_EVENTFD(), reg(-1), Ok(()))?;
    expect(vm, "unregister again", RSVM_DEVICE_EVENTFD(), reg(-1), Ok(()))?;
    debugfs(&format!("inject-event 2 {devid:x} 4000"))?;
    let n = wait_eventfd(&efd, 500)?;
    check(n == 0, || format!("no signal after unregistering (counter {n})"))?;
    let mut ev = RsvmDeviceEvents { dev, nr: 4, records: recs.as_mut_ptr() as u64, ..Default::default() };
    ioctl(vm, RSVM_DEVICE_EVENTS(), &mut ev).map_err(|e| format!("RSVM_DEVICE_EVENTS: errno {e}"))?;
    check(ev.nr == 1 && recs[0][1] == 0x4000, || format!("the unsignalled record was filed: {ev:?}"))?;
    Ok(())
}

/// Errnos and cycles that need no guest.
fn hostile(dev: RsvmPciDevice, other: RsvmPciDevice) -> TestResult {
    let kvm = rsvm_guest::guest::open("/dev/rsvm")?;
    let vm1 = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let vm2 = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let mem = HostMem::new(0x40_0000)?;
    // SAFETY: `mem` outlives the VM.
    unsafe { vm1.set_user_memory_region(rsvm_guest::guest::region(0, 0, 0x40_0000, mem.ptr as u64, 0)) }
        .map_err(|e| format!("slot: {e}"))?;
    expect(&vm1, "assign a device not bound to rsvm", RSVM_ASSIGN_DEVICE(), other, Err(libc::ENODEV))?;
    expect(&vm1, "assign with flags", RSVM_ASSIGN_DEVICE(), RsvmPciDevice { flags: 1, ..dev }, Err(libc::EINVAL))?;
    expect(&vm1, "assign a device that does not exist", RSVM_ASSIGN_DEVICE(), RsvmPciDevice { bus: 0x7f, ..dev }, Err(libc::ENODEV))?;
    expect(&vm1, "release a device never assigned", RSVM_RELEASE_DEVICE(), dev, Err(libc::ENOENT))?;
    expect(&vm1, "assign edu to VM 1", RSVM_ASSIGN_DEVICE(), dev, Ok(()))?;
    expect(&vm2, "assign edu to VM 2 as well", RSVM_ASSIGN_DEVICE(), dev, Err(libc::EBUSY))?;
    expect(&vm2, "release edu from VM 2", RSVM_RELEASE_DEVICE(), dev, Err(libc::ENOENT))?;
    expect(&vm2, "config of a device VM 2 does not own", RSVM_DEVICE_CONFIG(), RsvmDeviceConfig { dev, size: 4, ..Default::default() }, Err(libc::ENOENT))?;
    expect(&vm2, "MSI without an in-kernel APIC", RSVM_DEVICE_MSI(), RsvmDeviceMsi { dev, address_lo: 0xfee0_0000, data: 0x30, flags: 1, ..Default::default() }, Err(libc::EINVAL))?;
    let intx = RsvmDeviceMsi { dev, address_lo: 0xfee0_0000, data: 0x51, flags: 1, ..Default::default() };
    expect(&vm1, "INTx without an in-kernel APIC", RSVM_DEVICE_INTX(), intx, Err(libc::EINVAL))?;
    // A VM with the in-kernel APIC that does not own edu.
    let vm3 = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let mut cap = kvm_bindings::kvm_enable_cap { cap: kvm_bindings::KVM_CAP_SPLIT_IRQCHIP, ..Default::default() };
    cap.args[0] = 24;
    vm3.enable_cap(&cap).map_err(|e| format!("KVM_ENABLE_CAP: {e}"))?;
    expect(&vm3, "INTx of a device VM 3 does not own", RSVM_DEVICE_INTX(), intx, Err(libc::ENOENT))?;
    expect(&vm3, "INTx off of a device VM 3 does not own", RSVM_DEVICE_INTX(), RsvmDeviceMsi { flags: 0, ..intx }, Err(libc::ENOENT))?;
    // Pinned while assigned: all 1024 pages of the slot.
    let pinned: i64 = std::fs::read_to_string("/sys/kernel/debug/rsvm/pinned_pages").map_err(|e| e.to_string())?.trim().parse().map_err(|_| "pinned_pages")?;
    check(pinned >= 1024, || format!("all guest memory pinned while assigned ({pinned} pages)"))?;
    for i in 0..20 {
        let r = ioctl(&vm1, RSVM_RELEASE_DEVICE(), &mut dev.clone()).and_then(|_| ioctl(&vm1, RSVM_ASSIGN_DEVICE(), &mut dev.clone()));
        if r.is_err() {
            return Err(format!("release/assign cycle {i}: {r:?}"));
        }
    }
    println!("# ok: 20 release/assign cycles");
    let efd = new_eventfd()?;
    let reg = RsvmDeviceEventfd { dev, fd: efd.as_raw_fd(), flags: 0 };
    expect(&vm2, "eventfd for a device VM 2 does not own", RSVM_DEVICE_EVENTFD(), reg, Err(libc::ENOENT))?;
    expect(&vm1, "eventfd for VM 1", RSVM_DEVICE_EVENTFD(), reg, Ok(()))?;
    // Closing VM 1 releases edu (and its eventfd): VM 2 can have it.
    drop(vm1);
    // The eventfd outlives the VM: an event for edu now signals nothing (and touches no
    // freed context: the test VM panics on an oops; kmemleak in 17-passthrough.sh).
    let devid = (dev.bus as u16) << 8 | dev.devfn as u16;
    debugfs(&format!("inject-event 2 {devid:x} 5000"))?;
    let n = wait_eventfd(&efd, 500)?;
    check(n == 0, || format!("no signal after the VM closed (counter {n})"))?;
    drop(efd);
    expect(&vm2, "assign edu to VM 2 after VM 1 closed", RSVM_ASSIGN_DEVICE(), dev, Ok(()))?;
    drop(vm2);
    // A VM closed with INTx routed: the host IRQ goes with it.
    expect(&vm3, "assign edu to VM 3", RSVM_ASSIGN_DEVICE(), dev, Ok(()))?;
    expect(&vm3, "INTx on in VM 3", RSVM_DEVICE_INTX(), intx, Ok(()))?;
    check(intx_irq_requested()?, || "VM 3: rsvm-intx host IRQ requested".into())?;
    drop(vm3);
    check(!intx_irq_requested()?, || "VM 3 closed with INTx on: its host IRQ is freed".into())?;
    drop(mem);

    // A VMM killed while it holds the device.
    let mut fds = [0i32; 2];
    // SAFETY: a pipe for the child's "assigned" byte.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err("pipe".into());
    }
    // SAFETY: this process has one thread; the child only does ioctls and sleeps.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let r = (|| -> Result<(), String> {
            let kvm = rsvm_guest::guest::open("/dev/rsvm")?;
            let vm = kvm.create_vm().map_err(|e| e.to_string())?;
            let m = HostMem::new(0x20_0000)?;
            // SAFETY: `m` lives until the process dies.
            unsafe { vm.set_user_memory_region(rsvm_guest::guest::region(0, 0, 0x20_0000, m.ptr as u64, 0)) }.map_err(|e| e.to_string())?;
            ioctl(&vm, RSVM_ASSIGN_DEVICE(), &mut dev.clone()).map_err(|e| format!("errno {e}"))?;
            ioctl(&vm, RSVM_MAP_DEVICE_BAR(), &mut RsvmDeviceBar { dev, bar: 0, flags: 0, gpa: 0xc000_0000 }).map_err(|e| format!("errno {e}"))?;
            // SAFETY: writes one byte to our pipe, then sleeps until killed.
            unsafe {
                libc::write(fds[1], b"a".as_ptr().cast(), 1);
                loop {
                    libc::pause();
                }
            }
        })();
        eprintln!("child: {r:?}");
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(1) };
    }
    let mut b = [0u8; 1];
    // SAFETY: reads from our pipe into `b`; then kills and reaps the child.
    let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
    // SAFETY: as above.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    check(n == 1, || "child VMM assigned edu and mapped its BAR".into())?;
    let kvm = rsvm_guest::guest::open("/dev/rsvm")?;
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    expect(&vm, "assign edu after its VMM was killed", RSVM_ASSIGN_DEVICE(), dev, Ok(()))?;
    Ok(())
}

/// The guest turns edu's Memory Space off (CVE-2020-12888, VFIO's answer: the BAR's
/// mappings go): BAR0 leaves the NPT and a read of it exits to the VMM as MMIO, until Memory
/// Space is on again, when the read reaches edu's id register. The BAR is placed while
/// Memory Space is off, so the first mapping happens on the way on.
fn memory_space(dev: RsvmPciDevice) -> TestResult {
    // mov ebx, 0xc0000000; mov eax, [rbx]; out 0xe9, eax; hlt
    const CODE: [u8; 10] = [0xbb, 0x00, 0x00, 0x00, 0xc0, 0x8b, 0x03, 0xe7, 0xe9, 0xf4];
    // No in-kernel APIC: the HLT at the end returns to this VMM.
    let mut g = Guest::new("/dev/rsvm", Mode::Long64, &CODE, &apic_cpuid_table())?;
    expect(&g.vm, "assign edu", RSVM_ASSIGN_DEVICE(), dev, Ok(()))?;
    let cmd = cfg(&g.vm, dev, 4, 2, None)?;
    cfg(&g.vm, dev, 4, 2, Some(cmd & !0x2))?;
    let bar = RsvmDeviceBar { dev, bar: 0, flags: 0, gpa: EDU_BAR_GPA };
    expect(&g.vm, "BAR0 placed with Memory Space off", RSVM_MAP_DEVICE_BAR(), bar, Ok(()))?;
    for (round, on) in [false, true, false, true].into_iter().enumerate() {
        cfg(&g.vm, dev, 4, 2, Some(if on { cmd | 0x2 } else { cmd & !0x2 }))?;
        let mut r = g.vcpu.get_regs().map_err(|e| format!("KVM_GET_REGS: {e}"))?;
        r.rip = rsvm_guest::guest::CODE;
        g.vcpu.set_regs(&r).map_err(|e| format!("KVM_SET_REGS: {e}"))?;
        g.results.clear();
        g.trace.clear();
        let end = g.run(10)?;
        check(end == "hlt", || format!("round {round}: the BAR read ends in HLT ({end}, {:?})", g.trace))?;
        let exited = g.trace.iter().any(|l| l.starts_with(&format!("mmio-read addr={EDU_BAR_GPA:#x}")));
        let id = g.results.first().map(|d| d.iter().rev().fold(0u32, |a, &b| a << 8 | b as u32));
        if on {
            check(!exited && id.is_some_and(|v| v & 0xffff == 0xed), || format!("round {round}: Memory Space on: the guest reads edu's id through the NPT ({id:x?}, {:?})", g.trace))?;
        } else {
            check(exited, || format!("round {round}: Memory Space off: the BAR read exits to the VMM as MMIO ({id:x?}, {:?})", g.trace))?;
        }
    }
    cfg(&g.vm, dev, 4, 2, Some(cmd))?;
    Ok(())
}

pub fn passthrough(bdf: &str, other: &str, irqs: bool, forge: Option<u32>, wait_file: Option<&str>) -> TestResult {
    let dev = parse_bdf(bdf)?;
    let other = parse_bdf(other)?;
    if forge.is_some() || wait_file.is_some() {
        // Only the guest run: the script looks at the host's log or moves the IRQ.
        return guest_run(bdf, dev, if irqs { Irq::Msi } else { Irq::None }, forge.unwrap_or(0), wait_file);
    }
    if irqs {
        guest_run(bdf, dev, Irq::Msi, 0, None)?;
        guest_run(bdf, dev, Irq::Intx, 0, None)?;
    } else {
        guest_run(bdf, dev, Irq::None, 0, None)?;
    }
    memory_space(dev)?;
    crate::memlock::at_assignment(dev)?;
    hostile(dev, other)
}

/// Holds the device for `secs` seconds while the script unbinds it from rsvm: afterwards the
/// VM no longer owns it (released by the unbind) and the guest's BAR mapping is gone.
/// `intx`: edu's INTx is routed instead of its MSI.
pub fn hold(bdf: &str, secs: u64, intx: bool) -> TestResult {
    let dev = parse_bdf(bdf)?;
    let mut g = Guest::with_apic("/dev/rsvm", Mode::Long64, edu64(), &apic_cpuid_table())?;
    expect(&g.vm, "assign edu", RSVM_ASSIGN_DEVICE(), dev, Ok(()))?;
    expect(&g.vm, "BAR0", RSVM_MAP_DEVICE_BAR(), RsvmDeviceBar { dev, bar: 0, flags: 0, gpa: EDU_BAR_GPA }, Ok(()))?;
    let m = RsvmDeviceMsi { dev, address_lo: 0xfee0_0000, address_hi: 0, data: 0x50, flags: 1 };
    if intx {
        expect(&g.vm, "INTx to vector 0x51", RSVM_DEVICE_INTX(), RsvmDeviceMsi { data: 0x51, ..m }, Ok(()))?;
    } else {
        expect(&g.vm, "MSI to vector 0x50", RSVM_DEVICE_MSI(), m, Ok(()))?;
    }
    println!("assigned");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::thread::sleep(std::time::Duration::from_secs(secs));
    expect(&g.vm, "release after the unbind (no longer bound)", RSVM_RELEASE_DEVICE(), dev, Err(libc::ENODEV))?;
    expect(&g.vm, "config after the unbind", RSVM_DEVICE_CONFIG(), RsvmDeviceConfig { dev, size: 4, ..Default::default() }, Err(libc::ENODEV))?;
    // The BAR is gone from the NPT: the guest's first access exits to the VMM as MMIO.
    g.mem.write(0x7008, &0u64.to_le_bytes());
    // (The guest then polls answers the harness makes up: a few exits are enough.)
    let _ = g.run(5);
    // (Its first BAR access: clearing edu's interrupt-enable status bit, register 0x20.)
    check(g.trace.first().is_some_and(|t| t.starts_with("mmio-write addr=0xc0000020")), || format!("guest BAR access after the unbind exits as MMIO ({:?})", g.trace.first()))
}
