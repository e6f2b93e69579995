//! The sandbox: a seccomp filter per thread (seccompiler), allowing what that thread does
//! once the guest runs and nothing else. A forbidden syscall traps (SIGSYS): the handler
//! names the thread's syscall on stderr, restores the terminal and exits with status 1.
//!
//! The lists were taken from strace of each thread (Documentation/vmm.md, "Sandbox"). ioctl
//! is limited to KVM's and rsvm's ioctl types (and the terminal's TCGETS and TCSETS, which
//! the signal handlers restoring the terminal may issue on any thread: glibc's tcsetattr()
//! reads the settings before and after it writes them).

use seccompiler::{
    apply_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};
use std::collections::BTreeMap;
use vmm_sys_util::signal::register_signal_handler;

/// The threads that get a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadKind {
    /// The main thread while it waits for the end of the run, and after.
    Main,
    Vcpu,
    /// The event loop: virtio queues, console, control socket, network.
    Io,
    /// Copies a stdin that epoll cannot watch into a socket pair.
    StdinCopy,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("seccomp filter for the {0:?} thread: {1}")]
    Build(ThreadKind, String),
    #[error("seccomp filter for the {0:?} thread: {1} (--no-seccomp runs without the sandbox)")]
    Apply(ThreadKind, seccompiler::Error),
    #[error("SIGSYS handler: {0}")]
    Handler(vmm_sys_util::errno::Error),
}

/// What every thread does: memory (the allocator), futexes, signals, time, logging, exit.
const COMMON: &[i64] = &[
    libc::SYS_brk,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_mprotect,
    libc::SYS_futex,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_sched_yield,
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_restart_syscall,
    libc::SYS_getrandom,
    libc::SYS_gettid,
    libc::SYS_getpid,
    libc::SYS_write,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

fn thread_syscalls(kind: ThreadKind) -> &'static [i64] {
    match kind {
        ThreadKind::Main => &[
            // --stats at the end: /proc/self/{status,smaps,smaps_rollup}.
            libc::SYS_openat,
            libc::SYS_read,
            libc::SYS_close,
            libc::SYS_statx,
            libc::SYS_fstat,
            libc::SYS_newfstatat,
            libc::SYS_lseek,
            // --api-sock is removed at the end.
            libc::SYS_unlink,
            libc::SYS_unlinkat,
            libc::SYS_tgkill,
        ],
        // KVM_RUN and the exits' device emulation: eventfd writes, MSIs (ioctl), logging.
        ThreadKind::Vcpu => &[libc::SYS_tgkill],
        ThreadKind::Io => &[
            libc::SYS_epoll_wait,
            libc::SYS_epoll_pwait,
            libc::SYS_epoll_ctl,
            libc::SYS_read,
            libc::SYS_readv,
            libc::SYS_writev,
            libc::SYS_pread64,
            libc::SYS_pwrite64,
            libc::SYS_preadv,
            libc::SYS_pwritev,
            libc::SYS_fsync,
            libc::SYS_fdatasync,
            libc::SYS_accept4,
            libc::SYS_accept,
            libc::SYS_close,
            libc::SYS_fcntl,
            libc::SYS_setsockopt,
            libc::SYS_recvfrom,
            libc::SYS_sendto,
            // Kicking the vCPUs out of KVM_RUN for a pause (pthread_kill).
            libc::SYS_tgkill,
        ],
        ThreadKind::StdinCopy => &[libc::SYS_read, libc::SYS_sendto, libc::SYS_close],
    }
}

/// ioctl types allowed: KVMIO, rsvm's (rsvm_abi::RSVMIO); and the terminal's TCGETS and TCSETS
/// (the terminal restored at exit: glibc's tcsetattr() issues TCGETS, TCSETS, TCGETS; a
/// trap there, in the SIGSYS handler itself, killed the VMM with SIGSYS when stdin was a
/// terminal, found by `make run`).
fn ioctl_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let typ = |t: u64| SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::MaskedEq(0xff00), t << 8);
    let eq = |v: u64| SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v);
    let mut rules = vec![
        SeccompRule::new(vec![typ(u64::from(kvm_bindings::KVMIO))?])?,
        SeccompRule::new(vec![typ(u64::from(rsvm_abi::RSVMIO))?])?,
        SeccompRule::new(vec![eq(libc::TCSETS)?])?,
        SeccompRule::new(vec![eq(libc::TCGETS)?])?,
    ];
    // FIONBIO: std's set_nonblocking on the control socket's connections.
    rules.push(SeccompRule::new(vec![eq(libc::FIONBIO)?])?);
    // TUNSETOFFLOAD: virtio-net's activation (a vCPU's DRIVER_OK) and reset.
    rules.push(SeccompRule::new(vec![eq(crate::tap::TUNSETOFFLOAD())?])?);
    Ok(rules)
}

/// The BPF program for `kind`; `extra` adds syscalls (the debug request's victim is never
/// among them).
pub fn filter(kind: ThreadKind) -> Result<BpfProgram, SandboxError> {
    let err = |e: &dyn std::fmt::Display| SandboxError::Build(kind, e.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in COMMON.iter().chain(thread_syscalls(kind)) {
        rules.insert(nr, Vec::new());
    }
    rules.insert(libc::SYS_ioctl, ioctl_rules().map_err(|e| err(&e))?);
    let f = SeccompFilter::new(rules, SeccompAction::Trap, SeccompAction::Allow, TargetArch::x86_64).map_err(|e| err(&e))?;
    f.try_into().map_err(|e: seccompiler::BackendError| err(&e))
}

thread_local! {
    /// The calling thread's kind, for the SIGSYS handler's message (const: no lazy setup
    /// in the handler).
    static THREAD: std::cell::Cell<&'static str> = const { std::cell::Cell::new("main") };
}

impl ThreadKind {
    fn name(self) -> &'static str {
        match self {
            ThreadKind::Main => "main",
            ThreadKind::Vcpu => "vCPU",
            ThreadKind::Io => "I/O",
            ThreadKind::StdinCopy => "stdin copy",
        }
    }
}

/// Installs `kind`'s filter on the calling thread (nothing with --no-seccomp: `on` false).
pub fn apply(kind: ThreadKind, on: bool) -> Result<(), SandboxError> {
    if !on {
        return Ok(());
    }
    THREAD.with(|t| t.set(kind.name()));
    let prog = filter(kind)?;
    apply_filter(&prog).map_err(|e| SandboxError::Apply(kind, e))
}

/// For threads started before the guest: apply, or end the process (a thread without its
/// filter must not run).
pub fn apply_or_exit(kind: ThreadKind, on: bool) {
    if let Err(e) = apply(kind, on) {
        log::error!("{e}");
        crate::terminal::restore();
        // SAFETY: _exit ends the process at once; nothing else runs.
        unsafe { libc::_exit(crate::exit::STATUS_ERROR) };
    }
}

/// "rsvm-vmm: error: seccomp: the <thread> thread made a forbidden syscall <name> (<nr>)\n",
/// built without allocating (this runs in the signal handler).
fn trap_message(thread: &[u8], nr: i64, out: &mut [u8; 256]) -> usize {
    let name = usize::try_from(nr).ok().and_then(syscalls::Sysno::new).map_or("unknown", |s| s.name());
    let mut n = 0;
    let mut put = |b: &[u8]| {
        for &c in b {
            if n < out.len() {
                out[n] = c;
                n += 1;
            }
        }
    };
    put(b"rsvm-vmm: error: seccomp: the ");
    put(thread);
    put(b" thread made a forbidden syscall, ");
    put(name.as_bytes());
    put(b" (");
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = nr.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(&digits[i..]);
    put(b"); exiting (status 1; --no-seccomp runs without the sandbox)\n");
    n
}

extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSYS (SA_SIGINFO); for SYS_SECCOMP its
    // layout after the common header is {call_addr: *void, syscall: int, arch: u32}.
    let nr = unsafe {
        let p = info.cast_const().cast::<u8>().add(16 + std::mem::size_of::<usize>()).cast::<libc::c_int>();
        i64::from(*p)
    };
    // Not prctl(PR_GET_NAME): the filters do not allow it, and a second trap inside the
    // handler would kill the process without a word.
    let name = THREAD.with(|t| t.get());
    let mut msg = [0u8; 256];
    let n = trap_message(name.as_bytes(), nr, &mut msg);
    crate::terminal::restore();
    // SAFETY: write and _exit are async-signal-safe; `msg` holds `n` bytes.
    unsafe {
        libc::write(libc::STDERR_FILENO, msg.as_ptr().cast(), n);
        libc::_exit(crate::exit::STATUS_ERROR);
    }
}

pub fn install_sigsys_handler() -> Result<(), SandboxError> {
    register_signal_handler(libc::SIGSYS, on_sigsys).map_err(SandboxError::Handler)
}

/// The control socket's debug request ({"cmd":"debug-forbidden-syscall"}, only with
/// --api-debug): a syscall no thread's filter allows, harmless without the sandbox.
pub fn forbidden_syscall() -> i64 {
    // SAFETY: personality(0xffffffff) only queries the execution domain.
    i64::from(unsafe { libc::personality(0xffff_ffff) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_build_and_name_syscalls() {
        for k in [ThreadKind::Main, ThreadKind::Vcpu, ThreadKind::Io, ThreadKind::StdinCopy] {
            assert!(!filter(k).unwrap().is_empty());
            assert!(!thread_syscalls(k).contains(&libc::SYS_personality) && !COMMON.contains(&libc::SYS_personality));
        }
        let mut m = [0u8; 256];
        let n = trap_message(b"I/O", libc::SYS_personality, &mut m);
        assert_eq!(
            std::str::from_utf8(&m[..n]).unwrap(),
            "rsvm-vmm: error: seccomp: the I/O thread made a forbidden syscall, personality (135); exiting (status 1; --no-seccomp runs without the sandbox)\n"
        );
    }

    /// The filter really traps: in a child process (the trap ends the process), the I/O
    /// thread's filter, then the debug request's syscall: killed by the SIGSYS handler's
    /// _exit(1), after naming it.
    #[test]
    fn trap_in_a_child() {
        // SAFETY: fork in a test; the child only applies a filter and makes syscalls.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            install_sigsys_handler().unwrap();
            apply(ThreadKind::Io, true).unwrap();
            forbidden_syscall();
            // SAFETY: not reached if the filter works.
            unsafe { libc::_exit(42) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 1);
    }
}
