// SPDX-License-Identifier: GPL-2.0

//! A vCPU: its VMCB and register state, the vCPU fd's ioctls, and the run loop.

use crate::{
    asid::VcpuAsid,
    cpu, cpuid,
    emulate::{self, CpuMode, MmioInsn, MmioOp},
    ffi::{self, NoPreempt},
    fpu::{self, FpuGuard, GuestFpu},
    gmem::{self, AccessKind, Paging, WalkError},
    hwpage::HwPages,
    lapic::{self, Effect, Lapic},
    msr,
    svm::{exit::*, ops, vmcb::*},
    uapi::kvm::*,
    uapi::{RsvmVcpuStats, RSVM_GET_VCPU_STATS},
    vm::{VcpuShared, Vm},
    x86::*,
};
use core::sync::atomic::Ordering;
use kernel::{
    bindings, debugfs,
    ffi::{c_int, c_long, c_uint, c_ulong},
    str::CString,
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    time::{hrtimer::{ArcHrTimerHandle, HrTimerPointer}, Delta, Instant, Monotonic},
    uaccess::{UserPtr, UserSlice},
};

const PAGE: usize = 4096;
const SEG_L: u16 = 1 << 9;
const SEG_DB: u16 = 1 << 10;
const EVTINJ_VALID: u32 = 1 << 31;
const EVTINJ_VALID_ERR: u32 = 1 << 11;
const EVTINJ_TYPE_INTR: u32 = 0 << 8;
const EVTINJ_TYPE_EXEPT: u32 = 3 << 8;
const EVTINJ_TYPE_MASK: u32 = 7 << 8;
const V_IRQ: u32 = 1 << 8;
const V_IGN_TPR: u32 = 1 << 20;
const V_INTR_PRIO_SHIFT: u32 = 16;
const V_TPR_MASK: u32 = 0xf;
const INT_SHADOW: u32 = 1;
const UD_VECTOR: u8 = 6;
const GP_VECTOR: u8 = 13;
const PF_VECTOR: u8 = 14;
/// Exit code of an intercepted MOV to CR8 (APM table C-1), and its intercept bit.
const SVM_EXIT_WRITE_CR8: u64 = 0x18;
const INTERCEPT_CR8_WRITE: u32 = 1 << (16 + 8);
/// EXITINFO1 bit 33 of #NPF: the fault happened while walking the guest's page tables.
const NPF_GUEST_PT: u64 = 1 << 33;
const NPF_WRITE: u64 = 1 << 1;
/// Valid CR4 bits for a guest (the rest are reserved, as KVM's cr4_reserved_bits).
const CR4_GUEST_VALID: u64 = 0x1f_07ff | (1 << 11) | (1 << 12) | (1 << 20) | (1 << 21) | (1 << 22);
const KVM_ENOSYS: u64 = 1000;
const KVM_EPERM: u64 = 1;

/// Exit counter index (`RsvmVcpuStats::exits`): io, mmio, hlt, cpuid, msr, npf, intr,
/// vintr, shutdown, fail_entry, ud, vmmcall, xsetbv, exception, other, total.
fn stat_index(code: u64) -> usize {
    match code {
        SVM_EXIT_IOIO => 0,
        SVM_EXIT_HLT => 2,
        SVM_EXIT_CPUID => 3,
        SVM_EXIT_MSR => 4,
        SVM_EXIT_NPF => 5,
        SVM_EXIT_INTR | SVM_EXIT_NMI | SVM_EXIT_SMI => 6,
        SVM_EXIT_VINTR => 7,
        SVM_EXIT_SHUTDOWN => 8,
        SVM_EXIT_ERR => 9,
        SVM_EXIT_VMRUN | SVM_EXIT_VMLOAD | SVM_EXIT_VMSAVE | SVM_EXIT_STGI | SVM_EXIT_CLGI | SVM_EXIT_SKINIT
        | SVM_EXIT_INVLPGA => 10,
        SVM_EXIT_VMMCALL => 11,
        SVM_EXIT_XSETBV => 12,
        0x40..=0x5f => 13,
        _ => 14,
    }
}
const STAT_MMIO: usize = 1;
const STAT_TOTAL: usize = 15;

/// I/O or MMIO that userspace must complete on the next `KVM_RUN`.
#[derive(Clone, Copy)]
enum Pending {
    None,
    /// IN or OUT (possibly string); RIP advances when the VMM comes back (as KVM).
    Pio { rip: u64, next_rip: u64, size: u8, input: bool, string: Option<StrIo> },
    /// An MMIO load: the register is written when the VMM supplies the data.
    MmioRead { rip: u64, insn: MmioInsn },
}

#[derive(Clone, Copy)]
struct StrIo {
    count: u32,
    addr_size: u8,
    rep: bool,
    seg_base: u64,
}

/// Whether the exit handler re-enters the guest or returns to userspace.
enum Action {
    Resume,
    User,
}

/// The run page shared with userspace (`struct kvm_run`). Userspace may write it at any
/// time, so it is accessed through raw pointers with volatile loads and stores only.
#[derive(Clone, Copy)]
struct RunPage(*mut KvmRun);

impl RunPage {
    fn immediate_exit(self) -> bool {
        // SAFETY: the page is live while the vCPU is (owned by it); volatile byte read.
        unsafe { core::ptr::addr_of!((*self.0).immediate_exit).read_volatile() != 0 }
    }
    fn request_interrupt_window(self) -> bool {
        // SAFETY: as above.
        unsafe { core::ptr::addr_of!((*self.0).request_interrupt_window).read_volatile() != 0 }
    }
    fn set_reason(self, r: u32) {
        // SAFETY: as above.
        unsafe { core::ptr::addr_of_mut!((*self.0).exit_reason).write_volatile(r) };
    }
    fn set_exit<T: RunExit>(self, reason: u32, v: T) {
        // SAFETY: as above; `KvmRun::set_exit` writes within the exit union only.
        unsafe { (*self.0).set_exit(reason, v) };
    }
    fn exit_as<T: RunExit>(self) -> T {
        // SAFETY: as above; any bit pattern is a valid T.
        unsafe { (*self.0).exit_as() }
    }
    fn set_status(self, if_flag: bool, ready: bool, cr8: u64, apic_base: u64) {
        // SAFETY: as above.
        unsafe {
            core::ptr::addr_of_mut!((*self.0).if_flag).write_volatile(if_flag as u8);
            core::ptr::addr_of_mut!((*self.0).ready_for_interrupt_injection).write_volatile(ready as u8);
            core::ptr::addr_of_mut!((*self.0).cr8).write_volatile(cr8);
            core::ptr::addr_of_mut!((*self.0).apic_base).write_volatile(apic_base);
        }
    }
}

struct VcpuState {
    vmcb: HwPages,
    /// GPRs in x86 order (RAX=0..R15=15). RAX and RSP mirror the VMCB around each entry.
    gprs: [u64; 16],
    asid: VcpuAsid,
    cpuid: KVec<KvmCpuidEntry2>,
    fpu: GuestFpu,
    pending: Pending,
    /// KVM_INTERRUPT vector waiting for an interrupt window.
    irq: Option<u8>,
    /// An event for EVENTINJ at the next entry (an exception rsvm raises, or re-injection of
    /// one whose delivery a #VMEXIT interrupted): (EVENTINJ, error code).
    event: Option<(u32, u32)>,
    /// EVENTINJ of the last entry (QEMU reports a faulting INTR delivery as an exception).
    injected: u32,
    sigmask: Option<u64>,
    /// IA32_APIC_BASE as KVM keeps it without an in-kernel APIC (the APIC's own otherwise).
    apic_base: u64,
    /// The in-kernel local APIC (VMs with KVM_CAP_SPLIT_IRQCHIP).
    lapic: Option<Lapic>,
    /// The armed APIC timer; dropping the handle cancels it (and waits for its callback).
    timer: Option<ArcHrTimerHandle<VcpuShared>>,
    /// HLT with an in-kernel APIC: the vCPU sleeps until an interrupt can be taken.
    halted: bool,
    /// RIP at which the last external interrupt was injected, until a HLT there uses it
    /// (see the HLT exit).
    intr_rip: Option<u64>,
    /// Wait-for-SIPI (KVM_MP_STATE_UNINITIALIZED / INIT_RECEIVED): an AP after creation or
    /// INIT sleeps until a SIPI says where to start.
    wait_sipi: bool,
    /// Userspace changed the register state since the last entry: snapshot the save area
    /// first, so a state VMRUN refuses (KVM_EXIT_FAIL_ENTRY) is left exactly as userspace
    /// set it, as KVM leaves it (an emulated VMEXIT_INVALID may write the save area).
    user_state: bool,
}

#[pin_data(PinnedDrop)]
pub(crate) struct Vcpu {
    vm: Arc<Vm>,
    shared: Arc<VcpuShared>,
    /// kvm_run (mmap page 0) and the PIO data page (mmap page 1).
    run: HwPages,
    pio: HwPages,
    #[pin]
    state: Mutex<VcpuState>,
    /// Origin of the APIC timer's clock (monotonic ns since vCPU creation).
    epoch: Instant<Monotonic>,
    /// This vCPU's exit counters in debugfs (none if debugfs is unavailable).
    _stats_file: Option<Pin<KBox<debugfs::File<Arc<VcpuShared>>>>>,
}

// SAFETY: the raw pages are owned and only touched under `state`'s lock or through the
// volatile `RunPage` accessors; the rest is Send + Sync.
unsafe impl Send for Vcpu {}
// SAFETY: as above.
unsafe impl Sync for Vcpu {}

fn seg_to_kvm(s: &VmcbSeg) -> KvmSegment {
    let a = s.attrib;
    let present = ((a >> 7) & 1) as u8;
    KvmSegment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: (a & 0xf) as u8,
        s: ((a >> 4) & 1) as u8,
        dpl: ((a >> 5) & 3) as u8,
        present,
        avl: ((a >> 8) & 1) as u8,
        l: ((a >> 9) & 1) as u8,
        db: ((a >> 10) & 1) as u8,
        g: (s.limit > 0xfffff) as u8,
        unusable: (present == 0) as u8,
        padding: 0,
    }
}

fn seg_from_kvm(k: &KvmSegment) -> VmcbSeg {
    let a = (k.type_ as u16 & 0xf)
        | ((k.s as u16 & 1) << 4)
        | ((k.dpl as u16 & 3) << 5)
        | ((((k.present & 1) != 0 && k.unusable == 0) as u16) << 7)
        | ((k.avl as u16 & 1) << 8)
        | ((k.l as u16 & 1) << 9)
        | ((k.db as u16 & 1) << 10)
        | ((k.g as u16 & 1) << 11);
    VmcbSeg::new(k.selector, a, k.limit, k.base)
}

impl VcpuState {
    fn vmcb(&mut self) -> &mut Vmcb {
        // SAFETY: the page is exclusively ours (under the vCPU lock), 4 KiB, and `Vmcb` is a
        // 4 KiB POD. The CPU only uses it during VMRUN, which happens under this lock too.
        unsafe { &mut *self.vmcb.as_mut_ptr::<Vmcb>() }
    }

    /// The architectural reset state, as KVM's `kvm_vcpu_reset()` + `init_vmcb()` leave it.
    /// `init`: an INIT-like reset (after a shutdown), which keeps CR0.CD and CR0.NW.
    fn reset(&mut self, vm: &Vm, id: u32, init: bool) {
        let old_cr0 = self.vmcb().save.cr0;
        let rdx = self.cpuid.iter().find(|e| e.function == 1).map(|e| e.eax as u64).unwrap_or(0x600);
        self.gprs = [0; 16];
        self.gprs[2] = rdx;
        self.pending = Pending::None;
        self.irq = None;
        self.event = None;
        self.fpu.reset();
        self.apic_base = 0xfee0_0000 | (1 << 11) | if id == 0 { 1 << 8 } else { 0 };
        self.halted = false;
        self.timer = None;
        if let Some(l) = self.lapic.as_mut() {
            let (x2, dl) = (cpuid::has(&self.cpuid, 1, 2, 21), cpuid::has(&self.cpuid, 1, 2, 24));
            let base = l.base;
            *l = Lapic::new(id, id == 0);
            l.set_cpuid(x2, dl);
            if init {
                // INIT keeps IA32_APIC_BASE (SDM 11.4.7.3).
                l.base = base;
            }
        }
        let npt_root = vm.npt_root;
        let (iopm, msrpm) = (vm.iopm.phys(), vm.msrpm.phys());
        let v = self.vmcb();
        // SAFETY: all-zero is a valid `Vmcb`; the page is ours (see `vmcb()`).
        unsafe { core::ptr::write_bytes(v as *mut Vmcb, 0, 1) };
        v.init_control(iopm, msrpm, npt_root);
        v.control.tsc_offset = vm.tsc_offset;
        v.set_reset_segments(0xf000, 0xffff_0000);
        let s = &mut v.save;
        s.cr0 = CR0_ET | if init { old_cr0 & (CR0_CD | CR0_NW) } else { CR0_CD | CR0_NW };
        s.efer = EFER_SVME;
        s.rflags = RFLAGS_FIXED;
        s.rip = 0xfff0;
        // A fresh VMCB needs a fresh ASID decision.
        self.asid = VcpuAsid::default();
    }

    fn mode(&mut self) -> CpuMode {
        let s = &self.vmcb().save;
        if s.efer & EFER_LMA != 0 && s.cs.attrib & SEG_L != 0 {
            CpuMode::Bits64
        } else if s.cr0 & CR0_PE != 0 && s.cs.attrib & SEG_DB != 0 {
            CpuMode::Bits32
        } else {
            CpuMode::Bits16
        }
    }

    fn paging(&mut self) -> Paging {
        let s = &self.vmcb().save;
        Paging { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer }
    }

    fn rip(&mut self) -> u64 {
        self.vmcb().save.rip
    }

    fn set_rip(&mut self, rip: u64) {
        let v = self.vmcb();
        v.save.rip = rip;
        // Completing an instruction ends an interrupt shadow (STI/MOV SS) it was in.
        v.control.int_state &= !INT_SHADOW;
    }

    fn queue_exception(&mut self, vector: u8, err: Option<u32>) {
        let e = vector as u32 | EVTINJ_TYPE_EXEPT | EVTINJ_VALID | if err.is_some() { EVTINJ_VALID_ERR } else { 0 };
        self.event = Some((e, err.unwrap_or(0)));
    }

    fn page_fault(&mut self, la: u64, code: u32) {
        self.vmcb().save.cr2 = la;
        self.queue_exception(PF_VECTOR, Some(code));
    }

    fn apic_base(&self) -> u64 {
        self.lapic.as_ref().map(|l| l.base).unwrap_or(self.apic_base)
    }

    fn interrupt_allowed(&mut self) -> bool {
        let v = self.vmcb();
        v.save.rflags & RFLAGS_IF != 0 && v.control.int_state & INT_SHADOW == 0
    }

    /// KVM's `kvm_vcpu_ready_for_interrupt_injection()` for a userspace irqchip.
    fn ready_for_injection(&mut self) -> bool {
        self.irq.is_none() && self.event.is_none() && self.interrupt_allowed()
    }

    /// Fetches up to 15 instruction bytes at CS:RIP (decode-assist bytes when the CPU gave
    /// them for this exit).
    fn fetch(&mut self, mem: &mut crate::vm::VmMem, use_assist: bool) -> Result<([u8; 15], usize), WalkError> {
        let mut b = [0u8; 15];
        let v = self.vmcb();
        let n = v.control.insn_len as usize;
        if use_assist && n > 0 && n <= 15 {
            b[..n].copy_from_slice(&v.control.insn_bytes[..n]);
            return Ok((b, n));
        }
        let mode = self.mode();
        let v = self.vmcb();
        let mut la = v.save.cs.base.wrapping_add(v.save.rip);
        if mode != CpuMode::Bits64 {
            la &= 0xffff_ffff;
        }
        let user = v.save.cpl == 3;
        let pg = self.paging();
        let acc = AccessKind { write: false, user, fetch: true };
        // Read what is there up to 15 bytes: the first page must work, a second may not.
        let first = (4096 - (la & 0xfff) as usize).min(15);
        gmem::read_virt(mem, pg, la, &mut b[..first], acc)?;
        let mut len = first;
        if first < 15 && gmem::read_virt(mem, pg, la.wrapping_add(first as u64), &mut b[first..], acc).is_ok() {
            len = 15;
        }
        Ok((b, len))
    }

}

/// The kind of fd entry point: get the vCPU from the fd and dispatch.
impl Vcpu {
    pub(crate) fn new(vm: Arc<Vm>, shared: Arc<VcpuShared>) -> Result<Arc<Self>> {
        let mut st = VcpuState {
            vmcb: HwPages::page()?,
            gprs: [0; 16],
            asid: VcpuAsid::default(),
            cpuid: KVec::new(),
            fpu: GuestFpu::new()?,
            pending: Pending::None,
            irq: None,
            event: None,
            injected: 0,
            sigmask: None,
            apic_base: 0,
            lapic: vm.split_irqchip.load(Ordering::SeqCst).then(|| Lapic::new(shared.id, shared.id == 0)),
            timer: None,
            halted: false,
            intr_rip: None,
            wait_sipi: false,
            user_state: true,
        };
        st.reset(&vm, shared.id, false);
        // With an in-kernel APIC, every vCPU but the BSP (id 0) starts waiting for a SIPI,
        // as KVM's (KVM_MP_STATE_UNINITIALIZED).
        st.wait_sipi = st.lapic.is_some() && shared.id != 0;
        let stats_file = crate::debugfs_dir().and_then(|dir| {
            let name = CString::try_from_fmt(fmt!("vm{}-vcpu{}", vm.id, shared.id)).ok()?;
            KBox::pin_init(dir.read_only_file(&name, shared.clone()), GFP_KERNEL).ok()
        });
        Arc::pin_init(
            try_pin_init!(Self {
                _stats_file: stats_file,
                vm,
                shared,
                run: HwPages::page()?,
                pio: HwPages::page()?,
                state <- new_mutex!(st),
                epoch: Instant::now(),
            }? Error),
            GFP_KERNEL,
        )
        .inspect(|v| {
            if let Some(l) = v.state.lock().lapic.as_ref() {
                v.shared.set_route(l.route());
            }
        })
    }

    fn count(&self, i: usize) {
        if let Some(c) = self.shared.stats.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn run_page(&self) -> RunPage {
        RunPage(self.run.as_mut_ptr())
    }

    fn pio_bytes(&self) -> *mut u8 {
        self.pio.as_mut_ptr()
    }

    /// Copies `n` bytes of the PIO page out (the VMM may change it concurrently; we only
    /// ever copy, never hold references into it).
    fn pio_read(&self, out: &mut [u8]) {
        let n = out.len().min(PAGE);
        // SAFETY: the PIO page is ours and `n <= PAGE`; a racing userspace write only
        // changes the bytes we copy.
        unsafe { core::ptr::copy_nonoverlapping(self.pio_bytes(), out.as_mut_ptr(), n) };
    }

    fn pio_write(&self, data: &[u8]) {
        let n = data.len().min(PAGE);
        // SAFETY: as in `pio_read`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.pio_bytes(), n) };
    }

    // ---- the run loop ----------------------------------------------------------------

    fn run(&self) -> Result<isize> {
        let run = self.run_page();
        let mut st = self.state.lock();
        self.complete_pending(&mut st, run)?;
        if run.immediate_exit() {
            run.set_reason(KVM_EXIT_INTR);
            return Err(EINTR);
        }
        if let Some(m) = st.sigmask {
            // SAFETY: `m` is a sigset value; deactivated below on every path.
            unsafe { ffi::rsvm_shim_sigset_activate(&m) };
        }
        let r = self.run_loop(&mut st, run);
        if st.sigmask.is_some() {
            // SAFETY: pairs with the activation above.
            unsafe { ffi::rsvm_shim_sigset_deactivate() };
        }
        let if_flag = st.vmcb().save.rflags & RFLAGS_IF != 0;
        let ready = st.ready_for_injection();
        let cr8 = (st.vmcb().control.int_ctl & V_TPR_MASK) as u64;
        let apic_base = st.apic_base();
        run.set_status(if_flag, ready, cr8, apic_base);
        r
    }

    fn run_loop(&self, st: &mut VcpuState, run: RunPage) -> Result<isize> {
        loop {
            if st.lapic.is_some() && !self.init_sipi(st) {
                run.set_reason(KVM_EXIT_INTR);
                return Err(EINTR);
            }
            if st.halted && !self.block(st) {
                run.set_reason(KVM_EXIT_INTR);
                return Err(EINTR);
            }
            if ffi::signal_pending() {
                run.set_reason(KVM_EXIT_INTR);
                return Err(EINTR);
            }
            ffi::cond_resched();
            let want_window = run.request_interrupt_window();
            if want_window && st.ready_for_injection() {
                run.set_reason(KVM_EXIT_IRQ_WINDOW_OPEN);
                return Ok(0);
            }
            self.prepare_events(st, want_window);
            let snapshot = if core::mem::take(&mut st.user_state) {
                let mut b = KVec::with_capacity(size_of::<VmcbSave>(), GFP_KERNEL)?;
                b.resize(size_of::<VmcbSave>(), 0u8, GFP_KERNEL)?;
                // SAFETY: `b` has room for a `VmcbSave`, which is plain old data.
                unsafe { core::ptr::copy_nonoverlapping(&st.vmcb().save as *const VmcbSave as *const u8, b.as_mut_ptr(), b.len()) };
                Some(b)
            } else {
                None
            };
            if !self.enter_guest(st)? {
                // An interrupt arrived just before entry: take it into account first.
                continue;
            }
            let code = st.vmcb().exit_code();
            if let (SVM_EXIT_ERR, Some(b)) = (code, &snapshot) {
                // SAFETY: `b` holds a copy of a `VmcbSave` taken above.
                unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), &mut st.vmcb().save as *mut VmcbSave as *mut u8, b.len()) };
                st.user_state = true;
            }
            self.count(stat_index(code));
            self.count(STAT_TOTAL);
            if code != SVM_EXIT_ERR {
                // VMRUN refused the state: nothing was delivered, EXITINTINFO means nothing.
                self.after_exit(st);
            }
            match self.handle_exit(st, run, code)? {
                Action::Resume => {}
                Action::User => return Ok(0),
            }
        }
    }

    /// EVENTINJ for this entry, or an interrupt window if an interrupt must wait.
    fn prepare_events(&self, st: &mut VcpuState, want_window: bool) {
        self.lapic_fold(st);
        let mut inj = 0;
        let mut err = 0;
        let mut apic_wait = false;
        if let Some((e, c)) = st.event.take() {
            inj = e;
            err = c;
        } else if let Some(vec) = st.irq {
            if st.interrupt_allowed() {
                inj = vec as u32 | EVTINJ_TYPE_INTR | EVTINJ_VALID;
                st.irq = None;
            }
        } else if let Some(vec) = st.lapic.as_ref().and_then(|l| l.deliverable()) {
            if st.interrupt_allowed() {
                inj = vec as u32 | EVTINJ_TYPE_INTR | EVTINJ_VALID;
                if let Some(l) = st.lapic.as_mut() {
                    l.ack(vec);
                }
            } else {
                apic_wait = true;
            }
        }
        // The APIC's TPR is the guest's V_TPR (CR8) while it runs; while only the TPR holds
        // an interrupt back, CR8 writes exit so that lowering it delivers the interrupt.
        if let Some((tpr, tpr_blocks)) = st.lapic.as_ref().map(|l| (l.tpr(), l.blocked_by_tpr())) {
            let c = &mut st.vmcb().control;
            c.int_ctl = (c.int_ctl & !V_TPR_MASK) | (tpr >> 4);
            if tpr_blocks {
                c.intercepts[0] |= INTERCEPT_CR8_WRITE;
            } else {
                c.intercepts[0] &= !INTERCEPT_CR8_WRITE;
            }
        }
        let need_window = (st.irq.is_some() || want_window || apic_wait) && inj == 0;
        st.injected = inj;
        if inj & EVTINJ_TYPE_MASK == EVTINJ_TYPE_INTR && inj & EVTINJ_VALID != 0 {
            st.intr_rip = Some(st.rip());
        }
        let v = st.vmcb();
        v.control.event_inj = inj;
        v.control.event_inj_err = err;
        if need_window {
            // A virtual interrupt the guest takes as soon as it can: the VINTR intercept
            // fires then (APM 15.21.4), which is the interrupt window.
            v.control.int_vector = 0;
            v.control.int_ctl |= V_IRQ | V_IGN_TPR | (0xf << V_INTR_PRIO_SHIFT);
            v.set_intercept(Intercept::Vintr);
        }
    }

    /// Re-queues an event whose delivery the #VMEXIT interrupted (EXITINTINFO).
    fn after_exit(&self, st: &mut VcpuState) {
        let injected = st.injected;
        let v = st.vmcb();
        let info = v.control.exit_int_info;
        let err = v.control.exit_int_info_err;
        v.control.event_inj = 0;
        if info & EVTINJ_VALID == 0 {
            return;
        }
        let mut info = info;
        // QEMU reports a faulting external-interrupt delivery as an exception: normalise.
        if injected & EVTINJ_TYPE_MASK == EVTINJ_TYPE_INTR && injected & 0xff == info & 0xff {
            info = (info & !EVTINJ_TYPE_MASK & !EVTINJ_VALID_ERR) | EVTINJ_TYPE_INTR;
        }
        match info & EVTINJ_TYPE_MASK {
            // Software interrupts (and #BP/#OF) restart with their instruction instead.
            t if t == EVTINJ_TYPE_EXEPT && matches!(info & 0xff, 3 | 4) => {}
            t if t == 4 << 8 => {}
            _ => st.event = Some((info, err)),
        }
    }

    /// One world switch on this CPU. `false`: not entered, because an interrupt was posted
    /// or the APIC timer fired after the events for this entry were chosen.
    fn enter_guest(&self, st: &mut VcpuState) -> Result<bool> {
        let vm = &self.vm;
        let features = &vm.features;
        let (rax, rsp) = (st.gprs[0], st.gprs[4]);
        {
            let v = st.vmcb();
            v.save.rax = rax;
            v.save.rsp = rsp;
        }
        let host_xcr0 = fpu::xgetbv0();
        let guest_cr4 = st.vmcb().save.cr4;
        let np = NoPreempt::new();
        let svm = cpu::this_svm_cpu(&np).ok_or(EIO)?;
        let cpu_id = ffi::this_cpu();
        let fpu_guard = FpuGuard::begin();
        st.fpu.load();
        st.fpu.enter_xcr0(guest_cr4, host_xcr0);
        self.shared.in_guest_cpu.store(cpu_id as i32, Ordering::SeqCst);
        ops::clgi();
        // Posted after prepare_events(): the poster may have seen us outside guest mode and
        // not kicked, so go round again (an injected event is kept for then).
        let abort = st.lapic.is_some() && self.shared.event_pending();
        if !abort {
            // Read after CLGI: a concurrent NPT flush either sees us in guest mode and waits
            // for our exit, or we see its new generation here (see Vm::flush_npt).
            let npt_gen = vm.npt_gen.load(Ordering::SeqCst);
            let (asid, tlb, ibpb) = svm.with_asid(&np, |c| {
                let ibpb = c.last_vm != vm.id;
                c.last_vm = vm.id;
                let (a, t) = st.asid.pre_run(c, cpu_id, npt_gen, features.flush_by_asid);
                (a, t, ibpb)
            });
            if ibpb && features.ibpb {
                // Another VM ran here last: its branch predictions must not steer this one.
                // SAFETY: PRED_CMD.IBPB is a write-only command with no other effect.
                let _ = unsafe { ffi::wrmsr(cpu::MSR_IA32_PRED_CMD, 1) };
            }
            let vmcb_pa = st.vmcb.phys();
            {
                let v = st.vmcb();
                v.control.asid = asid;
                v.control.tlb_ctl = tlb;
            }
            // SAFETY: SVM is on for this CPU (checked with preemption off), GIF=0, and the
            // VMCB, its IOPM/MSRPM/NPT and the GPR array are valid for the whole call.
            unsafe { ffi::__rsvm_vmrun(vmcb_pa, svm.host_save.phys(), st.gprs.as_mut_ptr()) };
        }
        ops::stgi();
        self.shared.in_guest_cpu.store(-1, Ordering::SeqCst);
        st.fpu.exit_xcr0(host_xcr0);
        st.fpu.save();
        drop(fpu_guard);
        drop(np);
        let v = st.vmcb();
        if abort {
            let (inj, err) = (v.control.event_inj, v.control.event_inj_err);
            v.control.event_inj = 0;
            if inj & EVTINJ_VALID != 0 {
                st.event = Some((inj, err));
            }
            return Ok(false);
        }
        let (rax, rsp) = (v.save.rax, v.save.rsp);
        v.control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
        // CR8 writes in the guest changed V_TPR without an exit: the APIC's TPR follows.
        let vtpr = v.control.int_ctl & V_TPR_MASK;
        st.gprs[0] = rax;
        st.gprs[4] = rsp;
        if let Some(l) = st.lapic.as_mut() {
            if l.tpr() >> 4 != vtpr {
                l.set_tpr(vtpr << 4);
            }
        }
        Ok(true)
    }

    /// Advances RIP past an intercepted instruction with opcode bytes `op`: NRIP where the
    /// CPU saves it, else the decoded length. `Err` ends in an emulation-failure exit.
    fn skip(&self, st: &mut VcpuState, op: &[u8]) -> Result<(), ()> {
        if self.vm.features.nrip_save {
            let n = st.vmcb().control.next_rip;
            st.set_rip(n);
            return Ok(());
        }
        let mode = st.mode();
        let mut mem = self.vm.mem.lock();
        let (b, n) = st.fetch(&mut mem, false).map_err(|_| ())?;
        drop(mem);
        let len = emulate::fixed_insn_len(&b[..n], mode, op).ok_or(())?;
        let rip = st.rip().wrapping_add(len);
        st.set_rip(if mode == CpuMode::Bits64 { rip } else { rip & 0xffff_ffff });
        Ok(())
    }

    fn emulation_failure(&self, st: &mut VcpuState, run: RunPage) -> Action {
        let rip = st.rip();
        let code = st.vmcb().exit_code();
        let mut i = KvmRunInternal { suberror: KVM_INTERNAL_ERROR_EMULATION, ndata: 2, ..Default::default() };
        i.data[0] = code;
        i.data[1] = rip;
        run.set_exit(KVM_EXIT_INTERNAL_ERROR, i);
        Action::User
    }

    fn handle_exit(&self, st: &mut VcpuState, run: RunPage, code: u64) -> Result<Action> {
        let (info1, info2) = {
            let c = &st.vmcb().control;
            (c.exit_info_1, c.exit_info_2)
        };
        Ok(match code {
            SVM_EXIT_INTR | SVM_EXIT_NMI | SVM_EXIT_SMI => Action::Resume,
            SVM_EXIT_VINTR => {
                let v = st.vmcb();
                v.control.int_ctl &= !(V_IRQ | V_IGN_TPR | (0xf << V_INTR_PRIO_SHIFT));
                v.control.intercepts[3] &= !(1 << (Intercept::Vintr as u32 % 32));
                Action::Resume
            }
            SVM_EXIT_CPUID => {
                let (leaf, sub) = (st.gprs[0] as u32, st.gprs[1] as u32);
                let cr4 = st.vmcb().save.cr4;
                let apic = st.lapic.as_ref().map(|l| l.hw_enabled());
                let r = cpuid::guest_cpuid(&st.cpuid, leaf, sub, cr4, apic);
                if self.skip(st, &[0x0f, 0xa2]).is_err() {
                    return Ok(self.emulation_failure(st, run));
                }
                st.gprs[0] = r[0] as u64;
                st.gprs[3] = r[1] as u64;
                st.gprs[1] = r[2] as u64;
                st.gprs[2] = r[3] as u64;
                Action::Resume
            }
            SVM_EXIT_HLT => {
                let rip = st.rip();
                if self.skip(st, &[0xf4]).is_err() {
                    return Ok(self.emulation_failure(st, run));
                }
                if st.lapic.is_some() {
                    // The interrupt that ends the HLT comes from the in-kernel APIC: sleep
                    // here (run_loop -> block), not in the VMM. Except right after an
                    // interrupt was delivered at this very HLT: QEMU 7.2 does not restore
                    // the STI interrupt shadow on VMRUN, so an interrupt meant to wake
                    // `sti; hlt` can arrive just before the HLT instead, and sleeping then
                    // would wait for the next one (forever, for a one-shot timer). Treating
                    // that HLT as woken is at worst a spurious wake-up, which guests allow.
                    let woken = st.intr_rip.take() == Some(rip);
                    st.halted = !woken;
                    return Ok(Action::Resume);
                }
                run.set_reason(KVM_EXIT_HLT);
                Action::User
            }
            SVM_EXIT_WRITE_CR8 => self.cr8_write(st, run, info1),
            SVM_EXIT_MSR => self.msr_exit(st, run, info1 != 0),
            SVM_EXIT_IOIO => self.io_exit(st, run, info1, info2)?,
            SVM_EXIT_NPF => self.npf_exit(st, run, info1, info2)?,
            SVM_EXIT_SHUTDOWN => {
                // The VMCB is undefined after a shutdown intercept: back to reset (as KVM).
                st.reset(&self.vm, self.shared.id, true);
                run.set_reason(KVM_EXIT_SHUTDOWN);
                Action::User
            }
            SVM_EXIT_VMRUN | SVM_EXIT_VMLOAD | SVM_EXIT_VMSAVE | SVM_EXIT_STGI | SVM_EXIT_CLGI
            | SVM_EXIT_SKINIT | SVM_EXIT_INVLPGA => {
                // SVM is not offered to guests.
                st.queue_exception(UD_VECTOR, None);
                Action::Resume
            }
            SVM_EXIT_VMMCALL => self.hypercall(st, run),
            SVM_EXIT_XSETBV => {
                let (cr4, cpl) = (st.vmcb().save.cr4, st.vmcb().save.cpl);
                let v = (st.gprs[2] << 32) | (st.gprs[0] & 0xffff_ffff);
                if cr4 & CR4_OSXSAVE == 0 {
                    st.queue_exception(UD_VECTOR, None);
                } else if cpl != 0 || st.gprs[1] as u32 != 0 || st.fpu.set_xcr0(v).is_err() {
                    st.queue_exception(GP_VECTOR, Some(0));
                } else if self.skip(st, &[0x0f, 0x01, 0xd1]).is_err() {
                    return Ok(self.emulation_failure(st, run));
                }
                Action::Resume
            }
            c if c == 0x40 + AC_VECTOR as u64 => {
                st.queue_exception(AC_VECTOR, Some(info1 as u32));
                Action::Resume
            }
            SVM_EXIT_ERR => {
                let f = KvmRunFailEntry { hardware_entry_failure_reason: code, cpu: ffi::this_cpu() as u32 };
                run.set_exit(KVM_EXIT_FAIL_ENTRY, f);
                Action::User
            }
            _ => {
                let mut i = KvmRunInternal { suberror: KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, ndata: 2, ..Default::default() };
                i.data[0] = code;
                i.data[1] = ffi::this_cpu() as u64;
                run.set_exit(KVM_EXIT_INTERNAL_ERROR, i);
                Action::User
            }
        })
    }

    fn msr_exit(&self, st: &mut VcpuState, run: RunPage, write: bool) -> Action {
        let index = st.gprs[1] as u32;
        let value = (st.gprs[2] << 32) | (st.gprs[0] & 0xffff_ffff);
        let apic = self.apic_msr(st, index, write.then_some(value), false);
        let ok = if let Some(r) = apic {
            match r {
                Ok(v) if !write => {
                    st.gprs[0] = v & 0xffff_ffff;
                    st.gprs[2] = v >> 32;
                    true
                }
                Ok(_) => true,
                Err(()) => false,
            }
        } else if write {
            let v = (st.gprs[2] << 32) | (st.gprs[0] & 0xffff_ffff);
            let allowed = cpuid::efer_allowed(&st.cpuid);
            msr::set(st.vmcb(), index, v, false, allowed).is_ok()
        } else {
            match msr::get(st.vmcb(), index) {
                Ok(v) => {
                    st.gprs[0] = v & 0xffff_ffff;
                    st.gprs[2] = v >> 32;
                    true
                }
                Err(_) => false,
            }
        };
        if !ok {
            st.queue_exception(GP_VECTOR, Some(0));
            return Action::Resume;
        }
        if self.skip(st, if write { &[0x0f, 0x30] } else { &[0x0f, 0x32] }).is_err() {
            return self.emulation_failure(st, run);
        }
        Action::Resume
    }

    /// VMMCALL as KVM's kvm_emulate_hypercall() answers it: rsvm implements no hypercall,
    /// so RAX = -KVM_ENOSYS (or -KVM_EPERM outside CPL 0), and the guest continues.
    fn hypercall(&self, st: &mut VcpuState, run: RunPage) -> Action {
        let long = st.mode() == CpuMode::Bits64;
        let ret = if st.vmcb().save.cpl != 0 { KVM_EPERM } else { KVM_ENOSYS }.wrapping_neg();
        if self.skip(st, &[0x0f, 0x01, 0xd9]).is_err() {
            return self.emulation_failure(st, run);
        }
        st.gprs[0] = if long { ret } else { ret & 0xffff_ffff };
        Action::Resume
    }

    // ---- port I/O ------------------------------------------------------------------

    fn io_exit(&self, st: &mut VcpuState, run: RunPage, info1: u64, next_rip: u64) -> Result<Action> {
        let io = IoioInfo(info1);
        let size = io.size() as u8;
        if size == 0 {
            return Ok(self.emulation_failure(st, run));
        }
        let rip = st.rip();
        let port = io.port();
        let mut count = 1u32;
        let mut string = None;
        if io.is_string() {
            let Some((s, n)) = self.string_io_setup(st, io, size)? else {
                // Zero count, or a fault queued for the guest: the instruction is done or
                // will be retried after the exception.
                return Ok(Action::Resume);
            };
            count = n;
            string = Some(s);
            if !io.is_in() {
                // OUTS: the data is read from guest memory now, at DS:rSI (or the override).
                if !self.outs_read(st, s, size, count)? {
                    return Ok(Action::Resume);
                }
            }
        } else if !io.is_in() {
            let v = st.gprs[0].to_le_bytes();
            self.pio_write(&v[..size as usize]);
        }
        st.pending = Pending::Pio { rip, next_rip, size, input: io.is_in(), string };
        let dir = if io.is_in() { KVM_EXIT_IO_IN } else { KVM_EXIT_IO_OUT };
        let data_offset = (KVM_PIO_PAGE_OFFSET * PAGE) as u64;
        run.set_exit(KVM_EXIT_IO, KvmRunIo { direction: dir, size, port, count, data_offset });
        Ok(Action::User)
    }

    /// For INS/OUTS: the element count of this exit (at most a page of data) and where
    /// the memory side is. `None` if there is nothing to do (zero count, or a queued fault).
    fn string_io_setup(&self, st: &mut VcpuState, io: IoioInfo, size: u8) -> Result<Option<(StrIo, u32)>> {
        let mode = st.mode();
        // Address size from EXITINFO1 (A16/A32/A64), else from the mode and a 0x67 prefix.
        let mut mem = self.vm.mem.lock();
        let fetched = st.fetch(&mut mem, self.vm.features.decode_assists).ok();
        drop(mem);
        let pfx = fetched.and_then(|(b, n)| emulate::prefixes(&b[..n], mode));
        let addr_size = match (io.0 >> 7) & 7 {
            1 => 2,
            2 => 4,
            4 => 8,
            _ => pfx.map(|p| emulate::sizes(&p, mode).1).unwrap_or(match mode {
                CpuMode::Bits64 => 8,
                CpuMode::Bits32 => 4,
                CpuMode::Bits16 => 2,
            }),
        };
        let rep = io.is_rep();
        let amask = emulate::mask(addr_size);
        let rcx = st.gprs[1] & amask;
        if rep && rcx == 0 {
            let n = st.vmcb().control.exit_info_2;
            st.set_rip(n);
            return Ok(None);
        }
        let per_page = (PAGE as u64) / size as u64;
        let count = if rep { rcx.min(per_page) } else { 1 } as u32;
        let v = st.vmcb();
        let seg_base = if io.is_in() {
            v.save.es.base
        } else {
            // DS unless overridden (decode assists report the segment in EXITINFO1[12:10]).
            let seg = if self.vm.features.decode_assists { Some(((io.0 >> 10) & 7) as u8) } else { pfx.and_then(|p| p.seg) };
            match seg.unwrap_or(3) {
                0 => v.save.es.base,
                1 => v.save.cs.base,
                2 => v.save.ss.base,
                4 => v.save.fs.base,
                5 => v.save.gs.base,
                _ => v.save.ds.base,
            }
        };
        // 64-bit mode ignores ES/CS/SS/DS bases.
        let seg_base = if mode == CpuMode::Bits64 && seg_base == v.save.es.base && io.is_in() { 0 } else { seg_base };
        Ok(Some((StrIo { count, addr_size, rep, seg_base }, count)))
    }

    /// The linear address of string element `i` at index register `reg` (RSI or RDI).
    fn str_la(st: &mut VcpuState, s: StrIo, reg: usize, size: u8, i: u32) -> u64 {
        let df = st.vmcb().save.rflags & RFLAGS_DF != 0;
        let amask = emulate::mask(s.addr_size);
        let step = (i as u64).wrapping_mul(size as u64);
        let off = if df { st.gprs[reg].wrapping_sub(step) } else { st.gprs[reg].wrapping_add(step) } & amask;
        s.seg_base.wrapping_add(off)
    }

    /// OUTS: copies `count` elements from guest memory to the PIO page. `false` if the guest
    /// took a fault instead.
    fn outs_read(&self, st: &mut VcpuState, s: StrIo, size: u8, count: u32) -> Result<bool> {
        let pg = st.paging();
        let user = st.vmcb().save.cpl == 3;
        let mut buf = KVec::with_capacity(size as usize * count as usize, GFP_KERNEL)?;
        let mut mem = self.vm.mem.lock();
        for i in 0..count {
            let la = Self::str_la(st, s, 6, size, i);
            let mut e = [0u8; 4];
            let acc = AccessKind { write: false, user, fetch: false };
            match gmem::read_virt(&mut mem, pg, la, &mut e[..size as usize], acc) {
                Ok(()) => buf.extend_from_slice(&e[..size as usize], GFP_KERNEL)?,
                Err(WalkError::PageFault(code)) => {
                    st.page_fault(la, code);
                    return Ok(false);
                }
                Err(WalkError::NotRam) => return Err(EFAULT),
            }
        }
        drop(mem);
        self.pio_write(&buf);
        Ok(true)
    }

    /// Finishes the exit the VMM just handled (KVM's complete_userspace_io). RIP moves on
    /// only if the VMM did not change it meanwhile.
    fn complete_pending(&self, st: &mut VcpuState, run: RunPage) -> Result {
        let pending = core::mem::replace(&mut st.pending, Pending::None);
        match pending {
            Pending::None => {}
            Pending::Pio { rip, next_rip, size, input, string } => {
                if st.rip() != rip {
                    return Ok(());
                }
                match string {
                    None => {
                        if input {
                            let mut d = [0u8; 8];
                            self.pio_read(&mut d[..size as usize]);
                            let v = u64::from_le_bytes(d);
                            let r = emulate::Reg { num: 0, high8: false };
                            emulate::write_reg(&mut st.gprs, r, size.min(4), v);
                        }
                        st.set_rip(next_rip);
                    }
                    Some(s) => self.complete_string(st, s, size, input, next_rip)?,
                }
            }
            Pending::MmioRead { rip, insn } => {
                if st.rip() != rip {
                    return Ok(());
                }
                if let MmioOp::Load { dst, dst_size, ext } = insn.op {
                    let m: KvmRunMmio = run.exit_as();
                    let v = emulate::loaded_value(u64::from_le_bytes(m.data), insn.size, ext);
                    emulate::write_reg(&mut st.gprs, dst, dst_size, v);
                }
                st.set_rip(rip.wrapping_add(insn.len as u64));
            }
        }
        Ok(())
    }

    fn complete_string(&self, st: &mut VcpuState, s: StrIo, size: u8, input: bool, next_rip: u64) -> Result {
        let reg = if input { 7 } else { 6 };
        if input {
            let n = size as usize * s.count as usize;
            let mut buf = KVec::with_capacity(n, GFP_KERNEL)?;
            buf.resize(n, 0, GFP_KERNEL)?;
            self.pio_read(&mut buf);
            let pg = st.paging();
            let user = st.vmcb().save.cpl == 3;
            let mut mem = self.vm.mem.lock();
            for i in 0..s.count {
                let la = Self::str_la(st, s, reg, size, i);
                let o = i as usize * size as usize;
                let Some(e) = buf.get(o..o + size as usize) else { break };
                match gmem::write_virt(&mut mem, pg, la, e, user) {
                    Ok(()) => {}
                    Err(WalkError::PageFault(code)) => {
                        st.page_fault(la, code);
                        return Ok(());
                    }
                    Err(WalkError::NotRam) => return Err(EFAULT),
                }
            }
        }
        let df = st.vmcb().save.rflags & RFLAGS_DF != 0;
        let amask = emulate::mask(s.addr_size);
        let step = size as u64 * s.count as u64;
        let r = emulate::Reg { num: reg as u8, high8: false };
        let cur = st.gprs[reg];
        let new = if df { cur.wrapping_sub(step) } else { cur.wrapping_add(step) } & amask;
        emulate::write_reg(&mut st.gprs, r, s.addr_size, new);
        let mut done = true;
        if s.rep {
            // The VMM may have changed RCX since the exit: never underflow.
            let left = (st.gprs[1] & amask).saturating_sub(s.count as u64);
            emulate::write_reg(&mut st.gprs, emulate::Reg { num: 1, high8: false }, s.addr_size, left);
            done = left == 0;
        }
        if done {
            st.set_rip(next_rip);
        }
        Ok(())
    }

    // ---- nested page faults and MMIO ------------------------------------------------

    fn npf_exit(&self, st: &mut VcpuState, run: RunPage, err: u64, gpa: u64) -> Result<Action> {
        let write = err & NPF_WRITE != 0;
        let mut mem = self.vm.mem.lock();
        let crate::vm::VmMem { slots, npt, .. } = &mut *mem;
        if let Some(slot) = slots.find_mut(gpa) {
            if !(write && slot.readonly) {
                slot.fault_in(npt, gpa)?;
                return Ok(Action::Resume);
            }
        }
        if err & NPF_GUEST_PT != 0 {
            // The guest's own page tables point outside RAM: nothing to emulate.
            drop(mem);
            return Ok(self.emulation_failure(st, run));
        }
        let mode = st.mode();
        let fetched = st.fetch(&mut mem, self.vm.features.decode_assists);
        drop(mem);
        let insn = match fetched {
            Ok((b, n)) => emulate::decode_mmio(&b[..n], mode),
            Err(WalkError::PageFault(_)) | Err(WalkError::NotRam) => None,
        };
        let Some(insn) = insn else {
            return Ok(self.emulation_failure(st, run));
        };
        if let Some(base) = st.lapic.as_ref().and_then(|l| l.mmio_base()) {
            if gpa & !0xfff == base {
                self.apic_mmio(st, (gpa & 0xfff) as u32, insn, mode);
                return Ok(Action::Resume);
            }
        }
        self.count(STAT_MMIO);
        let rip = st.rip();
        let mut m = KvmRunMmio { phys_addr: gpa, len: insn.size as u32, ..Default::default() };
        match insn.op {
            MmioOp::Store { src, imm } => {
                let v = match src {
                    Some(r) => emulate::read_reg(&st.gprs, r, insn.size),
                    None => imm & emulate::mask(insn.size),
                };
                m.data = v.to_le_bytes();
                m.is_write = 1;
                // A store is complete once the VMM has the data: RIP moves on now (as KVM).
                let next = rip.wrapping_add(insn.len as u64);
                st.set_rip(if mode == CpuMode::Bits64 { next } else { next & 0xffff_ffff });
            }
            MmioOp::Load { .. } => st.pending = Pending::MmioRead { rip, insn },
        }
        run.set_exit(KVM_EXIT_MMIO, m);
        Ok(Action::User)
    }

    // ---- the in-kernel local APIC ---------------------------------------------------

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos().max(0) as u64
    }

    /// Folds what other contexts posted (MSIs, IPIs, timer expiries) into the APIC.
    fn lapic_fold(&self, st: &mut VcpuState) {
        let Some(l) = st.lapic.as_mut() else { return };
        if self.shared.timer_expired.swap(0, Ordering::SeqCst) != 0 {
            l.timer_expired();
        }
        self.shared.take_posted(|v, level| l.accept(v, level));
    }

    /// Carries out what an APIC access asked for.
    fn apic_effect(&self, st: &mut VcpuState, e: Effect) {
        match e {
            Effect::None => {}
            Effect::CancelTimer => self.cancel_timer(st),
            Effect::ArmTimer { ns, period_ns } => self.arm_timer(st, ns, period_ns),
            Effect::ArmDeadline(deadline) => {
                // Guest TSC ticks to nanoseconds at the host's TSC rate (no TSC scaling).
                let now = ffi::rdtsc().wrapping_add(st.vmcb().control.tsc_offset);
                let khz = ffi::tsc_khz().max(1) as u64;
                let ns = match deadline.checked_sub(now) {
                    None | Some(0) => 0,
                    Some(d) => d.checked_mul(1_000_000).map(|x| x / khz).unwrap_or(u64::MAX / khz),
                };
                self.arm_timer(st, ns, 0);
            }
            Effect::Send(m) => {
                self.vm.deliver(&m, Some(self.shared.id));
            }
            Effect::Readdressed => {
                if let Some(l) = st.lapic.as_ref() {
                    self.shared.set_route(l.route());
                }
            }
            Effect::LevelEoi(vector) => self.vm.level_eoi(vector, &self.shared),
        }
    }

    fn cancel_timer(&self, st: &mut VcpuState) {
        // Dropping the handle cancels the hrtimer and waits for a running callback; an
        // expiry counted before that belongs to the old timer and is discarded.
        st.timer = None;
        self.shared.timer_period_ns.store(0, Ordering::SeqCst);
        self.shared.timer_expired.store(0, Ordering::SeqCst);
    }

    fn arm_timer(&self, st: &mut VcpuState, ns: u64, period_ns: u64) {
        self.cancel_timer(st);
        if ns == 0 {
            self.shared.timer_expired.fetch_add(1, Ordering::SeqCst);
            return;
        }
        self.shared.timer_period_ns.store(period_ns, Ordering::SeqCst);
        let d = Delta::from_nanos(ns.min(i64::MAX as u64) as i64);
        st.timer = Some(self.shared.clone().start(d));
    }

    /// An APIC MSR (IA32_APIC_BASE, x2APIC registers, TSC_DEADLINE) read (`value` None) or
    /// write; `None` if `index` is not one or there is no in-kernel APIC. `Err`: #GP.
    fn apic_msr(&self, st: &mut VcpuState, index: u32, value: Option<u64>, host: bool) -> Option<Result<u64, ()>> {
        st.lapic.as_ref()?;
        let now = self.now_ns();
        let l = st.lapic.as_mut()?;
        let (r, e) = match (index, value) {
            (lapic::MSR_IA32_APIC_BASE, None) => (Ok(l.base), Effect::None),
            (lapic::MSR_IA32_APIC_BASE, Some(v)) => match l.set_base(v, host) {
                Ok(e) => (Ok(0), e),
                Err(_) => (Err(()), Effect::None),
            },
            (lapic::MSR_IA32_TSC_DEADLINE, None) => (Ok(l.read_tsc_deadline()), Effect::None),
            (lapic::MSR_IA32_TSC_DEADLINE, Some(v)) => (Ok(0), l.write_tsc_deadline(v)),
            (lapic::MSR_X2APIC_FIRST..=lapic::MSR_X2APIC_LAST, None) => (l.msr_read(index, now).map_err(|_| ()), Effect::None),
            (lapic::MSR_X2APIC_FIRST..=lapic::MSR_X2APIC_LAST, Some(v)) => match l.msr_write(index, v, now) {
                Ok(e) => (Ok(0), e),
                Err(_) => (Err(()), Effect::None),
            },
            _ => return None,
        };
        // Leaving the enabled state drops the route too.
        let e = if index == lapic::MSR_IA32_APIC_BASE && e == Effect::CancelTimer {
            self.apic_effect(st, Effect::Readdressed);
            e
        } else {
            e
        };
        self.apic_effect(st, e);
        Some(r)
    }

    /// A load or store to the xAPIC page at offset `off`, emulated here (SDM 11.4.1: only
    /// aligned 32-bit accesses are defined; like KVM, other stores are dropped and other
    /// loads see the register's bytes or zero).
    fn apic_mmio(&self, st: &mut VcpuState, off: u32, insn: MmioInsn, mode: CpuMode) {
        let now = self.now_ns();
        let size = insn.size as u32;
        match insn.op {
            MmioOp::Store { src, imm } => {
                let v = match src {
                    Some(r) => emulate::read_reg(&st.gprs, r, insn.size),
                    None => imm & emulate::mask(insn.size),
                };
                if size == 4 && off & 0xf == 0 {
                    let e = st.lapic.as_mut().and_then(|l| l.write(off, v as u32, now).ok());
                    if let Some(e) = e {
                        self.apic_effect(st, e);
                    }
                }
            }
            MmioOp::Load { dst, dst_size, ext } => {
                let within = off & 0xf;
                let reg = st.lapic.as_ref().and_then(|l| l.read(off & !0xf, now)).unwrap_or(0);
                let v = if within + size <= 4 { (reg as u64) >> (within * 8) } else { 0 };
                let v = emulate::loaded_value(v & emulate::mask(insn.size), insn.size, ext);
                emulate::write_reg(&mut st.gprs, dst, dst_size, v);
            }
        }
        let next = st.rip().wrapping_add(insn.len as u64);
        st.set_rip(if mode == CpuMode::Bits64 { next } else { next & 0xffff_ffff });
    }

    /// A halted vCPU sleeps until an interrupt can be taken (KVM's kvm_vcpu_block()).
    /// `false`: a signal ended the sleep (the vCPU stays halted).
    fn block(&self, st: &mut VcpuState) -> bool {
        loop {
            self.shared.wake.store(0, Ordering::SeqCst);
            self.lapic_fold(st);
            let has_irq = st.irq.is_some() || st.lapic.as_ref().is_some_and(|l| l.deliverable().is_some());
            let init = self.shared.init.load(Ordering::SeqCst) != 0;
            if init || st.event.is_some() || (has_irq && st.interrupt_allowed()) {
                st.halted = false;
                return true;
            }
            if ffi::signal_pending() {
                return false;
            }
            if self.shared.waitq.wait(&self.shared.wake).is_err() && ffi::signal_pending() {
                return false;
            }
        }
    }

    /// INIT and SIPI (SDM 8.4.4.1, "MP initialisation"): an INIT resets the vCPU (as INIT
    /// does, APIC base kept) into wait-for-SIPI; a SIPI then starts it in real mode at
    /// vector << 12. `false`: a signal ended the wait.
    fn init_sipi(&self, st: &mut VcpuState) -> bool {
        loop {
            if self.shared.init.swap(0, Ordering::SeqCst) != 0 {
                self.cancel_timer(st);
                st.reset(&self.vm, self.shared.id, true);
                st.user_state = true;
                st.wait_sipi = true;
                if let Some(l) = st.lapic.as_ref() {
                    self.shared.set_route(l.route());
                }
            }
            if !st.wait_sipi {
                return true;
            }
            self.shared.wake.store(0, Ordering::SeqCst);
            let sipi = self.shared.sipi.swap(0, Ordering::SeqCst);
            if sipi & 0x100 != 0 {
                let v = (sipi & 0xff) as u16;
                let s = &mut st.vmcb().save;
                s.cs.selector = v << 8;
                s.cs.base = (v as u64) << 12;
                s.rip = 0;
                st.wait_sipi = false;
                continue;
            }
            if self.shared.init.load(Ordering::SeqCst) != 0 {
                continue;
            }
            if ffi::signal_pending() {
                return false;
            }
            let _ = self.shared.waitq.wait(&self.shared.wake);
        }
    }

    /// KVM_GET_MP_STATE.
    fn mp_state(&self) -> u32 {
        let st = self.state.lock();
        if st.wait_sipi {
            KVM_MP_STATE_UNINITIALIZED
        } else if st.halted {
            KVM_MP_STATE_HALTED
        } else {
            KVM_MP_STATE_RUNNABLE
        }
    }

    /// KVM_SET_MP_STATE: only RUNNABLE without an in-kernel APIC (as KVM).
    fn set_mp_state(&self, v: u32) -> Result {
        let mut st = self.state.lock();
        if st.lapic.is_none() && v != KVM_MP_STATE_RUNNABLE {
            return Err(EINVAL);
        }
        match v {
            KVM_MP_STATE_RUNNABLE => (st.wait_sipi, st.halted) = (false, false),
            KVM_MP_STATE_UNINITIALIZED | KVM_MP_STATE_INIT_RECEIVED => (st.wait_sipi, st.halted) = (true, false),
            KVM_MP_STATE_HALTED => (st.wait_sipi, st.halted) = (false, true),
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    /// MOV to CR8, intercepted while the TPR holds an interrupt back: the new TPR may let
    /// it through. The GPR comes from decode assists or from decoding `REX.R 0F 22 /r`.
    fn cr8_write(&self, st: &mut VcpuState, run: RunPage, info1: u64) -> Action {
        let (gpr, len) = if self.vm.features.decode_assists && info1 >> 63 != 0 {
            ((info1 & 0xf) as usize, None)
        } else {
            let mut mem = self.vm.mem.lock();
            let f = st.fetch(&mut mem, false);
            drop(mem);
            match f {
                Ok((b, n)) if n >= 4 && b[0] & 0xf4 == 0x44 && b[1] == 0x0f && b[2] == 0x22 && b[3] & 0xf8 == 0xc0 => {
                    ((b[3] & 7) as usize | ((b[0] as usize & 1) << 3), Some(4u64))
                }
                _ => return self.emulation_failure(st, run),
            }
        };
        let v = st.gprs.get(gpr).copied().unwrap_or(0);
        if v > 0xf {
            st.queue_exception(GP_VECTOR, Some(0));
            return Action::Resume;
        }
        if let Some(l) = st.lapic.as_mut() {
            l.set_tpr((v as u32) << 4);
        }
        match len {
            Some(n) => {
                let next = st.rip().wrapping_add(n);
                st.set_rip(next);
            }
            None => {
                let n = st.vmcb().control.next_rip;
                st.set_rip(n);
            }
        }
        Action::Resume
    }

    // ---- register ioctls ------------------------------------------------------------

    fn get_regs(&self) -> KvmRegs {
        let mut st = self.state.lock();
        let g = st.gprs;
        let (rip, rflags) = (st.vmcb().save.rip, st.vmcb().save.rflags);
        KvmRegs {
            rax: g[0], rcx: g[1], rdx: g[2], rbx: g[3], rsp: g[4], rbp: g[5], rsi: g[6], rdi: g[7],
            r8: g[8], r9: g[9], r10: g[10], r11: g[11], r12: g[12], r13: g[13], r14: g[14], r15: g[15],
            rip, rflags,
        }
    }

    fn set_regs(&self, r: &KvmRegs) {
        let mut st = self.state.lock();
        st.gprs = [r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15];
        st.user_state = true;
        let v = st.vmcb();
        v.save.rip = r.rip;
        v.save.rflags = r.rflags | RFLAGS_FIXED;
    }

    fn get_sregs(&self) -> KvmSregs {
        let mut st = self.state.lock();
        let irq = st.irq;
        let apic_base = st.apic_base();
        let v = st.vmcb();
        let s = &v.save;
        let mut k = KvmSregs {
            cs: seg_to_kvm(&s.cs),
            ds: seg_to_kvm(&s.ds),
            es: seg_to_kvm(&s.es),
            fs: seg_to_kvm(&s.fs),
            gs: seg_to_kvm(&s.gs),
            ss: seg_to_kvm(&s.ss),
            tr: seg_to_kvm(&s.tr),
            ldt: seg_to_kvm(&s.ldtr),
            gdt: KvmDtable { base: s.gdtr.base, limit: s.gdtr.limit as u16, padding: [0; 3] },
            idt: KvmDtable { base: s.idtr.base, limit: s.idtr.limit as u16, padding: [0; 3] },
            cr0: s.cr0,
            cr2: s.cr2,
            cr3: s.cr3,
            cr4: s.cr4,
            cr8: (v.control.int_ctl & V_TPR_MASK) as u64,
            efer: s.efer & !EFER_SVME,
            apic_base,
            interrupt_bitmap: [0; 4],
        };
        // As svm_get_segment(): TR busy, data segments accessed, SS.DPL = CPL.
        k.tr.type_ |= 2;
        for d in [&mut k.ds, &mut k.es, &mut k.fs, &mut k.gs] {
            if d.unusable == 0 {
                d.type_ |= 1;
            }
        }
        if k.ss.unusable != 0 {
            k.ss.db = 0;
        }
        k.ss.dpl = s.cpl;
        if let Some(vec) = irq {
            k.interrupt_bitmap[(vec / 64) as usize & 3] |= 1 << (vec % 64);
        }
        k
    }

    /// As KVM's kvm_is_valid_sregs() + __set_sregs(): inconsistent paging state is EINVAL;
    /// anything else VMRUN refuses ends in KVM_EXIT_FAIL_ENTRY.
    fn set_sregs(&self, k: &KvmSregs) -> Result {
        let long = k.efer & EFER_LME != 0 && k.cr0 & CR0_PG != 0;
        if long {
            if k.cr4 & CR4_PAE == 0 || k.efer & EFER_LMA == 0 {
                return Err(EINVAL);
            }
        } else if k.efer & EFER_LMA != 0 || k.cs.l != 0 {
            return Err(EINVAL);
        }
        if k.cr0 >> 32 != 0 || (k.cr0 & CR0_NW != 0 && k.cr0 & CR0_CD == 0) || (k.cr0 & CR0_PG != 0 && k.cr0 & CR0_PE == 0) {
            return Err(EINVAL);
        }
        let mut st = self.state.lock();
        st.user_state = true;
        let efer_ok = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
        if k.cr4 & !CR4_GUEST_VALID != 0 || k.efer & !(efer_ok & cpuid::efer_allowed(&st.cpuid)) != 0 {
            return Err(EINVAL);
        }
        let v = st.vmcb();
        let s = &mut v.save;
        s.cs = seg_from_kvm(&k.cs);
        s.ds = seg_from_kvm(&k.ds);
        s.es = seg_from_kvm(&k.es);
        s.fs = seg_from_kvm(&k.fs);
        s.gs = seg_from_kvm(&k.gs);
        s.ss = seg_from_kvm(&k.ss);
        s.tr = seg_from_kvm(&k.tr);
        s.ldtr = seg_from_kvm(&k.ldt);
        s.cpl = k.ss.dpl & 3;
        s.gdtr = VmcbSeg::new(0, 0, k.gdt.limit as u32, k.gdt.base);
        s.idtr = VmcbSeg::new(0, 0, k.idt.limit as u32, k.idt.base);
        s.cr0 = k.cr0;
        s.cr2 = k.cr2;
        s.cr3 = k.cr3;
        s.cr4 = k.cr4;
        s.efer = k.efer | EFER_SVME;
        v.control.int_ctl = (v.control.int_ctl & !V_TPR_MASK) | (k.cr8 as u32 & V_TPR_MASK);
        if st.lapic.is_some() {
            // As KVM's __set_sregs(): APIC base through the MSR rules (host-initiated), TPR
            // from CR8.
            if self.apic_msr(&mut st, lapic::MSR_IA32_APIC_BASE, Some(k.apic_base), true) != Some(Ok(0)) {
                return Err(EINVAL);
            }
            if let Some(l) = st.lapic.as_mut() {
                l.set_tpr(((k.cr8 as u32) & 0xf) << 4);
            }
        } else {
            st.apic_base = k.apic_base;
        }
        let first = k.interrupt_bitmap.iter().enumerate().find(|(_, w)| **w != 0).map(|(i, w)| i as u32 * 64 + w.trailing_zeros());
        if let Some(vec) = first {
            st.irq = Some(vec as u8);
        }
        Ok(())
    }

    fn get_msrs(&self, arg: usize, write: bool) -> Result<isize> {
        let hdr: KvmMsrs = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmMsrs>()).reader().read()?;
        // As KVM's MAX_IO_MSRS.
        if hdr.nmsrs >= 256 {
            return Err(E2BIG);
        }
        let n = hdr.nmsrs as usize;
        let base = arg.checked_add(size_of::<KvmMsrs>()).ok_or(EFAULT)?;
        let (mut r, mut w) = UserSlice::new(UserPtr::from_addr(base), n * size_of::<KvmMsrEntry>()).reader_writer();
        // KVM_SET_MSRS only reads the entries; KVM_GET_MSRS writes each one back in place.
        let mut st = self.state.lock();
        let mut done = 0;
        for _ in 0..n {
            let mut e: KvmMsrEntry = r.read()?;
            let apic = self.apic_msr(&mut st, e.index, write.then_some(e.data), true);
            let ok = if let Some(res) = apic {
                match res {
                    Ok(v) => {
                        if !write {
                            e.data = v;
                        }
                        true
                    }
                    Err(()) => false,
                }
            } else if write {
                let allowed = cpuid::efer_allowed(&st.cpuid);
                msr::set(st.vmcb(), e.index, e.data, true, allowed).is_ok()
            } else {
                match msr::get(st.vmcb(), e.index) {
                    Ok(v) => {
                        e.data = v;
                        true
                    }
                    Err(_) => false,
                }
            };
            if !ok {
                break;
            }
            if !write {
                w.write(&e)?;
            }
            done += 1;
        }
        Ok(done)
    }

    fn set_cpuid(&self, arg: usize) -> Result<isize> {
        let hdr: KvmCpuid2 = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmCpuid2>()).reader().read()?;
        if hdr.nent > KVM_MAX_CPUID_ENTRIES {
            return Err(E2BIG);
        }
        let base = arg.checked_add(size_of::<KvmCpuid2>()).ok_or(EFAULT)?;
        let mut r = UserSlice::new(UserPtr::from_addr(base), hdr.nent as usize * size_of::<KvmCpuidEntry2>()).reader();
        let mut v = KVec::with_capacity(hdr.nent as usize, GFP_KERNEL)?;
        for _ in 0..hdr.nent {
            v.push(r.read::<KvmCpuidEntry2>()?, GFP_KERNEL)?;
        }
        let (x2, dl) = (cpuid::has(&v, 1, 2, 21), cpuid::has(&v, 1, 2, 24));
        let mut st = self.state.lock();
        st.cpuid = v;
        if let Some(l) = st.lapic.as_mut() {
            l.set_cpuid(x2, dl);
        }
        Ok(0)
    }

    fn interrupt(&self, arg: usize) -> Result<isize> {
        let i: KvmInterrupt = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmInterrupt>()).reader().read()?;
        if i.irq >= 256 {
            return Err(EINVAL);
        }
        let mut st = self.state.lock();
        if st.irq.is_some() {
            return Err(EEXIST);
        }
        st.irq = Some(i.irq as u8);
        Ok(0)
    }

    fn set_signal_mask(&self, arg: usize) -> Result<isize> {
        if arg == 0 {
            self.state.lock().sigmask = None;
            return Ok(0);
        }
        let hdr: KvmSignalMask = UserSlice::new(UserPtr::from_addr(arg), size_of::<KvmSignalMask>()).reader().read()?;
        if hdr.len != 8 {
            return Err(EINVAL);
        }
        let m: u64 = UserSlice::new(UserPtr::from_addr(arg.checked_add(4).ok_or(EFAULT)?), 8).reader().read()?;
        // SIGKILL and SIGSTOP cannot be blocked (as sigprocmask does).
        self.state.lock().sigmask = Some(m & !((1 << 8) | (1 << 18)));
        Ok(0)
    }

    fn ioctl(&self, cmd: c_uint, arg: c_ulong) -> Result<isize> {
        if !self.vm.is_owner() {
            return Err(EIO);
        }
        let a = arg as usize;
        let user = |n: usize| UserSlice::new(UserPtr::from_addr(a), n);
        match cmd {
            KVM_RUN => {
                if arg != 0 {
                    return Err(EINVAL);
                }
                self.run()
            }
            KVM_GET_REGS => user(size_of::<KvmRegs>()).writer().write(&self.get_regs()).map(|_| 0),
            KVM_SET_REGS => {
                let r: KvmRegs = user(size_of::<KvmRegs>()).reader().read()?;
                self.set_regs(&r);
                Ok(0)
            }
            KVM_GET_SREGS => user(size_of::<KvmSregs>()).writer().write(&self.get_sregs()).map(|_| 0),
            KVM_SET_SREGS => {
                let k: KvmSregs = user(size_of::<KvmSregs>()).reader().read()?;
                self.set_sregs(&k).map(|_| 0)
            }
            KVM_GET_FPU => {
                let f = self.state.lock().fpu.get_fpu();
                user(size_of::<KvmFpu>()).writer().write(&f).map(|_| 0)
            }
            KVM_SET_FPU => {
                let f: KvmFpu = user(size_of::<KvmFpu>()).reader().read()?;
                self.state.lock().fpu.set_fpu(&f).map(|_| 0)
            }
            KVM_GET_XSAVE => {
                let x = KBox::new(self.state.lock().fpu.get_xsave(), GFP_KERNEL)?;
                user(size_of::<KvmXsave>()).writer().write(&*x).map(|_| 0)
            }
            KVM_SET_XSAVE => {
                let x: KBox<KvmXsave> = KBox::new(user(size_of::<KvmXsave>()).reader().read()?, GFP_KERNEL)?;
                self.state.lock().fpu.set_xsave(&x).map(|_| 0)
            }
            KVM_GET_MSRS => self.get_msrs(a, false),
            KVM_SET_MSRS => self.get_msrs(a, true),
            KVM_SET_CPUID2 => self.set_cpuid(a),
            KVM_INTERRUPT => self.interrupt(a),
            KVM_GET_MP_STATE => user(4).writer().write(&self.mp_state()).map(|_| 0),
            KVM_SET_MP_STATE => {
                let v: u32 = user(4).reader().read()?;
                self.set_mp_state(v).map(|_| 0)
            }
            KVM_GET_TSC_KHZ => match ffi::tsc_khz() {
                0 => Err(EIO),
                k => Ok(k as isize),
            },
            KVM_SET_SIGNAL_MASK => self.set_signal_mask(a),
            RSVM_GET_VCPU_STATS => {
                let mut s = RsvmVcpuStats::default();
                for (d, c) in s.exits.iter_mut().zip(self.shared.stats.iter()) {
                    *d = c.load(Ordering::Relaxed);
                }
                let mem = self.vm.mem.lock();
                s.pinned_pages = mem.slots.pinned();
                s.npt_leaves_4k = mem.npt.leaves_4k;
                s.npt_leaves_2m = mem.npt.leaves_2m;
                drop(mem);
                user(size_of::<RsvmVcpuStats>()).writer().write(&s).map(|_| 0)
            }
            _ => Err(ENOTTY),
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Vcpu {
    fn drop(self: Pin<&mut Self>) {
        self.vm.remove_vcpu(&self.shared);
    }
}


#[no_mangle]
unsafe extern "C" fn rsvm_vcpu_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: a vCPU fd's private data is its `Arc<Vcpu>` (anonfd::install), alive during
    // the ioctl.
    let v = unsafe { crate::anonfd::borrow::<Vcpu>(file) };
    match v.ioctl(cmd, arg) {
        Ok(r) => r as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

#[no_mangle]
unsafe extern "C" fn rsvm_vcpu_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: the fd's last reference: takes back the Arc installed by anonfd::install.
    drop(unsafe { crate::anonfd::take::<Vcpu>(file) });
    0
}

#[no_mangle]
unsafe extern "C" fn rsvm_vcpu_mmap(file: *mut bindings::file, vma: *mut bindings::vm_area_struct) -> c_int {
    // SAFETY: as in `rsvm_vcpu_ioctl`.
    let v = unsafe { crate::anonfd::borrow::<Vcpu>(file) };
    let pages = [v.run.as_mut_ptr::<u8>() as c_ulong, v.pio.as_mut_ptr::<u8>() as c_ulong];
    // SAFETY: `vma` is the mapping being set up; both pages are order-0 direct-map pages
    // that vm_insert_page() takes references on.
    unsafe { ffi::rsvm_shim_mmap_pages(vma.cast(), pages.as_ptr(), pages.len() as c_uint) }
}
