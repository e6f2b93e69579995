//! How a run ends, and the process exit status for each way.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A failure while the guest runs (the VMM's, not the guest's: status 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("vCPU {vcpu}: KVM_RUN: {source}{}", memlock_hint(.source))]
    KvmRun { vcpu: u8, source: kvm_ioctls::Error },
    #[error("{0}")]
    IoThread(String),
    #[error("exit lock poisoned")]
    LockPoisoned,
}

/// What ENOMEM from KVM_RUN most likely means on a device that pins guest memory.
fn memlock_hint(e: &kvm_ioctls::Error) -> String {
    if e.errno() != libc::ENOMEM {
        return String::new();
    }
    format!(" ({})", crate::memory::memlock_advice())
}

/// Process exit statuses (documented in --help and Documentation/vmm.md).
pub const STATUS_OK: i32 = 0;
pub const STATUS_ERROR: i32 = 1;
pub const STATUS_GUEST_CRASH: i32 = 2;
pub const STATUS_GUEST_PANIC: i32 = 3;
pub const STATUS_TIMEOUT: i32 = 124;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmExit {
    /// The guest reset the machine (i8042 0xFE, or a KVM system event).
    Reset,
    /// The guest powered off (ACPI S5, or a KVM shutdown system event).
    PowerOff,
    /// The guest's kernel said it halted or powered down, and nothing else ended the run
    /// (a console heuristic: no ACPI, or a kernel without it).
    Halted,
    /// The user typed Ctrl-A x.
    UserQuit,
    /// "Kernel panic - not syncing" was seen on the console (a heuristic).
    Panic,
    /// Triple fault, failed VM entry, internal error: the message has the details.
    Crash(String),
    /// The VMM itself failed while the guest ran.
    Error(RunError),
    /// --timeout passed.
    Timeout,
}

impl VmExit {
    pub fn status(&self) -> i32 {
        match self {
            VmExit::Reset | VmExit::PowerOff | VmExit::Halted | VmExit::UserQuit => STATUS_OK,
            VmExit::Panic => STATUS_GUEST_PANIC,
            VmExit::Crash(_) => STATUS_GUEST_CRASH,
            VmExit::Error(_) => STATUS_ERROR,
            VmExit::Timeout => STATUS_TIMEOUT,
        }
    }
}

/// The first exit reason any thread reports; the main thread waits for it.
#[derive(Default)]
pub struct ExitSignal {
    reason: Mutex<Option<VmExit>>,
    cond: Condvar,
    /// Set when a kernel panic line was seen: a later reset is reported as the panic.
    panicked: std::sync::atomic::AtomicBool,
    /// An exit that happens at a time unless another comes first ([`ExitSignal::request_later`]).
    later: Mutex<Option<(std::time::Instant, VmExit)>>,
}

impl ExitSignal {
    pub fn request(&self, mut e: VmExit) {
        if e == VmExit::Reset && self.panicked.load(std::sync::atomic::Ordering::SeqCst) {
            e = VmExit::Panic;
        }
        let Ok(mut r) = self.reason.lock() else { return };
        if r.is_none() {
            *r = Some(e);
            self.cond.notify_all();
        }
    }

    pub fn set_panicked(&self) {
        self.panicked.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.reason.lock().map(|r| r.is_some()).unwrap_or(true)
    }

    /// Ends the run with `e` after `after`, unless something else ends it first (the
    /// console's "reboot: Power down" without the power-off that should follow).
    pub fn request_later(&self, e: VmExit, after: Duration) {
        if let Ok(mut l) = self.later.lock() {
            if l.is_none() {
                *l = Some((std::time::Instant::now() + after, e));
            }
        }
        // Under the reason lock, so the waiter either sees it or is woken.
        let _r = self.reason.lock();
        self.cond.notify_all();
    }

    /// Waits for an exit reason, at most `timeout` (then `VmExit::Timeout`).
    pub fn wait(&self, timeout: Option<Duration>) -> VmExit {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let Ok(mut r) = self.reason.lock() else { return VmExit::Error(RunError::LockPoisoned) };
        loop {
            if let Some(e) = r.clone() {
                return e;
            }
            let now = std::time::Instant::now();
            let later = self.later.lock().ok().and_then(|l| l.clone());
            if let Some((at, e)) = &later {
                if now >= *at {
                    *r = Some(e.clone());
                    continue;
                }
            }
            if deadline.is_some_and(|d| now >= d) {
                return VmExit::Timeout;
            }
            let until = [deadline, later.map(|l| l.0)].into_iter().flatten().min();
            r = match until {
                None => match self.cond.wait(r) {
                    Ok(g) => g,
                    Err(_) => return VmExit::Error(RunError::LockPoisoned),
                },
                Some(d) => match self.cond.wait_timeout(r, d - now) {
                    Ok((g, _)) => g,
                    Err(_) => return VmExit::Error(RunError::LockPoisoned),
                },
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins_and_panic_turns_reset() {
        let s = ExitSignal::default();
        assert_eq!(s.wait(Some(Duration::from_millis(1))), VmExit::Timeout);
        s.set_panicked();
        s.request(VmExit::Reset);
        s.request(VmExit::PowerOff);
        assert_eq!(s.wait(None), VmExit::Panic);
        assert_eq!(VmExit::Panic.status(), 3);
    }
}
