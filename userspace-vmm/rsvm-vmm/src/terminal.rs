//! The host terminal: raw mode while the guest runs (vmm-sys-util), and the exact original
//! settings restored at exit, including when SIGTERM, SIGHUP or SIGINT ends the VMM.

use std::io::IsTerminal;
use std::sync::OnceLock;
use vmm_sys_util::signal::register_signal_handler;
use vmm_sys_util::terminal::Terminal;

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("terminal settings: {0}")]
    GetAttr(std::io::Error),
    #[error("signal handler: {0}")]
    SignalHandler(vmm_sys_util::errno::Error),
    #[error("terminal raw mode: {0}")]
    RawMode(vmm_sys_util::errno::Error),
}

/// The settings stdin had before raw mode.
static ORIGINAL: OnceLock<libc::termios> = OnceLock::new();

pub fn restore() {
    if let Some(t) = ORIGINAL.get() {
        // SAFETY: tcsetattr reads the termios we saved; fd 0 is stdin. It is
        // async-signal-safe (POSIX), so this may run in the signal handler.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t) };
    }
}

extern "C" fn on_signal(sig: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    restore();
    // SAFETY: _exit is async-signal-safe and ends the process (the guest with it).
    unsafe { libc::_exit(128 + sig) };
}

/// Raw mode on stdin if it is a terminal; the original settings come back when the guard
/// is dropped or the VMM is killed by SIGTERM/SIGHUP/SIGINT.
pub struct RawMode(bool);

impl RawMode {
    pub fn enter() -> Result<Self, TerminalError> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(Self(false));
        }
        // SAFETY: an all-zero termios is a valid value to be overwritten by tcgetattr.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes into `t`, which we own; fd 0 is stdin.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } != 0 {
            return Err(TerminalError::GetAttr(std::io::Error::last_os_error()));
        }
        let _ = ORIGINAL.set(t);
        for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
            register_signal_handler(sig, on_signal).map_err(TerminalError::SignalHandler)?;
        }
        stdin.lock().set_raw_mode().map_err(TerminalError::RawMode)?;
        Ok(Self(true))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            restore();
        }
    }
}
