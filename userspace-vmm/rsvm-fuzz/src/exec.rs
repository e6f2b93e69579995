//! Runs a program's calls. Resources live in tables (system fds, VMs, vCPUs, host maps); a
//! call names them by index modulo the table's length and is skipped on an empty table.
//! Results are not checked against expectations here: the oracles are the kernel log,
//! rsvm's leak counters after the program, and the supervisor's watchdog (main.rs).

use crate::guest::{self, End};
use crate::prog::{Mode, Op, Ptr, MAPS};
use crate::rng::Rng;
use crate::state::{self, as_bytes};
use crate::sys::{self, ioctl, Map};
use kvm_bindings::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

// The vCPU calls and guest runs, in a file of their own.
mod vcpu;

struct Vcpu {
    fd: i32,
    /// The VM fd it was created on (-1 once that fd is closed: the number may be reused).
    vm: i32,
    /// Its kvm_run mapping (8 KiB), 0 if mmap failed.
    run: u64,
}

struct Helper {
    thread: std::thread::JoinHandle<()>,
    stop: Arc<AtomicBool>,
    fd: i32,
    left: u8,
}

pub struct Exec {
    dev: String,
    sys: Vec<i32>,
    vms: Vec<i32>,
    vcpus: Vec<Vcpu>,
    maps: Vec<Option<Map>>,
    writable: [bool; MAPS],
    scratch: Map,
    ro: Map,
    mmaps: Vec<(u64, u64)>,
    helpers: Vec<Helper>,
    rng: Rng,
    pub skipped: u64,
    pub ends: BTreeMap<End, u64>,
}

/// Sizes, protection and THP advice of the maps every program starts with (prog::MAPS).
const MAP_SPECS: [(u64, i32, bool); MAPS] = [
    (4 << 20, libc::PROT_READ | libc::PROT_WRITE, true),
    (64 << 10, libc::PROT_READ | libc::PROT_WRITE, false),
    (2 << 20, libc::PROT_READ | libc::PROT_WRITE, true),
    (64 << 10, libc::PROT_READ, false),
    (8 << 10, libc::PROT_READ | libc::PROT_WRITE, false),
    (1 << 30, libc::PROT_READ | libc::PROT_WRITE, false),
];

const KERNEL_PTR: u64 = 0xffff_ffff_8100_0000;

fn pick<T>(v: &[T], i: u8) -> Option<&T> {
    if v.is_empty() { None } else { v.get(i as usize % v.len()) }
}

/// A random ioctl argument that is never a mapped user address of ours (values in the user
/// range are moved to the kernel half): a write to it must fail, not corrupt the fuzzer.
fn safe_arg(v: u64) -> u64 {
    if (0x10000..0x8000_0000_0000).contains(&v) { v | 1 << 63 } else { v }
}

impl Exec {
    pub fn new(dev: &str, seed: u64) -> Result<Self, String> {
        let scratch = Map::new(64 << 10, libc::PROT_READ | libc::PROT_WRITE, false).ok_or("mmap scratch")?;
        let ro = Map::new(64 << 10, libc::PROT_READ | libc::PROT_WRITE, false).ok_or("mmap ro")?;
        let mut e = Self {
            dev: dev.to_string(),
            sys: Vec::new(),
            vms: Vec::new(),
            vcpus: Vec::new(),
            maps: Vec::new(),
            writable: [false; MAPS],
            scratch,
            ro,
            mmaps: Vec::new(),
            helpers: Vec::new(),
            rng: Rng::new(seed ^ 0x5eed),
            skipped: 0,
            ends: BTreeMap::new(),
        };
        for i in 0..MAPS {
            e.maps.push(None);
            e.remap(i);
        }
        e.open_dev();
        if e.sys.is_empty() {
            return Err(format!("cannot open {dev}: {}", std::io::Error::last_os_error()));
        }
        Ok(e)
    }

    fn remap(&mut self, i: usize) {
        if self.maps[i].is_none() {
            let (len, prot, huge) = MAP_SPECS[i];
            self.maps[i] = Map::new(len, prot, huge);
            self.writable[i] = prot & libc::PROT_WRITE != 0;
        }
    }

    fn open_dev(&mut self) {
        let path = std::ffi::CString::new(self.dev.clone()).unwrap_or_default();
        // SAFETY: opens a device node; the fd goes into our table.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd >= 0 {
            self.sys.push(fd);
        }
    }

    /// Puts `data` where `ptr` says and returns the address to pass.
    fn place(&mut self, data: &[u8], ptr: Ptr) -> u64 {
        match ptr {
            Ptr::Good => {
                self.scratch.write(0, data);
                self.scratch.ptr
            }
            Ptr::Null => 0,
            Ptr::Kernel => KERNEL_PTR,
            Ptr::Short => {
                // The struct's second half lies in the guard page after the scratch map.
                let keep = (data.len() / 2).min(self.scratch.len as usize);
                let at = self.scratch.end() - keep as u64;
                self.scratch.write(at - self.scratch.ptr, &data[..keep]);
                at
            }
            Ptr::ReadOnly => {
                let (p, n) = (self.ro.ptr as *mut libc::c_void, self.ro.len as usize);
                // SAFETY: changes the protection of our own mapping around our own write.
                unsafe { libc::mprotect(p, n, libc::PROT_READ | libc::PROT_WRITE) };
                self.ro.write(0, data);
                // SAFETY: as above.
                unsafe { libc::mprotect(p, n, libc::PROT_READ) };
                self.ro.ptr
            }
        }
    }

    fn call(&mut self, fd: i32, nr: u64, data: &[u8], ptr: Ptr) -> Result<i32, i32> {
        let a = self.place(data, ptr);
        ioctl(fd, nr, a)
    }

    fn forget_vm_fd(&mut self, fd: i32) {
        for v in self.vcpus.iter_mut().filter(|v| v.vm == fd) {
            v.vm = -1;
        }
    }

    fn close_vcpu(&mut self, i: usize) {
        let v = self.vcpus.remove(i);
        if v.run != 0 {
            // SAFETY: unmaps the vCPU's kvm_run mapping, which nothing uses after this.
            unsafe { libc::munmap(v.run as *mut libc::c_void, 8192) };
        }
        sys::close(v.fd);
    }

    /// Executes call `i` of `prog` and returns the index of the next call to execute (Fork
    /// skips the calls its child ran).
    pub fn exec(&mut self, prog: &[Op], i: usize) -> usize {
        let mut next = i + 1;
        match prog[i] {
            Op::Fork { ops, kill_us } => {
                next = (i + 1 + ops as usize).min(prog.len());
                self.fork(prog, i + 1, next, kill_us);
            }
            Op::ThreadRun { vcpu, ops } => self.thread_run(vcpu, ops),
            Op::Burst { seed, n } => {
                let mut r = Rng::new(seed);
                let mut done = 0;
                while done < n {
                    let op = crate::prog::gen_op(&mut r, false);
                    if crate::prog::cheap(&op) {
                        self.simple(op);
                        done += 1;
                    }
                }
            }
            op => {
                if !self.simple(op) {
                    self.skipped += 1;
                }
            }
        }
        self.tick_helpers();
        next
    }

    fn fork(&mut self, prog: &[Op], from: usize, to: usize, kill_us: u32) {
        // SAFETY: the child only runs calls of this program (syscalls and small allocations)
        // and leaves with _exit; helper threads do not exist in it.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            self.helpers.clear();
            let mut k = from;
            while k < to {
                k = self.exec(prog, k);
            }
            // SAFETY: ends the child without unwinding or running the parent's destructors;
            // its fds and mappings go with the process, as when a VMM dies.
            unsafe { libc::_exit(0) };
        }
        if pid < 0 {
            return;
        }
        let limit = if kill_us == 0 { 2_000_000 } else { kill_us as u64 };
        let t0 = std::time::Instant::now();
        let mut st = 0;
        loop {
            // SAFETY: reaps our own child.
            if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } != 0 {
                return;
            }
            if t0.elapsed().as_micros() as u64 >= limit {
                // SAFETY: kills and reaps our own child: a VMM dying at a random point.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut st, 0);
                }
                return;
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }

    fn thread_run(&mut self, vcpu: u8, ops: u8) {
        let Some(v) = pick(&self.vcpus, vcpu) else { return self.skipped += 1 };
        // SAFETY: duplicates an fd we own; the helper closes nothing, we close the dup after
        // joining it.
        let fd = unsafe { libc::dup(v.fd) };
        if fd < 0 {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            // SAFETY: blocks SIGALRM in this thread only (the main thread's timer is its own),
            // and kicks this thread out of KVM_RUN every 2 ms with its own SIGUSR1 timer: a
            // vCPU halted in the kernel holds the vCPU for as long as it sleeps, and the main
            // thread's next call on that vCPU would wait for it (as on KVM, vcpu->mutex).
            let timer = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGALRM);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                let mut ev: libc::sigevent = std::mem::zeroed();
                ev.sigev_notify = libc::SIGEV_THREAD_ID;
                ev.sigev_signo = libc::SIGUSR1;
                ev.sigev_notify_thread_id = libc::gettid();
                let mut t: libc::timer_t = std::mem::zeroed();
                libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut t);
                let ts = libc::timespec { tv_sec: 0, tv_nsec: 2_000_000 };
                let it = libc::itimerspec { it_interval: ts, it_value: ts };
                libc::timer_settime(t, 0, &it, std::ptr::null_mut());
                t
            };
            while !s.load(Ordering::SeqCst) {
                match ioctl(fd, sys::RUN(), 0) {
                    Ok(_) | Err(libc::EINTR) => {}
                    Err(_) => std::thread::sleep(std::time::Duration::from_micros(200)),
                }
                // Lets the main thread's call on this vCPU in between runs.
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            // SAFETY: deletes this thread's timer.
            unsafe { libc::timer_delete(timer) };
        });
        self.helpers.push(Helper { thread, stop, fd, left: ops });
    }

    fn tick_helpers(&mut self) {
        for h in self.helpers.iter_mut() {
            h.left = h.left.saturating_sub(1);
        }
        let (done, keep): (Vec<Helper>, Vec<Helper>) = self.helpers.drain(..).partition(|h| h.left == 0);
        self.helpers = keep;
        for h in done {
            join(h);
        }
    }

    /// Every other call; false if it was skipped.
    fn simple(&mut self, op: Op) -> bool {
        match op {
            Op::OpenDev => self.open_dev(),
            Op::CreateVm { sys, ty } => {
                let Some(&fd) = pick(&self.sys, sys) else { return false };
                if let Ok(v) = ioctl(fd, sys::CREATE_VM(), ty) {
                    self.vms.push(v);
                }
            }
            Op::SysSimple { sys, which, arg } => {
                let Some(&fd) = pick(&self.sys, sys) else { return false };
                let nr = [sys::GET_API_VERSION(), sys::CHECK_EXTENSION(), sys::GET_VCPU_MMAP_SIZE()][which as usize % 3];
                let _ = ioctl(fd, nr, arg);
            }
            Op::SupportedCpuid { sys, nent, ptr } => {
                let Some(&fd) = pick(&self.sys, sys) else { return false };
                let mut b = vec![0u8; 8 + 40 * (nent.min(300) as usize)];
                b[..4].copy_from_slice(&nent.to_le_bytes());
                let _ = self.call(fd, sys::GET_SUPPORTED_CPUID(), &b, ptr);
            }
            Op::MsrIndexList { sys, nmsrs, ptr } => {
                let Some(&fd) = pick(&self.sys, sys) else { return false };
                let mut b = vec![0u8; 4 + 4 * (nmsrs.min(300) as usize)];
                b[..4].copy_from_slice(&nmsrs.to_le_bytes());
                let _ = self.call(fd, sys::GET_MSR_INDEX_LIST(), &b, ptr);
            }
            Op::RsvmSys { sys, which, iters, ptr } => {
                let Some(&fd) = pick(&self.sys, sys) else { return false };
                if which == 0 {
                    let _ = self.call(fd, rsvm_abi::RSVM_SELFTEST_WORLD_SWITCH(), &[0u8; 456], ptr);
                } else {
                    let b = rsvm_abi::RsvmBenchFloor { iterations: iters, tsc_delta: 0 };
                    let _ = self.call(fd, rsvm_abi::RSVM_BENCH_FLOOR(), as_bytes(&b), ptr);
                }
            }
            Op::RawIoctl { on, res, nr, arg } => {
                let fd = match on {
                    0 => pick(&self.sys, res).copied(),
                    1 => pick(&self.vms, res).copied(),
                    _ => pick(&self.vcpus, res).map(|v| v.fd),
                };
                let Some(fd) = fd else { return false };
                // KVM_RUN through a raw number would block without a timer: left to Run.
                if nr & 0xffff == 0xae80 {
                    return false;
                }
                let a = if arg & 1 == 0 {
                    let mut b = vec![0u8; 4096];
                    self.rng.bytes(&mut b);
                    self.place(&b, Ptr::Good)
                } else {
                    safe_arg(arg)
                };
                let _ = ioctl(fd, nr, a);
            }
            Op::CreateVcpu { vm, id } => {
                let Some(&vfd) = pick(&self.vms, vm) else { return false };
                if let Ok(fd) = ioctl(vfd, sys::CREATE_VCPU(), id) {
                    // SAFETY: maps the vCPU's kvm_run and PIO pages (KVM_GET_VCPU_MMAP_SIZE).
                    let p = unsafe {
                        libc::mmap(std::ptr::null_mut(), 8192, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
                    };
                    let run = if p == libc::MAP_FAILED { 0 } else { p as u64 };
                    self.vcpus.push(Vcpu { fd, vm: vfd, run });
                }
            }
            Op::SetSlot { vm, slot, flags, gpa, size, map, off, hva, ptr } => {
                let Some(&fd) = pick(&self.vms, vm) else { return false };
                let base = self.maps[map as usize % MAPS].as_ref().map(|m| m.ptr).unwrap_or(0x7000_0000_0000);
                let r = kvm_userspace_memory_region {
                    slot,
                    flags,
                    guest_phys_addr: gpa,
                    memory_size: size,
                    userspace_addr: hva.unwrap_or(base.wrapping_add(off)),
                };
                let _ = self.call(fd, sys::SET_USER_MEMORY_REGION(), as_bytes(&r), ptr);
            }
            Op::EnableCap { vm, cap, flags, arg0 } => {
                let Some(&fd) = pick(&self.vms, vm) else { return false };
                let mut c = kvm_enable_cap { cap, flags, ..Default::default() };
                c.args[0] = arg0;
                let _ = self.call(fd, sys::ENABLE_CAP(), as_bytes(&c), Ptr::Good);
            }
            Op::SignalMsi { vm, addr_lo, addr_hi, data, flags } => {
                let Some(&fd) = pick(&self.vms, vm) else { return false };
                let m = kvm_msi { address_lo: addr_lo, address_hi: addr_hi, data, flags, ..Default::default() };
                let _ = self.call(fd, sys::SIGNAL_MSI(), as_bytes(&m), Ptr::Good);
            }
            Op::CheckExtVm { vm, cap } => {
                let Some(&fd) = pick(&self.vms, vm) else { return false };
                let _ = ioctl(fd, sys::CHECK_EXTENSION(), cap);
            }
            Op::VmState { vm, which, seed, ptr } => {
                let Some(&fd) = pick(&self.vms, vm) else { return false };
                let mut r = Rng::new(seed);
                match which {
                    0 => {
                        let _ = self.call(fd, sys::SET_CLOCK(), &state::raw_blob(&mut r, std::mem::size_of::<kvm_clock_data>()), ptr);
                    }
                    1 => {
                        let _ = self.call(fd, sys::GET_CLOCK(), &[0u8; std::mem::size_of::<kvm_clock_data>()], ptr);
                    }
                    _ => {
                        // The guest programs' ports and MMIO (guest.rs) or anything.
                        let (addr, size) = if r.one_in(4) { (r.special_u64(), r.next() as u32) } else { (r.pick(&[0xe9, 0x80, 0xd000_0000, 0xfee0_0000]), r.pick(&[1, 4, 8, 4096])) };
                        let z = kvm_coalesced_mmio_zone { addr, size, __bindgen_anon_1: kvm_coalesced_mmio_zone__bindgen_ty_1 { pio: r.pick(&[0, 1, 1, 2]) } };
                        let nr = if which == 2 { sys::REGISTER_COALESCED_MMIO() } else { sys::UNREGISTER_COALESCED_MMIO() };
                        let _ = self.call(fd, nr, as_bytes(&z), ptr);
                    }
                }
            }
            Op::Device { vm, nr, seg, bus, devfn, flags, a, b, c, d } => {
                let Some(&fd) = pick(&self.vms, vm) else { return false };
                self.device(fd, nr, [seg as u8, (seg >> 8) as u8, bus, devfn], flags, a, b, c, d);
            }
            Op::CloseVm { vm } => {
                if self.vms.is_empty() {
                    return false;
                }
                let fd = self.vms.remove(vm as usize % self.vms.len());
                self.forget_vm_fd(fd);
                sys::close(fd);
            }
            Op::CloseVcpu { vcpu } => {
                if self.vcpus.is_empty() {
                    return false;
                }
                self.close_vcpu(vcpu as usize % self.vcpus.len());
            }
            Op::Munmap { map } => {
                let i = map as usize % MAPS;
                let Some(m) = self.maps[i].take() else { return false };
                // Slots may still name it: that is the point (memory unmapped under a VM).
                m.unmap();
            }
            Op::Protect { map, prot } => {
                let i = map as usize % MAPS;
                let Some(m) = self.maps[i].as_ref() else { return false };
                // SAFETY: changes the protection of our own map.
                unsafe { libc::mprotect(m.ptr as *mut libc::c_void, m.len as usize, prot) };
                self.writable[i] = prot & libc::PROT_WRITE != 0;
            }
            Op::Remap { map } => self.remap(map as usize % MAPS),
            vcpu_op => return self.vcpu_op(vcpu_op),
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn device(&mut self, fd: i32, nr: u8, dev: [u8; 4], flags: u32, a: u32, b: u32, c: u32, d: u64) {
        let mut v = Vec::with_capacity(56);
        v.extend_from_slice(&dev);
        v.extend_from_slice(&flags.to_le_bytes());
        let num = match nr {
            0x83 => rsvm_abi::RSVM_ASSIGN_DEVICE(),
            0x84 => rsvm_abi::RSVM_RELEASE_DEVICE(),
            0x85 => {
                v.extend_from_slice(&(a % 8).to_le_bytes());
                v.extend_from_slice(&b.to_le_bytes());
                v.extend_from_slice(&(d & !0xfff).to_le_bytes());
                rsvm_abi::RSVM_MAP_DEVICE_BAR()
            }
            0x86 => {
                for x in [a % 260, b % 5, c & 1, a ^ b] {
                    v.extend_from_slice(&x.to_le_bytes());
                }
                rsvm_abi::RSVM_DEVICE_CONFIG()
            }
            0x87 | 0x89 => {
                for x in [0xfee0_0000 | a & 0xff00c, b & (c & 1).wrapping_neg(), c & 0xffff, (d & 3) as u32] {
                    v.extend_from_slice(&x.to_le_bytes());
                }
                if nr == 0x87 { rsvm_abi::RSVM_DEVICE_MSI() } else { rsvm_abi::RSVM_DEVICE_INTX() }
            }
            0x88 => {
                v.extend_from_slice(&(a % 80).to_le_bytes());
                v.extend_from_slice(&(b & (c & 1).wrapping_neg()).to_le_bytes());
                v.extend_from_slice(&[0u8; 32]);
                let rec = if d & 1 == 0 { self.scratch.ptr + 8192 } else { safe_arg(d) };
                v.extend_from_slice(&rec.to_le_bytes());
                rsvm_abi::RSVM_DEVICE_EVENTS()
            }
            _ => {
                let efd = match c % 4 {
                    // SAFETY: a new eventfd, closed below after the call.
                    0 => unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) },
                    1 => -1,
                    2 => fd,
                    _ => a as i32,
                };
                v.extend_from_slice(&efd.to_le_bytes());
                v.extend_from_slice(&(b & (c & 4).wrapping_neg()).to_le_bytes());
                let _ = self.call(fd, rsvm_abi::RSVM_DEVICE_EVENTFD(), &v.clone(), Ptr::Good);
                if c % 4 == 0 && efd >= 0 {
                    sys::close(efd);
                }
                return;
            }
        };
        let _ = self.call(fd, num, &v, Ptr::Good);
    }

    fn end(&mut self, e: End) {
        *self.ends.entry(e).or_default() += 1;
        sys::shared().ends[e as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Joins the helpers, closes every fd (in an order from the program's rng) and unmaps
    /// everything: after this the module must hold nothing for this program.
    pub fn finish(mut self) {
        for h in std::mem::take(&mut self.helpers) {
            join(h);
        }
        let mut fds: Vec<i32> = self.sys.drain(..).chain(self.vms.drain(..)).collect();
        while !self.vcpus.is_empty() {
            let i = self.rng.below(self.vcpus.len() as u64) as usize;
            if self.rng.one_in(2) {
                self.close_vcpu(i);
            } else if !fds.is_empty() {
                sys::close(fds.swap_remove(self.rng.below(fds.len() as u64) as usize));
            }
        }
        for fd in fds {
            sys::close(fd);
        }
        for (p, n) in self.mmaps.drain(..) {
            // SAFETY: mappings this program made of vCPU fds.
            unsafe { libc::munmap(p as *mut libc::c_void, n as usize) };
        }
        for m in self.maps.drain(..).flatten().chain([self.scratch, self.ro]) {
            m.unmap();
        }
    }
}

/// Stops a helper: sets its flag and kicks it out of KVM_RUN with SIGUSR1 until it ends.
fn join(h: Helper) {
    h.stop.store(true, Ordering::SeqCst);
    use std::os::unix::thread::JoinHandleExt;
    let t = h.thread.as_pthread_t();
    while !h.thread.is_finished() {
        // SAFETY: signals our own live thread (not yet joined).
        unsafe { libc::pthread_kill(t, libc::SIGUSR1) };
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    let _ = h.thread.join();
    sys::close(h.fd);
}
