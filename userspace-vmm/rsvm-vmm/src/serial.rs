//! COM1 (0x3f8, IRQ 4): vm-superio's 8250 UART on the VMM's stdin/stdout.
//!
//! Output is watched line by line for the kernel's own messages that end a run
//! ([`ConsoleWatch`]) on the vCPU thread, and handed to the I/O thread (console.rs), which
//! writes it to stdout and feeds stdin in; Ctrl-A x quits, Ctrl-A Ctrl-A sends a Ctrl-A.

use crate::bus::BusDevice;
use crate::console::{OutBuf, RxReady};
use crate::exit::{ExitSignal, VmExit};
use crate::ioapic::IrqLine;
use std::io::Write;
use std::sync::Arc;
use vm_superio::Serial;

pub const COM1_BASE: u16 = 0x3f8;
pub const COM1_LEN: u16 = 8;

pub type Com1 = Serial<IrqLine, Arc<RxReady>, ConsoleOut>;

/// COM1 on the port bus at [`COM1_BASE`], [`COM1_LEN`] ports: byte accesses only.
impl BusDevice for Com1 {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) -> bool {
        let [b] = data else { return false };
        *b = Serial::read(self, offset as u8);
        true
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> bool {
        let [b] = data else { return false };
        // The trigger cannot fail; an output error is already swallowed.
        let _ = Serial::write(self, offset as u8, *b);
        true
    }
}

/// What a console line means for the run (a heuristic on the guest kernel's messages).
#[derive(Debug, PartialEq, Eq)]
pub enum LineEvent {
    None,
    /// "Kernel panic - not syncing": the guest will reboot (panic=N) or hang.
    PanicStart,
    /// "---[ end Kernel panic": panic() has printed everything.
    PanicEnd,
    /// "reboot: System halted", "reboot: Power off not available: System halted instead":
    /// nothing more will happen.
    Halted,
    /// "reboot: Power down": the power-off itself (ACPI) should follow at once.
    PowerDown,
}

pub fn classify(line: &[u8]) -> LineEvent {
    let has = |pat: &[u8]| line.windows(pat.len()).any(|w| w == pat);
    if has(b"---[ end Kernel panic") {
        LineEvent::PanicEnd
    } else if has(b"Kernel panic - not syncing") {
        LineEvent::PanicStart
    } else if has(b"reboot: ") && has(b"System halted") {
        LineEvent::Halted
    } else if has(b"reboot: Power down") {
        LineEvent::PowerDown
    } else {
        LineEvent::None
    }
}

/// How long after "reboot: Power down" the VMM waits for the power-off itself.
const POWER_DOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// `--mark`: the first console line containing `text` prints the time since `start` and
/// the exits counted so far.
pub struct Mark {
    text: Vec<u8>,
    start: std::time::Instant,
    stats: Arc<crate::stats::Stats>,
}

impl Mark {
    pub fn new(text: &str, start: std::time::Instant, stats: Arc<crate::stats::Stats>) -> Self {
        Self { text: text.as_bytes().to_vec(), start, stats }
    }

    /// The report line if `line` has the text.
    fn check(&self, line: &[u8]) -> Option<String> {
        (!self.text.is_empty() && line.windows(self.text.len()).any(|w| w == self.text.as_slice())).then(|| {
            format!(
                "mark \"{}\" after {:.6} s and {} exits",
                String::from_utf8_lossy(&self.text),
                self.start.elapsed().as_secs_f64(),
                self.stats.total()
            )
        })
    }
}

/// Watches the console output for the lines `classify` knows (and the `--mark` text).
pub struct ConsoleWatch {
    line: Vec<u8>,
    exit: Arc<ExitSignal>,
    mark: Option<Mark>,
}

impl ConsoleWatch {
    pub fn new(exit: Arc<ExitSignal>) -> Self {
        Self { line: Vec::new(), exit, mark: None }
    }

    pub fn feed(&mut self, b: u8) {
        if b != b'\n' {
            if self.line.len() < 512 {
                self.line.push(b);
            }
            return;
        }
        if let Some(r) = self.mark.as_ref().and_then(|m| m.check(&self.line)) {
            log::info!("{r}");
            self.mark = None;
        }
        match classify(&self.line) {
            LineEvent::PanicStart => self.exit.set_panicked(),
            LineEvent::PanicEnd => {
                self.exit.set_panicked();
                self.exit.request(VmExit::Panic)
            }
            LineEvent::Halted => self.exit.request(VmExit::Halted),
            LineEvent::PowerDown => {
                // If no power-off arrives (no ACPI), the guest is halted: end the run anyway.
                self.exit.request_later(VmExit::Halted, POWER_DOWN_GRACE);
            }
            LineEvent::None => {}
        }
        self.line.clear();
    }
}

/// The UART's output: the console watch, then the buffer the I/O thread writes out.
pub struct ConsoleOut {
    out: Arc<OutBuf>,
    watch: ConsoleWatch,
}

impl ConsoleOut {
    pub fn new(out: Arc<OutBuf>, exit: Arc<ExitSignal>) -> Self {
        Self { out, watch: ConsoleWatch::new(exit) }
    }

    pub fn set_mark(&mut self, m: Mark) {
        self.watch.mark = Some(m);
    }
}

impl Write for ConsoleOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The watch sees each line here, on the vCPU thread, before the guest goes on: a
        // panic line is known before the reset that follows it.
        self.out.push(buf);
        for b in buf {
            self.watch.feed(*b);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_reports_the_first_matching_line() {
        let stats = Arc::new(crate::stats::Stats::new(false));
        let m = Mark::new("init started", std::time::Instant::now(), stats);
        assert_eq!(m.check(b"[ 1.0] Run /init as init process"), None);
        let r = m.check(b"RSVM-L2: init started").expect("the line has the text");
        assert!(r.starts_with("mark \"init started\" after ") && r.ends_with(" s and 0 exits"), "{r}");
        assert_eq!(Mark::new("", std::time::Instant::now(), Arc::new(crate::stats::Stats::new(false))).check(b"x"), None);
    }

    #[test]
    fn console_lines() {
        assert_eq!(classify(b"[    1.0] Kernel panic - not syncing: VFS: Unable to mount root"), LineEvent::PanicStart);
        assert_eq!(classify(b"[    1.0] ---[ end Kernel panic - not syncing: x ]---"), LineEvent::PanicEnd);
        assert_eq!(classify(b"[    2.0] reboot: Power down"), LineEvent::PowerDown);
        assert_eq!(classify(b"reboot: Power off not available: System halted instead"), LineEvent::Halted);
        assert_eq!(classify(b"reboot: System halted"), LineEvent::Halted);
        assert_eq!(classify(b"reboot: Restarting system"), LineEvent::None);
        let exit = Arc::new(ExitSignal::default());
        let mut w = ConsoleWatch::new(exit.clone());
        for b in b"reboot: Power down\n" {
            w.feed(*b);
        }
        assert_eq!(exit.wait(Some(std::time::Duration::from_secs(10))), VmExit::Halted, "no power-off followed");
        let exit = Arc::new(ExitSignal::default());
        let mut w = ConsoleWatch::new(exit.clone());
        for b in b"Kernel panic - not syncing: Attempted to kill init!\n" {
            w.feed(*b);
        }
        assert!(!exit.is_set(), "the start of a panic only marks it");
        exit.request(VmExit::Reset);
        assert_eq!(exit.wait(None), VmExit::Panic, "the reboot after a panic reports the panic");
    }
}
