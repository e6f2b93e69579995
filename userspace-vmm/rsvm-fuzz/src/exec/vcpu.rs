//! The vCPU calls of a program (`Exec::vcpu_op`) and the guest runs they start: a random
//! guest laid out in the program's first map, its registers and CPUID set, then run through
//! `guest::run`.

use super::*;

impl Exec {
    pub(super) fn vcpu_op(&mut self, op: Op) -> bool {
        let idx = match op {
            Op::Run { vcpu, .. } | Op::SetRegs { vcpu, .. } | Op::SetSregs { vcpu, .. } | Op::SetMsrs { vcpu, .. }
            | Op::GetMsrs { vcpu, .. } | Op::SetCpuid { vcpu, .. } | Op::SetFpu { vcpu, .. } | Op::SetXsave { vcpu, .. }
            | Op::Get { vcpu, .. } | Op::SetState { vcpu, .. } | Op::Interrupt { vcpu, .. } | Op::SetMp { vcpu, .. }
            | Op::SignalMask { vcpu, .. } | Op::MmapVcpu { vcpu, .. } | Op::Guest { vcpu, .. } => vcpu,
            _ => return false,
        };
        let Some(v) = pick(&self.vcpus, idx) else { return false };
        let (fd, vm, run) = (v.fd, v.vm, v.run);
        match op {
            Op::Run { immediate_exit, irq_window, timer_us, .. } => {
                if run != 0 {
                    // SAFETY: this vCPU's kvm_run mapping.
                    let k = unsafe { &mut *(run as *mut kvm_run) };
                    k.immediate_exit = immediate_exit as u8;
                    k.request_interrupt_window = irq_window as u8;
                }
                let mut r = Rng::new(self.rng.fork());
                let end = guest::run(&mut r, fd, run, 1, timer_us);
                if run != 0 {
                    // SAFETY: as above.
                    unsafe { (*(run as *mut kvm_run)).immediate_exit = 0 };
                }
                self.end(end);
            }
            Op::SetRegs { seed, ptr, .. } => {
                let regs = state::random_regs(&mut Rng::new(seed));
                let _ = self.call(fd, sys::SET_REGS(), as_bytes(&regs), ptr);
            }
            Op::SetSregs { mode, seed, ptr, .. } => {
                let s = state::random_sregs(&mut Rng::new(seed), mode);
                let _ = self.call(fd, sys::SET_SREGS(), as_bytes(&s), ptr);
            }
            Op::SetMsrs { n, seed, ptr, .. } | Op::GetMsrs { n, seed, ptr, .. } => {
                let b = state::msrs_blob(&mut Rng::new(seed), n, n.min(256) as usize);
                let nr = if matches!(op, Op::SetMsrs { .. }) { sys::SET_MSRS() } else { sys::GET_MSRS() };
                let _ = self.call(fd, nr, &b, ptr);
            }
            Op::SetCpuid { n, seed, ptr, .. } => {
                let b = state::cpuid_blob(&mut Rng::new(seed), n, n.min(257) as usize);
                let _ = self.call(fd, sys::SET_CPUID2(), &b, ptr);
            }
            Op::SetFpu { seed, ptr, .. } => {
                let b = state::fpu_blob(&mut Rng::new(seed), std::mem::size_of::<kvm_fpu>(), false);
                let _ = self.call(fd, sys::SET_FPU(), &b, ptr);
            }
            Op::SetXsave { seed, ptr, .. } => {
                let b = state::fpu_blob(&mut Rng::new(seed), 4096, true);
                let _ = self.call(fd, sys::SET_XSAVE(), &b, ptr);
            }
            Op::Get { which, ptr, .. } => {
                let (nr, size) = match which {
                    0 => (sys::GET_REGS(), std::mem::size_of::<kvm_regs>()),
                    1 => (sys::GET_SREGS(), std::mem::size_of::<kvm_sregs>()),
                    2 => (sys::GET_FPU(), std::mem::size_of::<kvm_fpu>()),
                    3 => (sys::GET_XSAVE(), 4096),
                    4 => (sys::GET_MP_STATE(), 4),
                    5 => (sys::GET_TSC_KHZ(), 0),
                    7 => (sys::GET_LAPIC(), std::mem::size_of::<kvm_lapic_state>()),
                    8 => (sys::GET_DEBUGREGS(), std::mem::size_of::<kvm_debugregs>()),
                    9 => (sys::GET_VCPU_EVENTS(), std::mem::size_of::<kvm_vcpu_events>()),
                    10 => (sys::GET_STATS_FD(), 0),
                    _ => (rsvm_abi::RSVM_GET_VCPU_STATS(), std::mem::size_of::<rsvm_abi::RsvmVcpuStats>()),
                };
                let r = self.call(fd, nr, &vec![0u8; size], ptr);
                if let (10, Ok(sfd)) = (which, r) {
                    // SAFETY: the stats fd just returned is ours; closed once.
                    unsafe { libc::close(sfd) };
                }
            }
            Op::SetState { which: which @ (3 | 4), seed, ptr, .. } => {
                let mut r = Rng::new(seed);
                let mut a = kvm_device_attr { group: 0, attr: 0, addr: self.scratch.ptr, flags: 0 };
                if r.one_in(4) {
                    (a.group, a.attr, a.flags) = (r.next() as u32 & 3, r.next() & 3, r.next() as u32);
                }
                if r.one_in(4) {
                    a.addr = safe_arg(r.special_u64());
                }
                let nr = if which == 3 { sys::SET_DEVICE_ATTR() } else { sys::GET_DEVICE_ATTR() };
                let _ = self.call(fd, nr, as_bytes(&a), ptr);
            }
            Op::SetState { which, seed, ptr, .. } => {
                let (nr, size) = match which {
                    0 => (sys::SET_LAPIC(), std::mem::size_of::<kvm_lapic_state>()),
                    1 => (sys::SET_DEBUGREGS(), std::mem::size_of::<kvm_debugregs>()),
                    _ => (sys::SET_VCPU_EVENTS(), std::mem::size_of::<kvm_vcpu_events>()),
                };
                let b = state::raw_blob(&mut Rng::new(seed), size);
                let _ = self.call(fd, nr, &b, ptr);
            }
            Op::Interrupt { irq, .. } => {
                let _ = self.call(fd, sys::INTERRUPT(), &irq.to_le_bytes(), Ptr::Good);
            }
            Op::SetMp { state, .. } => {
                let _ = self.call(fd, sys::SET_MP_STATE(), &state.to_le_bytes(), Ptr::Good);
            }
            Op::SignalMask { len, mask, null, .. } => {
                // SIGALRM and SIGUSR1 stay deliverable in KVM_RUN: they are how the fuzzer
                // gets a spinning guest back.
                let mask = mask & !(1 << (libc::SIGALRM - 1) | 1 << (libc::SIGUSR1 - 1));
                let mut b = len.to_le_bytes().to_vec();
                b.extend_from_slice(&mask.to_le_bytes());
                if null {
                    let _ = ioctl(fd, sys::SET_SIGNAL_MASK(), 0);
                } else {
                    let _ = self.call(fd, sys::SET_SIGNAL_MASK(), &b, Ptr::Good);
                }
            }
            Op::MmapVcpu { pgoff, pages, write, .. } => {
                let prot = libc::PROT_READ | if write { libc::PROT_WRITE } else { 0 };
                let len = pages * 4096;
                let off = pgoff.wrapping_mul(4096) as libc::off_t;
                // SAFETY: a new shared mapping of the vCPU fd; not touched (a page past what
                // the fd provides may SIGBUS, as on KVM), only unmapped at the end.
                let p = unsafe { libc::mmap(std::ptr::null_mut(), len as usize, prot, libc::MAP_SHARED, fd, off) };
                if p != libc::MAP_FAILED {
                    self.mmaps.push((p as u64, len));
                }
            }
            Op::Guest { mode, seed, len, exits, .. } => self.guest(fd, vm, run, mode, seed, len, exits),
            _ => return false,
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn guest(&mut self, fd: i32, vm: i32, run: u64, mode: Mode, seed: u64, len: u32, exits: u32) {
        let mut r = Rng::new(seed);
        if vm >= 0 {
            if let Some(m) = self.maps[0].as_ref() {
                let s = kvm_userspace_memory_region { slot: 0, flags: 0, guest_phys_addr: 0, memory_size: m.len, userspace_addr: m.ptr };
                let _ = ioctl(vm, sys::SET_USER_MEMORY_REGION(), &s as *const _ as u64);
            }
        }
        let code = guest::code(&mut r, len as usize);
        if let (Some(m), true) = (self.maps[0].as_ref(), self.writable[0]) {
            guest::layout(&mut r, m, mode, &code);
        }
        if matches!(mode, Mode::Long64 | Mode::Mutated) && !r.one_in(4) {
            let lm = kvm_cpuid_entry2 { function: 0x8000_0001, edx: 1 << 29 | 1 << 20, ..Default::default() };
            let mut b = 1u32.to_le_bytes().to_vec();
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(as_bytes(&lm));
            let _ = self.call(fd, sys::SET_CPUID2(), &b, Ptr::Good);
        }
        let s = if mode == Mode::Mutated { state::random_sregs(&mut r, mode) } else { state::sregs_for(mode, if r.one_in(3) { 0 } else { 0xfff }) };
        let _ = self.call(fd, sys::SET_SREGS(), as_bytes(&s), Ptr::Good);
        let mut regs = state::random_regs(&mut r);
        (regs.rip, regs.rsp, regs.rflags) = (state::CODE, 0x8000, 2 | if r.one_in(4) { 0x200 } else { 0 });
        let _ = self.call(fd, sys::SET_REGS(), as_bytes(&regs), Ptr::Good);
        sys::shared().guests.fetch_add(1, Ordering::Relaxed);
        let end = guest::run(&mut r, fd, run, exits, 5000);
        self.end(end);
    }

}
