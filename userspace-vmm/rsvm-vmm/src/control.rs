//! Pausing and resuming the vCPUs (the control socket's pause/resume).
//!
//! A paused vCPU thread waits on a condition variable before its next KVM_RUN. To get a
//! thread out of KVM_RUN (the guest may be running, or halted in the kernel's LAPIC), it is
//! sent a real-time signal whose handler does nothing: KVM_RUN returns EINTR. A signal that
//! lands just before the thread enters KVM_RUN is lost, so the pauser kicks again every few
//! milliseconds until every vCPU has checked in.

use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

/// The kick: SIGRTMIN + this.
const KICK_OFFSET: i32 = 1;
/// How long a pause may take before the request fails.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct State {
    paused: bool,
    /// vCPU threads waiting in `checkpoint`.
    waiting: usize,
}

#[derive(Default)]
pub struct VmControl {
    state: Mutex<State>,
    cond: Condvar,
    vcpus: Mutex<Vec<JoinHandle<()>>>,
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

pub fn kick_signal() -> i32 {
    SIGRTMIN() + KICK_OFFSET
}

/// Installs the kick's handler (no SA_RESTART: KVM_RUN returns EINTR).
pub fn install_kick_handler() -> Result<(), vmm_sys_util::errno::Error> {
    register_signal_handler(kick_signal(), on_kick)
}

impl VmControl {
    pub fn add_vcpu(&self, h: JoinHandle<()>) {
        if let Ok(mut v) = self.vcpus.lock() {
            v.push(h);
        }
    }

    /// Called by each vCPU thread before KVM_RUN: waits while the VM is paused.
    pub fn checkpoint(&self) {
        let Ok(mut s) = self.state.lock() else { return };
        if !s.paused {
            return;
        }
        s.waiting += 1;
        self.cond.notify_all();
        while s.paused {
            s = match self.cond.wait(s) {
                Ok(g) => g,
                Err(_) => return,
            };
        }
        s.waiting -= 1;
    }

    pub fn is_paused(&self) -> bool {
        self.state.lock().map(|s| s.paused).unwrap_or(false)
    }

    /// Stops every vCPU; returns once none runs guest code.
    pub fn pause(&self) -> Result<(), String> {
        let n = self.vcpus.lock().map(|v| v.len()).unwrap_or(0);
        let deadline = Instant::now() + PAUSE_TIMEOUT;
        let mut s = self.state.lock().map_err(|_| "lock poisoned".to_string())?;
        s.paused = true;
        while s.waiting < n {
            if Instant::now() >= deadline {
                return Err(format!("{} of {n} vCPUs stopped within {PAUSE_TIMEOUT:?}", s.waiting));
            }
            drop(s);
            self.kick_all();
            s = self.state.lock().map_err(|_| "lock poisoned".to_string())?;
            s = self.cond.wait_timeout(s, Duration::from_millis(5)).map_err(|_| "lock poisoned".to_string())?.0;
        }
        Ok(())
    }

    pub fn resume(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.paused = false;
            self.cond.notify_all();
        }
    }

    fn kick_all(&self) {
        if let Ok(v) = self.vcpus.lock() {
            for h in v.iter().filter(|h| !h.is_finished()) {
                let _ = h.kill(kick_signal());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// Two "vCPUs" spinning through checkpoints (one blocked in a sleep, as in KVM_RUN, that
    /// the kick interrupts): pause stops both, resume lets them go on.
    #[test]
    fn pause_resume() {
        install_kick_handler().unwrap();
        let c = Arc::new(VmControl::default());
        let runs = Arc::new(AtomicU64::new(0));
        for blocking in [false, true] {
            let (c2, r2) = (c.clone(), runs.clone());
            c.add_vcpu(std::thread::spawn(move || loop {
                c2.checkpoint();
                r2.fetch_add(1, Ordering::SeqCst);
                if blocking {
                    // SAFETY: pause(2) only waits for a signal.
                    unsafe { libc::pause() };
                } else {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(20));
        c.pause().unwrap();
        assert!(c.is_paused());
        let n = runs.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(runs.load(Ordering::SeqCst), n, "nothing runs while paused");
        c.resume();
        std::thread::sleep(Duration::from_millis(50));
        assert!(runs.load(Ordering::SeqCst) > n);
        assert!(!c.is_paused());
    }
}
