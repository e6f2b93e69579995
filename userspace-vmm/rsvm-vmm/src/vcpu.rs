//! The vCPU threads: KVM_RUN until the run ends, each exit dispatched to the bus and
//! counted by reason (stats.rs) for --stats.

use crate::bus::{Bus, Buses};
use crate::control::VmControl;
use crate::exit::{ExitSignal, RunError, VmExit};
use crate::stats::Stats;
use kvm_ioctls::{VcpuExit, VcpuFd};
use std::sync::Arc;

enum Next {
    Continue,
    Stop(VmExit),
    Crash(&'static str),
}

/// Registers and segment state for a crash report.
pub fn dump(vcpu: &VcpuFd) -> String {
    let mut s = String::new();
    match vcpu.get_regs() {
        Ok(r) => {
            s += &format!(
                "  rip={:#018x} rsp={:#018x} rflags={:#x}\n  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}\n  rsi={:#018x} rdi={:#018x} rbp={:#018x}\n",
                r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp
            );
        }
        Err(e) => s += &format!("  (KVM_GET_REGS: {e})\n"),
    }
    match vcpu.get_sregs() {
        Ok(r) => {
            s += &format!(
                "  cr0={:#x} cr2={:#x} cr3={:#x} cr4={:#x} efer={:#x}\n  cs={:#x} (base {:#x}, l={} db={}) ss={:#x} idt={:#x}/{:#x} gdt={:#x}/{:#x}",
                r.cr0, r.cr2, r.cr3, r.cr4, r.efer, r.cs.selector, r.cs.base, r.cs.l, r.cs.db, r.ss.selector, r.idt.base, r.idt.limit, r.gdt.base, r.gdt.limit
            );
        }
        Err(e) => s += &format!("  (KVM_GET_SREGS: {e})"),
    }
    s
}

/// For KVM_EXIT_INTERNAL_ERROR: the suberror and its data words, from `kvm_run`.
fn internal_error_detail(vcpu: &mut VcpuFd) -> String {
    let run = vcpu.get_kvm_run();
    if run.exit_reason != kvm_bindings::KVM_EXIT_INTERNAL_ERROR {
        return String::new();
    }
    // SAFETY: exit_reason is KVM_EXIT_INTERNAL_ERROR, so `internal` is the union member the
    // kernel filled; it is plain data (integers) with no invalid bit patterns.
    let internal = unsafe { run.__bindgen_anon_1.internal };
    let n = (internal.ndata as usize).min(internal.data.len());
    let what = match internal.suberror {
        kvm_bindings::KVM_INTERNAL_ERROR_EMULATION => " (emulation failed)",
        kvm_bindings::KVM_INTERNAL_ERROR_SIMUL_EX => " (exception while delivering an exception)",
        kvm_bindings::KVM_INTERNAL_ERROR_DELIVERY_EV => " (event delivery failed)",
        _ => "",
    };
    format!(", suberror {}{what}, data {:x?}", internal.suberror, &internal.data[..n])
}

/// Port I/O of 1, 2 or 4 bytes is one access; anything longer (string I/O with a count) is
/// done byte by byte, which is exact for the 8-bit devices here.
fn pio(bus: &Bus, port: u16, data: &mut [u8], write: bool) {
    let port = u64::from(port);
    let single = matches!(data.len(), 1 | 2 | 4);
    if single {
        if write { bus.write(port, data) } else { bus.read(port, data) }
    } else {
        for b in data.chunks_mut(1) {
            if write { bus.write(port, b) } else { bus.read(port, b) }
        }
    }
}

pub fn run(id: u8, vcpu: &mut VcpuFd, bus: Arc<Buses>, exit: Arc<ExitSignal>, stats: Arc<Stats>, control: Arc<VmControl>) {
    loop {
        // Paused (the control socket): wait here, outside KVM_RUN.
        control.checkpoint();
        if exit.is_set() {
            return;
        }
        let next = match vcpu.run() {
            Ok(e) => match e {
                VcpuExit::IoIn(port, data) => {
                    stats.bump_at(0, u64::from(port));
                    pio(&bus.pio, port, data, false);
                    Next::Continue
                }
                VcpuExit::IoOut(port, data) => {
                    stats.bump_at(1, u64::from(port));
                    let mut d = [0u8; 16];
                    if data.len() <= d.len() {
                        d[..data.len()].copy_from_slice(data);
                        pio(&bus.pio, port, &mut d[..data.len()], true);
                    } else {
                        for b in data.iter() {
                            bus.pio.write(u64::from(port), &[*b]);
                        }
                    }
                    Next::Continue
                }
                VcpuExit::MmioRead(addr, data) => {
                    stats.bump_at(2, addr);
                    bus.mmio.read(addr, data);
                    Next::Continue
                }
                VcpuExit::MmioWrite(addr, data) => {
                    stats.bump_at(3, addr);
                    bus.mmio.write(addr, data);
                    Next::Continue
                }
                VcpuExit::Hlt => {
                    // With the LAPIC in the kernel HLT does not exit; if the device lets it,
                    // give the CPU away briefly instead of spinning.
                    stats.bump(4);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    Next::Continue
                }
                VcpuExit::Intr => {
                    stats.bump(5);
                    Next::Continue
                }
                VcpuExit::IrqWindowOpen => {
                    stats.bump(6);
                    Next::Continue
                }
                VcpuExit::IoapicEoi(_) => {
                    // Level-triggered remote IRR is not emulated (see ioapic.rs).
                    stats.bump(7);
                    Next::Continue
                }
                VcpuExit::Shutdown => {
                    stats.bump(8);
                    Next::Crash("triple fault (KVM_EXIT_SHUTDOWN)")
                }
                VcpuExit::FailEntry(reason, cpu) => {
                    stats.bump(9);
                    Next::Stop(VmExit::Crash(format!(
                        "vCPU {id}: VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason {reason:#x}, cpu {cpu})"
                    )))
                }
                VcpuExit::InternalError => {
                    stats.bump(10);
                    Next::Crash("KVM_EXIT_INTERNAL_ERROR")
                }
                VcpuExit::SystemEvent(kind, _) => {
                    stats.bump(11);
                    match kind {
                        kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN => Next::Stop(VmExit::PowerOff),
                        kvm_bindings::KVM_SYSTEM_EVENT_RESET => Next::Stop(VmExit::Reset),
                        _ => Next::Stop(VmExit::Crash(format!("vCPU {id}: system event {kind} (crash)"))),
                    }
                }
                other => {
                    stats.bump(12);
                    Next::Stop(VmExit::Crash(format!("vCPU {id}: unexpected exit {other:?}")))
                }
            },
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                stats.bump(5);
                Next::Continue
            }
            Err(source) => Next::Stop(VmExit::Error(RunError::KvmRun { vcpu: id, source })),
        };
        match next {
            Next::Continue => {}
            Next::Stop(e) => {
                exit.request(e);
                return;
            }
            Next::Crash(what) => {
                let detail = internal_error_detail(vcpu);
                exit.request(VmExit::Crash(format!("vCPU {id}: {what}{detail}\n{}", dump(vcpu))));
                return;
            }
        }
    }
}
