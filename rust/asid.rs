// SPDX-License-Identifier: GPL-2.0

//! ASIDs: per-CPU generations, as KVM's `new_asid()` and bhyve's `check_asid()`.
//!
//! Each CPU hands out ASIDs `1..nr_asids` in order within a generation. A vCPU keeps its
//! ASID while it stays on one CPU and that CPU's generation is current; it gets a new one
//! when it moves, when the generation rolls over (then every ASID is flushed, because the
//! new generation reuses them), or when its VM's nested page tables changed and the CPU has
//! no flush-by-ASID. The table (bhyve's, with NPT changes tied in by a generation number):
//!
//! | ASID gen current | NPT gen current | action                                           |
//! |------------------|-----------------|--------------------------------------------------|
//! | yes              | yes             | nothing                                          |
//! | yes              | no              | flush this ASID (FlushByAsid) or take a new ASID |
//! | no               | either          | new ASID; flush all if the generation wrapped     |
//!
//! The first generation starts with a full flush: the TLB may hold entries of another
//! hypervisor that ran before rsvm was loaded.

use crate::svm::vmcb::{TLB_CONTROL_DO_NOTHING, TLB_CONTROL_FLUSH_ALL, TLB_CONTROL_FLUSH_ASID};

/// One CPU's allocator. Touched only on its own CPU with preemption disabled.
pub(crate) struct AsidCpu {
    generation: u64,
    next_asid: u32,
    max_asid: u32,
    /// The VM that last ran here, for IBPB when switching VMs.
    pub(crate) last_vm: u64,
    /// Physical address of the VMCB that last ran here (0: none): a VMCB's clean bits
    /// count only if it is this one (svm/clean.rs).
    pub(crate) last_vmcb: u64,
}

impl AsidCpu {
    pub(crate) fn new(nr_asids: u32) -> Self {
        let max_asid = nr_asids.saturating_sub(1).max(1);
        // next_asid past the end: the first allocation starts a generation with a full flush.
        Self { generation: 1, next_asid: max_asid + 1, max_asid, last_vm: 0, last_vmcb: 0 }
    }

    /// After SVM was (re)enabled on this CPU (it came online, or rsvm loaded): another
    /// hypervisor may have run here meanwhile with the same ASIDs, so the next entry starts a
    /// new generation with a full flush, and no VMCB counts as cached (KVM's
    /// `svm_enable_virtualization_cpu()`: `asid_generation = 1, next_asid = max_asid + 1`).
    pub(crate) fn restart(&mut self) {
        // No vCPU's generation is current any more; the first allocation wraps (flush all).
        self.generation = self.generation.wrapping_add(1).max(1);
        self.next_asid = self.max_asid + 1;
        self.last_vmcb = 0;
    }
}

/// A vCPU's view: its ASID and the generations it was valid for.
#[derive(Clone, Copy)]
pub(crate) struct VcpuAsid {
    pub(crate) asid: u32,
    generation: u64,
    last_cpu: usize,
    npt_gen: u64,
    /// The guest's own TLB entries must go before its next entry (an emulated CR4 write
    /// that a real MOV to CR4 would have flushed with): handled like an NPT change.
    flush: bool,
}

impl Default for VcpuAsid {
    fn default() -> Self {
        Self { asid: 0, generation: 0, last_cpu: usize::MAX, npt_gen: 0, flush: false }
    }
}

impl VcpuAsid {
    /// Flushes this vCPU's ASID at its next entry (KVM's KVM_REQ_TLB_FLUSH_GUEST).
    pub(crate) fn request_flush(&mut self) {
        self.flush = true;
    }

    /// Decides the ASID and TLB_CONTROL for an entry on `cpu` (preemption off, GIF=0).
    /// Returns `(asid, tlb_control)`.
    pub(crate) fn pre_run(&mut self, c: &mut AsidCpu, cpu: usize, npt_gen: u64, flush_by_asid: bool) -> (u32, u8) {
        let mut tlb = TLB_CONTROL_DO_NOTHING;
        if self.last_cpu != cpu {
            self.last_cpu = cpu;
            self.generation = 0;
        }
        if core::mem::take(&mut self.flush) || self.npt_gen != npt_gen {
            self.npt_gen = npt_gen;
            if flush_by_asid {
                tlb = TLB_CONTROL_FLUSH_ASID;
            } else {
                self.generation = 0;
            }
        }
        if self.generation != c.generation {
            if c.next_asid > c.max_asid {
                c.generation = c.generation.wrapping_add(1).max(1);
                c.next_asid = 1;
                tlb = TLB_CONTROL_FLUSH_ALL;
            }
            self.asid = c.next_asid;
            c.next_asid += 1;
            self.generation = c.generation;
        }
        (self.asid, tlb)
    }
}
