//! KVM_GET_STATS_FD (KVM's binary statistics, Documentation/virt/kvm/api.rst 4.133): the
//! layout a client parses (header, id "kvm-...", descriptors with valid flags, data), read()
//! and pread() agreeing, and a vCPU's `io_exits` and `halt_exits` counting exactly what a
//! guest did (three OUTs and a HLT), `exits` at least that. Run by `rsvm-test vm-setup`, on
//! rsvm and on kvm_amd (tests/l1/19-vm-setup.sh), which must both pass it.

use crate::{check, TestResult};
use rsvm_guest::guest::{self, Guest};
use rsvm_guest::payloads::Mode;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::FileExt;

const KVM_CAP_BINARY_STATS_FD: u64 = 203;
/// KVM_GET_STATS_FD = _IO(KVMIO, 0xce).
const KVM_GET_STATS_FD: u64 = 0xae_ce;

/// A stats fd's counters by name, after checking the file's layout.
fn read_stats(fd: RawFd, what: &str) -> Result<HashMap<String, u64>, String> {
    // SAFETY: KVM_GET_STATS_FD takes no argument.
    let sfd = unsafe { libc::ioctl(fd, KVM_GET_STATS_FD as _, 0) };
    if sfd < 0 {
        return Err(format!("KVM_GET_STATS_FD on the {what} fd: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a new fd, owned by the File from here on.
    let mut f = unsafe { File::from_raw_fd(sfd) };
    let mut all = Vec::new();
    f.read_to_end(&mut all).map_err(|e| format!("read() of the {what} stats fd: {e}"))?;
    let u32_at = |o: usize| all.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])));
    let h: Vec<u32> = (0..6).map(|i| u32_at(4 * i).unwrap_or(0)).collect();
    let (name_size, num_desc, id_off, desc_off, data_off) = (h[1] as usize, h[2] as usize, h[3] as usize, h[4] as usize, h[5] as usize);
    check(all.len() >= 24 && h[0] == 0 && name_size > 0 && num_desc > 0, || format!("{what} stats header {h:?} ({} bytes)", all.len()))?;
    let id = all.get(id_off..id_off + name_size).ok_or("id out of the file")?;
    let id_str = String::from_utf8_lossy(id.split(|&b| b == 0).next().unwrap_or(&[])).to_string();
    check(id_str.starts_with("kvm") && id.contains(&0), || format!("{what} stats id {id_str:?}"))?;
    let dsize = 16 + name_size;
    check(desc_off >= 24 && data_off >= desc_off + dsize * num_desc, || format!("{what} stats offsets: desc {desc_off}, data {data_off}"))?;
    let mut out = HashMap::new();
    for i in 0..num_desc {
        let d = all.get(desc_off + i * dsize..desc_off + (i + 1) * dsize).ok_or("descriptor out of the file")?;
        let flags = u32::from_le_bytes(d[0..4].try_into().unwrap_or([0; 4]));
        let exponent = i16::from_le_bytes(d[4..6].try_into().unwrap_or([0; 2]));
        let size = u16::from_le_bytes(d[6..8].try_into().unwrap_or([0; 2])) as usize;
        let offset = u32::from_le_bytes(d[8..12].try_into().unwrap_or([0; 4])) as usize;
        let bucket = u32::from_le_bytes(d[12..16].try_into().unwrap_or([0; 4]));
        let name = String::from_utf8_lossy(d[16..].split(|&b| b == 0).next().unwrap_or(&[])).to_string();
        // Type <= LOG_HIST (4), unit <= BOOLEAN (4), base <= POW2 (1); counters' exponent >= 0.
        check(flags & 0xf <= 4 && (flags >> 4) & 0xf <= 4 && (flags >> 8) & 0xf <= 1 && size > 0, || format!("{what} stat {name}: flags {flags:#x} size {size}"))?;
        check(bucket == 0 || flags & 0xf == 3, || format!("{what} stat {name}: bucket size {bucket}"))?;
        check((flags >> 4) & 0xf != 0 || exponent >= 0, || format!("{what} stat {name}: exponent {exponent}"))?;
        let at = data_off + offset;
        let v = all.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).ok_or("data out of the file")?;
        // pread() of the one value at its offset reads what read() did (for counters that
        // do not move while nothing runs).
        let mut b = [0u8; 8];
        f.read_exact_at(&mut b, at as u64).map_err(|e| format!("pread() of {what} stat {name}: {e}"))?;
        check(u64::from_le_bytes(b) == v, || format!("{what} stat {name}: pread {} != read {v}", u64::from_le_bytes(b)))?;
        out.insert(name, v);
    }
    let mut tail = [0u8; 8];
    let n = f.read_at(&mut tail, all.len() as u64).map_err(|e| format!("pread() at the end: {e}"))?;
    check(n == 0, || format!("{what} stats: pread() past the end gave {n} bytes"))?;
    Ok(out)
}

pub fn stats_fd(dev: &str) -> TestResult {
    let kvm = guest::open(dev)?;
    check(kvm.check_extension_raw(KVM_CAP_BINARY_STATS_FD) == 1, || "KVM_CHECK_EXTENSION(BINARY_STATS_FD) != 1".into())?;
    // Real mode at 0x1000: mov al,1; out 0x80,al (three times); hlt.
    let code = [0xb0, 0x01, 0xe6, 0x80, 0xe6, 0x80, 0xe6, 0x80, 0xf4];
    let mut g = Guest::new(dev, Mode::Real, &code, &guest::long_mode_cpuid()?)?;
    let before = read_stats(g.vcpu.as_raw_fd(), "vCPU")?;
    let end = g.run(16)?;
    check(end == "hlt", || format!("the guest ended with {end}"))?;
    let after = read_stats(g.vcpu.as_raw_fd(), "vCPU")?;
    let delta = |n: &str| after.get(n).copied().unwrap_or(0).wrapping_sub(before.get(n).copied().unwrap_or(0));
    for n in ["exits", "io_exits", "halt_exits"] {
        check(after.contains_key(n), || format!("no vCPU stat {n}"))?;
    }
    check(delta("io_exits") == 3 && delta("halt_exits") == 1 && delta("exits") >= 4, || {
        format!("after 3 OUTs and a HLT: io_exits +{}, halt_exits +{}, exits +{}", delta("io_exits"), delta("halt_exits"), delta("exits"))
    })?;
    let vm = read_stats(g.vm.as_raw_fd(), "VM")?;
    check(vm.contains_key("pages_4k"), || format!("no VM stat pages_4k ({:?})", vm.keys()))?;
    println!("# ok: KVM_GET_STATS_FD: layout, read/pread, io_exits +3, halt_exits +1, exits +{}", delta("exits"));
    Ok(())
}
