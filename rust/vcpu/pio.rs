// SPDX-License-Identifier: GPL-2.0

//! Port I/O: IN/OUT and the string forms INS/OUTS (with REP) exit to userspace through the
//! PIO data page (`KVM_EXIT_IO`, a page of data at most per exit); the memory side of
//! string I/O is done here through the guest's page tables. RIP advances when the VMM
//! comes back (`complete_pio`), as KVM.

use super::{
    state::{StrIo, VcpuState},
    state::Pending,
    Action, RunPage, Vcpu, PAGE,
};
use crate::{
    emulate::{self, CpuMode},
    gmem::{self, AccessKind, WalkError},
    svm::{assist, exit::IoioInfo},
    uapi::kvm::*,
    x86::RFLAGS_DF,
};
use kernel::prelude::*;

impl Vcpu {
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

    /// An IN/OUT/INS/OUTS exit: the VMM does the access (`KVM_EXIT_IO`); `next_rip` is
    /// EXITINFO2, which the CPU always saves for IOIO intercepts.
    pub(super) fn io_exit(&self, st: &mut VcpuState, run: RunPage, io: IoioInfo, next_rip: u64) -> Result<Action> {
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
            let v = v.get(..size as usize).unwrap_or(&[]);
            // A coalesced port takes the OUT into the ring (string OUTS always exit).
            if self.vm.coalesced.write(true, port as u64, v) {
                st.set_rip(next_rip);
                return Ok(Action::Resume);
            }
            self.pio_write(v);
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
        let addr_size = io.addr_size().unwrap_or_else(|| {
            pfx.map(|p| emulate::sizes(&p, mode).1).unwrap_or(match mode {
                CpuMode::Bits64 => 8,
                CpuMode::Bits32 => 4,
                CpuMode::Bits16 => 2,
            })
        });
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
            match assist::outs_segment(self.vm.features.decode_assists, io.segment(), pfx.and_then(|p| p.seg)) {
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

    fn complete_string(&self, st: &mut VcpuState, s: StrIo, size: u8, input: bool, next_rip: u64) -> Result {
        let reg = if input { 7 } else { 6 };
        let amask = emulate::mask(s.addr_size);
        // The VMM may have lowered RCX since the exit: as KVM's emulator, which re-runs the
        // instruction with the RCX it finds, only that many elements are done (never more
        // than the guest's count now allows, so its buffer is not overrun).
        let s = if s.rep { StrIo { count: (s.count as u64).min(st.gprs[1] & amask) as u32, ..s } } else { s };
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
        let step = size as u64 * s.count as u64;
        let r = emulate::Reg { num: reg as u8, high8: false };
        let cur = st.gprs[reg];
        let new = if df { cur.wrapping_sub(step) } else { cur.wrapping_add(step) } & amask;
        emulate::write_reg(&mut st.gprs, r, s.addr_size, new);
        let mut done = true;
        if s.rep {
            // `count` is at most RCX (above): no underflow.
            let left = (st.gprs[1] & amask).saturating_sub(s.count as u64);
            emulate::write_reg(&mut st.gprs, emulate::Reg { num: 1, high8: false }, s.addr_size, left);
            done = left == 0;
        }
        if done {
            st.set_rip(next_rip);
        }
        Ok(())
    }

    /// Finishes a port I/O exit the VMM handled: an IN's data into RAX or guest memory,
    /// then RIP (only if the VMM did not move it meanwhile).
    pub(super) fn complete_pio(&self, st: &mut VcpuState, rip: u64, next_rip: u64, size: u8, input: bool, string: Option<StrIo>) -> Result {
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
        Ok(())
    }
}
