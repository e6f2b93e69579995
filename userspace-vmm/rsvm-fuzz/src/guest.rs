//! Guest programs: random code in real, protected (flat, or paged with 4 MiB pages) and long
//! mode. The code mixes random bytes with instructions that exit or touch sensitive state
//! (I/O, MMIO, MSRs, control and debug registers, SVM instructions, interrupts), as
//! syzkaller's `syz_kvm_setup_cpu` text does; registers are loaded with boundary values and
//! MSR numbers so those instructions reach the interesting cases. Every exit is answered
//! with data from the same seed; the run stops at HLT, shutdown, a failed entry, an error,
//! a timer (a guest that loops) or after `exits` exits.

use crate::prog::Mode;
use crate::rng::Rng;
use crate::state::*;
use crate::sys::{self, Map};
use kvm_bindings::*;

/// Instructions that exit or do something a hypervisor must handle, by encoding. Valid in
/// every mode unless the mode reads them otherwise, which is just more random code.
const SNIPPETS: &[&[u8]] = &[
    &[0xee], &[0xec], &[0xef], &[0xed], &[0xe6, 0x80], &[0xe4, 0x71], &[0xf4], &[0x0f, 0xa2], &[0x0f, 0x32],
    &[0x0f, 0x30], &[0x0f, 0x31], &[0x0f, 0x01, 0xf9], &[0x0f, 0x33], &[0x0f, 0x01, 0xd9], &[0x0f, 0x01, 0xd8],
    &[0x0f, 0x01, 0xda], &[0x0f, 0x01, 0xdb], &[0x0f, 0x01, 0xdc], &[0x0f, 0x01, 0xdd], &[0x0f, 0x01, 0xde],
    &[0x0f, 0x01, 0xdf], &[0x0f, 0x01, 0xd0], &[0x0f, 0x01, 0xd1], &[0x0f, 0x01, 0xc8], &[0x0f, 0x01, 0xc9],
    &[0x0f, 0x01, 0xee], &[0x0f, 0x01, 0xef], &[0xcc], &[0xf1], &[0xcd, 0x80], &[0xcd, 0x03], &[0x0f, 0x0b],
    &[0x0f, 0x22, 0xc0], &[0x0f, 0x22, 0xd8], &[0x0f, 0x22, 0xe0], &[0x0f, 0x20, 0xc0], &[0x44, 0x0f, 0x22, 0xc0],
    &[0x0f, 0x23, 0xf8], &[0x0f, 0x23, 0xc0], &[0x0f, 0x21, 0xc0], &[0x0f, 0x21, 0xf0], &[0x0f, 0x01, 0x18],
    &[0x0f, 0x01, 0x10], &[0x0f, 0x00, 0xd8], &[0x0f, 0x00, 0xd0], &[0xfb], &[0xfa], &[0x9c], &[0x9d], &[0xcf],
    &[0x0f, 0x05], &[0x0f, 0x07], &[0x0f, 0x34], &[0x0f, 0x35], &[0xf3, 0xa4], &[0xf3, 0x6e], &[0xf3, 0x6c],
    &[0xf3, 0x6f], &[0x0f, 0x08], &[0x0f, 0x09], &[0xf3, 0x90], &[0x0f, 0x06], &[0x0f, 0x01, 0x38],
    &[0x0f, 0xae, 0x20], &[0x0f, 0xae, 0x28], &[0x0f, 0xae, 0x00], &[0x0f, 0xae, 0x08], &[0xeb, 0xfe],
    &[0x0f, 0x01, 0xf8], &[0x0f, 0x01, 0xfa], &[0x0f, 0x01, 0xfb], &[0x0f, 0xc7, 0xf8], &[0x0f, 0x00, 0x00],
];

/// Random code: `len` bytes, about half of them from SNIPPETS and register loads.
pub fn code(r: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        match r.below(8) {
            0 | 1 => {
                let mut b = [0u8; 4];
                r.bytes(&mut b);
                let n = 1 + r.below(4) as usize;
                v.extend_from_slice(&b[..n]);
            }
            2 => {
                // mov e?x, imm32 (ecx mostly an MSR number, others boundary values / MMIO).
                let reg = r.below(8) as u8;
                let imm = if reg == 1 { msr_index(r) } else if r.one_in(3) { 0xfee0_0000 + (r.below(0x400) as u32) * 4 } else { r.special_u64() as u32 };
                v.push(0xb8 + reg);
                v.extend_from_slice(&imm.to_le_bytes());
            }
            3 => {
                // mov [abs32], eax: MMIO or RAM stores (a3 imm32 in 32/64-bit, a 16-bit form in real mode).
                let a = r.pick(&[0xfee0_00b0u32, 0xfee0_0300, 0xfee0_0380, 0xfec0_0000, 0xd000_0000, 0x40_0000, 0x8000, 0xa0000]);
                v.push(0xa3);
                v.extend_from_slice(&a.to_le_bytes());
            }
            _ => v.extend_from_slice(r.pick(SNIPPETS)),
        }
    }
    v.truncate(len);
    v
}

/// Writes the GDT, an IDT whose gates all lead to HANDLER, the page tables of `mode`, code
/// at CODE and a short random handler into map 0 (the guest's memory from GPA 0).
pub fn layout(r: &mut Rng, m: &Map, mode: Mode, code_bytes: &[u8]) {
    let gdt: [u64; 5] = [0, 0x0020_9a00_0000_0000, 0x00cf_9200_0000_ffff, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff];
    for (i, d) in gdt.iter().enumerate() {
        m.write(GDT + 8 * i as u64, &d.to_le_bytes());
    }
    let long = matches!(mode, Mode::Long64 | Mode::Mutated);
    let mut idt = Vec::with_capacity(256 * 16);
    for _ in 0..256 {
        let (lo, hi): (u64, u64) = if long {
            (HANDLER & 0xffff | 0x08 << 16 | 0x8e00u64 << 32 | (HANDLER >> 16 & 0xffff) << 48, 0)
        } else {
            (HANDLER & 0xffff | 0x18 << 16 | 0x8e00u64 << 32 | (HANDLER >> 16 & 0xffff) << 48, 0)
        };
        idt.extend_from_slice(&lo.to_le_bytes());
        if long {
            idt.extend_from_slice(&hi.to_le_bytes());
        }
    }
    if mode == Mode::Real {
        // The real-mode IVT at 0: every vector to 0:HANDLER.
        for i in 0..256u64 {
            m.write(i * 4, &((HANDLER as u32) & 0xffff).to_le_bytes());
        }
    } else {
        m.write(IDT, &idt);
    }
    match mode {
        Mode::Long64 | Mode::Mutated => {
            let mut t = Vec::with_capacity(6 * 4096);
            let mut q = |v: u64| t.extend_from_slice(&v.to_le_bytes());
            q((PML4 + 0x1000) | 3);
            (1..512).for_each(|_| q(0));
            (0..4u64).for_each(|i| q((PML4 + 0x2000 + i * 0x1000) | 3));
            (4..512).for_each(|_| q(0));
            (0..2048u64).for_each(|k| q(k << 21 | 0x83));
            m.write(PML4, &t);
        }
        Mode::Prot32Paged => {
            let t: Vec<u8> = (0..1024u32).flat_map(|k| (k << 22 | 0x83).to_le_bytes()).collect();
            m.write(PD32, &t);
        }
        _ => {}
    }
    m.write(CODE, code_bytes);
    let h = code(r, 16);
    m.write(HANDLER, &h);
}

/// How a guest program ended (for the statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum End {
    Hlt,
    Shutdown,
    FailEntry,
    Timer,
    Exits,
    Error,
    Other,
}

/// Runs a vCPU whose kvm_run is mapped at `run`, answering port and MMIO reads with bytes of
/// `r`, until it stops (see the module comment).
pub fn run(r: &mut Rng, fd: i32, run: u64, exits: u32, timer_us: u32) -> End {
    for _ in 0..exits {
        arm_timer(timer_us);
        let res = sys::ioctl(fd, sys::RUN(), 0);
        arm_timer(0);
        if res.is_err() {
            return if sys::errno_is_intr(&res) { End::Timer } else { End::Error };
        }
        if run == 0 {
            continue;
        }
        // SAFETY: `run` is this vCPU's kvm_run page (mmap of its fd, 8 KiB: kvm_run and the
        // PIO data page), mapped read-write for the executor's lifetime.
        let k = unsafe { &mut *(run as *mut kvm_run) };
        match k.exit_reason {
            KVM_EXIT_IO => {
                // SAFETY: the io member is the active one for KVM_EXIT_IO.
                let io = unsafe { k.__bindgen_anon_1.io };
                if io.direction == KVM_EXIT_IO_IN as u8 {
                    let n = (io.size as u64 * io.count as u64).min(4096);
                    let off = io.data_offset.min(8192 - n);
                    let mut b = vec![0u8; n as usize];
                    r.bytes(&mut b);
                    // SAFETY: inside the 8 KiB run mapping (offset clamped above).
                    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), (run + off) as *mut u8, b.len()) };
                }
            }
            KVM_EXIT_MMIO => {
                // SAFETY: the mmio member is the active one for KVM_EXIT_MMIO.
                let mmio = unsafe { &mut k.__bindgen_anon_1.mmio };
                if mmio.is_write == 0 {
                    r.bytes(&mut mmio.data);
                }
            }
            KVM_EXIT_HLT => return End::Hlt,
            KVM_EXIT_SHUTDOWN => return End::Shutdown,
            KVM_EXIT_FAIL_ENTRY => return End::FailEntry,
            KVM_EXIT_INTR => return End::Timer,
            KVM_EXIT_IRQ_WINDOW_OPEN => {}
            reason => {
                sys::shared().reasons[(reason as usize).min(63)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return End::Other;
            }
        }
    }
    End::Exits
}

/// Arms (or with 0 cancels) a one-shot ITIMER_REAL: its SIGALRM (handled, no SA_RESTART)
/// makes a KVM_RUN that does not come back by itself return EINTR. Helper threads block
/// SIGALRM, so it always lands on the thread that armed it.
pub fn arm_timer(us: u32) {
    let t = libc::itimerval {
        it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
        it_value: libc::timeval { tv_sec: (us / 1_000_000) as _, tv_usec: (us % 1_000_000) as _ },
    };
    // SAFETY: sets this process's real-time interval timer.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut()) };
}

/// Installs no-op handlers without SA_RESTART for SIGALRM (the timer) and SIGUSR1 (kicking a
/// helper thread out of KVM_RUN).
pub fn install_handlers() {
    extern "C" fn nop(_: i32) {}
    for s in [libc::SIGALRM, libc::SIGUSR1] {
        // SAFETY: installs a handler that touches nothing.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = nop as *const () as usize;
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}
