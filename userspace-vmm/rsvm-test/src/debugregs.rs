//! KVM_GET/SET_DEBUGREGS (KVM_CAP_DEBUGREGS) as a VMM saving and restoring a vCPU uses them,
//! with KVM's answers (x86.c kvm_vcpu_ioctl_x86_get/set_debugregs(), Linux 7.2): the reset
//! values, flags and DR6/DR7 bits 63:32 refused (`EINVAL`), and what was set is what the
//! guest reads with MOV from DR0, DR3 and DR7 (no breakpoint enabled: the RW0 field only),
//! and what GET gives back after the run. Run by `rsvm-test vm-setup`, on rsvm and on
//! kvm_amd (tests/l1/19-vm-setup.sh), which must both pass it.

use crate::{check, TestResult};
use kvm_bindings::kvm_debugregs;
use rsvm_guest::guest::{self, Guest};
use rsvm_guest::payloads::Mode;

const KVM_CAP_DEBUGREGS: u64 = 50;

pub fn debugregs(dev: &str) -> TestResult {
    // Real mode at 0x1000: mov eax,dr0; out 0xe9,eax; mov eax,dr3; out 0xe9,eax;
    // mov eax,dr7; out 0xe9,eax; hlt.
    let code = [0x0f, 0x21, 0xc0, 0x66, 0xe7, 0xe9, 0x0f, 0x21, 0xd8, 0x66, 0xe7, 0xe9, 0x0f, 0x21, 0xf8, 0x66, 0xe7, 0xe9, 0xf4];
    let mut g = Guest::new(dev, Mode::Real, &code, &guest::long_mode_cpuid()?)?;
    check(g.vm.check_extension_raw(KVM_CAP_DEBUGREGS) == 1, || "KVM_CHECK_EXTENSION(DEBUGREGS) != 1".into())?;
    let r = g.vcpu.get_debug_regs().map_err(|e| format!("KVM_GET_DEBUGREGS: {e}"))?;
    check(r.db == [0; 4] && r.dr6 == 0xffff_0ff0 && r.dr7 == 0x400 && r.flags == 0, || {
        format!("at reset: DR0-3 {:x?}, DR6 {:#x}, DR7 {:#x}, flags {} (want 0, 0xffff0ff0, 0x400, 0)", r.db, r.dr6, r.dr7, r.flags)
    })?;
    let set = |d: &kvm_debugregs| g.vcpu.set_debug_regs(d).map_err(|e| e.errno());
    // RW0 = write (bits 17:16) with L0/G0 clear: described, not enabled.
    let want = kvm_debugregs { db: [0x1000, 0x2000, 0x3000, 0x4_0000], dr6: 0xffff_0ff0, dr7: 0x1_0400, ..Default::default() };
    for (what, d) in [
        ("flags 1", kvm_debugregs { flags: 1, ..want }),
        ("DR6 bit 32", kvm_debugregs { dr6: want.dr6 | 1 << 32, ..want }),
        ("DR7 bit 63", kvm_debugregs { dr7: want.dr7 | 1 << 63, ..want }),
    ] {
        let e = set(&d);
        check(e == Err(libc::EINVAL), || format!("KVM_SET_DEBUGREGS with {what}: {e:?} (want EINVAL)"))?;
    }
    set(&want).map_err(|e| format!("KVM_SET_DEBUGREGS: errno {e}"))?;
    let end = g.run(16)?;
    let words: Vec<u32> = g.results.iter().filter_map(|r| r.as_slice().try_into().ok().map(u32::from_le_bytes)).collect();
    check(end == "hlt" && words == [0x1000, 0x4_0000, 0x1_0400], || format!("the guest read DR0, DR3, DR7 = {words:x?} (want 1000, 40000, 10400; ended {end})"))?;
    let r = g.vcpu.get_debug_regs().map_err(|e| format!("KVM_GET_DEBUGREGS after the run: {e}"))?;
    check(r.db == want.db && r.dr6 == want.dr6 && r.dr7 == want.dr7, || format!("after the run: DR0-3 {:x?}, DR6 {:#x}, DR7 {:#x}", r.db, r.dr6, r.dr7))?;
    println!("# ok: KVM_GET/SET_DEBUGREGS: reset values, EINVAL for flags and high bits, the guest reads what was set");
    Ok(())
}
