//! Coalesced MMIO and PIO as a VMM uses them through kvm-ioctls, with KVM's answers
//! (virt/kvm/coalesced_mmio.c, Linux 7.2): the capabilities (the ring's page in the vCPU
//! mmap, 2 on x86; PIO 1), the mmap size that includes the ring, `pio` other than 0 or 1
//! refused (EINVAL); writes wholly inside a zone land in the ring in order without an exit,
//! a write that straddles the zone's end exits; after unregistering, the same writes exit.
//! Run by `rsvm-test vm-setup` on rsvm and on kvm_amd (tests/l1/19-vm-setup.sh), which must
//! both pass it.

use crate::{check, TestResult};
use kvm_ioctls::IoEventAddress;
use rsvm_guest::guest::Guest;
use rsvm_guest::payloads::Mode;
use std::os::fd::AsRawFd;

const KVM_CAP_COALESCED_MMIO: u64 = 15;
const KVM_CAP_COALESCED_PIO: u64 = 162;
/// _IOW(KVMIO, 0x67, struct kvm_coalesced_mmio_zone).
const KVM_REGISTER_COALESCED_MMIO: libc::c_ulong = 0x4010_ae67;
const ZONE: u64 = 0x80000;
const PORT: u64 = 0x80;

/// Real mode at 0x1000: DS = 0x8000; [0] = EAX = 0x11111111; OUT 0x80,EAX;
/// [4] = EAX = 0x22222222; OUT 0x80,AL; [6] = EAX (straddles the zone's end);
/// OUT 0xe9,AL; HLT.
const CODE: [u8; 41] = [
    0xb8, 0x00, 0x80, 0x8e, 0xd8, 0x66, 0xb8, 0x11, 0x11, 0x11, 0x11, 0x66, 0xa3, 0x00, 0x00, 0x66, 0xe7, 0x80, 0x66, 0xb8, 0x22, 0x22, 0x22,
    0x22, 0x66, 0xa3, 0x04, 0x00, 0xe6, 0x80, 0x66, 0xa3, 0x06, 0x00, 0xe6, 0xe9, 0xf4, 0x90, 0x90, 0x90, 0x90,
];

/// The ring's entries, drained: (pio, address, data).
fn drain(g: &mut Guest) -> Result<Vec<(u32, u64, Vec<u8>)>, String> {
    let mut v = Vec::new();
    while let Some(e) = g.vcpu.coalesced_mmio_read().map_err(|e| format!("reading the ring: {e}"))? {
        // SAFETY: `pio` and `pad` are the same u32.
        let pio = unsafe { e.__bindgen_anon_1.pio };
        v.push((pio, e.phys_addr, e.data[..(e.len as usize).min(8)].to_vec()));
    }
    Ok(v)
}

pub fn coalesced(dev: &str) -> TestResult {
    let kvm = rsvm_guest::guest::open(dev)?;
    let (mmio, pio) = (kvm.check_extension_raw(KVM_CAP_COALESCED_MMIO), kvm.check_extension_raw(KVM_CAP_COALESCED_PIO));
    check(mmio == 2 && pio == 1, || format!("KVM_CHECK_EXTENSION: COALESCED_MMIO {mmio} (want page 2), COALESCED_PIO {pio} (want 1)"))?;
    let n = kvm.get_vcpu_mmap_size().map_err(|e| e.to_string())?;
    check(n == 3 * 4096, || format!("KVM_GET_VCPU_MMAP_SIZE = {n} (kvm_run, PIO page, ring)"))?;
    let mut g = Guest::new(dev, Mode::Real, &CODE, &rsvm_guest::guest::long_mode_cpuid()?)?;
    let bad = kvm_bindings::kvm_coalesced_mmio_zone { addr: ZONE, size: 8, __bindgen_anon_1: kvm_bindings::kvm_coalesced_mmio_zone__bindgen_ty_1 { pio: 2 } };
    // SAFETY: a valid kvm_coalesced_mmio_zone the kernel only reads.
    let r = unsafe { libc::ioctl(g.vm.as_raw_fd(), KVM_REGISTER_COALESCED_MMIO, &bad) };
    let e = std::io::Error::last_os_error().raw_os_error();
    check(r == -1 && e == Some(libc::EINVAL), || format!("KVM_REGISTER_COALESCED_MMIO with pio 2: {r}, errno {e:?} (want EINVAL)"))?;
    g.vm.register_coalesced_mmio(IoEventAddress::Mmio(ZONE), 8).map_err(|e| format!("KVM_REGISTER_COALESCED_MMIO: {e}"))?;
    g.vm.register_coalesced_mmio(IoEventAddress::Pio(PORT), 8).map_err(|e| format!("KVM_REGISTER_COALESCED_MMIO (PIO): {e}"))?;
    g.vcpu.map_coalesced_mmio_ring().map_err(|e| format!("mmap of the ring: {e}"))?;
    let end = g.run(16)?;
    let ring = drain(&mut g)?;
    let want = vec![
        (0, ZONE, vec![0x11; 4]),
        (1, PORT, vec![0x11; 4]),
        (0, ZONE + 4, vec![0x22; 4]),
        (1, PORT, vec![0x22]),
    ];
    check(ring == want, || format!("the ring holds the four writes inside the zones in order: {ring:x?}"))?;
    let exits: Vec<&String> = g.trace.iter().filter(|t| t.starts_with("mmio-write") || t.starts_with("out port=0x80 ")).collect();
    check(end == "hlt" && exits.len() == 1 && exits[0].starts_with("mmio-write addr=0x80006"), || {
        format!("only the straddling write exited ({exits:?}; ended {end})")
    })?;
    // Unregistered, the same writes exit.
    g.vm.unregister_coalesced_mmio(IoEventAddress::Mmio(ZONE), 8).map_err(|e| format!("KVM_UNREGISTER_COALESCED_MMIO: {e}"))?;
    g.vm.unregister_coalesced_mmio(IoEventAddress::Pio(PORT), 8).map_err(|e| format!("KVM_UNREGISTER_COALESCED_MMIO (PIO): {e}"))?;
    let mut regs = g.vcpu.get_regs().map_err(|e| format!("KVM_GET_REGS: {e}"))?;
    regs.rip = 0x1000;
    g.vcpu.set_regs(&regs).map_err(|e| format!("KVM_SET_REGS: {e}"))?;
    g.trace.clear();
    let end = g.run(16)?;
    let ring = drain(&mut g)?;
    let exits = g.trace.iter().filter(|t| t.starts_with("mmio-write") || t.starts_with("out port=0x80 ")).count();
    check(end == "hlt" && ring.is_empty() && exits == 5, || format!("after unregistering: {exits} exits (want 5), ring {ring:x?} (want empty)"))?;
    println!("# ok: coalesced MMIO and PIO zones, ring and unregistering answer as KVM's");
    Ok(())
}
